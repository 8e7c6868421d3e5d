#!/bin/bash
# Server-Sent Events of WEB.md against a real qserver and Redis, read with curl: each event
# is one message with an id from the Redis stream; Last-Event-ID resumes after it and only
# after it; an id no longer kept gets `reset`; the ticket topic is for staff; a ticket's
# stream shows its ahead count falling and then its window; streams are limited per address.
source "$(dirname "$0")/lib.sh"

# Reads a stream for SECONDS into FILE in the background: stream FILE SECONDS URL [curl args].
stream() {
	local file=$1 secs=$2
	shift 2
	curl -sN --max-time "$secs" "$@" >"$file" 2>/dev/null &
	STREAMS="$STREAMS $!"
}

# Waits for the streams started so far to end (not for Redis or qserver).
wait_streams() {
	local p
	for p in $STREAMS; do wait "$p" 2>/dev/null; done
	STREAMS=""
}
STREAMS=

# Waits until FILE holds TEXT (up to 5 s).
wait_text() {
	for _ in $(seq 100); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

kiosk_take() {
	curl -s -b "$TUI_DIR/jar" -X POST -H "$J" -d "{\"service\":\"$1\"}" "$API/sites/small/tickets" >/dev/null
}

site_stream_sends_queue_events_with_ids() {
	stream "$TUI_DIR/s1" 5 "$API/sites/small/events?topics=queue,called"
	sleep 0.3
	kiosk_take A
	kiosk_take A
	wait_text "$TUI_DIR/s1" '"waiting":2' &&
		[ "$(grep -c '^event: queue' "$TUI_DIR/s1")" = 2 ] &&
		grep -qE '^id: [0-9]+-[0-9]+\.[0-9]+$' "$TUI_DIR/s1" &&
		grep -q '^data: {"event":"queue","service":"A","waiting":1' "$TUI_DIR/s1"
}

resume_sends_only_what_followed() {
	local first
	first=$(grep '^id:' "$TUI_DIR/s1" | head -1 | cut -c5-)
	[ -n "$first" ] || return 1
	stream "$TUI_DIR/s2" 1 -H "Last-Event-ID: $first" "$API/sites/small/events?topics=queue"
	wait_streams
	[ "$(grep -c '^event: queue' "$TUI_DIR/s2")" = 1 ] && grep -q '"waiting":2' "$TUI_DIR/s2" &&
		! grep -q '"waiting":1' "$TUI_DIR/s2" && ! grep -q '^event: reset' "$TUI_DIR/s2"
}

unknown_id_gets_reset() {
	stream "$TUI_DIR/s3" 1 -H "Last-Event-ID: 1-0.1" "$API/sites/small/events"
	wait_streams
	grep -q '^event: reset' "$TUI_DIR/s3"
}

ticket_topic_staff_only() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$API/sites/small/events?topics=ticket")" = 403 ]
}

ticket_stream_ahead_falls_then_window() {
	local mgr
	mgr=$(curl -s -X POST -H "$J" -d '{"role":"manager","user":"m01","password":"manager123","site":"small"}' "$API/session" |
		sed -n 's/.*"session":"\([A-Za-z0-9_-]*\)".*/\1/p')
	stream "$TUI_DIR/t" 8 "$API/sites/small/tickets/A002/events"
	wait_text "$TUI_DIR/t" '"ahead":1' || return 1
	curl -s -b "$TUI_DIR/jar" -X DELETE "$API/sites/small/tickets/A001" >/dev/null
	wait_text "$TUI_DIR/t" '"ahead":0' || return 1
	QHALL_PASSWORD=clerk123 qc --clerk c01 --window 1 call_next >/dev/null 2>&1 || return 1
	wait_text "$TUI_DIR/t" '"state":"called"' && grep -q '"window":1' "$TUI_DIR/t" && [ -n "$mgr" ]
}

streams_limited_per_address() {
	stream "$TUI_DIR/l1" 3 "$API/sites/small/events"
	stream "$TUI_DIR/l2" 3 "$API/sites/small/events"
	stream "$TUI_DIR/l3" 3 "$API/sites/small/events"
	sleep 0.5
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$API/sites/small/events")" = 429 ]
}

# A resume by a qserver that never read the entry recording the learnt times the resumed
# events name (it started after them): it reads that entry, and tells what the live stream told.
resume_reads_the_entry_its_events_name() {
	stream "$TUI_DIR/r1" 3 "$API/sites/small/events?topics=queue"
	sleep 0.3
	kiosk_take B
	kiosk_take B
	wait_text "$TUI_DIR/r1" '"service":"B","waiting":2' || return 1
	wait_streams
	local from live resumed
	from=$(grep '^id:' "$TUI_DIR/r1" | head -1 | cut -c5-)
	live=$(grep '^data: ' "$TUI_DIR/r1" | tail -1)
	stop_qserver
	start_http_qserver --sse-per-addr 3 || return 1
	stream "$TUI_DIR/r2" 1 -H "Last-Event-ID: $from" "$API/sites/small/events?topics=queue"
	wait_streams
	resumed=$(grep '^data: ' "$TUI_DIR/r2" | head -1)
	grep -q '"ewt":[1-9]' <<<"$live" && [ "$live" = "$resumed" ] && ! grep -q '^event: reset' "$TUI_DIR/r2"
}

# A resume whose entries name an entry twice, with 600 sets of other services recorded between
# them (never published, so qserver reads them only for the resume): the sets read push the
# named one out of what qserver keeps, and the second entry naming it has it read again: every
# event comes, with no reset.
resume_reads_a_named_entry_again_after_it_was_pushed_out() {
	local rc="redis-cli -s $REDIS_SOCK" x from
	x=$($rc XADD 'q:{small}:events' '*' data 'L,B,|300 90000 40')
	from=$($rc XADD 'q:{small}:events' '*' data 'q,B,5,60,5,30,90')
	$rc XADD 'q:{small}:events' '*' data "q,B,11,n0 0 1||#1|4|@$x" >/dev/null
	$rc EVAL "for i = 1, 600 do redis.call('XADD', KEYS[1], '*', 'data', 'L,S' .. i .. ',|' .. (29 + i)) end" \
		1 'q:{small}:events' >/dev/null
	$rc XADD 'q:{small}:events' '*' data "$(printf 'q,A,77,60,77,30,90\nq,B,12,n0 0 1||#1|4|@%s' "$x")" >/dev/null
	stream "$TUI_DIR/r3" 2 -H "Last-Event-ID: $from.1" "$API/sites/small/events?topics=queue"
	wait_streams
	grep -q '"service":"B","waiting":11' "$TUI_DIR/r3" && grep -q '"service":"A","waiting":77' "$TUI_DIR/r3" &&
		grep -q '"service":"B","waiting":12' "$TUI_DIR/r3" && ! grep -q '^event: reset' "$TUI_DIR/r3"
}

PORT=$(free_port)
start_redis || exit 1
start_http_qserver --sse-per-addr 3 || exit 1
curl -s -c "$TUI_DIR/jar" -X POST -H "$J" -d '{"role":"kiosk","token":"kiosk123","site":"small"}' "$API/session" >/dev/null
check "a site's stream sends each event with its stream id" site_stream_sends_queue_events_with_ids
check "Last-Event-ID resumes after that event, and only after it" resume_sends_only_what_followed
check "an id the stream no longer keeps gets reset" unknown_id_gets_reset
check "the ticket topic is for staff sessions" ticket_topic_staff_only
check "a ticket's stream shows ahead falling, then the call to its window" ticket_stream_ahead_falls_then_window
wait_streams
check "event streams are limited per address" streams_limited_per_address
wait_streams
check "a resume reads the entry its events name and tells what the live stream told" resume_reads_the_entry_its_events_name
wait_streams
check "a resume reads a named entry again after the sets read since pushed it out" resume_reads_a_named_entry_again_after_it_was_pushed_out
wait_streams
tui_finish
