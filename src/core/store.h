/* The SQLite database: opening with otpgate's pragmas, schema migrations,
 * a process-lifetime cache of prepared statements, transactions, the meta
 * table and online backups. No libuv and no HTTP here; every call runs
 * synchronously on the caller's thread. One thread at a time may use a
 * store (the gateway hands its COMMIT to a committer thread while the loop
 * leaves the store alone: gateway/batch.c). */
#ifndef OTPGATE_STORE_H
#define OTPGATE_STORE_H

#include "core/common.h"

#include <sqlite3.h>

struct store; /* opaque */

/* Opens or creates the database at path (a new file is created mode 0600,
 * and SQLite gives its -wal and -shm files the same mode): WAL journal,
 * synchronous=FULL, foreign_keys=ON, busy_timeout 5000 ms, a page cache of
 * up to 32 MiB, then runs every pending migration, each in its own BEGIN
 * IMMEDIATE transaction that also sets PRAGMA user_version, and records meta
 * 'created_at' (unix seconds) if absent. ":memory:" is accepted for tests (its journal stays in
 * memory). A database newer than this binary knows is refused with OG_ERR_INVALID. On success *out
 * owns the connection (free with store_close); on failure *out is NULL and err (if not NULL) holds
 * one line. */
int store_open(const char *path, struct store **out, char *err, size_t errlen);

/* Opens an existing database read-only, without migrating or checking its
 * version (for `otpgate backup` while a server runs). A missing file is
 * refused with OG_ERR_NOT_FOUND, a file that is not a database with
 * OG_ERR_INVALID. */
int store_open_readonly(const char *path, struct store **out, char *err, size_t errlen);

/* Finalizes every cached statement and closes the connection; the last
 * connection to close checkpoints the WAL. NULL is ignored. */
void store_close(struct store *s);

/* The underlying connection, for statements the cache does not suit. The
 * store keeps ownership: never close it. */
sqlite3 *store_db(struct store *s);

/* Checkpoints (copying the WAL back into the database file) away from the
 * thread that writes: */

/* Opens a second connection to main's file (read-write, no migrations), to
 * run store_checkpoint on from another thread. Free with store_close. */
int store_open_checkpointer(struct store *main, struct store **out, char *err, size_t errlen);

/* After every commit that wrote to the WAL, calls fn(arg, frames) on the
 * committing thread, with the frames the WAL holds now (checkpointed ones
 * included, until a writer starts it over); fn returns SQLITE_OK. It takes
 * the place of SQLite's automatic checkpoint: fn decides. fn == NULL puts
 * the automatic one (every 1000 frames) back. */
void store_set_wal_hook(struct store *s, int (*fn)(void *arg, int frames), void *arg);

/* A passive checkpoint: copies what it can without waiting for anybody
 * and never blocks writers. *wal_frames and *copied_frames (either may be
 * NULL) say how many frames the WAL has and how many are in the database
 * file now; when they are equal, the next write transaction starts the WAL
 * over from its beginning. OG_ERR_BUSY when another checkpoint runs. Not
 * inside an open transaction of this connection. */
int store_checkpoint(struct store *s, int *wal_frames, int *copied_frames);

/* PRAGMA user_version as it is now, or OG_ERR_DB. */
int store_schema_version(struct store *s);

/* Number of migrations this binary has, i.e. the schema version store_open
 * brings a database to. */
int store_latest_version(void);

/* Returns a prepared statement for sql (exactly one statement), reset and
 * with its bindings cleared, or NULL (logged) if it does not prepare. It is
 * prepared on first use with SQLITE_PREPARE_PERSISTENT and cached for the
 * life of the store, keyed by the sql pointer.
 *
 * Pass a string literal or a static const array (static storage that never
 * changes): such a pointer lies in the program's read-only memory and is
 * found by its address alone, with no look at the text, which is what keeps
 * this call cheap on every request. Any other pointer (a buffer) works too
 * but must outlive the store, and costs a comparison of the whole text on
 * every call, so that a buffer reused for other SQL gets its own statement.
 * The store owns the statement: never finalize it. Reset it (sqlite3_reset)
 * once done reading so it does not hold a read transaction open until its
 * next use. */
sqlite3_stmt *store_stmt(struct store *s, const char *sql);

/* The og_err for a failed sqlite3_step: OG_ERR_BUSY when another
 * connection holds a lock, else OG_ERR_DB. */
int store_step_err(int rc);

/* Steps st, which returns no rows, and resets it: OG_OK or store_step_err. */
int store_exec_done(sqlite3_stmt *st);

/* Runs sql (one statement that returns no rows, cached like store_stmt, so
 * pass a literal) and resets it: for SAVEPOINT, RELEASE and the like, which
 * sqlite3_exec would parse again on every call. Returns 0, OG_ERR_BUSY or
 * OG_ERR_DB. */
int store_run(struct store *s, const char *sql);

/* PRAGMA data_version into *out: it changes only when another connection
 * (another process, such as the CLI) commits, never for this connection's
 * own commits, so it tells a cache of rows that other processes may change
 * when to drop them. Inside a transaction it is the value as of that
 * transaction's snapshot. Returns 0 or OG_ERR_DB / OG_ERR_BUSY. */
int store_data_version(struct store *s, int64_t *out);

/* BEGIN IMMEDIATE: takes the write lock now (waiting up to busy_timeout) so
 * the transaction never fails half-way for a lock. Returns 0, OG_ERR_BUSY or
 * OG_ERR_DB. Transactions do not nest. */
int store_begin(struct store *s);

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

/* Consistent online copy of the database into dest_path with the SQLite
 * backup API: writes dest_path + ".tmp" (created mode 0600), copies every
 * page under one read transaction (retrying BUSY/LOCKED with short sleeps:
 * this blocks, so call it from the CLI, never from the event loop), fsyncs
 * it, moves it into place without replacing anything and fsyncs the
 * directory. Refuses an existing dest_path (OG_ERR_EXISTS) and a leftover
 * .tmp file. On failure nothing is left at dest_path or its .tmp. */
int store_backup(struct store *s, const char *dest_path, char *err, size_t errlen);

#endif
