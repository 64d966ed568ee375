/* Group commit. The writes of one loop iteration share one transaction,
 * handed to the committer thread, which runs its COMMIT (WAL writes only)
 * and then flushes the WAL (store_sync_wal): the one disk wait the batch's
 * requests share. Answers go out after the flush, so no success is ever
 * reported for a write that a crash could still lose; answers that read
 * the database while commits were on their way wait too (batch_hold).
 * While the COMMIT runs, the loop's thread leaves the connection alone:
 * requests that need the database are parked and dispatched when it ends
 * (a writer from elsewhere, a timer say, waits for it instead); during the
 * flush the next batch runs and stays open until the committer is free. */
#include "gateway/batch.h"

#include "core/log.h"
#include "gateway/appcache.h"
#include "gateway/http/router.h"
#include "gateway/request_tx.h"
#include "gateway/server.h"

#include <stdlib.h>

struct batch_committer {
    struct server *srv;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    uv_async_t done_async; /* wakes the loop when a commit or a sync has ended */
    db_stmt *commit;       /* prepared on the loop thread */
    bool deferred;         /* store_defer_sync took: sync after each COMMIT */
    bool want, done, stop; /* under mu */
    uint64_t want_seq;     /* under mu: the commit asked for */
    int rc;                /* under mu: the COMMIT's SQLite result */
    uint64_t synced;       /* under mu: commits up to this one are over */
    uint64_t sync_failed;  /* under mu: the last commit whose sync failed */
};

/* One commit's answers, kept until it is durable (or has failed). */
struct batch_group {
    struct batch_group *next;
    struct batch_answer *answers;
    size_t count, cap;
    void *token; /* the after-commit hook's */
    uint64_t seq;
    bool failed; /* the COMMIT failed, or was never run */
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
        if (!c->want)
            break; /* stop, and nothing asked */
        c->want = false;
        uint64_t seq = c->want_seq;
        db_stmt *st = c->commit;
        uv_mutex_unlock(&c->mu);
        int rc = db_step(st);
        db_reset(st);
        uv_mutex_lock(&c->mu);
        c->rc = rc;
        c->done = true;
        uv_cond_broadcast(&c->cv);
        uv_async_send(&c->done_async);
        /* The connection is the loop's again; the disk works on. */
        int sync_rc = OG_OK;
        if (rc == DB_DONE && c->deferred) {
            uv_mutex_unlock(&c->mu);
            sync_rc = store_sync_wal(c->srv->store);
            uv_mutex_lock(&c->mu);
        }
        if (sync_rc != OG_OK)
            c->sync_failed = seq;
        c->synced = seq;
        uv_cond_broadcast(&c->cv);
        uv_async_send(&c->done_async);
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

static void commit_ended(struct server *s, bool wait);

static void answers_add(struct batch_answer **list, size_t *count, size_t *cap,
                        struct batch_answer a)
{
    if (*count == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *list = og_realloc(*list, *cap * sizeof(**list));
    }
    (*list)[(*count)++] = a;
}

/* To the answers of a commit on its way, or of the open batch. */
static void group_add(struct batch_group *g, struct batch_answer a)
{
    answers_add(&g->answers, &g->count, &g->cap, a);
}

static void open_add(struct batch *b, struct batch_answer a)
{
    answers_add(&b->answers, &b->count, &b->cap, a);
}

/* Answers, oldest first, every group whose commit is durable or failed:
 * the hook, then the answers. With wait, waits for all of them. Only from
 * the loop's own callbacks. */
static void finish_groups(struct server *s, bool wait)
{
    struct batch *b = &s->batch;
    struct batch_committer *c = b->committer;
    while (b->groups) {
        struct batch_group *g = b->groups;
        if (b->committing && g == b->groups_tail) {
            /* Its COMMIT's result is not taken yet: a failed one must
             * never pass for a durable one. */
            if (!wait)
                return;
            commit_ended(s, true);
        }
        uv_mutex_lock(&c->mu);
        while (wait && !g->failed && c->synced < g->seq)
            uv_cond_wait(&c->cv, &c->mu);
        bool over = g->failed || c->synced >= g->seq;
        bool sync_failed = c->sync_failed >= g->seq;
        uv_mutex_unlock(&c->mu);
        if (!over)
            return;
        bool ok = !g->failed && !sync_failed;
        if (sync_failed && !g->failed)
            log_error("the disk did not confirm a commit: answering 503 to the batch");
        b->groups = g->next;
        if (!b->groups)
            b->groups_tail = NULL;
        b->commits++;
        b->grouped += g->count;
        if (b->after_commit)
            b->after_commit(s, ok, g->token);
        for (size_t i = 0; i < g->count; i++) {
            struct batch_answer *a = &g->answers[i];
            a->req->durable = true;
            if (ok) {
                const char *ct = a->body || a->content_type_copy ? a->content_type : NULL;
                http_respond(a->req, a->status, ct, a->body, a->len);
            } else {
                buf_clear(&a->req->resp_headers);
                http_header_add(a->req, "Retry-After", "1");
                http_respond_error_json(a->req, 503, "storage_unavailable",
                                        "the change could not be saved; try again");
            }
            free(a->body);
            free(a->content_type_copy);
        }
        free(g->answers);
        free(g);
    }
}

/* Takes the committer's result if the COMMIT has ended (with wait, waits
 * for it): the connection is free again; finish_groups answers once the
 * commit is durable. */
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
    if (rc != DB_DONE) {
        log_error("group commit failed: answering 503 to the batch", "error",
                  store_errmsg(s->store));
        store_rollback(s->store);
        b->groups_tail->failed = true; /* the group committing was the last */
    }
}

static bool committer_busy(struct server *s);
static void start_commit(struct server *s, bool sync);

static void on_committer_closed(uv_handle_t *h)
{
    free(container_of(h, struct batch_committer, done_async));
}

static void on_commit_done(uv_async_t *h)
{
    struct batch_committer *c = h->data;
    struct server *s = c->srv;
    commit_ended(s, false);
    finish_groups(s, false);
    run_parked(s);
    if (s->batch.open && !s->batch.committing && !committer_busy(s))
        start_commit(s, false);
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
    /* Without its own WAL descriptor (an in-memory database) every COMMIT
     * waits for the disk itself, as synchronous=FULL has it. */
    char why[256];
    c->deferred = store_defer_sync(s->store, why, sizeof(why)) == OG_OK;
    if (!c->deferred)
        log_info("commits wait for the disk themselves", "reason", why);
    uv_async_init(s->loop, &c->done_async, on_commit_done);
    c->done_async.data = c;
    uv_unref((uv_handle_t *)&c->done_async);
    if (uv_thread_create(&c->thread, committer_thread, c) != 0) {
        snprintf(err, errlen, "cannot start the commit thread");
        store_undefer_sync(s->store);
        uv_close((uv_handle_t *)&c->done_async, on_committer_closed);
        return OG_ERR_IO;
    }
    b->committer = c;
    return OG_OK;
}

void batch_set_after_commit(struct server *s, void *(*detach)(struct server *s),
                            void (*fn)(struct server *s, bool ok, void *token))
{
    s->batch.detach = detach;
    s->batch.after_commit = fn;
}

bool batch_busy(const struct server *s)
{
    return s->batch.committing;
}

bool batch_idle(const struct server *s)
{
    return !s->batch.open && !s->batch.committing;
}

bool batch_hold(struct http_request *req, int status, const char *content_type, const void *body,
                size_t len)
{
    struct server *s = req->srv;
    struct batch *b = &s->batch;
    const struct route *rt = req->route;
    if (req->durable || s->pool || !rt || (rt->flags & ROUTE_NO_STORE))
        return false;
    if (!b->open && !b->groups_tail)
        return false;
    /* It may have read what the open batch or the commits still on their
     * way wrote: it waits for them. */
    char *copy = NULL;
    if (len) {
        copy = og_malloc(len);
        memcpy(copy, body, len);
    }
    char *ct = content_type ? og_strdup(content_type) : NULL;
    struct batch_answer a = {req, status, ct, copy, len, ct};
    if (b->open)
        open_add(b, a);
    else
        group_add(b->groups_tail, a);
    return true;
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
 * sync, waits here until it is durable). Only from the loop's own
 * callbacks. */
static void start_commit(struct server *s, bool sync)
{
    struct batch *b = &s->batch;
    struct batch_committer *c = b->committer;
    uv_check_stop(&b->check);
    uv_idle_stop(&b->idle);
    finish_groups(s, false); /* what is durable already, first */
    if (!b->open || b->committing)
        return;
    b->open = false;
    b->data_version = -1;
    struct batch_group *g = og_calloc(1, sizeof(*g));
    g->answers = b->answers;
    g->count = b->count;
    g->cap = b->cap;
    /* A batch that failed before its COMMIT never reaches the committer:
     * it takes the number of the commit before it, and waits for that. */
    g->seq = b->failed ? b->seq : ++b->seq;
    g->token = b->detach ? b->detach(s) : NULL;
    b->answers = NULL;
    b->count = b->cap = 0;
    if (b->groups_tail)
        b->groups_tail->next = g;
    else
        b->groups = g;
    b->groups_tail = g;
    if (b->failed) {
        log_error("group commit skipped after a store error: answering 503 to the batch");
        store_rollback(s->store);
        g->failed = true;
        finish_groups(s, sync);
        return;
    }
    b->committing = true;
    uv_mutex_lock(&c->mu);
    c->want = true;
    c->want_seq = g->seq;
    uv_cond_signal(&c->cv);
    uv_mutex_unlock(&c->mu);
    if (sync) {
        commit_ended(s, true);
        finish_groups(s, true);
    }
}

/* True while the committer still works on a commit handed to it (its
 * COMMIT or its sync). */
static bool committer_busy(struct server *s)
{
    struct batch_committer *c = s->batch.committer;
    uv_mutex_lock(&c->mu);
    bool busy = c->synced < s->batch.seq;
    uv_mutex_unlock(&c->mu);
    return busy;
}

static void on_check(uv_check_t *h)
{
    struct server *s = container_of(h, struct server, batch.check);
    /* While the disk works on the last commit, the open batch takes in
     * whatever comes: it is committed as soon as the disk is free, and
     * the more it holds then, the fewer syncs per answer. */
    if (s->batch.committing || committer_busy(s)) {
        uv_idle_stop(&s->batch.idle); /* no spinning: the committer wakes the loop */
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
        finish_groups(s, true);
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
        store_undefer_sync(s->store); /* what is written from now on waits for the disk */
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
        /* No batch open (the answer may still wait, in batch_hold, for
         * commits on their way), or (PostgreSQL) request_tx holds the
         * answer until the request's commit. */
        http_respond(req, status, body ? content_type : NULL, body, len);
        free(body);
        return;
    }
    open_add(b, (struct batch_answer){req, status, content_type, body, len, NULL});
}
