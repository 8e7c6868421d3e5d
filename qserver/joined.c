/* The learnt times that the audit entries record once and later entries name (docs/functions.md,
 * "Events"): an entry that learns a competing set's times holds them in an "L" line, and the wait
 * model's inputs of later events end in "@<stream id>", the entry that recorded them, instead of
 * repeating them. This is a bounded store of the sets read so far, by entry id and set, so that
 * building an entry's events reads the named entry from the stream only when this qserver has
 * not seen it (after a start, or for a resume from a later entry). A set that a later entry of the
 * store records again (which live entries name instead) is the first dropped, the oldest first;
 * then the oldest set; a dropped one is read again when named. */
#include "qserver.h"

#include <stdlib.h>
#include <string.h>

/* Sets kept: the current set of each of up to 512 sets (the hall's, or a service's with
 * specialised windows), besides superseded ones; a hall with more has some read again. */
#define JOINED_MAX 512

struct joined_set {
	char id[STREAM_ID_TEXT_MAX];
	char *key, *joined;
	unsigned long long stamp; /* when it was kept: the oldest goes first */
	int superseded;		  /* a later entry records the same set: live entries name that one */
};

struct joined_store {
	struct joined_set sets[JOINED_MAX];
	size_t n; /* how many are filled */
	unsigned long long stamps;
};

struct joined_store *joined_store_new(void)
{
	return calloc(1, sizeof(struct joined_store));
}

void joined_store_free(struct joined_store *s)
{
	for (size_t i = 0; s && i < s->n; i++) {
		free(s->sets[i].key);
		free(s->sets[i].joined);
	}
	free(s);
}

/* The slot of a set, or NULL. */
static struct joined_set *joined_find(const struct joined_store *s, const char *id, const char *key)
{
	for (size_t i = 0; s && i < s->n; i++) {
		const struct joined_set *j = &s->sets[i];
		if (strcmp(j->id, id) == 0 && strcmp(j->key, key) == 0)
			return (struct joined_set *)j;
	}
	return NULL;
}

/* True when stream id a ("ms-seq") comes after b. */
static int joined_id_after(const char *a, const char *b)
{
	char *end;
	unsigned long long a_ms = strtoull(a, &end, 10), a_seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
	unsigned long long b_ms = strtoull(b, &end, 10), b_seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
	return a_ms > b_ms || (a_ms == b_ms && a_seq > b_seq);
}

/* The slot a new set takes in a full store: the oldest superseded set, else the oldest. */
static struct joined_set *joined_victim(struct joined_store *s)
{
	struct joined_set *oldest = &s->sets[0], *oldest_superseded = NULL;
	for (size_t i = 0; i < s->n; i++) {
		struct joined_set *j = &s->sets[i];
		if (j->stamp < oldest->stamp)
			oldest = j;
		if (j->superseded && (!oldest_superseded || j->stamp < oldest_superseded->stamp))
			oldest_superseded = j;
	}
	return oldest_superseded ? oldest_superseded : oldest;
}

const char *joined_store_get(const struct joined_store *s, const char *id, const char *key)
{
	const struct joined_set *j = joined_find(s, id, key);
	return j ? j->joined : NULL;
}

int joined_store_put(struct joined_store *s, const char *id, const char *key, const char *joined)
{
	if (strlen(id) >= STREAM_ID_TEXT_MAX)
		return -1;
	char *copy = strdup(joined);
	if (!copy)
		return -1;
	struct joined_set *j = joined_find(s, id, key);
	if (j) { /* an entry read again holds what it held */
		free(j->joined);
		j->joined = copy;
		return 0;
	}
	char *key_copy = strdup(key);
	if (!key_copy) {
		free(copy);
		return -1;
	}
	int superseded = 0;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->sets[i].key, key) == 0) {
			if (joined_id_after(id, s->sets[i].id))
				s->sets[i].superseded = 1;
			else
				superseded = 1; /* an older entry read again (a catch-up, a resume) */
		}
	if (s->n < JOINED_MAX) {
		j = &s->sets[s->n++];
	} else {
		j = joined_victim(s);
		free(j->key);
		free(j->joined);
	}
	strcpy(j->id, id);
	j->key = key_copy;
	j->joined = copy;
	j->stamp = ++s->stamps;
	j->superseded = superseded;
	return 0;
}

struct joined_store *joined_of(struct site *site)
{
	if (!site->joined)
		site->joined = joined_store_new();
	return site->joined;
}
