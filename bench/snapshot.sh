#!/bin/bash
# The snapshot figure of `make bench` alone, and where its time goes: qserver on bench/ratios.sh's
# big hall (2,000 services x 100 windows serving all of them) with a Redis of its own, and
# `snapshot` sent 21 times one at a time (`qbench-raw request`), as bench/ratios.sh measures it.
# Given several builds, each round runs every build in turn (a fresh qserver each on the same
# Redis, which loads its own function library; the order turned round every other round), so
# the machine's other work hits them alike. Each run prints the median, Redis's time per
# `qh_snapshot` (INFO commandstats), the medians to the answer's first byte and of the client's
# reading after it, and the answer's bytes. Then the parts the machine's load does not move
# (with valgrind): Redis's instructions per `qh_snapshot` and qserver's per snapshot
# (callgrind), and whether the builds answer the same, byte for byte (the site object's
# "time" left out). Each is measured in two states of the hall, as set up (seeded) and in use
# (learnt: bench/ratios.sh's learn_hall); the instructions in the last state measured.
# usage: bench/snapshot.sh ROUNDS BUILD [BUILD...]
# Knobs (environment): QB_BIG_SERVICES, QB_BIG_WINDOWS (bench/ratios.sh); QB_HALL=FILE measures
# that hall file instead of the big hall; QB_STATES="seeded learnt" the states measured, in that
# order (learnt cannot come before seeded); QB_CALLGRIND=0 leaves out the instruction counts;
# QB_KEEP=1 keeps the work folder.
set -u
ROUNDS=${1:?usage: bench/snapshot.sh ROUNDS BUILD [BUILD...]}
shift
[ $# -ge 1 ] || { echo "usage: bench/snapshot.sh ROUNDS BUILD [BUILD...]" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
WORK=$(mktemp -d /tmp/qhall-snapshot-XXXXXX)
SOCK="$WORK/redis.sock"
REDIS_PID=""
QSERVER_PID=""
REQUESTS=21

. "$ROOT/bench/lib.sh"	   # builds_from_args, start_redis, start_qserver, wait_answers, jnum, median
. "$ROOT/bench/ratios.sh" # big_hall, learn_hall
builds_from_args snapshot "$@"
trap stop_started EXIT

if [ -n "${QB_HALL:-}" ]; then
	cp "$QB_HALL" "$WORK/hall.json"
else
	big_hall >"$WORK/hall.json"
fi
export QSERVER_CONFIG="$WORK/hall.json"
SITE=$(sed -n 's/.*"site": *{ *"id": *"\([^"]*\)".*/\1/p' "$WORK/hall.json" | head -1)
SITE_KEY="q:{$SITE}"

# Redis's microseconds per FCALL_RO since the last CONFIG RESETSTAT.
fcall_ro_usec() {
	redis-cli -s "$SOCK" info commandstats | tr -d '\r' |
		awk -F'[:,=]' '$1 == "cmdstat_fcall_ro" { u = $7 } END { print u + 0 }'
}

# A member of qbench-raw's JSON answer in FILE, or n/a when the build's qbench-raw does not
# give it (an older one): member FILE NAME.
member() {
	if grep -q "\"$2\":" "$1"; then jnum "$1" "$2"; else echo n/a; fi
}

# Writes one snapshot answer of the qserver on PORT to FILE, its site's "time" left out:
# save_answer PORT FILE.
save_answer() {
	exec 3<>"/dev/tcp/127.0.0.1/$1"
	printf '{"op":"snapshot"}\n' >&3
	timeout 10 head -n 1 <&3 | sed 's/"time":[0-9]*/"time":0/' >"$2"
	exec 3>&-
}

# Runs ROUNDS rounds of every build on the hall as Redis holds it now and prints each build's
# medians and whether the builds answer the same: measure_state STATE (its name in the output).
measure_state() {
	local state=$1 round build order i p50 usec first
	declare -A MEDIANS REDIS_US
	for round in $(seq "$ROUNDS"); do
		order=("${BUILDS[@]}")
		if [ $((round % 2)) = 0 ]; then
			order=()
			for ((i = ${#BUILDS[@]} - 1; i >= 0; i--)); do order+=("${BUILDS[i]}"); done
		fi
		for build in "${order[@]}"; do
			start_qserver "$build" --rate 1000000
			redis-cli -s "$SOCK" config resetstat >/dev/null
			"$build/qbench-raw" request "127.0.0.1:$QSERVER_PORT" "$REQUESTS" '{"op":"snapshot"}' >"$WORK/run.json" 2>"$WORK/run.err"
			usec=$(fcall_ro_usec)
			save_answer "$QSERVER_PORT" "$WORK/answer.$(echo "$build" | md5sum | cut -c1-8)"
			kill "$QSERVER_PID" 2>/dev/null
			wait "$QSERVER_PID" 2>/dev/null
			QSERVER_PID=""
			p50=$(jnum "$WORK/run.json" p50_ms)
			MEDIANS[$build]="${MEDIANS[$build]:-} $p50"
			REDIS_US[$build]="${REDIS_US[$build]:-} $usec"
			printf '%s round %d %s: median %s ms (errors %s), Redis %s µs per qh_snapshot (mean), first byte %s ms, read %s ms, %s bytes; load %s\n' \
				"$state" "$round" "$build" "$p50" "$(jnum "$WORK/run.json" errors)" "$usec" \
				"$(member "$WORK/run.json" first_byte_p50_ms)" "$(member "$WORK/run.json" read_p50_ms)" \
				"$(member "$WORK/run.json" bytes)" "$(cut -d' ' -f1-3 /proc/loadavg)"
		done
	done
	for build in "${BUILDS[@]}"; do
		# shellcheck disable=SC2086 # the lists are numbers
		echo "$state $build: median of the rounds' medians $(median ${MEDIANS[$build]}) ms, Redis $(median ${REDIS_US[$build]}) µs per qh_snapshot (median of the means)"
	done
	first="$WORK/answer.$(echo "${BUILDS[0]}" | md5sum | cut -c1-8)"
	for build in "${BUILDS[@]:1}"; do
		if cmp -s "$first" "$WORK/answer.$(echo "$build" | md5sum | cut -c1-8)"; then
			echo "$state answer of $build: the same as ${BUILDS[0]}'s ($(wc -c <"$first") bytes)"
		else
			echo "$state answer of $build: DIFFERS from ${BUILDS[0]}'s"
		fi
	done
}

start_redis
echo "snapshot: $(grep -c '"prefix"' "$WORK/hall.json") services, site $SITE; $REQUESTS requests a run"
# Two states of the hall: as set up (every service seeded with its configured time, the hall's
# mix not learnt yet) and in use (every service a learnt time of its own, the mix learnt:
# bench/ratios.sh's learn_hall, written once a qserver has set the hall up).
for state in ${QB_STATES:-seeded learnt}; do
	if [ "$state" = learnt ]; then
		start_qserver "${BUILDS[0]}"
		kill "$QSERVER_PID" 2>/dev/null
		wait "$QSERVER_PID" 2>/dev/null
		QSERVER_PID=""
		learn_hall "$SOCK" "$SITE_KEY"
	fi
	measure_state "$state"
done

[ "${QB_CALLGRIND:-1}" = 1 ] && command -v valgrind >/dev/null || exit 0

# Instructions counted since the previous dump of the callgrind process PID writing OUT.N
# files: counted PID OUT.
counted() {
	local next
	next=$(($(find "$(dirname "$2")" -name "$(basename "$2").*" | wc -l) + 1))
	callgrind_control -d "$1" >/dev/null 2>&1
	for _ in $(seq 100); do [ -s "$2.$next" ] && break; sleep 0.1; done
	awk '/^summary:|^totals:/ { print $2; exit }' "$2.$next"
}

# Redis's instructions inside FCALL_RO qh_snapshot, each build's library in turn (loaded by a
# qserver of the build): the Redis of the runs above keeps its data, copied to one under
# callgrind counting only inside FCALL and FCALL_RO.
redis-cli -s "$SOCK" save >/dev/null
mkdir -p "$WORK/cg"
cp "$WORK/dump.rdb" "$WORK/cg/"
(cd "$WORK/cg" && exec valgrind --tool=callgrind --toggle-collect=fcallCommand --toggle-collect=fcallroCommand \
	--callgrind-out-file="$WORK/cg/redis.out" redis-server --unixsocket "$WORK/cg/redis.sock" --port 0 \
	--dir "$WORK/cg" --appendonly no --save '' --daemonize no --logfile "$WORK/cg/redis.log" \
	2>"$WORK/cg/valgrind.log") &
CG_REDIS=$!
trap 'kill "$CG_REDIS" 2>/dev/null; wait "$CG_REDIS" 2>/dev/null; stop_started' EXIT
for _ in $(seq 300); do redis-cli -s "$WORK/cg/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
now=$(date +%s)
day=$(TZ=Asia/Shanghai date +%FT%H) # the day and hour, as qserver passes them
# Sends N FCALL_RO qh_snapshot to the Redis under callgrind, as qserver does.
cg_snapshots() {
	for _ in $(seq "$1"); do echo "FCALL_RO qh_snapshot 1 $SITE_KEY $now $day ${now}000"; done |
		redis-cli -s "$WORK/cg/redis.sock" >/dev/null
}
for build in "${BUILDS[@]}"; do
	SOCK="$WORK/cg/redis.sock" start_qserver "$build" --rate 1000000
	for _ in $(seq 5); do wait_answers "$build" "$QSERVER_PORT" && break; done # a slow Redis
	kill "$QSERVER_PID" 2>/dev/null
	wait "$QSERVER_PID" 2>/dev/null
	QSERVER_PID=""
	# five calls first: the garbage of the library's load and the setup is collected in the
	# calls that follow them, and is not the snapshot's
	cg_snapshots 5
	counted "$CG_REDIS" "$WORK/cg/redis.out" >/dev/null
	cg_snapshots 5
	echo "$build: Redis $(($(counted "$CG_REDIS" "$WORK/cg/redis.out") / 5)) instructions per qh_snapshot (callgrind, 5 calls)"
done

# qserver's instructions per snapshot, from the request read to the answer written: each
# build's qserver under callgrind on the Redis of the runs (its own library loaded again).
for build in "${BUILDS[@]}"; do
	port=$(free_port)
	valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg/qserver.out" \
		"$build/qserver" --config "$QSERVER_CONFIG" --always-open --log-level warn --rate 1000000 \
		--redis "unix:$SOCK" --listen "127.0.0.1:$port" >>"$WORK/qserver.log" 2>"$WORK/cg/qserver-valgrind.log" &
	QSERVER_PID=$!
	for _ in $(seq 6); do wait_answers "$build" "$port" && break; done # valgrind starts slowly
	callgrind_control -i on "$QSERVER_PID" >/dev/null 2>&1
	"$build/qbench-raw" request "127.0.0.1:$port" 10 '{"op":"snapshot"}' >/dev/null 2>&1
	echo "$build: qserver $(($(counted "$QSERVER_PID" "$WORK/cg/qserver.out") / 10)) instructions per snapshot (callgrind, 10 requests)"
	kill "$QSERVER_PID" 2>/dev/null
	wait "$QSERVER_PID" 2>/dev/null
	QSERVER_PID=""
	rm -f "$WORK"/cg/qserver.out*
done
