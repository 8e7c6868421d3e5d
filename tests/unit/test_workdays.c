/* Unit tests of the working-day count behind a bad rating's follow-up date: 15 working days,
 * Monday to Friday, counted from the day after the rating, skipping the hall's holidays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "config.h"
#include "workdays.h"

/* The 15th working day after day, with the given holidays (sorted, as config.c keeps them). */
static const char *due(const char *day, char (*holidays)[11], size_t nholidays)
{
	static char out[11];
	struct config_site site = {.holidays = holidays, .nholidays = nholidays};
	assert_int_equal(workdays_after(&site, day, 15, out), 0);
	return out;
}

static void workdays__three_weeks_from_any_weekday(void **state)
{
	(void)state;
	assert_string_equal(due("2026-11-27", NULL, 0), "2026-12-18"); /* Friday: Mon 11-30 is the 1st */
	assert_string_equal(due("2026-11-30", NULL, 0), "2026-12-21"); /* Monday: Tue 12-01 is the 1st */
	assert_string_equal(due("2026-12-02", NULL, 0), "2026-12-23"); /* Wednesday */
}

static void workdays__a_weekend_day_counts_from_monday(void **state)
{
	(void)state;
	assert_string_equal(due("2026-11-28", NULL, 0), "2026-12-18"); /* Saturday */
	assert_string_equal(due("2026-11-29", NULL, 0), "2026-12-18"); /* Sunday */
}

static void workdays__holidays_on_weekdays_push_it_later(void **state)
{
	(void)state;
	char one[][11] = {"2026-12-02"};
	assert_string_equal(due("2026-11-27", one, 1), "2026-12-21");
	/* a holiday on a Saturday changes nothing; one after the due date neither */
	char weekend[][11] = {"2026-12-05", "2026-12-25"};
	assert_string_equal(due("2026-11-27", weekend, 2), "2026-12-18");
	/* the rating's own day is not counted, holiday or not */
	char own[][11] = {"2026-11-27"};
	assert_string_equal(due("2026-11-27", own, 1), "2026-12-18");
}

static void workdays__across_the_new_year_and_a_long_holiday(void **state)
{
	(void)state;
	/* Spring Festival 2027 (Feb 6-14 off in the example): Mon 02-08 to Fri 02-12 are holidays */
	char festival[][11] = {"2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12"};
	assert_string_equal(due("2027-02-05", festival, 5), "2027-03-05");
	assert_string_equal(due("2026-12-24", NULL, 0), "2027-01-14");
	char new_year[][11] = {"2027-01-01"};
	assert_string_equal(due("2026-12-24", new_year, 1), "2027-01-15");
}

static void workdays__bad_input__refused(void **state)
{
	(void)state;
	struct config_site site = {0};
	char out[11];
	assert_int_equal(workdays_after(&site, "2026-11", 15, out), -1);
	assert_int_equal(workdays_after(&site, "27.11.2026", 15, out), -1);
	assert_int_equal(workdays_after(&site, "2026-11-27", 0, out), -1);
	assert_int_equal(workdays_after(&site, "2026-11-27", 1, out), 0);
	assert_string_equal(out, "2026-11-30");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(workdays__three_weeks_from_any_weekday),
		cmocka_unit_test(workdays__a_weekend_day_counts_from_monday),
		cmocka_unit_test(workdays__holidays_on_weekdays_push_it_later),
		cmocka_unit_test(workdays__across_the_new_year_and_a_long_holiday),
		cmocka_unit_test(workdays__bad_input__refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
