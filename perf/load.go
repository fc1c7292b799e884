package perf

// Load is what a server carries for its viewers now: the figure the cluster
// balances on. Today it comes from the bytes netio sends; later from eBPF
// per-connection rates. The balancer only sees this type.
type Load struct {
	// Clients is the number of viewers being served.
	Clients int `json:"clients"`
	// OutputKbit is the rate of bytes sent to viewers, in kbit/s.
	OutputKbit uint64 `json:"output_kbit"`
}

// LoadSource gives this server's current load. It must be cheap and safe
// for concurrent use: the cluster reads it on every peer poll.
type LoadSource interface {
	Load() Load
}
