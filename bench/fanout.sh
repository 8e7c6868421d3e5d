#!/bin/bash
# The fan-out figure of `make bench` alone, repeated: call_next to `called` p99 at N displays
# against the PUBLISH floor (qbench-raw publish to as many subscribers) on the same Redis, run
# just before and after each fanout run, as bench/run.sh and bench/ratios.sh measure it. Given
# several builds, each round runs every build in turn on the same Redis (a fresh qserver each),
# so a busy neighbour hurts them alike; it prints every round and the medians per build.
# usage: bench/fanout.sh ROUNDS BUILD [BUILD...]
# Knobs (environment): QB_FANOUT displays (1000), QB_CALLS calls per run (200), QB_KEEP=1
# keeps the work folder (Redis and qserver logs, the last JSON reports).
set -u
ROUNDS=${1:?usage: bench/fanout.sh ROUNDS BUILD [BUILD...]}
shift
[ $# -ge 1 ] || { echo "usage: bench/fanout.sh ROUNDS BUILD [BUILD...]" >&2; exit 2; }
N=${QB_FANOUT:-1000}
CALLS=${QB_CALLS:-200}
WORK=$(mktemp -d /tmp/qhall-fanout-XXXXXX)
SOCK="$WORK/redis.sock"
REDIS_PID=""
QSERVER_PID=""

. "$(dirname "$0")/lib.sh" # builds_from_args, start_redis, start_qserver, jnum, least, median
builds_from_args fanout "$@"
trap stop_started EXIT

# The PUBLISH floor: p99 of one publisher's CALLS messages 20 ms apart to N subscribers.
publish_p99() {
	"${BUILDS[0]}/qbench-raw" publish "unix:$SOCK" "$N" "$CALLS" 20 >"$WORK/publish.json" 2>"$WORK/publish.err"
	jnum "$WORK/publish.json" p99_ms
}

# Runs the fanout scenario against a fresh qserver of one build; prints its `called` p99 (ms)
# and qserver's CPU time (ms).
fanout_p99() {
	local build=$1 cpu
	start_qserver "$build" --rate 1000000 --max-conns $((N + 2000)) --max-per-addr $((N + 2000))
	"$build/qbench" --server "127.0.0.1:$QSERVER_PORT" --json --label fanout --scenario fanout --conns "$N" --rounds "$CALLS" \
		--interval 20 --first-window 50 --duration 60 >"$WORK/fanout.json" 2>"$WORK/fanout.err"
	cpu=$(stop_qserver_cpu_ms) # its whole life: start, prefill, subscribes, the calls
	[ "$(jnum "$WORK/fanout.json" fanout missed)" = 0 ] || echo "fanout: $(jnum "$WORK/fanout.json" fanout missed) deliveries missed" >&2
	echo "$(jnum "$WORK/fanout.json" fanout latency p99_ms) $cpu"
}

start_redis

declare -A P99 RATIO CPU
echo "round build fanout_p99_ms publish_floor_ms (before, after) ratio qserver_cpu_ms"
for r in $(seq "$ROUNDS"); do
	for i in "${!BUILDS[@]}"; do
		before=$(publish_p99)
		read -r fan cpu < <(fanout_p99 "${BUILDS[$i]}")
		after=$(publish_p99)
		floor=$(least "$before" "$after")
		ratio=$(awk -v a="$fan" -v b="$floor" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
		echo "$r ${BUILDS[$i]} $fan $floor ($before, $after) ${ratio}x $cpu"
		P99[$i]="${P99[$i]:-} $fan"
		RATIO[$i]="${RATIO[$i]:-} $ratio"
		CPU[$i]="${CPU[$i]:-} $cpu"
	done
done
for i in "${!BUILDS[@]}"; do
	# shellcheck disable=SC2086 # the lists are space-separated numbers
	echo "median ${BUILDS[$i]}: fanout p99 $(median ${P99[$i]}) ms, ratio to the floor $(median ${RATIO[$i]})x, qserver CPU $(median ${CPU[$i]}) ms"
done
