/* qbench-raw: the baselines `make bench` sets qserver's figures against, measured on the same
 * Redis in the same run: a Redis Function called at a fixed rate straight from hiredis (the
 * floor under `take` p99), PUBLISH to many subscribers (the floor under a `called` event's
 * trip), and one request sent to qserver again and again (`snapshot` latency). Prints one
 * JSON object. */
#include <errno.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RAW_MAX_CONNS 2000
#define RAW_MAX_ARGS 32

static struct event_base *base;
static uint64_t *samples; /* latencies in microseconds */
static size_t nsamples, samples_cap;
static long errors;

/* Nanoseconds of the monotonic clock. */
static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Keeps one latency sample. */
static void sample_add(uint64_t us)
{
	if (nsamples == samples_cap) {
		samples_cap = samples_cap ? samples_cap * 2 : 4096;
		samples = realloc(samples, samples_cap * sizeof *samples);
		if (!samples) {
			perror("qbench-raw");
			exit(1);
		}
	}
	samples[nsamples++] = us;
}

/* Orders samples for the percentiles. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Prints the report: count, p50, p99, max in milliseconds, errors, and the mode's own members
 * (`extra`, "" or ",\"name\":value..."). */
static void report(const char *mode, const char *extra)
{
	if (nsamples)
		qsort(samples, nsamples, sizeof *samples, cmp_u64);
	double p50 = nsamples ? samples[nsamples / 2] / 1000.0 : 0;
	double p99 = nsamples ? samples[(size_t)((nsamples - 1) * 0.99)] / 1000.0 : 0;
	double max = nsamples ? samples[nsamples - 1] / 1000.0 : 0;
	printf("{\"mode\":\"%s\",\"n\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"errors\":%ld%s}\n", mode,
	       nsamples, p50, p99, max, errors, extra);
}

/* Connects one async context to unix:/path or IP:port, attached to the loop; NULL when the
 * connect fails (a full listen queue says EAGAIN on a Unix socket: try again later). */
static redisAsyncContext *redis_try_open(const char *addr)
{
	redisAsyncContext *ac;
	if (strncmp(addr, "unix:", 5) == 0) {
		ac = redisAsyncConnectUnix(addr + 5);
	} else {
		char host[64];
		const char *colon = strrchr(addr, ':');
		if (!colon || (size_t)(colon - addr) >= sizeof host)
			return NULL;
		memcpy(host, addr, colon - addr);
		host[colon - addr] = '\0';
		ac = redisAsyncConnect(host, atoi(colon + 1));
	}
	if (!ac || ac->err) {
		if (ac)
			redisAsyncFree(ac);
		return NULL;
	}
	redisLibeventAttach(ac, base);
	return ac;
}

/* Connects as redis_try_open, letting the loop run while Redis's listen queue is full;
 * exits when it cannot connect within a few seconds. */
static redisAsyncContext *redis_open(const char *addr)
{
	for (int tries = 0; tries < 2000; tries++) {
		redisAsyncContext *ac = redis_try_open(addr);
		if (ac)
			return ac;
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(2000);
	}
	fprintf(stderr, "qbench-raw: cannot connect to %s: %s\n", addr, strerror(errno));
	exit(1);
}

/* ---- fcall: a Function at a fixed rate, latency from each call's scheduled time ---------- */

static redisAsyncContext *fcall_conns[RAW_MAX_CONNS];
static int fcall_nconns, fcall_argc;
static const char *fcall_argv[RAW_MAX_ARGS];
static double fcall_rate;
static uint64_t fcall_start, fcall_end, fcall_sent, fcall_pending;

/* Counts one answer against its scheduled time. */
static void fcall_on_reply(redisAsyncContext *ac, void *r, void *priv)
{
	(void)ac;
	redisReply *reply = r;
	uint64_t due = (uint64_t)(uintptr_t)priv;
	if (!reply || reply->type == REDIS_REPLY_ERROR)
		errors++;
	else
		sample_add((now_ns() - due) / 1000);
	if (--fcall_pending == 0 && now_ns() >= fcall_end)
		event_base_loopbreak(base);
}

/* Sends every call whose time has come, round-robin over the connections. */
static void fcall_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	uint64_t now = now_ns();
	for (;; fcall_sent++) {
		/* The call's slot, as qbench's fixed rate: sent once its time has come. */
		uint64_t due = fcall_start + (uint64_t)((double)fcall_sent * 1e9 / fcall_rate);
		if (due > now || due >= fcall_end)
			break;
		redisAsyncContext *ac = fcall_conns[fcall_sent % fcall_nconns];
		if (redisAsyncCommandArgv(ac, fcall_on_reply, (void *)(uintptr_t)due, fcall_argc, fcall_argv, NULL) == REDIS_OK)
			fcall_pending++;
		else
			errors++;
	}
	if (now >= fcall_end && fcall_pending == 0)
		event_base_loopbreak(base);
}

/* ---- publish: one publisher, many subscribers, latency from PUBLISH to each delivery ------ */

static int pub_subscribed, pub_nsubs, pub_rounds, pub_interval_ms, pub_round;
static redisAsyncContext *pub_ctx;
static char pub_channel[64];
static struct event *pub_timer;

/* Takes subscription confirmations and messages (whose text is the send time). */
static void pub_on_message(redisAsyncContext *ac, void *r, void *priv)
{
	(void)ac, (void)priv;
	redisReply *reply = r;
	if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
		return;
	if (strcmp(reply->element[0]->str, "subscribe") == 0)
		pub_subscribed++;
	else if (strcmp(reply->element[0]->str, "message") == 0)
		sample_add((now_ns() - strtoull(reply->element[2]->str, NULL, 10)) / 1000);
}

/* Publishes the next round's message once every subscriber is in, then ends the run. */
static void pub_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	struct timeval tv = {0, pub_interval_ms * 1000};
	if (pub_subscribed < pub_nsubs) {
		evtimer_add(pub_timer, &tv);
		return;
	}
	if (pub_round == pub_rounds) {
		event_base_loopbreak(base);
		return;
	}
	pub_round++;
	char msg[32];
	snprintf(msg, sizeof msg, "%llu", (unsigned long long)now_ns());
	redisAsyncCommand(pub_ctx, NULL, NULL, "PUBLISH %s %s", pub_channel, msg);
	if (pub_round == pub_rounds)
		tv = (struct timeval){1, 0}; /* let the last round arrive */
	evtimer_add(pub_timer, &tv);
}

/* ---- request: one NDJSON line to qserver, again and again, one at a time ------------------ */

/* The median of n microsecond figures (sorted in place), in milliseconds. */
static double median_ms(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_u64);
	return n ? v[n / 2] / 1000.0 : 0;
}

/* Sends line count times on one connection and times each answer; -1 on failure. Writes
 * into `extra` (when count > 0) the median time to the answer's first byte (read alone, so it
 * is the first byte's time and not a first read's, which may hold the whole answer) and from
 * it to the last (the reading of a long answer), and the last answer's bytes. */
static int request_repeat(const char *server, const char *line, int count, char *extra, size_t extra_len)
{
	char host[64];
	const char *colon = strrchr(server, ':');
	extra[0] = '\0';
	if (!colon || (size_t)(colon - server) >= sizeof host)
		return -1;
	memcpy(host, server, colon - server);
	host[colon - server] = '\0';
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return -1;
	size_t cap = 1 << 24, have = 0;
	char *buf = malloc(cap);
	size_t slots = count > 0 ? (size_t)count : 1;
	uint64_t *first = calloc(slots, sizeof *first), *reading = calloc(slots, sizeof *reading);
	if (!buf || !first || !reading)
		return -1;
	for (int i = 0; i < count; i++) {
		uint64_t t0 = now_ns(), t1 = 0;
		if (write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0)
			return -1;
		have = 0;
		for (;;) {
			ssize_t n = read(fd, buf + have, have == 0 ? 1 : cap - have);
			if (n <= 0)
				return -1;
			if (have == 0)
				t1 = now_ns();
			have += (size_t)n;
			if (buf[have - 1] == '\n' || have == cap)
				break;
		}
		uint64_t t2 = now_ns();
		sample_add((t2 - t0) / 1000);
		first[i] = (t1 - t0) / 1000;
		reading[i] = (t2 - t1) / 1000;
		if (!memmem(buf, have, "\"ok\":true", 9))
			errors++;
	}
	if (count > 0)
		snprintf(extra, extra_len, ",\"first_byte_p50_ms\":%.3f,\"read_p50_ms\":%.3f,\"bytes\":%zu",
			 median_ms(first, (size_t)count), median_ms(reading, (size_t)count), have);
	free(first);
	free(reading);
	free(buf);
	close(fd);
	return 0;
}

/* Prints the usage text. */
static void usage(void)
{
	fprintf(stderr,
		"usage: qbench-raw fcall REDIS RATE SECONDS CONNS FUNCTION-ARGS...\n"
		"       qbench-raw publish REDIS SUBSCRIBERS ROUNDS INTERVAL-MS\n"
		"       qbench-raw request HOST:PORT COUNT LINE\n"
		"REDIS is unix:/path or IP:port. fcall sends FUNCTION-ARGS (FCALL name numkeys ...) at\n"
		"RATE per second over CONNS connections for SECONDS; publish times PUBLISH to\n"
		"SUBSCRIBERS subscribers; request times LINE sent COUNT times to qserver (and the\n"
		"medians to the answer's first byte and from it to the last, and the answer's bytes).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	/* A precise (timerfd) clock, as qbench's: epoll's millisecond timeouts let a 1 ms tick
	 * slip by milliseconds, which would count against Redis. */
	struct event_config *cfg = event_config_new();
	if (cfg)
		event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = cfg ? event_base_new_with_config(cfg) : NULL;
	if (cfg)
		event_config_free(cfg);
	if (!base) {
		fprintf(stderr, "qbench-raw: out of memory\n");
		return 1;
	}
	if (strcmp(argv[1], "fcall") == 0 && argc >= 7 && argc - 6 <= RAW_MAX_ARGS) {
		fcall_rate = atof(argv[3]);
		double seconds = atof(argv[4]);
		fcall_nconns = atoi(argv[5]);
		if (fcall_rate <= 0 || seconds <= 0 || fcall_nconns < 1 || fcall_nconns > RAW_MAX_CONNS) {
			usage();
			return 2;
		}
		for (int i = 0; i < fcall_nconns; i++)
			fcall_conns[i] = redis_open(argv[2]);
		fcall_argc = argc - 6;
		for (int i = 0; i < fcall_argc; i++)
			fcall_argv[i] = argv[6 + i];
		fcall_start = now_ns();
		fcall_end = fcall_start + (uint64_t)(seconds * 1e9);
		struct event *tick = event_new(base, -1, EV_PERSIST, fcall_tick, NULL);
		struct timeval ms = {0, 1000};
		event_add(tick, &ms);
		event_base_dispatch(base);
		event_free(tick);
		report("fcall", "");
	} else if (strcmp(argv[1], "publish") == 0 && argc == 6) {
		pub_nsubs = atoi(argv[3]);
		pub_rounds = atoi(argv[4]);
		pub_interval_ms = atoi(argv[5]);
		if (pub_nsubs < 1 || pub_nsubs > RAW_MAX_CONNS || pub_rounds < 1 || pub_interval_ms < 1) {
			usage();
			return 2;
		}
		snprintf(pub_channel, sizeof pub_channel, "qbench-raw:%d", (int)getpid());
		for (int i = 0; i < pub_nsubs; i++)
			redisAsyncCommand(redis_open(argv[2]), pub_on_message, NULL, "SUBSCRIBE %s", pub_channel);
		pub_ctx = redis_open(argv[2]);
		pub_timer = evtimer_new(base, pub_tick, NULL);
		struct timeval tv = {0, 100 * 1000};
		evtimer_add(pub_timer, &tv);
		event_base_dispatch(base);
		event_free(pub_timer);
		report("publish", "");
	} else if (strcmp(argv[1], "request") == 0 && argc == 5) {
		char extra[160];
		if (request_repeat(argv[2], argv[4], atoi(argv[3]), extra, sizeof extra) < 0) {
			fprintf(stderr, "qbench-raw: request to %s failed: %s\n", argv[2], strerror(errno));
			return 1;
		}
		report("request", extra);
	} else {
		usage();
		return 2;
	}
	/* The process ends here: the Redis contexts go with it. */
	return 0;
}
