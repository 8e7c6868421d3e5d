/* The JSON qserver builds from the hall config: the setup for the function library and the
 * site object of PROTOCOL.md. */
#include "qserver.h"

#include <stdio.h>
#include <string.h>

/* Adds a window's services: ["*"] for a comprehensive window. */
static void sitejson_add_services(cJSON *obj, const struct config_window *w)
{
	cJSON *list = cJSON_AddArrayToObject(obj, "services");
	if (w->all_services)
		cJSON_AddItemToArray(list, cJSON_CreateString("*"));
	for (size_t i = 0; i < w->nservices; i++)
		cJSON_AddItemToArray(list, cJSON_CreateString(w->services[i]));
}

/* The UTC offset in seconds of the process's zone (made the site's by sitejson_add_offsets) at t. */
static long sitejson_offset_at(time_t t)
{
	struct tm tm;
	localtime_r(&t, &tm);
	return tm.tm_gmtoff;
}

/* Adds site.utc_offsets: [since, offset] at 1990 and at each change of the zone's offset up
 * to 2100, so the functions can tell the site-local hour of any moment (statistics by hour)
 * without a zone database. Days are stepped, then the change is found to the second. The
 * last zone's list is kept: a region's halls mostly share one zone, and the 40,000 steps
 * would otherwise be taken again for each of them. */
static void sitejson_add_offsets(cJSON *site, const char *tz)
{
	static char cached_tz[128];
	static cJSON *cached;
	if (!tz) { /* sitejson_forget */
		cJSON_Delete(cached);
		cached = NULL;
		cached_tz[0] = '\0';
		return;
	}
	if (cached && strcmp(cached_tz, tz) == 0) {
		cJSON_AddItemToObject(site, "utc_offsets", cJSON_Duplicate(cached, 1));
		return;
	}
	sitetime_use_zone(tz);
	const time_t first = 631152000, last = 4102444800; /* 1990-01-01, 2100-01-01 UTC */
	cJSON *list = cJSON_AddArrayToObject(site, "utc_offsets");
	long offset = sitejson_offset_at(first);
	cJSON *pair = cJSON_CreateArray();
	cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)first));
	cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)offset));
	cJSON_AddItemToArray(list, pair);
	for (time_t t = first; t < last; t += 86400) {
		time_t next = t + 86400;
		if (sitejson_offset_at(next) == offset)
			continue;
		time_t lo = t, hi = next; /* offset at lo is the old one, at hi the new one */
		while (hi - lo > 1) {
			time_t mid = lo + (hi - lo) / 2;
			if (sitejson_offset_at(mid) == offset)
				lo = mid;
			else
				hi = mid;
		}
		offset = sitejson_offset_at(hi);
		pair = cJSON_CreateArray();
		cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)hi));
		cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)offset));
		cJSON_AddItemToArray(list, pair);
	}
	cJSON_Delete(cached);
	cached = cJSON_Duplicate(list, 1);
	snprintf(cached_tz, sizeof cached_tz, "%s", tz);
}

/* Frees the kept list of a zone's offsets (at exit). */
void sitejson_forget(void)
{
	sitejson_add_offsets(NULL, NULL);
}

/* Returns the qh_setup argument (docs/functions.md) as a new string. */
char *sitejson_setup(const struct config *cfg)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *site = cJSON_AddObjectToObject(root, "site");
	cJSON_AddStringToObject(site, "id", cfg->site.id);
	cJSON_AddNumberToObject(site, "sla", cfg->site.sla);
	cJSON_AddNumberToObject(site, "retention_days", cfg->site.retention_days);
	sitejson_add_offsets(site, cfg->site.tz);
	/* [open, close] minutes per weekday, Sunday first (null: closed); the day change closes
	 * tickets left at windows at the day's closing time. */
	cJSON *hours = cJSON_AddArrayToObject(site, "hours");
	for (int d = 0; d < 7; d++) {
		const struct config_hours *h = &cfg->site.hours[d];
		if (h->open < 0) {
			cJSON_AddItemToArray(hours, cJSON_CreateNull());
			continue;
		}
		cJSON *span = cJSON_CreateArray();
		cJSON_AddItemToArray(span, cJSON_CreateNumber(h->open));
		cJSON_AddItemToArray(span, cJSON_CreateNumber(h->close));
		cJSON_AddItemToArray(hours, span);
	}
	cJSON *services = cJSON_AddArrayToObject(root, "services");
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *s = &cfg->services[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", s->id);
		cJSON_AddStringToObject(o, "prefix", s->prefix);
		cJSON_AddStringToObject(o, "name", s->name);
		cJSON_AddStringToObject(o, "name_en", s->name_en);
		cJSON_AddNumberToObject(o, "service_time", s->service_time);
		cJSON_AddItemToArray(services, o);
	}
	cJSON *windows = cJSON_AddArrayToObject(root, "windows");
	for (size_t i = 0; i < cfg->nwindows; i++) {
		cJSON *o = sitejson_window_brief(&cfg->windows[i]);
		sitejson_add_services(o, &cfg->windows[i]);
		cJSON_AddItemToArray(windows, o);
	}
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* Returns {id, name, name_en} of a window, as the called event carries it. */
cJSON *sitejson_window_brief(const struct config_window *w)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", w->id);
	cJSON_AddStringToObject(o, "name", w->name);
	cJSON_AddStringToObject(o, "name_en", w->name_en);
	return o;
}

/* Returns the site object with today's date and whether the hall is open at now. */
cJSON *sitejson_site(const struct config *cfg, time_t now)
{
	static const char *days[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
	cJSON *o = cJSON_CreateObject();
	char date[11];
	sitetime_day(&cfg->site, now, date);
	cJSON_AddStringToObject(o, "id", cfg->site.id);
	cJSON_AddStringToObject(o, "name", cfg->site.name);
	cJSON_AddStringToObject(o, "name_en", cfg->site.name_en);
	cJSON_AddStringToObject(o, "tz", cfg->site.tz);
	cJSON_AddStringToObject(o, "date", date);
	int open = sitetime_hall_open(&cfg->site, now);
	cJSON_AddBoolToObject(o, "open", open);
	cJSON_AddNumberToObject(o, "sla", cfg->site.sla);
	cJSON_AddNumberToObject(o, "time", (double)now);
	if (!open) {
		time_t opens = sitetime_next_open(&cfg->site, now);
		if (opens)
			cJSON_AddNumberToObject(o, "opens_at", (double)opens);
	}
	cJSON *hours = cJSON_AddObjectToObject(o, "hours");
	for (int d = 0; d < 7; d++) {
		const struct config_hours *h = &cfg->site.hours[d];
		if (h->open < 0) {
			cJSON_AddNullToObject(hours, days[d]);
			continue;
		}
		char span[48];
		snprintf(span, sizeof span, "%02d:%02d-%02d:%02d", h->open / 60, h->open % 60, h->close / 60, h->close % 60);
		cJSON_AddStringToObject(hours, days[d], span);
	}
	/* pages offer "tell me when my turn is near" only where the hall sends it */
	cJSON_AddBoolToObject(o, "notify", cfg->site.notify_url != NULL);
	return o;
}
