/* Checking the credentials of a hello: within the failure budgets per user and per peer
 * address, on the worker pool (authpool.c), with unknown users checked against a dummy hash so
 * that the answer takes as long as for a real user. Only configured names reach the log. */
#include "qserver.h"
#include "log.h"
#include "metrics.h"
#include "password.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGIN_QUEUE_MAX 64	     /* checks waiting for a worker */
#define LOGIN_NAME_SLOTS 1024	     /* unknown user names remembered */
#define LOGIN_ADDRESS_SLOTS 4096     /* peer addresses remembered */
#define LOGIN_ADDRESS_FACTOR 4	     /* an address may fail this many times a user's limit */
#define LOGIN_LOCK_BASE_S 30
#define LOGIN_LOCK_CAP_S 900
#define LOGIN_FORGET_S 3600

static struct budget *by_user;	 /* keys "u:<user>" and "k:<kiosk>" */
static struct budget *by_address;
static char dummy_hash[PASSWORD_HASH_MAX];

/* One check under way. */
struct login_check {
	struct request *r;
	char key[LOGIN_KEY_MAX];      /* the user's budget key ("u:<id>@<site>"), empty for none */
	char address[64];
	int known;		      /* the key names a configured user or kiosk */
	int weight;		      /* failures a refusal counts against the address */
	login_done_fn *done;
	void *arg;
};

/* Makes the dummy hash like the first configured hash, so unknown names cost the same. */
static int login_make_dummy(const struct config *cfg)
{
	const char *like = cfg->nusers ? cfg->users[0].password_hash : cfg->nkiosks ? cfg->kiosks[0].token_hash : NULL;
	if (like && password_dummy_hash(like, dummy_hash, sizeof dummy_hash) == 0)
		return 0;
	return password_hash("unused", dummy_hash, sizeof dummy_hash);
}

/* Writes the budget key of a user ('u'), kiosk ('k') or region user ('r', site NULL). Hall ids
 * are unique per hall only, so in a region they carry the site ("c01@xixiang"); the part
 * after the colon is the name the log shows. */
void login_key(char kind, const struct site *site, const char *id, char *out, size_t len)
{
	if (site && sites_count() > 1)
		snprintf(out, len, "%c:%s@%s", kind, id, site->cfg->site.id);
	else
		snprintf(out, len, "%c:%s", kind, id);
}

/* Pins a budget key unless it is pinned already; -1 when out of memory. */
static int login_pin(const char *key)
{
	return budget_pinned(by_user, key) ? 0 : budget_pin(by_user, key);
}

/* Pins the budget of every configured user and kiosk of every site and of the region, so
 * that failures of unknown names never push a real account's count out (at start, and for
 * the accounts a reload adds); -1 when out of memory. */
int login_pin_users(void)
{
	char key[LOGIN_KEY_MAX];
	for (size_t s = 0; s < sites_count(); s++) {
		const struct site *site = sites_at(s);
		const struct config *cfg = site->cfg;
		for (size_t i = 0; i < cfg->nusers; i++) {
			login_key('u', site, cfg->users[i].id, key, sizeof key);
			if (login_pin(key) < 0)
				return -1;
		}
		for (size_t i = 0; i < cfg->nkiosks; i++) {
			login_key('k', site, cfg->kiosks[i].id, key, sizeof key);
			if (login_pin(key) < 0)
				return -1;
		}
	}
	const struct config_region *region = sites_region();
	for (size_t i = 0; region && i < region->nusers; i++) {
		login_key('r', NULL, region->users[i].id, key, sizeof key);
		if (login_pin(key) < 0)
			return -1;
	}
	return 0;
}

/* Sets up the budgets (every configured user and kiosk of every site pinned), the dummy hash
 * and the worker pool; 0, or -1 after logging why. */
int login_start(void)
{
	struct budget_policy user_policy = {server.opt.login_failures, LOGIN_LOCK_BASE_S, LOGIN_LOCK_CAP_S, LOGIN_FORGET_S, 1};
	/* An address does not count its checks under way: a hall behind one address signs every
	 * console in again at once after a restart. The pool's queue bounds such a burst. */
	struct budget_policy address_policy = user_policy;
	address_policy.limit = server.opt.login_failures * LOGIN_ADDRESS_FACTOR;
	address_policy.count_in_flight = 0;
	by_user = budget_new(&user_policy, LOGIN_NAME_SLOTS);
	by_address = budget_new(&address_policy, LOGIN_ADDRESS_SLOTS);
	if (!by_user || !by_address) {
		log_error("out of memory for the login budgets");
		return -1;
	}
	if (login_pin_users() < 0)
		return -1;
	if (login_make_dummy(sites_at(0)->cfg) < 0) {
		log_error("cannot make the dummy password hash");
		return -1;
	}
	return authpool_start(server.opt.login_threads, LOGIN_QUEUE_MAX);
}

/* Stops the pool (answering checks under way) and frees the budgets. */
void login_stop(void)
{
	authpool_stop();
	budget_free(by_user);
	budget_free(by_address);
	by_user = by_address = NULL;
}

/* The hash an unknown user or kiosk is checked against. */
const char *login_dummy_hash(void)
{
	return dummy_hash;
}

/* Writes the address part of a peer ("1.2.3.4:5678" or "[::1]:5678") into out. */
void login_peer_address(const char *peer, char *out, size_t len)
{
	const char *start = peer, *end = strrchr(peer, ':');
	if (peer[0] == '[') {
		start = peer + 1;
		end = strchr(start, ']');
	}
	if (!end || end < start)
		end = peer + strlen(peer);
	snprintf(out, len, "%.*s", (int)(end - start), start);
}

/* Answers rate_limited for a hello past its budget. One refused during a lock-out counts
 * against the address: a client that keeps trying while told to wait is guessing. */
static void login_refuse(struct request *r, const char *key, const char *address, long wait)
{
	time_t now = clock_now();
	int locked = budget_locked(by_address, address, now) || (key && budget_locked(by_user, key, now));
	metrics_login_refused();
	if (locked && budget_charge(by_address, address, now, 1)) {
		log_warn("hellos from %s locked out: too many failed or refused hellos", address);
		metrics_login_lockout(1);
	}
	request_reply_rate_limited(r, wait, "Too many failed sign-ins; wait %ld s and try again.", wait);
}

/* Takes a finished check back on the loop: budgets, log, then the caller's callback. */
static void login_on_checked(int matched, void *arg)
{
	struct login_check *lc = arg;
	time_t now = clock_now();
	int failed = matched == AUTH_NO_MATCH || (matched >= 0 && !lc->known);
	if (lc->key[0])
		budget_end(by_user, lc->key, now, 0);
	budget_end(by_address, lc->address, now, 0);
	if (matched != AUTH_CANCELLED && failed) {
		const char *name = !lc->key[0] ? "a kiosk that gave no id" : lc->known ? lc->key + 2 : "an unknown name";
		log_warn("failed hello for %s from %s", name, lc->address);
		metrics_login_failure();
		if (lc->key[0] && budget_charge(by_user, lc->key, now, 1)) {
			log_warn("hellos for %s locked out: too many failed hellos", name);
			metrics_login_lockout(0);
		}
		if (budget_charge(by_address, lc->address, now, lc->weight)) {
			log_warn("hellos from %s locked out: too many failed hellos", lc->address);
			metrics_login_lockout(1);
		}
		matched = AUTH_NO_MATCH;
	} else if (lc->key[0]) {
		budget_clear(by_user, lc->key, now);
	}
	lc->done(lc->r, matched, lc->arg);
	free(lc);
}

/* Checks secret against the hashes on the worker pool, within the budgets of key (a user or
 * kiosk key such as "u:c01", or NULL for the address alone) and of the connection's address.
 * known says whether key is configured (else the hashes are the dummy one and a match counts
 * as a failure). done(r, index of the matching hash, AUTH_NO_MATCH, or AUTH_CANCELLED when the
 * server stops first, arg) runs on the loop,
 * possibly after the connection closed (r->conn NULL). Returns 0, or -1 when the budget or a
 * full pool refused: r is then answered rate_limited here and done never runs. */
int login_check(struct request *r, const char *key, int known, const char *secret, const char *const *hashes,
		 size_t nhashes, login_done_fn *done, void *arg)
{
	time_t now = clock_now();
	char address[64];
	login_peer_address(r->conn->peer, address, sizeof address);
	long wait = key ? budget_wait(by_user, key, now) : 0;
	long wait_address = budget_wait(by_address, address, now);
	if (wait_address > wait)
		wait = wait_address;
	if (wait > 0) {
		login_refuse(r, key, address, wait);
		return -1;
	}
	struct login_check *lc = calloc(1, sizeof *lc);
	if (!lc) {
		request_reply_error(r, "internal", NULL, "The server ran out of memory.");
		return -1;
	}
	lc->r = r;
	snprintf(lc->key, sizeof lc->key, "%s", key ? key : "");
	snprintf(lc->address, sizeof lc->address, "%s", address);
	lc->known = known;
	lc->weight = nhashes > 0 ? (int)nhashes : 1;
	lc->done = done;
	lc->arg = arg;
	if (authpool_submit(secret, hashes, nhashes, login_on_checked, lc) < 0) {
		free(lc);
		log_warn("sign-in checks are queued to their bound; a hello from %s was turned away", address);
		request_reply_rate_limited(r, 1, "The server is busy checking other sign-ins; try again in a moment.");
		return -1;
	}
	if (key)
		budget_begin(by_user, key, now);
	budget_begin(by_address, address, now);
	return 0;
}
