variable "name" {
  type        = string
  description = "Name prefix of every network resource; also the EKS cluster name the subnets are tagged for."
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR of the VPC. Private subnets take three /19s of a /16 (room for VPC CNI pod addresses), public subnets three /24s."

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr))
    error_message = "The vpc_cidr must be an IPv4 CIDR such as 10.40.0.0/16."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones to spread subnets over, named explicitly (e.g. eu-west-1a, eu-west-1b, eu-west-1c) so the set never changes when AWS adds a zone."

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6
    error_message = "Use 2 to 6 availability zones (3 is the design point)."
  }
}

variable "nat_gateway_per_az" {
  type        = bool
  description = "One NAT gateway per availability zone (true: an AZ outage does not cut the others' egress) or a single shared one (false: cheaper, for non-production)."
  default     = true
}

variable "flow_log_retention_days" {
  type        = number
  description = "Days VPC flow logs are kept in CloudWatch Logs."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the module."
}
