/* qbench: the qhall load generator. Shared types of its four parts: main.c (options, phases,
 * the clock tick), conns.c (connections, framing, sending), scenarios.c (what is sent and what
 * an answer means) and report.c (histograms, error counts, the text and JSON report). */
#ifndef QHALL_QBENCH_H
#define QHALL_QBENCH_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct event;
struct bufferevent;

#define QB_MAX_SERVICES 32	   /* services a run spreads its takes over */
#define QB_MAX_CODES 16		   /* distinct error codes counted one by one */
#define QB_RECENT_IDS 64	   /* ticket ids remembered for lookups */
#define QB_ID_MAX 48		   /* a ticket id or number, with room to spare */
#define QB_FIXED_DEPTH 256	   /* in-flight bound per connection in fixed-rate mode */
#define QB_BACKLOG_MAX 65536	   /* jobs waiting for a free connection, per class */
#define QB_CONNECTING_MAX 128	   /* connections in connect or hello at once (listen backlog) */
#define QB_LINE_MAX 65536	   /* PROTOCOL.md: a line with its newline */
#define QB_REQUEST_MAX 512	   /* one request line we build */
#define QB_HIST_SUB_BITS 6	   /* 64 sub-buckets per power of two: about 1.5% resolution */
#define QB_HIST_BUCKETS (128 + 48 * 64) /* microseconds up to 2^54 */

enum qb_scenario { SC_TAKE, SC_CLERK, SC_MIXED, SC_FANOUT, SC_IDLE, SC_LOGIN };
enum qb_mode { MODE_CLOSED, MODE_FIXED };

/* The kinds of connection: each says a different hello and does different work. */
enum qb_class { CLS_KIOSK, CLS_CLERK, CLS_PUBLIC, CLS_DISPLAY, CLS_COUNT };

/* What a request is; the first OP_REPORTED kinds have their own latency row. */
enum qb_op {
	OP_TAKE,
	OP_CALL_NEXT,
	OP_FINISH,
	OP_TICKET,
	OP_SNAPSHOT,
	OP_SERVICES,
	OP_PING,
	OP_REPORTED,
	OP_CLERK_STEP = OP_REPORTED, /* a job for a clerk: call_next or finish, chosen at sending */
	OP_HELLO,
	OP_SUBSCRIBE,
	OP_PREFILL_TAKE, /* a take before the measurement: not counted */
	OP_LOGIN	 /* login: a wrong hello, timed on its own */
};

enum qb_phase { PH_SETUP, PH_PREFILL, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };

/* A log-linear latency histogram in microseconds, exact min and max. */
struct qb_hist {
	uint64_t counts[QB_HIST_BUCKETS];
	uint64_t n, sum_us, min_us, max_us;
};

/* One request sent and not yet answered. */
struct qb_inflight {
	uint64_t due_ns;  /* when it was due (fixed rate) or created (closed loop) */
	uint8_t op;	  /* enum qb_op */
	uint8_t counted;  /* inside the measured window */
	uint8_t expired;  /* already counted as a timeout; its late answer is ignored */
};

/* A job waiting for a connection of its class. */
struct qb_job {
	uint64_t due_ns;
	uint8_t op;
	uint8_t counted;
};

/* One connection to qserver. */
struct qb_conn {
	struct qb_bench *b;
	struct bufferevent *bev;
	int index;
	enum qb_class cls;
	enum { CS_WAITING, CS_CONNECTING, CS_SETUP, CS_READY, CS_DEAD } state;
	int window;			/* clerks: the window they work at */
	char user[32];			/* clerks: their login */
	int has_ticket;			/* clerks: the last call_next called someone */
	struct qb_inflight *ring;	/* requests in send order (answers come in that order) */
	unsigned ring_cap, ring_head, ring_count;
	unsigned depth;			/* in-flight bound for jobs */
	uint64_t next_id;
	uint64_t events;		/* event lines received */
	char called_number[QB_ID_MAX];	/* fanout: the number of the last `called` event */
	uint64_t called_at_ns;		/* fanout: when it arrived */
	int delivered;			/* fanout: this round's event was counted */
};

/* A FIFO of jobs for one class. */
struct qb_backlog {
	struct qb_job *jobs;
	unsigned cap, head, count;
};

/* Counts of what went wrong. */
struct qb_errors {
	char code[QB_MAX_CODES][24];
	uint64_t code_n[QB_MAX_CODES];
	unsigned ncodes;
	uint64_t other_codes;	    /* codes past QB_MAX_CODES */
	uint64_t timeouts;	    /* not answered within --timeout */
	uint64_t disconnects;	    /* connections lost after setup */
	uint64_t lost;		    /* requests in flight on a lost connection */
	uint64_t connect_failures;  /* connections that never got through connect and hello */
	uint64_t overflow;	    /* jobs dropped because the client's own backlog was full */
	uint64_t unexpected;	    /* lines that answer nothing we asked */
};

struct qb_options {
	enum qb_scenario scenario;
	enum qb_mode mode;
	char server[64];	/* 127.x.x.x:PORT, loopback only */
	int conns;		/* kiosk (and, in mixed, public) connections; displays in fanout/idle */
	int depth;		/* closed loop: requests in flight per connection */
	double rate;		/* fixed rate: requests per second over all connections */
	double duration_s;
	double warmup_s;
	long requests;		/* stop after this many measured requests (0: by time only) */
	int timeout_ms;
	int clerks;
	char clerk_prefix[16];
	int clerk_width;
	int first_window;
	int displays;		/* mixed: subscribed displays that only count events */
	long prefill;		/* tickets taken before the measurement */
	int rounds;		/* fanout */
	int interval_ms;	/* fanout: pause between rounds */
	char topics[64];	/* subscribe topics, comma separated; empty for all */
	char services[QB_MAX_SERVICES][32];
	int nservices;
	const char *token;
	const char *password;
	long qserver_pid;	/* idle: whose RSS to read */
	int logins;		/* login: wrong hellos sent at once per round */
	char login_user[32];	/* login: the user they name */
	int json;
	const char *label;
};

/* The state of one run. */
struct qb_bench {
	struct qb_options opt;
	struct event_base *base;
	struct event *tick;
	struct qb_conn *conns;
	int nconns;
	int class_first[CLS_COUNT], class_n[CLS_COUNT];
	int rr[CLS_COUNT];		/* round-robin cursor per class */
	struct qb_backlog backlog[CLS_COUNT];
	enum qb_phase phase;
	int next_to_connect, connecting, ready, failed;
	uint64_t start_ns, setup_done_ns, measure_start_ns, measure_end_ns, drain_start_ns, last_done_ns;
	uint64_t generated;		/* jobs made (fixed rate: slots passed) since the rate began */
	uint64_t capacity;		/* closed loop: jobs in flight or waiting over all connections */
	uint64_t warmup_end_ns;
	int generating;			/* new jobs are still made */
	uint64_t rate_start_ns;
	long measured_jobs;		/* jobs made inside the measured window */
	uint64_t inflight;		/* requests sent and not answered, over all connections */
	long prefill_sent, prefill_done, prefill_failed;
	unsigned pattern_pos;
	uint64_t last_sweep_ns;
	/* results */
	struct qb_hist all;
	struct qb_hist per_op[OP_REPORTED];
	uint64_t ok, failed_requests, sent_measured;
	uint64_t empty_calls;		/* call_next that found nobody waiting */
	struct qb_errors err;
	uint64_t display_events;
	/* ticket ids seen, for lookups */
	char recent[QB_RECENT_IDS][QB_ID_MAX];
	unsigned nrecent;
	/* fanout */
	struct qb_hist delivery;
	int round, round_active;
	uint64_t round_sent_ns;
	char round_number[QB_ID_MAX];
	int round_delivered;
	uint64_t deliveries, deliveries_missed;
	uint64_t next_round_ns;
	/* login (rounds use the fanout fields above) */
	struct qb_hist login_latency;
	uint64_t login_answers, login_unauthenticated, login_rate_limited;
	int round_expected;		/* hellos the current round waits for */
	/* idle */
	long rss_before_kb, rss_after_kb, hwm_after_kb;
	int exit_code;
};

/* main.c */
uint64_t qb_now_ns(void);
void qb_finish(struct qb_bench *b, int code);

/* conns.c */
int qb_conns_create(struct qb_bench *b);
void qb_conns_free(struct qb_bench *b);
void qb_conns_connect_more(struct qb_bench *b);
int qb_conn_send(struct qb_conn *c, enum qb_op op, uint64_t due_ns, int counted, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void qb_conns_sweep(struct qb_bench *b, uint64_t now);

/* scenarios.c */
void qb_scenario_start(struct qb_bench *b);
void qb_scenario_tick(struct qb_bench *b, uint64_t now);
void qb_scenario_answer(struct qb_conn *c, struct qb_inflight f, int ok, const char *line, size_t len, uint64_t now);
void qb_scenario_event(struct qb_conn *c, const char *line, size_t len, uint64_t now);
void qb_scenario_pump(struct qb_bench *b);
int qb_backlog_init(struct qb_backlog *q, unsigned cap);
void qb_backlog_free(struct qb_backlog *q);

/* report.c */
void qb_hist_add(struct qb_hist *h, uint64_t us);
uint64_t qb_hist_percentile(const struct qb_hist *h, double pct);
void qb_errors_count_code(struct qb_errors *e, const char *line, size_t len);
uint64_t qb_errors_total(const struct qb_errors *e);
long qb_read_rss_kb(long pid, const char *field);
void qb_report(struct qb_bench *b);
const char *qb_op_name(enum qb_op op);
const char *qb_scenario_name(enum qb_scenario s);

#endif
