variable "name" {
  type        = string
  description = "Prefix of the two roles: <name>-workspace and <name>-hub."
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster whose pods may assume the roles, and where the hub may manage Pod Identity associations."
}

variable "cluster_arn" {
  type        = string
  description = "ARN of that cluster (the trust policies' aws:SourceArn)."
}

variable "bucket_name" {
  type        = string
  description = "Object-store bucket."
}

variable "bucket_kms_key_arn" {
  type        = string
  description = "KMS key the bucket is encrypted with (SSE-KMS with a bucket key)."
}

variable "workspace_prefix" {
  type        = string
  description = "Key prefix under which each workspace namespace owns <prefix>/<namespace>/ in the bucket."
  default     = "ws"
}

variable "db_resource_id" {
  type        = string
  description = "Resource ID of the RDS instance (for rds-db:connect)."
}

variable "db_iam_username" {
  type        = string
  description = "Database user the hub may log in as with an IAM token; it must exist and be granted rds_iam in PostgreSQL."
}

variable "hub_namespace" {
  type        = string
  description = "Namespace of the hub (Strata's kubernetes_hub_namespace)."
  default     = "strata"
}

variable "hub_service_accounts" {
  type        = list(string)
  description = "Service accounts of the hub namespace that get the hub role."
  default     = ["api", "provisioner"]
}

variable "hub_secret_arns" {
  type        = list(string)
  description = "Secrets Manager secrets the hub's pods may read (database password, Redis URL), e.g. through the Secrets Store CSI driver."
}

variable "hub_secret_kms_key_arn" {
  type        = string
  description = "KMS key those secrets are encrypted with."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the module."
}
