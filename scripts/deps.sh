#!/bin/sh
# Checks every library and command qhall needs; installs the missing ones with apt-get when
# run as root, and otherwise prints the exact command to run.
set -u

# pkg-config module and the Debian package that provides it.
MODULES="libevent:libevent-dev hiredis:libhiredis-dev libcjson:libcjson-dev ncursesw:libncurses-dev cmocka:libcmocka-dev libcrypt:libcrypt-dev"
# command and the Debian package that provides it.
COMMANDS="pkg-config:pkg-config cc:gcc make:make redis-server:redis-server redis-cli:redis-tools tmux:tmux espeak-ng:espeak-ng clang:clang python3:python3 curl:curl openssl:openssl chromium:chromium chromedriver:chromium-driver"
# files and the Debian package that provides them. nginx: tests/web/test_nginx_conf.sh checks
# packaging/nginx/qhall.conf with nginx -t. The browser tests (tests/browser) run Debian's
# selenium with Debian's python3, and need a CJK font so that Chinese does not render as boxes
# in their screenshots.
FILES="/usr/share/zoneinfo/Asia/Shanghai:tzdata /usr/sbin/nginx:nginx-light /usr/lib/python3/dist-packages/selenium:python3-selenium /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc:fonts-noto-cjk"

missing=""
for pair in $COMMANDS; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
for pair in $FILES; do
	[ -e "${pair%%:*}" ] || missing="$missing ${pair#*:}"
done
# The libFuzzer runtime of the default clang, for tests/fuzz (make fuzz, and make test's corpus runs).
if ! command -v clang >/dev/null 2>&1 ||
	[ ! -e "$(clang -print-file-name="libclang_rt.fuzzer-$(uname -m).a")" ]; then
	missing="$missing libclang-rt-dev"
fi
for pair in $MODULES; do
	if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists "${pair%%:*}"; then
		missing="$missing ${pair#*:}"
	fi
done

[ -z "$missing" ] && exit 0
missing=$(echo $missing | tr ' ' '\n' | sort -u | tr '\n' ' ')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing $missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || { echo "deps: apt-get update failed" >&2; exit 1; }
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
		echo "deps: apt-get install $missing failed" >&2; exit 1; }
	exit 0
fi
echo "deps: missing packages. Run:" >&2
echo "  sudo apt-get install -y $missing" >&2
exit 1
