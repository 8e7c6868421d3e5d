/* A blocking qserver connection for scripts, the printer's non-interactive mode and tests:
 * one request at a time, every wait bounded by a timeout (poll), TCP or a Unix socket. */
#ifndef QHALL_SYNCCLIENT_H
#define QHALL_SYNCCLIENT_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct sync_client;

/* Result of the line-level calls. */
enum sync_status {
	SYNC_OK = 0,
	SYNC_TIMEOUT = -1, /* nothing (or no whole line) within the time */
	SYNC_CLOSED = -2,  /* the server closed the connection */
	SYNC_ERROR = -3	   /* a socket error, or a line from the server over the limit */
};

/* Connects to server ("HOST:PORT", "unix:/path" or NULL for 127.0.0.1:7420) within
 * timeout_ms; returns NULL with errno set (ETIMEDOUT, ECONNREFUSED, EINVAL, ...). */
struct sync_client *sync_connect(const char *server, int timeout_ms);

/* Sends one request (a JSON object as text; an "id" is added when it has none) and waits for
 * the response carrying its id, skipping events and stale responses. Returns the response (free
 * it with cJSON_Delete), or NULL on timeout, closed connection or error (see sync_error). */
cJSON *sync_request(struct sync_client *sc, const char *json_line, int timeout_ms);

/* Writes bytes as they are (no newline added) within timeout_ms. */
enum sync_status sync_send_raw(struct sync_client *sc, const void *bytes, size_t len, int timeout_ms);

/* Writes text and a newline within timeout_ms. */
enum sync_status sync_send_line(struct sync_client *sc, const char *text, int timeout_ms);

/* Waits up to timeout_ms for the next line; on SYNC_OK *line is a NUL-terminated copy without
 * its newline (free it) and *len its length. A 0 timeout only takes what has arrived. */
enum sync_status sync_read_line(struct sync_client *sc, int timeout_ms, char **line, size_t *len);

/* Explains the last failure of this connection in a few words. */
const char *sync_error(const struct sync_client *sc);

/* The socket, for callers that want to poll it themselves. */
int sync_fd(const struct sync_client *sc);

/* Closes the connection and frees it; NULL is ignored. */
void sync_close(struct sync_client *sc);

#endif
