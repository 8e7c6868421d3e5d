/* The ticket kiosk and printer: one internal header, grouped by file (as tmux does).
 *
 *   escpos.c   the ESC/POS encoder (init, alignment, sizes, text in GB18030 or a code page, QR, cut)
 *   ticket.c   the ticket read from a take response and the site, laid out as lines, then
 *              encoded as ESC/POS or as a plain-text preview
 *   output.c   where tickets go: a device, a raw TCP port, a file, or stdout as a preview
 *   oneshot.c  the non-interactive mode (--take, --reprint) over the blocking client
 *   kiosk.c    the ncursesw kiosk screen on a libevent loop
 *   main.c     options
 */
#ifndef QHALL_PRINTER_H
#define QHALL_PRINTER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define PRINTER_VERSION "0.1.0"

/* ---- escpos.c ---- */

/* A printer character set: how text is turned into bytes. */
struct escpos_codepage {
	const char *name;	/* as given to --codepage */
	const char *iconv_name; /* target of iconv; NULL sends UTF-8 as it is */
	int table;		/* ESC t n to select it, or -1 to send none */
	bool cjk;		/* Chinese can be printed (GB18030 inside FS & ... FS ., or UTF-8) */
	bool kanji_mode;	/* non-ASCII runs are wrapped in FS & ... FS . */
};

/* Finds a code page by name (case-insensitive); NULL when unknown. */
const struct escpos_codepage *escpos_codepage_find(const char *name);
/* The default: GB18030 in Chinese mode, what Chinese thermal printers expect. */
const struct escpos_codepage *escpos_codepage_default(void);
/* Writes the known names, comma separated, into buf. */
void escpos_codepage_list(char *buf, size_t len);

/* A ticket is small; a bound keeps a bad input from growing memory. */
#define ESCPOS_MAX_BYTES 16384

enum escpos_align { ESCPOS_LEFT = 0, ESCPOS_CENTER = 1, ESCPOS_RIGHT = 2 };

/* One command stream being built. Errors are sticky: after the first, calls do nothing and
 * escpos_ok() is false, so a caller checks once at the end. */
struct escpos {
	unsigned char bytes[ESCPOS_MAX_BYTES];
	size_t len;
	const struct escpos_codepage *codepage;
	bool failed;
	char error[128];
};

/* Starts a stream: ESC @ (initialize) and, for a code page printer, ESC t n. */
void escpos_begin(struct escpos *p, const struct escpos_codepage *codepage);
/* ESC a n: left, centre or right. */
void escpos_align(struct escpos *p, enum escpos_align align);
/* GS ! n: character width and height multipliers, each 1..8. */
void escpos_size(struct escpos *p, int width, int height);
/* ESC E n: emphasis on or off. */
void escpos_bold(struct escpos *p, bool on);
/* Prints UTF-8 text in the stream's encoding (no newline). */
void escpos_text(struct escpos *p, const char *utf8);
/* LF. */
void escpos_newline(struct escpos *p);
/* ESC d n: feeds n lines. */
void escpos_feed(struct escpos *p, int lines);
/* GS ( k: a model 2 QR code of data with the module size (1..16) and error correction level
 * ('L', 'M', 'Q' or 'H'): select model, size, level, store the data, print it. */
void escpos_qr(struct escpos *p, const char *data, int module_size, char level);
/* GS V 66 n: feeds to the cutter and cuts (partial cut, as most kiosks use). */
void escpos_cut(struct escpos *p);
/* Whether every call so far succeeded. */
bool escpos_ok(const struct escpos *p);

/* ---- ticket.c ---- */

#define TICKET_TEXT_MAX 192

/* What a ticket says, read from a take (or ticket) response and the site. */
struct ticket_info {
	char id[64];
	char number[16];
	char service[32];
	char ticket_class[16];
	char service_name[TICKET_TEXT_MAX];
	char service_name_en[TICKET_TEXT_MAX];
	char hall_name[TICKET_TEXT_MAX];
	char hall_name_en[TICKET_TEXT_MAX];
	char tz[64];
	char hours[7][24]; /* Monday first: "09:00-20:00", or "" when closed that day */
	bool hours_known;
	long issued_at;
	int ahead; /* -1 when not given */
	long ewt;  /* -1 when not given */
	long ewt_low, ewt_high; /* the estimate's range (protocol 2); -1 when not given */
	bool reprint;
	char status_url[TICKET_TEXT_MAX]; /* the take reply's status_url: the QR code holds it */
};

enum ticket_line_kind { TICKET_TEXT, TICKET_RULE, TICKET_QR, TICKET_FEED };

/* One line of the laid-out ticket. text is bilingual; text_en is what a printer without
 * Chinese prints instead ("" drops the line there). */
struct ticket_line {
	enum ticket_line_kind kind;
	enum escpos_align align;
	int width, height; /* size multipliers */
	bool bold;
	char text[TICKET_TEXT_MAX * 2];
	char text_en[TICKET_TEXT_MAX * 2];
};

#define TICKET_MAX_LINES 32
#define TICKET_NUMBER_SIZE 4 /* the number's width and height multiplier on paper */

struct ticket_layout {
	struct ticket_line lines[TICKET_MAX_LINES];
	int count;
	int columns; /* characters of the paper at normal size */
};

/* Fills t from a ticket object and the site and services of hello/site/snapshot (services may
 * be NULL: the service's names are then its id). Returns 0, or -1 with a reason in err. */
void ticket_info_status_url(struct ticket_info *t, const cJSON *take_reply);
int ticket_info_from_json(struct ticket_info *t, const cJSON *ticket, const cJSON *site,
			  const cJSON *services, char *err, size_t errlen);
/* Lays the ticket out for paper of the given width in characters (32 for 58 mm, 48 for 80 mm). */
void ticket_layout(const struct ticket_info *t, int columns, struct ticket_layout *out);
/* Encodes the layout as ESC/POS, ending with a cut; 0 or -1 (p->error says why). */
int ticket_encode(const struct ticket_layout *layout, struct escpos *p);
/* Writes the layout as plain UTF-8 text, centred lines padded with spaces; returns the length
 * (the text is cut short, still NUL-terminated, when buf is too small). */
size_t ticket_preview(const struct ticket_layout *layout, char *buf, size_t len);
/* Formats epoch seconds in the time zone tz as "2026-11-27 10:00" (fmt is strftime's); "" on
 * failure. */
void ticket_format_time(long t, const char *tz, const char *fmt, char *buf, size_t len)
	__attribute__((format(strftime, 3, 0)));
/* Formats an estimated wait: "约 15 分钟" and "about 15 min". */
void ticket_format_wait(long ewt, char *zh, size_t zhlen, char *en, size_t enlen);
/* Formats the estimate's range when low and high are given (>= 0) and differ in minutes
 * ("约 5-15 分钟", "5-15 min"), else the single estimate as ticket_format_wait. */
void ticket_format_estimate(long ewt, long low, long high, char *zh, size_t zhlen, char *en, size_t enlen);
/* A service's figures on the kiosk: what a new ticket would be told (ahead, the estimate or its
 * range); ahead < 0 (not sent) falls back to the waiting count. */
void ticket_format_figures(int ahead, int waiting, long ewt, long low, long high, char *out, size_t len);
/* Writes the week's hours compactly: "Mon-Fri 09:00-20:00, Sat 09:00-16:00", and the same in
 * Chinese ("周一至周五 09:00-20:00 ..."); "" when unknown. */
void ticket_format_hours(const struct ticket_info *t, char *zh, size_t zhlen, char *en, size_t enlen);

/* ---- output.c ---- */

enum output_kind { OUTPUT_DEVICE, OUTPUT_TCP, OUTPUT_FILE, OUTPUT_PREVIEW };

#define OUTPUT_DEFAULT_TIMEOUT_MS 5000
#define KIOSK_DEFAULT_REPRINT_SECONDS 60
#define OUTPUT_DEFAULT_TCP_PORT "9100"

struct output {
	enum output_kind kind;
	char path[512];	 /* device or file */
	char host[256];	 /* tcp */
	char port[16];	 /* tcp */
	int timeout_ms;	 /* each connect, and the whole of each write */
	int fd;		 /* -1 when closed */
	char label[600]; /* for messages: "file /tmp/x.bin", "printer at 10.0.0.9:9100" */
};

/* Reads DEST: a device path, tcp:HOST[:PORT], file:PATH or "-"; 0, or -1 with err. */
int output_parse(struct output *o, const char *dest, int timeout_ms, char *err, size_t errlen);
/* Opens (connects) the destination, so that a printer that cannot be reached is known before
 * a ticket is taken; 0, or -1 with err. */
int output_open(struct output *o, char *err, size_t errlen);
/* Writes every byte within the timeout; 0, or -1 with err. */
int output_write(struct output *o, const void *bytes, size_t len, char *err, size_t errlen);
/* Checks the printer without printing (open or connect, DLE EOT 1 and 4, the answer if any);
 * 0, or -1 with err saying what is wrong. */
int output_check(const struct output *o, char *err, size_t errlen);
/* Closes (a preview leaves stdout open); safe to call twice. */
void output_close(struct output *o);
/* Opens, writes a whole ticket and closes: ESC/POS bytes, or the preview text for "-". */
int output_print(struct output *o, const struct ticket_layout *layout,
		 const struct escpos_codepage *codepage, char *err, size_t errlen);
/* Writes an already opened output: ESC/POS bytes, or the preview text for "-"; then closes. */
int output_send_ticket(struct output *o, const struct ticket_layout *layout,
		       const struct escpos_codepage *codepage, char *err, size_t errlen);

/* ---- main.c (shared settings) ---- */

struct printer_options {
	const char *server;
	const char *site;	      /* the kiosk's site in a region; NULL for a one-hall server */
	char token[256];
	const char *kiosk_id;
	const char *dest;
	const char *take_service;
	const char *take_class;
	const char *reprint;
	const struct escpos_codepage *codepage;
	int columns;
	int print_timeout_ms;
	int reprint_seconds;  /* R reprints the last ticket only this long after it printed */
	const char *log_file; /* the kiosk's log while the screen is on */
};

/* ---- oneshot.c ---- */

/* Exit codes of the non-interactive mode. */
enum {
	ONESHOT_PRINTED = 0,
	ONESHOT_REFUSED = 1,	      /* the server refused or could not be reached; nothing issued */
	ONESHOT_USAGE = 2,
	ONESHOT_PRINT_FAILED = 3,     /* the printer failed; the ticket issued was cancelled */
	ONESHOT_LEFT_WAITING = 4      /* the printer failed and the cancel failed too */
};

/* Takes one ticket (or fetches one to reprint), prints it and returns an exit code above. */
int oneshot_run(const struct printer_options *opt);

/* ---- kiosk.c ---- */

/* Runs the kiosk screen until SIGTERM, SIGINT or SIGHUP; returns the exit code. */
int kiosk_run(const struct printer_options *opt);

#endif
