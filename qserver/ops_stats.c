/* The stats op: wait-time statistics summed from the per-day aggregates the functions keep
 * (DESIGN decision 4, docs/statistics.md). A clerk sees only the tickets of its own window. */
#include "qserver.h"

#include <stdio.h>
#include <string.h>

#define STATS_MAX_DAYS 3660 /* ten years; qh_stats reads whole months, so this stays cheap */

/* Parses a real calendar date YYYY-MM-DD into a day number (days since 1970-01-01); -1
 * when it is malformed or not in the calendar (2026-02-30). */
long stats_day_number(const char *s)
{
	int y, m, d, end = 0;
	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &end) != 3 || end != 10 ||
	    s[4] != '-' || s[7] != '-' || y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1)
		return -1;
	static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > month_days[m - 1] + (m == 2 && leap))
		return -1;
	/* days_from_civil (H. Hinnant): exact for the proleptic Gregorian calendar. */
	long yy = m <= 2 ? y - 1 : y;
	long era = yy / 400, yoe = yy - era * 400;
	long doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Reads a date argument, answering bad_request naming it when it is not a real date. */
static int stats_date_arg(struct request *r, const char *name, const char **text, long *day)
{
	if (args_string(r, name, 1, 10, text) < 0)
		return -1;
	*day = stats_day_number(*text);
	if (*day < 0) {
		request_reply_error(r, "bad_request", name, "%s must be a date of the calendar, YYYY-MM-DD.", name);
		return -1;
	}
	return 0;
}

/* Checks `by` against the dimensions of PROTOCOL.md ("site" only across sites). */
static int stats_by_valid(const char *by, int across_sites)
{
	if (across_sites && strcmp(by, "site") == 0)
		return 1;
	static const char *const dims[] = {"total", "service", "window", "clerk", "hour", "day"};
	for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
		if (strcmp(by, dims[i]) == 0)
			return 1;
	return 0;
}

/* Answers stats rows for a date range by one dimension; a manager may name a window, or
 * `sites` for rows across sites (ops_region.c); a clerk always gets its own window's tickets
 * only. */
void op_stats(struct request *r)
{
	const char *from, *to, *by;
	long from_day, to_day, window = 0, offset = 0;
	if (stats_date_arg(r, "from", &from, &from_day) < 0 || stats_date_arg(r, "to", &to, &to_day) < 0 ||
	    args_string(r, "by", 0, 16, &by) < 0 || args_int(r, "window", 0, 1, 9999, &window) < 0 ||
	    args_int(r, "offset", 0, 0, 1000000, &offset) < 0)
		return;
	if (to_day < from_day) {
		request_reply_error(r, "bad_request", "to", "to must not be before from.");
		return;
	}
	if (to_day - from_day + 1 > STATS_MAX_DAYS) {
		request_reply_error(r, "bad_request", "to", "The range must be at most %d days.", STATS_MAX_DAYS);
		return;
	}
	const cJSON *sites = cJSON_GetObjectItemCaseSensitive(r->args, "sites");
	if (by && *by && !stats_by_valid(by, sites != NULL)) {
		request_reply_error(r, "bad_request", "by", "by must be total, service, window, clerk, hour or day%s.",
				    sites ? " or site" : " (site with sites)");
		return;
	}
	if (sites) {
		stats_across_sites(r, sites, from, to, by && *by ? by : "total");
		return;
	}
	struct conn *c = r->conn;
	if (c->role == ROLE_CLERK) {
		if (window && window != c->window) {
			request_reply_error(r, "forbidden", "window", "A clerk sees only the statistics of window %d.", c->window);
			return;
		}
		window = c->window;
	} else if (window && !config_window(r->site->cfg, (int)window)) {
		request_reply_error(r, "not_found", "window", "There is no window %ld.", window);
		return;
	}
	char win[16] = "", off[16];
	if (window)
		snprintf(win, sizeof win, "%ld", window);
	snprintf(off, sizeof off, "%ld", offset);
	const char *argv[] = {from, to, by && *by ? by : "total", win, off};
	store_request_fcall(r, "qh_stats", 1, 5, argv);
}
