/* The wall display: one internal header, grouped by the file that implements each part.
 *
 * main.c    options, the libevent loop (connection, keyboard, signals, timers)
 * zones.c   which windows and services this screen shows (--windows, --services)
 * state.c   the hall as last seen: site, services, windows, calls shown (snapshot + events)
 * callq.c   the calls waiting for their turn on the big line, each shown a minimum time
 * layout.c  where everything goes for a terminal size, and the size of the big digits
 * font.c    the block-character font of the big digits
 * draw.c    the ncursesw screen
 * voice.c   announcement texts and the espeak-ng queue */
#ifndef QHALL_DISPLAY_H
#define QHALL_DISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

struct event_base;

/* Every list is bounded: a hall bigger than this is shown in part, never grows memory. */
#define DISPLAY_MAX_SERVICES 64
#define DISPLAY_MAX_WINDOWS 128
#define DISPLAY_MAX_RECENT 32	  /* calls kept for the "last calls" list (--recent up to this) */
#define DISPLAY_NAME_MAX 128	  /* bytes of a name, zh or en, with its NUL */
#define DISPLAY_ID_MAX 24	  /* bytes of a service id, a ticket number or a state */
#define DISPLAY_ZONE_MAX_RANGES 64 /* ranges in --windows */
#define CALLQ_MAX 256		  /* calls waiting for the big line */

/* ---- zones.c ---- */

/* The part of the hall this screen shows; an empty list means all. */
struct zone {
	int nranges;
	struct {
		int lo, hi;
	} ranges[DISPLAY_ZONE_MAX_RANGES];
	int nservices;
	char services[DISPLAY_MAX_SERVICES][DISPLAY_ID_MAX];
	char windows_text[128]; /* the --windows argument, for the status line */
	char services_text[128];
};

/* Parses "1-6,8" into zone->ranges; returns 0, or -1 with a sentence in err. */
int zone_parse_windows(struct zone *zone, const char *spec, char *err, size_t err_size);
/* Parses "A,B" into zone->services; returns 0, or -1 with a sentence in err. */
int zone_parse_services(struct zone *zone, const char *spec, char *err, size_t err_size);
/* Whether window id is shown (true when no --windows was given). */
bool zone_has_window(const struct zone *zone, int window_id);
/* Whether service id is shown (true when no --services was given). */
bool zone_has_service(const struct zone *zone, const char *service_id);

/* ---- state.c ---- */

/* One call as shown on the screen and spoken. */
struct call {
	char number[DISPLAY_ID_MAX];
	char service[DISPLAY_ID_MAX];
	int window;
	char window_name[DISPLAY_NAME_MAX];
	char window_name_en[DISPLAY_NAME_MAX];
	int recall; /* 0 for a first call, N for the Nth recall */
	long long at; /* epoch seconds of the call (server clock) */
};

struct service_info {
	char id[DISPLAY_ID_MAX];
	char prefix[DISPLAY_ID_MAX];
	char name[DISPLAY_NAME_MAX];
	char name_en[DISPLAY_NAME_MAX];
	int waiting;
	int ewt; /* seconds */
	int ewt_low, ewt_high; /* 10th and 90th percentiles, seconds; -1 when not sent */
};

struct window_info {
	int id;
	char name[DISPLAY_NAME_MAX];
	char name_en[DISPLAY_NAME_MAX];
	char state[DISPLAY_ID_MAX];
	char ticket[DISPLAY_ID_MAX];
};

/* What is known of today's mean wait. */
enum stats_state {
	STATS_WAITING,	   /* not asked yet, or no answer yet */
	STATS_VALUE,	   /* wait_mean holds today's mean */
	STATS_UNAVAILABLE, /* the server has no stats op, refuses it, or has no data: show "—" */
};

struct state {
	char site_name[DISPLAY_NAME_MAX];
	char site_name_en[DISPLAY_NAME_MAX];
	char tz[64];
	char date[16]; /* the site's today, YYYY-MM-DD, from the snapshot */
	long long server_offset; /* server clock minus ours, seconds: the wall clock is the hall's */
	int sla;       /* the wait target in seconds */
	bool have_snapshot;

	int nservices;
	struct service_info services[DISPLAY_MAX_SERVICES];
	int nwindows;
	struct window_info windows[DISPLAY_MAX_WINDOWS];

	/* Calls that have had their turn on the big line, newest first. */
	int nrecent;
	struct call recent[DISPLAY_MAX_RECENT];

	bool online;
	time_t offline_since; /* local time the connection was lost; 0 before the first */

	enum stats_state stats;
	int wait_mean; /* seconds, when stats == STATS_VALUE */
};

/* Empties the state (the target defaults to 15 minutes until the site says otherwise). */
void state_init(struct state *st);
/* Takes site, services and windows from a snapshot (or site) response; keeps what is missing. */
void state_apply_snapshot(struct state *st, const cJSON *snapshot);
/* Applies a queue or window event; for a called event fills *call and returns 1 (0 otherwise). */
int state_apply_event(struct state *st, const cJSON *event, struct call *call);
/* Reads one call of a snapshot's "recent" list (window names from the known windows). */
int state_call_from_recent(const struct state *st, const cJSON *item, struct call *call);
/* Adds a call that has had its turn to the front of the recent list (the oldest falls off). */
void state_push_recent(struct state *st, const struct call *call);
/* Now on the server's clock (epoch seconds). */
time_t state_hall_time(const struct state *st);
/* Adds an older call at the end of the recent list (dropped when the list is full). */
void state_append_recent(struct state *st, const struct call *call);
/* Reads the call a ticket called or served at a window stands for (a zone's history from its
 * windows); 0 for any other ticket. */
int state_call_from_ticket(const struct state *st, const cJSON *ticket, struct call *call);
/* Puts an older call into the newest-first recent list by its time. */
void state_insert_recent(struct state *st, const struct call *call);
/* Finds the service a ticket number belongs to, by the longest matching prefix; NULL if none. */
const struct service_info *state_service_of_number(const struct state *st, const char *number);
/* Whether two calls are the same call (number, window and time agree). */
bool call_same(const struct call *a, const struct call *b);
/* Whether the same call is in the recent list. */
bool state_knows_call(const struct state *st, const struct call *call);
/* Whether a call passes the zone (its window and its service). */
bool state_call_in_zone(const struct state *st, const struct zone *zone, const struct call *call);

/* ---- callq.c ---- */

/* The big line: the call on it now and the calls waiting, in arrival order. */
struct callq {
	bool has_current;
	struct call current;
	long long shown_at_ms; /* monotonic ms the current call went up */
	int min_show_ms;
	int head, count;
	struct call pending[CALLQ_MAX];
	unsigned long dropped; /* waiting calls pushed out by the bound (moved to the list) */
};

/* Starts empty; each call will stay up at least min_show_ms. */
void callq_init(struct callq *q, int min_show_ms);
/* Queues a call. Returns 1 when it went up at once, 0 when it waits. When a call leaves for
 * the recent list (the current one it replaced, or the oldest waiting one when the queue is
 * full) it is written to *to_list and *listed is set. */
int callq_push(struct callq *q, const struct call *call, long long now_ms, struct call *to_list,
	       bool *listed);
/* Puts the next waiting call up when the current one has had its time. Returns 1 and writes
 * the call taken down to *retired when it did; 0 otherwise. */
int callq_advance(struct callq *q, long long now_ms, struct call *retired);
/* Milliseconds from now until callq_advance has work, or -1 when nothing waits. */
long long callq_next_due_ms(const struct callq *q, long long now_ms);
/* Whether a call equal to this one is up or waiting. */
bool callq_contains(const struct callq *q, const struct call *call);
/* Sets the current call without queueing (the newest call of the first snapshot). */
void callq_set_current(struct callq *q, const struct call *call, long long now_ms);

/* ---- font.c ---- */

#define FONT_ROWS 5
#define FONT_COLS 5
#define FONT_ARROW '>' /* the glyph of "→" in big text */

/* Returns the 5 rows of a glyph ('#' lit, ' ' dark), or NULL when the font lacks it. Lower-case
 * letters use their capitals; ' ' is a blank glyph. */
const char *const *font_glyph(char c);
/* Columns of big text of n glyphs with pixels sx columns wide and a one-pixel gap. */
int font_text_cols(int nglyphs, int sx);

/* ---- layout.c ---- */

enum panel_kind { PANEL_RECENT, PANEL_SERVICES, PANEL_WINDOWS };

#define LAYOUT_MAX_COLUMNS 3
#define LAYOUT_MAX_PANELS 3

/* Where each part of the screen goes for one terminal size. */
struct layout {
	int cols, rows;
	bool too_small;	 /* under 40x12: only the call and the status, in plain text */
	int header_row;	 /* site name, date and clock */
	int big_top;	 /* first row of the big digits */
	int big_rows;	 /* rows of the big area (0 when the call is drawn as plain text) */
	int sx, sy;	 /* a font pixel in cells; 0 when big digits do not fit */
	int caption_row; /* the call as a sentence, zh and en */
	int panels_top, panels_rows;
	int ncolumns;
	int column_x[LAYOUT_MAX_COLUMNS], column_w[LAYOUT_MAX_COLUMNS];
	int npanels;
	struct {
		enum panel_kind kind;
		int column;
	} panels[LAYOUT_MAX_PANELS]; /* in drawing order; panels of one column stack */
	int target_row; /* today's mean wait against the target */
	int status_row; /* live / offline, zone, voice */
};

/* Lays out a cols x rows screen whose big text has big_glyphs glyphs. */
void layout_compute(struct layout *lay, int cols, int rows, int big_glyphs);

/* ---- voice.c ---- */

#define VOICE_TEXT_MAX 256
#define VOICE_MAX_JOBS 128 /* utterances waiting (two per call); past it the oldest is dropped */
#define VOICE_DEFAULT_PROGRAM "espeak-ng"
#define VOICE_DEFAULT_RATE 180 /* words a minute (espeak-ng's own is 175) */
#define VOICE_BACKLOG_CALLS 2  /* calls waiting to be spoken before the voice skips to the newest */

/* The Mandarin sentence of a call: "请 A012 号 到 3号窗口" (a recall says so first). */
void voice_text_zh(const struct call *call, char *buf, size_t size);
/* The English sentence of a call: "Number A012, please go to window 3". */
void voice_text_en(const struct call *call, char *buf, size_t size);

struct voice;
/* Starts the announcer: program is espeak-ng (or a path); wav_dir non-NULL writes each
 * utterance to DIR/call-NNNN-zh.wav and -en.wav instead of playing it. Returns NULL with a
 * sentence in err when the program cannot be found. */
struct voice *voice_new(struct event_base *base, const char *program, const char *wav_dir,
			char *err, size_t err_size);
/* Sets the speed in words a minute and whether calls are said in English after Mandarin. */
void voice_configure(struct voice *v, int rate, bool english);
/* Queues the Mandarin then the English announcement of a call; with VOICE_BACKLOG_CALLS calls
 * already waiting, drops them and queues a chime before this one. */
void voice_announce(struct voice *v, const struct call *call);
/* Announcements dropped to catch up with bursts. */
unsigned long voice_skipped(const struct voice *v);
/* Whether nothing is being spoken and nothing waits. */
bool voice_idle(const struct voice *v);
/* Utterances dropped because the queue was full, or failed to run. */
unsigned long voice_failures(const struct voice *v);
/* Stops the speaking child (if any), waits for it and frees everything. NULL is ignored. */
void voice_free(struct voice *v);

/* ---- draw.c ---- */

struct display_view {
	const struct state *state;
	const struct callq *queue;
	const struct zone *zone;
	int recent_shown; /* --recent */
	bool flash_on;	  /* the current call is in its flash phase and lit */
	const char *status; /* the client's status text */
	const char *voice_note; /* "" or a word on the voice ("voice off: ...") */
};

/* How many of in_zone windows a panel with room rows under its heading lists (one row fewer
 * than room when they do not all fit: that row says how many more). */
int draw_windows_listed(int in_zone, int room);
/* The estimated wait as the services panel shows it: the range "5-15 min" (whole minutes,
 * rounded up as the kiosk's ticket does) when the server sent one that shows as two numbers,
 * else the estimate alone ("7 min", "<1 min"). */
void draw_estimate_text(int ewt, int low, int high, char *buf, size_t size);
/* Sets up colours; call after initscr. */
void draw_init(void);
/* Draws the whole screen into stdscr and refreshes it. */
void draw_screen(const struct display_view *view);

#endif
