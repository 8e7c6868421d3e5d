/* The tickets a run took, in take order, with an index by ticket id (open addressing). */
#include "qsim.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a of a ticket id. */
static size_t tickets_hash(const char *id)
{
	uint64_t h = 1469598103934665603ull;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ull;
	return (size_t)h;
}

/* Finds the ticket with this id, or NULL. */
struct sim_ticket *tickets_find(struct sim_tickets *t, const char *id)
{
	if (!t->nslots)
		return NULL;
	for (size_t i = tickets_hash(id) % t->nslots;; i = (i + 1) % t->nslots) {
		if (!t->slots[i])
			return NULL;
		if (strcmp(t->v[t->slots[i] - 1].id, id) == 0)
			return &t->v[t->slots[i] - 1];
	}
}

/* Puts index i into the id index. */
static void tickets_index(struct sim_tickets *t, size_t i)
{
	size_t k = tickets_hash(t->v[i].id) % t->nslots;
	while (t->slots[k])
		k = (k + 1) % t->nslots;
	t->slots[k] = (int)i + 1;
}

/* Appends a ticket with this id (zeroed otherwise); NULL when memory runs out. */
struct sim_ticket *tickets_add(struct sim_tickets *t, const char *id)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		struct sim_ticket *v = realloc(t->v, cap * sizeof *v);
		int *slots = calloc(cap * 2, sizeof *slots);
		if (!v || !slots) {
			free(slots);
			if (v)
				t->v = v;
			return NULL;
		}
		t->v = v;
		t->cap = cap;
		free(t->slots);
		t->slots = slots;
		t->nslots = cap * 2;
		for (size_t i = 0; i < t->n; i++)
			tickets_index(t, i);
	}
	struct sim_ticket *k = &t->v[t->n];
	memset(k, 0, sizeof *k);
	snprintf(k->id, sizeof k->id, "%s", id);
	tickets_index(t, t->n++);
	return k;
}

/* Frees the list. */
void tickets_free(struct sim_tickets *t)
{
	free(t->v);
	free(t->slots);
	memset(t, 0, sizeof *t);
}
