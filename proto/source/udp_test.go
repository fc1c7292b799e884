package source

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/livedge/livedge/engine"
	"github.com/livedge/livedge/proto/internal/tsclip"
)

// receiveFromFFmpeg runs a UDP source and has ffmpeg send a clip to it
// until H.264 and AAC frames arrive (the source binds asynchronously, so
// the first sends may find no listener).
func receiveFromFFmpeg(t *testing.T, port int, group *[4]byte, input, output string) {
	clip := testClip(t, "1")
	src, err := Open(engine.InputConfig{URL: input})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordSink{}
	stop := runSource(t, src, sink)
	waitBound(port)
	if group != nil {
		waitJoined(*group)
	}
	got := func() bool { c := sink.counts(); return c.video >= 20 && c.audio >= 20 }
	for attempt := 0; attempt < 10 && !got(); attempt++ {
		sendFFmpeg(t, clip, output)
		waitFor(time.Second, got)
	}
	c := sink.counts()
	if !got() {
		t.Fatalf("received %d video and %d audio frames", c.video, c.audio)
	}
	if len(c.codecs) != 2 || c.codecs[0] != engine.CodecH264 || c.codecs[1] != engine.CodecAAC || !c.firstKey {
		t.Errorf("tracks %v, first video frame key %v", c.codecs, c.firstKey)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel: %v", err)
	}
}

func TestUDPUnicast(t *testing.T) {
	port := freeUDPPort(t)
	receiveFromFFmpeg(t, port, nil, fmt.Sprintf("udp://127.0.0.1:%d", port),
		fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port))
}

func TestUDPMulticast(t *testing.T) {
	port := freeUDPPort(t)
	receiveFromFFmpeg(t, port, &[4]byte{239, 1, 1, 1}, fmt.Sprintf("udp://127.0.0.1@239.1.1.1:%d", port),
		fmt.Sprintf("udp://239.1.1.1:%d?localaddr=127.0.0.1&ttl=0&pkt_size=1316", port))
}

// TestUDPJunkAndRTP sends TS datagrams, some RTP-wrapped, with junk
// datagrams in between: the source keeps receiving.
func TestUDPJunkAndRTP(t *testing.T) {
	port := freeUDPPort(t)
	src, err := Open(engine.InputConfig{URL: fmt.Sprintf("udp://127.0.0.1:%d", port)})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordSink{}
	stop := runSource(t, src, sink)
	waitBound(port)
	conn, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	ts := tsclip.Synth(50, 0, 1)
	rng := rand.New(rand.NewPCG(1, 2))
	send := func() {
		for off, seq := 0, 0; off < len(ts); off, seq = off+1316, seq+1 {
			d := ts[off:min(off+1316, len(ts))]
			if seq%2 == 1 {
				d = append([]byte{0x80, 33, byte(seq >> 8), byte(seq), 0, 0, 0, 0, 1, 2, 3, 4}, d...)
			}
			if seq%5 == 0 {
				junk := make([]byte, 1+rng.IntN(1400))
				for i := range junk {
					junk[i] = byte(rng.IntN(256))
				}
				conn.Write(junk)
				conn.Write(nil) // an empty datagram
			}
			conn.Write(d)
			if seq%50 == 49 {
				time.Sleep(time.Millisecond) // stay within the receive buffer
			}
		}
	}
	// The source binds asynchronously: send until frames arrive.
	got := func() bool { return sink.counts().video > 0 }
	for attempt := 0; attempt < 20 && !got(); attempt++ {
		send()
		waitFor(500*time.Millisecond, got)
	}
	before := sink.counts()
	send()
	// The clip starts again at DTS 0: a new timeline, and again 50 frames
	// from its first keyframe, the last one held until the next PES starts.
	if !waitFor(5*time.Second, func() bool { return sink.counts().video >= before.video+49 }) {
		t.Fatalf("video frames %d then %d, want 49 more", before.video, sink.counts().video)
	}
	if c := sink.counts(); c.audio == 0 {
		t.Error("no audio frames")
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel: %v", err)
	}
}

func TestUDPIdleGuard(t *testing.T) {
	port := freeUDPPort(t)
	src, err := Open(engine.InputConfig{URL: fmt.Sprintf("udp://127.0.0.1:%d", port), SourceTimeout: 1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- src.Run(context.Background(), &recordSink{}) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no datagram") {
			t.Errorf("Run: %v, want a no datagram error", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not give up without datagrams")
	}
}

func TestUDPBindError(t *testing.T) {
	// 127.0.0.2 is local, 192.0.2.1 (TEST-NET-1) is not: binding it fails.
	src, err := Open(engine.InputConfig{URL: "udp://192.0.2.1:5000"})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Run(context.Background(), &recordSink{}); err == nil || !strings.Contains(err.Error(), "192.0.2.1") {
		t.Errorf("Run: %v, want a bind error naming the address", err)
	}
}
