/* The wait model worked out in C from a function's inputs (estimate.c; docs/estimated-wait.md):
 * the documented examples, the cases the model tells apart (an idle window, higher classes,
 * a hall's mix), and inputs that are not the model's. Events made from the inputs are in
 * test_eventbuild; the same figures through the real library in test_functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "qserver.h"

/* Fails unless an estimate is these four figures. */
static void assert_estimate(const struct estimate *e, long long ahead, long long ewt, long long low, long long high)
{
	assert_int_equal(e->ahead, ahead);
	assert_int_equal(e->ewt, ewt);
	assert_int_equal(e->ewt_low, low);
	assert_int_equal(e->ewt_high, high);
}

/* docs/estimated-wait.md's example: 4 normal tickets of A at one open, busy window serving A
 * only, T = 300 s, exponential times: 1397 s, range 714-2418 s, for the fifth ticket, a new
 * one and a ticket pinned to that window alike. */
static void model__documented_example__one_window(void **state)
{
	(void)state;
	struct estimate e;
	assert_int_equal(estimate_ticket("m0 0 1|||300 90000 40|5=300 90000 40", 4, "normal", &e), 0);
	assert_estimate(&e, 4, 1397, 714, 2418);
	assert_int_equal(estimate_new_ticket("m0 0 1|||300 90000 40|4=300 90000 40", 0, &e), 0);
	assert_estimate(&e, 4, 1397, 714, 2418);
	/* before anything is learnt: the configured time, with an exponential's variance */
	assert_int_equal(estimate_new_ticket("m0 0 1|||300|4=300", 0, &e), 0);
	assert_estimate(&e, 4, 1397, 714, 2418);
	/* a ticket pinned to the window: no competing services listed, the tickets ahead at its
	 * own time, and no class shares, so nothing jumps ahead of it */
	assert_int_equal(estimate_ticket("m0 0 1|||300 90000 40|", 4, "normal", &e), 0);
	assert_estimate(&e, 4, 1397, 714, 2418);
}

/* With a second window open the wait is about half. */
static void model__second_window__about_half(void **state)
{
	(void)state;
	struct estimate e;
	assert_int_equal(estimate_new_ticket("m0 0 2|||300 90000 40|4=300 90000 40", 0, &e), 0);
	assert_in_range(e.ewt, 1397 / 2 - 50, 1397 / 2 + 50);
	assert_true(e.ewt_low < e.ewt && e.ewt < e.ewt_high);
}

/* Fewer tickets ahead than idle windows: called at once. */
static void model__idle_window__told_zero(void **state)
{
	(void)state;
	struct estimate e;
	assert_int_equal(estimate_ticket("m0 2 3|||300|2=300", 1, "normal", &e), 0);
	assert_estimate(&e, 1, 0, 0, 0);
	assert_int_equal(estimate_new_ticket("m0 2 3|||300|1=300", 0, &e), 0);
	assert_estimate(&e, 1, 0, 0, 0);
}

/* Higher classes expected to arrive stretch a normal ticket's wait by 1 / (1 - share), an
 * appointment's by the priority share only, and never a priority ticket's. */
static void model__higher_classes__stretch_the_wait(void **state)
{
	(void)state;
	struct estimate none, normal, appointment, priority;
	const char *shares = "m0 0 1||0.1000 0.1500 40|300 90000 40|5=300 90000 40";
	assert_int_equal(estimate_ticket("m0 0 1|||300 90000 40|5=300 90000 40", 4, "normal", &none), 0);
	assert_int_equal(estimate_ticket(shares, 4, "normal", &normal), 0);
	assert_int_equal(estimate_ticket(shares, 4, "appointment", &appointment), 0);
	assert_int_equal(estimate_ticket(shares, 4, "priority", &priority), 0);
	assert_estimate(&priority, 4, none.ewt, none.ewt_low, none.ewt_high);
	assert_in_range(appointment.ewt, none.ewt / 0.9 - 2, none.ewt / 0.9 + 2);
	assert_in_range(normal.ewt, none.ewt / 0.75 - 2, none.ewt / 0.75 + 2);
	/* at most one half */
	assert_int_equal(estimate_ticket("m0 0 1||0.4000 0.4000 40|300 90000 40|5=300 90000 40", 4, "normal",
					 &normal), 0);
	assert_in_range(normal.ewt, none.ewt * 2 - 2, none.ewt * 2 + 2);
}

/* A comprehensive hall: the next window comes free after the hall's mix, and a new ticket
 * counts every waiting ticket of the hall, those of no listed service at the mix. */
static void model__comprehensive_hall__the_mix(void **state)
{
	(void)state;
	struct estimate listed, many;
	/* 3 tickets of a 480 s service and 2 of a 240 s one at 6 busy windows, mix 360 s:
	 * mean (3 x 480 + 2 x 240 + 360) / 6 = 380 s */
	assert_int_equal(estimate_new_ticket("m1 0 6|360 129600 50||480 230400 50|3=480 230400 50;2=240 57600 50",
					     5, &listed), 0);
	/* a hall of many services lists none: the 5 count at the mix, (5 x 360 + 360) / 6 = 360 s */
	assert_int_equal(estimate_new_ticket("m1 0 6|360 129600 50||480 230400 50|", 5, &many), 0);
	assert_int_equal(listed.ahead, 5);
	assert_int_equal(many.ahead, 5);
	assert_in_range(listed.ewt * 360, many.ewt * 380 - 400, many.ewt * 380 + 400);
	/* nothing learnt for the mix: the listed services' mean (360 s), so the same figures */
	struct estimate seeded;
	assert_int_equal(estimate_new_ticket("m1 0 6|||480 230400 50|3=480 230400 50;2=240 57600 50", 5, &seeded),
			 0);
	assert_estimate(&seeded, listed.ahead, listed.ewt, listed.ewt_low, listed.ewt_high);
}

/* Text that is not the model's inputs is refused, never guessed at. */
static void model__malformed_inputs__refused(void **state)
{
	(void)state;
	struct estimate e;
	const char *bad[] = {"", "m", "m2 0 1|||300|", "m0 x 1|||300|", "m0 0 1|||", "m0 0 1|||300",
			     "m0 0 1|||300|4", "m0 0 1|||300|4=abc", "m00 1|||300|"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(estimate_ticket(bad[i], 1, "normal", &e), -1);
		assert_int_equal(estimate_new_ticket(bad[i], 1, &e), -1);
	}
}

/* Inputs of a corrupt entry whose figures a long long does not hold (tickets ahead or waits
 * past 2^63) are refused, with no overflowing cast. */
static void model__figures_out_of_range__refused(void **state)
{
	(void)state;
	struct estimate e;
	assert_int_equal(estimate_new_ticket("m1 0 1|||300|4=300", 9223372036854775807LL, &e), -1);
	assert_int_equal(estimate_ticket("m0 0 1|||300 90000 40|5=300 90000 40", 9223372036854775807LL, "normal", &e), -1);
	assert_int_equal(estimate_ticket("m0 0 1|||300 90000 40|5=300 90000 40", 100000000000000000LL, "normal", &e), -1);
	/* the same inputs with a count that fits are read */
	assert_int_equal(estimate_new_ticket("m1 0 1|||300|4=300", 4, &e), 0);
	assert_estimate(&e, 4, 1397, 714, 2418);
}

/* The joined form the library writes ("n...": the waiting counts and the learnt times in two
 * lists, the own time by its place among them) tells exactly what the earlier form does. */
static void model__joined_inputs__same_figures_as_the_earlier_form(void **state)
{
	(void)state;
	static const char *const pairs[][2] = {
		{"n1 0 6||#1|3;2|360 129600 50|480 230400 50;240 57600 50",
		 "m1 0 6|360 129600 50||480 230400 50|3=480 230400 50;2=240 57600 50"},
		{"n1 0 6||#2|3;2||480 230400 50;240 57600 50", "m1 0 6|||240 57600 50|3=480 230400 50;2=240 57600 50"},
		{"n1 0 6||480 230400 50||360 129600 50|", "m1 0 6|360 129600 50||480 230400 50|"},
		{"n0 0 1|0.1000 0.1500 40|#1|5||300 90000 40", "m0 0 1||0.1000 0.1500 40|300 90000 40|5=300 90000 40"},
		{"n0 2 3||#2|;2||250;300", "m0 2 3|||300|=250;2=300"},
	};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		struct estimate joined, earlier;
		assert_int_equal(estimate_ticket(pairs[i][0], 4, "normal", &joined), 0);
		assert_int_equal(estimate_ticket(pairs[i][1], 4, "normal", &earlier), 0);
		assert_estimate(&joined, earlier.ahead, earlier.ewt, earlier.ewt_low, earlier.ewt_high);
		assert_int_equal(estimate_new_ticket(pairs[i][0], 7, &joined), 0);
		assert_int_equal(estimate_new_ticket(pairs[i][1], 7, &earlier), 0);
		assert_estimate(&joined, earlier.ahead, earlier.ewt, earlier.ewt_low, earlier.ewt_high);
	}
	/* the documented example: 1397 s, range 714-2418 s */
	struct estimate e;
	assert_int_equal(estimate_new_ticket("n0 0 1||#1|4||300 90000 40", 0, &e), 0);
	assert_estimate(&e, 4, 1397, 714, 2418);
	/* lists of different lengths, an own time past the list, parts missing: refused */
	const char *bad[] = {"n0 0 1||#1|4;1||300", "n0 0 1||#1|4|300|", "n0 0 1||#2|4||300", "n0 0 1||#0|4||300",
			     "n0 0 1||#1|4|300", "n0 0 1|#1|4||300", "n", "n0 0 1||300|4||"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(estimate_ticket(bad[i], 1, "normal", &e), -1);
		assert_int_equal(estimate_new_ticket(bad[i], 1, &e), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(model__documented_example__one_window),
		cmocka_unit_test(model__second_window__about_half),
		cmocka_unit_test(model__idle_window__told_zero),
		cmocka_unit_test(model__higher_classes__stretch_the_wait),
		cmocka_unit_test(model__comprehensive_hall__the_mix),
		cmocka_unit_test(model__malformed_inputs__refused),
		cmocka_unit_test(model__figures_out_of_range__refused),
		cmocka_unit_test(model__joined_inputs__same_figures_as_the_earlier_form),
	};
	return cmocka_run_group_tests_name("estimate_model", tests, NULL, NULL);
}
