/* Budgets of failed logins per key (a user name or a peer address): past the limit, a key is
 * locked out for a time that doubles with each lock-out, up to a cap. Memory is bounded: keys
 * pinned at start (the configured users and kiosks) are never forgotten, and every other key
 * lives in a fixed table of small buckets that forgets the least recently used. */
#include "qserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUDGET_KEY_MAX 72
#define BUDGET_WAYS 8 /* entries per bucket */

struct budget_entry {
	char key[BUDGET_KEY_MAX]; /* empty: a free entry */
	int failures;		  /* since the last lock-out */
	int in_flight;		  /* checks under way, counted as possible failures */
	int lockouts;
	time_t locked_until;
	time_t last_at;
};

struct budget {
	struct budget_policy policy;
	struct budget_entry *pinned;
	size_t npinned, pinned_cap;
	struct budget_entry *buckets; /* nbuckets * BUDGET_WAYS */
	size_t nbuckets;
	uint64_t seed; /* random, so nobody can aim many keys at one bucket */
};

/* Makes an empty budget with room for about slots unpinned keys; NULL when out of memory. */
struct budget *budget_new(const struct budget_policy *policy, size_t slots)
{
	struct budget *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->policy = *policy;
	b->nbuckets = slots / BUDGET_WAYS ? slots / BUDGET_WAYS : 1;
	b->buckets = calloc(b->nbuckets * BUDGET_WAYS, sizeof *b->buckets);
	if (!b->buckets) {
		free(b);
		return NULL;
	}
	if (getentropy(&b->seed, sizeof b->seed) < 0)
		b->seed = (uint64_t)time(NULL); /* still unknown to a client, if less so */
	return b;
}

/* Frees a budget; NULL is fine. */
void budget_free(struct budget *b)
{
	if (!b)
		return;
	free(b->pinned);
	free(b->buckets);
	free(b);
}

/* Adds a key that is never forgotten or evicted; 0 or -1 when out of memory. */
int budget_pin(struct budget *b, const char *key)
{
	if (b->npinned == b->pinned_cap) {
		size_t cap = b->pinned_cap ? b->pinned_cap * 2 : 16;
		struct budget_entry *grown = realloc(b->pinned, cap * sizeof *grown);
		if (!grown)
			return -1;
		b->pinned = grown;
		b->pinned_cap = cap;
	}
	struct budget_entry *e = &b->pinned[b->npinned++];
	memset(e, 0, sizeof *e);
	snprintf(e->key, sizeof e->key, "%s", key);
	return 0;
}

/* Whether a stored key is this key: keys are kept to their first BUDGET_KEY_MAX - 1 bytes, so
 * longer ones (a 64-character ref, a user at a long site id) compare and hash on that prefix
 * too, and find their entry again. */
static int budget_key_is(const char *stored, const char *key)
{
	return strncmp(stored, key, BUDGET_KEY_MAX - 1) == 0;
}

/* True when the key is pinned already. */
int budget_pinned(const struct budget *b, const char *key)
{
	for (size_t i = 0; i < b->npinned; i++)
		if (budget_key_is(b->pinned[i].key, key))
			return 1;
	return 0;
}

/* FNV-1a of the key, started from the budget's seed. */
static uint64_t budget_hash(const struct budget *b, const char *key)
{
	uint64_t h = 14695981039346656037ULL ^ b->seed;
	const unsigned char *p = (const unsigned char *)key;
	for (size_t n = 0; p[n] && n < BUDGET_KEY_MAX - 1; n++)
		h = (h ^ p[n]) * 1099511628211ULL;
	return h;
}

/* Whether an entry holds nothing worth keeping at time now. */
static int budget_idle(const struct budget *b, const struct budget_entry *e, time_t now)
{
	return e->in_flight == 0 && e->locked_until <= now && now - e->last_at >= b->policy.forget_s;
}

/* Finds the key's entry; with create, makes one (evicting the least recently used idle or
 * unlocked entry of its bucket). NULL when absent, or when every entry of the bucket is busy. */
static struct budget_entry *budget_find(struct budget *b, const char *key, time_t now, int create)
{
	for (size_t i = 0; i < b->npinned; i++)
		if (budget_key_is(b->pinned[i].key, key))
			return &b->pinned[i];
	struct budget_entry *bucket = &b->buckets[(budget_hash(b, key) % b->nbuckets) * BUDGET_WAYS];
	struct budget_entry *victim = NULL;
	for (int i = 0; i < BUDGET_WAYS; i++) {
		struct budget_entry *e = &bucket[i];
		if (e->key[0] && budget_key_is(e->key, key))
			return e;
		/* A free or forgotten entry first, else the oldest one neither locked nor checking. */
		int reusable = !e->key[0] || budget_idle(b, e, now);
		int evictable = e->in_flight == 0 && e->locked_until <= now;
		if (reusable && (!victim || victim->key[0]))
			victim = e;
		else if (evictable && (!victim || (victim->key[0] && e->last_at < victim->last_at)))
			victim = e;
	}
	if (!create || !victim)
		return NULL;
	memset(victim, 0, sizeof *victim);
	snprintf(victim->key, sizeof victim->key, "%s", key);
	victim->last_at = now;
	return victim;
}

/* Forgets the failures of an entry that has been quiet for the policy's forget time. */
static void budget_refresh(const struct budget *b, struct budget_entry *e, time_t now)
{
	if (budget_idle(b, e, now)) {
		e->failures = 0;
		e->lockouts = 0;
	}
}

/* Seconds the key must wait before its next check; 0 when a check may run now. With
 * count_in_flight, checks under way count as failures until they end, so parallel attempts
 * cannot pass the limit. */
long budget_wait(struct budget *b, const char *key, time_t now)
{
	struct budget_entry *e = budget_find(b, key, now, 0);
	if (!e)
		return 0;
	budget_refresh(b, e, now);
	if (e->locked_until > now)
		return (long)(e->locked_until - now);
	if (b->policy.count_in_flight && e->failures + e->in_flight >= b->policy.limit)
		return 1; /* the checks under way decide; ask again in a moment */
	return 0;
}

/* Whether the key is locked out now (not merely waiting for its checks under way). */
int budget_locked(struct budget *b, const char *key, time_t now)
{
	struct budget_entry *e = budget_find(b, key, now, 0);
	return e && e->locked_until > now;
}

/* Notes a check that starts now for the key. */
void budget_begin(struct budget *b, const char *key, time_t now)
{
	struct budget_entry *e = budget_find(b, key, now, 1);
	if (!e)
		return;
	budget_refresh(b, e, now);
	e->in_flight++;
	e->last_at = now;
}

/* Counts failures against the key; returns the length in seconds of a lock-out this started,
 * or 0 (also when it only made a running lock-out longer). */
long budget_charge(struct budget *b, const char *key, time_t now, int failures)
{
	if (failures <= 0)
		return 0;
	struct budget_entry *e = budget_find(b, key, now, 1);
	if (!e)
		return 0;
	budget_refresh(b, e, now);
	int was_locked = e->locked_until > now;
	e->last_at = now;
	e->failures += failures;
	if (e->failures < b->policy.limit)
		return 0;
	e->failures = 0;
	e->lockouts++;
	long len = b->policy.base_s;
	for (int i = 1; i < e->lockouts && len < b->policy.cap_s; i++)
		len *= 2;
	if (len > b->policy.cap_s)
		len = b->policy.cap_s;
	e->locked_until = now + len;
	return was_locked ? 0 : len; /* a longer lock-out while locked is the same lock-out */
}

/* Ends a check begun with budget_begin, counting failures (0 for a success) against the key;
 * returns the length of a lock-out this started, or 0. */
long budget_end(struct budget *b, const char *key, time_t now, int failures)
{
	struct budget_entry *e = budget_find(b, key, now, 0);
	if (e && e->in_flight > 0)
		e->in_flight--;
	return budget_charge(b, key, now, failures);
}

/* Forgets the key's failures and lock-outs (after a right password); checks under way stay. */
void budget_clear(struct budget *b, const char *key, time_t now)
{
	struct budget_entry *e = budget_find(b, key, now, 0);
	if (!e)
		return;
	e->failures = 0;
	e->lockouts = 0;
	e->locked_until = 0;
}
