/* Connection limits through a real qserver: anonymous readers cannot take the slots kept for
 * kiosks, clerks and managers, one address cannot take more than --max-per-addr, and a flood
 * of refusals is logged in a few lines, not one each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testhall.h"

/* Fails with the printed response. */
static void fail_with(const char *what, const cJSON *r)
{
	char *text = r ? cJSON_PrintUnformatted(r) : NULL;
	fail_msg("%s: got %s", what, text ? text : "no response");
}

/* Starts a qserver of its own on the group's Redis with these extra arguments. */
static void start_own(struct test_hall *h, const char *const *extra)
{
	h->redis = hall.redis;
	h->server = ts_start(hall_data_path("small.json"), hall.redis.socket, extra);
	assert_non_null(h->server);
	h->port = ts_port(h->server);
	assert_int_equal(hall_wait_ready(h, 10000), 0);
	assert_int_equal(hall_set_clock(h, HALL_T0), 0);
	/* The probes above have hung up; give the server a moment to count them gone. */
	usleep(200 * 1000);
}

/* Reads the one line a refused connection gets and checks that it says `unavailable` with a
 * message containing words, then that the server closes the connection. */
static void expect_told_and_closed(struct tc *tc, const char *words)
{
	cJSON *r = tc_read_response(tc, 5000);
	const char *code = tc_error_code(r);
	const char *message = get_str(r, "error", "message");
	if (!code || strcmp(code, "unavailable") != 0 || !message || !strstr(message, words))
		fail_with("a refused connection's line", r);
	cJSON_Delete(r);
	assert_true(tc_closed_by_peer(tc, 3000));
}

/* Opens anonymous subscribers, keeping in subs those that stay, until one is sent away (told
 * `unavailable`, that the free slots are kept for signed-in roles, and closed); fails when
 * more than max would stay. Returns how many stayed. */
static int subscribe_until_sent_away(int port, struct tc **subs, int max)
{
	for (int stayed = 0;; stayed++) {
		struct tc *tc = tc_connect(port);
		assert_non_null(tc);
		cJSON *r = tc_request(tc, "{\"op\":\"subscribe\"}");
		if (tc_ok(r) && stayed < max) {
			subs[stayed] = tc;
			cJSON_Delete(r);
			continue;
		}
		const char *code = tc_error_code(r);
		const char *message = get_str(r, "error", "message");
		if (!code || strcmp(code, "unavailable") != 0 || !message || !strstr(message, "kiosks, clerks and managers"))
			fail_with("subscribe past the anonymous share", r);
		cJSON_Delete(r);
		assert_true(tc_closed_by_peer(tc, 3000));
		tc_close(tc);
		return stayed;
	}
}

/* --max-conns 8 with 3 slots reserved: anonymous subscribers get 5; the next ones are told
 * that the free slots are kept for signed-in roles and closed, so a kiosk still signs in and
 * takes a ticket, which the subscribers that stayed see. A connection on a reserved slot that
 * says nothing is closed after the hello timeout, with the same line. */
static void conns__anonymous_fill_max_conns__kiosk_still_signs_in_and_takes(void **state)
{
	(void)state;
	const char *extra[] = {"--max-conns", "8", "--reserved-conns", "3", "--hello-timeout", "2", NULL};
	struct test_hall h;
	start_own(&h, extra);

	struct tc *subs[9] = {0};
	int stayed = subscribe_until_sent_away(h.port, subs, 8);
	/* 5 is the share (8 less 3); one probe of the start may not have been counted gone yet:
	 * then its slot is taken up now. */
	if (stayed == 4)
		stayed += subscribe_until_sent_away(h.port, subs + 4, 1);
	if (stayed != 5)
		fail_msg("%d anonymous subscribers stayed; the share is 5 of --max-conns 8", stayed);

	/* A kiosk still gets in, signs in and takes a ticket. */
	struct tc *kiosk = tc_connect(h.port);
	assert_non_null(kiosk);
	assert_true(tc_hello_kiosk(kiosk, "kiosk123"));
	char number[16];
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
	assert_string_equal(number, "A001");

	/* The subscribers that stayed are still served: each sees the new ticket's queue. */
	for (int i = 0; i < stayed; i++) {
		bool seen = false;
		cJSON *e;
		while (!seen && (e = tc_next_event(subs[i], 3000)) != NULL) {
			const char *name = get_str(e, "event", NULL);
			seen = name && strcmp(name, "queue") == 0 && get_str(e, "service", NULL) &&
			       strcmp(get_str(e, "service", NULL), "A") == 0;
			cJSON_Delete(e);
		}
		if (!seen)
			fail_msg("subscriber %d saw no queue event for service A after the take", i);
	}

	/* A stranger on a reserved slot that never signs in goes after --hello-timeout. */
	struct tc *silent = tc_connect(h.port);
	assert_non_null(silent);
	long long t0 = hall_now_ms();
	expect_told_and_closed(silent, "kiosks, clerks and managers");
	assert_true(hall_now_ms() - t0 >= 1500);
	tc_close(silent);

	assert_true(hall_log_count(&h, "anonymous connections fill their 5 slots") >= 1);
	for (int i = 0; i < stayed; i++)
		tc_close(subs[i]);
	tc_close(kiosk);
	assert_int_equal(ts_stop(h.server), 0);
	ts_free(h.server);
}

/* Connects and says hello as public, retrying for a while: the server may not have counted a
 * connection just closed as gone yet. */
static struct tc *public_when_room(struct test_hall *h)
{
	long long deadline = hall_now_ms() + 3000;
	do {
		struct tc *tc = hall_public(h);
		if (tc)
			return tc;
		usleep(50 * 1000);
	} while (hall_now_ms() < deadline);
	return NULL;
}

/* --max-per-addr 3: a fourth connection from the same address is told why and closed, and a
 * flood of them is logged in a line or two; when one of the three leaves, there is room again. */
static void conns__per_address_cap__next_refused_with_a_line_and_logged(void **state)
{
	(void)state;
	const char *extra[] = {"--max-per-addr", "3", NULL};
	struct test_hall h;
	start_own(&h, extra);

	struct tc *three[3];
	for (int i = 0; i < 3; i++) {
		three[i] = public_when_room(&h);
		assert_non_null(three[i]);
	}
	struct tc *fourth = tc_connect(h.port);
	assert_non_null(fourth);
	expect_told_and_closed(fourth, "from your address");
	tc_close(fourth);

	/* A flood of 30 more: each refused, the log keeps to a line or two. */
	for (int i = 0; i < 30; i++) {
		struct tc *more = tc_connect(h.port);
		assert_non_null(more);
		assert_true(tc_closed_by_peer(more, 3000));
		tc_close(more);
	}
	int lines = hall_log_count(&h, "(--max-per-addr 3)");
	if (lines < 1 || lines > 2)
		fail_msg("%d log lines for 31 refusals by --max-per-addr; want 1 or 2", lines);

	/* The three still work; when one leaves, a new connection gets in. */
	cJSON *r = tc_request(three[0], "{\"op\":\"ping\"}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	tc_close(three[2]);
	three[2] = public_when_room(&h);
	assert_non_null(three[2]);
	for (int i = 0; i < 3; i++)
		tc_close(three[i]);
	assert_int_equal(ts_stop(h.server), 0);
	ts_free(h.server);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(conns__anonymous_fill_max_conns__kiosk_still_signs_in_and_takes),
		cmocka_unit_test(conns__per_address_cap__next_refused_with_a_line_and_logged),
	};
	return cmocka_run_group_tests_name("conns", tests, hall_fixture_start, hall_fixture_stop);
}
