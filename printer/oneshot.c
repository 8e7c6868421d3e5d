/* The non-interactive mode, for scripts and tests: take one ticket (or fetch one to reprint),
 * print it, exit. The printer is opened before the ticket is taken, so a dead printer costs
 * no ticket; if the write still fails, the ticket is cancelled, never left waiting unprinted. */
#include "printer.h"

#include "syncclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ONESHOT_TIMEOUT_MS 5000

/* Sends a request object (taken) and returns the response, or NULL with the reason in err. */
static cJSON *oneshot_request(struct sync_client *sc, cJSON *req, char *err, size_t errlen)
{
	char *line = req ? cJSON_PrintUnformatted(req) : NULL;
	cJSON_Delete(req);
	if (!line) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cJSON *resp = sync_request(sc, line, ONESHOT_TIMEOUT_MS);
	free(line);
	if (!resp)
		snprintf(err, errlen, "no answer from qserver: %s", sync_error(sc));
	return resp;
}

/* True when the response says ok. */
static bool oneshot_ok(const cJSON *resp)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"));
}

/* Describes a refusal as "code: message", adding when the hall opens for `closed`. */
static void oneshot_describe_error(const cJSON *resp, const cJSON *site, char *buf, size_t len)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(resp, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(error, "message");
	const cJSON *opens_at = cJSON_GetObjectItemCaseSensitive(resp, "opens_at");
	char opens[96] = "";
	if (cJSON_IsNumber(opens_at)) {
		const cJSON *tz = cJSON_GetObjectItemCaseSensitive(site, "tz");
		char when[64];
		ticket_format_time((long)opens_at->valuedouble, cJSON_IsString(tz) ? tz->valuestring : NULL,
				   "%Y-%m-%d %H:%M", when, sizeof when);
		snprintf(opens, sizeof opens, " (the hall opens at %s)", when);
	}
	snprintf(buf, len, "%s: %s%s", cJSON_IsString(code) ? code->valuestring : "error",
		 cJSON_IsString(message) ? message->valuestring : "the server refused", opens);
}

/* Connects and says hello as a kiosk; returns the connection or NULL after printing why. */
static struct sync_client *oneshot_connect(const struct printer_options *opt)
{
	struct sync_client *sc = sync_connect(opt->server, ONESHOT_TIMEOUT_MS);
	if (!sc) {
		fprintf(stderr, "printer: cannot reach qserver at %s: %s\n",
			opt->server ? opt->server : "127.0.0.1:7420", strerror(errno));
		return NULL;
	}
	cJSON *hello = cJSON_CreateObject();
	cJSON_AddStringToObject(hello, "op", "hello");
	cJSON_AddStringToObject(hello, "role", "kiosk");
	cJSON_AddStringToObject(hello, "token", opt->token);
	if (opt->kiosk_id)
		cJSON_AddStringToObject(hello, "kiosk", opt->kiosk_id);
	if (opt->site && *opt->site)
		cJSON_AddStringToObject(hello, "site", opt->site);
	char err[256];
	cJSON *resp = oneshot_request(sc, hello, err, sizeof err);
	if (!resp || !oneshot_ok(resp)) {
		if (resp)
			oneshot_describe_error(resp, NULL, err, sizeof err);
		fprintf(stderr, "printer: hello as a kiosk refused: %s\n", err);
		cJSON_Delete(resp);
		sync_close(sc);
		return NULL;
	}
	cJSON_Delete(resp);
	return sc;
}

/* Cancels a ticket that could not be printed; 0 when the server confirmed it. */
static int oneshot_cancel(struct sync_client *sc, const char *id, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "cancel");
	cJSON_AddStringToObject(req, "ticket", id);
	cJSON *resp = oneshot_request(sc, req, err, errlen);
	int rc = resp && oneshot_ok(resp) ? 0 : -1;
	if (resp && rc < 0)
		oneshot_describe_error(resp, NULL, err, errlen);
	cJSON_Delete(resp);
	return rc;
}

/* Prints an existing ticket again, marked as a reprint; nothing changes at the server. */
static int oneshot_reprint(const struct printer_options *opt, struct sync_client *sc, const cJSON *site_resp,
			   struct output *out)
{
	const cJSON *site = cJSON_GetObjectItemCaseSensitive(site_resp, "site");
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "ticket");
	cJSON_AddStringToObject(req, "ticket", opt->reprint);
	char err[512];
	cJSON *resp = oneshot_request(sc, req, err, sizeof err);
	if (!resp || !oneshot_ok(resp)) {
		if (resp)
			oneshot_describe_error(resp, site, err, sizeof err);
		fprintf(stderr, "printer: cannot reprint %s: %s\n", opt->reprint, err);
		cJSON_Delete(resp);
		return ONESHOT_REFUSED;
	}
	struct ticket_info info;
	int rc = ONESHOT_PRINTED;
	if (ticket_info_from_json(&info, cJSON_GetObjectItemCaseSensitive(resp, "ticket"), site,
				  cJSON_GetObjectItemCaseSensitive(site_resp, "services"), err, sizeof err) < 0) {
		fprintf(stderr, "printer: cannot reprint %s: %s\n", opt->reprint, err);
		rc = ONESHOT_REFUSED;
	} else {
		info.reprint = true;
		struct ticket_layout layout;
		ticket_layout(&info, opt->columns, &layout);
		if (output_print(out, &layout, opt->codepage, err, sizeof err) < 0) {
			fprintf(stderr, "printer: %s; the reprint of %s was not printed\n", err, info.number);
			rc = ONESHOT_PRINT_FAILED;
		} else if (out->kind != OUTPUT_PREVIEW) {
			printf("%s %s\n", info.id, info.number);
		}
	}
	cJSON_Delete(resp);
	return rc;
}

/* Opens the printer, takes the ticket, prints it, and cancels it if printing fails. */
static int oneshot_take(const struct printer_options *opt, struct sync_client *sc, const cJSON *site_resp,
			struct output *out)
{
	const cJSON *site = cJSON_GetObjectItemCaseSensitive(site_resp, "site");
	char err[512];
	if (output_open(out, err, sizeof err) < 0) {
		fprintf(stderr, "printer: %s; no ticket was taken\n", err);
		return ONESHOT_PRINT_FAILED;
	}
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "take");
	cJSON_AddStringToObject(req, "service", opt->take_service);
	cJSON_AddStringToObject(req, "class", opt->take_class ? opt->take_class : "normal");
	cJSON *resp = oneshot_request(sc, req, err, sizeof err);
	if (!resp || !oneshot_ok(resp)) {
		if (resp)
			oneshot_describe_error(resp, site, err, sizeof err);
		fprintf(stderr, "printer: no ticket: %s\n", err);
		cJSON_Delete(resp);
		output_close(out);
		return ONESHOT_REFUSED;
	}
	const cJSON *ticket = cJSON_GetObjectItemCaseSensitive(resp, "ticket");
	struct ticket_info info;
	int rc = ONESHOT_PRINTED;
	if (ticket_info_from_json(&info, ticket, site, cJSON_GetObjectItemCaseSensitive(site_resp, "services"), err,
				  sizeof err) < 0) {
		/* Without an id it cannot even be cancelled; say so plainly. */
		fprintf(stderr, "printer: %s\n", err);
		output_close(out);
		cJSON_Delete(resp);
		return ONESHOT_LEFT_WAITING;
	}
	struct ticket_layout layout;
	ticket_info_status_url(&info, resp);
	ticket_layout(&info, opt->columns, &layout);
	if (output_send_ticket(out, &layout, opt->codepage, err, sizeof err) < 0) {
		char cancel_err[256];
		if (oneshot_cancel(sc, info.id, cancel_err, sizeof cancel_err) == 0) {
			fprintf(stderr, "printer: %s; ticket %s (%s) was cancelled\n", err, info.number, info.id);
			rc = ONESHOT_PRINT_FAILED;
		} else {
			fprintf(stderr,
				"printer: %s; ticket %s (%s) was issued but NOT printed, and cancelling it failed (%s): "
				"it is waiting with no paper ticket, tell the staff\n",
				err, info.number, info.id, cancel_err);
			rc = ONESHOT_LEFT_WAITING;
		}
	} else if (out->kind != OUTPUT_PREVIEW) {
		printf("%s %s\n", info.id, info.number);
	}
	cJSON_Delete(resp);
	return rc;
}

/* Runs --take or --reprint and returns the exit code. */
int oneshot_run(const struct printer_options *opt)
{
	struct output out;
	char err[512];
	if (output_parse(&out, opt->dest, opt->print_timeout_ms, err, sizeof err) < 0) {
		fprintf(stderr, "printer: %s\n", err);
		return ONESHOT_USAGE;
	}
	struct sync_client *sc = oneshot_connect(opt);
	if (!sc)
		return ONESHOT_REFUSED;
	int rc;
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "site");
	cJSON *site_resp = oneshot_request(sc, req, err, sizeof err);
	if (!site_resp || !oneshot_ok(site_resp)) {
		if (site_resp)
			oneshot_describe_error(site_resp, NULL, err, sizeof err);
		fprintf(stderr, "printer: cannot read the hall: %s\n", err);
		rc = ONESHOT_REFUSED;
	} else if (opt->reprint) {
		rc = oneshot_reprint(opt, sc, site_resp, &out);
	} else {
		rc = oneshot_take(opt, sc, site_resp, &out);
	}
	fflush(stdout);
	cJSON_Delete(site_resp);
	sync_close(sc);
	return rc;
}
