# Shell helpers of the benchmark scripts (bench/run.sh, bench/ratios.sh, bench/fanout.sh),
# sourced by them.

# Picks a loopback port nothing listens on, below the ephemeral range where clients own ports.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo $((20000 + RANDOM % 12000))
}

# Prints the number found after each key in turn in a compact JSON file:
# jnum FILE fanout latency p99_ms -> the p99 inside "fanout":{... "latency":{...}}.
jnum() {
	local text k
	text=$(cat "$1")
	shift
	for k in "$@"; do
		case "$text" in *"\"$k\":"*) text=${text#*\"$k\":} ;; *) echo 0; return ;; esac
	done
	text=${text%%[,\}]*}
	echo "${text:-0}"
}

# Prints the smaller of two numbers, ignoring a zero (a run that failed): least A B.
least() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 == 0 || (b + 0 > 0 && b + 0 < a + 0)) a = b; print a + 0 }'; }


# Prints the median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
