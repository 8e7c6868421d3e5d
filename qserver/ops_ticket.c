/* Ticket ops: take, ticket, cancel, rate, queue. */
#include "qserver.h"
#include "log.h"
#include "utf8.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICKET_SECRET_BYTES 12 /* 96 random bits, 16 URL-safe characters */
#define TICKET_SECRET_MAX 64
#define TICKET_ID_MAX 128 /* "YYYYMMDD-A012" and longer prefixes */

#define PUBLIC_TAKE_LOCK_S 3600 /* past a limit, the address or ref waits an hour */
#define PUBLIC_TAKE_SLOTS 4096

static struct budget *takes_by_addr, *takes_by_ref; /* remote takes by the public */

/* A budget of at most limit remote takes an hour per key. */
static struct budget *ticket_take_budget(int limit)
{
	const struct budget_policy policy = {limit, PUBLIC_TAKE_LOCK_S, PUBLIC_TAKE_LOCK_S, PUBLIC_TAKE_LOCK_S, 0};
	return budget_new(&policy, PUBLIC_TAKE_SLOTS);
}

/* Whether the public may make one more remote take (kind 't') or booking ('b') from this
 * address and for this ref (WEB.md: public POSTs are limited per address and per ref,
 * --web-takes-per-addr and --web-takes-per-ref an hour, each kind on its own); answers
 * rate_limited when not, and counts it when so. */
int ticket_public_post_allowed(struct request *r, const char *ref, char kind)
{
	if (!takes_by_addr)
		takes_by_addr = ticket_take_budget(server.opt.web_takes_per_addr);
	if (!takes_by_ref)
		takes_by_ref = ticket_take_budget(server.opt.web_takes_per_ref);
	if (!takes_by_addr || !takes_by_ref) {
		request_reply_error(r, "internal", NULL, "The server ran out of memory.");
		return 0;
	}
	/* Bookings count apart from takes: keys "b:<address>", "b:<ref>". */
	char by_addr[CONN_ADDR_MAX + 3], by_ref[301];
	snprintf(by_addr, sizeof by_addr, "%s%s", kind == 't' ? "" : "b:", r->conn->addr);
	snprintf(by_ref, sizeof by_ref, "%s%s", kind == 't' ? "" : "b:", ref ? ref : "");
	time_t now = clock_now();
	long wait = budget_wait(takes_by_addr, by_addr, now);
	long wait_ref = ref && *ref ? budget_wait(takes_by_ref, by_ref, now) : 0;
	if (wait_ref > wait)
		wait = wait_ref;
	if (wait > 0) {
		request_reply_rate_limited(r, wait, "Too many %s from here or for this phone; try again in %ld min.",
					   kind == 't' ? "tickets taken" : "appointments booked", (wait + 59) / 60);
		return 0;
	}
	budget_charge(takes_by_addr, by_addr, now, 1);
	if (ref && *ref)
		budget_charge(takes_by_ref, by_ref, now, 1);
	return 1;
}

/* Frees the public take limits (at shutdown). */
void ticket_stop(void)
{
	budget_free(takes_by_addr);
	budget_free(takes_by_ref);
	takes_by_addr = takes_by_ref = NULL;
}

/* Checks a ticket class name. */
static int ticket_class_valid(const char *cls)
{
	return strcmp(cls, "normal") == 0 || strcmp(cls, "priority") == 0 || strcmp(cls, "appointment") == 0;
}

/* Reads the ticket id of a result that starts as eventbuild.c writes it, {"ticket":{"id":"…",
 * (the members the parsed result would give first); -1 for any other form, left to the parser. */
static int ticket_result_id(const char *json, char id[TICKET_ID_MAX])
{
	static const char head[] = "{\"ticket\":{\"id\":\"";
	if (strncmp(json, head, sizeof head - 1) != 0)
		return -1;
	const char *start = json + sizeof head - 1;
	size_t n = strcspn(start, "\"\\");
	if (n == 0 || n >= TICKET_ID_MAX || start[n] != '"')
		return -1;
	memcpy(id, start, n);
	id[n] = '\0';
	return 0;
}

/* A take's result (JSON) with the ticket's secret and, when the site has public_url, the
 * address of its status page (PROTOCOL.md v2): only this reply ever carries the secret.
 * The two fields are spliced in before the result's closing brace, where adding them to the
 * parsed result would print them, so the result is not printed a second time.
 * Returns a new string, or NULL when the result is malformed. */
char *ticket_result_with_secret(const struct request *r, const char *json)
{
	char id[TICKET_ID_MAX];
	cJSON *res = NULL;
	if (ticket_result_id(json, id) < 0) {
		res = cJSON_Parse(json);
		cJSON *item = res ? cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "ticket"), "id") : NULL;
		if (cJSON_IsString(item) && strlen(item->valuestring) < sizeof id)
			strcpy(id, item->valuestring);
		else
			id[0] = '\0';
	}
	char *out = NULL;
	size_t len = strlen(json);
	while (len && json[len - 1] != '}')
		len--;
	if (id[0] && len >= 2) {
		cJSON *added = cJSON_CreateObject();
		cJSON_AddStringToObject(added, "secret", r->secret);
		const char *public_url = r->site->cfg->site.public_url;
		if (public_url) {
			char url[1024];
			/* A region's ticket ids repeat across its sites: the page learns the site
			 * from the address (a one-hall server's needs none). */
			int n = snprintf(url, sizeof url, "%s/t/%s?k=%s", public_url, id, r->secret);
			if (sites_count() > 1 && n > 0 && (size_t)n < sizeof url)
				snprintf(url + n, sizeof url - (size_t)n, "&site=%s", r->site->cfg->site.id);
			cJSON_AddStringToObject(added, "status_url", url);
		}
		char *fields = cJSON_PrintUnformatted(added); /* {"secret":…}: its fields follow the result's */
		cJSON_Delete(added);
		size_t flen = fields ? strlen(fields) : 0;
		int empty = len == 2; /* "{}": no comma before the fields */
		out = fields ? malloc(len + flen) : NULL;
		if (out) {
			memcpy(out, json, len - 1);
			size_t n = len - 1;
			if (!empty)
				out[n++] = ',';
			memcpy(out + n, fields + 1, flen); /* from after its '{', with its '}' and NUL */
		}
		free(fields);
	}
	cJSON_Delete(res);
	return out;
}

/* Reads the optional `secret` of a ticket; -1 after answering when it cannot be one. */
static int ticket_secret_arg(struct request *r, const char **secret)
{
	if (args_string(r, "secret", 0, TICKET_SECRET_MAX - 1, secret) < 0)
		return -1;
	if (*secret && !sessions_token_shape(*secret)) {
		request_reply_error(r, "unauthenticated", "secret", "The ticket secret is wrong.");
		return -1;
	}
	return 0;
}

/* Whether the caller may act on a ticket: any role that may use the op, or the public with
 * the ticket's secret (checked by the function); answers when not. */
static int ticket_public_needs_secret(struct request *r, const char *secret)
{
	if (r->conn->role != ROLE_PUBLIC || (secret && *secret))
		return 1;
	request_reply_error(r, "unauthenticated", NULL, "%s needs a hello with a role, or the ticket's secret.", r->op->name);
	return 0;
}

/* Issues a ticket for a service, while the hall is open. */
void op_take(struct request *r)
{
	const char *service, *cls, *channel, *ref;
	if (args_string(r, "service", 1, CONFIG_ID_MAX - 1, &service) < 0 ||
	    args_string(r, "class", 0, 16, &cls) < 0 ||
	    args_string(r, "channel", 0, 32, &channel) < 0 ||
	    args_string(r, "ref", 0, 256, &ref) < 0)
		return;
	if (r->conn->role == ROLE_PUBLIC &&
	    (!r->site->cfg->site.remote_take || !channel || strcmp(channel, "web") != 0)) {
		request_reply_error(r, "unauthenticated", NULL, r->site->cfg->site.remote_take
			? "The public takes tickets with channel web; other takes need a kiosk or manager hello."
			: "take needs a hello with a role first.");
		return;
	}
	if (!config_service(r->site->cfg, service)) {
		request_reply_error(r, "not_found", "service", "There is no service \"%s\".", service);
		return;
	}
	if (cls && !ticket_class_valid(cls)) {
		request_reply_error(r, "bad_request", "class", "class must be normal, priority or appointment.");
		return;
	}
	if (ref && utf8_length(ref) > 64) {
		request_reply_error(r, "bad_request", "ref", "ref must be at most 64 characters.");
		return;
	}
	char notify_ahead[NOTIFY_ARG_MAX], notify_ewt[NOTIFY_ARG_MAX];
	if (notify_arg(r, 0, notify_ahead, notify_ewt) < 0)
		return;
	time_t now = clock_now();
	if (!sitetime_hall_open(&r->site->cfg->site, now)) {
		request_reply_closed(r, sitetime_next_open(&r->site->cfg->site, now));
		return;
	}
	if (r->conn->role == ROLE_PUBLIC && !ticket_public_post_allowed(r, ref, 't'))
		return;
	char secret[TICKET_SECRET_MAX];
	if (sessions_random_token(TICKET_SECRET_BYTES, secret, sizeof secret) < 0 || !(r->secret = strdup(secret))) {
		request_reply_error(r, "internal", NULL, "The server could not make the ticket's secret.");
		return;
	}
	const char *argv[] = {service, cls ? cls : "normal", channel && *channel ? channel : "kiosk", ref ? ref : "", r->secret,
			      notify_ahead, notify_ewt};
	store_request_fcall(r, "qh_take", 0, 7, argv);
}

/* Reads which ticket a request means. PROTOCOL.md names it `id`, which is also the request
 * id: a string `id` is the ticket's id (and is echoed as usual); a client that numbers its
 * requests names the ticket in `ticket` (an id or today's number) instead. */
static int ticket_ref_arg(struct request *r, const char **ref)
{
	if (args_string(r, "ticket", 0, 64, ref) < 0)
		return -1;
	if (*ref && **ref)
		return 0;
	cJSON *id = cJSON_GetObjectItemCaseSensitive(r->args, "id");
	if (cJSON_IsString(id) && id->valuestring[0] && strlen(id->valuestring) <= 64) {
		*ref = id->valuestring;
		return 0;
	}
	request_reply_error(r, "bad_request", "id", "Name the ticket: id as a string such as \"20261128-A012\", or ticket (an id or today's number).");
	return -1;
}

/* Looks a ticket up by id, or by today's number. */
void op_ticket(struct request *r)
{
	const char *number, *ref, *secret;
	if (args_string(r, "number", 0, 16, &number) < 0 || ticket_secret_arg(r, &secret) < 0)
		return;
	if (number && *number) {
		const char *argv[] = {"", number, secret ? secret : ""};
		store_request_fcall(r, "qh_ticket", 1, 3, argv);
		return;
	}
	if (ticket_ref_arg(r, &ref) < 0)
		return;
	/* A `ticket` reference may be an id (it has a dash) or a number. */
	int is_id = strchr(ref, '-') != NULL;
	const char *argv[] = {is_id ? ref : "", is_id ? "" : ref, secret ? secret : ""};
	store_request_fcall(r, "qh_ticket", 1, 3, argv);
}

/* Takes one cancel from the connection's bucket (CANCEL_BURST, then one per CANCEL_EVERY_S on
 * the server's clock); returns 0, or the seconds until the next one is allowed. Managers are
 * not limited: they answer for the hall. */
static long ticket_cancel_wait(struct conn *c)
{
	if (c->role == ROLE_MANAGER)
		return 0;
	time_t now = clock_now();
	if (!c->cancel_at || now < c->cancel_at) {
		c->cancel_tokens = CANCEL_BURST;
		c->cancel_at = now;
	}
	long refilled = (long)(now - c->cancel_at) / CANCEL_EVERY_S;
	if (refilled > 0) {
		c->cancel_tokens = c->cancel_tokens + refilled > CANCEL_BURST ? CANCEL_BURST : c->cancel_tokens + (int)refilled;
		c->cancel_at += (time_t)refilled * CANCEL_EVERY_S;
	}
	if (c->cancel_tokens == 0)
		return (long)(c->cancel_at + CANCEL_EVERY_S - now);
	if (c->cancel_tokens == CANCEL_BURST)
		c->cancel_at = now; /* a full bucket starts its refill from the first cancel */
	c->cancel_tokens--;
	return 0;
}

/* Cancels a waiting ticket; a kiosk may cancel only a few in a row, so that nobody can walk
 * the sequential numbers and cancel a whole queue. */
void op_cancel(struct request *r)
{
	const char *ref, *secret;
	if (ticket_secret_arg(r, &secret) < 0 || !ticket_public_needs_secret(r, secret) || ticket_ref_arg(r, &ref) < 0)
		return;
	long wait = ticket_cancel_wait(r->conn);
	if (wait > 0) {
		request_reply_rate_limited(r, wait, "Too many cancels on this connection; wait %ld s.", wait);
		return;
	}
	const char *argv[] = {ref, secret ? secret : ""};
	store_request_fcall(r, "qh_cancel", 0, 2, argv);
}

/* Records a rating (score and optional comment) of a ticket done or a no-show, once: by the
 * citizen with its secret, a kiosk or manager, or a rating pad for a ticket just finished at
 * its window (ops_ratings.c). */
void op_rate(struct request *r)
{
	const char *ref, *secret, *comment;
	long score = 0;
	if (ticket_secret_arg(r, &secret) < 0 || !ticket_public_needs_secret(r, secret) ||
	    ticket_ref_arg(r, &ref) < 0 || args_int(r, "score", 1, 1, 5, &score) < 0 || ratings_comment_arg(r, &comment) < 0)
		return;
	char score_s[4], due[11], pad_s[16] = "";
	snprintf(score_s, sizeof score_s, "%ld", score);
	ratings_due(r->site, due);
	int pad = ratings_pad_window(r);
	if (pad)
		snprintf(pad_s, sizeof pad_s, "%d", pad);
	const char *source = pad ? "pad" : r->conn->role == ROLE_PUBLIC ? "citizen" : config_role_name(r->conn->role);
	const char *argv[] = {ref, score_s, secret ? secret : "", comment, due, pad_s, source};
	store_request_fcall(r, "qh_rate", 0, 7, argv);
}

/* Lists waiting tickets in call order: a clerk's window's, or for a manager the hall's or a
 * named window's. */
void op_queue(struct request *r)
{
	const char *service;
	long limit = 100, window = 0;
	if (args_string(r, "service", 0, CONFIG_ID_MAX - 1, &service) < 0 ||
	    args_int(r, "limit", 0, 1, 1000, &limit) < 0 ||
	    args_int(r, "window", 0, 1, 9999, &window) < 0)
		return;
	struct conn *c = r->conn;
	if (c->role == ROLE_CLERK) {
		if (window && window != c->window) {
			request_reply_error(r, "forbidden", "window", "A clerk sees only the queue of window %d.", c->window);
			return;
		}
		window = c->window;
	} else if (window && !config_window(r->site->cfg, (int)window)) {
		request_reply_error(r, "not_found", "window", "There is no window %ld.", window);
		return;
	}
	if (service && *service) {
		if (!config_service(r->site->cfg, service)) {
			request_reply_error(r, "not_found", "service", "There is no service \"%s\".", service);
			return;
		}
		if (window && !config_window_serves(config_window(r->site->cfg, (int)window), service)) {
			request_reply_error(r, c->role == ROLE_CLERK ? "forbidden" : "bad_request", "service",
					    "Window %ld does not serve service %s.", window, service);
			return;
		}
	}
	char win[16] = "", lim[8];
	if (window)
		snprintf(win, sizeof win, "%ld", window);
	snprintf(lim, sizeof lim, "%ld", limit);
	const char *argv[] = {win, service ? service : "", lim};
	store_request_fcall(r, "qh_queue", 1, 3, argv);
}
