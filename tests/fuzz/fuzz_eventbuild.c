/* libFuzzer harness: qserver's reading of the function library's stream entries and results
 * (qserver/eventbuild.c) on the test hall. The input is two entries split at the first NUL:
 * the first is built as stream entry 100-0 and its learnt times recorded, then the second as
 * 101-0 (which may name the first's), and each is also read as a result. Whatever an entry
 * holds (a corrupt one included), building it must neither crash, leak nor overflow, and
 * every event it builds must be a JSON object (an entry of an earlier version, "{...}", is
 * handed on as it is, unread). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "qserver.h"

#ifndef FUZZ_HALL
#define FUZZ_HALL "tests/data/small.json"
#endif

static struct config *hall;

/* Loads the hall whose windows the events name. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char err[512];
	log_set_level(LOG_ERROR + 1); /* the log is not under test */
	hall = config_load(FUZZ_HALL, err, sizeof err);
	if (!hall) {
		fprintf(stderr, "fuzz_eventbuild: %s\n", err);
		abort();
	}
	return 0;
}

/* The entry being built, whose text an event handed on as it is points into. */
struct entry_text {
	const char *text;
	size_t size;
};

/* Checks that an event handed out is a JSON object, unless it is the entry's own text. */
static void check_event(const char *json, size_t len, void *arg)
{
	const struct entry_text *entry = arg;
	if (json >= entry->text && json + len <= entry->text + entry->size)
		return;
	cJSON *ev = cJSON_ParseWithLength(json, len);
	if (!cJSON_IsObject(ev))
		abort();
	cJSON_Delete(ev);
}

/* Builds one entry as stream entry id, records its learnt times, and reads it as a result. */
static void build_entry(struct joined_store *store, const char *id, const uint8_t *data, size_t size)
{
	char missing[STREAM_ID_TEXT_MAX];
	char *text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	struct entry_text entry = {text, size};
	eventbuild_entry(hall, store, id, text, size, check_event, &entry, missing);
	eventbuild_learn(store, id, text, size);
	free(eventbuild_result(hall, text, size));
	free(text);
}

/* One input: the entries before and after its first NUL. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t first = nul ? (size_t)(nul - data) : size;
	struct joined_store *store = joined_store_new();
	if (!store)
		abort();
	build_entry(store, "100-0", data, first);
	if (nul)
		build_entry(store, "101-0", nul + 1, size - first - 1);
	joined_store_free(store);
	return 0;
}
