/* The qserver qsim drives: a child started on a free loopback port with --test-clock and its
 * own embedded Redis in a temporary folder, on a hall config written for the scenario, and
 * one manager connection that takes tickets, acts for every window and moves the clock. */
#include "qsim.h"

#include "password.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERVER_TIMEOUT_MS 10000
#define SERVER_SECRET "qsim-manager" /* the generated hall's only password: loopback, throwaway */

/* The epoch second at which simulated day `day` starts (00:00 site time). */
long long sim_day_start(int day)
{
	struct tm tm = {.tm_year = 2026 - 1900, .tm_mon = 11, .tm_mday = 1};
	return (long long)timegm(&tm) - QSIM_TZ_OFFSET_S + (long long)day * 86400;
}

/* The site date of simulated day `day`, YYYY-MM-DD. */
void sim_day_date(int day, char out[11])
{
	time_t t = (time_t)(sim_day_start(day) + QSIM_TZ_OFFSET_S);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Sleeps some milliseconds. */
static void server_nap(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Finds a free loopback port below the ephemeral range (the race until qserver binds it is
 * retried by the caller). */
static int server_free_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		int port = 20000 + (int)(model_uniform() * 12000) % 12000;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int ok = bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
		close(fd);
		if (ok)
			return port;
	}
	return -1;
}

/* Writes the scenario's hall: its services and windows, open around the clock, one manager. */
static int server_write_config(const struct sim_scenario *sc, const char *path)
{
	char hash[PASSWORD_HASH_MAX];
	if (password_hash_method(SERVER_SECRET, "$5$", hash, sizeof hash) < 0)
		return -1;
	cJSON *root = cJSON_CreateObject();
	cJSON *site = cJSON_AddObjectToObject(root, "site");
	cJSON_AddStringToObject(site, "id", "sim");
	cJSON_AddStringToObject(site, "name", "模拟大厅");
	cJSON_AddStringToObject(site, "name_en", "Simulated hall");
	cJSON_AddStringToObject(site, "tz", "Asia/Shanghai");
	cJSON_AddNumberToObject(site, "sla", 900);
	cJSON *hours = cJSON_AddObjectToObject(site, "hours");
	static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
	for (int d = 0; d < 7; d++)
		cJSON_AddStringToObject(hours, days[d], "00:00-24:00");
	cJSON *services = cJSON_AddArrayToObject(root, "services");
	for (int i = 0; i < sc->nservices; i++) {
		cJSON *s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "id", sc->svc[i].id);
		cJSON_AddStringToObject(s, "prefix", sc->svc[i].id);
		cJSON_AddStringToObject(s, "name", sc->svc[i].id);
		cJSON_AddStringToObject(s, "name_en", sc->svc[i].id);
		cJSON_AddNumberToObject(s, "service_time", sc->svc[i].configured_s);
		cJSON_AddItemToArray(services, s);
	}
	cJSON *windows = cJSON_AddArrayToObject(root, "windows");
	for (int w = 0; w < sc->nwindows; w++) {
		cJSON *win = cJSON_CreateObject();
		char name[32];
		cJSON_AddNumberToObject(win, "id", w + 1);
		snprintf(name, sizeof name, "%d号窗口", w + 1);
		cJSON_AddStringToObject(win, "name", name);
		snprintf(name, sizeof name, "Window %d", w + 1);
		cJSON_AddStringToObject(win, "name_en", name);
		cJSON *list = cJSON_AddArrayToObject(win, "services");
		for (int i = 0; i < sc->nservices; i++)
			if (sc->win_mask[w] & (1u << i))
				cJSON_AddItemToArray(list, cJSON_CreateString(sc->svc[i].id));
		if (!sc->win_mask[w])
			cJSON_AddItemToArray(list, cJSON_CreateString("*"));
		cJSON_AddItemToArray(windows, win);
	}
	cJSON *users = cJSON_AddArrayToObject(root, "users");
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "id", "sim");
	cJSON_AddStringToObject(m, "name", "模拟");
	cJSON_AddStringToObject(m, "role", "manager");
	cJSON_AddStringToObject(m, "password_hash", hash);
	cJSON_AddItemToObject(m, "windows", cJSON_CreateStringArray((const char *[]){"*"}, 1));
	cJSON_AddItemToArray(users, m);
	cJSON_AddArrayToObject(root, "kiosks");
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	FILE *f = text ? fopen(path, "w") : NULL;
	int rc = f && fputs(text, f) >= 0 ? 0 : -1;
	if (f && fclose(f) != 0)
		rc = -1;
	free(text);
	return rc;
}

/* Forks qserver with its output in the folder's log; returns the pid or -1. */
static int server_spawn(struct sim_server *s, const struct sim_target *target, int port)
{
	char config[96], state[96], log[96], start[32];
	snprintf(config, sizeof config, "%s/hall.json", s->dir);
	snprintf(state, sizeof state, "%s/state", s->dir);
	snprintf(log, sizeof log, "%s/qserver.log", s->dir);
	snprintf(s->address, sizeof s->address, "127.0.0.1:%d", port);
	snprintf(start, sizeof start, "%lld", sim_day_start(0));
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* a simulator that dies must not leave its server behind */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int null = open("/dev/null", O_RDONLY);
		if (fd < 0 || null < 0)
			_exit(127);
		dup2(null, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execl(target->qserver, target->qserver, "--config", config, "--state", state, "--listen", s->address,
		      "--test-clock", "--clock-start", start, "--rate", "1000000", "--log-level", "warn", (char *)NULL);
		dprintf(STDERR_FILENO, "qsim: cannot run %s: %s\n", target->qserver, strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Waits until the child answers a manager hello; 0 or -1 (the child is then stopped). */
static int server_connect(struct sim_server *s)
{
	for (int waited = 0; waited < SERVER_TIMEOUT_MS; waited += 20) {
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = 0;
			return -1;
		}
		s->sc = sync_connect(s->address, 250);
		if (s->sc) {
			cJSON *r = server_request(s, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"sim\",\"password\":\"%s\"}",
						  SERVER_SECRET);
			int ok = r && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"));
			cJSON_Delete(r);
			if (ok)
				return 0;
			sync_close(s->sc);
			s->sc = NULL;
		}
		server_nap(20);
	}
	return -1;
}

/* Signs in to a qserver someone else started on the scenario's hall (--write-config). */
static int server_attach(struct sim_server *s, const char *address)
{
	snprintf(s->address, sizeof s->address, "%s", address);
	s->sc = sync_connect(address, SERVER_TIMEOUT_MS);
	cJSON *r = s->sc ? server_request(s, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"sim\",\"password\":\"%s\"}",
					    SERVER_SECRET)
			 : NULL;
	int ok = r && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"));
	cJSON_Delete(r);
	if (!ok) {
		fprintf(stderr, "qsim: cannot sign in at %s as the manager of a hall written by --write-config\n", address);
		server_stop(s);
		return -1;
	}
	s->clock = sim_day_start(0);
	return 0;
}

/* Writes the scenario's hall config to path (for a qserver started by hand). */
int server_write_hall(const struct sim_scenario *sc, const char *path)
{
	if (server_write_config(sc, path) < 0) {
		fprintf(stderr, "qsim: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

/* Starts qserver for the scenario in a fresh folder and signs in as its manager, or signs in
 * to the target's running qserver. */
int server_start(struct sim_server *s, const struct sim_scenario *sc, const struct sim_target *target)
{
	memset(s, 0, sizeof *s);
	if (target->address)
		return server_attach(s, target->address);
	strcpy(s->dir, "/tmp/qsim-XXXXXX");
	if (!mkdtemp(s->dir)) {
		fprintf(stderr, "qsim: mkdtemp: %s\n", strerror(errno));
		s->dir[0] = '\0';
		return -1;
	}
	char config[96];
	snprintf(config, sizeof config, "%s/hall.json", s->dir);
	if (access(target->qserver, X_OK) != 0) {
		fprintf(stderr, "qsim: no qserver at %s (run make, or give --qserver PATH)\n", target->qserver);
		server_stop(s);
		return -1;
	}
	if (server_write_config(sc, config) < 0) {
		fprintf(stderr, "qsim: cannot write %s\n", config);
		server_stop(s);
		return -1;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		int port = server_free_port();
		s->pid = port > 0 ? server_spawn(s, target, port) : -1;
		if (s->pid > 0 && server_connect(s) == 0) {
			s->clock = sim_day_start(0);
			return 0;
		}
		if (s->pid > 0) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		s->pid = 0;
	}
	fprintf(stderr, "qsim: qserver did not come up; its log is %s/qserver.log\n", s->dir);
	s->dir[0] = '\0'; /* keep the folder for the log */
	server_stop(s);
	return -1;
}

/* nftw callback: removes one file or emptied folder. */
static int server_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* Closes the connection, stops the child (it stops its Redis) and removes the folder. */
void server_stop(struct sim_server *s)
{
	sync_close(s->sc);
	s->sc = NULL;
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		int waited = 0, status;
		while (waitpid(s->pid, &status, WNOHANG) == 0 && waited < SERVER_TIMEOUT_MS) {
			server_nap(10);
			waited += 10;
		}
		if (waited >= SERVER_TIMEOUT_MS) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		s->pid = 0;
	}
	if (s->dir[0])
		nftw(s->dir, server_rm, 8, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
}

/* Sends one request built printf-style and returns the response (cJSON_Delete it), or NULL
 * after saying why on stderr. An ok:false answer is returned as it is. */
cJSON *server_request(struct sim_server *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		return NULL;
	/* Right after the start qserver may still be setting up its Redis, and a server started by
	 * hand keeps its rate limit: unavailable and rate_limited answers changed nothing, so the
	 * request is sent again for a while. */
	for (int waited = 0;; waited += 20) {
		s->requests++;
		cJSON *r = sync_request(s->sc, line, SERVER_TIMEOUT_MS);
		if (!r)
			fprintf(stderr, "qsim: no answer to %s: %s\n", line, sync_error(s->sc));
		const cJSON *err = r ? cJSON_GetObjectItemCaseSensitive(r, "error") : NULL;
		const cJSON *code = err ? cJSON_GetObjectItemCaseSensitive(err, "code") : NULL;
		if (!cJSON_IsString(code) ||
		    (strcmp(code->valuestring, "unavailable") != 0 && strcmp(code->valuestring, "rate_limited") != 0) ||
		    waited >= SERVER_TIMEOUT_MS)
			return r;
		cJSON_Delete(r);
		server_nap(20);
	}
}

/* Moves the server clock forward to epoch second t (never back). 0 or -1. */
int server_set_clock(struct sim_server *s, long long t)
{
	if (t <= s->clock)
		return 0;
	cJSON *r = server_request(s, "{\"op\":\"clock\",\"set\":%lld}", t);
	int ok = r && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"));
	cJSON_Delete(r);
	if (!ok)
		return -1;
	s->clock = t;
	return 0;
}
