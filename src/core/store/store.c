/* What both storage engines share: the prepared-statement cache keyed by
 * the caller's SQL pointer, the db_* calls (dispatched to the statement's
 * engine), transactions' common half, the meta table, and store_open's
 * choice of engine by path or URL. Never log bound values: they may be
 * secrets. */
#include "core/store/store_engine.h"

#include "core/log.h"
#include "core/store/migrations.h"

#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STORE_STMT_SLOTS_MIN 64

/* One cached statement. key is the caller's SQL pointer (NULL marks an empty
 * slot). text is NULL when key points into read-only memory of the program
 * (a string literal or a static const array), which can never hold other
 * SQL, so the pointer alone identifies the statement; for any other pointer
 * it is our copy of the SQL, to notice a buffer reused for other SQL. */
struct stmt_slot {
    const char *key;
    char *text;
    db_stmt *stmt;
};

static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_META_GET[] = "SELECT value FROM meta WHERE key = ?1";
static const char SQL_META_SET[] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char SQL_META_CREATED[] = "INSERT INTO meta (key, value) VALUES ('created_at', ?1) "
                                       "ON CONFLICT (key) DO NOTHING";

void store_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
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

db_stmt *store_stmt(struct store *s, const char *sql)
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
            s->ops->clear(slot->stmt);
            return slot->stmt;
        }
        /* The caller reused its buffer for other SQL: replace the entry. */
        db_stmt *st = s->ops->prepare(s, sql);
        if (!st)
            return NULL;
        s->ops->finalize(slot->stmt);
        free(slot->text);
        slot->stmt = st;
        slot->text = og_strdup(sql);
        return st;
    }

    db_stmt *st = s->ops->prepare(s, sql);
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

db_stmt *store_prepare(struct store *s, const char *sql)
{
    return s->ops->prepare(s, sql);
}

void db_finalize(db_stmt *st)
{
    if (st)
        st->store->ops->finalize(st);
}

void store_cache_clear(struct store *s)
{
    for (size_t i = 0; i < s->nslots; i++) {
        if (!s->slots[i].key)
            continue;
        s->ops->finalize(s->slots[i].stmt);
        free(s->slots[i].text);
        s->slots[i].key = NULL;
        s->slots[i].text = NULL;
        s->slots[i].stmt = NULL;
    }
    s->used = 0;
}

/* ---- open and close ---- */

struct store *store_new(const struct store_ops *ops, enum store_engine engine, void *conn)
{
    struct store *s = og_calloc(1, sizeof(*s));
    s->ops = ops;
    s->engine = engine;
    s->conn = conn;
    stmt_cache_grow(s);
    return s;
}

bool store_is_url(const char *target)
{
    return target &&
           (strncmp(target, "postgres://", 11) == 0 || strncmp(target, "postgresql://", 13) == 0);
}

int store_open(const char *target, struct store **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!target || !*target) {
        store_set_err(err, errlen, "no database path given");
        return OG_ERR_INVALID;
    }
    if (store_is_url(target))
        return store_pg_open(target, out, err, errlen);
    return store_sqlite_open(target, out, err, errlen);
}

int store_open_finish(struct store *s, const char *what, char *err, size_t errlen)
{
    char created[32];
    int rc = store_meta_get(s, "created_at", created, sizeof(created));
    if (rc == OG_ERR_NOT_FOUND) {
        db_stmt *st = store_stmt(s, SQL_META_CREATED);
        if (!st) {
            rc = OG_ERR_DB;
        } else {
            char now[32];
            snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
            db_bind_text(st, 1, now, -1);
            rc = store_exec_done(st);
        }
    }
    if (rc != OG_OK)
        store_set_err(err, errlen, "cannot record created_at in %s: %s", what, store_errmsg(s));
    return rc;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    store_close(s->apart);
    store_cache_clear(s);
    free(s->slots);
    s->ops->close(s);
    free(s);
}

enum store_engine store_engine(const struct store *s)
{
    return s->engine;
}

int64_t store_changes(struct store *s)
{
    return s->ops->changes(s);
}

const char *store_errmsg(struct store *s)
{
    return s->ops->errmsg(s);
}

bool store_txn_conflicted(struct store *s)
{
    return s->apart_failed || (s->ops->txn_conflicted && s->ops->txn_conflicted(s));
}

bool store_in_transaction(struct store *s)
{
    return s->ops->in_transaction(s);
}

int store_latest_version(void)
{
    return migration_count();
}

int store_schema_version(struct store *s)
{
    return s->ops->schema_version(s);
}

int store_data_version(struct store *s, int64_t *out)
{
    return s->ops->data_version(s, out);
}

/* ---- statements ---- */

int db_bind_int64(db_stmt *st, int i, int64_t v)
{
    return st->store->ops->bind_int64(st, i, v);
}

int db_bind_int(db_stmt *st, int i, int v)
{
    return st->store->ops->bind_int64(st, i, v);
}

int db_bind_text(db_stmt *st, int i, const char *v, int n)
{
    return st->store->ops->bind_text(st, i, v, n, false);
}

int db_bind_text_copy(db_stmt *st, int i, const char *v, int n)
{
    return st->store->ops->bind_text(st, i, v, n, true);
}

int db_bind_blob(db_stmt *st, int i, const void *v, int n)
{
    return st->store->ops->bind_blob(st, i, v, n, false);
}

int db_bind_blob_copy(db_stmt *st, int i, const void *v, int n)
{
    return st->store->ops->bind_blob(st, i, v, n, true);
}

int db_bind_null(db_stmt *st, int i)
{
    return st->store->ops->bind_null(st, i);
}

int db_step(db_stmt *st)
{
    return st->store->ops->step(st);
}

void db_reset(db_stmt *st)
{
    st->store->ops->reset(st);
}

int64_t db_column_int64(db_stmt *st, int col)
{
    return st->store->ops->column_int64(st, col);
}

int db_column_int(db_stmt *st, int col)
{
    return (int)st->store->ops->column_int64(st, col);
}

const unsigned char *db_column_text(db_stmt *st, int col)
{
    return st->store->ops->column_text(st, col);
}

const void *db_column_blob(db_stmt *st, int col)
{
    return st->store->ops->column_blob(st, col);
}

int db_column_bytes(db_stmt *st, int col)
{
    return st->store->ops->column_bytes(st, col);
}

int db_column_type(db_stmt *st, int col)
{
    return st->store->ops->column_type(st, col);
}

int db_column_count(db_stmt *st)
{
    return st->store->ops->column_count(st);
}

const char *db_column_name(db_stmt *st, int col)
{
    return st->store->ops->column_name(st, col);
}

/* ---- transactions and meta ---- */

int store_step_err(int rc)
{
    return rc == DB_BUSY ? OG_ERR_BUSY : OG_ERR_DB;
}

int store_exec_done(db_stmt *st)
{
    int rc = db_step(st);
    db_reset(st);
    return rc == DB_DONE ? OG_OK : store_step_err(rc);
}

int store_run(struct store *s, const char *sql)
{
    db_stmt *st = store_stmt(s, sql);
    if (!st)
        return OG_ERR_DB;
    int rc = db_step(st);
    db_reset(st);
    return rc == DB_DONE || rc == DB_ROW ? OG_OK : store_step_err(rc);
}

int store_exec(struct store *s, const char *sql)
{
    return s->ops->exec(s, sql);
}

int store_begin_as(struct store *s, enum store_txn kind)
{
    s->apart_failed = false;
    s->apart_next = 0;
    if (!s->scoped)
        s->apart_kept = 0;
    int rc = s->ops->begin(s, kind);
    if (rc != OG_OK)
        log_warn("database begin failed", "error", store_errmsg(s));
    return rc;
}

int store_begin(struct store *s)
{
    return store_begin_as(s, STORE_TXN_SHARED);
}

/* ---- work apart ---- */

struct store *store_apart_begin(struct store *s)
{
    if (!s->ops->open_apart)
        return s;
    if (!s->apart && s->ops->open_apart(s, &s->apart) != OG_OK) {
        s->apart_failed = true;
        return NULL;
    }
    if (store_begin_as(s->apart, STORE_TXN_ROW_LOCKS) != OG_OK) {
        s->apart_failed = true;
        return NULL;
    }
    return s->apart;
}

int store_apart_end(struct store *s, struct store *apart, bool keep)
{
    if (apart == s)
        return OG_OK; /* the caller's transaction holds the work */
    if (store_txn_conflicted(apart))
        s->apart_failed = true; /* a lost connection, a deadlock: run again */
    if (!keep)
        return store_rollback(apart);
    int rc = store_commit(apart);
    if (rc != OG_OK) {
        s->apart_failed = true;
        return rc;
    }
    if (s->scoped)
        s->apart_kept++;
    s->apart_next++;
    return OG_OK;
}

bool store_apart_repeat(struct store *s)
{
    if (s->apart_next >= s->apart_kept)
        return false;
    s->apart_next++;
    return true;
}

void store_scope(struct store *s, bool on)
{
    s->scoped = on;
    s->apart_kept = s->apart_next = 0;
}

int store_commit(struct store *s)
{
    int rc = store_run(s, SQL_COMMIT);
    if (rc != OG_OK) {
        if (rc == OG_ERR_BUSY)
            log_warn("database commit failed", "error", store_errmsg(s));
        else
            log_error("database commit failed", "error", store_errmsg(s));
        if (store_in_transaction(s))
            store_run(s, SQL_ROLLBACK);
    }
    return rc;
}

int store_rollback(struct store *s)
{
    if (!store_in_transaction(s))
        return OG_OK;
    int rc = store_run(s, SQL_ROLLBACK);
    if (rc != OG_OK)
        log_error("database rollback failed", "error", store_errmsg(s));
    return rc;
}

int store_meta_get(struct store *s, const char *key, char *out, size_t outlen)
{
    db_stmt *st = store_stmt(s, SQL_META_GET);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, key, -1);
    int rc = db_step(st);
    int ret;
    if (rc == DB_ROW) {
        const unsigned char *v = db_column_text(st, 0);
        size_t n = (size_t)db_column_bytes(st, 0);
        if (!v || n >= outlen) {
            ret = v ? OG_ERR_TOO_BIG : OG_ERR_DB;
        } else {
            memcpy(out, v, n);
            out[n] = '\0';
            ret = OG_OK;
        }
    } else if (rc == DB_DONE) {
        ret = OG_ERR_NOT_FOUND;
    } else {
        ret = store_step_err(rc);
        log_error("meta read failed", "key", key, "error", store_errmsg(s));
    }
    db_reset(st);
    return ret;
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
    db_stmt *st = store_stmt(s, SQL_META_SET);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, key, -1);
    db_bind_text(st, 2, value, -1);
    int rc = db_step(st);
    db_reset(st);
    if (rc != DB_DONE) {
        log_error("meta write failed", "key", key, "error", store_errmsg(s));
        return store_step_err(rc);
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
