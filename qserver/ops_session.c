/* Session ops: ping, hello and its window lease, site, services, snapshot, subscribe, and
 * the test clock. */
#include "qserver.h"
#include "log.h"
#include "password.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Answers with the server's clock. */
void op_ping(struct request *r)
{
	cJSON *res = cJSON_CreateObject();
	cJSON_AddNumberToObject(res, "time", (double)clock_now());
	request_reply(r, res);
}

/* Names one live connection of this process in a window lease. */
static void session_holder(const struct conn *c, char *out, size_t len)
{
	snprintf(out, len, "%s/%llu", server.instance, (unsigned long long)c->id);
}

/* Builds the hello answer common to every role. */
static cJSON *session_hello_result(enum role role)
{
	cJSON *res = cJSON_CreateObject();
	cJSON_AddNumberToObject(res, "protocol", PROTOCOL_VERSION);
	cJSON_AddStringToObject(res, "server", "qserver/" QSERVER_VERSION);
	cJSON_AddStringToObject(res, "role", config_role_name(role));
	cJSON_AddItemToObject(res, "site", sitejson_site(server.cfg, clock_now()));
	return res;
}

/* Raises the connection's role after a successful hello. */
static void session_grant(struct conn *c, enum role role, const char *user, int window)
{
	c->role = role;
	c->said_hello = 1;
	snprintf(c->user, sizeof c->user, "%s", user ? user : "");
	c->window = window;
	if (c->hello_timer)
		evtimer_del(c->hello_timer);
}

/* Ignores the outcome of a lease renewal or release: a lost one only lets the lease lapse. */
static void session_on_lease(redisReply *reply, void *arg)
{
	(void)arg;
	if (reply && reply->type == REDIS_REPLY_ERROR)
		log_warn("window lease update failed: %s", reply->str);
}

/* What a clerk's hello waits for while qh_open takes the window. */
struct clerk_hello {
	struct request *r;
	char user[CONFIG_ID_MAX];
	char holder[64];
	int window;
};

/* Finishes a clerk's hello once the window is taken (or refused). */
static void session_on_open(redisReply *reply, void *arg)
{
	struct clerk_hello *h = arg;
	struct request *r = h->r;
	if (!store_reply_ok(r, reply)) {
		free(h);
		return;
	}
	cJSON *opened = cJSON_ParseWithLength(reply->str, reply->len);
	cJSON *window = opened ? cJSON_DetachItemFromObjectCaseSensitive(opened, "window") : NULL;
	cJSON_Delete(opened);
	if (!window) {
		request_reply_error(r, "internal", NULL, "The server got an unexpected reply from storage.");
		free(h);
		return;
	}
	if (!r->conn) {
		/* The clerk left before the answer: give the window back at once. */
		char win[16];
		snprintf(win, sizeof win, "%d", h->window);
		const char *argv[] = {win, h->holder};
		store_fcall("qh_release", 0, session_on_lease, NULL, 2, argv);
		cJSON_Delete(window);
		request_free(r);
		free(h);
		return;
	}
	session_grant(r->conn, ROLE_CLERK, h->user, h->window);
	cJSON *res = session_hello_result(ROLE_CLERK);
	cJSON_AddItemToObject(res, "window", window);
	const struct config_user *u = config_user(server.cfg, h->user);
	cJSON *user = cJSON_AddObjectToObject(res, "user");
	cJSON_AddStringToObject(user, "id", u->id);
	cJSON_AddStringToObject(user, "name", u->name);
	log_info("clerk %s took window %d (%s)", h->user, h->window, r->conn->peer);
	request_reply(r, res);
	free(h);
}

/* Checks a user's password; answers `unauthenticated` without saying which part was wrong. */
static const struct config_user *session_check_user(struct request *r, const char *user, const char *password)
{
	const struct config_user *u = config_user(server.cfg, user);
	if (!u || !password_verify(password, u->password_hash)) {
		log_warn("failed hello for user %.32s from %s", user, r->conn->peer);
		request_reply_error(r, "unauthenticated", NULL, "Wrong user or password.");
		return NULL;
	}
	return u;
}

/* Starts a clerk's session on a window: the window must be one the clerk may use, and not
 * held by another clerk's live connection. */
static void session_hello_clerk(struct request *r)
{
	const char *user, *password;
	long window;
	if (args_string(r, "user", 1, CONFIG_ID_MAX - 1, &user) < 0 ||
	    args_string(r, "password", 1, 1024, &password) < 0 ||
	    args_int(r, "window", 1, 1, 9999, &window) < 0)
		return;
	const struct config_user *u = session_check_user(r, user, password);
	if (!u)
		return;
	if (u->role != ROLE_CLERK) {
		request_reply_error(r, "forbidden", "role", "User %s is a %s, not a clerk.", u->id, config_role_name(u->role));
		return;
	}
	if (!config_window(server.cfg, (int)window)) {
		request_reply_error(r, "not_found", "window", "There is no window %ld.", window);
		return;
	}
	if (!config_user_may_use(u, (int)window)) {
		request_reply_error(r, "forbidden", "window", "User %s may not work at window %ld.", u->id, window);
		return;
	}
	struct conn *holder = conn_find_window_holder((int)window);
	if (holder && strcmp(holder->user, u->id) != 0) {
		request_reply_error(r, "conflict", "window", "Window %ld is in use by clerk %s.", window, holder->user);
		return;
	}
	if (!store_ready()) {
		request_reply_error(r, "unavailable", NULL, "Storage is unreachable; nothing was changed, retry later.");
		return;
	}
	if (holder) {
		/* The same clerk again, from a new connection: the old one is stale. */
		log_info("clerk %s reconnected to window %ld; closing the old connection", u->id, window);
		conn_close(holder, "replaced by the same clerk");
	}
	struct clerk_hello *h = calloc(1, sizeof *h);
	if (!h) {
		request_reply_error(r, "internal", NULL, "The server ran out of memory.");
		return;
	}
	h->r = r;
	snprintf(h->user, sizeof h->user, "%s", u->id);
	h->window = (int)window;
	char win[16], until[24];
	snprintf(win, sizeof win, "%ld", window);
	session_holder(r->conn, h->holder, sizeof h->holder);
	snprintf(until, sizeof until, "%lld", (long long)clock_now() + server.opt.lease_s);
	const char *argv[] = {win, u->id, h->holder, until};
	if (store_fcall("qh_open", 0, session_on_open, h, 4, argv) < 0) {
		free(h);
		request_reply_error(r, "unavailable", NULL, "Storage is unreachable; nothing was changed, retry later.");
	}
}

/* Raises the connection's role: public, kiosk (token), clerk (user, password, window) or
 * manager (user, password). */
void op_hello(struct request *r)
{
	struct conn *c = r->conn;
	const char *role;
	if (args_string(r, "role", 1, 16, &role) < 0)
		return;
	if (c->said_hello && c->role != ROLE_PUBLIC) {
		request_reply_error(r, "conflict", NULL, "This connection already said hello as %s; open a new connection to change.", config_role_name(c->role));
		return;
	}
	if (strcmp(role, "public") == 0) {
		session_grant(c, ROLE_PUBLIC, NULL, 0);
		request_reply(r, session_hello_result(ROLE_PUBLIC));
	} else if (strcmp(role, "kiosk") == 0) {
		const char *token, *kiosk_id;
		if (args_string(r, "token", 1, 1024, &token) < 0 || args_string(r, "kiosk", 0, CONFIG_ID_MAX - 1, &kiosk_id) < 0)
			return;
		/* A kiosk that names itself costs one hash check instead of one per kiosk. */
		const struct config_kiosk *only = kiosk_id ? config_kiosk(server.cfg, kiosk_id) : NULL;
		for (size_t i = 0; i < server.cfg->nkiosks; i++) {
			if (kiosk_id && only != &server.cfg->kiosks[i])
				continue;
			if (password_verify(token, server.cfg->kiosks[i].token_hash)) {
				session_grant(c, ROLE_KIOSK, server.cfg->kiosks[i].id, 0);
				cJSON *res = session_hello_result(ROLE_KIOSK);
				cJSON_AddStringToObject(res, "kiosk", server.cfg->kiosks[i].id);
				request_reply(r, res);
				return;
			}
		}
		log_warn("failed kiosk hello from %s", c->peer);
		request_reply_error(r, "unauthenticated", "token", "The kiosk token is not valid.");
	} else if (strcmp(role, "clerk") == 0) {
		session_hello_clerk(r);
	} else if (strcmp(role, "manager") == 0) {
		const char *user, *password;
		if (args_string(r, "user", 1, CONFIG_ID_MAX - 1, &user) < 0 || args_string(r, "password", 1, 1024, &password) < 0)
			return;
		const struct config_user *u = session_check_user(r, user, password);
		if (!u)
			return;
		if (u->role != ROLE_MANAGER) {
			request_reply_error(r, "forbidden", "role", "User %s is a %s, not a manager.", u->id, config_role_name(u->role));
			return;
		}
		session_grant(c, ROLE_MANAGER, u->id, 0);
		cJSON *res = session_hello_result(ROLE_MANAGER);
		cJSON *user_obj = cJSON_AddObjectToObject(res, "user");
		cJSON_AddStringToObject(user_obj, "id", u->id);
		cJSON_AddStringToObject(user_obj, "name", u->name);
		request_reply(r, res);
	} else {
		request_reply_error(r, "bad_request", "role", "role must be public, kiosk, clerk or manager.");
	}
}

/* Gives up a clerk's hold on the window when the connection ends; the window keeps its
 * state and ticket for the clerk's next hello. */
void session_conn_gone(struct conn *c)
{
	if (c->role != ROLE_CLERK || !c->window || server.shutting_down > 1)
		return;
	char win[16], holder[64];
	snprintf(win, sizeof win, "%d", c->window);
	session_holder(c, holder, sizeof holder);
	const char *argv[] = {win, holder};
	store_fcall("qh_release", 0, session_on_lease, NULL, 2, argv);
}

/* Renews the leases of every clerk connected here. */
void session_renew_leases(void)
{
	if (!store_ready())
		return;
	char until[24];
	snprintf(until, sizeof until, "%lld", (long long)clock_now() + server.opt.lease_s);
	struct conn *c;
	TAILQ_FOREACH(c, &conns, entry) {
		if (c->role != ROLE_CLERK || !c->window)
			continue;
		char win[16], holder[64];
		snprintf(win, sizeof win, "%d", c->window);
		session_holder(c, holder, sizeof holder);
		const char *argv[] = {holder, until, win};
		store_fcall("qh_lease", 0, session_on_lease, NULL, 3, argv);
	}
}

/* Answers snapshot: qh_snapshot's object with the site object spliced in, without parsing
 * the (with thousands of services, large) result again. */
static void session_snapshot_splice(struct request *r, redisReply *reply)
{
	cJSON *site_obj = sitejson_site(server.cfg, clock_now());
	char *site = cJSON_PrintUnformatted(site_obj);
	cJSON_Delete(site_obj);
	size_t len = reply->len, site_len = site ? strlen(site) : 0;
	char *json = site ? malloc(len + site_len + 16) : NULL;
	if (!json || reply->str[len - 1] != '}') {
		free(site);
		free(json);
		request_reply_error(r, "internal", NULL, "The server got an unexpected reply from storage.");
		return;
	}
	size_t n = len - 1;
	memcpy(json, reply->str, n);
	n += (size_t)sprintf(json + n, "%s\"site\":", len > 2 ? "," : "");
	memcpy(json + n, site, site_len);
	n += site_len;
	json[n++] = '}';
	request_reply_raw(r, json, n);
	free(site);
	free(json);
}

/* Merges the live part from qh_snapshot with the site object; keeps `recent` if asked. */
static void session_on_snapshot(redisReply *reply, void *arg)
{
	struct request *r = arg;
	if (!store_reply_ok(r, reply))
		return;
	if (r->op && r->op->handler == op_snapshot) {
		session_snapshot_splice(r, reply);
		return;
	}
	cJSON *res = cJSON_ParseWithLength(reply->str, reply->len);
	if (!res) {
		request_reply_error(r, "internal", NULL, "The server got an unexpected reply from storage.");
		return;
	}
	if (r->op && r->op->handler == op_site)
		cJSON_DeleteItemFromObjectCaseSensitive(res, "recent");
	cJSON_AddItemToObject(res, "site", sitejson_site(server.cfg, clock_now()));
	request_reply(r, res);
}

/* Runs qh_snapshot for the site and snapshot ops. */
static void session_snapshot(struct request *r)
{
	if (!store_ready() || store_fcall("qh_snapshot", 1, session_on_snapshot, r, 0, NULL) < 0)
		request_reply_error(r, "unavailable", NULL, "Storage is unreachable; retry later.");
}

/* Answers the site with its services and windows. */
void op_site(struct request *r)
{
	session_snapshot(r);
}

/* Answers the whole live picture: site, services, windows and the last calls. */
void op_snapshot(struct request *r)
{
	session_snapshot(r);
}

/* Answers the services with their live waiting counts and estimates. */
void op_services(struct request *r)
{
	store_request_fcall(r, "qh_services", 1, 0, NULL);
}

/* Starts sending events of the given topics (all by default) on this connection. */
void op_subscribe(struct request *r)
{
	cJSON *topics = cJSON_GetObjectItemCaseSensitive(r->args, "topics");
	unsigned mask = 0;
	if (!topics || cJSON_IsNull(topics)) {
		mask = TOPIC_ALL;
	} else if (!cJSON_IsArray(topics)) {
		request_reply_error(r, "bad_request", "topics", "topics must be an array of called, queue, window, ticket.");
		return;
	} else {
		cJSON *t;
		cJSON_ArrayForEach(t, topics) {
			unsigned bit = cJSON_IsString(t) ? events_topic_parse(t->valuestring) : 0;
			if (!bit) {
				request_reply_error(r, "bad_request", "topics", "topics must be an array of called, queue, window, ticket.");
				return;
			}
			mask |= bit;
		}
	}
	r->conn->topics = mask;
	/* A subscribed reader is no idle stranger: PROTOCOL.md lets the public subscribe without
	 * hello, so the hello timeout no longer applies to it. */
	if (r->conn->hello_timer)
		evtimer_del(r->conn->hello_timer);
	cJSON *res = cJSON_CreateObject();
	cJSON *list = cJSON_AddArrayToObject(res, "topics");
	static const char *names[] = {"called", "queue", "window", "ticket"};
	for (int i = 0; i < 4; i++)
		if (mask & (1u << i))
			cJSON_AddItemToArray(list, cJSON_CreateString(names[i]));
	request_reply(r, res);
}

/* Moves the test clock (only with --test-clock): `set` to an epoch second, or `advance` by
 * seconds; answers the new time. */
void op_clock(struct request *r)
{
	long set = 0, advance = 0;
	if (args_int(r, "set", 0, 0, 4102444800L, &set) < 0 || args_int(r, "advance", 0, -31536000L, 31536000L, &advance) < 0)
		return;
	if (set)
		clock_set_offset((long long)set - (long long)time(NULL));
	if (advance)
		clock_set_offset(clock_offset() + advance);
	cJSON *res = cJSON_CreateObject();
	cJSON_AddNumberToObject(res, "time", (double)clock_now());
	request_reply(r, res);
}
