/* A take's answer gets the ticket's secret and status page spliced into the function's result
 * (ops_ticket.c): the same text the result would print with the two fields added last. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qserver.h"

/* The answer with the secret as adding the fields to the parsed result and printing it makes it. */
static char *printed_with_secret(const char *json, const char *secret, const char *url)
{
	cJSON *res = cJSON_Parse(json);
	cJSON_AddStringToObject(res, "secret", secret);
	if (url)
		cJSON_AddStringToObject(res, "status_url", url);
	char *out = cJSON_PrintUnformatted(res);
	cJSON_Delete(res);
	return out;
}

/* A result with escapes, non-ASCII text and numbers, with and without a public address. */
static void with_secret__same_text_as_the_result_printed_with_the_fields(void **state)
{
	(void)state;
	static const char *result =
		"{\"ticket\":{\"id\":\"20261128-A012\",\"number\":\"A012\",\"service\":\"A\",\"ref\":\"\\\"q\\\" \\\\ \xe5\x8a\x9e\"},"
		"\"ahead\":3,\"ewt\":1.5,\"position\":{\"a\":[1,2]}}";
	struct config cfg = {0};
	struct site site = {.cfg = &cfg};
	struct request r = {.site = &site, .secret = "AbCdEf-_0123456789"};
	char *got = ticket_result_with_secret(&r, result);
	char *want = printed_with_secret(result, r.secret, NULL);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	free(want);
	cfg.site.public_url = "https://hall.example.cn/\"x\"";
	got = ticket_result_with_secret(&r, result);
	want = printed_with_secret(result, r.secret, "https://hall.example.cn/\"x\"/t/20261128-A012?k=AbCdEf-_0123456789");
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	free(want);
}

/* Results in other forms than eventbuild.c's (the ticket not first, an id with an escape) give
 * the same text as well. */
static void with_secret__other_forms__same_text_as_printed(void **state)
{
	(void)state;
	static const char *results[][2] = {
		{"{\"ahead\":3,\"ticket\":{\"number\":\"A012\",\"id\":\"20261128-A012\"}}", "20261128-A012"},
		{"{\"ticket\":{\"id\":\"x\\\"y\",\"number\":\"A012\"}}", "x\"y"},
		{"{\"ticket\":{\"id\":\"20261128-A012\"}}", "20261128-A012"},
	};
	struct config cfg = {.site.public_url = "https://hall.example.cn"};
	struct site site = {.cfg = &cfg};
	struct request r = {.site = &site, .secret = "AbCdEf-_0123456789"};
	for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
		char url[256];
		snprintf(url, sizeof url, "https://hall.example.cn/t/%s?k=%s", results[i][1], r.secret);
		char *got = ticket_result_with_secret(&r, results[i][0]);
		char *want = printed_with_secret(results[i][0], r.secret, url);
		assert_non_null(got);
		assert_string_equal(got, want);
		free(got);
		free(want);
	}
}

/* A result without a ticket id is refused, not answered without a secret. */
static void with_secret__result_without_ticket_id__null(void **state)
{
	(void)state;
	struct config cfg = {0};
	struct site site = {.cfg = &cfg};
	struct request r = {.site = &site, .secret = "AbCdEf-_0123456789"};
	assert_null(ticket_result_with_secret(&r, "{\"ticket\":{\"number\":\"A012\"}}"));
	assert_null(ticket_result_with_secret(&r, "not json"));
	assert_null(ticket_result_with_secret(&r, "{}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(with_secret__same_text_as_the_result_printed_with_the_fields),
		cmocka_unit_test(with_secret__other_forms__same_text_as_printed),
		cmocka_unit_test(with_secret__result_without_ticket_id__null),
	};
	return cmocka_run_group_tests_name("ticket_secret", tests, NULL, NULL);
}
