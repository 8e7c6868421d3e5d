/* The standard scenarios: M/M/c halls for the comparison with Erlang C, dedicated against
 * comprehensive windows, two services of different lengths, a wrong configured service time,
 * a district hall's day, its own history, and the one-outlier probe. */
#include "qsim.h"

#include <math.h>
#include <string.h>

/* One service with exponential times of this mean (configured right), arrivals per hour from
 * open_h to close_h. */
static void scenario_service(struct sim_scenario *sc, const char *id, double mean_s, double per_hour)
{
	struct sim_service *s = &sc->svc[sc->nservices++];
	memset(s, 0, sizeof *s);
	snprintf(s->id, sizeof s->id, "%s", id);
	s->configured_s = (int)lround(mean_s);
	s->dist = (struct sim_dist){.kind = DIST_EXP, .mean = mean_s};
	for (int h = sc->open_h; h < sc->close_h; h++)
		s->per_hour[h] = per_hour;
}

/* The common frame: a 12-hour day (08:00-20:00 arrivals), comprehensive windows. */
static void scenario_frame(struct sim_scenario *sc, const char *name, int windows, int days)
{
	memset(sc, 0, sizeof *sc);
	snprintf(sc->name, sizeof sc->name, "%s", name);
	sc->nwindows = windows;
	sc->open_h = 8;
	sc->close_h = 20;
	sc->days = days;
	sc->seed = 14;
	sc->warmup_s = 3600;
}

/* Fills sc with a standard scenario by name; -1 when there is none. */
int scenario_standard(const char *name, struct sim_scenario *sc, int days)
{
	if (strncmp(name, "mmc", 3) == 0 && (name[3] == '6' || name[3] == '7' || name[3] == '8') && !name[4]) {
		int c = name[3] - '0';
		scenario_frame(sc, name, c, days);
		scenario_service(sc, "A", 300, 60);
		sc->theory_c = c;
		snprintf(sc->title, sizeof sc->title, "M/M/%d: arrivals 1/min, exponential service mean 5 min, %d comprehensive windows", c, c);
	} else if (strcmp(name, "small") == 0) {
		scenario_frame(sc, name, 3, days);
		scenario_service(sc, "A", 300, 24);
		sc->theory_c = 3;
		snprintf(sc->title, sizeof sc->title, "M/M/3: arrivals 0.4/min, exponential service mean 5 min, 3 comprehensive windows");
	} else if (strcmp(name, "dedicated") == 0 || strcmp(name, "comprehensive") == 0) {
		int dedicated = name[0] == 'd';
		scenario_frame(sc, name, 6, days);
		scenario_service(sc, "A", 300, 20);
		scenario_service(sc, "B", 300, 20);
		scenario_service(sc, "C", 300, 20);
		for (int w = 0; dedicated && w < 6; w++)
			sc->win_mask[w] = 1u << (w / 2);
		sc->theory_c = dedicated ? 2 : 6;
		snprintf(sc->title, sizeof sc->title, "three services (1/3 per min each, exponential mean 5 min) at %s",
			 dedicated ? "3 dedicated pairs of windows" : "6 comprehensive windows");
	} else if (strcmp(name, "twoservices") == 0) {
		scenario_frame(sc, name, 6, days);
		scenario_service(sc, "A", 240, 24);
		scenario_service(sc, "B", 480, 24);
		snprintf(sc->title, sizeof sc->title, "two services, 4 and 8 min (exponential, 0.4/min each), 6 comprehensive windows");
	} else if (strcmp(name, "config2x") == 0 || strcmp(name, "config05x") == 0) {
		int twice = name[6] == '2';
		scenario_frame(sc, name, 6, days);
		scenario_service(sc, "A", 300, 60);
		sc->svc[0].configured_s = twice ? 600 : 150;
		sc->theory_c = 6;
		snprintf(sc->title, sizeof sc->title, "M/M/6 with the configured service time %s the real 5 min",
			 twice ? "twice" : "half");
	} else if (strcmp(name, "hallday") == 0 || strcmp(name, "history") == 0) {
		/* a district hall's day: a morning and an afternoon peak, log-normal service times,
		 * no-shows, priority tickets, 8 comprehensive windows */
		static const double shape[QSIM_HOURS] = {[9] = 0.7, [10] = 1.2, [11] = 1.1, [12] = 0.6, [13] = 0.7,
							 [14] = 1.2, [15] = 1.2, [16] = 1.0, [17] = 0.8, [18] = 0.5,
							 [19] = 0.3};
		scenario_frame(sc, name, 8, days);
		sc->open_h = 9;
		scenario_service(sc, "A", 300, 0);
		scenario_service(sc, "B", 420, 0);
		scenario_service(sc, "C", 600, 0);
		static const double base[3] = {40, 20, 12};
		for (int i = 0; i < 3; i++) {
			sc->svc[i].dist.kind = DIST_LOGNORMAL;
			sc->svc[i].dist.cv = 0.8;
			for (int h = 0; h < QSIM_HOURS; h++)
				sc->svc[i].per_hour[h] = base[i] * shape[h];
		}
		sc->no_show = 0.08;
		sc->priority = 0.05;
		snprintf(sc->title, sizeof sc->title,
			 "a hall day: three services (5, 7, 10 min, %s), peaks at 10-12 and 14-17, 8%% no-shows, 5%% priority, 8 comprehensive windows",
			 name[0] == 'h' && name[1] == 'a' ? "log-normal, CV 0.8" : "each resampled from its observed times of the hallday run");
	} else if (strcmp(name, "outlier") == 0) {
		scenario_frame(sc, name, 2, 1);
		scenario_service(sc, "A", 300, 0);
		sc->outlier = 1;
		snprintf(sc->title, sizeof sc->title, "a ticket called 12 hours ago is finished while 6 tickets wait at 2 windows");
	} else {
		return -1;
	}
	if (sc->theory_c > 0) /* these days start in steady state (day_preload): no warm-up */
		sc->warmup_s = 0;
	return 0;
}
