/* Where tickets go: a printer device (/dev/usb/lp0), the raw port of a network printer
 * (tcp:HOST:9100), a file (file:PATH) or stdout as a text preview (-). Every connect and write
 * is bounded by a timeout, so a printer that hangs becomes an error, not a frozen kiosk. */
#include "printer.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Writes a printf message into err. */
__attribute__((format(printf, 3, 4))) static int output_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Milliseconds of the monotonic clock, for deadlines. */
static long long output_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Splits tcp:HOST[:PORT], with [IPv6] in brackets; the port defaults to 9100. */
static int output_parse_tcp(struct output *o, const char *spec, char *err, size_t errlen)
{
	const char *host = spec, *port = NULL;
	size_t host_len;
	if (*spec == '[') {
		const char *close = strchr(spec, ']');
		if (!close)
			return output_error(err, errlen, "tcp:%s: an IPv6 address needs its closing ]", spec);
		host = spec + 1;
		host_len = (size_t)(close - host);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return output_error(err, errlen, "tcp:%s: expected :PORT after the address", spec);
	} else {
		const char *colon = strrchr(spec, ':');
		host_len = colon ? (size_t)(colon - spec) : strlen(spec);
		if (colon)
			port = colon + 1;
	}
	if (host_len == 0 || host_len >= sizeof o->host)
		return output_error(err, errlen, "tcp:%s: name the printer's address, as in tcp:192.168.1.50:9100", spec);
	memcpy(o->host, host, host_len);
	o->host[host_len] = '\0';
	if (!port)
		port = OUTPUT_DEFAULT_TCP_PORT;
	char *end;
	long n = strtol(port, &end, 10);
	if (!*port || *end || n < 1 || n > 65535)
		return output_error(err, errlen, "tcp:%s: the port must be a number from 1 to 65535", spec);
	snprintf(o->port, sizeof o->port, "%ld", n);
	snprintf(o->label, sizeof o->label, "printer at %s:%s", o->host, o->port);
	return 0;
}

/* Reads DEST; nothing is opened yet. */
int output_parse(struct output *o, const char *dest, int timeout_ms, char *err, size_t errlen)
{
	memset(o, 0, sizeof *o);
	o->fd = -1;
	o->timeout_ms = timeout_ms > 0 ? timeout_ms : OUTPUT_DEFAULT_TIMEOUT_MS;
	if (!dest || !*dest)
		return output_error(err, errlen, "name where tickets go with --out (a device, tcp:HOST:PORT, file:PATH or -)");
	if (strcmp(dest, "-") == 0) {
		o->kind = OUTPUT_PREVIEW;
		snprintf(o->label, sizeof o->label, "the text preview on stdout");
		return 0;
	}
	if (strncmp(dest, "tcp:", 4) == 0) {
		o->kind = OUTPUT_TCP;
		return output_parse_tcp(o, dest + 4, err, errlen);
	}
	const char *path = dest;
	o->kind = OUTPUT_DEVICE;
	if (strncmp(dest, "file:", 5) == 0) {
		o->kind = OUTPUT_FILE;
		path = dest + 5;
	} else if (!strchr(dest, '/')) {
		return output_error(err, errlen,
				    "%s: not a destination; use a device path (/dev/usb/lp0), tcp:HOST:PORT, file:PATH or -", dest);
	}
	if (!*path || strlen(path) >= sizeof o->path)
		return output_error(err, errlen, "%s: the path is empty or too long", dest);
	snprintf(o->path, sizeof o->path, "%s", path);
	snprintf(o->label, sizeof o->label, "%s %s", o->kind == OUTPUT_FILE ? "file" : "printer device", path);
	return 0;
}

/* Connects to one address without blocking longer than timeout_ms; the fd, or -1 with errno. */
static int output_connect_one(const struct addrinfo *ai, int timeout_ms)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	int n;
	do
		n = poll(&pfd, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	int soerr = 0;
	socklen_t len = sizeof soerr;
	if (n == 0)
		soerr = ETIMEDOUT;
	else if (n < 0)
		soerr = errno;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr) {
		close(fd);
		errno = soerr;
		return -1;
	}
	return fd;
}

/* Opens the destination now, so a dead printer is found before a ticket is taken. A file is
 * not truncated here: if the take is refused, the last ticket in it stays. */
int output_open(struct output *o, char *err, size_t errlen)
{
	if (o->fd >= 0)
		return 0;
	switch (o->kind) {
	case OUTPUT_PREVIEW:
		o->fd = STDOUT_FILENO;
		return 0;
	case OUTPUT_FILE:
		o->fd = open(o->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		break;
	case OUTPUT_DEVICE:
		/* No O_CREAT: a mistyped device path must not become a file nobody reads. */
		o->fd = open(o->path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		break;
	case OUTPUT_TCP: {
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
		struct addrinfo *res = NULL;
		int rc = getaddrinfo(o->host, o->port, &hints, &res);
		if (rc != 0)
			return output_error(err, errlen, "cannot find the %s: %s", o->label, gai_strerror(rc));
		int saved = 0;
		for (struct addrinfo *ai = res; ai && o->fd < 0; ai = ai->ai_next) {
			o->fd = output_connect_one(ai, o->timeout_ms);
			if (o->fd < 0)
				saved = errno;
		}
		freeaddrinfo(res);
		if (o->fd < 0)
			return output_error(err, errlen, "cannot connect to the %s: %s", o->label,
					    saved == ETIMEDOUT ? "no answer (timed out)" : strerror(saved));
		return 0;
	}
	}
	if (o->fd < 0)
		return output_error(err, errlen, "cannot open the %s: %s", o->label, strerror(errno));
	return 0;
}

/* Writes all bytes, waiting for room with poll until the deadline. */
int output_write(struct output *o, const void *bytes, size_t len, char *err, size_t errlen)
{
	if (o->fd < 0)
		return output_error(err, errlen, "the %s is not open", o->label);
	const unsigned char *p = bytes;
	long long deadline = output_now_ms() + o->timeout_ms;
	while (len > 0) {
		ssize_t n = o->kind == OUTPUT_TCP ? send(o->fd, p, len, MSG_NOSIGNAL) : write(o->fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return output_error(err, errlen, "cannot write to the %s: %s", o->label, strerror(errno));
		long long left = deadline - output_now_ms();
		struct pollfd pfd = {.fd = o->fd, .events = POLLOUT};
		int ready = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (ready == 0)
			return output_error(err, errlen, "the %s did not take the ticket within %d ms (offline, out of paper?)",
					    o->label, o->timeout_ms);
		if (ready < 0 && errno != EINTR)
			return output_error(err, errlen, "cannot write to the %s: %s", o->label, strerror(errno));
	}
	return 0;
}

/* Closes the destination without writing (a take was refused, or a write already failed). */
void output_close(struct output *o)
{
	if (o->fd >= 0 && o->kind != OUTPUT_PREVIEW)
		close(o->fd);
	o->fd = -1;
}

/* Finishes a write: flushes a preview, closes a file checking for late errors. */
static int output_finish(struct output *o, char *err, size_t errlen)
{
	int rc = 0;
	if (o->kind == OUTPUT_PREVIEW) {
		o->fd = -1;
		return 0;
	}
	if (o->kind == OUTPUT_TCP)
		shutdown(o->fd, SHUT_WR);
	if (o->fd >= 0 && close(o->fd) < 0 && errno != EINTR)
		rc = output_error(err, errlen, "cannot finish writing to the %s: %s", o->label, strerror(errno));
	o->fd = -1;
	return rc;
}

/* Sends a whole ticket to an open output and closes it. */
int output_send_ticket(struct output *o, const struct ticket_layout *layout,
		       const struct escpos_codepage *codepage, char *err, size_t errlen)
{
	if (o->kind == OUTPUT_PREVIEW) {
		char text[8192];
		size_t len = ticket_preview(layout, text, sizeof text);
		if (output_write(o, text, len, err, errlen) < 0) {
			output_close(o);
			return -1;
		}
		return output_finish(o, err, errlen);
	}
	static struct escpos stream; /* 16 KiB: kept off the stack; the printer is one thread */
	escpos_begin(&stream, codepage);
	if (ticket_encode(layout, &stream) < 0) {
		output_close(o);
		return output_error(err, errlen, "cannot encode the ticket: %s", stream.error);
	}
	if (o->kind == OUTPUT_FILE && ftruncate(o->fd, 0) < 0) {
		int saved = errno;
		output_close(o);
		return output_error(err, errlen, "cannot write to the %s: %s", o->label, strerror(saved));
	}
	if (output_write(o, stream.bytes, stream.len, err, errlen) < 0) {
		output_close(o);
		return -1;
	}
	return output_finish(o, err, errlen);
}

/* Opens, sends and closes: for reprints, where nothing has to happen between open and write. */
int output_print(struct output *o, const struct ticket_layout *layout,
		 const struct escpos_codepage *codepage, char *err, size_t errlen)
{
	if (output_open(o, err, errlen) < 0)
		return -1;
	return output_send_ticket(o, layout, codepage, err, errlen);
}

/* ---- Printer status ---- */

#define OUTPUT_CHECK_TIMEOUT_MS 1000 /* a check blocks the kiosk's loop at most this long to connect */
#define OUTPUT_STATUS_WAIT_MS 300    /* and this long for the printer's status bytes */

/* Whether a byte is an ESC/POS real-time status byte: bits 1 and 4 set, bits 0 and 7 clear. */
static bool output_status_byte(unsigned char b)
{
	return (b & 0x93) == 0x12;
}

/* Reads what the printer answered to DLE EOT 1 and DLE EOT 4, if anything, and says whether it
 * reports a fault: offline (cover open, paper out, an error) or the paper roll at its end. A
 * printer that does not answer (many cheap ones, a plain file) is judged by the connection. */
static int output_read_status(struct output *o, char *err, size_t errlen)
{
	unsigned char reply[2];
	size_t got = 0;
	long long deadline = output_now_ms() + OUTPUT_STATUS_WAIT_MS;
	while (got < sizeof reply) {
		long long left = deadline - output_now_ms();
		struct pollfd pfd = {.fd = o->fd, .events = POLLIN};
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		ssize_t n = read(o->fd, reply + got, sizeof reply - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got >= 1 && output_status_byte(reply[0]) && (reply[0] & 0x08))
		return output_error(err, errlen, "the %s is offline (cover open, out of paper or in error)", o->label);
	if (got >= 2 && output_status_byte(reply[1]) && (reply[1] & 0x60))
		return output_error(err, errlen, "the %s is out of paper", o->label);
	return 0;
}

/* Checks the printer without printing: it can be opened (connected to), takes a status query,
 * and, where it answers DLE EOT, reports no fault. The kiosk does this before offering tickets
 * and while idle, so a dead printer is shown before a citizen tries. */
int output_check(const struct output *o, char *err, size_t errlen)
{
	if (o->kind == OUTPUT_PREVIEW)
		return 0;
	struct output probe = *o;
	probe.fd = -1;
	if (probe.timeout_ms > OUTPUT_CHECK_TIMEOUT_MS)
		probe.timeout_ms = OUTPUT_CHECK_TIMEOUT_MS;
	if (probe.kind == OUTPUT_FILE) { /* opened without truncating: the last ticket stays */
		int rc = output_open(&probe, err, errlen);
		output_close(&probe);
		return rc;
	}
	if (probe.kind == OUTPUT_DEVICE) {
		/* Read and write, to hear the status; a device that refuses reading is still usable. */
		probe.fd = open(probe.path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (probe.fd < 0 && output_open(&probe, err, errlen) < 0)
			return -1;
	} else if (output_open(&probe, err, errlen) < 0) {
		return -1;
	}
	static const unsigned char query[] = {0x10, 0x04, 0x01, 0x10, 0x04, 0x04}; /* DLE EOT 1, 4 */
	int rc = output_write(&probe, query, sizeof query, err, errlen);
	if (rc == 0)
		rc = output_read_status(&probe, err, errlen);
	output_close(&probe);
	return rc;
}
