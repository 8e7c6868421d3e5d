/* Reading request arguments: each helper answers bad_request naming the field when the
 * argument is missing or wrong, and returns -1 so the handler just returns. */
#include "qserver.h"

#include <math.h>
#include <string.h>

/* Reads a string argument of at most max_len bytes; *out is NULL when absent and optional. */
int args_string(struct request *r, const char *name, int required, size_t max_len, const char **out)
{
	cJSON *item = cJSON_GetObjectItemCaseSensitive(r->args, name);
	*out = NULL;
	if (!item || cJSON_IsNull(item)) {
		if (!required)
			return 0;
		request_reply_error(r, "bad_request", name, "%s is required.", name);
		return -1;
	}
	if (!cJSON_IsString(item)) {
		request_reply_error(r, "bad_request", name, "%s must be a string.", name);
		return -1;
	}
	size_t len = strlen(item->valuestring);
	if (len == 0 && required) {
		request_reply_error(r, "bad_request", name, "%s must not be empty.", name);
		return -1;
	}
	if (len > max_len) {
		request_reply_error(r, "bad_request", name, "%s must be at most %zu bytes.", name, max_len);
		return -1;
	}
	*out = item->valuestring;
	return 0;
}

/* Reads an integer argument within [min, max]; *out keeps its value when absent and optional. */
int args_int(struct request *r, const char *name, int required, long min, long max, long *out)
{
	cJSON *item = cJSON_GetObjectItemCaseSensitive(r->args, name);
	if (!item || cJSON_IsNull(item)) {
		if (!required)
			return 0;
		request_reply_error(r, "bad_request", name, "%s is required.", name);
		return -1;
	}
	if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) || floor(item->valuedouble) != item->valuedouble) {
		request_reply_error(r, "bad_request", name, "%s must be an integer.", name);
		return -1;
	}
	if (item->valuedouble < (double)min || item->valuedouble > (double)max) {
		request_reply_error(r, "bad_request", name, "%s must be from %ld to %ld.", name, min, max);
		return -1;
	}
	*out = (long)item->valuedouble;
	return 0;
}

/* Reads an optional boolean argument; *out keeps its value when absent. */
int args_bool(struct request *r, const char *name, int *out)
{
	cJSON *item = cJSON_GetObjectItemCaseSensitive(r->args, name);
	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsBool(item)) {
		request_reply_error(r, "bad_request", name, "%s must be true or false.", name);
		return -1;
	}
	*out = cJSON_IsTrue(item);
	return 0;
}
