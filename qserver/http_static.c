/* The pages of web/ (WEB.md, Serving): files sent with their type, an ETag and
 * Cache-Control; no directory listing; paths are decoded and normalised and may not leave
 * the folder, not even through a symbolic link. A page's path may carry its parameters
 * (/t/{id}, /take/{site}): a path that names no file is served by the index.html of its
 * first folder. */
#include "qserver.h"
#include "log.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATIC_FILE_MAX (16L * 1024 * 1024)
#define STATIC_SEGMENTS_MAX 16

static char root[PATH_MAX]; /* the real path of the folder, without a trailing slash */

/* Remembers the real path of the pages' folder; without one, pages are not served. */
void http_static_start(const char *dir)
{
	if (!realpath(dir, root)) {
		log_warn("--web %s: no such folder; pages are not served", dir);
		root[0] = '\0';
	}
}

/* The media type of a file name. */
static const char *static_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"}, {".json", "application/json; charset=utf-8"},
		{".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"},
		{".woff2", "font/woff2"}, {".ogg", "audio/ogg"}, {".mp3", "audio/mpeg"},
		{".wav", "audio/wav"}, {".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/* Writes the normalised relative path of a decoded URL path into out ("" for the root):
 * segments "." and empty ones are dropped; "..", hidden names and backslashes are refused
 * (-1). first gets the first segment. */
static int static_normalise(const char *path, char *out, size_t len, char *first, size_t first_len)
{
	size_t n = 0;
	int segments = 0;
	out[0] = first[0] = '\0';
	if (strchr(path, '\\'))
		return -1;
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		size_t seg = strcspn(p, "/");
		if (seg == 0)
			break;
		if (seg == 1 && p[0] == '.') {
			p += seg;
			continue;
		}
		if (p[0] == '.' || ++segments > STATIC_SEGMENTS_MAX || n + seg + 2 > len)
			return -1; /* "..", hidden files, or too deep */
		if (n)
			out[n++] = '/';
		memcpy(out + n, p, seg);
		n += seg;
		out[n] = '\0';
		if (segments == 1)
			snprintf(first, first_len, "%.*s", (int)seg, p);
		p += seg;
	}
	return 0;
}

/* Opens root/rel (or its index.html when a folder) if it is a regular file inside root;
 * -1 when not. */
static int static_open(const char *rel, struct stat *st, char *real, size_t real_len)
{
	char path[PATH_MAX + 32], resolved[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	if (stat(path, st) == 0 && S_ISDIR(st->st_mode))
		snprintf(path, sizeof path, "%s/%s%sindex.html", root, rel, rel[0] ? "/" : "");
	if (!realpath(path, resolved))
		return -1;
	size_t rootlen = strlen(root);
	if (strncmp(resolved, root, rootlen) != 0 || resolved[rootlen] != '/')
		return -1; /* a link that leads out of the folder */
	int fd = open(resolved, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_size > STATIC_FILE_MAX) {
		close(fd);
		return -1;
	}
	snprintf(real, real_len, "%s", resolved);
	return fd;
}

/* Sends a plain 404 page. */
static void static_not_found(struct evhttp_request *req)
{
	http_add_security_headers(req, 0);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; charset=utf-8");
	struct evbuffer *body = evbuffer_new();
	if (body)
		evbuffer_add_printf(body, "404 Not Found\n");
	evhttp_send_reply(req, 404, "Not Found", body);
	if (body)
		evbuffer_free(body);
}

/* Serves a GET or HEAD of a page or file. */
void http_static_handle(struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	size_t dec_len = 0;
	char *decoded = evhttp_uridecode(path, 0, &dec_len);
	char rel[PATH_MAX], first[NAME_MAX + 1], real[PATH_MAX];
	if ((method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) || !root[0] || !decoded ||
	    dec_len != strlen(decoded) || static_normalise(decoded, rel, sizeof rel, first, sizeof first) < 0) {
		free(decoded);
		static_not_found(req);
		return;
	}
	free(decoded);
	struct stat st;
	int fd = static_open(rel, &st, real, sizeof real);
	if (fd < 0 && first[0] && strcmp(first, rel) != 0)
		fd = static_open(first, &st, real, sizeof real); /* /t/{id}: the page of t/ */
	if (fd < 0) {
		static_not_found(req);
		return;
	}
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	http_add_security_headers(req, strcmp(first, "display") == 0); /* a hall may frame its display */
	char etag[64];
	snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size, (unsigned long long)st.st_mtime);
	evhttp_add_header(h, "ETag", etag);
	/* Revalidated on every load: a hall's screens pick up a new version at once. */
	evhttp_add_header(h, "Cache-Control", "no-cache");
	const char *match = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
	if (match && strcmp(match, etag) == 0) {
		close(fd);
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		return;
	}
	evhttp_add_header(h, "Content-Type", static_type(real));
	struct evbuffer *body = evbuffer_new();
	if (!body || (st.st_size > 0 && evbuffer_add_file(body, fd, 0, st.st_size) < 0)) {
		if (body)
			evbuffer_free(body);
		close(fd);
		http_send_error(req, "internal", "The file could not be read.");
		return;
	}
	if (st.st_size == 0)
		close(fd);
	evhttp_send_reply(req, 200, "OK", body); /* evbuffer_add_file closes fd with the buffer */
	evbuffer_free(body);
}
