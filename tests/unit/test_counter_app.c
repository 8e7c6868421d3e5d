/* Unit tests of the clerk console's picture of its window (counter-client/app.c): hello,
 * snapshot, queue and stats answers, and the events that change them, as qserver sends them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../counter-client/counter.h"

/* Parses JSON text that the test itself wrote. */
static cJSON *json(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	assert_non_null(j);
	return j;
}

/* An app signed in as c01 at window 1 of the small hall (window 1 comprehensive). */
static struct app *signed_in_app(void)
{
	struct app *app = calloc(1, sizeof *app);
	assert_non_null(app);
	strcpy(app->user, "c01");
	app->window_id = 1;
	cJSON *hello = json("{\"ok\":true,\"role\":\"clerk\",\"site\":{\"name\":\"测试大厅\",\"name_en\":"
			    "\"Test hall\",\"date\":\"2026-11-27\",\"time\":1795744800,\"tz\":\"Asia/Shanghai\"},"
			    "\"window\":{\"id\":1,\"name\":\"1号窗口\",\"name_en\":\"Window 1\","
			    "\"services\":[\"*\"],\"state\":\"idle\",\"ticket\":null,\"clerk\":\"c01\"},"
			    "\"user\":{\"id\":\"c01\",\"name\":\"张丽\"}}");
	app_apply_hello(app, hello);
	cJSON_Delete(hello);
	cJSON *snap = json("{\"ok\":true,\"services\":[{\"id\":\"A\",\"name\":\"社会保障\",\"name_en\":"
			   "\"Social security\",\"waiting\":2,\"ewt\":600},{\"id\":\"B\",\"name\":\"出入境\","
			   "\"name_en\":\"Exit-entry\",\"waiting\":0,\"ewt\":0}],\"windows\":[{\"id\":1,"
			   "\"name\":\"1号窗口\",\"services\":[\"*\"],\"state\":\"idle\",\"ticket\":null},"
			   "{\"id\":3,\"name\":\"3号窗口\",\"services\":[\"B\"],\"state\":\"paused\","
			   "\"reason\":\"午饭\",\"ticket\":null}],\"site\":{\"time\":1795744800}}");
	app_apply_snapshot(app, snap);
	cJSON_Delete(snap);
	return app;
}

/* A ticket object as qserver writes it. */
static cJSON *ticket_json(const char *number, const char *service, const char *state, int window,
			  long long called_at)
{
	char text[512];
	snprintf(text, sizeof text,
		 "{\"id\":\"20261127-%s\",\"number\":\"%s\",\"service\":\"%s\",\"class\":\"priority\","
		 "\"state\":\"%s\",\"issued_at\":1795744800,\"called_at\":%s,\"started_at\":null,"
		 "\"finished_at\":%s,\"window\":%s,\"clerk\":\"c01\",\"recalls\":0,\"transfers\":0}",
		 number, number, service, state, called_at ? "1795745100" : "null",
		 strcmp(state, "done") == 0 ? "1795745400" : "null", window ? "1" : "null");
	return json(text);
}

/* A window object with since (protocol 2) gives the time in state; one without leaves it 0. */
static void window_since__kept_from_events(void **state)
{
	(void)state;
	struct app *app = signed_in_app();
	assert_int_equal(app->me.since, 0);
	cJSON *w = json("{\"id\":1,\"state\":\"paused\",\"reason\":\"午饭\",\"ticket\":null,"
			"\"since\":1795745000}");
	app_apply_window(app, w);
	cJSON_Delete(w);
	assert_int_equal(app->me.since, 1795745000);
	char line[64];
	format_state_since(line, sizeof line, app->me.state, NULL, app->me.since, 1795745000 + 5 * 60);
	assert_string_equal(line, "暂停 Paused 5 min");
	w = json("{\"id\":1,\"state\":\"idle\",\"ticket\":null}");
	app_apply_window(app, w);
	cJSON_Delete(w);
	assert_int_equal(app->me.since, 0);
	free(app);
}

/* The screen says what Next does to the ticket at the window: a called ticket counts as served. */
static void next_effect__called_or_serving(void **state)
{
	(void)state;
	struct app *app = signed_in_app();
	char line[128];
	app_next_effect(app, line, sizeof line);
	assert_string_equal(line, "");
	cJSON *t = ticket_json("A001", "A", "called", 1, 1795745100);
	app_apply_ticket(app, t, true);
	cJSON_Delete(t);
	app_next_effect(app, line, sizeof line);
	assert_string_equal(line, "n: A001 算作已办 counts as served");
	t = ticket_json("A001", "A", "serving", 1, 1795745100);
	app_apply_ticket(app, t, true);
	cJSON_Delete(t);
	app_next_effect(app, line, sizeof line);
	assert_string_equal(line, "n: A001 办结 done, call next");
	free(app);
}

/* A notice clears after COUNTER_NOTICE_SECONDS, an error after COUNTER_ERROR_SECONDS. */
static void message__clears_after_a_while(void **state)
{
	(void)state;
	struct app *app = signed_in_app();
	app_message(app, false, "已呼叫 Called %s.", "A001");
	long long at = app->message_at_ms;
	assert_string_equal(app_message_now(app, at), "已呼叫 Called A001.");
	assert_string_equal(app_message_now(app, at + COUNTER_NOTICE_SECONDS * 1000 - 1),
			    "已呼叫 Called A001.");
	assert_string_equal(app_message_now(app, at + COUNTER_NOTICE_SECONDS * 1000), "");
	app_message(app, true, "Call no.: Ticket Z999 does not exist.");
	at = app->message_at_ms;
	assert_string_equal(app_message_now(app, at + COUNTER_NOTICE_SECONDS * 1000),
			    "Call no.: Ticket Z999 does not exist.");
	assert_string_equal(app_message_now(app, at + COUNTER_ERROR_SECONDS * 1000), "");
	free(app);
}

/* hello and snapshot fill the header, services and the transfer list's windows. */
static void hello_snapshot__fill_the_picture(void **state)
{
	(void)state;
	struct app *app = signed_in_app();
	assert_string_equal(app->site_name, "测试大厅");
	assert_string_equal(app->user_name, "张丽");
	assert_string_equal(app->me.name, "1号窗口");
	assert_string_equal(app->me.state, "idle");
	assert_true(app->me.comprehensive);
	assert_true(app_window_serves(&app->me, "A"));
	assert_int_equal(app->nservices, 2);
	assert_int_equal(app_service(app, "A")->waiting, 2);
	assert_null(app_service(app, "Z"));
	assert_int_equal(app->nwindows, 2);
	assert_false(app->windows[1].comprehensive);
	assert_true(app_window_serves(&app->windows[1], "B"));
	assert_false(app_window_serves(&app->windows[1], "A"));
	assert_string_equal(app->windows[1].reason, "午饭");
	assert_true(app_now(app) >= 1795744800 && app_now(app) < 1795744800 + 5);
	free(app);
}

/* A ticket called at our window becomes current; finishing it clears it and counts it. */
static void ticket_events__current_and_session_counts(void **state)
{
	(void)state;
	struct app *app = signed_in_app();
	cJSON *t = ticket_json("B001", "B", "called", 1, 1);
	app_apply_ticket(app, t, true);
	cJSON_Delete(t);
	assert_true(app->current.present);
	assert_string_equal(app->current.number, "B001");
	assert_string_equal(app->current.ticket_class, "priority");
	assert_int_equal(app->current.called_at, 1795745100);
	assert_true(app_now(app) >= 1795745100); /* the clock moved forward with the event */
	assert_int_equal(app_mean_service(app), -1);

	t = ticket_json("B001", "B", "done", 1, 1);
	app_apply_ticket(app, t, true);
	cJSON_Delete(t);
	assert_false(app->current.present);
	assert_int_equal(app->served, 1);
	assert_int_equal(app_mean_service(app), 300);

	/* Another window's ticket changes nothing of ours. */
	t = ticket_json("A001", "A", "called", 0, 1);
	app_apply_ticket(app, t, true);
	cJSON_Delete(t);
	assert_false(app->current.present);
	free(app);
}

/* A window event naming a ticket we do not have asks for it; an empty one clears ours. */
static void window_event__fetch_or_clear(void **state)
{
	(void)state;
	struct app *app = signed_in_app();
	cJSON *w = json("{\"id\":1,\"state\":\"calling\",\"ticket\":\"A002\",\"clerk\":\"c01\"}");
	assert_true(app_apply_window(app, w));
	cJSON_Delete(w);
	assert_string_equal(app->me.state, "calling");
	assert_string_equal(app->me.name, "1号窗口"); /* fields not sent are kept */
	cJSON *t = ticket_json("A002", "A", "called", 1, 1);
	app_apply_ticket(app, t, false);
	cJSON_Delete(t);
	w = json("{\"id\":1,\"state\":\"calling\",\"ticket\":\"A002\"}");
	assert_false(app_apply_window(app, w)); /* already have it */
	cJSON_Delete(w);
	w = json("{\"id\":1,\"state\":\"paused\",\"ticket\":null,\"reason\":\"lunch\"}");
	assert_false(app_apply_window(app, w));
	cJSON_Delete(w);
	assert_false(app->current.present);
	assert_string_equal(app->me.reason, "lunch");
	w = json("{\"id\":3,\"state\":\"idle\",\"ticket\":\"B005\"}");
	assert_false(app_apply_window(app, w)); /* not ours, but the list's copy follows */
	cJSON_Delete(w);
	assert_string_equal(app->windows[1].state, "idle");
	assert_string_equal(app->windows[1].reason, "");
	free(app);
}

/* The queue answer replaces the list, bounded; queue events update counts of our services. */
static void queue__answer_and_events(void **state)
{
	(void)state;
	struct app *app = signed_in_app();
	cJSON *tickets = cJSON_CreateArray();
	for (int i = 0; i < COUNTER_QUEUE_MAX + 5; i++) {
		char number[16];
		snprintf(number, sizeof number, "A%03d", i + 1);
		cJSON_AddItemToArray(tickets, ticket_json(number, "A", "waiting", 0, 0));
	}
	app_apply_queue(app, tickets);
	cJSON_Delete(tickets);
	assert_true(app->queue_known);
	assert_int_equal(app->nqueue, COUNTER_QUEUE_MAX);
	assert_string_equal(app->queue[0].number, "A001");
	assert_int_equal(app_service(app, "B")->ewt_low, -1); /* the snapshot sent no range */
	cJSON *ev = json("{\"event\":\"queue\",\"service\":\"B\",\"waiting\":7,\"ewt\":420,"
			 "\"ewt_low\":100,\"ewt_high\":1000}");
	assert_true(app_apply_queue_event(app, ev));
	cJSON_Delete(ev);
	assert_int_equal(app_service(app, "B")->waiting, 7);
	assert_int_equal(app_service(app, "B")->ewt, 420);
	assert_int_equal(app_service(app, "B")->ewt_low, 100);
	assert_int_equal(app_service(app, "B")->ewt_high, 1000);
	app->me.comprehensive = false;
	strcpy(app->me.services, ",B,");
	ev = json("{\"event\":\"queue\",\"service\":\"A\",\"waiting\":1,\"ewt\":60}");
	assert_false(app_apply_queue_event(app, ev)); /* not a service of the window */
	cJSON_Delete(ev);
	free(app);
}

/* The stats row of the clerk replaces the session's counts. */
static void stats__clerk_row_taken(void **state)
{
	(void)state;
	struct app *app = signed_in_app();
	cJSON *rows = json("[{\"key\":\"c02\",\"served\":9,\"service_mean\":100},"
			   "{\"key\":\"c01\",\"served\":12,\"service_mean\":310}]");
	assert_true(app_apply_stats(app, rows));
	cJSON_Delete(rows);
	assert_true(app->stats_from_server);
	assert_int_equal(app->served, 12);
	assert_int_equal(app_mean_service(app), 310);
	rows = json("[{\"key\":\"c09\",\"served\":1}]");
	assert_false(app_apply_stats(app, rows));
	cJSON_Delete(rows);
	assert_true(app->stats_from_server); /* answered: nothing served yet today */
	assert_int_equal(app->served, 0);
	assert_int_equal(app_mean_service(app), -1);
	free(app);
}

/* Over-long or hostile strings from the server are cut, never overrun, never split a character. */
static void json_strings__bounded_and_whole_characters(void **state)
{
	(void)state;
	char buf[8];
	cJSON *obj = json("{\"name\":\"社会保障服务\",\"n\":5,\"s\":\"x\"}");
	app_json_string(obj, "name", buf, sizeof buf);
	assert_string_equal(buf, "社会"); /* 6 bytes; a third character would not fit whole */
	app_json_string(obj, "missing", buf, sizeof buf);
	assert_string_equal(buf, "");
	app_json_string(obj, "n", buf, sizeof buf); /* not a string */
	assert_string_equal(buf, "");
	assert_int_equal(app_json_int(obj, "n", -1), 5);
	assert_int_equal(app_json_int(obj, "s", -1), -1);
	cJSON_Delete(obj);
	char msg[5];
	app_format(msg, sizeof msg, "%s", "ab出");
	assert_string_equal(msg, "ab");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hello_snapshot__fill_the_picture),
		cmocka_unit_test(window_since__kept_from_events),
		cmocka_unit_test(next_effect__called_or_serving),
		cmocka_unit_test(message__clears_after_a_while),
		cmocka_unit_test(ticket_events__current_and_session_counts),
		cmocka_unit_test(window_event__fetch_or_clear),
		cmocka_unit_test(queue__answer_and_events),
		cmocka_unit_test(stats__clerk_row_taken),
		cmocka_unit_test(json_strings__bounded_and_whole_characters),
	};
	return cmocka_run_group_tests_name("counter_app", tests, NULL, NULL);
}
