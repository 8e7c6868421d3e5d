#!/bin/bash
# Shared helpers of the terminal tests: a private redis-server and qserver on the small test
# hall, a private tmux server of fixed size, and polling of the screen instead of sleeping.
# A test sources this file, calls tui_start, then `check "name" command...` lines, then
# tui_finish. Output is TAP-like: "ok N - name" / "not ok N - name" (scripts/run-tests.sh counts them).
set -u

BUILD=${1:-${QHALL_BUILD:-build}}
BUILD=$(cd "$BUILD" && pwd)
ROOT=${QHALL_ROOT:-$(pwd)}
TUI_DIR=$(mktemp -d /tmp/qhall-tui-XXXXXX)
TMUX_SOCK="$TUI_DIR/tmux.sock"
REDIS_SOCK="$TUI_DIR/redis.sock"
HALL_T0=1795744800 # Friday 2026-11-27 10:00 Asia/Shanghai
QSERVER_PID=""
REDIS_PID=""
PORT=""
TESTS=0
FAILED=0

# Picks a loopback port nothing listens on (bash only: the CI machine may have no python).
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-), where clients own ports
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo $((20000 + RANDOM % 12000))
}

# Starts redis-server on a private socket and waits for it.
start_redis() {
	redis-server --port 0 --unixsocket "$REDIS_SOCK" --save '' --appendonly no --dir "$TUI_DIR" \
		--logfile "$TUI_DIR/redis.log" --daemonize no >/dev/null 2>&1 &
	REDIS_PID=$!
	for _ in $(seq 100); do
		redis-cli -s "$REDIS_SOCK" ping >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "redis-server did not start" >&2
	return 1
}

# Starts qserver on the small hall (CONFIG overrides; SITE names a site of a region config)
# and waits until it serves requests.
start_qserver() {
	[ -n "$PORT" ] || PORT=$(free_port)
	"$BUILD/qserver" --config "${CONFIG:-$ROOT/tests/data/small.json}" --redis "unix:$REDIS_SOCK" \
		--listen "127.0.0.1:$PORT" --test-clock --clock-start "$HALL_T0" --log-level warn \
		>>"$TUI_DIR/qserver.log" 2>&1 &
	QSERVER_PID=$!
	for _ in $(seq 200); do
		if "$BUILD/qcli" --server "127.0.0.1:$PORT" ${SITE:+--site "$SITE"} services >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	echo "qserver did not become ready" >&2
	tail -n 20 "$TUI_DIR/qserver.log" >&2
	return 1
}

# Stops qserver (SIGTERM) and waits for it.
stop_qserver() {
	[ -n "$QSERVER_PID" ] || return 0
	kill "$QSERVER_PID" 2>/dev/null
	wait "$QSERVER_PID" 2>/dev/null
	QSERVER_PID=""
}

# Runs qcli against the test server: qc [LOGIN] OP key=value...
qc() {
	QHALL_TOKEN=kiosk123 QHALL_PASSWORD=${QHALL_PASSWORD:-clerk123} "$BUILD/qcli" --server "127.0.0.1:$PORT" "$@"
}

# Starts Redis, qserver and a tmux server of COLS x ROWS (default 100x30).
tui_start() {
	start_redis || exit 1
	start_qserver || exit 1
	tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s t -x "${COLS:-100}" -y "${ROWS:-30}" "sleep 100000" || exit 1
	tmux -S "$TMUX_SOCK" set -g status off
}

# Runs a program in a new tmux window named NAME, full size: tui_run NAME command...
tui_run() {
	local name=$1
	shift
	tmux -S "$TMUX_SOCK" new-window -d -n "$name" "$*; sleep 100000"
}

# Prints the current screen of window NAME.
screen() {
	tmux -S "$TMUX_SOCK" capture-pane -p -t "t:$1"
}

# Sends keys to window NAME: keys NAME key...
keys() {
	local name=$1
	shift
	tmux -S "$TMUX_SOCK" send-keys -t "t:$name" "$@"
}

# Resizes the tmux session: resize COLS ROWS.
resize() {
	tmux -S "$TMUX_SOCK" resize-window -t t -x "$1" -y "$2" 2>/dev/null ||
		tmux -S "$TMUX_SOCK" set -g default-size "$1x$2"
}

# Waits until the screen of window NAME contains TEXT (fixed string), up to SECONDS (default 5).
wait_for() {
	local name=$1 text=$2 limit=${3:-5}
	local end=$((SECONDS + limit))
	while [ $SECONDS -le $end ]; do
		screen "$name" | grep -qF -- "$text" && return 0
		sleep 0.05
	done
	return 1
}

# Waits until the screen of window NAME no longer contains TEXT.
wait_gone() {
	local name=$1 text=$2 limit=${3:-5}
	local end=$((SECONDS + limit))
	while [ $SECONDS -le $end ]; do
		screen "$name" | grep -qF -- "$text" || return 0
		sleep 0.05
	done
	return 1
}

# Records one check: check "description" command args...; on failure the screens are shown.
check() {
	local desc=$1
	shift
	TESTS=$((TESTS + 1))
	if "$@"; then
		echo "ok $TESTS - $desc"
	else
		FAILED=$((FAILED + 1))
		echo "not ok $TESTS - $desc"
		for w in $(tmux -S "$TMUX_SOCK" list-windows -F '#W' 2>/dev/null); do
			echo "--- screen of $w:"
			screen "$w" | sed 's/^/# /'
		done
	fi
}

# Stops everything and exits non-zero if a check failed.
tui_finish() {
	tmux -S "$TMUX_SOCK" kill-server 2>/dev/null
	stop_qserver
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
	[ -n "${QHALL_KEEP_TEST_LOGS:-}" ] || rm -rf "$TUI_DIR"
	echo "1..$TESTS"
	[ "$FAILED" = 0 ]
}
trap 'tmux -S "$TMUX_SOCK" kill-server 2>/dev/null; [ -n "$QSERVER_PID" ] && kill $QSERVER_PID 2>/dev/null; [ -n "$REDIS_PID" ] && kill $REDIS_PID 2>/dev/null' EXIT
