/* Voice: each call spoken by espeak-ng, Mandarin then (optionally) English, offline.
 * Utterances wait in a bounded queue and run one child process at a time, so announcements
 * never overlap; the child's end (SIGCHLD on the display's own loop) starts the next. When
 * calls come faster than they can be spoken, the voice skips to the newest with a chime rather
 * than fall minutes behind the screen. With a WAV folder the same queue renders files instead
 * of playing, for tests. */
#include "display.h"

#include "log.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define VOICE_TIMEOUT_S 30 /* an utterance that takes longer is a hung child */
#define VOICE_ZH "cmn"	   /* espeak-ng's Mandarin */
#define VOICE_EN "en-us"
#define VOICE_CHIME_HZ 22050
#define VOICE_CHIME_TEXT "叮咚" /* said when no sound player is installed for the chime */

/* One utterance waiting its turn: a sentence, or the chime that says calls were skipped. */
struct voice_job {
	char text[VOICE_TEXT_MAX];
	const char *voice; /* VOICE_ZH or VOICE_EN; NULL for the chime */
	const char *tag;   /* "zh", "en" or "chime", for the WAV file name */
	unsigned number;   /* the announcement it belongs to (1, 2, ...) */
	bool first;	   /* the first utterance of its announcement (counts the calls waiting) */
};

struct voice {
	struct event_base *base;
	char *program;
	char *wav_dir;
	struct event *child_event; /* SIGCHLD */
	struct event *timeout;
	pid_t child;
	int head, count;
	struct voice_job jobs[VOICE_MAX_JOBS];
	unsigned announcements;
	unsigned long failures;
	unsigned long skipped; /* announcements dropped to catch up */
	int rate;	       /* words a minute */
	bool english;
	char *player;	       /* aplay or paplay for the chime, or NULL: the chime is said */
	char chime_dir[64];    /* a private folder holding chime.wav while playing live */
	char chime_path[96];
};

/* Writes the window as Mandarin speaks it: its Chinese name, or "N号窗口". */
static void voice_window_zh(const struct call *call, char *buf, size_t size)
{
	if (call->window_name[0])
		snprintf(buf, size, "%s", call->window_name);
	else
		snprintf(buf, size, "%d号窗口", call->window);
}

/* Writes the window as English speaks it inside a sentence: "window 3" (lower case when the
 * name is the usual "Window N"), or the English name as it is. */
static void voice_window_en(const struct call *call, char *buf, size_t size)
{
	if (!call->window_name_en[0])
		snprintf(buf, size, "window %d", call->window);
	else if (strncmp(call->window_name_en, "Window ", 7) == 0)
		snprintf(buf, size, "window %s", call->window_name_en + 7);
	else
		snprintf(buf, size, "%s", call->window_name_en);
}

/* "请 A012 号 到 3号窗口", after "再次呼叫，" for a recall. */
void voice_text_zh(const struct call *call, char *buf, size_t size)
{
	char window[DISPLAY_NAME_MAX];
	voice_window_zh(call, window, sizeof window);
	snprintf(buf, size, "%s请 %s 号 到 %s", call->recall > 0 ? "再次呼叫，" : "", call->number,
		 window);
}

/* "Number A012, please go to window 3", or "Calling again: number A012, ..." for a recall. */
void voice_text_en(const struct call *call, char *buf, size_t size)
{
	char window[DISPLAY_NAME_MAX];
	voice_window_en(call, window, sizeof window);
	snprintf(buf, size, "%s %s, please go to %s", call->recall > 0 ? "Calling again: number" : "Number",
		 call->number, window);
}

/* Finds program in PATH (or checks it when it holds a '/'); returns a malloc'd path or NULL. */
static char *voice_find_program(const char *program)
{
	if (strchr(program, '/'))
		return access(program, X_OK) == 0 ? strdup(program) : NULL;
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		char candidate[4096];
		if (len > 0 && len + 1 + strlen(program) < sizeof candidate) {
			snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, path, program);
			if (access(candidate, X_OK) == 0)
				return strdup(candidate);
		}
		path += len;
		if (*path == ':')
			path++;
	}
	return NULL;
}

static int voice_run(struct voice *v, const char *program, const char **argv);

/* Writes little-endian n bytes of value. */
static void voice_le(FILE *f, uint32_t value, int n)
{
	for (int i = 0; i < n; i++)
		fputc((int)((value >> (8 * i)) & 0xff), f);
}

/* Writes the chime: two falling tones (880 Hz, then 660 Hz), each fading, as a 16-bit mono
 * WAV file; 0 or -1. Made here, so the display needs no sound file of its own. */
static int voice_write_chime(const char *path)
{
	const double tones[2][2] = {{880.0, 0.25}, {660.0, 0.45}};
	uint32_t samples = 0;
	for (int t = 0; t < 2; t++)
		samples += (uint32_t)(tones[t][1] * VOICE_CHIME_HZ);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	fputs("RIFF", f);
	voice_le(f, 36 + samples * 2, 4);
	fputs("WAVEfmt ", f);
	voice_le(f, 16, 4);
	voice_le(f, 1, 2); /* PCM */
	voice_le(f, 1, 2); /* mono */
	voice_le(f, VOICE_CHIME_HZ, 4);
	voice_le(f, VOICE_CHIME_HZ * 2, 4);
	voice_le(f, 2, 2);
	voice_le(f, 16, 2);
	fputs("data", f);
	voice_le(f, samples * 2, 4);
	for (int t = 0; t < 2; t++) {
		uint32_t n = (uint32_t)(tones[t][1] * VOICE_CHIME_HZ);
		for (uint32_t i = 0; i < n; i++) {
			double fade = 1.0 - (double)i / n;
			double s = sin(2.0 * M_PI * tones[t][0] * i / VOICE_CHIME_HZ) * fade * 12000.0;
			voice_le(f, (uint32_t)(uint16_t)(int16_t)s, 2);
		}
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* Starts one child for a job; returns 0, or -1 when it could not be started. In a WAV folder
 * the chime is written directly (returns 1: nothing runs). */
static int voice_spawn(struct voice *v, const struct voice_job *job)
{
	char wav_path[4096];
	const char *argv[10];
	int argc = 0;
	argv[argc++] = v->program;
	argv[argc++] = "-v";
	argv[argc++] = job->voice;
	char rate[16];
	snprintf(rate, sizeof rate, "%d", v->rate);
	argv[argc++] = "-s";
	argv[argc++] = rate;
	if (job->voice == NULL) { /* the chime through a sound player */
		argc = 0;
		argv[argc++] = v->player;
		if (strstr(v->player, "aplay"))
			argv[argc++] = "-q";
		argv[argc++] = v->chime_path;
		argv[argc] = NULL;
		return voice_run(v, v->player, argv);
	}
	if (v->wav_dir) {
		snprintf(wav_path, sizeof wav_path, "%s/call-%04u-%s.wav", v->wav_dir, job->number,
			 job->tag);
		argv[argc++] = "-w";
		argv[argc++] = wav_path;
	}
	argv[argc++] = job->text;
	argv[argc] = NULL;
	return voice_run(v, v->program, argv);
}

/* Starts program with argv as the one child; returns 0, or -1 when it could not be started. */
static int voice_run(struct voice *v, const char *program, const char **argv)
{
	/* The child must not write on the screen, and gets default signal handling back. */
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&attr);
	sigset_t defaults, empty;
	sigemptyset(&empty);
	sigemptyset(&defaults);
	int reset[] = {SIGPIPE, SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGQUIT};
	for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
		sigaddset(&defaults, reset[i]);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setsigmask(&attr, &empty);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	pid_t pid;
	int rc = posix_spawn(&pid, program, &actions, &attr, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		log_warn("voice: cannot run %s: %s", program, strerror(rc));
		return -1;
	}
	v->child = pid;
	struct timeval tv = {VOICE_TIMEOUT_S, 0};
	evtimer_add(v->timeout, &tv);
	return 0;
}

/* Runs the oldest waiting job when no child is speaking. */
static void voice_start_next(struct voice *v)
{
	while (v->child == 0 && v->count > 0) {
		struct voice_job job = v->jobs[v->head];
		v->head = (v->head + 1) % VOICE_MAX_JOBS;
		v->count--;
		if (job.voice == NULL && v->wav_dir) {
			char path[4096];
			snprintf(path, sizeof path, "%s/call-%04u-chime.wav", v->wav_dir, job.number);
			if (voice_write_chime(path) < 0)
				v->failures++;
			continue;
		}
		if (voice_spawn(v, &job) < 0)
			v->failures++;
	}
}

/* Reaps the child when it ends and moves on to the next utterance. */
static void voice_child_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct voice *v = arg;
	if (v->child == 0)
		return;
	int status;
	pid_t pid = waitpid(v->child, &status, WNOHANG);
	if (pid != v->child)
		return; /* another child of the process, or not finished yet */
	v->child = 0;
	evtimer_del(v->timeout);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		v->failures++;
		log_warn("voice: %s failed (%s %d)", v->program,
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	voice_start_next(v);
}

/* Kills a child that speaks for too long; its SIGCHLD then moves the queue on. */
static void voice_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct voice *v = arg;
	if (v->child > 0) {
		log_warn("voice: %s took over %d s; stopped", v->program, VOICE_TIMEOUT_S);
		kill(v->child, SIGKILL);
	}
}

/* Finds the program and sets up the child watch; the first utterance starts on demand. */
struct voice *voice_new(struct event_base *base, const char *program, const char *wav_dir,
			char *err, size_t err_size)
{
	if (!program)
		program = VOICE_DEFAULT_PROGRAM;
	char *path = voice_find_program(program);
	if (!path) {
		snprintf(err, err_size,
			 "voice off: %s not found (install the espeak-ng package); the display goes on "
			 "without voice",
			 program);
		return NULL;
	}
	if (wav_dir && mkdir(wav_dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, err_size, "voice off: cannot create %s: %s", wav_dir, strerror(errno));
		free(path);
		return NULL;
	}
	struct voice *v = calloc(1, sizeof *v);
	if (!v) {
		free(path);
		snprintf(err, err_size, "voice off: out of memory");
		return NULL;
	}
	v->base = base;
	v->program = path;
	v->rate = VOICE_DEFAULT_RATE;
	v->english = true;
	if (!wav_dir) {
		/* The chime is played by the usual sound players when one is installed. */
		v->player = voice_find_program("aplay");
		if (!v->player)
			v->player = voice_find_program("paplay");
		snprintf(v->chime_dir, sizeof v->chime_dir, "/tmp/qhall-chime-XXXXXX");
		if (v->player && mkdtemp(v->chime_dir)) {
			snprintf(v->chime_path, sizeof v->chime_path, "%s/chime.wav", v->chime_dir);
			if (voice_write_chime(v->chime_path) < 0) {
				unlink(v->chime_path);
				rmdir(v->chime_dir);
				v->chime_dir[0] = '\0';
			}
		} else {
			v->chime_dir[0] = '\0';
		}
		if (!v->chime_dir[0]) {
			free(v->player);
			v->player = NULL;
		}
	}
	v->wav_dir = wav_dir ? strdup(wav_dir) : NULL;
	v->child_event = evsignal_new(base, SIGCHLD, voice_child_cb, v);
	v->timeout = evtimer_new(base, voice_timeout_cb, v);
	if ((wav_dir && !v->wav_dir) || !v->child_event || !v->timeout ||
	    evsignal_add(v->child_event, NULL) < 0) {
		snprintf(err, err_size, "voice off: cannot watch child processes");
		voice_free(v);
		return NULL;
	}
	return v;
}

/* Sets the speed (words a minute) and whether each call is also said in English. */
void voice_configure(struct voice *v, int rate, bool english)
{
	v->rate = rate;
	v->english = english;
}

/* Appends one utterance; when the queue is full the oldest waiting one gives way. */
static void voice_push(struct voice *v, const char *text, const char *voice, const char *tag, bool first)
{
	if (v->count == VOICE_MAX_JOBS) {
		log_warn("voice: %d utterances waiting; dropping the oldest", VOICE_MAX_JOBS);
		v->head = (v->head + 1) % VOICE_MAX_JOBS;
		v->count--;
		v->failures++;
	}
	struct voice_job *job = &v->jobs[(v->head + v->count) % VOICE_MAX_JOBS];
	snprintf(job->text, sizeof job->text, "%s", text);
	job->voice = voice;
	job->tag = tag;
	job->number = v->announcements;
	job->first = first;
	v->count++;
}

/* Calls waiting to be spoken, not counting the one being spoken now. */
static int voice_calls_waiting(const struct voice *v)
{
	int n = 0;
	for (int i = 0; i < v->count; i++)
		n += v->jobs[(v->head + i) % VOICE_MAX_JOBS].first;
	return n;
}

/* Queues Mandarin then English (unless English is off) and starts speaking if nothing is.
 * With VOICE_BACKLOG_CALLS calls already waiting, the voice would fall behind the screen for
 * good in a burst: everything waiting is dropped and a chime, then this newest call, follow
 * the utterance being spoken. */
void voice_announce(struct voice *v, const struct call *call)
{
	char text[VOICE_TEXT_MAX];
	v->announcements++;
	int waiting = voice_calls_waiting(v);
	if (waiting >= VOICE_BACKLOG_CALLS) {
		v->skipped += (unsigned long)waiting;
		log_info("voice: %d calls behind; skipping to %s with a chime", waiting, call->number);
		v->count = 0;
		/* Played (or written) as a tone; said as "叮咚" where no sound player is installed. */
		voice_push(v, VOICE_CHIME_TEXT, v->player || v->wav_dir ? NULL : VOICE_ZH, "chime", false);
	}
	voice_text_zh(call, text, sizeof text);
	voice_push(v, text, VOICE_ZH, "zh", true);
	if (v->english) {
		voice_text_en(call, text, sizeof text);
		voice_push(v, text, VOICE_EN, "en", false);
	}
	voice_start_next(v);
}

/* Announcements dropped to catch up with a burst. */
unsigned long voice_skipped(const struct voice *v)
{
	return v->skipped;
}

/* Nothing speaking, nothing waiting. */
bool voice_idle(const struct voice *v)
{
	return v->child == 0 && v->count == 0;
}

/* Utterances dropped or failed. */
unsigned long voice_failures(const struct voice *v)
{
	return v->failures;
}

/* Stops the child (a display that quits must not leave it talking) and frees. */
void voice_free(struct voice *v)
{
	if (!v)
		return;
	if (v->child > 0) {
		kill(v->child, SIGTERM);
		waitpid(v->child, NULL, 0);
	}
	if (v->child_event)
		event_free(v->child_event);
	if (v->timeout)
		event_free(v->timeout);
	if (v->chime_dir[0]) {
		unlink(v->chime_path);
		rmdir(v->chime_dir);
	}
	free(v->player);
	free(v->program);
	free(v->wav_dir);
	free(v);
}
