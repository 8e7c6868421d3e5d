/* The link to qserver through common/client.c: the clerk's hello (which takes the window up
 * again after every reconnect), events into app.c, the queue asked for when events say it
 * changed, and the answers of the clerk's actions. */
#include "counter.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"

/* What one request was for, so its answer lands in the right place. */
enum link_purpose { LINK_ACTION, LINK_TICKET, LINK_QUEUE, LINK_SERVICES, LINK_STATS };

struct link_request {
	struct app *app;
	enum link_purpose purpose;
	char op[24];
	char by[16]; /* for stats: the grouping asked for */
	enum link_then then; /* for actions: what follows a success */
	char no_show[COUNTER_NUMBER_MAX]; /* call_next after a no-show: that ticket, for the message */
};

static void link_reply(void *arg, cJSON *response);
static void link_request_stats(struct app *app, const char *by);

/* The error message of a failed response, falling back to its code. */
static const char *link_error_message(const cJSON *response)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(response, "error");
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(error, "message");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
	if (cJSON_IsString(message) && message->valuestring[0])
		return message->valuestring;
	return cJSON_IsString(code) ? code->valuestring : "the server gave no reason";
}

/* The error code of a failed response, or "". */
static const char *link_error_code(const cJSON *response)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(response, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
	return cJSON_IsString(code) ? code->valuestring : "";
}

/* Sends a request whose answer comes back to link_reply; returns -1 when it could not go. */
static int link_submit(struct app *app, enum link_purpose purpose, const char *op, cJSON *args,
		       const char *by, enum link_then then, const char *no_show)
{
	if (!app->client) {
		cJSON_Delete(args);
		return -1;
	}
	struct link_request *req = calloc(1, sizeof *req);
	if (!req) {
		cJSON_Delete(args);
		return -1;
	}
	req->app = app;
	req->purpose = purpose;
	app_format(req->op, sizeof req->op, "%s", op);
	app_format(req->by, sizeof req->by, "%s", by ? by : "");
	req->then = then;
	app_format(req->no_show, sizeof req->no_show, "%s", no_show ? no_show : "");
	if (client_request(app->client, op, args, link_reply, req) < 0) {
		free(req);
		return -1;
	}
	return 0;
}

/* Fetches the window's ticket by number (after a window event named one we do not have). */
static void link_fetch_ticket(struct app *app, const char *number)
{
	cJSON *args = cJSON_CreateObject();
	if (!args || !cJSON_AddStringToObject(args, "number", number)) {
		cJSON_Delete(args);
		return;
	}
	link_submit(app, LINK_TICKET, "ticket", args, NULL, THEN_NOTHING, NULL);
}

/* Asks for the window's next tickets now, or once more after the one in flight. */
static void link_request_queue(struct app *app)
{
	if (app->queue_in_flight) {
		app->queue_again = true;
		return;
	}
	cJSON *args = cJSON_CreateObject();
	if (!args || !cJSON_AddNumberToObject(args, "limit", COUNTER_QUEUE_MAX)) {
		cJSON_Delete(args);
		return;
	}
	if (link_submit(app, LINK_QUEUE, "queue", args, NULL, THEN_NOTHING, NULL) == 0) {
		app->queue_in_flight = true;
		app->queue_again = false;
	}
}

/* Asks for the clerk's counts today, unless the server showed it has no stats op. */
static void link_request_stats(struct app *app, const char *by)
{
	if (app->stats_unavailable || !app->site_date[0])
		return;
	if (app->stats_in_flight) {
		app->stats_again = true;
		return;
	}
	cJSON *args = cJSON_CreateObject();
	if (!args || !cJSON_AddStringToObject(args, "from", app->site_date) ||
	    !cJSON_AddStringToObject(args, "to", app->site_date) ||
	    !cJSON_AddStringToObject(args, "by", by)) {
		cJSON_Delete(args);
		return;
	}
	if (link_submit(app, LINK_STATS, "stats", args, by, THEN_NOTHING, NULL) == 0) {
		app->stats_in_flight = true;
		app->stats_again = false;
	}
}

/* Says in words what a successful action did (and, for a call after a no-show, that too). */
static void link_action_done(struct app *app, const char *op, const cJSON *response,
			     const char *no_show)
{
	const cJSON *ticket = cJSON_GetObjectItemCaseSensitive(response, "ticket");
	char number[COUNTER_NUMBER_MAX];
	app_json_string(ticket, "number", number, sizeof number);
	if (strcmp(op, "call_next") == 0 && !cJSON_IsObject(ticket) && no_show[0])
		app_message(app, false, "未到 %s no-show; nobody else is waiting.", no_show);
	else if (strcmp(op, "call_next") == 0 && !cJSON_IsObject(ticket))
		app_message(app, false, "没有等候的号 Nobody is waiting for this window.");
	else if (strcmp(op, "call_next") == 0 && no_show[0])
		app_message(app, false, "已呼叫 Called %s; %s was a no-show.", number, no_show);
	else if (strcmp(op, "call_next") == 0 || strcmp(op, "call") == 0)
		app_message(app, false, "已呼叫 Called %s.", number);
	else if (strcmp(op, "recall") == 0)
		app_message(app, false, "已重呼 Called %s again.", number);
	else if (strcmp(op, "start") == 0)
		app_message(app, false, "开始办理 Serving %s.", number);
	else if (strcmp(op, "finish") == 0)
		app_message(app, false, "已办结 %s is done.", number);
	else if (strcmp(op, "no_show") == 0) {
		char state[16];
		app_json_string(ticket, "state", state, sizeof state);
		if (strcmp(state, "waiting") == 0)
			app_message(app, false, "已重新排队 %s waits again at the back.", number);
		else
			app_message(app, false, "未到 %s marked as no-show.", number);
	} else if (strcmp(op, "transfer") == 0) {
		char service[COUNTER_ID_MAX];
		app_json_string(ticket, "service", service, sizeof service);
		app_message(app, false, "已转移 %s transferred to service %s.", number, service);
	} else if (strcmp(op, "pause") == 0)
		app_message(app, false, "窗口暂停 The window is paused.");
	else if (strcmp(op, "resume") == 0)
		app_message(app, false, "窗口恢复 The window is open again.");
	else if (strcmp(op, "close") == 0)
		app_message(app, false, "窗口关闭 The window is closed.");
}

/* Applies an answer: actions show their outcome or error, reads fill the picture. */
static void link_reply(void *arg, cJSON *response)
{
	struct link_request *req = arg;
	struct app *app = req->app;
	bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(response, "ok"));
	switch (req->purpose) {
	case LINK_ACTION:
		/* The words that matter first: at 80 columns the end of a long line is cut. */
		if (!response) {
			app_message(app, true, "无回应 No answer to %s: check before retrying.",
				    format_op_label(req->op));
		} else if (!ok) {
			app_message(app, true, "%s: %s", format_op_label(req->op),
				    link_error_message(response));
		} else {
			const cJSON *ticket = cJSON_GetObjectItemCaseSensitive(response, "ticket");
			const cJSON *window = cJSON_GetObjectItemCaseSensitive(response, "window");
			if (cJSON_IsObject(ticket))
				app_apply_ticket(app, ticket, false);
			if (cJSON_IsObject(window))
				app_apply_window(app, window);
			link_action_done(app, req->op, response, req->no_show);
			if (req->then == THEN_CALL_NEXT) {
				char number[COUNTER_NUMBER_MAX];
				app_json_string(cJSON_GetObjectItemCaseSensitive(response, "ticket"),
						"number", number, sizeof number);
				if (link_submit(app, LINK_ACTION, "call_next", NULL, NULL, THEN_NOTHING,
						number) < 0)
					app_message(app, true, "未发送 Not sent: Next; %s was a no-show.",
						    number);
			} else if (req->then == THEN_QUIT) {
				app->quit = true;
			}
		}
		break;
	case LINK_TICKET:
		if (ok)
			app_apply_ticket(app, cJSON_GetObjectItemCaseSensitive(response, "ticket"), false);
		break;
	case LINK_QUEUE:
		app->queue_in_flight = false;
		if (ok)
			app_apply_queue(app, cJSON_GetObjectItemCaseSensitive(response, "tickets"));
		else if (response)
			app_message(app, true, "queue: %s", link_error_message(response));
		if (app->queue_again && app->ready)
			link_request_queue(app);
		break;
	case LINK_SERVICES:
		if (ok)
			app_apply_snapshot(app, response); /* only its services are there */
		break;
	case LINK_STATS:
		app->stats_in_flight = false;
		if (ok) {
			app_apply_stats(app, cJSON_GetObjectItemCaseSensitive(response, "rows"));
		} else if (response && strcmp(link_error_code(response), "unknown_op") == 0) {
			app->stats_unavailable = true; /* an older server: count this session's */
		} else if (response && strcmp(req->by, "clerk") == 0) {
			link_request_stats(app, "window"); /* clerks may be limited to their window */
		}
		if (app->stats_again && app->ready)
			link_request_stats(app, req->by);
		break;
	}
	free(req);
	term_dirty(app);
}

/* The debounce timer: one queue request for a burst of events, and the services' figures
 * with it: in a hall of comprehensive windows every call moves every service's estimate,
 * while a queue event comes only for the service whose count changed. */
static void link_queue_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct app *app = arg;
	if (!app->ready)
		return;
	link_request_queue(app);
	link_submit(app, LINK_SERVICES, "services", NULL, NULL, THEN_NOTHING, NULL);
}

/* Schedules a queue request unless one is already scheduled. */
void link_queue_changed(struct app *app)
{
	if (!app->queue_timer || evtimer_pending(app->queue_timer, NULL))
		return;
	struct timeval tv = {0, COUNTER_QUEUE_DEBOUNCE_MS * 1000};
	evtimer_add(app->queue_timer, &tv);
}

/* The session is up (first time or after a reconnect): take everything in afresh. */
static void link_on_ready(struct client *c, cJSON *hello, cJSON *snapshot, void *arg)
{
	(void)c;
	struct app *app = arg;
	bool again = app->signed_in;
	app->ready = true;
	app->signed_in = true;
	app->queue_in_flight = false;
	app->stats_in_flight = false;
	app->stats_again = false;
	app_apply_hello(app, hello);
	app_apply_snapshot(app, snapshot);
	if (app->me.ticket[0])
		link_fetch_ticket(app, app->me.ticket);
	else
		memset(&app->current, 0, sizeof app->current);
	link_request_queue(app);
	link_request_stats(app, "clerk");
	if (again)
		app_message(app, false, "重新连接 Reconnected: window %d is yours again.", app->window_id);
	else
		app_message(app, false, "已登录 Signed in at window %d.", app->window_id);
	term_dirty(app);
}

/* A refused sign-in: wrong password or a window that is not ours asks again; others retry. */
static void link_on_hello_failed(struct client *c, cJSON *response, void *arg)
{
	(void)c;
	struct app *app = arg;
	const char *code = link_error_code(response);
	app_message(app, true, "登录被拒 Sign-in refused: %s", link_error_message(response));
	/* Only a wrong password is mended by typing it again; a window held by another clerk or
	 * not allowed to this one is not, and passing trouble retries by itself. */
	if (strcmp(code, "unauthenticated") == 0)
		actions_ask_password(app, link_error_message(response));
	else if (strcmp(code, "unavailable") != 0 && strcmp(code, "rate_limited") != 0 &&
		 strcmp(code, "internal") != 0)
		actions_ask_retry(app, link_error_message(response));
	term_dirty(app);
}

/* Events change the picture; the queue is asked for when they say it changed. */
static void link_on_event(struct client *c, cJSON *event, void *arg)
{
	(void)c;
	struct app *app = arg;
	char name[16];
	app_json_string(event, "event", name, sizeof name);
	if (strcmp(name, "window") == 0) {
		const cJSON *window = cJSON_GetObjectItemCaseSensitive(event, "window");
		if (app_apply_window(app, window))
			link_fetch_ticket(app, app->me.ticket);
		if ((int)app_json_int(window, "id", 0) == app->window_id)
			link_queue_changed(app); /* opening or pausing changes what it may call */
	} else if (strcmp(name, "ticket") == 0) {
		const cJSON *ticket = cJSON_GetObjectItemCaseSensitive(event, "ticket");
		char service[COUNTER_ID_MAX], state[16], clerk[COUNTER_ID_MAX];
		app_json_string(ticket, "service", service, sizeof service);
		app_json_string(ticket, "state", state, sizeof state);
		app_json_string(ticket, "clerk", clerk, sizeof clerk);
		app_apply_ticket(app, ticket, true);
		if (app_window_serves(&app->me, service) ||
		    app_json_int(ticket, "window", 0) == app->window_id)
			link_queue_changed(app);
		if (strcmp(state, "done") == 0 && strcmp(clerk, app->user) == 0 &&
		    app->stats_from_server)
			link_request_stats(app, "clerk");
	} else if (strcmp(name, "queue") == 0) {
		if (app_apply_queue_event(app, event))
			link_queue_changed(app);
	} else if (strcmp(name, "called") == 0) {
		app_clock_seen(app, app_json_int(event, "at", 0), false);
		link_queue_changed(app); /* a call anywhere moves the estimates */
	}
	term_dirty(app);
}

/* The server went away: keep the picture, say so; the client library reconnects. */
static void link_on_disconnected(struct client *c, const char *reason, void *arg)
{
	(void)c;
	struct app *app = arg;
	app->ready = false;
	app->queue_in_flight = false;
	app->stats_in_flight = false;
	log_info("disconnected: %s", reason);
	term_dirty(app);
}

/* The server ended this session: the same clerk signed in at this window elsewhere, or a
 * config reload changed the clerk's password or window. The client library does not
 * reconnect, so this console stays off and says why. */
static void link_on_session_ended(struct client *c, cJSON *event, void *arg)
{
	(void)c;
	struct app *app = arg;
	app->ready = false;
	app->queue_in_flight = false;
	app->stats_in_flight = false;
	cJSON *reason = cJSON_GetObjectItemCaseSensitive(event, "reason");
	cJSON *message = cJSON_GetObjectItemCaseSensitive(event, "message");
	if (cJSON_IsString(reason) && strcmp(reason->valuestring, "replaced") != 0 && cJSON_IsString(message)) {
		log_info("session ended by the server (%.32s)", reason->valuestring);
		app_message(app, true, "会话已结束 Session ended: %.200s", message->valuestring);
	} else {
		log_info("session replaced: signed in at window %d elsewhere", app->window_id);
		app_message(app, true, "已在别处登录 Signed in elsewhere: window %d is served from another console; this one stays disconnected.", app->window_id);
	}
	term_dirty(app);
}

/* Creates the client with the clerk's hello, subscribe to every topic and the snapshot. */
int link_start(struct app *app)
{
	static const struct client_callbacks callbacks = {
		.on_ready = link_on_ready,
		.on_hello_failed = link_on_hello_failed,
		.on_event = link_on_event,
		.on_disconnected = link_on_disconnected,
		.on_session_ended = link_on_session_ended,
	};
	app->client = client_new(app->base, app->server[0] ? app->server : NULL, &callbacks, app);
	if (!app->client)
		return -1;
	app->queue_timer = evtimer_new(app->base, link_queue_timer_cb, app);
	if (!app->queue_timer) {
		client_free(app->client);
		app->client = NULL;
		return -1;
	}
	client_set_backoff(app->client, 250, 4000);
	link_sign_in_again(app);
	client_set_subscribe(app->client, NULL);
	client_want_snapshot(app->client, true);
	return 0;
}

/* Sets hello from the options; restarts the session when the transport is up. */
void link_sign_in_again(struct app *app)
{
	cJSON *hello = cJSON_CreateObject();
	if (!hello || !cJSON_AddStringToObject(hello, "role", "clerk") ||
	    !cJSON_AddStringToObject(hello, "user", app->user) ||
	    !cJSON_AddStringToObject(hello, "password", app->password) ||
	    !cJSON_AddNumberToObject(hello, "window", app->window_id) ||
	    (app->site_id[0] && !cJSON_AddStringToObject(hello, "site", app->site_id))) {
		cJSON_Delete(hello);
		app_message(app, true, "out of memory");
		return;
	}
	client_set_hello(app->client, hello);
	if (client_is_connected(app->client) && !client_is_ready(app->client))
		client_restart_session(app->client);
}

/* Frees the client (pending answers arrive as NULL first) and the timer. */
void link_stop(struct app *app)
{
	if (app->client)
		client_free(app->client);
	app->client = NULL;
	if (app->queue_timer)
		event_free(app->queue_timer);
	app->queue_timer = NULL;
}

/* Sends a clerk's action; says why when it cannot go. */
int link_send(struct app *app, const char *op, cJSON *args)
{
	return link_send_then(app, op, args, THEN_NOTHING);
}

/* Sends an action whose success leads to another step. */
int link_send_then(struct app *app, const char *op, cJSON *args, enum link_then then)
{
	if (!app->client || !client_is_ready(app->client)) {
		cJSON_Delete(args);
		app_message(app, true, "未发送 Not sent (offline): %s.", format_op_label(op));
		return -1;
	}
	if (link_submit(app, LINK_ACTION, op, args, NULL, then, NULL) < 0) {
		app_message(app, true, "未发送 Not sent: %s (%s).", format_op_label(op), strerror(errno));
		return -1;
	}
	return 0;
}

/* The connection for the status line. */
const char *link_status(struct app *app)
{
	if (app->client && client_is_ended(app->client))
		return "已在别处登录 signed in elsewhere";
	return app->client ? client_status_text(app->client) : "not started";
}
