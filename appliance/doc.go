// Package appliance is the daemon: it loads the config, wires sources,
// packagers and the network layer together, routes viewer requests to
// streams, and handles reload and shutdown. Business logic lives in the
// packages it wires; this package only connects them.
package appliance
