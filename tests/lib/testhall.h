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
};

/* Starts Redis (AOF when appendonly) and qserver with extra arguments, and waits until
 * qserver serves requests; 0 or -1. */
int hall_start(struct test_hall *h, bool appendonly, const char *const *extra_args);
/* Empties Redis, restarts qserver and sets its clock to HALL_T0; 0 or -1. */
int hall_reset(struct test_hall *h);
/* Waits until qserver answers `services` with ok (Redis linked and set up); 0 or -1. */
int hall_wait_ready(struct test_hall *h, int timeout_ms);
/* Stops qserver (asserting nothing) and Redis. */
void hall_stop(struct test_hall *h);

/* Connections already past hello, or NULL. */
struct tc *hall_kiosk(struct test_hall *h);
struct tc *hall_clerk(struct test_hall *h, const char *user, int window);
struct tc *hall_manager(struct test_hall *h);
struct tc *hall_public(struct test_hall *h);

/* Moves the test clock to t (epoch seconds); 0 or -1. */
int hall_set_clock(struct test_hall *h, long t);

/* Takes a ticket and returns its number in buf (NULL when refused). */
const char *hall_take(struct tc *kiosk, const char *service, const char *cls, char *buf, size_t len);

/* Reads a string member of a member: get_str(resp, "ticket", "state"); NULL if absent. */
const char *get_str(const cJSON *o, const char *a, const char *b);
/* Reads a number member of a member, or -1 when absent or not a number. */
double get_num(const cJSON *o, const char *a, const char *b);

#endif
