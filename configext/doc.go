// Package configext owns the config_external client: it polls a Flussonic-
// compatible configuration backend (the list with cursor paging and ETags,
// chunked name queries for streams running here but not listed, separate
// endpoints, batched dynamic-name lookups, episodes), validates what it gets,
// and hands the desired set of backend streams to a callback — the engine's
// reconciler, through the appliance. It never starts or stops a stream
// itself, and a backend outage never changes the desired set.
//
// CheckMain is the operator's `livedge configext check URL`.
package configext
