/* What clients get from the function library's compact records, for scripts/functions-diff.py:
 * reads frames from stdin, "E <length>\n" and an audit entry's (or published message's) data,
 * or "R <length>\n" and a function's result, and writes for each the protocol events qserver's
 * eventbuild.c makes of the entry, one a line, or the result object, then a line ".", or a line
 * "!" when the record is malformed. No config is given: window names and service prefixes come
 * out empty, the same for every record. */
#include "qserver.h"

#include <stdio.h>
#include <stdlib.h>

/* Writes one built event on its line. */
static void print_event(const char *json, size_t len, void *arg)
{
	(void)arg;
	printf("%.*s\n", (int)len, json);
}

int main(void)
{
	char kind;
	size_t len;
	while (scanf(" %c %zu", &kind, &len) == 2 && getchar() == '\n') {
		char *data = malloc(len + 1);
		if (!data || fread(data, 1, len, stdin) != len) {
			free(data);
			return 1;
		}
		data[len] = '\0';
		if (kind == 'E') {
			if (eventbuild_each(NULL, data, len, print_event, NULL) < 0)
				printf("!\n");
		} else {
			char *result = eventbuild_result(NULL, data, len);
			printf("%s\n", result ? result : "!");
			free(result);
		}
		printf(".\n");
		fflush(stdout);
		free(data);
	}
	return 0;
}
