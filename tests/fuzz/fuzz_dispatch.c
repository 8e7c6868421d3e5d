/* libFuzzer harness: one client's byte stream through qserver's connection (framing), request
 * parsing, validation and op dispatch, on the test hall and without Redis, so every handler
 * that would call Redis answers `unavailable`; each input is played on an ordinary connection and
 * on one holding a reserved slot. Each reply line must be a JSON object, and a
 * closed connection must leave nothing behind. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "qserver.h"

#ifndef FUZZ_HALL
#define FUZZ_HALL "tests/data/small.json"
#endif

/* Loads the hall and sets the server up as main.c does (sign-in workers too), less Redis and
 * the listener. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char err[512];
	log_set_level(LOG_ERROR + 1); /* the log is not under test; keep the fuzzer's output readable */
	if (sites_load(FUZZ_HALL, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz_dispatch: %s\n", err);
		abort();
	}
	server.base = event_base_new();
	server.opt = (struct server_options){.listen = "127.0.0.1:0", .max_conns = 10, .max_per_addr = 10,
					     .reserved_conns = 1, .hello_timeout_ms = 10000, .max_output = 1 << 20,
					     .max_pending = 64, .rate_per_sec = 1000000, .redis_timeout_ms = 1000,
					     .test_clock = 1, .lease_s = 30,
					     .login_failures = 5, .login_threads = 1};
	if (login_start() < 0) /* hellos are checked on the sign-in workers, as in main.c */
		abort();
	return 0;
}

/* Aborts unless each whole line in buf[0..len) parses as a JSON object; returns the bytes
 * taken (the part after the last newline stays for the next read). */
static size_t check_replies(const char *buf, size_t len)
{
	size_t used = 0;
	const char *nl;
	while ((nl = memchr(buf + used, '\n', len - used)) != NULL) {
		cJSON *j = cJSON_ParseWithLength(buf + used, (size_t)(nl - (buf + used)));
		if (!cJSON_IsObject(j)) {
			fprintf(stderr, "fuzz_dispatch: a reply line is not a JSON object: %.*s\n",
				(int)(nl - (buf + used)), buf + used);
			abort();
		}
		cJSON_Delete(j);
		used = (size_t)(nl - buf) + 1;
	}
	return used;
}

/* Runs the loop once and reads what the server sent so far into out; 0 at end of stream. */
static int pump(int peer, char *out, size_t cap, size_t *len)
{
	event_base_loop(server.base, EVLOOP_NONBLOCK);
	for (;;) {
		if (*len == cap) {
			fprintf(stderr, "fuzz_dispatch: a reply line is over %zu bytes\n", cap);
			abort();
		}
		ssize_t n = read(peer, out + *len, cap - *len);
		if (n == 0)
			return 0;
		if (n < 0)
			return 1;
		*len += (size_t)n;
		size_t used = check_replies(out, *len);
		memmove(out, out + used, *len - used);
		*len -= used;
	}
}

/* Feeds the bytes to a new connection as its client would send them, then hangs up and lets
 * the server finish. probation: the connection holds a reserved slot (admission.c). */
static void feed(const uint8_t *data, size_t size, int probation)
{
	static char out[1 << 17];
	size_t out_len = 0;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	struct conn *c = conn_create(sv[0], "fuzz");
	if (!c) {
		close(sv[1]);
		return;
	}
	if (probation)
		conn_hold_reserved(c);
	size_t off = 0;
	while (off < size) {
		ssize_t n = write(sv[1], data + off, size - off);
		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN)
			break; /* the server closed (too_long): the rest is never read */
		if (!pump(sv[1], out, sizeof out, &out_len))
			break;
	}
	shutdown(sv[1], SHUT_WR);
	/* The server answers what it read, then closes when it sees the end of the stream. */
	for (int i = 0; i < 1000 && conn_count > 0; i++)
		if (!pump(sv[1], out, sizeof out, &out_len))
			break;
	conn_close_all();
	close(sv[1]);
	clock_set_offset(0);
}

/* Plays one input on an ordinary connection and on one holding a reserved slot. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	feed(data, size, 0);
	feed(data, size, 1);
	return 0;
}
