/* qbench results: latency histograms, error counts, qserver's RSS, and the report as text for
 * people or as one JSON object (--json) for bench/run.sh and the smoke test. */
#include "qbench.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bucket of a value: exact below 128, then 64 sub-buckets per power of two (HdrHistogram's
 * layout), so every percentile is within about 1.5% at any scale. */
static unsigned hist_index(uint64_t v)
{
	if (v < 128)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - QB_HIST_SUB_BITS;
	unsigned idx = 128u + (shift - 1u) * 64u + (unsigned)((v >> shift) - 64u);
	return idx < QB_HIST_BUCKETS ? idx : QB_HIST_BUCKETS - 1;
}

/* The largest value that falls in a bucket (percentiles err on the slow side). */
static uint64_t hist_bucket_top(unsigned idx)
{
	if (idx < 128)
		return idx;
	unsigned shift = (idx - 128u) / 64u + 1u;
	uint64_t sub = (idx - 128u) % 64u + 64u;
	return ((sub + 1u) << shift) - 1u;
}

/* Adds one latency in microseconds. */
void qb_hist_add(struct qb_hist *h, uint64_t us)
{
	h->counts[hist_index(us)]++;
	if (h->n == 0 || us < h->min_us)
		h->min_us = us;
	if (us > h->max_us)
		h->max_us = us;
	h->n++;
	h->sum_us += us;
}

/* The value at percentile pct (0..100), capped by the exact maximum. */
uint64_t qb_hist_percentile(const struct qb_hist *h, double pct)
{
	if (h->n == 0)
		return 0;
	uint64_t rank = (uint64_t)((pct / 100.0) * (double)h->n + 0.5);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < QB_HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t top = hist_bucket_top(i);
			return top < h->max_us ? top : h->max_us;
		}
	}
	return h->max_us;
}

/* Counts an ok:false answer under its error code (parsed: errors are rare). */
void qb_errors_count_code(struct qb_errors *e, const char *line, size_t len)
{
	const char *code = "unparsable";
	cJSON *resp = cJSON_ParseWithLength(line, len);
	cJSON *err = resp ? cJSON_GetObjectItemCaseSensitive(resp, "error") : NULL;
	cJSON *c = err ? cJSON_GetObjectItemCaseSensitive(err, "code") : NULL;
	if (cJSON_IsString(c))
		code = c->valuestring;
	unsigned i;
	for (i = 0; i < e->ncodes; i++)
		if (strcmp(e->code[i], code) == 0)
			break;
	if (i == e->ncodes) {
		if (e->ncodes == QB_MAX_CODES) {
			e->other_codes++;
			cJSON_Delete(resp);
			return;
		}
		snprintf(e->code[i], sizeof e->code[i], "%s", code);
		e->ncodes++;
	}
	e->code_n[i]++;
	cJSON_Delete(resp);
}

/* Every failure of the run, whatever its kind. */
uint64_t qb_errors_total(const struct qb_errors *e)
{
	uint64_t n = e->other_codes + e->timeouts + e->disconnects + e->lost + e->connect_failures + e->overflow + e->unexpected;
	for (unsigned i = 0; i < e->ncodes; i++)
		n += e->code_n[i];
	return n;
}

/* Reads a kB field ("VmRSS:") of /proc/<pid>/status; -1 when it cannot. */
long qb_read_rss_kb(long pid, const char *field)
{
	if (pid <= 0)
		return -1;
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long kb = -1;
	size_t flen = strlen(field);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, flen) == 0) {
			kb = strtol(line + flen, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* The protocol name of an op. */
const char *qb_op_name(enum qb_op op)
{
	static const char *const names[] = {"take", "call_next", "finish", "ticket", "snapshot", "services", "ping"};
	return op < OP_REPORTED ? names[op] : "other";
}

/* The command-line name of a scenario. */
const char *qb_scenario_name(enum qb_scenario s)
{
	static const char *const names[] = {"take", "clerk", "mixed", "fanout", "idle", "login"};
	return names[s];
}

/* Adds a latency object {n, p50, p90, p99, p999, max, mean} in milliseconds to obj. */
static void json_latency(cJSON *obj, const char *name, const struct qb_hist *h)
{
	cJSON *l = cJSON_AddObjectToObject(obj, name);
	cJSON_AddNumberToObject(l, "n", (double)h->n);
	cJSON_AddNumberToObject(l, "p50_ms", qb_hist_percentile(h, 50) / 1000.0);
	cJSON_AddNumberToObject(l, "p90_ms", qb_hist_percentile(h, 90) / 1000.0);
	cJSON_AddNumberToObject(l, "p99_ms", qb_hist_percentile(h, 99) / 1000.0);
	cJSON_AddNumberToObject(l, "p999_ms", qb_hist_percentile(h, 99.9) / 1000.0);
	cJSON_AddNumberToObject(l, "max_ms", h->max_us / 1000.0);
	cJSON_AddNumberToObject(l, "mean_ms", h->n ? (double)h->sum_us / (double)h->n / 1000.0 : 0.0);
}

/* Prints one latency row. */
static void text_latency(const char *name, const struct qb_hist *h)
{
	printf("  %-10s %9llu  p50 %8.3f  p90 %8.3f  p99 %8.3f  p99.9 %8.3f  max %8.3f ms\n", name,
	       (unsigned long long)h->n, qb_hist_percentile(h, 50) / 1000.0, qb_hist_percentile(h, 90) / 1000.0,
	       qb_hist_percentile(h, 99) / 1000.0, qb_hist_percentile(h, 99.9) / 1000.0, h->max_us / 1000.0);
}

/* Seconds the measurement covered: from its start to the last counted answer. */
static double measured_seconds(const struct qb_bench *b)
{
	if (!b->measure_start_ns || b->last_done_ns <= b->measure_start_ns)
		return 0.0;
	return (double)(b->last_done_ns - b->measure_start_ns) / 1e9;
}

/* Builds the JSON report. */
static cJSON *report_json(struct qb_bench *b, double secs, uint64_t events)
{
	const struct qb_options *o = &b->opt;
	cJSON *r = cJSON_CreateObject();
	if (o->label)
		cJSON_AddStringToObject(r, "label", o->label);
	cJSON_AddStringToObject(r, "scenario", qb_scenario_name(o->scenario));
	cJSON_AddStringToObject(r, "mode", o->mode == MODE_FIXED ? "fixed" : "closed");
	cJSON_AddNumberToObject(r, "conns", b->nconns);
	cJSON_AddNumberToObject(r, "conns_ready", b->ready);
	if (o->mode == MODE_FIXED)
		cJSON_AddNumberToObject(r, "rate", o->rate);
	else
		cJSON_AddNumberToObject(r, "depth", o->depth);
	cJSON_AddNumberToObject(r, "seconds", secs);
	cJSON_AddNumberToObject(r, "sent", (double)b->sent_measured);
	cJSON_AddNumberToObject(r, "ok", (double)b->ok);
	cJSON_AddNumberToObject(r, "ops_per_s", secs > 0 ? (double)b->ok / secs : 0.0);
	json_latency(r, "latency", &b->all);
	cJSON *per = cJSON_AddObjectToObject(r, "ops");
	for (int op = 0; op < OP_REPORTED; op++)
		if (b->per_op[op].n)
			json_latency(per, qb_op_name(op), &b->per_op[op]);
	cJSON *e = cJSON_AddObjectToObject(r, "errors");
	cJSON_AddNumberToObject(e, "total", (double)qb_errors_total(&b->err));
	cJSON *codes = cJSON_AddObjectToObject(e, "codes");
	for (unsigned i = 0; i < b->err.ncodes; i++)
		cJSON_AddNumberToObject(codes, b->err.code[i], (double)b->err.code_n[i]);
	cJSON_AddNumberToObject(e, "other_codes", (double)b->err.other_codes);
	cJSON_AddNumberToObject(e, "timeouts", (double)b->err.timeouts);
	cJSON_AddNumberToObject(e, "disconnects", (double)b->err.disconnects);
	cJSON_AddNumberToObject(e, "lost", (double)b->err.lost);
	cJSON_AddNumberToObject(e, "connect_failures", (double)b->err.connect_failures);
	cJSON_AddNumberToObject(e, "overflow", (double)b->err.overflow);
	cJSON_AddNumberToObject(e, "unexpected", (double)b->err.unexpected);
	cJSON_AddNumberToObject(r, "empty_calls", (double)b->empty_calls);
	cJSON_AddNumberToObject(r, "events", (double)events);
	if (o->scenario == SC_FANOUT) {
		cJSON *f = cJSON_AddObjectToObject(r, "fanout");
		cJSON_AddNumberToObject(f, "subscribers", b->class_n[CLS_DISPLAY]);
		cJSON_AddNumberToObject(f, "rounds", b->round);
		cJSON_AddNumberToObject(f, "deliveries", (double)b->deliveries);
		cJSON_AddNumberToObject(f, "missed", (double)b->deliveries_missed);
		json_latency(f, "latency", &b->delivery);
	}
	if (o->scenario == SC_LOGIN) {
		cJSON *l = cJSON_AddObjectToObject(r, "login");
		cJSON_AddNumberToObject(l, "at_once", b->class_n[CLS_DISPLAY]);
		cJSON_AddNumberToObject(l, "rounds", b->round);
		cJSON_AddNumberToObject(l, "answers", (double)b->login_answers);
		cJSON_AddNumberToObject(l, "unauthenticated", (double)b->login_unauthenticated);
		cJSON_AddNumberToObject(l, "rate_limited", (double)b->login_rate_limited);
		json_latency(l, "latency", &b->login_latency);
	}
	if (o->scenario == SC_IDLE) {
		cJSON *i = cJSON_AddObjectToObject(r, "idle");
		cJSON_AddNumberToObject(i, "connections", b->ready);
		cJSON_AddNumberToObject(i, "rss_before_kb", (double)b->rss_before_kb);
		cJSON_AddNumberToObject(i, "rss_kb", (double)b->rss_after_kb);
		cJSON_AddNumberToObject(i, "hwm_kb", (double)b->hwm_after_kb);
		double per_conn = b->ready && b->rss_after_kb > 0 && b->rss_before_kb > 0
				     ? (double)(b->rss_after_kb - b->rss_before_kb) * 1024.0 / b->ready
				     : 0.0;
		cJSON_AddNumberToObject(i, "bytes_per_conn", per_conn);
	}
	return r;
}

/* Prints the report for people. */
static void report_text(struct qb_bench *b, double secs, uint64_t events)
{
	const struct qb_options *o = &b->opt;
	printf("qbench %s%s%s: %d connections (%d ready)", qb_scenario_name(o->scenario), o->label ? " " : "",
	       o->label ? o->label : "", b->nconns, b->ready);
	if (o->scenario == SC_FANOUT || o->scenario == SC_IDLE)
		printf("\n");
	else if (o->mode == MODE_FIXED)
		printf(", fixed rate of %.0f requests/s\n", o->rate);
	else
		printf(", closed loop with %d in flight per connection\n", o->depth);
	if (o->scenario == SC_IDLE) {
		printf("  idle connections %d; qserver RSS %ld kB before, %ld kB after (peak %ld kB)\n", b->ready,
		       b->rss_before_kb, b->rss_after_kb, b->hwm_after_kb);
	} else {
		printf("  %llu ok of %llu sent in %.2f s: %.0f ops/s\n", (unsigned long long)b->ok,
		       (unsigned long long)b->sent_measured, secs, secs > 0 ? (double)b->ok / secs : 0.0);
		text_latency("all", &b->all);
		for (int op = 0; op < OP_REPORTED; op++)
			if (b->per_op[op].n && o->scenario != SC_TAKE)
				text_latency(qb_op_name(op), &b->per_op[op]);
	}
	if (o->scenario == SC_FANOUT) {
		printf("  fanout: %d subscribers, %d rounds, %llu deliveries, %llu missed\n", b->class_n[CLS_DISPLAY], b->round,
		       (unsigned long long)b->deliveries, (unsigned long long)b->deliveries_missed);
		text_latency("delivery", &b->delivery);
	}
	if (o->scenario == SC_LOGIN) {
		printf("  login: %d wrong hellos at once, %d rounds, %llu answered (%llu unauthenticated, %llu rate_limited)\n",
		       b->class_n[CLS_DISPLAY], b->round, (unsigned long long)b->login_answers,
		       (unsigned long long)b->login_unauthenticated, (unsigned long long)b->login_rate_limited);
		text_latency("hello", &b->login_latency);
	}
	if (b->empty_calls)
		printf("  call_next found nobody waiting %llu times\n", (unsigned long long)b->empty_calls);
	if (events)
		printf("  events received by displays: %llu\n", (unsigned long long)events);
	const struct qb_errors *e = &b->err;
	printf("  errors: %llu", (unsigned long long)qb_errors_total(e));
	for (unsigned i = 0; i < e->ncodes; i++)
		printf(", %s %llu", e->code[i], (unsigned long long)e->code_n[i]);
	if (e->other_codes)
		printf(", other codes %llu", (unsigned long long)e->other_codes);
	printf(" (timeouts %llu, disconnects %llu, lost %llu, connect failures %llu, overflow %llu, unexpected %llu)\n",
	       (unsigned long long)e->timeouts, (unsigned long long)e->disconnects, (unsigned long long)e->lost,
	       (unsigned long long)e->connect_failures, (unsigned long long)e->overflow, (unsigned long long)e->unexpected);
}

/* Prints the report, as text or as one JSON line. */
void qb_report(struct qb_bench *b)
{
	double secs = measured_seconds(b);
	uint64_t events = 0;
	for (int i = b->class_first[CLS_DISPLAY]; i < b->class_first[CLS_DISPLAY] + b->class_n[CLS_DISPLAY]; i++)
		events += b->conns[i].events;
	if (!b->opt.json) {
		report_text(b, secs, events);
		return;
	}
	cJSON *r = report_json(b, secs, events);
	char *text = r ? cJSON_PrintUnformatted(r) : NULL;
	if (text)
		printf("%s\n", text);
	free(text);
	cJSON_Delete(r);
}
