/* qsim: the hall simulator. Options, the standard scenarios and the three modes: one scenario
 * (a text or JSON summary), the full report (SIMULATION.md) and the staffing table. */
#include "qsim.h"

#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAIN_DEFAULT_DAYS 6

/* Prints the usage text. */
static void usage(FILE *out)
{
	fprintf(out,
		"usage: qsim [--scenario NAME] [options]\n"
		"       qsim --report FILE [options]\n"
		"       qsim --staffing PATTERN [--service-time S] [options]\n"
		"\n"
		"Simulates hall days against a real qserver (started here with --test-clock and its own\n"
		"Redis) and compares the waits with queueing theory and the estimates with the waits.\n"
		"\n"
		"  --scenario NAME      one scenario (default mmc6): mmc6 mmc7 mmc8 dedicated comprehensive\n"
		"                       twoservices config2x config05x hallday history outlier small\n"
		"  --report FILE        run every standard scenario and write the Markdown report\n"
		"  --staffing PATTERN   windows per hour that keep the 90th percentile wait within 15 min\n"
		"                       for the arrivals of PATTERN (lines \"HOUR ARRIVALS\")\n"
		"  --service-time S     staffing: the mean service time in seconds (300)\n"
		"  --history FILE       service times resampled from FILE (seconds, one per line)\n"
		"  --save-history FILE  write the served tickets' service times to FILE (for --history)\n"
		"  --tickets FILE       write every ticket as CSV: told at take time, the simulator's own\n"
		"                       estimates, and what happened\n"
		"  --pattern FILE       --report: the staffing example's pattern (sim/district.pattern)\n"
		"  --days N             simulated days per scenario (%d)\n"
		"  --seed N             random seed (the same seed gives the same hall days)\n"
		"  --qserver PATH       the qserver to run (default: next to qsim)\n"
		"  --write-config FILE  write the scenario's hall config and exit, to start qserver by hand\n"
		"                       (qserver --config FILE --test-clock; a fresh Redis)\n"
		"  --server ADDR        run the scenario on that qserver instead of starting one\n"
		"                       (127.x.x.x:PORT or unix:PATH)\n"
		"  --json               one JSON object instead of text\n"
		"  --help\n"
		"\n"
		"Exit status: 0, 1 when qserver's statistics differ from what the simulator saw or a call\n"
		"was out of order, 2 on bad options or a failed run.\n",
		MAIN_DEFAULT_DAYS);
}

/* Parses a whole number in [lo, hi], or exits with a message. */
static long parse_long(const char *opt, const char *text, long lo, long hi)
{
	char *end;
	long v = strtol(text, &end, 10);
	if (!*text || *end || v < lo || v > hi) {
		fprintf(stderr, "qsim: %s must be a whole number from %ld to %ld\n", opt, lo, hi);
		exit(2);
	}
	return v;
}

/* The qserver next to this program, as make builds them. */
static void main_default_qserver(const char *argv0, char *out, size_t len)
{
	char self[PATH_MAX - 16]; /* room for "qserver" in out */
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		snprintf(self, sizeof self, "%s", argv0);
		n = (ssize_t)strlen(self);
	}
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		slash[1] = '\0';
	else
		self[0] = '\0';
	snprintf(out, len, "%sqserver", self);
}

/* Whether a server address is on this machine. */
static int main_loopback(const char *address)
{
	return strncmp(address, "127.", 4) == 0 || strncmp(address, "unix:", 5) == 0;
}

/* Prints one scenario's result as JSON. */
static void main_print_json(const struct sim_result *res)
{
	struct accuracy a;
	measure_accuracy(res, 0, &a);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "scenario", res->sc->name);
	cJSON_AddNumberToObject(o, "days", res->sc->days);
	cJSON_AddNumberToObject(o, "tickets", (double)res->t.n);
	cJSON_AddNumberToObject(o, "mean_wait", round(res->mean_wait * 10) / 10);
	if (isfinite(res->ci_half))
		cJSON_AddNumberToObject(o, "ci_half", round(res->ci_half * 10) / 10);
	if (res->theory_wait > 0)
		cJSON_AddNumberToObject(o, "theory_wait", round(res->theory_wait * 10) / 10);
	cJSON_AddNumberToObject(o, "stats_mismatches", (double)res->stats_mismatches);
	cJSON_AddNumberToObject(o, "calls", (double)res->calls);
	cJSON_AddNumberToObject(o, "out_of_order", (double)res->out_of_order);
	cJSON_AddNumberToObject(o, "mae_ewt", round(a.mae_ewt * 10) / 10);
	cJSON_AddNumberToObject(o, "mae_oracle", round(a.mae_oracle * 10) / 10);
	cJSON_AddNumberToObject(o, "mae_learned", round(a.mae_learned * 10) / 10);
	cJSON_AddNumberToObject(o, "bias_ewt", round(a.bias_ewt * 10) / 10);
	if (res->sc->outlier) {
		cJSON_AddNumberToObject(o, "outlier_before", res->outlier_before);
		cJSON_AddNumberToObject(o, "outlier_after", res->outlier_after);
	}
	cJSON_AddNumberToObject(o, "requests", (double)res->requests);
	cJSON_AddNumberToObject(o, "seconds", round(res->seconds * 10) / 10);
	char *text = cJSON_PrintUnformatted(o);
	puts(text);
	free(text);
	cJSON_Delete(o);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"scenario", required_argument, NULL, 's'}, {"report", required_argument, NULL, 'r'},
		{"staffing", required_argument, NULL, 'S'}, {"service-time", required_argument, NULL, 't'},
		{"history", required_argument, NULL, 'H'},  {"days", required_argument, NULL, 'd'},
		{"seed", required_argument, NULL, 'e'},	    {"qserver", required_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'},	    {"help", no_argument, NULL, 'h'},
		{"pattern", required_argument, NULL, 'p'},  {"save-history", required_argument, NULL, 'w'},
		{"server", required_argument, NULL, 'a'},   {"write-config", required_argument, NULL, 'c'},
		{"tickets", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0}};
	const char *scenario = "mmc6", *report = NULL, *staffing = NULL, *history = NULL, *save_history = NULL;
	const char *pattern = "sim/district.pattern", *server = NULL, *write_config = NULL;
	const char *tickets = NULL;
	char qserver[PATH_MAX] = "";
	int days = MAIN_DEFAULT_DAYS, json = 0, service_s = 300;
	long long seed = -1;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': scenario = optarg; break;
		case 'r': report = optarg; break;
		case 'S': staffing = optarg; break;
		case 't': service_s = (int)parse_long("--service-time", optarg, 1, 86400); break;
		case 'H': history = optarg; break;
		case 'd': days = (int)parse_long("--days", optarg, 1, 365); break;
		case 'e': seed = parse_long("--seed", optarg, 0, LONG_MAX); break;
		case 'q': snprintf(qserver, sizeof qserver, "%s", optarg); break;
		case 'j': json = 1; break;
		case 'p': pattern = optarg; break;
		case 'a': server = optarg; break;
		case 'c': write_config = optarg; break;
		case 'T': tickets = optarg; break;
		case 'w': save_history = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "qsim: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (!qserver[0])
		main_default_qserver(argv[0], qserver, sizeof qserver);
	if (server && !main_loopback(server)) {
		fprintf(stderr, "qsim: --server must be on this machine (127.x.x.x:PORT or unix:PATH): the test clock is no thing for a hall\n");
		return 2;
	}
	if (server && (staffing || report)) {
		fprintf(stderr, "qsim: --server runs one scenario; --staffing and --report start their own qservers\n");
		return 2;
	}
	struct sim_target target = {.qserver = qserver, .address = server};
	if (staffing)
		return staffing_run(stdout, staffing, &target, days, service_s, json, seed < 0 ? 14 : (uint64_t)seed);
	if (report)
		return report_write(report, &target, days, seed < 0 ? 14 : (uint64_t)seed, pattern);
	struct sim_scenario sc;
	if (scenario_standard(scenario, &sc, days) < 0) {
		fprintf(stderr, "qsim: no scenario %s (see --help)\n", scenario);
		return 2;
	}
	if (write_config)
		return server_write_hall(&sc, write_config) < 0 ? 2 : 0;
	if (strcmp(scenario, "history") == 0 && !history) {
		fprintf(stderr, "qsim: the history scenario needs --history FILE (from --save-history)\n");
		return 2;
	}
	if (seed >= 0)
		sc.seed = (uint64_t)seed;
	double *sample = NULL;
	if (history) {
		size_t n;
		if (model_read_history(history, &sample, &n) < 0)
			return 2;
		double sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += sample[i];
		for (int i = 0; i < sc.nservices; i++)
			sc.svc[i].dist = (struct sim_dist){.kind = DIST_HISTORY, .mean = sum / (double)n, .sample = sample, .nsample = n};
	}
	struct sim_result res;
	int rc = sim_run(&sc, &target, &res);
	if (rc >= 0) {
		report_theory(&res);
		if (json)
			main_print_json(&res);
		else
			report_scenario_text(stdout, &res);
		if (save_history && report_save_history(save_history, &res.t) < 0)
			rc = 2;
		if (tickets && report_save_tickets(tickets, &res) < 0)
			rc = 2;
	}
	tickets_free(&res.t);
	free(sample);
	return rc < 0 ? 2 : rc;
}
