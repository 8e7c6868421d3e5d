/* The Redis links' sockets on the event loop (redis_loop.c). */
#ifndef QHALL_REDIS_LOOP_H
#define QHALL_REDIS_LOOP_H

#include <event2/event.h>
#include <hiredis/async.h>

/* Puts a new hiredis context's socket on the loop in place of hiredis's libevent adapter:
 * commands leave at the end of the turn they were made in; -1 when out of memory. */
int redis_loop_attach(redisAsyncContext *ac, struct event_base *base);

#endif
