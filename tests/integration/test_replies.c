/* Answers through a real qserver: a client that pipelines many requests gets every answer, in
 * order, and a client that stops reading until its socket is full still gets every answer
 * later, whole and in order, while the other clients are answered meanwhile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testassert.h"
#include "testhall.h"

#define PINGS 2000
#define SNAPSHOTS 3000

/* Sends n requests of one op with ids 1..n in one write, the lines joined. */
static void send_numbered(struct hall_pipe *p, const char *op, int n)
{
	size_t cap = (size_t)n * 64, len = 0;
	char *lines = malloc(cap);
	assert_non_null(lines);
	for (int i = 1; i <= n; i++)
		len += (size_t)snprintf(lines + len, cap - len, "{\"id\":%d,\"op\":\"%s\"}\n", i, op);
	assert_int_equal(hall_pipe_send_raw(p, lines, len), 0);
	free(lines);
}

/* Reads n answers and checks that they are ok and come whole with ids 1..n in order. */
static void read_numbered(struct hall_pipe *p, int n)
{
	for (int i = 1; i <= n; i++) {
		cJSON *r = hall_pipe_read(p, 10000);
		if (!r)
			fail_msg("answer %d of %d did not come whole", i, n);
		if (!tc_ok(r) || get_num(r, "id", NULL) != i)
			fail_msg("answer %d of %d came with id %g", i, n, get_num(r, "id", NULL));
		cJSON_Delete(r);
	}
}

/* 2,000 pings in one write: 2,000 answers, each once, in the order asked. */
static void replies__two_thousand_pipelined__every_answer_in_order(void **state)
{
	(void)state;
	struct hall_pipe *p = hall_pipe_open(hall.port);
	assert_non_null(p);
	send_numbered(p, "ping", PINGS);
	read_numbered(p, PINGS);
	hall_pipe_fill(p);
	assert_int_equal(p->len, 0); /* nothing more */
	hall_pipe_close(p);
}

/* A kiosk with a small receive buffer asks for 3,000 snapshots (about 3.9 MB of answers, more
 * than loopback TCP holds for a reader that does not read, under qserver's 4 MB --max-output)
 * and reads nothing: qserver's socket fills, a write takes only part of an answer and the rest
 * waits in qserver. Another client is answered meanwhile (a qserver that waited on the full
 * socket would never answer it, as the kiosk reads only afterwards); then the kiosk takes a
 * large receive buffer and reads every answer, whole and in order. */
static void replies__socket_full__others_answered_and_every_answer_comes_later(void **state)
{
	(void)state;
	struct hall_pipe *slow = hall_pipe_open(hall.port);
	assert_non_null(slow);
	assert_true(hall_pipe_hello(slow, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"kiosk123\"}"));
	int small = 4096;
	assert_int_equal(setsockopt(slow->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
	send_numbered(slow, "snapshot", SNAPSHOTS);
	sleep(3); /* qserver answers them all into the full socket; no result depends on how far it got */
	struct hall_pipe *other = hall_pipe_open(hall.port);
	assert_non_null(other);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(hall_pipe_send(other, "{\"op\":\"ping\"}"), 0);
		cJSON *r = hall_pipe_read(other, 5000);
		assert_true(tc_ok(r));
		cJSON_Delete(r);
	}
	int big = 4 << 20;
	assert_int_equal(setsockopt(slow->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big), 0);
	read_numbered(slow, SNAPSHOTS);
	hall_pipe_close(other);
	hall_pipe_close(slow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replies__two_thousand_pipelined__every_answer_in_order),
		cmocka_unit_test(replies__socket_full__others_answered_and_every_answer_comes_later),
	};
	return cmocka_run_group_tests_name("replies", tests, hall_fixture_start, hall_fixture_stop);
}
