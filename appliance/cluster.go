package appliance

import (
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/livedge/livedge/appliance/config"
	"github.com/livedge/livedge/cluster"
	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/netio"
	"github.com/livedge/livedge/perf"
)

// clusterConfig maps the config's cluster settings onto package cluster's.
func clusterConfig(c *config.Config) cluster.Config {
	cc := cluster.Config{
		Self:           selfName(c),
		Public:         c.Public,
		Key:            c.ClusterKey,
		Balance:        cluster.Mode(c.ClusterBalance),
		MaxBitrateKbit: uint64(c.MaxBitrate / 1000),
		Peers:          make([]cluster.PeerConfig, len(c.Peers)),
	}
	for i, p := range c.Peers {
		cc.Peers[i] = cluster.PeerConfig{
			Host:           p.Host,
			Public:         p.Public,
			FetchTimeout:   time.Duration(p.FetchTimeout) * time.Millisecond,
			StaleTimeout:   time.Duration(p.StaleTimeout) * time.Millisecond,
			MaxBitrateKbit: uint64(p.MaxBitrate / 1000),
		}
	}
	return cc
}

// selfName is this server's name in the cluster: hostname, else the OS's.
func selfName(c *config.Config) string {
	if c.Hostname != "" {
		return c.Hostname
	}
	// Peers refuse a table whose name breaks the rule the config follows.
	if h, err := os.Hostname(); err == nil && cluster.ValidateServerName(h) == nil {
		return h
	}
	return "localhost"
}

// clusterLocal is what peers learn of this server: its streams and load.
type clusterLocal struct {
	streams *engine.Registry
	router  *router
}

func (l clusterLocal) Load() perf.Load {
	return perf.Load{Clients: l.router.sessions.total(), OutputKbit: l.router.outputKbit.Load()}
}

// Streams lists what runs here and what would start here on a viewer's
// request: the registry's configured streams (a cluster_ingest stream is
// in it only while this server owns it).
func (l clusterLocal) Streams() []cluster.LocalStream {
	running := make(map[string]bool)
	for _, s := range l.streams.Running() {
		running[s.Name()] = true
	}
	configured := l.streams.ConfiguredAll()
	out := make([]cluster.LocalStream, len(configured))
	for i, c := range configured {
		out[i] = cluster.LocalStream{Name: c.Name, Startable: true, Running: running[c.Name]}
	}
	return out
}

// ownedStreams is what the registry runs of the effective streams: all of
// them, except cluster_ingest streams another server owns; the ones this
// server owns run as static streams.
func ownedStreams(all []engine.StreamConfig, owns func(stream, captureAt string) bool) []engine.StreamConfig {
	if owns == nil {
		return all
	}
	out := make([]engine.StreamConfig, 0, len(all))
	for _, c := range all {
		if c.ClusterIngest == nil {
			out = append(out, c)
			continue
		}
		if owns(c.Name, c.ClusterIngest.CaptureAt) {
			c.Static = true
			out = append(out, c)
		}
	}
	return out
}

// startCluster wires the cluster node: ownership filter, re-applying the
// streams when the live servers change, and config reloads.
func (n *node) startCluster() {
	cn := n.cluster
	changed := make(chan struct{}, 1)
	cn.OnChange(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	go func() {
		for {
			select {
			case <-n.stopBg:
				return
			case <-changed:
				n.store.reapply("cluster membership changed")
			}
		}
	}()
	cn.Start()
}

// clusterRedirect sends a viewer to the peer that has the stream, when the
// cluster decides so, and reports whether it did. Other outcomes continue
// the local path (which serves, looks the name up or answers 404).
func (rt *router) clusterRedirect(rw *netio.ResponseWriter, req *netio.Request, name string) bool {
	cn := rt.cluster
	if cn == nil || cn.Alone() {
		return false
	}
	s := cluster.Stream{Name: name}
	// The registry runs only configured streams: running implies startable.
	if _, ok := rt.streams.Get(name); ok {
		s.Running, s.Startable = true, true
	} else if _, ok := rt.streams.Configured(name); ok {
		s.Startable = true
	}
	if c, ok := rt.store.current().streamByName(name); ok && c.ClusterIngest != nil {
		s.Ingest, s.CaptureAt = true, c.ClusterIngest.CaptureAt
	}
	d := cn.Decide(cluster.Request{Stream: s, Redirected: redirectedByPeer(req.RawQuery)})
	if d.Verdict != cluster.Redirect {
		return false
	}
	rt.redirects.Add(1)
	rw.SetHeader("Cache-Control", "no-cache")
	rw.SetHeader("Access-Control-Allow-Origin", "*")
	rw.Redirect(http.StatusFound, redirectURL(req, d.Public))
	return true
}

// redirectedByPeer says whether the query carries the redirect mark.
func redirectedByPeer(rawQuery string) bool {
	for q := rawQuery; q != ""; {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if k, _, _ := strings.Cut(kv, "="); k == cluster.RedirectParam {
			return true
		}
	}
	return false
}

// redirectURL is the request's URL on host, over the scheme the viewer used
// (https when a TLS terminator in front says so), marked as redirected.
func redirectURL(req *netio.Request, host string) string {
	scheme := "http"
	if strings.EqualFold(req.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	query := cluster.RedirectParam + "=1"
	if req.RawQuery != "" {
		query = req.RawQuery + "&" + query
	}
	return scheme + "://" + host + req.Path + "?" + query
}

// serveClusterTable answers a peer's poll for this server's stream table.
func (rt *router) serveClusterTable(rw *netio.ResponseWriter, req *netio.Request) {
	cn := rt.cluster
	if cn == nil {
		rw.Error(http.StatusNotFound, "cluster_off", "this server has no cluster_key: peering is off")
		return
	}
	if req.Method != http.MethodGet {
		rw.SetHeader("Allow", "GET")
		rw.Error(http.StatusMethodNotAllowed, "method_not_allowed", "method "+req.Method+" is not allowed here")
		return
	}
	resp := cn.ServeTable(req.Header.Get("Authorization"), req.Header.Get("If-None-Match"), time.Now())
	for _, h := range resp.Header {
		rw.SetHeader(h[0], h[1])
	}
	ct := ""
	if len(resp.Body) > 0 {
		ct = "application/json"
	}
	rw.Write(resp.Status, ct, resp.Body)
}

// peerList is the answer of GET /cluster/peers.
type peerList struct {
	Peers []cluster.PeerState `json:"peers"`
}

// listPeers answers GET /cluster/peers.
func (c *apiCall) listPeers() {
	list := peerList{Peers: []cluster.PeerState{}}
	if cn := c.rt.cluster; cn != nil {
		list.Peers = cn.Peers()
	}
	c.reply(http.StatusOK, list)
}

// newClusterNode makes the cluster node. Without a cluster_key or peers it
// is a server alone: it polls nobody, serves what it has and owns every
// cluster_ingest stream; a reload that adds peers brings it into the group.
func newClusterNode(cfg *config.Config, streams *engine.Registry, rt *router, log *slog.Logger) *cluster.Node {
	return cluster.New(clusterConfig(cfg), clusterLocal{streams: streams, router: rt}, log.With("component", "cluster"))
}
