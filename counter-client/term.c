/* The terminal in the event loop: curses set-up and restore, keys from a stdin event, SIGWINCH,
 * the signals that end the program, a redraw coalesced from bursts of changes, and the tick
 * that moves the waited-minutes clock and the reconnect countdown on. */
#include "counter.h"

#include <curses.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TERM_TICK_MS 1000     /* the minutes on screen and the reconnect countdown */
#define TERM_IDLE_READS_MAX 3 /* readable stdin with no key this often: the terminal is gone */

static struct {
	bool curses_on;
	SCREEN *screen;
	struct event *stdin_ev;
	struct event *redraw_ev;
	struct event *tick_ev;
	struct event *signals[4];
	int idle_reads;
} term;

/* Draws now (from the deferred redraw event). */
static void term_redraw_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct app *app = arg;
	if (app->quit) {
		event_base_loopbreak(app->base);
		return;
	}
	screen_draw(app);
}

/* Marks the screen for a redraw once the current burst of callbacks is over. */
void term_dirty(struct app *app)
{
	(void)app;
	if (term.redraw_ev && term.curses_on)
		event_active(term.redraw_ev, EV_TIMEOUT, 0);
}

/* Reads the terminal's size and tells curses, which does not see SIGWINCH under libevent. */
static void term_resize(void)
{
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	clear(); /* the old picture may be in the wrong place: paint every cell again */
}

/* Passes one key to the dialog if one is open, else to the key map. */
static void term_key(struct app *app, int key)
{
	if (key == (KEY_RESIZE | COUNTER_KEY_FN)) {
		/* resizeterm (from our SIGWINCH) queues this key; resizing again here would queue
		 * another one, for ever. The new size is already known: just paint it. */
		clear();
		return;
	}
	if (dialog_is_open(&app->dialog)) {
		actions_dialog_key(app, key);
		return;
	}
	enum action action = keymap_action(key);
	if (action == ACT_REDRAW)
		clear();
	else if (action != ACT_NONE)
		actions_run(app, action);
}

/* Takes every key that is waiting; a terminal that reads as ready but yields nothing, again
 * and again, has hung up (the loop would otherwise spin). */
static void term_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct app *app = arg;
	int keys = 0;
	wint_t ch;
	int r;
	while (!app->quit && (r = get_wch(&ch)) != ERR) {
		keys++;
		term_key(app, r == KEY_CODE_YES ? (int)ch | COUNTER_KEY_FN : (int)ch);
	}
	if (keys == 0 && ++term.idle_reads >= TERM_IDLE_READS_MAX)
		app->quit = true;
	else if (keys)
		term.idle_reads = 0;
	term_dirty(app);
	if (app->quit)
		event_base_loopbreak(app->base);
}

/* SIGWINCH: the terminal changed size. */
static void term_winch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	term_resize();
	term_dirty(arg);
}

/* SIGTERM, SIGHUP, SIGINT: leave the loop; main restores the terminal and frees everything. */
static void term_quit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct app *app = arg;
	app->quit = true;
	event_base_loopbreak(app->base);
}

/* The once-a-second tick: minutes waited and the reconnect countdown move on screen. */
static void term_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	term_dirty(arg);
}

#if !defined(__SANITIZE_ADDRESS__)
/* A crash must not leave the clerk's terminal raw and invisible: restore it, then die as the
 * signal says (sanitizer builds keep their own handlers, which report the crash). */
static void term_fatal_cb(int sig)
{
	if (term.curses_on)
		endwin();
	signal(sig, SIG_DFL);
	raise(sig);
}
#endif

/* Switches the terminal to curses and adds the events of the terminal to the loop. */
int term_start(struct app *app)
{
	set_escdelay(25); /* Esc closes dialogs: do not make the clerk wait a second */
	/* newterm rather than initscr: its SCREEN can be freed at the end (a clean leak check). */
	term.screen = newterm(NULL, stdout, stdin);
	if (!term.screen)
		return -1;
	set_term(term.screen);
	term.curses_on = true;
	atexit(term_stop);
#if !defined(__SANITIZE_ADDRESS__)
	signal(SIGSEGV, term_fatal_cb);
	signal(SIGBUS, term_fatal_cb);
	signal(SIGFPE, term_fatal_cb);
	signal(SIGABRT, term_fatal_cb);
#endif
	raw(); /* Ctrl-C and Ctrl-Z are keys: a stray one must not end or stop the console */
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	term.stdin_ev = event_new(app->base, STDIN_FILENO, EV_READ | EV_PERSIST, term_stdin_cb, app);
	term.redraw_ev = event_new(app->base, -1, 0, term_redraw_cb, app);
	term.tick_ev = event_new(app->base, -1, EV_PERSIST, term_tick_cb, app);
	/* Added after initscr, so libevent's SIGWINCH handler replaces the one curses installs. */
	const int sigs[4] = {SIGWINCH, SIGTERM, SIGHUP, SIGINT};
	for (int i = 0; i < 4; i++) {
		term.signals[i] = evsignal_new(app->base, sigs[i], i == 0 ? term_winch_cb : term_quit_cb, app);
		if (!term.signals[i] || evsignal_add(term.signals[i], NULL) < 0)
			return -1;
	}
	struct timeval tick = {TERM_TICK_MS / 1000, (TERM_TICK_MS % 1000) * 1000};
	if (!term.stdin_ev || !term.redraw_ev || !term.tick_ev || event_add(term.stdin_ev, NULL) < 0 ||
	    event_add(term.tick_ev, &tick) < 0)
		return -1;
	term_dirty(app);
	return 0;
}

/* Frees the events and gives the terminal back as it was; runs again harmlessly at exit. */
void term_stop(void)
{
	struct event **events[] = {&term.stdin_ev, &term.redraw_ev, &term.tick_ev, &term.signals[0],
				   &term.signals[1], &term.signals[2], &term.signals[3]};
	for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
		if (*events[i])
			event_free(*events[i]);
		*events[i] = NULL;
	}
	if (term.curses_on) {
		term.curses_on = false;
		curs_set(1);
		endwin();
		delscreen(term.screen);
		term.screen = NULL;
	}
}
