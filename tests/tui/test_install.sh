#!/bin/bash
# `make install` as a packager runs it (DESTDIR and PREFIX): the programs, web/ when present,
# the docs, example configs and the systemd units with their paths filled in; and
# `systemd-analyze verify` passes on the units when systemd-analyze is there.
source "$(dirname "$0")/lib.sh"

DEST="$TUI_DIR/dest"
out="$TUI_DIR/out"
BUILD_REL=$(realpath --relative-to="$ROOT" "$BUILD")

# True when make install puts every program, doc, example and unit under DESTDIR/PREFIX.
install_puts_everything() {
	make -s -C "$ROOT" install BUILD="$BUILD_REL" DESTDIR="$DEST" PREFIX=/opt/qhall >"$out" 2>&1 || { cat "$out"; return 1; }
	local f
	for f in bin/qserver bin/qcli bin/counter-client bin/display bin/printer \
		share/doc/qhall/operations.md share/qhall/examples/baoan.json \
		share/qhall/examples/qserver.env.example share/qhall/examples/qhall.conf lib/systemd/system/qserver@.service \
		lib/systemd/system/qhall-display@.service; do
		[ -e "$DEST/opt/qhall/$f" ] || { echo "# missing $f"; return 1; }
	done
	[ ! -d "$ROOT/web" ] || [ -d "$DEST/opt/qhall/share/qhall/web" ] || { echo "# web/ not installed"; return 1; }
	"$DEST/opt/qhall/bin/qserver" --version | grep -q '^qserver '
}

# True when the installed units name the installed paths and have no placeholder left.
units_have_paths() {
	local u="$DEST/opt/qhall/lib/systemd/system/qserver@.service"
	grep -q '^ExecStart=/opt/qhall/bin/qserver --config /etc/qhall/%i.json' "$u" &&
		! grep -q '@[A-Z]*@' "$DEST"/opt/qhall/lib/systemd/system/*.service
}

# True when systemd-analyze verify accepts both units (instances of the templates, with the
# installed programs at their paths); skipped with a message when systemd-analyze is missing.
units_verify() {
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		echo "# systemd-analyze not installed (Debian package systemd): unit check skipped"
		return 0
	fi
	local dir="$TUI_DIR/units"
	mkdir -p "$dir"
	sed "s|/opt/qhall/bin/|$DEST/opt/qhall/bin/|g" "$DEST/opt/qhall/lib/systemd/system/qserver@.service" >"$dir/qserver@small.service"
	sed "s|/opt/qhall/bin/|$DEST/opt/qhall/bin/|g" "$DEST/opt/qhall/lib/systemd/system/qhall-display@.service" >"$dir/qhall-display@tty1.service"
	SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$dir/qserver@small.service" "$dir/qhall-display@tty1.service" >"$out" 2>&1
	local rc=$?
	# Units it pulls in from the host (getty@, network-online) may be absent in a container.
	if grep -v -e 'getty@' -e 'network-online' -e 'systemd-user-sessions' -e '^$' "$out" | grep -q .; then
		sed 's/^/# /' "$out"
		return 1
	fi
	[ "$rc" = 0 ]
}

# True when the check above would see a unit's mistake: a misspelt option is reported.
units_verify_catches_mistakes() {
	command -v systemd-analyze >/dev/null 2>&1 || return 0
	sed 's/^NoNewPrivileges=yes/NoNewPrivilegez=yes/' "$TUI_DIR/units/qserver@small.service" >"$TUI_DIR/units/qserver@bad.service"
	systemd-analyze verify --man=no "$TUI_DIR/units/qserver@bad.service" 2>&1 | grep -q NoNewPrivilegez
}

check "make install puts programs, docs, examples and units under DESTDIR and PREFIX" install_puts_everything
check "the installed units name the installed paths" units_have_paths
check "systemd-analyze verify accepts the units" units_verify
check "systemd-analyze verify reports a misspelt option" units_verify_catches_mistakes
tui_finish
