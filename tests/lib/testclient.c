/* A blocking NDJSON test client built on common/syncclient, with queues for events and
 * responses that arrive while it waits for something else. */
#include "testclient.h"

#include "syncclient.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct tc {
	struct sync_client *sc;
	cJSON *events;	  /* array of events not yet taken */
	cJSON *responses; /* array of responses not yet taken */
	int timeout_ms;
	bool closed;
};

/* Milliseconds of the monotonic clock, for deadlines. */
static long long tc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline, never negative. */
static int tc_left(long long deadline)
{
	long long left = deadline - tc_now_ms();
	return left < 0 ? 0 : (int)left;
}

/* The default timeout, which slow (sanitized, loaded) CI machines may raise. */
static int tc_default_timeout(void)
{
	const char *env = getenv("QHALL_TEST_TIMEOUT_MS");
	int ms = env ? atoi(env) : 0;
	return ms > 0 ? ms : TC_DEFAULT_TIMEOUT_MS;
}

/* Connects to any client address. */
struct tc *tc_connect_to(const char *server)
{
	struct tc *tc = calloc(1, sizeof *tc);
	if (!tc)
		return NULL;
	tc->timeout_ms = tc_default_timeout();
	tc->sc = sync_connect(server, tc->timeout_ms);
	tc->events = cJSON_CreateArray();
	tc->responses = cJSON_CreateArray();
	if (!tc->sc || !tc->events || !tc->responses) {
		fprintf(stderr, "testclient: cannot connect to %s: %m\n", server);
		tc_close(tc);
		return NULL;
	}
	return tc;
}

/* Connects to the loopback port a test server listens on. */
struct tc *tc_connect(int port)
{
	char server[32];
	snprintf(server, sizeof server, "127.0.0.1:%d", port);
	return tc_connect_to(server);
}

/* Sets the request timeout. */
void tc_set_timeout(struct tc *tc, int timeout_ms)
{
	if (timeout_ms > 0)
		tc->timeout_ms = timeout_ms;
}

/* Sends raw bytes. */
int tc_send_raw(struct tc *tc, const void *bytes, size_t len)
{
	if (sync_send_raw(tc->sc, bytes, len, tc->timeout_ms) != SYNC_OK) {
		fprintf(stderr, "testclient: send failed: %s\n", sync_error(tc->sc));
		return -1;
	}
	return 0;
}

/* Sends text with a newline, unless it already ends with one. */
static int tc_send_text(struct tc *tc, const char *text)
{
	size_t len = strlen(text);
	if (len > 0 && text[len - 1] == '\n')
		return tc_send_raw(tc, text, len);
	if (sync_send_line(tc->sc, text, tc->timeout_ms) != SYNC_OK) {
		fprintf(stderr, "testclient: send failed: %s\n", sync_error(tc->sc));
		return -1;
	}
	return 0;
}

/* Sends one printf-built line. */
int tc_send_line(struct tc *tc, const char *fmt, ...)
{
	va_list ap;
	char *text;
	va_start(ap, fmt);
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	int r = tc_send_text(tc, text);
	free(text);
	return r;
}

/* Whether a message is an event (it has "event" and no "id"). */
static bool tc_is_event(const cJSON *msg)
{
	return cJSON_GetObjectItemCaseSensitive(msg, "event") && !cJSON_GetObjectItemCaseSensitive(msg, "id");
}

/* Reads and parses the next line; NULL on timeout, close (tc->closed) or error. Lines that
 * are not JSON objects are reported and skipped: the protocol never sends them. */
static cJSON *tc_read_message(struct tc *tc, long long deadline)
{
	for (;;) {
		char *line;
		size_t len;
		enum sync_status st = sync_read_line(tc->sc, tc_left(deadline), &line, &len);
		if (st == SYNC_CLOSED)
			tc->closed = true;
		if (st != SYNC_OK)
			return NULL;
		cJSON *msg = cJSON_ParseWithLength(line, len);
		if (cJSON_IsObject(msg)) {
			free(line);
			return msg;
		}
		fprintf(stderr, "testclient: server sent a line that is not a JSON object: %.200s\n", line);
		cJSON_Delete(msg);
		free(line);
	}
}

/* Whether two ids are the same number or string. */
static bool tc_same_id(const cJSON *a, const cJSON *b)
{
	if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
		return a->valuedouble == b->valuedouble;
	if (cJSON_IsString(a) && cJSON_IsString(b))
		return strcmp(a->valuestring, b->valuestring) == 0;
	return false;
}

/* Takes the first queued response with id want (any when want is NULL), or NULL. */
static cJSON *tc_take_queued_response(struct tc *tc, const cJSON *want)
{
	int n = cJSON_GetArraySize(tc->responses);
	for (int i = 0; i < n; i++) {
		cJSON *resp = cJSON_GetArrayItem(tc->responses, i);
		if (!want || tc_same_id(cJSON_GetObjectItemCaseSensitive(resp, "id"), want))
			return cJSON_DetachItemFromArray(tc->responses, i);
	}
	return NULL;
}

/* Waits for the response with id want (any when NULL), queueing everything else. */
static cJSON *tc_wait_response(struct tc *tc, const cJSON *want, long long deadline)
{
	cJSON *resp = tc_take_queued_response(tc, want);
	while (!resp) {
		cJSON *msg = tc_read_message(tc, deadline);
		if (!msg)
			return NULL;
		if (tc_is_event(msg))
			cJSON_AddItemToArray(tc->events, msg);
		else if (!want || tc_same_id(cJSON_GetObjectItemCaseSensitive(msg, "id"), want))
			resp = msg;
		else
			cJSON_AddItemToArray(tc->responses, msg);
	}
	return resp;
}

/* Sends a printf-built request and waits for its response. */
cJSON *tc_request(struct tc *tc, const char *fmt, ...)
{
	va_list ap;
	char *text;
	va_start(ap, fmt);
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	long long deadline = tc_now_ms() + tc->timeout_ms;
	cJSON *req = cJSON_Parse(text);
	cJSON *want = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(req, "id"), true);
	cJSON_Delete(req);
	cJSON *resp = NULL;
	if (tc_send_text(tc, text) == 0)
		resp = tc_wait_response(tc, want, deadline);
	if (!resp && tc->closed)
		fprintf(stderr, "testclient: no response to %.200s: the server closed the connection\n", text);
	else if (!resp)
		fprintf(stderr, "testclient: no response to %.200s within %d ms (%s)\n", text,
			tc->timeout_ms, sync_error(tc->sc));
	cJSON_Delete(want);
	free(text);
	return resp;
}

/* Returns the next response in arrival order. */
cJSON *tc_read_response(struct tc *tc, int timeout_ms)
{
	return tc_wait_response(tc, NULL, tc_now_ms() + timeout_ms);
}

/* Returns the next event, queued first. */
cJSON *tc_next_event(struct tc *tc, int timeout_ms)
{
	if (cJSON_GetArraySize(tc->events) > 0)
		return cJSON_DetachItemFromArray(tc->events, 0);
	long long deadline = tc_now_ms() + timeout_ms;
	for (;;) {
		cJSON *msg = tc_read_message(tc, deadline);
		if (!msg)
			return NULL;
		if (tc_is_event(msg))
			return msg;
		cJSON_AddItemToArray(tc->responses, msg);
	}
}

/* Drops queued events. */
int tc_drain_events(struct tc *tc)
{
	int n = cJSON_GetArraySize(tc->events);
	cJSON_Delete(tc->events);
	tc->events = cJSON_CreateArray();
	return n;
}

/* Returns the next raw line. */
char *tc_read_line(struct tc *tc, int timeout_ms)
{
	char *line;
	size_t len;
	enum sync_status st = sync_read_line(tc->sc, timeout_ms, &line, &len);
	if (st == SYNC_CLOSED)
		tc->closed = true;
	return st == SYNC_OK ? line : NULL;
}

/* Reads until the server closes or the time is up. */
bool tc_closed_by_peer(struct tc *tc, int timeout_ms)
{
	long long deadline = tc_now_ms() + timeout_ms;
	while (!tc->closed) {
		char *line;
		size_t len;
		enum sync_status st = sync_read_line(tc->sc, tc_left(deadline), &line, &len);
		if (st == SYNC_CLOSED) {
			tc->closed = true;
			break;
		}
		if (st != SYNC_OK)
			return false;
		cJSON *msg = cJSON_ParseWithLength(line, len);
		free(line);
		if (!cJSON_IsObject(msg))
			cJSON_Delete(msg);
		else
			cJSON_AddItemToArray(tc_is_event(msg) ? tc->events : tc->responses, msg);
	}
	return true;
}

/* Sends a hello built from args (taken) and reports a refusal. */
static bool tc_hello(struct tc *tc, cJSON *args)
{
	cJSON_AddStringToObject(args, "op", "hello");
	cJSON_AddStringToObject(args, "id", "tc-hello");
	char *text = cJSON_PrintUnformatted(args);
	cJSON_Delete(args);
	if (!text)
		return false;
	cJSON *resp = tc_request(tc, "%s", text);
	bool ok = tc_ok(resp);
	if (!ok && resp) {
		char *printed = cJSON_PrintUnformatted(resp);
		fprintf(stderr, "testclient: %s was refused: %s\n", text, printed);
		free(printed);
	}
	cJSON_Delete(resp);
	free(text);
	return ok;
}

/* hello as a clerk. */
bool tc_hello_clerk(struct tc *tc, const char *user, const char *password, int window)
{
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "role", "clerk");
	cJSON_AddStringToObject(args, "user", user);
	cJSON_AddStringToObject(args, "password", password);
	cJSON_AddNumberToObject(args, "window", window);
	return tc_hello(tc, args);
}

/* hello as a manager. */
bool tc_hello_manager(struct tc *tc, const char *user, const char *password)
{
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "role", "manager");
	cJSON_AddStringToObject(args, "user", user);
	cJSON_AddStringToObject(args, "password", password);
	return tc_hello(tc, args);
}

/* hello as a kiosk. */
bool tc_hello_kiosk(struct tc *tc, const char *token)
{
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "role", "kiosk");
	cJSON_AddStringToObject(args, "token", token);
	return tc_hello(tc, args);
}

/* Whether the response says ok. */
bool tc_ok(const cJSON *resp)
{
	return resp && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"));
}

/* The error code, if any. */
const char *tc_error_code(const cJSON *resp)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(resp, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
	return cJSON_IsString(code) ? code->valuestring : NULL;
}

/* Closes and frees. */
void tc_close(struct tc *tc)
{
	if (!tc)
		return;
	sync_close(tc->sc);
	cJSON_Delete(tc->events);
	cJSON_Delete(tc->responses);
	free(tc);
}
