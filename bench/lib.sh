# Shell helpers of the benchmark scripts (bench/run.sh, bench/ratios.sh, bench/fanout.sh,
# bench/p99.sh, bench/hop.sh), sourced by them.

# Picks a loopback port nothing listens on, below the ephemeral range where clients own ports.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo $((20000 + RANDOM % 12000))
}

# Prints the number found after each key in turn in a compact JSON file:
# jnum FILE fanout latency p99_ms -> the p99 inside "fanout":{... "latency":{...}}.
jnum() {
	local text k
	text=$(cat "$1")
	shift
	for k in "$@"; do
		case "$text" in *"\"$k\":"*) text=${text#*\"$k\":} ;; *) echo 0; return ;; esac
	done
	text=${text%%[,\}]*}
	echo "${text:-0}"
}

# Prints the smaller of two numbers, ignoring a zero (a run that failed): least A B.
least() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 == 0 || (b + 0 > 0 && b + 0 < a + 0)) a = b; print a + 0 }'; }


# Prints the median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- A Redis and qservers of several builds, for the scripts that compare builds in rounds
# (bench/fanout.sh, bench/p99.sh). They set WORK and SOCK, and REDIS_PID, QSERVER_PID "".

# Checks each BUILD folder given has the programs these scripts run, and sets BUILDS to their
# full paths: builds_from_args SCRIPT BUILD...
builds_from_args() {
	local script=$1 b prog
	shift
	BUILDS=()
	for b in "$@"; do
		b=$(cd "$b" && pwd) || exit 1
		for prog in qserver qbench qbench-raw qcli; do
			[ -x "$b/$prog" ] || { echo "$script: $b/$prog is missing; run make first" >&2; exit 1; }
		done
		BUILDS+=("$b")
	done
}

# Stops what the script started, by process id, and removes WORK unless QB_KEEP is set.
stop_started() {
	[ -n "$QSERVER_PID" ] && kill "$QSERVER_PID" 2>/dev/null && wait "$QSERVER_PID" 2>/dev/null
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
	[ -n "${QB_KEEP:-}" ] || rm -rf "$WORK"
}

# Starts a Redis on SOCK configured as qserver's embedded one (AOF every second, 16 kB stream
# nodes, 128-byte listpack values) and waits until it answers.
start_redis() {
	redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --dir "$WORK" --appendonly yes \
		--appendfsync everysec --save '' --stream-node-max-bytes 16384 --hash-max-listpack-value 128 \
		--daemonize no --logfile "$WORK/redis.log" --loglevel warning &
	REDIS_PID=$!
	for _ in $(seq 100); do redis-cli -s "$SOCK" ping >/dev/null 2>&1 && break; sleep 0.05; done
}

# Starts a qserver of BUILD on SOCK with bench/hall.json (or the hall file QSERVER_CONFIG) and
# the options given, on a free port (QSERVER_PORT), and waits until it answers:
# start_qserver BUILD [OPTION...].
start_qserver() {
	local build=$1
	shift
	QSERVER_PORT=$(free_port)
	"$build/qserver" --config "${QSERVER_CONFIG:-bench/hall.json}" --always-open --log-level warn --redis "unix:$SOCK" \
		--listen "127.0.0.1:$QSERVER_PORT" "$@" >>"$WORK/qserver.log" 2>&1 &
	QSERVER_PID=$!
	wait_answers "$build" "$QSERVER_PORT"
}

# Waits (about 10 s) until the qserver on PORT answers `services`; false if it does not:
# wait_answers BUILD PORT. (qbench-raw, not qcli: a hall of thousands of services answers
# more than qcli's 64 KiB line. Each poll is bounded, as qbench-raw has no read timeout: a
# qserver that accepts but never answers makes the wait give up all the same.)
wait_answers() {
	local deadline=$((SECONDS + 10))
	while [ "$SECONDS" -lt "$deadline" ]; do
		timeout 2 "$1/qbench-raw" request "127.0.0.1:$2" 1 '{"op":"services"}' 2>/dev/null | grep -q '"errors":0' && return 0
		sleep 0.05
	done
	return 1
}

# Stops the qserver start_qserver started and prints its CPU time over its whole life in ms
# (fields 14 and 15 of /proc/PID/stat, in clock ticks: unlike a p99 it hardly moves with what
# else runs on the machine).
stop_qserver_cpu_ms() {
	local ticks
	ticks=$(awk '{ print $14 + $15 }' "/proc/$QSERVER_PID/stat")
	kill "$QSERVER_PID" 2>/dev/null
	wait "$QSERVER_PID" 2>/dev/null
	QSERVER_PID=""
	echo $((ticks * 1000 / $(getconf CLK_TCK)))
}
