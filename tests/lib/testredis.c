/* A private redis-server for tests: a child process on a Unix socket in a fresh temp dir. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "testredis.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TESTREDIS_WAIT_MS 10000 /* how long a start may take before we give up */

/* Sleeps for some milliseconds. */
static void
testredis_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Forks and execs redis-server on the struct's dir and socket. Returns 0 or -1. */
static int
testredis_spawn(struct testredis *tr)
{
	const char *server = getenv("QHALL_REDIS_SERVER");
	char logfile[128];
	pid_t parent = getpid();
	pid_t pid;

	if (server == NULL || *server == '\0')
		server = "redis-server";
	snprintf(logfile, sizeof logfile, "%s/redis.log", tr->dir);
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* a test that crashes must not leave its server behind */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		if (null != -1) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
		}
		execlp(server, server, "--port", "0", "--unixsocket", tr->socket,
		       "--unixsocketperm", "700", "--dir", tr->dir, "--logfile", logfile,
		       "--save", "", "--appendonly", tr->appendonly ? "yes" : "no",
		       "--appendfsync", "always", "--daemonize", "no", (char *)NULL);
		fprintf(stderr, "testredis: cannot run %s: %s\n", server, strerror(errno));
		_exit(127);
	}
	tr->pid = pid;
	return 0;
}

/* Waits until the server answers PING, or it died, or the time is up. Returns 0 or -1. */
static int
testredis_wait(struct testredis *tr)
{
	for (long waited = 0; waited < TESTREDIS_WAIT_MS; waited += 10) {
		redisContext *c = testredis_connect(tr);

		if (c != NULL) {
			redisReply *r = redisCommand(c, "PING");
			int ok = r != NULL && r->type == REDIS_REPLY_STATUS &&
				 strcmp(r->str, "PONG") == 0;

			if (r != NULL)
				freeReplyObject(r);
			redisFree(c);
			if (ok)
				return 0;
		}
		if (waitpid(tr->pid, NULL, WNOHANG) == tr->pid) {
			fprintf(stderr, "testredis: redis-server exited; see %s/redis.log\n", tr->dir);
			tr->pid = 0;
			return -1;
		}
		testredis_sleep_ms(10);
	}
	fprintf(stderr, "testredis: redis-server did not answer PING\n");
	return -1;
}

/* Sends a signal to the child and reaps it. */
static void
testredis_signal(struct testredis *tr, int sig)
{
	if (tr->pid <= 0)
		return;
	kill(tr->pid, sig);
	while (waitpid(tr->pid, NULL, 0) == -1 && errno == EINTR)
		;
	tr->pid = 0;
}

/* nftw callback: removes one file or (emptied) directory. */
static int
testredis_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

int
testredis_start(struct testredis *tr, bool appendonly)
{
	memset(tr, 0, sizeof *tr);
	tr->appendonly = appendonly;
	/* /tmp rather than $TMPDIR: a Unix socket path must stay short */
	snprintf(tr->dir, sizeof tr->dir, "/tmp/qhall-test-XXXXXX");
	if (mkdtemp(tr->dir) == NULL) {
		tr->dir[0] = '\0';
		return -1;
	}
	snprintf(tr->socket, sizeof tr->socket, "%s/redis.sock", tr->dir);
	if (testredis_spawn(tr) == -1 || testredis_wait(tr) == -1) {
		testredis_stop(tr);
		return -1;
	}
	return 0;
}

void
testredis_stop(struct testredis *tr)
{
	testredis_signal(tr, SIGTERM);
	if (tr->dir[0] != '\0')
		nftw(tr->dir, testredis_rm, 8, FTW_DEPTH | FTW_PHYS);
	tr->dir[0] = '\0';
}

void
testredis_kill(struct testredis *tr)
{
	testredis_signal(tr, SIGKILL);
}

int
testredis_restart(struct testredis *tr)
{
	if (tr->pid > 0)
		testredis_kill(tr);
	unlink(tr->socket);
	if (testredis_spawn(tr) == -1)
		return -1;
	return testredis_wait(tr);
}

redisContext *
testredis_connect(const struct testredis *tr)
{
	redisContext *c = redisConnectUnix(tr->socket);

	if (c != NULL && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* Sorts the replies of a KEYS answer by name (KEYS has no order; the sets are small). */
static void
testredis_sort_keys(redisReply *keys)
{
	for (size_t i = 0; i < keys->elements; i++)
		for (size_t j = i + 1; j < keys->elements; j++)
			if (strcmp(keys->element[i]->str, keys->element[j]->str) > 0) {
				redisReply *tmp = keys->element[i];

				keys->element[i] = keys->element[j];
				keys->element[j] = tmp;
			}
}

char *
testredis_dump(redisContext *c, const char *pattern, size_t *len)
{
	redisReply *keys = redisCommand(c, "KEYS %s", pattern);
	char *buf = NULL;
	size_t n = 0;

	if (keys == NULL || keys->type != REDIS_REPLY_ARRAY) {
		if (keys != NULL)
			freeReplyObject(keys);
		return NULL;
	}
	testredis_sort_keys(keys);
	for (size_t i = 0; i < keys->elements; i++) {
		redisReply *d = redisCommand(c, "DUMP %s", keys->element[i]->str);
		size_t klen = strlen(keys->element[i]->str) + 1;
		char *grown = d != NULL && d->type == REDIS_REPLY_STRING ? realloc(buf, n + klen + d->len) : NULL;

		if (grown == NULL) {
			if (d != NULL)
				freeReplyObject(d);
			freeReplyObject(keys);
			free(buf);
			return NULL;
		}
		buf = grown;
		memcpy(buf + n, keys->element[i]->str, klen);
		memcpy(buf + n + klen, d->str, d->len);
		n += klen + d->len;
		freeReplyObject(d);
	}
	freeReplyObject(keys);
	*len = n;
	return buf != NULL ? buf : calloc(1, 1);
}
