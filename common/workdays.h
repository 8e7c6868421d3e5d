/* Working days of a hall: Monday to Friday, less the hall config's holidays. */
#ifndef QHALL_WORKDAYS_H
#define QHALL_WORKDAYS_H

#include "config.h"

/* Writes into out the date (YYYY-MM-DD) that is the n-th working day after day (YYYY-MM-DD),
 * counting from the day after it; returns 0, or -1 when day is not a date or n < 1. */
int workdays_after(const struct config_site *site, const char *day, int n, char out[11]);

#endif
