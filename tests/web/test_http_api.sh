#!/bin/bash
# The HTTP API of WEB.md against a real qserver and Redis, with curl as the client: the
# routes reach the op table with its role checks, errors carry their HTTP status (and
# Retry-After), bodies need Content-Type: application/json, sessions set a cookie with the
# right flags, work as Bearer tokens, survive a restart of qserver and end at sign-out.
source "$(dirname "$0")/lib.sh"

QSERVER_EXTRA=()
out="$TUI_DIR/out"
hdr="$TUI_DIR/headers"

# Runs curl quietly against the API, headers to $hdr and body to $out; prints the status.
call() {
	curl -s -o "$out" -D "$hdr" -w '%{http_code}' --max-time 5 "$@"
}

# True when the body holds the text.
body_has() { grep -qF -- "$1" "$out"; }
# True when a header line (case-insensitive) matches the regular expression.
header_has() { grep -qiE -- "$1" "$hdr"; }

public_services_ok() {
	[ "$(call "$API/sites/small/services")" = 200 ] && body_has '"ok":true' && body_has '"services":[' &&
		! body_has '"id":null' && header_has "^Content-Type: application/json"
}

security_headers_present() {
	call "$API/sites/small" >/dev/null &&
		header_has "^Content-Security-Policy: default-src 'self'" && header_has '^X-Content-Type-Options: nosniff' &&
		header_has '^Referrer-Policy: no-referrer' && header_has '^X-Frame-Options: DENY'
}

unknown_site_is_404() {
	[ "$(call "$API/sites/elsewhere/services")" = 404 ] && body_has '"code":"not_found"'
}

unknown_path_is_404() {
	[ "$(call "$API/sites/small/frobnicate")" = 404 ] && [ "$(call "$API/nothing")" = 404 ]
}

unknown_op_is_404() {
	[ "$(call -X POST -H 'Content-Type: application/json' -d '{}' "$API/sites/small/op/frobnicate")" = 404 ] &&
		body_has '"code":"unknown_op"'
}

body_without_json_type_is_415() {
	[ "$(call -X POST -H 'Content-Type: text/plain' -d '{"service":"A"}' "$API/sites/small/tickets")" = 415 ] &&
		body_has '"code":"bad_request"'
}

bad_json_is_400() {
	[ "$(call -X POST -H 'Content-Type: application/json' -d '{"service":' "$API/sites/small/tickets")" = 400 ] &&
		body_has '"code":"bad_json"'
}

big_body_is_413() {
	head -c 70000 /dev/zero | tr '\0' 'a' >"$TUI_DIR/big"
	[ "$(call -X POST -H 'Content-Type: application/json' --data-binary @"$TUI_DIR/big" "$API/sites/small/tickets")" = 413 ] &&
		body_has '"code":"too_long"' && grep -q '^{"ok":false' "$out"
}

public_take_is_401() {
	[ "$(call -X POST -H 'Content-Type: application/json' -d '{"service":"A"}' "$API/sites/small/tickets")" = 401 ] &&
		body_has '"code":"unauthenticated"'
}

# Signs the kiosk in; the cookie jar keeps the session.
kiosk_sign_in_sets_cookie() {
	[ "$(call -c "$TUI_DIR/jar" -X POST -H 'Content-Type: application/json' \
		-d '{"role":"kiosk","token":"kiosk123","site":"small"}' "$API/session")" = 200 ] &&
		body_has '"role":"kiosk"' &&
		header_has '^Set-Cookie: qhall_session=[A-Za-z0-9_-]{22,}; Max-Age=2592000; Path=/; HttpOnly; SameSite=Strict' &&
		! header_has '^Set-Cookie:.*Secure'
}

kiosk_cookie_takes_a_ticket() {
	[ "$(call -b "$TUI_DIR/jar" -X POST -H 'Content-Type: application/json' -d '{"service":"A","id":7}' "$API/sites/small/tickets")" = 200 ] &&
		body_has '"number":"A001"' && ! body_has '"id":7'
}

ticket_is_public() {
	[ "$(call "$API/sites/small/tickets/A001")" = 200 ] && body_has '"state":"waiting"'
}

# Signs the manager in and keeps the token for Authorization: Bearer.
manager_sign_in() {
	[ "$(call -X POST -H 'Content-Type: application/json' \
		-d '{"role":"manager","user":"m01","password":"manager123","site":"small"}' "$API/session")" = 200 ] &&
		header_has '^Set-Cookie: qhall_session=.*Max-Age=43200' &&
		MANAGER=$(sed -n 's/.*"session":"\([A-Za-z0-9_-]*\)".*/\1/p' "$out") && [ -n "$MANAGER" ]
}

bearer_manager_runs_window_ops() {
	local auth="Authorization: Bearer $MANAGER" j='Content-Type: application/json'
	[ "$(call -H "$auth" -X POST -H "$j" -d '{}' "$API/sites/small/op/queue")" = 200 ] &&
		body_has '"number":"A001"' &&
		[ "$(call -H "$auth" -X POST -H "$j" -d '{"window":1}' "$API/sites/small/op/call_next")" = 409 ] &&
		body_has '"code":"conflict"' && body_has 'closed'
}

stats_take_query_arguments() {
	[ "$(call -H "Authorization: Bearer $MANAGER" "$API/sites/small/stats?from=2026-11-27&to=2026-11-27&by=service")" = 200 ] &&
		body_has '"by":"service"'
}

kiosk_may_not_call() {
	[ "$(call -b "$TUI_DIR/jar" -X POST -H 'Content-Type: application/json' -d '{"window":1}' "$API/sites/small/op/call_next")" = 403 ] &&
		body_has '"code":"forbidden"'
}

clerk_sign_in_refused() {
	[ "$(call -X POST -H 'Content-Type: application/json' \
		-d '{"role":"clerk","user":"c01","password":"clerk123","window":1,"site":"small"}' "$API/session")" = 400 ]
}

wrong_password_401_then_429() {
	local j='Content-Type: application/json' bad='{"role":"manager","user":"m01","password":"wrong","site":"small"}'
	[ "$(call -X POST -H "$j" -d "$bad" "$API/session")" = 401 ] || return 1
	for _ in 1 2 3 4 5 6; do call -X POST -H "$j" -d "$bad" "$API/session" >/dev/null; done
	[ "$(call -X POST -H "$j" -d "$bad" "$API/session")" = 429 ] && header_has '^Retry-After: [0-9]+' &&
		body_has '"retry_after":'
}

session_survives_restart() {
	stop_qserver
	start_http_qserver "${QSERVER_EXTRA[@]}" &&
		[ "$(call -H "Authorization: Bearer $MANAGER" "$API/sites/small/op/queue" -X POST -H 'Content-Type: application/json' -d '{}')" = 200 ]
}

sign_out_ends_session() {
	[ "$(call -X DELETE -H "Authorization: Bearer $MANAGER" "$API/session")" = 200 ] &&
		header_has '^Set-Cookie: qhall_session=; Max-Age=0' &&
		[ "$(call -H "Authorization: Bearer $MANAGER" -X POST -H 'Content-Type: application/json' -d '{}' "$API/sites/small/op/queue")" = 401 ]
}

secure_cookies_flag() {
	stop_qserver
	QSERVER_EXTRA+=(--secure-cookies)
	start_http_qserver "${QSERVER_EXTRA[@]}" &&
		[ "$(call -X POST -H 'Content-Type: application/json' -d '{"role":"kiosk","token":"kiosk123","site":"small"}' "$API/session")" = 200 ] &&
		header_has '^Set-Cookie: qhall_session=.*; Secure'
}

PORT=$(free_port)
start_redis || exit 1
start_http_qserver || exit 1
check "public services answer 200 with the protocol's answer" public_services_ok
check "every answer carries the security headers" security_headers_present
check "an unknown site is 404 not_found" unknown_site_is_404
check "an unknown path is 404" unknown_path_is_404
check "an unknown op is 404 unknown_op" unknown_op_is_404
check "a body without Content-Type application/json is 415" body_without_json_type_is_415
check "a malformed body is 400 bad_json" bad_json_is_400
check "a body over 64 KiB is 413 too_long in JSON" big_body_is_413
check "the public may not take without a session: 401" public_take_is_401
check "a kiosk sign-in sets the session cookie with its flags" kiosk_sign_in_sets_cookie
check "the kiosk's cookie takes a ticket, answered without id" kiosk_cookie_takes_a_ticket
check "ticket is public" ticket_is_public
check "a manager signs in for 12 hours" manager_sign_in
check "a Bearer manager sees the queue; a window op on a closed window is 409" bearer_manager_runs_window_ops
check "stats take from, to and by from the query" stats_take_query_arguments
check "a kiosk may not call: 403" kiosk_may_not_call
check "clerks sign in at the console, not over HTTP" clerk_sign_in_refused
check "wrong passwords are 401, then 429 with Retry-After" wrong_password_401_then_429
check "a session survives a restart of qserver" session_survives_restart
check "signing out ends the session" sign_out_ends_session
check "--secure-cookies marks the cookie Secure" secure_cookies_flag
tui_finish
