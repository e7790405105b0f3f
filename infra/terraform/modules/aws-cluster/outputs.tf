output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "URL of the Kubernetes API server."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64-encoded CA certificate of the API server."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_security_group_id" {
  description = "The cluster security group EKS attaches to the control plane and to every node (system and Karpenter); database and cache admit it."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "karpenter_node_role_name" {
  description = "IAM role of the nodes Karpenter launches (the EC2NodeClass's role)."
  value       = aws_iam_role.karpenter_node.name
}

output "karpenter_controller_role_arn" {
  description = "IAM role of the Karpenter controller (EKS Pod Identity)."
  value       = aws_iam_role.karpenter_controller.arn
}

output "karpenter_interruption_queue" {
  description = "Name of the SQS queue Karpenter reads interruption events from."
  value       = aws_sqs_queue.karpenter.name
}

output "karpenter_version" {
  description = "The Karpenter chart version installed; the node pools are applied after it (their CRDs come with it)."
  value       = helm_release.karpenter.version
}
