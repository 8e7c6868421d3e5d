/* Unit tests of the hall config: what a hall manager sees for good and bad config files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "password.h"

/* A valid minimal hall, in parts, so each test changes only the part it is about. The JSON
 * is written with single quotes (turned into double quotes by parse) to stay readable. */
#define SITE "'site':{'id':'t1','name':'测试中心','tz':'Asia/Shanghai'}"
#define SERVICES "'services':[{'id':'A','prefix':'A','name':'社会保障'},{'id':'B','prefix':'B','name':'出入境'}]"
#define WINDOWS "'windows':[{'id':1,'services':['*']},{'id':2,'services':['B']}]"
#define HASH "$5$abcdefgh$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
#define USERS "'users':[{'id':'c01','role':'clerk','password_hash':'" HASH "','windows':[1]}]"
#define HALL(...) "{" __VA_ARGS__ "}"
#define SITE_WITH(extra) "'site':{'id':'t1','name':'测试中心','tz':'Asia/Shanghai'," extra "}"

static char err[512];

/* Parses a single-quoted JSON text as "test.json", leaving any error in err. */
static struct config *parse(const char *single_quoted)
{
	char *json = strdup(single_quoted);
	assert_non_null(json);
	for (char *c = json; *c != '\0'; c++)
		if (*c == '\'')
			*c = '"';
	struct config *cfg = config_parse(json, "test.json", err, sizeof err);
	free(json);
	return cfg;
}

/* Asserts that a text is refused and the message contains every given piece. */
#define assert_refused(json, ...)                                                        \
	do {                                                                             \
		struct config *refused_ = parse(json);                                   \
		if (refused_ != NULL)                                                    \
			config_free(refused_);                                           \
		assert_null(refused_);                                                   \
		const char *pieces_[] = {__VA_ARGS__};                                   \
		for (size_t i_ = 0; i_ < sizeof pieces_ / sizeof pieces_[0]; i_++) {     \
			if (strstr(err, pieces_[i_]) == NULL)                            \
				fail_msg("message \"%s\" lacks \"%s\"", err, pieces_[i_]); \
		}                                                                        \
	} while (0)

/* Returns $QHALL_ROOT/rel (QHALL_ROOT defaults to the current folder). */
static const char *root_path(const char *rel)
{
	static char path[4096];
	const char *root = getenv("QHALL_ROOT");
	snprintf(path, sizeof path, "%s/%s", root != NULL && root[0] != '\0' ? root : ".", rel);
	return path;
}

/* A minimal hall loads, with the documented defaults filled in. */
static void config__minimal__defaults_applied(void **state)
{
	(void)state;
	struct config *cfg = parse(HALL(SITE "," SERVICES "," WINDOWS));
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_string_equal(cfg->site.id, "t1");
	assert_string_equal(cfg->site.name_en, "测试中心"); /* name_en falls back to name */
	assert_int_equal(cfg->site.sla, 900);
	assert_int_equal(cfg->site.retention_days, 90);
	assert_int_equal(cfg->services[0].service_time, 300);
	assert_string_equal(cfg->windows[0].name, "1号窗口");
	assert_string_equal(cfg->windows[0].name_en, "Window 1");
	assert_int_equal(cfg->nusers, 0);
	assert_int_equal(cfg->nkiosks, 0);
	assert_string_equal(cfg->path, "test.json");
	config_free(cfg);
}

/* Without hours the Bao'an hours apply: Mon-Fri 09:00-20:00, Sat 09:00-16:00, Sun 09:00-12:00. */
static void config__missing_hours__bao_an_defaults(void **state)
{
	(void)state;
	struct config *cfg = parse(HALL(SITE "," SERVICES "," WINDOWS));
	assert_non_null(cfg);
	assert_int_equal(cfg->site.hours[0].open, 9 * 60);
	assert_int_equal(cfg->site.hours[0].close, 12 * 60);
	for (int d = 1; d <= 5; d++) {
		assert_int_equal(cfg->site.hours[d].open, 9 * 60);
		assert_int_equal(cfg->site.hours[d].close, 20 * 60);
	}
	assert_int_equal(cfg->site.hours[6].open, 9 * 60);
	assert_int_equal(cfg->site.hours[6].close, 16 * 60);
	config_free(cfg);
}

/* Days given as null or "closed" are closed; "24:00" is a valid closing time. */
static void config__hours_closed_and_midnight__parsed(void **state)
{
	(void)state;
	struct config *cfg = parse(HALL(
		SITE_WITH("'hours':{'mon':'08:30-17:45','tue':'00:00-24:00','wed':'09:00-20:00',"
			  "'thu':'09:00-20:00','fri':'09:00-20:00','sat':'closed','sun':null}") "," SERVICES
		"," WINDOWS));
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_int_equal(cfg->site.hours[1].open, 8 * 60 + 30);
	assert_int_equal(cfg->site.hours[1].close, 17 * 60 + 45);
	assert_int_equal(cfg->site.hours[2].open, 0);
	assert_int_equal(cfg->site.hours[2].close, 24 * 60);
	assert_true(cfg->site.hours[6].open < 0);
	assert_true(cfg->site.hours[0].open < 0);
	config_free(cfg);
}

/* A closing time before the opening time is refused and the day is named. */
static void config__hours_close_before_open__names_day(void **state)
{
	(void)state;
	assert_refused(HALL(SITE_WITH("'hours':{'mon':'20:00-09:00','tue':'closed','wed':'closed',"
				      "'thu':'closed','fri':'closed','sat':'closed','sun':'closed'}") "," SERVICES
			    "," WINDOWS),
		       "test.json: site.hours.mon: ", "open before it closes");
}

/* Malformed times are refused: one-digit hours, 24:00 as an opening, minutes past 59. */
static void config__hours_bad_format__refused(void **state)
{
	(void)state;
	static const char *bad[] = {"9:00-20:00", "24:00-24:00", "09:60-20:00", "09:00-24:01", "09:00 20:00",
				    "09:00-20:00 ", "open", ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char json[1024];
		snprintf(json, sizeof json,
			 HALL(SITE_WITH("'hours':{'mon':'09:00-20:00','tue':'%s','wed':'closed','thu':'closed',"
					"'fri':'closed','sat':'closed','sun':'closed'}") "," SERVICES "," WINDOWS),
			 bad[i]);
		assert_refused(json, "site.hours.tue: ", "HH:MM-HH:MM");
	}
}

/* Given hours must name every day, so a misspelt day is not silently closed. */
static void config__hours_missing_day__refused(void **state)
{
	(void)state;
	assert_refused(HALL(SITE_WITH("'hours':{'mon':'09:00-20:00','tue':'09:00-20:00','wed':'09:00-20:00',"
				      "'thurs':'09:00-20:00','fri':'09:00-20:00','sat':'closed','sun':'closed'}")
			    "," SERVICES "," WINDOWS),
		       "site.hours.thu: missing");
}

/* Two services with one prefix are refused, naming the second one's place and the first. */
static void config__duplicate_prefix__names_place(void **state)
{
	(void)state;
	assert_refused(HALL(SITE ",'services':[{'id':'A','prefix':'A','name':'甲'},{'id':'B','prefix':'B','name':'乙'},"
			    "{'id':'C','prefix':'CX','name':'丙'},{'id':'D','prefix':'B','name':'丁'}]," WINDOWS),
		       "test.json: services[3].prefix: ", "\"B\"", "services[1]");
}

/* Two services with one id are refused. */
static void config__duplicate_service_id__names_place(void **state)
{
	(void)state;
	assert_refused(HALL(SITE ",'services':[{'id':'A','prefix':'A','name':'甲'},{'id':'A','prefix':'B','name':'乙'}],"
			    WINDOWS),
		       "test.json: services[1].id: ", "already used");
}

/* Prefixes must be 1 to 3 ASCII capital letters. */
static void config__bad_prefix__refused(void **state)
{
	(void)state;
	static const char *bad[] = {"a", "ABCD", "A1", "", "Ａ"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char json[1024];
		snprintf(json, sizeof json, HALL(SITE ",'services':[{'id':'A','prefix':'%s','name':'甲'}]," WINDOWS),
			 bad[i]);
		assert_refused(json, "services[0].prefix: ", "capital letters");
	}
}

/* Service ids outside [A-Za-z0-9_-]{1,31} are refused. */
static void config__bad_service_id__refused(void **state)
{
	(void)state;
	assert_refused(HALL(SITE ",'services':[{'id':'A B','prefix':'A','name':'甲'}]," WINDOWS), "services[0].id: ");
	assert_refused(HALL(SITE ",'services':[{'id':'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345','prefix':'A','name':'甲'}],"
			    WINDOWS),
		       "services[0].id: ", "1 to 31");
}

/* Site ids are part of Redis keys: lower case, digits, _ and - only (no braces). */
static void config__bad_site_id__refused(void **state)
{
	(void)state;
	static const char *bad[] = {"BaoAn", "bao{an}", "", "a:b", "abcdefghijklmnopqrstuvwxyz0123456"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char json[1024];
		snprintf(json, sizeof json,
			 HALL("'site':{'id':'%s','name':'中心','tz':'Asia/Shanghai'}," SERVICES "," WINDOWS), bad[i]);
		assert_refused(json, "site.id: ", "a-z 0-9 _ -");
	}
}

/* Unknown zones, paths out of the zoneinfo folder and non-zone files there are refused. */
static void config__bad_tz__refused(void **state)
{
	(void)state;
	static const char *bad[] = {"Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime", "Asia/../Asia/Shanghai",
				    "zone.tab", "Asia", ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char json[1024];
		snprintf(json, sizeof json, HALL("'site':{'id':'t1','name':'中心','tz':'%s'}," SERVICES "," WINDOWS),
			 bad[i]);
		assert_refused(json, "test.json: site.tz: ");
	}
	assert_refused(HALL("'site':{'id':'t1','name':'中心','tz':'Mars/Olympus_Mons'}," SERVICES "," WINDOWS),
		       "unknown time zone \"Mars/Olympus_Mons\"");
	assert_refused(HALL("'site':{'id':'t1','name':'中心'}," SERVICES "," WINDOWS), "site.tz: missing");
}

/* A syntax error is reported with its line, column and byte offset. */
static void config__syntax_error__line_reported(void **state)
{
	(void)state;
	/* Line 3 lacks the comma after the site object. */
	assert_refused("{\n 'site':{'id':'t1','name':'中心','tz':'Asia/Shanghai'}\n 'services':[]\n}",
		       "test.json: line 3, column 2 (byte ", "JSON syntax error near '\"services\"");
	assert_refused("{'site':{'id':'t1'", "test.json: line 1", "end of the text");
	assert_refused("", "test.json: line 1, column 1 (byte 0)");
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS) " trailing", "JSON syntax error near 'trailing'");
}

/* The top level must be an object and required sections present. */
static void config__wrong_shape__refused(void **state)
{
	(void)state;
	assert_refused("[1,2]", "test.json: top level: must be a JSON object");
	assert_refused(HALL(SERVICES "," WINDOWS), "test.json: site: missing");
	assert_refused(HALL(SITE "," WINDOWS), "test.json: services: missing");
	assert_refused(HALL(SITE "," SERVICES), "test.json: windows: missing");
	assert_refused(HALL(SITE ",'services':[]," WINDOWS), "services: must list at least one service");
	assert_refused(HALL(SITE ",'services':{}," WINDOWS), "services: must be an array (found an object)");
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS ",'users':[{'id':'c01','role':'clerk'}]"),
		       "users[0].password_hash: missing");
}

/* Numbers must be integers in range; strings or fractions are not rounded or converted. */
static void config__non_integer__refused(void **state)
{
	(void)state;
	assert_refused(HALL(SITE_WITH("'sla':'900'") "," SERVICES "," WINDOWS), "site.sla: must be an integer (found a string)");
	assert_refused(HALL(SITE_WITH("'sla':1.5") "," SERVICES "," WINDOWS), "site.sla: must be a whole number");
	assert_refused(HALL(SITE_WITH("'retention_days':0") "," SERVICES "," WINDOWS), "site.retention_days: must be from 1");
	assert_refused(HALL(SITE ",'services':[{'id':'A','prefix':'A','name':'甲','service_time':-5}]," WINDOWS),
		       "services[0].service_time: must be from 1 to 86400 (found -5)");
	assert_refused(HALL(SITE "," SERVICES ",'windows':[{'id':10000,'services':['*']}]"),
		       "windows[0].id: must be from 1 to 9999");
	assert_refused(HALL(SITE "," SERVICES ",'windows':[{'id':0,'services':['*']}]"), "windows[0].id: ");
}

/* Names must be non-empty, valid UTF-8, without control characters. */
static void config__bad_names__refused(void **state)
{
	(void)state;
	assert_refused(HALL(SITE ",'services':[{'id':'A','prefix':'A','name':''}]," WINDOWS),
		       "services[0].name: must not be empty");
	assert_refused(HALL(SITE ",'services':[{'id':'A','prefix':'A','name':'\xff\xfe'}]," WINDOWS),
		       "services[0].name: is not valid UTF-8");
	assert_refused(HALL(SITE ",'services':[{'id':'A','prefix':'A','name':'\xc0\xaf'}]," WINDOWS), /* overlong '/' */
		       "is not valid UTF-8");
	assert_refused(HALL(SITE ",'services':[{'id':'A','prefix':'A','name':'a\\nb'}]," WINDOWS),
		       "services[0].name: must not contain control characters");
	assert_refused(HALL(SITE ",'services':[{'id':'A','prefix':'A','name':42}]," WINDOWS),
		       "services[0].name: must be a string (found a number)");
	assert_refused(HALL(SITE ",'services':[{'id':'A','prefix':'A'}]," WINDOWS), "services[0].name: missing");
}

/* A window naming a service that does not exist is refused at the exact list entry. */
static void config__window_unknown_service__names_place(void **state)
{
	(void)state;
	assert_refused(HALL(SITE "," SERVICES ",'windows':[{'id':1,'services':['*']},{'id':7,'services':['B','Z']}]"),
		       "test.json: windows[1].services[1]: no service \"Z\"");
	assert_refused(HALL(SITE "," SERVICES ",'windows':[{'id':1,'services':['A','*']}]"),
		       "windows[0].services[1]: ", "only entry");
	assert_refused(HALL(SITE "," SERVICES ",'windows':[{'id':1,'services':[]}]"), "windows[0].services: must name");
	assert_refused(HALL(SITE "," SERVICES ",'windows':[{'id':1,'services':['A','A']}]"), "listed twice");
}

/* Window ids must be unique. */
static void config__duplicate_window__refused(void **state)
{
	(void)state;
	assert_refused(HALL(SITE "," SERVICES ",'windows':[{'id':1,'services':['*']},{'id':1,'services':['A']}]"),
		       "windows[1].id: window 1 is already defined by windows[0]");
}

/* A user role other than clerk or manager is refused and the role is named. */
static void config__unknown_role__names_place(void **state)
{
	(void)state;
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS ",'users':[{'id':'x','role':'admin','password_hash':'" HASH "'}]"),
		       "test.json: users[0].role: unknown role \"admin\"", "\"clerk\" or \"manager\"");
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS ",'users':[{'id':'x','role':'kiosk','password_hash':'" HASH "'}]"),
		       "users[0].role: unknown role");
}

/* A user's windows must exist; user ids are unique; the password hash must look like crypt(3). */
static void config__user_checks__names_place(void **state)
{
	(void)state;
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS
			    ",'users':[{'id':'c01','role':'clerk','password_hash':'" HASH "','windows':[1,9]}]"),
		       "test.json: users[0].windows[1]: no window 9");
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS
			    ",'users':[{'id':'c01','role':'clerk','password_hash':'" HASH "','windows':['*',1]}]"),
		       "users[0].windows[0]: ", "only entry");
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS ",'users':[{'id':'c01','role':'clerk','password_hash':'" HASH
			    "'},{'id':'c01','role':'manager','password_hash':'" HASH "'}]"),
		       "users[1].id: user id \"c01\" is already used by users[0]");
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS ",'users':[{'id':'c01','role':'clerk','password_hash':'clerk123'}]"),
		       "users[0].password_hash: must be a crypt(3) hash");
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS ",'kiosks':[{'id':'k1','token_hash':'" HASH
			    "'},{'id':'k1','token_hash':'" HASH "'}]"),
		       "kiosks[1].id: kiosk id \"k1\" is already used");
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS ",'kiosks':[{'id':'k1'}]"), "kiosks[0].token_hash: missing");
}

/* A key given twice in one object is refused rather than one copy silently winning. */
static void config__duplicate_key__refused(void **state)
{
	(void)state;
	assert_refused(HALL(SITE_WITH("'sla':600,'sla':900") "," SERVICES "," WINDOWS), "site: field \"sla\" is given twice");
}

/* Unknown fields are ignored so that newer configs load in older servers. */
static void config__unknown_field__ignored(void **state)
{
	(void)state;
	struct config *cfg = parse(HALL(SITE_WITH("'address':'宝安区新安街道'") "," SERVICES "," WINDOWS ",'printers':[1,2],"
					 "'future':{'x':1}"));
	if (cfg == NULL)
		fail_msg("%s", err);
	config_free(cfg);
}

/* More services than CONFIG_MAX_SERVICES are refused with the limit in the message. */
static void config__too_many_services__refused(void **state)
{
	(void)state;
	size_t cap = (CONFIG_MAX_SERVICES + 1) * 64 + 1024;
	char *json = malloc(cap);
	assert_non_null(json);
	size_t n = (size_t)snprintf(json, cap, "{" SITE ",'services':[");
	for (int i = 0; i <= CONFIG_MAX_SERVICES; i++) {
		/* Prefixes AA, AB, ... stay distinct for up to 26 * 26 * 26 services. */
		char prefix[4] = {(char)('A' + i / 676), (char)('A' + i / 26 % 26), (char)('A' + i % 26), 0};
		n += (size_t)snprintf(json + n, cap - n, "%s{'id':'s%d','prefix':'%s','name':'服务'}", i ? "," : "", i,
				      prefix);
	}
	snprintf(json + n, cap - n, "]," WINDOWS "}");
	char limit[64];
	snprintf(limit, sizeof limit, "at most %d are allowed", CONFIG_MAX_SERVICES);
	assert_refused(json, "test.json: services: has 2049 entries", limit);
	free(json);
}

/* The lookups find what the config holds and nothing else. */
static void config__lookups__find_by_id(void **state)
{
	(void)state;
	struct config *cfg = parse(HALL(SITE "," SERVICES "," WINDOWS ","
					 "'users':[{'id':'c01','role':'clerk','password_hash':'" HASH "','windows':[2]},"
					 "{'id':'m01','role':'manager','password_hash':'" HASH "'}],"
					 "'kiosks':[{'id':'kiosk-1','token_hash':'" HASH "'}]"));
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_string_equal(config_service(cfg, "B")->name, "出入境");
	assert_null(config_service(cfg, "Z"));
	assert_null(config_window(cfg, 3));
	const struct config_window *w1 = config_window(cfg, 1), *w2 = config_window(cfg, 2);
	assert_true(config_window_serves(w1, "A"));
	assert_true(config_window_serves(w2, "B"));
	assert_false(config_window_serves(w2, "A"));
	const struct config_user *c01 = config_user(cfg, "c01"), *m01 = config_user(cfg, "m01");
	assert_int_equal(c01->role, ROLE_CLERK);
	assert_true(config_user_may_use(c01, 2));
	assert_false(config_user_may_use(c01, 1));
	assert_int_equal(m01->role, ROLE_MANAGER);
	assert_true(config_user_may_use(m01, 1)); /* windows absent: every window */
	assert_string_equal(m01->name, "m01");	  /* name absent: the id */
	assert_null(config_user(cfg, "nobody"));
	assert_non_null(config_kiosk(cfg, "kiosk-1"));
	assert_null(config_kiosk(cfg, "kiosk-2"));
	assert_string_equal(config_role_name(ROLE_KIOSK), "kiosk");
	assert_int_equal(config_role_parse("manager"), ROLE_MANAGER);
	assert_int_equal(config_role_parse("root"), -1);
	config_free(cfg);
}

/* A UTF-8 byte order mark, as Windows editors write it, is skipped. */
static void config__byte_order_mark__accepted(void **state)
{
	(void)state;
	struct config *cfg = parse("\xef\xbb\xbf" HALL(SITE "," SERVICES "," WINDOWS));
	if (cfg == NULL)
		fail_msg("%s", err);
	config_free(cfg);
}

/* An error that does not fit the buffer is cut, NUL-terminated, and nothing overflows. */
static void config__small_error_buffer__truncated_safely(void **state)
{
	(void)state;
	char small[12];
	memset(small, 'x', sizeof small);
	struct config *cfg = config_parse("{", "a-rather-long-file-name.json", small, sizeof small);
	assert_null(cfg);
	assert_int_equal(strlen(small), sizeof small - 1);
	assert_null(config_parse("{", "f", NULL, 0));
}

/* A missing file, a folder and an over-large file each give a clear message. */
static void config__unreadable_files__clear_error(void **state)
{
	(void)state;
	assert_null(config_load("/nonexistent/hall.json", err, sizeof err));
	assert_string_equal(err, "/nonexistent/hall.json: cannot open: No such file or directory");
	assert_null(config_load("/tmp", err, sizeof err));
	assert_string_equal(err, "/tmp: is a folder, not a config file");

	char big[] = "/tmp/qhall-test-config-XXXXXX";
	int fd = mkstemp(big);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, CONFIG_FILE_MAX + 1), 0); /* sparse: costs no disk */
	close(fd);
	assert_null(config_load(big, err, sizeof err));
	assert_non_null(strstr(err, "is larger than 16 MiB"));
	unlink(big);

	char nul[] = "/tmp/qhall-test-config-XXXXXX";
	fd = mkstemp(nul);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\0}", 3), 3);
	close(fd);
	assert_null(config_load(nul, err, sizeof err));
	assert_non_null(strstr(err, ": byte 1: contains a NUL byte"));
	unlink(nul);
}

/* The shipped Bao'an example loads, with its specialised windows and demo accounts. */
static void config__example_hall_loads(void **state)
{
	(void)state;
	struct config *cfg = config_load(root_path("examples/baoan.json"), err, sizeof err);
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_string_equal(cfg->site.id, "baoan");
	assert_string_equal(cfg->site.name, "宝安区政务服务中心");
	assert_string_equal(cfg->site.tz, "Asia/Shanghai");
	assert_true(cfg->nservices >= 10);
	assert_int_equal(cfg->nwindows, 8);
	for (int id = 1; id <= 6; id++)
		assert_true(config_window(cfg, id)->all_services);
	const struct config_window *w7 = config_window(cfg, 7), *w8 = config_window(cfg, 8);
	assert_true(config_window_serves(w7, "B"));
	assert_string_equal(config_service(cfg, "B")->name, "出入境");
	assert_false(config_window_serves(w7, "A"));
	assert_true(config_window_serves(w8, "G"));
	assert_true(config_window_serves(w8, "F"));
	const struct config_user *c01 = config_user(cfg, "c01");
	assert_int_equal(c01->role, ROLE_CLERK);
	assert_true(config_user_may_use(c01, 3));
	assert_false(config_user_may_use(c01, 4));
	assert_int_equal(config_user(cfg, "m01")->role, ROLE_MANAGER);
	assert_non_null(config_kiosk(cfg, "kiosk-1"));
	config_free(cfg);
}

/* The test hall loads, is open all day every day, and its demo passwords verify. */
static void config__small_test_hall__demo_passwords_verify(void **state)
{
	(void)state;
	struct config *cfg = config_load(root_path("tests/data/small.json"), err, sizeof err);
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_int_equal(cfg->nservices, 3);
	assert_int_equal(cfg->nwindows, 3);
	for (int d = 0; d < 7; d++) {
		assert_int_equal(cfg->site.hours[d].open, 0);
		assert_int_equal(cfg->site.hours[d].close, 24 * 60);
	}
	assert_false(config_window_serves(config_window(cfg, 3), "A"));
	assert_true(config_user_may_use(config_user(cfg, "c02"), 3));
	assert_false(config_user_may_use(config_user(cfg, "c03"), 1));
	assert_true(password_verify("clerk123", config_user(cfg, "c01")->password_hash));
	assert_false(password_verify("clerk124", config_user(cfg, "c01")->password_hash));
	assert_true(password_verify("manager123", config_user(cfg, "m01")->password_hash));
	assert_true(password_verify("kiosk123", config_kiosk(cfg, "kiosk-1")->token_hash));
	config_free(cfg);
}

/* Parses a single-quoted region.json text as "region.json", leaving any error in err. */
static struct config_region *parse_region(const char *single_quoted)
{
	char *json = strdup(single_quoted);
	assert_non_null(json);
	for (char *c = json; *c != '\0'; c++)
		if (*c == '\'')
			*c = '"';
	struct config_region *region = config_region_parse(json, "region.json", err, sizeof err);
	free(json);
	return region;
}

#define REGION_HEAD "'region':{'id':'r','name':'测试区'}"
#define REGION_SITES "'sites':[{'id':'d','level':'district'},{'id':'s','level':'street','parent':'d','file':'street.json'}]"

/* Asserts that a region text is refused with a message containing piece. */
static void assert_region_refused(const char *json, const char *piece)
{
	struct config_region *region = parse_region(json);
	config_region_free(region);
	assert_null(region);
	if (strstr(err, piece) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err, piece);
}

/* A region with its sites, levels, parents, files and a region manager's scope. */
static void config__pad_kiosk__kind_and_window_checked(void **state)
{
	(void)state;
	struct config *cfg = parse(HALL(SITE "," SERVICES "," WINDOWS ",'kiosks':[{'id':'k1','token_hash':'" HASH "'},"
					"{'id':'p2','kind':'pad','window':2,'token_hash':'" HASH "'}]"));
	assert_non_null(cfg);
	assert_int_equal(config_kiosk(cfg, "k1")->pad_window, 0);
	assert_int_equal(config_kiosk(cfg, "p2")->pad_window, 2);
	config_free(cfg);
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS ",'kiosks':[{'id':'p','kind':'pad','token_hash':'" HASH "'}]"),
		       "test.json: kiosks[0].window: missing");
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS ",'kiosks':[{'id':'p','kind':'pad','window':7,'token_hash':'" HASH "'}]"),
		       "kiosks[0].window: no window 7");
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS ",'kiosks':[{'id':'p','kind':'tablet','token_hash':'" HASH "'}]"),
		       "kiosks[0].kind: unknown kind \"tablet\"");
	assert_refused(HALL(SITE "," SERVICES "," WINDOWS ",'kiosks':[{'id':'p','window':1,'token_hash':'" HASH "'}]"),
		       "kiosks[0].window: only a kiosk of kind \"pad\"");
}

static void config__holidays__real_dates_once_each(void **state)
{
	(void)state;
	struct config *cfg = parse(HALL(SITE_WITH("'holidays':['2027-01-01','2026-12-31']") "," SERVICES "," WINDOWS));
	assert_non_null(cfg);
	assert_int_equal(cfg->site.nholidays, 2);
	assert_true(config_is_holiday(&cfg->site, "2026-12-31"));
	assert_true(config_is_holiday(&cfg->site, "2027-01-01"));
	assert_false(config_is_holiday(&cfg->site, "2027-01-02"));
	config_free(cfg);
	assert_refused(HALL(SITE_WITH("'holidays':['2026-02-30']") "," SERVICES "," WINDOWS),
		       "site.holidays[0]: must be a date YYYY-MM-DD");
	assert_refused(HALL(SITE_WITH("'holidays':['2026-1-01']") "," SERVICES "," WINDOWS), "site.holidays[0]");
	assert_refused(HALL(SITE_WITH("'holidays':[20261231]") "," SERVICES "," WINDOWS), "site.holidays[0]: must be a string");
	assert_refused(HALL(SITE_WITH("'holidays':['2026-12-31','2026-12-31']") "," SERVICES "," WINDOWS),
		       "site.holidays[1]: 2026-12-31 is listed twice");
	assert_refused(HALL(SITE_WITH("'holidays':'2026-12-31'") "," SERVICES "," WINDOWS), "site.holidays: must be an array");
}

static void region__valid__sites_and_scopes_read(void **state)
{
	(void)state;
	struct config_region *region = parse_region("{" REGION_HEAD "," REGION_SITES ",'users':[{'id':'r01','password_hash':'" HASH "','sites':['s']},{'id':'r02','password_hash':'" HASH "','sites':['*']}]}");
	assert_non_null(region);
	assert_int_equal(region->nsites, 2);
	assert_string_equal(region->sites[0].file, "d.json");
	assert_string_equal(region->sites[0].parent, "");
	assert_string_equal(region->sites[1].parent, "d");
	assert_string_equal(region->sites[1].file, "street.json");
	assert_string_equal(config_level_name(region->sites[1].level), "street");
	const struct config_region_user *u = config_region_user(region, "r01");
	assert_non_null(u);
	assert_true(config_region_user_may(u, "s"));
	assert_false(config_region_user_may(u, "d"));
	assert_true(config_region_user_may(config_region_user(region, "r02"), "d"));
	config_region_free(region);
}

/* Every mistake of a region.json is refused with its place. */
static void region__mistakes__refused_with_their_place(void **state)
{
	(void)state;
	assert_region_refused("{" REGION_HEAD ",'sites':[]}", "sites: must list at least one site");
	assert_region_refused("{" REGION_HEAD ",'sites':[{'id':'d','level':'county'}]}", "sites[0].level: unknown level");
	assert_region_refused("{" REGION_HEAD ",'sites':[{'id':'d','level':'district','parent':'x'}]}", "sites[0].parent");
	assert_region_refused("{" REGION_HEAD ",'sites':[{'id':'d','level':'district'},{'id':'d','level':'street'}]}", "listed twice");
	assert_region_refused("{" REGION_HEAD ",'sites':[{'id':'d','level':'district','file':'../x.json'}]}", "inside the config folder");
	assert_region_refused("{" REGION_HEAD "," REGION_SITES ",'users':[{'id':'r01','password_hash':'" HASH "','sites':['x']}]}", "users[0].sites[0]: no site");
	assert_region_refused("{" REGION_HEAD "," REGION_SITES ",'users':[{'id':'r01','password_hash':'secret','sites':['*']}]}", "crypt(3) hash");
	assert_region_refused("{" REGION_HEAD "," REGION_SITES ",'users':[{'id':'r01','role':'clerk','password_hash':'" HASH "','sites':['*']}]}", "region users are managers");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config__minimal__defaults_applied),
		cmocka_unit_test(config__missing_hours__bao_an_defaults),
		cmocka_unit_test(config__hours_closed_and_midnight__parsed),
		cmocka_unit_test(config__hours_close_before_open__names_day),
		cmocka_unit_test(config__hours_bad_format__refused),
		cmocka_unit_test(config__hours_missing_day__refused),
		cmocka_unit_test(config__duplicate_prefix__names_place),
		cmocka_unit_test(config__duplicate_service_id__names_place),
		cmocka_unit_test(config__bad_prefix__refused),
		cmocka_unit_test(config__bad_service_id__refused),
		cmocka_unit_test(config__bad_site_id__refused),
		cmocka_unit_test(config__bad_tz__refused),
		cmocka_unit_test(config__syntax_error__line_reported),
		cmocka_unit_test(config__wrong_shape__refused),
		cmocka_unit_test(config__non_integer__refused),
		cmocka_unit_test(config__bad_names__refused),
		cmocka_unit_test(config__window_unknown_service__names_place),
		cmocka_unit_test(config__duplicate_window__refused),
		cmocka_unit_test(config__unknown_role__names_place),
		cmocka_unit_test(config__user_checks__names_place),
		cmocka_unit_test(config__duplicate_key__refused),
		cmocka_unit_test(config__unknown_field__ignored),
		cmocka_unit_test(config__too_many_services__refused),
		cmocka_unit_test(config__lookups__find_by_id),
		cmocka_unit_test(config__byte_order_mark__accepted),
		cmocka_unit_test(config__small_error_buffer__truncated_safely),
		cmocka_unit_test(config__unreadable_files__clear_error),
		cmocka_unit_test(config__example_hall_loads),
		cmocka_unit_test(config__small_test_hall__demo_passwords_verify),
		cmocka_unit_test(config__pad_kiosk__kind_and_window_checked),
		cmocka_unit_test(config__holidays__real_dates_once_each),
		cmocka_unit_test(region__valid__sites_and_scopes_read),
		cmocka_unit_test(region__mistakes__refused_with_their_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
