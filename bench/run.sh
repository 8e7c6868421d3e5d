#!/bin/bash
# The benchmark suite behind `make bench`: starts its own redis-server (AOF on, appendfsync
# everysec, Unix socket: the embedded default) and qserver on bench/hall.json, runs every qbench
# scenario, runs redis-benchmark calling the same Redis Function `take` uses against the same
# Redis, measures the issue-11 figures against their baselines in the same run (bench/ratios.sh,
# bench/breakdown.sh), and writes BENCHMARKS.md. A few minutes in all.
# usage: bench/run.sh BUILD
# Knobs (environment): QB_SECONDS measured seconds per run (8), QB_P99_ROUNDS rounds of the
# take p99 against the raw Function (3), QB_IDLE idle subscribers (10000),
# QB_FANOUT fanout subscribers (1000), QB_SSE event streams over HTTP (1000), QB_OUT the report
# (BENCHMARKS.md).
set -u
BUILD=${1:?usage: bench/run.sh BUILD}
BUILD=$(cd "$BUILD" && pwd)
ROOT=$(pwd)
SECONDS_EACH=${QB_SECONDS:-8}
P99_ROUNDS=${QB_P99_ROUNDS:-3}
IDLE_N=${QB_IDLE:-10000}
FANOUT_N=${QB_FANOUT:-1000}
SSE_N=${QB_SSE:-1000}
OUT=${QB_OUT:-$ROOT/BENCHMARKS.md}
RES="$BUILD/bench-results"
WORK=$(mktemp -d /tmp/qhall-bench-XXXXXX)
SOCK="$WORK/redis.sock"
SITE_KEY='q:{bench}'
REDIS_PID=""
QSERVER_PID=""

for prog in "$BUILD/qserver" "$BUILD/qbench" "$BUILD/qbench-raw" "$BUILD/qbench-sse" "$BUILD/qcli"; do
	[ -x "$prog" ] || { echo "bench: $prog is missing; run make first" >&2; exit 1; }
done
for cmd in redis-server redis-cli redis-benchmark; do
	command -v "$cmd" >/dev/null || { echo "bench: $cmd is missing (apt-get install redis-server redis-tools)" >&2; exit 1; }
done
rm -rf "$RES"
mkdir -p "$RES"
COMMANDS="$RES/commands.txt" # every command line, in the order run (subshells append too)
: >"$COMMANDS"

# Stops what this script started, by process id.
cleanup() {
	[ -n "$QSERVER_PID" ] && kill "$QSERVER_PID" 2>/dev/null && wait "$QSERVER_PID" 2>/dev/null
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

. "$ROOT/bench/lib.sh" # free_port, jnum, least, median

# Formats a number with N decimals: fmt N VALUE.
fmt() { awk -v n="$1" -v v="$2" 'BEGIN { printf "%.*f", n, v }'; }

# Prints 1 when awk's condition on a and b holds: cmp A OP B.
cmp() { awk -v a="$1" -v b="$3" "BEGIN { print (a $2 b) ? 1 : 0 }"; }

# Prints two numbers: AOF rewrites Redis has finished so far, and whether one is running now.
aof_state() {
	redis-cli -s "$SOCK" info persistence | tr -d '\r' |
		awk -F: '$1 == "aof_rewrites" { done = $2 } $1 == "aof_rewrite_in_progress" { now = $2 } END { print done + 0, now + 0 }'
}

# Runs one qbench scenario with --json into RES/NAME.json, records its command line, and
# records in RES/NAME.aof whether Redis rewrote its AOF meanwhile (a fork: the usual tail).
run_qbench() {
	local name=$1
	shift
	local aof_done_before aof_done aof_running
	read -r aof_done_before _ < <(aof_state)
	local cmd=("$BUILD/qbench" --server "127.0.0.1:$PORT" --json --label "$name" "$@")
	echo "build/qbench --server 127.0.0.1:PORT --json --label $name $*" | sed "s/--qserver-pid [0-9]*/--qserver-pid QSERVER_PID/" >>"$COMMANDS"
	echo "bench: $name: qbench $*" >&2
	"${cmd[@]}" >"$RES/$name.json" 2>"$RES/$name.err" || echo "bench: $name exited $?" >&2
	[ -s "$RES/$name.json" ] || echo '{}' >"$RES/$name.json"
	# Rewrites that overlapped the run: those that ended during it, and one still running.
	read -r aof_done aof_running < <(aof_state)
	echo $((aof_done - aof_done_before + aof_running)) >"$RES/$name.aof"
	echo "$name" >>"$RES/order.txt"
	echo "bench:   $(jnum "$RES/$name.json" ops_per_s | cut -d. -f1) ops/s, p99 $(jnum "$RES/$name.json" latency p99_ms) ms, errors $(jnum "$RES/$name.json" errors total)" >&2
}

# Runs redis-benchmark on the take Function; prints requests/s. raw_fcall NAME CLIENTS [--threads N].
raw_fcall() {
	local name=$1 clients=$2
	shift 2
	local now day n
	now=$(date +%s)
	day=$(TZ=Asia/Shanghai date +%F)
	n=$((SECONDS_EACH * ${RAW_GUESS:-6000}))
	echo "redis-benchmark -s SOCK -n $n -c $clients $* --csv FCALL qh_take 1 '$SITE_KEY' $now $day 0 A normal kiosk ''" >>"$COMMANDS"
	echo "bench: $name: redis-benchmark -c $clients $*" >&2
	redis-benchmark -s "$SOCK" -n "$n" -c "$clients" "$@" --csv FCALL qh_take 1 "$SITE_KEY" "$now" "$day" 0 A normal kiosk "" \
		>"$RES/$name.csv" 2>"$RES/$name.err"
	local rps
	rps=$(awk -F'","' 'NR == 2 { print $2 }' "$RES/$name.csv")
	echo "bench:   ${rps:-0} requests/s" >&2
	echo "${rps:-0}"
}

# --- start Redis and qserver -------------------------------------------------------------
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --dir "$WORK" --appendonly yes \
	--appendfsync everysec --save '' --stream-node-max-bytes 16384 --hash-max-listpack-value 128 --daemonize no --logfile "$WORK/redis.log" \
	--loglevel warning &
REDIS_PID=$!
for _ in $(seq 100); do redis-cli -s "$SOCK" ping >/dev/null 2>&1 && break; sleep 0.05; done
# Redis's latency monitor names what stalled it (fork, aof-write, slow commands) for the report.
redis-cli -s "$SOCK" config set latency-monitor-threshold 5 >/dev/null
PORT=$(free_port)
QSERVER_OPTS=(--config bench/hall.json --always-open --rate 1000000 --max-conns $((IDLE_N + 2000)) --max-per-addr $((IDLE_N + 2000)) --log-level warn)

# The sample hall (yescrypt hashes, as a real hall has them) for the sign-in run, with the
# failure budget lifted so every wrong hello is checked: 50 attackers from 50 addresses.
LOGIN_OPTS=(--config examples/baoan.json --always-open --login-failures 1000000 --log-level warn)

# Starts qserver with the options given, or QSERVER_OPTS (again before the idle run, whose RSS
# wants a fresh process), and waits for it.
start_qserver() {
	local opts=("$@")
	[ ${#opts[@]} -eq 0 ] && opts=("${QSERVER_OPTS[@]}")
	"$BUILD/qserver" "${opts[@]}" --redis "unix:$SOCK" --listen "127.0.0.1:$PORT" >>"$RES/qserver.log" 2>&1 &
	QSERVER_PID=$!
	for _ in $(seq 200); do
		"$BUILD/qcli" --server "127.0.0.1:$PORT" services >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "bench: qserver did not start" >&2
	tail "$RES/qserver.log" >&2
	exit 1
}

# Stops qserver with SIGTERM and waits for it.
stop_qserver() {
	kill "$QSERVER_PID" 2>/dev/null
	wait "$QSERVER_PID" 2>/dev/null
	QSERVER_PID=""
}
start_qserver

# --- Redis CPU, AOF and memory per call against the minimal function, on a fresh Redis ------
. "$ROOT/bench/ratios.sh"
ratios_redis_costs
echo "bench: Redis instructions per call (callgrind)" >&2
ratios_instructions
echo "bench: breakdown of a take" >&2
echo "BD_SOCK=SOCK BD_PORT=PORT BD_RPID=REDIS_PID BD_QPID=QSERVER_PID bench/breakdown.sh BUILD 3000" >>"$COMMANDS"
BD_SOCK=$SOCK BD_PORT=$PORT BD_RPID=$REDIS_PID BD_QPID=$QSERVER_PID "$ROOT/bench/breakdown.sh" "$BUILD" 3000 \
	>"$RES/breakdown.md" 2>"$RES/breakdown.err"

W=(--warmup 1 --duration "$SECONDS_EACH")
SERVICES=(--services A,B,C,D,E,F)

# --- latency at a fixed rate, first: a hall's day, before the throughput runs below have
# written a quarter million tickets and made Redis rewrite its AOF ---------------------------
# qserver's take p99 against the raw Function's, in rounds (ratios_raw_fcall_p99)
declare -a R_RAW R_TAKE R_ROUND_X
ratios_raw_fcall_p99 1
for round in $(seq "$P99_ROUNDS"); do
	run_qbench "$(take_p99_run "$round")" --scenario take --conns 8 --rate 1000 "${W[@]}" "${SERVICES[@]}"
	ratios_raw_fcall_p99 $((round + 1))
done
run_qbench mixed_fixed_1000 --scenario mixed --conns 8 --clerks 16 --displays 4 --rate 1000 "${W[@]}" "${SERVICES[@]}"

# --- take: qserver against the raw Function, interleaved so a busy neighbour hurts both ------
raw1=$(raw_fcall raw_c32 32 -P 1)
# Size the next raw runs to last about QB_SECONDS at the rate just seen.
RAW_GUESS=$(awk -v r="$raw1" 'BEGIN { r = int(r); print (r > 500) ? r : 500 }')
run_qbench take_c8_d4 --scenario take --conns 8 --depth 4 "${W[@]}" "${SERVICES[@]}"
raw2=$(raw_fcall raw_c32_threads 32 -P 1 --threads 2)
run_qbench take_c32_d1 --scenario take --conns 32 --depth 1 "${W[@]}" "${SERVICES[@]}"
raw3=$(raw_fcall raw_c8 8 -P 1)
run_qbench take_c4_d2 --scenario take --conns 4 --depth 2 "${W[@]}" "${SERVICES[@]}"
# Not the ceiling of the target (that is -P 1, one command per round trip, as clients send
# them) but what Redis does when commands come in batches, as they do on qserver's one link.
raw_pipe=$(raw_fcall raw_c4_p8 4 -P 8)


# --- the clerk cycle and the mixed day, closed loop (thousands of tickets wait from take) ---
run_qbench clerk_c16 --scenario clerk --clerks 16 --first-window 17 "${W[@]}"
run_qbench mixed_closed --scenario mixed --conns 8 --depth 2 --clerks 16 --first-window 33 --displays 4 "${W[@]}" "${SERVICES[@]}"

# --- the same fixed rate while Redis rewrites its AOF (started 2 s in, inside the window) ------
(sleep 2; redis-cli -s "$SOCK" bgrewriteaof >/dev/null) &
rewrite_pid=$!
run_qbench take_fixed_1000_rewrite --scenario take --conns 8 --rate 1000 "${W[@]}" "${SERVICES[@]}"
wait "$rewrite_pid"
redis_keys=$(redis-cli -s "$SOCK" dbsize)
redis_mem=$(redis-cli -s "$SOCK" info memory | tr -d '\r' | awk -F: '$1 == "used_memory_human" { print $2 }')
redis-cli -s "$SOCK" latency latest | paste - - - - >"$RES/latency-latest.tsv"

# --- fan-out and idle subscribers ------------------------------------------------------------
ratios_publish_floor 1
run_qbench fanout --scenario fanout --conns "$FANOUT_N" --rounds 200 --interval 20 --first-window 50 --duration 60
ratios_publish_floor 2
stop_qserver
start_qserver
run_qbench idle --scenario idle --conns "$IDLE_N" --duration 5 --qserver-pid "$QSERVER_PID" --timeout 30000

# --- event streams: SSE_N browsers on the HTTP front end, a call reaching all of them -------
stop_qserver
SSE_HTTP=127.0.0.1:$(free_port)
start_qserver --config "$ROOT/tests/data/small.json" --always-open --log-level warn --http "$SSE_HTTP" \
	--http-per-addr $((SSE_N + 16)) --sse-per-addr "$SSE_N"
echo "QHALL_PASSWORD=... QHALL_TOKEN=... qbench-sse --http $SSE_HTTP --server 127.0.0.1:PORT --site small --streams $SSE_N --rounds 100 --window 1 --clerk c01" >>"$COMMANDS"
QHALL_PASSWORD=clerk123 QHALL_TOKEN=kiosk123 "$BUILD/qbench-sse" --http "$SSE_HTTP" --server "127.0.0.1:$PORT" \
	--site small --streams "$SSE_N" --rounds 100 --window 1 --clerk c01 >"$RES/sse.json" ||
	echo "bench: qbench-sse missed events or failed" >&2

# --- sign-in under attack: other clients' pings while 50 wrong manager hellos are checked -----
stop_qserver
start_qserver "${LOGIN_OPTS[@]}"
run_qbench login --scenario login --conns 4 --rate 200 --logins 50 --interval 200 --warmup 1 --duration "$SECONDS_EACH"
# One wrong hello at a time: its latency is about one crypt(3) of the sample hall's hash.
run_qbench login_one --scenario login --conns 1 --rate 10 --logins 1 --interval 0 --duration 5
stop_qserver
# --- last, as it may leave a Redis busy for good: start and snapshot on a big hall ----------
ratios_big_hall
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- BENCHMARKS.md -----------------------------------------------------------------------
best_take=0 best_take_name=""
for n in take_c8_d4 take_c32_d1 take_c4_d2; do
	v=$(jnum "$RES/$n.json" ops_per_s)
	[ "$(cmp "$v" '>' "$best_take")" = 1 ] && best_take=$v best_take_name=$n
done
best_raw=0
for v in "$raw1" "$raw2" "$raw3"; do
	[ "$(cmp "$v" '>' "$best_raw")" = 1 ] && best_raw=$v
done
ratio=$(awk -v a="$best_take" -v b="$best_raw" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "0" }')

take_p99=$(jnum "$RES/take_fixed_1000.json" latency p99_ms)
mixed_p99=$(jnum "$RES/mixed_fixed_1000.json" latency p99_ms)
idle_conns=$(jnum "$RES/idle.json" idle connections)
idle_rss=$(jnum "$RES/idle.json" idle rss_kb)
idle_mb=$(fmt 1 "$(awk -v k="$idle_rss" 'BEGIN { print k / 1024 }')")
fan_p99=$(jnum "$RES/fanout.json" fanout latency p99_ms)
fan_missed=$(jnum "$RES/fanout.json" fanout missed)
login_max=$(jnum "$RES/login.json" latency max_ms)
login_answers=$(jnum "$RES/login.json" login answers)

verdict() { [ "$1" = 1 ] && echo "**met**" || echo "**missed**"; }
v_ratio=$(verdict "$(cmp "$ratio" '>=' 0.7)")
v_lat=$(verdict "$(awk -v a="$take_p99" -v b="$mixed_p99" 'BEGIN { print (a > 0 && b > 0 && a < 5 && b < 5) ? 1 : 0 }')")
v_idle=$(verdict "$(awk -v n="$idle_conns" -v want="$IDLE_N" -v k="$idle_rss" 'BEGIN { print (n >= want && k > 0 && k < 100 * 1024) ? 1 : 0 }')")
v_login=$(verdict "$(awk -v m="$login_max" -v n="$login_answers" 'BEGIN { print (m > 0 && m < 100 && n > 0) ? 1 : 0 }')")
v_fan=$(verdict "$(awk -v p="$fan_p99" -v m="$fan_missed" 'BEGIN { print (p > 0 && p < 50 && m == 0) ? 1 : 0 }')")

# One table row of a qbench result: row NAME WHAT.
row() {
	local f="$RES/$1.json"
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$(fmt 0 "$(jnum "$f" ops_per_s)")" \
		"$(jnum "$f" latency p50_ms)" "$(jnum "$f" latency p99_ms)" "$(jnum "$f" latency max_ms)" \
		"$(jnum "$f" errors total)" "$(jnum "$f" ok)"
}

# Per-op rows of a mixed run: oprows NAME.
oprows() {
	local f="$RES/$1.json" op
	for op in take call_next finish ticket snapshot services; do
		printf '| %s | %s | %s | %s | %s |\n' "$op" "$(jnum "$f" ops "$op" n)" "$(jnum "$f" ops "$op" p50_ms)" \
			"$(jnum "$f" ops "$op" p99_ms)" "$(jnum "$f" ops "$op" max_ms)"
	done
}

loaded_note=""
if [ "$(cmp "${load_before%% *}" '>' 1.5)" = 1 ] || [ "$(cmp "${load_after%% *}" '>' 1.5)" = 1 ]; then
	loaded_note="> **The machine was loaded during this run** (load average $load_before at the start, $load_after at the end, on $(nproc) cores shared with other work): the numbers are lower and the tails longer than on a quiet machine. A quiet run (\`make bench\`) will replace them."
fi

{
	echo "# qhall benchmarks"
	echo
	echo "Written by \`make bench\` (bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'). Every number below is from"
	echo "that one run; run \`make bench\` again to refresh them. The load generator is \`build/qbench\`"
	echo "(bench/*.c, \`build/qbench --help\`)."
	echo
	[ -n "$loaded_note" ] && { echo "$loaded_note"; echo; }
	echo "## Machine and versions"
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| cores | $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')) |"
	echo "| memory | $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) |"
	echo "| kernel | $(uname -sr) |"
	echo "| load average | $load_before at the start, $load_after at the end |"
	echo "| redis-server | $(redis-server --version | sed 's/Redis server //') |"
	echo "| libevent | $(pkg-config --modversion libevent 2>/dev/null) |"
	echo "| hiredis | $(pkg-config --modversion hiredis 2>/dev/null) |"
	echo "| cJSON | $(pkg-config --modversion libcjson 2>/dev/null) |"
	echo "| gcc | $(gcc --version | head -1) |"
	echo
	echo "Redis: \`redis-server --port 0 --unixsocket SOCK --appendonly yes --appendfsync everysec --save '' --stream-node-max-bytes 16384\`"
	echo "(what qserver's embedded Redis runs). qserver: \`build/qserver ${QSERVER_OPTS[*]} --redis unix:SOCK"
	echo "--listen 127.0.0.1:PORT\` (restarted before the idle run so its RSS starts fresh). qserver, Redis,"
	echo "qbench and redis-benchmark share the machine's $(nproc) cores; everything runs over loopback."
	echo
	echo "## Targets"
	echo
	echo "| target | result | |"
	echo "|---|---|---|"
	echo "| \`take\` at least 0.7 of the raw Function rate (aim 0.9) | $(fmt 0 "$best_take")/s vs $(fmt 0 "$best_raw")/s raw: **$ratio** | $v_ratio |"
	echo "| p99 under 5 ms at 1,000 requests/s | take p99 $take_p99 ms, mixed p99 $mixed_p99 ms | $v_lat |"
	echo "| 10,000 idle subscribers, qserver under 100 MB RSS | $idle_conns held, RSS $idle_mb MiB | $v_idle |"
	echo "| call_next to \`called\` event p99 under 50 ms, $FANOUT_N subscribers | p99 $fan_p99 ms, $fan_missed missed | $v_fan |"
	echo "| other clients' max latency under 100 ms during 50 concurrent wrong logins | max $login_max ms over $login_answers checked hellos | $v_login |"
	echo
	ratios_report
	echo "## take against the ceiling"
	echo
	echo "The ceiling is redis-benchmark calling \`FCALL qh_take\` directly on the same Redis (same AOF"
	echo "setting, same library, same hall set up by qserver), with the arguments qserver would pass."
	echo "The runs were interleaved (raw, qserver, raw, ...) so a busy neighbour hurts both sides alike."
	echo
	echo "| client | in flight | ops/s | p50 ms | p99 ms | max ms | errors | ok |"
	echo "|---|---|---|---|---|---|---|---|"
	for n in take_c8_d4 take_c32_d1 take_c4_d2; do
		case $n in take_c8_d4) what="qbench take, 8 conns x 4" ; inf=32 ;; take_c32_d1) what="qbench take, 32 conns x 1"; inf=32 ;; *) what="qbench take, 4 conns x 2"; inf=8 ;; esac
		row "$n" "$what" | sed "s/^| $what |/| $what | $inf |/"
	done
	for n in raw_c32 raw_c32_threads raw_c8 raw_c4_p8; do
		case $n in
		raw_c32) what="redis-benchmark -c 32 -P 1"; inf=32 ;;
		raw_c32_threads) what="redis-benchmark -c 32 -P 1 --threads 2"; inf=32 ;;
		raw_c8) what="redis-benchmark -c 8 -P 1"; inf=8 ;;
		*) what="redis-benchmark -c 4 -P 8 (pipelined, not the target's ceiling)"; inf=32 ;;
		esac
		awk -F'","' -v w="$what" -v i="$inf" 'NR == 2 { gsub(/"/, "", $8); printf "| %s | %s | %.0f | %s | %s | %s | | |\n", w, i, $2, $5, $7, $8 }' "$RES/$n.csv"
	done
	echo
	echo "Ratio: best qserver \`take\` ($best_take_name, $(fmt 0 "$best_take")/s) over best raw \`-P 1\` ($(fmt 0 "$best_raw")/s) = **$ratio**."
	echo "With commands pipelined 8 deep Redis ran the Function at $(fmt 0 "$raw_pipe")/s ($(awk -v a="$best_take" -v b="$raw_pipe" 'BEGIN { if (b > 0) printf "%.2f", a / b }') of it)."
	echo
	echo "## Latency at a fixed rate (open loop)"
	echo
	echo "Requests are sent on a fixed schedule whatever the server does, and each latency runs from"
	echo "the request's scheduled time, so a stall is not hidden by the generator waiting for it"
	echo "(coordinated omission)."
	echo
	echo "| run | ops/s | p50 ms | p99 ms | max ms | errors | ok |"
	echo "|---|---|---|---|---|---|---|"
	row take_fixed_1000 "take, 1,000/s over 8 kiosks"
	row mixed_fixed_1000 "mixed, 1,000/s (8 kiosks, 8 public, 16 clerks, 4 displays)"
	row take_fixed_1000_rewrite "take, 1,000/s, Redis rewriting its AOF (BGREWRITEAOF 2 s in)"
	echo
	echo "The first two ran first, on a fresh Redis; the third after the throughput runs, with a"
	echo "quarter million tickets stored, while Redis rewrote its AOF (see *Redis during the runs*)."
	echo
	echo "Per op, mixed at 1,000/s:"
	echo
	echo "| op | n | p50 ms | p99 ms | max ms |"
	echo "|---|---|---|---|---|"
	oprows mixed_fixed_1000
	echo
	echo "## Clerks and the mixed hall day (closed loop)"
	echo
	echo "The mixed day sends, per 12 requests: 2 \`take\` (kiosks), 2 \`call_next\` and 2 \`finish\` (clerks,"
	echo "so tickets are served as fast as they are issued), 4 \`ticket\` lookups (citizens checking their"
	echo "place by phone or QR page), 1 \`snapshot\` (a display or dashboard reconnecting) and 1 \`services\`"
	echo "(a kiosk screen refreshing its waiting counts); subscribed displays receive every event."
	echo
	echo "| run | ops/s | p50 ms | p99 ms | max ms | errors | ok |"
	echo "|---|---|---|---|---|---|---|"
	row clerk_c16 "clerk cycle, 16 clerks (call_next, finish)"
	row mixed_closed "mixed, 8 kiosks + 8 public x 2, 16 clerks, 4 displays"
	echo
	echo "Per op, mixed closed loop ($(jnum "$RES/mixed_closed.json" events) events reached the displays):"
	echo
	echo "| op | n | p50 ms | p99 ms | max ms |"
	echo "|---|---|---|---|---|"
	oprows mixed_closed
	echo
	echo "## Fan-out and idle subscribers"
	echo
	echo "| run | result |"
	echo "|---|---|"
	echo "| fanout: $FANOUT_N displays subscribed to every topic, $(jnum "$RES/fanout.json" fanout rounds) calls 20 ms apart | $(jnum "$RES/fanout.json" fanout deliveries) deliveries, $fan_missed missed; call_next send to \`called\` event: p50 $(jnum "$RES/fanout.json" fanout latency p50_ms) ms, p99 $fan_p99 ms, max $(jnum "$RES/fanout.json" fanout latency max_ms) ms; call_next answer p50 $(jnum "$RES/fanout.json" latency p50_ms) ms |"
	echo "| idle: $IDLE_N displays said hello and subscribed, held 5 s | $idle_conns held; qserver VmRSS $(jnum "$RES/idle.json" idle rss_before_kb) kB before, $idle_rss kB with them (peak $(jnum "$RES/idle.json" idle hwm_kb) kB): $(fmt 0 "$(jnum "$RES/idle.json" idle bytes_per_conn)") bytes per connection; errors $(jnum "$RES/idle.json" errors total) |"
	echo
	echo "## Sign-in under attack"
	echo
	echo "qserver on the sample hall (\`build/qserver ${LOGIN_OPTS[*]}\`): its manager's hash is yescrypt,"
	echo "as a real hall's are, and the failure budget is lifted so that every wrong hello is checked,"
	echo "as when 50 attackers come from 50 addresses. 50 connections send a wrong manager \`hello\` at"
	echo "once, again 200 ms after the last answer, while 4 other connections \`ping\` at 200/s."
	echo
	echo "| run | other clients' ping p50 ms | p99 ms | max ms | hellos answered | hello p50 ms | hello max ms |"
	echo "|---|---|---|---|---|---|---|"
	for n in login login_one; do
		case $n in login) what="50 wrong hellos at once" ;; *) what="1 wrong hello at a time (about one crypt)" ;; esac
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$what" "$(jnum "$RES/$n.json" latency p50_ms)" \
			"$(jnum "$RES/$n.json" latency p99_ms)" "$(jnum "$RES/$n.json" latency max_ms)" \
			"$(jnum "$RES/$n.json" login answers)" "$(jnum "$RES/$n.json" login latency p50_ms)" \
			"$(jnum "$RES/$n.json" login latency max_ms)"
	done
	echo
	echo "## Event streams (HTTP, Server-Sent Events)"
	echo
	echo "$SSE_N streams of \`called\` events on one qserver (tests/data/small.json), 100 calls; from"
	echo "sending call_next to each stream reading its \`called\` event (target p99 under 100 ms):"
	echo
	echo '```'
	cat "$RES/sse.json" 2>/dev/null
	echo '```'
	echo
	echo "## Redis during the runs"
	echo
	echo "AOF rewrites (a fork, then a child process writing the whole dataset) that overlapped each run:"
	echo
	echo "| run | AOF rewrites |"
	echo "|---|---|"
	while read -r n; do
		echo "| $n | $(cat "$RES/$n.aof") |"
	done <"$RES/order.txt"
	echo
	echo "After the rewrite run Redis held $redis_keys keys in $redis_mem of memory. Its latency monitor"
	echo "(threshold 5 ms) recorded, for the whole suite:"
	echo
	echo "| event | latest ms | max ms |"
	echo "|---|---|---|"
	awk -F'\t' 'NF >= 4 { printf "| %s | %s | %s |\n", $1, $3, $4 }' "$RES/latency-latest.tsv"
	echo
	echo "## Command lines"
	echo
	echo '```'
	cat "$COMMANDS"
	echo '```'
	echo
	echo "The JSON report of each run is kept in \`$(basename "$BUILD")/bench-results/\`."
	if [ -f "$ROOT/bench/findings.md" ]; then
		echo
		cat "$ROOT/bench/findings.md"
	fi
} >"$OUT"
echo "bench: wrote $OUT" >&2
