output "db_address" {
  description = "Host name of the PostgreSQL instance."
  value       = aws_db_instance.this.address
}

output "db_endpoint" {
  description = "host:port of the PostgreSQL instance."
  value       = aws_db_instance.this.endpoint
}

output "db_port" {
  description = "Port of the PostgreSQL instance."
  value       = aws_db_instance.this.port
}

output "db_name" {
  description = "Database Strata uses."
  value       = aws_db_instance.this.db_name
}

output "db_username" {
  description = "Master user name of the database."
  value       = aws_db_instance.this.username
}

output "db_resource_id" {
  description = "The instance's resource ID, which rds-db:connect permissions name."
  value       = aws_db_instance.this.resource_id
}

output "db_master_secret_arn" {
  description = "Secrets Manager secret (kept by RDS) holding the master user's password."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "redis_primary_endpoint" {
  description = "Host name of the Redis primary (TLS on port 6379)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "redis_port" {
  description = "Port of Redis."
  value       = aws_elasticache_replication_group.this.port
}

output "redis_secret_arn" {
  description = "Secrets Manager secret holding the Redis AUTH token and the full rediss:// URL."
  value       = aws_secretsmanager_secret.redis.arn
}

output "bucket_name" {
  description = "Name of the object-store bucket."
  value       = aws_s3_bucket.objects.id
}

output "bucket_arn" {
  description = "ARN of the object-store bucket."
  value       = aws_s3_bucket.objects.arn
}

output "bucket_kms_key_arn" {
  description = "KMS key the object-store bucket is encrypted with."
  value       = aws_kms_key.bucket.arn
}

output "data_kms_key_arn" {
  description = "KMS key of the database, the cache and their secrets."
  value       = aws_kms_key.data.arn
}
