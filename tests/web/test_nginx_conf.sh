#!/bin/bash
# packaging/nginx/qhall.conf is a configuration nginx accepts (nginx -t), with a throwaway
# certificate in place of the real one; and, proxying to a real qserver, the API and an event
# stream pass through it while /metrics does not. Skipped when nginx is not installed
# (scripts/deps.sh installs nginx-light).
source "$(dirname "$0")/lib.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
CONF="$ROOT/packaging/nginx/qhall.conf"
NGINX_DIR="$TUI_DIR/nginx"
NGINX_PID=""

# Writes nginx.conf around a copy of qhall.conf: its certificate made here, its upstream the
# test's qserver, its ports free loopback ones; prints the HTTPS port.
make_config() {
	mkdir -p "$NGINX_DIR/logs" &&
		openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=qhall.test \
			-keyout "$NGINX_DIR/key.pem" -out "$NGINX_DIR/cert.pem" >/dev/null 2>&1 || return 1
	TLS_PORT=$(free_port)
	PLAIN_PORT=$(free_port)
	sed -e "s|/etc/ssl/certs/qhall.example.gov.cn.crt|$NGINX_DIR/cert.pem|" \
		-e "s|/etc/ssl/private/qhall.example.gov.cn.key|$NGINX_DIR/key.pem|" \
		-e "s|server 10.0.0.11:8080|server 127.0.0.1:$HTTP_PORT|" \
		-e "s|server 10.0.0.12:8080|server 127.0.0.1:$(free_port)|" \
		-e "s|listen 443 ssl http2;|listen 127.0.0.1:$TLS_PORT ssl http2;|" \
		-e "s|listen 80;|listen 127.0.0.1:$PLAIN_PORT;|" \
		-e '/listen \[::\]/d' "$CONF" >"$NGINX_DIR/qhall.conf"
	cat >"$NGINX_DIR/nginx.conf" <<EOF
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/logs/error.log;
daemon off;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $NGINX_DIR/body;
    proxy_temp_path $NGINX_DIR/proxy;
    include $NGINX_DIR/qhall.conf;
}
EOF
}

packaged_config_accepted() {
	make_config && "$NGINX" -t -q -e "$NGINX_DIR/logs/error.log" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf"
}

start_nginx() {
	"$NGINX" -e "$NGINX_DIR/logs/error.log" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" &
	NGINX_PID=$!
	for _ in $(seq 100); do
		curl -sk -o /dev/null "https://127.0.0.1:$TLS_PORT/api/v1/sites" && return 0
		sleep 0.05
	done
	return 1
}

# The one qserver up, the other address down: nginx passes the GET over to the live one.
api_through_proxy() {
	for _ in 1 2 3 4; do
		curl -sk "https://127.0.0.1:$TLS_PORT/api/v1/sites/small/services" | grep -q '"ok":true' || return 1
	done
}

events_through_proxy() {
	curl -skN --max-time 2 "https://127.0.0.1:$TLS_PORT/api/v1/sites/small/events" >"$TUI_DIR/sse" 2>/dev/null
	grep -q '^retry: 2000' "$TUI_DIR/sse"
}

metrics_not_through_proxy() {
	[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$TLS_PORT/metrics")" = 404 ] &&
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/metrics")" = 200 ]
}

if [ ! -x "$NGINX" ] || ! command -v openssl >/dev/null; then
	echo "# skipped: nginx or openssl is not installed (scripts/deps.sh installs nginx-light)"
	check "skipped without nginx" true
	tui_finish
	exit $?
fi
# lib.sh's clean-up on exit, and nginx's.
trap '[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null; [ -n "$QSERVER_PID" ] && kill "$QSERVER_PID" 2>/dev/null; [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null' EXIT
PORT=$(free_port)
start_redis || exit 1
start_http_qserver --trust-proxy 127.0.0.1 || exit 1
check "nginx -t accepts packaging/nginx/qhall.conf" packaged_config_accepted
check "nginx starts with it" start_nginx
check "the API passes through, the dead qserver passed over" api_through_proxy
check "an event stream passes through unbuffered" events_through_proxy
check "/metrics is not served through the proxy" metrics_not_through_proxy
[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
tui_finish
