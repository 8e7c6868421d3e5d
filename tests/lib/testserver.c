/* Runs the real qserver as a child process for integration tests. */
#include "testserver.h"

#include "syncclient.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct test_server {
	char **argv; /* the whole command line, NULL-terminated */
	int port;
	char address[32];
	pid_t pid;
	int starts;
	char dir[64];
	char log_path[96];
};

/* Milliseconds of the monotonic clock, for deadlines. */
static long long ts_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps a few milliseconds between polls. */
static void ts_nap(int ms)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000};
	nanosleep(&ts, NULL);
}

/* The start and stop timeout, which slow CI machines may raise. */
static int ts_timeout_ms(void)
{
	const char *env = getenv("QHALL_TEST_START_TIMEOUT_MS");
	int ms = env ? atoi(env) : 0;
	return ms > 0 ? ms : TS_START_TIMEOUT_MS;
}

/* Finds a free loopback port by binding port 0; the small race until qserver binds it is
 * accepted for tests. Returns the port or -1. */
int ts_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sin;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* Turns a wait status into the exit code, or 128 + the signal. */
static int ts_decode_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* Prints the last lines of the log to stderr. */
void ts_print_log_tail(const struct test_server *ts, int lines)
{
	FILE *f = fopen(ts->log_path, "r");
	if (!f) {
		fprintf(stderr, "testserver: no log at %s\n", ts->log_path);
		return;
	}
	char *text = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&text, &size);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, mem);
	fclose(f);
	fclose(mem);
	/* Step back over `lines` newlines, not counting the one that ends the file. */
	size_t start = size > 0 && text[size - 1] == '\n' ? size - 1 : size;
	int seen = 0;
	while (start > 0 && !(text[start - 1] == '\n' && ++seen == lines))
		start--;
	fprintf(stderr, "---- last %d lines of %s ----\n%s", lines, ts->log_path, text + start);
	if (size > 0 && text[size - 1] != '\n')
		fputc('\n', stderr);
	fprintf(stderr, "---- end of qserver log ----\n");
	free(text);
}

/* Whether the child still runs; reaps it if it has exited. */
bool ts_running(struct test_server *ts)
{
	if (ts->pid <= 0)
		return false;
	int status;
	pid_t r = waitpid(ts->pid, &status, WNOHANG);
	if (r == 0)
		return true;
	if (r == ts->pid)
		fprintf(stderr, "testserver: qserver (pid %d) exited by itself with status %d\n", (int)ts->pid,
			ts_decode_status(status));
	ts->pid = 0;
	return false;
}

/* Forks and execs qserver with its output going to the log. */
static int ts_spawn(struct test_server *ts)
{
	FILE *log = fopen(ts->log_path, "a");
	if (log) {
		fprintf(log, "==== testserver: start %d of qserver on port %d ====\n", ++ts->starts, ts->port);
		fclose(log);
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "testserver: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* A test that crashes must not leave a server behind to hold the port. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		int fd = open(ts->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int null = open("/dev/null", O_RDONLY);
		if (fd < 0 || null < 0)
			_exit(127);
		dup2(null, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execv(ts->argv[0], ts->argv);
		dprintf(STDERR_FILENO, "testserver: cannot run %s: %s\n", ts->argv[0], strerror(errno));
		_exit(127);
	}
	ts->pid = pid;
	return 0;
}

/* Waits until the server accepts a connection and answers ping, or fails, or time is up. */
static int ts_wait_ready(struct test_server *ts)
{
	int timeout = ts_timeout_ms();
	long long deadline = ts_now_ms() + timeout;
	while (ts_now_ms() < deadline) {
		if (!ts_running(ts)) {
			fprintf(stderr, "testserver: qserver exited before it was ready\n");
			return -1;
		}
		struct sync_client *sc = sync_connect(ts->address, 250);
		if (sc) {
			cJSON *resp = sync_request(sc, "{\"id\":\"testserver-ready\",\"op\":\"ping\"}", 1000);
			bool ok = resp && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"));
			cJSON_Delete(resp);
			sync_close(sc);
			if (ok)
				return 0;
		}
		ts_nap(20);
	}
	fprintf(stderr, "testserver: qserver did not answer ping on %s within %d ms\n", ts->address, timeout);
	return -1;
}

/* Spawns and waits for readiness; on failure kills what runs and prints the log tail. */
static int ts_launch(struct test_server *ts)
{
	if (ts_spawn(ts) < 0)
		return -1;
	if (ts_wait_ready(ts) == 0)
		return 0;
	if (ts_running(ts)) {
		kill(ts->pid, SIGKILL);
		waitpid(ts->pid, NULL, 0);
		ts->pid = 0;
	}
	ts_print_log_tail(ts, 40);
	return -1;
}

/* Appends one argument to the NULL-terminated argv. */
static int ts_add_arg(struct test_server *ts, int *argc, const char *arg)
{
	char **grown = realloc(ts->argv, sizeof *grown * (size_t)(*argc + 2));
	if (!grown)
		return -1;
	ts->argv = grown;
	ts->argv[*argc] = strdup(arg);
	ts->argv[*argc + 1] = NULL;
	if (!ts->argv[*argc])
		return -1;
	(*argc)++;
	return 0;
}

/* Builds the command line, creates the log folder and starts the server. */
struct test_server *ts_start(const char *config, const char *redis_socket, const char *const *extra_args)
{
	struct test_server *ts = calloc(1, sizeof *ts);
	if (!ts)
		return NULL;
	const char *build = getenv("QHALL_BUILD");
	char bin[PATH_MAX];
	snprintf(bin, sizeof bin, "%s/qserver", build && *build ? build : "build");
	strcpy(ts->dir, "/tmp/qhall-testserver-XXXXXX");
	if (!mkdtemp(ts->dir)) {
		fprintf(stderr, "testserver: mkdtemp: %s\n", strerror(errno));
		free(ts);
		return NULL;
	}
	snprintf(ts->log_path, sizeof ts->log_path, "%s/qserver.log", ts->dir);
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "testserver: no qserver at %s (set QHALL_BUILD or run make): %s\n", bin,
			strerror(errno));
		ts_free(ts);
		return NULL;
	}
	ts->port = ts_free_port();
	snprintf(ts->address, sizeof ts->address, "127.0.0.1:%d", ts->port);
	char redis[PATH_MAX + 8];
	snprintf(redis, sizeof redis, "unix:%s", redis_socket ? redis_socket : "");
	const char *fixed[] = {bin, "--config", config, redis_socket ? "--redis" : NULL, redis,
			       "--listen", ts->address, "--test-clock", "--log-level", "warn"};
	int argc = 0;
	int bad = ts->port < 0;
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0] && !bad; i++) {
		if (!fixed[i]) {
			i++; /* no --redis: skip its value too */
			continue;
		}
		bad = ts_add_arg(ts, &argc, fixed[i]) < 0;
	}
	for (int i = 0; extra_args && extra_args[i] && !bad; i++)
		bad = ts_add_arg(ts, &argc, extra_args[i]) < 0;
	if (bad || ts_launch(ts) < 0) {
		ts_free(ts);
		return NULL;
	}
	return ts;
}

/* Waits up to the timeout for the child to exit; returns its decoded status or -1. */
static int ts_reap(struct test_server *ts, int timeout_ms)
{
	long long deadline = ts_now_ms() + timeout_ms;
	for (;;) {
		int status;
		pid_t r = waitpid(ts->pid, &status, WNOHANG);
		if (r == ts->pid) {
			ts->pid = 0;
			return ts_decode_status(status);
		}
		if (r < 0) {
			ts->pid = 0;
			return -1;
		}
		if (ts_now_ms() >= deadline)
			return -2;
		ts_nap(10);
	}
}

/* Stops with SIGTERM, escalating to SIGKILL after the timeout. */
int ts_stop(struct test_server *ts)
{
	if (!ts_running(ts)) {
		fprintf(stderr, "testserver: ts_stop: qserver was not running\n");
		return -1;
	}
	kill(ts->pid, SIGTERM);
	int status = ts_reap(ts, ts_timeout_ms());
	if (status == -2) {
		fprintf(stderr, "testserver: qserver ignored SIGTERM for %d ms; killing it\n", ts_timeout_ms());
		kill(ts->pid, SIGKILL);
		waitpid(ts->pid, NULL, 0);
		ts->pid = 0;
		status = -1;
	}
	if (status != 0) {
		fprintf(stderr, "testserver: qserver stopped with status %d\n", status);
		ts_print_log_tail(ts, 40);
	}
	return status;
}

/* Kills with SIGKILL and reaps. */
int ts_kill(struct test_server *ts)
{
	if (!ts_running(ts))
		return -1;
	kill(ts->pid, SIGKILL);
	waitpid(ts->pid, NULL, 0);
	ts->pid = 0;
	return 0;
}

/* Starts again with the same command line. */
int ts_restart(struct test_server *ts)
{
	if (ts_running(ts))
		ts_stop(ts);
	return ts_launch(ts);
}

/* The port. */
int ts_port(const struct test_server *ts)
{
	return ts->port;
}

/* The address. */
const char *ts_address(const struct test_server *ts)
{
	return ts->address;
}

/* The pid. */
pid_t ts_pid(const struct test_server *ts)
{
	return ts->pid;
}

/* The log path. */
const char *ts_log_path(const struct test_server *ts)
{
	return ts->log_path;
}

/* Stops, removes the temp folder and frees. */
void ts_free(struct test_server *ts)
{
	if (!ts)
		return;
	if (ts_running(ts))
		ts_stop(ts);
	if (getenv("QHALL_KEEP_TEST_LOGS")) {
		fprintf(stderr, "testserver: log kept at %s\n", ts->log_path);
	} else {
		unlink(ts->log_path);
		rmdir(ts->dir);
	}
	for (int i = 0; ts->argv && ts->argv[i]; i++)
		free(ts->argv[i]);
	free(ts->argv);
	free(ts);
}
