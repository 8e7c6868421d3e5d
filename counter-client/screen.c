/* The screen: header, the current ticket large, the next tickets, waiting per service, the
 * clerk's counts, one status line and the key footer, redrawn whole from app.c's picture
 * (curses sends only what changed). Every string goes through utf8_pad, so Chinese names
 * (two columns a character) line up and nothing runs past its column. */
#include "counter.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

#define BIG_ROWS 5
#define BIG_COLS 4

enum screen_color {
	COLOR_HEADER = 1,
	COLOR_ERROR,
	COLOR_OK,
	COLOR_PRIORITY,
	COLOR_CALLED,
	COLOR_SERVING,
	COLOR_DIALOG,
};

/* Block letters of the big ticket number: '#' is a reversed cell. */
static const struct {
	char c;
	const char *rows[BIG_ROWS];
} screen_font[] = {
	{'0', {"####", "#  #", "#  #", "#  #", "####"}}, {'1', {"  # ", " ## ", "  # ", "  # ", " ###"}},
	{'2', {"####", "   #", "####", "#   ", "####"}}, {'3', {"####", "   #", " ###", "   #", "####"}},
	{'4', {"#  #", "#  #", "####", "   #", "   #"}}, {'5', {"####", "#   ", "####", "   #", "####"}},
	{'6', {"####", "#   ", "####", "#  #", "####"}}, {'7', {"####", "   #", "  # ", "  # ", "  # "}},
	{'8', {"####", "#  #", "####", "#  #", "####"}}, {'9', {"####", "#  #", "####", "   #", "####"}},
	{'A', {" ## ", "#  #", "####", "#  #", "#  #"}}, {'B', {"### ", "#  #", "### ", "#  #", "### "}},
	{'C', {" ###", "#   ", "#   ", "#   ", " ###"}}, {'D', {"### ", "#  #", "#  #", "#  #", "### "}},
	{'E', {"####", "#   ", "### ", "#   ", "####"}}, {'F', {"####", "#   ", "### ", "#   ", "#   "}},
	{'G', {" ###", "#   ", "# ##", "#  #", " ###"}}, {'H', {"#  #", "#  #", "####", "#  #", "#  #"}},
	{'I', {" ###", "  # ", "  # ", "  # ", " ###"}}, {'J', {"  ##", "   #", "   #", "#  #", " ## "}},
	{'K', {"#  #", "# # ", "##  ", "# # ", "#  #"}}, {'L', {"#   ", "#   ", "#   ", "#   ", "####"}},
	{'M', {"#  #", "####", "####", "#  #", "#  #"}}, {'N', {"#  #", "## #", "# ##", "#  #", "#  #"}},
	{'O', {" ## ", "#  #", "#  #", "#  #", " ## "}}, {'P', {"### ", "#  #", "### ", "#   ", "#   "}},
	{'Q', {" ## ", "#  #", "#  #", "# ##", " ###"}}, {'R', {"### ", "#  #", "### ", "# # ", "#  #"}},
	{'S', {" ###", "#   ", " ## ", "   #", "### "}}, {'T', {"####", " ## ", " ## ", " ## ", " ## "}},
	{'U', {"#  #", "#  #", "#  #", "#  #", " ## "}}, {'V', {"#  #", "#  #", "#  #", " ## ", " ## "}},
	{'W', {"#  #", "#  #", "####", "####", "#  #"}}, {'X', {"#  #", "#  #", " ## ", "#  #", "#  #"}},
	{'Y', {"#  #", "#  #", " ## ", " ## ", " ## "}}, {'Z', {"####", "   #", " ## ", "#   ", "####"}},
	{'-', {"    ", "    ", "####", "    ", "    "}},
};

/* The attribute of a color pair, or plain when the terminal has no colors. */
static attr_t screen_color(enum screen_color color)
{
	return has_colors() ? COLOR_PAIR(color) : A_NORMAL;
}

/* Sets up the color pairs once; the default background keeps the clerk's terminal theme. */
static void screen_colors_init(void)
{
	static bool done;
	if (done || !has_colors())
		return;
	done = true;
	start_color();
	use_default_colors();
	init_pair(COLOR_HEADER, COLOR_WHITE, COLOR_BLUE);
	init_pair(COLOR_ERROR, COLOR_RED, -1);
	init_pair(COLOR_OK, COLOR_GREEN, -1);
	init_pair(COLOR_PRIORITY, COLOR_RED, -1);
	init_pair(COLOR_CALLED, COLOR_YELLOW, -1); /* reversed: the blocks of the big number */
	init_pair(COLOR_SERVING, COLOR_GREEN, -1);
	init_pair(COLOR_DIALOG, COLOR_BLACK, COLOR_WHITE);
}

/* Writes s at (y, x) in exactly width columns (cut or padded, on the left when right_align),
 * clipped to the screen. */
static void screen_put_aligned(int y, int x, int width, const char *s, attr_t attr, int right_align)
{
	if (y < 0 || y >= LINES || x >= COLS || width <= 0)
		return;
	if (x + width > COLS)
		width = COLS - x;
	char buf[1024];
	utf8_pad(buf, sizeof buf, s, (size_t)width, right_align);
	attron(attr);
	mvaddstr(y, x, buf);
	attroff(attr);
}

/* Writes s left-aligned in exactly width columns. */
static void screen_put(int y, int x, int width, const char *s, attr_t attr)
{
	screen_put_aligned(y, x, width, s, attr, 0);
}

/* Writes s right-aligned in exactly width columns. */
static void screen_put_right(int y, int x, int width, const char *s, attr_t attr)
{
	screen_put_aligned(y, x, width, s, attr, 1);
}

/* The largest scale of the block letters (each font cell k columns by k rows) for which the
 * number takes at most a third of the panel's rows and fits its width; 1 at 80x24. */
static int screen_big_scale(const char *number, int width, int height)
{
	int glyphs = (int)strlen(number);
	int k = 1;
	while (BIG_ROWS * (k + 1) <= height / 3 && glyphs * (BIG_COLS + 1) * (k + 1) <= width)
		k++;
	return k;
}

/* Draws a ticket number in block letters scaled k times; returns its width in columns. */
static int screen_big_number(int y, int x, int max_width, const char *number, attr_t attr, int k)
{
	int col = x;
	for (const char *p = number; *p; p++) {
		if (col + BIG_COLS * k > x + max_width)
			break;
		char c = *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
		for (size_t g = 0; g < sizeof screen_font / sizeof screen_font[0]; g++) {
			if (screen_font[g].c != c)
				continue;
			for (int r = 0; r < BIG_ROWS * k; r++)
				for (int dx = 0; dx < BIG_COLS * k; dx++)
					if (screen_font[g].rows[r / k][dx / k] == '#')
						mvaddch(y + r, col + dx, ' ' | attr | A_REVERSE);
		}
		col += (BIG_COLS + 1) * k;
	}
	return col - x;
}

/* The header: hall, window, clerk, window state, and the time on the right. The window's part
 * has priority: the hall's name is what gets cut on a narrow screen. */
static void screen_header(struct app *app)
{
	char site[COUNTER_NAME_MAX * 2 + 4], mine[768], clock[16], hhmm[8];
	char state[COUNTER_NAME_MAX + COUNTER_REASON_MAX], clerk[COUNTER_NAME_MAX * 2];
	if (app->me.state[0])
		format_state_since(state, sizeof state, app->me.state,
				   strcmp(app->me.state, "paused") == 0 ? app->me.reason : NULL, app->me.since,
				   app_now(app));
	else
		app_format(state, sizeof state, "…");
	/* A user without a name (or named by the id) is shown once, not "c01 c01". */
	if (app->user_name[0] && strcmp(app->user_name, app->user) != 0)
		app_format(clerk, sizeof clerk, "%s %s", app->user_name, app->user);
	else
		app_format(clerk, sizeof clerk, "%s", app->user);
	app_format(site, sizeof site, " %s %s", app->site_name[0] ? app->site_name : "qhall",
		   app->site_name_en);
	if (app->me.name[0])
		app_format(mine, sizeof mine, "|  %s %s  |  %s  |  %s", app->me.name,
			   app->me.name_en, clerk, state);
	else /* before the first sign-in the server has told us nothing: show what we asked for */
		app_format(mine, sizeof mine, "|  Window %d  |  %s  |  %s", app->window_id, app->user,
			   state);
	/* Until the site's time zone is known the machine's would be a wrong hall time. */
	if (app->site_known)
		format_clock(hhmm, sizeof hhmm, app_now(app));
	else
		app_format(hhmm, sizeof hhmm, "--:--");
	app_format(clock, sizeof clock, " %s ", hhmm);
	int clock_w = (int)utf8_width(clock);
	int mine_w = (int)utf8_width(mine) + 2;
	int site_w = COLS - clock_w - mine_w;
	if (site_w < 12)
		site_w = 12;
	attr_t attr = screen_color(COLOR_HEADER) | A_BOLD;
	screen_put(0, 0, site_w, site, attr);
	screen_put(0, site_w, COLS - clock_w - site_w, mine, attr);
	screen_put(0, COLS - clock_w, clock_w, clock, attr);
}

/* What the left panel says when no ticket is at the window. */
static void screen_no_ticket(struct app *app, int y, int x, int width)
{
	const char *hint;
	if (strcmp(app->me.state, "paused") == 0)
		hint = "暂停中 Paused. F9/u resumes.";
	else if (strcmp(app->me.state, "closed") == 0)
		hint = "已关闭 Closed. F9/u opens the window.";
	else
		hint = "没有号 No ticket. F1/n calls the next.";
	screen_put(y + 2, x + 2, width - 2, hint, A_BOLD);
	if (app->me.reason[0] && strcmp(app->me.state, "paused") == 0) {
		char line[COUNTER_REASON_MAX + 32];
		app_format(line, sizeof line, "原因 Reason: %s", app->me.reason);
		screen_put(y + 3, x + 2, width - 2, line, A_NORMAL);
	}
}

/* The current ticket, large, with its service, class, wait and recalls; returns rows used. */
static int screen_current(struct app *app, int y, int x, int width, int height)
{
	const struct app_ticket *t = &app->current;
	screen_put(y, x, width, "当前号 Current ticket", A_BOLD | A_UNDERLINE);
	if (!t->present) {
		screen_no_ticket(app, y, x, width);
		return 6;
	}
	int row = y + 1;
	bool serving = strcmp(t->state, "serving") == 0;
	if (height >= 10) {
		int k = screen_big_scale(t->number, width - 1, height);
		screen_big_number(row, x + 1, width - 1, t->number,
				  screen_color(serving ? COLOR_SERVING : COLOR_CALLED), k);
		row += BIG_ROWS * k + 1;
	}
	const struct app_service *s = app_service(app, t->service);
	char line[512], waited[32], since[32];
	app_format(line, sizeof line, "%s  %s %s", t->number, s ? s->name : t->service,
		 s ? s->name_en : "");
	screen_put(row++, x, width, line, A_BOLD);
	bool priority = strcmp(t->ticket_class, "priority") == 0;
	app_format(line, sizeof line, "%s   %s", format_class_label(t->ticket_class),
		 format_ticket_state(t->state));
	screen_put(row++, x, width, line, priority ? screen_color(COLOR_PRIORITY) | A_BOLD : A_NORMAL);
	format_minutes(waited, sizeof waited, (t->called_at ? t->called_at : app_now(app)) - t->issued_at);
	format_minutes(since, sizeof since, app_now(app) - (t->called_at ? t->called_at : app_now(app)));
	app_format(line, sizeof line, "等候 Waited %s   重呼 Recalls %d", waited, t->recalls);
	screen_put(row++, x, width, line, A_NORMAL);
	app_format(line, sizeof line, "已叫 Called %s ago  转移 Transfers %d", since, t->transfers);
	screen_put(row++, x, width, line, A_NORMAL);
	/* What Next will do to this ticket, and the key for a citizen who did not come. */
	app_next_effect(app, line, sizeof line);
	screen_put(row++, x, width, line, A_BOLD);
	if (!serving) {
		app_format(line, sizeof line, "m: %s 未到 no-show, call next", t->number);
		screen_put(row++, x, width, line, A_NORMAL);
	}
	return row - y;
}

/* Waiting count and estimated wait of each service the window calls. */
static void screen_services(struct app *app, int y, int x, int width, int rows)
{
	if (rows < 2)
		return;
	screen_put(y, x, width, "各业务等候 Waiting per service", A_BOLD | A_UNDERLINE);
	int mine = 0;
	for (int i = 0; i < app->nservices; i++)
		mine += app_window_serves(&app->me, app->services[i].id);
	/* When they do not all fit, the last row says how many are left out. */
	int room = rows - 1, limit = mine <= room ? mine : room - 1;
	int row = y + 1, shown = 0;
	for (int i = 0; i < app->nservices && shown < limit; i++) {
		const struct app_service *s = &app->services[i];
		if (!app_window_serves(&app->me, s->id))
			continue;
		char name[COUNTER_NAME_MAX * 2 + 2], count[16], est[40];
		app_format(name, sizeof name, "%s %s", s->name, s->name_en);
		app_format(count, sizeof count, "%d", s->waiting);
		format_estimate(est, sizeof est, s->ewt, s->ewt_low, s->ewt_high);
		int name_w = width - 4 - 1 - 11;
		screen_put(row, x, name_w, name, A_NORMAL);
		screen_put_right(row, x + name_w, 4, count, A_BOLD);
		screen_put_right(row, x + name_w + 4, 12, est, A_NORMAL);
		row++;
		shown++;
	}
	if (shown < mine) {
		char more[64];
		app_format(more, sizeof more, "… %d more services", mine - shown);
		screen_put(row, x, width, more, A_DIM);
	}
}

/* The window's next tickets in call order with the minutes each has waited. */
static void screen_queue(struct app *app, int y, int x, int width, int height)
{
	char heading[128];
	app_format(heading, sizeof heading, "下一位 Next tickets (%d%s)", app->nqueue,
		 app->nqueue == COUNTER_QUEUE_MAX ? "+" : "");
	screen_put(y, x, width, heading, A_BOLD | A_UNDERLINE);
	if (!app->queue_known) {
		screen_put(y + 1, x, width, "…", A_DIM);
		return;
	}
	if (app->nqueue == 0) {
		screen_put(y + 1, x, width, "没有人等候 Nobody is waiting.", A_DIM);
		return;
	}
	int rows = height - 1;
	int shown = app->nqueue;
	if (shown > rows)
		shown = rows - 1; /* the last row says how many more */
	long long now = app_now(app);
	for (int i = 0; i < shown; i++) {
		const struct app_ticket *t = &app->queue[i];
		const struct app_service *s = app_service(app, t->service);
		char idx[8], name[COUNTER_NAME_MAX * 2 + 2], waited[32];
		app_format(idx, sizeof idx, "%2d.", i + 1);
		app_format(name, sizeof name, "%s %s", s ? s->name : t->service, s ? s->name_en : "");
		format_minutes(waited, sizeof waited, now - t->issued_at);
		int row = y + 1 + i;
		bool priority = strcmp(t->ticket_class, "priority") == 0;
		attr_t mark_attr = priority ? screen_color(COLOR_PRIORITY) | A_BOLD : A_BOLD;
		screen_put(row, x, 4, idx, A_NORMAL);
		screen_put(row, x + 4, 6, t->number, A_BOLD);
		screen_put(row, x + 10, 3, format_class_mark(t->ticket_class), mark_attr);
		int name_w = width - 13 - 11;
		screen_put(row, x + 13, name_w, name, A_NORMAL);
		screen_put_right(row, x + 13 + name_w, 11, waited, A_NORMAL);
	}
	if (shown < app->nqueue) {
		char more[64];
		app_format(more, sizeof more, "    … %d more", app->nqueue - shown);
		screen_put(y + 1 + shown, x, width, more, A_DIM);
	}
}

/* The clerk's counts today (or this session's, when the server has no stats). */
static void screen_counts(struct app *app, int y, int x, int width)
{
	char line[160], mean[32];
	long long m = app_mean_service(app);
	if (m < 0)
		app_format(mean, sizeof mean, "-");
	else
		format_minutes(mean, sizeof mean, m);
	app_format(line, sizeof line, "%s 已办 Served %d  平均 Mean %s",
		   app->stats_from_server ? "Today" : "Session", app->served, mean);
	screen_put(y, x, width, line, A_BOLD);
}

/* The connection on the left, the last message after it. */
static void screen_status(struct app *app, int y)
{
	char conn[512];
	attr_t conn_attr;
	if (app->ready) {
		app_format(conn, sizeof conn, " 已连接 connected ");
		conn_attr = screen_color(COLOR_OK) | A_BOLD;
	} else if (app->signed_in) {
		const char *status = link_status(app);
		app_format(conn, sizeof conn, " 重连中 %s%s ",
			 strncmp(status, "reconnecting", 12) == 0 ? "" : "reconnecting: ", status);
		conn_attr = screen_color(COLOR_ERROR) | A_BOLD | A_REVERSE;
	} else {
		/* A refused hello is spelt out by the message beside it: say it only once. */
		const char *status = link_status(app);
		app_format(conn, sizeof conn, " %s ",
			   strncmp(status, "hello refused", 13) == 0 ? "未登录 not signed in" : status);
		conn_attr = screen_color(COLOR_ERROR) | A_BOLD;
	}
	int conn_w = (int)utf8_width(conn);
	if (conn_w > COLS)
		conn_w = COLS;
	screen_put(y, 0, conn_w, conn, conn_attr);
	screen_put(y, conn_w, COLS - conn_w, app_message_now(app, app_monotonic_ms()),
		   app->message_is_error ? screen_color(COLOR_ERROR) | A_BOLD : A_NORMAL);
}

/* The key help, in two lines. */
static void screen_footer(int y, int nlines)
{
	char lines[3][256];
	int n = keymap_footer(lines, nlines, (size_t)COLS - 1);
	for (int i = 0; i < nlines; i++)
		screen_put(y + i, 0, COLS, i < n ? lines[i] : "", A_DIM | A_BOLD);
}

/* Draws the open dialog as a box in the middle of the screen. */
static void screen_dialog(struct app *app)
{
	const struct dialog *d = &app->dialog;
	int width = COLS - 8 < 66 ? COLS - 8 : 66;
	int list_rows = 0;
	if (d->kind == DIALOG_LIST) {
		list_rows = d->nitems;
		if (list_rows > LINES - 12)
			list_rows = LINES - 12;
	}
	int height = 6 + (d->text[0][0] ? 1 : 0) + (d->text[1][0] ? 1 : 0) + (d->text[2][0] ? 1 : 0) + list_rows +
		     (d->kind == DIALOG_TEXT ? 2 : 0);
	int top = (LINES - height) / 2, left = (COLS - width) / 2;
	attr_t attr = screen_color(COLOR_DIALOG);
	for (int r = 0; r < height; r++)
		screen_put(top + r, left, width, "", attr);
	attron(attr);
	mvaddch(top, left, ACS_ULCORNER);
	mvhline(top, left + 1, ACS_HLINE, width - 2);
	mvaddch(top, left + width - 1, ACS_URCORNER);
	mvaddch(top + height - 1, left, ACS_LLCORNER);
	mvhline(top + height - 1, left + 1, ACS_HLINE, width - 2);
	mvaddch(top + height - 1, left + width - 1, ACS_LRCORNER);
	mvvline(top + 1, left, ACS_VLINE, height - 2);
	mvvline(top + 1, left + width - 1, ACS_VLINE, height - 2);
	attroff(attr);
	int row = top + 1, inner = width - 4;
	screen_put(row++, left + 2, inner, d->title, attr | A_BOLD);
	row++;
	for (int i = 0; i < 3; i++)
		if (d->text[i][0])
			screen_put(row++, left + 2, inner, d->text[i], attr);
	if (d->kind == DIALOG_LIST) {
		int first = d->selected >= list_rows ? d->selected - list_rows + 1 : 0;
		for (int i = 0; i < list_rows; i++) {
			int item = first + i;
			char line[COUNTER_NAME_MAX + 16];
			app_format(line, sizeof line, "%s%d  %s", item == d->selected ? "> " : "  ",
				 item + 1, d->items[item].label);
			screen_put(row++, left + 2, inner, line,
				   item == d->selected ? attr | A_REVERSE | A_BOLD : attr);
		}
	}
	if (d->kind == DIALOG_TEXT) {
		char shown[DIALOG_TEXT_MAX + 8];
		if (d->flags & DIALOG_TEXT_SECRET) {
			size_t n = utf8_length(d->input);
			if (n > DIALOG_TEXT_MAX - 1)
				n = DIALOG_TEXT_MAX - 1;
			shown[0] = '>';
			shown[1] = ' ';
			memset(shown + 2, '*', n);
			app_format(shown + 2 + n, sizeof shown - 2 - n, "_");
		} else {
			app_format(shown, sizeof shown, "> %s_", d->input);
		}
		row++;
		/* Keep the end of a long entry in view. */
		char tail[DIALOG_TEXT_MAX + 8];
		size_t w = utf8_width(shown);
		const char *from = shown;
		while (w > (size_t)inner && *from) {
			unsigned int cp;
			size_t n = utf8_decode(from, strlen(from), &cp);
			w -= (size_t)utf8_cp_width(cp);
			from += n;
		}
		app_format(tail, sizeof tail, "%s", from);
		screen_put(row++, left + 2, inner, tail, A_REVERSE);
	}
	screen_put(top + height - 2, left + 2, inner, d->hint, attr | A_DIM);
}

/* Draws the whole screen, or a plea for a bigger one. */
void screen_draw(struct app *app)
{
	screen_colors_init();
	erase();
	if (COLS < COUNTER_MIN_COLS || LINES < COUNTER_MIN_ROWS) {
		char line[128];
		app_format(line, sizeof line, "窗口太小 Terminal too small: %dx%d needed, now %dx%d.",
			 COUNTER_MIN_COLS, COUNTER_MIN_ROWS, COLS, LINES);
		screen_put(LINES / 2, 0, COLS, line, A_BOLD);
		screen_put(LINES / 2 + 1, 0, COLS, app->ready ? "connected" : link_status(app), A_NORMAL);
		refresh();
		return;
	}
	screen_header(app);
	int footer_lines = 2;
	int status_row = LINES - footer_lines - 1;
	int top = 2, bottom = status_row - 1; /* middle rows top..bottom */
	int left_w = COLS * 52 / 100;
	if (left_w > 70)
		left_w = 70;
	int right_x = left_w + 2, right_w = COLS - right_x - 1;
	int used = screen_current(app, top, 1, left_w - 1, bottom - top + 1);
	int counts_row = bottom;
	int svc_top = top + used + 1;
	screen_services(app, svc_top, 1, left_w - 1, counts_row - svc_top - 1);
	screen_counts(app, counts_row, 1, left_w - 1);
	for (int r = top; r <= bottom; r++)
		mvaddch(r, left_w, ACS_VLINE);
	screen_queue(app, top, right_x, right_w, bottom - top + 1);
	screen_status(app, status_row);
	screen_footer(status_row + 1, footer_lines);
	if (dialog_is_open(&app->dialog))
		screen_dialog(app);
	refresh();
}
