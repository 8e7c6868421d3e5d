/* The embedded redis-server (DESIGN decision 6): a private child on a Unix socket with AOF
 * on, its data in the state folder; restarted if it dies, stopped when qserver stops. */
#include "qserver.h"
#include "log.h"

#include <errno.h>
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

static pid_t child_pid;
static char child_dir[512];
static char child_sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
static time_t last_restart;

/* True when something accepts connections on the Unix socket path. */
static int socket_answers(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

/* Forks and execs redis-server for the state folder. */
static int redis_child_spawn(void)
{
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
		       /* No rewrite in opening hours: its fork stalls Redis (see BENCHMARKS.md);
			* qserver asks for one at the day change instead. */
		       "--auto-aof-rewrite-percentage", "0",
		       "--logfile", "redis.log", "--loglevel", "warning", (char *)NULL);
		fprintf(stderr, "qserver: cannot run redis-server: %s (install the redis-server package)\n", strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	last_restart = time(NULL);
	return 0;
}

/* Starts the child and waits until it answers; writes "unix:<socket>" into addr. */
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
	if (redis_child_spawn() < 0) {
		log_error("cannot start redis-server: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < 200; i++) {
		if (socket_answers(child_sock)) {
			snprintf(addr, addrlen, "unix:%s", child_sock);
			log_info("embedded redis-server (pid %d) ready on %s", (int)child_pid, child_sock);
			return 0;
		}
		int status;
		if (waitpid(child_pid, &status, WNOHANG) == child_pid) {
			child_pid = 0;
			log_error("redis-server exited at start; see %s/redis.log", child_dir);
			return -1;
		}
		usleep(50 * 1000);
	}
	log_error("redis-server did not answer within 10 s; see %s/redis.log", child_dir);
	redis_child_stop();
	return -1;
}

/* Restarts the child if it died; called from qserver's housekeeping tick. */
void redis_child_check(void)
{
	if (!child_pid)
		return;
	int status;
	if (waitpid(child_pid, &status, WNOHANG) != child_pid)
		return;
	log_error("embedded redis-server exited (%s %d); restarting it",
		  WIFEXITED(status) ? "status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	child_pid = 0;
	if (time(NULL) - last_restart < 2)
		sleep(1); /* a crash loop must not spin */
	if (redis_child_spawn() < 0)
		log_error("cannot restart redis-server: %s", strerror(errno));
}

/* True when qserver runs its own Redis. */
int redis_child_running(void)
{
	return child_pid != 0;
}

/* Stops the child and waits for it, so its AOF is complete when qserver exits. */
void redis_child_stop(void)
{
	if (!child_pid)
		return;
	kill(child_pid, SIGTERM);
	int status;
	for (int i = 0; i < 200; i++) {
		if (waitpid(child_pid, &status, WNOHANG) == child_pid) {
			child_pid = 0;
			return;
		}
		usleep(50 * 1000);
	}
	log_warn("redis-server did not stop in 10 s; killing it");
	kill(child_pid, SIGKILL);
	waitpid(child_pid, &status, 0);
	child_pid = 0;
}
