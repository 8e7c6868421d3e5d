#!/bin/bash
# Appointment check-in at the kiosk, under tmux: A opens the check-in, the citizen types (or
# scans) the code; too early is explained with the time check-in opens, on time prints an
# appointment ticket, too late is explained and offers a normal ticket of the same service;
# an unknown code is explained; Esc goes back. Service C of the small hall takes appointments
# (check-in from 15 minutes before the slot to 10 after); the clock starts at Friday 10:00.
source "$(dirname "$0")/lib.sh"

KIOSK_FILE="$TUI_DIR/kiosk.bin"

# Books service C today at START for REF and prints the code.
book() {
	qc book service=C date=2026-11-27 start="$1" ref="$2" | jq -r '.appointment.code'
}

# The class of today's ticket NUMBER, as the manager sees it.
class_of() {
	QHALL_PASSWORD=manager123 qc --manager m01 ticket number="$1" | jq -r '.ticket.class'
}

# Opens the check-in on the kiosk and types TEXT (tmux sends it key by key), then Enter.
check_in() {
	keys kiosk Escape && wait_for kiosk "Please choose a service" || return 1
	keys kiosk a && wait_for kiosk "Type or scan your appointment code" || return 1
	keys kiosk -l "$1" && keys kiosk Enter
}

# True when a code typed before its check-in window says when it opens, and prints nothing.
too_early_says_when() {
	local typed
	typed=$(printf '%s' "$EARLY" | tr 'A-Z' 'a-z' | sed 's/^\(....\)/\1-/') # as a person types it
	check_in "$typed" && wait_for kiosk "Check-in for your appointment opens at 10:15" || return 1
	wait_for kiosk "请于 10:15 后再来签到" && [ ! -s "$KIOSK_FILE" ]
}

# True when, within the window, the code prints an appointment ticket of the booked service.
on_time_prints_appointment_ticket() {
	qc clock set=$((HALL_T0 + 20 * 60)) >/dev/null || return 1 # 10:20
	check_in "$EARLY" && wait_for kiosk "Please take your ticket" && wait_for kiosk "C 0 0 1" || return 1
	wait_for kiosk "预约 Appointment" && grep -qa "20261127-C001" "$KIOSK_FILE" || return 1
	[ "$(class_of C001)" = appointment ] &&
		[ "$(qc appointment code="$EARLY" | jq -r '.appointment.state')" = checked_in ]
}

# True when a code past its window is explained and Enter then gives a normal ticket of the
# appointment's service.
too_late_offers_normal_ticket() {
	qc clock set=$((HALL_T0 + 71 * 60)) >/dev/null || return 1 # 11:11
	check_in "$LATE" && wait_for kiosk "Check-in for your appointment closed at 11:10" || return 1
	wait_for kiosk "You can take a normal ticket for Tax instead" || return 1
	keys kiosk Enter && wait_for kiosk "Please take your ticket" && wait_for kiosk "C 0 0 2" || return 1
	[ "$(class_of C002)" = normal ] && [ "$(qc appointment code="$LATE" | jq -r '.appointment.state')" = missed ]
}

# True when an unknown code is explained and nothing is issued.
unknown_code_explained() {
	check_in ZZZZZZZZ && wait_for kiosk "No appointment has this code" || return 1
	[ "$(QHALL_PASSWORD=manager123 qc --manager m01 ticket number=C003 | jq -r '.ok')" = false ]
}

# True when Esc leaves the check-in for the list without a request.
escape_goes_back() {
	keys kiosk Escape && wait_for kiosk "Please choose a service" || return 1
	keys kiosk a && wait_for kiosk "Appointment check-in" && keys kiosk -l 7K && wait_for kiosk "[ 7K" || return 1
	keys kiosk Escape && wait_gone kiosk "Type or scan your appointment code" && wait_for kiosk "Please choose a service"
}

# True when the kiosk starts and offers the check-in key (the two appointments were booked).
kiosk_offers_checkin() {
	[ -n "$EARLY" ] && [ "$EARLY" != null ] && [ -n "$LATE" ] && [ "$LATE" != null ] || return 1
	tui_run kiosk "env QHALL_TOKEN=kiosk123 $BUILD/printer --server 127.0.0.1:$PORT --out file:$KIOSK_FILE --log-file $TUI_DIR/kiosk.log"
	wait_for kiosk "A 预约签到 Appointment check-in" 8
}

tui_start
EARLY=$(book 10:30 p13800000001)
LATE=$(book 11:00 p13800000002)
check "the kiosk offers appointment check-in (A)" kiosk_offers_checkin
check "a code before its window says when check-in opens" too_early_says_when
check "a code within its window prints an appointment ticket" on_time_prints_appointment_ticket
check "a code after its window is explained and offers a normal ticket" too_late_offers_normal_ticket
check "an unknown code is explained" unknown_code_explained
check "Esc goes back to the services" escape_goes_back
tui_finish
