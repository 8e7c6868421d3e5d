/* qserver killed with SIGKILL while it works: what a citizen holds (an acknowledged ticket)
 * survives, numbering goes on without a gap or a duplicate, a clerk takes the window up again,
 * and the embedded Redis neither outlives a killed qserver nor loses its tickets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testhall.h"

#define NKIOSKS 4
#define PER_KIOSK 240 /* 960 takes at most: one `queue` (limit 1000) lists them all */
#define KILL_AFTER 150
#define MAX_SEQ 2000


/* Fails with the printed response. */
static void fail_with(const char *what, const cJSON *r)
{
	char *text = r ? cJSON_PrintUnformatted(r) : NULL;
	fail_msg("%s: got %s", what, text ? text : "no response");
}

/* The sequence of an "A012" number, or -1. */
static int seq_of(const char *number)
{
	if (!number || number[0] != 'A' || strlen(number) < 4)
		return -1;
	char *end;
	long seq = strtol(number + 1, &end, 10);
	return *end || seq <= 0 || seq >= MAX_SEQ ? -1 : (int)seq;
}

/* Opens a kiosk's pipe. */
static struct hall_pipe *kiosk_pipe(int port)
{
	struct hall_pipe *p = hall_pipe_open(port);
	assert_non_null(p);
	assert_true(hall_pipe_hello(p, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"kiosk123\"}"));
	return p;
}

/* Waits up to 100 ms for any kiosk's replies and reads what came. */
static void poll_kiosks(struct hall_pipe **k)
{
	struct pollfd pfd[NKIOSKS];
	for (int i = 0; i < NKIOSKS; i++)
		pfd[i] = (struct pollfd){.fd = k[i]->fd, .events = POLLIN};
	poll(pfd, NKIOSKS, 100);
	for (int i = 0; i < NKIOSKS; i++)
		hall_pipe_fill(k[i]);
}

/* Records the number of a take answered ok (failing on a number acknowledged twice);
 * false when the take was refused. */
static bool take_acknowledged(const cJSON *r, bool *acked, int *acks)
{
	if (!tc_ok(r))
		return false;
	int seq = seq_of(get_str(r, "ticket", "number"));
	assert_true(seq > 0);
	if (acked[seq])
		fail_msg("A%03d was acknowledged twice", seq);
	acked[seq] = true;
	(*acks)++;
	return true;
}

/* Asserts that every acknowledged ticket, looked up by its number, waits. */
static void expect_acknowledged_waiting(struct tc *m, const bool *acked)
{
	for (int seq = 1; seq < MAX_SEQ; seq++) {
		if (!acked[seq])
			continue;
		cJSON *r = tc_request(m, "{\"op\":\"ticket\",\"number\":\"A%03d\"}", seq);
		if (!tc_ok(r))
			fail_with("ticket of an acknowledged take", r);
		assert_string_equal(get_str(r, "ticket", "state"), "waiting");
		cJSON_Delete(r);
	}
}

/* Restarts the hall's qserver after a kill and sets the test clock again. */
static void restart_after_crash(struct test_hall *h)
{
	assert_int_equal(ts_restart(h->server), 0);
	assert_int_equal(hall_wait_ready(h, 10000), 0);
	assert_int_equal(hall_set_clock(h, HALL_T0), 0);
}

/* ------------------------------------------------------------------------------------ */

/* Four kiosks take tickets as fast as they can; qserver is killed in the middle and
 * restarted. Every acknowledged ticket is still waiting, the issued numbers are exactly
 * A001..AN with none twice, and the next take gets A(N+1). */
static void crash__kill9_during_takes__acknowledged_tickets_kept_numbers_without_gap(void **state)
{
	(void)state;
	struct hall_pipe *k[NKIOSKS];
	for (int i = 0; i < NKIOSKS; i++)
		k[i] = kiosk_pipe(hall.port);
	static bool acked[MAX_SEQ];
	memset(acked, 0, sizeof acked);
	int sent[NKIOSKS] = {0}, got[NKIOSKS] = {0}, acks = 0, sent_total = 0;
	bool killed = false;
	long long deadline = hall_now_ms() + 20000;
	for (;;) {
		int open = 0;
		for (int i = 0; i < NKIOSKS; i++) {
			if (k[i]->eof)
				continue;
			open++;
			while (!killed && sent[i] < PER_KIOSK && sent[i] - got[i] < 16) {
				if (hall_pipe_send(k[i], "{\"id\":%d,\"op\":\"take\",\"service\":\"A\"}", sent[i]) < 0)
					break;
				sent[i]++;
				sent_total++;
			}
		}
		if (open == 0)
			break;
		if (hall_now_ms() > deadline)
			fail_msg("the takes did not end within 20 s");
		poll_kiosks(k);
		for (int i = 0; i < NKIOSKS; i++) {
			cJSON *r;
			while ((r = hall_pipe_take(k[i])) != NULL) {
				/* Replies come in request order, each request answered once. */
				assert_int_equal((int)get_num(r, "id", NULL), got[i]);
				got[i]++;
				if (!take_acknowledged(r, acked, &acks) && !killed) {
					fail_with("take before the kill", r);
				}
				cJSON_Delete(r);
			}
		}
		if (!killed && acks >= KILL_AFTER) {
			assert_int_equal(ts_kill(hall.server), 0);
			killed = true;
		}
		if (!killed && sent_total == NKIOSKS * PER_KIOSK && acks == sent_total)
			break;
	}
	assert_true(killed);
	/* It was killed in the middle: some takes were never answered. */
	assert_true(acks < NKIOSKS * PER_KIOSK);
	for (int i = 0; i < NKIOSKS; i++)
		hall_pipe_close(k[i]);

	restart_after_crash(&hall);

	/* What a manager sees: the waiting tickets are A001..AN, each once. */
	struct tc *m = hall_manager(&hall);
	assert_non_null(m);
	cJSON *q = tc_request(m, "{\"op\":\"queue\",\"service\":\"A\",\"limit\":1000}");
	if (!tc_ok(q))
		fail_with("queue", q);
	static int listed[MAX_SEQ];
	memset(listed, 0, sizeof listed);
	int n = 0, max = 0;
	cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(q, "tickets")) {
		int seq = seq_of(get_str(t, "number", NULL));
		assert_true(seq > 0);
		if (listed[seq]++)
			fail_msg("A%03d is in the queue twice", seq);
		assert_string_equal(get_str(t, "state", NULL), "waiting");
		n++;
		if (seq > max)
			max = seq;
	}
	cJSON_Delete(q);
	fprintf(stderr, "# killed after %d of %d takes were acknowledged; %d tickets found after the restart\n",
		acks, sent_total, n);
	assert_true(n >= acks);
	assert_int_equal(max, n); /* 1..n each once: no gap */
	for (int seq = 1; seq < MAX_SEQ; seq++)
		if (acked[seq] && !listed[seq])
			fail_msg("A%03d was acknowledged but is not in the queue after the crash", seq);

	expect_acknowledged_waiting(m, acked);

	/* Numbering goes on after the last issued number. */
	char number[16], want[16];
	assert_non_null(hall_take(m, "A", NULL, number, sizeof number));
	snprintf(want, sizeof want, "A%03d", n + 1);
	assert_string_equal(number, want);
	tc_close(m);
}

/* qserver stopped (SIGSTOP) for longer than --redis-timeout while four kiosks take tickets
 * as fast as they can, three times. When it wakes, its timers fire while Redis's replies wait
 * in its socket: whatever it answers must be true. Every take answered ok exists, and every
 * take answered `unavailable` changed nothing: the waiting tickets are exactly the
 * acknowledged ones, numbered A001..AN without a gap. */
static void crash__qserver_stopped_past_timeout__unavailable_changed_nothing(void **state)
{
	(void)state;
	struct hall_pipe *k[NKIOSKS];
	for (int i = 0; i < NKIOSKS; i++)
		k[i] = kiosk_pipe(hall.port);
	static bool acked[MAX_SEQ];
	memset(acked, 0, sizeof acked);
	int sent[NKIOSKS] = {0}, got[NKIOSKS] = {0}, acks = 0, refused = 0, stops = 0;
	long long deadline = hall_now_ms() + 60000;
	while (acks + refused < NKIOSKS * PER_KIOSK) {
		for (int i = 0; i < NKIOSKS; i++)
			while (sent[i] < PER_KIOSK && sent[i] - got[i] < 16 &&
			       hall_pipe_send(k[i], "{\"id\":%d,\"op\":\"take\",\"service\":\"A\"}", sent[i]) == 0)
				sent[i]++;
		if (hall_now_ms() > deadline)
			fail_msg("the takes did not end within 60 s (%d ok, %d unavailable)", acks, refused);
		poll_kiosks(k);
		/* Three times, as the first replies of a full window come back (so more takes are at
		 * Redis), stop qserver for longer than the timeout (--redis-timeout is 1 s). */
		if (stops < 3 && acks + refused >= 100 + stops * 250) {
			assert_int_equal(kill(ts_pid(hall.server), SIGSTOP), 0);
			usleep(1500 * 1000);
			assert_int_equal(kill(ts_pid(hall.server), SIGCONT), 0);
			stops++;
		}
		for (int i = 0; i < NKIOSKS; i++) {
			hall_pipe_fill(k[i]);
			assert_false(k[i]->eof); /* a stopped qserver keeps its clients */
			cJSON *r;
			while ((r = hall_pipe_take(k[i])) != NULL) {
				assert_int_equal((int)get_num(r, "id", NULL), got[i]);
				got[i]++;
				const char *code = tc_error_code(r);
				if (code && strcmp(code, "unavailable") == 0)
					refused++;
				else if (!take_acknowledged(r, acked, &acks))
					fail_with("take", r);
				cJSON_Delete(r);
			}
		}
	}
	assert_int_equal(stops, 3);
	for (int i = 0; i < NKIOSKS; i++)
		hall_pipe_close(k[i]);
	fprintf(stderr, "# %d takes acknowledged, %d answered unavailable around 3 stops of qserver\n", acks, refused);

	assert_int_equal(hall_wait_ready(&hall, 10000), 0);
	struct tc *m = hall_manager(&hall);
	assert_non_null(m);
	/* Exactly the acknowledged tickets wait, each under its number... */
	cJSON *r = tc_request(m, "{\"op\":\"snapshot\"}");
	if (!tc_ok(r))
		fail_with("snapshot", r);
	cJSON *svc;
	cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(r, "services"))
		if (strcmp(get_str(svc, "id", NULL), "A") == 0)
			assert_int_equal((int)get_num(svc, "waiting", NULL), acks);
	cJSON_Delete(r);
	expect_acknowledged_waiting(m, acked);
	/* ...and no refused take used a number: the next one follows the acknowledged ones. */
	char number[16], want[16];
	assert_non_null(hall_take(m, "A", NULL, number, sizeof number));
	snprintf(want, sizeof want, "A%03d", acks + 1);
	assert_string_equal(number, want);
	tc_close(m);
}

/* A clerk's window survives the crash of qserver: after the restart another clerk cannot
 * take it (the dead server's lease still holds), the same clerk can, and finds the ticket
 * still called there. */
static void crash__kill9_with_ticket_called__clerk_takes_window_up_again(void **state)
{
	(void)state;
	struct tc *kiosk = hall_kiosk(&hall);
	assert_non_null(kiosk);
	char number[16];
	assert_non_null(hall_take(kiosk, "B", NULL, number, sizeof number));
	tc_close(kiosk);
	struct tc *clerk = hall_clerk(&hall, "c01", 2);
	assert_non_null(clerk);
	cJSON *r = tc_request(clerk, "{\"op\":\"call_next\"}");
	assert_true(tc_ok(r));
	assert_string_equal(get_str(r, "ticket", "number"), "B001");
	cJSON_Delete(r);

	assert_int_equal(ts_kill(hall.server), 0);
	tc_close(clerk);
	restart_after_crash(&hall);

	struct tc *other = tc_connect(hall.port);
	assert_non_null(other);
	r = tc_request(other, "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c02\",\"password\":\"clerk123\",\"window\":2}");
	assert_string_equal(tc_error_code(r), "conflict");
	cJSON_Delete(r);
	tc_close(other);

	clerk = tc_connect(hall.port);
	assert_non_null(clerk);
	r = tc_request(clerk, "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c01\",\"password\":\"clerk123\",\"window\":2}");
	if (!tc_ok(r))
		fail_with("hello of the same clerk after the crash", r);
	assert_string_equal(get_str(r, "window", "state"), "calling");
	assert_string_equal(get_str(r, "window", "ticket"), "B001");
	cJSON_Delete(r);
	r = tc_request(clerk, "{\"op\":\"finish\"}");
	if (!tc_ok(r))
		fail_with("finish after the crash", r);
	assert_string_equal(get_str(r, "ticket", "number"), "B001");
	assert_string_equal(get_str(r, "ticket", "state"), "done");
	cJSON_Delete(r);
	tc_close(clerk);
}

/* qserver without --redis runs its own redis-server in the state folder. Killed with
 * SIGKILL, its Redis stops by itself; restarted, it finds its tickets again; stopped with
 * SIGTERM, it exits 0 and its Redis is gone. */
static void crash__embedded_redis__stops_with_killed_qserver_and_keeps_tickets(void **state)
{
	(void)state;
	struct test_hall e;
	assert_int_equal(hall_start_embedded(&e, NULL), 0);
	const char *sock = e.redis.socket;
	assert_true(hall_unix_socket_answers(sock));

	struct tc *kiosk = hall_kiosk(&e);
	assert_non_null(kiosk);
	char number[16], want[16];
	for (int i = 1; i <= 3; i++) {
		assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
		snprintf(want, sizeof want, "A%03d", i);
		assert_string_equal(number, want);
	}
	tc_close(kiosk);

	assert_int_equal(ts_kill(e.server), 0);
	long long deadline = hall_now_ms() + 10000;
	while (hall_unix_socket_answers(sock)) {
		if (hall_now_ms() > deadline)
			fail_msg("the embedded redis-server still answers 10 s after qserver was killed");
		usleep(20 * 1000);
	}

	assert_int_equal(ts_restart(e.server), 0);
	assert_int_equal(hall_wait_ready(&e, 10000), 0);
	assert_int_equal(hall_set_clock(&e, HALL_T0), 0);
	struct tc *pub = hall_public(&e);
	assert_non_null(pub);
	for (int i = 1; i <= 3; i++) {
		cJSON *r = tc_request(pub, "{\"op\":\"ticket\",\"number\":\"A%03d\"}", i);
		if (!tc_ok(r))
			fail_with("a ticket taken before the kill", r);
		assert_string_equal(get_str(r, "ticket", "state"), "waiting");
		cJSON_Delete(r);
	}
	tc_close(pub);
	kiosk = hall_kiosk(&e);
	assert_non_null(kiosk);
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
	assert_string_equal(number, "A004");
	tc_close(kiosk);

	assert_int_equal(ts_stop(e.server), 0);
	assert_false(hall_unix_socket_answers(sock)); /* its Redis stopped with it */
	ts_free(e.server);
	testredis_stop(&e.redis); /* removes the state folder */
}

/* ------------------------------------------------------------------------------------ */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(crash__kill9_during_takes__acknowledged_tickets_kept_numbers_without_gap, hall_fixture_reset),
		cmocka_unit_test_setup(crash__kill9_with_ticket_called__clerk_takes_window_up_again, hall_fixture_reset),
		cmocka_unit_test_setup(crash__qserver_stopped_past_timeout__unavailable_changed_nothing, hall_fixture_reset),
		cmocka_unit_test(crash__embedded_redis__stops_with_killed_qserver_and_keeps_tickets),
	};
	return cmocka_run_group_tests_name("crash", tests, hall_fixture_start_aof, hall_fixture_stop);
}
