/* The link to Redis: a command link that loads and calls the function library, and a
 * pub/sub link for the site's events (as Redis Sentinel keeps two links per instance).
 * hiredis 0.14.1 has no timeouts, so both links get our own connect timer, and the command
 * link a watchdog that drops it when the oldest command waits too long; a dropped link calls
 * every pending callback with NULL (answered `unavailable`) and is reconnected with backoff. */
#include "qserver.h"
#include "log.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/ioctl.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MAX_INFLIGHT 65536 /* commands waiting for Redis before new ones are refused */
#define STORE_BACKOFF_MIN_MS 100
#define STORE_BACKOFF_MAX_MS 2000
#define STORE_MAX_ARGS 32

extern const char qserver_functions_lua[];

struct link {
	const char *name;
	redisAsyncContext *ac;
	int connected;		 /* the socket is up */
	int ready;		 /* functions loaded (command link) or subscribed (pub/sub link) */
	int backoff_ms;
	int loading;		 /* Redis answered LOADING: it is reading its data */
	int draining;		 /* Redis seems hung: no new commands until it answers or the link drops */
	int resolving;		 /* asking the Sentinels where the primary is */
	int ever_up;		 /* it connected once: a later connect is a reconnect (metrics.c) */
	struct event *connect_timer;
	struct event *retry_timer;
	void (*on_connected)(struct link *l);
};

/* One command in flight on the command link; kept in send order for the watchdog. */
struct store_call {
	TAILQ_ENTRY(store_call) entry;
	store_reply_fn *cb;
	void *arg;
	long long sent_ms;
};
TAILQ_HEAD(store_call_list, store_call);

static struct link cmd_link = {.name = "command"};
static struct link sub_link = {.name = "pub/sub"};
static struct store_call_list inflight = TAILQ_HEAD_INITIALIZER(inflight);
static int inflight_count;
static long long last_reply_ms; /* when Redis last answered a command */
static struct event *watchdog;
static struct event *flush_event; /* writes the commands made in a turn at the end of that turn */
static char redis_host[256];
static int redis_port; /* 0 for a Unix socket path in redis_host */
static int use_sentinel; /* redis_host and redis_port come from the Sentinels */
static int stopping;
static size_t setups_left; /* qh_setup calls of the sites not yet answered on this link */
static int setup_due;	   /* a reload replaced the configs: every site's setup is to be sent */

static void link_connect(struct link *l);
static void link_connect_to_target(struct link *l);
static void cmd_link_connected(struct link *l);
static void sub_link_connected(struct link *l);
static void store_setup_if_due(void);

/* Drops a link: pending callbacks get NULL now, and a reconnect is scheduled. why NULL
 * drops it without a log line (an expected retry). */
static void link_drop(struct link *l, const char *why)
{
	redisAsyncContext *ac = l->ac;
	if ((l->connected || ac) && why)
		log_warn("redis %s link lost: %s", l->name, why);
	l->ac = NULL;
	l->connected = 0;
	l->ready = 0;
	l->draining = 0;
	evtimer_del(l->connect_timer);
	if (ac)
		redisAsyncFree(ac); /* runs the pending callbacks with NULL; the disconnect callback sees l->ac gone */
	if (!stopping && !evtimer_pending(l->retry_timer, NULL)) {
		struct timeval tv = {l->backoff_ms / 1000, (l->backoff_ms % 1000) * 1000};
		evtimer_add(l->retry_timer, &tv);
		l->backoff_ms = l->backoff_ms * 2 > STORE_BACKOFF_MAX_MS ? STORE_BACKOFF_MAX_MS : l->backoff_ms * 2;
	}
	/* The primary may have moved: the pub/sub link follows the command link to the one it
	 * finds next, rather than listening to a server that became a replica. */
	if (use_sentinel && l == &cmd_link && sub_link.ac)
		link_drop(&sub_link, "the command link is looking for the primary again");
}

/* hiredis reports the end of a connection; the context is freed after this returns. */
static void link_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct link *l = ac->data;
	if (l->ac != ac)
		return; /* we dropped it ourselves */
	l->ac = NULL; /* hiredis frees it: never touch it again */
	link_drop(l, status == REDIS_OK ? "closed" : (ac->errstr[0] ? ac->errstr : "error"));
}

/* hiredis reports the outcome of a connect; on failure it frees the context itself. */
static void link_on_connect(const redisAsyncContext *ac, int status)
{
	struct link *l = ac->data;
	if (l->ac != ac)
		return;
	evtimer_del(l->connect_timer);
	if (status != REDIS_OK) {
		l->ac = NULL;
		link_drop(l, ac->errstr[0] ? ac->errstr : "connect failed");
		return;
	}
	l->connected = 1;
	if (l->ever_up)
		metrics_redis_reconnect(l == &cmd_link ? METRICS_LINK_COMMAND : METRICS_LINK_PUBSUB);
	l->ever_up = 1;
	l->on_connected(l);
}

/* Gives up on a connect that did not finish in time. */
static void link_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	link_drop(arg, "connect timed out");
}

/* Retries a dropped link once its backoff has passed. */
static void link_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct link *l = arg;
	if (!l->ac && !l->resolving && !stopping)
		link_connect(l);
}

/* Takes the Sentinels' answer for the command link and connects to it (ROLE checks it). */
static void cmd_link_resolved(const char *ip, int port, void *arg)
{
	struct link *l = arg;
	l->resolving = 0;
	if (stopping)
		return;
	if (!ip) {
		link_drop(l, "no Sentinel named the primary");
		return;
	}
	if (strcmp(ip, redis_host) != 0 || port != redis_port) {
		log_info("sentinel: primary %s is at %s:%d", sentinel_master_name(), ip, port);
		if (redis_port)
			metrics_redis_failover(); /* not the first answer: the primary moved */
	}
	snprintf(redis_host, sizeof redis_host, "%s", ip);
	redis_port = port;
	link_connect_to_target(l);
}

/* Starts connecting a link; failures come back through link_drop. With Sentinels, the
 * command link first asks them where the primary is, every time (the guidelines' rule). */
static void link_connect(struct link *l)
{
	if (use_sentinel && l == &cmd_link) {
		l->resolving = 1;
		sentinel_resolve(cmd_link_resolved, l);
		return;
	}
	link_connect_to_target(l);
}

/* Connects a link to redis_host and redis_port as they are now. */
static void link_connect_to_target(struct link *l)
{
	redisAsyncContext *ac = redis_port ? redisAsyncConnect(redis_host, redis_port) : redisAsyncConnectUnix(redis_host);
	if (!ac) {
		link_drop(l, "out of memory");
		return;
	}
	if (ac->err) {
		char why[128];
		snprintf(why, sizeof why, "%s", ac->errstr);
		redisAsyncFree(ac);
		link_drop(l, why);
		return;
	}
	ac->data = l;
	/* The adapter goes on before the callbacks, as hiredis 0.14.1 expects. */
	redisLibeventAttach(ac, server.base);
	redisAsyncSetConnectCallback(ac, link_on_connect);
	redisAsyncSetDisconnectCallback(ac, link_on_disconnect);
	l->ac = ac;
	struct timeval tv = {server.opt.redis_timeout_ms / 1000, (server.opt.redis_timeout_ms % 1000) * 1000};
	evtimer_add(l->connect_timer, &tv);
}

/* Passes one reply from the command link to its caller. A -READONLY reply means the link
 * reached a replica (the primary moved): the command was refused and changed nothing, and
 * with Sentinels the link goes to ask them again. */
static void store_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct store_call *call = privdata;
	redisReply *reply = r;
	if (r)
		last_reply_ms = clock_real_ms();
	TAILQ_REMOVE(&inflight, call, entry);
	inflight_count--;
	store_reply_fn *cb = call->cb;
	void *arg = call->arg;
	free(call);
	cb(r, arg);
	if (use_sentinel && reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "READONLY", 8) == 0 &&
	    cmd_link.ac == ac)
		link_drop(&cmd_link, "Redis answered READONLY: it is no longer the primary");
}

/* Writes the commands made in this turn at its end, from the loop, so that they do not wait
 * for the adapter's write event on the next turn (one write for all of them). It never runs
 * inside a hiredis callback: a write that fails frees the context within
 * redisAsyncHandleWrite, whose disconnect callback clears cmd_link.ac, and nothing here
 * touches the context after that call. What the socket does not take waits for the adapter's
 * write event, which hiredis armed with the command and removes once the buffer is empty. */
static void store_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	redisAsyncContext *ac = cmd_link.ac;
	if (ac && cmd_link.connected && sdslen(ac->c.obuf) > 0)
		redisAsyncHandleWrite(ac);
}

/* Sends a command on the command link, ready or not; -1 when it cannot be sent. */
static int store_send(store_reply_fn *cb, void *arg, int argc, const char **argv, const size_t *argvlen)
{
	if (!cmd_link.ac || !cmd_link.connected || cmd_link.draining || inflight_count >= STORE_MAX_INFLIGHT)
		return -1;
	struct store_call *call = malloc(sizeof *call);
	if (!call)
		return -1;
	call->cb = cb;
	call->arg = arg;
	call->sent_ms = clock_real_ms();
	if (redisAsyncCommandArgv(cmd_link.ac, store_on_reply, call, argc, argv, argvlen) != REDIS_OK) {
		free(call);
		return -1;
	}
	TAILQ_INSERT_TAIL(&inflight, call, entry);
	inflight_count++;
	event_active(flush_event, EV_WRITE, 0); /* once a turn, however many commands */
	return 0;
}

/* Handles every reply that has already arrived on the command link. A stalled qserver
 * wakes with its timers due and replies waiting in its socket; those replies are true
 * answers (their functions committed) and must reach their requests before the watchdog
 * gives up on what is still missing. */
static void cmd_link_read_arrived(void)
{
	/* hiredis reads at most 16 KiB a call; the bound only stops a peer that never pauses. */
	for (int i = 0; i < 4096 && cmd_link.ac && cmd_link.connected; i++) {
		int arrived = 0;
		if (ioctl(cmd_link.ac->c.fd, FIONREAD, &arrived) < 0 || arrived <= 0)
			return;
		redisAsyncHandleRead(cmd_link.ac); /* may drop the link (cmd_link.ac becomes NULL) */
	}
}

/* Whether the oldest command has waited past the timeout with Redis silent all that time.
 * While replies come, Redis works through what it was sent: each command waiting there
 * either commits and says so, or finds its deadline passed and refuses, so giving up on it
 * would only turn a true answer into a doubtful one. */
static int store_timed_out(void)
{
	struct store_call *oldest = TAILQ_FIRST(&inflight);
	if (!oldest)
		return 0;
	long long since = oldest->sent_ms > last_reply_ms ? oldest->sent_ms : last_reply_ms;
	return clock_real_ms() - since > server.opt.redis_timeout_ms;
}

/* Whether every command in flight has waited the whole timeout, so none can still commit. */
static int store_all_expired(void)
{
	struct store_call *newest = TAILQ_LAST(&inflight, store_call_list);
	return !newest || clock_real_ms() - newest->sent_ms > server.opt.redis_timeout_ms;
}

/* Watches for a hung Redis, having first taken in every reply that arrived. When the oldest
 * command timed out with Redis silent, the link stops taking commands (they answer
 * `unavailable` unsent); it is dropped once the newest has waited the whole timeout too.
 * Dropping earlier would answer `unavailable` for a young command that Redis may still run
 * before its deadline, from the data it has already received. */
static void store_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	if (store_timed_out())
		cmd_link_read_arrived();
	int was_draining = cmd_link.draining;
	cmd_link.draining = store_timed_out();
	if (was_draining && store_ready()) {
		events_on_store_ready(); /* Redis answered again: a catch-up may be waiting */
		store_setup_if_due();
	}
	if (cmd_link.draining && store_all_expired()) {
		link_drop(&cmd_link, "a command timed out");
		link_drop(&sub_link, "the command link timed out");
	}
}

/* Marks the command link usable once every site's setup call succeeded. */
static void cmd_on_setup(redisReply *reply, void *arg)
{
	struct site *site = arg;
	if (!reply)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		log_error("qh_setup of site %s failed: %s", site->cfg->site.id, reply->str);
		link_drop(&cmd_link, "setup failed");
		return;
	}
	if (--setups_left > 0)
		return;
	cmd_link.ready = 1;
	cmd_link.backoff_ms = STORE_BACKOFF_MIN_MS;
	if (sites_count() == 1)
		log_info("redis ready: function library loaded, site %s set up", site->cfg->site.id);
	else
		log_info("redis ready: function library loaded, %zu sites set up", sites_count());
	daychange_on_store_ready();
	events_on_store_ready();
	store_setup_if_due();
	if (!sub_link.ac && !evtimer_pending(sub_link.retry_timer, NULL))
		link_connect(&sub_link);
}

/* Sends the hall config to Redis once the library is loaded. */
static void cmd_on_function_load(redisReply *reply, void *arg)
{
	(void)arg;
	if (!reply)
		return;
	if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "LOADING", 7) == 0) {
		/* Redis is reading its AOF: ask again shortly, without growing the backoff. */
		if (!cmd_link.loading)
			log_info("redis is loading its data; waiting for it");
		cmd_link.loading = 1;
		cmd_link.backoff_ms = STORE_BACKOFF_MIN_MS;
		link_drop(&cmd_link, NULL);
		return;
	}
	cmd_link.loading = 0;
	if (reply->type == REDIS_REPLY_ERROR) {
		log_error("FUNCTION LOAD failed: %s", reply->str);
		link_drop(&cmd_link, "function load failed");
		return;
	}
	/* Every site's setup is sent at once (pipelined): the link is ready when all answered. */
	setups_left = sites_count();
	for (size_t i = 0; i < sites_count(); i++) {
		struct site *site = sites_at(i);
		const char *argv[] = {site->setup_json};
		if (store_fcall(site, "qh_setup", 0, cmd_on_setup, site, 1, argv) < 0) {
			link_drop(&cmd_link, "cannot send setup");
			return;
		}
	}
}

/* Loads the function library (it survives in Redis, but this makes sure the running
 * qserver's version is the one served). */
static void cmd_load_functions(void)
{
	const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", qserver_functions_lua};
	if (store_send(cmd_on_function_load, NULL, 4, argv, NULL) < 0)
		link_drop(&cmd_link, "cannot send FUNCTION LOAD");
}

/* Checks that the server the Sentinels named is the primary (it may have been demoted
 * since they answered), and loads the library on it; anything else asks them again. */
static void cmd_on_role(redisReply *reply, void *arg)
{
	(void)arg;
	if (!reply)
		return;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 || reply->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(reply->element[0]->str, "master") != 0) {
		char why[512];
		snprintf(why, sizeof why, "%.64s:%d says its role is %.80s, not master", redis_host, redis_port,
			 reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 && reply->element[0]->type == REDIS_REPLY_STRING
				 ? reply->element[0]->str
				 : (reply->type == REDIS_REPLY_ERROR ? reply->str : "unknown"));
		link_drop(&cmd_link, why);
		return;
	}
	cmd_load_functions();
}

/* Sets up every new command link: with Sentinels, ROLE first; then the library. */
static void cmd_link_connected(struct link *l)
{
	(void)l;
	if (!use_sentinel) {
		cmd_load_functions();
		return;
	}
	const char *argv[] = {"ROLE"};
	if (store_send(cmd_on_role, NULL, 1, argv, NULL) < 0)
		link_drop(&cmd_link, "cannot send ROLE");
}

/* A Sentinel announced that the primary moved: a hint only, so a link at that address
 * already stays, and otherwise the link drops to ask the Sentinels and check ROLE again. */
static void store_sentinel_hint(const char *ip, int port)
{
	if (stopping || (cmd_link.ac && strcmp(ip, redis_host) == 0 && port == redis_port))
		return;
	log_info("sentinel: %s moved to %s:%d; asking the Sentinels again", sentinel_master_name(), ip, port);
	cmd_link.backoff_ms = STORE_BACKOFF_MIN_MS;
	if (cmd_link.ac)
		link_drop(&cmd_link, "a Sentinel announced a new primary");
}

/* Receives subscription confirmations and messages on the pub/sub link. */
static void sub_on_message(redisAsyncContext *ac, void *r, void *privdata)
{
	(void)ac, (void)privdata;
	redisReply *reply = r;
	if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
		return;
	redisReply *kind = reply->element[0];
	if (kind->type != REDIS_REPLY_STRING)
		return;
	redisReply *channel = reply->element[1];
	if (channel->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(kind->str, "subscribe") == 0) {
		sub_link.ready = 1;
		sub_link.backoff_ms = STORE_BACKOFF_MIN_MS;
		events_on_subscribed(channel->str);
	} else if (strcmp(kind->str, "message") == 0 && reply->element[2]->type == REDIS_REPLY_STRING) {
		events_on_message(channel->str, reply->element[2]->str, reply->element[2]->len);
	}
}

/* Subscribes to every site's event channel in one command. */
static void sub_link_connected(struct link *l)
{
	size_t n = sites_count();
	const char **argv = calloc(n + 1, sizeof *argv);
	char (*channels)[CONFIG_ID_MAX + 16] = calloc(n ? n : 1, sizeof *channels);
	int rc = REDIS_ERR;
	if (argv && channels) {
		argv[0] = "SUBSCRIBE";
		for (size_t i = 0; i < n; i++) {
			snprintf(channels[i], sizeof channels[i], "%s:ev", sites_at(i)->prefix);
			argv[i + 1] = channels[i];
		}
		rc = redisAsyncCommandArgv(l->ac, sub_on_message, NULL, (int)n + 1, argv, NULL);
	}
	free(argv);
	free(channels);
	if (rc != REDIS_OK)
		link_drop(l, "cannot subscribe");
}

/* Parses unix:/path or IP:port into the link target; -1 (logged) when it is neither. */
static int store_parse_addr(const char *addr)
{
	if (strncmp(addr, "unix:", 5) == 0) {
		if (strlen(addr + 5) == 0 || strlen(addr + 5) >= sizeof redis_host) {
			log_error("--redis %s: expected unix:/path with a path of at most %zu bytes", addr, sizeof redis_host - 1);
			return -1;
		}
		strcpy(redis_host, addr + 5);
		redis_port = 0;
		return 0;
	}
	const char *colon = strrchr(addr, ':');
	char *end = NULL;
	long port = colon ? strtol(colon + 1, &end, 10) : 0;
	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof redis_host || *end || port <= 0 || port > 65535) {
		log_error("--redis %s: expected unix:/path or HOST:PORT", addr);
		return -1;
	}
	memcpy(redis_host, addr, colon - addr);
	redis_host[colon - addr] = '\0';
	if (strcmp(redis_host, "localhost") == 0)
		strcpy(redis_host, "127.0.0.1");
	/* hiredis resolves names with a blocking call, which would stall every client: IPs only. */
	unsigned char ip[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, redis_host, ip) != 1 && inet_pton(AF_INET6, redis_host, ip) != 1) {
		log_error("--redis %s: give Redis's IP address (or localhost), not a host name", addr);
		return -1;
	}
	redis_port = (int)port;
	return 0;
}

/* Starts both links to the Redis at addr; the links then keep themselves up. */
int store_start(const char *addr)
{
	use_sentinel = sentinel_parse(addr);
	if (use_sentinel < 0 || (!use_sentinel && store_parse_addr(addr) < 0))
		return -1;
	if (use_sentinel)
		sentinel_on_hint(store_sentinel_hint);
	struct link *links[] = {&cmd_link, &sub_link};
	for (int i = 0; i < 2; i++) {
		links[i]->connect_timer = evtimer_new(server.base, link_connect_timeout, links[i]);
		links[i]->retry_timer = evtimer_new(server.base, link_retry, links[i]);
		links[i]->backoff_ms = STORE_BACKOFF_MIN_MS;
	}
	cmd_link.on_connected = cmd_link_connected;
	sub_link.on_connected = sub_link_connected;
	watchdog = event_new(server.base, -1, EV_PERSIST, store_watchdog, NULL);
	flush_event = event_new(server.base, -1, 0, store_flush, NULL);
	if (!watchdog || !flush_event) {
		log_error("out of memory starting the Redis links");
		return -1;
	}
	struct timeval tick = {0, 100 * 1000};
	event_add(watchdog, &tick);
	link_connect(&cmd_link);
	return 0;
}

/* Closes both links; pending callbacks get NULL. */
void store_stop(void)
{
	stopping = 1;
	sentinel_stop();
	struct link *links[] = {&cmd_link, &sub_link};
	for (int i = 0; i < 2; i++) {
		struct link *l = links[i];
		if (l->ac) {
			redisAsyncContext *ac = l->ac;
			l->ac = NULL;
			redisAsyncFree(ac);
		}
		if (l->connect_timer)
			event_free(l->connect_timer);
		if (l->retry_timer)
			event_free(l->retry_timer);
		l->connect_timer = l->retry_timer = NULL;
	}
	if (watchdog)
		event_free(watchdog);
	watchdog = NULL;
	if (flush_event)
		event_free(flush_event);
	flush_event = NULL;
}

/* The embedded Redis is back after a restart: reconnect now instead of waiting out the
 * backoff (the pub/sub link follows once the command link is set up). */
void store_redis_back(void)
{
	struct link *links[] = {&cmd_link, &sub_link};
	for (int i = 0; i < 2; i++) {
		evtimer_del(links[i]->retry_timer);
		links[i]->backoff_ms = STORE_BACKOFF_MIN_MS;
	}
	if (!cmd_link.ac && !stopping)
		link_connect(&cmd_link);
}

/* Logs a failed qh_setup sent by a reload; the next start of the link sends it again. */
static void store_on_setup_again(redisReply *reply, void *arg)
{
	struct site *site = arg;
	if (reply && reply->type == REDIS_REPLY_ERROR)
		log_error("qh_setup of site %s after the reload failed: %s", site->cfg->site.id, reply->str);
}

/* Sends every site's setup again (after a reload), as the start of the command link does.
 * When the link is not ready it is sent once it is (setups sent before the reload may carry
 * the old config; a link that starts anew sends the new one anyway). */
void store_setup_sites(void)
{
	setup_due = 1;
	store_setup_if_due();
}

/* Sends the setups a reload asked for, once the link is ready. */
static void store_setup_if_due(void)
{
	if (!setup_due || !store_ready())
		return;
	setup_due = 0;
	for (size_t i = 0; i < sites_count(); i++) {
		struct site *site = sites_at(i);
		const char *argv[] = {site->setup_json};
		if (store_fcall(site, "qh_setup", 0, store_on_setup_again, site, 1, argv) < 0)
			log_warn("qh_setup of site %s after the reload was not sent; it is sent when the link starts again",
				 site->cfg->site.id);
	}
}

/* True when the pub/sub link is subscribed to the sites' event channels. */
int store_events_ready(void)
{
	return sub_link.ready && sub_link.ac != NULL;
}

/* True when requests can be served: the library is loaded and the link is up. */
int store_ready(void)
{
	return cmd_link.ready && cmd_link.ac != NULL && !cmd_link.draining;
}

/* How long after sending a function may still start: half the timeout. It refuses to run
 * later, so a call the watchdog gives up on (after the whole timeout, having read every
 * reply that arrived) can no longer commit. The other half is the margin for a function that
 * started just in time: its run (bounded far below it, decision 12), a stall of Redis's main
 * thread before it sends the reply (an AOF write on a busy disk), and the reply's trip. */
static long long store_deadline_ms(void)
{
	return server.opt.redis_timeout_ms / 2;
}

/* Calls a library function with the site key, the clock, the day and a deadline in front
 * of argv; -1 when Redis is not reachable (then cb is never called). */
int store_fcall(struct site *site, const char *function, int read_only, store_reply_fn *cb, void *arg, int argc,
		const char **argv)
{
	if (argc > STORE_MAX_ARGS)
		return -1;
	const char *all[STORE_MAX_ARGS + 8];
	char now[24], day[14], deadline[24];
	time_t t = clock_now();
	snprintf(now, sizeof now, "%lld", (long long)t);
	sitetime_day_hour(&site->cfg->site, t, day);
	snprintf(deadline, sizeof deadline, "%lld", clock_real_ms() + store_deadline_ms());
	int n = 0;
	all[n++] = read_only ? "FCALL_RO" : "FCALL";
	all[n++] = function;
	all[n++] = "1";
	all[n++] = site->prefix;
	all[n++] = now;
	all[n++] = day;
	all[n++] = deadline;
	for (int i = 0; i < argc; i++)
		all[n++] = argv[i] ? argv[i] : "";
	return store_send(cb, arg, n, all, NULL);
}

/* Sends any command on the command link once it is ready; -1 when it is not. */
int store_command(store_reply_fn *cb, void *arg, int argc, const char **argv)
{
	if (!store_ready())
		return -1;
	return store_send(cb, arg, argc, argv, NULL);
}

/* Takes the replies already waiting on the command link (their callbacks run now), so the
 * answers can go out before the events their commands caused. With no command waiting for a
 * reply there is nothing to take, and the read is not tried. */
void store_take_replies(void)
{
	if (cmd_link.ac && cmd_link.connected && inflight_count > 0)
		redisAsyncHandleRead(cmd_link.ac);
}

/* Tells whether a function's error says an older library is loaded (a qserver of an earlier
 * version, sharing this Redis during an upgrade, loaded its own when it connected): only that
 * library refuses the day with the hour this qserver sends, and it refuses before any write.
 * The command link is then dropped, so that it connects again and loads this qserver's library
 * (docs/operations.md, "Upgrading"). */
static int store_library_is_older(const char *error)
{
	if (strncmp(error, "BAD_REQUEST day ", 16) != 0)
		return 0;
	if (cmd_link.ac)
		link_drop(&cmd_link, "an older function library is loaded (a qserver of an earlier version?); loading ours again");
	return 1;
}

/* Checks a function's reply for a request: returns 1 when it is a success (a JSON object, or
 * the compact array or text form, "ticket..." or "window...", that eventbuild.c expands), or
 * answers the request (`unavailable`, the function's error, `internal`) and returns 0. */
int store_reply_ok(struct request *r, struct redisReply *reply)
{
	if (!reply) {
		request_reply_error(r, "unavailable", NULL, "Storage did not answer in time; nothing was changed, retry later.");
		return 0;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		if (store_library_is_older(reply->str)) {
			request_reply_error(r, "unavailable", NULL,
					    "The server is loading its storage functions again; nothing was changed, retry.");
			return 0;
		}
		request_reply_store_error(r, reply->str);
		return 0;
	}
	if (reply->type != REDIS_REPLY_STRING || reply->len < 2 ||
	    (reply->str[0] != '{' && reply->str[0] != '[' && (reply->str[0] < 'a' || reply->str[0] > 'z'))) {
		log_error("%s: unexpected reply type %d", r->op ? r->op->name : "?", reply->type);
		request_reply_error(r, "internal", NULL, "The server got an unexpected reply from storage.");
		return 0;
	}
	return 1;
}

/* Answers a request with its function's result, made whole from its compact form. */
static void store_reply_to_request(redisReply *reply, void *arg)
{
	struct request *r = arg;
	if (!store_reply_ok(r, reply))
		return;
	char *json = eventbuild_result(r->site->cfg, reply->str, reply->len);
	if (json && r->secret) { /* a take: the secret goes to this reply only */
		char *with_secret = ticket_result_with_secret(r, json);
		free(json);
		json = with_secret;
	}
	if (json) {
		request_reply_raw(r, json, strlen(json));
	} else {
		log_error("%s: malformed result %.80s", r->op ? r->op->name : "?", reply->str);
		request_reply_error(r, "internal", NULL, "The server got an unexpected reply from storage.");
	}
	free(json);
}

/* A client's write under --durable: its function's reply is kept until the WAIT sent right
 * behind it says how many replicas have it. */
struct durable_call {
	struct request *r;
	redisReply *result; /* a copy of the function's reply; NULL when none came */
	int wait_sent;	    /* else the function's reply decides alone */
};

/* A deep copy of a reply that freeReplyObject can free, or NULL when out of memory. */
static redisReply *reply_copy(const redisReply *src)
{
	redisReply *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->type = src->type;
	r->integer = src->integer;
	if (src->str) {
		r->str = malloc(src->len + 1);
		if (!r->str) {
			free(r);
			return NULL;
		}
		memcpy(r->str, src->str, src->len);
		r->str[src->len] = '\0';
		r->len = src->len;
	}
	if (src->type == REDIS_REPLY_ARRAY && src->elements) {
		r->element = calloc(src->elements, sizeof *r->element);
		if (!r->element) {
			freeReplyObject(r);
			return NULL;
		}
		r->elements = src->elements;
		for (size_t i = 0; i < src->elements; i++)
			if (!(r->element[i] = reply_copy(src->element[i]))) {
				freeReplyObject(r);
				return NULL;
			}
	}
	return r;
}

/* Answers a durable write once both replies are in (wait NULL: no WAIT answer). A function
 * that failed changed nothing and answers as always; one that succeeded is ok only when the
 * WAIT counted enough replicas. */
static void durable_finish(struct durable_call *d, const redisReply *wait)
{
	redisReply *result = d->result;
	int succeeded = result && result->type == REDIS_REPLY_STRING;
	if (!succeeded || (wait && wait->type == REDIS_REPLY_INTEGER && wait->integer >= server.opt.durable))
		store_reply_to_request(result, d->r);
	else
		request_reply_not_durable(d->r, server.opt.durable);
	if (result)
		freeReplyObject(result);
	free(d);
}

/* Keeps the function's reply of a durable write until its WAIT answers. */
static void durable_on_fcall(redisReply *reply, void *arg)
{
	struct durable_call *d = arg;
	d->result = reply ? reply_copy(reply) : NULL;
	if (reply && !d->result)
		log_error("out of memory keeping a reply for WAIT");
	if (!d->wait_sent)
		durable_finish(d, NULL);
}

/* Takes the WAIT's count of replicas and answers the durable write. */
static void durable_on_wait(redisReply *reply, void *arg)
{
	durable_finish(arg, reply);
}

/* Runs a writing function for a request and sends WAIT right behind it on the same link, so
 * Redis answers the WAIT once the function's write reached the replicas (or the time is up).
 * The WAIT blocks the commands sent after it until then, so its timeout is a quarter of the
 * Redis timeout: they still start well within their deadline. */
static void store_request_fcall_durable(struct request *r, const char *function, int argc, const char **argv)
{
	struct durable_call *d = calloc(1, sizeof *d);
	if (!d || store_fcall(r->site, function, 0, durable_on_fcall, d, argc, argv) < 0) {
		free(d);
		request_reply_error(r, "unavailable", NULL, "Storage is unreachable; nothing was changed, retry later.");
		return;
	}
	d->r = r;
	char replicas[16], timeout[16];
	snprintf(replicas, sizeof replicas, "%d", server.opt.durable);
	snprintf(timeout, sizeof timeout, "%d", server.opt.redis_timeout_ms / 4 > 0 ? server.opt.redis_timeout_ms / 4 : 1);
	const char *wait[] = {"WAIT", replicas, timeout};
	d->wait_sent = store_send(durable_on_wait, d, 3, wait, NULL) == 0;
}

/* Runs a function for a request and answers it with the result. */
void store_request_fcall(struct request *r, const char *function, int read_only, int argc, const char **argv)
{
	if (!read_only && server.opt.durable > 0 && store_ready()) {
		store_request_fcall_durable(r, function, argc, argv);
		return;
	}
	if (!store_ready() || store_fcall(r->site, function, read_only, store_reply_to_request, r, argc, argv) < 0)
		request_reply_error(r, "unavailable", NULL, "Storage is unreachable; nothing was changed, retry later.");
}
