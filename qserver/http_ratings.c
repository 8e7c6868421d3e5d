/* GET /api/v1/sites/{site}/ratings.csv?from=&to=[&bad=true][&state=open|resolved]: a manager's
 * export of the ratings of a range as CSV (docs/ratings.md), made from the pages of the
 * `ratings` op run through the op table like any API call (http_api.c drives the pages). */
#include "qserver.h"
#include "ratingcsv.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATINGS_CSV_PAGE 500	  /* ratings asked per page */
#define RATINGS_CSV_MAX_ROWS 20000 /* one export at most; a longer range is refused */

/* An export under way: the CSV so far. */
struct ratings_export {
	FILE *f;
	char *text;
	size_t len;
	long rows;
	char from[11], to[11];
};

/* Fills the `ratings` request of an export from the query (from, to, bad, state); -1 after
 * answering a malformed query. */
int http_ratings_args(struct evhttp_request *req, cJSON *args)
{
	struct evkeyvalq query;
	TAILQ_INIT(&query);
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (q && evhttp_parse_query_str(q, &query) < 0) {
		http_send_error(req, "bad_request", "The query string is malformed.");
		return -1;
	}
	cJSON_AddStringToObject(args, "op", "ratings");
	static const char *const names[] = {"from", "to", "state"};
	for (size_t i = 0; i < 3; i++) {
		const char *v = evhttp_find_header(&query, names[i]);
		if (v)
			cJSON_AddStringToObject(args, names[i], v);
	}
	const char *bad = evhttp_find_header(&query, "bad");
	if (bad) /* anything but true or false reaches the op as a string and is refused there */
		cJSON_AddItemToObject(args, "bad", strcmp(bad, "true") == 0 ? cJSON_CreateTrue() : strcmp(bad, "false") == 0 ? cJSON_CreateFalse() : cJSON_CreateString(bad));
	cJSON_AddNumberToObject(args, "limit", RATINGS_CSV_PAGE);
	evhttp_clear_headers(&query);
	return 0;
}

/* Frees an export; NULL is fine. */
void http_ratings_free(struct ratings_export *x)
{
	if (!x)
		return;
	if (x->f)
		fclose(x->f);
	free(x->text);
	free(x);
}

/* Adds each entry's service name from the site's config, for the service_name column. */
static void ratings_add_service_names(const struct site *site, cJSON *ratings)
{
	cJSON *e;
	cJSON_ArrayForEach(e, ratings) {
		const cJSON *sid = cJSON_GetObjectItemCaseSensitive(e, "service");
		const struct config_service *s = cJSON_IsString(sid) ? config_service(site->cfg, sid->valuestring) : NULL;
		if (s)
			cJSON_AddStringToObject(e, "service_name", s->name);
	}
}

/* Sends the finished CSV as an attachment named after the site and range. */
static void ratings_send(struct evhttp_request *req, const struct site *site, struct ratings_export *x)
{
	fflush(x->f);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char disposition[160];
	snprintf(disposition, sizeof disposition, "attachment; filename=\"ratings-%s-%s-%s.csv\"", site->cfg->site.id, x->from, x->to);
	http_add_security_headers(req, 0);
	evhttp_add_header(h, "Content-Type", "text/csv; charset=utf-8");
	evhttp_add_header(h, "Content-Disposition", disposition);
	evhttp_add_header(h, "Cache-Control", "no-store");
	struct evbuffer *body = evbuffer_new();
	if (body)
		evbuffer_add(body, x->text, x->len);
	evhttp_send_reply(req, 200, "OK", body);
	if (body)
		evbuffer_free(body);
}

/* Takes one page's ok answer of an export: adds its rows, then either sets *next_offset and
 * returns 1 (ask for the next page) or answers the request and returns 0. */
int http_ratings_page(struct evhttp_request *req, const struct site *site, struct ratings_export **xp,
		      const char *line, size_t len, long *next_offset)
{
	struct ratings_export *x = *xp;
	cJSON *resp = cJSON_ParseWithLength(line, len);
	cJSON *ratings = cJSON_GetObjectItemCaseSensitive(resp, "ratings");
	if (!x && cJSON_IsArray(ratings) && (x = *xp = calloc(1, sizeof *x)) != NULL) {
		const cJSON *from = cJSON_GetObjectItemCaseSensitive(resp, "from"), *to = cJSON_GetObjectItemCaseSensitive(resp, "to");
		snprintf(x->from, sizeof x->from, "%s", cJSON_IsString(from) ? from->valuestring : "");
		snprintf(x->to, sizeof x->to, "%s", cJSON_IsString(to) ? to->valuestring : "");
		if ((x->f = open_memstream(&x->text, &x->len)) != NULL)
			ratingcsv_header(x->f);
	}
	if (!x || !x->f || !cJSON_IsArray(ratings)) {
		cJSON_Delete(resp);
		http_send_error(req, "internal", "The server could not build the export.");
		return 0;
	}
	x->rows += cJSON_GetArraySize(ratings);
	ratings_add_service_names(site, ratings);
	sitetime_use_zone(site->cfg->site.tz); /* the rows' times in the site's zone */
	ratingcsv_rows(x->f, ratings, site->cfg->site.id);
	const cJSON *next = cJSON_GetObjectItemCaseSensitive(resp, "next_offset");
	int more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "more")) && cJSON_IsNumber(next);
	*next_offset = more ? (long)next->valuedouble : 0;
	cJSON_Delete(resp);
	if (more && x->rows < RATINGS_CSV_MAX_ROWS)
		return 1;
	if (more)
		http_send_error(req, "bad_request", "The range holds more ratings than one export may (20000); export a shorter range.");
	else
		ratings_send(req, site, x);
	return 0;
}
