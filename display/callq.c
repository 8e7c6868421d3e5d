/* The big line's queue. A call goes up at once when the line is free (or its current call has
 * had its minimum time); otherwise it waits its turn behind earlier ones, so a burst of calls
 * is shown one after the other, in order, none overwritten (FQM issue 138). Times come from
 * the caller, which keeps this file free of clocks and easy to test. */
#include "display.h"

#include <string.h>

/* Starts with nothing up and nothing waiting. */
void callq_init(struct callq *q, int min_show_ms)
{
	memset(q, 0, sizeof *q);
	q->min_show_ms = min_show_ms > 0 ? min_show_ms : 0;
}

/* Puts a call up as the current one. */
void callq_set_current(struct callq *q, const struct call *call, long long now_ms)
{
	q->current = *call;
	q->has_current = true;
	q->shown_at_ms = now_ms;
}

/* Whether the current call has been up for its minimum time. */
static bool callq_current_done(const struct callq *q, long long now_ms)
{
	return !q->has_current || now_ms - q->shown_at_ms >= q->min_show_ms;
}

/* Queues behind earlier calls; goes up at once only when nothing waits and the line is free.
 * A call that leaves the big line this way (the one replaced, or the oldest waiting one when
 * the queue is full) is handed back for the recent list, so no call is ever lost. */
int callq_push(struct callq *q, const struct call *call, long long now_ms, struct call *to_list,
	       bool *listed)
{
	*listed = false;
	if (q->count == 0 && callq_current_done(q, now_ms)) {
		if (q->has_current) {
			*to_list = q->current;
			*listed = true;
		}
		callq_set_current(q, call, now_ms);
		return 1;
	}
	if (q->count == CALLQ_MAX) {
		*to_list = q->pending[q->head];
		*listed = true;
		q->head = (q->head + 1) % CALLQ_MAX;
		q->count--;
		q->dropped++;
	}
	q->pending[(q->head + q->count) % CALLQ_MAX] = *call;
	q->count++;
	return 0;
}

/* Takes the current call down and puts the oldest waiting one up, when its time is over. */
int callq_advance(struct callq *q, long long now_ms, struct call *retired)
{
	if (q->count == 0 || !callq_current_done(q, now_ms))
		return 0;
	if (q->has_current)
		*retired = q->current;
	else
		memset(retired, 0, sizeof *retired);
	int had_current = q->has_current;
	callq_set_current(q, &q->pending[q->head], now_ms);
	q->head = (q->head + 1) % CALLQ_MAX;
	q->count--;
	return had_current ? 1 : 0;
}

/* The time left on the current call when something waits behind it. */
long long callq_next_due_ms(const struct callq *q, long long now_ms)
{
	if (q->count == 0)
		return -1;
	if (!q->has_current)
		return 0;
	long long left = q->shown_at_ms + q->min_show_ms - now_ms;
	return left > 0 ? left : 0;
}

/* Compares with the current call and every waiting one. */
bool callq_contains(const struct callq *q, const struct call *call)
{
	if (q->has_current && call_same(&q->current, call))
		return true;
	for (int i = 0; i < q->count; i++)
		if (call_same(&q->pending[(q->head + i) % CALLQ_MAX], call))
			return true;
	return false;
}
