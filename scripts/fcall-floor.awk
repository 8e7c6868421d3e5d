# Makes scripts/fcall-floor.sh's floor library from MONITOR's output (a file): the commands
# the k-th FCALL v1_<name> ran, issued again by a function <v>_<name>_<k> of a library
# floor_<v>, as constants but the ticket's id, its score, its packed bucket and slot, which the
# function takes as ARGV (id, score, bucket, slot). The k-th take's ticket is the one the k-th
# call_next calls and the k-th finish finishes. Variables: v, skip (a regular expression over
# "NAME key first-argument" of commands to leave out; empty: none), site (the site key),
# tickets ("id score" of each take, in order), counts (a file for "<name> <commands>" lines, a
# line a function). Fails (exit 2) if a function never names its ticket. Run with
# scripts/monitor.awk loaded first.

# MONITOR's quoted argument as a Lua string: the same escapes, but \xHH, which Lua 5.1 reads as
# \ddd.
function lua_string(s,    out, i, c) {
	if (index(s, "\\x") == 0)
		return s
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c != "\\") {
			out = out c
		} else if (substr(s, i + 1, 1) == "x") {
			out = out sprintf("\\%03d", hex_value(substr(s, i + 2, 2)))
			i += 3
		} else {
			out = out c substr(s, i + 1, 1)
			i++
		}
	}
	return out
}

# The value of two hex digits.
function hex_value(h) {
	h = tolower(h)
	return (index("0123456789abcdef", substr(h, 1, 1)) - 1) * 16 + index("0123456789abcdef", substr(h, 2, 1)) - 1
}

# Argument i of the command (without its quotes) as a Lua expression: the varying parts as
# ARGV, anything else the captured constant.
function lua_arg(i,    a) {
	a = arg[i]
	if (a == ticket) return "id"
	if (a == score) return "score"
	if (a == "(" score) return "'(' .. score"
	if (i == 3 && arg[1] == "HSET" && arg[2] == site ":tp:" bucket && a == slot) return "slot"
	if (index(a, site ":") == 1) {
		if (substr(a, length(a) - length(ticket) + 1) == ticket && length(a) > length(ticket))
			return "\"" substr(a, 1, length(a) - length(ticket)) "\" .. id"
		if (substr(a, length(a) - length(bucket) + 1) == bucket)
			return "\"" substr(a, 1, length(a) - length(bucket)) "\" .. bucket"
	}
	return "\"" lua_string(a) "\""
}

# Closes the function being written, if any.
function close_function() {
	if (name == "")
		return
	print "  return " n
	print "end)"
	print name, n > counts
	if (!named) {
		print "fcall-floor: the captured " name " " nth[name] " never names its ticket " ticket > "/dev/stderr"
		exit 2
	}
	name = ""
}

BEGIN {
	split(tickets, t, " ")
	print "#!lua name=floor_" v
	name = ""
}

{
	if (monitor_args($0) == 0)
		next
	if (toupper(arg[1]) == "FCALL" && arg[2] ~ /^v1_/) {
		close_function()
		name = substr(arg[2], 4)
		k = ++nth[name]
		ticket = t[2 * k - 1]
		score = t[2 * k]
		bucket = substr(ticket, 1, length(ticket) - 2)
		slot = substr(ticket, length(ticket) - 1)
		n = named = 0
		print "redis.register_function('" v "_" name "_" k "', function(keys, args)"
		print "  local id, score, bucket, slot = args[1], args[2], args[3], args[4]"
		next
	}
	if ($0 !~ /\[[0-9]+ lua\]/) {
		close_function()
		next
	}
	if (name == "" || (skip != "" && (arg[1] " " arg[2] " " arg[3]) ~ skip))
		next
	call = "  redis.call(" lua_arg(1)
	for (i = 2; i <= nargs; i++) {
		a = lua_arg(i)
		if (a ~ /id$/)
			named = 1
		call = call ", " a
	}
	print call ")"
	n++
}

END {
	close_function()
}
