/* The running gateway: one libuv loop, the listening socket, every open
 * connection, signals and graceful shutdown, and the shared state handlers
 * reach through req->srv (settings, store, static cache, metrics). */
#ifndef OTPGATE_SERVER_H
#define OTPGATE_SERVER_H

#include "core/config.h"
#include "core/secrets.h"
#include "core/store/store.h"
#include "gateway/batch.h"
#include "gateway/delivery/delivery.h"
#include "gateway/metrics.h"
#include "gateway/http/static_files.h"

#include <uv.h>

struct http_conn;
struct peers;

struct server {
    uv_loop_t *loop;
    const struct config *cfg;
    struct store *store;
    struct static_cache *statics;
    struct metrics metrics;
    uint8_t master_key[32];
    struct keyring keys;               /* subkeys derived from the master key */
    struct batch batch;                /* group commit of this iteration's writes */
    struct appcache *apps;             /* apps' names, secret hashes, policies (appcache.h) */
    struct delivery delivery;          /* outbox pump and channels */
    struct checkpointer *checkpointer; /* WAL checkpoints off the loop */
    struct dbpool *pool;               /* PostgreSQL: the workers (dbpool.h); NULL on SQLite */

    uv_tcp_t listener;
    bool listening;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t sweep_timer;    /* cuts slow and idle connections */
    uv_timer_t shutdown_timer; /* forces exit when draining takes too long */
    uv_timer_t housekeeping;   /* prunes old send records and challenges */
    char *read_buf;            /* one buffer for all reads: parsed before the next */
    size_t read_buf_size;

    struct http_conn *conns; /* intrusive list of open connections */
    unsigned conn_count;
    unsigned counted_conns; /* those counted toward OTPGATE_MAX_CONNECTIONS */
    struct peers *peers;    /* connections per client address (peers.h) */
    /* Fair shares of the loop (http_conn.c): each iteration is a turn, in
     * which one connection handles at most a few pipelined requests; those
     * with input left wait in the ready list for the next turn. */
    uv_prepare_t turn_prepare; /* starts each turn: serves the ready list */
    uv_idle_t turn_idle;       /* keeps the poll from blocking while some wait */
    uint64_t turn;
    struct http_conn *ready_head, *ready_tail;
    bool shutting_down;
    int bound_port; /* the port actually bound (OTPGATE_LISTEN may say 0) */
    uint64_t started_ms;
};

/* Opens the store, loads statics, binds and listens. On failure returns a
 * negative og_err with one line in err and leaves nothing running. */
int server_init(struct server *s, uv_loop_t *loop, const struct config *cfg, char *err,
                size_t errlen);
/* Runs the loop until shutdown has finished; then closes everything. */
int server_run(struct server *s);
/* Starts a graceful shutdown: stop accepting, finish what is in flight. */
void server_shutdown(struct server *s);

/* The store a handler uses: on a database worker its connection
 * (dbpool.h), else s->store. */
struct store *server_db(struct server *s);
/* The app cache that goes with server_db. */
struct appcache *server_apps(struct server *s);

/* Wall-clock time in unix milliseconds: the one clock the gateway hands
 * to the domain (which has none of its own). */
int64_t server_now_ms(void);

/* Called by http_conn when a connection is gone (for the drain check). */
void server_conn_closed(struct server *s);

#endif
