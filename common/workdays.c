/* Working days of a hall (the due date of a bad rating's follow-up, PROTOCOL.md v2). */
#include "workdays.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The n-th working day after day: the days go by at noon UTC, so only the calendar counts
 * (the caller gives the site-local day). */
int workdays_after(const struct config_site *site, const char *day, int n, char out[11])
{
	int y, m, d, end = 0;
	if (n < 1 || strlen(day) != 10 || sscanf(day, "%4d-%2d-%2d%n", &y, &m, &d, &end) != 3 || end != 10)
		return -1;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	/* bounded even if a config listed every weekday as a holiday: the count would need at
	 * most the weeks asked for plus one day per holiday */
	long limit = 7L * (n + 1) + 2L * CONFIG_MAX_HOLIDAYS;
	for (long steps = 0; n > 0 && steps < limit; steps++) {
		t += 86400;
		struct tm now;
		gmtime_r(&t, &now);
		strftime(out, 11, "%Y-%m-%d", &now);
		if (now.tm_wday != 0 && now.tm_wday != 6 && !config_is_holiday(site, out))
			n--;
	}
	return n == 0 ? 0 : -1;
}
