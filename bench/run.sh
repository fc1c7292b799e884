#!/usr/bin/env bash
# `make bench`: livedge's serving cost and capacity, next to nginx and to the
# loopback limit, in one run on one machine with at least 2 cores. The load
# runs on core 0 and the server under test on core 1 (livedge with
# GOMAXPROCS=1), so each figure is "one server core":
#
#   (d) iperf3 loopback throughput core 0 -> core 1: the ceiling;
#   (a) server CPU seconds per GB served (wrk -t1 -c100) for a 1.25 MB HLS
#       segment and a ~64 KiB one: livedge from memory vs nginx (sendfile)
#       serving a file with the same bytes;
#   (b) the most HTTP-TS viewers livedge holds with zero stalls and errors
#       (`livedge load`) at 1 Mbit/s and at 232 kbit/s;
#   (c) livedge RSS per active (HTTP-TS) and per idle (keep-alive) viewer.
#
# Missing tools (nginx wrk iperf3) are installed with apt-get (root); the
# nginx package's service is kept from starting and disabled, and the bench
# runs its own nginx (bench/nginx.conf) in the foreground on 127.0.0.1.
# Everything listens on 127.0.0.1 on free ports; everything started is
# stopped on exit. Results go to a temp dir (printed at the end), never into
# the repository.
#
# Environment (durations in seconds):
#   BENCH_QUICK=1          smoke run: small viewer counts, short runs
#   BENCH_WRK_SECONDS      (a) each wrk run                    [10; quick 3]
#   BENCH_RAMP_SECONDS     (b)(c) livedge load -ramp            [15; quick 3]
#   BENCH_LOAD_SECONDS     (b) livedge load -d per step         [30; quick 12]
#   BENCH_STEPS_1M         (b) viewer counts at 1 Mbit/s        [1000 2000 4000 6000 8000 10000 14000 max]
#   BENCH_STEPS_232K       (b) viewer counts at 232 kbit/s      [2000 4000 8000 12000 14000 16000 max]
#                          ("max": the most the open-file limit allows)
#   BENCH_RSS_VIEWERS      (c) viewers                          [10000; quick 1000]
#   BENCH_IPERF_SECONDS    (d)                                  [10; quick 3]
#   BENCH_RETRY=0          (b) a failed step is final (default: run it once more)
#   BENCH_PERF=1           also profile livedge with `perf` during an extra (a) run
#   BENCH_CLIENT_CPU, BENCH_SERVER_CPU   the two cores           [0, 1]
#   LIVEDGE_BIN            the binary                           [bin/livedge]
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BIN=${LIVEDGE_BIN:-$ROOT/bin/livedge}
GO=${GO:-go}
QUICK=${BENCH_QUICK:-0}
CCPU=${BENCH_CLIENT_CPU:-0}
SCPU=${BENCH_SERVER_CPU:-1}

if [ "$QUICK" = 1 ]; then
	WRK_S=${BENCH_WRK_SECONDS:-3}
	RAMP_S=${BENCH_RAMP_SECONDS:-3}
	LOAD_S=${BENCH_LOAD_SECONDS:-12}
	STEPS_1M=${BENCH_STEPS_1M:-200 500}
	STEPS_232K=${BENCH_STEPS_232K:-500 1000}
	RSS_N=${BENCH_RSS_VIEWERS:-1000}
	IPERF_S=${BENCH_IPERF_SECONDS:-3}
else
	WRK_S=${BENCH_WRK_SECONDS:-10}
	RAMP_S=${BENCH_RAMP_SECONDS:-15}
	LOAD_S=${BENCH_LOAD_SECONDS:-30}
	STEPS_1M=${BENCH_STEPS_1M:-1000 2000 4000 6000 8000 10000 14000 max}
	STEPS_232K=${BENCH_STEPS_232K:-2000 4000 8000 12000 14000 16000 max}
	RSS_N=${BENCH_RSS_VIEWERS:-10000}
	IPERF_S=${BENCH_IPERF_SECONDS:-10}
fi
RETRY=${BENCH_RETRY:-1}

# The streams. The ~64 KiB segment: testsrc at 171 kbit/s, 128x96, 2 s
# segments: ~65.0 kB, steady within a TS packet or two (at 320x176 the
# keyframe alone, which grows with the minute bar, sets the floor at
# 60-69 kB).
STREAM_1250='input testsrc://?bitrate=5M&gop=2&size=640x360; segment_count 100; static;'
STREAM_64='input testsrc://?bitrate=171k&gop=2&size=128x96; segment_duration 2; segment_count 100; static;'
STREAM_1M='input testsrc://?bitrate=1M&gop=2&size=640x360; static;'
STREAM_232K='input testsrc://?bitrate=232k&gop=2&size=320x176; static;'

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	log "FAILED: $*"
	exit 1
}

# ---------------------------------------------------------------- processes

PIDS=()
PERF_FILES=""
POLICY_RC=""
WORK=""

# stop_pid ends one process this script started: TERM, then KILL after 5 s.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	forget_pid "$pid"
}

# forget_pid PID: PID has ended (waited for); cleanup need not stop it.
forget_pid() {
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
	if [ -n "$POLICY_RC" ]; then rm -f "$POLICY_RC"; fi
	if [ -n "$WORK" ] && [ $rc -ne 0 ]; then log "logs kept in $WORK"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools

NGINX=""

install_tools() {
	local missing=()
	NGINX=$(command -v nginx || true)
	if [ -z "$NGINX" ] && [ -x /usr/sbin/nginx ]; then NGINX=/usr/sbin/nginx; fi
	[ -n "$NGINX" ] || missing+=(nginx)
	command -v wrk >/dev/null || missing+=(wrk)
	command -v iperf3 >/dev/null || missing+=(iperf3)
	for t in taskset awk cmp; do command -v $t >/dev/null || die "$t is missing (util-linux, mawk, diffutils)"; done
	[ ${#missing[@]} -eq 0 ] && return
	[ "$(id -u)" = 0 ] || die "missing ${missing[*]}: run as root to install them, or install them"
	command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get"
	log "installing ${missing[*]}"
	# The bench runs its own nginx: keep the package's service from starting.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		POLICY_RC=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\n# bench/run.sh: no service starts while it installs tools\nexit 101\n' >"$POLICY_RC"
		chmod 755 "$POLICY_RC"
	fi
	apt-get update -q || die "apt-get update"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" || die "apt-get install ${missing[*]}"
	if [ -n "$POLICY_RC" ]; then
		rm -f "$POLICY_RC"
		POLICY_RC=""
	fi
	case " ${missing[*]} " in *" nginx "*)
		# Nor at boot.
		if [ -d /run/systemd/system ]; then
			systemctl disable --now nginx >/dev/null 2>&1 || true
		elif command -v update-rc.d >/dev/null; then
			update-rc.d nginx disable >/dev/null 2>&1 || true
		fi
		;;
	esac
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	[ -x "$NGINX" ] || die "nginx not found after install"
	command -v wrk >/dev/null || die "wrk not found after install"
	command -v iperf3 >/dev/null || die "iperf3 not found after install"
}

# ---------------------------------------------------------------- helpers

CLK_TCK=$(getconf CLK_TCK)

# ticks PID...: utime+stime of the processes, in clock ticks (all threads);
# fails when one is gone.
ticks() {
	local sum=0 pid line f
	for pid in "$@"; do
		read -r line 2>/dev/null <"/proc/$pid/stat" || return 1
		line=${line##*) } # fields from 3 (state) on; comm may hold spaces
		read -ra f <<<"$line"
		sum=$((sum + f[11] + f[12]))
	done
	echo "$sum"
}

# children PID: its direct children (the nginx worker).
children() {
	local d line f
	for d in /proc/[0-9]*; do
		read -r line <"$d/stat" 2>/dev/null || continue
		line=${line##*) }
		read -ra f <<<"$line"
		[ "${f[1]}" = "$1" ] && echo "${d#/proc/}"
	done
	return 0
}

# core_jiffies CPU: "busy total" jiffies of one core from /proc/stat.
core_jiffies() {
	awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
# busy_pct "BUSY0 TOTAL0" "BUSY1 TOTAL1": the core's busy % in between.
busy_pct() {
	local b0 t0 b1 t1
	read -r b0 t0 <<<"$1"
	read -r b1 t1 <<<"$2"
	calc_fmt '%.0f' "100 * ($b1 - $b0) / ($t1 - $t0 + ($t1 == $t0))"
}

# sys_ticks PID: stime of the process, in clock ticks.
sys_ticks() {
	local line f
	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	line=${line##*) }
	read -ra f <<<"$line"
	echo "${f[12]}"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
now() { date +%s.%N; }
# calc EXPR: floating point arithmetic; calc_fmt FORMAT EXPR.
calc() { awk "BEGIN { print $1 }"; }
calc_fmt() { awk "BEGIN { printf \"$1\", $2 }"; }
freeport() { "$TOOL" freeport; }

# ---------------------------------------------------------------- livedge

PER_IP_LINE=""
LIVEDGE_PID=""
LIVEDGE_PORT=""

# livedge_conf FILE PORT NAME STREAM_BODY...: a config with these streams.
livedge_conf() {
	local file=$1 port=$2
	shift 2
	{
		echo "http 127.0.0.1:$port;"
		if [ -n "$PER_IP_LINE" ]; then echo "$PER_IP_LINE"; fi
		while [ $# -ge 2 ]; do
			echo "stream $1 { $2 }"
			shift 2
		done
	} >"$file"
	"$BIN" -t -c "$file" >/dev/null || die "livedge -t -c $file"
}

# start_livedge TAG NAME STREAM_BODY...: livedge on core SCPU with
# GOMAXPROCS=1, serving these streams; waits until the first one has a
# segment.
start_livedge() {
	local tag=$1
	shift
	LIVEDGE_PORT=$(freeport)
	livedge_conf "$WORK/$tag.conf" "$LIVEDGE_PORT" "$@"
	GOMAXPROCS=1 taskset -c "$SCPU" "$BIN" -c "$WORK/$tag.conf" >"$WORK/$tag.log" 2>&1 &
	LIVEDGE_PID=$!
	PIDS+=("$LIVEDGE_PID")
	local name
	while [ $# -ge 2 ]; do
		name=$1
		shift 2
		"$TOOL" wait "http://127.0.0.1:$LIVEDGE_PORT/$name/index.m3u8" 30s .ts ||
			die "livedge ($WORK/$tag.log) has no segment of $name"
	done
	kill -0 "$LIVEDGE_PID" 2>/dev/null || die "livedge exited, see $WORK/$tag.log"
}

stop_livedge() {
	stop_pid "$LIVEDGE_PID"
	LIVEDGE_PID=""
}

# newest_segment NAME: the URL of the newest segment in NAME's playlist.
newest_segment() {
	local base="http://127.0.0.1:$LIVEDGE_PORT/$1" seg
	seg=$("$TOOL" get "$base/index.m3u8" - | grep -v '^#' | grep -v '^$' | tail -n 1) ||
		die "no playlist for $1"
	case $seg in
	http://*) echo "$seg" ;;
	/*) echo "http://127.0.0.1:$LIVEDGE_PORT$seg" ;;
	*) echo "$base/$seg" ;;
	esac
}

# wire_kbps NAME: the stream's bitrate on the wire (TS bytes of its newest
# segment over its EXTINF), in kbit/s.
wire_kbps() {
	local pl dur url
	pl=$("$TOOL" get "http://127.0.0.1:$LIVEDGE_PORT/$1/index.m3u8" -) || die "playlist of $1"
	dur=$(printf '%s\n' "$pl" | awk -F'[:,]' '/^#EXTINF:/ { d = $2 } END { print d }')
	url=$(newest_segment "$1")
	"$TOOL" get "$url" "$WORK/wire.ts" || die "get $url"
	calc_fmt '%.0f' "$(stat -c %s "$WORK/wire.ts") * 8 / $dur / 1000"
}

# ---------------------------------------------------------------- (d) iperf3

IPERF_GBPS=""

bench_iperf() {
	log "(d) iperf3 loopback, server core $SCPU, client core $CCPU, ${IPERF_S}s"
	local port pid try
	port=$(freeport)
	taskset -c "$SCPU" iperf3 -s -1 -B 127.0.0.1 -p "$port" >"$WORK/iperf3-server.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for try in 1 2 3 4 5 6 7 8 9 10; do
		sleep 0.5
		if taskset -c "$CCPU" iperf3 -c 127.0.0.1 -p "$port" -t "$IPERF_S" -J >"$WORK/iperf3.json" 2>"$WORK/iperf3-client.log"; then
			break
		fi
		[ "$try" = 10 ] && die "iperf3 client failed: $(tail -n 3 "$WORK/iperf3-client.log" "$WORK/iperf3.json")"
	done
	stop_pid "$pid"
	local bps
	bps=$("$TOOL" json "$WORK/iperf3.json" end.sum_received.bits_per_second) || die "iperf3 JSON"
	IPERF_GBPS=$(calc_fmt '%.2f' "$bps / 1e9")
	log "(d) $IPERF_GBPS Gbit/s"
}

# pct_of_iperf GBPS: GBPS as a percentage of the iperf3 figure.
pct_of_iperf() { calc_fmt '%.0f' "100 * $1 / $IPERF_GBPS"; }

# ---------------------------------------------------------------- (a) CPU per GB

A_ROWS=() # one markdown row per (size, server)
declare -A CPU_PER_GB

# wrk_run LABEL SIZE URL PID...: wrk on core CCPU against URL; the server's
# CPU is the utime+stime delta of PIDs over the run.
wrk_run() {
	local label=$1 size=$2 url=$3
	shift 3
	local out="$WORK/wrk-$label.txt"
	taskset -c "$CCPU" wrk -t1 -c100 -d1s "$url" >/dev/null 2>&1 || die "wrk warm-up $label"
	local t0 t1 cc0 sc0 cc1 sc1
	t0=$(ticks "$@") || die "server of $label exited"
	cc0=$(core_jiffies "$CCPU")
	sc0=$(core_jiffies "$SCPU")
	taskset -c "$CCPU" wrk -t1 -c100 -d"${WRK_S}s" -s "$BENCH_DIR/wrk-summary.lua" "$url" >"$out" 2>&1 ||
		die "wrk $label: $(tail -n 5 "$out")"
	t1=$(ticks "$@") || die "server of $label exited"
	cc1=$(core_jiffies "$CCPU")
	sc1=$(core_jiffies "$SCPU")
	local line
	line=$(grep '^WRK_SUMMARY ' "$out") || die "wrk $label printed no summary: $(tail -n 5 "$out")"
	local requests bytes duration errs
	requests=$(sed 's/.* requests=\([0-9]*\).*/\1/' <<<"$line")
	bytes=$(sed 's/.* bytes=\([0-9]*\).*/\1/' <<<"$line")
	duration=$(sed 's/.* duration_us=\([0-9]*\).*/\1/' <<<"$line")
	errs=$(awk '{ n = 0; for (i = 5; i <= NF; i++) { split($i, kv, "="); n += kv[2] } print n }' <<<"$line")
	[ "$requests" -gt 0 ] || die "wrk $label: no request completed"
	local cpu_s gb gbps per_gb note=""
	cpu_s=$(calc_fmt '%.2f' "($t1 - $t0) / $CLK_TCK")
	gb=$(calc_fmt '%.2f' "$bytes / 1e9")
	gbps=$(calc_fmt '%.2f' "$bytes * 8 / ($duration * 1000)")
	per_gb=$(calc_fmt '%.3f' "($t1 - $t0) / $CLK_TCK / ($bytes / 1e9)")
	if [ "$errs" != 0 ]; then note=" (wrk errors: ${line#WRK_SUMMARY })"; fi
	CPU_PER_GB[$label]=$per_gb
	A_ROWS+=("| ${label%%-*} | $size | ${label#*-} | $(calc_fmt '%.0f' "$requests * 1e6 / $duration") | $gbps | $(pct_of_iperf "$gbps") % | $cpu_s | $gb | **$per_gb**$note | $(busy_pct "$sc0" "$sc1") % | $(busy_pct "$cc0" "$cc1") % |")
	log "(a) $label: $gbps Gbit/s, $cpu_s CPU s for $gb GB = $per_gb s/GB$note"
}

bench_cpu_per_gb() {
	log "(a) CPU per GB: wrk -t1 -c100 -d${WRK_S}s on core $CCPU, server on core $SCPU"
	mkdir -p "$WORK/www"
	start_livedge livedge-a seg1250 "$STREAM_1250" seg64 "$STREAM_64"
	local url1250 url64
	url1250=$(newest_segment seg1250)
	url64=$(newest_segment seg64)
	"$TOOL" get "$url1250" "$WORK/www/seg1250.ts" || die "get $url1250"
	"$TOOL" get "$url64" "$WORK/www/seg64.ts" || die "get $url64"
	SIZE_1250=$(stat -c %s "$WORK/www/seg1250.ts")
	SIZE_64=$(stat -c %s "$WORK/www/seg64.ts")
	log "(a) segments: $SIZE_1250 and $SIZE_64 bytes"
	chmod 755 "$WORK" "$WORK/www"
	chmod 644 "$WORK/www/"*.ts

	local i0
	i0=$(ticks "$LIVEDGE_PID") || die "livedge exited, see its log in $WORK"
	sleep 3
	LIVEDGE_IDLE_PCT=$(calc_fmt '%.1f' "100 * ($(ticks "$LIVEDGE_PID") - $i0) / $CLK_TCK / 3")

	wrk_run "1250k-livedge" "$SIZE_1250" "$url1250" "$LIVEDGE_PID"
	wrk_run "64k-livedge" "$SIZE_64" "$url64" "$LIVEDGE_PID"
	if [ "${BENCH_PERF:-0}" = 1 ]; then perf_server 1250k-livedge "$url1250" "$LIVEDGE_PID"; fi
	# The segments must still be the same bytes (live, not yet expired).
	"$TOOL" get "$url1250" "$WORK/check.ts" && cmp -s "$WORK/check.ts" "$WORK/www/seg1250.ts" ||
		die "livedge segment $url1250 changed or expired during the run"
	stop_livedge

	local port dir="$WORK/nginx"
	port=$(freeport)
	mkdir -p "$dir"
	sed -e "s|@DIR@|$dir|g" -e "s|@ROOT@|$WORK/www|g" -e "s|@PORT@|$port|g" \
		"$BENCH_DIR/nginx.conf" >"$dir/nginx.conf"
	local eflag=(-e "$dir/error.log")
	"$NGINX" -t -p "$dir" -c "$dir/nginx.conf" "${eflag[@]}" >/dev/null 2>&1 || eflag=() # -e: nginx >= 1.19.5
	"$NGINX" -t -p "$dir" -c "$dir/nginx.conf" "${eflag[@]}" >"$dir/test.log" 2>&1 ||
		die "nginx -t: $(cat "$dir/test.log")"
	taskset -c "$SCPU" "$NGINX" -p "$dir" -c "$dir/nginx.conf" "${eflag[@]}" >"$dir/stdout.log" 2>&1 &
	local npid=$!
	PIDS+=("$npid")
	"$TOOL" wait "http://127.0.0.1:$port/seg64.ts" 10s || die "nginx did not start: $(cat "$dir/error.log" 2>/dev/null)"
	"$TOOL" get "http://127.0.0.1:$port/seg1250.ts" "$WORK/check.ts" && cmp -s "$WORK/check.ts" "$WORK/www/seg1250.ts" ||
		die "nginx serves other bytes"
	local npids
	mapfile -t npids < <(children "$npid")
	[ ${#npids[@]} -ge 1 ] || die "nginx has no worker"
	NGINX_VERSION=$("$NGINX" -v 2>&1 | sed 's/.*version: //')
	wrk_run "1250k-nginx" "$SIZE_1250" "http://127.0.0.1:$port/seg1250.ts" "$npid" "${npids[@]}"
	wrk_run "64k-nginx" "$SIZE_64" "http://127.0.0.1:$port/seg64.ts" "$npid" "${npids[@]}"
	if [ "${BENCH_PERF:-0}" = 1 ]; then perf_server 1250k-nginx "http://127.0.0.1:$port/seg1250.ts" "${npids[0]}"; fi
	stop_pid "$npid"
}

# perf_server LABEL URL PID: a CPU profile of the server PID while wrk
# fetches URL, apart from the measured runs (sampling costs the server).
perf_server() {
	local label=$1 url=$2 pid=$3
	if ! command -v perf >/dev/null; then
		log "BENCH_PERF=1 but no perf: skipped"
		return
	fi
	log "(a) perf profile of $label"
	taskset -c "$CCPU" wrk -t1 -c100 -d"$((WRK_S + 2))s" "$url" >/dev/null 2>&1 &
	local wpid=$!
	PIDS+=("$wpid")
	sleep 1
	perf record -q -F 999 -g -p "$pid" -o "$WORK/perf-$label.data" -- sleep "$WRK_S" >/dev/null 2>&1 ||
		log "perf record failed"
	wait "$wpid" || true
	forget_pid "$wpid"
	perf report -i "$WORK/perf-$label.data" --stdio --no-children --percent-limit 1 -g none --sort symbol \
		>"$WORK/perf-$label.txt" 2>/dev/null || log "perf report failed"
	PERF_FILES="$PERF_FILES $WORK/perf-$label.txt"
}

# ---------------------------------------------------------------- (b) viewers

B_ROWS=()    # every step
B_SUMMARY=() # one row per bitrate
SOURCE_IDX=10

# load_step TAG NAME STREAM_BODY N: one `livedge load` run of N HTTP-TS
# viewers against a fresh livedge. Sets STEP_OK, STEP_ROW (markdown),
# STEP_CPU, STEP_RSS_MIB, STEP_GBPS, STEP_LOAD_CPU, STEP_FAIL.
load_step() {
	local tag=$1 name=$2 body=$3 n=$4 run=$5
	start_livedge "$tag-$n$run" "$name" "$body"
	SOURCE_IDX=$((SOURCE_IDX + 1))
	local url="http://127.0.0.1:$LIVEDGE_PORT/$name/mpegts"
	local out="$WORK/load-$tag-$n$run.json" progress="$WORK/load-$tag-$n$run.progress"
	local w_from=$((RAMP_S + 3)) w_to=$((LOAD_S - 3))
	local sa ja ta sb jb tb
	sa=$(ticks "$LIVEDGE_PID") || die "livedge exited, see its log in $WORK"
	ja=$(core_jiffies "$SCPU")
	ta=$(now)
	taskset -c "$CCPU" "$BIN" load -c "$n" -ramp "${RAMP_S}s" -d "${LOAD_S}s" -json \
		-source "127.0.0.$SOURCE_IDX" "$url" >"$out" 2>"$progress" &
	local lpid=$!
	PIDS+=("$lpid")
	sleep "$w_from"
	local s0 c0 t0 s1 c1 t1 k0 k1 rss=0
	s0=$(ticks "$LIVEDGE_PID") || die "livedge exited, see its log in $WORK"
	k0=$(sys_ticks "$LIVEDGE_PID") || die "livedge exited"
	c0=$(ticks "$lpid") || c0=0
	t0=$(now)
	sleep $((w_to - w_from))
	s1=$(ticks "$LIVEDGE_PID") || die "livedge exited, see its log in $WORK"
	k1=$(sys_ticks "$LIVEDGE_PID") || die "livedge exited"
	c1=$(ticks "$lpid") || c1=$c0
	t1=$(now)
	rss=$(rss_kib "$LIVEDGE_PID")
	local rc=0
	wait "$lpid" || rc=$?
	forget_pid "$lpid"
	sb=$(ticks "$LIVEDGE_PID") || die "livedge exited, see its log in $WORK"
	jb=$(core_jiffies "$SCPU")
	tb=$(now)
	stop_livedge
	[ "$rc" -le 1 ] || die "livedge load exited $rc: $(tail -n 5 "$progress")"
	local fields ok stalls errors up viewers_nm kinds
	fields=$("$TOOL" json "$out" ok stalls errors viewers_up_end viewers_no_media errors_by_kind) ||
		die "livedge load JSON ($out): $(tail -n 5 "$progress")"
	{ read -r ok; read -r stalls; read -r errors; read -r up; read -r viewers_nm; read -r kinds; } <<<"$fields"
	STEP_CPU=$(calc_fmt '%.0f' "100 * ($s1 - $s0) / $CLK_TCK / ($t1 - $t0)")
	# The ramp: each new viewer gets the last GOP at once, on top of the others.
	STEP_RAMP_CPU=$(calc_fmt '%.0f' "100 * ($s0 - $sa) / $CLK_TCK / ($t0 - $ta)")
	# Other work on the server's core over the whole step (a shared machine).
	local other_expr="$(busy_pct "$ja" "$jb") - 100 * ($sb - $sa) / $CLK_TCK / ($tb - $ta)"
	STEP_OTHER=$(calc_fmt '%.0f' "($other_expr) < 0 ? 0 : ($other_expr)")
	STEP_SYS=$(calc_fmt '%.0f' "100 * ($k1 - $k0) / ($s1 - $s0 + ($s1 == $s0))")
	STEP_LOAD_CPU=$(calc_fmt '%.0f' "100 * ($c1 - $c0) / $CLK_TCK / ($t1 - $t0)")
	STEP_RSS_MIB=$(calc_fmt '%.0f' "$rss / 1024")
	# Delivered rate: the load tool's per-second rx over the same window.
	STEP_GBPS=$(awk -v a="$w_from" -v b="$w_to" '
		match($0, /^t=[0-9]+s/) { t = substr($0, 3, RLENGTH - 3) + 0
			if (t > a && t <= b && match($0, /rx=[0-9.]+Gbit/)) { s += substr($0, RSTART + 3, RLENGTH - 7); k++ } }
		END { if (k) printf "%.2f", s / k; else print "?" }' "$progress")
	STEP_OK=0
	STEP_FAIL=""
	local verdict="ok"
	if [ "$rc" = 0 ] && [ "$ok" = true ]; then
		STEP_OK=1
	else
		verdict="**fail**"
		STEP_FAIL="stalls=$stalls errors=$errors up_end=$up/$n no_media=$viewers_nm $(tr -d '{}"' <<<"$kinds" | tr ',' ' ' | sed 's/[a-z]*:0 *//g')"
		if [ "$STEP_LOAD_CPU" -ge 90 ]; then STEP_FAIL="$STEP_FAIL (load tool at $STEP_LOAD_CPU % of its core: the client may be the limit)"; fi
	fi
	STEP_ROW="| $tag | $n${run:+ (again)} | $verdict | $up | $stalls | $errors | $STEP_GBPS | $STEP_CPU % ($STEP_SYS % of it kernel) | $STEP_RAMP_CPU % | $STEP_OTHER % | $STEP_RSS_MIB | $STEP_LOAD_CPU % |"
	B_ROWS+=("$STEP_ROW")
	log "(b) $tag N=$n: $verdict up=$up stalls=$stalls errors=$errors rx=${STEP_GBPS}Gbit/s server=$STEP_CPU% (sys $STEP_SYS%) ramp=$STEP_RAMP_CPU% other=$STEP_OTHER% rss=${STEP_RSS_MIB}MiB load=$STEP_LOAD_CPU% $STEP_FAIL"
}

# max_viewers: the most viewers both processes' open-file limits allow
# (livedge load needs N+64 descriptors; livedge's netio takes at most 90 %
# of its limit for connections), less a margin.
max_viewers() {
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] && hard=1048576
	local n=$((hard - 64)) m=$((hard * 9 / 10))
	[ $m -lt $n ] && n=$m
	echo $((n - 50))
}

# search TAG NAME STREAM_BODY STEPS: load steps upward until one fails.
search() {
	local tag=$1 name=$2 body=$3 steps=$4 limit n best="" best_row="" fail_row="" kbps last=0
	limit=$(max_viewers)
	start_livedge "$tag-rate" "$name" "$body"
	kbps=$(wire_kbps "$name")
	stop_livedge
	log "(b) $tag: stream on the wire $kbps kbit/s; steps: $steps (max $limit)"
	for n in $steps; do
		[ "$n" = max ] && n=$limit
		if [ "$n" -gt "$limit" ]; then n=$limit; fi
		[ "$n" -gt "$last" ] || continue
		last=$n
		load_step "$tag" "$name" "$body" "$n" ""
		if [ "$STEP_OK" = 0 ] && [ "$RETRY" = 1 ]; then
			log "(b) $tag N=$n failed: once more, to tell a limit from a hiccup"
			load_step "$tag" "$name" "$body" "$n" "-again"
		fi
		if [ "$STEP_OK" = 1 ]; then
			best=$n
			best_row="| $STEP_GBPS | $(pct_of_iperf "$STEP_GBPS") % | $STEP_CPU % | $STEP_RSS_MIB | $STEP_LOAD_CPU % |"
		else
			fail_row="$n: $STEP_FAIL"
			break
		fi
	done
	if [ -z "$best" ]; then
		B_SUMMARY+=("| $tag | $kbps | none | | | | | | $fail_row |")
	else
		if [ -z "$fail_row" ] && [ "$last" = "$limit" ]; then
			fail_row="none: $limit is the most the open-file limit allows"
		fi
		[ -n "$fail_row" ] || fail_row="none (the steps end there)"
		B_SUMMARY+=("| $tag | $kbps | **$best** $best_row $fail_row |")
	fi
}

bench_viewers() {
	log "(b) HTTP-TS viewers: livedge load -ramp ${RAMP_S}s -d ${LOAD_S}s on core $CCPU, livedge on core $SCPU"
	search "1M" ts1m "$STREAM_1M" "$STEPS_1M"
	search "232k" ts232k "$STREAM_232K" "$STEPS_232K"
}

# ---------------------------------------------------------------- (c) RSS per viewer

C_ROWS=()

# settled_rss: RSS of livedge, the least of 3 samples 1 s apart (the heap
# breathes with the GC).
settled_rss() {
	local i r min=""
	for i in 1 2 3; do
		r=$(rss_kib "$LIVEDGE_PID")
		if [ -z "$min" ] || [ "$r" -lt "$min" ]; then min=$r; fi
		sleep 1
	done
	echo "$min"
}

bench_rss() {
	local n=$RSS_N limit
	limit=$(max_viewers)
	[ "$n" -le "$limit" ] || n=$limit
	log "(c) RSS per viewer, $n viewers"

	# Active: HTTP-TS viewers of the 232 kbit/s stream.
	start_livedge rss-active ts232k "$STREAM_232K"
	sleep 5
	local r0 r1 d=$((RAMP_S + 20)) note="" rc=0
	r0=$(settled_rss)
	SOURCE_IDX=$((SOURCE_IDX + 1))
	taskset -c "$CCPU" "$BIN" load -c "$n" -ramp "${RAMP_S}s" -d "${d}s" -json -source "127.0.0.$SOURCE_IDX" \
		"http://127.0.0.1:$LIVEDGE_PORT/ts232k/mpegts" >"$WORK/rss-active.json" 2>"$WORK/rss-active.progress" &
	local lpid=$!
	PIDS+=("$lpid")
	sleep $((RAMP_S + 8))
	r1=$(settled_rss)
	local up
	up=$(awk '/^t=/ { u = $2 } END { sub("up=", "", u); print u }' "$WORK/rss-active.progress")
	wait "$lpid" || rc=$?
	forget_pid "$lpid"
	stop_livedge
	[ "$rc" = 0 ] || note=" (livedge load exit $rc, up=$up)"
	C_ROWS+=("| active: HTTP-TS viewer of the 232 kbit/s stream | $n | $(calc_fmt '%.1f' "$r0/1024") | $(calc_fmt '%.1f' "$r1/1024") | **$(calc_fmt '%.1f' "($r1 - $r0) / $n")**$note |")
	log "(c) active: $r0 -> $r1 KiB, up=$up$note"

	# Idle: keep-alive connections after one playlist request each.
	start_livedge rss-idle ts232k "$STREAM_232K"
	sleep 5
	r0=$(settled_rss)
	"$TOOL" idle -n "$n" "http://127.0.0.1:$LIVEDGE_PORT/ts232k/index.m3u8" >"$WORK/rss-idle.out" 2>"$WORK/rss-idle.err" &
	local ipid=$! i ready=""
	PIDS+=("$ipid")
	for ((i = 0; i < 600; i++)); do
		ready=$(grep '^ready ' "$WORK/rss-idle.out" || true)
		[ -n "$ready" ] && break
		kill -0 "$ipid" 2>/dev/null || die "benchtool idle: $(cat "$WORK/rss-idle.err")"
		sleep 0.2
	done
	[ -n "$ready" ] || die "benchtool idle: not ready after 120 s"
	sleep 2
	r1=$(settled_rss)
	stop_pid "$ipid"
	local held
	held=$(grep '^open ' "$WORK/rss-idle.out" || echo "open ? closed ?")
	stop_livedge
	note=""
	read -r _ okc failc <<<"$ready"
	[ "$failc" = 0 ] || note=" ($failc failed to connect: $(head -n 1 "$WORK/rss-idle.err"))"
	case $held in "open $okc closed 0") ;; *) note="$note (at the end: $held)" ;; esac
	C_ROWS+=("| idle: keep-alive connection after one playlist GET | $okc | $(calc_fmt '%.1f' "$r0/1024") | $(calc_fmt '%.1f' "$r1/1024") | **$(calc_fmt '%.1f' "($r1 - $r0) / $okc")**$note |")
	log "(c) idle: $r0 -> $r1 KiB, $ready, $held"
}

# ---------------------------------------------------------------- main

main() {
	[ "$(nproc --all 2>/dev/null || nproc)" -ge 2 ] || die "needs at least 2 cores"
	[ -x "$BIN" ] || die "$BIN missing: run make build"
	install_tools
	WORK=$(mktemp -d /tmp/livedge-bench.XXXXXX)
	log "work dir $WORK"
	TOOL="$WORK/benchtool"
	(cd "$ROOT" && CGO_ENABLED=0 "$GO" build -o "$TOOL" ./bench/benchtool) || die "build bench/benchtool"

	# max_connections_per_ip 0 (unlimited), when this livedge knows it.
	printf 'http 127.0.0.1:1;\nmax_connections_per_ip 0;\n' >"$WORK/probe.conf"
	if "$BIN" -t -c "$WORK/probe.conf" >/dev/null 2>"$WORK/probe.err"; then
		PER_IP_LINE="max_connections_per_ip 0;"
		PER_IP_NOTE="max_connections_per_ip 0 (unlimited)"
	else
		PER_IP_NOTE="max_connections_per_ip not set: this livedge refuses it ($(head -n 1 "$WORK/probe.err"))"
	fi

	LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
	case $LOADAVG_START in 0.[0-4]*) ;; *) log "warning: load average $LOADAVG_START: other work on this machine skews the figures" ;; esac
	local started=$SECONDS
	bench_iperf
	bench_cpu_per_gb
	bench_viewers
	bench_rss

	local rev
	rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
	if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then rev="$rev+dirty"; fi
	local out="$WORK/results.md"
	{
		echo "# livedge bench $(date -u +%Y-%m-%dT%H:%MZ)$([ "$QUICK" = 1 ] && echo ' (BENCH_QUICK smoke run)')"
		echo
		echo "livedge $rev; $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc --all) cores;" \
			"Linux $(uname -r); nginx $NGINX_VERSION; $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }'); $(iperf3 --version | head -n 1 | awk '{ print $1, $2 }')."
		echo "Load on core $CCPU, server on core $SCPU (livedge GOMAXPROCS=1); all on 127.0.0.1; $PER_IP_NOTE."
		echo "Load average at the start: $LOADAVG_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
		echo
		echo "## (d) loopback ceiling"
		echo
		echo "iperf3 -t $IPERF_S, client core $CCPU -> server core $SCPU: **$IPERF_GBPS Gbit/s**. Every Gbit/s below is also given as a % of it" \
			"(one TCP stream: thousands of streams can together exceed it)."
		echo
		echo "## (a) server CPU per GB served"
		echo
		echo "wrk -t1 -c100 -d${WRK_S}s on core $CCPU; server CPU = utime+stime delta over the run (nginx: master + worker);" \
			"GB = 10^9 bytes wrk read (headers included). Core busy % = all of that core (from /proc/stat): what is not the server or wrk is other load. livedge serves a live HLS segment from memory; nginx the same bytes from a file (sendfile on)."
		echo
		echo "| body | bytes | server | req/s | Gbit/s | of iperf3 | server CPU s | GB | CPU s per GB | core $SCPU busy | core $CCPU busy (wrk) |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|"
		printf '%s\n' "${A_ROWS[@]}"
		echo
		echo "livedge/nginx CPU per GB: **$(calc_fmt '%.2f' "${CPU_PER_GB[1250k-livedge]} / ${CPU_PER_GB[1250k-nginx]}")x** for $SIZE_1250 B," \
			"**$(calc_fmt '%.2f' "${CPU_PER_GB[64k-livedge]} / ${CPU_PER_GB[64k-nginx]}")x** for $SIZE_64 B" \
			"(livedge idle with both testsrc streams: $LIVEDGE_IDLE_PCT % of a core, included)." \
			"On loopback the receiver's TCP input runs in the sender's softirq, so a server's CPU includes part of its client's receive cost (for both servers alike)."
		echo
		echo "## (b) HTTP-TS viewers with zero stalls and errors"
		echo
		echo "livedge load -c N -ramp ${RAMP_S}s -d ${LOAD_S}s -json, a fresh livedge per step; search upward, stop at the first failure" \
			"(a failed step runs once more, and counts as failed only if it fails again: the machine may be shared)." \
			"CPU %, RSS and Gbit/s over the steady window t=$((RAMP_S + 3))..$((LOAD_S - 3)) s. Stream rate = TS bytes of a segment / its duration."
		echo
		echo "| testsrc bitrate | on the wire kbit/s | best N | Gbit/s | of iperf3 | server CPU | server RSS MiB | load tool CPU | first failure |"
		echo "|---|---|---|---|---|---|---|---|---|"
		printf '%s\n' "${B_SUMMARY[@]}"
		echo
		echo "Every step:"
		echo
		echo "| bitrate | N | result | up at end | stalls | errors | Gbit/s | server CPU | server CPU in the ramp | other load on core $SCPU | RSS MiB | load tool CPU |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
		printf '%s\n' "${B_ROWS[@]}"
		echo
		echo "## (c) livedge RSS per viewer"
		echo
		echo "(RSS with N viewers - RSS without) / N; RSS = least of 3 samples 1 s apart. Kernel socket buffers are not in RSS."
		echo
		echo "| viewers | N | RSS without MiB | RSS with MiB | KiB per viewer |"
		echo "|---|---|---|---|---|"
		printf '%s\n' "${C_ROWS[@]}"
		echo
		if [ -n "$PERF_FILES" ]; then echo "CPU profiles (perf, BENCH_PERF=1):$PERF_FILES"; fi
		echo "Bench time: $((SECONDS - started)) s. Logs and raw outputs: $WORK"
	} >"$out"
	echo
	cat "$out"
	echo
	echo "results: $out"
}

main "$@"
