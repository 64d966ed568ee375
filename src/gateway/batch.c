/* Group commit on the loop thread. The COMMIT is the one disk wait of an
 * iteration, shared by every request that wrote in it; answers go out after
 * it returns, so no success is ever reported for a write that a crash could
 * still lose. */
#include "gateway/batch.h"

#include "core/log.h"
#include "gateway/appcache.h"
#include "gateway/server.h"

#include <stdlib.h>

static void on_check(uv_check_t *h);

static void on_idle(uv_idle_t *h)
{
    OG_UNUSED(h);
}

void batch_init(struct server *s)
{
    memset(&s->batch, 0, sizeof(s->batch));
    s->batch.data_version = -1;
    uv_check_init(s->loop, &s->batch.check);
    uv_idle_init(s->loop, &s->batch.idle);
    /* The app cache is checked against the transactions opened here. */
    s->apps = appcache_new();
}

void batch_set_after_commit(struct server *s, void (*fn)(struct server *s, bool ok))
{
    s->batch.after_commit = fn;
}

void batch_close(struct server *s)
{
    /* Commit what is open now: nothing may be left for a loop that ends. */
    if (s->batch.open)
        on_check(&s->batch.check);
    s->batch.closed = true;
    appcache_free(s->apps);
    s->apps = NULL;
    if (!uv_is_closing((uv_handle_t *)&s->batch.check))
        uv_close((uv_handle_t *)&s->batch.check, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->batch.idle))
        uv_close((uv_handle_t *)&s->batch.idle, NULL);
}

int batch_request_begin(struct server *s)
{
    struct batch *b = &s->batch;
    if (!b->open && !b->closed) {
        if (store_begin(s->store) != OG_OK) {
            log_error("cannot begin a transaction", "error",
                      sqlite3_errmsg(store_db(s->store)));
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
        log_error("cannot open a savepoint", "error", sqlite3_errmsg(store_db(s->store)));
        return OG_ERR_DB;
    }
    return OG_OK;
}

void batch_request_end(struct server *s, bool keep)
{
    if (!keep && store_run(s->store, "ROLLBACK TO req") != OG_OK)
        s->batch.failed = true;
    if (store_run(s->store, "RELEASE req") != OG_OK)
        s->batch.failed = true;
}

void batch_answer(struct server *s, struct http_request *req, int status,
                  const char *content_type, char *body, size_t len)
{
    struct batch *b = &s->batch;
    if (!b->open) {
        /* Nothing to wait for: answer now. */
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

static void on_check(uv_check_t *h)
{
    struct server *s = container_of(h, struct server, batch.check);
    struct batch *b = &s->batch;
    uv_check_stop(h);
    uv_idle_stop(&b->idle);
    if (!b->open)
        return;
    b->open = false;
    b->data_version = -1;
    bool ok = !b->failed && store_commit(s->store) == OG_OK;
    if (!ok) {
        log_error("group commit failed: answering 500 to the batch", "error",
                  sqlite3_errmsg(store_db(s->store)));
        store_rollback(s->store);
    }
    b->commits++;
    b->grouped += b->count;
    if (b->after_commit)
        b->after_commit(s, ok);
    /* Answers may start new requests (pipelined input): take the list. */
    struct batch_answer *list = b->answers;
    size_t n = b->count;
    b->answers = NULL;
    b->count = b->cap = 0;
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
