/* The shared qserver connection: framing, request ids and timeouts, session set-up, reconnect.
 *
 * Re-entrancy: every entry from libevent (read, event and timer callbacks) brackets its work
 * with client_enter/client_leave. client_free inside a callback only marks the client dead;
 * the outermost client_leave frees it, so no code touches freed memory. After calling a user
 * callback, code checks c->dead (and that the connection is still the same) before going on. */
#include "client.h"

#include "frame.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum client_state {
	CLIENT_ENDED,	   /* the server ended the session (signed in elsewhere): no reconnect */
	CLIENT_WAITING,	   /* no connection; the reconnect timer is armed */
	CLIENT_CONNECTING, /* connect under way, under the connect timer */
	CLIENT_SETUP,	   /* connected; hello, subscribe and snapshot under way */
	CLIENT_REFUSED,	   /* connected with role public after a permanent hello refusal */
	CLIENT_READY,	   /* connected and set up */
};

/* Which step of the session set-up an internal request is; STEP_NONE for a caller's request. */
enum client_step { STEP_NONE, STEP_HELLO, STEP_SUBSCRIBE, STEP_SNAPSHOT, STEP_PING };

struct client_pending {
	TAILQ_ENTRY(client_pending) entry;
	struct client *c;
	long long id;
	client_reply_fn cb;
	void *arg;
	struct event *timer;
	char *held_line; /* the line while held during set-up; NULL once written */
	size_t held_len;
	enum client_step step;
	unsigned session; /* c->session when sent: replies of an abandoned set-up are ignored */
};
TAILQ_HEAD(client_pending_list, client_pending);

struct client {
	struct event_base *base;
	struct client_address servers[CLIENT_MAX_SERVERS];
	int nservers;
	int current; /* the server connected to or tried next */
	struct client_callbacks cb;
	void *arg;

	cJSON *hello_args;
	bool subscribe;
	cJSON *topics;
	bool want_snapshot;
	int timeout_ms;
	int connect_timeout_ms;
	int backoff_min_ms;
	int backoff_max_ms;
	int keepalive_ms; /* 0: off */
	int keepalive_timeout_ms;

	enum client_state state;
	struct bufferevent *bev;
	struct event *connect_timer;
	struct event *reconnect_timer;
	struct event *keepalive_timer;
	long long last_input_ms; /* monotonic time of the last bytes from the server */
	bool ping_out;		 /* a keepalive ping waits for its answer */
	long long reconnect_at_ms; /* monotonic time the reconnect timer fires */
	int failures;		   /* connect or set-up failures since the last good session */
	long long retry_after_ms;  /* the server asked to wait this long before the next try */
	uint64_t rng;
	char last_error[256];
	char refusal[256];
	char status[640];
	cJSON *hello_response; /* kept from the hello reply until on_ready */
	unsigned session;

	struct client_pending_list pending;
	size_t npending;
	size_t held_bytes;
	long long next_id;

	int depth; /* callbacks of this client on the stack */
	bool dead; /* client_free was called; freed when depth drops to 0 */
};

static void client_connect(struct client *c);
static void client_drop(struct client *c, const char *reason);
static void client_start_session(struct client *c);
static void client_keepalive_arm(struct client *c, long long delay_ms);

/* Milliseconds of the monotonic clock, for the reconnect countdown. */
static long long client_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Converts milliseconds to the timeval libevent timers take. */
static struct timeval client_tv(int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	return tv;
}

/* Copies strerror(err) with a lower-case first letter, to read well inside a status line. */
static void client_errstr(char *buf, size_t size, int err)
{
	snprintf(buf, size, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && (buf[1] < 'A' || buf[1] > 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
}

/* Marks entry into client code from the loop, so client_free defers the free. */
static void client_enter(struct client *c)
{
	c->depth++;
}

static void client_destroy(struct client *c);

/* Marks the exit; frees the client if client_free was called meanwhile. Touch c no more. */
static void client_leave(struct client *c)
{
	if (--c->depth == 0 && c->dead)
		client_destroy(c);
}

/* Parses "A,B,..." into out, each as client_parse_address does; the count or -1 (EINVAL). */
int client_parse_server_list(const char *list, struct client_address *out)
{
	if (!list)
		list = CLIENT_DEFAULT_SERVER;
	int n = 0;
	for (const char *p = list;; n++) {
		size_t len = strcspn(p, ",");
		if (n == CLIENT_MAX_SERVERS || len == 0 || len >= sizeof out[n].name)
			goto bad;
		memcpy(out[n].name, p, len);
		out[n].name[len] = '\0';
		if (client_parse_address(out[n].name, &out[n].addr, &out[n].len) < 0)
			goto bad;
		if (!p[len])
			return n + 1;
		p += len + 1;
	}
bad:
	errno = EINVAL;
	return -1;
}

/* Parses "unix:/path", "HOST:PORT" or "[V6]:PORT"; names other than localhost are refused
 * because a blocking resolver would stall every screen of the program. */
int client_parse_address(const char *server, struct sockaddr_storage *addr, socklen_t *len)
{
	memset(addr, 0, sizeof *addr);
	if (!server)
		server = CLIENT_DEFAULT_SERVER;
	if (strncmp(server, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)addr;
		const char *path = server + 5;
		if (!*path || strlen(path) >= sizeof sun->sun_path)
			goto invalid;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, path, strlen(path) + 1);
		*len = (socklen_t)sizeof *sun;
		return 0;
	}
	const char *colon = strrchr(server, ':');
	if (!colon || colon == server)
		goto invalid;
	char host[INET6_ADDRSTRLEN + 2];
	size_t host_len = (size_t)(colon - server);
	if (host_len >= sizeof host)
		goto invalid;
	memcpy(host, server, host_len);
	host[host_len] = '\0';
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 1 || port > 65535)
		goto invalid;
	if (host[0] == '[' && host_len > 2 && host[host_len - 1] == ']') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)addr;
		host[host_len - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			goto invalid;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = (socklen_t)sizeof *sin6;
		return 0;
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)addr;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		goto invalid;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	*len = (socklen_t)sizeof *sin;
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}

/* Draws the next pseudo-random number (xorshift64) for the backoff jitter. */
static uint64_t client_random(struct client *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

/* Arms the reconnect timer with the next backoff delay and counts the failure. */
static void client_schedule_reconnect(struct client *c)
{
	/* The next server is tried after the shortest delay; the delay grows per round of them
	 * all, so a hall's second qserver takes over at once when the first one fails. */
	if (c->nservers > 1)
		c->current = (c->current + 1) % c->nservers;
	long long delay = c->backoff_min_ms;
	for (int i = 0; i < c->failures / c->nservers && delay < c->backoff_max_ms; i++)
		delay *= 2;
	if (delay > c->backoff_max_ms)
		delay = c->backoff_max_ms;
	/* Drawn from the upper quarter, so the cap stays a cap and clients spread out. */
	delay = delay - delay / 4 + (long long)(client_random(c) % (uint64_t)(delay / 4 + 1));
	/* A sign-in refused as rate_limited names its wait: trying sooner only prolongs it. */
	if (delay < c->retry_after_ms)
		delay = c->retry_after_ms;
	c->retry_after_ms = 0;
	c->failures++;
	c->state = CLIENT_WAITING;
	c->reconnect_at_ms = client_now_ms() + delay;
	struct timeval tv = client_tv((int)delay);
	evtimer_add(c->reconnect_timer, &tv);
}

/* Takes a request out of the pending list and releases its timer and held line. */
static void client_pending_remove(struct client *c, struct client_pending *p)
{
	TAILQ_REMOVE(&c->pending, p, entry);
	c->npending--;
	if (p->held_line)
		c->held_bytes -= p->held_len + 1;
	event_free(p->timer);
	free(p->held_line);
}

static void client_step_done(struct client *c, enum client_step step, unsigned session,
			     cJSON *response);
static void client_ping_done(struct client *c, unsigned session, cJSON *response);

/* Delivers a response (or NULL) for a request already removed from the list, and frees it. */
static void client_complete(struct client *c, struct client_pending *p, cJSON *response)
{
	enum client_step step = p->step;
	unsigned session = p->session;
	client_reply_fn cb = p->cb;
	void *arg = p->arg;
	free(p);
	if (step == STEP_PING)
		client_ping_done(c, session, response);
	else if (step != STEP_NONE)
		client_step_done(c, step, session, response);
	else if (cb)
		cb(arg, response);
}

/* Answers every pending request with NULL, as after a drop or at free. */
static void client_fail_pending(struct client *c)
{
	struct client_pending *p;
	/* One at a time from the head: a reply callback may run anything but add no request,
	 * because the state no longer allows it. */
	while ((p = TAILQ_FIRST(&c->pending)) != NULL) {
		client_pending_remove(c, p);
		client_complete(c, p, NULL);
	}
}

/* Frees everything; pending requests get their NULL reply first. */
static void client_destroy(struct client *c)
{
	c->depth++; /* client_free or client_leave from the replies below must not recurse */
	c->dead = true;
	c->state = CLIENT_WAITING;
	if (c->bev)
		bufferevent_free(c->bev);
	c->bev = NULL;
	event_free(c->connect_timer);
	event_free(c->reconnect_timer);
	event_free(c->keepalive_timer);
	client_fail_pending(c);
	cJSON_Delete(c->hello_args);
	cJSON_Delete(c->topics);
	cJSON_Delete(c->hello_response);
	free(c);
}

/* Runs a connect attempt when the reconnect timer fires. */
static void client_reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct client *c = arg;
	client_enter(c);
	client_connect(c);
	client_leave(c);
}

/* Gives up on a connect attempt that takes too long (a silent firewall, a dead host). */
static void client_connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct client *c = arg;
	client_enter(c);
	if (c->state == CLIENT_CONNECTING)
		client_drop(c, "connect timed out");
	client_leave(c);
}

/* Answers NULL to a request whose time is up; a late response is then ignored by its id. */
static void client_request_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct client_pending *p = arg;
	struct client *c = p->c;
	client_enter(c);
	client_pending_remove(c, p);
	client_complete(c, p, NULL);
	client_leave(c);
}

/* Writes the requests held during set-up, in the order they were made. */
static void client_flush_held(struct client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct client_pending *p;
	TAILQ_FOREACH(p, &c->pending, entry) {
		if (!p->held_line)
			continue;
		frame_write_line(out, p->held_line, p->held_len);
		c->held_bytes -= p->held_len + 1;
		free(p->held_line);
		p->held_line = NULL;
	}
}

/* Builds {"id":N,"op":op,...args}, queues it (or holds it during set-up) and arms its timer. */
static int client_submit(struct client *c, const char *op, cJSON *args, int timeout_ms,
			 client_reply_fn cb, void *arg, enum client_step step)
{
	cJSON *req = cJSON_CreateObject();
	if (!req || (args && !cJSON_IsObject(args)) || !op)
		goto fail;
	long long id = c->next_id;
	if (!cJSON_AddNumberToObject(req, "id", (double)id) || !cJSON_AddStringToObject(req, "op", op))
		goto fail;
	cJSON *child;
	while (args && (child = args->child) != NULL) {
		cJSON_DetachItemViaPointer(args, child);
		if (!child->string || strcmp(child->string, "id") == 0 || strcmp(child->string, "op") == 0) {
			cJSON_Delete(child);
			continue;
		}
		char *key = child->string;
		child->string = NULL;
		cJSON_AddItemToObject(req, key, child);
		free(key);
	}
	cJSON_Delete(args);
	args = NULL;
	char *line = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	req = NULL;
	if (!line)
		goto fail;
	size_t len = strlen(line);
	bool hold = c->state == CLIENT_SETUP && step == STEP_NONE;
	size_t queued = c->held_bytes + evbuffer_get_length(bufferevent_get_output(c->bev));
	/* Set-up steps skip the output bound: they are tiny and a session needs them. */
	if (len + 1 > FRAME_MAX_LINE || (step == STEP_NONE && queued + len + 1 > CLIENT_MAX_OUTPUT)) {
		errno = len + 1 > FRAME_MAX_LINE ? EMSGSIZE : ENOBUFS;
		free(line);
		return -1;
	}
	struct client_pending *p = calloc(1, sizeof *p);
	if (!p) {
		free(line);
		return -1;
	}
	p->c = c;
	p->id = id;
	p->cb = cb;
	p->arg = arg;
	p->step = step;
	p->session = c->session;
	p->timer = evtimer_new(c->base, client_request_timeout_cb, p);
	if (!p->timer || (!hold && frame_write_line(bufferevent_get_output(c->bev), line, len) < 0)) {
		if (p->timer)
			event_free(p->timer);
		free(p);
		free(line);
		return -1;
	}
	if (hold) {
		p->held_line = line;
		p->held_len = len;
		c->held_bytes += len + 1;
	} else {
		free(line);
	}
	struct timeval tv = client_tv(timeout_ms > 0 ? timeout_ms : c->timeout_ms);
	evtimer_add(p->timer, &tv);
	TAILQ_INSERT_TAIL(&c->pending, p, entry);
	c->npending++;
	c->next_id++;
	return 0;
fail:
	cJSON_Delete(req);
	cJSON_Delete(args);
	errno = EINVAL;
	return -1;
}

/* Sends a set-up step, or drops the connection if even that cannot be queued. */
static void client_send_step(struct client *c, enum client_step step, const char *op, cJSON *args)
{
	if (client_submit(c, op, args, 0, NULL, NULL, step) < 0)
		client_drop(c, "cannot queue the session set-up (out of memory)");
}

/* Marks the session set up, sends what was held and reports on_ready. */
static void client_session_ready(struct client *c, cJSON *snapshot)
{
	c->state = CLIENT_READY;
	c->failures = 0;
	c->last_error[0] = '\0';
	c->ping_out = false;
	client_keepalive_arm(c, c->keepalive_ms);
	client_flush_held(c);
	cJSON *hello = c->hello_response;
	c->hello_response = NULL;
	if (c->cb.on_ready)
		c->cb.on_ready(c, hello, snapshot, c->arg);
	cJSON_Delete(hello);
}

/* Sends snapshot if wanted, or finishes the set-up. */
static void client_after_subscribe(struct client *c)
{
	if (c->want_snapshot)
		client_send_step(c, STEP_SNAPSHOT, "snapshot", NULL);
	else
		client_session_ready(c, NULL);
}

/* Sends subscribe if asked for, or moves on. */
static void client_after_hello(struct client *c)
{
	if (!c->subscribe) {
		client_after_subscribe(c);
		return;
	}
	cJSON *args = NULL;
	if (c->topics) {
		args = cJSON_CreateObject();
		cJSON *topics = cJSON_Duplicate(c->topics, true);
		if (!args || !topics || !cJSON_AddItemToObject(args, "topics", topics)) {
			cJSON_Delete(args);
			cJSON_Delete(topics);
			client_drop(c, "cannot queue the session set-up (out of memory)");
			return;
		}
	}
	client_send_step(c, STEP_SUBSCRIBE, "subscribe", args);
}

/* Starts hello, subscribe, snapshot on the current connection, each after the previous reply. */
static void client_start_session(struct client *c)
{
	c->session++;
	cJSON_Delete(c->hello_response);
	c->hello_response = NULL;
	c->state = CLIENT_SETUP;
	if (c->hello_args)
		client_send_step(c, STEP_HELLO, "hello", cJSON_Duplicate(c->hello_args, true));
	else
		client_after_hello(c);
}

/* Returns the error code of a failed response, or "" when it has none. */
static const char *client_error_code(const cJSON *response)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(response, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
	return cJSON_IsString(code) ? code->valuestring : "";
}

/* Returns the error message of a failed response, falling back to its code. */
static const char *client_error_message(const cJSON *response)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(response, "error");
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(error, "message");
	if (cJSON_IsString(message) && message->valuestring[0])
		return message->valuestring;
	return client_error_code(response)[0] ? client_error_code(response) : "no reason given";
}

/* Whether a hello refusal would be the same on retry (bad credentials) or may pass later. */
static bool client_refusal_is_permanent(const char *code)
{
	static const char *const permanent[] = {"unauthenticated", "forbidden", "bad_request",
						"not_found", "conflict", "unknown_op"};
	for (size_t i = 0; i < sizeof permanent / sizeof permanent[0]; i++)
		if (strcmp(code, permanent[i]) == 0)
			return true;
	return false;
}

/* Moves the set-up on after the reply (or NULL) to one of its steps. */
static void client_step_done(struct client *c, enum client_step step, unsigned session,
			     cJSON *response)
{
	static const char *const names[] = {"", "hello", "subscribe", "snapshot"};
	char reason[256];
	if (c->dead || c->state != CLIENT_SETUP || session != c->session)
		return; /* dropped, freed, or restarted since it was sent */
	if (!response) {
		snprintf(reason, sizeof reason, "%s timed out", names[step]);
		client_drop(c, reason);
		return;
	}
	bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(response, "ok"));
	switch (step) {
	case STEP_HELLO:
		if (ok) {
			c->hello_response = cJSON_Duplicate(response, true);
			client_after_hello(c);
			return;
		}
		snprintf(reason, sizeof reason, "hello refused: %s", client_error_message(response));
		if (client_refusal_is_permanent(client_error_code(response))) {
			/* Retrying would fail the same way: stay up as public until told otherwise. */
			c->state = CLIENT_REFUSED;
			c->failures = 0;
			snprintf(c->refusal, sizeof c->refusal, "%s", reason);
			client_flush_held(c);
			if (c->cb.on_hello_failed)
				c->cb.on_hello_failed(c, response, c->arg);
			return;
		}
		if (c->cb.on_hello_failed)
			c->cb.on_hello_failed(c, response, c->arg);
		const cJSON *retry_after = cJSON_GetObjectItemCaseSensitive(response, "retry_after");
		if (cJSON_IsNumber(retry_after) && retry_after->valuedouble > 0)
			c->retry_after_ms = (long long)(retry_after->valuedouble < 86400 ? retry_after->valuedouble : 86400) * 1000;
		if (!c->dead && c->state == CLIENT_SETUP && session == c->session)
			client_drop(c, reason);
		return;
	case STEP_SUBSCRIBE:
		if (ok) {
			client_after_subscribe(c);
			return;
		}
		snprintf(reason, sizeof reason, "subscribe refused: %s", client_error_message(response));
		client_drop(c, reason);
		return;
	case STEP_SNAPSHOT:
		if (ok) {
			client_session_ready(c, response);
			return;
		}
		snprintf(reason, sizeof reason, "snapshot refused: %s", client_error_message(response));
		client_drop(c, reason);
		return;
	case STEP_NONE:
	case STEP_PING:
		return;
	}
}

/* Arms the keepalive timer to look again in delay_ms (when the keepalive is on). */
static void client_keepalive_arm(struct client *c, long long delay_ms)
{
	if (c->keepalive_ms <= 0)
		return;
	struct timeval tv = client_tv((int)(delay_ms > 0 ? delay_ms : 1));
	evtimer_add(c->keepalive_timer, &tv);
}

/* Sends a ping when the server has been silent for the keepalive interval; the ping's own
 * timeout decides whether the link is dead. */
static void client_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct client *c = arg;
	client_enter(c);
	if (c->state == CLIENT_READY && !c->ping_out && c->keepalive_ms > 0) {
		long long idle = client_now_ms() - c->last_input_ms;
		if (idle < c->keepalive_ms) {
			client_keepalive_arm(c, c->keepalive_ms - idle);
		} else if (client_submit(c, "ping", NULL, c->keepalive_timeout_ms, NULL, NULL,
					 STEP_PING) == 0) {
			c->ping_out = true;
		} else {
			client_keepalive_arm(c, c->keepalive_ms); /* out of memory: try later */
		}
	}
	client_leave(c);
}

/* Ends a keepalive ping: any answer (even an error) shows the server alive; none drops it. */
static void client_ping_done(struct client *c, unsigned session, cJSON *response)
{
	if (c->dead || c->state != CLIENT_READY || session != c->session)
		return; /* dropped, freed or restarted since: the ping no longer matters */
	c->ping_out = false;
	if (!response) {
		char reason[128];
		snprintf(reason, sizeof reason, "the server did not answer a ping within %d ms",
			 c->keepalive_timeout_ms);
		client_drop(c, reason);
		return;
	}
	client_keepalive_arm(c, c->keepalive_ms);
}

/* Closes the connection and stops its timers; replies of its session will be ignored. */
static void client_close_link(struct client *c)
{
	if (c->bev)
		bufferevent_free(c->bev);
	c->bev = NULL;
	evtimer_del(c->connect_timer);
	evtimer_del(c->keepalive_timer);
	c->ping_out = false;
	cJSON_Delete(c->hello_response);
	c->hello_response = NULL;
	c->session++;
}

/* Closes the connection, answers pending requests with NULL, reports and schedules a retry. */
static void client_drop(struct client *c, const char *reason)
{
	char why[sizeof c->last_error];
	snprintf(why, sizeof why, "%s", reason);
	bool was_up = c->state >= CLIENT_SETUP;
	client_close_link(c);
	snprintf(c->last_error, sizeof c->last_error, "%s", why);
	log_debug("client %s: %s", c->servers[c->current].name, why);
	client_schedule_reconnect(c);
	client_fail_pending(c);
	if (was_up && !c->dead && c->cb.on_disconnected)
		c->cb.on_disconnected(c, why, c->arg);
}

/* Ends the session for good after the server ended it: replaced by a newer one (the same
 * clerk signed in elsewhere), where reconnecting would only take the window back, or by a
 * config reload that changed the account or window, where the old hello no longer works. */
static void client_end_replaced(struct client *c, const cJSON *event)
{
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(event, "message");
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(event, "reason");
	client_close_link(c);
	evtimer_del(c->reconnect_timer);
	c->state = CLIENT_ENDED;
	snprintf(c->refusal, sizeof c->refusal, "%s: %s",
		 strcmp(reason->valuestring, "replaced") == 0 ? "signed in elsewhere" : "session ended",
		 cJSON_IsString(message) ? message->valuestring : "this session was replaced");
	log_info("client %s: %s", c->servers[c->current].name, c->refusal);
	client_fail_pending(c);
	if (!c->dead && c->cb.on_session_ended)
		c->cb.on_session_ended(c, (cJSON *)event, c->arg);
}

/* Whether an event is the server's {"event":"session","reason":...}: this session ended
 * ("replaced", or "credentials" and "window" after a config reload). */
static bool client_is_replaced_event(const cJSON *msg)
{
	const cJSON *event = cJSON_GetObjectItemCaseSensitive(msg, "event");
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(msg, "reason");
	return cJSON_IsString(event) && strcmp(event->valuestring, "session") == 0 && cJSON_IsString(reason);
}

/* Handles one line from the server: an event, a response, or a protocol error. */
static void client_handle_line(struct client *c, const char *line, size_t len)
{
	size_t skip = strspn(line, " \t\r");
	if (skip == len)
		return; /* a blank line carries nothing */
	cJSON *msg = cJSON_ParseWithLength(line, len);
	if (!cJSON_IsObject(msg)) {
		cJSON_Delete(msg);
		client_drop(c, "protocol error: the server sent a line that is not a JSON object");
		return;
	}
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	if (!id && client_is_replaced_event(msg)) {
		client_end_replaced(c, msg);
		cJSON_Delete(msg);
		return;
	}
	if (!id && cJSON_GetObjectItemCaseSensitive(msg, "event")) {
		if (c->cb.on_event)
			c->cb.on_event(c, msg, c->arg);
		cJSON_Delete(msg);
		return;
	}
	struct client_pending *p = NULL;
	if (cJSON_IsNumber(id)) {
		TAILQ_FOREACH(p, &c->pending, entry)
			if (!p->held_line && (double)p->id == id->valuedouble)
				break;
	}
	if (p) {
		client_pending_remove(c, p);
		client_complete(c, p, msg);
	} else if (!id) {
		log_warn("client %s: response without id: %.200s", c->servers[c->current].name, line);
	} else {
		log_debug("client %s: response to no pending request (timed out?)", c->servers[c->current].name);
	}
	cJSON_Delete(msg);
}

/* Takes every whole line out of the input; an over-long one is a protocol error. */
static void client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	client_enter(c);
	c->last_input_ms = client_now_ms();
	struct evbuffer *in = bufferevent_get_input(bev);
	while (c->bev == bev && !c->dead) {
		char *line;
		size_t len;
		enum frame_result r = frame_read_line(in, &line, &len);
		if (r == FRAME_NEED_MORE)
			break;
		if (r == FRAME_TOO_LONG) {
			client_drop(c, "protocol error: a line from the server is over 65536 bytes");
			break;
		}
		client_handle_line(c, line, len);
		free(line);
	}
	client_leave(c);
}

/* Starts the session once the transport is up. */
static void client_on_connected(struct client *c)
{
	evtimer_del(c->connect_timer);
	if (c->servers[c->current].addr.ss_family != AF_UNIX) {
		/* Requests are small and latency-bound: do not let Nagle hold them back. */
		int one = 1;
		setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->state = CLIENT_SETUP;
	struct bufferevent *bev = c->bev;
	if (c->cb.on_connected) {
		c->cb.on_connected(c, c->arg);
		if (c->dead || c->bev != bev)
			return;
	}
	client_start_session(c);
}

/* Handles connect completion, end of stream and socket errors. */
static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct client *c = arg;
	client_enter(c);
	int err = EVUTIL_SOCKET_ERROR();
	if (what & BEV_EVENT_CONNECTED) {
		client_on_connected(c);
	} else if (what & BEV_EVENT_EOF) {
		client_drop(c, "server closed the connection");
	} else if (what & BEV_EVENT_ERROR) {
		char reason[128];
		/* A refusal found at connect() time reaches us deferred, with errno long gone. */
		if (c->state == CLIENT_CONNECTING && (err == 0 || err == EINPROGRESS || err == EAGAIN))
			err = ECONNREFUSED;
		client_errstr(reason, sizeof reason, err ? err : EIO);
		client_drop(c, reason);
	}
	client_leave(c);
}

/* Opens a socket and starts a non-blocking connect under the connect timer. */
static void client_connect(struct client *c)
{
	char reason[128];
	int fd = socket(c->servers[c->current].addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		client_errstr(reason, sizeof reason, errno);
		client_drop(c, reason);
		return;
	}
	c->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		client_drop(c, "out of memory");
		return;
	}
	bufferevent_setcb(c->bev, client_read_cb, NULL, client_event_cb, c);
	c->state = CLIENT_CONNECTING;
	errno = 0;
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&c->servers[c->current].addr, c->servers[c->current].len) < 0) {
		client_errstr(reason, sizeof reason, errno ? errno : ECONNREFUSED);
		client_drop(c, reason);
		return;
	}
	struct timeval tv = client_tv(c->connect_timeout_ms);
	evtimer_add(c->connect_timer, &tv);
}

/* Creates the client; the first connect attempt runs from the loop right away. */
struct client *client_new(struct event_base *base, const char *server,
			  const struct client_callbacks *callbacks, void *arg)
{
	struct client *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	if (!server)
		server = CLIENT_DEFAULT_SERVER;
	c->nservers = client_parse_server_list(server, c->servers);
	if (c->nservers < 0) {
		free(c);
		errno = EINVAL;
		return NULL;
	}
	c->base = base;
	c->connect_timer = evtimer_new(base, client_connect_timeout_cb, c);
	c->reconnect_timer = evtimer_new(base, client_reconnect_cb, c);
	c->keepalive_timer = evtimer_new(base, client_keepalive_cb, c);
	if (!c->connect_timer || !c->reconnect_timer || !c->keepalive_timer) {
		if (c->connect_timer)
			event_free(c->connect_timer);
		if (c->reconnect_timer)
			event_free(c->reconnect_timer);
		if (c->keepalive_timer)
			event_free(c->keepalive_timer);
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	if (callbacks)
		c->cb = *callbacks;
	c->arg = arg;
	c->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
	c->connect_timeout_ms = CLIENT_DEFAULT_CONNECT_TIMEOUT_MS;
	c->backoff_min_ms = CLIENT_DEFAULT_BACKOFF_MIN_MS;
	c->backoff_max_ms = CLIENT_DEFAULT_BACKOFF_MAX_MS;
	c->keepalive_ms = CLIENT_DEFAULT_KEEPALIVE_MS;
	c->keepalive_timeout_ms = CLIENT_DEFAULT_KEEPALIVE_TIMEOUT_MS;
	c->next_id = 1;
	c->rng = ((uint64_t)client_now_ms() << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)c;
	if (!c->rng)
		c->rng = 0x9e3779b97f4a7c15ULL;
	TAILQ_INIT(&c->pending);
	c->state = CLIENT_WAITING;
	c->reconnect_at_ms = client_now_ms();
	struct timeval now = {0, 0};
	evtimer_add(c->reconnect_timer, &now);
	return c;
}

/* Frees now, or after the callbacks on the stack return. */
void client_free(struct client *c)
{
	if (!c || c->dead)
		return;
	c->dead = true;
	if (c->depth == 0)
		client_destroy(c);
}

/* Replaces the hello arguments used at the next set-up. */
void client_set_hello(struct client *c, cJSON *hello_args)
{
	cJSON_Delete(c->hello_args);
	c->hello_args = hello_args;
}

/* Turns on subscribe at set-up, with the given topics or all. */
void client_set_subscribe(struct client *c, cJSON *topics)
{
	cJSON_Delete(c->topics);
	c->topics = topics;
	c->subscribe = true;
}

/* Turns the snapshot at set-up on or off. */
void client_want_snapshot(struct client *c, bool want)
{
	c->want_snapshot = want;
}

/* Sets the default per-request timeout. */
void client_set_request_timeout(struct client *c, int timeout_ms)
{
	if (timeout_ms > 0)
		c->timeout_ms = timeout_ms;
}

/* Sets the timeout of one connect attempt. */
void client_set_connect_timeout(struct client *c, int timeout_ms)
{
	if (timeout_ms > 0)
		c->connect_timeout_ms = timeout_ms;
}

/* Sets the reconnect backoff bounds. */
void client_set_backoff(struct client *c, int min_ms, int max_ms)
{
	if (min_ms > 0)
		c->backoff_min_ms = min_ms;
	if (max_ms >= c->backoff_min_ms)
		c->backoff_max_ms = max_ms;
}

/* Sets the keepalive interval and the time a ping may take; applies from the next check. */
void client_set_keepalive(struct client *c, int interval_ms, int timeout_ms)
{
	c->keepalive_ms = interval_ms > 0 ? interval_ms : 0;
	if (timeout_ms > 0)
		c->keepalive_timeout_ms = timeout_ms;
	if (c->keepalive_ms == 0)
		evtimer_del(c->keepalive_timer);
	else if (c->state == CLIENT_READY && !c->ping_out)
		client_keepalive_arm(c, c->keepalive_ms);
}

/* Sends a request with the default timeout. */
int client_request(struct client *c, const char *op, cJSON *args, client_reply_fn cb, void *arg)
{
	return client_request_timeout(c, op, args, 0, cb, arg);
}

/* Sends a request with its own timeout; see client.h for when it refuses. */
int client_request_timeout(struct client *c, const char *op, cJSON *args, int timeout_ms,
			   client_reply_fn cb, void *arg)
{
	if (c->dead || c->state < CLIENT_SETUP) {
		cJSON_Delete(args);
		errno = ENOTCONN;
		return -1;
	}
	if (c->npending >= CLIENT_MAX_PENDING) {
		cJSON_Delete(args);
		errno = EAGAIN;
		return -1;
	}
	return client_submit(c, op, args, timeout_ms, cb, arg, STEP_NONE);
}

/* Redoes hello, subscribe and snapshot on the live connection. */
int client_restart_session(struct client *c)
{
	if (c->dead || c->state < CLIENT_SETUP)
		return -1;
	client_enter(c);
	client_start_session(c);
	client_leave(c);
	return 0;
}

/* Whether the transport is up. */
bool client_is_connected(const struct client *c)
{
	return !c->dead && c->state >= CLIENT_SETUP;
}

/* Whether the server ended the session for good (session replaced): the client stays off. */
bool client_is_ended(const struct client *c)
{
	return !c->dead && c->state == CLIENT_ENDED;
}

/* Whether on_ready has run for the current connection. */
bool client_is_ready(const struct client *c)
{
	return !c->dead && c->state == CLIENT_READY;
}

/* Formats the state for a status bar, with a live reconnect countdown. */
const char *client_status_text(struct client *c)
{
	switch (c->state) {
	case CLIENT_WAITING:
		if (!c->last_error[0]) {
			snprintf(c->status, sizeof c->status, "connecting to %s", c->servers[c->current].name);
		} else {
			long long left = c->reconnect_at_ms - client_now_ms();
			if (left < 0)
				left = 0;
			if (left < 1000)
				snprintf(c->status, sizeof c->status, "reconnecting in %.1f s: %s",
					 (double)left / 1000.0, c->last_error);
			else
				snprintf(c->status, sizeof c->status, "reconnecting in %lld s: %s",
					 (left + 999) / 1000, c->last_error);
		}
		break;
	case CLIENT_CONNECTING:
		if (c->last_error[0])
			snprintf(c->status, sizeof c->status, "connecting to %s (last error: %s)",
				 c->servers[c->current].name, c->last_error);
		else
			snprintf(c->status, sizeof c->status, "connecting to %s", c->servers[c->current].name);
		break;
	case CLIENT_SETUP:
		snprintf(c->status, sizeof c->status, "signing in to %s", c->servers[c->current].name);
		break;
	case CLIENT_REFUSED:
	case CLIENT_ENDED:
		snprintf(c->status, sizeof c->status, "%s", c->refusal);
		break;
	case CLIENT_READY:
		snprintf(c->status, sizeof c->status, "connected");
		break;
	}
	return c->status;
}

/* The address the client connects to. */
const char *client_server(const struct client *c)
{
	return c->servers[c->current].name;
}

/* Requests accepted and not yet answered. */
size_t client_pending_count(const struct client *c)
{
	return c->npending;
}
