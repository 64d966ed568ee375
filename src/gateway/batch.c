/* Group commit. The writes of one loop iteration share one transaction;
 * its COMMIT, the one disk wait they all share, runs on the committer
 * thread while the loop goes on reading; answers go out after it returns,
 * so no success is ever reported for a write that a crash could still
 * lose. While it runs, the loop's thread leaves the connection alone:
 * requests that need the database are parked and dispatched when it ends
 * (a writer from elsewhere, a timer say, waits for it instead). */
#include "gateway/batch.h"

#include "core/log.h"
#include "gateway/appcache.h"
#include "gateway/request_tx.h"
#include "gateway/server.h"

#include <stdlib.h>

struct batch_committer {
    struct server *srv;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    uv_async_t done_async; /* wakes the loop when a commit has ended */
    db_stmt *commit;       /* prepared on the loop thread */
    bool want, done, stop; /* under mu */
    int rc;                /* under mu: the COMMIT's SQLite result */
};

static void on_check(uv_check_t *h);

static void on_idle(uv_idle_t *h)
{
    OG_UNUSED(h);
}

static void committer_thread(void *arg)
{
    struct batch_committer *c = arg;
    uv_mutex_lock(&c->mu);
    for (;;) {
        while (!c->want && !c->stop)
            uv_cond_wait(&c->cv, &c->mu);
        if (c->want) {
            c->want = false;
            db_stmt *st = c->commit;
            uv_mutex_unlock(&c->mu);
            int rc = db_step(st);
            db_reset(st);
            uv_mutex_lock(&c->mu);
            c->rc = rc;
            c->done = true;
            uv_cond_broadcast(&c->cv);
            uv_async_send(&c->done_async);
            continue;
        }
        break; /* stop, and nothing asked */
    }
    uv_mutex_unlock(&c->mu);
}

/* The requests that waited for a commit to end; only from the loop's own
 * callbacks (never from inside another module's call). */
static void run_parked(struct server *s)
{
    struct batch *b = &s->batch;
    if (b->committing || !b->parked_count)
        return;
    struct http_request **parked = b->parked;
    size_t n = b->parked_count;
    b->parked = NULL;
    b->parked_count = b->parked_cap = 0;
    for (size_t i = 0; i < n; i++) {
        if (b->committing) {
            /* One of them committed (a flush): the rest wait again. */
            batch_park(s, parked[i]);
            continue;
        }
        parked[i]->route->handler(parked[i]);
    }
    free(parked);
}

/* After a commit has ended (ok or not): the hook, then the answers. Only
 * from the loop's own callbacks. */
static void finish_commit(struct server *s)
{
    struct batch *b = &s->batch;
    if (!b->finish_pending)
        return;
    b->finish_pending = false;
    bool ok = b->finish_ok;
    b->commits++;
    b->grouped += b->inflight_count;
    if (b->after_commit)
        b->after_commit(s, ok);
    struct batch_answer *list = b->inflight;
    size_t n = b->inflight_count;
    b->inflight = NULL;
    b->inflight_count = 0;
    for (size_t i = 0; i < n; i++) {
        struct batch_answer *a = &list[i];
        if (ok) {
            http_respond(a->req, a->status, a->body ? a->content_type : NULL, a->body, a->len);
        } else {
            http_header_add(a->req, "Retry-After", "1");
            http_respond_error_json(a->req, 503, "storage_unavailable",
                                    "the change could not be saved; try again");
        }
        free(a->body);
    }
    free(list);
}

/* Takes the committer's result if the commit has ended (with wait, waits
 * for it): the connection is free again; finish_commit answers later. */
static void commit_ended(struct server *s, bool wait)
{
    struct batch *b = &s->batch;
    struct batch_committer *c = b->committer;
    if (!b->committing)
        return;
    uv_mutex_lock(&c->mu);
    while (wait && !c->done)
        uv_cond_wait(&c->cv, &c->mu);
    bool done = c->done;
    int rc = c->rc;
    c->done = false;
    uv_mutex_unlock(&c->mu);
    if (!done)
        return;
    b->committing = false;
    b->finish_ok = rc == DB_DONE;
    b->finish_pending = true;
    if (!b->finish_ok) {
        log_error("group commit failed: answering 503 to the batch", "error",
                  store_errmsg(s->store));
        store_rollback(s->store);
    }
}

static void on_committer_closed(uv_handle_t *h)
{
    free(container_of(h, struct batch_committer, done_async));
}

static void on_commit_done(uv_async_t *h)
{
    struct batch_committer *c = h->data;
    commit_ended(c->srv, false);
    finish_commit(c->srv);
    run_parked(c->srv);
}

int batch_init(struct server *s, char *err, size_t errlen)
{
    struct batch *b = &s->batch;
    memset(b, 0, sizeof(*b));
    b->data_version = -1;
    uv_check_init(s->loop, &b->check);
    uv_idle_init(s->loop, &b->idle);
    /* The app cache is checked against the transactions opened here. */
    s->apps = appcache_new();
    if (s->pool)
        return OG_OK; /* PostgreSQL: a transaction per request (request_tx.h) */
    struct batch_committer *c = og_calloc(1, sizeof(*c));
    c->srv = s;
    c->commit = store_stmt(s->store, "COMMIT");
    if (!c->commit || uv_mutex_init(&c->mu) != 0 || uv_cond_init(&c->cv) != 0) {
        snprintf(err, errlen, "cannot prepare the group commit");
        free(c);
        return OG_ERR_DB;
    }
    uv_async_init(s->loop, &c->done_async, on_commit_done);
    c->done_async.data = c;
    uv_unref((uv_handle_t *)&c->done_async);
    if (uv_thread_create(&c->thread, committer_thread, c) != 0) {
        snprintf(err, errlen, "cannot start the commit thread");
        uv_close((uv_handle_t *)&c->done_async, on_committer_closed);
        return OG_ERR_IO;
    }
    b->committer = c;
    return OG_OK;
}

void batch_set_after_commit(struct server *s, void (*fn)(struct server *s, bool ok))
{
    s->batch.after_commit = fn;
}

bool batch_busy(const struct server *s)
{
    return s->batch.committing;
}

void batch_park(struct server *s, struct http_request *req)
{
    struct batch *b = &s->batch;
    if (b->parked_count == b->parked_cap) {
        b->parked_cap = b->parked_cap ? b->parked_cap * 2 : 64;
        b->parked = og_realloc(b->parked, b->parked_cap * sizeof(*b->parked));
    }
    b->parked[b->parked_count++] = req;
}

/* Starts the commit of the open batch on the committer thread (or, with
 * sync, waits for it here). Only from the loop's own callbacks. */
static void start_commit(struct server *s, bool sync)
{
    struct batch *b = &s->batch;
    struct batch_committer *c = b->committer;
    uv_check_stop(&b->check);
    uv_idle_stop(&b->idle);
    finish_commit(s); /* the last one's answers first, in order */
    if (!b->open || b->committing)
        return;
    b->open = false;
    b->data_version = -1;
    b->inflight = b->answers;
    b->inflight_count = b->count;
    b->answers = NULL;
    b->count = b->cap = 0;
    if (b->failed) {
        log_error("group commit skipped after a store error: answering 503 to the batch");
        store_rollback(s->store);
        b->finish_ok = false;
        b->finish_pending = true;
        finish_commit(s);
        return;
    }
    b->committing = true;
    uv_mutex_lock(&c->mu);
    c->want = true;
    uv_cond_signal(&c->cv);
    uv_mutex_unlock(&c->mu);
    if (sync) {
        commit_ended(s, true);
        finish_commit(s);
    }
}

static void on_check(uv_check_t *h)
{
    struct server *s = container_of(h, struct server, batch.check);
    if (s->batch.committing) {
        uv_idle_stop(&s->batch.idle); /* no spinning: the commit's end wakes the loop */
        return;
    }
    start_commit(s, false);
}

void batch_flush(struct server *s)
{
    struct batch *b = &s->batch;
    if (!b->committer)
        return;
    for (;;) {
        commit_ended(s, true);
        finish_commit(s);
        if (b->open) {
            start_commit(s, true);
            continue;
        }
        if (!b->parked_count)
            break;
        run_parked(s); /* they may open a batch: once more */
    }
}

void batch_close(struct server *s)
{
    struct batch *b = &s->batch;
    /* Commit what is open now: nothing may be left for a loop that ends. */
    batch_flush(s);
    b->closed = true;
    struct batch_committer *c = b->committer;
    if (c) {
        uv_mutex_lock(&c->mu);
        c->stop = true;
        uv_cond_signal(&c->cv);
        uv_mutex_unlock(&c->mu);
        uv_thread_join(&c->thread);
        uv_cond_destroy(&c->cv);
        uv_mutex_destroy(&c->mu);
        uv_close((uv_handle_t *)&c->done_async, on_committer_closed);
        b->committer = NULL;
    }
    appcache_free(s->apps);
    s->apps = NULL;
    if (!uv_is_closing((uv_handle_t *)&b->check))
        uv_close((uv_handle_t *)&b->check, NULL);
    if (!uv_is_closing((uv_handle_t *)&b->idle))
        uv_close((uv_handle_t *)&b->idle, NULL);
}

int batch_request_begin(struct server *s)
{
    struct batch *b = &s->batch;
    if (s->pool)
        return request_tx_savepoint();
    /* A writer that did not come through a parked request (a timer, a
     * finished send) waits for the running commit; its answers go out
     * from the loop's own callback right after. */
    if (b->committing)
        commit_ended(s, true);
    if (!b->open && !b->closed) {
        if (store_begin(s->store) != OG_OK) {
            log_error("cannot begin a transaction", "error", store_errmsg(s->store));
            return OG_ERR_DB;
        }
        b->open = true;
        b->failed = false;
        /* What other processes committed, as of this transaction's
         * snapshot; they cannot commit more until it ends. */
        if (store_data_version(s->store, &b->data_version) != OG_OK)
            b->data_version = -1;
        uv_check_start(&b->check, on_check);
        uv_idle_start(&b->idle, on_idle);
    }
    if (store_run(s->store, "SAVEPOINT req") != OG_OK) {
        log_error("cannot open a savepoint", "error", store_errmsg(s->store));
        return OG_ERR_DB;
    }
    return OG_OK;
}

void batch_request_end(struct server *s, bool keep)
{
    if (s->pool) {
        request_tx_release(keep);
        return;
    }
    if (!keep && store_run(s->store, "ROLLBACK TO req") != OG_OK)
        s->batch.failed = true;
    if (store_run(s->store, "RELEASE req") != OG_OK)
        s->batch.failed = true;
}

void batch_answer(struct server *s, struct http_request *req, int status, const char *content_type,
                  char *body, size_t len)
{
    struct batch *b = &s->batch;
    if (!b->open || s->pool) {
        /* Nothing to wait for, or (PostgreSQL) request_tx holds the answer
         * until the request's commit: answer now. */
        http_respond(req, status, body ? content_type : NULL, body, len);
        free(body);
        return;
    }
    if (b->count == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->answers = og_realloc(b->answers, b->cap * sizeof(*b->answers));
    }
    b->answers[b->count++] = (struct batch_answer){req, status, content_type, body, len};
}
