/* The permission table of PROTOCOL.md, role by op, through a real qserver: an allowed op is
 * never refused for its role, a forbidden one always is, and a clerk acts only on its own
 * window. Roles come from hello, never from the request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "testhall.h"


enum { PUBLIC, KIOSK, CLERK, MANAGER, NROLES };
static const char *role_names[NROLES] = {"public", "kiosk", "clerk", "manager"};

struct op_case {
	const char *line;      /* a well-formed request (a manager's window ops name window 1) */
	int allowed[NROLES];
};

/* Every op with arguments that pass validation; whether it then succeeds is not the point. */
static const struct op_case cases[] = {
	{"{\"op\":\"ping\"}", {1, 1, 1, 1}},
	{"{\"op\":\"site\"}", {1, 1, 1, 1}},
	{"{\"op\":\"services\"}", {1, 1, 1, 1}},
	{"{\"op\":\"ticket\",\"number\":\"A001\"}", {1, 1, 1, 1}},
	{"{\"op\":\"snapshot\"}", {1, 1, 1, 1}},
	{"{\"op\":\"subscribe\",\"topics\":[\"queue\"]}", {1, 1, 1, 1}},
	{"{\"op\":\"take\",\"service\":\"A\"}", {0, 1, 0, 1}},
	{"{\"op\":\"cancel\",\"id\":\"20261127-A001\"}", {0, 1, 0, 1}},
	{"{\"op\":\"rate\",\"id\":\"20261127-A001\",\"score\":5}", {0, 1, 0, 1}},
	{"{\"op\":\"call_next\",\"window\":1}", {0, 0, 1, 1}},
	{"{\"op\":\"call\",\"window\":1,\"ticket\":\"A001\"}", {0, 0, 1, 1}},
	{"{\"op\":\"recall\",\"window\":1}", {0, 0, 1, 1}},
	{"{\"op\":\"start\",\"window\":1}", {0, 0, 1, 1}},
	{"{\"op\":\"finish\",\"window\":1}", {0, 0, 1, 1}},
	{"{\"op\":\"no_show\",\"window\":1}", {0, 0, 1, 1}},
	{"{\"op\":\"transfer\",\"window\":1,\"service\":\"B\"}", {0, 0, 1, 1}},
	{"{\"op\":\"pause\",\"window\":1}", {0, 0, 1, 1}},
	{"{\"op\":\"resume\",\"window\":1}", {0, 0, 1, 1}},
	{"{\"op\":\"close\",\"window\":1}", {0, 0, 1, 1}},
	{"{\"op\":\"queue\"}", {0, 0, 1, 1}},
	{"{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\"}", {0, 0, 1, 1}},
};

/* Opens a connection of the given role; the clerk is c01 at window 1. */
static struct tc *connect_as(int role)
{
	switch (role) {
	case KIOSK: return hall_kiosk(&hall);
	case CLERK: return hall_clerk(&hall, "c01", 1);
	case MANAGER: return hall_manager(&hall);
	default: return hall_public(&hall);
	}
}

static void roles__every_op_by_every_role__as_the_table_says(void **state)
{
	(void)state;
	/* A ticket exists so that some ops get past their lookups. */
	struct tc *k = hall_kiosk(&hall);
	char n[16];
	assert_non_null(hall_take(k, "A", NULL, n, sizeof n));
	tc_close(k);
	for (int role = 0; role < NROLES; role++) {
		struct tc *tc = connect_as(role);
		assert_non_null(tc);
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			cJSON *r = tc_request(tc, "%s", cases[i].line);
			assert_non_null(r);
			const char *code = tc_error_code(r);
			int refused = code && (strcmp(code, "unauthenticated") == 0 || strcmp(code, "forbidden") == 0);
			if (cases[i].allowed[role] == refused) {
				char *text = cJSON_PrintUnformatted(r);
				fail_msg("%s as %s: %s", cases[i].line, role_names[role], text);
			}
			/* A public connection is told to authenticate; a known role is told it may not. */
			if (refused)
				assert_string_equal(code, role == PUBLIC ? "unauthenticated" : "forbidden");
			cJSON_Delete(r);
		}
		tc_close(tc);
	}
}

static void clerk__other_window__forbidden_for_every_window_op(void **state)
{
	(void)state;
	struct tc *c = hall_clerk(&hall, "c01", 1);
	const char *ops[] = {"call_next", "recall", "start", "finish", "no_show", "pause", "resume", "close"};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		cJSON *r = tc_request(c, "{\"op\":\"%s\",\"window\":2}", ops[i]);
		assert_string_equal(tc_error_code(r), "forbidden");
		assert_string_equal(get_str(r, "error", "field"), "window");
		cJSON_Delete(r);
	}
	cJSON *r = tc_request(c, "{\"op\":\"queue\",\"window\":3}");
	assert_string_equal(tc_error_code(r), "forbidden");
	cJSON_Delete(r);
	tc_close(c);
}

static void clerk__role_field_in_requests_is_ignored(void **state)
{
	(void)state;
	/* A public connection that claims a role in a request gets nothing for it. */
	struct tc *p = hall_public(&hall);
	cJSON *r = tc_request(p, "{\"op\":\"take\",\"service\":\"A\",\"role\":\"manager\"}");
	assert_string_equal(tc_error_code(r), "unauthenticated");
	cJSON_Delete(r);
	r = tc_request(p, "{\"op\":\"call_next\",\"window\":1,\"role\":\"clerk\",\"user\":\"c01\"}");
	assert_string_equal(tc_error_code(r), "unauthenticated");
	cJSON_Delete(r);
	tc_close(p);
}

static void clerk__window_not_allowed__forbidden_at_hello(void **state)
{
	(void)state;
	struct tc *tc = tc_connect(hall.port);
	cJSON *r = tc_request(tc, "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c03\",\"password\":\"clerk123\",\"window\":1}");
	assert_string_equal(tc_error_code(r), "forbidden");
	cJSON_Delete(r);
	/* The refused hello left the connection public. */
	r = tc_request(tc, "{\"op\":\"call_next\"}");
	assert_string_equal(tc_error_code(r), "unauthenticated");
	cJSON_Delete(r);
	tc_close(tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roles__every_op_by_every_role__as_the_table_says),
		cmocka_unit_test(clerk__other_window__forbidden_for_every_window_op),
		cmocka_unit_test(clerk__role_field_in_requests_is_ignored),
		cmocka_unit_test(clerk__window_not_allowed__forbidden_at_hello),
	};
	return cmocka_run_group_tests_name("roles", tests, hall_fixture_start, hall_fixture_stop);
}
