/* Request validation, framing bounds and reply order of qserver's connections, without Redis:
 * a real conn on one end of a socketpair, the test on the other, driving the event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "password.h"
#include "qserver.h"

struct fixture {
	int peer; /* the test's end of the socketpair */
	char buf[1 << 17];
	size_t len;
};

/* Loads the small test hall and makes a connection to talk to. */
static int setup(void **state)
{
	static struct fixture f;
	memset(&f, 0, sizeof f);
	char path[512], err[512];
	const char *root = getenv("QHALL_ROOT");
	snprintf(path, sizeof path, "%s/tests/data/small.json", root ? root : ".");
	memset(&server, 0, sizeof server);
	struct config *cfg = config_load(path, err, sizeof err);
	assert_non_null(cfg);
	assert_int_equal(sites_add(cfg), 0);
	server.base = event_base_new();
	server.opt = (struct server_options){.listen = "127.0.0.1:0", .max_conns = 10, .hello_timeout_ms = 10000,
					     .max_output = 1 << 20, .max_pending = 64, .rate_per_sec = 2000,
					     .redis_timeout_ms = 1000, .lease_s = 30, .login_failures = 5, .login_threads = 1};
	assert_int_equal(login_start(), 0);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	assert_non_null(conn_create(sv[0], "test"));
	f.peer = sv[1];
	*state = &f;
	return 0;
}

/* Closes everything the fixture made. */
static int teardown(void **state)
{
	struct fixture *f = *state;
	close(f->peer);
	conn_close_all();
	login_stop();
	event_base_free(server.base);
	sites_free();
	return 0;
}

/* Runs the loop until nothing more happens right away. */
static void pump(void)
{
	for (int i = 0; i < 20; i++)
		event_base_loop(server.base, EVLOOP_NONBLOCK);
}

/* Sends bytes to the server end. */
static void send_raw(struct fixture *f, const char *bytes, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(f->peer, bytes + off, len - off);
		if (n < 0 && errno == EAGAIN) {
			pump();
			continue;
		}
		assert_true(n > 0);
		off += (size_t)n;
		pump();
	}
	pump();
}

/* Reads the next reply line (the loop runs meanwhile); NULL when the server closed. */
static cJSON *next_reply(struct fixture *f)
{
	for (int tries = 0; tries < 200; tries++) {
		char *nl = memchr(f->buf, '\n', f->len);
		if (nl) {
			*nl = '\0';
			cJSON *j = cJSON_Parse(f->buf);
			size_t used = (size_t)(nl - f->buf) + 1;
			memmove(f->buf, nl + 1, f->len - used);
			f->len -= used;
			assert_non_null(j);
			return j;
		}
		pump();
		struct pollfd p = {.fd = f->peer, .events = POLLIN};
		if (poll(&p, 1, 10) == 1) {
			ssize_t n = read(f->peer, f->buf + f->len, sizeof f->buf - f->len - 1);
			if (n <= 0)
				return NULL;
			f->len += (size_t)n;
		}
	}
	fail_msg("no reply");
	return NULL;
}

/* Sends one line and returns its reply. */
static cJSON *ask(struct fixture *f, const char *line)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s\n", line);
	send_raw(f, buf, strlen(buf));
	return next_reply(f);
}

/* Asserts that a reply is an error with this code (and field, when not NULL). */
static void assert_error(cJSON *reply, const char *code, const char *field)
{
	assert_non_null(reply);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(reply, "ok")));
	cJSON *err = cJSON_GetObjectItem(reply, "error");
	assert_string_equal(cJSON_GetObjectItem(err, "code")->valuestring, code);
	assert_true(strlen(cJSON_GetObjectItem(err, "message")->valuestring) > 10);
	if (field)
		assert_string_equal(cJSON_GetObjectItem(err, "field")->valuestring, field);
	cJSON_Delete(reply);
}

static void request__not_json__bad_json_and_connection_stays(void **state)
{
	struct fixture *f = *state;
	assert_error(ask(f, "this is not json"), "bad_json", NULL);
	assert_error(ask(f, "[1,2,3]"), "bad_json", NULL);
	assert_error(ask(f, "{\"op\":\"ping\"} trailing"), "bad_json", NULL);
	cJSON *pong = ask(f, "{\"id\":1,\"op\":\"ping\"}");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(pong, "ok")));
	assert_int_equal(cJSON_GetObjectItem(pong, "id")->valueint, 1);
	cJSON_Delete(pong);
}

static void request__invalid_utf8_or_nul__bad_json(void **state)
{
	struct fixture *f = *state;
	assert_error(ask(f, "{\"op\":\"ping\",\"x\":\"\xc3\x28\"}"), "bad_json", NULL);
	assert_error(ask(f, "{\"op\":\"ping\",\"x\":\"\xed\xa0\x80\"}"), "bad_json", NULL); /* a surrogate */
	send_raw(f, "{\"op\":\"ping\"\0}\n", 15);
	assert_error(next_reply(f), "bad_json", NULL);
}

static void request__deep_nesting__bad_json(void **state)
{
	struct fixture *f = *state;
	static char line[6000];
	size_t n = 0;
	n += (size_t)sprintf(line, "{\"op\":\"ping\",\"x\":");
	for (int i = 0; i < 2000; i++)
		line[n++] = '[';
	for (int i = 0; i < 2000; i++)
		line[n++] = ']';
	line[n++] = '}';
	line[n] = '\0';
	assert_error(ask(f, line), "bad_json", NULL);
}

static void request__id_of_wrong_type__bad_request(void **state)
{
	struct fixture *f = *state;
	assert_error(ask(f, "{\"id\":{\"a\":1},\"op\":\"ping\"}"), "bad_request", "id");
	assert_error(ask(f, "{\"id\":1.5,\"op\":\"ping\"}"), "bad_request", "id");
	assert_error(ask(f, "{\"id\":1e300,\"op\":\"ping\"}"), "bad_request", "id");
	cJSON *r = ask(f, "{\"id\":\"abc\",\"op\":\"ping\"}");
	assert_string_equal(cJSON_GetObjectItem(r, "id")->valuestring, "abc");
	cJSON_Delete(r);
}

static void request__op_missing_or_unknown__named(void **state)
{
	struct fixture *f = *state;
	assert_error(ask(f, "{\"id\":2}"), "bad_request", "op");
	assert_error(ask(f, "{\"op\":7}"), "bad_request", "op");
	assert_error(ask(f, "{\"op\":\"teleport\"}"), "unknown_op", "op");
	/* The test clock exists only with --test-clock. */
	assert_error(ask(f, "{\"op\":\"clock\",\"advance\":60}"), "unknown_op", "op");
}

static void request__public_take__unauthenticated(void **state)
{
	struct fixture *f = *state;
	assert_error(ask(f, "{\"op\":\"take\",\"service\":\"A\"}"), "unauthenticated", NULL);
	assert_error(ask(f, "{\"op\":\"call_next\"}"), "unauthenticated", NULL);
}

static void hello__bad_kiosk_token__unauthenticated(void **state)
{
	struct fixture *f = *state;
	assert_error(ask(f, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"wrong\"}"), "unauthenticated", "token");
	assert_error(ask(f, "{\"op\":\"hello\",\"role\":\"kiosk\"}"), "bad_request", "token");
	assert_error(ask(f, "{\"op\":\"hello\",\"role\":\"wizard\"}"), "bad_request", "role");
	assert_error(ask(f, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"m01\",\"password\":\"nope\"}"), "unauthenticated", NULL);
	assert_error(ask(f, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"c01\",\"password\":\"clerk123\"}"), "forbidden", "role");
	assert_error(ask(f, "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c01\",\"password\":\"clerk123\",\"window\":3}"), "forbidden", "window");
	assert_error(ask(f, "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c01\",\"password\":\"clerk123\",\"window\":99}"), "not_found", "window");
}

/* An unknown user's password is checked too (against a dummy hash of the configured method),
 * so the answer takes as long as for a real user's wrong password: one crypt call each. */
static void hello__unknown_user__checked_like_a_real_one(void **state)
{
	struct fixture *f = *state;
	unsigned long before = authpool_hashes_checked();
	assert_error(ask(f, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"nobody\",\"password\":\"x\"}"), "unauthenticated", NULL);
	assert_int_equal(authpool_hashes_checked() - before, 1);
	assert_error(ask(f, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"m01\",\"password\":\"x\"}"), "unauthenticated", NULL);
	assert_int_equal(authpool_hashes_checked() - before, 2);
	/* The dummy is of the configured method ($5$ here), and nothing signs in with it. */
	assert_memory_equal(login_dummy_hash(), "$5$", 3);
	assert_false(password_verify("manager123", login_dummy_hash()));
}

/* A peer's address is its host part, for the per-address budget. */
static void login__peer_address__host_without_port(void **state)
{
	(void)state;
	char out[64];
	login_peer_address("127.0.0.1:40123", out, sizeof out);
	assert_string_equal(out, "127.0.0.1");
	login_peer_address("[::1]:40123", out, sizeof out);
	assert_string_equal(out, "::1");
	login_peer_address("unix", out, sizeof out);
	assert_string_equal(out, "unix");
}

static void take__wrong_arguments__field_named(void **state)
{
	struct fixture *f = *state;
	cJSON *hello = ask(f, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"kiosk123\"}");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(hello, "ok")));
	assert_string_equal(cJSON_GetObjectItem(hello, "role")->valuestring, "kiosk");
	cJSON_Delete(hello);
	assert_error(ask(f, "{\"op\":\"take\"}"), "bad_request", "service");
	assert_error(ask(f, "{\"op\":\"take\",\"service\":5}"), "bad_request", "service");
	assert_error(ask(f, "{\"op\":\"take\",\"service\":\"Z\"}"), "not_found", "service");
	assert_error(ask(f, "{\"op\":\"take\",\"service\":\"A\",\"class\":\"vip\"}"), "bad_request", "class");
	char line[512];
	snprintf(line, sizeof line, "{\"op\":\"take\",\"service\":\"A\",\"ref\":\"%065d\"}", 0);
	assert_error(ask(f, line), "bad_request", "ref");
	/* 64 Chinese characters are 64 characters, not 192. */
	char ref[64 * 3 + 1] = "";
	for (int i = 0; i < 64; i++)
		strcat(ref, "号");
	snprintf(line, sizeof line, "{\"op\":\"take\",\"service\":\"A\",\"ref\":\"%s\"}", ref);
	assert_error(ask(f, line), "unavailable", NULL); /* valid: it only lacks Redis here */
	assert_error(ask(f, "{\"op\":\"rate\",\"id\":\"x\",\"score\":9}"), "bad_request", "score");
	assert_error(ask(f, "{\"op\":\"rate\",\"id\":\"x\",\"score\":1e400}"), "bad_request", "score");
	/* A kiosk may not call tickets. */
	assert_error(ask(f, "{\"op\":\"call_next\",\"window\":1}"), "forbidden", NULL);
	/* Saying hello twice is refused. */
	assert_error(ask(f, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"kiosk123\"}"), "conflict", NULL);
}

static void manager__window_op_without_window__bad_request(void **state)
{
	struct fixture *f = *state;
	cJSON *hello = ask(f, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"m01\",\"password\":\"manager123\"}");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(hello, "ok")));
	cJSON_Delete(hello);
	assert_error(ask(f, "{\"op\":\"call_next\"}"), "bad_request", "window");
	assert_error(ask(f, "{\"op\":\"call_next\",\"window\":\"1\"}"), "bad_request", "window");
	assert_error(ask(f, "{\"op\":\"call_next\",\"window\":42}"), "not_found", "window");
	assert_error(ask(f, "{\"op\":\"transfer\",\"window\":1,\"service\":\"Q\"}"), "not_found", "service");
	assert_error(ask(f, "{\"op\":\"transfer\",\"window\":1,\"service\":\"A\",\"target_window\":3}"), "bad_request", "target_window");
	assert_error(ask(f, "{\"op\":\"no_show\",\"window\":1,\"requeue\":\"yes\"}"), "bad_request", "requeue");
	assert_error(ask(f, "{\"op\":\"queue\",\"window\":3,\"service\":\"A\"}"), "bad_request", "service");
	/* Valid requests reach storage, which this test does not have. */
	assert_error(ask(f, "{\"op\":\"call_next\",\"window\":1}"), "unavailable", NULL);
}

static void replies__keep_request_order(void **state)
{
	struct fixture *f = *state;
	const char *lines = "{\"id\":1,\"op\":\"ping\"}\nnope\n{\"id\":3,\"op\":\"services\"}\n{\"id\":4,\"op\":\"ping\"}\n";
	send_raw(f, lines, strlen(lines));
	int expect[] = {1, 0, 3, 4};
	for (int i = 0; i < 4; i++) {
		cJSON *r = next_reply(f);
		cJSON *id = cJSON_GetObjectItem(r, "id");
		if (expect[i])
			assert_int_equal(id->valueint, expect[i]);
		else
			assert_null(id);
		cJSON_Delete(r);
	}
}

static void line__over_64k__too_long_then_closed(void **state)
{
	struct fixture *f = *state;
	size_t n = 70000;
	char *big = malloc(n);
	memset(big, 'x', n);
	send_raw(f, big, n);
	free(big);
	assert_error(next_reply(f), "too_long", NULL);
	assert_null(next_reply(f)); /* then the server closes */
}

static void line__exactly_64k__accepted(void **state)
{
	struct fixture *f = *state;
	size_t n = 65536;
	char *line = malloc(n);
	int head = sprintf(line, "{\"id\":9,\"op\":\"ping\",\"pad\":\"");
	memset(line + head, 'p', n - head - 3);
	memcpy(line + n - 3, "\"}\n", 3);
	send_raw(f, line, n);
	free(line);
	cJSON *r = next_reply(f);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
	cJSON_Delete(r);
}

static void subscribe__unknown_topic__bad_request(void **state)
{
	struct fixture *f = *state;
	assert_error(ask(f, "{\"op\":\"subscribe\",\"topics\":[\"called\",\"gossip\"]}"), "bad_request", "topics");
	assert_error(ask(f, "{\"op\":\"subscribe\",\"topics\":\"called\"}"), "bad_request", "topics");
	cJSON *r = ask(f, "{\"op\":\"subscribe\",\"topics\":[\"called\",\"queue\"]}");
	cJSON *topics = cJSON_GetObjectItem(r, "topics");
	assert_int_equal(cJSON_GetArraySize(topics), 2);
	cJSON_Delete(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(request__not_json__bad_json_and_connection_stays, setup, teardown),
		cmocka_unit_test_setup_teardown(request__invalid_utf8_or_nul__bad_json, setup, teardown),
		cmocka_unit_test_setup_teardown(request__deep_nesting__bad_json, setup, teardown),
		cmocka_unit_test_setup_teardown(request__id_of_wrong_type__bad_request, setup, teardown),
		cmocka_unit_test_setup_teardown(request__op_missing_or_unknown__named, setup, teardown),
		cmocka_unit_test_setup_teardown(request__public_take__unauthenticated, setup, teardown),
		cmocka_unit_test_setup_teardown(hello__bad_kiosk_token__unauthenticated, setup, teardown),
		cmocka_unit_test_setup_teardown(hello__unknown_user__checked_like_a_real_one, setup, teardown),
		cmocka_unit_test(login__peer_address__host_without_port),
		cmocka_unit_test_setup_teardown(take__wrong_arguments__field_named, setup, teardown),
		cmocka_unit_test_setup_teardown(manager__window_op_without_window__bad_request, setup, teardown),
		cmocka_unit_test_setup_teardown(replies__keep_request_order, setup, teardown),
		cmocka_unit_test_setup_teardown(line__over_64k__too_long_then_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(line__exactly_64k__accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(subscribe__unknown_topic__bad_request, setup, teardown),
	};
	return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
