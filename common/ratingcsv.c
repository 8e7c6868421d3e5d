/* The 好差评 levels and the CSV layout of rating exports: one row per rating, with the columns a
 * provincial 好差评 upload maps from (docs/ratings.md lists them). */
#include "ratingcsv.h"

#include <string.h>
#include <time.h>

static const char *const labels[] = {"非常不满意", "不满意", "基本满意", "满意", "非常满意"};
static const char *const labels_en[] = {"very dissatisfied", "dissatisfied", "fair", "satisfied", "very satisfied"};

/* The Chinese level of a score (PROTOCOL.md v2 "Ratings"). */
const char *rating_label(int score)
{
	return score >= 1 && score <= 5 ? labels[score - 1] : "";
}

/* The English level of a score. */
const char *rating_label_en(int score)
{
	return score >= 1 && score <= 5 ? labels_en[score - 1] : "";
}

/* The columns, in order. */
static const char *const columns[] = {
	"site", "ticket", "number", "service", "service_name", "window", "clerk", "score", "level", "level_en",
	"comment", "source", "rated_at", "followup_state", "followup_due", "followup_note", "followup_by",
	"followup_at",
};

/* Writes a text field, quoted when it must be (RFC 4180). Free text that a spreadsheet would
 * run as a formula (= + - @ first) gets a leading apostrophe. */
static void csv_text(FILE *out, const char *text, int free_text)
{
	if (!text)
		return;
	int formula = free_text && strchr("=+-@\t\r", text[0]) && text[0];
	if (!formula && strpbrk(text, ",\"\r\n") == NULL) {
		fputs(text, out);
		return;
	}
	fputc('"', out);
	if (formula)
		fputc('\'', out);
	for (const char *p = text; *p; p++) {
		if (*p == '"')
			fputc('"', out);
		fputc(*p, out);
	}
	fputc('"', out);
}

/* A string member of o, or NULL. */
static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Writes an integer member (nothing for null). */
static void csv_int(FILE *out, const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (cJSON_IsNumber(v))
		fprintf(out, "%.0f", v->valuedouble);
}

/* Writes an epoch-seconds member as ISO 8601 local time with its offset, 2026-11-27T10:00:00+08:00. */
static void csv_time(FILE *out, const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v))
		return;
	time_t t = (time_t)v->valuedouble;
	struct tm tm;
	char text[40], zone[8];
	if (!localtime_r(&t, &tm) || !strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm) ||
	    strftime(zone, sizeof zone, "%z", &tm) != 5)
		return;
	fprintf(out, "%s%.3s:%s", text, zone, zone + 3);
}

/* Writes the header row. */
void ratingcsv_header(FILE *out)
{
	for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++)
		fprintf(out, "%s%s", i ? "," : "", columns[i]);
	fputs("\r\n", out);
}

/* Writes one row per rating. */
void ratingcsv_rows(FILE *out, const cJSON *ratings, const char *site)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, ratings) {
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "followup");
		const cJSON *score = cJSON_GetObjectItemCaseSensitive(e, "score");
		int s = cJSON_IsNumber(score) ? score->valueint : 0;
		csv_text(out, site, 0);
		const char *texts[] = {"ticket", "number", "service", "service_name"};
		for (size_t i = 0; i < 4; i++) {
			fputc(',', out);
			csv_text(out, str(e, texts[i]), 0);
		}
		fputc(',', out);
		csv_int(out, e, "window");
		fputc(',', out);
		csv_text(out, str(e, "clerk"), 0);
		fputc(',', out);
		csv_int(out, e, "score");
		fprintf(out, ",%s,", rating_label(s));
		csv_text(out, rating_label_en(s), 0);
		fputc(',', out);
		csv_text(out, str(e, "comment"), 1);
		fputc(',', out);
		csv_text(out, str(e, "source"), 0);
		fputc(',', out);
		csv_time(out, e, "at");
		fputc(',', out);
		csv_text(out, str(f, "state"), 0);
		fputc(',', out);
		csv_text(out, str(f, "due"), 0);
		fputc(',', out);
		csv_text(out, str(f, "note"), 1);
		fputc(',', out);
		csv_text(out, str(f, "by"), 0);
		fputc(',', out);
		csv_time(out, f, "at");
		fputs("\r\n", out);
	}
}
