/* What a run measured: the mean wait per day with its confidence interval, the accuracy of
 * the estimates told at take time, and the check that qserver's statistics equal what the
 * simulator saw. */
#include "qsim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What the simulator counts for one stats row. */
struct expect {
	long issued, served, no_show, waits, within_sla;
	double wait_sum, wait_max, service_sum;
};

/* Adds one ticket to an expected row. */
static void expect_add(struct expect *e, const struct sim_ticket *k)
{
	e->issued++;
	if (k->called_at) {
		double wait = (double)(k->called_at - k->issued_at);
		e->waits++;
		e->wait_sum += wait;
		e->within_sla += wait <= 900;
		if (wait > e->wait_max)
			e->wait_max = wait;
		if (k->no_show)
			e->no_show++;
	}
	if (k->finished_at) {
		e->served++;
		e->service_sum += (double)(k->finished_at - k->called_at);
	}
}

/* Compares one field; prints and counts a mismatch. */
static long expect_field(const char *key, const char *field, const cJSON *row, double want, double tolerance)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, field);
	double got = cJSON_IsNumber(v) ? v->valuedouble : NAN;
	if (fabs(got - want) <= tolerance)
		return 0;
	fprintf(stderr, "qsim: statistics mismatch: %s %s is %g in stats, the simulator saw %g\n", key, field, got,
		want);
	return 1;
}

/* Compares a stats row with what the simulator counted; returns the mismatches. */
static long expect_compare(const char *key, const cJSON *row, const struct expect *e)
{
	long bad = 0;
	bad += expect_field(key, "issued", row, (double)e->issued, 0);
	bad += expect_field(key, "served", row, (double)e->served, 0);
	bad += expect_field(key, "no_show", row, (double)e->no_show, 0);
	bad += expect_field(key, "cancelled", row, 0, 0);
	bad += expect_field(key, "expired", row, 0, 0);
	bad += expect_field(key, "waits", row, (double)e->waits, 0);
	if (e->waits) {
		bad += expect_field(key, "wait_mean", row, floor(e->wait_sum / (double)e->waits + 0.5), 0);
		bad += expect_field(key, "wait_max", row, e->wait_max, 0);
		bad += expect_field(key, "sla_pct", row, 100.0 * (double)e->within_sla / (double)e->waits, 0.05);
	}
	if (e->served)
		bad += expect_field(key, "service_mean", row, floor(e->service_sum / (double)e->served + 0.5), 0);
	return bad;
}

/* Asks qserver for stats over the simulated days, in total and by service, and compares every
 * count and mean with what the simulator saw. Returns the mismatches, or -1 when stats failed. */
long measure_check_stats(struct sim_server *s, const struct sim_scenario *sc, const struct sim_tickets *t)
{
	char from[11], to[11];
	sim_day_date(0, from);
	sim_day_date(sc->days - 1, to);
	struct expect total = {0}, per[QSIM_MAX_SERVICES];
	memset(per, 0, sizeof per);
	for (size_t i = 0; i < t->n; i++) {
		expect_add(&total, &t->v[i]);
		expect_add(&per[t->v[i].svc], &t->v[i]);
	}
	long bad = 0;
	static const char *const by[] = {"total", "service"};
	for (int b = 0; b < 2; b++) {
		cJSON *r = server_request(s, "{\"op\":\"stats\",\"from\":\"%s\",\"to\":\"%s\",\"by\":\"%s\"}", from, to,
					  by[b]);
		const cJSON *rows = r ? cJSON_GetObjectItemCaseSensitive(r, "rows") : NULL;
		if (!cJSON_IsArray(rows)) {
			fprintf(stderr, "qsim: stats by %s failed\n", by[b]);
			cJSON_Delete(r);
			return -1;
		}
		int seen[QSIM_MAX_SERVICES] = {0};
		const cJSON *row;
		cJSON_ArrayForEach(row, rows)
		{
			const cJSON *key = cJSON_GetObjectItemCaseSensitive(row, "key");
			const char *k = cJSON_IsString(key) ? key->valuestring : "?";
			if (b == 0) {
				bad += expect_compare("total", row, &total);
				continue;
			}
			int i = 0;
			while (i < sc->nservices && strcmp(sc->svc[i].id, k) != 0)
				i++;
			if (i == sc->nservices) {
				fprintf(stderr, "qsim: statistics mismatch: stats has a service %s the hall lacks\n", k);
				bad++;
				continue;
			}
			seen[i] = 1;
			bad += expect_compare(k, row, &per[i]);
		}
		for (int i = 0; b == 1 && i < sc->nservices; i++)
			if (!seen[i] && per[i].issued) {
				fprintf(stderr, "qsim: statistics mismatch: no stats row for service %s\n", sc->svc[i].id);
				bad++;
			}
		cJSON_Delete(r);
	}
	return bad;
}

/* The seconds since the start of its day at which a ticket was taken. */
static double measure_time_of_day(const struct sim_ticket *k)
{
	return (double)(k->issued_at - sim_day_start(k->day));
}

/* The mean wait of each day (tickets taken after the warm-up) and the 95% confidence interval
 * of their mean: the days are independent replications. */
void measure_waits(struct sim_result *res)
{
	const struct sim_scenario *sc = res->sc;
	double from = sc->open_h * 3600.0 + sc->warmup_s;
	res->ndays = 0;
	for (int day = 0; day < sc->days && day < (int)(sizeof res->day_mean / sizeof res->day_mean[0]); day++) {
		double sum = 0;
		long n = 0;
		for (size_t i = 0; i < res->t.n; i++) {
			const struct sim_ticket *k = &res->t.v[i];
			if (k->day == day && k->called_at && !k->preload && measure_time_of_day(k) >= from) {
				sum += (double)(k->called_at - k->issued_at);
				n++;
			}
		}
		if (n)
			res->day_mean[res->ndays++] = sum / (double)n;
	}
	double mean = 0, var = 0;
	for (int i = 0; i < res->ndays; i++)
		mean += res->day_mean[i] / res->ndays;
	for (int i = 0; i < res->ndays; i++)
		var += (res->day_mean[i] - mean) * (res->day_mean[i] - mean);
	res->mean_wait = mean;
	res->ci_half = res->ndays > 1 ? student_t975(res->ndays - 1) * sqrt(var / (res->ndays - 1) / res->ndays) : INFINITY;
}

/* The accuracy of the estimates told to tickets taken at least from_s after the day's
 * opening: mean absolute errors of ewt, the oracle and the learned estimator, ewt's signed
 * error overall and per service, and how often the wait fell inside [ewt_low, ewt_high] for
 * tickets that found every window busy. */
void measure_accuracy(const struct sim_result *res, int from_s, struct accuracy *a)
{
	memset(a, 0, sizeof *a);
	double from = res->sc->open_h * 3600.0 + from_s;
	for (size_t i = 0; i < res->t.n; i++) {
		const struct sim_ticket *k = &res->t.v[i];
		if (!k->called_at || k->preload || measure_time_of_day(k) < from)
			continue;
		double wait = (double)(k->called_at - k->issued_at);
		a->n++;
		a->mae_ewt += fabs(k->ewt - wait);
		a->mae_oracle += fabs(k->oracle - wait);
		a->mae_learned += fabs(k->learned - wait);
		a->bias_ewt += k->ewt - wait;
		a->bias_svc[k->svc] += k->ewt - wait;
		a->n_svc[k->svc]++;
		if (k->busy_all) {
			a->n_busy++;
			if (k->has_range) {
				a->has_range = 1;
				a->n_in_range += wait >= k->ewt_low && wait <= k->ewt_high;
			}
		}
	}
	if (a->n) {
		a->mae_ewt /= (double)a->n;
		a->mae_oracle /= (double)a->n;
		a->mae_learned /= (double)a->n;
		a->bias_ewt /= (double)a->n;
	}
	for (int i = 0; i < QSIM_MAX_SERVICES; i++)
		if (a->n_svc[i])
			a->bias_svc[i] /= (double)a->n_svc[i];
}
