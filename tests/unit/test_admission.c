/* The admission rules without a network: peer addresses, the per-address table (entries go
 * with an address's last connection), and who is let in as the slots fill. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qserver.h"

/* Sets a server up with 6 slots, 2 of them reserved, at most 4 per address. */
static int setup(void **state)
{
	(void)state;
	memset(&server, 0, sizeof server);
	server.base = event_base_new();
	server.opt = (struct server_options){.max_conns = 6, .max_per_addr = 4, .reserved_conns = 2,
					     .hello_timeout_ms = 10000, .max_output = 1 << 20, .max_pending = 64,
					     .rate_per_sec = 2000, .redis_timeout_ms = 1000, .lease_s = 30};
	return 0;
}

/* Closes every connection made and the loop. */
static int teardown(void **state)
{
	(void)state;
	conn_close_all();
	assert_int_equal(conn_anonymous_count, 0); /* the count follows every close */
	event_base_free(server.base);
	return 0;
}

/* Opens a connection from peer through the admission check, as the listener does; returns
 * what admission said (the connection stays open unless refused). */
static enum admission connect_from(const char *peer)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	char addr[CONN_ADDR_MAX];
	conn_peer_addr(peer, addr, sizeof addr);
	enum admission a = admission_check(sv[0], addr, peer);
	if (a == ADMIT_REFUSE_FULL || a == ADMIT_REFUSE_ADDR) {
		char line[512] = "";
		ssize_t n = read(sv[1], line, sizeof line - 1);
		assert_true(n > 0);
		assert_non_null(strstr(line, "\"code\":\"unavailable\""));
		close(sv[0]);
	} else {
		struct conn *c = conn_create(sv[0], peer);
		assert_non_null(c);
		if (a == ADMIT_PROBATION)
			conn_hold_reserved(c);
	}
	close(sv[1]);
	return a;
}

static void peer_addr__port_dropped__ipv4_ipv6_unix(void **state)
{
	(void)state;
	char out[CONN_ADDR_MAX];
	conn_peer_addr("10.0.0.5:51234", out, sizeof out);
	assert_string_equal(out, "10.0.0.5");
	conn_peer_addr("[::1]:7420", out, sizeof out);
	assert_string_equal(out, "[::1]");
	conn_peer_addr("[fe80::1:2]:1", out, sizeof out);
	assert_string_equal(out, "[fe80::1:2]");
	conn_peer_addr("unix", out, sizeof out);
	assert_string_equal(out, "unix");
}

static void addr_table__counts_up_and_down__entry_gone_with_the_last(void **state)
{
	(void)state;
	assert_int_equal(admission_add("10.0.0.1"), 0);
	assert_int_equal(admission_add("10.0.0.1"), 0);
	assert_int_equal(admission_add("10.0.0.2"), 0);
	assert_int_equal(admission_addr_count("10.0.0.1"), 2);
	assert_int_equal(admission_addr_count("10.0.0.2"), 1);
	admission_remove("10.0.0.1");
	admission_remove("10.0.0.2");
	admission_remove("10.0.0.2"); /* one too many: ignored */
	assert_int_equal(admission_addr_count("10.0.0.1"), 1);
	assert_int_equal(admission_addr_count("10.0.0.2"), 0);
	admission_remove("10.0.0.1");
	assert_int_equal(admission_addr_count("10.0.0.1"), 0);
	/* Nothing is left to free: the leak check of the sanitizer build would say so. */
}

static void slots__anonymous_share_then_probation_then_full(void **state)
{
	(void)state;
	const char *peers[] = {"10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1"};
	for (int i = 0; i < 4; i++)
		assert_int_equal(connect_from(peers[i]), ADMIT_OPEN);
	/* 6 slots less 2 reserved: the fifth anonymous one may only sign in. */
	assert_int_equal(connect_from("10.0.0.5:1"), ADMIT_PROBATION);
	/* One of the four signs in as a kiosk: its slot no longer counts as anonymous. */
	conn_set_role(TAILQ_FIRST(&conns), ROLE_KIOSK);
	assert_int_equal(conn_anonymous_count, 3);
	assert_int_equal(connect_from("10.0.0.6:1"), ADMIT_OPEN);
	assert_int_equal(conn_count, 6);
	assert_int_equal(connect_from("10.0.0.7:1"), ADMIT_REFUSE_FULL);
}

static void slots__fifth_from_one_address__refused(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(connect_from("10.0.0.9:1"), ADMIT_OPEN);
	assert_int_equal(connect_from("10.0.0.9:2"), ADMIT_REFUSE_ADDR);
	assert_int_equal(connect_from("10.0.0.8:2"), ADMIT_PROBATION);
	/* One of the four goes: the address has room again, and so has the anonymous share (the
	 * one on probation does not count in it). */
	conn_close(TAILQ_FIRST(&conns), "test");
	assert_int_equal(connect_from("10.0.0.9:3"), ADMIT_OPEN);
	assert_int_equal(admission_addr_count("10.0.0.9"), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(peer_addr__port_dropped__ipv4_ipv6_unix),
		cmocka_unit_test(addr_table__counts_up_and_down__entry_gone_with_the_last),
		cmocka_unit_test_setup_teardown(slots__anonymous_share_then_probation_then_full, setup, teardown),
		cmocka_unit_test_setup_teardown(slots__fifth_from_one_address__refused, setup, teardown),
	};
	return cmocka_run_group_tests_name("admission", tests, NULL, NULL);
}
