/* Internals shared by the manager's files: manager.c (options, export), manager_view.c (the
 * live screen) and manager_stats.c (stats rows, dates and formatting). */
#ifndef QHALL_COUNTER_MANAGER_INT_H
#define QHALL_COUNTER_MANAGER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#define MANAGER_PASSWORD_MAX 256
#define MANAGER_KEY_MAX 40

/* What the command line asked for. */
struct manager_options {
	const char *server;	/* HOST:PORT or unix:/path; NULL for the default */
	const char *site;	/* the site to sign in at, when qserver serves a region; NULL: none */
	char user[64];
	char password[MANAGER_PASSWORD_MAX];
	const char *export_format; /* "csv" or "json" for an export, NULL for the view */
	const char *from, *to, *by, *log_file;
	bool ratings;		/* export the ratings of the range (docs/ratings.md), not stats rows */
};

/* One stats row of PROTOCOL.md; absent (null) figures are negative. */
struct manager_row {
	char key[MANAGER_KEY_MAX];
	long issued, served, no_show, cancelled, expired, ratings, waits;
	double wait_mean, wait_p50, wait_p90, wait_max, service_mean, sla_pct, rating_mean;
	long rating_counts[5]; /* ratings of score 1..5 */
};

/* A growable list of rows. */
struct manager_rows {
	struct manager_row *rows;
	int n, cap;
};

/* A column of the stats tables: its heading, width in columns, rank (1 is shown first when
 * the screen is narrow) and whether it means something only per service. */
struct manager_column {
	const char *head;
	int width;
	int rank;
	bool service_only;
};

#define MANAGER_COLUMNS_MAX 12

/* manager_stats.c */
bool manager_date_valid(const char *date);
void manager_date_add(const char *date, int days, char out[11]);
int manager_date_span(const char *from, const char *to);
int manager_rows_add_json(struct manager_rows *list, const cJSON *rows);
void manager_rows_clear(struct manager_rows *list);
void manager_rows_free(struct manager_rows *list);
void manager_duration(double seconds, char *out, size_t len);
void manager_csv_field(FILE *out, const char *text);
void manager_state_since(const char *state, long since, long now, char *out, size_t len);
const struct manager_column *manager_column_table(int *n);
int manager_pick_columns(bool per_service, int width, int picked[MANAGER_COLUMNS_MAX]);

/* manager_view.c */
int manager_view_run(const struct manager_options *opt);

#endif
