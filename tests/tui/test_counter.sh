#!/bin/bash
# Terminal tests of counter-client, the clerk's console, under a private tmux of fixed size
# against a private qserver on the small hall (tests/tui/lib.sh). Every state change is checked
# through the protocol (qcli), not only on the screen.
# usage: tests/tui/test_counter.sh [BUILD]
cd "$(dirname "$0")/../.." || exit 1
COLS=80 ROWS=24
. tests/tui/lib.sh "${1:-}"

# The small hall plus x1, a clerk without a name (password clerk123, window 3).
jq '.users += [{"id":"x1","role":"clerk","password_hash":.users[0].password_hash,"windows":[3]}]' \
	tests/data/small.json >"$TUI_DIR/hall.json"
CONFIG="$TUI_DIR/hall.json"
tui_start
printf 'clerk123\n' >"$TUI_DIR/pw"
printf 'wrong\n' >"$TUI_DIR/bad-pw"

# Starts a console in tmux window NAME for USER at WINDOW with a password file; when it ends
# the pane says "exit=N" and "tty-restored" if the terminal modes are back as they were.
console() {
	local name=$1 user=$2 window=$3 pw=${4:-$TUI_DIR/pw}
	tui_run "$name" "before=\$(stty -g); LANG=C.UTF-8 $BUILD/counter-client --server 127.0.0.1:$PORT" \
		"--user $user --window $window --password-file $pw --log $TUI_DIR/$name.log;" \
		"echo exit=\$?; [ \"\$(stty -g)\" = \"\$before\" ] && echo tty-restored"
}

# The JSON of ticket NUMBER as the server has it.
ticket() {
	qc ticket number="$1"
}

# Whether ticket NUMBER has all the "key":value pairs given (as JSON text fragments).
ticket_has() {
	local number=$1 json frag
	shift
	json=$(ticket "$number") || return 1
	for frag in "$@"; do
		case "$json" in *"$frag"*) ;; *) echo "# $number: no $frag in $json"; return 1 ;; esac
	done
}

# The number call_next would give window 1 now: the head of its queue, as a manager sees it.
next_for_window1() {
	QHALL_PASSWORD=manager123 qc --manager m01 queue window=1 |
		grep -o '"number":"[A-Z0-9]*"' | head -n 1 | cut -d'"' -f4
}

# Whether window ID has all the fragments given in the snapshot.
window_has() {
	local id=$1 json frag
	shift
	json=$(qc snapshot | grep -o "{\"id\":$id,\"name\":\"[^}]*}") || return 1
	for frag in "$@"; do
		case "$json" in *"$frag"*) ;; *) echo "# window $id: no $frag in $json"; return 1 ;; esac
	done
}

# Whether window 1 has all the fragments given in the snapshot.
window1_has() {
	window_has 1 "$@"
}

# The number of the ticket at window 1, as the server has it.
window1_ticket() {
	qc snapshot | grep -o '{"id":1,"name":"1号窗口"[^}]*}' | grep -o '"ticket":"[A-Z0-9]*"' | cut -d'"' -f4
}

# Whether line N (1-based) of the screen of NAME contains TEXT.
line_has() {
	screen "$1" | sed -n "$2p" | grep -qF -- "$3"
}

# The process id of the counter-client running in tmux window NAME.
console_pid() {
	local shell
	shell=$(tmux -S "$TMUX_SOCK" display -p -t "t:$1" '#{pane_pid}')
	pgrep -P "$shell" -x counter-client
}

# --- sign in
console clerk c01 1
check "signs in and shows the hall, the window, the clerk and the state" \
	wait_for clerk "1号窗口 Window 1" 8
check "header names the clerk and the window is idle" \
	eval 'wait_for clerk "张丽 c01" && wait_for clerk "空闲 Idle" && wait_for clerk "已连接 connected"'
check "the footer shows the keys" eval 'wait_for clerk "F1/n Next" && wait_for clerk "q Quit"'
check "an empty queue says so" wait_for clerk "Nobody is waiting"

# --- another client's take appears in the queue, in call order
qc --kiosk take service=A >/dev/null
check "a kiosk's take appears in the queue" wait_for clerk "1. A001"
qc --kiosk take service=B class=priority >/dev/null
qc --kiosk take service=C class=appointment >/dev/null
check "priority first, then appointment, then normal, with marks" \
	eval 'wait_for clerk "1. B001  优" && wait_for clerk "2. C001  约" && wait_for clerk "3. A001"'
check "waiting per service is shown" wait_for clerk "社会保障 Social security"

# --- Next calls what call_next should give
want=$(next_for_window1)
keys clerk n
check "Next calls the head of the queue ($want)" wait_for clerk "$want  出入境 Exit-entry"
check "the server has $want called at window 1" ticket_has "$want" '"state":"called"' '"window":1'
check "the class is marked on the current ticket" wait_for clerk "绿色通道 Priority"
check "the queue no longer lists it" wait_gone clerk "1. B001"

# --- Recall, Start, Finish with a rating
keys clerk r
check "Recall counts on the server" eval 'sleep 0.2; ticket_has B001 "\"recalls\":1"'
check "Recall shows on screen" wait_for clerk "Recalls 1"
check "the screen says Next would count the called ticket as served" \
	eval 'wait_for clerk "n: B001 算作已办 counts as served" && wait_for clerk "m: B001 未到 no-show, call next"'
check "messages clear after a while (10 s for a notice)" wait_gone clerk "Called B001 again" 13
keys clerk F3
check "Start (F3) serves it" eval 'wait_for clerk "办理中 serving" && ticket_has B001 "\"state\":\"serving\""'
check "then Next would finish it" eval 'wait_for clerk "n: B001 办结 done, call next" && wait_gone clerk "m: B001"'
keys clerk f
check "Finish asks for a rating" wait_for clerk "rating 1-5"
check "with the five levels named" eval 'wait_for clerk "5 非常满意 very satisfied  4 满意 satisfied  3 基本满意 fair" &&
	wait_for clerk "2 不满意 dissatisfied  1 非常不满意 very dissatisfied"'
keys clerk 4
check "Finish with rating 4 is done on the server" \
	eval 'wait_for clerk "B001 is done" && ticket_has B001 "\"state\":\"done\"" "\"rating\":4"'
check "the clerk's count moves" wait_for clerk "Served 1"

# --- No-show with requeue, then without
want=$(next_for_window1)
keys clerk F1
check "F1 calls the next ($want)" wait_for clerk "$want  税务 Tax"
keys clerk x
check "No-show asks whether to requeue" wait_for clerk "Requeue it at the back"
keys clerk y
check "No-show with requeue: waiting again on the server" \
	eval 'wait_for clerk "waits again" && ticket_has C001 "\"state\":\"waiting\"" "\"window\":null"'
want=$(next_for_window1)
keys clerk n
check "Next calls $want" wait_for clerk "$want  "
keys clerk x
wait_for clerk "Requeue it at the back" >/dev/null
keys clerk Escape
check "Esc cancels the question and sends nothing" \
	eval 'wait_for clerk "nothing was sent" && ticket_has "$want" "\"state\":\"called\""'
keys clerk x
wait_for clerk "Requeue it at the back" >/dev/null
keys clerk n
check "No-show without requeue: no_show on the server" \
	eval 'wait_for clerk "marked as no-show" && ticket_has "$want" "\"state\":\"no_show\""'

# --- Transfer: choose a service from the list, any window, confirm
qc --kiosk take service=A >/dev/null
wait_for clerk "A002" >/dev/null
keys clerk n
wait_for clerk "A001  社会保障" >/dev/null || wait_for clerk "A002  社会保障" >/dev/null
cur=$(ticket A001 | grep -q '"state":"called"' && echo A001 || echo A002)
keys clerk t
check "Transfer lists the other services" \
	eval 'wait_for clerk "to which service" && wait_for clerk "2  C  税务 Tax"'
keys clerk 2
check "then the windows that serve it" \
	eval 'wait_for clerk "Any window" && wait_for clerk "2号窗口 Window 2"'
keys clerk Enter
check "and asks to confirm" wait_for clerk "Confirm the transfer"
keys clerk y
check "Transfer: $cur waits for service C on the server" \
	eval 'wait_for clerk "transferred to service C" && ticket_has "$cur" "\"state\":\"waiting\"" "\"service\":\"C\"" "\"transfers\":1"'

# --- Errors from the server show on the status line and end nothing
keys clerk c
wait_for clerk "Ticket number" >/dev/null
keys clerk z 9 9 9 Enter
check "calling a missing number shows the server's error, whole at 80 columns" \
	wait_for clerk "Call no.: Ticket Z999 does not exist."
keys clerk n
wait_for clerk "Called" >/dev/null
cur=$(window1_ticket)
keys clerk p
check "Pause with a ticket at the window says why at once, without asking a reason" \
	eval 'wait_for clerk "Finish or no-show $cur first, then pause." && ! screen clerk | grep -qF Reason'
check "the console is still running after errors" eval 'console_pid clerk >/dev/null'

# --- Call a given number out of order (confirmed, since a ticket is at the window)
qc --kiosk take service=B >/dev/null
wait_for clerk "B002" >/dev/null
keys clerk c
wait_for clerk "Ticket number" >/dev/null
keys clerk b 0 0 2 Enter
check "calling out of order asks to confirm" wait_for clerk "Call B002 out of order"
keys clerk y
check "B002 is called at window 1" \
	eval 'wait_for clerk "Called B002" && ticket_has B002 "\"state\":\"called\"" "\"window\":1"'

# --- the waited-minutes clock follows the server's clock
qc clock advance=420 >/dev/null
qc --kiosk take service=A >/dev/null
check "minutes waited move with the server's clock" wait_for clerk " 7 min"

# --- Pause with a reason, then Resume
keys clerk f Enter
wait_for clerk "is done" >/dev/null
keys clerk p
wait_for clerk "Reason" >/dev/null
keys clerk l u n c h Enter
check "Pause with a reason: paused on the server" \
	eval 'wait_for clerk "暂停 Paused: lunch" && window1_has "\"state\":\"paused\"" "\"reason\":\"lunch\""'
keys clerk u
check "Resume: idle again" eval 'wait_for clerk "空闲 Idle" && window1_has "\"state\":\"idle\""'

# --- resizes keep the layout readable
tmux -S "$TMUX_SOCK" resize-window -t t:clerk -x 120 -y 40
check "at 120x40 the header, queue and footer are in place" \
	eval 'wait_for clerk "Next tickets" && line_has clerk 1 "1号窗口 Window 1" && line_has clerk 40 "F"'
check "at 120x40 the footer shows Chinese labels too" wait_for clerk "下一位 Next"
check "no line is wider than the screen at 120x40" \
	eval '[ "$(screen clerk | LC_ALL=C.UTF-8 wc -L)" -le 120 ]'
tmux -S "$TMUX_SOCK" resize-window -t t:clerk -x 60 -y 20
check "below 80x24 it says the terminal is too small" wait_for clerk "Terminal too small"
tmux -S "$TMUX_SOCK" resize-window -t t:clerk -x 80 -y 24
check "back at 80x24 the layout is whole again" \
	eval 'wait_for clerk "Next tickets" && line_has clerk 1 "张丽" && line_has clerk 23 "F1/n Next" && line_has clerk 24 "q Quit"'

# --- qserver killed and started again: reconnecting, then carries on with the same ticket
cur=$(next_for_window1)
keys clerk n
check "a ticket is at the window before the crash ($cur)" \
	eval 'wait_for clerk "Called $cur" && ticket_has "$cur" "\"state\":\"called\""'
kill -9 "$QSERVER_PID"
wait "$QSERVER_PID" 2>/dev/null
QSERVER_PID=""
check "the console says it is reconnecting" wait_for clerk "reconnecting" 8
check "and keeps the last picture" eval 'screen clerk | grep -qF "$cur  "'
start_qserver
check "it reconnects and takes the window up again" wait_for clerk "Reconnected" 15
check "the reconnect message clears after a while" wait_gone clerk "Reconnected" 13
keys clerk f Enter
check "and carries on: finishing $cur works" \
	eval 'wait_for clerk "$cur is done" && ticket_has "$cur" "\"state\":\"done\""'

# --- No-show and call next, one key
qc --kiosk take service=A >/dev/null
keys clerk n
wait_for clerk "m: " >/dev/null
cur=$(window1_ticket)
want=$(next_for_window1)
keys clerk m
check "m: $cur is a no-show and $want is called, in one key" \
	eval 'wait_for clerk "Called $want; $cur was a no-show." && ticket_has "$cur" "\"state\":\"no_show\"" && ticket_has "$want" "\"state\":\"called\"" "\"window\":1"'
keys clerk f Enter
wait_for clerk "is done" >/dev/null

# --- Close, with a confirmation; Enter confirms
keys clerk k
check "Close asks to confirm" wait_for clerk "Close window 1 for the day"
keys clerk Enter
check "Close (Enter): closed on the server" eval 'wait_for clerk "关闭 Closed" && window1_has "\"state\":\"closed\""'

# --- the estimates per service follow calls made at other windows
# The estimate of service C as the server has it, written as the console writes it: the range
# in minutes rounded up (10th to 90th percentile), or ~minutes when both ends are the same minute.
server_estimate_c() {
	local c ewt low high
	c=$(qc services | grep -o '"id":"C"[^}]*')
	ewt=$(printf '%s' "$c" | grep -o '"ewt":[0-9]*' | cut -d: -f2)
	low=$(( ($(printf '%s' "$c" | grep -o '"ewt_low":[0-9]*' | cut -d: -f2) + 59) / 60 ))
	high=$(( ($(printf '%s' "$c" | grep -o '"ewt_high":[0-9]*' | cut -d: -f2) + 59) / 60 ))
	if [ "$low" != "$high" ]; then echo "$low-$high min"
	elif [ "$((ewt / 60))" -lt 1 ]; then echo "~<1 min"; else echo "~$((ewt / 60)) min"; fi
}
# Whether the console's line for service C shows the server's estimate.
console_shows_server_estimate_c() {
	local want
	want=$(server_estimate_c)
	wait_for clerk "税务 Tax" 2 && screen clerk | grep -F "税务 Tax" | grep -qF -- "$want"
}
keys clerk u # the closed window opens again
wait_for clerk "空闲 Idle" 5 >/dev/null
for s in A A A C; do qc --kiosk take service=$s >/dev/null; done
check "the console shows service C's estimate" eval 'sleep 0.5; console_shows_server_estimate_c'
before=$(server_estimate_c)
QHALL_PASSWORD=manager123 qc --manager m01 call window=2 ticket=A004 >/dev/null 2>&1 ||
	QHALL_PASSWORD=manager123 qc --manager m01 resume window=2 >/dev/null
QHALL_PASSWORD=manager123 qc --manager m01 call_next window=2 >/dev/null
after=$(server_estimate_c)
check "a call at another window moved C's estimate on the server ($before -> $after)" [ "$before" != "$after" ]
check "and the console follows it without a key pressed" eval 'sleep 0.5; console_shows_server_estimate_c'

# --- the clock shows the hall's time (10:00 Beijing) even before a sign-in succeeds
tui_run early "TZ=UTC LANG=C.UTF-8 $BUILD/counter-client --server 127.0.0.1:$PORT --user c03 --window 3 --password-file $TUI_DIR/bad-pw"
check "before sign-in the clock shows the site's time, not UTC" \
	eval 'wait_for early "Sign-in refused" 8 && screen early | head -n 1 | grep -qE " 1[0-9]:[0-5][0-9] *$"'
keys early Escape

# --- a window refused to this clerk does not ask for the password again
console wrongwin c03 1
check "a window the clerk may not use: the reason, then retry or quit (no password prompt)" \
	eval 'wait_for wrongwin "Sign-in refused" 8 && wait_for wrongwin "Try again?" && ! screen wrongwin | grep -qF "Password for"'
keys wrongwin Escape
check "Esc there quits" wait_for wrongwin "exit=0"

# --- a clerk without a name is shown once in the header
console noname x1 3
check "a user without a name shows as x1, not x1 x1" \
	eval 'wait_for noname "3号窗口 Window 3" 8 && line_has noname 1 "|  x1  |" && ! line_has noname 1 "x1 x1"'
keys noname q
wait_for noname "Leave it as it is" >/dev/null
keys noname 2
check "Quit offers to pause: paused on the server, then the console ends" \
	eval 'wait_for noname "exit=0" && qc snapshot | grep -o "{\"id\":3,[^}]*}" | grep -qF "\"state\":\"paused\""'

# --- a refused sign-in asks again and does not end the program
console refused c03 3 "$TUI_DIR/bad-pw"
check "a wrong password is reported and asked again" \
	eval 'wait_for refused "Sign-in refused" 8 && wait_for refused "Password for c03"'
keys refused c l e r k 1 2 3 Enter
check "the right password then signs in" wait_for refused "3号窗口 Window 3" 8

# --- the big digits grow on a large terminal (5 rows at 80x24)
# Rows of the screen of NAME holding reversed cells (the blocks of the big number).
reversed_rows() {
	tmux -S "$TMUX_SOCK" capture-pane -e -p -t "t:$1" | grep -c $'\e\\[7m'
}
qc --kiosk take service=A >/dev/null
keys clerk n
wait_for clerk "m: " >/dev/null
check "at 80x24 the ticket digits are 5 rows tall" eval 'sleep 0.3; [ "$(reversed_rows clerk)" -eq 5 ]'
tmux -S "$TMUX_SOCK" resize-window -t t:clerk -x 160 -y 50
check "at 160x50 they are three times as tall (15 rows)" eval 'sleep 0.5; [ "$(reversed_rows clerk)" -eq 15 ]'
tmux -S "$TMUX_SOCK" resize-window -t t:clerk -x 80 -y 24
keys clerk f Enter
wait_for clerk "is done" >/dev/null

# --- the same clerk signs in at the same window from another console
console elsewhere c03 3
check "the same clerk signs in at window 3 from another console" wait_for elsewhere "3号窗口 Window 3" 8
check "the first console says it was signed in elsewhere" wait_for refused "已在别处登录" 8
check "and stays disconnected while the other keeps the window" \
	eval 'sleep 1.5; ! screen refused | grep -qF "Reconnected" && wait_for elsewhere "已连接 connected" &&
		window_has 3 "\"clerk\":\"c03\""'

# --- the terminal is restored on quit and on SIGTERM; Quit asks what becomes of the window
keys clerk q
check "Quit asks: close, pause or leave the window" \
	eval 'wait_for clerk "Close the window, then quit" && wait_for clerk "Pause the window, then quit" && wait_for clerk "Leave it as it is and quit"'
keys clerk 1
check "Quit and close: closed on the server, exit 0" \
	eval 'wait_for clerk "exit=0" && window1_has "\"state\":\"closed\""'
check "and restores the terminal" wait_for clerk "tty-restored"
pid=$(console_pid refused)
kill -TERM "$pid"
check "SIGTERM exits 0 and restores the terminal" \
	eval 'wait_for refused "exit=0" && wait_for refused "tty-restored"'
console hup c02 2
wait_for hup "2号窗口 Window 2" 8 >/dev/null
kill -HUP "$(console_pid hup)"
check "SIGHUP restores the terminal too" wait_for hup "tty-restored"

tui_finish
