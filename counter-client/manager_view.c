/* The manager's live screen (ncursesw on the libevent loop of common/client.c): the hall as
 * it is (windows, queues, the longest wait, from snapshot and events), today's figures
 * against the wait target, stats tables by service, window and clerk, and an hourly chart of
 * arrivals and mean wait over a date range chosen from the keyboard. */
#include "manager_int.h"

#include "client.h"
#include "log.h"
#include "ratingcsv.h"
#include "utf8.h"

#include <curses.h>
#include <event2/event.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MV_MAX_WINDOWS 256
#define MV_MAX_SITES 1024 /* sites of a region manager's scope the view can switch between */
#define MV_MAX_SERVICES 512
#define MV_LIVE_REFRESH_S 2   /* the longest wait and the server's clock */
#define MV_STATS_REFRESH_S 30 /* figures and tables, unless events asked for sooner */
#define MV_STATS_TIMEOUT_MS 30000

enum mv_page { PAGE_HALL, PAGE_SERVICES, PAGE_WINDOWS, PAGE_CLERKS, PAGE_HOURS, PAGE_COUNT };
static const char *const mv_page_names[PAGE_COUNT] = {"Hall 大厅", "Services 业务", "Windows 窗口", "Clerks 人员", "Hours 时段"};

/* The stats tables the screen shows; each is refreshed as a whole. */
enum mv_table { TABLE_TODAY, TABLE_SERVICE, TABLE_WINDOW, TABLE_CLERK, TABLE_HOUR, TABLE_COUNT };
static const char *const mv_table_by[TABLE_COUNT] = {"total", "service", "window", "clerk", "hour"};

struct mv_window {
	int id;
	char name[96], state[16], ticket[16], clerk[40];
	long since; /* epoch seconds of its last state change; 0 when the server does not say */
};

struct mv_service {
	char id[40], name[128];
	int waiting, ewt;
};

struct mv_stats {
	struct manager_rows shown;   /* the last complete answer */
	struct manager_rows loading; /* pages of the answer being fetched */
	unsigned generation;	     /* answers of an older generation are dropped */
	bool busy;
};

/* The whole screen's state. */
struct mv {
	const struct manager_options *opt;
	struct event_base *base;
	struct client *client;
	struct event *stdin_ev, *tick_ev, *signals[4];
	char site_name[128], today[11];
	char site_id[32];		  /* the site shown: hello's */
	char scope[MV_MAX_SITES][32];	  /* a region manager's sites (hello's user.sites), in order */
	int nscope;
	int sla;
	long long clock_skew; /* server time minus local time, from ping */
	struct mv_window windows[MV_MAX_WINDOWS];
	int nwindows;
	struct mv_service services[MV_MAX_SERVICES];
	int nservices;
	long oldest_since;   /* issued_at of the longest-waiting ticket, 0 when none waits */
	char oldest_number[16];
	int waiting_total;
	char from[11], to[11];
	struct mv_stats stats[TABLE_COUNT];
	enum mv_page page;
	int scroll;
	bool prompting;
	char prompt[32];
	char message[160];
	bool stats_dirty; /* events changed the figures: refresh at the next tick */
	time_t last_stats;
	bool quit;
};

/* A stats request in flight: which table, of which generation, from which row. */
struct mv_pending {
	struct mv *mv;
	enum mv_table table;
	unsigned generation;
	int offset;
};

static void mv_draw(struct mv *mv);
static void mv_next_site(struct mv *mv);
static void mv_request_stats(struct mv *mv, enum mv_table table, unsigned generation, int offset);

/* The server's time now, as far as we know it. */
static long mv_now(const struct mv *mv)
{
	return (long)(time(NULL) + mv->clock_skew);
}

/* Copies a string member of o into out, or "" when it is absent or null. */
static void mv_copy(const cJSON *o, const char *name, char *out, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	snprintf(out, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* An integer member of o, or def. */
static long mv_int(const cJSON *o, const char *name, long def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(v) ? (long)v->valuedouble : def;
}

/* Updates (or adds) a window from a Window object. */
static void mv_apply_window(struct mv *mv, const cJSON *w)
{
	int id = (int)mv_int(w, "id", 0);
	struct mv_window *slot = NULL;
	for (int i = 0; i < mv->nwindows && !slot; i++)
		if (mv->windows[i].id == id)
			slot = &mv->windows[i];
	if (!slot) {
		if (mv->nwindows == MV_MAX_WINDOWS)
			return;
		slot = &mv->windows[mv->nwindows++];
	}
	slot->id = id;
	mv_copy(w, "name", slot->name, sizeof slot->name);
	mv_copy(w, "state", slot->state, sizeof slot->state);
	mv_copy(w, "ticket", slot->ticket, sizeof slot->ticket);
	mv_copy(w, "clerk", slot->clerk, sizeof slot->clerk);
	slot->since = mv_int(w, "since", 0);
}

/* The service of that id, or NULL. */
static struct mv_service *mv_service(struct mv *mv, const char *id)
{
	for (int i = 0; i < mv->nservices; i++)
		if (strcmp(mv->services[i].id, id) == 0)
			return &mv->services[i];
	return NULL;
}

/* Updates (or adds) a service from a Service object. */
static void mv_apply_service(struct mv *mv, const cJSON *s)
{
	char id[40];
	mv_copy(s, "id", id, sizeof id);
	struct mv_service *slot = mv_service(mv, id);
	if (!slot) {
		if (mv->nservices == MV_MAX_SERVICES)
			return;
		slot = &mv->services[mv->nservices++];
		snprintf(slot->id, sizeof slot->id, "%s", id);
	}
	if (cJSON_GetObjectItemCaseSensitive(s, "name"))
		mv_copy(s, "name", slot->name, sizeof slot->name);
	slot->waiting = (int)mv_int(s, "waiting", slot->waiting);
	slot->ewt = (int)mv_int(s, "ewt", slot->ewt);
}

/* Reads the site object: name, today and the wait target. */
static void mv_apply_site(struct mv *mv, const cJSON *site)
{
	if (!cJSON_IsObject(site))
		return;
	mv_copy(site, "name", mv->site_name, sizeof mv->site_name);
	char today[11];
	mv_copy(site, "date", today, sizeof today);
	if (manager_date_valid(today))
		memcpy(mv->today, today, sizeof today);
	mv->sla = (int)mv_int(site, "sla", 900);
	long t = mv_int(site, "time", 0);
	if (t > 0)
		mv->clock_skew = (long long)t - (long long)time(NULL);
}

/* Starts fetching every stats table afresh (older answers still in flight are dropped). */
static void mv_refresh_stats(struct mv *mv)
{
	for (int t = 0; t < TABLE_COUNT; t++) {
		struct mv_stats *s = &mv->stats[t];
		s->generation++;
		manager_rows_clear(&s->loading);
		s->busy = true;
		mv_request_stats(mv, (enum mv_table)t, s->generation, 0);
	}
	mv->stats_dirty = false;
	mv->last_stats = time(NULL);
}

/* Receives one page of a stats table; asks for the next page or shows the whole answer. */
static void mv_on_stats(void *arg, cJSON *resp)
{
	struct mv_pending *p = arg;
	struct mv *mv = p->mv;
	struct mv_stats *s = &mv->stats[p->table];
	if (p->generation != s->generation) {
		free(p);
		return;
	}
	if (!resp || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"))) {
		const cJSON *err = resp ? cJSON_GetObjectItemCaseSensitive(resp, "error") : NULL;
		char msg[128];
		mv_copy(err, "message", msg, sizeof msg);
		snprintf(mv->message, sizeof mv->message, "stats: %s", msg[0] ? msg : "no answer");
		s->busy = false;
		free(p);
		mv_draw(mv);
		return;
	}
	manager_rows_add_json(&s->loading, cJSON_GetObjectItemCaseSensitive(resp, "rows"));
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "more"))) {
		mv_request_stats(mv, p->table, p->generation, (int)mv_int(resp, "next_offset", 0));
	} else {
		struct manager_rows done = s->loading;
		s->loading = s->shown;
		s->shown = done;
		manager_rows_clear(&s->loading);
		s->busy = false;
	}
	free(p);
	mv_draw(mv);
}

/* Asks for one page of a stats table: today's total, or the chosen range by a dimension. */
static void mv_request_stats(struct mv *mv, enum mv_table table, unsigned generation, int offset)
{
	if (!mv->today[0])
		return;
	struct mv_pending *p = malloc(sizeof *p);
	if (!p)
		return;
	*p = (struct mv_pending){mv, table, generation, offset};
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "from", table == TABLE_TODAY ? mv->today : mv->from);
	cJSON_AddStringToObject(args, "to", table == TABLE_TODAY ? mv->today : mv->to);
	cJSON_AddStringToObject(args, "by", mv_table_by[table]);
	cJSON_AddNumberToObject(args, "offset", offset);
	if (client_request_timeout(mv->client, "stats", args, MV_STATS_TIMEOUT_MS, mv_on_stats, p) < 0) {
		mv->stats[table].busy = false;
		free(p);
	}
}

/* Receives the hall's queue: the longest-waiting ticket and the number waiting. */
static void mv_on_queue(void *arg, cJSON *resp)
{
	struct mv *mv = arg;
	if (!resp || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok")))
		return;
	mv->oldest_since = 0;
	mv->oldest_number[0] = '\0';
	mv->waiting_total = 0;
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(resp, "tickets")) {
		long since = mv_int(t, "issued_at", 0);
		mv->waiting_total++;
		if (since > 0 && (mv->oldest_since == 0 || since < mv->oldest_since)) {
			mv->oldest_since = since;
			mv_copy(t, "number", mv->oldest_number, sizeof mv->oldest_number);
		}
	}
	mv_draw(mv);
}

/* Receives ping: keeps our idea of the server's clock (it may be a test clock). */
static void mv_on_ping(void *arg, cJSON *resp)
{
	struct mv *mv = arg;
	long t = resp ? mv_int(resp, "time", 0) : 0;
	if (t > 0)
		mv->clock_skew = (long long)t - (long long)time(NULL);
}

/* Asks for what the events do not carry: the queue's oldest ticket and the server's clock. */
static void mv_refresh_live(struct mv *mv)
{
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "limit", 1000);
	client_request(mv->client, "queue", args, mv_on_queue, mv);
	client_request(mv->client, "ping", NULL, mv_on_ping, mv);
}

/* The session is up: take the snapshot, then fetch the figures. */
static void mv_on_ready(struct client *c, cJSON *hello, cJSON *snapshot, void *arg)
{
	(void)c;
	struct mv *mv = arg;
	mv_apply_site(mv, cJSON_GetObjectItemCaseSensitive(hello, "site"));
	mv_copy(cJSON_GetObjectItemCaseSensitive(hello, "site"), "id", mv->site_id, sizeof mv->site_id);
	const cJSON *item;
	mv->nscope = 0;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(hello, "user"), "sites"))
		if (cJSON_IsString(item) && mv->nscope < MV_MAX_SITES)
			snprintf(mv->scope[mv->nscope++], sizeof mv->scope[0], "%s", item->valuestring);
	mv->nwindows = 0;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(snapshot, "windows"))
		mv_apply_window(mv, item);
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(snapshot, "services"))
		mv_apply_service(mv, item);
	mv_apply_site(mv, cJSON_GetObjectItemCaseSensitive(snapshot, "site"));
	if (!mv->from[0]) {
		memcpy(mv->from, mv->today, sizeof mv->from);
		memcpy(mv->to, mv->today, sizeof mv->to);
	}
	mv->message[0] = '\0';
	mv_refresh_live(mv);
	mv_refresh_stats(mv);
	mv_draw(mv);
}

/* hello was refused: show why and stop (a wrong password will not get better by retrying). */
static void mv_on_hello_failed(struct client *c, cJSON *response, void *arg)
{
	(void)c;
	struct mv *mv = arg;
	char msg[128];
	mv_copy(cJSON_GetObjectItemCaseSensitive(response, "error"), "message", msg, sizeof msg);
	snprintf(mv->message, sizeof mv->message, "sign-in refused: %s (q quits)", msg);
	mv_draw(mv);
}

/* Applies an event to the live picture; figures are refreshed at the next tick. */
static void mv_on_event(struct client *c, cJSON *event, void *arg)
{
	(void)c;
	struct mv *mv = arg;
	char kind[16];
	mv_copy(event, "event", kind, sizeof kind);
	if (strcmp(kind, "window") == 0) {
		mv_apply_window(mv, cJSON_GetObjectItemCaseSensitive(event, "window"));
	} else if (strcmp(kind, "queue") == 0) {
		char id[40];
		mv_copy(event, "service", id, sizeof id);
		struct mv_service *s = mv_service(mv, id);
		if (s) {
			s->waiting = (int)mv_int(event, "waiting", s->waiting);
			s->ewt = (int)mv_int(event, "ewt", s->ewt);
		}
	} else if (strcmp(kind, "ticket") == 0) {
		mv->stats_dirty = true;
		return; /* the queue refresh at the next tick redraws */
	}
	mv_draw(mv);
}

/* The link dropped; the client reconnects by itself. */
static void mv_on_disconnected(struct client *c, const char *reason, void *arg)
{
	(void)c;
	struct mv *mv = arg;
	snprintf(mv->message, sizeof mv->message, "disconnected: %s", reason);
	mv_draw(mv);
}

/* ------------------------------------------------------------------------------------ */
/* Drawing */

/* Writes text at (y, x) cut or padded to cols display columns (wide characters count two). */
static void mv_put(int y, int x, const char *text, int cols, bool right)
{
	if (cols <= 0 || y >= LINES || x >= COLS)
		return;
	if (x + cols > COLS)
		cols = COLS - x;
	char cut[512], padded[600];
	utf8_truncate(text, (size_t)cols, cut, sizeof cut);
	utf8_pad(padded, sizeof padded, cut, (size_t)cols, right);
	mvaddstr(y, x, padded);
}

/* Writes a line of text at row y from column 0, cut to the screen. */
static void mv_line(int y, const char *text)
{
	mv_put(y, 0, text, COLS, false);
}

/* Formats "n" or "-" for an absent count. */
static void mv_count(long n, char *out, size_t len)
{
	if (n < 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%ld", n);
}

/* Today's 好差评 line: each level's label (with its English where the screen is wide
 * enough) and its count, best first. */
static void mv_ratings_line(const struct manager_row *r, char *line, size_t len, int width)
{
	int n = snprintf(line, len, "Ratings 好差评");
	bool english = width >= 150;
	for (int score = 5; score >= 1 && n > 0 && (size_t)n < len; score--)
		n += snprintf(line + n, len - (size_t)n, "  %s%s%s %ld", rating_label(score), english ? " " : "",
			      english ? rating_label_en(score) : "", r->rating_counts[score - 1]);
}

/* Draws the live hall: today's figures, the windows and the queues. */
static int mv_draw_hall(struct mv *mv, int y)
{
	char a[64], b[64], c[64], line[512];
	const struct mv_stats *today = &mv->stats[TABLE_TODAY];
	manager_duration(mv->sla, a, sizeof a);
	if (today->shown.n > 0) {
		const struct manager_row *r = &today->shown.rows[0];
		manager_duration(r->wait_mean, b, sizeof b);
		manager_duration(r->wait_p90, c, sizeof c);
		snprintf(line, sizeof line, "Today 今日  issued %ld  served %ld  no-show %ld  cancelled %ld  expired %ld",
			 r->issued, r->served, r->no_show, r->cancelled, r->expired);
		mv_line(y++, line);
		char sla[32];
		if (r->sla_pct >= 0)
			snprintf(sla, sizeof sla, "%.1f%%", r->sla_pct);
		else
			snprintf(sla, sizeof sla, "-");
		snprintf(line, sizeof line, "Target %s  mean wait %s  p90 %s  within target %s%s", a, b, c, sla,
			 r->wait_p90 > mv->sla ? "  ** p90 over target **" : "");
		if (r->wait_p90 > mv->sla)
			attron(A_BOLD);
		mv_line(y++, line);
		attroff(A_BOLD);
		mv_ratings_line(r, line, sizeof line, COLS);
		mv_line(y++, line);
	} else {
		mv_line(y++, "Today 今日  (loading)");
		y += 2;
	}
	if (mv->oldest_since > 0) {
		manager_duration((double)(mv_now(mv) - mv->oldest_since), b, sizeof b);
		snprintf(line, sizeof line, "Waiting 等候 %d   longest wait 最长等候 %s (%s)", mv->waiting_total, b,
			 mv->oldest_number);
	} else {
		snprintf(line, sizeof line, "Waiting 等候 %d   nobody waits", mv->waiting_total);
	}
	mv_line(y++, line);
	y++;
	int half = COLS / 2;
	int top = y;
	/* The state takes its time in state ("calling 3m") when the server sends since. */
	int name_w = half >= 50 ? 12 : 9, state_w = 14;
	int ticket_x = 4 + name_w + state_w, clerk_x = ticket_x + 7;
	attron(A_UNDERLINE);
	mv_put(y, 0, "Win", 4, false);
	mv_put(y, 4, "Name", name_w, false);
	mv_put(y, 4 + name_w, "State", state_w, false);
	mv_put(y, ticket_x, "Ticket", 6, false);
	mv_put(y, clerk_x, "Clerk", half - clerk_x - 1, false);
	attroff(A_UNDERLINE);
	y++;
	for (int i = mv->scroll; i < mv->nwindows && y < LINES - 1; i++, y++) {
		const struct mv_window *w = &mv->windows[i];
		char state[48];
		snprintf(a, sizeof a, "%d", w->id);
		mv_put(y, 0, a, 4, false);
		mv_put(y, 4, w->name, name_w - 1, false);
		manager_state_since(w->state, w->since, mv_now(mv), state, sizeof state);
		mv_put(y, 4 + name_w, state, state_w - 1, false);
		mv_put(y, ticket_x, w->ticket[0] ? w->ticket : "-", 6, false);
		mv_put(y, clerk_x, w->clerk[0] ? w->clerk : "-", half - clerk_x - 1, false);
	}
	y = top;
	attron(A_UNDERLINE);
	mv_put(y, half, "Svc", 5, false);
	mv_put(y, half + 5, "Name", COLS - half - 24, false);
	mv_put(y, COLS - 19, "Waiting", 8, true);
	mv_put(y, COLS - 10, "Est.wait", 9, true);
	attroff(A_UNDERLINE);
	y++;
	for (int i = mv->scroll; i < mv->nservices && y < LINES - 1; i++, y++) {
		const struct mv_service *s = &mv->services[i];
		mv_put(y, half, s->id, 5, false);
		mv_put(y, half + 5, s->name, COLS - half - 24, false);
		snprintf(a, sizeof a, "%d", s->waiting);
		mv_put(y, COLS - 19, a, 8, true);
		manager_duration(s->ewt, b, sizeof b);
		mv_put(y, COLS - 10, b, 9, true);
	}
	return y;
}

/* Fills the cells of a stats row in the order of manager_column_table. */
static void mv_row_cells(const struct manager_row *r, char cells[MANAGER_COLUMNS_MAX][32])
{
	mv_count(r->issued, cells[0], 32);
	mv_count(r->served, cells[1], 32);
	mv_count(r->no_show, cells[2], 32);
	mv_count(r->cancelled, cells[3], 32);
	mv_count(r->expired, cells[4], 32);
	manager_duration(r->wait_mean, cells[5], 32);
	manager_duration(r->wait_p50, cells[6], 32);
	manager_duration(r->wait_p90, cells[7], 32);
	manager_duration(r->wait_max, cells[8], 32);
	manager_duration(r->service_mean, cells[9], 32);
	if (r->sla_pct >= 0)
		snprintf(cells[10], 32, "%.1f", r->sla_pct);
	else
		snprintf(cells[10], 32, "-");
	if (r->rating_mean >= 0)
		snprintf(cells[11], 32, "%.1f/%ld", r->rating_mean, r->ratings);
	else
		snprintf(cells[11], 32, "-");
}

/* Draws a stats table (by service, window or clerk) for the chosen range, with the columns
 * that fit the width (the most telling first) and services named, not only by id. */
static void mv_draw_table(struct mv *mv, enum mv_table table, int y)
{
	bool per_service = table == TABLE_SERVICE;
	int key_cols = per_service ? (COLS >= 120 ? 24 : 14) : 8;
	int ncols;
	const struct manager_column *cols = manager_column_table(&ncols);
	int picked[MANAGER_COLUMNS_MAX];
	int npicked = manager_pick_columns(per_service, COLS - key_cols - 1, picked);
	attron(A_UNDERLINE);
	mv_put(y, 0, mv_table_by[table], key_cols, false);
	for (int c = 0, x = key_cols; c < npicked; x += cols[picked[c]].width, c++)
		mv_put(y, x, cols[picked[c]].head, cols[picked[c]].width, true);
	attroff(A_UNDERLINE);
	y++;
	const struct mv_stats *s = &mv->stats[table];
	if (s->shown.n == 0)
		mv_line(y, s->busy ? "(loading)" : "(nothing in this range)");
	for (int i = mv->scroll; i < s->shown.n && y < LINES - 1; i++, y++) {
		const struct manager_row *r = &s->shown.rows[i];
		char cells[MANAGER_COLUMNS_MAX][32], key[MANAGER_KEY_MAX + 140];
		mv_row_cells(r, cells);
		const struct mv_service *svc = per_service ? mv_service(mv, r->key) : NULL;
		snprintf(key, sizeof key, "%s%s%s", r->key, svc && svc->name[0] ? " " : "",
			 svc ? svc->name : "");
		mv_put(y, 0, key, key_cols - 1, false);
		for (int c = 0, x = key_cols; c < npicked; x += cols[picked[c]].width, c++)
			mv_put(y, x, cells[picked[c]], cols[picked[c]].width, true);
	}
}

/* Draws a horizontal bar of value out of max in width columns. */
static void mv_bar(int y, int x, int width, double value, double max)
{
	int n = max > 0 && value > 0 ? (int)(value / max * width + 0.5) : 0;
	if (value > 0 && n == 0)
		n = 1;
	for (int i = 0; i < width; i++)
		mvaddch(y, x + i, i < n ? '#' : ' ');
}

/* Draws the hourly chart: arrivals and mean wait per hour of the range. */
static void mv_draw_hours(struct mv *mv, int y)
{
	const struct mv_stats *s = &mv->stats[TABLE_HOUR];
	double max_issued = 0, max_wait = 0;
	int first = -1, last = -1;
	for (int i = 0; i < s->shown.n; i++) {
		const struct manager_row *r = &s->shown.rows[i];
		if (r->issued > 0 || r->waits > 0) {
			if (first < 0)
				first = i;
			last = i;
		}
		if (r->issued > max_issued)
			max_issued = (double)r->issued;
		if (r->wait_mean > max_wait)
			max_wait = r->wait_mean;
	}
	int bar = (COLS - 26) / 2;
	if (bar < 4)
		bar = 4;
	attron(A_UNDERLINE);
	mv_put(y, 0, "Hour", 5, false);
	mv_put(y, 5, "Arrivals 取号", bar + 6, false);
	mv_put(y, 11 + bar, "Mean wait 平均等候", bar + 10, false);
	attroff(A_UNDERLINE);
	y++;
	if (first < 0) {
		mv_line(y, s->busy ? "(loading)" : "(nothing in this range)");
		return;
	}
	for (int i = first + mv->scroll; i <= last && y < LINES - 1; i++, y++) {
		const struct manager_row *r = &s->shown.rows[i];
		char n[16], w[32];
		mv_put(y, 0, r->key, 5, false);
		snprintf(n, sizeof n, "%ld", r->issued);
		mv_put(y, 5, n, 5, true);
		mv_bar(y, 11, bar - 1, (double)r->issued, max_issued);
		manager_duration(r->wait_mean, w, sizeof w);
		mv_put(y, 11 + bar, w, 8, true);
		mv_bar(y, 20 + bar, bar - 1, r->wait_mean, max_wait);
	}
}

/* The keys that fit the width, whole, the most needed first kept (q quit always). */
static void mv_footer_keys(char *out, size_t len, int width, bool sites)
{
	static const char *const keys[] = {"q quit", "1-5/Tab page", "r range", "t today", "y yesterday",
					   "w 7 days", "m 30 days", "[ ] move", "g refresh", "s next site"};
	out[0] = '\0';
	size_t used = 0;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0] - !sites; i++) {
		size_t w = strlen(keys[i]) + (used ? 2 : 0);
		if (used + w > (size_t)width || used + w >= len)
			continue;
		snprintf(out + used, len - used, "%s%s", used ? "  " : "", keys[i]);
		used += w;
	}
}

/* Redraws the whole screen. */
static void mv_draw(struct mv *mv)
{
	if (mv->quit)
		return; /* the terminal is being (or has been) given back */
	erase();
	char line[512];
	snprintf(line, sizeof line, "qhall manager 管理  %s  %s  %s", mv->site_name, mv->today,
		 client_status_text(mv->client));
	attron(A_REVERSE);
	mv_line(0, line);
	attroff(A_REVERSE);
	int x = 0;
	for (int p = 0; p < PAGE_COUNT; p++) {
		snprintf(line, sizeof line, " %d %s ", p + 1, mv_page_names[p]);
		if (p == (int)mv->page)
			attron(A_REVERSE);
		mv_put(1, x, line, (int)utf8_width(line), false);
		attroff(A_REVERSE);
		x += (int)utf8_width(line) + 1;
	}
	snprintf(line, sizeof line, "Range 范围 %s .. %s (%d days)", mv->from, mv->to, manager_date_span(mv->from, mv->to));
	mv_line(2, line);
	int y = 4;
	switch (mv->page) {
	case PAGE_HALL: mv_draw_hall(mv, y); break;
	case PAGE_SERVICES: mv_draw_table(mv, TABLE_SERVICE, y); break;
	case PAGE_WINDOWS: mv_draw_table(mv, TABLE_WINDOW, y); break;
	case PAGE_CLERKS: mv_draw_table(mv, TABLE_CLERK, y); break;
	case PAGE_HOURS: mv_draw_hours(mv, y); break;
	default: break;
	}
	if (mv->prompting)
		snprintf(line, sizeof line, "Range (YYYY-MM-DD YYYY-MM-DD): %s_", mv->prompt);
	else if (mv->message[0])
		snprintf(line, sizeof line, "%s", mv->message);
	else
		mv_footer_keys(line, sizeof line, COLS, mv->nscope > 1);
	attron(A_REVERSE);
	mv_line(LINES - 1, line);
	attroff(A_REVERSE);
	refresh();
}

/* ------------------------------------------------------------------------------------ */
/* Keys, signals, the tick */

/* Sets the range to the days-long span ending `end_offset` days from today. */
static void mv_set_range(struct mv *mv, int days, int end_offset)
{
	manager_date_add(mv->today, end_offset, mv->to);
	manager_date_add(mv->to, 1 - days, mv->from);
	mv->scroll = 0;
	mv_refresh_stats(mv);
}

/* Takes the typed range "FROM TO" (or one date) when it is valid. */
static void mv_prompt_done(struct mv *mv)
{
	char from[16] = "", to[16] = "";
	int n = sscanf(mv->prompt, "%15s %15s", from, to);
	if (n == 1)
		memcpy(to, from, sizeof to);
	if (n < 1 || !manager_date_valid(from) || !manager_date_valid(to) || manager_date_span(from, to) < 1) {
		snprintf(mv->message, sizeof mv->message, "not a range: write two dates YYYY-MM-DD, the first not after the second");
		return;
	}
	memcpy(mv->from, from, sizeof mv->from);
	memcpy(mv->to, to, sizeof mv->to);
	mv->message[0] = '\0';
	mv->scroll = 0;
	mv_refresh_stats(mv);
}

/* Handles one key of the range prompt. */
static void mv_prompt_key(struct mv *mv, wint_t ch, bool is_key)
{
	size_t len = strlen(mv->prompt);
	if (!is_key && (ch == '\n' || ch == '\r')) {
		mv->prompting = false;
		mv_prompt_done(mv);
	} else if (!is_key && ch == 27) {
		mv->prompting = false;
	} else if ((is_key && ch == KEY_BACKSPACE) || (!is_key && (ch == 127 || ch == 8))) {
		if (len > 0)
			mv->prompt[len - 1] = '\0';
	} else if (!is_key && ((ch >= '0' && ch <= '9') || ch == '-' || ch == ' ') && len + 1 < sizeof mv->prompt) {
		mv->prompt[len] = (char)ch;
		mv->prompt[len + 1] = '\0';
	}
}

/* Handles one key. */
static void mv_key(struct mv *mv, wint_t ch, bool is_key)
{
	if (mv->prompting) {
		mv_prompt_key(mv, ch, is_key);
		return;
	}
	mv->message[0] = '\0';
	int span = manager_date_span(mv->from, mv->to);
	if (is_key) {
		if (ch == KEY_DOWN)
			mv->scroll++;
		else if (ch == KEY_UP && mv->scroll > 0)
			mv->scroll--;
		else if (ch == KEY_NPAGE)
			mv->scroll += LINES / 2;
		else if (ch == KEY_PPAGE)
			mv->scroll = mv->scroll > LINES / 2 ? mv->scroll - LINES / 2 : 0;
		return;
	}
	switch (ch) {
	case 'q': case 'Q': mv->quit = true; break;
	case '1': case '2': case '3': case '4': case '5':
		mv->page = (enum mv_page)(ch - '1');
		mv->scroll = 0;
		break;
	case '\t':
		mv->page = (enum mv_page)((mv->page + 1) % PAGE_COUNT);
		mv->scroll = 0;
		break;
	case 't': mv_set_range(mv, 1, 0); break;
	case 'y': mv_set_range(mv, 1, -1); break;
	case 'w': mv_set_range(mv, 7, 0); break;
	case 'm': mv_set_range(mv, 30, 0); break;
	case '[':
	case ']': {
		int step = ch == '[' ? -span : span;
		manager_date_add(mv->from, step, mv->from);
		manager_date_add(mv->to, step, mv->to);
		mv->scroll = 0;
		mv_refresh_stats(mv);
		break;
	}
	case 'r':
		mv->prompting = true;
		snprintf(mv->prompt, sizeof mv->prompt, "%s %s", mv->from, mv->to);
		break;
	case 'g':
		mv_refresh_live(mv);
		mv_refresh_stats(mv);
		break;
	case 's': mv_next_site(mv); break;
	default: break;
	}
}

/* Reads every key waiting on stdin. */
static void mv_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mv *mv = arg;
	wint_t ch;
	int r;
	while (!mv->quit && (r = get_wch(&ch)) != ERR)
		mv_key(mv, ch, r == KEY_CODE_YES);
	if (mv->quit)
		event_base_loopbreak(mv->base);
	else
		mv_draw(mv);
}

/* Once a second: the clock line, and the live and stats refreshes when due. */
static void mv_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mv *mv = arg;
	static int ticks;
	if (client_is_ready(mv->client)) {
		if (++ticks % MV_LIVE_REFRESH_S == 0)
			mv_refresh_live(mv);
		time_t now = time(NULL);
		if ((mv->stats_dirty && now - mv->last_stats >= 2) || now - mv->last_stats >= MV_STATS_REFRESH_S)
			mv_refresh_stats(mv);
	}
	mv_draw(mv);
}

/* SIGWINCH: tells curses the new size (it does not see the signal under libevent). */
static void mv_winch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	mv_draw(arg);
}

/* SIGTERM, SIGHUP, SIGINT: leave cleanly, restoring the terminal. */
static void mv_quit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mv *mv = arg;
	mv->quit = true;
	event_base_loopbreak(mv->base);
}

/* Builds the hello arguments of a manager at a site (NULL: none named). */
static cJSON *mv_hello(const struct manager_options *opt, const char *site)
{
	cJSON *hello = cJSON_CreateObject();
	cJSON_AddStringToObject(hello, "role", "manager");
	cJSON_AddStringToObject(hello, "user", opt->user);
	cJSON_AddStringToObject(hello, "password", opt->password);
	if (site)
		cJSON_AddStringToObject(hello, "site", site);
	return hello;
}

/* Opens the connection of the view, signed in at the site; -1 for a bad server address. */
static int mv_connect(struct mv *mv, const char *site)
{
	struct client_callbacks cb = {
		.on_ready = mv_on_ready,
		.on_hello_failed = mv_on_hello_failed,
		.on_event = mv_on_event,
		.on_disconnected = mv_on_disconnected,
	};
	mv->client = client_new(mv->base, mv->opt->server, &cb, mv);
	if (!mv->client)
		return -1;
	client_set_hello(mv->client, mv_hello(mv->opt, site));
	client_set_subscribe(mv->client, NULL);
	client_want_snapshot(mv->client, true);
	return 0;
}

/* Switches a region manager's view to the next site of its scope: a new connection signed
 * in there (the hall, its events and its figures are that site's). */
static void mv_next_site(struct mv *mv)
{
	if (mv->nscope < 2) {
		snprintf(mv->message, sizeof mv->message, "no other site to switch to");
		return;
	}
	int next = 0;
	for (int i = 0; i < mv->nscope; i++)
		if (strcmp(mv->scope[i], mv->site_id) == 0)
			next = (i + 1) % mv->nscope;
	for (int t = 0; t < TABLE_COUNT; t++)
		mv->stats[t].generation++; /* answers of the old site are dropped */
	client_free(mv->client);
	snprintf(mv->site_id, sizeof mv->site_id, "%s", mv->scope[next]);
	snprintf(mv->site_name, sizeof mv->site_name, "%s", mv->site_id);
	mv->nwindows = mv->nservices = mv->waiting_total = 0;
	mv->oldest_since = 0;
	mv->oldest_number[0] = '\0';
	if (mv_connect(mv, mv->site_id) < 0)
		mv->quit = true;
}

/* Frees everything the view made. */
static void mv_free(struct mv *mv)
{
	client_free(mv->client);
	for (int i = 0; i < 4; i++)
		if (mv->signals[i])
			event_free(mv->signals[i]);
	if (mv->stdin_ev)
		event_free(mv->stdin_ev);
	if (mv->tick_ev)
		event_free(mv->tick_ev);
	for (int t = 0; t < TABLE_COUNT; t++) {
		manager_rows_free(&mv->stats[t].shown);
		manager_rows_free(&mv->stats[t].loading);
	}
	if (mv->base)
		event_base_free(mv->base);
}

/* Runs the view until q or a signal; returns the exit status. */
int manager_view_run(const struct manager_options *opt)
{
	static struct mv mv; /* large: static, not on the stack */
	memset(&mv, 0, sizeof mv);
	mv.opt = opt;
	mv.sla = 900;
	if (opt->from && opt->to) {
		snprintf(mv.from, sizeof mv.from, "%s", opt->from);
		snprintf(mv.to, sizeof mv.to, "%s", opt->to);
	}
	if (!setlocale(LC_ALL, "") || strcmp(setlocale(LC_CTYPE, NULL), "C") == 0)
		setlocale(LC_CTYPE, "C.UTF-8");
	log_set_name("counter-client");
	if (opt->log_file && !freopen(opt->log_file, "a", stderr))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	mv.base = event_base_new();
	if (!mv.base)
		return 1;
	if (mv_connect(&mv, opt->site) < 0) {
		fprintf(stderr, "counter-client: bad server address %s\n", opt->server ? opt->server : "");
		mv_free(&mv);
		return 2;
	}

	initscr();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	/* Added after initscr, so libevent's handlers replace those curses installs. */
	const int sigs[4] = {SIGWINCH, SIGTERM, SIGHUP, SIGINT};
	for (int i = 0; i < 4; i++) {
		mv.signals[i] = evsignal_new(mv.base, sigs[i], i == 0 ? mv_winch_cb : mv_quit_cb, &mv);
		if (mv.signals[i])
			evsignal_add(mv.signals[i], NULL);
	}
	mv.stdin_ev = event_new(mv.base, STDIN_FILENO, EV_READ | EV_PERSIST, mv_stdin_cb, &mv);
	mv.tick_ev = event_new(mv.base, -1, EV_PERSIST, mv_tick_cb, &mv);
	struct timeval second = {1, 0};
	event_add(mv.stdin_ev, NULL);
	event_add(mv.tick_ev, &second);
	mv_draw(&mv);
	event_base_dispatch(mv.base);
	mv.quit = true; /* from here replies to requests still pending draw nothing */
	endwin();
	mv_free(&mv);
	return 0;
}
