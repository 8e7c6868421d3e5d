/* The JSON API of WEB.md: each route becomes a request of the protocol (an op and its
 * arguments) run by the same op table, role checks and handlers as an NDJSON line. The
 * request's client is a transient connection carrying the session's role (conn.c); its one
 * answer comes back here (request.c) and leaves as the protocol's answer without `id`, with
 * the HTTP status of its error code. */
#include "qserver.h"
#include "log.h"
#include "metrics.h"
#include "utf8.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define API_PREFIX "/api/v1/"
#define API_MAX_SEGMENTS 8
#define API_SEGMENT_MAX 128
#define SESSION_COOKIE "qhall_session"

enum exchange_kind { EXCHANGE_OP, EXCHANGE_SIGN_IN, EXCHANGE_RATINGS_CSV };

/* One API request from arrival to answer. */
struct http_exchange {
	struct evhttp_request *req;  /* NULL once the client closed */
	struct http_client *client;  /* NULL once the client closed */
	struct conn *conn;	     /* the transient client the op runs for */
	enum exchange_kind kind;
	char *line;		     /* the request line given to the op table */
	size_t line_len;
	char *answer;		     /* a sign-in's answer while its session is stored */
	struct site *site;	     /* the site the URL names, or NULL */
	const struct op *op;	     /* the op the route names, or NULL for an unknown one */
	size_t answer_len;
	int answered;
	struct ratings_export *csv;  /* a ratings export's CSV so far (http_ratings.c) */
};

/* A route: method, path pattern (a star matches one segment), the op, and the
 * arguments its segments fill (in order, after the site when the first is "sites"). */
struct route {
	enum evhttp_cmd_type method;
	const char *pattern;
	const char *op;
	const char *segment_args[2]; /* names for the 2nd and 3rd * */
	const char *query_args[4];   /* query parameters passed as arguments (k is `secret`) */
};

static const struct route routes[] = {
	{EVHTTP_REQ_GET, "sites/*", "site", {NULL}, {NULL}},
	{EVHTTP_REQ_GET, "sites/*/services", "services", {NULL}, {NULL}},
	{EVHTTP_REQ_GET, "sites/*/snapshot", "snapshot", {NULL}, {NULL}},
	{EVHTTP_REQ_POST, "sites/*/tickets", "take", {NULL}, {NULL}},
	{EVHTTP_REQ_GET, "sites/*/tickets/*", "ticket", {"ticket"}, {"k"}},
	{EVHTTP_REQ_DELETE, "sites/*/tickets/*", "cancel", {"ticket"}, {"k"}},
	{EVHTTP_REQ_POST, "sites/*/tickets/*/rating", "rate", {"ticket"}, {"k"}},
	{EVHTTP_REQ_POST, "sites/*/tickets/*/notify", "notify", {"ticket"}, {"k"}},
	{EVHTTP_REQ_GET, "sites/*/services/*/slots", "slots", {"service"}, {"date"}},
	{EVHTTP_REQ_POST, "sites/*/appointments", "book", {NULL}, {NULL}},
	{EVHTTP_REQ_GET, "sites/*/appointments/*", "appointment", {"code"}, {NULL}},
	{EVHTTP_REQ_DELETE, "sites/*/appointments/*", "cancel_appointment", {"code"}, {NULL}},
	{EVHTTP_REQ_GET, "sites/*/stats", "stats", {NULL}, {"from", "to", "by"}},
	{EVHTTP_REQ_GET, "region", "region", {NULL}, {NULL}},
	{EVHTTP_REQ_POST, "sites/*/op/*", NULL, {NULL}, {NULL}}, /* the op is the last segment */
};

/* The site a URL's {site} names, or NULL when this server serves none of that id (the
 * region's lookup, as for NDJSON requests). */
struct site *http_api_site(const char *site)
{
	return sites_find(site);
}

/* Splits the path after /api/v1/ into URL-decoded segments; -1 when one is empty, too long
 * or decodes to a NUL. */
static int api_split(const char *rest, char seg[][API_SEGMENT_MAX], int max)
{
	int n = 0;
	while (*rest) {
		size_t len = strcspn(rest, "/");
		if (len == 0 || len >= API_SEGMENT_MAX || n == max)
			return -1;
		char raw[API_SEGMENT_MAX];
		memcpy(raw, rest, len);
		raw[len] = '\0';
		size_t out_len = 0;
		char *dec = evhttp_uridecode(raw, 0, &out_len);
		if (!dec || out_len != strlen(dec) || out_len == 0) {
			free(dec);
			return -1;
		}
		snprintf(seg[n++], API_SEGMENT_MAX, "%s", dec);
		free(dec);
		rest += len;
		if (*rest == '/')
			rest++;
	}
	return n;
}

/* True when the segments match a pattern; a path of another shape matches no route. */
static int api_match(const char *pattern, char seg[][API_SEGMENT_MAX], int n)
{
	int i = 0;
	const char *p = pattern;
	while (*p) {
		size_t len = strcspn(p, "/");
		if (i >= n || (!(len == 1 && *p == '*') && (strlen(seg[i]) != len || strncmp(seg[i], p, len) != 0)))
			return 0;
		i++;
		p += len;
		if (*p == '/')
			p++;
	}
	return i == n;
}

/* Sends an answer line (the protocol's answer, without id) with the status of its error. */
static void api_send_answer(struct http_exchange *ex, const char *line, size_t len, const char *cookie)
{
	struct evhttp_request *req = ex->req;
	int status = 200;
	if (len < 11 || strncmp(line, "{\"ok\":true", 10) != 0) {
		cJSON *resp = cJSON_ParseWithLength(line, len);
		cJSON *err = resp ? cJSON_GetObjectItemCaseSensitive(resp, "error") : NULL;
		cJSON *code = err ? cJSON_GetObjectItemCaseSensitive(err, "code") : NULL;
		status = cJSON_IsString(code) ? http_status_of(code->valuestring) : 500;
		if (status == 429 || status == 503) {
			cJSON *after = cJSON_GetObjectItemCaseSensitive(resp, "retry_after");
			char value[24];
			snprintf(value, sizeof value, "%ld", cJSON_IsNumber(after) && after->valuedouble >= 1 ? (long)after->valuedouble : 1L);
			evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", value);
		}
		cJSON_Delete(resp);
	}
	if (cookie)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", cookie);
	http_send_json(req, status, line, len);
}

/* Frees a transient client from its own event, once no callback on the stack can touch it. */
static void api_free_conn(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	free(arg);
}

/* Ends an exchange whose transient client closed: answers it if that never happened (out of
 * memory on the way), then frees both. */
void http_api_conn_closed(struct conn *c)
{
	struct http_exchange *ex = c->http;
	if (ex->req && !ex->answered)
		http_send_error(ex->req, "internal", "The server failed; the error was logged.");
	http_detach(ex->client);
	http_ratings_free(ex->csv);
	free(ex->line);
	free(ex->answer);
	free(ex);
	c->http = NULL;
	if (event_base_once(server.base, -1, EV_TIMEOUT, api_free_conn, c, NULL) < 0)
		log_warn("could not defer freeing an HTTP client"); /* leaked rather than used after free */
}

/* The client closed its connection before the answer: the op goes on and ends quietly. */
void http_api_client_gone(void *arg)
{
	struct http_exchange *ex = arg;
	http_release_orphan(ex->req);
	ex->req = NULL;
	ex->client = NULL;
}

/* Finishes an exchange: its answer was sent or has nobody to go to. */
static void api_finish(struct http_exchange *ex)
{
	ex->answered = 1;
	conn_close(ex->conn, "answered");
}

/* Builds the session cookie (WEB.md): HttpOnly, SameSite=Strict, Path=/, Secure behind TLS. */
static void api_session_cookie(const char *token, long max_age, char *out, size_t len)
{
	snprintf(out, len, SESSION_COOKIE "=%s; Max-Age=%ld; Path=/; HttpOnly; SameSite=Strict%s", token, max_age,
		 server.opt.secure_cookies ? "; Secure" : "");
}

/* Sends a sign-in's answer once its session is stored, with the cookie and the token. */
static void api_on_session_stored(const char *token, const struct sessions_found *found, void *arg)
{
	struct http_exchange *ex = arg;
	(void)found;
	if (!ex->req) {
		api_finish(ex);
		return;
	}
	if (!token) {
		http_send_error(ex->req, "unavailable", "Storage is unreachable; sign in again in a moment.");
		api_finish(ex);
		return;
	}
	/* The answer is hello's, with `session` added for scripts that send Authorization. */
	char *with = malloc(ex->answer_len + SESSION_TOKEN_MAX + 32);
	if (!with) {
		http_send_error(ex->req, "internal", "The server ran out of memory.");
		api_finish(ex);
		return;
	}
	size_t n = (size_t)sprintf(with, "{\"ok\":true,\"session\":\"%s\"", token);
	memcpy(with + n, ex->answer + 10, ex->answer_len - 10); /* after {"ok":true */
	n += ex->answer_len - 10;
	char cookie[256];
	api_session_cookie(token, found && found->role == ROLE_MANAGER ? 12L * 3600 : 30L * 24 * 3600, cookie, sizeof cookie);
	api_send_answer(ex, with, n, cookie);
	free(with);
	api_finish(ex);
}

static void api_dispatch(struct http_exchange *ex);

/* Takes a page of a ratings export: asks for the next page with the same request and the
 * offset it names, or has sent the CSV (or its failure). */
static void api_ratings_page(struct http_exchange *ex, char *line, size_t len)
{
	long next = 0;
	int more = http_ratings_page(ex->req, ex->site, &ex->csv, line, len, &next);
	free(line);
	if (!more) {
		api_finish(ex);
		return;
	}
	cJSON *args = cJSON_Parse(ex->line);
	char *again = NULL;
	if (args) {
		cJSON_DeleteItemFromObjectCaseSensitive(args, "offset");
		cJSON_AddNumberToObject(args, "offset", (double)next);
		again = cJSON_PrintUnformatted(args);
		cJSON_Delete(args);
	}
	if (!again) {
		http_send_error(ex->req, "internal", "The server ran out of memory.");
		api_finish(ex);
		return;
	}
	free(ex->line);
	ex->line = again;
	ex->line_len = strlen(again);
	api_dispatch(ex);
}

/* Takes the one answer of an HTTP request from request.c (line taken) and sends it. */
void http_api_answer(struct request *r, char *line, size_t len)
{
	struct conn *c = r->conn;
	struct http_exchange *ex = c->http;
	request_drop(r);
	if (ex->kind == EXCHANGE_RATINGS_CSV && ex->req && strncmp(line, "{\"ok\":true", 10) == 0) {
		api_ratings_page(ex, line, len);
		return;
	}
	if (ex->kind == EXCHANGE_SIGN_IN && ex->req && strncmp(line, "{\"ok\":true", 10) == 0 && c->role != ROLE_PUBLIC) {
		ex->answer = line;
		ex->answer_len = len;
		if (sessions_create(c->region_user ? NULL : c->site, c->role, c->user, api_on_session_stored, ex) == 0)
			return;
		http_send_error(ex->req, "unavailable", "Storage is unreachable; sign in again in a moment.");
		api_finish(ex);
		return;
	}
	if (ex->req)
		api_send_answer(ex, line, len, NULL);
	free(line);
	api_finish(ex);
}

/* The session token of a request: the cookie, or Authorization: Bearer; NULL for none
 * (or one not of our shape). */
const char *http_api_session_token(struct evhttp_request *req, char *out, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *auth = evhttp_find_header(h, "Authorization");
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
		snprintf(out, len, "%s", auth + 7);
		return sessions_token_valid(out) ? out : NULL;
	}
	const char *cookies = evhttp_find_header(h, "Cookie");
	for (const char *p = cookies; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		size_t n = strcspn(p, ";");
		if (n > sizeof SESSION_COOKIE && strncmp(p, SESSION_COOKIE "=", sizeof SESSION_COOKIE) == 0) {
			snprintf(out, len, "%.*s", (int)(n - sizeof SESSION_COOKIE), p + sizeof SESSION_COOKIE);
			return sessions_token_valid(out) ? out : NULL;
		}
		p += n;
	}
	return NULL;
}

/* Runs the exchange's request through the op table with the role found. */
static void api_dispatch(struct http_exchange *ex)
{
	struct request *r = request_create(ex->conn);
	if (!r) {
		conn_close(ex->conn, "out of memory");
		return;
	}
	optable_dispatch(r, ex->line, ex->line_len);
}

/* The first site of a region manager's scope (a path naming no site, such as /region, acts
 * there as the manager's hello did), or NULL. */
static struct site *api_first_site_of(const struct config_region_user *u)
{
	for (size_t i = 0; u && i < sites_count(); i++)
		if (config_region_user_may(u, sites_at(i)->cfg->site.id))
			return sites_at(i);
	return NULL;
}

/* Gives the transient client the role of its session, then runs the request. */
static void api_on_session(const char *token, const struct sessions_found *found, void *arg)
{
	struct http_exchange *ex = arg;
	(void)token;
	if (!found) {
		if (ex->req)
			http_send_error(ex->req, "unavailable", "Storage is unreachable; retry later.");
		api_finish(ex);
		return;
	}
	if (found->elsewhere && ex->req && ex->op && !(ex->op->roles & ROLE_BIT(ROLE_PUBLIC))) {
		/* Signed in, but at another site (or out of a region manager's scope): as NDJSON
		 * answers a connection that names a site not its own. */
		http_send_error(ex->req, "forbidden", "This session belongs to another site; sign in at this one.");
		api_finish(ex);
		return;
	}
	conn_set_role(ex->conn, found->role);
	snprintf(ex->conn->user, sizeof ex->conn->user, "%s", found->user);
	if (found->role != ROLE_PUBLIC) { /* signed in where the URL names (sessions.c checked) */
		ex->conn->site = ex->site ? ex->site : api_first_site_of(found->region_user);
		ex->conn->region_user = found->region_user;
	}
	if (!ex->req) {
		api_finish(ex); /* nobody waits: run nothing */
		return;
	}
	api_dispatch(ex);
}

/* Reads the request body as a JSON object into *args (a new empty one without a body); -1
 * after answering 415, 400 or 413. */
static int api_body(struct evhttp_request *req, cJSON **args)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	if (len == 0) {
		*args = cJSON_CreateObject();
		return 0;
	}
	if (len > HTTP_MAX_BODY) {
		http_send_error(req, "too_long", "The body is longer than 64 KiB.");
		return -1;
	}
	const char *type = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	size_t tlen = type ? strcspn(type, "; ") : 0;
	if (!type || tlen != 16 || strncasecmp(type, "application/json", 16) != 0) {
		static const char unsupported[] = "{\"ok\":false,\"error\":{\"code\":\"bad_request\",\"message\":"
						   "\"A request with a body must say Content-Type: application/json.\"}}";
		metrics_http_error("bad_request");
		http_send_json(req, 415, unsupported, sizeof unsupported - 1);
		return -1;
	}
	char *body = malloc(len + 1);
	if (!body) {
		http_send_error(req, "internal", "The server ran out of memory.");
		return -1;
	}
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	if (memchr(body, '\0', len) || !utf8_valid(body, len)) {
		free(body);
		http_send_error(req, "bad_json", "The body is not valid UTF-8 JSON.");
		return -1;
	}
	const char *end = NULL;
	*args = cJSON_ParseWithLengthOpts(body, len + 1, &end, 1);
	free(body);
	if (!*args || !cJSON_IsObject(*args)) {
		cJSON_Delete(*args);
		*args = NULL;
		http_send_error(req, "bad_json", "The body must be one JSON object.");
		return -1;
	}
	return 0;
}

/* Sets args[name] to a string, replacing what the body said: the path has the last word. */
static void api_set(cJSON *args, const char *name, const char *value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(args, name);
	cJSON_AddStringToObject(args, name, value);
}

/* Answers GET /api/v1/sites: the sites this server serves, as the `sites` op lists them
 * (with parent, level and open). */
static void api_sites(struct evhttp_request *req)
{
	cJSON *resp = cJSON_CreateObject();
	cJSON_AddTrueToObject(resp, "ok");
	cJSON_AddItemToObject(resp, "sites", region_sites_list());
	char *text = cJSON_PrintUnformatted(resp);
	cJSON_Delete(resp);
	if (text)
		http_send_json(req, 200, text, strlen(text));
	else
		http_send_error(req, "internal", "The server ran out of memory.");
	free(text);
}

/* Ends a session: DELETE /api/v1/session (a clerk's window is left as it is). */
static void api_sign_out(struct evhttp_request *req)
{
	char token[SESSION_TOKEN_MAX];
	if (http_api_session_token(req, token, sizeof token))
		sessions_delete(token);
	char cookie[256];
	api_session_cookie("", 0, cookie, sizeof cookie);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", cookie);
	http_send_json(req, 200, "{\"ok\":true}", 11);
}

/* Finds the route of a request and fills args with its op and arguments; returns the site
 * segment (NULL when none) or answers and returns "" when no route matches. */
static const char *api_route(struct evhttp_request *req, char seg[][API_SEGMENT_MAX], int n, cJSON *args)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	if (method == EVHTTP_REQ_HEAD)
		method = EVHTTP_REQ_GET;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct route *rt = &routes[i];
		if (rt->method != method || !api_match(rt->pattern, seg, n))
			continue;
		api_set(args, "op", rt->op ? rt->op : seg[n - 1]);
		int starred = 0;
		for (const char *p = rt->pattern; *p; p++)
			if (*p == '*' && starred++ > 0 && rt->segment_args[starred - 2])
				api_set(args, rt->segment_args[starred - 2], seg[2 * (starred - 1) + 1]);
		struct evkeyvalq query;
		const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
		TAILQ_INIT(&query);
		if (q && evhttp_parse_query_str(q, &query) < 0) {
			http_send_error(req, "bad_request", "The query string is malformed.");
			return "";
		}
		for (int a = 0; a < 4 && rt->query_args[a]; a++) {
			const char *v = evhttp_find_header(&query, rt->query_args[a]);
			if (v)
				api_set(args, strcmp(rt->query_args[a], "k") == 0 ? "secret" : rt->query_args[a], v);
		}
		evhttp_clear_headers(&query);
		return strcmp(seg[0], "sites") == 0 ? seg[1] : NULL;
	}
	http_send_error(req, "not_found", "There is no such API path or method.");
	return "";
}

/* Starts an exchange for a parsed request: the transient client, the session's role, then
 * the op table. */
static void api_start(struct evhttp_request *req, cJSON *args, enum exchange_kind kind)
{
	struct http_exchange *ex = calloc(1, sizeof *ex);
	char addr[CONN_ADDR_MAX], peer[CONN_ADDR_MAX + 8];
	http_peer_address(req, addr, sizeof addr);
	/* As a socket's peer, with a port, so the sign-in budgets read its address alike. */
	snprintf(peer, sizeof peer, strchr(addr, ':') ? "[%s]:0" : "%s:0", addr);
	cJSON_DeleteItemFromObjectCaseSensitive(args, "id"); /* the answer carries no id */
	char *line = cJSON_PrintUnformatted(args);
	struct conn *c = ex && line ? conn_create_transient(peer, ex) : NULL;
	if (!c) {
		free(ex);
		free(line);
		http_send_error(req, "internal", "The server ran out of memory.");
		return;
	}
	ex->req = req;
	ex->conn = c;
	ex->kind = kind;
	ex->line = line;
	ex->line_len = strlen(line);
	ex->client = http_attach(req, http_api_client_gone, ex);
	char token[SESSION_TOKEN_MAX];
	cJSON *site = cJSON_GetObjectItemCaseSensitive(args, "site");
	/* A path naming no site (/region) is at the hall of a one-hall server. */
	ex->site = cJSON_IsString(site) ? http_api_site(site->valuestring) : sites_sole();
	cJSON *op = cJSON_GetObjectItemCaseSensitive(args, "op");
	ex->op = cJSON_IsString(op) ? optable_find(op->valuestring) : NULL;
	if (kind != EXCHANGE_SIGN_IN && http_api_session_token(req, token, sizeof token)) {
		if (sessions_lookup(ex->site, token, api_on_session, ex) < 0) {
			http_send_error(req, "unavailable", "Storage is unreachable; retry later.");
			api_finish(ex);
		}
		return;
	}
	api_dispatch(ex);
}

/* Serves one request under /api/. */
void http_api_handle(struct evhttp_request *req, const char *path)
{
	char seg[API_MAX_SEGMENTS][API_SEGMENT_MAX];
	int n = strncmp(path, API_PREFIX, sizeof API_PREFIX - 1) == 0 ? api_split(path + sizeof API_PREFIX - 1, seg, API_MAX_SEGMENTS) : -1;
	if (n <= 0) {
		http_send_error(req, "not_found", "There is no such API path.");
		return;
	}
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	if (n == 1 && strcmp(seg[0], "session") == 0 && method == EVHTTP_REQ_DELETE) {
		api_sign_out(req);
		return;
	}
	if (n == 1 && strcmp(seg[0], "sites") == 0 && (method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD)) {
		api_sites(req);
		return;
	}
	cJSON *args;
	if (api_body(req, &args) < 0)
		return;
	if (n == 1 && strcmp(seg[0], "session") == 0 && method == EVHTTP_REQ_POST) {
		/* Sign in: the body is a hello naming its site. */
		cJSON *site = cJSON_GetObjectItemCaseSensitive(args, "site");
		cJSON *role = cJSON_GetObjectItemCaseSensitive(args, "role");
		if (!cJSON_IsString(site) || !http_api_site(site->valuestring)) {
			cJSON_Delete(args);
			http_send_error(req, "not_found", "site must name a site this server serves.");
			return;
		}
		if (cJSON_IsString(role) && strcmp(role->valuestring, "clerk") == 0) {
			cJSON_Delete(args);
			http_send_error(req, "bad_request", "Clerks sign in at the counter console, which holds the window.");
			return;
		}
		api_set(args, "op", "hello");
		api_start(req, args, EXCHANGE_SIGN_IN);
		cJSON_Delete(args);
		return;
	}
	if (n == 3 && strcmp(seg[0], "sites") == 0 && strcmp(seg[2], "ratings.csv") == 0 && method != EVHTTP_REQ_POST) {
		/* a manager's CSV export of ratings (http_ratings.c), answered over several pages */
		if (!http_api_site(seg[1])) {
			http_send_error(req, "not_found", "There is no such site here.");
		} else if (http_ratings_args(req, args) == 0) { /* or it answered */
			api_set(args, "site", seg[1]);
			api_start(req, args, EXCHANGE_RATINGS_CSV);
		}
		cJSON_Delete(args);
		return;
	}
	const char *site = api_route(req, seg, n, args);
	if (site && !*site) {
		cJSON_Delete(args);
		return;
	}
	if (site) {
		if (!http_api_site(site)) {
			cJSON_Delete(args);
			http_send_error(req, "not_found", "There is no such site here.");
			return;
		}
		api_set(args, "site", site);
	}
	cJSON *op = cJSON_GetObjectItemCaseSensitive(args, "op");
	if (cJSON_IsString(op) && strcmp(op->valuestring, "hello") == 0) {
		cJSON_Delete(args);
		http_send_error(req, "bad_request", "Sign in with POST /api/v1/session.");
		return;
	}
	api_start(req, args, EXCHANGE_OP);
	cJSON_Delete(args);
}
