/* The hall config: site, services, windows, users and kiosks, read from one JSON file. */
#ifndef QHALL_CONFIG_H
#define QHALL_CONFIG_H

#include <stddef.h>

#define CONFIG_ID_MAX 32	 /* service, user and kiosk ids, site id */
#define CONFIG_PREFIX_MAX 4	 /* ticket prefix: 1 to 3 ASCII capital letters */
#define CONFIG_MAX_SERVICES 2048 /* Bao'an has about 1,000 services */
#define CONFIG_MAX_WINDOWS 1024
#define CONFIG_MAX_USERS 4096
#define CONFIG_MAX_KIOSKS 1024
#define CONFIG_MAX_HOLIDAYS 2000 /* site.holidays: a few years of days off */
#define CONFIG_NAME_MAX 256	     /* bytes of UTF-8 in a name or name_en, with room for the NUL */
#define CONFIG_FILE_MAX (16 << 20) /* config_load refuses larger files */

enum role { ROLE_PUBLIC, ROLE_KIOSK, ROLE_CLERK, ROLE_MANAGER, ROLE_PAD };

/* Opening hours of one weekday, in minutes after local midnight; open < 0 means closed all day. */
struct config_hours {
	int open;
	int close;
};

struct config_site {
	char id[CONFIG_ID_MAX];	 /* [a-z0-9_-]+, part of every Redis key */
	char *name;		 /* 中文 */
	char *name_en;
	char *tz;		 /* IANA zone, e.g. Asia/Shanghai */
	int sla;		 /* wait target in seconds, default 900 */
	int retention_days;	 /* raw tickets and events kept this long, default 90 */
	struct config_hours hours[7]; /* index 0 is Sunday, as in struct tm */
	char *public_url;	 /* where citizens reach the pages (status_url, QR codes); NULL: none */
	int remote_take;	 /* the public may take tickets over the web (channel web) */
	char *notify_url;	 /* where "your turn is near" notifications are POSTed (http://); NULL: none */
	char *notify_secret;	 /* the key of their HMAC-SHA256 signature; never logged or sent */
	char (*holidays)[11];	 /* YYYY-MM-DD days off (follow-up due dates skip them), sorted */
	size_t nholidays;
};

/* A service's appointment slots (预约); slot_minutes 0 when it takes none. */
struct config_appointments {
	int slot_minutes;   /* length of a slot; slots start at opening time, whole slots only */
	int per_slot;	    /* appointments one slot holds */
	int days_ahead;	    /* how many days after today may be booked */
	int checkin_before; /* seconds before the slot's start the kiosk checks in */
	int checkin_after;  /* seconds after the slot's start it still does */
};

struct config_service {
	char id[CONFIG_ID_MAX];
	char prefix[CONFIG_PREFIX_MAX];
	char *name;
	char *name_en;
	int service_time; /* default service time in seconds, seeds the estimate */
	struct config_appointments appointments;
	/* qserver's start of its Service object ({"id":...,"name_en":...), made once when the
	 * config is read (eventbuild_prepare); NULL until then */
	char *json_head;
	size_t json_head_len;
};

struct config_window {
	int id; /* 1..9999 */
	char *name;
	char *name_en;
	int all_services; /* services: ["*"], a comprehensive window */
	char **services;  /* service ids when not all_services */
	size_t nservices;
};

struct config_user {
	char id[CONFIG_ID_MAX];
	char *name;
	enum role role; /* ROLE_CLERK or ROLE_MANAGER */
	char *password_hash; /* crypt(3) */
	int all_windows;     /* windows: ["*"] or absent */
	int *windows;
	size_t nwindows;
};

struct config_kiosk {
	char id[CONFIG_ID_MAX];
	char *token_hash; /* crypt(3) hash of the kiosk's token */
	int pad_window;	  /* "kind": "pad": the window whose tickets it rates; 0 for a ticket kiosk */
};

struct config {
	char *path;
	struct config_site site;
	struct config_service *services;
	size_t nservices;
	struct config_window *windows;
	size_t nwindows;
	struct config_user *users;
	size_t nusers;
	struct config_kiosk *kiosks;
	size_t nkiosks;
};

/* Reads and checks a hall config file; on error returns NULL and writes
 * "FILE: PLACE: what is wrong" (PLACE like services[3].prefix) into err. */
struct config *config_load(const char *path, char *err, size_t errlen);
/* Parses a hall config from a JSON text; `name` stands for the file in messages. */
struct config *config_parse(const char *json, const char *name, char *err, size_t errlen);
/* Frees a config and everything it holds; NULL is fine. */
void config_free(struct config *cfg);

const struct config_service *config_service(const struct config *cfg, const char *id);
const struct config_window *config_window(const struct config *cfg, int id);
const struct config_user *config_user(const struct config *cfg, const char *id);
const struct config_kiosk *config_kiosk(const struct config *cfg, const char *id);
/* True when day (YYYY-MM-DD) is one of the site's holidays. */
int config_is_holiday(const struct config_site *site, const char *day);
/* True when the window serves the service. */
int config_window_serves(const struct config_window *w, const char *service);
/* True when the user may work at the window. */
int config_user_may_use(const struct config_user *u, int window);

/* A region (region.json in a config folder): its sites, each with its hall file, and the
 * region managers who may sign in at the sites of their scope. */
#define CONFIG_MAX_SITES 1024
enum config_level { LEVEL_DISTRICT, LEVEL_STREET, LEVEL_COMMUNITY };

struct config_region_site {
	char id[CONFIG_ID_MAX];
	char parent[CONFIG_ID_MAX]; /* the site above it; empty for none */
	enum config_level level;
	char *file;		    /* its hall file, relative to the folder; default <id>.json */
};

struct config_region_user {
	char id[CONFIG_ID_MAX];
	char *name;
	char *password_hash;
	int all_sites;		    /* sites: ["*"] */
	char (*sites)[CONFIG_ID_MAX];
	size_t nsites;
};

struct config_region {
	char *path;
	char id[CONFIG_ID_MAX];
	char *name;
	char *name_en;
	struct config_region_site *sites;
	size_t nsites;
	struct config_region_user *users;
	size_t nusers;
};

/* Reads and checks region.json of a config folder; NULL with "FILE: PLACE: what" in err. */
struct config_region *config_region_load(const char *path, char *err, size_t errlen);
struct config_region *config_region_parse(const char *json, const char *name, char *err, size_t errlen);
void config_region_free(struct config_region *region);
const struct config_region_user *config_region_user(const struct config_region *region, const char *id);
/* True when the region user may act at the site. */
int config_region_user_may(const struct config_region_user *u, const char *site);
/* Returns "district", "street" or "community". */
const char *config_level_name(enum config_level level);

/* Returns the config's role name ("public", "kiosk", "clerk", "manager", "pad"). */
const char *config_role_name(enum role role);
/* Returns the role named name ("public", "kiosk", "clerk", "manager", "pad"), or -1. */
int config_role_parse(const char *name);

#endif
