/* Unit tests of src/core/sessions.c: create, load, expiry, save, rotation
 * (the old cookie stops working), deletion and pruning; the cookie value
 * never reaches the database; one-time jti values per app; CSRF tokens
 * bound to one session. Each test owns a fresh mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "core/jwt.h"
#include "core/log.h"
#include "core/secrets.h"
#include "core/sessions.h"
#include "core/store/store.h"

#include "testutil.h"

#define T0    1700000000000LL /* unix ms */
#define TTL   (30 * 60 * 1000LL)
#define APP_A "app_aaaaaaaaaaaaaaaaaaaa"
#define APP_B "app_bbbbbbbbbbbbbbbbbbbb"

struct fixture {
    char dir[64];
    char db[200];
    char err[512];
    struct store *s;
    struct keyring k;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "sessions");
    snprintf(f->db, sizeof(f->db), "%s/otpgate.db", f->dir);
    if (tu_store_open(f->db, &f->s, f->err, sizeof(f->err)) != 0)
        fail_msg("store_open: %s", f->err);
    uint8_t master[KEY_LEN];
    for (size_t i = 0; i < sizeof(master); i++)
        master[i] = (uint8_t)(i * 5 + 3);
    assert_int_equal(keyring_derive(master, &f->k), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

/* A session of APP_A for user "u1" with every optional field set. */
static void fill(struct session *x, const char *app, const char *sub)
{
    memset(x, 0, sizeof(*x));
    snprintf(x->app_id, sizeof(x->app_id), "%s", app);
    snprintf(x->sub, sizeof(x->sub), "%s", sub);
    snprintf(x->purpose, sizeof(x->purpose), "login");
    x->return_to = (char *)"https://app.example/cb";
    x->state = (char *)"st-123";
    x->flow = (char *)"{\"nonce\":\"n1\"}";
    snprintf(x->locale, sizeof(x->locale), "de");
}

static void create(struct fixture *f, struct session *x, int64_t now, int64_t ttl, char *cookie)
{
    assert_int_equal(sessions_create(f->s, x, now, ttl, cookie, SESSIONS_COOKIE_LEN), 0);
}

static void test_create_load(void **state)
{
    struct fixture *f = *state;
    struct session x;
    fill(&x, APP_A, "user 1");
    snprintf(x.amr, sizeof(x.amr), "[\"otp\"]");
    char cookie[SESSIONS_COOKIE_LEN];
    create(f, &x, T0, TTL, cookie);
    assert_int_equal(strlen(cookie), 43);
    assert_int_equal(strspn(cookie, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789-_"),
                     43);
    assert_int_equal(x.created_at, T0);
    assert_int_equal(x.last_seen, T0);
    assert_int_equal(x.expires_at, T0 + TTL);
    uint8_t want[32];
    SHA256((const unsigned char *)cookie, strlen(cookie), want);
    assert_memory_equal(x.id_hash, want, 32);

    struct session y;
    assert_int_equal(sessions_load(f->s, cookie, T0 + 1000, &y), 0);
    assert_memory_equal(y.id_hash, x.id_hash, 32);
    assert_string_equal(y.app_id, APP_A);
    assert_string_equal(y.sub, "user 1");
    assert_string_equal(y.purpose, "login");
    assert_string_equal(y.return_to, "https://app.example/cb");
    assert_string_equal(y.state, "st-123");
    assert_string_equal(y.flow, "{\"nonce\":\"n1\"}");
    assert_string_equal(y.locale, "de");
    assert_string_equal(y.amr, "[\"otp\"]");
    assert_string_equal(y.challenge_id, "");
    assert_string_equal(y.pending_factor, "");
    assert_int_equal(y.created_at, T0);
    assert_int_equal(y.expires_at, T0 + TTL);
    assert_int_equal(y.last_seen, T0 + 1000);
    assert_int_equal(y.passed_at, 0);
    sessions_free(&y);
    assert_null(y.flow);
    assert_int_equal(tu_query_int(f->s, "SELECT last_seen FROM sessions"), T0 + 1000);

    /* Optional fields left out come back NULL or empty. */
    struct session z;
    memset(&z, 0, sizeof(z));
    snprintf(z.app_id, sizeof(z.app_id), APP_B);
    snprintf(z.sub, sizeof(z.sub), "u2");
    snprintf(z.purpose, sizeof(z.purpose), "manage");
    char cookie2[SESSIONS_COOKIE_LEN];
    create(f, &z, T0, TTL, cookie2);
    assert_string_not_equal(cookie, cookie2);
    assert_int_equal(sessions_load(f->s, cookie2, T0, &y), 0);
    assert_null(y.return_to);
    assert_null(y.state);
    assert_null(y.flow);
    assert_string_equal(y.locale, "");
    assert_string_equal(y.purpose, "manage");
    sessions_free(&y);
    sessions_free(NULL);
}

static void test_create_refuses(void **state)
{
    struct fixture *f = *state;
    struct session x;
    char cookie[SESSIONS_COOKIE_LEN] = "untouched";

    fill(&x, APP_A, "u1");
    snprintf(x.purpose, sizeof(x.purpose), "admin");
    assert_int_equal(sessions_create(f->s, &x, T0, TTL, cookie, sizeof(cookie)), OG_ERR_INVALID);
    fill(&x, APP_A, "");
    assert_int_equal(sessions_create(f->s, &x, T0, TTL, cookie, sizeof(cookie)), OG_ERR_INVALID);
    fill(&x, "", "u1");
    assert_int_equal(sessions_create(f->s, &x, T0, TTL, cookie, sizeof(cookie)), OG_ERR_INVALID);
    fill(&x, APP_A, "u1");
    assert_int_equal(sessions_create(f->s, &x, T0, 0, cookie, sizeof(cookie)), OG_ERR_INVALID);
    assert_int_equal(sessions_create(f->s, &x, T0, INT64_MAX, cookie, sizeof(cookie)),
                     OG_ERR_INVALID);
    assert_int_equal(sessions_create(f->s, &x, T0, TTL, cookie, 43), OG_ERR_TOO_BIG);
    memset(x.locale, 'x', sizeof(x.locale)); /* not NUL-terminated */
    assert_int_equal(sessions_create(f->s, &x, T0, TTL, cookie, sizeof(cookie)), OG_ERR_INVALID);
    assert_string_equal(cookie, "untouched");
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM sessions"), 0);
}

static void test_expiry_and_bad_cookies(void **state)
{
    struct fixture *f = *state;
    struct session x, y;
    fill(&x, APP_A, "u1");
    char cookie[SESSIONS_COOKIE_LEN];
    create(f, &x, T0, TTL, cookie);

    assert_int_equal(sessions_load(f->s, cookie, T0 + TTL - 1, &y), 0);
    sessions_free(&y);
    assert_int_equal(sessions_load(f->s, cookie, T0 + TTL, &y), OG_ERR_NOT_FOUND);
    assert_null(y.return_to);
    assert_string_equal(y.app_id, "");
    assert_int_equal(sessions_load(f->s, cookie, T0 + TTL + 1, &y), OG_ERR_NOT_FOUND);

    /* Malformed or unknown values. */
    char other[SESSIONS_COOKIE_LEN];
    memcpy(other, cookie, sizeof(other));
    other[0] = other[0] == 'A' ? 'B' : 'A';
    assert_int_equal(sessions_load(f->s, other, T0, &y), OG_ERR_NOT_FOUND);
    char longer[64];
    snprintf(longer, sizeof(longer), "%sA", cookie);
    assert_int_equal(sessions_load(f->s, longer, T0, &y), OG_ERR_NOT_FOUND);
    memcpy(other, cookie, sizeof(other));
    other[42] = '\0';
    assert_int_equal(sessions_load(f->s, other, T0, &y), OG_ERR_NOT_FOUND);
    memcpy(other, cookie, sizeof(other));
    other[10] = '+';
    assert_int_equal(sessions_load(f->s, other, T0, &y), OG_ERR_NOT_FOUND);
    assert_int_equal(sessions_load(f->s, "", T0, &y), OG_ERR_NOT_FOUND);
    assert_int_equal(sessions_load(f->s, NULL, T0, &y), OG_ERR_NOT_FOUND);
    /* The hash itself, presented as a cookie, opens nothing. */
    char *leaked = b64url_encode(x.id_hash, sizeof(x.id_hash));
    assert_int_equal(strlen(leaked), 43);
    assert_int_equal(sessions_load(f->s, leaked, T0, &y), OG_ERR_NOT_FOUND);
    free(leaked);
    assert_int_equal(sessions_load(f->s, cookie, T0, &y), 0);
    sessions_free(&y);
}

static void test_save(void **state)
{
    struct fixture *f = *state;
    struct session x, y;
    fill(&x, APP_A, "u1");
    char cookie[SESSIONS_COOKIE_LEN];
    create(f, &x, T0, TTL, cookie);

    snprintf(x.locale, sizeof(x.locale), "fr");
    x.passed_at = T0 + 5000;
    x.stepup_at = T0 + 6000;
    snprintf(x.amr, sizeof(x.amr), "[\"mfa\",\"otp\"]");
    snprintf(x.challenge_id, sizeof(x.challenge_id), "ch_abc");
    snprintf(x.pending_factor, sizeof(x.pending_factor), "f_xyz");
    x.flow = (char *)"{\"nonce\":\"n2\"}";
    x.expires_at = T0 + 2 * TTL;
    x.return_to = (char *)"https://evil.example/"; /* not a mutable field */
    snprintf(x.sub, sizeof(x.sub), "u2");          /* nor this */
    assert_int_equal(sessions_save(f->s, &x), 0);

    assert_int_equal(sessions_load(f->s, cookie, T0 + TTL + 1, &y), 0);
    assert_string_equal(y.locale, "fr");
    assert_int_equal(y.passed_at, T0 + 5000);
    assert_int_equal(y.stepup_at, T0 + 6000);
    assert_string_equal(y.amr, "[\"mfa\",\"otp\"]");
    assert_string_equal(y.challenge_id, "ch_abc");
    assert_string_equal(y.pending_factor, "f_xyz");
    assert_string_equal(y.flow, "{\"nonce\":\"n2\"}");
    assert_int_equal(y.expires_at, T0 + 2 * TTL);
    assert_string_equal(y.return_to, "https://app.example/cb");
    assert_string_equal(y.sub, "u1");

    /* Clearing the challenge. */
    y.challenge_id[0] = '\0';
    assert_int_equal(sessions_save(f->s, &y), 0);
    sessions_free(&y);
    assert_int_equal(tu_query_int(f->s, "SELECT challenge_id IS NULL FROM sessions"), 1);

    assert_int_equal(sessions_delete(f->s, &x), 0);
    assert_int_equal(sessions_save(f->s, &x), OG_ERR_NOT_FOUND);
}

static void test_rotate(void **state)
{
    struct fixture *f = *state;
    struct session x, y;
    fill(&x, APP_A, "u1");
    char old[SESSIONS_COOKIE_LEN], fresh[SESSIONS_COOKIE_LEN];
    create(f, &x, T0, TTL, old);
    char csrf_old[SESSIONS_CSRF_LEN];
    sessions_csrf_token(f->k.csrf, &x, csrf_old, sizeof(csrf_old));

    assert_int_equal(sessions_rotate(f->s, &x, fresh, 10), OG_ERR_TOO_BIG);
    assert_int_equal(sessions_rotate(f->s, &x, fresh, sizeof(fresh)), 0);
    assert_string_not_equal(old, fresh);
    assert_int_equal(sessions_load(f->s, old, T0 + 1, &y), OG_ERR_NOT_FOUND);
    assert_int_equal(sessions_load(f->s, fresh, T0 + 1, &y), 0);
    assert_memory_equal(y.id_hash, x.id_hash, 32);
    assert_string_equal(y.sub, "u1");
    assert_string_equal(y.state, "st-123");
    assert_int_equal(y.expires_at, T0 + TTL); /* same session, same lifetime */
    /* The CSRF token follows the session's new id. */
    assert_false(sessions_csrf_check(f->k.csrf, &y, csrf_old, strlen(csrf_old)));
    sessions_free(&y);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM sessions"), 1);

    /* A session that is gone cannot rotate, and its struct keeps its id. */
    assert_int_equal(sessions_delete(f->s, &x), 0);
    uint8_t before[32];
    memcpy(before, x.id_hash, 32);
    char again[SESSIONS_COOKIE_LEN] = "untouched";
    assert_int_equal(sessions_rotate(f->s, &x, again, sizeof(again)), OG_ERR_NOT_FOUND);
    assert_memory_equal(before, x.id_hash, 32);
    assert_string_equal(again, "untouched");
}

static void test_delete_and_prune(void **state)
{
    struct fixture *f = *state;
    struct session a, b, c, y;
    char ca[SESSIONS_COOKIE_LEN], cb[SESSIONS_COOKIE_LEN], cc[SESSIONS_COOKIE_LEN];
    fill(&a, APP_A, "u1");
    fill(&b, APP_A, "u2");
    fill(&c, APP_B, "u1");
    create(f, &a, T0, 1000, ca);
    create(f, &b, T0, 5000, cb);
    create(f, &c, T0, 9000, cc);

    assert_int_equal(sessions_delete(f->s, &c), 0);
    assert_int_equal(sessions_load(f->s, cc, T0, &y), OG_ERR_NOT_FOUND);
    assert_int_equal(sessions_delete(f->s, &c), 0); /* already gone */

    assert_int_equal(sessions_jti_use(f->s, APP_A, "j-short", T0 + 1000), 0);
    assert_int_equal(sessions_jti_use(f->s, APP_A, "j-long", T0 + 5000), 0);

    assert_int_equal(sessions_prune(f->s, T0 + 999), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM sessions"), 2);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM used_jti"), 2);
    assert_int_equal(sessions_prune(f->s, T0 + 1000), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM sessions"), 1);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM used_jti"), 1);
    assert_int_equal(sessions_load(f->s, cb, T0 + 1000, &y), 0);
    assert_string_equal(y.sub, "u2");
    sessions_free(&y);
    assert_int_equal(sessions_prune(f->s, T0 + 5000), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM sessions"), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM used_jti"), 0);
}

/* Whether needle occurs in any column of any row of table. */
static bool table_contains(struct store *s, const char *table, const char *needle)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT * FROM %s", table);
    db_stmt *st;
    st = store_stmt(s, sql);
    assert_non_null(st);
    bool found = false;
    size_t n = strlen(needle);
    while (!found && db_step(st) == DB_ROW) {
        for (int i = 0; i < db_column_count(st); i++) {
            const void *p = db_column_blob(st, i);
            size_t len = (size_t)db_column_bytes(st, i);
            if (p && memmem(p, len, needle, n))
                found = true;
        }
    }
    db_reset(st);
    return found;
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += got;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(fp);
    bool found = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

static void test_cookie_never_stored(void **state)
{
    struct fixture *f = *state;
    struct session x;
    fill(&x, APP_A, "u1");
    char cookie[SESSIONS_COOKIE_LEN], rotated[SESSIONS_COOKIE_LEN];
    create(f, &x, T0, TTL, cookie);
    assert_true(table_contains(f->s, "sessions", "st-123")); /* the scan works */
    assert_false(table_contains(f->s, "sessions", cookie));
    assert_int_equal(sessions_rotate(f->s, &x, rotated, sizeof(rotated)), 0);
    assert_false(table_contains(f->s, "sessions", cookie));
    assert_false(table_contains(f->s, "sessions", rotated));

    /* Nor anywhere in the database files (the WAL holds the pages). A
     * PostgreSQL server's files are out of this test's reach: the table
     * scans above are what it checks there. */
    if (tu_on_pg())
        return;
    char path[256];
    assert_true(file_contains(f->db, "st-123") ||
                (snprintf(path, sizeof(path), "%s-wal", f->db), file_contains(path, "st-123")));
    const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s%s", f->db, suffixes[i]);
        assert_false(file_contains(path, cookie));
        assert_false(file_contains(path, rotated));
    }
}

static void test_jti(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(sessions_jti_use(f->s, APP_A, "jti-1", T0 + 60000), 0);
    assert_int_equal(sessions_jti_use(f->s, APP_A, "jti-1", T0 + 60000), OG_ERR_EXISTS);
    assert_int_equal(sessions_jti_use(f->s, APP_A, "jti-1", T0 + 99000), OG_ERR_EXISTS);
    assert_int_equal(sessions_jti_use(f->s, APP_B, "jti-1", T0 + 60000), 0);
    assert_int_equal(sessions_jti_use(f->s, APP_B, "jti-1", T0 + 60000), OG_ERR_EXISTS);
    assert_int_equal(sessions_jti_use(f->s, APP_A, "jti-2", T0 + 60000), 0);
    assert_int_equal(sessions_jti_use(f->s, APP_A, "JTI-1", T0 + 60000), 0);

    assert_int_equal(sessions_jti_use(f->s, APP_A, "", T0), OG_ERR_INVALID);
    assert_int_equal(sessions_jti_use(f->s, APP_A, NULL, T0), OG_ERR_INVALID);
    assert_int_equal(sessions_jti_use(f->s, "", "x", T0), OG_ERR_INVALID);
    char big[SESSIONS_JTI_MAX + 2];
    memset(big, 'j', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(sessions_jti_use(f->s, APP_A, big, T0), OG_ERR_INVALID);
    big[SESSIONS_JTI_MAX] = '\0';
    assert_int_equal(sessions_jti_use(f->s, APP_A, big, T0), 0);

    /* Once pruned after its expiry the value is forgotten. */
    assert_int_equal(sessions_prune(f->s, T0 + 60000), 0);
    assert_int_equal(sessions_jti_use(f->s, APP_A, "jti-1", T0 + 120000), 0);

    /* A replay inside the caller's transaction leaves it usable (PostgreSQL
     * would abort it after a refused insert). */
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(sessions_jti_use(f->s, APP_A, "jti-1", T0 + 120000), OG_ERR_EXISTS);
    assert_int_equal(sessions_jti_use(f->s, APP_A, "jti-3", T0 + 120000), 0);
    assert_int_equal(store_commit(f->s), 0);
    assert_int_equal(sessions_jti_use(f->s, APP_A, "jti-3", T0 + 120000), OG_ERR_EXISTS);
}

static void test_csrf(void **state)
{
    struct fixture *f = *state;
    struct session a, b;
    char ca[SESSIONS_COOKIE_LEN], cb[SESSIONS_COOKIE_LEN];
    fill(&a, APP_A, "u1");
    fill(&b, APP_A, "u1");
    create(f, &a, T0, TTL, ca);
    create(f, &b, T0, TTL, cb);

    char ta[SESSIONS_CSRF_LEN], tb[SESSIONS_CSRF_LEN], again[SESSIONS_CSRF_LEN];
    sessions_csrf_token(f->k.csrf, &a, ta, sizeof(ta));
    sessions_csrf_token(f->k.csrf, &b, tb, sizeof(tb));
    sessions_csrf_token(f->k.csrf, &a, again, sizeof(again));
    assert_int_equal(strlen(ta), 43);
    assert_string_equal(ta, again);
    assert_string_not_equal(ta, tb);
    assert_string_not_equal(ta, ca); /* not the cookie either */

    assert_true(sessions_csrf_check(f->k.csrf, &a, ta, strlen(ta)));
    assert_true(sessions_csrf_check(f->k.csrf, &b, tb, strlen(tb)));
    /* Another session's token. */
    assert_false(sessions_csrf_check(f->k.csrf, &a, tb, strlen(tb)));
    assert_false(sessions_csrf_check(f->k.csrf, &b, ta, strlen(ta)));
    /* Wrong: one character changed, cut short, a byte more, empty, NULL. */
    char bad[SESSIONS_CSRF_LEN + 1];
    memcpy(bad, ta, sizeof(ta));
    bad[20] = bad[20] == 'A' ? 'B' : 'A';
    assert_false(sessions_csrf_check(f->k.csrf, &a, bad, strlen(bad)));
    assert_false(sessions_csrf_check(f->k.csrf, &a, ta, strlen(ta) - 1));
    memcpy(bad, ta, sizeof(ta));
    bad[43] = 'A';
    bad[44] = '\0';
    assert_false(sessions_csrf_check(f->k.csrf, &a, bad, 44));
    assert_false(sessions_csrf_check(f->k.csrf, &a, "", 0));
    assert_false(sessions_csrf_check(f->k.csrf, &a, NULL, 0));
    /* The span need not be NUL-terminated. */
    memcpy(bad, ta, 43);
    bad[43] = '!';
    assert_true(sessions_csrf_check(f->k.csrf, &a, bad, 43));
    /* Another key. */
    assert_false(sessions_csrf_check(f->k.session, &a, ta, strlen(ta)));
}

int main(void)
{
    log_set_level(OG_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_and_bad_cookies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_and_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cookie_never_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jti, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csrf, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
