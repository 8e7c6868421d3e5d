#!/bin/bash
# The pages' folder served over HTTP (WEB.md, Serving): files with their type, ETag and
# Cache-Control, 304 on a matching If-None-Match, no listing, no way out of the folder
# (.., encoded .., hidden files, a symbolic link), a page's path with its parameters served
# by its folder's index.html, and the display alone framable.
source "$(dirname "$0")/lib.sh"

WEB="$TUI_DIR/web"
mkdir -p "$WEB/display" "$WEB/t" "$WEB/lib" "$WEB/empty"
echo '<!doctype html><title>display</title>' >"$WEB/display/index.html"
echo '<!doctype html><title>status</title>' >"$WEB/t/index.html"
echo 'body{color:red}' >"$WEB/lib/a.css"
echo 'export const x = 1;' >"$WEB/lib/a.js"
echo 'secret' >"$WEB/.hidden"
echo 'outside' >"$TUI_DIR/outside.txt"
ln -s "$TUI_DIR/outside.txt" "$WEB/lib/link.txt"
BASE="http://127.0.0.1:$HTTP_PORT"
out="$TUI_DIR/out"
hdr="$TUI_DIR/hdr"
get() { curl -s -o "$out" -D "$hdr" -w '%{http_code}' --max-time 5 --path-as-is "$@"; }
header_has() { grep -qiE -- "$1" "$hdr"; }

css_with_type_etag_cache() {
	[ "$(get "$BASE/lib/a.css")" = 200 ] && grep -q 'color:red' "$out" &&
		header_has '^Content-Type: text/css' && header_has '^ETag: "' && header_has '^Cache-Control: no-cache' &&
		header_has '^X-Content-Type-Options: nosniff' && header_has "^Content-Security-Policy: default-src 'self'" &&
		[ "$(get "$BASE/lib/a.js")" = 200 ] && header_has '^Content-Type: text/javascript'
}

etag_gives_304() {
	get "$BASE/lib/a.css" >/dev/null
	local etag
	etag=$(sed -n 's/^ETag: \(.*\)\r$/\1/Ip' "$hdr")
	[ -n "$etag" ] && [ "$(get -H "If-None-Match: $etag" "$BASE/lib/a.css")" = 304 ]
}

no_way_out() {
	[ "$(get "$BASE/../outside.txt")" = 404 ] && [ "$(get "$BASE/lib/%2e%2e/%2e%2e/outside.txt")" = 404 ] &&
		[ "$(get "$BASE/.hidden")" = 404 ] && [ "$(get "$BASE/lib/link.txt")" = 404 ] &&
		[ "$(get "$BASE/lib/..%2f..%2foutside.txt")" = 404 ] && ! grep -q outside "$out"
}

no_listing() {
	[ "$(get "$BASE/lib/")" = 404 ] && [ "$(get "$BASE/empty")" = 404 ]
}

page_paths_with_parameters() {
	[ "$(get "$BASE/t/20261127-A001?k=abc")" = 200 ] && grep -q '<title>status' "$out" &&
		header_has '^Content-Type: text/html' && header_has '^X-Frame-Options: DENY' &&
		[ "$(get "$BASE/display?site=small")" = 200 ] && grep -q '<title>display' "$out" &&
		! header_has '^X-Frame-Options'
}

PORT=$(free_port)
start_redis || exit 1
start_http_qserver --web "$WEB" || exit 1
check "files go out with their type, ETag, Cache-Control and the security headers" css_with_type_etag_cache
check "a matching If-None-Match is 304" etag_gives_304
check "no path leaves the folder" no_way_out
check "folders are not listed" no_listing
check "a page's path with parameters is served by its index.html; only the display may be framed" page_paths_with_parameters
tui_finish
