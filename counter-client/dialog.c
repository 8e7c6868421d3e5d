/* Dialogs: confirmations, questions, lists, text entry and the rating, as a small state
 * machine fed one key at a time. Pure (no curses calls), so it is unit-tested; screen.c draws. */
#include "counter.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

#define KEY_ESC 0x1b

/* Clears the dialog and sets what it is; hints default per kind. */
void dialog_open(struct dialog *d, enum dialog_kind kind, enum dialog_purpose purpose,
		 const char *title)
{
	memset(d, 0, sizeof *d);
	d->kind = kind;
	d->purpose = purpose;
	d->input_max = DIALOG_TEXT_MAX - 1;
	app_format(d->title, sizeof d->title, "%s", title);
	switch (kind) {
	case DIALOG_CONFIRM:
		app_format(d->hint, sizeof d->hint, "y/Enter 确认 yes   n/Esc 取消 no");
		break;
	case DIALOG_QUESTION:
		app_format(d->hint, sizeof d->hint, "y 是 yes   n/Enter 否 no   Esc 取消 cancel");
		break;
	case DIALOG_LIST:
		app_format(d->hint, sizeof d->hint, "↑↓ 1-9 选择 choose   Enter 确定   Esc 取消");
		break;
	case DIALOG_TEXT:
		app_format(d->hint, sizeof d->hint, "Enter 确定 OK   Esc 取消 cancel");
		break;
	case DIALOG_RATING:
		app_format(d->hint, sizeof d->hint, "1-5 评分 rating   Enter 不评 none   Esc 取消");
		break;
	case DIALOG_NONE:
		break;
	}
}

/* Appends an item, bounded by DIALOG_ITEMS_MAX. */
int dialog_add_item(struct dialog *d, const char *key, const char *label)
{
	if (d->nitems >= DIALOG_ITEMS_MAX)
		return -1;
	struct dialog_item *item = &d->items[d->nitems++];
	app_format(item->key, sizeof item->key, "%s", key);
	app_format(item->label, sizeof item->label, "%s", label);
	return 0;
}

/* Whether a dialog is showing. */
bool dialog_is_open(const struct dialog *d)
{
	return d->kind != DIALOG_NONE;
}

/* Closes the dialog with a result, keeping its answer fields for the caller. */
static enum dialog_result dialog_close(struct dialog *d, enum dialog_result result)
{
	d->kind = DIALOG_NONE;
	return result;
}

/* Removes the last UTF-8 character of the input. */
static void dialog_backspace(struct dialog *d)
{
	while (d->input_len > 0) {
		unsigned char c = (unsigned char)d->input[--d->input_len];
		if ((c & 0xc0) != 0x80)
			break; /* that was the first byte of the character */
	}
	d->input[d->input_len] = '\0';
}

/* Adds a character to the input when it passes the filter and fits. */
static void dialog_type(struct dialog *d, int key)
{
	if (key < 0x20 || key == 0x7f || (key >= 0x80 && key < 0xa0) || key > 0x10ffff)
		return;
	if (d->flags & DIALOG_TEXT_TICKET) {
		if (key >= 'a' && key <= 'z')
			key = key - 'a' + 'A';
		if (!((key >= 'A' && key <= 'Z') || (key >= '0' && key <= '9') || key == '-'))
			return;
	}
	char bytes[8];
	size_t n;
	if (key < 0x80) {
		bytes[0] = (char)key;
		n = 1;
	} else {
		/* UTF-8 by hand: the input is sent as JSON (UTF-8) whatever the locale. */
		unsigned int cp = (unsigned int)key;
		if (cp < 0x800) {
			bytes[0] = (char)(0xc0 | (cp >> 6));
			bytes[1] = (char)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			if (cp >= 0xd800 && cp <= 0xdfff)
				return;
			bytes[0] = (char)(0xe0 | (cp >> 12));
			bytes[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			bytes[2] = (char)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			bytes[0] = (char)(0xf0 | (cp >> 18));
			bytes[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
			bytes[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
			bytes[3] = (char)(0x80 | (cp & 0x3f));
			n = 4;
		}
	}
	size_t max = d->input_max < DIALOG_TEXT_MAX - 1 ? d->input_max : DIALOG_TEXT_MAX - 1;
	if (d->input_len + n > max)
		return;
	memcpy(d->input + d->input_len, bytes, n);
	d->input_len += n;
	d->input[d->input_len] = '\0';
}

/* One key for a list: moves the selection or picks an item. */
static enum dialog_result dialog_list_key(struct dialog *d, int key)
{
	if (key == (KEY_UP | COUNTER_KEY_FN) || key == 'k') {
		if (d->selected > 0)
			d->selected--;
	} else if (key == (KEY_DOWN | COUNTER_KEY_FN) || key == 'j') {
		if (d->selected + 1 < d->nitems)
			d->selected++;
	} else if (key == (KEY_HOME | COUNTER_KEY_FN)) {
		d->selected = 0;
	} else if (key == (KEY_END | COUNTER_KEY_FN)) {
		d->selected = d->nitems > 0 ? d->nitems - 1 : 0;
	} else if (key >= '1' && key <= '9' && key - '1' < d->nitems) {
		d->selected = key - '1';
		d->result = d->selected;
		return dialog_close(d, DIALOG_DONE);
	} else if ((key == '\n' || key == '\r' || key == (KEY_ENTER | COUNTER_KEY_FN)) &&
		   d->nitems > 0) {
		d->result = d->selected;
		return dialog_close(d, DIALOG_DONE);
	}
	return DIALOG_OPEN;
}

/* Feeds a key to the open dialog. */
enum dialog_result dialog_key(struct dialog *d, int key)
{
	bool enter = key == '\n' || key == '\r' || key == (KEY_ENTER | COUNTER_KEY_FN);
	if (d->kind == DIALOG_NONE)
		return DIALOG_CANCELLED;
	if (key == KEY_ESC || key == 0x03) /* Esc, or Ctrl-C which in raw mode is a key */
		return dialog_close(d, DIALOG_CANCELLED);
	switch (d->kind) {
	case DIALOG_CONFIRM:
		if (key == 'y' || key == 'Y' || enter) { /* the dialog was asked for: Enter agrees */
			d->result = 1;
			return dialog_close(d, DIALOG_DONE);
		}
		if (key == 'n' || key == 'N')
			return dialog_close(d, DIALOG_CANCELLED);
		return DIALOG_OPEN;
	case DIALOG_QUESTION:
		/* Enter takes the answer that changes least: no (for the requeue question, the
		 * ticket stays a no-show rather than coming back unasked). */
		if (key == 'y' || key == 'Y' || key == 'n' || key == 'N' || enter) {
			d->result = key == 'y' || key == 'Y';
			return dialog_close(d, DIALOG_DONE);
		}
		return DIALOG_OPEN;
	case DIALOG_RATING:
		if (key >= '1' && key <= '5') {
			d->result = key - '0';
			return dialog_close(d, DIALOG_DONE);
		}
		if (enter) {
			d->result = 0;
			return dialog_close(d, DIALOG_DONE);
		}
		return DIALOG_OPEN;
	case DIALOG_LIST:
		return dialog_list_key(d, key);
	case DIALOG_TEXT:
		if (enter)
			return dialog_close(d, DIALOG_DONE);
		if (key == (KEY_BACKSPACE | COUNTER_KEY_FN) || key == 0x7f || key == 0x08)
			dialog_backspace(d);
		else if (key == 0x15) { /* Ctrl-U clears the line, as in a shell */
			d->input_len = 0;
			d->input[0] = '\0';
		} else if (!(key & COUNTER_KEY_FN))
			dialog_type(d, key);
		return DIALOG_OPEN;
	case DIALOG_NONE:
		break;
	}
	return DIALOG_CANCELLED;
}
