/* Unit tests of display/voice.c: the Mandarin and English announcement texts of a call and a
 * recall; the queue (one child at a time, in order, nothing lost) with a stand-in program;
 * a missing program; and, where espeak-ng is installed, one announcement rendered to WAV
 * files whose samples are checked to hold sound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../display/display.h"

/* A call of number to window, with the names qserver gives windows of the small hall. */
static struct call make_call(const char *number, int window, int recall)
{
	struct call c;
	memset(&c, 0, sizeof c);
	snprintf(c.number, sizeof c.number, "%s", number);
	c.window = window;
	snprintf(c.window_name, sizeof c.window_name, "%d号窗口", window);
	snprintf(c.window_name_en, sizeof c.window_name_en, "Window %d", window);
	c.recall = recall;
	return c;
}

/* The first call of a ticket is said as the issue asks, in both languages. */
static void text__first_call__mandarin_then_english(void **state)
{
	(void)state;
	struct call c = make_call("A012", 3, 0);
	char buf[VOICE_TEXT_MAX];
	voice_text_zh(&c, buf, sizeof buf);
	assert_string_equal(buf, "请 A012 号 到 3号窗口");
	voice_text_en(&c, buf, sizeof buf);
	assert_string_equal(buf, "Number A012, please go to window 3");
}

/* A recall says that it is one. */
static void text__recall__says_calling_again(void **state)
{
	(void)state;
	struct call c = make_call("B007", 12, 1);
	char buf[VOICE_TEXT_MAX];
	voice_text_zh(&c, buf, sizeof buf);
	assert_string_equal(buf, "再次呼叫，请 B007 号 到 12号窗口");
	voice_text_en(&c, buf, sizeof buf);
	assert_string_equal(buf, "Calling again: number B007, please go to window 12");
}

/* A window without names is spoken by its number; an unusual English name is kept as is. */
static void text__window_names__fallbacks(void **state)
{
	(void)state;
	struct call c = make_call("C001", 5, 0);
	char buf[VOICE_TEXT_MAX];
	c.window_name[0] = c.window_name_en[0] = '\0';
	voice_text_zh(&c, buf, sizeof buf);
	assert_string_equal(buf, "请 C001 号 到 5号窗口");
	voice_text_en(&c, buf, sizeof buf);
	assert_string_equal(buf, "Number C001, please go to window 5");
	snprintf(c.window_name, sizeof c.window_name, "综合窗口");
	snprintf(c.window_name_en, sizeof c.window_name_en, "the comprehensive counter");
	voice_text_zh(&c, buf, sizeof buf);
	assert_string_equal(buf, "请 C001 号 到 综合窗口");
	voice_text_en(&c, buf, sizeof buf);
	assert_string_equal(buf, "Number C001, please go to the comprehensive counter");
}

/* A text never overflows its buffer. */
static void text__small_buffer__cut_not_overflowed(void **state)
{
	(void)state;
	struct call c = make_call("A012", 3, 0);
	char buf[8];
	memset(buf, 'x', sizeof buf);
	voice_text_en(&c, buf, sizeof buf);
	assert_int_equal(strlen(buf), sizeof buf - 1);
}

/* A program that cannot be found is refused with a sentence that names it. */
static void new__missing_program__refused_with_warning(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	char err[256] = "";
	struct voice *v = voice_new(base, "/nonexistent/espeak-ng", NULL, err, sizeof err);
	assert_null(v);
	assert_non_null(strstr(err, "/nonexistent/espeak-ng not found"));
	v = voice_new(base, "no-such-speech-program-qhall", NULL, err, sizeof err);
	assert_null(v);
	event_base_free(base);
}

/* Stops the loop when the guard time is up (a test must not hang). */
static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop until the voice is idle or seconds pass; returns whether it went idle. */
static bool run_until_idle(struct event_base *base, struct voice *v, int seconds)
{
	struct event *guard = evtimer_new(base, guard_cb, base);
	struct timeval tv = {seconds, 0};
	evtimer_add(guard, &tv);
	while (!voice_idle(v)) {
		event_base_loop(base, EVLOOP_ONCE);
		if (!evtimer_pending(guard, NULL))
			break;
	}
	event_free(guard);
	return voice_idle(v);
}

/* Reads a whole file into a malloc'd buffer; NULL when it cannot. */
static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			unsigned char *grown = realloc(buf, cap);
			if (!grown)
				break;
			buf = grown;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		if (got == 0)
			break;
		n += got;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* Reads a little-endian integer of size bytes. */
static uint32_t le(const unsigned char *p, int size)
{
	uint32_t v = 0;
	for (int i = size - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Parses a RIFF/WAVE file of 16-bit PCM; returns its loudest sample's magnitude and (via
 * seconds) its length, or -1 when it is not such a file. */
static int wav_peak(const unsigned char *buf, size_t len, double *seconds)
{
	if (len < 12 || memcmp(buf, "RIFF", 4) != 0 || memcmp(buf + 8, "WAVE", 4) != 0)
		return -1;
	uint32_t rate = 0, channels = 0, bits = 0;
	size_t pos = 12;
	while (pos + 8 <= len) {
		uint32_t size = le(buf + pos + 4, 4);
		const unsigned char *body = buf + pos + 8;
		size_t avail = len - pos - 8;
		if (memcmp(buf + pos, "fmt ", 4) == 0 && size >= 16 && avail >= 16) {
			if (le(body, 2) != 1)
				return -1; /* not PCM */
			channels = le(body + 2, 2);
			rate = le(body + 4, 4);
			bits = le(body + 14, 2);
		} else if (memcmp(buf + pos, "data", 4) == 0) {
			if (bits != 16 || rate == 0 || channels == 0)
				return -1;
			/* espeak-ng writes 0x7fffffff as the size when it streams: use what is there. */
			size_t bytes = size > avail ? avail : size;
			int peak = 0;
			for (size_t i = 0; i + 1 < bytes; i += 2) {
				int sample = (int16_t)le(body + i, 2);
				if (abs(sample) > peak)
					peak = abs(sample);
			}
			*seconds = (double)bytes / 2.0 / channels / rate;
			return peak;
		}
		pos += 8 + size + (size & 1);
	}
	return -1;
}

/* Checks one WAV file holds at least a fifth of a second of sound. */
static void assert_wav_has_sound(const char *path)
{
	size_t len = 0;
	unsigned char *buf = read_file(path, &len);
	assert_non_null(buf);
	double seconds = 0;
	int peak = wav_peak(buf, len, &seconds);
	free(buf);
	print_message("%s: %zu bytes, %.2f s, peak %d\n", path, len, seconds, peak);
	assert_true(peak > 1000);
	assert_true(seconds > 0.2);
}

/* Removes the files of a scratch folder and the folder. */
static void remove_dir(const char *dir, const char *const *names, size_t n)
{
	char path[512];
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* Where espeak-ng is installed, a call becomes two WAV files that hold speech. */
static void wav__one_announcement__rendered_with_sound(void **state)
{
	(void)state;
	char dir[] = "/tmp/qhall-voice-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char wav_dir[64];
	snprintf(wav_dir, sizeof wav_dir, "%s/wav", dir);
	struct event_base *base = event_base_new();
	char err[256];
	struct voice *v = voice_new(base, NULL, wav_dir, err, sizeof err);
	if (!v) {
		event_base_free(base);
		rmdir(dir);
		print_message("espeak-ng is not installed: %s\n", err);
		skip();
	}
	struct call c = make_call("A012", 3, 0);
	voice_announce(v, &c);
	assert_false(voice_idle(v));
	assert_true(run_until_idle(base, v, 30));
	assert_int_equal(voice_failures(v), 0);
	char path[128];
	snprintf(path, sizeof path, "%s/call-0001-zh.wav", wav_dir);
	assert_wav_has_sound(path);
	snprintf(path, sizeof path, "%s/call-0001-en.wav", wav_dir);
	assert_wav_has_sound(path);
	voice_free(v);
	event_base_free(base);
	static const char *const files[] = {"call-0001-zh.wav", "call-0001-en.wav"};
	remove_dir(wav_dir, files, 2);
	rmdir(dir);
}

/* Announcements run one at a time, in order, none lost: a stand-in program records its text
 * and notes any overlap with a lock file. */
static void queue__three_calls__spoken_in_order_without_overlap(void **state)
{
	(void)state;
	char dir[] = "/tmp/qhall-voice-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char script[128], out[128];
	snprintf(script, sizeof script, "%s/speak.sh", dir);
	snprintf(out, sizeof out, "%s/spoken.txt", dir);
	FILE *f = fopen(script, "w");
	assert_non_null(f);
	/* The text is the last argument; a lock file present on entry means two ran at once. */
	fprintf(f,
		"#!/bin/sh\n"
		"for a in \"$@\"; do text=$a; done\n"
		"[ -e %s/lock ] && echo OVERLAP >> %s\n"
		": > %s/lock\n"
		"sleep 0.02\n"
		"echo \"$text\" >> %s\n"
		"rm -f %s/lock\n",
		dir, out, dir, out, dir);
	fclose(f);
	chmod(script, 0755);
	struct event_base *base = event_base_new();
	char err[256];
	struct voice *v = voice_new(base, script, NULL, err, sizeof err);
	assert_non_null(v);
	struct call calls[3] = {make_call("A001", 1, 0), make_call("B002", 3, 0),
				make_call("A001", 1, 1)};
	for (int i = 0; i < 3; i++)
		voice_announce(v, &calls[i]);
	assert_true(run_until_idle(base, v, 20));
	assert_int_equal(voice_failures(v), 0);
	size_t len = 0;
	char *spoken = (char *)read_file(out, &len);
	assert_non_null(spoken);
	spoken = realloc(spoken, len + 1);
	spoken[len] = '\0';
	assert_string_equal(spoken, "请 A001 号 到 1号窗口\n"
				    "Number A001, please go to window 1\n"
				    "请 B002 号 到 3号窗口\n"
				    "Number B002, please go to window 3\n"
				    "再次呼叫，请 A001 号 到 1号窗口\n"
				    "Calling again: number A001, please go to window 1\n");
	free(spoken);
	voice_free(v);
	event_base_free(base);
	static const char *const files[] = {"speak.sh", "spoken.txt", "lock"};
	remove_dir(dir, files, 3);
}

/* Makes a scratch folder (dir is its mkdtemp template) with a stand-in speech program, script,
 * that appends "RATE: TEXT" lines to out. */
static void write_stand_in(char *dir, char script[128], char out[128])
{
	assert_non_null(mkdtemp(dir));
	snprintf(script, 128, "%s/speak.sh", dir);
	snprintf(out, 128, "%s/spoken.txt", dir);
	FILE *f = fopen(script, "w");
	assert_non_null(f);
	fprintf(f,
		"#!/bin/sh\n"
		"rate=; prev=\n"
		"for a in \"$@\"; do [ \"$prev\" = -s ] && rate=$a; prev=$a; text=$a; done\n"
		"sleep 0.02\n"
		"echo \"$rate: $text\" >> %s\n",
		out);
	fclose(f);
	chmod(script, 0755);
}

/* Reads the stand-in's lines into a NUL-terminated malloc'd string. */
static char *read_spoken(const char *out)
{
	size_t len = 0;
	char *spoken = (char *)read_file(out, &len);
	assert_non_null(spoken);
	spoken = realloc(spoken, len + 1);
	spoken[len] = '\0';
	return spoken;
}

/* A burst of eight calls: the first is said, then everything that waits is dropped for a
 * chime and the newest, so the voice keeps in step with the screen; the rate is the faster
 * default. The chime goes to the WAV folder as a tone. */
static void queue__burst__skips_to_newest_with_a_chime(void **state)
{
	(void)state;
	char dir[] = "/tmp/qhall-voice-XXXXXX", script[128], out[128], wav_dir[160];
	write_stand_in(dir, script, out);
	snprintf(wav_dir, sizeof wav_dir, "%s/wav", dir);
	struct event_base *base = event_base_new();
	char err[256];
	struct voice *v = voice_new(base, script, wav_dir, err, sizeof err);
	assert_non_null(v);
	char number[16];
	for (int i = 1; i <= 8; i++) {
		snprintf(number, sizeof number, "A%03d", i);
		struct call c = make_call(number, 1, 0);
		voice_announce(v, &c);
	}
	assert_true(run_until_idle(base, v, 20));
	assert_int_equal(voice_failures(v), 0);
	assert_int_equal(voice_skipped(v), 6); /* A002..A007 */
	char *spoken = read_spoken(out);
	assert_string_equal(spoken, "180: 请 A001 号 到 1号窗口\n"
				    "180: 请 A008 号 到 1号窗口\n"
				    "180: Number A008, please go to window 1\n");
	free(spoken);
	char path[192];
	snprintf(path, sizeof path, "%s/call-0008-chime.wav", wav_dir);
	assert_wav_has_sound(path);
	snprintf(path, sizeof path, "%s/call-0004-chime.wav", wav_dir);
	assert_int_equal(access(path, F_OK), -1); /* an earlier chime was dropped with its call */
	voice_free(v);
	event_base_free(base);
	static const char *const wavs[] = {"call-0008-chime.wav"};
	remove_dir(wav_dir, wavs, 1);
	static const char *const files[] = {"speak.sh", "spoken.txt"};
	remove_dir(dir, files, 2);
}

/* English is optional and the rate can be set: Mandarin only, at 220 words a minute. */
static void queue__mandarin_only__rate_set(void **state)
{
	(void)state;
	char dir[] = "/tmp/qhall-voice-XXXXXX", script[128], out[128];
	write_stand_in(dir, script, out);
	struct event_base *base = event_base_new();
	char err[256];
	struct voice *v = voice_new(base, script, NULL, err, sizeof err);
	assert_non_null(v);
	voice_configure(v, 220, false);
	struct call a = make_call("A001", 1, 0), b = make_call("B002", 3, 1);
	voice_announce(v, &a);
	voice_announce(v, &b);
	assert_true(run_until_idle(base, v, 20));
	char *spoken = read_spoken(out);
	assert_string_equal(spoken, "220: 请 A001 号 到 1号窗口\n"
				    "220: 再次呼叫，请 B002 号 到 3号窗口\n");
	free(spoken);
	voice_free(v);
	event_base_free(base);
	static const char *const files[] = {"speak.sh", "spoken.txt"};
	remove_dir(dir, files, 2);
}

/* A child that fails is counted and the queue goes on to the next utterance. */
static void queue__failing_program__counted_and_moves_on(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	char err[256];
	struct voice *v = voice_new(base, "/bin/false", NULL, err, sizeof err);
	assert_non_null(v);
	struct call c = make_call("A001", 1, 0);
	voice_announce(v, &c);
	assert_true(run_until_idle(base, v, 10));
	assert_int_equal(voice_failures(v), 2);
	voice_free(v);
	event_base_free(base);
}

/* Runs every test of this file. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text__first_call__mandarin_then_english),
		cmocka_unit_test(queue__burst__skips_to_newest_with_a_chime),
		cmocka_unit_test(queue__mandarin_only__rate_set),
		cmocka_unit_test(text__recall__says_calling_again),
		cmocka_unit_test(text__window_names__fallbacks),
		cmocka_unit_test(text__small_buffer__cut_not_overflowed),
		cmocka_unit_test(new__missing_program__refused_with_warning),
		cmocka_unit_test(queue__three_calls__spoken_in_order_without_overlap),
		cmocka_unit_test(queue__failing_program__counted_and_moves_on),
		cmocka_unit_test(wav__one_announcement__rendered_with_sound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
