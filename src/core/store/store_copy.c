/* `otpgate migrate --to`: copies every table of a SQLite store into an
 * empty PostgreSQL store in one transaction, row for row (COPY_BATCH rows
 * to an INSERT) and byte for byte
 * (sealed secrets are copied as they are, never opened), moves the
 * identity sequences past the copied ids, and compares the counts. */
#include "core/store/store_copy.h"

#include "core/buf.h"
#include "core/store/store_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_MAX_TABLES  64
#define COPY_MAX_COLUMNS 64
#define COPY_NAME_LEN    64

struct table {
    char name[COPY_NAME_LEN];
    char parents[8][COPY_NAME_LEN]; /* tables its foreign keys point at */
    int nparents;
    bool done;
};

static const char SQL_TABLES[] = "SELECT name FROM sqlite_schema WHERE type = 'table' AND name "
                                 "NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
static const char SQL_PARENTS[] = "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)";
static const char SQL_PG_COLUMN[] = "SELECT data_type, is_identity FROM information_schema.columns "
                                    "WHERE table_schema = current_schema() AND table_name = ?1 "
                                    "AND column_name = ?2";
static const char SQL_PG_TABLES[] = "SELECT table_name FROM information_schema.tables WHERE "
                                    "table_schema = current_schema() AND table_type = 'BASE TABLE'";
/* The rows store_open itself writes into a new database's meta. */
static const char SQL_PG_META_OWN[] = "SELECT count(*) FROM meta WHERE key NOT IN "
                                      "('schema_version', 'created_at')";

/* Names are checked before they are put into SQL text: lower-case letters,
 * digits and '_' only (every otpgate table and column). */
static bool plain_name(const char *n)
{
    if (!*n || strlen(n) >= COPY_NAME_LEN)
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

static int list_tables(struct store *from, struct table *t, int *n, char *err, size_t errlen)
{
    *n = 0;
    db_stmt *st = store_stmt(from, SQL_TABLES);
    if (!st)
        return OG_ERR_DB;
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        const char *name = (const char *)db_column_text(st, 0);
        if (!name || !plain_name(name) || *n == COPY_MAX_TABLES) {
            db_reset(st);
            store_set_err(err, errlen, "unexpected table %s in the SQLite database",
                          name ? name : "(null)");
            return OG_ERR_INVALID;
        }
        memset(&t[*n], 0, sizeof(t[*n]));
        snprintf(t[*n].name, sizeof(t[*n].name), "%s", name);
        (*n)++;
    }
    db_reset(st);
    if (rc != DB_DONE)
        return store_step_err(rc);
    for (int i = 0; i < *n; i++) {
        st = store_stmt(from, SQL_PARENTS);
        if (!st)
            return OG_ERR_DB;
        db_bind_text(st, 1, t[i].name, -1);
        while ((rc = db_step(st)) == DB_ROW && t[i].nparents < 8) {
            const char *p = (const char *)db_column_text(st, 0);
            if (p && strcmp(p, t[i].name) != 0)
                snprintf(t[i].parents[t[i].nparents++], COPY_NAME_LEN, "%s", p);
        }
        db_reset(st);
        if (rc != DB_DONE && rc != DB_ROW)
            return store_step_err(rc);
    }
    return OG_OK;
}

/* The next table whose parents are all copied, or NULL when none is left
 * (or the rest point at each other, which otpgate's schema never does). */
static struct table *next_table(struct table *t, int n)
{
    for (int i = 0; i < n; i++) {
        if (t[i].done)
            continue;
        bool ready = true;
        for (int p = 0; p < t[i].nparents && ready; p++)
            for (int j = 0; j < n; j++)
                if (!t[j].done && strcmp(t[j].name, t[i].parents[p]) == 0)
                    ready = false;
        if (ready)
            return &t[i];
    }
    return NULL;
}

/* Rows of table; meta's schema_version and config_version rows,
 * PostgreSQL's own (its triggers write the latter as apps are copied), are
 * left out. */
static int64_t count_rows(struct store *s, const char *table)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %.63s%s", table,
             strcmp(table, "meta") == 0 ? " WHERE key NOT IN ('schema_version', 'config_version')"
                                        : "");
    db_stmt *st = store_prepare(s, sql);
    if (!st)
        return -1;
    int64_t n = db_step(st) == DB_ROW ? db_column_int64(st, 0) : -1;
    db_finalize(st);
    return n;
}

/* The destination must hold nothing but the schema and store_open's own
 * meta rows, so a copy never mixes with data already there. */
static int check_empty(struct store *to, char *err, size_t errlen)
{
    db_stmt *st = store_stmt(to, SQL_PG_TABLES);
    if (!st)
        return OG_ERR_DB;
    char names[COPY_MAX_TABLES][COPY_NAME_LEN];
    int n = 0, rc;
    while ((rc = db_step(st)) == DB_ROW && n < COPY_MAX_TABLES) {
        const char *name = (const char *)db_column_text(st, 0);
        if (name && plain_name(name))
            snprintf(names[n++], COPY_NAME_LEN, "%s", name);
    }
    db_reset(st);
    if (rc != DB_DONE && rc != DB_ROW)
        return store_step_err(rc);
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], "meta") == 0)
            continue;
        int64_t rows = count_rows(to, names[i]);
        if (rows != 0) {
            store_set_err(err, errlen,
                          rows < 0 ? "cannot count the rows of %s in the PostgreSQL database"
                                   : "the PostgreSQL database is not empty (table %s has rows): "
                                     "migrate copies into a new, empty database only",
                          names[i]);
            return rows < 0 ? OG_ERR_DB : OG_ERR_EXISTS;
        }
    }
    st = store_stmt(to, SQL_PG_META_OWN);
    if (!st)
        return OG_ERR_DB;
    rc = db_step(st);
    int64_t extra = rc == DB_ROW ? db_column_int64(st, 0) : -1;
    db_reset(st);
    if (extra != 0) {
        store_set_err(err, errlen,
                      "the PostgreSQL database is not empty (table meta has rows): "
                      "migrate copies into a new, empty database only");
        return extra < 0 ? OG_ERR_DB : OG_ERR_EXISTS;
    }
    return OG_OK;
}

struct column {
    char name[COPY_NAME_LEN];
    bool bytea;
    bool identity;
};

/* Looks up each source column in the destination: a column PostgreSQL lacks
 * means the two schemas differ, and nothing is copied. */
static int describe(struct store *to, const char *table, db_stmt *src, struct column *cols,
                    int ncols, char *err, size_t errlen)
{
    for (int i = 0; i < ncols; i++) {
        const char *name = db_column_name(src, i);
        if (!name || !plain_name(name)) {
            store_set_err(err, errlen, "unexpected column in table %s", table);
            return OG_ERR_INVALID;
        }
        snprintf(cols[i].name, sizeof(cols[i].name), "%s", name);
        db_stmt *st = store_stmt(to, SQL_PG_COLUMN);
        if (!st)
            return OG_ERR_DB;
        db_bind_text(st, 1, table, -1);
        db_bind_text(st, 2, name, -1);
        int rc = db_step(st);
        if (rc == DB_ROW) {
            const char *type = (const char *)db_column_text(st, 0);
            const char *ident = (const char *)db_column_text(st, 1);
            cols[i].bytea = type && strcmp(type, "bytea") == 0;
            cols[i].identity = ident && strcmp(ident, "YES") == 0;
        }
        db_reset(st);
        if (rc == DB_DONE) {
            store_set_err(err, errlen,
                          "the PostgreSQL database has no column %s.%s: its schema is not "
                          "otpgate's of this version",
                          table, name);
            return OG_ERR_INVALID;
        }
        if (rc != DB_ROW)
            return store_step_err(rc);
    }
    return OG_OK;
}

/* Binds the source row's column col to parameter i of dst, as a copy: the
 * row is read past before the batch it joins is sent. */
static int bind_value(db_stmt *src, db_stmt *dst, int i, int col, const struct column *c)
{
    switch (db_column_type(src, col)) {
    case DB_NULL:
        return db_bind_null(dst, i);
    case DB_INTEGER:
        return db_bind_int64(dst, i, db_column_int64(src, col));
    case DB_BLOB: {
        const void *p = db_column_blob(src, col);
        return db_bind_blob_copy(dst, i, p ? p : "", db_column_bytes(src, col));
    }
    default: {
        /* Text, or a value SQLite stored as text in a BLOB column: bytes go
         * to bytea as they are, never parsed as an escape string. */
        const unsigned char *t = db_column_text(src, col);
        int n = db_column_bytes(src, col);
        if (c->bytea)
            return db_bind_blob_copy(dst, i, t ? (const void *)t : "", n);
        return db_bind_text_copy(dst, i, t ? (const char *)t : "", n);
    }
    }
}

/* Rows one INSERT carries, so a copy to a distant server pays one round
 * trip per COPY_BATCH rows instead of one per row (64 columns at most:
 * 12,800 parameters, under PostgreSQL's 65,535). */
#define COPY_BATCH 200

/* INSERT INTO table (columns) VALUES (?1, ...), ... for nrows rows. */
static db_stmt *prepare_insert(struct store *to, const char *table, const struct column *cols,
                               int ncols, int nrows)
{
    struct buf b;
    buf_init(&b, 1u << 20); /* 200 rows of 64 columns take about 120 KiB */
    int bad = buf_printf(&b, "INSERT INTO %s (", table);
    for (int i = 0; i < ncols; i++)
        bad |= buf_printf(&b, "%s%s", i ? ", " : "", cols[i].name);
    bad |= buf_append_str(&b, ") VALUES ");
    for (int r = 0; r < nrows; r++) {
        bad |= buf_append_str(&b, r ? ", (" : "(");
        for (int i = 0; i < ncols; i++)
            bad |= buf_printf(&b, "%s?%d", i ? ", " : "", r * ncols + i + 1);
        bad |= buf_append_str(&b, ")");
    }
    db_stmt *st = bad ? NULL : store_prepare(to, b.data);
    buf_free(&b);
    return st;
}

/* Copies one table; *rows gets how many rows went over. */
static int copy_table(struct store *from, struct store *to, const char *table, int64_t *rows,
                      char *err, size_t errlen)
{
    char sql[512];
    *rows = 0;
    /* The batches are sized from the count, read in the same snapshot. */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %.63s", table);
    db_stmt *cnt = store_prepare(from, sql);
    int64_t left = cnt && db_step(cnt) == DB_ROW ? db_column_int64(cnt, 0) : -1;
    db_finalize(cnt);
    if (left < 0) {
        store_set_err(err, errlen, "cannot count %s: %s", table, store_errmsg(from));
        return OG_ERR_DB;
    }
    snprintf(sql, sizeof(sql), "SELECT * FROM %.63s", table);
    db_stmt *src = store_prepare(from, sql);
    if (!src)
        return OG_ERR_DB;
    int ncols = db_column_count(src);
    struct column cols[COPY_MAX_COLUMNS];
    db_stmt *dst = NULL;
    int rc = ncols > 0 && ncols <= COPY_MAX_COLUMNS ? OG_OK : OG_ERR_INVALID;
    if (rc != OG_OK)
        store_set_err(err, errlen, "table %s has %d columns", table, ncols);
    if (rc == OG_OK)
        rc = describe(to, table, src, cols, ncols, err, errlen);
    int step = DB_DONE, per = 0, pending = 0;
    while (rc == OG_OK && (step = db_step(src)) == DB_ROW) {
        if (pending == 0) {
            int want = left < COPY_BATCH ? (int)left : COPY_BATCH;
            if (want <= 0) {
                store_set_err(err, errlen, "%s has more rows than it counted", table);
                rc = OG_ERR_DB;
                break;
            }
            if (want != per) {
                db_finalize(dst);
                per = want;
                if (!(dst = prepare_insert(to, table, cols, ncols, per))) {
                    rc = OG_ERR_DB;
                    break;
                }
            }
        }
        for (int i = 0; i < ncols && rc == OG_OK; i++)
            if (bind_value(src, dst, pending * ncols + i + 1, i, &cols[i]) != 0)
                rc = OG_ERR_DB;
        left--;
        if (rc != OG_OK || ++pending < per)
            continue;
        int put = db_step(dst);
        db_reset(dst);
        if (put != DB_DONE) {
            store_set_err(err, errlen, "cannot copy rows of %s: %s", table, store_errmsg(to));
            rc = store_step_err(put);
        } else {
            *rows += pending;
            pending = 0;
        }
    }
    if (rc == OG_OK && step != DB_DONE) {
        store_set_err(err, errlen, "cannot read %s: %s", table, store_errmsg(from));
        rc = store_step_err(step);
    }
    /* Identity columns: the next id must come after every copied one. */
    for (int i = 0; rc == OG_OK && i < ncols; i++) {
        if (!cols[i].identity)
            continue;
        snprintf(sql, sizeof(sql),
                 "SELECT setval(pg_get_serial_sequence('%.63s', '%.63s'), coalesce((SELECT "
                 "max(%.63s) FROM %.63s), 0) + 1, false)",
                 table, cols[i].name, cols[i].name, table);
        db_stmt *sv = store_prepare(to, sql);
        int r = sv ? db_step(sv) : DB_ERROR;
        db_finalize(sv);
        if (r != DB_ROW) {
            store_set_err(err, errlen, "cannot move the id sequence of %s: %s", table,
                          store_errmsg(to));
            rc = store_step_err(r);
        }
    }
    db_finalize(dst);
    db_finalize(src);
    return rc;
}

int store_copy(struct store *from, struct store *to, struct store_copy_count *counts, int *ncounts,
               char *err, size_t errlen)
{
    *ncounts = 0;
    if (store_engine(from) != STORE_SQLITE || store_engine(to) != STORE_POSTGRES) {
        store_set_err(err, errlen, "migrate copies a SQLite database into PostgreSQL");
        return OG_ERR_INVALID;
    }
    if (store_schema_version(from) != store_schema_version(to)) {
        store_set_err(err, errlen, "schema versions differ (SQLite %d, PostgreSQL %d)",
                      store_schema_version(from), store_schema_version(to));
        return OG_ERR_INVALID;
    }
    struct table *t = og_calloc(COPY_MAX_TABLES, sizeof(*t));
    int n = 0;
    /* One read transaction on the source, so the copy is of one moment
     * even while a server keeps writing; one write transaction on the
     * destination, so a failed copy leaves it empty. */
    int rc = store_exec(from, "BEGIN");
    if (rc == OG_OK)
        rc = list_tables(from, t, &n, err, errlen);
    if (rc == OG_OK)
        rc = store_begin(to);
    if (rc == OG_OK)
        rc = check_empty(to, err, errlen);
    /* meta: store_open wrote created_at and schema_version; the source's
     * own created_at wins. */
    if (rc == OG_OK)
        rc = store_exec(to, "DELETE FROM meta WHERE key = 'created_at'");
    for (struct table *x; rc == OG_OK && (x = next_table(t, n)) != NULL;) {
        int64_t rows = 0;
        rc = copy_table(from, to, x->name, &rows, err, errlen);
        x->done = true;
        if (rc == OG_OK && *ncounts < STORE_COPY_MAX_TABLES) {
            snprintf(counts[*ncounts].table, sizeof(counts[*ncounts].table), "%s", x->name);
            counts[*ncounts].rows = rows;
            (*ncounts)++;
        }
    }
    if (rc == OG_OK && next_table(t, n) == NULL)
        for (int i = 0; i < n; i++)
            if (!t[i].done) {
                store_set_err(err, errlen, "tables point at each other: %s", t[i].name);
                rc = OG_ERR_INVALID;
                break;
            }
    /* The counts, read back inside the same transaction. */
    for (int i = 0; rc == OG_OK && i < *ncounts; i++) {
        int64_t have = count_rows(to, counts[i].table);
        int64_t want = count_rows(from, counts[i].table);
        if (have != counts[i].rows || want != counts[i].rows) {
            store_set_err(err, errlen,
                          "counts differ for %s: SQLite %lld, copied %lld, "
                          "PostgreSQL %lld",
                          counts[i].table, (long long)want, (long long)counts[i].rows,
                          (long long)have);
            rc = OG_ERR_DB;
        }
    }
    if (rc == OG_OK) {
        rc = store_commit(to);
        if (rc != OG_OK)
            store_set_err(err, errlen, "cannot commit the copy: %s", store_errmsg(to));
    } else {
        if (err && !*err)
            store_set_err(err, errlen, "copy failed: %s", store_errmsg(to));
        store_rollback(to);
    }
    store_exec(from, "COMMIT");
    free(t);
    return rc;
}
