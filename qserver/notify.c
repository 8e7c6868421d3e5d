/* Delivery of "your turn is near" notifications (PROTOCOL.md v2, docs/notifications.md): the
 * library queues one delivery per ticket and event in the site's Redis (P:nq, P:nd:*); every
 * qserver of a site with notify_url claims due ones for a lease (qh_notify_claim), POSTs each
 * signed body to the notify_url with libevent's HTTP client on the event loop, and settles it
 * (qh_notify_settle): done on a 2xx, due again after a backoff otherwise, given up after
 * NOTIFY_GIVE_UP_MS. A qserver that dies mid-delivery leaves its claim to run out; another
 * then delivers it. Nothing here waits: the HTTP exchange, the Redis calls and the name
 * lookups (evdns) all run on the loop, and the deliveries in flight are bounded. */
#include "qserver.h"
#include "log.h"
#include "metrics.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTIFY_IN_FLIGHT_MAX 32	       /* deliveries under way at once in this process */
#define NOTIFY_HTTP_TIMEOUT_S 10       /* one attempt's connect, send and answer */
#define NOTIFY_LEASE_MS 30000	       /* a claim's hold: well past one attempt */
#define NOTIFY_SWEEP_MS 5000	       /* a site's queue is looked at least this often */
#define NOTIFY_BACKOFF_FIRST_MS 1000   /* the wait before the first retry; doubles each time */
#define NOTIFY_BACKOFF_MAX_MS 60000
#define NOTIFY_GIVE_UP_MS (5 * 60 * 1000) /* retries stop this long after the first attempt */
#define NOTIFY_LOG_EVERY_S 10	       /* failures are logged at most this often per site */
#define NOTIFY_REPLY_MAX 65536	       /* bytes of a receiver's answer read at most */

/* A site that has notify_url: its receiver and its queue's timer. */
struct notify_site {
	struct site *site;
	char host[256];
	int port;
	char path[1024];
	struct event *timer;	      /* the next look at the queue */
	long long timer_at_ms;	      /* the real time it fires; 0 when it is not armed */
	int enabled;		      /* the site's config has notify_url */
	int busy;		      /* a peek or claim is out */
	int again;		      /* a wake came while busy: look again after */
	time_t logged_at;	      /* the last failure logged */
	unsigned long unlogged;	      /* failures since then */
};

/* One attempt of one delivery. */
struct delivery {
	TAILQ_ENTRY(delivery) entry;
	struct notify_site *ns;
	char *member;		      /* "<ticket id>:<event>" in P:nq */
	char *owner;		      /* the claim's name, checked when it is settled */
	char *body;
	long attempts;
	long long since_ms;	      /* the first attempt's real time */
	struct evhttp_connection *conn;
	struct event *reap;	      /* frees the connection once its callback returned */
	int status;		      /* the receiver's HTTP status, 0 for none */
};
TAILQ_HEAD(delivery_list, delivery);

static struct notify_site *nsites;
static size_t nnsites;
static struct delivery_list in_flight = TAILQ_HEAD_INITIALIZER(in_flight);
static int nin_flight;
static struct evdns_base *dns;
static struct notify_counts counts;

static void notify_look(struct notify_site *ns);

/* Writes the lowercase hex HMAC-SHA256 of body under secret into out (65 bytes); -1 on failure. */
int notify_sign(const char *secret, const char *body, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!secret || !HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, md, &mdlen) ||
	    mdlen != 32)
		return -1;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* Adds key: the integer of a decimal string, or null for "". */
static void body_int(cJSON *o, const char *key, const char *v)
{
	if (v && *v)
		cJSON_AddNumberToObject(o, key, (double)strtoll(v, NULL, 10));
	else
		cJSON_AddNullToObject(o, key);
}

/* The body POSTed for one delivery, from the strings the claim gave ("" for none):
 * {"site","ticket","number","ref","ahead","ewt","window","event"}. Returns it malloc'd, or NULL. */
char *notify_body(const char *site, const char *ticket, const char *number, const char *ref, const char *ahead,
		  const char *ewt, const char *window, const char *event)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "site", site);
	cJSON_AddStringToObject(o, "ticket", ticket);
	cJSON_AddStringToObject(o, "number", number);
	if (*ref)
		cJSON_AddStringToObject(o, "ref", ref);
	else
		cJSON_AddNullToObject(o, "ref");
	body_int(o, "ahead", ahead);
	body_int(o, "ewt", ewt);
	body_int(o, "window", window);
	cJSON_AddStringToObject(o, "event", event);
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* Counts the end of one attempt: result is "delivered", "failed" (given up) or "retried",
 * here and in the metrics. */
static void notify_count(const char *result)
{
	metrics_webhook(result);
	if (strcmp(result, "delivered") == 0)
		counts.delivered++;
	else if (strcmp(result, "failed") == 0)
		counts.failed++;
	else
		counts.retried++;
}

/* The counts of this process's deliveries since it started (for the metrics). */
struct notify_counts notify_counts(void)
{
	struct notify_counts c = counts;
	c.in_flight = (unsigned long)nin_flight;
	return c;
}

/* Logs a failed attempt, at most once per NOTIFY_LOG_EVERY_S per site, with how many were
 * not logged in between; never the body (it holds the citizen's phone) or the secret. */
static void notify_log_failure(struct notify_site *ns, const struct delivery *d, const char *what)
{
	time_t now = time(NULL);
	if (ns->logged_at && now - ns->logged_at < NOTIFY_LOG_EVERY_S) {
		ns->unlogged++;
		return;
	}
	char more[64] = "";
	if (ns->unlogged)
		snprintf(more, sizeof more, "; %lu more failures since the last report", ns->unlogged);
	log_warn("notify %s: %s %s (attempt %ld, HTTP %d)%s", ns->site->cfg->site.id, d->member, what, d->attempts,
		 d->status, more);
	ns->logged_at = now;
	ns->unlogged = 0;
}

/* Frees a delivery and its connection (never from inside the connection's callbacks). */
static void delivery_free(struct delivery *d)
{
	TAILQ_REMOVE(&in_flight, d, entry);
	nin_flight--;
	if (d->conn)
		evhttp_connection_free(d->conn);
	if (d->reap)
		event_free(d->reap);
	free(d->member);
	free(d->owner);
	free(d->body);
	free(d);
}

/* Ignores the reply to a settle: a lost one leaves the claim to run out, and the delivery
 * is tried again (docs/notifications.md, Guarantees). */
static void notify_on_settled(redisReply *reply, void *arg)
{
	(void)arg;
	if (reply && reply->type == REDIS_REPLY_ERROR)
		log_error("notify: qh_notify_settle: %s", reply->str);
}

/* Arms a site's timer to look at its queue in ms milliseconds, unless it is armed sooner. */
static void notify_arm(struct notify_site *ns, long long ms)
{
	if (ms < 0)
		ms = 0;
	long long at = clock_real_ms() + ms;
	if (ns->timer_at_ms && ns->timer_at_ms <= at)
		return;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(ns->timer, &tv);
	ns->timer_at_ms = at;
}

/* Settles a finished attempt in Redis and counts it, then frees it. */
static void delivery_settle(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct delivery *d = arg;
	struct notify_site *ns = d->ns;
	const char *outcome;
	char due[24] = "";
	long long now = clock_real_ms();
	if (d->status >= 200 && d->status < 300) {
		outcome = "done";
		notify_count("delivered");
	} else if (now - d->since_ms >= NOTIFY_GIVE_UP_MS) {
		outcome = "gave_up";
		notify_count("failed");
		log_warn("notify %s: gave up on %s after %ld attempts in %lld s", ns->site->cfg->site.id, d->member,
			 d->attempts, (now - d->since_ms) / 1000);
	} else {
		outcome = "retry";
		notify_count("retried");
		long long wait = NOTIFY_BACKOFF_FIRST_MS;
		for (long i = 1; i < d->attempts && wait < NOTIFY_BACKOFF_MAX_MS; i++)
			wait *= 2;
		if (wait > NOTIFY_BACKOFF_MAX_MS)
			wait = NOTIFY_BACKOFF_MAX_MS;
		snprintf(due, sizeof due, "%lld", now + wait);
		notify_log_failure(ns, d, d->status ? "was refused" : "got no answer");
		notify_arm(ns, wait);
	}
	const char *argv[] = {d->member, d->owner, outcome, due};
	if (!store_ready() || store_fcall(ns->site, "qh_notify_settle", 0, notify_on_settled, NULL, 4, argv) < 0)
		log_warn("notify %s: storage unreachable; %s is tried again when its claim runs out",
			 ns->site->cfg->site.id, d->member);
	delivery_free(d);
	notify_look(ns); /* a slot is free: more may be due */
}

/* The receiver answered, or the attempt failed (req NULL or no status): settle it once
 * this callback has returned, as the connection may not be freed inside it. */
static void delivery_on_response(struct evhttp_request *req, void *arg)
{
	struct delivery *d = arg;
	d->status = req ? evhttp_request_get_response_code(req) : 0;
	struct timeval now = {0, 0};
	evtimer_add(d->reap, &now);
}

/* Starts one attempt: a POST of the signed body to the site's notify_url. */
static void delivery_send(struct delivery *d)
{
	struct notify_site *ns = d->ns;
	char signature[7 + 65] = "sha256=";
	struct evhttp_request *req = NULL;
	int ok = notify_sign(ns->site->cfg->site.notify_secret, d->body, strlen(d->body), signature + 7) == 0 &&
		 (d->reap = evtimer_new(server.base, delivery_settle, d)) != NULL &&
		 (d->conn = evhttp_connection_base_new(server.base, dns, ns->host, (unsigned short)ns->port)) != NULL &&
		 (req = evhttp_request_new(delivery_on_response, d)) != NULL;
	if (ok) {
		evhttp_connection_set_timeout(d->conn, NOTIFY_HTTP_TIMEOUT_S);
		evhttp_connection_set_retries(d->conn, 0);
		evhttp_connection_set_max_body_size(d->conn, NOTIFY_REPLY_MAX);
		evhttp_connection_set_max_headers_size(d->conn, NOTIFY_REPLY_MAX);
		struct evkeyvalq *h = evhttp_request_get_output_headers(req);
		char host[300];
		snprintf(host, sizeof host, ns->port == 80 ? "%s" : "%s:%d", ns->host, ns->port);
		evhttp_add_header(h, "Host", host);
		evhttp_add_header(h, "Content-Type", "application/json");
		evhttp_add_header(h, "User-Agent", "qserver/" QSERVER_VERSION);
		evhttp_add_header(h, "X-Qhall-Signature", signature);
		evhttp_add_header(h, "Connection", "close");
		evbuffer_add(evhttp_request_get_output_buffer(req), d->body, strlen(d->body));
		/* the request belongs to the connection from here on (libevent frees it, or in a
		 * failed connect's rare -1 drops it from the connection's list) */
		ok = evhttp_make_request(d->conn, req, EVHTTP_REQ_POST, ns->path) == 0;
		req = NULL;
	}
	if (req)
		evhttp_request_free(req);
	if (!ok) {
		log_error("notify %s: could not start a delivery of %s", ns->site->cfg->site.id, d->member);
		d->status = 0;
		struct timeval now = {0, 0};
		if (d->reap)
			evtimer_add(d->reap, &now);
		else
			delivery_free(d); /* its claim runs out and it is tried again */
	}
}

/* Starts the deliveries a claim handed out:
 * [[member, id, event, number, ref, ahead, ewt, window, attempts, since, owner], ...]. */
static void notify_on_claimed(redisReply *reply, void *arg)
{
	struct notify_site *ns = arg;
	ns->busy = 0;
	if (!ns->enabled)
		return; /* a reload took notify_url away meanwhile: the claims run out for others */
	notify_arm(ns, NOTIFY_SWEEP_MS); /* whatever comes of it, the queue is looked at again */
	if (!reply || reply->type != REDIS_REPLY_STRING) {
		if (reply && reply->type == REDIS_REPLY_ERROR)
			log_error("notify %s: qh_notify_claim: %s", ns->site->cfg->site.id, reply->str);
		return;
	}
	cJSON *list = cJSON_ParseWithLength(reply->str, reply->len), *item;
	int n = 0;
	cJSON_ArrayForEach(item, list) {
		const char *f[11];
		int ok = cJSON_GetArraySize(item) == 11;
		for (int i = 0; ok && i < 11; i++) {
			const cJSON *v = cJSON_GetArrayItem(item, i);
			ok = cJSON_IsString(v);
			f[i] = ok ? v->valuestring : NULL;
		}
		struct delivery *d = ok ? calloc(1, sizeof *d) : NULL;
		if (!d) {
			log_error("notify %s: a malformed or unkept claim; it is tried again when its lease runs out",
				  ns->site->cfg->site.id);
			continue;
		}
		d->ns = ns;
		d->member = strdup(f[0]);
		d->owner = strdup(f[10]);
		d->body = notify_body(ns->site->cfg->site.id, f[1], f[3], f[4], f[5], f[6], f[7], f[2]);
		d->attempts = strtol(f[8], NULL, 10);
		d->since_ms = strtoll(f[9], NULL, 10);
		TAILQ_INSERT_TAIL(&in_flight, d, entry);
		nin_flight++;
		n++;
		if (!d->member || !d->owner || !d->body)
			delivery_free(d);
		else
			delivery_send(d);
	}
	cJSON_Delete(list);
	if (n > 0 || ns->again) {
		ns->again = 0;
		notify_look(ns);
	}
}

/* Claims the due deliveries this process has room for, or arms the timer for the next one. */
static void notify_on_peek(redisReply *reply, void *arg)
{
	struct notify_site *ns = arg;
	long long now = clock_real_ms();
	ns->busy = 0;
	if (!reply || reply->type != REDIS_REPLY_ARRAY) {
		notify_arm(ns, NOTIFY_SWEEP_MS);
		return;
	}
	if (reply->elements < 2 || reply->element[1]->type != REDIS_REPLY_STRING) { /* nothing queued */
		notify_arm(ns, NOTIFY_SWEEP_MS);
		if (ns->again) {
			ns->again = 0;
			notify_look(ns);
		}
		return;
	}
	long long due = strtoll(reply->element[1]->str, NULL, 10);
	if (due > now) {
		notify_arm(ns, due - now < NOTIFY_SWEEP_MS ? due - now : NOTIFY_SWEEP_MS);
		if (ns->again) {
			ns->again = 0;
			notify_look(ns);
		}
		return;
	}
	int room = NOTIFY_IN_FLIGHT_MAX - nin_flight;
	if (room <= 0) { /* full with deliveries (of any site): look again soon */
		notify_arm(ns, NOTIFY_BACKOFF_FIRST_MS);
		return;
	}
	char now_s[24], lease[16], max[16];
	snprintf(now_s, sizeof now_s, "%lld", now);
	snprintf(lease, sizeof lease, "%d", NOTIFY_LEASE_MS);
	snprintf(max, sizeof max, "%d", room);
	const char *argv[] = {now_s, lease, max, server.instance};
	if (store_fcall(ns->site, "qh_notify_claim", 0, notify_on_claimed, ns, 4, argv) == 0)
		ns->busy = 1;
	else
		notify_arm(ns, NOTIFY_SWEEP_MS);
}

/* Looks at a site's queue: the first delivery and when it is due (one ZRANGE). */
static void notify_look(struct notify_site *ns)
{
	if (!ns->enabled)
		return;
	if (ns->busy) {
		ns->again = 1;
		return;
	}
	char key[CONFIG_ID_MAX + 16];
	snprintf(key, sizeof key, "%s:nq", ns->site->prefix);
	const char *argv[] = {"ZRANGE", key, "0", "0", "WITHSCORES"};
	if (store_command(notify_on_peek, ns, 5, argv) == 0)
		ns->busy = 1;
	else
		notify_arm(ns, NOTIFY_SWEEP_MS);
}

/* A site's timer: time to look at its queue. */
static void notify_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct notify_site *ns = arg;
	ns->timer_at_ms = 0;
	notify_look(ns);
}

/* The site's notifying state, or NULL when it has no notify_url. */
static struct notify_site *notify_site_of(const struct site *site)
{
	for (size_t i = 0; i < nnsites; i++)
		if (nsites[i].site == site)
			return nsites[i].enabled ? &nsites[i] : NULL;
	return NULL;
}

/* Something happened at a site (an event of it arrived): a delivery may have been queued. */
void notify_wake(struct site *site)
{
	struct notify_site *ns = notify_site_of(site);
	if (ns)
		notify_look(ns);
}

/* Reads a site's notify_url into host, port and path; -1 (logged) when it is not one. */
static int notify_parse_url(struct notify_site *ns, const char *url)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	const char *host = u ? evhttp_uri_get_host(u) : NULL, *path = u ? evhttp_uri_get_path(u) : NULL,
		   *query = u ? evhttp_uri_get_query(u) : NULL;
	int ok = host && *host && strlen(host) < sizeof ns->host;
	if (ok) {
		snprintf(ns->host, sizeof ns->host, "%s", host);
		ns->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
		int n = snprintf(ns->path, sizeof ns->path, "%s%s%s", path && *path ? path : "/", query ? "?" : "",
				 query ? query : "");
		ok = n > 0 && (size_t)n < sizeof ns->path;
	}
	if (u)
		evhttp_uri_free(u);
	if (!ok)
		log_error("notify %s: notify_url is not an http address qserver can reach", ns->site->cfg->site.id);
	return ok ? 0 : -1;
}

/* Follows each site's notify_url in its current config (at start and after a reload): a site
 * that gained one starts delivering, one that lost it stops (attempts under way end as they
 * would); -1 when the resolver cannot be made. */
int notify_reload(void)
{
	size_t enabled = 0;
	for (size_t i = 0; i < nnsites; i++) {
		struct notify_site *ns = &nsites[i];
		const char *url = ns->site->cfg->site.notify_url;
		int was = ns->enabled;
		ns->enabled = 0;
		if (!url) {
			evtimer_del(ns->timer);
			ns->timer_at_ms = 0;
			continue;
		}
		/* names resolve on the loop; the resolver reads /etc/resolv.conf once, when made */
		if (!dns && !(dns = evdns_base_new(server.base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
								       EVDNS_BASE_DISABLE_WHEN_INACTIVE)) &&
		    !(dns = evdns_base_new(server.base, 0)))
			return -1;
		if (notify_parse_url(ns, url) < 0)
			continue;
		ns->enabled = 1;
		enabled++;
		if (!was)
			notify_arm(ns, 0); /* looks as soon as storage is up, then at least every sweep */
	}
	if (enabled)
		log_info("notify: %zu site%s deliver notifications", enabled, enabled == 1 ? "" : "s");
	return 0;
}

/* Sets up delivery for every site (those with notify_url deliver); -1 when it cannot. */
int notify_start(void)
{
	if (!(nsites = calloc(sites_count() ? sites_count() : 1, sizeof *nsites)))
		return -1;
	for (size_t i = 0; i < sites_count(); i++) {
		struct notify_site *ns = &nsites[nnsites];
		ns->site = sites_at(i);
		if (!(ns->timer = evtimer_new(server.base, notify_on_timer, ns)))
			return -1;
		nnsites++;
	}
	return notify_reload();
}

/* Stops delivery: attempts under way are dropped (their claims run out and another qserver,
 * or this one when it is back, delivers them). */
void notify_stop(void)
{
	if (dns) /* some site delivered notifications */
		log_info("notify: %lu delivered, %lu retried, %lu given up, %d dropped under way", counts.delivered,
			 counts.retried, counts.failed, nin_flight);
	while (!TAILQ_EMPTY(&in_flight))
		delivery_free(TAILQ_FIRST(&in_flight));
	for (size_t i = 0; i < nnsites; i++)
		event_free(nsites[i].timer);
	free(nsites);
	nsites = NULL;
	nnsites = 0;
	if (dns)
		evdns_base_free(dns, 0);
	dns = NULL;
}
