#!/bin/bash
# The floor of a take and of a call_next + finish cycle: the Redis instructions of functions
# that issue exactly the Redis commands of the library's take, call_next and finish, with the
# same arguments, and do no other Lua work. On one Redis under callgrind (as
# scripts/fcall-instructions.sh counts, only inside FCALL), with the 6-service hall open at its
# comprehensive window 1, it captures with MONITOR the commands of a take of each service and of
# the call_next + finish of each of those tickets, makes of them a library whose functions
# (floor_take_<s>, floor_call_next_<s>, floor_finish_<s> for service S<s>) issue them again,
# and counts per call N calls of the minimal function (INCR + HSET + ZADD + XADD + PUBLISH),
# of a function issuing no command, N floor takes, N floor cycles, N real takes and N real
# cycles (as scripts/fcall-instructions.sh runs them: the takes' services in turn, then the
# cycles at window 1), each with its ratio to the minimal function, and the library's Lua
# (real - floor). Each figure is split as callgrind sees it: the commands themselves (Redis's
# `call` of each, its reply made), the replies converted to Lua values (`parseReply`), and the
# rest (the Lua, its arguments made Redis strings, the script call's checks); "no-reply" is the
# whole less the conversion, the floor as if the replies were ignored. Then the floor again
# without each of a few groups of commands, and the floor's commands by their cost. Last the
# AOF bytes per ticket life (a take, a call_next and a finish): the AOF's growth over the
# library's and the floor's calls, and the captured writes by group as scripts/fcall-aof.awk
# counts them in the AOF's form, checked against the AOF's growth over the capture.
# What varies per floor call, passed as arguments, so that Redis does the same work each time:
# the ticket's id in the keys and members that hold it (each floor take makes a new ticket hash
# and queue member, each call_next removes the queue's head and each finish packs and deletes
# that ticket), its queue score (ascending, so each take joins the queue's end and each
# call_next takes the oldest), its packed bucket (the id but its last two characters) and slot,
# and the service (the function of the ticket's service). Everything else (times, counts, event
# texts, statistics' values) is the captured constant: a value of the same size costs Redis the
# same.
# usage: scripts/fcall-floor.sh [N]   (N default 200; LIB=OTHER.lua measures another library,
#        FLOOR_LUA=FILE keeps the floor library made)
set -eu
N=${1:-200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIB=$(readlink -f "${LIB:-$ROOT/qserver/functions.lua}")
. "$ROOT/scripts/fcall-callgrind.sh" # callgrind_redis, cli, counted, the hall, the minimal function
NOW=1795830000
DAY=2026-11-28
FL='q:{fl}' # the floor's site: the hall the captured commands ran on
# Command groups left out of the floor one at a time: a name, what it is, and a regular
# expression over a command's name, key and first argument.
FLOOR_GROUPS="est|the estimate's reads (ZCARD, ZCOUNT, HMGET of waiting, nopen, ewma ~classes)|^(ZCARD|ZCOUNT) |^HMGET [^ ]*:(waiting|nopen) |^HMGET [^ ]*:ewma ~classes
stats|the statistics' HMGET + HSET|^(HMGET|HSET) [^ ]*:st:
streads|the statistics' HMGET (their HSET kept)|^HMGET [^ ]*:st:
audit|the XADD + PUBLISH|^(XADD|PUBLISH) 
hall|the config and window reads (MGET day drain, HMGET cfg, HGETALL w:1)|^MGET |^HMGET [^ ]*:cfg |^HGETALL [^ ]*:w:
reads|the estimate's, the statistics' and the config and window reads (the writes kept)|^(ZCARD|ZCOUNT) |^HMGET [^ ]*:(waiting|nopen) |^HMGET [^ ]*:ewma ~classes|^HMGET [^ ]*:st:|^MGET |^HMGET [^ ]*:cfg |^HGETALL [^ ]*:w:"

callgrind_redis fcall-floor
cli CONFIG SET auto-aof-rewrite-percentage 0 >/dev/null # no rewrite between two AOF sizes
load_minimal
library_load "$LIB" 1
hall_open 1 "$FL"

# A take of each service in turn (S1 to S6) at epoch $1, then at window 1 a call_next (of the
# oldest ticket, so of each take's in turn) and its finish, six times.
hall_round() {
	local s
	for s in 1 2 3 4 5 6; do
		cli FCALL v1_take 1 "$FL" $(($1 + s)) "$(day_arg 1 $(($1 + s)))" 0 S$s normal kiosk "" >/dev/null
	done
	for s in 1 2 3 4 5 6; do
		cli FCALL v1_call_next 1 "$FL" $(($1 + 60 * s)) "$(day_arg 1 $(($1 + 60 * s)))" 0 1 c01 >/dev/null
		cli FCALL v1_finish 1 "$FL" $(($1 + 60 * s + 30)) "$(day_arg 1 $(($1 + 60 * s + 30)))" 0 1 "" >/dev/null
	done
}

# The AOF's size in bytes; fails, saying so, when Redis keeps none.
aof_size() {
	local size
	size=$(cli INFO persistence | tr -d '\r' | awk -F: '$1 == "aof_current_size" { print $2 }')
	[ -n "$size" ] || { echo "fcall-floor: Redis reports no aof_current_size: its AOF is off" >&2; exit 1; }
	echo "$size"
}

# The capture: a round after two first ones, so that what a day's first ticket of a service
# does once (its numbering's and its packed bucket's expiry) is not captured and the recent
# list is full, as in a hall open a while (each call then drops its oldest entry); an ECHO
# after it tells when MONITOR has shown it all.
hall_round "$NOW"
hall_round $((NOW + 600))
timeout 60 redis-cli -s "$SOCK" MONITOR >"$WORK/monitor.txt" &
MONITOR_PID=$!
for _ in $(seq 100); do cli CLIENT LIST TYPE normal | grep -q 'cmd=monitor' && break; sleep 0.1; done
CAPTURE_AOF=$(aof_size)
hall_round $((NOW + 1200))
CAPTURE_AOF=$(($(aof_size) - CAPTURE_AOF))
cli ECHO floor-capture-end >/dev/null
for _ in $(seq 100); do grep -q floor-capture-end "$WORK/monitor.txt" && break; sleep 0.1; done
kill "$MONITOR_PID" 2>/dev/null || true
wait "$MONITOR_PID" 2>/dev/null || true
# The tickets the capture's takes made, "id score" each in order: their HSETs of a new hash.
TICKETS=$(sed -n "s/.*\"HSET\" \"$FL:t:\([^\"]*\)\".*\"score\" \"\([0-9]*\)\".*/\1 \2/p" "$WORK/monitor.txt")
if [ "$(echo "$TICKETS" | wc -w)" != 12 ] || [ "$(grep -c '"FCALL" "v1_finish"' "$WORK/monitor.txt")" != 6 ]; then
	echo "fcall-floor: the capture found $(echo "$TICKETS" | wc -w) of 12 ticket ids and scores in $(wc -l <"$WORK/monitor.txt") lines of MONITOR: no take of $LIB ran" >&2
	exit 1
fi
read -r -a CAPTURED <<<"${TICKETS//$'\n'/ }"
# The capture's writes in AOF bytes, "<function> <group> <bytes>" a line, and their sum, which
# must agree with the AOF's growth over the capture within 2%.
awk -f "$ROOT/scripts/monitor.awk" -f "$ROOT/scripts/fcall-aof.awk" "$WORK/monitor.txt" >"$WORK/aof-groups"
CAPTURE_COUNTED=$(awk '{ n += $NF } END { print n + 0 }' "$WORK/aof-groups")
if ! awk -v c="$CAPTURE_COUNTED" -v m="$CAPTURE_AOF" 'BEGIN { exit !(m > 0 && (c - m) ^ 2 <= (m / 50) ^ 2) }'; then
	echo "fcall-floor: the captured writes count $CAPTURE_COUNTED AOF bytes but the AOF grew $CAPTURE_AOF over the capture" >&2
	exit 1
fi
SCORE=${CAPTURED[11]} # the last take's: the floor's scores come after it

# Writes a library named floor_$1 (functions $1_take_<s>, $1_call_next_<s>, $1_finish_<s> for
# service S<s>) issuing the captured commands but those whose "name key first-argument"
# matches $2 (none when empty), and the number of commands of each to $WORK/commands.$1.
floor_library() {
	awk -v v="$1" -v skip="$2" -v site="$FL" -v tickets="$TICKETS" \
		-v counts="$WORK/commands.$1" -f "$ROOT/scripts/monitor.awk" -f "$ROOT/scripts/fcall-floor.awk" "$WORK/monitor.txt"
}

# The mean number of commands of function $2 (take, call_next, finish) of floor $1.
commands_of() { awk -v f="$2" '$1 == f { n += $2; c++ } END { printf "%.0f", c ? n / c : 0 }' "$WORK/commands.$1"; }

floor_library floor "" >"$WORK/floor.lua" || exit 1
for fn in take call_next finish; do
	[ "$(commands_of floor $fn)" -gt 0 ] || {
		echo "fcall-floor: the capture found no commands of $fn" >&2
		exit 1
	}
done
cli -x FUNCTION LOAD REPLACE <"$WORK/floor.lua" >/dev/null
# What any FCALL costs before its first command: a function that issues none.
cli FUNCTION LOAD REPLACE "#!lua name=floor_empty
redis.register_function('floor_empty', function(keys, args) return 0 end)" >/dev/null
[ -z "${FLOOR_LUA:-}" ] || cp "$WORK/floor.lua" "$FLOOR_LUA"
while IFS='|' read -r name _ pattern; do
	floor_library "$name" "$pattern" >"$WORK/floor-$name.lua"
	cli -x FUNCTION LOAD REPLACE <"$WORK/floor-$name.lua" >/dev/null
done <<<"$FLOOR_GROUPS"

# Callgrind's functions of the newest dump with their inclusive instructions, "count name" a
# line (Redis's own functions only).
dump_functions() {
	callgrind_annotate --inclusive=yes --threshold=100 "$(find "$WORK" -name 'cg.out.*' | sort -t. -k3 -n | tail -1)" 2>/dev/null |
		tr -d , | awk '$NF ~ /redis/ && $(NF - 1) ~ /^\?\?\?:/ { print $1, substr($(NF - 1), 5) }'
}

# The parts of the newest dump: the commands' own instructions (the inner calls of Redis's
# `call`) and the replies' conversion to Lua values (parseReply), inclusive.
parts() {
	dump_functions | awk '$2 == "call\x272" { c = $1 } $2 == "parseReply" { r = $1 } END { print c + 0, r + 0 }'
}

# The commands of the newest dump by their instructions per call over $1 calls, the largest
# first: "name instructions" (Redis's command functions, their reply made).
by_command() {
	dump_functions | awk -v n="$1" '$2 ~ /Command$/ && $2 !~ /^(fcall|process|lookup|generic)|Generic/ { printf " %s %.0f", substr($2, 1, length($2) - 7), $1 / n }'
}

# Fails, saying so, unless the floor's queue holds $1 tickets and no ticket hash is left once
# it is empty: the floor's call_next took the ticket each take queued.
floor_check() {
	local queued hashes
	queued=$(cli ZCARD "$FL:wq:*:normal")
	hashes=$(cli --scan --pattern "$FL:t:*" | wc -l)
	if [ "$queued" != "$1" ] || { [ "$1" = 0 ] && [ "$hashes" != 0 ]; }; then
		echo "fcall-floor: the floor's queue holds $queued tickets (expected $1) and $hashes ticket hashes" >&2
		exit 1
	fi
}

MIN_PER=""
# Runs the commands on stdin, then prints label $1's instructions per call over $2 calls: the
# whole, its ratio to the minimal function, the whole less the replies' conversion and its
# ratio, the commands themselves, the conversion and the rest; sets LAST to the whole and
# LAST_AOF to the AOF's growth per call.
phase() {
	local label=$1 calls=$2 total commands replies piped aof
	aof=$(aof_size)
	piped=$(cli --pipe 2>&1)
	LAST_AOF=$(awk -v a="$(($(aof_size) - aof))" -v n="$calls" 'BEGIN { printf "%.0f", a / n }')
	case "$piped" in
	*"errors: 0,"*) ;;
	*) echo "fcall-floor: $label: $(echo "$piped" | grep -m 3 -v '^All data\|^Last reply')" >&2; exit 1 ;;
	esac
	total=$(counted)
	read -r commands replies < <(parts)
	LAST=$(awk -v a="$total" -v n="$calls" 'BEGIN { printf "%.0f", a / n }')
	[ -n "$MIN_PER" ] || MIN_PER=$LAST
	awk -v l="$label" -v a="$total" -v c="$commands" -v r="$replies" -v n="$calls" -v m="$MIN_PER" 'BEGIN {
		printf "%-40s %10.0f %6.1fx %10.0f %6.1fx %10.0f %9.0f %10.0f\n", l, a / n, a / n / m,
			(a - r) / n, (a - r) / n / m, c / n, r / n, (a - c - r) / n }'
}

FLOOR_SEQ=100 # the floor's tickets are numbered from 100 in each service, after the capture's
FLOOR_SCORE=$SCORE
# The floor's j-th ticket of a phase, of service S((j % 6) + 1) as the real takes below, as the
# floor functions' arguments: "<s> <id> <score> <bucket> <slot>", the id numbered in its
# service, the scores ascending.
floor_ticket() {
	local s=$((($1 % 6) + 1)) id
	id=${CAPTURED[2 * s - 2]}
	id=${id:0:${#id}-3}$(printf '%03d' $((FLOOR_SEQ + $1 / 6)))
	echo "$s $id $((FLOOR_SCORE + $1)) ${id:0:${#id}-2} ${id: -2}"
}
# N floor takes of floor $1: FCALL $1_take_<s> 0 <id> <score> <bucket> <slot>.
floor_takes() {
	local j s args
	for j in $(seq "$N"); do
		read -r s args <<<"$(floor_ticket "$j")"
		echo "FCALL $1_take_$s 0 $args"
	done
}
# N floor cycles of floor $1, of the tickets floor_takes made, in their order.
floor_cycles() {
	local j s args
	for j in $(seq "$N"); do
		read -r s args <<<"$(floor_ticket "$j")"
		echo "FCALL $1_call_next_$s 0 $args"
		echo "FCALL $1_finish_$s 0 $args"
	done
}
# Numbers the next phase's floor tickets after this one's.
floor_next() {
	FLOOR_SEQ=$((FLOOR_SEQ + N / 6 + 1))
	FLOOR_SCORE=$((FLOOR_SCORE + N))
}

echo "fcall-floor: $N calls a phase, $LIB; the floor issues, with the same arguments, the commands of"
echo "  a take: $(commands_of floor take), a call_next: $(commands_of floor call_next), a finish: $(commands_of floor finish) (a mean over the six services)"
echo "instructions per call (ratio to the minimal function):"
printf '%-40s %10s %7s %10s %7s %10s %9s %10s\n' "" whole ratio "no-reply" ratio commands replies rest
counted >/dev/null
for j in $(seq "$N"); do echo "FCALL min_take 1 q:{fimin} $NOW"; done >"$WORK/calls"
phase "minimal function" "$N" <"$WORK/calls"
for j in $(seq "$N"); do echo "FCALL floor_empty 0 $(floor_ticket "$j" | cut -d' ' -f2-)"; done >"$WORK/calls"
phase "a function issuing no command" "$N" <"$WORK/calls"
floor_takes floor >"$WORK/calls"
phase "floor take" "$N" <"$WORK/calls"
FLOOR_TAKE=$LAST
FLOOR_TAKE_AOF=$LAST_AOF
TAKE_COMMANDS=$(by_command "$N")
floor_check "$N"
floor_cycles floor >"$WORK/calls"
phase "floor call_next + finish" "$N" <"$WORK/calls"
FLOOR_CYCLE=$LAST
FLOOR_CYCLE_AOF=$LAST_AOF
CYCLE_COMMANDS=$(by_command "$N")
floor_check 0
floor_next
for j in $(seq "$N"); do
	echo "FCALL v1_take 1 q:{v1} $((NOW + j)) $(day_arg 1 $((NOW + j))) 0 S$(((j % 6) + 1)) normal kiosk \"\""
done >"$WORK/calls"
phase "take (qh_take)" "$N" <"$WORK/calls"
TAKE=$LAST
TAKE_AOF=$LAST_AOF
for j in $(seq "$N"); do
	echo "FCALL v1_call_next 1 q:{v1} $((NOW + N + j * 60)) $(day_arg 1 $((NOW + N + j * 60))) 0 1 c01"
	echo "FCALL v1_finish 1 q:{v1} $((NOW + N + j * 60 + 30)) $(day_arg 1 $((NOW + N + j * 60 + 30))) 0 1 \"\""
done >"$WORK/calls"
phase "call_next + finish (qh_call_next, qh_finish)" "$N" <"$WORK/calls"
CYCLE=$LAST
CYCLE_AOF=$LAST_AOF
while IFS='|' read -r name what _; do
	echo "floor without $what: take $(commands_of "$name" take) commands, call_next + finish $(($(commands_of "$name" call_next) + $(commands_of "$name" finish)))"
	floor_takes "$name" >"$WORK/calls"
	phase "  take" "$N" <"$WORK/calls"
	floor_cycles "$name" >"$WORK/calls"
	phase "  call_next + finish" "$N" <"$WORK/calls"
	floor_check 0
	floor_next
done <<<"$FLOOR_GROUPS"
awk -v t="$TAKE" -v ft="$FLOOR_TAKE" -v c="$CYCLE" -v fc="$FLOOR_CYCLE" -v m="$MIN_PER" 'BEGIN {
	printf "the library'"'"'s Lua (real - floor): take %.0f (%.1fx the minimal function), call_next + finish %.0f (%.1fx)\n",
		t - ft, (t - ft) / m, c - fc, (c - fc) / m }'
echo "the floor's commands, instructions per call (each command's own, its reply made):"
echo "  take:$TAKE_COMMANDS"
echo "  call_next + finish:$CYCLE_COMMANDS"
echo "AOF bytes per ticket life (a take, a call_next and a finish), measured (aof_current_size):"
echo "  the library: take $TAKE_AOF + call_next + finish $CYCLE_AOF = $((TAKE_AOF + CYCLE_AOF))"
echo "  the floor: take $FLOOR_TAKE_AOF + call_next + finish $FLOOR_CYCLE_AOF = $((FLOOR_TAKE_AOF + FLOOR_CYCLE_AOF))"
echo "  the capture's 6 lives: $((CAPTURE_AOF / 6)) ($CAPTURE_AOF in all); counted from their commands: $((CAPTURE_COUNTED / 6)) ($CAPTURE_COUNTED)"
echo "the captured lives' AOF bytes per life by group of writes:"
awk '{ g = $2; for (i = 3; i < NF; i++) g = g " " $i; b[g, $1] += $NF; t[g] += $NF; f[$1] += $NF }
	END {
		printf "  %-32s %6s %10s %7s %6s\n", "", "take", "call_next", "finish", "life"
		for (g in t) printf "  %-32s %6.0f %10.0f %7.0f %6.0f\n", g, b[g, "take"] / 6, b[g, "call_next"] / 6, b[g, "finish"] / 6, t[g] / 6 | "sort -k1,1"
		close("sort -k1,1")
		printf "  %-32s %6.0f %10.0f %7.0f %6.0f\n", "all", f["take"] / 6, f["call_next"] / 6, f["finish"] / 6, (f["take"] + f["call_next"] + f["finish"]) / 6
	}' "$WORK/aof-groups"
