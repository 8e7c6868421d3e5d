/* Zones: the part of the hall one screen shows (`--windows 1-6,8`, `--services A,B`), so a
 * hall with a screen per floor or per wing can give each its own windows and services. */
#include "display.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses a window id in 1..99999 at *p and moves *p past it; -1 when there is none. */
static int zone_read_id(const char **p)
{
	char *end;
	errno = 0;
	long v = strtol(*p, &end, 10);
	if (end == *p || errno || v < 1 || v > 99999 || **p == '-' || **p == '+' || **p == ' ')
		return -1;
	*p = end;
	return (int)v;
}

/* Reads comma-separated ids and ranges; a range may not run backwards. */
int zone_parse_windows(struct zone *zone, const char *spec, char *err, size_t err_size)
{
	const char *p = spec;
	zone->nranges = 0;
	if (!*p)
		goto bad;
	while (*p) {
		int lo = zone_read_id(&p), hi = lo;
		if (lo < 0)
			goto bad;
		if (*p == '-') {
			p++;
			hi = zone_read_id(&p);
			if (hi < lo)
				goto bad;
		}
		if (zone->nranges == DISPLAY_ZONE_MAX_RANGES) {
			snprintf(err, err_size, "--windows takes at most %d ranges",
				 DISPLAY_ZONE_MAX_RANGES);
			return -1;
		}
		zone->ranges[zone->nranges].lo = lo;
		zone->ranges[zone->nranges].hi = hi;
		zone->nranges++;
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
		else
			break;
		if (!*p)
			goto bad; /* a trailing comma */
	}
	snprintf(zone->windows_text, sizeof zone->windows_text, "%s", spec);
	return 0;
bad:
	zone->nranges = 0;
	snprintf(err, err_size,
		 "--windows wants window numbers and ranges like 1-6,8, not \"%.60s\"", spec);
	return -1;
}

/* Reads comma-separated service ids (letters, digits, '-' and '_'). */
int zone_parse_services(struct zone *zone, const char *spec, char *err, size_t err_size)
{
	const char *p = spec;
	zone->nservices = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		if (len == 0 || len >= DISPLAY_ID_MAX || strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
								   "abcdefghijklmnopqrstuvwxyz"
								   "0123456789-_") < len)
			goto bad;
		if (zone->nservices == DISPLAY_MAX_SERVICES) {
			snprintf(err, err_size, "--services takes at most %d services",
				 DISPLAY_MAX_SERVICES);
			return -1;
		}
		memcpy(zone->services[zone->nservices], p, len);
		zone->services[zone->nservices][len] = '\0';
		zone->nservices++;
		p += len;
		if (*p == ',') {
			p++;
			if (!*p)
				goto bad;
		}
	}
	if (zone->nservices == 0)
		goto bad;
	snprintf(zone->services_text, sizeof zone->services_text, "%s", spec);
	return 0;
bad:
	zone->nservices = 0;
	snprintf(err, err_size, "--services wants service ids like A,B, not \"%.60s\"", spec);
	return -1;
}

/* Looks the id up in the ranges. */
bool zone_has_window(const struct zone *zone, int window_id)
{
	if (zone->nranges == 0)
		return true;
	for (int i = 0; i < zone->nranges; i++)
		if (window_id >= zone->ranges[i].lo && window_id <= zone->ranges[i].hi)
			return true;
	return false;
}

/* Looks the id up in the list. */
bool zone_has_service(const struct zone *zone, const char *service_id)
{
	if (zone->nservices == 0)
		return true;
	for (int i = 0; i < zone->nservices; i++)
		if (strcmp(zone->services[i], service_id) == 0)
			return true;
	return false;
}
