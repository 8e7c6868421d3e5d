/* The manager's arithmetic: calendar dates, stats rows read from JSON, durations, CSV fields. */
#include "manager_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Parses YYYY-MM-DD into noon UTC of that date (noon keeps day arithmetic clear of edges). */
static bool manager_date_parse(const char *date, time_t *out)
{
	int y, m, d, end = 0;
	if (!date || strlen(date) != 10 || sscanf(date, "%4d-%2d-%2d%n", &y, &m, &d, &end) != 3 || end != 10 ||
	    date[4] != '-' || date[7] != '-')
		return false;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
	*out = timegm(&tm);
	/* timegm normalises 02-30 into March: a real date survives the round trip */
	struct tm back;
	gmtime_r(out, &back);
	return back.tm_year == y - 1900 && back.tm_mon == m - 1 && back.tm_mday == d;
}

/* Whether date is a real calendar date written YYYY-MM-DD. */
bool manager_date_valid(const char *date)
{
	time_t t;
	return manager_date_parse(date, &t);
}

/* Writes the date `days` after (or before, when negative) a valid date. */
void manager_date_add(const char *date, int days, char out[11])
{
	time_t t;
	if (!manager_date_parse(date, &t)) {
		snprintf(out, 11, "%s", "1970-01-01");
		return;
	}
	t += (time_t)days * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* The number of days from..to inclusive (0 or less when to is before from). */
int manager_date_span(const char *from, const char *to)
{
	time_t a, b;
	if (!manager_date_parse(from, &a) || !manager_date_parse(to, &b))
		return 0;
	return (int)((b - a) / 86400) + 1;
}

/* Reads a number member, or -1 when it is null or absent (the protocol's "no samples"). */
static double manager_num(const cJSON *row, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, name);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Appends the rows of a stats answer to the list; -1 when out of memory. */
int manager_rows_add_json(struct manager_rows *list, const cJSON *rows)
{
	const cJSON *row;
	cJSON_ArrayForEach(row, rows) {
		if (list->n == list->cap) {
			int cap = list->cap ? list->cap * 2 : 32;
			struct manager_row *grown = realloc(list->rows, (size_t)cap * sizeof *grown);
			if (!grown)
				return -1;
			list->rows = grown;
			list->cap = cap;
		}
		struct manager_row *r = &list->rows[list->n++];
		const cJSON *key = cJSON_GetObjectItemCaseSensitive(row, "key");
		snprintf(r->key, sizeof r->key, "%s", cJSON_IsString(key) ? key->valuestring : "?");
		r->issued = (long)manager_num(row, "issued");
		r->served = (long)manager_num(row, "served");
		r->no_show = (long)manager_num(row, "no_show");
		r->cancelled = (long)manager_num(row, "cancelled");
		r->expired = (long)manager_num(row, "expired");
		r->ratings = (long)manager_num(row, "ratings");
		r->waits = (long)manager_num(row, "waits");
		r->wait_mean = manager_num(row, "wait_mean");
		r->wait_p50 = manager_num(row, "wait_p50");
		r->wait_p90 = manager_num(row, "wait_p90");
		r->wait_max = manager_num(row, "wait_max");
		r->service_mean = manager_num(row, "service_mean");
		r->sla_pct = manager_num(row, "sla_pct");
		r->rating_mean = manager_num(row, "rating_mean");
		const cJSON *counts = cJSON_GetObjectItemCaseSensitive(row, "rating_counts");
		for (int i = 0; i < 5; i++) {
			const cJSON *n = cJSON_GetArrayItem(counts, i);
			r->rating_counts[i] = cJSON_IsNumber(n) ? (long)n->valuedouble : 0;
		}
	}
	return 0;
}

/* Empties the list, keeping its memory. */
void manager_rows_clear(struct manager_rows *list)
{
	list->n = 0;
}

/* Frees the list's memory. */
void manager_rows_free(struct manager_rows *list)
{
	free(list->rows);
	memset(list, 0, sizeof *list);
}

/* Writes a duration as "12m05s" (or "1h02m" past an hour, "-" when absent). */
void manager_duration(double seconds, char *out, size_t len)
{
	if (seconds < 0) {
		snprintf(out, len, "-");
		return;
	}
	long s = (long)(seconds + 0.5);
	if (s >= 3600)
		snprintf(out, len, "%ldh%02ldm", s / 3600, s / 60 % 60);
	else
		snprintf(out, len, "%ldm%02lds", s / 60, s % 60);
}

/* Writes one CSV field as RFC 4180 asks: quoted, with quotes doubled, when it holds a comma,
 * a quote or a line break. */
void manager_csv_field(FILE *out, const char *text)
{
	if (strpbrk(text, ",\"\r\n") == NULL) {
		fputs(text, out);
		return;
	}
	fputc('"', out);
	for (const char *p = text; *p; p++) {
		if (*p == '"')
			fputc('"', out);
		fputc(*p, out);
	}
	fputc('"', out);
}

/* "calling 3m", "paused 1h05m": the state and how long it has lasted, in a table cell; the
 * state alone when the server does not send since. */
void manager_state_since(const char *state, long since, long now, char *out, size_t len)
{
	if (since <= 0) {
		snprintf(out, len, "%s", state);
		return;
	}
	long m = (now > since ? now - since : 0) / 60;
	if (m < 1)
		snprintf(out, len, "%s <1m", state);
	else if (m < 60)
		snprintf(out, len, "%s %ldm", state, m);
	else
		snprintf(out, len, "%s %ldh%02ldm", state, m / 60, m % 60);
}

/* The stats columns, in the order they are shown. */
static const struct manager_column manager_columns[] = {
	{"Issued", 8, 8, true},	  {"Served", 8, 1, false}, {"NoShow", 8, 7, false},
	{"Cancel", 8, 11, true},  {"Expire", 8, 12, true}, {"Mean", 8, 2, false},
	{"P50", 8, 9, false},	  {"P90", 8, 3, false},	   {"Max", 8, 10, false},
	{"Service", 8, 5, false}, {"SLA%", 7, 4, false},   {"Rating", 9, 6, false},
};

/* Every column, for callers that index cells by it. */
const struct manager_column *manager_column_table(int *n)
{
	*n = (int)(sizeof manager_columns / sizeof manager_columns[0]);
	return manager_columns;
}

/* Takes columns by rank (served, mean wait, p90, SLA% first) while they fit the width, then
 * lists them in table order. Tables of windows and clerks leave out the ticket counts that
 * belong to services only (issued, cancelled, expired tickets have no window): they would
 * always be 0 there. */
int manager_pick_columns(bool per_service, int width, int picked[MANAGER_COLUMNS_MAX])
{
	int n;
	const struct manager_column *cols = manager_column_table(&n);
	bool take[MANAGER_COLUMNS_MAX] = {false};
	int used = 0;
	for (int rank = 1; rank <= n; rank++)
		for (int i = 0; i < n; i++)
			if (cols[i].rank == rank && (per_service || !cols[i].service_only) &&
			    used + cols[i].width <= width) {
				take[i] = true;
				used += cols[i].width;
			}
	int count = 0;
	for (int i = 0; i < n; i++)
		if (take[i])
			picked[count++] = i;
	return count;
}
