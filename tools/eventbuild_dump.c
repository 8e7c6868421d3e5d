/* What clients get from the function library's compact records, for scripts/functions-diff.py.
 * Reads frames from stdin, each "<kind> <stream id or -> <length>\n" and that many bytes:
 *   E  an audit entry's data (or a published message's): writes the protocol events qserver's
 *      eventbuild.c makes of it, one a line, as the live path builds it (with the learnt times
 *      the entries read so far recorded); or "?<id>" when it names the learnt times of an entry
 *      not read yet (send that entry with F, then this one again);
 *   F  an entry read only for the learnt times it records (as qserver reads a named entry);
 *   C  (length 0) forgets every entry read: a qserver that starts, or a resume;
 *   R  a function's result: writes the answer object qserver makes of it;
 * each answer ended by a line ".", and "!" for a malformed record. No config is given: window
 * names and service prefixes come out empty, the same for every record. */
#include "qserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes one built event on its line. */
static void print_event(const char *json, size_t len, void *arg)
{
	(void)arg;
	printf("%.*s\n", (int)len, json);
}

int main(void)
{
	char kind, id[STREAM_ID_TEXT_MAX], missing[STREAM_ID_TEXT_MAX];
	size_t len;
	struct joined_store *store = joined_store_new();
	while (store && scanf(" %c %47s %zu", &kind, id, &len) == 3 && getchar() == '\n') {
		char *data = malloc(len + 1);
		if (!data || fread(data, 1, len, stdin) != len) {
			free(data);
			break;
		}
		data[len] = '\0';
		if (kind == 'E') {
			int n = eventbuild_entry(NULL, store, id, data, len, print_event, NULL, missing);
			if (n == EVENTBUILD_MISSING)
				printf("?%s\n", missing);
			else if (n < 0)
				printf("!\n");
		} else if (kind == 'F') {
			eventbuild_learn(store, id, data, len);
		} else if (kind == 'C') {
			joined_store_free(store);
			store = joined_store_new();
		} else {
			char *result = eventbuild_result(NULL, data, len);
			printf("%s\n", result ? result : "!");
			free(result);
		}
		printf(".\n");
		fflush(stdout);
		free(data);
	}
	joined_store_free(store);
	return 0;
}
