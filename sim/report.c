/* What qsim prints: one scenario's summary, and SIMULATION.md, the report of every standard
 * scenario (waits against Erlang C, the accuracy table of the estimate, the statistics check,
 * a staffing example). */
#include "qsim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Erlang C's mean wait for a scenario that compares with it: the pooled M/M/c when the hall
 * has a comprehensive window, otherwise each service's M/M/c over its own windows, weighted
 * by its arrivals. Uses the arrival rate of the scenario's first open hour. */
void report_theory(struct sim_result *res)
{
	const struct sim_scenario *sc = res->sc;
	res->theory_wait = 0;
	if (sc->theory_c <= 0)
		return;
	int pooled = 0;
	double lambda = 0, weighted = 0;
	for (int w = 0; w < sc->nwindows; w++)
		pooled |= !sc->win_mask[w];
	for (int i = 0; i < sc->nservices; i++)
		lambda += sc->svc[i].per_hour[sc->open_h] / 3600.0;
	if (pooled) {
		res->theory_wait = erlang_c_wait(sc->nwindows, lambda, sc->svc[0].dist.mean);
		return;
	}
	for (int i = 0; i < sc->nservices; i++) {
		int c = 0;
		for (int w = 0; w < sc->nwindows; w++)
			c += (sc->win_mask[w] & (1u << i)) != 0;
		double li = sc->svc[i].per_hour[sc->open_h] / 3600.0;
		weighted += li * erlang_c_wait(c, li, sc->svc[i].dist.mean);
	}
	res->theory_wait = lambda > 0 ? weighted / lambda : 0;
}

/* Whether the theory lies inside the simulated mean's confidence interval. */
static int report_inside(const struct sim_result *res)
{
	return fabs(res->mean_wait - res->theory_wait) <= res->ci_half;
}

/* Prints one scenario's summary for a person. */
void report_scenario_text(FILE *out, const struct sim_result *res)
{
	const struct sim_scenario *sc = res->sc;
	fprintf(out, "%s: %s\n", sc->name, sc->title);
	if (sc->outlier) {
		fprintf(out, "  estimate before the 12-hour service: %.0f s, after: %.0f s (%+.1f%%)\n", res->outlier_before,
			res->outlier_after,
			res->outlier_before > 0 ? 100.0 * (res->outlier_after - res->outlier_before) / res->outlier_before : 0);
		return;
	}
	struct accuracy a;
	measure_accuracy(res, 0, &a);
	fprintf(out, "  %d days, %zu tickets, %ld requests in %.1f s\n", sc->days, res->t.n, res->requests, res->seconds);
	fprintf(out, "  mean wait %.1f min", res->mean_wait / 60);
	if (isfinite(res->ci_half))
		fprintf(out, " ± %.1f (95%%, %d days)", res->ci_half / 60, res->ndays);
	if (res->theory_wait > 0)
		fprintf(out, "; Erlang C %.1f min (%s)", res->theory_wait / 60,
			report_inside(res) ? "inside the interval" : "outside the interval");
	fprintf(out, "\n  ewt: MAE %.0f s, bias %+.0f s; oracle MAE %.0f s; learned mean MAE %.0f s\n", a.mae_ewt,
		a.bias_ewt, a.mae_oracle, a.mae_learned);
	for (int i = 0; sc->nservices > 1 && i < sc->nservices; i++)
		fprintf(out, "  service %s: %ld tickets, ewt signed error %+.0f s\n", sc->svc[i].id, a.n_svc[i], a.bias_svc[i]);
	if (a.has_range)
		fprintf(out, "  waits inside [ewt_low, ewt_high]: %.1f%% of %ld tickets that found every window busy\n",
			100.0 * (double)a.n_in_range / (double)a.n_busy, a.n_busy);
	else
		fprintf(out, "  no range served (ewt_low, ewt_high)\n");
	fprintf(out, "  statistics check: %s\n", res->stats_mismatches ? "MISMATCH (see above)" : "stats equal what the simulator saw");
	fprintf(out, "  call order: %ld of %ld calls passed over a ticket due before\n", res->out_of_order, res->calls);
}

/* Writes the service times of the served tickets, one per line: the "hall's own history" a
 * later run can resample. */
int report_save_history(const char *path, const struct sim_tickets *t)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "# service times in seconds (finished_at - called_at), written by qsim\n");
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].finished_at)
			fprintf(f, "%lld\n", t->v[i].finished_at - t->v[i].called_at);
	return fclose(f) == 0 ? 0 : -1;
}

/* Writes one CSV line per ticket: what it was told at take time, what the simulator's own
 * estimators said, and what happened (for research on estimators). */
int report_save_tickets(const char *path, const struct sim_result *res)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "id,service,class,day,issued_at,called_at,finished_at,wait,ahead,ewt,ewt_low,ewt_high,"
		   "open_windows,all_busy,oracle,learned,no_show,preload\n");
	for (size_t i = 0; i < res->t.n; i++) {
		const struct sim_ticket *k = &res->t.v[i];
		char low[32] = "", high[32] = "";
		if (k->has_range) {
			snprintf(low, sizeof low, "%.0f", k->ewt_low);
			snprintf(high, sizeof high, "%.0f", k->ewt_high);
		}
		fprintf(f, "%s,%s,%s,%d,%lld,%lld,%lld,%lld,%d,%.0f,%s,%s,%d,%d,%.1f,%.1f,%d,%d\n", k->id,
			res->sc->svc[k->svc].id, k->priority ? "priority" : "normal", k->day, k->issued_at, k->called_at,
			k->finished_at, k->called_at ? k->called_at - k->issued_at : -1, k->ahead, k->ewt, low, high,
			k->open_n, k->busy_all, k->oracle, k->learned, k->no_show, k->preload);
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* Collects the service times of the served tickets of service svc (-1: of all) as a sample;
 * -1 when there are none. */
int report_history_sample(const struct sim_tickets *t, int svc, double **sample, size_t *n, double *mean)
{
	*sample = malloc((t->n ? t->n : 1) * sizeof **sample);
	*n = 0;
	double sum = 0;
	for (size_t i = 0; *sample && i < t->n; i++)
		if (t->v[i].finished_at && (svc < 0 || t->v[i].svc == svc)) {
			(*sample)[*n] = (double)(t->v[i].finished_at - t->v[i].called_at);
			sum += (*sample)[(*n)++];
		}
	if (!*n) {
		free(*sample);
		*sample = NULL;
		return -1;
	}
	*mean = sum / (double)*n;
	return 0;
}

/* "met" or "missed". */
static const char *report_verdict(int met)
{
	return met ? "met" : "**missed**";
}

/* The waits-against-theory table. */
static void report_theory_table(FILE *f, struct sim_result *res, int nres)
{
	fprintf(f, "## Mean waits against Erlang C\n\n"
		   "Each simulated day is an independent replication: it starts in steady state (as many\n"
		   "people as M/M/c's stationary distribution draws take tickets at the opening; they are\n"
		   "left out of the means) and ends when the last ticket is called. The interval is the mean\n"
		   "of the day means ± t(0.975, days − 1) × their standard error.\n\n"
		   "| scenario | windows | tickets | simulated mean wait, min (95%% CI) | Erlang C, min | theory inside the CI |\n"
		   "|---|---|---|---|---|---|\n");
	for (int i = 0; i < nres; i++) {
		if (res[i].theory_wait <= 0 || res[i].sc->outlier || strncmp(res[i].sc->name, "config", 6) == 0)
			continue;
		fprintf(f, "| %s | %d | %zu | %.2f ± %.2f | %.2f | %s |\n", res[i].sc->name, res[i].sc->nwindows, res[i].t.n,
			res[i].mean_wait / 60, res[i].ci_half / 60, res[i].theory_wait / 60,
			report_inside(&res[i]) ? "yes" : "no");
	}
	const struct sim_result *dedicated = NULL, *comprehensive = NULL;
	for (int i = 0; i < nres; i++) {
		if (strcmp(res[i].sc->name, "dedicated") == 0)
			dedicated = &res[i];
		if (strcmp(res[i].sc->name, "comprehensive") == 0)
			comprehensive = &res[i];
	}
	if (dedicated && comprehensive && comprehensive->mean_wait > 0)
		fprintf(f, "\nThe same three services at three dedicated pairs of windows and at six comprehensive\n"
			   "windows: %.2f against %.2f min (Erlang C: %.2f against %.2f): comprehensive windows cut\n"
			   "the mean wait %.1f-fold.\n",
			dedicated->mean_wait / 60, comprehensive->mean_wait / 60, dedicated->theory_wait / 60,
			comprehensive->theory_wait / 60, dedicated->mean_wait / comprehensive->mean_wait);
	fprintf(f, "\n");
}

/* The accuracy table of the estimate, with issue 14's targets. */
static void report_accuracy_table(FILE *f, struct sim_result *res, int nres)
{
	fprintf(f, "## Accuracy of the estimate told at take time (`ewt`)\n\n"
		   "Error = told − actual wait (`called_at − issued_at`), over every called ticket. The oracle\n"
		   "is (ahead + 1) × true mean service time / open windows that serve the ticket (0 when one\n"
		   "of them is free); \"learned\" is the same with the mean of the service times seen so far.\n"
		   "With a configured time that is wrong, tickets of the first hour of each day are left out.\n\n"
		   "| scenario | tickets | MAE ewt, s | MAE oracle, s | ewt / oracle | target | MAE learned, s | bias ewt, s |\n"
		   "|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < nres; i++) {
		const struct sim_scenario *sc = res[i].sc;
		if (sc->outlier)
			continue;
		int wrong = strncmp(sc->name, "config", 6) == 0;
		struct accuracy a;
		measure_accuracy(&res[i], wrong ? 3600 : 0, &a);
		double ratio = a.mae_oracle > 0 ? a.mae_ewt / a.mae_oracle : 0;
		char target[64] = "";
		if (strncmp(sc->name, "mmc", 3) == 0)
			snprintf(target, sizeof target, "≤ 1.05: %s", report_verdict(ratio <= 1.05));
		else if (wrong)
			snprintf(target, sizeof target, "≤ 1.1 after the first hour: %s", report_verdict(ratio <= 1.1));
		fprintf(f, "| %s | %ld | %.0f | %.0f | %.2f | %s | %.0f | %+.0f |\n", sc->name, a.n, a.mae_ewt, a.mae_oracle,
			ratio, target, a.mae_learned, a.bias_ewt);
	}
	fprintf(f, "\n");
	for (int i = 0; i < nres; i++) {
		const struct sim_scenario *sc = res[i].sc;
		if (strcmp(sc->name, "twoservices") != 0)
			continue;
		struct accuracy a;
		measure_accuracy(&res[i], 0, &a);
		fprintf(f, "### Two services, 4 and 8 min, comprehensive windows: mean signed error per service\n\n"
			   "| service | mean service time | tickets | mean signed error of ewt, s | target ±30 s |\n|---|---|---|---|---|\n");
		for (int s = 0; s < sc->nservices; s++)
			fprintf(f, "| %s | %.0f min | %ld | %+.0f | %s |\n", sc->svc[s].id, sc->svc[s].dist.mean / 60, a.n_svc[s],
				a.bias_svc[s], report_verdict(fabs(a.bias_svc[s]) <= 30));
		fprintf(f, "\n");
	}
	fprintf(f, "### The range [ewt_low, ewt_high]\n\n"
		   "Share of actual waits inside the range, among tickets that found every window busy\n"
		   "(target 80%% ± 5%%).\n\n| scenario | tickets that found every window busy | inside the range |\n|---|---|---|\n");
	for (int i = 0; i < nres; i++) {
		if (res[i].sc->outlier)
			continue;
		struct accuracy a;
		measure_accuracy(&res[i], 0, &a);
		if (a.has_range && a.n_busy) {
			double share = 100.0 * (double)a.n_in_range / (double)a.n_busy;
			fprintf(f, "| %s | %ld | %.1f%% (%s) |\n", res[i].sc->name, a.n_busy, share,
				report_verdict(share >= 75 && share <= 85));
		} else {
			fprintf(f, "| %s | %ld | no range served |\n", res[i].sc->name, a.n_busy);
		}
	}
	fprintf(f, "\n");
	for (int i = 0; i < nres; i++) {
		if (!res[i].sc->outlier)
			continue;
		double b = res[i].outlier_before, after = res[i].outlier_after;
		double effect = b > 0 ? 100.0 * (after - b) / b : 0;
		fprintf(f, "### One 12-hour service\n\nThe estimate a new ticket would be told (`services`), just before and\n"
			   "just after %s.\n\n| before, s | after, s | effect | target < 10%% |\n|---|---|---|---|\n"
			   "| %.0f | %.0f | %+.1f%% | %s |\n\n",
			res[i].sc->title, b, after, effect, report_verdict(fabs(effect) < 10));
	}
}

/* The statistics check table. */
static void report_stats_table(FILE *f, struct sim_result *res, int nres)
{
	fprintf(f, "## Statistics check\n\n"
		   "After each scenario, `stats` over its days (in total and by service) is compared with what\n"
		   "the simulator saw: issued, served, no-shows, cancelled, expired, waits, mean wait (to the\n"
		   "second), longest wait, mean service time and the share within the target. Every call is\n"
		   "also checked against the call order (priority first, then the longest waiting among the\n"
		   "services the window serves): a call that passes over a ticket due before it, or finds\n"
		   "nothing while one waits, counts.\n\n"
		   "| scenario | description | days | tickets | requests | real time, s | stats mismatches | calls out of order |\n"
		   "|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < nres; i++)
		fprintf(f, "| %s | %s | %d | %zu | %ld | %.1f | %s | %ld of %ld |\n", res[i].sc->name, res[i].sc->title,
			res[i].sc->outlier ? 1 : res[i].sc->days, res[i].t.n, res[i].requests, res[i].seconds,
			res[i].sc->outlier ? "(not checked)" : res[i].stats_mismatches ? "**yes**" : "0", res[i].out_of_order,
			res[i].calls);
	fprintf(f, "\n");
}

/* Runs every standard scenario and writes the Markdown report to path. Returns 0, 1 when a
 * statistics check failed, 2 when a run failed. */
int report_write(const char *path, const struct sim_target *target, int days, uint64_t seed, const char *pattern)
{
	static const char *const order[] = {"mmc6", "mmc7", "mmc8", "dedicated", "comprehensive", "twoservices",
					    "config2x", "config05x", "hallday", "history", "outlier"};
	enum { NRES = sizeof order / sizeof order[0] };
	static struct sim_scenario sc[NRES];
	static struct sim_result res[NRES];
	double *sample[QSIM_MAX_SERVICES] = {NULL};
	int rc = 0, nres = 0;
	for (int i = 0; i < NRES; i++) {
		scenario_standard(order[i], &sc[i], days);
		sc[i].seed = seed + (uint64_t)i;
		/* the hall's own history: each service resampled from the hall day's observed times */
		for (int s = 0; strcmp(order[i], "history") == 0 && s < sc[i].nservices && rc == 0; s++) {
			size_t n;
			double mean;
			if (report_history_sample(&res[i - 1].t, s, &sample[s], &n, &mean) < 0)
				rc = 2;
			else
				sc[i].svc[s].dist = (struct sim_dist){.kind = DIST_HISTORY, .mean = mean, .sample = sample[s], .nsample = n};
		}
		if (rc == 2)
			break;
		fprintf(stderr, "qsim: %s ...\n", order[i]);
		int r = sim_run(&sc[i], target, &res[i]);
		if (r < 0) {
			tickets_free(&res[i].t);
			rc = 2;
			break;
		}
		nres++;
		report_theory(&res[i]);
		report_scenario_text(stderr, &res[i]);
		if (r)
			rc = 1;
	}
	FILE *f = rc == 2 ? NULL : fopen(path, "w");
	if (f) {
		time_t now = time(NULL);
		char when[32];
		strftime(when, sizeof when, "%Y-%m-%d", gmtime(&now));
		fprintf(f, "# Simulation\n\n"
			   "Written by `make sim` (`build/qsim --report SIMULATION.md --days %d`) on %s. Each scenario\n"
			   "runs a real qserver with `--test-clock` and its own Redis; qsim simulates %d hall days of it\n"
			   "(arrivals 08:00-20:00 unless said otherwise) as a discrete-event simulation that moves the\n"
			   "server's clock to each event and performs the op. The method is in\n"
			   "[docs/estimated-wait.md](docs/estimated-wait.md#the-simulator-qsim). For narrower intervals run the long\n"
			   "version, `make sim SIM_DAYS=30` (five times as long).\n\n",
			days, when, days);
		report_theory_table(f, res, nres);
		report_accuracy_table(f, res, nres);
		report_stats_table(f, res, nres);
		fprintf(f, "## Staffing\n\n`qsim --staffing PATTERN` answers \"how many windows in each hour keep the\n"
			   "90th percentile wait within 15 minutes\" for an arrival pattern; for\n"
			   "[%s](%s) (one service, exponential, mean 5 min):\n\n", pattern, pattern);
		fflush(f);
		fprintf(stderr, "qsim: staffing ...\n");
		int r = staffing_run(f, pattern, target, days, 300, 0, seed);
		if (r)
			rc = r;
		if (fclose(f) != 0)
			rc = 2;
	} else if (rc != 2) {
		perror(path);
		rc = 2;
	}
	for (int i = 0; i < nres; i++)
		tickets_free(&res[i].t);
	for (int s = 0; s < QSIM_MAX_SERVICES; s++)
		free(sample[s]);
	return rc;
}
