/* The console's picture of its window: what the server said in hello, snapshot, responses
 * and events, kept while the server is away. No curses and no network here (unit-tested). */
#include "counter.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Formats, then drops the bytes of a character the end of the buffer split. */
void app_format(char *out, size_t size, const char *fmt, ...)
{
	if (size == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	if (n < 0) {
		out[0] = '\0';
		return;
	}
	if ((size_t)n < size)
		return;
	size_t len = size - 1;
	size_t start = len;
	while (start > 0 && ((unsigned char)out[start - 1] & 0xc0) == 0x80)
		start--;
	if (start > 0 && ((unsigned char)out[start - 1] & 0x80)) {
		/* out[start - 1] leads a sequence: keep it only if all its bytes made it. */
		unsigned char lead = (unsigned char)out[start - 1];
		size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
		if (len - (start - 1) < need)
			out[start - 1] = '\0';
	}
}

/* Copies a string member, bounded, or "" when there is none. */
void app_json_string(const cJSON *obj, const char *name, char *out, size_t size)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
	app_format(out, size, "%s", cJSON_IsString(item) ? item->valuestring : "");
}

/* Reads an integer member; JSON null (a time not reached yet) gives the fallback. */
long long app_json_int(const cJSON *obj, const char *name, long long fallback)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsNumber(item) ? (long long)item->valuedouble : fallback;
}

/* Fills a ticket from the protocol's ticket object. */
void app_ticket_from_json(struct app_ticket *t, const cJSON *obj)
{
	memset(t, 0, sizeof *t);
	if (!cJSON_IsObject(obj))
		return;
	app_json_string(obj, "id", t->id, sizeof t->id);
	app_json_string(obj, "number", t->number, sizeof t->number);
	app_json_string(obj, "service", t->service, sizeof t->service);
	app_json_string(obj, "class", t->ticket_class, sizeof t->ticket_class);
	app_json_string(obj, "state", t->state, sizeof t->state);
	app_json_string(obj, "clerk", t->clerk, sizeof t->clerk);
	t->issued_at = app_json_int(obj, "issued_at", 0);
	t->called_at = app_json_int(obj, "called_at", 0);
	t->started_at = app_json_int(obj, "started_at", 0);
	t->finished_at = app_json_int(obj, "finished_at", 0);
	t->window = (int)app_json_int(obj, "window", 0);
	t->recalls = (int)app_json_int(obj, "recalls", 0);
	t->transfers = (int)app_json_int(obj, "transfers", 0);
	t->present = t->number[0] != '\0';
}

/* Fills a window from the protocol's window object; ["*"] marks a comprehensive window. */
void app_window_from_json(struct app_window *w, const cJSON *obj)
{
	w->id = (int)app_json_int(obj, "id", w->id);
	if (cJSON_GetObjectItemCaseSensitive(obj, "name"))
		app_json_string(obj, "name", w->name, sizeof w->name);
	if (cJSON_GetObjectItemCaseSensitive(obj, "name_en"))
		app_json_string(obj, "name_en", w->name_en, sizeof w->name_en);
	const cJSON *services = cJSON_GetObjectItemCaseSensitive(obj, "services");
	if (cJSON_IsArray(services)) {
		w->comprehensive = false;
		app_format(w->services, sizeof w->services, ",");
		const cJSON *s;
		cJSON_ArrayForEach(s, services) {
			if (!cJSON_IsString(s))
				continue;
			if (strcmp(s->valuestring, "*") == 0)
				w->comprehensive = true;
			size_t at = strlen(w->services);
			if (at + strlen(s->valuestring) + 2 < sizeof w->services)
				app_format(w->services + at, sizeof w->services - at, "%s,", s->valuestring);
		}
	}
	if (cJSON_GetObjectItemCaseSensitive(obj, "state"))
		app_json_string(obj, "state", w->state, sizeof w->state);
	/* A window without a reason is not paused for one: clear it rather than keep an old one. */
	app_json_string(obj, "reason", w->reason, sizeof w->reason);
	if (cJSON_GetObjectItemCaseSensitive(obj, "ticket"))
		app_json_string(obj, "ticket", w->ticket, sizeof w->ticket);
	if (cJSON_GetObjectItemCaseSensitive(obj, "clerk"))
		app_json_string(obj, "clerk", w->clerk, sizeof w->clerk);
	/* Only a server that sends since (protocol 2) gives the time in state; an older one
	 * leaves it 0, and the screen shows the state alone. */
	w->since = app_json_int(obj, "since", 0);
}

/* Looks the service up in the window's ",A,B," list. */
bool app_window_serves(const struct app_window *w, const char *service)
{
	if (w->comprehensive)
		return true;
	char needle[COUNTER_ID_MAX + 2];
	app_format(needle, sizeof needle, ",%s,", service);
	return strstr(w->services, needle) != NULL;
}

/* Milliseconds of the monotonic clock. */
long long app_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits are measured on the server's clock (which tests and simulators move), so the console
 * keeps an estimate of it: authoritative readings (site.time, ping) set it, others (times in
 * events, which are at or before now) only move it forward. */
void app_clock_seen(struct app *app, long long server_now, bool authoritative)
{
	if (server_now <= 0)
		return;
	if (authoritative || app->anchor_ms == 0 || server_now > app_now(app)) {
		app->server_time = server_now;
		app->anchor_ms = app_monotonic_ms();
	}
}

/* The estimate: last reading plus the time elapsed here since. */
long long app_now(const struct app *app)
{
	if (app->anchor_ms == 0)
		return (long long)time(NULL);
	return app->server_time + (app_monotonic_ms() - app->anchor_ms) / 1000;
}

/* Reads the site's names and date, which hello and snapshot both carry. */
void app_apply_site(struct app *app, const cJSON *site)
{
	if (!cJSON_IsObject(site))
		return;
	/* Only what is there: a newer answer that leaves a member out does not blank the header. */
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(site, "name")))
		app_json_string(site, "name", app->site_name, sizeof app->site_name);
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(site, "name_en")))
		app_json_string(site, "name_en", app->site_name_en, sizeof app->site_name_en);
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(site, "date")))
		app_json_string(site, "date", app->site_date, sizeof app->site_date);
	/* The header's clock shows the hall's time, wherever the console's machine thinks it is. */
	char tz[64];
	app_json_string(site, "tz", tz, sizeof tz);
	const char *current = getenv("TZ");
	if (tz[0] && (!current || strcmp(current, tz) != 0)) {
		setenv("TZ", tz, 1);
		tzset();
	}
	if (tz[0])
		app->site_known = true;
	app_clock_seen(app, app_json_int(site, "time", 0), true);
}

/* Takes site, user and the window as the server opened it for us. */
void app_apply_hello(struct app *app, const cJSON *hello)
{
	app_apply_site(app, cJSON_GetObjectItemCaseSensitive(hello, "site"));
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(hello, "user");
	if (cJSON_IsObject(user))
		app_json_string(user, "name", app->user_name, sizeof app->user_name);
	const cJSON *window = cJSON_GetObjectItemCaseSensitive(hello, "window");
	if (cJSON_IsObject(window))
		app_window_from_json(&app->me, window);
}

/* Takes the services with their live counts, and every window for the transfer list. */
void app_apply_snapshot(struct app *app, const cJSON *snapshot)
{
	app_apply_site(app, cJSON_GetObjectItemCaseSensitive(snapshot, "site"));
	const cJSON *services = cJSON_GetObjectItemCaseSensitive(snapshot, "services");
	if (cJSON_IsArray(services)) {
		app->nservices = 0;
		const cJSON *s;
		cJSON_ArrayForEach(s, services) {
			if (app->nservices == COUNTER_SERVICES_MAX)
				break;
			struct app_service *svc = &app->services[app->nservices++];
			app_json_string(s, "id", svc->id, sizeof svc->id);
			app_json_string(s, "name", svc->name, sizeof svc->name);
			app_json_string(s, "name_en", svc->name_en, sizeof svc->name_en);
			svc->waiting = (int)app_json_int(s, "waiting", 0);
			svc->ewt = (int)app_json_int(s, "ewt", 0);
			svc->ewt_low = (int)app_json_int(s, "ewt_low", -1);
			svc->ewt_high = (int)app_json_int(s, "ewt_high", -1);
		}
	}
	const cJSON *windows = cJSON_GetObjectItemCaseSensitive(snapshot, "windows");
	if (cJSON_IsArray(windows)) {
		app->nwindows = 0;
		const cJSON *w;
		cJSON_ArrayForEach(w, windows) {
			if (app->nwindows == COUNTER_WINDOWS_MAX)
				break;
			struct app_window *win = &app->windows[app->nwindows++];
			memset(win, 0, sizeof *win);
			app_window_from_json(win, w);
			if (win->id == app->window_id)
				app_window_from_json(&app->me, w);
		}
	}
}

/* Replaces the list; the server already sorted it in call order. */
void app_apply_queue(struct app *app, const cJSON *tickets)
{
	if (!cJSON_IsArray(tickets))
		return;
	app->nqueue = 0;
	const cJSON *t;
	cJSON_ArrayForEach(t, tickets) {
		if (app->nqueue == COUNTER_QUEUE_MAX)
			break;
		app_ticket_from_json(&app->queue[app->nqueue], t);
		if (app->queue[app->nqueue].present)
			app->nqueue++;
	}
	app->queue_known = true;
}

/* Finds the row keyed by the clerk (or, from a by-window answer, by the window); no row means
 * nothing served yet today. */
bool app_apply_stats(struct app *app, const cJSON *rows)
{
	app->stats_from_server = true;
	app->served = 0;
	app->service_seconds = 0;
	char window_key[16];
	app_format(window_key, sizeof window_key, "%d", app->window_id);
	const cJSON *row;
	cJSON_ArrayForEach(row, rows) {
		const cJSON *key = cJSON_GetObjectItemCaseSensitive(row, "key");
		bool mine = (cJSON_IsString(key) && (strcmp(key->valuestring, app->user) == 0 ||
						       strcmp(key->valuestring, window_key) == 0)) ||
			    (cJSON_IsNumber(key) && key->valueint == app->window_id);
		if (!mine)
			continue;
		app->served = (int)app_json_int(row, "served", 0);
		long long mean = app_json_int(row, "service_mean", 0);
		app->service_seconds = mean * app->served;
		return true;
	}
	return false;
}

/* Updates our window and the transfer list's copy; reports a ticket we must fetch. */
bool app_apply_window(struct app *app, const cJSON *window)
{
	int id = (int)app_json_int(window, "id", 0);
	for (int i = 0; i < app->nwindows; i++)
		if (app->windows[i].id == id)
			app_window_from_json(&app->windows[i], window);
	if (id != app->window_id)
		return false;
	app_window_from_json(&app->me, window);
	if (!app->me.ticket[0]) {
		memset(&app->current, 0, sizeof app->current);
		return false;
	}
	return !app->current.present || strcmp(app->current.number, app->me.ticket) != 0;
}

/* A ticket at our window (called or serving) is the current one; the current one leaving
 * (done, no-show, transferred, requeued) clears it. Our own finished tickets are counted
 * when the server has no stats op to ask. */
void app_apply_ticket(struct app *app, const cJSON *ticket, bool from_event)
{
	struct app_ticket t;
	app_ticket_from_json(&t, ticket);
	if (!t.present)
		return;
	long long latest = t.issued_at;
	if (t.called_at > latest)
		latest = t.called_at;
	if (t.started_at > latest)
		latest = t.started_at;
	if (t.finished_at > latest)
		latest = t.finished_at;
	app_clock_seen(app, latest, false);
	bool at_window = t.window == app->window_id &&
			 (strcmp(t.state, "called") == 0 || strcmp(t.state, "serving") == 0);
	if (at_window)
		app->current = t;
	else if (app->current.present && strcmp(app->current.id, t.id) == 0)
		memset(&app->current, 0, sizeof app->current);
	if (from_event && !app->stats_from_server && t.window == app->window_id &&
	    strcmp(t.state, "done") == 0 && strcmp(t.clerk, app->user) == 0) {
		long long from = t.called_at ? t.called_at : t.started_at;
		app->served++;
		if (from && t.finished_at >= from)
			app->service_seconds += t.finished_at - from;
	}
}

/* Keeps the per-service waiting count and estimate current between snapshots. */
bool app_apply_queue_event(struct app *app, const cJSON *event)
{
	char id[COUNTER_ID_MAX];
	app_json_string(event, "service", id, sizeof id);
	for (int i = 0; i < app->nservices; i++) {
		if (strcmp(app->services[i].id, id) != 0)
			continue;
		app->services[i].waiting = (int)app_json_int(event, "waiting", app->services[i].waiting);
		app->services[i].ewt = (int)app_json_int(event, "ewt", app->services[i].ewt);
		/* a range goes with its ewt: none sent, none shown */
		app->services[i].ewt_low = (int)app_json_int(event, "ewt_low", -1);
		app->services[i].ewt_high = (int)app_json_int(event, "ewt_high", -1);
	}
	return app_window_serves(&app->me, id);
}

/* The service of that id, or NULL. */
const struct app_service *app_service(const struct app *app, const char *id)
{
	for (int i = 0; i < app->nservices; i++)
		if (strcmp(app->services[i].id, id) == 0)
			return &app->services[i];
	return NULL;
}

/* Formats the message; the status line shows it until the next one. */
void app_message(struct app *app, bool is_error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(app->message, sizeof app->message, fmt, ap);
	va_end(ap);
	app->message_is_error = is_error;
	app->message_at_ms = app_monotonic_ms();
}

/* A notice has said its piece after COUNTER_NOTICE_SECONDS; an error, which the clerk may
 * have to act on, stays COUNTER_ERROR_SECONDS. */
const char *app_message_now(const struct app *app, long long now_ms)
{
	long long keep = (app->message_is_error ? COUNTER_ERROR_SECONDS : COUNTER_NOTICE_SECONDS) * 1000LL;
	if (now_ms - app->message_at_ms >= keep)
		return "";
	return app->message;
}

/* call_next finishes a ticket at the window as served, whether it was started or only called:
 * say so, so a clerk whose citizen did not come uses no-show instead. */
void app_next_effect(const struct app *app, char *out, size_t size)
{
	const struct app_ticket *t = &app->current;
	if (!t->present) {
		app_format(out, size, "%s", "");
		return;
	}
	if (strcmp(t->state, "called") == 0)
		app_format(out, size, "n: %s 算作已办 counts as served", t->number);
	else
		app_format(out, size, "n: %s 办结 done, call next", t->number);
}

/* Mean of the service times counted so far. */
long long app_mean_service(const struct app *app)
{
	if (app->served <= 0)
		return -1;
	return app->service_seconds / app->served;
}
