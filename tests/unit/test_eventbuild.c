/* Splitting a message of the function library into the protocol's events (eventbuild.c):
 * each event's bytes come out exactly as written, in order, whatever its strings hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "qserver.h"

struct seen {
	char events[8][256];
	int n;
};

/* Keeps each event handed out. */
static void keep_event(const char *json, size_t len, void *arg)
{
	struct seen *s = arg;
	assert_true(s->n < 8 && len < sizeof s->events[0]);
	memcpy(s->events[s->n], json, len);
	s->events[s->n][len] = '\0';
	s->n++;
}

/* Splits a message; returns how many events eventbuild_each reported. */
static int split(const char *message, struct seen *s)
{
	memset(s, 0, sizeof *s);
	return eventbuild_each(message, strlen(message), keep_event, s);
}

static void eventbuild__array_of_a_call__each_event_in_order(void **state)
{
	(void)state;
	struct seen s;
	assert_int_equal(split("[{\"event\":\"ticket\",\"ticket\":{\"id\":\"x\",\"ahead\":null}},"
			       "{\"event\":\"queue\",\"service\":\"A\",\"waiting\":1,\"ewt\":300}]", &s), 2);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.events[0], "{\"event\":\"ticket\",\"ticket\":{\"id\":\"x\",\"ahead\":null}}");
	assert_string_equal(s.events[1], "{\"event\":\"queue\",\"service\":\"A\",\"waiting\":1,\"ewt\":300}");
}

static void eventbuild__braces_and_quotes_in_strings__kept_whole(void **state)
{
	(void)state;
	struct seen s;
	assert_int_equal(split("[{\"event\":\"window\",\"window\":{\"reason\":\"}],{\\\"[\\\\\",\"services\":[\"*\"]}},"
			       "{\"event\":\"queue\",\"service\":\"窗口\"}]", &s), 2);
	assert_string_equal(s.events[0], "{\"event\":\"window\",\"window\":{\"reason\":\"}],{\\\"[\\\\\",\"services\":[\"*\"]}}");
	assert_string_equal(s.events[1], "{\"event\":\"queue\",\"service\":\"窗口\"}");
}

static void eventbuild__one_object_of_earlier_versions__passed_on(void **state)
{
	(void)state;
	struct seen s;
	assert_int_equal(split("{\"event\":\"queue\",\"service\":\"A\"}", &s), 1);
	assert_string_equal(s.events[0], "{\"event\":\"queue\",\"service\":\"A\"}");
}

static void eventbuild__malformed__refused(void **state)
{
	(void)state;
	struct seen s;
	assert_int_equal(split("[{\"event\":\"queue\"", &s), -1);
	assert_int_equal(split("[1,2]", &s), -1);
	assert_int_equal(split("[{\"event\":\"queue\"};{}]", &s), -1);
	assert_int_equal(split("\"text\"", &s), -1);
	assert_int_equal(split("[]", &s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(eventbuild__array_of_a_call__each_event_in_order),
		cmocka_unit_test(eventbuild__braces_and_quotes_in_strings__kept_whole),
		cmocka_unit_test(eventbuild__one_object_of_earlier_versions__passed_on),
		cmocka_unit_test(eventbuild__malformed__refused),
	};
	return cmocka_run_group_tests_name("eventbuild", tests, NULL, NULL);
}
