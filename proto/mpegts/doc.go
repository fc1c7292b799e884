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
//
// Chunk bytes live in slabs of a Pool preallocated at start and shared by
// all streams. Chunks are refcounted (the ring, HLS segments and each
// reader that is writing them hold references, taken with Acquire or
// Retain) and recycled with their slab space when the last one goes, so
// publishing allocates nothing in steady state; an exhausted pool falls
// back to the heap, counted, and never makes the writer wait.
package mpegts
