/* libFuzzer harness: the client library's line handling (common/client.c over common/frame.c).
 * The input is what a server sends to a client that says hello, subscribes, asks for a
 * snapshot and has a ping waiting: responses matched by id, events, refusals, garbage and
 * over-long lines. Whatever comes, the client must neither crash nor leak, and must call every
 * reply callback exactly once by the time it is freed. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "log.h"

static struct event_base *base;
static int listen_fd = -1;
static char server_addr[sizeof(struct sockaddr_un) + 8];
static char socket_dir[] = "/tmp/qhall-fuzz-client-XXXXXX";
static char socket_path[sizeof socket_dir + 2];
static int replies_due; /* ping callbacks not yet called */

/* Removes the socket and its folder at exit. */
static void remove_socket(void)
{
	unlink(socket_path);
	rmdir(socket_dir);
}

/* Makes the loop and a Unix socket the client connects to, in a private temp folder. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	log_set_level(LOG_ERROR + 1); /* the client logs odd lines; the log is not under test */
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	if (!base || !mkdtemp(socket_dir))
		abort();
	snprintf(socket_path, sizeof socket_path, "%s/s", socket_dir);
	snprintf(un.sun_path, sizeof un.sun_path, "%s", socket_path);
	atexit(remove_socket);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&un, sizeof un) < 0 || listen(listen_fd, 8) < 0)
		abort();
	snprintf(server_addr, sizeof server_addr, "unix:%s", un.sun_path);
	return 0;
}

/* Counts the ping's answer (or its NULL at a drop or free). */
static void on_ping(void *arg, cJSON *response)
{
	(void)arg, (void)response;
	replies_due--;
}

/* Asks for a ping while the session is set up: it is held and sent after the snapshot. */
static void on_connected(struct client *c, void *arg)
{
	(void)arg;
	if (client_request(c, "ping", NULL, on_ping, NULL) == 0)
		replies_due++;
}

/* An event handed to a program is always a JSON object with an "event" member. */
static void on_event(struct client *c, cJSON *event, void *arg)
{
	(void)c, (void)arg;
	if (!cJSON_IsObject(event) || !cJSON_GetObjectItemCaseSensitive(event, "event"))
		abort();
}

/* Sends a request from inside the ready callback, as the consoles do. */
static void on_ready(struct client *c, cJSON *hello, cJSON *snapshot, void *arg)
{
	(void)hello, (void)snapshot, (void)arg;
	if (client_request(c, "services", NULL, on_ping, NULL) == 0)
		replies_due++;
}

static const struct client_callbacks callbacks = {
	.on_connected = on_connected,
	.on_ready = on_ready,
	.on_event = on_event,
};

/* Runs the loop a little and throws away what the client sent. */
static void pump(int fd)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
	char sink[4096];
	while (fd >= 0 && read(fd, sink, sizeof sink) > 0)
		;
}

/* Plays one input as the server's side of a fresh connection. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int stale;
	while ((stale = accept(listen_fd, NULL, NULL)) >= 0)
		close(stale); /* a connection left over from an earlier input */
	struct client *c = client_new(base, server_addr, &callbacks, NULL);
	if (!c)
		abort();
	client_set_hello(c, cJSON_Parse("{\"role\":\"public\"}"));
	client_set_subscribe(c, NULL);
	client_want_snapshot(c, true);
	int fd = -1;
	for (int i = 0; i < 1000 && fd < 0; i++) {
		pump(-1);
		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK);
		if (fd < 0 && errno == EAGAIN)
			poll(NULL, 0, 0);
	}
	if (fd < 0)
		abort();
	size_t off = 0;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN)
			break; /* the client hung up (an over-long line, say) */
		pump(fd);
	}
	for (int i = 0; i < 20; i++)
		pump(fd);
	close(fd);
	for (int i = 0; i < 20; i++)
		pump(-1);
	client_free(c);
	for (int i = 0; i < 5; i++)
		pump(-1);
	if (replies_due != 0) {
		fprintf(stderr, "fuzz_client: %d reply callbacks never called\n", replies_due);
		abort();
	}
	return 0;
}
