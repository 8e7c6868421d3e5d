/* The protocol's objects out of the compact forms of the function library: the events of a
 * stream entry or published message, and the results of ticket and window functions.
 * One function call records what it changed as compact events, in order, in a text form:
 * one event a line, its values separated by ',', a ',', newline or backslash inside a value
 * escaped with a backslash, the trailing "" of an event left out; earlier versions wrote them
 * as one JSON array of arrays (docs/functions.md). The compact events, as arrays:
 *   ["t", id, number, service, class, channel, state, issued_at, called_at, started_at,
 *    finished_at, window, clerk, recalls, transfers, rating, ahead, ewt, closed_by_day,
 *    ewt_low, ewt_high]
 *   ["w", id, state, ticket number, clerk, since, reason]
 *   ["q", service, waiting, ewt, ahead, ewt_low, ewt_high]
 *   ["c", ticket id, window, recall, at]      (after the "t" of that ticket; id "" for it)
 *   ["C", at, recall, window]                 (a call, after its ticket's line: each "" when
 *                                               that ticket tells it, at as seconds after its
 *                                               called_at, the recall its recalls)
 *   ["W", state code, id, since, clerk]       (a window, after the line of a ticket: id, since
 *                                               and clerk "" when they are that ticket's window,
 *                                               latest time and clerk; the ticket number that
 *                                               ticket's while calling or serving, none idle)
 *   ["L", set, joined learnt times]            (no event: what the wait model's inputs of this
 *                                               entry and later ones name, joined.c)
 * with every value a string and "" for none. Tickets are written in a shorter form of the same
 * fields, "T" instead of "t": number "" when it is the id's part after the '-', class "" for
 * normal and channel "" for kiosk, recalls and transfers "" for 0, called_at, started_at and
 * finished_at as seconds after issued_at, and the trailing "" left out (ticket_text); entries
 * write them as "U", the "T" form with the state as a one-letter code (but a waiting ticket's,
 * which stays "T" with the word, so that a take's entry stays readable). The version before
 * knows neither "U", "C" nor "W": it drops an entry holding one, whole (eventbuild_entry
 * answers -1 for an event it cannot make), instead of misreading it. qserver makes the Ticket,
 * Window and event objects of PROTOCOL.md from them, adding what the config holds (window
 * names and services).
 * Entries of earlier versions hold one event object, or an array of event objects; those are
 * passed on as they are. Results are "ticket\n" T ("ticket" alone for none) and "window\n" W
 * with T and W in the text form, or ["ticket", T or null], ["window", W],
 * ["tickets", [T...]] and ["ticket", T, {more members}] with T and W as JSON arrays, or a
 * JSON object passed on as it is but
 * for a leading "services" string "<id> <waiting> <ahead> <ewt> <ewt_low> <ewt_high>;..." (qh_services, qh_snapshot),
 * which becomes the array of Service objects with prefix and names from the config. */
#include "qserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum field_kind { FIELD_STRING, FIELD_INT, FIELD_FLAG };

struct field {
	const char *key;
	enum field_kind kind;
};

/* The Ticket object's fields in the order of the compact event (after its "t"). */
static const struct field ticket_fields[] = {
	{"id", FIELD_STRING},	     {"number", FIELD_STRING},	 {"service", FIELD_STRING},
	{"class", FIELD_STRING},     {"channel", FIELD_STRING},	 {"state", FIELD_STRING},
	{"issued_at", FIELD_INT},    {"called_at", FIELD_INT},	 {"started_at", FIELD_INT},
	{"finished_at", FIELD_INT},  {"window", FIELD_INT},	 {"clerk", FIELD_STRING},
	{"recalls", FIELD_INT},	     {"transfers", FIELD_INT},	 {"rating", FIELD_INT},
	{"ahead", FIELD_INT},	     {"ewt", FIELD_INT},	 {"closed_by_day", FIELD_FLAG},
	{"ewt_low", FIELD_INT},	     {"ewt_high", FIELD_INT},
};
#define TICKET_FIELDS (sizeof ticket_fields / sizeof ticket_fields[0])
/* Entries of earlier versions end at closed_by_day (no ewt_low, ewt_high). */
#define TICKET_FIELDS_V1 (TICKET_FIELDS - 2)
/* The short form holds at least id .. state (the rest may be left out as ""). */
#define TICKET_FIELDS_SHORT_MIN 6

/* The string at position i of a compact event, or NULL when it is not one. */
static const char *compact_string(const cJSON *a, int i)
{
	const cJSON *v = cJSON_GetArrayItem(a, i);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Adds key: a string, or null for "". */
static void add_string(cJSON *o, const char *key, const char *v)
{
	if (*v)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

/* Adds key: the integer a decimal string holds, or null for "". */
static void add_int(cJSON *o, const char *key, const char *v)
{
	if (*v)
		cJSON_AddNumberToObject(o, key, (double)strtoll(v, NULL, 10));
	else
		cJSON_AddNullToObject(o, key);
}

/* Positions (0-based, after the kind) of the Ticket fields the short "T" form stores apart. */
enum { TF_ID = 0, TF_NUMBER = 1, TF_CLASS = 3, TF_CHANNEL = 4, TF_STATE = 5, TF_ISSUED = 6, TF_CALLED = 7,
       TF_FINISHED = 9, TF_RECALLS = 12, TF_TRANSFERS = 13, TF_AHEAD = 15, TF_EWT = 16, TF_EWT_LOW = 18,
       TF_EWT_HIGH = 19 };

/* A one-letter code and the word it stands for. */
struct code_word {
	char code;
	const char *word;
};

/* A ticket's state in a "U" line, and a window's in a "W" line. */
static const struct code_word ticket_states[] = {{'w', "waiting"}, {'c', "called"},    {'s', "serving"}, {'d', "done"},
						 {'n', "no_show"}, {'x', "cancelled"}, {'e', "expired"},  {0, NULL}};
static const struct code_word window_states[] = {{'i', "idle"}, {'c', "calling"}, {'s', "serving"}, {0, NULL}};

/* The word a one-letter code stands for in a table, or NULL when it is none of them. */
static const char *code_word(const struct code_word *table, const char *code)
{
	for (; code && code[0] && !code[1] && table->word; table++)
		if (table->code == code[0])
			return table->word;
	return NULL;
}

/* Field i of a short "T" (or "U") ticket as the long form holds it (buf holds what is worked
 * out), or NULL when it is malformed. */
static const char *short_ticket_field(const cJSON *a, size_t i, char *buf, size_t size)
{
	int n = cJSON_GetArraySize(a);
	const char *v = (int)i + 1 < n ? compact_string(a, (int)i + 1) : "";
	if (!v)
		return NULL;
	if (i == TF_STATE && strcmp(compact_string(a, 0), "U") == 0)
		return code_word(ticket_states, v);
	if (!*v) {
		const char *id = compact_string(a, TF_ID + 1), *dash = id ? strchr(id, '-') : NULL;
		if (i == TF_NUMBER)
			return dash ? dash + 1 : NULL;
		if (i == TF_CLASS)
			return "normal";
		if (i == TF_CHANNEL)
			return "kiosk";
		if (i == TF_RECALLS || i == TF_TRANSFERS)
			return "0";
		return v;
	}
	if (i < TF_CALLED || i > TF_FINISHED)
		return v;
	/* a time as seconds after issued_at */
	const char *issued = compact_string(a, TF_ISSUED + 1);
	char *end;
	long long after = strtoll(v, &end, 10), at;
	if (!issued || !*issued || *end || __builtin_add_overflow(strtoll(issued, NULL, 10), after, &at))
		return NULL;
	snprintf(buf, size, "%lld", at);
	return buf;
}

/* True when a value holds the wait model's inputs (estimate.c): "n..." as the library writes
 * them, or "m..." as earlier versions did. */
static int is_model_inputs(const char *v)
{
	return v && (v[0] == 'm' || v[0] == 'n');
}

/* Works out a ticket's ewt, ewt_low and ewt_high when its ewt field holds the wait model's
 * inputs ("n..." or "m...", estimate.c) rather than the figure: 1 when it did, 0 when the figures are
 * there already, -1 when the inputs are malformed. */
static int ticket_estimate(const cJSON *a, int is_short, struct estimate *e)
{
	char buf[32];
	const char *ewt = compact_string(a, TF_EWT + 1);
	if (!is_model_inputs(ewt))
		return 0;
	const char *ahead = compact_string(a, TF_AHEAD + 1);
	const char *class = is_short ? short_ticket_field(a, TF_CLASS, buf, sizeof buf) : compact_string(a, TF_CLASS + 1);
	if (!ahead || !*ahead || !class)
		return -1;
	return estimate_ticket(ewt, strtoll(ahead, NULL, 10), class, e) < 0 ? -1 : 1;
}

/* True when a compact event is a ticket in the short form: "T", or "U" (its state coded). */
static int is_short_ticket(const char *kind)
{
	return kind && (strcmp(kind, "T") == 0 || strcmp(kind, "U") == 0);
}

/* The Ticket object of a compact "t" (or short "T" or "U") event, or NULL when it is malformed. */
static cJSON *ticket_object(const cJSON *a)
{
	const char *kind = compact_string(a, 0);
	int size = cJSON_GetArraySize(a);
	int is_short = is_short_ticket(kind);
	if (is_short ? size < TICKET_FIELDS_SHORT_MIN + 1 || size > (int)TICKET_FIELDS + 1
		     : !kind || strcmp(kind, "t") != 0 ||
			       (size != (int)TICKET_FIELDS + 1 && size != (int)TICKET_FIELDS_V1 + 1))
		return NULL;
	if (is_short)
		size = (int)TICKET_FIELDS + 1;
	struct estimate est;
	int modelled = ticket_estimate(a, is_short, &est);
	if (modelled < 0)
		return NULL;
	cJSON *t = cJSON_CreateObject();
	for (size_t i = 0; i + 1 < (size_t)size; i++) {
		char buf[32];
		const char *v = is_short ? short_ticket_field(a, i, buf, sizeof buf) : compact_string(a, (int)i + 1);
		if (!v) {
			cJSON_Delete(t);
			return NULL;
		}
		if (modelled && (i == TF_EWT || i == TF_EWT_LOW || i == TF_EWT_HIGH))
			cJSON_AddNumberToObject(t, ticket_fields[i].key,
						(double)(i == TF_EWT ? est.ewt : i == TF_EWT_LOW ? est.ewt_low : est.ewt_high));
		else if (ticket_fields[i].kind == FIELD_STRING)
			add_string(t, ticket_fields[i].key, v);
		else if (ticket_fields[i].kind == FIELD_INT)
			add_int(t, ticket_fields[i].key, v);
		else if (strcmp(v, "1") == 0)
			cJSON_AddTrueToObject(t, ticket_fields[i].key); /* only when set */
	}
	return t;
}

/* The window's id, name and name_en from the config (empty names for one it lacks). */
static cJSON *window_brief(const struct config *cfg, int id)
{
	const struct config_window *w = cfg ? config_window(cfg, id) : NULL;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", id);
	cJSON_AddStringToObject(o, "name", w ? w->name : "");
	cJSON_AddStringToObject(o, "name_en", w ? w->name_en : "");
	return o;
}

/* The Window object of a compact "w" event, or NULL when it is malformed. */
static cJSON *window_object(const struct config *cfg, const cJSON *a)
{
	const char *id = compact_string(a, 1), *state = compact_string(a, 2), *number = compact_string(a, 3),
		   *clerk = compact_string(a, 4), *since = compact_string(a, 5), *reason = compact_string(a, 6);
	const char *kind = compact_string(a, 0);
	if (!kind || strcmp(kind, "w") != 0 || !id || !state || !number || !clerk || !since || !reason || !*id)
		return NULL;
	cJSON *o = window_brief(cfg, atoi(id));
	const struct config_window *w = cfg ? config_window(cfg, atoi(id)) : NULL;
	cJSON *services = cJSON_AddArrayToObject(o, "services");
	if (w && w->all_services)
		cJSON_AddItemToArray(services, cJSON_CreateString("*"));
	for (size_t i = 0; w && i < w->nservices; i++)
		cJSON_AddItemToArray(services, cJSON_CreateString(w->services[i]));
	add_string(o, "state", state);
	add_string(o, "ticket", number);
	add_string(o, "clerk", clerk);
	add_int(o, "since", since);
	if (strcmp(state, "paused") == 0)
		cJSON_AddStringToObject(o, "reason", reason);
	return o;
}

/* The protocol event of one compact event; last_ticket is the latest Ticket object of the
 * message (a "called" event carries it), last_inputs that ticket's wait model inputs (a
 * "queue" event may refer to them). NULL when it is malformed. */
static cJSON *compact_event_object(const struct config *cfg, const cJSON *a, cJSON **last_ticket, const char **last_inputs)
{
	const char *kind = compact_string(a, 0);
	cJSON *ev = cJSON_CreateObject(), *item = NULL;
	if (kind && (strcmp(kind, "t") == 0 || is_short_ticket(kind)) && (item = ticket_object(a))) {
		const char *ewt = compact_string(a, TF_EWT + 1);
		*last_inputs = is_model_inputs(ewt) ? ewt : NULL;
		cJSON_AddStringToObject(ev, "event", "ticket");
		cJSON_Delete(*last_ticket);
		*last_ticket = cJSON_Duplicate(item, 1);
		cJSON_AddItemToObject(ev, "ticket", item);
		return ev;
	}
	if (kind && strcmp(kind, "w") == 0 && (item = window_object(cfg, a))) {
		cJSON_AddStringToObject(ev, "event", "window");
		cJSON_AddItemToObject(ev, "window", item);
		return ev;
	}
	const char *s1 = compact_string(a, 1), *s2 = compact_string(a, 2), *s3 = compact_string(a, 3),
		   *s4 = compact_string(a, 4), *s5 = compact_string(a, 5), *s6 = compact_string(a, 6);
	if (kind && strcmp(kind, "q") == 0 && s1 && s2 && s3 && (is_model_inputs(s3) || s3[0] == '^')) {
		/* the wait model's inputs ("^": those of the ticket before) and, in a hall with a
		 * comprehensive window, the tickets ahead of a new one */
		const char *inputs = is_model_inputs(s3) ? s3 : *last_inputs;
		struct estimate e;
		if (!inputs || !s4 || estimate_new_ticket(inputs, strtoll(s4, NULL, 10), &e) < 0) {
			cJSON_Delete(ev);
			return NULL;
		}
		cJSON_AddStringToObject(ev, "event", "queue");
		cJSON_AddStringToObject(ev, "service", s1);
		add_int(ev, "waiting", s2);
		cJSON_AddNumberToObject(ev, "ewt", (double)e.ewt);
		cJSON_AddNumberToObject(ev, "ahead", (double)e.ahead);
		cJSON_AddNumberToObject(ev, "ewt_low", (double)e.ewt_low);
		cJSON_AddNumberToObject(ev, "ewt_high", (double)e.ewt_high);
		return ev;
	}
	if (kind && strcmp(kind, "q") == 0 && s1 && s2 && s3) {
		cJSON_AddStringToObject(ev, "event", "queue");
		cJSON_AddStringToObject(ev, "service", s1);
		add_int(ev, "waiting", s2);
		add_int(ev, "ewt", s3);
		if (s4)
			add_int(ev, "ahead", s4); /* what a new ticket would be told */
		if (s5 && s6) {
			add_int(ev, "ewt_low", s5);
			add_int(ev, "ewt_high", s6);
		}
		return ev;
	}
	const cJSON *id = *last_ticket ? cJSON_GetObjectItemCaseSensitive(*last_ticket, "id") : NULL;
	/* the ticket id "" (as the library writes it) names the ticket of the "t" before */
	if (kind && strcmp(kind, "c") == 0 && s1 && s2 && s3 && s4 && cJSON_IsString(id) &&
	    (!*s1 || strcmp(id->valuestring, s1) == 0)) {
		cJSON_AddStringToObject(ev, "event", "called");
		cJSON_AddItemToObject(ev, "ticket", cJSON_Duplicate(*last_ticket, 1));
		cJSON_AddItemToObject(ev, "window", window_brief(cfg, atoi(s2)));
		add_int(ev, "recall", s3);
		add_int(ev, "at", s4);
		return ev;
	}
	cJSON_Delete(ev);
	return NULL;
}

/* An integer member of a Ticket object in *out: 1 when it is a number a long long holds (a
 * corrupt entry may hold one that is not: casting it would be undefined), else 0. */
static int ticket_number(const cJSON *t, const char *key, long long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, key);
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= -9223372036854775808.0 && v->valuedouble < 9223372036854775808.0))
		return 0;
	*out = (long long)v->valuedouble;
	return 1;
}

/* The text of an integer member of a Ticket object (buf holds it), or NULL when it is none. */
static const char *ticket_int(const cJSON *t, const char *key, char buf[24])
{
	long long v;
	if (!ticket_number(t, key, &v))
		return NULL;
	snprintf(buf, 24, "%lld", v);
	return buf;
}

/* The latest of a Ticket object's called_at, started_at and finished_at, 0 for none, or -1
 * when one is a number out of range (a corrupt entry). */
static long long ticket_latest_time(const cJSON *t)
{
	static const char *const times[] = {"called_at", "started_at", "finished_at"};
	long long latest = 0, v;
	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
		if (!ticket_number(t, times[i], &v)) {
			if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t, times[i])))
				return -1;
		} else if (v > latest)
			latest = v;
	}
	return latest;
}

/* A compact event of strings (NULL when one is missing: the event is malformed). */
static cJSON *strings_event(const char *const values[], int n)
{
	for (int i = 0; i < n; i++)
		if (!values[i])
			return NULL;
	return cJSON_CreateStringArray(values, n);
}

/* The "c" a "C" line stands for: ["C", at, recall, window] after its ticket's line, each ""
 * when that ticket tells it (at as seconds after its called_at). NULL when it is malformed. */
static cJSON *call_line_expanded(const cJSON *a, const cJSON *ticket)
{
	const char *at = compact_string(a, 1), *recall = compact_string(a, 2), *window = compact_string(a, 3);
	char at_buf[24], recall_buf[24], window_buf[24], *end = NULL;
	long long after = at && *at ? strtoll(at, &end, 10) : 0, called_at, sum;
	if (!at || (end && *end) || !ticket_number(ticket, "called_at", &called_at) ||
	    __builtin_add_overflow(called_at, after, &sum))
		return NULL;
	snprintf(at_buf, sizeof at_buf, "%lld", sum);
	const char *values[] = {"c", "", window && !*window ? ticket_int(ticket, "window", window_buf) : window,
				recall && !*recall ? ticket_int(ticket, "recalls", recall_buf) : recall, at_buf};
	return strings_event(values, 5);
}

/* The "w" a "W" line stands for: ["W", state code, id, since, clerk] after a ticket's line,
 * id, since and clerk "" when they are that ticket's window, latest time and clerk, and the
 * ticket number that ticket's while calling or serving, none while idle. NULL when malformed. */
static cJSON *window_line_expanded(const cJSON *a, const cJSON *ticket)
{
	const char *state = code_word(window_states, compact_string(a, 1)), *id = compact_string(a, 2),
		   *since = compact_string(a, 3), *clerk = compact_string(a, 4);
	const cJSON *number = cJSON_GetObjectItemCaseSensitive(ticket, "number");
	const cJSON *ticket_clerk = cJSON_GetObjectItemCaseSensitive(ticket, "clerk");
	char id_buf[24], since_buf[24];
	long long latest = ticket ? ticket_latest_time(ticket) : 0;
	if (!ticket || !state || !since || (!*since && latest <= 0))
		return NULL;
	if (!*since) {
		snprintf(since_buf, sizeof since_buf, "%lld", latest);
		since = since_buf;
	}
	if (clerk && !*clerk)
		clerk = cJSON_IsString(ticket_clerk) ? ticket_clerk->valuestring : "";
	const char *values[] = {"w", id && !*id ? ticket_int(ticket, "window", id_buf) : id, state,
				strcmp(state, "idle") == 0 ? "" : cJSON_IsString(number) ? number->valuestring : NULL,
				clerk, since, ""};
	return strings_event(values, 7);
}

/* The protocol event of one compact event (as compact_event_object), a "C" or "W" line read as
 * the "c" or "w" it stands for. */
static cJSON *event_object(const struct config *cfg, const cJSON *a, cJSON **last_ticket, const char **last_inputs)
{
	const char *kind = compact_string(a, 0);
	if (!kind || (strcmp(kind, "C") != 0 && strcmp(kind, "W") != 0))
		return compact_event_object(cfg, a, last_ticket, last_inputs);
	cJSON *full = kind[0] == 'C' ? call_line_expanded(a, *last_ticket) : window_line_expanded(a, *last_ticket);
	cJSON *ev = full ? compact_event_object(cfg, full, last_ticket, last_inputs) : NULL;
	cJSON_Delete(full);
	return ev;
}

/* Pads an event of the text form to the values its kind always has (the text form leaves
 * out trailing ""): a window's 7 ("W" 5), a call's 5 ("C" 4), and a queue event with model inputs 5. Returns
 * -1 when it has more values than its kind (a ',' left unescaped), else 0. */
static int text_event_pad(cJSON *ev)
{
	const char *kind = compact_string(ev, 0), *inputs = compact_string(ev, 3);
	int want = 0, most = (int)TICKET_FIELDS + 1;
	if (kind && strcmp(kind, "w") == 0)
		want = most = 7;
	else if (kind && strcmp(kind, "c") == 0)
		want = most = 5;
	else if (kind && strcmp(kind, "W") == 0)
		want = most = 5;
	else if (kind && strcmp(kind, "C") == 0)
		want = most = 4;
	else if (kind && strcmp(kind, "L") == 0)
		want = most = 3;
	else if (kind && strcmp(kind, "q") == 0) {
		want = inputs && (is_model_inputs(inputs) || inputs[0] == '^') ? 5 : 0;
		most = 7;
	}
	if (cJSON_GetArraySize(ev) > most)
		return -1;
	while (cJSON_GetArraySize(ev) < want)
		cJSON_AddItemToArray(ev, cJSON_CreateString(""));
	return 0;
}

/* The compact events of a message in the text form, as the array of arrays of strings the
 * JSON form parses to, or NULL when it is malformed: one event a line, its values separated
 * by ',', a ',', newline or backslash inside a value written \, \n or \\, and the trailing ""
 * of an event left out. */
static cJSON *text_events(const char *s, size_t len)
{
	char *value = malloc(len + 1);
	cJSON *msg = cJSON_CreateArray(), *ev = NULL;
	size_t n = 0;
	if (!value || !msg)
		goto malformed;
	for (size_t i = 0; i <= len; i++) {
		char c = i == len ? '\n' : s[i];
		if (c == '\\') {
			char e = i + 1 < len ? s[++i] : '\0';
			if (e != ',' && e != 'n' && e != '\\')
				goto malformed;
			value[n++] = e == 'n' ? '\n' : e;
			continue;
		}
		if (c != ',' && c != '\n') {
			value[n++] = c;
			continue;
		}
		value[n] = '\0';
		n = 0;
		if (!ev && !cJSON_AddItemToArray(msg, ev = cJSON_CreateArray())) {
			cJSON_Delete(ev); /* out of memory */
			goto malformed;
		}
		cJSON *item = cJSON_CreateString(value);
		if (!cJSON_AddItemToArray(ev, item)) {
			cJSON_Delete(item);
			goto malformed;
		}
		if (c == '\n') {
			if (text_event_pad(ev) < 0)
				goto malformed;
			ev = NULL;
		}
	}
	free(value);
	return msg;
malformed:
	free(value);
	cJSON_Delete(msg);
	return NULL;
}

/* An "L" line of an entry: the joined learnt times of set `key` it records. */
struct entry_set {
	const char *key, *joined;
};

/* The joined learnt times that inputs ending in "@<id>" name ("@": this entry, its latest "L"
 * line of the set so far, `sets`); the set is "*" in a hall with a comprehensive window, else the
 * service. NULL, with *missing set when the store lacks the named entry's. */
static const char *named_joined(const char *inputs, const char *ref, const char *service, const struct entry_set *sets,
				size_t nsets, const struct joined_store *store, int *missing)
{
	const char *key = inputs[1] == '1' ? "*" : service;
	*missing = 0;
	if (!key)
		return NULL;
	if (!*ref) {
		for (size_t i = nsets; i-- > 0;)
			if (strcmp(sets[i].key, key) == 0)
				return sets[i].joined;
		return NULL;
	}
	const char *joined = joined_store_get(store, ref, key);
	*missing = !joined;
	return joined;
}

/* Puts the learnt times named at the end of the inputs at position `at` of a compact event in
 * their place; 0, -1 when malformed, EVENTBUILD_MISSING (the entry's id in `missing`). */
static int resolve_inputs(cJSON *ev, int at, int service_at, const struct entry_set *sets, size_t nsets,
			  const struct joined_store *store, char missing[STREAM_ID_TEXT_MAX])
{
	const char *inputs = compact_string(ev, at), *bar = inputs ? strrchr(inputs, '|') : NULL;
	if (!inputs || inputs[0] != 'n' || !bar || bar[1] != '@')
		return 0;
	int absent;
	const char *joined = named_joined(inputs, bar + 2, compact_string(ev, service_at), sets, nsets, store, &absent);
	if (!joined) {
		if (!absent || !missing || strlen(bar + 2) >= STREAM_ID_TEXT_MAX)
			return -1;
		strcpy(missing, bar + 2);
		return EVENTBUILD_MISSING;
	}
	size_t head = (size_t)(bar + 1 - inputs), n = strlen(joined);
	char *whole = malloc(head + n + 1);
	if (!whole)
		return -1;
	memcpy(whole, inputs, head);
	memcpy(whole + head, joined, n + 1);
	cJSON *item = cJSON_CreateString(whole);
	free(whole);
	return item && cJSON_ReplaceItemInArray(ev, at, item) ? 0 : -1;
}

/* Gives every event of a message its learnt times in full: those an "L" line of it holds, or
 * an earlier entry (the store); collects its "L" lines in `sets` (as many as its events). */
static int resolve_message(cJSON *msg, struct entry_set *sets, size_t *nsets, const struct joined_store *store,
			   char missing[STREAM_ID_TEXT_MAX])
{
	cJSON *item;
	cJSON_ArrayForEach(item, msg) {
		const char *kind = cJSON_IsArray(item) ? compact_string(item, 0) : NULL;
		int rc = 0;
		if (!kind)
			continue;
		if (strcmp(kind, "L") == 0) {
			const char *key = compact_string(item, 1), *joined = compact_string(item, 2);
			if (!key || !joined)
				return -1;
			sets[(*nsets)++] = (struct entry_set){key, joined};
		} else if (is_short_ticket(kind) || strcmp(kind, "t") == 0) {
			rc = resolve_inputs(item, TF_EWT + 1, 3, sets, *nsets, store, missing);
		} else if (strcmp(kind, "q") == 0) {
			rc = resolve_inputs(item, 3, 1, sets, *nsets, store, missing);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* True when a compact event is an "L" line (learnt times, no event of its own). */
static int is_set_line(const cJSON *item)
{
	const char *kind = cJSON_IsArray(item) ? compact_string(item, 0) : NULL;
	return kind && strcmp(kind, "L") == 0;
}

/* A message's compact events, parsed: a JSON array (earlier versions) or the text form. */
static cJSON *parse_message(const char *json, size_t len)
{
	return len && json[0] == '[' ? cJSON_ParseWithLength(json, len) : text_events(json, len);
}

int eventbuild_entry(const struct config *cfg, struct joined_store *store, const char *id, const char *json, size_t len,
		     eventbuild_fn *each, void *arg, char missing[STREAM_ID_TEXT_MAX])
{
	while (len && (*json == ' ' || *json == '\n')) {
		json++;
		len--;
	}
	if (len && json[0] == '{') {
		each(json, len, arg); /* one event of an earlier version */
		return 1;
	}
	cJSON *msg = parse_message(json, len);
	if (!cJSON_IsArray(msg)) {
		cJSON_Delete(msg);
		return -1;
	}
	int n = cJSON_GetArraySize(msg);
	struct entry_set *sets = calloc(n > 0 ? (size_t)n : 1, sizeof *sets);
	size_t nsets = 0;
	int resolved = sets ? resolve_message(msg, sets, &nsets, store, missing) : -1;
	if (resolved < 0) {
		free(sets);
		cJSON_Delete(msg);
		return resolved;
	}
	char **texts = calloc(n > 0 ? (size_t)n : 1, sizeof *texts);
	cJSON *last_ticket = NULL, *item;
	const char *last_inputs = NULL;
	int built = 0, events = n - (int)nsets;
	cJSON_ArrayForEach(item, msg) {
		if (is_set_line(item))
			continue;
		cJSON *ev = cJSON_IsObject(item) ? cJSON_Duplicate(item, 1) : event_object(cfg, item, &last_ticket, &last_inputs);
		if (!texts || !ev || !(texts[built] = cJSON_PrintUnformatted(ev))) {
			cJSON_Delete(ev);
			break;
		}
		cJSON_Delete(ev);
		built++;
	}
	cJSON_Delete(last_ticket);
	int ok = texts && built == events;
	/* the sets this entry records, for the entries that name it (the last of a set wins) */
	for (size_t i = 0; ok && store && id && i < nsets; i++)
		joined_store_put(store, id, sets[i].key, sets[i].joined);
	free(sets);
	cJSON_Delete(msg);
	for (int i = 0; i < built; i++) {
		if (ok)
			each(texts[i], strlen(texts[i]), arg);
		free(texts[i]);
	}
	free(texts);
	return ok ? events : -1;
}

/* Calls each(event, length, arg) for every event of a message, in order; returns how many,
 * or -1 (having called nothing) when the message is malformed (or names another entry's
 * learnt times: it has no store to find them in). */
int eventbuild_each(const struct config *cfg, const char *json, size_t len, eventbuild_fn *each, void *arg)
{
	return eventbuild_entry(cfg, NULL, NULL, json, len, each, arg, NULL);
}

void eventbuild_learn(struct joined_store *store, const char *id, const char *json, size_t len)
{
	cJSON *msg = len && json[0] != '{' ? parse_message(json, len) : NULL, *item;
	cJSON_ArrayForEach(item, msg) {
		const char *key = is_set_line(item) ? compact_string(item, 1) : NULL, *joined = compact_string(item, 2);
		if (key && joined)
			joined_store_put(store, id, key, joined);
	}
	cJSON_Delete(msg);
}

/* A growing text buffer; `failed` once memory ran out. */
struct text {
	char *s;
	size_t len, cap;
	int failed;
};

/* Appends n bytes to a text. */
static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 256;
		while (t->len + n + 1 > cap)
			cap *= 2;
		char *grown = realloc(t->s, cap);
		if (!grown) {
			t->failed = 1;
			return;
		}
		t->s = grown;
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

/* Appends a C string. */
static void text_str(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* Appends a JSON string literal of s (n bytes of UTF-8). */
static void text_json_string(struct text *t, const char *s, size_t n)
{
	text_add(t, "\"", 1);
	size_t plain = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		text_add(t, s + plain, i - plain);
		char esc[8];
		if (c == '"' || c == '\\')
			snprintf(esc, sizeof esc, "\\%c", c);
		else
			snprintf(esc, sizeof esc, "\\u%04x", c);
		text_str(t, esc);
		plain = i + 1;
	}
	text_add(t, s + plain, n - plain);
	text_add(t, "\"", 1);
}

/* True when s holds n > 0 bytes of an optionally negative decimal integer. */
static int is_integer(const char *s, size_t n)
{
	size_t i = (n > 1 && s[0] == '-') ? 1 : 0;
	if (i == n)
		return 0;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* The configured service of an id (n bytes), trying position `hint` first: the library lists
 * the services in config order, so a lookup is one comparison, not a search. */
static const struct config_service *service_of(const struct config *cfg, const char *id, size_t n, size_t hint)
{
	if (!cfg)
		return NULL;
	for (size_t k = 0; k <= cfg->nservices; k++) {
		size_t i = k == 0 ? hint : k - 1;
		if (i < cfg->nservices && strlen(cfg->services[i].id) == n && memcmp(cfg->services[i].id, id, n) == 0)
			return &cfg->services[i];
	}
	return NULL;
}

/* Appends the start of a Service object: its id (n bytes), and the prefix and names of its
 * config (empty without one). */
static void service_head(struct text *t, const struct config_service *svc, const char *id, size_t n)
{
	text_str(t, "{\"id\":");
	text_json_string(t, id, n);
	text_str(t, ",\"prefix\":");
	text_json_string(t, svc ? svc->prefix : "", svc ? strlen(svc->prefix) : 0);
	text_str(t, ",\"name\":");
	text_json_string(t, svc ? svc->name : "", svc ? strlen(svc->name) : 0);
	text_str(t, ",\"name_en\":");
	text_json_string(t, svc ? svc->name_en : "", svc ? strlen(svc->name_en) : 0);
}

/* Makes each service's start of its Service object once, when the config is read, so that a
 * service list of thousands copies them instead of escaping every name again; -1 when memory
 * runs out. */
int eventbuild_prepare(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nservices; i++) {
		struct config_service *svc = &cfg->services[i];
		struct text t = {0};
		service_head(&t, svc, svc->id, strlen(svc->id));
		if (t.failed) {
			free(t.s);
			return -1;
		}
		free(svc->json_head);
		svc->json_head = t.s;
		svc->json_head_len = t.len;
	}
	return 0;
}

/* Appends the Service objects of the compact list
 * "<id> <waiting> <ahead> <ewt> <ewt_low> <ewt_high>;..." (n bytes) as a JSON array, names from
 * the config; returns -1 when it is malformed. */
static int services_array(const struct config *cfg, struct text *t, const char *s, size_t n)
{
	enum { PARTS = 6 };
	static const char *const figures[PARTS - 1] = {",\"waiting\":", ",\"ahead\":", ",\"ewt\":",
						     ",\"ewt_low\":", ",\"ewt_high\":"};
	text_add(t, "[", 1);
	size_t at = 0;
	for (size_t i = 0; n > 0 && at <= n; i++) {
		/* every item, the last one too, is followed by ';' or the end: "A ...;" is refused */
		const char *item = s + at, *end = memchr(item, ';', n - at);
		size_t item_len = end ? (size_t)(end - item) : n - at;
		at += item_len + 1;
		const char *part[PARTS];
		size_t part_len[PARTS], p = 0, from = 0;
		for (size_t j = 0; j <= item_len && p < PARTS; j++) {
			if (j == item_len || item[j] == ' ') {
				part[p] = item + from;
				part_len[p++] = j - from;
				from = j + 1;
			}
		}
		if (p != PARTS || from != item_len + 1 || part_len[0] == 0)
			return -1;
		for (int f = 1; f < PARTS; f++)
			if (!is_integer(part[f], part_len[f]))
				return -1;
		const struct config_service *svc = service_of(cfg, part[0], part_len[0], i);
		if (i)
			text_add(t, ",", 1);
		if (svc && svc->json_head)
			text_add(t, svc->json_head, svc->json_head_len);
		else
			service_head(t, svc, part[0], part_len[0]);
		for (int f = 1; f < PARTS; f++) {
			text_str(t, figures[f - 1]);
			text_add(t, part[f], part_len[f]);
		}
		if (svc && svc->appointments.slot_minutes) {
			char appt[96];
			snprintf(appt, sizeof appt, ",\"appointments\":{\"slot_minutes\":%d,\"per_slot\":%d,\"days_ahead\":%d}",
				 svc->appointments.slot_minutes, svc->appointments.per_slot, svc->appointments.days_ahead);
			text_str(t, appt);
		}
		text_add(t, "}", 1);
	}
	text_add(t, "]", 1);
	return 0;
}

/* A result object passed on as it is, but for a leading "services" held compactly (qh_services,
 * qh_snapshot), which becomes the array of Service objects. Returns it malloc'd, or NULL. */
static char *object_result(const struct config *cfg, const char *json, size_t len)
{
	static const char lead[] = "{\"services\":\"";
	const size_t lead_len = sizeof lead - 1;
	struct text t = {0};
	const char *rest = json;
	if (len > lead_len && memcmp(json, lead, lead_len) == 0) {
		const char *body = json + lead_len, *close = memchr(body, '"', len - lead_len);
		if (!close)
			return NULL;
		text_str(&t, "{\"services\":");
		if (services_array(cfg, &t, body, (size_t)(close - body)) < 0) {
			free(t.s);
			return NULL;
		}
		rest = close + 1;
	}
	text_add(&t, rest, len - (size_t)(rest - json));
	if (t.failed) {
		free(t.s);
		return NULL;
	}
	return t.s;
}

/* The result object of a result in the text form: "ticket" or "window", a newline and that
 * ticket or window as a compact event in the text form ("ticket" alone: no ticket), or NULL
 * when it is malformed. */
static cJSON *text_result(const struct config *cfg, const char *s, size_t len)
{
	const char *nl = memchr(s, '\n', len);
	size_t kind_len = nl ? (size_t)(nl - s) : len;
	cJSON *items = nl ? text_events(nl + 1, len - kind_len - 1) : NULL;
	const cJSON *item = cJSON_GetArraySize(items) == 1 ? cJSON_GetArrayItem(items, 0) : NULL;
	cJSON *out = NULL, *obj = NULL;
	if (kind_len == 6 && memcmp(s, "ticket", 6) == 0 && (!nl || (item && (obj = ticket_object(item))))) {
		out = cJSON_CreateObject();
		if (obj)
			cJSON_AddItemToObject(out, "ticket", obj);
		else
			cJSON_AddNullToObject(out, "ticket");
	} else if (kind_len == 6 && memcmp(s, "window", 6) == 0 && item && (obj = window_object(cfg, item))) {
		out = cJSON_CreateObject();
		cJSON_AddItemToObject(out, "window", obj);
	}
	cJSON_Delete(items);
	return out;
}

/* Returns the JSON object text of a function's result (malloc'd), made from its compact form,
 * or NULL when it is malformed. */
char *eventbuild_result(const struct config *cfg, const char *json, size_t len)
{
	if (len && json[0] == '{')
		return object_result(cfg, json, len);
	if (len && json[0] != '[') {
		cJSON *out = text_result(cfg, json, len);
		char *text = out ? cJSON_PrintUnformatted(out) : NULL;
		cJSON_Delete(out);
		return text;
	}
	cJSON *res = cJSON_ParseWithLength(json, len);
	const char *kind = cJSON_IsArray(res) ? compact_string(res, 0) : NULL;
	const cJSON *body = cJSON_GetArrayItem(res, 1);
	cJSON *out = NULL, *item = NULL;
	if (kind && strcmp(kind, "ticket") == 0 && cJSON_IsNull(body)) {
		out = cJSON_CreateObject();
		cJSON_AddNullToObject(out, "ticket");
	} else if (kind && strcmp(kind, "ticket") == 0 && (item = ticket_object(body))) {
		out = cJSON_CreateObject();
		cJSON_AddItemToObject(out, "ticket", item);
	} else if (kind && strcmp(kind, "window") == 0 && (item = window_object(cfg, body))) {
		out = cJSON_CreateObject();
		cJSON_AddItemToObject(out, "window", item);
	} else if (kind && strcmp(kind, "tickets") == 0 && cJSON_IsArray(body)) {
		out = cJSON_CreateObject();
		cJSON *list = cJSON_AddArrayToObject(out, "tickets");
		const cJSON *t;
		cJSON_ArrayForEach(t, body) {
			if (!(item = ticket_object(t))) {
				cJSON_Delete(out);
				out = NULL;
				break;
			}
			cJSON_AddItemToArray(list, item);
		}
	}
	/* a result may add members of its own after the ticket: ["ticket", T, {"notify": ...}] */
	const cJSON *extra = cJSON_GetArrayItem(res, 2), *m;
	if (out && cJSON_IsObject(extra))
		cJSON_ArrayForEach(m, extra)
			cJSON_AddItemToObject(out, m->string, cJSON_Duplicate(m, 1));
	cJSON_Delete(res);
	char *text = out ? cJSON_PrintUnformatted(out) : NULL;
	cJSON_Delete(out);
	return text;
}
