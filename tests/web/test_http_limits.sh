#!/bin/bash
# Limits and refusals of the HTTP API on a one-hall server that allows remote takes
# (tests/data/web.json): remote takes by the public are limited per address and per ref as
# --web-takes-per-addr and --web-takes-per-ref say, answered 429 rate_limited with
# Retry-After; a body over 64 KiB is 413 too_long in JSON; GET /region is 403 forbidden for a
# hall manager, as the region op is over NDJSON.
source "$(dirname "$0")/lib.sh"

out="$TUI_DIR/out"
CONFIG="$ROOT/tests/data/web.json"

# Runs curl, body to $out and headers to $out.h; prints the status.
call() { curl -s -o "$out" -D "$out.h" -w '%{http_code}' --max-time 5 "$@"; }
body_has() { grep -qF -- "$1" "$out"; }
web_take() { call -X POST -H "$J" -d "{\"service\":\"A\",\"channel\":\"web\"$1}" "$API/sites/small/tickets"; }

# --web-takes-per-ref 2: a third take for one phone is refused, another phone still takes.
takes_limited_per_ref() {
	[ "$(web_take ',"ref":"13800000000"')" = 200 ] && [ "$(web_take ',"ref":"13800000000"')" = 200 ] &&
		[ "$(web_take ',"ref":"13800000000"')" = 429 ] && body_has '"code":"rate_limited"' &&
		body_has '"retry_after":' && grep -qi '^Retry-After: [1-9]' "$out.h" &&
		[ "$(web_take ',"ref":"13900000000"')" = 200 ]
}

# --web-takes-per-addr 4: three takes passed from this address; the fourth passes, the fifth
# is refused even with a new phone, and a refused take issued no ticket.
takes_limited_per_address() {
	[ "$(web_take '')" = 200 ] || return 1
	local issued
	issued=$(curl -s "$API/sites/small/services" | grep -o '"waiting":[0-9]*' | head -1)
	[ "$(web_take ',"ref":"13700000000"')" = 429 ] && body_has '"code":"rate_limited"' &&
		[ "$(curl -s "$API/sites/small/services" | grep -o '"waiting":[0-9]*' | head -1)" = "$issued" ]
}

too_long_body_is_json_413() {
	head -c 70000 /dev/zero | tr '\0' ' ' >"$TUI_DIR/big"
	printf '{"service":"A"}' >>"$TUI_DIR/big"
	[ "$(call -X POST -H "$J" --data-binary @"$TUI_DIR/big" "$API/sites/small/tickets")" = 413 ] &&
		body_has '"code":"too_long"' && grep -qi '^Content-Type: application/json' "$out.h"
}

hall_manager_region_is_403() {
	local token
	[ "$(call -H "$J" -d '{"role":"manager","user":"m01","password":"manager123","site":"small"}' "$API/session")" = 200 ] &&
		token=$(sed -n 's/.*"session":"\([^"]*\)".*/\1/p' "$out") && [ -n "$token" ] &&
		[ "$(call -H "Authorization: Bearer $token" "$API/region")" = 403 ] && body_has '"code":"forbidden"' &&
		[ "$(call "$API/region")" = 401 ] && body_has '"code":"unauthenticated"'
}

PORT=$(free_port)
start_redis || exit 1
start_http_qserver --web-takes-per-addr 4 --web-takes-per-ref 2 || exit 1
check "remote takes for one phone stop at --web-takes-per-ref, 429 with Retry-After" takes_limited_per_ref
check "remote takes from one address stop at --web-takes-per-addr, issuing nothing" takes_limited_per_address
check "a body over 64 KiB is 413 too_long in JSON" too_long_body_is_json_413
check "GET /region by a hall manager is 403 forbidden; without a session 401" hall_manager_region_is_403
tui_finish
