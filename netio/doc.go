// Package netio is the event-loop network layer on gnet/v2: listeners,
// connection state, HTTP/1.1 request framing, write queues of shared
// buffers, writev, back-pressure and slow-client policy, connection limits
// and timeouts. It knows no codecs and no stream names: a Handler routes
// requests, and long-lived bodies come from a Feed of shared, immutable
// buffers.
//
// Threading: every connection belongs to one gnet event loop, and all its
// state is touched only there. Other goroutines reach a connection in two
// ways only: completing a held ResponseWriter and waking a Feed; both queue
// work onto the connection's loop.
//
// Buffers handed to Write go to the kernel with writev straight from the
// caller's memory; gnet copies only the tail the socket did not take, so
// once Write returns the connection no longer refers to them. A streaming
// response applies back-pressure instead: it writes the feed's buffers the
// same way, keeps the unsent part by reference (no copy) while the socket
// is full, and asks the feed for more only once the socket took it all
// (see Feed). WriteShared does the same for one complete body (an HLS
// segment): the unsent part is kept by reference until the socket took it,
// later pipelined requests wait meanwhile, and the caller's release runs
// once the body is in the kernel or the connection closed. File bodies
// (SendFile) go from the page cache by sendfile on the loop, only while
// gnet holds no queued output of the connection. A full socket is watched
// by the server's write poller (an epoll set of its own, as gnet has no
// writable callback), which wakes the connection when it takes more.
//
// Connection limits: MaxConns in all, MaxConnsPerIP per client address;
// over either, a connection is answered 503 at accept and closed.
package netio
