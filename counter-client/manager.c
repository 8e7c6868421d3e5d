/* The manager's side of counter-client (issue 6): the options, the password, and the export
 * of stats rows as CSV or JSON; the live screen is manager_view.c. */
#include "manager.h"
#include "manager_int.h"

#include "client.h"
#include "password.h"
#include "ratingcsv.h"
#include "syncclient.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MANAGER_TIMEOUT_MS 10000
#define MANAGER_STATS_TIMEOUT_MS 30000 /* a long range by day comes in several pages */
#define MANAGER_MAX_PAGES 1000

/* The columns of an export, in PROTOCOL.md's order of a stats row. */
static const char *const manager_columns[] = {
	"key", "issued", "served", "no_show", "cancelled", "expired", "wait_mean", "wait_p50", "wait_p90",
	"wait_max", "service_mean", "sla_pct", "rating_mean", "ratings", "waits",
};

/* Prints the usage to f. */
static void manager_usage(FILE *f)
{
	fprintf(f,
		"usage: counter-client --manager --user USER [--server HOST:PORT]\n"
		"                      [--password-file FILE | --password-env NAME] [--log FILE]\n"
		"       counter-client --manager --user USER --export csv|json --from DATE --to DATE\n"
		"                      [--by total|service|window|clerk|hour|day] > file\n"
		"       counter-client --manager --user USER --export csv|json --ratings --from DATE --to DATE\n"
		"\n"
		"The manager's view of the hall: live windows and queues, today's figures against the\n"
		"wait target, tables by service, window and clerk, and arrivals and waits by hour.\n"
		"--export writes the stats rows of a date range (site time) to standard output instead.\n"
		"The password is asked without echo unless --password-file or --password-env gives it.\n"
		"\n"
		"  --server HOST:PORT   qserver to use (default %s; unix:/path works too)\n"
		"                       several, as A,B: the next is used when one fails\n"
		"  --site ID            the site to manage, when qserver serves a region\n"
		"  --user USER          the manager's login (or --manager=USER)\n"
		"  --export FORMAT      csv (RFC 4180, a header row) or json (an array of rows)\n"
		"  --from, --to DATE    the range, YYYY-MM-DD (the view starts on today)\n"
		"  --by DIMENSION       rows by total (default), service, window, clerk, hour or day\n"
		"  --ratings            export the 好差评 ratings of the range (docs/ratings.md)\n"
		"  --password-file FILE read the password from the first line of FILE\n"
		"  --password-env NAME  read the password from the environment variable NAME\n"
		"  --log FILE           append diagnostics of the view to FILE\n"
		"\n"
		"View keys: 1-5 or Tab pages (hall, services, windows, clerks, hours); t today,\n"
		"y yesterday, w last 7 days, m last 30 days, [ ] move the range, r type a range,\n"
		"Up/Down scroll, g refresh, q quit.\n",
		CLIENT_DEFAULT_SERVER);
}

/* Reads the password from a file's first line, an environment variable, or the terminal. */
static int manager_password(struct manager_options *opt, const char *file, const char *env)
{
	char *pw = opt->password;
	size_t size = sizeof opt->password;
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f) {
			fprintf(stderr, "counter-client: cannot read %s: %s\n", file, strerror(errno));
			return -1;
		}
		if (!fgets(pw, (int)size, f))
			pw[0] = '\0';
		fclose(f);
		pw[strcspn(pw, "\r\n")] = '\0';
		return 0;
	}
	if (env) {
		const char *v = getenv(env);
		if (!v) {
			fprintf(stderr, "counter-client: the variable %s is not set\n", env);
			return -1;
		}
		snprintf(pw, size, "%s", v);
		return 0;
	}
	char prompt[96];
	snprintf(prompt, sizeof prompt, "Password for %s: ", opt->user);
	if (password_read_noecho(prompt, pw, size) < 0) {
		fprintf(stderr, "counter-client: no password given\n");
		return -1;
	}
	return 0;
}

/* Parses the command line; returns 0, 1 after --help, or -1 after a message. */
static int manager_parse(int argc, char **argv, struct manager_options *opt)
{
	static const struct option options[] = {
		{"manager", optional_argument, NULL, 'M'},  {"export", required_argument, NULL, 'e'},
		{"server", required_argument, NULL, 's'},   {"user", required_argument, NULL, 'u'},
		{"site", required_argument, NULL, 'S'},
		{"from", required_argument, NULL, 'f'},	    {"to", required_argument, NULL, 't'},
		{"by", required_argument, NULL, 'b'},	    {"password-file", required_argument, NULL, 'p'},
		{"password-env", required_argument, NULL, 'E'}, {"log", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},	    {"ratings", no_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	const char *pw_file = NULL, *pw_env = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'M':
			if (optarg)
				snprintf(opt->user, sizeof opt->user, "%s", optarg);
			break;
		case 'e': opt->export_format = optarg; break;
		case 's': opt->server = optarg; break;
		case 'S': opt->site = optarg; break;
		case 'u': snprintf(opt->user, sizeof opt->user, "%s", optarg); break;
		case 'f': opt->from = optarg; break;
		case 't': opt->to = optarg; break;
		case 'b': opt->by = optarg; break;
		case 'p': pw_file = optarg; break;
		case 'E': pw_env = optarg; break;
		case 'l': opt->log_file = optarg; break;
		case 'R': opt->ratings = true; break;
		case 'h': manager_usage(stdout); return 1;
		default: manager_usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "counter-client: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	if (!opt->user[0]) {
		fprintf(stderr, "counter-client: --user is required (the manager's login)\n");
		return -1;
	}
	if (opt->export_format && strcmp(opt->export_format, "csv") != 0 && strcmp(opt->export_format, "json") != 0) {
		fprintf(stderr, "counter-client: --export takes csv or json\n");
		return -1;
	}
	if (opt->export_format && (!opt->from || !opt->to)) {
		fprintf(stderr, "counter-client: an export needs --from and --to (YYYY-MM-DD)\n");
		return -1;
	}
	if ((opt->from && !manager_date_valid(opt->from)) || (opt->to && !manager_date_valid(opt->to))) {
		fprintf(stderr, "counter-client: dates are written YYYY-MM-DD and must exist\n");
		return -1;
	}
	if (!opt->by)
		opt->by = "total";
	return manager_password(opt, pw_file, pw_env);
}

/* Prints a failed response's error to stderr. */
static void manager_print_error(const char *what, const cJSON *resp, struct sync_client *sc)
{
	const cJSON *error = resp ? cJSON_GetObjectItemCaseSensitive(resp, "error") : NULL;
	const cJSON *message = error ? cJSON_GetObjectItemCaseSensitive(error, "message") : NULL;
	fprintf(stderr, "counter-client: %s: %s\n", what,
		cJSON_IsString(message) ? message->valuestring : resp ? "refused" : sync_error(sc));
}

/* Sends a request built as an object and returns the ok response, or NULL after a message. */
static cJSON *manager_call(struct sync_client *sc, cJSON *request, int timeout_ms, const char *what)
{
	char *line = cJSON_PrintUnformatted(request);
	cJSON_Delete(request);
	if (!line)
		return NULL;
	cJSON *resp = sync_request(sc, line, timeout_ms);
	free(line);
	if (!resp || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"))) {
		manager_print_error(what, resp, sc);
		cJSON_Delete(resp);
		return NULL;
	}
	return resp;
}

/* Fetches every page of stats rows (or, with --ratings, of ratings) for the range into one
 * array (caller frees), or NULL. */
static cJSON *manager_fetch_rows(struct sync_client *sc, const struct manager_options *opt)
{
	const char *op = opt->ratings ? "ratings" : "stats";
	cJSON *all = cJSON_CreateArray();
	int offset = 0;
	for (int page = 0; page < MANAGER_MAX_PAGES; page++) {
		cJSON *req = cJSON_CreateObject();
		cJSON_AddStringToObject(req, "op", op);
		cJSON_AddStringToObject(req, "from", opt->from);
		cJSON_AddStringToObject(req, "to", opt->to);
		if (opt->ratings)
			cJSON_AddNumberToObject(req, "limit", 500);
		else
			cJSON_AddStringToObject(req, "by", opt->by);
		cJSON_AddNumberToObject(req, "offset", offset);
		cJSON *resp = manager_call(sc, req, MANAGER_STATS_TIMEOUT_MS, op);
		if (!resp) {
			cJSON_Delete(all);
			return NULL;
		}
		cJSON *rows = cJSON_GetObjectItemCaseSensitive(resp, opt->ratings ? "ratings" : "rows");
		cJSON *row;
		while (cJSON_IsArray(rows) && (row = cJSON_DetachItemFromArray(rows, 0)) != NULL)
			cJSON_AddItemToArray(all, row);
		bool more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "more"));
		const cJSON *next = cJSON_GetObjectItemCaseSensitive(resp, "next_offset");
		offset = cJSON_IsNumber(next) ? next->valueint : -1;
		cJSON_Delete(resp);
		if (!more)
			return all;
		if (offset <= 0)
			break;
	}
	fprintf(stderr, "counter-client: %s: the answer did not end\n", op);
	cJSON_Delete(all);
	return NULL;
}

/* Writes one value of a row as a CSV field: strings quoted as needed, null as empty. */
static void manager_csv_value(FILE *out, const cJSON *v)
{
	char buf[64];
	if (cJSON_IsString(v))
		manager_csv_field(out, v->valuestring);
	else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d == floor(d) && fabs(d) < 1e15)
			snprintf(buf, sizeof buf, "%.0f", d);
		else
			snprintf(buf, sizeof buf, "%.1f", d);
		fputs(buf, out);
	}
}

/* Writes the rows as CSV with a header row and CRLF line ends (RFC 4180). */
static void manager_write_csv(FILE *out, const cJSON *rows)
{
	size_t ncols = sizeof manager_columns / sizeof manager_columns[0];
	for (size_t i = 0; i < ncols; i++) {
		if (i)
			fputc(',', out);
		fputs(manager_columns[i], out);
	}
	fputs("\r\n", out);
	const cJSON *row;
	cJSON_ArrayForEach(row, rows) {
		for (size_t i = 0; i < ncols; i++) {
			if (i)
				fputc(',', out);
			manager_csv_value(out, cJSON_GetObjectItemCaseSensitive(row, manager_columns[i]));
		}
		fputs("\r\n", out);
	}
}

/* Writes ratings as CSV (docs/ratings.md) for the site the hello answered: its services'
 * names from the services op, times in its zone. Returns 0, or -1 after a message. */
static int manager_write_ratings_csv(struct sync_client *sc, const cJSON *hello, cJSON *ratings)
{
	const cJSON *site = cJSON_GetObjectItemCaseSensitive(hello, "site");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(site, "id"), *tz = cJSON_GetObjectItemCaseSensitive(site, "tz");
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "services");
	cJSON *services = manager_call(sc, req, MANAGER_TIMEOUT_MS, "services");
	if (!services || !cJSON_IsString(id))
		return -1;
	cJSON *e;
	cJSON_ArrayForEach(e, ratings) {
		const cJSON *sid = cJSON_GetObjectItemCaseSensitive(e, "service"), *s;
		cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(services, "services")) {
			const cJSON *sname = cJSON_GetObjectItemCaseSensitive(s, "name");
			if (cJSON_IsString(sid) && cJSON_IsString(sname) &&
			    cJSON_Compare(sid, cJSON_GetObjectItemCaseSensitive(s, "id"), 1))
				cJSON_AddStringToObject(e, "service_name", sname->valuestring);
		}
	}
	cJSON_Delete(services);
	if (cJSON_IsString(tz)) { /* the rows' times in the site's zone */
		setenv("TZ", tz->valuestring, 1);
		tzset();
	}
	ratingcsv_header(stdout);
	ratingcsv_rows(stdout, ratings, id->valuestring);
	return 0;
}

/* Runs an export: hello, every page of stats, the rows to stdout. Returns the exit status. */
static int manager_export(const struct manager_options *opt)
{
	struct sync_client *sc = sync_connect(opt->server, MANAGER_TIMEOUT_MS);
	if (!sc) {
		fprintf(stderr, "counter-client: cannot connect to %s: %s\n",
			opt->server ? opt->server : CLIENT_DEFAULT_SERVER, strerror(errno));
		return 1;
	}
	int status = 1;
	cJSON *hello = cJSON_CreateObject();
	cJSON_AddStringToObject(hello, "op", "hello");
	cJSON_AddStringToObject(hello, "role", "manager");
	cJSON_AddStringToObject(hello, "user", opt->user);
	cJSON_AddStringToObject(hello, "password", opt->password);
	if (opt->site)
		cJSON_AddStringToObject(hello, "site", opt->site);
	cJSON *resp = manager_call(sc, hello, MANAGER_TIMEOUT_MS, "hello");
	cJSON *rows = resp ? manager_fetch_rows(sc, opt) : NULL;
	int written = 0;
	if (rows && strcmp(opt->export_format, "csv") == 0 && opt->ratings) {
		written = manager_write_ratings_csv(sc, resp, rows) == 0; /* or it said why */
	} else if (rows && strcmp(opt->export_format, "csv") == 0) {
		manager_write_csv(stdout, rows);
		written = 1;
	} else if (rows) {
		char *text = cJSON_PrintUnformatted(rows);
		if (text)
			printf("%s\n", text);
		free(text);
		written = 1;
	}
	if (written) {
		status = fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
		if (status)
			fprintf(stderr, "counter-client: cannot write the export: %s\n", strerror(errno));
	}
	cJSON_Delete(rows);
	cJSON_Delete(resp);
	sync_close(sc);
	return status;
}

/* The manager's entry point (counter-client --manager / --export); returns the exit status. */
int manager_main(int argc, char **argv)
{
	static struct manager_options opt; /* static: the password never sits on a stack frame */
	memset(&opt, 0, sizeof opt);
	int r = manager_parse(argc, argv, &opt);
	if (r != 0)
		return r > 0 ? 0 : 2;
	int status = opt.export_format ? manager_export(&opt) : manager_view_run(&opt);
	memset(opt.password, 0, sizeof opt.password);
	return status;
}
