/* An ESC/POS decoder for tests, written from the command reference and independent of the
 * printer's encoder: it walks the byte stream command by command and records what a printer
 * would print (text as UTF-8, with the size and emphasis of each run), the QR code stored and
 * printed, and the cuts. Anything it does not know is an error, so a stray byte fails a test. */
#ifndef QHALL_ESCPOS_DECODE_H
#define QHALL_ESCPOS_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#define ESCPOS_DOC_MAX_TEXT 16384
#define ESCPOS_DOC_MAX_RUNS 256

/* Text printed with one set of attributes, up to a line feed or a change of attribute. */
struct escpos_run {
	char text[512];	   /* UTF-8 */
	int width, height; /* character size multipliers (GS ! or ESC !) */
	bool bold;	   /* ESC E or ESC ! bit 3 */
	int align;	   /* ESC a: 0 left, 1 centre, 2 right */
	bool chinese;	   /* printed in Chinese character mode (FS &) */
};

struct escpos_doc {
	char text[ESCPOS_DOC_MAX_TEXT]; /* all printed text as UTF-8, line feeds as '\n' */
	struct escpos_run runs[ESCPOS_DOC_MAX_RUNS];
	int run_count;
	bool starts_with_init;	   /* the first command is ESC @ */
	int code_table;		   /* the last ESC t n, or -1 */
	char qr_data[2048];	   /* the last QR data stored (GS ( k fn 80) */
	size_t qr_len;
	int qr_model;		   /* 49 or 50 (model 1 or 2), 0 when not set */
	int qr_module_size;
	int qr_error_level;	   /* 48..51 (L, M, Q, H) */
	int qr_stored, qr_printed; /* counts of fn 80 and fn 81 */
	int cuts;		   /* GS V commands */
	bool ends_with_cut;	   /* nothing follows the last GS V */
	char error[200];	   /* the first problem found, "" when none */
};

/* Decodes bytes. single_byte_charset names the iconv charset of bytes 0x80-0xff outside
 * Chinese mode ("CP437", "UTF-8"...); NULL treats them as errors. Text in Chinese mode is read
 * as GB18030. Returns 0, or -1 with doc->error set (what was decoded before stays). */
int escpos_decode(const unsigned char *bytes, size_t len, const char *single_byte_charset, struct escpos_doc *doc);

/* The first run whose text contains needle, or NULL. */
const struct escpos_run *escpos_doc_find_run(const struct escpos_doc *doc, const char *needle);

/* Reads a whole file into a malloc'd buffer (free it); NULL when it cannot be read. */
unsigned char *escpos_read_file(const char *path, size_t *len);

#endif
