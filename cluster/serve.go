package cluster

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// TablePath is where a server answers its peers' polls (GET, with
// Authorization: Cluster ... and If-None-Match).
const TablePath = "/streamer/api/v3/cluster/table"

// TableResponse is the answer to a peer's poll, for the daemon to write.
//
//   - 200: Body is the table (JSON, see table.go), Header has ETag and
//     LoadHeader.
//   - 304: If-None-Match named the current table: no Body; Header has ETag
//     and LoadHeader, so the load stays fresh.
//   - 403: the Authorization is missing, wrong, or its timestamp is over
//     MaxClockSkew off (or peering is off here): Body is
//     {"errors":[{"status":"403","title":"...","code":"cluster_key"}]}.
//   - 503: the node has not built its table yet (before Start): Body is the
//     same error shape with code "cluster_starting".
//
// A non-empty Body is JSON (the daemon sets Content-Type); it is shared and
// must not be modified.
type TableResponse struct {
	Status int
	Header [][2]string
	Body   []byte
}

// ownTable is this server's table as peers read it; immutable.
type ownTable struct {
	self, public string
	// raw is what Local.Streams returned, to skip rebuilding an unchanged
	// table.
	raw  []LocalStream
	body []byte
	etag string
}

// ServeTable answers a peer's poll. It runs on the event loop: it verifies
// the Authorization, reads the cached table and Local's Load, and allocates
// only the few small values of the answer.
func (n *Node) ServeTable(authorization, ifNoneMatch string, now time.Time) TableResponse {
	s := n.snap.Load()
	if err := Verify(s.key, authorization, now); err != nil {
		return errorResponse(http.StatusForbidden, "cluster_key", err.Error())
	}
	t := n.own.Load()
	if t == nil {
		return errorResponse(http.StatusServiceUnavailable, "cluster_starting", "the cluster table is not built yet")
	}
	load := formatLoad(n.local.Load(), s.maxBitrateKbit)
	if etagMatches(ifNoneMatch, t.etag) {
		return TableResponse{Status: http.StatusNotModified, Header: [][2]string{{"ETag", t.etag}, {LoadHeader, load}}}
	}
	return TableResponse{
		Status: http.StatusOK,
		Header: [][2]string{{"ETag", t.etag}, {LoadHeader, load}, {"Cache-Control", "no-store"}},
		Body:   t.body,
	}
}

type apiError struct {
	Status string `json:"status"`
	Title  string `json:"title"`
	Code   string `json:"code"`
}

type apiErrors struct {
	Errors []apiError `json:"errors"`
}

func errorResponse(status int, code, title string) TableResponse {
	body, err := json.Marshal(apiErrors{Errors: []apiError{{Status: strconv.Itoa(status), Title: title, Code: code}}})
	if err != nil {
		body = nil
	}
	return TableResponse{Status: status, Body: body}
}

// refresh rebuilds this server's table from Local when it changed, and
// reads this server's load for Decide. It runs off the event loop.
func (n *Node) refresh() {
	load := n.local.Load()
	n.ownLoad.Store(&load)
	streams := n.local.Streams()
	s := n.snap.Load()
	prev := n.own.Load()
	if prev != nil && prev.self == s.self && prev.public == s.public && slices.Equal(prev.raw, streams) {
		return
	}
	body, err := encodeTable(s.self, s.public, normalizeStreams(streams))
	if err != nil {
		n.log.Error("cluster table not rebuilt", "error", err)
		return
	}
	n.own.Store(&ownTable{self: s.self, public: s.public, raw: slices.Clone(streams), body: body, etag: tableETag(body)})
}

func (n *Node) refreshLoop(ctx context.Context, period time.Duration) {
	defer n.work.Done()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.refresh()
		}
	}
}
