/* Who may connect: a cap per peer address (--max-per-addr) and a share of the slots kept for
 * signed-in roles (--reserved-conns), so that anonymous readers can never lock out a kiosk or
 * a clerk. See docs/operations.md ("Connection limits"). */
#include "qserver.h"
#include "frame.h"
#include "log.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Open connections of one peer address. An entry lives only while its address has a
 * connection open, so the table never holds more entries than there are connections. */
struct peer_count {
	struct peer_count *next;
	unsigned count;
	char addr[CONN_ADDR_MAX];
};

#define PEER_BUCKETS 4096
static struct peer_count *peer_buckets[PEER_BUCKETS];

/* What a refused or expelled client reads before the connection closes (no id: it answers
 * no request, like the line of a full server). */
#define RESERVED_MESSAGE "The free connections are kept for kiosks, clerks and managers: sign in with hello, or retry later."
#define UNAVAILABLE_LINE(message) "{\"ok\":false,\"error\":{\"code\":\"unavailable\",\"message\":\"" message "\"}}"
static const char line_full[] = UNAVAILABLE_LINE("The server has too many connections; retry later.");
static const char line_addr[] = UNAVAILABLE_LINE("Too many connections from your address; close some and retry later.");
static const char line_reserved[] = UNAVAILABLE_LINE(RESERVED_MESSAGE);

/* A warning that may be given at most once every ADMISSION_LOG_EVERY_S seconds; the lines
 * held back are counted and reported with the next one, so a flood cannot flood the log. */
struct throttled_log {
	long long last_ms;
	unsigned long held_back;
};
#define ADMISSION_LOG_EVERY_S 10

static struct throttled_log log_full, log_addr, log_reserved, log_expelled;

static void admission_log(struct throttled_log *tl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs one warning unless another of its kind was logged within the last few seconds. */
static void admission_log(struct throttled_log *tl, const char *fmt, ...)
{
	long long now = clock_real_ms();
	if (tl->last_ms && now - tl->last_ms < ADMISSION_LOG_EVERY_S * 1000LL) {
		tl->held_back++;
		return;
	}
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (tl->held_back)
		log_warn("%s (and %lu more like it in the last %d s)", msg, tl->held_back,
			 (int)((now - tl->last_ms) / 1000));
	else
		log_warn("%s", msg);
	tl->last_ms = now;
	tl->held_back = 0;
}

/* FNV-1a of the address: spreads the table's entries over its buckets. */
static unsigned admission_hash(const char *addr)
{
	unsigned h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % PEER_BUCKETS;
}

/* Finds the entry of an address and the link that points to it; NULL when it has none. */
static struct peer_count *admission_find(const char *addr, struct peer_count ***link)
{
	struct peer_count **l = &peer_buckets[admission_hash(addr)];
	for (; *l; l = &(*l)->next) {
		if (strcmp((*l)->addr, addr) == 0) {
			if (link)
				*link = l;
			return *l;
		}
	}
	return NULL;
}

/* How many connections are open from this address. */
unsigned admission_addr_count(const char *addr)
{
	struct peer_count *p = admission_find(addr, NULL);
	return p ? p->count : 0;
}

/* Counts a new connection of this address; -1 when out of memory. */
int admission_add(const char *addr)
{
	struct peer_count *p = admission_find(addr, NULL);
	if (!p) {
		p = calloc(1, sizeof *p);
		if (!p)
			return -1;
		snprintf(p->addr, sizeof p->addr, "%s", addr);
		unsigned b = admission_hash(addr);
		p->next = peer_buckets[b];
		peer_buckets[b] = p;
	}
	p->count++;
	return 0;
}

/* Counts a connection of this address gone; the entry goes with the address's last one. */
void admission_remove(const char *addr)
{
	struct peer_count **link;
	struct peer_count *p = admission_find(addr, &link);
	if (!p)
		return;
	if (--p->count == 0) {
		*link = p->next;
		free(p);
	}
}

/* The slots anonymous connections may hold together: --max-conns less the reserved ones. */
static int admission_anonymous_share(void)
{
	return server.opt.max_conns - server.opt.reserved_conns;
}

/* Writes a short line on a socket about to be closed; it is fresh, so the line fits. */
static void admission_tell(int fd, const char *line)
{
	char buf[256];
	int n = snprintf(buf, sizeof buf, "%s\n", line);
	ssize_t ignored = write(fd, buf, (size_t)n);
	(void)ignored;
}

/* Decides on a connection just accepted from addr (peer names it in the log): ADMIT_OPEN,
 * ADMIT_PROBATION (it must sign in within --hello-timeout), or a refusal, which has already
 * been told to the client and logged; the caller then closes fd. */
enum admission admission_check(int fd, const char *addr, const char *peer)
{
	if (server.shutting_down || conn_count >= server.opt.max_conns) {
		admission_tell(fd, line_full);
		admission_log(&log_full, "refused a connection from %s: %d connections open (--max-conns %d)", peer,
			      conn_count, server.opt.max_conns);
		return ADMIT_REFUSE_FULL;
	}
	unsigned from_addr = admission_addr_count(addr);
	if (from_addr >= (unsigned)server.opt.max_per_addr) {
		admission_tell(fd, line_addr);
		admission_log(&log_addr, "refused a connection from %s: %u connections open from %s (--max-per-addr %d)",
			      peer, from_addr, addr, server.opt.max_per_addr);
		return ADMIT_REFUSE_ADDR;
	}
	int share = admission_anonymous_share();
	if (conn_anonymous_count < share)
		return ADMIT_OPEN;
	admission_log(&log_reserved, "anonymous connections fill their %d slots (--max-conns %d less --reserved-conns %d): "
		      "%s may stay only if it signs in within %d s", share, server.opt.max_conns,
		      server.opt.reserved_conns, peer, server.opt.hello_timeout_ms / 1000);
	return ADMIT_PROBATION;
}

/* Sends the line that says why, then closes the connection once it is out. */
static void admission_expel(struct conn *c, const char *why)
{
	admission_log(&log_expelled, "closed connection %llu from %s: %s", (unsigned long long)c->id, c->peer, why);
	conn_send_and_close(c, line_reserved, sizeof line_reserved - 1, why);
}

/* Lets a request of a connection on probation through only if it may lead to signing in
 * (ping, or hello with a role other than public); otherwise answers `unavailable` and
 * closes the connection, freeing its reserved slot at once. Returns 1 when it may run. */
int admission_request_allowed(struct request *r)
{
	struct conn *c = r->conn;
	if (!c->probation || c->role != ROLE_PUBLIC || r->op->handler == op_ping)
		return 1;
	if (r->op->handler == op_hello) {
		cJSON *role = cJSON_GetObjectItemCaseSensitive(r->args, "role");
		if (!cJSON_IsString(role) || strcmp(role->valuestring, "public") != 0)
			return 1;
	}
	admission_log(&log_expelled, "closed connection %llu from %s: %s while on a reserved slot",
		      (unsigned long long)c->id, c->peer, r->op->name);
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	request_reply_error(r, "unavailable", NULL, "%s", RESERVED_MESSAGE);
	return 0;
}

/* Ends a connection on probation that did not sign in within --hello-timeout. */
void admission_probation_expired(struct conn *c)
{
	admission_expel(c, "it did not sign in within the hello timeout");
}
