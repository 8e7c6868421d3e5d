#!/bin/bash
# Where a take's microseconds go: loads qserver/functions.lua into a private redis-server (AOF
# on, as the embedded default) and measures, on the same Redis in the same run, Redis's
# main-thread CPU per call (INFO commandstats) of
#   - a minimal ticket function (INCR + HSET + ZADD + XADD + PUBLISH), the yardstick;
#   - qh_take, and a qh_call_next + qh_finish cycle, with their ratio to the yardstick
#     (each the fastest of ROUNDS interleaved batches, default 5, so that the machine's other
#     work does not skew the ratios);
#   - where a take's time goes: its Redis commands replayed alone, and the rest (the Lua);
#   - AOF bytes and Redis memory per ticket life (take, call, finish), and the memory of the
#     event stream and of a ticket hash in it;
#   - settled web tickets with a phone ref, without and with notify marks: their share of
#     their buckets, their packed values' bytes and the buckets' encodings;
#   - the day change with DAYN tickets waiting: the slowest single call (SLOWLOG) and the calls;
#   - a booking (qh_book), and the day change with DAYN appointments to mark missed;
#   - `stats` and `snapshot` reads of a day of a 10-service, 10-window hall: today's (not
#     folded yet), the same day once the day change folded it, and its month;
#   - qh_setup and qh_snapshot of a hall of SVCS services x WINS windows.
# usage: scripts/fcall-breakdown.sh [N]   (N tickets per phase, default 2000)
# Knobs (environment): DAYN (20000), SVCS (2000), WINS (100), LIB (the library measured,
# qserver/functions.lua).
set -eu
N=${1:-2000}
DAYN=${DAYN:-20000}
SVCS=${SVCS:-2000}
WINS=${WINS:-100}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIB=${LIB:-$ROOT/qserver/functions.lua}
WORK=$(mktemp -d /tmp/qhall-fcall-XXXXXX)
SOCK="$WORK/redis.sock"
P='q:{fb}'
NOW=1795830000
DAY=2026-11-28T09 # the day with NOW's hour in Beijing, as qserver passes them
REDIS_PID=""

# Stops the redis-server this script started, by its process id.
cleanup() {
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

cli() { redis-cli -s "$SOCK" "$@"; }

# Sends inline commands (one a line, on stdin) in a pipeline, without their replies.
pipe() { redis-cli -s "$SOCK" --pipe >/dev/null; }

# Microseconds per call of FCALL from INFO commandstats since the last CONFIG RESETSTAT.
usec_per_fcall() {
	cli INFO commandstats | tr -d '\r' | awk -F'[=,]' '/^cmdstat_fcall:/ {print $6}'
}

# Bytes of the AOF (all its files).
aof_bytes() { cat "$WORK"/appendonlydir/* | wc -c; }

used_memory() { cli INFO memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}'; }

. "$ROOT/scripts/measure-halls.sh" # hall_json, day_at, stats_day_calls, stats_day_reads
. "$ROOT/scripts/fcall-callgrind.sh" # load_minimal (and cli, the same as above)

redis-server --unixsocket "$SOCK" --port 0 --dir "$WORK" --appendonly yes --appendfsync everysec \
	--save '' --stream-node-max-bytes 16384 --hash-max-listpack-value 128 --daemonize no --logfile "$WORK/redis.log" &
REDIS_PID=$!
for _ in $(seq 100); do cli PING >/dev/null 2>&1 && break; sleep 0.05; done
cli -x FUNCTION LOAD REPLACE <"$LIB" >/dev/null
load_minimal
hall_json 6 10 | cli -x FCALL qh_setup 1 "$P" $NOW $DAY 0 >/dev/null
cli FCALL qh_open 1 "$P" $NOW $DAY 0 1 c01 fb/1 $((NOW + 86400)) >/dev/null

echo "fcall-breakdown: $N tickets per phase, Redis $(cli INFO server | tr -d '\r' | awk -F: '/^redis_version/ {print $2}')"

# Runs each phase in ROUNDS batches, interleaved, and keeps each one's fastest batch: a batch
# the machine's other work slowed down counts for nothing.
ROUNDS=${ROUNDS:-5}
PER=$((N / ROUNDS))
MIN="" TAKE="" CYCLE="" aof=0 mem=0 seq=0
least() { awk -v a="$1" -v b="$2" 'BEGIN {print (a == "" || b + 0 < a + 0) ? b : a}'; }
for r in $(seq "$ROUNDS"); do
	cli CONFIG RESETSTAT >/dev/null
	for i in $(seq "$PER"); do echo "FCALL min_take 1 q:{fbmin} $NOW"; done | pipe
	MIN=$(least "$MIN" "$(usec_per_fcall)")
	aof0=$(aof_bytes)
	mem0=$(used_memory)
	cli CONFIG RESETSTAT >/dev/null
	for i in $(seq "$PER"); do
		seq=$((seq + 1))
		echo "FCALL qh_take 1 $P $NOW $DAY 0 S$(( (seq % 6) + 1 )) normal kiosk \"\""
	done | pipe
	TAKE=$(least "$TAKE" "$(usec_per_fcall)")
	cli CONFIG RESETSTAT >/dev/null
	for i in $(seq "$PER"); do
		echo "FCALL qh_call_next 1 $P $NOW $DAY 0 1 c01"
		echo "FCALL qh_finish 1 $P $NOW $DAY 0 1 \"\""
	done | pipe
	CYCLE=$(least "$CYCLE" "$(awk -v u="$(usec_per_fcall)" 'BEGIN {printf "%.2f", u * 2}')")
	sleep 1.1 # appendfsync everysec: let the last second reach the file
	aof=$((aof + $(aof_bytes) - aof0))
	mem=$((mem + $(used_memory) - mem0))
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a / b}'; }
printf '%-34s %10s %8s\n' "call" "usec/call" "ratio"
printf '%-34s %10s %8s\n' "minimal (INCR HSET ZADD XADD PUB)" "$MIN" "1.0"
printf '%-34s %10s %8s\n' "qh_take" "$TAKE" "$(ratio "$TAKE" "$MIN")"
printf '%-34s %10s %8s\n' "qh_call_next + qh_finish" "$CYCLE" "$(ratio "$CYCLE" "$MIN")"
# Where a take's time goes: the Redis commands one take runs (seen with MONITOR), replayed as
# they are by a function with none of the library's logic, against qh_take itself.
timeout 1 redis-cli -s "$SOCK" MONITOR >"$WORK/monitor.txt" &
MONITOR_PID=$!
sleep 0.3
cli FCALL qh_take 1 "$P" $NOW $DAY 0 S1 normal kiosk "" >/dev/null
wait "$MONITOR_PID" || true # timeout ends it
python3 - "$WORK/monitor.txt" >"$WORK/replay.lua" <<'PY'
import re, sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')
calls, inside = [], False
for line in lines:
    args = [bytes(a, 'latin-1').decode('unicode_escape').encode('latin-1')
            for a in re.findall(r'"((?:[^"\\]|\\.)*)"', line.decode('latin-1'))]
    if not args:
        continue
    if args[0].upper() == b'FCALL':
        inside = args[1] == b'qh_take'
    elif inside:
        calls.append(args)
def lua(a):
    return '[==[' + a.decode('latin-1') + ']==]'
print('#!lua name=fbreplay')
print("redis.register_function('replay_take', function(keys, args)")
for c in calls:
    print('  redis.call(' + ', '.join(lua(a) for a in c) + ')')
print('  return %d' % len(calls))
print('end)')
PY
cli -x FUNCTION LOAD REPLACE <"$WORK/replay.lua" >/dev/null
REPLAY=""
for r in $(seq "$ROUNDS"); do
	cli CONFIG RESETSTAT >/dev/null
	for i in $(seq "$PER"); do echo "FCALL replay_take 0"; done | pipe
	REPLAY=$(least "$REPLAY" "$(usec_per_fcall)")
done
ncommands=$(cli FCALL replay_take 0)
echo "a take: $ncommands Redis commands, replayed alone $REPLAY usec; the library's Lua $(awk -v t="$TAKE" -v c="$REPLAY" 'BEGIN {printf "%.1f", t - c}') usec"
echo "AOF bytes per ticket life:        $((aof / (PER * ROUNDS)))"
# The statistics' share: the bytes of the AOF's commands on statistics keys (only the ticket
# lives above wrote any).
python3 - "$WORK/appendonlydir" $((PER * ROUNDS)) <<'PY'
import glob, sys
data = b''.join(open(f, 'rb').read() for f in sorted(glob.glob(sys.argv[1] + '/*.incr.aof')))
i, stats = 0, 0
while i < len(data):  # RESP arrays of bulk strings, one a command
    start = i
    j = data.index(b'\r\n', i)
    n, i, args = int(data[i + 1:j]), j + 2, []
    for _ in range(n):
        j = data.index(b'\r\n', i)
        size = int(data[i + 1:j])
        args.append(data[j + 2:j + 2 + size])
        i = j + 4 + size
    if len(args) > 1 and b':st:' in args[1]:
        stats += i - start
print('  of which the statistics:         %d' % (stats // int(sys.argv[2])))
PY
echo "memory per ticket (kept 90 days): $((mem / (PER * ROUNDS))) B"
# Where it goes: the audit entries (the stream, three entries a life) and a settled ticket:
# packed in its day's buckets (their memory over the tickets they hold), or in a library
# without them its own hash.
bucket_bytes=0 packed=0
for key in $(cli --scan --pattern "$P:tp:*"); do
	bucket_bytes=$((bucket_bytes + $(cli MEMORY USAGE "$key" SAMPLES 0)))
	packed=$((packed + $(cli HLEN "$key")))
done
if [ "$packed" -gt 0 ]; then
	ticket_mem="a settled ticket packed $((bucket_bytes / packed)) B"
else
	ticket_mem="a done ticket's hash $(cli MEMORY USAGE "$(cli --scan --pattern "$P:t:*" | head -1)") B"
fi
echo "  of which the event stream:      $(($(cli MEMORY USAGE "$P:events" SAMPLES 0) / (PER * ROUNDS))) B; $ticket_mem"
stats_bytes=0
for key in $(cli --scan --pattern "$P:st:*"); do stats_bytes=$((stats_bytes + $(cli MEMORY USAGE "$key"))); done
echo "the day's statistics (all keys):  $stats_bytes B"

# Settled web tickets with a secret (16 characters, as qserver makes them) and a phone ref,
# without and with notify marks (ahead 3, ewt 600, and a phone given by qh_notify): a settled
# ticket's share of its buckets, its packed value's mean bytes, and the buckets' encodings
# (listpack unless a value passes hash-max-listpack-value). Each kind on its own site, N/4
# tickets taken, then called a minute apart and finished 5 minutes after their call.
settled_web() { # site, "" or "notify"
	local site=$1 marks=$2 i id bytes=0 values=0 n=0 enc=""
	hall_json 6 10 | cli -x FCALL qh_setup 1 "$site" $NOW $DAY 0 >/dev/null
	cli FCALL qh_open 1 "$site" $NOW $DAY 0 1 c01 fb/1 $((NOW + 86400)) >/dev/null
	for i in $(seq $((N / 4))); do
		if [ -n "$marks" ]; then
			echo "FCALL qh_take 1 $site $NOW $DAY 0 S1 normal web 138$(printf '%08d' "$i") s$(printf '%015d' "$i") 3 600"
			echo "FCALL qh_notify 1 $site $NOW $DAY 0 20261128-S1$(printf '%03d' "$i") s$(printf '%015d' "$i") 3 600 139$(printf '%08d' "$i")"
		else
			echo "FCALL qh_take 1 $site $NOW $DAY 0 S1 normal web 138$(printf '%08d' "$i") s$(printf '%015d' "$i")"
		fi
	done | pipe
	for i in $(seq $((N / 4))); do # called a minute apart, served 5 minutes
		echo "FCALL qh_call_next 1 $site $((NOW + 60 * i)) $DAY 0 1 c01"
		echo "FCALL qh_finish 1 $site $((NOW + 60 * i + 300)) $DAY 0 1 \"\""
	done | pipe
	for key in $(cli --scan --pattern "$site:tp:*"); do
		bytes=$((bytes + $(cli MEMORY USAGE "$key" SAMPLES 0)))
		n=$((n + $(cli HLEN "$key")))
		for id in $(cli HKEYS "$key"); do values=$((values + $(cli HSTRLEN "$key" "$id"))); done
		enc="$enc $(cli OBJECT ENCODING "$key")"
	done
	if [ "$n" -gt 0 ]; then
		echo "  web, phone ref${marks:+, notify marks}: $n settled, $((bytes / n)) B each packed (values $((values / n)) B);$(echo "$enc" | tr ' ' '\n' | sort | uniq -c | awk 'NF == 2 {printf " %s %s", $1, $2}')"
	else
		echo "  web, phone ref${marks:+, notify marks}: no ticket packed (its own hash $(cli MEMORY USAGE "$(cli --scan --pattern "$site:t:*" | head -1)") B)"
	fi
}
echo "settled web tickets with a phone ref (their buckets' encodings):"
settled_web 'q:{fbweb}' ""
settled_web 'q:{fbnotify}' notify

# The day change with DAYN tickets waiting: every call's time from the slow log.
for i in $(seq "$DAYN"); do echo "FCALL qh_take 1 $P $NOW $DAY 0 S$(( (i % 6) + 1 )) normal kiosk \"\""; done | pipe
cli CONFIG SET slowlog-log-slower-than 0 >/dev/null
cli CONFIG SET slowlog-max-len 100000 >/dev/null
cli SLOWLOG RESET >/dev/null
calls=0
while :; do
	calls=$((calls + 1))
	reply=$(cli FCALL qh_day 1 "$P" $((NOW + 86400)) 2026-11-29 0)
	case "$reply" in
	*'"remaining":0'*) break ;;
	*'"remaining"'*) ;;
	*) break ;; # a library without slices did it in one call
	esac
done
slowest=$(cli SLOWLOG GET 100000 | awk '$0 == "FCALL" {print prev} {prev = $0}' | sort -n | tail -1)
echo "day change, $DAYN waiting:        $calls calls, slowest $(awk -v u="$slowest" 'BEGIN {printf "%.1f", u / 1000}') ms"
cli CONFIG SET slowlog-log-slower-than 10000 >/dev/null

# Appointments: a booking's cost, and the day change with DAYN booked appointments never
# checked in (all in one slot of the day, which has no bound here: qserver's config has).
cli CONFIG RESETSTAT >/dev/null
for i in $(seq "$DAYN"); do
	echo "FCALL qh_book 1 $P $((NOW + 86400)) 2026-11-29 0 S1 2026-11-29 10:00 10:30 100000 $((NOW + 86400)) $((NOW + 87000)) r$i A$i \"\""
done | pipe
echo "qh_book:                          $(usec_per_fcall) usec/call"
cli SLOWLOG RESET >/dev/null
cli CONFIG SET slowlog-log-slower-than 0 >/dev/null
calls=0
while :; do
	calls=$((calls + 1))
	case "$(cli FCALL qh_day 1 "$P" $((NOW + 2 * 86400)) 2026-11-30 0)" in
	*'"remaining":0'*) break ;;
	*'"remaining"'*) ;;
	*) break ;;
	esac
done
slowest=$(cli SLOWLOG GET 100000 | awk '$0 == "FCALL" {print prev} {prev = $0}' | sort -n | tail -1)
echo "day change, $DAYN appointments:   $calls calls, slowest $(awk -v u="$slowest" 'BEGIN {printf "%.1f", u / 1000}') ms, missed $(cli HGET "$P:st:d:2026-11-29" 't|am')"
cli CONFIG SET slowlog-log-slower-than 10000 >/dev/null

# Statistics reads: the 1,000-ticket day of a 10-service, 10-window hall (stats_day_calls),
# then `snapshot` and `stats` (each the mean of 20 calls) of today, of the same day once the
# day change folded it, and of its month.
PS='q:{fs}'
hall_json 10 10 | cli -x FCALL qh_setup 1 "$PS" $NOW "$(day_at $NOW)" 0 >/dev/null
stats_day_calls "$PS" $NOW | pipe 2>/dev/null || true
# Microseconds of one read: the mean of 20 calls of FCALL_RO $1 with the arguments after it.
read_usec() {
	local fn=$1
	shift
	cli CONFIG RESETSTAT >/dev/null
	for _ in $(seq 20); do echo "FCALL_RO $fn 1 $PS $((NOW + 36000)) $(day_at $((NOW + 36000))) 0 $*"; done | pipe
	cli INFO commandstats | tr -d '\r' | awk -F'[=,]' '/^cmdstat_fcall_ro:/ {print $6}'
}
# The reads of stats_day_reads $1, "label usec" each.
stats_reads() {
	local label args
	stats_day_reads "$1" | while read -r label args; do echo -n " $label $(read_usec qh_stats "$args")"; done
}
echo "reads of a day (1,000 tickets), usec: today: snapshot $(read_usec qh_snapshot)$(stats_reads today)"
while :; do
	case "$(cli FCALL qh_day 1 "$PS" $((NOW + 86400)) 2026-11-29T01 0)" in
	*'"remaining":0'*) break ;;
	*'"remaining"'*) ;;
	*) break ;;
	esac
done
echo "  folded:$(stats_reads folded)"

# A big hall: setup and snapshot with SVCS services x WINS windows.
cli FLUSHALL >/dev/null
hall_json "$SVCS" "$WINS" >"$WORK/big.json"
cli CONFIG RESETSTAT >/dev/null
cli -x FCALL qh_setup 1 "$P" $NOW $DAY 0 <"$WORK/big.json" >/dev/null
echo "setup, $SVCS services x $WINS windows: $(awk -v u="$(usec_per_fcall)" 'BEGIN {printf "%.0f", u / 1000}') ms"
cli CONFIG RESETSTAT >/dev/null
for i in $(seq 20); do echo "FCALL_RO qh_snapshot 1 $P $NOW $DAY 0"; done | pipe
echo "snapshot, $SVCS services:          $(cli INFO commandstats | tr -d '\r' | awk -F'[=,]' '/^cmdstat_fcall_ro:/ {printf "%.1f", $6 / 1000}') ms"
