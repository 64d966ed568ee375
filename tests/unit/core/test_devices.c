/* Unit tests of src/core/devices.c: a remembered browser is found only by
 * its own token, for its own user and app (a stolen cookie is worth
 * nothing for another user or app), scope "all" carries to other apps of
 * scope "all" only, expiry and a shortened policy end a device, forgetting
 * one or all, pruning, no token in the table, and the browser summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/devices.h"
#include "core/log.h"
#include "core/policy.h"
#include "core/secrets.h"
#include "core/store/store.h"

#include "testutil.h"

#define NOW (1700000000000LL)
#define DAY (24LL * 3600 * 1000)

struct fixture {
    char dir[64];
    struct store *s;
    struct keyring k;
};

/* Rows of devices whose token_hash or id holds text (compared here: instr()
 * on a blob is SQLite's). */
static long long devices_holding(struct store *s, const char *text)
{
    db_stmt *st = store_stmt(s, "SELECT token_hash, id FROM devices");
    assert_non_null(st);
    long long n = 0;
    size_t tlen = strlen(text);
    while (db_step(st) == DB_ROW) {
        for (int col = 0; col < 2; col++) {
            const void *p =
                col == 0 ? db_column_blob(st, col) : (const void *)db_column_text(st, col);
            size_t len = (size_t)db_column_bytes(st, col);
            if (p && memmem(p, len, text, tlen)) {
                n++;
                break;
            }
        }
    }
    db_reset(st);
    return n;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char db[200], err[256];
    tu_tmpdir(f->dir, sizeof(f->dir), "devices");
    snprintf(db, sizeof(db), "%s/otpgate.db", f->dir);
    if (tu_store_open(db, &f->s, err, sizeof(err)) != 0)
        fail_msg("store_open: %s", err);
    tu_app_insert(f->s, "app_a", "A", 1);
    tu_app_insert(f->s, "app_b", "B", 1);
    uint8_t master[32] = {7};
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

static const char UA[] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/156.0 Safari/537.36";

static void test_found_only_by_its_token_user_and_app(void **state)
{
    struct fixture *f = *state;
    char t[DEVICES_TOKEN_LEN], other[DEVICES_TOKEN_LEN];
    devices_token_new(t);
    devices_token_new(other);
    assert_true(devices_token_ok(t, strlen(t)));
    assert_string_not_equal(t, other);
    struct device d;
    assert_int_equal(devices_remember(f->s, &f->k, t, "app_a", "alice", false, NOW - 5000, NOW, 30,
                                      UA, "203.0.113.7", &d),
                     0);
    assert_string_equal(d.user_agent, "Chrome on Linux");
    assert_int_equal(d.expires_at, NOW + 30 * DAY);
    struct device got;
    assert_int_equal(devices_find(f->s, &f->k, t, "app_a", "alice", false, NOW + 1000, -1, &got),
                     0);
    assert_string_equal(got.id, d.id);
    assert_int_equal(got.step_at, NOW - 5000);
    assert_int_equal(got.last_seen_at, NOW + 1000);
    /* a stolen cookie: another user, another app, or another token */
    assert_int_equal(devices_find(f->s, &f->k, t, "app_a", "bob", false, NOW, -1, &got),
                     OG_ERR_NOT_FOUND);
    assert_int_equal(devices_find(f->s, &f->k, t, "app_b", "alice", false, NOW, -1, &got),
                     OG_ERR_NOT_FOUND);
    assert_int_equal(devices_find(f->s, &f->k, t, "app_b", "alice", true, NOW, -1, &got),
                     OG_ERR_NOT_FOUND); /* made with scope app */
    assert_int_equal(devices_find(f->s, &f->k, other, "app_a", "alice", false, NOW, -1, &got),
                     OG_ERR_NOT_FOUND);
    assert_int_equal(
        devices_find(f->s, &f->k, "not a token", "app_a", "alice", false, NOW, -1, &got),
        OG_ERR_NOT_FOUND);
    /* the token itself is nowhere in the table */
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM devices"), 1);
    assert_int_equal(devices_holding(f->s, t), 0);
    /* a different master key finds nothing */
    struct keyring k2;
    uint8_t master2[32] = {8};
    keyring_derive(master2, &k2);
    assert_int_equal(devices_find(f->s, &k2, t, "app_a", "alice", false, NOW, -1, &got),
                     OG_ERR_NOT_FOUND);
}

static void test_scope_all_carries_to_apps_of_scope_all(void **state)
{
    struct fixture *f = *state;
    char t[DEVICES_TOKEN_LEN];
    devices_token_new(t);
    assert_int_equal(
        devices_remember(f->s, &f->k, t, "app_a", "carol", true, NOW, NOW, 7, NULL, NULL, NULL), 0);
    struct device got;
    assert_int_equal(devices_find(f->s, &f->k, t, "app_b", "carol", true, NOW, -1, &got), 0);
    assert_string_equal(got.app_id, "app_a");
    assert_true(got.scope_all);
    /* app_b's own scope is "app": it does not take devices made elsewhere */
    assert_int_equal(devices_find(f->s, &f->k, t, "app_b", "carol", false, NOW, -1, &got),
                     OG_ERR_NOT_FOUND);
    assert_int_equal(devices_find(f->s, &f->k, t, "app_b", "dave", true, NOW, -1, &got),
                     OG_ERR_NOT_FOUND);
}

static void test_expiry_and_shortened_policy(void **state)
{
    struct fixture *f = *state;
    char t[DEVICES_TOKEN_LEN];
    devices_token_new(t);
    assert_int_equal(
        devices_remember(f->s, &f->k, t, "app_a", "erin", false, NOW, NOW, 30, NULL, NULL, NULL),
        0);
    struct device got;
    assert_int_equal(
        devices_find(f->s, &f->k, t, "app_a", "erin", false, NOW + 30 * DAY - 1, -1, &got), 0);
    assert_int_equal(devices_find(f->s, &f->k, t, "app_a", "erin", false, NOW + 30 * DAY, -1, &got),
                     OG_ERR_NOT_FOUND);
    /* the policy now says 10 days: a 12-day-old device no longer counts */
    assert_int_equal(
        devices_find(f->s, &f->k, t, "app_a", "erin", false, NOW + 12 * DAY, 10 * DAY, &got),
        OG_ERR_NOT_FOUND);
    assert_int_equal(
        devices_find(f->s, &f->k, t, "app_a", "erin", false, NOW + 9 * DAY, 10 * DAY, &got), 0);
    assert_int_equal(devices_prune(f->s, NOW + 31 * DAY), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM devices WHERE sub = 'erin'"), 0);
    /* bad input */
    assert_int_equal(
        devices_remember(f->s, &f->k, t, "app_a", "erin", false, NOW, NOW, 0, NULL, NULL, NULL),
        OG_ERR_INVALID);
    assert_int_equal(
        devices_remember(f->s, &f->k, t, "app_a", "erin", false, NOW, NOW, 366, NULL, NULL, NULL),
        OG_ERR_INVALID);
    assert_int_equal(devices_remember(f->s, &f->k, "short", "app_a", "erin", false, NOW, NOW, 3,
                                      NULL, NULL, NULL),
                     OG_ERR_INVALID);
}

struct listing {
    int n;
    char ids[8][DEVICES_ID_LEN];
};

static void collect(const struct device *d, void *arg)
{
    struct listing *l = arg;
    if (l->n < 8)
        snprintf(l->ids[l->n++], DEVICES_ID_LEN, "%s", d->id);
}

static void test_list_and_forget(void **state)
{
    struct fixture *f = *state;
    char t1[DEVICES_TOKEN_LEN], t2[DEVICES_TOKEN_LEN], t3[DEVICES_TOKEN_LEN];
    devices_token_new(t1);
    devices_token_new(t2);
    devices_token_new(t3);
    struct device d1, d2, d3;
    devices_remember(f->s, &f->k, t1, "app_a", "gus", false, NOW, NOW, 30, UA, NULL, &d1);
    devices_remember(f->s, &f->k, t2, "app_b", "gus", true, NOW, NOW + 1, 30, UA, NULL, &d2);
    devices_remember(f->s, &f->k, t3, "app_b", "gus", false, NOW, NOW + 2, 30, UA, NULL, &d3);
    struct listing l = {0};
    /* Remembering per app (the default), app_a neither sees nor forgets
     * the scope-all device app_b made: its "gus" may be somebody else. */
    assert_int_equal(devices_each(f->s, "app_a", "gus", NOW + 5, collect, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.ids[0], d1.id);
    assert_int_equal(devices_forget(f->s, "app_a", "gus", d2.id), OG_ERR_NOT_FOUND);
    int n = -1;
    assert_int_equal(devices_forget_all(f->s, "app_c", NULL, "gus", &n), 0);
    assert_int_equal(n, 0);
    /* With scope all, it is app_a's user's too. */
    char err[160];
    assert_int_equal(policy_set(f->s, "", "remember_device_scope", "all", err, sizeof err), 0);
    memset(&l, 0, sizeof l);
    assert_int_equal(devices_each(f->s, "app_a", "gus", NOW + 5, collect, &l), 0);
    assert_int_equal(l.n, 2); /* its own and the scope-all one */
    assert_string_equal(l.ids[0], d2.id);
    assert_string_equal(l.ids[1], d1.id);
    /* another app's device is not app_a's to forget */
    assert_int_equal(devices_forget(f->s, "app_a", "gus", d3.id), OG_ERR_NOT_FOUND);
    assert_int_equal(devices_forget(f->s, "app_a", "bob", d1.id), OG_ERR_NOT_FOUND);
    assert_int_equal(devices_forget(f->s, "app_a", "gus", d1.id), 0);
    struct device got;
    assert_int_equal(devices_find(f->s, &f->k, t1, "app_a", "gus", false, NOW, -1, &got),
                     OG_ERR_NOT_FOUND);
    /* The policy the caller passes decides, not the stored one: per app,
     * the scope-all device is not app_a's. */
    struct policy per_app;
    assert_int_equal(policy_load(f->s, "app_a", &per_app), 0);
    assert_true(per_app.remember_device_all);
    per_app.remember_device_all = false;
    n = -1;
    assert_int_equal(devices_forget_all(f->s, "app_a", &per_app, "gus", &n), 0);
    assert_int_equal(n, 0);
    n = -1;
    assert_int_equal(devices_forget_all(f->s, "app_a", NULL, "gus", &n), 0);
    assert_int_equal(n, 1); /* the scope-all one; app_b's own stays */
    assert_int_equal(devices_find(f->s, &f->k, t3, "app_b", "gus", false, NOW, -1, &got), 0);
}

static void test_ua_summary(void **state)
{
    (void)state;
    char out[DEVICES_UA_LEN];
    struct {
        const char *ua, *want;
    } rows[] = {
        {UA, "Chrome on Linux"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
         "Firefox on Windows"},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
         "Safari on iPhone"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0 Safari/537.36 Edg/120.0",
         "Edge on Windows"},
        {"Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36",
         "Chrome on Android"},
        {"curl/8.0", "A browser"},
        {NULL, "A browser"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        devices_ua_summary(rows[i].ua, out, sizeof(out));
        assert_string_equal(out, rows[i].want);
    }
}

int main(void)
{
    log_set_level(OG_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_found_only_by_its_token_user_and_app, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_all_carries_to_apps_of_scope_all, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expiry_and_shortened_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_forget, setup, teardown),
        cmocka_unit_test(test_ua_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
