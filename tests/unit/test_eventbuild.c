/* The protocol's events made from a message of the function library (eventbuild.c): the
 * compact events of one call become the events clients get, in order, with the config's
 * window names; events of earlier versions pass as they are. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qserver.h"

static struct config *hall;

struct seen {
	char events[8][1024];
	int n;
};

/* Loads the small test hall: windows' names and services come from it. */
static int setup(void **state)
{
	(void)state;
	const char *root = getenv("QHALL_ROOT");
	char path[512], err[256];
	snprintf(path, sizeof path, "%s/tests/data/small.json", root ? root : ".");
	hall = config_load(path, err, sizeof err);
	return hall ? 0 : -1;
}

/* Frees the hall. */
static int teardown(void **state)
{
	(void)state;
	config_free(hall);
	hall = NULL;
	return 0;
}

/* Keeps each event handed out. */
static void keep_event(const char *json, size_t len, void *arg)
{
	struct seen *s = arg;
	assert_true(s->n < 8 && len < sizeof s->events[0]);
	memcpy(s->events[s->n], json, len);
	s->events[s->n][len] = '\0';
	s->n++;
}

/* Expands a message; returns how many events eventbuild_each reported. */
static int expand(const char *message, struct seen *s)
{
	memset(s, 0, sizeof *s);
	return eventbuild_each(hall, message, strlen(message), keep_event, s);
}

#define CALLED_TICKET "[\"t\",\"20261127-A002\",\"A002\",\"A\",\"normal\",\"kiosk\",\"called\",\"1795744800\"," \
	"\"1795745100\",\"\",\"\",\"2\",\"c01\",\"0\",\"0\",\"\",\"\",\"\",\"\"]"
#define CALLED_TICKET_JSON "{\"id\":\"20261127-A002\",\"number\":\"A002\",\"service\":\"A\",\"class\":\"normal\"," \
	"\"channel\":\"kiosk\",\"state\":\"called\",\"issued_at\":1795744800,\"called_at\":1795745100," \
	"\"started_at\":null,\"finished_at\":null,\"window\":2,\"clerk\":\"c01\",\"recalls\":0,\"transfers\":0," \
	"\"rating\":null,\"ahead\":null,\"ewt\":null}"
/* The same ticket as the current library's 21 fields make it. */
#define CALLED_TICKET_JSON_FULL "{\"id\":\"20261127-A002\",\"number\":\"A002\",\"service\":\"A\"," \
	"\"class\":\"normal\",\"channel\":\"kiosk\",\"state\":\"called\",\"issued_at\":1795744800," \
	"\"called_at\":1795745100,\"started_at\":null,\"finished_at\":null,\"window\":2,\"clerk\":\"c01\"," \
	"\"recalls\":0,\"transfers\":0,\"rating\":null,\"ahead\":null,\"ewt\":null,\"ewt_low\":null," \
	"\"ewt_high\":null}"

static void eventbuild__a_call__its_events_in_order(void **state)
{
	(void)state;
	struct seen s;
	assert_int_equal(expand("[" CALLED_TICKET ",[\"c\",\"20261127-A002\",\"2\",\"0\",\"1795745100\"],"
				"[\"w\",\"2\",\"calling\",\"A002\",\"c01\",\"1795745100\",\"\"],"
				"[\"q\",\"A\",\"3\",\"600\"]]", &s), 4);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.events[0], "{\"event\":\"ticket\",\"ticket\":" CALLED_TICKET_JSON "}");
	assert_string_equal(s.events[1], "{\"event\":\"called\",\"ticket\":" CALLED_TICKET_JSON
			    ",\"window\":{\"id\":2,\"name\":\"2号窗口\",\"name_en\":\"Window 2\"},\"recall\":0,\"at\":1795745100}");
	assert_string_equal(s.events[2], "{\"event\":\"window\",\"window\":{\"id\":2,\"name\":\"2号窗口\","
			    "\"name_en\":\"Window 2\",\"services\":[\"*\"],\"state\":\"calling\",\"ticket\":\"A002\","
			    "\"clerk\":\"c01\",\"since\":1795745100}}");
	assert_string_equal(s.events[3], "{\"event\":\"queue\",\"service\":\"A\",\"waiting\":3,\"ewt\":600}");
}

static void eventbuild__waiting_ticket_and_paused_window__estimates_and_reason(void **state)
{
	(void)state;
	struct seen s;
	assert_int_equal(expand("[[\"t\",\"20261127-B001\",\"B001\",\"B\",\"priority\",\"kiosk\",\"waiting\","
				"\"1795744800\",\"\",\"\",\"\",\"\",\"\",\"0\",\"1\",\"\",\"4\",\"840\",\"\"],"
				"[\"w\",\"3\",\"paused\",\"\",\"\",\"1795745000\",\"午休 \\\"lunch\\\"\"]]", &s), 2);
	assert_non_null(strstr(s.events[0], "\"transfers\":1,\"rating\":null,\"ahead\":4,\"ewt\":840}}"));
	assert_string_equal(s.events[1], "{\"event\":\"window\",\"window\":{\"id\":3,\"name\":\"3号窗口\","
			    "\"name_en\":\"Window 3\",\"services\":[\"B\"],\"state\":\"paused\",\"ticket\":null,"
			    "\"clerk\":null,\"since\":1795745000,\"reason\":\"午休 \\\"lunch\\\"\"}}");
}

static void eventbuild__estimate_range__on_tickets_and_queues(void **state)
{
	(void)state;
	struct seen s;
	assert_int_equal(expand("[[\"t\",\"20261127-B001\",\"B001\",\"B\",\"normal\",\"kiosk\",\"waiting\","
				"\"1795744800\",\"\",\"\",\"\",\"\",\"\",\"0\",\"0\",\"\",\"4\",\"840\",\"\",\"420\",\"1500\"],"
				"[\"q\",\"B\",\"5\",\"900\",\"4\",\"450\",\"1600\"]]", &s), 2);
	assert_non_null(strstr(s.events[0], "\"ahead\":4,\"ewt\":840,\"ewt_low\":420,\"ewt_high\":1500}}"));
	assert_string_equal(s.events[1], "{\"event\":\"queue\",\"service\":\"B\",\"waiting\":5,\"ewt\":900,"
			    "\"ahead\":4,\"ewt_low\":450,\"ewt_high\":1600}");
	/* a ticket no longer waiting: no range */
	assert_int_equal(expand("[[\"t\",\"20261127-A001\",\"A001\",\"A\",\"normal\",\"kiosk\",\"done\",\"1\","
				"\"2\",\"3\",\"4\",\"1\",\"c01\",\"0\",\"0\",\"\",\"\",\"\",\"\",\"\",\"\"]]", &s), 1);
	assert_non_null(strstr(s.events[0], "\"ewt\":null,\"ewt_low\":null,\"ewt_high\":null}}"));
}

static void eventbuild__closed_by_day__flag_only_when_set(void **state)
{
	(void)state;
	struct seen s;
	assert_int_equal(expand("[[\"t\",\"20261127-A001\",\"A001\",\"A\",\"normal\",\"kiosk\",\"done\",\"1\","
				"\"2\",\"3\",\"4\",\"1\",\"c01\",\"0\",\"0\",\"\",\"\",\"\",\"1\"]]", &s), 1);
	assert_non_null(strstr(s.events[0], "\"ewt\":null,\"closed_by_day\":true}}"));
}

static void eventbuild__objects_of_earlier_versions__passed_on(void **state)
{
	(void)state;
	struct seen s;
	assert_int_equal(expand("{\"event\":\"queue\",\"service\":\"A\"}", &s), 1);
	assert_string_equal(s.events[0], "{\"event\":\"queue\",\"service\":\"A\"}");
	assert_int_equal(expand("[{\"event\":\"queue\",\"service\":\"A\"},{\"event\":\"queue\",\"service\":\"B\"}]", &s), 2);
	assert_string_equal(s.events[1], "{\"event\":\"queue\",\"service\":\"B\"}");
}

static void eventbuild__malformed__refused_whole(void **state)
{
	(void)state;
	struct seen s;
	assert_int_equal(expand("[[\"q\",\"A\",\"1\",\"2\"],[\"x\"]]", &s), -1);
	assert_int_equal(s.n, 0); /* not even the good first one */
	assert_int_equal(expand("[[\"t\",\"too\",\"short\"]]", &s), -1);
	assert_int_equal(expand("[[\"c\",\"20261127-A002\",\"2\",\"0\",\"1\"]]", &s), -1); /* no ticket before */
	assert_int_equal(expand("[[\"q\",\"A\",\"1\"", &s), -1);
	assert_int_equal(expand("\"text\"", &s), -1);
	assert_int_equal(expand("[]", &s), 0);
}

/* Asserts that a short form ("T", say) expands to the same events as the long one ("t"), and
 * to some. */
static void assert_same_events(const char *short_form, const char *long_form)
{
	struct seen a, b;
	int n = expand(short_form, &a);
	assert_true(n > 0);
	assert_int_equal(n, expand(long_form, &b));
	assert_int_equal(a.n, b.n);
	for (int i = 0; i < a.n; i++)
		assert_string_equal(a.events[i], b.events[i]);
}

static void eventbuild__short_ticket_form__same_ticket_as_the_long_one(void **state)
{
	(void)state;
	struct seen s;
	/* defaults left out: number from the id, normal, kiosk, no recalls or transfers, times
	 * after issue, no trailing "" */
	assert_same_events("[[\"T\",\"20261127-A002\",\"\",\"A\",\"\",\"\",\"called\",\"1795744800\",\"300\",\"\",\"\","
			   "\"2\",\"c01\"],[\"c\",\"\",\"2\",\"0\",\"1795745100\"]]",
			   "[[\"t\",\"20261127-A002\",\"A002\",\"A\",\"normal\",\"kiosk\",\"called\",\"1795744800\","
			   "\"1795745100\",\"\",\"\",\"2\",\"c01\",\"0\",\"0\",\"\",\"\",\"\",\"\",\"\",\"\"],"
			   "[\"c\",\"20261127-A002\",\"2\",\"0\",\"1795745100\"]]");
	/* every field given: taken as it is */
	assert_same_events("[[\"T\",\"20261127-B001\",\"X9\",\"B\",\"priority\",\"web\",\"done\",\"1795744800\","
			   "\"60\",\"120\",\"-5\",\"3\",\"c02\",\"1\",\"2\",\"4\",\"7\",\"8\",\"1\",\"9\",\"10\"]]",
			   "[[\"t\",\"20261127-B001\",\"X9\",\"B\",\"priority\",\"web\",\"done\",\"1795744800\","
			   "\"1795744860\",\"1795744920\",\"1795744795\",\"3\",\"c02\",\"1\",\"2\",\"4\",\"7\",\"8\","
			   "\"1\",\"9\",\"10\"]]");
	/* a waiting ticket up to its estimate */
	assert_same_events("[[\"T\",\"20261127-B002\",\"\",\"B\",\"appointment\",\"\",\"waiting\",\"1795744800\","
			   "\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"4\",\"840\",\"\",\"420\",\"1500\"]]",
			   "[[\"t\",\"20261127-B002\",\"B002\",\"B\",\"appointment\",\"kiosk\",\"waiting\",\"1795744800\","
			   "\"\",\"\",\"\",\"\",\"\",\"0\",\"0\",\"\",\"4\",\"840\",\"\",\"420\",\"1500\"]]");
	/* malformed: too short, an id without its number, a time that is not one */
	assert_int_equal(expand("[[\"T\",\"20261127-A002\",\"\",\"A\"]]", &s), -1);
	assert_int_equal(expand("[[\"T\",\"A002\",\"\",\"A\",\"\",\"\",\"waiting\",\"1\"]]", &s), -1);
	assert_int_equal(expand("[[\"T\",\"20261127-A002\",\"\",\"A\",\"\",\"\",\"called\",\"1\",\"3x\"]]", &s), -1);
}

/* The text form the library writes (one event a line, values separated by ','): the same
 * events as the JSON form of earlier versions. */
static void eventbuild__text_form__same_events_as_the_json_form(void **state)
{
	(void)state;
	struct seen s;
	/* a call: its ticket, the call, the window (its trailing "" left out) and a queue */
	assert_same_events("T,20261127-A002,,A,,,called,1795744800,300,,,2,c01\nc,,2,0,1795745100\n"
			   "w,2,calling,A002,c01,1795745100\nq,A,3,600,2,500,700",
			   "[[\"T\",\"20261127-A002\",\"\",\"A\",\"\",\"\",\"called\",\"1795744800\",\"300\",\"\",\"\","
			   "\"2\",\"c01\"],[\"c\",\"\",\"2\",\"0\",\"1795745100\"],"
			   "[\"w\",\"2\",\"calling\",\"A002\",\"c01\",\"1795745100\",\"\"],"
			   "[\"q\",\"A\",\"3\",\"600\",\"2\",\"500\",\"700\"]]");
	/* a take: the model's inputs, and a queue event with "^" and no hall ahead */
	assert_same_events("T,20261128-A005,,A,,,waiting,1795830000,,,,,,,,,4,m0 0 1|||300 90000 40|5=300 90000 40\n"
			   "q,A,5,^",
			   "[[\"T\",\"20261128-A005\",\"\",\"A\",\"\",\"\",\"waiting\",\"1795830000\","
			   "\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"4\",\"m0 0 1|||300 90000 40|5=300 90000 40\"],"
			   "[\"q\",\"A\",\"5\",\"^\",\"\"]]");
	/* a value holding a ',', a newline or a backslash has them escaped */
	assert_same_events("w,3,paused,,,1795745000,lunch\\, back at 2\\nsee \\\\desk",
			   "[[\"w\",\"3\",\"paused\",\"\",\"\",\"1795745000\",\"lunch, back at 2\\nsee \\\\desk\"]]");
	assert_int_equal(expand("w,3,paused,,,1795745000,lunch\\, back", &s), 1);
	assert_non_null(strstr(s.events[0], "\"reason\":\"lunch, back\"}}"));
	/* malformed, refused whole: an unknown escape, a backslash at the end, an unknown event,
	 * a ticket too short, nothing */
	assert_int_equal(expand("w,3,paused,,,1,a\\x", &s), -1);
	assert_int_equal(expand("w,3,paused,,,1,a\\", &s), -1);
	assert_int_equal(expand("w,3,paused,,,1,lunch, back", &s), -1); /* a ',' not escaped */
	assert_int_equal(expand("q,A,1,2\nx", &s), -1);
	assert_int_equal(s.n, 0);
	assert_int_equal(expand("T,20261127-A002,,A", &s), -1);
	assert_int_equal(expand("", &s), -1);
}

/* Asserts that a function's result becomes the given answer (NULL: refused). */
static void assert_result(const char *result, const char *answer)
{
	char *got = eventbuild_result(hall, result, strlen(result));
	if (!answer) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, answer);
	free(got);
}

static void eventbuild__results__made_whole(void **state)
{
	(void)state;
	assert_result("[\"ticket\"," CALLED_TICKET "]", "{\"ticket\":" CALLED_TICKET_JSON "}");
	assert_result("[\"ticket\",null]", "{\"ticket\":null}");
	assert_result("[\"tickets\",[" CALLED_TICKET "," CALLED_TICKET "]]",
		      "{\"tickets\":[" CALLED_TICKET_JSON "," CALLED_TICKET_JSON "]}");
	assert_result("[\"tickets\",[]]", "{\"tickets\":[]}");
	assert_result("[\"ticket\",[\"T\",\"20261127-A002\",\"\",\"A\",\"\",\"\",\"called\",\"1795744800\",\"300\","
		      "\"\",\"\",\"2\",\"c01\",\"\",\"\",\"\",\"\",\"\",\"\"]]",
		      "{\"ticket\":" CALLED_TICKET_JSON_FULL "}");
	assert_result("[\"window\",[\"w\",\"1\",\"idle\",\"\",\"c01\",\"1795745100\",\"\"]]",
		      "{\"window\":{\"id\":1,\"name\":\"1号窗口\",\"name_en\":\"Window 1\",\"services\":[\"*\"],"
		      "\"state\":\"idle\",\"ticket\":null,\"clerk\":\"c01\",\"since\":1795745100}}");
	assert_result("{\"expired\":0,\"remaining\":0}", "{\"expired\":0,\"remaining\":0}");
	assert_result("[\"ticket\",[\"w\",\"1\"]]", NULL);
	assert_result("[\"window\"," CALLED_TICKET "]", NULL);
	assert_result("[\"tickets\",[" CALLED_TICKET ",[\"q\"]]]", NULL);
	assert_result("[\"what\",null]", NULL);
}

/* Ticket and window functions answer in the text form: the same answers as the JSON form. */
static void eventbuild__text_results__made_whole(void **state)
{
	(void)state;
	assert_result("ticket\nT,20261127-A002,,A,,,called,1795744800,300,,,2,c01",
		      "{\"ticket\":" CALLED_TICKET_JSON_FULL "}");
	assert_result("ticket", "{\"ticket\":null}");
	assert_result("window\nw,1,idle,,c01,1795745100",
		      "{\"window\":{\"id\":1,\"name\":\"1号窗口\",\"name_en\":\"Window 1\",\"services\":[\"*\"],"
		      "\"state\":\"idle\",\"ticket\":null,\"clerk\":\"c01\",\"since\":1795745100}}");
	assert_result("window\nw,3,paused,,c\\,1,1795745100,out\\nback", "{\"window\":{\"id\":3,\"name\":\"3号窗口\","
		      "\"name_en\":\"Window 3\",\"services\":[\"B\"],\"state\":\"paused\",\"ticket\":null,"
		      "\"clerk\":\"c,1\",\"since\":1795745100,\"reason\":\"out\\nback\"}}");
	/* malformed: the wrong kind of item, two items, none, an unknown result */
	assert_result("ticket\nw,1,idle,,c01,1795745100", NULL);
	assert_result("window\nT,20261127-A002,,A,,,called,1795744800", NULL);
	assert_result("ticket\nT,20261127-A002,,A,,,called,1795744800\nT,20261127-A002,,A,,,called,1795744800", NULL);
	assert_result("window", NULL);
	assert_result("tickets\nT,20261127-A002,,A,,,called,1795744800", NULL);
	assert_result("ticket\nT,20261127-A002,,A,,,called,1795744800,3x", NULL);
}

static void eventbuild__compact_services__objects_with_config_names(void **state)
{
	(void)state;
	/* out of config order, and one the config lacks: looked up, or left without names */
	assert_result("{\"services\":\"B 2 5 1500 600 2700;A 0 5 900 300 1800;Z 1 0 0 0 0\",\"windows\":[]}",
		      "{\"services\":[{\"id\":\"B\",\"prefix\":\"B\",\"name\":\"出入境\","
		      "\"name_en\":\"Exit-entry administration\",\"waiting\":2,\"ahead\":5,\"ewt\":1500,"
		      "\"ewt_low\":600,\"ewt_high\":2700},"
		      "{\"id\":\"A\",\"prefix\":\"A\",\"name\":\"社会保障\",\"name_en\":\"Social security\","
		      "\"waiting\":0,\"ahead\":5,\"ewt\":900,\"ewt_low\":300,\"ewt_high\":1800},"
		      "{\"id\":\"Z\",\"prefix\":\"\",\"name\":\"\",\"name_en\":\"\",\"waiting\":1,"
		      "\"ahead\":0,\"ewt\":0,\"ewt_low\":0,\"ewt_high\":0}],\"windows\":[]}");
	assert_result("{\"services\":\"\"}", "{\"services\":[]}");
	assert_result("{\"services\":\"A 0 5 9 1\"}", NULL);
	assert_result("{\"services\":\"A 0 5 9 1 x\"}", NULL);
	assert_result("{\"services\":\"A 0 5 9 1 2 3\"}", NULL);
	assert_result("{\"services\":\"A 0 5 9 1 2;\"}", NULL);
	assert_result("{\"services\":\"A 0 5 9 1 2", NULL);
}

/* A number field of an event's JSON (of its nested object when one is named), or -1 when absent. */
static double event_number(const char *json, const char *object, const char *key)
{
	cJSON *ev = cJSON_Parse(json);
	const cJSON *o = object ? cJSON_GetObjectItemCaseSensitive(ev, object) : ev;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	double n = cJSON_IsNumber(v) ? v->valuedouble : -1;
	cJSON_Delete(ev);
	return n;
}

/* A take records the wait model's inputs instead of the figures: the ticket and its service's
 * queue event ("^": the inputs of the ticket before) get them worked out (estimate.c). */
static void eventbuild__model_inputs__become_the_estimates(void **state)
{
	(void)state;
	struct seen s;
	struct estimate q;
	assert_int_equal(expand("[[\"T\",\"20261128-A005\",\"\",\"A\",\"\",\"\",\"waiting\",\"1795830000\","
				"\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"4\",\"m0 0 1|||300 90000 40|5=300 90000 40\"],"
				"[\"q\",\"A\",\"5\",\"^\",\"\"]]", &s), 2);
	/* docs/estimated-wait.md's example: 4 ahead at one busy window of 300 s */
	assert_int_equal(event_number(s.events[0], "ticket", "ahead"), 4);
	assert_int_equal(event_number(s.events[0], "ticket", "ewt"), 1397);
	assert_int_equal(event_number(s.events[0], "ticket", "ewt_low"), 714);
	assert_int_equal(event_number(s.events[0], "ticket", "ewt_high"), 2418);
	assert_int_equal(estimate_new_ticket("m0 0 1|||300 90000 40|5=300 90000 40", 0, &q), 0);
	assert_int_equal(event_number(s.events[1], NULL, "waiting"), 5);
	assert_int_equal(event_number(s.events[1], NULL, "ahead"), 5);
	assert_int_equal(event_number(s.events[1], NULL, "ewt"), q.ewt);
	assert_int_equal(event_number(s.events[1], NULL, "ewt_low"), q.ewt_low);
	assert_int_equal(event_number(s.events[1], NULL, "ewt_high"), q.ewt_high);
	assert_true(q.ewt > 1397);
	/* "^" with no ticket before, or inputs that are not the model's: the message is refused */
	assert_int_equal(expand("[[\"q\",\"A\",\"5\",\"^\",\"\"]]", &s), -1);
	assert_int_equal(expand("[[\"q\",\"A\",\"5\",\"m0 0 1|||300\",\"\"]]", &s), -1);
}

/* A take of the library as it writes today (the text form, the inputs joined: "n..."): the same
 * events as the earlier form of the same inputs ("m..."), the queue event's "^" included. */
static void eventbuild__joined_inputs__the_same_events_as_the_earlier_form(void **state)
{
	(void)state;
	struct seen joined, earlier;
	assert_int_equal(expand("T,20261128-A005,,A,,,waiting,1795830000,,,,,,,,,4,n1 0 2|0.1000 0.0500 40|#1|3;2|"
				"360 129600 50|480 230400 50;240 57600 50\nq,A,3,^,5",
				&joined), 2);
	assert_int_equal(expand("T,20261128-A005,,A,,,waiting,1795830000,,,,,,,,,4,m1 0 2|360 129600 50|0.1000 0.0500 40|"
				"480 230400 50|3=480 230400 50;2=240 57600 50\nq,A,3,^,5",
				&earlier), 2);
	assert_string_equal(joined.events[0], earlier.events[0]);
	assert_string_equal(joined.events[1], earlier.events[1]);
	assert_true(event_number(joined.events[0], "ticket", "ewt") > 0);
	assert_int_equal(event_number(joined.events[1], NULL, "ahead"), 5);
	/* joined inputs whose lists do not pair up: the message is refused */
	assert_int_equal(expand("q,A,3,n1 0 2||#1|3||360|480;240,5", &joined), -1);
}

/* Builds an entry with a store of learnt times; returns what eventbuild_entry returned. */
static int expand_entry(struct joined_store *store, const char *id, const char *message, struct seen *s,
			char missing[STREAM_ID_TEXT_MAX])
{
	memset(s, 0, sizeof *s);
	return eventbuild_entry(hall, store, id, message, strlen(message), keep_event, s, missing);
}

/* Learnt times recorded once ("L" line) and named later ("@<entry>", "@" for the same entry):
 * the events are those of the same inputs written in full, whether the named entry was read
 * before (the live path) or is read when named (a start or a resume after it); an entry of an
 * earlier version reads as it did. */
static void eventbuild__named_learnt_times__the_events_of_the_inputs_in_full(void **state)
{
	(void)state;
	struct seen named, whole;
	char missing[STREAM_ID_TEXT_MAX] = "";
	struct joined_store *store = joined_store_new();
	const char *recorder = "w,1,idle,,c01,1795830065\nL,*,360 129600 50|480 230400 50;240 57600 50\n"
			       "q,A,3,n1 0 2|0.1000 0.0500 40|#1|3;2|@,5";
	const char *recorder_whole = "w,1,idle,,c01,1795830065\n"
				     "q,A,3,n1 0 2|0.1000 0.0500 40|#1|3;2|360 129600 50|480 230400 50;240 57600 50,5";
	const char *namer = "T,20261128-B003,,B,,,waiting,1795830070,,,,,,,,,5,n1 0 2|0.1000 0.0500 40|#2|3;3|@100-0\n"
			    "q,B,3,^,6";
	const char *namer_whole = "T,20261128-B003,,B,,,waiting,1795830070,,,,,,,,,5,n1 0 2|0.1000 0.0500 40|#2|3;3|"
				  "360 129600 50|480 230400 50;240 57600 50\nq,B,3,^,6";
	/* the entry that records them: its own events name them with "@" */
	assert_int_equal(expand_entry(store, "100-0", recorder, &named, missing), 2);
	assert_int_equal(expand(recorder_whole, &whole), 2);
	assert_string_equal(named.events[0], whole.events[0]);
	assert_string_equal(named.events[1], whole.events[1]);
	/* a later entry names that entry: read in order, the store has them */
	assert_int_equal(expand_entry(store, "101-0", namer, &named, missing), 2);
	assert_int_equal(expand(namer_whole, &whole), 2);
	assert_string_equal(named.events[0], whole.events[0]);
	assert_string_equal(named.events[1], whole.events[1]);
	assert_true(event_number(named.events[0], "ticket", "ewt") > 0);
	joined_store_free(store);
	/* resumed from the later entry: the named one is missing, nothing is built, until it is read */
	store = joined_store_new();
	assert_int_equal(expand_entry(store, "101-0", namer, &named, missing), EVENTBUILD_MISSING);
	assert_string_equal(missing, "100-0");
	assert_int_equal(named.n, 0);
	eventbuild_learn(store, "100-0", recorder, strlen(recorder));
	assert_int_equal(expand_entry(store, "101-0", namer, &named, missing), 2);
	assert_string_equal(named.events[0], whole.events[0]);
	assert_string_equal(named.events[1], whole.events[1]);
	/* with specialised windows the set is the service's own */
	assert_int_equal(expand_entry(store, "102-0", "L,A,|300 90000 40\nq,A,4,n0 0 1||#1|4|@,", &named, missing), 1);
	assert_int_equal(expand("q,A,4,n0 0 1||#1|4||300 90000 40,", &whole), 1);
	assert_string_equal(named.events[0], whole.events[0]);
	assert_int_equal(expand_entry(store, "103-0", "q,A,4,n0 0 1||#1|4|@102-0,", &named, missing), 1);
	assert_string_equal(named.events[0], whole.events[0]);
	/* an entry of an earlier version (the inputs whole, "m...") needs no store */
	assert_int_equal(expand_entry(store, "99-0", "q,A,4,m0 0 1|||300 90000 40|4=300 90000 40,", &named, missing), 1);
	assert_string_equal(named.events[0], whole.events[0]);
	/* "@" with no "L" line of the set before it, or a name without a store: refused */
	assert_int_equal(expand_entry(store, "104-0", "q,A,4,n0 0 1||#1|4|@,", &named, missing), -1);
	assert_int_equal(expand_entry(store, "105-0", "q,A,4,n0 0 1||#1|4|@,\nL,A,|300", &named, missing), -1);
	assert_int_equal(expand("q,A,4,n0 0 1||#1|4|@102-0,", &named), -1);
	joined_store_free(store);
}

/* The short ticket form with the state as its one-letter code ("U", in entries): the same ticket
 * as "T" with the word, which entries of earlier versions and results hold. */
static void eventbuild__coded_ticket__same_ticket_as_the_word(void **state)
{
	(void)state;
	struct seen s;
	const char *codes = "wcsdnxe";
	const char *words[] = {"waiting", "called", "serving", "done", "no_show", "cancelled", "expired"};
	for (int i = 0; codes[i]; i++) {
		char coded[128], worded[128];
		snprintf(coded, sizeof coded, "U,20261127-A002,,A,,,%c,1795744800,300,,,2,c01", codes[i]);
		snprintf(worded, sizeof worded, "T,20261127-A002,,A,,,%s,1795744800,300,,,2,c01", words[i]);
		assert_same_events(coded, worded);
	}
	/* a waiting ticket's model inputs, as in "T" */
	assert_same_events("U,20261128-A005,,A,,,w,1795830000,,,,,,,,,4,m0 0 1|||300 90000 40|5=300 90000 40\nq,A,5,^",
			   "T,20261128-A005,,A,,,waiting,1795830000,,,,,,,,,4,m0 0 1|||300 90000 40|5=300 90000 40\n"
			   "q,A,5,^");
	/* a word, an unknown code or none: refused */
	assert_int_equal(expand("U,20261127-A002,,A,,,waiting,1795744800", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,z,1795744800", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,,1795744800", &s), -1);
}

/* A call's line "C" (at, recall, window) leaves out what its ticket's line tells: the same
 * events as the "c" with all four that earlier entries hold. */
static void eventbuild__call_line__what_its_ticket_tells_left_out(void **state)
{
	(void)state;
	struct seen s;
	/* a first call: at its called_at, recall its recalls (0), at its window */
	assert_same_events("U,20261127-A002,,A,,,c,1795744800,300,,,2,c01\nC",
			   "T,20261127-A002,,A,,,called,1795744800,300,,,2,c01\nc,,2,0,1795745100");
	/* a recall: its time as seconds after called_at, the recall its recalls */
	assert_same_events("U,20261127-A002,,A,,,c,1795744800,300,,,2,c01,2\nC,45",
			   "T,20261127-A002,,A,,,called,1795744800,300,,,2,c01,2\nc,,2,2,1795745145");
	/* each told where the ticket does not: another recall, another window, an earlier time */
	assert_same_events("U,20261127-A002,,A,,,c,1795744800,300,,,2,c01,2\nC,-5,0,3",
			   "T,20261127-A002,,A,,,called,1795744800,300,,,2,c01,2\nc,,3,0,1795745095");
	assert_int_equal(expand("U,20261127-A002,,A,,,c,1795744800,300,,,2,c01\nC", &s), 2);
	assert_int_equal(event_number(s.events[1], NULL, "at"), 1795745100);
	/* no ticket before it, one never called (no called_at nor window), a time that is not
	 * one, a value too many: refused */
	assert_int_equal(expand("C", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,w,1795744800\nC", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,w,1795744800\nC,0,0,2", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,c,1795744800,300,,,2,c01\nC,4x", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,c,1795744800,300,,,2,c01\nC,1,1,2,x", &s), -1);
	assert_int_equal(s.n, 0);
}

/* A window's line after a ticket's, "W" (state code, id, since, clerk), leaves out what that
 * ticket's line tells: the same events as the "w" in full that earlier entries hold. */
static void eventbuild__window_line__what_the_ticket_before_tells_left_out(void **state)
{
	(void)state;
	struct seen s;
	/* a call: the window calls the ticket's number since its called_at, with its clerk */
	assert_same_events("U,20261127-A002,,A,,,c,1795744800,300,,,2,c01\nC\nW,c",
			   "T,20261127-A002,,A,,,called,1795744800,300,,,2,c01\nc,,2,0,1795745100\n"
			   "w,2,calling,A002,c01,1795745100");
	/* a start and a finish: since the ticket's latest time; idle holds no number */
	assert_same_events("U,20261127-A002,,A,,,s,1795744800,300,360,,2,c01\nW,s",
			   "T,20261127-A002,,A,,,serving,1795744800,300,360,,2,c01\nw,2,serving,A002,c01,1795745160");
	assert_same_events("U,20261127-A002,,A,,,d,1795744800,300,360,500,2,c01\nW,i",
			   "T,20261127-A002,,A,,,done,1795744800,300,360,500,2,c01\nw,2,idle,,c01,1795745300");
	/* told where the ticket does not: another window, since and clerk (escaped as in "w") */
	assert_same_events("U,20261127-A002,,A,,,w,1795744800\nW,i,3,1795745000,c\\,0\\\\2",
			   "T,20261127-A002,,A,,,waiting,1795744800\nw,3,idle,,c\\,0\\\\2,1795745000");
	/* the ticket before it is the latest in the entry */
	assert_same_events("U,20261127-A001,,A,,,d,1795744000,60,,700,2,c01\nU,20261127-A002,,A,,,c,1795744800,300,,,2,c01\n"
			   "C\nW,c,,1795744060",
			   "T,20261127-A001,,A,,,done,1795744000,60,,700,2,c01\nT,20261127-A002,,A,,,called,1795744800,300,,,2,c01\n"
			   "c,,2,0,1795745100\nw,2,calling,A002,c01,1795744060");
	/* no ticket before it, since "" with no time on the ticket, a state without a code (the
	 * library writes those windows as "w"), a value too many: refused */
	assert_int_equal(expand("W,i,2,1795745000,c01", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,w,1795744800\nW,i,2,,c01", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,d,1795744800,300,360,500,2,c01\nW,p", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,d,1795744800,300,360,500,2,c01\nW,idle", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,d,1795744800,300,360,500,2,c01\nW,i,,,,x", &s), -1);
	assert_int_equal(s.n, 0);
}

/* A corrupt entry whose times or numbers a long long does not hold (a sum past it, a value of
 * 2^63 read back from a ticket) is refused like any malformed one, with no overflow (the
 * sanitizer build checks that). */
static void eventbuild__values_out_of_range__refused(void **state)
{
	(void)state;
	struct seen s;
	/* a call's time after called_at, and a ticket's time after issued_at, past the range */
	assert_int_equal(expand("U,20261127-A002,,A,,,c,1795744800,300,,,2,c01\nC,9223372036854775000", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,c,-1795744800,-300,,,2,c01\nC,-9223372036854775000", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,c,1795744800,300,,,2,c01\nC,9223372036854775807", &s), -1);
	assert_int_equal(expand("T,20261127-A002,,A,,,called,9223372036854775807,300,,,2,c01", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,c,-9223372036854775807,-300,,,2,c01", &s), -1);
	/* a window, a called_at and a latest time of 2^63 (the largest long long as a double)
	 * that a "C" or "W" line would take from the ticket */
	assert_int_equal(expand("U,20261127-A002,,A,,,c,1795744800,300,,,9223372036854775807,c01\nC", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,c,1795744800,300,,,9223372036854775807,c01\nW,c", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,c,9223372036854775807,0,,,2,c01\nC", &s), -1);
	assert_int_equal(expand("U,20261127-A002,,A,,,s,9223372036854775807,0,0,,2,c01\nW,s", &s), -1);
	assert_int_equal(s.n, 0);
	/* times that fit are read */
	assert_int_equal(expand("U,20261127-A002,,A,,,c,0,0,,,2,c01\nC,9000000000000000000", &s), 2);
	assert_int_equal(event_number(s.events[1], NULL, "at"), 9000000000000000000LL);
}

/* An entry of this library's call (its ticket "U", call "C", window "W" and a queue naming the
 * learnt times another entry records) gives the same events built live, after the entries
 * before it, and alone (a qserver that starts, or an SSE resume, from it); and the same as the
 * entry the version before wrote for that call. */
static void eventbuild__call_entry__the_same_live_alone_and_as_the_version_before(void **state)
{
	(void)state;
	struct seen live, alone, before;
	char missing[STREAM_ID_TEXT_MAX] = "";
	const char *recorder = "w,1,idle,,c01,1795830065\nL,*,360 129600 50|480 230400 50;240 57600 50\n"
			       "q,A,3,n1 0 2|0.1000 0.0500 40|#1|3;2|@,5";
	const char *call = "U,20261128-A003,,A,,,c,1795830000,70,,,1,c01\nC\nW,c\n"
			   "q,A,2,n1 0 2|0.1000 0.0500 40|#1|2;2|@100-0,2";
	const char *call_before = "T,20261128-A003,,A,,,called,1795830000,70,,,1,c01\nc,,1,0,1795830070\n"
				  "w,1,calling,A003,c01,1795830070\nq,A,2,n1 0 2|0.1000 0.0500 40|#1|2;2|@100-0,2";
	struct joined_store *store = joined_store_new();
	assert_int_equal(expand_entry(store, "100-0", recorder, &live, missing), 2);
	assert_int_equal(expand_entry(store, "101-0", call, &live, missing), 4);
	assert_int_equal(expand_entry(store, "101-0", call_before, &before, missing), 4);
	joined_store_free(store);
	store = joined_store_new();
	assert_int_equal(expand_entry(store, "101-0", call, &alone, missing), EVENTBUILD_MISSING);
	assert_string_equal(missing, "100-0");
	eventbuild_learn(store, "100-0", recorder, strlen(recorder));
	assert_int_equal(expand_entry(store, "101-0", call, &alone, missing), 4);
	joined_store_free(store);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(live.events[i], alone.events[i]);
		assert_string_equal(live.events[i], before.events[i]);
	}
	assert_non_null(strstr(live.events[1], "\"event\":\"called\""));
	assert_non_null(strstr(live.events[2], "\"state\":\"calling\",\"ticket\":\"A003\",\"clerk\":\"c01\",\"since\":1795830070"));
}

/* The store keeps the newest sets: an entry read again replaces its own, the oldest go first. */
static void joined_store__bounded__the_oldest_go_first(void **state)
{
	(void)state;
	struct joined_store *store = joined_store_new();
	char id[STREAM_ID_TEXT_MAX];
	assert_int_equal(joined_store_put(store, "1-0", "*", "|300"), 0);
	assert_int_equal(joined_store_put(store, "1-0", "*", "|400"), 0);
	assert_string_equal(joined_store_get(store, "1-0", "*"), "|400");
	assert_null(joined_store_get(store, "1-0", "A"));
	for (int i = 2; i < 2000; i++) {
		snprintf(id, sizeof id, "%d-0", i);
		assert_int_equal(joined_store_put(store, id, "*", "|300"), 0);
	}
	assert_null(joined_store_get(store, "1-0", "*"));
	assert_string_equal(joined_store_get(store, "1999-0", "*"), "|300");
	joined_store_free(store);
}

/* A full store drops first the sets a later entry recorded again (live entries name the newer
 * one): a service's set named by the live entries stays while another service's change again
 * and again; then the oldest go first. */
static void joined_store__full__a_set_recorded_again_goes_before_a_current_one(void **state)
{
	(void)state;
	struct joined_store *store = joined_store_new();
	char id[STREAM_ID_TEXT_MAX];
	assert_int_equal(joined_store_put(store, "1-0", "B", "|300"), 0);
	for (int i = 2; i < 2000; i++) {
		snprintf(id, sizeof id, "%d-0", i);
		assert_int_equal(joined_store_put(store, id, "A", "|30"), 0);
	}
	assert_non_null(joined_store_get(store, "1-0", "B"));
	assert_string_equal(joined_store_get(store, "1-0", "B"), "|300");
	assert_string_equal(joined_store_get(store, "1999-0", "A"), "|30");
	assert_null(joined_store_get(store, "2-0", "A"));
	/* an older entry of A read again (a resume) is superseded at once: B still stays */
	for (int i = 2; i < 600; i++) {
		snprintf(id, sizeof id, "%d-0", i);
		assert_int_equal(joined_store_put(store, id, "A", "|30"), 0);
	}
	assert_string_equal(joined_store_get(store, "1-0", "B"), "|300");
	assert_string_equal(joined_store_get(store, "1999-0", "A"), "|30");
	/* 600 sets current at once: the oldest go first */
	for (int i = 0; i < 600; i++) {
		char key[16];
		snprintf(id, sizeof id, "%d-0", 3000 + i);
		snprintf(key, sizeof key, "S%d", i);
		assert_int_equal(joined_store_put(store, id, key, "|1"), 0);
	}
	assert_null(joined_store_get(store, "1-0", "B"));
	assert_null(joined_store_get(store, "3000-0", "S0"));
	assert_string_equal(joined_store_get(store, "3599-0", "S599"), "|1");
	joined_store_free(store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(eventbuild__a_call__its_events_in_order),
		cmocka_unit_test(eventbuild__waiting_ticket_and_paused_window__estimates_and_reason),
		cmocka_unit_test(eventbuild__estimate_range__on_tickets_and_queues),
		cmocka_unit_test(eventbuild__joined_inputs__the_same_events_as_the_earlier_form),
		cmocka_unit_test(eventbuild__named_learnt_times__the_events_of_the_inputs_in_full),
		cmocka_unit_test(joined_store__bounded__the_oldest_go_first),
		cmocka_unit_test(joined_store__full__a_set_recorded_again_goes_before_a_current_one),
		cmocka_unit_test(eventbuild__closed_by_day__flag_only_when_set),
		cmocka_unit_test(eventbuild__objects_of_earlier_versions__passed_on),
		cmocka_unit_test(eventbuild__malformed__refused_whole),
		cmocka_unit_test(eventbuild__results__made_whole),
		cmocka_unit_test(eventbuild__text_results__made_whole),
		cmocka_unit_test(eventbuild__short_ticket_form__same_ticket_as_the_long_one),
		cmocka_unit_test(eventbuild__text_form__same_events_as_the_json_form),
		cmocka_unit_test(eventbuild__compact_services__objects_with_config_names),
		cmocka_unit_test(eventbuild__model_inputs__become_the_estimates),
		cmocka_unit_test(eventbuild__coded_ticket__same_ticket_as_the_word),
		cmocka_unit_test(eventbuild__call_line__what_its_ticket_tells_left_out),
		cmocka_unit_test(eventbuild__window_line__what_the_ticket_before_tells_left_out),
		cmocka_unit_test(eventbuild__call_entry__the_same_live_alone_and_as_the_version_before),
		cmocka_unit_test(eventbuild__values_out_of_range__refused),
	};
	return cmocka_run_group_tests_name("eventbuild", tests, setup, teardown);
}
