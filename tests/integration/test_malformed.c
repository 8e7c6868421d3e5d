/* Bad input of every kind through a real qserver: each gets the right error code (and
 * field), none disturbs another connection, and a request answered ok:false changes nothing:
 * not the queues, not the windows, not the numbering, and no event goes out. Also the bounds
 * a client meets: the line length, the hello timeout, the rate limit. */
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

#include "testhall.h"


/* Fails with the printed response. */
static void fail_with(const char *what, const cJSON *r)
{
	char *text = r ? cJSON_PrintUnformatted(r) : NULL;
	fail_msg("%s: got %s", what, text ? text : "no response");
}

/* Who sends a corpus line. */
enum who {
	MGR,   /* manager m01 */
	PUB,   /* a connection that never said hello */
	KIOSK, /* kiosk */
	CLERK, /* clerk c01 at window 1, where A001 is called */
};

struct bad_input {
	enum who who;
	const char *line; /* without the newline; may hold NUL bytes */
	size_t len;
	const char *code; /* expected error code; NULL: ok */
	const char *field; /* expected field; NULL: none checked */
};

#define L(s) s, sizeof(s) - 1

static const struct bad_input corpus[] = {
	/* Not JSON, or not a JSON object. */
	{MGR, L("{"), "bad_json", NULL},
	{MGR, L("{\"op\":\"ping\""), "bad_json", NULL},
	{MGR, L("nope"), "bad_json", NULL},
	{MGR, L("{\"op\":\"ping\"} {\"op\":\"ping\"}"), "bad_json", NULL},
	{MGR, L("{\"op\":\"ping\"}}"), "bad_json", NULL},
	{MGR, L("{'op':'ping'}"), "bad_json", NULL},
	{MGR, L("{\"op\":\"ping\",}"), "bad_json", NULL},
	{MGR, L("{\"op\":ping}"), "bad_json", NULL},
	{MGR, L("{\"op\":\"ping\",\"x\":\"\\q\"}"), "bad_json", NULL},
	{MGR, L("{\"op\":\"ping\",\"x\":\"\\ud800\"}"), "bad_json", NULL},
	{MGR, L("{\"op\":\"ping\",\"x\":\"\\udc00\"}"), "bad_json", NULL},
	{MGR, L(""), "bad_json", NULL},
	{MGR, L("   "), "bad_json", NULL},
	{MGR, L("[{\"op\":\"ping\"}]"), "bad_json", NULL},
	{MGR, L("[]"), "bad_json", NULL},
	{MGR, L("\"ping\""), "bad_json", NULL},
	{MGR, L("42"), "bad_json", NULL},
	{MGR, L("null"), "bad_json", NULL},
	{MGR, L("true"), "bad_json", NULL},
	/* A NUL byte, raw. */
	{MGR, L("{\"op\":\"pi\0ng\"}"), "bad_json", NULL},
	{MGR, L("{\"op\":\"ping\"}\0"), "bad_json", NULL},
	{MGR, L("\0"), "bad_json", NULL},
	/* Invalid UTF-8: overlong, surrogate, truncated, 0xFF, past U+10FFFF, bare continuation. */
	{MGR, L("{\"op\":\"take\",\"service\":\"\xC0\xAF\"}"), "bad_json", NULL},
	{MGR, L("{\"op\":\"take\",\"service\":\"\xE0\x80\xAF\"}"), "bad_json", NULL},
	{MGR, L("{\"op\":\"take\",\"service\":\"\xED\xA0\x80\"}"), "bad_json", NULL},
	{MGR, L("{\"op\":\"take\",\"service\":\"A\",\"ref\":\"\xE4\xB8\"}"), "bad_json", NULL},
	{MGR, L("{\"op\":\"take\",\"service\":\"A\",\"ref\":\"\xFF\"}"), "bad_json", NULL},
	{MGR, L("{\"op\":\"take\",\"service\":\"A\",\"ref\":\"\xF4\x90\x80\x80\"}"), "bad_json", NULL},
	{MGR, L("{\"op\":\"take\",\"service\":\"A\",\"ref\":\"\x80\"}"), "bad_json", NULL},
	{MGR, L("{\"op\":\"take\",\"service\":\"A\"}\xE4\xB8"), "bad_json", NULL},
	/* Valid input around the bad: CRLF, UTF-8, an unknown field, huge numbers in it. */
	{MGR, L("{\"op\":\"ping\"}\r"), NULL, NULL},
	{MGR, L("{\"op\":\"ping\",\"x\":\"社会保障\"}"), NULL, NULL},
	{MGR, L("{\"op\":\"ping\",\"x\":1e400,\"y\":-0}"), NULL, NULL},
	/* op and id. */
	{MGR, L("{}"), "bad_request", "op"},
	{MGR, L("{\"op\":5}"), "bad_request", "op"},
	{MGR, L("{\"op\":null}"), "bad_request", "op"},
	{MGR, L("{\"op\":[\"ping\"]}"), "bad_request", "op"},
	{MGR, L("{\"op\":\"fly\"}"), "unknown_op", "op"},
	{MGR, L("{\"op\":\"PING\"}"), "unknown_op", "op"},
	{MGR, L("{\"op\":\"\"}"), "unknown_op", "op"},
	{MGR, L("{\"op\":\"ping\",\"id\":1.5}"), "bad_request", "id"},
	{MGR, L("{\"op\":\"ping\",\"id\":{}}"), "bad_request", "id"},
	{MGR, L("{\"op\":\"ping\",\"id\":[1]}"), "bad_request", "id"},
	{MGR, L("{\"op\":\"ping\",\"id\":true}"), "bad_request", "id"},
	{MGR, L("{\"op\":\"ping\",\"id\":1e400}"), "bad_request", "id"},
	{MGR, L("{\"op\":\"ping\",\"id\":9999999999999999999999}"), "bad_request", "id"},
	{MGR, L("{\"op\":\"ping\",\"id\":-0}"), NULL, NULL},
	/* take */
	{MGR, L("{\"op\":\"take\"}"), "bad_request", "service"},
	{MGR, L("{\"op\":\"take\",\"service\":5}"), "bad_request", "service"},
	{MGR, L("{\"op\":\"take\",\"service\":true}"), "bad_request", "service"},
	{MGR, L("{\"op\":\"take\",\"service\":[\"A\"]}"), "bad_request", "service"},
	{MGR, L("{\"op\":\"take\",\"service\":\"\"}"), "bad_request", "service"},
	{MGR, L("{\"op\":\"take\",\"service\":\"Z\"}"), "not_found", "service"},
	{MGR, L("{\"op\":\"take\",\"service\":\"A\",\"class\":5}"), "bad_request", "class"},
	{MGR, L("{\"op\":\"take\",\"service\":\"A\",\"class\":\"vip\"}"), "bad_request", "class"},
	{MGR, L("{\"op\":\"take\",\"service\":\"A\",\"class\":{}}"), "bad_request", "class"},
	{MGR, L("{\"op\":\"take\",\"service\":\"A\",\"channel\":7}"), "bad_request", "channel"},
	{MGR, L("{\"op\":\"take\",\"service\":\"A\",\"channel\":\"no spaces!\"}"), "bad_request", "channel"},
	{MGR, L("{\"op\":\"take\",\"service\":\"A\",\"ref\":12}"), "bad_request", "ref"},
	{MGR, L("{\"op\":\"take\",\"service\":\"A\",\"ref\":\"12345678901234567890123456789012345678901234567890123456789012345\"}"), "bad_request", "ref"},
	/* ticket (its `id` argument is also the request's id) */
	{MGR, L("{\"op\":\"ticket\"}"), "bad_request", "id"},
	{MGR, L("{\"op\":\"ticket\",\"number\":5}"), "bad_request", "number"},
	{MGR, L("{\"op\":\"ticket\",\"number\":[\"A001\"]}"), "bad_request", "number"},
	{MGR, L("{\"op\":\"ticket\",\"number\":\"Z999\"}"), "not_found", "number"},
	{MGR, L("{\"op\":\"ticket\",\"id\":\"20261127-Z999\"}"), "not_found", "id"},
	/* rate */
	{KIOSK, L("{\"op\":\"rate\",\"score\":5}"), "bad_request", "id"},
	{KIOSK, L("{\"op\":\"rate\",\"id\":\"20261127-A002\"}"), "bad_request", "score"},
	{KIOSK, L("{\"op\":\"rate\",\"id\":\"20261127-A002\",\"score\":\"5\"}"), "bad_request", "score"},
	{KIOSK, L("{\"op\":\"rate\",\"id\":\"20261127-A002\",\"score\":6}"), "bad_request", "score"},
	{KIOSK, L("{\"op\":\"rate\",\"id\":\"20261127-A002\",\"score\":0}"), "bad_request", "score"},
	{KIOSK, L("{\"op\":\"rate\",\"id\":\"20261127-A002\",\"score\":-0}"), "bad_request", "score"},
	{KIOSK, L("{\"op\":\"rate\",\"id\":\"20261127-A002\",\"score\":1.5}"), "bad_request", "score"},
	{KIOSK, L("{\"op\":\"rate\",\"id\":\"20261127-A002\",\"score\":1e400}"), "bad_request", "score"},
	{KIOSK, L("{\"op\":\"rate\",\"id\":\"20261127-A002\",\"score\":9999999999999999999999}"), "bad_request", "score"},
	{KIOSK, L("{\"op\":\"rate\",\"id\":\"20261127-A002\",\"score\":5}"), "conflict", "id"},
	{KIOSK, L("{\"op\":\"rate\",\"id\":\"20261127-Z001\",\"score\":5}"), "not_found", "id"},
	/* cancel */
	{KIOSK, L("{\"op\":\"cancel\"}"), "bad_request", "id"},
	{KIOSK, L("{\"op\":\"cancel\",\"id\":\"20261127-A001\"}"), "conflict", "id"},
	/* call, as a manager naming the window */
	{MGR, L("{\"op\":\"call\",\"ticket\":\"A002\"}"), "bad_request", "window"},
	{MGR, L("{\"op\":\"call\",\"window\":\"1\",\"ticket\":\"A002\"}"), "bad_request", "window"},
	{MGR, L("{\"op\":\"call\",\"window\":1.5,\"ticket\":\"A002\"}"), "bad_request", "window"},
	{MGR, L("{\"op\":\"call\",\"window\":0,\"ticket\":\"A002\"}"), "bad_request", "window"},
	{MGR, L("{\"op\":\"call\",\"window\":1e400,\"ticket\":\"A002\"}"), "bad_request", "window"},
	{MGR, L("{\"op\":\"call\",\"window\":99,\"ticket\":\"A002\"}"), "not_found", "window"},
	{MGR, L("{\"op\":\"call\",\"window\":1}"), "bad_request", "ticket"},
	{MGR, L("{\"op\":\"call\",\"window\":1,\"ticket\":5}"), "bad_request", "ticket"},
	{MGR, L("{\"op\":\"call\",\"window\":1,\"ticket\":\"Z001\"}"), "not_found", "ticket"},
	{MGR, L("{\"op\":\"call\",\"window\":1,\"ticket\":\"A001\"}"), "conflict", "ticket"},
	{MGR, L("{\"op\":\"call\",\"window\":3,\"ticket\":\"A002\"}"), "conflict", NULL},
	/* the rest of the clerk's cycle, at a window with nothing to act on */
	{MGR, L("{\"op\":\"call_next\",\"window\":3}"), "conflict", NULL},
	{MGR, L("{\"op\":\"recall\",\"window\":2}"), "conflict", NULL},
	{MGR, L("{\"op\":\"start\",\"window\":2}"), "conflict", NULL},
	{MGR, L("{\"op\":\"finish\",\"window\":2}"), "conflict", NULL},
	{MGR, L("{\"op\":\"finish\",\"window\":1,\"rating\":\"5\"}"), "bad_request", "rating"},
	{MGR, L("{\"op\":\"finish\",\"window\":1,\"rating\":0}"), "bad_request", "rating"},
	{MGR, L("{\"op\":\"finish\",\"window\":1,\"rating\":6}"), "bad_request", "rating"},
	{MGR, L("{\"op\":\"finish\",\"window\":1,\"rating\":2.5}"), "bad_request", "rating"},
	{MGR, L("{\"op\":\"no_show\",\"window\":1,\"requeue\":\"yes\"}"), "bad_request", "requeue"},
	{MGR, L("{\"op\":\"no_show\",\"window\":1,\"requeue\":1}"), "bad_request", "requeue"},
	{MGR, L("{\"op\":\"no_show\",\"window\":2}"), "conflict", NULL},
	{MGR, L("{\"op\":\"transfer\",\"window\":1}"), "bad_request", "service"},
	{MGR, L("{\"op\":\"transfer\",\"window\":1,\"service\":5}"), "bad_request", "service"},
	{MGR, L("{\"op\":\"transfer\",\"window\":1,\"service\":\"Z\"}"), "not_found", "service"},
	{MGR, L("{\"op\":\"transfer\",\"window\":1,\"service\":\"A\",\"target_window\":\"2\"}"), "bad_request", "target_window"},
	{MGR, L("{\"op\":\"transfer\",\"window\":1,\"service\":\"A\",\"target_window\":99}"), "not_found", "target_window"},
	{MGR, L("{\"op\":\"transfer\",\"window\":1,\"service\":\"A\",\"target_window\":3}"), "bad_request", "target_window"},
	{MGR, L("{\"op\":\"transfer\",\"window\":2,\"service\":\"B\"}"), "conflict", NULL},
	{MGR, L("{\"op\":\"pause\",\"window\":1,\"reason\":5}"), "bad_request", "reason"},
	{MGR, L("{\"op\":\"pause\",\"window\":1}"), "conflict", NULL},
	{MGR, L("{\"op\":\"resume\",\"window\":1}"), "conflict", NULL},
	{MGR, L("{\"op\":\"close\",\"window\":1}"), "conflict", NULL},
	/* queue */
	{MGR, L("{\"op\":\"queue\",\"service\":5}"), "bad_request", "service"},
	{MGR, L("{\"op\":\"queue\",\"service\":\"Z\"}"), "not_found", "service"},
	{MGR, L("{\"op\":\"queue\",\"limit\":\"10\"}"), "bad_request", "limit"},
	{MGR, L("{\"op\":\"queue\",\"limit\":0}"), "bad_request", "limit"},
	{MGR, L("{\"op\":\"queue\",\"limit\":1001}"), "bad_request", "limit"},
	{MGR, L("{\"op\":\"queue\",\"limit\":1.5}"), "bad_request", "limit"},
	{MGR, L("{\"op\":\"queue\",\"limit\":1e400}"), "bad_request", "limit"},
	{MGR, L("{\"op\":\"queue\",\"limit\":-0}"), "bad_request", "limit"},
	{MGR, L("{\"op\":\"queue\",\"window\":\"1\"}"), "bad_request", "window"},
	{MGR, L("{\"op\":\"queue\",\"window\":99}"), "not_found", "window"},
	{MGR, L("{\"op\":\"queue\",\"window\":3,\"service\":\"A\"}"), "bad_request", "service"},
	/* subscribe */
	{MGR, L("{\"op\":\"subscribe\",\"topics\":\"called\"}"), "bad_request", "topics"},
	{MGR, L("{\"op\":\"subscribe\",\"topics\":{}}"), "bad_request", "topics"},
	{MGR, L("{\"op\":\"subscribe\",\"topics\":[1]}"), "bad_request", "topics"},
	{MGR, L("{\"op\":\"subscribe\",\"topics\":[\"called\",\"nope\"]}"), "bad_request", "topics"},
	/* hello, on a connection that has not said it yet */
	{PUB, L("{\"op\":\"hello\"}"), "bad_request", "role"},
	{PUB, L("{\"op\":\"hello\",\"role\":5}"), "bad_request", "role"},
	{PUB, L("{\"op\":\"hello\",\"role\":\"admin\"}"), "bad_request", "role"},
	{PUB, L("{\"op\":\"hello\",\"role\":\"kiosk\"}"), "bad_request", "token"},
	{PUB, L("{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":5}"), "bad_request", "token"},
	{PUB, L("{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"wrong\"}"), "unauthenticated", NULL},
	{PUB, L("{\"op\":\"hello\",\"role\":\"clerk\",\"user\":5,\"password\":\"clerk123\",\"window\":2}"), "bad_request", "user"},
	{PUB, L("{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c02\",\"password\":5,\"window\":2}"), "bad_request", "password"},
	{PUB, L("{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c02\",\"password\":\"clerk123\"}"), "bad_request", "window"},
	{PUB, L("{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c02\",\"password\":\"clerk123\",\"window\":\"2\"}"), "bad_request", "window"},
	{PUB, L("{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c02\",\"password\":\"clerk123\",\"window\":2.5}"), "bad_request", "window"},
	{PUB, L("{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c02\",\"password\":\"clerk123\",\"window\":99}"), "not_found", "window"},
	{PUB, L("{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c02\",\"password\":\"wrong\",\"window\":2}"), "unauthenticated", NULL},
	{PUB, L("{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"nobody\",\"password\":\"clerk123\",\"window\":2}"), "unauthenticated", NULL},
	{PUB, L("{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c02\",\"password\":\"clerk123\",\"window\":1}"), "forbidden", "window"},
	{PUB, L("{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"m01\",\"password\":\"manager123\",\"window\":1}"), "forbidden", NULL},
	{PUB, L("{\"op\":\"hello\",\"role\":\"manager\",\"password\":\"manager123\"}"), "bad_request", "user"},
	{PUB, L("{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"m01\"}"), "bad_request", "password"},
	{PUB, L("{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"c01\",\"password\":\"clerk123\"}"), "forbidden", NULL},
	{MGR, L("{\"op\":\"hello\",\"role\":\"public\"}"), "conflict", NULL},
	/* roles */
	{PUB, L("{\"op\":\"take\",\"service\":\"A\"}"), "unauthenticated", NULL},
	{PUB, L("{\"op\":\"cancel\",\"id\":\"20261127-A002\"}"), "unauthenticated", NULL},
	{PUB, L("{\"op\":\"call_next\",\"window\":1}"), "unauthenticated", NULL},
	{PUB, L("{\"op\":\"queue\"}"), "unauthenticated", NULL},
	{KIOSK, L("{\"op\":\"call_next\"}"), "forbidden", NULL},
	{KIOSK, L("{\"op\":\"pause\",\"window\":2}"), "forbidden", NULL},
	{KIOSK, L("{\"op\":\"queue\"}"), "forbidden", NULL},
	{CLERK, L("{\"op\":\"take\",\"service\":\"A\"}"), "forbidden", NULL},
	{CLERK, L("{\"op\":\"cancel\",\"id\":\"20261127-A002\"}"), "forbidden", NULL},
	/* a clerk acting on another window */
	{CLERK, L("{\"op\":\"call_next\",\"window\":2}"), "forbidden", "window"},
	{CLERK, L("{\"op\":\"pause\",\"window\":2}"), "forbidden", "window"},
	{CLERK, L("{\"op\":\"finish\",\"window\":3}"), "forbidden", "window"},
	{CLERK, L("{\"op\":\"call\",\"window\":2,\"ticket\":\"A002\"}"), "forbidden", "window"},
	{CLERK, L("{\"op\":\"queue\",\"window\":2}"), "forbidden", "window"},
	{CLERK, L("{\"op\":\"transfer\",\"service\":\"B\",\"window\":\"2\"}"), "bad_request", "window"},
	{CLERK, L("{\"op\":\"call_next\",\"window\":\"1\"}"), "bad_request", "window"},
};

/* One live summary of the hall: waiting per service; state, ticket and clerk per window. */
static char *hall_summary(struct tc *tc)
{
	cJSON *r = tc_request(tc, "{\"op\":\"snapshot\"}");
	if (!tc_ok(r))
		fail_with("snapshot", r);
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	cJSON *x;
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(r, "services"))
		fprintf(out, "service %s waiting %d; ", get_str(x, "id", NULL), (int)get_num(x, "waiting", NULL));
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(r, "windows")) {
		const char *ticket = get_str(x, "ticket", NULL), *clerk = get_str(x, "clerk", NULL);
		fprintf(out, "window %d %s ticket %s clerk %s; ", (int)get_num(x, "id", NULL), get_str(x, "state", NULL),
			ticket ? ticket : "-", clerk ? clerk : "-");
	}
	cJSON *recent = cJSON_GetObjectItemCaseSensitive(r, "recent");
	fprintf(out, "recent %d", cJSON_GetArraySize(recent));
	fclose(out);
	cJSON_Delete(r);
	return text;
}

/* Checks that the bystander connection is still served: ping, and a read through Redis. */
static void expect_served(struct tc *good, const char *after)
{
	cJSON *r = tc_request(good, "{\"op\":\"ping\"}");
	if (!tc_ok(r)) {
		char what[160];
		snprintf(what, sizeof what, "ping on another connection after %.100s", after);
		fail_with(what, r);
	}
	cJSON_Delete(r);
	r = tc_request(good, "{\"op\":\"ticket\",\"number\":\"A002\"}");
	if (!tc_ok(r))
		fail_with("ticket on another connection", r);
	cJSON_Delete(r);
}

/* Sends one line raw (newline added) and checks its answer. */
static void send_and_expect(struct tc *tc, const char *line, size_t len, const char *code, const char *field)
{
	char *buf = malloc(len + 1);
	assert_non_null(buf);
	memcpy(buf, line, len);
	buf[len] = '\n';
	assert_int_equal(tc_send_raw(tc, buf, len + 1), 0);
	free(buf);
	cJSON *r = tc_read_response(tc, 5000);
	char shown[120];
	snprintf(shown, sizeof shown, "%.*s", (int)(len < 100 ? len : 100), line);
	for (char *p = shown; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	if (!r)
		fail_msg("no answer to %s", shown);
	if (!code) {
		if (!tc_ok(r)) {
			char what[200];
			snprintf(what, sizeof what, "%s should answer ok", shown);
			fail_with(what, r);
		}
	} else {
		const char *got = tc_error_code(r);
		const char *got_field = get_str(r, "error", "field");
		const char *message = get_str(r, "error", "message");
		if (!got || strcmp(got, code) != 0 || (field && (!got_field || strcmp(got_field, field) != 0)) ||
		    !message || strlen(message) < 6 || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"))) {
			char what[240];
			snprintf(what, sizeof what, "%s should answer %s (field %s)", shown, code, field ? field : "-");
			fail_with(what, r);
		}
	}
	cJSON_Delete(r);
}

/* ------------------------------------------------------------------------------------ */

/* The corpus on four connections while a fifth is served after each line; then the hall
 * is exactly as before, no event went out, and no number was used up. */
static void malformed__corpus__right_code_and_field_others_served_nothing_changed(void **state)
{
	(void)state;
	struct tc *kiosk = hall_kiosk(&hall);
	struct tc *clerk = hall_clerk(&hall, "c01", 1);
	struct tc *mgr = hall_manager(&hall);
	struct tc *pub = tc_connect(hall.port);
	struct tc *good = hall_kiosk(&hall);
	struct tc *sub = hall_public(&hall);
	assert_non_null(kiosk);
	assert_non_null(clerk);
	assert_non_null(mgr);
	assert_non_null(pub);
	assert_non_null(good);
	assert_non_null(sub);
	cJSON *r = tc_request(sub, "{\"op\":\"subscribe\"}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	char number[16];
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number)); /* A001, called below */
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number)); /* A002 waits */
	assert_non_null(hall_take(kiosk, "B", NULL, number, sizeof number)); /* B001 waits */
	r = tc_request(clerk, "{\"op\":\"call_next\"}");
	assert_string_equal(get_str(r, "ticket", "number"), "A001");
	cJSON_Delete(r);
	/* Events come in commit order and the call's last one is the queue of A: after it, every
	 * event of the setup has arrived. */
	bool called = false, queue_after = false;
	while (!queue_after) {
		cJSON *ev = tc_next_event(sub, 5000);
		if (!ev)
			fail_msg("the events of the setup did not arrive");
		const char *kind = get_str(ev, "event", NULL), *num = get_str(ev, "ticket", "number");
		if (kind && strcmp(kind, "called") == 0 && num && strcmp(num, "A001") == 0)
			called = true;
		else if (called && kind && strcmp(kind, "queue") == 0 && strcmp(get_str(ev, "service", NULL), "A") == 0)
			queue_after = true;
		cJSON_Delete(ev);
	}
	char *before = hall_summary(good);

	struct tc *by[] = {[MGR] = mgr, [PUB] = pub, [KIOSK] = kiosk, [CLERK] = clerk};
	for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
		const struct bad_input *b = &corpus[i];
		send_and_expect(by[b->who], b->line, b->len, b->code, b->field);
		expect_served(good, b->line);
	}

	/* Lines built at run time: too deep, too long a reason, too long an id. */
	size_t depth = 10000;
	char *deep = malloc(depth * 6 + 32);
	assert_non_null(deep);
	size_t n = (size_t)sprintf(deep, "{\"op\":\"ping\",\"x\":");
	for (size_t i = 0; i < depth; i++)
		deep[n++] = '[';
	for (size_t i = 0; i < depth; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	send_and_expect(mgr, deep, n, "bad_json", NULL);
	expect_served(good, "10,000 nested arrays");
	n = 0;
	for (size_t i = 0; i < depth; i++)
		n += (size_t)sprintf(deep + n, "{\"a\":");
	deep[n++] = '1';
	for (size_t i = 0; i < depth; i++)
		deep[n++] = '}';
	send_and_expect(mgr, deep, n, "bad_json", NULL);
	expect_served(good, "10,000 nested objects");
	free(deep);
	char line[1024];
	n = (size_t)snprintf(line, sizeof line, "{\"op\":\"pause\",\"window\":2,\"reason\":\"%0201d\"}", 0);
	send_and_expect(mgr, line, n, "bad_request", "reason");
	n = (size_t)snprintf(line, sizeof line, "{\"op\":\"ping\",\"id\":\"%0129d\"}", 0);
	send_and_expect(mgr, line, n, "bad_request", "id");
	expect_served(good, "long strings");

	/* Nothing changed: same hall, no event, and the next take gets the next number. */
	char *after = hall_summary(good);
	assert_string_equal(after, before);
	free(before);
	free(after);
	cJSON *ev = tc_next_event(sub, 300);
	if (ev)
		fail_with("no event should follow refused requests", ev);
	r = tc_request(good, "{\"op\":\"ticket\",\"number\":\"A001\"}");
	assert_string_equal(get_str(r, "ticket", "state"), "called");
	assert_int_equal((int)get_num(r, "ticket", "window"), 1);
	cJSON_Delete(r);
	assert_non_null(hall_take(good, "A", NULL, number, sizeof number));
	assert_string_equal(number, "A003");
	assert_non_null(hall_take(good, "B", NULL, number, sizeof number));
	assert_string_equal(number, "B002");
	/* Every connection of the corpus is still open and served. */
	struct tc *all[] = {mgr, pub, kiosk, clerk};
	for (int i = 0; i < 4; i++) {
		r = tc_request(all[i], "{\"op\":\"ping\"}");
		assert_true(tc_ok(r));
		cJSON_Delete(r);
	}
	tc_close(kiosk);
	tc_close(clerk);
	tc_close(mgr);
	tc_close(pub);
	tc_close(good);
	tc_close(sub);
}

/* A line of exactly 65,536 bytes with its newline is served; one byte more is too_long,
 * answered, then the connection is closed. */
static void malformed__line_of_65536_bytes__accepted_one_more_too_long(void **state)
{
	(void)state;
	size_t total = 65536;
	char *line = malloc(total + 1);
	assert_non_null(line);
	const char *head = "{\"id\":\"big\",\"op\":\"ping\",\"pad\":\"";
	size_t hl = strlen(head);
	memcpy(line, head, hl);
	memset(line + hl, 'x', total - hl - 3);
	memcpy(line + total - 3, "\"}\n", 3);
	struct tc *tc = tc_connect(hall.port);
	assert_non_null(tc);
	assert_int_equal(tc_send_raw(tc, line, total), 0);
	cJSON *r = tc_read_response(tc, 5000);
	if (!tc_ok(r))
		fail_with("a line of exactly 65,536 bytes", r);
	assert_string_equal(get_str(r, "id", NULL), "big");
	cJSON_Delete(r);

	/* One more pad byte: 65,537 with the newline. */
	line = realloc(line, total + 2);
	assert_non_null(line);
	memmove(line + hl + 1, line + hl, total - hl);
	line[hl] = 'x';
	assert_int_equal(tc_send_raw(tc, line, total + 1), 0);
	r = tc_read_response(tc, 5000);
	assert_string_equal(tc_error_code(r), "too_long");
	cJSON_Delete(r);
	assert_true(tc_closed_by_peer(tc, 3000));
	tc_close(tc);
	free(line);
	struct tc *other = hall_public(&hall);
	assert_non_null(other);
	tc_close(other);
}

/* A 1 MB line is answered too_long and its connection closed, while another connection
 * goes on being served (before, during and after). */
static void malformed__1mb_line__too_long_then_closed_others_served(void **state)
{
	(void)state;
	struct tc *good = hall_kiosk(&hall);
	assert_non_null(good);
	struct hall_pipe *p = hall_pipe_open(hall.port);
	assert_non_null(p);
	size_t size = 1 << 20;
	char *big = malloc(size);
	assert_non_null(big);
	memset(big, 'x', size);
	memcpy(big, "{\"op\":\"ping\",\"pad\":\"", 20);
	big[size - 1] = '\n';
	/* Send while reading: the server stops reading at the limit, so the rest may not fit. */
	size_t sent = 0;
	cJSON *answer = NULL;
	long long deadline = hall_now_ms() + 10000;
	while (!p->eof && hall_now_ms() < deadline) {
		if (sent < size) {
			ssize_t w = send(p->fd, big + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				sent += (size_t)w;
		}
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN | (sent < size ? POLLOUT : 0)};
		poll(&pfd, 1, 50);
		hall_pipe_fill(p);
		if (!answer)
			answer = hall_pipe_take(p);
	}
	if (!answer)
		answer = hall_pipe_take(p);
	assert_true(p->eof); /* closed */
	if (!answer)
		fail_msg("the connection was closed without the too_long answer (%zu of %zu bytes sent)", sent, size);
	assert_string_equal(tc_error_code(answer), "too_long");
	cJSON_Delete(answer);
	free(big);
	hall_pipe_close(p);
	char number[16];
	assert_non_null(hall_take(good, "A", NULL, number, sizeof number));
	assert_string_equal(number, "A001");
	tc_close(good);
	assert_true(ts_running(hall.server));
}

/* Clients that vanish mid-line or with requests in flight leave the server serving the
 * others, with nothing fatal in its log. */
static void malformed__closed_mid_line_or_with_requests_in_flight__others_served(void **state)
{
	(void)state;
	int errors_before = hall_log_count(&hall, " error: ");
	struct tc *good = hall_kiosk(&hall);
	assert_non_null(good);
	for (int round = 0; round < 5; round++) {
		struct tc *half = hall_kiosk(&hall);
		assert_non_null(half);
		assert_int_equal(tc_send_raw(half, "{\"op\":\"take\",\"serv", 18), 0);
		tc_close(half);
		/* 50 requests, takes and reads, and gone before the answers. */
		struct hall_pipe *gone = hall_pipe_open(hall.port);
		assert_non_null(gone);
		assert_true(hall_pipe_hello(gone, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"kiosk123\"}"));
		char *burst = NULL;
		size_t size = 0;
		FILE *out = open_memstream(&burst, &size);
		for (int i = 0; i < 50; i++)
			fprintf(out, i % 2 ? "{\"op\":\"snapshot\"}\n" : "{\"op\":\"take\",\"service\":\"B\"}\n");
		fclose(out);
		assert_int_equal(hall_pipe_send_raw(gone, burst, size), 0);
		free(burst);
		hall_pipe_close(gone);
		/* A clerk that leaves with a call in flight. */
		struct hall_pipe *clerk = hall_pipe_open(hall.port);
		assert_non_null(clerk);
		assert_true(hall_pipe_hello(clerk, "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c02\",\"password\":\"clerk123\",\"window\":3}"));
		assert_int_equal(hall_pipe_send(clerk, "{\"op\":\"call_next\"}"), 0);
		hall_pipe_close(clerk);
		cJSON *r = tc_request(good, "{\"op\":\"ping\"}");
		assert_true(tc_ok(r));
		cJSON_Delete(r);
	}
	char number[16];
	assert_non_null(hall_take(good, "A", NULL, number, sizeof number));
	assert_string_equal(number, "A001");
	/* The takes that were committed for clients that left are numbered B001..Bk, no gap. */
	struct tc *m = hall_manager(&hall);
	assert_non_null(m);
	int issued = 0;
	for (int i = 1; i <= 5 * 25 + 1; i++) {
		cJSON *r = tc_request(m, "{\"op\":\"ticket\",\"number\":\"B%03d\"}", i);
		const char *code = tc_error_code(r);
		if (tc_ok(r) && issued != i - 1)
			fail_msg("B%03d exists but B%03d does not", i, issued + 1);
		if (tc_ok(r))
			issued = i;
		else if (!code || strcmp(code, "not_found") != 0)
			fail_with("ticket", r);
		cJSON_Delete(r);
	}
	assert_true(issued <= 5 * 25);
	tc_close(m);
	tc_close(good);
	assert_true(ts_running(hall.server));
	assert_int_equal(hall_log_count(&hall, " error: "), errors_before);
	assert_int_equal(hall_log_count(&hall, "Sanitizer"), 0);
	assert_int_equal(hall_log_count(&hall, "runtime error"), 0);
}

/* A connection that says no hello is closed after --hello-timeout; one that said hello, or
 * subscribed (a public reader needs no hello), stays. */
static void malformed__no_hello__closed_after_hello_timeout(void **state)
{
	(void)state;
	const char *extra[] = {"--hello-timeout", "1", NULL};
	struct test_hall h = {.redis = hall.redis};
	h.server = ts_start(hall_data_path("small.json"), hall.redis.socket, extra);
	assert_non_null(h.server);
	h.port = ts_port(h.server);
	assert_int_equal(hall_wait_ready(&h, 10000), 0);
	long long t0 = hall_now_ms();
	struct tc *silent = tc_connect(h.port);
	struct tc *chatty = tc_connect(h.port); /* pings, but never says hello */
	struct tc *greeted = hall_public(&h);
	struct tc *reader = tc_connect(h.port); /* a third-party screen: subscribes, no hello */
	assert_non_null(silent);
	assert_non_null(chatty);
	assert_non_null(greeted);
	assert_non_null(reader);
	cJSON *r = tc_request(chatty, "{\"op\":\"ping\"}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	r = tc_request(reader, "{\"op\":\"subscribe\"}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	assert_true(tc_closed_by_peer(silent, 3000));
	long long ms = hall_now_ms() - t0;
	assert_true(ms >= 900);
	assert_true(tc_closed_by_peer(chatty, 1000));
	/* Well past the timeout, the greeted connection still works. */
	while (hall_now_ms() - t0 < 1500)
		usleep(50 * 1000);
	r = tc_request(greeted, "{\"op\":\"ping\"}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	/* So does the subscribed reader: PROTOCOL.md lets the public subscribe without hello. */
	r = tc_request(reader, "{\"op\":\"ping\"}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	tc_close(reader);
	tc_close(silent);
	tc_close(chatty);
	tc_close(greeted);
	assert_int_equal(ts_stop(h.server), 0);
	ts_free(h.server);
}

/* With --rate 5, a burst of 50 pings gets some rate_limited answers; every request gets
 * exactly one answer, in order; the connection stays usable. */
static void malformed__rate_limit__burst_of_50_each_answered_in_order(void **state)
{
	(void)state;
	const char *extra[] = {"--rate", "5", NULL};
	struct test_hall h = {.redis = hall.redis};
	h.server = ts_start(hall_data_path("small.json"), hall.redis.socket, extra);
	assert_non_null(h.server);
	h.port = ts_port(h.server);
	assert_int_equal(hall_wait_ready(&h, 10000), 0);
	struct hall_pipe *p = hall_pipe_open(h.port);
	assert_non_null(p);
	char *burst = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&burst, &size);
	for (int i = 1; i <= 50; i++)
		fprintf(out, "{\"id\":%d,\"op\":\"ping\"}\n", i);
	fclose(out);
	assert_int_equal(hall_pipe_send_raw(p, burst, size), 0);
	free(burst);
	int ok = 0, limited = 0, first_wrong_id = 0;
	for (int i = 1; i <= 50; i++) {
		cJSON *r = hall_pipe_read(p, 5000);
		if (!r)
			fail_msg("request %d of the burst got no answer", i);
		if (tc_ok(r)) {
			ok++;
		} else {
			const char *code = tc_error_code(r);
			if (!code || strcmp(code, "rate_limited") != 0)
				fail_with("ping in a burst", r);
			limited++;
		}
		/* Each answer carries its request's id, rate_limited ones too: a client matches by id. */
		if ((int)get_num(r, "id", NULL) != i && !first_wrong_id) {
			first_wrong_id = i;
			char *text = cJSON_PrintUnformatted(r);
			fprintf(stderr, "answer %d of the burst: %s\n", i, text);
			free(text);
		}
		cJSON_Delete(r);
	}
	cJSON *extra_line = hall_pipe_read(p, 200);
	assert_null(extra_line); /* exactly one answer each */
	assert_int_equal(ok + limited, 50);
	assert_true(ok >= 5);
	assert_true(limited >= 30);
	if (first_wrong_id)
		fail_msg("the answer to request %d of the burst does not carry \"id\":%d", first_wrong_id, first_wrong_id);
	/* Tokens come back: a ping is served again within a few seconds. */
	long long deadline = hall_now_ms() + 3000;
	bool served = false;
	while (!served && hall_now_ms() < deadline) {
		assert_int_equal(hall_pipe_send(p, "{\"op\":\"ping\"}"), 0);
		cJSON *r = hall_pipe_read(p, 2000);
		served = tc_ok(r);
		cJSON_Delete(r);
		if (!served)
			usleep(100 * 1000);
	}
	assert_true(served);
	assert_false(p->eof);
	hall_pipe_close(p);
	assert_int_equal(ts_stop(h.server), 0);
	ts_free(h.server);
}

/* "A\u0000B" is not the service "A": a string is not cut at an escaped NUL. */
static void malformed__escaped_nul_in_service__not_taken_as_service_a(void **state)
{
	(void)state;
	struct tc *kiosk = hall_kiosk(&hall);
	assert_non_null(kiosk);
	cJSON *r = tc_request(kiosk, "{\"op\":\"take\",\"service\":\"A\\u0000B\"}");
	if (tc_ok(r))
		fail_with("take of service \"A\\u0000B\" must not issue a ticket of A", r);
	const char *code = tc_error_code(r);
	assert_true(code && (strcmp(code, "not_found") == 0 || strcmp(code, "bad_request") == 0));
	cJSON_Delete(r);
	char number[16];
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
	assert_string_equal(number, "A001");
	tc_close(kiosk);
}

/* A client that numbers its requests ("id": 7, as the protocol allows) can look a ticket
 * up by its number: the request id is not the ticket's id. */
static void malformed__request_id_and_ticket_number__answers_the_ticket(void **state)
{
	(void)state;
	struct tc *kiosk = hall_kiosk(&hall);
	assert_non_null(kiosk);
	char number[16];
	assert_non_null(hall_take(kiosk, "A", NULL, number, sizeof number));
	cJSON *r = tc_request(kiosk, "{\"id\":7,\"op\":\"ticket\",\"number\":\"A001\"}");
	if (!tc_ok(r))
		fail_with("{\"id\":7,\"op\":\"ticket\",\"number\":\"A001\"}", r);
	assert_int_equal((int)get_num(r, "id", NULL), 7);
	assert_string_equal(get_str(r, "ticket", "number"), "A001");
	cJSON_Delete(r);
	tc_close(kiosk);
}

/* ------------------------------------------------------------------------------------ */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(malformed__corpus__right_code_and_field_others_served_nothing_changed, hall_fixture_reset),
		cmocka_unit_test_setup(malformed__line_of_65536_bytes__accepted_one_more_too_long, hall_fixture_reset),
		cmocka_unit_test_setup(malformed__1mb_line__too_long_then_closed_others_served, hall_fixture_reset),
		cmocka_unit_test_setup(malformed__closed_mid_line_or_with_requests_in_flight__others_served, hall_fixture_reset),
		cmocka_unit_test_setup(malformed__no_hello__closed_after_hello_timeout, hall_fixture_reset),
		cmocka_unit_test_setup(malformed__rate_limit__burst_of_50_each_answered_in_order, hall_fixture_reset),
		cmocka_unit_test_setup(malformed__escaped_nul_in_service__not_taken_as_service_a, hall_fixture_reset),
		cmocka_unit_test_setup(malformed__request_id_and_ticket_number__answers_the_ticket, hall_fixture_reset),
	};
	return cmocka_run_group_tests_name("malformed", tests, hall_fixture_start, hall_fixture_stop);
}
