/* qbench: load generator for qserver. Options, the event loop, the 1 ms tick and the run's
 * end. Every run stops by itself: by --duration, --requests or --rounds, whichever first. */
#include "qbench.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Monotonic time in nanoseconds. */
uint64_t qb_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Ends the run: the loop stops and main prints the report. */
void qb_finish(struct qb_bench *b, int code)
{
	if (b->phase == PH_DONE)
		return;
	b->phase = PH_DONE;
	b->exit_code = code;
	event_base_loopexit(b->base, NULL);
}

/* Prints the usage text. */
static void usage(FILE *out)
{
	fprintf(out,
		"usage: qbench --scenario NAME [options]\n"
		"\n"
		"Loads a qserver on this machine and reports ops/s, latency (p50, p90, p99, p99.9, max)\n"
		"and errors. Scenarios:\n"
		"  take    kiosks take tickets (hello as kiosk; token from QHALL_TOKEN, default kiosk123)\n"
		"  clerk   clerks cycle call_next, finish (users PREFIX001.. on windows 1..; password\n"
		"          from QHALL_PASSWORD, default clerk123)\n"
		"  mixed   a hall day: per 12 requests 2 take, 2 call_next, 2 finish, 4 ticket, 1 snapshot,\n"
		"          1 services\n"
		"  fanout  --conns displays subscribe; a clerk calls --rounds tickets; reports the time from\n"
		"          sending call_next to the called event at each display\n"
		"  idle    hold --conns subscribed displays for --duration; reports qserver's RSS\n"
		"  login   --conns public connections ping (at --rate) while --logins connections send a\n"
		"          wrong manager hello at once, round after round (--interval apart); reports the\n"
		"          pings' latency (the other clients') and the hellos'\n"
		"\n"
		"  --server HOST:PORT   qserver, loopback IPv4 only (default 127.0.0.1:7420)\n"
		"  --conns N            kiosk connections (mixed: also N public ones; fanout, idle:\n"
		"                       displays) (default 4)\n"
		"  --depth K            closed loop: requests in flight per connection (default 1)\n"
		"  --rate R             fixed rate: R requests/s over all connections, latency counted from\n"
		"                       each request's scheduled time (default: closed loop)\n"
		"  --duration S         measured seconds (default 10)\n"
		"  --warmup S           seconds of load before measuring (default 0)\n"
		"  --requests N         stop after N measured requests\n"
		"  --timeout MS         a request not answered in MS counts as a timeout (default 5000)\n"
		"  --clerks N           clerk connections (clerk default 8, mixed default 4)\n"
		"  --clerk-prefix P     clerk user names: P and their window's number (default b)\n"
		"  --clerk-width W      digits of that number (default 3: b001 at window 1)\n"
		"  --first-window N     window of the first clerk; the others take the next ones (default 1)\n"
		"  --displays N         mixed: subscribed displays that count events (default 2)\n"
		"  --prefill N          tickets taken before measuring (fanout: at least --rounds)\n"
		"  --rounds N           fanout: calls (default 100)\n"
		"  --interval MS        fanout: pause between calls (default 10)\n"
		"  --topics LIST        displays' topics, e.g. called,queue (default all)\n"
		"  --services LIST      services takes spread over (default A)\n"
		"  --qserver-pid PID    idle: qserver's process, whose RSS is read\n"
		"  --logins N           login: wrong hellos at once (default 50)\n"
		"  --login-user ID      login: the manager they name (default m01)\n"
		"  --label TEXT         a name echoed in the report\n"
		"  --json               print the report as one JSON object\n");
}

/* Parses a number within [min, max] or exits with a message. */
static double parse_number(const char *name, const char *value, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(value, &end);
	if (errno || *end || end == value || v < min || v > max) {
		fprintf(stderr, "qbench: %s must be a number from %g to %g\n", name, min, max);
		exit(2);
	}
	return v;
}

/* Copies a comma-separated list of service ids into the options. */
static void parse_services(struct qb_options *o, const char *list)
{
	o->nservices = 0;
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == 0 || n >= sizeof o->services[0] || o->nservices == QB_MAX_SERVICES) {
			fprintf(stderr, "qbench: --services takes up to %d ids of up to %zu characters\n", QB_MAX_SERVICES,
				sizeof o->services[0] - 1);
			exit(2);
		}
		for (size_t i = 0; i < n; i++)
			if (!(p[i] == '_' || p[i] == '-' || (p[i] >= '0' && p[i] <= '9') || ((p[i] | 32) >= 'a' && (p[i] | 32) <= 'z'))) {
				fprintf(stderr, "qbench: --services: ids are letters, digits, _ and -\n");
				exit(2);
			}
		memcpy(o->services[o->nservices], p, n);
		o->services[o->nservices++][n] = '\0';
		p += n + (p[n] == ',');
	}
	if (o->nservices == 0) {
		fprintf(stderr, "qbench: --services needs at least one id\n");
		exit(2);
	}
}

/* Copies a short option value or exits when it does not fit or could break the JSON line. */
static void copy_word(const char *name, char *dst, size_t cap, const char *value)
{
	if (strlen(value) >= cap || strpbrk(value, "\"\\")) {
		fprintf(stderr, "qbench: %s is too long or holds a quote or backslash\n", name);
		exit(2);
	}
	memcpy(dst, value, strlen(value) + 1);
}

/* Fills the options from the command line and the environment. */
static void parse_options(int argc, char **argv, struct qb_options *o)
{
	static const struct option longopts[] = {
		{"scenario", required_argument, NULL, 's'},    {"server", required_argument, NULL, 'S'},
		{"conns", required_argument, NULL, 'c'},       {"depth", required_argument, NULL, 'k'},
		{"rate", required_argument, NULL, 'r'},	       {"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'w'},      {"requests", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 't'},     {"clerks", required_argument, NULL, 'C'},
		{"clerk-prefix", required_argument, NULL, 'P'}, {"clerk-width", required_argument, NULL, 'W'},
		{"first-window", required_argument, NULL, 'F'}, {"displays", required_argument, NULL, 'D'},
		{"prefill", required_argument, NULL, 'p'},     {"rounds", required_argument, NULL, 'R'},
		{"interval", required_argument, NULL, 'i'},    {"topics", required_argument, NULL, 'T'},
		{"services", required_argument, NULL, 'v'},    {"qserver-pid", required_argument, NULL, 'q'},
		{"label", required_argument, NULL, 'l'},       {"json", no_argument, NULL, 'j'},
		{"logins", required_argument, NULL, 'L'},      {"login-user", required_argument, NULL, 'U'},
		{"help", no_argument, NULL, 'h'},	       {NULL, 0, NULL, 0}};
	*o = (struct qb_options){.scenario = SC_TAKE, .mode = MODE_CLOSED, .server = "127.0.0.1:7420", .conns = 4,
				 .depth = 1, .duration_s = 10, .timeout_ms = 5000, .clerks = -1, .clerk_prefix = "b",
				 .clerk_width = 3, .first_window = 1, .displays = 2, .prefill = -1, .rounds = 100,
				 .interval_ms = 10, .nservices = 1, .services = {"A"}, .logins = 50, .login_user = "m01"};
	int ch;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (strcmp(optarg, "take") == 0) o->scenario = SC_TAKE;
			else if (strcmp(optarg, "clerk") == 0) o->scenario = SC_CLERK;
			else if (strcmp(optarg, "mixed") == 0) o->scenario = SC_MIXED;
			else if (strcmp(optarg, "fanout") == 0) o->scenario = SC_FANOUT;
			else if (strcmp(optarg, "idle") == 0) o->scenario = SC_IDLE;
			else if (strcmp(optarg, "login") == 0) o->scenario = SC_LOGIN;
			else {
				fprintf(stderr, "qbench: --scenario must be take, clerk, mixed, fanout, idle or login\n");
				exit(2);
			}
			break;
		case 'S': copy_word("--server", o->server, sizeof o->server, optarg); break;
		case 'c': o->conns = (int)parse_number("--conns", optarg, 1, 100000); break;
		case 'k': o->depth = (int)parse_number("--depth", optarg, 1, 64); break;
		case 'r': o->rate = parse_number("--rate", optarg, 1, 1e7); o->mode = MODE_FIXED; break;
		case 'd': o->duration_s = parse_number("--duration", optarg, 0.1, 3600); break;
		case 'w': o->warmup_s = parse_number("--warmup", optarg, 0, 600); break;
		case 'n': o->requests = (long)parse_number("--requests", optarg, 1, 1e12); break;
		case 't': o->timeout_ms = (int)parse_number("--timeout", optarg, 1, 600000); break;
		case 'C': o->clerks = (int)parse_number("--clerks", optarg, 0, 1024); break;
		case 'P': copy_word("--clerk-prefix", o->clerk_prefix, sizeof o->clerk_prefix, optarg); break;
		case 'W': o->clerk_width = (int)parse_number("--clerk-width", optarg, 1, 6); break;
		case 'F': o->first_window = (int)parse_number("--first-window", optarg, 1, 9999); break;
		case 'D': o->displays = (int)parse_number("--displays", optarg, 0, 100000); break;
		case 'p': o->prefill = (long)parse_number("--prefill", optarg, 0, 1e8); break;
		case 'R': o->rounds = (int)parse_number("--rounds", optarg, 1, 1e6); break;
		case 'i': o->interval_ms = (int)parse_number("--interval", optarg, 0, 60000); break;
		case 'T': copy_word("--topics", o->topics, sizeof o->topics, optarg); break;
		case 'v': parse_services(o, optarg); break;
		case 'q': o->qserver_pid = (long)parse_number("--qserver-pid", optarg, 1, 1e9); break;
		case 'l': o->label = optarg; break;
		case 'L': o->logins = (int)parse_number("--logins", optarg, 1, 10000); break;
		case 'U': copy_word("--login-user", o->login_user, sizeof o->login_user, optarg); break;
		case 'j': o->json = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc) {
		usage(stderr);
		exit(2);
	}
	if (o->clerks < 0)
		o->clerks = o->scenario == SC_CLERK ? 8 : o->scenario == SC_MIXED ? 4 : 1;
	if ((o->scenario == SC_CLERK || o->scenario == SC_MIXED) && o->clerks == 0) {
		fprintf(stderr, "qbench: the %s scenario needs --clerks of at least 1\n", qb_scenario_name(o->scenario));
		exit(2);
	}
	if (o->prefill < 0)
		o->prefill = o->scenario == SC_MIXED ? 100 : 0;
	if (o->scenario == SC_FANOUT && o->prefill < o->rounds)
		o->prefill = o->rounds;
	if (o->scenario == SC_TAKE || o->scenario == SC_IDLE || o->scenario == SC_LOGIN)
		o->prefill = 0;
	const char *token = getenv("QHALL_TOKEN"), *password = getenv("QHALL_PASSWORD");
	o->token = token && *token ? token : "kiosk123";
	o->password = password && *password ? password : "clerk123";
	if (strpbrk(o->token, "\"\\") || strpbrk(o->password, "\"\\") || strlen(o->token) > 128 || strlen(o->password) > 128) {
		fprintf(stderr, "qbench: QHALL_TOKEN and QHALL_PASSWORD must be short and hold no quote or backslash\n");
		exit(2);
	}
}

/* Raises the descriptor limit to its hard maximum: the idle scenario holds 10,000 sockets. */
static void raise_fd_limit(int wanted)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	if ((long)rl.rlim_cur < (long)wanted + 32)
		fprintf(stderr, "qbench: the descriptor limit %ld is below the %d connections asked for\n", (long)rl.rlim_cur, wanted);
}

/* The 1 ms clock of the run. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct qb_bench *b = arg;
	qb_scenario_tick(b, qb_now_ns());
}

/* Ctrl-C: stop now and report what was measured. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what;
	qb_finish(arg, 130);
}

/* Sets up the connections, runs the loop until the run ends, prints the report, frees all. */
int main(int argc, char **argv)
{
	struct qb_bench *b = calloc(1, sizeof *b);
	if (!b) {
		fprintf(stderr, "qbench: out of memory\n");
		return 1;
	}
	parse_options(argc, argv, &b->opt);
	signal(SIGPIPE, SIG_IGN);
	int rc = 1;
	struct event *sigint = NULL;
	/* A precise (timerfd) clock: without it epoll's millisecond timeouts let the 1 ms tick
	 * slip to 4 ms here, which a fixed-rate run would count against the server. */
	struct event_config *cfg = event_config_new();
	if (cfg)
		event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	b->base = cfg ? event_base_new_with_config(cfg) : NULL;
	if (cfg)
		event_config_free(cfg);
	if (!b->base || qb_conns_create(b) < 0) {
		fprintf(stderr, "qbench: out of memory\n");
		goto out;
	}
	for (int cls = 0; cls < CLS_COUNT; cls++)
		if (qb_backlog_init(&b->backlog[cls], QB_BACKLOG_MAX) < 0) {
			fprintf(stderr, "qbench: out of memory\n");
			goto out;
		}
	raise_fd_limit(b->nconns);
	if (b->opt.scenario == SC_IDLE)
		b->rss_before_kb = qb_read_rss_kb(b->opt.qserver_pid, "VmRSS:");
	b->tick = event_new(b->base, -1, EV_PERSIST, on_tick, b);
	sigint = evsignal_new(b->base, SIGINT, on_signal, b);
	if (!b->tick || !sigint) {
		fprintf(stderr, "qbench: out of memory\n");
		goto out;
	}
	struct timeval one_ms = {0, 1000};
	event_add(b->tick, &one_ms);
	event_add(sigint, NULL);
	b->start_ns = qb_now_ns();
	b->phase = PH_SETUP;
	qb_conns_connect_more(b);
	if (b->phase != PH_DONE)
		event_base_dispatch(b->base);
	rc = b->exit_code;
	if (rc != 2)
		qb_report(b);
	fflush(stdout);
out:
	if (sigint)
		event_free(sigint);
	if (b->tick)
		event_free(b->tick);
	qb_conns_free(b);
	for (int cls = 0; cls < CLS_COUNT; cls++)
		qb_backlog_free(&b->backlog[cls]);
	if (b->base)
		event_base_free(b->base);
	free(b);
	libevent_global_shutdown();
	return rc;
}
