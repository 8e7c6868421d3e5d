/* The clerk's actions: the normal flow goes straight to the server; anything that needs an
 * answer (rating, requeue, where to transfer, which number, why pause) or that cannot be
 * undone (no-show, transfer, calling out of order, closing, quitting) opens a dialog first. */
#include "counter.h"
#include "ratingcsv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether the window has a ticket called or being served. */
static bool actions_have_ticket(struct app *app)
{
	return app->current.present || app->me.ticket[0];
}

/* The number of the window's ticket, for dialogs and messages. */
static const char *actions_ticket_number(struct app *app)
{
	return app->current.present ? app->current.number : app->me.ticket;
}

/* Opens a dialog remembering the window's ticket, so a stale answer is not applied to another. */
static struct dialog *actions_dialog(struct app *app, enum dialog_kind kind,
				     enum dialog_purpose purpose, const char *title)
{
	struct dialog *d = &app->dialog;
	dialog_open(d, kind, purpose, title);
	app_format(d->ticket, sizeof d->ticket, "%s", actions_ticket_number(app));
	return d;
}

/* Refuses an action that needs a ticket when there is none, saying so. */
static bool actions_need_ticket(struct app *app, const char *what)
{
	if (actions_have_ticket(app))
		return true;
	app_message(app, true, "窗口没有号 No ticket at the window to %s.", what);
	return false;
}

/* Sends an op with no arguments. */
static void actions_send(struct app *app, const char *op)
{
	link_send(app, op, NULL);
}

/* Lists the services a ticket can be sent to: every one but its current service. */
static void actions_transfer_services(struct app *app)
{
	char title[COUNTER_NAME_MAX];
	app_format(title, sizeof title, "转移 Transfer %s to which service?", actions_ticket_number(app));
	struct dialog *d = actions_dialog(app, DIALOG_LIST, PURPOSE_TRANSFER_SERVICE, title);
	for (int i = 0; i < app->nservices; i++) {
		const struct app_service *s = &app->services[i];
		if (strcmp(s->id, app->current.service) == 0)
			continue;
		char label[COUNTER_NAME_MAX];
		app_format(label, sizeof label, "%s  %s %s", s->id, s->name, s->name_en);
		dialog_add_item(d, s->id, label);
	}
	if (d->nitems == 0) {
		d->kind = DIALOG_NONE;
		app_message(app, true, "没有其他业务 There is no other service to transfer to.");
	}
}

/* Lists "any window" and the windows serving the chosen service (not this one). */
static void actions_transfer_windows(struct app *app)
{
	char title[COUNTER_NAME_MAX];
	app_format(title, sizeof title, "转移到哪个窗口 Which window for %s?", app->transfer_service);
	struct dialog *d = actions_dialog(app, DIALOG_LIST, PURPOSE_TRANSFER_WINDOW, title);
	dialog_add_item(d, "0", "任意窗口 Any window of the service");
	for (int i = 0; i < app->nwindows; i++) {
		const struct app_window *w = &app->windows[i];
		if (w->id == app->window_id || !app_window_serves(w, app->transfer_service))
			continue;
		char key[16], label[COUNTER_NAME_MAX];
		app_format(key, sizeof key, "%d", w->id);
		app_format(label, sizeof label, "%s %s", w->name, w->name_en);
		dialog_add_item(d, key, label);
	}
}

/* Asks to confirm the transfer as chosen. */
static void actions_transfer_confirm(struct app *app)
{
	const struct app_service *s = app_service(app, app->transfer_service);
	struct dialog *d = actions_dialog(app, DIALOG_CONFIRM, PURPOSE_TRANSFER_CONFIRM,
					  "确认转移 Confirm the transfer");
	app_format(d->text[0], sizeof d->text[0], "%s → %s %s", actions_ticket_number(app),
		 s ? s->name : app->transfer_service, s ? s->name_en : "");
	if (app->transfer_window)
		app_format(d->text[1], sizeof d->text[1], "只限 Only window %d may call it.",
			 app->transfer_window);
	else
		app_format(d->text[1], sizeof d->text[1], "任意窗口 Any window of the service may call it.");
}

/* Sends the transfer chosen in the dialogs. */
static void actions_transfer_send(struct app *app)
{
	cJSON *args = cJSON_CreateObject();
	if (!args || !cJSON_AddStringToObject(args, "service", app->transfer_service) ||
	    (app->transfer_window && !cJSON_AddNumberToObject(args, "window", app->transfer_window))) {
		cJSON_Delete(args);
		return;
	}
	link_send(app, "transfer", args);
}

/* Sends call with the number typed. */
static void actions_call_send(struct app *app)
{
	cJSON *args = cJSON_CreateObject();
	if (!args || !cJSON_AddStringToObject(args, "ticket", app->call_number)) {
		cJSON_Delete(args);
		return;
	}
	link_send(app, "call", args);
}

/* No-show and call the next in one key: for the citizen who did not come, where Next would
 * count the ticket as served. Only a called ticket can be a no-show. */
static void actions_no_show_next(struct app *app)
{
	if (app->current.present && strcmp(app->current.state, "called") != 0) {
		app_message(app, true, "%s 已开始办理 is being served: finish it (f) instead.",
			    app->current.number);
		return;
	}
	cJSON *args = cJSON_CreateObject();
	if (!args || !cJSON_AddBoolToObject(args, "requeue", false)) {
		cJSON_Delete(args);
		return;
	}
	link_send_then(app, "no_show", args, THEN_CALL_NEXT);
}

/* Quitting asks what becomes of the window: a window left open keeps calling on the wall and
 * counts as open in every estimate. A closed window has nothing to decide. */
static void actions_quit(struct app *app)
{
	struct dialog *d;
	if (strcmp(app->me.state, "closed") == 0) {
		d = actions_dialog(app, DIALOG_CONFIRM, PURPOSE_QUIT_CONFIRM, "退出 Quit");
		app_format(d->text[0], sizeof d->text[0], "Quit the console? Window %d stays closed.",
			   app->window_id);
		return;
	}
	d = actions_dialog(app, DIALOG_LIST, PURPOSE_QUIT_CHOICE, "退出 Quit: and the window?");
	if (actions_have_ticket(app))
		app_format(d->text[0], sizeof d->text[0], "%s is still at the window.",
			   actions_ticket_number(app));
	dialog_add_item(d, "close", "关窗 Close the window, then quit");
	if (strcmp(app->me.state, "paused") != 0)
		dialog_add_item(d, "pause", "暂停 Pause the window, then quit");
	dialog_add_item(d, "leave", "保持 Leave it as it is and quit");
}

/* Runs one action of the key map. */
void actions_run(struct app *app, enum action action)
{
	struct dialog *d;
	switch (action) {
	case ACT_NEXT:
		actions_send(app, "call_next");
		break;
	case ACT_RECALL:
		actions_send(app, "recall");
		break;
	case ACT_START:
		actions_send(app, "start");
		break;
	case ACT_RESUME:
		actions_send(app, "resume");
		break;
	case ACT_FINISH:
		if (!actions_need_ticket(app, "finish"))
			break;
		d = actions_dialog(app, DIALOG_RATING, PURPOSE_RATING, "办结 Finish");
		app_format(d->text[0], sizeof d->text[0], "%s: 评分 rating 1-5 (optional)?",
			 actions_ticket_number(app));
		/* the five 好差评 levels, as the citizen would name them */
		app_format(d->text[1], sizeof d->text[1], "5 %s %s  4 %s %s  3 %s %s", rating_label(5), rating_label_en(5),
			   rating_label(4), rating_label_en(4), rating_label(3), rating_label_en(3));
		app_format(d->text[2], sizeof d->text[2], "2 %s %s  1 %s %s", rating_label(2), rating_label_en(2),
			   rating_label(1), rating_label_en(1));
		break;
	case ACT_NO_SHOW_NEXT:
		if (!actions_need_ticket(app, "mark as no-show"))
			break;
		actions_no_show_next(app);
		break;
	case ACT_NO_SHOW:
		if (!actions_need_ticket(app, "mark as no-show"))
			break;
		d = actions_dialog(app, DIALOG_QUESTION, PURPOSE_REQUEUE, "未到 No-show");
		app_format(d->text[0], sizeof d->text[0], "%s 未到 did not come.", actions_ticket_number(app));
		app_format(d->text[1], sizeof d->text[1], "重新排队 Requeue it at the back of the queue?");
		break;
	case ACT_TRANSFER:
		if (!actions_need_ticket(app, "transfer"))
			break;
		app->transfer_service[0] = '\0';
		app->transfer_window = 0;
		actions_transfer_services(app);
		break;
	case ACT_CALL:
		d = actions_dialog(app, DIALOG_TEXT, PURPOSE_CALL_NUMBER, "指定叫号 Call a number");
		d->flags = DIALOG_TEXT_TICKET;
		d->input_max = COUNTER_NUMBER_MAX - 1;
		app_format(d->text[0], sizeof d->text[0], "号码 Ticket number (e.g. A012):");
		break;
	case ACT_PAUSE:
		if (actions_have_ticket(app)) {
			/* The server refuses a pause with a ticket at the window: say so before
			 * asking for a reason that would be thrown away. */
			app_message(app, true, "先办结 Finish or no-show %s first, then pause.",
				    actions_ticket_number(app));
			break;
		}
		d = actions_dialog(app, DIALOG_TEXT, PURPOSE_PAUSE_REASON, "暂停 Pause the window");
		d->input_max = COUNTER_REASON_MAX - 1;
		app_format(d->text[0], sizeof d->text[0], "原因 Reason (optional, shown on the display):");
		break;
	case ACT_CLOSE:
		d = actions_dialog(app, DIALOG_CONFIRM, PURPOSE_CLOSE_CONFIRM, "关窗 Close the window");
		app_format(d->text[0], sizeof d->text[0], "Close window %d for the day?", app->window_id);
		if (actions_have_ticket(app))
			app_format(d->text[1], sizeof d->text[1], "%s is still at the window.",
				 actions_ticket_number(app));
		break;
	case ACT_QUIT:
		actions_quit(app);
		break;
	case ACT_REDRAW:
	case ACT_NONE:
		break;
	}
}

/* Acts on a dialog's answer; may open the next dialog of a sequence. */
static void actions_dialog_done(struct app *app, struct dialog *d)
{
	cJSON *args;
	switch (d->purpose) {
	case PURPOSE_RATING:
		args = cJSON_CreateObject();
		if (args && d->result >= 1 && d->result <= 5)
			cJSON_AddNumberToObject(args, "rating", d->result);
		link_send(app, "finish", args);
		break;
	case PURPOSE_REQUEUE:
		args = cJSON_CreateObject();
		if (args)
			cJSON_AddBoolToObject(args, "requeue", d->result == 1);
		link_send(app, "no_show", args);
		break;
	case PURPOSE_TRANSFER_SERVICE:
		app_format(app->transfer_service, sizeof app->transfer_service, "%s",
			 d->items[d->result].key);
		actions_transfer_windows(app);
		break;
	case PURPOSE_TRANSFER_WINDOW:
		app->transfer_window = atoi(d->items[d->result].key);
		actions_transfer_confirm(app);
		break;
	case PURPOSE_TRANSFER_CONFIRM:
		actions_transfer_send(app);
		break;
	case PURPOSE_CALL_NUMBER:
		if (!d->input[0]) {
			app_message(app, true, "没有号码 No number given; nothing was called.");
			break;
		}
		app_format(app->call_number, sizeof app->call_number, "%s", d->input);
		if (!actions_have_ticket(app)) {
			actions_call_send(app);
			break;
		}
		d = actions_dialog(app, DIALOG_CONFIRM, PURPOSE_CALL_CONFIRM, "指定叫号 Call a number");
		app_format(d->text[0], sizeof d->text[0], "Call %s out of order?", app->call_number);
		app_format(d->text[1], sizeof d->text[1], "%s at the window is finished first.",
			 actions_ticket_number(app));
		break;
	case PURPOSE_CALL_CONFIRM:
		actions_call_send(app);
		break;
	case PURPOSE_PAUSE_REASON:
		args = cJSON_CreateObject();
		if (args && d->input[0])
			cJSON_AddStringToObject(args, "reason", d->input);
		link_send(app, "pause", args);
		break;
	case PURPOSE_CLOSE_CONFIRM:
		actions_send(app, "close");
		break;
	case PURPOSE_QUIT_CONFIRM:
		app->quit = true;
		break;
	case PURPOSE_QUIT_CHOICE:
		/* The console quits once the server has done it; a refusal stays on screen. */
		if (strcmp(d->items[d->result].key, "close") == 0)
			link_send_then(app, "close", NULL, THEN_QUIT);
		else if (strcmp(d->items[d->result].key, "pause") == 0)
			link_send_then(app, "pause", NULL, THEN_QUIT);
		else
			app->quit = true;
		break;
	case PURPOSE_SIGN_IN_RETRY:
		link_sign_in_again(app);
		app_message(app, false, "登录中 Signing in again...");
		break;
	case PURPOSE_PASSWORD:
		if (d->input[0])
			app_format(app->password, sizeof app->password, "%s", d->input);
		memset(d->input, 0, sizeof d->input);
		link_sign_in_again(app);
		app_message(app, false, "登录中 Signing in again...");
		break;
	case PURPOSE_NONE:
		break;
	}
}

/* Purposes whose answer acts on the ticket at the window. */
static bool actions_purpose_needs_same_ticket(enum dialog_purpose purpose)
{
	return purpose == PURPOSE_RATING || purpose == PURPOSE_REQUEUE ||
	       purpose == PURPOSE_TRANSFER_SERVICE || purpose == PURPOSE_TRANSFER_WINDOW ||
	       purpose == PURPOSE_TRANSFER_CONFIRM || purpose == PURPOSE_CALL_CONFIRM;
}

/* Feeds the key; an answer given after the ticket changed underneath is not applied. */
void actions_dialog_key(struct app *app, int key)
{
	struct dialog *d = &app->dialog;
	enum dialog_purpose purpose = d->purpose;
	enum dialog_result r = dialog_key(d, key);
	if (r == DIALOG_CANCELLED) {
		if (purpose == PURPOSE_PASSWORD || purpose == PURPOSE_SIGN_IN_RETRY) {
			memset(d->input, 0, sizeof d->input);
			app->quit = true; /* Esc at the sign-in prompt leaves */
		} else {
			app_message(app, false, "已取消 Cancelled; nothing was sent.");
		}
		return;
	}
	if (r != DIALOG_DONE)
		return;
	if (actions_purpose_needs_same_ticket(purpose) &&
	    strcmp(d->ticket, actions_ticket_number(app)) != 0) {
		app_message(app, true, "号已变 The ticket at the window changed; nothing was sent.");
		return;
	}
	actions_dialog_done(app, d);
}

/* Asks for the password again after a refused sign-in. */
void actions_ask_password(struct app *app, const char *why)
{
	struct dialog *d = &app->dialog;
	dialog_open(d, DIALOG_TEXT, PURPOSE_PASSWORD, "登录 Sign in");
	d->flags = DIALOG_TEXT_SECRET;
	d->input_max = COUNTER_PASSWORD_MAX - 1 < DIALOG_TEXT_MAX - 1 ? COUNTER_PASSWORD_MAX - 1
								       : DIALOG_TEXT_MAX - 1;
	app_format(d->text[0], sizeof d->text[0], "%s", why);
	app_format(d->text[1], sizeof d->text[1], "Password for %s at window %d (Enter: same again):",
		 app->user, app->window_id);
	app_format(d->hint, sizeof d->hint, "Enter 登录 sign in   Esc 退出 quit");
}

/* A sign-in refused for the window (not for the password): asking the password again would
 * not help, so offer to try again (the window may be free later) or to quit. */
void actions_ask_retry(struct app *app, const char *why)
{
	struct dialog *d = &app->dialog;
	dialog_open(d, DIALOG_CONFIRM, PURPOSE_SIGN_IN_RETRY, "登录被拒 Sign-in refused");
	app_format(d->text[0], sizeof d->text[0], "%s", why);
	app_format(d->text[1], sizeof d->text[1], "Window %d for %s. Try again?", app->window_id,
		   app->user);
	app_format(d->hint, sizeof d->hint, "Enter/y 重试 retry   Esc 退出 quit");
}
