/* Assertions on qserver's responses for cmocka tests: include after <cmocka.h>. */
#ifndef QHALL_TESTASSERT_H
#define QHALL_TESTASSERT_H

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "testclient.h"
#include "testhall.h"

/* Asserts r is an ok response and returns it (the caller frees it). */
static inline cJSON *expect_ok(cJSON *r)
{
	if (!tc_ok(r)) {
		char *text = r ? cJSON_PrintUnformatted(r) : NULL;
		fail_msg("expected ok, got %s", text ? text : "no response");
	}
	return r;
}

/* Asserts r failed with code (and field, when given) and a message a person can read, and
 * frees it. */
static inline void expect_error(cJSON *r, const char *code, const char *field)
{
	const char *got = tc_error_code(r);
	if (!got || strcmp(got, code) != 0) {
		char *text = r ? cJSON_PrintUnformatted(r) : NULL;
		fail_msg("expected %s, got %s", code, text ? text : "no response");
	}
	const char *message = get_str(r, "error", "message");
	if (!message || strlen(message) < 5)
		fail_msg("error %s has no message", code);
	if (field) {
		const char *f = get_str(r, "error", "field");
		if (!f || strcmp(f, field) != 0)
			fail_msg("expected field %s, got %s", field, f ? f : "none");
	}
	cJSON_Delete(r);
}

#endif
