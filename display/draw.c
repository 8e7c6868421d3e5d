/* Drawing with ncursesw: the whole screen is drawn from the state on every change and every
 * second; curses sends only the cells that changed. Text goes through utf8_truncate so a
 * Chinese name never runs into the next column or wraps (two columns per character, as
 * wcwidth says). */
#include "display.h"

#include "utf8.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum draw_pair {
	PAIR_BIG = 1,	/* the big digits */
	PAIR_FLASH,	/* the big digits in the other phase of a flash */
	PAIR_HEADING,	/* panel headings */
	PAIR_GOOD,	/* live; mean wait within the target */
	PAIR_BAD,	/* mean wait over the target */
	PAIR_OFFLINE,	/* the offline banner */
	PAIR_CAPTION,	/* the caption while flashing */
};

#define DRAW_LINE_MAX 4096 /* bytes of one drawn line (a very wide screen of block characters) */

static const char draw_block[] = "\xe2\x96\x88"; /* U+2588 FULL BLOCK */

/* Sets up the colour pairs when the terminal has colours. */
void draw_init(void)
{
	if (!has_colors())
		return;
	start_color();
	use_default_colors();
	init_pair(PAIR_BIG, COLOR_YELLOW, -1);
	init_pair(PAIR_FLASH, COLOR_RED, -1);
	init_pair(PAIR_HEADING, COLOR_CYAN, -1);
	init_pair(PAIR_GOOD, COLOR_GREEN, -1);
	init_pair(PAIR_BAD, COLOR_RED, -1);
	init_pair(PAIR_OFFLINE, COLOR_WHITE, COLOR_RED);
	init_pair(PAIR_CAPTION, COLOR_BLACK, COLOR_YELLOW);
}

/* Returns the attribute of a colour pair, or a fallback on a terminal without colours. */
static attr_t draw_color(enum draw_pair pair, attr_t fallback)
{
	return has_colors() ? COLOR_PAIR(pair) : fallback;
}

/* Draws text at (y, x) cut to max_cols columns; returns the columns drawn. */
static int draw_text(int y, int x, int max_cols, const char *text, attr_t attr)
{
	char buf[DRAW_LINE_MAX];
	if (max_cols <= 0 || y < 0 || y >= LINES || x < 0 || x >= COLS)
		return 0;
	if (x + max_cols > COLS)
		max_cols = COLS - x;
	int cols = (int)utf8_truncate(text, (size_t)max_cols, buf, sizeof buf);
	attron(attr);
	mvaddstr(y, x, buf);
	attroff(attr);
	return cols;
}

/* Draws text ending at column right (exclusive), cut to max_cols. */
static void draw_text_right(int y, int right, int max_cols, const char *text, attr_t attr)
{
	int width = (int)utf8_width(text);
	if (width > max_cols)
		width = max_cols;
	draw_text(y, right - width, width, text, attr);
}

/* Draws text centred on the screen's row y. */
static void draw_text_center(int y, const char *text, attr_t attr)
{
	int width = (int)utf8_width(text);
	int x = width >= COLS ? 0 : (COLS - width) / 2;
	draw_text(y, x, COLS - x, text, attr);
}

/* Formats seconds as whole minutes for a person: "<1 min", "12 min". */
static void draw_minutes(int seconds, char *buf, size_t size)
{
	if (seconds < 60)
		snprintf(buf, size, "<1 min");
	else
		snprintf(buf, size, "%d min", (seconds + 30) / 60);
}

void draw_estimate_text(int ewt, int low, int high, char *buf, size_t size)
{
	int lo = (low + 59) / 60, hi = (high + 59) / 60;
	if (low < 0 || high < low || lo == hi)
		draw_minutes(ewt, buf, size);
	else
		snprintf(buf, size, "%d-%d min", lo, hi);
}

/* Builds the text of the big line: "A012>3" (the arrow glyph between number and window). */
static int draw_big_text(const struct call *call, char *buf, size_t size)
{
	return snprintf(buf, size, "%s%c%d", call->number, FONT_ARROW, call->window);
}

/* Draws big text with block characters, centred, each font pixel sx x sy cells. */
static void draw_big(const struct layout *lay, const char *text, attr_t attr)
{
	int n = (int)strlen(text);
	int width = font_text_cols(n, lay->sx);
	int x0 = (lay->cols - width) / 2;
	if (x0 < 0)
		x0 = 0;
	for (int row = 0; row < FONT_ROWS; row++) {
		char line[DRAW_LINE_MAX];
		size_t len = 0;
		int cols = 0;
		for (int g = 0; g < n; g++) {
			const char *const *glyph = font_glyph(text[g]);
			for (int px = 0; px <= FONT_COLS; px++) {
				if (px == FONT_COLS && g == n - 1)
					break; /* no gap after the last glyph */
				bool lit = glyph && px < FONT_COLS && glyph[row][px] == '#';
				for (int k = 0; k < lay->sx && x0 + cols < lay->cols; k++) {
					const char *cell = lit ? draw_block : " ";
					size_t cell_len = strlen(cell);
					if (len + cell_len >= sizeof line)
						break;
					memcpy(line + len, cell, cell_len);
					len += cell_len;
					cols++;
				}
			}
		}
		line[len] = '\0';
		attron(attr);
		for (int k = 0; k < lay->sy; k++)
			mvaddstr(lay->big_top + row * lay->sy + k, x0, line);
		attroff(attr);
	}
}

/* Draws the site's name on the left and the date and clock on the right. */
static void draw_header(const struct layout *lay, const struct state *st)
{
	static const char *const weekdays_zh[] = {"周日", "周一", "周二", "周三",
						  "周四", "周五", "周六"};
	char clock[64], name[2 * DISPLAY_NAME_MAX + 4];
	time_t now = state_hall_time(st);
	struct tm tm;
	localtime_r(&now, &tm);
	char en[32];
	strftime(en, sizeof en, "%Y-%m-%d %a %H:%M:%S", &tm);
	/* "2026-11-27 周五 Fri 10:00:05": date, weekday in both languages, time. */
	snprintf(clock, sizeof clock, "%.10s %s %s", en, weekdays_zh[tm.tm_wday], en + 11);
	snprintf(name, sizeof name, "%s  %s", st->site_name[0] ? st->site_name : "qhall",
		 st->site_name_en);
	int clock_cols = (int)utf8_width(clock);
	draw_text_right(lay->header_row, lay->cols - 1, lay->cols - 2, clock, A_BOLD);
	draw_text(lay->header_row, 1, lay->cols - clock_cols - 4, name, A_BOLD);
}

/* Draws the caption: the call as a sentence in both languages, or its short form; a recall
 * carries a banner in front (the sentences themselves stay the plain ones). */
static void draw_caption(const struct layout *lay, const struct call *call, bool flash_on)
{
	char zh[VOICE_TEXT_MAX], en_text[VOICE_TEXT_MAX], line[2 * VOICE_TEXT_MAX + 64];
	const char *banner = call->recall > 0 ? "【再次呼叫 RECALL】 " : "";
	struct call plain = *call;
	plain.recall = 0;
	voice_text_zh(&plain, zh, sizeof zh);
	voice_text_en(&plain, en_text, sizeof en_text);
	snprintf(line, sizeof line, "%s%s  ·  %s", banner, zh, en_text);
	if ((int)utf8_width(line) > lay->cols - 2) {
		/* "A012 → 3号窗口 / Window 3" fits where the sentences do not. */
		snprintf(line, sizeof line, "%s%s → %s / %s", banner, call->number,
			 call->window_name, call->window_name_en);
	}
	attr_t attr = A_BOLD | (flash_on ? draw_color(PAIR_CAPTION, A_REVERSE) : 0);
	draw_text_center(lay->caption_row, line, attr);
}

/* Draws the current call big, or a welcome when nothing has been called yet. */
static void draw_call(const struct layout *lay, const struct display_view *view)
{
	const struct callq *q = view->queue;
	if (!q->has_current) {
		draw_text_center(lay->big_top + lay->big_rows / 2, "欢迎 Welcome", A_BOLD);
		draw_text_center(lay->caption_row, "等候叫号 Waiting for the first call", 0);
		return;
	}
	char big[64];
	draw_big_text(&q->current, big, sizeof big);
	attr_t attr = A_BOLD | draw_color(view->flash_on ? PAIR_FLASH : PAIR_BIG, 0);
	if (lay->sx > 0 && font_text_cols((int)strlen(big), lay->sx) <= lay->cols)
		draw_big(lay, big, attr);
	else {
		char plain[128];
		snprintf(plain, sizeof plain, "%s → %d", q->current.number, q->current.window);
		draw_text_center(lay->big_top + lay->big_rows / 2, plain, attr);
	}
	draw_caption(lay, &q->current, view->flash_on);
}

/* Draws the recent calls, newest first; returns the rows used. */
static int draw_panel_recent(const struct display_view *view, int y, int x, int w, int rows)
{
	const struct state *st = view->state;
	int used = 0;
	draw_text(y, x, w, "最近叫号 Recent calls", A_BOLD | draw_color(PAIR_HEADING, 0));
	used++;
	for (int i = 0; i < st->nrecent && i < view->recent_shown && used < rows; i++) {
		const struct call *c = &st->recent[i];
		char line[3 * DISPLAY_NAME_MAX];
		snprintf(line, sizeof line, "%-6s → %s %s%s", c->number, c->window_name,
			 c->window_name_en, c->recall > 0 ? "  再次 recall" : "");
		draw_text(y + used, x, w, line, i == 0 ? A_BOLD : 0);
		used++;
	}
	if (st->nrecent == 0 && used < rows) {
		draw_text(y + used, x, w, "—", 0);
		used++;
	}
	return used;
}

/* Draws each service of the zone: name zh/en, people waiting, estimated wait. */
static int draw_panel_services(const struct display_view *view, int y, int x, int w, int rows)
{
	const struct state *st = view->state;
	const int wait_w = 8, ewt_w = 11;
	int name_w = w - wait_w - ewt_w;
	attr_t heading = A_BOLD | draw_color(PAIR_HEADING, 0);
	int used = 0;
	if (rows < 3)
		return 0;
	draw_text(y, x, name_w, "业务", heading);
	draw_text_right(y, x + name_w + wait_w, wait_w, "等候", heading);
	draw_text_right(y, x + w, ewt_w, "预计等候", heading);
	draw_text(y + 1, x, name_w, "Service", heading);
	draw_text_right(y + 1, x + name_w + wait_w, wait_w, "Waiting", heading);
	draw_text_right(y + 1, x + w, ewt_w, "Est. wait", heading);
	used = 2;
	for (int i = 0; i < st->nservices && used < rows; i++) {
		const struct service_info *s = &st->services[i];
		if (!zone_has_service(view->zone, s->id))
			continue;
		char name[2 * DISPLAY_NAME_MAX + 2], waiting[16], ewt[24];
		snprintf(name, sizeof name, "%s %s", s->name, s->name_en);
		snprintf(waiting, sizeof waiting, "%d", s->waiting);
		draw_estimate_text(s->ewt, s->ewt_low, s->ewt_high, ewt, sizeof ewt);
		draw_text(y + used, x, name_w - 1, name, 0);
		draw_text_right(y + used, x + name_w + wait_w, wait_w, waiting, A_BOLD);
		draw_text_right(y + used, x + w, ewt_w, ewt, 0);
		used++;
	}
	return used;
}

/* Names a window state in both languages. */
static const char *draw_window_state(const char *state)
{
	static const char *const names[][2] = {
		{"closed", "关闭 closed"},   {"idle", "空闲 open"},	   {"calling", "呼叫 calling"},
		{"serving", "办理 serving"}, {"paused", "暂停 paused"},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(state, names[i][0]) == 0)
			return names[i][1];
	return state;
}

/* How many of the zone's windows a panel of `room` rows lists: all when they fit, else one row
 * fewer, which then says how many more there are. */
int draw_windows_listed(int in_zone, int room)
{
	if (room <= 0)
		return 0;
	return in_zone <= room ? in_zone : room - 1;
}

/* Draws each window of the zone: name, its ticket, its state; "… 还有 N 个 N more" when they
 * do not all fit. */
static int draw_panel_windows(const struct display_view *view, int y, int x, int w, int rows)
{
	const struct state *st = view->state;
	const int ticket_w = 7, state_w = 13;
	int name_w = w - ticket_w - state_w;
	int used = 0;
	if (rows < 2 || name_w < 6)
		return 0;
	int in_zone = 0;
	for (int i = 0; i < st->nwindows; i++)
		in_zone += zone_has_window(view->zone, st->windows[i].id);
	int listed = draw_windows_listed(in_zone, rows - 1);
	draw_text(y, x, w, "窗口 Windows", A_BOLD | draw_color(PAIR_HEADING, 0));
	used++;
	for (int i = 0; i < st->nwindows && used < 1 + listed; i++) {
		const struct window_info *win = &st->windows[i];
		if (!zone_has_window(view->zone, win->id))
			continue;
		char name[2 * DISPLAY_NAME_MAX + 2];
		snprintf(name, sizeof name, "%s %s", win->name, win->name_en);
		draw_text(y + used, x, name_w - 1, name, 0);
		draw_text(y + used, x + name_w, ticket_w, win->ticket[0] ? win->ticket : "—", A_BOLD);
		draw_text(y + used, x + name_w + ticket_w, state_w, draw_window_state(win->state),
			  strcmp(win->state, "closed") == 0 ? A_DIM : 0);
		used++;
	}
	if (listed < in_zone) {
		char more[64];
		snprintf(more, sizeof more, "… 还有 %d 个窗口 %d more windows", in_zone - listed,
			 in_zone - listed);
		draw_text(y + used, x, w, more, A_DIM);
		used++;
	}
	return used;
}

/* Draws the panels, stacking those that share a column with a blank row between them. */
static void draw_panels(const struct layout *lay, const struct display_view *view)
{
	int next_row[LAYOUT_MAX_COLUMNS];
	for (int c = 0; c < lay->ncolumns; c++)
		next_row[c] = lay->panels_top;
	int bottom = lay->panels_top + lay->panels_rows;
	for (int i = 0; i < lay->npanels; i++) {
		int c = lay->panels[i].column;
		int y = next_row[c], x = lay->column_x[c], w = lay->column_w[c];
		int rows = bottom - y;
		if (rows <= 0)
			continue;
		int used = 0;
		switch (lay->panels[i].kind) {
		case PANEL_RECENT:
			used = draw_panel_recent(view, y, x, w, rows);
			break;
		case PANEL_SERVICES:
			used = draw_panel_services(view, y, x, w, rows);
			break;
		case PANEL_WINDOWS:
			used = draw_panel_windows(view, y, x, w, rows);
			break;
		}
		next_row[c] = y + used + (used ? 1 : 0);
	}
}

/* Draws today's mean wait against the target; "—" until the server can tell. */
static void draw_target(const struct layout *lay, const struct state *st)
{
	char mean[32], target[32], line[160];
	draw_minutes(st->sla, target, sizeof target);
	attr_t attr = A_BOLD;
	if (st->stats == STATS_VALUE) {
		draw_minutes(st->wait_mean, mean, sizeof mean);
		attr |= draw_color(st->wait_mean <= st->sla ? PAIR_GOOD : PAIR_BAD, 0);
	} else {
		snprintf(mean, sizeof mean, "—");
	}
	snprintf(line, sizeof line, "今日平均等候 Mean wait today: %s   目标 Target: %s", mean, target);
	draw_text(lay->target_row, 1, lay->cols - 2, line, attr);
}

/* Draws the connection state on the left and the zone and voice on the right. */
static void draw_status(const struct layout *lay, const struct display_view *view)
{
	const struct state *st = view->state;
	char left[768], right[512];
	attr_t attr;
	if (st->online) {
		snprintf(left, sizeof left, "● 在线 live");
		attr = draw_color(PAIR_GOOD, 0);
	} else if (st->offline_since) {
		struct tm tm;
		localtime_r(&st->offline_since, &tm);
		snprintf(left, sizeof left, " 离线 offline since %02d:%02d · %s ", tm.tm_hour, tm.tm_min,
			 view->status);
		attr = A_BOLD | draw_color(PAIR_OFFLINE, A_REVERSE);
	} else {
		snprintf(left, sizeof left, "连接中 %s", view->status);
		attr = A_BOLD;
	}
	size_t n = 0;
	right[0] = '\0';
	if (view->zone->nranges && n < sizeof right)
		n += (size_t)snprintf(right + n, sizeof right - n, "窗口 Windows %s  ",
				      view->zone->windows_text);
	if (view->zone->nservices && n < sizeof right)
		n += (size_t)snprintf(right + n, sizeof right - n, "业务 Services %s  ",
				      view->zone->services_text);
	if (view->voice_note[0] && n < sizeof right)
		snprintf(right + n, sizeof right - n, "%s", view->voice_note);
	/* The bottom-right cell stays empty: writing there would make curses scroll. */
	int left_cols = draw_text(lay->status_row, 0, lay->cols - 1, left, attr);
	int room = lay->cols - left_cols - 3;
	if (right[0] && room > 8)
		draw_text_right(lay->status_row, lay->cols - 1, room, right, A_DIM);
}

/* Draws what fits on a very small terminal: the call, the clock and the status. */
static void draw_small(const struct layout *lay, const struct display_view *view)
{
	draw_header(lay, view->state);
	if (view->queue->has_current) {
		const struct call *c = &view->queue->current;
		char line[256];
		snprintf(line, sizeof line, "%s%s → %s", c->recall ? "RECALL " : "", c->number,
			 c->window_name[0] ? c->window_name : "?");
		draw_text_center(lay->caption_row, line, A_BOLD | (view->flash_on ? A_REVERSE : 0));
	}
	if (lay->status_row > lay->caption_row)
		draw_status(lay, view);
}

/* Lays the screen out for its current size and draws every part. */
void draw_screen(const struct display_view *view)
{
	struct layout lay;
	char big[64] = "A000>1";
	if (view->queue->has_current)
		draw_big_text(&view->queue->current, big, sizeof big);
	layout_compute(&lay, COLS, LINES, (int)strlen(big));
	erase();
	if (lay.too_small) {
		draw_small(&lay, view);
	} else {
		draw_header(&lay, view->state);
		draw_call(&lay, view);
		draw_panels(&lay, view);
		draw_target(&lay, view->state);
		draw_status(&lay, view);
	}
	refresh();
}
