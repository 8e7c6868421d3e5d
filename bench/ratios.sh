# The issue-11 figures of `make bench`: each of qserver's costs measured in the same run as the
# baseline it is judged against, so the ratios hold whatever the machine's speed. Sourced by
# bench/run.sh, whose variables (SOCK, PORT, BUILD, RES, WORK, SITE_KEY, QSERVER_OPTS) and
# helpers (run_qbench, jnum, fmt, cmp) it uses; each step stores its results in R_* variables
# and ratios_report prints the section of BENCHMARKS.md.

R_N=${QB_RATIO_N:-3000}		 # tickets per Redis CPU phase
BIG_SERVICES=${QB_BIG_SERVICES:-2000}
BIG_WINDOWS=${QB_BIG_WINDOWS:-100}
BIG_WAIT=${QB_BIG_WAIT:-20}	 # seconds the big hall may take to start before it is given up

# Prints one field of a section of INFO: info_field SECTION FIELD.
info_field() {
	redis-cli -s "$SOCK" info "$1" | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

# Prints the calls and microseconds of FCALL since the last CONFIG RESETSTAT ("0 0" for none).
fcall_stats() {
	redis-cli -s "$SOCK" info commandstats | tr -d '\r' |
		awk -F'[:,=]' '$1 == "cmdstat_fcall" { c = $3; u = $5 } END { print c + 0, u + 0 }'
}

# Runs a command between two looks at Redis. Sets PH_CALLS and PH_USEC (FCALLs it caused and
# their Redis CPU), PH_AOF (bytes the AOF grew) and PH_MEM (bytes of used_memory added).
phase() {
	redis-cli -s "$SOCK" config resetstat >/dev/null
	local aof0 mem0
	aof0=$(info_field persistence aof_current_size)
	mem0=$(info_field memory used_memory)
	"$@"
	read -r PH_CALLS PH_USEC < <(fcall_stats)
	PH_AOF=$(($(info_field persistence aof_current_size) - aof0))
	PH_MEM=$(($(info_field memory used_memory) - mem0))
}

# Calls the minimal function R_N times straight from redis-benchmark.
minimal_calls() {
	echo "redis-benchmark -s SOCK -n $R_N -c 4 FCALL qhb_ticket 1 '$SITE_KEY' NOW A" >>"$COMMANDS"
	redis-benchmark -s "$SOCK" -n "$R_N" -c 4 -q FCALL qhb_ticket 1 "$SITE_KEY" "$(date +%s)" A >/dev/null 2>&1
}

# Redis CPU, AOF bytes and memory per call: the minimal function, take and the clerk cycle
# (through qserver), then the minimal function again; its two runs are averaged.
ratios_redis_costs() {
	echo "bench: ratios: minimal function, take, call_next + finish (Redis CPU, AOF, memory)" >&2
	redis-cli -s "$SOCK" -x function load replace <"$ROOT/bench/minimal.lua" >/dev/null
	# No AOF rewrite may shrink the file between two looks at its size.
	redis-cli -s "$SOCK" config set auto-aof-rewrite-percentage 0 >/dev/null
	# Redis 7 keeps a latency histogram per command, made at the command's first call after the
	# CONFIG RESETSTAT each phase sends: some 0.8 MB in these phases, a fixed cost that is
	# not the tickets', so it is left out of the per-ticket memory (findings.md).
	redis-cli -s "$SOCK" config set latency-tracking no >/dev/null
	phase minimal_calls
	local min1=$PH_USEC min1_calls=$PH_CALLS
	R_MIN_AOF=$(awk -v a="$PH_AOF" -v n="$PH_CALLS" 'BEGIN { printf "%.0f", n ? a / n : 0 }')
	R_MIN_MEM=$(awk -v a="$PH_MEM" -v n="$PH_CALLS" 'BEGIN { printf "%.0f", n ? a / n : 0 }')
	phase run_qbench ratio_take --scenario take --conns 4 --depth 4 --requests "$R_N" --duration 60 --services A
	local takes
	takes=$(jnum "$RES/ratio_take.json" ok)
	R_TAKE_US=$(awk -v u="$PH_USEC" -v c="$PH_CALLS" 'BEGIN { printf "%.1f", c ? u / c : 0 }')
	R_TAKE_CALLS=$PH_CALLS
	local take_aof=$PH_AOF take_mem=$PH_MEM
	phase run_qbench ratio_cycle --scenario clerk --clerks 4 --first-window 91 --requests $((R_N * 2)) --duration 60
	local cycles
	cycles=$(awk -v ok="$(jnum "$RES/ratio_cycle.json" ok)" 'BEGIN { printf "%d", ok / 2 }')
	R_CYCLE_US=$(awk -v u="$PH_USEC" -v c="$cycles" 'BEGIN { printf "%.1f", c ? u / c : 0 }')
	R_CYCLE_CALLS=$PH_CALLS
	local cycle_aof=$PH_AOF cycle_mem=$PH_MEM
	phase minimal_calls
	R_MIN_US=$(awk -v a="$min1" -v b="$PH_USEC" -v n="$min1_calls" -v m="$PH_CALLS" 'BEGIN { printf "%.1f", (n + m) ? (a + b) / (n + m) : 0 }')
	redis-cli -s "$SOCK" config set auto-aof-rewrite-percentage 100 >/dev/null
	redis-cli -s "$SOCK" config set latency-tracking yes >/dev/null
	R_TAKE_X=$(awk -v a="$R_TAKE_US" -v b="$R_MIN_US" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
	R_CYCLE_X=$(awk -v a="$R_CYCLE_US" -v b="$R_MIN_US" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
	# A ticket's life: one take and one call_next + finish cycle.
	R_AOF_TAKE=$(awk -v a="$take_aof" -v n="$takes" 'BEGIN { printf "%.0f", n ? a / n : 0 }')
	R_AOF_CYCLE=$(awk -v a="$cycle_aof" -v n="$cycles" 'BEGIN { printf "%.0f", n ? a / n : 0 }')
	R_AOF_LIFE=$((R_AOF_TAKE + R_AOF_CYCLE))
	R_MEM_TAKE=$(awk -v a="$take_mem" -v n="$takes" 'BEGIN { printf "%.0f", n ? a / n : 0 }')
	R_MEM_CYCLE=$(awk -v a="$cycle_mem" -v n="$cycles" 'BEGIN { printf "%.0f", n ? a / n : 0 }')
	R_MEM_LIFE=$((R_MEM_TAKE + R_MEM_CYCLE))
	R_TAKES=$takes R_CYCLES=$cycles
}

# The raw Function's p99 at the same fixed rate as qserver's take_fixed_1000 runs: run RUN of
# P99_ROUNDS + 1, called before each of qserver's runs and once after the last. A round's ratio
# is its qserver p99 over the better of the raw runs just before and just after it (a busy
# neighbour during one of them does not decide it); the figure is the median of the rounds',
# so one run caught by the scheduler on two shared cores does not decide it either.
ratios_raw_fcall_p99() {
	local run=$1 now day
	now=$(date +%s)
	day=$(TZ=Asia/Shanghai date +%FT%H) # the day and hour, as qserver passes them
	echo "build/qbench-raw fcall unix:SOCK 1000 $SECONDS_EACH 8 FCALL qh_take 1 '$SITE_KEY' $now $day 0 A normal kiosk ''" >>"$COMMANDS"
	echo "bench: ratios: raw FCALL qh_take at 1,000/s ($run)" >&2
	"$BUILD/qbench-raw" fcall "unix:$SOCK" 1000 "$SECONDS_EACH" 8 FCALL qh_take 1 "$SITE_KEY" "$now" "$day" 0 A normal kiosk "" \
		>"$RES/raw_fcall_1000_$run.json" 2>"$RES/raw_fcall_1000_$run.err"
	R_RAW[$run]=$(jnum "$RES/raw_fcall_1000_$run.json" p99_ms)
	[ "$run" -gt 1 ] || return 0 # the first comes before qserver's first
	local round=$((run - 1)) take floor
	take=$(jnum "$RES/$(take_p99_run "$round").json" latency p99_ms)
	floor=$(least "${R_RAW[$round]}" "${R_RAW[$run]}")
	R_TAKE[$round]=$take
	R_ROUND_X[$round]=$(awk -v a="$take" -v b="$floor" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	R_P99_ROUNDS="${R_P99_ROUNDS:-}${R_P99_ROUNDS:+; }${R_ROUND_X[$round]}x ($take ms / $floor ms)"
	R_P99_X=$(median "${R_ROUND_X[@]}")
	R_TAKE_P99=$(median "${R_TAKE[@]}")
	R_RAW_P99=$(median "${R_RAW[@]}")
}

# The name of qserver's fixed-rate take run of ROUND (the first keeps the name the tables use).
take_p99_run() { [ "$1" -eq 1 ] && echo take_fixed_1000 || echo "take_fixed_1000_r$1"; }

# PUBLISH to as many subscribers as the fanout run had, on the same Redis, as that run did;
# called before and after it (RUN 1 and 2), the floor being the better of the two.
ratios_publish_floor() {
	local run=$1
	echo "build/qbench-raw publish unix:SOCK $FANOUT_N 200 20" >>"$COMMANDS"
	echo "bench: ratios: PUBLISH to $FANOUT_N subscribers ($run)" >&2
	"$BUILD/qbench-raw" publish "unix:$SOCK" "$FANOUT_N" 200 20 >"$RES/publish_floor_$run.json" 2>"$RES/publish_floor_$run.err"
	R_PUB_P99S="${R_PUB_P99S:-}${R_PUB_P99S:+ and }$(jnum "$RES/publish_floor_$run.json" p99_ms) ms"
	R_PUB_P99=$(least "${R_PUB_P99:-0}" "$(jnum "$RES/publish_floor_$run.json" p99_ms)")
	R_FAN_P99=$(jnum "$RES/fanout.json" fanout latency p99_ms)
	R_FAN_X=$(awk -v a="$R_FAN_P99" -v b="$R_PUB_P99" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
}

# Writes a hall of BIG_SERVICES services (prefixes AAA, AAB, ...) and BIG_WINDOWS windows
# serving every service, with the bench hall's site and hours.
big_hall() {
	local site
	site=$(grep -m1 '"site"' "$ROOT/bench/hall.json" | sed 's/"id": "bench"/"id": "big"/')
	awk -v ns="$BIG_SERVICES" -v nw="$BIG_WINDOWS" -v site="$site" 'BEGIN {
		L = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		print "{"; print site; print "  \"services\": ["
		for (i = 0; i < ns; i++) {
			p = substr(L, int(i / 676) % 26 + 1, 1) substr(L, int(i / 26) % 26 + 1, 1) substr(L, i % 26 + 1, 1)
			printf "    {\"id\": \"S%04d\", \"prefix\": \"%s\", \"name\": \"服务%d\", \"service_time\": 300}%s\n", i + 1, p, i + 1, i + 1 < ns ? "," : ""
		}
		print "  ],"; print "  \"windows\": ["
		for (w = 1; w <= nw; w++)
			printf "    {\"id\": %d, \"name\": \"%d号窗口\", \"services\": [\"*\"]}%s\n", w, w, w < nw ? "," : ""
		print "  ]"; print "}"
	}'
}

# Gives a hall's services learnt times, as a hall in use has them (each service its own,
# and the hall's mix learnt): every service of the site's list a distinct mean, written
# straight to Redis after qserver's setup (which keeps learnt times):
# learn_hall REDIS_SOCKET SITE_KEY ("q:{big}").
learn_hall() {
	redis-cli -s "$1" lrange "$2:svcs" 0 -1 |
		awk -v key="$2:ewma" 'BEGIN { printf "HSET %s * \"250.5 40000 100\"", key }
			{ printf " %s \"%s 90000 %d\"", $1, 200 + NR / 4, NR } END { print "" }' |
		redis-cli -s "$1" >/dev/null
}

# Starts qserver on the big hall with a Redis of its own (a setup that runs for ever must not
# stall the other runs), times its first answered request, bounded by BIG_WAIT seconds, and
# then the median snapshot; stops both.
ratios_big_hall() {
	echo "bench: ratios: start on $BIG_SERVICES services x $BIG_WINDOWS windows (up to $BIG_WAIT s)" >&2
	big_hall >"$WORK/big.json"
	local bsock="$WORK/big.sock" bport rpid qpid t0 t1 started=0
	redis-server --port 0 --unixsocket "$bsock" --unixsocketperm 700 --dir "$WORK" --appendonly yes \
		--appendfilename big.aof --appenddirname bigaof --appendfsync everysec --save '' --daemonize no \
		--logfile "$WORK/big-redis.log" --loglevel warning &
	rpid=$!
	for _ in $(seq 100); do redis-cli -s "$bsock" ping >/dev/null 2>&1 && break; sleep 0.05; done
	bport=$(free_port)
	echo "build/qserver --config BIG.json ${QSERVER_OPTS[*]:2} --redis unix:BIGSOCK --listen 127.0.0.1:PORT2 (BIG.json: bench/ratios.sh big_hall)" >>"$COMMANDS"
	t0=$(date +%s%N)
	"$BUILD/qserver" --config "$WORK/big.json" "${QSERVER_OPTS[@]:2}" --redis "unix:$bsock" --listen "127.0.0.1:$bport" \
		>>"$RES/qserver-big.log" 2>&1 &
	qpid=$!
	while [ $(($(date +%s%N) - t0)) -lt $((BIG_WAIT * 1000000000)) ]; do
		# qbench-raw, not qcli: the answer of 2,000 services is longer than qcli's 64 KiB line
		# (each poll bounded: qbench-raw has no read timeout)
		if timeout 2 "$BUILD/qbench-raw" request "127.0.0.1:$bport" 1 '{"op":"services"}' 2>/dev/null | grep -q '"errors":0'; then
			started=1
			break
		fi
		sleep 0.02
	done
	t1=$(date +%s%N)
	if [ "$started" = 1 ]; then
		R_START="$(fmt 2 "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1e9 }')") s"
		R_START_OK=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print ((b - a) / 1e9 < 2 ? 1 : 0) }')
		# a hall in use: every service its own learnt time (its estimates no longer shared by
		# the configured times), the hall's mix learnt
		echo "learn_hall BIGSOCK 'q:{big}' (bench/ratios.sh)" >>"$COMMANDS"
		learn_hall "$bsock" 'q:{big}'
		echo "build/qbench-raw request 127.0.0.1:PORT2 21 '{\"op\":\"snapshot\"}'" >>"$COMMANDS"
		"$BUILD/qbench-raw" request "127.0.0.1:$bport" 21 '{"op":"snapshot"}' >"$RES/big_snapshot.json" 2>"$RES/big_snapshot.err"
		R_SNAP="$(jnum "$RES/big_snapshot.json" p50_ms) ms"
		R_SNAP_OK=$(cmp "$(jnum "$RES/big_snapshot.json" p50_ms)" '<' 10)
		[ "$(jnum "$RES/big_snapshot.json" errors)" = 0 ] && [ "$(jnum "$RES/big_snapshot.json" n)" != 0 ] || R_SNAP_OK=0
	else
		R_START="did not start within $BIG_WAIT s"
		R_START_OK=0
		R_SNAP="not measured: qserver did not start"
		R_SNAP_OK=0
	fi
	kill "$qpid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$qpid" 2>/dev/null
	wait "$qpid" 2>/dev/null
	# A setup still running inside Redis ignores SIGTERM until it ends: stop it for good.
	kill -9 "$rpid" 2>/dev/null
	wait "$rpid" 2>/dev/null
}

# Prints 1 when a measured figure is there and within its limit: within VALUE LIMIT.
within() { awk -v v="$1" -v l="$2" 'BEGIN { print ((v + 0 > 0 && v + 0 <= l) ? 1 : 0) }'; }

# Prints the issue-11 section of BENCHMARKS.md.
# Redis instructions per call, counted by callgrind inside FCALL (scripts/fcall-instructions.sh):
# the same ratios as the CPU ones, but exact whatever else the machine runs. Sets R_IR_* ("" when
# valgrind is missing).
ratios_instructions() {
	R_IR_MIN="" R_IR_TAKE="" R_IR_CYCLE="" R_IR_TAKE_X="" R_IR_CYCLE_X=""
	command -v valgrind >/dev/null || return 0
	echo "scripts/fcall-instructions.sh 200" >>"$COMMANDS"
	local out
	out=$("$ROOT/scripts/fcall-instructions.sh" 200 2>/dev/null) || return 0
	R_IR_MIN=$(echo "$out" | awk '/^minimal function:/ { print $3 }')
	read -r R_IR_TAKE R_IR_TAKE_X R_IR_CYCLE R_IR_CYCLE_X < <(echo "$out" | tail -1 |
		sed 's/[()x,]//g' | awk '{ print $3, $4, $8, $9 }')
}

ratios_report() {
	local lib
	lib=$(git -C "$ROOT" log -1 --format='%h (%cs)' -- qserver/functions.lua 2>/dev/null)
	git -C "$ROOT" diff --quiet HEAD -- qserver/functions.lua 2>/dev/null || lib="$lib with uncommitted changes"
	met() { [ "$1" = 1 ] && echo "**met**" || echo "**missed**"; }
	echo "## Lean Functions: the figures against their baselines"
	echo
	echo "Each figure below is measured in this run against its baseline on the same Redis, so the"
	echo "ratios hold whatever the machine's speed. Function library measured: \`qserver/functions.lua\`"
	echo "at commit $lib. The minimal function is [\`bench/minimal.lua\`](bench/minimal.lua) (INCR +"
	echo "HSET + ZADD + XADD + PUBLISH). Redis CPU per call is \`INFO commandstats\` (\`cmdstat_fcall\`"
	echo "usec over calls, after \`CONFIG RESETSTAT\`) for each phase alone."
	echo
	echo "| figure | today (issue 11) | target | measured | |"
	echo "|---|---|---|---|---|"
	echo "| take, Redis CPU per call / minimal function | 10.5x | <= 3x | ${R_TAKE_X}x ($R_TAKE_US µs / $R_MIN_US µs) | $(met "$(within "$R_TAKE_X" 3)") |"
	echo "| call_next + finish cycle / minimal function | ~27x | <= 5x | ${R_CYCLE_X}x ($R_CYCLE_US µs / $R_MIN_US µs) | $(met "$(within "$R_CYCLE_X" 5)") |"
	if [ -n "$R_IR_TAKE" ]; then
		echo "| take, Redis instructions per call / minimal function (callgrind) | | <= 3x | ${R_IR_TAKE_X}x ($R_IR_TAKE / $R_IR_MIN) | $(met "$(within "$R_IR_TAKE_X" 3)") |"
		echo "| call_next + finish cycle, instructions / minimal function (callgrind) | | <= 5x | ${R_IR_CYCLE_X}x ($R_IR_CYCLE / $R_IR_MIN) | $(met "$(within "$R_IR_CYCLE_X" 5)") |"
	fi
	echo "| AOF bytes per ticket life (take, call, finish) | ~6,600 | <= 1,500 | $R_AOF_LIFE ($R_AOF_TAKE take + $R_AOF_CYCLE cycle) | $(met "$(within "$R_AOF_LIFE" 1500)") |"
	echo "| Redis memory per ticket with 90-day retention | ~2,500 B | <= 800 B | $R_MEM_LIFE B ($R_MEM_TAKE take + $R_MEM_CYCLE cycle) | $(met "$(within "$R_MEM_LIFE" 800)") |"
	echo "| start on $BIG_SERVICES services x $BIG_WINDOWS windows | never | < 2 s | $R_START | $(met "$R_START_OK") |"
	echo "| snapshot at $BIG_SERVICES services, median through qserver | 527 ms | < 10 ms | $R_SNAP | $(met "$R_SNAP_OK") |"
	echo "| take p99 at 1,000/s / raw FCALL p99 at 1,000/s (median of $P99_ROUNDS rounds) | 2-6x | <= 1.5x | ${R_P99_X}x (medians $R_TAKE_P99 ms / $R_RAW_P99 ms) | $(met "$(within "$R_P99_X" 1.5)") |"
	echo "| call_next to \`called\` p99, $FANOUT_N subscribers / PUBLISH floor | ~4x | <= 2x | ${R_FAN_X}x ($R_FAN_P99 ms / $R_PUB_P99 ms) | $(met "$(within "$R_FAN_X" 2)") |"
	echo
	echo "How each was measured:"
	echo
	echo "- **CPU ratios**: $R_N calls of the minimal function (redis-benchmark, 4 clients) before and"
	echo "  after, averaged ($R_MIN_US µs per call); $R_TAKES \`take\`s through qserver (qbench, 4 kiosks x 4;"
	echo "  $R_TAKE_CALLS FCALLs in the phase); $R_CYCLES clerk cycles through qserver (qbench, 4 clerks;"
	echo "  $R_CYCLE_CALLS FCALLs, the cycle's Redis CPU is all of them over the cycles, lease renewals"
	echo "  included). The minimal function itself adds $R_MIN_AOF AOF bytes and $R_MIN_MEM B of memory per call."
	echo "  \`usec\` is time inside Redis by the wall clock: when other work shares the cores, a long call"
	echo "  is cut into more often than a short one, so a loaded run shows a larger ratio than a quiet one."
	if [ -n "$R_IR_TAKE" ]; then
		echo "- **Instruction ratios**: \`scripts/fcall-instructions.sh 200\`: Redis under valgrind's callgrind,"
		echo "  counting what it executes inside \`FCALL\` for 200 calls of the minimal function, 200 takes and"
		echo "  200 call_next + finish cycles at a comprehensive window of a 6-service hall (straight to"
		echo "  Redis, not through qserver). The count does not move with the machine's load, so these two"
		echo "  rows compare runs exactly; the CPU rows above are what the hall pays."
	fi
	echo "- **AOF and memory per ticket life**: \`aof_current_size\` and \`used_memory\` before and after"
	echo "  the take phase and the cycle phase (no AOF rewrite in between), per ticket; a life is one take"
	echo "  and one cycle. Every ticket is inside the 90-day retention, so its stream entries and"
	echo "  statistics stay in memory as they would on a hall's 90th day. These phases (and the CPU"
	echo "  ones, which are the same runs) run with Redis's \`latency-tracking\` off: its per-command"
	echo "  histograms, made again after each phase's \`CONFIG RESETSTAT\`, added about 270 B to a"
	echo "  life's figure (a fixed 0.8 MB, not the tickets'; see *What holds the numbers back*)."
	echo "- **Start and snapshot**: a hall of $BIG_SERVICES services and $BIG_WINDOWS windows serving all of"
	echo "  them, generated by \`bench/ratios.sh\`, on a Redis of its own; the time runs from starting"
	echo "  qserver to its first answered \`services\` (polled every 20 ms with \`qbench-raw request\`), given up after"
	echo "  $BIG_WAIT s. The snapshot is the median of 21 sent one at a time (\`qbench-raw request\`),"
	echo "  measured on the hall as it is in use: every service given a learnt time of its own and the"
	echo "  hall its learnt mix (\`learn_hall\` in \`bench/ratios.sh\`), not the configured times of a"
	echo "  fresh setup, which many services share."
	echo "- **take p99**: qbench's \`take\` at 1,000/s (8 kiosks, open loop) against \`qbench-raw fcall\`"
	echo "  sending \`FCALL qh_take\` at 1,000/s over 8 connections straight to Redis (open loop too,"
	echo "  latency from each call's scheduled time), in $P99_ROUNDS rounds: a raw run before each of qbench's"
	echo "  and one after the last. A round's ratio is qbench's p99 over the better of the raw runs just"
	echo "  before and after it; the figure is the median of the rounds' ($R_P99_ROUNDS)."
	echo "- **Fan-out**: the fanout run's p99 (call_next sent to \`called\` received, $FANOUT_N displays)"
	echo "  against \`qbench-raw publish\`: one client publishing 200 messages 20 ms apart to a channel"
	echo "  with $FANOUT_N subscribers on the same Redis, p99 from PUBLISH sent to message received,"
	echo "  run just before and just after the fanout run (p99 $R_PUB_P99S); the better is the floor."
	echo
	echo "Where a take's time goes, end to end: \`bench/breakdown.sh\` (see *What holds the numbers back*)."
	if [ -s "$RES/breakdown.md" ]; then
		echo
		cat "$RES/breakdown.md"
	fi
	echo
}
