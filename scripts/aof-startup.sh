#!/bin/bash
# Measures what an AOF rewrite buys at start-up (docs/operations.md): fills the embedded
# Redis of a qserver on bench/hall.json with takes until its AOF holds MB megabytes, then
# times a start of redis-server on that state folder (until it answers PING with PONG, its
# data loaded), rewrites the AOF, and times a start again. Prints the sizes, both start-up
# times, the fork time of the rewrite and the time redis-check-aof takes on the AOF (what
# qserver runs after an unclean exit). Runs on loopback in a temp folder.
# usage: scripts/aof-startup.sh BUILD [MB]   (MB defaults to 100)
set -u
BUILD=${1:?usage: scripts/aof-startup.sh BUILD [MB]}
MB=${2:-100}
WORK=$(mktemp -d /tmp/qhall-aof-XXXXXX)
STATE="$WORK/state"
SOCK="$STATE/redis.sock"
QSERVER_PID=""
REDIS_PID=""

# Stops what this script started, by process id, and removes the temp folder.
cleanup() {
	[ -n "$QSERVER_PID" ] && kill "$QSERVER_PID" 2>/dev/null && wait "$QSERVER_PID" 2>/dev/null
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

# Milliseconds of the wall clock.
now_ms() { date +%s%3N; }

# Bytes in the AOF folder.
aof_bytes() { du -sb "$STATE/appendonlydir" | cut -f1; }

# Starts redis-server on the state folder as qserver does, and prints the ms until PONG.
timed_start() {
	local t0 t1
	t0=$(now_ms)
	redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --dir "$STATE" --appendonly yes \
		--appendfsync everysec --save "" --auto-aof-rewrite-percentage 0 --hash-max-listpack-value 128 --daemonize no --logfile redis.log \
		--loglevel warning \
		>/dev/null 2>&1 &
	REDIS_PID=$!
	until [ "$(redis-cli -s "$SOCK" PING 2>/dev/null)" = PONG ]; do sleep 0.01; done
	t1=$(now_ms)
	echo $((t1 - t0))
}

# Stops the redis-server started by timed_start.
stop_redis() {
	redis-cli -s "$SOCK" SHUTDOWN >/dev/null 2>&1
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=""
}

mkdir -p "$STATE"
"$BUILD/qserver" --config bench/hall.json --state "$STATE" --listen 127.0.0.1:0 --always-open \
	--log-level warn >"$WORK/qserver.log" 2>&1 &
QSERVER_PID=$!
until redis-cli -s "$SOCK" EXISTS 'q:{bench}:day' 2>/dev/null | grep -q 1; do sleep 0.05; done
now=$(date +%s)
day=$(TZ=Asia/Shanghai date +%F)
takes=0
while [ "$(aof_bytes)" -lt $((MB * 1024 * 1024)) ]; do
	takes=$((takes + 10000))
	for svc in A B; do
		redis-benchmark -s "$SOCK" -n 5000 -c 8 -q FCALL qh_take 1 'q:{bench}' "$now" "$day" 0 "$svc" normal kiosk '' \
			>/dev/null 2>&1
	done
done
kill "$QSERVER_PID"
wait "$QSERVER_PID" 2>/dev/null
QSERVER_PID=""

before_bytes=$(aof_bytes)
incr=$(awk '$6 == "i" {f = $2} END {print f}' "$STATE/appendonlydir/appendonly.aof.manifest")
t0=$(now_ms)
redis-check-aof "$STATE/appendonlydir/$incr" >/dev/null 2>&1
check_ms=$(($(now_ms) - t0))
before_ms=$(timed_start)
redis-cli -s "$SOCK" BGREWRITEAOF >/dev/null
until redis-cli -s "$SOCK" INFO persistence | grep -q '^aof_rewrite_in_progress:0'; do sleep 0.05; done
sleep 1.1 # the rewrite's new manifest is written by the next cron tick
fork_us=$(redis-cli -s "$SOCK" INFO stats | tr -d '\r' | awk -F: '/^latest_fork_usec/ {print $2}')
stop_redis
after_bytes=$(aof_bytes)
after_ms=$(timed_start)
stop_redis

echo "takes: $takes, $((before_bytes / takes)) bytes of AOF each"
echo "AOF before the rewrite: $((before_bytes / 1024 / 1024)) MB, start-up ${before_ms} ms"
echo "AOF after the rewrite:  $((after_bytes / 1024 / 1024)) MB, start-up ${after_ms} ms"
echo "fork of the rewrite: ${fork_us} us"
echo "redis-check-aof on the last incremental file before the rewrite: ${check_ms} ms"
