/* The one clock every timestamp comes from (DESIGN decision 5). Tests move it with an offset
 * through the clock op, which exists only when qserver runs with --test-clock. */
#include "qserver.h"

#include <time.h>

static long long clock_offset_s;

/* Returns the site's notion of now in epoch seconds. */
time_t clock_now(void)
{
	return time(NULL) + (time_t)clock_offset_s;
}

/* Moves the clock by offset seconds from real time. */
void clock_set_offset(long long offset)
{
	clock_offset_s = offset;
}

/* Returns the current offset from real time in seconds. */
long long clock_offset(void)
{
	return clock_offset_s;
}

/* Returns real time in epoch milliseconds: deadlines are real, whatever the test clock says. */
long long clock_real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
