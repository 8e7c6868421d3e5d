/* The simulated days: a discrete-event simulation whose every event is also done to qserver.
 * Before each event qsim moves qserver's clock to the event's time, then performs the op (a
 * take for an arrival, finish or no_show and call_next for a clerk who comes free, resume and
 * close for staffing changes), so a day of hours takes seconds. */
#include "qsim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum ev_kind { EV_ARRIVAL, EV_WINDOW_FREE, EV_STAFF };

/* One pending event; ties are broken by the order they were scheduled. */
struct ev {
	double at;
	uint64_t seq;
	enum ev_kind kind;
	int arg;
};

/* One window as the simulator knows it. */
struct win {
	int open;	/* resumed, not closed */
	int closing;	/* closes when its ticket is done */
	int ticket;	/* index in the ticket list of the ticket it handles, or -1 when idle */
};

struct day {
	const struct sim_scenario *sc;
	struct sim_server *s;
	struct sim_tickets *t;
	struct win w[QSIM_MAX_WINDOWS];
	struct ev *heap;
	size_t nheap, capheap;
	uint64_t seq;
	double now;
	int day;
	double learned_sum[QSIM_MAX_SERVICES], learned_n[QSIM_MAX_SERVICES];
	int *waiting; /* indexes of the tickets taken and not yet called */
	size_t nwaiting, capwaiting;
	long calls, out_of_order;
	int failed;
};

/* ---- the event heap ---- */

/* Whether event a comes before event b. */
static int ev_before(const struct ev *a, const struct ev *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

/* Schedules an event. */
static void day_schedule(struct day *d, double at, enum ev_kind kind, int arg)
{
	if (d->nheap == d->capheap) {
		size_t cap = d->capheap ? d->capheap * 2 : 64;
		struct ev *h = realloc(d->heap, cap * sizeof *h);
		if (!h) {
			d->failed = 1;
			return;
		}
		d->heap = h;
		d->capheap = cap;
	}
	size_t i = d->nheap++;
	d->heap[i] = (struct ev){at, d->seq++, kind, arg};
	while (i > 0 && ev_before(&d->heap[i], &d->heap[(i - 1) / 2])) {
		struct ev tmp = d->heap[i];
		d->heap[i] = d->heap[(i - 1) / 2];
		d->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

/* Takes the earliest event off the heap; 0 when there is none. */
static int day_next_event(struct day *d, struct ev *out)
{
	if (!d->nheap)
		return 0;
	*out = d->heap[0];
	d->heap[0] = d->heap[--d->nheap];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < d->nheap && ev_before(&d->heap[l], &d->heap[m]))
			m = l;
		if (r < d->nheap && ev_before(&d->heap[r], &d->heap[m]))
			m = r;
		if (m == i)
			break;
		struct ev tmp = d->heap[i];
		d->heap[i] = d->heap[m];
		d->heap[m] = tmp;
		i = m;
	}
	return 1;
}

/* ---- the hall ---- */

/* Whether window w serves service i. */
static int day_serves(const struct sim_scenario *sc, int w, int i)
{
	return !sc->win_mask[w] || (sc->win_mask[w] & (1u << i));
}

/* Whether a ticket of service i competes with tickets of service j: as qserver counts ahead,
 * everything when the hall has a comprehensive window, otherwise the services of the windows
 * that serve i. */
static int day_competes(const struct sim_scenario *sc, int i, int j)
{
	for (int w = 0; w < sc->nwindows; w++)
		if (!sc->win_mask[w] || (day_serves(sc, w, i) && day_serves(sc, w, j)))
			return 1;
	return 0;
}

/* The epoch second of the current event. */
static long long day_second(const struct day *d)
{
	return (long long)floor(d->now);
}

/* A number field of a JSON object, or fallback. */
static double json_num(const cJSON *o, const char *name, double fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

/* Sends a window op and returns its "ticket" object detached (NULL for none); marks the day
 * failed when the answer is not ok. */
static cJSON *day_window_op(struct day *d, const char *op, int w)
{
	if (server_set_clock(d->s, day_second(d)) < 0) {
		d->failed = 1;
		return NULL;
	}
	cJSON *r = server_request(d->s, "{\"op\":\"%s\",\"window\":%d}", op, w + 1);
	if (!r || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"))) {
		char *text = r ? cJSON_PrintUnformatted(r) : NULL;
		fprintf(stderr, "qsim: %s at window %d failed: %s\n", op, w + 1, text ? text : "no answer");
		free(text);
		cJSON_Delete(r);
		d->failed = 1;
		return NULL;
	}
	cJSON *ticket = cJSON_DetachItemFromObjectCaseSensitive(r, "ticket");
	cJSON_Delete(r);
	if (ticket && !cJSON_IsObject(ticket)) {
		cJSON_Delete(ticket);
		ticket = NULL;
	}
	return ticket;
}

/* Whether waiting ticket j was due before ticket k at a window: a higher class (priority,
 * then normal), or the same class taken in an earlier second (tickets of one second may be
 * called in any order). */
static int day_due_before(const struct sim_ticket *j, const struct sim_ticket *k)
{
	if (j->priority != k->priority)
		return j->priority;
	return j->issued_at < k->issued_at;
}

/* Takes ticket k off the waiting list, counting the call as out of order when window w
 * serves a waiting ticket that was due before it (or k is not waiting at all). */
static void day_check_order(struct day *d, int w, const struct sim_ticket *k)
{
	size_t at = d->nwaiting;
	int passed_over = 0;
	for (size_t i = 0; i < d->nwaiting; i++) {
		const struct sim_ticket *j = &d->t->v[d->waiting[i]];
		if (j == k)
			at = i;
		else if (day_serves(d->sc, w, j->svc) && day_due_before(j, k))
			passed_over = 1;
	}
	d->calls++;
	if (at == d->nwaiting) {
		fprintf(stderr, "qsim: window %d was given %s, which is not waiting\n", w + 1, k->id);
		d->out_of_order++;
		return;
	}
	if (passed_over) {
		if (d->out_of_order++ < 5)
			fprintf(stderr, "qsim: window %d called %s before a ticket due earlier\n", w + 1, k->id);
	}
	d->waiting[at] = d->waiting[--d->nwaiting];
}

/* The clerk at window w calls the next ticket, or the window goes idle when none waits. */
static void day_call(struct day *d, int w)
{
	cJSON *ticket = day_window_op(d, "call_next", w);
	d->w[w].ticket = -1;
	if (!ticket) {
		/* nothing to call: then nothing this window serves may be waiting */
		for (size_t i = 0; i < d->nwaiting && !d->failed; i++)
			if (day_serves(d->sc, w, d->t->v[d->waiting[i]].svc)) {
				if (d->out_of_order++ < 5)
					fprintf(stderr, "qsim: window %d was given nothing while %s waited\n", w + 1,
						d->t->v[d->waiting[i]].id);
				break;
			}
		return;
	}
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(ticket, "id");
	struct sim_ticket *k = cJSON_IsString(id) ? tickets_find(d->t, id->valuestring) : NULL;
	if (!k) {
		fprintf(stderr, "qsim: window %d was given a ticket qsim never took\n", w + 1);
		d->failed = 1;
	} else {
		day_check_order(d, w, k);
		k->called_at = (long long)json_num(ticket, "called_at", 0);
		d->w[w].ticket = (int)(k - d->t->v);
		day_schedule(d, d->now + (k->no_show ? QSIM_NO_SHOW_S : k->service_s), EV_WINDOW_FREE, w);
	}
	cJSON_Delete(ticket);
}

/* Opens window w (resume) and lets its clerk call. */
static void day_open(struct day *d, int w)
{
	if (d->w[w].closing) {
		d->w[w].closing = 0;
		return;
	}
	if (d->w[w].open)
		return;
	cJSON_Delete(day_window_op(d, "resume", w));
	d->w[w].open = 1;
	day_call(d, w);
}

/* Closes window w now when idle, else once its ticket is done. */
static void day_close(struct day *d, int w)
{
	if (!d->w[w].open)
		return;
	if (d->w[w].ticket >= 0) {
		d->w[w].closing = 1;
		return;
	}
	cJSON_Delete(day_window_op(d, "close", w));
	d->w[w].open = 0;
}

/* Opens or closes windows so that `want` are open (staying open), idle ones closed first. */
static void day_staff(struct day *d, int want)
{
	int open = 0;
	for (int w = 0; w < d->sc->nwindows; w++)
		open += d->w[w].open && !d->w[w].closing;
	for (int w = 0; w < d->sc->nwindows && open < want; w++)
		if (!d->w[w].open || d->w[w].closing) {
			day_open(d, w);
			open++;
		}
	for (int pass = 0; pass < 2 && open > want; pass++)
		for (int w = d->sc->nwindows - 1; w >= 0 && open > want; w--)
			if (d->w[w].open && !d->w[w].closing && (pass || d->w[w].ticket < 0)) {
				day_close(d, w);
				open--;
			}
}

/* The clerk at window w is done with its ticket: finish (or no_show), then close or call. */
static void day_window_free(struct day *d, int w)
{
	struct sim_ticket *k = &d->t->v[d->w[w].ticket];
	cJSON *ticket = day_window_op(d, k->no_show ? "no_show" : "finish", w);
	if (ticket && !k->no_show) {
		k->finished_at = (long long)json_num(ticket, "finished_at", 0);
		d->learned_sum[k->svc] += (double)(k->finished_at - k->called_at);
		d->learned_n[k->svc] += 1;
	}
	cJSON_Delete(ticket);
	d->w[w].ticket = -1;
	if (d->w[w].closing) {
		d->w[w].closing = 0;
		cJSON_Delete(day_window_op(d, "close", w));
		d->w[w].open = 0;
	} else {
		day_call(d, w);
	}
}

/* The simulator's own estimates for a new ticket of service i with `ahead` before it: 0 when
 * a window that serves it is free, else (ahead + 1) x mean / open windows, with the true mean
 * (the oracle) and with the mean of the service times seen so far (learned). */
static void day_estimates(struct day *d, struct sim_ticket *k)
{
	const struct sim_scenario *sc = d->sc;
	double true_sum = 0, true_w = 0, seen_sum = 0, seen_n = 0;
	for (int j = 0; j < sc->nservices; j++) {
		if (!day_competes(sc, k->svc, j))
			continue;
		double arrivals = model_mean_arrivals(&sc->svc[j]);
		true_sum += arrivals * sc->svc[j].dist.mean;
		true_w += arrivals;
		seen_sum += d->learned_sum[j];
		seen_n += d->learned_n[j];
	}
	double true_mean = true_w > 0 ? true_sum / true_w : sc->svc[k->svc].dist.mean;
	double seen_mean = seen_n > 0 ? seen_sum / seen_n : sc->svc[k->svc].configured_s;
	int n = k->open_n > 0 ? k->open_n : 1;
	k->oracle = k->busy_all ? (k->ahead + 1) * true_mean / n : 0;
	k->learned = k->busy_all ? (k->ahead + 1) * seen_mean / n : 0;
}

/* A citizen arrives for service i: take a ticket, and a free clerk calls at once. */
static void day_arrival(struct day *d, int i)
{
	const struct sim_scenario *sc = d->sc;
	int priority = model_uniform() < sc->priority;
	int no_show = model_uniform() < sc->no_show;
	int service_s = model_service_time(&sc->svc[i].dist);
	int open_n = 0, idle = -1;
	for (int w = 0; w < sc->nwindows; w++) {
		if (!d->w[w].open || d->w[w].closing || !day_serves(sc, w, i))
			continue;
		open_n++;
		if (d->w[w].ticket < 0 && idle < 0)
			idle = w;
	}
	if (server_set_clock(d->s, day_second(d)) < 0) {
		d->failed = 1;
		return;
	}
	cJSON *r = server_request(d->s, "{\"op\":\"take\",\"service\":\"%s\",\"class\":\"%s\"}", sc->svc[i].id,
				  priority ? "priority" : "normal");
	cJSON *ticket = r ? cJSON_GetObjectItemCaseSensitive(r, "ticket") : NULL;
	const cJSON *id = ticket ? cJSON_GetObjectItemCaseSensitive(ticket, "id") : NULL;
	struct sim_ticket *k = cJSON_IsString(id) ? tickets_add(d->t, id->valuestring) : NULL;
	if (!k) {
		char *text = r ? cJSON_PrintUnformatted(r) : NULL;
		fprintf(stderr, "qsim: take failed: %s\n", text ? text : "no answer");
		free(text);
		cJSON_Delete(r);
		d->failed = 1;
		return;
	}
	k->svc = i;
	k->day = d->day;
	k->priority = priority;
	k->no_show = no_show;
	k->service_s = service_s;
	k->issued_at = (long long)json_num(ticket, "issued_at", 0);
	k->ahead = (int)json_num(ticket, "ahead", 0);
	k->ewt = json_num(ticket, "ewt", 0);
	k->has_range = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(ticket, "ewt_low")) &&
		       cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(ticket, "ewt_high"));
	k->ewt_low = json_num(ticket, "ewt_low", 0);
	k->ewt_high = json_num(ticket, "ewt_high", 0);
	k->open_n = open_n;
	k->busy_all = idle < 0;
	if (d->nwaiting == d->capwaiting) {
		size_t cap = d->capwaiting ? d->capwaiting * 2 : 256;
		int *grown = realloc(d->waiting, cap * sizeof *grown);
		if (!grown) {
			cJSON_Delete(r);
			d->failed = 1;
			return;
		}
		d->waiting = grown;
		d->capwaiting = cap;
	}
	d->waiting[d->nwaiting++] = (int)(k - d->t->v);
	day_estimates(d, k);
	cJSON_Delete(r);
	if (idle >= 0)
		day_call(d, idle);
}

/* When the next arrival of service i comes after `from` (piecewise Poisson: the rate of each
 * hour holds within it); INFINITY when none comes before the day's arrivals end. */
static double day_next_arrival(const struct day *d, int i, double from)
{
	const struct sim_scenario *sc = d->sc;
	double day0 = (double)sim_day_start(d->day), end = day0 + sc->close_h * 3600.0;
	while (from < end) {
		int h = (int)((from - day0) / 3600.0);
		double boundary = day0 + (h + 1) * 3600.0, rate = sc->svc[i].per_hour[h] / 3600.0;
		if (rate > 0) {
			double at = from + model_exponential(1.0 / rate);
			if (at < boundary)
				return at < end ? at : INFINITY;
		}
		from = boundary;
	}
	return INFINITY;
}

/* Starts an M/M/c day in steady state: as many people as the stationary distribution draws
 * take tickets at the opening (per service over its own windows when the windows are
 * dedicated, over the whole hall when they are comprehensive). Memoryless service times make
 * that state exactly the steady one; these tickets are left out of every measure. */
static void day_preload(struct day *d)
{
	const struct sim_scenario *sc = d->sc;
	int pooled = 0;
	for (int w = 0; w < sc->nwindows; w++)
		pooled |= !sc->win_mask[w];
	double rate[QSIM_MAX_SERVICES], total = 0;
	for (int i = 0; i < sc->nservices; i++)
		total += rate[i] = sc->svc[i].per_hour[sc->open_h] / 3600.0;
	for (int i = 0; i < sc->nservices && total > 0; i++) {
		int c = 0, n;
		for (int w = 0; w < sc->nwindows; w++)
			c += day_serves(sc, w, i);
		if (pooled) {
			if (i > 0)
				break;
			n = mmc_sample_in_system(sc->nwindows, total * sc->svc[0].dist.mean);
		} else {
			n = mmc_sample_in_system(c, rate[i] * sc->svc[i].dist.mean);
		}
		for (int k = 0; k < n && !d->failed; k++) {
			int svc = i;
			if (pooled) /* each person's service in proportion to the arrivals */
				for (double u = model_uniform() * total; svc < sc->nservices - 1 && u > rate[svc]; svc++)
					u -= rate[svc];
			size_t before = d->t->n;
			day_arrival(d, svc);
			if (d->t->n > before)
				d->t->v[before].preload = 1;
		}
	}
}

/* Windows open in hour h of the scenario. */
static int day_staff_at(const struct sim_scenario *sc, int h)
{
	for (int i = 0; i < QSIM_HOURS; i++)
		if (sc->staff[i])
			return sc->staff[h] > 0 ? sc->staff[h] : 1;
	return sc->nwindows;
}

/* Runs one simulated day: arrivals from open to close, clerks serve until nobody waits, then
 * every window closes. 0, or -1 when qserver answered something unexpected. */
static int day_run(struct day *d)
{
	const struct sim_scenario *sc = d->sc;
	double day0 = (double)sim_day_start(d->day);
	d->now = day0 + sc->open_h * 3600.0;
	day_staff(d, day_staff_at(sc, sc->open_h));
	if (sc->theory_c > 0)
		day_preload(d);
	for (int h = sc->open_h + 1; h < sc->close_h; h++)
		day_schedule(d, day0 + h * 3600.0, EV_STAFF, h);
	for (int i = 0; i < sc->nservices; i++) {
		double at = day_next_arrival(d, i, d->now);
		if (at < INFINITY)
			day_schedule(d, at, EV_ARRIVAL, i);
	}
	struct ev e;
	while (!d->failed && day_next_event(d, &e)) {
		d->now = e.at;
		switch (e.kind) {
		case EV_ARRIVAL: {
			day_arrival(d, e.arg);
			double at = day_next_arrival(d, e.arg, d->now);
			if (at < INFINITY)
				day_schedule(d, at, EV_ARRIVAL, e.arg);
			break;
		}
		case EV_WINDOW_FREE:
			day_window_free(d, e.arg);
			break;
		case EV_STAFF:
			day_staff(d, day_staff_at(sc, e.arg));
			break;
		}
	}
	for (int w = 0; w < sc->nwindows && !d->failed; w++)
		day_close(d, w);
	return d->failed ? -1 : 0;
}

/* The one-12-hour-service probe: window 2 serves tickets at the configured time while window 1
 * holds one ticket for 12 hours; with tickets waiting, the estimate a new ticket would get is
 * read just before and just after that ticket is finished. */
static int day_outlier(struct day *d, struct sim_result *res)
{
	const struct sim_scenario *sc = d->sc;
	const char *svc = sc->svc[0].id;
	double t0 = (double)sim_day_start(0) + 8 * 3600.0;
	d->now = t0;
	day_open(d, 0);
	day_open(d, 1);
	for (int i = 0; i < 30 && !d->failed; i++) {
		d->now = t0 + i * (double)sc->svc[0].configured_s;
		if (d->w[1].ticket >= 0)
			day_window_free(d, 1);
		day_arrival(d, 0);
	}
	d->now = t0 + 12 * 3600.0;
	for (int i = 0; i < 6 && !d->failed; i++)
		day_arrival(d, 0);
	double est[2] = {0, 0};
	for (int pass = 0; pass < 2 && !d->failed; pass++) {
		if (pass == 1)
			cJSON_Delete(day_window_op(d, "finish", 0));
		cJSON *r = server_request(d->s, "{\"op\":\"services\"}");
		const cJSON *list = r ? cJSON_GetObjectItemCaseSensitive(r, "services") : NULL, *s;
		cJSON_ArrayForEach(s, list)
		{
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(s, "id");
			if (cJSON_IsString(id) && strcmp(id->valuestring, svc) == 0)
				est[pass] = json_num(s, "ewt", 0);
		}
		cJSON_Delete(r);
	}
	res->outlier_before = est[0];
	res->outlier_after = est[1];
	return d->failed ? -1 : 0;
}

/* Monotonic seconds, for the run's duration. */
static double day_real_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs a scenario against a fresh qserver: its days (or the outlier probe), then the
 * statistics check and the wait summary. Returns 0, 1 when the statistics disagree, or -1
 * when the run could not be done. */
int sim_run(const struct sim_scenario *sc, const struct sim_target *target, struct sim_result *res)
{
	memset(res, 0, sizeof *res);
	res->sc = sc;
	double started = day_real_seconds();
	struct sim_server s;
	model_seed(sc->seed);
	if (server_start(&s, sc, target) < 0)
		return -1;
	struct day d = {.sc = sc, .s = &s, .t = &res->t};
	for (int w = 0; w < QSIM_MAX_WINDOWS; w++)
		d.w[w].ticket = -1;
	int rc = 0;
	if (sc->outlier) {
		rc = day_outlier(&d, res);
	} else {
		for (d.day = 0; d.day < sc->days && rc == 0; d.day++)
			rc = day_run(&d);
		if (rc == 0) {
			res->stats_mismatches = measure_check_stats(&s, sc, &res->t);
			if (res->stats_mismatches < 0)
				rc = -1;
			measure_waits(res);
		}
	}
	free(d.heap);
	free(d.waiting);
	res->calls = d.calls;
	res->out_of_order = d.out_of_order;
	res->requests = s.requests;
	server_stop(&s);
	res->seconds = day_real_seconds() - started;
	if (rc < 0)
		return -1;
	return res->stats_mismatches || res->out_of_order ? 1 : 0;
}
