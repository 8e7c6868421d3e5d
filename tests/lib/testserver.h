/* Runs the real qserver ($QHALL_BUILD/qserver, "build" by default) as a child process for
 * integration tests, on a free loopback port, against a private redis-server:
 *   qserver --config CFG --redis unix:SOCK --listen 127.0.0.1:PORT --test-clock --log-level warn [extra...]
 * Its stdout and stderr go to a log file in a temp folder; the tail is printed when it fails
 * to start or stops badly. */
#ifndef QHALL_TESTSERVER_H
#define QHALL_TESTSERVER_H

#include <stdbool.h>
#include <sys/types.h>

struct test_server;

/* How long a start may take before it counts as failed: 10 s, or $QHALL_TEST_START_TIMEOUT_MS. */
#define TS_START_TIMEOUT_MS 10000

/* Starts qserver and waits until it accepts a TCP connection and answers a ping line. config
 * is the hall config path; redis_socket the Unix socket path of the redis-server (NULL: no
 * --redis, qserver embeds its own); extra_args a NULL-terminated list or NULL. Returns NULL
 * after printing the log tail when it does not come up. */
struct test_server *ts_start(const char *config, const char *redis_socket, const char *const *extra_args);

/* Stops with SIGTERM and waits; returns the exit code (0 for a clean stop), 128 + the signal
 * if one ended it, or -1 if it was not running or had to be killed after the timeout. */
int ts_stop(struct test_server *ts);

/* Kills with SIGKILL (a crash, as far as clients and Redis can tell) and reaps it; returns 0,
 * or -1 if it was not running. */
int ts_kill(struct test_server *ts);

/* Starts it again with the same arguments and port (after ts_stop or ts_kill; a running server
 * is stopped first). Returns 0, or -1 after printing the log tail. */
int ts_restart(struct test_server *ts);

/* Whether the child is still running (reaps it if it exited on its own). */
bool ts_running(struct test_server *ts);

/* A loopback port nothing listens on now (bind to port 0), or -1. */
int ts_free_port(void);

/* The loopback port it listens on. */
int ts_port(const struct test_server *ts);

/* "127.0.0.1:PORT", for client_new and sync_connect. */
const char *ts_address(const struct test_server *ts);

/* The child's pid (0 when not running). */
pid_t ts_pid(const struct test_server *ts);

/* The path of its log file. */
const char *ts_log_path(const struct test_server *ts);

/* Prints the last lines of the log to stderr. */
void ts_print_log_tail(const struct test_server *ts, int lines);

/* Stops it if running and frees; the temp folder is removed unless $QHALL_KEEP_TEST_LOGS is
 * set. NULL is ignored. */
void ts_free(struct test_server *ts);

#endif
