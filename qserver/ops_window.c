/* Window ops: the clerk's cycle (call_next, call, recall, start, finish, no_show, transfer)
 * and the window's state (pause, resume, close). optable.c has already resolved r->window. */
#include "qserver.h"

#include <stdio.h>

/* Runs a window function with the window id (and the acting user, if with_user) first. */
static void window_fcall(struct request *r, const char *function, int with_user, int argc, const char **argv)
{
	const char *all[8];
	char win[16];
	snprintf(win, sizeof win, "%d", r->window);
	int n = 0;
	all[n++] = win;
	if (with_user)
		all[n++] = r->conn->user;
	for (int i = 0; i < argc && n < 8; i++)
		all[n++] = argv[i];
	store_request_fcall(r, function, 0, n, all);
}

/* Finishes the window's current ticket, if any, and calls the next one it may serve. */
void op_call_next(struct request *r)
{
	window_fcall(r, "qh_call_next", 1, 0, NULL);
}

/* Calls a given waiting ticket out of order. */
void op_call(struct request *r)
{
	const char *ticket;
	if (args_string(r, "ticket", 1, 64, &ticket) < 0)
		return;
	window_fcall(r, "qh_call", 1, 1, &ticket);
}

/* Calls the window's ticket again. */
void op_recall(struct request *r)
{
	window_fcall(r, "qh_recall", 0, 0, NULL);
}

/* Marks the called citizen as arrived and being served. */
void op_start(struct request *r)
{
	window_fcall(r, "qh_start", 0, 0, NULL);
}

/* Finishes the window's ticket, with an optional rating 1..5 and its comment. */
void op_finish(struct request *r)
{
	long rating = 0;
	const char *comment;
	if (args_int(r, "rating", 0, 1, 5, &rating) < 0 || ratings_comment_arg(r, &comment) < 0)
		return;
	if (*comment && !rating) {
		request_reply_error(r, "bad_request", "comment", "A comment goes with a rating: give rating too.");
		return;
	}
	char rating_s[4] = "", due[11];
	if (rating)
		snprintf(rating_s, sizeof rating_s, "%ld", rating);
	ratings_due(r->site, due);
	const char *argv[] = {rating_s, comment, due};
	window_fcall(r, "qh_finish", 0, 3, argv);
}

/* Marks the called citizen absent; with requeue the ticket waits again at the back. */
void op_no_show(struct request *r)
{
	int requeue = 0;
	if (args_bool(r, "requeue", &requeue) < 0)
		return;
	const char *argv[] = {requeue ? "1" : "0"};
	window_fcall(r, "qh_no_show", 0, 1, argv);
}

/* Sends the window's ticket to another service (and optionally one window), keeping its
 * issue time. A clerk names the target in `window`; a manager, whose `window` is the one
 * acting, names it in `target_window`. */
void op_transfer(struct request *r)
{
	const char *service;
	long target = 0;
	const char *target_name = r->conn->role == ROLE_CLERK ? "window" : "target_window";
	if (args_string(r, "service", 1, CONFIG_ID_MAX - 1, &service) < 0 ||
	    args_int(r, "target_window", 0, 1, 9999, &target) < 0 ||
	    (r->conn->role == ROLE_CLERK && args_int(r, "window", 0, 1, 9999, &target) < 0))
		return;
	const struct config_service *svc = config_service(r->site->cfg, service);
	if (!svc) {
		request_reply_error(r, "not_found", "service", "There is no service \"%s\".", service);
		return;
	}
	if (target) {
		const struct config_window *w = config_window(r->site->cfg, (int)target);
		if (!w) {
			request_reply_error(r, "not_found", target_name, "There is no window %ld.", target);
			return;
		}
		if (!config_window_serves(w, service)) {
			request_reply_error(r, "bad_request", target_name, "Window %ld does not serve service %s.", target, service);
			return;
		}
	}
	char target_s[16] = "";
	if (target)
		snprintf(target_s, sizeof target_s, "%ld", target);
	const char *argv[] = {service, target_s};
	window_fcall(r, "qh_transfer", 0, 2, argv);
}

/* Pauses an idle window, with an optional reason shown to the hall. */
void op_pause(struct request *r)
{
	const char *reason;
	if (args_string(r, "reason", 0, 200, &reason) < 0)
		return;
	const char *argv[] = {reason ? reason : ""};
	window_fcall(r, "qh_pause", 0, 1, argv);
}

/* Opens a paused window again. */
void op_resume(struct request *r)
{
	window_fcall(r, "qh_resume", 0, 0, NULL);
}

/* Closes the window for the day (or a break); it must not hold a ticket. */
void op_close(struct request *r)
{
	window_fcall(r, "qh_close", 0, 0, NULL);
}
