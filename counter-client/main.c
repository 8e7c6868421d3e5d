/* counter-client: the clerk's console. Options, the password (asked without echo, or read
 * from a file or an environment variable named by a flag, never from the command line), the
 * manager view's hand-off, and the one event loop everything runs in. */
#include "counter.h"
#include "manager.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "password.h"
#include "syncclient.h"

#define MAIN_SITE_TIMEOUT_MS 1000 /* the public site read before signing in */

/* Weak, so the console builds and runs before manager.c (issue 6) exists. */
extern int manager_main(int argc, char **argv) __attribute__((weak));

/* Prints the usage to f. */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: counter-client [--server HOST:PORT] [--site ID] --user USER --window N\n"
		"                      [--password-file FILE | --password-env NAME] [--log FILE]\n"
		"       counter-client --manager ...   (the manager's view)\n"
		"\n"
		"The clerk's console of qhall. The password is asked without echo unless\n"
		"--password-file (its first line) or --password-env (the variable named) gives it.\n"
		"\n"
		"  --server HOST:PORT   qserver to use (default %s; unix:/path works too)\n"
		"                       several, as A,B: the next is used when one fails\n"
		"  --site ID            the site of the window, when qserver serves a region\n"
		"  --user USER          the clerk's login (e.g. c01)\n"
		"  --window N           the window to work at\n"
		"  --password-file FILE read the password from the first line of FILE\n"
		"  --password-env NAME  read the password from the environment variable NAME\n"
		"  --log FILE           append diagnostics to FILE (default: none, the screen is ours)\n"
		"  --help               this text\n"
		"\n"
		"Keys: F1/n Next, F2/r Recall, F3/s Start, F4/f Finish, F5/x No-show, F6/t Transfer,\n"
		"F7/c Call a number, F8/p Pause, F9/u Resume, F10/k Close, m No-show and call next,\n"
		"q Quit (close, pause or leave the window). See docs/counter-client.md.\n",
		CLIENT_DEFAULT_SERVER);
}

/* Reads the first line of a file into buf; -1 with a message when it cannot. */
static int main_password_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "counter-client: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	bool ok = fgets(buf, (int)size, f) != NULL;
	fclose(f);
	size_t len = ok ? strcspn(buf, "\r\n") : 0;
	if (!ok || (buf[len] == '\0' && len == size - 1)) {
		fprintf(stderr, "counter-client: %s holds no password line (or one too long)\n", path);
		return -1;
	}
	buf[len] = '\0';
	return 0;
}

/* Gets the password from the file, the variable or the terminal, in that order of choice. */
static int main_password(struct app *app, const char *file, const char *env)
{
	if (file)
		return main_password_file(file, app->password, sizeof app->password);
	if (env) {
		const char *value = getenv(env);
		if (!value || strlen(value) >= sizeof app->password) {
			fprintf(stderr, "counter-client: environment variable %s is %s\n", env,
				value ? "too long" : "not set");
			return -1;
		}
		snprintf(app->password, sizeof app->password, "%s", value);
		return 0;
	}
	char prompt[128];
	snprintf(prompt, sizeof prompt, "Password for %s at window %d: ", app->user, app->window_id);
	if (password_read_noecho(prompt, app->password, sizeof app->password) < 0) {
		fprintf(stderr, "counter-client: no password read\n");
		return -1;
	}
	return 0;
}

/* Parses the options into app; returns 0, 1 for --help, or -1 after a message. */
static int main_options(int argc, char **argv, struct app *app, const char **pw_file,
			const char **pw_env, const char **log_file)
{
	static const struct option options[] = {
		{"server", required_argument, NULL, 'S'},
		{"site", required_argument, NULL, 's'},
		{"user", required_argument, NULL, 'u'},
		{"window", required_argument, NULL, 'w'},
		{"password-file", required_argument, NULL, 'F'},
		{"password-env", required_argument, NULL, 'E'},
		{"password", required_argument, NULL, 'P'},
		{"log", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	char *end;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'S':
			snprintf(app->server, sizeof app->server, "%s", optarg);
			break;
		case 's':
			if (strlen(optarg) >= sizeof app->site_id || strchr(optarg, '"') || strchr(optarg, '\\')) {
				fprintf(stderr, "counter-client: --site takes a site id\n");
				return -1;
			}
			snprintf(app->site_id, sizeof app->site_id, "%s", optarg);
			break;
		case 'u':
			if (strlen(optarg) >= sizeof app->user) {
				fprintf(stderr, "counter-client: --user is too long\n");
				return -1;
			}
			snprintf(app->user, sizeof app->user, "%s", optarg);
			break;
		case 'w':
			errno = 0;
			long n = strtol(optarg, &end, 10);
			if (errno || *end || n < 1 || n > 9999) {
				fprintf(stderr, "counter-client: --window takes a window number\n");
				return -1;
			}
			app->window_id = (int)n;
			break;
		case 'F':
			*pw_file = optarg;
			break;
		case 'E':
			*pw_env = optarg;
			break;
		case 'P':
			/* A password in argv is visible to every user through ps and /proc. */
			fprintf(stderr, "counter-client: no password on the command line; use "
					"--password-file, --password-env or the prompt\n");
			return -1;
		case 'L':
			*log_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc || !app->user[0] || !app->window_id) {
		if (optind < argc)
			fprintf(stderr, "counter-client: unexpected argument %s\n", argv[optind]);
		else
			fprintf(stderr, "counter-client: --user and --window are required\n");
		usage(stderr);
		return -1;
	}
	if (app->server[0]) {
		struct client_address servers[CLIENT_MAX_SERVERS];
		if (client_parse_server_list(app->server, servers) < 0) {
			fprintf(stderr, "counter-client: bad --server %s (HOST:PORT with an IP address, "
					"or unix:/path; several separated by commas)\n", app->server);
			return -1;
		}
	}
	return 0;
}

/* Chinese names need a UTF-8 locale: take the user's, or C.UTF-8 when theirs is not UTF-8. */
static void main_locale(void)
{
	setlocale(LC_ALL, "");
	if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
		setlocale(LC_CTYPE, "C.UTF-8");
}

/* Sends diagnostics to the log file, or nowhere: stderr would write over the screen. */
static int main_redirect_stderr(const char *log_file)
{
	int fd = open(log_file ? log_file : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "counter-client: cannot open %s: %s\n", log_file, strerror(errno));
		return -1;
	}
	dup2(fd, STDERR_FILENO);
	close(fd);
	return 0;
}

/* Reads the public site once before signing in, so the header's clock shows the hall's time
 * from the start (even while a refused sign-in asks again). A server that does not answer
 * quickly costs a second at most; the clock then waits for the sign-in. */
static void main_site_time_zone(struct app *app)
{
	struct sync_client *sc = sync_connect(app->server[0] ? app->server : NULL, MAIN_SITE_TIMEOUT_MS);
	if (!sc)
		return;
	char request[COUNTER_ID_MAX + 32];
	snprintf(request, sizeof request, app->site_id[0] ? "{\"op\":\"site\",\"site\":\"%s\"}" : "{\"op\":\"site\"}", app->site_id);
	cJSON *response = sync_request(sc, request, MAIN_SITE_TIMEOUT_MS);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(response, "ok")))
		app_apply_site(app, cJSON_GetObjectItemCaseSensitive(response, "site"));
	cJSON_Delete(response);
	sync_close(sc);
}

/* Whether argv asks for the manager's view. */
static bool main_wants_manager(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--manager") == 0 || strcmp(argv[i], "--export") == 0 ||
		    strncmp(argv[i], "--manager=", 10) == 0 || strncmp(argv[i], "--export=", 9) == 0)
			return true;
	return false;
}

/* Hands --manager to the manager's view; else signs the clerk in and runs the loop until Quit
 * or a signal, restoring the terminal on every way out. */
int main(int argc, char **argv)
{
	if (main_wants_manager(argc, argv)) {
		if (!manager_main) {
			fprintf(stderr, "counter-client: the manager view is not built yet\n");
			return 2;
		}
		return manager_main(argc, argv);
	}
	static struct app app; /* large (the picture of the hall): static, not on the stack */
	const char *pw_file = NULL, *pw_env = NULL, *log_file = NULL;
	int r = main_options(argc, argv, &app, &pw_file, &pw_env, &log_file);
	if (r != 0)
		return r > 0 ? 0 : 2;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "counter-client: the console needs a terminal\n");
		return 2;
	}
	main_locale();
	log_set_name("counter-client");
	if (main_password(&app, pw_file, pw_env) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	main_site_time_zone(&app);
	int saved_stderr = dup(STDERR_FILENO);
	if (main_redirect_stderr(log_file) < 0)
		return 2;
	int status = 1;
	app.base = event_base_new();
	if (!app.base)
		goto out;
	if (link_start(&app) < 0) {
		dprintf(saved_stderr, "counter-client: cannot create the connection\n");
		goto out;
	}
	app_message(&app, false, "登录中 Signing in as %s at window %d...", app.user, app.window_id);
	if (term_start(&app) < 0) {
		term_stop();
		dprintf(saved_stderr, "counter-client: cannot set up the terminal\n");
		goto out;
	}
	event_base_dispatch(app.base);
	status = 0;
	term_stop();
out:
	link_stop(&app);
	term_stop();
	if (app.base)
		event_base_free(app.base);
	explicit_bzero(app.password, sizeof app.password);
	if (saved_stderr >= 0) {
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
	}
	return status;
}
