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
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testassert.h"
#include "testhall.h"

#define PINGS 2000
#define SNAPSHOTS 300

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

/* Reads n answers and checks that they are ok and come with ids 1..n in order; returns about
 * the bytes they took (each printed again, qserver's own compact form). */
static size_t read_numbered(struct hall_pipe *p, int n)
{
	size_t bytes = 0;
	for (int i = 1; i <= n; i++) {
		cJSON *r = hall_pipe_read(p, 10000);
		if (!r)
			fail_msg("answer %d of %d did not come", i, n);
		if (!tc_ok(r) || get_num(r, "id", NULL) != i)
			fail_msg("answer %d of %d came with id %g", i, n, get_num(r, "id", NULL));
		char *line = cJSON_PrintUnformatted(r);
		bytes += line ? strlen(line) + 1 : 0;
		free(line);
		cJSON_Delete(r);
	}
	return bytes;
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

/* A client with a small receive buffer asks for 300 snapshots and reads nothing: its socket
 * fills and the rest of its answers wait in qserver. Another client is answered meanwhile;
 * then the first reads every answer, whole and in order. */
static void replies__socket_full__others_answered_and_every_answer_comes_later(void **state)
{
	(void)state;
	struct hall_pipe *slow = hall_pipe_open(hall.port);
	assert_non_null(slow);
	int small = 4096;
	assert_int_equal(setsockopt(slow->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
	send_numbered(slow, "snapshot", SNAPSHOTS);
	struct hall_pipe *other = hall_pipe_open(hall.port);
	assert_non_null(other);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(hall_pipe_send(other, "{\"op\":\"ping\"}"), 0);
		cJSON *r = hall_pipe_read(other, 5000);
		assert_true(tc_ok(r));
		cJSON_Delete(r);
	}
	/* what the slow client's socket holds before it reads: less than all its answers */
	int waiting = 0;
	usleep(200 * 1000);
	assert_int_equal(ioctl(slow->fd, FIONREAD, &waiting), 0);
	size_t total = read_numbered(slow, SNAPSHOTS);
	if ((size_t)waiting >= total)
		fail_msg("the socket held all %zu bytes of answers (%d): it never filled", total, waiting);
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
