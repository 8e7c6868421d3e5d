/* qbench-sse: N browsers' event streams on one qserver, and how long a call takes to reach
 * all of them. Opens N streams (GET /api/v1/sites/SITE/events?topics=called), takes ROUNDS
 * tickets as a kiosk, signs a clerk in at WINDOW, then per round sends call_next and times,
 * for every stream, the arrival of its `called` event from the moment the request left;
 * then marks the ticket a no-show. Prints one JSON line: streams, rounds, deliveries,
 * missed, and the latency p50/p99/max in ms.
 * usage: qbench-sse --http HOST:PORT --server HOST:PORT --site S --streams N --rounds R
 *        --window W --clerk USER (QHALL_PASSWORD, QHALL_TOKEN from the environment) */
#include "syncclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

struct stream {
	int fd;
	int seen;      /* `called` events read so far */
	char tail[16]; /* the last bytes read, so a name split across reads is found */
};

/* Milliseconds of the monotonic clock, with fractions. */
static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Opens one stream: a blocking connect, then the request, then non-blocking reads. */
static int stream_open(const char *host, int port, const char *site)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char req[256];
	int n = snprintf(req, sizeof req, "GET /api/v1/sites/%s/events?topics=called HTTP/1.1\r\nHost: %s\r\n\r\n", site, host);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Counts the `called` events in what a stream has to read now. */
static void stream_read(struct stream *s)
{
	char buf[8192 + 16];
	for (;;) {
		size_t keep = strlen(s->tail);
		memcpy(buf, s->tail, keep);
		ssize_t n = read(s->fd, buf + keep, 8192);
		if (n <= 0)
			return;
		size_t len = keep + (size_t)n;
		buf[len] = '\0';
		for (char *p = buf; (p = strstr(p, "event: called")) != NULL; p += 13)
			if (p + 13 > buf + keep) /* not counted in the last read */
				s->seen++;
		size_t t = len < 15 ? len : 15;
		memcpy(s->tail, buf + len - t, t);
		s->tail[t] = '\0';
	}
}

/* Sorts doubles. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sends a request and checks ok; exits with the answer when refused. */
static void must(struct sync_client *sc, const char *line)
{
	cJSON *r = sync_request(sc, line, 5000);
	cJSON *ok = r ? cJSON_GetObjectItemCaseSensitive(r, "ok") : NULL;
	if (!cJSON_IsTrue(ok)) {
		char *text = r ? cJSON_PrintUnformatted(r) : NULL;
		fprintf(stderr, "qbench-sse: %s: %s\n", line, text ? text : sync_error(sc));
		exit(1);
	}
	cJSON_Delete(r);
}

int main(int argc, char **argv)
{
	const char *http = NULL, *server = NULL, *site = NULL, *clerk = NULL;
	int nstreams = 1000, rounds = 50, window = 1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--http")) http = argv[i + 1];
		else if (!strcmp(argv[i], "--server")) server = argv[i + 1];
		else if (!strcmp(argv[i], "--site")) site = argv[i + 1];
		else if (!strcmp(argv[i], "--clerk")) clerk = argv[i + 1];
		else if (!strcmp(argv[i], "--streams")) nstreams = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--window")) window = atoi(argv[i + 1]);
	}
	const char *password = getenv("QHALL_PASSWORD"), *token = getenv("QHALL_TOKEN");
	char host[64];
	const char *colon = http ? strrchr(http, ':') : NULL;
	if (!colon || !server || !site || !clerk || !password || !token || nstreams < 1 || rounds < 1 ||
	    (size_t)(colon - http) >= sizeof host) {
		fprintf(stderr, "usage: qbench-sse --http HOST:PORT --server HOST:PORT --site S --streams N --rounds R --window W --clerk USER\n");
		return 2;
	}
	snprintf(host, sizeof host, "%.*s", (int)(colon - http), http);
	struct stream *s = calloc((size_t)nstreams, sizeof *s);
	struct pollfd *pfd = calloc((size_t)nstreams, sizeof *pfd);
	double *lat = calloc((size_t)nstreams * (size_t)rounds, sizeof *lat);
	for (int i = 0; i < nstreams; i++) {
		s[i].fd = stream_open(host, atoi(colon + 1), site);
		if (s[i].fd < 0) {
			fprintf(stderr, "qbench-sse: stream %d could not open: %s\n", i, strerror(errno));
			return 1;
		}
		pfd[i].fd = s[i].fd;
		pfd[i].events = POLLIN;
	}
	char line[512];
	struct sync_client *kiosk = sync_connect(server, 5000), *c = sync_connect(server, 5000);
	if (!kiosk || !c) {
		fprintf(stderr, "qbench-sse: cannot reach %s\n", server);
		return 1;
	}
	snprintf(line, sizeof line, "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"%s\"}", token);
	must(kiosk, line);
	snprintf(line, sizeof line, "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"%s\",\"password\":\"%s\",\"window\":%d}", clerk, password, window);
	must(c, line);
	usleep(300 * 1000); /* every stream subscribed */
	size_t nlat = 0;
	int missed = 0;
	for (int r = 1; r <= rounds; r++) {
		must(kiosk, "{\"op\":\"take\",\"service\":\"A\"}");
		double t0 = now_ms();
		snprintf(line, sizeof line, "{\"op\":\"call_next\"}");
		must(c, line);
		int got = 0;
		for (int i = 0; i < nstreams; i++)
			got += s[i].seen >= r;
		while (got < nstreams && now_ms() - t0 < 2000) {
			if (poll(pfd, (nfds_t)nstreams, 100) <= 0)
				continue;
			double t = now_ms();
			for (int i = 0; i < nstreams; i++) {
				if (!(pfd[i].revents & POLLIN))
					continue;
				int before = s[i].seen;
				stream_read(&s[i]);
				if (before < r && s[i].seen >= r) {
					lat[nlat++] = t - t0;
					got++;
				}
			}
		}
		missed += nstreams - got;
		must(c, "{\"op\":\"no_show\"}");
	}
	qsort(lat, nlat, sizeof *lat, cmp_double);
	double p50 = nlat ? lat[nlat / 2] : -1, p99 = nlat ? lat[(size_t)(nlat * 0.99)] : -1, max = nlat ? lat[nlat - 1] : -1;
	printf("{\"streams\":%d,\"rounds\":%d,\"deliveries\":%zu,\"missed\":%d,\"latency\":{\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f}}\n",
	       nstreams, rounds, nlat, missed, p50, p99, max);
	sync_close(kiosk);
	sync_close(c);
	for (int i = 0; i < nstreams; i++)
		close(s[i].fd);
	free(s);
	free(pfd);
	free(lat);
	return missed ? 1 : 0;
}
