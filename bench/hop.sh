#!/bin/bash
# What one `take` costs qserver, counted exactly rather than timed: system calls, loop turns
# (epoll_wait calls), context switches and CPU per take (perf's syscall and software events)
# at a fixed 1,000 takes/s over 8 kiosk connections, and instructions per take (callgrind),
# with no subscriber and with a few. Given several builds it measures each on
# the same Redis (a fresh qserver each), so two versions can be compared. Prints Markdown.
# usage: bench/hop.sh BUILD [BUILD...]
# Knobs (environment): HOP_N takes per counted run (3000), HOP_SUBS subscribed displays in the
# second run (4), HOP_CG takes per callgrind run, at 200/s under valgrind (1000; 0 skips it).
set -u
[ $# -ge 1 ] || { echo "usage: bench/hop.sh BUILD [BUILD...]" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${HOP_N:-3000}
SUBS=${HOP_SUBS:-4}
CG=${HOP_CG:-1000}
WORK=$(mktemp -d /tmp/qhall-hop-XXXXXX)
SOCK="$WORK/redis.sock"
REDIS_PID="" QSERVER_PID="" SUBS_PID=""
for cmd in perf redis-server redis-cli; do
	command -v "$cmd" >/dev/null || { echo "hop: $cmd is missing" >&2; exit 1; }
done

# Stops what this script started, by process id.
cleanup() {
	[ -n "$SUBS_PID" ] && kill "$SUBS_PID" 2>/dev/null && wait "$SUBS_PID" 2>/dev/null
	[ -n "$QSERVER_PID" ] && kill "$QSERVER_PID" 2>/dev/null && wait "$QSERVER_PID" 2>/dev/null
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
	[ -n "${HOP_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
. "$ROOT/bench/lib.sh" # free_port, start_redis

start_redis

# Starts qserver of BUILD (under the command given before it, if any) and waits for it.
start_qserver_under() {
	local build=$1
	shift
	PORT=$(free_port)
	"$@" "$build/qserver" --config "$ROOT/bench/hall.json" --always-open --rate 1000000 --log-level warn \
		--redis "unix:$SOCK" --listen "127.0.0.1:$PORT" >>"$WORK/qserver.log" 2>&1 &
	QSERVER_PID=$!
	for _ in $(seq 600); do
		"$build/qcli" --server "127.0.0.1:$PORT" services >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "hop: qserver did not start" >&2
	exit 1
}

# Stops qserver and the subscribers.
stop_qserver() {
	[ -n "$SUBS_PID" ] && kill "$SUBS_PID" 2>/dev/null && wait "$SUBS_PID" 2>/dev/null
	SUBS_PID=""
	kill "$QSERVER_PID" 2>/dev/null
	wait "$QSERVER_PID" 2>/dev/null
	QSERVER_PID=""
}

# Sends COUNT takes at RATE/s over 8 kiosk connections with qbench of BUILD.
takes() {
	"$1/qbench" --server "127.0.0.1:$PORT" --scenario take --conns 8 --rate "$3" --requests "$2" \
		--services A,B,C,D,E,F --timeout 20000 >/dev/null 2>&1
}

# Counts qserver's system calls with perf's tracepoints (no ptrace: qserver runs at its own
# pace) over N takes; prints per take: system calls, epoll_wait, epoll_ctl, sends (sendto, sendmsg,
# write, writev), reads (read, readv, recvfrom, recvmsg), context switches, and CPU µs.
count_syscalls() {
	local build=$1 out="$WORK/perf.txt" ev=raw_syscalls:sys_enter
	for s in epoll_wait epoll_ctl sendto sendmsg write writev read readv recvfrom recvmsg; do
		ev="$ev,syscalls:sys_enter_$s"
	done
	perf stat -x, -o "$out" -e "$ev,context-switches,task-clock" -p "$QSERVER_PID" &
	local spid=$!
	sleep 1
	takes "$build" "$N" 1000
	kill -INT "$spid"
	wait "$spid" 2>/dev/null
	[ -n "${HOP_KEEP:-}" ] && cp "$out" "$WORK/perf.$(date +%s%N).txt"
	awk -F, -v n="$N" '
		{ v[$3] = $1 }
		END {
			printf "%.2f %.2f %.2f %.2f %.2f %.2f %.1f\n", v["raw_syscalls:sys_enter"] / n,
				v["syscalls:sys_enter_epoll_wait"] / n, v["syscalls:sys_enter_epoll_ctl"] / n,
				(v["syscalls:sys_enter_sendto"] + v["syscalls:sys_enter_sendmsg"] + v["syscalls:sys_enter_write"] + v["syscalls:sys_enter_writev"]) / n,
				(v["syscalls:sys_enter_read"] + v["syscalls:sys_enter_readv"] + v["syscalls:sys_enter_recvfrom"] + v["syscalls:sys_enter_recvmsg"]) / n,
				v["context-switches"] / n, v["task-clock"] * 1000 / n
		}' "$out"
}

echo "| build | subscribers | syscalls / take | epoll_wait | epoll_ctl | sends | reads | context switches | CPU µs | instructions / take |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for build in "$@"; do
	build=$(cd "$build" && pwd)
	name=$(basename "$(dirname "$build")")/$(basename "$build")
	start_qserver_under "$build"
	takes "$build" 200 1000 # warm: the kiosks' first tickets, Redis's function cache
	read -r sc ew ec snd rcv cs us < <(count_syscalls "$build")
	echo "| $name | 0 | $sc | $ew | $ec | $snd | $rcv | $cs | $us | |"
	"$build/qbench" --server "127.0.0.1:$PORT" --scenario idle --conns "$SUBS" --duration 3600 >/dev/null 2>&1 &
	SUBS_PID=$!
	sleep 2
	read -r sc ew ec snd rcv cs us < <(count_syscalls "$build")
	echo "| $name | $SUBS | $sc | $ew | $ec | $snd | $rcv | $cs | $us | |"
	stop_qserver
	if [ "$CG" -gt 0 ] && command -v valgrind >/dev/null; then
		# Instructions: a dump after a warm-up, one after CG/2 takes and one after CG more; each
		# qbench run signs its kiosks in (sha256-crypt), so the difference of the last two is
		# CG/2 takes' work alone.
		start_qserver_under "$build" valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" --dump-instr=no
		takes "$build" 100 200
		callgrind_control -d "$QSERVER_PID" >/dev/null 2>&1
		takes "$build" $((CG / 2)) 200
		callgrind_control -d "$QSERVER_PID" >/dev/null 2>&1
		takes "$build" "$CG" 200
		callgrind_control -d "$QSERVER_PID" >/dev/null 2>&1
		"$build/qbench" --server "127.0.0.1:$PORT" --scenario idle --conns "$SUBS" --duration 3600 >/dev/null 2>&1 &
		SUBS_PID=$!
		sleep 5
		callgrind_control -d "$QSERVER_PID" >/dev/null 2>&1
		takes "$build" $((CG / 2)) 200
		callgrind_control -d "$QSERVER_PID" >/dev/null 2>&1
		takes "$build" "$CG" 200
		callgrind_control -d "$QSERVER_PID" >/dev/null 2>&1
		total() { callgrind_annotate "$WORK/cg.$QSERVER_PID.$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'; }
		per_take() { awk -v a="$(total "$1")" -v b="$(total "$2")" -v n=$((CG - CG / 2)) 'BEGIN { printf "%.0f", (b - a) / n }'; }
		echo "| $name | 0 | | | | | | | | $(per_take 2 3) |"
		echo "| $name | $SUBS | | | | | | | | $(per_take 5 6) |"
		stop_qserver
		rm -f "$WORK"/cg.*
	fi
done
