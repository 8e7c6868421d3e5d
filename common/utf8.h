/* UTF-8 checks and terminal widths (Chinese characters take two columns). */
#ifndef QHALL_UTF8_H
#define QHALL_UTF8_H

#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
int utf8_valid(const char *s, size_t len);
/* Counts the code points of a valid UTF-8 string. */
size_t utf8_length(const char *s);

#endif
