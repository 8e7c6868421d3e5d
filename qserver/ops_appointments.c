/* Appointment ops (预约, PROTOCOL.md v2): slots, book, appointment, cancel_appointment and
 * checkin. qserver works out a service's slots from the hall config in the site's zone; the
 * library (functions.lua, "Appointments") keeps the bookings atomically. */
#include "qserver.h"
#include "log.h"
#include "utf8.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APPT_CODE_LEN 8	     /* 40 random bits in Crockford's base32 */
#define APPT_CODE_ARG_MAX 32 /* what a person may type: the code with dashes and spaces */
#define APPT_REF_MAX 64	     /* characters of a phone number or ID reference */
#define APPT_SLOTS_MAX (24 * 60 / 5 + 1) /* slot_minutes is at least 5 */

/* Wrong codes the public may try from one address before a lock-out (10 minutes, doubling to
 * an hour): 40-bit codes cannot be found by trying. */
#define APPT_WRONG_CODES 20
#define APPT_WRONG_CODE_LOCK_S 600
#define APPT_WRONG_CODE_LOCK_MAX_S 3600
#define APPT_WRONG_CODE_SLOTS 4096

static struct budget *wrong_codes; /* keys "w:<address>" */

/* Crockford's base32: no I, L, O or U, so a code read aloud or typed is hard to get wrong. */
static const char appt_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* One slot of a day: its start and end (minutes after midnight) and its check-in window. */
struct appt_slot {
	int start, end;
	time_t starts_at, checkin_from, checkin_until;
	char start_text[6], end_text[6];
};

/* Writes "HH:MM" of a minute of the day. */
static void appt_clock(int minute, char out[6])
{
	snprintf(out, 6, "%02u:%02u", (unsigned)minute / 60 % 100, (unsigned)minute % 60);
}

/* Today's day number at the site. */
static long appt_today(const struct site *site)
{
	char day[11];
	sitetime_day(&site->cfg->site, clock_now(), day);
	return stats_day_number(day);
}

/* The slots of a service on a day, within that weekday's opening hours: whole slots of
 * slot_minutes from the opening time. Returns how many (0 when the hall is closed then). */
static int appt_day_slots(const struct site *site, const struct config_service *svc, long day, struct appt_slot *out)
{
	const struct config_appointments *a = &svc->appointments;
	int weekday = (int)(((day + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday; 0 is Sunday */
	const struct config_hours *h = &site->cfg->site.hours[weekday];
	int n = 0;
	for (int m = h->open; h->open >= 0 && m + a->slot_minutes <= h->close && n < APPT_SLOTS_MAX; m += a->slot_minutes) {
		struct appt_slot *s = &out[n++];
		s->start = m;
		s->end = m + a->slot_minutes;
		s->starts_at = sitetime_at(&site->cfg->site, day, m);
		s->checkin_from = s->starts_at - a->checkin_before;
		s->checkin_until = s->starts_at + a->checkin_after;
		appt_clock(s->start, s->start_text);
		appt_clock(s->end, s->end_text);
	}
	return n;
}

/* Reads `service`: one that takes appointments; answers and returns NULL when not. */
static const struct config_service *appt_service_arg(struct request *r)
{
	const char *id;
	if (args_string(r, "service", 1, CONFIG_ID_MAX - 1, &id) < 0)
		return NULL;
	const struct config_service *svc = config_service(r->site->cfg, id);
	if (!svc) {
		request_reply_error(r, "not_found", "service", "There is no service \"%s\".", id);
		return NULL;
	}
	if (!svc->appointments.slot_minutes) {
		request_reply_error(r, "bad_request", "service", "Service %s takes no appointments.", id);
		return NULL;
	}
	return svc;
}

/* Reads `date`: a day from today to days_ahead days later; answers and returns -1 when not. */
static long appt_date_arg(struct request *r, const struct config_service *svc, const char **text)
{
	if (args_string(r, "date", 1, 10, text) < 0)
		return -1;
	long day = stats_day_number(*text), today = appt_today(r->site);
	if (day < 0) {
		request_reply_error(r, "bad_request", "date", "date must be a date of the calendar, YYYY-MM-DD.");
		return -1;
	}
	if (day < today || day > today + svc->appointments.days_ahead) {
		request_reply_error(r, "bad_request", "date", "Service %s takes appointments from today to %d days ahead.",
				    svc->id, svc->appointments.days_ahead);
		return -1;
	}
	return day;
}

/* Reads `code` as a person types it (any case, dashes and spaces, I and L for 1, O for 0)
 * into its 8 canonical characters; answers and returns -1 when it cannot be one. */
static int appt_code_arg(struct request *r, char out[APPT_CODE_LEN + 1])
{
	const char *text;
	if (args_string(r, "code", 1, APPT_CODE_ARG_MAX, &text) < 0)
		return -1;
	size_t n = 0;
	for (const char *p = text; *p; p++) {
		char c = *p >= 'a' && *p <= 'z' ? (char)(*p - 32) : *p;
		if (c == '-' || c == ' ')
			continue;
		c = c == 'I' || c == 'L' ? '1' : c == 'O' ? '0' : c;
		if (!c || !strchr(appt_alphabet, c) || n == APPT_CODE_LEN) {
			request_reply_error(r, "bad_request", "code", "code is the 8 letters and digits of the appointment, such as 7KX2-M9QD.");
			return -1;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	if (n != APPT_CODE_LEN) {
		request_reply_error(r, "bad_request", "code", "code is the 8 letters and digits of the appointment, such as 7KX2-M9QD.");
		return -1;
	}
	return 0;
}

/* Makes a new random code: 40 bits, 8 characters of Crockford's base32. */
static int appt_new_code(char out[APPT_CODE_LEN + 1])
{
	unsigned char bytes[5];
	if (sessions_random(bytes, sizeof bytes) < 0)
		return -1;
	unsigned long long bits = 0;
	for (size_t i = 0; i < sizeof bytes; i++)
		bits = bits << 8 | bytes[i];
	for (int i = APPT_CODE_LEN - 1; i >= 0; i--, bits >>= 5)
		out[i] = appt_alphabet[bits & 31];
	out[APPT_CODE_LEN] = '\0';
	return 0;
}

/* Answers slots from qh_slots's counts: the day's slots with capacity, booked and whether
 * one may still book it (its start is ahead). The arguments were checked by op_slots. */
static void appt_on_slots(redisReply *reply, void *arg)
{
	struct request *r = arg;
	if (!store_reply_ok(r, reply))
		return;
	const char *service = cJSON_GetObjectItemCaseSensitive(r->args, "service")->valuestring;
	const char *date = cJSON_GetObjectItemCaseSensitive(r->args, "date")->valuestring;
	const struct config_service *svc = config_service(r->site->cfg, service);
	struct appt_slot slots[APPT_SLOTS_MAX];
	/* a reload (SIGHUP) may have changed the service's slots meanwhile: then ask again */
	int n = svc && svc->appointments.slot_minutes ? appt_day_slots(r->site, svc, stats_day_number(date), slots) : -1;
	cJSON *counts = cJSON_ParseWithLength(reply->str, reply->len);
	const cJSON *booked = cJSON_GetObjectItemCaseSensitive(counts, "booked");
	if (n < 0 || cJSON_GetArraySize(booked) != n) {
		cJSON_Delete(counts);
		request_reply_error(r, "unavailable", NULL, "The hall's config changed meanwhile; ask again.");
		return;
	}
	if (!cJSON_IsArray(booked)) {
		cJSON_Delete(counts);
		log_error("slots: malformed counts %.80s", reply->str);
		request_reply_error(r, "internal", NULL, "The server got an unexpected reply from storage.");
		return;
	}
	cJSON *res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "service", service);
	cJSON_AddStringToObject(res, "date", date);
	cJSON *list = cJSON_AddArrayToObject(res, "slots");
	time_t now = clock_now();
	for (int i = 0; i < n; i++) {
		cJSON *s = cJSON_CreateObject();
		int taken = cJSON_GetArrayItem(booked, i)->valueint;
		cJSON_AddStringToObject(s, "start", slots[i].start_text);
		cJSON_AddStringToObject(s, "end", slots[i].end_text);
		cJSON_AddNumberToObject(s, "capacity", svc->appointments.per_slot);
		cJSON_AddNumberToObject(s, "booked", taken);
		cJSON_AddBoolToObject(s, "bookable", slots[i].starts_at > now && taken < svc->appointments.per_slot);
		cJSON_AddItemToArray(list, s);
	}
	cJSON_Delete(counts);
	request_reply(r, res);
}

/* Lists a service's slots on a day with their capacity and bookings. */
void op_slots(struct request *r)
{
	const struct config_service *svc = appt_service_arg(r);
	const char *date;
	long day;
	if (!svc || (day = appt_date_arg(r, svc, &date)) < 0)
		return;
	struct appt_slot slots[APPT_SLOTS_MAX];
	int n = appt_day_slots(r->site, svc, day, slots);
	char starts[APPT_SLOTS_MAX * 6 + 1] = "";
	for (int i = 0, at = 0; i < n; i++)
		at += snprintf(starts + at, sizeof starts - (size_t)at, "%s%s", i ? "," : "", slots[i].start_text);
	const char *argv[] = {svc->id, date, starts};
	if (!store_ready() || store_fcall(r->site, "qh_slots", 1, appt_on_slots, r, 3, argv) < 0)
		request_reply_error(r, "unavailable", NULL, "Storage is unreachable; retry later.");
}

/* Books a place in a slot for a phone number or ID reference; answers the appointment with
 * its code. */
void op_book(struct request *r)
{
	const struct config_service *svc = appt_service_arg(r);
	const char *date, *start, *ref;
	long day;
	if (!svc || (day = appt_date_arg(r, svc, &date)) < 0 || args_string(r, "start", 1, 5, &start) < 0 ||
	    args_string(r, "ref", 1, 4 * APPT_REF_MAX, &ref) < 0)
		return;
	if (!*ref || utf8_length(ref) > APPT_REF_MAX) {
		request_reply_error(r, "bad_request", "ref", "ref (a phone number or ID reference) is required, at most %d characters.", APPT_REF_MAX);
		return;
	}
	struct appt_slot slots[APPT_SLOTS_MAX];
	int n = appt_day_slots(r->site, svc, day, slots), i = 0;
	while (i < n && strcmp(slots[i].start_text, start) != 0)
		i++;
	if (i == n) {
		request_reply_error(r, "bad_request", "start", "No slot of service %s starts at %s on %s; the slots op lists them.", svc->id, start, date);
		return;
	}
	if (slots[i].starts_at <= clock_now()) {
		request_reply_error(r, "conflict", "start", "The slot at %s has begun; pick a later one.", start);
		return;
	}
	if (r->conn->role == ROLE_PUBLIC && !ticket_public_post_allowed(r, ref, 'b'))
		return;
	char code[APPT_CODE_LEN + 1], per_slot[16], from[24], until[24];
	if (appt_new_code(code) < 0) {
		request_reply_error(r, "internal", NULL, "The server could not make the appointment's code.");
		return;
	}
	snprintf(per_slot, sizeof per_slot, "%d", svc->appointments.per_slot);
	snprintf(from, sizeof from, "%lld", (long long)slots[i].checkin_from);
	snprintf(until, sizeof until, "%lld", (long long)slots[i].checkin_until);
	const char *argv[] = {svc->id, date, slots[i].start_text, slots[i].end_text, per_slot, from, until, ref, code,
			      r->conn->role == ROLE_MANAGER ? "1" : ""};
	store_request_fcall(r, "qh_book", 0, 10, argv);
}

/* Frees the public's wrong-code budgets (at shutdown). */
void appointments_stop(void)
{
	budget_free(wrong_codes);
	wrong_codes = NULL;
}

/* The public's wrong-code key of a request's address. */
static void appt_wrong_code_key(const struct request *r, char *out, size_t len)
{
	snprintf(out, len, "w:%s", r->conn->addr);
}

/* Whether the public may try a code from this address now; answers rate_limited when not. */
static int appt_code_try_allowed(struct request *r)
{
	static const struct budget_policy policy = {APPT_WRONG_CODES, APPT_WRONG_CODE_LOCK_S, APPT_WRONG_CODE_LOCK_MAX_S,
						   APPT_WRONG_CODE_LOCK_MAX_S, 0};
	if (!wrong_codes && !(wrong_codes = budget_new(&policy, APPT_WRONG_CODE_SLOTS))) {
		request_reply_error(r, "internal", NULL, "The server ran out of memory.");
		return 0;
	}
	char key[CONN_ADDR_MAX + 3];
	appt_wrong_code_key(r, key, sizeof key);
	long wait = budget_wait(wrong_codes, key, clock_now());
	if (wait > 0) {
		request_reply_rate_limited(r, wait, "Too many wrong appointment codes from here; try again in %ld min.", (wait + 59) / 60);
		return 0;
	}
	return 1;
}

/* The arguments of the appointment functions: the code, and whether to show the ref. */
#define APPT_ARGV(r, code) {(code), (r)->conn->role == ROLE_MANAGER ? "1" : ""}

/* The public's lookup answered: an unknown code counts against the address; a cancel then
 * goes on with qh_cancel_appointment, a lookup is answered. */
static void appt_on_public_lookup(redisReply *reply, void *arg)
{
	struct request *r = arg;
	if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOT_FOUND ", 10) == 0 && r->conn) {
		char key[CONN_ADDR_MAX + 3];
		appt_wrong_code_key(r, key, sizeof key);
		budget_charge(wrong_codes, key, clock_now(), 1);
	}
	if (r->conn && r->op->handler == op_cancel_appointment && reply && reply->type == REDIS_REPLY_STRING) {
		char code[APPT_CODE_LEN + 1];
		appt_code_arg(r, code); /* read before, so it cannot fail now */
		const char *argv[] = APPT_ARGV(r, code);
		store_request_fcall(r, "qh_cancel_appointment", 0, 2, argv);
		return;
	}
	if (!r->conn && reply && reply->type == REDIS_REPLY_STRING) {
		request_free(r); /* nobody waits, and nothing was done */
		return;
	}
	if (store_reply_ok(r, reply))
		request_reply_raw(r, reply->str, reply->len);
}

/* Runs a function on the appointment of the request's code (its ref shown to managers only);
 * the public's codes are first looked up, so that wrong ones are budgeted per address. */
static void appt_by_code(struct request *r, const char *function, int read_only)
{
	char code[APPT_CODE_LEN + 1];
	if (appt_code_arg(r, code) < 0)
		return;
	const char *argv[] = APPT_ARGV(r, code);
	if (r->conn->role != ROLE_PUBLIC) {
		store_request_fcall(r, function, read_only, 2, argv);
		return;
	}
	if (!appt_code_try_allowed(r))
		return;
	if (!store_ready() || store_fcall(r->site, "qh_appointment", 1, appt_on_public_lookup, r, 2, argv) < 0)
		request_reply_error(r, "unavailable", NULL, "Storage is unreachable; nothing was changed, retry later.");
}

/* Looks an appointment up by its code. */
void op_appointment(struct request *r)
{
	appt_by_code(r, "qh_appointment", 1);
}

/* Cancels a booked appointment, giving its place back. */
void op_cancel_appointment(struct request *r)
{
	appt_by_code(r, "qh_cancel_appointment", 0);
}

/* Checks in once the appointment was read: too early or too late is a conflict with the
 * window's edge beside it (changing nothing); otherwise qh_checkin issues the ticket, which
 * checks the state again in the same atomic step. */
static void appt_on_checkin_read(redisReply *reply, void *arg)
{
	struct request *r = arg;
	if (!r->conn) { /* the kiosk left: check nobody in */
		request_free(r);
		return;
	}
	if (!store_reply_ok(r, reply))
		return;
	cJSON *res = cJSON_ParseWithLength(reply->str, reply->len);
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(res, "appointment");
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(a, "state");
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(a, "checkin_from");
	const cJSON *until = cJSON_GetObjectItemCaseSensitive(a, "checkin_until");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(a, "code");
	if (!cJSON_IsString(state) || !cJSON_IsNumber(from) || !cJSON_IsNumber(until) || !cJSON_IsString(code)) {
		cJSON_Delete(res);
		request_reply_error(r, "internal", NULL, "The server got an unexpected reply from storage.");
		return;
	}
	time_t opens = (time_t)from->valuedouble, closes = (time_t)until->valuedouble;
	if (strcmp(state->valuestring, "missed") == 0)
		request_reply_error_at(r, "conflict", "code", "checkin_until", closes,
				       "Check-in for this appointment closed; it is missed. A normal ticket can be taken.");
	else if (strcmp(state->valuestring, "booked") != 0)
		request_reply_error(r, "conflict", "code", "This appointment is %s, not booked.", state->valuestring);
	else if (clock_now() < opens)
		request_reply_error_at(r, "conflict", "code", "checkin_from", opens, "Check-in for this appointment has not opened yet.");
	else {
		char secret[SESSION_TOKEN_MAX];
		if (sessions_random_token(12, secret, sizeof secret) < 0 || !(r->secret = strdup(secret))) {
			request_reply_error(r, "internal", NULL, "The server could not make the ticket's secret.");
		} else {
			const char *argv[] = {code->valuestring, r->secret};
			store_request_fcall(r, "qh_checkin", 0, 2, argv);
		}
	}
	cJSON_Delete(res);
}

/* Checks a citizen in for an appointment at the kiosk: an appointment-class ticket of the
 * booked service, while the hall is open and within the appointment's check-in window. */
void op_checkin(struct request *r)
{
	char code[APPT_CODE_LEN + 1];
	if (appt_code_arg(r, code) < 0)
		return;
	time_t now = clock_now();
	if (!sitetime_hall_open(&r->site->cfg->site, now)) {
		request_reply_closed(r, sitetime_next_open(&r->site->cfg->site, now));
		return;
	}
	const char *argv[] = {code, ""};
	if (!store_ready() || store_fcall(r->site, "qh_appointment", 1, appt_on_checkin_read, r, 2, argv) < 0)
		request_reply_error(r, "unavailable", NULL, "Storage is unreachable; nothing was changed, retry later.");
}
