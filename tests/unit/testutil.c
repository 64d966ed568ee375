/* Helpers shared by the unit tests: see testutil.h. */
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/apps.h"
#include "core/log.h"
#include "core/secrets.h"
#include "core/store/store.h"

void tu_tmpdir(char *dir, size_t len, const char *tag)
{
    int n = snprintf(dir, len, "/tmp/og-%s-XXXXXX", tag);
    assert_true(n > 0 && (size_t)n < len);
    assert_non_null(mkdtemp(dir));
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

void tu_rmtree(const char *dir)
{
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int tu_on_pg(void)
{
    const char *url = getenv("OTPGATE_TEST_DATABASE_URL");
    return url && *url;
}

int tu_store_open(const char *path, struct store **s, char *err, size_t errlen)
{
    static char last[512];
    if (!tu_on_pg())
        return store_open(path, s, err, errlen);
    const char *url = getenv("OTPGATE_TEST_DATABASE_URL");
    if (strcmp(last, path) != 0) {
        snprintf(last, sizeof(last), "%s", path);
        struct store *w = NULL;
        if (store_open(url, &w, err, errlen) != 0)
            return -1;
        if (store_exec(w, "DROP SCHEMA public CASCADE; CREATE SCHEMA public") != 0)
            fail_msg("cannot empty the test database: %s", store_errmsg(w));
        store_close(w);
    }
    return store_open(url, s, err, errlen);
}

void tu_store_keys(const char *dir, struct store **s, struct keyring *k)
{
    char db[512], err[512];
    snprintf(db, sizeof(db), "%s/otpgate.db", dir);
    log_set_level(OG_LOG_ERROR);
    if (tu_store_open(db, s, err, sizeof(err)) != 0)
        fail_msg("store_open: %s", err);
    uint8_t master[KEY_LEN];
    for (size_t i = 0; i < sizeof(master); i++)
        master[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(keyring_derive(master, k), 0);
}

void tu_app_add(struct store *s, const struct keyring *k, const char *name, char *id, size_t idlen)
{
    const char *uris[] = {"https://app.example/cb"};
    char secret[APPS_SECRET_LEN], err[512];
    if (apps_add(s, k, name, uris, 1, NULL, id, idlen, secret, sizeof(secret), err, sizeof(err)) !=
        0)
        fail_msg("apps_add: %s", err);
}

void tu_app_insert(struct store *s, const char *id, const char *name, long long created_at)
{
    static const uint8_t sealed[1] = {0};
    db_stmt *st = store_stmt(s, "INSERT INTO apps (id, name, secret_sealed, redirect_uris, "
                                "created_at) VALUES (?1, ?2, ?3, '[]', ?4)");
    assert_non_null(st);
    db_bind_text(st, 1, id, -1);
    db_bind_text(st, 2, name, -1);
    db_bind_blob(st, 3, sealed, sizeof(sealed));
    db_bind_int64(st, 4, created_at);
    if (store_exec_done(st) != OG_OK)
        fail_msg("insert %s: %s", id, store_errmsg(s));
}

long long tu_query_int(struct store *s, const char *sql)
{
    db_stmt *st = NULL;
    if (!(st = store_stmt(s, sql)))
        fail_msg("prepare failed: %s", sql);
    assert_int_equal(db_step(st), DB_ROW);
    long long n = db_column_int64(st, 0);
    db_reset(st);
    return n;
}
