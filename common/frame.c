/* NDJSON framing over libevent buffers. */
#include "frame.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

/* Takes one line out of buf, refusing lines over FRAME_MAX_LINE bytes. */
enum frame_result frame_read_line(struct evbuffer *buf, char **line, size_t *len)
{
	struct evbuffer_ptr nl = evbuffer_search(buf, "\n", 1, NULL);
	if (nl.pos < 0) {
		/* Without a newline, a buffer already at the limit can never become a legal line. */
		return evbuffer_get_length(buf) >= FRAME_MAX_LINE ? FRAME_TOO_LONG : FRAME_NEED_MORE;
	}
	size_t total = (size_t)nl.pos + 1;
	if (total > FRAME_MAX_LINE)
		return FRAME_TOO_LONG;
	char *text = malloc(total);
	if (!text)
		return FRAME_TOO_LONG;
	evbuffer_remove(buf, text, total);
	size_t n = total - 1;
	if (n > 0 && text[n - 1] == '\r')
		n--;
	text[n] = '\0';
	*line = text;
	*len = n;
	return FRAME_LINE;
}

/* Appends one line; the caller's text must not contain a newline. */
int frame_write_line(struct evbuffer *buf, const char *text, size_t len)
{
	if (evbuffer_add(buf, text, len) < 0 || evbuffer_add(buf, "\n", 1) < 0)
		return -1;
	return 0;
}
