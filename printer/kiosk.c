/* The kiosk screen: the services with their queues, live from queue events; a ticket taken with
 * `take` and printed; opening hours; reprint. One libevent loop carries the keyboard, the
 * server connection (common/client.c), the signals and the timers. Printing itself is a short
 * blocking write bounded by --print-timeout. */
#include "printer.h"

#include "client.h"
#include "log.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#define KIOSK_MAX_SERVICES 64
#define KIOSK_TICKET_SECONDS 15	 /* a printed ticket stays on screen this long */
#define KIOSK_MESSAGE_SECONDS 12 /* and a message this long */
#define KIOSK_REFRESH_SECONDS 30 /* the site (open or closed) is read again this often */
#define KIOSK_TAKE_TIMEOUT_MS 8000
#define KIOSK_SERVICES_DEBOUNCE_MS 200 /* queue events closer than this cause one services read */
#define KIOSK_CHECK_SECONDS 5	       /* the idle kiosk checks its printer this often */
#define KIOSK_FAULT_CHECK_SECONDS 2    /* and this often while it is out of service */
#define KIOSK_CODE_MAX 16	       /* an appointment code as typed: 8 characters, dashes, spaces */
#define KIOSK_CHECKIN_SECONDS 60       /* an abandoned check-in goes back to the list */

struct kiosk_service {
	char id[32];
	char name[TICKET_TEXT_MAX];
	char name_en[TICKET_TEXT_MAX];
	int waiting;
	int ahead;		/* what a new ticket would be told; -1 from a server without it */
	long ewt, ewt_low, ewt_high; /* -1 when not given */
};

enum kiosk_mode {
	KIOSK_LIST,	       /* choosing a service */
	KIOSK_CONFIRM_PRIORITY, /* "priority tickets are for ...; Y to confirm" */
	KIOSK_BUSY,	       /* a take is at the server */
	KIOSK_TICKET,	       /* the ticket just printed */
	KIOSK_MESSAGE,	       /* an error or a notice */
	KIOSK_CHECKIN,	       /* typing or scanning an appointment code */
	KIOSK_LATE	       /* the check-in closed: a normal ticket is offered */
};

struct kiosk {
	const struct printer_options *opt;
	struct event_base *base;
	struct client *client;
	struct event *stdin_event, *tick_event, *services_timer;
	struct event *signal_events[4];
	struct output out;

	cJSON *site;	 /* the last site object from snapshot or site */
	cJSON *services; /* the last services array (names), for tickets */
	struct kiosk_service list[KIOSK_MAX_SERVICES];
	int count;
	int selected;
	bool hall_open;
	long opens_at;	     /* 0 when unknown or never */
	long server_offset;  /* server clock minus ours, for the clock in the corner */
	time_t next_refresh; /* when to read the site again */

	enum kiosk_mode mode;
	time_t mode_until; /* when a ticket or a message goes back to the list (0: stays) */
	char message[600];
	bool message_is_error;
	struct ticket_layout shown; /* the ticket on screen */

	char unprinted_number[16]; /* a ticket being cancelled because it was not printed */
	char unprinted_reason[512];

	char code[KIOSK_CODE_MAX + 1]; /* the appointment code being typed */
	char late_service[32];	       /* the service of an appointment too late to check in */
	long late_until;	       /* when its check-in closed */

	bool have_last; /* the last ticket printed here, for reprint within --reprint-window */
	struct ticket_info last;
	time_t last_printed_at;

	bool printer_fault; /* the last check (or print) failed: out of service until one works */
	char fault_reason[512];
	time_t next_check;

	bool stopping;
	bool curses_on;
	int saved_stderr; /* the terminal's stderr while logs go to --log-file, or -1 */
	int idle_reads; /* read events that gave no key: a lost terminal */
};

static void kiosk_draw(struct kiosk *k);

/* Shows a message for a while; error messages are also logged for the staff. */
__attribute__((format(printf, 3, 4))) static void kiosk_message(struct kiosk *k, bool error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(k->message, sizeof k->message, fmt, ap);
	va_end(ap);
	k->message_is_error = error;
	k->mode = KIOSK_MESSAGE;
	k->mode_until = time(NULL) + KIOSK_MESSAGE_SECONDS;
	if (error) {
		char one_line[sizeof k->message];
		snprintf(one_line, sizeof one_line, "%s", k->message);
		for (char *c = one_line; *c; c++)
			*c = *c == '\n' ? ' ' : *c;
		log_warn("%s", one_line);
	}
}

/* Records the printer as faulty (the kiosk then shows "out of service" until a check works). */
static void kiosk_printer_failed(struct kiosk *k, const char *reason)
{
	if (!k->printer_fault)
		log_warn("printer fault, out of service: %s", reason);
	k->printer_fault = true;
	snprintf(k->fault_reason, sizeof k->fault_reason, "%s", reason);
	k->next_check = time(NULL) + KIOSK_FAULT_CHECK_SECONDS;
}

/* Checks the printer now unless a ticket is being printed; a check that works again puts the
 * kiosk back in service. */
static void kiosk_check_printer(struct kiosk *k)
{
	if (k->out.fd >= 0)
		return;
	char err[512];
	if (output_check(&k->out, err, sizeof err) < 0) {
		kiosk_printer_failed(k, err);
		return;
	}
	if (k->printer_fault)
		log_warn("printer works again: back in service");
	k->printer_fault = false;
	k->fault_reason[0] = '\0';
	k->next_check = time(NULL) + KIOSK_CHECK_SECONDS;
}

/* Reads a string member into buf, keeping buf when absent. */
static void kiosk_copy(const cJSON *o, const char *name, char *buf, size_t len)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, name);
	if (cJSON_IsString(item))
		snprintf(buf, len, "%s", item->valuestring);
}

/* Reads a number member, or fallback. */
static long kiosk_number(const cJSON *o, const char *name, long fallback)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(item) ? (long)item->valuedouble : fallback;
}

/* Takes the site object (open, opens_at, clock, time zone) from a snapshot or site answer. */
static void kiosk_load_site(struct kiosk *k, const cJSON *site)
{
	if (!cJSON_IsObject(site))
		return;
	cJSON *copy = cJSON_Duplicate(site, true);
	if (!copy)
		return;
	cJSON_Delete(k->site);
	k->site = copy;
	k->hall_open = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(site, "open"));
	k->opens_at = kiosk_number(site, "opens_at", 0);
	long server_time = kiosk_number(site, "time", 0);
	if (server_time > 0)
		k->server_offset = server_time - (long)time(NULL);
}

/* Takes the services (names, waiting, ewt), keeping the selection in range. */
static void kiosk_load_services(struct kiosk *k, const cJSON *services)
{
	if (!cJSON_IsArray(services))
		return;
	cJSON *copy = cJSON_Duplicate(services, true);
	if (!copy)
		return;
	cJSON_Delete(k->services);
	k->services = copy;
	k->count = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, services)
	{
		if (k->count >= KIOSK_MAX_SERVICES)
			break;
		struct kiosk_service *ks = &k->list[k->count];
		memset(ks, 0, sizeof *ks);
		kiosk_copy(s, "id", ks->id, sizeof ks->id);
		if (!ks->id[0])
			continue;
		kiosk_copy(s, "name", ks->name, sizeof ks->name);
		kiosk_copy(s, "name_en", ks->name_en, sizeof ks->name_en);
		ks->waiting = (int)kiosk_number(s, "waiting", 0);
		ks->ahead = (int)kiosk_number(s, "ahead", -1);
		ks->ewt = kiosk_number(s, "ewt", -1);
		ks->ewt_low = kiosk_number(s, "ewt_low", -1);
		ks->ewt_high = kiosk_number(s, "ewt_high", -1);
		k->count++;
	}
	if (k->selected >= k->count)
		k->selected = k->count ? k->count - 1 : 0;
}

/* The time zone of the hall, for every time shown. */
static const char *kiosk_tz(const struct kiosk *k)
{
	const cJSON *tz = cJSON_GetObjectItemCaseSensitive(k->site, "tz");
	return cJSON_IsString(tz) ? tz->valuestring : "Asia/Shanghai";
}

/* Formats when the hall opens ("2026-11-30 09:00 周一 Mon"), or "" when it is not known. */
static void kiosk_opens_text(const struct kiosk *k, long opens_at, char *zh, size_t zhlen, char *en, size_t enlen)
{
	static const char *const zh_days[7] = {"周一", "周二", "周三", "周四", "周五", "周六", "周日"};
	zh[0] = en[0] = '\0';
	if (opens_at <= 0)
		return;
	char when[48], day[8];
	ticket_format_time(opens_at, kiosk_tz(k), "%Y-%m-%d %H:%M", when, sizeof when);
	ticket_format_time(opens_at, kiosk_tz(k), "%u", day, sizeof day);
	int wd = atoi(day);
	char en_day[8];
	ticket_format_time(opens_at, kiosk_tz(k), "%a", en_day, sizeof en_day);
	snprintf(zh, zhlen, "%s %s", when, wd >= 1 && wd <= 7 ? zh_days[wd - 1] : "");
	snprintf(en, enlen, "%s %s", en_day, when);
}

/* Shows that the hall is closed and when it opens. */
static void kiosk_closed_message(struct kiosk *k, long opens_at)
{
	char zh[80], en[80];
	kiosk_opens_text(k, opens_at, zh, sizeof zh, en, sizeof en);
	if (zh[0])
		kiosk_message(k, false, "现在不在办公时间，%s 开始取号。\nThe hall is closed now; it opens %s.", zh, en);
	else
		kiosk_message(k, false, "现在不在办公时间。\nThe hall is closed now.");
}

/* Sends the shown ticket to the opened printer; with "-" the screen is the only output (stdout
 * is the kiosk's own terminal). */
static int kiosk_send(struct kiosk *k, char *err, size_t errlen)
{
	if (k->out.kind == OUTPUT_PREVIEW) {
		output_close(&k->out);
		return 0;
	}
	return output_send_ticket(&k->out, &k->shown, k->opt->codepage, err, errlen);
}

/* Answer to a cancel of a ticket that could not be printed: says what became of it. */
static void kiosk_on_cancel(void *arg, cJSON *resp)
{
	struct kiosk *k = arg;
	if (k->stopping)
		return;
	bool ok = resp && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"));
	const char *number = k->unprinted_number, *reason = k->unprinted_reason;
	if (ok) {
		log_warn("ticket %s cancelled", number);
		kiosk_message(k, true,
			      "打印机故障，号票 %s 已取消，请联系工作人员。\nThe printer failed: ticket %s was cancelled. "
			      "Please ask the staff.\n(%s)",
			      number, number, reason);
	} else {
		log_error("ticket %s could not be cancelled: it waits with no paper ticket", number);
		kiosk_message(k, true,
			      "打印机故障，号票 %s 未打印，也未能取消，请联系工作人员！\nThe printer failed: ticket %s "
			      "was issued but NOT printed and could not be cancelled. Please tell the staff.\n(%s)",
			      number, number, reason);
	}
	kiosk_draw(k);
}

/* Answer to take: print the ticket, or cancel it if the printer fails, or say why not. */
static void kiosk_on_take(void *arg, cJSON *resp)
{
	struct kiosk *k = arg;
	if (k->stopping) {
		output_close(&k->out);
		return;
	}
	char err[512];
	if (!resp) {
		output_close(&k->out);
		kiosk_message(k, true,
			      "服务器没有回应，请联系工作人员。\nThe server did not answer in time; if a ticket was issued it "
			      "was not printed. Please ask the staff.");
		kiosk_draw(k);
		return;
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"))) {
		output_close(&k->out);
		const cJSON *error = cJSON_GetObjectItemCaseSensitive(resp, "error");
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
		const cJSON *message = cJSON_GetObjectItemCaseSensitive(error, "message");
		if (cJSON_IsString(code) && strcmp(code->valuestring, "closed") == 0) {
			k->hall_open = false;
			k->opens_at = kiosk_number(resp, "opens_at", 0);
			kiosk_closed_message(k, k->opens_at);
		} else {
			kiosk_message(k, true, "不能取号。\nNo ticket: %s",
				      cJSON_IsString(message) ? message->valuestring : "the server refused");
		}
		kiosk_draw(k);
		return;
	}
	struct ticket_info info;
	if (ticket_info_from_json(&info, cJSON_GetObjectItemCaseSensitive(resp, "ticket"), k->site, k->services, err,
				  sizeof err) < 0) {
		output_close(&k->out);
		kiosk_message(k, true, "出票错误，请联系工作人员。\n%s. Please ask the staff.", err);
		kiosk_draw(k);
		return;
	}
	ticket_info_status_url(&info, resp);
	ticket_layout(&info, k->opt->columns, &k->shown);
	if (kiosk_send(k, err, sizeof err) < 0) {
		cJSON *args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "ticket", info.id);
		snprintf(k->unprinted_number, sizeof k->unprinted_number, "%s", info.number);
		snprintf(k->unprinted_reason, sizeof k->unprinted_reason, "%s", err);
		log_error("ticket %s (%s) not printed: %s; cancelling it", info.number, info.id, err);
		kiosk_printer_failed(k, err);
		if (client_request(k->client, "cancel", args, kiosk_on_cancel, k) < 0) {
			kiosk_message(k, true,
				      "打印机故障，号票 %s 未打印，也未能取消，请联系工作人员！\nThe printer failed: "
				      "ticket %s was issued but NOT printed and could not be cancelled. Please tell the staff.\n(%s)",
				      info.number, info.number, err);
			kiosk_draw(k);
		}
		return;
	}
	k->last = info;
	k->have_last = true;
	k->last_printed_at = time(NULL);
	k->mode = KIOSK_TICKET;
	k->mode_until = time(NULL) + KIOSK_TICKET_SECONDS;
	log_info("printed %s (%s)", info.number, info.id);
	kiosk_draw(k);
}

/* Sends a request that issues a ticket (take, checkin; args taken): the printer is opened
 * first, so a dead printer costs no ticket; the kiosk waits for the answer in on_answer. */
static void kiosk_issue(struct kiosk *k, const char *op, cJSON *args, client_reply_fn on_answer)
{
	char err[512];
	if (!client_is_ready(k->client)) {
		kiosk_message(k, true, "暂时无法取号，请稍候。\nNot connected to the server (%s); please wait a moment.",
			      client_status_text(k->client));
	} else if (!k->hall_open) {
		kiosk_closed_message(k, k->opens_at);
	} else if (k->printer_fault) {
		/* the screen says out of service */
	} else if (output_open(&k->out, err, sizeof err) < 0) {
		kiosk_printer_failed(k, err);
		kiosk_message(k, true, "打印机故障，没有出票，请联系工作人员。\nNo ticket was taken: the printer cannot be used. Please ask the staff.\n(%s)", err);
	} else {
		if (client_request_timeout(k->client, op, args, KIOSK_TAKE_TIMEOUT_MS, on_answer, k) < 0) {
			output_close(&k->out);
			kiosk_message(k, true, "暂时无法取号，请稍候。\nThe request could not be sent; please try again.");
			return;
		}
		k->mode = KIOSK_BUSY;
		k->mode_until = 0;
		return;
	}
	cJSON_Delete(args);
}

/* Takes a ticket of the chosen service. */
static void kiosk_take(struct kiosk *k, bool priority)
{
	if (k->count == 0)
		return;
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "service", k->list[k->selected].id);
	cJSON_AddStringToObject(args, "class", priority ? "priority" : "normal");
	kiosk_issue(k, "take", args, kiosk_on_take);
}

/* ---- appointment check-in ---- */

/* The index of a service in the list, or -1. */
static int kiosk_service_index(const struct kiosk *k, const char *id)
{
	for (int i = 0; i < k->count; i++)
		if (strcmp(k->list[i].id, id) == 0)
			return i;
	return -1;
}

/* Answer to `appointment` for a citizen too late to check in: offers a normal ticket of the
 * appointment's service. */
static void kiosk_on_late_appointment(void *arg, cJSON *resp)
{
	struct kiosk *k = arg;
	if (k->stopping)
		return;
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(resp, "appointment");
	k->late_service[0] = '\0';
	kiosk_copy(a, "service", k->late_service, sizeof k->late_service);
	if (kiosk_service_index(k, k->late_service) < 0) {
		kiosk_message(k, false, "您已错过预约签到时间，请重新取号。\nCheck-in for your appointment has closed; please take a ticket.");
	} else {
		k->mode = KIOSK_LATE;
		k->mode_until = time(NULL) + KIOSK_CHECKIN_SECONDS;
	}
	kiosk_draw(k);
}

/* Answer to `checkin`: the appointment's ticket is printed as a taken one is; too early or
 * too late is explained, and a late citizen is offered a normal ticket. */
static void kiosk_on_checkin(void *arg, cJSON *resp)
{
	struct kiosk *k = arg;
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(resp, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
	if (k->stopping || !cJSON_IsString(code) || strcmp(code->valuestring, "closed") == 0) {
		kiosk_on_take(arg, resp); /* printed, closed, no answer: as for a take */
		return;
	}
	output_close(&k->out);
	long from = kiosk_number(resp, "checkin_from", 0), until = kiosk_number(resp, "checkin_until", 0);
	char when[16] = "";
	if (from > 0) {
		ticket_format_time(from, kiosk_tz(k), "%H:%M", when, sizeof when);
		kiosk_message(k, false, "预约签到还未开始，请于 %s 后再来签到。\nCheck-in for your appointment opens at %s; please come back then.",
			      when, when);
	} else if (until > 0) {
		k->late_until = until;
		cJSON *args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "code", k->code);
		if (client_request(k->client, "appointment", args, kiosk_on_late_appointment, k) < 0)
			kiosk_message(k, false, "您已错过预约签到时间，请重新取号。\nCheck-in for your appointment has closed; please take a ticket.");
	} else if (strcmp(code->valuestring, "not_found") == 0 || strcmp(code->valuestring, "bad_request") == 0) {
		kiosk_message(k, false, "没有找到该预约，请核对预约码（8 位字母和数字）。\nNo appointment has this code; please check its 8 letters and digits.");
	} else {
		const cJSON *message = cJSON_GetObjectItemCaseSensitive(error, "message");
		kiosk_message(k, false, "不能签到。\nNo check-in: %s", cJSON_IsString(message) ? message->valuestring : "the server refused");
	}
	kiosk_draw(k);
}

/* Sends the typed code to `checkin`. */
static void kiosk_checkin(struct kiosk *k)
{
	if (!k->code[0])
		return;
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "code", k->code);
	kiosk_issue(k, "checkin", args, kiosk_on_checkin);
}

/* A key while a code is typed: letters, digits and dashes are kept, Backspace takes one back,
 * Enter checks in, Esc goes back to the list. */
static void kiosk_checkin_key(struct kiosk *k, wint_t key, bool function_key)
{
	size_t n = strlen(k->code);
	k->mode_until = time(NULL) + KIOSK_CHECKIN_SECONDS;
	if ((function_key && key == KEY_BACKSPACE) || (!function_key && (key == 127 || key == 8))) {
		if (n > 0)
			k->code[n - 1] = '\0';
	} else if ((function_key && key == KEY_ENTER) || (!function_key && (key == '\n' || key == '\r'))) {
		kiosk_checkin(k);
	} else if (!function_key && key == 27) {
		k->mode = KIOSK_LIST;
	} else if (!function_key && n < KIOSK_CODE_MAX &&
		   ((key >= '0' && key <= '9') || (key >= 'A' && key <= 'Z') || (key >= 'a' && key <= 'z') || key == '-')) {
		k->code[n] = (char)(key >= 'a' && key <= 'z' ? key - 32 : key);
		k->code[n + 1] = '\0';
	}
}

/* A key on the late screen: Enter takes a normal ticket of the appointment's service. */
static void kiosk_late_key(struct kiosk *k, wint_t key, bool function_key)
{
	int i = kiosk_service_index(k, k->late_service);
	k->mode = KIOSK_LIST;
	if (i >= 0 && ((function_key && key == KEY_ENTER) || (!function_key && (key == '\n' || key == '\r')))) {
		k->selected = i;
		kiosk_take(k, false);
	}
}

/* Forgets the last ticket once its reprint window has passed: the next citizen at the kiosk
 * must not be able to print the previous one's ticket (a priority one, say). */
static void kiosk_expire_last(struct kiosk *k, time_t now)
{
	if (k->have_last && now - k->last_printed_at > k->opt->reprint_seconds) {
		k->have_last = false;
		memset(&k->last, 0, sizeof k->last);
	}
}

/* Prints the last ticket again, marked as a reprint, only within --reprint-window of its printing. */
static void kiosk_reprint(struct kiosk *k)
{
	kiosk_expire_last(k, time(NULL));
	if (!k->have_last) {
		kiosk_message(k, false,
			      "只能在出票后 %d 秒内补打。\nA ticket can be reprinted only within %d s of its printing.",
			      k->opt->reprint_seconds, k->opt->reprint_seconds);
		return;
	}
	struct ticket_info info = k->last;
	info.reprint = true;
	char err[512];
	ticket_layout(&info, k->opt->columns, &k->shown);
	if (output_open(&k->out, err, sizeof err) < 0 || kiosk_send(k, err, sizeof err) < 0) {
		kiosk_message(k, true, "补打失败，请联系工作人员。\nThe reprint of %s failed; the ticket is still valid. Please ask the staff.\n(%s)",
			      info.number, err);
		return;
	}
	k->mode = KIOSK_TICKET;
	k->mode_until = time(NULL) + KIOSK_TICKET_SECONDS;
}

/* ---- drawing ---- */

/* Draws UTF-8 text at (y, x) in at most max_cols terminal columns; returns the columns used. */
static int kiosk_put(int y, int x, int max_cols, const char *text)
{
	wchar_t wide[256];
	int count = 0, cols = 0;
	mbstate_t st;
	memset(&st, 0, sizeof st);
	const char *s = text;
	size_t left = strlen(text);
	while (left > 0 && count < (int)(sizeof wide / sizeof wide[0]) - 1) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s, left, &st);
		if (n == (size_t)-1 || n == (size_t)-2) {
			wc = L'?';
			n = 1;
			memset(&st, 0, sizeof st);
		}
		if (n == 0)
			break;
		int w = wcwidth(wc);
		if (w < 0) {
			wc = L'?';
			w = 1;
		}
		if (cols + w > max_cols)
			break;
		wide[count++] = wc;
		cols += w;
		s += n;
		left -= n;
	}
	wide[count] = L'\0';
	if (count > 0 && max_cols > 0)
		mvaddnwstr(y, x, wide, count);
	return cols;
}

/* Counts the terminal columns of UTF-8 text. */
static int kiosk_width(const char *text)
{
	wchar_t wide[256];
	size_t n = mbstowcs(wide, text, sizeof wide / sizeof wide[0] - 1);
	if (n == (size_t)-1)
		return (int)strlen(text);
	wide[n] = L'\0';
	int w = wcswidth(wide, n);
	return w < 0 ? (int)n : w;
}

/* Draws text centred on row y. */
static void kiosk_center(int y, const char *text)
{
	int w = kiosk_width(text);
	kiosk_put(y, w < COLS ? (COLS - w) / 2 : 0, COLS, text);
}

#define KIOSK_BOX_LINES 48

/* Splits one paragraph into lines of at most width columns, at spaces when it can (Chinese has
 * none, so it breaks between characters); appends them to lines. */
static void kiosk_wrap(const char *text, int width, char lines[][400], int *count)
{
	const char *start = text;
	while (*start && *count < KIOSK_BOX_LINES) {
		const char *p = start, *last_space = NULL, *end = NULL;
		int cols = 0;
		mbstate_t st;
		memset(&st, 0, sizeof st);
		while (*p) {
			wchar_t wc;
			size_t n = mbrtowc(&wc, p, strlen(p), &st);
			if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
				wc = L'?';
				n = 1;
				memset(&st, 0, sizeof st);
			}
			int w = wcwidth(wc);
			w = w < 0 ? 1 : w;
			if (cols + w > width) {
				end = last_space ? last_space : p;
				break;
			}
			if (wc == L' ')
				last_space = p;
			cols += w;
			p += n;
		}
		if (!end)
			end = p;
		if (end == start) /* a character wider than the box: take it anyway */
			end = start + 1;
		snprintf(lines[*count], sizeof lines[0], "%.*s", (int)(end - start), start);
		(*count)++;
		start = end;
		while (*start == ' ')
			start++;
	}
}

/* Draws a box of lines (paragraphs split at '\n', wrapped to the screen) in the middle. */
static void kiosk_box(const char *text, bool bold)
{
	static char lines[KIOSK_BOX_LINES][400];
	int n = 0, widest = 0;
	int room = COLS - 4 > 8 ? COLS - 4 : 8;
	for (const char *p = text; *p && n < KIOSK_BOX_LINES;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char paragraph[800];
		snprintf(paragraph, sizeof paragraph, "%.*s", (int)len, p);
		if (!paragraph[0])
			lines[n++][0] = '\0';
		else
			kiosk_wrap(paragraph, room, lines, &n);
		p += len + (nl ? 1 : 0);
	}
	for (int i = 0; i < n; i++) {
		int w = kiosk_width(lines[i]);
		widest = w > widest ? w : widest;
	}
	int width = widest + 4 < COLS ? widest + 4 : COLS;
	int height = n + 2 < LINES ? n + 2 : LINES;
	int top = (LINES - height) / 2, left = (COLS - width) / 2;
	if (bold)
		attron(A_BOLD);
	for (int r = 0; r < height; r++) {
		mvhline(top + r, left, ' ', width);
		if (r == 0 || r == height - 1) {
			mvhline(top + r, left, ACS_HLINE, width);
			mvaddch(top + r, left, r == 0 ? ACS_ULCORNER : ACS_LLCORNER);
			mvaddch(top + r, left + width - 1, r == 0 ? ACS_URCORNER : ACS_LRCORNER);
		} else {
			mvaddch(top + r, left, ACS_VLINE);
			mvaddch(top + r, left + width - 1, ACS_VLINE);
			kiosk_put(top + r, left + 2, width - 4, lines[r - 1]);
		}
	}
	if (bold)
		attroff(A_BOLD);
}

/* Draws the list of services with their queues. */
static void kiosk_draw_list(struct kiosk *k, int top, int bottom)
{
	if (k->printer_fault)
		return; /* nothing to choose while out of service */
	for (int i = 0; i < k->count && top + i < bottom; i++) {
		const struct kiosk_service *s = &k->list[i];
		int y = top + i;
		char num[16], line[200];
		bool chosen = i == k->selected;
		if (chosen)
			attron(A_REVERSE | A_BOLD);
		mvhline(y, 0, ' ', COLS);
		snprintf(num, sizeof num, "%s%d", chosen ? ">" : " ", i + 1);
		kiosk_put(y, 1, 4, num);
		int x = 6;
		/* The figures a new ticket of this service would print, so screen and paper agree;
		 * they keep their room on the right and the English name takes what is left. */
		ticket_format_figures(s->ahead, s->waiting, s->ewt, s->ewt_low, s->ewt_high, line, sizeof line);
		int fig_x = COLS - kiosk_width(line) - 1;
		if (fig_x < x + 27)
			fig_x = x + 27;
		kiosk_put(y, x, 16, s->name);
		kiosk_put(y, x + 17, fig_x - x - 19 < 28 ? fig_x - x - 19 : 28, s->name_en);
		if (COLS > fig_x)
			kiosk_put(y, fig_x, COLS - fig_x, line);
		if (chosen)
			attroff(A_REVERSE | A_BOLD);
	}
}

/* Redraws the whole screen for the current mode. */
static void kiosk_draw(struct kiosk *k)
{
	if (!k->curses_on || k->stopping)
		return;
	erase();
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(k->site, "name");
	const cJSON *name_en = cJSON_GetObjectItemCaseSensitive(k->site, "name_en");
	char header[400], clock_text[16] = "";
	snprintf(header, sizeof header, "%s  %s", cJSON_IsString(name) ? name->valuestring : "qhall",
		 cJSON_IsString(name_en) ? name_en->valuestring : "");
	attron(A_BOLD);
	kiosk_put(0, 1, COLS - 8, header);
	attroff(A_BOLD);
	if (k->site) {
		ticket_format_time((long)time(NULL) + k->server_offset, kiosk_tz(k), "%H:%M", clock_text, sizeof clock_text);
		kiosk_put(0, COLS - 6 > 0 ? COLS - 6 : 0, 6, clock_text);
	}
	mvhline(1, 0, ACS_HLINE, COLS);

	if (!client_is_ready(k->client) && !k->site) {
		kiosk_center(LINES / 2, "正在连接服务器 Connecting to the server...");
		kiosk_center(LINES / 2 + 1, client_status_text(k->client)); /* "hello refused: ..." for a bad token */
	} else if (!k->hall_open) {
		char zh[80], en[80], text[300];
		kiosk_opens_text(k, k->opens_at, zh, sizeof zh, en, sizeof en);
		attron(A_BOLD);
		snprintf(text, sizeof text, "现在不在办公时间%s%s", zh[0] ? "，开始取号时间 " : "", zh);
		kiosk_center(3, text);
		snprintf(text, sizeof text, "The hall is closed%s%s", en[0] ? "; it opens " : "", en);
		kiosk_center(4, text);
		attroff(A_BOLD);
		kiosk_draw_list(k, 6, LINES - 3);
	} else {
		if (!k->printer_fault)
			kiosk_put(2, 1, COLS - 2, "请选择业务  Please choose a service      A 预约签到 Appointment check-in");
		kiosk_draw_list(k, 4, LINES - 3);
	}
	mvhline(LINES - 3, 0, ACS_HLINE, COLS);
	kiosk_put(LINES - 2, 1, COLS - 2,
		  k->printer_fault ? "暂停取号  Out of service"
				   : "↑↓/1-9 选择 choose   Enter 取号 ticket   P 优先 priority   R 补打 reprint");
	char status[1024];
	snprintf(status, sizeof status, "%s  ·  %s  ·  %s", client_status_text(k->client), k->out.label,
		 k->printer_fault ? "打印机故障 printer fault" : "打印机正常 printer ok");
	kiosk_put(LINES - 1, 1, COLS - 2, status);

	/* A faulty printer takes the screen until it works again: no citizen is offered a ticket
	 * that cannot be printed (a message already up, such as a cancelled ticket, shows first). */
	if (k->printer_fault && (k->mode == KIOSK_LIST || k->mode == KIOSK_CONFIRM_PRIORITY)) {
		char text[800];
		snprintf(text, sizeof text,
			 "暂停取号\nOut of service\n\n打印机故障，请联系工作人员。\nThe ticket printer does not work. "
			 "Please ask the staff.\n\n(%s)",
			 k->fault_reason);
		kiosk_box(text, true);
		refresh();
		return;
	}

	switch (k->mode) {
	case KIOSK_LIST:
		break;
	case KIOSK_CONFIRM_PRIORITY: {
		char text[600];
		const struct kiosk_service *s = &k->list[k->selected];
		snprintf(text, sizeof text,
			 "优先号（绿色通道）：老年人、残疾人、孕妇\nPriority tickets are for the elderly, the disabled "
			 "and pregnant women.\n\n%s %s\n\nY 确认 confirm    N 取消 cancel",
			 s->name, s->name_en);
		kiosk_box(text, true);
		break;
	}
	case KIOSK_BUSY:
		kiosk_box("正在出票，请稍候\nPrinting your ticket...", true);
		break;
	case KIOSK_TICKET: {
		char text[8192 + 128];
		size_t used = (size_t)snprintf(text, sizeof text, "请取走号票 Please take your ticket\n\n");
		ticket_preview(&k->shown, text + used, sizeof text - used);
		kiosk_box(text, false);
		break;
	}
	case KIOSK_MESSAGE:
		kiosk_box(k->message, k->message_is_error);
		break;
	case KIOSK_CHECKIN: {
		char text[400];
		snprintf(text, sizeof text,
			 "预约签到  Appointment check-in\n\n请输入或扫描预约码\nType or scan your appointment code\n\n"
			 "[ %-16s ]\n\nEnter 确认 check in    Esc 返回 back", k->code);
		kiosk_box(text, false);
		break;
	}
	case KIOSK_LATE: {
		char text[900], until[16] = "";
		int i = kiosk_service_index(k, k->late_service);
		ticket_format_time(k->late_until, kiosk_tz(k), "%H:%M", until, sizeof until);
		snprintf(text, sizeof text,
			 "您已错过预约签到时间（%s 截止）。\nCheck-in for your appointment closed at %s.\n\n"
			 "可以改取普通号：%s\nYou can take a normal ticket for %s instead.\n\n"
			 "Enter 取普通号 normal ticket    Esc 返回 back",
			 until, until, i >= 0 ? k->list[i].name : "", i >= 0 ? k->list[i].name_en : "");
		kiosk_box(text, false);
		break;
	}
	}
	refresh();
}

/* ---- events ---- */

/* A key: moves the choice, takes a ticket, confirms priority, or dismisses a screen. */
static void kiosk_key(struct kiosk *k, wint_t key, bool function_key)
{
	if (function_key && key == KEY_RESIZE)
		return;
	if (k->printer_fault && (k->mode == KIOSK_LIST || k->mode == KIOSK_CONFIRM_PRIORITY)) {
		k->mode = KIOSK_LIST;
		return; /* out of service: keys do nothing until the printer works */
	}
	switch (k->mode) {
	case KIOSK_BUSY:
		return;
	case KIOSK_TICKET:
	case KIOSK_MESSAGE:
		k->mode = KIOSK_LIST;
		return;
	case KIOSK_CONFIRM_PRIORITY:
		if (!function_key && (key == 'y' || key == 'Y'))
			kiosk_take(k, true);
		else
			k->mode = KIOSK_LIST;
		return;
	case KIOSK_CHECKIN:
		kiosk_checkin_key(k, key, function_key);
		return;
	case KIOSK_LATE:
		kiosk_late_key(k, key, function_key);
		return;
	case KIOSK_LIST:
		break;
	}
	if (function_key) {
		if (key == KEY_UP && k->selected > 0)
			k->selected--;
		else if (key == KEY_DOWN && k->selected + 1 < k->count)
			k->selected++;
		else if (key == KEY_ENTER)
			kiosk_take(k, false);
		return;
	}
	if (key >= '1' && key <= '9' && (int)(key - '1') < k->count)
		k->selected = (int)(key - '1');
	else if (key == '\n' || key == '\r')
		kiosk_take(k, false);
	else if ((key == 'p' || key == 'P') && k->count > 0)
		k->mode = KIOSK_CONFIRM_PRIORITY;
	else if (key == 'r' || key == 'R')
		kiosk_reprint(k);
	else if (key == 'a' || key == 'A') {
		k->code[0] = '\0';
		k->mode = KIOSK_CHECKIN;
		k->mode_until = time(NULL) + KIOSK_CHECKIN_SECONDS;
	}
}

/* Reads every key waiting on stdin. */
static void kiosk_on_stdin(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct kiosk *k = arg;
	wint_t key;
	int rc, keys = 0;
	while ((rc = get_wch(&key)) != ERR) {
		kiosk_key(k, key, rc == KEY_CODE_YES);
		keys++;
	}
	/* A readable stdin that gives no key, again and again, is a terminal that went away. */
	k->idle_reads = keys ? 0 : k->idle_reads + 1;
	if (k->idle_reads > 100) {
		log_warn("the terminal went away; stopping");
		event_base_loopbreak(k->base);
		return;
	}
	kiosk_draw(k);
}

/* Adopts the new terminal size. */
static void kiosk_on_winch(struct kiosk *k)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	clear();
	kiosk_draw(k);
}

/* SIGWINCH redraws; SIGTERM, SIGINT and SIGHUP stop the loop so the terminal is restored. */
static void kiosk_on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct kiosk *k = arg;
	if (sig == SIGWINCH) {
		kiosk_on_winch(k);
		return;
	}
	log_info("signal %d; stopping", (int)sig);
	event_base_loopbreak(k->base);
}

/* Answer to the periodic `site`: whether the hall is open, and fresh queues. */
static void kiosk_on_site(void *arg, cJSON *resp)
{
	struct kiosk *k = arg;
	if (k->stopping || !resp || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok")))
		return;
	kiosk_load_site(k, cJSON_GetObjectItemCaseSensitive(resp, "site"));
	kiosk_load_services(k, cJSON_GetObjectItemCaseSensitive(resp, "services"));
	kiosk_draw(k);
}

/* Once a second: the clock, screens that time out, and the site read again now and then (and
 * right when a closed hall should open). */
static void kiosk_on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct kiosk *k = arg;
	time_t now = time(NULL);
	if ((k->mode == KIOSK_TICKET || k->mode == KIOSK_MESSAGE || k->mode == KIOSK_CHECKIN || k->mode == KIOSK_LATE) &&
	    k->mode_until && now >= k->mode_until)
		k->mode = KIOSK_LIST;
	kiosk_expire_last(k, now);
	if (now >= k->next_check && (k->mode == KIOSK_LIST || k->printer_fault))
		kiosk_check_printer(k);
	bool opening = !k->hall_open && k->opens_at > 0 && (long)now + k->server_offset >= k->opens_at;
	if (client_is_ready(k->client) && (now >= k->next_refresh || opening)) {
		k->next_refresh = now + (opening ? 2 : KIOSK_REFRESH_SECONDS);
		client_request(k->client, "site", NULL, kiosk_on_site, k);
	}
	kiosk_draw(k);
}

/* The session is set up: the snapshot gives the site and the services. */
static void kiosk_on_ready(struct client *c, cJSON *hello, cJSON *snapshot, void *arg)
{
	(void)c;
	struct kiosk *k = arg;
	kiosk_load_site(k, cJSON_GetObjectItemCaseSensitive(hello, "site"));
	kiosk_load_site(k, cJSON_GetObjectItemCaseSensitive(snapshot, "site"));
	kiosk_load_services(k, cJSON_GetObjectItemCaseSensitive(snapshot, "services"));
	k->next_refresh = time(NULL) + KIOSK_REFRESH_SECONDS;
	kiosk_draw(k);
}

/* A queue event: a service's waiting count and estimated wait changed. */
static void kiosk_on_event(struct client *c, cJSON *event, void *arg)
{
	(void)c;
	struct kiosk *k = arg;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(event, "event");
	if (!cJSON_IsString(type) || strcmp(type->valuestring, "queue") != 0)
		return;
	const cJSON *service = cJSON_GetObjectItemCaseSensitive(event, "service");
	for (int i = 0; cJSON_IsString(service) && i < k->count; i++) {
		if (strcmp(k->list[i].id, service->valuestring) == 0) {
			struct kiosk_service *ks = &k->list[i];
			ks->waiting = (int)kiosk_number(event, "waiting", ks->waiting);
			ks->ahead = (int)kiosk_number(event, "ahead", ks->ahead);
			ks->ewt = kiosk_number(event, "ewt", ks->ewt);
			ks->ewt_low = kiosk_number(event, "ewt_low", ks->ewt_low);
			ks->ewt_high = kiosk_number(event, "ewt_high", ks->ewt_high);
		}
	}
	/* In a hall of comprehensive windows a take or a call in one service changes what a new
	 * ticket of every other service would be told, and only the changed service gets an event:
	 * read them all again, so the list never contradicts the ticket it is about to print. */
	if (k->services_timer && !evtimer_pending(k->services_timer, NULL)) {
		struct timeval tv = {0, KIOSK_SERVICES_DEBOUNCE_MS * 1000};
		evtimer_add(k->services_timer, &tv);
	}
	kiosk_draw(k);
}

/* The debounce timer: reads every service's figures once for a burst of queue events. */
static void kiosk_on_services_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct kiosk *k = arg;
	if (client_is_ready(k->client))
		client_request(k->client, "services", NULL, kiosk_on_site, k);
}

/* The hello was refused (a wrong token): shown in the status line, logged for the staff. */
static void kiosk_on_hello_failed(struct client *c, cJSON *response, void *arg)
{
	(void)c;
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(response, "error");
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(error, "message");
	log_error("hello as a kiosk refused: %s", cJSON_IsString(message) ? message->valuestring : "?");
	kiosk_draw(arg);
}

/* The connection dropped; the client reconnects by itself, the status line says so. */
static void kiosk_on_disconnected(struct client *c, const char *reason, void *arg)
{
	(void)c;
	log_warn("disconnected: %s", reason);
	kiosk_draw(arg);
}

/* Picks a UTF-8 locale even when the environment gives none, so Chinese shows. */
static void kiosk_locale(void)
{
	setlocale(LC_ALL, "");
	if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0 && !setlocale(LC_CTYPE, "C.UTF-8"))
		log_warn("no UTF-8 locale: Chinese names will not show correctly");
}

/* Starts curses in the mode a kiosk wants: no echo, keys at once, arrows decoded, no cursor. */
static void kiosk_curses_start(struct kiosk *k)
{
	initscr();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	set_escdelay(50);
	k->curses_on = true;
}

/* Sends log lines to --log-file (or nowhere) while the screen is on: a line written to the
 * terminal would tear the kiosk's screen. */
static void kiosk_redirect_log(struct kiosk *k)
{
	k->saved_stderr = -1;
	if (!k->opt->log_file && !isatty(STDERR_FILENO))
		return;
	const char *path = k->opt->log_file ? k->opt->log_file : "/dev/null";
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		fprintf(stderr, "printer: cannot open the log file %s: %s; logging nowhere\n", path, strerror(errno));
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return;
	}
	k->saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* Frees everything the kiosk holds; the terminal is restored first. */
static void kiosk_cleanup(struct kiosk *k)
{
	k->stopping = true;
	if (k->curses_on) {
		endwin();
		k->curses_on = false;
	}
	if (k->saved_stderr >= 0) {
		dup2(k->saved_stderr, STDERR_FILENO);
		close(k->saved_stderr);
		k->saved_stderr = -1;
	}
	client_free(k->client);
	output_close(&k->out);
	for (size_t i = 0; i < sizeof k->signal_events / sizeof k->signal_events[0]; i++)
		if (k->signal_events[i])
			event_free(k->signal_events[i]);
	if (k->stdin_event)
		event_free(k->stdin_event);
	if (k->tick_event)
		event_free(k->tick_event);
	if (k->services_timer)
		event_free(k->services_timer);
	cJSON_Delete(k->site);
	cJSON_Delete(k->services);
	if (k->base)
		event_base_free(k->base);
}

/* Runs the kiosk until a signal stops it. */
int kiosk_run(const struct printer_options *opt)
{
	static struct kiosk kiosk; /* ~60 KiB with the layouts: not on the stack */
	struct kiosk *k = &kiosk;
	memset(k, 0, sizeof *k);
	k->saved_stderr = -1;
	k->opt = opt;
	k->hall_open = true;
	char err[512];
	if (output_parse(&k->out, opt->dest, opt->print_timeout_ms, err, sizeof err) < 0) {
		fprintf(stderr, "printer: %s\n", err);
		return ONESHOT_USAGE;
	}
	if (k->out.kind == OUTPUT_PREVIEW)
		snprintf(k->out.label, sizeof k->out.label, "screen only (no printer)");
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "printer: the kiosk needs a terminal; use --take for scripts\n");
		return ONESHOT_USAGE;
	}
	kiosk_locale();
	kiosk_redirect_log(k);
	k->base = event_base_new();
	if (!k->base) {
		fprintf(stderr, "printer: cannot start the event loop\n");
		return 1;
	}
	struct client_callbacks callbacks = {
		.on_ready = kiosk_on_ready,
		.on_hello_failed = kiosk_on_hello_failed,
		.on_event = kiosk_on_event,
		.on_disconnected = kiosk_on_disconnected,
	};
	k->client = client_new(k->base, opt->server, &callbacks, k);
	if (!k->client) {
		fprintf(stderr, "printer: bad server address %s\n", opt->server ? opt->server : "");
		kiosk_cleanup(k);
		return ONESHOT_USAGE;
	}
	cJSON *hello = cJSON_CreateObject();
	cJSON_AddStringToObject(hello, "role", "kiosk");
	cJSON_AddStringToObject(hello, "token", opt->token);
	if (opt->kiosk_id)
		cJSON_AddStringToObject(hello, "kiosk", opt->kiosk_id);
	if (opt->site && *opt->site)
		cJSON_AddStringToObject(hello, "site", opt->site);
	client_set_hello(k->client, hello);
	cJSON *topics = cJSON_CreateArray();
	cJSON_AddItemToArray(topics, cJSON_CreateString("queue"));
	client_set_subscribe(k->client, topics);
	client_want_snapshot(k->client, true);

	kiosk_curses_start(k);
	/* After initscr, so that these handlers replace the ones curses installs. */
	const int signals[4] = {SIGWINCH, SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 4; i++) {
		k->signal_events[i] = evsignal_new(k->base, signals[i], kiosk_on_signal, k);
		if (k->signal_events[i])
			evsignal_add(k->signal_events[i], NULL);
	}
	k->stdin_event = event_new(k->base, STDIN_FILENO, EV_READ | EV_PERSIST, kiosk_on_stdin, k);
	k->tick_event = event_new(k->base, -1, EV_PERSIST, kiosk_on_tick, k);
	k->services_timer = evtimer_new(k->base, kiosk_on_services_timer, k);
	struct timeval second = {1, 0};
	if (!k->stdin_event || !k->tick_event || !k->services_timer || event_add(k->stdin_event, NULL) < 0 ||
	    event_add(k->tick_event, &second) < 0) {
		kiosk_cleanup(k);
		fprintf(stderr, "printer: cannot set up the event loop\n");
		return 1;
	}
	kiosk_check_printer(k); /* before offering any ticket */
	kiosk_draw(k);
	event_base_dispatch(k->base);
	kiosk_cleanup(k);
	return 0;
}
