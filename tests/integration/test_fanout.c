/* Event fan-out through a real qserver with many displays: a clerk's answer leaves before the
 * event its command caused reaches any display, each display gets only the topics it asked
 * for, and a display dropped in the middle of a fan-out harms nobody else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "testassert.h"
#include "testhall.h"
#include "qserver.h"

#define NDISPLAYS 200
#define NCALLS 50
#define MAX_OUTPUT "32768" /* small, so a display that stops reading is dropped soon */
#define LARGE_MAX_OUTPUT "8388608" /* the second group's: a display may fall far behind */
#define LATE_TAKES 1000

static char unix_path[64]; /* qserver's Unix socket, for the stalled display */

/* Opens a display connection subscribed to the given topics (a JSON array). */
static struct hall_pipe *display_open(const char *topics)
{
	struct hall_pipe *p = hall_pipe_open(hall.port);
	assert_non_null(p);
	assert_int_equal(hall_pipe_send(p, "{\"op\":\"subscribe\",\"topics\":%s}", topics), 0);
	cJSON *r = hall_pipe_read(p, 5000);
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	return p;
}

/* Whether the pipe has a whole line buffered or waiting on its socket, within timeout_ms. */
static bool pipe_readable(struct hall_pipe *p, int timeout_ms)
{
	if (p->len && memchr(p->buf, '\n', p->len))
		return true;
	struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
	return poll(&pfd, 1, timeout_ms) > 0;
}

/* Waits until any of the displays' sockets has input; fails after 5 s. */
static void wait_any_readable(struct hall_pipe **displays, int n)
{
	struct pollfd pfd[NDISPLAYS / 2];
	for (int i = 0; i < n; i++)
		pfd[i] = (struct pollfd){.fd = displays[i]->fd, .events = POLLIN};
	assert_true(poll(pfd, (nfds_t)n, 5000) > 0);
}

/* Events a display got, by topic; waiting tickets are checked to come in commit order. */
struct seen {
	int called, queue, window, ticket, waiting;
	int last_waiting[3]; /* per service A, B, C: the last waiting ticket's sequence */
};

/* Reads every event of a display that arrives until it is quiet for quiet_ms. */
static void read_events(struct hall_pipe *p, struct seen *s, int quiet_ms)
{
	cJSON *e;
	while ((e = hall_pipe_read(p, quiet_ms)) != NULL) {
		const char *kind = get_str(e, "event", NULL);
		assert_non_null(kind);
		if (strcmp(kind, "called") == 0) {
			s->called++;
		} else if (strcmp(kind, "queue") == 0) {
			s->queue++;
		} else if (strcmp(kind, "window") == 0) {
			s->window++;
		} else if (strcmp(kind, "ticket") == 0) {
			s->ticket++;
			const char *number = get_str(e, "ticket", "number");
			const char *state = get_str(e, "ticket", "state");
			assert_non_null(number);
			if (state && strcmp(state, "waiting") == 0) {
				int svc = number[0] - 'A', seq = atoi(number + 1);
				assert_true(svc >= 0 && svc < 3);
				assert_int_equal(seq, s->last_waiting[svc] + 1); /* commit order, none lost */
				s->last_waiting[svc] = seq;
				s->waiting++;
			}
		} else {
			fail_msg("unknown event %s", kind);
		}
		cJSON_Delete(e);
	}
}

/* A display of every topic saw each of `taken` takes: its waiting ticket (read_events checks
 * their order) and its queue event. */
static void assert_saw_every_take(const struct seen *s, int taken)
{
	assert_int_equal(s->waiting, taken);
	assert_int_equal(s->queue, taken);
}

/* Drops whatever lines a busy display has received so far, without waiting. */
static void skim(struct hall_pipe *p)
{
	hall_pipe_fill(p);
	cJSON *e;
	while ((e = hall_pipe_take(p)) != NULL)
		cJSON_Delete(e);
}

/* A clerk's call_next answer is on its socket by the time any of 100 displays can read the
 * `called` event it caused: a display never announces a ticket the clerk's screen does not
 * show yet. Each round a kiosk also takes tickets, so 100 more displays are being sent the
 * ticket and queue events of other commands when the answer comes back. */
static void call_next__answer_before_any_display_gets_the_event(void **state)
{
	(void)state;
	/* Tickets first, so the displays start with nothing to read. */
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	for (int i = 0; i < NCALLS; i++)
		assert_non_null(hall_take(k, "A", NULL, n, sizeof n));
	static struct hall_pipe *called[NDISPLAYS / 2], *busy[NDISPLAYS / 2];
	for (int i = 0; i < NDISPLAYS / 2; i++) {
		called[i] = display_open("[\"called\"]");
		busy[i] = display_open("[\"ticket\",\"queue\"]");
	}
	struct hall_pipe *kiosk = hall_pipe_open(hall.port);
	assert_true(hall_pipe_hello(kiosk, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"kiosk123\"}"));
	struct hall_pipe *clerk = hall_pipe_open(hall.port);
	assert_true(hall_pipe_hello(clerk, "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c01\",\"password\":\"clerk123\",\"window\":1}"));
	for (int round = 1; round <= NCALLS; round++) {
		for (int t = 0; t < 4; t++)
			assert_int_equal(hall_pipe_send(kiosk, "{\"op\":\"take\",\"service\":\"B\"}"), 0);
		assert_int_equal(hall_pipe_send(clerk, "{\"op\":\"call_next\"}"), 0);
		/* The moment the first display can read the called event, the clerk must have its
		 * answer waiting (written before any display's copy of the event). */
		wait_any_readable(called, NDISPLAYS / 2);
		if (!pipe_readable(clerk, 0))
			fail_msg("round %d: a display got the called event before the clerk got its answer", round);
		cJSON *r = hall_pipe_read(clerk, 5000);
		assert_true(tc_ok(r));
		char want[16];
		snprintf(want, sizeof want, "A%03d", round);
		assert_string_equal(get_str(r, "ticket", "number"), want);
		cJSON_Delete(r);
		for (int t = 0; t < 4; t++) {
			r = hall_pipe_read(kiosk, 5000);
			assert_true(tc_ok(r));
			cJSON_Delete(r);
		}
		/* Every display gets the called event once. */
		for (int i = 0; i < NDISPLAYS / 2; i++) {
			cJSON *e = hall_pipe_read(called[i], 5000);
			assert_string_equal(get_str(e, "event", NULL), "called");
			assert_string_equal(get_str(e, "ticket", "number"), want);
			cJSON_Delete(e);
			skim(busy[i]);
		}
	}
	hall_pipe_close(clerk);
	hall_pipe_close(kiosk);
	tc_close(k);
	for (int i = 0; i < NDISPLAYS / 2; i++) {
		hall_pipe_close(called[i]);
		hall_pipe_close(busy[i]);
	}
}

/* Each display gets the events of its own topics only, and a new subscribe replaces them. */
static void subscribe__each_topic_gets_only_its_own_events(void **state)
{
	(void)state;
	static const char *topics[] = {"[\"called\"]", "[\"queue\"]", "[\"window\"]", "[\"ticket\"]", "null"};
	struct hall_pipe *d[5];
	for (int i = 0; i < 5; i++)
		d[i] = display_open(topics[i]);
	struct hall_pipe *moved = display_open("[\"queue\"]");
	assert_int_equal(hall_pipe_send(moved, "{\"op\":\"subscribe\",\"topics\":[\"window\"]}"), 0);
	cJSON *r = hall_pipe_read(moved, 5000);
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	struct tc *k = hall_kiosk(&hall);
	struct tc *c = hall_clerk(&hall, "c01", 1);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	hall_take(k, "B", NULL, n, sizeof n);
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}")));
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"finish\"}")));
	struct seen s[5] = {0}, m = {0};
	for (int i = 0; i < 5; i++)
		read_events(d[i], &s[i], i == 0 ? 500 : 100);
	read_events(moved, &m, 100);
	assert_true(s[0].called == 1 && s[0].queue + s[0].window + s[0].ticket == 0);
	assert_true(s[1].queue > 0 && s[1].called + s[1].window + s[1].ticket == 0);
	assert_true(s[2].window > 0 && s[2].called + s[2].queue + s[2].ticket == 0);
	assert_true(s[3].ticket > 0 && s[3].called + s[3].queue + s[3].window == 0);
	assert_int_equal(s[3].waiting, 2);
	/* Subscribed to everything: exactly the union, nothing more. */
	assert_int_equal(s[4].called, s[0].called);
	assert_int_equal(s[4].queue, s[1].queue);
	assert_int_equal(s[4].window, s[2].window);
	assert_int_equal(s[4].ticket, s[3].ticket);
	assert_int_equal(m.window, s[2].window);
	assert_int_equal(m.called + m.queue + m.ticket, 0);
	tc_close(c);
	tc_close(k);
	hall_pipe_close(moved);
	for (int i = 0; i < 5; i++)
		hall_pipe_close(d[i]);
}

/* Reads a display's events until it is quiet for quiet_ms, as their JSON texts, keeping those
 * whose event name is one of names (a NULL-ended list); returns how many. */
static int read_texts(struct hall_pipe *p, const char *const *names, char **texts, int max, int quiet_ms)
{
	int n = 0;
	cJSON *e;
	while ((e = hall_pipe_read(p, quiet_ms)) != NULL) {
		const char *kind = get_str(e, "event", NULL);
		assert_non_null(kind);
		for (int i = 0; names[i]; i++)
			if (strcmp(kind, names[i]) == 0) {
				assert_true(n < max);
				texts[n++] = cJSON_PrintUnformatted(e);
			}
		cJSON_Delete(e);
	}
	return n;
}

/* Displays of two topics each get the same events, in the same order and to the byte, as a
 * display of every topic gets of those two: a call's events go out together, each display's
 * share picked from them in order. */
static void subscribe__two_topics__same_events_in_the_same_order_as_every_topic(void **state)
{
	(void)state;
	static const char *const ticket_called[] = {"ticket", "called", NULL};
	static const char *const queue_window[] = {"queue", "window", NULL};
	static const char *const every[] = {"ticket", "called", "queue", "window", NULL};
	struct hall_pipe *all = display_open("null");
	struct hall_pipe *tc_display = display_open("[\"ticket\",\"called\"]");
	struct hall_pipe *qw_display = display_open("[\"window\",\"queue\"]");
	struct tc *k = hall_kiosk(&hall);
	struct tc *c = hall_clerk(&hall, "c01", 1);
	char n[16];
	hall_take(k, "A", NULL, n, sizeof n);
	hall_take(k, "B", NULL, n, sizeof n);
	hall_take(k, "A", NULL, n, sizeof n);
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}")));
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"finish\"}")));
	cJSON_Delete(expect_ok(tc_request(c, "{\"op\":\"call_next\"}")));
	enum { MAX = 200 };
	static char *want[MAX], *got_tc[MAX], *got_qw[MAX];
	int n_want = read_texts(all, every, want, MAX, 500);
	int n_tc = read_texts(tc_display, ticket_called, got_tc, MAX, 100);
	int n_qw = read_texts(qw_display, queue_window, got_qw, MAX, 100);
	/* Each display's events are the every-topic display's of its topics, in order. */
	int i_tc = 0, i_qw = 0;
	for (int i = 0; i < n_want; i++) {
		const char *kind = strstr(want[i], "\"event\":\"") + 9;
		bool is_tc = strncmp(kind, "ticket\"", 7) == 0 || strncmp(kind, "called\"", 7) == 0;
		char **got = is_tc ? got_tc : got_qw;
		int *at = is_tc ? &i_tc : &i_qw;
		assert_true(*at < (is_tc ? n_tc : n_qw));
		assert_string_equal(got[(*at)++], want[i]);
	}
	assert_int_equal(i_tc, n_tc);
	assert_int_equal(i_qw, n_qw);
	assert_true(n_tc >= 5 && n_qw >= 3); /* three waiting tickets and two calls; queues and the window */
	for (int i = 0; i < n_want; i++)
		free(want[i]);
	for (int i = 0; i < n_tc; i++)
		free(got_tc[i]);
	for (int i = 0; i < n_qw; i++)
		free(got_qw[i]);
	tc_close(c);
	tc_close(k);
	hall_pipe_close(all);
	hall_pipe_close(tc_display);
	hall_pipe_close(qw_display);
}

/* Opens a display on qserver's Unix socket, where the kernel holds only a few hundred
 * kilobytes for a reader that does not read (loopback TCP holds megabytes), so qserver's own
 * output bound is reached soon. */
static struct hall_pipe *unix_display_open(void)
{
	struct hall_pipe *p = calloc(1, sizeof *p);
	assert_non_null(p);
	p->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(p->fd >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", unix_path);
	assert_int_equal(connect(p->fd, (struct sockaddr *)&sa, sizeof sa), 0);
	fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK); /* as hall_pipe_open's */
	return p;
}

/* A display that stops reading is dropped in the middle of a fan-out (it sits between two
 * readers in the topic's list) and another one hangs up; the readers before and after it get
 * every event in commit order, and qserver serves on. */
static void fanout__display_dropped_mid_fan_out__the_others_get_every_event(void **state)
{
	(void)state;
	struct hall_pipe *first = display_open("null");
	/* The stalled display: it never reads. */
	struct hall_pipe *stalled = unix_display_open();
	assert_int_equal(hall_pipe_send(stalled, "{\"op\":\"subscribe\"}"), 0);
	struct hall_pipe *leaving = display_open("null");
	struct hall_pipe *last = display_open("null");
	struct tc *k = hall_kiosk(&hall);
	static const char *services[] = {"A", "B", "C"};
	char n[16];
	int taken = 0;
	struct seen s_first = {0}, s_last = {0};
	while (hall_log_count(&hall, "reads too slowly") == 0) {
		assert_true(taken < 3000);
		for (int i = 0; i < 30; i++, taken++)
			assert_non_null(hall_take(k, services[taken % 3], NULL, n, sizeof n));
		if (taken == 60)
			hall_pipe_close(leaving); /* gone while events keep coming */
		read_events(first, &s_first, 1);
		read_events(last, &s_last, 1);
	}
	read_events(first, &s_first, 300);
	read_events(last, &s_last, 300);
	assert_saw_every_take(&s_first, taken);
	assert_saw_every_take(&s_last, taken);
	assert_true(hall_pipe_wait_close(stalled, 5000));
	cJSON_Delete(expect_ok(tc_request(k, "{\"op\":\"ping\"}")));
	tc_close(k);
	hall_pipe_close(stalled);
	hall_pipe_close(first);
	hall_pipe_close(last);
}

/* A display on the Unix socket stops reading while about half a megabyte of events is
 * written to it (more than the kernel holds for it, so qserver's writes come up short and
 * the rest waits in its output buffer; less than that group's output bound), then reads them
 * all: every line whole, every waiting ticket once and in commit order, as a display that
 * read along got them. */
static void fanout__display_reads_late__gets_every_event_whole_and_in_order(void **state)
{
	(void)state;
	struct hall_pipe *late = unix_display_open();
	assert_int_equal(hall_pipe_send(late, "{\"op\":\"subscribe\"}"), 0);
	cJSON *r = hall_pipe_read(late, 5000);
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	struct hall_pipe *along = display_open("null");
	struct tc *k = hall_kiosk(&hall);
	static const char *services[] = {"A", "B", "C"};
	char n[16];
	struct seen s_late = {0}, s_along = {0};
	int taken;
	for (taken = 0; taken < LATE_TAKES; taken++) {
		assert_non_null(hall_take(k, services[taken % 3], NULL, n, sizeof n));
		if (taken % 30 == 29)
			read_events(along, &s_along, 1);
	}
	read_events(along, &s_along, 300);
	read_events(late, &s_late, 1000);
	assert_saw_every_take(&s_along, taken);
	assert_saw_every_take(&s_late, taken);
	assert_int_equal(s_late.ticket, s_along.ticket);
	assert_int_equal(hall_log_count(&hall, "reads too slowly"), 0);
	tc_close(k);
	hall_pipe_close(along);
	hall_pipe_close(late);
}

/* A kiosk that sends its take and shuts its side gets the answer and then the close, also
 * when the answer left early, written straight to its socket ahead of the take's events. */
static void take__then_shutdown__answered_and_closed(void **state)
{
	(void)state;
	/* Another kiosk keeps Redis and the event link busy meanwhile. */
	struct hall_pipe *busy = hall_pipe_open(hall.port);
	assert_true(hall_pipe_hello(busy, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"kiosk123\"}"));
	for (int i = 0; i < 40; i++) {
		struct hall_pipe *p = hall_pipe_open(hall.port);
		assert_true(hall_pipe_hello(p, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"kiosk123\"}"));
		for (int t = 0; t < 8; t++)
			assert_int_equal(hall_pipe_send(busy, "{\"op\":\"take\",\"service\":\"B\"}"), 0);
		assert_int_equal(hall_pipe_send(p, "{\"op\":\"take\",\"service\":\"A\"}"), 0);
		shutdown(p->fd, SHUT_WR);
		if (!hall_pipe_wait_close(p, 3000))
			fail_msg("take %d: the connection was not closed after its answer", i + 1);
		cJSON *r = hall_pipe_take(p);
		assert_true(tc_ok(r));
		cJSON_Delete(r);
		hall_pipe_close(p);
		for (int t = 0; t < 8; t++) {
			r = hall_pipe_read(busy, 5000);
			assert_true(tc_ok(r));
			cJSON_Delete(r);
		}
	}
	hall_pipe_close(busy);
}

/* Starts the hall with an output bound and a Unix socket. */
static int hall_start_bounded(const char *max_output)
{
	snprintf(unix_path, sizeof unix_path, "/tmp/qhall-fanout-%d.sock", (int)getpid());
	const char *args[] = {"--max-output", max_output, "--unix", unix_path, NULL};
	return hall_start(&hall, false, args);
}

/* One hall for most tests, with a small output bound and a Unix socket too. */
static int group_setup(void **state)
{
	(void)state;
	return hall_start_bounded(MAX_OUTPUT);
}

/* A hall with a large output bound, for displays that fall far behind. */
static int group_setup_large(void **state)
{
	(void)state;
	return hall_start_bounded(LARGE_MAX_OUTPUT);
}

/* A message whose wait model inputs name the learnt times of an entry this qserver never saw
 * (written before it subscribed, say) waits while that entry is read from the stream, then
 * gives the events of the inputs in full; the messages after it keep their order. */
static void fanout__names_an_entry_never_seen__read_from_the_stream(void **state)
{
	(void)state;
	struct hall_pipe *display = display_open("[\"queue\"]");
	redisContext *rc = testredis_connect(&hall.redis);
	assert_non_null(rc);
	/* an entry recording learnt times, never published: this qserver has not seen it */
	redisReply *r = redisCommand(rc, "XADD q:{small}:events * data %s", "L,*,|300 90000 40;420");
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	char recorded[STREAM_ID_TEXT_MAX], inputs[128], data[2][160];
	snprintf(recorded, sizeof recorded, "%s", r->str);
	freeReplyObject(r);
	snprintf(inputs, sizeof inputs, "n1 0 1||#1|4;0|@%s", recorded);
	snprintf(data[0], sizeof data[0], "q,A,4,%s,4", inputs);
	snprintf(data[1], sizeof data[1], "q,B,1,n1 0 1||#2|4;1|@%s,5", recorded);
	for (int i = 0; i < 2; i++) {
		r = redisCommand(rc, "XADD q:{small}:events * data %s", data[i]);
		assert_int_equal(r->type, REDIS_REPLY_STRING);
		char message[512];
		snprintf(message, sizeof message, "%s %s", r->str, data[i]);
		redisReply *p = redisCommand(rc, "PUBLISH q:{small}:ev %s", message);
		assert_int_equal(p->type, REDIS_REPLY_INTEGER);
		freeReplyObject(p);
		freeReplyObject(r);
	}
	redisFree(rc);
	struct estimate a, b;
	assert_int_equal(estimate_new_ticket("n1 0 1||#1|4;0||300 90000 40;420", 4, &a), 0);
	assert_int_equal(estimate_new_ticket("n1 0 1||#2|4;1||300 90000 40;420", 5, &b), 0);
	cJSON *e = hall_pipe_read(display, 5000);
	assert_non_null(e);
	assert_string_equal(get_str(e, "service", NULL), "A");
	assert_int_equal(get_num(e, "ewt", NULL), a.ewt);
	assert_int_equal(get_num(e, "ewt_high", NULL), a.ewt_high);
	assert_true(a.ewt > 0);
	cJSON_Delete(e);
	e = hall_pipe_read(display, 5000);
	assert_non_null(e);
	assert_string_equal(get_str(e, "service", NULL), "B");
	assert_int_equal(get_num(e, "ewt", NULL), b.ewt);
	assert_int_equal(get_num(e, "ahead", NULL), 5);
	cJSON_Delete(e);
	hall_pipe_close(display);
}

/* XADDs data to the small site's stream and publishes it as the library does; the id in id. */
static void xadd_publish(redisContext *rc, const char *data, char id[STREAM_ID_TEXT_MAX])
{
	redisReply *r = redisCommand(rc, "XADD q:{small}:events * data %s", data);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	snprintf(id, STREAM_ID_TEXT_MAX, "%s", r->str);
	freeReplyObject(r);
	char message[1024];
	snprintf(message, sizeof message, "%s %s", id, data);
	r = redisCommand(rc, "PUBLISH q:{small}:ev %s", message);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	freeReplyObject(r);
}

/* XADDs data to the small site's stream without publishing it; the id in id. */
static void xadd_only(redisContext *rc, const char *data, char id[STREAM_ID_TEXT_MAX])
{
	redisReply *r = redisCommand(rc, "XADD q:{small}:events * data %s", data);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	snprintf(id, STREAM_ID_TEXT_MAX, "%s", r->str);
	freeReplyObject(r);
}

/* How many XRANGE commands Redis has run. */
static long long xrange_calls(redisContext *rc)
{
	redisReply *r = redisCommand(rc, "INFO commandstats");
	const char *p = r && r->str ? strstr(r->str, "cmdstat_xrange:calls=") : NULL;
	long long n = p ? atoll(p + strlen("cmdstat_xrange:calls=")) : 0;
	freeReplyObject(r);
	return n;
}

/* Reads queue events until quiet_ms pass without one; true when one of service svc with
 * `waiting` came. */
static bool saw_waiting(struct hall_pipe *p, const char *svc, int waiting, int quiet_ms)
{
	bool seen = false;
	cJSON *e;
	while ((e = hall_pipe_read(p, quiet_ms)) != NULL) {
		const char *s = get_str(e, "service", NULL);
		seen |= s && strcmp(s, svc) == 0 && get_num(e, "waiting", NULL) == waiting;
		cJSON_Delete(e);
	}
	return seen;
}

/* XADDs n entries recording learnt times, each of its own set (as of n services with
 * specialised windows), in one pipeline, and publishes them when publish is set. */
static void xadd_sets(redisContext *rc, int n, bool publish)
{
	char (*ids)[STREAM_ID_TEXT_MAX] = calloc((size_t)n, sizeof *ids);
	assert_non_null(ids);
	for (int i = 0; i < n; i++)
		redisAppendCommand(rc, "XADD q:{small}:events * data L,S%d,|%d", i, 30 + i);
	for (int i = 0; i < n; i++) {
		redisReply *r;
		assert_int_equal(redisGetReply(rc, (void **)&r), REDIS_OK);
		snprintf(ids[i], sizeof ids[i], "%s", r->str);
		freeReplyObject(r);
	}
	for (int i = 0; publish && i < n; i++)
		redisAppendCommand(rc, "PUBLISH q:{small}:ev %s%s%d,|%d", ids[i], " L,S", i, 30 + i);
	for (int i = 0; publish && i < n; i++) {
		redisReply *r;
		assert_int_equal(redisGetReply(rc, (void **)&r), REDIS_OK);
		freeReplyObject(r);
	}
	free(ids);
}

/* Learnt times published while nobody was subscribed are kept all the same (qserver builds no
 * events then, but keeps what the entry records): a display that subscribes later gets the
 * events of a message naming that entry in full, without the entry being read again. */
static void fanout__learnt_times_published_to_nobody__kept_for_later_subscribers(void **state)
{
	(void)state;
	redisContext *rc = testredis_connect(&hall.redis);
	assert_non_null(rc);
	char recorded[STREAM_ID_TEXT_MAX], id[STREAM_ID_TEXT_MAX], data[160];
	xadd_publish(rc, "L,*,|300 90000 40;420", recorded);
	/* Redis does not promise to write the message to qserver before it answers the PUBLISH;
	 * a round trip to qserver after that answer mostly finds the message handled before the
	 * display below subscribes. If the display subscribes first, the message goes the whole
	 * way, which records the learnt times too: the test then cannot fail falsely, it only
	 * does not exercise the skip (as may happen under load). */
	struct hall_pipe *p = hall_pipe_open(hall.port);
	assert_non_null(p);
	assert_int_equal(hall_pipe_send(p, "{\"op\":\"ping\"}"), 0);
	cJSON *pong = hall_pipe_read(p, 5000);
	assert_true(tc_ok(pong));
	cJSON_Delete(pong);
	hall_pipe_close(p);
	struct hall_pipe *display = display_open("[\"queue\"]");
	long long xranges = xrange_calls(rc);
	snprintf(data, sizeof data, "q,A,4,n1 0 1||#1|4;0|@%s,4", recorded);
	xadd_publish(rc, data, id);
	struct estimate a;
	assert_int_equal(estimate_new_ticket("n1 0 1||#1|4;0||300 90000 40;420", 4, &a), 0);
	cJSON *e = hall_pipe_read(display, 5000);
	assert_non_null(e);
	assert_string_equal(get_str(e, "service", NULL), "A");
	assert_int_equal(get_num(e, "ewt", NULL), a.ewt);
	assert_true(a.ewt > 0);
	cJSON_Delete(e);
	assert_int_equal(xrange_calls(rc), xranges);
	redisFree(rc);
	hall_pipe_close(display);
}

/* A message names an entry the stream no longer holds (deleted here, as a trim would): its
 * events cannot be built, so the display is closed to resync (a fresh snapshot) rather than
 * silently missing them, the log says which entry, and the next display gets what follows. */
static void fanout__names_an_entry_gone__display_resyncs(void **state)
{
	(void)state;
	struct hall_pipe *display = display_open("[\"queue\"]");
	redisContext *rc = testredis_connect(&hall.redis);
	assert_non_null(rc);
	char gone[STREAM_ID_TEXT_MAX], id[STREAM_ID_TEXT_MAX], data[256], needle[160];
	xadd_only(rc, "L,*,|300 90000 40;420", gone);
	freeReplyObject(redisCommand(rc, "XDEL q:{small}:events %s", gone));
	snprintf(data, sizeof data, "q,B,7,60,7,30,90\nq,A,4,n1 0 1||#1|4;0|@%s,4", gone);
	xadd_publish(rc, data, id);
	assert_false(saw_waiting(display, "B", 7, 3000));
	assert_true(display->eof);
	snprintf(needle, sizeof needle, "dropped event message %s: it names the learnt times of entry %s", id, gone);
	assert_int_equal(hall_log_count(&hall, needle), 1);
	assert_int_equal(hall_log_count(&hall, "dropped a malformed event message"), 0);
	hall_pipe_close(display);
	display = display_open("[\"queue\"]");
	xadd_publish(rc, "q,B,9,60,9,30,90", id);
	assert_true(saw_waiting(display, "B", 9, 1000));
	redisFree(rc);
	hall_pipe_close(display);
}

/* A named entry whose read Redis refuses (the id is no stream id) is not asked for again and
 * again: the message is dropped, the display resyncs, and the site's next messages come. */
static void fanout__named_read_refused__display_resyncs_and_the_next_message_comes(void **state)
{
	(void)state;
	struct hall_pipe *display = display_open("[\"queue\"]");
	redisContext *rc = testredis_connect(&hall.redis);
	assert_non_null(rc);
	char id[STREAM_ID_TEXT_MAX];
	xadd_publish(rc, "q,B,5,60,5,30,90", id); /* something delivered first */
	assert_true(saw_waiting(display, "B", 5, 1000));
	long long before = xrange_calls(rc);
	xadd_publish(rc, "q,A,4,n1 0 1||#1|4;0|@abc,4", id);
	assert_false(saw_waiting(display, "A", 4, 3000));
	assert_true(display->eof);
	hall_pipe_close(display);
	display = display_open("[\"queue\"]");
	xadd_publish(rc, "q,B,9,60,9,30,90", id);
	assert_true(saw_waiting(display, "B", 9, 1000));
	assert_int_equal(xrange_calls(rc) - before, 1);
	assert_int_equal(hall_log_count(&hall, "reading entry abc, which an event names, failed"), 1);
	redisFree(rc);
	hall_pipe_close(display);
}

/* A catch-up (the pub/sub link was down) meets an entry naming a set this qserver no longer
 * keeps (600 sets of other services were read since): it reads that entry; the 600 sets
 * recorded after it push it out again, and a later entry naming it has it read again: every event comes. */
static void catch_up__named_set_pushed_out_while_delivering__read_again(void **state)
{
	(void)state;
	struct hall_pipe *display = display_open("[\"queue\"]");
	redisContext *rc = testredis_connect(&hall.redis);
	assert_non_null(rc);
	char x[STREAM_ID_TEXT_MAX], id[STREAM_ID_TEXT_MAX], data[256];
	xadd_publish(rc, "L,B,|300 90000 40", x); /* service B's set, seen live */
	xadd_sets(rc, 600, true);		  /* 600 others, seen live: B's set leaves the store */
	usleep(300 * 1000);
	freeReplyObject(redisCommand(rc, "CLIENT KILL TYPE pubsub"));
	snprintf(data, sizeof data, "q,B,11,n0 0 1||#1|4|@%s", x);
	xadd_only(rc, data, id);
	xadd_sets(rc, 600, false);
	snprintf(data, sizeof data, "q,A,77,60,77,30,90\nq,B,12,n0 0 1||#1|4|@%s", x);
	xadd_only(rc, data, id);
	bool got11 = false, got12 = false, got77 = false;
	cJSON *e;
	while ((e = hall_pipe_read(display, 2000)) != NULL) {
		const char *svc = get_str(e, "service", NULL);
		double w = get_num(e, "waiting", NULL);
		got11 |= svc && strcmp(svc, "B") == 0 && w == 11;
		got12 |= svc && strcmp(svc, "B") == 0 && w == 12;
		got77 |= svc && strcmp(svc, "A") == 0 && w == 77;
		cJSON_Delete(e);
	}
	assert_false(display->eof);
	assert_true(got11);
	assert_true(got77);
	assert_true(got12);
	redisFree(rc);
	hall_pipe_close(display);
}

/* Messages waiting for a named entry overflow while its read is under way (Redis is paused):
 * the site's displays resync; the next message names another entry and has it read. The first
 * read's answer, which comes first, is not taken for the second: that message's events come. */
static void fanout__waiting_overflow__an_old_read_answer_is_not_taken_for_a_newer_read(void **state)
{
	(void)state;
	struct hall_pipe *display = display_open("[\"queue\"]");
	redisContext *rc = testredis_connect(&hall.redis);
	assert_non_null(rc);
	char x1[STREAM_ID_TEXT_MAX], x2[STREAM_ID_TEXT_MAX], id[STREAM_ID_TEXT_MAX];
	xadd_only(rc, "L,*,|300 90000 40;420", x1);
	xadd_only(rc, "L,*,|310 90000 40;430", x2);
	/* 10,001 messages naming x1 (one more than may wait), then one naming x2, published at
	 * once, with Redis paused before qserver asks it for x1, so the read of x1 is answered
	 * after all of them came (and before the read of x2) */
	char first[256], second[256], m1[512], m2[512];
	snprintf(first, sizeof first, "q,A,4,n1 0 1||#1|4;0|@%s,4", x1);
	snprintf(second, sizeof second, "q,B,55,60,55,30,90\nq,A,5,n1 0 1||#1|4;0|@%s,4", x2);
	xadd_only(rc, first, id);
	snprintf(m1, sizeof m1, "%s %s", id, first);
	xadd_only(rc, second, id);
	snprintf(m2, sizeof m2, "%s %s", id, second);
	redisAppendCommand(rc,
			   "EVAL %s 1 q:{small}:ev %s %s",
			   "for i = 1, 10001 do redis.call('PUBLISH', KEYS[1], ARGV[1]) end "
			   "redis.call('PUBLISH', KEYS[1], ARGV[2])",
			   m1, m2);
	redisAppendCommand(rc, "CLIENT PAUSE 600 ALL");
	for (int i = 0; i < 2; i++) {
		redisReply *r;
		assert_int_equal(redisGetReply(rc, (void **)&r), REDIS_OK);
		assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
		freeReplyObject(r);
	}
	assert_false(saw_waiting(display, "B", 55, 300)); /* closed by the overflow's resync */
	assert_true(display->eof);
	hall_pipe_close(display);
	display = display_open("[\"queue\"]");
	assert_true(saw_waiting(display, "B", 55, 1500));
	char needle[128];
	snprintf(needle, sizeof needle, "names entry %s, which the stream no longer holds", x2);
	assert_int_equal(hall_log_count(&hall, needle), 0);
	redisFree(rc);
	hall_pipe_close(display);
}

/* Stops the hall and removes the socket. */
static int group_teardown(void **state)
{
	int rc = hall_fixture_stop(state);
	unlink(unix_path);
	return rc;
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, hall_fixture_reset)
	const struct CMUnitTest tests[] = {
		T(call_next__answer_before_any_display_gets_the_event),
		T(subscribe__each_topic_gets_only_its_own_events),
		T(subscribe__two_topics__same_events_in_the_same_order_as_every_topic),
		T(fanout__display_dropped_mid_fan_out__the_others_get_every_event),
		T(take__then_shutdown__answered_and_closed),
		T(fanout__names_an_entry_never_seen__read_from_the_stream),
		T(fanout__learnt_times_published_to_nobody__kept_for_later_subscribers),
		T(fanout__names_an_entry_gone__display_resyncs),
		T(fanout__named_read_refused__display_resyncs_and_the_next_message_comes),
		T(catch_up__named_set_pushed_out_while_delivering__read_again),
		T(fanout__waiting_overflow__an_old_read_answer_is_not_taken_for_a_newer_read),
	};
	const struct CMUnitTest large_tests[] = {
		T(fanout__display_reads_late__gets_every_event_whole_and_in_order),
	};
	int failed = cmocka_run_group_tests_name("fanout", tests, group_setup, group_teardown);
	return failed + cmocka_run_group_tests_name("fanout_large_bound", large_tests, group_setup_large, group_teardown);
}
