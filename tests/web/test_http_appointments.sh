#!/bin/bash
# Appointments over HTTP (WEB.md's routes): slots, book, view and cancel by code with their
# HTTP statuses; the ref is never in a public answer, the stream or the log; refusals map to
# 400, 404 and 409; public bookings from one address end in 429 with Retry-After; check-in
# is for kiosk sessions. Service C of the small hall takes appointments (30-minute slots of
# 2); the clock is Friday 2026-11-27 10:00.
source "$(dirname "$0")/lib.sh"

LOG_LEVEL=debug
out="$TUI_DIR/out"
headers="$TUI_DIR/headers"

# Runs curl, body to $out and headers to $headers; prints the status.
call() { curl -s -o "$out" -D "$headers" -w '%{http_code}' --max-time 5 "$@"; }
body_has() { grep -qF -- "$1" "$out"; }

# Books service C on DATE at START for REF; prints the status.
book() {
	call -X POST -H "$J" -d "{\"service\":\"C\",\"date\":\"$1\",\"start\":\"$2\",\"ref\":\"$3\"}" "$API/sites/small/appointments"
}

slots_listed() {
	[ "$(call "$API/sites/small/services/C/slots?date=2026-11-28")" = 200 ] &&
		body_has '{"start":"10:00","end":"10:30","capacity":2,"booked":0,"bookable":true}' &&
		[ "$(call "$API/sites/small/services/C/slots?date=2026-12-25")" = 400 ] && body_has '"field":"date"' &&
		[ "$(call "$API/sites/small/services/A/slots?date=2026-11-28")" = 400 ] &&
		[ "$(call "$API/sites/small/services/Z/slots?date=2026-11-28")" = 404 ]
}

book_view_cancel() {
	[ "$(book 2026-11-28 10:00 13812345678)" = 200 ] && ! body_has 13812345678 || return 1
	CODE=$(jq -r .appointment.code "$out")
	[ "$(call "$API/sites/small/appointments/$CODE")" = 200 ] && body_has '"state":"booked"' && ! body_has 13812345678 &&
		[ "$(call "$API/sites/small/services/C/slots?date=2026-11-28")" = 200 ] &&
		body_has '{"start":"10:00","end":"10:30","capacity":2,"booked":1,"bookable":true}' &&
		[ "$(call -X DELETE "$API/sites/small/appointments/$CODE")" = 200 ] && body_has '"state":"cancelled"' &&
		[ "$(call -X DELETE "$API/sites/small/appointments/$CODE")" = 409 ] && body_has '"code":"conflict"'
}

refusals_mapped() {
	[ "$(book 2026-11-28 10:00 r1)" = 200 ] && [ "$(book 2026-11-28 10:00 r2)" = 200 ] &&
		[ "$(book 2026-11-28 10:00 r3)" = 409 ] && body_has '"field":"start"' &&
		[ "$(book 2026-11-28 10:05 r3)" = 400 ] &&
		[ "$(call "$API/sites/small/appointments/ZZZZZZZZ")" = 404 ] &&
		[ "$(call "$API/sites/small/appointments/nope")" = 400 ] &&
		[ "$(call -X POST -d '{"service":"C"}' "$API/sites/small/appointments")" = 415 ]
}

ref_never_stored_elsewhere() {
	! grep -qF 13812345678 "$TUI_DIR/qserver.log" &&
		! redis-cli -s "$REDIS_SOCK" XRANGE 'q:{small}:events' - + | grep -qF 13812345678
}

checkin_for_kiosks() {
	[ "$(book 2026-11-27 10:30 r9)" = 200 ] || return 1
	local code token
	code=$(jq -r .appointment.code "$out")
	[ "$(call -X POST -H "$J" -d "{\"code\":\"$code\"}" "$API/sites/small/op/checkin")" = 401 ] || return 1
	token=$(curl -s -H "$J" -d '{"role":"kiosk","token":"kiosk123","site":"small"}' "$API/session" | jq -r .session)
	[ "$(call -X POST -H "$J" -H "Authorization: Bearer $token" -d "{\"code\":\"$code\"}" "$API/sites/small/op/checkin")" = 409 ] &&
		[ "$(jq -r .checkin_from "$out")" = $((HALL_T0 + 15 * 60)) ] || return 1
	qc clock set=$((HALL_T0 + 20 * 60)) >/dev/null &&
		[ "$(call -X POST -H "$J" -H "Authorization: Bearer $token" -d "{\"code\":\"$code\"}" "$API/sites/small/op/checkin")" = 200 ] &&
		body_has '"class":"appointment"' && body_has '"secret"'
}

public_bookings_limited() {
	local code n=0
	for i in $(seq 12); do
		code=$(book 2026-11-29 "$(printf '%02d:00' $((i + 9)))" "p$i")
		[ "$code" = 200 ] || break
		n=$((n + 1))
	done
	# 5 bookings above already counted against this address (the full slot's too): 5 more, then 429
	[ "$code" = 429 ] && [ "$n" = 5 ] && grep -qi '^Retry-After: [0-9]' "$headers"
}

PORT=$(free_port)
start_redis || exit 1
start_http_qserver || exit 1
check "GET slots lists a day's slots; a bad date, a service without appointments, an unknown one" slots_listed
check "POST books, GET views, DELETE cancels by code; the ref is not in the answers" book_view_cancel
check "a full slot is 409, a time no slot starts 400, an unknown code 404, a malformed one 400, no JSON type 415" refusals_mapped
check "the ref is in no log line or stream entry" ref_never_stored_elsewhere
check "check-in is for kiosks: 401 for the public, 409 with checkin_from early, then a ticket" checkin_for_kiosks
check "public bookings from one address end in 429 with Retry-After" public_bookings_limited
tui_finish
