/* Unit tests for src/gateway/checkpoint.c on a real SQLite file: with the
 * checkpointer on, steady commits keep the WAL file small (the thread
 * copies, the loop catches up, the WAL starts over), every row survives a
 * reopen, and stopping it gives SQLite's automatic checkpoint back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/store/store.h"
#include "gateway/checkpoint.h"
#include "gateway/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FRAME_BYTES (4096 + 24)

struct fixture {
    char dir[64];
    char db[128];
    char wal[140];
    struct server srv;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/otpgate-ckpt-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/otpgate.db", f->dir);
    snprintf(f->wal, sizeof(f->wal), "%s-wal", f->db);
    char err[256];
    assert_int_equal(store_open(f->db, &f->srv.store, err, sizeof(err)), OG_OK);
    assert_int_equal(store_run(f->srv.store, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)"),
                     OG_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    checkpointer_stop(&f->srv);
    store_close(f->srv.store);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* One transaction writing a row on a page of its own (a 3000-byte blob),
 * as the loop's group commits do. */
static void commit_row(struct store *s, int i)
{
    assert_int_equal(store_begin(s), OG_OK);
    db_stmt *st = store_stmt(s, "INSERT INTO t (id, v) VALUES (?, zeroblob(3000))");
    assert_non_null(st);
    db_bind_int(st, 1, i);
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);
    assert_int_equal(store_commit(s), OG_OK);
}

static long long count_rows(const char *db)
{
    struct store *s;
    char err[256];
    assert_int_equal(store_open(db, &s, err, sizeof(err)), OG_OK);
    db_stmt *st = store_stmt(s, "SELECT count(*) FROM t");
    assert_non_null(st);
    assert_int_equal(db_step(st), DB_ROW);
    long long n = db_column_int64(st, 0);
    db_reset(st);
    store_close(s);
    return n;
}

static void test_wal_stays_small_under_steady_commits(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(checkpointer_start(&f->srv, 40, 80, err, sizeof(err)), OG_OK);
    const int rows = 1500; /* about 3000 frames: 12 MiB of WAL without checkpoints */
    long long biggest = 0;
    for (int i = 1; i <= rows; i++) {
        commit_row(f->srv.store, i);
        long long size = file_size(f->wal);
        if (size > biggest)
            biggest = size;
    }
    uint64_t background = 0, caught_up = 0;
    checkpointer_counts(&f->srv, &background, &caught_up);
    print_message(
        "checkpoints: %llu on the thread, %llu caught up after a commit; largest WAL %lld frames\n",
        (unsigned long long)background, (unsigned long long)caught_up, biggest / FRAME_BYTES);
    assert_true(background > 0);
    /* The WAL started over again and again: it never held much more than
     * the hard mark plus what was committed while the thread copied. */
    assert_true(biggest < 1000LL * FRAME_BYTES);
    checkpointer_stop(&f->srv);
    store_close(f->srv.store);
    f->srv.store = NULL;
    assert_int_equal(count_rows(f->db), rows);
    /* The last connection closed checkpointed everything: no WAL left. */
    assert_int_equal(file_size(f->wal), 0);
    assert_int_equal(store_open(f->db, &f->srv.store, err, sizeof(err)), OG_OK);
}

static void test_stop_gives_the_automatic_checkpoint_back(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(checkpointer_start(&f->srv, 40, 80, err, sizeof(err)), OG_OK);
    checkpointer_stop(&f->srv);
    uint64_t background = 1, caught_up = 1;
    checkpointer_counts(&f->srv, &background, &caught_up);
    assert_int_equal(background, 0);
    assert_int_equal(caught_up, 0);
    /* SQLite's own checkpoint (every 1000 frames) keeps the WAL under
     * about 1000 frames again. */
    long long biggest = 0;
    for (int i = 1; i <= 1200; i++) {
        commit_row(f->srv.store, i);
        long long size = file_size(f->wal);
        if (size > biggest)
            biggest = size;
    }
    assert_true(biggest < 1100LL * FRAME_BYTES);
    assert_true(biggest > 500LL * FRAME_BYTES);
}

static void test_in_memory_database_is_refused(void **state)
{
    struct fixture *f = *state;
    struct server mem;
    memset(&mem, 0, sizeof(mem));
    char err[256] = "";
    assert_int_equal(store_open(":memory:", &mem.store, err, sizeof(err)), OG_OK);
    assert_int_not_equal(checkpointer_start(&mem, 40, 80, err, sizeof(err)), OG_OK);
    assert_true(strlen(err) > 0);
    assert_null(mem.checkpointer);
    store_close(mem.store);
    (void)f;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wal_stays_small_under_steady_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_gives_the_automatic_checkpoint_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_in_memory_database_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
