/* Stopping qserver with SIGTERM or SIGINT while requests are in flight: every request it has
 * read gets its reply before the connection closes, it exits 0, what it acknowledged is
 * kept, and what it refused was not done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testhall.h"

#define NTAKES 50


/* Fails with the printed response. */
static void fail_with(const char *what, const cJSON *r)
{
	char *text = r ? cJSON_PrintUnformatted(r) : NULL;
	fail_msg("%s: got %s", what, text ? text : "no response");
}

/* Reads tx_queue and rx_queue of the loopback TCP socket local_port -> remote_port from
 * /proc/net/tcp; -1 when it is not listed. */
static int tcp_queues(int local_port, int remote_port, unsigned long *tx, unsigned long *rx)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	if (!f)
		return -1;
	char line[512];
	int found = -1;
	while (found < 0 && fgets(line, sizeof line, f)) {
		unsigned lport, rport;
		if (sscanf(line, " %*d: %*x:%x %*x:%x %*x %lx:%lx", &lport, &rport, tx, rx) == 4 &&
		    (int)lport == local_port && (int)rport == remote_port)
			found = 0;
	}
	fclose(f);
	return found;
}

/* Waits until every byte the pipe sent has been read by qserver (the kernel holds none on
 * either side), so the lines are parsed and dispatched: then they are in flight. */
static void wait_server_read_all(struct hall_pipe *p, int server_port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	assert_int_equal(getsockname(p->fd, (struct sockaddr *)&sin, &len), 0);
	int client_port = ntohs(sin.sin_port);
	long long deadline = hall_now_ms() + 5000;
	for (;;) {
		unsigned long ctx = 1, crx = 0, stx = 0, srx = 1;
		if (tcp_queues(client_port, server_port, &ctx, &crx) == 0 &&
		    tcp_queues(server_port, client_port, &stx, &srx) == 0 && ctx == 0 && srx == 0)
			return;
		if (hall_now_ms() > deadline)
			fail_msg("qserver did not read the requests within 5 s");
		usleep(1000);
	}
}

/* Signals qserver and waits for it to exit; returns its exit code, 128 + signal, or -2
 * when it still runs after timeout_ms. */
static int signal_and_wait(int sig, int timeout_ms)
{
	pid_t pid = ts_pid(hall.server);
	assert_true(pid > 0);
	assert_int_equal(kill(pid, sig), 0);
	long long deadline = hall_now_ms() + timeout_ms;
	for (;;) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			ts_running(hall.server); /* lets the harness see it is gone */
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		if (hall_now_ms() > deadline)
			return -2;
		usleep(2000);
	}
}

/* Waits until connecting to qserver's port is refused (its listener closed). */
static bool wait_listener_closed(int timeout_ms)
{
	long long deadline = hall_now_ms() + timeout_ms;
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)hall.port),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		bool refused = connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0;
		close(fd);
		if (refused)
			return true;
		if (hall_now_ms() > deadline)
			return false;
		usleep(5 * 1000);
	}
}

/* Opens a kiosk pipe and sends n takes of service A in one write. */
static struct hall_pipe *send_takes(int n)
{
	struct hall_pipe *p = hall_pipe_open(hall.port);
	assert_non_null(p);
	assert_true(hall_pipe_hello(p, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"kiosk123\"}"));
	char *burst = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&burst, &size);
	for (int i = 0; i < n; i++)
		fprintf(out, "{\"id\":%d,\"op\":\"take\",\"service\":\"A\"}\n", i);
	fclose(out);
	assert_int_equal(hall_pipe_send_raw(p, burst, size), 0);
	free(burst);
	return p;
}

/* Reads the n replies (in order, each once) and then the close; returns how many were ok,
 * and checks every other one is `code`. */
static int read_replies_then_close(struct hall_pipe *p, int n, const char *code)
{
	int ok = 0;
	for (int i = 0; i < n; i++) {
		cJSON *r = hall_pipe_read(p, 5000);
		if (!r)
			fail_msg("the connection closed after %d of %d replies", i, n);
		assert_int_equal((int)get_num(r, "id", NULL), i);
		if (tc_ok(r)) {
			ok++;
		} else if (!code || !tc_error_code(r) || strcmp(tc_error_code(r), code) != 0) {
			fail_with("a reply at shutdown", r);
		}
		cJSON_Delete(r);
	}
	assert_true(hall_pipe_wait_close(p, 5000));
	cJSON *extra = hall_pipe_take(p);
	if (extra)
		fail_with("nothing after the last reply", extra);
	return ok;
}

/* Starts qserver again and returns how many tickets of A wait. */
static int restart_and_count_waiting(void)
{
	assert_int_equal(ts_restart(hall.server), 0);
	assert_int_equal(hall_wait_ready(&hall, 10000), 0);
	assert_int_equal(hall_set_clock(&hall, HALL_T0), 0);
	struct tc *m = hall_manager(&hall);
	assert_non_null(m);
	cJSON *r = tc_request(m, "{\"op\":\"queue\",\"service\":\"A\",\"limit\":1000}");
	assert_true(tc_ok(r));
	int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "tickets"));
	cJSON_Delete(r);
	tc_close(m);
	return n;
}

/* Keeps Redis busy for ms milliseconds with a script (sent, not awaited), so commands sent
 * meanwhile wait at Redis: in flight. Returns the connection to pass to redis_busy_end. */
static redisContext *redis_busy_start(int ms)
{
	static const char *script =
		"local function now() local t = redis.call('TIME') return t[1] * 1000000 + t[2] end "
		"local t0 = now() while now() - t0 < tonumber(ARGV[1]) * 1000 do end return 1";
	redisContext *c = testredis_connect(&hall.redis);
	assert_non_null(c);
	char arg[16];
	snprintf(arg, sizeof arg, "%d", ms);
	assert_int_equal(redisAppendCommand(c, "EVAL %s 0 %s", script, arg), REDIS_OK);
	int done = 0;
	while (!done)
		assert_int_equal(redisBufferWrite(c, &done), REDIS_OK);
	return c;
}

/* Waits for the busy script's end and closes its connection. */
static void redis_busy_end(redisContext *c)
{
	redisReply *reply = NULL;
	assert_int_equal(redisGetReply(c, (void **)&reply), REDIS_OK);
	assert_non_null(reply);
	assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
	freeReplyObject(reply);
	redisFree(c);
}

/* The stop with requests in flight, by the given signal. Redis is kept busy for 300 ms
 * (less than qserver's 1 s timeout), so the takes wait there when the signal comes. */
static void stop_with_takes_in_flight(int sig)
{
	redisContext *busy = redis_busy_start(300);
	struct hall_pipe *p = send_takes(NTAKES);
	wait_server_read_all(p, hall.port);
	int rc = signal_and_wait(sig, 10000);
	redis_busy_end(busy);
	if (rc != 0) {
		ts_print_log_tail(hall.server, 20);
		fail_msg("qserver exited with %d after %s, not 0", rc, sig == SIGTERM ? "SIGTERM" : "SIGINT");
	}
	int ok = read_replies_then_close(p, NTAKES, NULL);
	assert_int_equal(ok, NTAKES);
	hall_pipe_close(p);
	/* What was acknowledged is there, nothing more. */
	assert_int_equal(restart_and_count_waiting(), NTAKES);
}

/* ------------------------------------------------------------------------------------ */

static void shutdown__sigterm_with_50_takes_in_flight__all_replied_exit_0(void **state)
{
	(void)state;
	stop_with_takes_in_flight(SIGTERM);
}

static void shutdown__sigint_with_50_takes_in_flight__all_replied_exit_0(void **state)
{
	(void)state;
	stop_with_takes_in_flight(SIGINT);
}

/* ts_stop, the harness's own way, returns 0 with requests in flight. */
static void shutdown__ts_stop_right_after_pipelined_takes__returns_0_replies_delivered(void **state)
{
	(void)state;
	redisContext *busy = redis_busy_start(300);
	struct hall_pipe *p = send_takes(NTAKES);
	wait_server_read_all(p, hall.port);
	assert_int_equal(ts_stop(hall.server), 0);
	redis_busy_end(busy);
	assert_int_equal(read_replies_then_close(p, NTAKES, NULL), NTAKES);
	hall_pipe_close(p);
	assert_int_equal(restart_and_count_waiting(), NTAKES);
}

/* With Redis hung, the requests in flight at SIGTERM are answered `unavailable` within the
 * grace time, new connections are refused meanwhile, and qserver exits 0. When Redis wakes
 * up, none of those takes was committed. */
static void shutdown__sigterm_with_redis_hung__unavailable_replies_exit_0_nothing_committed(void **state)
{
	(void)state;
	enum { N = 20 };
	hall_redis_freeze(&hall);
	assert_true(hall.redis_frozen);
	struct hall_pipe *p = send_takes(N);
	wait_server_read_all(p, hall.port);
	long long t0 = hall_now_ms();
	assert_int_equal(kill(ts_pid(hall.server), SIGTERM), 0);
	/* The listener closes at once, while the replies are still awaited. */
	assert_true(wait_listener_closed(800));
	int rc = signal_and_wait(0, 5000); /* signal 0: only wait */
	long long ms = hall_now_ms() - t0;
	assert_int_equal(rc, 0);
	assert_true(ms < 4000); /* the grace time is 3 s */
	assert_int_equal(read_replies_then_close(p, N, "unavailable"), 0);
	hall_pipe_close(p);
	hall_redis_thaw(&hall);
	assert_int_equal(restart_and_count_waiting(), 0);
	struct tc *kiosk = hall_kiosk(&hall);
	char number[16];
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
	assert_string_equal(number, "A001");
	tc_close(kiosk);
}

/* A second signal stops qserver at once, without waiting for the replies. */
static void shutdown__second_sigterm__stops_at_once(void **state)
{
	(void)state;
	hall_redis_freeze(&hall);
	assert_true(hall.redis_frozen);
	struct hall_pipe *p = send_takes(10);
	wait_server_read_all(p, hall.port);
	long long t0 = hall_now_ms();
	assert_int_equal(kill(ts_pid(hall.server), SIGTERM), 0);
	assert_true(wait_listener_closed(800)); /* the first signal was handled */
	int rc = signal_and_wait(SIGTERM, 5000);
	long long ms = hall_now_ms() - t0;
	assert_int_equal(rc, 0);
	assert_true(ms < 900); /* before the 1 s Redis timeout could have answered them */
	assert_true(hall_pipe_wait_close(p, 2000));
	hall_pipe_close(p);
	hall_redis_thaw(&hall);
}

/* ------------------------------------------------------------------------------------ */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(shutdown__sigterm_with_50_takes_in_flight__all_replied_exit_0, hall_fixture_reset),
		cmocka_unit_test_setup(shutdown__sigint_with_50_takes_in_flight__all_replied_exit_0, hall_fixture_reset),
		cmocka_unit_test_setup(shutdown__ts_stop_right_after_pipelined_takes__returns_0_replies_delivered, hall_fixture_reset),
		cmocka_unit_test_setup(shutdown__sigterm_with_redis_hung__unavailable_replies_exit_0_nothing_committed, hall_fixture_reset),
		cmocka_unit_test_setup(shutdown__second_sigterm__stops_at_once, hall_fixture_reset),
	};
	return cmocka_run_group_tests_name("shutdown", tests, hall_fixture_start_aof, hall_fixture_stop);
}
