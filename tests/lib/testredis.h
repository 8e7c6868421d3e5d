/* A private redis-server for tests: a child process on a Unix socket in a fresh temp dir. */
#ifndef QHALL_TESTREDIS_H
#define QHALL_TESTREDIS_H

#include <stdbool.h>
#include <sys/types.h>

#include <hiredis.h>

struct testredis {
	pid_t pid;	   /* the redis-server child, 0 when not running */
	bool appendonly;   /* started with --appendonly yes */
	char dir[64];	   /* the temp dir holding socket, log and data */
	char socket[96];   /* <dir>/redis.sock */
};

/* Starts redis-server (env QHALL_REDIS_SERVER, default "redis-server") in a new temp dir with
 * --save '' and the given appendonly setting; waits until it answers PING. Returns 0 or -1. */
int testredis_start(struct testredis *tr, bool appendonly);

/* Stops the server with SIGTERM, waits for it and removes its dir. */
void testredis_stop(struct testredis *tr);

/* Kills the server with SIGKILL and waits for it; the dir (and any AOF) stays. */
void testredis_kill(struct testredis *tr);

/* Starts the server again on the same dir and socket (after testredis_kill). Returns 0 or -1. */
int testredis_restart(struct testredis *tr);

/* A new synchronous connection to the server, or NULL. */
redisContext *testredis_connect(const struct testredis *tr);

/* Every key matching pattern with its DUMP, in name order, as one comparable byte string
 * (malloc'd, *len its length): two equal dumps mean nothing changed. NULL on failure. */
char *testredis_dump(redisContext *c, const char *pattern, size_t *len);

#endif
