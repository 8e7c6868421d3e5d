#!/bin/bash
# SIGHUP reloads the hall config without dropping connections: a connection opened before the
# reload sees the renamed service and stays open; a clerk whose password hash changed is told
# and closed, the new password works and the old one no longer does; a manager's browser
# session ends with its hash; a config that removes a window with a called ticket, or that
# does not parse, is refused with a clear log line and the old config goes on serving.
source "$(dirname "$0")/lib.sh"

HALL="$TUI_DIR/hall.json"
LOG="$TUI_DIR/qserver.log"
# The hash of "newpass1" (crypt(3) SHA-256, made with: openssl passwd -5 -salt abcdefgh newpass1).
NEW_HASH='$5$abcdefgh$tZ.zeShq3GHaYeenrvlBa9PKF3pW63rW..00DZlN082'
cp "$ROOT/tests/data/small.json" "$HALL"

# Rewrites the hall config with a Python expression over `h` (the parsed JSON).
edit_hall() {
	python3 - "$HALL" "$1" <<'EOF'
import json, sys
path, change = sys.argv[1], sys.argv[2]
h = json.load(open(path, encoding="utf-8"))
exec(change)
json.dump(h, open(path, "w", encoding="utf-8"), ensure_ascii=False, indent=1)
EOF
}

# Sends SIGHUP and waits until the log has one more line matching the pattern.
hup_and_wait_for() {
	local before
	before=$(grep -cE -- "$1" "$LOG")
	kill -HUP "$QSERVER_PID"
	for _ in $(seq 100); do
		[ "$(grep -cE -- "$1" "$LOG")" -gt "$before" ] && return 0
		sleep 0.05
	done
	echo "# no log line like: $1" >&2
	tail -n 5 "$LOG" | sed 's/^/# /' >&2
	return 1
}

# Sends one request line on an open connection (file descriptor $1) and prints the next line.
ask() {
	local line
	printf '%s\n' "$2" >&"$1" && IFS= read -r -t 5 -u "$1" line && printf '%s\n' "$line"
}

# The open connections: 3, a public reader; 4, clerk c01 at window 1.
open_connections() {
	exec 3<>"/dev/tcp/127.0.0.1/$PORT" && exec 4<>"/dev/tcp/127.0.0.1/$PORT" &&
		ask 3 '{"op":"hello","role":"public"}' | grep -q '"ok":true' &&
		ask 4 '{"op":"hello","role":"clerk","user":"c01","password":"clerk123","window":1}' | grep -q '"ok":true' &&
		MANAGER=$(curl -s -X POST -H "$J" -d '{"role":"manager","user":"m01","password":"manager123","site":"small"}' "$API/session" |
			sed -n 's/.*"session":"\([^"]*\)".*/\1/p') && [ -n "$MANAGER" ] &&
		[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $MANAGER" -X POST -H "$J" -d '{}' "$API/sites/small/op/queue")" = 200 ]
}

# Renames service A and gives c01 and m01 new password hashes, then reloads.
reload_applies() {
	edit_hall "h['services'][0]['name'] = '社会保障与就业'
for u in h['users']:
    if u['id'] in ('c01', 'm01'): u['password_hash'] = '$NEW_HASH'" &&
		hup_and_wait_for 'reload: the new config of 1 site is served; 1 connection closed'
}

open_connection_sees_new_name() {
	ask 3 '{"op":"services","id":1}' | grep -q '"name":"社会保障与就业"'
}

clerk_told_and_closed() {
	local line rest=x
	IFS= read -r -t 5 -u 4 line && echo "$line" | grep -q '"event":"session","reason":"credentials"' &&
		! IFS= read -r -t 5 -u 4 rest && [ -z "$rest" ]
}

new_password_works_old_does_not() {
	! QHALL_PASSWORD=clerk123 qc --clerk c01 --window 1 ping >/dev/null 2>&1 &&
		QHALL_PASSWORD=newpass1 qc --clerk c01 --window 1 ping | grep -q '"ok":true'
}

manager_browser_session_ended() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $MANAGER" -X POST -H "$J" -d '{}' "$API/sites/small/op/queue")" = 401 ]
}

# A B ticket called at window 3 by c03; then a config without window 3 is refused.
removing_a_busy_window_refused() {
	qc --kiosk take service=B >/dev/null &&
		exec 5<>"/dev/tcp/127.0.0.1/$PORT" &&
		ask 5 '{"op":"hello","role":"clerk","user":"c03","password":"clerk123","window":3}' | grep -q '"ok":true' &&
		ask 5 '{"op":"call_next","id":2}' | grep -q '"ok":true' &&
		cp "$HALL" "$TUI_DIR/hall.before" &&
		edit_hall "h['services'][0]['name'] = 'should not be served'
h['windows'] = [w for w in h['windows'] if w['id'] != 3]
for u in h['users']:
    if u['id'] in ('c02', 'c03'): u['windows'] = [2]" &&
		hup_and_wait_for 'reload refused: site small: window 3 is removed by the new config but ticket B001 is called there; finish or transfer it first; the old config stays'
}

old_config_still_served() {
	ask 3 '{"op":"services","id":3}' | grep -q '"name":"社会保障与就业"' &&
		ask 5 '{"op":"finish","id":4}' | grep -q '"ok":true' &&
		ask 3 '{"op":"snapshot","id":5}' | grep -q '"id":3,'
}

unparsable_config_refused() {
	printf '{"site": ' >"$HALL" &&
		hup_and_wait_for "reload refused: $HALL: .*; the old config stays" &&
		ask 3 '{"op":"services","id":6}' | grep -q '"name":"社会保障与就业"'
}

# A region: r02 manages street and far; the reload leaves it far only. Its connection at
# street is told and closed; the one at far stays, with the narrower scope.
region_scope_narrowed() {
	local region="$TUI_DIR/region"
	stop_qserver
	cp -r "$ROOT/tests/data/region" "$region" &&
		CONFIG="$region" READY_SITE=far LOG_LEVEL=info start_http_qserver &&
		exec 6<>"/dev/tcp/127.0.0.1/$PORT" && exec 7<>"/dev/tcp/127.0.0.1/$PORT" &&
		ask 6 '{"op":"hello","role":"manager","user":"r02","password":"manager123","site":"street"}' | grep -q '"ok":true' &&
		ask 7 '{"op":"hello","role":"manager","user":"r02","password":"manager123","site":"far"}' | grep -q '"ok":true' &&
		ask 7 '{"op":"queue","id":1,"site":"street"}' | grep -q '"ok":true' &&
		HALL="$region/region.json" edit_hall "h['users'][1]['sites'] = ['far']" &&
		hup_and_wait_for 'reload: the new config of 3 sites is served; 1 connection closed' || return 1
	local line
	IFS= read -r -t 5 -u 6 line && echo "$line" | grep -q '"event":"session","reason":"scope"' &&
		ask 7 '{"op":"queue","id":2}' | grep -q '"ok":true' &&
		ask 7 '{"op":"queue","id":3,"site":"street"}' | grep -q '"code":"forbidden"'
}

reloads_counted() {
	local m
	m=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics")
	echo "$m" | grep -q '^qhall_config_reloads_total{result="applied"} 1$' &&
		echo "$m" | grep -q '^qhall_config_reloads_total{result="refused"} 2$'
}

PORT=$(free_port)
start_redis || exit 1
CONFIG="$HALL" LOG_LEVEL=info start_http_qserver || exit 1
check "connections and a browser session opened before the reload" open_connections
check "SIGHUP applies the changed config and closes one connection" reload_applies
check "a connection opened before the reload sees the new service name" open_connection_sees_new_name
check "the clerk whose hash changed is told (session, credentials) and closed" clerk_told_and_closed
check "the clerk's new password works, the old one no longer" new_password_works_old_does_not
check "the manager's browser session ended with the hash" manager_browser_session_ended
check "removing a window with a called ticket is refused, naming site, window and ticket" removing_a_busy_window_refused
check "the old config is still served, to the same connections" old_config_still_served
check "a config that does not parse is refused, the old one stays" unparsable_config_refused
check "the reloads are counted in the metrics" reloads_counted
check "a region manager's narrowed scope ends its session at the site it lost" region_scope_narrowed
exec 3>&- 4>&- 5>&- 6>&- 7>&-
tui_finish
