/* Group commit (SPEC §4 "single use"): every write made by requests handled
 * in one loop iteration goes into one SQLite transaction; the answers of
 * those requests are sent only once it is on disk. A request's own writes
 * sit in a savepoint, so one failing request rolls back alone.
 *
 * Durability comes in two steps on the committer thread: the COMMIT writes
 * the WAL (synchronous=NORMAL: no wait for the disk), and then an
 * fdatasync of the WAL makes it durable (store_defer_sync). The connection
 * is free again after the first step, so the loop runs the next batch's
 * handlers while the disk works on the last one's; only the answers wait
 * for the second step. Any answer to a request that read the database
 * (every route without ROUTE_NO_STORE) also waits for the commits made
 * before it to be durable: nobody hears of a change a crash could still
 * undo. While a COMMIT runs, the loop's thread leaves the connection
 * alone: requests that need the database are parked and dispatched when
 * it ends (a writer from elsewhere, a timer say, waits for it instead).
 *
 * On PostgreSQL (s->pool set) there is no group commit: each request runs
 * in a transaction of its own on a database worker (request_tx.h), and the
 * calls below that handlers make (batch_request_begin / _end,
 * batch_answer) go there; batch_busy is never true. */
#ifndef OTPGATE_BATCH_H
#define OTPGATE_BATCH_H

#include "gateway/http/http.h"

#include <uv.h>

struct server;

struct batch_answer {
    struct http_request *req;
    int status;
    const char *content_type; /* static string, or NULL with no body */
    char *body;               /* malloc'd JSON, or NULL for an empty answer */
    size_t len;
    char *content_type_copy; /* a held answer's own copy (batch_hold) */
};

struct batch_committer; /* batch.c */
struct batch_group;     /* batch.c: one commit's answers, until it is durable */

struct batch {
    uv_check_t check;
    uv_idle_t idle; /* keeps the poll from blocking while a batch is open */
    bool open;
    bool committing;     /* a COMMIT runs on the committer thread */
    bool finish_pending; /* a COMMIT ended; its answers are not out yet */
    bool finish_ok;
    bool closed; /* the loop is ending: writes commit on their own */
    bool failed; /* a store error since BEGIN: the whole batch answers 500 */
    /* PRAGMA data_version read right after this iteration's BEGIN, while the
     * batch is open (-1 when closed or unread): no other process can commit
     * until the batch does, so it stays current (appcache.h). */
    int64_t data_version;
    struct batch_answer *answers;
    size_t count, cap;
    /* Commits not yet durable, oldest first, each with its answers. */
    struct batch_group *groups, *groups_tail;
    uint64_t seq;                 /* commits started */
    struct http_request **parked; /* came while committing: dispatched after */
    size_t parked_count, parked_cap;
    struct batch_committer *committer;
    uint64_t commits, grouped;         /* for /metrics */
    void *(*detach)(struct server *s); /* batch_set_after_commit */
    void (*after_commit)(struct server *s, bool ok, void *token);
};

/* batch_init also makes the server's app cache (s->apps), whose validity
 * follows the batch's transactions, and starts the committer thread;
 * batch_close commits what is open, answers, and frees both. */
int batch_init(struct server *s, char *err, size_t errlen);
void batch_close(struct server *s);
/* Ends the running commit and the open batch now, on the loop thread
 * (waiting for the disk), answering everything that waited and running
 * parked requests: for a loop that is about to end. */
void batch_flush(struct server *s);
/* True while a COMMIT runs: the committer's thread holds the connection,
 * so nothing on the loop may use it; a request that needs the database is
 * parked (batch_park), a writer waits (batch_request_begin). */
bool batch_busy(const struct server *s);
/* True when no batch is open and no COMMIT runs: a timer may run
 * transactions of its own on the connection now. */
bool batch_idle(const struct server *s);
/* Keeps req until the running commit ends, then runs its handler. */
void batch_park(struct server *s, struct http_request *req);
/* Opens the iteration's transaction if needed and a savepoint for this
 * request. Returns 0 or OG_ERR_DB. */
int batch_request_begin(struct server *s);
/* Ends the request's savepoint: kept when keep, else rolled back. */
void batch_request_end(struct server *s, bool keep);
/* When a batch is handed to the committer, detach(s) takes what it must
 * act on after the commit (delivery: the messages the batch claimed);
 * once that commit is durable (ok) or has failed, fn(s, ok, token) gets
 * it, before the batch's answers go out. */
void batch_set_after_commit(struct server *s, void *(*detach)(struct server *s),
                            void (*fn)(struct server *s, bool ok, void *token));
/* From http_respond: true when req's answer is kept until the commits
 * before it are durable (copied; sent by batch.c later). */
bool batch_hold(struct http_request *req, int status, const char *content_type, const void *body,
                size_t len);
/* Queues the request's answer until the commit; takes body (malloc'd).
 * content_type must be a static string (or NULL for no body). */
void batch_answer(struct server *s, struct http_request *req, int status, const char *content_type,
                  char *body, size_t len);

#endif
