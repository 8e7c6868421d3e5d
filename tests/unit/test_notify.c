/* Unit tests of a notification's body and signature (notify.c): what a receiver checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "qserver.h"

/* The signature is the lowercase hex HMAC-SHA256 (RFC 4231, test case 2). */
static void sign__rfc4231_vector__lowercase_hex(void **state)
{
	(void)state;
	char out[65];
	const char *data = "what do ya want for nothing?";
	assert_int_equal(notify_sign("Jefe", data, strlen(data), out), 0);
	assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* A near body has the documented fields in order, numbers as numbers and null for none. */
static void body__near__fields_in_order(void **state)
{
	(void)state;
	char *b = notify_body("baoan", "20261128-A012", "A012", "13800000000", "3", "540", "", "near");
	assert_non_null(b);
	assert_string_equal(b, "{\"site\":\"baoan\",\"ticket\":\"20261128-A012\",\"number\":\"A012\",\"ref\":\"13800000000\","
			       "\"ahead\":3,\"ewt\":540,\"window\":null,\"event\":\"near\"}");
	free(b);
}

/* A called body names the window; a ticket without ref has ref null; quotes are escaped. */
static void body__called_without_ref__window_and_null_ref(void **state)
{
	(void)state;
	char *b = notify_body("baoan", "20261128-A012", "A012", "", "0", "0", "3", "called");
	assert_non_null(b);
	assert_string_equal(b, "{\"site\":\"baoan\",\"ticket\":\"20261128-A012\",\"number\":\"A012\",\"ref\":null,"
			       "\"ahead\":0,\"ewt\":0,\"window\":3,\"event\":\"called\"}");
	free(b);
	b = notify_body("baoan", "x", "A1", "a\"b", "", "", "", "near");
	assert_non_null(strstr(b, "\"ref\":\"a\\\"b\""));
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sign__rfc4231_vector__lowercase_hex),
		cmocka_unit_test(body__near__fields_in_order),
		cmocka_unit_test(body__called_without_ref__window_and_null_ref),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
