variable "name" {
  type        = string
  description = "Name of the EKS cluster, and prefix of its IAM roles, keys and queue."
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the control plane and the system node group."
  default     = "1.33"
}

variable "vpc_id" {
  type        = string
  description = "VPC the cluster runs in."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (one per availability zone) for the control plane's network interfaces and the nodes."
}

variable "endpoint_public_access" {
  type        = bool
  description = "Whether the Kubernetes API is also reachable from the internet (from public_access_cidrs only). The private endpoint is always on."
  default     = false
}

variable "public_access_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach the public API endpoint when endpoint_public_access is true. Never 0.0.0.0/0."
  default     = []

  validation {
    condition     = !contains(var.public_access_cidrs, "0.0.0.0/0")
    error_message = "Name the operators' networks; 0.0.0.0/0 would open the API server to the internet."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days control-plane logs are kept in CloudWatch Logs."
  default     = 365
}

variable "admin_principal_arns" {
  type        = list(string)
  description = "IAM roles or users given cluster-admin through EKS access entries. Must include the principal that runs Terraform (it installs Karpenter and the node pools)."

  validation {
    condition     = length(var.admin_principal_arns) > 0
    error_message = "Name at least one administrator: the cluster is created without the creator's implicit admin access."
  }
}

variable "system_instance_types" {
  type        = list(string)
  description = "Instance types of the managed \"system\" node group (hub, workspace servers, Karpenter, CoreDNS)."
  default     = ["m7i.large", "m6i.large"]
}

variable "system_min_size" {
  type        = number
  description = "Minimum nodes of the \"system\" node group (at least 2, so the pool survives losing a node)."
  default     = 2

  validation {
    condition     = var.system_min_size >= 2
    error_message = "The system node group needs at least 2 nodes."
  }
}

variable "system_desired_size" {
  type        = number
  description = "Initial number of \"system\" nodes (later changes are ignored so manual scaling survives an apply)."
  default     = 3
}

variable "system_max_size" {
  type        = number
  description = "Maximum nodes of the \"system\" node group."
  default     = 6
}

variable "system_disk_size_gib" {
  type        = number
  description = "Root volume size of \"system\" nodes, in GiB."
  default     = 50
}

variable "karpenter_version" {
  type        = string
  description = "Version of the Karpenter Helm chart (and controller). It must support kubernetes_version."
  default     = "1.11.1"
}

variable "karpenter_namespace" {
  type        = string
  description = "Namespace Karpenter is installed into."
  default     = "kube-system"
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the module."
}
