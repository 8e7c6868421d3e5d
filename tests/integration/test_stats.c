/* The stats op through a real qserver and redis-server: the test drives the clock, makes
 * tickets with known times, keeps its own list of what happened to them ("facts"), and checks
 * every figure of every stats row against what it computes from those facts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "testassert.h"

#define TZ_OFFSET (8 * 3600) /* Asia/Shanghai, the zone of tests/data/small.json */
#define SLA 900
#define MAX_FACTS 4096
#define MAX_TICKETS 1024


/* Something the stats count, as the test saw it happen. */
enum fact_kind { F_ISSUED, F_WAIT, F_SERVED, F_NO_SHOW, F_CANCELLED, F_EXPIRED, F_RATING };

struct fact {
	enum fact_kind kind;
	char day[11];
	int hour;
	char service[16];
	int window;	/* 0: none */
	char clerk[16]; /* "": none */
	long value;	/* wait, service time or rating */
};

/* A ticket as the test follows it. */
struct tracked {
	char id[32];
	char service[16];
	long spell_start; /* when its current waiting spell began */
	long called_at;
	int window;
	char clerk[16];
	char issue_day[11];
	int issue_hour;
	char finish_day[11];
	int finish_hour;
};

static struct fact facts[MAX_FACTS];
static int nfacts;
static struct tracked tickets[MAX_TICKETS];
static int ntickets;
static struct tc *mgr;	  /* manager: clock, take, cancel, rate, stats */
static struct tc *win[4]; /* clerks at windows 1 (c01), 2 (c02), 3 (c03) */
static const char *clerk_of[4] = {"", "c01", "c02", "c03"};

/* ------------------------------------------------------------------------------------ */
/* Time in the site's zone */

/* The site-local date of epoch t. */
static void local_day(long t, char out[11])
{
	time_t lt = (time_t)(t + TZ_OFFSET);
	struct tm tm;
	gmtime_r(&lt, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* The site-local hour of epoch t. */
static int local_hour(long t)
{
	return (int)(((t + TZ_OFFSET) % 86400) / 3600);
}

/* The epoch second of a site-local date and time. */
static long local_epoch(int y, int mon, int d, int h, int min)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d, .tm_hour = h, .tm_min = min};
	return (long)timegm(&tm) - TZ_OFFSET;
}

/* ------------------------------------------------------------------------------------ */
/* Requests */

/* Sets the test clock; returns the time the server reports. */
static long set_clock(long t)
{
	cJSON *r = expect_ok(tc_request(mgr, "{\"op\":\"clock\",\"set\":%ld}", t));
	long now = (long)get_num(r, "time", NULL);
	cJSON_Delete(r);
	return now;
}

/* The server's time now. */
static long server_time(void)
{
	cJSON *r = expect_ok(tc_request(mgr, "{\"op\":\"ping\"}"));
	long now = (long)get_num(r, "time", NULL);
	cJSON_Delete(r);
	return now;
}

/* Waits for the start of a real second, so ops right after a clock set happen at that
 * second exactly (qserver's test clock keeps running with real time). */
static void align_second(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	/* 100 ms past the boundary: time(2) reads a coarse clock that may lag by a tick */
	usleep((useconds_t)(1000000 - tv.tv_usec) + 100000);
}

/* Adds a fact. */
static void add_fact(enum fact_kind kind, const char *day, int hour, const char *service, int window,
		     const char *clerk, long value)
{
	assert_true(nfacts < MAX_FACTS);
	struct fact *f = &facts[nfacts++];
	f->kind = kind;
	snprintf(f->day, sizeof f->day, "%s", day);
	f->hour = hour;
	snprintf(f->service, sizeof f->service, "%s", service);
	f->window = window;
	snprintf(f->clerk, sizeof f->clerk, "%s", clerk ? clerk : "");
	f->value = value;
}

/* The tracked ticket with that id. */
static struct tracked *tracked(const char *id)
{
	for (int i = 0; i < ntickets; i++)
		if (strcmp(tickets[i].id, id) == 0)
			return &tickets[i];
	fail_msg("ticket %s is not tracked", id);
	return NULL;
}

/* Takes a ticket at the clock's time; returns its id (static storage of the tracker). */
static const char *take(const char *service)
{
	cJSON *r = expect_ok(tc_request(mgr, "{\"op\":\"take\",\"service\":\"%s\"}", service));
	assert_true(ntickets < MAX_TICKETS);
	struct tracked *t = &tickets[ntickets++];
	memset(t, 0, sizeof *t);
	snprintf(t->id, sizeof t->id, "%s", get_str(r, "ticket", "id"));
	snprintf(t->service, sizeof t->service, "%s", service);
	t->spell_start = (long)get_num(r, "ticket", "issued_at");
	local_day(t->spell_start, t->issue_day);
	t->issue_hour = local_hour(t->spell_start);
	add_fact(F_ISSUED, t->issue_day, t->issue_hour, service, 0, NULL, 0);
	cJSON_Delete(r);
	return t->id;
}

/* Records a call the server answered (ticket object in r): a waiting spell ended. */
static struct tracked *note_call(cJSON *r, int window)
{
	struct tracked *t = tracked(get_str(r, "ticket", "id"));
	t->called_at = (long)get_num(r, "ticket", "called_at");
	t->window = window;
	snprintf(t->clerk, sizeof t->clerk, "%s", clerk_of[window]);
	char day[11];
	local_day(t->called_at, day);
	add_fact(F_WAIT, day, local_hour(t->called_at), t->service, window, t->clerk, t->called_at - t->spell_start);
	return t;
}

/* Records that the ticket at a window is done at `at`, with a rating or 0. */
static void note_done(struct tracked *t, long at, int rating)
{
	local_day(at, t->finish_day);
	t->finish_hour = local_hour(at);
	add_fact(F_SERVED, t->finish_day, t->finish_hour, t->service, t->window, t->clerk, at - t->called_at);
	if (rating)
		add_fact(F_RATING, t->finish_day, t->finish_hour, t->service, t->window, t->clerk, rating);
}

/* The ticket now at a window, if the test knows one. */
static struct tracked *at_window[4];

/* call_next at a window (which finishes its current ticket); returns the called ticket's id. */
static const char *call_next(int window)
{
	cJSON *r = expect_ok(tc_request(win[window], "{\"op\":\"call_next\"}"));
	long now = server_time();
	if (at_window[window]) {
		/* the implicit finish happened at the call's time */
		const cJSON *tk = cJSON_GetObjectItemCaseSensitive(r, "ticket");
		long at = cJSON_IsNull(tk) ? now : (long)get_num(r, "ticket", "called_at");
		note_done(at_window[window], at, 0);
		at_window[window] = NULL;
	}
	if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "ticket"))) {
		cJSON_Delete(r);
		return NULL;
	}
	struct tracked *t = note_call(r, window);
	at_window[window] = t;
	cJSON_Delete(r);
	return t->id;
}

/* finish at a window, with a rating (0 for none). */
static void finish(int window, int rating)
{
	cJSON *r = rating ? tc_request(win[window], "{\"op\":\"finish\",\"rating\":%d}", rating)
			  : tc_request(win[window], "{\"op\":\"finish\"}");
	expect_ok(r);
	note_done(at_window[window], (long)get_num(r, "ticket", "finished_at"), rating);
	at_window[window] = NULL;
	cJSON_Delete(r);
}

/* A final no-show at a window, at the clock's time t (set just before). */
static void no_show(int window, long t)
{
	cJSON_Delete(expect_ok(tc_request(win[window], "{\"op\":\"no_show\"}")));
	struct tracked *tk = at_window[window];
	char day[11];
	local_day(t, day);
	add_fact(F_NO_SHOW, day, local_hour(t), tk->service, window, tk->clerk, 0);
	at_window[window] = NULL;
}

/* Transfers the window's ticket to a service at exactly time t: it waits again from t. */
static void transfer(int window, const char *service, long t)
{
	align_second();
	set_clock(t);
	cJSON_Delete(expect_ok(tc_request(win[window], "{\"op\":\"transfer\",\"service\":\"%s\"}", service)));
	assert_int_equal(server_time(), t); /* the transfer happened within the aligned second */
	struct tracked *tk = at_window[window];
	snprintf(tk->service, sizeof tk->service, "%s", service);
	tk->spell_start = t;
	at_window[window] = NULL;
}

/* Cancels a waiting ticket at the clock's time t. */
static void cancel(const char *id, long t)
{
	cJSON_Delete(expect_ok(tc_request(mgr, "{\"op\":\"cancel\",\"id\":\"%s\"}", id)));
	struct tracked *tk = tracked(id);
	char day[11];
	local_day(t, day);
	add_fact(F_CANCELLED, day, local_hour(t), tk->service, 0, NULL, 0);
}

/* Rates a done ticket afterwards: it counts where the ticket was finished. */
static void rate(const char *id, int score)
{
	cJSON_Delete(expect_ok(tc_request(mgr, "{\"op\":\"rate\",\"id\":\"%s\",\"score\":%d}", id, score)));
	struct tracked *tk = tracked(id);
	add_fact(F_RATING, tk->finish_day, tk->finish_hour, tk->service, tk->window, tk->clerk, score);
}

/* Records that a ticket still waiting expires at the next day change (counted on its issue
 * day and hour). */
static void expect_expiry(const char *id)
{
	struct tracked *tk = tracked(id);
	add_fact(F_EXPIRED, tk->issue_day, tk->issue_hour, tk->service, 0, NULL, 0);
}

/* ------------------------------------------------------------------------------------ */
/* Expected rows, from the facts */

/* The key of a fact in a dimension into out; false when the fact has none there. */
static bool fact_key(const struct fact *f, const char *by, char *out, size_t len)
{
	if (strcmp(by, "total") == 0)
		snprintf(out, len, "total");
	else if (strcmp(by, "day") == 0)
		snprintf(out, len, "%s", f->day);
	else if (strcmp(by, "hour") == 0)
		snprintf(out, len, "%02d", f->hour);
	else if (strcmp(by, "service") == 0)
		snprintf(out, len, "%s", f->service);
	else if (strcmp(by, "window") == 0) {
		if (!f->window)
			return false;
		snprintf(out, len, "%d", f->window);
	} else if (strcmp(by, "clerk") == 0) {
		if (!f->clerk[0])
			return false;
		snprintf(out, len, "%s", f->clerk);
	} else
		fail_msg("unknown by %s", by);
	return true;
}

/* Whether a fact counts in the query's range and window. */
static bool fact_in(const struct fact *f, const char *from, const char *to, int window)
{
	return strcmp(f->day, from) >= 0 && strcmp(f->day, to) <= 0 && (!window || f->window == window);
}

/* Compares longs for qsort. */
static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

/* The nearest-rank percentile of sorted values. */
static long exact_percentile(const long *sorted, int n, int p)
{
	int rank = (int)ceil(p * n / 100.0 - 1e-9);
	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

/* Checks an integer field against the expected value (or null when has is false). */
static void check_int(const cJSON *row, const char *name, bool has, long want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, name);
	const char *key = cJSON_GetObjectItemCaseSensitive(row, "key")->valuestring;
	if (!v)
		fail_msg("row %s has no %s", key, name);
	if (!has) {
		if (!cJSON_IsNull(v))
			fail_msg("row %s: %s should be null, is %g", key, name, v->valuedouble);
		return;
	}
	if (!cJSON_IsNumber(v) || (long)v->valuedouble != want)
		fail_msg("row %s: %s is %g, expected %ld", key, name, cJSON_IsNumber(v) ? v->valuedouble : -1.0, want);
}

/* Checks a number field within a tolerance. */
static void check_near(const cJSON *row, const char *name, bool has, double want, double tolerance)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, name);
	const char *key = cJSON_GetObjectItemCaseSensitive(row, "key")->valuestring;
	if (!v)
		fail_msg("row %s has no %s", key, name);
	if (!has) {
		if (!cJSON_IsNull(v))
			fail_msg("row %s: %s should be null", key, name);
		return;
	}
	if (!cJSON_IsNumber(v) || fabs(v->valuedouble - want) > tolerance)
		fail_msg("row %s: %s is %g, expected %g (within %g)", key, name,
			 cJSON_IsNumber(v) ? v->valuedouble : -1.0, want, tolerance);
}

/* The width of the histogram bucket holding a wait (docs/statistics.md): the bound on a
 * percentile's error. */
static double bucket_width(long wait)
{
	return wait < 1800 ? 30 : wait < 3600 ? 120 : wait < 7200 ? 300 : 900;
}

/* Checks every figure of one row against the facts with that key; returns the number of
 * waits it saw. Percentiles must be within pct_tolerance and within their bucket's width. */
static int check_row(const cJSON *row, const char *from, const char *to, const char *by, int window,
		     double pct_tolerance)
{
	const char *key = cJSON_GetObjectItemCaseSensitive(row, "key")->valuestring;
	long issued = 0, served = 0, noshow = 0, cancelled = 0, expired = 0, service_sum = 0, ratings = 0,
	     rating_sum = 0, wait_sum = 0, sla = 0;
	static long waits[MAX_FACTS];
	int nwaits = 0;
	for (int i = 0; i < nfacts; i++) {
		const struct fact *f = &facts[i];
		char k[32];
		if (!fact_in(f, from, to, window) || !fact_key(f, by, k, sizeof k) || strcmp(k, key) != 0)
			continue;
		switch (f->kind) {
		case F_ISSUED: issued++; break;
		case F_SERVED: served++; service_sum += f->value; break;
		case F_NO_SHOW: noshow++; break;
		case F_CANCELLED: cancelled++; break;
		case F_EXPIRED: expired++; break;
		case F_RATING: ratings++; rating_sum += f->value; break;
		case F_WAIT:
			waits[nwaits++] = f->value;
			wait_sum += f->value;
			sla += f->value <= SLA;
			break;
		}
	}
	qsort(waits, (size_t)nwaits, sizeof waits[0], cmp_long);
	bool w = nwaits > 0;
	check_int(row, "issued", true, issued);
	check_int(row, "served", true, served);
	check_int(row, "no_show", true, noshow);
	check_int(row, "cancelled", true, cancelled);
	check_int(row, "expired", true, expired);
	check_int(row, "waits", true, nwaits);
	check_int(row, "wait_mean", w, w ? lround((double)wait_sum / nwaits) : 0);
	check_int(row, "wait_max", w, w ? waits[nwaits - 1] : 0);
	for (int p = 50; p <= 90; p += 40) {
		long exact = w ? exact_percentile(waits, nwaits, p) : 0;
		double tolerance = fmin(pct_tolerance, bucket_width(exact) - 0.5);
		check_near(row, p == 50 ? "wait_p50" : "wait_p90", w, (double)exact, tolerance);
	}
	check_near(row, "sla_pct", w, w ? 100.0 * sla / nwaits : 0, 0.051);
	check_int(row, "service_mean", served > 0, served ? lround((double)service_sum / served) : 0);
	check_near(row, "rating_mean", ratings > 0, ratings ? (double)rating_sum / ratings : 0, 0.051);
	check_int(row, "ratings", true, ratings);
	return nwaits;
}

/* Counts the distinct keys the facts give in a query (plus the rows always present). */
static int expected_rows(const char *from, const char *to, const char *by, int window)
{
	if (strcmp(by, "total") == 0)
		return 1;
	if (strcmp(by, "hour") == 0)
		return 24;
	char keys[MAX_FACTS][32];
	int n = 0;
	for (int i = 0; i < nfacts; i++) {
		char k[32];
		if (!fact_in(&facts[i], from, to, window) || !fact_key(&facts[i], by, k, sizeof k))
			continue;
		int seen = 0;
		for (int j = 0; j < n && !seen; j++)
			seen = strcmp(keys[j], k) == 0;
		if (!seen)
			snprintf(keys[n++], sizeof keys[0], "%s", k);
	}
	return n;
}

/* The number of days from..to inclusive. */
static int days_between(const char *from, const char *to)
{
	struct tm a = {0}, b = {0};
	sscanf(from, "%d-%d-%d", &a.tm_year, &a.tm_mon, &a.tm_mday);
	sscanf(to, "%d-%d-%d", &b.tm_year, &b.tm_mon, &b.tm_mday);
	a.tm_year -= 1900, b.tm_year -= 1900, a.tm_mon--, b.tm_mon--;
	return (int)((timegm(&b) - timegm(&a)) / 86400) + 1;
}

/* Asks stats (every page) on a connection and returns all rows in one array (caller frees). */
static cJSON *stats_rows(struct tc *tc, const char *from, const char *to, const char *by, int window)
{
	cJSON *all = cJSON_CreateArray();
	int offset = 0;
	for (int page = 0; page < 100; page++) {
		char winarg[32] = "";
		if (window)
			snprintf(winarg, sizeof winarg, ",\"window\":%d", window);
		cJSON *r = expect_ok(tc_request(tc, "{\"op\":\"stats\",\"from\":\"%s\",\"to\":\"%s\",\"by\":\"%s\",\"offset\":%d%s}",
					 from, to, by, offset, winarg));
		cJSON *rows = cJSON_DetachItemFromObjectCaseSensitive(r, "rows");
		assert_true(cJSON_IsArray(rows));
		cJSON *row;
		while ((row = cJSON_DetachItemFromArray(rows, 0)) != NULL)
			cJSON_AddItemToArray(all, row);
		cJSON_Delete(rows);
		bool more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "more"));
		offset = (int)get_num(r, "next_offset", NULL);
		cJSON_Delete(r);
		if (!more)
			return all;
	}
	fail_msg("stats kept saying more");
	return all;
}

/* Checks a whole stats answer against the facts: the set of rows and every figure. */
static void check_stats_on(struct tc *tc, const char *from, const char *to, const char *by, int window,
			   double pct_tolerance)
{
	cJSON *rows = stats_rows(tc, from, to, by, window);
	int want = strcmp(by, "day") == 0 ? days_between(from, to) : expected_rows(from, to, by, window);
	if (cJSON_GetArraySize(rows) != want)
		fail_msg("stats %s..%s by %s window %d: %d rows, expected %d", from, to, by, window,
			 cJSON_GetArraySize(rows), want);
	const cJSON *row;
	cJSON_ArrayForEach(row, rows)
		check_row(row, from, to, by, window, pct_tolerance);
	cJSON_Delete(rows);
}

/* check_stats_on as the manager. */
static void check_stats(const char *from, const char *to, const char *by, int window)
{
	check_stats_on(mgr, from, to, by, window, 1e9);
}

static const char *const every_by[] = {"total", "service", "window", "clerk", "hour", "day"};

/* ------------------------------------------------------------------------------------ */
/* Fixtures */

/* A fresh hall with the manager and a clerk at each window connected. */
static int setup(void **state)
{
	(void)state;
	if (hall_reset(&hall) < 0)
		return -1;
	nfacts = ntickets = 0;
	memset(at_window, 0, sizeof at_window);
	mgr = hall_manager(&hall);
	win[1] = hall_clerk(&hall, "c01", 1);
	win[2] = hall_clerk(&hall, "c02", 2);
	win[3] = hall_clerk(&hall, "c03", 3);
	return mgr && win[1] && win[2] && win[3] ? 0 : -1;
}

/* Closes the connections. */
static int teardown(void **state)
{
	(void)state;
	tc_close(mgr);
	for (int i = 1; i <= 3; i++)
		tc_close(win[i]);
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Tests */

/* A day of the small hall with every kind of outcome, then a day change. */
static void run_known_day(void)
{
	long t0 = local_epoch(2026, 11, 27, 10, 0);
	set_clock(t0);
	const char *a1 = take("A");
	take("B");
	take("A");
	take("C");
	const char *b2 = take("B");
	const char *a3 = take("A");
	(void)a1;

	set_clock(t0 + 120);
	call_next(1); /* A001 to window 1 */
	set_clock(t0 + 200);
	call_next(3); /* B001 to window 3 (serves B only) */
	set_clock(t0 + 400);
	finish(1, 5);
	set_clock(t0 + 500);
	call_next(1); /* A002 */
	set_clock(t0 + 600);
	cJSON_Delete(expect_ok(tc_request(win[3], "{\"op\":\"start\"}")));
	set_clock(t0 + 900);
	finish(3, 0);
	set_clock(t0 + 950);
	assert_string_equal(call_next(3), b2);
	set_clock(t0 + 1000);
	no_show(1, t0 + 1000);
	set_clock(t0 + 1100);
	call_next(1); /* C001, waited 1100 s: over the target */
	transfer(1, "A", t0 + 1200);
	set_clock(t0 + 1300);
	finish(3, 0);
	set_clock(t0 + 1400);
	rate(b2, 3);
	set_clock(t0 + 1500);
	cancel(a3, t0 + 1500);
	set_clock(t0 + 1600);
	call_next(2); /* C001 again, now in A: its own waiting since the transfer */
	set_clock(t0 + 1700);
	finish(2, 4);
	/* the next hour */
	set_clock(t0 + 3700);
	take("A");
	set_clock(t0 + 3760);
	call_next(2);
	set_clock(t0 + 3990);
	finish(2, 2);
	set_clock(t0 + 4000);
	const char *b3 = take("B"); /* still waiting at midnight */
	expect_expiry(b3);
	/* the next day: the day change expires B003; one ticket on the new day */
	set_clock(local_epoch(2026, 11, 28, 9, 30));
	take("C");
}

static void stats__known_tickets__every_figure_as_computed(void **state)
{
	(void)state;
	run_known_day();
	for (size_t i = 0; i < sizeof every_by / sizeof every_by[0]; i++) {
		check_stats("2026-11-27", "2026-11-27", every_by[i], 0);
		check_stats("2026-11-27", "2026-11-28", every_by[i], 0);
		check_stats("2026-11-28", "2026-11-28", every_by[i], 0);
	}
	/* spot checks of the facts themselves, so the model cannot drift with the code */
	cJSON *rows = stats_rows(mgr, "2026-11-27", "2026-11-27", "total", 0);
	const cJSON *total = cJSON_GetArrayItem(rows, 0);
	assert_int_equal((int)get_num(total, "issued", NULL), 8);
	assert_int_equal((int)get_num(total, "served", NULL), 5);
	assert_int_equal((int)get_num(total, "no_show", NULL), 1);
	assert_int_equal((int)get_num(total, "cancelled", NULL), 1);
	assert_int_equal((int)get_num(total, "expired", NULL), 1);
	assert_int_equal((int)get_num(total, "waits", NULL), 7);
	assert_int_equal((int)get_num(total, "ratings", NULL), 4);
	cJSON_Delete(rows);
}

static void stats__by_hour_and_day__rows_for_every_hour_and_day(void **state)
{
	(void)state;
	run_known_day();
	cJSON *rows = stats_rows(mgr, "2026-11-27", "2026-11-28", "hour", 0);
	assert_int_equal(cJSON_GetArraySize(rows), 24);
	assert_string_equal(get_str(cJSON_GetArrayItem(rows, 0), "key", NULL), "00");
	assert_string_equal(get_str(cJSON_GetArrayItem(rows, 23), "key", NULL), "23");
	/* 10:00 had six takes, 11:00 two, 09:00 (next day) one */
	assert_int_equal((int)get_num(cJSON_GetArrayItem(rows, 10), "issued", NULL), 6);
	assert_int_equal((int)get_num(cJSON_GetArrayItem(rows, 11), "issued", NULL), 2);
	assert_int_equal((int)get_num(cJSON_GetArrayItem(rows, 9), "issued", NULL), 1);
	cJSON_Delete(rows);
	rows = stats_rows(mgr, "2026-11-26", "2026-11-29", "day", 0);
	assert_int_equal(cJSON_GetArraySize(rows), 4);
	assert_string_equal(get_str(cJSON_GetArrayItem(rows, 1), "key", NULL), "2026-11-27");
	assert_int_equal((int)get_num(cJSON_GetArrayItem(rows, 0), "issued", NULL), 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rows, 0), "wait_mean")));
	assert_int_equal((int)get_num(cJSON_GetArrayItem(rows, 2), "issued", NULL), 1);
	cJSON_Delete(rows);
	check_stats("2026-11-26", "2026-11-29", "day", 0);
	check_stats("2026-11-26", "2026-11-29", "hour", 0);
}

static void stats__clerk__only_its_own_window(void **state)
{
	(void)state;
	run_known_day();
	for (size_t i = 0; i < sizeof every_by / sizeof every_by[0]; i++) {
		/* window 3's clerk, and a manager asking for window 3, see window 3's tickets only */
		check_stats_on(win[3], "2026-11-27", "2026-11-28", every_by[i], 3, 1e9);
		check_stats("2026-11-27", "2026-11-28", every_by[i], 1);
	}
	cJSON *rows = stats_rows(win[3], "2026-11-27", "2026-11-27", "service", 0);
	assert_int_equal(cJSON_GetArraySize(rows), 1);
	assert_string_equal(get_str(cJSON_GetArrayItem(rows, 0), "key", NULL), "B");
	cJSON_Delete(rows);
	expect_error(tc_request(win[3], "{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"window\":1}"),
	    "forbidden", "window");
}

static void stats__percentiles__within_the_bucket_error(void **state)
{
	(void)state;
	/* 300 tickets taken at once and called one by one: waits spread over 0..60 min */
	long t0 = local_epoch(2026, 11, 27, 9, 0);
	long waits[300];
	for (int i = 0; i < 300; i++)
		waits[i] = i < 200 ? (i * 7919L) % 1800 : 1800 + (i * 104729L) % 1800;
	qsort(waits, 300, sizeof waits[0], cmp_long);
	set_clock(t0);
	for (int i = 0; i < 300; i++)
		take(i % 2 ? "A" : "C");
	long last = -1;
	for (int i = 0; i < 300; i++) {
		if (waits[i] != last)
			set_clock(t0 + waits[i]);
		last = waits[i];
		call_next(1);
	}
	/* under 30 min the buckets are 30 s wide, above 2 min: p50 within 30 s, p90 within 120 s */
	cJSON *rows = stats_rows(mgr, "2026-11-27", "2026-11-27", "total", 0);
	long recorded[300];
	int n = 0;
	for (int i = 0; i < nfacts; i++)
		if (facts[i].kind == F_WAIT)
			recorded[n++] = facts[i].value;
	assert_int_equal(n, 300);
	qsort(recorded, 300, sizeof recorded[0], cmp_long);
	const cJSON *row = cJSON_GetArrayItem(rows, 0);
	long p50 = exact_percentile(recorded, 300, 50), p90 = exact_percentile(recorded, 300, 90);
	assert_true(p50 < 1800 && p90 >= 1800);
	if (labs((long)get_num(row, "wait_p50", NULL) - p50) >= 30)
		fail_msg("p50 %g, exact %ld", get_num(row, "wait_p50", NULL), p50);
	assert_true(labs((long)get_num(row, "wait_p90", NULL) - p90) < 120);
	cJSON_Delete(rows);
	/* by service the waits are an arbitrary half each: still every figure as computed */
	check_stats_on(mgr, "2026-11-27", "2026-11-27", "service", 0, 120);
	/* a set under 30 min: every percentile within 30 s */
	nfacts = ntickets = 0;
	memset(at_window, 0, sizeof at_window);
	long t1 = local_epoch(2026, 11, 28, 9, 0);
	set_clock(t1);
	for (int i = 0; i < 120; i++)
		take("B");
	long under[120];
	for (int i = 0; i < 120; i++)
		under[i] = (i * i * 13L) % 1790;
	qsort(under, 120, sizeof under[0], cmp_long);
	for (int i = 0; i < 120; i++) {
		set_clock(t1 + under[i]);
		call_next(2);
	}
	set_clock(t1 + 1795);
	finish(2, 0);
	check_stats("2026-11-28", "2026-11-28", "total", 0);
	check_stats("2026-11-28", "2026-11-28", "hour", 0);
}

static void stats__forty_five_days__ranges_sum_days_and_months(void **state)
{
	(void)state;
	/* 2026-11-27 .. 2027-01-10: December is a whole month inside the range (the days start
	 * at the hall's first day: a clock behind the stored day never moves it back) */
	long day0 = local_epoch(2026, 11, 27, 9, 0);
	const char *services[3] = {"A", "B", "C"};
	for (int d = 0; d < 45; d++) {
		long t = day0 + d * 86400L;
		set_clock(t);
		int n = 1 + d % 3;
		for (int i = 0; i < n; i++)
			take(services[(d + i) % 3]);
		for (int i = 0; i < n; i++) {
			set_clock(t + 60L * (d + 1) + 300L * i);
			call_next(1);
		}
		set_clock(t + 60L * (d + 1) + 300L * n + 50);
		finish(1, 1 + d % 5);
	}
	set_clock(day0 + 45 * 86400L);
	/* a late rating for a day long over (its figures already folded into the month) */
	rate(tickets[1].id, 2);
	for (size_t i = 0; i < sizeof every_by / sizeof every_by[0]; i++)
		check_stats("2026-11-27", "2027-01-10", every_by[i], 0);
	check_stats("2026-12-01", "2026-12-31", "service", 0);
	check_stats("2026-11-28", "2026-12-10", "total", 0);
	check_stats("2026-11-30", "2027-01-01", "hour", 0);
	check_stats("2026-11-20", "2027-02-01", "clerk", 0);
	check_stats("2026-11-01", "2027-01-31", "total", 0);
	check_stats("2026-11-01", "2027-01-31", "window", 0);
	check_stats("2026-11-28", "2026-11-28", "service", 0);
	cJSON *rows = stats_rows(mgr, "2026-11-27", "2027-01-10", "day", 0);
	assert_int_equal(cJSON_GetArraySize(rows), 45);
	cJSON_Delete(rows);
	rows = stats_rows(mgr, "2026-11-27", "2027-01-10", "total", 0);
	assert_int_equal((int)get_num(cJSON_GetArrayItem(rows, 0), "issued", NULL), 15 * (1 + 2 + 3));
	cJSON_Delete(rows);
}

static void stats__long_answer__pages_under_the_line_limit(void **state)
{
	(void)state;
	set_clock(local_epoch(2026, 11, 27, 10, 0));
	take("A");
	/* a year by day is over 64 KiB: it comes in pages */
	cJSON *r = expect_ok(tc_request(mgr, "{\"op\":\"stats\",\"from\":\"2026-01-01\",\"to\":\"2026-12-31\",\"by\":\"day\"}"));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "more")));
	char *text = cJSON_PrintUnformatted(r);
	assert_true(strlen(text) < 65536);
	free(text);
	cJSON_Delete(r);
	cJSON *rows = stats_rows(mgr, "2026-01-01", "2026-12-31", "day", 0);
	assert_int_equal(cJSON_GetArraySize(rows), 365);
	assert_string_equal(get_str(cJSON_GetArrayItem(rows, 364), "key", NULL), "2026-12-31");
	assert_int_equal((int)get_num(cJSON_GetArrayItem(rows, 330), "issued", NULL), 1); /* 11-27 */
	cJSON_Delete(rows);
	/* ten years by service is one answer */
	rows = stats_rows(mgr, "2017-01-01", "2026-12-29", "service", 0);
	assert_int_equal(cJSON_GetArraySize(rows), 1);
	cJSON_Delete(rows);
}

static void stats__retention__tickets_expire_aggregates_stay(void **state)
{
	(void)state;
	long at = set_clock(local_epoch(2026, 11, 27, 10, 0));
	const char *id = take("A");
	call_next(1);
	finish(1, 0);
	redisContext *rc = testredis_connect(&hall.redis);
	assert_non_null(rc);
	/* small.json keeps tickets 90 days: a settled ticket sits in its issue day's bucket
	 * (q:{small}:tp:<id but its last two characters>), which expires at the end of that day
	 * + 90 days + 1 */
	char bucket[16];
	assert_int_equal(strlen(id), 13);
	snprintf(bucket, sizeof bucket, "%.11s", id);
	redisReply *reply = redisCommand(rc, "TTL q:{small}:tp:%s", bucket);
	long until = local_epoch(2026, 11, 28, 0, 0) + 91 * 86400;
	assert_in_range(reply->integer, until - at - 60, until - at);
	freeReplyObject(reply);
	reply = redisCommand(rc, "EXISTS q:{small}:t:%s", id);
	assert_int_equal(reply->integer, 0);
	freeReplyObject(reply);
	reply = redisCommand(rc, "TTL q:{small}:st:d:2026-11-27");
	assert_int_equal(reply->integer, -1);
	freeReplyObject(reply);
	/* once the raw ticket is gone, the figures are unchanged */
	reply = redisCommand(rc, "DEL q:{small}:tp:%s", bucket);
	freeReplyObject(reply);
	redisFree(rc);
	check_stats("2026-11-27", "2026-11-27", "total", 0);
	check_stats("2026-11-27", "2026-11-27", "clerk", 0);
}

static void stats__bad_arguments__refused(void **state)
{
	(void)state;
	struct {
		const char *line, *code, *field;
	} cases[] = {
		{"{\"op\":\"stats\",\"to\":\"2026-11-27\"}", "bad_request", "from"},
		{"{\"op\":\"stats\",\"from\":\"2026-11-27\"}", "bad_request", "to"},
		{"{\"op\":\"stats\",\"from\":20261127,\"to\":\"2026-11-27\"}", "bad_request", "from"},
		{"{\"op\":\"stats\",\"from\":\"2026-02-30\",\"to\":\"2026-03-01\"}", "bad_request", "from"},
		{"{\"op\":\"stats\",\"from\":\"2026-13-01\",\"to\":\"2026-13-02\"}", "bad_request", "from"},
		{"{\"op\":\"stats\",\"from\":\"2026-1-01\",\"to\":\"2026-01-02\"}", "bad_request", "from"},
		{"{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27x\"}", "bad_request", "to"},
		{"{\"op\":\"stats\",\"from\":\"2025-02-29\",\"to\":\"2025-03-01\"}", "bad_request", "from"},
		{"{\"op\":\"stats\",\"from\":\"2026-11-28\",\"to\":\"2026-11-27\"}", "bad_request", "to"},
		{"{\"op\":\"stats\",\"from\":\"2000-01-01\",\"to\":\"2026-11-27\"}", "bad_request", "to"},
		{"{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"by\":\"week\"}", "bad_request", "by"},
		{"{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"by\":3}", "bad_request", "by"},
		{"{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"window\":77}", "not_found", "window"},
		{"{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"window\":0}", "bad_request", "window"},
		{"{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"offset\":-1}", "bad_request", "offset"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_error(tc_request(mgr, "%s", cases[i].line), cases[i].code, cases[i].field);
	/* a leap day is a date */
	cJSON_Delete(expect_ok(tc_request(mgr, "{\"op\":\"stats\",\"from\":\"2028-02-29\",\"to\":\"2028-02-29\"}")));
	/* roles: the public must say hello, a kiosk may not */
	struct tc *pub = hall_public(&hall), *kiosk = hall_kiosk(&hall);
	const char *line = "{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\"}";
	expect_error(tc_request(pub, "%s", line), "unauthenticated", NULL);
	expect_error(tc_request(kiosk, "%s", line), "forbidden", NULL);
	tc_close(pub);
	tc_close(kiosk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(stats__known_tickets__every_figure_as_computed),
		T(stats__by_hour_and_day__rows_for_every_hour_and_day),
		T(stats__clerk__only_its_own_window),
		T(stats__percentiles__within_the_bucket_error),
		T(stats__forty_five_days__ranges_sum_days_and_months),
		T(stats__long_answer__pages_under_the_line_limit),
		T(stats__retention__tickets_expire_aggregates_stay),
		T(stats__bad_arguments__refused),
#undef T
	};
	return cmocka_run_group_tests_name("stats", tests, hall_fixture_start, hall_fixture_stop);
}
