/* The wait model of docs/estimated-wait.md, worked out from the inputs a function returns
 * (functions.lua's model.inputs) instead of in Lua: ewt, ewt_low and ewt_high of a waiting
 * ticket, and ahead and the same for a new ticket of a service. The arithmetic is Lua's, in the
 * same order and in doubles, so the figures are exactly those the library computed before.
 *
 * The inputs are one string:
 *   "m<comprehensive> <idle> <open>|<hall mix>|<class shares>|<own time>|<waiting>=<time>;..."
 * comprehensive "1" when the hall has a comprehensive window; idle and open the windows that
 * serve the service (P:nopen, the idle ones in its i: fields); a learnt time as P:ewma holds it ("mean variance
 * samples") or the configured time; the hall mix and the shares "" when not learnt yet; the
 * entries are the competing services (none in a comprehensive hall of many services).
 * The library writes them joined (functions.lua's model.inputs, docs/functions.md "Events"):
 *   "n<comprehensive> <idle> <open>|<class shares>|<own time>|<waiting>;...|<hall mix>|<time>;..."
 * the waiting counts and the times of the competing services in two lists of the same order,
 * the own time "#<i>" when it is the i-th of them; they are rewritten in the form above. */
#include "qserver.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The model's constants, as functions.lua's EST holds them. */
#define LEARN_MIN_STEP 0.02
#define RANGE_Z_LOW (-1.2816)
#define RANGE_Z_HIGH 1.2816
#define JUMP_MAX 0.5

/* The inputs, parsed (entries point into the string given). */
struct model_inputs {
	int comprehensive;
	double idle, open;
	const char *mix, *shares, *own, *entries; /* each ends at its '|' (or the string's end) */
	size_t mix_len, shares_len, own_len, entries_len;
};

/* A number as Lua's tonumber reads the n bytes at s (surrounding spaces allowed); 0 and *ok = 0
 * when they are not one. */
static double lua_number(const char *s, size_t n, int *ok)
{
	char buf[64], *end;
	*ok = 0;
	while (n && *s == ' ') {
		s++;
		n--;
	}
	while (n && s[n - 1] == ' ')
		n--;
	if (n == 0 || n >= sizeof buf)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	double v = strtod(buf, &end);
	if (*end)
		return 0;
	*ok = 1;
	return v;
}

/* A learnt time "mean variance samples" (or a bare mean) as model.parse_learnt reads it: its
 * mean (at least 1 s) and variance; 0 when the text holds none. */
static int parse_learnt(const char *s, size_t n, double *mean, double *var)
{
	const char *sp1 = memchr(s, ' ', n), *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - s)) : NULL;
	int ok, three = sp1 && sp2 && sp1 > s && sp2 > sp1 + 1 && sp2 + 1 < s + n &&
			!memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - s));
	double m = lua_number(s, three ? (size_t)(sp1 - s) : n, &ok);
	if (!ok)
		return 0;
	*mean = m > 1 ? m : 1;
	double v = three ? lua_number(sp1 + 1, (size_t)(sp2 - sp1 - 1), &ok) : 0;
	if (!three || !ok)
		v = *mean * *mean;
	*var = v > 0 ? v : 0;
	return 1;
}

/* Splits the inputs at their '|'s; 0 when malformed. */
static int split_inputs(const char *s, struct model_inputs *in)
{
	if (s[0] != 'm' || (s[1] != '0' && s[1] != '1') || s[2] != ' ')
		return 0;
	in->comprehensive = s[1] == '1';
	const char *bar = strchr(s, '|'), *sp = strchr(s + 3, ' ');
	int ok1, ok2;
	if (!bar || !sp || sp > bar)
		return 0;
	in->idle = lua_number(s + 3, (size_t)(sp - s - 3), &ok1);
	in->open = lua_number(sp + 1, (size_t)(bar - sp - 1), &ok2);
	if (!ok1 || !ok2)
		return 0;
	const char **part[4] = {&in->mix, &in->shares, &in->own, &in->entries};
	size_t *len[4] = {&in->mix_len, &in->shares_len, &in->own_len, &in->entries_len};
	for (int i = 0; i < 4; i++) {
		if (!bar)
			return 0;
		const char *next = i < 3 ? strchr(bar + 1, '|') : NULL;
		*part[i] = bar + 1;
		*len[i] = next ? (size_t)(next - bar - 1) : strlen(bar + 1);
		bar = next;
	}
	return 1;
}

/* One competing service: its waiting tickets and its time's mean and variance. */
struct entry {
	double waiting, mean, var;
};

/* Reads the entry at *p (moved past it); 0 when it is malformed. */
static int next_entry(const char **p, const char *end, struct entry *e)
{
	const char *s = *p, *semi = memchr(s, ';', (size_t)(end - s));
	const char *stop = semi ? semi : end;
	const char *eq = memchr(s, '=', (size_t)(stop - s));
	int ok;
	if (!eq)
		return 0;
	e->waiting = lua_number(s, (size_t)(eq - s), &ok);
	if (!ok)
		e->waiting = 0;
	if (!parse_learnt(eq + 1, (size_t)(stop - eq - 1), &e->mean, &e->var))
		return 0;
	*p = semi ? semi + 1 : end;
	return 1;
}

/* The competing services' waiting tickets and their work, each at its own service's time
 * (model.read_load); -1 when malformed, else the number of entries. */
static int waiting_load(const struct model_inputs *in, double *count, double *work)
{
	const char *p = in->entries, *end = in->entries + in->entries_len;
	int n = 0;
	*count = *work = 0;
	while (p < end) {
		struct entry e;
		if (!next_entry(&p, end, &e))
			return -1;
		if (e.waiting > 0) {
			*count = *count + e.waiting;
			*work = *work + e.waiting * e.mean;
		}
		n++;
	}
	return n;
}

/* The mean and variance of the service that frees the next window (model.stage_time): in a
 * hall with a comprehensive window the hall's mix, otherwise the service's own time. */
static int stage_time(const struct model_inputs *in, double *t, double *var)
{
	if (!parse_learnt(in->own, in->own_len, t, var))
		return 0;
	double mix_t, mix_var;
	if (!in->comprehensive)
		return 1;
	if (parse_learnt(in->mix, in->mix_len, &mix_t, &mix_var)) {
		*t = mix_t;
		*var = mix_var;
		return 1;
	}
	/* nothing finished yet: the services' mean time and squared coefficient of variation (none
	 * listed in a hall of many services: its own time) */
	int n = 0;
	for (const char *p = in->entries, *end = p + in->entries_len; p < end; n++) {
		struct entry e;
		if (!next_entry(&p, end, &e))
			return 0;
	}
	double sum = 0, scv = 0;
	for (const char *p = in->entries, *end = p + in->entries_len; p < end;) {
		struct entry e;
		next_entry(&p, end, &e);
		sum = sum + e.mean / n;
		scv = scv + e.var / (e.mean * e.mean) / n;
	}
	if (n > 0 && sum > 0) {
		*t = sum;
		*var = scv * sum * sum;
	}
	return 1;
}

/* The share of arrivals called before a ticket of the class rank (1 priority, 2 appointment,
 * 3 normal), at most one half (model.jump_share). */
static double jump_share(const struct model_inputs *in, int rank)
{
	if (rank == 1)
		return 0;
	const char *s = in->shares, *end = s + in->shares_len;
	const char *sp = memchr(s, ' ', in->shares_len);
	if (!sp || sp == s || sp + 1 >= end || sp[1] == ' ')
		return 0;
	const char *sp2 = memchr(sp + 1, ' ', (size_t)(end - sp - 1));
	int okp, oka;
	double p = lua_number(s, (size_t)(sp - s), &okp);
	double a = lua_number(sp + 1, (size_t)((sp2 ? sp2 : end) - sp - 1), &oka);
	double share = (okp ? p : 0) + (rank == 3 ? (oka ? a : 0) : 0);
	return share < JUMP_MAX ? share : JUMP_MAX;
}

/* The p-quantile (z: the standard normal's) of a gamma distribution of this mean and shape,
 * by Wilson and Hilferty's cube-root approximation (model.gamma_quantile). */
static double gamma_quantile(double mean, double shape, double z)
{
	double c = 1 / (9 * shape);
	double q = 1 - c + z * sqrt(c);
	if (q <= 0)
		return 0;
	return mean * q * q * q;
}

/* A figure as a long long in *out: 1 when it holds it, 0 when the figure is out of its range
 * or not a number (inputs of a corrupt entry: casting would be undefined). */
static int figure_to_ll(double figure, long long *out)
{
	if (!(figure >= -9223372036854775808.0 && figure < 9223372036854775808.0))
		return 0;
	*out = (long long)figure;
	return 1;
}

/* ewt, ewt_low and ewt_high of a wait behind `ahead` tickets of `work` seconds at n busy
 * windows (model.wait_range): 0, or -1 when a figure is out of range (corrupt inputs). */
static int wait_range(double ahead, double work, double stage, double stage_var, double n, double jump,
		      struct estimate *e)
{
	double mean = (work + stage) / n / (1 - jump);
	double cv2 = stage_var / (stage * stage);
	cv2 = cv2 > 0.1 ? cv2 : 0.1;
	cv2 = cv2 < 4 ? cv2 : 4;
	double scv = 1 + (cv2 - 1) / n;
	double shape = 1 / (scv / (ahead + 1) + cv2 * LEARN_MIN_STEP / (2 - LEARN_MIN_STEP));
	if (!figure_to_ll(floor(gamma_quantile(mean, shape, 0) + 0.5), &e->ewt) ||
	    !figure_to_ll(floor(gamma_quantile(mean, shape, RANGE_Z_LOW) + 0.5), &e->ewt_low) ||
	    !figure_to_ll(floor(gamma_quantile(mean, shape, RANGE_Z_HIGH) + 0.5), &e->ewt_high))
		return -1;
	return 0;
}

/* The open windows that serve the service, at least 1. */
static double open_windows(const struct model_inputs *in)
{
	return in->open > 1 ? in->open : 1;
}

/* The class rank of a class name ("" or unknown: normal). */
static int class_rank(const char *class)
{
	if (strcmp(class, "priority") == 0)
		return 1;
	return strcmp(class, "appointment") == 0 ? 2 : 3;
}

/* The inputs of the joined form
 *   "n<comprehensive> <idle> <open>|<class shares>|<own time>|<waiting>;...|<hall mix>|<time>;..."
 * (the own time "#<i>": the i-th time) in the form above (malloc'd), or NULL when malformed. */
static char *inputs_from_joined(const char *s)
{
	const char *part[6];
	size_t len[6];
	part[0] = s + 1;
	for (int i = 0; i < 5; i++) {
		const char *bar = strchr(part[i], '|');
		if (!bar)
			return NULL;
		len[i] = (size_t)(bar - part[i]);
		part[i + 1] = bar + 1;
	}
	len[5] = strlen(part[5]);
	const char *shares = part[1], *own = part[2], *waits = part[3], *mix = part[4], *times = part[5];
	size_t size = strlen(s) * 2 + 16;
	char *out = malloc(size), *o = out;
	if (!out)
		return NULL;
	/* own: "#<i>" names the i-th time */
	const char *own_time = own;
	size_t own_len = len[2];
	if (own_len && own[0] == '#') {
		long i = strtol(own + 1, NULL, 10);
		const char *t = times, *end = times + len[5];
		for (long k = 1; k < i && t < end; k++) {
			const char *semi = memchr(t, ';', (size_t)(end - t));
			t = semi ? semi + 1 : end;
		}
		const char *semi = memchr(t, ';', (size_t)(end - t));
		if (i < 1 || t >= end) {
			free(out);
			return NULL;
		}
		own_time = t;
		own_len = (size_t)((semi ? semi : end) - t);
	}
	o += snprintf(o, size, "m%.*s|%.*s|%.*s|%.*s|", (int)len[0], part[0], (int)len[4], mix, (int)len[1], shares,
		      (int)own_len, own_time);
	/* the entries "<waiting>=<time>", a waiting count for every time */
	const char *w = waits, *wend = waits + len[3], *t = times, *tend = times + len[5];
	while (t < tend) {
		const char *tsemi = memchr(t, ';', (size_t)(tend - t)), *wsemi = memchr(w, ';', (size_t)(wend - w));
		const char *tstop = tsemi ? tsemi : tend, *wstop = wsemi ? wsemi : wend;
		o += sprintf(o, "%s%.*s=%.*s", t == times ? "" : ";", (int)(wstop - w), w, (int)(tstop - t), t);
		t = tsemi ? tsemi + 1 : tend;
		w = wsemi ? wsemi + 1 : wend;
		if (!tsemi != !wsemi) {
			free(out); /* as many waiting counts as times */
			return NULL;
		}
	}
	if (t == times && len[3]) {
		free(out);
		return NULL;
	}
	return out;
}

int estimate_ticket(const char *inputs, long long ahead, const char *class, struct estimate *e)
{
	if (inputs[0] == 'n') {
		char *old = inputs_from_joined(inputs);
		int rc = old ? estimate_ticket(old, ahead, class, e) : -1;
		free(old);
		return rc;
	}
	struct model_inputs in;
	double stage, stage_var, own_t, own_var, count, total;
	if (!split_inputs(inputs, &in) || !stage_time(&in, &stage, &stage_var) ||
	    !parse_learnt(in.own, in.own_len, &own_t, &own_var))
		return -1;
	/* the tickets ahead at the mean of the other waiting tickets' own services' times */
	double mean_other = stage;
	int n = waiting_load(&in, &count, &total);
	if (n < 0)
		return -1;
	if (n > 0) {
		double others = total - own_t;
		if (count > 1 && others > 0)
			mean_other = others / (count - 1);
	}
	e->ahead = ahead;
	if ((double)ahead < in.idle) {
		e->ewt = e->ewt_low = e->ewt_high = 0;
		return 0;
	}
	return wait_range((double)ahead, (double)ahead * mean_other, stage, stage_var, open_windows(&in),
			  jump_share(&in, class_rank(class)), e);
}

int estimate_new_ticket(const char *inputs, long long hall_ahead, struct estimate *e)
{
	if (inputs[0] == 'n') {
		char *old = inputs_from_joined(inputs);
		int rc = old ? estimate_new_ticket(old, hall_ahead, e) : -1;
		free(old);
		return rc;
	}
	struct model_inputs in;
	double stage, stage_var, counted, work;
	if (!split_inputs(inputs, &in) || !stage_time(&in, &stage, &stage_var) || waiting_load(&in, &counted, &work) < 0)
		return -1;
	double ahead = counted;
	if (in.comprehensive) {
		/* every waiting ticket of the hall is ahead; those of no competing service at the mix */
		ahead = (double)hall_ahead;
		double rest = ahead - counted;
		work = work + (rest > 0 ? rest : 0) * stage;
	}
	if (!figure_to_ll(ahead, &e->ahead))
		return -1;
	if (ahead < in.idle) {
		e->ewt = e->ewt_low = e->ewt_high = 0;
		return 0;
	}
	return wait_range(ahead, work, stage, stage_var, open_windows(&in), jump_share(&in, 3), e);
}
