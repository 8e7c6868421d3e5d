/* qsim: the hall simulator. It drives a real qserver (started with --test-clock and its own
 * private Redis) through simulated hall days as a discrete-event simulation: Poisson arrivals
 * per service and hour, service times drawn from a distribution, clerks who call when free,
 * no-shows and priority tickets. Shared types of its parts: main.c (options, modes),
 * scenarios.c (the standard scenarios), server.c (the qserver child and requests), model.c
 * (random numbers, distributions, arrival patterns, queueing theory), tickets.c (what was seen
 * of each ticket), day.c (the simulated days), measure.c (accuracy and the statistics check),
 * report.c (summaries and SIMULATION.md), staffing.c (windows per hour). */
#ifndef QHALL_QSIM_H
#define QHALL_QSIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "syncclient.h"

#define QSIM_MAX_SERVICES 8
#define QSIM_MAX_WINDOWS 64
#define QSIM_HOURS 24
#define QSIM_NO_SHOW_S 60	 /* how long a clerk waits for a no-show before marking it */
#define QSIM_DAY0 "2026-12-01"	 /* the first simulated day (a Tuesday), site time */
#define QSIM_TZ_OFFSET_S (8 * 3600) /* the simulated hall is in Asia/Shanghai (no DST) */

/* A service-time distribution, in seconds. */
enum sim_dist_kind { DIST_EXP, DIST_LOGNORMAL, DIST_HISTORY };

struct sim_dist {
	enum sim_dist_kind kind;
	double mean;	     /* the true mean (for history: the sample's mean) */
	double cv;	     /* log-normal: coefficient of variation (sd / mean) */
	const double *sample; /* history: observed service times to resample */
	size_t nsample;
};

/* One service of a scenario. */
struct sim_service {
	char id[8];
	int configured_s;	       /* the service_time qserver is configured with */
	struct sim_dist dist;	       /* the real service times */
	double per_hour[QSIM_HOURS];   /* mean arrivals in each hour of the day */
};

/* A scenario: the hall, its people and how many days to run. */
struct sim_scenario {
	char name[32];
	char title[256];
	int nservices;
	struct sim_service svc[QSIM_MAX_SERVICES];
	int nwindows;
	unsigned win_mask[QSIM_MAX_WINDOWS]; /* services a window serves (bit per service); 0 = all */
	int staff[QSIM_HOURS];		     /* windows open in each hour; 0 everywhere = all, all day */
	int open_h, close_h;		     /* arrivals from open_h:00 to close_h:00 */
	double no_show;			     /* share of tickets whose holder is gone when called */
	double priority;		     /* share of priority tickets */
	int days;
	uint64_t seed;
	int warmup_s;	 /* tickets taken in the first warmup_s of a day are left out of the means */
	int theory_c;	 /* > 0: compare the mean wait with Erlang C for M/M/theory_c */
	int outlier;	 /* run the one-12-hour-service probe instead of days */
};

/* What the simulator saw of one ticket. */
struct sim_ticket {
	char id[40];
	int svc;
	int day;
	int priority, no_show;
	int service_s;		       /* drawn at take time: how long its service will last */
	long long issued_at, called_at, finished_at; /* server times; 0 when it never happened */
	int ahead;
	double ewt, ewt_low, ewt_high; /* what the server told at take time */
	int has_range;
	int preload;		       /* put in the queue at opening to start in steady state */
	int busy_all;		       /* every open window that serves it was busy at take time */
	int open_n;		       /* open windows that serve it at take time */
	double oracle, learned;	       /* the simulator's own estimates at take time */
};

/* A growing list of tickets with an index by id. */
struct sim_tickets {
	struct sim_ticket *v;
	size_t n, cap;
	int *slots; /* open addressing: index + 1, 0 = empty */
	size_t nslots;
};

/* A blocking connection to qserver and, when qsim started it, the child process. */
struct sim_server {
	struct sync_client *sc;
	int pid;
	char dir[64];
	char address[32];
	long long clock;     /* the last time qsim set the server clock to */
	long requests;	     /* requests sent, for the report */
};

/* A summary of one scenario's run. */
struct sim_result {
	const struct sim_scenario *sc;
	struct sim_tickets t;
	double day_mean[400];	 /* mean wait of each day (after the warm-up), for the interval */
	int ndays;
	double mean_wait, ci_half; /* seconds: mean of the day means and the 95% half-width */
	double theory_wait;	 /* Erlang C's mean wait, seconds (0 when not compared) */
	long stats_mismatches;	 /* statistics fields that differ from what qsim saw */
	long calls, out_of_order; /* calls, and calls out of order (see day_check_order) */
	double outlier_before, outlier_after; /* the outlier probe's estimates, seconds */
	double seconds;		 /* real time the run took */
	long requests;
};

/* model.c */
void model_seed(uint64_t seed);
double model_uniform(void);
double model_exponential(double mean);
int model_service_time(const struct sim_dist *d);
double model_mean_arrivals(const struct sim_service *s);
double erlang_c(int c, double a);
double erlang_c_wait(int c, double lambda, double mean_service);
int mmc_sample_in_system(int c, double a);
double erlang_c_tail(int c, double lambda, double mean_service, double t);
int erlang_c_staff(double lambda, double mean_service, double sla, double share_late, int max_c);
double student_t975(int df);
int model_read_history(const char *path, double **sample, size_t *n);
int model_read_pattern(const char *path, double per_hour[QSIM_HOURS]);

/* Where the simulated days run: a qserver qsim starts (qserver, the program), or one already
 * running at address on the scenario's hall (qsim --server). */
struct sim_target {
	const char *qserver;
	const char *address;
};

/* server.c */
int server_write_hall(const struct sim_scenario *sc, const char *path);
int server_start(struct sim_server *s, const struct sim_scenario *sc, const struct sim_target *target);
void server_stop(struct sim_server *s);
cJSON *server_request(struct sim_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int server_set_clock(struct sim_server *s, long long t);
long long sim_day_start(int day);
void sim_day_date(int day, char out[11]);

/* tickets.c */
struct sim_ticket *tickets_add(struct sim_tickets *t, const char *id);
struct sim_ticket *tickets_find(struct sim_tickets *t, const char *id);
void tickets_free(struct sim_tickets *t);

/* day.c */
int sim_run(const struct sim_scenario *sc, const struct sim_target *target, struct sim_result *res);

/* measure.c */
long measure_check_stats(struct sim_server *s, const struct sim_scenario *sc, const struct sim_tickets *t);
void measure_waits(struct sim_result *res);
struct accuracy {
	long n, n_busy, n_in_range;
	int has_range;
	double mae_ewt, mae_oracle, mae_learned, bias_ewt;
	double bias_svc[QSIM_MAX_SERVICES];
	long n_svc[QSIM_MAX_SERVICES];
};
void measure_accuracy(const struct sim_result *res, int from_s, struct accuracy *a);

/* report.c */
void report_theory(struct sim_result *res);
void report_scenario_text(FILE *out, const struct sim_result *res);
int report_write(const char *path, const struct sim_target *target, int days, uint64_t seed, const char *pattern);
int report_save_history(const char *path, const struct sim_tickets *t);
int report_save_tickets(const char *path, const struct sim_result *res);
int report_history_sample(const struct sim_tickets *t, int svc, double **sample, size_t *n, double *mean);

/* staffing.c */
int staffing_run(FILE *out, const char *pattern_path, const struct sim_target *target, int days, int mean_s, int json,
		 uint64_t seed);

/* scenarios.c */
int scenario_standard(const char *name, struct sim_scenario *sc, int days);

#endif
