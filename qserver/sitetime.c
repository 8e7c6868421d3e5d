/* Days and opening hours in the site's time zone. qserver serves one site, so the process
 * time zone is set to the site's once and localtime_r does the rest. */
#include "qserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Makes the site's zone the process's; returns -1 when the zone is unknown. */
int sitetime_init(const char *tz)
{
	if (setenv("TZ", tz, 1) != 0)
		return -1;
	tzset();
	return 0;
}

/* Writes the site-local date of t as YYYY-MM-DD. */
void sitetime_day(time_t t, char out[11])
{
	struct tm tm;
	localtime_r(&t, &tm);
	/* strftime cannot overflow here: the buffer fits any four-digit year. */
	if (strftime(out, 11, "%Y-%m-%d", &tm) != 10)
		memcpy(out, "0000-00-00", 11);
}

/* Returns the epoch second of local midnight starting the day `days` after t's day, plus
 * `minute` minutes; mktime resolves DST and the end of months. */
static time_t local_day_start(time_t t, int days, int minute)
{
	struct tm tm;
	localtime_r(&t, &tm);
	tm.tm_mday += days;
	tm.tm_hour = 0;
	tm.tm_min = minute;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

/* True when the hall is open at t. */
int sitetime_is_open(const struct config_site *site, time_t t)
{
	struct tm tm;
	localtime_r(&t, &tm);
	const struct config_hours *h = &site->hours[tm.tm_wday];
	int minute = tm.tm_hour * 60 + tm.tm_min;
	return h->open >= 0 && minute >= h->open && minute < h->close;
}

/* Returns the next opening time after t (t itself when open), or 0 when the hall never opens. */
time_t sitetime_next_open(const struct config_site *site, time_t t)
{
	if (sitetime_is_open(site, t))
		return t;
	for (int d = 0; d <= 7; d++) {
		time_t day = local_day_start(t, d, 0);
		struct tm tm;
		localtime_r(&day, &tm);
		const struct config_hours *h = &site->hours[tm.tm_wday];
		if (h->open < 0)
			continue;
		time_t opens = local_day_start(t, d, h->open);
		if (opens > t)
			return opens;
	}
	return 0;
}

/* Returns the start of the next local day after t. */
time_t sitetime_next_midnight(time_t t)
{
	return local_day_start(t, 1, 0);
}

/* True when the served hall takes tickets at t: within its hours, or always with --always-open. */
int sitetime_hall_open(time_t t)
{
	return server.opt.always_open || sitetime_is_open(&server.cfg->site, t);
}
