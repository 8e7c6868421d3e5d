/* One qserver serving a region (tests/data/region: central and street in Asia/Shanghai, far
 * in Europe/London, open 09:00-17:00 there): requests are routed by site, a clerk or kiosk
 * stays at its own site, region managers act within their scope, and each site changes day
 * in its own zone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testhall.h"

#define PASSWORD_CLERK "clerk123"
#define PASSWORD_MANAGER "manager123"

/* Starts Redis and a qserver on the region folder. */
static int region_start(void **state)
{
	(void)state;
	/* The clock starts at HALL_T0 before Redis is set up, so no site's day runs ahead of it. */
	char start[24];
	snprintf(start, sizeof start, "%ld", HALL_T0);
	const char *args[] = {"--clock-start", start, NULL};
	return hall_start_config(&hall, "region", false, args);
}

/* Signs in a connection with a hello line; NULL when refused. */
__attribute__((format(printf, 1, 2))) static struct tc *signed_in(const char *fmt, ...)
{
	struct tc *tc = tc_connect(hall.port);
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	cJSON *r = tc ? tc_request(tc, "%s", line) : NULL;
	int ok = tc_ok(r);
	cJSON_Delete(r);
	if (!ok) {
		tc_close(tc);
		return NULL;
	}
	return tc;
}

#define KIOSK_HELLO "{\"op\":\"hello\",\"role\":\"kiosk\",\"token\":\"kiosk123\",\"site\":\"%s\"}"
#define CLERK1_HELLO "{\"op\":\"hello\",\"role\":\"clerk\",\"user\":\"c01\",\"password\":\"" PASSWORD_CLERK "\",\"window\":1,\"site\":\"%s\"}"

/* Takes a ticket of service A at the kiosk's site and returns its id in buf. */
static const char *take(struct tc *kiosk, char *buf, size_t len)
{
	cJSON *r = tc_request(kiosk, "{\"op\":\"take\",\"service\":\"A\"}");
	const char *id = get_str(r, "ticket", "id");
	snprintf(buf, len, "%s", id ? id : "");
	cJSON_Delete(r);
	return id ? buf : NULL;
}

/* The state of a ticket at a site, as the public sees it, in buf. */
static const char *ticket_state(const char *site, const char *id, char *buf, size_t len)
{
	struct tc *tc = tc_connect(hall.port);
	cJSON *r = tc_request(tc, "{\"op\":\"ticket\",\"site\":\"%s\",\"id\":\"%s\"}", site, id);
	const char *state = get_str(r, "ticket", "state");
	snprintf(buf, len, "%s", state ? state : "(none)");
	cJSON_Delete(r);
	tc_close(tc);
	return buf;
}

/* `sites` lists every site with its parent, level and whether it is open now. */
static void region__sites__listed_with_parent_level_and_open(void **state)
{
	(void)state;
	struct tc *tc = tc_connect(hall.port);
	cJSON *r = tc_request(tc, "{\"op\":\"sites\"}");
	assert_true(tc_ok(r));
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(r, "sites");
	assert_int_equal(cJSON_GetArraySize(list), 3);
	const cJSON *central = cJSON_GetArrayItem(list, 0), *far = cJSON_GetArrayItem(list, 2);
	assert_string_equal(get_str(central, "id", NULL), "central");
	assert_string_equal(get_str(central, "level", NULL), "district");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(central, "parent")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(central, "open")));
	assert_string_equal(get_str(far, "id", NULL), "far");
	assert_string_equal(get_str(far, "parent", NULL), "street");
	assert_string_equal(get_str(far, "level", NULL), "community");
	/* HALL_T0 is 02:00 in London: far is closed. */
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(far, "open")));
	cJSON_Delete(r);
	tc_close(tc);
}

/* Without a site a request is bad_request naming `site`; an unknown site is not_found; a
 * hello with a site makes it the connection's. */
static void region__site_unnamed_or_unknown__refused_and_hello_sets_it(void **state)
{
	(void)state;
	struct tc *tc = tc_connect(hall.port);
	cJSON *r = tc_request(tc, "{\"op\":\"services\"}");
	assert_string_equal(tc_error_code(r), "bad_request");
	assert_string_equal(get_str(r, "error", "field"), "site");
	cJSON_Delete(r);
	r = tc_request(tc, "{\"op\":\"hello\",\"role\":\"public\"}");
	assert_string_equal(tc_error_code(r), "bad_request");
	cJSON_Delete(r);
	r = tc_request(tc, "{\"op\":\"services\",\"site\":\"nowhere\"}");
	assert_string_equal(tc_error_code(r), "not_found");
	assert_string_equal(get_str(r, "error", "field"), "site");
	cJSON_Delete(r);
	r = tc_request(tc, "{\"op\":\"hello\",\"role\":\"public\",\"site\":\"street\"}");
	assert_true(tc_ok(r));
	assert_string_equal(get_str(r, "site", "id"), "street");
	cJSON_Delete(r);
	r = tc_request(tc, "{\"op\":\"site\"}");
	assert_string_equal(get_str(r, "site", "id"), "street");
	cJSON_Delete(r);
	/* The public may still ask about another site by naming it. */
	r = tc_request(tc, "{\"op\":\"site\",\"site\":\"far\"}");
	assert_string_equal(get_str(r, "site", "id"), "far");
	assert_string_equal(get_str(r, "site", "tz"), "Europe/London");
	cJSON_Delete(r);
	tc_close(tc);
}

/* A ticket taken at central is called at central, never by the clerk of the same name and
 * window at street; a clerk or kiosk may not act at another site. */
static void region__clerk_at_one_site__sees_only_its_tickets(void **state)
{
	(void)state;
	struct tc *kiosk = signed_in(KIOSK_HELLO, "central");
	struct tc *at_central = signed_in(CLERK1_HELLO, "central");
	struct tc *at_street = signed_in(CLERK1_HELLO, "street");
	assert_non_null(kiosk);
	assert_non_null(at_central);
	assert_non_null(at_street);
	char id[64];
	assert_non_null(take(kiosk, id, sizeof id));
	cJSON *r = tc_request(at_street, "{\"op\":\"call_next\"}");
	assert_true(tc_ok(r));
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "ticket")));
	cJSON_Delete(r);
	r = tc_request(at_street, "{\"op\":\"queue\",\"site\":\"central\"}");
	assert_string_equal(tc_error_code(r), "forbidden");
	assert_string_equal(get_str(r, "error", "field"), "site");
	cJSON_Delete(r);
	r = tc_request(kiosk, "{\"op\":\"take\",\"service\":\"A\",\"site\":\"street\"}");
	assert_string_equal(tc_error_code(r), "forbidden");
	cJSON_Delete(r);
	r = tc_request(at_central, "{\"op\":\"call_next\"}");
	assert_string_equal(get_str(r, "ticket", "id"), id);
	cJSON_Delete(r);
	tc_close(kiosk);
	tc_close(at_central);
	tc_close(at_street);
}

/* r02 manages street and far: it signs in at street, acts at far, and is refused at
 * central; r01 (every site) signs in at central. A hall's own manager stays at its hall. */
static void region__region_manager__acts_within_its_scope(void **state)
{
	(void)state;
	struct tc *tc = tc_connect(hall.port);
	cJSON *r = tc_request(tc, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"r02\",\"password\":\"" PASSWORD_MANAGER "\",\"site\":\"central\"}");
	assert_string_equal(tc_error_code(r), "forbidden");
	cJSON_Delete(r);
	tc_close(tc);
	tc = tc_connect(hall.port);
	r = tc_request(tc, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"r02\",\"password\":\"wrong\",\"site\":\"street\"}");
	assert_string_equal(tc_error_code(r), "unauthenticated");
	cJSON_Delete(r);
	r = tc_request(tc, "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"r02\",\"password\":\"" PASSWORD_MANAGER "\",\"site\":\"street\"}");
	assert_true(tc_ok(r));
	const cJSON *scope = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "user"), "sites");
	assert_int_equal(cJSON_GetArraySize(scope), 2);
	cJSON_Delete(r);
	r = tc_request(tc, "{\"op\":\"queue\",\"site\":\"far\"}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	r = tc_request(tc, "{\"op\":\"queue\",\"site\":\"central\"}");
	assert_string_equal(tc_error_code(r), "forbidden");
	cJSON_Delete(r);
	tc_close(tc);

	tc = signed_in("{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"r01\",\"password\":\"" PASSWORD_MANAGER "\",\"site\":\"%s\"}", "central");
	assert_non_null(tc);
	r = tc_request(tc, "{\"op\":\"queue\",\"site\":\"far\"}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	tc_close(tc);

	tc = signed_in("{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"m01\",\"password\":\"" PASSWORD_MANAGER "\",\"site\":\"%s\"}", "central");
	assert_non_null(tc);
	r = tc_request(tc, "{\"op\":\"queue\",\"site\":\"street\"}");
	assert_string_equal(tc_error_code(r), "forbidden");
	cJSON_Delete(r);
	tc_close(tc);
}

/* Polls until the ticket at the site is in the wanted state (the day change runs on the
 * server's once-a-second tick); returns the last state seen. */
static const char *wait_state(const char *site, const char *id, const char *want, char *buf, size_t len)
{
	for (int i = 0; i < 100; i++) {
		if (strcmp(ticket_state(site, id, buf, len), want) == 0)
			break;
		usleep(50 * 1000);
	}
	return buf;
}

/* At 00:30 in Shanghai (16:30 in London) central's waiting ticket expires and far's still
 * waits; at 00:30 in London far's expires too. */
static void region__day_change__each_site_in_its_zone(void **state)
{
	(void)state;
	const long london_10am = 1795773600L; /* 2026-11-27 10:00 UTC = 18:00 in Shanghai */
	assert_int_equal(hall_set_clock(&hall, london_10am), 0);
	struct tc *k_central = signed_in(KIOSK_HELLO, "central"), *k_far = signed_in(KIOSK_HELLO, "far");
	assert_non_null(k_central);
	assert_non_null(k_far);
	char at_central[64], at_far[64], st[32];
	assert_non_null(take(k_central, at_central, sizeof at_central));
	assert_non_null(take(k_far, at_far, sizeof at_far));
	tc_close(k_central);
	tc_close(k_far);

	assert_int_equal(hall_set_clock(&hall, 1795797000L), 0); /* 2026-11-28 00:30 in Shanghai */
	assert_string_equal(wait_state("central", at_central, "expired", st, sizeof st), "expired");
	assert_string_equal(ticket_state("far", at_far, st, sizeof st), "waiting");

	assert_int_equal(hall_set_clock(&hall, 1795825800L), 0); /* 2026-11-28 00:30 in London */
	assert_string_equal(wait_state("far", at_far, "expired", st, sizeof st), "expired");
}

/* A display subscribed at street gets street's events and none of central's. */
static void region__events__only_the_site_subscribed_to(void **state)
{
	(void)state;
	struct tc *display = signed_in("{\"op\":\"hello\",\"role\":\"public\",\"site\":\"%s\"}", "street");
	assert_non_null(display);
	cJSON *r = tc_request(display, "{\"op\":\"subscribe\",\"topics\":[\"ticket\"]}");
	assert_true(tc_ok(r));
	cJSON_Delete(r);
	struct tc *k_central = signed_in(KIOSK_HELLO, "central"), *k_street = signed_in(KIOSK_HELLO, "street");
	char at_central[64], at_street[64];
	assert_non_null(take(k_central, at_central, sizeof at_central));
	assert_non_null(take(k_street, at_street, sizeof at_street));
	/* Events come in commit order: the first one seen is street's, so central's never came. */
	cJSON *ev = tc_next_event(display, 2000);
	assert_non_null(ev);
	assert_string_equal(get_str(ev, "ticket", "id"), at_street);
	cJSON_Delete(ev);
	ev = tc_next_event(display, 300);
	assert_null(ev);
	tc_close(k_central);
	tc_close(k_street);
	tc_close(display);
}

#define MANAGER_HELLO "{\"op\":\"hello\",\"role\":\"manager\",\"user\":\"%s\",\"password\":\"" PASSWORD_MANAGER "\",\"site\":\"%s\"}"

/* The row of a site in a region or stats answer, or NULL. */
static const cJSON *row_of(const cJSON *r, const char *key, const char *site)
{
	const cJSON *row;
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(r, "rows")) {
		const char *v = get_str(row, key, NULL);
		if (v && strcmp(v, site) == 0)
			return row;
	}
	return NULL;
}

/* `region` gives r02 the live rows of street and far only: two tickets taken at street and
 * one called show as 1 waiting and 1 called today; a hall manager may not ask. */
static void region__region_op__live_rows_of_the_scope(void **state)
{
	(void)state;
	struct tc *kiosk = signed_in(KIOSK_HELLO, "street"), *clerk = signed_in(CLERK1_HELLO, "street");
	assert_non_null(kiosk);
	assert_non_null(clerk);
	char id[64];
	assert_non_null(take(kiosk, id, sizeof id));
	assert_non_null(take(kiosk, id, sizeof id));
	cJSON *called = tc_request(clerk, "{\"op\":\"call_next\"}");
	assert_true(tc_ok(called));
	cJSON_Delete(called);
	struct tc *mgr = signed_in(MANAGER_HELLO, "r02", "street");
	assert_non_null(mgr);
	cJSON *r = tc_request(mgr, "{\"op\":\"region\"}");
	assert_true(tc_ok(r));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "rows")), 2);
	const cJSON *street = row_of(r, "site", "street"), *far = row_of(r, "site", "far");
	assert_non_null(street);
	assert_non_null(far);
	assert_null(row_of(r, "site", "central"));
	assert_int_equal(get_num(street, "waiting", NULL), 1);
	assert_int_equal(get_num(street, "called_today", NULL), 1);
	assert_int_equal(get_num(street, "windows_open", NULL), 1);
	assert_string_equal(get_str(street, "level", NULL), "street");
	assert_string_equal(get_str(street, "parent", NULL), "central");
	assert_int_equal(get_num(far, "waiting", NULL), 0);
	assert_int_equal(get_num(far, "bad_ratings_open", NULL), 0);
	cJSON_Delete(r);
	struct tc *hall_mgr = signed_in(MANAGER_HELLO, "m01", "street");
	r = tc_request(hall_mgr, "{\"op\":\"region\"}");
	assert_string_equal(tc_error_code(r), "forbidden");
	cJSON_Delete(r);
	tc_close(hall_mgr);
	tc_close(mgr);
	tc_close(kiosk);
	tc_close(clerk);
}

/* `region` counts each site's open bad-rating follow-ups and those past their due date. */
static void region__region_op__open_and_overdue_bad_ratings(void **state)
{
	(void)state;
	struct tc *kiosk = signed_in(KIOSK_HELLO, "street"), *clerk = signed_in(CLERK1_HELLO, "street");
	assert_non_null(kiosk);
	assert_non_null(clerk);
	char id[64];
	static const char *const finishes[] = {"{\"op\":\"finish\",\"rating\":1}", "{\"op\":\"finish\",\"rating\":2}",
					       "{\"op\":\"finish\",\"rating\":5}"};
	for (int i = 0; i < 3; i++) {
		assert_non_null(take(kiosk, id, sizeof id));
		cJSON_Delete(tc_request(clerk, "{\"op\":\"call_next\"}"));
		cJSON *r = tc_request(clerk, "%s", finishes[i]);
		assert_true(tc_ok(r));
		cJSON_Delete(r);
	}
	struct tc *mgr = signed_in(MANAGER_HELLO, "r02", "street");
	assert_non_null(mgr);
	cJSON *r = tc_request(mgr, "{\"op\":\"region\"}");
	assert_int_equal(get_num(row_of(r, "site", "street"), "bad_ratings_open", NULL), 2);
	assert_int_equal(get_num(row_of(r, "site", "street"), "bad_ratings_overdue", NULL), 0);
	assert_int_equal(get_num(row_of(r, "site", "far"), "bad_ratings_open", NULL), 0);
	cJSON_Delete(r);
	/* one resolved; then past the due date (Friday 11-27 + 15 working days: 12-18) */
	r = tc_request(mgr, "{\"op\":\"resolve_rating\",\"site\":\"street\",\"ticket\":\"A001\",\"note\":\"回访\"}");
	assert_true(tc_ok(r));
	assert_string_equal(get_str(cJSON_GetObjectItem(r, "rating"), "followup", "by"), "r02");
	cJSON_Delete(r);
	assert_int_equal(hall_set_clock(&hall, HALL_T0 + 21 * 86400L), 0); /* Friday 12-18: due today */
	r = tc_request(mgr, "{\"op\":\"region\"}");
	assert_int_equal(get_num(row_of(r, "site", "street"), "bad_ratings_open", NULL), 1);
	assert_int_equal(get_num(row_of(r, "site", "street"), "bad_ratings_overdue", NULL), 0);
	cJSON_Delete(r);
	assert_int_equal(hall_set_clock(&hall, HALL_T0 + 24 * 86400L), 0); /* Monday 12-21 */
	r = tc_request(mgr, "{\"op\":\"region\"}");
	assert_int_equal(get_num(row_of(r, "site", "street"), "bad_ratings_open", NULL), 1);
	assert_int_equal(get_num(row_of(r, "site", "street"), "bad_ratings_overdue", NULL), 1);
	cJSON_Delete(r);
	tc_close(mgr);
	tc_close(kiosk);
	tc_close(clerk);
}

/* `stats` with sites "*" and by "site" gives r01 one row per site with that site's tickets;
 * sites outside the scope, unknown sites and a clerk are refused. */
static void region__stats_across_sites__one_row_per_site(void **state)
{
	(void)state;
	struct tc *k_central = signed_in(KIOSK_HELLO, "central"), *k_street = signed_in(KIOSK_HELLO, "street");
	char id[64];
	assert_non_null(take(k_central, id, sizeof id));
	assert_non_null(take(k_street, id, sizeof id));
	assert_non_null(take(k_street, id, sizeof id));
	struct tc *mgr = signed_in(MANAGER_HELLO, "r01", "central");
	assert_non_null(mgr);
	cJSON *r = tc_request(mgr, "{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"sites\":\"*\",\"by\":\"site\"}");
	assert_true(tc_ok(r));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "rows")), 3);
	assert_int_equal(get_num(row_of(r, "key", "central"), "issued", NULL), 1);
	assert_int_equal(get_num(row_of(r, "key", "street"), "issued", NULL), 2);
	assert_int_equal(get_num(row_of(r, "key", "far"), "issued", NULL), 0);
	cJSON_Delete(r);
	/* By service across two named sites: rows carry their site. */
	r = tc_request(mgr, "{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"sites\":[\"street\"],\"by\":\"service\"}");
	assert_true(tc_ok(r));
	const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "rows"), 0);
	assert_string_equal(get_str(row, "site", NULL), "street");
	assert_string_equal(get_str(row, "key", NULL), "A");
	assert_int_equal(get_num(row, "issued", NULL), 2);
	cJSON_Delete(r);
	r = tc_request(mgr, "{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"sites\":[\"nowhere\"]}");
	assert_string_equal(tc_error_code(r), "not_found");
	cJSON_Delete(r);
	tc_close(mgr);
	mgr = signed_in(MANAGER_HELLO, "r02", "street");
	r = tc_request(mgr, "{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"sites\":[\"central\"]}");
	assert_string_equal(tc_error_code(r), "forbidden");
	cJSON_Delete(r);
	tc_close(mgr);
	struct tc *clerk = signed_in(CLERK1_HELLO, "street");
	r = tc_request(clerk, "{\"op\":\"stats\",\"from\":\"2026-11-27\",\"to\":\"2026-11-27\",\"sites\":\"*\"}");
	assert_string_equal(tc_error_code(r), "forbidden");
	cJSON_Delete(r);
	tc_close(clerk);
	tc_close(k_central);
	tc_close(k_street);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(region__sites__listed_with_parent_level_and_open, hall_fixture_reset),
		cmocka_unit_test_setup(region__site_unnamed_or_unknown__refused_and_hello_sets_it, hall_fixture_reset),
		cmocka_unit_test_setup(region__clerk_at_one_site__sees_only_its_tickets, hall_fixture_reset),
		cmocka_unit_test_setup(region__region_manager__acts_within_its_scope, hall_fixture_reset),
		cmocka_unit_test_setup(region__region_op__open_and_overdue_bad_ratings, hall_fixture_reset),
		cmocka_unit_test_setup(region__day_change__each_site_in_its_zone, hall_fixture_reset),
		cmocka_unit_test_setup(region__events__only_the_site_subscribed_to, hall_fixture_reset),
		cmocka_unit_test_setup(region__region_op__live_rows_of_the_scope, hall_fixture_reset),
		cmocka_unit_test_setup(region__stats_across_sites__one_row_per_site, hall_fixture_reset),
	};
	return cmocka_run_group_tests_name("region", tests, region_start, hall_fixture_stop);
}
