/* counter-client, the clerk's console: the internal header, grouped by file.
 *
 * One libevent loop runs everything (term.c: keys, SIGWINCH, signals; link.c: the qserver
 * connection through common/client.c; timers for the clock). app.c holds what the screen
 * shows and changes it only from server answers and events; screen.c draws it; keymap.c and
 * dialog.c turn keys into actions; actions.c turns actions into requests. */
#ifndef QHALL_COUNTER_H
#define QHALL_COUNTER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct event_base;
struct event;
struct client;

#define COUNTER_ID_MAX 32	  /* service ids, user ids, ticket ids */
#define COUNTER_NUMBER_MAX 16	  /* "A012", "A1000" */
#define COUNTER_NAME_MAX 160	  /* names in bytes (UTF-8) */
#define COUNTER_REASON_MAX 201	  /* a pause reason: the server takes 200 bytes */
#define COUNTER_SERVICES_MAX 128  /* services kept from the snapshot */
#define COUNTER_WINDOWS_MAX 128	  /* windows kept (for the transfer list) */
#define COUNTER_WINDOW_SVCS 512	  /* ",A,B," list of the services of one window */
#define COUNTER_QUEUE_MAX 50	  /* next tickets asked for and kept */
#define COUNTER_MESSAGE_MAX 320	  /* the status line's message */
#define COUNTER_PASSWORD_MAX 256
#define COUNTER_QUEUE_DEBOUNCE_MS 150 /* events closer than this cause one queue request */
#define COUNTER_MIN_COLS 80
#define COUNTER_MIN_ROWS 24
#define COUNTER_NOTICE_SECONDS 10 /* a message saying what an action did stays this long */
#define COUNTER_ERROR_SECONDS 30  /* and one saying what went wrong this long */

/* Function keys are passed as KEY_* | COUNTER_KEY_FN so they never collide with characters. */
#define COUNTER_KEY_FN 0x40000000

/* format.c */

/* "<1 min", "7 min", "2 h 05 min" for a span of seconds (negative counts as 0). */
void format_minutes(char *out, size_t size, long long seconds);
/* An estimated wait: its range "5-15 min" (10th to 90th percentile, whole minutes rounded up as
 * the kiosk's ticket has them) when the server sent one that shows as two numbers, else "~7 min". */
void format_estimate(char *out, size_t size, long long ewt, long long low, long long high);
/* The Chinese and English label of a window state ("空闲 Idle"); "?" when unknown. */
const char *format_window_state(const char *state);
/* The Chinese and English label of a ticket state ("已呼叫 called"). */
const char *format_ticket_state(const char *state);
/* The two-column mark of a ticket class in lists: "优" priority, "约" appointment, "  " else. */
const char *format_class_mark(const char *ticket_class);
/* The label of a ticket class ("绿色通道 Priority"). */
const char *format_class_label(const char *ticket_class);
/* "HH:MM" of an epoch time in local time. */
void format_clock(char *out, size_t size, long long epoch);
/* A window's state with its time in it ("空闲 Idle 12 min") when since is known (> 0), or the
 * state alone. */
void format_state_since(char *out, size_t size, const char *state, const char *reason, long long since,
			long long now);
/* The short English name of an op for messages ("call_next" is "Next"). */
const char *format_op_label(const char *op);

/* keymap.c */

enum action {
	ACT_NONE,
	ACT_NEXT,
	ACT_RECALL,
	ACT_START,
	ACT_FINISH,
	ACT_NO_SHOW,
	ACT_NO_SHOW_NEXT,
	ACT_TRANSFER,
	ACT_CALL,
	ACT_PAUSE,
	ACT_RESUME,
	ACT_CLOSE,
	ACT_QUIT,
	ACT_REDRAW,
};

struct keymap_entry {
	enum action action;
	int fkey;	  /* 1 for F1, 0 for none */
	int letter;	  /* lower-case letter; upper case works too */
	const char *name; /* English, for the footer */
	const char *zh;	  /* Chinese, for the footer when it fits */
};

/* The action of a key (a character, or KEY_* | COUNTER_KEY_FN); ACT_NONE when unbound. */
enum action keymap_action(int key);
/* The footer entries in display order, and their count in *n. */
const struct keymap_entry *keymap_entries(size_t *n);
/* Lays the footer out in lines of at most width columns: with Chinese labels when all fits in
 * max_lines, else English only; returns the lines used (0 when even that does not fit). */
int keymap_footer(char lines[][256], int max_lines, size_t width);

/* dialog.c */

enum dialog_kind {
	DIALOG_NONE,
	DIALOG_CONFIRM,	 /* y or Enter; n or Esc cancels */
	DIALOG_QUESTION, /* y (result 1), n or Enter (result 0), Esc cancels */
	DIALOG_LIST,	 /* arrows and Enter, or a digit; result is the item */
	DIALOG_TEXT,	 /* a line of text; Enter takes it */
	DIALOG_RATING,	 /* 1-5, or Enter for none (result 0) */
};

/* What a dialog is for, so actions.c knows what to do with its answer. */
enum dialog_purpose {
	PURPOSE_NONE,
	PURPOSE_RATING,
	PURPOSE_REQUEUE,
	PURPOSE_TRANSFER_SERVICE,
	PURPOSE_TRANSFER_WINDOW,
	PURPOSE_TRANSFER_CONFIRM,
	PURPOSE_CALL_NUMBER,
	PURPOSE_CALL_CONFIRM,
	PURPOSE_PAUSE_REASON,
	PURPOSE_CLOSE_CONFIRM,
	PURPOSE_QUIT_CONFIRM,
	PURPOSE_QUIT_CHOICE,
	PURPOSE_PASSWORD,
	PURPOSE_SIGN_IN_RETRY,
};

enum dialog_result { DIALOG_OPEN, DIALOG_DONE, DIALOG_CANCELLED };

#define DIALOG_ITEMS_MAX 64
#define DIALOG_TEXT_MAX 256

struct dialog_item {
	char key[COUNTER_ID_MAX]; /* what the item stands for: a service id, a window id */
	char label[COUNTER_NAME_MAX];
};

/* Text entry filters. */
#define DIALOG_TEXT_SECRET 0x1	/* shown as stars */
#define DIALOG_TEXT_TICKET 0x2	/* letters, digits and '-' only, letters upper-cased */

struct dialog {
	enum dialog_kind kind;
	enum dialog_purpose purpose;
	char title[COUNTER_NAME_MAX];
	char text[3][COUNTER_MESSAGE_MAX]; /* up to three lines of explanation */
	char hint[COUNTER_NAME_MAX];	   /* the keys, shown last */
	struct dialog_item items[DIALOG_ITEMS_MAX];
	int nitems;
	int selected;
	int result;
	char input[DIALOG_TEXT_MAX];
	size_t input_len;
	size_t input_max; /* bytes, at most DIALOG_TEXT_MAX - 1 */
	int flags;
	char ticket[COUNTER_NUMBER_MAX]; /* the window's ticket when the dialog opened */
};

/* Opens a dialog of a kind for a purpose with a title, clearing everything else. */
void dialog_open(struct dialog *d, enum dialog_kind kind, enum dialog_purpose purpose,
		 const char *title);
/* Adds a list item; returns -1 when the list is full. */
int dialog_add_item(struct dialog *d, const char *key, const char *label);
/* Feeds one key; returns DIALOG_OPEN while it wants more, then DIALOG_DONE (with result,
 * input or the selected item) or DIALOG_CANCELLED. The dialog is closed (kind DIALOG_NONE)
 * on the last two. */
enum dialog_result dialog_key(struct dialog *d, int key);
/* Whether a dialog is showing. */
bool dialog_is_open(const struct dialog *d);

/* app.c */

struct app_ticket {
	bool present;
	char id[COUNTER_ID_MAX];
	char number[COUNTER_NUMBER_MAX];
	char service[COUNTER_ID_MAX];
	char ticket_class[16];
	char state[16];
	long long issued_at, called_at, started_at, finished_at;
	int window;
	char clerk[COUNTER_ID_MAX];
	int recalls, transfers;
};

struct app_service {
	char id[COUNTER_ID_MAX];
	char name[COUNTER_NAME_MAX];
	char name_en[COUNTER_NAME_MAX];
	int waiting;
	int ewt; /* seconds */
	int ewt_low, ewt_high; /* its 10th and 90th percentiles, seconds; -1 when not sent */
};

struct app_window {
	int id;
	char name[COUNTER_NAME_MAX];
	char name_en[COUNTER_NAME_MAX];
	bool comprehensive;
	char services[COUNTER_WINDOW_SVCS]; /* ",A,B," */
	char state[16];
	char reason[COUNTER_REASON_MAX];
	char ticket[COUNTER_NUMBER_MAX]; /* the called or serving ticket's number, or "" */
	char clerk[COUNTER_ID_MAX];
	long long since; /* epoch seconds of its last state change, 0 when the server does not say */
};

struct app {
	/* Options. */
	char server[1100]; /* one address or several, comma-separated */
	char site_id[COUNTER_ID_MAX]; /* --site: the site to sign in at in a region; empty: none */
	char user[COUNTER_ID_MAX];
	char password[COUNTER_PASSWORD_MAX];
	int window_id;

	/* What the server told us; kept while it is away. */
	bool signed_in; /* on_ready ran at least once */
	bool ready;	/* the session is up now */
	char site_name[COUNTER_NAME_MAX];
	char site_name_en[COUNTER_NAME_MAX];
	char site_date[16];
	char user_name[COUNTER_NAME_MAX];
	struct app_window me;
	struct app_ticket current;
	struct app_ticket queue[COUNTER_QUEUE_MAX];
	int nqueue;
	bool queue_known;
	struct app_service services[COUNTER_SERVICES_MAX];
	int nservices;
	struct app_window windows[COUNTER_WINDOWS_MAX];
	int nwindows;

	/* The clerk's counts today: from the stats op when the server has it, else counted from
	 * this session's events. */
	bool stats_from_server;
	bool stats_unavailable; /* the server has no stats op: stop asking */
	int served;
	long long service_seconds; /* sum, for the mean */

	/* The server's clock: server_time at local monotonic time anchor_ms. */
	long long server_time;
	long long anchor_ms;

	/* The status line. */
	char message[COUNTER_MESSAGE_MAX];
	bool message_is_error;
	long long message_at_ms; /* monotonic ms it was set, so it clears after a while */
	bool site_known;	 /* the site's time zone is set: the clock shows hall time */

	struct dialog dialog;
	/* The transfer being set up across its dialogs. */
	char transfer_service[COUNTER_ID_MAX];
	int transfer_window;
	char call_number[COUNTER_NUMBER_MAX];

	/* The loop. */
	struct event_base *base;
	struct client *client;
	struct event *queue_timer;
	bool queue_in_flight;
	bool queue_again;
	bool stats_in_flight;
	bool stats_again; /* counts changed while a stats request was out: ask once more */
	bool quit;
};

/* snprintf that, when it must cut, cuts before a whole UTF-8 character rather than inside one
 * (a half Chinese character would show as garbage). */
void app_format(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Copies a string member of a JSON object into out, or "" when absent or not a string. */
void app_json_string(const cJSON *obj, const char *name, char *out, size_t size);
/* Reads an integer member, or fallback when absent, null or not a number. */
long long app_json_int(const cJSON *obj, const char *name, long long fallback);
/* Fills a ticket from its JSON object; a NULL or non-object clears it. */
void app_ticket_from_json(struct app_ticket *t, const cJSON *obj);
/* Fills a window from its JSON object. */
void app_window_from_json(struct app_window *w, const cJSON *obj);
/* Whether the clerk's window calls tickets of service id. */
bool app_window_serves(const struct app_window *w, const char *service);
/* Takes site, user and window from a hello response. */
void app_apply_hello(struct app *app, const cJSON *hello);
/* Takes services, windows and the server time from a snapshot response. */
void app_apply_snapshot(struct app *app, const cJSON *snapshot);
/* Replaces the next tickets from a queue response's "tickets". */
void app_apply_queue(struct app *app, const cJSON *tickets);
/* Takes the clerk's counts from a stats response's rows (none: nothing served yet); returns
 * whether the clerk's row was there. */
bool app_apply_stats(struct app *app, const cJSON *rows);
/* Applies a window object (from an event or a response); returns true when it is ours and its
 * ticket changed to one we do not have (the caller fetches it). */
bool app_apply_window(struct app *app, const cJSON *window);
/* Applies a ticket object (from an event or a response): the current ticket, session counts. */
void app_apply_ticket(struct app *app, const cJSON *ticket, bool from_event);
/* Applies a queue event's counts to its service; returns whether the window serves it. */
bool app_apply_queue_event(struct app *app, const cJSON *event);
/* Moves the server clock estimate forward to a time the server reported as now. */
void app_clock_seen(struct app *app, long long server_now, bool authoritative);
/* The server's time now, estimated from the last time it told us. */
long long app_now(const struct app *app);
/* The service of that id, or NULL. */
const struct app_service *app_service(const struct app *app, const char *id);
/* Sets the status line's message (printf-style). */
void app_message(struct app *app, bool is_error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The status line's message now: "" once it has been up long enough (errors stay longer). */
const char *app_message_now(const struct app *app, long long now_ms);
/* Milliseconds of the monotonic clock. */
long long app_monotonic_ms(void);
/* Takes the site's time zone (and names) from a site object, so the clock shows hall time. */
void app_apply_site(struct app *app, const cJSON *site);
/* The mean service time of the clerk today in seconds, or -1 when nothing was served. */
long long app_mean_service(const struct app *app);
/* What Next (F1/n) will do to the ticket at the window, for the screen; "" without one. */
void app_next_effect(const struct app *app, char *out, size_t size);

/* link.c */

/* Creates the connection (hello as the clerk, subscribe, snapshot); returns -1 on a bad address. */
int link_start(struct app *app);
/* Closes the connection. */
void link_stop(struct app *app);
/* Sends a window op with args (taken, may be NULL); the answer is applied and any error shown.
 * Returns -1 (with a message on the status line) when it cannot be sent. */
int link_send(struct app *app, const char *op, cJSON *args);
/* What to do after an action succeeds. */
enum link_then { THEN_NOTHING, THEN_CALL_NEXT, THEN_QUIT };
/* link_send, then (when the answer is ok) call the next ticket or quit the console. */
int link_send_then(struct app *app, const char *op, cJSON *args, enum link_then then);
/* Asks for the queue soon (debounced): events say it changed. */
void link_queue_changed(struct app *app);
/* Signs in again with the password now in app->password. */
void link_sign_in_again(struct app *app);
/* The connection's state for the status line. */
const char *link_status(struct app *app);

/* actions.c */

/* Runs an action from the key map (opening a dialog first when it needs an answer). */
void actions_run(struct app *app, enum action action);
/* Feeds a key to the open dialog and acts on its answer. */
void actions_dialog_key(struct app *app, int key);
/* Opens the sign-in dialog after a refused hello. */
void actions_ask_password(struct app *app, const char *why);
/* Offers to sign in again (or quit) after a hello refused for the window, not the password. */
void actions_ask_retry(struct app *app, const char *why);

/* screen.c */

/* Draws everything on stdscr and refreshes the terminal. */
void screen_draw(struct app *app);

/* term.c */

/* Sets up curses, the key, resize and signal events, and the screen timers. */
int term_start(struct app *app);
/* Redraws from the loop soon (coalesces bursts of events into one redraw). */
void term_dirty(struct app *app);
/* Frees the events and restores the terminal; safe to call twice and from atexit. */
void term_stop(void);

#endif
