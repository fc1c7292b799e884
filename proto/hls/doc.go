// Package hls is HLS live playlists and segments cut from the shared TS
// chunks: a segment is a list of the stream's mpegts chunks (no bytes are
// copied), and the media playlist is rebuilt once per new segment, not per
// request.
package hls
