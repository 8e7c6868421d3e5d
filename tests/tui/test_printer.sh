#!/bin/bash
# The ticket kiosk as a citizen meets it, under tmux: the services with their queues, a ticket
# chosen with the keys and printed, priority with its confirmation, live queue updates, reprint,
# a dead printer that leaves no ticket waiting, the hall closed, and the terminal given back on
# SIGTERM. Also the non-interactive mode's failures, checked from the manager's queue.
source "$(dirname "$0")/lib.sh"

out="$TUI_DIR/out"
KIOSK_FILE="$TUI_DIR/kiosk.bin"

# Starts a kiosk in tmux window NAME printing to DEST; its pid goes to $TUI_DIR/NAME.pid.
start_kiosk() {
	local name=$1 dest=$2
	shift 2
	tui_run "$name" "sh -c 'echo \$\$ >$TUI_DIR/$name.pid; exec env QHALL_TOKEN=kiosk123 $BUILD/printer --server 127.0.0.1:$PORT --out $dest --log-file $TUI_DIR/$name.log $*'"
}

# Runs the printer in non-interactive mode against the test server.
printer() {
	QHALL_TOKEN=kiosk123 "$BUILD/printer" --server "127.0.0.1:$PORT" "$@"
}

# How many tickets wait in the hall, as the manager sees it.
waiting() {
	QHALL_PASSWORD=manager123 qc --manager m01 queue | grep -o '"number"' | wc -l
}

# The state of today's ticket NUMBER.
state_of() {
	QHALL_PASSWORD=manager123 qc --manager m01 ticket number="$1" | grep -o '"state":"[a-z_]*"' | head -1
}

# True when the screen row of service NAME_EN shows TEXT.
row_shows() {
	local name=$1 text=$2 end=$((SECONDS + 5))
	while [ $SECONDS -le $end ]; do
		screen kiosk | grep -F -- "$name" | grep -qF -- "$text" && return 0
		sleep 0.05
	done
	return 1
}

# True when the kiosk lists every service with its Chinese and English names.
kiosk_lists_services() {
	wait_for kiosk "Please choose a service" && wait_for kiosk "社会保障" && wait_for kiosk "Social security" &&
		wait_for kiosk "Exit-entry administration" && wait_for kiosk "税务"
}

# True when key 2 then Enter takes a ticket for B, shows it and writes it to the file.
number_key_takes_ticket() {
	keys kiosk 2 && keys kiosk Enter || return 1
	wait_for kiosk "Please take your ticket" && wait_for kiosk "B 0 0 1" || return 1
	[ -s "$KIOSK_FILE" ] && grep -qa "B001" "$KIOSK_FILE" && grep -qa "20261127-B001" "$KIOSK_FILE" || return 1
	[ "$(state_of B001)" = '"state":"waiting"' ]
}

# True when arrows choose, P asks to confirm, N backs out and Y issues a priority ticket.
priority_asks_to_confirm() {
	keys kiosk x && wait_gone kiosk "Please take your ticket" || return 1
	keys kiosk Down && keys kiosk p && wait_for kiosk "Priority tickets are for" || return 1
	keys kiosk n && wait_gone kiosk "Priority tickets are for" || return 1
	[ "$(state_of C001)" = "" ] || return 1
	keys kiosk p && wait_for kiosk "Priority tickets are for" && keys kiosk y || return 1
	wait_for kiosk "C 0 0 1" && wait_for kiosk "Priority" || return 1
	QHALL_PASSWORD=manager123 qc --manager m01 ticket number=C001 | grep -q '"class":"priority"'
}

# True when a ticket taken elsewhere shows up in the kiosk's waiting count at once.
queue_updates_live() {
	keys kiosk x && wait_gone kiosk "Please take your ticket" || return 1
	local ahead
	ahead=$(service_ahead A)
	row_shows "Social security" "前面 $ahead 人 ahead" || return 1
	qc --kiosk take service=A >/dev/null && qc --kiosk take service=A >/dev/null || return 1
	row_shows "Social security" "前面 $((ahead + 2)) 人 ahead"
}

# The ahead a new ticket of SERVICE would be told, as the server says.
service_ahead() {
	qc services | jq -r ".services[] | select(.id == \"$1\") | .ahead"
}

# True when the kiosk's row of a service shows what its ticket then prints: the same ahead and
# the same estimate (the issue: the screen said 3 waiting, the ticket 10 ahead).
screen_and_ticket_agree() {
	local row ahead wait
	row=$(screen kiosk | grep -F "Social security")
	ahead=$(printf '%s' "$row" | grep -o '前面 [0-9]* 人' | grep -o '[0-9]*')
	wait=$(printf '%s' "$row" | sed 's/.*ahead  //; s/ \/ .*//')
	[ -n "$ahead" ] && [ -n "$wait" ] || return 1
	keys kiosk 1 && keys kiosk Enter && wait_for kiosk "Please take your ticket" || return 1
	wait_for kiosk "前面等候 Ahead: $ahead 人" && wait_for kiosk "预计等候 Wait: $wait /" || return 1
	grep -qa "Ahead: $ahead" "$KIOSK_FILE"
}

# True when R is refused once the reprint window has passed (a kiosk with --reprint-window 2).
reprint_only_within_window() {
	start_kiosk short "file:$TUI_DIR/short.bin" --reprint-window 2
	wait_for short "Please choose a service" 8 && keys short 3 && keys short Enter || return 1
	wait_for short "Please take your ticket" && keys short x && wait_gone short "Please take your ticket" || return 1
	keys short r && wait_for short "REPRINT" || return 1
	keys short x && wait_gone short "REPRINT" || return 1
	sleep 3
	keys short r && wait_for short "reprinted only within 2 s" || return 1
	! screen short | grep -qF "REPRINT"
}

# True when R prints the last ticket again, marked as a reprint.
reprint_last_ticket() {
	local id
	id=$(grep -ao '20261127-[A-Z][0-9]*' "$KIOSK_FILE" | head -n 1)
	[ -n "$id" ] && ! grep -qa "REPRINT" "$KIOSK_FILE" || return 1
	keys kiosk x && wait_gone kiosk "Please take your ticket" || return 1
	keys kiosk r && wait_for kiosk "REPRINT" || return 1
	grep -qa "REPRINT" "$KIOSK_FILE" && grep -qa "$id" "$KIOSK_FILE"
}

# True when the kiosk survives a resize and still shows the list.
resize_redraws() {
	keys kiosk x
	resize 80 24 && wait_for kiosk "Social security" && wait_for kiosk "Enter" || return 1
	resize 100 30 && wait_for kiosk "Please choose a service"
}

# True when a kiosk whose printer file cannot be opened is out of service from the start (no
# citizen has to try first) and takes no ticket.
kiosk_dead_printer_takes_nothing() {
	local before
	before=$(waiting)
	start_kiosk deadfile "file:/nonexistent/x.bin"
	wait_for deadfile "暂停取号" 8 && wait_for deadfile "Out of service" || return 1
	wait_for deadfile "printer fault" && ! screen deadfile | grep -qF "Social security" || return 1
	keys deadfile 1 && keys deadfile Enter && sleep 0.5 && wait_for deadfile "Out of service" || return 1
	[ "$(waiting)" = "$before" ]
}

# True when an idle kiosk notices its printer failing with no key pressed, stays out of service
# while it fails, and comes back by itself when it works again.
kiosk_printer_fault_while_idle() {
	mkdir -p "$TUI_DIR/pdir"
	start_kiosk idle "file:$TUI_DIR/pdir/t.bin"
	wait_for idle "Please choose a service" 8 && wait_for idle "printer ok" || return 1
	rm -rf "$TUI_DIR/pdir"
	wait_for idle "Out of service" 10 || return 1
	sleep 3
	wait_for idle "Out of service" 1 || return 1 # lasting, not a 12 s message
	mkdir -p "$TUI_DIR/pdir"
	wait_for idle "Please choose a service" 8 && wait_gone idle "Out of service" || return 1
	keys idle 1 && keys idle Enter && wait_for idle "Please take your ticket" || return 1
	grep -qa "20261127-A" "$TUI_DIR/pdir/t.bin"
}

# True when a kiosk whose printer device fails on write (/dev/full) is out of service before
# any ticket: the status query fails, so no citizen gets a ticket that cannot be printed.
kiosk_failing_printer_out_of_service() {
	local before
	before=$(waiting)
	start_kiosk devfull /dev/full
	wait_for devfull "Out of service" 8 && wait_for devfull "No space left on device" || return 1
	keys devfull 3 && keys devfull Enter && sleep 0.5 || return 1
	[ "$(waiting)" = "$before" ]
}

# True when --take with an unwritable file fails plainly and takes no ticket.
oneshot_unwritable_file() {
	local before rc
	before=$(waiting)
	printer --take A --out file:/nonexistent/x.bin >"$out" 2>&1
	rc=$?
	[ "$rc" = 3 ] && grep -q "/nonexistent/x.bin" "$out" && grep -q "no ticket was taken" "$out" &&
		[ "$(waiting)" = "$before" ]
}

# True when --take towards a network printer nobody listens on fails plainly, no ticket taken.
oneshot_dead_tcp_printer() {
	local before rc port
	before=$(waiting)
	port=$(free_port)
	printer --take A --out "tcp:127.0.0.1:$port" >"$out" 2>&1
	rc=$?
	[ "$rc" = 3 ] && grep -q "cannot connect to the printer at 127.0.0.1:$port" "$out" && [ "$(waiting)" = "$before" ]
}

# True when --take writes a ticket file and prints its id and number.
oneshot_takes_and_prints() {
	printer --take B --out "file:$TUI_DIR/one.bin" >"$out" 2>&1 || return 1
	grep -qE '^20261127-B[0-9]{3} B[0-9]{3}$' "$out" && [ -s "$TUI_DIR/one.bin" ]
}

# True when SIGTERM ends the kiosk and gives the terminal back (alternate screen off).
sigterm_restores_terminal() {
	kill -TERM "$(cat "$TUI_DIR/kiosk.pid")" || return 1
	wait_gone kiosk "Please choose a service" || return 1
	[ "$(tmux -S "$TMUX_SOCK" display-message -p -t t:kiosk '#{alternate_on}')" = 0 ]
}

# True when, outside opening hours, the kiosk says the hall is closed and when it opens.
closed_hall_says_when() {
	stop_qserver
	CONFIG="$ROOT/tests/data/hours.json" start_qserver || return 1
	qc clock set=$((HALL_T0 + 12 * 3600)) >/dev/null || return 1 # Friday 22:00
	start_kiosk closed "file:$TUI_DIR/closed.bin"
	wait_for closed "The hall is closed" && wait_for closed "2026-11-28 09:00" || return 1
	keys closed Enter && wait_for closed "it opens Sat 2026-11-28 09:00" || return 1
	[ ! -s "$TUI_DIR/closed.bin" ]
}

# True when qcli and the printer both take the token from QHALL_TOKEN, and the printer's old
# QHALL_KIOSK_TOKEN still works for both, with a deprecation note.
one_token_variable() {
	env -u QHALL_KIOSK_TOKEN QHALL_TOKEN=kiosk123 "$BUILD/qcli" --server "127.0.0.1:$PORT" --kiosk \
		take service=C >"$out" 2>&1 && grep -q '"ok":true' "$out" || return 1
	env -u QHALL_KIOSK_TOKEN QHALL_TOKEN=kiosk123 "$BUILD/printer" --server "127.0.0.1:$PORT" \
		--take C --out "file:$TUI_DIR/token.bin" >"$out" 2>&1 || return 1
	env -u QHALL_TOKEN QHALL_KIOSK_TOKEN=kiosk123 "$BUILD/printer" --server "127.0.0.1:$PORT" \
		--take C --out "file:$TUI_DIR/token.bin" >"$out" 2>&1 || return 1
	grep -q "QHALL_KIOSK_TOKEN is deprecated; set QHALL_TOKEN" "$out" || return 1
	env -u QHALL_TOKEN QHALL_KIOSK_TOKEN=kiosk123 "$BUILD/qcli" --server "127.0.0.1:$PORT" --kiosk \
		take service=C >"$out" 2>&1 </dev/null || return 1
	grep -q '"ok":true' "$out" && grep -q "QHALL_KIOSK_TOKEN is deprecated" "$out"
}

tui_start
start_kiosk kiosk "file:$KIOSK_FILE"
check "the kiosk lists the services in Chinese and English" kiosk_lists_services
check "a number key and Enter take a ticket, shown and printed" number_key_takes_ticket
check "priority asks to confirm, then prints a priority ticket" priority_asks_to_confirm
check "each service shows what a new ticket would be told, live from queue events" queue_updates_live
check "the screen's figures for a service are the ticket's" screen_and_ticket_agree
check "R reprints the last ticket, marked" reprint_last_ticket
check "R is refused after the reprint window (--reprint-window)" reprint_only_within_window
check "a resize redraws the screen" resize_redraws
check "a kiosk with a dead printer is out of service from the start and takes no ticket" kiosk_dead_printer_takes_nothing
check "a kiosk whose printer fails on write (/dev/full) is out of service before any ticket" kiosk_failing_printer_out_of_service
check "an idle kiosk notices a printer fault, stays out of service, and recovers by itself" kiosk_printer_fault_while_idle
check "--take to an unwritable file fails plainly, no ticket waiting" oneshot_unwritable_file
check "--take to a dead network printer fails plainly, no ticket waiting" oneshot_dead_tcp_printer
check "--take prints one ticket and names it" oneshot_takes_and_prints
check "SIGTERM ends the kiosk and restores the terminal" sigterm_restores_terminal
check "qcli and printer read one token variable, QHALL_TOKEN; the old name works with a note" one_token_variable
check "outside opening hours the kiosk says when the hall opens" closed_hall_says_when
tui_finish
