#!/bin/bash
# The clients' --site against one qserver serving a region (tests/data/region: central and
# street in Asia/Shanghai, far in Europe/London): qcli, the printer, the display, the clerk's
# console and the manager's export each work at the site they name, and only there.
# usage: tests/tui/test_region_clients.sh [BUILD]
export LC_ALL=C.UTF-8
source "$(dirname "$0")/lib.sh"

CONFIG=$ROOT/tests/data/region
SITE=street
printf 'clerk123\n' >"$TUI_DIR/pw"
export MGR_PW=manager123
tui_start

# Whether qcli lists the three sites without naming one.
sites_listed() {
	local out
	out=$(qc sites) && case "$out" in *'"id":"central"'*'"id":"street"'*'"id":"far","name":"测试远方中心"'*) ;; *) return 1 ;; esac
}

# Whether a request naming no site is refused with bad_request on the field site.
site_required() {
	local out
	out=$(qc services) && return 1
	case "$out" in *'"code":"bad_request"'*'"field":"site"'*) ;; *) echo "# $out"; return 1 ;; esac
}

# The number of tickets waiting at a site, as its manager sees them.
waiting_at() {
	QHALL_PASSWORD=manager123 qc --site "$1" --manager m01 queue | grep -o '"number"' | wc -l
}

# Whether a ticket taken with qcli at street is called at street, not at central.
qcli_routes_by_site() {
	local taken
	taken=$(qc --site street --kiosk take service=A | grep -o '"number":"[A-Z0-9]*"') || return 1
	qc --site central --clerk c01 --window 1 call_next | grep -qF '"ticket":null' || return 1
	qc --site street --clerk c01 --window 1 call_next | grep -qF "$taken"
}

# Whether the printer's --take with --site street leaves its ticket waiting at street only.
printer_takes_at_its_site() {
	local before_street before_central
	before_street=$(waiting_at street)
	before_central=$(waiting_at central)
	QHALL_TOKEN=kiosk123 "$BUILD/printer" --server "127.0.0.1:$PORT" --site street --take B \
		--out "file:$TUI_DIR/ticket.bin" >/dev/null 2>&1 || return 1
	[ "$(waiting_at street)" = $((before_street + 1)) ] && [ "$(waiting_at central)" = "$before_central" ]
}

# Whether the manager's export with --site far answers far's statistics (no tickets there).
export_at_site() {
	local out
	out=$("$BUILD/counter-client" --manager --user m01 --server "127.0.0.1:$PORT" --site far \
		--password-env MGR_PW --export json --from 2026-11-27 --to 2026-11-27) || return 1
	case "$out" in *'"issued":0'*) ;; *) echo "# $out"; return 1 ;; esac
}

check "qcli sites lists every site without naming one" sites_listed
check "a request without a site is refused naming the field site" site_required
check "qcli --site: a ticket of street is called at street, not at central" qcli_routes_by_site
check "printer --site street --take: the ticket waits at street only" printer_takes_at_its_site
check "counter-client --manager --site far --export: far's statistics" export_at_site

tui_run far "$BUILD/display --server 127.0.0.1:$PORT --site far"
check "display --site far shows far" wait_for far "测试远方中心"

tui_run clerk "LANG=C.UTF-8 $BUILD/counter-client --server 127.0.0.1:$PORT --site central --user c01 --window 2 --password-file $TUI_DIR/pw --log $TUI_DIR/clerk.log"
check "counter-client --site central signs in at central" wait_for clerk "测试区中心"

tui_run mgr "LANG=C.UTF-8 $BUILD/counter-client --manager --user r02 --server 127.0.0.1:$PORT --site street --password-env MGR_PW --log $TUI_DIR/mgr.log"
check "the manager view of region manager r02 opens at street" wait_for mgr "测试街道中心"
keys mgr s
check "its s key switches to far, the next site of its scope" wait_for mgr "测试远方中心"
keys mgr s
check "and s again back to street" wait_for mgr "测试街道中心"

tui_finish
