/* Store work off the loop, for PostgreSQL (issue 14): a few worker
 * threads, each with a connection of its own opened at start and kept for
 * the process's life, take jobs from one queue. A job's work runs on a
 * worker, with that worker's connection and app cache bound to the thread
 * (dbpool_store, dbpool_apps); its done runs on the loop afterwards. So
 * the loop never waits on the database's network round trips. SQLite needs
 * none of this: its group commit (batch.c) runs on the loop. */
#ifndef OTPGATE_DBPOOL_H
#define OTPGATE_DBPOOL_H

#include <stdbool.h>
#include <stddef.h>

struct server;
struct store;
struct appcache;

/* Embed first in a job of one's own (container_of in the callbacks). */
struct dbpool_job {
    struct dbpool_job *next;
    /* On a worker thread, with dbpool_store() its connection (outside any
     * transaction when work starts; work must leave it so). */
    void (*work)(struct dbpool_job *j);
    /* On the loop thread, once work has returned. */
    void (*done)(struct dbpool_job *j);
};

/* Workers when OTPGATE_DATABASE_URL is set: each holds one connection. */
#define DBPOOL_WORKERS 4

/* Opens one connection to url per worker (bringing nothing up to date:
 * the server's own store_open already did) and starts the workers; s->pool
 * is set on success. On failure returns a negative og_err with one line in
 * err (never the URL's password) and leaves nothing running. */
int dbpool_start(struct server *s, const char *url, unsigned workers, char *err, size_t errlen);
/* Queues j; from the loop thread only. */
void dbpool_submit(struct server *s, struct dbpool_job *j);
/* Waits for every job queued or running and runs their done callbacks
 * here: for a loop that is about to end, or connections about to be
 * closed under the jobs' requests. From the loop thread. */
void dbpool_drain(struct server *s);
/* dbpool_drain, then stops the workers and closes their connections. */
void dbpool_stop(struct server *s);
/* Transactions that conflicted are run again this many times in all,
 * with dbpool_pause(run) before each new run: a short random pause that
 * grows with the runs, so two that met do not meet again at once. */
#define DBPOOL_RUNS_MAX 12
/* Runs of a request beside others (STORE_TXN_SHARED); the runs after them
 * wait to run alone (STORE_TXN_ALONE), so meeting others again and again
 * ends in an answer, not a 503. */
#define DBPOOL_RUNS_SHARED 3
void dbpool_pause(int run);

/* The calling worker's connection and app cache; NULL on any other thread. */
struct store *dbpool_store(void);
struct appcache *dbpool_apps(void);

#endif
