// Package player holds the browser player page and the script it needs,
// served from the binary.
package player

import _ "embed"

// EmbedHTML is the page served at /NAME/embed.html. It loads the playlist
// relative to itself, so one immutable page serves every stream.
//
//go:embed embed.html
var EmbedHTML []byte

// HLSJS is hls.js (third_party/hlsjs, Apache-2.0), used where the browser
// has no native HLS.
//
//go:embed third_party/hlsjs/hls.light.min.js
var HLSJS []byte

// HLSJSPath is where the page loads hls.js from.
const HLSJSPath = "/player/hls.light.min.js"
