#!/bin/bash
# The manager's side of counter-client under a private tmux against a private qserver on the
# small hall (tests/tui/lib.sh): CSV and JSON export checked against figures computed here
# from the tickets' own times, and the live view driven from the keyboard.
# usage: tests/tui/test_manager.sh [BUILD]
cd "$(dirname "$0")/../.." || exit 1
COLS=100 ROWS=30
. tests/tui/lib.sh "${1:-}"

CC=${COUNTER_CLIENT:-$BUILD/counter-client}
tui_start
printf 'manager123\n' >"$TUI_DIR/pw"
export MGR_PW=manager123

# Runs qcli as the manager.
qm() {
	QHALL_PASSWORD=manager123 qc --manager m01 "$@"
}

# Runs an export: export FORMAT BY [FROM TO].
export_stats() {
	"$CC" --manager --user m01 --server "127.0.0.1:$PORT" --password-env MGR_PW \
		--export "$1" --by "$2" --from "${3:-2026-11-27}" --to "${4:-2026-11-27}"
}

# A field of a JSON line: field JSON JQ-PATH.
field() {
	printf '%s' "$1" | jq -r "$2"
}

# Known tickets on Friday 2026-11-27: A001, B001, A002 at 10:00; window 1 calls A001 five
# minutes later and finishes it with a 5 five minutes after that.
qc clock set=$HALL_T0 >/dev/null
A1=$(qc --kiosk take service=A)
qc --kiosk take service=B >/dev/null
qc --kiosk take service=A >/dev/null
qc clock set=$((HALL_T0 + 300)) >/dev/null
CALLED=$(qc --clerk c01 --window 1 call_next)
qc clock set=$((HALL_T0 + 600)) >/dev/null
DONE=$(qc --clerk c01 --window 1 finish rating=5)
WAIT=$(($(field "$CALLED" .ticket.called_at) - $(field "$A1" .ticket.issued_at)))
SERVICE=$(($(field "$DONE" .ticket.finished_at) - $(field "$CALLED" .ticket.called_at)))

CSV=$(export_stats csv service)
check "export csv: exit 0 and a header row" \
	test "$(printf '%s' "$CSV" | head -n1 | tr -d '\r')" = \
	"key,issued,served,no_show,cancelled,expired,wait_mean,wait_p50,wait_p90,wait_max,service_mean,sla_pct,rating_mean,ratings,waits"
check "export csv: lines end in CRLF (RFC 4180)" \
	test "$(printf '%s\n' "$CSV" | grep -c $'\r$')" = 3
# Service A: 2 issued, 1 served, one wait of WAIT s (in the target), service SERVICE s, rated 5.
WANT_A="A,2,1,0,0,0,$WAIT,$WAIT,$WAIT,$WAIT,$SERVICE,100,5,1,1"
check "export csv: row A as computed from the tickets ($WANT_A)" \
	test "$(printf '%s\n' "$CSV" | tr -d '\r' | grep '^A,')" = "$WANT_A"
check "export csv: row B with empty fields for absent figures" \
	test "$(printf '%s\n' "$CSV" | tr -d '\r' | grep '^B,')" = "B,1,0,0,0,0,,,,,,,,0,0"

JSON=$(export_stats json service)
check "export json: an array of the server's rows" \
	test "$(field "$JSON" 'length')" = 2
check "export json: the same rows as the stats op" \
	test "$(field "$JSON" -c)" = "$(qm stats from=2026-11-27 to=2026-11-27 by=service | jq -c .rows)"
check "export json: figures of A" \
	test "$(field "$JSON" '.[0] | "\(.key) \(.issued) \(.served) \(.wait_mean) \(.service_mean) \(.rating_mean)"')" = \
	"A 2 1 $WAIT $SERVICE 5"
check "export json by hour: 24 rows, 3 arrivals at 10" \
	test "$(export_stats json hour | jq -c '[length, .[10].key, .[10].issued]')" = '[24,"10",3]'
check "export csv by day over 40 days: a header and 40 rows" \
	test "$(export_stats csv day 2026-11-01 2026-12-10 | wc -l)" = 41

# The ratings of the range (docs/ratings.md): A001's 5 at finish, by the clerk, in site time.
RATINGS=$("$CC" --manager --user m01 --server "127.0.0.1:$PORT" --password-env MGR_PW \
	--export csv --ratings --from 2026-11-27 --to 2026-11-27)
check "export csv --ratings: the header row of docs/ratings.md" \
	test "$(printf '%s' "$RATINGS" | head -n1 | tr -d '\r')" = \
	"site,ticket,number,service,service_name,window,clerk,score,level,level_en,comment,source,rated_at,followup_state,followup_due,followup_note,followup_by,followup_at"
check "export csv --ratings: A001 rated 5, 非常满意, with the service's name and the site's time" \
	test "$(printf '%s\n' "$RATINGS" | tr -d '\r' | sed -n 2p)" = \
	"small,20261127-A001,A001,A,社会保障,1,c01,5,非常满意,very satisfied,,clerk,2026-11-27T10:10:00+08:00,,,,,"
check "export json --ratings: the ratings op's entries" \
	test "$("$CC" --manager --user m01 --server "127.0.0.1:$PORT" --password-env MGR_PW --export json --ratings \
		--from 2026-11-27 --to 2026-11-27 | jq -c '[length, .[0].number, .[0].score]')" = '[1,"A001",5]'

# Whether an export with a wrong password exits 1 and says why.
wrong_password_refused() {
	local out rc
	out=$(MGR_PW=wrong "$CC" --manager --user m01 --server "127.0.0.1:$PORT" --password-env MGR_PW \
		--export csv --from 2026-11-27 --to 2026-11-27 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 1 ] && [[ $out == *"Wrong user or password"* ]]
}
check "export: a wrong password fails with a message" wrong_password_refused
check "export: an unknown format is refused" \
	bash -c "'$CC' --manager --user m01 --password-env MGR_PW --export xml --from 2026-11-27 --to 2026-11-27 >/dev/null 2>&1; test \$? = 2"
check "export: a date that does not exist is refused" \
	bash -c "'$CC' --manager --user m01 --password-env MGR_PW --export csv --from 2026-02-30 --to 2026-03-01 >/dev/null 2>&1; test \$? = 2"

# The view, the password typed at a prompt without echo.
tui_run mgr "LANG=C.UTF-8 $CC --manager --user m01 --server 127.0.0.1:$PORT --log $TUI_DIR/mgr.log; echo exit=\$?"
check "view: asks for the password" wait_for mgr "Password for m01"
keys mgr "manager123" Enter
check "view: the password is not echoed" wait_gone mgr "manager123" 1
check "view: signed in, today's figures" wait_for mgr "issued 3  served 1"
check "view: the target and the share within it" wait_for mgr "within target 100.0%"
check "view: window 1 idle with its clerk" wait_for mgr "idle"
check "view: two waiting, the longest wait shown" wait_for mgr "Waiting 等候 2   longest wait"
check "view: today's ratings by level" wait_for mgr "Ratings 好差评  非常满意 1  满意 0  基本满意 0  不满意 0  非常不满意 0"

qc clock set=$((HALL_T0 + 900)) >/dev/null
qc --clerk c02 --window 2 call_next >/dev/null
check "view: a call at window 2 shows live" wait_for mgr "calling"

keys mgr 2
check "view: the services table" wait_for mgr "Issued"
check "view: service A's row, named (2 issued, 1 served)" \
	bash -c "for i in \$(seq 50); do tmux -S '$TMUX_SOCK' capture-pane -p -t t:mgr | grep -Eq '^A 社会保障 +2 +1 ' && exit 0; sleep 0.1; done; exit 1"
keys mgr 3
check "view: the windows table" wait_for mgr "window"
check "view: no Issued column for windows (always 0 there)" eval 'wait_for mgr Served && ! screen mgr | grep -qF Issued'
keys mgr 4
check "view: the clerks table has c01" wait_for mgr "c01"
keys mgr 5
check "view: the hourly chart of arrivals" wait_for mgr "Arrivals"
check "view: hour 10 with 3 arrivals and a bar" \
	bash -c "for i in \$(seq 50); do tmux -S '$TMUX_SOCK' capture-pane -p -t t:mgr | grep -Eq '^10 +3 #+' && exit 0; sleep 0.1; done; exit 1"
keys mgr y
check "view: y shows yesterday" wait_for mgr "Range 范围 2026-11-26 .. 2026-11-26 (1 days)"
check "view: nothing yesterday" wait_for mgr "(nothing in this range)"
keys mgr w
check "view: w shows the last 7 days" wait_for mgr "2026-11-21 .. 2026-11-27 (7 days)"
keys mgr ]
check "view: ] moves the range on" wait_for mgr "2026-11-28 .. 2026-12-04 (7 days)"
keys mgr r
check "view: r asks for a range" wait_for mgr "Range (YYYY-MM-DD YYYY-MM-DD)"
keys mgr BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace \
	BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace
keys mgr "2026-11-01 2026-11-30" Enter
check "view: a typed range" wait_for mgr "2026-11-01 .. 2026-11-30 (30 days)"
check "view: the chart over the typed range" \
	bash -c "for i in \$(seq 50); do tmux -S '$TMUX_SOCK' capture-pane -p -t t:mgr | grep -Eq '^10 +3 #+' && exit 0; sleep 0.1; done; exit 1"
keys mgr r
keys mgr BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace \
	BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace
keys mgr "2026-11-30 2026-11-01" Enter
check "view: a backwards range is refused" wait_for mgr "not a range"
tmux -S "$TMUX_SOCK" resize-window -t t:mgr -x 80 -y 24
# Whether the screen of mgr is at most 80 columns wide, within 5 s.
narrow_mgr() {
	local end=$((SECONDS + 5))
	while [ $SECONDS -le $end ]; do
		[ "$(screen mgr | LC_ALL=C.UTF-8 wc -L)" -le 80 ] && return 0
		sleep 0.1
	done
	return 1
}
check "view: redraws at 80x24" eval 'narrow_mgr && wait_for mgr "qhall manager"'
keys mgr 2
check "view: at 80x24 the services table keeps SLA%, service time and rating, and names" \
	eval 'wait_for mgr "SLA%" && wait_for mgr "Rating" && wait_for mgr "Service" && wait_for mgr "B 出入境"'
check "view: at 80x24 the footer keeps q quit" wait_for mgr "q quit"
check "view: no line wider than 80 columns" narrow_mgr
keys mgr 4
check "view: no Issued column for clerks either" eval 'wait_for mgr "Served" && ! screen mgr | grep -qF Issued'
keys mgr q
check "view: q quits with status 0" wait_for mgr "exit=0"

tui_finish
