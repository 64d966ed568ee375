/* The SQLite engine: opening a file with otpgate's pragmas, migrations
 * (SQL in migrations_sqlite.c), statements over sqlite3_stmt, WAL
 * checkpoints and online backups. Everything here blocks on disk;
 * store_backup may also sleep, so it must never run on the event loop.
 * Never log bound values: they may be secrets. */
#include "core/store/store_engine.h"

#include "core/log.h"
#include "core/store/migrations.h"
#include "core/store/sqlite_check.h"
#include "core/store/sqlite_walbuf.h"

#include <sqlite3.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_BUSY_TIMEOUT_MS      5000
#define STORE_CACHE_KIB            "-32768"   /* PRAGMA cache_size: negative means KiB */
#define STORE_AUTOCHECKPOINT_PAGES 1000       /* SQLite's default */
#define STORE_WAL_LIMIT_BYTES      "67108864" /* a WAL left larger is cut back to 64 MiB */
/* store_backup retries a BUSY/LOCKED step this often, this far apart. */
#define STORE_BACKUP_SLEEP_MS    50
#define STORE_BACKUP_MAX_RETRIES 1200 /* 60 s */

struct lite_stmt {
    struct db_stmt base;
    sqlite3_stmt *st;
};

struct lite_conn {
    sqlite3 *db;
    int (*wal_hook_fn)(void *arg, int frames); /* store_set_wal_hook */
    void *wal_hook_arg;
    int wal_fd; /* store_defer_sync: the WAL, opened by us (-1: none) */
    char *wal_path;
};

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_USER_VERSION[] = "PRAGMA user_version";
static const char SQL_DATA_VERSION[] = "PRAGMA data_version";
#define set_err store_set_err

/* Maps a SQLite result code to an og_err. */
static int db_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return OG_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return OG_ERR_BUSY;
    case SQLITE_NOTADB:
        return OG_ERR_INVALID;
    case SQLITE_NOMEM:
        og_oom();
    default:
        return OG_ERR_DB;
    }
}

/* Like db_err, for a result already known to be a failure: never OG_OK. */
static int db_fail(int rc)
{
    int e = db_err(rc);
    return e != OG_OK ? e : OG_ERR_DB;
}

static sqlite3 *lite_db(struct store *s)
{
    return ((struct lite_conn *)s->conn)->db;
}

static sqlite3_stmt *lite(db_stmt *st)
{
    return ((struct lite_stmt *)st)->st;
}

/* A step's result as DB_*: extended codes folded, LOCKED as BUSY. */
static int step_result(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_ROW:
        return DB_ROW;
    case SQLITE_DONE:
        return DB_DONE;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DB_BUSY;
    case SQLITE_CONSTRAINT:
        return DB_CONSTRAINT;
    case SQLITE_NOMEM:
        og_oom();
    default:
        return DB_ERROR;
    }
}

static bool sql_blank(const char *p)
{
    for (; *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != ';')
            return false;
    return true;
}

static db_stmt *lite_prepare(struct store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(lite_db(s), sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (rc == SQLITE_NOMEM)
        og_oom();
    if (rc != SQLITE_OK) {
        log_error("sql prepare failed", "error", sqlite3_errmsg(lite_db(s)), "sql", sql);
        sqlite3_finalize(st);
        return NULL;
    }
    if (!st || (tail && !sql_blank(tail))) {
        log_error("sql prepare failed", "error", "store_stmt takes exactly one statement", "sql",
                  sql);
        sqlite3_finalize(st);
        return NULL;
    }
    struct lite_stmt *l = og_calloc(1, sizeof(*l));
    l->base.store = s;
    l->st = st;
    return &l->base;
}

static void lite_finalize(db_stmt *st)
{
    sqlite3_finalize(lite(st));
    free(st);
}

static void lite_clear(db_stmt *st)
{
    sqlite3_reset(lite(st));
    sqlite3_clear_bindings(lite(st));
}

static int lite_bind_int64(db_stmt *st, int i, int64_t v)
{
    return sqlite3_bind_int64(lite(st), i, v);
}

static int lite_bind_text(db_stmt *st, int i, const char *v, int n, bool copy)
{
    return sqlite3_bind_text(lite(st), i, v, n, copy ? SQLITE_TRANSIENT : SQLITE_STATIC);
}

static int lite_bind_blob(db_stmt *st, int i, const void *v, int n, bool copy)
{
    return sqlite3_bind_blob(lite(st), i, v, n, copy ? SQLITE_TRANSIENT : SQLITE_STATIC);
}

static int lite_bind_null(db_stmt *st, int i)
{
    return sqlite3_bind_null(lite(st), i);
}

static int lite_step(db_stmt *st)
{
    return step_result(sqlite3_step(lite(st)));
}

static void lite_reset(db_stmt *st)
{
    sqlite3_reset(lite(st));
}

static int64_t lite_column_int64(db_stmt *st, int col)
{
    return sqlite3_column_int64(lite(st), col);
}

static const unsigned char *lite_column_text(db_stmt *st, int col)
{
    return sqlite3_column_text(lite(st), col);
}

static const void *lite_column_blob(db_stmt *st, int col)
{
    return sqlite3_column_blob(lite(st), col);
}

static int lite_column_bytes(db_stmt *st, int col)
{
    return sqlite3_column_bytes(lite(st), col);
}

static int lite_column_type(db_stmt *st, int col)
{
    return sqlite3_column_type(lite(st), col);
}

static int lite_column_count(db_stmt *st)
{
    return sqlite3_column_count(lite(st));
}

static const char *lite_column_name(db_stmt *st, int col)
{
    return sqlite3_column_name(lite(st), col);
}

static int64_t lite_changes(struct store *s)
{
    return sqlite3_changes64(lite_db(s));
}

static const char *lite_errmsg(struct store *s)
{
    return sqlite3_errmsg(lite_db(s));
}

static bool lite_in_transaction(struct store *s)
{
    return !sqlite3_get_autocommit(lite_db(s));
}

static int lite_begin(struct store *s, enum store_txn kind)
{
    (void)kind; /* one writer at a time whatever the kind */
    return store_run(s, SQL_BEGIN);
}

static int lite_exec(struct store *s, const char *sql)
{
    int rc = sqlite3_exec(lite_db(s), sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? OG_OK : db_fail(rc);
}

static int lite_data_version(struct store *s, int64_t *out)
{
    db_stmt *st = store_stmt(s, SQL_DATA_VERSION);
    if (!st)
        return OG_ERR_DB;
    int rc = db_step(st);
    if (rc == DB_ROW)
        *out = db_column_int64(st, 0);
    db_reset(st);
    return rc == DB_ROW ? OG_OK : store_step_err(rc);
}

static int lite_schema_version(struct store *s);

static void lite_close(struct store *s)
{
    struct lite_conn *c = s->conn;
    if (c->wal_fd >= 0)
        close(c->wal_fd);
    free(c->wal_path);
    if (c->db && sqlite3_close(c->db) != SQLITE_OK) {
        /* Someone still holds a statement of their own: close when it goes. */
        log_warn("database closed with statements outstanding", "error", sqlite3_errmsg(c->db));
        sqlite3_close_v2(c->db);
    }
    free(c);
}

static const struct store_ops lite_ops = {
    .prepare = lite_prepare,
    .finalize = lite_finalize,
    .clear = lite_clear,
    .bind_int64 = lite_bind_int64,
    .bind_text = lite_bind_text,
    .bind_blob = lite_bind_blob,
    .bind_null = lite_bind_null,
    .step = lite_step,
    .reset = lite_reset,
    .column_int64 = lite_column_int64,
    .column_text = lite_column_text,
    .column_blob = lite_column_blob,
    .column_bytes = lite_column_bytes,
    .column_type = lite_column_type,
    .column_count = lite_column_count,
    .column_name = lite_column_name,
    .changes = lite_changes,
    .errmsg = lite_errmsg,
    .in_transaction = lite_in_transaction,
    .begin = lite_begin,
    .exec = lite_exec,
    .schema_version = lite_schema_version,
    .data_version = lite_data_version,
    .close = lite_close,
};

static struct store *lite_new(sqlite3 *db)
{
    struct lite_conn *c = og_calloc(1, sizeof(*c));
    c->db = db;
    c->wal_fd = -1;
    return store_new(&lite_ops, STORE_SQLITE, c);
}

static int lite_schema_version(struct store *s)
{
    db_stmt *st = store_stmt(s, SQL_USER_VERSION);
    if (!st)
        return OG_ERR_DB;
    int rc = db_step(st);
    int v = rc == DB_ROW ? db_column_int(st, 0) : store_step_err(rc);
    db_reset(st);
    if (rc == DB_ROW && v < 0)
        return OG_ERR_INVALID;
    return v;
}

/* SQLite's memory statistics take a process-wide mutex around every
 * allocation and free it makes (a few hundred a request); nothing here
 * reads them (no sqlite3_memory_used, no heap limits), so they are off.
 * The connections are opened without their own mutex, which SQLite takes
 * around every call (over a hundred a request): none is used by two
 * threads at once, which debug builds check (sqlite_check.c) with the
 * mutex on. Only possible before the library's first use: later the
 * calls are refused and change nothing. */
static pthread_once_t lite_config_once = PTHREAD_ONCE_INIT;
static int lite_open_mutex = SQLITE_OPEN_NOMUTEX;
static const char *lite_vfs; /* sqlite_walbuf.c's VFS, or NULL: the default */

static void lite_config(void)
{
    if (sqlite_check_install())
        lite_open_mutex = SQLITE_OPEN_FULLMUTEX;
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /* Registered once configured: registering starts the library. */
    lite_vfs = sqlite_walbuf_vfs();
}

/* Opens the connection and reads the schema, so a file that is not a
 * database is refused here rather than on first use. */
static int db_connect(const char *path, int flags, sqlite3 **out, char *err, size_t errlen)
{
    pthread_once(&lite_config_once, lite_config);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags | lite_open_mutex, lite_vfs);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        if (!db)
            og_oom();
        set_err(err, errlen, "cannot open database %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return db_fail(rc);
    }
    *out = db;
    return OG_OK;
}

static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        snprintf(out, outlen, "%s", v ? v : "");
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int store_configure(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    char mode[32];
    int rc = pragma_text(db, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "cannot switch %s to WAL: %s", path, sqlite3_errmsg(db));
        return db_fail(rc);
    }
    bool memory = strcmp(path, ":memory:") == 0;
    if (strcmp(mode, "wal") != 0 && !(memory && strcmp(mode, "memory") == 0)) {
        set_err(err, errlen,
                "cannot switch %s to WAL (journal mode is %s): put the data directory on a "
                "local file system",
                path, mode);
        return OG_ERR_DB;
    }
    /* A page cache of up to 32 MiB (SQLite's default is 2 MiB): the rows a
     * code check reads (users, factors, recovery codes, the audit index) are
     * spread over the file, and with the default most of them were read
     * again from the OS on every request. Memory is only taken as pages are
     * used. */
    rc = sqlite3_exec(db,
                      "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
                      "PRAGMA cache_size = " STORE_CACHE_KIB "; "
                      "PRAGMA journal_size_limit = " STORE_WAL_LIMIT_BYTES,
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "cannot set pragmas on %s: %s", path, sqlite3_errmsg(db));
        return OG_ERR_DB;
    }
    return OG_OK;
}

static int version_too_new(int version, const char *path, char *err, size_t errlen)
{
    set_err(err, errlen,
            "database %s has schema version %d, newer than this otpgate knows (%d): run a newer "
            "otpgate or restore a backup",
            path, version, store_latest_version());
    return OG_ERR_INVALID;
}

/* Applies one migration. The version is re-read after BEGIN IMMEDIATE, so two
 * processes opening the same file at once never apply the same step twice.
 * Sets *done when the database is already at the latest version. */
static int migrate_step(struct store *s, const char *path, bool *done, char *err, size_t errlen)
{
    int rc = store_begin(s);
    if (rc != OG_OK) {
        set_err(err, errlen, "cannot lock %s to migrate it: %s", path, store_errmsg(s));
        return rc;
    }
    int from = store_schema_version(s);
    if (from < 0) {
        set_err(err, errlen, "cannot read the schema version of %s: %s", path, store_errmsg(s));
        store_rollback(s);
        return from;
    }
    if (from > store_latest_version()) {
        store_rollback(s);
        return version_too_new(from, path, err, errlen);
    }
    if (from == store_latest_version()) {
        store_rollback(s);
        *done = true;
        return OG_OK;
    }

    int to = from + 1;
    char *msg = NULL;
    int src = sqlite3_exec(lite_db(s), migration_sql(to), NULL, NULL, &msg);
    if (src == SQLITE_OK) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", to);
        src = sqlite3_exec(lite_db(s), sql, NULL, NULL, &msg);
    }
    if (src != SQLITE_OK) {
        set_err(err, errlen, "migration to schema version %d of %s failed: %s", to, path,
                msg ? msg : sqlite3_errstr(src));
        sqlite3_free(msg);
        store_rollback(s);
        return db_fail(src);
    }
    rc = store_commit(s);
    if (rc != OG_OK) {
        set_err(err, errlen, "cannot commit migration %d of %s: %s", to, path, store_errmsg(s));
        return rc;
    }
    char vfrom[16], vto[16];
    snprintf(vfrom, sizeof(vfrom), "%d", from);
    snprintf(vto, sizeof(vto), "%d", to);
    log_info("database migrated", "path", path, "from", vfrom, "to", vto);
    return OG_OK;
}

/* Creates a missing database file with mode 0600 before SQLite sees it, so
 * neither it nor its -wal and -shm files (which copy its mode) are ever
 * readable by others. */
static int precreate(const char *path, char *err, size_t errlen)
{
    if (strcmp(path, ":memory:") == 0)
        return OG_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return OG_OK;
    }
    if (errno == EEXIST)
        return OG_OK;
    set_err(err, errlen, "cannot create database %s: %s", path, strerror(errno));
    return OG_ERR_IO;
}

int store_sqlite_open(const char *path, struct store **out, char *err, size_t errlen)
{
    *out = NULL;
    int rc = precreate(path, err, errlen);
    if (rc != OG_OK)
        return rc;
    sqlite3 *db;
    rc = db_connect(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db, err, errlen);
    if (rc != OG_OK)
        return rc;
    struct store *s = lite_new(db);

    /* Refuse a newer schema before touching anything, WAL mode included. */
    int version = store_schema_version(s);
    if (version < 0) {
        set_err(err, errlen, "cannot read the schema version of %s: %s", path, sqlite3_errmsg(db));
        rc = version;
        goto fail;
    }
    if (version > store_latest_version()) {
        rc = version_too_new(version, path, err, errlen);
        goto fail;
    }
    rc = store_configure(db, path, err, errlen);
    if (rc != OG_OK)
        goto fail;
    for (bool done = version == store_latest_version(); !done;) {
        rc = migrate_step(s, path, &done, err, errlen);
        if (rc != OG_OK)
            goto fail;
    }
    rc = store_open_finish(s, path, err, errlen);
    if (rc != OG_OK)
        goto fail;
    *out = s;
    return OG_OK;

fail:
    store_close(s);
    return rc;
}

int store_open_readonly(const char *path, struct store **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!path || !*path) {
        set_err(err, errlen, "no database path given");
        return OG_ERR_INVALID;
    }
    if (store_is_url(path)) {
        set_err(err, errlen, "a read-only copy works on SQLite files only: use pg_dump");
        return OG_ERR_INVALID;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) {
            set_err(err, errlen, "no database at %s: check the path or OTPGATE_DATA_DIR", path);
            return OG_ERR_NOT_FOUND;
        }
        set_err(err, errlen, "cannot open database %s: %s", path, strerror(errno));
        return OG_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s is not a regular file", path);
        return OG_ERR_INVALID;
    }
    sqlite3 *db;
    int rc = db_connect(path, SQLITE_OPEN_READONLY, &db, err, errlen);
    if (rc != OG_OK)
        return rc;
    *out = lite_new(db);
    return OG_OK;
}

/* ---- checkpoints ---- */

int store_open_checkpointer(struct store *main, struct store **out, char *err, size_t errlen)
{
    *out = NULL;
    if (main->engine != STORE_SQLITE) {
        set_err(err, errlen, "PostgreSQL checkpoints itself");
        return OG_ERR_INVALID;
    }
    const char *path = sqlite3_db_filename(lite_db(main), "main");
    if (!path || !*path) {
        set_err(err, errlen, "an in-memory database has no checkpoints");
        return OG_ERR_INVALID;
    }
    sqlite3 *db;
    int rc = db_connect(path, SQLITE_OPEN_READWRITE, &db, err, errlen);
    if (rc != OG_OK)
        return rc;
    *out = lite_new(db);
    return OG_OK;
}

static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    OG_UNUSED(db);
    OG_UNUSED(name);
    struct lite_conn *c = arg;
    return c->wal_hook_fn(c->wal_hook_arg, frames);
}

void store_set_wal_hook(struct store *s, int (*fn)(void *arg, int frames), void *arg)
{
    if (s->engine != STORE_SQLITE)
        return;
    struct lite_conn *c = s->conn;
    c->wal_hook_fn = fn;
    c->wal_hook_arg = arg;
    /* Replaces SQLite's own automatic checkpoint, which is a WAL hook too. */
    if (fn)
        sqlite3_wal_hook(c->db, on_wal_commit, c);
    else
        sqlite3_wal_autocheckpoint(c->db, STORE_AUTOCHECKPOINT_PAGES);
}

/* ---- durability in two steps ---- */

/* Opens the WAL as a file of our own (its directory synced once, so the
 * file's name is durable too). */
static int wal_open(struct lite_conn *c)
{
    int fd = open(c->wal_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return OG_ERR_IO;
    char *dir = og_strdup(c->wal_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    int rc = dfd >= 0 && fsync(dfd) == 0 ? OG_OK : OG_ERR_IO;
    if (dfd >= 0)
        close(dfd);
    if (rc != OG_OK) {
        close(fd);
        return rc;
    }
    if (c->wal_fd >= 0)
        close(c->wal_fd);
    c->wal_fd = fd;
    return OG_OK;
}

int store_defer_sync(struct store *s, char *err, size_t errlen)
{
    if (s->engine != STORE_SQLITE) {
        set_err(err, errlen, "PostgreSQL makes its own commits durable");
        return OG_ERR_INVALID;
    }
    struct lite_conn *c = s->conn;
    const char *path = sqlite3_db_filename(c->db, "main");
    if (!path || !*path) {
        set_err(err, errlen, "an in-memory database has nothing to sync");
        return OG_ERR_INVALID;
    }
    /* The WAL exists once the connection has read the database. */
    if (lite_schema_version(s) < 0) {
        set_err(err, errlen, "cannot read %s: %s", path, sqlite3_errmsg(c->db));
        return OG_ERR_DB;
    }
    size_t n = strlen(path);
    c->wal_path = og_malloc(n + 5);
    memcpy(c->wal_path, path, n);
    memcpy(c->wal_path + n, "-wal", 5);
    if (wal_open(c) != OG_OK) {
        set_err(err, errlen, "cannot open %s: %s", c->wal_path, strerror(errno));
        free(c->wal_path);
        c->wal_path = NULL;
        return OG_ERR_IO;
    }
    if (sqlite3_exec(c->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
        set_err(err, errlen, "cannot set synchronous on %s: %s", path, sqlite3_errmsg(c->db));
        close(c->wal_fd); /* commits keep waiting for the disk themselves */
        c->wal_fd = -1;
        return OG_ERR_DB;
    }
    return OG_OK;
}

int store_sync_wal(struct store *s)
{
    struct lite_conn *c = s->conn;
    if (c->wal_fd < 0)
        return OG_ERR_INVALID;
    /* The WAL is the same file for the connection's life (SQLite removes
     * it only when the last connection closes); should it ever be made
     * anew, sync the new one. */
    struct stat a, b;
    if (fstat(c->wal_fd, &a) != 0 || stat(c->wal_path, &b) != 0)
        return OG_ERR_IO;
    if ((a.st_dev != b.st_dev || a.st_ino != b.st_ino) && wal_open(c) != OG_OK)
        return OG_ERR_IO;
    return fdatasync(c->wal_fd) == 0 ? OG_OK : OG_ERR_IO;
}

int store_undefer_sync(struct store *s)
{
    struct lite_conn *c = s->conn;
    if (s->engine != STORE_SQLITE || c->wal_fd < 0)
        return OG_OK;
    close(c->wal_fd);
    c->wal_fd = -1;
    int rc = sqlite3_exec(c->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    return rc == SQLITE_OK ? OG_OK : OG_ERR_DB;
}

int store_checkpoint(struct store *s, int *wal_frames, int *copied_frames)
{
    int log = 0, ckpt = 0;
    if (s->engine != STORE_SQLITE)
        return OG_ERR_INVALID;
    int rc = sqlite3_wal_checkpoint_v2(lite_db(s), NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt);
    if (wal_frames)
        *wal_frames = log;
    if (copied_frames)
        *copied_frames = ckpt;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return OG_ERR_BUSY;
    return rc == SQLITE_OK ? OG_OK : db_fail(rc);
}

/* ---- backup ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* fsyncs the directory holding path, so a rename into it is durable. */
static int fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

/* Moves tmp to dest, failing with EEXIST rather than replacing dest. */
static int rename_noreplace(const char *tmp, const char *dest)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* The file system lacks RENAME_NOREPLACE: link() never replaces either. */
    if (link(tmp, dest) != 0)
        return -1;
    unlink(tmp);
    return 0;
}

/* Copies every page of s into the database file at tmp. */
static int backup_copy(struct store *s, const char *tmp, char *err, size_t errlen)
{
    sqlite3 *dst = NULL;
    int rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        if (!dst)
            og_oom();
        set_err(err, errlen, "cannot open %s: %s", tmp, sqlite3_errmsg(dst));
        sqlite3_close(dst);
        return OG_ERR_IO;
    }
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", lite_db(s), "main");
    if (!b) {
        set_err(err, errlen, "cannot start backup: %s", sqlite3_errmsg(dst));
        sqlite3_close(dst);
        return OG_ERR_DB;
    }
    /* All pages in one step: the copy then runs under a single read
     * transaction, so writers in other processes (which WAL lets continue)
     * can never force it to restart. */
    int retries = 0;
    do {
        rc = sqlite3_backup_step(b, -1);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            if (++retries > STORE_BACKUP_MAX_RETRIES)
                break;
            sleep_ms(STORE_BACKUP_SLEEP_MS);
        }
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    int frc = sqlite3_backup_finish(b);
    int ret = OG_OK;
    if (rc != SQLITE_DONE) {
        set_err(err, errlen, "backup failed: %s%s", sqlite3_errstr(rc),
                rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? " (database stayed locked; retry)" : "");
        ret = db_fail(rc);
    } else if (frc != SQLITE_OK) {
        set_err(err, errlen, "backup failed: %s", sqlite3_errmsg(dst));
        ret = db_fail(frc);
    }
    if (sqlite3_close(dst) != SQLITE_OK && ret == OG_OK) {
        set_err(err, errlen, "cannot close %s: %s", tmp, sqlite3_errmsg(dst));
        ret = OG_ERR_IO;
    }
    return ret;
}

int store_backup(struct store *s, const char *dest_path, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (s->engine != STORE_SQLITE) {
        set_err(err, errlen, "otpgate backup copies SQLite files: back PostgreSQL up with pg_dump");
        return OG_ERR_INVALID;
    }
    if (!dest_path || !*dest_path) {
        set_err(err, errlen, "no backup file given");
        return OG_ERR_INVALID;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", dest_path) >= sizeof(tmp)) {
        set_err(err, errlen, "backup path is too long");
        return OG_ERR_TOO_BIG;
    }
    struct stat st;
    if (lstat(dest_path, &st) == 0) {
        set_err(err, errlen, "%s already exists: choose a new file name or remove it first",
                dest_path);
        return OG_ERR_EXISTS;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) {
            set_err(err, errlen,
                    "%s already exists (another backup running, or one was interrupted): "
                    "remove it and retry",
                    tmp);
            return OG_ERR_EXISTS;
        }
        set_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return OG_ERR_IO;
    }
    close(fd);

    int rc = backup_copy(s, tmp, err, errlen);
    if (rc != OG_OK)
        goto fail;
    if (fsync_path(tmp, O_RDONLY) != 0) {
        set_err(err, errlen, "cannot fsync %s: %s", tmp, strerror(errno));
        rc = OG_ERR_IO;
        goto fail;
    }
    if (rename_noreplace(tmp, dest_path) != 0) {
        if (errno == EEXIST) {
            set_err(err, errlen, "%s appeared during the backup: choose a new file name",
                    dest_path);
            rc = OG_ERR_EXISTS;
        } else {
            set_err(err, errlen, "cannot rename %s to %s: %s", tmp, dest_path, strerror(errno));
            rc = OG_ERR_IO;
        }
        goto fail;
    }
    if (fsync_parent(dest_path) != 0) {
        set_err(err, errlen, "cannot fsync the directory of %s: %s", dest_path, strerror(errno));
        return OG_ERR_IO;
    }
    return OG_OK;

fail:
    unlink(tmp);
    return rc;
}
