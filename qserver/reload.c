/* SIGHUP reloads the hall configs without dropping connections (docs/operations.md,
 * "Reloading the configs"). The new configs are read and checked in full first; the reload is
 * refused as a whole, the old configs still served, when one is invalid, when the sites
 * served would change, or when it removes a window that has a called or serving ticket (asked
 * of Redis). Otherwise every site gets its new config and Redis its new setup (qh_setup, as
 * at start), and the connections signed in with an account that was removed or whose password
 * or token hash changed are told and closed; a browser session of such an account stops
 * working at its next request, since sessions.c compares the hash's fingerprint. */
#include "qserver.h"
#include "reload.h"
#include "log.h"
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>

struct reload;

/* A window the new configs remove: Redis says whether a ticket is called or served there. */
struct window_check {
	struct reload *rl;
	char site[CONFIG_ID_MAX];
	int window;
};

/* A connection the reload ends, and why. */
struct reload_end {
	struct conn *c;
	const char *reason;
	const char *message;
};

/* A reload from the read of the files to its outcome. */
struct reload {
	struct sites_parsed parsed;
	struct window_check *checks;
	size_t waiting;		     /* checks not yet answered */
	char refusal[512];	     /* the first reason to refuse; empty while none */
	struct reload_end *ends;
	size_t nends, ends_cap;
};

static struct reload *pending; /* at most one reload at a time */

static const char credentials_message[] =
	"This account's password or token was changed or removed in the configuration; sign in again.";
static const char scope_message[] = "This account no longer manages this site in the configuration; sign in again.";
static const char window_message[] = "This window was removed from the configuration or is no longer allowed for this "
				     "clerk; sign in again at another window.";

/* Frees a reload and what it still holds. */
static void reload_free(struct reload *rl)
{
	sites_parsed_free(&rl->parsed);
	free(rl->checks);
	free(rl->ends);
	free(rl);
	if (pending == rl)
		pending = NULL;
}

/* Refuses the whole reload: the old configs stay. */
static void reload_refuse(struct reload *rl, const char *why)
{
	log_error("reload refused: %s; the old config stays", why);
	metrics_reload(0);
	reload_free(rl);
}

/* The new config of a site id, or NULL. */
static struct config *reload_new_config(const struct reload *rl, const char *id)
{
	for (size_t i = 0; i < rl->parsed.n; i++)
		if (strcmp(rl->parsed.cfgs[i]->site.id, id) == 0)
			return rl->parsed.cfgs[i];
	return NULL;
}

/* Checks that the new configs name exactly the sites served, and keep a region a region;
 * -1 with the reason in err. */
static int reload_same_sites(const struct reload *rl, char *err, size_t errlen)
{
	if (!rl->parsed.region != !sites_region()) {
		snprintf(err, errlen, "the config changed between one hall file and a region folder; restart qserver for that");
		return -1;
	}
	for (size_t i = 0; i < sites_count(); i++)
		if (!reload_new_config(rl, sites_at(i)->cfg->site.id)) {
			snprintf(err, errlen, "site %s is no longer in the config; restart qserver to remove a site", sites_at(i)->cfg->site.id);
			return -1;
		}
	for (size_t i = 0; i < rl->parsed.n; i++)
		if (!sites_find(rl->parsed.cfgs[i]->site.id)) {
			snprintf(err, errlen, "site %s is new; restart qserver to add a site", rl->parsed.cfgs[i]->site.id);
			return -1;
		}
	return 0;
}

/* Remembers a connection to end once the new configs are served. */
static void reload_mark_end(struct reload *rl, struct conn *c, const char *reason, const char *message)
{
	if (rl->nends == rl->ends_cap) {
		size_t cap = rl->ends_cap ? rl->ends_cap * 2 : 16;
		struct reload_end *grown = realloc(rl->ends, cap * sizeof *grown);
		if (!grown) {
			conn_close(c, "out of memory"); /* it must not outlive its account */
			return;
		}
		rl->ends = grown;
		rl->ends_cap = cap;
	}
	rl->ends[rl->nends++] = (struct reload_end){c, reason, message};
}

/* Decides whether a signed-in connection outlives the reload (arg): its account must keep
 * its hash, and a clerk its window. */
static void reload_judge(struct conn *c, void *arg)
{
	struct reload *rl = arg;
	if (c->role == ROLE_PUBLIC || c->closed || !c->site)
		return;
	const char *before, *after;
	const struct config *cfg = reload_new_config(rl, c->site->cfg->site.id);
	if (c->region_user) {
		before = c->region_user->password_hash;
		after = sessions_credential_in(NULL, rl->parsed.region, ROLE_MANAGER, c->region_user->id);
	} else {
		before = sessions_credential_in(c->site->cfg, NULL, c->role, c->user);
		after = sessions_credential_in(cfg, NULL, c->role, c->user);
	}
	if (!before || !after || strcmp(before, after) != 0) {
		log_info("reload: %s %s of site %s: account changed or removed; its connection is closed",
			 config_role_name(c->role), c->user, c->site->cfg->site.id);
		reload_mark_end(rl, c, "credentials", credentials_message);
		return;
	}
	if (c->region_user && !config_region_user_may(config_region_user(rl->parsed.region, c->region_user->id), c->site->cfg->site.id)) {
		log_info("reload: region manager %s no longer manages site %s; its connection is closed", c->user, c->site->cfg->site.id);
		reload_mark_end(rl, c, "scope", scope_message);
		return;
	}
	if (c->role != ROLE_CLERK || !c->window)
		return;
	const struct config_user *u = config_user(cfg, c->user);
	if (!config_window(cfg, c->window) || !config_user_may_use(u, c->window)) {
		log_info("reload: clerk %s of site %s: window %d removed or no longer allowed; its connection is closed",
			 c->user, c->site->cfg->site.id, c->window);
		reload_mark_end(rl, c, "window", window_message);
	}
}

/* Calls reload_judge for the stream subscribers (the NDJSON ones are in the list of conns). */
static void reload_judge_stream(struct conn *c, void *arg)
{
	if (c->sse)
		reload_judge(c, arg);
}

/* Points a kept region manager's connection at its account in the new region. */
static void reload_repoint(struct conn *c, void *arg)
{
	(void)arg;
	const struct config_region_user *u = c->region_user ? config_region_user(sites_region(), c->region_user->id) : NULL;
	if (u)
		c->region_user = u;
}

/* Serves the new configs: sessions judged against the old, the swap, then the ends. */
static void reload_apply(struct reload *rl)
{
	struct conn *c;
	TAILQ_FOREACH(c, &conns, entry)
		reload_judge(c, rl);
	events_each_subscriber(reload_judge_stream, rl);
	if (sites_replace(&rl->parsed) < 0) {
		reload_refuse(rl, "out of memory");
		return;
	}
	TAILQ_FOREACH(c, &conns, entry)
		reload_repoint(c, NULL);
	events_each_subscriber(reload_repoint, NULL);
	for (size_t i = 0; i < rl->nends; i++) {
		struct conn *e = rl->ends[i].c;
		if (strcmp(rl->ends[i].reason, "window") == 0 && !config_window(e->site->cfg, e->window))
			e->window = 0; /* the window is gone: nothing to give back */
		session_end(e, rl->ends[i].reason, rl->ends[i].message);
	}
	if (login_pin_users() < 0)
		log_warn("reload: out of memory pinning the sign-in budgets of new accounts");
	store_setup_sites();
	metrics_reload(1);
	log_info("reload: the new config of %zu site%s is served; %zu connection%s closed", sites_count(),
		 sites_count() == 1 ? "" : "s", rl->nends, rl->nends == 1 ? "" : "s");
	reload_free(rl);
}

/* Ends a reload once every window check answered. */
static void reload_decide(struct reload *rl)
{
	if (rl->refusal[0])
		reload_refuse(rl, rl->refusal);
	else if (server.shutting_down)
		reload_refuse(rl, "the server is stopping");
	else
		reload_apply(rl);
}

/* Takes Redis's state of a removed window: one with a ticket called or served refuses. */
static void reload_on_window(redisReply *reply, void *arg)
{
	struct window_check *wc = arg;
	struct reload *rl = wc->rl;
	rl->waiting--;
	if (!reply && !rl->refusal[0])
		snprintf(rl->refusal, sizeof rl->refusal, "site %s: window %d is removed, and Redis did not answer whether a ticket is called there",
			 wc->site, wc->window);
	if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 && reply->element[0]->type == REDIS_REPLY_STRING &&
	    (strcmp(reply->element[0]->str, "calling") == 0 || strcmp(reply->element[0]->str, "serving") == 0) &&
	    !rl->refusal[0])
		snprintf(rl->refusal, sizeof rl->refusal,
			 "site %s: window %d is removed by the new config but ticket %s is %s there; finish or transfer it first",
			 wc->site, wc->window, reply->element[1]->type == REDIS_REPLY_STRING ? reply->element[1]->str : "?",
			 strcmp(reply->element[0]->str, "calling") == 0 ? "called" : "served");
	if (rl->waiting == 0)
		reload_decide(rl);
}

/* Asks Redis about every window the new configs remove; the reload goes on when all answered. */
static void reload_check_windows(struct reload *rl)
{
	size_t n = 0;
	for (size_t i = 0; i < sites_count(); i++) {
		const struct config *old = sites_at(i)->cfg, *cfg = reload_new_config(rl, old->site.id);
		for (size_t w = 0; w < old->nwindows; w++)
			n += !config_window(cfg, old->windows[w].id);
	}
	if (n == 0) {
		reload_decide(rl);
		return;
	}
	rl->checks = calloc(n, sizeof *rl->checks);
	if (!rl->checks) {
		reload_refuse(rl, "out of memory");
		return;
	}
	rl->waiting = 1; /* held while sending, so no answer ends the reload early */
	size_t k = 0;
	for (size_t i = 0; i < sites_count() && !rl->refusal[0]; i++) {
		const struct site *site = sites_at(i);
		const struct config *cfg = reload_new_config(rl, site->cfg->site.id);
		for (size_t w = 0; w < site->cfg->nwindows && !rl->refusal[0]; w++) {
			int id = site->cfg->windows[w].id;
			if (config_window(cfg, id))
				continue;
			struct window_check *wc = &rl->checks[k++];
			wc->rl = rl;
			wc->window = id;
			snprintf(wc->site, sizeof wc->site, "%s", site->cfg->site.id);
			char key[CONFIG_ID_MAX + 32];
			snprintf(key, sizeof key, "%s:w:%d", site->prefix, id);
			const char *argv[] = {"HMGET", key, "state", "number"};
			if (store_command(reload_on_window, wc, 4, argv) == 0)
				rl->waiting++;
			else
				snprintf(rl->refusal, sizeof rl->refusal,
					 "site %s: window %d is removed, and Redis is unreachable to say whether a ticket is called there",
					 wc->site, id);
		}
	}
	if (--rl->waiting == 0)
		reload_decide(rl);
}

/* Reloads the configs at path (SIGHUP). */
void reload_start(const char *path)
{
	if (server.shutting_down)
		return;
	if (pending) {
		log_warn("SIGHUP: a reload is still under way; this one is ignored");
		return;
	}
	log_info("SIGHUP: reloading %s", path);
	struct reload *rl = calloc(1, sizeof *rl);
	if (!rl) {
		log_error("reload refused: out of memory; the old config stays");
		metrics_reload(0);
		return;
	}
	pending = rl;
	char err[512];
	if (sites_parse(path, &rl->parsed, err, sizeof err) < 0 || reload_same_sites(rl, err, sizeof err) < 0) {
		reload_refuse(rl, err);
		return;
	}
	reload_check_windows(rl);
}
