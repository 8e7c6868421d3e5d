#!/bin/bash
# qserver's command line as an operator meets it: help, version, config errors that name the
# file and the place, --hash-password whose hash then logs a manager in, and the embedded
# Redis of `make run` (started, used, stopped with qserver).
source "$(dirname "$0")/lib.sh"

out="$TUI_DIR/out"

# True when qserver --help exits 0 and shows the options.
help_works() {
	"$BUILD/qserver" --help >"$out" 2>&1 && grep -q -- '--config FILE' "$out" && grep -q -- '--redis' "$out"
}

# True when --version prints the version and protocol.
version_works() {
	"$BUILD/qserver" --version | grep -qE '^qserver [0-9]+\.[0-9]+\.[0-9]+ \(protocol 2\)$'
}

# True when a broken config is refused with the file, the place and the reason.
config_error_is_placed() {
	sed 's/"prefix": "B"/"prefix": "b1"/' "$ROOT/tests/data/small.json" >"$TUI_DIR/bad.json"
	! "$BUILD/qserver" --config "$TUI_DIR/bad.json" --redis "unix:$REDIS_SOCK" >"$out" 2>&1 &&
		grep -q "bad.json: services\[1\].prefix" "$out"
}

# True when a missing config file is named in the error.
missing_config_is_named() {
	! "$BUILD/qserver" --config "$TUI_DIR/nope.json" >"$out" 2>&1 && grep -q "nope.json" "$out"
}

# True when an unknown option is refused with the usage.
bad_option_refused() {
	! "$BUILD/qserver" --config x --frobnicate >"$out" 2>&1 && grep -q usage "$out"
}

# True when a hash made by --hash-password logs the manager in and a wrong password does not.
hash_password_logs_in() {
	local hash
	hash=$(printf 's3cret-Passw0rd\ns3cret-Passw0rd\n' | "$BUILD/qserver" --hash-password) || return 1
	case "$hash" in '$'*) ;; *) return 1 ;; esac
	# The config holds only the hash.
	sed "s|\"id\": \"m01\", \"name\": \"周建国\", \"role\": \"manager\", \"password_hash\": \"[^\"]*\"|\"id\": \"m01\", \"name\": \"周建国\", \"role\": \"manager\", \"password_hash\": \"$hash\"|" \
		"$ROOT/tests/data/small.json" >"$TUI_DIR/hashed.json"
	grep -qF "$hash" "$TUI_DIR/hashed.json" || return 1
	stop_qserver
	CONFIG="$TUI_DIR/hashed.json" start_qserver || return 1
	QHALL_PASSWORD=s3cret-Passw0rd qc --manager m01 ping >/dev/null || return 1
	! QHALL_PASSWORD=manager123 qc --manager m01 ping >/dev/null 2>&1
}

# True when two different passwords are refused.
hash_password_mismatch_refused() {
	! printf 'one\ntwo\n' | "$BUILD/qserver" --hash-password >/dev/null 2>&1
}

# True when qserver without --redis starts its own Redis, keeps a ticket across a restart
# (AOF), and stops its Redis when it stops.
embedded_redis_lifecycle() {
	local state="$TUI_DIR/state" port pid
	port=$(free_port)
	"$BUILD/qserver" --config "$ROOT/tests/data/small.json" --state "$state" --listen "127.0.0.1:$port" \
		--log-level warn >>"$TUI_DIR/embedded.log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do "$BUILD/qcli" --server "127.0.0.1:$port" services >/dev/null 2>&1 && break; sleep 0.05; done
	QHALL_TOKEN=kiosk123 "$BUILD/qcli" --server "127.0.0.1:$port" --kiosk take service=C >"$out" || return 1
	grep -q '"number":"C001"' "$out" || return 1
	[ -S "$state/redis.sock" ] || return 1
	kill "$pid" && wait "$pid" || return 1
	# Its Redis is gone with it.
	! redis-cli -s "$state/redis.sock" ping >/dev/null 2>&1 || return 1
	"$BUILD/qserver" --config "$ROOT/tests/data/small.json" --state "$state" --listen "127.0.0.1:$port" \
		--log-level warn >>"$TUI_DIR/embedded.log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do "$BUILD/qcli" --server "127.0.0.1:$port" services >/dev/null 2>&1 && break; sleep 0.05; done
	"$BUILD/qcli" --server "127.0.0.1:$port" ticket number=C001 >"$out"
	kill "$pid" && wait "$pid"
	grep -q '"state":"waiting"' "$out"
}

# True when --always-open takes tickets outside the config's hours, and without it take is closed.
always_open_ignores_hours() {
	local friday_night=$((HALL_T0 + 11 * 3600))
	stop_qserver
	CONFIG="$ROOT/tests/data/hours.json" start_qserver || return 1
	qc clock set=$friday_night >/dev/null
	qc --kiosk take service=A >"$out" 2>&1
	grep -q '"code":"closed"' "$out" || return 1
	stop_qserver
	"$BUILD/qserver" --config "$ROOT/tests/data/hours.json" --redis "unix:$REDIS_SOCK" --listen "127.0.0.1:$PORT" \
		--test-clock --clock-start "$friday_night" --always-open --log-level warn >>"$TUI_DIR/qserver.log" 2>&1 &
	QSERVER_PID=$!
	for _ in $(seq 200); do qc services >/dev/null 2>&1 && break; sleep 0.05; done
	qc --kiosk take service=A >"$out" 2>&1
	grep -q '"number":"A001"' "$out"
}

# True when the embedded Redis rewrites its AOF at the day change and not on its own.
embedded_redis_rewrites_at_midnight() {
	local state="$TUI_DIR/state-night" port pid rewrites
	port=$(free_port)
	"$BUILD/qserver" --config "$ROOT/tests/data/small.json" --state "$state" --listen "127.0.0.1:$port" \
		--test-clock --clock-start "$HALL_T0" --log-level warn >>"$TUI_DIR/embedded.log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do "$BUILD/qcli" --server "127.0.0.1:$port" services >/dev/null 2>&1 && break; sleep 0.05; done
	redis-cli -s "$state/redis.sock" config get auto-aof-rewrite-percentage | grep -qx 0 || { kill "$pid"; wait "$pid"; return 1; }
	"$BUILD/qcli" --server "127.0.0.1:$port" clock advance=86400 >/dev/null
	for _ in $(seq 100); do
		rewrites=$(redis-cli -s "$state/redis.sock" info persistence | tr -d '\r' | sed -n 's/^aof_rewrites://p')
		[ "${rewrites:-0}" -ge 1 ] && break
		sleep 0.05
	done
	kill "$pid" && wait "$pid"
	[ "${rewrites:-0}" -ge 1 ]
}

# True when qserver serves from a Redis reached over TCP (--redis HOST:PORT).
redis_over_tcp_works() {
	local rport qport rpid qpid rc=1
	rport=$(free_port)
	qport=$(free_port)
	redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$TUI_DIR" \
		--logfile "$TUI_DIR/redis-tcp.log" --daemonize no >/dev/null 2>&1 &
	rpid=$!
	for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
	"$BUILD/qserver" --config "$ROOT/tests/data/small.json" --redis "localhost:$rport" \
		--listen "127.0.0.1:$qport" --log-level warn >>"$TUI_DIR/tcp.log" 2>&1 &
	qpid=$!
	for _ in $(seq 200); do "$BUILD/qcli" --server "127.0.0.1:$qport" services >/dev/null 2>&1 && break; sleep 0.05; done
	QHALL_TOKEN=kiosk123 "$BUILD/qcli" --server "127.0.0.1:$qport" --kiosk take service=B >"$out" 2>&1 &&
		grep -q '"number":"B001"' "$out" && redis-cli -p "$rport" exists 'q:{small}:t:'"$(sed -n 's/.*"id":"\([0-9]*-B001\)".*/\1/p' "$out")" | grep -qx 1 && rc=0
	if [ $rc != 0 ]; then
		echo "# redis port $rport, qserver port $qport; take answered: $(cat "$out")"
		tail -n 5 "$TUI_DIR/tcp.log" "$TUI_DIR/redis-tcp.log" 2>/dev/null | sed 's/^/# /'
	fi
	kill "$qpid" "$rpid" 2>/dev/null
	wait "$qpid" "$rpid" 2>/dev/null
	return $rc
}

# True when a Redis host name is refused with the reason (hiredis would resolve it blocking).
redis_host_name_refused() {
	! "$BUILD/qserver" --config "$ROOT/tests/data/small.json" --redis redis.example:6379 >"$out" 2>&1 &&
		grep -q "give Redis's IP address" "$out"
}

start_redis || exit 1
start_qserver || exit 1
check "qserver --help shows the options" help_works
check "qserver --version names version and protocol" version_works
check "a config error names the file and the place" config_error_is_placed
check "a missing config file is named" missing_config_is_named
check "an unknown option is refused with the usage" bad_option_refused
check "--hash-password makes a hash that logs in" hash_password_logs_in
check "--hash-password refuses two different passwords" hash_password_mismatch_refused
check "--always-open takes tickets outside the hall's hours" always_open_ignores_hours
check "--redis with a host name is refused with the reason" redis_host_name_refused
check "--redis HOST:PORT serves from a Redis over TCP" redis_over_tcp_works
check "the embedded Redis keeps tickets across restarts and stops with qserver" embedded_redis_lifecycle
check "the embedded Redis rewrites its AOF at the day change, not by itself" embedded_redis_rewrites_at_midnight
tui_finish
