# Karpenter's EC2NodeClass and the two worker NodePools. The provisioner
# (services/provisioner/src/kubernetes/render.rs) schedules worker pods with
# the same names: POOL_LABEL, WORKERS_POOL, GPU_POOL and the GPU resource
# as taint key; a test compares these locals with its constants.
locals {
  pool_label       = "strata.dev/pool"
  workers_cpu_pool = "workers-cpu"
  workers_gpu_pool = "workers-gpu"
  gpu_resource     = "nvidia.com/gpu"

  node_class = "strata-workers"
  node_class_ref = {
    group = "karpenter.k8s.aws"
    kind  = "EC2NodeClass"
    name  = local.node_class
  }
  disruption = {
    consolidationPolicy = "WhenEmptyOrUnderutilized"
    consolidateAfter    = var.consolidate_after
    # Karpenter's own default, written out so the manifest does not drift.
    budgets = [{ nodes = "10%" }]
  }
}

resource "kubernetes_manifest" "node_class" {
  manifest = {
    apiVersion = "karpenter.k8s.aws/v1"
    kind       = "EC2NodeClass"
    metadata = {
      name = local.node_class
    }
    spec = {
      role                       = var.node_role_name
      amiSelectorTerms           = [{ alias = var.ami_alias }]
      subnetSelectorTerms        = [for id in var.subnet_ids : { id = id }]
      securityGroupSelectorTerms = [for id in var.security_group_ids : { id = id }]
      # As on the system nodes: IMDSv2, one hop, so containers cannot take
      # the node role's credentials.
      metadataOptions = {
        httpEndpoint            = "enabled"
        httpProtocolIPv6        = "disabled"
        httpPutResponseHopLimit = 1
        httpTokens              = "required"
      }
      blockDeviceMappings = [{
        deviceName = "/dev/xvda"
        ebs = {
          volumeSize          = var.volume_size
          volumeType          = "gp3"
          encrypted           = true
          deleteOnTermination = true
        }
      }]
      tags = var.tags
    }
  }
}

# CPU workers: general, compute and memory families, spot where allowed.
# Every node is labelled and tainted with its pool, so only worker pods
# (which tolerate the taint) land here.
resource "kubernetes_manifest" "workers_cpu" {
  manifest = {
    apiVersion = "karpenter.sh/v1"
    kind       = "NodePool"
    metadata = {
      name = local.workers_cpu_pool
    }
    spec = {
      template = {
        metadata = {
          labels = { (local.pool_label) = local.workers_cpu_pool }
        }
        spec = {
          nodeClassRef = local.node_class_ref
          taints = [
            { key = local.pool_label, value = local.workers_cpu_pool, effect = "NoSchedule" },
          ]
          requirements = [
            { key = "karpenter.k8s.aws/instance-category", operator = "In", values = ["c", "m", "r"] },
            { key = "karpenter.k8s.aws/instance-generation", operator = "Gt", values = ["5"] },
            { key = "karpenter.sh/capacity-type", operator = "In", values = var.cpu_capacity_types },
            { key = "kubernetes.io/arch", operator = "In", values = ["amd64"] },
            { key = "kubernetes.io/os", operator = "In", values = ["linux"] },
          ]
          expireAfter = var.expire_after
        }
      }
      limits = {
        cpu    = var.cpu_pool_cpu_limit
        memory = var.cpu_pool_memory_limit
      }
      disruption = local.disruption
    }
  }

  depends_on = [kubernetes_manifest.node_class]
}

# GPU workers: on-demand only (a reclaimed GPU node loses long datums).
# Besides the pool taint they carry nvidia.com/gpu, which GPU worker pods
# tolerate with operator Exists.
resource "kubernetes_manifest" "workers_gpu" {
  manifest = {
    apiVersion = "karpenter.sh/v1"
    kind       = "NodePool"
    metadata = {
      name = local.workers_gpu_pool
    }
    spec = {
      template = {
        metadata = {
          labels = { (local.pool_label) = local.workers_gpu_pool }
        }
        spec = {
          nodeClassRef = local.node_class_ref
          taints = [
            { key = local.pool_label, value = local.workers_gpu_pool, effect = "NoSchedule" },
            { key = local.gpu_resource, value = "true", effect = "NoSchedule" },
          ]
          requirements = [
            { key = "karpenter.k8s.aws/instance-family", operator = "In", values = var.gpu_instance_families },
            { key = "karpenter.sh/capacity-type", operator = "In", values = ["on-demand"] },
            { key = "kubernetes.io/arch", operator = "In", values = ["amd64"] },
            { key = "kubernetes.io/os", operator = "In", values = ["linux"] },
          ]
          expireAfter = var.expire_after
        }
      }
      limits = {
        cpu    = var.gpu_pool_cpu_limit
        memory = var.gpu_pool_memory_limit
      }
      disruption = local.disruption
    }
  }

  depends_on = [kubernetes_manifest.node_class]
}

# The AL2023 NVIDIA AMI has the driver and container toolkit; the device
# plugin makes the GPUs schedulable as nvidia.com/gpu. It runs only on the
# GPU pool, tolerating both of its taints.
resource "helm_release" "nvidia_device_plugin" {
  name       = "nvidia-device-plugin"
  namespace  = "kube-system"
  repository = "https://nvidia.github.io/k8s-device-plugin"
  chart      = "nvidia-device-plugin"
  version    = var.nvidia_device_plugin_version

  values = [yamlencode({
    nodeSelector = { (local.pool_label) = local.workers_gpu_pool }
    tolerations = [
      { key = local.pool_label, operator = "Equal", value = local.workers_gpu_pool, effect = "NoSchedule" },
      { key = local.gpu_resource, operator = "Exists", effect = "NoSchedule" },
    ]
    # The chart's default affinity looks for labels of NVIDIA's GPU feature
    # discovery, which this cluster does not run.
    affinity = null
  })]
}
