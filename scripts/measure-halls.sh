# Halls and a day of tickets that the measuring scripts share (scripts/fcall-breakdown.sh,
# scripts/fcall-instructions.sh); sourced, it defines functions only.

# A setup JSON with $1 services and $2 windows: window 1 comprehensive, the others serving
# two neighbouring services each.
hall_json() {
	awk -v s="$1" -v w="$2" 'BEGIN {
		printf "{\"site\":{\"id\":\"fb\",\"sla\":900,\"retention_days\":90},\"services\":["
		for (i = 1; i <= s; i++)
			printf "%s{\"id\":\"S%d\",\"prefix\":\"S%d\",\"name\":\"s\",\"name_en\":\"s\",\"service_time\":300}", (i > 1 ? "," : ""), i, i
		printf "],\"windows\":[{\"id\":1,\"name\":\"1\",\"name_en\":\"1\",\"services\":[\"*\"]}"
		for (i = 2; i <= w; i++)
			printf ",{\"id\":%d,\"name\":\"w\",\"name_en\":\"w\",\"services\":[\"S%d\",\"S%d\"]}", i, (i % s) + 1, ((i + 1) % s) + 1
		printf "]}"
	}'
}

# The day argument of a call at epoch $1 in a hall without utc_offsets (its zone is UTC):
# 2026-11-28 with the hour, as qserver passes it.
day_at() { printf '2026-11-28T%02d' $((($1 / 3600) % 24)); }

# The calls of a day of a 10-service, 10-window hall (hall_json 10 10, set up by the caller)
# at site key $1 from epoch $2, as inline commands for redis-cli --pipe: each window opened
# by its clerk, then 1,000 tickets over ten hours, each of a service drawn at random, and after
# each take a window drawn at random finishing its ticket and calling the next, every fifth
# finish rated; now and then a window changes hands (closed, and opened by one of 15 clerks),
# so that clerks work at several windows and windows see many services, as in a hall (a window
# with no ticket of its servicesis refused, harmlessly).
# The draws are the same in every run (RANDOM seeded).
stats_day_calls() {
	local p=$1 now=$2 i t w rating
	RANDOM=1
	for w in $(seq 10); do
		echo "FCALL qh_open 1 $p $now $(day_at "$now") 0 $w c$w fs/$w $((now + 86400))"
	done
	for i in $(seq 1000); do
		t=$((now + i * 36)) w=$((RANDOM % 10 + 1))
		echo "FCALL qh_take 1 $p $t $(day_at $t) 0 S$((RANDOM % 10 + 1)) normal kiosk \"\""
		rating=$([ $((i % 5)) != 0 ] || echo $(((i / 5) % 5 + 1)))
		echo "FCALL qh_finish 1 $p $((t + 10)) $(day_at $((t + 10))) 0 $w \"$rating\" \"\" 2026-12-18"
		if [ $((RANDOM % 25)) = 0 ]; then
			echo "FCALL qh_close 1 $p $((t + 10)) $(day_at $((t + 10))) 0 $w"
			echo "FCALL qh_open 1 $p $((t + 10)) $(day_at $((t + 10))) 0 $w c$((RANDOM % 15 + 1)) fs/$w $((now + 86400))"
		fi
		echo "FCALL qh_call_next 1 $p $((t + 20)) $(day_at $((t + 20))) 0 $w \"\""
	done
}

# The stats reads measured on that day, one a line: a label and qh_stats's arguments (from,
# to, by, window, offset). $1: "today" or "folded" (the day after the day change folded it,
# with its month).
stats_day_reads() {
	local d=2026-11-28
	echo "total $d $d total \"\" \"\""
	echo "service $d $d service \"\" \"\""
	echo "hour $d $d hour \"\" \"\""
	echo "window $d $d window \"\" \"\""
	echo "clerk $d $d clerk \"\" \"\""
	echo "window-1-by-clerk $d $d clerk 1 \"\""
	echo "window-1-by-service $d $d service 1 \"\""
	echo "window-1-total $d $d total 1 \"\""
	[ "$1" = folded ] && echo "month-by-service 2026-11-01 2026-11-30 service \"\" \"\""
	return 0
}
