/* NDJSON framing: one JSON object per line, at most FRAME_MAX_LINE bytes with its newline. */
#ifndef QHALL_FRAME_H
#define QHALL_FRAME_H

#include <stddef.h>

struct evbuffer;

#define FRAME_MAX_LINE 65536

enum frame_result {
	FRAME_LINE,	/* a whole line was taken out */
	FRAME_NEED_MORE,/* no newline yet, and the part so far is within the limit */
	FRAME_TOO_LONG	/* the line is over the limit: answer too_long and close */
};

/* Takes the next line out of buf without its newline (and a CR before it) into a new
 * NUL-terminated string in *line (free it), with its length in *len. */
enum frame_result frame_read_line(struct evbuffer *buf, char **line, size_t *len);

/* Appends text and a newline to buf; returns 0, or -1 when out of memory. */
int frame_write_line(struct evbuffer *buf, const char *text, size_t len);

#endif
