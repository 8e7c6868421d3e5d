/* Unit tests of the clerk console's pure logic: the waited-minutes format, the key map and its
 * footer, width-aware columns of Chinese names (common/utf8.c's utf8_pad) and the dialogs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curses.h>
#include <locale.h>
#include <string.h>

#include "../../counter-client/counter.h"
#include "utf8.h"

#define FN(k) ((k) | COUNTER_KEY_FN)

/* Minutes are whole and rounded down; an hour or more is spelled out; negatives are 0. */
static void format_minutes__spans__rounded_down(void **state)
{
	(void)state;
	char buf[32];
	const struct {
		long long seconds;
		const char *want;
	} cases[] = {{-5, "<1 min"}, {0, "<1 min"},	 {59, "<1 min"},	 {60, "1 min"},
		     {119, "1 min"}, {3599, "59 min"}, {3600, "1 h 00 min"}, {7500, "2 h 05 min"}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		format_minutes(buf, sizeof buf, cases[i].seconds);
		assert_string_equal(buf, cases[i].want);
	}
	format_minutes(buf, 4, 7500); /* bounded */
	assert_int_equal(strlen(buf), 3);
}

/* The range in whole minutes rounded up, or the single estimate when there is none to show. */
static void format_estimate__range_or_single(void **state)
{
	(void)state;
	char buf[32];
	format_estimate(buf, sizeof buf, 900, 400, 1700);
	assert_string_equal(buf, "7-29 min");
	format_estimate(buf, sizeof buf, 900, -1, -1); /* an older server: no range */
	assert_string_equal(buf, "~15 min");
	format_estimate(buf, sizeof buf, 150, 130, 170); /* the same minute at both ends */
	assert_string_equal(buf, "~2 min");
	format_estimate(buf, sizeof buf, 0, 0, 0); /* a free window */
	assert_string_equal(buf, "~<1 min");
	format_estimate(buf, 6, 900, 400, 1700); /* bounded */
	assert_int_equal(strlen(buf), 5);
}

/* States and classes have labels in both languages; class marks are two columns each. */
static void format_labels__known_and_unknown(void **state)
{
	(void)state;
	assert_string_equal(format_window_state("paused"), "暂停 Paused");
	assert_string_equal(format_window_state("someday"), "?");
	assert_string_equal(format_window_state(NULL), "?");
	assert_string_equal(format_ticket_state("no_show"), "未到 no-show");
	assert_string_equal(format_class_label("priority"), "绿色通道 Priority");
	assert_string_equal(format_class_label("normal"), "普通 Normal");
	const char *classes[] = {"priority", "appointment", "normal", "other"};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(utf8_width(format_class_mark(classes[i])), 2);
}

/* A window's state carries its time in it when the server sends since; op names are short. */
static void format_state_since__with_and_without(void **state)
{
	(void)state;
	char buf[64];
	format_state_since(buf, sizeof buf, "idle", NULL, 1795744800, 1795744800 + 12 * 60 + 30);
	assert_string_equal(buf, "空闲 Idle 12 min");
	format_state_since(buf, sizeof buf, "paused", "", 1795744800, 1795744800 + 3700);
	assert_string_equal(buf, "暂停 Paused 1 h 01 min");
	format_state_since(buf, sizeof buf, "paused", "lunch", 1795744800, 1795744800 + 120);
	assert_string_equal(buf, "暂停 Paused: lunch 2 min"); /* the reason before the time, which may be cut */
	format_state_since(buf, sizeof buf, "calling", NULL, 0, 1795744800);
	assert_string_equal(buf, "呼叫中 Calling");
	assert_string_equal(format_op_label("call_next"), "Next");
	assert_string_equal(format_op_label("no_show"), "No-show");
	assert_string_equal(format_op_label("mystery"), "mystery");
}

/* Every action has its function key and its letter, in either case; others are unbound. */
static void keymap__fkeys_and_letters__same_action(void **state)
{
	(void)state;
	size_t n;
	const struct keymap_entry *e = keymap_entries(&n);
	assert_true(n >= 11);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(keymap_action(e[i].letter), e[i].action);
		assert_int_equal(keymap_action(e[i].letter - 'a' + 'A'), e[i].action);
		if (e[i].fkey)
			assert_int_equal(keymap_action(FN(KEY_F(e[i].fkey))), e[i].action);
	}
	assert_int_equal(keymap_action('n'), ACT_NEXT);
	assert_int_equal(keymap_action(FN(KEY_F(1))), ACT_NEXT);
	assert_int_equal(keymap_action(FN(KEY_F(5))), ACT_NO_SHOW);
	assert_int_equal(keymap_action('m'), ACT_NO_SHOW_NEXT); /* no-show and call next, one key */
	assert_int_equal(keymap_action(0x03), ACT_QUIT); /* Ctrl-C in raw mode */
	assert_int_equal(keymap_action(0x0c), ACT_REDRAW);
	assert_int_equal(keymap_action('z'), ACT_NONE);
	assert_int_equal(keymap_action('1'), ACT_NONE);
	assert_int_equal(keymap_action(FN(KEY_F(11))), ACT_NONE);
	/* A character whose code equals a KEY_ value is a character, not that key. */
	assert_int_equal(keymap_action(KEY_F(1)), ACT_NONE);
	/* Letters are unique. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			assert_int_not_equal(e[i].letter, e[j].letter);
}

/* The footer fits in two lines at 80 columns (English) and shows Chinese when wide enough. */
static void keymap_footer__fits_width(void **state)
{
	(void)state;
	char lines[3][256];
	int n = keymap_footer(lines, 2, 79);
	assert_int_equal(n, 2);
	for (int i = 0; i < n; i++)
		assert_true(utf8_width(lines[i]) <= 79);
	assert_non_null(strstr(lines[0], "F1/n Next"));
	assert_null(strstr(lines[0], "下一位"));
	assert_non_null(strstr(lines[1], "m No-show+next"));
	assert_non_null(strstr(lines[1], "q Quit"));
	n = keymap_footer(lines, 2, 119);
	assert_int_equal(n, 2);
	assert_non_null(strstr(lines[0], "F1/n 下一位 Next"));
	for (int i = 0; i < n; i++)
		assert_true(utf8_width(lines[i]) <= 119);
	assert_int_equal(keymap_footer(lines, 2, 10), 0);
}

/* Chinese names take two columns a character: padding and cutting keep columns aligned. */
static void utf8_pad__chinese_names__exact_columns(void **state)
{
	(void)state;
	char out[128];
	assert_int_equal(utf8_pad(out, sizeof out, "社会保障", 10, 0), 10);
	assert_string_equal(out, "社会保障  ");
	assert_int_equal(utf8_width(out), 10);
	assert_int_equal(utf8_pad(out, sizeof out, "社会保障 Social security", 12, 0), 12);
	assert_string_equal(out, "社会保障 So…");
	/* A wide character that would straddle the edge: the ellipsis follows the last character
	 * kept and the padding comes after it, never a stray space before "…". */
	assert_int_equal(utf8_pad(out, sizeof out, "出入境管理", 6, 0), 6);
	assert_string_equal(out, "出入… ");
	assert_int_equal(utf8_width(out), 6);
	/* A cut right after a word drops the space too. */
	assert_int_equal(utf8_pad(out, sizeof out, "社会保障 Social security", 10, 0), 10);
	assert_string_equal(out, "社会保障… ");
	char cut[64];
	assert_int_equal(utf8_truncate("Exit entry administration", 6, cut, sizeof cut), 5);
	assert_string_equal(cut, "Exit…");
	assert_int_equal(utf8_pad(out, sizeof out, "7 min", 8, 1), 8);
	assert_string_equal(out, "   7 min");
	assert_int_equal(utf8_pad(out, sizeof out, "A012", 0, 0), 0);
	assert_string_equal(out, "");
	/* Control characters never reach the terminal. */
	utf8_pad(out, sizeof out, "a\x1b[2Jb", 6, 0);
	assert_string_equal(out, "a?[2Jb");
	/* A small buffer is never overrun and never holds half a character. */
	char small[8];
	size_t cols = utf8_pad(small, sizeof small, "社会保障", 8, 0);
	assert_int_equal(cols, 5);
	assert_string_equal(small, "社会 ");
}

/* A confirmation takes y; n and Esc cancel; other keys wait. */
static void dialog_confirm__y_or_cancel(void **state)
{
	(void)state;
	struct dialog d;
	dialog_open(&d, DIALOG_CONFIRM, PURPOSE_CLOSE_CONFIRM, "Close");
	assert_true(dialog_is_open(&d));
	assert_int_equal(dialog_key(&d, 'q'), DIALOG_OPEN);
	assert_int_equal(dialog_key(&d, 'Y'), DIALOG_DONE);
	assert_false(dialog_is_open(&d));
	assert_int_equal(d.purpose, PURPOSE_CLOSE_CONFIRM);
	dialog_open(&d, DIALOG_CONFIRM, PURPOSE_CLOSE_CONFIRM, "Close");
	assert_int_equal(dialog_key(&d, 'n'), DIALOG_CANCELLED);
	dialog_open(&d, DIALOG_CONFIRM, PURPOSE_CLOSE_CONFIRM, "Close");
	assert_int_equal(dialog_key(&d, 0x1b), DIALOG_CANCELLED);
	/* Enter agrees, as the hint says. */
	dialog_open(&d, DIALOG_CONFIRM, PURPOSE_CLOSE_CONFIRM, "Close");
	assert_non_null(strstr(d.hint, "Enter"));
	assert_int_equal(dialog_key(&d, '\r'), DIALOG_DONE);
	assert_int_equal(d.result, 1);
	dialog_open(&d, DIALOG_CONFIRM, PURPOSE_CLOSE_CONFIRM, "Close");
	assert_int_equal(dialog_key(&d, FN(KEY_ENTER)), DIALOG_DONE);
}

/* The requeue question: y is 1, n is 0, Esc cancels. */
static void dialog_question__yes_no_cancel(void **state)
{
	(void)state;
	struct dialog d;
	dialog_open(&d, DIALOG_QUESTION, PURPOSE_REQUEUE, "No-show");
	assert_int_equal(dialog_key(&d, 'y'), DIALOG_DONE);
	assert_int_equal(d.result, 1);
	dialog_open(&d, DIALOG_QUESTION, PURPOSE_REQUEUE, "No-show");
	assert_int_equal(dialog_key(&d, 'n'), DIALOG_DONE);
	assert_int_equal(d.result, 0);
	dialog_open(&d, DIALOG_QUESTION, PURPOSE_REQUEUE, "No-show");
	assert_int_equal(dialog_key(&d, 0x1b), DIALOG_CANCELLED);
	/* Enter answers no, the answer that changes least, as the hint says. */
	dialog_open(&d, DIALOG_QUESTION, PURPOSE_REQUEUE, "No-show");
	assert_non_null(strstr(d.hint, "n/Enter"));
	d.result = 7;
	assert_int_equal(dialog_key(&d, '\n'), DIALOG_DONE);
	assert_int_equal(d.result, 0);
}

/* The rating: 1-5, Enter for none, anything else waits. */
static void dialog_rating__digits_or_none(void **state)
{
	(void)state;
	struct dialog d;
	dialog_open(&d, DIALOG_RATING, PURPOSE_RATING, "Finish");
	assert_int_equal(dialog_key(&d, '6'), DIALOG_OPEN);
	assert_int_equal(dialog_key(&d, '0'), DIALOG_OPEN);
	assert_int_equal(dialog_key(&d, '5'), DIALOG_DONE);
	assert_int_equal(d.result, 5);
	dialog_open(&d, DIALOG_RATING, PURPOSE_RATING, "Finish");
	assert_int_equal(dialog_key(&d, FN(KEY_ENTER)), DIALOG_DONE);
	assert_int_equal(d.result, 0);
}

/* A list moves with arrows within its bounds and picks with Enter or a digit. */
static void dialog_list__arrows_digits_bounds(void **state)
{
	(void)state;
	struct dialog d;
	dialog_open(&d, DIALOG_LIST, PURPOSE_TRANSFER_SERVICE, "Transfer");
	dialog_add_item(&d, "A", "社会保障");
	dialog_add_item(&d, "B", "出入境");
	dialog_add_item(&d, "C", "税务");
	assert_int_equal(dialog_key(&d, FN(KEY_UP)), DIALOG_OPEN);
	assert_int_equal(d.selected, 0);
	dialog_key(&d, FN(KEY_DOWN));
	dialog_key(&d, FN(KEY_DOWN));
	dialog_key(&d, FN(KEY_DOWN));
	assert_int_equal(d.selected, 2);
	dialog_key(&d, 'k');
	assert_int_equal(dialog_key(&d, '\r'), DIALOG_DONE);
	assert_string_equal(d.items[d.result].key, "B");
	dialog_open(&d, DIALOG_LIST, PURPOSE_TRANSFER_SERVICE, "Transfer");
	dialog_add_item(&d, "A", "社会保障");
	assert_int_equal(dialog_key(&d, '2'), DIALOG_OPEN); /* no second item */
	assert_int_equal(dialog_key(&d, '1'), DIALOG_DONE);
	assert_int_equal(d.result, 0);
	for (int i = 0; i < DIALOG_ITEMS_MAX; i++)
		dialog_add_item(&d, "x", "x");
	assert_int_equal(dialog_add_item(&d, "y", "y"), -1);
}

/* Text entry: UTF-8 in and out, backspace by character, bounded, ticket filter. */
static void dialog_text__utf8_backspace_bound_filter(void **state)
{
	(void)state;
	struct dialog d;
	dialog_open(&d, DIALOG_TEXT, PURPOSE_PAUSE_REASON, "Pause");
	dialog_key(&d, 0x5348); /* 午 */
	dialog_key(&d, 0x996d); /* 饭 */
	dialog_key(&d, 0x1b5b);
	assert_string_equal(d.input, "午饭\xe1\xad\x9b");
	dialog_key(&d, FN(KEY_BACKSPACE));
	assert_string_equal(d.input, "午饭");
	dialog_key(&d, 0x7f);
	assert_string_equal(d.input, "午");
	dialog_key(&d, 0x07); /* controls are not typed */
	dialog_key(&d, FN(KEY_F(1)));
	assert_string_equal(d.input, "午");
	assert_int_equal(dialog_key(&d, '\r'), DIALOG_DONE);
	assert_string_equal(d.input, "午");

	dialog_open(&d, DIALOG_TEXT, PURPOSE_CALL_NUMBER, "Call");
	d.flags = DIALOG_TEXT_TICKET;
	d.input_max = 5;
	const char *typed = "a0 1!2345";
	for (const char *p = typed; *p; p++)
		dialog_key(&d, *p);
	assert_string_equal(d.input, "A0123"); /* upper-cased, filtered, cut at 5 bytes */
	dialog_key(&d, 0x15);
	assert_string_equal(d.input, "");
	assert_int_equal(dialog_key(&d, 0x1b), DIALOG_CANCELLED);
}

int main(void)
{
	setlocale(LC_ALL, "C.UTF-8");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_minutes__spans__rounded_down),
		cmocka_unit_test(format_estimate__range_or_single),
		cmocka_unit_test(format_labels__known_and_unknown),
		cmocka_unit_test(format_state_since__with_and_without),
		cmocka_unit_test(keymap__fkeys_and_letters__same_action),
		cmocka_unit_test(keymap_footer__fits_width),
		cmocka_unit_test(utf8_pad__chinese_names__exact_columns),
		cmocka_unit_test(dialog_confirm__y_or_cancel),
		cmocka_unit_test(dialog_question__yes_no_cancel),
		cmocka_unit_test(dialog_rating__digits_or_none),
		cmocka_unit_test(dialog_list__arrows_digits_bounds),
		cmocka_unit_test(dialog_text__utf8_backspace_bound_filter),
	};
	return cmocka_run_group_tests_name("counter_ui", tests, NULL, NULL);
}
