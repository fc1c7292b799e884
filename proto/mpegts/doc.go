// Package mpegts is MPEG-TS: the demuxer that turns bytes into frames and the
// muxer/chunker that turns a stream's frames into TS bytes once for every
// viewer.
//
// The output side has two layers. Muxer turns frames into 188-byte TS packets
// (PAT/PMT, PES with PTS/DTS, PCR, continuity counters) appending into a
// caller's buffer without allocating. Chunker is the stream's one
// engine.Packager for TS: it groups the muxed bytes into immutable chunks cut
// at keyframes, publishes them into a ring that every HTTP-TS viewer reads
// with its own cursor, and hands each chunk to subscribers such as the HLS
// segmenter, so the bytes are produced once however many viewers there are.
package mpegts
