output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)."
  value       = module.cluster.cluster_name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.cluster.cluster_endpoint
}

output "database_endpoint" {
  description = "PostgreSQL host:port."
  value       = module.data.db_endpoint
}

output "database_password_secret_arn" {
  description = "Secrets Manager secret (kept by RDS) with the database master password; goes into database_url's password."
  value       = module.data.db_master_secret_arn
}

output "redis_endpoint" {
  description = "Redis primary host (TLS, port 6379)."
  value       = module.data.redis_primary_endpoint
}

output "redis_secret_arn" {
  description = "Secrets Manager secret with the Redis AUTH token and the complete redis_url (rediss://:TOKEN@HOST:6379)."
  value       = module.data.redis_secret_arn
}

output "bucket_name" {
  description = "Object-store bucket."
  value       = module.data.bucket_name
}

output "workspace_role_arn" {
  description = "IAM role the provisioner associates (EKS Pod Identity) with each workspace namespace's ServiceAccount \"workspace\"."
  value       = module.workspace_identity.workspace_role_arn
}

output "hub_role_arn" {
  description = "IAM role of the hub's service accounts (api, provisioner) in the hub namespace."
  value       = module.workspace_identity.hub_role_arn
}

output "certificate_arn" {
  description = "ACM certificate for the hub domain and its wildcard."
  value       = module.dns.certificate_arn
}

output "name_servers" {
  description = "Name servers to delegate the domain to, when the zone was created here."
  value       = module.dns.name_servers
}

output "dnssec_ds_record" {
  description = "DS record to publish at the parent zone, when the zone was created here."
  value       = module.dns.dnssec_ds_record
}

output "nat_public_ips" {
  description = "Addresses the cluster's outbound traffic comes from."
  value       = module.network.nat_public_ips
}

# The keys of Strata's configuration (docs/configuration.md) this
# environment determines. Secrets stay out: the database password and the
# Redis token live in the secrets named above (database_url gets the
# password added, redis_url is whole in the Redis secret); the master key
# is the operator's own.
output "strata_config" {
  description = "Settings for Strata's configuration file (or STRATA_<KEY> variables): everything but the secrets, which come from the Secrets Manager entries in the other outputs."
  value = {
    database_url             = "postgres://${module.data.db_username}@${module.data.db_address}:${module.data.db_port}/${module.data.db_name}?sslmode=require"
    redis_url                = "rediss://${module.data.redis_primary_endpoint}:${module.data.redis_port}"
    object_store_url         = "s3://${module.data.bucket_name}"
    public_url               = "https://${var.domain}"
    kubernetes_image         = var.strata_image
    kubernetes_hub_namespace = var.hub_namespace
    # Workspace servers reach PostgreSQL and Redis inside the VPC and S3
    # (gateway endpoint: S3's public addresses) over 443; Strata adds the
    # node's EKS Pod Identity agent (169.254.170.23:80) itself.
    kubernetes_egress = "${module.network.vpc_cidr}:5432,6379;0.0.0.0/0:443"
    # Each workspace namespace gets the workspace role, limited to
    # s3://BUCKET/ws/<namespace>/ (module aws-workspace-identity).
    kubernetes_workspace_credentials = "pod-identity"
    kubernetes_eks_cluster           = module.cluster.cluster_name
    kubernetes_eks_region            = var.region
    kubernetes_workspace_role_arn    = module.workspace_identity.workspace_role_arn
    # Not a Strata key: the AWS SDK's region for the object store.
    aws_region = var.region
  }
}
