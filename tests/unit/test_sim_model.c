/* Unit tests of sim/model.c: the queueing theory qsim compares with (Erlang C), its random
 * variates, and the pattern and history files it reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../sim/qsim.h"

/* Writes text to a fresh temporary file and returns its path (free it after unlink). */
static char *temp_file(const char *text)
{
	char *path = strdup("/tmp/qhall-test-sim-XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* M/M/1 waits with probability rho, M/M/2 at one erlang with 1/3: the textbook values. */
static void erlang_c__small_systems__textbook_values(void **state)
{
	(void)state;
	assert_true(fabs(erlang_c(1, 0.75) - 0.75) < 1e-12);
	assert_true(fabs(erlang_c(2, 1.0) - 1.0 / 3.0) < 1e-12);
}

/* M/M/6 at 1 a minute and 5 minutes: 2.94 minutes, the value the hall's measurements cite. */
static void erlang_c_wait__mm6_one_per_minute__2_94_min(void **state)
{
	(void)state;
	double w = erlang_c_wait(6, 1.0 / 60, 300);
	assert_true(fabs(w / 60 - 2.94) < 0.005);
	/* three dedicated pairs at a third each: 11.36 minutes */
	assert_true(fabs(erlang_c_wait(2, 1.0 / 180, 300) / 60 - 11.36) < 0.005);
}

/* A load at or over the windows never settles: the wait is infinite and everyone waits. */
static void erlang_c__unstable__infinite_wait(void **state)
{
	(void)state;
	assert_true(isinf(erlang_c_wait(5, 1.0 / 60, 300)));
	assert_true(erlang_c(5, 5.0) == 1.0);
}

/* The fewest windows keeping 90% of waits within 15 minutes: 5 erlangs need 6, 2.5 need 4. */
static void erlang_c_staff__p90_target__fewest_windows(void **state)
{
	(void)state;
	assert_int_equal(erlang_c_staff(60 / 3600.0, 300, 900, 0.10, 60), 6);
	assert_int_equal(erlang_c_staff(30 / 3600.0, 300, 900, 0.10, 60), 4);
	assert_int_equal(erlang_c_staff(0, 300, 900, 0.10, 60), 0);
	assert_true(erlang_c_tail(4, 30 / 3600.0, 300, 900) <= 0.10);
	assert_true(erlang_c_tail(3, 30 / 3600.0, 300, 900) > 0.10);
}

/* Draws from the stationary distribution have its mean: a + C rho / (1 - rho) people. */
static void mmc_sample_in_system__many_draws__stationary_mean(void **state)
{
	(void)state;
	model_seed(1);
	double sum = 0;
	int n = 200000;
	for (int i = 0; i < n; i++)
		sum += mmc_sample_in_system(3, 2.0);
	double want = 2.0 + erlang_c(3, 2.0) * (2.0 / 3) / (1 - 2.0 / 3);
	assert_true(fabs(sum / n - want) / want < 0.02);
}

/* Log-normal service times have the mean and coefficient of variation asked for. */
static void model_service_time__lognormal__mean_and_cv(void **state)
{
	(void)state;
	model_seed(2);
	struct sim_dist d = {.kind = DIST_LOGNORMAL, .mean = 300, .cv = 0.8};
	double sum = 0, sq = 0;
	int n = 200000;
	for (int i = 0; i < n; i++) {
		double x = model_service_time(&d);
		sum += x;
		sq += x * x;
	}
	double mean = sum / n, sd = sqrt(sq / n - mean * mean);
	assert_true(fabs(mean - 300) < 6);
	assert_true(fabs(sd / mean - 0.8) < 0.04);
}

/* Resampling a history only ever returns its values. */
static void model_service_time__history__its_values_only(void **state)
{
	(void)state;
	static const double sample[] = {120, 240, 600};
	struct sim_dist d = {.kind = DIST_HISTORY, .mean = 320, .sample = sample, .nsample = 3};
	int seen[3] = {0};
	for (int i = 0; i < 3000; i++) {
		int x = model_service_time(&d);
		assert_true(x == 120 || x == 240 || x == 600);
		seen[x == 120 ? 0 : x == 240 ? 1 : 2]++;
	}
	assert_true(seen[0] > 800 && seen[1] > 800 && seen[2] > 800);
}

/* A pattern gives each named hour its arrivals and the others none; comments are skipped. */
static void model_read_pattern__valid__hours_filled(void **state)
{
	(void)state;
	char *path = temp_file("# a day\n9 45\n\n10 80.5  # the peak\n");
	double per_hour[QSIM_HOURS];
	assert_int_equal(model_read_pattern(path, per_hour), 0);
	assert_true(per_hour[9] == 45 && per_hour[10] == 80.5 && per_hour[8] == 0 && per_hour[11] == 0);
	unlink(path);
	free(path);
}

/* An hour past 23, a missing count, or no arrivals at all are refused. */
static void model_read_pattern__bad__refused(void **state)
{
	(void)state;
	static const char *const bad[] = {"24 10\n", "9\n", "9 ten\n", "9 -1\n", "# nothing\n9 0\n"};
	double per_hour[QSIM_HOURS];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *path = temp_file(bad[i]);
		assert_int_equal(model_read_pattern(path, per_hour), -1);
		unlink(path);
		free(path);
	}
}

/* A history reads numbers of seconds; words, zero or an empty file are refused. */
static void model_read_history__valid_and_bad(void **state)
{
	(void)state;
	char *path = temp_file("# seconds\n300\n  412.5\n60\n");
	double *sample;
	size_t n;
	assert_int_equal(model_read_history(path, &sample, &n), 0);
	assert_int_equal(n, 3);
	assert_true(sample[1] == 412.5);
	free(sample);
	unlink(path);
	free(path);
	static const char *const bad[] = {"300\nfive\n", "0\n", "# none\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		path = temp_file(bad[i]);
		assert_int_equal(model_read_history(path, &sample, &n), -1);
		unlink(path);
		free(path);
	}
}

/* The two-sided 95% t quantiles the intervals use. */
static void student_t975__table_and_limit(void **state)
{
	(void)state;
	assert_true(student_t975(5) == 2.571);
	assert_true(student_t975(29) == 2.045);
	assert_true(student_t975(1000) == 1.960);
	assert_true(isinf(student_t975(0)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(erlang_c__small_systems__textbook_values),
		cmocka_unit_test(erlang_c_wait__mm6_one_per_minute__2_94_min),
		cmocka_unit_test(erlang_c__unstable__infinite_wait),
		cmocka_unit_test(erlang_c_staff__p90_target__fewest_windows),
		cmocka_unit_test(mmc_sample_in_system__many_draws__stationary_mean),
		cmocka_unit_test(model_service_time__lognormal__mean_and_cv),
		cmocka_unit_test(model_service_time__history__its_values_only),
		cmocka_unit_test(model_read_pattern__valid__hours_filled),
		cmocka_unit_test(model_read_pattern__bad__refused),
		cmocka_unit_test(model_read_history__valid_and_bad),
		cmocka_unit_test(student_t975__table_and_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
