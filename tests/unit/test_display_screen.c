/* Unit tests of the display's pure parts: the call queue (order, minimum time, bound), zones,
 * the state fed by a snapshot and events, the layout at 80x24 up to a huge console, the big
 * font, and the UTF-8 width helpers it draws with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "../../display/display.h"
#include "utf8.h"

/* A call of number to window at a time. */
static struct call make_call(const char *number, int window, long long at)
{
	struct call c;
	memset(&c, 0, sizeof c);
	snprintf(c.number, sizeof c.number, "%s", number);
	c.window = window;
	c.at = at;
	return c;
}

/* The first call goes up at once; later ones wait for the minimum time, then come in order. */
static void callq__burst__shown_in_order_each_for_its_time(void **state)
{
	(void)state;
	static struct callq q;
	struct call out;
	bool listed;
	char name[16];
	callq_init(&q, 200);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof name, "A%03d", i + 1);
		struct call c = make_call(name, 1, 100);
		int shown = callq_push(&q, &c, 1000 + i * 10, &out, &listed);
		assert_int_equal(shown, i == 0);
		assert_false(listed);
	}
	assert_string_equal(q.current.number, "A001");
	assert_int_equal(q.count, 9);
	assert_int_equal(callq_next_due_ms(&q, 1100), 100);
	assert_int_equal(callq_advance(&q, 1199, &out), 0); /* not yet */
	long long t = 1200;
	for (int i = 1; i < 10; i++) {
		assert_int_equal(callq_advance(&q, t, &out), 1);
		snprintf(name, sizeof name, "A%03d", i);
		assert_string_equal(out.number, name); /* the one taken down */
		snprintf(name, sizeof name, "A%03d", i + 1);
		assert_string_equal(q.current.number, name);
		assert_int_equal(callq_advance(&q, t + 199, &out), 0);
		t += 200;
	}
	assert_int_equal(callq_next_due_ms(&q, t), -1);
}

/* A call after the line is free replaces the current one, which goes to the list. */
static void callq__free_line__replaced_call_goes_to_list(void **state)
{
	(void)state;
	static struct callq q;
	struct call out;
	bool listed;
	callq_init(&q, 200);
	struct call a = make_call("A001", 1, 1), b = make_call("B001", 3, 2);
	assert_int_equal(callq_push(&q, &a, 0, &out, &listed), 1);
	assert_int_equal(callq_push(&q, &b, 500, &out, &listed), 1);
	assert_true(listed);
	assert_string_equal(out.number, "A001");
	assert_true(callq_contains(&q, &b));
	assert_false(callq_contains(&q, &a));
}

/* Past the bound the oldest waiting call goes to the list; nothing is silently lost. */
static void callq__full__oldest_waiting_goes_to_list(void **state)
{
	(void)state;
	static struct callq q;
	struct call out;
	bool listed;
	char name[16];
	callq_init(&q, 1000);
	for (int i = 0; i <= CALLQ_MAX; i++) {
		snprintf(name, sizeof name, "A%03d", i % 1000);
		struct call c = make_call(name, 1, i);
		callq_push(&q, &c, 0, &out, &listed);
		assert_false(listed);
	}
	assert_int_equal(q.count, CALLQ_MAX);
	struct call extra = make_call("Z999", 2, 9999);
	assert_int_equal(callq_push(&q, &extra, 0, &out, &listed), 0);
	assert_true(listed);
	assert_string_equal(out.number, "A001"); /* the oldest waiting, not the one up */
	assert_int_equal(q.dropped, 1);
	assert_int_equal(q.count, CALLQ_MAX);
	assert_true(callq_contains(&q, &extra));
}

/* Window ranges and service lists parse, and bad ones are refused with a sentence. */
static void zones__parse_and_filter(void **state)
{
	(void)state;
	static struct zone z;
	char err[256];
	memset(&z, 0, sizeof z);
	assert_true(zone_has_window(&z, 42));
	assert_true(zone_has_service(&z, "Q"));
	assert_int_equal(zone_parse_windows(&z, "1-6,8", err, sizeof err), 0);
	assert_true(zone_has_window(&z, 1));
	assert_true(zone_has_window(&z, 6));
	assert_false(zone_has_window(&z, 7));
	assert_true(zone_has_window(&z, 8));
	assert_false(zone_has_window(&z, 9));
	assert_int_equal(zone_parse_services(&z, "A,B", err, sizeof err), 0);
	assert_true(zone_has_service(&z, "B"));
	assert_false(zone_has_service(&z, "C"));
	const char *bad_windows[] = {"", "6-1", "1,", "a", "1-", "-3", "1;2", "0"};
	for (size_t i = 0; i < sizeof bad_windows / sizeof bad_windows[0]; i++) {
		err[0] = '\0';
		assert_int_equal(zone_parse_windows(&z, bad_windows[i], err, sizeof err), -1);
		assert_non_null(strstr(err, "--windows"));
	}
	const char *bad_services[] = {"", "A,", ",A", "A B", "A,,B"};
	for (size_t i = 0; i < sizeof bad_services / sizeof bad_services[0]; i++)
		assert_int_equal(zone_parse_services(&z, bad_services[i], err, sizeof err), -1);
}

/* A snapshot fills the state; events update it; a called event becomes a call. */
static void state__snapshot_and_events(void **state)
{
	(void)state;
	static struct state st;
	static struct zone z;
	state_init(&st);
	memset(&z, 0, sizeof z);
	cJSON *snap = cJSON_Parse(
		"{\"ok\":true,\"site\":{\"name\":\"测试大厅\",\"name_en\":\"Test hall\",\"tz\":\"Asia/Shanghai\","
		"\"date\":\"2026-11-27\",\"sla\":600},"
		"\"services\":[{\"id\":\"A\",\"prefix\":\"A\",\"name\":\"社会保障\",\"name_en\":\"Social security\","
		"\"waiting\":3,\"ewt\":540},{\"id\":\"AB\",\"prefix\":\"AB\",\"name\":\"x\",\"name_en\":\"y\"}],"
		"\"windows\":[{\"id\":3,\"name\":\"3号窗口\",\"name_en\":\"Window 3\",\"state\":\"idle\",\"ticket\":null}],"
		"\"recent\":[{\"number\":\"AB002\",\"window\":3,\"at\":100}]}");
	assert_non_null(snap);
	state_apply_snapshot(&st, snap);
	assert_string_equal(st.site_name, "测试大厅");
	assert_int_equal(st.sla, 600);
	assert_int_equal(st.nservices, 2);
	assert_int_equal(st.services[0].waiting, 3);
	struct call call;
	assert_int_equal(state_call_from_recent(&st, cJSON_GetArrayItem(cJSON_GetObjectItem(snap, "recent"), 0),
						&call),
			 1);
	assert_string_equal(call.service, "AB"); /* the longest prefix */
	assert_string_equal(call.window_name, "3号窗口");
	cJSON_Delete(snap);

	assert_int_equal(st.services[0].ewt_low, -1); /* no range sent */
	cJSON *ev = cJSON_Parse("{\"event\":\"queue\",\"service\":\"A\",\"waiting\":7,\"ewt\":900,"
				"\"ewt_low\":400,\"ewt_high\":1700}");
	assert_int_equal(state_apply_event(&st, ev, &call), 0);
	assert_int_equal(st.services[0].waiting, 7);
	assert_int_equal(st.services[0].ewt_low, 400);
	assert_int_equal(st.services[0].ewt_high, 1700);
	cJSON_Delete(ev);
	ev = cJSON_Parse("{\"event\":\"window\",\"window\":{\"id\":3,\"state\":\"calling\",\"ticket\":\"A001\"}}");
	state_apply_event(&st, ev, &call);
	assert_string_equal(st.windows[0].ticket, "A001");
	assert_string_equal(st.windows[0].name, "3号窗口"); /* kept */
	cJSON_Delete(ev);
	ev = cJSON_Parse("{\"event\":\"called\",\"ticket\":{\"number\":\"A001\",\"service\":\"A\"},"
			 "\"window\":{\"id\":3,\"name\":\"3号窗口\",\"name_en\":\"Window 3\"},\"recall\":1,\"at\":200}");
	assert_int_equal(state_apply_event(&st, ev, &call), 1);
	cJSON_Delete(ev);
	assert_string_equal(call.number, "A001");
	assert_int_equal(call.window, 3);
	assert_int_equal(call.recall, 1);
	assert_string_equal(call.window_name_en, "Window 3");
	assert_true(state_call_in_zone(&st, &z, &call));
	char err[64];
	zone_parse_services(&z, "B", err, sizeof err);
	assert_false(state_call_in_zone(&st, &z, &call));

	for (int i = 0; i < DISPLAY_MAX_RECENT + 5; i++) {
		struct call c = make_call("A100", 1, i);
		state_push_recent(&st, &c);
	}
	assert_int_equal(st.nrecent, DISPLAY_MAX_RECENT);
	assert_int_equal(st.recent[0].at, DISPLAY_MAX_RECENT + 4); /* newest first */
	struct call old = make_call("A100", 1, 0);
	assert_false(state_knows_call(&st, &old)); /* fell off the bounded list */
}

/* The services panel shows the range in whole minutes, rounded up, or the estimate alone. */
static void estimate_text__range_or_single(void **state)
{
	(void)state;
	char buf[24];
	draw_estimate_text(900, 400, 1700, buf, sizeof buf);
	assert_string_equal(buf, "7-29 min");
	draw_estimate_text(900, -1, -1, buf, sizeof buf); /* an older server: no range */
	assert_string_equal(buf, "15 min");
	draw_estimate_text(0, 0, 0, buf, sizeof buf); /* a free window */
	assert_string_equal(buf, "<1 min");
	draw_estimate_text(150, 130, 170, buf, sizeof buf); /* one number of minutes */
	assert_string_equal(buf, "3 min");
	draw_estimate_text(20, 0, 50, buf, sizeof buf);
	assert_string_equal(buf, "0-1 min");
}

/* Every screen from 80x24 up gets big digits that fit, panels and a footer inside it. */
static void layout__sizes__everything_fits(void **state)
{
	(void)state;
	const int sizes[][2] = {{80, 24}, {100, 30}, {120, 40}, {200, 60}, {400, 120}, {60, 20}};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		for (int glyphs = 6; glyphs <= 8; glyphs++) {
			struct layout lay;
			int cols = sizes[i][0], rows = sizes[i][1];
			layout_compute(&lay, cols, rows, glyphs);
			assert_false(lay.too_small);
			assert_true(lay.sx >= 1 && lay.sy >= 1);
			assert_true(font_text_cols(glyphs, lay.sx) <= cols - 2);
			assert_true(lay.big_top + lay.big_rows <= lay.caption_row);
			assert_true(lay.caption_row < lay.panels_top);
			assert_true(lay.panels_top + lay.panels_rows < lay.target_row);
			assert_true(lay.panels_rows >= 7); /* a heading and six calls */
			assert_int_equal(lay.status_row, rows - 1);
			int last = lay.ncolumns - 1;
			assert_true(lay.column_x[last] + lay.column_w[last] <= cols);
		}
	}
	struct layout small, big;
	layout_compute(&small, 80, 24, 6);
	layout_compute(&big, 200, 60, 6);
	assert_true(big.sy > small.sy); /* a big console gets bigger digits */
	assert_int_equal(small.ncolumns, 2);
	assert_int_equal(big.ncolumns, 3);
	layout_compute(&small, 30, 10, 6);
	assert_true(small.too_small);
}

/* The font has every digit, letter and the arrow, each 5x5. */
static void font__digits_letters_arrow(void **state)
{
	(void)state;
	const char *chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ>";
	for (const char *c = chars; *c; c++) {
		const char *const *g = font_glyph(*c);
		assert_non_null(g);
		int lit = 0;
		for (int r = 0; r < FONT_ROWS; r++) {
			assert_int_equal(strlen(g[r]), FONT_COLS);
			lit += (int)(strchr(g[r], '#') != NULL);
		}
		assert_true(lit >= 3);
	}
	assert_ptr_equal(font_glyph('a'), font_glyph('A'));
	assert_null(font_glyph('@'));
	assert_int_equal(font_text_cols(6, 2), 70);
}

/* Chinese characters take two columns; cuts never split a character and end with "…". */
static void utf8__widths_and_truncation(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(utf8_width("A012"), 4);
	assert_int_equal(utf8_width("3号窗口"), 7);
	assert_int_equal(utf8_width("社会保障 Social security"), 24);
	assert_int_equal(utf8_truncate("3号窗口", 7, out, sizeof out), 7);
	assert_string_equal(out, "3号窗口");
	assert_int_equal(utf8_truncate("3号窗口", 6, out, sizeof out), 6);
	assert_string_equal(out, "3号窗…"); /* 1 + 2 + 2 + the ellipsis */
	assert_int_equal(utf8_truncate("社会保障", 4, out, sizeof out), 3);
	assert_string_equal(out, "社…"); /* a wide character is never cut in half */
	assert_int_equal(utf8_truncate("abcdef", 0, out, sizeof out), 0);
	assert_string_equal(out, "");
	assert_int_equal(utf8_truncate("社会保障", 10, out, 8), 3); /* bounded by the buffer */
	assert_string_equal(out, "社…");
	size_t cols;
	assert_int_equal(utf8_fit("ab社c", 3, &cols), 2);
	assert_int_equal(cols, 2);
	unsigned int cp;
	assert_int_equal(utf8_decode("\xff", 1, &cp), 1);
	assert_int_equal(cp, 0xfffd);
	assert_int_equal(utf8_width("\xe2\x96\x88"), 1); /* the full block of the big digits */
}

/* A zone's history from its windows' tickets: a called or serving ticket at a window is a
 * call; it goes into the recent list by its time; the windows list says how many more. */
static void state__zone_history_and_more_windows(void **state)
{
	(void)state;
	static struct state st;
	static struct zone z;
	state_init(&st);
	memset(&z, 0, sizeof z);
	char err[128];
	assert_int_equal(zone_parse_windows(&z, "2", err, sizeof err), 0);
	cJSON *snap = cJSON_Parse(
		"{\"ok\":true,\"services\":[{\"id\":\"C\",\"prefix\":\"C\",\"name\":\"税务\",\"name_en\":\"Tax\"}],"
		"\"windows\":[{\"id\":2,\"name\":\"2号窗口\",\"name_en\":\"Window 2\",\"state\":\"calling\","
		"\"ticket\":\"C001\"}],\"recent\":[]}");
	assert_non_null(snap);
	state_apply_snapshot(&st, snap);
	cJSON_Delete(snap);
	cJSON *ticket = cJSON_Parse("{\"id\":\"20261127-C001\",\"number\":\"C001\",\"service\":\"C\","
				    "\"state\":\"called\",\"window\":2,\"recalls\":1,\"called_at\":500}");
	struct call call;
	assert_int_equal(state_call_from_ticket(&st, ticket, &call), 1);
	assert_string_equal(call.number, "C001");
	assert_int_equal(call.window, 2);
	assert_string_equal(call.window_name, "2号窗口");
	assert_int_equal(call.recall, 1);
	assert_int_equal(call.at, 500);
	assert_true(state_call_in_zone(&st, &z, &call));
	cJSON_ReplaceItemInObject(ticket, "state", cJSON_CreateString("waiting"));
	assert_int_equal(state_call_from_ticket(&st, ticket, &call), 0); /* not at a window */
	cJSON_Delete(ticket);

	struct call a = {.number = "A001", .window = 1, .at = 300}, b = {.number = "B001", .window = 2, .at = 200},
		    c = {.number = "C001", .window = 2, .at = 250};
	state_push_recent(&st, &b);
	state_push_recent(&st, &a);
	state_insert_recent(&st, &c); /* between A001 (300) and B001 (200) */
	assert_int_equal(st.nrecent, 3);
	assert_string_equal(st.recent[0].number, "A001");
	assert_string_equal(st.recent[1].number, "C001");
	assert_string_equal(st.recent[2].number, "B001");
	for (int i = 0; i < DISPLAY_MAX_RECENT; i++) {
		struct call newer = {.window = 1, .at = 1000 + i};
		snprintf(newer.number, sizeof newer.number, "A%03d", 100 + i);
		state_push_recent(&st, &newer);
	}
	struct call old = {.number = "Z001", .window = 1, .at = 1};
	state_insert_recent(&st, &old); /* older than a full list: dropped */
	assert_int_equal(st.nrecent, DISPLAY_MAX_RECENT);
	assert_false(state_knows_call(&st, &old));

	assert_int_equal(draw_windows_listed(9, 5), 4); /* 4 listed, the 5th row says "5 more" */
	assert_int_equal(draw_windows_listed(5, 5), 5);
	assert_int_equal(draw_windows_listed(3, 5), 3);
	assert_int_equal(draw_windows_listed(3, 0), 0);
}

/* Runs every test of this file. */
int main(void)
{
	setlocale(LC_CTYPE, "C.UTF-8");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(callq__burst__shown_in_order_each_for_its_time),
		cmocka_unit_test(callq__free_line__replaced_call_goes_to_list),
		cmocka_unit_test(callq__full__oldest_waiting_goes_to_list),
		cmocka_unit_test(zones__parse_and_filter),
		cmocka_unit_test(state__snapshot_and_events),
		cmocka_unit_test(state__zone_history_and_more_windows),
		cmocka_unit_test(estimate_text__range_or_single),
		cmocka_unit_test(layout__sizes__everything_fits),
		cmocka_unit_test(font__digits_letters_arrow),
		cmocka_unit_test(utf8__widths_and_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
