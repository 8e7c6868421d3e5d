/* Counters of what qserver does, served as GET /metrics on the HTTP port in the Prometheus
 * text format 0.0.4 (docs/operations.md, Metrics). The tables are fixed: a row per op of the
 * op table and a column per error code of the protocol, so no client can grow them; gauges
 * (connections, subscribers, the Redis links) are counted when scraped. Only loopback and the
 * addresses of --metrics-allow may read them; they name no user, address or secret. */
#include "qserver.h"
#include "metrics.h"
#include "log.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <string.h>

#define METRICS_MAX_OPS 128	  /* rows of the op table counted; ops past it count as "none" */
#define METRICS_ALLOW_MAX 16	  /* addresses in --metrics-allow */
#define METRICS_ROLES 4

/* The latency buckets' upper bounds in seconds (0.5 ms to 1 s). */
static const double buckets[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

/* The protocol's error codes (PROTOCOL.md); any other counts as "other". */
static const char *const codes[] = {"bad_json",	 "too_long", "unknown_op", "bad_request", "unauthenticated",
				    "forbidden", "not_found", "conflict", "closed", "unavailable",
				    "rate_limited", "internal", "other"};
#define NCODES (sizeof codes / sizeof codes[0])

static const char *const transports[] = {"ndjson", "sse"};
static const char *const links[] = {"command", "pubsub"};
static const char *const webhook_results[] = {"delivered", "failed", "retried"};
#define NWEBHOOK (sizeof webhook_results / sizeof webhook_results[0])

/* One row per op, the last for requests that named no known op. */
struct op_row {
	unsigned long long requests;
	unsigned long long errors[NCODES];
	unsigned long long buckets[NBUCKETS]; /* not cumulative; summed when written */
	double seconds;
};

static struct op_row rows[METRICS_MAX_OPS + 1];
static unsigned long long http_errors[NCODES];
static unsigned long long events_delivered[METRICS_TRANSPORTS];
static unsigned long long slow_readers_dropped[METRICS_TRANSPORTS];
static unsigned long long events_resyncs;
static unsigned long long redis_reconnects[METRICS_LINKS];
static unsigned long long redis_failovers;
static unsigned long long login_failures, login_lockouts[2], login_refused;
static unsigned long long webhooks[NWEBHOOK];
static unsigned long long reloads[2]; /* refused, applied */

/* An address allowed to read /metrics besides loopback. */
struct allowed {
	int family;
	unsigned char addr[16];
};
static struct allowed allow[METRICS_ALLOW_MAX];
static size_t nallow;

/* Parses a numeric IPv4 or IPv6 address; -1 when it is neither. */
static int metrics_parse_addr(const char *s, struct allowed *out)
{
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, s, out->addr) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->addr) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -1;
}

/* Takes --metrics-allow ADDR[,ADDR...] (numeric addresses); -1 after a message on stderr. */
int metrics_allow_parse(const char *list)
{
	char item[64];
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		if (n == 0 || n >= sizeof item || nallow == METRICS_ALLOW_MAX) {
			fprintf(stderr, "qserver: --metrics-allow takes at most %d numeric addresses, comma-separated\n", METRICS_ALLOW_MAX);
			return -1;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		if (metrics_parse_addr(item, &allow[nallow]) < 0) {
			fprintf(stderr, "qserver: --metrics-allow: %s is not a numeric IPv4 or IPv6 address\n", item);
			return -1;
		}
		nallow++;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* True when the address may read the metrics: loopback (IPv4, IPv6, or IPv4 mapped into
 * IPv6) or one of --metrics-allow. */
static int metrics_allowed(const char *addr)
{
	struct allowed a;
	if (metrics_parse_addr(addr, &a) < 0)
		return 0;
	static const unsigned char v6_loopback[16] = {[15] = 1};
	static const unsigned char v4_mapped[12] = {[10] = 0xff, [11] = 0xff};
	if ((a.family == AF_INET && a.addr[0] == 127) ||
	    (a.family == AF_INET6 && memcmp(a.addr, v6_loopback, 16) == 0) ||
	    (a.family == AF_INET6 && memcmp(a.addr, v4_mapped, 12) == 0 && a.addr[12] == 127))
		return 1;
	for (size_t i = 0; i < nallow; i++)
		if (allow[i].family == a.family && memcmp(allow[i].addr, a.addr, a.family == AF_INET ? 4 : 16) == 0)
			return 1;
	return 0;
}

/* The column of an error code. */
static size_t metrics_code_index(const char *code)
{
	for (size_t i = 0; i < NCODES - 1; i++)
		if (strcmp(codes[i], code) == 0)
			return i;
	return NCODES - 1;
}

/* The row of an op; the last row for none. */
static size_t metrics_op_index(const struct op *op)
{
	const struct op *first = optable_at(0);
	if (!op || !first || op < first || (size_t)(op - first) >= optable_count() || (size_t)(op - first) >= METRICS_MAX_OPS)
		return METRICS_MAX_OPS;
	return (size_t)(op - first);
}

/* Counts one answered request of the op table (op NULL: it named no known op), an error
 * when error_code is set, and the time since it was read. */
void metrics_request(const struct op *op, const char *error_code, const struct timespec *started)
{
	struct op_row *row = &rows[metrics_op_index(op)];
	row->requests++;
	if (error_code)
		row->errors[metrics_code_index(error_code)]++;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double s = (double)(now.tv_sec - started->tv_sec) + (double)(now.tv_nsec - started->tv_nsec) / 1e9;
	if (s < 0)
		s = 0;
	row->seconds += s;
	size_t b = 0;
	while (b < NBUCKETS && s > buckets[b])
		b++;
	if (b < NBUCKETS)
		row->buckets[b]++; /* above the last bound: only in +Inf, which is the count */
}

/* Counts an error the HTTP front end answered itself, before any op ran. */
void metrics_http_error(const char *code)
{
	http_errors[metrics_code_index(code)]++;
}

/* Counts one event handed to one subscriber. */
void metrics_event_delivered(enum metrics_transport t)
{
	events_delivered[t]++;
}

/* Counts a subscriber dropped because it read too slowly. */
void metrics_slow_reader_dropped(enum metrics_transport t)
{
	slow_readers_dropped[t]++;
}

/* Counts a site whose subscribers were closed to resync (events may have been missed). */
void metrics_events_resync(void)
{
	events_resyncs++;
}

/* Counts a Redis link that connected again after having been up. */
void metrics_redis_reconnect(enum metrics_link link)
{
	redis_reconnects[link]++;
}

/* Counts a change of the primary the Sentinels name. */
void metrics_redis_failover(void)
{
	redis_failovers++;
}

/* Counts a failed sign-in (a wrong password or token, or an unknown name). */
void metrics_login_failure(void)
{
	login_failures++;
}

/* Counts a lock-out that began, of a user or kiosk, or of an address. */
void metrics_login_lockout(int by_address)
{
	login_lockouts[by_address ? 1 : 0]++;
}

/* Counts a hello refused because its user or address was locked out. */
void metrics_login_refused(void)
{
	login_refused++;
}

/* Counts a webhook delivery attempt's outcome: "delivered", "failed" or "retried". */
void metrics_webhook(const char *result)
{
	for (size_t i = 0; i < NWEBHOOK; i++)
		if (strcmp(webhook_results[i], result) == 0) {
			webhooks[i]++;
			return;
		}
	log_warn("metrics: unknown webhook result %.32s", result);
}

/* Counts a SIGHUP reload, applied (ok) or refused. */
void metrics_reload(int ok)
{
	reloads[ok ? 1 : 0]++;
}

/* Writes the HELP and TYPE lines of a family. */
static void family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The name of op row i. */
static const char *metrics_op_name(size_t i)
{
	return i < METRICS_MAX_OPS && optable_at(i) ? optable_at(i)->name : "none";
}

/* Writes the request families: counts, errors and latency per op. */
static void write_requests(struct evbuffer *out)
{
	size_t nops = optable_count() < METRICS_MAX_OPS ? optable_count() : METRICS_MAX_OPS;
	size_t ids[METRICS_MAX_OPS + 1];
	size_t n = 0;
	for (size_t i = 0; i < nops; i++)
		ids[n++] = i;
	ids[n++] = METRICS_MAX_OPS;
	family(out, "qhall_requests_total", "counter",
	       "Requests answered by the op table (NDJSON lines, HTTP API calls, ticket streams' reads), by op; none: no known op named.");
	for (size_t k = 0; k < n; k++)
		evbuffer_add_printf(out, "qhall_requests_total{op=\"%s\"} %llu\n", metrics_op_name(ids[k]), rows[ids[k]].requests);
	family(out, "qhall_request_errors_total", "counter", "Requests answered ok:false, by op and error code.");
	for (size_t k = 0; k < n; k++)
		for (size_t c = 0; c < NCODES; c++)
			if (rows[ids[k]].errors[c])
				evbuffer_add_printf(out, "qhall_request_errors_total{op=\"%s\",code=\"%s\"} %llu\n",
						    metrics_op_name(ids[k]), codes[c], rows[ids[k]].errors[c]);
	family(out, "qhall_request_duration_seconds", "histogram", "Time from reading a request to its answer, by op.");
	for (size_t k = 0; k < n; k++) {
		const struct op_row *row = &rows[ids[k]];
		const char *name = metrics_op_name(ids[k]);
		unsigned long long cumulative = 0;
		for (size_t b = 0; b < NBUCKETS; b++) {
			cumulative += row->buckets[b];
			evbuffer_add_printf(out, "qhall_request_duration_seconds_bucket{op=\"%s\",le=\"%g\"} %llu\n", name, buckets[b], cumulative);
		}
		evbuffer_add_printf(out, "qhall_request_duration_seconds_bucket{op=\"%s\",le=\"+Inf\"} %llu\n", name, row->requests);
		evbuffer_add_printf(out, "qhall_request_duration_seconds_sum{op=\"%s\"} %.6f\n", name, row->seconds);
		evbuffer_add_printf(out, "qhall_request_duration_seconds_count{op=\"%s\"} %llu\n", name, row->requests);
	}
	family(out, "qhall_http_errors_total", "counter",
	       "Errors the HTTP front end answered before any op ran (no such path, bad body, too many connections), by code.");
	for (size_t c = 0; c < NCODES; c++)
		if (http_errors[c])
			evbuffer_add_printf(out, "qhall_http_errors_total{code=\"%s\"} %llu\n", codes[c], http_errors[c]);
}

/* Counts one subscriber in the table of subscribers by transport and role (arg). */
static void count_subscriber(struct conn *c, void *arg)
{
	unsigned long (*subs)[METRICS_ROLES] = arg;
	subs[c->sse ? METRICS_SSE : METRICS_NDJSON][c->role % METRICS_ROLES]++;
}

/* Writes the connections and subscribers open now, by transport and role. */
static void write_connections(struct evbuffer *out)
{
	unsigned long conns_by_role[METRICS_ROLES] = {0};
	unsigned long subs[METRICS_TRANSPORTS][METRICS_ROLES] = {{0}};
	struct conn *c;
	TAILQ_FOREACH(c, &conns, entry)
		conns_by_role[c->role % METRICS_ROLES]++;
	events_each_subscriber(count_subscriber, subs);
	family(out, "qhall_connections", "gauge", "NDJSON connections open, by role.");
	for (int r = 0; r < METRICS_ROLES; r++)
		evbuffer_add_printf(out, "qhall_connections{role=\"%s\"} %lu\n", config_role_name((enum role)r), conns_by_role[r]);
	family(out, "qhall_subscribers", "gauge", "Subscribers of events (NDJSON connections, SSE streams), by transport and role.");
	for (int t = 0; t < METRICS_TRANSPORTS; t++)
		for (int r = 0; r < METRICS_ROLES; r++)
			evbuffer_add_printf(out, "qhall_subscribers{transport=\"%s\",role=\"%s\"} %lu\n", transports[t],
					    config_role_name((enum role)r), subs[t][r]);
	family(out, "qhall_events_delivered_total", "counter", "Events handed to subscribers (one per event and subscriber), by transport.");
	for (int t = 0; t < METRICS_TRANSPORTS; t++)
		evbuffer_add_printf(out, "qhall_events_delivered_total{transport=\"%s\"} %llu\n", transports[t], events_delivered[t]);
	family(out, "qhall_slow_readers_dropped_total", "counter", "Subscribers dropped for reading too slowly, by transport.");
	for (int t = 0; t < METRICS_TRANSPORTS; t++)
		evbuffer_add_printf(out, "qhall_slow_readers_dropped_total{transport=\"%s\"} %llu\n", transports[t], slow_readers_dropped[t]);
	family(out, "qhall_event_resyncs_total", "counter", "Times a site's subscribers were closed to resync after events may have been missed.");
	evbuffer_add_printf(out, "qhall_event_resyncs_total %llu\n", events_resyncs);
}

/* Writes the Redis, sign-in, webhook and reload families. */
static void write_others(struct evbuffer *out)
{
	family(out, "qhall_redis_up", "gauge", "1 when the command link to Redis is ready (functions loaded, sites set up), else 0.");
	evbuffer_add_printf(out, "qhall_redis_up %d\n", store_ready() ? 1 : 0);
	family(out, "qhall_redis_events_up", "gauge", "1 when the pub/sub link to Redis is subscribed, else 0.");
	evbuffer_add_printf(out, "qhall_redis_events_up %d\n", store_events_ready() ? 1 : 0);
	family(out, "qhall_redis_reconnects_total", "counter", "Redis links connected again after having been up, by link.");
	for (int l = 0; l < METRICS_LINKS; l++)
		evbuffer_add_printf(out, "qhall_redis_reconnects_total{link=\"%s\"} %llu\n", links[l], redis_reconnects[l]);
	family(out, "qhall_redis_failovers_total", "counter", "Changes of the primary the Sentinels name.");
	evbuffer_add_printf(out, "qhall_redis_failovers_total %llu\n", redis_failovers);
	family(out, "qhall_login_failures_total", "counter", "Failed sign-ins: wrong passwords or tokens, unknown names.");
	evbuffer_add_printf(out, "qhall_login_failures_total %llu\n", login_failures);
	family(out, "qhall_login_lockouts_total", "counter", "Sign-in lock-outs that began, of a user or kiosk, or of an address.");
	evbuffer_add_printf(out, "qhall_login_lockouts_total{by=\"user\"} %llu\n", login_lockouts[0]);
	evbuffer_add_printf(out, "qhall_login_lockouts_total{by=\"address\"} %llu\n", login_lockouts[1]);
	family(out, "qhall_login_refused_total", "counter", "Sign-ins refused unchecked during a lock-out.");
	evbuffer_add_printf(out, "qhall_login_refused_total %llu\n", login_refused);
	family(out, "qhall_webhook_deliveries_total", "counter", "Webhook delivery attempts, by result.");
	for (size_t i = 0; i < NWEBHOOK; i++)
		evbuffer_add_printf(out, "qhall_webhook_deliveries_total{result=\"%s\"} %llu\n", webhook_results[i], webhooks[i]);
	family(out, "qhall_config_reloads_total", "counter", "SIGHUP reloads of the hall configs, by result.");
	evbuffer_add_printf(out, "qhall_config_reloads_total{result=\"applied\"} %llu\n", reloads[1]);
	evbuffer_add_printf(out, "qhall_config_reloads_total{result=\"refused\"} %llu\n", reloads[0]);
	family(out, "qhall_sites", "gauge", "Sites (halls) this process serves.");
	evbuffer_add_printf(out, "qhall_sites %zu\n", sites_count());
}

/* Serves GET /metrics to loopback and --metrics-allow; 403 to anyone else. The address is
 * the one http.c reads, so behind the trusted proxy it is the client's, not the proxy's. */
void metrics_http_handle(struct evhttp_request *req)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		http_send_error(req, "not_found", "Metrics are read with GET.");
		return;
	}
	char addr[CONN_ADDR_MAX];
	http_peer_address(req, addr, sizeof addr);
	if (!metrics_allowed(addr)) {
		http_send_error(req, "forbidden", "Metrics are open to loopback and to the addresses of --metrics-allow only.");
		return;
	}
	struct evbuffer *out = evbuffer_new();
	if (!out) {
		http_send_error(req, "internal", "The server ran out of memory.");
		return;
	}
	write_requests(out);
	write_connections(out);
	write_others(out);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	http_add_security_headers(req, 0);
	evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}
