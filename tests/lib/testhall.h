/* A test hall: a private redis-server and a qserver on tests/data/small.json (windows 1-2
 * comprehensive, window 3 serving B; clerks c01 on 1-2, c02 on 2-3, c03 on 3; manager m01;
 * kiosk token kiosk123), with the clock set to a known Friday morning. */
#ifndef QHALL_TESTHALL_H
#define QHALL_TESTHALL_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "testclient.h"
#include "testredis.h"
#include "testserver.h"

/* Friday 2026-11-27 10:00 in Asia/Shanghai. */
#define HALL_T0 1795744800L

struct test_hall {
	struct testredis redis;
	struct test_server *server;
	int port;
	bool redis_frozen; /* SIGSTOP sent and not yet undone */
};

/* The hall of a test program, used by the fixtures below. */
extern struct test_hall hall;

/* cmocka fixtures on `hall`: start it (Redis without or with AOF), stop it (failing when
 * qserver does not stop cleanly), and give each test a new hall. */
int hall_fixture_start(void **state);
int hall_fixture_start_aof(void **state);
int hall_fixture_stop(void **state);
int hall_fixture_reset(void **state);

/* Starts Redis (AOF when appendonly) and qserver with extra arguments, and waits until
 * qserver serves requests; 0 or -1. */
int hall_start(struct test_hall *h, bool appendonly, const char *const *extra_args);
/* Starts another qserver on the hall's Redis (the same site), clock at HALL_T0, and waits
 * until it serves requests; NULL on failure. Stop it with ts_stop and ts_free. */
struct test_server *hall_start_another(struct test_hall *h);

/* Starts only qserver on the Redis at redis_addr (sentinel://..., IP:PORT); h->redis stays
 * unused. 0 or -1. */
int hall_start_on(struct test_hall *h, const char *redis_addr, const char *const *extra_args);
/* Freezes Redis with SIGSTOP, as a hung server; hall_redis_thaw, hall_reset and hall_stop
 * undo it. */
void hall_redis_freeze(struct test_hall *h);
void hall_redis_thaw(struct test_hall *h);

/* Empties Redis (started again if a test killed it), restarts qserver and sets its clock to HALL_T0; 0 or -1. */
int hall_reset(struct test_hall *h);
/* Waits until qserver answers `services` with ok (Redis linked and set up); 0 or -1. */
int hall_wait_ready(struct test_hall *h, int timeout_ms);
/* Waits until the qserver on port serves requests that need Redis. */
int hall_wait_port_ready(int port, int timeout_ms);
/* Stops qserver and Redis; returns qserver's exit status (0 for a clean stop; a sanitizer
 * report at exit makes it non-zero). A qserver a test left down is started first, so that
 * its clean stop is checked too. */
int hall_stop(struct test_hall *h);

/* Connections already past hello, or NULL. */
struct tc *hall_kiosk(struct test_hall *h);
struct tc *hall_clerk(struct test_hall *h, const char *user, int window);
struct tc *hall_manager(struct test_hall *h);
struct tc *hall_public(struct test_hall *h);

/* Moves the test clock to t (epoch seconds); 0 or -1. */
int hall_set_clock(struct test_hall *h, long t);
/* qserver's clock now (epoch seconds, the `time` of a ping); -1 on failure. The test clock runs
 * on in real time from where it was set, so a time qserver records lies between the clock set
 * and this read after it. */
long hall_clock_now(struct test_hall *h);

/* Takes a ticket and returns its number in buf (NULL when refused). */
const char *hall_take(struct tc *kiosk, const char *service, const char *cls, char *buf, size_t len);

/* Reads a string member of a member: get_str(resp, "ticket", "state"); NULL if absent. */
const char *get_str(const cJSON *o, const char *a, const char *b);
/* Reads a number member of a member, or -1 when absent or not a number. */
double get_num(const cJSON *o, const char *a, const char *b);


/* ---- Added for the race, crash, shutdown and Redis-outage tests ---- */

/* Milliseconds of the monotonic clock. */
long long hall_now_ms(void);

/* The path of a file under $QHALL_ROOT/tests/data (a static buffer, overwritten by the next call). */
const char *hall_data_path(const char *name);

/* As hall_start, with another hall config from tests/data (e.g. "race.json"). */
int hall_start_config(struct test_hall *h, const char *config_name, bool appendonly, const char *const *extra_args);

/* Starts qserver without --redis: it runs its own Redis in a new temp state folder, kept in
 * h->redis (dir and socket; pid stays 0, so freezing does nothing and hall_stop removes the
 * folder). The clock starts at HALL_T0. 0 or -1. */
int hall_start_embedded(struct test_hall *h, const char *const *extra_args);

/* Whether something accepts connections on a Unix socket path. */
bool hall_unix_socket_answers(const char *path);

/* How many lines of qserver's log contain needle. */
int hall_log_count(struct test_hall *h, const char *needle);

/* A raw pipelined connection: the test keeps many requests in flight and polls several of
 * these at once (hall_pipe_fd). Lines that are not JSON objects come back as cJSON null. */
struct hall_pipe {
	int fd;
	char *buf; /* bytes read, not yet taken as lines */
	size_t len, cap;
	bool eof; /* the server closed or reset the connection */
};

/* Connects to 127.0.0.1:port; NULL on failure. */
struct hall_pipe *hall_pipe_open(int port);
/* Writes the bytes whole (waiting up to 5 s for room); 0 or -1. */
int hall_pipe_send_raw(struct hall_pipe *p, const void *bytes, size_t len);
/* Writes one printf-built line and its newline; 0 or -1. */
int hall_pipe_send(struct hall_pipe *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads whatever the socket holds now, without waiting; sets eof at close. Returns bytes read. */
int hall_pipe_fill(struct hall_pipe *p);
/* The next whole buffered line, parsed; NULL when no whole line is buffered. */
cJSON *hall_pipe_take(struct hall_pipe *p);
/* The next line, waiting up to timeout_ms; NULL on timeout or close. */
cJSON *hall_pipe_read(struct hall_pipe *p, int timeout_ms);
/* Sends a hello line and waits for its answer; true when ok. */
bool hall_pipe_hello(struct hall_pipe *p, const char *hello_json);
/* Waits up to timeout_ms for the server to close, buffering (and not parsing) what comes. */
bool hall_pipe_wait_close(struct hall_pipe *p, int timeout_ms);
/* Closes and frees; NULL is ignored. */
void hall_pipe_close(struct hall_pipe *p);

#endif
