/* qserver's internal header, grouped by the file that defines each part. */
#ifndef QSERVER_H
#define QSERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "config.h"

#define QSERVER_VERSION "0.1.0"
#define PROTOCOL_VERSION 2

struct event_base;
struct bufferevent;
struct event;
struct redisReply;

/* Tunables; main.c fills them from the command line. */
struct server_options {
	const char *listen;	     /* HOST:PORT, default 127.0.0.1:7420 */
	const char *unix_path;	     /* optional Unix socket to listen on too */
	int max_conns;		     /* connections at once */
	int max_per_addr;	     /* connections at once from one peer address */
	int reserved_conns;	     /* slots anonymous connections may not take */
	int hello_timeout_ms;	     /* a connection must say hello within this */
	size_t max_output;	     /* bytes queued for one client before it is dropped */
	int max_pending;	     /* requests in flight per connection before reading pauses */
	int rate_per_sec;	     /* sustained requests per second per connection */
	int redis_timeout_ms;	     /* connect and command timeout */
	int durable;		     /* a client's write is ok once this many replicas have it (WAIT) */
	int test_clock;		     /* the clock op is allowed */
	int always_open;	     /* ignore opening hours (demos, training, special days) */
	int lease_s;		     /* a clerk's hold on a window lasts this long unrenewed */
	int login_failures;	     /* failed hellos per user before a lock-out (4x per address) */
	int login_threads;	     /* worker threads checking passwords and tokens */
	const char *http;	     /* HOST:PORT of the HTTP API and pages; NULL: off */
	const char *trust_proxy;     /* the one address whose X-Forwarded-For is believed */
	int secure_cookies;	     /* session cookies carry Secure (behind a TLS proxy) */
	int http_per_addr;	     /* HTTP connections at once from one address */
	int http_max_conns;	     /* HTTP connections at once */
	int sse_per_addr;	     /* event streams at once from one address */
	int sse_max;		     /* event streams at once */
	const char *web_dir;	     /* the pages' folder (--web, default web) */
	int web_takes_per_addr;	     /* remote takes by the public an hour from one address */
	int web_takes_per_ref;	     /* remote takes by the public an hour for one ref (phone) */
};

/* The one server of this process (as in tmux, a global keeps the plumbing short); the halls
 * it serves are in sites.c. */
struct server {
	struct event_base *base;
	struct server_options opt;
	char instance[24];	     /* names this process in window leases */
	int shutting_down;
};
extern struct server server;

struct conn;
TAILQ_HEAD(conn_list, conn);

#define TOPIC_COUNT 4

/* A position in a site's event stream. */
struct stream_id {
	uint64_t ms;
	uint64_t seq;
};
#define STREAM_ID_TEXT_MAX 48 /* "<ms>-<seq>" and its NUL */

/* sites.c: one hall served by this process, looked up by id (DESIGN decision 10). */
struct site {
	struct config *cfg;	     /* the hall's config; cfg->site.id is the site's id */
	char prefix[CONFIG_ID_MAX + 8]; /* q:{site}: KEYS[1] of every function call */
	char *setup_json;	     /* what qh_setup gets */
	struct site *parent;	     /* the site above it in the region, or NULL */
	enum config_level level;     /* district, street or community (a lone hall: district) */
	/* daychange.c */
	char last_day[11];
	int day_pending;	     /* a slice may be due: at start a change may be under way */
	int day_in_flight;	     /* a qh_day call is out */
	long day_expired;	     /* tickets expired by this change so far */
	/* events.c */
	struct stream_id last_delivered; /* zero until the first event */
	struct stream_id delivering;  /* the entry being fanned out */
	unsigned delivering_index;    /* the next event's index in it */
	int catching_up;	     /* holding messages until the stream was read */
	int need_catch_up;	     /* a stream read is still to be sent */
	char **held;		     /* messages that arrived while catching up */
	size_t nheld;
	struct conn_list subscribers[TOPIC_COUNT]; /* bit i of a topic mask is list i */
	/* events.c and joined.c: the learnt times entries record, and the messages waiting while
	 * an entry one of them names is read from the stream */
	struct joined_store *joined;
	struct ref_waiting *ref_head, **ref_tail;
	size_t nref, ref_bytes;
	char ref_missing[STREAM_ID_TEXT_MAX]; /* the entry the first waiting message names */
	unsigned ref_read;	     /* counts the named reads: an answer is taken only for the last */
};
int sites_load(const char *path, char *err, size_t errlen);
/* Configs read by a reload before they are served. */
struct sites_parsed {
	struct config_region *region; /* NULL for one hall file */
	struct config **cfgs;
	size_t n;
};
int sites_parse(const char *path, struct sites_parsed *p, char *err, size_t errlen);
void sites_parsed_free(struct sites_parsed *p);
int sites_replace(struct sites_parsed *p);
unsigned sites_generation(void);
int sites_add(struct config *cfg);
const struct config_region *sites_region(void);
size_t sites_count(void);
struct site *sites_at(size_t i);
struct site *sites_find(const char *id);
struct site *sites_sole(void);
void sites_free(void);

/* conn.c: one client connection. */
#define CANCEL_BURST 5	   /* cancels a kiosk may make in a row */
#define CANCEL_EVERY_S 10  /* then one more every this many seconds */
#define TOPIC_CALLED 0x1
#define TOPIC_QUEUE 0x2
#define TOPIC_WINDOW 0x4
#define TOPIC_TICKET 0x8
#define TOPIC_ALL 0xf

struct request;
struct http_exchange;
TAILQ_HEAD(request_list, request);

#define CONN_ADDR_MAX 64

struct conn {
	TAILQ_ENTRY(conn) entry;
	uint64_t id;
	struct bufferevent *bev;
	char peer[64];
	char addr[CONN_ADDR_MAX];    /* the peer without its port: what --max-per-addr counts */
	int probation;		     /* admitted on a reserved slot: must sign in or go */
	int counted_anonymous;	     /* counted in conn_anonymous_count */
	enum role role;
	struct site *site;	     /* the connection's site: hello's, or the only one; NULL when unnamed */
	struct site *events_site;    /* the site whose events it gets (set with topics) */
	const struct config_region_user *region_user; /* a region manager's account, else NULL */
	int said_hello;
	char user[CONFIG_ID_MAX];
	int window;		     /* a clerk's window, 0 for none */
	unsigned topics;	     /* subscribed topics, 0 when not subscribed; set by events_subscribe */
	TAILQ_ENTRY(conn) topic_entry[TOPIC_COUNT]; /* in the subscribers of topic bit i */
	TAILQ_ENTRY(conn) unsent_entry;	/* in the list of connections with answers not yet sent */
	int unsent_listed;
	struct request_list requests;/* in arrival order; replies leave in this order */
	int nrequests;
	int closing;		     /* answer what is queued, then close */
	int closed;		     /* gone; freed from a deferred event */
	int read_paused;
	struct request *gate;	     /* a hello being checked: later lines wait until it is answered */
	size_t queued_event_bytes;   /* events waiting behind unanswered requests */
	struct event *hello_timer;
	double tokens;		     /* rate limit bucket */
	struct timespec tokens_at;
	int cancel_tokens;	     /* cancels left in its bucket (ops_ticket.c) */
	time_t cancel_at;	     /* server time the cancel bucket was last filled; 0: never */
	struct http_exchange *http;  /* set when this is the client of one HTTP request (http_api.c) */
	struct sse_stream *sse;	     /* set when this is the subscriber of an event stream (http_sse.c) */
};
extern struct conn_list conns;
extern int conn_count;
extern int conn_anonymous_count;     /* public connections outside the reserved slots */

struct conn *conn_create(int fd, const char *peer);
struct conn *conn_create_transient(const char *peer, struct http_exchange *http);
void conn_peer_addr(const char *peer, char *out, size_t len);
void conn_set_role(struct conn *c, enum role role);
void conn_hold_reserved(struct conn *c);
void conn_close(struct conn *c, const char *why);
void conn_detach_requests(struct conn *c);
void conn_close_all(void);
void conn_write_events(struct conn *c, const char *lines, size_t len, unsigned count);
void conn_send_and_close(struct conn *c, const char *line, size_t len, const char *why);
void conn_flush_replies(struct conn *c);
void conn_send_replies(void);
struct conn *conn_find_window_holder(const struct site *site, int window);
int conn_rate_allow(struct conn *c);

/* admission.c: the per-address cap and the slots kept for signed-in roles. */
enum admission { ADMIT_OPEN, ADMIT_PROBATION, ADMIT_REFUSE_FULL, ADMIT_REFUSE_ADDR };
enum admission admission_check(int fd, const char *addr, const char *peer);
unsigned admission_addr_count(const char *addr);
int admission_add(const char *addr);
void admission_remove(const char *addr);
int admission_request_allowed(struct request *r);
void admission_probation_expired(struct conn *c);

/* listener.c: accepting connections. */
int listener_start(void);
void listener_stop(void);

/* request.c: one request and its reply. */
struct request {
	TAILQ_ENTRY(request) entry;
	struct conn *conn;	     /* NULL once the connection is gone */
	cJSON *id;		     /* the request's id, echoed */
	cJSON *args;		     /* the parsed request */
	const struct op *op;
	struct site *site;	     /* the site it acts on (optable.c) */
	int window;		     /* the window a window op acts on */
	char *reply;		     /* the reply line once done */
	size_t reply_len;
	int done;
	int is_event;		     /* an event queued behind replies, not a request */
	char *secret;		     /* a take's new ticket secret, added to its result only */
	struct timespec started;     /* when it was read (CLOCK_MONOTONIC), for its latency */
};

struct request *request_create(struct conn *c);
void request_free(struct request *r);
void request_drop(struct request *r);
void request_reply(struct request *r, cJSON *result);
void request_reply_raw(struct request *r, const char *json_object, size_t len);
void request_reply_error(struct request *r, const char *code, const char *field,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void request_reply_closed(struct request *r, time_t opens_at);
void request_reply_error_at(struct request *r, const char *code, const char *field, const char *at_name, time_t at,
			    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void request_reply_not_durable(struct request *r, int replicas);
void request_reply_rate_limited(struct request *r, long retry_after, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void request_reply_store_error(struct request *r, const char *err);

/* optable.c: the op table and dispatch. */
#define ROLE_BIT(r) (1u << (r))
/* Every role but a rating pad's, which may do almost nothing (optable.c). */
#define ROLES_ANY (ROLE_BIT(ROLE_PUBLIC) | ROLE_BIT(ROLE_KIOSK) | ROLE_BIT(ROLE_CLERK) | ROLE_BIT(ROLE_MANAGER))

struct op {
	const char *name;
	unsigned roles;		     /* ROLE_BIT of each role allowed */
	int window_op;		     /* acts on a window: a clerk's own, a manager's named */
	void (*handler)(struct request *r);
	int siteless;		     /* acts on no site: needs none named */
};
void optable_dispatch(struct request *r, const char *line, size_t len);
const struct op *optable_find(const char *name);
size_t optable_count(void);
const struct op *optable_at(size_t i);

/* args.c: reading request arguments with clear errors. */
int args_string(struct request *r, const char *name, int required, size_t max_len, const char **out);
int args_int(struct request *r, const char *name, int required, long min, long max, long *out);
int args_bool(struct request *r, const char *name, int *out);

/* ops_session.c, ops_ticket.c, ops_window.c, ops_debug.c: the handlers. */
void op_ping(struct request *r);
void op_hello(struct request *r);
void op_site(struct request *r);
void op_services(struct request *r);
void op_snapshot(struct request *r);
void op_subscribe(struct request *r);
void op_ticket(struct request *r);
void op_take(struct request *r);
void op_cancel(struct request *r);
void op_rate(struct request *r);
void op_queue(struct request *r);
void ticket_stop(void);
char *ticket_result_with_secret(const struct request *r, const char *json);
void op_call_next(struct request *r);
void op_call(struct request *r);
void op_recall(struct request *r);
void op_start(struct request *r);
void op_finish(struct request *r);
void op_no_show(struct request *r);
void op_transfer(struct request *r);
void op_pause(struct request *r);
void op_resume(struct request *r);
void op_close(struct request *r);
void op_clock(struct request *r);
void op_stats(struct request *r);
void op_sites(struct request *r);
cJSON *region_sites_list(void);
void op_region(struct request *r);
/* ops_ratings.c */
void op_ratings(struct request *r);
void op_resolve_rating(struct request *r);
int ratings_comment_arg(struct request *r, const char **comment);
void ratings_due(const struct site *site, char out[11]);
int ratings_pad_window(const struct request *r);
/* ops_appointments.c: slots, book, appointment, cancel_appointment, checkin. */
void op_slots(struct request *r);
void op_book(struct request *r);
void op_appointment(struct request *r);
void op_cancel_appointment(struct request *r);
void op_checkin(struct request *r);
void appointments_stop(void);
long stats_day_number(const char *s);
int ticket_public_post_allowed(struct request *r, const char *ref, char kind);
void stats_across_sites(struct request *r, const cJSON *sites_arg, const char *from, const char *to, const char *by);
void session_conn_gone(struct conn *c);
void session_renew_leases(void);
void session_on_takeover(const struct site *site, const char *msg, size_t len);
void session_end(struct conn *c, const char *reason, const char *message);

/* store.c: the two Redis links and calls of the function library. */
typedef void store_reply_fn(struct redisReply *reply, void *arg);
int store_start(const char *redis_addr);
void store_stop(void);
int store_ready(void);
int store_events_ready(void);
void store_setup_sites(void);
int store_fcall(struct site *site, const char *function, int read_only, store_reply_fn *cb, void *arg,
		int argc, const char **argv);
int store_command(store_reply_fn *cb, void *arg, int argc, const char **argv);
void store_request_fcall(struct request *r, const char *function, int read_only, int argc,
			 const char **argv);
int store_reply_ok(struct request *r, struct redisReply *reply);
void store_redis_back(void);
void store_take_replies(void);

/* sentinel.c: finding the primary through Redis Sentinel. */
typedef void sentinel_found_fn(const char *ip, int port, void *arg);
typedef void sentinel_hint_fn(const char *ip, int port);
int sentinel_parse(const char *addr);
const char *sentinel_master_name(void);
void sentinel_resolve(sentinel_found_fn *cb, void *arg);
void sentinel_on_hint(sentinel_hint_fn *cb);
void sentinel_stop(void);

/* events.c: fan-out of each site's events to its subscribed clients. */
void events_on_message(const char *channel, const char *payload, size_t len);
void events_on_subscribed(const char *channel);
void events_on_store_ready(void);
void events_drop_held(void);
void events_stop(void);
void events_subscribe(struct conn *c, struct site *site, unsigned topics);
unsigned events_topic_parse(const char *name);
unsigned events_topic_of(const char *json, size_t len);
const char *events_topic_name(unsigned topic);
void events_each_subscriber(void (*fn)(struct conn *c, void *arg), void *arg);
/* Where the fan-out is: the stream id of the entry being delivered and the index of the
 * event in it (eventbuild.c expands one entry into several events). */
struct events_position {
	uint64_t ms, seq;
	unsigned index;
};
struct events_position events_now(const struct site *site);

/* joined.c: the learnt times entries record once and later entries name, by entry and set. */
struct joined_store;
struct joined_store *joined_store_new(void);
void joined_store_free(struct joined_store *s);
/* The joined learnt times of set `key` that entry `id` recorded last, or NULL when not kept. */
const char *joined_store_get(const struct joined_store *s, const char *id, const char *key);
/* Keeps them (the oldest kept goes when full); -1 when out of memory. */
int joined_store_put(struct joined_store *s, const char *id, const char *key, const char *joined);
/* The site's store, made at its first use (NULL when out of memory). */
struct joined_store *joined_of(struct site *site);

/* eventbuild.c: the protocol's events and results made from the library's compact forms. */
typedef void eventbuild_fn(const char *json, size_t len, void *arg);
int eventbuild_each(const struct config *cfg, const char *json, size_t len, eventbuild_fn *each, void *arg);
/* eventbuild_each of stream entry `id`, whose inputs may name the learnt times an earlier entry
 * recorded (kept in `store`, which gets this entry's): EVENTBUILD_MISSING, with that entry's id
 * in `missing` and nothing called, when the store lacks them. */
#define EVENTBUILD_MISSING (-2)
int eventbuild_entry(const struct config *cfg, struct joined_store *store, const char *id, const char *json, size_t len,
		     eventbuild_fn *each, void *arg, char missing[STREAM_ID_TEXT_MAX]);
/* Keeps the learnt times entry `id` records (read from the stream because an entry names it). */
void eventbuild_learn(struct joined_store *store, const char *id, const char *json, size_t len);
char *eventbuild_result(const struct config *cfg, const char *json, size_t len);
/* Makes each service's start of its Service object once, for the service lists; -1 when
 * memory runs out. */
int eventbuild_prepare(struct config *cfg);

/* daychange.c: each site's day change in bounded slices. */
void daychange_init(struct site *site);
int daychange_tick(void);
void daychange_on_store_ready(void);

/* clock.c: the one clock (decision 5). */
time_t clock_now(void);
void clock_set_offset(long long offset);
long long clock_offset(void);
long long clock_real_ms(void);

/* sitetime.c: days and opening hours in each site's time zone. */
void sitetime_use_zone(const char *tz);
void sitetime_day(const struct config_site *site, time_t t, char out[11]);
void sitetime_day_hour(const struct config_site *site, time_t t, char out[14]);
int sitetime_is_open(const struct config_site *site, time_t t);
int sitetime_hall_open(const struct config_site *site, time_t t);
time_t sitetime_next_open(const struct config_site *site, time_t t);
time_t sitetime_next_midnight(const struct config_site *site, time_t t);
time_t sitetime_at(const struct config_site *site, long day_number, int minute);

/* sitejson.c: the static JSON the server hands out. */
char *sitejson_setup(const struct config *cfg);
cJSON *sitejson_site(const struct config *cfg, time_t now);
cJSON *sitejson_window_brief(const struct config_window *w);
void sitejson_forget(void);

/* authpool.c: password and token checks on worker threads (decision 12). */
#define AUTHPOOL_MAX_THREADS 4
#define AUTH_NO_MATCH (-1)  /* no hash matched */
#define AUTH_CANCELLED (-2) /* the server stopped before the check ran */
typedef void authpool_done_fn(int matched, void *arg);
int authpool_start(int nthreads, size_t queue_max);
void authpool_stop(void);
int authpool_submit(const char *secret, const char *const *hashes, size_t nhashes, authpool_done_fn *done, void *arg);
unsigned long authpool_hashes_checked(void);

/* budget.c: failed-login budgets per user and per peer address. */
struct budget_policy {
	int limit;    /* failures before a lock-out */
	int base_s;   /* the first lock-out; each next one doubles */
	int cap_s;    /* the longest lock-out */
	int forget_s; /* failures are forgotten after this long without any */
	int count_in_flight; /* checks under way count as failures until they end */
};
struct budget;
struct budget *budget_new(const struct budget_policy *policy, size_t slots);
void budget_free(struct budget *b);
int budget_pin(struct budget *b, const char *key);
int budget_pinned(const struct budget *b, const char *key);
long budget_wait(struct budget *b, const char *key, time_t now);
int budget_locked(struct budget *b, const char *key, time_t now);
void budget_begin(struct budget *b, const char *key, time_t now);
long budget_charge(struct budget *b, const char *key, time_t now, int failures);
long budget_end(struct budget *b, const char *key, time_t now, int failures);
void budget_clear(struct budget *b, const char *key, time_t now);

/* login.c: checking a hello's credentials within the failure budgets. */
typedef void login_done_fn(struct request *r, int matched, void *arg);
#define LOGIN_KEY_MAX (2 * CONFIG_ID_MAX + 4)
int login_start(void);
int login_pin_users(void);
void login_key(char kind, const struct site *site, const char *id, char *out, size_t len);
void login_stop(void);
const char *login_dummy_hash(void);
void login_peer_address(const char *peer, char *out, size_t len);
int login_check(struct request *r, const char *key, int known, const char *secret, const char *const *hashes,
		 size_t nhashes, login_done_fn *done, void *arg);

/* http.c: the HTTP front end (DESIGN decision 11): setup, limits, headers, routing. */
struct evhttp_request;
#define HTTP_MAX_BODY (64 * 1024) /* WEB.md: bodies of at most 64 KiB (413 too_long past it) */
int http_start(void);
void http_stop(void);
void http_peer_address(struct evhttp_request *req, char *out, size_t len);
void http_add_security_headers(struct evhttp_request *req, int framable);
void http_send_json(struct evhttp_request *req, int status, const char *json, size_t len);
int http_status_of(const char *code);
void http_send_error(struct evhttp_request *req, const char *code, const char *message);
struct http_client;
typedef void http_gone_fn(void *arg);
struct http_client *http_attach(struct evhttp_request *req, http_gone_fn *on_gone, void *arg);
void http_detach(struct http_client *k);
void http_release_orphan(struct evhttp_request *req);
const char *http_client_addr(const struct http_client *k);

/* http_api.c: the JSON API routed to the op table. */
void http_api_handle(struct evhttp_request *req, const char *path);
void http_api_answer(struct request *r, char *line, size_t len);
void http_api_conn_closed(struct conn *c);
void http_api_client_gone(void *arg);
struct site *http_api_site(const char *site);
const char *http_api_session_token(struct evhttp_request *req, char *out, size_t len);

/* http_ratings.c: the CSV export of ratings (GET /api/v1/sites/{site}/ratings.csv). */
struct ratings_export;
int http_ratings_args(struct evhttp_request *req, cJSON *args);
int http_ratings_page(struct evhttp_request *req, const struct site *site, struct ratings_export **xp,
		      const char *line, size_t len, long *next_offset);
void http_ratings_free(struct ratings_export *x);

/* http_sse.c: live events as Server-Sent Events, resumable by Last-Event-ID. */
struct sse_stream;
int http_sse_wanted(const char *path);
void http_sse_handle(struct evhttp_request *req, const char *path);
void http_sse_event(struct conn *c, const char *json, size_t len);
void http_sse_answer(struct request *r, char *line, size_t len);
void http_sse_close_all(void);
void http_sse_close_site(const struct site *site);
void http_sse_end(struct conn *c, const char *name, const char *json, size_t len);
int http_sse_count(void);

/* http_static.c: the pages of web/. */
void http_static_start(const char *dir);
void http_static_handle(struct evhttp_request *req, const char *path);

/* sessions.c: browser sessions in Redis (WEB.md, Sessions). */
#define SESSION_TOKEN_BYTES 18 /* 144 random bits */
#define SESSION_TOKEN_MAX 65
struct sessions_found {
	enum role role;		     /* ROLE_PUBLIC when the session is gone or no longer valid */
	char user[CONFIG_ID_MAX];
	const struct config_region_user *region_user; /* a region manager's account, else NULL */
	int elsewhere;		     /* (role public) a valid session, but of another site or out of its scope */
};
typedef void sessions_done_fn(const char *token, const struct sessions_found *found, void *arg);
int sessions_random(unsigned char *out, size_t len);
int sessions_random_token(size_t bytes, char *out, size_t outlen);
int sessions_token_valid(const char *token);
int sessions_token_shape(const char *s);
int sessions_create(const struct site *site, enum role role, const char *user, sessions_done_fn *done, void *arg);
int sessions_lookup(struct site *site, const char *token, sessions_done_fn *done, void *arg);
const char *sessions_credential_in(const struct config *cfg, const struct config_region *region, enum role role,
				   const char *user);
void sessions_delete(const char *token);

/* notify.c: "your turn is near" deliveries to each site's notify_url (docs/notifications.md). */
struct notify_counts {
	unsigned long delivered;     /* answered 2xx */
	unsigned long failed;	     /* given up after retrying for five minutes */
	unsigned long retried;	     /* attempts that failed and are tried again */
	unsigned long in_flight;     /* attempts under way now */
};
int notify_start(void);
int notify_reload(void);
void notify_stop(void);
void notify_wake(struct site *site);
struct notify_counts notify_counts(void);
int notify_sign(const char *secret, const char *body, size_t len, char out[65]);
char *notify_body(const char *site, const char *ticket, const char *number, const char *ref, const char *ahead,
		  const char *ewt, const char *window, const char *event);

/* ops_notify.c: the notify argument of take and the notify op. */
#define NOTIFY_ARG_MAX 16
int notify_arg(struct request *r, int required, char ahead[NOTIFY_ARG_MAX], char ewt[NOTIFY_ARG_MAX]);
void op_notify(struct request *r);

/* redis_child.c: the embedded redis-server (decision 6). */
int redis_child_start(const char *state_dir, char *addr, size_t addrlen);
void redis_child_stop(void);
int redis_child_running(void);
int redis_child_rewrite_due(char *why, size_t len);

/* estimate.c: the wait model (docs/estimated-wait.md) from the inputs a function returns. */
struct estimate {
	long long ahead, ewt, ewt_low, ewt_high;
};
/* ewt, ewt_low and ewt_high of a waiting ticket of the class with `ahead` tickets before it
 * (e->ahead = ahead); 0, or -1 when the inputs are malformed. */
int estimate_ticket(const char *inputs, long long ahead, const char *class, struct estimate *e);
/* ahead, ewt, ewt_low and ewt_high of a new normal ticket of the service the inputs are of;
 * hall_ahead counts every waiting ticket of a hall with a comprehensive window. */
int estimate_new_ticket(const char *inputs, long long hall_ahead, struct estimate *e);

#endif
