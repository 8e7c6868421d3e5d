/* A blocking NDJSON client for integration tests. Every call has a timeout, so a hung server
 * fails the test instead of hanging CI; failures print what was awaited to stderr. Events that
 * arrive while a call waits for a response are queued for tc_next_event, and responses that
 * arrive while it waits for an event or another id are queued for later calls, never lost. */
#ifndef QHALL_TESTCLIENT_H
#define QHALL_TESTCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct tc;

/* Default for every wait: 5000 ms, or $QHALL_TEST_TIMEOUT_MS. */
#define TC_DEFAULT_TIMEOUT_MS 5000

/* Connects to 127.0.0.1:port; NULL (with a message) on failure. */
struct tc *tc_connect(int port);

/* Connects to any address the clients take ("HOST:PORT", "unix:/path"). */
struct tc *tc_connect_to(const char *server);

/* Sets the timeout of tc_request and the hello helpers. */
void tc_set_timeout(struct tc *tc, int timeout_ms);

/* Sends bytes exactly as given (partial lines, garbage, over-long lines); 0 or -1. */
int tc_send_raw(struct tc *tc, const void *bytes, size_t len);

/* Sends one line built printf-style (the newline is added); 0 or -1. */
int tc_send_line(struct tc *tc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sends one line built printf-style and returns its response (cJSON_Delete it): the response
 * whose "id" equals the request's, or, when the line has no id (or is not JSON), the next
 * response in arrival order. NULL on timeout or closed connection. */
cJSON *tc_request(struct tc *tc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Returns the next response (a non-event line) in arrival order, queued ones first. */
cJSON *tc_read_response(struct tc *tc, int timeout_ms);

/* Returns the next event, queued ones first; NULL when none comes within timeout_ms. */
cJSON *tc_next_event(struct tc *tc, int timeout_ms);

/* Drops every queued event and returns how many there were. */
int tc_drain_events(struct tc *tc);

/* Returns the next raw line from the socket without its newline (free it), bypassing the
 * queues (lines already queued are not returned again); NULL on timeout or close. */
char *tc_read_line(struct tc *tc, int timeout_ms);

/* Whether the server closes the connection within timeout_ms (lines read meanwhile are
 * queued). */
bool tc_closed_by_peer(struct tc *tc, int timeout_ms);

/* hello as a clerk at a window; true when answered ok (the refusal is printed otherwise). */
bool tc_hello_clerk(struct tc *tc, const char *user, const char *password, int window);

/* hello as a manager. */
bool tc_hello_manager(struct tc *tc, const char *user, const char *password);

/* hello as a kiosk with its token. */
bool tc_hello_kiosk(struct tc *tc, const char *token);

/* Whether resp is a response with "ok": true (false for NULL). */
bool tc_ok(const cJSON *resp);

/* The error code of a failed response ("not_found", ...), or NULL when there is none. */
const char *tc_error_code(const cJSON *resp);

/* Closes the connection and frees the queues; NULL is ignored. */
void tc_close(struct tc *tc);

#endif
