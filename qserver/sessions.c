/* Browser sessions (WEB.md, Sessions): a random token names a session kept in Redis with an
 * expiry, so any qserver of the region accepts it and it survives a restart. The session
 * holds the role and the configured id it signed in as, and a fingerprint of that user's
 * credential hash: a changed hash in the config ends the session. */
#include "qserver.h"
#include "log.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SESSION_PEOPLE_S (12 * 3600)	   /* managers (people) */
#define SESSION_DEVICES_S (30 * 24 * 3600) /* kiosks and pads */

/* A session lookup or creation waiting for Redis. */
struct sessions_wait {
	sessions_done_fn *done;
	void *arg;
	struct sessions_found found;
	char token[SESSION_TOKEN_MAX];
};

/* Fills out with len random bytes from the kernel; -1 when it cannot. */
int sessions_random(unsigned char *out, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = getrandom(out + got, len - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Writes len random bytes as URL-safe base64 without padding ([A-Za-z0-9_-]); -1 on failure. */
int sessions_random_token(size_t bytes, char *out, size_t outlen)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[64];
	if (bytes > sizeof raw || (bytes * 8 + 5) / 6 + 1 > outlen || sessions_random(raw, bytes) < 0)
		return -1;
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < bytes; i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[n++] = alphabet[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[n++] = alphabet[(acc << (6 - bits)) & 63];
	out[n] = '\0';
	return 0;
}

/* True when a string is made of URL-safe base64 characters only (and is not empty). */
int sessions_token_shape(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

/* True when a token has the shape of ours, so nothing else reaches a Redis key. */
int sessions_token_valid(const char *token)
{
	size_t n = strlen(token);
	return n >= 22 && n < SESSION_TOKEN_MAX && sessions_token_shape(token);
}

/* The credential hash of a configured user or kiosk, or NULL when it is gone. */
static const char *sessions_credential(enum role role, const char *user)
{
	if (role == ROLE_KIOSK) {
		const struct config_kiosk *k = config_kiosk(server.cfg, user);
		return k ? k->token_hash : NULL;
	}
	const struct config_user *u = config_user(server.cfg, user);
	return u && u->role == role ? u->password_hash : NULL;
}

/* A short fingerprint of a credential hash (FNV-1a): it changes when the hash does, and
 * tells nothing about the password. */
static unsigned long long sessions_fingerprint(const char *hash)
{
	unsigned long long h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)hash; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

/* The Redis key of a session token. */
static void sessions_key(const char *token, char *out, size_t len)
{
	snprintf(out, len, "%s:session:%s", server.prefix, token);
}

/* Finishes a creation once Redis stored the session. */
static void sessions_on_stored(redisReply *reply, void *arg)
{
	struct sessions_wait *w = arg;
	int ok = reply && reply->type == REDIS_REPLY_STATUS;
	if (!ok)
		log_warn("a session could not be stored");
	w->done(ok ? w->token : NULL, &w->found, w->arg);
	free(w);
}

/* Stores a new session for a signed-in role and user; done(token or NULL, found, arg) runs on
 * the loop. -1 when Redis cannot be asked now (done never runs). */
int sessions_create(enum role role, const char *user, sessions_done_fn *done, void *arg)
{
	const char *hash = sessions_credential(role, user);
	struct sessions_wait *w = calloc(1, sizeof *w);
	if (!hash || !w || sessions_random_token(SESSION_TOKEN_BYTES, w->token, sizeof w->token) < 0) {
		free(w);
		return -1;
	}
	w->done = done;
	w->arg = arg;
	w->found.role = role;
	snprintf(w->found.user, sizeof w->found.user, "%s", user);
	char key[160], value[160], ttl[24];
	sessions_key(w->token, key, sizeof key);
	snprintf(value, sizeof value, "%s %s %016llx", config_role_name(role), user, sessions_fingerprint(hash));
	snprintf(ttl, sizeof ttl, "%d", role == ROLE_MANAGER ? SESSION_PEOPLE_S : SESSION_DEVICES_S);
	const char *argv[] = {"SET", key, value, "EX", ttl};
	if (store_command(sessions_on_stored, w, 5, argv) < 0) {
		free(w);
		return -1;
	}
	return 0;
}

/* Reads a stored session "role user fingerprint"; found->role is ROLE_PUBLIC when it is
 * gone, malformed, or its user's credential changed since. */
static void sessions_on_found(redisReply *reply, void *arg)
{
	struct sessions_wait *w = arg;
	if (!reply) {
		w->done(NULL, NULL, w->arg); /* Redis did not answer */
		free(w);
		return;
	}
	w->found.role = ROLE_PUBLIC;
	char role[16], user[160];
	unsigned long long fp;
	if (reply->type == REDIS_REPLY_STRING && reply->len < 160 &&
	    sscanf(reply->str, "%15s %159s %llx", role, user, &fp) == 3 && strlen(user) < CONFIG_ID_MAX) {
		enum role r = strcmp(role, "manager") == 0 ? ROLE_MANAGER : strcmp(role, "kiosk") == 0 ? ROLE_KIOSK : ROLE_PUBLIC;
		const char *hash = r != ROLE_PUBLIC ? sessions_credential(r, user) : NULL;
		if (hash && sessions_fingerprint(hash) == fp) {
			w->found.role = r;
			memcpy(w->found.user, user, strlen(user) + 1); /* shorter than CONFIG_ID_MAX, checked above */
		}
	}
	w->done(w->token, &w->found, w->arg);
	free(w);
}

/* Looks a session token up; done(token, found or NULL when Redis failed, arg) runs on the
 * loop. -1 when Redis cannot be asked now. */
int sessions_lookup(const char *token, sessions_done_fn *done, void *arg)
{
	struct sessions_wait *w = calloc(1, sizeof *w);
	if (!w)
		return -1;
	w->done = done;
	w->arg = arg;
	snprintf(w->token, sizeof w->token, "%s", token);
	char key[160];
	sessions_key(token, key, sizeof key);
	const char *argv[] = {"GET", key};
	if (store_command(sessions_on_found, w, 2, argv) < 0) {
		free(w);
		return -1;
	}
	return 0;
}

/* Ignores the outcome of a sign-out: a session Redis kept expires anyway. */
static void sessions_on_deleted(redisReply *reply, void *arg)
{
	(void)reply, (void)arg;
}

/* Ends a session. */
void sessions_delete(const char *token)
{
	char key[160];
	sessions_key(token, key, sizeof key);
	const char *argv[] = {"DEL", key};
	store_command(sessions_on_deleted, NULL, 2, argv);
}
