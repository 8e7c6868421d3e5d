/* qserver finds its Redis through Sentinel (--redis sentinel://IP:PORT,.../NAME): it asks the
 * Sentinels in turn, uses the primary they name, and after a failover writes go on at the new
 * primary with the ticket numbers carrying on (none issued twice). A malformed address stops
 * qserver at start with a clear message; a name no Sentinel knows leaves requests
 * `unavailable`. With --durable N a write is ok only once N replicas have it; one that
 * reached only the primary answers `unavailable` with `written: true`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testhall.h"
#include "testnode.h"

#define FAILOVER_MAX_MS 15000 /* how long writes may stay refused after a failover */

static struct testnode primary, replica, sentinel;

/* Starts a primary, its replica and one Sentinel watching them. */
static int topology_start(void **state)
{
	(void)state;
	if (testnode_start_redis(&primary, 0) < 0 || testnode_start_redis(&replica, primary.port) < 0 ||
	    testnode_start_sentinel(&sentinel, primary.port, 1, 2000) < 0)
		return -1;
	return 0;
}

/* Stops every node. */
static int topology_stop(void **state)
{
	(void)state;
	testnode_stop(&sentinel);
	testnode_stop(&replica);
	testnode_stop(&primary);
	return 0;
}

/* The sentinel:// address of our Sentinel, after an optional dead one. */
static const char *sentinel_url(bool dead_first, const char *name)
{
	static char url[160];
	char dead[32] = "";
	if (dead_first)
		snprintf(dead, sizeof dead, "127.0.0.1:%d,", ts_free_port());
	snprintf(url, sizeof url, "sentinel://%s127.0.0.1:%d/%s", dead, sentinel.port, name);
	return url;
}

/* Fails with the printed response. */
static void fail_with(const char *what, const cJSON *r)
{
	char *text = r ? cJSON_PrintUnformatted(r) : NULL;
	fail_msg("%s: got %s", what, text ? text : "no response");
}

/* The number of keys in a node's database, or -1. */
static long long node_dbsize(const struct testnode *n)
{
	redisContext *c = testnode_connect(n);
	if (!c)
		return -1;
	redisReply *r = redisCommand(c, "DBSIZE");
	long long size = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return size;
}

/* Takes a ticket of service A until one is issued and returns its number's digits as an
 * integer; every refusal on the way must be `unavailable` (with --durable, perhaps
 * `written: true`: such a ticket may be lost in the failover). */
static int take_until_ok(struct tc *kiosk, int timeout_ms)
{
	long long deadline = hall_now_ms() + timeout_ms;
	for (;;) {
		cJSON *r = tc_request(kiosk, "{\"op\":\"take\",\"service\":\"A\"}");
		if (tc_ok(r)) {
			const char *number = get_str(r, "ticket", "number");
			assert_non_null(number);
			int n = atoi(number + strcspn(number, "0123456789"));
			cJSON_Delete(r);
			return n;
		}
		const char *code = tc_error_code(r);
		if (!code || strcmp(code, "unavailable") != 0)
			fail_with("take during a failover", r);
		cJSON_Delete(r);
		if (hall_now_ms() > deadline)
			fail_msg("take still unavailable %d ms after the failover began", timeout_ms);
		usleep(50 * 1000);
	}
}

/* With the first Sentinel unreachable, qserver asks the next and writes to the primary. */
static void sentinel__first_one_down__the_next_names_the_primary(void **state)
{
	(void)state;
	struct test_hall h;
	assert_int_equal(hall_start_on(&h, sentinel_url(true, TESTNODE_MASTER), NULL), 0);
	struct tc *kiosk = hall_kiosk(&h);
	assert_non_null(kiosk);
	long long before = node_dbsize(&primary);
	assert_true(take_until_ok(kiosk, 1000) >= 1);
	assert_true(node_dbsize(&primary) > before);
	tc_close(kiosk);
	assert_int_equal(hall_stop(&h), 0);
}

/* After a failover the new primary takes the writes and the acknowledged numbers carry on.
 * --durable 1: without it, takes acknowledged by the old primary between the promotion and
 * its demotion are lost and their numbers issued again (docs/operations.md, Durability). */
static void sentinel__failover__writes_go_on_at_the_new_primary(void **state)
{
	(void)state;
	struct test_hall h;
	const char *args[] = {"--durable", "1", NULL};
	assert_int_equal(hall_start_on(&h, sentinel_url(false, TESTNODE_MASTER), args), 0);
	struct tc *kiosk = hall_kiosk(&h);
	assert_non_null(kiosk);
	int last = take_until_ok(kiosk, 1000);
	assert_int_equal(testnode_failover(&sentinel, 10000), 0);
	/* Writes may be refused for a while, but only as `unavailable`. */
	char role[16];
	long long deadline = hall_now_ms() + FAILOVER_MAX_MS;
	while ((!testnode_role(&replica, role, sizeof role) || strcmp(role, "master") != 0) && hall_now_ms() < deadline) {
		int n = take_until_ok(kiosk, FAILOVER_MAX_MS);
		assert_true(n > last);
		last = n;
		usleep(20 * 1000);
	}
	assert_string_equal(testnode_role(&replica, role, sizeof role), "master");
	/* The Sentinel then turns the old primary into a replica, which refuses writes
	 * (-READONLY): qserver must ask the Sentinels again and follow. */
	deadline = hall_now_ms() + 20000;
	while ((!testnode_role(&primary, role, sizeof role) || strcmp(role, "slave") != 0) && hall_now_ms() < deadline)
		usleep(100 * 1000);
	assert_string_equal(testnode_role(&primary, role, sizeof role), "slave");
	long long on_new = node_dbsize(&replica);
	for (int i = 0; i < 3; i++) {
		int n = take_until_ok(kiosk, FAILOVER_MAX_MS);
		if (n <= last)
			fail_msg("ticket %d issued after ticket %d: a number went back after the failover", n, last);
		last = n;
	}
	assert_true(node_dbsize(&replica) >= on_new);
	tc_close(kiosk);
	assert_int_equal(hall_stop(&h), 0);
}

/* The primary's IP:PORT, for --redis without Sentinels. */
static const char *primary_addr(void)
{
	static char addr[32];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", primary.port);
	return addr;
}

/* Asserts a take is answered `unavailable` with `written: true` and a message saying so. */
static void expect_not_durable(struct tc *kiosk)
{
	cJSON *r = tc_request(kiosk, "{\"op\":\"take\",\"service\":\"A\"}");
	const char *code = tc_error_code(r);
	if (!code || strcmp(code, "unavailable") != 0 || !cJSON_IsTrue(cJSON_GetObjectItem(r, "written")))
		fail_with("take that no replica confirmed", r);
	const char *message = get_str(r, "error", "message");
	assert_non_null(message);
	assert_non_null(strstr(message, "was made"));
	cJSON_Delete(r);
}

/* --durable 1: ok while the replica keeps up; with the replica stalled the ticket is issued on
 * the primary but answered `unavailable` with `written: true` (the next number shows it was
 * issued); ok again once the replica is back. */
static void durable__replica_stalled__written_but_unavailable(void **state)
{
	(void)state;
	struct test_hall h;
	const char *args[] = {"--durable", "1", NULL};
	assert_int_equal(hall_start_on(&h, primary_addr(), args), 0);
	struct tc *kiosk = hall_kiosk(&h);
	assert_non_null(kiosk);
	int first = take_until_ok(kiosk, 1000);
	testnode_signal(&replica, SIGSTOP);
	expect_not_durable(kiosk);
	testnode_signal(&replica, SIGCONT);
	int next = take_until_ok(kiosk, 5000);
	assert_int_equal(next, first + 2);
	tc_close(kiosk);
	assert_int_equal(hall_stop(&h), 0);
}

/* --durable 2 with one replica: no write can be confirmed; reads are not affected. */
static void durable__more_than_the_replicas__never_ok(void **state)
{
	(void)state;
	struct test_hall h;
	const char *args[] = {"--durable", "2", NULL};
	assert_int_equal(hall_start_on(&h, primary_addr(), args), 0);
	struct tc *kiosk = hall_kiosk(&h);
	assert_non_null(kiosk);
	expect_not_durable(kiosk);
	cJSON *r = tc_request(kiosk, "{\"op\":\"services\"}");
	if (!tc_ok(r))
		fail_with("services (a read) under --durable 2", r);
	cJSON_Delete(r);
	tc_close(kiosk);
	assert_int_equal(hall_stop(&h), 0);
}

/* A primary that refuses writes for want of replicas (min-replicas-to-write) answers
 * `unavailable`, nothing written, rather than an internal error. */
static void noreplicas__write_refused__unavailable(void **state)
{
	(void)state;
	struct test_hall h;
	assert_int_equal(hall_start_on(&h, primary_addr(), NULL), 0);
	struct tc *kiosk = hall_kiosk(&h);
	assert_non_null(kiosk);
	redisContext *c = testnode_connect(&primary);
	assert_non_null(c);
	freeReplyObject(redisCommand(c, "CONFIG SET min-replicas-to-write 5"));
	cJSON *r = tc_request(kiosk, "{\"op\":\"take\",\"service\":\"A\"}");
	freeReplyObject(redisCommand(c, "CONFIG SET min-replicas-to-write 0"));
	redisFree(c);
	const char *code = tc_error_code(r);
	if (!code || strcmp(code, "unavailable") != 0 || cJSON_GetObjectItem(r, "written"))
		fail_with("take refused by min-replicas-to-write", r);
	assert_non_null(strstr(get_str(r, "error", "message"), "nothing was changed"));
	cJSON_Delete(r);
	tc_close(kiosk);
	assert_int_equal(hall_stop(&h), 0);
}

/* A Sentinel that names a replica (here one told to watch it as a primary): qserver checks
 * ROLE, does not use it, and says why in its log; requests answer `unavailable`. */
static void sentinel__names_a_replica__role_check_refuses_it(void **state)
{
	(void)state;
	struct testnode wrong;
	assert_int_equal(testnode_start_sentinel(&wrong, replica.port, 1, 60000), 0);
	char url[96], start[24];
	snprintf(url, sizeof url, "sentinel://127.0.0.1:%d/" TESTNODE_MASTER, wrong.port);
	snprintf(start, sizeof start, "%ld", HALL_T0);
	const char *args[] = {"--redis", url, "--clock-start", start, NULL};
	struct test_hall h = {0};
	h.server = ts_start(hall_data_path("small.json"), NULL, args);
	assert_non_null(h.server);
	h.port = ts_port(h.server);
	struct tc *pub = hall_public(&h);
	assert_non_null(pub);
	usleep(500 * 1000); /* several rounds of asking and checking */
	cJSON *r = tc_request(pub, "{\"op\":\"services\"}");
	const char *code = tc_error_code(r);
	if (!code || strcmp(code, "unavailable") != 0)
		fail_with("services while the Sentinel names a replica", r);
	cJSON_Delete(r);
	tc_close(pub);
	assert_int_equal(ts_stop(h.server), 0);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "grep -q 'says its role is slave, not master' %s", ts_log_path(h.server));
	if (system(cmd) != 0) {
		ts_print_log_tail(h.server, 20);
		fail_msg("qserver's log should say the server named is a replica");
	}
	ts_free(h.server);
	testnode_stop(&wrong);
}

/* A name no Sentinel knows: qserver runs, and requests that need Redis are `unavailable`. */
static void sentinel__unknown_name__requests_unavailable(void **state)
{
	(void)state;
	char start[24];
	snprintf(start, sizeof start, "%ld", HALL_T0);
	const char *args[] = {"--redis", sentinel_url(false, "nosuchmaster"), "--clock-start", start, NULL};
	struct test_hall h = {0};
	h.server = ts_start(hall_data_path("small.json"), NULL, args);
	assert_non_null(h.server);
	h.port = ts_port(h.server);
	struct tc *pub = hall_public(&h);
	assert_non_null(pub);
	cJSON *r = tc_request(pub, "{\"op\":\"services\"}");
	const char *code = tc_error_code(r);
	if (!code || strcmp(code, "unavailable") != 0)
		fail_with("services with no primary known", r);
	cJSON_Delete(r);
	tc_close(pub);
	assert_int_equal(ts_stop(h.server), 0);
	ts_free(h.server);
}

/* A malformed Sentinel address (a host name, no master name) stops qserver at start. */
static void sentinel__bad_address__refused_at_start(void **state)
{
	(void)state;
	const char *bad[] = {"sentinel://redis.example:26379/qhall", "sentinel://127.0.0.1:26379",
			     "sentinel://127.0.0.1:0/qhall", "sentinel:///qhall"};
	const char *build = getenv("QHALL_BUILD");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char cmd[1024];
		snprintf(cmd, sizeof cmd, "%s/qserver --config %s --listen 127.0.0.1:%d --redis '%s' 2>&1",
			 build && *build ? build : "build", hall_data_path("small.json"), ts_free_port(), bad[i]);
		FILE *p = popen(cmd, "r");
		assert_non_null(p);
		char out[4096] = "";
		size_t n = fread(out, 1, sizeof out - 1, p);
		out[n] = '\0';
		int status = pclose(p);
		if (!WIFEXITED(status) || WEXITSTATUS(status) == 0)
			fail_msg("qserver --redis %s should exit with an error; said: %s", bad[i], out);
		if (!strstr(out, "sentinel://"))
			fail_msg("qserver --redis %s should say what a Sentinel address looks like; said: %s", bad[i], out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sentinel__bad_address__refused_at_start),
		cmocka_unit_test(sentinel__first_one_down__the_next_names_the_primary),
		cmocka_unit_test(sentinel__unknown_name__requests_unavailable),
		cmocka_unit_test(durable__replica_stalled__written_but_unavailable),
		cmocka_unit_test(durable__more_than_the_replicas__never_ok),
		cmocka_unit_test(noreplicas__write_refused__unavailable),
		cmocka_unit_test(sentinel__names_a_replica__role_check_refuses_it),
		cmocka_unit_test(sentinel__failover__writes_go_on_at_the_new_primary),
	};
	return cmocka_run_group_tests_name("sentinel", tests, topology_start, topology_stop);
}
