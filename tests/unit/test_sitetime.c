/* Unit tests of site time: two halls in different zones each get their own day, opening hours
 * and offsets, whatever order they are asked in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qserver.h"

/* A hall open 09:00-17:00 every day in zone tz. */
static struct config_site hall(const char *id, char *tz)
{
	struct config_site s;
	memset(&s, 0, sizeof s);
	snprintf(s.id, sizeof s.id, "%s", id);
	s.tz = tz;
	for (int d = 0; d < 7; d++) {
		s.hours[d].open = 9 * 60;
		s.hours[d].close = 17 * 60;
	}
	return s;
}

static char shanghai[] = "Asia/Shanghai", london[] = "Europe/London";

/* 2026-01-15 20:00 UTC: Friday 04:00 in Shanghai, Thursday 20:00 in London. */
static const time_t evening_utc = 1768507200;

/* The functions' day argument carries the zone's local hour, and only the date outside the
 * years whose offsets the library holds. */
static void sitetime__day_hour__local_hour_within_offsets(void **state)
{
	(void)state;
	struct config_site sh = hall("sh", shanghai), ld = hall("ld", london);
	char a[14], b[14], c[14];
	sitetime_day_hour(&sh, evening_utc, a);
	sitetime_day_hour(&ld, evening_utc, b);
	sitetime_day_hour(&sh, 4102444800 + 3600, c); /* 2100-01-01 01:00 UTC */
	assert_string_equal(a, "2026-01-16T04");
	assert_string_equal(b, "2026-01-15T20");
	assert_string_equal(c, "2100-01-01");
}

/* Each hall's date is its own zone's, asked in turns. */
static void sitetime__two_zones__each_its_own_day(void **state)
{
	(void)state;
	struct config_site sh = hall("sh", shanghai), ld = hall("ld", london);
	char a[11], b[11], c[11];
	sitetime_day(&sh, evening_utc, a);
	sitetime_day(&ld, evening_utc, b);
	sitetime_day(&sh, evening_utc, c);
	assert_string_equal(a, "2026-01-16");
	assert_string_equal(b, "2026-01-15");
	assert_string_equal(c, "2026-01-16");
}

/* 09:30 UTC is 17:30 in Shanghai (closed) and 09:30 in London (open). */
static void sitetime__two_zones__each_its_own_hours(void **state)
{
	(void)state;
	struct config_site sh = hall("sh", shanghai), ld = hall("ld", london);
	time_t t = 1768469400; /* 2026-01-15 09:30 UTC */
	assert_false(sitetime_is_open(&sh, t));
	assert_true(sitetime_is_open(&ld, t));
	assert_false(sitetime_is_open(&sh, t));
	/* Shanghai opens next at 09:00 local, 01:00 UTC the next day; London is open now. */
	assert_int_equal(sitetime_next_open(&sh, t), 1768525200);
	assert_int_equal(sitetime_next_open(&ld, t), t);
}

/* The next midnight is the zone's: 16:00 UTC for Shanghai, 00:00 UTC for London in winter. */
static void sitetime__two_zones__each_its_own_midnight(void **state)
{
	(void)state;
	struct config_site sh = hall("sh", shanghai), ld = hall("ld", london);
	assert_int_equal(sitetime_next_midnight(&sh, evening_utc), 1768579200);
	assert_int_equal(sitetime_next_midnight(&ld, evening_utc), 1768521600);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sitetime__day_hour__local_hour_within_offsets),
		cmocka_unit_test(sitetime__two_zones__each_its_own_day),
		cmocka_unit_test(sitetime__two_zones__each_its_own_hours),
		cmocka_unit_test(sitetime__two_zones__each_its_own_midnight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
