/* The Redis links' sockets on the event loop: hiredis's libevent adapter, with two changes
 * that spare every command a turn of the loop and the epoll_ctl calls around it.
 * - Commands leave in the turn they were made in: asking to write schedules one flush at the
 *   end of the turn's callbacks (an internal event, no system call), which writes everything
 *   made meanwhile at once. Only what the socket does not take waits for a write event.
 * - The read event persists, so it is not taken out of epoll and put back for every reply.
 * hiredis calls these hooks from inside its own functions; the flush runs from the loop, never
 * from a hiredis callback, so a write that fails and drops the link reports to the callers of
 * the commands as a read would, never inside the call that made the command. */
#include "qserver.h"
#include "redis_loop.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>

struct redis_loop {
	redisAsyncContext *ac;
	struct event *rev, *wev; /* the socket readable, writable */
	struct event *flush;	 /* the writes of this turn, after its callbacks */
};

/* The link whose flush is writing now: a write it leaves unfinished waits for the socket. */
static struct redis_loop *flushing;

/* Reads what the socket holds (hiredis calls the commands' callbacks). */
static void redis_loop_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct redis_loop *l = arg;
	redisAsyncHandleRead(l->ac);
}

/* Writes what is buffered; the link may be freed before this returns. */
static void redis_loop_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct redis_loop *l = arg;
	flushing = l;
	redisAsyncHandleWrite(l->ac);
	flushing = NULL;
}

/* hiredis wants replies read: the persistent read event is in already after the attach. */
static void redis_loop_add_read(void *arg)
{
	struct redis_loop *l = arg;
	event_add(l->rev, NULL); /* already in: nothing to do */
}

/* hiredis stops reading (the link is closing). */
static void redis_loop_del_read(void *arg)
{
	struct redis_loop *l = arg;
	event_del(l->rev);
}

/* A command was buffered (or a write was left unfinished): a connected link writes at the end
 * of this turn; one still connecting, or a socket that took only part, waits to be writable. */
static void redis_loop_add_write(void *arg)
{
	struct redis_loop *l = arg;
	if (flushing == l || !(l->ac->c.flags & REDIS_CONNECTED))
		event_add(l->wev, NULL);
	else
		event_active(l->flush, EV_WRITE, 0); /* once, however many commands */
}

/* Everything buffered was written: the socket is no longer watched for room. */
static void redis_loop_del_write(void *arg)
{
	struct redis_loop *l = arg;
	event_del(l->wev);
}

/* Frees the link's events (hiredis frees the context). */
static void redis_loop_cleanup(void *arg)
{
	struct redis_loop *l = arg;
	if (flushing == l)
		flushing = NULL;
	event_free(l->rev);
	event_free(l->wev);
	event_free(l->flush);
	free(l);
}

/* Puts a new hiredis context's socket on the loop in place of hiredis's libevent adapter;
 * -1 when out of memory (nothing attached). */
int redis_loop_attach(redisAsyncContext *ac, struct event_base *base)
{
	if (ac->ev.data)
		return -1;
	struct redis_loop *l = calloc(1, sizeof *l);
	if (!l)
		return -1;
	l->ac = ac;
	l->rev = event_new(base, ac->c.fd, EV_READ | EV_PERSIST, redis_loop_read, l);
	l->wev = event_new(base, ac->c.fd, EV_WRITE, redis_loop_write, l);
	l->flush = event_new(base, -1, 0, redis_loop_write, l);
	if (!l->rev || !l->wev || !l->flush) {
		if (l->rev)
			event_free(l->rev);
		if (l->wev)
			event_free(l->wev);
		if (l->flush)
			event_free(l->flush);
		free(l);
		return -1;
	}
	ac->ev.addRead = redis_loop_add_read;
	ac->ev.delRead = redis_loop_del_read;
	ac->ev.addWrite = redis_loop_add_write;
	ac->ev.delWrite = redis_loop_del_write;
	ac->ev.cleanup = redis_loop_cleanup;
	ac->ev.data = l;
	/* as the adapter does: the connect finishes when the socket is writable */
	event_add(l->rev, NULL);
	event_add(l->wev, NULL);
	return 0;
}
