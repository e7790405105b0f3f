output "workspace_role_arn" {
  description = "Role the provisioner associates with each workspace namespace's ServiceAccount \"workspace\" (EKS Pod Identity)."
  value       = aws_iam_role.workspace.arn
}

output "hub_role_arn" {
  description = "Role of the hub namespace's service accounts (api, provisioner)."
  value       = aws_iam_role.hub.arn
}

output "workspace_prefix" {
  description = "Bucket key prefix of workspace data: <prefix>/<namespace>/."
  value       = var.workspace_prefix
}
