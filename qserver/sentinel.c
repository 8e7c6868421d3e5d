/* Finding the Redis primary through Redis Sentinel, as the Sentinel client guidelines say:
 * ask the Sentinels in turn (SENTINEL get-master-addr-by-name), each within our own timeout
 * since hiredis 0.14.1 has none; move the one that answered to the front; the store checks
 * the answer with ROLE and asks again after every disconnect or -READONLY. A link to the
 * Sentinel that answered listens for +switch-master, which is only a hint to ask again. */
#include "qserver.h"
#include "log.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SENTINEL_MAX 8
#define SENTINEL_PREFIX "sentinel://"

struct sentinel_addr {
	char ip[INET6_ADDRSTRLEN];
	int port;
};

static struct sentinel_addr sentinels[SENTINEL_MAX];
static int sentinel_count;
static char master_name[128];

/* The query in progress: which Sentinel is asked, over which context, and who wants the answer. */
static redisAsyncContext *query_ac;
static int query_index;
static struct event *query_timer;
static sentinel_found_fn *query_cb;
static void *query_arg;

/* The hint link: subscribed to +switch-master on the Sentinel that answered last. */
static redisAsyncContext *hint_ac;
static sentinel_hint_fn *hint_cb;

static void query_next(void);

/* Parses one IP:PORT (IPv6 as [IP]:PORT) into a; -1 when it is not that. */
static int parse_ip_port(const char *s, size_t len, struct sentinel_addr *a)
{
	char buf[80];
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *colon = strrchr(buf, ':');
	if (!colon || colon == buf)
		return -1;
	*colon = '\0';
	char *end = NULL;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return -1;
	char *host = buf;
	size_t hl = strlen(host);
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		host++;
	}
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	unsigned char ip[sizeof(struct in6_addr)];
	if (strlen(host) >= sizeof a->ip || (inet_pton(AF_INET, host, ip) != 1 && inet_pton(AF_INET6, host, ip) != 1))
		return -1;
	memcpy(a->ip, host, strlen(host) + 1);
	a->port = (int)port;
	return 0;
}

/* Reads sentinel://IP:PORT[,IP:PORT...]/MASTERNAME: 1 when addr is one (kept), 0 when addr
 * is not a Sentinel address, -1 (logged) when it is one but malformed. */
int sentinel_parse(const char *addr)
{
	if (strncmp(addr, SENTINEL_PREFIX, strlen(SENTINEL_PREFIX)) != 0)
		return 0;
	const char *p = addr + strlen(SENTINEL_PREFIX);
	const char *slash = strchr(p, '/');
	if (!slash || !slash[1] || strlen(slash + 1) >= sizeof master_name || strpbrk(slash + 1, " /\r\n")) {
		log_error("--redis %s: expected sentinel://IP:PORT[,IP:PORT...]/MASTERNAME", addr);
		return -1;
	}
	sentinel_count = 0;
	while (p < slash) {
		const char *comma = memchr(p, ',', slash - p);
		const char *stop = comma ? comma : slash;
		if (sentinel_count == SENTINEL_MAX) {
			log_error("--redis %s: at most %d Sentinels", addr, SENTINEL_MAX);
			return -1;
		}
		/* hiredis resolves names with a blocking call, which would stall every client: IPs only. */
		if (parse_ip_port(p, stop - p, &sentinels[sentinel_count]) < 0) {
			log_error("--redis %s: \"%.*s\" is not IP:PORT (give IP addresses, not host names)", addr,
				  (int)(stop - p), p);
			return -1;
		}
		sentinel_count++;
		p = stop + 1;
	}
	if (sentinel_count == 0) {
		log_error("--redis %s: name at least one Sentinel", addr);
		return -1;
	}
	snprintf(master_name, sizeof master_name, "%s", slash + 1);
	return 1;
}

/* The primary's name at the Sentinels, for log lines. */
const char *sentinel_master_name(void)
{
	return master_name;
}

/* Ends the query with an answer (ip NULL when no Sentinel knew the primary). */
static void query_finish(const char *ip, int port)
{
	evtimer_del(query_timer);
	sentinel_found_fn *cb = query_cb;
	query_cb = NULL;
	if (cb)
		cb(ip, port, query_arg);
}

/* Closes the query's context; its pending callback sees query_ac gone and does nothing. */
static void query_close(void)
{
	redisAsyncContext *ac = query_ac;
	query_ac = NULL;
	if (ac)
		redisAsyncFree(ac);
}

/* hiredis ends the query's connection; the context is freed after this returns. */
static void query_on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	if (ac != query_ac)
		return;
	query_ac = NULL;
	query_next();
}

/* A failed connect to a Sentinel: hiredis frees the context itself. */
static void query_on_connect(const redisAsyncContext *ac, int status)
{
	if (ac != query_ac || status == REDIS_OK)
		return;
	log_warn("sentinel %s:%d: %s", sentinels[query_index].ip, sentinels[query_index].port, ac->errstr);
	query_ac = NULL;
	query_next();
}

/* Gives up on a Sentinel that did not answer in time and asks the next one. */
static void query_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	log_warn("sentinel %s:%d did not answer in time", sentinels[query_index].ip, sentinels[query_index].port);
	query_close();
	query_next();
}

/* Puts Sentinel i at the front of the list, as the guidelines ask for the one that answered. */
static void sentinel_to_front(int i)
{
	struct sentinel_addr a = sentinels[i];
	memmove(&sentinels[1], &sentinels[0], i * sizeof sentinels[0]);
	sentinels[0] = a;
}

/* Receives +switch-master messages on the hint link. */
static void hint_on_message(redisAsyncContext *ac, void *r, void *privdata)
{
	(void)privdata;
	redisReply *reply = r;
	if (ac != hint_ac || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
		return;
	redisReply *kind = reply->element[0], *text = reply->element[2];
	if (kind->type != REDIS_REPLY_STRING || strcmp(kind->str, "message") != 0 || text->type != REDIS_REPLY_STRING)
		return;
	/* "<master name> <old ip> <old port> <new ip> <new port>" */
	size_t n = strlen(master_name);
	if (strncmp(text->str, master_name, n) != 0 || text->str[n] != ' ')
		return;
	char ip[INET6_ADDRSTRLEN];
	int port;
	if (sscanf(text->str + n + 1, "%*s %*d %45s %d", ip, &port) == 2 && hint_cb)
		hint_cb(ip, port);
}

/* hiredis ends the hint link; it is opened again after the next answer. */
static void hint_on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	if (ac == hint_ac)
		hint_ac = NULL;
}

/* A failed connect of the hint link: nothing to do but forget it. */
static void hint_on_connect(const redisAsyncContext *ac, int status)
{
	if (ac == hint_ac && status != REDIS_OK)
		hint_ac = NULL;
}

/* Starts an async connection to a Sentinel with the given callbacks; NULL when it fails
 * at once (logged). */
static redisAsyncContext *sentinel_connect(const struct sentinel_addr *s, redisConnectCallback *on_connect,
					   redisDisconnectCallback *on_disconnect)
{
	redisAsyncContext *ac = redisAsyncConnect(s->ip, s->port);
	if (!ac)
		return NULL;
	if (ac->err) {
		log_warn("sentinel %s:%d: %s", s->ip, s->port, ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	/* The adapter goes on before the callbacks, as hiredis 0.14.1 expects. */
	redisLibeventAttach(ac, server.base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	return ac;
}

/* Opens the hint link to Sentinel 0 (the one that answered last) unless one is open. */
static void hint_open(void)
{
	if (hint_ac || !hint_cb)
		return;
	redisAsyncContext *ac = sentinel_connect(&sentinels[0], hint_on_connect, hint_on_disconnect);
	if (!ac)
		return;
	hint_ac = ac;
	if (redisAsyncCommand(ac, hint_on_message, NULL, "SUBSCRIBE +switch-master") != REDIS_OK) {
		hint_ac = NULL;
		redisAsyncFree(ac);
	}
}

/* Reads a Sentinel's answer: [ip, port] of the primary, or nil when it does not know it. */
static void query_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	(void)privdata;
	if (ac != query_ac)
		return;
	redisReply *reply = r;
	struct sentinel_addr found = {0};
	int ok = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
		 reply->element[0]->type == REDIS_REPLY_STRING && reply->element[1]->type == REDIS_REPLY_STRING;
	if (ok) {
		char text[80];
		snprintf(text, sizeof text, "%s:%s", reply->element[0]->str, reply->element[1]->str);
		ok = parse_ip_port(text, strlen(text), &found) == 0;
	}
	struct sentinel_addr asked = sentinels[query_index];
	query_close();
	if (!ok) {
		log_warn("sentinel %s:%d does not know a primary named %s%s%s", asked.ip, asked.port, master_name,
			 reply && reply->type == REDIS_REPLY_ERROR ? ": " : "",
			 reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "");
		query_next();
		return;
	}
	if (query_index != 0 && hint_ac) {
		redisAsyncContext *old = hint_ac; /* the hint link follows the Sentinel at the front */
		hint_ac = NULL;
		redisAsyncFree(old);
	}
	sentinel_to_front(query_index);
	hint_open();
	query_finish(found.ip, found.port);
}

/* Asks the next Sentinel, or reports failure once every one was asked. */
static void query_next(void)
{
	if (!query_cb)
		return;
	while (++query_index < sentinel_count) {
		redisAsyncContext *ac = sentinel_connect(&sentinels[query_index], query_on_connect, query_on_disconnect);
		if (!ac)
			continue;
		query_ac = ac;
		if (redisAsyncCommand(ac, query_on_reply, NULL, "SENTINEL get-master-addr-by-name %s", master_name) != REDIS_OK) {
			query_close();
			continue;
		}
		struct timeval tv = {server.opt.redis_timeout_ms / 1000, (server.opt.redis_timeout_ms % 1000) * 1000};
		evtimer_add(query_timer, &tv);
		return;
	}
	query_finish(NULL, 0);
}

/* Asks the Sentinels in turn for the primary's address; cb gets it (or NULL) exactly once,
 * perhaps before this returns. A query already under way is replaced. */
void sentinel_resolve(sentinel_found_fn *cb, void *arg)
{
	if (!query_timer)
		query_timer = evtimer_new(server.base, query_timeout, NULL);
	query_close();
	evtimer_del(query_timer);
	query_cb = cb;
	query_arg = arg;
	query_index = -1;
	query_next();
}

/* Sets what runs when a Sentinel announces that the primary moved. */
void sentinel_on_hint(sentinel_hint_fn *cb)
{
	hint_cb = cb;
}

/* Drops the query and the hint link; no callback runs afterwards. */
void sentinel_stop(void)
{
	query_cb = NULL;
	query_close();
	if (hint_ac) {
		redisAsyncContext *ac = hint_ac;
		hint_ac = NULL;
		redisAsyncFree(ac);
	}
	if (query_timer)
		event_free(query_timer);
	query_timer = NULL;
}
