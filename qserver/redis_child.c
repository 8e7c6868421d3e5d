/* The embedded redis-server (DESIGN decision 6): a private child on a Unix socket with AOF
 * on, its data in the state folder; repaired and restarted if it dies, stopped when qserver
 * stops. Nothing here waits inside the event loop: a 100 ms timer watches the child, runs
 * the AOF check as another child, and tells the store the moment Redis is back. */
#include "qserver.h"
#include "log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_WATCH_MS 100
#define CHILD_RESTART_GAP_MS 1000  /* a child that dies within 2 s of its start waits this long */
#define AOF_TORN_TAIL_MAX (16L << 20) /* a torn write is one transaction, far shorter than this */
#define AOF_REWRITE_GROWTH (64LL << 20) /* rewrite once this much was appended (docs/operations.md) */
#define AOF_DIR "appendonlydir"
#define AOF_MANIFEST AOF_DIR "/appendonly.aof.manifest"
#define CLEAN_STOP_MARK "clean-stop" /* written when the child stopped cleanly */
#define AOF_CHECK_LOG "aof-check.log"

enum child_state {
	CHILD_NONE,	 /* not started, or stopped */
	CHILD_RUNNING,	 /* serving */
	CHILD_REPAIRING, /* dead; redis-check-aof looks at the AOF */
	CHILD_WAITING,	 /* dead and checked; restarts at restart_at_ms */
	CHILD_STARTING,	 /* restarted; its socket does not answer yet */
};

static enum child_state state;
static pid_t child_pid;
static pid_t check_pid;
static char child_dir[512];
static char child_sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
static char check_file[1024]; /* the AOF file being checked */
static long long last_spawn_ms;
static long long restart_at_ms;
static struct event *watch_timer;

/* True when something accepts connections on the Unix socket path (never blocks). */
static int socket_answers(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
	int ok = connect(fd, (struct sockaddr *)&un, sizeof un) == 0;
	close(fd);
	return ok;
}

/* Creates a directory and its parents with mode 0700. */
static int mkdir_p(const char *path)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Writes the path of a file in the state folder into out. */
static void state_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", child_dir, name);
}

/* Calls fn with the path of each AOF file of the given type ('b' base, 'i' incremental)
 * named in Redis 7's manifest, in order; returns how many there were, -1 without manifest. */
static int aof_each(char type, void (*fn)(const char *path, void *arg), void *arg)
{
	char path[1024];
	state_path(path, sizeof path, AOF_MANIFEST);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[512], name[256], kind[8];
	int n = 0;
	/* Lines read "file appendonly.aof.3.incr.aof seq 3 type i"; the last one is written to. */
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "file %255s seq %*d type %7s", name, kind) == 2 && kind[0] == type && !kind[1]) {
			snprintf(path, sizeof path, "%s/" AOF_DIR "/%s", child_dir, name);
			fn(path, arg);
			n++;
		}
	fclose(f);
	return n;
}

/* aof_each callback: keeps the path (the last one wins). */
static void aof_keep_path(const char *path, void *arg)
{
	snprintf(arg, sizeof check_file, "%s", path);
}

/* aof_each callback: adds the file's size. */
static void aof_add_size(const char *path, void *arg)
{
	struct stat st;
	if (stat(path, &st) == 0)
		*(long long *)arg += st.st_size;
}

/* aof_each callback: keeps the file's modification time. */
static void aof_keep_mtime(const char *path, void *arg)
{
	struct stat st;
	if (stat(path, &st) == 0)
		*(time_t *)arg = st.st_mtime;
}

/* Whether the embedded Redis should rewrite its AOF now, saying why: its last rewrite (the
 * base file's time) was on an earlier day, or more than AOF_REWRITE_GROWTH bytes were
 * appended since. Both times are real: a moved test clock has its own day change. */
int redis_child_rewrite_due(char *why, size_t len)
{
	if (state != CHILD_RUNNING)
		return 0;
	time_t base_time = 0;
	if (aof_each('b', aof_keep_mtime, &base_time) > 0 && base_time) {
		/* Days in the first site's zone (a region's district center): one Redis, one day. */
		const struct config_site *first = &sites_at(0)->cfg->site;
		char base_day[11], today[11];
		sitetime_day(first, base_time, base_day);
		sitetime_day(first, time(NULL), today);
		if (strcmp(base_day, today) < 0) {
			snprintf(why, len, "it was last rewritten on %s", base_day);
			return 1;
		}
	}
	long long grown = 0;
	if (aof_each('i', aof_add_size, &grown) > 0 && grown > AOF_REWRITE_GROWTH) {
		snprintf(why, len, "%lld MB were written since its last rewrite", grown >> 20);
		return 1;
	}
	return 0;
}

/* Starts redis-check-aof on the last incremental AOF file, its report going to a log in the
 * state folder; returns its pid, or 0 when there is nothing to check or it cannot run. */
static pid_t aof_check_spawn(void)
{
	if (aof_each('i', aof_keep_path, check_file) <= 0)
		return 0;
	char log_path[1024];
	state_path(log_path, sizeof log_path, AOF_CHECK_LOG);
	pid_t pid = fork();
	if (pid < 0) {
		log_error("cannot check the AOF: %s", strerror(errno));
		return 0;
	}
	if (pid == 0) {
		int out = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (out >= 0 && in >= 0) {
			dup2(in, 0);
			dup2(out, 1);
			dup2(out, 2);
		}
		/* Check only: qserver decides what to cut (see aof_check_apply). */
		execlp("redis-check-aof", "redis-check-aof", check_file, (char *)NULL);
		dprintf(1, "cannot run redis-check-aof: %s\n", strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Whether the bytes of an AOF file from offset on are what a torn write leaves: a piece of
 * one transaction (a MULTI, whole commands, a cut one; never an EXEC) or of one command.
 * Damage in the middle of a file is followed by whole transactions, which must not be cut. */
static int aof_tail_is_torn_write(const char *path, long long offset, long long size)
{
	if (size - offset > AOF_TORN_TAIL_MAX)
		return 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t len = (size_t)(size - offset);
	char *tail = malloc(len);
	int torn = 0;
	if (tail && fseeko(f, offset, SEEK_SET) == 0 && fread(tail, 1, len, f) == len) {
		const char *multi = memmem(tail, len, "MULTI\r\n", 7);
		torn = !memmem(tail, len, "EXEC\r\n", 6) &&
		       (!multi || !memmem(multi + 7, len - (size_t)(multi + 7 - tail), "MULTI\r\n", 7));
	}
	free(tail);
	fclose(f);
	return torn;
}

/* Acts on redis-check-aof's verdict: a file that ends in a torn write (an unfinished
 * transaction or command, as a crash or power cut leaves it) is cut back to its last whole
 * transaction, as `redis-check-aof --fix` does. Damage anywhere else is left to Redis and
 * logged: cutting there would throw away everything after it. */
static void aof_check_apply(int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return; /* valid */
	char log_path[1024], report[4096] = "";
	state_path(log_path, sizeof log_path, AOF_CHECK_LOG);
	FILE *f = fopen(log_path, "r");
	if (f) {
		size_t n = fread(report, 1, sizeof report - 1, f);
		report[n] = '\0';
		fclose(f);
	}
	/* "AOF analyzed: filename=..., size=108, ok_up_to=50, ok_up_to_line=26, diff=58" */
	const char *size_at = strstr(report, " size=");
	const char *ok_at = strstr(report, " ok_up_to=");
	long long size = size_at ? atoll(size_at + 6) : -1;
	long long ok_up_to = ok_at ? atoll(ok_at + 10) : -1;
	if (size < 0 || ok_up_to < 0 || ok_up_to >= size) {
		log_error("cannot check the AOF %s (see %s); Redis loads it as it is", check_file, log_path);
		return;
	}
	if (!aof_tail_is_torn_write(check_file, ok_up_to, size)) {
		log_error("the AOF %s is damaged at byte %lld of %lld, not only at its end (see %s); Redis loads it "
			  "as it is: restore the state folder from a backup or repair it by hand",
			  check_file, ok_up_to, size, log_path);
		return;
	}
	if (truncate(check_file, ok_up_to) < 0) {
		log_error("cannot cut the torn end of the AOF %s: %s", check_file, strerror(errno));
		return;
	}
	log_warn("the AOF %s ended in a torn write: cut its last %lld bytes (an unfinished transaction), kept %lld",
		 check_file, size - ok_up_to, ok_up_to);
}

/* Forks and execs redis-server for the state folder. */
static int redis_child_spawn(void)
{
	char mark[1024];
	state_path(mark, sizeof mark, CLEAN_STOP_MARK);
	unlink(mark); /* from now on, a stop that does not write it again was not clean */
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* If qserver dies, even by kill -9, its Redis stops too (and flushes its AOF). */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
		}
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", child_sock,
		       "--unixsocketperm", "700", "--dir", child_dir, "--appendonly", "yes",
		       "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
		       /* qserver decides when to rewrite (redis_child_rewrite_due): Redis's own
			* rule measures growth from its last start, not from its last rewrite. */
		       "--auto-aof-rewrite-percentage", "0",
		       /* the event stream in nodes of up to 16 kB rather than 4: the audit trail
			* takes about 3% less memory per ticket (bench/findings.md) */
		       "--stream-node-max-bytes", "16384",
		       /* hash fields of up to 128 bytes in a listpack rather than 64: a bucket of
			* settled tickets, whose packed values with a phone ref or notify marks
			* pass 64 bytes, stays a listpack (docs/keys.md "Tickets") */
		       "--hash-max-listpack-value", "128",
		       "--logfile", "redis.log", "--loglevel", "warning", (char *)NULL);
		fprintf(stderr, "qserver: cannot run redis-server: %s (install the redis-server package)\n", strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	last_spawn_ms = clock_real_ms();
	return 0;
}

/* The child died: check its AOF (off the loop, as a child process) before it restarts. */
static void child_died(int status)
{
	log_error("embedded redis-server exited (%s %d); checking its AOF and restarting it",
		  WIFEXITED(status) ? "status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	child_pid = 0;
	check_pid = aof_check_spawn();
	state = check_pid ? CHILD_REPAIRING : CHILD_WAITING;
	/* A child that dies right after its start must not make a crash loop spin. */
	long long now = clock_real_ms();
	restart_at_ms = now - last_spawn_ms < 2000 ? now + CHILD_RESTART_GAP_MS : now;
}

/* Every 100 ms: notices a death, finishes the AOF check, restarts, and reports readiness. */
static void redis_child_watch(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	int status;
	switch (state) {
	case CHILD_RUNNING:
	case CHILD_STARTING:
		if (waitpid(child_pid, &status, WNOHANG) == child_pid) {
			child_died(status);
		} else if (state == CHILD_STARTING && socket_answers(child_sock)) {
			state = CHILD_RUNNING;
			log_info("embedded redis-server (pid %d) ready again on %s", (int)child_pid, child_sock);
			store_redis_back();
		}
		break;
	case CHILD_REPAIRING:
		if (waitpid(check_pid, &status, WNOHANG) != check_pid)
			break;
		check_pid = 0;
		aof_check_apply(status);
		state = CHILD_WAITING;
		__attribute__((fallthrough)); /* restart now if its time has come */
	case CHILD_WAITING:
		if (clock_real_ms() < restart_at_ms)
			break;
		if (redis_child_spawn() < 0) {
			log_error("cannot restart redis-server: %s", strerror(errno));
			restart_at_ms = clock_real_ms() + CHILD_RESTART_GAP_MS;
			break;
		}
		state = CHILD_STARTING;
		break;
	case CHILD_NONE:
		break;
	}
}

/* At start, before clients are served: when the state folder was not stopped cleanly, check
 * (and repair) the AOF, waiting for redis-check-aof. */
static void repair_if_unclean(void)
{
	char mark[1024], manifest[1024];
	state_path(mark, sizeof mark, CLEAN_STOP_MARK);
	state_path(manifest, sizeof manifest, AOF_MANIFEST);
	if (access(mark, F_OK) == 0 || access(manifest, F_OK) != 0)
		return;
	log_info("the state folder %s was not stopped cleanly; checking its AOF", child_dir);
	pid_t pid = aof_check_spawn();
	int status;
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (pid > 0)
		aof_check_apply(status);
}

/* Starts the child and waits until it answers; writes "unix:<socket>" into addr. The
 * event loop must exist: the child is watched from it. */
int redis_child_start(const char *state_dir, char *addr, size_t addrlen)
{
	if (mkdir_p(state_dir) < 0) {
		log_error("cannot create the state folder %s: %s", state_dir, strerror(errno));
		return -1;
	}
	if (!realpath(state_dir, child_dir)) {
		log_error("cannot resolve the state folder %s: %s", state_dir, strerror(errno));
		return -1;
	}
	if (strlen(child_dir) + sizeof "/redis.sock" > sizeof child_sock) {
		log_error("the state folder path %s is too long for a Unix socket; use a shorter --state", child_dir);
		return -1;
	}
	/* The length was checked above; memcpy keeps the compiler from guessing otherwise. */
	size_t dir_len = strlen(child_dir);
	memcpy(child_sock, child_dir, dir_len);
	memcpy(child_sock + dir_len, "/redis.sock", sizeof "/redis.sock");
	/* A Redis of an earlier qserver that was killed stops by itself; give it time to go. */
	for (int i = 0; i < 100 && socket_answers(child_sock); i++)
		usleep(50 * 1000);
	if (socket_answers(child_sock)) {
		log_error("another redis-server uses %s; stop it or use --redis unix:%s", child_sock, child_sock);
		return -1;
	}
	repair_if_unclean();
	if (redis_child_spawn() < 0) {
		log_error("cannot start redis-server: %s", strerror(errno));
		return -1;
	}
	state = CHILD_STARTING;
	for (int i = 0; i < 200; i++) {
		if (socket_answers(child_sock)) {
			snprintf(addr, addrlen, "unix:%s", child_sock);
			log_info("embedded redis-server (pid %d) ready on %s", (int)child_pid, child_sock);
			state = CHILD_RUNNING;
			watch_timer = event_new(server.base, -1, EV_PERSIST, redis_child_watch, NULL);
			struct timeval tv = {0, CHILD_WATCH_MS * 1000};
			event_add(watch_timer, &tv);
			return 0;
		}
		int status;
		if (waitpid(child_pid, &status, WNOHANG) == child_pid) {
			child_pid = 0;
			state = CHILD_NONE;
			log_error("redis-server exited at start; see %s/redis.log", child_dir);
			return -1;
		}
		usleep(50 * 1000);
	}
	log_error("redis-server did not answer within 10 s; see %s/redis.log", child_dir);
	redis_child_stop();
	return -1;
}

/* True when qserver runs its own Redis. */
int redis_child_running(void)
{
	return state != CHILD_NONE;
}

/* Stops the child and waits for it, so its AOF is complete when qserver exits; marks the
 * state folder clean when Redis stopped by itself. */
void redis_child_stop(void)
{
	if (watch_timer)
		event_free(watch_timer);
	watch_timer = NULL;
	state = CHILD_NONE;
	int status;
	if (check_pid) {
		kill(check_pid, SIGKILL);
		waitpid(check_pid, &status, 0);
		check_pid = 0;
	}
	if (!child_pid)
		return;
	kill(child_pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(child_pid, &status, WNOHANG) == child_pid) {
			child_pid = 0;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
				char mark[1024];
				state_path(mark, sizeof mark, CLEAN_STOP_MARK);
				int fd = open(mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
				if (fd >= 0)
					close(fd);
			}
			return;
		}
		usleep(50 * 1000);
	}
	log_warn("redis-server did not stop in 10 s; killing it");
	kill(child_pid, SIGKILL);
	waitpid(child_pid, &status, 0);
	child_pid = 0;
}
