/* libFuzzer harness: the hall config parser (common/config.c) on any text. A config it
 * accepts must be freed without leaks, and a refusal must come with a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Parses one input as a hall config file. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char err[512] = "";
	struct config *cfg = config_parse(text, "fuzz.json", err, sizeof err);
	if (cfg) {
		/* What the server asks of a loaded config must hold for any accepted one. */
		for (size_t i = 0; i < cfg->nwindows; i++)
			if (config_window(cfg, cfg->windows[i].id) != &cfg->windows[i])
				abort();
		config_free(cfg);
	} else if (err[0] == '\0') {
		fprintf(stderr, "fuzz_config: refused without a message\n");
		abort();
	}
	free(text);
	return 0;
}
