/* Password and kiosk-token hashing with libxcrypt, and reading a secret without echo. */
#include "password.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Hashes password with the method named by prefix (NULL: libxcrypt's strongest default). */
int password_hash_method(const char *password, const char *prefix, char *out, size_t outlen)
{
	if (password == NULL || out == NULL || outlen == 0) {
		errno = EINVAL;
		return -1;
	}
	/* count 0 and no random bytes: libxcrypt picks its default cost and reads the OS's
	 * random source itself, so the salt is never weaker than the library's own choice. */
	char *setting = crypt_gensalt_ra(prefix, 0, NULL, 0);
	if (setting == NULL)
		return -1;
	/* struct crypt_data is about 32 KiB; the heap keeps it off small thread stacks. */
	struct crypt_data *data = calloc(1, sizeof *data);
	if (data == NULL) {
		free(setting);
		return -1;
	}
	int rc = -1;
	const char *hash = crypt_rn(password, setting, data, sizeof *data);
	if (hash != NULL && hash[0] != '*') {
		size_t n = strlen(hash);
		if (n < outlen) {
			memcpy(out, hash, n + 1);
			rc = 0;
		} else {
			errno = ERANGE;
		}
	} else if (errno == 0) {
		errno = EINVAL;
	}
	explicit_bzero(data, sizeof *data); /* it held the password while hashing */
	free(data);
	free(setting);
	return rc;
}

/* Hashes password with libxcrypt's strongest default method (yescrypt today). */
int password_hash(const char *password, char *out, size_t outlen)
{
	return password_hash_method(password, NULL, out, outlen);
}

/* Returns 1 when password matches hash, comparing the whole hash in constant time. */
int password_verify(const char *password, const char *hash)
{
	/* A '*' hash is crypt's own failure token ("*0", "*1") or a locked account: never match. */
	if (password == NULL || hash == NULL || hash[0] == '\0' || hash[0] == '*')
		return 0;
	struct crypt_data *data = calloc(1, sizeof *data);
	if (data == NULL)
		return 0;
	int match = 0;
	/* crypt_rn returns NULL, rather than a "*0" string, for a setting it cannot parse. */
	const char *computed = crypt_rn(password, hash, data, sizeof *data);
	if (computed != NULL && computed[0] != '*') {
		size_t n = strlen(computed);
		/* The length of a hash is no secret; its bytes are, so they are all compared. */
		if (n == strlen(hash)) {
			unsigned char diff = 0;
			for (size_t i = 0; i < n; i++)
				diff |= (unsigned char)computed[i] ^ (unsigned char)hash[i];
			match = diff == 0;
		}
	}
	explicit_bzero(data, sizeof *data);
	free(data);
	return match;
}

/* Makes a hash of a random secret with the method, cost and salt of `like`: checking a
 * password against it costs what checking against `like` costs, and nothing matches it. */
int password_dummy_hash(const char *like, char *out, size_t outlen)
{
	if (like == NULL || out == NULL || outlen == 0) {
		errno = EINVAL;
		return -1;
	}
	unsigned char rnd[24];
	char secret[2 * sizeof rnd + 1];
	if (getentropy(rnd, sizeof rnd) < 0)
		return -1;
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(secret + 2 * i, 3, "%02x", rnd[i]);
	struct crypt_data *data = calloc(1, sizeof *data);
	if (data == NULL)
		return -1;
	int rc = -1;
	const char *hash = crypt_rn(secret, like, data, sizeof *data);
	if (hash != NULL && hash[0] != '*' && strlen(hash) < outlen) {
		memcpy(out, hash, strlen(hash) + 1);
		rc = 0;
	} else {
		errno = hash == NULL || hash[0] == '*' ? EINVAL : ERANGE;
	}
	explicit_bzero(secret, sizeof secret);
	explicit_bzero(data, sizeof *data);
	free(data);
	return rc;
}

/* Removes a trailing "\r" (a line typed through a Windows terminal or pasted with CRLF). */
static int password_trim(char *buf, size_t n)
{
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return (int)n;
}

/* Reads one line from stdin (not a terminal: a pipe or a file), without a prompt. */
static int password_read_stdin(char *buf, size_t len)
{
	size_t n = 0;
	int c, too_long = 0;
	while ((c = getc(stdin)) != EOF && c != '\n') {
		if (n + 1 < len)
			buf[n++] = (char)c;
		else
			too_long = 1; /* keep reading so the rest of the line is not taken for the next one */
	}
	buf[n] = '\0';
	if (too_long || (c == EOF && n == 0)) {
		explicit_bzero(buf, len);
		errno = too_long ? EMSGSIZE : (ferror(stdin) ? EIO : ENODATA);
		return -1;
	}
	return password_trim(buf, n);
}

static volatile sig_atomic_t password_signal;

/* Notes a signal that arrived while echo was off; the reader restores the terminal first. */
static void password_on_signal(int sig)
{
	password_signal = sig;
}

/* The signals that would otherwise kill the program and leave the terminal without echo. */
static const int password_signals[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP};
#define PASSWORD_NSIGNALS (sizeof password_signals / sizeof password_signals[0])

/* Reads one line from a terminal with echo off, restoring it even when interrupted. */
static int password_read_tty(int fd, const char *prompt, char *buf, size_t len)
{
	struct termios saved, quiet;
	if (tcgetattr(fd, &saved) < 0)
		return -1;
	struct sigaction catch, old[PASSWORD_NSIGNALS];
	memset(&catch, 0, sizeof catch);
	catch.sa_handler = password_on_signal; /* no SA_RESTART: read() must return EINTR */
	sigemptyset(&catch.sa_mask);
	password_signal = 0;
	for (size_t i = 0; i < PASSWORD_NSIGNALS; i++)
		sigaction(password_signals[i], &catch, &old[i]);

	if (prompt != NULL && write(fd, prompt, strlen(prompt)) < 0) {
		/* A prompt that cannot be shown is no reason to refuse the input. */
	}
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	/* TCSAFLUSH drops anything typed before the prompt, so it cannot become the password. */
	tcsetattr(fd, TCSAFLUSH, &quiet);

	size_t n = 0;
	int too_long = 0, got_newline = 0, failed = 0;
	while (!password_signal) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			failed = r < 0;
			break;
		}
		if (c == '\n') {
			got_newline = 1;
			break;
		}
		if (n + 1 < len)
			buf[n++] = c;
		else
			too_long = 1;
	}
	buf[n] = '\0';

	tcsetattr(fd, TCSAFLUSH, &saved);
	if (write(fd, "\n", 1) < 0) {
		/* The newline the user typed was not echoed; failing to add it changes nothing. */
	}
	for (size_t i = 0; i < PASSWORD_NSIGNALS; i++)
		sigaction(password_signals[i], &old[i], NULL);

	if (password_signal || too_long || failed || (!got_newline && n == 0)) {
		explicit_bzero(buf, len);
		int sig = password_signal;
		if (sig)
			raise(sig); /* the terminal is whole again: let the signal do what it would have */
		errno = sig ? EINTR : too_long ? EMSGSIZE : failed ? EIO : ENODATA;
		return -1;
	}
	return password_trim(buf, n);
}

/* Reads a secret line without echo: from the controlling terminal, or from stdin when piped. */
int password_read_noecho(const char *prompt, char *buf, size_t len)
{
	if (buf == NULL || len == 0) {
		errno = EINVAL;
		return -1;
	}
	if (!isatty(STDIN_FILENO))
		return password_read_stdin(buf, len);
	/* /dev/tty rather than stdin/stdout: the prompt must reach the person even when stdout
	 * is redirected (qserver --hash-password > hash.txt). */
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return password_read_tty(STDIN_FILENO, prompt, buf, len);
	int rc = password_read_tty(fd, prompt, buf, len);
	int saved_errno = errno;
	close(fd);
	errno = saved_errno;
	return rc;
}
