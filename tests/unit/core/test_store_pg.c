/* Unit tests of src/core/store/store_pg.c against a real PostgreSQL: the
 * schema, parameter translation, values of every type, errors, transactions
 * at SERIALIZABLE, savepoints, reconnection and the URL's password kept out
 * of messages. They need OTPGATE_TEST_DATABASE_URL (ctest's
 * unit.test_store_pg_live sets it to a cluster of tests/pg/pgcluster.sh);
 * without it every test that needs a server is skipped. Each such test owns
 * a fresh database, created through the `postgres` maintenance database and
 * dropped afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/store/store.h"

static const char *base_url; /* OTPGATE_TEST_DATABASE_URL, or NULL */

struct fixture {
    char name[64];  /* this test's database */
    char url[1024]; /* base_url naming it */
    char err[512];
};

/* ---- the server side, by libpq directly ---- */

/* A connection to dbname on base_url's server. */
static PGconn *admin_connect(const char *dbname)
{
    const char *const keys[] = {"dbname", "dbname", "options", NULL};
    const char *const vals[] = {base_url, dbname, "-c client_min_messages=warning", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg) != CONNECTION_OK)
        fail_msg("cannot connect to %s: %s", dbname, PQerrorMessage(pg));
    return pg;
}

static void admin_exec(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
}

static int setup(void **state)
{
    if (!base_url)
        return 0; /* each test skips */
    static unsigned counter;
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->name, sizeof(f->name), "og_test_%ld_%u", (long)getpid(), ++counter);
    snprintf(f->url, sizeof(f->url), "%s%sdbname=%s", base_url, strchr(base_url, '?') ? "&" : "?",
             f->name);
    PGconn *pg = admin_connect("postgres");
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", f->name);
    admin_exec(pg, sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->name);
    admin_exec(pg, sql);
    PQfinish(pg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    PGconn *pg = admin_connect("postgres");
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->name);
    admin_exec(pg, sql);
    PQfinish(pg);
    free(f);
    return 0;
}

#define NEED_SERVER()                                                                              \
    do {                                                                                           \
        if (!base_url)                                                                             \
            skip();                                                                                \
    } while (0)

static struct store *open_ok(struct fixture *f)
{
    struct store *s = NULL;
    f->err[0] = '\0';
    int rc = store_open(f->url, &s, f->err, sizeof(f->err));
    if (rc != 0)
        fail_msg("store_open: %d %s", rc, f->err);
    assert_non_null(s);
    assert_int_equal(store_engine(s), STORE_POSTGRES);
    return s;
}

/* The first column of the one row sql returns, through the store. */
static long long query_int(struct store *s, const char *sql)
{
    db_stmt *st = store_stmt(s, sql);
    assert_non_null(st);
    int rc = db_step(st);
    if (rc != DB_ROW)
        fail_msg("%s: %d %s", sql, rc, store_errmsg(s));
    long long v = db_column_int64(st, 0);
    db_reset(st);
    return v;
}

static void run_ok(struct store *s, const char *sql)
{
    if (store_run(s, sql) != OG_OK)
        fail_msg("%s: %s", sql, store_errmsg(s));
}

/* ---- open and schema ---- */

static void test_open_creates_schema(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    assert_int_equal(store_schema_version(s), store_latest_version());
    assert_int_equal(query_int(s, "SELECT count(*) FROM meta WHERE key = 'schema_version'"), 1);
    assert_int_equal(query_int(s, "SELECT CAST(to_regclass('webauthn_challenges') IS NOT NULL "
                                  "AS INTEGER)"),
                     1);
    long long tables = query_int(s, "SELECT count(*) FROM information_schema.tables "
                                    "WHERE table_schema = 'public'");
    assert_true(tables >= 20);
    char created1[32], created2[32];
    assert_int_equal(store_meta_get(s, "created_at", created1, sizeof(created1)), 0);
    long long created = strtoll(created1, NULL, 10);
    assert_true(created > (long long)time(NULL) - 60 && created <= (long long)time(NULL));
    assert_false(store_in_transaction(s));
    int64_t dv = -1;
    assert_int_equal(store_data_version(s, &dv), 0); /* the version row (schema 19) */
    assert_true(dv >= 0);
    store_close(s);

    /* Again: nothing created twice, created_at kept. */
    s = open_ok(f);
    assert_int_equal(store_schema_version(s), store_latest_version());
    assert_int_equal(store_meta_get(s, "created_at", created2, sizeof(created2)), 0);
    assert_string_equal(created1, created2);
    assert_int_equal(query_int(s, "SELECT count(*) FROM information_schema.tables "
                                  "WHERE table_schema = 'public'"),
                     tables);
    store_close(s);
}

struct opener {
    const char *url;
    int rc;
    char err[512];
};

static void *open_thread(void *arg)
{
    struct opener *o = arg;
    struct store *s = NULL;
    o->rc = store_open(o->url, &s, o->err, sizeof(o->err));
    store_close(s);
    return NULL;
}

static void test_concurrent_open_creates_once(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct opener o[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        o[i] = (struct opener){.url = f->url};
        assert_int_equal(pthread_create(&t[i], NULL, open_thread, &o[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 3; i++)
        if (o[i].rc != 0)
            fail_msg("open %d: %d %s", i, o[i].rc, o[i].err);
    struct store *s = open_ok(f);
    assert_int_equal(query_int(s, "SELECT count(*) FROM meta WHERE key = 'schema_version'"), 1);
    assert_int_equal(query_int(s, "SELECT count(*) FROM meta WHERE key = 'created_at'"), 1);
    store_close(s);
}

static void test_newer_schema_refused(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    char v[16];
    snprintf(v, sizeof(v), "%d", store_latest_version() + 1);
    assert_int_equal(store_meta_set(s, "schema_version", v), 0);
    store_close(s);

    s = (struct store *)1;
    int rc = store_open(f->url, &s, f->err, sizeof(f->err));
    assert_int_equal(rc, OG_ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(f->err, "newer than this otpgate knows"));
    assert_non_null(strstr(f->err, f->name));
}

static void test_version_without_migration_refused(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    /* 001_base.sql creates version 17 at once, so no file takes a
     * database on from version 1. */
    assert_int_equal(store_meta_set(s, "schema_version", "1"), 0);
    store_close(s);

    s = (struct store *)1;
    assert_int_equal(store_open(f->url, &s, f->err, sizeof(f->err)), OG_ERR_DB);
    assert_null(s);
    assert_non_null(strstr(f->err, "no PostgreSQL migration"));
}

/* ---- statements ---- */

static void test_parameter_translation(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);

    /* ?1 twice, then a bare ? that takes the next number (2). */
    db_stmt *st = store_stmt(s, "SELECT CAST(?1 AS TEXT) || '-' || ?1, CAST(? AS TEXT)");
    assert_non_null(st);
    assert_int_equal(db_bind_text(st, 1, "a", -1), 0);
    assert_int_equal(db_bind_text(st, 2, "b", -1), 0);
    assert_int_not_equal(db_bind_text(st, 3, "c", -1), 0); /* no ?3 */
    assert_int_equal(db_step(st), DB_ROW);
    assert_string_equal((const char *)db_column_text(st, 0), "a-a");
    assert_string_equal((const char *)db_column_text(st, 1), "b");
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);

    /* A ? in a literal, an identifier or a comment is no parameter. */
    st = store_stmt(s, "SELECT '?', CAST(? AS TEXT), 'it''s ?' -- a ? here\n"
                       ", \"?col\".x /* and ? /* nested ? */ here */ "
                       "FROM (SELECT 5 AS x) AS \"?col\"");
    assert_non_null(st);
    assert_int_equal(db_bind_text(st, 1, "v", -1), 0);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_count(st), 4);
    assert_string_equal((const char *)db_column_text(st, 0), "?");
    assert_string_equal((const char *)db_column_text(st, 1), "v");
    assert_string_equal((const char *)db_column_text(st, 2), "it's ?");
    assert_int_equal(db_column_int64(st, 3), 5);
    db_reset(st);

    /* After ?2 a bare ? is 3; ?1 may come last. */
    st = store_stmt(s, "SELECT CAST(?2 AS BIGINT) + ?, CAST(?1 AS TEXT)");
    assert_non_null(st);
    db_bind_text(st, 1, "x", -1);
    db_bind_int64(st, 2, 10);
    db_bind_int64(st, 3, 5);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_int64(st, 0), 15);
    assert_string_equal((const char *)db_column_text(st, 1), "x");
    db_reset(st);

    /* Numbers the SQL skips need no type. */
    st = store_stmt(s, "SELECT CAST(?3 AS BIGINT) * 2");
    assert_non_null(st);
    db_bind_int64(st, 3, 21);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_int64(st, 0), 42);
    db_reset(st);

    /* Bindings stay across reset; store_stmt clears them. */
    st = store_stmt(s, "SELECT CAST(?1 AS TEXT) IS NULL");
    db_bind_text(st, 1, "kept", -1);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_int64(st, 0), 0);
    db_reset(st);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_int64(st, 0), 0);
    db_reset(st);
    st = store_stmt(s, "SELECT CAST(?1 AS TEXT) IS NULL");
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_int64(st, 0), 1);
    db_reset(st);

    assert_null(store_stmt(s, "SELECT ?0"));
    assert_null(store_stmt(s, "SELECT ?40000"));
    store_close(s);
}

static void test_int64_round_trip(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    run_ok(s, "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v BIGINT)");
    static const int64_t values[] = {INT64_MIN, INT64_MIN + 1,          -1,       0,
                                     1,         (INT64_C(1) << 53) + 1, INT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        db_stmt *st = store_stmt(s, "INSERT INTO t (v) VALUES (?1) RETURNING v, id");
        db_bind_int64(st, 1, values[i]);
        assert_int_equal(db_step(st), DB_ROW);
        assert_int_equal(db_column_type(st, 0), DB_INTEGER);
        assert_true(db_column_int64(st, 0) == values[i]);
        char text[32];
        snprintf(text, sizeof(text), "%lld", (long long)values[i]);
        assert_string_equal((const char *)db_column_text(st, 0), text);
        assert_int_equal(db_column_bytes(st, 0), (int)strlen(text));
        assert_int_equal(db_step(st), DB_DONE);
        db_reset(st);

        st = store_stmt(s, "SELECT count(*) FROM t WHERE v = ?1");
        db_bind_int64(st, 1, values[i]);
        assert_int_equal(db_step(st), DB_ROW);
        assert_int_equal(db_column_int64(st, 0), 1);
        db_reset(st);
    }
    /* db_bind_int goes the same way. */
    db_stmt *st = store_stmt(s, "SELECT CAST(?1 AS BIGINT)");
    db_bind_int(st, 1, -7);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_int(st, 0), -7);
    db_reset(st);
    store_close(s);
}

static void test_text_utf8(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    run_ok(s, "CREATE TABLE t (k BIGINT PRIMARY KEY, v TEXT)");
    const char *text = "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9d\x84\x9e \xe6\x97\xa5\xe6\x9c\xac";

    db_stmt *st = store_stmt(s, "INSERT INTO t (k, v) VALUES (?1, ?2)");
    db_bind_int64(st, 1, 1);
    db_bind_text(st, 2, text, -1);
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);

    /* A length cuts the text; a copy outlives the caller's buffer. */
    char buf[64];
    snprintf(buf, sizeof(buf), "prefix-and-more");
    st = store_stmt(s, "INSERT INTO t (k, v) VALUES (?1, ?2)");
    db_bind_int64(st, 1, 2);
    db_bind_text(st, 2, buf, 6);
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);
    st = store_stmt(s, "INSERT INTO t (k, v) VALUES (?1, ?2)");
    db_bind_int64(st, 1, 3);
    db_bind_text_copy(st, 2, buf, -1);
    memset(buf, 'X', 10);
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);

    st = store_stmt(s, "SELECT v FROM t ORDER BY k");
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_type(st, 0), DB_TEXT);
    assert_string_equal((const char *)db_column_text(st, 0), text);
    assert_int_equal(db_column_bytes(st, 0), (int)strlen(text));
    assert_int_equal(db_step(st), DB_ROW);
    assert_string_equal((const char *)db_column_text(st, 0), "prefix");
    assert_int_equal(db_step(st), DB_ROW);
    assert_string_equal((const char *)db_column_text(st, 0), "prefix-and-more");
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);
    store_close(s);
}

static void test_blob_round_trip(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    run_ok(s, "CREATE TABLE t (k BIGINT PRIMARY KEY, b BYTEA)");
    unsigned char bytes[256];
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char)(255 - i); /* 0xff..0x80 first, NULs inside at the end */
    bytes[3] = 0;

    db_stmt *st = store_stmt(s, "INSERT INTO t (k, b) VALUES (?1, ?2)");
    db_bind_int64(st, 1, 1);
    db_bind_blob(st, 2, bytes, (int)sizeof(bytes));
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);
    /* An empty blob is not NULL; a copy outlives the caller's buffer. */
    st = store_stmt(s, "INSERT INTO t (k, b) VALUES (?1, ?2)");
    db_bind_int64(st, 1, 2);
    db_bind_blob(st, 2, "", 0);
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);
    unsigned char copy[4] = {0x80, 0, 0xff, 1};
    st = store_stmt(s, "INSERT INTO t (k, b) VALUES (?1, ?2)");
    db_bind_int64(st, 1, 3);
    db_bind_blob_copy(st, 2, copy, 4);
    memset(copy, 0x55, sizeof(copy));
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);

    st = store_stmt(s, "SELECT b, length(b) FROM t ORDER BY k");
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_type(st, 0), DB_BLOB);
    assert_int_equal(db_column_bytes(st, 0), 256);
    assert_int_equal(db_column_int64(st, 1), 256);
    assert_memory_equal(db_column_blob(st, 0), bytes, sizeof(bytes));
    /* As text: the same bytes, with a NUL after them. */
    const unsigned char *t = db_column_text(st, 0);
    assert_memory_equal(t, bytes, sizeof(bytes));
    assert_int_equal(t[256], 0);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_type(st, 0), DB_BLOB);
    assert_int_equal(db_column_bytes(st, 0), 0);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_bytes(st, 0), 4);
    assert_memory_equal(db_column_blob(st, 0), "\x80\x00\xff\x01", 4);
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);

    /* A blob compares as bytea in WHERE. */
    st = store_stmt(s, "SELECT k FROM t WHERE b = ?1");
    db_bind_blob(st, 1, bytes, (int)sizeof(bytes));
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_int64(st, 0), 1);
    db_reset(st);
    store_close(s);
}

static void test_null_and_types(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);

    db_stmt *st = store_stmt(s, "SELECT CAST(NULL AS BIGINT), CAST(NULL AS TEXT), "
                                "CAST(NULL AS BYTEA), CAST(?1 AS TEXT), CAST(?2 AS BYTEA), "
                                "CAST(?3 AS TEXT), CAST(?4 AS BIGINT)");
    db_bind_null(st, 1);
    db_bind_blob(st, 2, NULL, 0);
    db_bind_text(st, 3, NULL, -1);
    /* ?4 left unbound: NULL, as SQLite. */
    assert_int_equal(db_step(st), DB_ROW);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(db_column_type(st, i), DB_NULL);
        assert_null(db_column_text(st, i));
        assert_null(db_column_blob(st, i));
        assert_int_equal(db_column_bytes(st, i), 0);
        assert_int_equal(db_column_int64(st, i), 0);
    }
    db_reset(st);

    st = store_stmt(s, "SELECT true AS b, CAST(1.5 AS DOUBLE PRECISION) AS f, "
                       "CAST(12.75 AS NUMERIC) AS n, CAST(7 AS INTEGER) AS i, 'x' AS t");
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_count(st), 5);
    assert_string_equal(db_column_name(st, 0), "b");
    assert_string_equal(db_column_name(st, 4), "t");
    assert_null(db_column_name(st, 5));
    assert_int_equal(db_column_type(st, 0), DB_INTEGER);
    assert_int_equal(db_column_int64(st, 0), 1);
    assert_string_equal((const char *)db_column_text(st, 0), "1");
    assert_int_equal(db_column_type(st, 1), DB_FLOAT);
    assert_int_equal(db_column_int64(st, 1), 1);
    assert_int_equal(db_column_type(st, 2), DB_INTEGER);
    assert_int_equal(db_column_int64(st, 2), 12);
    assert_int_equal(db_column_type(st, 3), DB_INTEGER);
    assert_int_equal(db_column_int64(st, 3), 7);
    assert_int_equal(db_column_type(st, 4), DB_TEXT);
    assert_int_equal(db_column_type(st, 9), DB_NULL); /* out of range */
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);
    /* Prepared once, the shape is known before a step. */
    st = store_stmt(s, "SELECT true AS b, CAST(1.5 AS DOUBLE PRECISION) AS f, "
                       "CAST(12.75 AS NUMERIC) AS n, CAST(7 AS INTEGER) AS i, 'x' AS t");
    assert_int_equal(db_column_count(st), 5);
    assert_string_equal(db_column_name(st, 2), "n");
    store_close(s);
}

static void test_changes_and_returning(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    static const char ins[] =
        "INSERT INTO policy (scope, key, value, updated_at) VALUES (?1, ?2, 'v', 1)";
    const char *rows[][2] = {{"a", "k1"}, {"a", "k2"}, {"b", "k1"}};
    for (int i = 0; i < 3; i++) {
        db_stmt *st = store_stmt(s, ins);
        db_bind_text(st, 1, rows[i][0], -1);
        db_bind_text(st, 2, rows[i][1], -1);
        assert_int_equal(store_exec_done(st), OG_OK);
        assert_int_equal(store_changes(s), 1);
    }
    run_ok(s, "UPDATE policy SET value = 'w' WHERE scope = 'a'");
    assert_int_equal(store_changes(s), 2);
    /* A query leaves it alone, as in SQLite. */
    assert_int_equal(query_int(s, "SELECT count(*) FROM policy"), 3);
    assert_int_equal(store_changes(s), 2);
    run_ok(s, "UPDATE policy SET value = 'w' WHERE scope = 'none'");
    assert_int_equal(store_changes(s), 0);
    run_ok(s, "DELETE FROM policy");
    assert_int_equal(store_changes(s), 3);

    run_ok(s, "INSERT INTO apps (id, name, secret_sealed, redirect_uris, created_at) "
              "VALUES ('app1', 'App', '\\x00', '[]', 1)");
    static const char user[] =
        "INSERT INTO users (app_id, sub, created_at) VALUES ('app1', ?1, 1) RETURNING id";
    db_stmt *st = store_stmt(s, user);
    db_bind_text(st, 1, "alice", -1);
    assert_int_equal(db_step(st), DB_ROW);
    int64_t id1 = db_column_int64(st, 0);
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);
    assert_int_equal(store_changes(s), 1);
    st = store_stmt(s, user);
    db_bind_text(st, 1, "bob", -1);
    assert_int_equal(db_step(st), DB_ROW);
    assert_true(id1 > 0);
    assert_true(db_column_int64(st, 0) == id1 + 1);
    db_reset(st);
    store_close(s);
}

/* ---- errors ---- */

static void test_constraint_and_messages(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    static const char ins[] = "INSERT INTO apps (id, name, secret_sealed, redirect_uris, "
                              "created_at) VALUES (?1, 'App', ?2, '[]', 1)";
    for (int i = 0; i < 2; i++) {
        db_stmt *st = store_stmt(s, ins);
        db_bind_text(st, 1, "app-id-Secret-Value", -1);
        db_bind_blob(st, 2, "k", 1);
        int rc = db_step(st);
        db_reset(st);
        assert_int_equal(rc, i == 0 ? DB_DONE : DB_CONSTRAINT);
    }
    /* The primary message only: PostgreSQL's DETAIL repeats the key. */
    assert_non_null(strstr(store_errmsg(s), "duplicate key"));
    assert_null(strstr(store_errmsg(s), "Secret-Value"));
    assert_int_equal(store_step_err(DB_CONSTRAINT), OG_ERR_DB);

    /* NOT NULL and CHECK are constraints too. */
    db_stmt *st = store_stmt(s, ins);
    db_bind_text(st, 1, "app2", -1);
    db_bind_null(st, 2);
    assert_int_equal(db_step(st), DB_CONSTRAINT);
    db_reset(st);

    /* A refused value is never quoted back. */
    st = store_stmt(s, "SELECT CAST(CAST(?1 AS TEXT) AS BIGINT)");
    db_bind_text(st, 1, "s3cr3t-code", -1);
    assert_int_equal(db_step(st), DB_ERROR);
    db_reset(st);
    assert_non_null(strstr(store_errmsg(s), "invalid input syntax"));
    assert_null(strstr(store_errmsg(s), "s3cr3t"));

    /* The server cannot type a bare ?: our SQL must CAST it. */
    st = store_stmt(s, "SELECT ?1 IS NULL");
    db_bind_null(st, 1);
    assert_int_equal(db_step(st), DB_ERROR);
    db_reset(st);
    assert_non_null(strstr(store_errmsg(s), "could not determine data type"));

    /* Autocommit goes on after every failure. */
    assert_int_equal(query_int(s, "SELECT count(*) FROM apps"), 1);
    store_close(s);
}

static void test_failed_transaction(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    assert_int_equal(store_begin(s), 0);
    assert_true(store_in_transaction(s));
    assert_int_equal(store_meta_set(s, "k", "v"), 0);
    db_stmt *st = store_stmt(s, "SELECT no_such_column FROM meta");
    assert_int_equal(db_step(st), DB_ERROR);
    db_reset(st);
    /* Aborted, not by a conflict: everything fails with DB_ERROR ... */
    st = store_stmt(s, "SELECT 1");
    assert_int_equal(db_step(st), DB_ERROR);
    db_reset(st);
    assert_true(store_in_transaction(s));
    /* ... and COMMIT, which PostgreSQL answers with ROLLBACK, too. */
    assert_int_equal(store_commit(s), OG_ERR_DB);
    assert_false(store_in_transaction(s));
    assert_int_equal(store_rollback(s), 0);
    char v[8];
    assert_int_equal(store_meta_get(s, "k", v, sizeof(v)), OG_ERR_NOT_FOUND);

    /* A rollback undoes; a commit keeps. */
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_meta_set(s, "k", "v1"), 0);
    assert_int_equal(store_rollback(s), 0);
    assert_int_equal(store_meta_get(s, "k", v, sizeof(v)), OG_ERR_NOT_FOUND);
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_meta_set(s, "k", "v2"), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_meta_get(s, "k", v, sizeof(v)), 0);
    assert_string_equal(v, "v2");
    store_close(s);
}

static void test_serialization_conflict(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *a = open_ok(f);
    struct store *b = open_ok(f);
    run_ok(a, "CREATE TABLE k (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)");
    run_ok(a, "INSERT INTO k VALUES (1, 0), (2, 1), (3, 1)");

    /* b reads, a changes the row and commits, b's write conflicts. */
    assert_int_equal(store_begin(a), 0);
    assert_int_equal(store_begin(b), 0);
    assert_int_equal(query_int(b, "SELECT v FROM k WHERE id = 1"), 0);
    run_ok(a, "UPDATE k SET v = v + 1 WHERE id = 1");
    assert_int_equal(store_commit(a), 0);
    db_stmt *st = store_stmt(b, "UPDATE k SET v = v + 10 WHERE id = 1");
    assert_int_equal(db_step(st), DB_BUSY);
    db_reset(st);
    /* The rest of b's transaction is busy too, down to its COMMIT. */
    st = store_stmt(b, "SELECT 1");
    assert_int_equal(db_step(st), DB_BUSY);
    db_reset(st);
    assert_true(store_in_transaction(b));
    assert_int_equal(store_commit(b), OG_ERR_BUSY);
    assert_false(store_in_transaction(b));
    /* Run again, it goes through. */
    assert_int_equal(store_begin(b), 0);
    run_ok(b, "UPDATE k SET v = v + 10 WHERE id = 1");
    assert_int_equal(store_commit(b), 0);
    assert_int_equal(query_int(a, "SELECT v FROM k WHERE id = 1"), 11);

    /* Write skew: each reads both rows and clears a different one. One of
     * the two fails, at its write or at its COMMIT. */
    assert_int_equal(store_begin(a), 0);
    assert_int_equal(store_begin(b), 0);
    assert_int_equal(query_int(a, "SELECT sum(v) FROM k WHERE id IN (2, 3)"), 2);
    assert_int_equal(query_int(b, "SELECT sum(v) FROM k WHERE id IN (2, 3)"), 2);
    run_ok(a, "UPDATE k SET v = 0 WHERE id = 2");
    st = store_stmt(b, "UPDATE k SET v = 0 WHERE id = 3");
    int step = db_step(st);
    db_reset(st);
    assert_true(step == DB_DONE || step == DB_BUSY);
    int ca = store_commit(a);
    int cb = store_commit(b);
    assert_true(ca == OG_OK || ca == OG_ERR_BUSY);
    assert_true(cb == OG_OK || cb == OG_ERR_BUSY);
    assert_true(ca == OG_ERR_BUSY || cb == OG_ERR_BUSY || step == DB_BUSY);
    assert_true(query_int(a, "SELECT sum(v) FROM k WHERE id IN (2, 3)") == 1);
    store_close(a);
    store_close(b);
}

/* store_txn_conflicted remembers a conflict the caller went on from (a
 * savepoint rolled back), so request_tx runs the request again; BEGIN
 * forgets it. */
static void test_conflict_remembered_past_a_savepoint(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *a = open_ok(f);
    struct store *b = open_ok(f);
    run_ok(a, "CREATE TABLE k (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)");
    run_ok(a, "INSERT INTO k VALUES (1, 0)");
    assert_int_equal(store_begin(a), 0);
    assert_int_equal(store_begin(b), 0);
    assert_false(store_txn_conflicted(b));
    assert_int_equal(query_int(b, "SELECT v FROM k WHERE id = 1"), 0);
    run_ok(a, "UPDATE k SET v = v + 1 WHERE id = 1");
    assert_int_equal(store_commit(a), 0);
    run_ok(b, "SAVEPOINT req");
    db_stmt *st = store_stmt(b, "UPDATE k SET v = v + 10 WHERE id = 1");
    assert_int_equal(db_step(st), DB_BUSY);
    db_reset(st);
    run_ok(b, "ROLLBACK TO req");
    run_ok(b, "RELEASE req");
    assert_true(store_txn_conflicted(b));
    store_rollback(b);
    assert_int_equal(store_begin(b), 0);
    assert_false(store_txn_conflicted(b));
    assert_int_equal(store_commit(b), 0);
    assert_false(store_txn_conflicted(a));
    store_close(a);
    store_close(b);
}

/* The version row: a change to apps, policy or signing_keys, committed by
 * any connection, moves store_data_version; other tables do not, and a
 * transaction sees the value of its own snapshot. */
static void test_config_version(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *a = open_ok(f);
    struct store *b = open_ok(f);
    int64_t v0 = -1, v1 = -1, v2 = -1, v3 = -1;
    assert_int_equal(store_data_version(a, &v0), 0);
    assert_true(v0 >= 0);
    run_ok(b, "INSERT INTO policy (scope, key, value, updated_at) VALUES ('', 'mode', 'off', 1)");
    assert_int_equal(store_data_version(a, &v1), 0);
    assert_true(v1 > v0);
    run_ok(b, "INSERT INTO meta (key, value) VALUES ('other', 'x')");
    assert_int_equal(store_data_version(a, &v2), 0);
    assert_true(v2 == v1);
    /* In a transaction: the snapshot's value, until it ends. */
    assert_int_equal(store_begin(a), 0);
    assert_int_equal(store_data_version(a, &v2), 0);
    run_ok(b, "UPDATE policy SET value = 'optional' WHERE scope = '' AND key = 'mode'");
    assert_int_equal(store_data_version(a, &v3), 0);
    assert_true(v3 == v2);
    assert_int_equal(store_commit(a), 0);
    assert_int_equal(store_data_version(a, &v3), 0);
    assert_true(v3 > v2);
    store_close(a);
    store_close(b);
}

static void test_savepoints(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_meta_set(s, "a", "1"), 0);
    run_ok(s, "SAVEPOINT sp1");
    assert_int_equal(store_meta_set(s, "b", "1"), 0);
    run_ok(s, "ROLLBACK TO SAVEPOINT sp1");
    assert_true(store_in_transaction(s));
    /* A failure inside a savepoint is undone by rolling back to it. */
    run_ok(s, "SAVEPOINT sp2");
    db_stmt *st = store_stmt(s, "INSERT INTO meta (key, value) VALUES ('a', '2')");
    assert_int_equal(db_step(st), DB_CONSTRAINT);
    db_reset(st);
    run_ok(s, "ROLLBACK TO sp2");
    run_ok(s, "RELEASE SAVEPOINT sp2");
    assert_int_equal(store_meta_set(s, "c", "1"), 0);
    run_ok(s, "RELEASE sp1");
    assert_int_equal(store_commit(s), 0);
    char v[8];
    assert_int_equal(store_meta_get(s, "a", v, sizeof(v)), 0);
    assert_int_equal(store_meta_get(s, "b", v, sizeof(v)), OG_ERR_NOT_FOUND);
    assert_int_equal(store_meta_get(s, "c", v, sizeof(v)), 0);
    store_close(s);
}

static void test_meta(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    char v[8];
    assert_int_equal(store_meta_get(s, "nope", v, sizeof(v)), OG_ERR_NOT_FOUND);
    assert_int_equal(store_meta_set(s, "k", "one"), 0);
    assert_int_equal(store_meta_set(s, "k", "two"), 0);
    assert_int_equal(store_meta_get(s, "k", v, sizeof(v)), 0);
    assert_string_equal(v, "two");
    assert_int_equal(store_meta_set(s, "long", "0123456789"), 0);
    assert_int_equal(store_meta_get(s, "long", v, sizeof(v)), OG_ERR_TOO_BIG);
    assert_int_equal(store_check_writable(s), 0);
    assert_int_equal(store_meta_get(s, "ready_probe", v, sizeof(v)), OG_ERR_TOO_BIG);
    char created[32];
    assert_int_equal(store_meta_get(s, "created_at", created, sizeof(created)), 0);
    assert_true(strtoll(created, NULL, 10) > 1600000000LL);
    store_close(s);
}

/* ---- the connection ---- */

static void terminate_backend(long long pid)
{
    PGconn *pg = admin_connect("postgres");
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld, 10000)", pid);
    admin_exec(pg, sql);
    PQfinish(pg);
}

static void test_reconnect(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    static const char pid_sql[] = "SELECT pg_backend_pid()";
    long long pid1 = query_int(s, pid_sql);

    /* Outside a transaction: this step fails (the caller answers 503),
     * the next one runs on a new connection. */
    terminate_backend(pid1);
    db_stmt *st = store_stmt(s, pid_sql);
    assert_int_equal(db_step(st), DB_BUSY);
    db_reset(st);
    assert_false(store_in_transaction(s));
    long long pid2 = query_int(s, pid_sql);
    assert_true(pid2 != pid1);
    assert_int_equal(store_meta_set(s, "k", "v"), 0); /* prepared again */

    /* Inside one: the transaction is lost; every statement is busy until
     * the caller ends it, then the store reconnects. */
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_meta_set(s, "k", "w"), 0);
    terminate_backend(pid2);
    st = store_stmt(s, pid_sql);
    assert_int_equal(db_step(st), DB_BUSY);
    db_reset(st);
    assert_true(store_in_transaction(s));
    assert_int_equal(store_meta_set(s, "k", "x"), OG_ERR_BUSY);
    assert_int_equal(store_commit(s), OG_ERR_BUSY);
    assert_false(store_in_transaction(s));
    assert_true(query_int(s, pid_sql) != pid2);
    char v[8];
    assert_int_equal(store_meta_get(s, "k", v, sizeof(v)), 0);
    assert_string_equal(v, "v");

    /* Lost, then rolled back by the caller. */
    long long pid3 = query_int(s, pid_sql);
    assert_int_equal(store_begin(s), 0);
    terminate_backend(pid3);
    assert_int_equal(store_meta_set(s, "k", "y"), OG_ERR_BUSY);
    assert_int_equal(store_rollback(s), 0);
    assert_false(store_in_transaction(s));
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_meta_set(s, "k", "z"), 0);
    assert_int_equal(store_commit(s), 0);
    store_close(s);
}

static void test_statement_deallocated(void **state)
{
    NEED_SERVER();
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    static const char sql[] = "SELECT CAST(?1 AS BIGINT) + 1";
    db_stmt *st = store_stmt(s, sql);
    db_bind_int64(st, 1, 1);
    assert_int_equal(db_step(st), DB_ROW);
    db_reset(st);

    /* Gone from the server outside a transaction: prepared again at once. */
    run_ok(s, "DEALLOCATE ALL");
    st = store_stmt(s, sql);
    db_bind_int64(st, 1, 2);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_int64(st, 0), 3);
    db_reset(st);

    /* Inside one, the transaction is lost: busy, and fine when run again. */
    assert_int_equal(store_begin(s), 0);
    run_ok(s, "DEALLOCATE ALL");
    st = store_stmt(s, sql);
    db_bind_int64(st, 1, 3);
    assert_int_equal(db_step(st), DB_BUSY);
    db_reset(st);
    assert_int_equal(store_commit(s), OG_ERR_BUSY);
    assert_int_equal(store_begin(s), 0);
    st = store_stmt(s, sql);
    db_bind_int64(st, 1, 3);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_int64(st, 0), 4);
    db_reset(st);
    assert_int_equal(store_commit(s), 0);

    /* An integer where a blob was bound first gets a statement of its own. */
    st = store_stmt(s, "SELECT CAST(?1 AS TEXT) IS NOT NULL");
    db_bind_blob(st, 1, "ab", 2);
    assert_int_equal(db_step(st), DB_ROW);
    db_reset(st);
    st = store_stmt(s, "SELECT CAST(?1 AS TEXT) IS NOT NULL");
    db_bind_int64(st, 1, 5);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_column_int64(st, 0), 1);
    db_reset(st);
    store_close(s);
}

/* Runs without a server: libpq refuses these before or at connecting. */
static void test_password_never_in_errors(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        const char *secret;
    } cases[] = {
        /* libpq's URI parser quotes a bad percent-encoded token whole. */
        {"postgresql://postgres:Sup3rSecret%zz@127.0.0.1:1/otpgate", "Sup3rSecret"},
        {"postgresql://postgres@127.0.0.1:1/otpgate?password=Hunter2Secret%zz", "Hunter2Secret"},
        /* Refused connection, with the password as written and encoded. */
        {"postgresql://postgres:PlainSecret@127.0.0.1:1/otpgate?connect_timeout=5", "PlainSecret"},
        {"postgres://u:Enc%41odedSecret@127.0.0.1:1/db?sslmode=disable&password=Other%20Secret",
         "odedSecret"},
        {"postgres://u:Enc%41odedSecret@127.0.0.1:1/db?sslmode=disable&password=OtherSecretX",
         "OtherSecretX"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512] = "";
        struct store *s = (struct store *)1;
        int rc = store_open(cases[i].url, &s, err, sizeof(err));
        assert_int_not_equal(rc, 0);
        assert_null(s);
        assert_true(err[0] != '\0');
        assert_null(strchr(err, '\n'));
        if (strstr(err, cases[i].secret) || strstr(err, "Secret"))
            fail_msg("case %zu: the password is in \"%s\"", i, err);
        assert_non_null(strstr(err, "cannot connect to postgres"));
    }
    /* The URL shown keeps everything but the password. */
    char err[512];
    struct store *s;
    assert_int_not_equal(store_open("postgresql://alice:pw@127.0.0.1:1/otpgate?sslmode=disable", &s,
                                    err, sizeof(err)),
                         0);
    assert_non_null(strstr(err, "postgresql://alice@127.0.0.1:1/otpgate?sslmode=disable"));
}

int main(void)
{
    log_set_level(OG_LOG_ERROR);
    base_url = getenv("OTPGATE_TEST_DATABASE_URL");
    if (base_url && !*base_url)
        base_url = NULL;
    if (!base_url)
        printf("OTPGATE_TEST_DATABASE_URL is not set: skipping the tests that need a PostgreSQL "
               "server (ctest -L pg runs them against a cluster of its own)\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_open_creates_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_without_migration_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parameter_translation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int64_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_and_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_and_returning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constraint_and_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serialization_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_remembered_past_a_savepoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_savepoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statement_deallocated, setup, teardown),
        cmocka_unit_test(test_password_never_in_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
