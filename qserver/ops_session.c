/* Session ops: ping, hello and its window lease, site, services, snapshot, subscribe, and
 * the test clock. */
#include "qserver.h"
#include "log.h"
#include "frame.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_UNNAMED_KIOSKS_MAX 16 /* a kiosk hello without `kiosk` tries at most this many tokens */

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

/* Builds the hello answer common to every role, for the site it signed in at. */
static cJSON *session_hello_result(const struct site *site, enum role role)
{
	cJSON *res = cJSON_CreateObject();
	cJSON_AddNumberToObject(res, "protocol", PROTOCOL_VERSION);
	cJSON_AddStringToObject(res, "server", "qserver/" QSERVER_VERSION);
	cJSON_AddStringToObject(res, "role", config_role_name(role));
	cJSON_AddItemToObject(res, "site", sitejson_site(site->cfg, clock_now()));
	return res;
}

/* Raises the connection's role at a site after a successful hello. */
static void session_grant(struct conn *c, struct site *site, enum role role, const char *user, int window)
{
	conn_set_role(c, role);
	c->site = site;
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

/* What a hello waits for while its credentials are checked and, for a clerk, while qh_open
 * takes the window. */
struct hello_wait {
	struct request *r;	  /* set once the window is being taken */
	enum role role;
	char user[CONFIG_ID_MAX]; /* as typed; a configured id once checked */
	char holder[64];
	int window;
	int kiosk_named;	  /* a kiosk hello that named its kiosk */
	int region_user;	  /* a manager's hello naming a user of region.json */
	unsigned generation;	  /* the configs' reload count when its check began */
};

/* The event a connection gets when its clerk took the window over from another connection. */
static const char session_replaced_event[] =
	"{\"event\":\"session\",\"reason\":\"replaced\",\"message\":\"This clerk signed in at this "
	"window from another place; this connection is closed.\"}";

/* Returns the live connection with that id, or NULL. */
static struct conn *session_find_conn(uint64_t id)
{
	struct conn *c;
	TAILQ_FOREACH(c, &conns, entry)
		if (c->id == id)
			return c;
	return NULL;
}

/* Writes a last event to a connection and closes it once the event is out; no event may
 * follow it, and no more requests are read. */
static void session_close_with(struct conn *c, const char *event, size_t len)
{
	events_subscribe(c, c->events_site, 0); /* off every topic's list: no event may follow this one */
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (frame_write_line(bufferevent_get_output(c->bev), event, len) < 0) {
		conn_close(c, "out of memory");
		return;
	}
	conn_flush_replies(c); /* closes once the event has been written */
}

/* Tells a clerk's connection that a newer session took its window over, then closes it once
 * the event is written (PROTOCOL.md v2, "Windows and sessions"). */
static void session_replace(struct conn *c)
{
	if (c->closed)
		return;
	log_info("clerk %s signed in at window %d elsewhere; closing the old connection (%s)", c->user, c->window, c->peer);
	c->window = 0; /* no longer the window's holder: no renewal, no release */
	session_close_with(c, session_replaced_event, sizeof session_replaced_event - 1);
}

/* Ends a signed-in connection whose account or window a config reload changed: it gets
 * {"event":"session","reason":reason,"message":message} and is closed (a clerk's window is
 * given back, unless the window itself is gone). */
void session_end(struct conn *c, const char *reason, const char *message)
{
	if (c->closed || c->closing)
		return;
	cJSON *ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "event", "session");
	cJSON_AddStringToObject(ev, "reason", reason);
	cJSON_AddStringToObject(ev, "message", message);
	char *line = cJSON_PrintUnformatted(ev);
	cJSON_Delete(ev);
	if (c->sse) {
		if (line)
			http_sse_end(c, "session", line, strlen(line));
	} else if (line) {
		session_close_with(c, line, strlen(line));
	} else {
		conn_close(c, "out of memory");
	}
	free(line);
}

/* Closes the connection named in a takeover message "<holder> <window>" that qh_open published,
 * when the holder is one of this process's connections. */
void session_on_takeover(const struct site *site, const char *msg, size_t len)
{
	char text[128];
	if (len >= sizeof text)
		return;
	memcpy(text, msg, len);
	text[len] = '\0';
	size_t n = strlen(server.instance);
	char *space = strchr(text, ' ');
	if (!space || strncmp(text, server.instance, n) != 0 || text[n] != '/')
		return; /* another qserver's connection */
	*space = '\0';
	uint64_t id = strtoull(text + n + 1, NULL, 10);
	int window = atoi(space + 1);
	struct conn *c = session_find_conn(id);
	if (c && c->role == ROLE_CLERK && c->site == site && window > 0 && c->window == window)
		session_replace(c);
}

/* Finishes a clerk's hello once the window is taken (or refused). */
static void session_on_open(redisReply *reply, void *arg)
{
	struct hello_wait *h = arg;
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
	if (!r->conn || h->generation != sites_generation() || !config_user(r->site->cfg, h->user)) {
		/* The clerk left before the answer, or a reload replaced the config it was checked
		 * against: give the window back at once. */
		char win[16];
		snprintf(win, sizeof win, "%d", h->window);
		const char *argv[] = {win, h->holder};
		store_fcall(r->site, "qh_release", 0, session_on_lease, NULL, 2, argv);
		cJSON_Delete(window);
		if (r->conn)
			request_reply_error(r, "unavailable", NULL, "The hall's configuration was reloaded during this sign-in; sign in again.");
		else
			request_free(r);
		free(h);
		return;
	}
	/* The same clerk's older connection here: it is told and closed (one elsewhere hears of
	 * it through the publish of qh_open). */
	struct conn *old = conn_find_window_holder(r->site, h->window);
	if (old && old != r->conn)
		session_replace(old);
	session_grant(r->conn, r->site, ROLE_CLERK, h->user, h->window);
	cJSON *res = session_hello_result(r->site, ROLE_CLERK);
	cJSON_AddItemToObject(res, "window", window);
	const struct config_user *u = config_user(r->site->cfg, h->user);
	cJSON *user = cJSON_AddObjectToObject(res, "user");
	cJSON_AddStringToObject(user, "id", u->id);
	cJSON_AddStringToObject(user, "name", u->name);
	log_info("%s: clerk %s took window %d (%s)", r->site->cfg->site.id, h->user, h->window, r->conn->peer);
	request_reply(r, res);
	free(h);
}

/* Takes the window for a clerk whose password was right: the window must be one the clerk
 * may use, and not held by another clerk's live connection. */
static void session_open_window(struct request *r, const struct config_user *u, struct hello_wait *h)
{
	if (!config_window(r->site->cfg, h->window)) {
		request_reply_error(r, "not_found", "window", "There is no window %d.", h->window);
		free(h);
		return;
	}
	if (!config_user_may_use(u, h->window)) {
		request_reply_error(r, "forbidden", "window", "User %s may not work at window %d.", u->id, h->window);
		free(h);
		return;
	}
	struct conn *holder = conn_find_window_holder(r->site, h->window);
	if (holder && strcmp(holder->user, u->id) != 0) {
		request_reply_error(r, "conflict", "window", "Window %d is in use by clerk %s.", h->window, holder->user);
		free(h);
		return;
	}
	h->r = r;
	char win[16], until[24];
	snprintf(win, sizeof win, "%d", h->window);
	session_holder(r->conn, h->holder, sizeof h->holder);
	snprintf(until, sizeof until, "%lld", (long long)clock_now() + server.opt.lease_s);
	const char *argv[] = {win, u->id, h->holder, until};
	if (!store_ready() || store_fcall(r->site, "qh_open", 0, session_on_open, h, 4, argv) < 0) {
		free(h);
		request_reply_error(r, "unavailable", NULL, "Storage is unreachable; nothing was changed, retry later.");
	}
}

/* Whether the connection of a checked hello can still take a role; answers when not. */
static int session_may_grant(struct request *r, int matched, struct hello_wait *h)
{
	if (matched == AUTH_CANCELLED) {
		request_reply_error(r, "unavailable", NULL, "The server is stopping; sign in again in a moment.");
		free(h);
		return 0;
	}
	if (!r->conn) {
		request_free(r); /* the connection closed during the check */
		free(h);
		return 0;
	}
	if (h->generation != sites_generation()) {
		/* Checked against a config that a reload replaced meanwhile. */
		request_reply_error(r, "unavailable", NULL, "The hall's configuration was reloaded during this sign-in; sign in again.");
		free(h);
		return 0;
	}
	if (r->conn->said_hello && r->conn->role != ROLE_PUBLIC) {
		/* Another hello on this connection was checked first. */
		request_reply_error(r, "conflict", NULL, "This connection already said hello as %s; open a new connection to change.", config_role_name(r->conn->role));
		free(h);
		return 0;
	}
	return 1;
}

/* Holds the connection's next lines until this hello is answered: a client may send requests
 * right behind its hello, and they must run with the role it gives. */
static void session_hold_reading(struct request *r)
{
	r->conn->gate = r;
}

/* Finishes a region manager's hello once the password was checked: the site must be in the
 * user's scope. The answer lists the scope, so a client can offer the other sites. */
static void session_on_region_user_checked(struct request *r, int matched, struct hello_wait *h)
{
	const struct config_region_user *u = matched == AUTH_NO_MATCH ? NULL : config_region_user(sites_region(), h->user);
	if (!u) {
		request_reply_error(r, "unauthenticated", NULL, "Wrong user or password.");
		free(h);
		return;
	}
	const char *site = r->site->cfg->site.id;
	if (!config_region_user_may(u, site)) {
		request_reply_error(r, "forbidden", "site", "User %s does not manage site %s.", u->id, site);
		free(h);
		return;
	}
	session_grant(r->conn, r->site, ROLE_MANAGER, u->id, 0);
	r->conn->region_user = u;
	cJSON *res = session_hello_result(r->site, ROLE_MANAGER);
	cJSON *user_obj = cJSON_AddObjectToObject(res, "user");
	cJSON_AddStringToObject(user_obj, "id", u->id);
	cJSON_AddStringToObject(user_obj, "name", u->name);
	cJSON *scope = cJSON_AddArrayToObject(user_obj, "sites");
	for (size_t i = 0; i < sites_count(); i++)
		if (config_region_user_may(u, sites_at(i)->cfg->site.id))
			cJSON_AddItemToArray(scope, cJSON_CreateString(sites_at(i)->cfg->site.id));
	request_reply(r, res);
	free(h);
}

/* Finishes a clerk's or manager's hello once the password was checked. */
static void session_on_user_checked(struct request *r, int matched, void *arg)
{
	struct hello_wait *h = arg;
	if (!session_may_grant(r, matched, h))
		return;
	if (h->region_user) {
		session_on_region_user_checked(r, matched, h);
		return;
	}
	const struct config_user *u = matched == AUTH_NO_MATCH ? NULL : config_user(r->site->cfg, h->user);
	if (!u) {
		request_reply_error(r, "unauthenticated", NULL, "Wrong user or password.");
		free(h);
		return;
	}
	if (u->role != h->role) {
		request_reply_error(r, "forbidden", "role", "User %s is a %s, not a %s.", u->id, config_role_name(u->role), config_role_name(h->role));
		free(h);
		return;
	}
	if (h->role == ROLE_CLERK) {
		session_open_window(r, u, h);
		return;
	}
	session_grant(r->conn, r->site, ROLE_MANAGER, u->id, 0);
	cJSON *res = session_hello_result(r->site, ROLE_MANAGER);
	cJSON *user_obj = cJSON_AddObjectToObject(res, "user");
	cJSON_AddStringToObject(user_obj, "id", u->id);
	cJSON_AddStringToObject(user_obj, "name", u->name);
	request_reply(r, res);
	free(h);
}

/* Starts a clerk's (user, password, window) or manager's (user, password) hello: the password
 * is checked on the worker pool, an unknown user against the dummy hash. */
static void session_hello_user(struct request *r, enum role role)
{
	const char *user, *password;
	long window = 0;
	if (args_string(r, "user", 1, CONFIG_ID_MAX - 1, &user) < 0 ||
	    args_string(r, "password", 1, 1024, &password) < 0 ||
	    (role == ROLE_CLERK && args_int(r, "window", 1, 1, 9999, &window) < 0))
		return;
	struct hello_wait *h = calloc(1, sizeof *h);
	if (!h) {
		request_reply_error(r, "internal", NULL, "The server ran out of memory.");
		return;
	}
	h->role = role;
	h->window = (int)window;
	h->generation = sites_generation();
	snprintf(h->user, sizeof h->user, "%s", user);
	/* A hall's own user first; a manager not found there may be a region manager. */
	const struct config_user *u = config_user(r->site->cfg, user);
	const struct config_region_user *ru = !u && role == ROLE_MANAGER ? config_region_user(sites_region(), user) : NULL;
	const char *hash = u ? u->password_hash : ru ? ru->password_hash : login_dummy_hash();
	char key[LOGIN_KEY_MAX];
	if (ru)
		login_key('r', NULL, user, key, sizeof key);
	else
		login_key('u', r->site, user, key, sizeof key);
	h->region_user = ru != NULL;
	if (login_check(r, key, u != NULL || ru != NULL, password, &hash, 1, session_on_user_checked, h) < 0)
		free(h);
	else
		session_hold_reading(r);
}

/* True when a configured kiosk signs in as role: a rating pad as pad, any other as kiosk. */
static int session_kiosk_is(const struct config_kiosk *k, enum role role)
{
	return k && (k->pad_window > 0) == (role == ROLE_PAD);
}

/* The kiosk of the role's kind with that index among those of its kind, or NULL. */
static const struct config_kiosk *session_kiosk_at(const struct config *cfg, enum role role, int index)
{
	for (size_t i = 0; i < cfg->nkiosks; i++)
		if (session_kiosk_is(&cfg->kiosks[i], role) && index-- == 0)
			return &cfg->kiosks[i];
	return NULL;
}

/* Finishes a kiosk's or a pad's hello once its token was checked. */
static void session_on_kiosk_checked(struct request *r, int matched, void *arg)
{
	struct hello_wait *h = arg;
	if (!session_may_grant(r, matched, h))
		return;
	const struct config_kiosk *k = NULL;
	if (matched >= 0)
		k = h->kiosk_named ? config_kiosk(r->site->cfg, h->user) : session_kiosk_at(r->site->cfg, h->role, matched);
	if (!session_kiosk_is(k, h->role)) {
		request_reply_error(r, "unauthenticated", "token", "The %s token is not valid.", config_role_name(h->role));
		free(h);
		return;
	}
	session_grant(r->conn, r->site, h->role, k->id, 0);
	cJSON *res = session_hello_result(r->site, h->role);
	cJSON_AddStringToObject(res, "kiosk", k->id);
	if (k->pad_window) /* a pad's window: its page shows the tickets finished there */
		cJSON_AddItemToObject(res, "window", sitejson_window_brief(config_window(r->site->cfg, k->pad_window)));
	request_reply(r, res);
	free(h);
}

/* Starts a kiosk's or a rating pad's hello (token, and kiosk: its id); role is ROLE_KIOSK or
 * ROLE_PAD, and only kiosks of that kind are tried. A kiosk that names itself costs one hash
 * check; one that does not is checked against every such kiosk's token, each counted against
 * the address's budget, and only while the hall has few kiosks. */
static void session_hello_kiosk(struct request *r, enum role role)
{
	const char *token, *kiosk_id;
	if (args_string(r, "token", 1, 1024, &token) < 0 || args_string(r, "kiosk", 0, CONFIG_ID_MAX - 1, &kiosk_id) < 0)
		return;
	size_t nkiosks = 0;
	while (session_kiosk_at(r->site->cfg, role, (int)nkiosks))
		nkiosks++;
	if (!kiosk_id && nkiosks > SESSION_UNNAMED_KIOSKS_MAX) {
		request_reply_error(r, "bad_request", "kiosk", "This hall has %zu kiosks: name yours in kiosk.", nkiosks);
		return;
	}
	struct hello_wait *h = calloc(1, sizeof *h);
	const char **hashes = calloc(nkiosks ? nkiosks : 1, sizeof *hashes);
	if (!h || !hashes) {
		free(h);
		free(hashes);
		request_reply_error(r, "internal", NULL, "The server ran out of memory.");
		return;
	}
	h->role = role;
	h->generation = sites_generation();
	char key[LOGIN_KEY_MAX];
	int rc;
	if (kiosk_id) {
		const struct config_kiosk *k = config_kiosk(r->site->cfg, kiosk_id);
		if (!session_kiosk_is(k, role))
			k = NULL; /* a pad's token opens no kiosk, and a kiosk's no pad */
		h->kiosk_named = 1;
		snprintf(h->user, sizeof h->user, "%s", kiosk_id);
		login_key('k', r->site, kiosk_id, key, sizeof key);
		hashes[0] = k ? k->token_hash : login_dummy_hash();
		rc = login_check(r, key, k != NULL, token, hashes, 1, session_on_kiosk_checked, h);
	} else {
		for (size_t i = 0; i < nkiosks; i++)
			hashes[i] = session_kiosk_at(r->site->cfg, role, (int)i)->token_hash;
		if (nkiosks == 0)
			hashes[0] = login_dummy_hash();
		rc = login_check(r, NULL, nkiosks > 0, token, hashes, nkiosks ? nkiosks : 1, session_on_kiosk_checked, h);
	}
	free(hashes);
	if (rc < 0)
		free(h);
	else
		session_hold_reading(r);
}

/* Raises the connection's role: public, kiosk (token), clerk (user, password, window) or
 * manager (user, password). Credentials are checked off the loop; the answer follows. */
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
		session_grant(c, r->site, ROLE_PUBLIC, NULL, 0);
		request_reply(r, session_hello_result(r->site, ROLE_PUBLIC));
	} else if (strcmp(role, "kiosk") == 0) {
		session_hello_kiosk(r, ROLE_KIOSK);
	} else if (strcmp(role, "pad") == 0) {
		session_hello_kiosk(r, ROLE_PAD);
	} else if (strcmp(role, "clerk") == 0) {
		session_hello_user(r, ROLE_CLERK);
	} else if (strcmp(role, "manager") == 0) {
		session_hello_user(r, ROLE_MANAGER);
	} else {
		request_reply_error(r, "bad_request", "role", "role must be public, kiosk, clerk, manager or pad.");
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
	store_fcall(c->site, "qh_release", 0, session_on_lease, NULL, 2, argv);
}

/* Closes a clerk's connection whose window another session took over while the publish of
 * that takeover was missed (qh_lease lists the window as lost). arg is the connection's id. */
static void session_on_renewed(redisReply *reply, void *arg)
{
	if (!reply || reply->type != REDIS_REPLY_STRING) {
		session_on_lease(reply, NULL);
		return;
	}
	cJSON *res = cJSON_ParseWithLength(reply->str, reply->len);
	cJSON *lost = res ? cJSON_GetObjectItemCaseSensitive(res, "lost") : NULL;
	cJSON *window;
	cJSON_ArrayForEach(window, lost) {
		struct conn *c = session_find_conn((uint64_t)(uintptr_t)arg);
		if (c && c->role == ROLE_CLERK && cJSON_IsNumber(window) && c->window == window->valueint)
			session_replace(c);
	}
	cJSON_Delete(res);
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
		store_fcall(c->site, "qh_lease", 0, session_on_renewed, (void *)(uintptr_t)c->id, 3, argv);
	}
}

/* Answers snapshot: qh_snapshot's object (made whole, `live`, len bytes) with the site object
 * spliced in, without parsing the (with thousands of services, large) result again. */
static void session_snapshot_splice(struct request *r, const char *live, size_t len)
{
	cJSON *site_obj = sitejson_site(r->site->cfg, clock_now());
	char *site = cJSON_PrintUnformatted(site_obj);
	cJSON_Delete(site_obj);
	size_t site_len = site ? strlen(site) : 0;
	char *json = site ? malloc(len + site_len + 16) : NULL;
	if (!json || live[len - 1] != '}') {
		free(site);
		free(json);
		request_reply_error(r, "internal", NULL, "The server got an unexpected reply from storage.");
		return;
	}
	size_t n = len - 1;
	memcpy(json, live, n);
	n += (size_t)sprintf(json + n, "%s\"site\":", len > 2 ? "," : "");
	memcpy(json + n, site, site_len);
	n += site_len;
	json[n++] = '}';
	request_reply_raw(r, json, n);
	free(site);
	free(json);
}

/* Merges the live part from qh_snapshot (its services made whole from their compact form)
 * with the site object; keeps `recent` if asked. */
static void session_on_snapshot(redisReply *reply, void *arg)
{
	struct request *r = arg;
	if (!store_reply_ok(r, reply))
		return;
	char *live = eventbuild_result(r->site->cfg, reply->str, reply->len);
	cJSON *res = NULL;
	if (live && r->op && r->op->handler == op_snapshot) {
		session_snapshot_splice(r, live, strlen(live));
		free(live);
		return;
	}
	if (live)
		res = cJSON_Parse(live);
	free(live);
	if (!res) {
		request_reply_error(r, "internal", NULL, "The server got an unexpected reply from storage.");
		return;
	}
	if (r->op && r->op->handler == op_site)
		cJSON_DeleteItemFromObjectCaseSensitive(res, "recent");
	cJSON_AddItemToObject(res, "site", sitejson_site(r->site->cfg, clock_now()));
	request_reply(r, res);
}

/* Runs qh_snapshot for the site and snapshot ops. */
static void session_snapshot(struct request *r)
{
	if (!store_ready() || store_fcall(r->site, "qh_snapshot", 1, session_on_snapshot, r, 0, NULL) < 0)
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
	events_subscribe(r->conn, r->site, mask);
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
