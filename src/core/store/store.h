/* Storage: one API over two engines. A path opens (or creates) a SQLite
 * file (store_sqlite.c); a postgres:// or postgresql:// URL connects to
 * PostgreSQL (store_pg.c). Both give the same schema (migrations_sqlite.c;
 * the .sql files in postgres/), a process-lifetime cache of prepared
 * statements keyed by the caller's SQL pointer, transactions, the meta
 * table, and statements through the db_* calls below, which mirror
 * SQLite's own (bind, step, column, reset) so one piece of SQL code serves
 * both.
 *
 * SQL written for both engines: parameters as ?N (the PostgreSQL engine
 * turns them into $N; a bare ? takes the next number), CAST(? AS BIGINT)
 * or CAST(? AS TEXT) where nothing else gives a parameter its type, no
 * rowid, no INSERT OR ..., no scalar min()/max() of two values (CASE),
 * RETURNING for new ids, CAST(? AS TEXT) IS NULL rather than ? IS NULL,
 * flags compared (= 1) rather than used bare, no statement that may fail
 * inside a transaction the caller goes on with (PostgreSQL aborts it: use
 * ON CONFLICT DO NOTHING and store_changes). Where the dialects must
 * differ, choose the text with store_engine().
 *
 * No libuv and no HTTP here; every call runs synchronously on the caller's
 * thread. One thread at a time may use a store (the gateway hands its
 * COMMIT to a committer thread while the loop leaves the store alone:
 * gateway/batch.c; on PostgreSQL each database worker has a store of its
 * own: gateway/dbpool.c). */
#ifndef OTPGATE_STORE_H
#define OTPGATE_STORE_H

#include "core/common.h"

struct store; /* opaque */

enum store_engine { STORE_SQLITE, STORE_POSTGRES };

/* A prepared statement of a store (store_stmt). */
typedef struct db_stmt db_stmt;

/* What db_step returns (the numbers are SQLite's). */
enum {
    DB_ERROR = 1,
    DB_BUSY = 5,        /* a lock held elsewhere, or PostgreSQL's serialization failure/deadlock */
    DB_CONSTRAINT = 19, /* a UNIQUE, CHECK, NOT NULL or foreign key refused the row */
    DB_ROW = 100,
    DB_DONE = 101,
};

/* What db_column_type returns (the numbers are SQLite's). */
enum { DB_INTEGER = 1, DB_FLOAT = 2, DB_TEXT = 3, DB_BLOB = 4, DB_NULL = 5 };

/* True when target names a PostgreSQL database (postgres:// or
 * postgresql://) rather than a SQLite file. */
bool store_is_url(const char *target);

/* Opens the database target names and brings it to the newest schema.
 *
 * A path: opens or creates the SQLite file (a new file is created mode
 * 0600, and SQLite gives its -wal and -shm files the same mode): WAL
 * journal, synchronous=FULL, foreign_keys=ON, busy_timeout 5000 ms, a page
 * cache of up to 32 MiB, then runs every pending migration, each in its own
 * BEGIN IMMEDIATE transaction that also sets PRAGMA user_version.
 * ":memory:" is accepted for tests (its journal stays in memory).
 *
 * A postgres:// or postgresql:// URL (libpq's syntax, its parameters and
 * PG* variables included): connects and, when the database has no otpgate
 * tables, creates them from the .sql files in postgres/; the version
 * is meta 'schema_version'. Transactions run at SERIALIZABLE.
 *
 * Both record meta 'created_at' (unix seconds) if absent. A database newer
 * than this binary knows is refused with OG_ERR_INVALID. On success *out
 * owns the connection (free with store_close); on failure *out is NULL and
 * err (if not NULL) holds one line, never the URL's password. */
int store_open(const char *target, struct store **out, char *err, size_t errlen);

/* SQLite only: opens an existing database file read-only, without migrating or checking its
 * version (for `otpgate backup` while a server runs). A missing file is
 * refused with OG_ERR_NOT_FOUND, a file that is not a database with
 * OG_ERR_INVALID. */
int store_open_readonly(const char *path, struct store **out, char *err, size_t errlen);

/* Finalizes every cached statement and closes the connection; the last
 * connection to close checkpoints the WAL. NULL is ignored. */
void store_close(struct store *s);

/* Which engine s runs on. */
enum store_engine store_engine(const struct store *s);

/* Rows changed by the last INSERT, UPDATE or DELETE this store ran. */
int64_t store_changes(struct store *s);

/* The engine's message for the last failure (for logs; never holds bound
 * values). Valid until the next call on s. */
const char *store_errmsg(struct store *s);

/* True while a transaction (store_begin) is open on s. */
bool store_in_transaction(struct store *s);
/* PostgreSQL: true when, since the last store_begin, a statement failed for
 * a serialization failure, a deadlock or a lost connection, even if the
 * caller went on (rolled back to a savepoint, answered an error): the
 * whole transaction should be run again. SQLite: always false. */
bool store_txn_conflicted(struct store *s);

/* SQLite only (on PostgreSQL these fail with OG_ERR_INVALID, or do
 * nothing): checkpoints, copying the WAL back into the database file away
 * from the thread that writes: */

/* Opens a second connection to main's file (read-write, no migrations), to
 * run store_checkpoint on from another thread. Free with store_close. */
int store_open_checkpointer(struct store *main, struct store **out, char *err, size_t errlen);

/* After every commit that wrote to the WAL, calls fn(arg, frames) on the
 * committing thread, with the frames the WAL holds now (checkpointed ones
 * included, until a writer starts it over); fn returns 0. It takes
 * the place of SQLite's automatic checkpoint: fn decides. fn == NULL puts
 * the automatic one (every 1000 frames) back. */
void store_set_wal_hook(struct store *s, int (*fn)(void *arg, int frames), void *arg);

/* Durability in two steps, for a group commit that answers only once its
 * changes are on disk but lets the next group run meanwhile: after
 * store_defer_sync, this connection's COMMITs write the WAL without
 * waiting for the disk (synchronous=NORMAL: a crash may lose the last
 * commits, never corrupt the file), and store_sync_wal waits until
 * everything it committed so far is on disk (fdatasync of the WAL); a
 * commit is durable only then. store_sync_wal may run on another thread
 * than the connection's, while the connection goes on: it touches only
 * its own descriptor of the WAL. store_undefer_sync puts synchronous=FULL
 * back. Other connections (the CLI's, the checkpointer's) keep FULL. */
int store_defer_sync(struct store *s, char *err, size_t errlen);
int store_sync_wal(struct store *s);
int store_undefer_sync(struct store *s);

/* A passive checkpoint: copies what it can without waiting for anybody
 * and never blocks writers. *wal_frames and *copied_frames (either may be
 * NULL) say how many frames the WAL has and how many are in the database
 * file now; when they are equal, the next write transaction starts the WAL
 * over from its beginning. OG_ERR_BUSY when another checkpoint runs. Not
 * inside an open transaction of this connection. */
int store_checkpoint(struct store *s, int *wal_frames, int *copied_frames);

/* The schema version as it is now (SQLite's PRAGMA user_version,
 * PostgreSQL's meta 'schema_version'), or OG_ERR_DB. */
int store_schema_version(struct store *s);

/* Number of migrations this binary has, i.e. the schema version store_open
 * brings a database to. */
int store_latest_version(void);

/* Returns a prepared statement for sql (exactly one statement), reset and
 * with its bindings cleared, or NULL (logged) if it does not prepare. It is
 * prepared on first use (SQLite: SQLITE_PREPARE_PERSISTENT; PostgreSQL: a
 * named server-side statement) and cached for the life of the store, keyed
 * by the sql pointer.
 *
 * Pass a string literal or a static const array (static storage that never
 * changes): such a pointer lies in the program's read-only memory and is
 * found by its address alone, with no look at the text, which is what keeps
 * this call cheap on every request. Any other pointer (a buffer) works too
 * but must outlive the store, and costs a comparison of the whole text on
 * every call, so that a buffer reused for other SQL gets its own statement.
 * The store owns the statement: never finalize it. Reset it (db_reset)
 * once done reading so it does not hold a read transaction open until its
 * next use. */
db_stmt *store_stmt(struct store *s, const char *sql);

/* A statement of its own, outside the cache, for SQL made at run time
 * (otpgate migrate): the caller finalizes it with db_finalize before
 * closing s. NULL (logged) if it does not prepare. */
db_stmt *store_prepare(struct store *s, const char *sql);
void db_finalize(db_stmt *st);

/* The og_err for a failed db_step: OG_ERR_BUSY when another
 * connection holds a lock, else OG_ERR_DB. */
int store_step_err(int rc);

/* Steps st, which returns no rows, and resets it: OG_OK or store_step_err. */
int store_exec_done(db_stmt *st);

/* Runs sql (one statement that returns no rows, cached like store_stmt, so
 * pass a literal) and resets it: for SAVEPOINT, RELEASE and the like, which
 * a one-off statement would parse again on every call. Returns 0, OG_ERR_BUSY or
 * OG_ERR_DB. */
int store_run(struct store *s, const char *sql);

/* Runs sql, one or more statements that return no rows, once and without
 * caching it: for tests, and for SQL built at run time that would only
 * clutter the cache. Returns 0, OG_ERR_BUSY or OG_ERR_DB (store_errmsg
 * says why). */
int store_exec(struct store *s, const char *sql);

/* A counter for caches of apps, policies and signing keys: when it has
 * not moved, they have not changed. SQLite: PRAGMA data_version, which
 * changes only when another connection (another process, such as the CLI)
 * commits, never for this connection's own commits. PostgreSQL: meta
 * 'config_version', which triggers raise in every transaction that changes
 * apps, policy or signing_keys, whichever instance commits it (0 before the
 * first change). Inside a transaction it is the value as of that
 * transaction's snapshot. Returns 0 or OG_ERR_DB / OG_ERR_BUSY. */
int store_data_version(struct store *s, int64_t *out);

/* SQLite: BEGIN IMMEDIATE, which takes the write lock now (waiting up to
 * busy_timeout) so the transaction never fails half-way for a lock.
 * PostgreSQL: BEGIN ISOLATION LEVEL SERIALIZABLE (and the lock on meta of
 * STORE_TXN_SHARED, below); a conflict with another
 * connection shows as DB_BUSY from a later step or OG_ERR_BUSY from the
 * commit, and the caller runs the whole transaction again. Returns 0,
 * OG_ERR_BUSY or OG_ERR_DB. Transactions do not nest. */
int store_begin(struct store *s);

/* How a PostgreSQL transaction meets others (SQLite has one writer, and
 * runs every kind as store_begin). */
enum store_txn {
    /* SERIALIZABLE, beside others: store_begin. */
    STORE_TXN_SHARED,
    /* SERIALIZABLE and alone: it waits until every STORE_TXN_SHARED
     * transaction open on the database has ended and keeps new ones waiting
     * until it ends, so none of them can make it fail. For a run after
     * several conflicts, so a request that keeps meeting others finishes. */
    STORE_TXN_ALONE,
    /* READ COMMITTED, for work whose every decision is a row lock (the
     * outbox's claims and outcomes): it takes part in no serialization
     * conflict, its own or others'. */
    STORE_TXN_ROW_LOCKS,
};

/* store_begin with the kind of transaction named. */
int store_begin_as(struct store *s, enum store_txn kind);

/* ---- work apart ----
 * A short piece of work that commits on its own, apart from the caller's
 * transaction, so that it makes that transaction meet no other: the SMS
 * caps' slots (sendlimits.c), which every SMS send would otherwise read
 * and write under SERIALIZABLE. PostgreSQL: a second connection to the
 * same database, opened on first use, runs it at READ COMMITTED (the work
 * takes its own locks); it commits before the caller's transaction does,
 * whatever becomes of that. SQLite, one writer: the work joins the
 * caller's transaction.
 *
 * store_apart_begin returns the store to run the work on (s itself on
 * SQLite) or NULL when its connection or BEGIN failed. store_apart_end
 * commits the work (keep) or rolls it back. A failure of either (a lost
 * connection, a deadlock) marks the caller's transaction as conflicted
 * (store_txn_conflicted), so that a request runs again or is answered 503.
 *
 * A request run again after a conflict (gateway/request_tx.c) must not
 * repeat work an earlier run committed apart. Between store_scope(s, true)
 * and store_scope(s, false), store_apart_repeat is true for a run's n-th
 * piece of work when an earlier run of the request committed its n-th:
 * the caller then skips it. Outside a scope it is always false. */
struct store *store_apart_begin(struct store *s);
int store_apart_end(struct store *s, struct store *apart, bool keep);
bool store_apart_repeat(struct store *s);
void store_scope(struct store *s, bool on);

/* COMMIT. On failure the transaction has been rolled back and is over, so a
 * caller's store_rollback afterwards is harmless. Returns 0, OG_ERR_BUSY or
 * OG_ERR_DB. */
int store_commit(struct store *s);

/* ROLLBACK; a no-op returning 0 when no transaction is open. */
int store_rollback(struct store *s);

/* Proves the database is writable right now (for /readyz) by upserting meta
 * 'ready_probe' with the current time in a transaction. Returns 0 or the
 * error of the step that failed. */
int store_check_writable(struct store *s);

/* Copies the meta value of key into out (NUL-terminated). Returns 0,
 * OG_ERR_NOT_FOUND if absent, OG_ERR_TOO_BIG if it does not fit, OG_ERR_DB. */
int store_meta_get(struct store *s, const char *key, char *out, size_t outlen);

/* Inserts or replaces the meta value of key; joins the caller's transaction
 * if one is open. Returns 0 or OG_ERR_DB / OG_ERR_BUSY. */
int store_meta_set(struct store *s, const char *key, const char *value);

/* SQLite only. Consistent online copy of the database into dest_path with the SQLite
 * backup API: writes dest_path + ".tmp" (created mode 0600), copies every
 * page under one read transaction (retrying BUSY/LOCKED with short sleeps:
 * this blocks, so call it from the CLI, never from the event loop), fsyncs
 * it, moves it into place without replacing anything and fsyncs the
 * directory. Refuses an existing dest_path (OG_ERR_EXISTS) and a leftover
 * .tmp file. On failure nothing is left at dest_path or its .tmp. */
int store_backup(struct store *s, const char *dest_path, char *err, size_t errlen);

/* ---- statements ----
 * As SQLite's calls of the same names. Parameters are numbered from 1,
 * columns from 0. db_bind_text and db_bind_blob keep the caller's pointer
 * (SQLITE_STATIC): it must stay valid until the statement is reset or bound
 * again; the _copy variants copy. n < 0 means strlen for text. Bindings
 * stay across db_reset (store_stmt clears them). Column values are valid
 * until the next db_step or db_reset. */
int db_bind_int64(db_stmt *st, int i, int64_t v);
int db_bind_int(db_stmt *st, int i, int v);
int db_bind_text(db_stmt *st, int i, const char *v, int n);
int db_bind_text_copy(db_stmt *st, int i, const char *v, int n);
int db_bind_blob(db_stmt *st, int i, const void *v, int n);
int db_bind_blob_copy(db_stmt *st, int i, const void *v, int n);
int db_bind_null(db_stmt *st, int i);
/* DB_ROW, DB_DONE, or DB_BUSY / DB_CONSTRAINT / DB_ERROR. */
int db_step(db_stmt *st);
/* Ends the statement's run (its rows and its read of the database); keeps
 * the bindings. */
void db_reset(db_stmt *st);
int64_t db_column_int64(db_stmt *st, int col);
int db_column_int(db_stmt *st, int col);
/* NUL-terminated; NULL for SQL NULL. */
const unsigned char *db_column_text(db_stmt *st, int col);
const void *db_column_blob(db_stmt *st, int col);
int db_column_bytes(db_stmt *st, int col);
int db_column_type(db_stmt *st, int col);
int db_column_count(db_stmt *st);
const char *db_column_name(db_stmt *st, int col);

#endif
