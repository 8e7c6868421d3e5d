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

/* Loads one hall file and adds its site; -1 with a message in err. */
static int sites_load_hall(const char *path, char *err, size_t errlen)
{
	struct config *cfg = config_load(path, err, errlen);
	if (!cfg)
		return -1;
	if (sites_add(cfg) < 0) {
		snprintf(err, errlen, "%s: site %s is served twice, or memory ran out", path, cfg->site.id);
		config_free(cfg);
		return -1;
	}
	return 0;
}

/* Loads a region folder: region.json and the hall file of each of its sites, whose site id
 * must be the one region.json gives it. */
static int sites_load_region(const char *dir, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/region.json", dir);
	region = config_region_load(path, err, errlen);
	if (!region)
		return -1;
	for (size_t i = 0; i < region->nsites; i++) {
		const struct config_region_site *rs = &region->sites[i];
		snprintf(path, sizeof path, "%s/%s", dir, rs->file);
		if (sites_load_hall(path, err, errlen) < 0)
			return -1;
		struct site *s = sites[nsites - 1];
		if (strcmp(s->cfg->site.id, rs->id) != 0) {
			snprintf(err, errlen, "%s: site.id is \"%s\" but region.json lists this file as site \"%s\"",
				 path, s->cfg->site.id, rs->id);
			return -1;
		}
		s->level = rs->level;
	}
	for (size_t i = 0; i < region->nsites; i++)
		sites[i]->parent = region->sites[i].parent[0] ? sites_find(region->sites[i].parent) : NULL;
	return 0;
}

/* Loads the halls of --config: one hall file, or a region folder; -1 with a message in err. */
int sites_load(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return sites_load_region(path, err, errlen);
	return sites_load_hall(path, err, errlen);
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
		free(sites[i]);
	}
	free(sites);
	sites = NULL;
	nsites = 0;
	config_region_free(region);
	region = NULL;
	sitejson_forget();
}
