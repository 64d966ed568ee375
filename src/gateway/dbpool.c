/* The worker threads of PostgreSQL storage. One mutex guards the queue of
 * jobs to run and the list of jobs run; a uv_async wakes the loop for the
 * latter. Workers are plain uv threads, not libuv's thread pool, whose four
 * threads the e-mail sends and the console's password hashing already
 * share. */
#include "gateway/dbpool.h"

#include "core/log.h"
#include "gateway/appcache.h"
#include "gateway/server.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct dbpool_worker {
    struct dbpool *pool;
    uv_thread_t thread;
    bool started;
    struct store *store;
    struct appcache *apps;
};

struct dbpool {
    struct server *srv;
    uv_mutex_t mu;
    uv_cond_t work_cv; /* a job was queued, or stop */
    uv_cond_t done_cv; /* a job was run */
    struct dbpool_job *queue_head, *queue_tail;
    struct dbpool_job *done_head, *done_tail;
    unsigned in_flight; /* queued or running or run but not done: under mu */
    bool stop;
    uv_async_t wake;
    struct dbpool_worker *workers;
    unsigned nworkers;
};

static _Thread_local struct dbpool_worker *self;

struct store *dbpool_store(void)
{
    return self ? self->store : NULL;
}

struct appcache *dbpool_apps(void)
{
    return self ? self->apps : NULL;
}

void dbpool_pause(int run)
{
    if (run <= 0)
        return;
    uint16_t r = 0;
    RAND_bytes((unsigned char *)&r, sizeof(r));
    long us = (long)(r % 1000u) * (1L << (run < 6 ? run : 6));
    struct timespec ts = {0, us * 1000L};
    nanosleep(&ts, NULL);
}

static void worker_main(void *arg)
{
    struct dbpool_worker *w = arg;
    struct dbpool *p = w->pool;
    self = w;
    uv_mutex_lock(&p->mu);
    for (;;) {
        while (!p->queue_head && !p->stop)
            uv_cond_wait(&p->work_cv, &p->mu);
        struct dbpool_job *j = p->queue_head;
        if (!j)
            break; /* stop, and nothing queued */
        p->queue_head = j->next;
        if (!p->queue_head)
            p->queue_tail = NULL;
        uv_mutex_unlock(&p->mu);
        j->work(j);
        if (store_in_transaction(w->store)) {
            log_error("a database job left its transaction open: rolled back");
            store_rollback(w->store);
        }
        uv_mutex_lock(&p->mu);
        j->next = NULL;
        if (p->done_tail)
            p->done_tail->next = j;
        else
            p->done_head = j;
        p->done_tail = j;
        uv_cond_broadcast(&p->done_cv);
        uv_async_send(&p->wake);
    }
    uv_mutex_unlock(&p->mu);
    self = NULL;
}

/* Runs the done callbacks of the jobs run so far. Loop thread. */
static void run_done(struct dbpool *p)
{
    uv_mutex_lock(&p->mu);
    struct dbpool_job *j = p->done_head;
    unsigned n = 0;
    for (struct dbpool_job *x = j; x; x = x->next)
        n++;
    p->done_head = p->done_tail = NULL;
    p->in_flight -= n;
    uv_mutex_unlock(&p->mu);
    while (j) {
        struct dbpool_job *next = j->next;
        j->done(j);
        j = next;
    }
}

static void on_wake(uv_async_t *h)
{
    run_done(h->data);
}

static void on_wake_closed(uv_handle_t *h)
{
    free(h->data);
}

static void pool_free(struct dbpool *p)
{
    for (unsigned i = 0; i < p->nworkers; i++) {
        store_close(p->workers[i].store);
        appcache_free(p->workers[i].apps);
    }
    free(p->workers);
    uv_cond_destroy(&p->done_cv);
    uv_cond_destroy(&p->work_cv);
    uv_mutex_destroy(&p->mu);
    /* p itself goes with the async handle's close. */
    uv_close((uv_handle_t *)&p->wake, on_wake_closed);
}

static void join_workers(struct dbpool *p)
{
    uv_mutex_lock(&p->mu);
    p->stop = true;
    uv_cond_broadcast(&p->work_cv);
    uv_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++)
        if (p->workers[i].started)
            uv_thread_join(&p->workers[i].thread);
}

int dbpool_start(struct server *s, const char *url, unsigned workers, char *err, size_t errlen)
{
    struct dbpool *p = og_calloc(1, sizeof(*p));
    p->srv = s;
    if (uv_mutex_init(&p->mu) != 0 || uv_cond_init(&p->work_cv) != 0 ||
        uv_cond_init(&p->done_cv) != 0) {
        snprintf(err, errlen, "cannot start the database workers");
        free(p);
        return OG_ERR_IO;
    }
    uv_async_init(s->loop, &p->wake, on_wake);
    p->wake.data = p;
    uv_unref((uv_handle_t *)&p->wake);
    p->workers = og_calloc(workers, sizeof(*p->workers));
    p->nworkers = workers;
    int rc = OG_OK;
    for (unsigned i = 0; rc == OG_OK && i < workers; i++) {
        struct dbpool_worker *w = &p->workers[i];
        w->pool = p;
        w->apps = appcache_new();
        rc = store_open(url, &w->store, err, errlen);
    }
    for (unsigned i = 0; rc == OG_OK && i < workers; i++) {
        struct dbpool_worker *w = &p->workers[i];
        if (uv_thread_create(&w->thread, worker_main, w) != 0) {
            snprintf(err, errlen, "cannot start the database workers");
            rc = OG_ERR_IO;
        } else {
            w->started = true;
        }
    }
    if (rc != OG_OK) {
        join_workers(p);
        pool_free(p);
        return rc;
    }
    s->pool = p;
    return OG_OK;
}

void dbpool_submit(struct server *s, struct dbpool_job *j)
{
    struct dbpool *p = s->pool;
    j->next = NULL;
    uv_mutex_lock(&p->mu);
    if (p->queue_tail)
        p->queue_tail->next = j;
    else
        p->queue_head = j;
    p->queue_tail = j;
    p->in_flight++;
    uv_cond_signal(&p->work_cv);
    uv_mutex_unlock(&p->mu);
}

void dbpool_drain(struct server *s)
{
    struct dbpool *p = s->pool;
    if (!p)
        return;
    for (;;) {
        uv_mutex_lock(&p->mu);
        while (p->in_flight > 0 && !p->done_head)
            uv_cond_wait(&p->done_cv, &p->mu);
        bool idle = p->in_flight == 0;
        uv_mutex_unlock(&p->mu);
        if (idle)
            return;
        run_done(p); /* may queue more (a delivery's next step): loop again */
        if (s->pool != p)
            return; /* an answer closed the last connection, and that stopped the pool */
    }
}

void dbpool_stop(struct server *s)
{
    struct dbpool *p = s->pool;
    if (!p)
        return;
    dbpool_drain(s);
    join_workers(p);
    run_done(p);
    s->pool = NULL;
    pool_free(p);
}
