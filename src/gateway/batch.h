/* Group commit (SPEC §4 "single use"): every write made by requests handled
 * in one loop iteration goes into one SQLite transaction, committed with
 * synchronous=FULL in the check phase of that same iteration; only then
 * are the answers of those requests sent. A request's own writes sit in a
 * savepoint, so one failing request rolls back alone. */
#ifndef OTPGATE_BATCH_H
#define OTPGATE_BATCH_H

#include "gateway/http.h"

#include <uv.h>

struct server;

struct batch_answer {
    struct http_request *req;
    int status;
    const char *content_type; /* static string, or NULL with no body */
    char *body; /* malloc'd JSON, or NULL for an empty answer */
    size_t len;
};

struct batch {
    uv_check_t check;
    uv_idle_t idle; /* keeps the poll from blocking while a batch is open */
    bool open;
    bool closed; /* the loop is ending: writes commit on their own */
    bool failed; /* a store error since BEGIN: the whole batch answers 500 */
    /* PRAGMA data_version read right after this iteration's BEGIN, while the
     * batch is open (-1 when closed or unread): no other process can commit
     * until the batch does, so it stays current (appcache.h). */
    int64_t data_version;
    struct batch_answer *answers;
    size_t count, cap;
    uint64_t commits, grouped; /* for /metrics */
    void (*after_commit)(struct server *s, bool ok);
};

/* batch_init also makes the server's app cache (s->apps), whose validity
 * follows the batch's transactions; batch_close frees it. */
void batch_init(struct server *s);
void batch_close(struct server *s);
/* Opens the iteration's transaction if needed and a savepoint for this
 * request. Returns 0 or OG_ERR_DB. */
int batch_request_begin(struct server *s);
/* Ends the request's savepoint: kept when keep, else rolled back. */
void batch_request_end(struct server *s, bool keep);
/* Called after each group commit (ok false when it failed), before the
 * answers go out: delivery starts the messages the batch queued. */
void batch_set_after_commit(struct server *s, void (*fn)(struct server *s, bool ok));
/* Queues the request's answer until the commit; takes body (malloc'd).
 * content_type must be a static string (or NULL for no body). */
void batch_answer(struct server *s, struct http_request *req, int status,
                  const char *content_type, char *body, size_t len);

#endif
