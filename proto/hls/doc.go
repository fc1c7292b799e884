// Package hls is HLS live playlists and segments cut from the shared TS
// chunks: a segment is a list of the stream's mpegts chunks (no bytes are
// copied), and the media playlist is rebuilt once per new segment, not per
// request. A response holds what it writes (AcquirePlaylist, AcquireSegment)
// until the network layer is done with the bytes, since chunk memory is
// recycled once nothing refers to it.
package hls
