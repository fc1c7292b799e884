package appliance

import (
	"net/http"
	"strings"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/netio"
)

// apiPrefix is where Flussonic's API v3 lives.
const apiPrefix = "/streamer/api/v3/"

// streamView is a stream in API v3 shape: its config and, when it runs, stats.
type streamView struct {
	engine.StreamConfig
	NamedBy string       `json:"named_by"`
	Stats   *streamStats `json:"stats"`
}

type streamStats struct {
	Alive          bool   `json:"alive"`
	Running        bool   `json:"running"`
	Input          string `json:"input,omitempty"`
	InputIndex     int    `json:"input_index"`
	InputBitrate   uint64 `json:"input_bitrate"`
	BytesIn        uint64 `json:"bytes_in"`
	LastFrameAgeMs int64  `json:"last_frame_age,omitempty"`
	LifetimeMs     int64  `json:"lifetime"`
	OnlineClients  int64  `json:"online_clients"`
	SourceRestarts uint64 `json:"source_restarts"`
	Resyncs        uint64 `json:"resyncs"`
	DroppedClients uint64 `json:"dropped_clients"`
}

// serveAPI answers the read-only part of API v3 that exists so far.
func (rt *router) serveAPI(rw *netio.ResponseWriter, req *netio.Request) {
	rest := strings.TrimPrefix(req.Path, apiPrefix)
	switch {
	case rest == "streams":
		var list []streamView
		for _, c := range rt.streams.ConfiguredAll() {
			list = append(list, rt.view(c))
		}
		rw.WriteJSON(http.StatusOK, map[string]any{"streams": list})
	case strings.HasPrefix(rest, "streams/"):
		name := strings.TrimPrefix(rest, "streams/")
		c, ok := rt.streams.Configured(name)
		if !ok {
			notFound(rw, name)
			return
		}
		rw.WriteJSON(http.StatusOK, rt.view(c))
	default:
		rw.Error(http.StatusNotFound, "not_found", "no such API resource: "+req.Path)
	}
}

func (rt *router) view(c engine.StreamConfig) streamView {
	v := streamView{StreamConfig: c, NamedBy: "config", Stats: &streamStats{InputIndex: -1}}
	s, ok := rt.streams.Get(c.Name)
	if !ok {
		return v
	}
	st := s.Status()
	hub := outputsOf(s).ts.Stats()
	*v.Stats = streamStats{
		Alive:          st.Alive,
		Running:        true,
		Input:          st.Input,
		InputIndex:     st.InputIndex,
		InputBitrate:   st.InputBitrate,
		BytesIn:        st.BytesIn,
		LastFrameAgeMs: st.LastFrameAge.Milliseconds(),
		LifetimeMs:     st.Lifetime.Milliseconds(),
		OnlineClients:  st.Viewers,
		SourceRestarts: st.Restarts,
		Resyncs:        hub.Resyncs,
		DroppedClients: hub.Dropped,
	}
	return v
}
