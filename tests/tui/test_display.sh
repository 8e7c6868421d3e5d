#!/bin/bash
# Terminal tests of the wall display under a private tmux (tests/tui/lib.sh): calls appear within
# a second, the recent list is in order, a burst of ten calls is shown in full and in order
# (each for its minimum time), a recall shows as one, resizes keep it readable, a stopped
# qserver shows "offline since" and the display comes back live, zones filter, the voice
# renders non-silent WAV files, a missing espeak-ng is a warning and not a failure.
export LC_ALL=C.UTF-8 # wide characters in tmux and in the display
source "$(dirname "$0")/lib.sh"

LOG="$TUI_DIR/display.log"
ZLOG="$TUI_DIR/zone.log"
MLOG="$TUI_DIR/mute.log"
WAV="$TUI_DIR/wav"

# Milliseconds since the epoch.
now_ms() { date +%s%3N; }

# Waits until the screen of window NAME has a line matching the extended regex RE (5 s).
wait_for_re() {
	local end=$((SECONDS + 5))
	while [ $SECONDS -le $end ]; do
		screen "$1" | grep -qE -- "$2" && return 0
		sleep 0.05
	done
	return 1
}

# Waits up to MS milliseconds for TEXT on window NAME: wait_for_ms NAME TEXT MS.
wait_for_ms() {
	local name=$1 text=$2 limit=$3
	local end=$(($(now_ms) + limit))
	while [ "$(now_ms)" -le "$end" ]; do
		screen "$name" | grep -qF -- "$text" && return 0
		sleep 0.02
	done
	return 1
}

# Sets the size of window NAME: size NAME COLS ROWS.
size() {
	tmux -S "$TMUX_SOCK" resize-window -t "t:$1" -x "$2" -y "$3"
}

# Prints the ticket numbers of the recent list (left column rows that start with a number).
recent_list() {
	screen "$1" | grep -oE '^ [A-Z][0-9]{3,4} ' | tr -d ' ' | tr '\n' ' ' | sed 's/ $//'
}

# Sends manager requests on one connection, all written at once (a burst), and waits for the
# last answer: burst LINE... (hello as m01 is added first).
burst() {
	local n=$(($# + 1))
	exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
	{
		printf '{"op":"hello","role":"manager","user":"m01","password":"manager123"}\n'
		printf '%s\n' "$@"
	} >&3
	head -n "$n" <&3 >"$TUI_DIR/burst.out"
	exec 3>&-
	[ "$(grep -c '"ok":true' "$TUI_DIR/burst.out")" = "$n" ]
}

# Checks the log's "show" lines: the numbers expected, in order, each up for at least MS.
shown_in_order() {
	local min_ms=$1
	shift
	local want="$*"
	local got
	got=$(grep ' show ' "$LOG" | awk '{print $5}' | tail -n $# | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$want" ] || { echo "# shown: $got; wanted: $want"; return 1; }
	grep ' show ' "$LOG" | tail -n $# | awk -v min="$min_ms" '
		{ split($1, t, ":"); ms = ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000
		  if (NR > 1 && ms - last < min) { print "# up for only " ms - last " ms: " $0; bad = 1 }
		  last = ms }
		END { exit bad }'
}

# Whether a WAV file holds sound: 16-bit PCM whose loudest sample is over 1000.
wav_has_sound() {
	local file=$1
	[ -s "$file" ] || return 1
	[ "$(head -c 4 "$file")" = "RIFF" ] || return 1
	[ "$(dd if="$file" bs=1 skip=8 count=4 2>/dev/null)" = "WAVE" ] || return 1
	od -A n -t d2 -j 44 -v "$file" | awk '
		{ for (i = 1; i <= NF; i++) { v = $i < 0 ? -$i : $i; if (v > max) max = v } }
		END { exit !(max > 1000) }'
}

# Waits until FILE exists and has sound (espeak-ng renders it in the background).
wait_wav() {
	local end=$((SECONDS + ${2:-10}))
	while [ $SECONDS -le $end ]; do
		wav_has_sound "$1" && return 0
		sleep 0.1
	done
	return 1
}

# Whether the screen of NAME fits COLS x ROWS and shows the call, the services and the footer.
readable() {
	local name=$1 cols=$2 rows=$3 number=$4 s
	s=$(screen "$name")
	[ "$(printf '%s\n' "$s" | wc -l)" = "$rows" ] || { echo "# rows differ"; return 1; }
	printf '%s\n' "$s" | grep -q '█' || { echo "# no big digits"; return 1; }
	printf '%s\n' "$s" | grep -qF "$number" || { echo "# no $number"; return 1; }
	printf '%s\n' "$s" | grep -qF "Social security" || return 1
	printf '%s\n' "$s" | grep -qF "Target: 15 min" || return 1
	printf '%s\n' "$s" | grep -qF "live" || return 1
	# No line is wider than the screen (wc -L counts a Chinese character as two columns).
	[ "$(printf '%s\n' "$s" | wc -L)" -le "$cols" ] || { echo "# a line is too wide"; return 1; }
}

# The small hall with six more windows (4-9, service A, closed): more than 80x24 can list.
jq '.windows += [range(4;10) | {"id":., "name":"\(.)号窗口", "name_en":"Window \(.)", "services":["A"]}]' \
	tests/data/small.json >"$TUI_DIR/nine.json"
CONFIG="$TUI_DIR/nine.json"
tui_start
# QHALL_DISPLAY runs another build of the display (the sanitizer one, for a leak check).
DISPLAY_CMD="${QHALL_DISPLAY:-$BUILD/display} --server 127.0.0.1:$PORT"
tui_run d "$DISPLAY_CMD --min-show 0.2 --flash 1 --recent 10 --log $LOG --log-level info"
tui_run z "$DISPLAY_CMD --windows 3 --services B --min-show 0.2 --voice-wav $WAV --log $ZLOG --log-level info"
tui_run m "$DISPLAY_CMD --min-show 0.2 --voice --espeak /nonexistent/espeak-ng --log $MLOG"
# A slow stand-in for espeak-ng (0.3 s an utterance) that records its speed and text: the voice
# of display v, Mandarin only, must keep in step with a burst by skipping to the newest.
cat >"$TUI_DIR/slow-speak.sh" <<SCRIPT
#!/bin/sh
rate=; prev=
for a in "\$@"; do [ "\$prev" = -s ] && rate=\$a; prev=\$a; text=\$a; done
sleep 0.3
echo "\$rate: \$text" >>"$TUI_DIR/spoken.txt"
SCRIPT
chmod +x "$TUI_DIR/slow-speak.sh"
tui_run v "$DISPLAY_CMD --min-show 0.2 --voice-wav $TUI_DIR/vwav --voice-lang zh --espeak $TUI_DIR/slow-speak.sh"

check "display shows the hall and goes live" \
	eval 'wait_for d "Social security" && wait_for d "在线 live" && wait_for d "等候叫号 Waiting for the first call"'
check "mean wait shows — while nobody was called today, with the 15-minute target" \
	wait_for d "Mean wait today: —   目标 Target: 15 min"

qc --kiosk take service=A >/dev/null && qc --kiosk take service=B >/dev/null
check "the services panel shows the estimate's range (10th to 90th percentile)" \
	wait_for_re d 'Exit-entry.* [0-9]+-[0-9]+ min'
t0=$(now_ms)
qc --clerk c01 --window 1 call_next >/dev/null
check "a call appears within 1 s of call_next" wait_for_ms d "请 A001 号 到 1号窗口" 1000
echo "# call shown after $(($(now_ms) - t0)) ms"
check "the call is announced in English too" wait_for d "Number A001, please go to window 1"

qc --clerk c01 --window 1 recall >/dev/null
check "a recall shows as a recall" wait_for d "再次呼叫 RECALL"

qc --clerk c03 --window 3 call_next >/dev/null
check "zone display shows a call at its window" wait_for z "请 B001 号 到 3号窗口"
check "zone display leaves out other windows' calls and services" \
	eval '! screen z | grep -qE "A001|Social security|1号窗口"'
check "zone display keeps its services" eval 'screen z | grep -qF "Exit-entry"'
check "full display shows the zone's call too" wait_for d "请 B001 号 到 3号窗口"

if command -v espeak-ng >/dev/null 2>&1; then
	check "voice renders the Mandarin announcement to a WAV file with sound" \
		wait_wav "$WAV/call-0001-zh.wav"
	check "voice renders the English announcement after it" wait_wav "$WAV/call-0001-en.wav"
else
	echo "# espeak-ng not installed: WAV checks skipped"
fi
check "a missing espeak-ng is one warning and the display goes on" \
	eval 'wait_for m "voice off: /nonexistent/espeak-ng not found" && wait_for m "请 B001 号"'

for _ in 1 2 3; do qc --kiosk take service=A >/dev/null; done
for n in A002 A003 A004; do
	qc --clerk c01 --window 1 call_next >/dev/null
	wait_for d "请 $n 号" 3
done
check "the recent calls are in order, newest first" \
	eval '[ "$(recent_list d)" = "A003 A002 B001 A001 A001" ] || { echo "# recent: $(recent_list d)"; false; }'

# A call at window 2 older than the hall's last 10 calls (the burst below): a display of
# window 2's zone started after it still shows it.
qc --kiosk take service=C >/dev/null
qc --clerk c02 --window 2 call_next >/dev/null
wait_for d "请 C001 号 到 2号窗口" 3

takes=() calls=()
for _ in $(seq 10); do
	takes+=('{"op":"take","service":"A"}')
	calls+=('{"op":"call_next","window":1}')
done
burst "${takes[@]}" >/dev/null
t0=$(now_ms)
check "a burst of 10 call_next is sent" burst "${calls[@]}"
echo "# burst sent in $(($(now_ms) - t0)) ms"
check "the burst's last call reaches the big line" wait_for d "请 A014 号" 10
check "all 10 were shown in order, each at least 0.2 s" \
	shown_in_order 190 A005 A006 A007 A008 A009 A010 A011 A012 A013 A014
# Whether the voice of display v said the burst's last call last, skipped some with a chime,
# in Mandarin only, at the faster default speed.
voice_kept_in_step() {
	local end=$((SECONDS + 10)) n
	while [ $SECONDS -le $end ]; do
		tail -n 1 "$TUI_DIR/spoken.txt" 2>/dev/null | grep -qF "180: 请 A014 号 到 1号窗口" && break
		sleep 0.1
	done
	tail -n 1 "$TUI_DIR/spoken.txt" | grep -qF "180: 请 A014 号 到 1号窗口" || return 1
	n=$(grep -c "号 到" "$TUI_DIR/spoken.txt")
	echo "# said $n of 17 calls"
	[ "$n" -lt 17 ] || return 1
	ls "$TUI_DIR/vwav" | grep -q -- "-chime.wav" || return 1
	! grep -q "Number" "$TUI_DIR/spoken.txt"
}
check "voice keeps in step with a burst: skips to the newest with a chime, Mandarin only" voice_kept_in_step
check "the recent list holds the burst in order" \
	eval '[ "$(recent_list d)" = "A013 A012 A011 A010 A009 A008 A007 A006 A005 C001" ] || { echo "# recent: $(recent_list d)"; false; }'

tui_run l "$DISPLAY_CMD --recent 10" # the snapshot holds the last 10 calls: A014 up, 9 listed
check "a display started later shows the last call and the history from the snapshot" \
	eval 'wait_for l "请 A014 号" && [ "$(recent_list l)" = "A013 A012 A011 A010 A009 A008 A007 A006 A005" ]'

tui_run zl "$DISPLAY_CMD --windows 2" # none of the last 10 calls was at window 2
check "a zoned display started late fetches its zone's last call (not in the hall's last 10)" \
	eval 'wait_for zl "请 C001 号 到 2号窗口" && ! screen zl | grep -qF "Waiting for the first call"'

size d 80 24
check "at 80x24 it stays readable" eval 'sleep 0.3; readable d 80 24 A014'
check "at 80x24 the windows list says how many more windows there are" \
	eval 'wait_for d "more windows" && screen d | grep -qE "… 还有 [0-9]+ 个窗口 [0-9]+ more windows"'
size d 200 60
check "at 200x60 it stays readable, windows in their own column" \
	eval 'sleep 0.3; readable d 200 60 A014 && screen d | grep -qF "窗口 Windows" && screen d | grep -qF "9号窗口"'
check "at 200x60 all nine windows fit: no more marker" eval '! screen d | grep -qF "more windows"'
check "at 200x60 the digits are bigger" eval '[ "$(screen d | grep -c "█")" -ge 10 ]'
size d 100 30

stop_qserver
check "qserver stopped: offline since HH:MM" eval 'wait_for d "offline since" && screen d | grep -qE "offline since [0-9]{2}:[0-9]{2}"'
check "offline keeps the last data" eval 'screen d | grep -qF "请 A014 号" && screen d | grep -qF "Social security"'
start_qserver
check "qserver back: live again" eval 'wait_gone d "offline since" 10 && wait_for d "在线 live"'
check "today's mean wait comes from the server once calls were made" wait_for d "Mean wait today: <1 min" 5
qc --kiosk take service=A >/dev/null
qc --clerk c01 --window 1 call_next >/dev/null
check "calls appear again after the restart" wait_for d "请 A015 号" 5
check "the reconnect's snapshot adds no duplicates" \
	eval '[ "$(recent_list d | cut -d" " -f1-4)" = "A014 A013 A012 A011" ] || { echo "# recent: $(recent_list d)"; false; }'

# The display's process in window NAME (the child of the pane's shell).
display_pid() {
	pgrep -P "$(tmux -S "$TMUX_SOCK" list-panes -t "t:$1" -F '#{pane_pid}')" -f "display --server"
}
pid=$(display_pid z)
[ -n "$pid" ] && kill -TERM "$pid"
check "SIGTERM quits cleanly and restores the terminal" \
	eval 'wait_gone z "Exit-entry" 5 && grep -q "signal 15: quitting" "$ZLOG"'

keys m q
check "q quits and restores the terminal" eval 'wait_gone m "Social security" 5'

tui_finish
