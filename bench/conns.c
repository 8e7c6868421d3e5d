/* qbench connections: connecting in batches, hello and subscribe, framing answers without
 * copying them, and the per-connection ring of requests in flight (answers come in request
 * order, PROTOCOL.md, so the ring's head is always the request a response answers). */
#include "qbench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);
static void conn_setup_step(struct qb_conn *c, enum qb_op op, int ok, const char *line, size_t len);

/* Gives each connection its class, in the order: kiosks, clerks, public, displays. */
static void assign_classes(struct qb_bench *b, int counts[CLS_COUNT])
{
	int at = 0;
	for (int cls = 0; cls < CLS_COUNT; cls++) {
		b->class_first[cls] = at;
		b->class_n[cls] = counts[cls];
		for (int i = 0; i < counts[cls]; i++, at++) {
			struct qb_conn *c = &b->conns[at];
			c->b = b;
			c->index = at;
			c->cls = cls;
			if (cls == CLS_CLERK) {
				c->window = b->opt.first_window + i;
				/* The bench hall gives clerk bNNN window NNN, the test hall c01 window 1. */
				snprintf(c->user, sizeof c->user, "%s%0*d", b->opt.clerk_prefix, b->opt.clerk_width, c->window);
			}
		}
	}
	b->nconns = at;
}

/* Works out how many connections of each class the scenario needs and allocates them. */
int qb_conns_create(struct qb_bench *b)
{
	const struct qb_options *o = &b->opt;
	int counts[CLS_COUNT] = {0};
	switch (o->scenario) {
	case SC_TAKE: counts[CLS_KIOSK] = o->conns; break;
	case SC_CLERK: counts[CLS_KIOSK] = o->prefill > 0; counts[CLS_CLERK] = o->clerks; break;
	case SC_MIXED:
		counts[CLS_KIOSK] = o->conns;
		counts[CLS_PUBLIC] = o->conns;
		counts[CLS_CLERK] = o->clerks;
		counts[CLS_DISPLAY] = o->displays;
		break;
	case SC_FANOUT: counts[CLS_KIOSK] = 1; counts[CLS_CLERK] = 1; counts[CLS_DISPLAY] = o->conns; break;
	case SC_IDLE: counts[CLS_DISPLAY] = o->conns; break;
	case SC_LOGIN: counts[CLS_PUBLIC] = o->conns; counts[CLS_DISPLAY] = o->logins; break;
	}
	int total = 0;
	for (int i = 0; i < CLS_COUNT; i++)
		total += counts[i];
	b->conns = calloc((size_t)total, sizeof *b->conns);
	if (!b->conns)
		return -1;
	assign_classes(b, counts);
	for (int i = 0; i < b->nconns; i++) {
		struct qb_conn *c = &b->conns[i];
		/* Only connections that carry jobs need a deep ring; the rest say hello and listen. */
		int worker = c->cls != CLS_DISPLAY;
		unsigned depth = c->cls == CLS_CLERK ? 1 : o->mode == MODE_FIXED ? QB_FIXED_DEPTH : (unsigned)o->depth;
		c->depth = worker ? depth : 0;
		c->ring_cap = (worker ? depth : 0) + 4;
		c->ring = calloc(c->ring_cap, sizeof *c->ring);
		if (!c->ring)
			return -1;
	}
	return 0;
}

/* Frees every connection and its ring. */
void qb_conns_free(struct qb_bench *b)
{
	for (int i = 0; i < b->nconns; i++) {
		if (b->conns[i].bev)
			bufferevent_free(b->conns[i].bev);
		free(b->conns[i].ring);
	}
	free(b->conns);
	b->conns = NULL;
	b->nconns = 0;
}

/* Parses a loopback IPv4 HOST:PORT; -1 for anything else (qbench never loads a real hall). */
static int parse_loopback(const char *server, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon = strrchr(server, ':');
	if (!colon || (size_t)(colon - server) >= sizeof host)
		return -1;
	memcpy(host, server, (size_t)(colon - server));
	host[colon - server] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	if (*end || port < 1 || port > 65535 || inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
		return -1;
	sin->sin_port = htons((uint16_t)port);
	return 0;
}

/* Marks a connection failed during setup and keeps the batch moving. */
static void conn_setup_failed(struct qb_conn *c, const char *why)
{
	struct qb_bench *b = c->b;
	if (c->state == CS_CONNECTING || c->state == CS_SETUP) {
		b->connecting--;
		b->failed++;
		b->err.connect_failures++;
		if (b->failed <= 3)
			fprintf(stderr, "qbench: connection %d (%s) failed: %s\n", c->index, c->user[0] ? c->user : "-", why);
	}
	c->state = CS_DEAD;
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	qb_conns_connect_more(b);
}

/* Starts connecting one connection; 0 when under way. */
static int conn_start(struct qb_conn *c)
{
	struct sockaddr_in sin;
	if (parse_loopback(c->b->opt.server, &sin) < 0)
		return -1;
	c->bev = bufferevent_socket_new(c->b->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		return -1;
	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	c->state = CS_CONNECTING;
	c->b->connecting++;
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof sin) < 0) {
		conn_setup_failed(c, strerror(errno));
		return 0;
	}
	bufferevent_enable(c->bev, EV_READ);
	return 0;
}

/* Starts more connections while fewer than QB_CONNECTING_MAX are in connect or hello: ten
 * thousand SYNs at once would overflow the listen queue and cost seconds of retransmits. */
void qb_conns_connect_more(struct qb_bench *b)
{
	while (b->phase == PH_SETUP && b->connecting < QB_CONNECTING_MAX && b->next_to_connect < b->nconns) {
		struct qb_conn *c = &b->conns[b->next_to_connect++];
		if (conn_start(c) < 0) {
			fprintf(stderr, "qbench: cannot connect to %s (a loopback IPv4 HOST:PORT)\n", b->opt.server);
			qb_finish(b, 2);
			return;
		}
	}
	if (b->phase == PH_SETUP && b->next_to_connect == b->nconns && b->connecting == 0)
		qb_scenario_start(b);
}

/* Sends one request line built from fmt (which must hold `"id":%llu` first) and records it
 * in the ring; -1 when the ring or the line would overflow. */
int qb_conn_send(struct qb_conn *c, enum qb_op op, uint64_t due_ns, int counted, const char *fmt, ...)
{
	if (!c->bev || c->ring_count >= c->ring_cap)
		return -1;
	char line[QB_REQUEST_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line - 1)
		return -1;
	line[n++] = '\n';
	if (bufferevent_write(c->bev, line, (size_t)n) < 0)
		return -1;
	struct qb_inflight *f = &c->ring[(c->ring_head + c->ring_count) % c->ring_cap];
	*f = (struct qb_inflight){.due_ns = due_ns, .op = (uint8_t)op, .counted = (uint8_t)counted};
	c->ring_count++;
	c->next_id++;
	c->b->inflight++;
	return 0;
}

/* Takes the oldest request off the ring. */
static struct qb_inflight ring_pop(struct qb_conn *c)
{
	struct qb_inflight f = c->ring[c->ring_head];
	c->ring_head = (c->ring_head + 1) % c->ring_cap;
	c->ring_count--;
	c->b->inflight--;
	return f;
}

/* True when the response line says ok:true; qserver writes "ok" right after "id". */
static int line_is_ok(const char *line, size_t len)
{
	size_t window = len < 64 ? len : 64;
	return memmem(line, window, "\"ok\":true", 9) != NULL;
}

/* Handles one line from the server: an event, or the answer to the ring's oldest request. */
static void conn_line(struct qb_conn *c, const char *line, size_t len, uint64_t now)
{
	struct qb_bench *b = c->b;
	if (len >= 9 && memcmp(line, "{\"event\"", 8) == 0) {
		c->events++;
		qb_scenario_event(c, line, len, now);
		return;
	}
	if (c->ring_count == 0) {
		b->err.unexpected++;
		return;
	}
	struct qb_inflight f = ring_pop(c);
	int ok = line_is_ok(line, len);
	if (f.op == OP_HELLO || f.op == OP_SUBSCRIBE) {
		conn_setup_step(c, f.op, ok, line, len);
		return;
	}
	qb_scenario_answer(c, f, ok, line, len, now);
}

/* Reads every complete line in place (no copy, no allocation) and hands it on. */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct qb_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint64_t now = qb_now_ns();
	while (c->bev == bev) {
		size_t eol_len = 0;
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) >= QB_LINE_MAX) {
				c->b->err.unexpected++;
				bufferevent_disable(bev, EV_READ);
			}
			return;
		}
		size_t len = (size_t)eol.pos;
		if (len + 1 > QB_LINE_MAX) {
			c->b->err.unexpected++;
			evbuffer_drain(in, len + 1);
			continue;
		}
		const char *line = (const char *)evbuffer_pullup(in, (ssize_t)(len + 1));
		if (!line)
			return;
		conn_line(c, line, len, now);
		if (c->bev != bev)
			return; /* a refused hello freed the connection and its buffers */
		evbuffer_drain(in, len + 1);
	}
}

/* Sends hello for the connection's class once the TCP connect went through. */
static void conn_say_hello(struct qb_conn *c)
{
	const struct qb_options *o = &c->b->opt;
	int nodelay = 1;
	setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
	c->state = CS_SETUP;
	unsigned long long id = (unsigned long long)c->next_id;
	int rc;
	switch (c->cls) {
	case CLS_KIOSK:
		rc = qb_conn_send(c, OP_HELLO, 0, 0, "{\"id\":%llu,\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"%s\"}", id, o->token);
		break;
	case CLS_CLERK:
		rc = qb_conn_send(c, OP_HELLO, 0, 0,
				  "{\"id\":%llu,\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"%s\",\"password\":\"%s\",\"window\":%d}",
				  id, c->user, o->password, c->window);
		break;
	default:
		rc = qb_conn_send(c, OP_HELLO, 0, 0, "{\"id\":%llu,\"op\":\"hello\",\"role\":\"public\"}", id);
		break;
	}
	if (rc < 0)
		conn_setup_failed(c, "cannot send hello");
}

/* Builds the subscribe request's topics array from the comma-separated option. */
static void topics_json(const char *topics, char *out, size_t cap)
{
	size_t n = (size_t)snprintf(out, cap, "[");
	const char *p = topics;
	while (*p && n + 16 < cap) {
		size_t word = strcspn(p, ",");
		if (word > 0 && word < 16)
			n += (size_t)snprintf(out + n, cap - n, "%s\"%.*s\"", n > 1 ? "," : "", (int)word, p);
		p += word + (p[word] == ',');
	}
	snprintf(out + n, cap - n, "]");
}

/* Moves a connection on after its hello or subscribe was answered. */
static void conn_setup_step(struct qb_conn *c, enum qb_op op, int ok, const char *line, size_t len)
{
	struct qb_bench *b = c->b;
	if (!ok) {
		char why[160];
		snprintf(why, sizeof why, "%s refused: %.*s", op == OP_HELLO ? "hello" : "subscribe", (int)(len < 120 ? len : 120), line);
		conn_setup_failed(c, why);
		return;
	}
	if (op == OP_HELLO && c->cls == CLS_DISPLAY) {
		char topics[128];
		if (b->opt.topics[0])
			topics_json(b->opt.topics, topics, sizeof topics);
		int rc = b->opt.topics[0]
				 ? qb_conn_send(c, OP_SUBSCRIBE, 0, 0, "{\"id\":%llu,\"op\":\"subscribe\",\"topics\":%s}", (unsigned long long)c->next_id, topics)
				 : qb_conn_send(c, OP_SUBSCRIBE, 0, 0, "{\"id\":%llu,\"op\":\"subscribe\"}", (unsigned long long)c->next_id);
		if (rc < 0)
			conn_setup_failed(c, "cannot send subscribe");
		return;
	}
	c->state = CS_READY;
	b->connecting--;
	b->ready++;
	qb_conns_connect_more(b);
}

/* Handles connect, end of file and socket errors. */
static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct qb_conn *c = arg;
	struct qb_bench *b = c->b;
	if (what & BEV_EVENT_CONNECTED) {
		conn_say_hello(c);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (c->state != CS_READY) {
		conn_setup_failed(c, what & BEV_EVENT_EOF ? "closed by the server" : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return;
	}
	/* Lost after setup: what it had in flight will never be answered. */
	b->err.disconnects++;
	while (c->ring_count > 0) {
		struct qb_inflight f = ring_pop(c);
		if (f.counted && !f.expired)
			b->err.lost++;
	}
	c->state = CS_DEAD;
	bufferevent_free(c->bev);
	c->bev = NULL;
	b->capacity -= b->capacity >= c->depth ? c->depth : b->capacity;
	qb_scenario_pump(b);
}

/* Counts as timeouts the requests that waited longer than --timeout; their answers, if they
 * ever come, are then ignored. */
void qb_conns_sweep(struct qb_bench *b, uint64_t now)
{
	uint64_t limit = (uint64_t)b->opt.timeout_ms * 1000000ull;
	for (int i = 0; i < b->nconns; i++) {
		struct qb_conn *c = &b->conns[i];
		for (unsigned k = 0; k < c->ring_count; k++) {
			struct qb_inflight *f = &c->ring[(c->ring_head + k) % c->ring_cap];
			if (f->op >= OP_HELLO && f->op != OP_PREFILL_TAKE)
				continue;
			if (!f->expired && f->due_ns && now > f->due_ns + limit) {
				f->expired = 1;
				if (f->counted)
					b->err.timeouts++;
			}
		}
	}
}
