/* Sign-in under attack, through a real qserver: password checks run off the event loop, failed
 * hellos are budgeted per user and per address, the log keeps only configured names, and a
 * clerk who signs in again elsewhere replaces the old connection with a `session` event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testhall.h"

#define WRONG_MANAGER "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"m01\",\"password\":\"x\"}"

/* ---- Checks off the loop (auth.json: the manager's hash is yescrypt, tens of ms) ---- */

static const char *const slow_args[] = {"--login-failures", "1000", "--login-threads", "2", NULL};

/* Starts the hall on auth.json with a budget high enough that every check runs. */
static int slow_hall_start(void **state)
{
	(void)state;
	return hall_start_config(&hall, "auth.json", false, slow_args);
}

/* Counts the answers that have arrived on the pipes, keeping count in answered[]. */
static int count_answered(struct hall_pipe **pipes, int n, int *answered)
{
	int total = 0;
	for (int i = 0; i < n; i++) {
		hall_pipe_fill(pipes[i]);
		cJSON *resp;
		while ((resp = hall_pipe_take(pipes[i])) != NULL) {
			assert_string_equal(tc_error_code(resp), "unauthenticated");
			answered[i]++;
			cJSON_Delete(resp);
		}
		total += answered[i];
	}
	return total;
}

/* 50 wrong manager hellos at once do not hold up another client: its 20 pings, sent one after
 * the other once the hellos are out, are all answered while most hellos are still being
 * checked (with crypt on the loop, the pings waited behind nearly all of them). */
static void auth__fifty_wrong_logins__other_clients_pings_answered_first(void **state)
{
	(void)state;
	enum { N = 50, PINGS = 20 };
	struct tc *other = tc_connect(hall.port);
	assert_non_null(other);
	cJSON *first = tc_request(other, "{\"op\":\"ping\"}");
	assert_true(tc_ok(first));
	cJSON_Delete(first);
	struct hall_pipe *pipes[N];
	int answered[N] = {0};
	for (int i = 0; i < N; i++) {
		pipes[i] = hall_pipe_open(hall.port);
		assert_non_null(pipes[i]);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(hall_pipe_send(pipes[i], "%s", WRONG_MANAGER), 0);
	for (int i = 0; i < PINGS; i++) {
		cJSON *pong = tc_request(other, "{\"op\":\"ping\"}");
		assert_true(tc_ok(pong));
		cJSON_Delete(pong);
	}
	int done_at_last_ping = count_answered(pipes, N, answered);
	/* Every hello is still answered, each refused. */
	for (int i = 0; i < N; i++) {
		while (!answered[i]) {
			cJSON *resp = hall_pipe_read(pipes[i], 30000);
			assert_non_null(resp);
			assert_string_equal(tc_error_code(resp), "unauthenticated");
			answered[i]++;
			cJSON_Delete(resp);
		}
		hall_pipe_close(pipes[i]);
	}
	tc_close(other);
	if (done_at_last_ping >= N / 2)
		fail_msg("%d of %d hellos were answered before the other client's %d pings", done_at_last_ping, N, PINGS);
}

/* Connections that close while their check runs leave nothing behind: the server goes on
 * (under the sanitizers, a use after free would stop it). */
static void auth__connections_closed_during_checks__server_unharmed(void **state)
{
	(void)state;
	for (int i = 0; i < 30; i++) {
		struct hall_pipe *p = hall_pipe_open(hall.port);
		assert_non_null(p);
		assert_int_equal(hall_pipe_send(p, "%s", WRONG_MANAGER), 0);
		hall_pipe_close(p);
	}
	struct tc *m = hall_manager(&hall);
	assert_non_null(m); /* the right password still signs in after the refused ones */
	cJSON *pong = tc_request(m, "{\"op\":\"ping\"}");
	assert_true(tc_ok(pong));
	cJSON_Delete(pong);
	tc_close(m);
}

/* More hellos at once than the sign-in queue holds (64): those past it are answered at once,
 * rate_limited with retry_after, and every one is answered. */
static void auth__sign_in_queue_full__rate_limited_at_once(void **state)
{
	(void)state;
	enum { N = 100 };
	struct hall_pipe *pipes[N];
	for (int i = 0; i < N; i++) {
		pipes[i] = hall_pipe_open(hall.port);
		assert_non_null(pipes[i]);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(hall_pipe_send(pipes[i], "%s", WRONG_MANAGER), 0);
	int limited = 0, refused = 0;
	for (int i = 0; i < N; i++) {
		cJSON *resp = hall_pipe_read(pipes[i], 60000);
		assert_non_null(resp);
		const char *code = tc_error_code(resp);
		assert_non_null(code);
		if (strcmp(code, "rate_limited") == 0) {
			assert_int_equal(get_num(resp, "retry_after", NULL), 1);
			limited++;
		} else {
			assert_string_equal(code, "unauthenticated");
			refused++;
		}
		cJSON_Delete(resp);
		hall_pipe_close(pipes[i]);
	}
	assert_true(limited > 0);
	assert_true(refused >= 64);
}

/* Requests sent right behind a hello, before its answer, run with the role it gives, though
 * the password is checked elsewhere meanwhile. */
static void auth__requests_pipelined_after_hello__run_with_its_role(void **state)
{
	(void)state;
	struct hall_pipe *p = hall_pipe_open(hall.port);
	assert_non_null(p);
	assert_int_equal(hall_pipe_send(p, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"m01\",\"password\":\"manager123\"}\n"
					   "{\"op\":\"queue\"}\n{\"op\":\"ping\"}"), 0);
	for (int i = 0; i < 3; i++) {
		cJSON *resp = hall_pipe_read(p, 30000);
		assert_non_null(resp);
		if (!tc_ok(resp)) {
			char *text = cJSON_PrintUnformatted(resp);
			fail_msg("answer %d: %s", i + 1, text);
		}
		cJSON_Delete(resp);
	}
	hall_pipe_close(p);
}

/* ---- Budgets (small.json, default budget: 5 per user, 20 per address) ---- */

static const char *const budget_args[] = {"--lease", "3", NULL};

/* Starts the hall on small.json with short clerk leases (renewed every second). */
static int budget_hall_start(void **state)
{
	(void)state;
	return hall_start(&hall, false, budget_args);
}

/* Sends a hello and returns its answer (never NULL). */
static cJSON *hello(struct tc *tc, const char *role, const char *user, const char *password)
{
	cJSON *r = tc_request(tc, "{\"op\":\"hello\",\"role\":\"%s\",\"user\":\"%s\",\"password\":\"%s\",\"window\":1}", role, user, password);
	assert_non_null(r);
	return r;
}

/* The retry_after of a rate_limited answer, failing the test when it is not one. */
static long retry_after(const cJSON *r)
{
	const char *code = tc_error_code(r);
	if (!code || strcmp(code, "rate_limited") != 0) {
		char *text = cJSON_PrintUnformatted(r);
		fail_msg("expected rate_limited, got %s", text);
	}
	cJSON *after = cJSON_GetObjectItemCaseSensitive(r, "retry_after");
	assert_true(cJSON_IsNumber(after));
	assert_true(after->valuedouble >= 1);
	return (long)after->valuedouble;
}

/* 200 wrong passwords, then the right one: refused as rate_limited with retry_after, without a
 * password check; another user on the same address is refused too; once the wait has passed
 * on the server's clock, the right password signs in. The lock-out is logged once. */
static void auth__two_hundred_wrong_then_right__rate_limited_until_the_wait_passed(void **state)
{
	(void)state;
	/* The log goes on across the group's restarts: count what this test adds. */
	int failed_before = hall_log_count(&hall, "failed hello for m01");
	int user_locks_before = hall_log_count(&hall, "hellos for m01 locked out");
	int address_locks_before = hall_log_count(&hall, "hellos from 127.0.0.1 locked out");
	struct tc *tc = tc_connect(hall.port);
	assert_non_null(tc);
	int unauthenticated = 0, limited = 0;
	for (int i = 0; i < 200; i++) {
		cJSON *r = hello(tc, "manager", "m01", "wrong");
		const char *code = tc_error_code(r);
		assert_non_null(code);
		if (strcmp(code, "unauthenticated") == 0)
			unauthenticated++;
		else
			limited += retry_after(r) > 0;
		cJSON_Delete(r);
	}
	assert_int_equal(unauthenticated, 5);
	assert_int_equal(limited, 195);
	/* Only the 5 checked ones reached crypt and the log. */
	assert_int_equal(hall_log_count(&hall, "failed hello for m01") - failed_before, 5);

	cJSON *right = hello(tc, "manager", "m01", "manager123");
	long wait = retry_after(right);
	cJSON_Delete(right);
	assert_int_equal(hall_log_count(&hall, "failed hello for m01") - failed_before, 5);

	cJSON *other = hello(tc, "clerk", "c01", "clerk123");
	long wait_other = retry_after(other);
	cJSON_Delete(other);

	long longest = wait > wait_other ? wait : wait_other;
	/* A few real seconds have passed on the server's clock since HALL_T0: a minute covers them. */
	assert_int_equal(hall_set_clock(&hall, HALL_T0 + longest + 60), 0);
	right = hello(tc, "manager", "m01", "manager123");
	assert_true(tc_ok(right));
	assert_string_equal(get_str(right, "user", "id"), "m01");
	cJSON_Delete(right);
	tc_close(tc);

	assert_int_equal(hall_log_count(&hall, "hellos for m01 locked out") - user_locks_before, 1);
	assert_int_equal(hall_log_count(&hall, "hellos from 127.0.0.1 locked out") - address_locks_before, 1);
}

/* Sends line five times, each refused as unauthenticated, then once more: that one must be
 * rate_limited; returns its retry_after. */
static long five_refused_then_limited(struct tc *tc, const char *line)
{
	for (int i = 0; i < 5; i++) {
		cJSON *r = tc_request(tc, "%s", line);
		assert_string_equal(tc_error_code(r), "unauthenticated");
		cJSON_Delete(r);
	}
	cJSON *r = tc_request(tc, "%s", line);
	long wait = retry_after(r);
	cJSON_Delete(r);
	return wait;
}

/* Five wrong passwords for one user lock that user out, not the others: a clerk on the same
 * address still signs in (the address has its own, larger budget). */
static void auth__user_locked__other_user_same_address_signs_in(void **state)
{
	(void)state;
	struct tc *tc = tc_connect(hall.port);
	assert_non_null(tc);
	assert_true(five_refused_then_limited(tc, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"m01\",\"password\":\"wrong\"}") >= 1);
	cJSON *r = hello(tc, "manager", "m01", "manager123");
	assert_true(retry_after(r) >= 1);
	cJSON_Delete(r);
	tc_close(tc);
	struct tc *clerk = hall_clerk(&hall, "c02", 2);
	assert_non_null(clerk);
	tc_close(clerk);
}

/* A failed hello for a name that is not configured is budgeted like a real one, and the log
 * never shows what was typed (it may be a password typed into the wrong field). */
static void auth__unknown_user__budgeted_and_not_logged(void **state)
{
	(void)state;
	int unknown_before = hall_log_count(&hall, "failed hello for an unknown name");
	struct tc *tc = tc_connect(hall.port);
	assert_non_null(tc);
	assert_true(five_refused_then_limited(tc, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"Secret-Typed-1\",\"password\":\"x\"}") >= 1);
	tc_close(tc);
	assert_int_equal(hall_log_count(&hall, "Secret-Typed-1"), 0);
	assert_int_equal(hall_log_count(&hall, "failed hello for an unknown name") - unknown_before, 5);
}

/* A kiosk that names itself signs in; a wrong token is refused and budgeted per kiosk. */
static void auth__kiosk_named_token__checked_and_budgeted(void **state)
{
	(void)state;
	struct tc *tc = tc_connect(hall.port);
	assert_non_null(tc);
	assert_true(five_refused_then_limited(tc, "{\"op\":\"hello\",\"role\":\"kiosk\",\"kiosk\":\"kiosk-1\",\"token\":\"nope\"}") >= 1);
	/* The right token now waits too. */
	cJSON *r = tc_request(tc, "{\"op\":\"hello\",\"role\":\"kiosk\",\"kiosk\":\"kiosk-1\",\"token\":\"kiosk123\"}");
	assert_true(retry_after(r) >= 1);
	cJSON_Delete(r);
	assert_int_equal(hall_set_clock(&hall, HALL_T0 + 3600), 0);
	r = tc_request(tc, "{\"op\":\"hello\",\"role\":\"kiosk\",\"kiosk\":\"kiosk-1\",\"token\":\"kiosk123\"}");
	assert_true(tc_ok(r));
	assert_string_equal(get_str(r, "kiosk", NULL), "kiosk-1");
	cJSON_Delete(r);
	tc_close(tc);
}

/* A kiosk hello that does not name its kiosk (a version 1 kiosk) still signs in; a wrong one
 * is checked against every kiosk's token and budgeted per address: 20 wrong, then
 * rate_limited, even with the right token. */
static void auth__unnamed_kiosk__signs_in_and_wrong_ones_budgeted(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall); /* hall_kiosk sends no kiosk id */
	assert_non_null(k);
	tc_close(k);
	struct tc *tc = tc_connect(hall.port);
	assert_non_null(tc);
	for (int i = 0; i < 20; i++) {
		cJSON *r = tc_request(tc, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"nope\"}");
		assert_string_equal(tc_error_code(r), "unauthenticated");
		cJSON_Delete(r);
	}
	cJSON *r = tc_request(tc, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"kiosk123\"}");
	assert_true(retry_after(r) >= 1);
	cJSON_Delete(r);
	tc_close(tc);
}

/* A kiosk cannot cancel ticket after ticket by walking the numbers: past a small burst,
 * cancel answers rate_limited with retry_after, and the ticket stays. */
static void auth__kiosk_cancels_in_a_row__rate_limited(void **state)
{
	(void)state;
	struct tc *k = hall_kiosk(&hall);
	assert_non_null(k);
	char numbers[20][16];
	for (int i = 0; i < 20; i++)
		assert_non_null(hall_take(k, "A", NULL, numbers[i], sizeof numbers[i]));
	int cancelled = 0;
	long wait = 0;
	int i = 0;
	for (; i < 20 && !wait; i++) {
		cJSON *r = tc_request(k, "{\"op\":\"cancel\",\"id\":\"%s\"}", numbers[i]);
		if (tc_ok(r))
			cancelled++;
		else
			wait = retry_after(r);
		cJSON_Delete(r);
	}
	assert_true(wait >= 1);
	assert_true(cancelled >= 1 && cancelled < 20);
	/* The refused cancel changed nothing: its ticket still waits. */
	cJSON *t = tc_request(k, "{\"op\":\"ticket\",\"number\":\"%s\"}", numbers[i - 1]);
	assert_string_equal(get_str(t, "ticket", "state"), "waiting");
	cJSON_Delete(t);
	tc_close(k);
}

/* ---- A clerk who signs in again elsewhere ---- */

/* Reads window 1's holder and lease from Redis into holder (empty when none). */
static long window_lease(char *holder, size_t len)
{
	redisContext *rc = testredis_connect(&hall.redis);
	assert_non_null(rc);
	redisReply *reply = redisCommand(rc, "HMGET q:{small}:w:1 holder lease_until");
	assert_non_null(reply);
	assert_int_equal(reply->type, REDIS_REPLY_ARRAY);
	snprintf(holder, len, "%s", reply->element[0]->str ? reply->element[0]->str : "");
	long until = reply->element[1]->str ? atol(reply->element[1]->str) : 0;
	freeReplyObject(reply);
	redisFree(rc);
	return until;
}

/* Checks that tc got the session/replaced event, then that the server closed it. */
static void assert_replaced_then_closed(struct tc *tc)
{
	cJSON *ev;
	/* Events the test subscribed to may come first. */
	while ((ev = tc_next_event(tc, 5000)) != NULL && strcmp(get_str(ev, "event", NULL), "session") != 0)
		cJSON_Delete(ev);
	assert_non_null(ev);
	assert_string_equal(get_str(ev, "reason", NULL), "replaced");
	assert_non_null(get_str(ev, "message", NULL));
	cJSON_Delete(ev);
	assert_true(tc_closed_by_peer(tc, 5000));
}

/* The same clerk at the same window twice: the first connection gets session/replaced and is
 * closed; the window stays with the second, also after lease renewals have run. */
static void auth__same_clerk_twice__old_connection_replaced_and_closed(void **state)
{
	(void)state;
	struct tc *first = hall_clerk(&hall, "c01", 1);
	assert_non_null(first);
	cJSON *sub = tc_request(first, "{\"op\":\"subscribe\",\"topics\":[\"queue\"]}");
	assert_true(tc_ok(sub));
	cJSON_Delete(sub);
	struct tc *second = hall_clerk(&hall, "c01", 1);
	assert_non_null(second);
	assert_replaced_then_closed(first);
	tc_close(first);

	/* The replaced connection left its topic's list: a new subscriber of that topic, and the
	 * next event, touch only live connections (a freed one there crashed qserver). */
	struct tc *display = hall_public(&hall);
	assert_non_null(display);
	sub = tc_request(display, "{\"op\":\"subscribe\",\"topics\":[\"queue\"]}");
	assert_true(tc_ok(sub));
	cJSON_Delete(sub);
	struct tc *kiosk = hall_kiosk(&hall);
	char number[16];
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
	cJSON *ev = tc_next_event(display, 5000);
	assert_non_null(ev);
	assert_string_equal(get_str(ev, "event", NULL), "queue");
	cJSON_Delete(ev);
	tc_close(kiosk);
	tc_close(display);

	char holder[64], later[64];
	long until = window_lease(holder, sizeof holder);
	assert_true(holder[0]);
	/* Wait for two renewals (every second with --lease 3): the holder never changes. */
	for (int renewals = 0; renewals < 2;) {
		usleep(100 * 1000);
		long now_until = window_lease(later, sizeof later);
		assert_string_equal(later, holder);
		if (now_until != until) {
			until = now_until;
			renewals++;
		}
	}
	cJSON *r = tc_request(second, "{\"op\":\"call_next\"}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	assert_null(tc_next_event(second, 200));
	tc_close(second);
}

/* The old connection may be on another qserver of the same Redis: it is told and closed too. */
static void auth__same_clerk_on_another_qserver__old_connection_replaced(void **state)
{
	(void)state;
	struct test_server *other = hall_start_another(&hall);
	assert_non_null(other);
	struct tc *first = tc_connect(ts_port(other));
	assert_non_null(first);
	assert_true(tc_hello_clerk(first, "c01", "clerk123", 1));
	struct tc *second = hall_clerk(&hall, "c01", 1);
	assert_non_null(second);
	assert_replaced_then_closed(first);
	tc_close(first);
	tc_close(second);
	assert_int_equal(ts_stop(other), 0);
	ts_free(other);
}

int main(void)
{
	const struct CMUnitTest off_loop[] = {
		cmocka_unit_test(auth__fifty_wrong_logins__other_clients_pings_answered_first),
		cmocka_unit_test(auth__connections_closed_during_checks__server_unharmed),
		cmocka_unit_test(auth__requests_pipelined_after_hello__run_with_its_role),
		cmocka_unit_test(auth__sign_in_queue_full__rate_limited_at_once),
	};
	const struct CMUnitTest budgets[] = {
		cmocka_unit_test_setup(auth__two_hundred_wrong_then_right__rate_limited_until_the_wait_passed, hall_fixture_reset),
		cmocka_unit_test_setup(auth__user_locked__other_user_same_address_signs_in, hall_fixture_reset),
		cmocka_unit_test_setup(auth__unknown_user__budgeted_and_not_logged, hall_fixture_reset),
		cmocka_unit_test_setup(auth__kiosk_named_token__checked_and_budgeted, hall_fixture_reset),
		cmocka_unit_test_setup(auth__unnamed_kiosk__signs_in_and_wrong_ones_budgeted, hall_fixture_reset),
		cmocka_unit_test_setup(auth__kiosk_cancels_in_a_row__rate_limited, hall_fixture_reset),
		cmocka_unit_test_setup(auth__same_clerk_twice__old_connection_replaced_and_closed, hall_fixture_reset),
		cmocka_unit_test_setup(auth__same_clerk_on_another_qserver__old_connection_replaced, hall_fixture_reset),
	};
	int failed = cmocka_run_group_tests_name("auth_off_loop", off_loop, slow_hall_start, hall_fixture_stop);
	failed += cmocka_run_group_tests_name("auth", budgets, budget_hall_start, hall_fixture_stop);
	return failed;
}
