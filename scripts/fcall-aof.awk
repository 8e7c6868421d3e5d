# The AOF bytes of the write commands in MONITOR's output (a file), as scripts/fcall-floor.sh
# counts them: each write a function ran, in the RESP form Redis appends to the AOF, summed by
# the function's name (take, call_next, finish) and by group. Redis 7 writes a function's effects,
# not the FCALL: its writes as they took effect, wrapped in MULTI/EXEC (15 + 14 bytes) when it
# wrote at all. EXPIRE becomes PEXPIREAT with the absolute time in milliseconds (13 digits) and
# XADD's "*" the entry's id ("<13-digit milliseconds>-0"); reads and PUBLISH are not written.
# Every other write is taken as written verbatim, which holds for the library's writes that
# change something (a write that changes nothing, say an RPOP of an empty list, is not written:
# the script compares this count with the AOF's measured growth). Prints "<function> <group>
# <bytes>" lines, a line per function and group with bytes, summed over the whole capture. Run
# with scripts/monitor.awk loaded first.

# The byte length of MONITOR's quoted argument: its escapes (\\, \", \n, \r, \t, \a, \b and
# \xHH) are one byte each.
function unquoted_length(s,    n, i) {
	n = 0
	for (i = 1; i <= length(s); i++) {
		if (substr(s, i, 1) == "\\")
			i += substr(s, i + 1, 1) == "x" ? 3 : 1
		n++
	}
	return n
}

# The RESP length of a bulk string of n bytes: $<n>\r\n<bytes>\r\n.
function bulk(n) {
	return 1 + length(n "") + 2 + n + 2
}

# The group of the write in arg[]: what it keeps, by its command and key.
function group_of(    cmd, key) {
	cmd = arg[1]
	key = arg[2]
	if (cmd == "XADD") return "audit entries (XADD)"
	if (key ~ /:st:/) return "statistics (HSET st:)"
	if (key ~ /:tp:/) return "packed bucket (HSET tp:)"
	if (key ~ /:t:/ && cmd == "EXPIRE") return "ticket TTL (PEXPIREAT t:)"
	if (key ~ /:t:/) return "ticket hash (HSET, DEL t:)"
	if (cmd ~ /^Z/) return "queues (ZADD, ZREM)"
	if (cmd ~ /^(HINCRBY|INCR|INCRBY)$/) return "counts (HINCRBY, INCR)"
	if (key ~ /:w:[^:]*$/) return "window hash (HSET w:)"
	if (key ~ /:recent$/) return "recent list (LPUSH, RPOP)"
	if (key ~ /:ewma$/) return "learnt times (HSET ewma)"
	return "other (" cmd ")"
}

BEGIN {
	WRITES = "^(HSET|HDEL|DEL|UNLINK|EXPIRE|SET|INCR|INCRBY|HINCRBY|ZADD|ZREM|LPUSH|RPUSH|LPOP|RPOP|LTRIM|XADD|SADD|SREM)$"
	name = ""
}

{
	if (monitor_args($0) == 0)
		next
	if (toupper(arg[1]) == "FCALL" && arg[2] ~ /^v1_/) {
		name = substr(arg[2], 4)
		wrote[name, ++calls[name]] = 0
		next
	}
	if ($0 !~ /\[[0-9]+ lua\]/) {
		name = ""
		next
	}
	if (name == "" || arg[1] !~ WRITES)
		next
	size = 0
	for (i = 2; i <= nargs; i++) {
		if (arg[1] == "EXPIRE" && i == 3)
			size += bulk(13)
		else if (arg[1] == "XADD" && arg[i] == "*")
			size += bulk(15)
		else
			size += bulk(unquoted_length(arg[i]))
	}
	size += bulk(arg[1] == "EXPIRE" ? length("PEXPIREAT") : length(arg[1]))
	size += 1 + length(nargs "") + 2
	bytes[name, group_of()] += size
	if (!wrote[name, calls[name]]++)
		bytes[name, "MULTI/EXEC"] += 15 + 14
}

END {
	for (key in bytes) {
		split(key, part, SUBSEP)
		print part[1], part[2], bytes[key]
	}
}
