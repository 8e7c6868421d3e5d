/* Unit tests of the printer's ESC/POS encoder, ticket layout and outputs. Every stream is read
 * back with the tests' own decoder (tests/lib/escpos_decode.c), which shares no code with the
 * encoder: what it finds is what a printer would print. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../printer/printer.h"
#include "escpos_decode.h"

/* A take response and the site of a small hall, as qserver sends them. */
static const char *const take_json =
	"{\"ok\":true,\"ticket\":{\"id\":\"20261127-A012\",\"number\":\"A012\",\"service\":\"A\","
	"\"class\":\"normal\",\"channel\":\"kiosk\",\"state\":\"waiting\",\"issued_at\":1795744800,"
	"\"ahead\":3,\"ewt\":600}}";
static const char *const site_json =
	"{\"id\":\"small\",\"name\":\"测试大厅\",\"name_en\":\"Test hall\",\"tz\":\"Asia/Shanghai\","
	"\"open\":true,\"hours\":{\"mon\":\"09:00-20:00\",\"tue\":\"09:00-20:00\",\"wed\":\"09:00-20:00\","
	"\"thu\":\"09:00-20:00\",\"fri\":\"09:00-20:00\",\"sat\":\"09:00-16:00\",\"sun\":null}}";
static const char *const services_json =
	"[{\"id\":\"A\",\"name\":\"社会保障\",\"name_en\":\"Social security\",\"waiting\":3,\"ewt\":600},"
	"{\"id\":\"B\",\"name\":\"出入境\",\"name_en\":\"Exit-entry administration\"}]";

static struct escpos stream;
static struct escpos_doc doc;

/* Reads the canned ticket into info, with the given class. */
static void canned_ticket(struct ticket_info *info, const char *ticket_class)
{
	cJSON *take = cJSON_Parse(take_json), *site = cJSON_Parse(site_json), *services = cJSON_Parse(services_json);
	assert_non_null(take);
	cJSON *ticket = cJSON_GetObjectItem(take, "ticket");
	if (ticket_class)
		cJSON_ReplaceItemInObject(ticket, "class", cJSON_CreateString(ticket_class));
	char err[128];
	assert_int_equal(ticket_info_from_json(info, ticket, site, services, err, sizeof err), 0);
	cJSON_Delete(take);
	cJSON_Delete(site);
	cJSON_Delete(services);
}

/* Encodes the canned ticket with a code page and decodes it back into doc. */
static void encode_and_decode(const struct ticket_info *info, const char *codepage, const char *decode_charset)
{
	struct ticket_layout layout;
	ticket_layout(info, 48, &layout);
	escpos_begin(&stream, escpos_codepage_find(codepage));
	assert_int_equal(ticket_encode(&layout, &stream), 0);
	int rc = escpos_decode(stream.bytes, stream.len, decode_charset, &doc);
	if (rc < 0)
		fail_msg("decoder: %s", doc.error);
}

/* Chinese, ASCII and characters outside the BMP come back as they went in. */
static void escpos_text__gb18030__decodes_to_the_same_text(void **state)
{
	(void)state;
	escpos_begin(&stream, NULL);
	escpos_text(&stream, "社会保障 Social security 𠀀 €5");
	escpos_newline(&stream);
	assert_true(escpos_ok(&stream));
	assert_int_equal(escpos_decode(stream.bytes, stream.len, NULL, &doc), 0);
	assert_string_equal(doc.text, "社会保障 Social security 𠀀 €5\n");
	assert_true(doc.starts_with_init);
	const struct escpos_run *run = escpos_doc_find_run(&doc, "社会保障");
	assert_non_null(run);
	assert_true(run->chinese);
}

/* Control characters in names are printed as spaces, never as commands. */
static void escpos_text__control_bytes__cannot_inject_commands(void **state)
{
	(void)state;
	escpos_begin(&stream, NULL);
	escpos_text(&stream, "A\x1d" "V\x01" "B\x1b@");
	assert_int_equal(escpos_decode(stream.bytes, stream.len, NULL, &doc), 0);
	assert_string_equal(doc.text, "A V B @");
	assert_int_equal(doc.cuts, 0);
}

/* The QR code is model 2 with the size and level asked for, and carries the data exactly. */
static void escpos_qr__ticket_id__stored_and_printed(void **state)
{
	(void)state;
	escpos_begin(&stream, NULL);
	escpos_qr(&stream, "20261127-A012", 6, 'M');
	assert_true(escpos_ok(&stream));
	assert_int_equal(escpos_decode(stream.bytes, stream.len, NULL, &doc), 0);
	assert_string_equal(doc.qr_data, "20261127-A012");
	assert_int_equal(doc.qr_model, 50);
	assert_int_equal(doc.qr_module_size, 6);
	assert_int_equal(doc.qr_error_level, 49);
	assert_int_equal(doc.qr_stored, 1);
	assert_int_equal(doc.qr_printed, 1);
}

/* A stream past its bound fails once and stays within the buffer. */
static void escpos_text__too_long__fails_within_bound(void **state)
{
	(void)state;
	char line[1001];
	memset(line, 'x', 1000);
	line[1000] = '\0';
	escpos_begin(&stream, NULL);
	for (int i = 0; i < 40; i++)
		escpos_text(&stream, line);
	assert_false(escpos_ok(&stream));
	assert_true(stream.len <= ESCPOS_MAX_BYTES);
	assert_non_null(strstr(stream.error, "longer"));
}

/* A cp437 printer gets its code table selected and transliterated text, no Chinese mode. */
static void escpos_text__cp437__transliterated_single_bytes(void **state)
{
	(void)state;
	escpos_begin(&stream, escpos_codepage_find("cp437"));
	escpos_text(&stream, "Café 社会");
	assert_true(escpos_ok(&stream));
	assert_null(memchr(stream.bytes, 0x1c, stream.len));
	assert_int_equal(escpos_decode(stream.bytes, stream.len, "CP437", &doc), 0);
	assert_int_equal(doc.code_table, 0);
	assert_int_equal(strncmp(doc.text, "Café ", 6), 0);
}

/* Unknown code pages are refused; spellings people type are accepted. */
static void escpos_codepage_find__names(void **state)
{
	(void)state;
	assert_non_null(escpos_codepage_find("GB18030"));
	assert_non_null(escpos_codepage_find("utf-8"));
	assert_null(escpos_codepage_find("klingon"));
	assert_true(escpos_codepage_default()->cjk);
}

/* The whole ticket: every field printed, the number quad-size, QR = id, a cut at the end. */
static void ticket_encode__normal__everything_on_paper(void **state)
{
	(void)state;
	struct ticket_info info;
	canned_ticket(&info, NULL);
	encode_and_decode(&info, "gb18030", NULL);
	assert_non_null(strstr(doc.text, "测试大厅\n"));
	assert_non_null(strstr(doc.text, "Test hall\n"));
	assert_non_null(strstr(doc.text, "社会保障\n"));
	assert_non_null(strstr(doc.text, "Social security\n"));
	assert_non_null(strstr(doc.text, "Ahead: 3 人 people"));
	assert_non_null(strstr(doc.text, "约 10 分钟 / about 10 min"));
	/* 1795744800 is Friday 2026-11-27 10:00 in Shanghai, not 02:00 (UTC). */
	assert_non_null(strstr(doc.text, "2026-11-27 10:00 周五 Fri"));
	assert_non_null(strstr(doc.text, "周一至五 09:00-20:00 周六 09:00-16:00 周日 休息"));
	assert_non_null(strstr(doc.text, "Hours: Mon-Fri 09:00-20:00, Sat 09:00-16:00, Sun closed"));
	assert_null(strstr(doc.text, "REPRINT"));

	const struct escpos_run *number = escpos_doc_find_run(&doc, "A012");
	assert_non_null(number);
	assert_string_equal(number->text, "A012");
	assert_int_equal(number->width, 4);
	assert_int_equal(number->height, 4);
	assert_int_equal(number->align, 1);
	const struct escpos_run *hall = escpos_doc_find_run(&doc, "测试大厅");
	assert_int_equal(hall->width, 1);

	assert_string_equal(doc.qr_data, "20261127-A012");
	assert_int_equal(doc.qr_printed, 1);
	assert_int_equal(doc.cuts, 1);
	assert_true(doc.ends_with_cut);
	assert_true(doc.starts_with_init);
}

/* The number is quad size where the paper has room for it, double where it has not. */
static void ticket_layout__number_quad_or_double(void **state)
{
	(void)state;
	struct ticket_info info;
	canned_ticket(&info, NULL);
	struct ticket_layout layout;
	ticket_layout(&info, 32, &layout); /* 58 mm paper: 4 characters x 4 fit */
	bool found = false;
	for (int i = 0; i < layout.count; i++)
		if (strcmp(layout.lines[i].text, "A012") == 0) {
			assert_int_equal(layout.lines[i].width, 4);
			assert_int_equal(layout.lines[i].height, 4);
			found = true;
		}
	assert_true(found);
	snprintf(info.number, sizeof info.number, "A1000");
	ticket_layout(&info, 16, &layout); /* 5 x 4 = 20 columns do not fit in 16 */
	for (int i = 0; i < layout.count; i++)
		if (strcmp(layout.lines[i].text, "A1000") == 0)
			assert_int_equal(layout.lines[i].width, 2);
}

/* The estimate: its range when the server sends one, the single estimate otherwise. */
static void ticket_format_estimate__range_or_single(void **state)
{
	(void)state;
	char zh[64], en[64];
	ticket_format_estimate(600, 300, 900, zh, sizeof zh, en, sizeof en);
	assert_string_equal(zh, "约 5-15 分钟");
	assert_string_equal(en, "5-15 min");
	ticket_format_estimate(600, -1, -1, zh, sizeof zh, en, sizeof en); /* no range sent */
	assert_string_equal(zh, "约 10 分钟");
	assert_string_equal(en, "about 10 min");
	ticket_format_estimate(120, 0, 300, zh, sizeof zh, en, sizeof en);
	assert_string_equal(zh, "5 分钟内");
	assert_string_equal(en, "within 5 min");
	ticket_format_estimate(600, 590, 600, zh, sizeof zh, en, sizeof en); /* the same minutes */
	assert_string_equal(en, "about 10 min");
	ticket_format_estimate(30, 0, 40, zh, sizeof zh, en, sizeof en);
	assert_string_equal(en, "under 1 min");
	ticket_format_estimate(600, 900, 300, zh, sizeof zh, en, sizeof en); /* nonsense: single */
	assert_string_equal(en, "about 10 min");
}

/* The kiosk's figures per service are what a new ticket would print: ahead and the estimate. */
static void ticket_format_figures__screen_model(void **state)
{
	(void)state;
	char line[160];
	ticket_format_figures(8, 3, 600, 300, 900, line, sizeof line);
	assert_string_equal(line, "前面 8 人 ahead  约 5-15 分钟 / 5-15 min");
	ticket_format_figures(8, 3, 600, -1, -1, line, sizeof line);
	assert_string_equal(line, "前面 8 人 ahead  约 10 分钟 / about 10 min");
	ticket_format_figures(-1, 3, 600, -1, -1, line, sizeof line); /* an older server */
	assert_string_equal(line, "等候 3 人 waiting  约 10 分钟 / about 10 min");
	/* The ticket of the same service says the same. */
	struct ticket_info info;
	canned_ticket(&info, NULL);
	info.ahead = 8;
	info.ewt = 600;
	info.ewt_low = 300;
	info.ewt_high = 900;
	encode_and_decode(&info, "gb18030", NULL);
	assert_non_null(strstr(doc.text, "Ahead: 8 人 people"));
	assert_non_null(strstr(doc.text, "约 5-15 分钟 / 5-15 min"));
}

/* Priority tickets say so; a reprint is marked and drops the stale wait. */
static void ticket_encode__priority_reprint__marked(void **state)
{
	(void)state;
	struct ticket_info info;
	canned_ticket(&info, "priority");
	info.reprint = true;
	encode_and_decode(&info, "gb18030", NULL);
	assert_non_null(strstr(doc.text, "优先 (绿色通道) Priority"));
	assert_non_null(strstr(doc.text, "补打 REPRINT"));
	assert_null(strstr(doc.text, "Ahead"));
	assert_string_equal(doc.qr_data, "20261127-A012");
}

/* A printer without Chinese gets the English lines only, still with the big number and QR. */
static void ticket_encode__cp437__english_only(void **state)
{
	(void)state;
	struct ticket_info info;
	canned_ticket(&info, NULL);
	encode_and_decode(&info, "cp437", "CP437");
	assert_null(strstr(doc.text, "社会"));
	assert_null(strstr(doc.text, "?"));
	assert_non_null(strstr(doc.text, "Test hall\n"));
	assert_non_null(strstr(doc.text, "Social security\n"));
	assert_non_null(strstr(doc.text, "People ahead: 3"));
	assert_non_null(strstr(doc.text, "Hours: Mon-Fri"));
	assert_int_equal(escpos_doc_find_run(&doc, "A012")->width, 4);
	assert_string_equal(doc.qr_data, "20261127-A012");
	assert_true(doc.ends_with_cut);
}

/* A UTF-8 printer gets the text as it is. */
static void ticket_encode__utf8__raw_text(void **state)
{
	(void)state;
	struct ticket_info info;
	canned_ticket(&info, NULL);
	encode_and_decode(&info, "utf8", "UTF-8");
	assert_non_null(strstr(doc.text, "社会保障\n"));
	assert_true(doc.ends_with_cut);
}

/* An answer without a ticket id is refused rather than printed blank. */
static void ticket_info_from_json__no_id__refused(void **state)
{
	(void)state;
	cJSON *ticket = cJSON_Parse("{\"number\":\"A001\"}");
	struct ticket_info info;
	char err[128];
	assert_int_equal(ticket_info_from_json(&info, ticket, NULL, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "id"));
	cJSON_Delete(ticket);
}

/* Waits are rounded up to whole minutes and hours shown past an hour. */
static void ticket_format_wait__rounding(void **state)
{
	(void)state;
	char zh[64], en[64];
	ticket_format_wait(0, zh, sizeof zh, en, sizeof en);
	assert_string_equal(en, "under 1 min");
	ticket_format_wait(61, zh, sizeof zh, en, sizeof en);
	assert_string_equal(en, "about 2 min");
	assert_string_equal(zh, "约 2 分钟");
	ticket_format_wait(3900, zh, sizeof zh, en, sizeof en);
	assert_string_equal(en, "about 1 h 5 min");
}

/* The preview shows the same lines as text. */
static void ticket_preview__text__number_and_qr_shown(void **state)
{
	(void)state;
	struct ticket_info info;
	canned_ticket(&info, NULL);
	struct ticket_layout layout;
	ticket_layout(&info, 32, &layout);
	char text[8192];
	ticket_preview(&layout, text, sizeof text);
	assert_non_null(strstr(text, "A 0 1 2"));
	assert_non_null(strstr(text, "[QR 20261127-A012]"));
	assert_non_null(strstr(text, "社会保障"));
	/* A tiny buffer is cut short, not overrun. */
	char tiny[16];
	ticket_preview(&layout, tiny, sizeof tiny);
	assert_true(strlen(tiny) < sizeof tiny);
}

/* A take reply with status_url puts that address in the QR code; one too long for the
 * ticket, or none, leaves the id there. */
static void ticket_info_status_url__qr_holds_the_address(void **state)
{
	(void)state;
	struct ticket_info info;
	canned_ticket(&info, NULL);
	cJSON *reply = cJSON_Parse("{\"ok\":true,\"status_url\":\"https://hall.example.cn/t/20261127-A012?k=abcDEF123_-xyz45\"}");
	ticket_info_status_url(&info, reply);
	cJSON_Delete(reply);
	struct ticket_layout layout;
	ticket_layout(&info, 32, &layout);
	char text[8192];
	ticket_preview(&layout, text, sizeof text);
	assert_non_null(strstr(text, "[QR https://hall.example.cn/t/20261127-A012?k=abcDEF123_-xyz45]"));

	char long_url[400] = "{\"status_url\":\"https://x/";
	memset(long_url + strlen(long_url), 'a', 300);
	strcpy(long_url + strlen(long_url), "\"}");
	reply = cJSON_Parse(long_url);
	ticket_info_status_url(&info, reply);
	cJSON_Delete(reply);
	ticket_layout(&info, 32, &layout);
	ticket_preview(&layout, text, sizeof text);
	assert_non_null(strstr(text, "[QR 20261127-A012]"));
}

/* DEST is read as the usage says, and nonsense is refused. */
static void output_parse__destinations(void **state)
{
	(void)state;
	struct output o;
	char err[256];
	assert_int_equal(output_parse(&o, "-", 0, err, sizeof err), 0);
	assert_int_equal(o.kind, OUTPUT_PREVIEW);
	assert_int_equal(output_parse(&o, "/dev/usb/lp0", 0, err, sizeof err), 0);
	assert_int_equal(o.kind, OUTPUT_DEVICE);
	assert_int_equal(output_parse(&o, "file:/tmp/x.bin", 0, err, sizeof err), 0);
	assert_int_equal(o.kind, OUTPUT_FILE);
	assert_string_equal(o.path, "/tmp/x.bin");
	assert_int_equal(output_parse(&o, "tcp:10.0.0.9", 0, err, sizeof err), 0);
	assert_string_equal(o.host, "10.0.0.9");
	assert_string_equal(o.port, "9100");
	assert_int_equal(output_parse(&o, "tcp:[::1]:9101", 0, err, sizeof err), 0);
	assert_string_equal(o.host, "::1");
	assert_string_equal(o.port, "9101");
	assert_int_equal(output_parse(&o, "tcp:10.0.0.9:0", 0, err, sizeof err), -1);
	assert_int_equal(output_parse(&o, "printer1", 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "tcp:HOST:PORT"));
}

/* A file gets exactly the ticket; a second ticket replaces the first. */
static void output_send_ticket__file__holds_the_last_ticket(void **state)
{
	(void)state;
	char path[] = "/tmp/qhall-printer-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	char dest[64], err[256];
	snprintf(dest, sizeof dest, "file:%s", path);
	struct ticket_info info;
	canned_ticket(&info, NULL);
	struct ticket_layout layout;
	for (int i = 0; i < 2; i++) {
		info.reprint = i == 1;
		ticket_layout(&info, 48, &layout);
		struct output o;
		assert_int_equal(output_parse(&o, dest, 1000, err, sizeof err), 0);
		assert_int_equal(output_print(&o, &layout, escpos_codepage_default(), err, sizeof err), 0);
	}
	size_t len;
	unsigned char *bytes = escpos_read_file(path, &len);
	assert_non_null(bytes);
	assert_int_equal(escpos_decode(bytes, len, NULL, &doc), 0);
	assert_int_equal(doc.cuts, 1);
	assert_non_null(strstr(doc.text, "REPRINT"));
	free(bytes);
	unlink(path);
}

/* A file that cannot be created is an error naming it. */
static void output_open__unwritable_file__error_names_it(void **state)
{
	(void)state;
	struct output o;
	char err[256];
	assert_int_equal(output_parse(&o, "file:/nonexistent/x.bin", 1000, err, sizeof err), 0);
	assert_int_equal(output_open(&o, err, sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent/x.bin"));
	assert_non_null(strstr(err, "No such file"));
}

/* A device that takes no bytes (/dev/full) fails at write, after a successful open. */
static void output_send_ticket__device_full__write_error(void **state)
{
	(void)state;
	struct output o;
	char err[256];
	struct ticket_info info;
	canned_ticket(&info, NULL);
	struct ticket_layout layout;
	ticket_layout(&info, 48, &layout);
	assert_int_equal(output_parse(&o, "/dev/full", 1000, err, sizeof err), 0);
	assert_int_equal(output_open(&o, err, sizeof err), 0);
	assert_int_equal(output_send_ticket(&o, &layout, escpos_codepage_default(), err, sizeof err), -1);
	assert_non_null(strstr(err, "/dev/full"));
	assert_int_equal(o.fd, -1);
}

/* Opens a listening socket on a free loopback port; returns it and the port. */
static int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A port nobody listens on is an error at open, before any ticket would be taken. */
static void output_open__tcp_nobody_listening__error(void **state)
{
	(void)state;
	int port;
	close(listen_loopback(&port));
	char dest[64], err[256];
	snprintf(dest, sizeof dest, "tcp:127.0.0.1:%d", port);
	struct output o;
	assert_int_equal(output_parse(&o, dest, 1000, err, sizeof err), 0);
	assert_int_equal(output_open(&o, err, sizeof err), -1);
	assert_non_null(strstr(err, "cannot connect"));
}

/* A network printer (a listening socket here) receives the whole ticket. */
static void output_print__tcp_printer__receives_ticket(void **state)
{
	(void)state;
	int port;
	int listener = listen_loopback(&port);
	char dest[64], err[256];
	snprintf(dest, sizeof dest, "tcp:127.0.0.1:%d", port);
	struct ticket_info info;
	canned_ticket(&info, NULL);
	struct ticket_layout layout;
	ticket_layout(&info, 48, &layout);
	struct output o;
	assert_int_equal(output_parse(&o, dest, 1000, err, sizeof err), 0);
	/* The kernel completes the connection from the backlog; the ticket fits the socket buffer. */
	assert_int_equal(output_print(&o, &layout, escpos_codepage_default(), err, sizeof err), 0);
	int conn = accept(listener, NULL, NULL);
	assert_true(conn >= 0);
	static unsigned char got[ESCPOS_MAX_BYTES];
	size_t used = 0;
	ssize_t n;
	while ((n = read(conn, got + used, sizeof got - used)) > 0)
		used += (size_t)n;
	close(conn);
	close(listener);
	assert_int_equal(escpos_decode(got, used, NULL, &doc), 0);
	assert_string_equal(doc.qr_data, "20261127-A012");
	assert_true(doc.ends_with_cut);
}

/* A network printer that answers the status query with the two bytes given, from a child. */
static pid_t status_printer(int listener, unsigned char s1, unsigned char s4)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int conn = accept(listener, NULL, NULL);
		unsigned char query[6];
		size_t got = 0;
		while (conn >= 0 && got < sizeof query) {
			ssize_t n = read(conn, query + got, sizeof query - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		unsigned char reply[2] = {s1, s4};
		if (got == sizeof query && memcmp(query, "\x10\x04\x01\x10\x04\x04", 6) == 0 &&
		    write(conn, reply, sizeof reply) != (ssize_t)sizeof reply)
			_exit(1);
		_exit(got == sizeof query ? 0 : 2);
	}
	return pid;
}

/* The printer check: a file that can be opened (not truncated), a device that takes writes, a
 * printer whose DLE EOT status is fine, pass; a missing folder, /dev/full, a port nobody
 * listens on, a printer offline or out of paper, fail with the reason. */
static void output_check__status_and_connection(void **state)
{
	(void)state;
	char dest[128], err[256], path[] = "/tmp/qhall-check-XXXXXX";
	struct output o;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "ticket", 6), 6);
	close(fd);
	snprintf(dest, sizeof dest, "file:%s", path);
	assert_int_equal(output_parse(&o, dest, 1000, err, sizeof err), 0);
	assert_int_equal(output_check(&o, err, sizeof err), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 6); /* the last ticket is still there */
	unlink(path);
	assert_int_equal(output_parse(&o, "file:/nonexistent/x.bin", 1000, err, sizeof err), 0);
	assert_int_equal(output_check(&o, err, sizeof err), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(output_parse(&o, "/dev/full", 1000, err, sizeof err), 0);
	assert_int_equal(output_check(&o, err, sizeof err), -1);
	assert_non_null(strstr(err, "No space left"));
	assert_int_equal(output_parse(&o, "/dev/null", 1000, err, sizeof err), 0);
	assert_int_equal(output_check(&o, err, sizeof err), 0); /* no answer: judged by the writes */
	assert_int_equal(output_parse(&o, "-", 1000, err, sizeof err), 0);
	assert_int_equal(output_check(&o, err, sizeof err), 0);

	int port, status;
	close(listen_loopback(&port));
	snprintf(dest, sizeof dest, "tcp:127.0.0.1:%d", port);
	assert_int_equal(output_parse(&o, dest, 1000, err, sizeof err), 0);
	assert_int_equal(output_check(&o, err, sizeof err), -1);

	const struct {
		unsigned char s1, s4;
		const char *want; /* NULL: fine */
	} cases[] = {{0x12, 0x12, NULL}, {0x1a, 0x12, "offline"}, {0x12, 0x72, "out of paper"}, {0x12, 0x1e, NULL}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int listener = listen_loopback(&port);
		snprintf(dest, sizeof dest, "tcp:127.0.0.1:%d", port);
		pid_t pid = status_printer(listener, cases[i].s1, cases[i].s4);
		assert_int_equal(output_parse(&o, dest, 1000, err, sizeof err), 0);
		int rc = output_check(&o, err, sizeof err);
		waitpid(pid, &status, 0);
		close(listener);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		if (cases[i].want) {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(err, cases[i].want));
		} else {
			assert_int_equal(rc, 0); /* 0x1e: paper near its end is not a fault yet */
		}
	}
}

/* Runs the tests of this file. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escpos_text__gb18030__decodes_to_the_same_text),
		cmocka_unit_test(escpos_text__control_bytes__cannot_inject_commands),
		cmocka_unit_test(escpos_qr__ticket_id__stored_and_printed),
		cmocka_unit_test(escpos_text__too_long__fails_within_bound),
		cmocka_unit_test(escpos_text__cp437__transliterated_single_bytes),
		cmocka_unit_test(escpos_codepage_find__names),
		cmocka_unit_test(ticket_encode__normal__everything_on_paper),
		cmocka_unit_test(ticket_layout__number_quad_or_double),
		cmocka_unit_test(output_check__status_and_connection),
		cmocka_unit_test(ticket_format_estimate__range_or_single),
		cmocka_unit_test(ticket_format_figures__screen_model),
		cmocka_unit_test(ticket_encode__priority_reprint__marked),
		cmocka_unit_test(ticket_encode__cp437__english_only),
		cmocka_unit_test(ticket_encode__utf8__raw_text),
		cmocka_unit_test(ticket_info_from_json__no_id__refused),
		cmocka_unit_test(ticket_format_wait__rounding),
		cmocka_unit_test(ticket_preview__text__number_and_qr_shown),
		cmocka_unit_test(ticket_info_status_url__qr_holds_the_address),
		cmocka_unit_test(output_parse__destinations),
		cmocka_unit_test(output_send_ticket__file__holds_the_last_ticket),
		cmocka_unit_test(output_open__unwritable_file__error_names_it),
		cmocka_unit_test(output_send_ticket__device_full__write_error),
		cmocka_unit_test(output_open__tcp_nobody_listening__error),
		cmocka_unit_test(output_print__tcp_printer__receives_ticket),
	};
	return cmocka_run_group_tests_name("printer_escpos", tests, NULL, NULL);
}
