output "node_class" {
  description = "Name of the EC2NodeClass both worker pools use."
  value       = local.node_class
}

output "pool_label" {
  description = "Node label (and taint key) naming a node's pool."
  value       = local.pool_label
}

output "pools" {
  description = "Names of the worker NodePools."
  value       = [local.workers_cpu_pool, local.workers_gpu_pool]
}
