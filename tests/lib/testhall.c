/* A test hall: redis-server plus qserver on the small test config. */
#include "testhall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Returns the path of the small hall config under $QHALL_ROOT. */
static const char *hall_config(void)
{
	static char path[512];
	const char *root = getenv("QHALL_ROOT");
	snprintf(path, sizeof path, "%s/tests/data/small.json", root ? root : ".");
	return path;
}

/* Starts Redis and qserver and waits until requests are served. */
int hall_start(struct test_hall *h, bool appendonly, const char *const *extra_args)
{
	memset(h, 0, sizeof *h);
	if (testredis_start(&h->redis, appendonly) < 0)
		return -1;
	/* The clock starts at HALL_T0 before Redis is set up, and again at every restart. */
	const char *args[32];
	char start[24];
	snprintf(start, sizeof start, "%ld", HALL_T0);
	int n = 0;
	args[n++] = "--clock-start";
	args[n++] = start;
	for (int i = 0; extra_args && extra_args[i] && n < 31; i++)
		args[n++] = extra_args[i];
	args[n] = NULL;
	h->server = ts_start(hall_config(), h->redis.socket, args);
	if (!h->server)
		return -1;
	h->port = ts_port(h->server);
	if (hall_wait_ready(h, 10000) < 0)
		return -1;
	return hall_set_clock(h, HALL_T0);
}

/* Waits until `services` answers ok. */
int hall_wait_ready(struct test_hall *h, int timeout_ms)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct tc *tc = tc_connect(h->port);
		if (tc) {
			cJSON *r = tc_request(tc, "{\"op\":\"services\"}");
			bool ok = tc_ok(r);
			cJSON_Delete(r);
			tc_close(tc);
			if (ok)
				return 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms > timeout_ms) {
			fprintf(stderr, "qserver did not become ready in %d ms\n", timeout_ms);
			ts_print_log_tail(h->server, 20);
			return -1;
		}
		usleep(20 * 1000);
	}
}

/* Moves qserver's test clock. */
int hall_set_clock(struct test_hall *h, long t)
{
	struct tc *tc = tc_connect(h->port);
	if (!tc)
		return -1;
	cJSON *r = tc_request(tc, "{\"op\":\"clock\",\"set\":%ld}", t);
	int rc = tc_ok(r) ? 0 : -1;
	cJSON_Delete(r);
	tc_close(tc);
	return rc;
}

/* Empties Redis and restarts qserver, so each test starts from a new hall. */
int hall_reset(struct test_hall *h)
{
	redisContext *rc = testredis_connect(&h->redis);
	if (!rc)
		return -1;
	redisReply *reply = redisCommand(rc, "FLUSHALL");
	freeReplyObject(reply);
	redisFree(rc);
	if (ts_restart(h->server) < 0 || hall_wait_ready(h, 10000) < 0)
		return -1;
	return hall_set_clock(h, HALL_T0);
}

/* Stops qserver and Redis. */
void hall_stop(struct test_hall *h)
{
	ts_free(h->server);
	h->server = NULL;
	testredis_stop(&h->redis);
}

/* Opens a connection and says hello with the given line; NULL when refused. */
static struct tc *hall_connect(struct test_hall *h, bool (*hello)(struct tc *))
{
	struct tc *tc = tc_connect(h->port);
	if (tc && hello && !hello(tc)) {
		tc_close(tc);
		return NULL;
	}
	return tc;
}

/* Says hello as the demo kiosk. */
static bool hello_kiosk(struct tc *tc)
{
	return tc_hello_kiosk(tc, "kiosk123");
}

/* Says hello as the demo manager. */
static bool hello_manager(struct tc *tc)
{
	return tc_hello_manager(tc, "m01", "manager123");
}

/* Says hello as the public. */
static bool hello_public(struct tc *tc)
{
	cJSON *r = tc_request(tc, "{\"op\":\"hello\",\"role\":\"public\"}");
	bool ok = tc_ok(r);
	cJSON_Delete(r);
	return ok;
}

struct tc *hall_kiosk(struct test_hall *h) { return hall_connect(h, hello_kiosk); }
struct tc *hall_manager(struct test_hall *h) { return hall_connect(h, hello_manager); }
struct tc *hall_public(struct test_hall *h) { return hall_connect(h, hello_public); }

/* Opens a clerk's connection at a window. */
struct tc *hall_clerk(struct test_hall *h, const char *user, int window)
{
	struct tc *tc = tc_connect(h->port);
	if (tc && !tc_hello_clerk(tc, user, "clerk123", window)) {
		tc_close(tc);
		return NULL;
	}
	return tc;
}

/* Takes a ticket; returns its number. */
const char *hall_take(struct tc *kiosk, const char *service, const char *cls, char *buf, size_t len)
{
	cJSON *r = tc_request(kiosk, "{\"op\":\"take\",\"service\":\"%s\",\"class\":\"%s\"}", service, cls ? cls : "normal");
	const char *number = get_str(r, "ticket", "number");
	if (!number) {
		cJSON_Delete(r);
		return NULL;
	}
	snprintf(buf, len, "%s", number);
	cJSON_Delete(r);
	return buf;
}

/* Reads o.a.b as a string. */
const char *get_str(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = o ? cJSON_GetObjectItemCaseSensitive(o, a) : NULL;
	if (x && b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* Reads o.a.b as a number. */
double get_num(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = o ? cJSON_GetObjectItemCaseSensitive(o, a) : NULL;
	if (x && b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_IsNumber(x) ? x->valuedouble : -1;
}
