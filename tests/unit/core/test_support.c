/* Unit tests of src/core/support.c and src/core/overview.c, the console's
 * reads and changes: the user list (sub prefix, state and factor filters,
 * one app or all, paging forward and back by key), a user's history (and
 * its scan bound), the console's own history, one factor removed by an
 * admin (audited, preferred and recovery codes following factors_remove's
 * rules), one user and its factors (a passkey's AAGUID), the delivery
 * log's filters and paging with destinations masked even inside provider
 * answers, a row in full, the console's audit rows, and the overview's
 * counts. Each test owns a fresh mkdtemp directory; with
 * OTPGATE_TEST_DATABASE_URL set they run on PostgreSQL instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/overview.h"
#include "core/secrets.h"
#include "core/store/store.h"
#include "core/support.h"

#include "testutil.h"

#define NOW 1700000000000LL

struct fixture {
    char dir[64];
    char db[200];
    char err[512];
    struct store *s;
    struct keyring k;
};

static void sql(struct store *s, const char *text)
{
    if (store_exec(s, text) != OG_OK)
        fail_msg("sql failed: %s: %s", text, store_errmsg(s));
}

/* Runs text, whose ?1 and ?2 are the one-byte blobs 0x00 and 0x01 (x'00'
 * literals are SQLite's alone). */
static void sql_blobs(struct store *s, const char *text)
{
    static const uint8_t zero = 0, one = 1;
    db_stmt *st = store_stmt(s, text);
    if (!st)
        fail_msg("prepare failed: %s: %s", text, store_errmsg(s));
    db_bind_blob(st, 1, &zero, 1);
    db_bind_blob(st, 2, &one, 1);
    if (store_exec_done(st) != OG_OK)
        fail_msg("sql failed: %s: %s", text, store_errmsg(s));
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "support");
    snprintf(f->db, sizeof(f->db), "%s/otpgate.db", f->dir);
    if (tu_store_open(f->db, &f->s, f->err, sizeof(f->err)) != 0)
        fail_msg("store_open: %s", f->err);
    uint8_t master[KEY_LEN];
    for (size_t i = 0; i < sizeof(master); i++)
        master[i] = (uint8_t)(i * 5 + 3);
    assert_int_equal(keyring_derive(master, &f->k), 0);
    sql_blobs(f->s, "INSERT INTO apps (id, name, secret_sealed, redirect_uris, created_at) "
                    "VALUES ('app_a', 'Shop', ?1, '[]', 1), ('app_b', 'Blog', ?2, '[]', 2)");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    keyring_wipe(&f->k);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

/* A user of app with id uid and optional factors. */
static void user(struct fixture *f, int uid, const char *app, const char *sub,
                 const char *locked_at, long long retry_at)
{
    char q[512];
    snprintf(q, sizeof(q),
             "INSERT INTO users (id, app_id, sub, created_at, locked_at, retry_at, failures) "
             "VALUES (%d, '%s', '%s', %lld, %s, %lld, %d)",
             uid, app, sub, NOW + uid, locked_at ? locked_at : "NULL", retry_at,
             locked_at ? 100 : (retry_at ? 6 : 0));
    sql(f->s, q);
}

static void factor(struct fixture *f, const char *id, int uid, const char *type, const char *status,
                   const char *dest)
{
    char q[512];
    snprintf(q, sizeof(q),
             "INSERT INTO factors (id, user_id, type, status, destination, created_at) VALUES "
             "('%s', %d, '%s', '%s', %s%s%s, %lld)",
             id, uid, type, status, dest ? "'" : "", dest ? dest : "NULL", dest ? "'" : "",
             NOW + uid);
    sql(f->s, q);
}

struct rows {
    char subs[64][64];
    char apps[64][16];
    char factors[64][32];
    size_t n;
};

static void collect(const struct support_user_row *r, void *arg)
{
    struct rows *x = arg;
    snprintf(x->subs[x->n], sizeof(x->subs[0]), "%s", r->sub);
    snprintf(x->apps[x->n], sizeof(x->apps[0]), "%s", r->app_id);
    snprintf(x->factors[x->n], sizeof(x->factors[0]), "%s", r->factors);
    x->n++;
}

static struct rows list(struct fixture *f, const struct support_user_query *q, bool *more)
{
    struct rows r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(support_users_each(f->s, q, collect, &r, more), 0);
    return r;
}

static void test_user_list(void **state)
{
    struct fixture *f = *state;
    user(f, 1, "app_a", "alice", NULL, 0);
    user(f, 2, "app_a", "bob", "1", 0);
    user(f, 3, "app_a", "carol", NULL, NOW + 1000);
    user(f, 4, "app_b", "alice", NULL, NOW - 1000);
    user(f, 5, "app_a", "al\xc3\xa9", NULL, 0);
    user(f, 6, "app_a", "alf", NULL, 0);
    factor(f, "f1", 1, "sms", "active", "+447700900123");
    factor(f, "f2", 1, "email", "active", "alice@example.com");
    factor(f, "f3", 3, "sms", "pending", "+447700900124");
    factor(f, "f4", 4, "totp", "active", NULL);

    struct support_user_query q = {.limit = 10, .now_ms = NOW};
    bool more = true;
    struct rows r = list(f, &q, &more);
    assert_false(more);
    assert_int_equal(r.n, 6);
    const char *order[] = {"alf", "alice", "alice", "al\xc3\xa9", "bob", "carol"};
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(r.subs[i], order[i]);
    assert_string_equal(r.apps[1], "app_a");
    assert_string_equal(r.apps[2], "app_b");
    assert_string_equal(r.factors[1], "email,sms");
    assert_string_equal(r.factors[2], "totp");
    assert_string_equal(r.factors[5], ""); /* a pending factor does not count */

    q.prefix = "al";
    assert_int_equal(list(f, &q, NULL).n, 4);
    q.prefix = "al\xc3";
    assert_int_equal(list(f, &q, NULL).n, 1);
    q.prefix = "ALICE";
    assert_int_equal(list(f, &q, NULL).n, 0); /* subs are the apps' ids: exact bytes */
    q.prefix = "al%";
    assert_int_equal(list(f, &q, NULL).n, 0); /* no LIKE patterns */
    q.prefix = "al\xc3\x28";                  /* not UTF-8: no sub starts so, and no error */
    assert_int_equal(list(f, &q, NULL).n, 0);
    q.prefix = "\xff";
    assert_int_equal(list(f, &q, NULL).n, 0);
    q.prefix = "al\xe0"; /* a cut three-byte character: nothing here */
    assert_int_equal(list(f, &q, NULL).n, 0);
    q.prefix = NULL;
    q.app_id = "app_b";
    r = list(f, &q, NULL);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.apps[0], "app_b");

    q.app_id = NULL;
    q.state = SUPPORT_STATE_LOCKED;
    r = list(f, &q, NULL);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.subs[0], "bob");
    q.state = SUPPORT_STATE_WAITING; /* alice of app_b waited, but that is over */
    r = list(f, &q, NULL);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.subs[0], "carol");
    q.state = SUPPORT_STATE_CLEAR;
    assert_int_equal(list(f, &q, NULL).n, 4);
    q.state = SUPPORT_STATE_ANY;
    q.has = SUPPORT_HAS_SMS;
    r = list(f, &q, NULL);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.subs[0], "alice");
    q.has = SUPPORT_HAS_NONE;
    assert_int_equal(list(f, &q, NULL).n, 4);
    q.has = SUPPORT_HAS_TOTP;
    q.app_id = "app_a";
    assert_int_equal(list(f, &q, NULL).n, 0);

    /* Paging by key, two at a time, forward then back. */
    struct support_user_query p = {.limit = 2, .now_ms = NOW};
    r = list(f, &p, &more);
    assert_true(more);
    assert_string_equal(r.subs[1], "alice");
    p.after_sub = "alice";
    p.after_app = "app_a";
    r = list(f, &p, &more);
    assert_true(more);
    assert_string_equal(r.subs[0], "alice");
    assert_string_equal(r.apps[0], "app_b");
    assert_string_equal(r.subs[1], "al\xc3\xa9");
    p.after_sub = "al\xc3\xa9";
    r = list(f, &p, &more);
    assert_false(more);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.subs[1], "carol");
    p.backward = true; /* the page before bob */
    p.after_sub = "bob";
    p.after_app = "app_a";
    r = list(f, &p, &more);
    assert_true(more);
    assert_string_equal(r.subs[0], "alice");
    assert_string_equal(r.apps[0], "app_b");
    assert_string_equal(r.subs[1], "al\xc3\xa9");
    p.after_sub = "alice";
    r = list(f, &p, &more);
    assert_false(more);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.subs[0], "alf");

    /* Refusals. */
    struct support_user_query bad = {.limit = 0};
    assert_int_equal(support_users_each(f->s, &bad, collect, &r, NULL), OG_ERR_INVALID);
    bad.limit = SUPPORT_PAGE_MAX + 1;
    assert_int_equal(support_users_each(f->s, &bad, collect, &r, NULL), OG_ERR_INVALID);
    bad.limit = 5;
    bad.after_sub = "x";
    assert_int_equal(support_users_each(f->s, &bad, collect, &r, NULL), OG_ERR_INVALID);
    bad.after_sub = NULL;
    bad.backward = true;
    assert_int_equal(support_users_each(f->s, &bad, collect, &r, NULL), OG_ERR_INVALID);
}

struct events {
    char names[40][32];
    char ips[40][48];
    size_t n;
};

static void collect_event(const struct support_event *e, void *arg)
{
    struct events *x = arg;
    snprintf(x->names[x->n], sizeof(x->names[0]), "%s", e->event);
    snprintf(x->ips[x->n], sizeof(x->ips[0]), "%s", e->client_ip);
    x->n++;
}

static void test_history(void **state)
{
    struct fixture *f = *state;
    sql(f->s, "INSERT INTO audit (at, app_id, sub, event, client_ip) VALUES "
              "(1, 'app_a', 'alice', 'code_sent', '198.51.100.1'), "
              "(2, 'app_b', 'alice', 'code_sent', NULL), "
              "(3, 'app_a', 'alice', 'verify_failed', '198.51.100.2')");
    assert_int_equal(support_audit_console(f->s, 4, "admin_unlock", "root", "192.0.2.9", "app_a",
                                           "alice", ",\"failures\":3"),
                     0);
    assert_int_equal(
        support_audit_console(f->s, 5, "admin_app_add", "ro\"ot", NULL, "app_a", NULL, NULL), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM audit WHERE detail = "
                                        "'{\"by\":\"console\",\"admin\":\"root\",\"failures\":3}'"),
                     1);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM audit WHERE detail = "
                                        "'{\"by\":\"console\",\"admin\":\"ro\\\"ot\"}' AND sub IS "
                                        "NULL AND client_ip IS NULL"),
                     1);
    struct events e = {0};
    assert_int_equal(support_user_history(f->s, "app_a", "alice", 10, collect_event, &e), 0);
    assert_int_equal(e.n, 3);
    assert_string_equal(e.names[0], "admin_unlock");
    assert_string_equal(e.ips[0], "192.0.2.9");
    assert_string_equal(e.names[2], "code_sent");
    memset(&e, 0, sizeof(e));
    assert_int_equal(support_user_history(f->s, "app_a", "alice", 1, collect_event, &e), 0);
    assert_int_equal(e.n, 1);
    memset(&e, 0, sizeof(e));
    assert_int_equal(support_console_history(f->s, 10, collect_event, &e), 0);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.names[0], "admin_app_add");

    /* Past the scan bound, older rows are not looked at. */
    sql(f->s, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
              "INSERT INTO audit (at, app_id, sub, event) SELECT i, 'app_a', 'bob', 'code_sent' "
              "FROM n");
    memset(&e, 0, sizeof(e));
    assert_int_equal(support_user_history(f->s, "app_a", "alice", 10, collect_event, &e), 0);
    assert_int_equal(e.n, 0);
    sql(f->s, "INSERT INTO audit (at, app_id, sub, event) VALUES (9, 'app_a', 'alice', 'locked')");
    assert_int_equal(support_user_history(f->s, "app_a", "alice", 10, collect_event, &e), 0);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.names[0], "locked");
}

static void test_factor_remove(void **state)
{
    struct fixture *f = *state;
    user(f, 1, "app_a", "alice", NULL, 0);
    factor(f, "f1", 1, "email", "active", "alice@example.com");
    factor(f, "f2", 1, "sms", "active", "+447700900123");
    sql(f->s, "UPDATE users SET preferred_factor = 'f1', last_used_factor = 'f1' WHERE id = 1");
    sql_blobs(f->s, "INSERT INTO recovery_codes (user_id, salt, hash, created_at) VALUES "
                    "(1, ?1, ?1, 1), (1, ?2, ?2, 1)");
    char type[8];
    assert_int_equal(support_factor_remove(f->s, &f->k, "app_a", "alice", "f1", "console", "root",
                                           "192.0.2.1", NOW, type),
                     0);
    assert_string_equal(type, "email");
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM factors"), 1);
    /* The preferred factor passed on; the codes stay while a factor does. */
    assert_int_equal(tu_query_int(f->s, "SELECT preferred_factor = 'f2' AND last_used_factor IS "
                                        "NULL FROM users"),
                     1);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM recovery_codes"), 2);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM audit WHERE event = "
                                        "'admin_factor_remove' AND detail = '{\"by\":\"console\","
                                        "\"admin\":\"root\",\"factor\":\"email\"}' AND sub = "
                                        "'alice' AND app_id = 'app_a'"),
                     1);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM audit WHERE event = "
                                        "'factor_removed' AND factor_id = 'f1' AND client_ip = "
                                        "'192.0.2.1'"),
                     1);
    assert_int_equal(support_factor_remove(f->s, &f->k, "app_a", "alice", "f1", "console", "root",
                                           NULL, NOW, NULL),
                     OG_ERR_NOT_FOUND);
    assert_int_equal(support_factor_remove(f->s, &f->k, "app_b", "alice", "f2", "console", "root",
                                           NULL, NOW, NULL),
                     OG_ERR_NOT_FOUND);
    /* The last one takes the recovery codes with it. */
    assert_int_equal(
        support_factor_remove(f->s, &f->k, "app_a", "alice", "f2", "cli", NULL, NULL, NOW, NULL),
        0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM recovery_codes"), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM audit WHERE detail = "
                                        "'{\"by\":\"cli\",\"factor\":\"sms\"}'"),
                     1);
}

struct factor_rows {
    struct support_factor f[4];
    size_t n;
};

static void collect_factor(const struct support_factor *sf, void *arg)
{
    struct factor_rows *x = arg;
    if (x->n < 4)
        x->f[x->n++] = *sf;
}

static void test_user_find_and_factors(void **state)
{
    struct fixture *f = *state;
    user(f, 1, "app_a", "alice", "5", 0);
    factor(f, "f1", 1, "email", "active", "alice@example.com");
    factor(f, "f2", 1, "webauthn", "active", NULL);
    sql(f->s, "UPDATE users SET preferred_factor = 'f2' WHERE id = 1");
    sql_blobs(f->s, "INSERT INTO recovery_codes (user_id, salt, hash, created_at, used_at) VALUES "
                    "(1, ?1, ?1, 1, NULL), (1, ?2, ?2, 1, 7)");
    static const uint8_t aaguid[16] = {0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21,
                                       0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4};
    db_stmt *st = store_stmt(f->s, "INSERT INTO webauthn_credentials (factor_id, rp_id, "
                                   "credential_id, public_key, alg, sign_count, aaguid, uv, be, "
                                   "bs, fmt, name) VALUES ('f2', 'app.example', ?1, ?1, -7, 42, "
                                   "?2, 1, 1, 1, 'none', 'Work laptop')");
    assert_non_null(st);
    db_bind_blob(st, 1, "cred", 4);
    db_bind_blob(st, 2, aaguid, (int)sizeof(aaguid));
    assert_int_equal(store_exec_done(st), 0);

    struct support_user u;
    assert_int_equal(support_user_find(f->s, "app_a", "alice", &u), 0);
    assert_int_equal(u.id, 1);
    assert_string_equal(u.app_name, "Shop");
    assert_string_equal(u.preferred, "f2");
    assert_string_equal(u.last_used, "");
    assert_true(u.locked);
    assert_int_equal(u.locked_at, 5);
    assert_int_equal(u.recovery_left, 1);
    assert_int_equal(support_user_find(f->s, "app_b", "alice", &u), OG_ERR_NOT_FOUND);

    struct factor_rows r = {0};
    assert_int_equal(support_user_factors(f->s, 1, collect_factor, &r), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.f[0].id, "f1");
    assert_false(r.f[0].passkey);
    assert_null(strstr(r.f[0].masked, "alice@example.com"));
    assert_string_equal(r.f[1].type, "webauthn");
    assert_true(r.f[1].passkey);
    assert_string_equal(r.f[1].masked, "Work laptop");
    assert_string_equal(r.f[1].aaguid, "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4");
    assert_int_equal(r.f[1].sign_count, 42);
    assert_true(r.f[1].synced);
}

struct deliveries {
    long long ids[16];
    char masked[16][300];
    char answers[16][300];
    size_t n;
};

static void collect_delivery(const struct support_delivery *d, void *arg)
{
    struct deliveries *x = arg;
    x->ids[x->n] = (long long)d->id;
    snprintf(x->masked[x->n], sizeof(x->masked[0]), "%s", d->masked);
    snprintf(x->answers[x->n], sizeof(x->answers[0]), "%s", d->answer);
    x->n++;
}

static void test_deliveries(void **state)
{
    struct fixture *f = *state;
    sql(f->s, "INSERT INTO outbox (id, msg_id, created_at, channel, destination, app_id, "
              "app_name, locale, ttl, state, next_at, provider, answer, attempts) VALUES "
              "(1, 'm1', 1, 'sms', '+447700900123', 'app_a', 'Shop', 'en', 300, 'sent', 0, "
              "'webhook', '{\"to\":\"+447700900123\",\"digits\":\"447700900123\"}', 1), "
              "(2, 'm2', 2, 'email', 'bob@example.com', 'app_b', 'Blog', 'zh', 300, 'failed', 0, "
              "'smtp', '550 no such user bob@example.com', 5), "
              "(3, 'm3', 3, 'sms', '+15550100', 'app_b', 'Blog', 'en', 300, 'queued', 9, NULL, "
              "NULL, 0)");
    struct deliveries d = {0};
    struct support_delivery_query q = {.limit = 10};
    bool more = true;
    assert_int_equal(support_deliveries_each(f->s, &q, collect_delivery, &d, &more), 0);
    assert_false(more);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.ids[0], 3);
    /* The destination is masked, also where the provider echoed it back. */
    assert_null(strstr(d.answers[2], "7700900123"));
    assert_non_null(strstr(d.answers[2], d.masked[2]));
    assert_null(strstr(d.answers[1], "bob@example.com"));
    assert_string_equal(d.answers[0], "");
    memset(&d, 0, sizeof(d));
    q.channel = "sms";
    assert_int_equal(support_deliveries_each(f->s, &q, collect_delivery, &d, NULL), 0);
    assert_int_equal(d.n, 2);
    memset(&d, 0, sizeof(d));
    q.state = "sent";
    assert_int_equal(support_deliveries_each(f->s, &q, collect_delivery, &d, NULL), 0);
    assert_int_equal(d.n, 1);
    memset(&d, 0, sizeof(d));
    struct support_delivery_query q2 = {.app_id = "app_b", .limit = 1};
    assert_int_equal(support_deliveries_each(f->s, &q2, collect_delivery, &d, &more), 0);
    assert_true(more);
    assert_int_equal(d.ids[0], 3);
    q2.before_id = 3;
    memset(&d, 0, sizeof(d));
    assert_int_equal(support_deliveries_each(f->s, &q2, collect_delivery, &d, &more), 0);
    assert_false(more);
    assert_int_equal(d.ids[0], 2);
    q2.limit = 0;
    assert_int_equal(support_deliveries_each(f->s, &q2, collect_delivery, &d, NULL),
                     OG_ERR_INVALID);

    struct support_delivery_detail *one = calloc(1, sizeof(*one));
    assert_int_equal(support_delivery_get(f->s, 2, one), 0);
    assert_string_equal(one->d.state, "failed");
    assert_string_equal(one->locale, "zh");
    assert_string_equal(one->msg_id, "m2");
    assert_string_equal(one->app_id, "app_b");
    assert_int_equal(one->d.attempts, 5);
    assert_null(strstr(one->d.answer, "bob@example.com"));
    assert_int_equal(support_delivery_get(f->s, 99, one), OG_ERR_NOT_FOUND);
    free(one);
}

struct counted {
    struct overview_app apps[4];
    size_t n;
};

static void collect_app(const struct overview_app *a, void *arg)
{
    struct counted *c = arg;
    c->apps[c->n++] = *a;
}

static void test_overview(void **state)
{
    struct fixture *f = *state;
    user(f, 1, "app_a", "alice", NULL, 0);
    user(f, 2, "app_a", "bob", "1", 0);
    user(f, 3, "app_a", "carol", NULL, NOW + 1000);
    user(f, 4, "app_a", "dave", NULL, 0);
    factor(f, "f1", 1, "sms", "active", "+447700900123");
    factor(f, "f2", 1, "email", "active", "a@example.com");
    factor(f, "f3", 2, "totp", "active", NULL);
    factor(f, "f4", 3, "sms", "pending", "+447700900124");
    sql(f->s, "INSERT INTO policy (scope, key, value, updated_at) VALUES ('app_a', 'mode', "
              "'mandatory', 1), ('app_a', 'code_ttl', '60', 1), ('', 'mode', 'off', 1)");
    struct counted c = {0};
    assert_int_equal(overview_apps_each(f->s, NOW, collect_app, &c), 0);
    assert_int_equal(c.n, 2);
    struct overview_app *a = &c.apps[0];
    assert_string_equal(a->id, "app_a");
    assert_string_equal(a->name, "Shop");
    assert_int_equal(a->users, 4);
    assert_int_equal(a->with_factor, 2);
    assert_int_equal(a->sms, 1);
    assert_int_equal(a->email, 1);
    assert_int_equal(a->totp, 1);
    assert_int_equal(a->locked, 1);
    assert_int_equal(a->waiting, 1);
    assert_int_equal(a->policy_keys, 2);
    assert_int_equal(c.apps[1].users, 0);
    assert_int_equal(c.apps[1].policy_keys, 0);
    struct overview_app one;
    assert_int_equal(overview_app_get(f->s, "app_a", NOW, &one), 0);
    assert_int_equal(one.with_factor, 2);
    assert_int_equal(overview_app_get(f->s, "app_zz", NOW, &one), OG_ERR_NOT_FOUND);

    sql(f->s, "INSERT INTO outbox (msg_id, created_at, channel, destination, app_name, locale, "
              "ttl, state, next_at, attempts) VALUES "
              "('o1', 10, 'sms', '+1', 'Shop', 'en', 1, 'sent', 0, 1), "
              "('o2', 1000, 'sms', '+1', 'Shop', 'en', 1, 'sent', 0, 2), "
              "('o3', 1001, 'sms', '+1', 'Shop', 'en', 1, 'failed', 0, 5), "
              "('o4', 1002, 'email', 'a@b', 'Shop', 'en', 1, 'sent', 0, 1), "
              "('o5', 1003, 'email', 'a@b', 'Shop', 'en', 1, 'queued', 0, 0)");
    struct overview_sends s;
    assert_int_equal(overview_sends_since(f->s, 1000, &s), 0);
    assert_int_equal(s.sent[OVERVIEW_SMS], 1); /* o1 is older */
    assert_int_equal(s.failed[OVERVIEW_SMS], 1);
    assert_int_equal(s.retried[OVERVIEW_SMS], 2);
    assert_int_equal(s.sent[OVERVIEW_EMAIL], 1);
    assert_int_equal(s.pending[OVERVIEW_EMAIL], 1);
    assert_int_equal(overview_sends_since(f->s, 5000, &s), 0);
    assert_int_equal(s.sent[OVERVIEW_SMS] + s.sent[OVERVIEW_EMAIL], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_user_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_factor_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_find_and_factors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliveries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overview, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
