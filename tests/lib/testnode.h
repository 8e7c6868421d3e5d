/* Redis servers and Sentinels on loopback TCP ports for replication and failover tests: each
 * a child process in a fresh temp dir, stopped when the test process dies. */
#ifndef QHALL_TESTNODE_H
#define QHALL_TESTNODE_H

#include <stdbool.h>
#include <sys/types.h>

#include <hiredis.h>

#define TESTNODE_MASTER "qhall" /* the primary's name at the Sentinels */

struct testnode {
	pid_t pid;	  /* 0 when not running */
	int port;	  /* 127.0.0.1:port */
	bool sentinel;	  /* a Sentinel rather than a data server */
	char dir[64];	  /* log, config and data */
};

/* Starts a Redis server on a free port; a replica of primary_port unless that is 0. Waits
 * until it answers PING. Returns 0 or -1. */
int testnode_start_redis(struct testnode *n, int primary_port);

/* Starts a Sentinel watching the primary at primary_port as TESTNODE_MASTER with quorum 1
 * (or the given quorum) and the given down-after time. Returns 0 or -1. */
int testnode_start_sentinel(struct testnode *n, int primary_port, int quorum, int down_after_ms);

/* Sends a signal (SIGKILL, SIGSTOP, SIGCONT...); SIGKILL and SIGTERM also reap the child. */
void testnode_signal(struct testnode *n, int sig);

/* Stops it with SIGTERM (thawing it first) and removes its dir. */
void testnode_stop(struct testnode *n);

/* A new synchronous connection, or NULL. */
redisContext *testnode_connect(const struct testnode *n);

/* The first word of ROLE ("master", "slave", "sentinel"), in buf; NULL when it does not answer. */
const char *testnode_role(const struct testnode *n, char *buf, size_t len);

/* Asks a Sentinel for a failover of TESTNODE_MASTER until it accepts (a replica must be known
 * to it first), for at most timeout_ms. Returns 0 or -1. */
int testnode_failover(const struct testnode *sentinel, int timeout_ms);

#endif
