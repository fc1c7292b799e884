// Package load is the load generator behind `livedge load`: it plays one
// live stream with many simulated viewers from a single process and reports
// whether the server delivers it to all of them in real time. Operators use
// it to size boxes; it is meant to run on one core next to the server under
// test, so a viewer costs a goroutine, a socket and a few hundred bytes.
//
// # Usage
//
//	livedge load [-c N] [-ramp D] [-d D] [-timeout D] [-source IP] [-json] URL
//
//	-c N        viewers (default 1, at most 1,000,000)
//	-ramp D     spread the viewers' starts evenly over D (default 0: all at once)
//	-d D        run for D (default 30s), then close every viewer and summarize
//	-timeout D  connect timeout, time allowed from request to the first
//	            response byte, and idle-read timeout (default 10s)
//	-source IP  local address to connect from; 127.0.0.x addresses give each
//	            their own ephemeral port range when N is large
//	-json       print the summary as one JSON object on stdout; progress
//	            lines then go to stderr
//
// Flags may also follow the URL. Only http:// URLs are supported. Each
// viewer holds one TCP connection, so the soft RLIMIT_NOFILE is raised to the
// hard limit at start and the run refuses to start (exit 2) when N+64
// descriptors do not fit, saying how many are needed.
//
// # Viewers
//
// A URL whose path ends in ".m3u8" is played as HLS. The viewer fetches the
// playlist (a master playlist is followed to its first variant), starts three
// segments behind the live edge like ffmpeg and hls.js, reloads the playlist
// every target duration/2 (jittered by ±25 %) and fetches each new segment
// once, in order, on one keep-alive connection.
//
// Any other URL is read as an HTTP MPEG-TS stream: one long response read
// continuously. Its media clock is the PCR of the first PID carrying one
// (else the PTS of the first video PES PID, else of an audio one), followed
// across the 33-bit wrap; a step over 10 s (or back over 2 s) is a
// discontinuity, not progress.
//
// Redirects (301, 302, 303, 307, 308) are followed, up to 5, as players do
// for cluster redirects. After an error a viewer waits 1–1.5 s and starts a
// new session (a new connection, playlist and media clock).
//
// # Stalls
//
// A viewer has stalled when its media arrives later than real time:
//
//   - HLS: the media received is the sum of the EXTINF durations of the
//     segments fetched completely. Its clock starts when the first segment
//     has arrived and counts that segment's duration, so the segments listed
//     at the start (the three-segment initial buffer) are lead, not lateness.
//     The viewer is late by (wall time since the first segment) − (media
//     received); it stalls when that exceeds one segment duration (the
//     longest EXTINF seen in the session).
//   - HTTP MPEG-TS: the media received is how far the stream's clock (PCR or
//     PTS, see above) advanced since the first timestamped packet; the
//     viewer is late by (wall time since that packet) − (media received) and
//     stalls when that exceeds 2 s. An initial burst (a server sending the
//     last GOP at once) is lead, as for HLS.
//
// Lateness is checked on every arrival and by the reporter once per second,
// so a viewer stuck waiting for data is caught too. Each stall episode is
// counted once: while stalled, the next media to arrive ends the episode and
// restarts that viewer's clock from that moment (a player resumes after
// rebuffering), so media that keeps arriving late stalls again and counts
// again. "stalls" is the number of episodes, "stalled_viewers" the number of
// viewers with at least one.
//
// # Errors
//
// Errors are counted by class, and the first 5 of each class are logged to
// stderr:
//
//	connect   the TCP connection failed or timed out
//	status    the playlist or stream answered other than 200 (after redirects)
//	segment   an HLS segment answered other than 200 (for example 404); the
//	          viewer skips it and goes on
//	closed    the server closed or reset a TS stream or a response early, or
//	          the HLS playlist ended (EXT-X-ENDLIST)
//	timeout   no response, first media byte, or data within -timeout
//	protocol  malformed HTTP or m3u8, or a TS stream without PCR/PTS
//	other     local socket errors
//
// # Output
//
// Once per second a progress line, on stdout (stderr with -json):
//
//	t=12s up=9800/10000 rx=4.213Gbit/s stalls=0 errors=0 ttfb_p50=3.1ms ttfb_p99=48.0ms
//
// t is the time since the start; up counts viewers whose current session
// has received media, out of -c; rx is the rate received during that second
// (all bytes read from the sockets, headers included, in 10^9 bit/s);
// stalls and errors are totals so far; ttfb_p50 and ttfb_p99 are over the
// sessions that got their first media byte during that second ("-" when
// none). Time to first byte runs from the start of the connection (before
// connect) to the first body byte of a TS stream or the first byte of the
// first HLS segment.
//
// At the end, the summary, as text:
//
//	summary url=http://127.0.0.1:8080/cam1/index.m3u8 mode=hls duration=60.0s
//	viewers target=10000 started=10000 up_peak=10000 up_end=10000 no_media=0 sessions=10000
//	received bytes=31415926535 avg=4.189Gbit/s peak=4.401Gbit/s
//	stalls events=0 viewers=0 at_end=0
//	errors total=0 connect=0 status=0 segment=0 closed=0 timeout=0 protocol=0 other=0
//	ttfb samples=10000 p50=3.1ms p90=9.8ms p99=48.0ms max=120.3ms
//	result=ok
//
// or, with -json, one object with the fields of [Summary] (durations in
// seconds, latencies in milliseconds, rates in Gbit/s):
//
//	{"url":"...","mode":"hls","duration_s":60.0,"viewers_target":10000,
//	 "viewers_started":10000,"viewers_up_peak":10000,"viewers_up_end":10000,
//	 "viewers_no_media":0,"sessions":10000,"bytes":31415926535,"gbps_avg":4.189,"gbps_peak":4.401,
//	 "stalls":0,"stalled_viewers":0,"stalled_at_end":0,"errors":0,
//	 "errors_by_kind":{"connect":0,"status":0,"segment":0,"closed":0,
//	 "timeout":0,"protocol":0,"other":0},
//	 "ttfb_ms":{"count":10000,"p50":3.1,"p90":9.8,"p99":48,"max":120.3},"ok":true}
//
// Latency quantiles come from a log-linear histogram and are within 3 % of
// the true value. Field names and line formats are stable; new fields may be
// added at the end of a line or object.
//
// up_peak is the most viewers up at one sweep, up_end those up at the end,
// no_media the viewers started that never received media, sessions the
// sessions that received media (more than the viewers when some
// reconnected), stalls at_end the viewers in a stall episode at the end.
//
// # Exit status
//
// 0 when all -c viewers started and received media, with no stall and no
// error; 1 otherwise; 2 for usage errors (including more viewers than the
// open-file limit allows). Keep -ramp well below -d: a viewer started just
// before the end has not received media yet and fails the run. SIGINT or
// SIGTERM end the run early with the summary.
//
// # Efficiency
//
// Viewers read through the raw descriptor (syscall.RawConn) into buffers
// borrowed from a pool only while bytes are being processed, so an idle or
// waiting viewer holds no buffer; a TS viewer raises SO_RCVLOWAT to 16 KiB so
// it wakes per 16 KiB rather than per server write. HTTP is a minimal,
// bounded HTTP/1.1 client (Content-Length, chunked, close-delimited,
// keep-alive), not net/http.
package load
