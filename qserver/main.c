/* qserver: the qhall ticket server. Reads the hall config, starts (or finds) Redis, and
 * serves the NDJSON protocol until SIGTERM or SIGINT. */
#include "qserver.h"
#include "log.h"
#include "metrics.h"
#include "reload.h"
#include "password.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>



static struct event *tick_event;
static struct event *drain_event;
static int ticks;
static const char *config_path; /* --config, read again on SIGHUP */

/* Prints the usage text. */
static void usage(FILE *out)
{
	fprintf(out,
		"usage: qserver --config FILE|DIR [options]\n"
		"       qserver --hash-password\n"
		"\n"
		"Serves the qhall protocol (NDJSON over TCP) for the hall described by FILE, or for\n"
		"every site of the region in DIR (region.json and a hall file per site). SIGHUP\n"
		"reads them again without dropping connections (docs/operations.md).\n"
		"\n"
		"  --config FILE|DIR    hall config, or a region folder (see docs/config.md)\n"
		"  --redis ADDR         use this Redis (unix:/path, IP:PORT, or\n"
		"                       sentinel://IP:PORT[,IP:PORT...]/NAME for the primary the\n"
		"                       Sentinels name); without it qserver starts its own\n"
		"                       redis-server with AOF under --state\n"
		"  --state DIR          data folder of the embedded Redis (default state/<first site id>)\n"
		"  --listen HOST:PORT   where clients connect (default 127.0.0.1:7420)\n"
		"  --unix PATH          also listen on a Unix socket\n"
		"  --max-conns N        connections at once (default 10000)\n"
		"  --max-per-addr N     connections at once from one peer address, loopback included\n"
		"                       (default 256)\n"
		"  --reserved-conns N   slots kept for kiosks, clerks and managers: anonymous readers\n"
		"                       may hold at most --max-conns less N (default a tenth of\n"
		"                       --max-conns)\n"
		"  --max-output BYTES   output a client may leave unread before it is dropped\n"
		"                       (default 4194304)\n"
		"  --hello-timeout S    close connections that neither say hello nor subscribe within S\n"
		"                       seconds, and those on a reserved slot that do not sign in\n"
		"                       (default 10)\n"
		"  --redis-timeout MS   Redis connect and command timeout (default 1000)\n"
		"  --durable N          answer a client's write ok only once N Redis replicas have it\n"
		"                       (WAIT N, a quarter of --redis-timeout); otherwise unavailable\n"
		"                       with written:true (see docs/operations.md, default 0: off)\n"
		"  --rate N             requests per second per connection (default 2000)\n"
		"  --login-failures N   failed hellos per user before a lock-out (default 5; an\n"
		"                       address may fail 4 times as often)\n"
		"  --login-threads N    threads checking passwords and tokens, 1 to 4 (default 2)\n"
		"  --lease S            a clerk's hold on a window lapses S seconds after its\n"
		"                       connection is lost unnoticed; renewed every S/3 (default 30)\n"
		"  --log-level LEVEL    debug, info, warn or error (default info)\n"
		"  --always-open        take tickets at any hour, ignoring the config's hours (demos,\n"
		"                       training, special days)\n"
		"  --test-clock         allow the clock op, for tests and simulations only\n"
		"  --clock-start T      with --test-clock: start the clock at epoch second T\n"
		"  --http HOST:PORT     also serve the HTTP API, live events and pages (docs/web.md)\n"
		"  --http-per-addr N    HTTP connections at once from one address (default 64)\n"
		"  --web DIR            the pages served over HTTP (default web)\n"
		"  --sse-per-addr N     event streams at once from one address (default 32)\n"
		"  --sse-max N          event streams at once (default 4096)\n"
		"  --web-takes-per-addr N  remote tickets the public may take an hour from one\n"
		"                       address (default 10)\n"
		"  --web-takes-per-ref N   remote tickets an hour for one phone (ref) (default 3)\n"
		"  --trust-proxy ADDR   believe X-Forwarded-For from this proxy address only\n"
		"  --secure-cookies     mark session cookies Secure (behind a TLS proxy)\n"
		"  --metrics-allow ADDR[,ADDR...]\n"
		"                       addresses besides loopback that may read GET /metrics on the\n"
		"                       HTTP port (docs/operations.md, Metrics)\n"
		"  --hash-password      read a password without echo and print its crypt(3) hash\n"
		"  --help, --version\n");
}

/* Reads a password twice without echo and prints its hash for the config file. */
static int hash_password(void)
{
	char pw[256], again[256], hash[512];
	if (password_read_noecho("Password: ", pw, sizeof pw) < 0 ||
	    password_read_noecho("Again: ", again, sizeof again) < 0) {
		fprintf(stderr, "qserver: no password read\n");
		return 1;
	}
	if (strcmp(pw, again) != 0) {
		fprintf(stderr, "qserver: the two passwords differ\n");
		return 1;
	}
	if (pw[0] == '\0' || password_hash(pw, hash, sizeof hash) < 0) {
		fprintf(stderr, "qserver: cannot hash an empty password\n");
		return 1;
	}
	printf("%s\n", hash);
	memset(pw, 0, sizeof pw);
	memset(again, 0, sizeof again);
	return 0;
}

/* Fills the instance name used in window leases with random hex. */
static void make_instance_name(void)
{
	unsigned char rnd[6] = {0};
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, rnd, sizeof rnd);
		(void)n;
		close(fd);
	}
	snprintf(server.instance, sizeof server.instance, "%02x%02x%02x%02x%02x%02x-%d", rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5], (int)getpid() % 100000);
}

/* Logs an AOF rewrite that did not start. */
static void on_rewrite(struct redisReply *reply, void *arg)
{
	(void)arg;
	if (!reply || reply->type == REDIS_REPLY_ERROR)
		log_warn("the AOF rewrite did not start: %s", reply ? reply->str : "no answer");
}

/* Asks the embedded Redis to rewrite its AOF, saying why in the log. */
static int rewrite_aof(const char *why)
{
	const char *rewrite[] = {"BGREWRITEAOF"};
	if (!redis_child_running() || store_command(on_rewrite, NULL, 1, rewrite) < 0)
		return -1;
	log_info("rewriting the AOF: %s", why);
	return 0;
}

/* Asks for a rewrite when one is due although the day did not change under this qserver
 * (the last was on an earlier day, or much was appended since); at most once a minute. */
static void rewrite_aof_if_due(void)
{
	static long long next_check_ms;
	char why[96];
	if (!store_ready() || clock_real_ms() < next_check_ms)
		return;
	/* the check reads the AOF manifest and stats its files: not every second */
	next_check_ms = clock_real_ms() + 60 * 1000;
	if (redis_child_rewrite_due(why, sizeof why))
		rewrite_aof(why);
}

/* Once a second: run the day change, compact the embedded Redis's AOF, renew clerks' leases. */
static void tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	if (daychange_tick())
		rewrite_aof("the day changed"); /* the hall is closed: the best time for the fork */
	else
		rewrite_aof_if_due();
	if (++ticks % (server.opt.lease_s / 3 > 0 ? server.opt.lease_s / 3 : 1) == 0)
		session_renew_leases();
}

/* Ends the loop once no connection has a request in flight or an answer not yet written to
 * its socket (closing a connection drops what its buffer holds), or the grace time ran out. */
static void drain(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	int *waited_ms = arg;
	*waited_ms += 50;
	struct conn *c;
	int busy = 0;
	TAILQ_FOREACH(c, &conns, entry)
		busy |= c->nrequests > 0 || (c->bev && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0);
	if (!busy || *waited_ms >= 3000)
		event_base_loopexit(server.base, NULL);
}

/* Starts a clean shutdown: no new connections or requests, replies in flight still go out. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what, (void)arg;
	if (server.shutting_down) {
		event_base_loopexit(server.base, NULL);
		return;
	}
	log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	server.shutting_down = 1;
	listener_stop();
	struct conn *c;
	TAILQ_FOREACH(c, &conns, entry)
		if (c->bev)
			bufferevent_disable(c->bev, EV_READ);
	static int waited_ms;
	drain_event = event_new(server.base, -1, EV_PERSIST, drain, &waited_ms);
	struct timeval tv = {0, 50 * 1000};
	event_add(drain_event, &tv);
}

/* Reloads the hall configs (reload.c); connections stay open. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what, (void)arg;
	reload_start(config_path);
}

/* Raises the descriptor limit to its hard maximum and caps --max-conns under it. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	long usable = (long)rl.rlim_cur - 64;
	if (usable < server.opt.max_conns) {
		log_warn("descriptor limit %ld allows only %ld connections", (long)rl.rlim_cur, usable);
		server.opt.max_conns = usable > 1 ? (int)usable : 1;
	}
}

/* Settles --reserved-conns against --max-conns (which the descriptor limit may have lowered);
 * -1 after a message when they cannot fit together. */
static int reserve_slots(void)
{
	if (server.opt.reserved_conns < 0) {
		server.opt.reserved_conns = server.opt.max_conns / 10;
		return 0;
	}
	if (server.opt.reserved_conns >= server.opt.max_conns) {
		fprintf(stderr, "qserver: --reserved-conns %d must be below --max-conns %d, so that a public "
			"display can still connect\n", server.opt.reserved_conns, server.opt.max_conns);
		return -1;
	}
	return 0;
}

/* Parses a positive integer option or exits with a message. */
static long parse_positive(const char *name, const char *value, long max)
{
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (errno || *end || v <= 0 || v > max) {
		fprintf(stderr, "qserver: %s must be a whole number from 1 to %ld\n", name, max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},     {"redis", required_argument, NULL, 'r'},
		{"state", required_argument, NULL, 's'},      {"listen", required_argument, NULL, 'l'},
		{"unix", required_argument, NULL, 'u'},	      {"max-conns", required_argument, NULL, 'm'},
		{"max-per-addr", required_argument, NULL, 'a'}, {"reserved-conns", required_argument, NULL, 'v'},
		{"max-output", required_argument, NULL, 'O'},
		{"hello-timeout", required_argument, NULL, 'H'}, {"redis-timeout", required_argument, NULL, 'T'},
		{"durable", required_argument, NULL, 'D'},	      {"rate", required_argument, NULL, 'R'},	      {"login-failures", required_argument, NULL, 'F'},
		{"login-threads", required_argument, NULL, 'W'}, {"lease", required_argument, NULL, 'E'},	      {"log-level", required_argument, NULL, 'L'},
		{"always-open", no_argument, NULL, 'A'},      {"test-clock", no_argument, NULL, 'C'},	      {"clock-start", required_argument, NULL, 'S'},	      {"hash-password", no_argument, NULL, 'P'},
		{"http", required_argument, NULL, 'X'},	      {"http-per-addr", required_argument, NULL, 'Y'},
		{"web", required_argument, NULL, 'B'},	      {"sse-per-addr", required_argument, NULL, 'G'}, {"sse-max", required_argument, NULL, 'J'},
		{"web-takes-per-addr", required_argument, NULL, 'n'}, {"web-takes-per-ref", required_argument, NULL, 'N'},
		{"trust-proxy", required_argument, NULL, 'Z'},  {"secure-cookies", no_argument, NULL, 'K'},
		{"metrics-allow", required_argument, NULL, 'M'},
		{"help", no_argument, NULL, 'h'},	      {"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}};
	const char *redis_addr = NULL, *state_dir = NULL;
	long clock_start = 0;
	server.opt = (struct server_options){
		.listen = "127.0.0.1:7420",
		.max_conns = 10000,
		.max_per_addr = 256,
		.reserved_conns = -1, /* a tenth of max_conns, once that is known */
		.hello_timeout_ms = 10000,
		.max_output = 4 * 1024 * 1024,
		.max_pending = 64,
		.rate_per_sec = 2000,
		.redis_timeout_ms = 1000,
		.lease_s = 30,
		.login_failures = 5,
		.login_threads = 2,
		.http_per_addr = 64,
		.http_max_conns = 8192,
		.sse_per_addr = 32,
		.sse_max = 4096,
		.web_dir = "web",
		.web_takes_per_addr = 10,
		.web_takes_per_ref = 3,
	};
	log_set_name("qserver");
	int ch;
	while ((ch = getopt_long(argc, argv, "c:r:l:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': config_path = optarg; break;
		case 'r': redis_addr = optarg; break;
		case 's': state_dir = optarg; break;
		case 'l': server.opt.listen = optarg; break;
		case 'u': server.opt.unix_path = optarg; break;
		case 'm': server.opt.max_conns = (int)parse_positive("--max-conns", optarg, 1000000); break;
		case 'a': server.opt.max_per_addr = (int)parse_positive("--max-per-addr", optarg, 1000000); break;
		case 'v': server.opt.reserved_conns = strcmp(optarg, "0") == 0 ? 0 : (int)parse_positive("--reserved-conns", optarg, 1000000); break;
		case 'O': server.opt.max_output = (size_t)parse_positive("--max-output", optarg, 1L << 30); break;
		case 'H': server.opt.hello_timeout_ms = (int)parse_positive("--hello-timeout", optarg, 3600) * 1000; break;
		case 'T': server.opt.redis_timeout_ms = (int)parse_positive("--redis-timeout", optarg, 60000); break;
		case 'D': server.opt.durable = (int)parse_positive("--durable", optarg, 64); break;
		case 'R': server.opt.rate_per_sec = (int)parse_positive("--rate", optarg, 1000000); break;
		case 'F': server.opt.login_failures = (int)parse_positive("--login-failures", optarg, 1000000); break;
		case 'E': server.opt.lease_s = (int)parse_positive("--lease", optarg, 3600); break;
		case 'W': server.opt.login_threads = (int)parse_positive("--login-threads", optarg, AUTHPOOL_MAX_THREADS); break;
		case 'L': {
			int level = log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "qserver: --log-level must be debug, info, warn or error\n");
				return 2;
			}
			log_set_level(level);
			break;
		}
		case 'X': server.opt.http = optarg; break;
		case 'Y': server.opt.http_per_addr = (int)parse_positive("--http-per-addr", optarg, 1000000); break;
		case 'B': server.opt.web_dir = optarg; break;
		case 'G': server.opt.sse_per_addr = (int)parse_positive("--sse-per-addr", optarg, 1000000); break;
		case 'J': server.opt.sse_max = (int)parse_positive("--sse-max", optarg, 1000000); break;
		case 'n': server.opt.web_takes_per_addr = (int)parse_positive("--web-takes-per-addr", optarg, 1000000); break;
		case 'N': server.opt.web_takes_per_ref = (int)parse_positive("--web-takes-per-ref", optarg, 1000000); break;
		case 'Z': server.opt.trust_proxy = optarg; break;
		case 'K': server.opt.secure_cookies = 1; break;
		case 'M':
			if (metrics_allow_parse(optarg) < 0)
				return 2;
			break;
		case 'A': server.opt.always_open = 1; break;
		case 'C': server.opt.test_clock = 1; break;
		case 'S': clock_start = parse_positive("--clock-start", optarg, 4102444800L); break;
		case 'P': return hash_password();
		case 'h': usage(stdout); return 0;
		case 'V': printf("qserver %s (protocol %d)\n", QSERVER_VERSION, PROTOCOL_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!config_path || optind < argc) {
		usage(stderr);
		return 2;
	}
	if (clock_start) {
		if (!server.opt.test_clock) {
			fprintf(stderr, "qserver: --clock-start needs --test-clock\n");
			return 2;
		}
		/* Set before Redis is set up, so even the first day change sees the test's day. */
		clock_set_offset((long long)clock_start - (long long)time(NULL));
	}
	char err[512];
	if (sites_load(config_path, err, sizeof err) < 0) {
		fprintf(stderr, "qserver: %s\n", err);
		sites_free();
		return 1;
	}
	make_instance_name();
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if (reserve_slots() < 0) {
		sites_free();
		return 2;
	}
	if (server.opt.test_clock)
		log_warn("--test-clock: any client may move this server's clock; never use it in a hall");

	int rc = 1;
	char embedded_addr[256];
	char default_state[256];
	server.base = event_base_new();
	if (!server.base) {
		log_error("cannot create the event loop");
		goto out_config;
	}
	if (!redis_addr) {
		if (!state_dir) {
			snprintf(default_state, sizeof default_state, "state/%s", sites_at(0)->cfg->site.id);
			state_dir = default_state;
		}
		if (redis_child_start(state_dir, embedded_addr, sizeof embedded_addr) < 0)
			goto out_base;
		redis_addr = embedded_addr;
	}
	struct event *sigterm = evsignal_new(server.base, SIGTERM, on_signal, NULL);
	struct event *sigint = evsignal_new(server.base, SIGINT, on_signal, NULL);
	struct event *sighup = evsignal_new(server.base, SIGHUP, on_hup, NULL);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_add(sighup, NULL);
	/* qh_setup runs today's day change; the tick runs the next ones. */
	for (size_t i = 0; i < sites_count(); i++)
		daychange_init(sites_at(i));
	tick_event = event_new(server.base, -1, EV_PERSIST, tick, NULL);
	struct timeval one_second = {1, 0};
	event_add(tick_event, &one_second);

	if (login_start() == 0 && store_start(redis_addr) == 0 && listener_start() == 0 &&
	    http_start() == 0 && notify_start() == 0) {
		if (sites_count() == 1)
			log_info("qserver %s serving site %s (%zu services, %zu windows)", QSERVER_VERSION,
				 sites_at(0)->cfg->site.id, sites_at(0)->cfg->nservices, sites_at(0)->cfg->nwindows);
		else
			log_info("qserver %s serving %zu sites", QSERVER_VERSION, sites_count());
		event_base_dispatch(server.base);
		rc = 0;
	}
	server.shutting_down = 2;
	listener_stop();
	http_stop();
	conn_close_all();
	ticket_stop();
	appointments_stop();
	login_stop(); /* after the connections: checks under way end with nobody to answer */
	store_stop();
	/* Let the Redis contexts and callbacks freed above finish inside the loop. */
	event_base_loop(server.base, EVLOOP_NONBLOCK);
	notify_stop(); /* after the Redis callbacks above, which may still name its sites */
	events_stop();
	if (drain_event)
		event_free(drain_event);
	event_free(tick_event);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	redis_child_stop();
out_base:
	event_base_free(server.base);
	libevent_global_shutdown();
out_config:
	sites_free();
	log_info("stopped");
	return rc;
}
