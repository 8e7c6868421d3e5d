/* Live events as Server-Sent Events (WEB.md, Live updates). A stream is a subscriber like an
 * NDJSON connection (a transient conn on the topic lists of events.c) whose events leave as
 * SSE messages named by their place in the Redis stream: "<entry id>.<index>", the index
 * counting the events one entry expands into. A browser that reconnects with Last-Event-ID
 * gets what it missed from the stream (XRANGE), in order and once; when that entry is no
 * longer kept it gets `event: reset` and reloads the snapshot. A comment every 15 s keeps
 * proxies from closing a quiet stream; a reader that falls behind the output bound of
 * NDJSON is dropped. A ticket's stream (tickets/{id}/events) sends that ticket's changes,
 * read again through the op table whenever its service's queue moves. */
#include "qserver.h"
#include "log.h"
#include "metrics.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#define SSE_HEARTBEAT_S 15
#define SSE_RESUME_MAX 1000	   /* entries read for a resume; more missed is a reset */
#define SSE_HELD_MAX 1000	   /* live events held while a resume reads the stream */
#define SSE_TICKET_REFRESH_MS 1000 /* a ticket's stream reads its ticket at most this often */

/* A place in the event stream: an entry and the index of an event in it (1-based). */
struct sse_id {
	uint64_t ms, seq;
	unsigned index;
};

/* A live event held while the stream is read for a resume. */
struct sse_held {
	STAILQ_ENTRY(sse_held) entry;
	struct sse_id id;
	size_t len;
	char json[];
};

struct sse_stream {
	LIST_ENTRY(sse_stream) entry;
	struct evhttp_request *req;  /* NULL once the client is gone */
	struct http_client *client;
	struct conn *conn;	     /* the subscriber on the topic lists */
	struct site *site;	     /* the site whose events it carries */
	char addr[CONN_ADDR_MAX];
	unsigned topics;
	struct sse_id last;	     /* the last event sent; resumes skip up to it */
	int resuming;		     /* reading the stream: live events are held */
	STAILQ_HEAD(, sse_held) held;
	size_t nheld;
	int held_lost;		     /* a live event could not be held: the resume must reset */
	/* A ticket's stream: */
	char ticket[64];	     /* empty for a site's stream */
	char secret[64];
	char service[CONFIG_ID_MAX];
	char *last_ticket;	     /* the ticket object last sent, to send only changes */
	int refreshing;		     /* a read of the ticket is under way */
	int refresh_again;	     /* the queue moved during that read */
	struct event *refresh_timer;
	long long refreshed_ms;
	struct event *drop_event;    /* ends a slow reader outside the writes that found it */
	int dropped;
	int finishing;		     /* ends after what was written, not cut */
	/* A resume's entries, replayed once the entries they name were read (joined.c): */
	struct sse_entry *replay;
	size_t nreplay, replay_next;
	char named[STREAM_ID_TEXT_MAX]; /* the entry being read for them */
};

/* A stream entry kept for a resume. */
struct sse_entry {
	char id[STREAM_ID_TEXT_MAX];
	char *data;
	size_t len;
};

static LIST_HEAD(, sse_stream) streams = LIST_HEAD_INITIALIZER(streams);
static int nstreams;
static struct event *heartbeat;

static void sse_refresh_ticket(struct sse_stream *s);

/* How many streams are open. */
int http_sse_count(void)
{
	return nstreams;
}

/* True when the path is an event stream: /api/v1/sites/{site}/events or
 * /api/v1/sites/{site}/tickets/{id}/events. */
int http_sse_wanted(const char *path)
{
	static const char head[] = "/api/v1/sites/";
	size_t n = strlen(path);
	return strncmp(path, head, sizeof head - 1) == 0 && n > 7 && strcmp(path + n - 7, "/events") == 0;
}

/* True when a comes after b. */
static int sse_after(struct sse_id a, struct sse_id b)
{
	if (a.ms != b.ms)
		return a.ms > b.ms;
	if (a.seq != b.seq)
		return a.seq > b.seq;
	return a.index > b.index;
}

/* Parses "ms-seq.index" (Last-Event-ID); -1 when it is not one of ours. */
static int sse_id_parse(const char *s, struct sse_id *id)
{
	char *end;
	id->ms = strtoull(s, &end, 10);
	if (end == s || *end != '-')
		return -1;
	s = end + 1;
	id->seq = strtoull(s, &end, 10);
	if (end == s || *end != '.')
		return -1;
	s = end + 1;
	unsigned long index = strtoul(s, &end, 10);
	if (end == s || *end || index > 100000)
		return -1;
	id->index = (unsigned)index;
	return 0;
}

/* Frees the entries kept for a resume. */
static void sse_replay_free(struct sse_stream *s)
{
	for (size_t i = 0; i < s->nreplay; i++)
		free(s->replay[i].data);
	free(s->replay);
	s->replay = NULL;
	s->nreplay = s->replay_next = 0;
}

/* Frees a stream's subscriber from its own event, once no callback can touch it. */
static void sse_free_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	free(arg);
}

/* Ends a stream: off the topic lists and the stream list; the connection is closed when
 * drop is set (a slow reader), else it is already gone. */
static void sse_end(struct sse_stream *s, int drop)
{
	events_subscribe(s->conn, s->site, 0);
	LIST_REMOVE(s, entry);
	nstreams--;
	http_detach(s->client);
	struct sse_held *h;
	while ((h = STAILQ_FIRST(&s->held)) != NULL) {
		STAILQ_REMOVE_HEAD(&s->held, entry);
		free(h);
	}
	if (s->refresh_timer)
		event_free(s->refresh_timer);
	if (s->drop_event)
		event_free(s->drop_event);
	sse_replay_free(s);
	free(s->last_ticket);
	struct evhttp_request *req = s->req;
	struct conn *c = s->conn;
	c->sse = NULL;
	/* A ticket read under way is detached, as a closing connection's are: its answer finds
	 * no client and ends quietly. */
	conn_detach_requests(c);
	if (event_base_once(server.base, -1, EV_TIMEOUT, sse_free_later, c, NULL) < 0)
		log_warn("could not defer freeing an event stream");
	free(s);
	if (drop && req)
		evhttp_connection_free(evhttp_request_get_connection(req));
}

/* The client closed the stream. */
static void sse_on_gone(void *arg)
{
	struct sse_stream *s = arg;
	http_release_orphan(s->req);
	s->req = NULL;
	sse_end(s, 0);
}

/* Writes text to the stream; drops a reader whose unread output passed the bound. Returns
 * -1 when the stream ended. */
static int sse_write(struct sse_stream *s, struct evbuffer *buf)
{
	if (!s->req || s->dropped)
		return -1;
	evhttp_send_reply_chunk(s->req, buf);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(s->req));
	if (evbuffer_get_length(bufferevent_get_output(bev)) > server.opt.max_output) {
		log_warn("event stream of %s dropped: it reads too slowly", s->addr);
		metrics_slow_reader_dropped(METRICS_SSE);
		s->dropped = 1;
		event_active(s->drop_event, EV_TIMEOUT, 0);
		return -1;
	}
	return 0;
}

/* Ends a stream marked dropped, from its own event: a slow reader's connection is cut, a
 * stream that said its last word is finished so that word arrives. */
static void sse_on_drop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct sse_stream *s = arg;
	if (s->finishing && s->req) {
		http_detach(s->client);
		s->client = NULL;
		evhttp_send_reply_end(s->req);
		s->req = NULL;
		sse_end(s, 0);
		return;
	}
	sse_end(s, 1);
}

/* Sends one event as an SSE message with its id; -1 when the stream ended. */
static int sse_send(struct sse_stream *s, struct sse_id id, const char *name, const char *json, size_t len)
{
	struct evbuffer *buf = evbuffer_new();
	if (!buf)
		return 0;
	if (id.ms)
		evbuffer_add_printf(buf, "id: %" PRIu64 "-%" PRIu64 ".%u\n", id.ms, id.seq, id.index);
	evbuffer_add_printf(buf, "event: %s\ndata: ", name);
	evbuffer_add(buf, json, len);
	evbuffer_add(buf, "\n\n", 2);
	int rc = sse_write(s, buf);
	evbuffer_free(buf);
	if (rc == 0 && id.ms)
		s->last = id;
	return rc;
}

/* Whether a ticket's stream cares about an event: its ticket's changes and calls, and its
 * service's queue (which moves its ahead and estimate). */
static int sse_ticket_cares(struct sse_stream *s, unsigned topic, const char *json, size_t len)
{
	cJSON *ev = cJSON_ParseWithLength(json, len);
	int cares = 0;
	if (topic == TOPIC_QUEUE) {
		cJSON *service = cJSON_GetObjectItemCaseSensitive(ev, "service");
		cares = cJSON_IsString(service) && strcmp(service->valuestring, s->service) == 0;
	} else {
		cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "ticket");
		cJSON *id = cJSON_IsObject(t) ? cJSON_GetObjectItemCaseSensitive(t, "id") : t;
		cJSON *number = cJSON_IsObject(t) ? cJSON_GetObjectItemCaseSensitive(t, "number") : NULL;
		cares = (cJSON_IsString(id) && strcmp(id->valuestring, s->ticket) == 0) ||
			(cJSON_IsString(number) && strcmp(number->valuestring, s->ticket) == 0);
	}
	cJSON_Delete(ev);
	return cares;
}

/* Delivers one event at a place in the stream: skipped when already sent, held during a
 * resume, else sent (a ticket's stream reads its ticket again instead). */
static void sse_deliver(struct sse_stream *s, struct sse_id id, const char *json, size_t len)
{
	if (s->last.ms && !sse_after(id, s->last))
		return;
	unsigned topic = events_topic_of(json, len);
	if (!(topic & s->topics))
		return;
	if (s->ticket[0]) {
		if (sse_ticket_cares(s, topic, json, len))
			sse_refresh_ticket(s);
		return;
	}
	if (s->resuming) {
		struct sse_held *h = s->nheld < SSE_HELD_MAX ? malloc(sizeof *h + len) : NULL;
		if (!h) {
			s->held_lost = 1; /* the browser would miss it: the resume ends in a reset */
			return;
		}
		h->id = id;
		h->len = len;
		memcpy(h->json, json, len);
		STAILQ_INSERT_TAIL(&s->held, h, entry);
		s->nheld++;
		return;
	}
	sse_send(s, id, events_topic_name(topic), json, len);
}

/* Takes one live event from the fan-out (conn.c) for a stream's subscriber. */
void http_sse_event(struct conn *c, const char *json, size_t len)
{
	struct events_position p = events_now(c->sse->site);
	struct sse_id id = {p.ms, p.seq, p.index};
	metrics_event_delivered(METRICS_SSE);
	sse_deliver(c->sse, id, json, len);
}

/* The events of one stream entry being replayed for a resume, with their indexes. */
struct sse_replay {
	struct sse_stream *s;
	struct sse_id id;
};

/* Replays one event of an entry read back from the stream. */
static void sse_replay_event(const char *json, size_t len, void *arg)
{
	struct sse_replay *rp = arg;
	rp->id.index++;
	if (rp->s)
		sse_deliver(rp->s, rp->id, json, len);
}

/* Sends `reset`: what the browser missed is no longer kept, it reloads the snapshot. */
static void sse_reset(struct sse_stream *s)
{
	static const char data[] = "{\"event\":\"reset\"}";
	struct sse_id none = {0, 0, 0};
	s->last = none;
	sse_send(s, none, "reset", data, sizeof data - 1);
}

/* Ends a resume: the events held meanwhile go out; those the stream already gave are skipped
 * by their id. */
static void sse_resume_done(struct sse_stream *s)
{
	sse_replay_free(s);
	s->resuming = 0;
	if (s->held_lost) /* a live event could not be held while a named entry was read */
		sse_reset(s);
	s->held_lost = 0;
	struct sse_held *h;
	while (s->req && (h = STAILQ_FIRST(&s->held)) != NULL) {
		STAILQ_REMOVE_HEAD(&s->held, entry);
		s->nheld--;
		sse_deliver(s, h->id, h->json, h->len);
		free(h);
	}
}

/* The stream of a callback's argument, or NULL when it ended while Redis read. */
static struct sse_stream *sse_alive(void *arg)
{
	struct sse_stream *it;
	LIST_FOREACH(it, &streams, entry)
		if (it == arg)
			return it;
	return NULL;
}

static void sse_replay_continue(struct sse_stream *s, const char *unreadable);

/* Takes the entry a resumed one names: keeps the learnt times it records, then replays on. */
static void sse_on_named(redisReply *reply, void *arg)
{
	struct sse_stream *s = sse_alive(arg);
	if (!s)
		return;
	if (!reply || reply->type != REDIS_REPLY_ARRAY) {
		sse_reset(s);
		sse_resume_done(s);
		return;
	}
	for (size_t i = 0; i < reply->elements; i++) {
		redisReply *entry = reply->element[i];
		if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 || strcmp(entry->element[0]->str, s->named) != 0)
			continue;
		redisReply *fields = entry->element[1];
		for (size_t f = 0; f + 1 < fields->elements; f += 2)
			if (strcmp(fields->element[f]->str, "data") == 0 && joined_of(s->site))
				eventbuild_learn(s->site->joined, s->named, fields->element[f + 1]->str, fields->element[f + 1]->len);
	}
	char named[STREAM_ID_TEXT_MAX];
	snprintf(named, sizeof named, "%s", s->named);
	sse_replay_continue(s, named);
}

/* Replays the resume's entries from where it stopped; an entry that names learnt times this
 * qserver has not read has that entry read first (`unreadable`: the one just read for the first
 * entry; if it still lacks them the stream did not hold them, and the browser reloads the
 * snapshot; a later entry that lacks them, pushed out of the store since, has it read again). */
static void sse_replay_continue(struct sse_stream *s, const char *unreadable)
{
	for (; s->req && s->replay_next < s->nreplay; unreadable = NULL) {
		struct sse_entry *e = &s->replay[s->replay_next];
		struct sse_replay rp = {s, {0, 0, 0}};
		char missing[STREAM_ID_TEXT_MAX];
		if (sscanf(e->id, "%" SCNu64 "-%" SCNu64, &rp.id.ms, &rp.id.seq) != 2) {
			s->replay_next++;
			continue;
		}
		int n = eventbuild_entry(s->site->cfg, joined_of(s->site), e->id, e->data, e->len, sse_replay_event, &rp,
					 missing);
		if (n == EVENTBUILD_MISSING && (!unreadable || strcmp(missing, unreadable) != 0)) {
			char key[96];
			snprintf(key, sizeof key, "%s:events", s->site->prefix);
			snprintf(s->named, sizeof s->named, "%s", missing);
			const char *argv[] = {"XRANGE", key, s->named, s->named, "COUNT", "1"};
			if (store_command(sse_on_named, s, 6, argv) == 0)
				return; /* replayed on when it is read */
		}
		if (n == EVENTBUILD_MISSING) {
			sse_reset(s);
			break;
		}
		s->replay_next++;
	}
	sse_resume_done(s);
}

/* Finishes a resume: the entries from Last-Event-ID on (once the entries they name were read),
 * then the events held meanwhile. */
static void sse_on_range(redisReply *reply, void *arg)
{
	struct sse_stream *s = sse_alive(arg);
	if (!s)
		return;
	struct sse_id from = s->last;
	int kept = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 && reply->elements < SSE_RESUME_MAX;
	if (kept) {
		/* The first entry must be the one the browser saw last, or the gap is unknown. */
		redisReply *first = reply->element[0];
		char want[64];
		snprintf(want, sizeof want, "%" PRIu64 "-%" PRIu64, from.ms, from.seq);
		kept = first->type == REDIS_REPLY_ARRAY && first->elements == 2 && strcmp(first->element[0]->str, want) == 0;
	}
	if (s->held_lost)
		kept = 0;
	s->held_lost = 0;
	if (kept)
		kept = (s->replay = calloc(reply->elements, sizeof *s->replay)) != NULL;
	for (size_t i = 0; kept && i < reply->elements; i++) {
		redisReply *entry = reply->element[i];
		if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 || entry->element[0]->len >= STREAM_ID_TEXT_MAX)
			continue;
		redisReply *fields = entry->element[1];
		for (size_t f = 0; f + 1 < fields->elements; f += 2) {
			if (strcmp(fields->element[f]->str, "data") != 0)
				continue;
			struct sse_entry *e = &s->replay[s->nreplay];
			if (!(e->data = malloc(fields->element[f + 1]->len + 1))) {
				kept = 0;
				break;
			}
			memcpy(e->data, fields->element[f + 1]->str, fields->element[f + 1]->len + 1);
			e->len = fields->element[f + 1]->len;
			snprintf(e->id, sizeof e->id, "%s", entry->element[0]->str);
			s->nreplay++;
			break;
		}
	}
	if (!kept) {
		sse_replay_free(s);
		sse_reset(s);
	}
	sse_replay_continue(s, NULL);
}

/* Starts a resume from Last-Event-ID: live events are held until the stream was read. */
static void sse_resume(struct sse_stream *s, struct sse_id from)
{
	char key[96], start[64], count[16];
	snprintf(key, sizeof key, "%s:events", s->site->prefix);
	snprintf(start, sizeof start, "%" PRIu64 "-%" PRIu64, from.ms, from.seq);
	snprintf(count, sizeof count, "%d", SSE_RESUME_MAX);
	const char *argv[] = {"XRANGE", key, start, "+", "COUNT", count};
	s->last = from;
	s->resuming = 1;
	if (store_command(sse_on_range, s, 6, argv) < 0) {
		s->resuming = 0;
		sse_reset(s);
	}
}

/* Writes the heartbeat comment to every stream. */
static void sse_on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	struct sse_stream *s, *next;
	for (s = LIST_FIRST(&streams); s; s = next) {
		next = LIST_NEXT(s, entry);
		struct evbuffer *buf = evbuffer_new();
		if (!buf)
			return;
		evbuffer_add(buf, ":\n\n", 3);
		sse_write(s, buf);
		evbuffer_free(buf);
	}
}

/* Counts the streams of an address. */
static int sse_addr_count(const char *addr)
{
	int n = 0;
	struct sse_stream *s;
	LIST_FOREACH(s, &streams, entry)
		n += strcmp(s->addr, addr) == 0;
	return n;
}

/* The topics a stream asked for (all it may see without `topics`); 0 after answering. */
static unsigned sse_topics(struct evhttp_request *req, enum role role)
{
	/* staff, and a rating pad, which waits for the tickets finished at its window */
	unsigned allowed = role == ROLE_CLERK || role == ROLE_MANAGER || role == ROLE_PAD ? TOPIC_ALL : TOPIC_ALL & ~TOPIC_TICKET;
	struct evkeyvalq query;
	TAILQ_INIT(&query);
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (q && evhttp_parse_query_str(q, &query) < 0) {
		http_send_error(req, "bad_request", "The query string is malformed.");
		return 0;
	}
	const char *list = evhttp_find_header(&query, "topics");
	unsigned mask = list ? 0 : allowed;
	char name[16];
	for (const char *p = list; p && *p;) {
		size_t n = strcspn(p, ",");
		unsigned bit = 0;
		if (n < sizeof name) {
			memcpy(name, p, n);
			name[n] = '\0';
			bit = events_topic_parse(name);
		}
		if (!bit || !(bit & allowed)) {
			evhttp_clear_headers(&query);
			http_send_error(req, bit ? "forbidden" : "bad_request",
					bit ? "The ticket topic is for staff sessions." : "topics must be a list of called, queue, window, ticket.");
			return 0;
		}
		mask |= bit;
		p += n;
		if (*p == ',')
			p++;
	}
	evhttp_clear_headers(&query);
	return mask;
}

/* Opens the stream: headers, the subscriber on the topic lists, and a resume when the
 * browser names the last event it saw. */
static struct sse_stream *sse_open(struct evhttp_request *req, struct conn *c, unsigned topics)
{
	struct sse_stream *s = calloc(1, sizeof *s);
	if (!s) {
		free(c);
		http_send_error(req, "internal", "The server ran out of memory.");
		return NULL;
	}
	if (!heartbeat) {
		heartbeat = event_new(server.base, -1, EV_PERSIST, sse_on_heartbeat, NULL);
		struct timeval tv = {SSE_HEARTBEAT_S, 0};
		if (heartbeat)
			event_add(heartbeat, &tv);
	}
	s->drop_event = event_new(server.base, -1, 0, sse_on_drop, s);
	if (!s->drop_event) {
		free(s);
		free(c);
		http_send_error(req, "internal", "The server ran out of memory.");
		return NULL;
	}
	s->req = req;
	s->conn = c;
	s->site = c->site;
	c->sse = s;
	s->topics = topics;
	STAILQ_INIT(&s->held);
	http_peer_address(req, s->addr, sizeof s->addr);
	s->client = http_attach(req, sse_on_gone, s);
	LIST_INSERT_HEAD(&streams, s, entry);
	nstreams++;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	http_add_security_headers(req, 0);
	evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Accel-Buffering", "no"); /* nginx passes each message at once */
	evhttp_send_reply_start(req, 200, "OK");
	/* A stream has no end: lift the time limit of a request. */
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));
	bufferevent_set_timeouts(bev, NULL, NULL);
	struct evbuffer *buf = evbuffer_new();
	if (buf) {
		evbuffer_add_printf(buf, "retry: 2000\n\n");
		if (sse_write(s, buf) < 0)
			s = NULL;
		evbuffer_free(buf);
	}
	if (s)
		events_subscribe(c, s->site, topics);
	return s;
}

/* What an event stream request waits for while its session is looked up. */
struct sse_wait {
	struct evhttp_request *req;
	struct http_client *client;
	struct conn *conn;
	int gone;
};

/* The client left while its session was looked up. */
static void sse_wait_gone(void *arg)
{
	struct sse_wait *w = arg;
	http_release_orphan(w->req);
	w->gone = 1;
}

/* The id a stream resumes after: the Last-Event-ID header a browser sends when it reconnects
 * by itself, or the last_event_id query argument of a page that had to open a new stream (an
 * EventSource gives up for good after a failed reconnect, and a new one cannot set headers).
 * Returns 0 when there is none. */
static int sse_last_event_id(struct evhttp_request *req, char *out, size_t len)
{
	const char *last = evhttp_find_header(evhttp_request_get_input_headers(req), "Last-Event-ID");
	out[0] = '\0';
	if (last && *last) {
		snprintf(out, len, "%s", last);
		return 1;
	}
	struct evkeyvalq query;
	TAILQ_INIT(&query);
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (q && evhttp_parse_query_str(q, &query) == 0) {
		last = evhttp_find_header(&query, "last_event_id");
		if (last && *last)
			snprintf(out, len, "%s", last);
	}
	evhttp_clear_headers(&query);
	return out[0] != '\0';
}

/* Opens a site's stream with the topics its session may see. */
static void sse_on_session(const char *token, const struct sessions_found *found, void *arg)
{
	struct sse_wait *w = arg;
	(void)token;
	struct evhttp_request *req = w->req;
	struct conn *c = w->conn;
	int gone = w->gone;
	if (!gone)
		http_detach(w->client);
	free(w);
	if (gone) {
		free(c);
		return;
	}
	if (!found) {
		free(c);
		http_send_error(req, "unavailable", "Storage is unreachable; retry later.");
		return;
	}
	conn_set_role(c, found->role);
	c->region_user = found->region_user;
	snprintf(c->user, sizeof c->user, "%s", found->user); /* a reload ends it when its account changes */
	unsigned topics = sse_topics(req, found->role);
	if (!topics) {
		free(c);
		return;
	}
	struct sse_stream *s = sse_open(req, c, topics);
	char last[64];
	struct sse_id from;
	if (s && sse_last_event_id(req, last, sizeof last)) {
		if (sse_id_parse(last, &from) == 0)
			sse_resume(s, from);
		else
			sse_reset(s);
	}
}

/* Sends the ticket's object when it changed since the last one sent. */
static void sse_ticket_answer(struct sse_stream *s, const char *line, size_t len)
{
	cJSON *resp = cJSON_ParseWithLength(line, len);
	cJSON *ticket = resp ? cJSON_GetObjectItemCaseSensitive(resp, "ticket") : NULL;
	char *text = cJSON_IsObject(ticket) ? cJSON_PrintUnformatted(ticket) : NULL;
	if (text && (!s->last_ticket || strcmp(text, s->last_ticket) != 0)) {
		cJSON *service = cJSON_GetObjectItemCaseSensitive(ticket, "service");
		if (cJSON_IsString(service))
			snprintf(s->service, sizeof s->service, "%s", service->valuestring);
		cJSON *ev = cJSON_CreateObject();
		cJSON_AddStringToObject(ev, "event", "ticket");
		cJSON_AddItemToObject(ev, "ticket", cJSON_Duplicate(ticket, 1));
		char *data = cJSON_PrintUnformatted(ev);
		cJSON_Delete(ev);
		free(s->last_ticket);
		s->last_ticket = text;
		text = NULL;
		struct sse_id none = {0, 0, 0};
		if (data)
			sse_send(s, none, "ticket", data, strlen(data));
		free(data);
	}
	free(text);
	cJSON_Delete(resp);
}

/* Sends a last message, then ends the stream once it is out (outside the caller's stack). */
static void sse_finish_with(struct sse_stream *s, const char *name, const char *json, size_t len)
{
	struct sse_id none = {0, 0, 0};
	sse_send(s, none, name, json, len);
	s->dropped = 1;
	s->finishing = 1;
	event_active(s->drop_event, EV_TIMEOUT, 0);
}

/* Ends the stream of a subscriber with a last message named name (a reload that changed the
 * session's account). */
void http_sse_end(struct conn *c, const char *name, const char *json, size_t len)
{
	if (c->sse && !c->sse->dropped)
		sse_finish_with(c->sse, name, json, len);
}

/* Takes the answer of a ticket's read (request.c) for its stream. */
void http_sse_answer(struct request *r, char *line, size_t len)
{
	struct conn *c = r->conn;
	struct sse_stream *s = c->sse;
	request_drop(r);
	s->refreshing = 0;
	s->refreshed_ms = clock_real_ms();
	if (strncmp(line, "{\"ok\":false", 11) == 0) {
		/* No such ticket, or a wrong secret: said once, then the stream ends. */
		sse_finish_with(s, "error", line, len);
		free(line);
		return;
	}
	sse_ticket_answer(s, line, len);
	free(line);
	if (s->refresh_again) {
		s->refresh_again = 0;
		sse_refresh_ticket(s);
	}
}

/* Runs the delayed read of a ticket. */
static void sse_on_refresh_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct sse_stream *s = arg;
	s->refreshed_ms = 0;
	sse_refresh_ticket(s);
}

/* Reads the stream's ticket through the op table (the `ticket` op with its secret), at most
 * once a second: a busy queue moves ahead and estimate often. */
static void sse_refresh_ticket(struct sse_stream *s)
{
	if (s->refreshing) {
		s->refresh_again = 1;
		return;
	}
	long long now = clock_real_ms();
	if (s->refreshed_ms && now - s->refreshed_ms < SSE_TICKET_REFRESH_MS) {
		if (!s->refresh_timer)
			s->refresh_timer = evtimer_new(server.base, sse_on_refresh_timer, s);
		if (s->refresh_timer && !evtimer_pending(s->refresh_timer, NULL)) {
			long long wait = SSE_TICKET_REFRESH_MS - (now - s->refreshed_ms);
			struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
			evtimer_add(s->refresh_timer, &tv);
		}
		return;
	}
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "op", "ticket");
	cJSON_AddStringToObject(args, "ticket", s->ticket);
	if (s->secret[0])
		cJSON_AddStringToObject(args, "secret", s->secret);
	char *line = cJSON_PrintUnformatted(args);
	cJSON_Delete(args);
	struct request *r = line ? request_create(s->conn) : NULL;
	if (!r) {
		free(line);
		return;
	}
	s->refreshing = 1;
	s->conn->tokens = 1.0; /* the stream's own reads are not the client's requests */
	optable_dispatch(r, line, strlen(line));
	free(line);
}

/* Serves GET .../events and GET .../tickets/{id}/events. */
void http_sse_handle(struct evhttp_request *req, const char *path)
{
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		http_send_error(req, "not_found", "Event streams are read with GET.");
		return;
	}
	char site[CONFIG_ID_MAX], ticket[64] = "";
	const char *rest = path + strlen("/api/v1/sites/");
	size_t n = strcspn(rest, "/");
	if (n == 0 || n >= sizeof site) {
		http_send_error(req, "not_found", "There is no such site here.");
		return;
	}
	snprintf(site, sizeof site, "%.*s", (int)n, rest);
	rest += n;
	if (strncmp(rest, "/tickets/", 9) == 0) {
		size_t t = strcspn(rest + 9, "/");
		if (t == 0 || t >= sizeof ticket || strcmp(rest + 9 + t, "/events") != 0) {
			http_send_error(req, "not_found", "There is no such API path.");
			return;
		}
		snprintf(ticket, sizeof ticket, "%.*s", (int)t, rest + 9);
	} else if (strcmp(rest, "/events") != 0) {
		http_send_error(req, "not_found", "There is no such API path.");
		return;
	}
	struct site *st = http_api_site(site);
	if (!st) {
		http_send_error(req, "not_found", "There is no such site here.");
		return;
	}
	char addr[CONN_ADDR_MAX];
	http_peer_address(req, addr, sizeof addr);
	if (nstreams >= server.opt.sse_max || sse_addr_count(addr) >= server.opt.sse_per_addr) {
		http_send_error(req, "rate_limited", "Too many event streams; retry later.");
		return;
	}
	struct conn *c = conn_create_transient(addr, NULL);
	if (!c) {
		http_send_error(req, "internal", "The server ran out of memory.");
		return;
	}
	c->site = st; /* the stream's subscriber and its ticket reads act at the URL's site */
	if (ticket[0]) {
		struct evkeyvalq query;
		TAILQ_INIT(&query);
		const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
		if (q)
			evhttp_parse_query_str(q, &query);
		const char *k = evhttp_find_header(&query, "k");
		struct sse_stream *s = sse_open(req, c, TOPIC_QUEUE | TOPIC_CALLED | TOPIC_TICKET);
		if (s) {
			snprintf(s->ticket, sizeof s->ticket, "%s", ticket);
			snprintf(s->secret, sizeof s->secret, "%s", k && strlen(k) < sizeof s->secret ? k : "");
			sse_refresh_ticket(s);
		}
		evhttp_clear_headers(&query);
		return;
	}
	struct sse_wait *w = calloc(1, sizeof *w);
	if (!w) {
		free(c);
		http_send_error(req, "internal", "The server ran out of memory.");
		return;
	}
	w->req = req;
	w->conn = c;
	char token[SESSION_TOKEN_MAX];
	if (http_api_session_token(req, token, sizeof token)) {
		w->client = http_attach(req, sse_wait_gone, w);
		if (sessions_lookup(st, token, sse_on_session, w) < 0) {
			http_detach(w->client);
			free(w);
			free(c);
			http_send_error(req, "unavailable", "Storage is unreachable; retry later.");
		}
		return;
	}
	struct sessions_found public = {.role = ROLE_PUBLIC};
	sse_on_session(NULL, &public, w);
}

/* Ends every stream (a resync, or shutdown): browsers reconnect with Last-Event-ID. */
void http_sse_close_all(void)
{
	struct sse_stream *s;
	while ((s = LIST_FIRST(&streams)) != NULL)
		sse_end(s, 1);
	if (heartbeat)
		event_free(heartbeat);
	heartbeat = NULL;
}

/* Ends the streams of one site (its events may have been missed): they reconnect with
 * Last-Event-ID and read the site's stream. */
void http_sse_close_site(const struct site *site)
{
	struct sse_stream *s, *next;
	for (s = LIST_FIRST(&streams); s; s = next) {
		next = LIST_NEXT(s, entry);
		if (s->site == site)
			sse_end(s, 1);
	}
}
