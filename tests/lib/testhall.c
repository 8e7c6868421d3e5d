/* A test hall: redis-server plus qserver on the small test config. */
#include "testhall.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct test_hall hall;

/* Starts the hall on the small config, Redis without AOF. */
int hall_fixture_start(void **state)
{
	(void)state;
	return hall_start(&hall, false, NULL);
}

/* Starts the hall on the small config, Redis with AOF (for crash and outage tests). */
int hall_fixture_start_aof(void **state)
{
	(void)state;
	return hall_start(&hall, true, NULL);
}

/* Stops the hall; a qserver that did not stop cleanly fails the group. */
int hall_fixture_stop(void **state)
{
	(void)state;
	return hall_stop(&hall) == 0 ? 0 : -1;
}

/* Gives the next test a new, empty hall. */
int hall_fixture_reset(void **state)
{
	(void)state;
	return hall_reset(&hall);
}

/* Returns the path of the small hall config under $QHALL_ROOT. */
static const char *hall_config(void)
{
	static char path[512];
	const char *root = getenv("QHALL_ROOT");
	snprintf(path, sizeof path, "%s/tests/data/small.json", root ? root : ".");
	return path;
}

/* Starts qserver on the small config (on the Redis at redis_socket, or its own when NULL)
 * with the arguments first then extra_args, and waits until it serves requests. */
static int hall_launch(struct test_hall *h, const char *redis_socket, const char *const *first,
		       const char *const *extra_args)
{
	/* The clock starts at HALL_T0 before Redis is set up, and again at every restart. */
	const char *args[32];
	char start[24];
	snprintf(start, sizeof start, "%ld", HALL_T0);
	int n = 0;
	args[n++] = "--clock-start";
	args[n++] = start;
	for (int i = 0; first && first[i] && n < 31; i++)
		args[n++] = first[i];
	for (int i = 0; extra_args && extra_args[i] && n < 31; i++)
		args[n++] = extra_args[i];
	args[n] = NULL;
	h->server = ts_start(hall_config(), redis_socket, args);
	if (!h->server)
		return -1;
	h->port = ts_port(h->server);
	if (hall_wait_ready(h, 10000) < 0)
		return -1;
	return hall_set_clock(h, HALL_T0);
}

/* Starts another qserver on the hall's Redis (clock at HALL_T0) and waits until it serves
 * requests; NULL when it does not come up. */
struct test_server *hall_start_another(struct test_hall *h)
{
	char start[24];
	snprintf(start, sizeof start, "%ld", HALL_T0);
	const char *const args[] = {"--clock-start", start, NULL};
	struct test_server *other = ts_start(hall_config(), h->redis.socket, args);
	if (other && hall_wait_port_ready(ts_port(other), 10000) < 0) {
		ts_free(other);
		return NULL;
	}
	return other;
}

/* Starts only qserver, on a Redis it is given by address (sentinel://..., IP:PORT), and waits
 * until requests are served. */
int hall_start_on(struct test_hall *h, const char *redis_addr, const char *const *extra_args)
{
	memset(h, 0, sizeof *h);
	const char *first[] = {"--redis", redis_addr, NULL};
	return hall_launch(h, NULL, first, extra_args);
}

/* Starts Redis and qserver and waits until requests are served. */
int hall_start(struct test_hall *h, bool appendonly, const char *const *extra_args)
{
	memset(h, 0, sizeof *h);
	if (testredis_start(&h->redis, appendonly) < 0)
		return -1;
	return hall_launch(h, h->redis.socket, NULL, extra_args);
}

/* Waits until the qserver on port answers `services` ok (its Redis link is up), or time is up. */
int hall_wait_port_ready(int port, int timeout_ms)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct tc *tc = tc_connect(port);
		if (tc) {
			cJSON *r = tc_request(tc, "{\"op\":\"services\"}");
			const char *field = get_str(r, "error", "field");
			if (field && strcmp(field, "site") == 0) {
				/* A region: every site is set up at once, so the first one answering will do. */
				cJSON *sites = tc_request(tc, "{\"op\":\"sites\"}");
				const char *first = get_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(sites, "sites"), 0), "id", NULL);
				cJSON_Delete(r);
				r = tc_request(tc, "{\"op\":\"services\",\"site\":\"%s\"}", first ? first : "");
				cJSON_Delete(sites);
			}
			bool ok = tc_ok(r);
			cJSON_Delete(r);
			tc_close(tc);
			if (ok)
				return 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms > timeout_ms) {
			fprintf(stderr, "qserver on port %d did not become ready in %d ms\n", port, timeout_ms);
			return -1;
		}
		usleep(20 * 1000);
	}
}

/* Waits until the hall's qserver answers `services` ok. */
int hall_wait_ready(struct test_hall *h, int timeout_ms)
{
	if (hall_wait_port_ready(h->port, timeout_ms) == 0)
		return 0;
	ts_print_log_tail(h->server, 20);
	return -1;
}

/* Moves qserver's test clock. */
int hall_set_clock(struct test_hall *h, long t)
{
	struct tc *tc = tc_connect(h->port);
	if (!tc)
		return -1;
	cJSON *r = tc_request(tc, "{\"op\":\"clock\",\"set\":%ld}", t);
	int rc = tc_ok(r) ? 0 : -1;
	cJSON_Delete(r);
	tc_close(tc);
	return rc;
}

/* Reads qserver's clock from a ping's answer. */
long hall_clock_now(struct test_hall *h)
{
	struct tc *tc = tc_connect(h->port);
	if (!tc)
		return -1;
	cJSON *r = tc_request(tc, "{\"op\":\"ping\"}");
	long t = tc_ok(r) ? (long)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "time")) : -1;
	cJSON_Delete(r);
	tc_close(tc);
	return t;
}

/* Freezes Redis as a hung server would be. */
void hall_redis_freeze(struct test_hall *h)
{
	if (h->redis.pid > 0 && kill(h->redis.pid, SIGSTOP) == 0)
		h->redis_frozen = true;
}

/* Lets a frozen Redis run again. */
void hall_redis_thaw(struct test_hall *h)
{
	if (h->redis_frozen && h->redis.pid > 0)
		kill(h->redis.pid, SIGCONT);
	h->redis_frozen = false;
}

/* Empties Redis and restarts qserver, so each test starts from a new hall. */
int hall_reset(struct test_hall *h)
{
	hall_redis_thaw(h);
	if (h->redis.pid <= 0 && testredis_restart(&h->redis) < 0)
		return -1;
	/* Stop qserver first: its tick or a lease renewal could otherwise write the old clock's
	 * day into the emptied Redis before the restart. A qserver that does not stop cleanly
	 * (a sanitizer report, say) fails the reset. */
	if (ts_running(h->server) && ts_stop(h->server) != 0)
		return -1;
	redisContext *rc = testredis_connect(&h->redis);
	if (!rc)
		return -1;
	redisReply *reply = redisCommand(rc, "FLUSHALL");
	freeReplyObject(reply);
	redisFree(rc);
	if (ts_restart(h->server) < 0 || hall_wait_ready(h, 10000) < 0)
		return -1;
	return hall_set_clock(h, HALL_T0);
}

/* Stops qserver and Redis, reporting how qserver ended. */
int hall_stop(struct test_hall *h)
{
	hall_redis_thaw(h);
	if (h->server && !ts_running(h->server) && ts_restart(h->server) < 0) {
		ts_free(h->server);
		h->server = NULL;
		testredis_stop(&h->redis);
		return -1;
	}
	int status = h->server ? ts_stop(h->server) : 0;
	ts_free(h->server);
	h->server = NULL;
	testredis_stop(&h->redis);
	if (status != 0)
		fprintf(stderr, "qserver did not stop cleanly: status %d\n", status);
	return status;
}

/* Opens a connection and says hello with the given line; NULL when refused. */
static struct tc *hall_connect(struct test_hall *h, bool (*hello)(struct tc *))
{
	struct tc *tc = tc_connect(h->port);
	if (tc && hello && !hello(tc)) {
		tc_close(tc);
		return NULL;
	}
	return tc;
}

/* Says hello as the demo kiosk. */
static bool hello_kiosk(struct tc *tc)
{
	return tc_hello_kiosk(tc, "kiosk123");
}

/* Says hello as the demo manager. */
static bool hello_manager(struct tc *tc)
{
	return tc_hello_manager(tc, "m01", "manager123");
}

/* Says hello as the public. */
static bool hello_public(struct tc *tc)
{
	cJSON *r = tc_request(tc, "{\"op\":\"hello\",\"role\":\"public\"}");
	bool ok = tc_ok(r);
	cJSON_Delete(r);
	return ok;
}

struct tc *hall_kiosk(struct test_hall *h) { return hall_connect(h, hello_kiosk); }
struct tc *hall_manager(struct test_hall *h) { return hall_connect(h, hello_manager); }
struct tc *hall_public(struct test_hall *h) { return hall_connect(h, hello_public); }

/* Opens a clerk's connection at a window. */
struct tc *hall_clerk(struct test_hall *h, const char *user, int window)
{
	struct tc *tc = tc_connect(h->port);
	if (tc && !tc_hello_clerk(tc, user, "clerk123", window)) {
		tc_close(tc);
		return NULL;
	}
	return tc;
}

/* Takes a ticket; returns its number. */
const char *hall_take(struct tc *kiosk, const char *service, const char *cls, char *buf, size_t len)
{
	cJSON *r = tc_request(kiosk, "{\"op\":\"take\",\"service\":\"%s\",\"class\":\"%s\"}", service, cls ? cls : "normal");
	const char *number = get_str(r, "ticket", "number");
	if (!number) {
		cJSON_Delete(r);
		return NULL;
	}
	snprintf(buf, len, "%s", number);
	cJSON_Delete(r);
	return buf;
}

/* Reads o.a.b as a string. */
const char *get_str(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = o ? cJSON_GetObjectItemCaseSensitive(o, a) : NULL;
	if (x && b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* Reads o.a.b as a number. */
double get_num(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = o ? cJSON_GetObjectItemCaseSensitive(o, a) : NULL;
	if (x && b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

/* ---- Added for the race, crash, shutdown and Redis-outage tests ---- */

/* Milliseconds of the monotonic clock. */
long long hall_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The path of a test data file. */
const char *hall_data_path(const char *name)
{
	static char path[512];
	const char *root = getenv("QHALL_ROOT");
	snprintf(path, sizeof path, "%s/tests/data/%s", root ? root : ".", name);
	return path;
}

/* Starts Redis and qserver on another config and waits until requests are served. */
int hall_start_config(struct test_hall *h, const char *config_name, bool appendonly, const char *const *extra_args)
{
	memset(h, 0, sizeof *h);
	if (testredis_start(&h->redis, appendonly) < 0)
		return -1;
	h->server = ts_start(hall_data_path(config_name), h->redis.socket, extra_args);
	if (!h->server)
		return -1;
	h->port = ts_port(h->server);
	if (hall_wait_ready(h, 10000) < 0)
		return -1;
	return hall_set_clock(h, HALL_T0);
}

/* Starts qserver with its embedded Redis in a new temp state folder. */
int hall_start_embedded(struct test_hall *h, const char *const *extra_args)
{
	memset(h, 0, sizeof *h);
	strcpy(h->redis.dir, "/tmp/qhall-embedded-XXXXXX");
	if (!mkdtemp(h->redis.dir))
		return -1;
	snprintf(h->redis.socket, sizeof h->redis.socket, "%s/redis.sock", h->redis.dir);
	const char *state[] = {"--state", h->redis.dir, NULL};
	return hall_launch(h, NULL, state, extra_args);
}

/* Tries a connection to a Unix socket path. */
bool hall_unix_socket_answers(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
	bool ok = connect(fd, (struct sockaddr *)&un, sizeof un) == 0;
	close(fd);
	return ok;
}

/* Counts log lines holding needle. */
int hall_log_count(struct test_hall *h, const char *needle)
{
	FILE *f = fopen(ts_log_path(h->server), "r");
	if (!f)
		return 0;
	char *line = NULL;
	size_t cap = 0;
	int n = 0;
	while (getline(&line, &cap, f) >= 0)
		n += strstr(line, needle) != NULL;
	free(line);
	fclose(f);
	return n;
}

/* Opens a non-blocking loopback connection. */
struct hall_pipe *hall_pipe_open(int port)
{
	struct hall_pipe *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (p->fd < 0 || connect(p->fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		fprintf(stderr, "hall_pipe: cannot connect to port %d: %s\n", port, strerror(errno));
		if (p->fd >= 0)
			close(p->fd);
		free(p);
		return NULL;
	}
	fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
	return p;
}

/* Writes every byte, waiting for room; reads meanwhile so a server that answers while we
 * write cannot dead-lock us. */
int hall_pipe_send_raw(struct hall_pipe *p, const void *bytes, size_t len)
{
	const char *at = bytes;
	long long deadline = hall_now_ms() + 5000;
	while (len > 0) {
		ssize_t n = send(p->fd, at, len, MSG_NOSIGNAL);
		if (n > 0) {
			at += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		long long left = deadline - hall_now_ms();
		if (left <= 0)
			return -1;
		struct pollfd pfd = {.fd = p->fd, .events = POLLOUT | POLLIN};
		poll(&pfd, 1, (int)left);
		if (pfd.revents & POLLIN)
			hall_pipe_fill(p);
	}
	return 0;
}

/* Writes one line. */
int hall_pipe_send(struct hall_pipe *p, const char *fmt, ...)
{
	va_list ap;
	char *text;
	va_start(ap, fmt);
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	text[n] = '\n'; /* vasprintf left room for the NUL */
	int r = hall_pipe_send_raw(p, text, (size_t)n + 1);
	free(text);
	return r;
}

/* Reads what has arrived. */
int hall_pipe_fill(struct hall_pipe *p)
{
	int total = 0;
	while (!p->eof) {
		if (p->cap - p->len < 65536) {
			size_t cap = p->cap ? p->cap * 2 : 131072;
			char *grown = realloc(p->buf, cap);
			if (!grown)
				return total;
			p->buf = grown;
			p->cap = cap;
		}
		ssize_t n = recv(p->fd, p->buf + p->len, p->cap - p->len, 0);
		if (n > 0) {
			p->len += (size_t)n;
			total += (int)n;
		} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			p->eof = true;
		} else {
			break;
		}
	}
	return total;
}

/* Takes the next buffered line. */
cJSON *hall_pipe_take(struct hall_pipe *p)
{
	char *nl = p->len ? memchr(p->buf, '\n', p->len) : NULL;
	if (!nl)
		return NULL;
	size_t n = (size_t)(nl - p->buf);
	cJSON *msg = cJSON_ParseWithLength(p->buf, n);
	if (!cJSON_IsObject(msg)) {
		fprintf(stderr, "hall_pipe: a line that is not a JSON object: %.*s\n", (int)(n < 200 ? n : 200), p->buf);
		cJSON_Delete(msg);
		msg = cJSON_CreateNull();
	}
	memmove(p->buf, nl + 1, p->len - n - 1);
	p->len -= n + 1;
	return msg;
}

/* Waits for the next line. */
cJSON *hall_pipe_read(struct hall_pipe *p, int timeout_ms)
{
	long long deadline = hall_now_ms() + timeout_ms;
	for (;;) {
		cJSON *msg = hall_pipe_take(p);
		if (msg || p->eof)
			return msg;
		long long left = deadline - hall_now_ms();
		if (left <= 0)
			return NULL;
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)left) > 0)
			hall_pipe_fill(p);
	}
}

/* Says hello on a pipe. */
bool hall_pipe_hello(struct hall_pipe *p, const char *hello_json)
{
	if (hall_pipe_send(p, "%s", hello_json) < 0)
		return false;
	cJSON *r = hall_pipe_read(p, 5000);
	bool ok = tc_ok(r);
	if (!ok) {
		char *text = r ? cJSON_PrintUnformatted(r) : NULL;
		fprintf(stderr, "hall_pipe: %s was refused: %s\n", hello_json, text ? text : "no answer");
		free(text);
	}
	cJSON_Delete(r);
	return ok;
}

/* Waits for the close. */
bool hall_pipe_wait_close(struct hall_pipe *p, int timeout_ms)
{
	long long deadline = hall_now_ms() + timeout_ms;
	while (!p->eof) {
		long long left = deadline - hall_now_ms();
		if (left <= 0)
			return false;
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)left) > 0)
			hall_pipe_fill(p);
	}
	return true;
}

/* Closes a pipe. */
void hall_pipe_close(struct hall_pipe *p)
{
	if (!p)
		return;
	close(p->fd);
	free(p->buf);
	free(p);
}
