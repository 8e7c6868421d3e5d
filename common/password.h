/* Password and kiosk-token hashing with crypt(3) (libxcrypt), and reading a secret from a terminal. */
#ifndef QHALL_PASSWORD_H
#define QHALL_PASSWORD_H

#include <stddef.h>

/* Longest hash password_hash writes, with its NUL (libxcrypt's CRYPT_OUTPUT_SIZE). */
#define PASSWORD_HASH_MAX 384

/* Hashes a password with libxcrypt's strongest default method (yescrypt, "$y$") and a fresh
 * random salt into out; returns 0, or -1 with errno set (ERANGE when out is too small). */
int password_hash(const char *password, char *out, size_t outlen);
/* Same as password_hash with a chosen method prefix such as "$5$" (sha256crypt, fast: tests)
 * or "$6$"; NULL prefix means the strongest default. */
int password_hash_method(const char *password, const char *prefix, char *out, size_t outlen);
/* Returns 1 only when password matches the crypt(3) hash (any method libxcrypt knows), else 0;
 * compares in constant time and never crashes on a malformed or empty hash. */
int password_verify(const char *password, const char *hash);
/* Writes into out a hash of a random secret made with the method, cost and salt of the hash
 * `like`, so that checking a password against it takes as long as against `like` and never
 * matches (unknown users are checked against it). Returns 0, or -1 with errno set. */
int password_dummy_hash(const char *like, char *out, size_t outlen);
/* Reads one line into buf without echo: from /dev/tty (prompt written there) when stdin is a
 * terminal, else from stdin without a prompt. Strips the line end; returns its length, or -1
 * (EOF before any character, a read error, or a line that does not fit in len - 1 bytes). */
int password_read_noecho(const char *prompt, char *buf, size_t len);

#endif
