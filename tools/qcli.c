/* qcli: sends qhall requests from the command line and prints the answers, for the tour,
 * scripts and operators. One JSON line out per response or event. */
#include "log.h"
#include "password.h"
#include "syncclient.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QCLI_TIMEOUT_MS 5000

static volatile sig_atomic_t stop;

/* Prints the usage text. */
static void usage(FILE *out)
{
	fprintf(out,
		"usage: qcli [--server HOST:PORT[,HOST:PORT...]] [--site ID] [LOGIN] OP [key=value ...]\n"
		"       qcli [--server HOST:PORT[,HOST:PORT...]] [--site ID] [LOGIN] watch [topic ...]\n"
		"\n"
		"Sends one request and prints the response as a JSON line; exits 0 when it is ok.\n"
		"`watch` subscribes and prints events until interrupted.\n"
		"\n"
		"--site ID names the site of a qserver that serves a region (also QHALL_SITE); the\n"
		"hello goes to that site. Without LOGIN or site no hello is sent (`qcli sites`).\n"
		"\n"
		"LOGIN (a hello before the request):\n"
		"  --kiosk              as a kiosk; the token comes from QHALL_TOKEN or a prompt\n"
		"  --clerk USER         as a clerk at --window N; password from QHALL_PASSWORD or a prompt\n"
		"  --manager USER       as a manager; password from QHALL_PASSWORD or a prompt\n"
		"  --window N           the clerk's window\n"
		"\n"
		"Values: integers and true/false are sent as JSON numbers and booleans, [a,b] as an\n"
		"array of strings, anything else as a string.\n"
		"\n"
		"examples:\n"
		"  qcli --kiosk take service=A class=priority\n"
		"  qcli --clerk c01 --window 1 call_next\n"
		"  qcli snapshot\n");
}

/* Turns key=value into a JSON member, guessing the value's type as the usage says. */
static int add_argument(cJSON *req, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg) {
		fprintf(stderr, "qcli: %s: expected key=value\n", arg);
		return -1;
	}
	char key[64];
	snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
	const char *value = eq + 1;
	char *end;
	errno = 0;
	long long n = strtoll(value, &end, 10);
	size_t vlen = strlen(value);
	if (*value && !*end && !errno)
		cJSON_AddNumberToObject(req, key, (double)n);
	else if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
		cJSON_AddBoolToObject(req, key, value[0] == 't');
	else if (strcmp(value, "null") == 0)
		cJSON_AddNullToObject(req, key);
	else if (vlen >= 2 && value[0] == '[' && value[vlen - 1] == ']') {
		cJSON *list = cJSON_AddArrayToObject(req, key);
		char *copy = strndup(value + 1, vlen - 2), *save = NULL;
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			cJSON_AddItemToArray(list, cJSON_CreateString(tok));
		free(copy);
	} else
		cJSON_AddStringToObject(req, key, value);
	return 0;
}

/* Gets a secret from the environment variable, or asks for it without echo. */
static int get_secret(const char *env, const char *prompt, char *buf, size_t len)
{
	const char *v = getenv(env);
	if (v) {
		snprintf(buf, len, "%s", v);
		return 0;
	}
	return password_read_noecho(prompt, buf, len);
}

/* Sends one request object and prints its response; returns 1 when it was ok. */
static int send_and_print(struct sync_client *sc, cJSON *req)
{
	char *line = cJSON_PrintUnformatted(req);
	cJSON *resp = line ? sync_request(sc, line, QCLI_TIMEOUT_MS) : NULL;
	free(line);
	if (!resp) {
		fprintf(stderr, "qcli: no answer: %s\n", sync_error(sc));
		return 0;
	}
	char *out = cJSON_PrintUnformatted(resp);
	printf("%s\n", out ? out : "");
	fflush(stdout);
	free(out);
	int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"));
	cJSON_Delete(resp);
	return ok;
}

/* Ends `watch` on a signal. */
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"server", required_argument, NULL, 's'}, {"kiosk", no_argument, NULL, 'k'},
		{"clerk", required_argument, NULL, 'c'},  {"manager", required_argument, NULL, 'm'},
		{"window", required_argument, NULL, 'w'}, {"site", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *server = getenv("QHALL_SERVER"), *site = getenv("QHALL_SITE"), *clerk = NULL, *manager = NULL;
	int kiosk = 0;
	long window = 0;
	int ch;
	log_set_name("qcli");
	while ((ch = getopt_long(argc, argv, "+s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': server = optarg; break;
		case 'k': kiosk = 1; break;
		case 'c': clerk = optarg; break;
		case 'm': manager = optarg; break;
		case 'w': window = strtol(optarg, NULL, 10); break;
		case 'S': site = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc || (clerk && window <= 0)) {
		usage(stderr);
		return 2;
	}
	struct sync_client *sc = sync_connect(server, QCLI_TIMEOUT_MS);
	if (!sc) {
		fprintf(stderr, "qcli: cannot connect to %s: %s\n", server ? server : "127.0.0.1:7420", strerror(errno));
		return 1;
	}
	int rc = 1;
	char secret[256];
	cJSON *hello = cJSON_CreateObject();
	cJSON_AddStringToObject(hello, "op", "hello");
	if (kiosk) {
		cJSON_AddStringToObject(hello, "role", "kiosk");
		/* QHALL_TOKEN, as the printer reads it; the printer's old QHALL_KIOSK_TOKEN works too. */
		const char *old = getenv("QHALL_KIOSK_TOKEN");
		if (!getenv("QHALL_TOKEN") && old) {
			fprintf(stderr, "qcli: QHALL_KIOSK_TOKEN is deprecated; set QHALL_TOKEN instead\n");
			snprintf(secret, sizeof secret, "%s", old);
		} else if (get_secret("QHALL_TOKEN", "Kiosk token: ", secret, sizeof secret) < 0) {
			goto out;
		}
		cJSON_AddStringToObject(hello, "token", secret);
	} else if (clerk || manager) {
		cJSON_AddStringToObject(hello, "role", clerk ? "clerk" : "manager");
		cJSON_AddStringToObject(hello, "user", clerk ? clerk : manager);
		if (get_secret("QHALL_PASSWORD", "Password: ", secret, sizeof secret) < 0)
			goto out;
		cJSON_AddStringToObject(hello, "password", secret);
		if (clerk)
			cJSON_AddNumberToObject(hello, "window", (double)window);
	} else {
		cJSON_AddStringToObject(hello, "role", "public");
	}
	if (site && *site)
		cJSON_AddStringToObject(hello, "site", site);
	memset(secret, 0, sizeof secret);
	/* The public needs no hello; without a site a region's server would refuse it. */
	int say_hello = kiosk || clerk || manager || (site && *site);
	char *hello_line = say_hello ? cJSON_PrintUnformatted(hello) : NULL;
	cJSON *hello_resp = hello_line ? sync_request(sc, hello_line, QCLI_TIMEOUT_MS) : NULL;
	free(hello_line);
	if (say_hello && (!hello_resp || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hello_resp, "ok")))) {
		char *text = hello_resp ? cJSON_PrintUnformatted(hello_resp) : NULL;
		fprintf(stderr, "qcli: hello failed: %s\n", text ? text : sync_error(sc));
		free(text);
		cJSON_Delete(hello_resp);
		goto out;
	}
	cJSON_Delete(hello_resp);

	const char *op = argv[optind];
	cJSON *req = cJSON_CreateObject();
	if (strcmp(op, "watch") == 0) {
		cJSON_AddStringToObject(req, "op", "subscribe");
		if (optind + 1 < argc) {
			cJSON *topics = cJSON_AddArrayToObject(req, "topics");
			for (int i = optind + 1; i < argc; i++)
				cJSON_AddItemToArray(topics, cJSON_CreateString(argv[i]));
		}
		if (!send_and_print(sc, req)) {
			cJSON_Delete(req);
			goto out;
		}
		cJSON_Delete(req);
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		while (!stop) {
			char *line;
			size_t len;
			enum sync_status st = sync_read_line(sc, 500, &line, &len);
			if (st == SYNC_TIMEOUT)
				continue;
			if (st != SYNC_OK) {
				fprintf(stderr, "qcli: connection ended: %s\n", sync_error(sc));
				goto out;
			}
			printf("%s\n", line);
			fflush(stdout);
			free(line);
		}
		rc = 0;
		goto out;
	}
	cJSON_AddStringToObject(req, "op", op);
	for (int i = optind + 1; i < argc; i++) {
		if (add_argument(req, argv[i]) < 0) {
			cJSON_Delete(req);
			rc = 2;
			goto out;
		}
	}
	rc = send_and_print(sc, req) ? 0 : 1;
	cJSON_Delete(req);
out:
	cJSON_Delete(hello);
	sync_close(sc);
	return rc;
}
