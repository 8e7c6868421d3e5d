/* Formatting of times, states and classes for the screen: pure functions, unit-tested. */
#include "counter.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Rounds down to whole minutes, because a clerk reads "waited 12 min", not seconds, and an
 * hour or more is spelled out so a long wait stands out. */
void format_minutes(char *out, size_t size, long long seconds)
{
	if (seconds < 0)
		seconds = 0;
	long long minutes = seconds / 60;
	if (minutes < 1)
		snprintf(out, size, "<1 min");
	else if (minutes < 60)
		snprintf(out, size, "%lld min", minutes);
	else
		snprintf(out, size, "%lld h %02lld min", minutes / 60, minutes % 60);
}

void format_estimate(char *out, size_t size, long long ewt, long long low, long long high)
{
	long long lo = (low + 59) / 60, hi = (high + 59) / 60;
	if (low >= 0 && high >= low && lo != hi) {
		snprintf(out, size, "%lld-%lld min", lo, hi);
		return;
	}
	char single[32];
	format_minutes(single, sizeof single, ewt);
	snprintf(out, size, "~%s", single);
}

/* A label of the table, or "?" (a newer server may add states). */
static const char *format_lookup(const char *const table[][2], size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (key && strcmp(table[i][0], key) == 0)
			return table[i][1];
	return "?";
}

/* Window states in both languages. */
const char *format_window_state(const char *state)
{
	static const char *const table[][2] = {
		{"closed", "关闭 Closed"},   {"idle", "空闲 Idle"},	{"calling", "呼叫中 Calling"},
		{"serving", "办理中 Serving"}, {"paused", "暂停 Paused"},
	};
	return format_lookup(table, sizeof table / sizeof table[0], state);
}

/* Ticket states in both languages. */
const char *format_ticket_state(const char *state)
{
	static const char *const table[][2] = {
		{"waiting", "等候 waiting"}, {"called", "已呼叫 called"}, {"serving", "办理中 serving"},
		{"done", "已办结 done"},	 {"no_show", "未到 no-show"}, {"cancelled", "已取消 cancelled"},
		{"expired", "已过期 expired"},
	};
	return format_lookup(table, sizeof table / sizeof table[0], state);
}

/* Two columns whatever the class, so the names after it stay aligned. */
const char *format_class_mark(const char *ticket_class)
{
	if (ticket_class && strcmp(ticket_class, "priority") == 0)
		return "优";
	if (ticket_class && strcmp(ticket_class, "appointment") == 0)
		return "约";
	return "  ";
}

/* The class as the big ticket shows it. */
const char *format_class_label(const char *ticket_class)
{
	if (ticket_class && strcmp(ticket_class, "priority") == 0)
		return "绿色通道 Priority";
	if (ticket_class && strcmp(ticket_class, "appointment") == 0)
		return "预约 Appointment";
	return "普通 Normal";
}

/* Local time, as the clerk's wall clock shows it. */
void format_clock(char *out, size_t size, long long epoch)
{
	time_t t = (time_t)epoch;
	struct tm tm;
	if (!localtime_r(&t, &tm) || strftime(out, size, "%H:%M", &tm) == 0)
		snprintf(out, size, "--:--");
}

/* The state first (it is what the clerk looks for), then the pause reason if any, then how
 * long it has lasted: on a narrow screen the time is what gets cut, never the reason. */
void format_state_since(char *out, size_t size, const char *state, const char *reason, long long since,
			long long now)
{
	const char *label = format_window_state(state);
	char head[160];
	if (reason && reason[0])
		snprintf(head, sizeof head, "%s: %s", label, reason);
	else
		snprintf(head, sizeof head, "%s", label);
	if (since <= 0) {
		snprintf(out, size, "%s", head);
		return;
	}
	char span[32];
	format_minutes(span, sizeof span, now - since);
	snprintf(out, size, "%s %s", head, span);
}

/* Messages name the action as the footer does, shorter than the op and in the clerk's words. */
const char *format_op_label(const char *op)
{
	static const char *const table[][2] = {
		{"call_next", "Next"}, {"recall", "Recall"},   {"start", "Start"},
		{"finish", "Finish"},  {"no_show", "No-show"}, {"transfer", "Transfer"},
		{"call", "Call no."},  {"pause", "Pause"},     {"resume", "Resume"},
		{"close", "Close"},    {"queue", "Queue"},
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strcmp(table[i][0], op) == 0)
			return table[i][1];
	return op;
}
