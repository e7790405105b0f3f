variable "name" {
  type        = string
  description = "Name prefix of the database, the cache, their keys and log groups."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the database and the cache."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (one per availability zone) of the database and the cache."
}

variable "client_security_group_id" {
  type        = string
  description = "The only security group allowed to connect to PostgreSQL (5432) and Redis (6379): the EKS cluster security group."
}

variable "log_retention_days" {
  type        = number
  description = "Days database and cache logs are kept in CloudWatch Logs."
  default     = 365
}

# --- PostgreSQL ---

variable "db_engine_version" {
  type        = string
  description = "PostgreSQL version; a major version (16) lets RDS apply minor upgrades itself."
  default     = "16"

  validation {
    condition     = can(regex("^16(\\.[0-9]+)?$", var.db_engine_version))
    error_message = "Strata's AWS deployment runs PostgreSQL 16 (the parameter group family is postgres16)."
  }
}

variable "db_instance_class" {
  type        = string
  description = "RDS instance class."
  default     = "db.m7g.large"
}

variable "db_allocated_storage" {
  type        = number
  description = "Initial storage of the database, in GiB."
  default     = 100
}

variable "db_max_allocated_storage" {
  type        = number
  description = "Ceiling for storage autoscaling, in GiB."
  default     = 1000
}

variable "db_multi_az" {
  type        = bool
  description = "Keep a synchronous standby in another availability zone."
  default     = true
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days automated backups (point-in-time recovery) are kept."
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "Keep backups for 7 to 35 days."
  }
}

variable "db_name" {
  type        = string
  description = "Name of the database Strata uses (the hub's tables, and one schema per workspace)."
  default     = "strata"
}

variable "db_username" {
  type        = string
  description = "Master user name. Its password is generated and kept by RDS in Secrets Manager; it never appears in Terraform."
  default     = "strata"
}

variable "db_log_min_duration_ms" {
  type        = number
  description = "Statements slower than this many milliseconds are logged."
  default     = 1000
}

# --- Redis ---

variable "redis_engine_version" {
  type        = string
  description = "Redis OSS version of the replication group."
  default     = "7.1"
}

variable "redis_node_type" {
  type        = string
  description = "ElastiCache node type."
  default     = "cache.m7g.large"
}

variable "redis_high_availability" {
  type        = bool
  description = "A primary plus redis_replica_count replicas in other availability zones with automatic failover (true), or a single node (false, for non-production)."
  default     = true
}

variable "redis_replica_count" {
  type        = number
  description = "Replicas of the primary when redis_high_availability is true."
  default     = 1

  validation {
    condition     = var.redis_replica_count >= 1 && var.redis_replica_count <= 5
    error_message = "Use 1 to 5 replicas."
  }
}

# --- Object storage ---

variable "bucket_name" {
  type        = string
  description = "Name of the object-store bucket (globally unique). The access-log bucket is named after it with -access-logs."
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days an overwritten or deleted object version is kept before it expires."
  default     = 30
}

variable "access_log_retention_days" {
  type        = number
  description = "Days S3 server access logs are kept."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the module."
}
