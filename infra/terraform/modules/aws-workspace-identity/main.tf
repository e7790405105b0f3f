# Cloud credentials for Strata's pods through EKS Pod Identity.
#
# Workspaces: ONE role for all of them. EKS Pod Identity tags each session
# with the pod's namespace (kubernetes-namespace), and the role's policy
# names objects through that tag (attribute-based access control): a pod of
# namespace ws-1234 reaches only s3://<bucket>/ws/ws-1234/*. No per-workspace
# IAM change is needed; the provisioner associates this role with each
# workspace namespace's ServiceAccount "workspace" when it creates the
# workspace (eks:CreatePodIdentityAssociation, allowed to the hub role
# below) and deletes the association with the workspace. Terraform
# therefore makes no association for it and only outputs its ARN.
#
# Hub: the api and the provisioner get the whole bucket, an IAM login to
# the database, the secrets they need, and the right to manage those
# associations, for the workspace role only.

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  bucket_arn = "arn:${local.partition}:s3:::${var.bucket_name}"
  # $${...} is an IAM policy variable, resolved by AWS per request.
  namespace_tag = "$${aws:PrincipalTag/kubernetes-namespace}"
  # Associations are named arn:...:podidentityassociation/<cluster>/<id>.
  associations_arn = "arn:${local.partition}:eks:${local.region}:${local.account_id}:podidentityassociation/${var.cluster_name}/*"
}

data "aws_iam_policy_document" "pod_identity_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [var.cluster_arn]
    }
  }
}

# --- Workspaces --------------------------------------------------------------------

data "aws_iam_policy_document" "workspace" {
  statement {
    sid       = "OwnPrefixObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${local.bucket_arn}/${var.workspace_prefix}/${local.namespace_tag}/*"]
  }

  statement {
    sid       = "ListOwnPrefix"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.workspace_prefix}/${local.namespace_tag}/*"]
    }
  }

  # With a bucket key the encryption context is the bucket's ARN, so this
  # key serves this bucket only, and only through S3.
  statement {
    sid       = "BucketKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.bucket_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = [local.bucket_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "workspace" {
  name                 = "${var.name}-workspace"
  description          = "Strata workspace pods (EKS Pod Identity): each namespace reaches only its own prefix of ${var.bucket_name}"
  assume_role_policy   = data.aws_iam_policy_document.pod_identity_assume.json
  max_session_duration = 3600

  tags = var.tags
}

resource "aws_iam_role_policy" "workspace" {
  name   = "own-prefix"
  role   = aws_iam_role.workspace.id
  policy = data.aws_iam_policy_document.workspace.json
}

# --- Hub -------------------------------------------------------------------------

data "aws_iam_policy_document" "hub" {
  statement {
    sid       = "AllObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${local.bucket_arn}/*"]
  }

  statement {
    sid       = "Bucket"
    actions   = ["s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation"]
    resources = [local.bucket_arn]
  }

  statement {
    sid       = "BucketKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.bucket_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = [local.bucket_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "DatabaseIamLogin"
    actions   = ["rds-db:connect"]
    resources = ["arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${var.db_resource_id}/${var.db_iam_username}"]
  }

  statement {
    sid       = "ReadOwnSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = var.hub_secret_arns
  }

  statement {
    sid       = "DecryptOwnSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.hub_secret_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }

  # The provisioner gives each workspace namespace the workspace role.
  statement {
    sid       = "ManageWorkspaceAssociations"
    actions   = ["eks:CreatePodIdentityAssociation", "eks:DescribePodIdentityAssociation", "eks:UpdatePodIdentityAssociation", "eks:DeletePodIdentityAssociation", "eks:ListPodIdentityAssociations", "eks:TagResource"]
    resources = [var.cluster_arn, local.associations_arn]
  }

  statement {
    sid       = "PassOnlyTheWorkspaceRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.workspace.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["pods.eks.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "iam:AssociatedResourceArn"
      values   = [var.cluster_arn]
    }
  }
}

resource "aws_iam_role" "hub" {
  name                 = "${var.name}-hub"
  description          = "Strata hub pods (api, provisioner) through EKS Pod Identity"
  assume_role_policy   = data.aws_iam_policy_document.pod_identity_assume.json
  max_session_duration = 3600

  tags = var.tags
}

resource "aws_iam_role_policy" "hub" {
  name   = "hub"
  role   = aws_iam_role.hub.id
  policy = data.aws_iam_policy_document.hub.json
}

resource "aws_eks_pod_identity_association" "hub" {
  for_each = toset(var.hub_service_accounts)

  cluster_name    = var.cluster_name
  namespace       = var.hub_namespace
  service_account = each.value
  role_arn        = aws_iam_role.hub.arn

  tags = var.tags
}
