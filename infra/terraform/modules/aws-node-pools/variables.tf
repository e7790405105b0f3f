variable "node_role_name" {
  type        = string
  description = "IAM role of the nodes Karpenter launches (Karpenter makes their instance profile)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets Karpenter may launch nodes into."
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the nodes: the EKS cluster security group, which the database and cache admit."
}

variable "ami_alias" {
  type        = string
  description = "EC2NodeClass AMI alias. al2023 picks the NVIDIA variant for GPU instance types by itself. Pin a version (al2023@v20250715) in production so AMI updates are deliberate."
  default     = "al2023@latest"
}

variable "volume_size" {
  type        = string
  description = "Root volume of worker nodes, as a Kubernetes quantity (user images and datum scratch live there)."
  default     = "100Gi"
}

variable "consolidate_after" {
  type        = string
  description = "How long a node must be empty or under-used before Karpenter consolidates it (a Go duration)."
  default     = "60s"
}

variable "expire_after" {
  type        = string
  description = "Maximum age of a worker node before Karpenter replaces it, so nodes pick up new AMIs (a Go duration, or Never)."
  default     = "720h"
}

variable "cpu_capacity_types" {
  type        = list(string)
  description = "Capacity types of the workers-cpu pool: spot and/or on-demand."
  default     = ["spot", "on-demand"]

  validation {
    condition     = length(var.cpu_capacity_types) > 0 && alltrue([for t in var.cpu_capacity_types : contains(["spot", "on-demand"], t)])
    error_message = "Use spot and/or on-demand."
  }
}

variable "cpu_pool_cpu_limit" {
  type        = string
  description = "Total vCPUs all workers-cpu nodes together may have (a Kubernetes quantity)."
  default     = "1000"
}

variable "cpu_pool_memory_limit" {
  type        = string
  description = "Total memory all workers-cpu nodes together may have (a Kubernetes quantity)."
  default     = "4000Gi"
}

variable "gpu_instance_families" {
  type        = list(string)
  description = "EC2 instance families of the workers-gpu pool."
  default     = ["g5", "g6"]
}

variable "gpu_pool_cpu_limit" {
  type        = string
  description = "Total vCPUs all workers-gpu nodes together may have (a Kubernetes quantity)."
  default     = "256"
}

variable "gpu_pool_memory_limit" {
  type        = string
  description = "Total memory all workers-gpu nodes together may have (a Kubernetes quantity)."
  default     = "1024Gi"
}

variable "nvidia_device_plugin_version" {
  type        = string
  description = "Version of NVIDIA's device plugin chart, which advertises nvidia.com/gpu on GPU nodes."
  default     = "0.19.0"
}

variable "tags" {
  type        = map(string)
  description = "Tags Karpenter puts on the instances, volumes and launch templates it creates."
}
