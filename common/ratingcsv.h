/* The 好差评 levels and the CSV layout of rating exports (docs/ratings.md), shared by qserver's
 * HTTP export and counter-client --manager --export. */
#ifndef QHALL_RATINGCSV_H
#define QHALL_RATINGCSV_H

#include <stdio.h>

#include <cjson/cJSON.h>

/* The level of a score 1..5 in Chinese (非常满意 ...) and English; "" for another number. */
const char *rating_label(int score);
const char *rating_label_en(int score);

/* Writes the header row (CRLF ended, RFC 4180). */
void ratingcsv_header(FILE *out);
/* Writes one row per entry of `ratings` (the `ratings` op's entries, each optionally with
 * "service_name" added), for site. Times are written in the process's time zone: the caller
 * makes it the site's first. */
void ratingcsv_rows(FILE *out, const cJSON *ratings, const char *site);

#endif
