/* Unit tests of src/core/store/sqlite_walbuf.c: a transaction's WAL writes
 * go to the file as few writes, every commit is in the file (and seen by
 * another connection) when COMMIT returns, a process killed after its
 * commits leaves them all, and big transactions, ones that spill pages
 * and ones SQLite mends in place come back whole. Each test owns a fresh
 * mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/store/sqlite_walbuf.h"

#include "testutil.h"

struct fixture {
    char dir[64];
    char db[200];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "walbuf");
    snprintf(f->db, sizeof(f->db), "%s/t.db", f->dir);
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

/* A connection through the VFS (vfs true) or SQLite's default one, in WAL
 * mode with synchronous as the server's committer has it. */
static sqlite3 *open_db(const char *path, bool vfs)
{
    const char *name = vfs ? sqlite_walbuf_vfs() : NULL;
    if (vfs)
        assert_non_null(name);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, name),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                                  "PRAGMA wal_autocheckpoint = 0",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    return db;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void assert_intact(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

/* Table t holds rows rows whose values add up to bytes bytes. */
static void assert_rows(sqlite3 *db, int64_t rows, int64_t bytes)
{
    assert_int_equal(query_int(db, "SELECT count(*) FROM t"), rows);
    assert_int_equal(query_int(db, "SELECT sum(length(v)) FROM t"), bytes);
}

/* Inserts n rows of 1000 random bytes (n / 3 pages or so) in one
 * transaction: row ids first .. first + n - 1. */
static void insert_rows(sqlite3 *db, int first, int n)
{
    char sql[200];
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE k(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM k WHERE i < %d) "
             "INSERT INTO t (id, v) SELECT i, randomblob(1000) FROM k",
             first, first + n - 1);
    exec(db, sql);
}

/* 40 commits of about 15 pages each: each commit's 30-odd frames (60-odd
 * writes as SQLite makes them) reach the file in one write, and a
 * connection of the default VFS sees each commit the moment COMMIT
 * returns. */
static void test_commit_is_one_write_and_visible(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = open_db(f->db, true);
    exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
    sqlite3 *reader = open_db(f->db, false);
    uint64_t made0, given0;
    sqlite_walbuf_counts(&made0, &given0);
    for (int k = 0; k < 40; k++) {
        insert_rows(db, k * 50 + 1, 50);
        assert_rows(reader, (k + 1) * 50, (k + 1) * 50 * 1000);
    }
    uint64_t made1, given1;
    sqlite_walbuf_counts(&made1, &given1);
    /* Two writes a frame as SQLite makes them; one a commit (each of
     * these is well under the largest single write) and the WAL's
     * header. */
    assert_true(given1 - given0 >= 40 * 2 * 13);
    assert_true(made1 - made0 <= 40 + 2);
    sqlite3_close(reader);
    sqlite3_close(db);
}

/* A transaction of 5 MB: past the buffer (written out as it fills) and
 * past the largest single write of the default VFS. */
static void test_big_transaction(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = open_db(f->db, true);
    exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
    insert_rows(db, 1, 5000);
    sqlite3 *reader = open_db(f->db, false);
    assert_rows(reader, 5000, 5000 * 1000);
    assert_intact(reader);
    sqlite3_close(reader);
    sqlite3_close(db);
}

/* A page cache of 10 pages: a long transaction spills pages into the WAL
 * before its commit and writes some of them again, which SQLite does in
 * place, mending the frames' checksums after. All of it survives a
 * reopen, through the VFS and without it. */
static void test_spilled_and_mended_frames(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = open_db(f->db, true);
    exec(db, "PRAGMA cache_size = 10; PRAGMA cache_spill = 1");
    exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
    insert_rows(db, 1, 300);
    exec(db, "BEGIN");
    insert_rows(db, 301, 300);
    exec(db, "UPDATE t SET v = randomblob(900) WHERE id % 3 = 0");
    insert_rows(db, 601, 300);
    exec(db, "UPDATE t SET v = zeroblob(1000) WHERE id % 7 = 0");
    exec(db, "COMMIT");
    int64_t sum = query_int(db, "SELECT sum(length(v)) FROM t");
    int64_t zeros = query_int(db, "SELECT count(*) FROM t WHERE v = zeroblob(1000)");
    sqlite3_close(db);
    assert_int_equal(zeros, 900 / 7);
    for (int vfs = 0; vfs < 2; vfs++) {
        db = open_db(f->db, vfs);
        assert_rows(db, 900, sum);
        assert_int_equal(query_int(db, "SELECT count(*) FROM t WHERE v = zeroblob(1000)"), zeros);
        assert_intact(db);
        sqlite3_close(db);
    }
}

/* A child commits 30 transactions and kills itself without closing
 * anything: every one of them is in the WAL for the next process. */
static void test_killed_after_commits(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = open_db(f->db, true);
    exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
    sqlite3_close(db);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *child = open_db(f->db, true);
        for (int k = 0; k < 30; k++)
            insert_rows(child, k * 20 + 1, 20);
        raise(SIGKILL);
        _exit(1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    db = open_db(f->db, false);
    assert_rows(db, 600, 600 * 1000);
    assert_intact(db);
    sqlite3_close(db);
}

/* After a checkpoint has copied every frame, the next commit starts the
 * WAL over from its header; the buffer follows it there. */
static void test_wal_starts_over(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = open_db(f->db, true);
    exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
    sqlite3 *reader = open_db(f->db, false);
    for (int k = 0; k < 6; k++) {
        insert_rows(db, k * 100 + 1, 100);
        int log = -1, ckpt = -1;
        assert_int_equal(
            sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt), SQLITE_OK);
        assert_int_equal(log, ckpt);
        assert_int_equal(query_int(reader, "SELECT count(*) FROM t"), (k + 1) * 100);
    }
    assert_intact(reader);
    sqlite3_close(reader);
    sqlite3_close(db);
    db = open_db(f->db, false);
    assert_rows(db, 600, 600 * 1000);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_is_one_write_and_visible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spilled_and_mended_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_after_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_starts_over, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
