/* Unit tests of src/core/store.c and migrations.c: pragmas, migrations,
 * the statement cache, meta, transactions and backups. Each test owns a
 * fresh mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/store/migrations.h"
#include "core/store/sqlite_check.h"
#include "core/store/store.h"

#include "testutil.h"

struct fixture {
    char dir[64];
    char db[200];
    char err[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "store");
    snprintf(f->db, sizeof(f->db), "%s/otpgate.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static struct store *open_ok(struct fixture *f)
{
    struct store *s = NULL;
    f->err[0] = '\0';
    int rc = store_open(f->db, &s, f->err, sizeof(f->err));
    if (rc != 0)
        fail_msg("store_open: %d %s", rc, f->err);
    assert_non_null(s);
    return s;
}

static void pragma_text(struct store *s, const char *sql, char *out, size_t outlen)
{
    db_stmt *st;
    st = store_stmt(s, sql);
    assert_non_null(st);
    assert_int_equal(db_step(st), DB_ROW);
    snprintf(out, outlen, "%s", (const char *)db_column_text(st, 0));
    db_reset(st);
}

/* Builds a database by hand with the raw API, at the given user_version. */
static void raw_db(const char *path, int migrations, int user_version)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (int v = 1; v <= migrations; v++)
        assert_int_equal(sqlite3_exec(db, migration_sql(v), NULL, NULL, NULL), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", user_version);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_migrations_table(void **state)
{
    (void)state;
    assert_true(migration_count() >= 2);
    assert_int_equal(store_latest_version(), migration_count());
    assert_null(migration_sql(0));
    assert_null(migration_sql(migration_count() + 1));
    assert_non_null(strstr(migration_sql(1), "CREATE TABLE meta"));
    assert_non_null(strstr(migration_sql(2), "CREATE TABLE policy"));
}

static void test_fresh_open(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    char v[64];

    assert_int_equal(store_schema_version(s), store_latest_version());
    pragma_text(s, "PRAGMA journal_mode", v, sizeof(v));
    assert_string_equal(v, "wal");
    pragma_text(s, "PRAGMA synchronous", v, sizeof(v));
    assert_string_equal(v, "2");
    pragma_text(s, "PRAGMA foreign_keys", v, sizeof(v));
    assert_string_equal(v, "1");
    pragma_text(s, "PRAGMA busy_timeout", v, sizeof(v));
    assert_string_equal(v, "5000");

    assert_int_equal(store_meta_get(s, "created_at", v, sizeof(v)), 0);
    long long created = strtoll(v, NULL, 10);
    assert_true(created > 1600000000LL);

    /* Both tables exist. */
    assert_int_equal(store_exec(s, "INSERT INTO policy (scope, key, value, updated_at) "
                                   "VALUES ('', 'mode', 'optional', 1)"),
                     OG_OK);

    struct stat st;
    assert_int_equal(stat(f->db, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    store_close(s);
}

static void test_reopen_idempotent(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    char created1[64], created2[64], v[64];
    assert_int_equal(store_meta_get(s, "created_at", created1, sizeof(created1)), 0);
    assert_int_equal(store_meta_set(s, "k", "v1"), 0);
    store_close(s);

    s = open_ok(f);
    assert_int_equal(store_schema_version(s), store_latest_version());
    assert_int_equal(store_meta_get(s, "created_at", created2, sizeof(created2)), 0);
    assert_string_equal(created1, created2);
    assert_int_equal(store_meta_get(s, "k", v, sizeof(v)), 0);
    assert_string_equal(v, "v1");
    store_close(s);

    /* The last close checkpointed and removed the WAL. */
    char wal[256];
    snprintf(wal, sizeof(wal), "%s-wal", f->db);
    assert_int_equal(access(wal, F_OK), -1);
}

static void test_migrate_from_v1_keeps_data(void **state)
{
    struct fixture *f = *state;
    raw_db(f->db, 1, 1);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO meta (key, value) VALUES ('created_at', '12345'),"
                                  " ('old', 'data')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    struct store *s = open_ok(f);
    assert_int_equal(store_schema_version(s), store_latest_version());
    char v[64];
    assert_int_equal(store_meta_get(s, "old", v, sizeof(v)), 0);
    assert_string_equal(v, "data");
    assert_int_equal(store_meta_get(s, "created_at", v, sizeof(v)), 0);
    assert_string_equal(v, "12345");
    assert_int_equal(store_exec(s, "INSERT INTO policy (scope, key, value, updated_at) "
                                   "VALUES ('app1', 'mode', 'off', 2)"),
                     OG_OK);
    pragma_text(s, "PRAGMA journal_mode", v, sizeof(v));
    assert_string_equal(v, "wal");
    store_close(s);
}

static void test_newer_db_refused(void **state)
{
    struct fixture *f = *state;
    raw_db(f->db, store_latest_version(), store_latest_version() + 1);
    struct store *s = (struct store *)1;
    int rc = store_open(f->db, &s, f->err, sizeof(f->err));
    assert_int_equal(rc, OG_ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(f->err, "newer"));
    assert_non_null(strstr(f->err, f->db));

    /* Refused untouched: still in rollback-journal mode and the version kept. */
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "delete");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_not_a_database(void **state)
{
    struct fixture *f = *state;
    FILE *fp = fopen(f->db, "w");
    assert_non_null(fp);
    fputs("this is not an sqlite database, just text long enough to have a header......\n"
          "......................................................................\n",
          fp);
    fclose(fp);
    struct store *s = NULL;
    assert_int_equal(store_open(f->db, &s, f->err, sizeof(f->err)), OG_ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(f->err, f->db));
    assert_int_equal(store_open_readonly(f->db, &s, f->err, sizeof(f->err)), OG_ERR_INVALID);
    assert_null(s);
}

static void test_stmt_cache(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    static const char sql_one[] = "SELECT ?1";
    static const char sql_two[] = "SELECT 2";

    db_stmt *a = store_stmt(s, sql_one);
    assert_non_null(a);
    assert_int_equal(db_bind_int(a, 1, 42), 0);
    assert_int_equal(db_step(a), DB_ROW);
    assert_int_equal(db_column_int(a, 0), 42);
    /* Left mid-way and bound: comes back reset with bindings cleared. */
    db_stmt *b = store_stmt(s, sql_one);
    assert_ptr_equal(a, b);
    assert_int_equal(db_step(b), DB_ROW);
    assert_int_equal(db_column_type(b, 0), DB_NULL);

    db_stmt *c = store_stmt(s, sql_two);
    assert_non_null(c);
    assert_ptr_not_equal(a, c);
    assert_ptr_equal(store_stmt(s, sql_two), c);

    /* Many distinct statements force the table to grow; all stay cached. */
    enum { N = 200 };
    static char texts[N][32];
    db_stmt *stmts[N];
    for (int i = 0; i < N; i++) {
        snprintf(texts[i], sizeof(texts[i]), "SELECT %d", i);
        stmts[i] = store_stmt(s, texts[i]);
        assert_non_null(stmts[i]);
    }
    for (int i = 0; i < N; i++)
        assert_ptr_equal(store_stmt(s, texts[i]), stmts[i]);
    assert_ptr_equal(store_stmt(s, sql_one), a);

    /* The same buffer reused for different SQL gets its own statement. */
    char buf[32];
    snprintf(buf, sizeof(buf), "SELECT 7");
    db_stmt *d = store_stmt(s, buf);
    assert_int_equal(db_step(d), DB_ROW);
    assert_int_equal(db_column_int(d, 0), 7);
    snprintf(buf, sizeof(buf), "SELECT 8");
    d = store_stmt(s, buf);
    assert_int_equal(db_step(d), DB_ROW);
    assert_int_equal(db_column_int(d, 0), 8);

    /* Bad SQL and several statements are refused. */
    assert_null(store_stmt(s, "SELEC nonsense"));
    assert_null(store_stmt(s, "SELECT 1; SELECT 2"));
    assert_non_null(store_stmt(s, "SELECT 3;\n"));
    store_close(s);
}

static void test_meta(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    char v[8];
    assert_int_equal(store_meta_get(s, "missing", v, sizeof(v)), OG_ERR_NOT_FOUND);
    assert_int_equal(store_meta_set(s, "a", "one"), 0);
    assert_int_equal(store_meta_get(s, "a", v, sizeof(v)), 0);
    assert_string_equal(v, "one");
    assert_int_equal(store_meta_set(s, "a", "two"), 0);
    assert_int_equal(store_meta_get(s, "a", v, sizeof(v)), 0);
    assert_string_equal(v, "two");
    assert_int_equal(store_meta_set(s, "long", "12345678"), 0);
    assert_int_equal(store_meta_get(s, "long", v, sizeof(v)), OG_ERR_TOO_BIG);
    assert_int_equal(store_meta_set(s, "empty", ""), 0);
    assert_int_equal(store_meta_get(s, "empty", v, sizeof(v)), 0);
    assert_string_equal(v, "");
    store_close(s);
}

static void test_transactions(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    char v[16];

    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_meta_set(s, "t", "rolled"), 0);
    assert_int_equal(store_rollback(s), 0);
    assert_int_equal(store_meta_get(s, "t", v, sizeof(v)), OG_ERR_NOT_FOUND);

    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_meta_set(s, "t", "kept"), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_meta_get(s, "t", v, sizeof(v)), 0);
    assert_string_equal(v, "kept");

    /* Rollback outside a transaction is harmless; commit is an error. */
    assert_int_equal(store_rollback(s), 0);
    assert_int_equal(store_commit(s), OG_ERR_DB);

    /* A second connection cannot take the write lock while we hold it. */
    assert_int_equal(store_begin(s), 0);
    sqlite3 *other;
    assert_int_equal(sqlite3_open(f->db, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), DB_BUSY);
    sqlite3_close(other);
    assert_int_equal(store_rollback(s), 0);
    store_close(s);
}

static void test_check_writable(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    char v[32];
    assert_int_equal(store_check_writable(s), 0);
    assert_int_equal(store_meta_get(s, "ready_probe", v, sizeof(v)), 0);
    assert_true(strtoll(v, NULL, 10) > 1600000000LL);
    assert_int_equal(store_check_writable(s), 0);
    store_close(s);

    /* A read-only connection is not writable. */
    assert_int_equal(store_open_readonly(f->db, &s, f->err, sizeof(f->err)), 0);
    assert_int_not_equal(store_check_writable(s), 0);
    store_close(s);
}

static void test_backup(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    char dest[160], tmp[170], v[64];
    snprintf(dest, sizeof(dest), "%s/backup.db", f->dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", dest);

    assert_int_equal(store_meta_set(s, "precious", "data"), 0);
    assert_int_equal(store_backup(s, dest, f->err, sizeof(f->err)), 0);

    struct stat st;
    assert_int_equal(stat(dest, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(access(tmp, F_OK), -1);

    /* Refuses to overwrite, with a message naming the file. */
    f->err[0] = '\0';
    assert_int_equal(store_backup(s, dest, f->err, sizeof(f->err)), OG_ERR_EXISTS);
    assert_non_null(strstr(f->err, dest));
    assert_non_null(strstr(f->err, "exists"));
    assert_int_equal(access(tmp, F_OK), -1);

    /* Written after the backup: must not be in it. */
    assert_int_equal(store_meta_set(s, "later", "x"), 0);
    store_close(s);

    struct store *b = NULL;
    assert_int_equal(store_open_readonly(dest, &b, f->err, sizeof(f->err)), 0);
    assert_int_equal(store_schema_version(b), store_latest_version());
    assert_int_equal(store_meta_get(b, "precious", v, sizeof(v)), 0);
    assert_string_equal(v, "data");
    assert_int_equal(store_meta_get(b, "later", v, sizeof(v)), OG_ERR_NOT_FOUND);
    store_close(b);

    /* And it opens read-write as a normal database. */
    snprintf(f->db, sizeof(f->db), "%s", dest);
    b = open_ok(f);
    assert_int_equal(store_meta_get(b, "precious", v, sizeof(v)), 0);
    store_close(b);
}

static void test_backup_from_readonly_while_open(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    assert_int_equal(store_meta_set(s, "live", "yes"), 0);

    /* The server keeps its connection (and WAL) open; the CLI backs up. */
    struct store *ro = NULL;
    assert_int_equal(store_open_readonly(f->db, &ro, f->err, sizeof(f->err)), 0);
    char dest[160], v[16];
    snprintf(dest, sizeof(dest), "%s/live.db", f->dir);
    assert_int_equal(store_begin(s), 0); /* a writer holds the lock meanwhile */
    assert_int_equal(store_meta_set(s, "uncommitted", "no"), 0);
    assert_int_equal(store_backup(ro, dest, f->err, sizeof(f->err)), 0);
    assert_int_equal(store_commit(s), 0);
    store_close(ro);
    store_close(s);

    assert_int_equal(store_open_readonly(dest, &ro, f->err, sizeof(f->err)), 0);
    assert_int_equal(store_meta_get(ro, "live", v, sizeof(v)), 0);
    assert_string_equal(v, "yes");
    assert_int_equal(store_meta_get(ro, "uncommitted", v, sizeof(v)), OG_ERR_NOT_FOUND);
    store_close(ro);
}

static void test_backup_leftover_tmp(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f);
    char dest[160], tmp[170];
    snprintf(dest, sizeof(dest), "%s/b.db", f->dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", dest);
    FILE *fp = fopen(tmp, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(store_backup(s, dest, f->err, sizeof(f->err)), OG_ERR_EXISTS);
    assert_non_null(strstr(f->err, tmp));
    assert_int_equal(access(dest, F_OK), -1);
    assert_int_equal(access(tmp, F_OK), 0); /* not ours to delete */

    char bad[200];
    snprintf(bad, sizeof(bad), "%s/no/such/dir/b.db", f->dir);
    assert_int_equal(store_backup(s, bad, f->err, sizeof(f->err)), OG_ERR_IO);
    store_close(s);
}

static void test_readonly(void **state)
{
    struct fixture *f = *state;
    struct store *s = (struct store *)1;
    f->err[0] = '\0';
    assert_int_equal(store_open_readonly(f->db, &s, f->err, sizeof(f->err)), OG_ERR_NOT_FOUND);
    assert_null(s);
    assert_non_null(strstr(f->err, f->db));
    assert_int_equal(access(f->db, F_OK), -1); /* not created */

    s = open_ok(f);
    assert_int_equal(store_meta_set(s, "a", "b"), 0);
    store_close(s);

    assert_int_equal(store_open_readonly(f->db, &s, f->err, sizeof(f->err)), 0);
    char v[8];
    assert_int_equal(store_meta_get(s, "a", v, sizeof(v)), 0);
    assert_string_equal(v, "b");
    assert_int_not_equal(store_meta_set(s, "a", "c"), 0);
    store_close(s);
}

static void test_readonly_does_not_migrate(void **state)
{
    struct fixture *f = *state;
    raw_db(f->db, 1, 1);
    struct store *s = NULL;
    assert_int_equal(store_open_readonly(f->db, &s, f->err, sizeof(f->err)), 0);
    assert_int_equal(store_schema_version(s), 1);
    store_close(s);
}

/* Debug builds: a connection used by two threads at once stops the
 * process with a message (sqlite_check.c) instead of racing, as it would
 * without the connection's mutex. In a child: one thread runs a long query
 * on the store while the other prepares a statement on it. */
static void *count_far(void *arg)
{
    store_run(arg, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                   "WHERE i < 200000000) SELECT count(*) FROM n");
    return NULL;
}

static void test_connection_in_two_threads(void **state)
{
    struct fixture *f = *state;
    store_close(open_ok(f));
    if (!sqlite_check_active())
        skip();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store *s = NULL;
        pthread_t t;
        if (store_open(f->db, &s, NULL, 0) != OG_OK || pthread_create(&t, NULL, count_far, s) != 0)
            _exit(2);
        usleep(300 * 1000);
        store_run(s, "SELECT 1");
        _exit(0); /* the check missed it */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* abort(): SIGABRT, or the sanitizer's exit code with handle_abort */
    if (WIFSIGNALED(status))
        assert_int_equal(WTERMSIG(status), SIGABRT);
    else
        assert_true(WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 2);
}

static void test_memory_and_bad_path(void **state)
{
    struct fixture *f = *state;
    struct store *s = NULL;
    assert_int_equal(store_open(":memory:", &s, f->err, sizeof(f->err)), 0);
    assert_int_equal(store_schema_version(s), store_latest_version());
    assert_int_equal(store_check_writable(s), 0);
    store_close(s);

    char bad[200];
    snprintf(bad, sizeof(bad), "%s/missing/otpgate.db", f->dir);
    assert_int_not_equal(store_open(bad, &s, f->err, sizeof(f->err)), 0);
    assert_null(s);
    assert_non_null(strstr(f->err, bad));
    assert_int_equal(store_open("", &s, NULL, 0), OG_ERR_INVALID);
    store_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrations_table),
        cmocka_unit_test_setup_teardown(test_fresh_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v1_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_db_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stmt_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup_from_readonly_while_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup_leftover_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_does_not_migrate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_in_two_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_and_bad_path, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
