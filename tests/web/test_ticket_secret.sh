#!/bin/bash
# Tickets reachable by the citizen (PROTOCOL.md v2) over HTTP: a take gives a secret and,
# with public_url, the status page address; only the take reply holds the secret (never a
# ticket, snapshot, queue, event or the log); the secret lets the public read, cancel and
# rate its own ticket, a wrong one is unauthenticated; the public takes only with channel
# web where the hall allows remote takes.
source "$(dirname "$0")/lib.sh"

LOG_LEVEL=debug
out="$TUI_DIR/out"
CONFIG="$TUI_DIR/web.json"
sed 's|"tz": "Asia/Shanghai",|"tz": "Asia/Shanghai", "public_url": "https://hall.example.cn/", "remote_take": true,|' \
	"$ROOT/tests/data/small.json" >"$CONFIG"

# Runs curl, body to $out; prints the status.
call() { curl -s -o "$out" -w '%{http_code}' --max-time 5 "$@"; }
body_has() { grep -qF -- "$1" "$out"; }

public_web_take_gives_secret_and_status_url() {
	curl -sN --max-time 3 "$API/sites/small/events" >"$TUI_DIR/events" &
	EVENTS_PID=$!
	sleep 0.3
	[ "$(call -X POST -H "$J" -d '{"service":"A","channel":"web"}' "$API/sites/small/tickets")" = 200 ] || return 1
	ID=$(sed -n 's/.*"ticket":{"id":"\([^"]*\)".*/\1/p' "$out")
	SECRET=$(sed -n 's/.*"secret":"\([A-Za-z0-9_-]*\)".*/\1/p' "$out")
	[ -n "$ID" ] && [ "${#SECRET}" -ge 14 ] &&
		body_has "\"status_url\":\"https://hall.example.cn/t/$ID?k=$SECRET\"" && body_has '"channel":"web"'
}

public_needs_channel_web() {
	[ "$(call -X POST -H "$J" -d '{"service":"A"}' "$API/sites/small/tickets")" = 401 ]
}

secret_nowhere_else() {
	wait "$EVENTS_PID"
	! grep -qF "$SECRET" "$TUI_DIR/events" && grep -q '^event: queue' "$TUI_DIR/events" &&
		[ "$(call "$API/sites/small/snapshot")" = 200 ] && ! body_has "$SECRET" &&
		[ "$(call "$API/sites/small/tickets/$ID?k=$SECRET")" = 200 ] && ! body_has "$SECRET" && body_has "\"id\":\"$ID\"" &&
		QHALL_PASSWORD=clerk123 qc --clerk c01 --window 1 queue >"$out" 2>&1 && ! body_has "$SECRET" &&
		! grep -qF "$SECRET" "$TUI_DIR/qserver.log" && ! redis-cli -s "$REDIS_SOCK" XRANGE 'q:{small}:events' - + | grep -qF "$SECRET"
}

wrong_secret_unauthenticated() {
	[ "$(call "$API/sites/small/tickets/$ID?k=WRONGwrongWRONG1")" = 401 ] && body_has '"code":"unauthenticated"' &&
		[ "$(call -X DELETE "$API/sites/small/tickets/$ID?k=WRONGwrongWRONG1")" = 401 ] &&
		[ "$(call -X DELETE "$API/sites/small/tickets/$ID?k=bad%20shape")" = 401 ]
}

public_cancel_needs_secret() {
	[ "$(call -X DELETE "$API/sites/small/tickets/$ID")" = 401 ] &&
		[ "$(call -X DELETE "$API/sites/small/tickets/$ID?k=$SECRET")" = 200 ] && body_has '"state":"cancelled"'
}

public_rates_done_ticket_once() {
	call -X POST -H "$J" -d '{"service":"A","channel":"web"}' "$API/sites/small/tickets" >/dev/null
	local id secret
	id=$(sed -n 's/.*"ticket":{"id":"\([^"]*\)".*/\1/p' "$out")
	secret=$(sed -n 's/.*"secret":"\([A-Za-z0-9_-]*\)".*/\1/p' "$out")
	qc --clerk c01 --window 1 call_next >/dev/null 2>&1 && qc --clerk c01 --window 1 start >/dev/null 2>&1 &&
		qc --clerk c01 --window 1 finish >/dev/null 2>&1 || return 1
	[ "$(call -X POST -H "$J" -d '{"score":5}' "$API/sites/small/tickets/$id/rating")" = 401 ] &&
		[ "$(call -X POST -H "$J" -d '{"score":5}' "$API/sites/small/tickets/$id/rating?k=$secret")" = 200 ] &&
		body_has '"rating":5' &&
		[ "$(call -X POST -H "$J" -d '{"score":4}' "$API/sites/small/tickets/$id/rating?k=$secret")" = 409 ]
}

# Two takes so far came from this address: three more for one phone pass, a fourth for it
# is 429; then takes without a phone pass up to the address's tenth, and the next is 429.
public_takes_limited_per_ref_and_address() {
	local i taken=2 code
	for i in 1 2 3; do
		[ "$(call -X POST -H "$J" -d '{"service":"A","channel":"web","ref":"13800000000"}' "$API/sites/small/tickets")" = 200 ] || return 1
		taken=$((taken + 1))
	done
	[ "$(call -X POST -H "$J" -d '{"service":"A","channel":"web","ref":"13800000000"}' "$API/sites/small/tickets")" = 429 ] &&
		body_has '"code":"rate_limited"' || return 1
	for i in $(seq 10); do
		code=$(call -X POST -H "$J" -d '{"service":"A","channel":"web"}' "$API/sites/small/tickets")
		[ "$code" = 200 ] || break
		taken=$((taken + 1))
	done
	[ "$code" = 429 ] && [ "$taken" = 10 ] &&
		[ "$(call -X POST -H "$J" -d '{"service":"A","channel":"web","ref":"13900000000"}' "$API/sites/small/tickets")" = 429 ]
}

PORT=$(free_port)
start_redis || exit 1
start_http_qserver || exit 1
check "a public web take gives the secret and the status page address" public_web_take_gives_secret_and_status_url
check "the public takes only with channel web" public_needs_channel_web
check "the secret is in no event, snapshot, ticket, queue, stream entry or log line" secret_nowhere_else
check "a wrong secret is unauthenticated" wrong_secret_unauthenticated
check "the public cancels with the secret only" public_cancel_needs_secret
check "the public rates its done ticket with the secret, once" public_rates_done_ticket_once
check "public takes are limited per phone and per address" public_takes_limited_per_ref_and_address
tui_finish
