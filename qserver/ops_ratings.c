/* Rating ops (好差评, PROTOCOL.md v2 "Ratings"): the comment and follow-up due date that `rate`
 * and `finish` pass on, a rating pad's window, and the managers' `ratings` and
 * `resolve_rating`. docs/ratings.md describes the rules. */
#include "qserver.h"
#include "utf8.h"
#include "workdays.h"

#include <stdio.h>
#include <string.h>

#define RATING_COMMENT_MAX 200	   /* characters */
#define RATING_NOTE_MAX 500	   /* characters of a follow-up's note */
#define RATING_FOLLOWUP_WORKDAYS 15 /* a bad rating is followed up within this many working days */
#define RATINGS_LIMIT_DEFAULT 100
#define RATINGS_LIMIT_MAX 500

/* Reads an optional text of at most max characters into *out; -1 after answering. */
static int ratings_text_arg(struct request *r, const char *name, int required, size_t max, const char **out)
{
	if (args_string(r, name, required, max * 4, out) < 0)
		return -1;
	if (*out && utf8_length(*out) > max) {
		request_reply_error(r, "bad_request", name, "%s must be at most %zu characters.", name, max);
		return -1;
	}
	if (required && !**out) {
		request_reply_error(r, "bad_request", name, "%s must not be empty.", name);
		return -1;
	}
	return 0;
}

/* Reads a rating's optional `comment` (at most 200 characters); -1 after answering. */
int ratings_comment_arg(struct request *r, const char **comment)
{
	if (ratings_text_arg(r, "comment", 0, RATING_COMMENT_MAX, comment) < 0)
		return -1;
	if (!*comment)
		*comment = "";
	return 0;
}

/* Writes the due date of a follow-up opened now at the site: the 15th working day after today
 * (site time), skipping weekends and the site's holidays; "" if it cannot be worked out. */
void ratings_due(const struct site *site, char out[11])
{
	char today[11];
	sitetime_day(&site->cfg->site, clock_now(), today);
	if (workdays_after(&site->cfg->site, today, RATING_FOLLOWUP_WORKDAYS, out) < 0)
		out[0] = '\0';
}

/* The window of the connection's rating pad, or 0 when it is no pad. */
int ratings_pad_window(const struct request *r)
{
	if (r->conn->role != ROLE_PAD)
		return 0;
	const struct config_kiosk *k = config_kiosk(r->site->cfg, r->conn->user);
	return k ? k->pad_window : -1; /* a pad gone from the config rates nothing */
}

/* Lists the ratings made from `from` to `to` (site days), optionally only the bad ones or the
 * follow-ups in one state, a page at a time (limit, offset; `more` and `next_offset`). */
void op_ratings(struct request *r)
{
	const char *from, *to, *state;
	int bad = 0;
	long limit = RATINGS_LIMIT_DEFAULT, offset = 0;
	if (args_string(r, "from", 1, 10, &from) < 0 || args_string(r, "to", 1, 10, &to) < 0 ||
	    args_bool(r, "bad", &bad) < 0 || args_string(r, "state", 0, 16, &state) < 0 ||
	    args_int(r, "limit", 0, 1, RATINGS_LIMIT_MAX, &limit) < 0 ||
	    args_int(r, "offset", 0, 0, 100000000, &offset) < 0)
		return;
	if (state && strcmp(state, "open") != 0 && strcmp(state, "resolved") != 0) {
		request_reply_error(r, "bad_request", "state", "state must be open or resolved.");
		return;
	}
	char lim[16], off[16];
	snprintf(lim, sizeof lim, "%ld", limit);
	snprintf(off, sizeof off, "%ld", offset);
	const char *argv[] = {from, to, bad ? "1" : "0", state ? state : "", lim, off};
	store_request_fcall(r, "qh_ratings", 1, 6, argv);
}

/* Closes a bad rating's follow-up with a note of what was done; `by` is the manager. */
void op_resolve_rating(struct request *r)
{
	const char *ticket, *note;
	if (args_string(r, "ticket", 1, 64, &ticket) < 0 || ratings_text_arg(r, "note", 1, RATING_NOTE_MAX, &note) < 0)
		return;
	const char *argv[] = {ticket, note, r->conn->user};
	store_request_fcall(r, "qh_resolve_rating", 0, 3, argv);
}
