#!/bin/bash
# --trust-proxy: the client's address comes from X-Forwarded-For only when the connection is
# the trusted proxy's, as the per-address limit of remote takes shows.
source "$(dirname "$0")/lib.sh"

out="$TUI_DIR/out"
CONFIG="$TUI_DIR/web.json"
sed 's|"tz": "Asia/Shanghai",|"tz": "Asia/Shanghai", "remote_take": true,|' "$ROOT/tests/data/small.json" >"$CONFIG"

# Takes a ticket as the public, claiming to be from FORWARDED; prints the status.
take_from() {
	curl -s -o "$out" -w '%{http_code}' --max-time 5 -X POST -H "$J" -H "X-Forwarded-For: 203.0.113.9, $1" \
		-d '{"service":"A","channel":"web"}' "$API/sites/small/tickets"
}

# Ten takes pass for one forwarded address, the eleventh is 429, another address still takes.
forwarded_address_counted() {
	local i
	for i in $(seq 10); do [ "$(take_from 10.0.0.1)" = 200 ] || return 1; done
	[ "$(take_from 10.0.0.1)" = 429 ] && [ "$(take_from 10.0.0.2)" = 200 ]
}

# Without --trust-proxy the header is ignored: every take counts against 127.0.0.1.
header_ignored_untrusted() {
	stop_qserver
	redis-cli -s "$REDIS_SOCK" flushall >/dev/null
	start_http_qserver || return 1
	local i
	for i in $(seq 10); do [ "$(take_from "10.0.1.$i")" = 200 ] || return 1; done
	[ "$(take_from 10.0.2.1)" = 429 ]
}

PORT=$(free_port)
start_redis || exit 1
start_http_qserver --trust-proxy 127.0.0.1 || exit 1
check "behind the trusted proxy, X-Forwarded-For names the client" forwarded_address_counted
check "from anyone else, X-Forwarded-For is ignored" header_ignored_untrusted
tui_finish
