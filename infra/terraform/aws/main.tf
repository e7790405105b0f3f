# One Strata environment on AWS. Apply it in two steps on a new
# environment (README.md): the Kubernetes provider needs the cluster and
# Karpenter's CRDs before it can plan the node pools.

locals {
  tags        = merge(var.tags, { Environment = var.environment })
  bucket_name = coalesce(var.bucket_name, "${var.name}-${var.environment}-objects-${data.aws_caller_identity.current.account_id}")
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# Route 53 keeps DNSSEC signing keys and query-log groups in us-east-1.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = local.tags
  }
}

# Both authenticate with a short-lived EKS token from the AWS CLI, as the
# principal running Terraform (which must be in admin_principal_arns).
provider "kubernetes" {
  host                   = module.cluster.cluster_endpoint
  cluster_ca_certificate = base64decode(module.cluster.cluster_certificate_authority_data)

  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = ["eks", "get-token", "--cluster-name", module.cluster.cluster_name, "--region", var.region]
  }
}

provider "helm" {
  kubernetes = {
    host                   = module.cluster.cluster_endpoint
    cluster_ca_certificate = base64decode(module.cluster.cluster_certificate_authority_data)
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.cluster.cluster_name, "--region", var.region]
    }
  }
}

data "aws_caller_identity" "current" {}

module "network" {
  source = "../modules/aws-network"

  name                    = var.name
  vpc_cidr                = var.vpc_cidr
  availability_zones      = var.availability_zones
  nat_gateway_per_az      = var.nat_gateway_per_az
  flow_log_retention_days = var.log_retention_days
  tags                    = local.tags
}

module "cluster" {
  source = "../modules/aws-cluster"

  name                   = var.name
  kubernetes_version     = var.kubernetes_version
  vpc_id                 = module.network.vpc_id
  subnet_ids             = module.network.private_subnet_ids
  endpoint_public_access = var.endpoint_public_access
  public_access_cidrs    = var.public_access_cidrs
  log_retention_days     = var.log_retention_days
  admin_principal_arns   = var.admin_principal_arns
  system_instance_types  = var.system_instance_types
  system_min_size        = var.system_min_size
  system_desired_size    = var.system_desired_size
  system_max_size        = var.system_max_size
  karpenter_version      = var.karpenter_version
  tags                   = local.tags
}

module "node_pools" {
  source = "../modules/aws-node-pools"

  node_role_name        = module.cluster.karpenter_node_role_name
  subnet_ids            = module.network.private_subnet_ids
  security_group_ids    = [module.cluster.cluster_security_group_id]
  ami_alias             = var.node_ami_alias
  consolidate_after     = var.consolidate_after
  expire_after          = var.expire_after
  cpu_capacity_types    = var.workers_cpu_capacity_types
  cpu_pool_cpu_limit    = var.workers_cpu_cpu_limit
  cpu_pool_memory_limit = var.workers_cpu_memory_limit
  gpu_instance_families = var.workers_gpu_instance_families
  gpu_pool_cpu_limit    = var.workers_gpu_cpu_limit
  gpu_pool_memory_limit = var.workers_gpu_memory_limit
  tags                  = local.tags

  # Karpenter (and with it the NodePool and EC2NodeClass CRDs) first.
  depends_on = [module.cluster]
}

module "data" {
  source = "../modules/aws-data"

  name                               = var.name
  vpc_id                             = module.network.vpc_id
  subnet_ids                         = module.network.private_subnet_ids
  client_security_group_id           = module.cluster.cluster_security_group_id
  log_retention_days                 = var.log_retention_days
  db_instance_class                  = var.db_instance_class
  db_allocated_storage               = var.db_allocated_storage
  db_max_allocated_storage           = var.db_max_allocated_storage
  db_multi_az                        = var.db_multi_az
  db_backup_retention_days           = var.db_backup_retention_days
  redis_node_type                    = var.redis_node_type
  redis_high_availability            = var.redis_high_availability
  redis_replica_count                = var.redis_replica_count
  bucket_name                        = local.bucket_name
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  tags                               = local.tags
}

module "workspace_identity" {
  source = "../modules/aws-workspace-identity"

  name                   = var.name
  cluster_name           = module.cluster.cluster_name
  cluster_arn            = module.cluster.cluster_arn
  bucket_name            = module.data.bucket_name
  bucket_kms_key_arn     = module.data.bucket_kms_key_arn
  db_resource_id         = module.data.db_resource_id
  db_iam_username        = var.db_iam_username
  hub_namespace          = var.hub_namespace
  hub_secret_arns        = [module.data.db_master_secret_arn, module.data.redis_secret_arn]
  hub_secret_kms_key_arn = module.data.data_kms_key_arn
  tags                   = local.tags
}

module "dns" {
  source = "../modules/aws-dns"

  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  domain                 = var.domain
  zone_id                = var.zone_id
  load_balancer_dns_name = var.load_balancer_dns_name
  load_balancer_zone_id  = var.load_balancer_zone_id
  log_retention_days     = var.log_retention_days
  tags                   = local.tags
}
