/* The ticket: read from the server's answers, laid out as lines once, then printed as ESC/POS
 * or shown as text (the "-" preview and the kiosk screen show the same lines the paper gets). */
#include "printer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const day_keys[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const day_en[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const day_zh[7] = {"周一", "周二", "周三", "周四", "周五", "周六", "周日"};

/* Copies a string member of o into buf ("" when absent); true when it was there. */
static bool copy_string(const cJSON *o, const char *name, char *buf, size_t len)
{
	const cJSON *item = o ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
	snprintf(buf, len, "%s", cJSON_IsString(item) ? item->valuestring : "");
	return cJSON_IsString(item);
}

/* Reads a number member of o, or fallback when absent or null. */
static long read_number(const cJSON *o, const char *name, long fallback)
{
	const cJSON *item = o ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
	return cJSON_IsNumber(item) ? (long)item->valuedouble : fallback;
}

/* Keeps the status page address of a take reply (PROTOCOL.md v2), when it has one that fits. */
void ticket_info_status_url(struct ticket_info *t, const cJSON *take_reply)
{
	if (!copy_string(take_reply, "status_url", t->status_url, sizeof t->status_url) ||
	    strlen(cJSON_GetObjectItemCaseSensitive(take_reply, "status_url")->valuestring) >= sizeof t->status_url)
		t->status_url[0] = '\0'; /* a cut address leads nowhere: the id is printed instead */
}

/* Reads what the ticket needs; the site and services only add names, so they may be partial. */
int ticket_info_from_json(struct ticket_info *t, const cJSON *ticket, const cJSON *site,
			  const cJSON *services, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	if (!cJSON_IsObject(ticket) || !copy_string(ticket, "id", t->id, sizeof t->id) ||
	    !copy_string(ticket, "number", t->number, sizeof t->number) || !t->id[0] || !t->number[0]) {
		snprintf(err, errlen, "the server's answer holds no ticket id and number");
		return -1;
	}
	copy_string(ticket, "service", t->service, sizeof t->service);
	if (!copy_string(ticket, "class", t->ticket_class, sizeof t->ticket_class))
		snprintf(t->ticket_class, sizeof t->ticket_class, "normal");
	t->issued_at = read_number(ticket, "issued_at", 0);
	t->ahead = (int)read_number(ticket, "ahead", -1);
	t->ewt = read_number(ticket, "ewt", -1);
	t->ewt_low = read_number(ticket, "ewt_low", -1);
	t->ewt_high = read_number(ticket, "ewt_high", -1);

	copy_string(site, "name", t->hall_name, sizeof t->hall_name);
	copy_string(site, "name_en", t->hall_name_en, sizeof t->hall_name_en);
	if (!copy_string(site, "tz", t->tz, sizeof t->tz) || !t->tz[0])
		snprintf(t->tz, sizeof t->tz, "Asia/Shanghai");
	const cJSON *hours = site ? cJSON_GetObjectItemCaseSensitive(site, "hours") : NULL;
	if (cJSON_IsObject(hours)) {
		t->hours_known = true;
		for (int d = 0; d < 7; d++)
			copy_string(hours, day_keys[d], t->hours[d], sizeof t->hours[d]);
	}

	const cJSON *service;
	cJSON_ArrayForEach(service, services)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(service, "id");
		if (cJSON_IsString(id) && strcmp(id->valuestring, t->service) == 0) {
			copy_string(service, "name", t->service_name, sizeof t->service_name);
			copy_string(service, "name_en", t->service_name_en, sizeof t->service_name_en);
		}
	}
	if (!t->service_name[0] && !t->service_name_en[0])
		snprintf(t->service_name_en, sizeof t->service_name_en, "%s", t->service);
	return 0;
}

/* Formats a time in another zone by switching TZ for the call (the printer is one thread). */
void ticket_format_time(long t, const char *tz, const char *fmt, char *buf, size_t len)
{
	if (!len)
		return;
	buf[0] = '\0';
	const char *old = getenv("TZ");
	char saved[128] = "";
	bool had_tz = old != NULL;
	if (had_tz)
		snprintf(saved, sizeof saved, "%s", old);
	if (tz && tz[0])
		setenv("TZ", tz, 1);
	tzset();
	time_t when = (time_t)t;
	struct tm tm;
	/* fmt is checked at each caller (the prototype's format attribute); GCC cannot see it here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (localtime_r(&when, &tm) && strftime(buf, len, fmt, &tm) == 0)
		buf[0] = '\0';
#pragma GCC diagnostic pop
	if (had_tz)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
}

/* Rounds a wait up to whole minutes, so a citizen is never told less than the estimate. */
void ticket_format_wait(long ewt, char *zh, size_t zhlen, char *en, size_t enlen)
{
	if (ewt < 0) {
		snprintf(zh, zhlen, "未知");
		snprintf(en, enlen, "unknown");
		return;
	}
	if (ewt < 60) {
		snprintf(zh, zhlen, "少于 1 分钟");
		snprintf(en, enlen, "under 1 min");
		return;
	}
	long minutes = (ewt + 59) / 60;
	if (minutes < 60) {
		snprintf(zh, zhlen, "约 %ld 分钟", minutes);
		snprintf(en, enlen, "about %ld min", minutes);
	} else {
		snprintf(zh, zhlen, "约 %ld 小时 %ld 分钟", minutes / 60, minutes % 60);
		snprintf(en, enlen, "about %ld h %ld min", minutes / 60, minutes % 60);
	}
}

/* The range of the estimate (10th to 90th percentile) when the server sends one that shows
 * as two different numbers of minutes, else the single estimate: "约 5-15 分钟" and "5-15 min",
 * "15 分钟内" and "within 15 min" when it may be under a minute. Minutes are rounded up, as
 * for the single estimate. */
void ticket_format_estimate(long ewt, long low, long high, char *zh, size_t zhlen, char *en, size_t enlen)
{
	long lo = (low + 59) / 60, hi = (high + 59) / 60;
	if (low < 0 || high < 0 || high < low || lo == hi || high < 60) {
		ticket_format_wait(ewt >= 0 || high < 0 ? ewt : high, zh, zhlen, en, enlen);
		return;
	}
	if (lo == 0) {
		snprintf(zh, zhlen, "%ld 分钟内", hi);
		snprintf(en, enlen, "within %ld min", hi);
	} else {
		snprintf(zh, zhlen, "约 %ld-%ld 分钟", lo, hi);
		snprintf(en, enlen, "%ld-%ld min", lo, hi);
	}
}

/* One service's figures on the kiosk's list, what a new ticket of it would print: "前面 3 人
 * ahead  约 5-15 分钟 / 5-15 min". A server that does not send a service's ahead gives only
 * its waiting count, shown as such. */
void ticket_format_figures(int ahead, int waiting, long ewt, long low, long high, char *out, size_t len)
{
	char zh[64], en[64];
	ticket_format_estimate(ewt, low, high, zh, sizeof zh, en, sizeof en);
	if (ahead >= 0)
		snprintf(out, len, "前面 %d 人 ahead  %s / %s", ahead, zh, en);
	else
		snprintf(out, len, "等候 %d 人 waiting  %s / %s", waiting, zh, en);
}

/* Appends printf text to buf at *used, never past len. */
__attribute__((format(printf, 4, 5))) static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	if (*used >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used = *used + (size_t)n < len ? *used + (size_t)n : len - 1;
}

/* Groups runs of days with the same hours: "Mon-Fri 09:00-20:00, Sat 09:00-16:00". */
void ticket_format_hours(const struct ticket_info *t, char *zh, size_t zhlen, char *en, size_t enlen)
{
	size_t zu = 0, eu = 0;
	if (zhlen)
		zh[0] = '\0';
	if (enlen)
		en[0] = '\0';
	if (!t->hours_known)
		return;
	for (int d = 0; d < 7;) {
		int last = d;
		while (last + 1 < 7 && strcmp(t->hours[last + 1], t->hours[d]) == 0)
			last++;
		const char *h = t->hours[d][0] ? t->hours[d] : NULL;
		if (last == d) {
			append(en, enlen, &eu, "%s%s %s", d ? ", " : "", day_en[d], h ? h : "closed");
			append(zh, zhlen, &zu, "%s%s %s", d ? " " : "", day_zh[d], h ? h : "休息");
		} else {
			append(en, enlen, &eu, "%s%s-%s %s", d ? ", " : "", day_en[d], day_en[last], h ? h : "closed");
			append(zh, zhlen, &zu, "%s%s至%s %s", d ? " " : "", day_zh[d], day_zh[last] + 3, h ? h : "休息");
		}
		d = last + 1;
	}
}

/* Adds a line to the layout; the last slot is kept for the cut feed, so extra lines are dropped. */
static struct ticket_line *layout_add(struct ticket_layout *l, enum ticket_line_kind kind, enum escpos_align align)
{
	if (l->count >= TICKET_MAX_LINES)
		return NULL;
	struct ticket_line *line = &l->lines[l->count++];
	memset(line, 0, sizeof *line);
	line->kind = kind;
	line->align = align;
	line->width = line->height = 1;
	return line;
}

/* Adds a text line: text is printed where Chinese can be, text_en elsewhere (NULL: the same
 * text, it is all ASCII; "": the line is Chinese only). */
static struct ticket_line *layout_text(struct ticket_layout *l, enum escpos_align align, const char *text,
				       const char *text_en)
{
	struct ticket_line *line = layout_add(l, TICKET_TEXT, align);
	if (line) {
		snprintf(line->text, sizeof line->text, "%s", text);
		snprintf(line->text_en, sizeof line->text_en, "%s", text_en ? text_en : text);
	}
	return line;
}

/* Lays out the ticket, top to bottom: hall, number, service, class, wait, time, QR, hours. */
void ticket_layout(const struct ticket_info *t, int columns, struct ticket_layout *l)
{
	memset(l, 0, sizeof *l);
	l->columns = columns < 16 ? 16 : columns > 64 ? 64 : columns;
	char zh[TICKET_TEXT_MAX * 2], en[TICKET_TEXT_MAX * 2], when[64];

	if (t->reprint)
		layout_text(l, ESCPOS_CENTER, "** 补打 REPRINT **", "** REPRINT **");
	struct ticket_line *line;
	if (t->hall_name[0] && (line = layout_text(l, ESCPOS_CENTER, t->hall_name, "")))
		line->bold = true;
	if (t->hall_name_en[0] && (line = layout_text(l, ESCPOS_CENTER, t->hall_name_en, NULL)))
		line->bold = !t->hall_name[0];
	layout_add(l, TICKET_RULE, ESCPOS_LEFT);

	if ((line = layout_text(l, ESCPOS_CENTER, t->number, NULL))) {
		/* Quad size for older readers (each character 4 columns), double when the paper is
		 * too narrow for it (a long number on 58 mm paper). */
		line->width = line->height = (int)strlen(t->number) * TICKET_NUMBER_SIZE <= l->columns
						     ? TICKET_NUMBER_SIZE
						     : 2;
		line->bold = true;
	}
	if (t->service_name[0])
		layout_text(l, ESCPOS_CENTER, t->service_name, "");
	if (t->service_name_en[0])
		layout_text(l, ESCPOS_CENTER, t->service_name_en, NULL);
	if (strcmp(t->ticket_class, "priority") == 0)
		layout_text(l, ESCPOS_CENTER, "优先 (绿色通道) Priority", "Priority");
	else if (strcmp(t->ticket_class, "appointment") == 0)
		layout_text(l, ESCPOS_CENTER, "预约 Appointment", "Appointment");
	layout_add(l, TICKET_RULE, ESCPOS_LEFT);

	if (t->ahead >= 0 && !t->reprint) {
		snprintf(zh, sizeof zh, "前面等候 Ahead: %d 人 people", t->ahead);
		snprintf(en, sizeof en, "People ahead: %d", t->ahead);
		layout_text(l, ESCPOS_LEFT, zh, en);
	}
	if (t->ewt >= 0 && !t->reprint) {
		char wait_zh[64], wait_en[64];
		ticket_format_estimate(t->ewt, t->ewt_low, t->ewt_high, wait_zh, sizeof wait_zh, wait_en,
				       sizeof wait_en);
		snprintf(zh, sizeof zh, "预计等候 Wait: %s / %s", wait_zh, wait_en);
		snprintf(en, sizeof en, "Estimated wait: %s", wait_en);
		layout_text(l, ESCPOS_LEFT, zh, en);
	}
	if (t->issued_at > 0) {
		ticket_format_time(t->issued_at, t->tz, "%Y-%m-%d %H:%M", when, sizeof when);
		char day[8] = "";
		ticket_format_time(t->issued_at, t->tz, "%u", day, sizeof day);
		int wd = atoi(day) - 1;
		if (wd < 0 || wd > 6)
			wd = 0;
		snprintf(zh, sizeof zh, "取号时间 Issued: %s %s %s", when, day_zh[wd], day_en[wd]);
		snprintf(en, sizeof en, "Issued: %s %s", when, day_en[wd]);
		layout_text(l, ESCPOS_LEFT, zh, en);
	}
	layout_add(l, TICKET_FEED, ESCPOS_LEFT);

	if ((line = layout_add(l, TICKET_QR, ESCPOS_CENTER)))
		snprintf(line->text, sizeof line->text, "%s", t->status_url[0] ? t->status_url : t->id);
	layout_text(l, ESCPOS_CENTER, t->id, NULL);
	layout_text(l, ESCPOS_CENTER, "扫码查看进度与评价 Scan for status and rating", "Scan for status and rating");

	ticket_format_hours(t, zh, sizeof zh, en, sizeof en);
	if (en[0]) {
		layout_add(l, TICKET_RULE, ESCPOS_LEFT);
		char both[sizeof zh + 32];
		snprintf(both, sizeof both, "营业时间 %s", zh);
		layout_text(l, ESCPOS_LEFT, both, "");
		snprintf(both, sizeof both, "Hours: %s", en);
		layout_text(l, ESCPOS_LEFT, both, NULL);
	}
}

/* Encodes the layout; a printer without Chinese gets the English text of each line. */
int ticket_encode(const struct ticket_layout *l, struct escpos *p)
{
	const bool cjk = p->codepage && p->codepage->cjk;
	char rule[65];
	int columns = l->columns < 64 ? l->columns : 64;
	memset(rule, '-', (size_t)columns);
	rule[columns] = '\0';
	for (int i = 0; i < l->count; i++) {
		const struct ticket_line *line = &l->lines[i];
		switch (line->kind) {
		case TICKET_TEXT: {
			const char *text = cjk ? line->text : line->text_en;
			if (!text[0])
				break;
			escpos_align(p, line->align);
			if (line->bold)
				escpos_bold(p, true);
			if (line->width != 1 || line->height != 1)
				escpos_size(p, line->width, line->height);
			escpos_text(p, text);
			if (line->width != 1 || line->height != 1)
				escpos_size(p, 1, 1);
			if (line->bold)
				escpos_bold(p, false);
			escpos_newline(p);
			break;
		}
		case TICKET_RULE:
			escpos_align(p, ESCPOS_LEFT);
			escpos_text(p, rule);
			escpos_newline(p);
			break;
		case TICKET_QR:
			escpos_align(p, line->align);
			escpos_qr(p, line->text, 6, 'M');
			escpos_newline(p);
			break;
		case TICKET_FEED:
			escpos_feed(p, 1);
			break;
		}
	}
	escpos_align(p, ESCPOS_LEFT);
	escpos_feed(p, 3);
	escpos_cut(p);
	return escpos_ok(p) ? 0 : -1;
}

/* Counts terminal columns of UTF-8 text without the locale: CJK and fullwidth forms are two. */
static int text_columns(const char *s)
{
	int cols = 0;
	const unsigned char *u = (const unsigned char *)s;
	while (*u) {
		unsigned cp;
		int n;
		if (*u < 0x80) {
			cp = *u;
			n = 1;
		} else if ((*u & 0xe0) == 0xc0) {
			cp = *u & 0x1f;
			n = 2;
		} else if ((*u & 0xf0) == 0xe0) {
			cp = *u & 0x0f;
			n = 3;
		} else {
			cp = *u & 0x07;
			n = 4;
		}
		for (int i = 1; i < n; i++) {
			if ((u[i] & 0xc0) != 0x80) {
				n = i;
				break;
			}
			cp = (cp << 6) | (u[i] & 0x3f);
		}
		u += n;
		bool wide = (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
			    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
			    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
			    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd);
		cols += wide ? 2 : 1;
	}
	return cols;
}

/* Renders the lines as text; the double-size number is spaced out so it stands out. */
size_t ticket_preview(const struct ticket_layout *l, char *buf, size_t len)
{
	size_t used = 0;
	if (len)
		buf[0] = '\0';
	for (int i = 0; i < l->count; i++) {
		const struct ticket_line *line = &l->lines[i];
		char text[sizeof line->text * 2];
		switch (line->kind) {
		case TICKET_TEXT:
			if (line->width > 1) {
				size_t tu = 0;
				for (const char *c = line->text; *c && tu + 3 < sizeof text; c++) {
					text[tu++] = *c;
					if (c[1] && ((unsigned char)c[1] & 0xc0) != 0x80)
						text[tu++] = ' ';
				}
				text[tu] = '\0';
			} else {
				snprintf(text, sizeof text, "%s", line->text);
			}
			break;
		case TICKET_RULE:
			memset(text, '-', (size_t)l->columns);
			text[l->columns] = '\0';
			break;
		case TICKET_QR:
			snprintf(text, sizeof text, "[QR %s]", line->text);
			break;
		case TICKET_FEED:
			text[0] = '\0';
			break;
		}
		int pad = 0;
		if (line->align == ESCPOS_CENTER)
			pad = (l->columns - text_columns(text)) / 2;
		else if (line->align == ESCPOS_RIGHT)
			pad = l->columns - text_columns(text);
		append(buf, len, &used, "%*s%s\n", pad > 0 ? pad : 0, "", text);
	}
	return used;
}
