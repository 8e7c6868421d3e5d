/* The ESC/POS encoder: builds a bounded command stream for a receipt printer. Chinese goes
 * out as GB18030 inside FS & ... FS . (Chinese character mode), which is what thermal printers
 * sold in China expect; other printers get a single-byte code page (ESC t n) with the text
 * transliterated by iconv, or UTF-8 as it is. */
#include "printer.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ESC 0x1b
#define FS 0x1c
#define GS 0x1d
#define LF 0x0a

/* The ESC t numbers are Epson's (TM-T88 and compatibles). */
static const struct escpos_codepage codepages[] = {
	{"gb18030", "GB18030", -1, true, true},
	{"utf8", NULL, -1, true, false},
	{"ascii", "ASCII//TRANSLIT", 0, false, false},
	{"cp437", "CP437//TRANSLIT", 0, false, false},
	{"cp850", "CP850//TRANSLIT", 2, false, false},
	{"cp852", "CP852//TRANSLIT", 18, false, false},
	{"cp858", "CP858//TRANSLIT", 19, false, false},
	{"cp866", "CP866//TRANSLIT", 17, false, false},
	{"cp1252", "CP1252//TRANSLIT", 16, false, false},
};

/* Finds a code page by name, accepting "utf-8" and "gbk"-style spellings people type. */
const struct escpos_codepage *escpos_codepage_find(const char *name)
{
	if (!name)
		return NULL;
	if (strcasecmp(name, "utf-8") == 0)
		name = "utf8";
	for (size_t i = 0; i < sizeof codepages / sizeof codepages[0]; i++)
		if (strcasecmp(name, codepages[i].name) == 0)
			return &codepages[i];
	return NULL;
}

/* GB18030 is the default because it covers every Chinese character and GBK printers read it. */
const struct escpos_codepage *escpos_codepage_default(void)
{
	return &codepages[0];
}

/* Lists the names for --help and error messages. */
void escpos_codepage_list(char *buf, size_t len)
{
	size_t used = 0;
	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof codepages / sizeof codepages[0] && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", codepages[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* Records the first error; later ones would only hide its cause. */
__attribute__((format(printf, 2, 3))) static void escpos_fail(struct escpos *p, const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->error, sizeof p->error, fmt, ap);
	va_end(ap);
}

/* Appends bytes, or fails the stream when they would pass the bound. */
static void escpos_put(struct escpos *p, const void *bytes, size_t len)
{
	if (p->failed)
		return;
	if (len > sizeof p->bytes - p->len) {
		escpos_fail(p, "the ticket is longer than %d bytes", ESCPOS_MAX_BYTES);
		return;
	}
	memcpy(p->bytes + p->len, bytes, len);
	p->len += len;
}

/* Appends a short command given as byte values. */
static void escpos_cmd(struct escpos *p, size_t count, ...)
{
	unsigned char cmd[16];
	va_list ap;
	va_start(ap, count);
	for (size_t i = 0; i < count && i < sizeof cmd; i++)
		cmd[i] = (unsigned char)va_arg(ap, int);
	va_end(ap);
	escpos_put(p, cmd, count < sizeof cmd ? count : sizeof cmd);
}

/* Resets the printer so that modes left by a previous job (size, Chinese mode) do not leak in. */
void escpos_begin(struct escpos *p, const struct escpos_codepage *codepage)
{
	p->len = 0;
	p->failed = false;
	p->error[0] = '\0';
	p->codepage = codepage ? codepage : escpos_codepage_default();
	escpos_cmd(p, 2, ESC, '@');
	if (p->codepage->kanji_mode)
		escpos_cmd(p, 2, FS, '.'); /* some printers keep Chinese mode across ESC @ */
	if (p->codepage->table >= 0)
		escpos_cmd(p, 3, ESC, 't', p->codepage->table);
}

/* Sets the justification of the following lines. */
void escpos_align(struct escpos *p, enum escpos_align align)
{
	escpos_cmd(p, 3, ESC, 'a', (int)align);
}

/* Sets the size of the following characters; out-of-range multipliers are clamped. */
void escpos_size(struct escpos *p, int width, int height)
{
	width = width < 1 ? 1 : width > 8 ? 8 : width;
	height = height < 1 ? 1 : height > 8 ? 8 : height;
	escpos_cmd(p, 3, GS, '!', ((width - 1) << 4) | (height - 1));
}

/* Turns emphasis on or off. */
void escpos_bold(struct escpos *p, bool on)
{
	escpos_cmd(p, 3, ESC, 'E', on ? 1 : 0);
}

/* Converts text with iconv into the stream; transliterating code pages never fail on a
 * character, GB18030 covers all of Unicode. */
static void escpos_iconv(struct escpos *p, const char *to, const char *text, size_t len)
{
	iconv_t cd = iconv_open(to, "UTF-8");
	if (cd == (iconv_t)-1) {
		escpos_fail(p, "this system cannot convert text to %s", to);
		return;
	}
	char out[1024];
	char *in = (char *)text;
	size_t inleft = len;
	while (inleft > 0 && !p->failed) {
		char *o = out;
		size_t oleft = sizeof out;
		size_t rc = iconv(cd, &in, &inleft, &o, &oleft);
		escpos_put(p, out, sizeof out - oleft);
		if (rc == (size_t)-1 && errno != E2BIG) {
			if (errno == EILSEQ && inleft > 0) {
				/* A character the code page lacks even by transliteration. */
				escpos_put(p, "?", 1);
				in++;
				inleft--;
				while (inleft > 0 && ((unsigned char)*in & 0xc0) == 0x80) {
					in++;
					inleft--;
				}
				continue;
			}
			escpos_fail(p, "text is not valid UTF-8");
		}
	}
	iconv_close(cd);
}

/* Prints text: ASCII as it is (control characters become spaces, so text cannot inject
 * commands), everything else in the code page's way. */
void escpos_text(struct escpos *p, const char *utf8)
{
	const char *s = utf8 ? utf8 : "";
	while (*s && !p->failed) {
		size_t ascii = 0;
		while (s[ascii] && !((unsigned char)s[ascii] & 0x80))
			ascii++;
		for (size_t i = 0; i < ascii; i++) {
			char c = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
			escpos_put(p, &c, 1);
		}
		s += ascii;
		size_t other = 0;
		while (s[other] && ((unsigned char)s[other] & 0x80))
			other++;
		if (!other)
			continue;
		if (!p->codepage->iconv_name) {
			escpos_put(p, s, other);
		} else if (p->codepage->kanji_mode) {
			escpos_cmd(p, 2, FS, '&');
			escpos_iconv(p, p->codepage->iconv_name, s, other);
			escpos_cmd(p, 2, FS, '.');
		} else {
			escpos_iconv(p, p->codepage->iconv_name, s, other);
		}
		s += other;
	}
}

/* Ends the line. */
void escpos_newline(struct escpos *p)
{
	escpos_cmd(p, 1, LF);
}

/* Feeds paper, as ESC d does (at most 255 lines). */
void escpos_feed(struct escpos *p, int lines)
{
	escpos_cmd(p, 3, ESC, 'd', lines < 0 ? 0 : lines > 255 ? 255 : lines);
}

/* Emits GS ( k pL pH cn fn followed by params: the function-165..181 family of QR commands. */
static void escpos_qr_function(struct escpos *p, int fn, const void *params, size_t len)
{
	size_t total = len + 2; /* cn and fn count in pL pH */
	if (total > 0xffff) {
		escpos_fail(p, "QR data is too long");
		return;
	}
	escpos_cmd(p, 7, GS, '(', 'k', (int)(total & 0xff), (int)(total >> 8), 49, fn);
	escpos_put(p, params, len);
}

/* Prints a QR code of data. Model 2 holds up to 7089 digits; a ticket id is ~13 characters. */
void escpos_qr(struct escpos *p, const char *data, int module_size, char level)
{
	size_t len = data ? strlen(data) : 0;
	if (len == 0 || len > 2000) {
		escpos_fail(p, "QR data must be 1 to 2000 bytes");
		return;
	}
	int ec = level == 'L' ? 48 : level == 'Q' ? 50 : level == 'H' ? 51 : 49;
	module_size = module_size < 1 ? 1 : module_size > 16 ? 16 : module_size;
	unsigned char model[2] = {50, 0}; /* model 2 */
	unsigned char size = (unsigned char)module_size;
	unsigned char level_byte = (unsigned char)ec;
	unsigned char store[2048 + 1];
	store[0] = 48; /* m */
	memcpy(store + 1, data, len);
	unsigned char print = 48;
	escpos_qr_function(p, 65, model, sizeof model);
	escpos_qr_function(p, 67, &size, 1);
	escpos_qr_function(p, 69, &level_byte, 1);
	escpos_qr_function(p, 80, store, len + 1);
	escpos_qr_function(p, 81, &print, 1);
}

/* Feeds past the cutter and cuts; function B (m = 66) feeds n dots first, so the last line is
 * not cut through. */
void escpos_cut(struct escpos *p)
{
	escpos_cmd(p, 4, GS, 'V', 66, 24);
}

/* Reports whether the stream is complete and can be sent. */
bool escpos_ok(const struct escpos *p)
{
	return !p->failed;
}
