/* Unit tests of common/client.c and common/syncclient.c against a fake NDJSON server that runs
 * on the same libevent loop (or, for the blocking client, on a thread of its own).
 *
 * The fake server answers by op: hello (refused when fx->refuse_hello), subscribe, snapshot
 * ("conn": its connection number), echo ("echo": value), event (an event line, then the reply),
 * ignore (no reply), hold (no reply until flush), flush (the held replies in reverse order, then
 * its own), hangup (closes the connection), overlong (a 70000-byte line). While fx->mute it
 * reads and records requests but answers none (a hung server). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "frame.h"
#include "syncclient.h"

#define MAX_CONNS 16
#define MAX_OPS 64
#define MAX_RECS 300

/* What one reply callback saw. */
struct rec {
	int calls;
	bool was_null;
	char echo[64];
	int seq; /* order among replies and events */
};

struct fake_conn {
	struct fixture *fx;
	struct bufferevent *bev;
	int number; /* 1 for the first connection */
};

struct fixture {
	struct event_base *base;
	struct event *tick; /* keeps EVLOOP_ONCE from blocking longer than a few ms */
	struct evconnlistener *listener;
	char server[128];
	char unix_dir[64];
	struct fake_conn *conns[MAX_CONNS];
	int nconns;
	char ops[MAX_OPS][48]; /* "connection:op" in arrival order */
	int nops;
	bool refuse_hello;
	bool mute; /* record requests, answer nothing */
	int hello_unavailable; /* this many hellos answer unavailable first */
	int hello_rate_limited; /* this many hellos answer rate_limited, retry_after 1, first */
	cJSON *held; /* requests of op hold, answered by flush */
	char hello_user[32];

	struct client *c;
	int connected, ready, disconnected, hello_failed, events, ended;
	int snapshot_conn;
	int event_seq;
	char last_reason[256];
	char last_event[32];
	bool free_on_event;
	bool request_on_connected;
	struct rec rec[MAX_RECS];
	int seq;
	atomic_bool stop_thread;
};

/* Milliseconds of the monotonic clock. */
static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until cond holds or ms pass; the tick bounds each iteration. */
#define RUN_UNTIL(fx, cond, ms)                                                  \
	do {                                                                     \
		long long deadline_ = now_ms() + (ms);                           \
		while (!(cond) && now_ms() < deadline_)                          \
			event_base_loop((fx)->base, EVLOOP_ONCE);                \
	} while (0)

/* Records an op as "connection:op". */
static void fake_record(struct fake_conn *conn, const char *op)
{
	struct fixture *fx = conn->fx;
	if (fx->nops < MAX_OPS)
		snprintf(fx->ops[fx->nops++], sizeof fx->ops[0], "%d:%s", conn->number, op);
}

/* Whether "connection:op" was recorded. */
static bool fake_saw(struct fixture *fx, const char *entry)
{
	for (int i = 0; i < fx->nops; i++)
		if (strcmp(fx->ops[i], entry) == 0)
			return true;
	return false;
}

/* Writes one JSON object as a line to the client. */
static void fake_send(struct fake_conn *conn, cJSON *msg)
{
	char *text = cJSON_PrintUnformatted(msg);
	frame_write_line(bufferevent_get_output(conn->bev), text, strlen(text));
	free(text);
	cJSON_Delete(msg);
}

/* Builds {"id": <the request's id>, "ok": ok}. */
static cJSON *fake_reply(const cJSON *req, bool ok)
{
	cJSON *resp = cJSON_CreateObject();
	cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
	if (id)
		cJSON_AddItemToObject(resp, "id", cJSON_Duplicate(id, true));
	cJSON_AddBoolToObject(resp, "ok", ok);
	return resp;
}

/* Builds {"id": <the request's id>, "ok": false, "error": {"code", "message"}}. */
static cJSON *fake_error(const cJSON *req, const char *code, const char *message)
{
	cJSON *resp = fake_reply(req, false);
	cJSON *error = cJSON_AddObjectToObject(resp, "error");
	cJSON_AddStringToObject(error, "code", code);
	cJSON_AddStringToObject(error, "message", message);
	return resp;
}

/* Closes a fake connection. */
static void fake_close(struct fake_conn *conn)
{
	if (conn->bev)
		bufferevent_free(conn->bev);
	conn->bev = NULL;
}

/* Answers one request according to its op; returns false when the connection was closed. */
static bool fake_handle(struct fake_conn *conn, cJSON *req)
{
	struct fixture *fx = conn->fx;
	const cJSON *op_item = cJSON_GetObjectItemCaseSensitive(req, "op");
	const char *op = cJSON_IsString(op_item) ? op_item->valuestring : "?";
	fake_record(conn, op);
	if (fx->mute)
		return true;
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(req, "value");
	if (strcmp(op, "hello") == 0) {
		const cJSON *user = cJSON_GetObjectItemCaseSensitive(req, "user");
		snprintf(fx->hello_user, sizeof fx->hello_user, "%s",
			 cJSON_IsString(user) ? user->valuestring : "");
		if (fx->hello_rate_limited > 0) {
			fx->hello_rate_limited--;
			cJSON *resp = fake_error(req, "rate_limited", "too many failed sign-ins");
			cJSON_AddNumberToObject(resp, "retry_after", 1);
			fake_send(conn, resp);
		} else if (fx->hello_unavailable > 0) {
			fx->hello_unavailable--;
			fake_send(conn, fake_error(req, "unavailable", "storage is unreachable"));
		} else if (fx->refuse_hello) {
			fake_send(conn, fake_error(req, "unauthenticated", "wrong user or password"));
		} else {
			cJSON *resp = fake_reply(req, true);
			cJSON_AddStringToObject(resp, "role", "clerk");
			fake_send(conn, resp);
		}
	} else if (strcmp(op, "snapshot") == 0) {
		cJSON *resp = fake_reply(req, true);
		cJSON_AddNumberToObject(resp, "conn", conn->number);
		fake_send(conn, resp);
	} else if (strcmp(op, "echo") == 0 || strcmp(op, "subscribe") == 0 || strcmp(op, "ping") == 0) {
		cJSON *resp = fake_reply(req, true);
		if (value)
			cJSON_AddItemToObject(resp, "echo", cJSON_Duplicate(value, true));
		fake_send(conn, resp);
	} else if (strcmp(op, "event") == 0) {
		cJSON *event = cJSON_CreateObject();
		cJSON_AddStringToObject(event, "event", "queue");
		cJSON_AddStringToObject(event, "service", "A");
		cJSON_AddNumberToObject(event, "waiting", 12);
		fake_send(conn, event);
		fake_send(conn, fake_reply(req, true));
	} else if (strcmp(op, "hold") == 0) {
		cJSON_AddItemToArray(fx->held, cJSON_Duplicate(req, true));
	} else if (strcmp(op, "flush") == 0) {
		for (int i = cJSON_GetArraySize(fx->held) - 1; i >= 0; i--) {
			const cJSON *held = cJSON_GetArrayItem(fx->held, i);
			cJSON *resp = fake_reply(held, true);
			cJSON_AddItemToObject(resp, "echo",
					      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(held, "value"), true));
			fake_send(conn, resp);
		}
		cJSON_Delete(fx->held);
		fx->held = cJSON_CreateArray();
		fake_send(conn, fake_reply(req, true));
	} else if (strcmp(op, "replace") == 0) {
		/* As qserver does when the same clerk signs in at the window elsewhere. */
		cJSON *event = cJSON_CreateObject();
		cJSON_AddStringToObject(event, "event", "session");
		cJSON_AddStringToObject(event, "reason", "replaced");
		cJSON_AddStringToObject(event, "message", "This clerk signed in at this window from another place.");
		fake_send(conn, event);
		/* Written now: freeing the bufferevent would drop what it still holds. */
		struct evbuffer *out = bufferevent_get_output(conn->bev);
		size_t n = evbuffer_get_length(out);
		assert_int_equal(write(bufferevent_getfd(conn->bev), evbuffer_pullup(out, -1), n), (ssize_t)n);
		fake_close(conn);
		return false;
	} else if (strcmp(op, "hangup") == 0) {
		fake_close(conn);
		return false;
	} else if (strcmp(op, "overlong") == 0) {
		size_t n = 70000;
		char *junk = malloc(n + 1);
		memset(junk, 'x', n);
		junk[n] = '\n';
		evbuffer_add(bufferevent_get_output(conn->bev), junk, n + 1);
		free(junk);
	}
	/* "ignore" and unknown ops get no answer. */
	return true;
}

/* Reads request lines on a fake connection. */
static void fake_read_cb(struct bufferevent *bev, void *arg)
{
	struct fake_conn *conn = arg;
	char *line;
	size_t len;
	while (conn->bev && frame_read_line(bufferevent_get_input(bev), &line, &len) == FRAME_LINE) {
		cJSON *req = cJSON_ParseWithLength(line, len);
		free(line);
		bool open = fake_handle(conn, req);
		cJSON_Delete(req);
		if (!open)
			break;
	}
}

/* Closes the server side when the client goes away. */
static void fake_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		fake_close(arg);
}

/* Accepts a client connection into the fake server. */
static void fake_accept_cb(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
			   int socklen, void *arg)
{
	(void)listener;
	(void)sa;
	(void)socklen;
	struct fixture *fx = arg;
	if (fx->nconns == MAX_CONNS) {
		close(fd);
		return;
	}
	struct fake_conn *conn = calloc(1, sizeof *conn);
	conn->fx = fx;
	conn->number = fx->nconns + 1;
	conn->bev = bufferevent_socket_new(fx->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(conn->bev, fake_read_cb, NULL, fake_event_cb, conn);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	fx->conns[fx->nconns++] = conn;
}

/* Does nothing; its timer only wakes the loop. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Creates the loop and a fake server on 127.0.0.1 (unix_socket false) or a Unix socket. */
static struct fixture *fixture_new(bool unix_socket)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	assert_non_null(fx);
	fx->base = event_base_new();
	fx->held = cJSON_CreateArray();
	fx->tick = event_new(fx->base, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval tv = {0, 5000};
	event_add(fx->tick, &tv);
	if (unix_socket) {
		strcpy(fx->unix_dir, "/tmp/qhall-test-client-XXXXXX");
		assert_non_null(mkdtemp(fx->unix_dir));
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		snprintf(sun.sun_path, sizeof sun.sun_path, "%s/sock", fx->unix_dir);
		fx->listener = evconnlistener_new_bind(fx->base, fake_accept_cb, fx, LEV_OPT_CLOSE_ON_FREE,
						       16, (struct sockaddr *)&sun, sizeof sun);
		snprintf(fx->server, sizeof fx->server, "unix:%s", sun.sun_path);
	} else {
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		fx->listener = evconnlistener_new_bind(fx->base, fake_accept_cb, fx,
						       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
						       (struct sockaddr *)&sin, sizeof sin);
		assert_non_null(fx->listener);
		socklen_t len = sizeof sin;
		getsockname(evconnlistener_get_fd(fx->listener), (struct sockaddr *)&sin, &len);
		snprintf(fx->server, sizeof fx->server, "127.0.0.1:%d", ntohs(sin.sin_port));
	}
	assert_non_null(fx->listener);
	return fx;
}

/* Frees the client (if any), the fake server and the loop. */
static void fixture_free(struct fixture *fx)
{
	client_free(fx->c);
	for (int i = 0; i < fx->nconns; i++) {
		fake_close(fx->conns[i]);
		free(fx->conns[i]);
	}
	evconnlistener_free(fx->listener);
	event_free(fx->tick);
	event_base_free(fx->base);
	cJSON_Delete(fx->held);
	if (fx->unix_dir[0]) {
		char path[128];
		snprintf(path, sizeof path, "%s/sock", fx->unix_dir);
		unlink(path);
		rmdir(fx->unix_dir);
	}
	free(fx);
}

static int setup_tcp(void **state)
{
	*state = fixture_new(false);
	return 0;
}

static int setup_unix(void **state)
{
	*state = fixture_new(true);
	return 0;
}

static int teardown(void **state)
{
	fixture_free(*state);
	return 0;
}

/* Records a reply in the rec it was sent with. */
static void on_reply(void *arg, cJSON *response)
{
	struct rec *r = arg;
	r->calls++;
	r->was_null = response == NULL;
	const cJSON *echo = cJSON_GetObjectItemCaseSensitive(response, "echo");
	snprintf(r->echo, sizeof r->echo, "%s", cJSON_IsString(echo) ? echo->valuestring : "");
}

/* A reply callback that records, then frees the client it came from. */
static void on_reply_then_free(void *arg, cJSON *response)
{
	struct fixture *fx = arg;
	fx->rec[0].calls++;
	fx->rec[0].was_null = response == NULL;
	client_free(fx->c);
	fx->c = NULL;
}

static void on_connected(struct client *c, void *arg)
{
	struct fixture *fx = arg;
	fx->connected++;
	if (fx->request_on_connected) {
		cJSON *args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "value", "early");
		assert_int_equal(client_request(c, "echo", args, on_reply, &fx->rec[0]), 0);
	}
}

static void on_ready(struct client *c, cJSON *hello, cJSON *snapshot, void *arg)
{
	(void)c;
	(void)hello;
	struct fixture *fx = arg;
	fx->ready++;
	const cJSON *conn = cJSON_GetObjectItemCaseSensitive(snapshot, "conn");
	fx->snapshot_conn = cJSON_IsNumber(conn) ? conn->valueint : 0;
}

static void on_hello_failed(struct client *c, cJSON *response, void *arg)
{
	(void)c;
	(void)response;
	struct fixture *fx = arg;
	fx->hello_failed++;
}

static void on_event(struct client *c, cJSON *event, void *arg)
{
	struct fixture *fx = arg;
	fx->events++;
	fx->event_seq = ++fx->seq;
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(event, "event");
	snprintf(fx->last_event, sizeof fx->last_event, "%s", name->valuestring);
	if (fx->free_on_event) {
		client_free(c);
		fx->c = NULL;
	}
}

static void on_disconnected(struct client *c, const char *reason, void *arg)
{
	(void)c;
	struct fixture *fx = arg;
	fx->disconnected++;
	snprintf(fx->last_reason, sizeof fx->last_reason, "%s", reason);
}

static void on_session_ended(struct client *c, cJSON *event, void *arg)
{
	(void)c;
	struct fixture *fx = arg;
	fx->ended++;
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(event, "reason");
	snprintf(fx->last_reason, sizeof fx->last_reason, "%s", reason->valuestring);
}

static const struct client_callbacks callbacks = {
	.on_session_ended = on_session_ended,
	.on_connected = on_connected,
	.on_ready = on_ready,
	.on_hello_failed = on_hello_failed,
	.on_event = on_event,
	.on_disconnected = on_disconnected,
};

/* Creates the client with fast test timings (server may be another address). */
static struct client *start_client(struct fixture *fx, const char *server)
{
	fx->c = client_new(fx->base, server ? server : fx->server, &callbacks, fx);
	assert_non_null(fx->c);
	client_set_backoff(fx->c, 10, 50);
	return fx->c;
}

/* Sets hello (a clerk), subscribe to everything and the snapshot. */
static void want_full_session(struct client *c)
{
	cJSON *hello = cJSON_CreateObject();
	cJSON_AddStringToObject(hello, "role", "clerk");
	cJSON_AddStringToObject(hello, "user", "c01");
	cJSON_AddStringToObject(hello, "password", "secret");
	cJSON_AddNumberToObject(hello, "window", 3);
	client_set_hello(c, hello);
	client_set_subscribe(c, NULL);
	client_want_snapshot(c, true);
}

/* Sends {"op": op, "value": value} with rec i for its reply. */
static int send_value(struct fixture *fx, const char *op, const char *value, int i)
{
	cJSON *args = NULL;
	if (value) {
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "value", value);
	}
	return client_request(fx->c, op, args, on_reply, &fx->rec[i]);
}

/* Responses answered out of order still reach the callbacks of their own requests. */
static void request__replies_out_of_order__matched_by_id(void **state)
{
	struct fixture *fx = *state;
	start_client(fx, NULL);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	assert_int_equal(fx->ready, 1);
	assert_true(client_is_ready(fx->c));
	assert_string_equal(client_status_text(fx->c), "connected");
	assert_int_equal(send_value(fx, "hold", "v0", 0), 0);
	assert_int_equal(send_value(fx, "hold", "v1", 1), 0);
	assert_int_equal(send_value(fx, "hold", "v2", 2), 0);
	assert_int_equal(send_value(fx, "flush", NULL, 3), 0);
	assert_int_equal(client_pending_count(fx->c), 4);
	RUN_UNTIL(fx, fx->rec[3].calls == 1, 2000);
	for (int i = 0; i < 3; i++) {
		char want[16];
		snprintf(want, sizeof want, "v%d", i);
		assert_int_equal(fx->rec[i].calls, 1);
		assert_false(fx->rec[i].was_null);
		assert_string_equal(fx->rec[i].echo, want);
	}
	assert_int_equal(client_pending_count(fx->c), 0);
}

/* A request with no answer gets cb(NULL) after its timeout; the connection stays. */
static void request__no_reply__times_out_with_null(void **state)
{
	struct fixture *fx = *state;
	start_client(fx, NULL);
	client_set_request_timeout(fx->c, 100);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	long long start = now_ms();
	assert_int_equal(send_value(fx, "ignore", NULL, 0), 0);
	RUN_UNTIL(fx, fx->rec[0].calls > 0, 2000);
	assert_int_equal(fx->rec[0].calls, 1);
	assert_true(fx->rec[0].was_null);
	assert_true(now_ms() - start >= 90);
	assert_int_equal(send_value(fx, "echo", "still", 1), 0);
	RUN_UNTIL(fx, fx->rec[1].calls > 0, 2000);
	assert_string_equal(fx->rec[1].echo, "still");
	assert_int_equal(fx->disconnected, 0);
	assert_int_equal(fx->rec[0].calls, 1); /* never a second call */
}

/* A drop answers pending requests with NULL, then hello, subscribe and snapshot are redone. */
static void disconnect__pending_get_null__session_redone_on_reconnect(void **state)
{
	struct fixture *fx = *state;
	start_client(fx, NULL);
	want_full_session(fx->c);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	assert_int_equal(fx->ready, 1);
	assert_string_equal(fx->ops[0], "1:hello");
	assert_string_equal(fx->ops[1], "1:subscribe");
	assert_string_equal(fx->ops[2], "1:snapshot");
	assert_int_equal(fx->snapshot_conn, 1);
	assert_int_equal(send_value(fx, "ignore", NULL, 0), 0);
	assert_int_equal(send_value(fx, "hangup", NULL, 1), 0);
	RUN_UNTIL(fx, fx->disconnected == 1, 2000);
	assert_int_equal(fx->rec[0].calls, 1);
	assert_true(fx->rec[0].was_null);
	assert_int_equal(fx->rec[1].calls, 1);
	assert_true(fx->rec[1].was_null);
	assert_string_equal(fx->last_reason, "server closed the connection");
	assert_false(client_is_connected(fx->c));
	assert_int_equal(strncmp(client_status_text(fx->c), "reconnecting in ", 16), 0);
	assert_int_equal(send_value(fx, "echo", "x", 2), -1); /* refused while down, no callback */
	RUN_UNTIL(fx, fx->ready == 2, 3000);
	assert_int_equal(fx->ready, 2);
	assert_true(fake_saw(fx, "2:hello"));
	assert_true(fake_saw(fx, "2:subscribe"));
	assert_true(fake_saw(fx, "2:snapshot"));
	assert_string_equal(fx->hello_user, "c01");
	assert_int_equal(fx->snapshot_conn, 2);
	assert_int_equal(fx->connected, 2);
	assert_int_equal(fx->rec[2].calls, 0);
}

/* A session/replaced event ends the session for good: pending requests get NULL, the program
 * is told, and the client does not reconnect (the new session keeps the window). */
static void session_replaced__reported_and_no_reconnect(void **state)
{
	struct fixture *fx = *state;
	start_client(fx, NULL);
	want_full_session(fx->c);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	assert_int_equal(send_value(fx, "ignore", NULL, 0), 0);
	assert_int_equal(send_value(fx, "replace", NULL, 1), 0);
	RUN_UNTIL(fx, fx->ended == 1, 2000);
	assert_int_equal(fx->ended, 1);
	assert_string_equal(fx->last_reason, "replaced");
	assert_int_equal(fx->rec[0].calls, 1);
	assert_true(fx->rec[0].was_null);
	assert_int_equal(fx->events, 0);
	assert_int_equal(fx->disconnected, 0);
	assert_true(client_is_ended(fx->c));
	assert_false(client_is_connected(fx->c));
	assert_int_equal(strncmp(client_status_text(fx->c), "signed in elsewhere: ", 21), 0);
	assert_int_equal(send_value(fx, "echo", "x", 2), -1);
	/* Many backoff periods (10 to 50 ms here) later, still no new connection. */
	RUN_UNTIL(fx, fx->nconns > 1, 500);
	assert_int_equal(fx->nconns, 1);
	assert_int_equal(fx->connected, 1);
}

/* A hello refused as rate_limited with retry_after: the client waits that long before it
 * tries again, however short its backoff (10 to 50 ms here), then signs in. */
static void hello_rate_limited__waits_retry_after(void **state)
{
	struct fixture *fx = *state;
	fx->hello_rate_limited = 1;
	start_client(fx, NULL);
	want_full_session(fx->c);
	RUN_UNTIL(fx, fx->hello_failed == 1, 2000);
	assert_int_equal(fx->hello_failed, 1);
	long long refused_at = now_ms();
	RUN_UNTIL(fx, fx->ready == 1, 5000);
	assert_int_equal(fx->ready, 1);
	assert_true(now_ms() - refused_at >= 900);
	assert_int_equal(fx->nconns, 2);
}

/* A line over 65536 bytes from the server is a protocol error: drop, then reconnect. */
static void overlong_line__drops_and_reconnects(void **state)
{
	struct fixture *fx = *state;
	start_client(fx, NULL);
	client_want_snapshot(fx->c, true);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	assert_int_equal(send_value(fx, "overlong", NULL, 0), 0);
	RUN_UNTIL(fx, fx->disconnected == 1, 2000);
	assert_int_equal(fx->disconnected, 1);
	assert_non_null(strstr(fx->last_reason, "65536"));
	assert_int_equal(fx->rec[0].calls, 1);
	assert_true(fx->rec[0].was_null);
	RUN_UNTIL(fx, fx->ready == 2, 3000);
	assert_int_equal(fx->ready, 2);
	assert_int_equal(fx->snapshot_conn, 2);
}

/* Events go to on_event, in order with the responses around them. */
static void event__delivered_to_on_event(void **state)
{
	struct fixture *fx = *state;
	start_client(fx, NULL);
	client_set_subscribe(fx->c, NULL);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	assert_int_equal(send_value(fx, "event", NULL, 0), 0);
	RUN_UNTIL(fx, fx->rec[0].calls == 1, 2000);
	assert_int_equal(fx->events, 1);
	assert_string_equal(fx->last_event, "queue");
	assert_false(fx->rec[0].was_null);
}

/* A refused hello is reported; the client stays connected as public and sends nothing more
 * until the session is restarted with good credentials. */
static void hello_refused__reported_and_stays_connected(void **state)
{
	struct fixture *fx = *state;
	fx->refuse_hello = true;
	start_client(fx, NULL);
	want_full_session(fx->c);
	RUN_UNTIL(fx, fx->hello_failed == 1, 2000);
	assert_int_equal(fx->hello_failed, 1);
	RUN_UNTIL(fx, false, 100); /* give a wrong subscribe or reconnect the time to show */
	assert_true(client_is_connected(fx->c));
	assert_false(client_is_ready(fx->c));
	assert_int_equal(fx->nops, 1);
	assert_int_equal(fx->ready, 0);
	assert_non_null(strstr(client_status_text(fx->c), "hello refused: wrong user or password"));
	fx->refuse_hello = false;
	assert_int_equal(client_restart_session(fx->c), 0);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	assert_int_equal(fx->ready, 1);
	assert_int_equal(fx->nconns, 1);
	assert_true(fake_saw(fx, "1:subscribe"));
}

/* A request made in on_connected is held until the session is set up. */
static void request_during_setup__sent_after_snapshot(void **state)
{
	struct fixture *fx = *state;
	fx->request_on_connected = true;
	start_client(fx, NULL);
	want_full_session(fx->c);
	RUN_UNTIL(fx, fx->rec[0].calls == 1, 2000);
	assert_string_equal(fx->rec[0].echo, "early");
	assert_int_equal(fx->nops, 4);
	assert_string_equal(fx->ops[2], "1:snapshot");
	assert_string_equal(fx->ops[3], "1:echo");
}

/* At most CLIENT_MAX_PENDING requests wait; the next is refused, and freeing the client
 * answers every one of them with NULL exactly once. */
static void pending_limit__next_refused__free_answers_all(void **state)
{
	struct fixture *fx = *state;
	start_client(fx, NULL);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	for (int i = 0; i < CLIENT_MAX_PENDING; i++)
		assert_int_equal(send_value(fx, "ignore", NULL, i), 0);
	assert_int_equal(send_value(fx, "ignore", NULL, CLIENT_MAX_PENDING), -1);
	assert_int_equal(errno, EAGAIN);
	client_free(fx->c);
	fx->c = NULL;
	for (int i = 0; i <= CLIENT_MAX_PENDING; i++) {
		assert_int_equal(fx->rec[i].calls, i < CLIENT_MAX_PENDING ? 1 : 0);
		assert_true(i == CLIENT_MAX_PENDING || fx->rec[i].was_null);
	}
}

/* A line over the protocol limit, or output a server does not read, is refused up front. */
static void request__too_big_or_output_full__refused(void **state)
{
	struct fixture *fx = *state;
	start_client(fx, NULL);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	char *big = malloc(FRAME_MAX_LINE);
	memset(big, 'b', FRAME_MAX_LINE - 1);
	big[FRAME_MAX_LINE - 1] = '\0';
	assert_int_equal(send_value(fx, "echo", big, 0), -1);
	assert_int_equal(errno, EMSGSIZE);
	/* Without running the loop nothing leaves the output buffer, so it fills. */
	big[60000] = '\0';
	int accepted = 0;
	while (accepted < 100 && send_value(fx, "ignore", big, accepted + 1) == 0)
		accepted++;
	free(big);
	assert_int_equal(errno, ENOBUFS);
	assert_true(accepted >= 15 && accepted <= CLIENT_MAX_OUTPUT / 60000);
}

/* client_free inside on_event is deferred: no use after free, pending get NULL. */
static void free_inside_event_callback__deferred_safely(void **state)
{
	struct fixture *fx = *state;
	start_client(fx, NULL);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	fx->free_on_event = true;
	assert_int_equal(send_value(fx, "event", NULL, 0), 0);
	RUN_UNTIL(fx, fx->c == NULL, 2000);
	assert_null(fx->c);
	assert_int_equal(fx->rec[0].calls, 1);
	assert_true(fx->rec[0].was_null);
	RUN_UNTIL(fx, false, 50); /* nothing may fire on the freed client */
}

/* client_free inside a reply callback is deferred too. */
static void free_inside_reply_callback__deferred_safely(void **state)
{
	struct fixture *fx = *state;
	start_client(fx, NULL);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	assert_int_equal(client_request(fx->c, "echo", NULL, on_reply_then_free, fx), 0);
	assert_int_equal(send_value(fx, "echo", "after", 1), 0);
	RUN_UNTIL(fx, fx->c == NULL, 2000);
	assert_int_equal(fx->rec[0].calls, 1);
	assert_false(fx->rec[0].was_null);
	assert_int_equal(fx->rec[1].calls, 1); /* the second got NULL from the free */
	assert_true(fx->rec[1].was_null);
	RUN_UNTIL(fx, false, 50);
}

/* With nothing listening, the status counts down to the next attempt and says why. */
static void server_down__status_says_reconnecting(void **state)
{
	struct fixture *fx = *state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sin;
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	close(fd); /* the port is now (almost certainly) closed */
	char server[64];
	snprintf(server, sizeof server, "127.0.0.1:%d", ntohs(sin.sin_port));
	start_client(fx, server);
	client_set_backoff(fx->c, 2000, 5000);
	RUN_UNTIL(fx, strncmp(client_status_text(fx->c), "reconnecting", 12) == 0, 2000);
	const char *status = client_status_text(fx->c);
	assert_int_equal(strncmp(status, "reconnecting in ", 16), 0);
	assert_non_null(strstr(status, "connection refused"));
	assert_false(client_is_connected(fx->c));
	assert_int_equal(fx->connected, 0);
	assert_int_equal(fx->disconnected, 0); /* failed attempts only change the status */
	assert_int_equal(client_request(fx->c, "ping", NULL, on_reply, &fx->rec[0]), -1);
}

/* A hello answered unavailable (storage down) is retried on a new connection with backoff. */
static void hello_unavailable__reconnects_and_retries(void **state)
{
	struct fixture *fx = *state;
	fx->hello_unavailable = 2;
	start_client(fx, NULL);
	want_full_session(fx->c);
	RUN_UNTIL(fx, fx->ready == 1, 3000);
	assert_int_equal(fx->ready, 1);
	assert_int_equal(fx->hello_failed, 2);
	assert_int_equal(fx->disconnected, 2);
	assert_non_null(strstr(fx->last_reason, "storage is unreachable"));
	assert_true(fake_saw(fx, "3:hello"));
	assert_false(fake_saw(fx, "1:subscribe"));
	assert_int_equal(fx->snapshot_conn, 3);
}

/* A missing Unix socket is retried like a refused port, and a present one works. */
static void unix_socket__request_answered(void **state)
{
	struct fixture *fx = *state;
	char missing[128];
	snprintf(missing, sizeof missing, "unix:%s/missing", fx->unix_dir);
	struct client *lost = client_new(fx->base, missing, NULL, NULL);
	assert_non_null(lost);
	client_set_backoff(lost, 1000, 1000);
	RUN_UNTIL(fx, strncmp(client_status_text(lost), "reconnecting", 12) == 0, 2000);
	assert_non_null(strstr(client_status_text(lost), "no such file or directory"));
	client_free(lost);
	start_client(fx, NULL);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	assert_int_equal(send_value(fx, "echo", "over unix", 0), 0);
	RUN_UNTIL(fx, fx->rec[0].calls == 1, 2000);
	assert_string_equal(fx->rec[0].echo, "over unix");
}

/* How many times "connection:op" was recorded. */
static int fake_count(struct fixture *fx, const char *entry)
{
	int n = 0;
	for (int i = 0; i < fx->nops; i++)
		n += strcmp(fx->ops[i], entry) == 0;
	return n;
}

/* An idle link is pinged; answered pings keep it, and a server that stops answering (hung,
 * not closed) is dropped after the ping timeout and the session is redone on a new one. */
static void keepalive__unanswered_ping__drops_and_reconnects(void **state)
{
	struct fixture *fx = *state;
	start_client(fx, NULL);
	want_full_session(fx->c);
	client_set_keepalive(fx->c, 50, 100);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	RUN_UNTIL(fx, fake_count(fx, "1:ping") >= 2, 2000);
	assert_true(fake_count(fx, "1:ping") >= 2);
	assert_int_equal(fx->disconnected, 0);
	assert_true(client_is_ready(fx->c));
	fx->mute = true;
	long long start = now_ms();
	RUN_UNTIL(fx, fx->disconnected == 1, 2000);
	assert_int_equal(fx->disconnected, 1);
	assert_true(now_ms() - start >= 90); /* not before the ping had its time */
	assert_non_null(strstr(fx->last_reason, "did not answer a ping"));
	fx->mute = false;
	RUN_UNTIL(fx, fx->ready == 2, 3000);
	assert_int_equal(fx->ready, 2);
	assert_true(fake_saw(fx, "2:hello"));
	assert_int_equal(fx->snapshot_conn, 2);
}

/* Traffic from the server counts as life: no ping while lines keep coming, none when off. */
static void keepalive__busy_or_off__no_ping(void **state)
{
	struct fixture *fx = *state;
	start_client(fx, NULL);
	client_set_keepalive(fx->c, 150, 100);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(send_value(fx, "echo", "busy", i), 0);
		RUN_UNTIL(fx, fx->rec[i].calls == 1, 2000);
		RUN_UNTIL(fx, false, 40);
	}
	assert_int_equal(fake_count(fx, "1:ping"), 0);
	client_set_keepalive(fx->c, 0, 0);
	RUN_UNTIL(fx, false, 300);
	assert_int_equal(fake_count(fx, "1:ping"), 0);
	assert_int_equal(fx->disconnected, 0);
}

/* Addresses: IP literals, localhost, [IPv6] and unix: are taken; names and bad ports are not. */
static void client_new__addresses__checked(void **state)
{
	struct fixture *fx = *state;
	const char *good[] = {"127.0.0.1:7420", "localhost:7420", "[::1]:7420", "unix:/tmp/x.sock"};
	const char *bad[] = {"example.com:7420", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536",
			     "unix:", ":7420", "127.0.0.1:7420x"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct client *c = client_new(fx->base, good[i], NULL, NULL);
		assert_non_null(c);
		assert_string_equal(client_server(c), good[i]);
		client_free(c);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		assert_null(client_new(fx->base, bad[i], NULL, NULL));
		assert_int_equal(errno, EINVAL);
	}
	struct client *c = client_new(fx->base, NULL, NULL, NULL);
	assert_string_equal(client_server(c), "127.0.0.1:7420");
	client_free(c);
}

/* A loopback port with nothing listening on it. */
static int dead_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sin;
	bind(fd, (struct sockaddr *)&sin, sizeof sin);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	close(fd);
	return ntohs(sin.sin_port);
}

/* Lists of servers: each address checked, at most CLIENT_MAX_SERVERS, no empty entries. */
static void client_new__server_lists__checked(void **state)
{
	struct fixture *fx = *state;
	struct client *c = client_new(fx->base, "127.0.0.1:7420,[::1]:7421,unix:/tmp/x.sock", NULL, NULL);
	assert_non_null(c);
	assert_string_equal(client_server(c), "127.0.0.1:7420");
	client_free(c);
	const char *bad[] = {"127.0.0.1:7420,", ",127.0.0.1:7420", "127.0.0.1:7420,,127.0.0.1:7421",
			     "127.0.0.1:7420,example.com:7421",
			     "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3,127.0.0.1:4,127.0.0.1:5,127.0.0.1:6,127.0.0.1:7,"
			     "127.0.0.1:8,127.0.0.1:9"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		assert_null(client_new(fx->base, bad[i], NULL, NULL));
		assert_int_equal(errno, EINVAL);
	}
}

/* The first server of the list refuses: the client goes on to the next at once and serves. */
static void servers__first_down__next_one_serves(void **state)
{
	struct fixture *fx = *state;
	char list[160];
	snprintf(list, sizeof list, "127.0.0.1:%d,%s", dead_port(), fx->server);
	start_client(fx, list);
	client_set_backoff(fx->c, 250, 5000); /* the defaults: the next server must not wait them out */
	want_full_session(fx->c);
	long long t0 = now_ms();
	RUN_UNTIL(fx, fx->ready == 1, 3000);
	assert_int_equal(fx->ready, 1);
	assert_true(now_ms() - t0 < 1000);
	assert_string_equal(client_server(fx->c), fx->server);
}

/* The server in use hangs up: the client signs in again on the next one of the list (the
 * same fake server under another name, so the test sees which address it chose). */
static void servers__connection_lost__moves_to_the_next(void **state)
{
	struct fixture *fx = *state;
	char list[300], other[140];
	snprintf(other, sizeof other, "localhost:%s", strchr(fx->server, ':') + 1);
	snprintf(list, sizeof list, "%s,%s", fx->server, other);
	start_client(fx, list);
	want_full_session(fx->c);
	RUN_UNTIL(fx, fx->ready == 1, 2000);
	assert_int_equal(fx->ready, 1);
	assert_string_equal(client_server(fx->c), fx->server);
	assert_int_equal(send_value(fx, "hangup", NULL, 0), 0);
	RUN_UNTIL(fx, fx->ready == 2, 3000);
	assert_int_equal(fx->ready, 2);
	assert_string_equal(client_server(fx->c), other);
	assert_true(fake_saw(fx, "2:hello"));
}

/* The blocking client takes the first server of a list that accepts. */
static void sync_connect__list__first_that_accepts(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sin;
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(fd, 4), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	char list[96];
	snprintf(list, sizeof list, "127.0.0.1:%d,127.0.0.1:%d", dead_port(), ntohs(sin.sin_port));
	struct sync_client *sc = sync_connect(list, 1000);
	assert_non_null(sc);
	sync_close(sc);
	close(fd);
}

/* Runs the fake server's loop on a thread while the test blocks in the sync client. */
static void *server_thread(void *arg)
{
	struct fixture *fx = arg;
	while (!atomic_load(&fx->stop_thread))
		event_base_loop(fx->base, EVLOOP_ONCE);
	return NULL;
}

/* sync_request skips events and stale answers and returns the response with its id. */
static void sync_request__skips_events__matches_id(void **state)
{
	struct fixture *fx = *state;
	pthread_t thread;
	assert_int_equal(pthread_create(&thread, NULL, server_thread, fx), 0);
	struct sync_client *sc = sync_connect(fx->server, 2000);
	assert_non_null(sc);

	cJSON *r = sync_request(sc, "{\"op\":\"event\"}", 2000);
	assert_non_null(r);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok")));
	assert_null(cJSON_GetObjectItemCaseSensitive(r, "event"));
	assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r, "id")));
	cJSON_Delete(r);

	r = sync_request(sc, "{\"id\":\"mine\",\"op\":\"echo\",\"value\":\"v\"}", 2000);
	assert_non_null(r);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(r, "id")->valuestring, "mine");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(r, "echo")->valuestring, "v");
	cJSON_Delete(r);

	long long start = now_ms();
	assert_null(sync_request(sc, "{\"op\":\"hold\",\"value\":\"late\"}", 100));
	assert_true(now_ms() - start >= 90);
	assert_non_null(strstr(sync_error(sc), "timed out"));
	r = sync_request(sc, "{\"op\":\"flush\"}", 2000); /* the late answer comes first, skipped */
	assert_non_null(r);
	assert_null(cJSON_GetObjectItemCaseSensitive(r, "echo"));
	cJSON_Delete(r);

	assert_null(sync_request(sc, "not json", 100));
	assert_null(sync_request(sc, "{\"op\":\"hangup\"}", 2000));
	assert_non_null(strstr(sync_error(sc), "closed"));
	sync_close(sc);
	atomic_store(&fx->stop_thread, true);
	pthread_join(thread, NULL);
}

/* sync_read_line reports an over-long line as an error. */
static void sync_read_line__overlong__error(void **state)
{
	struct fixture *fx = *state;
	pthread_t thread;
	assert_int_equal(pthread_create(&thread, NULL, server_thread, fx), 0);
	struct sync_client *sc = sync_connect(fx->server, 2000);
	assert_non_null(sc);
	assert_int_equal(sync_send_line(sc, "{\"op\":\"overlong\"}", 1000), SYNC_OK);
	char *line;
	size_t len;
	assert_int_equal(sync_read_line(sc, 2000, &line, &len), SYNC_ERROR);
	sync_close(sc);
	atomic_store(&fx->stop_thread, true);
	pthread_join(thread, NULL);
}

/* sync_connect to a closed port fails fast with ECONNREFUSED. */
static void sync_connect__refused__null(void **state)
{
	(void)state;
	char server[64];
	snprintf(server, sizeof server, "127.0.0.1:%d", dead_port());
	assert_null(sync_connect(server, 1000));
	assert_int_equal(errno, ECONNREFUSED);
	assert_null(sync_connect("unix:/nonexistent/qhall.sock", 1000));
	assert_null(sync_connect("no-such-host:1", 1000));
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(request__replies_out_of_order__matched_by_id, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(request__no_reply__times_out_with_null, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(disconnect__pending_get_null__session_redone_on_reconnect,
						setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(session_replaced__reported_and_no_reconnect, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(hello_rate_limited__waits_retry_after, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(overlong_line__drops_and_reconnects, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(event__delivered_to_on_event, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(hello_refused__reported_and_stays_connected, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(request_during_setup__sent_after_snapshot, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(pending_limit__next_refused__free_answers_all, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(request__too_big_or_output_full__refused, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(free_inside_event_callback__deferred_safely, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(free_inside_reply_callback__deferred_safely, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(server_down__status_says_reconnecting, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(hello_unavailable__reconnects_and_retries, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(unix_socket__request_answered, setup_unix, teardown),
		cmocka_unit_test_setup_teardown(keepalive__unanswered_ping__drops_and_reconnects, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(keepalive__busy_or_off__no_ping, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(client_new__addresses__checked, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(client_new__server_lists__checked, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(servers__first_down__next_one_serves, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(servers__connection_lost__moves_to_the_next, setup_tcp, teardown),
		cmocka_unit_test(sync_connect__list__first_that_accepts),
		cmocka_unit_test_setup_teardown(sync_request__skips_events__matches_id, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(sync_request__skips_events__matches_id, setup_unix, teardown),
		cmocka_unit_test_setup_teardown(sync_read_line__overlong__error, setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(sync_connect__refused__null, NULL, NULL),
	};
	return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
