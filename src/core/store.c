/* Owns the SQLite connection: pragmas, migrations (SQL in migrations.c), the
 * prepared-statement cache, transactions, meta and backups. Everything here
 * blocks on disk; store_backup may also sleep, so it must never run on the
 * event loop. Never log bound values: they may be secrets. */
#include "core/store.h"

#include "core/log.h"
#include "core/migrations.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
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
#define STORE_STMT_SLOTS_MIN       64
/* store_backup retries a BUSY/LOCKED step this often, this far apart. */
#define STORE_BACKUP_SLEEP_MS    50
#define STORE_BACKUP_MAX_RETRIES 1200 /* 60 s */

/* One cached statement. key is the caller's SQL pointer (NULL marks an empty
 * slot). text is NULL when key points into read-only memory of the program
 * (a string literal or a static const array), which can never hold other
 * SQL, so the pointer alone identifies the statement; for any other pointer
 * it is our copy of the SQL, to notice a buffer reused for other SQL. */
struct stmt_slot {
    const char *key;
    char *text;
    sqlite3_stmt *stmt;
};

struct store {
    sqlite3 *db;
    struct stmt_slot *slots; /* open addressing, nslots a power of two */
    size_t nslots;
    size_t used;
    int (*wal_hook_fn)(void *arg, int frames); /* store_set_wal_hook */
    void *wal_hook_arg;
};

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_USER_VERSION[] = "PRAGMA user_version";
static const char SQL_DATA_VERSION[] = "PRAGMA data_version";
static const char SQL_META_GET[] = "SELECT value FROM meta WHERE key = ?1";
static const char SQL_META_SET[] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char SQL_META_CREATED[] = "INSERT OR IGNORE INTO meta (key, value) VALUES "
                                       "('created_at', strftime('%s', 'now'))";

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

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

/* ---- statement cache ---- */

/* The read-only PT_LOAD segments of the program itself (its text and
 * rodata, where string literals and static const arrays live), found once
 * per process. Memory there cannot change, so a SQL pointer into it always
 * holds the same text. Shared libraries are left out: one could be unloaded
 * and another mapped at the same address. */
#define RO_RANGES_MAX 8

static struct {
    uintptr_t lo, hi;
} ro_ranges[RO_RANGES_MAX];
static size_t ro_count;
static pthread_once_t ro_once = PTHREAD_ONCE_INIT;

static int ro_collect(struct dl_phdr_info *info, size_t size, void *arg)
{
    OG_UNUSED(size);
    OG_UNUSED(arg);
    /* The first object is the program; its name is empty. */
    for (size_t i = 0; i < info->dlpi_phnum && ro_count < RO_RANGES_MAX; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W) || ph->p_memsz == 0)
            continue;
        ro_ranges[ro_count].lo = (uintptr_t)(info->dlpi_addr + ph->p_vaddr);
        ro_ranges[ro_count].hi = ro_ranges[ro_count].lo + (uintptr_t)ph->p_memsz;
        ro_count++;
    }
    return 1; /* stop after the program */
}

static void ro_find(void)
{
    dl_iterate_phdr(ro_collect, NULL);
}

static bool sql_is_readonly(const char *sql)
{
    pthread_once(&ro_once, ro_find);
    uintptr_t p = (uintptr_t)sql;
    for (size_t i = 0; i < ro_count; i++)
        if (p >= ro_ranges[i].lo && p < ro_ranges[i].hi)
            return true;
    return false;
}

static size_t stmt_hash(const char *p, size_t mask)
{
    uint64_t h = (uint64_t)(uintptr_t)p;
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return (size_t)h & mask;
}

static bool sql_blank(const char *p)
{
    for (; *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != ';')
            return false;
    return true;
}

static sqlite3_stmt *stmt_prepare(struct store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (rc == SQLITE_NOMEM)
        og_oom();
    if (rc != SQLITE_OK) {
        log_error("sql prepare failed", "error", sqlite3_errmsg(s->db), "sql", sql);
        sqlite3_finalize(st);
        return NULL;
    }
    if (!st || (tail && !sql_blank(tail))) {
        log_error("sql prepare failed", "error", "store_stmt takes exactly one statement", "sql",
                  sql);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static void stmt_cache_grow(struct store *s)
{
    size_t nslots = s->nslots ? s->nslots * 2 : STORE_STMT_SLOTS_MIN;
    struct stmt_slot *slots = og_calloc(nslots, sizeof(*slots));
    for (size_t i = 0; i < s->nslots; i++) {
        if (!s->slots[i].key)
            continue;
        size_t j = stmt_hash(s->slots[i].key, nslots - 1);
        while (slots[j].key)
            j = (j + 1) & (nslots - 1);
        slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->nslots = nslots;
}

sqlite3_stmt *store_stmt(struct store *s, const char *sql)
{
    size_t mask = s->nslots - 1;
    size_t i = stmt_hash(sql, mask);
    for (; s->slots[i].key; i = (i + 1) & mask) {
        struct stmt_slot *slot = &s->slots[i];
        if (slot->key != sql)
            continue;
        /* A literal is known by its address alone; only other strings are
         * compared with the text they had when cached. */
        if (!slot->text || strcmp(slot->text, sql) == 0) {
            sqlite3_reset(slot->stmt);
            sqlite3_clear_bindings(slot->stmt);
            return slot->stmt;
        }
        /* The caller reused its buffer for other SQL: replace the entry. */
        sqlite3_stmt *st = stmt_prepare(s, sql);
        if (!st)
            return NULL;
        sqlite3_finalize(slot->stmt);
        free(slot->text);
        slot->stmt = st;
        slot->text = og_strdup(sql);
        return st;
    }

    sqlite3_stmt *st = stmt_prepare(s, sql);
    if (!st)
        return NULL;
    if ((s->used + 1) * 4 > s->nslots * 3) {
        stmt_cache_grow(s);
        mask = s->nslots - 1;
        for (i = stmt_hash(sql, mask); s->slots[i].key; i = (i + 1) & mask)
            ;
    }
    s->slots[i].key = sql;
    s->slots[i].text = sql_is_readonly(sql) ? NULL : og_strdup(sql);
    s->slots[i].stmt = st;
    s->used++;
    return st;
}

/* Runs a cached statement that returns no rows and resets it. */
static int stmt_run(struct store *s, const char *sql)
{
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return OG_ERR_DB;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? OG_OK : db_fail(rc);
}

/* ---- open and close ---- */

static struct store *store_new(sqlite3 *db)
{
    struct store *s = og_calloc(1, sizeof(*s));
    s->db = db;
    stmt_cache_grow(s);
    return s;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nslots; i++) {
        if (!s->slots[i].key)
            continue;
        sqlite3_finalize(s->slots[i].stmt);
        free(s->slots[i].text);
    }
    free(s->slots);
    if (s->db && sqlite3_close(s->db) != SQLITE_OK) {
        /* Someone still holds a statement of their own: close when it goes. */
        log_warn("database closed with statements outstanding", "error", sqlite3_errmsg(s->db));
        sqlite3_close_v2(s->db);
    }
    free(s);
}

sqlite3 *store_db(struct store *s)
{
    return s->db;
}

int store_latest_version(void)
{
    return migration_count();
}

int store_schema_version(struct store *s)
{
    sqlite3_stmt *st = store_stmt(s, SQL_USER_VERSION);
    if (!st)
        return OG_ERR_DB;
    int rc = sqlite3_step(st);
    int v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : db_fail(rc);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW && v < 0)
        return OG_ERR_INVALID;
    return v;
}

/* Opens the connection and reads the schema, so a file that is not a
 * database is refused here rather than on first use. */
static int db_connect(const char *path, int flags, sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
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

static int store_configure(struct store *s, const char *path, char *err, size_t errlen)
{
    char mode[32];
    int rc = pragma_text(s->db, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "cannot switch %s to WAL: %s", path, sqlite3_errmsg(s->db));
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
    rc = sqlite3_exec(s->db,
                      "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
                      "PRAGMA cache_size = " STORE_CACHE_KIB "; "
                      "PRAGMA journal_size_limit = " STORE_WAL_LIMIT_BYTES,
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "cannot set pragmas on %s: %s", path, sqlite3_errmsg(s->db));
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
        set_err(err, errlen, "cannot lock %s to migrate it: %s", path, sqlite3_errmsg(s->db));
        return rc;
    }
    int from = store_schema_version(s);
    if (from < 0) {
        set_err(err, errlen, "cannot read the schema version of %s: %s", path,
                sqlite3_errmsg(s->db));
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
    int src = sqlite3_exec(s->db, migration_sql(to), NULL, NULL, &msg);
    if (src == SQLITE_OK) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", to);
        src = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
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
        set_err(err, errlen, "cannot commit migration %d of %s: %s", to, path,
                sqlite3_errmsg(s->db));
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

int store_open(const char *path, struct store **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!path || !*path) {
        set_err(err, errlen, "no database path given");
        return OG_ERR_INVALID;
    }
    int rc = precreate(path, err, errlen);
    if (rc != OG_OK)
        return rc;
    sqlite3 *db;
    rc = db_connect(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db, err, errlen);
    if (rc != OG_OK)
        return rc;
    struct store *s = store_new(db);

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
    rc = store_configure(s, path, err, errlen);
    if (rc != OG_OK)
        goto fail;
    for (bool done = version == store_latest_version(); !done;) {
        rc = migrate_step(s, path, &done, err, errlen);
        if (rc != OG_OK)
            goto fail;
    }
    char created[32];
    rc = store_meta_get(s, "created_at", created, sizeof(created));
    if (rc == OG_ERR_NOT_FOUND)
        rc = stmt_run(s, SQL_META_CREATED);
    if (rc != OG_OK) {
        set_err(err, errlen, "cannot record created_at in %s: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
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
    *out = store_new(db);
    return OG_OK;
}

/* ---- checkpoints ---- */

int store_open_checkpointer(struct store *main, struct store **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *path = sqlite3_db_filename(main->db, "main");
    if (!path || !*path) {
        set_err(err, errlen, "an in-memory database has no checkpoints");
        return OG_ERR_INVALID;
    }
    sqlite3 *db;
    int rc = db_connect(path, SQLITE_OPEN_READWRITE, &db, err, errlen);
    if (rc != OG_OK)
        return rc;
    *out = store_new(db);
    return OG_OK;
}

static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    OG_UNUSED(db);
    OG_UNUSED(name);
    struct store *s = arg;
    return s->wal_hook_fn(s->wal_hook_arg, frames);
}

void store_set_wal_hook(struct store *s, int (*fn)(void *arg, int frames), void *arg)
{
    s->wal_hook_fn = fn;
    s->wal_hook_arg = arg;
    /* Replaces SQLite's own automatic checkpoint, which is a WAL hook too. */
    if (fn)
        sqlite3_wal_hook(s->db, on_wal_commit, s);
    else
        sqlite3_wal_autocheckpoint(s->db, STORE_AUTOCHECKPOINT_PAGES);
}

int store_checkpoint(struct store *s, int *wal_frames, int *copied_frames)
{
    int log = 0, ckpt = 0;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt);
    if (wal_frames)
        *wal_frames = log;
    if (copied_frames)
        *copied_frames = ckpt;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return OG_ERR_BUSY;
    return rc == SQLITE_OK ? OG_OK : db_fail(rc);
}

/* ---- transactions and meta ---- */

int store_step_err(int rc)
{
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return OG_ERR_BUSY;
    return OG_ERR_DB;
}

int store_exec_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? OG_OK : store_step_err(rc);
}

int store_run(struct store *s, const char *sql)
{
    return stmt_run(s, sql);
}

int store_data_version(struct store *s, int64_t *out)
{
    sqlite3_stmt *st = store_stmt(s, SQL_DATA_VERSION);
    if (!st)
        return OG_ERR_DB;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? OG_OK : db_fail(rc);
}

int store_begin(struct store *s)
{
    int rc = stmt_run(s, SQL_BEGIN);
    if (rc != OG_OK)
        log_warn("database begin failed", "error", sqlite3_errmsg(s->db));
    return rc;
}

int store_commit(struct store *s)
{
    int rc = stmt_run(s, SQL_COMMIT);
    if (rc != OG_OK) {
        log_error("database commit failed", "error", sqlite3_errmsg(s->db));
        if (!sqlite3_get_autocommit(s->db))
            stmt_run(s, SQL_ROLLBACK);
    }
    return rc;
}

int store_rollback(struct store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return OG_OK;
    int rc = stmt_run(s, SQL_ROLLBACK);
    if (rc != OG_OK)
        log_error("database rollback failed", "error", sqlite3_errmsg(s->db));
    return rc;
}

int store_meta_get(struct store *s, const char *key, char *out, size_t outlen)
{
    sqlite3_stmt *st = store_stmt(s, SQL_META_GET);
    if (!st)
        return OG_ERR_DB;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int ret;
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if (!v || n >= outlen) {
            ret = v ? OG_ERR_TOO_BIG : OG_ERR_DB;
        } else {
            memcpy(out, v, n);
            out[n] = '\0';
            ret = OG_OK;
        }
    } else if (rc == SQLITE_DONE) {
        ret = OG_ERR_NOT_FOUND;
    } else {
        ret = db_fail(rc);
        log_error("meta read failed", "key", key, "error", sqlite3_errmsg(s->db));
    }
    sqlite3_reset(st);
    return ret;
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
    sqlite3_stmt *st = store_stmt(s, SQL_META_SET);
    if (!st)
        return OG_ERR_DB;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        log_error("meta write failed", "key", key, "error", sqlite3_errmsg(s->db));
        return db_fail(rc);
    }
    return OG_OK;
}

int store_check_writable(struct store *s)
{
    int rc = store_begin(s);
    if (rc != OG_OK)
        return rc;
    char now[32];
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    rc = store_meta_set(s, "ready_probe", now);
    if (rc != OG_OK) {
        store_rollback(s);
        return rc;
    }
    return store_commit(s);
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
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", s->db, "main");
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
