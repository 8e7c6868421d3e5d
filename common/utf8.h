/* UTF-8 checks and terminal widths (Chinese characters take two columns). */
#ifndef QHALL_UTF8_H
#define QHALL_UTF8_H

#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
int utf8_valid(const char *s, size_t len);
/* Counts the code points of a valid UTF-8 string. */
size_t utf8_length(const char *s);

/* Terminal widths (added for the wall display): columns per code point as wcwidth(3) says in a
 * UTF-8 locale, with East Asian wide ranges as a fallback when the locale does not know them. */

/* Decodes one code point from s[0..len) into *cp; returns the bytes used (1 for a bad byte,
 * which decodes as U+FFFD) or 0 when len is 0. */
size_t utf8_decode(const char *s, size_t len, unsigned int *cp);
/* Columns of one code point: 0 for combining marks and controls, 2 for wide (CJK) ones, else 1. */
int utf8_cp_width(unsigned int cp);
/* Columns of a NUL-terminated UTF-8 string. */
size_t utf8_width(const char *s);
/* Bytes of the longest prefix of s that fits in max_cols columns without splitting a
 * character; its width goes to *cols when cols is not NULL. */
size_t utf8_fit(const char *s, size_t max_cols, size_t *cols);
/* Copies into out (of out_size bytes) the prefix of s that fits in max_cols columns, ending it
 * with "…" when s had to be cut; returns the columns of the copy. */
size_t utf8_truncate(const char *s, size_t max_cols, char *out, size_t out_size);

/* Writes s into out (of outsize bytes, always NUL-terminated) taking exactly cols columns (for
 * aligning Chinese names in columns): cut with "…" when wider, padded with spaces on the right
 * when narrower (on the left when right_align); control characters become '?'. Returns the
 * columns written, less than cols only when outsize is too small. */
size_t utf8_pad(char *out, size_t outsize, const char *s, size_t cols, int right_align);

#endif
