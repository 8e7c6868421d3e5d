#!/bin/bash
# "Your turn is near" notifications (PROTOCOL.md v2, docs/notifications.md) against a local
# receiver (tests/notify/receiver.py): take with notify, the signed body POSTed to notify_url
# when the ticket first has at most N ahead (or S seconds) and when it is called, a retry
# after the receiver's 500, exactly one near and one called per ticket, the notify op with the
# ticket's secret, a receiver that never answers does not stall qserver, a hall without
# notify_url sends nothing, and two qservers on one Redis deliver each event once.
source "$(dirname "$0")/lib.sh"

LOG_LEVEL=info
out="$TUI_DIR/out"
NOTIFY_SECRET="test-notify-secret-0123456789"
RECEIVER_PIDS=""
QSERVER2_PID=""
trap 'kill $RECEIVER_PIDS $QSERVER2_PID 2>/dev/null; [ -n "$QSERVER_PID" ] && kill $QSERVER_PID 2>/dev/null; [ -n "$REDIS_PID" ] && kill $REDIS_PID 2>/dev/null' EXIT

# Starts a receiver: start_receiver NAME [receiver options]; sets RPORT; its log is $TUI_DIR/NAME.log.
start_receiver() {
	local name=$1
	shift
	: >"$TUI_DIR/$name.log"
	python3 "$ROOT/tests/notify/receiver.py" "$TUI_DIR/$name.port" "$TUI_DIR/$name.log" "$@" &
	RECEIVER_PIDS="$RECEIVER_PIDS $!"
	for _ in $(seq 100); do
		[ -s "$TUI_DIR/$name.port" ] && RPORT=$(cat "$TUI_DIR/$name.port") && return 0
		sleep 0.05
	done
	return 1
}

# Writes a hall config sending to port $1 (none when empty) as $TUI_DIR/hall-$1.json; prints its path.
hall_config() {
	local f="$TUI_DIR/hall-${1:-none}.json" add='"remote_take": true,'
	[ -n "$1" ] && add="$add \"notify_url\": \"http://127.0.0.1:$1/hook?hall=small\", \"notify_secret\": \"$NOTIFY_SECRET\","
	sed "s|\"tz\": \"Asia/Shanghai\",|\"tz\": \"Asia/Shanghai\", $add|" "$ROOT/tests/data/small.json" >"$f"
	echo "$f"
}

# Sends NDJSON requests to a qserver port and prints one reply line per request: nd PORT LINE...
nd() {
	local port=$1 i line
	shift
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf '%s\n' "$@" >&3
	for ((i = 0; i < $#; i++)); do
		IFS= read -r -t 5 line <&3 || break
		echo "$line"
	done
	exec 3<&-
}

KIOSK='{"op":"hello","role":"kiosk","token":"kiosk123"}'

# A kiosk take of SERVICE with extra JSON members: take PORT SERVICE ',"notify":{...}'; prints the reply.
take() {
	nd "$1" "$KIOSK" "{\"op\":\"take\",\"service\":\"$2\"$3}" | tail -n 1
}

# Prints the receiver log NAME as lines "status event ticket ahead ewt window ref path sig-ok",
# checking every signature with python3's hmac over the body exactly as received.
deliveries() {
	python3 - "$TUI_DIR/$1.log" "$NOTIFY_SECRET" <<'EOF'
import hashlib, hmac, json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    b = json.loads(d["body"])
    want = "sha256=" + hmac.new(sys.argv[2].encode(), d["body"].encode(), hashlib.sha256).hexdigest()
    keys = ",".join(b.keys())
    print(d["status"], b["event"], b["ticket"], b["ahead"], b["ewt"], b["window"], b["ref"], d["path"],
          "sig-ok" if hmac.compare_digest(want, d["signature"]) else "sig-bad", b["site"], b["number"], keys)
EOF
}

# Waits until receiver NAME logged at least N POSTs (up to 15 s).
wait_posts() {
	for _ in $(seq 300); do
		[ "$(wc -l <"$TUI_DIR/$1.log")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

FIELDS=site,ticket,number,ref,ahead,ewt,window,event

near_after_the_call_that_leaves_one_ahead() {
	take "$PORT" A '' >/dev/null && take "$PORT" A '' >/dev/null &&
		take "$PORT" A ',"ref":"13800000001","notify":{"ahead":1}' >"$out" && grep -q '"number":"A003"' "$out" || return 1
	! grep -q notify "$out" || return 1 # not in the public Ticket object
	sleep 1
	[ ! -s "$TUI_DIR/r1.log" ] || return 1 # two ahead: nothing yet
	qc --clerk c01 --window 1 call_next >/dev/null 2>&1 && wait_posts r1 1
}

retried_after_a_500_with_a_signed_body() {
	wait_posts r1 2 || return 1
	deliveries r1 >"$out"
	sed -n 1p "$out" | grep -qx "500 near 20261127-A003 1 [1-9][0-9]* None 13800000001 /hook?hall=small sig-ok small A003 $FIELDS" &&
		[ "$(sed -n 2p "$out" | cut -d' ' -f2-)" = "$(sed -n 1p "$out" | cut -d' ' -f2-)" ] && sed -n 2p "$out" | grep -q '^204 ' 
}

called_once_and_near_once() {
	qc --clerk c01 --window 1 call_next >/dev/null 2>&1 && qc --clerk c01 --window 1 call_next >/dev/null 2>&1 &&
		wait_posts r1 3 && qc --clerk c01 --window 1 recall >/dev/null 2>&1 || return 1
	sleep 1.5
	deliveries r1 >"$out"
	[ "$(wc -l <"$out")" = 3 ] &&
		[ "$(sed -n 3p "$out")" = "204 called 20261127-A003 0 0 1 13800000001 /hook?hall=small sig-ok small A003 $FIELDS" ]
}

near_at_once_when_already_within_the_mark() {
	take "$PORT" C ',"notify":{"ewt":86400}' >"$out" && grep -q '"number":"C001"' "$out" && wait_posts r1 4 &&
		deliveries r1 | sed -n 4p | grep -q '^204 near 20261127-C001 .* None None /hook?hall=small sig-ok'
}

bad_notify_refused() {
	local n before
	before=$(redis-cli -s "$REDIS_SOCK" GET 'q:{small}:seq:2026-11-27:A')
	for n in '"x"' '{}' '{"ahead":-1}' '{"ahead":1.5}' '{"ewt":86401}' '{"ahead":1,"sms":true}'; do
		take "$PORT" A ",\"notify\":$n" >"$out"
		grep -q '"code":"bad_request"' "$out" && grep -q '"field":"notify"}' "$out" || return 1
	done
	[ "$before" = "$(redis-cli -s "$REDIS_SOCK" GET 'q:{small}:seq:2026-11-27:A')" ] # no ticket taken
}

# The notify op and its route, with the ticket's secret.
notify_op_with_the_secret() {
	curl -s "$API/sites/small" | grep -q '"notify":true' || return 1
	curl -s -X POST -H "$J" -d '{"service":"B","channel":"web"}' "$API/sites/small/tickets" >"$out"
	ID=$(sed -n 's/.*"ticket":{"id":"\([^"]*\)".*/\1/p' "$out")
	SECRET=$(sed -n 's/.*"secret":"\([A-Za-z0-9_-]*\)".*/\1/p' "$out")
	[ -n "$ID" ] && [ -n "$SECRET" ] || return 1
	local code
	code=$(curl -s -o "$out" -w '%{http_code}' -X POST -H "$J" -d '{"notify":{"ahead":3},"ref":"13700000007"}' "$API/sites/small/tickets/$ID/notify?k=$SECRET")
	[ "$code" = 200 ] && grep -q '"notify":{"ahead":3}' "$out" && grep -q "\"id\":\"$ID\"" "$out" || return 1
	! grep -q 13700000007 "$out" || return 1 # the phone is never shown
	curl -s "$API/sites/small/tickets/$ID?k=$SECRET" | grep -q '"notify":{"ahead":3}' &&
		! curl -s "$API/sites/small/tickets/$ID" | grep -q notify || return 1
	# few enough ahead already: the near goes to the phone given here
	for _ in $(seq 100); do grep -q "$ID.*13700000007" "$TUI_DIR/r1.log" && return 0; sleep 0.05; done
	return 1
}

notify_op_refusals() {
	[ "$(curl -s -o "$out" -w '%{http_code}' -X POST -H "$J" -d '{"notify":{"ahead":3}}' "$API/sites/small/tickets/$ID/notify")" = 401 ] &&
		grep -q '"code":"unauthenticated"' "$out" &&
		[ "$(curl -s -o "$out" -w '%{http_code}' -X POST -H "$J" -d '{"notify":{"ahead":3}}' "$API/sites/small/tickets/$ID/notify?k=WRONGwrongWRONG1")" = 401 ] &&
		[ "$(curl -s -o "$out" -w '%{http_code}' -X POST -H "$J" -d '{}' "$API/sites/small/tickets/$ID/notify?k=$SECRET")" = 400 ] &&
		[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$API/sites/small/tickets/$ID?k=$SECRET")" = 200 ] &&
		[ "$(curl -s -o "$out" -w '%{http_code}' -X POST -H "$J" -d '{"notify":{"ahead":3}}' "$API/sites/small/tickets/$ID/notify?k=$SECRET")" = 409 ] &&
		grep -q '"code":"conflict"' "$out" &&
		! grep -qF "$NOTIFY_SECRET" "$TUI_DIR/qserver.log"
}

# The counts in /metrics and those a qserver logs at its end are what the receiver saw.
deliveries_counted() {
	local ok failed
	ok=$(grep -c '"status": 204' "$TUI_DIR/r1.log")
	failed=$(grep -c '"status": 500' "$TUI_DIR/r1.log")
	curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$out"
	grep -qx "qhall_webhook_deliveries_total{result=\"delivered\"} $ok" "$out" &&
		grep -qx "qhall_webhook_deliveries_total{result=\"retried\"} $failed" "$out" &&
		grep -qx 'qhall_webhook_deliveries_total{result="failed"} 0' "$out" || return 1
	stop_qserver
	[ "$ok" -ge 4 ] && grep -q "notify: $ok delivered, $failed retried, 0 given up, 0 dropped under way" "$TUI_DIR/qserver.log"
}

# A receiver that never answers: the delivery waits on the loop, and qserver still answers.
hanging_receiver_does_not_stall() {
	start_receiver r2 --hang || return 1
	CONFIG=$(hall_config "$RPORT") start_http_qserver || return 1
	take "$PORT" C ',"notify":{"ahead":50}' | grep -q '"ok":true' && wait_posts r2 1 || return 1
	local i start
	for i in 1 2 3 4 5; do
		start=$(date +%s%N)
		qc ping >/dev/null || return 1
		[ $(($(date +%s%N) - start)) -lt 1000000000 ] || return 1
		take "$PORT" C '' | grep -q '"ok":true' || return 1
		sleep 0.3
	done
	[ "$(wc -l <"$TUI_DIR/r2.log")" = 1 ]
}

# A hall without notify_url refuses notify and sends nothing, though deliveries wait in Redis.
no_notify_url_no_delivery() {
	stop_qserver
	local before
	before=$(cat "$TUI_DIR"/r1.log "$TUI_DIR"/r2.log | wc -l)
	CONFIG=$(hall_config "") start_http_qserver || return 1
	take "$PORT" A ',"notify":{"ahead":5}' | grep -q '"message":"This hall sends no notifications (it has no notify_url).","field":"notify"' || return 1
	curl -s "$API/sites/small" | grep -q '"notify":false' || return 1
	qc --clerk c01 --window 1 call_next >/dev/null 2>&1 && qc --clerk c01 --window 1 call_next >/dev/null 2>&1 || return 1
	[ "$(redis-cli -s "$REDIS_SOCK" ZCARD 'q:{small}:nq')" -ge 1 ] || return 1
	sleep 2
	[ "$(cat "$TUI_DIR"/r1.log "$TUI_DIR"/r2.log | wc -l)" = "$before" ]
}

# Sends SIGHUP with the hall file $1 in place of the served one and waits for the reload.
reload_with() {
	local before
	before=$(grep -c 'reload: the new config' "$TUI_DIR/qserver.log")
	cp "$1" "$TUI_DIR/hall-none.json.new" && mv "$TUI_DIR/hall-none.json.new" "$TUI_DIR/hall-none.json"
	kill -HUP "$QSERVER_PID"
	for _ in $(seq 100); do
		[ "$(grep -c 'reload: the new config' "$TUI_DIR/qserver.log")" -gt "$before" ] && return 0
		sleep 0.05
	done
	return 1
}

# A reload that adds notify_url starts the deliveries without a restart; one that takes it
# away stops them.
notify_url_added_by_reload() {
	local plain
	plain="$TUI_DIR/plain.json"
	cp "$TUI_DIR/hall-none.json" "$plain"
	reload_with "$(hall_config "$R1_PORT")" || return 1
	curl -s "$API/sites/small" | grep -q '"notify":true' &&
		take "$PORT" B ',"ref":"13600000006","notify":{"ewt":86400}' | grep -q '"ok":true' || return 1
	for _ in $(seq 100); do grep -q 13600000006 "$TUI_DIR/r1.log" && break; sleep 0.05; done
	grep -q 13600000006 "$TUI_DIR/r1.log" && reload_with "$plain" &&
		take "$PORT" B ',"notify":{"ewt":86400}' | grep -q '"field":"notify"'
}

# Two qservers on one fresh Redis: each (ticket, event) reaches the receiver once.
two_qservers_deliver_each_event_once() {
	stop_qserver
	kill "$REDIS_PID" && wait "$REDIS_PID" 2>/dev/null
	rm -f "$REDIS_SOCK"
	start_redis || return 1
	start_receiver r3 --fail-first 1 || return 1
	local cfg port2
	cfg=$(hall_config "$RPORT")
	CONFIG=$cfg start_http_qserver || return 1
	port2=$(free_port)
	"$BUILD/qserver" --config "$cfg" --redis "unix:$REDIS_SOCK" --listen "127.0.0.1:$port2" --test-clock \
		--clock-start "$HALL_T0" --log-level warn >>"$TUI_DIR/qserver2.log" 2>&1 &
	QSERVER2_PID=$!
	for _ in $(seq 200); do "$BUILD/qcli" --server "127.0.0.1:$port2" ping >/dev/null 2>&1 && break; sleep 0.05; done
	# window 3 serves B only: B tickets wait for it alone (taken at one qserver: each has
	# its own test clock, and the queue follows the clock); both qservers deliver
	take "$PORT" B ',"notify":{"ahead":0}' | grep -q '"ok":true' &&
		take "$PORT" B ',"notify":{"ahead":0}' | grep -q '"ok":true' || return 1
	wait_posts r3 2 || return 1 # the first ticket's near: refused, then retried
	QHALL_PASSWORD=clerk123 "$BUILD/qcli" --server "127.0.0.1:$port2" --clerk c03 --window 3 call_next >/dev/null &&
		qc --clerk c03 --window 3 call_next >/dev/null || return 1
	wait_posts r3 5 || return 1
	sleep 2
	deliveries r3 >"$out"
	[ "$(grep -c '^204 ' "$out")" = 4 ] && [ "$(grep -c '^500 ' "$out")" = 1 ] &&
		[ "$(grep '^204 ' "$out" | awk '{print $2, $3}' | sort -u | wc -l)" = 4 ] &&
		[ "$(grep -c 'sig-ok' "$out")" = 5 ]
}

# A delivery still failing five minutes after its first attempt is given up, logged and
# counted (the first attempt's time is moved back in Redis rather than waited for).
gives_up_after_five_minutes() {
	stop_qserver
	kill $QSERVER2_PID 2>/dev/null && wait $QSERVER2_PID 2>/dev/null # it would deliver to its own receiver
	QSERVER2_PID=""
	start_receiver r4 --fail-first 1000 || return 1
	: >"$TUI_DIR/qserver.log"
	CONFIG=$(hall_config "$RPORT") start_http_qserver || return 1
	take "$PORT" C ',"notify":{"ewt":86400}' >"$out" || return 1
	local id
	id=$(sed -n 's/.*"ticket":{"id":"\([^"]*\)".*/\1/p' "$out")
	wait_posts r4 1 || return 1
	redis-cli -s "$REDIS_SOCK" HSET "q:{small}:nd:$id:near" since $(($(date +%s%3N) - 301000)) >/dev/null
	wait_posts r4 2 || return 1
	for _ in $(seq 100); do grep -q "gave up on $id:near after 2 attempts" "$TUI_DIR/qserver.log" && break; sleep 0.05; done
	grep -q "gave up on $id:near after 2 attempts" "$TUI_DIR/qserver.log" &&
		[ "$(redis-cli -s "$REDIS_SOCK" ZSCORE 'q:{small}:nq' "$id:near")" = "" ] || return 1
	sleep 2
	stop_qserver
	[ "$(wc -l <"$TUI_DIR/r4.log")" = 2 ] &&
		grep -q "notify: 0 delivered, 1 retried, 1 given up, 0 dropped under way" "$TUI_DIR/qserver.log"
}

# The example receiver (examples/notify-receiver) takes qserver's notifications and refuses a
# body whose signature (made here with openssl dgst) is wrong.
example_receiver_checks_signatures() {
	stop_qserver
	local eport body sig
	eport=$(free_port)
	QHALL_NOTIFY_SECRET=$NOTIFY_SECRET python3 "$ROOT/examples/notify-receiver/receiver.py" --listen "127.0.0.1:$eport" \
		>"$TUI_DIR/example.log" 2>&1 &
	RECEIVER_PIDS="$RECEIVER_PIDS $!"
	for _ in $(seq 100); do grep -q listening "$TUI_DIR/example.log" && break; sleep 0.05; done
	CONFIG=$(hall_config "$eport") start_http_qserver || return 1
	take "$PORT" A ',"ref":"13900000009","notify":{"ewt":86400}' | grep -q '"ok":true' || return 1
	for _ in $(seq 100); do grep -q "would send to 13900000009: A00[0-9]号：前面还有" "$TUI_DIR/example.log" && break; sleep 0.05; done
	grep -q "would send to 13900000009" "$TUI_DIR/example.log" || return 1
	body='{"site":"small","ticket":"20261127-A009","number":"A009","ref":"1","ahead":1,"ewt":60,"window":null,"event":"near"}'
	sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$NOTIFY_SECRET" | sed 's/^.*= //')
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Qhall-Signature: sha256=0123' -d "$body" "http://127.0.0.1:$eport/")" = 401 ] &&
		[ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Qhall-Signature: sha256=$sig" -d "$body" "http://127.0.0.1:$eport/")" = 204 ] &&
		grep -q "would send to 1: A009" "$TUI_DIR/example.log"
}

PORT=$(free_port)
start_redis || exit 1
start_receiver r1 --fail-first 1 || exit 1
R1_PORT=$RPORT
CONFIG=$(hall_config "$RPORT")
start_http_qserver || exit 1
check "near when a call leaves the ticket one ahead, not before" near_after_the_call_that_leaves_one_ahead
check "a 500 is retried; the body has the fields and a right signature" retried_after_a_500_with_a_signed_body
check "called once, and no second near or called after more calls and a recall" called_once_and_near_once
check "near at the take when the ticket is already within its mark" near_at_once_when_already_within_the_mark
check "a wrong notify is bad_request and takes no ticket" bad_notify_refused
check "notify with the ticket's secret; ticket shows it only with the secret" notify_op_with_the_secret
check "notify without or with a wrong secret, empty, or for a ticket not waiting is refused" notify_op_refusals
check "the deliveries, retries and give-ups are counted" deliveries_counted
check "a receiver that never answers does not stall qserver" hanging_receiver_does_not_stall
check "a hall without notify_url refuses notify and delivers nothing" no_notify_url_no_delivery
check "a reload that adds notify_url starts the deliveries, one that removes it stops them" notify_url_added_by_reload
check "two qservers on one Redis deliver each event once" two_qservers_deliver_each_event_once
check "a delivery failing for five minutes is given up, logged and counted" gives_up_after_five_minutes
check "the example receiver sends what is signed and refuses a wrong signature" example_receiver_checks_signatures
kill $RECEIVER_PIDS 2>/dev/null
tui_finish
