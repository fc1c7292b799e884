// Package e2e holds the end-to-end tests: they start the built livedge
// binary (LIVEDGE_BIN, else built once by the tests) and check it with real
// clients, ffmpeg and ffprobe, on 127.0.0.1 only.
package e2e
