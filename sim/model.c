/* Random numbers, service-time distributions, arrival patterns and the queueing theory the
 * simulation is checked against (Erlang C for M/M/c). */
#include "qsim.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* Seeds the generator (splitmix64: small, fast, and the same sequence on every machine). */
void model_seed(uint64_t seed)
{
	rng_state = seed ^ 0x9e3779b97f4a7c15ull;
}

/* A uniform number in (0, 1). */
double model_uniform(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

/* An exponential variate with the given mean. */
double model_exponential(double mean)
{
	return -mean * log(model_uniform());
}

/* A standard normal variate (Box-Muller). */
static double model_normal(void)
{
	double u = model_uniform(), v = model_uniform();
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Draws one service time in whole seconds (at least 1). */
int model_service_time(const struct sim_dist *d)
{
	double x = d->mean;
	switch (d->kind) {
	case DIST_EXP:
		x = model_exponential(d->mean);
		break;
	case DIST_LOGNORMAL: {
		/* a log-normal with this mean and coefficient of variation */
		double s2 = log(1.0 + d->cv * d->cv);
		x = exp(log(d->mean) - s2 / 2.0 + sqrt(s2) * model_normal());
		break;
	}
	case DIST_HISTORY:
		if (d->nsample)
			x = d->sample[(size_t)(model_uniform() * (double)d->nsample) % d->nsample];
		break;
	}
	long s = lround(x);
	return s < 1 ? 1 : s > 86400 ? 86400 : (int)s;
}

/* The mean number of arrivals of a service over a whole day. */
double model_mean_arrivals(const struct sim_service *s)
{
	double n = 0;
	for (int h = 0; h < QSIM_HOURS; h++)
		n += s->per_hour[h];
	return n;
}

/* Erlang C: the probability that an arrival waits in an M/M/c queue with offered load a
 * (erlangs); 1 when the queue is unstable. */
double erlang_c(int c, double a)
{
	if (a >= c)
		return 1.0;
	double sum = 0, term = 1; /* term = a^k / k! */
	for (int k = 0; k < c; k++) {
		sum += term;
		term *= a / (k + 1);
	}
	double top = term * c / (c - a);
	return top / (sum + top);
}

/* The mean wait in M/M/c (seconds, with lambda per second); infinity when unstable. */
double erlang_c_wait(int c, double lambda, double mean_service)
{
	double a = lambda * mean_service;
	if (a >= c)
		return INFINITY;
	return erlang_c(c, a) * mean_service / (c - a);
}

/* Draws the number of people in an M/M/c system (waiting and in service) from its stationary
 * distribution, so a simulated day can start as if the hall had been open for ever. */
int mmc_sample_in_system(int c, double a)
{
	if (a >= c || a <= 0)
		return 0;
	double rho = a / c, sum = 0, term = 1; /* term = a^k / k! */
	for (int k = 0; k < c; k++) {
		sum += term;
		term *= a / (k + 1);
	}
	double p0 = 1.0 / (sum + term / (1.0 - rho)), p = p0, cum = 0, u = model_uniform();
	for (int k = 0; k < 100000; k++) {
		cum += p;
		if (u <= cum)
			return k;
		p *= k + 1 < c ? a / (k + 1) : rho;
	}
	return 100000;
}

/* P(wait > t) in M/M/c. */
double erlang_c_tail(int c, double lambda, double mean_service, double t)
{
	double a = lambda * mean_service;
	if (a >= c)
		return 1.0;
	return erlang_c(c, a) * exp(-(c - a) * t / mean_service);
}

/* The fewest windows for which at most share_late of the arrivals wait longer than sla (so the
 * percentile 1 - share_late of the wait is within sla); max_c when none up to it does. */
int erlang_c_staff(double lambda, double mean_service, double sla, double share_late, int max_c)
{
	if (lambda <= 0)
		return 0;
	for (int c = 1; c < max_c; c++)
		if (erlang_c_tail(c, lambda, mean_service, sla) <= share_late)
			return c;
	return max_c;
}

/* The 97.5th percentile of Student's t with df degrees of freedom (two-sided 95%). */
double student_t975(int df)
{
	static const double t[] = {0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
				   2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093,
				   2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
	if (df < 1)
		return INFINITY;
	if (df <= 30)
		return t[df];
	return df <= 60 ? 2.000 : df <= 120 ? 1.980 : 1.960;
}

/* Reads observed service times, one number of seconds per line ('#' starts a comment). */
int model_read_history(const char *path, double **sample, size_t *n)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "qsim: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 0;
	*sample = NULL;
	*n = 0;
	char line[256];
	int lineno = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		char *hash = strchr(line, '#'), *end;
		if (hash)
			*hash = '\0';
		double v = strtod(line, &end);
		while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
			end++;
		if (end == line || *end != '\0') {
			if (strspn(line, " \t\r\n") == strlen(line))
				continue;
			fprintf(stderr, "qsim: %s:%d: expected a service time in seconds\n", path, lineno);
			goto bad;
		}
		if (!(v >= 1 && v <= 86400)) {
			fprintf(stderr, "qsim: %s:%d: a service time must be 1 to 86400 seconds\n", path, lineno);
			goto bad;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			double *grown = realloc(*sample, cap * sizeof **sample);
			if (!grown)
				goto bad;
			*sample = grown;
		}
		(*sample)[(*n)++] = v;
	}
	fclose(f);
	if (*n == 0) {
		fprintf(stderr, "qsim: %s holds no service time\n", path);
		free(*sample);
		*sample = NULL;
		return -1;
	}
	return 0;
bad:
	fclose(f);
	free(*sample);
	*sample = NULL;
	return -1;
}

/* Reads an arrival pattern: lines "HH ARRIVALS" (hour of day 0-23, mean arrivals in that hour);
 * hours not named get none. */
int model_read_pattern(const char *path, double per_hour[QSIM_HOURS])
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "qsim: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(per_hour, 0, sizeof(double) * QSIM_HOURS);
	char line[256];
	int lineno = 0, any = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		int h, end = 0;
		double rate;
		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		if (sscanf(line, "%d %lf %n", &h, &rate, &end) != 2 || line[end] != '\0' || h < 0 ||
		    h >= QSIM_HOURS || !(rate >= 0 && rate <= 10000)) {
			fprintf(stderr, "qsim: %s:%d: expected \"HOUR ARRIVALS\" (hour 0-23, arrivals 0-10000)\n",
				path, lineno);
			fclose(f);
			return -1;
		}
		per_hour[h] = rate;
		any |= rate > 0;
	}
	fclose(f);
	if (!any) {
		fprintf(stderr, "qsim: %s has no arrivals\n", path);
		return -1;
	}
	return 0;
}
