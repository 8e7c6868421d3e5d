/* The learnt times that the audit entries record once and later entries name (docs/functions.md,
 * "Events"): an entry that learns a competing set's times holds them in an "L" line, and the wait
 * model's inputs of later events end in "@<stream id>", the entry that recorded them, instead of
 * repeating them. This is a bounded store of the sets read so far, by entry id and set, so that
 * building an entry's events reads the named entry from the stream only when this qserver has
 * not seen it (after a start, or for a resume from a later entry). The oldest set read is the
 * first one dropped; a dropped one is read again when named. */
#include "qserver.h"

#include <stdlib.h>
#include <string.h>

#define JOINED_MAX 512 /* sets kept: far more than the sets a hall's live entries name */

struct joined_set {
	char id[STREAM_ID_TEXT_MAX];
	char *key, *joined;
};

struct joined_store {
	struct joined_set sets[JOINED_MAX];
	size_t next, n; /* the ring's next slot and how many are filled */
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
	for (size_t k = 0; s && k < s->n; k++) {
		/* newest first: the sets live entries name */
		size_t i = (s->next + JOINED_MAX - 1 - k) % JOINED_MAX;
		const struct joined_set *j = &s->sets[i];
		if (strcmp(j->id, id) == 0 && strcmp(j->key, key) == 0)
			return (struct joined_set *)j;
	}
	return NULL;
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
	j = &s->sets[s->next];
	if (s->n == JOINED_MAX) {
		free(j->key);
		free(j->joined);
	} else {
		s->n++;
	}
	strcpy(j->id, id);
	j->key = key_copy;
	j->joined = copy;
	s->next = (s->next + 1) % JOINED_MAX;
	return 0;
}

struct joined_store *joined_of(struct site *site)
{
	if (!site->joined)
		site->joined = joined_store_new();
	return site->joined;
}
