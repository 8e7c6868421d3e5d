#!/bin/bash
# Shared helpers of the HTTP tests: the terminal tests' Redis and checks (tests/tui/lib.sh)
# plus a qserver with --http on a free port, and the API's base address.
source "$(dirname "${BASH_SOURCE[0]}")/../tui/lib.sh"

HTTP_PORT=$(free_port)
API="http://127.0.0.1:$HTTP_PORT/api/v1"
J='Content-Type: application/json'

# Starts qserver on CONFIG (the small hall by default) with HTTP on and extra arguments, and
# waits until the API answers for READY_SITE (small by default).
start_http_qserver() {
	"$BUILD/qserver" --config "${CONFIG:-$ROOT/tests/data/small.json}" --redis "unix:$REDIS_SOCK" \
		--listen "127.0.0.1:$PORT" --test-clock --clock-start "$HALL_T0" --log-level "${LOG_LEVEL:-warn}" \
		--http "127.0.0.1:$HTTP_PORT" "$@" >>"$TUI_DIR/qserver.log" 2>&1 &
	QSERVER_PID=$!
	for _ in $(seq 200); do
		curl -sf -o /dev/null --max-time 1 "$API/sites/${READY_SITE:-small}/services" && return 0
		sleep 0.05
	done
	tail -n 20 "$TUI_DIR/qserver.log" >&2
	return 1
}
