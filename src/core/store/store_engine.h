/* Inside the storage layer only: what an engine (store_sqlite.c,
 * store_pg.c) gives store.c, which owns what both share (the statement
 * cache, the db_* dispatch, meta, open by path or URL). */
#ifndef OTPGATE_STORE_ENGINE_H
#define OTPGATE_STORE_ENGINE_H

#include "core/store/store.h"

/* Every engine's statement starts with this. */
struct db_stmt {
    struct store *store;
};

struct store_ops {
    /* Prepares exactly one statement, or NULL (logged). */
    db_stmt *(*prepare)(struct store *s, const char *sql);
    void (*finalize)(db_stmt *st);
    /* Resets st and clears its bindings (store_stmt's hand-out). */
    void (*clear)(db_stmt *st);
    int (*bind_int64)(db_stmt *st, int i, int64_t v);
    int (*bind_text)(db_stmt *st, int i, const char *v, int n, bool copy);
    int (*bind_blob)(db_stmt *st, int i, const void *v, int n, bool copy);
    int (*bind_null)(db_stmt *st, int i);
    int (*step)(db_stmt *st);
    void (*reset)(db_stmt *st);
    int64_t (*column_int64)(db_stmt *st, int col);
    const unsigned char *(*column_text)(db_stmt *st, int col);
    const void *(*column_blob)(db_stmt *st, int col);
    int (*column_bytes)(db_stmt *st, int col);
    int (*column_type)(db_stmt *st, int col);
    int (*column_count)(db_stmt *st);
    const char *(*column_name)(db_stmt *st, int col);
    int64_t (*changes)(struct store *s);
    const char *(*errmsg)(struct store *s);
    bool (*in_transaction)(struct store *s);
    int (*begin)(struct store *s, enum store_txn kind);
    /* store_exec: one or more statements, not cached. */
    int (*exec)(struct store *s, const char *sql);
    int (*schema_version)(struct store *s);
    int (*data_version)(struct store *s, int64_t *out);
    /* Since the last BEGIN, a statement failed for a conflict with another
     * connection or a lost connection (NULL: never). */
    bool (*txn_conflicted)(struct store *s);
    /* Closes the connection (the cache is already finalized). */
    void (*close)(struct store *s);
    /* Opens a second connection to the same database for store_apart_begin
     * (NULL: the work joins the caller's transaction). Returns 0 or an
     * error, logged. */
    int (*open_apart)(struct store *s, struct store **out);
};

struct stmt_slot; /* store.c */

struct store {
    const struct store_ops *ops;
    enum store_engine engine;
    struct stmt_slot *slots; /* open addressing, nslots a power of two */
    size_t nslots;
    size_t used;
    void *conn; /* the engine's connection state */
    /* Work apart (store_apart_begin): the second connection, opened on
     * first use; whether such work failed since the caller's BEGIN; and,
     * inside a request's scope, how many pieces earlier runs committed
     * (kept) and how many this run has come to (next). */
    struct store *apart;
    bool apart_failed;
    bool scoped;
    unsigned apart_kept, apart_next;
};

/* store.c: a new store of the engine, with an empty statement cache. */
struct store *store_new(const struct store_ops *ops, enum store_engine engine, void *conn);

/* store.c: finalizes and forgets every cached statement (an engine that
 * reconnects or migrates with one-off SQL may need this). */
void store_cache_clear(struct store *s);

/* store.c: the steps both engines' store_open end with. */
int store_open_finish(struct store *s, const char *what, char *err, size_t errlen);

/* store.c: writes one line into err. */
__attribute__((format(printf, 3, 4))) void store_set_err(char *err, size_t errlen, const char *fmt,
                                                         ...);

/* The engines' open calls (store_open chooses). */
int store_sqlite_open(const char *path, struct store **out, char *err, size_t errlen);
int store_pg_open(const char *url, struct store **out, char *err, size_t errlen);

#endif
