# --- Environment ---

variable "region" {
  type        = string
  description = "AWS region of the environment."
}

variable "name" {
  type        = string
  description = "Name of the installation: the EKS cluster, and the prefix of every resource name (IAM roles <name>-workspace and <name>-hub). Use a different name per environment sharing an account."
  default     = "strata"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "Use 3 to 32 lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "environment" {
  type        = string
  description = "Environment name (production, staging, ...); becomes the Environment tag and part of the default bucket name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.environment))
    error_message = "Use up to 16 lower-case letters, digits and dashes, starting with a letter (it goes into S3 bucket names)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags on every resource (the provider's default_tags, and each module's tags); Environment is added from var.environment."
  default = {
    Project   = "strata"
    ManagedBy = "terraform"
  }
}

# --- Network ---

variable "availability_zones" {
  type        = list(string)
  description = "Three availability zones of the region, named explicitly, e.g. [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]."
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR of the VPC (a /16 leaves room for pod addresses)."
  default     = "10.40.0.0/16"
}

variable "nat_gateway_per_az" {
  type        = bool
  description = "One NAT gateway per availability zone (true) or one shared (false, cheaper, for non-production)."
  default     = true
}

variable "log_retention_days" {
  type        = number
  description = "Days flow logs, control-plane logs, database logs and DNS query logs are kept."
  default     = 365
}

# --- Cluster ---

variable "kubernetes_version" {
  type        = string
  description = "EKS Kubernetes version."
  default     = "1.33"
}

variable "endpoint_public_access" {
  type        = bool
  description = "Also expose the Kubernetes API publicly (only to public_access_cidrs). Off: reach it from inside the VPC (VPN, bastion, CI runner in the VPC)."
  default     = false
}

variable "public_access_cidrs" {
  type        = list(string)
  description = "CIDRs that may reach the public API endpoint when it is enabled."
  default     = []
}

variable "admin_principal_arns" {
  type        = list(string)
  description = "IAM roles or users with cluster-admin (EKS access entries); include the one that runs Terraform."
}

variable "system_instance_types" {
  type        = list(string)
  description = "Instance types of the managed \"system\" node group."
  default     = ["m7i.large", "m6i.large"]
}

variable "system_min_size" {
  type        = number
  description = "Minimum \"system\" nodes (at least 2)."
  default     = 2
}

variable "system_desired_size" {
  type        = number
  description = "Initial \"system\" nodes."
  default     = 3
}

variable "system_max_size" {
  type        = number
  description = "Maximum \"system\" nodes."
  default     = 6
}

variable "karpenter_version" {
  type        = string
  description = "Karpenter chart version (must support kubernetes_version)."
  default     = "1.11.1"
}

# --- Worker node pools ---

variable "node_ami_alias" {
  type        = string
  description = "AMI alias of Karpenter's worker nodes; pin it (al2023@vYYYYMMDD) in production."
  default     = "al2023@latest"
}

variable "consolidate_after" {
  type        = string
  description = "How long a worker node stays empty or under-used before Karpenter consolidates it."
  default     = "60s"
}

variable "expire_after" {
  type        = string
  description = "Maximum age of a worker node."
  default     = "720h"
}

variable "workers_cpu_capacity_types" {
  type        = list(string)
  description = "Capacity types of workers-cpu: spot and/or on-demand."
  default     = ["spot", "on-demand"]
}

variable "workers_cpu_cpu_limit" {
  type        = string
  description = "vCPU ceiling of the workers-cpu pool."
  default     = "1000"
}

variable "workers_cpu_memory_limit" {
  type        = string
  description = "Memory ceiling of the workers-cpu pool."
  default     = "4000Gi"
}

variable "workers_gpu_instance_families" {
  type        = list(string)
  description = "Instance families of workers-gpu."
  default     = ["g5", "g6"]
}

variable "workers_gpu_cpu_limit" {
  type        = string
  description = "vCPU ceiling of the workers-gpu pool."
  default     = "256"
}

variable "workers_gpu_memory_limit" {
  type        = string
  description = "Memory ceiling of the workers-gpu pool."
  default     = "1024Gi"
}

# --- Data ---

variable "db_instance_class" {
  type        = string
  description = "RDS PostgreSQL instance class."
  default     = "db.m7g.large"
}

variable "db_allocated_storage" {
  type        = number
  description = "Initial database storage, GiB."
  default     = 100
}

variable "db_max_allocated_storage" {
  type        = number
  description = "Database storage autoscaling ceiling, GiB."
  default     = 1000
}

variable "db_multi_az" {
  type        = bool
  description = "Run the database with a standby in another availability zone."
  default     = true
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days of automated database backups (7-35)."
  default     = 14
}

variable "db_iam_username" {
  type        = string
  description = "Database user the hub role may log in as with IAM authentication (create it and GRANT rds_iam)."
  default     = "strata_hub"
}

variable "redis_node_type" {
  type        = string
  description = "ElastiCache node type."
  default     = "cache.m7g.large"
}

variable "redis_high_availability" {
  type        = bool
  description = "Redis with replicas in other availability zones and automatic failover (false: one node)."
  default     = true
}

variable "redis_replica_count" {
  type        = number
  description = "Redis replicas when redis_high_availability is true."
  default     = 1
}

variable "bucket_name" {
  type        = string
  description = "Object-store bucket name; empty: <name>-<environment>-objects-<account id>."
  default     = ""
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days overwritten or deleted object versions are kept."
  default     = 30
}

# --- Strata ---

variable "hub_namespace" {
  type        = string
  description = "Kubernetes namespace of the hub (Strata's kubernetes_hub_namespace)."
  default     = "strata"
}

variable "strata_image" {
  type        = string
  description = "The Strata image workspace servers run (Strata's kubernetes_image), e.g. <account>.dkr.ecr.<region>.amazonaws.com/strata:1.2.3."
}

# --- DNS ---

variable "domain" {
  type        = string
  description = "The hub's domain, e.g. strata.example.com."
}

variable "zone_id" {
  type        = string
  description = "Existing Route 53 zone for the domain; empty creates one."
  default     = ""
}

variable "load_balancer_dns_name" {
  type        = string
  description = "DNS name of the hub's load balancer, once the ingress controller made it; empty: no alias records."
  default     = ""
}

variable "load_balancer_zone_id" {
  type        = string
  description = "Canonical hosted zone ID of that load balancer."
  default     = ""
}
