/* Days and opening hours in each site's time zone. The C library knows one zone at a time
 * (TZ), so every function first makes the site's zone the process's; the switch (a tzset that
 * reads the zone file) happens only when the zone differs from the last one used, which in a
 * region of one zone is never after the first call. The loop is single-threaded, and no other
 * thread reads local time. */
#include "qserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char zone_in_use[128]; /* as long as config.c allows a zone name */

/* Makes tz the process's zone, unless it already is. */
void sitetime_use_zone(const char *tz)
{
	if (strcmp(zone_in_use, tz) == 0)
		return;
	snprintf(zone_in_use, sizeof zone_in_use, "%s", tz);
	setenv("TZ", tz, 1);
	tzset();
}

/* Breaks t down in the site's zone. */
static void site_localtime(const struct config_site *site, time_t t, struct tm *tm)
{
	sitetime_use_zone(site->tz);
	localtime_r(&t, tm);
}

/* Writes the site-local date of t as YYYY-MM-DD. */
void sitetime_day(const struct config_site *site, time_t t, char out[11])
{
	struct tm tm;
	site_localtime(site, t, &tm);
	/* strftime cannot overflow here: the buffer fits any four-digit year. */
	if (strftime(out, 11, "%Y-%m-%d", &tm) != 10)
		memcpy(out, "0000-00-00", 11);
}

/* Writes the site-local date and hour of t as YYYY-MM-DDTHH, the day argument of the library
 * functions (docs/functions.md), which then need not work the hour out from the zone's offsets
 * for statistics; the bare date outside 1990-2099, where those offsets (sitejson.c) end and
 * the library's hour from them may differ from the zone's. */
void sitetime_day_hour(const struct config_site *site, time_t t, char out[14])
{
	struct tm tm;
	site_localtime(site, t, &tm);
	int with_hour = t >= 631152000 && t < 4102444800; /* 1990-01-01 to 2100-01-01 UTC */
	if (strftime(out, 14, with_hour ? "%Y-%m-%dT%H" : "%Y-%m-%d", &tm) != (with_hour ? 13u : 10u))
		memcpy(out, "0000-00-00", 11);
}

/* Returns the epoch second of the site's local midnight starting the day `days` after t's
 * day, plus `minute` minutes; mktime resolves DST and the end of months. */
static time_t local_day_start(const struct config_site *site, time_t t, int days, int minute)
{
	struct tm tm;
	site_localtime(site, t, &tm);
	tm.tm_mday += days;
	tm.tm_hour = 0;
	tm.tm_min = minute;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

/* True when the hall is open at t by its hours. */
int sitetime_is_open(const struct config_site *site, time_t t)
{
	struct tm tm;
	site_localtime(site, t, &tm);
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
		time_t day = local_day_start(site, t, d, 0);
		struct tm tm;
		site_localtime(site, day, &tm);
		const struct config_hours *h = &site->hours[tm.tm_wday];
		if (h->open < 0)
			continue;
		time_t opens = local_day_start(site, t, d, h->open);
		if (opens > t)
			return opens;
	}
	return 0;
}

/* Returns the start of the site's next local day after t. */
time_t sitetime_next_midnight(const struct config_site *site, time_t t)
{
	return local_day_start(site, t, 1, 0);
}

/* True when the hall takes tickets at t: within its hours, or always with --always-open. */
int sitetime_hall_open(const struct config_site *site, time_t t)
{
	return server.opt.always_open || sitetime_is_open(site, t);
}

/* Returns the epoch second of `minute` minutes after the site's local midnight starting the
 * day numbered day_number (days since 1970-01-01); mktime resolves DST. */
time_t sitetime_at(const struct config_site *site, long day_number, int minute)
{
	sitetime_use_zone(site->tz);
	struct tm tm = {0};
	tm.tm_year = 70;
	tm.tm_mday = 1 + (int)day_number;
	tm.tm_min = minute;
	tm.tm_isdst = -1;
	return mktime(&tm);
}
