/* The "what if" of staffing: for an arrival pattern per hour, how many windows each hour keep
 * the 90th percentile wait of the tickets taken in that hour within the 15-minute target.
 * Erlang C gives the start (each hour as if it were a steady M/M/c); simulated days against
 * qserver then add a window to every hour that still misses, since a busy hour leaves a queue
 * to the next and theory does not see it. */
#include "qsim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STAFFING_SLA 900.0	/* the hall's target, seconds */
#define STAFFING_LATE 0.10	/* at most this share may wait longer: the 90th percentile */
#define STAFFING_ROUNDS 8	/* simulation rounds before giving up on an hour */

/* What one hour needs and got. */
struct staffing_hour {
	double arrivals;
	int erlang, windows;
	long n;
	double mean, p90, within;
};

/* Compares two doubles for qsort. */
static int staffing_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Fills each hour's wait figures from the tickets taken in it (all days together). */
static void staffing_measure(const struct sim_result *res, struct staffing_hour *hours)
{
	double *waits = malloc((res->t.n ? res->t.n : 1) * sizeof *waits);
	for (int h = 0; h < QSIM_HOURS && waits; h++) {
		long n = 0, within = 0;
		double sum = 0;
		for (size_t i = 0; i < res->t.n; i++) {
			const struct sim_ticket *k = &res->t.v[i];
			if (!k->called_at || (k->issued_at - sim_day_start(k->day)) / 3600 != h)
				continue;
			waits[n] = (double)(k->called_at - k->issued_at);
			sum += waits[n];
			within += waits[n] <= STAFFING_SLA;
			n++;
		}
		hours[h].n = n;
		hours[h].mean = n ? sum / (double)n : 0;
		hours[h].within = n ? 100.0 * (double)within / (double)n : 100;
		if (n) {
			qsort(waits, (size_t)n, sizeof *waits, staffing_cmp);
			hours[h].p90 = waits[(long)ceil(0.9 * (double)n) - 1];
		} else {
			hours[h].p90 = 0;
		}
	}
	free(waits);
}

/* Prints the table, Markdown, or JSON. */
static void staffing_print(FILE *out, const struct staffing_hour *hours, int open_h, int close_h, int mean_s,
			   int days, int rounds, int met, int json)
{
	if (json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "target", "p90 wait <= 900 s, per hour of arrival");
		cJSON_AddNumberToObject(o, "service_time", mean_s);
		cJSON_AddNumberToObject(o, "days", days);
		cJSON_AddNumberToObject(o, "rounds", rounds);
		cJSON_AddBoolToObject(o, "met", met);
		cJSON *list = cJSON_AddArrayToObject(o, "hours");
		for (int h = open_h; h < close_h; h++) {
			cJSON *row = cJSON_CreateObject();
			cJSON_AddNumberToObject(row, "hour", h);
			cJSON_AddNumberToObject(row, "arrivals", hours[h].arrivals);
			cJSON_AddNumberToObject(row, "erlang_c", hours[h].erlang);
			cJSON_AddNumberToObject(row, "windows", hours[h].windows);
			cJSON_AddNumberToObject(row, "tickets", (double)hours[h].n);
			cJSON_AddNumberToObject(row, "wait_mean", round(hours[h].mean));
			cJSON_AddNumberToObject(row, "wait_p90", hours[h].p90);
			cJSON_AddNumberToObject(row, "sla_pct", round(hours[h].within * 10) / 10);
			cJSON_AddItemToArray(list, row);
		}
		char *text = cJSON_PrintUnformatted(o);
		fprintf(out, "%s\n", text);
		free(text);
		cJSON_Delete(o);
		return;
	}
	fprintf(out, "| hour | arrivals | windows by Erlang C | windows | tickets | mean wait, min | p90 wait, min | within 15 min |\n"
		     "|---|---|---|---|---|---|---|---|\n");
	for (int h = open_h; h < close_h; h++)
		fprintf(out, "| %02d:00 | %.0f | %d | %d | %ld | %.1f | %.1f | %.1f%% |\n", h, hours[h].arrivals,
			hours[h].erlang, hours[h].windows, hours[h].n, hours[h].mean / 60, hours[h].p90 / 60,
			hours[h].within);
	fprintf(out, "\nTarget: the 90th percentile wait of the tickets taken in each hour within 15 minutes; %d\n"
		     "simulated days per round, %d round%s; %s.\n",
		days, rounds, rounds == 1 ? "" : "s", met ? "every hour meets it" : "**some hours still miss it**");
}

/* Finds the windows per hour for the pattern and prints them to out. Returns 0, 1 when a
 * statistics check failed or the target could not be met, 2 on bad input or a failed run. */
int staffing_run(FILE *out, const char *pattern_path, const struct sim_target *target, int days, int mean_s, int json,
		 uint64_t seed)
{
	struct sim_scenario sc;
	memset(&sc, 0, sizeof sc);
	struct sim_service *s = &sc.svc[0];
	if (model_read_pattern(pattern_path, s->per_hour) < 0)
		return 2;
	snprintf(sc.name, sizeof sc.name, "staffing");
	snprintf(sc.title, sizeof sc.title, "staffing for %s", pattern_path);
	sc.nservices = 1;
	snprintf(s->id, sizeof s->id, "A");
	s->configured_s = mean_s;
	s->dist = (struct sim_dist){.kind = DIST_EXP, .mean = mean_s};
	sc.open_h = -1;
	for (int h = 0; h < QSIM_HOURS; h++)
		if (s->per_hour[h] > 0) {
			if (sc.open_h < 0)
				sc.open_h = h;
			sc.close_h = h + 1;
		}
	sc.days = days;
	sc.seed = seed;
	struct staffing_hour hours[QSIM_HOURS];
	memset(hours, 0, sizeof hours);
	for (int h = sc.open_h; h < sc.close_h; h++) {
		hours[h].arrivals = s->per_hour[h];
		hours[h].erlang = erlang_c_staff(s->per_hour[h] / 3600.0, mean_s, STAFFING_SLA, STAFFING_LATE,
						 QSIM_MAX_WINDOWS - 2);
		hours[h].windows = hours[h].erlang > 0 ? hours[h].erlang : 1;
	}
	int rounds = 0, met = 0, rc = 0;
	while (!met && rounds < STAFFING_ROUNDS) {
		int most = 1;
		for (int h = sc.open_h; h < sc.close_h; h++) {
			sc.staff[h] = hours[h].windows;
			if (sc.staff[h] > most)
				most = sc.staff[h];
		}
		sc.nwindows = most;
		struct sim_result res;
		int r = sim_run(&sc, target, &res);
		rounds++;
		if (r < 0) {
			tickets_free(&res.t);
			return 2;
		}
		if (r)
			rc = 1;
		staffing_measure(&res, hours);
		tickets_free(&res.t);
		met = 1;
		for (int h = sc.open_h; h < sc.close_h; h++)
			if (hours[h].n && hours[h].p90 > STAFFING_SLA) {
				met = 0;
				if (hours[h].windows < QSIM_MAX_WINDOWS - 2)
					hours[h].windows++;
			}
	}
	staffing_print(out, hours, sc.open_h, sc.close_h, mean_s, days, rounds, met, json);
	return rc ? rc : met ? 0 : 1;
}
