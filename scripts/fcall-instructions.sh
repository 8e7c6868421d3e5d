#!/bin/bash
# Redis instructions per call of the function library, counted by valgrind (callgrind) inside
# FCALL: unlike CPU time, the count does not move with the machine's other work, so two
# libraries compare exactly even on a loaded machine. Measures, on one Redis (AOF on, as the
# embedded default), the minimal ticket function of bench/minimal.lua's kind (INCR + HSET + ZADD
# + XADD + PUBLISH), then for each library given N takes and N call_next + finish cycles at one
# comprehensive window of a 6-service hall (each library under its own name and site key), and
# prints instructions per call and the ratio to the minimal function. Each call passes the day
# with the site-local hour (YYYY-MM-DDTHH) as qserver does, or the bare day to a library that
# does not take the hour. With READS=1, then also the reads of statistics of each library:
# `snapshot` and `stats` (scripts/measure-halls.sh's stats_day_reads) of the 1,000-ticket day
# of a 10-service, 10-window hall, today and once the day change folded it (with that fold).
# usage: scripts/fcall-instructions.sh [N] [LIBRARY.lua...]   (N default 200; the library
#        default qserver/functions.lua). Counts only what runs inside FCALL and FCALL_RO (not
#        the AOF writes, the reply or the socket), as INFO commandstats' usec does.
set -eu
N=${1:-200}
shift || true
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/measure-halls.sh" # hall_json, day_at, stats_day_calls, stats_day_reads
LIBS=()
for lib in "$@"; do LIBS+=("$(readlink -f "$lib")"); done
[ ${#LIBS[@]} -gt 0 ] || LIBS=("$ROOT/qserver/functions.lua")
WORK=$(mktemp -d /tmp/qhall-fcall-ir-XXXXXX)
declare -a WITH_HOUR
SOCK="$WORK/redis.sock"
NOW=1795830000
DAY=2026-11-28
REDIS_PID=""

# Stops the redis-server this script started, by its process id.
cleanup() {
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

command -v valgrind >/dev/null || { echo "fcall-instructions: needs valgrind" >&2; exit 1; }
(cd "$WORK" && exec valgrind --tool=callgrind --toggle-collect=fcallCommand --toggle-collect=fcallroCommand \
	--callgrind-out-file="$WORK/cg.out" redis-server --unixsocket "$SOCK" --port 0 --dir "$WORK" \
	--appendonly yes --appendfsync everysec --save '' --daemonize no --logfile "$WORK/redis.log" \
	2>"$WORK/valgrind.log") &
REDIS_PID=$!
for _ in $(seq 300); do redis-cli -s "$SOCK" PING >/dev/null 2>&1 && break; sleep 0.1; done
cli() { redis-cli -s "$SOCK" "$@"; }

HALL='{"site":{"id":"fi","sla":900,"retention_days":90},"services":['
for i in 1 2 3 4 5 6; do
	HALL="$HALL$([ "$i" = 1 ] || echo ,){\"id\":\"S$i\",\"prefix\":\"S$i\",\"service_time\":300}"
done
HALL="$HALL],\"windows\":[{\"id\":1,\"services\":[\"*\"]},{\"id\":2,\"services\":[\"S3\",\"S4\"]},{\"id\":3,\"services\":[\"S4\",\"S5\"]}]}"

cli FUNCTION LOAD REPLACE "#!lua name=fimin
redis.register_function('min_take', function(keys, args)
  local n = redis.call('INCR', keys[1] .. ':seq')
  local id = 'T' .. n
  redis.call('HSET', keys[1] .. ':t:' .. id, 'number', id, 'state', 'waiting', 'issued_at', args[1])
  redis.call('ZADD', keys[1] .. ':q', n, id)
  local sid = redis.call('XADD', keys[1] .. ':events', '*', 'type', 'ticket', 'data', id)
  redis.call('PUBLISH', keys[1] .. ':ev', sid .. ' ' .. id)
  return id
end)" >/dev/null
i=0
for lib in "${LIBS[@]}"; do
	i=$((i + 1))
	sed -e "s/^#!lua name=qhall/#!lua name=v$i/" -e "s/register('qh_/register('v${i}_/" "$lib" |
		cli -x FUNCTION LOAD REPLACE >/dev/null
	echo "$HALL" | cli -x FCALL "v${i}_setup" 1 "q:{v$i}" $NOW $DAY 0 >/dev/null
	cli FCALL "v${i}_open" 1 "q:{v$i}" $NOW $DAY 0 1 c01 fi/1 $((NOW + 86400)) >/dev/null
	# one cycle first, so the learnt times exist as in a hall that has been open a while
	cli FCALL "v${i}_take" 1 "q:{v$i}" $NOW $DAY 0 S1 normal kiosk "" >/dev/null
	cli FCALL "v${i}_call_next" 1 "q:{v$i}" $NOW $DAY 0 1 c01 >/dev/null
	cli FCALL "v${i}_finish" 1 "q:{v$i}" $NOW $DAY 0 1 "" >/dev/null
	# the hall has no utc_offsets: its zone is UTC
	WITH_HOUR[$i]=$(cli FCALL "v${i}_services" 1 "q:{v$i}" $NOW "${DAY}T00" 0 | grep -c services || true)
done
# The day argument of a call at epoch $2 to library $1.
day_arg() {
	if [ "${WITH_HOUR[$1]}" = 1 ]; then printf '%sT%02d' "$DAY" $((($2 / 3600) % 24)); else echo "$DAY"; fi
}

# Instructions counted since the previous dump (callgrind numbers its dumps cg.out.1, 2, ...).
counted() {
	local next
	next=$(($(find "$WORK" -name 'cg.out.*' | wc -l) + 1))
	callgrind_control -d "$REDIS_PID" >/dev/null 2>&1
	for _ in $(seq 50); do [ -s "$WORK/cg.out.$next" ] && break; sleep 0.1; done
	awk '/^summary:|^totals:/ { print $2; exit }' "$WORK/cg.out.$next"
}
counted >/dev/null
for j in $(seq "$N"); do echo "FCALL min_take 1 q:{fimin} $NOW"; done | cli --pipe >/dev/null
MIN=$(counted)
per() { awk -v a="$1" -v n="$N" 'BEGIN { printf "%.0f", a / n }'; }
ratio() { awk -v a="$1" -v b="$MIN" 'BEGIN { printf "%.1f", a / b }'; }
echo "minimal function: $(per "$MIN") instructions per call"
i=0
for lib in "${LIBS[@]}"; do
	i=$((i + 1))
	for j in $(seq "$N"); do
		echo "FCALL v${i}_take 1 q:{v$i} $((NOW + j)) $(day_arg $i $((NOW + j))) 0 S$(((j % 6) + 1)) normal kiosk \"\""
	done | cli --pipe >/dev/null
	TAKE=$(counted)
	for j in $(seq "$N"); do
		echo "FCALL v${i}_call_next 1 q:{v$i} $((NOW + N + j * 60)) $(day_arg $i $((NOW + N + j * 60))) 0 1 c01"
		echo "FCALL v${i}_finish 1 q:{v$i} $((NOW + N + j * 60 + 30)) $(day_arg $i $((NOW + N + j * 60 + 30))) 0 1 \"\""
	done | cli --pipe >/dev/null
	CYCLE=$(counted)
	echo "$lib: take $(per "$TAKE") ($(ratio "$TAKE")x), call_next + finish $(per "$CYCLE") ($(ratio "$CYCLE")x)"
done
[ "${READS:-0}" = 1 ] || exit 0
# Instructions per call of $2 calls of FCALL_RO $3 on site $1 with the arguments after it.
read_cost() {
	local site=$1 n=$2 fn=$3
	shift 3
	counted >/dev/null
	for _ in $(seq "$n"); do echo "FCALL_RO $fn 1 $site $((NOW + 36000)) $(day_at $((NOW + 36000))) 0 $*"; done | cli --pipe >/dev/null
	per_n "$(counted)" "$n"
}
per_n() { awk -v a="$1" -v n="$2" 'BEGIN { printf "%.0f", a / n }'; }
# The reads of stats_day_reads $2 on site $1 by function $3, "label instructions" each.
stats_reads() {
	local label args
	stats_day_reads "$2" | while read -r label args; do echo -n " $label $(read_cost "$1" 5 "$3" "$args")"; done
}
i=0
for lib in "${LIBS[@]}"; do
	i=$((i + 1))
	site="q:{r$i}"
	hall_json 10 10 | cli -x FCALL "v${i}_setup" 1 "$site" $NOW "$(day_at $NOW)" 0 >/dev/null
	stats_day_calls "$site" $NOW | sed "s/FCALL qh_/FCALL v${i}_/" | cli --pipe >/dev/null 2>&1 || true
	# a few calls first, so that the garbage of the day's calls is not counted in the reads
	read_cost "$site" 10 "v${i}_snapshot" >/dev/null
	echo "$lib: reads of the day: snapshot $(read_cost "$site" 5 "v${i}_snapshot")$(stats_reads "$site" today "v${i}_stats")"
	counted >/dev/null
	cli FCALL "v${i}_day" 1 "$site" $((NOW + 86400)) 2026-11-29T01 0 >/dev/null
	echo "  the day change folding it: $(counted); folded:$(stats_reads "$site" folded "v${i}_stats")"
done
