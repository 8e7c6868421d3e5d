/* Unit tests of password hashing, verification and reading a secret line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "password.h"

/* A hash made with the default method is yescrypt and verifies with its password. */
static void password__hash_then_verify__matches(void **state)
{
	(void)state;
	char hash[PASSWORD_HASH_MAX];
	assert_int_equal(password_hash("clerk123", hash, sizeof hash), 0);
	assert_memory_equal(hash, "$y$", 3);
	assert_true(password_verify("clerk123", hash));
}

/* A dummy hash has the method, cost and salt of the hash it is made like, and no password
 * the hall uses matches it. */
static void password__dummy_hash__same_setting_matches_nothing(void **state)
{
	(void)state;
	static const char *methods[] = {"$5$", "$6$", "$y$"};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		char like[PASSWORD_HASH_MAX], dummy[PASSWORD_HASH_MAX];
		assert_int_equal(password_hash_method("clerk123", methods[i], like, sizeof like), 0);
		assert_int_equal(password_dummy_hash(like, dummy, sizeof dummy), 0);
		size_t setting = (size_t)(strrchr(like, '$') - like);
		assert_int_equal((size_t)(strrchr(dummy, '$') - dummy), setting);
		assert_memory_equal(dummy, like, setting);
		assert_string_not_equal(dummy, like);
		assert_false(password_verify("clerk123", dummy));
		assert_false(password_verify("", dummy));
	}
	char out[PASSWORD_HASH_MAX];
	assert_int_equal(password_dummy_hash("$unknown$salt$hash", out, sizeof out), -1);
}

/* A wrong, empty or longer password is refused. */
static void password__wrong_password__refused(void **state)
{
	(void)state;
	char hash[PASSWORD_HASH_MAX];
	assert_int_equal(password_hash_method("clerk123", "$5$", hash, sizeof hash), 0);
	assert_false(password_verify("clerk124", hash));
	assert_false(password_verify("", hash));
	assert_false(password_verify("clerk1234", hash));
	assert_false(password_verify(NULL, hash));
}

/* Two hashes of one password differ (fresh salt) and both verify. */
static void password__same_password__salted_differently(void **state)
{
	(void)state;
	char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];
	assert_int_equal(password_hash_method("kiosk123", "$5$", a, sizeof a), 0);
	assert_int_equal(password_hash_method("kiosk123", "$5$", b, sizeof b), 0);
	assert_string_not_equal(a, b);
	assert_true(password_verify("kiosk123", a));
	assert_true(password_verify("kiosk123", b));
}

/* Other crypt methods verify too, so a hall may keep older or faster hashes. */
static void password__any_crypt_method__verifies(void **state)
{
	(void)state;
	static const char *methods[] = {"$5$", "$6$", "$2b$", "$y$"};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		char hash[PASSWORD_HASH_MAX];
		assert_int_equal(password_hash_method("manager123", methods[i], hash, sizeof hash), 0);
		assert_memory_equal(hash, methods[i], strlen(methods[i]));
		assert_true(password_verify("manager123", hash));
		assert_false(password_verify("manager12", hash));
	}
}

/* Malformed hashes never match and never crash, whatever crypt makes of them. */
static void password__malformed_hash__refused_without_crash(void **state)
{
	(void)state;
	static const char *bad[] = {"", "*", "*0", "*1", "!", "$", "$$", "$y$", "$y$j9T$", "$5$", "$6$rounds=x$ab$",
				    "$1$", "$2b$99$abcdefghijklmnopqrstuv", "$unknown$abc$def", "garbage",
				    "$5$abcdefgh$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(password_verify("clerk123", bad[i]));
	assert_false(password_verify("clerk123", NULL));
	/* An empty password against a hash of the empty password still needs a real match. */
	char hash[PASSWORD_HASH_MAX];
	assert_int_equal(password_hash_method("", "$5$", hash, sizeof hash), 0);
	assert_true(password_verify("", hash));
	assert_false(password_verify(" ", hash));
}

/* An output buffer too small for the hash is an error, not an overflow. */
static void password__small_buffer__refused(void **state)
{
	(void)state;
	char small[10];
	errno = 0;
	assert_int_equal(password_hash_method("clerk123", "$5$", small, sizeof small), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(password_hash_method("clerk123", "$nope$", small, sizeof small), -1);
}

/* Replaces stdin with a pipe holding text, for the non-terminal reading path. */
static int stdin_from(const char *text)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], text, strlen(text)), (ssize_t)strlen(text));
	close(fds[1]);
	int saved = dup(STDIN_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
	close(fds[0]);
	clearerr(stdin);
	return saved;
}

/* Puts the original stdin back. */
static void stdin_restore(int saved)
{
	dup2(saved, STDIN_FILENO);
	close(saved);
	clearerr(stdin);
}

/* Without a terminal, one line per call is read from stdin, line ends stripped. */
static void password__read_from_pipe__one_line_each(void **state)
{
	(void)state;
	int saved = stdin_from("secret one\r\nsecond\n\nlast-without-newline");
	char buf[64];
	assert_int_equal(password_read_noecho("Password: ", buf, sizeof buf), 10);
	assert_string_equal(buf, "secret one");
	assert_int_equal(password_read_noecho(NULL, buf, sizeof buf), 6);
	assert_string_equal(buf, "second");
	assert_int_equal(password_read_noecho(NULL, buf, sizeof buf), 0);
	assert_string_equal(buf, "");
	assert_int_equal(password_read_noecho(NULL, buf, sizeof buf), 20);
	assert_string_equal(buf, "last-without-newline");
	assert_int_equal(password_read_noecho(NULL, buf, sizeof buf), -1); /* end of input */
	stdin_restore(saved);
}

/* A line longer than the buffer is refused whole, and the next line is read intact. */
static void password__read_too_long__refused(void **state)
{
	(void)state;
	int saved = stdin_from("0123456789abcdef\nok\n");
	char buf[8];
	assert_int_equal(password_read_noecho(NULL, buf, sizeof buf), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(password_read_noecho(NULL, buf, sizeof buf), 2);
	assert_string_equal(buf, "ok");
	stdin_restore(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(password__hash_then_verify__matches),
		cmocka_unit_test(password__wrong_password__refused),
		cmocka_unit_test(password__dummy_hash__same_setting_matches_nothing),
		cmocka_unit_test(password__same_password__salted_differently),
		cmocka_unit_test(password__any_crypt_method__verifies),
		cmocka_unit_test(password__malformed_hash__refused_without_crash),
		cmocka_unit_test(password__small_buffer__refused),
		cmocka_unit_test(password__read_from_pipe__one_line_each),
		cmocka_unit_test(password__read_too_long__refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
