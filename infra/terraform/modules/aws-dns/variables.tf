variable "domain" {
  type        = string
  description = "The hub's domain, e.g. strata.example.com; the certificate covers it and *.<domain>."
}

variable "zone_id" {
  type        = string
  description = "An existing Route 53 hosted zone for the domain (it may be a parent zone). Empty: a zone for the domain is created here, with DNSSEC signing and query logging."
  default     = ""
}

variable "load_balancer_dns_name" {
  type        = string
  description = "DNS name of the load balancer in front of the hub (made by the cluster's ingress controller). Empty: no alias records yet; set it on a later apply."
  default     = ""
}

variable "load_balancer_zone_id" {
  type        = string
  description = "Route 53 zone ID of that load balancer (its canonical hosted zone)."
  default     = ""
}

variable "log_retention_days" {
  type        = number
  description = "Days DNS query logs are kept."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the module."
}
