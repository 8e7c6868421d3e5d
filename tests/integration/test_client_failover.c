/* Clients given several qservers (--server A,B) move on when theirs fails: two qservers on one
 * Redis, a clerk's console (the client library, as counter-client uses it) signed in at a
 * window through A; A is killed with SIGKILL and the clerk has the window again through B
 * within 5 s, calling the next ticket there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "testhall.h"

#define TAKEOVER_MAX_MS 5000 /* the bound for a clerk's window on the other qserver */

struct console {
	int ready;
	char server[160]; /* the address the last session was set up on */
	int replies;
	bool call_ok;
	char number[16];
};

/* Notes each session set up, and on which server. */
static void console_ready(struct client *c, cJSON *hello, cJSON *snapshot, void *arg)
{
	(void)hello, (void)snapshot;
	struct console *con = arg;
	con->ready++;
	snprintf(con->server, sizeof con->server, "%s", client_server(c));
}

/* Keeps the answer to call_next. */
static void console_called(void *arg, cJSON *response)
{
	struct console *con = arg;
	con->replies++;
	cJSON *ok = cJSON_GetObjectItem(response, "ok");
	con->call_ok = cJSON_IsTrue(ok);
	const char *number = get_str(response, "ticket", "number");
	snprintf(con->number, sizeof con->number, "%s", number ? number : "");
}

/* Runs the loop until cond or ms pass. */
#define LOOP_UNTIL(base, cond, ms)                                                \
	do {                                                                      \
		long long deadline_ = hall_now_ms() + (ms);                       \
		while (!(cond) && hall_now_ms() < deadline_)                      \
			event_base_loop((base), EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(2000); \
	} while (0)

static void clerk__qserver_killed__window_taken_up_on_the_next_within_5s(void **state)
{
	(void)state;
	struct test_server *other = hall_start_another(&hall);
	assert_non_null(other);

	struct event_base *base = event_base_new();
	struct console con = {0};
	struct client_callbacks cb = {.on_ready = console_ready};
	char list[128];
	snprintf(list, sizeof list, "%s,%s", ts_address(hall.server), ts_address(other));
	struct client *c = client_new(base, list, &cb, &con);
	assert_non_null(c);
	cJSON *hello = cJSON_CreateObject();
	cJSON_AddStringToObject(hello, "role", "clerk");
	cJSON_AddStringToObject(hello, "user", "c01");
	cJSON_AddStringToObject(hello, "password", "clerk123");
	cJSON_AddNumberToObject(hello, "window", 1);
	client_set_hello(c, hello);
	LOOP_UNTIL(base, con.ready == 1, 5000);
	assert_int_equal(con.ready, 1);
	assert_string_equal(con.server, ts_address(hall.server));

	assert_int_equal(ts_kill(hall.server), 0);
	long long t0 = hall_now_ms();
	LOOP_UNTIL(base, con.ready == 2, TAKEOVER_MAX_MS + 2000);
	long long took = hall_now_ms() - t0;
	assert_int_equal(con.ready, 2);
	assert_string_equal(con.server, ts_address(other));
	if (took > TAKEOVER_MAX_MS)
		fail_msg("the clerk had the window again after %lld ms (at most %d)", took, TAKEOVER_MAX_MS);
	print_message("window taken up again on the other qserver after %lld ms\n", took);

	/* The window works there: a ticket taken on B is called by the clerk. */
	struct tc *kiosk = tc_connect(ts_port(other));
	assert_non_null(kiosk);
	assert_true(tc_hello_kiosk(kiosk, "kiosk123"));
	char number[16];
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
	assert_int_equal(client_request(c, "call_next", NULL, console_called, &con), 0);
	LOOP_UNTIL(base, con.replies == 1, 5000);
	assert_true(con.call_ok);
	assert_string_equal(con.number, number);

	tc_close(kiosk);
	client_free(c);
	event_base_free(base);
	assert_int_equal(ts_stop(other), 0);
	ts_free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clerk__qserver_killed__window_taken_up_on_the_next_within_5s),
	};
	return cmocka_run_group_tests_name("client_failover", tests, hall_fixture_start, hall_fixture_stop);
}
