# What scripts/fcall-floor.awk and scripts/fcall-aof.awk share: MONITOR's output line parsed.
# Loaded before either with a second -f.

# Sets arg[1..nargs] to the quoted arguments of MONITOR's line (without their quotes, MONITOR's
# escapes kept) and returns nargs: 0 for a line that shows no command.
function monitor_args(line) {
	nargs = 0
	split("", arg)
	while (match(line, /"([^"\\]|\\.)*"/)) {
		arg[++nargs] = substr(line, RSTART + 1, RLENGTH - 2)
		line = substr(line, RSTART + RLENGTH)
	}
	return nargs
}
