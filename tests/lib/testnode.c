/* Redis servers and Sentinels on loopback TCP ports for replication and failover tests. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "testnode.h"
#include "testserver.h"

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

#define TESTNODE_WAIT_MS 10000

/* Sleeps for some milliseconds. */
static void testnode_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Forks and execs redis-server with argv (argv[0] is replaced by the binary). */
static int testnode_spawn(struct testnode *n, char **argv)
{
	const char *bin = getenv("QHALL_REDIS_SERVER");
	if (!bin || !*bin)
		bin = "redis-server";
	argv[0] = (char *)bin;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a crashed test leaves no server behind */
		if (getppid() != parent)
			_exit(1);
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
		}
		execvp(bin, argv);
		fprintf(stderr, "testnode: cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	n->pid = pid;
	return 0;
}

redisContext *testnode_connect(const struct testnode *n)
{
	struct timeval tv = {1, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", n->port, tv);
	if (c && c->err) {
		redisFree(c);
		return NULL;
	}
	if (c)
		redisSetTimeout(c, tv);
	return c;
}

/* Sends one command on a new connection: whether it answered with a status (+OK, +PONG). */
static bool testnode_status(const struct testnode *n, const char *command)
{
	redisContext *c = testnode_connect(n);
	if (!c)
		return false;
	redisReply *r = redisCommand(c, command);
	bool ok = r && r->type == REDIS_REPLY_STATUS;
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return ok;
}

/* Waits until the node answers PING; -1 when it died or the time is up. */
static int testnode_wait(struct testnode *n)
{
	for (long waited = 0; waited < TESTNODE_WAIT_MS; waited += 20) {
		if (testnode_status(n, "PING"))
			return 0;
		if (waitpid(n->pid, NULL, WNOHANG) == n->pid) {
			fprintf(stderr, "testnode: redis on port %d exited; see %s/log\n", n->port, n->dir);
			n->pid = 0;
			return -1;
		}
		testnode_sleep_ms(20);
	}
	fprintf(stderr, "testnode: redis on port %d did not answer PING\n", n->port);
	return -1;
}

/* Makes the node's temp dir and picks its port. */
static int testnode_prepare(struct testnode *n, bool sentinel)
{
	memset(n, 0, sizeof *n);
	n->sentinel = sentinel;
	snprintf(n->dir, sizeof n->dir, "/tmp/qhall-node-XXXXXX");
	if (!mkdtemp(n->dir)) {
		n->dir[0] = '\0';
		return -1;
	}
	n->port = ts_free_port();
	return n->port > 0 ? 0 : -1;
}

int testnode_start_redis(struct testnode *n, int primary_port)
{
	if (testnode_prepare(n, false) < 0)
		return -1;
	char port[16], log[96], primary[16];
	snprintf(port, sizeof port, "%d", n->port);
	snprintf(log, sizeof log, "%s/log", n->dir);
	snprintf(primary, sizeof primary, "%d", primary_port);
	char *argv[] = {NULL, "--port", port, "--bind", "127.0.0.1", "--dir", n->dir, "--logfile", log,
			"--save", "", "--appendonly", "no", "--daemonize", "no",
			"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
			primary_port ? "--replicaof" : NULL, "127.0.0.1", primary, NULL};
	if (testnode_spawn(n, argv) < 0 || testnode_wait(n) < 0) {
		testnode_stop(n);
		return -1;
	}
	return 0;
}

int testnode_start_sentinel(struct testnode *n, int primary_port, int quorum, int down_after_ms)
{
	if (testnode_prepare(n, true) < 0)
		return -1;
	char conf[96];
	snprintf(conf, sizeof conf, "%s/sentinel.conf", n->dir);
	FILE *f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f,
		"port %d\nbind 127.0.0.1\ndir %s\nlogfile %s/log\ndaemonize no\n"
		"sentinel monitor " TESTNODE_MASTER " 127.0.0.1 %d %d\n"
		"sentinel down-after-milliseconds " TESTNODE_MASTER " %d\n"
		"sentinel failover-timeout " TESTNODE_MASTER " 10000\n"
		"sentinel parallel-syncs " TESTNODE_MASTER " 2\n",
		n->port, n->dir, n->dir, primary_port, quorum, down_after_ms);
	fclose(f);
	char *argv[] = {NULL, conf, "--sentinel", NULL};
	if (testnode_spawn(n, argv) < 0 || testnode_wait(n) < 0) {
		testnode_stop(n);
		return -1;
	}
	return 0;
}

void testnode_signal(struct testnode *n, int sig)
{
	if (n->pid <= 0)
		return;
	kill(n->pid, sig);
	if (sig == SIGKILL || sig == SIGTERM) {
		while (waitpid(n->pid, NULL, 0) < 0 && errno == EINTR)
			;
		n->pid = 0;
	}
}

/* nftw callback: removes one file or (emptied) directory. */
static int testnode_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

void testnode_stop(struct testnode *n)
{
	if (n->pid > 0)
		kill(n->pid, SIGCONT);
	testnode_signal(n, SIGTERM);
	if (n->dir[0] && !getenv("QHALL_KEEP_TEST_LOGS"))
		nftw(n->dir, testnode_rm, 8, FTW_DEPTH | FTW_PHYS);
	n->dir[0] = '\0';
}

const char *testnode_role(const struct testnode *n, char *buf, size_t len)
{
	redisContext *c = testnode_connect(n);
	if (!c)
		return NULL;
	redisReply *r = redisCommand(c, "ROLE");
	const char *out = NULL;
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING) {
		snprintf(buf, len, "%s", r->element[0]->str);
		out = buf;
	}
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return out;
}

int testnode_failover(const struct testnode *sentinel, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 100) {
		if (testnode_status(sentinel, "SENTINEL FAILOVER " TESTNODE_MASTER))
			return 0;
		testnode_sleep_ms(100);
	}
	return -1;
}
