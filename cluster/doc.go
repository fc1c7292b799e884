// Package cluster owns peering: a group of servers sharing a cluster_key
// that poll each other's stream tables and load, and send each viewer to
// the server that has the stream.
//
// What it owns:
//   - cluster_key auth between peers (Sign, Verify);
//   - the wire format of a server's stream table and of its load header,
//     and the polling of every peer (one goroutine per peer, If-None-Match so
//     an unchanged table costs a 304), with the peers' states (Peers);
//   - the redirect decision (Decide): protocol-free, so HLS, HTTP-TS and
//     embed.html today, RTMP and RTSP later, only format its outcome;
//   - load balancing between the servers that have a stream (Pick,
//     Overloaded), on perf.Load whatever produces it;
//   - cluster_ingest ownership (IngestOwner, Owns): a pure function of the
//     stream, its capture_at and the live servers, which every server
//     computes the same way.
//
// It reads this server through the Local interface and never reaches into
// the engine's internals. Decide and ServeTable run on the network event
// loop: they read immutable snapshots published atomically by the cluster's
// goroutines and never block.
package cluster
