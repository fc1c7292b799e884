// Package engine owns streams: the registry, their lifecycle (static and
// on-demand), the per-stream frame ring with its GOP index, source supervision
// (retry with backoff, failover between inputs, a continuous output timeline)
// and the reconciler that turns a desired config into running streams.
//
// It knows no wire format and no socket: sources and packagers are plugged in
// through the Source and Packager interfaces.
package engine
