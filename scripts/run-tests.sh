#!/bin/bash
# Runs every test program built in BUILD/tests (cmocka) and every terminal test in tests/tui,
# then prints one closing line "N passed, N failed". Exits non-zero when anything failed.
# usage: run-tests.sh BUILD [NAME-FILTER]
set -u
build=${1:?usage: run-tests.sh BUILD [FILTER]}
filter=${2:-}
export QHALL_BUILD=$(cd "$build" && pwd)
export QHALL_ROOT=$(pwd)
passed=0
failed=0
failed_names=""
log_dir="$build/test-logs"
mkdir -p "$log_dir"

# Adds the counts of one cmocka program's output to the totals.
count_cmocka() {
	local out=$1 name=$2 rc=$3 p f
	p=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$out" | awk '{s+=$4} END {print s+0}')
	f=$(grep -Eo '^\[  FAILED  \] [0-9]+ test' "$out" | awk '{s+=$4} END {print s+0}')
	# A failed group setup or teardown (qserver stopping badly, say) counts as a failure too.
	f=$((f + $(grep -cE '^\[  FAILED  \] GROUP (SETUP|TEARDOWN)' "$out")))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1   # crashed, or a sanitizer stopped it
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" != 0 ] && failed_names="$failed_names $name"
	return 0
}

for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	case "$name" in *"$filter"*) ;; *) continue ;; esac
	echo "== $name"
	out="$log_dir/$name.log"
	"$t" >"$out" 2>&1
	rc=$?
	grep -E '^\[ +(RUN|OK|FAILED|PASSED|ERROR|SKIPPED) +\]|ERROR|Sanitizer|runtime error' "$out" | grep -v '^\[ RUN' | grep -vE '^\[       OK \]' || true
	count_cmocka "$out" "$name" "$rc"
	[ "$rc" != 0 ] && { echo "-- $name exited $rc; log tail:"; tail -n 30 "$out"; }
done

if [ -z "${QHALL_SANITIZED:-}" ]; then
	# Browser tests run with Debian's python3, whose selenium the dependency step installs.
	for t in tests/tui/test_*.sh tests/web/test_*.sh tests/browser/test_*.py; do
		[ -f "$t" ] || continue
		name=$(basename "${t%.*}")
		case "$name" in *"$filter"*) ;; *) continue ;; esac
		echo "== $name"
		out="$log_dir/$name.log"
		case "$t" in
		*.py) timeout 300 /usr/bin/python3 "$t" >"$out" 2>&1 ;;
		*) bash "$t" "$build" >"$out" 2>&1 ;;
		esac
		rc=$?
		p=$(grep -c '^ok ' "$out"); f=$(grep -c '^not ok ' "$out")
		[ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
		grep -E '^(ok|not ok) ' "$out"
		passed=$((passed + p)); failed=$((failed + f))
		[ "$f" != 0 ] && { failed_names="$failed_names $name"; tail -n 30 "$out"; }
	done
fi

echo
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
