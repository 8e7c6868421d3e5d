/* The tests' ESC/POS decoder: a small printer model. It knows the commands a receipt printer
 * of the Epson TM family accepts for text, size, alignment, Chinese mode, QR codes and cuts. */
#include "escpos_decode.h"

#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The printer's state while walking the stream. */
struct decoder {
	struct escpos_doc *doc;
	const char *charset;
	int width, height, align;
	bool bold, chinese;
	unsigned char pending[1024]; /* text bytes not yet converted, all in one mode */
	size_t pending_len;
	bool pending_chinese;
	bool run_open; /* the current run has text and the attributes of its start */
};

/* Records the first error. */
__attribute__((format(printf, 2, 3))) static int decode_fail(struct decoder *d, const char *fmt, ...)
{
	if (!d->doc->error[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(d->doc->error, sizeof d->doc->error, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Appends UTF-8 text to the whole text and to the current run. */
static void decode_append_text(struct decoder *d, const char *utf8, size_t len)
{
	struct escpos_doc *doc = d->doc;
	size_t have = strlen(doc->text);
	if (have + len < sizeof doc->text) {
		memcpy(doc->text + have, utf8, len);
		doc->text[have + len] = '\0';
	}
	if (!d->run_open) {
		if (doc->run_count >= ESCPOS_DOC_MAX_RUNS)
			return;
		struct escpos_run *run = &doc->runs[doc->run_count++];
		memset(run, 0, sizeof *run);
		run->width = d->width;
		run->height = d->height;
		run->bold = d->bold;
		run->align = d->align;
		run->chinese = d->pending_chinese;
		d->run_open = true;
	}
	struct escpos_run *run = &doc->runs[doc->run_count - 1];
	size_t rlen = strlen(run->text);
	if (rlen + len < sizeof run->text) {
		memcpy(run->text + rlen, utf8, len);
		run->text[rlen + len] = '\0';
	}
}

/* Converts the pending bytes (GB18030 in Chinese mode, else the single-byte charset). */
static int decode_flush(struct decoder *d)
{
	if (!d->pending_len)
		return 0;
	const char *from = d->pending_chinese ? "GB18030" : d->charset;
	bool high = false;
	for (size_t i = 0; i < d->pending_len; i++)
		high |= d->pending[i] >= 0x80;
	char out[4096];
	size_t outlen;
	if (!high) {
		memcpy(out, d->pending, d->pending_len);
		outlen = d->pending_len;
	} else {
		if (!from)
			return decode_fail(d, "byte 0x%02x outside Chinese mode and no code page given", d->pending[0]);
		iconv_t cd = iconv_open("UTF-8", from);
		if (cd == (iconv_t)-1)
			return decode_fail(d, "iconv cannot read %s", from);
		char *in = (char *)d->pending, *o = out;
		size_t inleft = d->pending_len, oleft = sizeof out;
		size_t rc = iconv(cd, &in, &inleft, &o, &oleft);
		iconv_close(cd);
		if (rc == (size_t)-1 || inleft)
			return decode_fail(d, "bytes are not valid %s", from);
		outlen = sizeof out - oleft;
	}
	d->pending_len = 0;
	decode_append_text(d, out, outlen);
	return 0;
}

/* Ends the current run (attributes change, or a line ends). */
static int decode_break(struct decoder *d)
{
	int rc = decode_flush(d);
	d->run_open = false;
	return rc;
}

/* Queues one text byte in the current mode. */
static int decode_text_byte(struct decoder *d, unsigned char c)
{
	if (d->pending_len && d->pending_chinese != d->chinese && decode_flush(d) < 0)
		return -1;
	if (d->pending_len == sizeof d->pending && decode_flush(d) < 0)
		return -1;
	d->pending_chinese = d->chinese;
	d->pending[d->pending_len++] = c;
	return 0;
}

/* Resets the modes that ESC @ resets. */
static void decode_reset(struct decoder *d)
{
	d->width = d->height = 1;
	d->align = 0;
	d->bold = false;
	d->chinese = false;
}

/* Decodes one GS ( k function; p points at cn, n is pL + 256 * pH. */
static int decode_qr(struct decoder *d, const unsigned char *p, size_t n)
{
	struct escpos_doc *doc = d->doc;
	if (n < 2)
		return decode_fail(d, "GS ( k with fewer than 2 parameter bytes");
	if (p[0] != 49)
		return 0; /* another symbol (PDF417...): skipped */
	switch (p[1]) {
	case 65:
		if (n != 4)
			return decode_fail(d, "QR model needs 4 bytes, got %zu", n);
		doc->qr_model = p[2];
		break;
	case 67:
		if (n != 3)
			return decode_fail(d, "QR size needs 3 bytes");
		doc->qr_module_size = p[2];
		break;
	case 69:
		if (n != 3)
			return decode_fail(d, "QR level needs 3 bytes");
		doc->qr_error_level = p[2];
		break;
	case 80:
		if (n < 4 || p[2] != 48)
			return decode_fail(d, "QR store needs m = 48 and data");
		doc->qr_len = n - 3 < sizeof doc->qr_data - 1 ? n - 3 : sizeof doc->qr_data - 1;
		memcpy(doc->qr_data, p + 3, doc->qr_len);
		doc->qr_data[doc->qr_len] = '\0';
		doc->qr_stored++;
		break;
	case 81:
		if (n != 3 || p[2] != 48)
			return decode_fail(d, "QR print needs m = 48");
		if (!doc->qr_stored)
			return decode_fail(d, "QR printed before any data was stored");
		doc->qr_printed++;
		break;
	default:
		break;
	}
	return 0;
}

/* Walks the stream. */
int escpos_decode(const unsigned char *b, size_t len, const char *single_byte_charset, struct escpos_doc *doc)
{
	memset(doc, 0, sizeof *doc);
	doc->code_table = -1;
	struct decoder d = {.doc = doc, .charset = single_byte_charset};
	decode_reset(&d);
	size_t i = 0;
	bool first = true;
#define NEED(k)                                                                        \
	do {                                                                           \
		if (i + (k) > len)                                                     \
			return decode_fail(&d, "command at %zu cut short", i);         \
	} while (0)
	while (i < len) {
		unsigned char c = b[i];
		bool was_cut = false;
		if (c == 0x1b) { /* ESC */
			NEED(2);
			unsigned char k = b[i + 1];
			if (first && k == '@')
				doc->starts_with_init = true;
			switch (k) {
			case '@':
				decode_break(&d);
				decode_reset(&d);
				i += 2;
				break;
			case 'a':
				NEED(3);
				decode_break(&d);
				d.align = b[i + 2] >= 48 ? b[i + 2] - 48 : b[i + 2];
				if (d.align > 2)
					return decode_fail(&d, "ESC a %d", b[i + 2]);
				i += 3;
				break;
			case 'E':
				NEED(3);
				decode_break(&d);
				d.bold = b[i + 2] & 1;
				i += 3;
				break;
			case '!':
				NEED(3);
				decode_break(&d);
				d.bold = b[i + 2] & 0x08;
				d.height = b[i + 2] & 0x10 ? 2 : 1;
				d.width = b[i + 2] & 0x20 ? 2 : 1;
				i += 3;
				break;
			case 'd':
			case 'J':
				NEED(3);
				decode_break(&d);
				i += 3;
				break;
			case 't':
				NEED(3);
				doc->code_table = b[i + 2];
				i += 3;
				break;
			case '-':
			case '3':
			case 'M':
				NEED(3);
				i += 3;
				break;
			case '2':
				i += 2;
				break;
			default:
				return decode_fail(&d, "unknown command ESC 0x%02x at %zu", k, i);
			}
		} else if (c == 0x1d) { /* GS */
			NEED(2);
			unsigned char k = b[i + 1];
			if (k == '!') {
				NEED(3);
				decode_break(&d);
				d.width = (b[i + 2] >> 4) + 1;
				d.height = (b[i + 2] & 0x0f) + 1;
				if (d.width > 8 || d.height > 8)
					return decode_fail(&d, "GS ! %d is out of range", b[i + 2]);
				i += 3;
			} else if (k == 'V') {
				NEED(3);
				decode_break(&d);
				unsigned char m = b[i + 2];
				if (m == 0 || m == 1 || m == 48 || m == 49)
					i += 3;
				else if (m == 65 || m == 66 || m == 97 || m == 98 || m == 103 || m == 104) {
					NEED(4);
					i += 4;
				} else
					return decode_fail(&d, "GS V %d is not a cut", m);
				doc->cuts++;
				was_cut = true;
			} else if (k == '(') {
				NEED(5);
				if (b[i + 2] != 'k')
					return decode_fail(&d, "GS ( %c is not handled", b[i + 2]);
				size_t n = b[i + 3] | (size_t)b[i + 4] << 8;
				NEED(5 + n);
				if (decode_qr(&d, b + i + 5, n) < 0)
					return -1;
				i += 5 + n;
			} else {
				return decode_fail(&d, "unknown command GS 0x%02x at %zu", k, i);
			}
		} else if (c == 0x1c) { /* FS */
			NEED(2);
			unsigned char k = b[i + 1];
			if (k == '&') {
				d.chinese = true;
				i += 2;
			} else if (k == '.') {
				d.chinese = false;
				i += 2;
			} else if (k == '!' || k == 'C') {
				NEED(3);
				i += 3;
			} else {
				return decode_fail(&d, "unknown command FS 0x%02x at %zu", k, i);
			}
		} else if (c == 0x0a) {
			if (decode_break(&d) < 0)
				return -1;
			size_t have = strlen(doc->text);
			if (have + 1 < sizeof doc->text) /* in the text, but not a run of its own */
				memcpy(doc->text + have, "\n", 2);
			i++;
		} else if (c == 0x0d) {
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			return decode_fail(&d, "control byte 0x%02x at %zu", c, i);
		} else {
			if (decode_text_byte(&d, c) < 0)
				return -1;
			i++;
		}
		first = false;
		doc->ends_with_cut = was_cut;
	}
#undef NEED
	if (d.pending_len && decode_flush(&d) < 0)
		return -1;
	return 0;
}

/* Finds the first run containing needle. */
const struct escpos_run *escpos_doc_find_run(const struct escpos_doc *doc, const char *needle)
{
	for (int i = 0; i < doc->run_count; i++)
		if (strstr(doc->runs[i].text, needle))
			return &doc->runs[i];
	return NULL;
}

/* Reads a file whole. */
unsigned char *escpos_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, used = 0;
	unsigned char *buf = malloc(cap);
	while (buf) {
		size_t n = fread(buf + used, 1, cap - used, f);
		used += n;
		if (used < cap)
			break;
		unsigned char *bigger = realloc(buf, cap * 2);
		if (!bigger) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = bigger;
		cap *= 2;
	}
	fclose(f);
	if (buf)
		*len = used;
	return buf;
}
