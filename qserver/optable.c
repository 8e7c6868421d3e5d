/* The op table (DESIGN decision 7): who may call each op, and the checks every request
 * passes before its handler runs. */
#include "qserver.h"
#include "log.h"
#include "utf8.h"

#include <math.h>
#include <string.h>

#define PUB ROLES_ANY
#define CLERK_MGR (ROLE_BIT(ROLE_CLERK) | ROLE_BIT(ROLE_MANAGER))
#define NOT_CLERK (ROLES_ANY & ~ROLE_BIT(ROLE_CLERK))
/* A rating pad may only ping, hello (to be told it already did), subscribe and rate. */
#define PAD ROLE_BIT(ROLE_PAD)
#define MANAGER ROLE_BIT(ROLE_MANAGER)

static const struct op op_table[] = {
	{"ping", PUB | PAD, 0, op_ping, 1},
	{"hello", PUB | PAD, 0, op_hello, 0},
	{"site", PUB, 0, op_site, 0},
	{"services", PUB, 0, op_services, 0},
	{"ticket", PUB, 0, op_ticket, 0},
	{"snapshot", PUB, 0, op_snapshot, 0},
	{"subscribe", PUB | PAD, 0, op_subscribe, 0},
	/* The public may take (channel web, remote_take), and cancel and rate with the ticket's
	 * secret: the handlers check. */
	{"take", NOT_CLERK, 0, op_take, 0},
	{"cancel", NOT_CLERK, 0, op_cancel, 0},
	{"rate", NOT_CLERK | PAD, 0, op_rate, 0},
	{"call_next", CLERK_MGR, 1, op_call_next, 0},
	{"call", CLERK_MGR, 1, op_call, 0},
	{"recall", CLERK_MGR, 1, op_recall, 0},
	{"start", CLERK_MGR, 1, op_start, 0},
	{"finish", CLERK_MGR, 1, op_finish, 0},
	{"no_show", CLERK_MGR, 1, op_no_show, 0},
	{"transfer", CLERK_MGR, 1, op_transfer, 0},
	{"pause", CLERK_MGR, 1, op_pause, 0},
	{"resume", CLERK_MGR, 1, op_resume, 0},
	{"close", CLERK_MGR, 1, op_close, 0},
	{"queue", CLERK_MGR, 0, op_queue, 0},
	{"stats", CLERK_MGR, 0, op_stats, 0},
	{"sites", PUB, 0, op_sites, 1},
	{"region", ROLE_BIT(ROLE_MANAGER), 0, op_region, 0},
	{"clock", PUB, 0, op_clock, 1},
	{"ratings", MANAGER, 0, op_ratings, 0},
	{"resolve_rating", MANAGER, 0, op_resolve_rating, 0},
};

/* Returns the op of that name, or NULL. */
const struct op *optable_find(const char *name)
{
	for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++)
		if (strcmp(op_table[i].name, name) == 0)
			return &op_table[i];
	return NULL;
}

/* True when a string in the line holds the escape \u0000: C strings would end there, so a
 * request "A\u0000B" would silently become "A". */
static int optable_has_escaped_nul(const char *line, size_t len)
{
	for (const char *p = line; (p = memmem(p, len - (size_t)(p - line), "\\u0000", 6)) != NULL; p += 6) {
		size_t backslashes = 0;
		for (const char *q = p; q > line && q[-1] == '\\'; q--)
			backslashes++;
		if (backslashes % 2 == 0) /* "\\u0000" is a backslash and the text u0000 */
			return 1;
	}
	return 0;
}

/* Keeps the request's id if it is an integer or a short string; -1 after answering when not. */
static int optable_take_id(struct request *r)
{
	cJSON *id = cJSON_GetObjectItemCaseSensitive(r->args, "id");
	if (!id || cJSON_IsNull(id))
		return 0;
	int ok_number = cJSON_IsNumber(id) && isfinite(id->valuedouble) &&
			floor(id->valuedouble) == id->valuedouble && fabs(id->valuedouble) < 9007199254740992.0;
	int ok_string = cJSON_IsString(id) && strlen(id->valuestring) <= 128;
	if (!ok_number && !ok_string) {
		request_reply_error(r, "bad_request", "id", "id must be an integer or a string of at most 128 bytes.");
		return -1;
	}
	r->id = cJSON_Duplicate(id, 0);
	return 0;
}

/* Resolves the site a request acts on: the one it names, else the connection's (hello's, or
 * the only one served). A signed-in kiosk, clerk or manager acts only at its own site. */
static int optable_resolve_site(struct request *r)
{
	struct conn *c = r->conn;
	const char *id;
	if (args_string(r, "site", 0, CONFIG_ID_MAX - 1, &id) < 0)
		return -1;
	if (!id) {
		r->site = c->site;
		if (!r->site) {
			request_reply_error(r, "bad_request", "site", "This server serves %zu sites: name one in site (the sites op lists them).", sites_count());
			return -1;
		}
		return 0;
	}
	r->site = sites_find(id);
	if (!r->site) {
		request_reply_error(r, "not_found", "site", "There is no site \"%s\".", id);
		return -1;
	}
	if (c->role == ROLE_MANAGER && c->region_user && config_region_user_may(c->region_user, id))
		return 0; /* a region manager acts as manager at any site of its scope */
	if (c->role != ROLE_PUBLIC && c->site && r->site != c->site) {
		request_reply_error(r, "forbidden", "site", "This connection signed in at site %s; it may not act at %s.", c->site->cfg->site.id, id);
		return -1;
	}
	return 0;
}

/* Resolves the window a window op acts on: a clerk's own, or the one a manager names. */
static int optable_resolve_window(struct request *r)
{
	struct conn *c = r->conn;
	long window = 0;
	if (c->role == ROLE_CLERK && r->op->handler == op_transfer) {
		/* A clerk's transfer names in `window` the window to send the ticket to. */
		r->window = c->window;
		return 0;
	}
	if (args_int(r, "window", c->role == ROLE_MANAGER, 1, 9999, &window) < 0)
		return -1;
	if (c->role == ROLE_CLERK) {
		if (window && window != c->window) {
			request_reply_error(r, "forbidden", "window", "A clerk may act only on the window of the session (window %d).", c->window);
			return -1;
		}
		window = c->window;
	} else if (!config_window(r->site->cfg, (int)window)) {
		request_reply_error(r, "not_found", "window", "There is no window %ld.", window);
		return -1;
	}
	r->window = (int)window;
	return 0;
}

/* Parses one request line, checks it, and runs its handler; every failure is answered. */
void optable_dispatch(struct request *r, const char *line, size_t len)
{
	if (memchr(line, '\0', len)) {
		request_reply_error(r, "bad_json", NULL, "The line contains a NUL byte.");
		return;
	}
	if (!utf8_valid(line, len)) {
		request_reply_error(r, "bad_json", NULL, "The line is not valid UTF-8.");
		return;
	}
	const char *end = NULL;
	/* len + 1 takes in the NUL so that trailing text after the object is refused. */
	r->args = cJSON_ParseWithLengthOpts(line, len + 1, &end, 1);
	if (!r->args) {
		const char *at = cJSON_GetErrorPtr();
		size_t offset = at && at >= line && at <= line + len ? (size_t)(at - line) : 0;
		request_reply_error(r, "bad_json", NULL, "The line is not valid JSON (near byte %zu).", offset);
		return;
	}
	if (!cJSON_IsObject(r->args)) {
		request_reply_error(r, "bad_json", NULL, "A request must be a JSON object.");
		return;
	}
	if (optable_take_id(r) < 0)
		return;
	/* Counted once the id is known, so that the refusal carries it like any answer. */
	if (!conn_rate_allow(r->conn)) {
		request_reply_rate_limited(r, 1, "Too many requests on this connection; slow down and retry.");
		return;
	}
	if (optable_has_escaped_nul(line, len)) {
		request_reply_error(r, "bad_request", NULL, "Strings must not contain \\u0000.");
		return;
	}
	cJSON *opname = cJSON_GetObjectItemCaseSensitive(r->args, "op");
	if (!opname || !cJSON_IsString(opname)) {
		request_reply_error(r, "bad_request", "op", "op is required and must be a string.");
		return;
	}
	const struct op *op = optable_find(opname->valuestring);
	if (!op || (op->handler == op_clock && !server.opt.test_clock)) {
		request_reply_error(r, "unknown_op", "op", "There is no op \"%.64s\".", opname->valuestring);
		return;
	}
	r->op = op;
	if (!admission_request_allowed(r))
		return;
	struct conn *c = r->conn;
	if (!(op->roles & ROLE_BIT(c->role))) {
		if (c->role == ROLE_PUBLIC)
			request_reply_error(r, "unauthenticated", NULL, "%s needs a hello with a role first.", op->name);
		else
			request_reply_error(r, "forbidden", NULL, "The %s role may not use %s.", config_role_name(c->role), op->name);
		return;
	}
	if (!op->siteless && optable_resolve_site(r) < 0)
		return;
	if (op->window_op && optable_resolve_window(r) < 0)
		return;
	op->handler(r);
}

/* How many ops the table has (metrics.c keeps a row of counters for each). */
size_t optable_count(void)
{
	return sizeof op_table / sizeof op_table[0];
}

/* The i-th op of the table, or NULL past its end. */
const struct op *optable_at(size_t i)
{
	return i < optable_count() ? &op_table[i] : NULL;
}
