/* Every op of PROTOCOL.md through a real qserver and redis-server: its success and each of
 * its error codes, as a client sees them. */
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


static void ping__answers_the_server_clock(void **state)
{
	(void)state;
	struct tc *tc = tc_connect(hall.port);
	cJSON *r = expect_ok(tc_request(tc, "{\"id\":\"p\",\"op\":\"ping\"}"));
	assert_string_equal(get_str(r, "id", NULL), "p");
	assert_true(get_num(r, "time", NULL) >= HALL_T0 && get_num(r, "time", NULL) < HALL_T0 + 60);
	cJSON_Delete(r);
	tc_close(tc);
}

static void site__names_services_and_windows(void **state)
{
	(void)state;
	struct tc *tc = hall_public(&hall);
	cJSON *r = expect_ok(tc_request(tc, "{\"op\":\"site\"}"));
	assert_string_equal(get_str(r, "site", "id"), "small");
	assert_string_equal(get_str(r, "site", "date"), "2026-11-27");
	assert_string_equal(get_str(r, "site", "tz"), "Asia/Shanghai");
	assert_int_equal((int)get_num(r, "site", "sla"), 900);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "site"), "open")));
	cJSON *services = cJSON_GetObjectItem(r, "services");
	assert_int_equal(cJSON_GetArraySize(services), 3);
	assert_string_equal(get_str(cJSON_GetArrayItem(services, 0), "name", NULL), "社会保障");
	assert_string_equal(get_str(cJSON_GetArrayItem(services, 0), "name_en", NULL), "Social security");
	cJSON *windows = cJSON_GetObjectItem(r, "windows");
	assert_int_equal(cJSON_GetArraySize(windows), 3);
	cJSON *w3 = cJSON_GetArrayItem(windows, 2);
	assert_int_equal((int)get_num(w3, "id", NULL), 3);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(w3, "services"), 0)->valuestring, "B");
	assert_string_equal(get_str(w3, "state", NULL), "closed");
	assert_null(cJSON_GetObjectItem(r, "recent"));
	cJSON_Delete(r);
	tc_close(tc);
}

static void take__ticket_with_ahead_and_ewt(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	cJSON *r = expect_ok(tc_request(k, "{\"op\":\"take\",\"service\":\"A\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "A001");
	assert_string_equal(get_str(r, "ticket", "id"), "20261127-A001");
	assert_string_equal(get_str(r, "ticket", "state"), "waiting");
	assert_string_equal(get_str(r, "ticket", "class"), "normal");
	assert_string_equal(get_str(r, "ticket", "channel"), "kiosk");
	/* the test clock runs on from HALL_T0 in real time */
	assert_in_range((long)get_num(r, "ticket", "issued_at"), HALL_T0, hall_clock_now(&hall));
	assert_int_equal((int)get_num(r, "ticket", "ahead"), 0);
	cJSON_Delete(r);
	r = expect_ok(tc_request(k, "{\"op\":\"take\",\"service\":\"A\",\"channel\":\"wechat\",\"ref\":\"预约 123\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "A002");
	assert_string_equal(get_str(r, "ticket", "channel"), "wechat");
	assert_int_equal((int)get_num(r, "ticket", "ahead"), 1);
	assert_true(get_num(r, "ticket", "ewt") > 0);
	cJSON_Delete(r);
	/* Every service numbers on its own. */
	r = expect_ok(tc_request(k, "{\"op\":\"take\",\"service\":\"C\",\"class\":\"priority\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "C001");
	assert_string_equal(get_str(r, "ticket", "class"), "priority");
	cJSON_Delete(r);
	expect_error(tc_request(k, "{\"op\":\"take\",\"service\":\"Z\"}"), "not_found", "service");
	expect_error(tc_request(k, "{\"op\":\"take\",\"service\":\"A\",\"class\":\"gold\"}"), "bad_request", "class");
	tc_close(k);
}

static void services__live_waiting_and_ewt(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	for (int i = 0; i < 3; i++)
		assert_non_null(hall_take(k, "B", NULL, n, sizeof n));
	cJSON *r = expect_ok(tc_request(k, "{\"op\":\"services\"}"));
	cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "services"), 1);
	assert_string_equal(get_str(b, "id", NULL), "B");
	assert_int_equal((int)get_num(b, "waiting", NULL), 3);
	assert_true(get_num(b, "ewt", NULL) > 0);
	/* A service tells what a new ticket would be told: the next take's ahead and ewt. */
	int ahead = (int)get_num(b, "ahead", NULL), ewt = (int)get_num(b, "ewt", NULL);
	int low = (int)get_num(b, "ewt_low", NULL), high = (int)get_num(b, "ewt_high", NULL);
	assert_int_equal(ahead, 3);
	cJSON_Delete(r);
	r = expect_ok(tc_request(k, "{\"op\":\"take\",\"service\":\"B\"}"));
	assert_int_equal((int)get_num(r, "ticket", "ahead"), ahead);
	assert_int_equal((int)get_num(r, "ticket", "ewt"), ewt);
	/* with the same range (PROTOCOL v2), 10th percentile <= median <= 90th */
	assert_int_equal((int)get_num(r, "ticket", "ewt_low"), low);
	assert_int_equal((int)get_num(r, "ticket", "ewt_high"), high);
	assert_true(low < ewt && ewt < high);
	cJSON_Delete(r);
	/* a ticket no longer waiting has no estimate */
	r = expect_ok(tc_request(k, "{\"op\":\"cancel\",\"ticket\":\"20261127-B004\"}"));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "ticket"), "ewt_low")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "ticket"), "ewt_high")));
	cJSON_Delete(r);
	tc_close(k);
}

static void ticket__by_id_or_number(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	struct tc *p = hall_public(&hall);
	cJSON *r = expect_ok(tc_request(p, "{\"op\":\"ticket\",\"number\":\"A001\"}"));
	assert_string_equal(get_str(r, "ticket", "id"), "20261127-A001");
	cJSON_Delete(r);
	r = expect_ok(tc_request(p, "{\"op\":\"ticket\",\"id\":\"20261127-A001\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "A001");
	cJSON_Delete(r);
	expect_error(tc_request(p, "{\"op\":\"ticket\",\"number\":\"A999\"}"), "not_found", "number");
	expect_error(tc_request(p, "{\"op\":\"ticket\",\"id\":\"20200101-A001\"}"), "not_found", "id");
	expect_error(tc_request(p, "{\"op\":\"ticket\"}"), "bad_request", "id");
	tc_close(p);
	tc_close(k);
}

static void cancel__waiting_only(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	hall_take(k, "A", NULL, n, sizeof n);
	cJSON *r = expect_ok(tc_request(k, "{\"op\":\"cancel\",\"id\":\"20261127-A002\"}"));
	assert_string_equal(get_str(r, "ticket", "state"), "cancelled");
	cJSON_Delete(r);
	expect_error(tc_request(k, "{\"op\":\"cancel\",\"id\":\"20261127-A002\"}"), "conflict", "id");
	expect_error(tc_request(k, "{\"op\":\"cancel\",\"id\":\"20261127-A077\"}"), "not_found", "id");
	expect_error(tc_request(k, "{\"op\":\"cancel\"}"), "bad_request", "id");
	struct tc *c = hall_clerk(&hall, "c01", 1);
	r = expect_ok(tc_request(c, "{\"op\":\"call_next\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "A001");
	cJSON_Delete(r);
	expect_error(tc_request(k, "{\"op\":\"cancel\",\"id\":\"20261127-A001\"}"), "conflict", "id");
	/* The cancelled ticket is never called. */
	r = expect_ok(tc_request(c, "{\"op\":\"call_next\"}"));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "ticket")));
	cJSON_Delete(r);
	tc_close(c);
	tc_close(k);
}

static void cancel__numbered_request_names_the_ticket_in_ticket(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "B", NULL, n, sizeof n);
	/* An integer id is the request's own; it cannot name a ticket. */
	expect_error(tc_request(k, "{\"id\":41,\"op\":\"cancel\"}"), "bad_request", "id");
	cJSON *r = expect_ok(tc_request(k, "{\"id\":42,\"op\":\"cancel\",\"ticket\":\"B001\"}"));
	assert_int_equal((int)get_num(r, "id", NULL), 42);
	assert_string_equal(get_str(r, "ticket", "state"), "cancelled");
	cJSON_Delete(r);
	r = expect_ok(tc_request(k, "{\"id\":43,\"op\":\"ticket\",\"ticket\":\"20261127-B001\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "B001");
	cJSON_Delete(r);
	tc_close(k);
}

static void call_next__priority_first_then_longest_wait(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);		/* A001 at T0 */
	hall_set_clock(&hall, HALL_T0 + 60);
	hall_take(k, "C", NULL, n, sizeof n);		/* C001 */
	hall_take(k, "B", "appointment", n, sizeof n); /* B001 */
	hall_take(k, "C", "priority", n, sizeof n);	/* C002 */
	struct tc *c = hall_clerk(&hall, "c01", 1);
	const char *order[] = {"C002", "B001", "A001", "C001"};
	for (int i = 0; i < 4; i++) {
		cJSON *r = expect_ok(tc_request(c, "{\"op\":\"call_next\"}"));
		assert_string_equal(get_str(r, "ticket", "number"), order[i]);
		assert_string_equal(get_str(r, "ticket", "state"), "called");
		assert_int_equal((int)get_num(r, "ticket", "window"), 1);
		assert_string_equal(get_str(r, "ticket", "clerk"), "c01");
		cJSON_Delete(r);
	}
	/* The last call_next finished C001 and found nothing. */
	cJSON *r = expect_ok(tc_request(c, "{\"op\":\"call_next\"}"));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "ticket")));
	cJSON_Delete(r);
	r = expect_ok(tc_request(k, "{\"op\":\"ticket\",\"number\":\"C001\"}"));
	assert_string_equal(get_str(r, "ticket", "state"), "done");
	cJSON_Delete(r);
	tc_close(c);
	tc_close(k);
}

static void call_next__specialised_window_takes_only_its_service(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", "priority", n, sizeof n);
	hall_take(k, "B", NULL, n, sizeof n);
	struct tc *c = hall_clerk(&hall, "c03", 3);
	cJSON *r = expect_ok(tc_request(c, "{\"op\":\"call_next\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "B001");
	cJSON_Delete(r);
	r = expect_ok(tc_request(c, "{\"op\":\"call_next\"}"));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "ticket")));
	cJSON_Delete(r);
	tc_close(c);
	tc_close(k);
}

static void call__out_of_order_and_its_errors(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	hall_take(k, "A", NULL, n, sizeof n);
	hall_take(k, "C", NULL, n, sizeof n);
	struct tc *c = hall_clerk(&hall, "c01", 1);
	cJSON *r = expect_ok(tc_request(c, "{\"op\":\"call\",\"ticket\":\"A002\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "A002");
	assert_string_equal(get_str(r, "ticket", "state"), "called");
	cJSON_Delete(r);
	r = expect_ok(tc_request(c, "{\"op\":\"call\",\"ticket\":\"20261127-C001\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "C001");
	cJSON_Delete(r);
	expect_error(tc_request(c, "{\"op\":\"call\",\"ticket\":\"A002\"}"), "conflict", "ticket");
	expect_error(tc_request(c, "{\"op\":\"call\",\"ticket\":\"A404\"}"), "not_found", "ticket");
	expect_error(tc_request(c, "{\"op\":\"call\"}"), "bad_request", "ticket");
	struct tc *c3 = hall_clerk(&hall, "c03", 3);
	expect_error(tc_request(c3, "{\"op\":\"call\",\"ticket\":\"A001\"}"), "conflict", "ticket");
	tc_close(c3);
	tc_close(c);
	tc_close(k);
}

static void recall_start_finish__the_clerks_cycle(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	struct tc *c = hall_clerk(&hall, "c01", 1);
	expect_error(tc_request(c, "{\"op\":\"recall\"}"), "conflict", NULL);
	expect_error(tc_request(c, "{\"op\":\"start\"}"), "conflict", NULL);
	expect_error(tc_request(c, "{\"op\":\"finish\"}"), "conflict", NULL);
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}")));
	hall_set_clock(&hall, HALL_T0 + 30);
	cJSON *r = expect_ok(tc_request(c, "{\"op\":\"recall\"}"));
	assert_int_equal((int)get_num(r, "ticket", "recalls"), 1);
	cJSON_Delete(r);
	r = expect_ok(tc_request(c, "{\"op\":\"start\"}"));
	assert_string_equal(get_str(r, "ticket", "state"), "serving");
	/* the test clock runs on from where it was set: a slow machine may cross a second */
	assert_in_range((long)get_num(r, "ticket", "started_at"), HALL_T0 + 30, HALL_T0 + 32);
	cJSON_Delete(r);
	expect_error(tc_request(c, "{\"op\":\"recall\"}"), "conflict", NULL);
	expect_error(tc_request(c, "{\"op\":\"start\"}"), "conflict", NULL);
	hall_set_clock(&hall, HALL_T0 + 330);
	expect_error(tc_request(c, "{\"op\":\"finish\",\"rating\":6}"), "bad_request", "rating");
	r = expect_ok(tc_request(c, "{\"op\":\"finish\",\"rating\":4}"));
	assert_string_equal(get_str(r, "ticket", "state"), "done");
	assert_in_range((long)get_num(r, "ticket", "finished_at"), HALL_T0 + 330, HALL_T0 + 332);
	assert_int_equal((int)get_num(r, "ticket", "rating"), 4);
	cJSON_Delete(r);
	expect_error(tc_request(c, "{\"op\":\"finish\"}"), "conflict", NULL);
	tc_close(c);
	tc_close(k);
}

static void rate__once_for_a_done_ticket(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	expect_error(tc_request(k, "{\"op\":\"rate\",\"id\":\"20261127-A001\",\"score\":5}"), "conflict", "id");
	struct tc *c = hall_clerk(&hall, "c01", 1);
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}")));
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"finish\"}")));
	cJSON *r = expect_ok(tc_request(k, "{\"op\":\"rate\",\"id\":\"20261127-A001\",\"score\":5}"));
	assert_int_equal((int)get_num(r, "ticket", "rating"), 5);
	cJSON_Delete(r);
	expect_error(tc_request(k, "{\"op\":\"rate\",\"id\":\"20261127-A001\",\"score\":1}"), "conflict", "id");
	expect_error(tc_request(k, "{\"op\":\"rate\",\"id\":\"20261127-A009\",\"score\":1}"), "not_found", "id");
	expect_error(tc_request(k, "{\"op\":\"rate\",\"id\":\"20261127-A001\"}"), "bad_request", "score");
	tc_close(c);
	tc_close(k);
}

static void no_show__absent_or_requeued_at_the_back(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	hall_take(k, "A", NULL, n, sizeof n);
	struct tc *c = hall_clerk(&hall, "c01", 1);
	expect_error(tc_request(c, "{\"op\":\"no_show\"}"), "conflict", NULL);
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}"))); /* A001 */
	cJSON *r = expect_ok(tc_request(c, "{\"op\":\"no_show\",\"requeue\":true}"));
	assert_string_equal(get_str(r, "ticket", "state"), "waiting");
	cJSON_Delete(r);
	r = expect_ok(tc_request(c, "{\"op\":\"call_next\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "A002"); /* A001 went to the back */
	cJSON_Delete(r);
	r = expect_ok(tc_request(c, "{\"op\":\"no_show\"}"));
	assert_string_equal(get_str(r, "ticket", "state"), "no_show");
	cJSON_Delete(r);
	r = expect_ok(tc_request(c, "{\"op\":\"call_next\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "A001");
	cJSON_Delete(r);
	expect_error(tc_request(c, "{\"op\":\"no_show\",\"requeue\":1}"), "bad_request", "requeue");
	tc_close(c);
	tc_close(k);
}

static void transfer__keeps_issue_time_and_may_pin_a_window(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	long a_taken_by = hall_clock_now(&hall); /* the clock ran on from HALL_T0 meanwhile */
	hall_set_clock(&hall, HALL_T0 + 100);
	hall_take(k, "B", NULL, n, sizeof n);
	struct tc *c = hall_clerk(&hall, "c01", 1);
	expect_error(tc_request(c, "{\"op\":\"transfer\",\"service\":\"B\"}"), "conflict", NULL);
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}"))); /* A001 */
	expect_error(tc_request(c, "{\"op\":\"transfer\",\"service\":\"Z\"}"), "not_found", "service");
	expect_error(tc_request(c, "{\"op\":\"transfer\",\"service\":\"A\",\"window\":3}"), "bad_request", "window");
	cJSON *r = expect_ok(tc_request(c, "{\"op\":\"transfer\",\"service\":\"B\",\"window\":3}"));
	assert_string_equal(get_str(r, "ticket", "state"), "waiting");
	assert_string_equal(get_str(r, "ticket", "service"), "B");
	assert_in_range((long)get_num(r, "ticket", "issued_at"), HALL_T0, a_taken_by);
	assert_int_equal((int)get_num(r, "ticket", "transfers"), 1);
	cJSON_Delete(r);
	/* Pinned to window 3: window 1 does not get it... */
	r = expect_ok(tc_request(c, "{\"op\":\"call_next\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "B001");
	cJSON_Delete(r);
	/* ...window 3 does, before B001's later issue time would matter. */
	struct tc *c3 = hall_clerk(&hall, "c03", 3);
	r = expect_ok(tc_request(c3, "{\"op\":\"call_next\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "A001");
	assert_string_equal(get_str(r, "ticket", "service"), "B");
	cJSON_Delete(r);
	tc_close(c3);
	tc_close(c);
	tc_close(k);
}

static void pause_resume_close__window_states(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	struct tc *c = hall_clerk(&hall, "c01", 1);
	expect_error(tc_request(c, "{\"op\":\"resume\"}"), "conflict", NULL);
	cJSON *r = expect_ok(tc_request(c, "{\"op\":\"pause\",\"reason\":\"午休 lunch\"}"));
	assert_string_equal(get_str(r, "window", "state"), "paused");
	assert_string_equal(get_str(r, "window", "reason"), "午休 lunch");
	cJSON_Delete(r);
	expect_error(tc_request(c, "{\"op\":\"call_next\"}"), "conflict", "window");
	r = expect_ok(tc_request(c, "{\"op\":\"resume\"}"));
	assert_string_equal(get_str(r, "window", "state"), "idle");
	cJSON_Delete(r);
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}")));
	expect_error(tc_request(c, "{\"op\":\"pause\"}"), "conflict", "window");
	expect_error(tc_request(c, "{\"op\":\"close\"}"), "conflict", "window");
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"finish\"}")));
	r = expect_ok(tc_request(c, "{\"op\":\"close\"}"));
	assert_string_equal(get_str(r, "window", "state"), "closed");
	cJSON_Delete(r);
	expect_error(tc_request(c, "{\"op\":\"call_next\"}"), "conflict", "window");
	r = expect_ok(tc_request(c, "{\"op\":\"resume\"}"));
	assert_string_equal(get_str(r, "window", "state"), "idle");
	cJSON_Delete(r);
	tc_close(c);
	tc_close(k);
}

static void queue__in_call_order_for_the_window(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	hall_take(k, "B", NULL, n, sizeof n);
	hall_take(k, "B", "priority", n, sizeof n);
	struct tc *c3 = hall_clerk(&hall, "c03", 3);
	cJSON *r = expect_ok(tc_request(c3, "{\"op\":\"queue\"}"));
	cJSON *list = cJSON_GetObjectItem(r, "tickets");
	assert_int_equal(cJSON_GetArraySize(list), 2);
	assert_string_equal(get_str(cJSON_GetArrayItem(list, 0), "number", NULL), "B002");
	assert_string_equal(get_str(cJSON_GetArrayItem(list, 1), "number", NULL), "B001");
	cJSON_Delete(r);
	expect_error(tc_request(c3, "{\"op\":\"queue\",\"service\":\"A\"}"), "forbidden", "service");
	expect_error(tc_request(c3, "{\"op\":\"queue\",\"window\":1}"), "forbidden", "window");
	struct tc *m = hall_manager(&hall);
	r = expect_ok(tc_request(m, "{\"op\":\"queue\"}"));
	list = cJSON_GetObjectItem(r, "tickets");
	assert_int_equal(cJSON_GetArraySize(list), 3);
	assert_string_equal(get_str(cJSON_GetArrayItem(list, 0), "number", NULL), "B002");
	assert_string_equal(get_str(cJSON_GetArrayItem(list, 1), "number", NULL), "A001");
	cJSON_Delete(r);
	r = expect_ok(tc_request(m, "{\"op\":\"queue\",\"service\":\"A\",\"limit\":1}"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "tickets")), 1);
	cJSON_Delete(r);
	expect_error(tc_request(m, "{\"op\":\"queue\",\"limit\":0}"), "bad_request", "limit");
	tc_close(m);
	tc_close(c3);
	tc_close(k);
}

static void manager__acts_on_any_window(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "B", NULL, n, sizeof n);
	struct tc *m = hall_manager(&hall);
	expect_error(tc_request(m, "{\"op\":\"call_next\",\"window\":3}"), "conflict", "window"); /* closed */
	cJSON_Delete(expect_ok(tc_request(m, "{\"op\":\"resume\",\"window\":3}")));
	cJSON *r = expect_ok(tc_request(m, "{\"op\":\"call_next\",\"window\":3}"));
	assert_string_equal(get_str(r, "ticket", "number"), "B001");
	assert_int_equal((int)get_num(r, "ticket", "window"), 3);
	/* nobody is signed in at window 3: the manager serves */
	assert_string_equal(get_str(r, "ticket", "clerk"), "m01");
	cJSON_Delete(r);
	r = expect_ok(tc_request(m, "{\"op\":\"transfer\",\"window\":3,\"service\":\"A\",\"target_window\":1}"));
	assert_string_equal(get_str(r, "ticket", "service"), "A");
	cJSON_Delete(r);
	tc_close(m);
	tc_close(k);
}

static void manager__acting_for_a_clerks_window_records_the_clerk(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	struct tc *c = hall_clerk(&hall, "c01", 2);
	assert_non_null(c);
	struct tc *m = hall_manager(&hall);
	cJSON *r = expect_ok(tc_request(m, "{\"op\":\"call_next\",\"window\":2}"));
	assert_string_equal(get_str(r, "ticket", "number"), "A001");
	assert_string_equal(get_str(r, "ticket", "clerk"), "c01");
	cJSON_Delete(r);
	r = expect_ok(tc_request(m, "{\"op\":\"snapshot\"}"));
	const cJSON *w = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "windows"), 1);
	assert_string_equal(get_str(w, "clerk", NULL), "c01");
	assert_true(get_num(w, "since", NULL) >= HALL_T0);
	cJSON_Delete(r);
	tc_close(m);
	tc_close(c);
	tc_close(k);
}

static void hello__window_held_by_live_clerk__conflict_until_it_leaves(void **state)
{
	(void)state;
	struct tc *a = hall_clerk(&hall, "c01", 2);
	assert_non_null(a);
	struct tc *b = tc_connect(hall.port);
	expect_error(tc_request(b, "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c02\",\"password\":\"clerk123\",\"window\":2}"), "conflict", "window");
	/* The same clerk from a new connection takes the window up again. */
	struct tc *a2 = hall_clerk(&hall, "c01", 2);
	assert_non_null(a2);
	tc_close(a);
	tc_close(a2);
	/* Once the clerk has left, another may take the window (the lease was released). */
	cJSON *r = NULL;
	for (int i = 0; i < 100; i++) {
		cJSON_Delete(r);
		r = tc_request(b, "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c02\",\"password\":\"clerk123\",\"window\":2}");
		if (tc_ok(r))
			break;
	}
	assert_true(tc_ok(r));
	assert_int_equal((int)get_num(r, "window", "id"), 2);
	assert_string_equal(get_str(r, "window", "clerk"), "c02");
	assert_string_equal(get_str(r, "user", "name"), "王伟");
	cJSON_Delete(r);
	tc_close(b);
}

static void hello__reconnecting_clerk_keeps_the_ticket(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	struct tc *c = hall_clerk(&hall, "c01", 1);
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}")));
	tc_close(c);
	c = tc_connect(hall.port);
	cJSON *r = expect_ok(tc_request(c, "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c01\",\"password\":\"clerk123\",\"window\":1}"));
	assert_string_equal(get_str(r, "window", "state"), "calling");
	assert_string_equal(get_str(r, "window", "ticket"), "A001");
	cJSON_Delete(r);
	r = expect_ok(tc_request(c, "{\"op\":\"start\"}"));
	assert_string_equal(get_str(r, "ticket", "number"), "A001");
	cJSON_Delete(r);
	tc_close(c);
	tc_close(k);
}

/* Service names with quotes and backslashes (tests/data/escapes.json, 16 services) come back
 * as configured, in config order, from snapshot, services and site alike. */
static void services__names_needing_escapes_as_configured(void **state)
{
	(void)state;
	static const struct {
		const char *id, *prefix, *name, *name_en;
	} want[] = {{"S01", "AA", "他说\"你好\"", "The \"quoted\" one"},
		    {"S02", "BB", "C:\\办事\\窗口", "back\\slash \\\"both\\\""},
		    {"S03", "CC", "服务3", "Service 3"},
		    {"S16", "PP", "服务16", "Service 16"}};
	static const int at[] = {0, 1, 2, 15};
	struct test_hall h;
	assert_int_equal(hall_start_config(&h, "escapes.json", false, NULL), 0);
	struct tc *pub = hall_public(&h);
	static const char *const ops[] = {"snapshot", "services", "site"};
	for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
		cJSON *r = expect_ok(tc_request(pub, "{\"op\":\"%s\"}", ops[o]));
		const cJSON *services = cJSON_GetObjectItem(r, "services");
		assert_int_equal(cJSON_GetArraySize(services), 16);
		for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
			const cJSON *svc = cJSON_GetArrayItem(services, at[i]);
			assert_string_equal(get_str(svc, "id", NULL), want[i].id);
			assert_string_equal(get_str(svc, "prefix", NULL), want[i].prefix);
			assert_string_equal(get_str(svc, "name", NULL), want[i].name);
			assert_string_equal(get_str(svc, "name_en", NULL), want[i].name_en);
			assert_int_equal((int)get_num(svc, "waiting", NULL), 0);
		}
		assert_int_equal((int)get_num(cJSON_GetArrayItem(services, 2), "appointments", "slot_minutes"), 30);
		assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(services, 3), "appointments"));
		cJSON_Delete(r);
	}
	tc_close(pub);
	assert_int_equal(hall_stop(&h), 0);
}

static void snapshot__recent_calls_newest_first(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	hall_take(k, "A", NULL, n, sizeof n);
	struct tc *c = hall_clerk(&hall, "c01", 1);
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}")));
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}")));
	struct tc *p = hall_public(&hall);
	cJSON *r = expect_ok(tc_request(p, "{\"op\":\"snapshot\"}"));
	cJSON *recent = cJSON_GetObjectItem(r, "recent");
	assert_int_equal(cJSON_GetArraySize(recent), 2);
	assert_string_equal(get_str(cJSON_GetArrayItem(recent, 0), "number", NULL), "A002");
	assert_int_equal((int)get_num(cJSON_GetArrayItem(recent, 0), "window", NULL), 1);
	cJSON *w1 = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "windows"), 0);
	assert_string_equal(get_str(w1, "state", NULL), "calling");
	assert_string_equal(get_str(w1, "ticket", NULL), "A002");
	assert_string_equal(get_str(r, "site", "id"), "small");
	/* Today's figures, for the wall: two came, two were called at once. */
	assert_string_equal(get_str(r, "today", "date"), "2026-11-27");
	assert_int_equal((int)get_num(r, "today", "issued"), 2);
	assert_int_equal((int)get_num(r, "today", "waits"), 2);
	assert_int_equal((int)get_num(r, "today", "wait_mean"), 0);
	cJSON_Delete(r);
	tc_close(p);
	tc_close(c);
	tc_close(k);
}

static void subscribe__events_in_commit_order(void **state)
{
	(void)state;
	struct tc *p = hall_public(&hall);
	cJSON *r = expect_ok(tc_request(p, "{\"op\":\"subscribe\",\"topics\":[\"called\",\"ticket\"]}"));
	cJSON_Delete(r);
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	struct tc *c = hall_clerk(&hall, "c01", 1);
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}")));
	cJSON *e = tc_next_event(p, 2000);
	assert_string_equal(get_str(e, "event", NULL), "ticket");
	assert_string_equal(get_str(e, "ticket", "state"), "waiting");
	cJSON_Delete(e);
	e = tc_next_event(p, 2000);
	assert_string_equal(get_str(e, "event", NULL), "ticket");
	assert_string_equal(get_str(e, "ticket", "state"), "called");
	cJSON_Delete(e);
	e = tc_next_event(p, 2000);
	assert_string_equal(get_str(e, "event", NULL), "called");
	assert_string_equal(get_str(e, "ticket", "number"), "A001");
	assert_string_equal(get_str(e, "window", "name"), "1号窗口");
	assert_int_equal((int)get_num(e, "recall", NULL), 0);
	cJSON_Delete(e);
	/* No queue or window events: not subscribed to them. */
	e = tc_next_event(p, 300);
	assert_null(e);
	tc_close(c);
	tc_close(k);
	tc_close(p);
}

static void take__outside_hours__closed_with_opens_at(void **state)
{
	(void)state;
	/* A second qserver on the same Redis with Bao'an hours (Fri 09:00-20:00, Sat 09:00-16:00). */
	char path[512];
	const char *root = getenv("QHALL_ROOT");
	snprintf(path, sizeof path, "%s/tests/data/hours.json", root ? root : ".");
	/* on the hall's test day from its start, whatever day it is for real: a qserver starting on
	 * a later real day would change the stored day, and days never go back */
	char start[24];
	snprintf(start, sizeof start, "%ld", HALL_T0);
	const char *const args[] = {"--clock-start", start, NULL};
	struct test_server *ts = ts_start(path, hall.redis.socket, args);
	assert_non_null(ts);
	struct tc *tc = tc_connect(ts_port(ts));
	cJSON *r = NULL;
	for (int i = 0; i < 200 && !tc_ok(r); i++) {
		cJSON_Delete(r);
		r = tc_request(tc, "{\"op\":\"services\"}");
	}
	cJSON_Delete(r);
	cJSON_Delete(expect_ok(tc_request(tc, "{\"op\":\"clock\",\"set\":%ld}", HALL_T0 + 11 * 3600))); /* Fri 21:00 */
	assert_true(tc_hello_kiosk(tc, "kiosk123"));
	r = tc_request(tc, "{\"op\":\"take\",\"service\":\"A\"}");
	assert_string_equal(tc_error_code(r), "closed");
	assert_int_equal((long)get_num(r, "opens_at", NULL), HALL_T0 + 23 * 3600); /* Sat 09:00 */
	cJSON_Delete(r);
	r = expect_ok(tc_request(tc, "{\"op\":\"site\"}"));
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "site"), "open")));
	cJSON_Delete(r);
	cJSON_Delete(expect_ok(tc_request(tc, "{\"op\":\"clock\",\"set\":%ld}", HALL_T0 + 23 * 3600)));
	r = expect_ok(tc_request(tc, "{\"op\":\"take\",\"service\":\"A\"}"));
	assert_string_equal(get_str(r, "ticket", "id"), "20261128-A001");
	cJSON_Delete(r);
	tc_close(tc);
	assert_int_equal(ts_stop(ts), 0);
	ts_free(ts);
}

static void day_change__waiting_tickets_expire_and_numbers_restart(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	hall_take(k, "A", NULL, n, sizeof n);
	hall_set_clock(&hall, HALL_T0 + 86400); /* the next day */
	/* qserver's tick runs the day change within a second, with no request needed. */
	cJSON *r = NULL;
	for (int i = 0; i < 100; i++) {
		cJSON_Delete(r);
		r = expect_ok(tc_request(k, "{\"op\":\"ticket\",\"id\":\"20261127-A001\"}"));
		if (strcmp(get_str(r, "ticket", "state"), "expired") == 0)
			break;
		usleep(20 * 1000);
	}
	assert_string_equal(get_str(r, "ticket", "state"), "expired");
	cJSON_Delete(r);
	assert_string_equal(hall_take(k, "A", NULL, n, sizeof n), "A001");
	r = expect_ok(tc_request(k, "{\"op\":\"take\",\"service\":\"A\"}"));
	assert_string_equal(get_str(r, "ticket", "id"), "20261128-A002");
	assert_int_equal((int)get_num(r, "ticket", "ahead"), 1);
	cJSON_Delete(r);
	tc_close(k);
}

static void day_change__many_waiting_expire_in_slices(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	struct tc *m = hall_manager(&hall);
	char n[16];
	for (int i = 0; i < 450; i++)
		hall_take(k, "A", NULL, n, sizeof n);
	hall_set_clock(&hall, HALL_T0 + 86400);
	/* The tick starts the change and qserver runs slice after slice (a call expires at most
	 * 100) until all expired, with no request needed: the statistics count each ticket once
	 * it really expired. */
	long expired = 0;
	for (int i = 0; i < 250 && expired < 450; i++) {
		cJSON *r = expect_ok(tc_request(m, "{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\"}"));
		expired = (long)get_num(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "rows"), 0), "expired", NULL);
		cJSON_Delete(r);
		if (expired < 450)
			usleep(20 * 1000);
	}
	assert_int_equal(expired, 450);
	assert_string_equal(hall_take(k, "A", NULL, n, sizeof n), "A001");
	tc_close(k);
	tc_close(m);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, hall_fixture_reset)
	const struct CMUnitTest tests[] = {
		T(ping__answers_the_server_clock),
		T(site__names_services_and_windows),
		T(take__ticket_with_ahead_and_ewt),
		T(services__live_waiting_and_ewt),
		T(ticket__by_id_or_number),
		T(cancel__waiting_only),
		T(cancel__numbered_request_names_the_ticket_in_ticket),
		T(call_next__priority_first_then_longest_wait),
		T(call_next__specialised_window_takes_only_its_service),
		T(call__out_of_order_and_its_errors),
		T(recall_start_finish__the_clerks_cycle),
		T(rate__once_for_a_done_ticket),
		T(no_show__absent_or_requeued_at_the_back),
		T(transfer__keeps_issue_time_and_may_pin_a_window),
		T(pause_resume_close__window_states),
		T(queue__in_call_order_for_the_window),
		T(manager__acts_on_any_window),
		T(manager__acting_for_a_clerks_window_records_the_clerk),
		T(hello__window_held_by_live_clerk__conflict_until_it_leaves),
		T(hello__reconnecting_clerk_keeps_the_ticket),
		T(services__names_needing_escapes_as_configured),
		T(snapshot__recent_calls_newest_first),
		T(subscribe__events_in_commit_order),
		T(take__outside_hours__closed_with_opens_at),
		T(day_change__waiting_tickets_expire_and_numbers_restart),
		T(day_change__many_waiting_expire_in_slices),
	};
	return cmocka_run_group_tests_name("ops", tests, hall_fixture_start, hall_fixture_stop);
}
