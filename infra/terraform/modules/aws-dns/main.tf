# DNS and TLS of the hub: a hosted zone (or an existing one), an ACM
# certificate for the hub's domain and its wildcard, validated through DNS,
# and alias records to the hub's load balancer once it exists.
#
# A zone created here is signed with DNSSEC and logs its queries. Route 53
# requires both the signing key and the query-log group in us-east-1, hence
# the aws.us_east_1 provider.

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  partition   = data.aws_partition.current.partition
  account_id  = data.aws_caller_identity.current.account_id
  create_zone = var.zone_id == ""
  zone_id     = local.create_zone ? aws_route53_zone.this[0].zone_id : var.zone_id
  # Route 53 writes query logs only to log groups under this prefix.
  query_log_group = "/aws/route53/${var.domain}"
}

resource "aws_route53_zone" "this" {
  count = local.create_zone ? 1 : 0

  name    = var.domain
  comment = "Strata hub"

  tags = var.tags
}

# --- Query logging -------------------------------------------------------------

data "aws_iam_policy_document" "query_log_key" {
  #checkov:skip=CKV_AWS_111:KMS key policy: Resource * is this key alone, and the account-root statement is the standard delegation of the key's access to IAM policies
  #checkov:skip=CKV_AWS_356:KMS key policy: a key policy's Resource can only be * (this key); callers are limited by principal and condition
  #checkov:skip=CKV_AWS_109:KMS key policy: only the account root administers the key, which hands its access control to IAM policies; no other principal gets key management
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsQueryLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.us-east-1.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:us-east-1:${local.account_id}:log-group:${local.query_log_group}"]
    }
  }
}

resource "aws_kms_key" "query_log" {
  count    = local.create_zone ? 1 : 0
  provider = aws.us_east_1

  description             = "Strata: Route 53 query logs of ${var.domain}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.query_log_key.json

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "query_log" {
  count    = local.create_zone ? 1 : 0
  provider = aws.us_east_1

  name              = local.query_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.query_log[0].arn

  tags = var.tags
}

data "aws_iam_policy_document" "query_log" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:us-east-1:${local.account_id}:log-group:${local.query_log_group}:*"]

    principals {
      type        = "Service"
      identifiers = ["route53.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "query_log" {
  count    = local.create_zone ? 1 : 0
  provider = aws.us_east_1

  policy_name     = "route53-query-logs-${replace(var.domain, ".", "-")}"
  policy_document = data.aws_iam_policy_document.query_log.json
}

resource "aws_route53_query_log" "this" {
  count = local.create_zone ? 1 : 0

  zone_id                  = aws_route53_zone.this[0].zone_id
  cloudwatch_log_group_arn = aws_cloudwatch_log_group.query_log[0].arn

  depends_on = [aws_cloudwatch_log_resource_policy.query_log]
}

# --- DNSSEC ------------------------------------------------------------------------

data "aws_iam_policy_document" "dnssec_key" {
  #checkov:skip=CKV_AWS_111:KMS key policy: Resource * is this key alone, and the account-root statement is the standard delegation of the key's access to IAM policies
  #checkov:skip=CKV_AWS_356:KMS key policy: a key policy's Resource can only be * (this key); callers are limited by principal and condition
  #checkov:skip=CKV_AWS_109:KMS key policy: only the account root administers the key, which hands its access control to IAM policies; no other principal gets key management
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "Route53SignsZones"
    actions   = ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["dnssec-route53.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:route53:::hostedzone/*"]
    }
  }

  statement {
    sid       = "Route53KeepsGrants"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["dnssec-route53.amazonaws.com"]
    }

    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
}

# Route 53 signs with an asymmetric P-256 key, which KMS cannot rotate
# automatically; rolling the KSK is a manual DNSSEC procedure.
resource "aws_kms_key" "dnssec" {
  count    = local.create_zone ? 1 : 0
  provider = aws.us_east_1

  description              = "Strata: DNSSEC key-signing key of ${var.domain}"
  customer_master_key_spec = "ECC_NIST_P256"
  key_usage                = "SIGN_VERIFY"
  deletion_window_in_days  = 30
  policy                   = data.aws_iam_policy_document.dnssec_key.json

  tags = var.tags
}

resource "aws_route53_key_signing_key" "this" {
  count = local.create_zone ? 1 : 0

  hosted_zone_id             = aws_route53_zone.this[0].zone_id
  key_management_service_arn = aws_kms_key.dnssec[0].arn
  name                       = "strata-ksk"
}

resource "aws_route53_hosted_zone_dnssec" "this" {
  count = local.create_zone ? 1 : 0

  hosted_zone_id = aws_route53_key_signing_key.this[0].hosted_zone_id
}

# --- Certificate -------------------------------------------------------------------

resource "aws_acm_certificate" "hub" {
  #checkov:skip=CKV2_AWS_71:The hub serves its console, API and workspace endpoints as one-level subdomains of its own domain behind one load balancer; the wildcard is limited to that domain
  domain_name               = var.domain
  subject_alternative_names = ["*.${var.domain}"]
  validation_method         = "DNS"
  key_algorithm             = "RSA_2048"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# The apex and the wildcard share one validation record; allow_overwrite
# lets both entries write it.
resource "aws_route53_record" "validation" {
  for_each = {
    for option in aws_acm_certificate.hub.domain_validation_options : option.domain_name => {
      name   = option.resource_record_name
      type   = option.resource_record_type
      record = option.resource_record_value
    }
  }

  zone_id         = local.zone_id
  name            = each.value.name
  type            = each.value.type
  ttl             = 300
  records         = [each.value.record]
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "hub" {
  certificate_arn         = aws_acm_certificate.hub.arn
  validation_record_fqdns = [for record in aws_route53_record.validation : record.fqdn]
}

# --- The hub's names ------------------------------------------------------------

resource "aws_route53_record" "hub" {
  #checkov:skip=CKV2_AWS_23:The alias target is the hub's load balancer, which the cluster's ingress controller creates outside Terraform; it is passed in by name, and the records exist only once it is set
  for_each = var.load_balancer_dns_name == "" ? toset([]) : toset([var.domain, "*.${var.domain}"])

  zone_id = local.zone_id
  name    = each.value
  type    = "A"

  alias {
    name                   = var.load_balancer_dns_name
    zone_id                = var.load_balancer_zone_id
    evaluate_target_health = true
  }
}
