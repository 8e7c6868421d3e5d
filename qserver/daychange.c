/* Driving each site's day change: when a site's day moves on (in its own zone), qserver runs
 * qh_day for it, and again at once for as long as it reports earlier days' tickets left to
 * expire. Each call expires a bounded slice, so no call holds Redis for long however many
 * tickets waited or however many sites change day at once (DESIGN decision 12,
 * docs/functions.md). */
#include "qserver.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <string.h>

static void daychange_call(struct site *site);

/* Reads {"expired":N,"remaining":M}; runs the site's next slice at once while any is left. */
static void on_day_slice(struct redisReply *reply, void *arg)
{
	struct site *site = arg;
	site->day_in_flight = 0;
	static long long next_log_ms; /* a failing call is retried each second: said once a minute */
	if (reply && reply->type == REDIS_REPLY_ERROR && clock_real_ms() >= next_log_ms) {
		log_error("%s: the day change failed (retried each second): %s", site->cfg->site.id, reply->str);
		next_log_ms = clock_real_ms() + 60 * 1000;
	}
	if (!reply || reply->type != REDIS_REPLY_STRING)
		return; /* retried on the next tick */
	cJSON *j = cJSON_Parse(reply->str);
	const cJSON *expired = cJSON_GetObjectItemCaseSensitive(j, "expired");
	const cJSON *remaining = cJSON_GetObjectItemCaseSensitive(j, "remaining");
	long left = cJSON_IsNumber(remaining) ? (long)remaining->valuedouble : 0;
	if (cJSON_IsNumber(expired))
		site->day_expired += (long)expired->valuedouble;
	cJSON_Delete(j);
	if (left > 0) {
		daychange_call(site);
		return;
	}
	site->day_pending = 0;
	if (site->day_expired > 0)
		log_info("%s: day change: %ld waiting tickets expired", site->cfg->site.id, site->day_expired);
	site->day_expired = 0;
}

/* Sends one qh_day call for the site; on failure the next tick tries again. */
static void daychange_call(struct site *site)
{
	if (store_ready() && store_fcall(site, "qh_day", 0, on_day_slice, site, 0, NULL) == 0)
		site->day_in_flight = 1;
}

/* Remembers the site's today: qh_setup runs the day change up to today. */
void daychange_init(struct site *site)
{
	sitetime_day(&site->cfg->site, clock_now(), site->last_day);
}

/* Goes on at once, once Redis is set up, with each site's day change that may be under way
 * (a restart or a lost link in the middle of it), rather than at the next tick: the calls are
 * answered while Redis is known to answer, and none is left to go out later into a Redis
 * that may meanwhile have stopped answering (which would hold the link's drop back). */
void daychange_on_store_ready(void)
{
	for (size_t i = 0; i < sites_count(); i++) {
		struct site *site = sites_at(i);
		if (site->day_pending && !site->day_in_flight)
			daychange_call(site);
	}
}

/* Once a second, for every site: starts the day change when its day moved on, and goes on
 * with one left unfinished (a restart or a lost link in the middle of it); 1 when any
 * site's day just moved on. */
int daychange_tick(void)
{
	int moved = 0;
	time_t now = clock_now();
	for (size_t i = 0; i < sites_count(); i++) {
		struct site *site = sites_at(i);
		char day[11];
		sitetime_day(&site->cfg->site, now, day);
		if (strcmp(day, site->last_day) != 0 && store_ready()) {
			log_info("%s: day is now %s", site->cfg->site.id, day);
			memcpy(site->last_day, day, sizeof site->last_day);
			site->day_pending = 1;
			moved = 1;
		}
		if (site->day_pending && !site->day_in_flight)
			daychange_call(site);
	}
	return moved;
}
