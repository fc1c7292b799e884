// Package cluster will own peering: the peers and their cluster_key auth, the
// cluster-wide stream table, per-protocol redirect targets, load balancing and
// cluster_ingest ownership. It reads the engine through an interface and never
// reaches into its internals. Nothing is implemented yet.
package cluster
