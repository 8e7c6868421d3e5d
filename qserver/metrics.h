/* metrics.c: counters of what qserver does, served as GET /metrics in the Prometheus text
 * format. Every label takes its value from a fixed list (the op table's ops, the protocol's
 * error codes, roles, transports), so memory stays bounded whatever clients send. */
#ifndef METRICS_H
#define METRICS_H

#include <time.h>

struct op;
struct evhttp_request;

enum metrics_transport { METRICS_NDJSON, METRICS_SSE, METRICS_TRANSPORTS };
enum metrics_link { METRICS_LINK_COMMAND, METRICS_LINK_PUBSUB, METRICS_LINKS };

int metrics_allow_parse(const char *list);
void metrics_request(const struct op *op, const char *error_code, const struct timespec *started);
void metrics_http_error(const char *code);
void metrics_event_delivered(enum metrics_transport t);
void metrics_slow_reader_dropped(enum metrics_transport t);
void metrics_events_resync(void);
void metrics_redis_reconnect(enum metrics_link link);
void metrics_redis_failover(void);
void metrics_login_failure(void);
void metrics_login_lockout(int by_address);
void metrics_login_refused(void);
void metrics_webhook(const char *result);
void metrics_reload(int ok);
void metrics_http_handle(struct evhttp_request *req);

#endif
