/* The hall as the display last saw it: the site, services (waiting, estimated wait), windows
 * and the calls that have had their turn. Filled from the snapshot and kept current by events;
 * kept as it is while offline, so the screen goes on showing the last data. */
#include "display.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Copies a string member into buf (bounded); leaves buf alone when the member is missing. */
static void state_copy_string(const cJSON *obj, const char *key, char *buf, size_t size)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsString(item))
		snprintf(buf, size, "%s", item->valuestring);
	else if (cJSON_IsNull(item))
		buf[0] = '\0';
}

/* Reads an integer member, or fallback when it is missing or not a number. */
static long long state_get_int(const cJSON *obj, const char *key, long long fallback)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsNumber(item) ? (long long)item->valuedouble : fallback;
}

/* Empties the state. */
void state_init(struct state *st)
{
	memset(st, 0, sizeof *st);
	st->sla = 900;
	st->stats = STATS_WAITING;
}

/* Finds a window by id; NULL when unknown. */
static struct window_info *state_find_window(struct state *st, int id)
{
	for (int i = 0; i < st->nwindows; i++)
		if (st->windows[i].id == id)
			return &st->windows[i];
	return NULL;
}

/* Finds a service by id; NULL when unknown. */
static struct service_info *state_find_service(struct state *st, const char *id)
{
	for (int i = 0; i < st->nservices; i++)
		if (strcmp(st->services[i].id, id) == 0)
			return &st->services[i];
	return NULL;
}

/* Fills a window from a window object (fields it lacks keep their value). */
static void state_read_window(struct window_info *w, const cJSON *obj)
{
	w->id = (int)state_get_int(obj, "id", w->id);
	state_copy_string(obj, "name", w->name, sizeof w->name);
	state_copy_string(obj, "name_en", w->name_en, sizeof w->name_en);
	state_copy_string(obj, "state", w->state, sizeof w->state);
	state_copy_string(obj, "ticket", w->ticket, sizeof w->ticket);
}

/* Fills a service from a service object. */
static void state_read_service(struct service_info *s, const cJSON *obj)
{
	state_copy_string(obj, "id", s->id, sizeof s->id);
	state_copy_string(obj, "prefix", s->prefix, sizeof s->prefix);
	state_copy_string(obj, "name", s->name, sizeof s->name);
	state_copy_string(obj, "name_en", s->name_en, sizeof s->name_en);
	s->waiting = (int)state_get_int(obj, "waiting", s->waiting);
	s->ewt = (int)state_get_int(obj, "ewt", s->ewt);
	s->ewt_low = (int)state_get_int(obj, "ewt_low", -1);
	s->ewt_high = (int)state_get_int(obj, "ewt_high", -1);
}

/* Replaces services and windows with the snapshot's lists; a list the answer lacks is kept. */
void state_apply_snapshot(struct state *st, const cJSON *snapshot)
{
	const cJSON *site = cJSON_GetObjectItemCaseSensitive(snapshot, "site");
	if (cJSON_IsObject(site)) {
		state_copy_string(site, "name", st->site_name, sizeof st->site_name);
		state_copy_string(site, "name_en", st->site_name_en, sizeof st->site_name_en);
		state_copy_string(site, "tz", st->tz, sizeof st->tz);
		state_copy_string(site, "date", st->date, sizeof st->date);
		st->sla = (int)state_get_int(site, "sla", st->sla);
		long long server_time = state_get_int(site, "time", 0);
		if (server_time > 0)
			st->server_offset = server_time - (long long)time(NULL);
		if (st->sla <= 0)
			st->sla = 900;
	}
	const cJSON *services = cJSON_GetObjectItemCaseSensitive(snapshot, "services");
	if (cJSON_IsArray(services)) {
		st->nservices = 0;
		const cJSON *item;
		cJSON_ArrayForEach(item, services)
		{
			if (st->nservices == DISPLAY_MAX_SERVICES)
				break;
			if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "id")))
				continue;
			struct service_info *s = &st->services[st->nservices++];
			memset(s, 0, sizeof *s);
			state_read_service(s, item);
			if (!s->prefix[0])
				memcpy(s->prefix, s->id, sizeof s->prefix); /* same size */
		}
	}
	const cJSON *windows = cJSON_GetObjectItemCaseSensitive(snapshot, "windows");
	if (cJSON_IsArray(windows)) {
		st->nwindows = 0;
		const cJSON *item;
		cJSON_ArrayForEach(item, windows)
		{
			if (st->nwindows == DISPLAY_MAX_WINDOWS)
				break;
			if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(item, "id")))
				continue;
			struct window_info *w = &st->windows[st->nwindows++];
			memset(w, 0, sizeof *w);
			state_read_window(w, item);
		}
	}
	st->have_snapshot = true;
}

/* Fills a call's window names from the window object, or from the known windows. */
static void state_fill_window_names(const struct state *st, struct call *call, const cJSON *window)
{
	call->window_name[0] = call->window_name_en[0] = '\0';
	if (cJSON_IsObject(window)) {
		state_copy_string(window, "name", call->window_name, sizeof call->window_name);
		state_copy_string(window, "name_en", call->window_name_en, sizeof call->window_name_en);
	}
	for (int i = 0; i < st->nwindows && !call->window_name[0]; i++)
		if (st->windows[i].id == call->window) {
			snprintf(call->window_name, sizeof call->window_name, "%s", st->windows[i].name);
			snprintf(call->window_name_en, sizeof call->window_name_en, "%s",
				 st->windows[i].name_en);
		}
}

/* Applies an event; a called event becomes a call for the caller to queue. */
int state_apply_event(struct state *st, const cJSON *event, struct call *call)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(event, "event");
	if (!cJSON_IsString(kind))
		return 0;
	if (strcmp(kind->valuestring, "queue") == 0) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(event, "service");
		struct service_info *s = cJSON_IsString(id) ? state_find_service(st, id->valuestring) : NULL;
		if (s) {
			s->waiting = (int)state_get_int(event, "waiting", s->waiting);
			s->ewt = (int)state_get_int(event, "ewt", s->ewt);
			/* a range goes with its ewt: none sent, none shown */
			s->ewt_low = (int)state_get_int(event, "ewt_low", -1);
			s->ewt_high = (int)state_get_int(event, "ewt_high", -1);
		}
		return 0;
	}
	if (strcmp(kind->valuestring, "window") == 0) {
		const cJSON *obj = cJSON_GetObjectItemCaseSensitive(event, "window");
		long long id = state_get_int(obj, "id", -1);
		struct window_info *w = state_find_window(st, (int)id);
		if (!w && id >= 0 && st->nwindows < DISPLAY_MAX_WINDOWS) {
			w = &st->windows[st->nwindows++];
			memset(w, 0, sizeof *w);
		}
		if (w)
			state_read_window(w, obj);
		return 0;
	}
	if (strcmp(kind->valuestring, "called") != 0)
		return 0;
	const cJSON *ticket = cJSON_GetObjectItemCaseSensitive(event, "ticket");
	const cJSON *window = cJSON_GetObjectItemCaseSensitive(event, "window");
	const cJSON *number = cJSON_GetObjectItemCaseSensitive(ticket, "number");
	if (!cJSON_IsString(number))
		return 0;
	memset(call, 0, sizeof *call);
	snprintf(call->number, sizeof call->number, "%s", number->valuestring);
	state_copy_string(ticket, "service", call->service, sizeof call->service);
	call->window = (int)state_get_int(window, "id", state_get_int(ticket, "window", 0));
	call->recall = (int)state_get_int(event, "recall", state_get_int(ticket, "recalls", 0));
	call->at = state_get_int(event, "at", state_get_int(ticket, "called_at", 0));
	state_fill_window_names(st, call, window);
	return 1;
}

/* Reads {"number","window","at"} of a snapshot's recent list. */
int state_call_from_recent(const struct state *st, const cJSON *item, struct call *call)
{
	const cJSON *number = cJSON_GetObjectItemCaseSensitive(item, "number");
	if (!cJSON_IsString(number))
		return 0;
	memset(call, 0, sizeof *call);
	snprintf(call->number, sizeof call->number, "%s", number->valuestring);
	const cJSON *window = cJSON_GetObjectItemCaseSensitive(item, "window");
	call->window = cJSON_IsObject(window) ? (int)state_get_int(window, "id", 0)
					      : (int)state_get_int(item, "window", 0);
	call->at = state_get_int(item, "at", 0);
	call->recall = (int)state_get_int(item, "recall", 0);
	state_copy_string(item, "service", call->service, sizeof call->service);
	if (!call->service[0]) {
		const struct service_info *s = state_service_of_number(st, call->number);
		if (s)
			snprintf(call->service, sizeof call->service, "%s", s->id);
	}
	state_fill_window_names(st, call, cJSON_IsObject(window) ? window : NULL);
	return 1;
}

/* Shifts the list down by one and puts the call first. */
void state_push_recent(struct state *st, const struct call *call)
{
	int keep = st->nrecent < DISPLAY_MAX_RECENT ? st->nrecent : DISPLAY_MAX_RECENT - 1;
	memmove(&st->recent[1], &st->recent[0], (size_t)keep * sizeof st->recent[0]);
	st->recent[0] = *call;
	st->nrecent = keep + 1;
}

/* The hall's time: ours moved by the server's offset (the server's clock is the hall's). */
time_t state_hall_time(const struct state *st)
{
	return time(NULL) + (time_t)st->server_offset;
}

/* Adds an older call at the end of the recent list when there is room. */
void state_append_recent(struct state *st, const struct call *call)
{
	if (st->nrecent < DISPLAY_MAX_RECENT)
		st->recent[st->nrecent++] = *call;
}

/* Picks the service with the longest prefix that starts the number ("AB001" is AB, not A). */
const struct service_info *state_service_of_number(const struct state *st, const char *number)
{
	const struct service_info *best = NULL;
	size_t best_len = 0;
	for (int i = 0; i < st->nservices; i++) {
		size_t len = strlen(st->services[i].prefix);
		if (len > best_len && strncmp(number, st->services[i].prefix, len) == 0) {
			best = &st->services[i];
			best_len = len;
		}
	}
	return best;
}

/* Compares number, window and time only: a snapshot's recent list does not say which calls
 * were recalls, and its entries must still match the events that announced them. */
bool call_same(const struct call *a, const struct call *b)
{
	return strcmp(a->number, b->number) == 0 && a->window == b->window && a->at == b->at;
}

/* Scans the recent list. */
bool state_knows_call(const struct state *st, const struct call *call)
{
	for (int i = 0; i < st->nrecent; i++)
		if (call_same(&st->recent[i], call))
			return true;
	return false;
}

/* A call is in the zone when its window is and its service is (found by prefix if unnamed). */
bool state_call_in_zone(const struct state *st, const struct zone *zone, const struct call *call)
{
	if (!zone_has_window(zone, call->window))
		return false;
	if (zone->nservices == 0)
		return true;
	const char *service = call->service;
	if (!service[0]) {
		const struct service_info *s = state_service_of_number(st, call->number);
		service = s ? s->id : "";
	}
	return zone_has_service(zone, service);
}

/* Reads the call a ticket at a window stands for: its number, service and window, its recalls,
 * and when it was called. Only a ticket called or being served at a window is one. */
int state_call_from_ticket(const struct state *st, const cJSON *ticket, struct call *call)
{
	const cJSON *number = cJSON_GetObjectItemCaseSensitive(ticket, "number");
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(ticket, "state");
	if (!cJSON_IsString(number) || !cJSON_IsString(state) ||
	    (strcmp(state->valuestring, "called") != 0 && strcmp(state->valuestring, "serving") != 0))
		return 0;
	memset(call, 0, sizeof *call);
	snprintf(call->number, sizeof call->number, "%s", number->valuestring);
	state_copy_string(ticket, "service", call->service, sizeof call->service);
	call->window = (int)state_get_int(ticket, "window", 0);
	call->recall = (int)state_get_int(ticket, "recalls", 0);
	call->at = state_get_int(ticket, "called_at", 0);
	state_fill_window_names(st, call, NULL);
	return call->window > 0;
}

/* Puts an older call where its time says in the newest-first list; when the list is full, a
 * call older than all of it is dropped. */
void state_insert_recent(struct state *st, const struct call *call)
{
	int at = 0;
	while (at < st->nrecent && st->recent[at].at >= call->at)
		at++;
	if (at == DISPLAY_MAX_RECENT)
		return;
	int keep = st->nrecent < DISPLAY_MAX_RECENT ? st->nrecent : DISPLAY_MAX_RECENT - 1;
	memmove(&st->recent[at + 1], &st->recent[at], (size_t)(keep - at) * sizeof st->recent[0]);
	st->recent[at] = *call;
	st->nrecent = keep + 1;
}
