terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.38"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }

  # State holds the Redis AUTH token: keep it in an encrypted, access-
  # controlled backend. Configure it per environment at init time, e.g.
  #   terraform init -backend-config=backend.hcl
  # with bucket, key, region, encrypt = true and use_lockfile = true.
  backend "s3" {}
}
