/* Unit tests of the manager view's pure parts (counter-client/manager_stats.c): the columns of
 * a stats table chosen by width, and a window's time in its state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../counter-client/manager_int.h"

/* The headings of the picked columns, space separated. */
static void picked_heads(bool per_service, int width, char *out, size_t len)
{
	int n, picked[MANAGER_COLUMNS_MAX];
	const struct manager_column *cols = manager_column_table(&n);
	int count = manager_pick_columns(per_service, width, picked);
	out[0] = '\0';
	for (int i = 0; i < count; i++) {
		size_t at = strlen(out);
		snprintf(out + at, len - at, "%s%s", i ? " " : "", cols[picked[i]].head);
	}
}

/* At 80 columns the telling figures stay (served, waits, SLA%, service time, rating); wide, all
 * of them; windows and clerks never get the service-only counts. */
static void pick_columns__by_width_and_table(void **state)
{
	(void)state;
	char heads[256];
	picked_heads(true, 80 - 14 - 1, heads, sizeof heads);
	assert_string_equal(heads, "Issued Served NoShow Mean P90 Service SLA% Rating");
	picked_heads(false, 80 - 8 - 1, heads, sizeof heads);
	assert_string_equal(heads, "Served NoShow Mean P50 P90 Service SLA% Rating");
	picked_heads(true, 200, heads, sizeof heads);
	assert_string_equal(heads, "Issued Served NoShow Cancel Expire Mean P50 P90 Max Service SLA% Rating");
	picked_heads(false, 200, heads, sizeof heads);
	assert_null(strstr(heads, "Issued"));
	assert_null(strstr(heads, "Cancel"));
	assert_null(strstr(heads, "Expire"));
	picked_heads(true, 20, heads, sizeof heads);
	assert_string_equal(heads, "Served Mean");
	picked_heads(true, 3, heads, sizeof heads);
	assert_string_equal(heads, "");
}

/* A window object's since gives "calling 3m"; without it, the state alone. */
static void state_since__minutes_and_hours(void **state)
{
	(void)state;
	char out[48];
	manager_state_since("calling", 1795744800, 1795744800 + 200, out, sizeof out);
	assert_string_equal(out, "calling 3m");
	manager_state_since("paused", 1795744800, 1795744800 + 3900, out, sizeof out);
	assert_string_equal(out, "paused 1h05m");
	manager_state_since("idle", 1795744800, 1795744800 + 10, out, sizeof out);
	assert_string_equal(out, "idle <1m");
	manager_state_since("idle", 0, 1795744800, out, sizeof out);
	assert_string_equal(out, "idle");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pick_columns__by_width_and_table),
		cmocka_unit_test(state_since__minutes_and_hours),
	};
	return cmocka_run_group_tests_name("counter_manager", tests, NULL, NULL);
}
