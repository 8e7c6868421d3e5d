/* Unit tests of common/frame.c: NDJSON line framing and its 65536-byte limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

/* Creates the buffer every test reads from. */
static int setup(void **state)
{
	*state = evbuffer_new();
	return *state ? 0 : -1;
}

/* Frees it. */
static int teardown(void **state)
{
	evbuffer_free(*state);
	return 0;
}

/* Appends n copies of byte c. */
static void add_bytes(struct evbuffer *buf, char c, size_t n)
{
	char *bytes = malloc(n);
	assert_non_null(bytes);
	memset(bytes, c, n);
	assert_int_equal(evbuffer_add(buf, bytes, n), 0);
	free(bytes);
}

/* A line that arrives in two reads is taken whole once its newline is there. */
static void read_line__split_across_reads__joined(void **state)
{
	struct evbuffer *buf = *state;
	char *line = NULL;
	size_t len = 0;
	evbuffer_add_printf(buf, "{\"op\":");
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_NEED_MORE);
	assert_int_equal(evbuffer_get_length(buf), 6); /* nothing consumed while incomplete */
	evbuffer_add_printf(buf, "\"ping\"}\n");
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_LINE);
	assert_string_equal(line, "{\"op\":\"ping\"}");
	assert_int_equal(len, 13);
	assert_int_equal(evbuffer_get_length(buf), 0);
	free(line);
}

/* Two lines in one read come out one at a time, in order. */
static void read_line__two_lines_in_one_read__in_order(void **state)
{
	struct evbuffer *buf = *state;
	char *line;
	size_t len;
	evbuffer_add_printf(buf, "{\"a\":1}\n{\"b\":2}\n{\"c\"");
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_LINE);
	assert_string_equal(line, "{\"a\":1}");
	free(line);
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_LINE);
	assert_string_equal(line, "{\"b\":2}");
	free(line);
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_NEED_MORE);
}

/* A CR before the newline is not part of the line. */
static void read_line__crlf__cr_dropped(void **state)
{
	struct evbuffer *buf = *state;
	char *line;
	size_t len;
	evbuffer_add_printf(buf, "{\"op\":\"ping\"}\r\n");
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_LINE);
	assert_string_equal(line, "{\"op\":\"ping\"}");
	assert_int_equal(len, 13);
	free(line);
}

/* An empty line (and a lone CRLF) is a line of length 0, not an error. */
static void read_line__empty_line__zero_length(void **state)
{
	struct evbuffer *buf = *state;
	char *line;
	size_t len = 99;
	evbuffer_add_printf(buf, "\n\r\n");
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_LINE);
	assert_int_equal(len, 0);
	assert_string_equal(line, "");
	free(line);
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_LINE);
	assert_int_equal(len, 0);
	free(line);
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_NEED_MORE);
}

/* 65535 bytes and the newline make exactly 65536: the largest legal line. */
static void read_line__exactly_65536_with_newline__accepted(void **state)
{
	struct evbuffer *buf = *state;
	char *line;
	size_t len;
	add_bytes(buf, 'x', FRAME_MAX_LINE - 1);
	add_bytes(buf, '\n', 1);
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_LINE);
	assert_int_equal(len, FRAME_MAX_LINE - 1);
	assert_int_equal(strlen(line), FRAME_MAX_LINE - 1);
	free(line);
}

/* 65536 bytes and the newline make 65537: refused. */
static void read_line__65537_with_newline__too_long(void **state)
{
	struct evbuffer *buf = *state;
	char *line;
	size_t len;
	add_bytes(buf, 'x', FRAME_MAX_LINE);
	add_bytes(buf, '\n', 1);
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_TOO_LONG);
}

/* Without a newline, 65536 pending bytes can never end as a legal line: refused at once. */
static void read_line__65536_pending_without_newline__too_long(void **state)
{
	struct evbuffer *buf = *state;
	char *line;
	size_t len;
	add_bytes(buf, 'x', FRAME_MAX_LINE - 1);
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_NEED_MORE);
	add_bytes(buf, 'x', 1);
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_TOO_LONG);
}

/* A line after a legal long line is still found. */
static void read_line__long_then_short__both_taken(void **state)
{
	struct evbuffer *buf = *state;
	char *line;
	size_t len;
	add_bytes(buf, 'y', FRAME_MAX_LINE - 1);
	evbuffer_add_printf(buf, "\nok\n");
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_LINE);
	free(line);
	assert_int_equal(frame_read_line(buf, &line, &len), FRAME_LINE);
	assert_string_equal(line, "ok");
	free(line);
}

/* frame_write_line adds exactly one newline after the text. */
static void write_line__text__newline_appended(void **state)
{
	struct evbuffer *buf = *state;
	assert_int_equal(frame_write_line(buf, "{\"ok\":true}", 11), 0);
	assert_int_equal(evbuffer_get_length(buf), 12);
	char out[13] = {0};
	evbuffer_remove(buf, out, 12);
	assert_string_equal(out, "{\"ok\":true}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(read_line__split_across_reads__joined, setup, teardown),
		cmocka_unit_test_setup_teardown(read_line__two_lines_in_one_read__in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(read_line__crlf__cr_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(read_line__empty_line__zero_length, setup, teardown),
		cmocka_unit_test_setup_teardown(read_line__exactly_65536_with_newline__accepted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(read_line__65537_with_newline__too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(read_line__65536_pending_without_newline__too_long, setup,
						teardown),
		cmocka_unit_test_setup_teardown(read_line__long_then_short__both_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(write_line__text__newline_appended, setup, teardown),
	};
	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
