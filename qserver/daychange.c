/* Driving the day change: when the site's day moves on, qserver runs qh_day, and again at
 * once for as long as it reports earlier days' tickets left to expire. Each call expires a
 * bounded slice, so no call holds Redis for long however many tickets waited
 * (DESIGN decision 12, docs/functions.md). */
#include "qserver.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <string.h>

static char last_day[11];
static int pending = 1;	     /* a slice may be due: at start a change may be under way */
static int in_flight;	     /* a qh_day call is out */
static long expired_total;   /* tickets expired by this change so far */

static void daychange_call(void);

/* Reads {"expired":N,"remaining":M}; runs the next slice at once while any is left. */
static void on_day_slice(struct redisReply *reply, void *arg)
{
	(void)arg;
	in_flight = 0;
	if (!reply || reply->type != REDIS_REPLY_STRING)
		return; /* retried on the next tick */
	cJSON *j = cJSON_Parse(reply->str);
	const cJSON *expired = cJSON_GetObjectItemCaseSensitive(j, "expired");
	const cJSON *remaining = cJSON_GetObjectItemCaseSensitive(j, "remaining");
	long left = cJSON_IsNumber(remaining) ? (long)remaining->valuedouble : 0;
	if (cJSON_IsNumber(expired))
		expired_total += (long)expired->valuedouble;
	cJSON_Delete(j);
	if (left > 0) {
		daychange_call();
		return;
	}
	pending = 0;
	if (expired_total > 0)
		log_info("day change: %ld waiting tickets expired", expired_total);
	expired_total = 0;
}

/* Sends one qh_day call; on failure the next tick tries again. */
static void daychange_call(void)
{
	if (store_ready() && store_fcall("qh_day", 0, on_day_slice, NULL, 0, NULL) == 0)
		in_flight = 1;
}

/* Remembers today's day: qh_setup runs the day change up to today. */
void daychange_init(void)
{
	sitetime_day(clock_now(), last_day);
}

/* Once a second: starts the day change when the day moved on, and goes on with one left
 * unfinished (a restart or a lost link in the middle of it); 1 when the day just moved on. */
int daychange_tick(void)
{
	char day[11];
	int moved = 0;
	sitetime_day(clock_now(), day);
	if (strcmp(day, last_day) != 0 && store_ready()) {
		log_info("day is now %s", day);
		memcpy(last_day, day, sizeof last_day);
		pending = 1;
		moved = 1;
	}
	if (pending && !in_flight)
		daychange_call();
	return moved;
}
