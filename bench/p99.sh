#!/bin/bash
# The take p99 figure of `make bench` alone, repeated: qserver's `take` p99 at a fixed 1,000/s
# (8 kiosk connections, 6 services) against the raw Function's (qbench-raw fcall, 8 connections,
# the same rate) on the same Redis, the raw run just before and after each qserver run, as
# bench/run.sh and bench/ratios.sh measure it. Given several builds, each round runs every
# build in turn (a fresh qserver each, the order turned round every other round), so a busy
# neighbour hurts them alike; it prints every round, the machine's load, and the medians.
# usage: bench/p99.sh ROUNDS BUILD [BUILD...]
# Each run also times QB_SOLO (2,000) takes one at a time, through qserver and straight to
# Redis: the difference of the two p50s is the hop itself, which the load moves less.
# Knobs (environment): QB_SECONDS measured seconds per run (8), QB_KEEP=1 keeps the work folder.
set -u
ROUNDS=${1:?usage: bench/p99.sh ROUNDS BUILD [BUILD...]}
shift
[ $# -ge 1 ] || { echo "usage: bench/p99.sh ROUNDS BUILD [BUILD...]" >&2; exit 2; }
SECONDS_EACH=${QB_SECONDS:-8}
SITE_KEY='q:{bench}'
SOLO=${QB_SOLO:-2000} # takes one at a time, through qserver and straight to Redis
WORK=$(mktemp -d /tmp/qhall-p99-XXXXXX)
SOCK="$WORK/redis.sock"
REDIS_PID=""
QSERVER_PID=""

. "$(dirname "$0")/lib.sh" # builds_from_args, start_redis, start_qserver, jnum, least, median
builds_from_args p99 "$@"
trap stop_started EXIT

# The raw Function's p99 (ms) at 1,000 FCALLs a second over 8 connections.
raw_p99() {
	local now day
	now=$(date +%s)
	day=$(TZ=Asia/Shanghai date +%FT%H) # the day and hour, as qserver passes them
	"${BUILDS[0]}/qbench-raw" fcall "unix:$SOCK" 1000 "$SECONDS_EACH" 8 FCALL qh_take 1 "$SITE_KEY" "$now" "$day" 0 A normal kiosk "" \
		>"$WORK/raw.json" 2>"$WORK/raw.err"
	jnum "$WORK/raw.json" p99_ms
}

# Runs 1,000 takes a second through a fresh qserver of one build; prints its p99 (ms) and
# qserver's CPU time over its life (ms).
take_p99() {
	local build=$1 cpu
	start_qserver "$build" --rate 1000000
	"$build/qbench" --server "127.0.0.1:$QSERVER_PORT" --json --label take --scenario take --conns 8 --rate 1000 \
		--warmup 1 --duration "$SECONDS_EACH" --services A,B,C,D,E,F >"$WORK/take.json" 2>"$WORK/take.err"
	# one take at a time: each latency is one trip through the hop
	"$build/qbench" --server "127.0.0.1:$QSERVER_PORT" --json --label solo --scenario take --conns 1 --depth 1 \
		--requests "$SOLO" --duration 60 --services A >"$WORK/solo.json" 2>"$WORK/solo.err"
	cpu=$(stop_qserver_cpu_ms)
	[ "$(jnum "$WORK/take.json" errors total)" = 0 ] || echo "p99: $(jnum "$WORK/take.json" errors total) errors" >&2
	echo "$(jnum "$WORK/take.json" latency p99_ms) $cpu $(jnum "$WORK/solo.json" latency p50_ms)"
}

# One FCALL at a time straight to Redis: the p50 (ms) of a trip without the hop.
raw_solo_p50() {
	local day
	day=$(TZ=Asia/Shanghai date +%FT%H)
	redis-benchmark -s "$SOCK" -n "$SOLO" -c 1 --csv FCALL qh_take 1 "$SITE_KEY" "$(date +%s)" "$day" 0 A normal kiosk "" \
		>"$WORK/solo_raw.csv" 2>/dev/null
	awk -F'","' 'NR == 2 { print $5 + 0 }' "$WORK/solo_raw.csv"
}

start_redis

# The raw runs call the library a qserver loads: one is started once before them.
start_qserver "${BUILDS[0]}"
stop_qserver_cpu_ms >/dev/null

declare -A P99 RATIO CPU HOP
echo "round build take_p99_ms raw_floor_ms (before, after) ratio qserver_cpu_ms load solo_p50_ms raw_solo_p50_ms hop_us"
before=$(raw_p99)
for r in $(seq "$ROUNDS"); do
	order=("${!BUILDS[@]}")
	[ $((r % 2)) -eq 0 ] && order=($(printf '%s\n' "${order[@]}" | sort -rn))
	for i in "${order[@]}"; do
		read -r take cpu solo < <(take_p99 "${BUILDS[$i]}")
		raw_solo=$(raw_solo_p50)
		hop=$(awk -v a="$solo" -v b="$raw_solo" 'BEGIN { printf "%.0f", (a - b) * 1000 }')
		after=$(raw_p99)
		floor=$(least "$before" "$after")
		ratio=$(awk -v a="$take" -v b="$floor" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
		echo "$r ${BUILDS[$i]} $take $floor ($before, $after) ${ratio}x $cpu $(cut -d' ' -f1 /proc/loadavg) $solo $raw_solo $hop"
		P99[$i]="${P99[$i]:-} $take"
		RATIO[$i]="${RATIO[$i]:-} $ratio"
		CPU[$i]="${CPU[$i]:-} $cpu"
		HOP[$i]="${HOP[$i]:-} $hop"
		before=$after
	done
done
for i in "${!BUILDS[@]}"; do
	# shellcheck disable=SC2086 # the lists are space-separated numbers
	echo "median ${BUILDS[$i]}: take p99 $(median ${P99[$i]}) ms, ratio to the raw floor $(median ${RATIO[$i]})x, qserver CPU $(median ${CPU[$i]}) ms, hop $(median ${HOP[$i]}) µs"
done
