// Package perf owns per-connection TCP statistics and node load figures: the
// Load type the cluster balancer reads through LoadSource, and (to come) the
// eBPF sock_ops programs and their loaders, the unprivileged TCP_INFO
// fallback and the Prometheus exposition of them. Nothing here may be
// required: everything works without BPF privileges.
package perf
