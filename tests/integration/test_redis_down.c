/* Redis goes away under a running qserver, killed (its socket closes) or hung (SIGSTOP):
 * requests that need it answer `unavailable` quickly and change nothing, ping still answers,
 * qserver stays up, and once Redis is back everything works again without a restart, events
 * to subscribers included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "testhall.h"

#define UNAVAILABLE_MAX_MS 2000 /* the longest a request may wait for its `unavailable` */
#define RECOVER_MAX_MS 10000	/* how long Redis's return may take to be noticed */


/* Fails with the printed response. */
static void fail_with(const char *what, const cJSON *r)
{
	char *text = r ? cJSON_PrintUnformatted(r) : NULL;
	fail_msg("%s: got %s", what, text ? text : "no response");
}

/* Sends a request and asserts it is answered `unavailable` within UNAVAILABLE_MAX_MS. */
static void expect_unavailable(struct tc *tc, const char *request)
{
	long long t0 = hall_now_ms();
	cJSON *r = tc_request(tc, "%s", request);
	long long ms = hall_now_ms() - t0;
	const char *code = tc_error_code(r);
	if (!code || strcmp(code, "unavailable") != 0) {
		char what[256];
		snprintf(what, sizeof what, "%s while Redis is down should answer unavailable", request);
		fail_with(what, r);
	}
	const char *message = get_str(r, "error", "message");
	assert_true(message && strlen(message) > 5);
	if (ms >= UNAVAILABLE_MAX_MS)
		fail_msg("%s took %lld ms to answer unavailable (at most %d)", request, ms, UNAVAILABLE_MAX_MS);
	cJSON_Delete(r);
}

/* Asserts that ping answers ok at once and qserver still runs. */
static void expect_alive(struct tc *tc)
{
	long long t0 = hall_now_ms();
	cJSON *r = tc_request(tc, "{\"op\":\"ping\"}");
	if (!tc_ok(r))
		fail_with("ping while Redis is down", r);
	assert_true(get_num(r, "time", NULL) > 0);
	cJSON_Delete(r);
	assert_true(hall_now_ms() - t0 < 500);
	assert_true(ts_running(hall.server));
}

/* Takes a ticket of service A again and again until one is issued (Redis is back), and
 * returns the response; every refusal on the way must be `unavailable`. */
static cJSON *take_until_ok(struct tc *kiosk)
{
	long long deadline = hall_now_ms() + RECOVER_MAX_MS;
	for (;;) {
		cJSON *r = tc_request(kiosk, "{\"op\":\"take\",\"service\":\"A\"}");
		if (tc_ok(r))
			return r;
		const char *code = tc_error_code(r);
		if (!code || strcmp(code, "unavailable") != 0)
			fail_with("take while Redis comes back", r);
		cJSON_Delete(r);
		if (hall_now_ms() > deadline)
			fail_msg("take still unavailable %d ms after Redis came back", RECOVER_MAX_MS);
		usleep(50 * 1000);
	}
}

/* Takes Redis away: killed, or hung with SIGSTOP. */
static void redis_down(bool hang)
{
	if (hang) {
		hall_redis_freeze(&hall);
		assert_true(hall.redis_frozen);
	} else {
		testredis_kill(&hall.redis);
	}
}

/* Brings Redis back (the AOF keeps what was committed). */
static void redis_up(bool hang)
{
	if (hang) {
		hall_redis_thaw(&hall);
	} else {
		assert_int_equal(testredis_restart(&hall.redis), 0);
	}
}

/* Asserts the waiting count of service A in a snapshot. */
static void expect_waiting_a(struct tc *tc, int want)
{
	cJSON *r = tc_request(tc, "{\"op\":\"snapshot\"}");
	if (!tc_ok(r))
		fail_with("snapshot", r);
	cJSON *svc;
	int found = 0;
	cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(r, "services")) {
		const char *id = get_str(svc, "id", NULL);
		if (id && strcmp(id, "A") == 0) {
			assert_int_equal((int)get_num(svc, "waiting", NULL), want);
			found = 1;
		}
	}
	assert_true(found);
	cJSON_Delete(r);
}

/* The outage, whichever kind: every op that needs Redis answers unavailable in time, ping
 * answers, nothing a refused request asked for happened, and after Redis returns the same
 * connections work again. */
static void outage(bool hang)
{
	struct tc *kiosk = hall_kiosk(&hall);
	struct tc *clerk = hall_clerk(&hall, "c01", 1);
	struct tc *manager = hall_manager(&hall);
	struct tc *pub = hall_public(&hall);
	assert_non_null(kiosk);
	assert_non_null(clerk);
	assert_non_null(manager);
	assert_non_null(pub);
	char number[16];
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
	assert_string_equal(number, "A001");

	redis_down(hang);
	/* The first request may be the one that finds Redis gone or hung; each is bounded. */
	expect_unavailable(kiosk, "{\"op\":\"take\",\"service\":\"A\"}");
	expect_alive(pub);
	expect_unavailable(clerk, "{\"op\":\"call_next\"}");
	expect_unavailable(pub, "{\"op\":\"services\"}");
	expect_unavailable(pub, "{\"op\":\"snapshot\"}");
	expect_unavailable(pub, "{\"op\":\"site\"}");
	expect_unavailable(pub, "{\"op\":\"ticket\",\"number\":\"A001\"}");
	expect_unavailable(manager, "{\"op\":\"queue\"}");
	expect_unavailable(manager, "{\"op\":\"call_next\",\"window\":2}");
	expect_unavailable(kiosk, "{\"op\":\"take\",\"service\":\"B\",\"class\":\"priority\"}");
	/* A clerk's hello needs Redis too (the window lease). */
	struct tc *late = tc_connect(hall.port);
	assert_non_null(late);
	expect_unavailable(late, "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c02\",\"password\":\"clerk123\",\"window\":3}");
	expect_alive(late);
	tc_close(late);
	/* Several requests in flight on one connection all get their answer, in order. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(tc_send_line(kiosk, "{\"id\":%d,\"op\":\"take\",\"service\":\"A\"}", 100 + i), 0);
	long long t0 = hall_now_ms();
	for (int i = 0; i < 5; i++) {
		cJSON *r = tc_read_response(kiosk, UNAVAILABLE_MAX_MS);
		assert_int_equal((int)get_num(r, "id", NULL), 100 + i);
		assert_string_equal(tc_error_code(r), "unavailable");
		cJSON_Delete(r);
	}
	assert_true(hall_now_ms() - t0 < UNAVAILABLE_MAX_MS);
	expect_alive(pub);

	redis_up(hang);
	/* The same connections work again; none of the refused takes was committed, so the
	 * first issued number follows the last acknowledged one. */
	cJSON *r = take_until_ok(kiosk);
	assert_string_equal(get_str(r, "ticket", "number"), "A002");
	cJSON_Delete(r);
	expect_waiting_a(pub, 2);
	r = tc_request(pub, "{\"op\":\"services\"}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	r = tc_request(manager, "{\"op\":\"queue\"}");
	assert_true(tc_ok(r));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "tickets")), 2);
	cJSON_Delete(r);
	r = tc_request(pub, "{\"op\":\"ticket\",\"number\":\"B001\"}");
	assert_string_equal(tc_error_code(r), "not_found"); /* the refused take of B left nothing */
	cJSON_Delete(r);
	/* The refused call_next (window 1) and the manager's (window 2) called nothing. */
	r = tc_request(pub, "{\"op\":\"ticket\",\"number\":\"A001\"}");
	assert_true(tc_ok(r));
	assert_string_equal(get_str(r, "ticket", "state"), "waiting");
	cJSON_Delete(r);
	r = tc_request(clerk, "{\"op\":\"call_next\"}");
	if (!tc_ok(r))
		fail_with("call_next after Redis came back", r);
	assert_string_equal(get_str(r, "ticket", "number"), "A001");
	assert_int_equal((int)get_num(r, "ticket", "window"), 1);
	cJSON_Delete(r);
	assert_true(ts_running(hall.server));
	tc_close(kiosk);
	tc_close(clerk);
	tc_close(manager);
	tc_close(pub);
}

/* A display subscribed before the outage keeps receiving: the change made after Redis
 * returned reaches it, once, followed by the call of a ticket. */
static void subscriber_across_outage(bool hang)
{
	struct tc *sub = hall_public(&hall);
	struct tc *kiosk = hall_kiosk(&hall);
	assert_non_null(sub);
	assert_non_null(kiosk);
	cJSON *r = tc_request(sub, "{\"op\":\"subscribe\"}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	char number[16];
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
	cJSON *ev = tc_next_event(sub, 5000);
	assert_non_null(ev); /* events flow before the outage */
	cJSON_Delete(ev);

	redis_down(hang);
	expect_unavailable(kiosk, "{\"op\":\"take\",\"service\":\"A\"}");
	redis_up(hang);
	r = take_until_ok(kiosk);
	assert_string_equal(get_str(r, "ticket", "number"), "A002");
	cJSON_Delete(r);
	struct tc *clerk = NULL;
	long long deadline = hall_now_ms() + RECOVER_MAX_MS;
	while (!clerk && hall_now_ms() < deadline)
		clerk = hall_clerk(&hall, "c01", 1);
	assert_non_null(clerk);
	r = tc_request(clerk, "{\"op\":\"call_next\"}");
	assert_true(tc_ok(r));
	assert_string_equal(get_str(r, "ticket", "number"), "A001");
	cJSON_Delete(r);

	/* Read events until the call of A001; A002's issue must have come, exactly once. */
	int issued_a002 = 0;
	bool called_a001 = false;
	while (!called_a001) {
		ev = tc_next_event(sub, 5000);
		if (!ev) {
			bool closed = tc_closed_by_peer(sub, 0);
			ts_print_log_tail(hall.server, 8);
			fail_msg("the subscriber got no `called` event for A001 after Redis came back "
				 "(A002's issue seen %d times; qserver %s the subscriber's connection)",
				 issued_a002, closed ? "closed" : "kept");
		}
		const char *kind = get_str(ev, "event", NULL);
		const char *num = get_str(ev, "ticket", "number");
		const char *st = get_str(ev, "ticket", "state");
		if (kind && num && strcmp(kind, "ticket") == 0 && strcmp(num, "A002") == 0 && strcmp(st, "waiting") == 0)
			issued_a002++;
		if (kind && num && strcmp(kind, "called") == 0 && strcmp(num, "A001") == 0)
			called_a001 = true;
		cJSON_Delete(ev);
	}
	assert_int_equal(issued_a002, 1);
	tc_close(clerk);
	tc_close(kiosk);
	tc_close(sub);
}

/* ------------------------------------------------------------------------------------ */

static void redis_down__redis_killed__unavailable_fast_ping_ok_recovers_without_restart(void **state)
{
	(void)state;
	outage(false);
}

static void redis_down__redis_hung__unavailable_within_2s_ping_ok_recovers_without_restart(void **state)
{
	(void)state;
	outage(true);
}

static void redis_down__redis_killed__subscriber_gets_events_after_recovery(void **state)
{
	(void)state;
	subscriber_across_outage(false);
}

static void redis_down__redis_hung__subscriber_gets_events_after_recovery(void **state)
{
	(void)state;
	subscriber_across_outage(true);
}

/* A take that reached a hung Redis and was answered unavailable must not commit when Redis
 * wakes up later (the deadline inside the function): no ticket, no number used. */
static void redis_down__take_sent_to_hung_redis__not_committed_after_it_wakes(void **state)
{
	(void)state;
	struct tc *kiosk = hall_kiosk(&hall);
	struct tc *sub = hall_public(&hall);
	assert_non_null(kiosk);
	assert_non_null(sub);
	cJSON *r = tc_request(sub, "{\"op\":\"subscribe\",\"topics\":[\"ticket\"]}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	redis_down(true);
	expect_unavailable(kiosk, "{\"op\":\"take\",\"service\":\"C\"}");
	redis_up(true);
	/* Wait until Redis has surely run what was queued in it, then look. */
	r = NULL;
	long long deadline = hall_now_ms() + RECOVER_MAX_MS;
	while (!tc_ok(r) && hall_now_ms() < deadline) {
		cJSON_Delete(r);
		r = tc_request(sub, "{\"op\":\"ticket\",\"number\":\"C001\"}");
		const char *code = tc_error_code(r);
		if (code && strcmp(code, "not_found") == 0)
			break;
		usleep(50 * 1000);
	}
	assert_string_equal(tc_error_code(r), "not_found");
	cJSON_Delete(r);
	char number[16];
	assert_non_null(hall_take(kiosk, "C", NULL, number, sizeof number));
	assert_string_equal(number, "C001");
	/* The only ticket event is that of the take that was acknowledged. */
	cJSON *ev = tc_next_event(sub, 5000);
	assert_non_null(ev);
	assert_string_equal(get_str(ev, "ticket", "number"), "C001");
	cJSON_Delete(ev);
	tc_close(kiosk);
	tc_close(sub);
}

/* A qserver of an earlier version sharing the Redis during an upgrade loads its own library
 * when it connects; that library refuses the day with the hour this qserver sends (before any
 * write). The take is answered `unavailable`, qserver loads its library again, and the retried
 * take issues the first number: the refused one used none. The stand-in library refuses as the
 * earlier one did. */
static void redis_down__older_library_loaded_by_another_qserver__reloaded_nothing_changed(void **state)
{
	(void)state;
	struct tc *kiosk = hall_kiosk(&hall);
	assert_non_null(kiosk);
	redisContext *c = testredis_connect(&hall.redis);
	assert_non_null(c);
	redisReply *rr = redisCommand(c, "FUNCTION LOAD REPLACE %s",
				      "#!lua name=qhall\n"
				      "local function refuse() return redis.error_reply('BAD_REQUEST day day must be YYYY-MM-DD') end\n"
				      "redis.register_function('qh_take', refuse)\n"
				      "redis.register_function('qh_setup', refuse)\n");
	assert_non_null(rr);
	assert_int_equal(rr->type, REDIS_REPLY_STRING);
	freeReplyObject(rr);
	expect_unavailable(kiosk, "{\"op\":\"take\",\"service\":\"A\"}");
	cJSON *r = take_until_ok(kiosk);
	assert_string_equal(get_str(r, "ticket", "number"), "A001");
	cJSON_Delete(r);
	/* this qserver's library is the one loaded again: a function the stand-in lacks answers */
	rr = redisCommand(c, "FUNCTION LIST LIBRARYNAME qhall");
	assert_non_null(rr);
	assert_true(rr->type == REDIS_REPLY_ARRAY && rr->elements == 1);
	freeReplyObject(rr);
	r = tc_request(kiosk, "{\"op\":\"services\"}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	assert_true(hall_log_count(&hall, "an older function library is loaded") >= 1);
	redisFree(c);
	tc_close(kiosk);
}

/* ------------------------------------------------------------------------------------ */
/* A relay between qserver and Redis on a Unix socket that can stop taking what qserver writes
 * on the links open now (shutdown of its read side): qserver's next write there fails with
 * EPIPE while its reads see no end, so the link drops inside the write, as when a peer
 * vanishes between two commands. */

#define RELAY_MAX_PAIRS 16

struct relay {
	char path[108];
	const char *redis_socket;
	int listener;
	int down[RELAY_MAX_PAIRS], up[RELAY_MAX_PAIRS]; /* qserver's side, Redis's side; -1 unused */
	int deaf[RELAY_MAX_PAIRS];			 /* qserver's side no longer read */
	atomic_int deafen;				 /* set by the test: stop reading the open links */
	atomic_int stop;
	pthread_t thread;
};

/* Connects to a Unix socket; -1 on failure. */
static int relay_dial(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Closes one pair of the relay. */
static void relay_close_pair(struct relay *r, int i)
{
	close(r->down[i]);
	close(r->up[i]);
	r->down[i] = r->up[i] = -1;
}

/* Forwards bytes both ways until stopped; accepts new links at any time. */
static void *relay_run(void *arg)
{
	struct relay *r = arg;
	char buf[65536];
	while (!atomic_load(&r->stop)) {
		if (atomic_exchange(&r->deafen, 0))
			for (int i = 0; i < RELAY_MAX_PAIRS; i++)
				if (r->down[i] >= 0 && !r->deaf[i]) {
					shutdown(r->down[i], SHUT_RD);
					r->deaf[i] = 1;
				}
		struct pollfd p[1 + 2 * RELAY_MAX_PAIRS];
		int n = 0;
		p[n++] = (struct pollfd){.fd = r->listener, .events = POLLIN};
		for (int i = 0; i < RELAY_MAX_PAIRS; i++) {
			p[n++] = (struct pollfd){.fd = r->down[i] >= 0 && !r->deaf[i] ? r->down[i] : -1, .events = POLLIN};
			p[n++] = (struct pollfd){.fd = r->up[i], .events = POLLIN};
		}
		if (poll(p, n, 20) <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			int c = accept(r->listener, NULL, NULL);
			int i = 0;
			while (i < RELAY_MAX_PAIRS && r->down[i] >= 0)
				i++;
			int u = c >= 0 && i < RELAY_MAX_PAIRS ? relay_dial(r->redis_socket) : -1;
			if (u < 0) {
				if (c >= 0)
					close(c);
			} else {
				r->down[i] = c, r->up[i] = u, r->deaf[i] = 0;
			}
		}
		for (int i = 0; i < RELAY_MAX_PAIRS; i++) {
			for (int side = 0; side < 2; side++) {
				const struct pollfd *q = &p[1 + 2 * i + side];
				if (q->fd < 0 || !(q->revents & (POLLIN | POLLHUP | POLLERR)) || r->down[i] < 0)
					continue;
				int from = side ? r->up[i] : r->down[i], to = side ? r->down[i] : r->up[i];
				ssize_t got = read(from, buf, sizeof buf);
				if (got <= 0 || write(to, buf, (size_t)got) != got)
					relay_close_pair(r, i);
			}
		}
	}
	return NULL;
}

static struct relay *relay_running; /* stopped by relay_teardown when a test fails */

/* Starts a relay to the Redis at redis_socket, listening at path; 0 or -1. */
static int relay_start(struct relay *r, const char *path, const char *redis_socket)
{
	memset(r, 0, sizeof *r);
	snprintf(r->path, sizeof r->path, "%s", path);
	r->redis_socket = redis_socket;
	for (int i = 0; i < RELAY_MAX_PAIRS; i++)
		r->down[i] = r->up[i] = -1;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	unlink(path);
	r->listener = socket(AF_UNIX, SOCK_STREAM, 0);
	if (r->listener < 0 || bind(r->listener, (struct sockaddr *)&a, sizeof a) < 0 || listen(r->listener, 16) < 0)
		return -1;
	return pthread_create(&r->thread, NULL, relay_run, r) == 0 ? 0 : -1;
}

/* Stops the relay and closes its sockets. */
static void relay_stop(struct relay *r)
{
	atomic_store(&r->stop, 1);
	pthread_join(r->thread, NULL);
	for (int i = 0; i < RELAY_MAX_PAIRS; i++)
		if (r->down[i] >= 0)
			relay_close_pair(r, i);
	close(r->listener);
	unlink(r->path);
}

/* The command link drops inside the write of a take's command (the peer stopped reading, no
 * end seen on reading): the take is answered `unavailable` and committed nothing, qserver stays
 * up, and the link comes back by itself. */
static void redis_down__write_of_a_command_fails__take_unavailable_link_recovers(void **state)
{
	(void)state;
	static struct testredis redis; /* static: the relay's thread reads them until the teardown */
	static struct relay relay;
	assert_int_equal(testredis_start(&redis, false), 0);
	char path[108];
	snprintf(path, sizeof path, "%s/relay.sock", redis.dir);
	assert_int_equal(relay_start(&relay, path, redis.socket), 0);
	relay_running = &relay;
	char addr[120];
	snprintf(addr, sizeof addr, "unix:%s", path);
	struct test_hall h;
	assert_int_equal(hall_start_on(&h, addr, NULL), 0);
	struct tc *kiosk = hall_kiosk(&h);
	assert_non_null(kiosk);

	atomic_store(&relay.deafen, 1);
	while (atomic_load(&relay.deafen))
		usleep(1000);
	cJSON *r = tc_request(kiosk, "{\"op\":\"take\",\"service\":\"A\"}");
	const char *code = tc_error_code(r);
	if (!code || strcmp(code, "unavailable") != 0)
		fail_with("a take whose command cannot be written", r);
	cJSON_Delete(r);
	assert_true(ts_running(h.server));
	/* The answer may leave before the line is logged (the link's callbacks run first). */
	long long logged_by = hall_now_ms() + UNAVAILABLE_MAX_MS;
	while (hall_log_count(&h, "redis command link lost: Broken pipe") < 1 && hall_now_ms() < logged_by)
		usleep(10 * 1000);
	if (hall_log_count(&h, "redis command link lost: Broken pipe") < 1) {
		ts_print_log_tail(h.server, 20);
		fail_msg("the command link did not drop in the write");
	}

	/* The link comes back through the relay; the refused take left no number used. */
	long long deadline = hall_now_ms() + RECOVER_MAX_MS;
	for (;;) {
		r = tc_request(kiosk, "{\"op\":\"take\",\"service\":\"A\"}");
		if (tc_ok(r))
			break;
		code = tc_error_code(r);
		if (!code || strcmp(code, "unavailable") != 0 || hall_now_ms() > deadline)
			fail_with("take after the command link came back", r);
		cJSON_Delete(r);
		usleep(50 * 1000);
	}
	assert_string_equal(get_str(r, "ticket", "number"), "A001");
	cJSON_Delete(r);
	tc_close(kiosk);
	assert_int_equal(hall_stop(&h), 0);
	relay_stop(&relay);
	relay_running = NULL;
	testredis_stop(&redis);
}

/* Stops a relay a failed test left running. */
static int relay_teardown(void **state)
{
	(void)state;
	if (relay_running)
		relay_stop(relay_running);
	relay_running = NULL;
	return 0;
}

/* ------------------------------------------------------------------------------------ */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(redis_down__redis_killed__unavailable_fast_ping_ok_recovers_without_restart, hall_fixture_reset),
		cmocka_unit_test_setup(redis_down__redis_hung__unavailable_within_2s_ping_ok_recovers_without_restart, hall_fixture_reset),
		cmocka_unit_test_setup(redis_down__redis_killed__subscriber_gets_events_after_recovery, hall_fixture_reset),
		cmocka_unit_test_setup(redis_down__redis_hung__subscriber_gets_events_after_recovery, hall_fixture_reset),
		cmocka_unit_test_setup(redis_down__take_sent_to_hung_redis__not_committed_after_it_wakes, hall_fixture_reset),
		cmocka_unit_test_setup(redis_down__older_library_loaded_by_another_qserver__reloaded_nothing_changed, hall_fixture_reset),
		cmocka_unit_test_teardown(redis_down__write_of_a_command_fails__take_unavailable_link_recovers, relay_teardown),
	};
	return cmocka_run_group_tests_name("redis_down", tests, hall_fixture_start_aof, hall_fixture_stop);
}
