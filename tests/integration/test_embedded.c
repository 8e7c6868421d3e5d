/* qserver's own Redis (no --redis): an AOF torn in the middle of a transaction is cut back
 * to its last whole transaction before Redis loads it, at start and when the child dies
 * under a running qserver; a child killed with SIGKILL is back in service as soon as it
 * answers, without qserver ever stalling; an AOF last rewritten on an earlier day is
 * rewritten at start; and the event stream is kept in 16 kB nodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "testhall.h"

#define READY_AFTER_CHILD_MS 1000 /* a take succeeds this soon after the new Redis answers */
#define PING_MAX_MS 500		  /* qserver answers ping this fast while its Redis restarts */

/* Fails with the printed response. */
static void fail_with(const char *what, const cJSON *r)
{
	char *text = r ? cJSON_PrintUnformatted(r) : NULL;
	fail_msg("%s: got %s", what, text ? text : "no response");
}

/* Reads a whole file into a new NUL-terminated buffer; *len gets its size. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return buf;
}

/* The path of the AOF file of a type ('b' base, 'i' the last incremental) named in Redis's
 * manifest, in buf. */
static const char *aof_path(const struct test_hall *h, char type, char *buf, size_t len)
{
	char manifest[256];
	snprintf(manifest, sizeof manifest, "%s/appendonlydir/appendonly.aof.manifest", h->redis.dir);
	size_t size;
	char *text = read_file(manifest, &size);
	char name[128], kind[8];
	bool found = false;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (sscanf(line, "file %127s seq %*d type %7s", name, kind) == 2 && kind[0] == type) {
			snprintf(buf, len, "%s/appendonlydir/%s", h->redis.dir, name);
			found = true;
		}
	free(text);
	assert_true(found);
	return buf;
}

/* Cuts the last incremental AOF file in the middle of its last transaction, as a power cut
 * during Redis's write leaves it: a MULTI block without its EXEC, its last command torn. */
static void tear_last_transaction(const struct test_hall *h)
{
	char path[256];
	aof_path(h, 'i', path, sizeof path);
	size_t len;
	char *text = read_file(path, &len);
	const char *multi = NULL;
	for (const char *p = text; (p = strstr(p, "MULTI\r\n")) != NULL; p++)
		multi = p;
	assert_non_null(multi);
	assert_non_null(strstr(multi, "EXEC\r\n")); /* the last transaction is whole before */
	size_t start = (size_t)(multi - text);
	size_t cut = start + (len - start) / 2;
	/* Cut inside a command (not just before one), so Redis's own loader would keep a half. */
	while (cut > start && text[cut - 1] == '\n')
		cut--;
	free(text);
	assert_int_equal(truncate(path, (off_t)cut), 0);
}

/* The pid of the embedded redis-server, asked of the server itself. */
static pid_t embedded_redis_pid(const struct test_hall *h)
{
	redisContext *rc = testredis_connect(&h->redis);
	assert_non_null(rc);
	redisReply *reply = redisCommand(rc, "INFO server");
	assert_non_null(reply);
	const char *at = reply->type == REDIS_REPLY_STRING ? strstr(reply->str, "process_id:") : NULL;
	assert_non_null(at);
	pid_t pid = (pid_t)atoi(at + strlen("process_id:"));
	freeReplyObject(reply);
	redisFree(rc);
	return pid;
}

/* Whether the embedded Redis answers PING with PONG (up and done loading). */
static bool embedded_redis_pongs(const struct test_hall *h)
{
	redisContext *rc = testredis_connect(&h->redis);
	if (!rc)
		return false;
	redisReply *reply = redisCommand(rc, "PING");
	bool ok = reply && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0;
	freeReplyObject(reply);
	redisFree(rc);
	return ok;
}

/* Asserts that qserver answers ping within PING_MAX_MS. */
static void expect_ping_fast(struct tc *tc)
{
	long long t0 = hall_now_ms();
	cJSON *r = tc_request(tc, "{\"op\":\"ping\"}");
	if (!tc_ok(r))
		fail_with("ping while the embedded Redis restarts", r);
	cJSON_Delete(r);
	long long ms = hall_now_ms() - t0;
	if (ms > PING_MAX_MS)
		fail_msg("ping took %lld ms while the embedded Redis restarted (at most %d)", ms, PING_MAX_MS);
}

/* Takes a ticket of service A, retrying while qserver answers `unavailable`, and returns its
 * number in buf; fails when none is issued within timeout_ms. */
static void take_within(struct tc *kiosk, int timeout_ms, char *buf, size_t len)
{
	long long deadline = hall_now_ms() + timeout_ms;
	for (;;) {
		cJSON *r = tc_request(kiosk, "{\"op\":\"take\",\"service\":\"A\"}");
		if (tc_ok(r)) {
			snprintf(buf, len, "%s", get_str(r, "ticket", "number"));
			cJSON_Delete(r);
			return;
		}
		const char *code = tc_error_code(r);
		if (!code || strcmp(code, "unavailable") != 0)
			fail_with("take after the embedded Redis came back", r);
		cJSON_Delete(r);
		if (hall_now_ms() > deadline)
			fail_msg("no take succeeded within %d ms", timeout_ms);
		usleep(20 * 1000);
	}
}

/* Asserts that tickets A001..A<n> wait and that the next take is A<n+1>. */
static void expect_tickets_then_next(struct test_hall *h, int n)
{
	struct tc *kiosk = hall_kiosk(h);
	assert_non_null(kiosk);
	for (int i = 1; i <= n; i++) {
		cJSON *r = tc_request(kiosk, "{\"op\":\"ticket\",\"number\":\"A%03d\"}", i);
		if (!tc_ok(r))
			fail_with("an acknowledged ticket", r);
		assert_string_equal(get_str(r, "ticket", "state"), "waiting");
		cJSON_Delete(r);
	}
	char number[16], want[16];
	take_within(kiosk, 10000, number, sizeof number);
	snprintf(want, sizeof want, "A%03d", n + 1);
	assert_string_equal(number, want);
	tc_close(kiosk);
}

/* Counts the lines of the embedded Redis's log holding needle. */
static int redis_log_count(const struct test_hall *h, const char *needle)
{
	char path[256];
	snprintf(path, sizeof path, "%s/redis.log", h->redis.dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* Waits until the embedded Redis no longer accepts connections (it stopped or died). */
static void wait_redis_gone(const struct test_hall *h)
{
	long long deadline = hall_now_ms() + 10000;
	while (hall_unix_socket_answers(h->redis.socket)) {
		if (hall_now_ms() > deadline)
			fail_msg("the embedded redis-server still answers after 10 s");
		usleep(20 * 1000);
	}
}

/* Starts a hall with its embedded Redis and takes tickets A001..A<n> there. */
static void start_with_tickets(struct test_hall *e, int n)
{
	assert_int_equal(hall_start_embedded(e, NULL), 0);
	struct tc *kiosk = hall_kiosk(e);
	assert_non_null(kiosk);
	char number[16], want[16];
	for (int i = 1; i <= n; i++) {
		assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
		snprintf(want, sizeof want, "A%03d", i);
		assert_string_equal(number, want);
	}
	tc_close(kiosk);
}

/* Starts the hall's stopped qserver again and waits until it serves, clock at HALL_T0. */
static void restart_ready(struct test_hall *e)
{
	assert_int_equal(ts_restart(e->server), 0);
	assert_int_equal(hall_wait_ready(e, 10000), 0);
	assert_int_equal(hall_set_clock(e, HALL_T0), 0);
}

/* ------------------------------------------------------------------------------------ */

/* A power cut tears the AOF in the middle of the transaction of a take, twice: once while
 * qserver is down (found at its start), once under a running qserver (found when its Redis
 * dies). Each time the torn take is gone entirely, every earlier ticket is kept, its number
 * is issued again, and Redis never replays half a transaction into the next one. */
static void embedded__aof_torn_mid_transaction__cut_back_before_redis_loads_it(void **state)
{
	(void)state;
	struct test_hall e;
	start_with_tickets(&e, 4);

	/* qserver dies (its Redis stops by itself), then the last write turns out torn. */
	assert_int_equal(ts_kill(e.server), 0);
	wait_redis_gone(&e);
	tear_last_transaction(&e);
	restart_ready(&e);
	expect_tickets_then_next(&e, 3); /* A004 was torn: issued again */

	/* Its Redis dies under a running qserver (held still meanwhile) with a torn write. */
	struct tc *kiosk = hall_kiosk(&e);
	char number[16];
	assert_non_null(kiosk);
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
	assert_string_equal(number, "A005");
	pid_t redis = embedded_redis_pid(&e);
	assert_int_equal(kill(ts_pid(e.server), SIGSTOP), 0);
	assert_int_equal(kill(redis, SIGKILL), 0);
	wait_redis_gone(&e);
	tear_last_transaction(&e);
	assert_int_equal(kill(ts_pid(e.server), SIGCONT), 0);
	take_within(kiosk, 10000, number, sizeof number);
	assert_string_equal(number, "A005"); /* the torn A005 is gone, its number free again */
	tc_close(kiosk);

	/* Started once more on that AOF, Redis replays it cleanly and everything is there. */
	assert_int_equal(ts_kill(e.server), 0);
	wait_redis_gone(&e);
	restart_ready(&e);
	expect_tickets_then_next(&e, 5);
	assert_int_equal(redis_log_count(&e, "MULTI calls can not be nested"), 0);
	assert_int_equal(hall_stop(&e), 0);
}

/* Damage in the middle of the AOF is not a torn write: cutting there would drop every later
 * transaction. qserver leaves the file as it is and says where it is damaged; Redis then
 * refuses to load it, and nothing is served. */
static void embedded__aof_damaged_mid_file__left_whole_and_named(void **state)
{
	(void)state;
	struct test_hall e;
	start_with_tickets(&e, 3);
	assert_int_equal(ts_kill(e.server), 0);
	wait_redis_gone(&e);
	char path[256];
	aof_path(&e, 'i', path, sizeof path);
	size_t len;
	char *text = read_file(path, &len);
	char *first = strstr(text, "*1\r\n$5\r\nMULTI\r\n");
	assert_non_null(first);
	*first = 'X'; /* the first transaction's MULTI loses its array header */
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	free(text);

	/* Redis may die before or after its socket answers: qserver then stops at once, or stays
	 * up answering `unavailable` while it tries again. */
	if (ts_restart(e.server) == 0) {
		struct tc *kiosk = hall_kiosk(&e);
		assert_non_null(kiosk);
		cJSON *r = tc_request(kiosk, "{\"op\":\"take\",\"service\":\"A\"}");
		assert_string_equal(tc_error_code(r), "unavailable");
		cJSON_Delete(r);
		tc_close(kiosk);
		assert_int_equal(ts_stop(e.server), 0);
	}
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((size_t)st.st_size, len); /* nothing cut */
	assert_true(hall_log_count(&e, "is damaged at byte") >= 1);
	ts_free(e.server);
	testredis_stop(&e.redis);
}

/* The embedded Redis is killed with SIGKILL three times in a row. qserver answers ping
 * at once throughout (it never sleeps while its Redis restarts), and each time a take
 * succeeds right after the new Redis answers, without waiting out a reconnect backoff. */
static void embedded__redis_killed__served_again_as_soon_as_it_answers(void **state)
{
	(void)state;
	struct test_hall e;
	assert_int_equal(hall_start_embedded(&e, NULL), 0);
	struct tc *kiosk = hall_kiosk(&e);
	struct tc *pub = hall_public(&e);
	assert_non_null(kiosk);
	assert_non_null(pub);
	char number[16], want[16];
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
	for (int round = 0; round < 3; round++) {
		pid_t old = embedded_redis_pid(&e);
		assert_int_equal(kill(old, SIGKILL), 0);
		/* Until a new Redis answers, qserver itself stays responsive. */
		long long deadline = hall_now_ms() + 10000;
		while (!(embedded_redis_pongs(&e) && embedded_redis_pid(&e) != old)) {
			if (hall_now_ms() > deadline)
				fail_msg("the embedded Redis did not come back within 10 s");
			expect_ping_fast(pub);
			usleep(20 * 1000);
		}
		take_within(kiosk, READY_AFTER_CHILD_MS, number, sizeof number);
		snprintf(want, sizeof want, "A%03d", round + 2);
		assert_string_equal(number, want);
	}
	tc_close(kiosk);
	tc_close(pub);
	assert_int_equal(hall_stop(&e), 0);
}

/* A hall PC switched off at night: the AOF was last rewritten on an earlier day. qserver
 * rewrites it as it starts (Redis's manifest names a new base), and every ticket is kept.
 * Started again the same day, it leaves the AOF alone. */
static void embedded__aof_last_rewritten_yesterday__rewritten_at_start(void **state)
{
	(void)state;
	struct test_hall e;
	start_with_tickets(&e, 3);
	assert_int_equal(ts_stop(e.server), 0);

	/* The base file dates the last rewrite: make it yesterday's. */
	char base[256], now_base[256];
	aof_path(&e, 'b', base, sizeof base);
	struct timeval yesterday[2] = {{time(NULL) - 86400, 0}, {time(NULL) - 86400, 0}};
	assert_int_equal(utimes(base, yesterday), 0);
	restart_ready(&e);
	long long deadline = hall_now_ms() + 10000;
	while (strcmp(aof_path(&e, 'b', now_base, sizeof now_base), base) == 0) {
		if (hall_now_ms() > deadline)
			fail_msg("the AOF last rewritten yesterday was not rewritten within 10 s of the start");
		usleep(50 * 1000);
	}
	expect_tickets_then_next(&e, 3);

	/* Started again today: the new base stays (a tick has passed when the take is ok). */
	restart_ready(&e);
	usleep(2500 * 1000); /* two ticks of qserver's clock: time for a wrong rewrite to show */
	expect_tickets_then_next(&e, 4);
	assert_string_equal(aof_path(&e, 'b', base, sizeof base), now_base);
	assert_int_equal(hall_stop(&e), 0);
}

/* Fails unless the embedded Redis of a hall runs with a setting of that value. */
static void assert_embedded_redis_config(const char *name, const char *value)
{
	struct test_hall e;
	assert_int_equal(hall_start_embedded(&e, NULL), 0);
	redisContext *rc = testredis_connect(&e.redis);
	assert_non_null(rc);
	redisReply *reply = redisCommand(rc, "CONFIG GET %s", name);
	assert_non_null(reply);
	assert_int_equal(reply->type, REDIS_REPLY_ARRAY);
	assert_int_equal(reply->elements, 2);
	assert_string_equal(reply->element[1]->str, value);
	freeReplyObject(reply);
	redisFree(rc);
	assert_int_equal(hall_stop(&e), 0);
}

/* The embedded Redis keeps the event stream, the audit trail of the retention period, in
 * nodes of up to 16 kB (Redis's default is 4 kB). */
static void embedded__event_stream__nodes_of_16_kb(void **state)
{
	(void)state;
	assert_embedded_redis_config("stream-node-max-bytes", "16384");
}

/* The embedded Redis keeps hash values of up to 128 bytes in a listpack (Redis's default is
 * 64), so a bucket of settled tickets with phone refs and notify marks stays one. */
static void embedded__hash_values_of_128_bytes__kept_in_a_listpack(void **state)
{
	(void)state;
	assert_embedded_redis_config("hash-max-listpack-value", "128");
}

/* ------------------------------------------------------------------------------------ */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(embedded__aof_torn_mid_transaction__cut_back_before_redis_loads_it),
		cmocka_unit_test(embedded__aof_damaged_mid_file__left_whole_and_named),
		cmocka_unit_test(embedded__redis_killed__served_again_as_soon_as_it_answers),
		cmocka_unit_test(embedded__aof_last_rewritten_yesterday__rewritten_at_start),
		cmocka_unit_test(embedded__event_stream__nodes_of_16_kb),
		cmocka_unit_test(embedded__hash_values_of_128_bytes__kept_in_a_listpack),
	};
	return cmocka_run_group_tests_name("embedded", tests, NULL, NULL);
}
