output "zone_id" {
  description = "Route 53 hosted zone of the hub's records."
  value       = local.zone_id
}

output "name_servers" {
  description = "Name servers of the created zone, to delegate the domain to (empty with an existing zone)."
  value       = local.create_zone ? aws_route53_zone.this[0].name_servers : []
}

output "dnssec_ds_record" {
  description = "DS record to publish at the parent zone or registrar so resolvers validate the created zone's DNSSEC chain (empty with an existing zone)."
  value       = local.create_zone ? aws_route53_key_signing_key.this[0].ds_record : ""
}

output "certificate_arn" {
  description = "ARN of the validated ACM certificate for the domain and its wildcard (for the load balancer's listener)."
  value       = aws_acm_certificate_validation.hub.certificate_arn
}
