/* Prometheus counters of the gateway: requests by route and status,
 * a latency histogram per route, and named event counters that later
 * modules add (codes sent, verifications, refusals). Rendered as text
 * exposition format 0.0.4. One mutex, so that handlers on PostgreSQL's
 * database workers (dbpool.h) count too. */
#ifndef OTPGATE_METRICS_H
#define OTPGATE_METRICS_H

#include "core/buf.h"
#include "gateway/http/router.h"

#include <uv.h>

#define METRICS_BUCKETS  14
#define METRICS_STATUSES 24

struct metrics_route {
    struct {
        int status;
        uint64_t count;
    } by_status[METRICS_STATUSES];
    uint64_t buckets[METRICS_BUCKETS]; /* cumulative on render, not here */
    uint64_t count;
    double sum;
};

struct metrics_counter;
struct metrics_hist;

struct metrics {
    const struct route *routes;
    size_t route_count;
    struct metrics_route *per_route; /* route_count + 1; last is unmatched */
    struct metrics_counter *counters;
    struct metrics_hist *hists;
    uint64_t start_ms;
    uv_mutex_t mu;
};

void metrics_init(struct metrics *m, const struct route *routes, size_t route_count);
void metrics_free(struct metrics *m);
/* Counts one answered request; route_index -1 means unmatched. */
void metrics_observe(struct metrics *m, int route_index, int status, double seconds);
/* Adds v to the counter name{labels}; labels is the text inside braces
 * (e.g. "channel=\"sms\"") or "" for none. help is used the first time. */
void metrics_count(struct metrics *m, const char *name, const char *help, const char *labels,
                   uint64_t v);
/* Observes seconds in the histogram name{labels} (buckets from 10 ms to
 * 5 min, for slow things such as deliveries). */
void metrics_observe_seconds(struct metrics *m, const char *name, const char *help,
                             const char *labels, double seconds);
/* Appends the whole exposition; gauges are the caller's extra lines. */
void metrics_render(const struct metrics *m, struct buf *out);

/* Counts held back (PostgreSQL: a request on a database worker may be run
 * again, and only the run that commits counts). While held on a thread,
 * metrics_count there adds to h instead; metrics_apply adds h's counts to m
 * and empties it. */
struct metrics_held {
    struct metrics_held_count *items;
    size_t count, cap;
};
void metrics_hold(struct metrics_held *h); /* empties h, holds this thread's counts */
void metrics_unhold(void);                 /* counts go to their metrics again */
void metrics_held_clear(struct metrics_held *h);
void metrics_apply(struct metrics *m, struct metrics_held *h);

#endif
