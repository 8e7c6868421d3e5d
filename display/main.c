/* display: the wall screen of a service hall. Options, then one libevent loop that carries
 * everything: the qserver connection (shared client library: hello as public, subscribe,
 * snapshot, reconnect), the keyboard (q quits), SIGWINCH, SIGTERM/SIGINT/SIGHUP (the terminal
 * is always restored), the clock, the flash of a new call, the call queue's turns, the stats
 * refresh and the voice's child processes. */
#include "display.h"

#include "client.h"
#include "log.h"

#include <curses.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define DISPLAY_VERSION "0.1.0"
#define DEFAULT_RECENT 6
#define DEFAULT_MIN_SHOW_MS 4000
#define DEFAULT_FLASH_MS 4000
#define FLASH_PERIOD_MS 500
#define STATS_PERIOD_S 60
#define MISSED_CALL_WINDOW_S 600 /* calls missed while offline newer than this are announced */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 3000 /* a wall screen should come back soon after the server does */
#define STDIN_EOF_WAKEUPS 50
#define HISTORY_MAX_REQUESTS 32 /* tickets asked for a zone's history at start */

struct options {
	const char *server;
	const char *site;	/* the site shown, when qserver serves a region */
	int recent;
	int min_show_ms;
	int flash_ms;
	bool voice;
	const char *voice_wav_dir;
	int voice_rate;	    /* words a minute */
	bool voice_english; /* English after Mandarin */
	const char *espeak;
	const char *log_file;
	int log_level;
};

struct app {
	struct options opts;
	struct event_base *base;
	struct client *client;
	struct voice *voice;
	char voice_note[320];
	struct zone zone;
	struct state state;
	struct callq queue;
	bool curses_on;
	int saved_stderr; /* the terminal's stderr while curses owns the screen; -1 if untouched */
	bool flash_on;
	long long flash_until_ms;
	int idle_stdin_wakeups;
	SCREEN *screen;
	struct event *sig_events[3];
	struct event *winch_event;
	struct event *stdin_event;
	struct event *clock_timer;
	struct event *flash_timer;
	struct event *queue_timer;
	struct event *stats_timer;
	bool history_current; /* the big line shows a call from the zone's history, not an event */
};

/* Milliseconds of the monotonic clock (the call queue's time). */
static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Converts milliseconds to a timeval. */
static struct timeval tv_ms(long long ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	return tv;
}

/* Prints the usage text. */
static void usage(FILE *out)
{
	fprintf(out,
		"usage: display [--server HOST:PORT] [options]\n"
		"\n"
		"The wall display of a service hall: the newest call in big digits, the last calls,\n"
		"each service's waiting people and estimated wait, today's mean wait against the\n"
		"target. Press q to quit.\n"
		"\n"
		"  --server HOST:PORT   qserver to show (default %s; unix:/path too)\n"
		"                       several, as A,B: the next is used when one fails\n"
		"  --site ID            the site to show, when qserver serves a region\n"
		"  --recent N           calls in the recent list (default %d, at most %d)\n"
		"  --min-show SECONDS   each call stays on the big line at least this long (default %d);\n"
		"                       faster calls wait their turn, in order\n"
		"  --flash SECONDS      how long a new call flashes (default %d; 0: no flash)\n"
		"  --windows LIST       only these windows, e.g. 1-6,8\n"
		"  --services LIST      only these services, e.g. A,B\n"
		"  --voice              speak each call with espeak-ng, Mandarin then English; when\n"
		"                       calls come faster than they are said, skip to the newest\n"
		"                       with a chime\n"
		"  --voice-wav DIR      with --voice: write DIR/call-NNNN-zh.wav and -en.wav instead\n"
		"  --voice-rate WPM     speaking speed in words a minute (default %d, 80 to 450)\n"
		"  --voice-lang LANGS   zh,en (default) or zh: Mandarin only, faster in a busy hall\n"
		"  --espeak PROGRAM     the speech program (default %s)\n"
		"  --log FILE           write the log there (default: nowhere while on a terminal)\n"
		"  --log-level LEVEL    debug, info, warn (default) or error\n"
		"  --help, --version\n",
		CLIENT_DEFAULT_SERVER, DEFAULT_RECENT, DISPLAY_MAX_RECENT, DEFAULT_MIN_SHOW_MS / 1000,
		DEFAULT_FLASH_MS / 1000, VOICE_DEFAULT_RATE, VOICE_DEFAULT_PROGRAM);
}

/* Parses seconds (a decimal number in [0, 3600]) into milliseconds; -1 when malformed. */
static int parse_seconds_ms(const char *text)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || end == text || *end || !(v >= 0 && v <= 3600))
		return -1;
	return (int)(v * 1000 + 0.5);
}

/* Parses the command line into app->opts and app->zone; exits on a bad option. */
static void parse_options(struct app *app, int argc, char **argv)
{
	enum { OPT_RECENT = 256, OPT_MIN_SHOW, OPT_FLASH, OPT_WINDOWS, OPT_SERVICES, OPT_VOICE,
	       OPT_VOICE_WAV, OPT_VOICE_RATE, OPT_VOICE_LANG, OPT_ESPEAK, OPT_LOG, OPT_LOG_LEVEL,
	       OPT_VERSION, OPT_SITE };
	static const struct option longopts[] = {
		{"server", required_argument, NULL, 's'},
		{"site", required_argument, NULL, OPT_SITE},
		{"recent", required_argument, NULL, OPT_RECENT},
		{"min-show", required_argument, NULL, OPT_MIN_SHOW},
		{"flash", required_argument, NULL, OPT_FLASH},
		{"windows", required_argument, NULL, OPT_WINDOWS},
		{"services", required_argument, NULL, OPT_SERVICES},
		{"voice", no_argument, NULL, OPT_VOICE},
		{"voice-wav", required_argument, NULL, OPT_VOICE_WAV},
		{"voice-rate", required_argument, NULL, OPT_VOICE_RATE},
		{"voice-lang", required_argument, NULL, OPT_VOICE_LANG},
		{"espeak", required_argument, NULL, OPT_ESPEAK},
		{"log", required_argument, NULL, OPT_LOG},
		{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	struct options *o = &app->opts;
	char err[256];
	int opt;
	while ((opt = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 's':
			o->server = optarg;
			break;
		case OPT_SITE:
			o->site = optarg;
			break;
		case OPT_RECENT:
			errno = 0;
			o->recent = (int)strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o->recent < 1 || o->recent > DISPLAY_MAX_RECENT) {
				fprintf(stderr, "display: --recent wants a number from 1 to %d\n",
					DISPLAY_MAX_RECENT);
				exit(2);
			}
			break;
		case OPT_MIN_SHOW:
		case OPT_FLASH: {
			int ms = parse_seconds_ms(optarg);
			if (ms < 0) {
				fprintf(stderr, "display: --%s wants seconds (0 to 3600), like 4 or 0.2\n",
					opt == OPT_FLASH ? "flash" : "min-show");
				exit(2);
			}
			if (opt == OPT_FLASH)
				o->flash_ms = ms;
			else
				o->min_show_ms = ms;
			break;
		}
		case OPT_WINDOWS:
			if (zone_parse_windows(&app->zone, optarg, err, sizeof err) < 0) {
				fprintf(stderr, "display: %s\n", err);
				exit(2);
			}
			break;
		case OPT_SERVICES:
			if (zone_parse_services(&app->zone, optarg, err, sizeof err) < 0) {
				fprintf(stderr, "display: %s\n", err);
				exit(2);
			}
			break;
		case OPT_VOICE:
			o->voice = true;
			break;
		case OPT_VOICE_WAV:
			o->voice = true;
			o->voice_wav_dir = optarg;
			break;
		case OPT_VOICE_RATE:
			errno = 0;
			o->voice_rate = (int)strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o->voice_rate < 80 || o->voice_rate > 450) {
				fprintf(stderr, "display: --voice-rate wants words a minute, 80 to 450\n");
				exit(2);
			}
			break;
		case OPT_VOICE_LANG:
			if (strcmp(optarg, "zh,en") == 0 || strcmp(optarg, "zh") == 0) {
				o->voice_english = strcmp(optarg, "zh,en") == 0;
			} else {
				fprintf(stderr, "display: --voice-lang is zh,en or zh\n");
				exit(2);
			}
			break;
		case OPT_ESPEAK:
			o->espeak = optarg;
			break;
		case OPT_LOG:
			o->log_file = optarg;
			break;
		case OPT_LOG_LEVEL:
			o->log_level = log_level_parse(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "display: --log-level is debug, info, warn or error\n");
				exit(2);
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("display (qhall) %s\n", DISPLAY_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "display: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
}

/* Redraws the screen from the state (nothing before curses is up). */
static void redraw(struct app *app)
{
	if (!app->curses_on)
		return;
	struct display_view view = {
		.state = &app->state,
		.queue = &app->queue,
		.zone = &app->zone,
		.recent_shown = app->opts.recent,
		.flash_on = app->flash_on,
		.status = app->client ? client_status_text(app->client) : "",
		.voice_note = app->voice_note,
	};
	draw_screen(&view);
}

/* Starts the flash of the call that just went up and logs it (the tests read the log). */
static void on_current_changed(struct app *app)
{
	const struct call *c = &app->queue.current;
	log_info("show %s window %d recall %d (%d waiting)", c->number, c->window, c->recall,
		 app->queue.count);
	if (app->opts.flash_ms > 0) {
		app->flash_on = true;
		app->flash_until_ms = now_ms() + app->opts.flash_ms;
		struct timeval tv = tv_ms(FLASH_PERIOD_MS);
		evtimer_add(app->flash_timer, &tv);
	}
}

/* Arms the queue timer for the moment the current call has had its time. */
static void schedule_queue(struct app *app)
{
	long long due = callq_next_due_ms(&app->queue, now_ms());
	if (due < 0) {
		evtimer_del(app->queue_timer);
		return;
	}
	struct timeval tv = tv_ms(due);
	evtimer_add(app->queue_timer, &tv);
}

/* Moves waiting calls up while their turn has come. */
static void advance_queue(struct app *app)
{
	struct call retired;
	bool changed = false;
	while (callq_advance(&app->queue, now_ms(), &retired)) {
		state_push_recent(&app->state, &retired);
		on_current_changed(app);
		changed = true;
	}
	schedule_queue(app);
	if (changed)
		redraw(app);
}

/* Takes a new call: spoken at once (the voice has its own queue), shown in its turn. */
static void new_call(struct app *app, const struct call *call)
{
	struct call to_list;
	bool listed;
	log_info("called %s window %d recall %d", call->number, call->window, call->recall);
	if (app->voice)
		voice_announce(app->voice, call);
	unsigned long dropped = app->queue.dropped;
	app->history_current = false;
	int shown = callq_push(&app->queue, call, now_ms(), &to_list, &listed);
	if (app->queue.dropped != dropped)
		log_warn("call queue full: %s goes to the list without its turn", to_list.number);
	if (listed)
		state_push_recent(&app->state, &to_list);
	if (shown)
		on_current_changed(app);
	schedule_queue(app);
}

/* Fires when the current call's minimum time is over and another waits. */
static void queue_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	advance_queue(arg);
}

/* Toggles the flash and stops it when its time is over. */
static void flash_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct app *app = arg;
	if (now_ms() >= app->flash_until_ms) {
		app->flash_on = false;
	} else {
		app->flash_on = !app->flash_on;
		struct timeval tv = tv_ms(FLASH_PERIOD_MS);
		evtimer_add(app->flash_timer, &tv);
	}
	redraw(app);
}

/* Redraws once a second for the clock and the reconnect countdown, on the second. */
static void clock_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct app *app = arg;
	redraw(app);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct timeval tv = {0, (suseconds_t)(1000000 - ts.tv_nsec / 1000)};
	if (tv.tv_usec < 10000)
		tv.tv_usec += 1000000 - 1; /* just ticked over: wait for the next second */
	if (tv.tv_usec >= 1000000) {
		tv.tv_sec = 1;
		tv.tv_usec -= 1000000;
	}
	evtimer_add(app->clock_timer, &tv);
}

/* Takes the minute's snapshot: the services' estimates (which drift as the hall moves, not
 * only when their own queue changes) and today's mean wait, or "—" while nobody was called. */
static void stats_reply(void *arg, cJSON *response)
{
	struct app *app = arg;
	if (!response || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(response, "ok")))
		return; /* timed out, dropped or refused: keep what is shown, ask again later */
	state_apply_snapshot(&app->state, response);
	const cJSON *today = cJSON_GetObjectItemCaseSensitive(response, "today");
	const cJSON *mean = cJSON_GetObjectItemCaseSensitive(today, "wait_mean");
	if (cJSON_IsNumber(mean) && mean->valuedouble >= 0) {
		app->state.stats = STATS_VALUE;
		app->state.wait_mean = (int)(mean->valuedouble + 0.5);
	} else {
		/* Nobody called yet today, or a server whose snapshot has no `today`. */
		app->state.stats = STATS_UNAVAILABLE;
	}
	redraw(app);
}

/* Asks for a snapshot: it carries today's figures for every role, the wall included. */
static void request_stats(struct app *app)
{
	if (!client_is_ready(app->client))
		return;
	client_request(app->client, "snapshot", NULL, stats_reply, app);
}

/* Refreshes today's mean wait every minute. */
static void stats_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	request_stats(arg);
}

/* Switches the process to the site's time zone so the clock shows hall time. */
static void apply_time_zone(const char *tz)
{
	const char *current = getenv("TZ");
	if (!tz[0] || (current && strcmp(current, tz) == 0))
		return;
	setenv("TZ", tz, 1);
	tzset();
}

/* Takes the calls of a snapshot's recent list (newest first). On the first snapshot they are
 * history: the newest goes up quietly (unless an event already put a call up) and the rest
 * fill the list. After a reconnect, calls made while we were away (and not too old to
 * matter) are queued like new ones, so nobody's call is missed. */
static void take_snapshot_calls(struct app *app, const cJSON *snapshot, bool first)
{
	const cJSON *recent = cJSON_GetObjectItemCaseSensitive(snapshot, "recent");
	int n = cJSON_GetArraySize(recent);
	long long server_now = (long long)state_hall_time(&app->state);
	for (int k = 0; k < n; k++) {
		/* History goes newest first; calls to announce go oldest first. */
		int i = first ? k : n - 1 - k;
		struct call call;
		if (!state_call_from_recent(&app->state, cJSON_GetArrayItem(recent, i), &call) ||
		    !state_call_in_zone(&app->state, &app->zone, &call) ||
		    state_knows_call(&app->state, &call) || callq_contains(&app->queue, &call))
			continue;
		if (first && !app->queue.has_current)
			callq_set_current(&app->queue, &call, now_ms() - app->opts.min_show_ms);
		else if (first)
			state_append_recent(&app->state, &call); /* older than what events brought */
		else if (call.at >= server_now - MISSED_CALL_WINDOW_S)
			new_call(app, &call);
	}
}

/* One ticket asked for a zone's history. */
struct history_request {
	struct app *app;
	int window;
};

/* Takes a zone window's ticket as history: the newest goes up quietly when nothing is up yet
 * (a newer one than a call put up from history replaces it), the rest go into the list by time. */
static void zone_history_reply(void *arg, cJSON *response)
{
	struct history_request *req = arg;
	struct app *app = req->app;
	free(req);
	struct call call;
	if (!response || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(response, "ok")) ||
	    !state_call_from_ticket(&app->state, cJSON_GetObjectItemCaseSensitive(response, "ticket"), &call) ||
	    !state_call_in_zone(&app->state, &app->zone, &call) || state_knows_call(&app->state, &call) ||
	    callq_contains(&app->queue, &call))
		return;
	if (!app->queue.has_current) {
		callq_set_current(&app->queue, &call, now_ms() - app->opts.min_show_ms);
	} else if (app->history_current && app->queue.count == 0 && call.at > app->queue.current.at) {
		state_insert_recent(&app->state, &app->queue.current);
		callq_set_current(&app->queue, &call, now_ms() - app->opts.min_show_ms);
	} else {
		state_insert_recent(&app->state, &call);
		redraw(app);
		return;
	}
	app->history_current = true;
	log_info("history %s window %d", call.number, call.window);
	redraw(app);
}

/* A zoned display's history: the hall's last 10 calls may hold none of its zone (a busy hall,
 * a quiet zone), and the screen would wait for a first call that was made long ago. The zone's
 * windows that hold a ticket were last called for it: ask for each ticket (at most
 * HISTORY_MAX_REQUESTS) and show their calls as history. */
static void fetch_zone_history(struct app *app)
{
	if (app->zone.nranges == 0 && app->zone.nservices == 0)
		return;
	int asked = 0;
	for (int i = 0; i < app->state.nwindows && asked < HISTORY_MAX_REQUESTS; i++) {
		const struct window_info *w = &app->state.windows[i];
		if (!w->ticket[0] || !zone_has_window(&app->zone, w->id))
			continue;
		struct history_request *req = malloc(sizeof *req);
		cJSON *args = cJSON_CreateObject();
		if (!req || !args || !cJSON_AddStringToObject(args, "number", w->ticket)) {
			free(req);
			cJSON_Delete(args);
			return;
		}
		*req = (struct history_request){app, w->id};
		if (client_request(app->client, "ticket", args, zone_history_reply, req) < 0)
			free(req);
		else
			asked++;
	}
}

/* The session is set up: take the snapshot, go live, ask for the stats. */
static void on_ready(struct client *c, cJSON *hello, cJSON *snapshot, void *arg)
{
	(void)c;
	(void)hello;
	struct app *app = arg;
	if (snapshot) {
		bool first = !app->state.have_snapshot;
		state_apply_snapshot(&app->state, snapshot);
		apply_time_zone(app->state.tz);
		take_snapshot_calls(app, snapshot, first);
		if (first)
			fetch_zone_history(app);
	}
	if (!app->state.online)
		log_info("live: connected to %s", client_server(app->client));
	app->state.online = true;
	request_stats(app);
	redraw(app);
}

/* Applies an event; a called event in our zone becomes a call. */
static void on_event(struct client *c, cJSON *event, void *arg)
{
	(void)c;
	struct app *app = arg;
	struct call call;
	if (state_apply_event(&app->state, event, &call) &&
	    state_call_in_zone(&app->state, &app->zone, &call))
		new_call(app, &call);
	redraw(app);
}

/* Goes offline, keeping every piece of data on the screen. */
static void on_disconnected(struct client *c, const char *reason, void *arg)
{
	(void)c;
	struct app *app = arg;
	if (app->state.online) {
		app->state.offline_since = time(NULL);
		log_warn("offline: %s", reason);
	}
	app->state.online = false;
	redraw(app);
}

/* Reads the keyboard: q quits, Ctrl-L repaints. A stdin that is readable but gives no keys
 * again and again is closed (a display started with stdin from /dev/null): stop watching it
 * rather than spin. */
static void stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct app *app = arg;
	int ch, keys = 0;
	while ((ch = getch()) != ERR) {
		keys++;
		if (ch == 'q' || ch == 'Q') {
			event_base_loopbreak(app->base);
			return;
		}
		if (ch == 12) /* Ctrl-L */
			clearok(curscr, TRUE);
	}
	app->idle_stdin_wakeups = keys ? 0 : app->idle_stdin_wakeups + 1;
	if (app->idle_stdin_wakeups >= STDIN_EOF_WAKEUPS) {
		log_warn("stdin gives no keys (closed?): the q key is off; stop with a signal");
		event_del(app->stdin_event);
	}
	redraw(app);
}

/* Follows a terminal resize: asks the terminal its size and relays the screen out. */
static void winch_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct app *app = arg;
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	clearok(curscr, TRUE);
	redraw(app);
}

/* Leaves the loop on SIGTERM, SIGINT or SIGHUP; main then restores the terminal. */
static void quit_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct app *app = arg;
	log_info("signal %d: quitting", (int)sig);
	event_base_loopbreak(app->base);
}

/* Sends the log where it cannot spoil the screen: --log FILE, or nowhere while stderr is the
 * terminal (the original is kept to be put back at exit). */
static int setup_log(struct app *app)
{
	app->saved_stderr = -1;
	int fd = -1;
	if (app->opts.log_file) {
		fd = open(app->opts.log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "display: cannot open %s: %s\n", app->opts.log_file,
				strerror(errno));
			return -1;
		}
	} else if (isatty(STDERR_FILENO)) {
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return 0;
	app->saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	return 0;
}

/* Puts the terminal's stderr back. */
static void restore_log(struct app *app)
{
	if (app->saved_stderr < 0)
		return;
	fflush(stderr);
	dup2(app->saved_stderr, STDERR_FILENO);
	close(app->saved_stderr);
	app->saved_stderr = -1;
}

/* Makes sure wide characters work: the user's locale, or C.UTF-8 when it is not UTF-8. */
static void setup_locale(void)
{
	setlocale(LC_ALL, "");
	const char *codeset = nl_langinfo(CODESET);
	if (strcmp(codeset, "UTF-8") != 0 && !setlocale(LC_CTYPE, "C.UTF-8"))
		fprintf(stderr, "display: no UTF-8 locale; Chinese names may not show\n");
}

/* Creates every event of the loop; returns -1 if one cannot be made. */
static int setup_events(struct app *app)
{
	static const int quit_signals[] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		app->sig_events[i] = evsignal_new(app->base, quit_signals[i], quit_cb, app);
		if (!app->sig_events[i] || evsignal_add(app->sig_events[i], NULL) < 0)
			return -1;
	}
	app->winch_event = evsignal_new(app->base, SIGWINCH, winch_cb, app);
	app->stdin_event = event_new(app->base, STDIN_FILENO, EV_READ | EV_PERSIST, stdin_cb, app);
	app->clock_timer = evtimer_new(app->base, clock_timer_cb, app);
	app->flash_timer = evtimer_new(app->base, flash_timer_cb, app);
	app->queue_timer = evtimer_new(app->base, queue_timer_cb, app);
	app->stats_timer = event_new(app->base, -1, EV_PERSIST, stats_timer_cb, app);
	if (!app->winch_event || !app->stdin_event || !app->clock_timer || !app->flash_timer ||
	    !app->queue_timer || !app->stats_timer)
		return -1;
	struct timeval zero = {0, 0}, stats_period = {STATS_PERIOD_S, 0};
	if (evsignal_add(app->winch_event, NULL) < 0 || event_add(app->stdin_event, NULL) < 0 ||
	    evtimer_add(app->clock_timer, &zero) < 0 || event_add(app->stats_timer, &stats_period) < 0)
		return -1;
	return 0;
}

/* Frees every event (NULL ones are skipped). */
static void free_events(struct app *app)
{
	struct event **events[] = {&app->sig_events[0], &app->sig_events[1], &app->sig_events[2],
				   &app->winch_event,	&app->stdin_event,   &app->clock_timer,
				   &app->flash_timer,	&app->queue_timer,   &app->stats_timer};
	for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
		if (*events[i]) {
			event_free(*events[i]);
			*events[i] = NULL;
		}
}

/* Starts the connection: public hello, every topic the screen uses, snapshot on each connect. */
static int setup_client(struct app *app)
{
	struct client_callbacks callbacks = {
		.on_ready = on_ready,
		.on_event = on_event,
		.on_disconnected = on_disconnected,
	};
	app->client = client_new(app->base, app->opts.server, &callbacks, app);
	if (!app->client) {
		fprintf(stderr, "display: bad server address \"%s\" (want HOST:PORT or unix:/path, several separated by commas)\n",
			app->opts.server ? app->opts.server : CLIENT_DEFAULT_SERVER);
		return -1;
	}
	cJSON *hello = cJSON_CreateObject();
	cJSON *topics = cJSON_CreateArray();
	if (!hello || !topics || !cJSON_AddStringToObject(hello, "role", "public")) {
		cJSON_Delete(hello);
		cJSON_Delete(topics);
		return -1;
	}
	if (app->opts.site && !cJSON_AddStringToObject(hello, "site", app->opts.site)) {
		cJSON_Delete(hello);
		cJSON_Delete(topics);
		return -1;
	}
	const char *names[] = {"called", "queue", "window"};
	for (size_t i = 0; i < 3; i++)
		cJSON_AddItemToArray(topics, cJSON_CreateString(names[i]));
	client_set_hello(app->client, hello);
	client_set_subscribe(app->client, topics);
	client_want_snapshot(app->client, true);
	client_set_backoff(app->client, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
	return 0;
}

/* Starts the voice if asked; a missing espeak-ng is one clear warning, not a failure. */
static void setup_voice(struct app *app)
{
	app->voice_note[0] = '\0';
	if (!app->opts.voice)
		return;
	char err[256];
	app->voice = voice_new(app->base, app->opts.espeak, app->opts.voice_wav_dir, err, sizeof err);
	if (app->voice)
		voice_configure(app->voice, app->opts.voice_rate, app->opts.voice_english);
	if (!app->voice) {
		fprintf(stderr, "display: warning: %s\n", err);
		log_warn("%s", err);
		snprintf(app->voice_note, sizeof app->voice_note, "%s", err);
		/* Short form for the status line. */
		char *paren = strchr(app->voice_note, '(');
		if (paren && paren > app->voice_note)
			paren[-1] = '\0';
	} else {
		snprintf(app->voice_note, sizeof app->voice_note, "%s",
			 app->opts.voice_wav_dir ? "语音 voice → WAV" : "语音 voice on");
	}
}

/* Runs the display until q or a signal. */
int main(int argc, char **argv)
{
	struct app *app = calloc(1, sizeof *app);
	if (!app)
		return 1;
	app->opts.recent = DEFAULT_RECENT;
	app->opts.voice_rate = VOICE_DEFAULT_RATE;
	app->opts.voice_english = true;
	app->opts.min_show_ms = DEFAULT_MIN_SHOW_MS;
	app->opts.flash_ms = DEFAULT_FLASH_MS;
	app->opts.log_level = LOG_WARN;
	parse_options(app, argc, argv);
	log_set_name("display");
	log_set_level((enum log_level)app->opts.log_level);
	setup_locale();
	signal(SIGPIPE, SIG_IGN);
	state_init(&app->state);
	callq_init(&app->queue, app->opts.min_show_ms);
	int rc = 1;
	app->base = event_base_new();
	if (!app->base) {
		fprintf(stderr, "display: cannot create the event loop\n");
		goto out;
	}
	if (setup_client(app) < 0)
		goto out;
	setup_voice(app);
	if (setup_log(app) < 0)
		goto out;
	/* newterm, not initscr: initscr exits on its own when the terminal is unusable. */
	app->screen = newterm(NULL, stdout, stdin);
	if (!app->screen) {
		restore_log(app);
		fprintf(stderr, "display: cannot start curses on this terminal (is TERM set?)\n");
		goto out;
	}
	app->curses_on = true;
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	draw_init();
	if (setup_events(app) < 0) {
		log_error("cannot set up the event loop");
		goto out;
	}
	redraw(app);
	event_base_dispatch(app->base);
	rc = 0;
out:
	if (app->curses_on)
		endwin();
	if (app->screen)
		delscreen(app->screen);
	restore_log(app);
	voice_free(app->voice);
	client_free(app->client);
	free_events(app);
	if (app->base)
		event_base_free(app->base);
	free(app);
	return rc;
}
