/* "Your turn is near" notifications: the notify argument of take and the notify op, by which
 * the holder of a waiting ticket's secret asks for them after the take (PROTOCOL.md v2,
 * docs/notifications.md). The deliveries themselves are notify.c's. */
#include "qserver.h"
#include "utf8.h"

#include <stdio.h>
#include <string.h>

#define NOTIFY_AHEAD_MAX 999  /* as the library's notify.AHEAD_MAX */
#define NOTIFY_EWT_MAX 86400  /* as the library's notify.EWT_MAX */

/* Reads one mark of a notify object into out ("" when absent); -1 after answering. */
static int notify_mark(struct request *r, const cJSON *n, const char *key, long max, char out[NOTIFY_ARG_MAX])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(n, key);
	out[0] = '\0';
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long)v->valuedouble || v->valuedouble < 0 ||
	    v->valuedouble > (double)max) {
		request_reply_error(r, "bad_request", "notify", "notify.%s must be a whole number from 0 to %ld.", key, max);
		return -1;
	}
	snprintf(out, NOTIFY_ARG_MAX, "%ld", (long)v->valuedouble);
	return 0;
}

/* Reads the request's `notify` ({"ahead": N} and/or {"ewt": S}) into ahead and ewt, both ""
 * when it is absent and not required; -1 after answering when it is wrong, or when the site
 * sends no notifications (it has no notify_url). */
int notify_arg(struct request *r, int required, char ahead[NOTIFY_ARG_MAX], char ewt[NOTIFY_ARG_MAX])
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(r->args, "notify");
	ahead[0] = ewt[0] = '\0';
	if (!n || cJSON_IsNull(n)) {
		if (!required)
			return 0;
		request_reply_error(r, "bad_request", "notify", "notify is required: {\"ahead\": 3} and/or {\"ewt\": 600}.");
		return -1;
	}
	if (!cJSON_IsObject(n)) {
		request_reply_error(r, "bad_request", "notify", "notify must be an object such as {\"ahead\": 3} or {\"ewt\": 600}.");
		return -1;
	}
	const cJSON *m;
	cJSON_ArrayForEach(m, n) {
		if (strcmp(m->string, "ahead") != 0 && strcmp(m->string, "ewt") != 0) {
			request_reply_error(r, "bad_request", "notify", "notify takes only ahead and ewt.");
			return -1;
		}
	}
	if (notify_mark(r, n, "ahead", NOTIFY_AHEAD_MAX, ahead) < 0 || notify_mark(r, n, "ewt", NOTIFY_EWT_MAX, ewt) < 0)
		return -1;
	if (!ahead[0] && !ewt[0]) {
		request_reply_error(r, "bad_request", "notify", "notify needs ahead (tickets) or ewt (seconds).");
		return -1;
	}
	if (!r->site->cfg->site.notify_url) {
		request_reply_error(r, "bad_request", "notify", "This hall sends no notifications (it has no notify_url).");
		return -1;
	}
	return 0;
}

/* Asks for a notification when a waiting ticket's turn is near, with the ticket's secret. */
void op_notify(struct request *r)
{
	const char *ref, *secret, *phone;
	char ahead[NOTIFY_ARG_MAX], ewt[NOTIFY_ARG_MAX];
	if (args_string(r, "ticket", 0, 64, &ref) < 0 || args_string(r, "secret", 0, 63, &secret) < 0 ||
	    args_string(r, "ref", 0, 256, &phone) < 0)
		return;
	if (phone && utf8_length(phone) > 64) {
		request_reply_error(r, "bad_request", "ref", "ref must be at most 64 characters.");
		return;
	}
	if (!ref || !*ref) {
		cJSON *id = cJSON_GetObjectItemCaseSensitive(r->args, "id");
		ref = cJSON_IsString(id) && strlen(id->valuestring) <= 64 ? id->valuestring : NULL;
	}
	if (!ref || !*ref) {
		request_reply_error(r, "bad_request", "ticket", "Name the ticket: ticket (an id or today's number).");
		return;
	}
	if (!secret || !*secret || !sessions_token_shape(secret)) {
		request_reply_error(r, "unauthenticated", "secret", "notify needs the ticket's secret.");
		return;
	}
	if (notify_arg(r, 1, ahead, ewt) < 0)
		return;
	const char *argv[] = {ref, secret, ahead, ewt, phone ? phone : ""};
	store_request_fcall(r, "qh_notify", 0, 5, argv);
	notify_wake(r->site); /* it publishes no event: look behind it on the same link */
}
