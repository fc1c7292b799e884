// Package dvr will own the archive: aligned O_DIRECT writes into preallocated
// files, the time index, retention by depth and disk usage, episode protection
// and archive readers whose bytes go to viewers by sendfile. It must never block
// the live path. Nothing is implemented yet.
package dvr
