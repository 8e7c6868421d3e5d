/* The protocol's events out of a stream entry or published message of the function library:
 * one function call records all the events it caused as one JSON array, in order
 * (docs/functions.md); entries of earlier versions hold one event object. Splitting the
 * array by scanning keeps each event's bytes exactly as the library wrote them. */
#include "qserver.h"

#include <string.h>

/* Returns the length of the JSON object at s (which starts with '{'), or 0 when it does not
 * end within len. */
static size_t eventbuild_object_len(const char *s, size_t len)
{
	int depth = 0, in_string = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (in_string) {
			if (ch == '\\')
				i++; /* the escaped character belongs to the string */
			else if (ch == '"')
				in_string = 0;
		} else if (ch == '"') {
			in_string = 1;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if ((ch == '}' || ch == ']') && --depth == 0) {
			return i + 1;
		}
	}
	return 0;
}

/* Calls each(event, length, arg) for every event of a message, in order; returns how many,
 * or -1 when the message is not an array of JSON objects nor one object. */
int eventbuild_each(const char *json, size_t len, eventbuild_fn *each, void *arg)
{
	while (len && (*json == ' ' || *json == '\n')) {
		json++;
		len--;
	}
	if (len && json[0] == '{') {
		each(json, len, arg);
		return 1;
	}
	if (len < 2 || json[0] != '[' || json[len - 1] != ']')
		return -1;
	size_t i = 1, end = len - 1;
	int n = 0;
	while (i < end) {
		if (json[i] != '{')
			return -1;
		size_t vlen = eventbuild_object_len(json + i, end - i);
		if (vlen == 0)
			return -1;
		each(json + i, vlen, arg);
		n++;
		i += vlen;
		if (i < end && json[i++] != ',')
			return -1;
	}
	return n;
}
