/* The shared qserver connection of counter-client, display, printer and the benchmark: one
 * NDJSON connection on a libevent loop that frames lines, matches responses to requests by id,
 * times requests out, reconnects with backoff and redoes hello, subscribe and snapshot after
 * every (re)connect (PROTOCOL.md: "A client that reconnects sends hello, subscribe and snapshot
 * again; it never needs to replay").
 *
 * Callbacks run from the event loop, never from inside client_new or client_request (the
 * exceptions: client_free answers pending requests with NULL, and client_restart_session may
 * call on_ready, both before returning). Every cJSON handed to a callback belongs to the
 * library and is freed when the callback returns; detach what you want to keep. */
#ifndef QHALL_CLIENT_H
#define QHALL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

struct event_base;
struct client;

#define CLIENT_DEFAULT_SERVER "127.0.0.1:7420"
#define CLIENT_MAX_PENDING 256		  /* requests sent or held and not yet answered */
#define CLIENT_MAX_OUTPUT (1024 * 1024)	  /* bytes queued for a server that does not read */
#define CLIENT_DEFAULT_TIMEOUT_MS 5000	  /* per request */
#define CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define CLIENT_DEFAULT_BACKOFF_MIN_MS 250 /* first retry after a drop; doubles per failure */
#define CLIENT_DEFAULT_BACKOFF_MAX_MS 5000
#define CLIENT_DEFAULT_KEEPALIVE_MS 15000	 /* ping after this long without a line from the server */
#define CLIENT_DEFAULT_KEEPALIVE_TIMEOUT_MS 5000 /* a ping not answered in time drops the link */

/* Called exactly once per accepted request with the response object ({"id":..,"ok":..}), or
 * with NULL when the request timed out, the connection dropped or the client was freed. */
typedef void (*client_reply_fn)(void *arg, cJSON *response);

/* Every member is optional (NULL). */
struct client_callbacks {
	/* The transport is up; hello, subscribe and snapshot have not been sent yet. Requests made
	 * here are held and sent once the session is set up. */
	void (*on_connected)(struct client *c, void *arg);
	/* The session is set up: hello (if set) accepted, subscribe (if set) done, snapshot (if
	 * wanted) received. hello and snapshot are the full responses, or NULL when not asked for.
	 * Events that arrived before the snapshot were delivered first: the snapshot is newer. */
	void (*on_ready)(struct client *c, cJSON *hello, cJSON *snapshot, void *arg);
	/* hello was answered ok:false (response holds "error"). For unauthenticated, forbidden,
	 * bad_request, not_found and conflict the connection stays up with role public and nothing
	 * more is sent (fix the arguments and call client_restart_session); for other codes
	 * (unavailable, rate_limited, internal, ...) the client reconnects with backoff, and not
	 * before the answer's retry_after (seconds) when it has one. */
	void (*on_hello_failed)(struct client *c, cJSON *response, void *arg);
	/* An event line ({"event": ...}) arrived. */
	void (*on_event)(struct client *c, cJSON *event, void *arg);
	/* A connection that had been reported by on_connected is gone; pending requests have had
	 * their NULL replies and a reconnect is scheduled (see client_status_text). Failed connect
	 * attempts do not call this; they only change the status text. */
	void (*on_disconnected)(struct client *c, const char *reason, void *arg);
	/* The server ended the session for good with {"event":"session","reason":"replaced",
	 * "message":...}: the same clerk signed in at the window from elsewhere. The connection is
	 * closed, pending requests have had their NULL replies, and the client does not reconnect
	 * (client_is_ended is true; the status text says "signed in elsewhere: ..."). on_event
	 * does not get this event and on_disconnected is not called. */
	void (*on_session_ended)(struct client *c, cJSON *event, void *arg);
};

/* Creates a client and starts connecting from the loop. server is "HOST:PORT" (an IPv4 or
 * [IPv6] literal, or localhost), or "unix:/path", or several of them separated by commas (the
 * qservers of one hall: after a drop or a failed connect the client tries the next one, and
 * backs off only once it has tried them all); NULL means CLIENT_DEFAULT_SERVER. Host names
 * are refused because resolving them would block the loop. Returns NULL with errno EINVAL for
 * a bad address, or ENOMEM. callbacks is copied. */
struct client *client_new(struct event_base *base, const char *server,
			  const struct client_callbacks *callbacks, void *arg);

/* Closes the connection, answers every pending request with NULL, and frees the client. Safe
 * inside any callback of this client: the free then happens when the callback returns, and no
 * callback other than those NULL replies runs after this call. NULL is ignored. */
void client_free(struct client *c);

/* Sets the hello arguments (role, user, password, window, token) sent first on every connect;
 * the object is taken, NULL sends no hello. Takes effect at the next (re)connect or
 * client_restart_session. */
void client_set_hello(struct client *c, cJSON *hello_args);

/* Asks for subscribe after hello on every connect; topics (a JSON array of strings, taken) or
 * NULL for every topic. */
void client_set_subscribe(struct client *c, cJSON *topics);

/* Asks for snapshot after subscribe on every connect; its response goes to on_ready. */
void client_want_snapshot(struct client *c, bool want);

/* Sets the default request timeout in milliseconds (CLIENT_DEFAULT_TIMEOUT_MS). */
void client_set_request_timeout(struct client *c, int timeout_ms);

/* Sets how long one connect attempt may take before it counts as failed. */
void client_set_connect_timeout(struct client *c, int timeout_ms);

/* Sets the reconnect delays: min_ms after the first failure, doubling up to max_ms, each
 * delay drawn from its upper quarter so clients of a restarted server do not come back in step. */
void client_set_backoff(struct client *c, int min_ms, int max_ms);

/* Sets the keepalive: once the session is set up, a ping is sent after interval_ms without any
 * line from the server, and the connection is dropped (and reconnected) when that ping is not
 * answered within timeout_ms, because a hung server or a dead network is otherwise never
 * noticed. interval_ms 0 turns it off. The ping counts in client_pending_count while it waits. */
void client_set_keepalive(struct client *c, int interval_ms, int timeout_ms);

/* Sends {"id": N, "op": op, ...args} (args is an object or NULL, and is taken either way) and
 * arranges for cb(arg, response-or-NULL) exactly once. Returns 0, or -1 without ever calling cb
 * when not connected, when CLIENT_MAX_PENDING requests wait, when the server does not read
 * (output over CLIENT_MAX_OUTPUT), when the line would be over the protocol limit, or when out
 * of memory. While the session is being set up, the request is held and sent after it. */
int client_request(struct client *c, const char *op, cJSON *args, client_reply_fn cb, void *arg);

/* client_request with its own timeout (for slow ops such as stats over a long range). */
int client_request_timeout(struct client *c, const char *op, cJSON *args, int timeout_ms,
			   client_reply_fn cb, void *arg);

/* Runs hello, subscribe and snapshot again on the current connection (after client_set_hello
 * with new credentials, say). on_ready may be called before this returns when there is
 * nothing to send. Returns -1 when not connected. */
int client_restart_session(struct client *c);

/* Whether the transport is up (the session may still be being set up, or hello refused). */
bool client_is_connected(const struct client *c);

/* Whether the server ended the session for good (on_session_ended was called). */
bool client_is_ended(const struct client *c);

/* Whether the session is set up and on_ready has been called for this connection. */
bool client_is_ready(const struct client *c);

/* One line for a status bar: "connected", "connecting to 127.0.0.1:7420", "signing in",
 * "hello refused: ...", "reconnecting in 2 s: connection refused". Valid until the next call. */
const char *client_status_text(struct client *c);

/* The server address as given (or the default). */
const char *client_server(const struct client *c);

/* Requests accepted and not yet answered. */
size_t client_pending_count(const struct client *c);

/* Parses a server address as client_new does into *addr; returns 0, or -1 with errno EINVAL. */
int client_parse_address(const char *server, struct sockaddr_storage *addr, socklen_t *len);

/* One server of a list "A,B,...": its text and its parsed address. */
#define CLIENT_MAX_SERVERS 8
struct client_address {
	char name[128];
	struct sockaddr_storage addr;
	socklen_t len;
};

/* Parses a comma-separated list of at most CLIENT_MAX_SERVERS addresses (NULL: the default
 * server) into out; returns how many, or -1 with errno EINVAL when any is bad. */
int client_parse_server_list(const char *list, struct client_address *out);

#endif
