/* The HTTP front end (DESIGN decision 11): evhttp on the server's loop, its limits (header
 * and body size, time to send a request, connections per address and in total), the
 * security headers of every answer, and the routing of a request to the API or the pages. */
#include "qserver.h"
#include "log.h"
#include "metrics.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_MAX_HEADERS 8192	    /* bytes of request line and headers */
#define HTTP_MAX_BODY (64 * 1024)   /* WEB.md: bodies of at most 64 KiB */
#define HTTP_REQUEST_TIMEOUT_S 10   /* to send a whole request (streams lift it) */
#define HTTP_CLIENT_BUCKETS 4096

/* One HTTP connection, counted against its address until it closes. */
struct http_client {
	struct http_client *next;	    /* in its hash bucket */
	struct evhttp_connection *evcon;
	char addr[CONN_ADDR_MAX];
	http_gone_fn *on_gone;		    /* told when the connection closes under a request */
	void *gone_arg;
};

static struct evhttp *http;
static struct evhttp_bound_socket *bound;
static struct http_client *clients[HTTP_CLIENT_BUCKETS];
static int nclients;

/* The hash bucket of a connection. */
static struct http_client **http_bucket(const struct evhttp_connection *evcon)
{
	uintptr_t h = (uintptr_t)evcon;
	h ^= h >> 17;
	return &clients[(h >> 4) % HTTP_CLIENT_BUCKETS];
}

/* How many open connections come from addr. */
static int http_addr_count(const char *addr)
{
	int n = 0;
	for (size_t i = 0; i < HTTP_CLIENT_BUCKETS; i++)
		for (struct http_client *k = clients[i]; k; k = k->next)
			n += strcmp(k->addr, addr) == 0;
	return n;
}

/* Forgets a connection when evhttp closes it, telling a request still under way. */
static void http_on_close(struct evhttp_connection *evcon, void *arg)
{
	struct http_client *k = arg, **p;
	for (p = http_bucket(evcon); *p && *p != k; p = &(*p)->next)
		;
	if (*p)
		*p = k->next;
	nclients--;
	if (k->on_gone)
		k->on_gone(k->gone_arg);
	free(k);
}

/* Returns the tracked client of a request's connection, counting a new one; NULL when its
 * address or the server has too many connections (the caller refuses the request). */
static struct http_client *http_client_of(struct evhttp_request *req, int *refused)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	*refused = 0;
	for (struct http_client *k = *http_bucket(evcon); k; k = k->next)
		if (k->evcon == evcon)
			return k;
	char addr[CONN_ADDR_MAX];
	http_peer_address(req, addr, sizeof addr);
	if (nclients >= server.opt.http_max_conns || http_addr_count(addr) >= server.opt.http_per_addr) {
		*refused = 1;
		return NULL;
	}
	struct http_client *k = calloc(1, sizeof *k);
	if (!k) {
		*refused = 1;
		return NULL;
	}
	k->evcon = evcon;
	snprintf(k->addr, sizeof k->addr, "%s", addr);
	struct http_client **b = http_bucket(evcon);
	k->next = *b;
	*b = k;
	nclients++;
	evhttp_connection_set_closecb(evcon, http_on_close, k);
	return k;
}

/* Writes the address a request comes from: the socket's peer, or the last address of
 * X-Forwarded-For when the peer is the trusted proxy (--trust-proxy). */
void http_peer_address(struct evhttp_request *req, char *out, size_t len)
{
	char *host = NULL;
	ev_uint16_t port = 0;
	evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
	snprintf(out, len, "%s", host ? host : "?");
	if (!server.opt.trust_proxy || strcmp(out, server.opt.trust_proxy) != 0)
		return;
	const char *fwd = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Forwarded-For");
	if (!fwd)
		return;
	/* The proxy appends the address it saw: the last entry is the one it vouches for. */
	const char *last = strrchr(fwd, ',');
	last = last ? last + 1 : fwd;
	while (*last == ' ')
		last++;
	size_t n = strcspn(last, " ");
	if (n > 0 && n < len && n < 64)
		snprintf(out, len, "%.*s", (int)n, last);
}

/* Adds the headers every answer carries (WEB.md, Security); framable for the display page,
 * which a hall may embed. */
void http_add_security_headers(struct evhttp_request *req, int framable)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Security-Policy", "default-src 'self'");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	if (!framable)
		evhttp_add_header(h, "X-Frame-Options", "DENY");
}

/* The HTTP status of a protocol error code (WEB.md, API). */
int http_status_of(const char *code)
{
	static const struct {
		const char *code;
		int status;
	} map[] = {
		{"bad_json", 400},	  {"bad_request", 400}, {"unauthenticated", 401}, {"forbidden", 403},
		{"not_found", 404},	  {"unknown_op", 404},	{"conflict", 409},	  {"closed", 409},
		{"too_long", 413},	  {"rate_limited", 429}, {"unavailable", 503},	  {"internal", 500},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].code, code) == 0)
			return map[i].status;
	return 500;
}

/* The reason phrase of a status. */
static const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

/* Sends a JSON answer with the security headers; the API is never cached. */
void http_send_json(struct evhttp_request *req, int status, const char *json, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	http_add_security_headers(req, 0);
	evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	struct evbuffer *body = evbuffer_new();
	if (body)
		evbuffer_add(body, json, len);
	evhttp_send_reply(req, status, http_reason(status), body);
	if (body)
		evbuffer_free(body);
}

/* Sends {"ok":false,"error":{code,message}} with the code's status (and Retry-After: 1 for
 * 429 and 503). */
void http_send_error(struct evhttp_request *req, const char *code, const char *message)
{
	metrics_http_error(code);
	cJSON *resp = cJSON_CreateObject();
	cJSON_AddFalseToObject(resp, "ok");
	cJSON *err = cJSON_AddObjectToObject(resp, "error");
	cJSON_AddStringToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", message);
	char *text = cJSON_PrintUnformatted(resp);
	cJSON_Delete(resp);
	int status = http_status_of(code);
	if (status == 429 || status == 503)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
	http_send_json(req, status, text ? text : "{\"ok\":false}", text ? strlen(text) : 12);
	free(text);
}

/* Routes every request: the metrics, event streams, the API under /api/, the pages otherwise. */
static void http_on_request(struct evhttp_request *req, void *arg)
{
	(void)arg;
	if (server.shutting_down) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		http_send_error(req, "unavailable", "The server is stopping; retry in a moment.");
		return;
	}
	int refused;
	struct http_client *k = http_client_of(req, &refused);
	if (!k) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		http_send_error(req, "rate_limited", "Too many connections from this address; retry later.");
		return;
	}
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (!path || path[0] != '/') {
		http_send_error(req, "bad_request", "The request has no path.");
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		metrics_http_handle(req);
		return;
	}
	if (http_sse_wanted(path)) {
		http_sse_handle(req, path);
		return;
	}
	if (strncmp(path, "/api/", 5) == 0) {
		http_api_handle(req, path);
		return;
	}
	http_static_handle(req, path);
}

/* Asks to be told (on_gone(arg)) when the connection of a request under way closes;
 * returns the connection's client (NULL when untracked). */
struct http_client *http_attach(struct evhttp_request *req, http_gone_fn *on_gone, void *arg)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	for (struct http_client *k = *http_bucket(evcon); k; k = k->next)
		if (k->evcon == evcon) {
			k->on_gone = on_gone;
			k->gone_arg = arg;
			return k;
		}
	return NULL;
}

/* Frees a request whose connection closed before it was answered: evhttp detaches such a
 * request and leaves it to its handler; one still attached is freed with its connection. */
void http_release_orphan(struct evhttp_request *req)
{
	if (req && !evhttp_request_get_connection(req))
		evhttp_request_free(req);
}

/* The connection no longer has a request under way. */
void http_detach(struct http_client *k)
{
	if (k)
		k->on_gone = NULL;
}

/* The address a client was counted under. */
const char *http_client_addr(const struct http_client *k)
{
	return k ? k->addr : "";
}

/* Starts serving HTTP on --http HOST:PORT; 0, or -1 after logging why. Off without --http. */
int http_start(void)
{
	if (!server.opt.http)
		return 0;
	char host[256];
	const char *colon = strrchr(server.opt.http, ':');
	long port = colon ? strtol(colon + 1, NULL, 10) : 0;
	if (!colon || port <= 0 || port > 65535 || (size_t)(colon - server.opt.http) >= sizeof host) {
		log_error("--http %s: expected HOST:PORT", server.opt.http);
		return -1;
	}
	snprintf(host, sizeof host, "%.*s", (int)(colon - server.opt.http), server.opt.http);
	http_static_start(server.opt.web_dir);
	http = evhttp_new(server.base);
	if (!http) {
		log_error("cannot start HTTP");
		return -1;
	}
	evhttp_set_max_headers_size(http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(http, HTTP_MAX_BODY);
	evhttp_set_timeout(http, HTTP_REQUEST_TIMEOUT_S);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(http, http_on_request, NULL);
	bound = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
	if (!bound) {
		log_error("cannot listen for HTTP on %s", server.opt.http);
		evhttp_free(http);
		http = NULL;
		return -1;
	}
	log_info("HTTP on %s", server.opt.http);
	return 0;
}

/* Stops taking HTTP connections and closes the open ones; requests still at Redis end
 * quietly when they come back. */
void http_stop(void)
{
	if (!http)
		return;
	http_sse_close_all();
	for (size_t i = 0; i < HTTP_CLIENT_BUCKETS; i++)
		for (struct http_client *k = clients[i]; k; k = k->next)
			if (k->on_gone) {
				k->on_gone(k->gone_arg);
				k->on_gone = NULL;
			}
	evhttp_free(http); /* closes every connection, calling http_on_close */
	http = NULL;
	bound = NULL;
	for (size_t i = 0; i < HTTP_CLIENT_BUCKETS; i++) {
		struct http_client *k;
		while ((k = clients[i]) != NULL) {
			clients[i] = k->next;
			free(k);
		}
	}
	nclients = 0;
}
