#!/bin/bash
# qsim, the hall simulator, on a small scenario: its simulated days against a real qserver end
# with qserver's statistics equal to what the simulator saw and every call in order (qsim exits
# 1 otherwise), and the
# mean wait lies in a generous band around Erlang C's; the staffing table meets its target;
# a saved history can be resampled; bad input is refused. Nothing here is timed.
. "$(dirname "$0")/lib.sh"

OUT="$TUI_DIR/qsim"
mkdir -p "$OUT"

# Prints the number after "KEY": in a one-line JSON file.
jnum() {
	grep -o "\"$2\":[-0-9.eE+]*" "$1" | head -n 1 | cut -d: -f2
}

# True when awk's condition holds for the numbers a, b and c.
holds() { awk -v a="$1" -v b="$2" -v c="$3" "BEGIN { exit !($4) }"; }

# Runs qsim with a time limit, saving stdout as OUT/NAME.json and stderr as OUT/NAME.err.
qsim() {
	local name=$1
	shift
	timeout 120 "$BUILD/qsim" --qserver "$BUILD/qserver" "$@" >"$OUT/$name.json" 2>"$OUT/$name.err"
}

# Shows what a run printed, for a failed check.
show() { sed 's/^/# /' "$OUT/$1.json" "$OUT/$1.err"; }

check "qsim small: 4 simulated days end with stats equal to what qsim saw (exit 0)" \
	bash -c "$(declare -f qsim); OUT='$OUT' BUILD='$BUILD'; qsim small --scenario small --days 4 --json" || show small
check "small: no statistics mismatch reported" grep -q '"stats_mismatches":0,' "$OUT/small.json"
check "small: no call passed over a ticket due before it" grep -q '"out_of_order":0,' "$OUT/small.json"
check "small: over 1,000 tickets simulated" holds "$(jnum "$OUT/small.json" tickets)" 0 0 'a > 1000'
MEAN=$(jnum "$OUT/small.json" mean_wait)
HALF=$(jnum "$OUT/small.json" ci_half)
THEORY=$(jnum "$OUT/small.json" theory_wait)
echo "# mean wait $MEAN s ± $HALF (95%), Erlang C $THEORY s"
check "small: Erlang C's mean wait (M/M/3, 0.4/min, 5 min: 133 s) is the theory compared" \
	holds "$THEORY" 0 0 'a > 133 && a < 134'
check "small: the interval is narrower than the theory's value (the band below can fail)" \
	holds "$HALF" "$THEORY" 0 'a > 0 && a < b'
check "small: the simulated mean wait is within twice the 95% interval of Erlang C's" \
	holds "$MEAN" "$HALF" "$THEORY" '(a - c) <= 2 * b && (c - a) <= 2 * b'

printf '9 30\n10 60\n11 20\n' >"$OUT/pattern"
check "qsim --staffing: a three-hour pattern is staffed (exit 0)" \
	bash -c "$(declare -f qsim); OUT='$OUT' BUILD='$BUILD'; qsim staffing --staffing '$OUT/pattern' --days 2 --json" || show staffing
check "staffing: every hour meets the target" grep -q '"met":true' "$OUT/staffing.json"
# 60 an hour at 5 min is 5 erlangs: 5 windows cannot keep up; with 6, P(wait > 15 min) = 3%.
check "staffing: the 10:00 hour (60 an hour, 5 min) gets at least Erlang C's 6 windows" \
	grep -qE '"hour":10,"arrivals":60,"erlang_c":6,"windows":(6|7|8),' "$OUT/staffing.json"
check "staffing: no hour's 90th percentile wait is over 900 s" \
	bash -c "! grep -oE '\"wait_p90\":[0-9]+' '$OUT/staffing.json' | awk -F: '\$2 > 900 { bad = 1 } END { exit !bad }'"

check "qsim --save-history writes the served tickets' service times" \
	bash -c "$(declare -f qsim); OUT='$OUT' BUILD='$BUILD'; qsim saved --scenario small --days 1 --json --save-history '$OUT/times.txt' && [ \$(grep -c '^[0-9]' '$OUT/times.txt') -gt 200 ]"
check "qsim --scenario history resamples them, and its stats check passes" \
	bash -c "$(declare -f qsim); OUT='$OUT' BUILD='$BUILD'; qsim history --scenario history --days 1 --json --history '$OUT/times.txt' --tickets '$OUT/tickets.csv'" || show history
check "qsim --tickets writes a CSV line per ticket, every one called" \
	bash -c "[ \$(tail -n +2 '$OUT/tickets.csv' | awk -F, '\$6 > 0' | wc -l) = $(jnum "$OUT/history.json" tickets) ]"

printf '9 30\n25 10\n' >"$OUT/bad-pattern"
check "qsim refuses a pattern with hour 25, naming the line (exit 2)" \
	bash -c "'$BUILD/qsim' --staffing '$OUT/bad-pattern' 2>&1 >/dev/null | grep -q 'bad-pattern:2: expected'; [ \${PIPESTATUS[0]} = 2 ]"
check "qsim refuses an unknown scenario (exit 2)" \
	bash -c "'$BUILD/qsim' --scenario nosuch >/dev/null 2>&1; [ \$? = 2 ]"

tui_finish
