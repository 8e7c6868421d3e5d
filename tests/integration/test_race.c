/* Races through a real qserver: eight clerks pipelining call_next over a thousand tickets,
 * clerks calling the same ticket at once, kiosks taking numbers at once. What a citizen would
 * notice: a number called twice, a number never called, a number issued twice or skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testhall.h"

#define NCLERKS 8
#define NTICKETS 1000
#define MAX_SEQ 2000 /* numbers per prefix we can index */
#define RACE_DEADLINE_MS 20000


/* ------------------------------------------------------------------------------------ */
/* Helpers */

/* Fails with the printed response. */
static void fail_with(const char *what, const cJSON *r)
{
	char *text = r ? cJSON_PrintUnformatted(r) : NULL;
	fail_msg("%s: got %s", what, text ? text : "no response");
}

/* Indexes a ticket number "A012" / "B1000" as prefix * MAX_SEQ + seq; -1 when malformed. */
static int number_index(const char *number)
{
	if (!number || number[0] < 'A' || number[0] > 'C')
		return -1;
	char *end;
	long seq = strtol(number + 1, &end, 10);
	size_t digits = strlen(number + 1);
	if (*end || seq <= 0 || seq >= MAX_SEQ || digits < 3 || (seq < 1000 && digits != 3))
		return -1;
	return (number[0] - 'A') * MAX_SEQ + (int)seq;
}

/* The rank of a ticket class in call order. */
static int class_rank(const char *cls)
{
	if (cls && strcmp(cls, "priority") == 0)
		return 0;
	if (cls && strcmp(cls, "appointment") == 0)
		return 1;
	return 2;
}

/* Opens a clerk's pipe at its own window (rN at window N). */
static struct hall_pipe *clerk_pipe(int n)
{
	struct hall_pipe *p = hall_pipe_open(hall.port);
	assert_non_null(p);
	char hello[160];
	snprintf(hello, sizeof hello,
		 "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"r%d\",\"password\":\"clerk123\",\"window\":%d}", n, n);
	assert_true(hall_pipe_hello(p, hello));
	return p;
}

/* Opens a kiosk's pipe. */
static struct hall_pipe *kiosk_pipe(void)
{
	struct hall_pipe *p = hall_pipe_open(hall.port);
	assert_non_null(p);
	assert_true(hall_pipe_hello(p, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"kiosk123\"}"));
	return p;
}

/* Opens a manager's pipe. */
static struct hall_pipe *manager_pipe(void)
{
	struct hall_pipe *p = hall_pipe_open(hall.port);
	assert_non_null(p);
	assert_true(hall_pipe_hello(p, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"m01\",\"password\":\"manager123\"}"));
	return p;
}

/* Waits until any of the pipes has input and reads it; fails the test at the deadline. */
static void poll_pipes(struct hall_pipe **pipes, int n, long long deadline)
{
	struct pollfd pfd[NCLERKS + 1];
	assert_true(n <= NCLERKS + 1);
	long long left = deadline - hall_now_ms();
	if (left <= 0)
		fail_msg("the race did not finish within %d ms", RACE_DEADLINE_MS);
	for (int i = 0; i < n; i++)
		pfd[i] = (struct pollfd){.fd = pipes[i]->fd, .events = POLLIN};
	if (poll(pfd, (nfds_t)n, (int)(left < 200 ? left : 200)) > 0)
		for (int i = 0; i < n; i++)
			if (pfd[i].revents)
				hall_pipe_fill(pipes[i]);
}

/* Issued tickets, by number index. */
struct issued {
	int order[3 * MAX_SEQ]; /* take order (commit order on one connection), -1 if not issued */
	int rank[3 * MAX_SEQ];	/* class rank */
	char number[NTICKETS][8];
	int n;
};

/* Takes n tickets on one pipelined kiosk connection, cycling services and classes, and
 * checks that each service's numbers come out 001, 002, ... in commit order. */
static void take_many(struct issued *is, int n)
{
	static const char *services[] = {"A", "B", "C"};
	memset(is->order, -1, sizeof is->order);
	is->n = 0;
	struct hall_pipe *k = kiosk_pipe();
	int sent = 0, got = 0, next_seq[3] = {1, 1, 1};
	long long deadline = hall_now_ms() + RACE_DEADLINE_MS;
	while (got < n) {
		while (sent < n && sent - got < 32) {
			const char *cls = sent % 7 == 0 ? "priority" : sent % 5 == 0 ? "appointment" : "normal";
			assert_int_equal(hall_pipe_send(k, "{\"id\":%d,\"op\":\"take\",\"service\":\"%s\",\"class\":\"%s\"}",
							sent, services[sent % 3], cls), 0);
			sent++;
		}
		cJSON *r = hall_pipe_read(k, (int)(deadline - hall_now_ms()));
		if (!tc_ok(r))
			fail_with("take", r);
		assert_int_equal((int)get_num(r, "id", NULL), got);
		const char *number = get_str(r, "ticket", "number");
		int idx = number_index(number);
		assert_true(idx > 0);
		int svc = got % 3;
		char want[8];
		snprintf(want, sizeof want, "%s%03d", services[svc], next_seq[svc]++);
		assert_string_equal(number, want);
		assert_string_equal(get_str(r, "ticket", "state"), "waiting");
		is->order[idx] = got;
		is->rank[idx] = class_rank(get_str(r, "ticket", "class"));
		snprintf(is->number[is->n++], sizeof is->number[0], "%s", number);
		cJSON_Delete(r);
		got++;
	}
	hall_pipe_close(k);
}

/* ------------------------------------------------------------------------------------ */
/* Tests */

/* Eight clerks race call_next, four requests in flight each, over 1,000 waiting tickets:
 * every number is called exactly once, at the window that asked, each window in call order
 * (class, then issue), and at the end every ticket is done and nothing waits. */
static void race__eight_clerks_1000_tickets__each_called_once(void **state)
{
	(void)state;
	static struct issued is;
	take_many(&is, NTICKETS);

	struct hall_pipe *clerks[NCLERKS];
	for (int i = 0; i < NCLERKS; i++)
		clerks[i] = clerk_pipe(i + 1);
	static int called_at[3 * MAX_SEQ]; /* window that called it, 0 if none */
	memset(called_at, 0, sizeof called_at);
	int inflight[NCLERKS] = {0}, sent[NCLERKS] = {0}, per_window[NCLERKS] = {0};
	int last_rank[NCLERKS], last_order[NCLERKS];
	bool drained[NCLERKS] = {false};
	int called = 0, finished = 0;
	for (int i = 0; i < NCLERKS; i++)
		last_rank[i] = -1, last_order[i] = -1;

	long long deadline = hall_now_ms() + RACE_DEADLINE_MS;
	while (finished < NCLERKS) {
		for (int i = 0; i < NCLERKS; i++)
			while (!drained[i] && inflight[i] < 4) {
				assert_int_equal(hall_pipe_send(clerks[i], "{\"id\":%d,\"op\":\"call_next\"}", sent[i]), 0);
				sent[i]++;
				inflight[i]++;
			}
		poll_pipes(clerks, NCLERKS, deadline);
		for (int i = 0; i < NCLERKS; i++) {
			cJSON *r;
			while ((r = hall_pipe_take(clerks[i])) != NULL) {
				if (!tc_ok(r))
					fail_with("call_next", r);
				inflight[i]--;
				cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "ticket");
				if (cJSON_IsNull(t)) {
					drained[i] = true; /* nothing waits for this window any more */
				} else {
					assert_false(drained[i]); /* nothing is called after "nothing waits" */
					const char *number = get_str(r, "ticket", "number");
					int idx = number_index(number);
					assert_true(idx > 0);
					if (is.order[idx] < 0)
						fail_msg("window %d called %s, which was never issued", i + 1, number);
					if (called_at[idx])
						fail_msg("%s was called twice: at window %d and at window %d", number,
							 called_at[idx], i + 1);
					called_at[idx] = i + 1;
					assert_int_equal((int)get_num(r, "ticket", "window"), i + 1);
					assert_string_equal(get_str(r, "ticket", "state"), "called");
					char clerk[16];
					snprintf(clerk, sizeof clerk, "r%d", i + 1);
					assert_string_equal(get_str(r, "ticket", "clerk"), clerk);
					/* One window's calls follow the hall's call order. */
					int rank = is.rank[idx], order = is.order[idx];
					if (rank < last_rank[i] || (rank == last_rank[i] && order < last_order[i]))
						fail_msg("window %d called %s out of order", i + 1, number);
					last_rank[i] = rank, last_order[i] = order;
					per_window[i]++;
					called++;
				}
				cJSON_Delete(r);
				if (drained[i] && inflight[i] == 0)
					finished++;
			}
			if (clerks[i]->eof && !(drained[i] && inflight[i] == 0))
				fail_msg("the server closed clerk r%d's connection during the race", i + 1);
		}
	}
	assert_int_equal(called, NTICKETS);
	for (int i = 0; i < is.n; i++)
		if (!called_at[number_index(is.number[i])])
			fail_msg("%s was never called", is.number[i]);
	int busy = 0;
	for (int i = 0; i < NCLERKS; i++)
		busy += per_window[i] > 0;
	assert_true(busy >= 2); /* it was a race, not one window doing everything */

	/* One more call_next: still nothing. */
	assert_int_equal(hall_pipe_send(clerks[0], "{\"id\":\"last\",\"op\":\"call_next\"}"), 0);
	cJSON *r = hall_pipe_read(clerks[0], 5000);
	if (!tc_ok(r))
		fail_with("the final call_next", r);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "ticket")));
	cJSON_Delete(r);

	/* What a manager sees: every ticket done at the window that called it, nobody waiting. */
	struct hall_pipe *m = manager_pipe();
	int asked = 0, answered = 0;
	while (answered < is.n) {
		while (asked < is.n && asked - answered < 32) {
			assert_int_equal(hall_pipe_send(m, "{\"id\":%d,\"op\":\"ticket\",\"number\":\"%s\"}", asked, is.number[asked]), 0);
			asked++;
		}
		r = hall_pipe_read(m, 5000);
		if (!tc_ok(r))
			fail_with("ticket", r);
		const char *number = is.number[answered];
		assert_int_equal((int)get_num(r, "id", NULL), answered);
		assert_string_equal(get_str(r, "ticket", "number"), number);
		const char *st = get_str(r, "ticket", "state");
		if (!st || strcmp(st, "done") != 0)
			fail_msg("%s ended %s, not done", number, st ? st : "(no state)");
		assert_int_equal((int)get_num(r, "ticket", "window"), called_at[number_index(number)]);
		cJSON_Delete(r);
		answered++;
	}
	assert_int_equal(hall_pipe_send(m, "{\"id\":\"q\",\"op\":\"queue\",\"limit\":1000}"), 0);
	r = hall_pipe_read(m, 5000);
	assert_true(tc_ok(r));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "tickets")), 0);
	cJSON_Delete(r);
	assert_int_equal(hall_pipe_send(m, "{\"id\":\"s\",\"op\":\"snapshot\"}"), 0);
	r = hall_pipe_read(m, 5000);
	assert_true(tc_ok(r));
	cJSON *svc;
	cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(r, "services"))
		assert_int_equal((int)get_num(svc, "waiting", NULL), 0);
	cJSON *w;
	int windows = 0;
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(r, "windows")) {
		assert_string_equal(get_str(w, "state", NULL), "idle");
		windows++;
	}
	assert_int_equal(windows, NCLERKS);
	cJSON_Delete(r);
	hall_pipe_close(m);
	for (int i = 0; i < NCLERKS; i++)
		hall_pipe_close(clerks[i]);
}

/* Two clerks send `call` for the same ticket at the same moment: one gets it, the other is
 * told conflict, and the ticket is at the winner's window. */
static void race__two_clerks_call_same_ticket__one_wins_other_conflict(void **state)
{
	(void)state;
	struct tc *kiosk = hall_kiosk(&hall);
	assert_non_null(kiosk);
	char number[16];
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
	assert_string_equal(number, "A001");
	struct hall_pipe *p[2] = {clerk_pipe(1), clerk_pipe(2)};
	/* Both lines go out before either answer is read. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(hall_pipe_send(p[i], "{\"id\":1,\"op\":\"call\",\"ticket\":\"A001\"}"), 0);
	cJSON *r[2];
	for (int i = 0; i < 2; i++)
		r[i] = hall_pipe_read(p[i], 5000);
	int winner = tc_ok(r[0]) ? 0 : 1;
	if (!tc_ok(r[winner]))
		fail_with("call: nobody won", r[0]);
	const char *code = tc_error_code(r[1 - winner]);
	if (!code || strcmp(code, "conflict") != 0)
		fail_with("call: the loser should get conflict", r[1 - winner]);
	assert_int_equal((int)get_num(r[winner], "ticket", "window"), winner + 1);
	cJSON_Delete(r[0]);
	cJSON_Delete(r[1]);
	cJSON *t = tc_request(kiosk, "{\"op\":\"ticket\",\"number\":\"A001\"}");
	assert_true(tc_ok(t));
	assert_string_equal(get_str(t, "ticket", "state"), "called");
	assert_int_equal((int)get_num(t, "ticket", "window"), winner + 1);
	cJSON_Delete(t);
	hall_pipe_close(p[0]);
	hall_pipe_close(p[1]);
	tc_close(kiosk);
}

/* Eight clerks each call the same 100 tickets, pipelined, in different orders: each ticket
 * is won by exactly one clerk and every other clerk is told conflict. */
static void race__eight_clerks_call_same_tickets__exactly_one_wins_each(void **state)
{
	(void)state;
	enum { N = 100 };
	static struct issued is;
	take_many(&is, N);
	struct hall_pipe *clerks[NCLERKS];
	for (int i = 0; i < NCLERKS; i++)
		clerks[i] = clerk_pipe(i + 1);
	/* Clerk i asks in the order j * step_i + offset_i (mod N), a different walk each. */
	static const int steps[NCLERKS] = {1, 3, 7, 9, 11, 13, 17, 19};
	int wins[N] = {0}, conflicts[N] = {0}, winner[N] = {0};
	int sent[NCLERKS] = {0}, got[NCLERKS] = {0};
	int done = 0;
	long long deadline = hall_now_ms() + RACE_DEADLINE_MS;
	while (done < NCLERKS) {
		for (int i = 0; i < NCLERKS; i++)
			while (sent[i] < N && sent[i] - got[i] < 8) {
				int j = (sent[i] * steps[i] + i * 13) % N;
				assert_int_equal(hall_pipe_send(clerks[i], "{\"id\":%d,\"op\":\"call\",\"ticket\":\"%s\"}", j, is.number[j]), 0);
				sent[i]++;
			}
		poll_pipes(clerks, NCLERKS, deadline);
		for (int i = 0; i < NCLERKS; i++) {
			cJSON *r;
			while ((r = hall_pipe_take(clerks[i])) != NULL) {
				int j = (int)get_num(r, "id", NULL);
				assert_true(j >= 0 && j < N);
				if (tc_ok(r)) {
					assert_string_equal(get_str(r, "ticket", "number"), is.number[j]);
					wins[j]++;
					winner[j] = i + 1;
				} else {
					const char *code = tc_error_code(r);
					if (!code || strcmp(code, "conflict") != 0)
						fail_with("call: the losers should get conflict", r);
					conflicts[j]++;
				}
				cJSON_Delete(r);
				if (++got[i] == N)
					done++;
			}
			assert_false(clerks[i]->eof);
		}
	}
	for (int j = 0; j < N; j++) {
		if (wins[j] != 1)
			fail_msg("%s was won by %d clerks", is.number[j], wins[j]);
		assert_int_equal(conflicts[j], NCLERKS - 1);
	}
	/* The last ticket each clerk won is still called there; the others it won are done. */
	struct tc *pub = hall_public(&hall);
	assert_non_null(pub);
	for (int j = 0; j < N; j++) {
		cJSON *r = tc_request(pub, "{\"op\":\"ticket\",\"number\":\"%s\"}", is.number[j]);
		assert_true(tc_ok(r));
		assert_int_equal((int)get_num(r, "ticket", "window"), winner[j]);
		const char *st = get_str(r, "ticket", "state");
		assert_true(strcmp(st, "done") == 0 || strcmp(st, "called") == 0);
		cJSON_Delete(r);
	}
	tc_close(pub);
	for (int i = 0; i < NCLERKS; i++)
		hall_pipe_close(clerks[i]);
}

/* Eight kiosks take tickets of one service at once: the numbers A001..A1000 are each issued
 * exactly once, with no gap (and the thousandth has four digits). */
static void race__eight_kiosks_take_at_once__numbers_unique_without_gap(void **state)
{
	(void)state;
	enum { PER = NTICKETS / NCLERKS };
	struct hall_pipe *k[NCLERKS];
	for (int i = 0; i < NCLERKS; i++)
		k[i] = kiosk_pipe();
	static int seen[MAX_SEQ];
	memset(seen, 0, sizeof seen);
	int sent[NCLERKS] = {0}, got[NCLERKS] = {0}, done = 0;
	long long deadline = hall_now_ms() + RACE_DEADLINE_MS;
	while (done < NCLERKS) {
		for (int i = 0; i < NCLERKS; i++)
			while (sent[i] < PER && sent[i] - got[i] < 16) {
				assert_int_equal(hall_pipe_send(k[i], "{\"id\":%d,\"op\":\"take\",\"service\":\"A\"}", sent[i]), 0);
				sent[i]++;
			}
		poll_pipes(k, NCLERKS, deadline);
		for (int i = 0; i < NCLERKS; i++) {
			cJSON *r;
			while ((r = hall_pipe_take(k[i])) != NULL) {
				if (!tc_ok(r))
					fail_with("take", r);
				assert_int_equal((int)get_num(r, "id", NULL), got[i]); /* in request order */
				const char *number = get_str(r, "ticket", "number");
				int idx = number_index(number);
				assert_true(idx > 0 && idx < MAX_SEQ);
				if (seen[idx]++)
					fail_msg("%s was issued twice", number);
				cJSON_Delete(r);
				if (++got[i] == PER)
					done++;
			}
			assert_false(k[i]->eof);
		}
	}
	for (int n = 1; n <= NTICKETS; n++)
		if (seen[n] != 1)
			fail_msg("A%03d was issued %d times", n, seen[n]);
	struct tc *pub = hall_public(&hall);
	cJSON *r = tc_request(pub, "{\"op\":\"ticket\",\"number\":\"A1000\"}");
	assert_true(tc_ok(r));
	assert_string_equal(get_str(r, "ticket", "state"), "waiting");
	cJSON_Delete(r);
	tc_close(pub);
	for (int i = 0; i < NCLERKS; i++)
		hall_pipe_close(k[i]);
}

/* ------------------------------------------------------------------------------------ */

/* Starts one hall on the eight-window config for the whole file. */
static int group_setup(void **state)
{
	(void)state;
	return hall_start_config(&hall, "race.json", false, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(race__eight_clerks_1000_tickets__each_called_once, hall_fixture_reset),
		cmocka_unit_test_setup(race__two_clerks_call_same_ticket__one_wins_other_conflict, hall_fixture_reset),
		cmocka_unit_test_setup(race__eight_clerks_call_same_tickets__exactly_one_wins_each, hall_fixture_reset),
		cmocka_unit_test_setup(race__eight_kiosks_take_at_once__numbers_unique_without_gap, hall_fixture_reset),
	};
	return cmocka_run_group_tests_name("race", tests, group_setup, hall_fixture_stop);
}
