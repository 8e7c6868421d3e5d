/* The printer's non-interactive mode against a real qserver and Redis: $QHALL_BUILD/printer
 * runs as a child, and the file it writes is read back with the tests' own ESC/POS decoder.
 * Failures must be plain and must leave no ticket waiting without a paper ticket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "escpos_decode.h"
#include "testhall.h"

static char work_dir[64];
static struct escpos_doc doc;

/* What one run of the printer did. */
struct run {
	int status; /* exit code, or 128 + signal */
	char out[4096];
	char err[4096];
};

/* Reads a small file into buf (NUL-terminated, cut short if needed). */
static void slurp(const char *path, char *buf, size_t len)
{
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* The environment variable run_printer puts the token in: QHALL_TOKEN, or the deprecated
 * QHALL_KIOSK_TOKEN for the test that it still works. */
static const char *token_env = "QHALL_TOKEN";

/* Runs $QHALL_BUILD/printer --server <hall> args... with the kiosk token in the environment
 * (NULL: none), waiting at most 20 s. */
static void run_printer(struct run *r, const char *server, const char *token, const char *const *args)
{
	const char *build = getenv("QHALL_BUILD");
	char program[512], out_path[128], err_path[128], addr[64];
	snprintf(program, sizeof program, "%s/printer", build ? build : "build");
	snprintf(out_path, sizeof out_path, "%s/stdout", work_dir);
	snprintf(err_path, sizeof err_path, "%s/stderr", work_dir);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", hall.port);
	const char *argv[32];
	int n = 0;
	argv[n++] = program;
	argv[n++] = "--server";
	argv[n++] = server ? server : addr;
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (out < 0 || err < 0)
			_exit(126);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		unsetenv("QHALL_TOKEN");
		unsetenv("QHALL_KIOSK_TOKEN");
		if (token)
			setenv(token_env, token, 1);
		execv(program, (char *const *)argv);
		_exit(127);
	}
	int status = 0;
	long long deadline = hall_now_ms() + 20000;
	for (;;) {
		pid_t done = waitpid(pid, &status, WNOHANG);
		if (done == pid)
			break;
		if (hall_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("printer did not finish within 20 s");
		}
		usleep(10 * 1000);
	}
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	slurp(out_path, r->out, sizeof r->out);
	slurp(err_path, r->err, sizeof r->err);
	if (getenv("QHALL_TEST_VERBOSE"))
		fprintf(stderr, "printer exit %d\nstdout: %s\nstderr: %s\n", r->status, r->out, r->err);
}

/* How many tickets wait in the whole hall, as a manager sees it. */
static int waiting_count(void)
{
	struct tc *m = hall_manager(&hall);
	assert_non_null(m);
	cJSON *r = tc_request(m, "{\"op\":\"queue\",\"limit\":1000}");
	assert_true(tc_ok(r));
	int n = cJSON_GetArraySize(cJSON_GetObjectItem(r, "tickets"));
	cJSON_Delete(r);
	tc_close(m);
	return n;
}

/* The state of a ticket by id or number, into buf. */
static const char *ticket_state(const char *ref, char *buf, size_t len)
{
	struct tc *m = hall_manager(&hall);
	assert_non_null(m);
	cJSON *r = tc_request(m, "{\"op\":\"ticket\",\"ticket\":\"%s\"}", ref);
	const char *state = get_str(r, "ticket", "state");
	snprintf(buf, len, "%s", state ? state : "(none)");
	cJSON_Delete(r);
	tc_close(m);
	return buf;
}

/* Decodes the printed file into doc. */
static void decode_file(const char *path)
{
	size_t len = 0;
	unsigned char *bytes = escpos_read_file(path, &len);
	assert_non_null(bytes);
	int rc = escpos_decode(bytes, len, NULL, &doc);
	free(bytes);
	if (rc < 0)
		fail_msg("decoder: %s", doc.error);
}

/* Starts one hall for the file and a folder for the printed tickets. */
static int group_setup(void **state)
{
	(void)state;
	snprintf(work_dir, sizeof work_dir, "/tmp/qhall-printer-XXXXXX");
	if (!mkdtemp(work_dir))
		return -1;
	return hall_start(&hall, false, NULL);
}

/* Stops it and removes the folder. */
static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", work_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", work_dir);
	return hall_stop(&hall) == 0 ? 0 : -1;
}

/* The printed ticket is the issued one: QR = id, number quad-size, names in GB18030, a cut. */
static void take__file__prints_the_issued_ticket(void **state)
{
	(void)state;
	char dest[160], path[128], id[64], number[16], buf[32];
	snprintf(path, sizeof path, "%s/a.bin", work_dir);
	snprintf(dest, sizeof dest, "file:%s", path);
	struct run r;
	run_printer(&r, NULL, "kiosk123", (const char *const[]){"--take", "A", "--out", dest, NULL});
	assert_int_equal(r.status, 0);
	assert_int_equal(sscanf(r.out, "%63s %15s", id, number), 2);
	assert_string_equal(ticket_state(id, buf, sizeof buf), "waiting");

	decode_file(path);
	assert_string_equal(doc.qr_data, id);
	assert_int_equal(doc.qr_printed, 1);
	const struct escpos_run *big = escpos_doc_find_run(&doc, number);
	assert_non_null(big);
	assert_int_equal(big->width, 4); /* quad size, for older readers */
	assert_int_equal(big->height, 4);
	assert_non_null(strstr(doc.text, "测试大厅"));
	assert_non_null(strstr(doc.text, "社会保障\nSocial security\n"));
	/* The test clock stands at Friday 10:00 in Shanghai. */
	assert_non_null(strstr(doc.text, "2026-11-27 10:0"));
	assert_non_null(strstr(doc.text, "Hours: Mon-Sun 00:00-24:00"));
	assert_true(doc.ends_with_cut);
}

/* --class priority issues a priority ticket and says so on paper. */
static void take__priority__printed_as_priority(void **state)
{
	(void)state;
	char dest[160], path[128], id[64], number[16];
	snprintf(path, sizeof path, "%s/p.bin", work_dir);
	snprintf(dest, sizeof dest, "file:%s", path);
	struct run r;
	run_printer(&r, NULL, "kiosk123",
		    (const char *const[]){"--take", "B", "--class", "priority", "--out", dest, NULL});
	assert_int_equal(r.status, 0);
	assert_int_equal(sscanf(r.out, "%63s %15s", id, number), 2);
	struct tc *m = hall_manager(&hall);
	cJSON *t = tc_request(m, "{\"op\":\"ticket\",\"ticket\":\"%s\"}", id);
	assert_string_equal(get_str(t, "ticket", "class"), "priority");
	cJSON_Delete(t);
	tc_close(m);
	decode_file(path);
	assert_non_null(strstr(doc.text, "Priority"));
	assert_string_equal(doc.qr_data, id);
}

/* "-" writes the plain-text preview to stdout. */
static void take__preview__text_on_stdout(void **state)
{
	(void)state;
	struct run r;
	run_printer(&r, NULL, "kiosk123", (const char *const[]){"--take", "C", "--out", "-", NULL});
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "税务"));
	assert_non_null(strstr(r.out, "[QR "));
}

/* A file that cannot be written is found before the take: an error, and no ticket taken. */
static void take__unwritable_file__no_ticket_taken(void **state)
{
	(void)state;
	int before = waiting_count();
	struct run r;
	run_printer(&r, NULL, "kiosk123", (const char *const[]){"--take", "A", "--out", "file:/nonexistent/x.bin", NULL});
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "/nonexistent/x.bin"));
	assert_non_null(strstr(r.err, "no ticket was taken"));
	assert_int_equal(waiting_count(), before);
}

/* A network printer nobody answers for: an error, and no ticket taken. */
static void take__tcp_nobody_listening__no_ticket_taken(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	close(fd); /* the port is free and nobody listens on it */
	char dest[64];
	snprintf(dest, sizeof dest, "tcp:127.0.0.1:%d", ntohs(a.sin_port));
	int before = waiting_count();
	struct run r;
	run_printer(&r, NULL, "kiosk123", (const char *const[]){"--take", "A", "--out", dest, NULL});
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "cannot connect"));
	assert_int_equal(waiting_count(), before);
}

/* A printer that opens but fails the write (/dev/full): the ticket is cancelled and said so. */
static void take__write_fails_after_take__ticket_cancelled(void **state)
{
	(void)state;
	int before = waiting_count();
	struct run r;
	run_printer(&r, NULL, "kiosk123", (const char *const[]){"--take", "A", "--out", "/dev/full", NULL});
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "was cancelled"));
	assert_int_equal(waiting_count(), before);
	/* "...; ticket A004 (20261127-A004) was cancelled" */
	const char *open_paren = strstr(r.err, " (");
	assert_non_null(open_paren);
	char id[64], buf[32];
	assert_int_equal(sscanf(open_paren + 2, "%63[^)]", id), 1);
	assert_string_equal(ticket_state(id, buf, sizeof buf), "cancelled");
}

/* The server's refusal is passed on with its code and message. */
static void take__unknown_service__server_message(void **state)
{
	(void)state;
	struct run r;
	run_printer(&r, NULL, "kiosk123", (const char *const[]){"--take", "Z", "--out", "-", NULL});
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "not_found"));
	assert_non_null(strstr(r.err, "\"Z\""));
}

/* A wrong token is refused at hello; no token at all is a usage error. */
static void take__bad_or_missing_token__refused(void **state)
{
	(void)state;
	struct run r;
	run_printer(&r, NULL, "wrong", (const char *const[]){"--take", "A", "--out", "-", NULL});
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "hello"));
	run_printer(&r, NULL, NULL, (const char *const[]){"--take", "A", "--out", "-", NULL});
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "QHALL_TOKEN"));
}

/* The old variable QHALL_KIOSK_TOKEN still works, with a note to use QHALL_TOKEN. */
static void take__old_token_variable__works_with_a_note(void **state)
{
	(void)state;
	struct run r;
	token_env = "QHALL_KIOSK_TOKEN";
	run_printer(&r, NULL, "kiosk123", (const char *const[]){"--take", "A", "--out", "-", NULL});
	token_env = "QHALL_TOKEN";
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "QHALL_KIOSK_TOKEN is deprecated"));
	assert_non_null(strstr(r.err, "QHALL_TOKEN"));
}

/* No server: a plain error naming it. */
static void take__server_down__cannot_reach(void **state)
{
	(void)state;
	struct run r;
	run_printer(&r, "127.0.0.1:1", "kiosk123", (const char *const[]){"--take", "A", "--out", "-", NULL});
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "cannot reach qserver at 127.0.0.1:1"));
}

/* --reprint prints an issued ticket again, marked, with the same QR. */
static void reprint__by_number__marked_copy(void **state)
{
	(void)state;
	char dest[160], path[128], id[64], number[16];
	snprintf(path, sizeof path, "%s/r.bin", work_dir);
	snprintf(dest, sizeof dest, "file:%s", path);
	struct run r;
	run_printer(&r, NULL, "kiosk123", (const char *const[]){"--take", "C", "--out", dest, NULL});
	assert_int_equal(r.status, 0);
	assert_int_equal(sscanf(r.out, "%63s %15s", id, number), 2);
	int before = waiting_count();
	run_printer(&r, NULL, "kiosk123", (const char *const[]){"--reprint", number, "--out", dest, NULL});
	assert_int_equal(r.status, 0);
	assert_int_equal(waiting_count(), before);
	decode_file(path);
	assert_non_null(strstr(doc.text, "补打 REPRINT"));
	assert_string_equal(doc.qr_data, id);
}

/* Outside opening hours: the server's `closed` and when the hall opens, in the hall's time. */
static void take__closed_hall__says_when_it_opens(void **state)
{
	(void)state;
	struct test_hall closed_hall;
	assert_int_equal(hall_start_config(&closed_hall, "hours.json", false, NULL), 0);
	assert_int_equal(hall_set_clock(&closed_hall, HALL_T0 + 12 * 3600), 0); /* Friday 22:00 */
	char server[64];
	snprintf(server, sizeof server, "127.0.0.1:%d", closed_hall.port);
	struct run r;
	run_printer(&r, server, "kiosk123", (const char *const[]){"--take", "A", "--out", "-", NULL});
	int stopped = hall_stop(&closed_hall);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "closed"));
	assert_non_null(strstr(r.err, "opens at 2026-11-28 09:00"));
	assert_int_equal(stopped, 0);
}

/* Runs the tests of this file. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(take__file__prints_the_issued_ticket),
		cmocka_unit_test(take__priority__printed_as_priority),
		cmocka_unit_test(take__preview__text_on_stdout),
		cmocka_unit_test(take__unwritable_file__no_ticket_taken),
		cmocka_unit_test(take__tcp_nobody_listening__no_ticket_taken),
		cmocka_unit_test(take__write_fails_after_take__ticket_cancelled),
		cmocka_unit_test(take__unknown_service__server_message),
		cmocka_unit_test(take__bad_or_missing_token__refused),
		cmocka_unit_test(take__old_token_variable__works_with_a_note),
		cmocka_unit_test(take__server_down__cannot_reach),
		cmocka_unit_test(reprint__by_number__marked_copy),
		cmocka_unit_test(take__closed_hall__says_when_it_opens),
	};
	return cmocka_run_group_tests_name("printer", tests, group_setup, group_teardown);
}
