#!/bin/bash
# GET /metrics against a real qserver and Redis: the text parses as the Prometheus exposition
# format, and after takes over HTTP and NDJSON, a bad request, a wrong password and an unknown
# path the counters moved by exactly that; loopback and --metrics-allow may read it, any other
# address (here the client a trusted proxy names) gets 403.
source "$(dirname "$0")/lib.sh"

PROM="$ROOT/tests/web/promtext.py"
before="$TUI_DIR/before.prom"
after="$TUI_DIR/after.prom"

# Scrapes /metrics into a file; true when the answer was 200.
scrape() {
	[ "$(curl -s -o "$1" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$HTTP_PORT/metrics")" = 200 ]
}

# How much a series grew between the two scrapes.
delta() {
	local a b
	a=$(python3 "$PROM" get "$before" "$1")
	b=$(python3 "$PROM" get "$after" "$1")
	python3 -c "import sys; print(int(float(sys.argv[2]) - float(sys.argv[1])))" "$a" "$b"
}

# True when a series grew by exactly N; prints the series and both values otherwise.
grew_by() {
	local d
	d=$(delta "$1")
	[ "$d" = "$2" ] && return 0
	echo "# $1 grew by $d, expected $2" >&2
	return 1
}

metrics_parse() {
	scrape "$before" && python3 "$PROM" check "$before" &&
		grep -q '^Content-Type: text/plain; version=0.0.4' <(curl -s -D - -o /dev/null "http://127.0.0.1:$HTTP_PORT/metrics")
}

# Two takes over HTTP, one over NDJSON, a take with a bad argument, a wrong password, an
# unknown API path; then the second scrape.
do_the_work() {
	local jar="$TUI_DIR/jar"
	curl -s -c "$jar" -X POST -H "$J" -d '{"role":"kiosk","token":"kiosk123","site":"small"}' "$API/session" | grep -q '"ok":true' &&
		curl -s -b "$jar" -X POST -H "$J" -d '{"service":"A"}' "$API/sites/small/tickets" | grep -q '"ok":true' &&
		curl -s -b "$jar" -X POST -H "$J" -d '{"service":"B"}' "$API/sites/small/tickets" | grep -q '"ok":true' &&
		qc --kiosk take service=C >/dev/null &&
		curl -s -b "$jar" -X POST -H "$J" -d '{"service":5}' "$API/sites/small/tickets" | grep -q '"code":"bad_request"' &&
		curl -s -X POST -H "$J" -d '{"role":"manager","user":"m01","password":"wrong","site":"small"}' "$API/session" |
		grep -q '"code":"unauthenticated"' &&
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$API/nothing")" = 404 ] &&
		scrape "$after" && python3 "$PROM" check "$after"
}

# Only take (2 over HTTP, 1 over NDJSON, 1 bad) and hello (HTTP kiosk, NDJSON kiosk, wrong
# manager) moved.
requests_counted_per_op() {
	[ "$(python3 "$PROM" diff "$before" "$after" qhall_requests_total)" = 'qhall_requests_total{op="hello"} 3
qhall_requests_total{op="take"} 4' ] &&
		grew_by 'qhall_request_duration_seconds_count{op="take"}' 4 &&
		grew_by 'qhall_request_duration_seconds_bucket{op="take",le="+Inf"}' 4
}

# Exactly these error series moved, each by one.
errors_counted_per_op_and_code() {
	local moved
	moved=$(python3 "$PROM" diff "$before" "$after" qhall_request_errors_total
		python3 "$PROM" diff "$before" "$after" qhall_http_errors_total)
	[ "$moved" = 'qhall_request_errors_total{op="hello",code="unauthenticated"} 1
qhall_request_errors_total{op="take",code="bad_request"} 1
qhall_http_errors_total{code="not_found"} 1' ] || { echo "# errors moved: $moved" >&2; return 1; }
}

login_failure_counted() {
	grew_by 'qhall_login_failures_total' 1 && grew_by 'qhall_login_lockouts_total{by="user"}' 0
}

redis_link_up() {
	[ "$(python3 "$PROM" get "$after" qhall_redis_up)" = 1 ] &&
		[ "$(python3 "$PROM" get "$after" qhall_redis_events_up)" = 1 ] &&
		grep -q '^qhall_webhook_deliveries_total{result="retried"} 0$' "$after"
}

# An NDJSON display subscribed now shows as a public connection and subscriber; the call it
# sees counts one delivered event.
subscriber_counted() {
	qc watch called >"$TUI_DIR/watch.out" 2>&1 &
	local watcher=$! ok=1
	for _ in $(seq 100); do
		scrape "$before" && [ "$(python3 "$PROM" get "$before" 'qhall_subscribers{transport="ndjson",role="public"}')" = 1 ] && ok=0 && break
		sleep 0.05
	done
	if [ $ok = 0 ]; then
		QHALL_PASSWORD=clerk123 qc --clerk c01 --window 1 call_next >/dev/null
		for _ in $(seq 100); do grep -q '"event":"called"' "$TUI_DIR/watch.out" && break; sleep 0.05; done
		scrape "$after"
		ok=1
		grew_by 'qhall_events_delivered_total{transport="ndjson"}' 1 &&
			[ "$(python3 "$PROM" get "$after" 'qhall_connections{role="public"}')" = 1 ] && ok=0
	fi
	kill "$watcher" 2>/dev/null
	wait "$watcher" 2>/dev/null
	return $ok
}

# Through the trusted proxy the client's own address decides: 403 for a stranger, 200 for
# an address of --metrics-allow; the answer names no user, address or hash.
only_loopback_and_allowed() {
	local url="http://127.0.0.1:$HTTP_PORT/metrics"
	[ "$(curl -s -o "$TUI_DIR/refused" -w '%{http_code}' -H 'X-Forwarded-For: 203.0.113.9' "$url")" = 403 ] &&
		grep -q '"code":"forbidden"' "$TUI_DIR/refused" &&
		[ "$(curl -s -o "$TUI_DIR/allowed" -w '%{http_code}' -H 'X-Forwarded-For: 198.51.100.7' "$url")" = 200 ] &&
		! grep -qE 'c01|m01|kiosk-1|127\.0\.0\.1|\$5\$' "$TUI_DIR/allowed"
}

PORT=$(free_port)
start_redis || exit 1
start_http_qserver --trust-proxy 127.0.0.1 --metrics-allow 198.51.100.7,::1 || exit 1
check "/metrics is 200 in the text format 0.0.4 and parses" metrics_parse
check "takes, a bad request, a wrong password and a bad path were answered" do_the_work
check "requests and latencies count per op, HTTP and NDJSON alike" requests_counted_per_op
check "errors count per op and code, and the HTTP front end's own" errors_counted_per_op_and_code
check "a wrong password counts one login failure" login_failure_counted
check "the Redis links are up" redis_link_up
check "a subscriber and the event it got are counted" subscriber_counted
check "only loopback and --metrics-allow read the metrics" only_loopback_and_allowed
tui_finish
