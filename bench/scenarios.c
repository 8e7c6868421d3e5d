/* qbench scenarios: which requests a run makes, on which connections, and what their answers
 * mean. take, clerk and mixed share one engine: jobs are made (closed loop: whenever fewer than
 * the connections' depth are outstanding; fixed rate: one per 1/R seconds, on schedule,
 * whatever the server does) and wait in their class's backlog for a connection with room.
 * A job's latency runs from when it was due, so a slow server cannot hide its slowness by
 * slowing the generator down (coordinated omission). fanout and idle have their own steps. */
#include "qbench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The mixed hall day, per 12 requests: 2 takes (kiosks), 4 clerk steps (call_next and finish
 * alternate: 2 cycles, so tickets are served as fast as they are issued), 4 ticket lookups
 * (citizens checking their place from the phone or QR page), 1 snapshot (a display or
 * dashboard (re)connecting) and 1 services (a kiosk screen refreshing waiting counts). */
static const enum qb_op mixed_pattern[] = {
	OP_TAKE, OP_TICKET, OP_CLERK_STEP, OP_TICKET, OP_SERVICES, OP_CLERK_STEP,
	OP_TAKE, OP_TICKET, OP_CLERK_STEP, OP_SNAPSHOT, OP_TICKET, OP_CLERK_STEP,
};
#define MIXED_PATTERN_LEN (sizeof mixed_pattern / sizeof mixed_pattern[0])

/* Allocates an empty job FIFO of cap entries. */
int qb_backlog_init(struct qb_backlog *q, unsigned cap)
{
	q->jobs = calloc(cap, sizeof *q->jobs);
	q->cap = cap;
	q->head = q->count = 0;
	return q->jobs ? 0 : -1;
}

/* Frees a job FIFO. */
void qb_backlog_free(struct qb_backlog *q)
{
	free(q->jobs);
	q->jobs = NULL;
}

/* Which class of connection does a job's op. */
static enum qb_class op_class(enum qb_op op)
{
	switch (op) {
	case OP_TAKE:
	case OP_SERVICES:
	case OP_PREFILL_TAKE: return CLS_KIOSK;
	case OP_TICKET:
	case OP_SNAPSHOT:
	case OP_PING: return CLS_PUBLIC;
	default: return CLS_CLERK;
	}
}

/* Copies the string value that follows key (e.g. "\"number\":\"") in line into out; -1 if absent. */
static int extract_string(const char *line, size_t len, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);
	const char *p = memmem(line, len, key, klen);
	if (!p)
		return -1;
	p += klen;
	const char *end = memchr(p, '"', len - (size_t)(p - line));
	if (!end || (size_t)(end - p) >= cap)
		return -1;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return 0;
}

/* Keeps the id of a ticket just taken, for later lookups. */
static void remember_ticket(struct qb_bench *b, const char *line, size_t len)
{
	char id[QB_ID_MAX];
	if (extract_string(line, len, "\"ticket\":{\"id\":\"", id, sizeof id) == 0)
		memcpy(b->recent[b->nrecent++ % QB_RECENT_IDS], id, sizeof id);
}

/* True once no job is in flight or waiting. */
static int all_answered(const struct qb_bench *b)
{
	for (int cls = 0; cls < CLS_COUNT; cls++)
		if (b->backlog[cls].count)
			return 0;
	return b->inflight == 0;
}

/* Sends one job on a connection of its class; -1 if it could not be written. */
static int send_job(struct qb_conn *c, struct qb_job job)
{
	struct qb_bench *b = c->b;
	unsigned long long id = (unsigned long long)c->next_id;
	switch (job.op) {
	case OP_TAKE:
	case OP_PREFILL_TAKE: {
		/* Spread takes over the services; the counter is per run, so no two runs differ. */
		const char *svc = b->opt.services[(b->generated + (uint64_t)b->prefill_sent) % (uint64_t)b->opt.nservices];
		return qb_conn_send(c, job.op, job.due_ns, job.counted, "{\"id\":%llu,\"op\":\"take\",\"service\":\"%s\"}", id, svc);
	}
	case OP_CLERK_STEP:
		if (c->has_ticket)
			return qb_conn_send(c, OP_FINISH, job.due_ns, job.counted, "{\"id\":%llu,\"op\":\"finish\"}", id);
		return qb_conn_send(c, OP_CALL_NEXT, job.due_ns, job.counted, "{\"id\":%llu,\"op\":\"call_next\"}", id);
	case OP_TICKET:
		if (b->nrecent == 0)
			return qb_conn_send(c, OP_TICKET, job.due_ns, job.counted, "{\"id\":%llu,\"op\":\"ticket\",\"number\":\"%s001\"}", id, b->opt.services[0]);
		/* A stride that is prime to the ring size visits old and new tickets alike. */
		return qb_conn_send(c, OP_TICKET, job.due_ns, job.counted, "{\"id\":%llu,\"op\":\"ticket\",\"ticket\":\"%s\"}", id,
				    b->recent[(b->generated * 7) % (b->nrecent < QB_RECENT_IDS ? b->nrecent : QB_RECENT_IDS)]);
	case OP_SNAPSHOT: return qb_conn_send(c, OP_SNAPSHOT, job.due_ns, job.counted, "{\"id\":%llu,\"op\":\"snapshot\"}", id);
	case OP_SERVICES: return qb_conn_send(c, OP_SERVICES, job.due_ns, job.counted, "{\"id\":%llu,\"op\":\"services\"}", id);
	case OP_PING: return qb_conn_send(c, OP_PING, job.due_ns, job.counted, "{\"id\":%llu,\"op\":\"ping\"}", id);
	default: return -1;
	}
}

/* Finds a ready connection of the class with room for one more request, round robin. */
static struct qb_conn *free_conn(struct qb_bench *b, enum qb_class cls)
{
	int n = b->class_n[cls];
	for (int k = 0; k < n; k++) {
		int i = b->class_first[cls] + (b->rr[cls] + k) % n;
		struct qb_conn *c = &b->conns[i];
		if (c->state == CS_READY && c->ring_count < c->depth) {
			b->rr[cls] = (b->rr[cls] + k + 1) % n;
			return c;
		}
	}
	return NULL;
}

/* Sends waiting jobs of a class while its connections have room. */
static void dispatch(struct qb_bench *b, enum qb_class cls)
{
	struct qb_backlog *q = &b->backlog[cls];
	while (q->count) {
		struct qb_conn *c = free_conn(b, cls);
		if (!c)
			return;
		struct qb_job job = q->jobs[q->head];
		q->head = (q->head + 1) % q->cap;
		q->count--;
		if (send_job(c, job) < 0 && job.counted)
			b->err.overflow++;
	}
}

/* Makes one job due at due_ns and queues it for its class. */
static void make_job(struct qb_bench *b, uint64_t due_ns)
{
	enum qb_op op = b->opt.scenario == SC_TAKE	? OP_TAKE
			: b->opt.scenario == SC_CLERK ? OP_CLERK_STEP
			: b->opt.scenario == SC_LOGIN ? OP_PING
						      : mixed_pattern[b->pattern_pos++ % MIXED_PATTERN_LEN];
	int counted = b->phase == PH_MEASURE && due_ns >= b->measure_start_ns;
	b->generated++;
	if (counted) {
		b->measured_jobs++;
		b->sent_measured++;
	}
	enum qb_class cls = op_class(op);
	struct qb_backlog *q = &b->backlog[cls];
	if (q->count >= q->cap) {
		if (counted)
			b->err.overflow++;
		return;
	}
	q->jobs[(q->head + q->count) % q->cap] = (struct qb_job){.due_ns = due_ns, .op = (uint8_t)op, .counted = (uint8_t)counted};
	q->count++;
	dispatch(b, cls);
}

/* Jobs waiting in every backlog. */
static uint64_t backlog_total(const struct qb_bench *b)
{
	uint64_t n = 0;
	for (int cls = 0; cls < CLS_COUNT; cls++)
		n += b->backlog[cls].count;
	return n;
}

/* True while the measured window still wants jobs (the --requests bound). */
static int wants_more(const struct qb_bench *b)
{
	return b->generating && !(b->phase == PH_MEASURE && b->opt.requests > 0 && b->measured_jobs >= b->opt.requests);
}

/* Starts the measured window. */
static void start_measure(struct qb_bench *b, uint64_t now)
{
	b->phase = PH_MEASURE;
	b->measure_start_ns = now;
	b->measure_end_ns = now + (uint64_t)(b->opt.duration_s * 1e9);
	b->last_done_ns = now;
}

/* Ends the run: what is still unanswered counts as timed out, then the report. */
static void end_run(struct qb_bench *b)
{
	for (int i = 0; i < b->nconns; i++) {
		struct qb_conn *c = &b->conns[i];
		for (unsigned k = 0; k < c->ring_count; k++) {
			struct qb_inflight *f = &c->ring[(c->ring_head + k) % c->ring_cap];
			if (f->counted && !f->expired) {
				f->expired = 1;
				b->err.timeouts++;
			}
		}
	}
	for (int cls = 0; cls < CLS_COUNT; cls++) {
		struct qb_backlog *q = &b->backlog[cls];
		for (unsigned k = 0; k < q->count; k++)
			b->err.timeouts += q->jobs[(q->head + k) % q->cap].counted;
		q->count = 0;
	}
	qb_finish(b, 0);
}

/* Stops making jobs and waits for the answers still due. */
static void start_drain(struct qb_bench *b, uint64_t now)
{
	b->generating = 0;
	b->phase = PH_DRAIN;
	b->drain_start_ns = now;
	if (all_answered(b))
		end_run(b);
}

/* Makes closed-loop jobs up to the connections' depth and sends what can be sent. */
void qb_scenario_pump(struct qb_bench *b)
{
	if (b->phase == PH_DONE)
		return;
	if (b->phase == PH_PREFILL) {
		struct qb_conn *c;
		while (b->prefill_sent < b->opt.prefill && (c = free_conn(b, CLS_KIOSK)) != NULL) {
			if (send_job(c, (struct qb_job){.due_ns = qb_now_ns(), .op = OP_PREFILL_TAKE}) < 0)
				break;
			b->prefill_sent++;
		}
		return;
	}
	if (b->opt.scenario == SC_FANOUT || b->opt.scenario == SC_IDLE)
		return; /* they send on their own clock, not from a backlog */
	for (int cls = 0; cls < CLS_COUNT; cls++)
		dispatch(b, cls);
	if (b->opt.mode == MODE_CLOSED && (b->phase == PH_WARMUP || b->phase == PH_MEASURE)) {
		uint64_t now = qb_now_ns();
		while (wants_more(b) && b->inflight + backlog_total(b) < b->capacity) {
			uint64_t before = b->inflight + backlog_total(b);
			make_job(b, now);
			if (b->inflight + backlog_total(b) <= before)
				break; /* dropped: do not spin */
		}
	}
	if (b->phase == PH_DRAIN && all_answered(b))
		end_run(b);
}

/* Begins making jobs: warm-up first when asked for. */
static void begin_rate(struct qb_bench *b, uint64_t now)
{
	b->rate_start_ns = now;
	b->generated = 0;
	b->generating = 1;
	if (b->opt.warmup_s > 0) {
		b->phase = PH_WARMUP;
		b->warmup_end_ns = now + (uint64_t)(b->opt.warmup_s * 1e9);
	} else {
		start_measure(b, now);
	}
	qb_scenario_pump(b);
}

/* Every connection is set up (or failed): take the tickets the run needs, then start. */
void qb_scenario_start(struct qb_bench *b)
{
	uint64_t now = qb_now_ns();
	b->setup_done_ns = now;
	if (b->ready == 0) {
		fprintf(stderr, "qbench: no connection could be set up\n");
		qb_finish(b, 2);
		return;
	}
	int ready_in[CLS_COUNT] = {0};
	for (int i = 0; i < b->nconns; i++)
		if (b->conns[i].state == CS_READY) {
			b->capacity += b->conns[i].depth;
			ready_in[b->conns[i].cls]++;
		}
	/* Without one class the run would measure something else than it says: stop. */
	for (int cls = 0; cls < CLS_COUNT; cls++)
		if (b->class_n[cls] > 0 && ready_in[cls] == 0 && cls != CLS_DISPLAY) {
			fprintf(stderr, "qbench: none of the %s connections could be set up\n",
				cls == CLS_KIOSK ? "kiosk" : cls == CLS_CLERK ? "clerk" : "public");
			qb_finish(b, 2);
			return;
		}
	if (b->opt.scenario == SC_IDLE) {
		start_measure(b, now);
		return;
	}
	if (b->opt.prefill > 0 && b->class_n[CLS_KIOSK] > 0) {
		b->phase = PH_PREFILL;
		qb_scenario_pump(b);
		return;
	}
	if (b->opt.scenario == SC_FANOUT) {
		start_measure(b, now);
		b->next_round_ns = now;
		return;
	}
	begin_rate(b, now);
	b->next_round_ns = b->measure_start_ns ? b->measure_start_ns : b->warmup_end_ns;
}

/* The prefill is over: go on to the measurement. */
static void prefill_done(struct qb_bench *b, uint64_t now)
{
	if (b->opt.scenario == SC_FANOUT) {
		start_measure(b, now);
		b->next_round_ns = now;
	} else {
		begin_rate(b, now);
	}
}

/* Records one delivery of the round's `called` event. */
static void fanout_deliver(struct qb_bench *b, struct qb_conn *c, uint64_t at_ns)
{
	c->delivered = 1;
	b->round_delivered++;
	b->deliveries++;
	qb_hist_add(&b->delivery, (at_ns - b->round_sent_ns) / 1000);
}

/* Ends the current fanout round, counting displays that never got the event. */
static void fanout_end_round(struct qb_bench *b, uint64_t now)
{
	int n = b->class_n[CLS_DISPLAY];
	if (b->round_number[0] && b->round_delivered < n)
		b->deliveries_missed += (uint64_t)(n - b->round_delivered);
	b->round_active = 0;
	b->round++;
	b->last_done_ns = now;
	b->next_round_ns = now + (uint64_t)b->opt.interval_ms * 1000000ull;
}

/* Learns which ticket the round called and counts the events that beat the answer; a round
 * that called nobody (or failed) expects no event. */
static void fanout_on_called(struct qb_bench *b, int called, const char *line, size_t len, uint64_t now)
{
	if (!called || extract_string(line, len, "\"number\":\"", b->round_number, sizeof b->round_number) < 0) {
		b->round_number[0] = '\0';
		fanout_end_round(b, now);
		return;
	}
	int first = b->class_first[CLS_DISPLAY];
	for (int i = first; i < first + b->class_n[CLS_DISPLAY]; i++) {
		struct qb_conn *d = &b->conns[i];
		if (!d->delivered && d->called_at_ns >= b->round_sent_ns && strcmp(d->called_number, b->round_number) == 0)
			fanout_deliver(b, d, d->called_at_ns);
	}
	if (b->round_delivered >= b->class_n[CLS_DISPLAY])
		fanout_end_round(b, now);
}

/* Takes an event line: fanout times `called` events; other scenarios only count them. */
void qb_scenario_event(struct qb_conn *c, const char *line, size_t len, uint64_t now)
{
	struct qb_bench *b = c->b;
	if (b->opt.scenario != SC_FANOUT || c->cls != CLS_DISPLAY || len < 18 || memcmp(line, "{\"event\":\"called\"", 17) != 0)
		return;
	if (extract_string(line, len, "\"number\":\"", c->called_number, sizeof c->called_number) < 0)
		return;
	c->called_at_ns = now;
	if (b->round_active && b->round_number[0] && !c->delivered && strcmp(c->called_number, b->round_number) == 0) {
		fanout_deliver(b, c, now);
		if (b->round_delivered >= b->class_n[CLS_DISPLAY])
			fanout_end_round(b, now);
	}
}

/* Starts the next fanout round: the clerk calls the next ticket, the clock starts. */
static void fanout_start_round(struct qb_bench *b, uint64_t now)
{
	struct qb_conn *clerk = &b->conns[b->class_first[CLS_CLERK]];
	if (clerk->state != CS_READY) {
		start_drain(b, now);
		return;
	}
	int first = b->class_first[CLS_DISPLAY];
	for (int i = first; i < first + b->class_n[CLS_DISPLAY]; i++)
		b->conns[i].delivered = 0;
	b->round_active = 1;
	b->round_sent_ns = now;
	b->round_number[0] = '\0';
	b->round_delivered = 0;
	b->sent_measured++;
	if (qb_conn_send(clerk, OP_CALL_NEXT, now, 1, "{\"id\":%llu,\"op\":\"call_next\"}", (unsigned long long)clerk->next_id) < 0) {
		b->err.overflow++;
		fanout_end_round(b, now);
	}
}

/* Starts a login round: every attacker connection sends one wrong manager hello at once. */
static void login_start_round(struct qb_bench *b, uint64_t now)
{
	b->round_active = 1;
	b->round_sent_ns = now;
	b->round_delivered = 0;
	int first = b->class_first[CLS_DISPLAY], sent = 0;
	for (int i = first; i < first + b->class_n[CLS_DISPLAY]; i++) {
		struct qb_conn *c = &b->conns[i];
		if (c->state == CS_READY &&
		    qb_conn_send(c, OP_LOGIN, now, 0, "{\"id\":%llu,\"op\":\"hello\",\"role\":\"manager\",\"user\":\"%s\",\"password\":\"wrong\"}",
				 (unsigned long long)c->next_id, b->opt.login_user) == 0)
			sent++;
	}
	b->round_expected = sent;
	if (sent == 0)
		fanout_end_round(b, now);
}

/* Takes the answer to a wrong hello; the round ends when all of them are answered. */
static void login_on_answer(struct qb_bench *b, const char *line, size_t len, uint64_t now)
{
	b->login_answers++;
	if (memmem(line, len, "\"unauthenticated\"", 17))
		b->login_unauthenticated++;
	else if (memmem(line, len, "\"rate_limited\"", 14))
		b->login_rate_limited++;
	qb_hist_add(&b->login_latency, (now - b->round_sent_ns) / 1000);
	if (++b->round_delivered >= b->round_expected)
		fanout_end_round(b, now);
}

/* Records the answer to a job: latency, ok or its error code, and what it teaches us. */
void qb_scenario_answer(struct qb_conn *c, struct qb_inflight f, int ok, const char *line, size_t len, uint64_t now)
{
	struct qb_bench *b = c->b;
	if (f.op == OP_LOGIN) {
		login_on_answer(b, line, len, now);
		qb_scenario_pump(b);
		return;
	}
	if (f.op == OP_PREFILL_TAKE) {
		if (ok)
			remember_ticket(b, line, len);
		else if (++b->prefill_failed <= 3)
			fprintf(stderr, "qbench: a prefill take failed: %.*s\n", (int)(len < 200 ? len : 200), line);
		if (++b->prefill_done >= b->opt.prefill)
			prefill_done(b, now);
		else
			qb_scenario_pump(b);
		return;
	}
	if (f.op == OP_TAKE && ok)
		remember_ticket(b, line, len);
	if (f.op == OP_CALL_NEXT)
		c->has_ticket = ok && !memmem(line, len, "\"ticket\":null", 13);
	if (f.op == OP_FINISH)
		c->has_ticket = 0;
	if (f.counted && !f.expired) {
		if (ok) {
			uint64_t us = (now - f.due_ns) / 1000;
			b->ok++;
			qb_hist_add(&b->all, us);
			if (f.op < OP_REPORTED)
				qb_hist_add(&b->per_op[f.op], us);
			if (f.op == OP_CALL_NEXT && !c->has_ticket)
				b->empty_calls++;
		} else {
			b->failed_requests++;
			qb_errors_count_code(&b->err, line, len);
		}
		b->last_done_ns = now;
	}
	if (b->opt.scenario == SC_FANOUT) {
		if (f.op == OP_CALL_NEXT && b->round_active)
			fanout_on_called(b, ok && c->has_ticket, line, len, now);
		return;
	}
	qb_scenario_pump(b);
}

/* The 1 ms clock: phase changes, fixed-rate jobs on schedule, fanout rounds, timeouts. */
void qb_scenario_tick(struct qb_bench *b, uint64_t now)
{
	if (now - b->last_sweep_ns > 100000000ull) {
		b->last_sweep_ns = now;
		qb_conns_sweep(b, now);
	}
	switch (b->phase) {
	case PH_SETUP:
		if (now - b->start_ns > 120ull * 1000000000ull) {
			fprintf(stderr, "qbench: setup took over 120 s (%d of %d ready)\n", b->ready, b->nconns);
			qb_finish(b, 2);
		}
		return;
	case PH_PREFILL:
		if (b->prefill_done < b->opt.prefill)
			return;
		prefill_done(b, now);
		return;
	case PH_WARMUP:
		if (now >= b->warmup_end_ns)
			start_measure(b, now);
		break;
	case PH_MEASURE:
		if (b->opt.scenario == SC_IDLE) {
			if (now >= b->measure_end_ns) {
				b->rss_after_kb = qb_read_rss_kb(b->opt.qserver_pid, "VmRSS:");
				b->hwm_after_kb = qb_read_rss_kb(b->opt.qserver_pid, "VmHWM:");
				b->last_done_ns = now;
				qb_finish(b, 0);
			}
			return;
		}
		if (b->opt.scenario == SC_FANOUT) {
			if (b->round_active && now - b->round_sent_ns > (uint64_t)b->opt.timeout_ms * 1000000ull)
				fanout_end_round(b, now);
			if (!b->round_active) {
				if (b->round >= b->opt.rounds || now >= b->measure_end_ns)
					start_drain(b, now);
				else if (now >= b->next_round_ns)
					fanout_start_round(b, now);
			}
			return;
		}
		if (now >= b->measure_end_ns || !wants_more(b)) {
			start_drain(b, now);
			return;
		}
		if (b->opt.scenario == SC_LOGIN && !b->round_active && now >= b->next_round_ns)
			login_start_round(b, now);
		break;
	case PH_DRAIN:
		if (all_answered(b) || now - b->drain_start_ns > (uint64_t)b->opt.timeout_ms * 1000000ull)
			end_run(b);
		return;
	case PH_DONE: return;
	}
	if (b->opt.mode == MODE_FIXED && b->generating) {
		double period_ns = 1e9 / b->opt.rate;
		for (;;) {
			uint64_t due = b->rate_start_ns + (uint64_t)((double)b->generated * period_ns);
			if (due > now || !wants_more(b))
				break;
			make_job(b, due);
		}
	} else {
		qb_scenario_pump(b);
	}
}
