#!/bin/bash
# What watching tickets for notifications costs a call: loads qserver/functions.lua into a
# private redis-server, queues 2,000 tickets of one service and W watchers (notify ahead 0)
# behind them, and prints Redis's time and the Redis commands per qh_call_next (the commands
# are exact; the time depends on the machine's load).
# usage: scripts/notify-cost.sh [W...]   (default: 0 10 100)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/qhall-notify-cost-XXXXXX)
SOCK="$WORK/redis.sock"
P='q:{m}'
NOW=1795830000
DAY=2026-11-28T09 # the day with NOW's hour in Beijing, as qserver passes them
HALL='{"site":{"id":"m"},"services":[{"id":"A","prefix":"A","name":"a","name_en":"A","service_time":300}],"windows":[{"id":1,"name":"1","name_en":"1","services":["*"]}]}'
REDIS_PID=""

# Stops the redis-server this script started, by its process id.
cleanup() {
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

cli() { redis-cli -s "$SOCK" "$@"; }

# Measures one hall with W watchers.
measure() {
	local w=$1
	cli FLUSHALL >/dev/null
	cli FCALL qh_setup 1 "$P" $NOW $DAY 0 "$HALL" >/dev/null
	cli FCALL qh_open 1 "$P" $NOW $DAY 0 1 c01 h $((NOW + 100000)) >/dev/null
	{
		for _ in $(seq 2000); do echo "FCALL qh_take 1 $P $NOW $DAY 0 A normal kiosk '' ''"; done
		for i in $(seq "$w"); do echo "FCALL qh_take 1 $P $NOW $DAY 0 A normal kiosk 13800000000 s$i 0 ''"; done
	} | cli >/dev/null
	cli CONFIG RESETSTAT >/dev/null
	for _ in $(seq 1000); do echo "FCALL qh_call_next 1 $P $NOW $DAY 0 1 c01"; done | cli >/dev/null
	cli INFO commandstats | tr -d '\r' | awk -F'[:=,]' -v w="$w" '
		/^cmdstat_/ { if ($1 == "cmdstat_fcall") { calls = $3; usec = $7 } else if ($1 != "cmdstat_config") inner += $3 }
		END { printf "%4d watchers: %6.0f usec and %5.1f Redis commands per qh_call_next\n", w, usec, inner / calls }'
}

redis-server --port 0 --unixsocket "$SOCK" --save '' --appendonly no --dir "$WORK" >/dev/null 2>&1 &
REDIS_PID=$!
for _ in $(seq 100); do cli ping >/dev/null 2>&1 && break; sleep 0.05; done
cli -x FUNCTION LOAD REPLACE <"$ROOT/qserver/functions.lua" >/dev/null
for w in "${@:-0 10 100}"; do
	for n in $w; do measure "$n"; done
done
