/* The Redis Function library qserver/functions.lua against a real private redis-server:
 * each test drives the functions as qserver would and checks what a user would see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>

#include <cJSON.h>
#include <hiredis.h>

#include "qserver.h"
#include "testredis.h"

#define PREFIX "q:{t}"
#define DAY1 "2026-11-28"
#define DAY2 "2026-11-29"
#define T0 1795830000L
#define MAX_ARGS 32
#define MAX_KEPT 512

/* Window 1 is comprehensive, 2 serves B, 3 serves A and C. */
static const char *hall =
	"{\"site\":{\"id\":\"t\",\"sla\":900,\"retention_days\":90},"
	"\"services\":["
	"{\"id\":\"A\",\"prefix\":\"A\",\"name\":\"社会保障\",\"name_en\":\"Social security\",\"service_time\":300},"
	"{\"id\":\"B\",\"prefix\":\"B\",\"name\":\"户籍\",\"name_en\":\"Household\",\"service_time\":120},"
	"{\"id\":\"C\",\"prefix\":\"C\",\"name\":\"税务\",\"name_en\":\"Tax\",\"service_time\":200}],"
	"\"windows\":["
	"{\"id\":1,\"name\":\"1号窗口\",\"name_en\":\"Window 1\",\"services\":[\"*\"]},"
	"{\"id\":2,\"name\":\"2号窗口\",\"name_en\":\"Window 2\",\"services\":[\"B\"]},"
	"{\"id\":3,\"name\":\"3号窗口\",\"name_en\":\"Window 3\",\"services\":[\"A\",\"C\"]}]}";

/* The same services with specialised windows only. */
static const char *hall_specialised =
	"{\"site\":{\"id\":\"t\"},"
	"\"services\":["
	"{\"id\":\"A\",\"prefix\":\"A\",\"name\":\"a\",\"name_en\":\"A\",\"service_time\":300},"
	"{\"id\":\"B\",\"prefix\":\"B\",\"name\":\"b\",\"name_en\":\"B\",\"service_time\":120},"
	"{\"id\":\"C\",\"prefix\":\"C\",\"name\":\"c\",\"name_en\":\"C\",\"service_time\":200}],"
	"\"windows\":["
	"{\"id\":2,\"name\":\"2\",\"name_en\":\"2\",\"services\":[\"B\"]},"
	"{\"id\":3,\"name\":\"3\",\"name_en\":\"3\",\"services\":[\"A\",\"C\"]}]}";

/* Two services and windows with opening hours in Beijing time (Saturday 09:00-16:00). */
static const char *hall_hours =
	"{\"site\":{\"id\":\"t\",\"sla\":900,\"utc_offsets\":[[0,28800]],"
	"\"hours\":[null,[540,1200],[540,1200],[540,1200],[540,1200],[540,1200],[540,960]]},"
	"\"services\":["
	"{\"id\":\"A\",\"prefix\":\"A\",\"name\":\"a\",\"name_en\":\"A\",\"service_time\":300},"
	"{\"id\":\"B\",\"prefix\":\"B\",\"name\":\"b\",\"name_en\":\"B\",\"service_time\":120}],"
	"\"windows\":["
	"{\"id\":1,\"name\":\"1\",\"name_en\":\"1\",\"services\":[\"*\"]},"
	"{\"id\":2,\"name\":\"2\",\"name_en\":\"2\",\"services\":[\"B\"]}]}";

/* The windows of `hall` as qserver's config has them: events get their names from it. */
static char *window2_services[] = {"B"};
static char *window3_services[] = {"A", "C"};
static struct config_window hall_windows[] = {
	{1, "1号窗口", "Window 1", 1, NULL, 0},
	{2, "2号窗口", "Window 2", 0, window2_services, 1},
	{3, "3号窗口", "Window 3", 0, window3_services, 2},
};
/* The services of `hall` as qserver's config has them: service lists get their names from it. */
static struct config_service hall_services[] = {
	{"A", "A", "社会保障", "Social security", 300, {0}, NULL, 0},
	{"B", "B", "户籍", "Household", 120, {0}, NULL, 0},
	{"C", "C", "税务", "Tax", 200, {0}, NULL, 0},
};
static struct config hall_config = {
	.services = hall_services, .nservices = 3, .windows = hall_windows, .nwindows = 3};

static struct testredis tr;
static redisContext *c;
static long now;		 /* ARGV[1] of every call */
static const char *day;		 /* ARGV[2] */
static const char *deadline;	 /* ARGV[3] */
static cJSON *kept[MAX_KEPT];	 /* parsed results, freed after each test */
static size_t nkept;
static char errbuf[512];	 /* the last error reply */
static char *library;		 /* the text of functions.lua */

/* ------------------------------------------------------------------------------------ */
/* Calling the functions */

/* Sends FCALL fn 1 PREFIX now day deadline args... (args end with NULL). */
static redisReply *
vfcall(const char *fn, va_list ap)
{
	const char *argv[MAX_ARGS];
	char nowbuf[32];
	const char *a;
	int n = 0;
	redisReply *r;

	snprintf(nowbuf, sizeof nowbuf, "%ld", now);
	argv[n++] = "FCALL";
	argv[n++] = fn;
	argv[n++] = "1";
	argv[n++] = PREFIX;
	argv[n++] = nowbuf;
	argv[n++] = day;
	argv[n++] = deadline;
	while ((a = va_arg(ap, const char *)) != NULL) {
		assert_true(n < MAX_ARGS);
		argv[n++] = a;
	}
	r = redisCommandArgv(c, n, argv, NULL);
	assert_non_null(r);
	return r;
}

/* Calls a function and returns its raw reply (args end with NULL); the caller frees it. */
static redisReply *
fcall_list(const char *fn, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fn);
	r = vfcall(fn, ap);
	va_end(ap);
	return r;
}

/* Keeps a parsed result until the test ends. */
static cJSON *
keep(cJSON *j)
{
	assert_true(nkept < MAX_KEPT);
	kept[nkept++] = j;
	return j;
}

/* Calls a function that must succeed; returns its parsed JSON result. */
static cJSON *
ok(const char *fn, ...)
{
	va_list ap;
	redisReply *r;
	cJSON *j;

	va_start(ap, fn);
	r = vfcall(fn, ap);
	va_end(ap);
	if (r->type != REDIS_REPLY_STRING) {
		snprintf(errbuf, sizeof errbuf, "%s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
		freeReplyObject(r);
		fail_msg("%s failed: %s", fn, errbuf);
	}
	/* the result as qserver answers it, made whole from its compact form */
	char *whole = eventbuild_result(&hall_config, r->str, r->len);
	j = whole != NULL ? cJSON_Parse(whole) : NULL;
	free(whole);
	if (j == NULL) {
		snprintf(errbuf, sizeof errbuf, "%s", r->str);
		freeReplyObject(r);
		fail_msg("%s returned bad JSON: %s", fn, errbuf);
	}
	freeReplyObject(r);
	return keep(j);
}

/* Calls a function that must fail; returns its error text ("CODE field message"). */
static const char *
err(const char *fn, ...)
{
	va_list ap;
	redisReply *r;
	int type;

	va_start(ap, fn);
	r = vfcall(fn, ap);
	va_end(ap);
	type = r->type;
	snprintf(errbuf, sizeof errbuf, "%s", r->str != NULL ? r->str : "");
	freeReplyObject(r);
	if (type != REDIS_REPLY_ERROR)
		fail_msg("%s succeeded but should fail: %s", fn, errbuf);
	return errbuf;
}

/* Calls a function that must succeed; returns its result text as qserver answers it (until
 * the next call). */
static const char *
raw(const char *fn, ...)
{
	static char buf[8192];
	va_list ap;
	redisReply *r;
	int type;

	va_start(ap, fn);
	r = vfcall(fn, ap);
	va_end(ap);
	type = r->type;
	snprintf(buf, sizeof buf, "%s", r->str != NULL ? r->str : "");
	if (type == REDIS_REPLY_STRING) {
		char *whole = eventbuild_result(&hall_config, r->str, r->len);

		snprintf(buf, sizeof buf, "%s", whole != NULL ? whole : "(malformed)");
		free(whole);
	}
	freeReplyObject(r);
	if (type != REDIS_REPLY_STRING)
		fail_msg("%s failed: %s", fn, buf);
	return buf;
}

#define OK(...) ok(__VA_ARGS__, NULL)
#define ERR(...) err(__VA_ARGS__, NULL)

/* Asserts that an error reply starts with "CODE field ". */
static void
assert_error(const char *got, const char *code_field)
{
	if (strncmp(got, code_field, strlen(code_field)) != 0 || got[strlen(code_field)] != ' ')
		fail_msg("expected \"%s ...\", got \"%s\"", code_field, got);
}

/* Runs a raw Redis command (printf-style) and returns the reply; the caller frees it. */
static redisReply *
cmd(const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	assert_non_null(r);
	return r;
}

/* ------------------------------------------------------------------------------------ */
/* Reading JSON */

/* A field that must exist. */
static cJSON *
get(const cJSON *o, const char *key)
{
	cJSON *v;

	assert_non_null(o);
	v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (v == NULL)
		fail_msg("no field \"%s\"", key);
	return v;
}

/* A string field, or NULL when it is null. */
static const char *
str(const cJSON *o, const char *key)
{
	cJSON *v = get(o, key);

	if (cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsString(v))
		fail_msg("field \"%s\" is not a string", key);
	return v->valuestring;
}

/* An integer field. */
static long
num(const cJSON *o, const char *key)
{
	cJSON *v = get(o, key);

	if (!cJSON_IsNumber(v))
		fail_msg("field \"%s\" is not a number", key);
	return (long)v->valuedouble;
}

/* True when the field is null. */
static bool
is_null(const cJSON *o, const char *key)
{
	return cJSON_IsNull(get(o, key));
}

/* The element of an array whose "id" (string or number) matches. */
static cJSON *
find_id(const cJSON *arr, const char *id)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, arr) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, "id");
		char buf[32];

		if (cJSON_IsNumber(v)) {
			snprintf(buf, sizeof buf, "%d", v->valueint);
			if (strcmp(buf, id) == 0)
				return (cJSON *)item;
		} else if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0) {
			return (cJSON *)item;
		}
	}
	fail_msg("no element with id %s", id);
	return NULL;
}

/* The element of an array whose "key" matches (stats rows). */
static cJSON *
find_id_key(const cJSON *arr, const char *key)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, arr) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, "key");

		if (cJSON_IsString(v) && strcmp(v->valuestring, key) == 0)
			return (cJSON *)item;
	}
	fail_msg("no row with key %s", key);
	return NULL;
}

/* The row of one key (a service, window or clerk id) of qh_stats over DAY1 by `by`. */
static cJSON *
day1_stats_row(const char *by, const char *key)
{
	return find_id_key(get(OK("qh_stats", DAY1, DAY1, by, "", ""), "rows"), key);
}

/* ------------------------------------------------------------------------------------ */
/* Shortcuts for the common steps */

/* Takes a ticket; returns the Ticket object. */
static cJSON *
take(const char *service, const char *class)
{
	return get(OK("qh_take", service, class, "", ""), "ticket");
}

/* A clerk opens a window with a lease of a minute. */
static cJSON *
open_window(const char *window, const char *clerk)
{
	char holder[64], lease[32];

	snprintf(holder, sizeof holder, "qs1/%s", clerk);
	snprintf(lease, sizeof lease, "%ld", now + 60);
	return get(OK("qh_open", window, clerk, holder, lease), "window");
}

/* The window calls its next ticket; returns the Ticket object or a JSON null. */
static cJSON *
call_next(const char *window)
{
	return get(OK("qh_call_next", window, ""), "ticket");
}

/* Looks a ticket up by id. */
static cJSON *
ticket_by_id(const char *id)
{
	return get(OK("qh_ticket", id, ""), "ticket");
}

/* The end of DAY1 (UTC: the hall gives no zone). */
#define DAY1_END 1795910400L

/* The end of DAY1 + 90 days' retention + 1 day: when a bucket of DAY1's settled tickets
 * expires. */
#define PACKED_UNTIL (DAY1_END + 91 * 86400L)

/* Seconds a settled ticket's bucket (P:tp:<id but its last two characters>) has to live. */
static long long
bucket_ttl(const char *id)
{
	char bucket[64];
	redisReply *r;
	long long ttl;

	snprintf(bucket, sizeof bucket, "%.*s", (int)strlen(id) - 2, id);
	r = cmd("TTL %s:tp:%s", PREFIX, bucket);
	ttl = r->integer;

	freeReplyObject(r);
	return ttl;
}

/* 1 when the key <prefix>:<kind>:<id> exists. */
static long long
key_exists(const char *kind, const char *id)
{
	redisReply *r = cmd("EXISTS %s:%s:%s", PREFIX, kind, id);
	long long n = r->integer;

	freeReplyObject(r);
	return n;
}

/* A service's learnt service time as stored (seconds, 3 decimals). */
static double
learnt(const char *service)
{
	redisReply *r = cmd("HGET %s:ewma %s", PREFIX, service);
	double v = r->type == REDIS_REPLY_STRING ? atof(r->str) : -1;

	freeReplyObject(r);
	return v;
}

/* A service object from qh_services. */
static cJSON *
service_now(const char *id)
{
	return find_id(get(OK("qh_services"), "services"), id);
}

/* A window object from qh_snapshot. */
static cJSON *
window_now(const char *id)
{
	return find_id(get(OK("qh_snapshot"), "windows"), id);
}

/* The numbers of qh_queue's tickets joined by spaces, e.g. "B001 A001". */
static const char *
queue_numbers(const char *window, const char *service, const char *limit)
{
	static char buf[512];
	const cJSON *item;

	buf[0] = '\0';
	cJSON_ArrayForEach(item, get(OK("qh_queue", window, service, limit), "tickets")) {
		if (buf[0] != '\0')
			strcat(buf, " ");
		strcat(buf, str(item, "number"));
	}
	return buf;
}

/* Adds one event, as qserver makes it, to the array arg as {"type":..., "data":{...}}. */
static void
add_event(const char *json, size_t len, void *arg)
{
	cJSON *ev = cJSON_ParseWithLength(json, len);
	cJSON *e = cJSON_CreateObject();

	assert_non_null(ev);
	cJSON_AddStringToObject(e, "type", str(ev, "event"));
	cJSON_AddItemToObject(e, "data", ev);
	cJSON_AddItemToArray(arg, e);
}

/* Reads the whole event stream as qserver delivers it: an array of {"type":..., "data":{...}},
 * kept for the test. Each stream entry holds the compact events of one function call. */
static cJSON *
stream_events(void)
{
	redisReply *r = cmd("XRANGE %s - +", PREFIX ":events");
	cJSON *arr = keep(cJSON_CreateArray());
	/* the learnt times entries record, which later entries name (read in order, as qserver's
	 * live path reads them) */
	struct joined_store *store = joined_store_new();
	char missing[STREAM_ID_TEXT_MAX];

	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	for (size_t i = 0; i < r->elements; i++) {
		redisReply *fields = r->element[i]->element[1];

		assert_int_equal(fields->elements, 2);
		assert_string_equal(fields->element[0]->str, "data");
		assert_true(eventbuild_entry(&hall_config, store, r->element[i]->element[0]->str, fields->element[1]->str,
					     fields->element[1]->len, add_event, arr, missing) >= 0);
	}
	joined_store_free(store);
	freeReplyObject(r);
	return arr;
}

/* The event types of the stream from entry `from` on, joined by spaces. */
static const char *
stream_types(int from)
{
	static char buf[1024];
	cJSON *events = stream_events();
	int n = cJSON_GetArraySize(events);

	buf[0] = '\0';
	for (int i = from; i < n; i++) {
		if (buf[0] != '\0')
			strcat(buf, " ");
		strcat(buf, str(cJSON_GetArrayItem(events, i), "type"));
	}
	return buf;
}

/* The whole event stream with every entry built alone, as a qserver that starts at it (or an
 * SSE resume from it) builds it: the entries it names read from the stream when it names them.
 * The same array as stream_events() when naming works. */
static cJSON *
stream_events_alone(void)
{
	redisReply *r = cmd("XRANGE %s - +", PREFIX ":events");
	cJSON *arr = keep(cJSON_CreateArray());

	for (size_t i = 0; i < r->elements; i++) {
		struct joined_store *store = joined_store_new();
		char missing[STREAM_ID_TEXT_MAX];
		const char *id = r->element[i]->element[0]->str;
		redisReply *data = r->element[i]->element[1]->element[1];
		int n, reads = 0;

		while ((n = eventbuild_entry(&hall_config, store, id, data->str, data->len, add_event, arr, missing)) ==
		       EVENTBUILD_MISSING) {
			redisReply *named = cmd("XRANGE %s %s %s", PREFIX ":events", missing, missing);

			assert_int_equal(named->elements, 1);
			assert_true(++reads < 4);
			eventbuild_learn(store, missing, named->element[0]->element[1]->element[1]->str,
					 named->element[0]->element[1]->element[1]->len);
			freeReplyObject(named);
		}
		assert_true(n >= 0);
		joined_store_free(store);
	}
	freeReplyObject(r);
	return arr;
}

/* Fails unless every entry read alone gives the events the stream read in order gives. */
static void
assert_read_alone_as_in_order(void)
{
	char *in_order = cJSON_PrintUnformatted(stream_events()), *alone = cJSON_PrintUnformatted(stream_events_alone());

	assert_string_equal(in_order, alone);
	free(in_order);
	free(alone);
}

/* The data of the stream's last entry (kept for the test) and its id in `id`. */
static const char *
last_entry(char id[STREAM_ID_TEXT_MAX])
{
	redisReply *r = cmd("XREVRANGE %s + - COUNT 1", PREFIX ":events");
	static char data[4096];

	assert_int_equal(r->elements, 1);
	snprintf(id, STREAM_ID_TEXT_MAX, "%s", r->element[0]->element[0]->str);
	snprintf(data, sizeof data, "%s", r->element[0]->element[1]->element[1]->str);
	freeReplyObject(r);
	return data;
}

/* Number of events in the event stream. */
static int
stream_len(void)
{
	return cJSON_GetArraySize(stream_events());
}

/* ------------------------------------------------------------------------------------ */
/* Fixtures */

/* Reads functions.lua from $QHALL_ROOT (default "."). */
static char *
read_library(void)
{
	const char *root = getenv("QHALL_ROOT");
	char path[4096];
	FILE *f;
	long len;
	char *text;

	snprintf(path, sizeof path, "%s/qserver/functions.lua", root != NULL ? root : ".");
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s (set QHALL_ROOT to the repo root)\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = malloc((size_t)len + 1);
	if (text == NULL || fread(text, 1, (size_t)len, f) != (size_t)len) {
		free(text);
		fclose(f);
		return NULL;
	}
	text[len] = '\0';
	fclose(f);
	return text;
}

/* Loads the library into the server of `rc`; returns 0 or -1. */
static int
load_library(redisContext *rc)
{
	redisReply *r = redisCommand(rc, "FUNCTION LOAD REPLACE %s", library);
	int rv = (r != NULL && r->type == REDIS_REPLY_STRING && strcmp(r->str, "qhall") == 0) ? 0 : -1;

	if (rv == -1)
		fprintf(stderr, "FUNCTION LOAD: %s\n", r != NULL && r->str != NULL ? r->str : "no reply");
	if (r != NULL)
		freeReplyObject(r);
	return rv;
}

/* One server and library for the whole group. */
static int
group_setup(void **state)
{
	(void)state;
	library = read_library();
	if (library == NULL)
		return -1;
	if (testredis_start(&tr, false) == -1)
		return -1;
	c = testredis_connect(&tr);
	if (c == NULL || load_library(c) == -1)
		return -1;
	return 0;
}

/* Stops the server. */
static int
group_teardown(void **state)
{
	(void)state;
	if (c != NULL)
		redisFree(c);
	testredis_stop(&tr);
	free(library);
	return 0;
}

/* An empty site set up with `hall` on day 1, in a Redis of the default listpack limit. */
static int
setup(void **state)
{
	redisReply *r = redisCommand(c, "FLUSHALL");

	(void)state;
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	/* a test may have raised it, as qserver's Redis runs */
	r = redisCommand(c, "CONFIG SET hash-max-listpack-value 64");
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	now = T0;
	day = DAY1;
	deadline = "0";
	nkept = 0;
	OK("qh_setup", hall);
	return 0;
}

/* Frees what the test parsed. */
static int
teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < nkept; i++)
		cJSON_Delete(kept[i]);
	nkept = 0;
	return 0;
}

/* Fails unless v is within pct percent of expected (estimates are rounded approximations of
 * the model's percentiles). */
static void
assert_near(long v, double expected, double pct)
{
	if (fabs((double)v - expected) > expected * pct / 100 + 1)
		fail_msg("%ld is not within %.0f%% of %.1f", v, pct, expected);
}

/* Fails unless an object's estimate is a range around its median: ewt_low <= ewt <= ewt_high. */
static void
assert_range_ordered(const cJSON *o)
{
	assert_true(num(o, "ewt_low") <= num(o, "ewt"));
	assert_true(num(o, "ewt") <= num(o, "ewt_high"));
}

/* Percentiles 10, 50 and 90 of the gamma distribution of shape 1, 2, 5, 7 and scale 1
 * (docs/estimated-wait.md: the wait is the sum of ahead + 1 stages). */
static const double gamma_p10[] = {0, 0.1054, 0.5318, 1.1021, 1.7448, 2.4326, 0, 3.8948};
static const double gamma_p50[] = {0, 0.6931, 1.6783, 2.6741, 3.6721, 4.6709, 0, 6.6696};
static const double gamma_p90[] = {0, 2.3026, 3.8897, 5.3223, 6.6808, 7.9936, 0, 10.5321};

/* Fails unless the object's range is the gamma model's: `stages` stages (the tickets ahead and
 * the one in front) that take `mean` seconds in all. */
static void
assert_gamma_estimate(const cJSON *o, int stages, double mean)
{
	assert_near(num(o, "ewt"), gamma_p50[stages] * mean / stages, 2);
	assert_near(num(o, "ewt_low"), gamma_p10[stages] * mean / stages, stages == 1 ? 8 : 3);
	assert_near(num(o, "ewt_high"), gamma_p90[stages] * mean / stages, 2);
}

/* The services' mean time (300, 120, 200 s) before the hall has learnt its own mix. */
#define HALL_MIX (620.0 / 3)

/* ------------------------------------------------------------------------------------ */
/* take */

static void
take__first_ticket__numbered_and_waiting(void **state)
{
	cJSON *t;

	(void)state;
	t = take("A", "");
	assert_string_equal(str(t, "id"), "20261128-A001");
	assert_string_equal(str(t, "number"), "A001");
	assert_string_equal(str(t, "service"), "A");
	assert_string_equal(str(t, "class"), "normal");
	assert_string_equal(str(t, "channel"), "kiosk");
	assert_string_equal(str(t, "state"), "waiting");
	assert_int_equal(num(t, "issued_at"), T0);
	assert_true(is_null(t, "called_at"));
	assert_true(is_null(t, "window"));
	assert_true(is_null(t, "clerk"));
	assert_true(is_null(t, "rating"));
	assert_int_equal(num(t, "recalls"), 0);
	assert_int_equal(num(t, "transfers"), 0);
	assert_int_equal(num(t, "ahead"), 0);
	/* no window is open: as if one were, busy, with the services' mean time */
	assert_gamma_estimate(t, 1, HALL_MIX);
}

static void
take__integers_not_in_exponent_form(void **state)
{
	const char *text;

	(void)state;
	/* the answer as qserver makes it from the function's result */
	text = raw("qh_take", "A", "priority", "wechat", "abc", NULL);
	assert_non_null(strstr(text, "\"issued_at\":1795830000,"));
	assert_non_null(strstr(text, "\"channel\":\"wechat\""));
}

/* A take at "now" given as minus zero with extra zeros stores the time as an integer reads
 * ("-0"), the same as "-0" itself: the argument's text is not taken as given. */
static void
take__now_with_extra_zeros__stored_as_read(void **state)
{
	const char *nows[] = {"-00", "-000", "-0"};

	(void)state;
	for (size_t i = 0; i < sizeof nows / sizeof nows[0]; i++) {
		const char *service = i == 0 ? "A" : i == 1 ? "B" : "C";
		char id[32];
		redisReply *r;

		r = redisCommand(c, "FCALL qh_take 1 %s %s %s 0 %s normal %s %s", PREFIX, nows[i], day,
				 service, "", "");
		assert_non_null(r);
		assert_int_equal(r->type, REDIS_REPLY_STRING);
		freeReplyObject(r);
		snprintf(id, sizeof id, "20261128-%s001", service);
		r = cmd("HGET %s:t:%s issued_at", PREFIX, id);
		assert_int_equal(r->type, REDIS_REPLY_STRING);
		assert_string_equal(r->str, "-0");
		freeReplyObject(r);
	}
}

/* A P:cfg of another type: a take answers Redis's error, and leaves the fields the library
 * reads for every call as they were (they outlive the call): once the hall is set up again, a
 * take reads the config's fields with its own service's alone (its HMGET, seen by MONITOR) and
 * is numbered as before. */
static void
take__config_of_another_type__error_then_reads_as_before(void **state)
{
	redisContext *m = testredis_connect(&tr);
	redisReply *r;
	int hmgets = 0;

	(void)state;
	assert_non_null(m);
	freeReplyObject(cmd("DEL %s:cfg", PREFIX));
	freeReplyObject(cmd("SET %s:cfg x", PREFIX));
	assert_non_null(strstr(ERR("qh_take", "A", "", "", ""), "WRONGTYPE"));
	freeReplyObject(cmd("DEL %s:cfg", PREFIX));
	OK("qh_setup", hall);
	r = redisCommand(m, "MONITOR");
	assert_non_null(r);
	freeReplyObject(r);
	assert_string_equal(str(take("B", ""), "number"), "B001");
	freeReplyObject(cmd("ECHO end-of-take"));
	for (;;) {
		const char *read, *svc;
		int end;

		assert_int_equal(redisGetReply(m, (void **)&r), REDIS_OK);
		end = strstr(r->str, "end-of-take") != NULL;
		read = strstr(r->str, "\"HMGET\" \"" PREFIX ":cfg\"");
		if (read != NULL) {
			hmgets++;
			svc = strstr(read, "\"svc:");
			if (svc == NULL || strstr(svc + 1, "\"svc:") != NULL)
				fail_msg("a take reads %s", read);
		}
		freeReplyObject(r);
		if (end)
			break;
	}
	redisFree(m);
	assert_int_equal(hmgets, 1);
}

static void
take__hash_keeps_only_what_the_id_does_not_tell(void **state)
{
	redisReply *r;
	cJSON *t;

	(void)state;
	take("A", "");
	/* the number and day are parts of the id, normal and kiosk the usual class and channel */
	r = cmd("HMGET %s:t:20261128-A001 number day class channel state", PREFIX);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(r->element[i]->type, REDIS_REPLY_NIL);
	assert_string_equal(r->element[4]->str, "waiting");
	freeReplyObject(r);
	t = ticket_by_id("20261128-A001");
	assert_string_equal(str(t, "number"), "A001");
	assert_string_equal(str(t, "class"), "normal");
	assert_string_equal(str(t, "channel"), "kiosk");
	/* any other class and channel are kept */
	OK("qh_take", "A", "priority", "wechat", "");
	r = cmd("HMGET %s:t:20261128-A002 class channel", PREFIX);
	assert_string_equal(r->element[0]->str, "priority");
	assert_string_equal(r->element[1]->str, "wechat");
	freeReplyObject(r);
	t = ticket_by_id("20261128-A002");
	assert_string_equal(str(t, "class"), "priority");
	assert_string_equal(str(t, "channel"), "wechat");
}

static void
ticket__hash_of_an_earlier_version__read_as_before(void **state)
{
	redisReply *r;
	cJSON *t;

	(void)state;
	/* earlier versions stored every field, the id too */
	freeReplyObject(cmd("HSET %s:t:20261127-B007 id 20261127-B007 number B007 service B class normal "
			    "channel kiosk state done day 2026-11-27 issued_at 1795744800 called_at 1795745100 "
			    "started_at 1795745160 finished_at 1795745400 window 2 clerk c01 recalls 0 "
			    "transfers 0 score 1795744800000001 fday 2026-11-27 fhour 09",
			    PREFIX));
	t = ticket_by_id("20261127-B007");
	assert_string_equal(str(t, "number"), "B007");
	assert_string_equal(str(t, "class"), "normal");
	assert_string_equal(str(t, "channel"), "kiosk");
	assert_string_equal(str(t, "state"), "done");
	assert_int_equal(num(t, "finished_at"), 1795745400);
	assert_int_equal(num(t, "window"), 2);
	/* and it is rated as before, in its own hash, which keeps its expiry */
	freeReplyObject(cmd("EXPIRE %s:t:20261127-B007 86400", PREFIX));
	t = get(OK("qh_rate", "20261127-B007", "5", "", "", "", "", "clerk"), "ticket");
	assert_int_equal(num(t, "rating"), 5);
	assert_int_equal(num(ticket_by_id("20261127-B007"), "rating"), 5);
	r = cmd("HGET %s:t:20261127-B007 rating", PREFIX);
	assert_string_equal(r->str, "5");
	freeReplyObject(r);
	r = cmd("TTL %s:t:20261127-B007", PREFIX);
	assert_in_range(r->integer, 86400 - 2, 86400);
	freeReplyObject(r);
	r = cmd("EXISTS %s:tp:20261127-B0", PREFIX);
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
}

static void
take__unknown_service__not_found(void **state)
{
	(void)state;
	assert_error(ERR("qh_take", "Z", "", "", ""), "NOT_FOUND service");
}

static void
take__bad_class__bad_request(void **state)
{
	(void)state;
	assert_error(ERR("qh_take", "A", "vip", "", ""), "BAD_REQUEST class");
}

static void
take__ref_over_64_characters__bad_request(void **state)
{
	char ref[3 * 65 + 1] = "";

	(void)state;
	/* 64 Chinese characters (192 bytes) are fine; 65 are not */
	for (int i = 0; i < 64; i++)
		strcat(ref, "号");
	take("A", "");
	assert_string_equal(str(get(OK("qh_take", "A", "appointment", "web", ref), "ticket"), "class"),
			    "appointment");
	strcat(ref, "号");
	assert_error(ERR("qh_take", "A", "", "", ref), "BAD_REQUEST ref");
}

static void
take__bad_channel__bad_request(void **state)
{
	(void)state;
	assert_error(ERR("qh_take", "A", "", "a channel with spaces", ""), "BAD_REQUEST channel");
}

static void
numbering__counts_per_service_and_pads(void **state)
{
	redisReply *r;

	(void)state;
	assert_string_equal(str(take("A", ""), "number"), "A001");
	assert_string_equal(str(take("B", ""), "number"), "B001");
	assert_string_equal(str(take("A", ""), "number"), "A002");
	r = cmd("SET %s 998", PREFIX ":seq:" DAY1 ":A");
	freeReplyObject(r);
	assert_string_equal(str(take("A", ""), "number"), "A999");
	assert_string_equal(str(take("A", ""), "id"), "20261128-A1000");
}

static void
numbering__restarts_each_day(void **state)
{
	cJSON *t;

	(void)state;
	take("A", "");
	take("A", "");
	now = T0 + 86400;
	day = DAY2;
	t = take("A", "");
	assert_string_equal(str(t, "number"), "A001");
	assert_string_equal(str(t, "id"), "20261129-A001");
	/* today's number finds today's ticket */
	assert_string_equal(str(get(OK("qh_ticket", "", "A001"), "ticket"), "id"), "20261129-A001");
	/* yesterday's stays reachable by id */
	assert_string_equal(str(ticket_by_id("20261128-A002"), "number"), "A002");
}

/* ------------------------------------------------------------------------------------ */
/* ticket */

static void
ticket__unknown__not_found(void **state)
{
	(void)state;
	assert_error(ERR("qh_ticket", "20261128-A001", ""), "NOT_FOUND id");
	assert_error(ERR("qh_ticket", "", "A001"), "NOT_FOUND number");
	assert_error(ERR("qh_ticket", "", ""), "BAD_REQUEST id");
}

/* ------------------------------------------------------------------------------------ */
/* call_next and call */

static void
call_next__priority_before_normal(void **state)
{
	cJSON *t;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	now += 10;
	take("B", "appointment");
	now += 10;
	take("C", "priority");
	assert_string_equal(str(call_next("1"), "number"), "C001");
	assert_string_equal(str(call_next("1"), "number"), "B001");
	t = call_next("1");
	assert_string_equal(str(t, "number"), "A001");
	assert_string_equal(str(t, "state"), "called");
	assert_int_equal(num(t, "window"), 1);
	assert_string_equal(str(t, "clerk"), "c01");
	assert_int_equal(num(t, "called_at"), now);
	assert_true(is_null(t, "ahead"));
}

static void
call_next__longest_wait_across_services(void **state)
{
	(void)state;
	open_window("3", "c03");
	take("A", "");
	now += 5;
	take("C", "");
	now += 5;
	take("A", "");
	assert_string_equal(queue_numbers("3", "", ""), "A001 C001 A002");
	assert_string_equal(str(call_next("3"), "number"), "A001");
	assert_string_equal(str(call_next("3"), "number"), "C001");
	assert_string_equal(str(call_next("3"), "number"), "A002");
}

static void
call_next__specialised_window_skips_other_services(void **state)
{
	(void)state;
	OK("qh_setup", hall_specialised);
	open_window("2", "c02");
	take("A", "");
	take("C", "");
	assert_true(cJSON_IsNull(call_next("2")));
	take("B", "");
	assert_string_equal(str(call_next("2"), "number"), "B001");
}

static void
call_next__comprehensive_window_calls_every_service(void **state)
{
	(void)state;
	open_window("1", "c01");
	take("B", "");
	now++;
	take("C", "");
	now++;
	take("A", "");
	assert_string_equal(str(call_next("1"), "number"), "B001");
	assert_string_equal(str(call_next("1"), "number"), "C001");
	assert_string_equal(str(call_next("1"), "number"), "A001");
}

static void
call_next__finishes_current_ticket(void **state)
{
	cJSON *done;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	take("A", "");
	call_next("1");
	now += 100;
	call_next("1");
	done = ticket_by_id("20261128-A001");
	assert_string_equal(str(done, "state"), "done");
	assert_int_equal(num(done, "finished_at"), now);
	assert_string_equal(str(window_now("1"), "ticket"), "A002");
}

static void
call_next__nothing_waiting__null_and_window_idle(void **state)
{
	cJSON *w;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	call_next("1");
	assert_true(cJSON_IsNull(call_next("1")));
	assert_string_equal(str(ticket_by_id("20261128-A001"), "state"), "done");
	w = window_now("1");
	assert_string_equal(str(w, "state"), "idle");
	assert_null(str(w, "ticket"));
}

static void
call_next__closed_or_paused_window__conflict(void **state)
{
	(void)state;
	take("A", "");
	assert_error(ERR("qh_call_next", "1", ""), "CONFLICT window");
	open_window("1", "c01");
	OK("qh_pause", "1", "lunch");
	assert_error(ERR("qh_call_next", "1", ""), "CONFLICT window");
	assert_error(ERR("qh_call_next", "9", ""), "NOT_FOUND window");
	assert_error(ERR("qh_call_next", "x", ""), "BAD_REQUEST window");
	assert_string_equal(str(ticket_by_id("20261128-A001"), "state"), "waiting");
}

static void
call__out_of_order_by_number(void **state)
{
	cJSON *t;

	(void)state;
	open_window("3", "c03");
	take("A", "");
	take("A", "");
	t = get(OK("qh_call", "3", "", "A002"), "ticket");
	assert_string_equal(str(t, "number"), "A002");
	assert_string_equal(str(t, "state"), "called");
	assert_string_equal(queue_numbers("3", "", ""), "A001");
}

static void
call__service_not_served__conflict(void **state)
{
	(void)state;
	open_window("2", "c02");
	take("A", "");
	assert_error(ERR("qh_call", "2", "", "A001"), "CONFLICT ticket");
	assert_error(ERR("qh_call", "2", "", "A009"), "NOT_FOUND ticket");
	assert_string_equal(str(ticket_by_id("20261128-A001"), "state"), "waiting");
}

static void
recall__counts_and_announces_again(void **state)
{
	cJSON *t, *events, *last;
	int n;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	call_next("1");
	now += 30;
	t = get(OK("qh_recall", "1"), "ticket");
	assert_int_equal(num(t, "recalls"), 1);
	assert_int_equal(num(t, "called_at"), T0); /* the first call's time stays */
	events = stream_events();
	n = cJSON_GetArraySize(events);
	last = cJSON_GetArrayItem(events, n - 1);
	assert_string_equal(str(last, "type"), "called");
	assert_int_equal(num(get(last, "data"), "recall"), 1);
	assert_int_equal(num(get(last, "data"), "at"), now);
}

static void
recall__serving__conflict(void **state)
{
	(void)state;
	open_window("1", "c01");
	assert_error(ERR("qh_recall", "1"), "CONFLICT window");
	take("A", "");
	call_next("1");
	OK("qh_start", "1");
	assert_error(ERR("qh_recall", "1"), "CONFLICT window");
}

/* ------------------------------------------------------------------------------------ */
/* start, finish, no_show, transfer */

static void
start_finish__done_with_times_and_rating(void **state)
{
	cJSON *t;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	call_next("1");
	now += 20;
	t = get(OK("qh_start", "1"), "ticket");
	assert_string_equal(str(t, "state"), "serving");
	assert_int_equal(num(t, "started_at"), now);
	assert_string_equal(str(window_now("1"), "state"), "serving");
	assert_error(ERR("qh_start", "1"), "CONFLICT window");
	assert_error(ERR("qh_finish", "1", "6"), "BAD_REQUEST rating");
	now += 200;
	t = get(OK("qh_finish", "1", "4"), "ticket");
	assert_string_equal(str(t, "state"), "done");
	assert_int_equal(num(t, "finished_at"), now);
	assert_int_equal(num(t, "rating"), 4);
	assert_string_equal(str(window_now("1"), "state"), "idle");
	assert_error(ERR("qh_finish", "1", ""), "CONFLICT window");
}

static void
no_show__requeue__back_of_the_queue(void **state)
{
	cJSON *t;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	take("A", "");
	call_next("1");
	now += 60;
	t = get(OK("qh_no_show", "1", "1"), "ticket");
	assert_string_equal(str(t, "state"), "waiting");
	assert_int_equal(num(t, "ahead"), 1);
	assert_true(is_null(t, "window"));
	assert_string_equal(queue_numbers("", "", ""), "A002 A001");
	assert_string_equal(str(window_now("1"), "state"), "idle");
	assert_string_equal(str(call_next("1"), "number"), "A002");
}

static void
no_show__final__leaves_the_queue(void **state)
{
	(void)state;
	open_window("1", "c01");
	take("A", "");
	call_next("1");
	OK("qh_start", "1");
	assert_error(ERR("qh_no_show", "1", "0"), "CONFLICT window");
	OK("qh_finish", "1", "");
	take("A", "");
	call_next("1");
	assert_string_equal(str(get(OK("qh_no_show", "1", "0"), "ticket"), "state"), "no_show");
	assert_true(cJSON_IsNull(call_next("1")));
}

static void
transfer__keeps_issue_time(void **state)
{
	cJSON *t;

	(void)state;
	open_window("1", "c01");
	open_window("2", "c02");
	take("A", "");
	now += 10;
	take("B", "");
	now += 10;
	take("B", "");
	assert_string_equal(str(call_next("1"), "number"), "A001");
	now += 10;
	t = get(OK("qh_transfer", "1", "B", ""), "ticket");
	assert_string_equal(str(t, "state"), "waiting");
	assert_string_equal(str(t, "service"), "B");
	assert_int_equal(num(t, "issued_at"), T0);
	assert_int_equal(num(t, "transfers"), 1);
	assert_int_equal(num(t, "ahead"), 0);
	assert_string_equal(str(window_now("1"), "state"), "idle");
	/* it keeps its place ahead of the B tickets issued after it */
	t = call_next("2");
	assert_string_equal(str(t, "number"), "A001");
	assert_string_equal(str(t, "service"), "B");
}

static void
transfer__to_window__only_that_window_calls_it(void **state)
{
	cJSON *t;

	(void)state;
	open_window("1", "c01");
	open_window("2", "c02");
	take("A", "");
	now += 10;
	take("B", "");
	call_next("1");
	assert_error(ERR("qh_transfer", "1", "B", "3"), "CONFLICT window");
	assert_error(ERR("qh_transfer", "1", "Z", ""), "NOT_FOUND service");
	assert_error(ERR("qh_transfer", "1", "B", "8"), "NOT_FOUND window");
	t = get(OK("qh_transfer", "1", "B", "2"), "ticket");
	assert_string_equal(str(t, "state"), "waiting");
	/* the comprehensive window passes it by; window 2 takes it first */
	assert_string_equal(str(call_next("1"), "number"), "B001");
	assert_string_equal(queue_numbers("2", "", ""), "A001");
	assert_string_equal(queue_numbers("", "", ""), "A001");
	assert_error(ERR("qh_call", "3", "", "A001"), "CONFLICT ticket");
	assert_string_equal(str(call_next("2"), "number"), "A001");
}

static void
transfer__nothing_called__conflict(void **state)
{
	(void)state;
	open_window("1", "c01");
	assert_error(ERR("qh_transfer", "1", "B", ""), "CONFLICT window");
}

/* ------------------------------------------------------------------------------------ */
/* cancel and rate */

static void
cancel__waiting_ticket__leaves_queue(void **state)
{
	cJSON *t;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	take("A", "");
	assert_int_equal(num(service_now("A"), "waiting"), 2);
	t = get(OK("qh_cancel", "20261128-A001"), "ticket");
	assert_string_equal(str(t, "state"), "cancelled");
	assert_int_equal(num(service_now("A"), "waiting"), 1);
	assert_error(ERR("qh_cancel", "20261128-A001"), "CONFLICT id");
	call_next("1");
	assert_error(ERR("qh_cancel", "20261128-A002"), "CONFLICT id");
	assert_error(ERR("qh_cancel", "20261128-A077"), "NOT_FOUND id");
}

static void
rate__done_ticket__once(void **state)
{
	(void)state;
	open_window("1", "c01");
	take("A", "");
	assert_error(ERR("qh_rate", "20261128-A001", "5"), "CONFLICT id");
	call_next("1");
	OK("qh_finish", "1", "");
	assert_error(ERR("qh_rate", "20261128-A001", "0"), "BAD_REQUEST score");
	assert_error(ERR("qh_rate", "20261128-A001", "five"), "BAD_REQUEST score");
	assert_int_equal(num(get(OK("qh_rate", "20261128-A001", "5"), "ticket"), "rating"), 5);
	assert_error(ERR("qh_rate", "20261128-A001", "4"), "CONFLICT id");
	assert_int_equal(num(ticket_by_id("20261128-A001"), "rating"), 5);
}

/* ------------------------------------------------------------------------------------ */
/* windows: open, lease, release, pause, resume, close */

static void
open__closed_window__idle_with_clerk(void **state)
{
	cJSON *w;

	(void)state;
	assert_string_equal(str(window_now("1"), "state"), "closed");
	w = open_window("1", "c01");
	assert_int_equal(num(w, "id"), 1);
	assert_string_equal(str(w, "name"), "1号窗口");
	assert_string_equal(str(w, "name_en"), "Window 1");
	assert_string_equal(cJSON_GetArrayItem(get(w, "services"), 0)->valuestring, "*");
	assert_string_equal(str(w, "state"), "idle");
	assert_string_equal(str(w, "clerk"), "c01");
	assert_null(str(w, "ticket"));
	assert_error(ERR("qh_open", "7", "c01", "h", "0"), "NOT_FOUND window");
}

static void
open__other_live_clerk__conflict(void **state)
{
	char lease[32];

	(void)state;
	open_window("1", "c01");
	snprintf(lease, sizeof lease, "%ld", now + 60);
	assert_error(ERR("qh_open", "1", "c02", "qs1/c02", lease), "CONFLICT window");
	/* the same clerk from a new connection takes it over */
	OK("qh_open", "1", "c01", "qs2/c01", lease);
	/* after the lease ran out anyone may */
	now += 61;
	snprintf(lease, sizeof lease, "%ld", now + 60);
	assert_string_equal(str(get(OK("qh_open", "1", "c02", "qs1/c02", lease), "window"), "clerk"),
			    "c02");
}

static void
open__reconnecting_clerk__keeps_called_ticket(void **state)
{
	char lease[32];
	cJSON *w;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	call_next("1");
	OK("qh_release", "1", "qs1/c01");
	snprintf(lease, sizeof lease, "%ld", now + 60);
	w = get(OK("qh_open", "1", "c01", "qs1/c01", lease), "window");
	assert_string_equal(str(w, "state"), "calling");
	assert_string_equal(str(w, "ticket"), "A001");
}

static void
lease__renews_only_own_holder(void **state)
{
	char lease[32];
	redisReply *r;

	(void)state;
	open_window("1", "c01");
	open_window("2", "c02");
	snprintf(lease, sizeof lease, "%ld", now + 600);
	assert_non_null(OK("qh_lease", "qs1/c01", lease, "1", "2"));
	now += 100; /* c01's lease lives, c02's has run out */
	snprintf(lease, sizeof lease, "%ld", now + 60);
	assert_error(ERR("qh_open", "1", "c09", "qs9/c09", lease), "CONFLICT window");
	OK("qh_open", "2", "c09", "qs9/c09", lease);
	r = cmd("HGET %s lease_until", PREFIX ":w:2");
	assert_string_equal(r->str, lease);
	freeReplyObject(r);
}

/* The same clerk taking the window over from another holder: qh_open publishes the old holder
 * (outside the stream) so its qserver can close it, and qh_lease tells the old holder it lost
 * the window without renewing it. */
static void
open__takeover_publishes_old_holder_and_lease_reports_lost(void **state)
{
	char lease[32];
	redisContext *sub;
	redisReply *r;
	struct timeval tv = {2, 0};

	(void)state;
	open_window("1", "c01"); /* held by qs1/c01 */
	sub = testredis_connect(&tr);
	assert_non_null(sub);
	redisSetTimeout(sub, tv);
	r = redisCommand(sub, "SUBSCRIBE %s", PREFIX ":ev");
	freeReplyObject(r);
	snprintf(lease, sizeof lease, "%ld", now + 60);
	OK("qh_open", "1", "c01", "qs2/c01", lease);
	int found = 0;
	while (!found && redisGetReply(sub, (void **)&r) == REDIS_OK) {
		found = strcmp(r->element[2]->str, "session qs1/c01 1") == 0;
		freeReplyObject(r);
	}
	redisFree(sub);
	assert_true(found);
	assert_string_equal(raw("qh_lease", "qs1/c01", lease, "1", NULL), "{\"lost\":[1]}");
	assert_string_equal(raw("qh_lease", "qs2/c01", lease, "1", NULL), "{\"lost\":[]}");
	r = cmd("HGET %s holder", PREFIX ":w:1");
	assert_string_equal(r->str, "qs2/c01");
	freeReplyObject(r);
}

static void
release__frees_window_for_another_clerk(void **state)
{
	char lease[32];

	(void)state;
	open_window("1", "c01");
	snprintf(lease, sizeof lease, "%ld", now + 60);
	OK("qh_release", "1", "someone-else");
	assert_error(ERR("qh_open", "1", "c02", "qs1/c02", lease), "CONFLICT window");
	OK("qh_release", "1", "qs1/c01");
	assert_string_equal(str(get(OK("qh_open", "1", "c02", "qs1/c02", lease), "window"), "clerk"),
			    "c02");
}

static void
pause_resume_close__window_states(void **state)
{
	cJSON *w;

	(void)state;
	open_window("1", "c01");
	assert_error(ERR("qh_resume", "1"), "CONFLICT window");
	w = get(OK("qh_pause", "1", "午休 lunch"), "window");
	assert_string_equal(str(w, "state"), "paused");
	assert_string_equal(str(w, "reason"), "午休 lunch");
	w = get(OK("qh_resume", "1"), "window");
	assert_string_equal(str(w, "state"), "idle");
	assert_null(cJSON_GetObjectItemCaseSensitive(w, "reason"));
	w = get(OK("qh_close", "1"), "window");
	assert_string_equal(str(w, "state"), "closed");
	/* The clerk stays at the closed window until the connection ends, and may reopen it. */
	assert_string_equal(str(w, "clerk"), "c01");
	w = get(OK("qh_resume", "1"), "window");
	assert_string_equal(str(w, "state"), "idle");
}

static void
window__since_is_its_last_state_change(void **state)
{
	char lease[32];

	(void)state;
	assert_int_equal(num(open_window("1", "c01"), "since"), T0);
	now = T0 + 50;
	assert_int_equal(num(get(OK("qh_pause", "1", ""), "window"), "since"), T0 + 50);
	now = T0 + 80;
	snprintf(lease, sizeof lease, "%ld", now + 60);
	OK("qh_lease", "qs1/c01", lease, "1");
	assert_int_equal(num(window_now("1"), "since"), T0 + 50);
}

static void
call_next__manager_for_a_window_records_its_clerk(void **state)
{
	(void)state;
	open_window("3", "x1");
	take("A", "");
	take("A", "");
	/* a manager acts for window 3 while x1 is signed in there */
	assert_string_equal(str(get(OK("qh_call_next", "3", "m01"), "ticket"), "clerk"), "x1");
	/* x1 signed out: the manager is the one serving */
	OK("qh_release", "3", "qs1/x1");
	assert_string_equal(str(get(OK("qh_call_next", "3", "m01"), "ticket"), "clerk"), "m01");
	assert_int_equal(num(day1_stats_row("clerk", "x1"), "waits"), 1);
	assert_int_equal(num(day1_stats_row("clerk", "m01"), "waits"), 1);
}

static void
pause__ticket_called__conflict(void **state)
{
	(void)state;
	open_window("1", "c01");
	take("A", "");
	call_next("1");
	assert_error(ERR("qh_pause", "1", ""), "CONFLICT window");
	assert_error(ERR("qh_close", "1"), "CONFLICT window");
	OK("qh_start", "1");
	assert_error(ERR("qh_pause", "1", ""), "CONFLICT window");
	assert_string_equal(str(window_now("1"), "state"), "serving");
}

/* ------------------------------------------------------------------------------------ */
/* ahead and ewt */

static void
ewt__median_and_range_of_the_stages_ahead(void **state)
{
	cJSON *t;

	(void)state;
	open_window("1", "c01");
	for (int i = 0; i < 4; i++)
		take("A", "");
	t = take("A", "");
	assert_int_equal(num(t, "ahead"), 4);
	/* one open window serves A: 4 tickets of 300 s ahead, then a window comes free */
	assert_gamma_estimate(t, 5, 4 * 300 + HALL_MIX);
	assert_range_ordered(t);
	open_window("3", "c03");
	t = ticket_by_id("20261128-A005");
	assert_int_equal(num(t, "ahead"), 4);
	assert_gamma_estimate(t, 5, (4 * 300 + HALL_MIX) / 2); /* two windows: half as long */
	/* a priority ticket jumps the normal ones; with a window free it is told 0 */
	t = take("B", "priority");
	assert_int_equal(num(t, "ahead"), 0);
	assert_int_equal(num(t, "ewt"), 0);
	assert_int_equal(num(t, "ewt_low"), 0);
	assert_int_equal(num(t, "ewt_high"), 0);
	t = ticket_by_id("20261128-A005");
	assert_int_equal(num(t, "ahead"), 5);
	/* the B ticket ahead counts at B's 120 s, not A's 300 */
	assert_near(num(t, "ewt"), (4 * 300 + 120 + HALL_MIX) / 2 * 5.6702 / 6, 2);
	/* a service shows the estimate of a new normal ticket, with its range */
	t = service_now("A");
	assert_int_equal(num(t, "waiting"), 5);
	assert_gamma_estimate(t, 7, (5 * 300 + 120 + HALL_MIX) / 2);
	assert_int_equal(num(service_now("B"), "waiting"), 1);
}

static void
ewt__tickets_ahead_weigh_their_own_service_time(void **state)
{
	long behind_b, behind_a;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	call_next("1"); /* the one window is busy */
	for (int i = 0; i < 3; i++)
		take("B", "");
	behind_b = num(service_now("A"), "ewt");
	assert_near(behind_b, (3 * 120 + HALL_MIX) * gamma_p50[4] / 4, 2);
	/* the wait does not depend on the new ticket's own service */
	assert_int_equal(num(service_now("B"), "ewt"), behind_b);
	assert_int_equal(num(service_now("C"), "ewt"), behind_b);
	/* the same queue of A tickets is longer */
	for (int i = 2; i <= 4; i++) {
		char id[32];
		snprintf(id, sizeof id, "20261128-B%03d", i - 1);
		OK("qh_cancel", id);
		take("A", "");
	}
	behind_a = num(service_now("B"), "ewt");
	assert_near(behind_a, (3 * 300 + HALL_MIX) * gamma_p50[4] / 4, 2);
	assert_true(behind_b < behind_a);
}

static void
ewt__ticket_in_front_waits_for_a_window_to_come_free(void **state)
{
	cJSON *t;

	(void)state;
	OK("qh_setup", hall_specialised);
	open_window("3", "c03");
	take("A", "");
	call_next("3");
	/* nobody ahead, but the only window is busy: one stage of A's 300 s (specialised
	 * windows: the service's own time) */
	t = take("A", "");
	assert_int_equal(num(t, "ahead"), 0);
	assert_gamma_estimate(t, 1, 300);
	assert_range_ordered(t);
}

static void
ewt__grows_with_every_ticket_ahead_without_steps(void **state)
{
	long last = -1;

	(void)state;
	open_window("1", "c01");
	open_window("3", "c03");
	take("A", "");
	take("A", "");
	call_next("1");
	call_next("3"); /* both windows busy */
	for (int i = 0; i < 8; i++) {
		long ewt = num(take("A", ""), "ewt");
		/* ceil(ahead / n) rounds would tell every second ticket the same */
		assert_true(ewt > last);
		last = ewt;
	}
}

static void
ewt__learns_service_time(void **state)
{
	(void)state;
	open_window("1", "c01");
	take("A", "");
	take("A", "");
	call_next("1");
	now += 200;
	OK("qh_finish", "1", "");
	/* the configured 300 s counts as 12 samples: 300 - 100 / 12 */
	assert_near((long)(learnt("A") * 1000), 291667, 0.01);
	/* the hall's mix is learnt too (field *), from the services' mean */
	assert_near((long)(learnt("*") * 1000), (long)((HALL_MIX + (200 - HALL_MIX) / 12) * 1000), 0.01);
	assert_near(num(service_now("A"), "ewt"),
		    (291.667 + HALL_MIX + (200 - HALL_MIX) / 12) * gamma_p50[2] / 2, 2);
	assert_int_equal(num(ticket_by_id("20261128-A002"), "ewt"), 0); /* window 1 is idle */
}

static void
ewt__one_outlier_moves_the_estimate_under_10_percent(void **state)
{
	double before;
	long told;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	take("A", "");
	call_next("1");
	told = num(service_now("A"), "ewt");
	now += 12 * 3600; /* left open for 12 hours */
	OK("qh_finish", "1", "");
	assert_true(learnt("A") > 300 && learnt("A") < 330);
	/* what a new ticket is told moves by under 10% */
	assert_true(labs(num(service_now("A"), "ewt") - told) < told / 10);
	before = learnt("A");
	call_next("1");
	now += 1; /* clicked straight through */
	OK("qh_finish", "1", "");
	assert_true(learnt("A") < before && learnt("A") > before * 0.9);
}

static void
ewt__higher_classes_expected_to_jump_ahead(void **state)
{
	long normal, priority;

	(void)state;
	OK("qh_setup", hall_specialised);
	open_window("3", "c03");
	take("A", "");
	call_next("3"); /* busy, nobody waiting */
	/* no class learnt yet: a new normal ticket and a new priority one are told the same */
	normal = num(service_now("A"), "ewt");
	assert_int_equal(num(take("A", "priority"), "ewt"), normal);
	now += 300;
	call_next("3"); /* finishes the normal ticket, calls the priority one */
	now += 300;
	call_next("3"); /* finishes it: half the tickets were priority */
	take("A", "");
	call_next("3");
	normal = num(service_now("A"), "ewt");
	priority = num(take("A", "priority"), "ewt");
	/* as many priority tickets as normal ones will come and be called first (1 / (1 - 1/2)) */
	assert_true(labs(normal - 2 * priority) <= 2);
}

static void
ewt__clicked_through_tickets_leave_a_usable_estimate(void **state)
{
	cJSON *t;
	redisReply *r;

	(void)state;

	open_window("1", "c01");
	take("A", "");
	call_next("1");
	/* what hundreds of tickets finished in the second they were called leave learnt */
	r = cmd("HSET %s:ewma A %s * %s", PREFIX, "0.000 0.0 300", "0.000 0.0 300");
	freeReplyObject(r);
	/* as the library leaves them: the competing sets' joined times are joined again */
	r = cmd("HDEL %s:ewma ~L:* ~L:A", PREFIX);
	freeReplyObject(r);
	take("A", "");
	t = take("A", "");
	assert_int_equal(num(t, "ahead"), 1);
	assert_true(num(t, "ewt") >= 1 && num(t, "ewt") < 10);
	assert_range_ordered(t);
}

static void
ewt__no_show_feeds_the_time_a_window_is_held(void **state)
{
	(void)state;
	open_window("1", "c01");
	take("A", "");
	call_next("1");
	now += 60;
	OK("qh_no_show", "1", "");
	/* the window was held 60 s, a sample that would move the mean by 6.7%: bounded to 6% */
	assert_near((long)(learnt("A") * 1000), 282000, 0.01);
	/* A's estimate moved: the call's events end with a queue event of A */
	cJSON *events = stream_events();
	cJSON *last = cJSON_GetArrayItem(events, cJSON_GetArraySize(events) - 1);
	assert_string_equal(str(last, "type"), "queue");
	assert_string_equal(str(get(last, "data"), "service"), "A");
}

static void
ewt__hall_of_many_services_counts_the_tickets_ahead_at_the_hall_mix(void **state)
{
	char config[4096];
	int len;
	cJSON *t;

	(void)state;
	/* 13 services at one comprehensive window: S01 takes 300 s, the others 60 s */
	len = snprintf(config, sizeof config, "{\"site\":{\"id\":\"t\"},\"services\":[");
	for (int i = 1; i <= 13; i++)
		len += snprintf(config + len, sizeof config - (size_t)len,
				"%s{\"id\":\"S%02d\",\"prefix\":\"S%02d\",\"name\":\"s\",\"name_en\":\"s\","
				"\"service_time\":%d}", i > 1 ? "," : "", i, i, i == 1 ? 300 : 60);
	snprintf(config + len, sizeof config - (size_t)len,
		 "],\"windows\":[{\"id\":1,\"name\":\"1\",\"name_en\":\"1\",\"services\":[\"*\"]}]}");
	OK("qh_setup", config);
	open_window("1", "c01");
	take("S01", "");
	call_next("1");
	take("S02", "");
	take("S02", "");
	/* no call per service: the two tickets ahead count at the hall's time, which before any
	 * finish is the ticket's own service's */
	t = take("S01", "");
	assert_int_equal(num(t, "ahead"), 2);
	assert_near(num(t, "ewt"), gamma_p50[3] * 900 / 3, 2);
	/* and the service list tells the same */
	t = find_id(get(OK("qh_services"), "services"), "S01");
	assert_int_equal(num(t, "ahead"), 3);
	assert_near(num(t, "ewt"), gamma_p50[4] * 1200 / 4, 2);
}

static void
ewt__specialised_hall_counts_competing_services(void **state)
{
	(void)state;
	OK("qh_setup", hall_specialised);
	open_window("3", "c03");
	take("B", "");
	take("A", "");
	take("C", "");
	/* window 3 serves A and C: the C ticket waits behind A only */
	assert_int_equal(num(ticket_by_id("20261128-C001"), "ahead"), 1);
	/* A's 300 s ahead, then C's own 200 s until window 3 comes free */
	assert_gamma_estimate(ticket_by_id("20261128-C001"), 2, 300 + 200);
	/* B has no open window: counted as one */
	assert_int_equal(num(ticket_by_id("20261128-B001"), "ahead"), 0);
	assert_gamma_estimate(service_now("B"), 2, 120 + 120);
}

/* ------------------------------------------------------------------------------------ */
/* queue, services, snapshot */

static void
queue__call_order_with_limit_and_service(void **state)
{
	(void)state;
	take("A", "");
	now++;
	take("B", "");
	now++;
	take("C", "appointment");
	now++;
	take("A", "priority");
	assert_string_equal(queue_numbers("", "", ""), "A002 C001 A001 B001");
	assert_string_equal(queue_numbers("", "", "2"), "A002 C001");
	assert_string_equal(queue_numbers("", "A", ""), "A002 A001");
	assert_string_equal(queue_numbers("2", "", ""), "B001");
	assert_string_equal(queue_numbers("3", "", ""), "A002 C001 A001");
	assert_error(ERR("qh_queue", "", "", "0"), "BAD_REQUEST limit");
	assert_error(ERR("qh_queue", "", "Z", ""), "NOT_FOUND service");
}

static void
snapshot__services_windows_recent_newest_first(void **state)
{
	cJSON *snap, *recent, *first;

	(void)state;
	open_window("1", "c01");
	open_window("2", "c02");
	take("A", "");
	take("B", "");
	call_next("1");
	now += 5;
	call_next("2");
	snap = OK("qh_snapshot");
	assert_int_equal(cJSON_GetArraySize(get(snap, "services")), 3);
	assert_int_equal(cJSON_GetArraySize(get(snap, "windows")), 3);
	assert_string_equal(str(find_id(get(snap, "windows"), "2"), "ticket"), "B001");
	assert_string_equal(str(find_id(get(snap, "services"), "A"), "name_en"), "Social security");
	recent = get(snap, "recent");
	assert_int_equal(cJSON_GetArraySize(recent), 2);
	first = cJSON_GetArrayItem(recent, 0);
	assert_string_equal(str(first, "number"), "B001");
	assert_int_equal(num(first, "window"), 2);
	assert_int_equal(num(first, "at"), now);
}

static void
snapshot__recent_keeps_the_last_ten_calls(void **state)
{
	cJSON *recent;

	(void)state;
	open_window("1", "c01");
	for (int i = 0; i < 12; i++)
		take("A", "");
	for (int i = 0; i < 12; i++) {
		now += 60;
		call_next("1");
	}
	recent = get(OK("qh_snapshot"), "recent");
	assert_int_equal(cJSON_GetArraySize(recent), 10);
	assert_string_equal(str(cJSON_GetArrayItem(recent, 0), "number"), "A012");
	assert_string_equal(str(cJSON_GetArrayItem(recent, 9), "number"), "A003");
}

/* Today's tickets in a service's own queues, counted from the queues themselves. */
static long
queued(const char *service)
{
	static const char *classes[] = {"priority", "appointment", "normal"};
	long n = 0;

	for (int i = 0; i < 3; i++) {
		redisReply *r = cmd("ZCARD %s:wq:%s:%s", PREFIX, service, classes[i]);

		n += r->integer;
		freeReplyObject(r);
	}
	return n;
}

/* Asserts that every service's waiting, as answered, is what its queues hold. */
static void
assert_waiting_counts(void)
{
	static const char *services[] = {"A", "B", "C"};
	cJSON *list = get(OK("qh_services"), "services");

	for (int i = 0; i < 3; i++)
		assert_int_equal(num(find_id(list, services[i]), "waiting"), queued(services[i]));
}

static void
services__counts_follow_every_write(void **state)
{
	redisReply *r;
	long total, one_window, two_windows;

	(void)state;
	open_window("3", "c3"); /* A and C */
	for (int i = 0; i < 4; i++) {
		take("A", "");
		take("B", "priority");
		take("C", "");
	}
	assert_waiting_counts();
	call_next("3");					/* A001 */
	OK("qh_no_show", "3", "1");			/* back at the end */
	call_next("3");
	OK("qh_transfer", "3", "B", "");		/* now waits in B */
	call_next("3");
	OK("qh_transfer", "3", "C", "3");		/* pinned: in no service's count */
	OK("qh_cancel", "20261128-C004");
	assert_waiting_counts();
	assert_int_equal(queued("B"), 5);
	/* open windows serving B: the comprehensive 1 and the specialised 2; in this hall every
	 * waiting ticket is ahead of a new one (comprehensive window) */
	total = queued("A") + queued("B") + queued("C");
	open_window("1", "c1");
	open_window("2", "c2");
	assert_true(total > 2);
	assert_int_equal(num(service_now("B"), "ahead"), total);
	two_windows = num(service_now("B"), "ewt");
	OK("qh_pause", "2", "");
	one_window = num(service_now("B"), "ewt");
	assert_true(labs(one_window - 2 * two_windows) <= 2); /* every stage twice as long */
	OK("qh_resume", "2");
	assert_int_equal(num(service_now("B"), "ewt"), two_windows);
	OK("qh_close", "1");
	assert_int_equal(num(service_now("B"), "ewt"), one_window);
	/* counts wrong for any reason are worked out afresh by setup */
	r = cmd("HSET %s:waiting A 999", PREFIX);
	freeReplyObject(r);
	r = cmd("HSET %s:nopen B 7", PREFIX);
	freeReplyObject(r);
	r = cmd("HSET %s:nopen i:B 70", PREFIX); /* would make every estimate 0 */
	freeReplyObject(r);
	OK("qh_setup", hall);
	assert_waiting_counts();
	assert_int_equal(num(service_now("B"), "ewt"), one_window);
	/* the day change: earlier tickets leave the counts at once */
	now = T0 + 86400;
	day = DAY2;
	take("A", "");
	assert_int_equal(num(service_now("A"), "waiting"), 1);
	assert_int_equal(num(service_now("B"), "waiting"), 0);
	OK("qh_day");
	assert_waiting_counts();
}

static void
setup__a_dropped_services_ticket_finishes_without_learning_or_queue_event(void **state)
{
	/* the hall of `hall` without service C */
	static const char *hall_without_c =
		"{\"site\":{\"id\":\"t\",\"sla\":900,\"retention_days\":90},"
		"\"services\":["
		"{\"id\":\"A\",\"prefix\":\"A\",\"service_time\":300},"
		"{\"id\":\"B\",\"prefix\":\"B\",\"service_time\":120}],"
		"\"windows\":["
		"{\"id\":1,\"services\":[\"*\"]},"
		"{\"id\":2,\"services\":[\"B\"]},"
		"{\"id\":3,\"services\":[\"A\"]}]}";
	int before;

	(void)state;
	open_window("1", "c01");
	take("C", "");
	take("A", "");
	call_next("1"); /* C001 */
	OK("qh_setup", hall_without_c);
	now = T0 + 200;
	before = stream_len();
	assert_string_equal(str(get(OK("qh_finish", "1", "", "", ""), "ticket"), "state"), "done");
	/* no queue event for a service no longer offered, and no time learnt for it */
	assert_string_equal(stream_types(before), "ticket window");
	assert_true(learnt("C") < 0);
	/* a configured service's finish still learns and sends its queue */
	call_next("1"); /* A001 */
	now = T0 + 400; /* 200 s against the configured 300 */
	before = stream_len();
	OK("qh_finish", "1", "", "", "");
	assert_string_equal(stream_types(before), "ticket window queue");
	assert_true(learnt("A") > 0 && learnt("A") != 300);
}

/* Sets up a hall of 14 services S01-S14, the first `slow` of them taking 300 s and the others
 * 60 s, at the windows given as JSON (the text of a "windows" array). */
static void
setup_fourteen_services(int slow, const char *windows)
{
	char config[4096];
	int len;

	len = snprintf(config, sizeof config, "{\"site\":{\"id\":\"t\"},\"services\":[");
	for (int i = 1; i <= 14; i++)
		len += snprintf(config + len, sizeof config - (size_t)len,
				"%s{\"id\":\"S%02d\",\"prefix\":\"S%02d\",\"service_time\":%d}",
				i > 1 ? "," : "", i, i, i <= slow ? 300 : 60);
	snprintf(config + len, sizeof config - (size_t)len, "],\"windows\":%s}", windows);
	OK("qh_setup", config);
}

/* Fails unless the snapshot's figures of the service are what a take of it answers now (the
 * take then waits in the service's queue). */
static void
assert_snapshot_tells_what_take_answers(const char *id)
{
	cJSON *s = find_id(get(OK("qh_snapshot"), "services"), id);
	long snap[4] = {num(s, "ahead"), num(s, "ewt"), num(s, "ewt_low"), num(s, "ewt_high")};
	cJSON *t = take(id, "");

	if (snap[0] != num(t, "ahead") || snap[1] != num(t, "ewt") || snap[2] != num(t, "ewt_low") ||
	    snap[3] != num(t, "ewt_high"))
		fail_msg("%s: the snapshot tells ahead %ld, ewt %ld (%ld-%ld); its take %ld, %ld (%ld-%ld)",
			 id, snap[0], snap[1], snap[2], snap[3], num(t, "ahead"), num(t, "ewt"),
			 num(t, "ewt_low"), num(t, "ewt_high"));
}

/* The windows of the halls below: 1 serves all, 2 serves S02, 3 serves the services given. */
#define FOURTEEN_WINDOWS(s03) \
	"[{\"id\":1,\"services\":[\"*\"]},{\"id\":2,\"services\":[\"S02\"]}," \
	"{\"id\":3,\"services\":[" s03 "]}]"

/* A hall of 14 services at a comprehensive window and two specialised ones: S01-S07 take
 * 300 s, S08-S14 60 s; window 2 serves S02, window 3 serves S03 and S09. Services that differ
 * in their time or their windows must not be told one another's estimate. */
static void
snapshot__many_services_each_told_what_its_take_would_answer(void **state)
{
	char id[16];
	cJSON *s;

	(void)state;
	setup_fourteen_services(7, FOURTEEN_WINDOWS("\"S03\",\"S09\""));
	open_window("1", "c01");
	open_window("2", "c02");
	open_window("3", "c03");
	/* a finish first: the hall's mix learnt (the test below tells the services apart before) */
	take("S01", "");
	call_next("1");
	now += 200;
	OK("qh_finish", "1", "", "", "");
	take("S01", "");
	call_next("1"); /* window 1 is busy, 2 and 3 stay idle */
	take("S05", "");
	take("S08", "");
	take("S08", "");
	for (int i = 1; i <= 14; i++) {
		snprintf(id, sizeof id, "S%02d", i);
		assert_snapshot_tells_what_take_answers(id);
	}
	/* the figures differ where the services' windows do */
	s = get(OK("qh_snapshot"), "services");
	assert_true(num(find_id(s, "S01"), "ewt") != num(find_id(s, "S02"), "ewt"));
	assert_true(num(find_id(s, "S08"), "ewt") != num(find_id(s, "S09"), "ewt"));
	assert_true(num(find_id(s, "S02"), "ewt") == num(find_id(s, "S03"), "ewt"));
}

/* Two services with a window of their own each, both open, one of them busy: the same open
 * count, different idle counts, so different estimates. */
static void
snapshot__services_with_windows_idle_or_busy_told_apart(void **state)
{
	(void)state;
	setup_fourteen_services(14, FOURTEEN_WINDOWS("\"S03\""));
	open_window("2", "c02");
	open_window("3", "c03");
	take("S03", "");
	call_next("3"); /* window 2 idle, window 3 busy: a take of S02 is called at once */
	assert_snapshot_tells_what_take_answers("S03");
}

/* Two services with a window of their own each, one open and one closed, neither idle: the
 * same idle count, different open counts, so different estimates. */
static void
snapshot__services_with_windows_open_or_closed_told_apart(void **state)
{
	(void)state;
	setup_fourteen_services(14, FOURTEEN_WINDOWS("\"S03\""));
	open_window("1", "c01");
	open_window("2", "c02");
	open_window("3", "c03");
	OK("qh_close", "3");
	take("S01", "");
	call_next("1");
	take("S02", "");
	call_next("2"); /* windows 1 and 2 busy, 3 closed */
	take("S05", "");
	assert_snapshot_tells_what_take_answers("S03");
}

/* Services of different times with nothing finished yet: each is told its own estimate, what
 * a take of it answers (the tickets ahead weighed at its own time, not the first service's). */
static void
snapshot__services_of_different_times_told_apart_before_any_finish(void **state)
{
	cJSON *s;

	(void)state;
	setup_fourteen_services(7, FOURTEEN_WINDOWS("\"S03\""));
	open_window("1", "c01");
	take("S01", "");
	take("S01", "");
	take("S01", "");
	call_next("1");
	s = get(OK("qh_snapshot"), "services");
	assert_true(num(find_id(s, "S01"), "ewt") != num(find_id(s, "S08"), "ewt"));
	assert_snapshot_tells_what_take_answers("S01");
	assert_snapshot_tells_what_take_answers("S08");
}

static void
snapshot__empty_lists_are_arrays(void **state)
{
	(void)state;
	assert_non_null(strstr(raw("qh_snapshot", NULL), "\"recent\":[]"));
	assert_string_equal(raw("qh_queue", "", "", "", NULL), "{\"tickets\":[]}");
	assert_string_equal(raw("qh_lease", "qs1/c01", "0", NULL), "{\"lost\":[]}");
}

static void
setup__keeps_live_window_state(void **state)
{
	(void)state;
	open_window("1", "c01");
	take("A", "");
	call_next("1");
	OK("qh_setup", hall);
	assert_string_equal(str(window_now("1"), "ticket"), "A001");
	assert_string_equal(str(window_now("1"), "state"), "calling");
	assert_error(ERR("qh_setup", "{\"services\":[]}"), "BAD_REQUEST hall");
	assert_error(ERR("qh_setup", "not json"), "BAD_REQUEST hall");
}

/* The services' entries sit with the settings (P:cfg); a store written before they did
 * answers the same until setup adds them, and a service dropped from the config is gone. */
static void
setup__services_read_with_the_settings__older_store_and_dropped_service(void **state)
{
	char before[8192];

	(void)state;
	take("A", "");
	take("C", "");
	snprintf(before, sizeof before, "%s", raw("qh_services", NULL));
	freeReplyObject(cmd("HDEL %s:cfg svcs svc:A svc:B svc:C", PREFIX));
	assert_string_equal(raw("qh_services", NULL), before);
	assert_string_equal(str(take("A", ""), "number"), "A002");
	OK("qh_setup", hall);
	assert_string_equal(str(take("C", ""), "number"), "C002");
	OK("qh_setup", hall_hours); /* A and B only */
	assert_error(ERR("qh_take", "C", "", "", ""), "NOT_FOUND service");
	assert_string_equal(str(take("B", ""), "number"), "B001");
}

/* ------------------------------------------------------------------------------------ */
/* stats */

/* The first row of qh_stats over [from, to] by total. */
static cJSON *
stats_total(const char *from, const char *to)
{
	return cJSON_GetArrayItem(get(OK("qh_stats", from, to, "total", "", ""), "rows"), 0);
}

static void
stats__wait_per_spell_service_time_and_fold(void **state)
{
	char t[32];
	cJSON *row;

	(void)state;
	open_window("1", "c1");
	open_window("2", "c2");
	take("A", "");
	now = T0 + 100;
	call_next("1");				/* waited 100 s in A */
	now = T0 + 200;
	OK("qh_transfer", "1", "B", "");	/* waits again, in B */
	now = T0 + 500;
	call_next("2");				/* its own 300 s in B */
	now = T0 + 600;
	OK("qh_finish", "2", "4");		/* served 100 s from the call */
	row = stats_total(DAY1, DAY1);
	assert_int_equal(num(row, "issued"), 1);
	assert_int_equal(num(row, "waits"), 2);
	assert_int_equal(num(row, "wait_mean"), 200);
	assert_int_equal(num(row, "wait_max"), 300);
	assert_int_equal(num(row, "served"), 1);
	assert_int_equal(num(row, "service_mean"), 100);
	assert_int_equal(num(row, "ratings"), 1);
	/* by service: A had the first spell and the issue, B the second and the service */
	row = day1_stats_row("service", "B");
	assert_int_equal(num(row, "issued"), 0);
	assert_int_equal(num(row, "waits"), 1);
	assert_int_equal(num(row, "wait_mean"), 300);
	assert_int_equal(num(row, "served"), 1);
	/* the settled ticket is kept for the retention (in its day's bucket); the aggregates never */
	snprintf(t, sizeof t, "%s", "20261128-A001"); /* the ticket taken above */
	assert_in_range(bucket_ttl(t), PACKED_UNTIL - now - 2, PACKED_UNTIL - now);
	/* the day change folds the day into its month: the month reads the same, once */
	now = T0 + 86400;
	day = DAY2;
	OK("qh_day");
	row = stats_total("2026-11-01", "2026-11-30");
	assert_int_equal(num(row, "issued"), 1);
	assert_int_equal(num(row, "waits"), 2);
	assert_int_equal(num(row, "wait_mean"), 200);
	/* a second rating is refused and counts nothing */
	assert_error(ERR("qh_rate", t, "5"), "CONFLICT id");
	row = stats_total("2026-11-01", "2026-11-30");
	assert_int_equal(num(row, "ratings"), 1);
	assert_error(ERR("qh_stats", "2026-11-30", "2026-11-01", "total", "", ""), "BAD_REQUEST to");
	assert_error(ERR("qh_stats", "2026-02-29", "2026-03-01", "total", "", ""), "BAD_REQUEST from");
	assert_error(ERR("qh_stats", DAY1, DAY1, "week", "", ""), "BAD_REQUEST by");
}

static void
stats__records_of_the_older_text_form_still_count(void **state)
{
	cJSON *row;

	(void)state;
	/* a day's total as stored before counters were native: 5 issued, 4 waits of 400 s in
	 * all, the longest 200 s, all within the target, 1200 s of service */
	redisReply *r = cmd("HSET %s:st:d:%s t %s", PREFIX, DAY1, "5,4,0,0,0,4,400,200,4,1200,0,0;3=2,6=2");
	freeReplyObject(r);
	open_window("1", "c1");
	take("A", "");
	now = T0 + 300;
	call_next("1"); /* waited 300 s */
	row = stats_total(DAY1, DAY1);
	assert_int_equal(num(row, "issued"), 6);
	assert_int_equal(num(row, "waits"), 5);
	assert_int_equal(num(row, "wait_mean"), 140);
	assert_int_equal(num(row, "wait_max"), 300);
	assert_int_equal(num(row, "service_mean"), 300);
	assert_int_equal(num(get(OK("qh_snapshot"), "today"), "issued"), 6);
	/* folded into the month at the day change, once */
	now = T0 + 86400;
	day = DAY2;
	OK("qh_day");
	row = stats_total("2026-11-01", "2026-11-30");
	assert_int_equal(num(row, "issued"), 6);
	assert_int_equal(num(row, "waits"), 5);
	assert_int_equal(num(row, "wait_max"), 300);
	assert_int_equal(num(row, "wait_p50"), num(stats_total(DAY1, DAY1), "wait_p50"));
}

/* The text of one field of today's statistics hash (DAY1's), or "(nil)". */
static const char *
today_field(const char *field)
{
	static char text[64];
	redisReply *r = cmd("HGET %s:st:d:%s %s", PREFIX, DAY1, field);

	snprintf(text, sizeof text, "%s", r->type == REDIS_REPLY_STRING ? r->str : "(nil)");
	freeReplyObject(r);
	return text;
}

/* Number of entries of the event stream (each call's audit entry). */
static long long
stream_entries(void)
{
	redisReply *r = cmd("XLEN %s", PREFIX ":events");
	long long n = r->integer;

	freeReplyObject(r);
	return n;
}

static void
stats__a_damaged_counter_counts_as_nothing_and_the_call_goes_through(void **state)
{
	long long entries;

	(void)state;
	/* a counter and a wait maximum holding text that is no number (damaged by hand) */
	redisReply *r = cmd("HSET %s:st:d:%s t|i abc t|wm x", PREFIX, DAY1);
	freeReplyObject(r);
	open_window("1", "c1");
	entries = stream_entries();
	take("A", "");
	assert_int_equal(stream_entries(), entries + 1);
	/* counted from nothing, as a missing field is */
	assert_string_equal(today_field("t|i"), "1");
	now = T0 + 30;
	assert_string_equal(str(call_next("1"), "id"), "20261128-A001");
	assert_int_equal(stream_entries(), entries + 2);
	assert_string_equal(today_field("t|wm"), "30");
	/* and every later call moving them counts on */
	take("A", "");
	assert_string_equal(today_field("t|i"), "2");
	assert_int_equal(stream_entries(), entries + 3);
	assert_int_equal(num(stats_total(DAY1, DAY1), "issued"), 2);
	assert_int_equal(num(stats_total(DAY1, DAY1), "wait_max"), 30);
}

static void
stats__counters_at_and_past_a_million_are_written_whole(void **state)
{
	cJSON *row;

	(void)state;
	redisReply *r = cmd("HSET %s:st:d:%s t|i 999999 s:A|ws 999990 t|wm 2000000", PREFIX, DAY1);
	freeReplyObject(r);
	open_window("1", "c1");
	take("A", "");
	assert_string_equal(today_field("t|i"), "1000000");
	now = T0 + 30;
	call_next("1"); /* waited 30 s */
	assert_string_equal(today_field("s:A|ws"), "1000020");
	assert_string_equal(today_field("t|ws"), "30");
	assert_string_equal(today_field("t|wm"), "2000000");
	assert_string_equal(today_field("s:A|wm"), "30");
	row = stats_total(DAY1, DAY1);
	assert_int_equal(num(row, "issued"), 1000000);
	assert_int_equal(num(row, "wait_max"), 2000000);
	row = day1_stats_row("service", "A");
	assert_int_equal(num(row, "issued"), 1);
	assert_int_equal(num(row, "waits"), 1);
	assert_int_equal(num(row, "wait_mean"), 1000020);
}

/* A window's figures by service over [from, to], as its clerk would ask (JSON text). */
static char *
window_stats_text(const char *from, const char *to, const char *window)
{
	return cJSON_PrintUnformatted(get(OK("qh_stats", from, to, "service", window, ""), "rows"));
}

static void
stats__a_folded_days_window_hash_is_compact_again_with_the_same_figures(void **state)
{
	char *before, *after;
	redisReply *r;

	(void)state;
	r = cmd("CONFIG SET hash-max-listpack-value 128");
	freeReplyObject(r);
	open_window("1", "c1");
	take("A", "");
	take("B", "");
	now = T0 + 100;
	call_next("1");
	now = T0 + 400;
	call_next("1");
	now = T0 + 700;
	OK("qh_finish", "1", "4", "", "");
	before = window_stats_text(DAY1, DAY1, "1");
	/* today the window's hash is a table (its marker field), for the calls' many writes, also
	 * in a Redis that keeps values of up to 128 bytes in a listpack, as qserver's does */
	r = cmd("HEXISTS %s:st:d:%s:w1 ~table", PREFIX, DAY1);
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	r = cmd("OBJECT ENCODING %s:st:d:%s:w1", PREFIX, DAY1);
	assert_string_equal(r->str, "hashtable");
	freeReplyObject(r);
	now = T0 + 86400;
	day = DAY2;
	OK("qh_day");
	/* folded, it is written again without the marker: a listpack, as small as before */
	r = cmd("HEXISTS %s:st:d:%s:w1 ~table", PREFIX, DAY1);
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	r = cmd("OBJECT ENCODING %s:st:d:%s:w1", PREFIX, DAY1);
	assert_string_equal(r->str, "listpack");
	freeReplyObject(r);
	after = window_stats_text(DAY1, DAY1, "1");
	assert_string_equal(after, before);
	free(after);
	/* and the month it was folded into holds the same */
	after = window_stats_text("2026-11-01", "2026-11-30", "1");
	assert_string_equal(after, before);
	free(after);
	free(before);
}

/* ------------------------------------------------------------------------------------ */
/* Settled tickets, packed (docs/keys.md "Tickets") */

/* A settled ticket leaves its own hash for its day's bucket; it is found by id and by today's
 * number as it was, and the bucket expires at the retention from its issue day's end. */
static void
packed__settled_ticket__found_by_id_and_number_as_before(void **state)
{
	cJSON *t;
	char before[1024], after[1024];

	(void)state;
	open_window("1", "c1");
	take("A", "priority");
	now = T0 + 100;
	call_next("1");
	OK("qh_recall", "1");
	now = T0 + 130;
	OK("qh_start", "1");
	now = T0 + 400;
	t = get(OK("qh_finish", "1", ""), "ticket");
	assert_string_equal(str(t, "state"), "done");
	assert_true(cJSON_PrintPreallocated(t, before, sizeof before, false));
	assert_int_equal(key_exists("t", "20261128-A001"), 0);
	assert_int_equal(key_exists("tp", "20261128-A0"), 1);
	/* by id and by number: the same ticket the finish answered */
	t = ticket_by_id("20261128-A001");
	assert_true(cJSON_PrintPreallocated(t, after, sizeof after, false));
	assert_string_equal(after, before);
	assert_string_equal(str(t, "class"), "priority");
	assert_int_equal(num(t, "recalls"), 1);
	assert_int_equal(num(t, "called_at"), T0 + 100);
	assert_int_equal(num(t, "started_at"), T0 + 130);
	assert_int_equal(num(t, "finished_at"), T0 + 400);
	assert_int_equal(num(t, "window"), 1);
	assert_string_equal(str(t, "clerk"), "c1");
	t = get(OK("qh_ticket", "", "A001"), "ticket");
	assert_string_equal(str(t, "id"), "20261128-A001");
	assert_string_equal(str(t, "state"), "done");
	/* the bucket's expiry: the end of the issue day + 90 days + 1, set by its first ticket and
	 * left as it is by the next ones */
	assert_in_range(bucket_ttl("20261128-A001"), PACKED_UNTIL - now - 2, PACKED_UNTIL - now);
	take("A", "");
	now = T0 + 3600;
	OK("qh_cancel", "A002");
	assert_string_equal(str(ticket_by_id("20261128-A002"), "state"), "cancelled");
	assert_in_range(bucket_ttl("20261128-A002"), PACKED_UNTIL - T0 - 400 - 2, PACKED_UNTIL - T0 - 400);
	/* a no-show put back in the queue waits in its own hash again; a final one is packed */
	take("B", "");
	call_next("1");
	t = get(OK("qh_no_show", "1", "1"), "ticket");
	assert_string_equal(str(t, "state"), "waiting");
	assert_int_equal(key_exists("t", "20261128-B001"), 1);
	call_next("1");
	OK("qh_no_show", "1", "0");
	assert_int_equal(key_exists("t", "20261128-B001"), 0);
	assert_string_equal(str(ticket_by_id("20261128-B001"), "state"), "no_show");
	/* a ticket still waiting when its day ends is expired into the bucket of its issue day,
	 * which expires then as for any ticket of that day */
	take("C", "");
	now = T0 + 86400;
	day = DAY2;
	OK("qh_day");
	assert_string_equal(str(ticket_by_id("20261128-C001"), "state"), "expired");
	assert_in_range(bucket_ttl("20261128-C001"), PACKED_UNTIL - now - 2, PACKED_UNTIL - now);
}

/* A packed ticket is rated from its ticket page with its secret (a wrong one refused, changing
 * nothing), a late rating counting on the day it was finished, and listed in the ratings. */
static void
packed__rated_late_with_the_secret_and_listed(void **state)
{
	cJSON *t, *list;

	(void)state;
	open_window("1", "c1");
	OK("qh_take", "A", "", "", "", "secret-A001");
	now = T0 + 100;
	call_next("1");
	now = T0 + 300;
	OK("qh_finish", "1", "");
	now = T0 + 86400;
	day = DAY2;
	OK("qh_day");
	assert_error(ERR("qh_rate", "20261128-A001", "2", "wrong-secret", "", "2026-12-01", "", "citizen"),
		     "UNAUTHENTICATED secret");
	assert_error(ERR("qh_ticket", "20261128-A001", "", "wrong-secret"), "UNAUTHENTICATED secret");
	assert_true(is_null(ticket_by_id("20261128-A001"), "rating"));
	assert_int_equal(num(stats_total(DAY1, DAY1), "ratings"), 0);
	t = get(OK("qh_rate", "20261128-A001", "2", "secret-A001", "slow", "2026-12-01", "", "citizen"),
		"ticket");
	assert_int_equal(num(t, "rating"), 2);
	t = get(OK("qh_ticket", "20261128-A001", "", "secret-A001"), "ticket");
	assert_int_equal(num(t, "rating"), 2);
	assert_string_equal(str(t, "state"), "done");
	/* counted on the day it was finished, not the day rated */
	assert_int_equal(num(stats_total(DAY1, DAY1), "ratings"), 1);
	assert_int_equal(num(stats_total(DAY2, DAY2), "ratings"), 0);
	list = get(OK("qh_ratings", DAY2, DAY2, "", "", "10", "0"), "ratings");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(str(cJSON_GetArrayItem(list, 0), "ticket"), "20261128-A001");
	assert_int_equal(num(cJSON_GetArrayItem(list, 0), "score"), 2);
	assert_string_equal(str(cJSON_GetArrayItem(list, 0), "clerk"), "c1");
	assert_error(ERR("qh_rate", "20261128-A001", "5", "secret-A001", "", "", "", "citizen"), "CONFLICT id");
}

/* A packed value too long for a listpack (a ref of 64 characters) turns its bucket into a hash
 * table, where it and its neighbours read and rate as before. */
static void
packed__value_too_long_for_a_listpack__still_works(void **state)
{
	char ref[65];
	redisReply *r;

	(void)state;
	memset(ref, 'r', 64);
	ref[64] = '\0';
	open_window("1", "c1");
	take("A", "");
	OK("qh_take", "A", "", "", ref, "secret-A002");
	now = T0 + 60;
	call_next("1");
	call_next("1"); /* finishes A001 */
	r = cmd("OBJECT ENCODING %s:tp:20261128-A0", PREFIX);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_string_equal(r->str, "listpack");
	freeReplyObject(r);
	now = T0 + 120;
	OK("qh_finish", "1", "");
	r = cmd("OBJECT ENCODING %s:tp:20261128-A0", PREFIX);
	assert_string_equal(r->str, "hashtable");
	freeReplyObject(r);
	assert_string_equal(str(ticket_by_id("20261128-A001"), "state"), "done");
	assert_string_equal(str(ticket_by_id("20261128-A002"), "state"), "done");
	assert_int_equal(num(get(OK("qh_rate", "A002", "4", "secret-A002", "", "", "", "citizen"), "ticket"),
			     "rating"), 4);
	assert_int_equal(num(ticket_by_id("20261128-A002"), "rating"), 4);
	assert_true(is_null(ticket_by_id("20261128-A001"), "rating"));
}

/* `hall` with another retention (qh_setup's text; a static buffer). */
static const char *
hall_with_retention(int days)
{
	static char text[2048];
	const char *at = strstr(hall, "\"retention_days\":90");
	const char *rest = at + strlen("\"retention_days\":90");

	snprintf(text, sizeof text, "%.*s\"retention_days\":%d%s", (int)(at - hall), hall, days, rest);
	return text;
}

/* Bytes of a settled ticket's packed value in its bucket. */
static long long
packed_bytes(const char *id)
{
	char bucket[64];
	redisReply *r;
	long long n;

	snprintf(bucket, sizeof bucket, "%.*s", (int)strlen(id) - 2, id);
	r = cmd("HSTRLEN %s:tp:%s %s", PREFIX, bucket, id + strlen(id) - 2);
	n = r->integer;

	freeReplyObject(r);
	return n;
}

/* The encoding of a ticket's bucket ("listpack" or "hashtable"), in a static buffer. */
static const char *
bucket_encoding(const char *id)
{
	static char enc[32];
	char bucket[64];
	redisReply *r;

	snprintf(bucket, sizeof bucket, "%.*s", (int)strlen(id) - 2, id);
	r = cmd("OBJECT ENCODING %s:tp:%s", PREFIX, bucket);

	snprintf(enc, sizeof enc, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
	freeReplyObject(r);
	return enc;
}

/* A web ticket with a phone ref and qserver's kind of secret (16 base64url characters) packs
 * into 64 bytes, Redis's default limit for a listpack's value; with the marks of notify it
 * passes that, and a bucket of them stays a listpack under the 128 bytes qserver's Redis is
 * started with. The secret is kept exactly: one character off is refused, and secrets of
 * other shapes (12 characters, 16 outside base64url) read back as given. */
static void
packed__phone_ref_and_secret__fit_a_listpack(void **state)
{
	static const char *secret = "Zx-9_aQ0bYc1dEf_";
	static const char *near = "Zx-9_aQ0bYc1dEf-";
	redisReply *r;
	cJSON *t;

	(void)state;
	open_window("1", "c1");
	OK("qh_take", "A", "", "web", "13812345678", secret);
	OK("qh_take", "A", "", "web", "13812345678", "twelve-chars");
	OK("qh_take", "A", "", "web", "13812345678", "sixteen.chars.ok");
	now = T0 + 420;
	call_next("1");
	now = T0 + 720;
	call_next("1"); /* A001 done: waited 7 minutes, served 5 */
	assert_true(packed_bytes("20261128-A001") <= 64);
	assert_string_equal(bucket_encoding("20261128-A001"), "listpack");
	now = T0 + 800;
	call_next("1"); /* A002 done */
	now = T0 + 900;
	OK("qh_finish", "1", ""); /* A003 done */
	/* each secret exact: the right one rates, one character off is refused */
	assert_error(ERR("qh_rate", "20261128-A001", "4", near, "", "", "", "citizen"), "UNAUTHENTICATED secret");
	assert_error(ERR("qh_rate", "20261128-A002", "4", "twelve-chars.", "", "", "", "citizen"),
		     "UNAUTHENTICATED secret");
	assert_error(ERR("qh_rate", "20261128-A003", "4", "sixteen.chars.OK", "", "", "", "citizen"),
		     "UNAUTHENTICATED secret");
	t = get(OK("qh_rate", "20261128-A001", "4", secret, "", "", "", "citizen"), "ticket");
	assert_int_equal(num(t, "rating"), 4);
	assert_string_equal(str(t, "channel"), "web");
	assert_int_equal(num(get(OK("qh_rate", "20261128-A002", "3", "twelve-chars", "", "", "", "citizen"), "ticket"),
			     "rating"), 3);
	assert_int_equal(num(get(OK("qh_rate", "20261128-A003", "5", "sixteen.chars.ok", "", "", "", "citizen"),
				 "ticket"), "rating"), 5);
	/* rated, each is written again with its secret as it was */
	assert_error(ERR("qh_ticket", "20261128-A001", "", near), "UNAUTHENTICATED secret");
	assert_int_equal(num(get(OK("qh_ticket", "20261128-A001", "", secret), "ticket"), "rating"), 4);
	assert_error(ERR("qh_ticket", "20261128-A002", "", "twelve-charz"), "UNAUTHENTICATED secret");
	assert_int_equal(num(get(OK("qh_ticket", "20261128-A002", "", "twelve-chars"), "ticket"), "rating"), 3);
	assert_int_equal(num(get(OK("qh_ticket", "20261128-A003", "", "sixteen.chars.ok"), "ticket"), "rating"), 5);
	assert_true(packed_bytes("20261128-A001") <= 64);
	/* with notify marks a value passes 64 bytes: under 128, its bucket stays a listpack */
	r = cmd("CONFIG SET hash-max-listpack-value 128");
	freeReplyObject(r);
	OK("qh_take", "B", "", "web", "13812345678", secret, "3", "600");
	OK("qh_notify", "20261128-B001", secret, "2", "300", "13912345678");
	now = T0 + 1000;
	call_next("1");
	now = T0 + 1200;
	t = get(OK("qh_finish", "1", ""), "ticket");
	assert_string_equal(str(t, "state"), "done");
	assert_in_range(packed_bytes("20261128-B001"), 65, 128);
	assert_string_equal(bucket_encoding("20261128-B001"), "listpack");
	r = fcall_list("qh_ticket", "20261128-B001", "", secret, NULL);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_non_null(strstr(r->str, "\"notify\":{\"ahead\":2,\"ewt\":300}"));
	freeReplyObject(r);
}

/* A change of retention_days applies to the tickets settled after it, in a bucket that
 * exists: each is kept until its issue day's end + the retention + 1 day, and a settle that
 * finds that expiry right leaves it as it is. */
static void
packed__retention_changed__applies_to_tickets_settled_after(void **state)
{
	(void)state;
	open_window("1", "c1");
	take("A", "");
	take("A", "");
	take("A", "");
	take("A", "");
	now = T0 + 100;
	call_next("1");
	call_next("1"); /* A001 done, at 90 days */
	assert_in_range(bucket_ttl("20261128-A001"), PACKED_UNTIL - now - 2, PACKED_UNTIL - now);
	/* lowered to 30 days: the next ticket settled takes its bucket down to 30 */
	OK("qh_setup", hall_with_retention(30));
	now = T0 + 200;
	call_next("1"); /* A002 done */
	assert_in_range(bucket_ttl("20261128-A002"), DAY1_END + 31 * 86400L - now - 2, DAY1_END + 31 * 86400L - now);
	/* raised to 120 days */
	OK("qh_setup", hall_with_retention(120));
	now = T0 + 300;
	call_next("1"); /* A003 done */
	assert_in_range(bucket_ttl("20261128-A003"), DAY1_END + 121 * 86400L - T0 - 300 - 2,
			DAY1_END + 121 * 86400L - T0 - 300);
	/* the same retention: the expiry stays where A003 put it */
	now = T0 + 400;
	OK("qh_finish", "1", ""); /* A004 done */
	assert_in_range(bucket_ttl("20261128-A004"), DAY1_END + 121 * 86400L - T0 - 300 - 2,
			DAY1_END + 121 * 86400L - T0 - 300);
	assert_string_equal(str(ticket_by_id("20261128-A001"), "state"), "done");
}

/* A day change run days late (qserver was down) settles its day's tickets into a bucket whose
 * expiry is near: it is moved to retention_days from then, so they are kept their retention. */
static void
packed__day_change_run_late__tickets_kept_their_retention(void **state)
{
	redisReply *r;

	(void)state;
	OK("qh_setup", hall_with_retention(1));
	open_window("1", "c1");
	take("A", "");
	take("A", "");
	now = T0 + 100;
	call_next("1");
	OK("qh_finish", "1", ""); /* A001 done: kept until the end of DAY1 + 2 days */
	assert_in_range(bucket_ttl("20261128-A001"), DAY1_END + 2 * 86400L - now - 2, DAY1_END + 2 * 86400L - now);
	/* qserver down a day and a half: Redis's clock runs as the library's does (the test moves
	 * the library's, and the bucket's expiry with it) */
	now = DAY1_END + 36 * 3600L;
	r = cmd("EXPIRE %s:tp:20261128-A0 %ld", PREFIX, DAY1_END + 2 * 86400L - now);
	freeReplyObject(r);
	day = "2026-11-30";
	OK("qh_day");
	assert_string_equal(str(ticket_by_id("20261128-A002"), "state"), "expired");
	/* A002, just settled, is kept a day from now, as is A001 with it */
	assert_in_range(bucket_ttl("20261128-A002"), 86400 - 2, 86400);
	assert_string_equal(str(ticket_by_id("20261128-A001"), "state"), "done");
}

/* ------------------------------------------------------------------------------------ */
/* day change */

static void
day_change__expires_waiting(void **state)
{
	cJSON *t, *events;
	int before;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	take("A", "");
	take("B", "");
	call_next("1");
	before = stream_len();
	now = T0 + 86400;
	day = DAY2;
	assert_int_equal(num(OK("qh_day"), "expired"), 2);
	t = ticket_by_id("20261128-A002");
	assert_string_equal(str(t, "state"), "expired");
	assert_true(is_null(t, "ahead"));
	/* the called ticket was closed with its day (PROTOCOL.md v2); the window is free */
	t = ticket_by_id("20261128-A001");
	assert_string_equal(str(t, "state"), "done");
	assert_true(cJSON_IsTrue(get(t, "closed_by_day")));
	assert_string_equal(str(window_now("1"), "state"), "idle");
	assert_int_equal(num(service_now("A"), "waiting"), 0);
	assert_int_equal(num(service_now("B"), "waiting"), 0);
	events = stream_events();
	assert_string_equal(str(get(get(cJSON_GetArrayItem(events, before + 2), "data"), "ticket"), "state"),
			    "expired");
	assert_string_equal(stream_types(before), "ticket window ticket ticket queue queue queue");
	/* a second run has nothing left to do */
	t = OK("qh_day");
	assert_int_equal(num(t, "expired"), 0);
	assert_int_equal(num(t, "remaining"), 0);
}

/* qserver passes the site-local hour with the day ("YYYY-MM-DDTHH"): statistics count in
 * it; a bare day still counts in the hour of the zone's offsets; a malformed one changes nothing. */
static void
stats__hour_given_with_the_day__counted_there(void **state)
{
	cJSON *rows;

	(void)state;
	OK("qh_setup", hall_hours);
	take("A", ""); /* T0 is 09:40 in Beijing */
	day = DAY1 "T09";
	take("A", "");
	day = DAY1 "T10";
	take("B", "");
	rows = get(OK("qh_stats", DAY1, DAY1, "hour", "", ""), "rows");
	assert_int_equal(num(find_id_key(rows, "08"), "issued"), 0);
	assert_int_equal(num(find_id_key(rows, "09"), "issued"), 2);
	assert_int_equal(num(find_id_key(rows, "10"), "issued"), 1);
	day = DAY1 "T24";
	assert_error(ERR("qh_take", "A", "", "", ""), "BAD_REQUEST day");
	day = "2026-11-2810";
	assert_error(ERR("qh_take", "A", "", "", ""), "BAD_REQUEST day");
	day = DAY1 "T9";
	assert_error(ERR("qh_take", "A", "", "", ""), "BAD_REQUEST day");
	day = DAY1;
	assert_string_equal(str(take("A", ""), "number"), "A003");
}

/* A caller that sends the day without the hour is a qserver of an earlier version sharing the
 * Redis during an upgrade: it reads only the JSON forms of results, so it gets them (else it
 * would answer `internal` for a ticket the call issued); qserver, sending the hour, gets the
 * text form. Both come out as the same ticket. */
static void
results__json_form_for_a_caller_without_the_hour(void **state)
{
	redisReply *r;
	cJSON *t;

	(void)state;
	day = DAY1;
	r = fcall_list("qh_take", "A", "", "", "", NULL);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_true(strncmp(r->str, "[\"ticket\",[\"T\",\"20261128-A001\"", 30) == 0);
	freeReplyObject(r);
	r = fcall_list("qh_open", "1", "c01", "test/1", "1895830000", NULL);
	freeReplyObject(r);
	r = fcall_list("qh_pause", "1", "lunch", NULL);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_true(strncmp(r->str, "[\"window\",[\"w\",\"1\",\"paused\"", 27) == 0);
	freeReplyObject(r);
	day = DAY1 "T09";
	r = fcall_list("qh_take", "A", "", "", "", NULL);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_true(strncmp(r->str, "ticket\nT,20261128-A002,", 23) == 0);
	freeReplyObject(r);
	t = get(OK("qh_ticket", "20261128-A001", "", ""), "ticket");
	assert_string_equal(str(t, "number"), "A001");
	assert_string_equal(str(t, "state"), "waiting");
	day = DAY1;
}

/* A check-in remembers its ticket in the appointment, whichever form the result takes (an
 * earlier qserver, sending no hour, gets the JSON one). */
static void
checkin__appointment_names_its_ticket_in_either_result_form(void **state)
{
	char from[24], until[24];
	const char *days[] = {DAY1, DAY1 "T09"};
	const char *codes[] = {"CODE1", "CODE2"};
	const char *ids[] = {"20261128-A001", "20261128-A002"};

	(void)state;
	snprintf(from, sizeof from, "%ld", now - 600);
	snprintf(until, sizeof until, "%ld", now + 3600);
	for (int i = 0; i < 2; i++) {
		day = days[i];
		OK("qh_book", "A", DAY1, "09:00", "09:30", "5", from, until, "13800000000", codes[i], "1");
		assert_string_equal(str(get(OK("qh_checkin", codes[i], ""), "ticket"), "id"), ids[i]);
		assert_string_equal(str(get(OK("qh_appointment", codes[i], "1"), "appointment"), "ticket"), ids[i]);
	}
	day = DAY1;
}

static void
day_change__closes_tickets_left_at_windows(void **state)
{
	cJSON *t, *row;

	(void)state;
	OK("qh_setup", hall_hours);
	open_window("1", "c01");
	take("A", "");
	take("A", "");
	call_next("1");
	now += 300;
	call_next("1"); /* A001 served 300 s; A002 called and left so overnight */
	OK("qh_start", "1");
	now = T0 + 86400;
	day = DAY2;
	OK("qh_day");
	t = ticket_by_id("20261128-A002");
	assert_string_equal(str(t, "state"), "done");
	assert_true(cJSON_IsTrue(get(t, "closed_by_day")));
	/* Saturday's closing time, 16:00 in Beijing */
	assert_int_equal(num(t, "finished_at"), 1795852800L);
	assert_string_equal(str(t, "clerk"), "c01");
	assert_null(cJSON_GetObjectItemCaseSensitive(ticket_by_id("20261128-A001"), "closed_by_day"));
	assert_string_equal(str(window_now("1"), "state"), "idle");
	/* neither learnt nor counted in service_mean, but served that day */
	assert_true(learnt("A") > 299.99 && learnt("A") < 300.01);
	row = stats_total(DAY1, DAY1);
	assert_int_equal(num(row, "served"), 2);
	assert_int_equal(num(row, "service_mean"), 300);
	assert_int_equal(num(row, "closed_by_day"), 1);
	row = stats_total("2026-11-01", "2026-11-30");
	assert_int_equal(num(row, "served"), 2);
	assert_int_equal(num(row, "service_mean"), 300);
}

/* A hall of n services S1..Sn, window i serving only Si. */
static const char *
hall_of_windows(int n)
{
	static char json[32768];
	size_t len = (size_t)snprintf(json, sizeof json, "{\"site\":{\"id\":\"t\"},\"services\":[");
	for (int i = 1; i <= n; i++)
		len += (size_t)snprintf(json + len, sizeof json - len,
					"%s{\"id\":\"S%d\",\"prefix\":\"S%d\",\"name\":\"s\",\"name_en\":\"s\"}",
					i > 1 ? "," : "", i, i);
	len += (size_t)snprintf(json + len, sizeof json - len, "],\"windows\":[");
	for (int i = 1; i <= n; i++)
		len += (size_t)snprintf(json + len, sizeof json - len,
					"%s{\"id\":%d,\"name\":\"w\",\"name_en\":\"w\",\"services\":[\"S%d\"]}",
					i > 1 ? "," : "", i, i);
	snprintf(json + len, sizeof json - len, "]}");
	return json;
}

static void
day_change__closes_tickets_at_many_windows__each_counted(void **state)
{
	enum { WINDOWS = 120 }; /* the day change's figures pass 200 fields of one hash */
	char win[16], svc[16], clerk[16];
	cJSON *rows, *row;

	(void)state;
	OK("qh_setup", hall_of_windows(WINDOWS));
	for (int i = 1; i <= WINDOWS; i++) {
		snprintf(win, sizeof win, "%d", i);
		snprintf(svc, sizeof svc, "S%d", i);
		snprintf(clerk, sizeof clerk, "k%d", i);
		open_window(win, clerk);
		take(svc, "");
		call_next(win);
	}
	now = T0 + 86400;
	day = DAY2;
	OK("qh_day");
	row = stats_total(DAY1, DAY1);
	assert_int_equal(num(row, "issued"), WINDOWS);
	assert_int_equal(num(row, "served"), WINDOWS);
	assert_int_equal(num(row, "closed_by_day"), WINDOWS);
	assert_int_equal(num(row, "waits"), WINDOWS);
	assert_int_equal(num(stats_total("2026-11-01", "2026-11-30"), "served"), WINDOWS);
	const char *dims[] = {"window", "clerk", "service"};
	for (size_t d = 0; d < 3; d++) {
		rows = get(OK("qh_stats", DAY1, DAY1, dims[d], "", ""), "rows");
		assert_int_equal(cJSON_GetArraySize(rows), WINDOWS);
		cJSON_ArrayForEach(row, rows) {
			assert_int_equal(num(row, "served"), 1);
			assert_int_equal(num(row, "closed_by_day"), 1);
			assert_int_equal(num(row, "waits"), 1);
		}
	}
	/* a window's own figures, as its clerk reads them */
	rows = get(OK("qh_stats", DAY1, DAY1, "clerk", "77", ""), "rows");
	assert_int_equal(cJSON_GetArraySize(rows), 1);
	assert_string_equal(str(cJSON_GetArrayItem(rows, 0), "key"), "k77");
	assert_int_equal(num(cJSON_GetArrayItem(rows, 0), "closed_by_day"), 1);
}

/* Counts the ticket events from entry `from` on whose ticket is in a state. */
static int
count_ticket_events(const cJSON *events, int from, const char *state)
{
	int n = 0;

	for (int i = from; i < cJSON_GetArraySize(events); i++) {
		cJSON *e = cJSON_GetArrayItem(events, i);

		if (strcmp(str(e, "type"), "ticket") == 0 &&
		    strcmp(str(get(get(e, "data"), "ticket"), "state"), state) == 0)
			n++;
	}
	return n;
}

static void
day_change__in_bounded_slices(void **state)
{
	static const char *services[] = {"A", "B", "C"};
	static const char *classes[] = {"normal", "priority", "appointment"};
	cJSON *t, *d, *row, *events;
	int before, last_expired = -1, first_queue = -1;

	(void)state;
	open_window("1", "c01");
	for (int i = 0; i < 451; i++)
		take(services[i % 3], classes[i % 3 == 0 ? 0 : (i / 3) % 3]);
	call_next("1");
	OK("qh_transfer", "1", "A", "3"); /* one of them now waits for window 3 only */
	before = stream_len();
	now = T0 + 86400;
	day = DAY2;
	/* the first write of the day runs the first slice; numbering restarts */
	t = take("A", "");
	assert_string_equal(str(t, "id"), "20261129-A001");
	assert_int_equal(num(t, "ahead"), 0);
	/* meanwhile the earlier day's tickets are out of every count, list and call */
	assert_int_equal(num(service_now("A"), "waiting"), 1);
	assert_int_equal(num(service_now("B"), "waiting"), 0);
	assert_string_equal(queue_numbers("", "", ""), "A001");
	assert_string_equal(queue_numbers("3", "", ""), "A001");
	assert_string_equal(str(ticket_by_id("20261128-A150"), "state"), "expired");
	assert_error(ERR("qh_call", "1", "c01", "20261128-A150"), "CONFLICT ticket");
	assert_error(ERR("qh_cancel", "20261128-A150"), "CONFLICT id");
	d = OK("qh_day");
	assert_int_equal(num(d, "expired"), 100);
	assert_int_equal(num(d, "remaining"), 251);
	assert_string_equal(str(call_next("1"), "id"), "20261129-A001");
	for (int i = 0; i < 2; i++) {
		d = OK("qh_day");
		assert_int_equal(num(d, "expired"), 100);
		assert_int_equal(num(d, "remaining"), 151 - 100 * i);
	}
	d = OK("qh_day");
	assert_int_equal(num(d, "expired"), 51);
	assert_int_equal(num(d, "remaining"), 0);
	d = OK("qh_day");
	assert_int_equal(num(d, "expired"), 0);
	assert_int_equal(num(d, "remaining"), 0);
	/* every one expired once, counted on its day, and the estimates were sent after */
	events = stream_events();
	assert_int_equal(count_ticket_events(events, before, "expired"), 451);
	for (int i = before; i < cJSON_GetArraySize(events); i++) {
		cJSON *e = cJSON_GetArrayItem(events, i);

		if (strcmp(str(e, "type"), "queue") == 0 && i > last_expired && first_queue < 0 &&
		    count_ticket_events(events, i, "expired") == 0)
			first_queue = i;
		if (strcmp(str(e, "type"), "ticket") == 0 &&
		    strcmp(str(get(get(e, "data"), "ticket"), "state"), "expired") == 0)
			last_expired = i;
	}
	assert_true(first_queue > last_expired);
	row = stats_total(DAY1, DAY1);
	assert_int_equal(num(row, "issued"), 451);
	assert_int_equal(num(row, "expired"), 451);
	row = stats_total("2026-11-01", "2026-11-30");
	assert_int_equal(num(row, "issued"), 452);
	assert_int_equal(num(row, "expired"), 451);
	assert_int_equal(num(service_now("C"), "waiting"), 0);
	redisReply *r = cmd("EXISTS %s:drain", PREFIX);
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
}

static void
day_change__runs_before_any_write(void **state)
{
	(void)state;
	take("A", "");
	now = T0 + 86400;
	day = DAY2;
	take("A", "");
	assert_string_equal(str(ticket_by_id("20261128-A001"), "state"), "expired");
	assert_string_equal(queue_numbers("", "", ""), "A001");
	assert_string_equal(str(get(OK("qh_queue", "", "", ""), "tickets")->child, "id"),
			    "20261129-A001");
}

static void
day_change__lagging_clock_keeps_the_day(void **state)
{
	(void)state;
	now = T0 + 86400;
	day = DAY2;
	take("A", "");
	now = T0 + 86000;
	day = DAY1;
	assert_string_equal(str(take("A", ""), "id"), "20261129-A002");
	assert_string_equal(str(ticket_by_id("20261129-A001"), "state"), "waiting");
}

/* ------------------------------------------------------------------------------------ */
/* events */

static void
events__take_publishes_ticket_then_queue_at_once(void **state)
{
	redisContext *sub;
	redisReply *r;
	struct timeval tv = {2, 0};
	cJSON *e;
	char *json;
	redisReply *ids;

	(void)state;
	sub = testredis_connect(&tr);
	assert_non_null(sub);
	redisSetTimeout(sub, tv);
	r = redisCommand(sub, "SUBSCRIBE %s", PREFIX ":ev");
	assert_non_null(r);
	freeReplyObject(r);
	take("A", "");

	assert_int_equal(redisGetReply(sub, (void **)&r), REDIS_OK);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal(r->elements, 3);
	json = strchr(r->element[2]->str, ' ');
	assert_non_null(json);
	/* the message starts with the stream id of the same event */
	ids = cmd("XRANGE %s - + COUNT 1", PREFIX ":events");
	assert_int_equal(ids->elements, 1);
	assert_memory_equal(r->element[2]->str, ids->element[0]->element[0]->str,
			    strlen(ids->element[0]->element[0]->str));
	freeReplyObject(ids);
	/* one message for the call: its events in order, as qserver makes them */
	cJSON *events = keep(cJSON_CreateArray());
	assert_int_equal(eventbuild_each(&hall_config, json + 1, strlen(json + 1), add_event, events), 2);
	freeReplyObject(r);
	e = get(cJSON_GetArrayItem(events, 0), "data");
	assert_string_equal(str(e, "event"), "ticket");
	assert_string_equal(str(get(e, "ticket"), "number"), "A001");
	e = get(cJSON_GetArrayItem(events, 1), "data");
	assert_string_equal(str(e, "event"), "queue");
	assert_string_equal(str(e, "service"), "A");
	assert_int_equal(num(e, "waiting"), 1);
	/* a new ticket would wait for A001 (300 s) and a window (the services' mean) */
	assert_gamma_estimate(e, 2, 300 + HALL_MIX);
	/* and one stream entry */
	ids = cmd("XLEN %s", PREFIX ":events");
	assert_int_equal(ids->integer, 1);
	freeReplyObject(ids);
	redisFree(sub);
}

/* A ticket life records the hall's learnt times once, when a finish learns them: later events
 * name that entry instead of repeating them, and every entry read alone (a qserver that starts
 * there, an SSE resume from it: the entries it names read when named) gives the events that
 * reading the stream in order gives. */
static void
events__learnt_times_recorded_once_and_named(void **state)
{
	char finish_id[STREAM_ID_TEXT_MAX], id[STREAM_ID_TEXT_MAX], named[STREAM_ID_TEXT_MAX + 2];
	const char *data;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	take("B", "");
	call_next("1");
	now += 60;
	OK("qh_finish", "1", "");
	data = last_entry(finish_id);
	assert_non_null(strstr(data, "\nL,*,"));
	take("C", "");
	data = last_entry(id);
	assert_null(strstr(data, "L,"));
	snprintf(named, sizeof named, "|@%s", finish_id);
	assert_non_null(strstr(data, named));
	/* the take's answer holds the learnt times whole: its estimate is the event's */
	cJSON *t = take("C", ""), *events = stream_events();
	cJSON *last = get(cJSON_GetArrayItem(events, cJSON_GetArraySize(events) - 2), "data");
	assert_int_equal(num(get(last, "ticket"), "ewt"), num(t, "ewt"));
	assert_true(num(t, "ewt") > 0);
	assert_read_alone_as_in_order();
}

/* A setup that drops a service at the first call of a new day: the day change before it records
 * the competing sets of the windows as they were (B with A and C), and the setup drops them all,
 * so a later event of B names learnt times recorded for B's new set (A and B), which qserver
 * builds whole. */
static void
setup__at_the_day_change_drops_a_peer__later_events_name_the_new_set(void **state)
{
	static const char *with_c =
		"{\"site\":{\"id\":\"t\"},\"services\":["
		"{\"id\":\"A\",\"prefix\":\"A\",\"service_time\":300},"
		"{\"id\":\"B\",\"prefix\":\"B\",\"service_time\":120},"
		"{\"id\":\"C\",\"prefix\":\"C\",\"service_time\":200}],"
		"\"windows\":[{\"id\":1,\"services\":[\"A\",\"B\"]},{\"id\":2,\"services\":[\"B\",\"C\"]}]}";
	static const char *without_c =
		"{\"site\":{\"id\":\"t\"},\"services\":["
		"{\"id\":\"A\",\"prefix\":\"A\",\"service_time\":300},"
		"{\"id\":\"B\",\"prefix\":\"B\",\"service_time\":120}],"
		"\"windows\":[{\"id\":1,\"services\":[\"A\",\"B\"]},{\"id\":2,\"services\":[\"B\"]}]}";
	char id[STREAM_ID_TEXT_MAX];
	const char *data;

	(void)state;
	OK("qh_setup", with_c);
	take("A", "");
	take("B", "");
	take("C", "");
	now = T0 + 86400;
	day = DAY2;
	OK("qh_setup", without_c);
	cJSON *t = take("B", "");
	data = last_entry(id);
	/* every entry is built whole, and the take's estimate is its event's */
	cJSON *events = stream_events();
	cJSON *last = get(cJSON_GetArrayItem(events, cJSON_GetArraySize(events) - 2), "data");
	assert_int_equal(num(get(last, "ticket"), "ewt"), num(t, "ewt"));
	assert_read_alone_as_in_order();
	/* B's set is A and B now: its learnt times are recorded again, not named from before */
	assert_int_equal(strncmp(data, "L,B,|300;120\n", 13), 0);
}

/* The day change drops the recorded learnt times: no event after it names an entry before it,
 * so the stream is trimmed back to the last day change at or before the retention's edge
 * (P:marks) and no kept entry names a trimmed one. */
static void
day_change__events_name_no_entry_before_it(void **state)
{
	char before_id[STREAM_ID_TEXT_MAX], id[STREAM_ID_TEXT_MAX];
	redisReply *r;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	call_next("1");
	now += 60;
	OK("qh_finish", "1", "");
	take("B", "");
	last_entry(before_id);
	/* marks of earlier day changes (real time, ms), 100 and 95 days and 1 day old */
	r = cmd("TIME");
	long long ms = atoll(r->element[0]->str) * 1000;
	freeReplyObject(r);
	r = cmd("ZADD %s:marks %lld %lld %lld %lld %lld %lld", PREFIX, ms - 100 * 86400000LL, ms - 100 * 86400000LL,
		ms - 95 * 86400000LL, ms - 95 * 86400000LL, ms - 86400000LL, ms - 86400000LL);
	freeReplyObject(r);
	now = T0 + 86400;
	day = DAY2;
	OK("qh_day");
	take("A", "");
	last_entry(id);
	unsigned long long before_ms, before_seq, named_ms, named_seq;
	assert_int_equal(sscanf(before_id, "%llu-%llu", &before_ms, &before_seq), 2);
	r = cmd("XRANGE %s (%s +", PREFIX ":events", before_id);
	assert_true(r->elements > 0);
	for (size_t i = 0; i < r->elements; i++)
		for (const char *at = r->element[i]->element[1]->element[1]->str; (at = strstr(at, "|@")) != NULL; at += 2)
			if (sscanf(at + 2, "%llu-%llu", &named_ms, &named_seq) == 2)
				assert_true(named_ms > before_ms || (named_ms == before_ms && named_seq > before_seq));
	freeReplyObject(r);
	/* trimmed to the mark of 95 days ago (the latest at or before the 90 days kept): the one
	 * before it is no longer needed */
	r = cmd("ZRANGE %s:marks 0 0", PREFIX);
	assert_int_equal(r->elements, 1);
	assert_int_equal(atoll(r->element[0]->str), ms - 95 * 86400000LL);
	freeReplyObject(r);
	assert_read_alone_as_in_order();
}

/* A stream whose last entry is ahead of Redis's clock (ids never go back, the clock may): the
 * day change's mark comes after that entry, not at the clock, so trimming back to the mark
 * cannot keep an entry written before the mark and drop an entry that one names. */
static void
day_change__stream_ahead_of_the_clock__the_mark_follows_its_last_entry(void **state)
{
	redisReply *r;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	r = cmd("TIME");
	long long ahead = atoll(r->element[0]->str) * 1000 + 3600000LL;
	freeReplyObject(r);
	r = cmd("XADD %s:events %lld-5 data x", PREFIX, ahead);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	freeReplyObject(r);
	now = T0 + 86400;
	day = DAY2;
	OK("qh_day");
	r = cmd("ZREVRANGE %s:marks 0 0 WITHSCORES", PREFIX);
	assert_int_equal(r->elements, 2);
	char want[64];
	snprintf(want, sizeof want, "%lld-6", ahead);
	assert_string_equal(r->element[0]->str, want);
	assert_int_equal(atoll(r->element[1]->str), ahead);
	freeReplyObject(r);
	/* every entry the day change and later calls write is at or after the mark */
	char id[STREAM_ID_TEXT_MAX];
	take("A", "");
	last_entry(id);
	unsigned long long id_ms, id_seq;
	assert_int_equal(sscanf(id, "%llu-%llu", &id_ms, &id_seq), 2);
	assert_true(id_ms == (unsigned long long)ahead && id_seq >= 6);
}

static void
events__call_next_records_the_call(void **state)
{
	cJSON *events, *called;
	int before;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	take("A", "");
	call_next("1");
	before = stream_len();
	call_next("1");
	assert_string_equal(stream_types(before), "ticket ticket called window queue");
	events = stream_events();
	called = get(cJSON_GetArrayItem(events, before + 2), "data");
	assert_string_equal(str(get(called, "ticket"), "number"), "A002");
	assert_int_equal(num(get(called, "window"), "id"), 1);
	assert_string_equal(str(get(called, "window"), "name"), "1号窗口");
	assert_int_equal(num(called, "recall"), 0);
	assert_int_equal(num(called, "at"), now);
}

/* Asserts that the stream's last entry is `want` up to its queue line (or the whole of it). */
static void
assert_last_entry_starts(const char *want)
{
	char id[STREAM_ID_TEXT_MAX];
	const char *data = last_entry(id);

	if (strncmp(data, want, strlen(want)) != 0)
		fail_msg("the last entry is\n%s\nnot\n%s...", data, want);
}

/* A ticket's life records its lines under kinds the version before does not know ("U", "C",
 * "W"), each leaving out what the ticket's line tells, while the results and the take's entry
 * keep "T" with the state's word, which that version reads; clients get every value, read in
 * order and alone. */
static void
events__a_life_in_lines_of_their_own_kinds__results_as_before(void **state)
{
	char want[256];
	const char *result;
	redisReply *r;
	cJSON *events, *e;
	int before;
	long issued = now, called, started, finished;

	(void)state;
	day = DAY1 "T09"; /* with the hour, as qserver calls: the results in the text form */
	open_window("1", "c01");
	r = fcall_list("qh_take", "A", "", "", "", NULL);
	snprintf(want, sizeof want, "ticket\nT,20261128-A001,,A,,,waiting,%ld,", issued);
	assert_int_equal(strncmp(r->str, want, strlen(want)), 0);
	freeReplyObject(r);
	/* a waiting ticket's line keeps "T": a take's entry is one the version before reads */
	snprintf(want, sizeof want, "T,20261128-A001,,A,,,waiting,%ld,", issued);
	assert_last_entry_starts(want);
	before = stream_len();
	called = now += 60;
	r = fcall_list("qh_call_next", "1", "", NULL);
	snprintf(want, sizeof want, "ticket\nT,20261128-A001,,A,,,called,%ld,60,,,1,c01", issued);
	assert_string_equal(r->str, want);
	freeReplyObject(r);
	snprintf(want, sizeof want, "U,20261128-A001,,A,,,c,%ld,60,,,1,c01\nC\nW,c\nq,A,0,", issued);
	assert_last_entry_starts(want);
	now += 45;
	OK("qh_recall", "1");
	snprintf(want, sizeof want, "U,20261128-A001,,A,,,c,%ld,60,,,1,c01,1\nC,45", issued);
	assert_last_entry_starts(want);
	started = now += 15;
	OK("qh_start", "1");
	snprintf(want, sizeof want, "U,20261128-A001,,A,,,s,%ld,60,120,,1,c01,1\nW,s", issued);
	assert_last_entry_starts(want);
	finished = now += 300;
	OK("qh_finish", "1", "");
	snprintf(want, sizeof want, "U,20261128-A001,,A,,,d,%ld,60,120,420,1,c01,1\nW,i\n", issued);
	assert_last_entry_starts(want);
	/* what clients get: every value the lines leave out */
	assert_string_equal(stream_types(before), "ticket called window queue ticket called ticket window ticket window "
						  "queue");
	events = stream_events();
	e = get(cJSON_GetArrayItem(events, before + 1), "data");
	assert_int_equal(num(get(e, "window"), "id"), 1);
	assert_int_equal(num(e, "recall"), 0);
	assert_int_equal(num(e, "at"), called);
	e = get(get(cJSON_GetArrayItem(events, before + 2), "data"), "window");
	assert_string_equal(str(e, "state"), "calling");
	assert_string_equal(str(e, "ticket"), "A001");
	assert_string_equal(str(e, "clerk"), "c01");
	assert_int_equal(num(e, "since"), called);
	e = get(cJSON_GetArrayItem(events, before + 5), "data");
	assert_int_equal(num(e, "recall"), 1);
	assert_int_equal(num(e, "at"), called + 45);
	e = get(get(cJSON_GetArrayItem(events, before + 7), "data"), "window");
	assert_string_equal(str(e, "state"), "serving");
	assert_string_equal(str(e, "ticket"), "A001");
	assert_int_equal(num(e, "since"), started);
	e = get(get(cJSON_GetArrayItem(events, before + 9), "data"), "window");
	assert_string_equal(str(e, "state"), "idle");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "ticket")));
	assert_int_equal(num(e, "since"), finished);
	/* a window whose clerk is not its ticket's (the lease ran out, another clerk called) tells
	 * its own, escaped */
	OK("qh_open", "3", "c,0\\1", "qs1/x", "1");
	take("A", "");
	result = raw("qh_call_next", "3", "c02", NULL);
	assert_non_null(strstr(result, "\"clerk\":\"c02\""));
	assert_last_entry_starts("U,20261128-A002,,A,,,c,");
	assert_non_null(strstr(last_entry(want), "\nC\nW,c,,,c\\,0\\\\1\nq,"));
	events = stream_events();
	e = get(get(cJSON_GetArrayItem(events, cJSON_GetArraySize(events) - 2), "data"), "window");
	assert_string_equal(str(e, "clerk"), "c,0\\1");
	assert_read_alone_as_in_order();
	result = raw("qh_ticket", "20261128-A001", "", NULL);
	assert_non_null(strstr(result, "\"state\":\"done\""));
}

static void
events__pause_updates_estimates(void **state)
{
	int before;

	(void)state;
	open_window("2", "c02");
	before = stream_len();
	OK("qh_pause", "2", "");
	assert_string_equal(stream_types(before), "window queue");
	before = stream_len();
	open_window("1", "c01");
	assert_string_equal(stream_types(before), "window queue queue queue");
}

static void
events__pause_reason_with_separators__comes_out_whole(void **state)
{
	cJSON *events, *w;
	int before;

	(void)state;
	/* a ',', a newline and a backslash: what separates and escapes the stream's values */
	open_window("1", "c,0\\1");
	take("A", "");
	before = stream_len();
	call_next("1");
	assert_string_equal(stream_types(before), "ticket called window queue");
	events = stream_events();
	assert_string_equal(str(get(get(cJSON_GetArrayItem(events, before), "data"), "ticket"), "clerk"), "c,0\\1");
	assert_string_equal(str(get(get(cJSON_GetArrayItem(events, before + 2), "data"), "window"), "clerk"),
			    "c,0\\1");
	OK("qh_finish", "1", "");
	before = stream_len();
	OK("qh_pause", "1", "午休, back at 2\nsee \\desk,");
	events = stream_events();
	assert_int_equal(cJSON_GetArraySize(events), before + 4);
	w = get(get(cJSON_GetArrayItem(events, before), "data"), "window");
	assert_string_equal(str(w, "state"), "paused");
	assert_string_equal(str(w, "reason"), "午休, back at 2\nsee \\desk,");
	assert_string_equal(str(w, "clerk"), "c,0\\1");
}

static void
events__entries_of_earlier_versions__read_with_the_new_ones(void **state)
{
	cJSON *events, *e;

	(void)state;
	/* a stream an earlier version wrote: a JSON array of compact events, one event object */
	freeReplyObject(cmd("XADD %s * data %s", PREFIX ":events",
			    "[[\"T\",\"20261128-A009\",\"\",\"A\",\"\",\"\",\"done\",\"1795830000\",\"60\",\"\",\"300\","
			    "\"1\",\"c01\"],[\"w\",\"1\",\"idle\",\"\",\"c01\",\"1795830300\",\"\"]]"));
	freeReplyObject(cmd("XADD %s * data %s", PREFIX ":events", "{\"event\":\"queue\",\"service\":\"B\"}"));
	take("A", "");
	events = stream_events();
	assert_int_equal(cJSON_GetArraySize(events), 5);
	e = get(get(cJSON_GetArrayItem(events, 0), "data"), "ticket");
	assert_string_equal(str(e, "number"), "A009");
	assert_int_equal(num(e, "finished_at"), 1795830300);
	assert_string_equal(str(get(cJSON_GetArrayItem(events, 1), "data"), "event"), "window");
	assert_string_equal(str(get(cJSON_GetArrayItem(events, 2), "data"), "service"), "B");
	e = get(get(cJSON_GetArrayItem(events, 3), "data"), "ticket");
	assert_string_equal(str(e, "number"), "A001");
	assert_string_equal(str(get(cJSON_GetArrayItem(events, 4), "data"), "event"), "queue");
}

/* ------------------------------------------------------------------------------------ */
/* errors and deadlines */

/* Every key of the site and its DUMP, as one comparable string (malloc'd). */
static char *
dump_site(size_t *len)
{
	char *buf = testredis_dump(c, PREFIX ":*", len);

	assert_non_null(buf);
	return buf;
}

static void
error__changes_nothing(void **state)
{
	char *before, *after;
	size_t blen, alen;
	char lease[32];
	char longref[80];

	(void)state;
	open_window("1", "c01");
	open_window("3", "c03");
	take("A", "");
	take("B", "");
	take("A", "");
	call_next("1");
	now += 10;
	memset(longref, 'x', 65);
	longref[65] = '\0';
	snprintf(lease, sizeof lease, "%ld", now + 60);
	before = dump_site(&blen);

	ERR("qh_take", "Z", "", "", "");
	ERR("qh_take", "A", "vip", "", "");
	ERR("qh_take", "A", "", "", longref);
	ERR("qh_call_next", "2", "");
	ERR("qh_call", "1", "", "A404");
	ERR("qh_call", "3", "", "B001");
	ERR("qh_start", "3");
	ERR("qh_finish", "1", "9");
	ERR("qh_finish", "3", "");
	ERR("qh_recall", "3");
	ERR("qh_no_show", "1", "2");
	ERR("qh_transfer", "1", "Z", "");
	ERR("qh_transfer", "1", "B", "3");
	ERR("qh_transfer", "3", "B", "");
	ERR("qh_cancel", "20261128-A001");
	ERR("qh_rate", "20261128-A002", "5");
	ERR("qh_pause", "1", "");
	ERR("qh_close", "1");
	ERR("qh_resume", "3");
	ERR("qh_open", "1", "c02", "qs1/c02", lease);
	ERR("qh_open", "1", "c02", "qs1/c02", "soon");
	ERR("qh_setup", "{\"services\":[{\"id\":\"A\"}],\"windows\":[{\"id\":1,\"services\":[\"Q\"]}]}");
	deadline = "1"; /* long past */
	assert_error(ERR("qh_take", "A", "", "", ""), "UNAVAILABLE -");
	assert_error(ERR("qh_call_next", "1", ""), "UNAVAILABLE -");
	deadline = "0";

	after = dump_site(&alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(before);
	free(after);
}

static void
deadline__in_the_future__accepted(void **state)
{
	char future[32];
	struct timeval tv;

	(void)state;
	gettimeofday(&tv, NULL);
	snprintf(future, sizeof future, "%lld", (long long)tv.tv_sec * 1000 + 60000);
	deadline = future;
	assert_string_equal(str(take("A", ""), "number"), "A001");
	deadline = "0";
}

/* ------------------------------------------------------------------------------------ */
/* persistence */

static void
restart__tickets_and_functions_survive_kill(void **state)
{
	struct testredis aof;
	redisContext *saved = c;
	redisContext *rc;

	(void)state;
	assert_int_equal(testredis_start(&aof, true), 0);
	rc = testredis_connect(&aof);
	assert_non_null(rc);
	assert_int_equal(load_library(rc), 0);
	c = rc;
	OK("qh_setup", hall);
	take("A", "");
	testredis_kill(&aof);
	redisFree(rc);
	c = saved;

	assert_int_equal(testredis_restart(&aof), 0);
	rc = testredis_connect(&aof);
	assert_non_null(rc);
	c = rc;
	/* no FUNCTION LOAD: the library came back with the data */
	assert_string_equal(str(ticket_by_id("20261128-A001"), "state"), "waiting");
	assert_string_equal(str(take("A", ""), "number"), "A002");
	c = saved;
	redisFree(rc);
	testredis_stop(&aof);
}

/* ------------------------------------------------------------------------------------ */
/* Notifications (docs/notifications.md) */

#define SECRET1 "secret-of-ticket-1"

/* Takes a ticket with a secret, a ref and notify marks ("" for none); returns the Ticket. */
static cJSON *
take_notify(const char *service, const char *ahead, const char *ewt)
{
	return get(OK("qh_take", service, "", "", "13800000000", SECRET1, ahead, ewt), "ticket");
}

/* Claims due deliveries at now_ms for claimer; returns the parsed list. */
static cJSON *
claim(const char *now_ms, const char *claimer)
{
	redisReply *r = fcall_list("qh_notify_claim", now_ms, "30000", "100", claimer, NULL);
	cJSON *j = r->type == REDIS_REPLY_STRING ? cJSON_Parse(r->str) : NULL;

	if (j == NULL)
		fail_msg("qh_notify_claim: %s", r->str != NULL ? r->str : "?");
	freeReplyObject(r);
	return keep(j);
}

/* The string at position i of a claimed delivery. */
static const char *
part(const cJSON *d, int i)
{
	const cJSON *v = cJSON_GetArrayItem(d, i);

	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

/* A delivery is claimed by one claimer at a time; after its lease another gets it, the first
 * claimer's late settle changes nothing, a retry is due at its time, done forgets it. */
static void
notify__claims_leases_and_settles(void **state)
{
	cJSON *list, *d;

	(void)state;
	take_notify("A", "5", ""); /* nobody ahead: near at once */
	list = claim("1000", "qsA");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	d = cJSON_GetArrayItem(list, 0);
	assert_string_equal(part(d, 0), "20261128-A001:near");
	assert_string_equal(part(d, 1), "20261128-A001");
	assert_string_equal(part(d, 2), "near");
	assert_string_equal(part(d, 3), "A001");
	assert_string_equal(part(d, 4), "13800000000");
	assert_string_equal(part(d, 5), "0");
	assert_string_equal(part(d, 7), "");
	assert_string_equal(part(d, 8), "1");
	assert_string_equal(part(d, 9), "1000");
	assert_string_equal(part(d, 10), "qsA:1");
	assert_int_equal(cJSON_GetArraySize(claim("30999", "qsB")), 0); /* held by qsA */
	list = claim("31000", "qsB");					  /* qsA's lease ran out */
	assert_int_equal(cJSON_GetArraySize(list), 1);
	d = cJSON_GetArrayItem(list, 0);
	assert_string_equal(part(d, 8), "2");
	assert_string_equal(part(d, 9), "1000"); /* the first attempt's time stays */
	assert_string_equal(part(d, 10), "qsB:2");
	assert_non_null(strstr(raw("qh_notify_settle", "20261128-A001:near", "qsA:1", "done", "", NULL), "false"));
	assert_non_null(strstr(raw("qh_notify_settle", "20261128-A001:near", "qsB:2", "retry", "40000", NULL), "true"));
	assert_int_equal(cJSON_GetArraySize(claim("39999", "qsA")), 0);
	d = cJSON_GetArrayItem(claim("40000", "qsA"), 0);
	assert_string_equal(part(d, 10), "qsA:3");
	assert_non_null(strstr(raw("qh_notify_settle", "20261128-A001:near", "qsA:3", "done", "", NULL), "true"));
	assert_int_equal(cJSON_GetArraySize(claim("999999999", "qsA")), 0);
	redisReply *r = cmd("EXISTS %s:nd:20261128-A001:near", PREFIX);
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	assert_error(ERR("qh_notify_settle", "20261128-A001:near", "qsA:3", "later", ""), "BAD_REQUEST outcome");
}

/* near comes when a call leaves the ticket at its mark, once; called comes once, with the
 * window, however often the ticket is recalled. */
static void
notify__near_then_called_once_each(void **state)
{
	cJSON *list;

	(void)state;
	take("A", "");
	take("A", "");
	take_notify("A", "1", "");
	assert_int_equal(cJSON_GetArraySize(claim("1", "qs")), 0); /* two ahead */
	open_window("1", "c01");
	call_next("1");
	list = claim("2", "qs");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(part(cJSON_GetArrayItem(list, 0), 0), "20261128-A003:near");
	assert_string_equal(part(cJSON_GetArrayItem(list, 0), 5), "1");
	raw("qh_notify_settle", "20261128-A003:near", "qs:1", "done", "", NULL);
	call_next("1");
	assert_int_equal(cJSON_GetArraySize(claim("3", "qs")), 0); /* near was sent already */
	call_next("1");
	OK("qh_recall", "1");
	list = claim("4", "qs");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(part(cJSON_GetArrayItem(list, 0), 0), "20261128-A003:called");
	assert_string_equal(part(cJSON_GetArrayItem(list, 0), 7), "1");
}

/* A watcher behind another is still told when its own mark is larger: the check goes on past
 * a watcher that is not near while a later one may be. */
static void
notify__later_watcher_with_a_larger_mark__told(void **state)
{
	cJSON *list;

	(void)state;
	take("A", "");
	take("A", "");
	take_notify("A", "0", ""); /* A003: two ahead, mark 0 */
	take_notify("A", "3", ""); /* A004: three ahead, mark 3 */
	list = claim("1", "qs");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(part(cJSON_GetArrayItem(list, 0), 0), "20261128-A004:near");
	assert_string_equal(part(cJSON_GetArrayItem(list, 0), 5), "3");
}

/* An ewt mark is judged on the ticket's estimated wait in whole seconds: a ticket whose
 * estimate is over its mark is not near, one within it is, and the notification carries the
 * estimate as a number of seconds. */
static void
notify__ewt_mark__near_when_the_estimate_is_within_it(void **state)
{
	cJSON *list;

	(void)state;
	open_window("1", "c01");
	take("A", "");
	take("A", "");
	take("A", "");
	take_notify("A", "", "60"); /* A004: three ahead at one window, minutes away */
	assert_int_equal(cJSON_GetArraySize(claim("1", "qs")), 0);
	take_notify("A", "", "86400"); /* A005: within a day, surely */
	list = claim("2", "qs");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(part(cJSON_GetArrayItem(list, 0), 0), "20261128-A005:near");
	const char *ewt = part(cJSON_GetArrayItem(list, 0), 6);
	assert_true(ewt[0] != '\0' && strspn(ewt, "0123456789") == strlen(ewt));
	assert_true(atoi(ewt) > 60);
}

/* A near whose ticket no longer waits when it is claimed is dropped. */
static void
notify__moot_near__dropped(void **state)
{
	(void)state;
	take_notify("A", "5", "");
	OK("qh_cancel", "20261128-A001", SECRET1);
	assert_int_equal(cJSON_GetArraySize(claim("1", "qs")), 0);
	redisReply *r = cmd("ZCARD %s:nq", PREFIX);
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
}

/* The notify op sets marks with the ticket's secret only, for a waiting ticket, and ticket
 * shows them to the secret's holder only. */
static void
notify__op_needs_the_secret_and_a_waiting_ticket(void **state)
{
	cJSON *res;

	(void)state;
	take("B", "");
	take_notify("A", "", "");
	assert_error(ERR("qh_notify", "A001", "", "3", ""), "UNAUTHENTICATED secret");
	assert_error(ERR("qh_notify", "A001", "wrong-secret-of-it", "3", ""), "UNAUTHENTICATED secret");
	assert_error(ERR("qh_notify", "A001", SECRET1, "", ""), "BAD_REQUEST notify");
	assert_error(ERR("qh_notify", "A001", SECRET1, "1000", ""), "BAD_REQUEST notify");
	assert_error(ERR("qh_notify", "A009", SECRET1, "3", ""), "NOT_FOUND ticket");
	assert_null(cJSON_GetObjectItemCaseSensitive(OK("qh_ticket", "", "A001", SECRET1), "notify"));
	assert_error(ERR("qh_notify", "A001", SECRET1, "3", "", "12345678901234567890123456789012345678901234567890123456789012345"),
		     "BAD_REQUEST ref");
	res = OK("qh_notify", "A001", SECRET1, "", "60", "13900000001");
	assert_int_equal(num(get(res, "notify"), "ewt"), 60);
	assert_string_equal(str(get(res, "ticket"), "number"), "A001");
	assert_int_equal(num(get(OK("qh_ticket", "", "A001", SECRET1), "notify"), "ewt"), 60);
	assert_null(cJSON_GetObjectItemCaseSensitive(OK("qh_ticket", "", "A001", ""), "notify"));
	OK("qh_cancel", "A001", SECRET1);
	assert_error(ERR("qh_notify", "A001", SECRET1, "3", ""), "CONFLICT ticket");
	/* settled (packed), it still shows its marks to the secret's holder only */
	assert_int_equal(num(get(OK("qh_ticket", "", "A001", SECRET1), "notify"), "ewt"), 60);
	assert_null(cJSON_GetObjectItemCaseSensitive(OK("qh_ticket", "", "A001", ""), "notify"));
	assert_error(ERR("qh_ticket", "", "A001", "wrong-secret-of-it"), "UNAUTHENTICATED secret");
}

/* A ticket transferred to another service is watched there: its near comes when the new
 * service's queue brings it to its mark. */
static void
notify__transfer__watched_in_the_new_service(void **state)
{
	cJSON *list;

	(void)state;
	take("C", "");
	take_notify("A", "0", ""); /* C001 is ahead of it in the hall-wide queue */
	assert_int_equal(cJSON_GetArraySize(claim("1", "qs")), 0);
	open_window("3", "c03"); /* serves A and C */
	OK("qh_call", "3", "", "A001");
	list = claim("2", "qs");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(part(cJSON_GetArrayItem(list, 0), 0), "20261128-A001:called");
	raw("qh_notify_settle", "20261128-A001:called", "qs:1", "done", "", NULL);
	OK("qh_transfer", "3", "C", ""); /* waits in C at its first place, behind C001 */
	assert_int_equal(cJSON_GetArraySize(claim("3", "qs")), 0);
	assert_string_equal(str(call_next("3"), "number"), "C001");
	list = claim("4", "qs");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(part(cJSON_GetArrayItem(list, 0), 0), "20261128-A001:near");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(notify__claims_leases_and_settles),
		T(notify__near_then_called_once_each),
		T(notify__later_watcher_with_a_larger_mark__told),
		T(notify__ewt_mark__near_when_the_estimate_is_within_it),
		T(notify__moot_near__dropped),
		T(notify__op_needs_the_secret_and_a_waiting_ticket),
		T(notify__transfer__watched_in_the_new_service),
		T(take__first_ticket__numbered_and_waiting),
		T(take__integers_not_in_exponent_form),
		T(take__now_with_extra_zeros__stored_as_read),
		T(take__hash_keeps_only_what_the_id_does_not_tell),
		T(take__config_of_another_type__error_then_reads_as_before),
		T(ticket__hash_of_an_earlier_version__read_as_before),
		T(take__unknown_service__not_found),
		T(take__bad_class__bad_request),
		T(take__ref_over_64_characters__bad_request),
		T(take__bad_channel__bad_request),
		T(numbering__counts_per_service_and_pads),
		T(numbering__restarts_each_day),
		T(ticket__unknown__not_found),
		T(call_next__priority_before_normal),
		T(call_next__longest_wait_across_services),
		T(call_next__specialised_window_skips_other_services),
		T(call_next__comprehensive_window_calls_every_service),
		T(call_next__finishes_current_ticket),
		T(call_next__nothing_waiting__null_and_window_idle),
		T(call_next__closed_or_paused_window__conflict),
		T(call__out_of_order_by_number),
		T(call__service_not_served__conflict),
		T(recall__counts_and_announces_again),
		T(recall__serving__conflict),
		T(start_finish__done_with_times_and_rating),
		T(no_show__requeue__back_of_the_queue),
		T(no_show__final__leaves_the_queue),
		T(transfer__keeps_issue_time),
		T(transfer__to_window__only_that_window_calls_it),
		T(transfer__nothing_called__conflict),
		T(cancel__waiting_ticket__leaves_queue),
		T(rate__done_ticket__once),
		T(open__closed_window__idle_with_clerk),
		T(open__other_live_clerk__conflict),
		T(open__reconnecting_clerk__keeps_called_ticket),
		T(lease__renews_only_own_holder),
		T(open__takeover_publishes_old_holder_and_lease_reports_lost),
		T(release__frees_window_for_another_clerk),
		T(pause_resume_close__window_states),
		T(window__since_is_its_last_state_change),
		T(call_next__manager_for_a_window_records_its_clerk),
		T(pause__ticket_called__conflict),
		T(ewt__median_and_range_of_the_stages_ahead),
		T(ewt__tickets_ahead_weigh_their_own_service_time),
		T(ewt__ticket_in_front_waits_for_a_window_to_come_free),
		T(ewt__grows_with_every_ticket_ahead_without_steps),
		T(ewt__learns_service_time),
		T(ewt__one_outlier_moves_the_estimate_under_10_percent),
		T(ewt__higher_classes_expected_to_jump_ahead),
		T(ewt__no_show_feeds_the_time_a_window_is_held),
		T(ewt__clicked_through_tickets_leave_a_usable_estimate),
		T(ewt__hall_of_many_services_counts_the_tickets_ahead_at_the_hall_mix),
		T(ewt__specialised_hall_counts_competing_services),
		T(queue__call_order_with_limit_and_service),
		T(snapshot__services_windows_recent_newest_first),
		T(snapshot__recent_keeps_the_last_ten_calls),
		T(services__counts_follow_every_write),
		T(snapshot__many_services_each_told_what_its_take_would_answer),
		T(snapshot__services_with_windows_idle_or_busy_told_apart),
		T(snapshot__services_with_windows_open_or_closed_told_apart),
		T(snapshot__services_of_different_times_told_apart_before_any_finish),
		T(snapshot__empty_lists_are_arrays),
		T(setup__keeps_live_window_state),
		T(setup__a_dropped_services_ticket_finishes_without_learning_or_queue_event),
		T(setup__services_read_with_the_settings__older_store_and_dropped_service),
		T(stats__wait_per_spell_service_time_and_fold),
		T(day_change__expires_waiting),
		T(stats__records_of_the_older_text_form_still_count),
		T(stats__a_damaged_counter_counts_as_nothing_and_the_call_goes_through),
		T(stats__counters_at_and_past_a_million_are_written_whole),
		T(stats__a_folded_days_window_hash_is_compact_again_with_the_same_figures),
		T(packed__settled_ticket__found_by_id_and_number_as_before),
		T(packed__rated_late_with_the_secret_and_listed),
		T(packed__value_too_long_for_a_listpack__still_works),
		T(packed__phone_ref_and_secret__fit_a_listpack),
		T(packed__retention_changed__applies_to_tickets_settled_after),
		T(packed__day_change_run_late__tickets_kept_their_retention),
		T(stats__hour_given_with_the_day__counted_there),
		T(results__json_form_for_a_caller_without_the_hour),
		T(checkin__appointment_names_its_ticket_in_either_result_form),
		T(day_change__closes_tickets_left_at_windows),
		T(day_change__closes_tickets_at_many_windows__each_counted),
		T(day_change__in_bounded_slices),
		T(day_change__runs_before_any_write),
		T(day_change__lagging_clock_keeps_the_day),
		T(events__take_publishes_ticket_then_queue_at_once),
		T(events__call_next_records_the_call),
		T(events__a_life_in_lines_of_their_own_kinds__results_as_before),
		T(events__learnt_times_recorded_once_and_named),
		T(setup__at_the_day_change_drops_a_peer__later_events_name_the_new_set),
		T(day_change__events_name_no_entry_before_it),
		T(day_change__stream_ahead_of_the_clock__the_mark_follows_its_last_entry),
		T(events__pause_updates_estimates),
		T(events__pause_reason_with_separators__comes_out_whole),
		T(events__entries_of_earlier_versions__read_with_the_new_ones),
		T(error__changes_nothing),
		T(deadline__in_the_future__accepted),
		T(restart__tickets_and_functions_survive_kill),
#undef T
	};

	return cmocka_run_group_tests_name("functions", tests, group_setup, group_teardown);
}
