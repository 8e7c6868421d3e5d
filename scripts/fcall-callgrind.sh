# shellcheck shell=bash
# Redis under valgrind's callgrind, counting only what runs inside FCALL and FCALL_RO, and the
# 6-service hall and minimal ticket function that the instruction-counting scripts share
# (scripts/fcall-instructions.sh, scripts/fcall-floor.sh; scripts/fcall-breakdown.sh takes the
# minimal function); sourced, it defines functions and the hall's JSON only.
# The callers set NOW and DAY (the bare day, YYYY-MM-DD) before calling them.

# Starts redis-server (AOF on, as the embedded default) under callgrind in a new directory
# $WORK (named after $1), with its socket $SOCK and process $REDIS_PID, stopped when the
# script exits; fails, saying so, without valgrind.
callgrind_redis() {
	command -v valgrind >/dev/null || { echo "$1: needs valgrind" >&2; exit 1; }
	WORK=$(mktemp -d "/tmp/qhall-$1-XXXXXX")
	SOCK="$WORK/redis.sock"
	REDIS_PID=""
	trap callgrind_redis_stop EXIT
	(cd "$WORK" && exec valgrind --tool=callgrind --toggle-collect=fcallCommand --toggle-collect=fcallroCommand \
		--callgrind-out-file="$WORK/cg.out" redis-server --unixsocket "$SOCK" --port 0 --dir "$WORK" \
		--appendonly yes --appendfsync everysec --save '' --daemonize no --logfile "$WORK/redis.log" \
		2>"$WORK/valgrind.log") &
	REDIS_PID=$!
	for _ in $(seq 300); do redis-cli -s "$SOCK" PING >/dev/null 2>&1 && break; sleep 0.1; done
}

# Stops the redis-server callgrind_redis started, by its process id, and removes its directory.
callgrind_redis_stop() {
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
	rm -rf "$WORK"
}

cli() { redis-cli -s "$SOCK" "$@"; }

# Instructions counted since the previous dump (callgrind numbers its dumps cg.out.1, 2, ...).
counted() {
	local next
	next=$(($(find "$WORK" -name 'cg.out.*' | wc -l) + 1))
	callgrind_control -d "$REDIS_PID" >/dev/null 2>&1
	for _ in $(seq 50); do [ -s "$WORK/cg.out.$next" ] && break; sleep 0.1; done
	awk '/^summary:|^totals:/ { print $2; exit }' "$WORK/cg.out.$next"
}

# The 6-service hall: window 1 serves every service, windows 2 and 3 two each.
HALL='{"site":{"id":"fi","sla":900,"retention_days":90},"services":['
for i in 1 2 3 4 5 6; do
	HALL="$HALL$([ "$i" = 1 ] || echo ,){\"id\":\"S$i\",\"prefix\":\"S$i\",\"service_time\":300}"
done
HALL="$HALL],\"windows\":[{\"id\":1,\"services\":[\"*\"]},{\"id\":2,\"services\":[\"S3\",\"S4\"]},{\"id\":3,\"services\":[\"S4\",\"S5\"]}]}"

# Loads the minimal ticket function of bench/minimal.lua's kind (INCR + HSET + ZADD + XADD +
# PUBLISH) as min_take: `FCALL min_take 1 q:{fimin} <now>`.
load_minimal() {
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
}

# Sets up the hall at site key $2 with library $1's functions (v$1_*), opens window 1 and runs
# one cycle, so the learnt times exist as in a hall that has been open a while.
hall_open() {
	echo "$HALL" | cli -x FCALL "v${1}_setup" 1 "$2" "$NOW" "$DAY" 0 >/dev/null
	cli FCALL "v${1}_open" 1 "$2" "$NOW" "$DAY" 0 1 c01 fi/1 $((NOW + 86400)) >/dev/null
	cli FCALL "v${1}_take" 1 "$2" "$NOW" "$DAY" 0 S1 normal kiosk "" >/dev/null
	cli FCALL "v${1}_call_next" 1 "$2" "$NOW" "$DAY" 0 1 c01 >/dev/null
	cli FCALL "v${1}_finish" 1 "$2" "$NOW" "$DAY" 0 1 "" >/dev/null
}

declare -a WITH_HOUR

# Loads library file $1 under the name v$2 (functions v$2_*), with the hall open at site key
# q:{v$2}; notes in WITH_HOUR[$2] whether it takes the day with the hour.
library_load() {
	sed -e "s/^#!lua name=qhall/#!lua name=v$2/" -e "s/register('qh_/register('v${2}_/" "$1" |
		cli -x FUNCTION LOAD REPLACE >/dev/null
	hall_open "$2" "q:{v$2}"
	# the hall has no utc_offsets: its zone is UTC
	WITH_HOUR[$2]=$(cli FCALL "v${2}_services" 1 "q:{v$2}" "$NOW" "${DAY}T00" 0 | grep -c services || true)
}

# The day argument of a call at epoch $2 to library $1.
day_arg() {
	if [ "${WITH_HOUR[$1]}" = 1 ]; then printf '%sT%02d' "$DAY" $((($2 / 3600) % 24)); else echo "$DAY"; fi
}
