/* Region ops (PROTOCOL.md v2, "Sites and the region"): the sites served, the live row of each
 * site for a region manager, and statistics across sites. A call across sites sends each
 * site's function calls at once (pipelined) and answers when the last has come back. */
#include "qserver.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sites served, in the config's order, with their place in the region and whether each
 * takes tickets now: the `sites` op's list, also GET /api/v1/sites. */
cJSON *region_sites_list(void)
{
	cJSON *list = cJSON_CreateArray();
	time_t now = clock_now();
	for (size_t i = 0; i < sites_count(); i++) {
		const struct site *s = sites_at(i);
		const struct config_site *cs = &s->cfg->site;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", cs->id);
		cJSON_AddStringToObject(o, "name", cs->name);
		if (cs->name_en)
			cJSON_AddStringToObject(o, "name_en", cs->name_en);
		if (s->parent)
			cJSON_AddStringToObject(o, "parent", s->parent->cfg->site.id);
		else
			cJSON_AddNullToObject(o, "parent");
		cJSON_AddStringToObject(o, "level", config_level_name(s->level));
		cJSON_AddBoolToObject(o, "open", sitetime_hall_open(cs, now));
		cJSON_AddItemToArray(list, o);
	}
	return list;
}

/* Answers the sites served (region_sites_list). */
void op_sites(struct request *r)
{
	cJSON *res = cJSON_CreateObject();
	cJSON_AddItemToObject(res, "sites", region_sites_list());
	request_reply(r, res);
}

/* Function calls for one request across several sites, and their parsed results. */
struct gather {
	struct request *r;
	size_t nsites, per_site, left;
	struct site **sites;
	cJSON **results;	     /* [site * per_site + call]; NULL until answered */
	char *error;		     /* the first failure's error text, or "" for no answer */
	int failed;
	int sending;		     /* still sending: a failure to send must not finish it yet */
	void (*done)(struct gather *g);
	char by[16];		     /* stats: the dimension asked for */
};

/* One call of a gather. */
struct gather_call {
	struct gather *g;
	size_t slot;
};

/* Frees a gather and its results. */
static void gather_free(struct gather *g)
{
	for (size_t i = 0; i < g->nsites * g->per_site; i++)
		cJSON_Delete(g->results[i]);
	free(g->results);
	free(g->sites);
	free(g->error);
	free(g);
}

/* Answers the request once every call has come back: the first failure, or the result. */
static void gather_finish(struct gather *g)
{
	if (g->failed && g->error && g->error[0])
		request_reply_store_error(g->r, g->error);
	else if (g->failed)
		request_reply_error(g->r, "unavailable", NULL, "Storage did not answer in time; retry later.");
	else
		g->done(g);
	gather_free(g);
}

/* Keeps one call's parsed result (or its failure) and finishes after the last one. */
static void gather_on_reply(redisReply *reply, void *arg)
{
	struct gather_call *call = arg;
	struct gather *g = call->g;
	/* a result may hold compact parts (the service list): made whole with the site's config */
	char *whole = reply && reply->type == REDIS_REPLY_STRING
			      ? eventbuild_result(g->sites[call->slot / g->per_site]->cfg, reply->str, reply->len)
			      : NULL;
	if (!whole || !(g->results[call->slot] = cJSON_Parse(whole))) {
		if (!g->failed && reply && reply->type == REDIS_REPLY_ERROR)
			g->error = strdup(reply->str);
		g->failed = 1;
	}
	free(whole);
	free(call);
	if (--g->left == 0 && !g->sending)
		gather_finish(g);
}

/* Sends one call of a gather; a call that cannot be sent counts as failed. */
static void gather_send(struct gather *g, size_t site, size_t call, const char *function, int argc, const char **argv)
{
	struct gather_call *c = malloc(sizeof *c);
	if (c) {
		c->g = g;
		c->slot = site * g->per_site + call;
	}
	if (!c || store_fcall(g->sites[site], function, 1, gather_on_reply, c, argc, argv) < 0) {
		free(c);
		g->failed = 1;
		g->left--;
	}
}

/* Ends the sending of a gather's calls: finishes it when none is still out. */
static void gather_sent(struct gather *g)
{
	g->sending = 0;
	if (g->left == 0)
		gather_finish(g);
}

/* Makes a gather over the sites; NULL (answered) when out of memory or storage is away. */
static struct gather *gather_new(struct request *r, struct site **sites, size_t nsites, size_t per_site,
				 void (*done)(struct gather *g))
{
	if (!store_ready()) {
		free(sites);
		request_reply_error(r, "unavailable", NULL, "Storage is unreachable; retry later.");
		return NULL;
	}
	struct gather *g = calloc(1, sizeof *g);
	cJSON **results = calloc(nsites * per_site + 1, sizeof *results);
	if (!g || !results) {
		free(g);
		free(results);
		free(sites);
		request_reply_error(r, "internal", NULL, "The server ran out of memory.");
		return NULL;
	}
	*g = (struct gather){.r = r, .nsites = nsites, .per_site = per_site, .left = nsites * per_site,
			     .sites = sites, .results = results, .done = done, .sending = 1};
	return g;
}

/* True when the connection's manager may act at the site: a region manager within its scope,
 * a hall manager at its own hall. */
static int region_in_scope(const struct conn *c, const struct site *s)
{
	if (c->region_user)
		return config_region_user_may(c->region_user, s->cfg->site.id);
	return c->site == s;
}

/* The sites of the connection's scope, in the config's order (malloc'd); NULL when none. */
static struct site **region_scope(const struct conn *c, size_t *n)
{
	struct site **list = calloc(sites_count() + 1, sizeof *list);
	*n = 0;
	for (size_t i = 0; list && i < sites_count(); i++)
		if (region_in_scope(c, sites_at(i)))
			list[(*n)++] = sites_at(i);
	return list;
}

/* A number member of o, or 0. */
static double num(const cJSON *o, const char *key)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(x) ? x->valuedouble : 0;
}

/* Copies a member of the stats row to the region row under a new name (null stays null). */
static void copy_stat(cJSON *row, const char *name, const cJSON *stats, const char *key)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(stats, key);
	cJSON_AddItemToObject(row, name, x && cJSON_IsNumber(x) ? cJSON_CreateNumber(x->valuedouble) : cJSON_CreateNull());
}

/* The calls per site of a region row: snapshot, today's stats, the open follow-ups. */
#define REGION_CALLS 3

/* Builds the region rows from each site's services, windows, today's statistics and open
 * bad-rating follow-ups. */
static void region_done(struct gather *g)
{
	cJSON *res = cJSON_CreateObject();
	cJSON *rows = cJSON_AddArrayToObject(res, "rows");
	time_t now = clock_now();
	for (size_t i = 0; i < g->nsites; i++) {
		const struct site *s = g->sites[i];
		const cJSON *snap = g->results[i * REGION_CALLS], *stats = g->results[i * REGION_CALLS + 1], *x;
		const cJSON *followups = g->results[i * REGION_CALLS + 2];
		double waiting = 0, ewt_max = 0, windows_open = 0;
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(snap, "services")) {
			waiting += num(x, "waiting");
			if (num(x, "waiting") > 0 && num(x, "ewt") > ewt_max)
				ewt_max = num(x, "ewt");
		}
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(snap, "windows")) {
			const cJSON *st = cJSON_GetObjectItemCaseSensitive(x, "state");
			windows_open += cJSON_IsString(st) && strcmp(st->valuestring, "closed") != 0;
		}
		const cJSON *total = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(stats, "rows"), 0);
		cJSON *row = cJSON_CreateObject();
		cJSON_AddStringToObject(row, "site", s->cfg->site.id);
		cJSON_AddStringToObject(row, "name", s->cfg->site.name);
		cJSON_AddStringToObject(row, "level", config_level_name(s->level));
		if (s->parent)
			cJSON_AddStringToObject(row, "parent", s->parent->cfg->site.id);
		else
			cJSON_AddNullToObject(row, "parent");
		cJSON_AddBoolToObject(row, "open", sitetime_hall_open(&s->cfg->site, now));
		cJSON_AddNumberToObject(row, "waiting", waiting);
		cJSON_AddNumberToObject(row, "windows_open", windows_open);
		cJSON_AddNumberToObject(row, "called_today", num(total, "waits"));
		cJSON_AddNumberToObject(row, "served_today", num(total, "served"));
		copy_stat(row, "wait_mean_today", total, "wait_mean");
		copy_stat(row, "wait_p90_today", total, "wait_p90");
		copy_stat(row, "sla_pct_today", total, "sla_pct");
		cJSON_AddNumberToObject(row, "ewt_max", ewt_max);
		cJSON_AddNumberToObject(row, "bad_ratings_open", num(followups, "open"));
		cJSON_AddNumberToObject(row, "bad_ratings_overdue", num(followups, "overdue"));
		cJSON_AddItemToArray(rows, row);
	}
	request_reply(g->r, res);
}

/* Answers the live row of every site of the region manager's scope. */
void op_region(struct request *r)
{
	if (!r->conn->region_user) {
		request_reply_error(r, "forbidden", NULL, "region is for region managers (users of region.json).");
		return;
	}
	size_t n;
	struct site **scope = region_scope(r->conn, &n);
	struct gather *g = scope ? gather_new(r, scope, n, REGION_CALLS, region_done) : NULL;
	if (!scope)
		request_reply_error(r, "internal", NULL, "The server ran out of memory.");
	if (!g)
		return;
	for (size_t i = 0; i < n; i++) {
		char today[11];
		sitetime_day(&scope[i]->cfg->site, clock_now(), today);
		const char *stats_argv[] = {today, today, "total", "", "0"};
		gather_send(g, i, 0, "qh_snapshot", 0, NULL);
		gather_send(g, i, 1, "qh_stats", 5, stats_argv);
		gather_send(g, i, 2, "qh_followups", 1, stats_argv);
	}
	gather_sent(g);
}

/* Builds the stats answer across sites: each site's rows with `site`, or one row per site
 * for by "site"; `more` when any site's answer was cut. */
static void stats_sites_done(struct gather *g)
{
	cJSON *res = cJSON_CreateObject();
	const cJSON *first = g->results[0];
	cJSON_AddItemToObject(res, "from", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(first, "from"), 1));
	cJSON_AddItemToObject(res, "to", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(first, "to"), 1));
	cJSON_AddStringToObject(res, "by", g->by);
	cJSON *rows = cJSON_AddArrayToObject(res, "rows");
	int more = 0;
	for (size_t i = 0; i < g->nsites; i++) {
		const char *id = g->sites[i]->cfg->site.id;
		cJSON *site_rows = cJSON_GetObjectItemCaseSensitive(g->results[i], "rows"), *row;
		more |= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g->results[i], "more"));
		cJSON_ArrayForEach(row, site_rows) {
			cJSON *copy = cJSON_Duplicate(row, 1);
			if (strcmp(g->by, "site") == 0)
				cJSON_ReplaceItemInObjectCaseSensitive(copy, "key", cJSON_CreateString(id));
			cJSON_AddStringToObject(copy, "site", id);
			cJSON_AddItemToArray(rows, copy);
		}
	}
	cJSON_AddBoolToObject(res, "more", more);
	request_reply(g->r, res);
}

/* Reads `sites` of a stats request: "*" for the manager's scope, or a list of sites all in
 * it; returns the sites (malloc'd, *n set), or NULL after answering. */
static struct site **stats_sites_arg(struct request *r, const cJSON *arg, size_t *n)
{
	if (cJSON_IsString(arg) && strcmp(arg->valuestring, "*") == 0) {
		struct site **scope = region_scope(r->conn, n);
		if (!scope)
			request_reply_error(r, "internal", NULL, "The server ran out of memory.");
		return scope;
	}
	int count = cJSON_IsArray(arg) ? cJSON_GetArraySize(arg) : -1;
	if (count < 1 || (size_t)count > sites_count()) {
		request_reply_error(r, "bad_request", "sites", "sites must be \"*\" or a list of site ids.");
		return NULL;
	}
	struct site **list = calloc((size_t)count, sizeof *list);
	if (!list) {
		request_reply_error(r, "internal", NULL, "The server ran out of memory.");
		return NULL;
	}
	*n = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, arg) {
		struct site *s = cJSON_IsString(x) ? sites_find(x->valuestring) : NULL;
		const char *why = !cJSON_IsString(x) ? "bad_request" : !s ? "not_found" : !region_in_scope(r->conn, s) ? "forbidden" : NULL;
		for (size_t j = 0; !why && j < *n; j++)
			if (list[j] == s)
				why = "bad_request";
		if (why) {
			request_reply_error(r, why, "sites", "sites: \"%.40s\" is not a site of your scope, or is listed twice.",
					    cJSON_IsString(x) ? x->valuestring : "?");
			free(list);
			return NULL;
		}
		list[(*n)++] = s;
	}
	return list;
}

/* Runs stats across sites for a manager: the same range and dimension at every site named
 * (by "site": one total row per site). A window is a hall's own, so it is refused here. */
void stats_across_sites(struct request *r, const cJSON *sites_arg, const char *from, const char *to, const char *by)
{
	if (r->conn->role != ROLE_MANAGER) {
		request_reply_error(r, "forbidden", "sites", "Only managers see statistics across sites.");
		return;
	}
	if (cJSON_GetObjectItemCaseSensitive(r->args, "window") || cJSON_GetObjectItemCaseSensitive(r->args, "offset")) {
		request_reply_error(r, "bad_request", "sites", "window and offset belong to one site's statistics, not to sites.");
		return;
	}
	size_t n = 0;
	struct site **list = stats_sites_arg(r, sites_arg, &n);
	if (!list)
		return;
	if (n == 0) {
		free(list);
		request_reply_error(r, "not_found", "sites", "No site is in your scope.");
		return;
	}
	struct gather *g = gather_new(r, list, n, 1, stats_sites_done);
	if (!g)
		return;
	snprintf(g->by, sizeof g->by, "%s", by);
	const char *argv[] = {from, to, strcmp(by, "site") == 0 ? "total" : by, "", "0"};
	for (size_t i = 0; i < n; i++)
		gather_send(g, i, 0, "qh_stats", 5, argv);
	gather_sent(g);
}
