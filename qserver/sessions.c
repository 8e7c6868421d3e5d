/* Browser sessions (WEB.md, Sessions): a random token names a session kept in Redis with an
 * expiry, so any qserver of the region accepts it and it survives a restart. The session
 * holds the role and the configured id it signed in as, and a fingerprint of that user's
 * credential hash: a changed hash in the config ends the session. A session belongs to the
 * site it signed in at (its key is under the site's prefix) and works only there; a region
 * manager's session is kept under the region and works at the sites of its scope. */
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
	struct site *site;	     /* the site the session is used at; NULL for none */
	char token[SESSION_TOKEN_MAX];
};

#define SESSION_REGION_PREFIX "q:region" /* a region manager's sessions (not a site's) */

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

/* The credential hash of a hall's configured user or kiosk in cfg, or of a region manager
 * in region (cfg NULL), or NULL when there is none of that id and role. */
const char *sessions_credential_in(const struct config *cfg, const struct config_region *region, enum role role,
				   const char *user)
{
	if (!cfg) {
		const struct config_region_user *u = region ? config_region_user(region, user) : NULL;
		return u && role == ROLE_MANAGER ? u->password_hash : NULL;
	}
	if (role == ROLE_KIOSK || role == ROLE_PAD) { /* a pad is a kiosk of kind pad, and only it */
		const struct config_kiosk *k = config_kiosk(cfg, user);
		return k && (k->pad_window > 0) == (role == ROLE_PAD) ? k->token_hash : NULL;
	}
	const struct config_user *u = config_user(cfg, user);
	return u && u->role == role ? u->password_hash : NULL;
}

/* The credential hash of a site's configured user or kiosk, or of a region manager (site
 * NULL), as served now. */
static const char *sessions_credential(const struct site *site, enum role role, const char *user)
{
	return sessions_credential_in(site ? site->cfg : NULL, sites_region(), role, user);
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

/* The Redis key of a session token at a site, or of a region manager's (site NULL). */
static void sessions_key(const struct site *site, const char *token, char *out, size_t len)
{
	snprintf(out, len, "%s:session:%s", site ? site->prefix : SESSION_REGION_PREFIX, token);
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

/* Stores a new session for a role and user signed in at a site (a region manager: site NULL,
 * kept for the region); done(token or NULL, found, arg) runs on the loop. -1 when Redis
 * cannot be asked now (done never runs). */
int sessions_create(const struct site *site, enum role role, const char *user, sessions_done_fn *done, void *arg)
{
	const char *hash = sessions_credential(site, role, user);
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
	sessions_key(site, w->token, key, sizeof key);
	snprintf(value, sizeof value, "%s %s %016llx", config_role_name(role), user, sessions_fingerprint(hash));
	snprintf(ttl, sizeof ttl, "%d", role == ROLE_MANAGER ? SESSION_PEOPLE_S : SESSION_DEVICES_S);
	const char *argv[] = {"SET", key, value, "EX", ttl};
	if (store_command(sessions_on_stored, w, 5, argv) < 0) {
		free(w);
		return -1;
	}
	return 0;
}

/* Whether a stored session "role user fingerprint" is still valid at the site it is used at
 * (home: its own site, or NULL for a region manager's); fills found when so. */
static int sessions_parse(const redisReply *value, const struct site *home, const struct site *used,
			  struct sessions_found *found)
{
	char role[16], user[160];
	unsigned long long fp;
	if (value->type != REDIS_REPLY_STRING || value->len >= 160 ||
	    sscanf(value->str, "%15s %159s %llx", role, user, &fp) != 3 || strlen(user) >= CONFIG_ID_MAX)
		return 0;
	int parsed = config_role_parse(role);
	enum role r = parsed == ROLE_MANAGER || parsed == ROLE_KIOSK || parsed == ROLE_PAD ? (enum role)parsed : ROLE_PUBLIC;
	const char *hash = r != ROLE_PUBLIC ? sessions_credential(home, r, user) : NULL;
	if (!hash || sessions_fingerprint(hash) != fp)
		return 0;
	const struct config_region_user *ru = home ? NULL : config_region_user(sites_region(), user);
	if (ru && used && !config_region_user_may(ru, used->cfg->site.id))
		return 0; /* a region manager's session works at the sites of its scope only */
	found->role = r;
	found->region_user = ru;
	memcpy(found->user, user, strlen(user) + 1); /* shorter than CONFIG_ID_MAX, checked above */
	return 1;
}

/* Reads the session's keys (the site's, then the region's); found->role is ROLE_PUBLIC when it
 * is gone, malformed, or its user's credential changed since. */
static void sessions_on_found(redisReply *reply, void *arg)
{
	struct sessions_wait *w = arg;
	if (!reply || reply->type != REDIS_REPLY_ARRAY) {
		w->done(NULL, NULL, w->arg); /* Redis did not answer */
		free(w);
		return;
	}
	w->found.role = ROLE_PUBLIC;
	size_t i = 0;
	if (w->site && i < reply->elements && sessions_parse(reply->element[i++], w->site, w->site, &w->found)) {
		w->done(w->token, &w->found, w->arg);
		free(w);
		return;
	}
	if (i < reply->elements)
		sessions_parse(reply->element[i], NULL, w->site, &w->found);
	w->done(w->token, &w->found, w->arg);
	free(w);
}

/* Looks a session token up for a request at a site (NULL when it names none): the site's own
 * session, or a region manager's; done(token, found or NULL when Redis failed, arg) runs on
 * the loop. -1 when Redis cannot be asked now. */
int sessions_lookup(struct site *site, const char *token, sessions_done_fn *done, void *arg)
{
	struct sessions_wait *w = calloc(1, sizeof *w);
	if (!w)
		return -1;
	w->done = done;
	w->arg = arg;
	w->site = site;
	snprintf(w->token, sizeof w->token, "%s", token);
	char site_key[160], region_key[160];
	const char *argv[3] = {"MGET"};
	int argc = 1;
	if (site) {
		sessions_key(site, token, site_key, sizeof site_key);
		argv[argc++] = site_key;
	}
	if (sites_region()) {
		sessions_key(NULL, token, region_key, sizeof region_key);
		argv[argc++] = region_key;
	}
	if (argc == 1) { /* nothing to look at: no session */
		w->found.role = ROLE_PUBLIC;
		done(w->token, &w->found, arg);
		free(w);
		return 0;
	}
	if (store_command(sessions_on_found, w, argc, argv) < 0) {
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

/* Ends a session, wherever it was kept (a sign-out names no site): one DEL of its key at
 * every site and in the region. */
void sessions_delete(const char *token)
{
	size_t n = sites_count() + 1;
	char (*keys)[160] = calloc(n, sizeof *keys);
	const char **argv = calloc(n + 1, sizeof *argv);
	if (!keys || !argv) {
		free(keys);
		free(argv);
		return;
	}
	argv[0] = "DEL";
	for (size_t i = 0; i < n; i++) {
		sessions_key(i < n - 1 ? sites_at(i) : NULL, token, keys[i], sizeof keys[i]);
		argv[i + 1] = keys[i];
	}
	store_command(sessions_on_deleted, NULL, (int)n + 1, argv);
	free(keys);
	free(argv);
}
