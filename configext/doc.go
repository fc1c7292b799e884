// Package configext will own the config_external client: polling the
// configuration backend, diffing, chunked name queries, separate endpoints,
// dynamic names and episodes. It hands a desired config to the engine's
// reconciler and never starts streams itself. Nothing is implemented yet.
package configext
