/* A blocking qserver connection: non-blocking socket plus poll(), so every wait has a bound. */
#include "syncclient.h"

#include "client.h"
#include "frame.h"

#include <errno.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct sync_client {
	int fd;
	struct evbuffer *in; /* bytes read and not yet taken as lines */
	bool eof;
	long long next_id;
	char error[160];
};

/* Milliseconds of the monotonic clock, for deadlines. */
static long long sync_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline, never negative, as poll() takes them. */
static int sync_left(long long deadline)
{
	long long left = deadline - sync_now_ms();
	return left < 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/* Waits until fd is ready for events or the deadline passes; returns poll's revents or 0. */
static short sync_wait(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events};
		int n = poll(&pfd, 1, sync_left(deadline));
		if (n > 0)
			return pfd.revents;
		if (n == 0 || errno != EINTR)
			return 0;
	}
}

/* Records why the last call failed. */
static void sync_set_error(struct sync_client *sc, const char *what, int err)
{
	if (err)
		snprintf(sc->error, sizeof sc->error, "%s: %s", what, strerror(err));
	else
		snprintf(sc->error, sizeof sc->error, "%s", what);
}

static struct sync_client *sync_connect_one(const struct sockaddr_storage *addr_in, socklen_t addr_len,
					    int timeout_ms);

/* Connects to the first server of the list ("A,B,...") that accepts, each with a bounded wait. */
struct sync_client *sync_connect(const char *server, int timeout_ms)
{
	struct client_address servers[CLIENT_MAX_SERVERS];
	int n = client_parse_server_list(server, servers);
	for (int i = 0; i < n; i++) {
		struct sync_client *sc = sync_connect_one(&servers[i].addr, servers[i].len, timeout_ms);
		if (sc)
			return sc;
	}
	return NULL;
}

/* Connects to one address with a bounded wait on the non-blocking connect. */
static struct sync_client *sync_connect_one(const struct sockaddr_storage *addr_in, socklen_t addr_len,
					    int timeout_ms)
{
	struct sockaddr_storage addr = *addr_in;
	int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	long long deadline = sync_now_ms() + timeout_ms;
	if (connect(fd, (struct sockaddr *)&addr, addr_len) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN)
			goto fail;
		if (!sync_wait(fd, POLLOUT, deadline)) {
			errno = ETIMEDOUT;
			goto fail;
		}
		int err = 0;
		socklen_t err_len = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) < 0)
			goto fail;
		if (err) {
			errno = err;
			goto fail;
		}
	}
	if (addr.ss_family != AF_UNIX) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	struct sync_client *sc = calloc(1, sizeof *sc);
	if (!sc || !(sc->in = evbuffer_new())) {
		free(sc);
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	sc->fd = fd;
	sc->next_id = 1;
	return sc;
fail:;
	int saved = errno;
	close(fd);
	errno = saved;
	return NULL;
}

/* Writes every byte or gives up at the deadline; MSG_NOSIGNAL keeps a closed peer from
 * killing the process with SIGPIPE. */
enum sync_status sync_send_raw(struct sync_client *sc, const void *bytes, size_t len, int timeout_ms)
{
	long long deadline = sync_now_ms() + timeout_ms;
	const char *p = bytes;
	while (len > 0) {
		ssize_t n = send(sc->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!sync_wait(sc->fd, POLLOUT, deadline)) {
				sync_set_error(sc, "send timed out", 0);
				return SYNC_TIMEOUT;
			}
			continue;
		}
		sync_set_error(sc, "send", errno);
		return errno == EPIPE || errno == ECONNRESET ? SYNC_CLOSED : SYNC_ERROR;
	}
	return SYNC_OK;
}

/* Writes one line: the text and its newline. */
enum sync_status sync_send_line(struct sync_client *sc, const char *text, int timeout_ms)
{
	size_t len = strlen(text);
	char *line = malloc(len + 1);
	if (!line) {
		sync_set_error(sc, "out of memory", 0);
		return SYNC_ERROR;
	}
	memcpy(line, text, len);
	line[len] = '\n';
	/* One send, so the server never sees the line and its newline in separate reads. */
	enum sync_status st = sync_send_raw(sc, line, len + 1, timeout_ms);
	free(line);
	return st;
}

/* Reads until a whole line is buffered, the peer closes, or the deadline passes. */
enum sync_status sync_read_line(struct sync_client *sc, int timeout_ms, char **line, size_t *len)
{
	long long deadline = sync_now_ms() + timeout_ms;
	for (;;) {
		enum frame_result r = frame_read_line(sc->in, line, len);
		if (r == FRAME_LINE)
			return SYNC_OK;
		if (r == FRAME_TOO_LONG) {
			sync_set_error(sc, "a line from the server is over 65536 bytes", 0);
			return SYNC_ERROR;
		}
		if (sc->eof) {
			sync_set_error(sc, "the server closed the connection", 0);
			return SYNC_CLOSED;
		}
		int n = evbuffer_read(sc->in, sc->fd, 65536);
		if (n > 0)
			continue;
		if (n == 0) {
			sc->eof = true;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET) {
			sc->eof = true;
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			sync_set_error(sc, "read", errno);
			return SYNC_ERROR;
		}
		if (sync_left(deadline) == 0 || !sync_wait(sc->fd, POLLIN, deadline)) {
			sync_set_error(sc, "timed out waiting for the server", 0);
			return SYNC_TIMEOUT;
		}
	}
}

/* Whether two request ids are the same number or the same string. */
static bool sync_same_id(const cJSON *a, const cJSON *b)
{
	if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
		return a->valuedouble == b->valuedouble;
	if (cJSON_IsString(a) && cJSON_IsString(b))
		return strcmp(a->valuestring, b->valuestring) == 0;
	return false;
}

/* Sends a request and returns the response with its id, skipping events on the way. */
cJSON *sync_request(struct sync_client *sc, const char *json_line, int timeout_ms)
{
	long long deadline = sync_now_ms() + timeout_ms;
	cJSON *req = cJSON_Parse(json_line);
	if (!cJSON_IsObject(req)) {
		cJSON_Delete(req);
		sync_set_error(sc, "the request is not a JSON object", 0);
		return NULL;
	}
	cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
	if (!id)
		id = cJSON_AddNumberToObject(req, "id", (double)sc->next_id++);
	char *text = cJSON_PrintUnformatted(req);
	cJSON *want = cJSON_Duplicate(id, false);
	cJSON_Delete(req);
	if (!text || !want) {
		free(text);
		cJSON_Delete(want);
		sync_set_error(sc, "out of memory", 0);
		return NULL;
	}
	enum sync_status st = sync_send_line(sc, text, sync_left(deadline));
	free(text);
	cJSON *answer = NULL;
	while (st == SYNC_OK) {
		char *line;
		size_t len;
		st = sync_read_line(sc, sync_left(deadline), &line, &len);
		if (st != SYNC_OK)
			break;
		cJSON *msg = cJSON_ParseWithLength(line, len);
		free(line);
		if (cJSON_IsObject(msg) && sync_same_id(cJSON_GetObjectItemCaseSensitive(msg, "id"), want)) {
			answer = msg;
			break;
		}
		cJSON_Delete(msg); /* an event, or the late answer to an earlier timed-out request */
	}
	cJSON_Delete(want);
	return answer;
}

/* The reason of the last failure. */
const char *sync_error(const struct sync_client *sc)
{
	return sc->error[0] ? sc->error : "no error";
}

/* The connected socket. */
int sync_fd(const struct sync_client *sc)
{
	return sc->fd;
}

/* Closes and frees. */
void sync_close(struct sync_client *sc)
{
	if (!sc)
		return;
	close(sc->fd);
	evbuffer_free(sc->in);
	free(sc);
}
