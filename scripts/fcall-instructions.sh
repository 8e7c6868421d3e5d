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
. "$ROOT/scripts/fcall-callgrind.sh" # callgrind_redis, cli, counted, the hall, the minimal function
LIBS=()
for lib in "$@"; do LIBS+=("$(readlink -f "$lib")"); done
[ ${#LIBS[@]} -gt 0 ] || LIBS=("$ROOT/qserver/functions.lua")
NOW=1795830000
DAY=2026-11-28

callgrind_redis fcall-ir
load_minimal
i=0
for lib in "${LIBS[@]}"; do
	i=$((i + 1))
	library_load "$lib" $i
done

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
