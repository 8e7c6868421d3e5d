/* Fan-out of each site's events to that site's subscribed clients. The library publishes the
 * events of each function call on the site's channel as "<stream id> <json array>"; the id
 * lets qserver skip duplicates and, after its pub/sub link was down, catch up from the site's
 * stream (the replay log of decision 3) so no subscriber misses one. */
#include "qserver.h"
#include "log.h"
#include "metrics.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS_CATCH_UP_MAX 10000 /* more missed than this: subscribers resync by reconnecting */
#define EVENTS_HELD_MAX 10000	  /* messages held while catching up */
#define EVENTS_PENDING_MAX 10000  /* messages waiting for the deferred fan-out */
#define EVENTS_WAITING_BYTES_MAX (16u << 20) /* bytes of a site's messages waiting for a named entry */
#define EVENTS_LOGGED_MAX 80	  /* bytes of a dropped message that the log shows */

/* The length of a message's head that a log line shows: messages are not NUL-terminated. */
static int logged_len(size_t len)
{
	return len < EVENTS_LOGGED_MAX ? (int)len : EVENTS_LOGGED_MAX;
}

/* A message from the pub/sub link waiting for the fan-out, which runs after the loop's
 * current callbacks so that the answers to the commands go out before the events they caused. */
struct pending_message {
	struct pending_message *next;
	struct site *site;
	size_t len;
	char payload[];
};
static struct pending_message *pending_head, **pending_tail = &pending_head;
static size_t npending;
static struct event *fan_out_event;
/* Reads of named entries sent and not answered yet (any site): while one is out, messages go
 * the whole way even with no subscriber, so that those that wait for it keep their turn. */
static unsigned named_reads_out;

static void events_drop_site_held(struct site *site);

/* Parses "ms-seq"; -1 when it is not a stream id. */
static int stream_id_parse(const char *s, size_t len, struct stream_id *id)
{
	char buf[48], *dash, *end;
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	id->ms = strtoull(buf, &dash, 10);
	if (dash == buf || *dash != '-')
		return -1;
	id->seq = strtoull(dash + 1, &end, 10);
	return end != dash + 1 && *end == '\0' ? 0 : -1;
}

/* True when a comes after b. */
static int stream_id_after(struct stream_id a, struct stream_id b)
{
	return a.ms > b.ms || (a.ms == b.ms && a.seq > b.seq);
}

/* Returns the topic bit of an event name, 0 for an unknown one. */
unsigned events_topic_parse(const char *name)
{
	if (strcmp(name, "called") == 0)
		return TOPIC_CALLED;
	if (strcmp(name, "queue") == 0)
		return TOPIC_QUEUE;
	if (strcmp(name, "window") == 0)
		return TOPIC_WINDOW;
	if (strcmp(name, "ticket") == 0)
		return TOPIC_TICKET;
	return 0;
}

/* Sets the site and topics a connection receives (0: none, as when it closes), keeping
 * each site's list of subscribers per topic (so an event touches only the connections that
 * want it) in subscription order. */
void events_subscribe(struct conn *c, struct site *site, unsigned topics)
{
	if (c->events_site && c->events_site != site) {
		for (int i = 0; i < TOPIC_COUNT; i++)
			if (c->topics & (1u << i))
				TAILQ_REMOVE(&c->events_site->subscribers[i], c, topic_entry[i]);
		c->topics = 0;
	}
	for (int i = 0; i < TOPIC_COUNT && site; i++) {
		unsigned bit = 1u << i;
		if ((c->topics & bit) && !(topics & bit))
			TAILQ_REMOVE(&site->subscribers[i], c, topic_entry[i]);
		else if (!(c->topics & bit) && (topics & bit))
			TAILQ_INSERT_TAIL(&site->subscribers[i], c, topic_entry[i]);
	}
	c->events_site = topics ? site : NULL;
	c->topics = topics;
}

/* Returns the topic of an event's JSON. The library writes "event" first, so its name is read
 * without parsing the whole event (most of qserver's work per take, measured); anything else
 * is parsed in full. */
unsigned events_topic_of(const char *json, size_t len)
{
	static const char head[] = "{\"event\":\"";
	size_t n = sizeof head - 1;
	if (len > n && memcmp(json, head, n) == 0) {
		const char *end = memchr(json + n, '"', len - n);
		char name[16];
		if (end && (size_t)(end - json - n) < sizeof name) {
			memcpy(name, json + n, end - json - n);
			name[end - json - n] = '\0';
			return events_topic_parse(name);
		}
	}
	cJSON *ev = cJSON_ParseWithLength(json, len);
	cJSON *name = ev ? cJSON_GetObjectItemCaseSensitive(ev, "event") : NULL;
	unsigned topic = name && cJSON_IsString(name) ? events_topic_parse(name->valuestring) : 0;
	cJSON_Delete(ev);
	return topic;
}

/* The name of a topic bit (and of its events). */
const char *events_topic_name(unsigned topic)
{
	static const char *names[] = {"called", "queue", "window", "ticket"};
	return topic ? names[__builtin_ctz(topic) % TOPIC_COUNT] : "message";
}

/* Calls fn once for every subscriber of every site (NDJSON connections and SSE streams);
 * fn must not change who is subscribed. */
void events_each_subscriber(void (*fn)(struct conn *c, void *arg), void *arg)
{
	for (size_t s = 0; s < sites_count(); s++)
		for (int i = 0; i < TOPIC_COUNT; i++) {
			struct conn *c;
			/* A subscriber is on one list per topic: it is taken on the list of its first. */
			TAILQ_FOREACH(c, &sites_at(s)->subscribers[i], topic_entry[i])
				if (__builtin_ctz(c->topics) == i)
					fn(c, arg);
		}
}

/* Whether any connection or event stream of the site is subscribed to a topic. */
static int events_site_listened(const struct site *site)
{
	for (int i = 0; i < TOPIC_COUNT; i++)
		if (!TAILQ_EMPTY(&site->subscribers[i]))
			return 1;
	return 0;
}

/* Where the site's fan-out is, for streams that name each event (http_sse.c). */
struct events_position events_now(const struct site *site)
{
	struct events_position p = {site->delivering.ms, site->delivering.seq, site->delivering_index};
	return p;
}

/* One message's events as its subscribers get them: each event's line built once, in order,
 * and per set of topics the lines of those topics, so that a subscriber gets all of its lines
 * of the message in one write. */
struct fan_out {
	struct site *site;
	char *lines;		    /* the lines of the events of a known topic, each ending in '\n' */
	size_t len, cap;
	struct fan_event {
		size_t off, len;    /* its line in lines, '\n' included */
		unsigned topic;
		unsigned index;	    /* its place in the message, counting every event (from 1) */
	} *events;
	size_t n, events_cap;
	unsigned topics;	    /* the union of the events' topics */
	int failed;		    /* out of memory: nothing of the message is delivered */
	/* The lines of one set of topics (a topic mask), made on first use. */
	struct fan_batch {
		char *lines;	    /* NULL: not made yet (or lines itself, for every topic) */
		size_t len;
		unsigned count;
	} batch[1u << TOPIC_COUNT];
};

/* Adds one event of the message to the fan-out (an eventbuild_fn). */
static void fan_out_add(const char *json, size_t len, void *arg)
{
	struct fan_out *f = arg;
	unsigned topic = events_topic_of(json, len);
	unsigned index = ++f->site->delivering_index; /* counted for every event, so an index means the same to every stream */
	if (!topic) {
		log_warn("dropped an event of no known topic: %.*s", logged_len(len), json);
		return;
	}
	if (f->failed)
		return;
	if (f->n == f->events_cap) {
		size_t cap = f->events_cap ? f->events_cap * 2 : 16;
		struct fan_event *grown = realloc(f->events, cap * sizeof *grown);
		if (!grown) {
			f->failed = 1;
			return;
		}
		f->events = grown;
		f->events_cap = cap;
	}
	if (f->len + len + 1 > f->cap) {
		size_t cap = f->cap ? f->cap : 4096;
		while (f->len + len + 1 > cap)
			cap *= 2;
		char *grown = realloc(f->lines, cap);
		if (!grown) {
			f->failed = 1;
			return;
		}
		f->lines = grown;
		f->cap = cap;
	}
	memcpy(f->lines + f->len, json, len);
	f->lines[f->len + len] = '\n';
	f->events[f->n++] = (struct fan_event){f->len, len + 1, topic, index};
	f->len += len + 1;
	f->topics |= topic;
}

/* The lines of the message's events of the given topics, in order; NULL when out of memory. */
static const struct fan_batch *fan_out_batch(struct fan_out *f, unsigned topics)
{
	struct fan_batch *b = &f->batch[topics];
	if (b->lines)
		return b;
	if ((topics & f->topics) == f->topics) {
		/* Every event of the message: the lines themselves. */
		*b = (struct fan_batch){f->lines, f->len, (unsigned)f->n};
		return b;
	}
	b->lines = malloc(f->len);
	if (!b->lines)
		return NULL;
	for (size_t i = 0; i < f->n; i++)
		if (f->events[i].topic & topics) {
			memcpy(b->lines + b->len, f->lines + f->events[i].off, f->events[i].len);
			b->len += f->events[i].len;
			b->count++;
		}
	return b;
}

/* Sends an event stream (http_sse.c) its events of the message one by one, each with its
 * index in the message, which names it to the browser. */
static void fan_out_sse(struct fan_out *f, struct conn *c)
{
	for (size_t i = 0; i < f->n && !c->closed; i++)
		if (f->events[i].topic & c->topics) {
			f->site->delivering_index = f->events[i].index;
			http_sse_event(c, f->lines + f->events[i].off, f->events[i].len - 1);
		}
}

/* Sends every subscriber of the site its events of the message, each subscriber once, with
 * all of its lines in one write, before the next subscriber's. */
static void fan_out_send(struct fan_out *f)
{
	unsigned index_after = f->site->delivering_index;
	for (int i = 0; i < TOPIC_COUNT; i++) {
		if (!(f->topics & (1u << i)))
			continue;
		struct conn *c, *next;
		/* A slow client may be closed (and leave the list) while we write: take the next one first. */
		for (c = TAILQ_FIRST(&f->site->subscribers[i]); c; c = next) {
			next = TAILQ_NEXT(c, topic_entry[i]);
			unsigned mine = c->topics & f->topics;
			if (__builtin_ctz(mine) != i)
				continue; /* it is on the list of each of its topics: served on its first */
			if (c->sse) {
				fan_out_sse(f, c);
				continue;
			}
			const struct fan_batch *b = fan_out_batch(f, mine);
			if (b)
				conn_write_events(c, b->lines, b->len, b->count);
			else
				conn_close(c, "out of memory");
		}
	}
	f->site->delivering_index = index_after;
}

/* Frees what a fan-out made. */
static void fan_out_free(struct fan_out *f)
{
	for (size_t m = 0; m < sizeof f->batch / sizeof f->batch[0]; m++)
		if (f->batch[m].lines != f->lines)
			free(f->batch[m].lines);
	free(f->lines);
	free(f->events);
}

static void events_force_resync(struct site *site, const char *why);
static void events_try_catch_up(struct site *site);

/* A message waiting for the learnt times it names to be read from the stream (joined.c). */
struct ref_waiting {
	struct ref_waiting *next;
	struct stream_id id;
	size_t len;
	char json[];
};

/* A read of a named entry under way: its answer is for the messages waiting when it was asked
 * (site->ref_read counts the reads and is moved on when they are dropped), not for later ones. */
struct named_read {
	struct site *site;
	unsigned read;
};

/* Sends the events of one message (one function call's, with its stream id) to their
 * subscribers, once and in order (eventbuild.c splits them). Returns EVENTBUILD_MISSING, having
 * sent nothing, when it names learnt times of an entry this qserver has not read (its id in
 * site->ref_missing), unless that is `unreadable`, an entry just read that did not give them:
 * the message is then dropped and the subscribers resync. */
static int events_deliver_now(struct site *site, struct stream_id id, const char *json, size_t len,
			      const char *unreadable)
{
	if (site->last_delivered.ms && !stream_id_after(id, site->last_delivered))
		return 0;
	char sid[STREAM_ID_TEXT_MAX], missing[STREAM_ID_TEXT_MAX];
	snprintf(sid, sizeof sid, "%" PRIu64 "-%" PRIu64, id.ms, id.seq);
	site->delivering = id;
	site->delivering_index = 0;
	struct joined_store *store = joined_of(site);
	if (!events_site_listened(site) && !named_reads_out) {
		/* Nobody to send its events to: only the learnt times it records are kept, for the
		 * entries that name them later; building events nobody reads was most of a take's
		 * work in qserver. */
		if (store)
			eventbuild_learn(store, sid, json, len);
		site->last_delivered = id;
		return 0;
	}
	struct fan_out f = {.site = site};
	int n = eventbuild_entry(site->cfg, store, sid, json, len, fan_out_add, &f, missing);
	if (n == EVENTBUILD_MISSING && store && !(unreadable && strcmp(missing, unreadable) == 0)) {
		fan_out_free(&f);
		snprintf(site->ref_missing, sizeof site->ref_missing, "%s", missing);
		return EVENTBUILD_MISSING;
	}
	site->last_delivered = id;
	if (n == EVENTBUILD_MISSING) {
		/* its events cannot be built: every subscriber would miss them, so all take a fresh snapshot */
		log_warn("%s: dropped event message %s: it names the learnt times of entry %s, which could not be read",
			 site->cfg->site.id, sid, missing);
		events_force_resync(site, "an entry an event names could not be read");
	} else if (n < 0)
		log_warn("dropped a malformed event message: %.*s", logged_len(len), json);
	else if (f.failed) /* every subscriber would miss it: they take a fresh snapshot instead */
		events_force_resync(site, "an event message could not be built: out of memory");
	else if (f.n)
		fan_out_send(&f);
	fan_out_free(&f);
	return 0;
}

/* Drops the messages waiting for a named entry (the stream is read again from the last one
 * delivered, or subscribers resync); the answer of a read under way is then for none of them. */
static void events_drop_ref_waiting(struct site *site)
{
	struct ref_waiting *m;
	while ((m = site->ref_head) != NULL) {
		site->ref_head = m->next;
		free(m);
	}
	site->ref_tail = &site->ref_head;
	site->nref = 0;
	site->ref_bytes = 0;
	site->ref_read++;
}

static void events_read_named(struct site *site);

/* Delivers the messages that waited for a named entry, in order, until one names another entry
 * not read yet (which is then read). `just_read` is the entry just read for the first of them:
 * if that one still lacks it, the stream did not give it. A later message that lacks it (the
 * sets read since pushed it out of the store) has it read again. */
static void events_deliver_waiting(struct site *site, const char *just_read)
{
	struct ref_waiting *m;
	for (const char *unreadable = just_read; (m = site->ref_head) != NULL; unreadable = NULL) {
		if (events_deliver_now(site, m->id, m->json, m->len, unreadable) == EVENTBUILD_MISSING) {
			events_read_named(site);
			return;
		}
		site->ref_head = m->next;
		if (!site->ref_head)
			site->ref_tail = &site->ref_head;
		site->nref--;
		site->ref_bytes -= m->len;
		free(m);
	}
}

/* The command link went away while a named entry was to be read: the stream is read again from
 * the last message delivered (with none delivered yet there is no such place: subscribers resync). */
static void events_named_not_sent(struct site *site)
{
	events_drop_ref_waiting(site);
	if (!site->last_delivered.ms)
		events_force_resync(site, "an entry an event names could not be read");
	site->catching_up = 1;
	site->need_catch_up = 1;
	events_try_catch_up(site);
}

/* Takes the entry a waiting message names: keeps the learnt times it records, then delivers. */
static void events_on_named(redisReply *reply, void *arg)
{
	struct named_read *read = arg;
	struct site *site = read->site;
	named_reads_out--;
	int current = read->read == site->ref_read;
	free(read);
	if (!current)
		return; /* the messages it was read for were dropped meanwhile */
	char named[STREAM_ID_TEXT_MAX];
	snprintf(named, sizeof named, "%s", site->ref_missing);
	if (!reply) {
		events_named_not_sent(site);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY) {
		/* Redis refused the read (asking again would be refused again): the message that names
		 * it is dropped, its subscribers resync, and the messages after it go on */
		log_warn("%s: reading entry %s, which an event names, failed: %s", site->cfg->site.id, named,
			 reply->type == REDIS_REPLY_ERROR ? reply->str : "not a list of entries");
		events_deliver_waiting(site, named);
		return;
	}
	int found = 0;
	for (size_t i = 0; i < reply->elements; i++) {
		redisReply *entry = reply->element[i];
		if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 || strcmp(entry->element[0]->str, named) != 0)
			continue;
		redisReply *fields = entry->element[1];
		for (size_t f = 0; f + 1 < fields->elements; f += 2)
			if (strcmp(fields->element[f]->str, "data") == 0 && joined_of(site)) {
				eventbuild_learn(site->joined, named, fields->element[f + 1]->str, fields->element[f + 1]->len);
				found = 1;
			}
	}
	if (!found)
		log_warn("%s: an event names entry %s, which the stream no longer holds", site->cfg->site.id, named);
	events_deliver_waiting(site, named);
}

/* Reads the entry named by the first waiting message (site->ref_missing). */
static void events_read_named(struct site *site)
{
	char key[96];
	snprintf(key, sizeof key, "%s:events", site->prefix);
	const char *argv[] = {"XRANGE", key, site->ref_missing, site->ref_missing, "COUNT", "1"};
	struct named_read *read = malloc(sizeof *read);
	if (read)
		*read = (struct named_read){site, ++site->ref_read};
	if (!read || store_command(events_on_named, read, 6, argv) < 0) {
		free(read);
		events_named_not_sent(site);
		return;
	}
	named_reads_out++;
}

/* Sends a message's events, or has it wait behind those waiting for a named entry. */
static void events_deliver(struct site *site, struct stream_id id, const char *json, size_t len)
{
	if (!site->ref_head && events_deliver_now(site, id, json, len, NULL) != EVENTBUILD_MISSING)
		return;
	if (site->nref >= EVENTS_HELD_MAX || site->ref_bytes + len > EVENTS_WAITING_BYTES_MAX) {
		events_force_resync(site, "too many events waiting for the stream to be read");
		events_drop_ref_waiting(site);
		return;
	}
	struct ref_waiting *m = malloc(sizeof *m + len + 1);
	if (!m) {
		/* its events are lost to every subscriber: all take a fresh snapshot, as for any miss */
		log_warn("%s: dropped an event message: out of memory", site->cfg->site.id);
		events_force_resync(site, "an event message could not be kept");
		return;
	}
	m->next = NULL;
	m->id = id;
	m->len = len;
	memcpy(m->json, json, len);
	m->json[len] = '\0';
	int first = !site->ref_head;
	if (first)
		site->ref_tail = &site->ref_head;
	*site->ref_tail = m;
	site->ref_tail = &m->next;
	site->nref++;
	site->ref_bytes += len;
	if (first)
		events_read_named(site); /* the first to wait: its named entry is read */
}

/* Splits a published message into its stream id and JSON and delivers it; hands a window
 * takeover to the session code. */
static void events_deliver_message(struct site *site, const char *payload, size_t len)
{
	static const char takeover[] = "session ";
	if (len > sizeof takeover - 1 && memcmp(payload, takeover, sizeof takeover - 1) == 0) {
		/* Not an event: qh_open names a window's old holder, which may be ours. */
		session_on_takeover(site, payload + sizeof takeover - 1, len - (sizeof takeover - 1));
		return;
	}
	const char *space = memchr(payload, ' ', len);
	struct stream_id id;
	if (!space || stream_id_parse(payload, space - payload, &id) < 0) {
		log_warn("dropped a malformed event message: %.*s", logged_len(len), payload);
		return;
	}
	events_deliver(site, id, space + 1, len - (space + 1 - payload));
}

/* Closes every subscriber of the site so that it reconnects and takes a fresh snapshot. */
static void events_force_resync(struct site *site, const char *why)
{
	log_warn("%s: events may have been missed (%s): subscribers reconnect to resync", site->cfg->site.id, why);
	metrics_events_resync();
	http_sse_close_site(site); /* browsers come back with Last-Event-ID and read the stream */
	struct conn *c, *next;
	for (c = TAILQ_FIRST(&conns); c; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->topics && c->events_site == site)
			conn_close(c, "resync");
	}
}

/* Delivers the messages waiting for the fan-out, oldest first. */
static void events_deliver_pending(void)
{
	struct pending_message *m;
	while ((m = pending_head) != NULL) {
		pending_head = m->next;
		if (!pending_head)
			pending_tail = &pending_head;
		npending--;
		events_deliver_message(m->site, m->payload, m->len);
		free(m);
	}
}

/* The deferred fan-out: first the command link's waiting replies are taken and the answers
 * written to their sockets, then the events go out, so a caller never waits behind the
 * delivery of the events its own command (or an earlier one) caused. */
static void events_run_deferred(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	store_take_replies();
	conn_send_replies();
	events_deliver_pending();
}

/* Queues a message for the deferred fan-out; when the queue is full it is delivered now. */
static void events_defer(struct site *site, const char *payload, size_t len)
{
	if (!fan_out_event)
		fan_out_event = event_new(server.base, -1, 0, events_run_deferred, NULL);
	struct pending_message *m = malloc(sizeof *m + len + 1);
	if (!fan_out_event || !m || npending >= EVENTS_PENDING_MAX) {
		/* No room to wait: keep the order by sending what waits, then this one. */
		free(m);
		events_deliver_pending();
		events_deliver_message(site, payload, len);
		return;
	}
	m->next = NULL;
	m->site = site;
	m->len = len;
	memcpy(m->payload, payload, len);
	m->payload[len] = '\0';
	*pending_tail = m;
	pending_tail = &m->next;
	npending++;
	event_active(fan_out_event, EV_TIMEOUT, 0); /* once, however many wait */
}

/* The site of a channel "q:{site}:ev", or NULL for one this process does not serve. */
static struct site *events_channel_site(const char *channel)
{
	const char *open = strchr(channel, '{'), *close = open ? strchr(open, '}') : NULL;
	char id[CONFIG_ID_MAX];
	if (!open || !close || (size_t)(close - open - 1) >= sizeof id)
		return NULL;
	memcpy(id, open + 1, close - open - 1);
	id[close - open - 1] = '\0';
	return sites_find(id);
}

/* Takes a message of a site's channel from the pub/sub link. */
void events_on_message(const char *channel, const char *payload, size_t len)
{
	struct site *site = events_channel_site(channel);
	if (!site)
		return;
	notify_wake(site); /* the change may have queued a notification */
	if (!site->catching_up) {
		events_defer(site, payload, len);
		return;
	}
	if (site->nheld >= EVENTS_HELD_MAX) {
		/* Too much while the command link is away: subscribers resync, and holding ends. */
		events_force_resync(site, "too many events while the stream could not be read");
		events_drop_site_held(site);
		site->need_catch_up = 0;
		return;
	}
	char **grown = realloc(site->held, (site->nheld + 1) * sizeof *site->held);
	char *copy = malloc(len + 1);
	if (!grown || !copy) {
		free(copy);
		if (grown)
			site->held = grown;
		return;
	}
	site->held = grown;
	memcpy(copy, payload, len);
	copy[len] = '\0';
	site->held[site->nheld++] = copy;
}

/* Delivers the site's held messages and ends its catch-up. */
static void events_release_held(struct site *site)
{
	site->catching_up = 0;
	for (size_t i = 0; i < site->nheld; i++) {
		events_deliver_message(site, site->held[i], strlen(site->held[i]));
		free(site->held[i]);
	}
	free(site->held);
	site->held = NULL;
	site->nheld = 0;
}

/* Delivers the site's stream entries missed while the pub/sub link was down. */
static void events_on_catch_up(redisReply *reply, void *arg)
{
	struct site *site = arg;
	if (!reply) {
		site->need_catch_up = 1; /* the command link went away: try again when it is back */
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY) {
		events_force_resync(site, "the stream could not be read");
	} else {
		for (size_t i = 0; i < reply->elements; i++) {
			redisReply *entry = reply->element[i];
			struct stream_id id;
			if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
			    stream_id_parse(entry->element[0]->str, entry->element[0]->len, &id) < 0)
				continue;
			redisReply *fields = entry->element[1];
			for (size_t f = 0; f + 1 < fields->elements; f += 2)
				if (strcmp(fields->element[f]->str, "data") == 0)
					events_deliver(site, id, fields->element[f + 1]->str, fields->element[f + 1]->len);
		}
		if (reply->elements >= EVENTS_CATCH_UP_MAX || site->nheld >= EVENTS_HELD_MAX)
			events_force_resync(site, "too many events while the link was down");
	}
	events_release_held(site);
}

/* Learns the newest stream id at the first subscribe, so a later catch-up knows where to
 * start, then delivers what arrived meanwhile. */
static void events_on_seed(redisReply *reply, void *arg)
{
	struct site *site = arg;
	struct stream_id id;
	if (!reply) {
		site->need_catch_up = 1; /* the command link went away: try again when it is back */
		return;
	}
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
	    reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2 &&
	    stream_id_parse(reply->element[0]->element[0]->str, reply->element[0]->element[0]->len, &id) == 0 &&
	    stream_id_after(id, site->last_delivered))
		site->last_delivered = id;
	events_release_held(site);
}

/* Reads the site's stream from its last delivered event, once the command link can do it. */
static void events_try_catch_up(struct site *site)
{
	if (!site->need_catch_up || !store_ready())
		return; /* events_on_store_ready calls again */
	char key[96], start[64], count[16];
	snprintf(key, sizeof key, "%s:events", site->prefix);
	int rc;
	if (!site->last_delivered.ms) {
		/* Nothing delivered yet, so nothing was missed; learn where the stream ends. */
		const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", "1"};
		rc = store_command(events_on_seed, site, 6, argv);
	} else {
		snprintf(start, sizeof start, "(%" PRIu64 "-%" PRIu64, site->last_delivered.ms, site->last_delivered.seq);
		snprintf(count, sizeof count, "%d", EVENTS_CATCH_UP_MAX);
		const char *argv[] = {"XRANGE", key, start, "+", "COUNT", count};
		rc = store_command(events_on_catch_up, site, 6, argv);
	}
	if (rc == 0)
		site->need_catch_up = 0;
}

/* Starts a site's catch-up after the pub/sub link (re)subscribed to its channel: its messages
 * are held from now until its stream has been read, so events go out in order and none is
 * lost or doubled. */
void events_on_subscribed(const char *channel)
{
	struct site *site = events_channel_site(channel);
	if (!site)
		return;
	events_deliver_pending(); /* older than anything the catch-up reads */
	site->catching_up = 1;
	site->need_catch_up = 1;
	events_try_catch_up(site);
}

/* Runs the catch-ups that waited for the command link to be ready again. */
void events_on_store_ready(void)
{
	for (size_t i = 0; i < sites_count(); i++)
		events_try_catch_up(sites_at(i));
}

/* Drops the messages held for a site's catch-up that will not finish (overflow, shutdown). */
static void events_drop_site_held(struct site *site)
{
	for (size_t i = 0; i < site->nheld; i++)
		free(site->held[i]);
	free(site->held);
	site->held = NULL;
	site->nheld = 0;
	site->catching_up = 0;
}

/* Drops the messages held for every site's catch-up, and those waiting for a named entry. */
void events_drop_held(void)
{
	for (size_t i = 0; i < sites_count(); i++) {
		events_drop_site_held(sites_at(i));
		events_drop_ref_waiting(sites_at(i));
	}
}

/* Drops what still waits for delivery and frees the fan-out event (at shutdown). */
void events_stop(void)
{
	events_drop_held();
	struct pending_message *m;
	while ((m = pending_head) != NULL) {
		pending_head = m->next;
		free(m);
	}
	pending_tail = &pending_head;
	npending = 0;
	if (fan_out_event)
		event_free(fan_out_event);
	fan_out_event = NULL;
}
