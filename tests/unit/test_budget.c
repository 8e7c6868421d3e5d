/* Failed-login budgets: the limit, lock-outs that double up to a cap, checks under way counted,
 * forgetting after a quiet time, and memory bounded under a flood of distinct keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "qserver.h"

#define T0 1795744800L

static const struct budget_policy policy = {.limit = 5, .base_s = 30, .cap_s = 900, .forget_s = 3600, .count_in_flight = 1};

/* Fails key n times at time now (each a check begun and ended); returns the last lock length. */
static long fail_times(struct budget *b, const char *key, time_t now, int n)
{
	long lock = 0;
	for (int i = 0; i < n; i++) {
		budget_begin(b, key, now);
		lock = budget_end(b, key, now, 1);
	}
	return lock;
}

/* Four failures leave the key free; the fifth locks it for the base time. */
static void budget__fifth_failure__locks_for_base_time(void **state)
{
	(void)state;
	struct budget *b = budget_new(&policy, 64);
	assert_int_equal(fail_times(b, "u:m01", T0, 4), 0);
	assert_int_equal(budget_wait(b, "u:m01", T0), 0);
	assert_int_equal(fail_times(b, "u:m01", T0, 1), 30);
	assert_int_equal(budget_wait(b, "u:m01", T0), 30);
	assert_int_equal(budget_wait(b, "u:m01", T0 + 29), 1);
	assert_int_equal(budget_wait(b, "u:m01", T0 + 30), 0);
	assert_int_equal(budget_wait(b, "u:c01", T0), 0); /* other keys are not touched */
	budget_free(b);
}

/* A key longer than an entry keeps (a 64-character ref in UTF-8, a user at a long site id)
 * finds its entry again: it is locked like a short one, and a check under way ends. */
static void budget__long_key__locks_like_a_short_one(void **state)
{
	(void)state;
	struct budget *b = budget_new(&policy, 64);
	char key[300];
	memset(key, 'x', sizeof key - 1);
	key[sizeof key - 1] = '\0';
	memcpy(key, "r:", 2);
	assert_int_equal(fail_times(b, key, T0, 4), 0);
	assert_int_equal(fail_times(b, key, T0, 1), 30);
	assert_int_equal(budget_wait(b, key, T0), 30);
	budget_free(b);
}

/* Each next lock-out lasts twice as long, up to the cap. */
static void budget__repeated_lockouts__double_up_to_cap(void **state)
{
	(void)state;
	struct budget *b = budget_new(&policy, 64);
	time_t now = T0;
	long expected[] = {30, 60, 120, 240, 480, 900, 900};
	for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
		assert_int_equal(fail_times(b, "a:10.0.0.1", now, 5), expected[i]);
		now += expected[i];
	}
	budget_free(b);
}

/* Checks under way count: five parallel checks use the whole budget before any ends. */
static void budget__checks_in_flight__count_against_the_limit(void **state)
{
	(void)state;
	struct budget *b = budget_new(&policy, 64);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(budget_wait(b, "u:m01", T0), 0);
		budget_begin(b, "u:m01", T0);
	}
	assert_true(budget_wait(b, "u:m01", T0) > 0);
	assert_int_equal(budget_end(b, "u:m01", T0, 0), 0); /* one succeeded */
	assert_int_equal(budget_wait(b, "u:m01", T0), 0);
	assert_false(budget_locked(b, "u:m01", T0));
	budget_free(b);
}

/* Without count_in_flight (addresses), many checks at once pass; only failures count. */
static void budget__address_policy__checks_in_flight_not_counted(void **state)
{
	(void)state;
	struct budget_policy address = policy;
	address.count_in_flight = 0;
	struct budget *b = budget_new(&address, 64);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(budget_wait(b, "127.0.0.1", T0), 0);
		budget_begin(b, "127.0.0.1", T0);
	}
	for (int i = 0; i < 50; i++)
		budget_end(b, "127.0.0.1", T0, 0);
	assert_int_equal(budget_wait(b, "127.0.0.1", T0), 0);
	budget_free(b);
}

/* Failures charged while locked make the lock-out longer but report no new one (logged once). */
static void budget__charges_while_locked__same_lockout_longer(void **state)
{
	(void)state;
	struct budget *b = budget_new(&policy, 64);
	assert_int_equal(budget_charge(b, "a:10.0.0.1", T0, 5), 30);
	assert_int_equal(budget_charge(b, "a:10.0.0.1", T0 + 1, 5), 0);
	assert_int_equal(budget_wait(b, "a:10.0.0.1", T0 + 1), 60);
	budget_free(b);
}

/* A right password clears the key; quiet keys forget their failures. */
static void budget__clear_and_forget__start_again(void **state)
{
	(void)state;
	struct budget *b = budget_new(&policy, 64);
	fail_times(b, "u:m01", T0, 4);
	budget_clear(b, "u:m01", T0);
	assert_int_equal(fail_times(b, "u:m01", T0, 4), 0);
	assert_int_equal(fail_times(b, "u:m01", T0 + 3600, 4), 0); /* the first four were forgotten */
	assert_int_equal(budget_wait(b, "u:m01", T0 + 3600), 0);
	budget_free(b);
}

/* A flood of distinct keys stays in the fixed table; a pinned key is never evicted and keeps
 * its lock-out through the flood. */
static void budget__flood_of_keys__bounded_and_pinned_key_kept(void **state)
{
	(void)state;
	struct budget *b = budget_new(&policy, 64);
	assert_int_equal(budget_pin(b, "u:m01"), 0);
	fail_times(b, "u:m01", T0, 5);
	char key[32];
	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof key, "u:guess%d", i);
		fail_times(b, key, T0 + 1, 1);
	}
	assert_int_equal(budget_wait(b, "u:m01", T0 + 1), 29);
	budget_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(budget__fifth_failure__locks_for_base_time),
		cmocka_unit_test(budget__repeated_lockouts__double_up_to_cap),
		cmocka_unit_test(budget__checks_in_flight__count_against_the_limit),
		cmocka_unit_test(budget__charges_while_locked__same_lockout_longer),
		cmocka_unit_test(budget__address_policy__checks_in_flight_not_counted),
		cmocka_unit_test(budget__clear_and_forget__start_again),
		cmocka_unit_test(budget__flood_of_keys__bounded_and_pinned_key_kept),
		cmocka_unit_test(budget__long_key__locks_like_a_short_one),
	};
	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
