#!/bin/bash
# 好差评 over HTTP: a rating pad signs in with its token (a 30-day session) and rates the
# ticket just finished at its window and nothing else; a manager exports the ratings of a
# range as CSV (docs/ratings.md) with Content-Disposition; nobody else may.
source "$(dirname "$0")/lib.sh"

out="$TUI_DIR/out"
headers="$TUI_DIR/headers"

# Runs curl, body to $out and headers to $headers; prints the status.
call() { curl -s -o "$out" -D "$headers" -w '%{http_code}' --max-time 5 "$@"; }
body_has() { grep -qF -- "$1" "$out"; }

# Serves one ticket of A at window 1 (c01), finishing it with the extra finish arguments.
serve() {
	qc --kiosk take service=A >/dev/null 2>&1 && qc --clerk c01 --window 1 call_next >/dev/null 2>&1 &&
		qc --clerk c01 --window 1 finish "$@" >/dev/null 2>&1
}

pad_signs_in_for_30_days() {
	[ "$(call -X POST -H "$J" -d '{"role":"pad","token":"pad123","site":"small"}' "$API/session")" = 200 ] &&
		body_has '"role":"pad"' && body_has '"window":{"id":1' && grep -q '^Set-Cookie: qhall_session=.*Max-Age=2592000' "$headers" &&
		PAD=$(sed -n 's/.*"session":"\([A-Za-z0-9_-]*\)".*/\1/p' "$out") && [ -n "$PAD" ] &&
		[ "$(call -X POST -H "$J" -d '{"role":"pad","token":"kiosk123","site":"small"}' "$API/session")" = 401 ]
}

pad_rates_the_ticket_just_finished_at_its_window() {
	serve || return 1
	local auth="Authorization: Bearer $PAD"
	[ "$(call -H "$auth" -X POST -H "$J" -d '{"score":2,"comment":"等了很久, \"太慢\""}' "$API/sites/small/tickets/A001/rating")" = 200 ] &&
		body_has '"rating":2' &&
		[ "$(call -H "$auth" -X POST -H "$J" -d '{"score":2}' "$API/sites/small/tickets/A001/rating")" = 409 ] &&
		[ "$(call -H "$auth" "$API/sites/small/snapshot")" = 403 ] &&
		[ "$(call -H "$auth" -X POST -H "$J" -d '{"service":"A"}' "$API/sites/small/tickets")" = 403 ] &&
		{ curl -s --max-time 2 -H "$auth" "$API/sites/small/events?topics=ticket" >/dev/null; [ $? = 28 ]; } # a stream held open
}

manager_sign_in() {
	[ "$(call -X POST -H "$J" -d '{"role":"manager","user":"m01","password":"manager123","site":"small"}' "$API/session")" = 200 ] &&
		MANAGER=$(sed -n 's/.*"session":"\([A-Za-z0-9_-]*\)".*/\1/p' "$out") && [ -n "$MANAGER" ]
}

manager_exports_csv() {

	serve rating=5 || return 1
	[ "$(call -H "Authorization: Bearer $MANAGER" "$API/sites/small/ratings.csv?from=2026-11-27&to=2026-11-27")" = 200 ] &&
		grep -qi '^Content-Type: text/csv; charset=utf-8' "$headers" &&
		grep -qi '^Content-Disposition: attachment; filename="ratings-small-2026-11-27-2026-11-27.csv"' "$headers" &&
		head -n 1 "$out" | grep -q '^site,ticket,number,service,service_name,window,clerk,score,level,level_en,comment,source,rated_at,followup_state,followup_due,followup_note,followup_by,followup_at' &&
		sed -E 's/T10:0[0-9]:[0-9]{2}\+08:00/T10:0m:ss+08:00/g' "$out" >"$TUI_DIR/rows" && # the clock runs on
		grep -qF 'small,20261127-A001,A001,A,社会保障,1,c01,2,不满意,dissatisfied,"等了很久, ""太慢""",pad,2026-11-27T10:0m:ss+08:00,open,2026-12-21,,,' "$TUI_DIR/rows" &&
		grep -qF 'small,20261127-A002,A002,A,社会保障,1,c01,5,非常满意,very satisfied,,clerk,2026-11-27T10:0m:ss+08:00,,,,,' "$TUI_DIR/rows" &&
		[ "$(wc -l <"$out")" = 3 ] &&
		[ "$(call -H "Authorization: Bearer $MANAGER" "$API/sites/small/ratings.csv?from=2026-11-27&to=2026-11-27&bad=true")" = 200 ] &&
		[ "$(wc -l <"$out")" = 2 ] && grep -qF ',A001,' "$out"
}

# 520 more tickets of window 1 rated at finish, over one NDJSON connection of the manager.
serve_many() {
	python3 - "$PORT" <<'PY'
import json, socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
f = s.makefile('rw')
def call(req):
    f.write(json.dumps(req) + '\n'); f.flush()
    while True:
        line = json.loads(f.readline())
        if 'event' not in line:
            assert line.get('ok'), line
            return line
call({'op': 'hello', 'role': 'manager', 'user': 'm01', 'password': 'manager123'})
for i in range(520):
    call({'op': 'take', 'service': 'A'})
    call({'op': 'call_next', 'window': 1})
    call({'op': 'finish', 'window': 1, 'rating': i % 5 + 1})
PY
}

# The export gathers every page of the ratings op (500 a page): 522 ratings, each once.
export_spans_pages() {
	serve_many || return 1
	[ "$(call -H "Authorization: Bearer $MANAGER" "$API/sites/small/ratings.csv?from=2026-11-27&to=2026-11-27")" = 200 ] &&
		[ "$(wc -l <"$out")" = 523 ] && [ "$(cut -d, -f2 "$out" | sort -u | wc -l)" = 523 ] &&
		[ "$(grep -c ',非常不满意,very dissatisfied,' "$out")" = 104 ]
}

export_refused_without_manager() {
	[ "$(call "$API/sites/small/ratings.csv?from=2026-11-27&to=2026-11-27")" = 401 ] &&
		[ "$(call -H "Authorization: Bearer $PAD" "$API/sites/small/ratings.csv?from=2026-11-27&to=2026-11-27")" = 403 ] &&
		[ "$(call -H "Authorization: Bearer $MANAGER" "$API/sites/small/ratings.csv?from=2026-11-27")" = 400 ] &&
		body_has '"field":"to"' &&
		[ "$(call -H "Authorization: Bearer $MANAGER" "$API/sites/nowhere/ratings.csv?from=2026-11-27&to=2026-11-27")" = 404 ]
}

PORT=$(free_port)
start_redis || exit 1
start_http_qserver || exit 1
check "a rating pad signs in with its token for 30 days; a kiosk token is no pad's" pad_signs_in_for_30_days
check "the pad rates the ticket just finished at its window, once, and may not read or take" pad_rates_the_ticket_just_finished_at_its_window
check "a manager signs in" manager_sign_in
check "the manager's CSV export: header, levels, quoted comment, site time, follow-up" manager_exports_csv
check "the export is for managers only, with from and to" export_refused_without_manager
check "an export of 522 ratings gathers every page, each rating once" export_spans_pages
tui_finish
