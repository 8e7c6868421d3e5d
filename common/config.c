/* The hall config: reading, checking and looking up the site, services, windows, users and
 * kiosks of one JSON file (format in docs/config.md). */
#include "config.h"
#include "utf8.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A field_int default that means "the field must be given". */
#define REQUIRED INT_MIN

#define DEFAULT_SLA 900
#define DEFAULT_RETENTION_DAYS 90
#define DEFAULT_SERVICE_TIME 300
#define DAY_SECONDS 86400
#define WINDOW_ID_MAX 9999
#define RETENTION_DAYS_MAX 3650
#define TZ_NAME_MAX 128
#define HASH_MAX 512

/* Where an error goes: the file name for the message and the caller's buffer. */
struct parser {
	const char *file;
	char *err;
	size_t errlen;
};

/* A JSON value with its place in the document ("services[3].prefix") for messages. */
struct node {
	const cJSON *json; /* NULL when the field is absent */
	char place[128];
};

/* Which characters an id may hold. */
enum id_kind {
	ID_SITE, /* [a-z0-9_-]: part of every Redis key, so one spelling only */
	ID_NAME, /* [A-Za-z0-9_-]: services, users, kiosks */
};

/* Writes "FILE: PLACE: message" into the caller's buffer (the place is left out when empty). */
__attribute__((format(printf, 3, 4))) static int parser_fail(struct parser *p, const char *place,
							      const char *fmt, ...)
{
	if (p->err == NULL || p->errlen == 0)
		return -1;
	int n;
	if (place != NULL && place[0] != '\0')
		n = snprintf(p->err, p->errlen, "%s: %s: ", p->file, place);
	else
		n = snprintf(p->err, p->errlen, "%s: ", p->file);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Reports an error at a node; always returns -1 so callers can `return node_fail(...)`. */
#define node_fail(p, n, ...) parser_fail((p), (n)->place, __VA_ARGS__)

/* Sets a node's place; places are short by construction, and a cut one is still readable. */
__attribute__((format(printf, 2, 3))) static void node_place(struct node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n->place, sizeof n->place, fmt, ap);
	va_end(ap);
}

/* Returns the field key of an object node, with its place ("site" + "tz" = "site.tz"). */
static struct node node_field(const struct node *parent, const char *key)
{
	struct node n;
	n.json = cJSON_IsObject(parent->json) ? cJSON_GetObjectItemCaseSensitive(parent->json, key)
					      : NULL;
	if (parent->place[0] == '\0')
		node_place(&n, "%s", key);
	else
		node_place(&n, "%s.%s", parent->place, key);
	return n;
}

/* Returns item index of an array node, with its place ("services" + 3 = "services[3]"). */
static struct node node_item(const struct node *parent, size_t index)
{
	struct node n;
	n.json = cJSON_GetArrayItem(parent->json, (int)index);
	node_place(&n, "%s[%zu]", parent->place, index);
	return n;
}

/* True when an optional field was left out; null counts as left out. */
static int node_absent(const struct node *n)
{
	return n->json == NULL || cJSON_IsNull(n->json);
}

/* Names the JSON type of a value, for "must be a string (found a number)". */
static const char *json_kind(const cJSON *j)
{
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsBool(j))
		return "true/false";
	if (cJSON_IsNull(j))
		return "null";
	if (cJSON_IsArray(j))
		return "an array";
	return "an object";
}

/* Copies a user's string into out for a message: at most 40 bytes, cut on a character
 * boundary, control characters shown as '?', so a bad value cannot garble the terminal. */
static const char *quote(const char *s, char out[48])
{
	size_t n = 0;
	for (; s[n] != '\0' && n < 40; n++)
		out[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
	while (n > 0 && s[n] != '\0' && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--; /* do not end inside a UTF-8 sequence */
	if (s[n] != '\0') {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

/* Checks that a node is an object whose keys are each given once, since which of two
 * duplicates cJSON would use is an accident of the parser, not something to rely on. */
static int read_object(struct parser *p, const struct node *n)
{
	if (n->json == NULL)
		return node_fail(p, n, "missing; it must be an object");
	if (!cJSON_IsObject(n->json))
		return node_fail(p, n, "must be an object (found %s)", json_kind(n->json));
	for (const cJSON *a = n->json->child; a != NULL; a = a->next)
		for (const cJSON *b = a->next; b != NULL; b = b->next)
			if (strcmp(a->string, b->string) == 0) {
				char q[48];
				return node_fail(p, n, "field \"%s\" is given twice",
						 quote(a->string, q));
			}
	return 0;
}

/* Checks that a node is an array of at most max items and returns its length. */
static int read_array(struct parser *p, const struct node *n, size_t max, size_t *count)
{
	if (n->json == NULL)
		return node_fail(p, n, "missing; it must be an array");
	if (!cJSON_IsArray(n->json))
		return node_fail(p, n, "must be an array (found %s)", json_kind(n->json));
	size_t len = (size_t)cJSON_GetArraySize(n->json);
	if (len > max)
		return node_fail(p, n, "has %zu entries; at most %zu are allowed", len, max);
	*count = len;
	return 0;
}

/* Reads an integer within [min, max]; 1.5 or "900" are refused rather than rounded. */
static int read_int(struct parser *p, const struct node *n, int min, int max, int *out)
{
	if (n->json == NULL)
		return node_fail(p, n, "missing; it must be an integer from %d to %d", min, max);
	if (!cJSON_IsNumber(n->json))
		return node_fail(p, n, "must be an integer (found %s)", json_kind(n->json));
	double d = n->json->valuedouble;
	if (d < min || d > max)
		return node_fail(p, n, "must be from %d to %d (found %.15g)", min, max, d);
	if (d != (double)(int)d)
		return node_fail(p, n, "must be a whole number (found %.15g)", d);
	*out = (int)d;
	return 0;
}

/* Reads a string node, refusing other types; the result points into the JSON tree. */
static int read_string(struct parser *p, const struct node *n, const char **out)
{
	if (n->json == NULL)
		return node_fail(p, n, "missing; it must be a string");
	if (!cJSON_IsString(n->json) || n->json->valuestring == NULL)
		return node_fail(p, n, "must be a string (found %s)", json_kind(n->json));
	*out = n->json->valuestring;
	return 0;
}

/* Reads a name shown to people: non-empty UTF-8 without control characters, copied. */
static int read_text(struct parser *p, const struct node *n, char **out)
{
	const char *s;
	if (read_string(p, n, &s) < 0)
		return -1;
	if (s[0] == '\0')
		return node_fail(p, n, "must not be empty");
	if (!utf8_valid(s, strlen(s)))
		return node_fail(p, n, "is not valid UTF-8");
	size_t len = strlen(s);
	if (len >= CONFIG_NAME_MAX)
		return node_fail(p, n, "is %zu bytes long; at most %d are allowed", len,
				 CONFIG_NAME_MAX - 1);
	for (const char *c = s; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) /* a newline would break screens and tickets */
			return node_fail(p, n, "must not contain control characters such as newlines");
	if ((*out = strdup(s)) == NULL)
		return node_fail(p, n, "out of memory");
	return 0;
}

/* Reads an identifier of 1 to CONFIG_ID_MAX - 1 characters of the kind's alphabet. */
static int read_id(struct parser *p, const struct node *n, enum id_kind kind, char out[CONFIG_ID_MAX])
{
	const char *s;
	if (read_string(p, n, &s) < 0)
		return -1;
	size_t len = strlen(s);
	int ok = len >= 1 && len < CONFIG_ID_MAX;
	for (size_t i = 0; ok && i < len; i++) {
		char c = s[i];
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		     (kind == ID_NAME && c >= 'A' && c <= 'Z');
	}
	if (!ok) {
		char q[48];
		return node_fail(p, n, "must be 1 to %d characters of %s (found \"%s\")",
				 CONFIG_ID_MAX - 1, kind == ID_SITE ? "a-z 0-9 _ -" : "A-Z a-z 0-9 _ -",
				 quote(s, q));
	}
	memcpy(out, s, len + 1);
	return 0;
}

/* Reads a crypt(3) hash such as "$y$j9T$...": it must start with '$' and be printable ASCII. */
static int read_hash(struct parser *p, const struct node *n, char **out)
{
	const char *s;
	if (read_string(p, n, &s) < 0)
		return -1;
	size_t len = strlen(s);
	int ok = s[0] == '$' && len >= 4 && len < HASH_MAX;
	for (size_t i = 0; ok && i < len; i++)
		ok = s[i] > 0x20 && s[i] < 0x7f;
	if (!ok)
		return node_fail(p, n, "must be a crypt(3) hash such as \"$y$...\" "
				       "(make one with qserver --hash-password)");
	if ((*out = strdup(s)) == NULL)
		return node_fail(p, n, "out of memory");
	return 0;
}

/* Reads the optional or required integer field key (dflt REQUIRED: it must be given). */
static int field_int(struct parser *p, const struct node *obj, const char *key, int min, int max,
		     int dflt, int *out)
{
	struct node n = node_field(obj, key);
	if (dflt != REQUIRED && node_absent(&n)) {
		*out = dflt;
		return 0;
	}
	return read_int(p, &n, min, max, out);
}

/* Reads the name field key; when absent it takes dflt, or is an error if dflt is NULL. */
static int field_text(struct parser *p, const struct node *obj, const char *key, const char *dflt,
		      char **out)
{
	struct node n = node_field(obj, key);
	if (dflt != NULL && node_absent(&n)) {
		if ((*out = strdup(dflt)) == NULL)
			return node_fail(p, &n, "out of memory");
		return 0;
	}
	return read_text(p, &n, out);
}

/* Reads the required id field key. */
static int field_id(struct parser *p, const struct node *obj, const char *key, enum id_kind kind,
		    char out[CONFIG_ID_MAX])
{
	struct node n = node_field(obj, key);
	return read_id(p, &n, kind, out);
}

/* Reads the required crypt(3) hash field key. */
static int field_hash(struct parser *p, const struct node *obj, const char *key, char **out)
{
	struct node n = node_field(obj, key);
	return read_hash(p, &n, out);
}

/* Parses "HH:MM" into minutes after midnight; "24:00" only when it may be a closing time. */
static int parse_clock(const char *s, int may_be_midnight)
{
	for (int i = 0; i < 5; i++)
		if (i == 2 ? s[i] != ':' : (s[i] < '0' || s[i] > '9'))
			return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0');
	int m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m != 0 || !may_be_midnight)))
		return -1;
	return h * 60 + m;
}

/* Reads one day's hours: "HH:MM-HH:MM" with open before close, or "closed" / null. */
static int read_day(struct parser *p, const struct node *n, struct config_hours *out)
{
	if (n->json == NULL)
		return node_fail(p, n, "missing; give \"HH:MM-HH:MM\", \"closed\" or null");
	if (cJSON_IsNull(n->json)) {
		out->open = out->close = -1;
		return 0;
	}
	const char *s;
	if (read_string(p, n, &s) < 0)
		return -1;
	if (strcmp(s, "closed") == 0) {
		out->open = out->close = -1;
		return 0;
	}
	int open = -1, close = -1;
	if (strlen(s) == 11 && s[5] == '-') {
		open = parse_clock(s, 0);
		close = parse_clock(s + 6, 1);
	}
	char q[48];
	if (open < 0 || close < 0)
		return node_fail(p, n, "must be \"HH:MM-HH:MM\" (such as \"09:00-20:00\"), "
				       "\"closed\" or null (found \"%s\")", quote(s, q));
	if (open >= close)
		return node_fail(p, n, "must open before it closes (found \"%s\")", quote(s, q));
	out->open = open;
	out->close = close;
	return 0;
}

/* Reads site.hours; absent, it is the Bao'an default (Mon-Fri 09:00-20:00, Sat 09:00-16:00,
 * Sun 09:00-12:00). Given, every day must be named, so a misspelt key cannot close a day. */
static int read_hours(struct parser *p, const struct node *site, struct config_hours hours[7])
{
	static const char *days[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
	struct node n = node_field(site, "hours");
	if (node_absent(&n)) {
		for (int d = 0; d < 7; d++)
			hours[d] = (struct config_hours){9 * 60, 20 * 60};
		hours[6] = (struct config_hours){9 * 60, 16 * 60};
		hours[0] = (struct config_hours){9 * 60, 12 * 60};
		return 0;
	}
	if (read_object(p, &n) < 0)
		return -1;
	for (int i = 1; i <= 7; i++) { /* Monday first, as people read a week */
		int d = i % 7;
		struct node day = node_field(&n, days[d]);
		if (read_day(p, &day, &hours[d]) < 0)
			return -1;
	}
	return 0;
}

/* Reads site.tz: an IANA zone name that exists as a TZif file under the zoneinfo folder
 * ($TZDIR, as glibc reads it, else /usr/share/zoneinfo). */
static int read_tz(struct parser *p, const struct node *n, char **out)
{
	const char *tz;
	if (read_string(p, n, &tz) < 0)
		return -1;
	char q[48];
	size_t len = strlen(tz);
	int ok = len > 0 && len < TZ_NAME_MAX && tz[0] != '/' && strstr(tz, "..") == NULL;
	for (size_t i = 0; ok && i < len; i++) {
		char c = tz[i];
		ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		     c == '/' || c == '_' || c == '-' || c == '+';
	}
	if (!ok)
		return node_fail(p, n, "\"%s\" is not a time zone name such as \"Asia/Shanghai\"",
				 quote(tz, q));
	const char *dir = getenv("TZDIR");
	if (dir == NULL || dir[0] == '\0')
		dir = "/usr/share/zoneinfo";
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, tz);
	/* The TZif magic tells a zone from the other files there (zone.tab, tzdata.zi). */
	char magic[4] = {0};
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int is_zone = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		      read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
		      memcmp(magic, "TZif", 4) == 0;
	if (fd >= 0)
		close(fd);
	if (!is_zone)
		return node_fail(p, n, "unknown time zone \"%s\" (no zone file %s; is tzdata installed?)",
				 quote(tz, q), path);
	if ((*out = strdup(tz)) == NULL)
		return node_fail(p, n, "out of memory");
	return 0;
}

/* Reads the site's optional public_url (an http or https address, kept without a trailing
 * slash) and remote_take (true or false). */
static int read_public_url(struct parser *p, const struct node *site_node, struct config_site *site)
{
	struct node take = node_field(site_node, "remote_take");
	if (!node_absent(&take) && !cJSON_IsBool(take.json))
		return node_fail(p, &take, "must be true or false");
	site->remote_take = cJSON_IsTrue(take.json);
	struct node n = node_field(site_node, "public_url");
	if (node_absent(&n))
		return 0;
	if (read_text(p, &n, &site->public_url) < 0)
		return -1;
	char *u = site->public_url;
	if ((strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) || strpbrk(u, " \"<>?#"))
		return node_fail(p, &n, "must be an http:// or https:// address without spaces, query or fragment");
	size_t len = strlen(u);
	while (len > 8 && u[len - 1] == '/')
		u[--len] = '\0';
	return 0;
}

/* Reads the site's optional notify_url (an http:// address: a TLS receiver sits behind a local
 * relay, docs/notifications.md) and the notify_secret that signs each notification. */
static int read_notify(struct parser *p, const struct node *site_node, struct config_site *site)
{
	struct node url = node_field(site_node, "notify_url"), secret = node_field(site_node, "notify_secret");
	if (node_absent(&url)) {
		if (!node_absent(&secret))
			return node_fail(p, &secret, "is used only with notify_url");
		return 0;
	}
	if (read_text(p, &url, &site->notify_url) < 0)
		return -1;
	const char *u = site->notify_url;
	if (strncmp(u, "https://", 8) == 0)
		return node_fail(p, &url, "must be an http:// address; reach an https receiver through a local relay (docs/notifications.md)");
	if (strncmp(u, "http://", 7) != 0 || strlen(u) < 8 || strpbrk(u, " \"<>#\\") ||
	    u[7] == '/' || u[7] == ':')
		return node_fail(p, &url, "must be an http:// address such as http://127.0.0.1:8088/qhall");
	if (node_absent(&secret))
		return node_fail(p, site_node, "has notify_url but no notify_secret (16 characters or more) to sign with");
	if (read_text(p, &secret, &site->notify_secret) < 0)
		return -1;
	if (strlen(site->notify_secret) < 16)
		return node_fail(p, &secret, "must be at least 16 characters long");
	return 0;
}

/* Orders two holiday dates (YYYY-MM-DD sorts as text). */
static int holiday_compare(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Reads the site's optional holidays: real dates YYYY-MM-DD, each once, kept sorted so a
 * due date's count of working days looks each day up by binary search. */
static int read_holidays(struct parser *p, const struct node *site_node, struct config_site *site)
{
	struct node list = node_field(site_node, "holidays");
	size_t count;
	if (node_absent(&list))
		return 0;
	if (read_array(p, &list, CONFIG_MAX_HOLIDAYS, &count) < 0)
		return -1;
	if (count > 0 && (site->holidays = calloc(count, sizeof *site->holidays)) == NULL)
		return node_fail(p, &list, "out of memory");
	for (size_t i = 0; i < count; i++) {
		struct node item = node_item(&list, i);
		const char *s;
		int y, m, d, end = 0;
		if (read_string(p, &item, &s) < 0)
			return -1;
		int ok = strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &end) == 3 && end == 10 &&
			 s[4] == '-' && s[7] == '-' && m >= 1 && m <= 12 && d >= 1;
		if (ok) { /* the calendar must keep the day as it is (no 2026-02-30) */
			struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12}, back;
			time_t t = timegm(&tm);
			ok = t != (time_t)-1 && gmtime_r(&t, &back) && back.tm_mday == d && back.tm_mon == m - 1;
		}
		if (!ok) {
			char q[48];
			return node_fail(p, &item, "must be a date YYYY-MM-DD (found \"%s\")", quote(s, q));
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(site->holidays[j], s) == 0)
				return node_fail(p, &item, "%s is listed twice", s);
		memcpy(site->holidays[i], s, 11);
		site->nholidays = i + 1;
	}
	qsort(site->holidays, site->nholidays, sizeof *site->holidays, holiday_compare);
	return 0;
}

/* Reads the site object. */
static int parse_site(struct parser *p, const struct node *root, struct config_site *site)
{
	struct node n = node_field(root, "site");
	if (read_object(p, &n) < 0 || field_id(p, &n, "id", ID_SITE, site->id) < 0 ||
	    field_text(p, &n, "name", NULL, &site->name) < 0 ||
	    field_text(p, &n, "name_en", site->name, &site->name_en) < 0)
		return -1;
	struct node tz = node_field(&n, "tz");
	if (read_tz(p, &tz, &site->tz) < 0 ||
	    field_int(p, &n, "sla", 1, DAY_SECONDS, DEFAULT_SLA, &site->sla) < 0 ||
	    field_int(p, &n, "retention_days", 1, RETENTION_DAYS_MAX, DEFAULT_RETENTION_DAYS,
		      &site->retention_days) < 0)
		return -1;
	if (read_public_url(p, &n, site) < 0 || read_holidays(p, &n, site) < 0)
		return -1;
	if (read_notify(p, &n, site) < 0)
		return -1;
	return read_hours(p, &n, site->hours);
}

/* Reads a ticket prefix: 1 to 3 ASCII capital letters. */
static int read_prefix(struct parser *p, const struct node *n, char out[CONFIG_PREFIX_MAX])
{
	const char *s;
	if (read_string(p, n, &s) < 0)
		return -1;
	size_t len = strlen(s);
	int ok = len >= 1 && len < CONFIG_PREFIX_MAX;
	for (size_t i = 0; ok && i < len; i++)
		ok = s[i] >= 'A' && s[i] <= 'Z';
	if (!ok) {
		char q[48];
		return node_fail(p, n, "must be 1 to %d capital letters A-Z (found \"%s\")",
				 CONFIG_PREFIX_MAX - 1, quote(s, q));
	}
	memcpy(out, s, len + 1);
	return 0;
}

/* Reads a service's optional appointments object (docs/config.md): slot_minutes and per_slot
 * are required, the rest have defaults. */
static int read_appointments(struct parser *p, const struct node *service, struct config_appointments *a)
{
	struct node n = node_field(service, "appointments");
	if (node_absent(&n))
		return 0;
	if (read_object(p, &n) < 0 || field_int(p, &n, "slot_minutes", 5, 720, REQUIRED, &a->slot_minutes) < 0 ||
	    field_int(p, &n, "per_slot", 1, 1000, REQUIRED, &a->per_slot) < 0 ||
	    field_int(p, &n, "days_ahead", 0, 366, 14, &a->days_ahead) < 0 ||
	    field_int(p, &n, "checkin_before", 0, DAY_SECONDS, 900, &a->checkin_before) < 0 ||
	    field_int(p, &n, "checkin_after", 0, DAY_SECONDS, 600, &a->checkin_after) < 0)
		return -1;
	return 0;
}

/* Reads the services array: unique ids and unique prefixes, at least one service. */
static int parse_services(struct parser *p, const struct node *root, struct config *cfg)
{
	struct node list = node_field(root, "services");
	size_t count;
	if (read_array(p, &list, CONFIG_MAX_SERVICES, &count) < 0)
		return -1;
	if (count == 0)
		return node_fail(p, &list, "must list at least one service");
	if ((cfg->services = calloc(count, sizeof *cfg->services)) == NULL)
		return node_fail(p, &list, "out of memory");
	cfg->nservices = count;
	for (size_t i = 0; i < count; i++) {
		struct config_service *s = &cfg->services[i];
		struct node item = node_item(&list, i);
		struct node id = node_field(&item, "id"), prefix = node_field(&item, "prefix");
		if (read_object(p, &item) < 0 || read_id(p, &id, ID_NAME, s->id) < 0 ||
		    read_prefix(p, &prefix, s->prefix) < 0 ||
		    field_text(p, &item, "name", NULL, &s->name) < 0 ||
		    field_text(p, &item, "name_en", s->name, &s->name_en) < 0 ||
		    field_int(p, &item, "service_time", 1, DAY_SECONDS, DEFAULT_SERVICE_TIME,
			      &s->service_time) < 0 ||
		    read_appointments(p, &item, &s->appointments) < 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(cfg->services[j].id, s->id) == 0)
				return node_fail(p, &id, "service id \"%s\" is already used by services[%zu]",
						 s->id, j);
			if (strcmp(cfg->services[j].prefix, s->prefix) == 0)
				return node_fail(p, &prefix, "prefix \"%s\" is already used by services[%zu] (\"%s\")",
						 s->prefix, j, cfg->services[j].id);
		}
	}
	return 0;
}

/* True when a list node is exactly ["*"], which means "all of them". */
static int is_star_list(const cJSON *list)
{
	return cJSON_GetArraySize(list) == 1 && cJSON_IsString(list->child) &&
	       strcmp(list->child->valuestring, "*") == 0;
}

/* Reads a window's services: ["*"] for a comprehensive window, else existing service ids. */
static int parse_window_services(struct parser *p, const struct node *window, const struct config *cfg,
				 struct config_window *w)
{
	struct node list = node_field(window, "services");
	size_t count;
	if (read_array(p, &list, CONFIG_MAX_SERVICES, &count) < 0)
		return -1;
	if (count == 0)
		return node_fail(p, &list, "must name at least one service, or be [\"*\"] for a "
					   "comprehensive window");
	if (is_star_list(list.json)) {
		w->all_services = 1;
		return 0;
	}
	if ((w->services = calloc(count, sizeof *w->services)) == NULL)
		return node_fail(p, &list, "out of memory");
	for (size_t i = 0; i < count; i++) {
		struct node item = node_item(&list, i);
		const char *id;
		char q[48];
		if (read_string(p, &item, &id) < 0)
			return -1;
		if (strcmp(id, "*") == 0)
			return node_fail(p, &item, "\"*\" (every service) must be the only entry");
		if (config_service(cfg, id) == NULL)
			return node_fail(p, &item, "no service \"%s\" in services", quote(id, q));
		for (size_t j = 0; j < i; j++)
			if (strcmp(w->services[j], id) == 0)
				return node_fail(p, &item, "service \"%s\" is listed twice", id);
		if ((w->services[i] = strdup(id)) == NULL)
			return node_fail(p, &item, "out of memory");
		w->nservices = i + 1;
	}
	return 0;
}

/* Reads the windows array: unique ids 1..9999, names defaulting to "N号窗口" / "Window N". */
static int parse_windows(struct parser *p, const struct node *root, struct config *cfg)
{
	struct node list = node_field(root, "windows");
	size_t count;
	if (read_array(p, &list, CONFIG_MAX_WINDOWS, &count) < 0)
		return -1;
	if (count == 0)
		return node_fail(p, &list, "must list at least one window");
	if ((cfg->windows = calloc(count, sizeof *cfg->windows)) == NULL)
		return node_fail(p, &list, "out of memory");
	cfg->nwindows = count;
	for (size_t i = 0; i < count; i++) {
		struct config_window *w = &cfg->windows[i];
		struct node item = node_item(&list, i);
		struct node id = node_field(&item, "id");
		if (read_object(p, &item) < 0 || read_int(p, &id, 1, WINDOW_ID_MAX, &w->id) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (cfg->windows[j].id == w->id)
				return node_fail(p, &id, "window %d is already defined by windows[%zu]", w->id, j);
		char name[32], name_en[32];
		snprintf(name, sizeof name, "%d号窗口", w->id);
		snprintf(name_en, sizeof name_en, "Window %d", w->id);
		if (field_text(p, &item, "name", name, &w->name) < 0 ||
		    field_text(p, &item, "name_en", name_en, &w->name_en) < 0 ||
		    parse_window_services(p, &item, cfg, w) < 0)
			return -1;
	}
	return 0;
}

/* Reads a user's windows: absent or ["*"] for every window, else existing window ids. */
static int parse_user_windows(struct parser *p, const struct node *user, const struct config *cfg,
			      struct config_user *u)
{
	struct node list = node_field(user, "windows");
	size_t count;
	if (node_absent(&list)) {
		u->all_windows = 1;
		return 0;
	}
	if (read_array(p, &list, CONFIG_MAX_WINDOWS, &count) < 0)
		return -1;
	if (is_star_list(list.json)) {
		u->all_windows = 1;
		return 0;
	}
	/* An empty list is allowed: it keeps an account while it may work at no window. */
	if (count > 0 && (u->windows = calloc(count, sizeof *u->windows)) == NULL)
		return node_fail(p, &list, "out of memory");
	for (size_t i = 0; i < count; i++) {
		struct node item = node_item(&list, i);
		if (cJSON_IsString(item.json) && strcmp(item.json->valuestring, "*") == 0)
			return node_fail(p, &item, "\"*\" (every window) must be the only entry");
		int id;
		if (read_int(p, &item, 1, WINDOW_ID_MAX, &id) < 0)
			return -1;
		if (config_window(cfg, id) == NULL)
			return node_fail(p, &item, "no window %d in windows", id);
		for (size_t j = 0; j < i; j++)
			if (u->windows[j] == id)
				return node_fail(p, &item, "window %d is listed twice", id);
		u->windows[i] = id;
		u->nwindows = i + 1;
	}
	return 0;
}

/* Reads the array field key (absent: no entries, unless required) and allocates its count of
 * zeroed entries of `size` bytes into *out; -1 after a message. */
static int read_list(struct parser *p, const struct node *obj, const char *key, size_t max, size_t size,
		     int required, struct node *list, void **out, size_t *count)
{
	*list = node_field(obj, key);
	*count = 0;
	if (!required && node_absent(list))
		return 0;
	if (read_array(p, list, max, count) < 0)
		return -1;
	if (*count > 0 && (*out = calloc(*count, size)) == NULL)
		return node_fail(p, list, "out of memory");
	return 0;
}

/* Reads the optional users array: clerks and managers with unique ids and crypt(3) hashes. */
static int parse_users(struct parser *p, const struct node *root, struct config *cfg)
{
	struct node list;
	size_t count;
	if (read_list(p, root, "users", CONFIG_MAX_USERS, sizeof *cfg->users, 0, &list, (void **)&cfg->users, &count) < 0)
		return -1;
	cfg->nusers = count;
	for (size_t i = 0; i < count; i++) {
		struct config_user *u = &cfg->users[i];
		struct node item = node_item(&list, i);
		struct node id = node_field(&item, "id"), role = node_field(&item, "role");
		const char *role_name;
		if (read_object(p, &item) < 0 || read_id(p, &id, ID_NAME, u->id) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->users[j].id, u->id) == 0)
				return node_fail(p, &id, "user id \"%s\" is already used by users[%zu]", u->id, j);
		if (field_text(p, &item, "name", u->id, &u->name) < 0 ||
		    read_string(p, &role, &role_name) < 0)
			return -1;
		/* Only people log in with a password; kiosks have tokens and the public nothing. */
		if (strcmp(role_name, "clerk") == 0) {
			u->role = ROLE_CLERK;
		} else if (strcmp(role_name, "manager") == 0) {
			u->role = ROLE_MANAGER;
		} else {
			char q[48];
			return node_fail(p, &role, "unknown role \"%s\"; it must be \"clerk\" or \"manager\"",
					 quote(role_name, q));
		}
		if (field_hash(p, &item, "password_hash", &u->password_hash) < 0 ||
		    parse_user_windows(p, &item, cfg, u) < 0)
			return -1;
	}
	return 0;
}

/* Reads a kiosk's optional kind: "printer" (the default, a ticket kiosk) or "pad", a rating
 * pad, which must name the existing window it stands at. */
static int parse_kiosk_kind(struct parser *p, const struct node *item, const struct config *cfg, struct config_kiosk *k)
{
	struct node kind = node_field(item, "kind"), window = node_field(item, "window");
	const char *name = "printer";
	if (!node_absent(&kind) && read_string(p, &kind, &name) < 0)
		return -1;
	if (strcmp(name, "pad") == 0) {
		if (read_int(p, &window, 1, WINDOW_ID_MAX, &k->pad_window) < 0)
			return -1;
		if (!config_window(cfg, k->pad_window))
			return node_fail(p, &window, "no window %d in windows", k->pad_window);
		return 0;
	}
	if (strcmp(name, "printer") != 0) {
		char q[48];
		return node_fail(p, &kind, "unknown kind \"%s\"; it must be \"printer\" or \"pad\"", quote(name, q));
	}
	if (!node_absent(&window))
		return node_fail(p, &window, "only a kiosk of kind \"pad\" stands at a window");
	return 0;
}

/* Reads the optional kiosks array: unique ids, each with the crypt(3) hash of its token. */
static int parse_kiosks(struct parser *p, const struct node *root, struct config *cfg)
{
	struct node list;
	size_t count;
	if (read_list(p, root, "kiosks", CONFIG_MAX_KIOSKS, sizeof *cfg->kiosks, 0, &list, (void **)&cfg->kiosks, &count) < 0)
		return -1;
	cfg->nkiosks = count;
	for (size_t i = 0; i < count; i++) {
		struct config_kiosk *k = &cfg->kiosks[i];
		struct node item = node_item(&list, i);
		struct node id = node_field(&item, "id");
		if (read_object(p, &item) < 0 || read_id(p, &id, ID_NAME, k->id) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->kiosks[j].id, k->id) == 0)
				return node_fail(p, &id, "kiosk id \"%s\" is already used by kiosks[%zu]", k->id, j);
		if (field_hash(p, &item, "token_hash", &k->token_hash) < 0 || parse_kiosk_kind(p, &item, cfg, k) < 0)
			return -1;
	}
	return 0;
}

/* Reports a JSON syntax error with its line, column (in characters) and byte offset. */
static void report_syntax_error(struct parser *p, const char *json, size_t offset, size_t skipped)
{
	size_t line = 1, column = 1;
	for (size_t i = 0; i < offset && json[i] != '\0'; i++) {
		if (json[i] == '\n')
			line++, column = 1;
		else if (((unsigned char)json[i] & 0xc0) != 0x80)
			column++;
	}
	char near[48];
	size_t n = 0;
	const char *at = json + offset;
	while (n < 24 && at[n] != '\0' && at[n] != '\n')
		n++;
	char piece[32];
	memcpy(piece, at, n);
	piece[n] = '\0';
	quote(piece, near);
	char place[80];
	snprintf(place, sizeof place, "line %zu, column %zu (byte %zu)", line, column, offset + skipped);
	if (near[0] == '\0')
		parser_fail(p, place, "JSON syntax error at the end of the text (unclosed { [ or \"?)");
	else
		parser_fail(p, place, "JSON syntax error near '%s'", near);
}

/* Parses and checks a hall config from JSON text; name stands for the file in messages. */
struct config *config_parse(const char *json, const char *name, char *err, size_t errlen)
{
	struct parser p = {name != NULL ? name : "config", err, errlen};
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (json == NULL) {
		parser_fail(&p, NULL, "no config text");
		return NULL;
	}
	/* Editors on Windows often save UTF-8 with a byte order mark, which JSON does not allow. */
	size_t skipped = strncmp(json, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
	const char *text = json + skipped;
	const char *end = NULL;
	cJSON *doc = cJSON_ParseWithOpts(text, &end, 1);
	if (doc == NULL) {
		size_t offset = end != NULL && end >= text ? (size_t)(end - text) : 0;
		report_syntax_error(&p, text, offset, skipped);
		return NULL;
	}
	struct config *cfg = calloc(1, sizeof *cfg);
	struct node root = {.json = doc, .place = ""};
	int rc = -1;
	if (cfg == NULL || (cfg->path = strdup(p.file)) == NULL) {
		parser_fail(&p, NULL, "out of memory");
	} else if (!cJSON_IsObject(doc)) {
		parser_fail(&p, "top level", "must be a JSON object {\"site\":..., \"services\":..., ...} (found %s)",
			    json_kind(doc));
	} else {
		/* Services come before windows and windows before users: each refers to the one before. */
		if (read_object(&p, &root) == 0 && parse_site(&p, &root, &cfg->site) == 0 &&
		    parse_services(&p, &root, cfg) == 0 && parse_windows(&p, &root, cfg) == 0 &&
		    parse_users(&p, &root, cfg) == 0 && parse_kiosks(&p, &root, cfg) == 0)
			rc = 0;
	}
	cJSON_Delete(doc);
	if (rc < 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* Reads a whole file of at most CONFIG_FILE_MAX bytes into a NUL-ended buffer. */
static char *read_file(struct parser *p, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		parser_fail(p, NULL, "cannot open: %s", strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		parser_fail(p, NULL, "is a folder, not a config file");
		return NULL;
	}
	/* Read in a loop up to one byte past the limit rather than trusting st_size: pipes and
	 * /dev/stdin have none, and a file may grow while it is read. */
	size_t cap = 64 * 1024, len = 0;
	char *buf = malloc(cap + 1);
	while (buf != NULL && len <= CONFIG_FILE_MAX) {
		if (len == cap) {
			cap = cap * 2 > (size_t)CONFIG_FILE_MAX + 1 ? (size_t)CONFIG_FILE_MAX + 1 : cap * 2;
			char *bigger = realloc(buf, cap + 1);
			if (bigger == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			parser_fail(p, NULL, "cannot read: %s", strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL) {
		parser_fail(p, NULL, "out of memory");
		return NULL;
	}
	if (len > CONFIG_FILE_MAX) {
		free(buf);
		parser_fail(p, NULL, "is larger than %d MiB, the most a config may be",
			    CONFIG_FILE_MAX >> 20);
		return NULL;
	}
	buf[len] = '\0';
	/* A NUL inside would silently cut the text short for the parser. */
	const char *nul = memchr(buf, '\0', len);
	if (nul != NULL) {
		char place[48];
		snprintf(place, sizeof place, "byte %zu", (size_t)(nul - buf));
		parser_fail(p, place, "contains a NUL byte; a config must be UTF-8 text");
		free(buf);
		return NULL;
	}
	return buf;
}

/* Reads a site's level: "district", "street" or "community". */
static int read_level(struct parser *p, const struct node *n, enum config_level *out)
{
	const char *s;
	if (read_string(p, n, &s) < 0)
		return -1;
	for (int l = LEVEL_DISTRICT; l <= LEVEL_COMMUNITY; l++)
		if (strcmp(s, config_level_name((enum config_level)l)) == 0) {
			*out = (enum config_level)l;
			return 0;
		}
	char q[48];
	return node_fail(p, n, "unknown level \"%s\"; it must be \"district\", \"street\" or \"community\"", quote(s, q));
}

/* Returns the index of the region's site with that id, or -1. */
static int region_site_index(const struct config_region *region, size_t count, const char *id)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(region->sites[i].id, id) == 0)
			return (int)i;
	return -1;
}

/* Reads the required sites array: unique ids, a level each, and a parent among them. */
static int parse_region_sites(struct parser *p, const struct node *root, struct config_region *region)
{
	struct node list;
	size_t count;
	if (read_list(p, root, "sites", CONFIG_MAX_SITES, sizeof *region->sites, 1, &list, (void **)&region->sites, &count) < 0)
		return -1;
	if (count == 0)
		return node_fail(p, &list, "must list at least one site");
	region->nsites = count;
	for (size_t i = 0; i < count; i++) {
		struct config_region_site *s = &region->sites[i];
		struct node item = node_item(&list, i);
		struct node id = node_field(&item, "id"), level = node_field(&item, "level");
		if (read_object(p, &item) < 0 || read_id(p, &id, ID_SITE, s->id) < 0)
			return -1;
		if (region_site_index(region, i, s->id) >= 0)
			return node_fail(p, &id, "site \"%s\" is listed twice", s->id);
		char dflt[CONFIG_ID_MAX + 8];
		snprintf(dflt, sizeof dflt, "%s.json", s->id);
		if (read_level(p, &level, &s->level) < 0 || field_text(p, &item, "file", dflt, &s->file) < 0)
			return -1;
		if (s->file[0] == '/' || strstr(s->file, "..") != NULL) {
			struct node file = node_field(&item, "file");
			return node_fail(p, &file, "must name a file inside the config folder");
		}
	}
	/* Parents are checked once every id is known: a parent may be listed after its child. */
	for (size_t i = 0; i < count; i++) {
		struct node item = node_item(&list, i), parent = node_field(&item, "parent");
		if (node_absent(&parent))
			continue;
		if (read_id(p, &parent, ID_SITE, region->sites[i].parent) < 0)
			return -1;
		if (region_site_index(region, count, region->sites[i].parent) < 0 ||
		    strcmp(region->sites[i].parent, region->sites[i].id) == 0)
			return node_fail(p, &parent, "\"%s\" is not another site of sites", region->sites[i].parent);
	}
	return 0;
}

/* Reads a region user's sites: ["*"] for every site, or ids of the region's sites. */
static int parse_region_user_sites(struct parser *p, const struct node *user, const struct config_region *region,
				   struct config_region_user *u)
{
	struct node list = node_field(user, "sites");
	size_t count;
	if (read_array(p, &list, CONFIG_MAX_SITES, &count) < 0)
		return -1;
	if (is_star_list(list.json)) {
		u->all_sites = 1;
		return 0;
	}
	if (count == 0)
		return node_fail(p, &list, "must list the sites this user manages, or [\"*\"] for every site");
	if ((u->sites = calloc(count, sizeof *u->sites)) == NULL)
		return node_fail(p, &list, "out of memory");
	for (size_t i = 0; i < count; i++) {
		struct node item = node_item(&list, i);
		if (read_id(p, &item, ID_SITE, u->sites[i]) < 0)
			return -1;
		if (region_site_index(region, region->nsites, u->sites[i]) < 0)
			return node_fail(p, &item, "no site \"%s\" in sites", u->sites[i]);
		u->nsites = i + 1;
	}
	return 0;
}

/* Reads the optional users array: region managers with unique ids, hashes and a scope. */
static int parse_region_users(struct parser *p, const struct node *root, struct config_region *region)
{
	struct node list;
	size_t count;
	if (read_list(p, root, "users", CONFIG_MAX_USERS, sizeof *region->users, 0, &list, (void **)&region->users, &count) < 0)
		return -1;
	region->nusers = count;
	for (size_t i = 0; i < count; i++) {
		struct config_region_user *u = &region->users[i];
		struct node item = node_item(&list, i);
		struct node id = node_field(&item, "id"), role = node_field(&item, "role");
		if (read_object(p, &item) < 0 || read_id(p, &id, ID_NAME, u->id) < 0)
			return -1;
		if (config_region_user(region, u->id) != u)
			return node_fail(p, &id, "user id \"%s\" is used twice", u->id);
		const char *role_name;
		if (!node_absent(&role) && (read_string(p, &role, &role_name) < 0 || strcmp(role_name, "manager") != 0))
			return node_fail(p, &role, "region users are managers: give \"manager\" or leave it out");
		if (field_text(p, &item, "name", u->id, &u->name) < 0 ||
		    field_hash(p, &item, "password_hash", &u->password_hash) < 0 ||
		    parse_region_user_sites(p, &item, region, u) < 0)
			return -1;
	}
	return 0;
}

/* Parses region.json from a JSON text; `name` stands for the file in messages. */
struct config_region *config_region_parse(const char *json, const char *name, char *err, size_t errlen)
{
	struct parser p = {name != NULL ? name : "region.json", err, errlen};
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	const char *end = NULL;
	cJSON *doc = json ? cJSON_ParseWithOpts(json, &end, 1) : NULL;
	if (doc == NULL) {
		size_t offset = json && end != NULL && end >= json ? (size_t)(end - json) : 0;
		if (json)
			report_syntax_error(&p, json, offset, 0);
		else
			parser_fail(&p, NULL, "no region text");
		return NULL;
	}
	struct config_region *region = calloc(1, sizeof *region);
	struct node root = {.json = doc, .place = ""};
	struct node head = node_field(&root, "region");
	struct node id = node_field(&head, "id");
	int rc = -1;
	if (region == NULL || (region->path = strdup(p.file)) == NULL)
		parser_fail(&p, NULL, "out of memory");
	else if (read_object(&p, &root) == 0 && read_object(&p, &head) == 0 && read_id(&p, &id, ID_SITE, region->id) == 0 &&
		 field_text(&p, &head, "name", NULL, &region->name) == 0 &&
		 field_text(&p, &head, "name_en", region->name, &region->name_en) == 0 &&
		 parse_region_sites(&p, &root, region) == 0 && parse_region_users(&p, &root, region) == 0)
		rc = 0;
	cJSON_Delete(doc);
	if (rc < 0) {
		config_region_free(region);
		return NULL;
	}
	return region;
}

/* Reads and checks a region.json file. */
struct config_region *config_region_load(const char *path, char *err, size_t errlen)
{
	struct parser p = {path, err, errlen};
	char *text = read_file(&p, path);
	if (text == NULL)
		return NULL;
	struct config_region *region = config_region_parse(text, path, err, errlen);
	free(text);
	return region;
}

/* Frees a region and everything it holds; NULL is fine. */
void config_region_free(struct config_region *region)
{
	if (region == NULL)
		return;
	free(region->path);
	free(region->name);
	free(region->name_en);
	for (size_t i = 0; i < region->nsites; i++)
		free(region->sites[i].file);
	free(region->sites);
	for (size_t i = 0; i < region->nusers; i++) {
		free(region->users[i].name);
		free(region->users[i].password_hash);
		free(region->users[i].sites);
	}
	free(region->users);
	free(region);
}

/* Finds a region user by id; NULL when there is none. */
const struct config_region_user *config_region_user(const struct config_region *region, const char *id)
{
	for (size_t i = 0; region != NULL && id != NULL && i < region->nusers; i++)
		if (strcmp(region->users[i].id, id) == 0)
			return &region->users[i];
	return NULL;
}

/* True when the region user may act at the site. */
int config_region_user_may(const struct config_region_user *u, const char *site)
{
	if (u->all_sites)
		return 1;
	for (size_t i = 0; i < u->nsites; i++)
		if (strcmp(u->sites[i], site) == 0)
			return 1;
	return 0;
}

/* Returns a level's name as region.json and the protocol spell it. */
const char *config_level_name(enum config_level level)
{
	static const char *const names[] = {"district", "street", "community"};
	return (unsigned)level < 3 ? names[level] : "community";
}

/* Reads and checks a hall config file. */
struct config *config_load(const char *path, char *err, size_t errlen)
{
	struct parser p = {path != NULL ? path : "config", err, errlen};
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL) {
		parser_fail(&p, NULL, "no config file given");
		return NULL;
	}
	char *text = read_file(&p, path);
	if (text == NULL)
		return NULL;
	struct config *cfg = config_parse(text, path, err, errlen);
	free(text);
	return cfg;
}

/* Frees a config and everything it holds, including one left half-built by a failed parse. */
void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->site.name);
	free(cfg->site.name_en);
	free(cfg->site.public_url);
	free(cfg->site.notify_url);
	free(cfg->site.notify_secret);
	free(cfg->site.holidays);
	free(cfg->site.tz);
	for (size_t i = 0; i < cfg->nservices; i++) {
		free(cfg->services[i].name);
		free(cfg->services[i].name_en);
		free(cfg->services[i].json_head);
	}
	free(cfg->services);
	for (size_t i = 0; i < cfg->nwindows; i++) {
		struct config_window *w = &cfg->windows[i];
		free(w->name);
		free(w->name_en);
		for (size_t j = 0; j < w->nservices; j++)
			free(w->services[j]);
		free(w->services);
	}
	free(cfg->windows);
	for (size_t i = 0; i < cfg->nusers; i++) {
		free(cfg->users[i].name);
		free(cfg->users[i].password_hash);
		free(cfg->users[i].windows);
	}
	free(cfg->users);
	for (size_t i = 0; i < cfg->nkiosks; i++)
		free(cfg->kiosks[i].token_hash);
	free(cfg->kiosks);
	free(cfg);
}

/* Finds a service by id; NULL when there is none. */
const struct config_service *config_service(const struct config *cfg, const char *id)
{
	for (size_t i = 0; id != NULL && i < cfg->nservices; i++)
		if (strcmp(cfg->services[i].id, id) == 0)
			return &cfg->services[i];
	return NULL;
}

/* Finds a window by id; NULL when there is none. */
const struct config_window *config_window(const struct config *cfg, int id)
{
	for (size_t i = 0; i < cfg->nwindows; i++)
		if (cfg->windows[i].id == id)
			return &cfg->windows[i];
	return NULL;
}

/* Finds a user by id; NULL when there is none. */
const struct config_user *config_user(const struct config *cfg, const char *id)
{
	for (size_t i = 0; id != NULL && i < cfg->nusers; i++)
		if (strcmp(cfg->users[i].id, id) == 0)
			return &cfg->users[i];
	return NULL;
}

/* Finds a kiosk by id; NULL when there is none. */
const struct config_kiosk *config_kiosk(const struct config *cfg, const char *id)
{
	for (size_t i = 0; id != NULL && i < cfg->nkiosks; i++)
		if (strcmp(cfg->kiosks[i].id, id) == 0)
			return &cfg->kiosks[i];
	return NULL;
}

/* True when day (YYYY-MM-DD) is one of the site's holidays. */
int config_is_holiday(const struct config_site *site, const char *day)
{
	return site->nholidays && bsearch(day, site->holidays, site->nholidays, sizeof *site->holidays, holiday_compare);
}

/* True when the window serves the service: a comprehensive window serves them all. */
int config_window_serves(const struct config_window *w, const char *service)
{
	if (w->all_services)
		return 1;
	for (size_t i = 0; service != NULL && i < w->nservices; i++)
		if (strcmp(w->services[i], service) == 0)
			return 1;
	return 0;
}

/* True when the user may work at the window. */
int config_user_may_use(const struct config_user *u, int window)
{
	if (u->all_windows)
		return 1;
	for (size_t i = 0; i < u->nwindows; i++)
		if (u->windows[i] == window)
			return 1;
	return 0;
}

static const char *const role_names[] = {
	[ROLE_PUBLIC] = "public",
	[ROLE_KIOSK] = "kiosk",
	[ROLE_CLERK] = "clerk",
	[ROLE_MANAGER] = "manager",
	[ROLE_PAD] = "pad",
};

/* Returns the role's name as the protocol spells it. */
const char *config_role_name(enum role role)
{
	if ((unsigned)role < sizeof role_names / sizeof role_names[0])
		return role_names[role];
	return "unknown";
}

/* Returns the role named name, or -1. */
int config_role_parse(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof role_names / sizeof role_names[0]; i++)
		if (strcmp(role_names[i], name) == 0)
			return (int)i;
	return -1;
}
