/* Appointments (预约) through a real qserver and redis-server: slots within the hall's hours,
 * capacity, the limit per ref, the check-in window on both sides, missed at the day change,
 * the stats counters, who may do what, and that refused requests change nothing. Service C
 * of tests/data/small.json takes appointments: 30-minute slots of 2 places, 7 days ahead,
 * check-in from 15 minutes before to 10 minutes after the start; the clock starts at Friday
 * 2026-11-27 10:00 Beijing time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testassert.h"

/* The epoch second of 2026-11-27 (day 0) or a later day at HH:MM, Beijing time. */
static long at(int day, int hh, int mm)
{
	return HALL_T0 + day * 86400L + (hh - 10) * 3600L + mm * 60L;
}

/* Books service C and returns the answer (the caller frees it). */
static cJSON *book(struct tc *tc, const char *date, const char *start, const char *ref)
{
	return tc_request(tc, "{\"op\":\"book\",\"service\":\"C\",\"date\":\"%s\",\"start\":\"%s\",\"ref\":\"%s\"}", date,
			  start, ref);
}

/* Books service C, asserting it succeeds, and copies the code into out. */
static void book_ok(struct tc *tc, const char *date, const char *start, const char *ref, char out[16])
{
	cJSON *r = expect_ok(book(tc, date, start, ref));
	const char *code = get_str(r, "appointment", "code");
	assert_non_null(code);
	snprintf(out, 16, "%s", code);
	cJSON_Delete(r);
}

/* The state of an appointment as the public sees it (copied into out). */
static const char *state_of(struct tc *tc, const char *code, char out[16])
{
	cJSON *r = expect_ok(tc_request(tc, "{\"op\":\"appointment\",\"code\":\"%s\"}", code));
	snprintf(out, 16, "%s", get_str(r, "appointment", "state"));
	cJSON_Delete(r);
	return out;
}

/* The slot starting at `start` in a slots answer, or NULL. */
static const cJSON *slot_at(const cJSON *r, const char *start)
{
	const cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(r, "slots"))
		if (strcmp(get_str(s, "start", NULL), start) == 0)
			return s;
	return NULL;
}

/* One counter of the hall's total stats row over [from, to]. */
static long stat(struct tc *mgr, const char *from, const char *to, const char *counter)
{
	cJSON *r = expect_ok(tc_request(mgr, "{\"op\":\"stats\",\"from\":\"%s\",\"to\":\"%s\"}", from, to));
	long v = (long)get_num(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "rows"), 0), counter, NULL);
	cJSON_Delete(r);
	return v;
}

/* A day's slots lie within the hall's hours, each with its capacity and bookings; the
 * services that take appointments say so. */
static void slots__a_day__whole_slots_with_capacity_and_bookings(void **state)
{
	(void)state;
	struct tc *pub = hall_public(&hall);
	cJSON *r = expect_ok(tc_request(pub, "{\"op\":\"slots\",\"service\":\"C\",\"date\":\"2026-11-27\"}"));
	const cJSON *slots = cJSON_GetObjectItem(r, "slots");
	assert_int_equal(cJSON_GetArraySize(slots), 48); /* open all day: 00:00 to 24:00 */
	const cJSON *first = cJSON_GetArrayItem(slots, 0), *last = cJSON_GetArrayItem(slots, 47);
	assert_string_equal(get_str(first, "start", NULL), "00:00");
	assert_string_equal(get_str(first, "end", NULL), "00:30");
	assert_string_equal(get_str(last, "start", NULL), "23:30");
	assert_string_equal(get_str(last, "end", NULL), "24:00");
	assert_int_equal((int)get_num(first, "capacity", NULL), 2);
	assert_int_equal((int)get_num(first, "booked", NULL), 0);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(slot_at(r, "10:00"), "bookable"))); /* begun */
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(slot_at(r, "10:30"), "bookable")));
	cJSON_Delete(r);

	char code[16];
	book_ok(pub, "2026-11-27", "10:30", "13800000001", code);
	r = expect_ok(tc_request(pub, "{\"op\":\"slots\",\"service\":\"C\",\"date\":\"2026-11-27\"}"));
	assert_int_equal((int)get_num(slot_at(r, "10:30"), "booked", NULL), 1);
	assert_int_equal((int)get_num(slot_at(r, "11:00"), "booked", NULL), 0);
	cJSON_Delete(r);

	r = expect_ok(tc_request(pub, "{\"op\":\"services\"}"));
	const cJSON *services = cJSON_GetObjectItem(r, "services");
	assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(services, 0), "appointments"));
	assert_int_equal((int)get_num(cJSON_GetArrayItem(services, 2), "appointments", "slot_minutes"), 30);
	assert_int_equal((int)get_num(cJSON_GetArrayItem(services, 2), "appointments", "days_ahead"), 7);
	cJSON_Delete(r);

	/* the last day that may be booked, and the refusals around it */
	cJSON_Delete(expect_ok(tc_request(pub, "{\"op\":\"slots\",\"service\":\"C\",\"date\":\"2026-12-04\"}")));
	expect_error(tc_request(pub, "{\"op\":\"slots\",\"service\":\"C\",\"date\":\"2026-12-05\"}"), "bad_request", "date");
	expect_error(tc_request(pub, "{\"op\":\"slots\",\"service\":\"C\",\"date\":\"2026-11-26\"}"), "bad_request", "date");
	expect_error(tc_request(pub, "{\"op\":\"slots\",\"service\":\"C\",\"date\":\"2026-02-30\"}"), "bad_request", "date");
	expect_error(tc_request(pub, "{\"op\":\"slots\",\"service\":\"A\",\"date\":\"2026-11-27\"}"), "bad_request", "service");
	expect_error(tc_request(pub, "{\"op\":\"slots\",\"service\":\"Z\",\"date\":\"2026-11-27\"}"), "not_found", "service");
	expect_error(tc_request(pub, "{\"op\":\"slots\",\"service\":\"C\"}"), "bad_request", "date");
	tc_close(pub);
}

/* In a hall with real hours, slots follow each weekday's: Friday 09:00-20:00, Saturday
 * 09:00-16:00, Sunday 09:00-12:00 (one-hour slots). */
static void slots__opening_hours__only_within_them(void **state)
{
	(void)state;
	struct test_hall h;
	assert_int_equal(hall_start_config(&h, "hours.json", false, NULL), 0);
	assert_int_equal(hall_set_clock(&h, HALL_T0), 0);
	struct tc *pub = hall_public(&h);
	static const struct {
		const char *date, *first, *last;
		int n;
	} days[] = {{"2026-11-27", "09:00", "19:00", 11}, {"2026-11-28", "09:00", "15:00", 7}, {"2026-11-29", "09:00", "11:00", 3}};
	for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
		cJSON *r = expect_ok(tc_request(pub, "{\"op\":\"slots\",\"service\":\"C\",\"date\":\"%s\"}", days[i].date));
		const cJSON *slots = cJSON_GetObjectItem(r, "slots");
		assert_int_equal(cJSON_GetArraySize(slots), days[i].n);
		assert_string_equal(get_str(cJSON_GetArrayItem(slots, 0), "start", NULL), days[i].first);
		assert_string_equal(get_str(cJSON_GetArrayItem(slots, days[i].n - 1), "start", NULL), days[i].last);
		assert_int_equal((int)get_num(cJSON_GetArrayItem(slots, 0), "capacity", NULL), 3);
		cJSON_Delete(r);
	}
	expect_error(tc_request(pub, "{\"op\":\"book\",\"service\":\"C\",\"date\":\"2026-11-28\",\"start\":\"16:00\",\"ref\":\"1\"}"),
		     "bad_request", "start");
	tc_close(pub);
	assert_int_equal(hall_stop(&h), 0);
}

/* A booking answers the appointment with a code a person can type; the public never sees
 * the ref, managers do; the code is found however it is typed. */
static void book__answers_code_and_window_ref_for_managers_only(void **state)
{
	(void)state;
	struct tc *pub = hall_public(&hall), *mgr = hall_manager(&hall);
	cJSON *r = expect_ok(book(pub, "2026-11-28", "09:00", "13800000001"));
	const cJSON *a = cJSON_GetObjectItem(r, "appointment");
	const char *code = get_str(a, "code", NULL);
	assert_int_equal(strlen(code), 8);
	assert_int_equal(strspn(code, "0123456789ABCDEFGHJKMNPQRSTVWXYZ"), 8);
	assert_string_equal(get_str(a, "service", NULL), "C");
	assert_string_equal(get_str(a, "date", NULL), "2026-11-28");
	assert_string_equal(get_str(a, "start", NULL), "09:00");
	assert_string_equal(get_str(a, "end", NULL), "09:30");
	assert_string_equal(get_str(a, "state", NULL), "booked");
	assert_int_equal((long)get_num(a, "checkin_from", NULL), at(1, 8, 45));
	assert_int_equal((long)get_num(a, "checkin_until", NULL), at(1, 9, 10));
	assert_null(cJSON_GetObjectItem(a, "ref"));
	char typed[16]; /* lower case with a dash, as a person may type it */
	snprintf(typed, sizeof typed, "%.4s-%s", code, code + 4);
	for (char *p = typed; *p; p++) /* and O for 0, l for 1, as they read alike */
		*p = *p == '0' ? 'O' : *p == '1' ? 'l' : (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	cJSON *seen = expect_ok(tc_request(pub, "{\"op\":\"appointment\",\"code\":\"%s\"}", typed));
	assert_string_equal(get_str(seen, "appointment", "code"), code);
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(seen, "appointment"), "ref"));
	cJSON_Delete(seen);
	seen = expect_ok(tc_request(mgr, "{\"op\":\"appointment\",\"code\":\"%s\"}", code));
	assert_string_equal(get_str(seen, "appointment", "ref"), "13800000001");
	cJSON_Delete(seen);
	/* two codes differ */
	char other[16];
	book_ok(pub, "2026-11-28", "09:00", "13800000002", other);
	assert_string_not_equal(other, code);
	cJSON_Delete(r);
	tc_close(pub);
	tc_close(mgr);
}

/* A slot holds per_slot appointments; the next is a conflict, and a cancel frees a place. */
static void book__full_slot__conflict_until_a_cancel(void **state)
{
	(void)state;
	struct tc *mgr = hall_manager(&hall);
	char a[16], b[16], s[16];
	book_ok(mgr, "2026-11-28", "10:00", "r1", a);
	book_ok(mgr, "2026-11-28", "10:00", "r2", b);
	expect_error(book(mgr, "2026-11-28", "10:00", "r3"), "conflict", "start");
	cJSON *r = expect_ok(tc_request(mgr, "{\"op\":\"slots\",\"service\":\"C\",\"date\":\"2026-11-28\"}"));
	assert_int_equal((int)get_num(slot_at(r, "10:00"), "booked", NULL), 2);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(slot_at(r, "10:00"), "bookable")));
	cJSON_Delete(r);
	r = expect_ok(tc_request(mgr, "{\"op\":\"cancel_appointment\",\"code\":\"%s\"}", a));
	assert_string_equal(get_str(r, "appointment", "state"), "cancelled");
	cJSON_Delete(r);
	assert_string_equal(state_of(mgr, a, s), "cancelled");
	book_ok(mgr, "2026-11-28", "10:00", "r3", b);
	expect_error(tc_request(mgr, "{\"op\":\"cancel_appointment\",\"code\":\"%s\"}", a), "conflict", "code");
	tc_close(mgr);
}

/* One ref holds at most 3 live appointments; a cancelled or checked-in one no longer counts. */
static void book__fourth_for_one_ref__conflict(void **state)
{
	(void)state;
	struct tc *mgr = hall_manager(&hall), *k = hall_kiosk(&hall);
	char c1[16], c2[16], c3[16], c4[16];
	book_ok(mgr, "2026-11-27", "10:30", "13900000000", c1);
	book_ok(mgr, "2026-11-28", "10:00", "13900000000", c2);
	book_ok(mgr, "2026-11-29", "10:00", "13900000000", c3);
	expect_error(book(mgr, "2026-11-30", "10:00", "13900000000"), "conflict", "ref");
	book_ok(mgr, "2026-11-30", "10:00", "13900000001", c4); /* another ref is not held back */
	cJSON_Delete(expect_ok(tc_request(mgr, "{\"op\":\"cancel_appointment\",\"code\":\"%s\"}", c3)));
	book_ok(mgr, "2026-11-30", "10:00", "13900000000", c3);
	expect_error(book(mgr, "2026-12-01", "10:00", "13900000000"), "conflict", "ref");
	hall_set_clock(&hall, at(0, 10, 20));
	cJSON_Delete(expect_ok(tc_request(k, "{\"op\":\"checkin\",\"code\":\"%s\"}", c1)));
	book_ok(mgr, "2026-12-01", "10:00", "13900000000", c1);
	tc_close(mgr);
	tc_close(k);
}

/* Bookings are refused for a slot that has begun, a time that is no slot's start, and
 * without a ref or with one too long. */
static void book__bad_slot_or_ref__refused(void **state)
{
	(void)state;
	struct tc *pub = hall_public(&hall);
	expect_error(book(pub, "2026-11-27", "09:30", "1"), "conflict", "start");
	expect_error(book(pub, "2026-11-27", "10:00", "1"), "conflict", "start"); /* begins now */
	expect_error(book(pub, "2026-11-28", "10:15", "1"), "bad_request", "start");
	expect_error(book(pub, "2026-11-28", "25:00", "1"), "bad_request", "start");
	expect_error(book(pub, "2026-11-28", "10:00", ""), "bad_request", "ref");
	expect_error(tc_request(pub, "{\"op\":\"book\",\"service\":\"C\",\"date\":\"2026-11-28\",\"start\":\"10:00\"}"),
		     "bad_request", "ref");
	char ref[200] = "";
	for (int i = 0; i < 65; i++)
		strcat(ref, "9");
	expect_error(book(pub, "2026-11-28", "10:00", ref), "bad_request", "ref");
	ref[0] = '\0';
	for (int i = 0; i < 64; i++)
		strcat(ref, "号"); /* 64 characters, 192 bytes */
	cJSON_Delete(expect_ok(book(pub, "2026-11-28", "10:00", ref)));
	expect_error(book(pub, "2026-11-20", "10:00", "1"), "bad_request", "date");
	tc_close(pub);
}

/* Public bookings are limited per address and per ref, with retry_after. */
static void book__public_limits__per_address_and_ref(void **state)
{
	(void)state;
	struct tc *pub = hall_public(&hall);
	char code[16], ref[32];
	for (int i = 0; i < 3; i++)
		book_ok(pub, "2026-11-28", i == 0 ? "11:00" : i == 1 ? "11:30" : "12:00", "13700000000", code);
	cJSON *r = book(pub, "2026-11-28", "12:30", "13700000000");
	assert_string_equal(tc_error_code(r), "rate_limited");
	assert_true(get_num(r, "retry_after", NULL) >= 1);
	cJSON_Delete(r);
	for (int i = 0; i < 7; i++) {
		snprintf(ref, sizeof ref, "1360000000%d", i);
		book_ok(pub, "2026-11-29", i < 2 ? "11:00" : i < 4 ? "11:30" : i < 6 ? "12:00" : "12:30", ref, code);
	}
	r = book(pub, "2026-11-29", "13:00", "13500000000");
	assert_string_equal(tc_error_code(r), "rate_limited");
	cJSON_Delete(r);
	/* a kiosk or manager booking for someone is not limited so */
	struct tc *mgr = hall_manager(&hall);
	book_ok(mgr, "2026-11-29", "13:00", "13500000000", code);
	tc_close(mgr);
	tc_close(pub);
}

/* The public may try 20 wrong codes from one address; then even a right one waits, with
 * retry_after, while kiosks and managers go on. */
static void codes__wrong_ones_limited_per_address(void **state)
{
	(void)state;
	struct tc *pub = hall_public(&hall), *k = hall_kiosk(&hall);
	char code[16], s[16];
	book_ok(pub, "2026-11-28", "10:00", "13800000001", code);
	for (int i = 0; i < 20; i++)
		expect_error(tc_request(pub, "{\"op\":\"%s\",\"code\":\"ZZZZZZ%02d\"}",
					i % 2 ? "appointment" : "cancel_appointment", i), "not_found", "code");
	cJSON *r = tc_request(pub, "{\"op\":\"appointment\",\"code\":\"%s\"}", code);
	assert_string_equal(tc_error_code(r), "rate_limited");
	assert_true(get_num(r, "retry_after", NULL) >= 60);
	cJSON_Delete(r);
	expect_error(tc_request(pub, "{\"op\":\"cancel_appointment\",\"code\":\"%s\"}", code), "rate_limited", NULL);
	assert_string_equal(state_of(k, code, s), "booked");
	hall_set_clock(&hall, HALL_T0 + 3600);
	assert_string_equal(state_of(pub, code, s), "booked");
	tc_close(pub);
	tc_close(k);
}

/* Check-in: before the window a conflict with checkin_from, inside it an appointment-class
 * ticket called before normal ones, after it a conflict with checkin_until and the
 * appointment missed. */
static void checkin__window__early_inside_late(void **state)
{
	(void)state;
	struct tc *pub = hall_public(&hall), *k = hall_kiosk(&hall);
	char on_time[16], late[16], s[16], n[16];
	book_ok(pub, "2026-11-27", "11:00", "13800000001", on_time);
	book_ok(pub, "2026-11-27", "11:00", "13800000002", late);

	cJSON *r = tc_request(k, "{\"op\":\"checkin\",\"code\":\"%s\"}", on_time);
	assert_string_equal(tc_error_code(r), "conflict");
	assert_int_equal((long)get_num(r, "checkin_from", NULL), at(0, 10, 45));
	cJSON_Delete(r);
	assert_string_equal(state_of(pub, on_time, s), "booked");

	hall_set_clock(&hall, at(0, 10, 45) - 1);
	expect_error(tc_request(k, "{\"op\":\"checkin\",\"code\":\"%s\"}", on_time), "conflict", "code");
	hall_set_clock(&hall, at(0, 10, 45));
	assert_non_null(hall_take(k, "C", NULL, n, sizeof n)); /* a normal ticket taken first */
	r = expect_ok(tc_request(k, "{\"op\":\"checkin\",\"code\":\"%s\"}", on_time));
	assert_string_equal(get_str(r, "ticket", "class"), "appointment");
	assert_string_equal(get_str(r, "ticket", "service"), "C");
	assert_string_equal(get_str(r, "ticket", "state"), "waiting");
	assert_string_equal(get_str(r, "ticket", "number"), "C002");
	assert_non_null(get_str(r, "secret", NULL));
	char id[32];
	snprintf(id, sizeof id, "%s", get_str(r, "ticket", "id"));
	cJSON_Delete(r);
	r = expect_ok(tc_request(pub, "{\"op\":\"appointment\",\"code\":\"%s\"}", on_time));
	assert_string_equal(get_str(r, "appointment", "state"), "checked_in");
	assert_string_equal(get_str(r, "appointment", "ticket"), id);
	cJSON_Delete(r);
	expect_error(tc_request(k, "{\"op\":\"checkin\",\"code\":\"%s\"}", on_time), "conflict", "code");
	/* the appointment goes first, as appointment tickets do */
	struct tc *clerk = hall_clerk(&hall, "c01", 1);
	r = expect_ok(tc_request(clerk, "{\"op\":\"call_next\"}"));
	assert_string_equal(get_str(r, "ticket", "id"), id);
	cJSON_Delete(r);
	tc_close(clerk);

	/* a second after the window closed is too late */
	hall_set_clock(&hall, at(0, 11, 10) + 1);
	r = tc_request(k, "{\"op\":\"checkin\",\"code\":\"%s\"}", late);
	assert_string_equal(tc_error_code(r), "conflict");
	assert_int_equal((long)get_num(r, "checkin_until", NULL), at(0, 11, 10));
	cJSON_Delete(r);
	assert_string_equal(state_of(pub, late, s), "missed");
	expect_error(tc_request(pub, "{\"op\":\"cancel_appointment\",\"code\":\"%s\"}", late), "conflict", "code");
	/* a normal ticket is still there for the late citizen */
	assert_non_null(hall_take(k, "C", NULL, n, sizeof n));

	/* the window's last second still checks in */
	char edge[16];
	book_ok(pub, "2026-11-27", "12:00", "13800000003", edge);
	hall_set_clock(&hall, at(0, 12, 10));
	cJSON_Delete(expect_ok(tc_request(k, "{\"op\":\"checkin\",\"code\":\"%s\"}", edge)));
	expect_error(tc_request(k, "{\"op\":\"checkin\",\"code\":\"ZZZZZZZZ\"}"), "not_found", "code");
	tc_close(pub);
	tc_close(k);
}

/* At the day change, booked appointments of the ended day become missed (and count so);
 * checked-in and cancelled ones keep their state; later days' stay booked. */
static void day_change__booked_become_missed(void **state)
{
	(void)state;
	struct tc *mgr = hall_manager(&hall), *k = hall_kiosk(&hall);
	char a[16], b[16], c[16], d[16], e[16], s[16];
	book_ok(mgr, "2026-11-27", "12:00", "r1", a);
	book_ok(mgr, "2026-11-27", "12:00", "r2", b);
	book_ok(mgr, "2026-11-27", "13:00", "r3", c);
	book_ok(mgr, "2026-11-27", "13:00", "r4", d);
	book_ok(mgr, "2026-11-28", "13:00", "r5", e);
	cJSON_Delete(expect_ok(tc_request(mgr, "{\"op\":\"cancel_appointment\",\"code\":\"%s\"}", c)));
	hall_set_clock(&hall, at(0, 12, 0));
	cJSON_Delete(expect_ok(tc_request(k, "{\"op\":\"checkin\",\"code\":\"%s\"}", a)));
	assert_int_equal(stat(mgr, "2026-11-27", "2026-11-27", "appt_missed"), 0);

	hall_set_clock(&hall, at(1, 0, 0) + 5); /* Saturday, just after midnight */
	long missed = 0;
	for (int i = 0; i < 200 && missed < 2; i++) {
		missed = stat(mgr, "2026-11-27", "2026-11-27", "appt_missed");
		if (missed < 2)
			usleep(20 * 1000);
	}
	assert_int_equal(missed, 2);
	assert_string_equal(state_of(mgr, a, s), "checked_in");
	assert_string_equal(state_of(mgr, b, s), "missed");
	assert_string_equal(state_of(mgr, c, s), "cancelled");
	assert_string_equal(state_of(mgr, d, s), "missed");
	assert_string_equal(state_of(mgr, e, s), "booked");
	usleep(1200 * 1000); /* another tick: nothing is counted twice */
	assert_int_equal(stat(mgr, "2026-11-27", "2026-11-27", "appt_missed"), 2);
	tc_close(mgr);
	tc_close(k);
}

/* stats count appointments on the day of their slot: booked, checked in, missed,
 * cancelled; a month read whole (with days still ahead) sums the same. */
static void stats__appointment_counters_on_the_slot_day(void **state)
{
	(void)state;
	struct tc *mgr = hall_manager(&hall), *k = hall_kiosk(&hall);
	char a[16], b[16], c[16], d[16];
	book_ok(mgr, "2026-11-28", "10:00", "r1", a);
	book_ok(mgr, "2026-11-28", "10:00", "r2", b);
	book_ok(mgr, "2026-11-28", "11:00", "r3", c);
	book_ok(mgr, "2026-12-01", "11:00", "r4", d);
	cJSON_Delete(expect_ok(tc_request(mgr, "{\"op\":\"cancel_appointment\",\"code\":\"%s\"}", c)));
	assert_int_equal(stat(mgr, "2026-11-27", "2026-11-27", "appt_booked"), 0);
	assert_int_equal(stat(mgr, "2026-11-28", "2026-11-28", "appt_booked"), 3);
	assert_int_equal(stat(mgr, "2026-11-28", "2026-11-28", "appt_cancelled"), 1);
	assert_int_equal(stat(mgr, "2026-11-01", "2026-11-30", "appt_booked"), 3);
	assert_int_equal(stat(mgr, "2026-11-01", "2026-12-31", "appt_booked"), 4);

	hall_set_clock(&hall, at(1, 9, 50)); /* Saturday */
	cJSON_Delete(expect_ok(tc_request(k, "{\"op\":\"checkin\",\"code\":\"%s\"}", a)));
	hall_set_clock(&hall, at(2, 0, 0) + 5); /* Sunday: b is missed */
	long missed = 0;
	for (int i = 0; i < 200 && missed < 1; i++) {
		missed = stat(mgr, "2026-11-28", "2026-11-28", "appt_missed");
		if (missed < 1)
			usleep(20 * 1000);
	}
	static const struct {
		const char *counter;
		long n;
	} want[] = {{"appt_booked", 3}, {"appt_checked_in", 1}, {"appt_missed", 1}, {"appt_cancelled", 1}};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_int_equal(stat(mgr, "2026-11-28", "2026-11-28", want[i].counter), want[i].n);
		assert_int_equal(stat(mgr, "2026-11-01", "2026-11-30", want[i].counter), want[i].n);
	}
	assert_int_equal(stat(mgr, "2026-11-01", "2026-11-30", "issued"), 1); /* the check-in's ticket */
	cJSON *r = expect_ok(tc_request(mgr, "{\"op\":\"stats\",\"from\":\"2026-11-28\",\"to\":\"2026-11-28\",\"by\":\"service\"}"));
	const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "rows"), 0);
	assert_string_equal(get_str(row, "key", NULL), "C");
	assert_int_equal((long)get_num(row, "appt_booked", NULL), 3);
	cJSON_Delete(r);
	r = expect_ok(tc_request(mgr, "{\"op\":\"stats\",\"from\":\"2026-11-28\",\"to\":\"2026-11-28\",\"by\":\"hour\"}"));
	assert_int_equal((long)get_num(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "rows"), 10), "appt_booked", NULL), 2);
	assert_int_equal((long)get_num(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "rows"), 11), "appt_booked", NULL), 1);
	cJSON_Delete(r);
	tc_close(mgr);
	tc_close(k);
}

/* Who may do what: everyone lists slots, books and looks up by code; the public and managers
 * cancel; kiosks and managers check in; clerks neither. */
static void roles__public_kiosk_clerk_manager(void **state)
{
	(void)state;
	struct tc *pub = hall_public(&hall), *k = hall_kiosk(&hall), *mgr = hall_manager(&hall);
	struct tc *clerk = hall_clerk(&hall, "c01", 1);
	char a[16], b[16], c[16];
	book_ok(pub, "2026-11-27", "10:30", "13800000001", a);
	book_ok(k, "2026-11-27", "10:30", "13800000002", b);
	book_ok(clerk, "2026-11-27", "11:00", "13800000003", c);
	cJSON *r = expect_ok(tc_request(k, "{\"op\":\"appointment\",\"code\":\"%s\"}", a));
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "appointment"), "ref"));
	cJSON_Delete(r);
	expect_error(tc_request(pub, "{\"op\":\"checkin\",\"code\":\"%s\"}", a), "unauthenticated", NULL);
	expect_error(tc_request(clerk, "{\"op\":\"checkin\",\"code\":\"%s\"}", a), "forbidden", NULL);
	expect_error(tc_request(k, "{\"op\":\"cancel_appointment\",\"code\":\"%s\"}", a), "forbidden", NULL);
	expect_error(tc_request(clerk, "{\"op\":\"cancel_appointment\",\"code\":\"%s\"}", a), "forbidden", NULL);
	cJSON_Delete(expect_ok(tc_request(pub, "{\"op\":\"cancel_appointment\",\"code\":\"%s\"}", a)));
	r = expect_ok(tc_request(mgr, "{\"op\":\"cancel_appointment\",\"code\":\"%s\"}", c));
	assert_string_equal(get_str(r, "appointment", "ref"), "13800000003");
	cJSON_Delete(r);
	hall_set_clock(&hall, at(0, 10, 20));
	cJSON_Delete(expect_ok(tc_request(mgr, "{\"op\":\"checkin\",\"code\":\"%s\"}", b)));
	tc_close(pub);
	tc_close(k);
	tc_close(mgr);
	tc_close(clerk);
}

/* Every key of the site with its DUMP, as one comparable string (malloc'd). */
static char *dump_site(redisContext *rc, size_t *len)
{
	char *buf = testredis_dump(rc, "q:{small}:*", len);
	assert_non_null(buf);
	return buf;
}

/* Every refused appointment request leaves Redis exactly as it was. */
static void bad_input__changes_nothing(void **state)
{
	(void)state;
	struct tc *mgr = hall_manager(&hall), *k = hall_kiosk(&hall), *pub = hall_public(&hall);
	char full[16], later[16], gone[16];
	book_ok(mgr, "2026-11-27", "11:00", "r1", full);
	book_ok(mgr, "2026-11-27", "11:00", "r2", later);
	book_ok(mgr, "2026-11-28", "11:00", "r3", gone);
	book_ok(mgr, "2026-11-29", "11:00", "r3", gone);
	book_ok(mgr, "2026-11-30", "11:00", "r3", gone);
	book_ok(mgr, "2026-11-30", "11:00", "r4", gone);
	cJSON_Delete(expect_ok(tc_request(mgr, "{\"op\":\"cancel_appointment\",\"code\":\"%s\"}", gone)));
	redisContext *rc = testredis_connect(&hall.redis);
	assert_non_null(rc);
	size_t len_before, len_after;
	char *before = dump_site(rc, &len_before);
	struct {
		struct tc *tc;
		char line[256];
		const char *code;
	} cases[] = {
		{mgr, "", "conflict"},	  /* the slot is full */
		{mgr, "", "conflict"},	  /* r3 holds 3 */
		{k, "", "conflict"},	  /* too early to check in */
		{mgr, "", "conflict"},	  /* cancel a cancelled one */
		{k, "{\"op\":\"checkin\",\"code\":\"ZZZZZZZZ\"}", "not_found"},
		{k, "{\"op\":\"checkin\",\"code\":\"ZZZZ\"}", "bad_request"},
		{k, "{\"op\":\"checkin\",\"code\":\"ABCDEFGU\"}", "bad_request"},
		{k, "{\"op\":\"checkin\",\"code\":7}", "bad_request"},
		{pub, "{\"op\":\"cancel_appointment\",\"code\":\"ZZZZZZZZ\"}", "not_found"},
		{pub, "{\"op\":\"book\",\"service\":\"A\",\"date\":\"2026-11-28\",\"start\":\"10:00\",\"ref\":\"1\"}", "bad_request"},
		{pub, "{\"op\":\"book\",\"service\":\"C\",\"date\":\"2026-11-28\",\"start\":\"10:05\",\"ref\":\"1\"}", "bad_request"},
		{pub, "{\"op\":\"book\",\"service\":\"C\",\"date\":\"tomorrow\",\"start\":\"10:00\",\"ref\":\"1\"}", "bad_request"},
		{pub, "{\"op\":\"book\",\"service\":\"C\",\"date\":\"2026-11-28\",\"start\":10,\"ref\":\"1\"}", "bad_request"},
		{pub, "{\"op\":\"book\",\"service\":\"C\",\"date\":\"2026-11-27\",\"start\":\"09:00\",\"ref\":\"1\"}", "conflict"},
		{pub, "{\"op\":\"checkin\",\"code\":\"ZZZZZZZZ\"}", "unauthenticated"},
	};
	snprintf(cases[0].line, sizeof cases[0].line, "{\"op\":\"book\",\"service\":\"C\",\"date\":\"2026-11-27\",\"start\":\"11:00\",\"ref\":\"r9\"}");
	snprintf(cases[1].line, sizeof cases[1].line, "{\"op\":\"book\",\"service\":\"C\",\"date\":\"2026-12-01\",\"start\":\"11:00\",\"ref\":\"r3\"}");
	snprintf(cases[2].line, sizeof cases[2].line, "{\"op\":\"checkin\",\"code\":\"%s\"}", later);
	snprintf(cases[3].line, sizeof cases[3].line, "{\"op\":\"cancel_appointment\",\"code\":\"%s\"}", gone);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *r = tc_request(cases[i].tc, "%s", cases[i].line);
		if (!tc_error_code(r) || strcmp(tc_error_code(r), cases[i].code) != 0)
			fail_msg("case %zu %s: expected %s", i, cases[i].line, cases[i].code);
		cJSON_Delete(r);
	}
	char *after = dump_site(rc, &len_after);
	assert_int_equal(len_before, len_after);
	assert_memory_equal(before, after, len_before);
	free(before);
	free(after);
	redisFree(rc);
	tc_close(mgr);
	tc_close(k);
	tc_close(pub);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, hall_fixture_reset)
	const struct CMUnitTest tests[] = {
		T(slots__a_day__whole_slots_with_capacity_and_bookings),
		T(slots__opening_hours__only_within_them),
		T(book__answers_code_and_window_ref_for_managers_only),
		T(book__full_slot__conflict_until_a_cancel),
		T(book__fourth_for_one_ref__conflict),
		T(book__bad_slot_or_ref__refused),
		T(book__public_limits__per_address_and_ref),
		T(codes__wrong_ones_limited_per_address),
		T(checkin__window__early_inside_late),
		T(day_change__booked_become_missed),
		T(stats__appointment_counters_on_the_slot_day),
		T(roles__public_kiosk_clerk_manager),
		T(bad_input__changes_nothing),
	};
#undef T
	return cmocka_run_group_tests_name("appointments", tests, hall_fixture_start, hall_fixture_stop);
}
