/* One request, one transaction, on a database worker. The handler is run
 * again from the start after a conflict, so everything it does outside
 * the transaction must be undone or held back until the commit: the
 * answer is recorded here (http_respond comes here on a worker), response
 * headers are cut back to what they were, metrics_count calls are held
 * (metrics_hold), code messages the run claimed are dropped with it
 * (delivery_worker_drop), and delivery learns of other queued messages
 * from the loop afterwards (delivery_after_request). Work committed apart
 * (store_apart_begin: an SMS cap's slot) is not done again by a later
 * run (store_scope). */
#include "gateway/request_tx.h"

#include "core/log.h"
#include "gateway/dbpool.h"
#include "gateway/http/router.h"
#include "gateway/server.h"

#include <stdlib.h>

struct request_job {
    struct dbpool_job base;
    struct http_request *req;
    size_t headers_len; /* of req->resp_headers at dispatch */
    bool answered;
    bool savepoint_failed; /* a savepoint could not be ended: the work is not whole */
    int status;
    char *content_type;
    char *body;
    size_t len;
    struct delivery_job *claimed; /* messages to start after the commit */
    bool committed;
    struct metrics_held counts; /* the committed run's metrics_count calls */
    unsigned conflicts;         /* runs rolled back for meeting another transaction */
    bool alone;                 /* a run began as STORE_TXN_ALONE */
};

static _Thread_local struct request_job *running;

bool request_tx_active(void)
{
    return running != NULL;
}

static void forget_answer(struct request_job *j)
{
    free(j->content_type);
    free(j->body);
    j->content_type = j->body = NULL;
    j->len = 0;
    j->answered = false;
    j->req->responded = false;
    j->req->resp_headers.len = j->headers_len;
}

bool request_tx_record(struct http_request *req, int status, const char *content_type,
                       const void *body, size_t len)
{
    struct request_job *j = running;
    if (!j || j->req != req)
        return false;
    if (j->answered) {
        log_error("handler answered twice", "route", req->route ? req->route->pattern : "");
        return true;
    }
    j->answered = true;
    j->status = status;
    j->content_type = content_type ? og_strdup(content_type) : NULL;
    j->body = len ? og_malloc(len) : NULL;
    if (len)
        memcpy(j->body, body, len);
    j->len = len;
    return true;
}

int request_tx_savepoint(void)
{
    struct store *db = dbpool_store();
    if (!running || !db || !store_in_transaction(db))
        return OG_ERR_DB;
    return store_run(db, "SAVEPOINT req") == OG_OK ? OG_OK : OG_ERR_DB;
}

void request_tx_release(bool keep)
{
    struct store *db = dbpool_store();
    if (!running || !db)
        return;
    if (!keep && store_run(db, "ROLLBACK TO req") != OG_OK)
        running->savepoint_failed = true;
    if (store_run(db, "RELEASE req") != OG_OK)
        running->savepoint_failed = true;
}

/* Replaces whatever the handler answered with 503 and Retry-After. */
static void answer_unavailable(struct request_job *j, const char *why)
{
    forget_answer(j);
    http_header_add(j->req, "Retry-After", "1");
    running = j;
    http_respond_error(j->req, 503, "storage_unavailable", why);
    running = NULL;
}

static void run_handler(struct request_job *j);

static void work(struct dbpool_job *base)
{
    struct request_job *j = container_of(base, struct request_job, base);
    store_scope(dbpool_store(), true); /* its runs share what was done apart */
    run_handler(j);
    store_scope(dbpool_store(), false);
    metrics_unhold();
    if (!j->committed) {
        delivery_worker_drop(); /* the rows are as they were */
        metrics_held_clear(&j->counts);
    }
}

static void run_handler(struct request_job *j)
{
    struct http_request *req = j->req;
    struct store *db = dbpool_store();
    for (int run = 0;; run++) {
        dbpool_pause(run);
        forget_answer(j);
        delivery_worker_drop();   /* claims of a run that was rolled back */
        metrics_hold(&j->counts); /* and its counts */
        j->savepoint_failed = false;
        bool last = run + 1 >= DBPOOL_RUNS_MAX;
        enum store_txn kind = run < DBPOOL_RUNS_SHARED ? STORE_TXN_SHARED : STORE_TXN_ALONE;
        if (store_begin_as(db, kind) != OG_OK) {
            if (!last)
                continue; /* a lost connection is made again on the next BEGIN */
            log_error("database unavailable: answering 503", "error", store_errmsg(db));
            answer_unavailable(j, "the database is not reachable; try again");
            return;
        }
        j->alone = kind == STORE_TXN_ALONE;
        running = j;
        req->route->handler(req);
        running = NULL;
        if (!j->answered) {
            log_error("handler did not answer on the database worker", "route",
                      req->route->pattern);
            forget_answer(j);
            running = j;
            http_respond_error(req, 500, "internal_error", "the request could not be handled");
            running = NULL;
        }
        if (store_txn_conflicted(db)) {
            store_rollback(db);
            j->conflicts++;
            if (!last)
                continue;
            log_warn("request kept conflicting with others: answering 503", "route",
                     req->route->pattern);
            answer_unavailable(j, "the change could not be saved; try again");
            return;
        }
        if (j->savepoint_failed) {
            store_rollback(db);
            log_error("a savepoint could not be ended: answering 503", "error", store_errmsg(db));
            answer_unavailable(j, "the change could not be saved; try again");
            return;
        }
        int rc = store_commit(db);
        if (rc == OG_OK) {
            j->claimed = delivery_worker_take();
            j->committed = true;
            return;
        }
        store_rollback(db);
        if (rc == OG_ERR_BUSY)
            j->conflicts++;
        if (rc == OG_ERR_BUSY && !last)
            continue;
        if (rc == OG_ERR_BUSY) {
            log_warn("request kept conflicting with others: answering 503", "route",
                     req->route->pattern);
            answer_unavailable(j, "the change could not be saved; try again");
            return;
        }
        /* A COMMIT that failed otherwise (its outcome unknown when the
         * connection broke) is not run again: a code may have been used. */
        log_error("commit failed: answering 503", "error", store_errmsg(db));
        answer_unavailable(j, "the change could not be saved; try again");
        return;
    }
}

static void done(struct dbpool_job *base)
{
    struct request_job *j = container_of(base, struct request_job, base);
    struct http_request *req = j->req;
    struct server *s = req->srv;
    req->responded = false;
    metrics_apply(&s->metrics, &j->counts);
    if (j->conflicts)
        metrics_count(&s->metrics, "otpgate_db_conflicts_total",
                      "Runs of request transactions rolled back for meeting another", "",
                      j->conflicts);
    if (j->alone)
        metrics_count(&s->metrics, "otpgate_db_runs_alone_total",
                      "Requests that met others again and again and ran alone", "", 1);
    delivery_start_claimed(s, j->claimed); /* before the answer, as on SQLite */
    if (j->answered)
        http_respond(req, j->status, j->content_type, j->body, j->len);
    free(j->content_type);
    free(j->body);
    free(j);
    delivery_after_request(s);
}

void request_tx_dispatch(struct http_request *req)
{
    struct request_job *j = og_calloc(1, sizeof(*j));
    j->base.work = work;
    j->base.done = done;
    j->req = req;
    j->headers_len = req->resp_headers.len;
    dbpool_submit(req->srv, &j->base);
}
