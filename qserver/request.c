/* One request and its reply: replies are built here so every response has the same shape. */
#include "qserver.h"
#include "log.h"
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes an empty request queued on connection c (in arrival order). */
struct request *request_create(struct conn *c)
{
	struct request *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->conn = c;
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	TAILQ_INSERT_TAIL(&c->requests, r, entry);
	c->nrequests++;
	return r;
}

/* Frees a request that is no longer queued on a connection. */
void request_free(struct request *r)
{
	if (!r)
		return;
	cJSON_Delete(r->id);
	cJSON_Delete(r->args);
	free(r->reply);
	free(r->secret);
	free(r);
}

/* Takes a request off its connection's queue and frees it (an HTTP request's answer, or a
 * stream's own read, leaves by another way than the queue). */
void request_drop(struct request *r)
{
	TAILQ_REMOVE(&r->conn->requests, r, entry);
	r->conn->nrequests--;
	request_free(r);
}

/* Marks r answered with the given line (taken; error_code set when it says ok:false), counts
 * it, and lets the connection send what is ready. */
static void request_finish(struct request *r, char *line, size_t len, const char *error_code)
{
	metrics_request(r->op, error_code, &r->started);
	if (!r->conn) {
		/* The client left while Redis worked: nobody to tell, the request just ends. */
		free(line);
		request_free(r);
		return;
	}
	if (r->conn->http) {
		http_api_answer(r, line, len); /* an HTTP request: its one answer */
		return;
	}
	if (r->conn->sse) {
		http_sse_answer(r, line, len); /* a ticket's stream reading its ticket */
		return;
	}
	r->reply = line;
	r->reply_len = len;
	r->done = 1;
	if (r->conn->gate == r)
		r->conn->gate = NULL; /* the role is settled: the lines behind the hello may go on */
	conn_flush_replies(r->conn);
}

/* Writes the `{"id":…,"ok":…` head of a response into a new buffer with room for more. */
static char *reply_head(struct request *r, int ok, size_t extra, size_t *len)
{
	char *id = r->id ? cJSON_PrintUnformatted(r->id) : NULL;
	size_t cap = (id ? strlen(id) : 0) + extra + 32;
	char *buf = malloc(cap);
	if (!buf) {
		free(id);
		return NULL;
	}
	if (id)
		*len = (size_t)snprintf(buf, cap, "{\"id\":%s,\"ok\":%s", id, ok ? "true" : "false");
	else
		*len = (size_t)snprintf(buf, cap, "{\"ok\":%s", ok ? "true" : "false");
	free(id);
	return buf;
}

/* Answers ok:true with the fields of result (taken and freed). */
void request_reply(struct request *r, cJSON *result)
{
	char *body = result ? cJSON_PrintUnformatted(result) : NULL;
	cJSON_Delete(result);
	if (result && !body) {
		request_reply_error(r, "internal", NULL, "The server ran out of memory.");
		return;
	}
	request_reply_raw(r, body ? body : "{}", body ? strlen(body) : 2);
	free(body);
}

/* Answers ok:true with the fields of a JSON object text, spliced without parsing it again. */
void request_reply_raw(struct request *r, const char *json_object, size_t len)
{
	size_t n;
	char *line = reply_head(r, 1, len, &n);
	if (!line) {
		log_error("out of memory answering a request");
		if (r->conn)
			conn_close(r->conn, "out of memory");
		else
			request_free(r);
		return;
	}
	/* Skip the object's "{" and keep its fields; an empty object adds nothing. */
	const char *inner = json_object + 1;
	size_t inner_len = len >= 2 ? len - 1 : 0;
	while (inner_len > 1 && (*inner == ' ' || *inner == '\n'))
		inner++, inner_len--;
	if (inner_len > 1) {
		line[n++] = ',';
		memcpy(line + n, inner, inner_len);
		n += inner_len;
	} else {
		line[n++] = '}';
	}
	request_finish(r, line, n, NULL);
}

/* Builds {"id":…,"ok":false,"error":{"code","message","field"}}; the caller may add beside it. */
static cJSON *error_response(struct request *r, const char *code, const char *field, const char *message)
{
	cJSON *resp = cJSON_CreateObject();
	if (r->id)
		cJSON_AddItemToObject(resp, "id", cJSON_Duplicate(r->id, 1));
	cJSON_AddFalseToObject(resp, "ok");
	cJSON *err = cJSON_AddObjectToObject(resp, "error");
	cJSON_AddStringToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", message);
	if (field)
		cJSON_AddStringToObject(err, "field", field);
	return resp;
}

/* Answers with a built response (taken and freed) carrying error code. */
static void error_finish(struct request *r, cJSON *resp, const char *code)
{
	char *line = cJSON_PrintUnformatted(resp);
	cJSON_Delete(resp);
	if (!line) {
		if (r->conn)
			conn_close(r->conn, "out of memory");
		else
			request_free(r);
		return;
	}
	request_finish(r, line, strlen(line), code);
}

/* Answers ok:false with a protocol error code, an optional field and a message. */
void request_reply_error(struct request *r, const char *code, const char *field, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	error_finish(r, error_response(r, code, field, message), code);
}

/* Answers `rate_limited` with `retry_after` (whole seconds, at least 1) beside the error. */
void request_reply_rate_limited(struct request *r, long retry_after, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	cJSON *resp = error_response(r, "rate_limited", NULL, message);
	cJSON_AddNumberToObject(resp, "retry_after", (double)(retry_after > 0 ? retry_after : 1));
	error_finish(r, resp, "rate_limited");
}

/* Answers `closed` with the time the hall opens next. */
void request_reply_closed(struct request *r, time_t opens_at)
{
	cJSON *resp = error_response(r, "closed", NULL,
				     opens_at ? "The hall is closed now; tickets can be taken when it opens."
					      : "The hall has no opening hours; no tickets can be taken.");
	if (opens_at)
		cJSON_AddNumberToObject(resp, "opens_at", (double)opens_at);
	else
		cJSON_AddNullToObject(resp, "opens_at");
	error_finish(r, resp, "closed");
}

/* Answers `unavailable` with `written: true` for a write that committed on the Redis primary
 * but was not confirmed on the replicas --durable asks for: unlike every other `unavailable`,
 * the change was made (and its events sent), so retrying blindly would repeat it. */
void request_reply_not_durable(struct request *r, int replicas)
{
	cJSON *resp = error_response(r, "unavailable", NULL,
				     replicas == 1
					 ? "The change was made but not confirmed on a storage replica in time; it may be lost if the storage server fails now. Check before retrying."
					 : "The change was made but not confirmed on enough storage replicas in time; it may be lost if the storage server fails now. Check before retrying.");
	cJSON_AddTrueToObject(resp, "written");
	error_finish(r, resp, "unavailable");
}

/* Turns a function's error reply "CODE field message" into a protocol error. */
void request_reply_store_error(struct request *r, const char *err)
{
	static const char *codes[] = {"bad_request", "not_found", "conflict", "forbidden",
				      "unavailable", "closed", "unauthenticated"};
	char code[32];
	size_t i = 0;
	for (; err[i] && err[i] != ' ' && i < sizeof code - 1; i++)
		code[i] = (char)(err[i] >= 'A' && err[i] <= 'Z' ? err[i] + 32 : err[i]);
	code[i] = '\0';
	int known = 0;
	for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++)
		known |= strcmp(code, codes[k]) == 0;
	if (!known) {
		/* Not one of ours: a Lua error or a Redis refusal such as OOM. */
		log_error("redis function failed: %s", err);
		if (strncmp(err, "OOM", 3) == 0 || strncmp(err, "BUSY", 4) == 0 ||
		    strncmp(err, "LOADING", 7) == 0 || strncmp(err, "MISCONF", 7) == 0 ||
		    strncmp(err, "READONLY", 8) == 0 || strncmp(err, "NOREPLICAS", 10) == 0)
			request_reply_error(r, "unavailable", NULL, "Storage refused the change (%.60s); nothing was changed, retry later.", err);
		else
			request_reply_error(r, "internal", NULL, "The server failed; the error was logged.");
		return;
	}
	const char *rest = err[i] ? err + i + 1 : err + i;
	char field[64];
	size_t f = 0;
	for (; rest[f] && rest[f] != ' ' && f < sizeof field - 1; f++)
		field[f] = rest[f];
	field[f] = '\0';
	const char *message = rest[f] ? rest + f + 1 : "the request was refused";
	/* Functions write plain phrases; a person reads a sentence. */
	char sentence[512];
	size_t n = (size_t)snprintf(sentence, sizeof sentence - 1, "%s", message);
	if (n >= sizeof sentence - 1)
		n = sizeof sentence - 2;
	if (sentence[0] >= 'a' && sentence[0] <= 'z')
		sentence[0] = (char)(sentence[0] - 32);
	if (n > 0 && !strchr(".!?", sentence[n - 1])) {
		sentence[n++] = '.';
		sentence[n] = '\0';
	}
	request_reply_error(r, code, strcmp(field, "-") == 0 || !field[0] ? NULL : field, "%s", sentence);
}
