#!/bin/bash
# Where a take's microseconds go, end to end, without perf: N takes through qserver (qbench,
# closed loop), and around them Redis's INFO commandstats (the Function, and each command it
# called), the CPU time of the Redis and qserver processes (/proc/PID/stat), and the same for
# the minimal function of bench/minimal.lua; then one take at a time through qserver against
# FCALL straight to Redis, for the time qserver's hop adds. Prints Markdown.
# usage: bench/breakdown.sh BUILD [N]
#   Starts its own Redis and qserver on bench/hall.json; with BD_SOCK, BD_PORT, BD_RPID and
#   BD_QPID set it measures those instead (bench/run.sh does so).
set -u
BUILD=${1:?usage: bench/breakdown.sh BUILD [N]}
BUILD=$(cd "$BUILD" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${2:-3000}
SITE_KEY='q:{bench}'
WORK=$(mktemp -d /tmp/qhall-breakdown-XXXXXX)
OWN_RPID="" OWN_QPID=""

# Stops what this script started, by process id.
cleanup() {
	[ -n "$OWN_QPID" ] && kill "$OWN_QPID" 2>/dev/null && wait "$OWN_QPID" 2>/dev/null
	[ -n "$OWN_RPID" ] && kill "$OWN_RPID" 2>/dev/null && wait "$OWN_RPID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "${BD_SOCK:-}" ]; then
	SOCK=$BD_SOCK PORT=$BD_PORT RPID=$BD_RPID QPID=$BD_QPID
else
	SOCK="$WORK/redis.sock"
	redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --dir "$WORK" --appendonly yes \
		--appendfsync everysec --save '' --daemonize no --logfile "$WORK/redis.log" --loglevel warning &
	OWN_RPID=$! RPID=$!
	for _ in $(seq 100); do redis-cli -s "$SOCK" ping >/dev/null 2>&1 && break; sleep 0.05; done
	PORT=$((20000 + RANDOM % 12000))
	"$BUILD/qserver" --config "$ROOT/bench/hall.json" --always-open --rate 1000000 --log-level warn \
		--redis "unix:$SOCK" --listen "127.0.0.1:$PORT" >"$WORK/qserver.log" 2>&1 &
	OWN_QPID=$! QPID=$!
	for _ in $(seq 200); do "$BUILD/qcli" --server "127.0.0.1:$PORT" services >/dev/null 2>&1 && break; sleep 0.05; done
fi

# CPU seconds (user + system) a process has used so far.
cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}

# Prints "calls usec" per command since the last CONFIG RESETSTAT, one command a line.
cmdstats() {
	redis-cli -s "$SOCK" info commandstats | tr -d '\r' |
		awk -F'[:,=]' '/^cmdstat_/ { sub(/^cmdstat_/, "", $1); print $1, $3, $5 }'
}

# Runs a command with Redis's statistics reset before it; leaves the statistics in
# $WORK/NAME.stats and the processes' CPU seconds in NAME_RCPU and NAME_QCPU.
measure() {
	local name=$1 r0 q0
	shift
	redis-cli -s "$SOCK" config resetstat >/dev/null
	r0=$(cpu_s "$RPID") q0=$(cpu_s "$QPID")
	"$@"
	cmdstats >"$WORK/$name.stats"
	eval "${name}_RCPU=$(awk -v a="$r0" -v b="$(cpu_s "$RPID")" 'BEGIN { print b - a }')"
	eval "${name}_QCPU=$(awk -v a="$q0" -v b="$(cpu_s "$QPID")" 'BEGIN { print b - a }')"
}

redis-cli -s "$SOCK" -x function load replace <"$ROOT/bench/minimal.lua" >/dev/null
measure take "$BUILD/qbench" --server "127.0.0.1:$PORT" --json --scenario take --conns 4 --depth 4 \
	--requests "$N" --duration 60 --services A >"$WORK/take.json" 2>/dev/null
measure minimal redis-benchmark -s "$SOCK" -n "$N" -c 4 -q FCALL qhb_ticket 1 "$SITE_KEY" "$(date +%s)" A >/dev/null 2>&1

# One call at a time, so each latency is one trip: through qserver, and straight to Redis.
SOLO=$((N / 3))
"$BUILD/qbench" --server "127.0.0.1:$PORT" --json --scenario take --conns 1 --depth 1 --requests "$SOLO" \
	--duration 60 --services A >"$WORK/solo.json" 2>/dev/null
day=$(TZ=Asia/Shanghai date +%F)
redis-benchmark -s "$SOCK" -n "$SOLO" -c 1 --csv FCALL qh_take 1 "$SITE_KEY" "$(date +%s)" "$day" 0 A normal kiosk "" \
	>"$WORK/solo_raw.csv" 2>/dev/null
redis-benchmark -s "$SOCK" -n "$SOLO" -c 1 --csv FCALL qhb_ticket 1 "$SITE_KEY" "$(date +%s)" A >"$WORK/solo_min.csv" 2>/dev/null

takes=$(grep -o '"ok":[0-9]*' "$WORK/take.json" | head -1 | cut -d: -f2)
p50=$(grep -o '"p50_ms":[0-9.]*' "$WORK/take.json" | head -1 | cut -d: -f2)
[ -n "$takes" ] && [ "$takes" -gt 0 ] || { echo "breakdown: no take was answered" >&2; exit 1; }

# Microseconds per unit: per TOTAL_USEC UNITS.
per() { awk -v u="$1" -v n="$2" 'BEGIN { printf "%.1f", n ? u / n : 0 }'; }
fcall_usec() { awk '$1 == "fcall" { print $3 }' "$WORK/$1.stats"; }
inner_usec() { awk '$1 != "fcall" && $1 != "config" && $1 != "info" { s += $3 } END { print s + 0 }' "$WORK/$1.stats"; }

take_f=$(fcall_usec take) take_in=$(inner_usec take)
min_f=$(fcall_usec minimal) min_in=$(inner_usec minimal)
echo "### Where a take's microseconds go (bench/breakdown.sh, $takes takes)"
echo
echo "| part | µs per take | minimal function, µs per call |"
echo "|---|---|---|"
echo "| Redis: the whole Function call (\`cmdstat_fcall\`) | $(per "$take_f" "$takes") | $(per "$min_f" "$N") |"
echo "| of which Redis commands the Function called | $(per "$take_in" "$takes") | $(per "$min_in" "$N") |"
echo "| of which Lua itself (the rest) | $(per $((take_f - take_in)) "$takes") | $(per $((min_f - min_in)) "$N") |"
echo "| Redis process CPU in all (reading, parsing, replying, AOF writes) | $(per "$(awk -v s="$take_RCPU" 'BEGIN { print s * 1e6 }')" "$takes") | $(per "$(awk -v s="$minimal_RCPU" 'BEGIN { print s * 1e6 }')" "$N") |"
echo "| qserver process CPU (request, FCALL, reply, event fan-out) | $(per "$(awk -v s="$take_QCPU" 'BEGIN { print s * 1e6 }')" "$takes") | |"
echo "| client-seen latency p50 (4 kiosks x 4 in flight) | $(awk -v p="$p50" 'BEGIN { printf "%.0f", p * 1000 }') | |"
echo
echo "\`cmdstat\` times are wall time inside Redis, the process rows CPU time (in 10 ms ticks): on a loaded"
echo "machine the first can exceed the second."
echo
# The p50 of a redis-benchmark --csv file, in microseconds.
csv_p50_us() { awk -F'","' 'NR == 2 { printf "%.0f", $5 * 1000 }' "$1"; }
solo_q=$(grep -o '"p50_ms":[0-9.]*' "$WORK/solo.json" | head -1 | cut -d: -f2)
solo_q=$(awk -v p="$solo_q" 'BEGIN { printf "%.0f", p * 1000 }')
solo_r=$(csv_p50_us "$WORK/solo_raw.csv")
solo_m=$(csv_p50_us "$WORK/solo_min.csv")
echo "One take at a time ($SOLO each, p50 of the round trip): through qserver $solo_q µs; \`FCALL qh_take\`"
echo "straight to Redis $solo_r µs; the minimal function straight to Redis $solo_m µs. qserver's hop"
echo "(its parse, checks, FCALL, reply and the extra socket) adds $((solo_q - solo_r)) µs; the Function's"
echo "excess over the minimal one is $((solo_r - solo_m)) µs."
echo
echo "The commands the take Function called, by Redis CPU (calls and µs per take):"
echo
echo "| command | calls per take | µs per take |"
echo "|---|---|---|"
awk -v n="$takes" '$1 != "fcall" && $1 != "config" && $1 != "info" { printf "%s %.2f %.1f\n", $1, $2 / n, $3 / n }' "$WORK/take.stats" |
	sort -k3 -rn | head -12 | awk '{ printf "| %s | %s | %s |\n", $1, $2, $3 }'
