/* UTF-8 checks. */
#include "utf8.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>

/* Walks the bytes by the rules of RFC 3629 table 3-7. */
int utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t need;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0; /* no overlongs */
			if (c == 0xed)
				hi = 0x9f; /* no surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f; /* nothing past U+10FFFF */
		} else
			return 0;
		if (i + need >= len)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k <= need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		i += need + 1;
	}
	return 1;
}

/* Counts code points: every byte that does not continue a sequence starts one. */
size_t utf8_length(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* ---- Terminal widths (added for the wall display) ---- */

/* Decodes leniently: a byte that does not start a well-formed sequence counts as U+FFFD, so a
 * bad name costs one column instead of derailing the whole line. */
size_t utf8_decode(const char *str, size_t len, unsigned int *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	if (len == 0)
		return 0;
	unsigned char c = s[0];
	size_t need;
	unsigned int value;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		value = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		value = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		value = c & 0x07;
	} else {
		*cp = 0xfffd;
		return 1;
	}
	if (need >= len || !utf8_valid(str, need + 1)) {
		*cp = 0xfffd;
		return 1;
	}
	for (size_t k = 1; k <= need; k++)
		value = (value << 6) | (s[k] & 0x3f);
	*cp = value;
	return need + 1;
}

/* Whether a code point is in the East Asian Wide or Fullwidth blocks (used when the C
 * library's locale has no width table, as in the plain C locale). */
static int utf8_is_wide(unsigned int cp)
{
	static const unsigned int wide[][2] = {
		{0x1100, 0x115f}, {0x2e80, 0x303e}, {0x3041, 0x33ff}, {0x3400, 0x4dbf},
		{0x4e00, 0x9fff}, {0xa000, 0xa4cf}, {0xac00, 0xd7a3}, {0xf900, 0xfaff},
		{0xfe30, 0xfe4f}, {0xff00, 0xff60}, {0xffe0, 0xffe6}, {0x1f300, 0x1f64f},
		{0x20000, 0x3fffd},
	};
	for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
		if (cp >= wide[i][0] && cp <= wide[i][1])
			return 1;
	return 0;
}

/* Asks wcwidth first so the screen and our arithmetic agree with ncursesw, which uses it too. */
int utf8_cp_width(unsigned int cp)
{
	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
		return 0;
	if (cp < 0x7f)
		return 1;
	int w = wcwidth((wchar_t)cp);
	if (w >= 0)
		return w;
	if (cp >= 0x300 && cp <= 0x36f)
		return 0; /* combining diacritics */
	return utf8_is_wide(cp) ? 2 : 1;
}

/* Sums the widths of the code points. */
size_t utf8_width(const char *s)
{
	size_t cols = 0, len = strlen(s), i = 0;
	while (i < len) {
		unsigned int cp;
		i += utf8_decode(s + i, len - i, &cp);
		cols += (size_t)utf8_cp_width(cp);
	}
	return cols;
}

/* Walks characters while they still fit. */
size_t utf8_fit(const char *s, size_t max_cols, size_t *cols)
{
	size_t used = 0, len = strlen(s), i = 0;
	while (i < len) {
		unsigned int cp;
		size_t n = utf8_decode(s + i, len - i, &cp);
		size_t w = (size_t)utf8_cp_width(cp);
		if (used + w > max_cols)
			break;
		used += w;
		i += n;
	}
	if (cols)
		*cols = used;
	return i;
}

/* Fits by columns and by bytes at once, cutting one column earlier when it must cut so the
 * ellipsis still fits, and never splitting a character. */
size_t utf8_truncate(const char *s, size_t max_cols, char *out, size_t out_size)
{
	static const char ellipsis[] = "\xe2\x80\xa6"; /* U+2026, one column */
	const size_t ellipsis_len = sizeof ellipsis - 1;
	if (out_size == 0)
		return 0;
	size_t full_cols;
	size_t full_bytes = utf8_fit(s, max_cols, &full_cols);
	if (s[full_bytes] == '\0' && full_bytes < out_size) {
		memcpy(out, s, full_bytes + 1);
		return full_cols;
	}
	/* It must be cut, by width or by buffer: keep what fits before the ellipsis. */
	bool with_ellipsis = max_cols >= 1 && out_size > ellipsis_len;
	size_t col_budget = with_ellipsis ? max_cols - 1 : max_cols;
	size_t byte_budget = out_size - 1 - (with_ellipsis ? ellipsis_len : 0);
	size_t used = 0, i = 0, len = strlen(s);
	while (i < len) {
		unsigned int cp;
		size_t n = utf8_decode(s + i, len - i, &cp);
		size_t w = (size_t)utf8_cp_width(cp);
		if (used + w > col_budget || i + n > byte_budget)
			break;
		used += w;
		i += n;
	}
	memcpy(out, s, i);
	/* "Social …" reads as a stray space: the ellipsis goes right after the last letter. */
	while (with_ellipsis && i > 0 && out[i - 1] == ' ') {
		i--;
		used--;
	}
	if (with_ellipsis) {
		memcpy(out + i, ellipsis, ellipsis_len);
		i += ellipsis_len;
		used++;
	}
	out[i] = '\0';
	return used;
}

/* ---- Fixed-width columns (added for the clerk console) ---- */

/* Appends n bytes to out if they fit with the NUL; returns 0 when they do not. */
static int utf8_put(char *out, size_t outsize, size_t *at, const char *bytes, size_t n)
{
	if (*at + n >= outsize)
		return 0;
	memcpy(out + *at, bytes, n);
	*at += n;
	out[*at] = '\0';
	return 1;
}

/* Copies character by character so that control characters (which would move the cursor or
 * start an escape sequence on the terminal) become '?', and pads with spaces so the next
 * column starts where it should even when a wide character did not fit. */
size_t utf8_pad(char *out, size_t outsize, const char *s, size_t cols, int right_align)
{
	static const char ellipsis[] = "\xe2\x80\xa6"; /* U+2026, one column */
	size_t at = 0, used = 0, len = strlen(s), width = 0;
	if (outsize == 0)
		return 0;
	out[0] = '\0';
	for (size_t i = 0; i < len;) {
		unsigned int cp;
		i += utf8_decode(s + i, len - i, &cp);
		width += cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? 1 : (size_t)utf8_cp_width(cp);
	}
	size_t room = width > cols ? (cols > 0 ? cols - 1 : 0) : cols;
	for (size_t i = width; right_align && i < cols; i++, used++)
		if (!utf8_put(out, outsize, &at, " ", 1))
			return used;
	for (size_t i = 0; i < len;) {
		unsigned int cp;
		size_t n = utf8_decode(s + i, len - i, &cp);
		size_t w = (size_t)utf8_cp_width(cp);
		const char *src = s + i;
		size_t srclen = n;
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			src = "?";
			srclen = 1;
			w = 1;
		} else if (cp == 0xfffd && n == 1) {
			src = "\xef\xbf\xbd";
			srclen = 3;
		}
		if (used + w > room || !utf8_put(out, outsize, &at, src, srclen))
			break;
		used += w;
		i += n;
	}
	if (width > cols && cols > 0) {
		/* The ellipsis follows the last character kept, never a space (a cut after a word,
		 * or a wide character that did not fit): the padding goes after it. */
		while (at > 0 && out[at - 1] == ' ' && used > 0) {
			out[--at] = '\0';
			used--;
		}
		if (utf8_put(out, outsize, &at, ellipsis, sizeof ellipsis - 1))
			used++;
	}
	while (used < cols && utf8_put(out, outsize, &at, " ", 1))
		used++;
	return used;
}
