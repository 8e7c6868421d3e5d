#!/bin/bash
# Smoke test of qbench against a tiny load on the small test hall: every scenario runs, ends by
# itself, and reports the right counts and no errors. Nothing here is timed: speed is measured
# only by `make bench`.
. "$(dirname "$0")/lib.sh"

start_redis || exit 1
# Other tests on this machine pick free ports too: on a lost race, try another port (and make
# sure the server that answers is ours, still running).
for attempt in 1 2 3; do
	PORT=""
	start_qserver && kill -0 "$QSERVER_PID" 2>/dev/null && break
	stop_qserver
	[ "$attempt" = 3 ] && exit 1
done

OUT="$TUI_DIR/qbench"
mkdir -p "$OUT"

# Runs qbench with --json against the test server, saving its report as OUT/NAME.json.
bench() {
	local name=$1
	shift
	QHALL_TOKEN=kiosk123 QHALL_PASSWORD=clerk123 timeout 60 "$BUILD/qbench" --server "127.0.0.1:$PORT" --json "$@" \
		>"$OUT/$name.json" 2>"$OUT/$name.err"
}

# True when report NAME holds the JSON text TEXT (the report is one compact line), else shows it.
has() {
	grep -qF -- "$2" "$OUT/$1.json" && return 0
	echo "# wanted $2 in the $1 report:"
	sed 's/^/# /' "$OUT/$1.json" "$OUT/$1.err"
	return 1
}

CLERK=(--clerk-prefix c --clerk-width 2)

check "qbench take: 200 takes over 4 connections finish" bench take --scenario take --conns 4 --depth 2 --requests 200
check "take: 200 sent, 200 ok" has take '"sent":200,"ok":200,'
check "take: no errors" has take '"errors":{"total":0,'
check "take: every take has a latency" has take '"latency":{"n":200,'

check "qbench clerk: 20 steps of clerk c01 finish" bench clerk --scenario clerk --clerks 1 "${CLERK[@]}" --requests 20
check "clerk: 20 ok" has clerk '"ok":20,'
check "clerk: call_next and finish alternate" has clerk '"call_next":{"n":10,'
check "clerk: no errors" has clerk '"errors":{"total":0,'

check "qbench mixed: 120 requests at a fixed rate finish" bench mixed --scenario mixed --conns 2 --clerks 1 "${CLERK[@]}" \
	--services A,B,C --rate 400 --requests 120
check "mixed: 120 ok" has mixed '"sent":120,"ok":120,'
check "mixed: 20 takes" has mixed '"take":{"n":20,'
check "mixed: 40 ticket lookups" has mixed '"ticket":{"n":40,'
check "mixed: no errors" has mixed '"errors":{"total":0,'

check "qbench fanout: 20 subscribers, 10 calls finish" bench fanout --scenario fanout --conns 20 --rounds 10 --interval 0 "${CLERK[@]}"
check "fanout: 200 deliveries, none missed" has fanout '"deliveries":200,"missed":0,'
check "fanout: no errors" has fanout '"errors":{"total":0,'

check "qbench idle: 50 subscribers held" bench idle --scenario idle --conns 50 --duration 0.5 --qserver-pid "$QSERVER_PID"
check "idle: 50 connections, RSS read" bash -c "grep -qE '\"idle\":\\{\"connections\":50,\"rss_before_kb\":[1-9][0-9]*,\"rss_kb\":[1-9]' '$OUT/idle.json'"
check "idle: no errors" has idle '"errors":{"total":0,'

check "qbench refuses a non-loopback server" bash -c "! '$BUILD/qbench' --server 192.0.2.1:7420 --requests 1 >/dev/null 2>&1"

tui_finish
