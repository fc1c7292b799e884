// Package perf will own per-connection TCP statistics: the eBPF sock_ops
// programs and their loaders, the unprivileged TCP_INFO fallback, node load
// figures for the cluster balancer and the Prometheus exposition of them.
// Nothing here may be required: everything works without BPF privileges.
// Nothing is implemented yet.
package perf
