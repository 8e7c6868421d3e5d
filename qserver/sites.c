/* The halls this process serves, each with its config, key prefix and running state, looked
 * up by id (DESIGN decision 10): nothing else in C holds a single hall. */
#include "qserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct site **sites;
static size_t nsites;
static struct config_region *region; /* region.json of a config folder; NULL for one hall file */
/* Configs replaced by a reload: kept until exit, because password checks under way on the
 * worker threads read their hashes (authpool.c) and connections point at region users. */
static struct config **retired;
static size_t nretired;
static struct config_region **retired_regions;
static size_t nretired_regions;
static unsigned generation; /* reloads applied so far */

/* Adds a hall (taking its config); -1 when memory runs out or its id is taken. */
int sites_add(struct config *cfg)
{
	if (sites_find(cfg->site.id))
		return -1;
	struct site *s = calloc(1, sizeof *s);
	struct site **grown = realloc(sites, (nsites + 1) * sizeof *sites);
	if (!s || !grown) {
		free(s);
		if (grown)
			sites = grown;
		return -1;
	}
	sites = grown;
	s->cfg = cfg;
	snprintf(s->prefix, sizeof s->prefix, "q:{%s}", cfg->site.id);
	s->setup_json = sitejson_setup(cfg);
	s->day_pending = 1;
	for (int i = 0; i < TOPIC_COUNT; i++)
		TAILQ_INIT(&s->subscribers[i]);
	if (!s->setup_json) {
		free(s);
		return -1;
	}
	sites[nsites++] = s;
	return 0;
}

/* Frees configs read but not served. */
void sites_parsed_free(struct sites_parsed *p)
{
	for (size_t i = 0; i < p->n; i++)
		config_free(p->cfgs[i]);
	free(p->cfgs);
	config_region_free(p->region);
	memset(p, 0, sizeof *p);
}

/* Reads one hall file into p; -1 with a message in err. */
static int sites_parse_hall(const char *path, struct sites_parsed *p, char *err, size_t errlen)
{
	struct config **grown = realloc(p->cfgs, (p->n + 1) * sizeof *grown);
	if (!grown) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	p->cfgs = grown;
	struct config *cfg = config_load(path, err, errlen);
	if (!cfg)
		return -1;
	if (eventbuild_prepare(cfg) < 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		config_free(cfg);
		return -1;
	}
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->cfgs[i]->site.id, cfg->site.id) == 0) {
			snprintf(err, errlen, "%s: site %s is served twice", path, cfg->site.id);
			config_free(cfg);
			return -1;
		}
	p->cfgs[p->n++] = cfg;
	return 0;
}

/* Reads a region folder: region.json and the hall file of each of its sites, whose site id
 * must be the one region.json gives it. */
static int sites_parse_region(const char *dir, struct sites_parsed *p, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/region.json", dir);
	p->region = config_region_load(path, err, errlen);
	if (!p->region)
		return -1;
	for (size_t i = 0; i < p->region->nsites; i++) {
		const struct config_region_site *rs = &p->region->sites[i];
		snprintf(path, sizeof path, "%s/%s", dir, rs->file);
		if (sites_parse_hall(path, p, err, errlen) < 0)
			return -1;
		if (strcmp(p->cfgs[p->n - 1]->site.id, rs->id) != 0) {
			snprintf(err, errlen, "%s: site.id is \"%s\" but region.json lists this file as site \"%s\"",
				 path, p->cfgs[p->n - 1]->site.id, rs->id);
			return -1;
		}
	}
	return 0;
}

/* Reads and checks the halls of --config (one hall file, or a region folder) without serving
 * them; -1 with a message in err (p is then empty). */
int sites_parse(const char *path, struct sites_parsed *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof *p);
	struct stat st;
	int rc = stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? sites_parse_region(path, p, err, errlen)
							    : sites_parse_hall(path, p, err, errlen);
	if (rc < 0)
		sites_parsed_free(p);
	return rc;
}

/* Sets each site's level and parent from the region (a lone hall keeps none). */
static void sites_link_region(void)
{
	for (size_t i = 0; region && i < region->nsites; i++) {
		struct site *s = sites_find(region->sites[i].id);
		if (!s)
			continue;
		s->level = region->sites[i].level;
		s->parent = region->sites[i].parent[0] ? sites_find(region->sites[i].parent) : NULL;
	}
}

/* Loads the halls of --config: one hall file, or a region folder; -1 with a message in err. */
int sites_load(const char *path, char *err, size_t errlen)
{
	struct sites_parsed p;
	if (sites_parse(path, &p, err, errlen) < 0)
		return -1;
	region = p.region;
	p.region = NULL;
	for (size_t i = 0; i < p.n; i++) {
		if (sites_add(p.cfgs[i]) < 0) {
			snprintf(err, errlen, "site %s: out of memory", p.cfgs[i]->site.id);
			for (size_t k = i; k < p.n; k++) /* the sites added own theirs */
				config_free(p.cfgs[k]);
			free(p.cfgs);
			return -1;
		}
	}
	free(p.cfgs);
	sites_link_region();
	return 0;
}

/* Serves the configs of p at the sites of the same ids (the caller checked that p names
 * exactly the sites served), taking them from p; the configs replaced are kept until exit.
 * -1 when memory runs out, with nothing changed. */
int sites_replace(struct sites_parsed *p)
{
	char **setups = calloc(p->n ? p->n : 1, sizeof *setups);
	struct config **grown = realloc(retired, (nretired + p->n) * sizeof *grown);
	if (grown)
		retired = grown;
	struct config_region **grown_regions = realloc(retired_regions, (nretired_regions + 1) * sizeof *grown_regions);
	if (grown_regions)
		retired_regions = grown_regions;
	int ok = setups && grown && grown_regions;
	for (size_t i = 0; ok && i < p->n; i++)
		ok = (setups[i] = sitejson_setup(p->cfgs[i])) != NULL;
	if (!ok) {
		for (size_t i = 0; setups && i < p->n; i++)
			free(setups[i]);
		free(setups);
		return -1;
	}
	for (size_t i = 0; i < p->n; i++) {
		struct site *s = sites_find(p->cfgs[i]->site.id);
		retired[nretired++] = s->cfg;
		s->cfg = p->cfgs[i];
		free(s->setup_json);
		s->setup_json = setups[i];
	}
	free(setups);
	free(p->cfgs);
	p->cfgs = NULL;
	p->n = 0;
	if (region)
		retired_regions[nretired_regions++] = region;
	region = p->region;
	p->region = NULL;
	sites_link_region();
	sitejson_forget();
	generation++;
	return 0;
}

/* How many reloads were applied: a sign-in checked against an older config is not granted. */
unsigned sites_generation(void)
{
	return generation;
}

/* The region of a config folder, or NULL when one hall file is served. */
const struct config_region *sites_region(void)
{
	return region;
}

/* How many halls are served. */
size_t sites_count(void)
{
	return nsites;
}

/* The i-th hall, in the order they were added. */
struct site *sites_at(size_t i)
{
	return i < nsites ? sites[i] : NULL;
}

/* The hall with that id, or NULL. */
struct site *sites_find(const char *id)
{
	for (size_t i = 0; i < nsites; i++)
		if (strcmp(sites[i]->cfg->site.id, id) == 0)
			return sites[i];
	return NULL;
}

/* The one hall when only one is served (a request need not name it), else NULL. */
struct site *sites_sole(void)
{
	return nsites == 1 ? sites[0] : NULL;
}

/* Frees every hall (at exit). */
void sites_free(void)
{
	for (size_t i = 0; i < nsites; i++) {
		free(sites[i]->setup_json);
		config_free(sites[i]->cfg);
		joined_store_free(sites[i]->joined);
		free(sites[i]);
	}
	free(sites);
	sites = NULL;
	nsites = 0;
	config_region_free(region);
	region = NULL;
	for (size_t i = 0; i < nretired; i++)
		config_free(retired[i]);
	free(retired);
	retired = NULL;
	nretired = 0;
	for (size_t i = 0; i < nretired_regions; i++)
		config_region_free(retired_regions[i]);
	free(retired_regions);
	retired_regions = NULL;
	nretired_regions = 0;
	sitejson_forget();
}
