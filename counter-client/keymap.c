/* The keys of the console: each action has a function key and a letter, both shown in the
 * footer. Pure functions, unit-tested. */
#include "counter.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

/* The footer order is the order of a clerk's day: the normal flow first. */
static const struct keymap_entry keymap_table[] = {
	{ACT_NEXT, 1, 'n', "Next", "下一位"},
	{ACT_RECALL, 2, 'r', "Recall", "重呼"},
	{ACT_START, 3, 's', "Start", "开始"},
	{ACT_FINISH, 4, 'f', "Finish", "办结"},
	{ACT_NO_SHOW, 5, 'x', "No-show", "未到"},
	{ACT_TRANSFER, 6, 't', "Transfer", "转移"},
	{ACT_CALL, 7, 'c', "Call no.", "指定叫号"},
	{ACT_PAUSE, 8, 'p', "Pause", "暂停"},
	{ACT_RESUME, 9, 'u', "Resume", "恢复"},
	{ACT_CLOSE, 10, 'k', "Close", "关窗"},
	/* No function key: F11 is the terminal's full screen in most emulators. Last but one, so
	 * the footer still fits two lines at 80 columns. */
	{ACT_NO_SHOW_NEXT, 0, 'm', "No-show+next", "未到叫下一位"},
	{ACT_QUIT, 0, 'q', "Quit", "退出"},
};

/* Looks the key up; letters in either case, Ctrl-C and F12 quit, Ctrl-L redraws. */
enum action keymap_action(int key)
{
	if (key == 0x03 || key == (KEY_F(12) | COUNTER_KEY_FN))
		return ACT_QUIT;
	if (key == 0x0c)
		return ACT_REDRAW;
	int letter = key >= 'A' && key <= 'Z' ? key - 'A' + 'a' : key;
	for (size_t i = 0; i < sizeof keymap_table / sizeof keymap_table[0]; i++) {
		const struct keymap_entry *e = &keymap_table[i];
		if (e->fkey && key == (KEY_F(e->fkey) | COUNTER_KEY_FN))
			return e->action;
		if (letter == e->letter)
			return e->action;
	}
	return ACT_NONE;
}

/* The table for the footer and the docs. */
const struct keymap_entry *keymap_entries(size_t *n)
{
	*n = sizeof keymap_table / sizeof keymap_table[0];
	return keymap_table;
}

/* Fills lines greedily, entry by entry, so no entry is split across two lines. */
static int keymap_layout(char lines[][256], int max_lines, size_t width, bool with_zh)
{
	int line = 0;
	size_t used = 0;
	lines[0][0] = '\0';
	for (size_t i = 0; i < sizeof keymap_table / sizeof keymap_table[0]; i++) {
		const struct keymap_entry *e = &keymap_table[i];
		char key[16], entry[96];
		if (e->fkey)
			snprintf(key, sizeof key, "F%d/%c", e->fkey, e->letter);
		else
			snprintf(key, sizeof key, "%c", e->letter);
		if (with_zh)
			snprintf(entry, sizeof entry, "%s %s %s", key, e->zh, e->name);
		else
			snprintf(entry, sizeof entry, "%s %s", key, e->name);
		size_t w = utf8_width(entry);
		size_t gap = used ? 2 : 0;
		if (used + gap + w > width) {
			if (++line == max_lines || w > width)
				return 0;
			lines[line][0] = '\0';
			used = 0;
			gap = 0;
		}
		size_t at = strlen(lines[line]);
		if (at + gap + strlen(entry) >= 256)
			return 0;
		snprintf(lines[line] + at, 256 - at, "%s%s", gap ? "  " : "", entry);
		used += gap + w;
	}
	return line + 1;
}

/* Chinese labels when they fit, English otherwise. */
int keymap_footer(char lines[][256], int max_lines, size_t width)
{
	if (max_lines < 1)
		return 0;
	int n = keymap_layout(lines, max_lines, width, true);
	if (n == 0)
		n = keymap_layout(lines, max_lines, width, false);
	return n;
}
