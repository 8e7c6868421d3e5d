#!/bin/bash
# The HTTP API of a qserver serving a region (tests/data/region/: central, street, far): the
# URL's {site} is the request's site by the region's lookup, a session belongs to the site it
# signed in at, a region manager's session works at the sites of its scope only, and an
# event stream carries its own site's events only.
source "$(dirname "$0")/lib.sh"

out="$TUI_DIR/out"

# Runs curl quietly against the API, body to $out; prints the status.
call() {
	curl -s -o "$out" -w '%{http_code}' --max-time 5 "$@"
}

# True when the body holds the text.
body_has() { grep -qF -- "$1" "$out"; }

# Signs a manager in over HTTP (user, site) and prints the session token.
manager_token() {
	[ "$(call -H "$J" -d "{\"role\":\"manager\",\"user\":\"$1\",\"password\":\"manager123\",\"site\":\"$2\"}" "$API/session")" = 200 ] &&
		sed -n 's/.*"session":"\([^"]*\)".*/\1/p' "$out"
}

# Prints the status of a manager's stats at a site: manager_stats TOKEN SITE.
manager_stats() {
	call -H "Authorization: Bearer $1" "$API/sites/$2/stats?from=2026-11-27&to=2026-11-27"
}

sites_lists_the_region() {
	[ "$(call "$API/sites")" = 200 ] && body_has '"id":"central"' && body_has '"id":"street"' && body_has '"id":"far"' &&
		body_has '"parent":"street","level":"community","open":'
}

unknown_site_is_404() {
	[ "$(call "$API/sites/elsewhere/services")" = 404 ] && body_has '"code":"not_found"' &&
		[ "$(call -N --max-time 2 "$API/sites/elsewhere/events")" = 404 ]
}

each_site_answers_its_own() {
	[ "$(call "$API/sites/street")" = 200 ] && body_has '"id":"street"' && ! body_has '"id":"central"'
}

kiosk_session_belongs_to_its_site() {
	[ "$(call -c "$TUI_DIR/jar" -H "$J" -d '{"role":"kiosk","token":"kiosk123","site":"central"}' "$API/session")" = 200 ] &&
		[ "$(call -b "$TUI_DIR/jar" -H "$J" -d '{"service":"A"}' "$API/sites/central/tickets")" = 200 ] &&
		body_has '"id":"' &&
		[ "$(call -b "$TUI_DIR/jar" -H "$J" -d '{"service":"A"}' "$API/sites/street/tickets")" = 401 ] &&
		[ "$(call -b "$TUI_DIR/jar" "$API/sites/street/services")" = 200 ] &&
		[ "$(call -b "$TUI_DIR/jar" -H "$J" -d '{"window":1}' "$API/sites/street/op/call_next")" = 403 ] &&
		body_has '"code":"forbidden"'
}

region_manager_works_within_its_scope() {
	local token
	token=$(manager_token r02 street)
	[ -n "$token" ] && [ "$(manager_stats "$token" far)" = 200 ] && [ "$(manager_stats "$token" street)" = 200 ] &&
		[ "$(manager_stats "$token" central)" = 403 ] && body_has '"code":"forbidden"'
}

region_manager_reads_region_then_signs_out() {
	local token
	token=$(manager_token r02 street)
	[ -n "$token" ] && [ "$(call -H "Authorization: Bearer $token" "$API/region")" = 200 ] &&
		body_has '"site":"far"' && ! body_has '"site":"central"' &&
		[ "$(call -X DELETE -H "Authorization: Bearer $token" "$API/session")" = 200 ] &&
		[ "$(manager_stats "$token" far)" = 401 ]
}

hall_manager_session_stays_at_its_hall() {
	local token
	token=$(manager_token m01 far)
	[ -n "$token" ] && [ "$(manager_stats "$token" far)" = 200 ] && [ "$(manager_stats "$token" street)" = 403 ]
}

hall_manager_may_not_read_region() {
	local token
	token=$(manager_token m01 far)
	[ -n "$token" ] && [ "$(call -H "Authorization: Bearer $token" "$API/region")" = 403 ] && body_has '"code":"forbidden"' &&
		[ "$(call -H "Authorization: Bearer WRONGwrongWRONGwrongWRONG" "$API/region")" = 401 ]
}

streams_carry_their_sites_events() {
	curl -sN --max-time 3 "$API/sites/central/events?topics=queue" >"$TUI_DIR/central" 2>/dev/null &
	local p1=$!
	curl -sN --max-time 3 "$API/sites/street/events?topics=queue" >"$TUI_DIR/street" 2>/dev/null &
	local p2=$!
	sleep 0.5
	curl -s -c "$TUI_DIR/jar2" -H "$J" -d '{"role":"kiosk","token":"kiosk123","site":"street"}' "$API/session" >/dev/null
	curl -s -b "$TUI_DIR/jar2" -H "$J" -d '{"service":"B"}' "$API/sites/street/tickets" >/dev/null
	wait "$p1" "$p2" 2>/dev/null
	grep -q '"service":"B"' "$TUI_DIR/street" && ! grep -q '"service":"B"' "$TUI_DIR/central"
}

# A region's ticket ids repeat across sites: the status page's address names the site.
status_url_names_the_site() {
	[ "$(call -X POST -H "$J" -d '{"service":"A","channel":"web"}' "$API/sites/street/tickets")" = 200 ] &&
		grep -qE '"status_url":"https://street.example.cn/t/[0-9]{8}-A[0-9]+\?k=[A-Za-z0-9_-]+&site=street"' "$out"
}

PORT=$(free_port)
start_redis || exit 1
# The region of tests/data/region, its street hall with public_url and remote takes.
cp -r "$ROOT/tests/data/region" "$TUI_DIR/region"
sed -i 's|"tz": "Asia/Shanghai",|"tz": "Asia/Shanghai", "public_url": "https://street.example.cn", "remote_take": true,|' \
	"$TUI_DIR/region/street.json"
CONFIG="$TUI_DIR/region" READY_SITE=far start_http_qserver || exit 1
check "GET /sites lists every site of the region" sites_lists_the_region
check "a site the region does not have is 404 not_found, for the API and streams" unknown_site_is_404
check "each site's path answers for that site" each_site_answers_its_own
check "a kiosk's session takes at its site; at another it acts as the public (403 for staff ops)" kiosk_session_belongs_to_its_site
check "a region manager's session works at the sites of its scope only (403 outside)" region_manager_works_within_its_scope
check "a region manager reads /region over its scope; signing out ends its session" region_manager_reads_region_then_signs_out
check "a hall manager's GET /region is 403 forbidden, an unknown session's 401" hall_manager_may_not_read_region
check "a hall manager's session stays at its hall" hall_manager_session_stays_at_its_hall
check "a region's status_url names the ticket's site" status_url_names_the_site
check "an event stream carries its own site's events only" streams_carry_their_sites_events
tui_finish
