/* Client connections: framing, ordered replies, output and rate bounds, deferred free. */
#include "qserver.h"
#include "frame.h"
#include "log.h"
#include "metrics.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define CONN_SEND_BATCH 16 /* answers written in one sendmsg */

struct conn_list conns = TAILQ_HEAD_INITIALIZER(conns);
int conn_count;
int conn_anonymous_count;

/* Closed connections wait here until no callback on the stack can still touch them. */
static struct conn_list graveyard = TAILQ_HEAD_INITIALIZER(graveyard);
static struct event *reaper;
/* Connections whose answers sit in their output buffers, to be written before a fan-out. */
static struct conn_list unsent = TAILQ_HEAD_INITIALIZER(unsent);
static uint64_t next_conn_id = 1;

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

/* Frees every closed connection; runs from its own event, outside any connection callback. */
static void conn_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	struct conn *c;
	while ((c = TAILQ_FIRST(&graveyard)) != NULL) {
		TAILQ_REMOVE(&graveyard, c, entry);
		free(c);
	}
}

/* Closes a connection that never said hello in time, or that was admitted on a reserved slot
 * and did not sign in. */
static void conn_hello_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct conn *c = arg;
	if (c->probation && c->role == ROLE_PUBLIC)
		admission_probation_expired(c);
	else if (!c->said_hello)
		conn_close(c, "no hello in time");
}

/* Copies the peer's address without its port ("10.0.0.5:51234" -> "10.0.0.5",
 * "[::1]:51234" -> "[::1]"); a peer without a port is its own address. */
void conn_peer_addr(const char *peer, char *out, size_t len)
{
	const char *colon = strrchr(peer, ':');
	size_t n = colon && (peer[0] != '[' || colon[-1] == ']') ? (size_t)(colon - peer) : strlen(peer);
	snprintf(out, len, "%.*s", (int)n, peer);
}

/* Gives the connection its role after a hello; a signed-in one leaves the anonymous share. */
void conn_set_role(struct conn *c, enum role role)
{
	c->role = role;
	if (role != ROLE_PUBLIC && c->counted_anonymous) {
		c->counted_anonymous = 0;
		conn_anonymous_count--;
	}
}

/* Puts a new connection on a reserved slot (admission.c): it is not counted in the anonymous
 * share, and must sign in or go. */
void conn_hold_reserved(struct conn *c)
{
	c->probation = 1;
	if (c->counted_anonymous) {
		c->counted_anonymous = 0;
		conn_anonymous_count--;
	}
}

/* Sets up a connection for an accepted socket; NULL when out of memory. */
struct conn *conn_create(int fd, const char *peer)
{
	if (!reaper)
		reaper = event_new(server.base, -1, 0, conn_reap, NULL);
	struct conn *c = calloc(1, sizeof *c);
	if (!c || !reaper)
		goto fail;
	c->bev = bufferevent_socket_new(server.base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->hello_timer = evtimer_new(server.base, conn_hello_timeout, c);
	if (!c->bev || !c->hello_timer) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->hello_timer)
			event_free(c->hello_timer);
		free(c);
		return NULL;
	}
	c->id = next_conn_id++;
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	conn_peer_addr(peer, c->addr, sizeof c->addr);
	if (admission_add(c->addr) < 0) {
		bufferevent_free(c->bev);
		event_free(c->hello_timer);
		free(c);
		return NULL;
	}
	c->role = ROLE_PUBLIC;
	c->site = sites_sole();
	c->counted_anonymous = 1;
	conn_anonymous_count++;
	TAILQ_INIT(&c->requests);
	c->tokens = server.opt.rate_per_sec * 2.0;
	clock_gettime(CLOCK_MONOTONIC, &c->tokens_at);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	struct timeval tv = {server.opt.hello_timeout_ms / 1000, (server.opt.hello_timeout_ms % 1000) * 1000};
	evtimer_add(c->hello_timer, &tv);
	TAILQ_INSERT_TAIL(&conns, c, entry);
	conn_count++;
	log_debug("conn %llu from %s", (unsigned long long)c->id, peer);
	return c;
fail:
	evutil_closesocket(fd);
	free(c);
	return NULL;
}

/* Makes the client of one HTTP request: it carries the session's role like a connection,
 * so the request passes the same op table and checks, but owns no socket, is in no list and
 * is counted by the HTTP front end instead. NULL when out of memory. */
struct conn *conn_create_transient(const char *peer, struct http_exchange *http)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->id = next_conn_id++;
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	conn_peer_addr(peer, c->addr, sizeof c->addr);
	c->role = ROLE_PUBLIC;
	c->said_hello = 1;
	c->http = http;
	TAILQ_INIT(&c->requests);
	c->tokens = 1.0; /* one request; the front end bounds the rate per address */
	clock_gettime(CLOCK_MONOTONIC, &c->tokens_at);
	return c;
}

/* Frees the answered requests of a client that goes away and detaches those still at Redis,
 * so their replies find no client and end quietly (as webdis does). */
void conn_detach_requests(struct conn *c)
{
	struct request *r;
	while ((r = TAILQ_FIRST(&c->requests)) != NULL) {
		TAILQ_REMOVE(&c->requests, r, entry);
		if (r->done)
			request_free(r);
		else
			r->conn = NULL;
	}
	c->nrequests = 0;
}

/* Closes a connection now: requests still at Redis are detached, not freed, so their
 * replies find no connection and end quietly (as webdis does). */
void conn_close(struct conn *c, const char *why)
{
	if (c->closed)
		return;
	c->closed = 1;
	log_debug("conn %llu closed: %s", (unsigned long long)c->id, why);
	events_subscribe(c, c->events_site, 0);
	if (c->unsent_listed)
		TAILQ_REMOVE(&unsent, c, unsent_entry);
	c->unsent_listed = 0;
	session_conn_gone(c);
	conn_detach_requests(c);
	if (c->http) {
		http_api_conn_closed(c); /* frees it once no callback can touch it */
		return;
	}
	bufferevent_free(c->bev);
	c->bev = NULL;
	event_free(c->hello_timer);
	c->hello_timer = NULL;
	TAILQ_REMOVE(&conns, c, entry);
	conn_count--;
	if (c->counted_anonymous)
		conn_anonymous_count--;
	admission_remove(c->addr);
	TAILQ_INSERT_TAIL(&graveyard, c, entry);
	event_active(reaper, EV_TIMEOUT, 0);
}

/* Closes every connection and frees them at once (at shutdown). */
void conn_close_all(void)
{
	struct conn *c;
	while ((c = TAILQ_FIRST(&conns)) != NULL)
		conn_close(c, "server stopping");
	conn_reap(-1, 0, NULL);
	if (reaper) {
		event_free(reaper);
		reaper = NULL;
	}
}

/* Drops a client whose unread output went past the bound: a slow reader must not grow memory. */
static int conn_check_output(struct conn *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > server.opt.max_output) {
		log_warn("conn %llu (%s) dropped: it reads too slowly", (unsigned long long)c->id, c->peer);
		metrics_slow_reader_dropped(METRICS_NDJSON);
		conn_close(c, "output over its bound");
		return -1;
	}
	return 0;
}

/* Queues event lines (len bytes, without the last '\n') behind the client's unanswered
 * requests, as one reply that conn_flush_replies writes in turn. */
static void conn_queue_events(struct conn *c, const char *json, size_t len)
{
	if (c->queued_event_bytes + len > server.opt.max_output) {
		log_warn("conn %llu (%s) dropped: too many events wait behind its requests", (unsigned long long)c->id, c->peer);
		metrics_slow_reader_dropped(METRICS_NDJSON);
		conn_close(c, "queued events over their bound");
		return;
	}
	struct request *r = calloc(1, sizeof *r);
	char *copy = malloc(len);
	if (!r || !copy) {
		free(r);
		free(copy);
		conn_close(c, "out of memory");
		return;
	}
	memcpy(copy, json, len);
	r->conn = c;
	r->reply = copy;
	r->reply_len = len;
	r->done = 1;
	r->is_event = 1;
	c->queued_event_bytes += len;
	TAILQ_INSERT_TAIL(&c->requests, r, entry);
}

/* Writes pieces of text to the client in order: with nothing of its waiting in its output
 * buffer, straight to its socket in one sendmsg, without arming the bufferevent's write event
 * and waiting for the next turn of the loop; what the socket does not take (or everything,
 * when output waits) goes into the buffer, whose write sends it later or reports the error.
 * -1 when the buffer could not take it (out of memory). */
static int conn_write_direct(struct conn *c, const struct iovec *iov, size_t n)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t sent = 0;
	if (evbuffer_get_length(out) == 0) {
		struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = n};
		ssize_t w = sendmsg(bufferevent_getfd(c->bev), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0)
			sent = (size_t)w;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = iov[i].iov_len, skip = sent < len ? sent : len;
		sent -= skip;
		if (skip < len && evbuffer_add(out, (const char *)iov[i].iov_base + skip, len - skip) < 0)
			return -1;
	}
	return 0;
}

/* Sends a subscribed client its lines of one message's events (count events, each line
 * ending in '\n'). With nothing waiting before them they go straight to the socket, one send
 * per client and message, without arming the bufferevent's write event and waiting for the
 * next turn of the loop; what the socket does not take is sent later as usual. Lines that
 * arrive while requests are unanswered wait behind them: a snapshot asked for before the
 * event then never arrives after it with older state. */
void conn_write_events(struct conn *c, const char *lines, size_t len, unsigned count)
{
	if (c->closed || c->closing)
		return;
	for (unsigned i = 0; i < count; i++)
		metrics_event_delivered(METRICS_NDJSON);
	if (!TAILQ_EMPTY(&c->requests)) {
		conn_queue_events(c, lines, len - 1); /* conn_send_lines adds the last '\n' again */
		return;
	}
	struct iovec iov = {(void *)lines, len};
	if (conn_write_direct(c, &iov, 1) < 0)
		conn_close(c, "out of memory");
	else
		conn_check_output(c);
}

/* Sends one last line (an error that answers no request), then closes the connection once the
 * line is out; requests still in flight are dropped. */
void conn_send_and_close(struct conn *c, const char *line, size_t len, const char *why)
{
	if (c->closed)
		return;
	if (c->nrequests > 0 || frame_write_line(bufferevent_get_output(c->bev), line, len) < 0) {
		conn_close(c, why);
		return;
	}
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	conn_flush_replies(c);
}

/* Closes a connection marked closing once every answer it was owed has left. */
static void conn_close_if_done(struct conn *c)
{
	if (c->closing && c->nrequests == 0 && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_close(c, "closing after an error");
}

/* Writes answered lines (their requests taken off the queue) with conn_write_direct and frees
 * their requests; a connection with output left waiting goes on the list conn_send_replies
 * writes before a fan-out. -1 when the connection was closed (out of memory). */
static int conn_send_lines(struct conn *c, struct request **done, size_t n)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct iovec iov[2 * CONN_SEND_BATCH];
	for (size_t i = 0; i < n; i++) {
		iov[2 * i] = (struct iovec){done[i]->reply, done[i]->reply_len};
		iov[2 * i + 1] = (struct iovec){"\n", 1};
	}
	int failed = conn_write_direct(c, iov, 2 * n) < 0;
	for (size_t i = 0; i < n; i++)
		request_free(done[i]);
	if (failed) {
		conn_close(c, "out of memory");
		return -1;
	}
	if (evbuffer_get_length(out) > 0 && !c->unsent_listed) {
		c->unsent_listed = 1;
		TAILQ_INSERT_TAIL(&unsent, c, unsent_entry);
	}
	return 0;
}

/* Sends the replies that are ready at the head of the queue, keeping request order. */
void conn_flush_replies(struct conn *c)
{
	if (c->closed)
		return;
	struct request *r, *done[CONN_SEND_BATCH];
	size_t n = 0;
	while ((r = TAILQ_FIRST(&c->requests)) != NULL && r->done) {
		TAILQ_REMOVE(&c->requests, r, entry);
		if (r->is_event)
			c->queued_event_bytes -= r->reply_len;
		else
			c->nrequests--;
		done[n++] = r;
		if (n == CONN_SEND_BATCH) {
			if (conn_send_lines(c, done, n) < 0)
				return;
			n = 0;
		}
	}
	if (n && conn_send_lines(c, done, n) < 0)
		return;
	if (conn_check_output(c) < 0)
		return;
	if (c->read_paused && c->nrequests < server.opt.max_pending && !c->closing) {
		c->read_paused = 0;
		/* Lines may already wait in the input buffer: look at them from a fresh callback. */
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	}
	conn_close_if_done(c);
}

/* Writes the answers waiting in output buffers to their sockets now, instead of on the next
 * turn of the loop, where they would leave in no particular order among the events written
 * by a fan-out. What the socket does not take is sent later as usual. */
void conn_send_replies(void)
{
	struct conn *c;
	while ((c = TAILQ_FIRST(&unsent)) != NULL) {
		TAILQ_REMOVE(&unsent, c, unsent_entry);
		c->unsent_listed = 0;
		struct evbuffer *out = bufferevent_get_output(c->bev);
		if (evbuffer_get_length(out) > 0) {
			/* A socket bufferevent keeps its output's start frozen so that only its own write
			 * drains it (evbuffer_write fails on it otherwise): thawed for this write, as it does. */
			evbuffer_unfreeze(out, 1);
			evbuffer_write(out, bufferevent_getfd(c->bev)); /* an error shows on the next write */
			evbuffer_freeze(out, 1);
		}
		/* Drained here, the bufferevent will not call conn_write_cb: finish a close now. */
		conn_close_if_done(c);
	}
}

/* Takes one token from the connection's bucket; 0 when it is empty. */
int conn_rate_allow(struct conn *c)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double dt = (double)(now.tv_sec - c->tokens_at.tv_sec) + (now.tv_nsec - c->tokens_at.tv_nsec) / 1e9;
	c->tokens_at = now;
	double burst = server.opt.rate_per_sec * 2.0;
	c->tokens += dt * server.opt.rate_per_sec;
	if (c->tokens > burst)
		c->tokens = burst;
	if (c->tokens < 1.0)
		return 0;
	c->tokens -= 1.0;
	return 1;
}

/* Reads every complete line and hands it to the op table, pausing when too much is in flight. */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (!c->closed && !c->closing) {
		if (c->nrequests >= server.opt.max_pending || c->gate) {
			c->read_paused = 1;
			return;
		}
		char *line;
		size_t len;
		enum frame_result fr = frame_read_line(in, &line, &len);
		if (fr == FRAME_NEED_MORE)
			return;
		struct request *r = request_create(c);
		if (!r) {
			if (fr == FRAME_LINE)
				free(line);
			conn_close(c, "out of memory");
			return;
		}
		if (fr == FRAME_TOO_LONG) {
			/* The rest of the line cannot be framed again: answer, then close. */
			c->closing = 1;
			bufferevent_disable(bev, EV_READ);
			request_reply_error(r, "too_long", NULL, "The line is over %d bytes; the connection will be closed.", FRAME_MAX_LINE);
			return;
		}
		optable_dispatch(r, line, len);
		free(line);
	}
}

/* Finishes a close that waited for the output to drain. */
static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_close_if_done(arg);
}

/* Handles the peer going away or a socket error. */
static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	if (what & BEV_EVENT_ERROR) {
		conn_close(c, "socket error");
	} else if (what & BEV_EVENT_EOF) {
		/* A client that sent its requests and shut its side still gets its replies. */
		c->closing = 1;
		conn_flush_replies(c);
	}
}

/* Returns the live connection of a clerk working at the window, if any. */
struct conn *conn_find_window_holder(const struct site *site, int window)
{
	struct conn *c;
	TAILQ_FOREACH(c, &conns, entry)
		if (c->role == ROLE_CLERK && c->site == site && c->window == window)
			return c;
	return NULL;
}
