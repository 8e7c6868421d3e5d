/* 好差评 ratings (PROTOCOL.md v2 "Ratings") through a real qserver and redis-server: one rating
 * per ticket with its comment, the citizen's rating with the secret, the rating pad's window
 * and 120 s, the follow-up's due date over weekends and holidays (tests/data/small.json lists
 * 2026-12-02, a Wednesday, and 2026-12-19, a Saturday), the managers' `ratings` and
 * `resolve_rating`, `rating_counts` in stats, and who may do what. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testassert.h"

/* Monday 2026-11-30 10:00 in Asia/Shanghai. */
#define MONDAY (HALL_T0 + 3 * 86400L)

/* A rating pad's connection (pad-1 stands at window 1). */
static struct tc *pad_connect(void)
{
	struct tc *tc = tc_connect(hall.port);
	cJSON *r = expect_ok(tc_request(tc, "{\"op\":\"hello\",\"role\":\"pad\",\"token\":\"pad123\"}"));
	assert_string_equal(get_str(r, "role", NULL), "pad");
	assert_int_equal((int)get_num(r, "window", "id"), 1);
	cJSON_Delete(r);
	return tc;
}

/* Takes a ticket of service A, calls it at the clerk's window and finishes it with the extra
 * finish arguments (a JSON fragment such as ",\"rating\":4", or ""); returns the ticket id in
 * id (and the secret in secret, when given). */
static void serve_one(struct tc *kiosk, struct tc *clerk, const char *finish_args, char id[32], char secret[64])
{
	cJSON *r = expect_ok(tc_request(kiosk, "{\"op\":\"take\",\"service\":\"A\"}"));
	snprintf(id, 32, "%s", get_str(r, "ticket", "id"));
	if (secret)
		snprintf(secret, 64, "%s", get_str(r, "secret", NULL));
	cJSON_Delete(r);
	r = expect_ok(tc_request(clerk, "{\"op\":\"call_next\"}"));
	assert_string_equal(get_str(r, "ticket", "id"), id);
	cJSON_Delete(r);
	cJSON_Delete(expect_ok(tc_request(clerk, "{\"op\":\"finish\"%s}", finish_args)));
}

/* The ratings entries of a manager's `ratings` request (the caller frees *resp). */
static cJSON *ratings_of(struct tc *m, cJSON **resp, const char *args)
{
	*resp = expect_ok(tc_request(m, "{\"op\":\"ratings\",\"from\":\"2026-11-27\",\"to\":\"2026-12-31\"%s}", args));
	return cJSON_GetObjectItem(*resp, "ratings");
}

static void finish__rating_with_comment_once_per_ticket(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall), *c = hall_clerk(&hall, "c01", 1), *m = hall_manager(&hall);
	char id[32];
	serve_one(k, c, ",\"rating\":4,\"comment\":\"办得很快 quick\"", id, NULL);
	/* a second rating of the same ticket, by anyone, is a conflict and changes nothing */
	expect_error(tc_request(k, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":1}", id), "conflict", "id");
	cJSON *resp, *list = ratings_of(m, &resp, "");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	cJSON *e = cJSON_GetArrayItem(list, 0);
	assert_string_equal(get_str(e, "ticket", NULL), id);
	assert_string_equal(get_str(e, "number", NULL), "A001");
	assert_string_equal(get_str(e, "service", NULL), "A");
	assert_int_equal((int)get_num(e, "window", NULL), 1);
	assert_string_equal(get_str(e, "clerk", NULL), "c01");
	assert_int_equal((int)get_num(e, "score", NULL), 4);
	assert_string_equal(get_str(e, "comment", NULL), "办得很快 quick");
	assert_string_equal(get_str(e, "source", NULL), "clerk");
	/* recorded at the finish, on the clock that ran on from HALL_T0 */
	assert_in_range((long)get_num(e, "at", NULL), HALL_T0, hall_clock_now(&hall));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "followup"))); /* a good score needs none */
	cJSON_Delete(resp);
	tc_close(k);
	tc_close(c);
	tc_close(m);
}

static void comment__at_most_200_characters(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall), *c = hall_clerk(&hall, "c01", 1), *m = hall_manager(&hall);
	char id[32], longest[200 * 3 + 1] = "", too_long[201 * 3 + 1] = "";
	for (int i = 0; i < 200; i++)
		strcat(longest, "好");
	snprintf(too_long, sizeof too_long, "%s好", longest);
	/* at finish: refused, and the ticket is still being served */
	cJSON_Delete(expect_ok(tc_request(k, "{\"op\":\"take\",\"service\":\"A\"}")));
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}")));
	expect_error(tc_request(c, "{\"op\":\"finish\",\"rating\":3,\"comment\":\"%s\"}", too_long), "bad_request", "comment");
	expect_error(tc_request(c, "{\"op\":\"finish\",\"comment\":\"no score\"}"), "bad_request", "comment");
	expect_error(tc_request(c, "{\"op\":\"finish\",\"rating\":3,\"comment\":7}"), "bad_request", "comment");
	cJSON *r = expect_ok(tc_request(c, "{\"op\":\"finish\"}"));
	snprintf(id, sizeof id, "%s", get_str(r, "ticket", "id"));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "ticket"), "rating")));
	cJSON_Delete(r);
	/* at rate: 201 characters refused and nothing kept, 200 kept whole */
	expect_error(tc_request(k, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":3,\"comment\":\"%s\"}", id, too_long), "bad_request", "comment");
	cJSON *resp, *list = ratings_of(m, &resp, "");
	assert_int_equal(cJSON_GetArraySize(list), 0);
	cJSON_Delete(resp);
	cJSON_Delete(expect_ok(tc_request(k, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":3,\"comment\":\"%s\"}", id, longest)));
	list = ratings_of(m, &resp, "");
	assert_string_equal(get_str(cJSON_GetArrayItem(list, 0), "comment", NULL), longest);
	assert_string_equal(get_str(cJSON_GetArrayItem(list, 0), "source", NULL), "kiosk");
	cJSON_Delete(resp);
	tc_close(k);
	tc_close(c);
	tc_close(m);
}

static void rate__citizen_with_secret_rates_done_or_no_show(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall), *c = hall_clerk(&hall, "c01", 1), *p = hall_public(&hall);
	char secret[64], id[32], waiting_secret[64];
	cJSON *r = expect_ok(tc_request(k, "{\"op\":\"take\",\"service\":\"A\"}"));
	snprintf(id, sizeof id, "%s", get_str(r, "ticket", "id"));
	snprintf(secret, sizeof secret, "%s", get_str(r, "secret", NULL));
	cJSON_Delete(r);
	r = expect_ok(tc_request(k, "{\"op\":\"take\",\"service\":\"A\"}"));
	snprintf(waiting_secret, sizeof waiting_secret, "%s", get_str(r, "secret", NULL));
	cJSON_Delete(r);
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}")));
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"no_show\"}")));
	/* without the secret, or with a wrong one, the public may not rate */
	expect_error(tc_request(p, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":2}", id), "unauthenticated", NULL);
	expect_error(tc_request(p, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":2,\"secret\":\"%s\"}", id, waiting_secret),
		     "unauthenticated", "secret");
	/* a waiting ticket is not rated yet, even with its secret */
	expect_error(tc_request(p, "{\"op\":\"rate\",\"ticket\":\"20261127-A002\",\"score\":5,\"secret\":\"%s\"}", waiting_secret),
		     "conflict", "id");
	r = expect_ok(tc_request(p, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":2,\"secret\":\"%s\",\"comment\":\"没叫到我\"}", id, secret));
	assert_string_equal(get_str(r, "ticket", "state"), "no_show");
	assert_int_equal((int)get_num(r, "ticket", "rating"), 2);
	cJSON_Delete(r);
	expect_error(tc_request(p, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":5,\"secret\":\"%s\"}", id, secret), "conflict", "id");
	struct tc *m = hall_manager(&hall);
	cJSON *resp, *list = ratings_of(m, &resp, "");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(get_str(cJSON_GetArrayItem(list, 0), "source", NULL), "citizen");
	assert_string_equal(get_str(cJSON_GetArrayItem(list, 0), "clerk", NULL), "c01");
	cJSON_Delete(resp);
	tc_close(m);
	tc_close(p);
	tc_close(k);
	tc_close(c);
}

static void pad__rates_a_ticket_finished_at_its_window_within_120_s(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall), *c1 = hall_clerk(&hall, "c01", 1), *c2 = hall_clerk(&hall, "c02", 2);
	struct tc *pad = pad_connect();
	char at1[32], at2[32], late[32];
	serve_one(k, c1, "", at1, NULL);
	serve_one(k, c2, "", at2, NULL);
	/* another window's ticket, even just finished, is not the pad's */
	expect_error(tc_request(pad, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":5}", at2), "forbidden", "ticket");
	/* the test clock runs on in real time, so the edges are approached from the safe side:
	 * at1 finished at HALL_T0 or later, so at most about 110 s before this rating */
	hall_set_clock(&hall, HALL_T0 + 110);
	cJSON *r = expect_ok(tc_request(pad, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":5,\"comment\":\"好\"}", at1));
	assert_int_equal((int)get_num(r, "ticket", "rating"), 5);
	cJSON_Delete(r);
	expect_error(tc_request(pad, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":5}", at1), "conflict", "id");
	/* 121 s after its finish is too late (it finished by the clock read after it) */
	serve_one(k, c1, "", late, NULL);
	hall_set_clock(&hall, hall_clock_now(&hall) + 121);
	expect_error(tc_request(pad, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":4}", late), "forbidden", "ticket");
	/* a waiting ticket is not the pad's either */
	cJSON_Delete(expect_ok(tc_request(k, "{\"op\":\"take\",\"service\":\"A\"}")));
	expect_error(tc_request(pad, "{\"op\":\"rate\",\"ticket\":\"A004\",\"score\":4}"), "forbidden", "ticket");
	struct tc *m = hall_manager(&hall);
	cJSON *resp, *list = ratings_of(m, &resp, "");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(get_str(cJSON_GetArrayItem(list, 0), "source", NULL), "pad");
	assert_string_equal(get_str(cJSON_GetArrayItem(list, 0), "ticket", NULL), at1);
	cJSON_Delete(resp);
	tc_close(m);
	tc_close(pad);
	tc_close(k);
	tc_close(c1);
	tc_close(c2);
}

static void pad__may_only_subscribe_and_rate(void **state)
{
	(void)state;
	struct tc *pad = pad_connect();
	cJSON *r = expect_ok(tc_request(pad, "{\"op\":\"subscribe\",\"topics\":[\"ticket\"]}"));
	cJSON_Delete(r);
	static const char *const refused[] = {
		"{\"op\":\"take\",\"service\":\"A\"}", "{\"op\":\"ticket\",\"number\":\"A001\"}",
		"{\"op\":\"snapshot\"}", "{\"op\":\"site\"}", "{\"op\":\"queue\"}", "{\"op\":\"cancel\",\"ticket\":\"A001\"}",
		"{\"op\":\"call_next\",\"window\":1}", "{\"op\":\"finish\",\"window\":1}",
		"{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\"}",
		"{\"op\":\"ratings\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\"}",
		"{\"op\":\"resolve_rating\",\"ticket\":\"A001\",\"note\":\"x\"}",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		expect_error(tc_request(pad, "%s", refused[i]), "forbidden", NULL);
	tc_close(pad);
	/* a pad's token opens no kiosk, and a kiosk's token no pad */
	struct tc *tc = tc_connect(hall.port);
	expect_error(tc_request(tc, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"pad123\"}"), "unauthenticated", "token");
	tc_close(tc);
	tc = tc_connect(hall.port);
	expect_error(tc_request(tc, "{\"op\":\"hello\",\"role\":\"pad\",\"token\":\"kiosk123\"}"), "unauthenticated", "token");
	tc_close(tc);
	tc = tc_connect(hall.port);
	expect_error(tc_request(tc, "{\"op\":\"hello\",\"role\":\"pad\",\"kiosk\":\"kiosk-1\",\"token\":\"kiosk123\"}"), "unauthenticated", "token");
	tc_close(tc);
}

static void pad__sees_the_finish_at_its_window(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall), *c = hall_clerk(&hall, "c01", 1), *pad = pad_connect();
	cJSON_Delete(expect_ok(tc_request(pad, "{\"op\":\"subscribe\",\"topics\":[\"ticket\"]}")));
	char id[32];
	serve_one(k, c, "", id, NULL);
	/* the pad's page waits for a ticket event: done, at window 1 */
	int seen = 0;
	for (cJSON *e; !seen && (e = tc_next_event(pad, 3000)) != NULL; cJSON_Delete(e))
		seen = strcmp(get_str(e, "ticket", "state"), "done") == 0 && get_num(e, "ticket", "window") == 1 &&
		       strcmp(get_str(e, "ticket", "id"), id) == 0;
	assert_true(seen);
	tc_close(pad);
	tc_close(k);
	tc_close(c);
}

/* The follow-up of the first rating listed by a manager's `ratings` (bad only). */
static void expect_due(struct tc *m, int index, const char *due)
{
	cJSON *resp, *list = ratings_of(m, &resp, ",\"bad\":true");
	cJSON *f = cJSON_GetObjectItem(cJSON_GetArrayItem(list, index), "followup");
	assert_non_null(f);
	assert_string_equal(get_str(f, "state", NULL), "open");
	assert_string_equal(get_str(f, "due", NULL), due);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(f, "by")));
	cJSON_Delete(resp);
}

static void followup__due_15_working_days_later_skipping_weekends_and_holidays(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall), *c = hall_clerk(&hall, "c01", 1), *m = hall_manager(&hall);
	char id[32];
	/* Friday 11-27: Mon 11-30 is the 1st working day, Wed 12-02 a holiday, so the 15th is
	 * Mon 12-21 (Sat 12-19, also listed, changes nothing) */
	serve_one(k, c, ",\"rating\":2", id, NULL);
	expect_due(m, 0, "2026-12-21");
	/* Monday 11-30: from Tue 12-01, the 15th working day is Tue 12-22 */
	hall_set_clock(&hall, MONDAY);
	serve_one(k, c, ",\"rating\":1", id, NULL);
	expect_due(m, 1, "2026-12-22");
	/* Saturday 11-28 counts from Monday too: the same due date as Friday's */
	hall_set_clock(&hall, HALL_T0 + 86400);
	serve_one(k, c, "", id, NULL);
	cJSON_Delete(expect_ok(tc_request(k, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":1}", id)));
	expect_due(m, 1, "2026-12-21"); /* listed by rating time: Friday, Saturday, Monday */
	tc_close(k);
	tc_close(c);
	tc_close(m);
}

static void ratings__filters_by_days_badness_and_state_and_pages(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall), *c = hall_clerk(&hall, "c01", 1), *m = hall_manager(&hall);
	char id[32], bad_friday[32];
	serve_one(k, c, ",\"rating\":5", id, NULL);
	serve_one(k, c, ",\"rating\":2", bad_friday, NULL);
	hall_set_clock(&hall, MONDAY);
	serve_one(k, c, ",\"rating\":1", id, NULL);
	serve_one(k, c, ",\"rating\":3", id, NULL);
	cJSON *resp, *list = ratings_of(m, &resp, "");
	assert_int_equal(cJSON_GetArraySize(list), 4);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(resp, "more")));
	cJSON_Delete(resp);
	/* days of the site: Friday alone */
	resp = expect_ok(tc_request(m, "{\"op\":\"ratings\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\"}"));
	list = cJSON_GetObjectItem(resp, "ratings");
	assert_int_equal(cJSON_GetArraySize(list), 2);
	assert_int_equal((int)get_num(cJSON_GetArrayItem(list, 0), "score", NULL), 5);
	cJSON_Delete(resp);
	resp = expect_ok(tc_request(m, "{\"op\":\"ratings\",\"from\":\"2026-11-28\",\"to\":\"2026-11-29\"}"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(resp, "ratings")), 0);
	cJSON_Delete(resp);
	list = ratings_of(m, &resp, ",\"bad\":true");
	assert_int_equal(cJSON_GetArraySize(list), 2);
	assert_int_equal((int)get_num(cJSON_GetArrayItem(list, 0), "score", NULL), 2);
	assert_int_equal((int)get_num(cJSON_GetArrayItem(list, 1), "score", NULL), 1);
	cJSON_Delete(resp);
	cJSON_Delete(expect_ok(tc_request(m, "{\"op\":\"resolve_rating\",\"ticket\":\"%s\",\"note\":\"已回访\"}", bad_friday)));
	list = ratings_of(m, &resp, ",\"state\":\"open\"");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_int_equal((int)get_num(cJSON_GetArrayItem(list, 0), "score", NULL), 1);
	cJSON_Delete(resp);
	list = ratings_of(m, &resp, ",\"state\":\"resolved\"");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(get_str(cJSON_GetArrayItem(list, 0), "ticket", NULL), bad_friday);
	cJSON_Delete(resp);
	/* pages: limit, then on from next_offset */
	list = ratings_of(m, &resp, ",\"limit\":3");
	assert_int_equal(cJSON_GetArraySize(list), 3);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(resp, "more")));
	int next = (int)get_num(resp, "next_offset", NULL);
	assert_int_equal(next, 3);
	cJSON_Delete(resp);
	char args[64];
	snprintf(args, sizeof args, ",\"limit\":3,\"offset\":%d", next);
	list = ratings_of(m, &resp, args);
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_int_equal((int)get_num(cJSON_GetArrayItem(list, 0), "score", NULL), 3);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(resp, "more")));
	cJSON_Delete(resp);
	/* bad arguments */
	expect_error(tc_request(m, "{\"op\":\"ratings\",\"from\":\"2026-11-27\"}"), "bad_request", "to");
	expect_error(tc_request(m, "{\"op\":\"ratings\",\"from\":\"2026-11-31\",\"to\":\"2026-12-01\"}"), "bad_request", "from");
	expect_error(tc_request(m, "{\"op\":\"ratings\",\"from\":\"2026-12-01\",\"to\":\"2026-11-27\"}"), "bad_request", "to");
	expect_error(tc_request(m, "{\"op\":\"ratings\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"state\":\"late\"}"), "bad_request", "state");
	expect_error(tc_request(m, "{\"op\":\"ratings\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"bad\":1}"), "bad_request", "bad");
	expect_error(tc_request(m, "{\"op\":\"ratings\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"limit\":501}"), "bad_request", "limit");
	tc_close(k);
	tc_close(c);
	tc_close(m);
}

static void resolve_rating__closes_a_bad_ratings_followup_once(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall), *c = hall_clerk(&hall, "c01", 1), *m = hall_manager(&hall);
	char bad[32], good[32];
	serve_one(k, c, ",\"rating\":1,\"comment\":\"等太久\"", bad, NULL);
	serve_one(k, c, ",\"rating\":4", good, NULL);
	expect_error(tc_request(m, "{\"op\":\"resolve_rating\",\"ticket\":\"%s\"}", bad), "bad_request", "note");
	expect_error(tc_request(m, "{\"op\":\"resolve_rating\",\"ticket\":\"%s\",\"note\":\"\"}", bad), "bad_request", "note");
	expect_error(tc_request(m, "{\"op\":\"resolve_rating\",\"ticket\":\"%s\",\"note\":\"回访\"}", good), "conflict", "ticket");
	expect_error(tc_request(m, "{\"op\":\"resolve_rating\",\"ticket\":\"20261127-Z001\",\"note\":\"回访\"}"), "not_found", "ticket");
	expect_error(tc_request(c, "{\"op\":\"resolve_rating\",\"ticket\":\"%s\",\"note\":\"回访\"}", bad), "forbidden", NULL);
	hall_set_clock(&hall, HALL_T0 + 3600);
	cJSON *r = expect_ok(tc_request(m, "{\"op\":\"resolve_rating\",\"ticket\":\"A001\",\"note\":\"已电话回访并致歉\"}"));
	cJSON *rating = cJSON_GetObjectItem(r, "rating");
	assert_string_equal(get_str(rating, "ticket", NULL), bad);
	assert_string_equal(get_str(rating, "comment", NULL), "等太久");
	cJSON *f = cJSON_GetObjectItem(rating, "followup");
	assert_string_equal(get_str(f, "state", NULL), "resolved");
	assert_string_equal(get_str(f, "due", NULL), "2026-12-21");
	assert_string_equal(get_str(f, "note", NULL), "已电话回访并致歉");
	assert_string_equal(get_str(f, "by", NULL), "m01");
	assert_in_range((long)get_num(f, "at", NULL), HALL_T0 + 3600, hall_clock_now(&hall));
	cJSON_Delete(r);
	expect_error(tc_request(m, "{\"op\":\"resolve_rating\",\"ticket\":\"%s\",\"note\":\"again\"}", bad), "conflict", "ticket");
	tc_close(k);
	tc_close(c);
	tc_close(m);
}

/* The rating_counts of the first stats row, as five integers. */
static void expect_counts(cJSON *stats_resp, const int want[5])
{
	cJSON *counts = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(stats_resp, "rows"), 0), "rating_counts");
	assert_int_equal(cJSON_GetArraySize(counts), 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal((int)cJSON_GetArrayItem(counts, i)->valuedouble, want[i]);
}

static void stats__rating_counts_per_score(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall), *c = hall_clerk(&hall, "c01", 1), *c2 = hall_clerk(&hall, "c02", 2);
	struct tc *m = hall_manager(&hall);
	char id[32];
	serve_one(k, c, ",\"rating\":5", id, NULL);
	serve_one(k, c, ",\"rating\":5", id, NULL);
	serve_one(k, c, ",\"rating\":1", id, NULL);
	serve_one(k, c2, "", id, NULL);
	cJSON_Delete(expect_ok(tc_request(k, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":3}", id)));
	serve_one(k, c2, "", id, NULL); /* unrated */
	cJSON *r = expect_ok(tc_request(m, "{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\"}"));
	expect_counts(r, (const int[5]){1, 0, 1, 0, 2});
	assert_int_equal((int)get_num(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "rows"), 0), "ratings", NULL), 4);
	cJSON_Delete(r);
	r = expect_ok(tc_request(m, "{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"by\":\"window\"}"));
	expect_counts(r, (const int[5]){1, 0, 0, 0, 2}); /* window 1 */
	cJSON_Delete(r);
	/* a clerk's own window's figures carry them too, and a month's range after the day change */
	r = expect_ok(tc_request(c2, "{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\"}"));
	expect_counts(r, (const int[5]){0, 0, 1, 0, 0});
	cJSON_Delete(r);
	hall_set_clock(&hall, HALL_T0 + 40 * 86400L);
	cJSON_Delete(expect_ok(tc_request(k, "{\"op\":\"take\",\"service\":\"A\"}"))); /* runs the day change */
	r = expect_ok(tc_request(m, "{\"op\":\"stats\",\"from\":\"2026-11-01\",\"to\":\"2026-11-30\"}"));
	expect_counts(r, (const int[5]){1, 0, 1, 0, 2});
	cJSON_Delete(r);
	tc_close(k);
	tc_close(c);
	tc_close(c2);
	tc_close(m);
}

static void roles__who_may_rate_and_list(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall), *c = hall_clerk(&hall, "c01", 1), *p = hall_public(&hall);
	char id[32];
	serve_one(k, c, "", id, NULL);
	expect_error(tc_request(c, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":5}", id), "forbidden", NULL);
	expect_error(tc_request(c, "{\"op\":\"ratings\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\"}"), "forbidden", NULL);
	expect_error(tc_request(k, "{\"op\":\"ratings\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\"}"), "forbidden", NULL);
	expect_error(tc_request(p, "{\"op\":\"ratings\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\"}"), "unauthenticated", NULL);
	expect_error(tc_request(p, "{\"op\":\"resolve_rating\",\"ticket\":\"A001\",\"note\":\"x\"}"), "unauthenticated", NULL);
	struct tc *m = hall_manager(&hall);
	cJSON *r = expect_ok(tc_request(m, "{\"op\":\"rate\",\"ticket\":\"%s\",\"score\":4}", id));
	assert_int_equal((int)get_num(r, "ticket", "rating"), 4);
	cJSON_Delete(r);
	tc_close(m);
	tc_close(p);
	tc_close(k);
	tc_close(c);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, hall_fixture_reset)
	const struct CMUnitTest tests[] = {
		T(finish__rating_with_comment_once_per_ticket),
		T(comment__at_most_200_characters),
		T(rate__citizen_with_secret_rates_done_or_no_show),
		T(pad__rates_a_ticket_finished_at_its_window_within_120_s),
		T(pad__may_only_subscribe_and_rate),
		T(pad__sees_the_finish_at_its_window),
		T(followup__due_15_working_days_later_skipping_weekends_and_holidays),
		T(ratings__filters_by_days_badness_and_state_and_pages),
		T(resolve_rating__closes_a_bad_ratings_followup_once),
		T(stats__rating_counts_per_score),
		T(roles__who_may_rate_and_list),
	};
	return cmocka_run_group_tests_name("ratings", tests, hall_fixture_start, hall_fixture_stop);
}
