/* Request counters and latency histograms for /metrics. Updated once per
 * answered request on the loop thread; the hot path is a few increments. */
#include "gateway/metrics.h"

#include <stdio.h>
#include <stdlib.h>

static const double bucket_bounds[METRICS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

static const double slow_bounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
#define SLOW_BUCKETS (sizeof(slow_bounds) / sizeof(slow_bounds[0]))

struct metrics_hist {
    struct metrics_hist *next;
    char *name;
    char *help;
    char *labels;
    uint64_t buckets[SLOW_BUCKETS];
    uint64_t count;
    double sum;
};

struct metrics_counter {
    struct metrics_counter *next;
    char *name;
    char *help;
    char *labels;
    uint64_t value;
};

void metrics_init(struct metrics *m, const struct route *routes, size_t route_count)
{
    m->routes = routes;
    m->route_count = route_count;
    m->per_route = og_calloc(route_count + 1, sizeof(*m->per_route));
    m->counters = NULL;
    m->hists = NULL;
    if (uv_mutex_init(&m->mu) != 0)
        og_oom();
}

void metrics_free(struct metrics *m)
{
    free(m->per_route);
    m->per_route = NULL;
    struct metrics_counter *c = m->counters;
    while (c) {
        struct metrics_counter *next = c->next;
        free(c->name);
        free(c->help);
        free(c->labels);
        free(c);
        c = next;
    }
    m->counters = NULL;
    struct metrics_hist *h = m->hists;
    while (h) {
        struct metrics_hist *next = h->next;
        free(h->name);
        free(h->help);
        free(h->labels);
        free(h);
        h = next;
    }
    m->hists = NULL;
    uv_mutex_destroy(&m->mu);
}

static void metrics_observe_seconds_unlocked(struct metrics *m, const char *name, const char *help,
                                             const char *labels, double seconds)
{
    struct metrics_hist **at = &m->hists, **after_family = NULL, *h = NULL;
    for (struct metrics_hist *c = m->hists; c; c = c->next) {
        if (strcmp(c->name, name) == 0) {
            if (strcmp(c->labels, labels) == 0) {
                h = c;
                break;
            }
            after_family = &c->next;
        }
        at = &c->next;
    }
    if (!h) {
        if (after_family)
            at = after_family;
        h = og_calloc(1, sizeof(*h));
        h->name = og_strdup(name);
        h->help = og_strdup(help);
        h->labels = og_strdup(labels);
        h->next = *at;
        *at = h;
    }
    h->count++;
    h->sum += seconds;
    for (size_t b = 0; b < SLOW_BUCKETS; b++) {
        if (seconds <= slow_bounds[b]) {
            h->buckets[b]++;
            break;
        }
    }
}

static void metrics_observe_unlocked(struct metrics *m, int route_index, int status, double seconds)
{
    size_t i = (route_index < 0 || (size_t)route_index >= m->route_count) ? m->route_count
                                                                          : (size_t)route_index;
    struct metrics_route *r = &m->per_route[i];
    for (size_t s = 0; s < METRICS_STATUSES; s++) {
        if (r->by_status[s].status == status || r->by_status[s].status == 0) {
            r->by_status[s].status = status;
            r->by_status[s].count++;
            break;
        }
    }
    r->count++;
    r->sum += seconds;
    for (size_t b = 0; b < METRICS_BUCKETS; b++) {
        if (seconds <= bucket_bounds[b]) {
            r->buckets[b]++;
            break;
        }
    }
}

static void metrics_count_unlocked(struct metrics *m, const char *name, const char *help,
                                   const char *labels, uint64_t v)
{
    /* Samples of one family stay together, as the exposition format needs:
     * a new label set goes right after the family's last one. */
    struct metrics_counter **at = &m->counters, **after_family = NULL;
    for (struct metrics_counter *c = m->counters; c; c = c->next) {
        if (strcmp(c->name, name) == 0) {
            if (strcmp(c->labels, labels) == 0) {
                c->value += v;
                return;
            }
            after_family = &c->next;
        }
        at = &c->next;
    }
    if (after_family)
        at = after_family;
    struct metrics_counter *c = og_calloc(1, sizeof(*c));
    c->name = og_strdup(name);
    c->help = og_strdup(help);
    c->labels = og_strdup(labels);
    c->value = v;
    c->next = *at;
    *at = c;
}

static const char *route_label(const struct metrics *m, size_t i)
{
    return i < m->route_count ? m->routes[i].pattern : "unmatched";
}

static void metrics_render_unlocked(const struct metrics *m, struct buf *out)
{
    buf_append_str(out, "# HELP otpgate_http_requests_total HTTP requests answered, by route "
                        "pattern and status.\n# TYPE otpgate_http_requests_total counter\n");
    for (size_t i = 0; i <= m->route_count; i++) {
        const struct metrics_route *r = &m->per_route[i];
        for (size_t s = 0; s < METRICS_STATUSES && r->by_status[s].status; s++)
            buf_printf(out, "otpgate_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                       route_label(m, i), r->by_status[s].status,
                       (unsigned long long)r->by_status[s].count);
    }
    buf_append_str(out, "# HELP otpgate_http_request_duration_seconds Time from a complete "
                        "request to its answer being queued.\n"
                        "# TYPE otpgate_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= m->route_count; i++) {
        const struct metrics_route *r = &m->per_route[i];
        if (!r->count)
            continue;
        uint64_t cum = 0;
        for (size_t b = 0; b < METRICS_BUCKETS; b++) {
            cum += r->buckets[b];
            buf_printf(out,
                       "otpgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                       "%llu\n",
                       route_label(m, i), bucket_bounds[b], (unsigned long long)cum);
        }
        buf_printf(out,
                   "otpgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                   "otpgate_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                   "otpgate_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                   route_label(m, i), (unsigned long long)r->count, route_label(m, i), r->sum,
                   route_label(m, i), (unsigned long long)r->count);
    }
    const char *last = "";
    for (const struct metrics_counter *c = m->counters; c; c = c->next) {
        if (strcmp(last, c->name) != 0)
            buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", c->name, c->help, c->name);
        last = c->name;
        if (c->labels[0])
            buf_printf(out, "%s{%s} %llu\n", c->name, c->labels, (unsigned long long)c->value);
        else
            buf_printf(out, "%s %llu\n", c->name, (unsigned long long)c->value);
    }
    last = "";
    for (const struct metrics_hist *h = m->hists; h; h = h->next) {
        if (strcmp(last, h->name) != 0)
            buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help, h->name);
        last = h->name;
        const char *sep = h->labels[0] ? "," : "";
        uint64_t cum = 0;
        for (size_t b = 0; b < SLOW_BUCKETS; b++) {
            cum += h->buckets[b];
            buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", h->name, h->labels, sep,
                       slow_bounds[b], (unsigned long long)cum);
        }
        buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n%s_sum{%s} %.6f\n%s_count{%s} %llu\n",
                   h->name, h->labels, sep, (unsigned long long)h->count, h->name, h->labels,
                   h->sum, h->name, h->labels, (unsigned long long)h->count);
    }
}

void metrics_observe_seconds(struct metrics *m, const char *name, const char *help,
                             const char *labels, double seconds)
{
    uv_mutex_lock(&m->mu);
    metrics_observe_seconds_unlocked(m, name, help, labels, seconds);
    uv_mutex_unlock(&m->mu);
}

void metrics_observe(struct metrics *m, int route_index, int status, double seconds)
{
    uv_mutex_lock(&m->mu);
    metrics_observe_unlocked(m, route_index, status, seconds);
    uv_mutex_unlock(&m->mu);
}

struct metrics_held_count {
    const char *name, *help; /* static strings */
    char *labels;
    uint64_t v;
};

static _Thread_local struct metrics_held *held;

void metrics_held_clear(struct metrics_held *h)
{
    for (size_t i = 0; i < h->count; i++)
        free(h->items[i].labels);
    h->count = 0;
}

void metrics_hold(struct metrics_held *h)
{
    metrics_held_clear(h);
    held = h;
}

void metrics_unhold(void)
{
    held = NULL;
}

void metrics_apply(struct metrics *m, struct metrics_held *h)
{
    for (size_t i = 0; i < h->count; i++)
        metrics_count(m, h->items[i].name, h->items[i].help, h->items[i].labels, h->items[i].v);
    metrics_held_clear(h);
    free(h->items);
    h->items = NULL;
    h->cap = 0;
}

void metrics_count(struct metrics *m, const char *name, const char *help, const char *labels,
                   uint64_t v)
{
    struct metrics_held *h = held;
    if (h) {
        if (h->count == h->cap) {
            h->cap = h->cap ? h->cap * 2 : 4;
            h->items = og_realloc(h->items, h->cap * sizeof(*h->items));
        }
        h->items[h->count++] =
            (struct metrics_held_count){name, help, labels ? og_strdup(labels) : NULL, v};
        return;
    }
    uv_mutex_lock(&m->mu);
    metrics_count_unlocked(m, name, help, labels, v);
    uv_mutex_unlock(&m->mu);
}

void metrics_render(const struct metrics *m, struct buf *out)
{
    uv_mutex_lock(&((struct metrics *)m)->mu);
    metrics_render_unlocked(m, out);
    uv_mutex_unlock(&((struct metrics *)m)->mu);
}
