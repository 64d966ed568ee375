/* Unit tests of the second-factor domain (src/core/mfa.h): users, contact and
 * TOTP factors, challenges with their codes, attempts, expiry and resends,
 * the consecutive-failure lockout, recovery codes, send limits and the audit
 * trail. Every operation runs in its own transaction as the gateway runs it,
 * and the clock is ctx.now_ms, so every time below is exact. Each test owns
 * a fresh mkdtemp directory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/apps.h"
#include "core/base32.h"
#include "core/log.h"
#include "core/mfa.h"
#include "core/otp.h"
#include "core/policy.h"
#include "core/recovery.h"
#include "core/secrets.h"
#include "core/store/store.h"

#include "testutil.h"

/* 1700000010 is a multiple of 30: T0 is 15 s into a TOTP step. */
#define T0   1700000025000LL
#define SEC  1000LL
#define HOUR (3600 * SEC)
#define DAY  (24 * HOUR)

struct fixture {
    char dir[64];
    char err[512];
    struct store *s;
    struct keyring k;
    char app[APPS_ID_LEN];
    char app2[APPS_ID_LEN];
    struct policy pol;
    struct mfa_ctx ctx;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "mfa");
    tu_store_keys(f->dir, &f->s, &f->k);
    tu_app_add(f->s, &f->k, "Test", f->app, sizeof(f->app));
    tu_app_add(f->s, &f->k, "Other", f->app2, sizeof(f->app2));
    assert_int_equal(policy_load(f->s, f->app, &f->pol), 0);
    f->ctx.store = f->s;
    f->ctx.keys = &f->k;
    f->ctx.pol = &f->pol;
    f->ctx.app_id = f->app;
    f->ctx.app_name = "Test";
    f->ctx.issuer = "Test";
    f->ctx.now_ms = T0;
    f->ctx.client_ip = "192.0.2.1";
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

/* ---- helpers: one transaction per operation, as the gateway does ---- */

static void begin(struct fixture *f)
{
    assert_int_equal(store_begin(f->s), 0);
}

static void commit(struct fixture *f)
{
    assert_int_equal(store_commit(f->s), 0);
}

static long long query_int(struct store *s, const char *sql, const char *arg)
{
    db_stmt *st = NULL;
    if (!(st = store_stmt(s, sql)))
        fail_msg("prepare failed: %s: %s", sql, store_errmsg(s));
    if (arg)
        db_bind_text_copy(st, 1, arg, -1);
    assert_int_equal(db_step(st), DB_ROW);
    long long n = db_column_int64(st, 0);
    db_reset(st);
    return n;
}

static enum mfa_result get_user(struct fixture *f, const char *sub, struct mfa_user *u)
{
    begin(f);
    enum mfa_result r = users_get_or_create(&f->ctx, sub, u);
    commit(f);
    return r;
}

static enum mfa_result find_user(struct fixture *f, const char *sub, struct mfa_user *u)
{
    begin(f);
    enum mfa_result r = users_find(&f->ctx, sub, u);
    commit(f);
    return r;
}

static enum mfa_result add_contact(struct fixture *f, struct mfa_user *u, enum factor_type t,
                                   const char *dest, struct mfa_factor *fa)
{
    begin(f);
    enum mfa_result r = factors_add_contact(&f->ctx, u, t, dest, fa);
    commit(f);
    return r;
}

static enum mfa_result get_factor(struct fixture *f, struct mfa_user *u, const char *id,
                                  struct mfa_factor *fa)
{
    begin(f);
    enum mfa_result r = factors_get(&f->ctx, u, id, fa);
    commit(f);
    return r;
}

static enum mfa_result create_ch(struct fixture *f, struct mfa_user *u, const struct mfa_factor *fa,
                                 struct mfa_challenge *ch, struct mfa_outcome *o)
{
    memset(o, 0, sizeof(*o));
    begin(f);
    enum mfa_result r = challenges_create(&f->ctx, u, fa, "login", ch, o);
    commit(f);
    return r;
}

static enum mfa_result verify_ch(struct fixture *f, struct mfa_user *u, struct mfa_challenge *ch,
                                 const char *code, struct mfa_outcome *o)
{
    memset(o, 0, sizeof(*o));
    begin(f);
    enum mfa_result r = challenges_verify(&f->ctx, u, ch, code, o);
    commit(f);
    return r;
}

static enum mfa_result resend_ch(struct fixture *f, struct mfa_user *u, struct mfa_challenge *ch,
                                 struct mfa_outcome *o)
{
    memset(o, 0, sizeof(*o));
    begin(f);
    enum mfa_result r = challenges_resend(&f->ctx, u, ch, o);
    commit(f);
    return r;
}

static enum mfa_result get_ch(struct fixture *f, const char *id, struct mfa_user *u,
                              struct mfa_challenge *ch)
{
    begin(f);
    enum mfa_result r = challenges_get(&f->ctx, id, u, ch);
    commit(f);
    return r;
}

static enum mfa_result gate(struct fixture *f, const struct mfa_user *u, struct mfa_outcome *o)
{
    memset(o, 0, sizeof(*o));
    begin(f);
    enum mfa_result r = users_gate(&f->ctx, u, o);
    commit(f);
    return r;
}

static void fail_once(struct fixture *f, struct mfa_user *u, struct mfa_outcome *o)
{
    memset(o, 0, sizeof(*o));
    begin(f);
    users_record_failure(&f->ctx, u, o);
    commit(f);
}

static void succeed(struct fixture *f, struct mfa_user *u, const char *factor_id)
{
    begin(f);
    users_record_success(&f->ctx, u, factor_id);
    commit(f);
}

/* A code of the same length that is certainly not `code`. */
static void wrong_code(const char *code, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", code);
    out[0] = (char)('0' + (out[0] - '0' + 1) % 10);
}

static bool all_digits(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* The TOTP code of the base32 secret at unix ms t. */
static void totp_at(const char *b32, int64_t t_ms, char out[7])
{
    uint8_t key[64];
    size_t n = 0;
    assert_int_equal(base32_decode(b32, strlen(b32), key, sizeof(key), &n), 0);
    assert_int_equal(n, TOTP_SECRET_LEN);
    uint32_t v = 0;
    assert_int_equal(otp_totp(key, n, t_ms / 1000, 30, 6, OTP_SHA1, &v), 0);
    otp_format(v, 6, out);
}

/* ---- users ---- */

static void test_users(void **state)
{
    struct fixture *f = *state;
    struct mfa_user a, b, c;
    assert_int_equal(find_user(f, "alice", &a), MFA_NOT_FOUND);
    assert_int_equal(get_user(f, "alice", &a), MFA_OK);
    assert_true(a.id > 0);
    assert_string_equal(a.sub, "alice");
    assert_int_equal(a.failures, 0);
    assert_false(a.locked);
    assert_string_equal(a.preferred, "");
    assert_string_equal(a.last_used, "");

    /* Idempotent per (app, sub). */
    f->ctx.now_ms += 5 * SEC;
    assert_int_equal(get_user(f, "alice", &b), MFA_OK);
    assert_int_equal(b.id, a.id);
    assert_int_equal(find_user(f, "alice", &b), MFA_OK);
    assert_int_equal(b.id, a.id);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM users WHERE sub = ?", "alice"), 1);

    /* Another sub is another user. */
    assert_int_equal(get_user(f, "bob", &b), MFA_OK);
    assert_true(b.id != a.id);

    /* The same sub in another app is a different user. */
    f->ctx.app_id = f->app2;
    assert_int_equal(get_user(f, "alice", &c), MFA_OK);
    assert_true(c.id != a.id);
    assert_true(c.id != b.id);
    f->ctx.app_id = f->app;
    assert_int_equal(get_user(f, "alice", &b), MFA_OK);
    assert_int_equal(b.id, a.id);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM users WHERE sub = ?", "alice"), 2);

    /* Invalid subs: empty and one over MFA_SUB_MAX; MFA_SUB_MAX itself is fine. */
    char longsub[MFA_SUB_MAX + 2];
    memset(longsub, 'x', sizeof(longsub) - 1);
    longsub[sizeof(longsub) - 1] = '\0';
    assert_int_equal(strlen(longsub), 256);
    assert_int_equal(get_user(f, "", &c), MFA_INVALID);
    assert_int_equal(get_user(f, longsub, &c), MFA_INVALID);
    longsub[MFA_SUB_MAX] = '\0';
    assert_int_equal(get_user(f, longsub, &c), MFA_OK);
    assert_string_equal(c.sub, longsub);
}

/* New users' ids: SQLite's follow one another; PostgreSQL's are random
 * (so concurrent enrolments do not meet on the same index pages), at most
 * 2^53 - 1, and each user keeps its own. */
static void test_users_new_ids(void **state)
{
    struct fixture *f = *state;
    int64_t ids[20], lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 20; i++) {
        char sub[16];
        snprintf(sub, sizeof(sub), "new%02d", i);
        struct mfa_user u;
        assert_int_equal(get_user(f, sub, &u), MFA_OK);
        assert_true(u.id >= 1 && u.id <= (INT64_C(1) << 53) - 1);
        ids[i] = u.id;
        lo = u.id < lo ? u.id : lo;
        hi = u.id > hi ? u.id : hi;
        for (int j = 0; j < i; j++)
            assert_true(ids[j] != u.id);
    }
    if (tu_on_pg())
        assert_true(hi - lo > 1000000); /* twenty random ids in 2^53: never a run */
    else
        assert_int_equal(hi - lo, 19);
    struct mfa_user again;
    assert_int_equal(get_user(f, "new07", &again), MFA_OK);
    assert_int_equal(again.id, ids[7]);
}

/* users_add_or_get (the API's factor and passkey calls): new users whose
 * subs are neighbours, added at once by two SERIALIZABLE transactions on
 * PostgreSQL, both commit. The second transaction first finds a user who
 * is there already, then adds one; the first adds one in between. When a
 * user was looked for before being added (users_get_or_create, the
 * pages'), the first transaction's look (finding nothing) and the
 * second's left read locks on the index page where both new subs went,
 * each wrote where the other had read, and the second was rolled back at
 * its COMMIT. (SQLite has one writer at a time: nothing to meet.) */
static void test_users_new_neighbours_at_once(void **state)
{
    struct fixture *f = *state;
    if (!tu_on_pg())
        skip();
    char path[128], err[512];
    snprintf(path, sizeof(path), "%s/otpgate.db", f->dir);
    struct store *s2 = NULL;
    if (tu_store_open(path, &s2, err, sizeof(err)) != 0)
        fail_msg("second connection: %s", err);
    struct mfa_ctx c2 = f->ctx;
    c2.store = s2;
    struct mfa_user old, seen, a, b;
    assert_int_equal(get_user(f, "user1000", &old), MFA_OK);

    begin(f);
    assert_int_equal(store_begin(s2), 0);
    assert_int_equal(users_add_or_get(&c2, "user1000", &seen), MFA_OK);
    assert_int_equal(seen.id, old.id);
    assert_int_equal(users_add_or_get(&f->ctx, "user1001", &a), MFA_OK);
    assert_int_equal(users_add_or_get(&c2, "user1002", &b), MFA_OK);
    commit(f);
    if (store_commit(s2) != 0)
        fail_msg("the second transaction was rolled back: %s", store_errmsg(s2));
    store_close(s2);

    /* Both are there, as they were answered: fresh, no failure, wait,
     * lock or preference yet. */
    struct mfa_user fa, fb;
    assert_int_equal(find_user(f, "user1001", &fa), MFA_OK);
    assert_int_equal(find_user(f, "user1002", &fb), MFA_OK);
    assert_int_equal(fa.id, a.id);
    assert_int_equal(fb.id, b.id);
    assert_true(fa.id != fb.id && fa.id != old.id);
    assert_string_equal(b.sub, "user1002");
    assert_int_equal(b.failures, fb.failures);
    assert_int_equal(b.retry_at, fb.retry_at);
    assert_int_equal(b.last_wait, fb.last_wait);
    assert_int_equal(b.locked, fb.locked);
    assert_int_equal(b.enrol_offered, fb.enrol_offered);
    assert_string_equal(b.preferred, fb.preferred);
    assert_string_equal(b.last_used, fb.last_used);
    assert_int_equal(fb.failures, 0);
    assert_false(fb.locked);
}

/* A user added by the transaction skips the look-ups that could only find
 * nothing, until the transaction adds a factor or a send of its own: then
 * a second add of the same address reuses the pending factor, and the
 * per-user send limit counts the send. */
static void test_users_added_look_again_once_rows_exist(void **state)
{
    struct fixture *f = *state;
    struct mfa_user u;
    struct mfa_factor a, b;
    struct mfa_outcome o;
    f->pol.sends_per_user_hour = 1;
    begin(f);
    assert_int_equal(users_add_or_get(&f->ctx, "newcomer", &u), MFA_OK);
    assert_true(u.no_factors && u.no_sends);
    assert_int_equal(factors_add_contact(&f->ctx, &u, FACTOR_EMAIL, "n@example.com", &a), MFA_OK);
    assert_false(u.no_factors);
    assert_int_equal(factors_add_contact(&f->ctx, &u, FACTOR_EMAIL, "n@example.com", &b), MFA_OK);
    assert_string_equal(a.id, b.id);
    assert_int_equal(sendlimits_check(&f->ctx, FACTOR_EMAIL, "n@example.com", &u, &o), MFA_OK);
    sendlimits_record(&f->ctx, FACTOR_EMAIL, "n@example.com", &u);
    assert_false(u.no_sends);
    assert_int_equal(sendlimits_check(&f->ctx, FACTOR_EMAIL, "m@example.com", &u, &o), MFA_LIMITED);
    assert_string_equal(o.limit, "user_hour");
    commit(f);
    assert_int_equal(query_int(f->s,
                               "SELECT count(*) FROM factors f JOIN users u ON u.id = "
                               "f.user_id WHERE u.sub = ?",
                               "newcomer"),
                     1);
    /* A user found, not added, looks. */
    struct mfa_user again;
    begin(f);
    assert_int_equal(users_add_or_get(&f->ctx, "newcomer", &again), MFA_OK);
    assert_false(again.no_factors || again.no_sends);
    commit(f);
}

/* ---- contact factors ---- */

static void test_factors_contact(void **state)
{
    struct fixture *f = *state;
    struct mfa_user u;
    struct mfa_factor fa, fb;
    assert_int_equal(get_user(f, "alice", &u), MFA_OK);

    assert_int_equal(add_contact(f, &u, FACTOR_EMAIL, "alice@example.com", &fa), MFA_OK);
    assert_int_equal(strncmp(fa.id, "f_", 2), 0);
    assert_int_equal(fa.type, FACTOR_EMAIL);
    assert_false(fa.active);
    assert_string_equal(fa.destination, "alice@example.com");
    assert_int_equal(get_factor(f, &u, fa.id, &fb), MFA_OK);
    assert_false(fb.active);
    assert_int_equal(fb.type, FACTOR_EMAIL);
    assert_int_equal(fb.created_at, T0);
    assert_int_equal(fb.verified_at, 0);

    /* Same destination while pending: the same factor. */
    f->ctx.now_ms += 10 * SEC;
    assert_int_equal(add_contact(f, &u, FACTOR_EMAIL, "alice@example.com", &fb), MFA_OK);
    assert_string_equal(fb.id, fa.id);
    assert_false(fb.active);
    assert_int_equal(query_int(f->s,
                               "SELECT count(*) FROM factors WHERE user_id = "
                               "(SELECT id FROM users WHERE sub = ?)",
                               "alice"),
                     1);

    /* Same address over sms is a different factor. */
    assert_int_equal(add_contact(f, &u, FACTOR_SMS, "+447700900123", &fb), MFA_OK);
    assert_string_not_equal(fb.id, fa.id);

    /* Once active: conflict. */
    begin(f);
    factors_activate(&f->ctx, &u, &fa);
    users_record_success(&f->ctx, &u, NULL);
    commit(f);
    assert_int_equal(get_factor(f, &u, fa.id, &fb), MFA_OK);
    assert_true(fb.active);
    assert_int_equal(fb.verified_at, f->ctx.now_ms);
    assert_int_equal(add_contact(f, &u, FACTOR_EMAIL, "alice@example.com", &fb), MFA_CONFLICT);
    assert_int_equal(find_user(f, "alice", &u), MFA_OK);
    assert_string_equal(u.preferred, fa.id);
    /* ...and so is the same mailbox spelled otherwise: case, a +tag. */
    assert_int_equal(add_contact(f, &u, FACTOR_EMAIL, "Alice@example.com", &fb), MFA_CONFLICT);
    assert_int_equal(add_contact(f, &u, FACTOR_EMAIL, "aLiCe+2fa@example.com", &fb), MFA_CONFLICT);
    assert_int_equal(query_int(f->s,
                               "SELECT count(*) FROM factors WHERE type = 'email' AND user_id = "
                               "(SELECT id FROM users WHERE sub = ?)",
                               "alice"),
                     1);
    /* Another mailbox is not, nor the same one for another user. */
    assert_int_equal(add_contact(f, &u, FACTOR_EMAIL, "alice2@example.com", &fb), MFA_OK);
    struct mfa_user bob;
    assert_int_equal(get_user(f, "bob", &bob), MFA_OK);
    assert_int_equal(add_contact(f, &bob, FACTOR_EMAIL, "ALICE@example.com", &fb), MFA_OK);

    /* TOTP is not a contact factor. */
    assert_int_equal(add_contact(f, &u, FACTOR_TOTP, "x", &fb), MFA_INVALID);

    /* The policy's factors decide. */
    f->pol.factors = FACTOR_BIT_SMS | FACTOR_BIT_TOTP;
    assert_int_equal(add_contact(f, &u, FACTOR_EMAIL, "other@example.com", &fb), MFA_NOT_ALLOWED);
    assert_int_equal(add_contact(f, &u, FACTOR_SMS, "+447700900999", &fb), MFA_OK);
    f->pol.factors = FACTOR_BIT_EMAIL;
    assert_int_equal(add_contact(f, &u, FACTOR_SMS, "+447700900998", &fb), MFA_NOT_ALLOWED);
}

/* ---- TOTP ---- */

static void test_factors_totp(void **state)
{
    struct fixture *f = *state;
    struct mfa_user u;
    struct mfa_factor fa, fb;
    struct mfa_outcome o = {0};
    char *uri = NULL, *b32 = NULL;
    assert_int_equal(get_user(f, "alice", &u), MFA_OK);

    begin(f);
    assert_int_equal(factors_add_totp(&f->ctx, &u, &fa, &uri, &b32), MFA_OK);
    commit(f);
    assert_non_null(uri);
    assert_non_null(b32);
    assert_int_equal(fa.type, FACTOR_TOTP);
    assert_false(fa.active);
    assert_int_equal(strlen(b32), 32); /* 160 bits */
    assert_int_equal(strncmp(uri, "otpauth://totp/", 15), 0);
    char want[128];
    snprintf(want, sizeof(want), "secret=%s", b32);
    assert_non_null(strstr(uri, want));
    assert_non_null(strstr(uri, "issuer=Test"));
    assert_non_null(strstr(uri, "alice"));

    /* The row holds the secret sealed, never its raw bytes. */
    uint8_t raw[64];
    size_t rawlen = 0;
    assert_int_equal(base32_decode(b32, strlen(b32), raw, sizeof(raw), &rawlen), 0);
    assert_int_equal(rawlen, TOTP_SECRET_LEN);
    db_stmt *st;
    st = store_stmt(f->s, "SELECT secret_sealed FROM factors WHERE id = ?");
    assert_non_null(st);
    db_bind_text_copy(st, 1, fa.id, -1);
    assert_int_equal(db_step(st), DB_ROW);
    const void *sealed = db_column_blob(st, 0);
    size_t sealed_len = (size_t)db_column_bytes(st, 0);
    assert_int_equal(sealed_len, TOTP_SECRET_LEN + SEAL_OVERHEAD);
    assert_null(memmem(sealed, sealed_len, raw, rawlen));
    assert_null(memmem(sealed, sealed_len, b32, strlen(b32)));
    db_reset(st);

    /* Enrolment with a wrong code fails and counts. */
    char code[7], bad[7];
    totp_at(b32, f->ctx.now_ms, code);
    wrong_code(code, bad, sizeof(bad));
    begin(f);
    assert_int_equal(factors_verify_totp_enrolment(&f->ctx, &u, &fa, bad, &o), MFA_WRONG_CODE);
    commit(f);
    assert_int_equal(u.failures, 1);
    assert_int_equal(get_factor(f, &u, fa.id, &fb), MFA_OK);
    assert_false(fb.active);

    /* Enrolment with the code of now: active, preferred, failures reset. */
    memset(&o, 0, sizeof(o));
    begin(f);
    assert_int_equal(factors_verify_totp_enrolment(&f->ctx, &u, &fa, code, &o), MFA_OK);
    commit(f);
    assert_string_equal(o.factor_id, fa.id);
    assert_int_equal(o.type, FACTOR_TOTP);
    assert_true(fa.active);
    assert_int_equal(get_factor(f, &u, fa.id, &fb), MFA_OK);
    assert_true(fb.active);
    assert_int_equal(fb.verified_at, T0);
    assert_int_equal(fb.last_step, T0 / 1000 / 30);
    assert_int_equal(find_user(f, "alice", &u), MFA_OK);
    assert_string_equal(u.preferred, fa.id);
    /* Confirming it is not a use: "last used" means used to sign in. */
    assert_string_equal(u.last_used, "");
    assert_int_equal(fb.last_used_at, 0);
    assert_int_equal(u.failures, 0);

    /* The same code again: a replay. */
    memset(&o, 0, sizeof(o));
    begin(f);
    assert_int_equal(factors_check_totp(&f->ctx, &u, NULL, code, &o), MFA_WRONG_CODE);
    commit(f);

    /* The next step's code works once, 30 s later. */
    f->ctx.now_ms = T0 + 30 * SEC;
    char next[7];
    totp_at(b32, f->ctx.now_ms, next);
    begin(f);
    assert_int_equal(factors_check_totp(&f->ctx, &u, NULL, next, &o), MFA_OK);
    commit(f);
    assert_string_equal(o.factor_id, fa.id);
    assert_int_equal(o.type, FACTOR_TOTP);
    begin(f);
    assert_int_equal(factors_check_totp(&f->ctx, &u, NULL, next, &o), MFA_WRONG_CODE);
    commit(f);
    /* The first code is older than the last accepted step: still refused. */
    begin(f);
    assert_int_equal(factors_check_totp(&f->ctx, &u, NULL, code, &o), MFA_WRONG_CODE);
    commit(f);

    /* Ten minutes on: a code two steps old is outside the ±1 window, one
     * step old is inside it. */
    f->ctx.now_ms = T0 + 600 * SEC;
    char old2[7], old1[7];
    totp_at(b32, f->ctx.now_ms - 60 * SEC, old2);
    totp_at(b32, f->ctx.now_ms - 30 * SEC, old1);
    if (strcmp(old2, old1) != 0) {
        begin(f);
        assert_int_equal(factors_check_totp(&f->ctx, &u, NULL, old2, &o), MFA_WRONG_CODE);
        commit(f);
    }
    begin(f);
    assert_int_equal(factors_check_totp(&f->ctx, &u, NULL, old1, &o), MFA_OK);
    commit(f);
    assert_int_equal(get_factor(f, &u, fa.id, &fb), MFA_OK);
    assert_int_equal(fb.last_step, (T0 + 570 * SEC) / 1000 / 30);

    /* Not a code at all. */
    begin(f);
    assert_int_equal(factors_check_totp(&f->ctx, &u, NULL, "abcdef", &o), MFA_WRONG_CODE);
    commit(f);

    /* A user without TOTP: not found. */
    struct mfa_user v;
    assert_int_equal(get_user(f, "bob", &v), MFA_OK);
    begin(f);
    assert_int_equal(factors_check_totp(&f->ctx, &v, NULL, code, &o), MFA_NOT_FOUND);
    commit(f);

    /* The policy can refuse TOTP. */
    char *uri2 = NULL, *b322 = NULL;
    f->pol.factors = FACTOR_BIT_EMAIL;
    begin(f);
    assert_int_equal(factors_add_totp(&f->ctx, &v, &fb, &uri2, &b322), MFA_NOT_ALLOWED);
    commit(f);
    assert_null(uri2);
    assert_null(b322);
    free(uri);
    free(b32);
}

/* ---- challenges ---- */

struct email_user {
    struct mfa_user u;
    struct mfa_factor fa;
};

static void email_user(struct fixture *f, const char *sub, struct email_user *e)
{
    assert_int_equal(get_user(f, sub, &e->u), MFA_OK);
    char dest[128];
    snprintf(dest, sizeof(dest), "%s@example.com", sub);
    assert_int_equal(add_contact(f, &e->u, FACTOR_EMAIL, dest, &e->fa), MFA_OK);
}

static void test_challenge_code_stored_hashed(void **state)
{
    struct fixture *f = *state;
    struct email_user e;
    struct mfa_challenge ch;
    struct mfa_outcome o;
    email_user(f, "alice", &e);
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_OK);
    assert_true(all_digits(ch.code, 6));
    assert_int_equal(strncmp(ch.id, "ch_", 3), 0);
    assert_string_equal(ch.factor_id, e.fa.id);
    assert_string_equal(ch.destination, "alice@example.com");
    assert_int_equal(ch.type, FACTOR_EMAIL);
    assert_int_equal(ch.expires_at, T0 + 300 * SEC);
    assert_int_equal(ch.resend_at, T0 + 30 * SEC);
    assert_int_equal(ch.attempts_left, 5);

    db_stmt *st;
    st = store_stmt(f->s, "SELECT code_hash, expires_at FROM challenge_codes "
                          "WHERE challenge_id = ?");
    assert_non_null(st);
    db_bind_text_copy(st, 1, ch.id, -1);
    assert_int_equal(db_step(st), DB_ROW);
    const void *h = db_column_blob(st, 0);
    size_t hlen = (size_t)db_column_bytes(st, 0);
    assert_int_equal(hlen, 32);
    assert_null(memmem(h, hlen, ch.code, strlen(ch.code)));
    uint8_t want[32];
    code_hash(f->k.codes, ch.id, ch.code, want);
    assert_memory_equal(h, want, 32);
    assert_int_equal(db_column_int64(st, 1), T0 + 300 * SEC);
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);
    /* Nowhere else in the challenge row either (SQLite's instr is
     * PostgreSQL's strpos). */
    assert_int_equal(query_int(f->s,
                               tu_on_pg() ? "SELECT count(*) FROM challenges WHERE strpos(id || "
                                            "factor_id || purpose || status || "
                                            "coalesce(client_ip, ''), ?) > 0"
                                          : "SELECT count(*) FROM challenges WHERE instr(id || "
                                            "factor_id || purpose || status || "
                                            "coalesce(client_ip, ''), ?) > 0",
                               ch.code),
                     0);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sends", NULL), 1);
}

static void test_challenge_verify(void **state)
{
    struct fixture *f = *state;
    struct email_user e;
    struct mfa_challenge ch, ch2;
    struct mfa_outcome o;
    struct mfa_user u2;
    email_user(f, "alice", &e);
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_OK);
    char bad[16];
    wrong_code(ch.code, bad, sizeof(bad));

    f->ctx.now_ms += 10 * SEC;
    assert_int_equal(verify_ch(f, &e.u, &ch, bad, &o), MFA_WRONG_CODE);
    assert_int_equal(o.attempts_left, 4);
    assert_int_equal(ch.attempts_left, 4);
    assert_int_equal(e.u.failures, 1);
    /* The persisted view agrees. */
    assert_int_equal(get_ch(f, ch.id, &u2, &ch2), MFA_OK);
    assert_int_equal(ch2.attempts_left, 4);
    assert_int_equal(u2.id, e.u.id);
    assert_int_equal(u2.failures, 1);

    /* Malformed codes count as wrong too. */
    assert_int_equal(verify_ch(f, &e.u, &ch, "12345", &o), MFA_WRONG_CODE);
    assert_int_equal(o.attempts_left, 3);

    /* Spaces are allowed. */
    char spaced[16];
    snprintf(spaced, sizeof(spaced), "%.3s %s", ch.code, ch.code + 3);
    assert_int_equal(verify_ch(f, &e.u, &ch, spaced, &o), MFA_OK);
    assert_string_equal(o.factor_id, e.fa.id);
    assert_int_equal(o.type, FACTOR_EMAIL);
    assert_int_equal(ch.attempts_left, -1);

    /* Passing activates the pending factor; confirming it is not a use of
     * it ("last used" means used to sign in). */
    struct mfa_factor fb;
    assert_int_equal(get_factor(f, &e.u, e.fa.id, &fb), MFA_OK);
    assert_true(fb.active);
    assert_int_equal(fb.verified_at, T0 + 10 * SEC);
    assert_int_equal(fb.last_used_at, 0);
    assert_int_equal(find_user(f, "alice", &u2), MFA_OK);
    assert_int_equal(u2.failures, 0);
    assert_string_equal(u2.preferred, e.fa.id);
    assert_string_equal(u2.last_used, "");

    /* Single use: the same challenge again, in memory and reloaded. */
    assert_int_equal(verify_ch(f, &e.u, &ch, ch.code, &o), MFA_DONE);
    assert_int_equal(get_ch(f, ch.id, &u2, &ch2), MFA_OK);
    assert_int_equal(ch2.attempts_left, -1);
    assert_int_equal(verify_ch(f, &u2, &ch2, ch.code, &o), MFA_DONE);
    /* A stale copy that still thinks it is open loses too. */
    ch2.attempts_left = 3;
    assert_int_equal(verify_ch(f, &u2, &ch2, ch.code, &o), MFA_DONE);

    /* Another app cannot see it. */
    f->ctx.app_id = f->app2;
    assert_int_equal(get_ch(f, ch.id, &u2, &ch2), MFA_NOT_FOUND);
    f->ctx.app_id = f->app;
    assert_int_equal(get_ch(f, "ch_nonexistent", &u2, &ch2), MFA_NOT_FOUND);
}

static void test_challenge_expiry(void **state)
{
    struct fixture *f = *state;
    struct email_user e;
    struct mfa_challenge ch, ch2;
    struct mfa_outcome o;
    struct mfa_user u2;
    email_user(f, "alice", &e);
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_OK);

    f->ctx.now_ms = ch.expires_at + 1;
    assert_int_equal(verify_ch(f, &e.u, &ch, ch.code, &o), MFA_EXPIRED);
    assert_int_equal(get_ch(f, ch.id, &u2, &ch2), MFA_OK);
    assert_int_equal(verify_ch(f, &u2, &ch2, ch.code, &o), MFA_EXPIRED);
    /* An expired attempt is not a failure of the user. */
    assert_int_equal(find_user(f, "alice", &u2), MFA_OK);
    assert_int_equal(u2.failures, 0);

    /* Up to and including expires_at the code works. */
    f->ctx.now_ms = T0 + HOUR;
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_OK);
    f->ctx.now_ms = ch.expires_at;
    assert_int_equal(verify_ch(f, &e.u, &ch, ch.code, &o), MFA_OK);

    /* code_ttl comes from the policy. */
    f->pol.code_ttl = 60;
    f->ctx.now_ms = T0 + 2 * HOUR;
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_OK);
    assert_int_equal(ch.expires_at, T0 + 2 * HOUR + 60 * SEC);
    f->ctx.now_ms += 61 * SEC;
    assert_int_equal(verify_ch(f, &e.u, &ch, ch.code, &o), MFA_EXPIRED);
}

static void test_challenge_attempts(void **state)
{
    struct fixture *f = *state;
    struct email_user e;
    struct mfa_challenge ch, ch2;
    struct mfa_outcome o;
    struct mfa_user u2;
    email_user(f, "alice", &e);
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_OK);
    char bad[16];
    wrong_code(ch.code, bad, sizeof(bad));

    for (int i = 1; i <= 5; i++) {
        assert_int_equal(verify_ch(f, &e.u, &ch, bad, &o), MFA_WRONG_CODE);
        assert_int_equal(o.attempts_left, 5 - i);
    }
    assert_int_equal(verify_ch(f, &e.u, &ch, ch.code, &o), MFA_NO_ATTEMPTS);

    /* Reloaded, the challenge is dead and the right code still fails. */
    assert_int_equal(get_ch(f, ch.id, &u2, &ch2), MFA_OK);
    assert_int_equal(ch2.attempts_left, 0);
    assert_int_equal(verify_ch(f, &u2, &ch2, ch.code, &o), MFA_NO_ATTEMPTS);
    f->ctx.now_ms += 20 * 60 * SEC; /* past any lockout wait */
    assert_int_equal(verify_ch(f, &u2, &ch2, ch.code, &o), MFA_NO_ATTEMPTS);
    assert_int_equal(query_int(f->s,
                               "SELECT count(*) FROM challenges WHERE id = ? AND "
                               "status = 'dead' AND attempts = 5",
                               ch.id),
                     1);
    /* No resend for a dead challenge. */
    assert_int_equal(resend_ch(f, &u2, &ch2, &o), MFA_NO_ATTEMPTS);
    /* The factor stays pending. */
    struct mfa_factor fb;
    assert_int_equal(get_factor(f, &u2, e.fa.id, &fb), MFA_OK);
    assert_false(fb.active);
}

static void test_challenge_resend(void **state)
{
    struct fixture *f = *state;
    struct email_user e;
    struct mfa_challenge ch, ch2;
    struct mfa_outcome o;
    struct mfa_user u2;
    email_user(f, "alice", &e);
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_OK);
    char first[16];
    snprintf(first, sizeof(first), "%s", ch.code);

    /* Before the cooldown. */
    assert_int_equal(resend_ch(f, &e.u, &ch, &o), MFA_LIMITED);
    assert_int_equal(o.retry_after, 30);
    f->ctx.now_ms = T0 + 29 * SEC + 500;
    assert_int_equal(resend_ch(f, &e.u, &ch, &o), MFA_LIMITED);
    assert_int_equal(o.retry_after, 1);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sends", NULL), 1);

    /* At 30 s: a new code; the next cooldown is 60 s. */
    f->ctx.now_ms = T0 + 30 * SEC;
    assert_int_equal(resend_ch(f, &e.u, &ch, &o), MFA_OK);
    assert_true(all_digits(ch.code, 6));
    char second[16];
    snprintf(second, sizeof(second), "%s", ch.code);
    assert_int_equal(ch.resend_at, T0 + 30 * SEC + 60 * SEC);
    assert_int_equal(ch.expires_at, T0 + 30 * SEC + 300 * SEC);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sends", NULL), 2);
    assert_int_equal(
        query_int(f->s, "SELECT count(*) FROM challenge_codes WHERE challenge_id = ?", ch.id), 2);
    assert_int_equal(get_ch(f, ch.id, &u2, &ch2), MFA_OK);
    assert_int_equal(ch2.resend_at, T0 + 90 * SEC);
    assert_int_equal(ch2.expires_at, T0 + 330 * SEC);

    assert_int_equal(resend_ch(f, &e.u, &ch, &o), MFA_LIMITED);
    assert_int_equal(o.retry_after, 60);

    /* At 90 s: another; the cooldown doubles again to 120 s. */
    f->ctx.now_ms = T0 + 90 * SEC;
    assert_int_equal(resend_ch(f, &e.u, &ch, &o), MFA_OK);
    assert_int_equal(ch.resend_at, T0 + 90 * SEC + 120 * SEC);
    char third[16];
    snprintf(third, sizeof(third), "%s", ch.code);

    /* The FIRST code still verifies and ends the challenge. */
    f->ctx.now_ms = T0 + 100 * SEC;
    assert_int_equal(get_ch(f, ch.id, &u2, &ch2), MFA_OK);
    assert_int_equal(verify_ch(f, &u2, &ch2, first, &o), MFA_OK);
    assert_int_equal(verify_ch(f, &u2, &ch2, third, &o), MFA_DONE);
    assert_int_equal(resend_ch(f, &u2, &ch2, &o), MFA_DONE);
}

static void test_challenge_resend_old_code_expires(void **state)
{
    struct fixture *f = *state;
    struct email_user e;
    struct mfa_challenge ch;
    struct mfa_outcome o;
    email_user(f, "alice", &e);
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_OK);
    char first[16];
    snprintf(first, sizeof(first), "%s", ch.code);
    f->ctx.now_ms = T0 + 200 * SEC;
    assert_int_equal(resend_ch(f, &e.u, &ch, &o), MFA_OK);
    assert_int_equal(ch.expires_at, T0 + 500 * SEC);
    /* Past the first code's own expiry it no longer works, the newer does. */
    f->ctx.now_ms = T0 + 301 * SEC;
    if (strcmp(first, ch.code) != 0) {
        assert_int_equal(verify_ch(f, &e.u, &ch, first, &o), MFA_WRONG_CODE);
        assert_int_equal(o.attempts_left, 4);
    }
    assert_int_equal(verify_ch(f, &e.u, &ch, ch.code, &o), MFA_OK);
}

static void test_challenge_policy_and_lock(void **state)
{
    struct fixture *f = *state;
    struct email_user e;
    struct mfa_challenge ch;
    struct mfa_outcome o;
    email_user(f, "alice", &e);

    f->pol.code_digits = 8;
    f->pol.max_attempts = 2;
    f->pol.resend_cooldown = 10;
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_OK);
    assert_true(all_digits(ch.code, 8));
    assert_int_equal(ch.attempts_left, 2);
    assert_int_equal(ch.resend_at, T0 + 10 * SEC);

    f->pol.factors = FACTOR_BIT_SMS;
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_NOT_ALLOWED);
    f->pol.factors = FACTOR_BIT_EMAIL;

    e.u.locked = true;
    e.u.locked_at = T0 - SEC;
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_LOCKED);
    assert_int_equal(o.locked_at, T0 - SEC);
}

/* ---- lockout ---- */

static void test_challenge_totp(void **state)
{
    struct fixture *f = *state;
    struct mfa_user u;
    struct mfa_factor ft;
    struct mfa_challenge ch;
    struct mfa_outcome o;
    char *uri = NULL, *b32 = NULL;
    assert_int_equal(get_user(f, "alice", &u), MFA_OK);
    begin(f);
    assert_int_equal(factors_add_totp(&f->ctx, &u, &ft, &uri, &b32), MFA_OK);
    commit(f);
    char code[7], bad[7];
    totp_at(b32, f->ctx.now_ms, code);
    begin(f);
    assert_int_equal(factors_verify_totp_enrolment(&f->ctx, &u, &ft, code, &o), MFA_OK);
    commit(f);

    /* A challenge on a TOTP factor sends nothing and has no code. */
    f->ctx.now_ms = T0 + 60 * SEC;
    assert_int_equal(create_ch(f, &u, &ft, &ch, &o), MFA_OK);
    assert_string_equal(ch.code, "");
    assert_int_equal(ch.type, FACTOR_TOTP);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sends", NULL), 0);
    assert_int_equal(
        query_int(f->s, "SELECT count(*) FROM challenge_codes WHERE challenge_id = ?", ch.id), 0);
    assert_int_equal(resend_ch(f, &u, &ch, &o), MFA_INVALID);

    totp_at(b32, f->ctx.now_ms, code);
    wrong_code(code, bad, sizeof(bad));
    assert_int_equal(verify_ch(f, &u, &ch, bad, &o), MFA_WRONG_CODE);
    assert_int_equal(o.attempts_left, 4);
    assert_int_equal(verify_ch(f, &u, &ch, code, &o), MFA_OK);
    assert_string_equal(o.factor_id, ft.id);
    assert_int_equal(o.type, FACTOR_TOTP);
    assert_int_equal(verify_ch(f, &u, &ch, code, &o), MFA_DONE);

    /* A new challenge cannot reuse the step the last one consumed. */
    assert_int_equal(create_ch(f, &u, &ft, &ch, &o), MFA_OK);
    assert_int_equal(verify_ch(f, &u, &ch, code, &o), MFA_WRONG_CODE);
    free(uri);
    free(b32);
}

static void test_factors_manage(void **state)
{
    struct fixture *f = *state;
    struct mfa_user u, v;
    struct mfa_factor fa, fb;
    struct mfa_challenge ch;
    struct mfa_outcome o;
    assert_int_equal(get_user(f, "alice", &u), MFA_OK);
    assert_int_equal(add_contact(f, &u, FACTOR_EMAIL, "alice@example.com", &fa), MFA_OK);
    f->ctx.now_ms += SEC;
    assert_int_equal(add_contact(f, &u, FACTOR_SMS, "+447700900123", &fb), MFA_OK);

    /* Only an active factor can be preferred. */
    begin(f);
    assert_int_equal(users_set_preferred(&f->ctx, &u, fb.id), MFA_CONFLICT);
    assert_int_equal(users_set_preferred(&f->ctx, &u, "f_nope"), MFA_NOT_FOUND);
    assert_int_equal(factors_count_active(&f->ctx, &u), 0);
    commit(f);

    /* The enrolment challenge is the factor's latest one, passed or not. */
    char open_id[MFA_ID_LEN];
    assert_int_equal(create_ch(f, &u, &fb, &ch, &o), MFA_OK);
    begin(f);
    assert_int_equal(challenges_latest(&f->ctx, fb.id, open_id), MFA_OK);
    assert_string_equal(open_id, ch.id);
    assert_int_equal(challenges_latest(&f->ctx, fa.id, open_id), MFA_NOT_FOUND);
    commit(f);
    assert_int_equal(verify_ch(f, &u, &ch, ch.code, &o), MFA_OK);
    begin(f);
    assert_int_equal(challenges_latest(&f->ctx, fb.id, open_id), MFA_OK);
    assert_string_equal(open_id, ch.id);
    assert_int_equal(factors_count_active(&f->ctx, &u), 1);
    commit(f);
    assert_string_equal(u.preferred, fb.id);

    /* A user's factors are not another user's. */
    assert_int_equal(get_user(f, "bob", &v), MFA_OK);
    assert_int_equal(get_factor(f, &v, fb.id, &fa), MFA_NOT_FOUND);
    begin(f);
    assert_int_equal(factors_remove(&f->ctx, &v, fb.id), MFA_NOT_FOUND);
    commit(f);

    /* Removing the preferred and last used factor clears both. */
    begin(f);
    assert_int_equal(factors_remove(&f->ctx, &u, fb.id), MFA_OK);
    commit(f);
    assert_string_equal(u.preferred, "");
    assert_string_equal(u.last_used, "");
    assert_int_equal(find_user(f, "alice", &v), MFA_OK);
    assert_string_equal(v.preferred, "");
    assert_string_equal(v.last_used, "");
    assert_int_equal(get_factor(f, &u, fb.id, &fa), MFA_NOT_FOUND);
    /* Its challenges went with it. */
    struct mfa_challenge gone;
    assert_int_equal(get_ch(f, ch.id, &v, &gone), MFA_NOT_FOUND);
}

static void test_lockout_waits(void **state)
{
    struct fixture *f = *state;
    struct mfa_user u, v;
    struct mfa_outcome o;
    assert_int_equal(get_user(f, "alice", &u), MFA_OK);

    for (int i = 1; i <= 4; i++) {
        fail_once(f, &u, &o);
        assert_int_equal(u.failures, i);
        assert_int_equal(o.retry_after, 0);
        assert_int_equal(gate(f, &u, &o), MFA_OK);
    }
    fail_once(f, &u, &o);
    assert_int_equal(u.failures, 5);
    assert_int_equal(o.retry_after, 30);
    assert_int_equal(gate(f, &u, &o), MFA_WAIT);
    assert_int_equal(o.retry_after, 30);
    /* Persisted. */
    assert_int_equal(find_user(f, "alice", &v), MFA_OK);
    assert_int_equal(v.failures, 5);
    assert_int_equal(v.retry_at, T0 + 30 * SEC);
    assert_int_equal(v.last_wait, 30);
    assert_false(v.locked);
    f->ctx.now_ms = T0 + 29 * SEC + 1;
    assert_int_equal(gate(f, &v, &o), MFA_WAIT);
    assert_int_equal(o.retry_after, 1);
    f->ctx.now_ms = T0 + 30 * SEC;
    assert_int_equal(gate(f, &v, &o), MFA_OK);

    /* 6th: 60 s, then doubling up to 900. */
    const int64_t waits[] = {60, 120, 240, 480, 900, 900, 900};
    for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
        fail_once(f, &v, &o);
        assert_int_equal(o.retry_after, waits[i]);
        assert_int_equal(gate(f, &v, &o), MFA_WAIT);
        assert_int_equal(o.retry_after, waits[i]);
        f->ctx.now_ms += waits[i] * SEC;
        assert_int_equal(gate(f, &v, &o), MFA_OK);
    }
    assert_int_equal(find_user(f, "alice", &v), MFA_OK);
    assert_int_equal(v.failures, 12);
    assert_int_equal(v.last_wait, 900);
    assert_false(v.locked);

    /* A success resets everything. */
    fail_once(f, &v, &o);
    assert_int_equal(gate(f, &v, &o), MFA_WAIT);
    succeed(f, &v, NULL);
    assert_int_equal(find_user(f, "alice", &v), MFA_OK);
    assert_int_equal(v.failures, 0);
    assert_int_equal(v.retry_at, 0);
    assert_int_equal(v.last_wait, 0);
    assert_int_equal(gate(f, &v, &o), MFA_OK);
    for (int i = 1; i <= 4; i++) {
        fail_once(f, &v, &o);
        assert_int_equal(o.retry_after, 0);
    }
    fail_once(f, &v, &o);
    assert_int_equal(o.retry_after, 30);
}

static void test_lockout_hard(void **state)
{
    struct fixture *f = *state;
    struct mfa_user u, v;
    struct mfa_outcome o;
    f->pol.lockout_hard = 7;
    f->pol.lockout_wait = 0;
    assert_int_equal(get_user(f, "alice", &u), MFA_OK);
    for (int i = 1; i <= 6; i++) {
        fail_once(f, &u, &o);
        assert_int_equal(o.retry_after, 0);
        assert_false(u.locked);
        assert_int_equal(gate(f, &u, &o), MFA_OK);
    }
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM audit WHERE event = 'locked'", NULL), 0);
    f->ctx.now_ms = T0 + 5 * SEC;
    fail_once(f, &u, &o);
    assert_true(u.locked);
    assert_int_equal(o.locked_at, T0 + 5 * SEC);
    assert_int_equal(find_user(f, "alice", &v), MFA_OK);
    assert_true(v.locked);
    assert_int_equal(v.locked_at, T0 + 5 * SEC);
    assert_int_equal(v.failures, 7);
    assert_int_equal(gate(f, &v, &o), MFA_LOCKED);
    assert_int_equal(o.locked_at, T0 + 5 * SEC);
    /* Time does not lift a lock. */
    f->ctx.now_ms = T0 + 30 * DAY;
    assert_int_equal(gate(f, &v, &o), MFA_LOCKED);
    assert_int_equal(query_int(f->s,
                               "SELECT count(*) FROM audit WHERE event = 'locked' AND sub = ? "
                               "AND app_id IS NOT NULL AND client_ip = '192.0.2.1'",
                               "alice"),
                     1);
    /* Further failures keep the first lock time and log no second lock. */
    fail_once(f, &v, &o);
    assert_int_equal(o.locked_at, T0 + 5 * SEC);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM audit WHERE event = 'locked'", NULL), 1);
}

static enum mfa_result gate_recovery(struct fixture *f, const struct mfa_user *u,
                                     struct mfa_outcome *o)
{
    memset(o, 0, sizeof(*o));
    begin(f);
    enum mfa_result r = users_gate_recovery(&f->ctx, u, o);
    commit(f);
    return r;
}

/* A locked user's recovery codes (the way out of the lock) wait like any
 * other code: the doubling wait goes on past the hard lock, and the
 * recovery gate holds while it runs. */
static void test_lockout_waits_go_on_when_locked(void **state)
{
    struct fixture *f = *state;
    struct mfa_user u, v;
    struct mfa_outcome o;
    f->pol.lockout_free = 2;
    f->pol.lockout_wait = 1;
    f->pol.lockout_max_wait = 8;
    f->pol.lockout_hard = 4;
    assert_int_equal(get_user(f, "alice", &u), MFA_OK);
    /* Not locked, no wait: both gates let the check through. */
    assert_int_equal(gate_recovery(f, &u, &o), MFA_OK);
    fail_once(f, &u, &o);
    fail_once(f, &u, &o);
    assert_int_equal(gate_recovery(f, &u, &o), MFA_OK);
    fail_once(f, &u, &o); /* 3rd: 1 s */
    assert_int_equal(o.retry_after, 1);
    assert_int_equal(gate_recovery(f, &u, &o), MFA_WAIT);
    assert_int_equal(o.retry_after, 1);
    f->ctx.now_ms += 1 * SEC;
    assert_int_equal(gate_recovery(f, &u, &o), MFA_OK);

    /* The 4th failure locks and still waits (2 s). */
    fail_once(f, &u, &o);
    assert_true(u.locked);
    assert_int_equal(o.retry_after, 2);
    assert_int_equal(o.locked_at, f->ctx.now_ms);
    assert_int_equal(find_user(f, "alice", &v), MFA_OK);
    assert_true(v.locked);
    assert_int_equal(v.retry_at, f->ctx.now_ms + 2 * SEC);
    /* The lock answers first at the ordinary gate; the recovery gate
     * ignores the lock but not the wait. */
    assert_int_equal(gate(f, &v, &o), MFA_LOCKED);
    assert_int_equal(gate_recovery(f, &v, &o), MFA_WAIT);
    assert_int_equal(o.retry_after, 2);
    f->ctx.now_ms += 2 * SEC - 1;
    assert_int_equal(gate_recovery(f, &v, &o), MFA_WAIT);
    assert_int_equal(o.retry_after, 1);
    f->ctx.now_ms += 1;
    assert_int_equal(gate_recovery(f, &v, &o), MFA_OK);
    assert_int_equal(gate(f, &v, &o), MFA_LOCKED);

    /* Wrong recovery codes while locked: 4 s, then 8 s, capped at 8. */
    const int64_t waits[] = {4, 8, 8};
    for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
        fail_once(f, &v, &o);
        assert_int_equal(o.retry_after, waits[i]);
        assert_true(v.locked);
        assert_int_equal(gate_recovery(f, &v, &o), MFA_WAIT);
        assert_int_equal(o.retry_after, waits[i]);
        f->ctx.now_ms += waits[i] * SEC;
        assert_int_equal(gate_recovery(f, &v, &o), MFA_OK);
    }
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM audit WHERE event = 'locked'", NULL), 1);

    /* With lockout_wait=0 there are no waits, locked or not. */
    f->pol.lockout_wait = 0;
    assert_int_equal(get_user(f, "bob", &u), MFA_OK);
    for (int i = 0; i < 6; i++) {
        fail_once(f, &u, &o);
        assert_int_equal(o.retry_after, 0);
        assert_int_equal(gate_recovery(f, &u, &o), MFA_OK);
    }
    assert_true(u.locked);
}

static void test_lockout_through_challenge(void **state)
{
    struct fixture *f = *state;
    struct email_user e;
    struct mfa_challenge ch;
    struct mfa_outcome o;
    f->pol.lockout_hard = 3;
    email_user(f, "alice", &e);
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_OK);
    char bad[16];
    wrong_code(ch.code, bad, sizeof(bad));
    assert_int_equal(verify_ch(f, &e.u, &ch, bad, &o), MFA_WRONG_CODE);
    assert_int_equal(verify_ch(f, &e.u, &ch, bad, &o), MFA_WRONG_CODE);
    assert_int_equal(verify_ch(f, &e.u, &ch, bad, &o), MFA_LOCKED);
    /* Locked: even the right code is refused. */
    assert_int_equal(verify_ch(f, &e.u, &ch, ch.code, &o), MFA_LOCKED);
    assert_int_equal(o.locked_at, T0);
}

/* ---- recovery codes ---- */

static void strip_upper(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    for (; *in && n + 1 < outlen; in++)
        if (*in != '-')
            out[n++] = (char)toupper((unsigned char)*in);
    out[n] = '\0';
}

static enum mfa_result consume(struct fixture *f, struct mfa_user *u, const char *code,
                               struct mfa_outcome *o)
{
    memset(o, 0, sizeof(*o));
    begin(f);
    enum mfa_result r = recovery_codes_consume(&f->ctx, u, code, o);
    commit(f);
    return r;
}

static int codes_left(struct fixture *f, struct mfa_user *u)
{
    begin(f);
    int n = recovery_codes_left(&f->ctx, u);
    commit(f);
    return n;
}

static void test_recovery_codes(void **state)
{
    struct fixture *f = *state;
    struct mfa_user u;
    struct mfa_outcome o;
    char codes[RECOVERY_COUNT][20];
    assert_int_equal(get_user(f, "alice", &u), MFA_OK);
    assert_int_equal(codes_left(f, &u), 0);
    begin(f);
    assert_int_equal(recovery_codes_new(&f->ctx, &u, codes), MFA_OK);
    commit(f);
    assert_int_equal(RECOVERY_COUNT, 10);
    for (int i = 0; i < RECOVERY_COUNT; i++) {
        assert_int_equal(strlen(codes[i]), 19);
        for (int j = 0; j < 19; j++) {
            char ch = codes[i][j];
            if (j == 4 || j == 9 || j == 14)
                assert_int_equal(ch, '-');
            else
                assert_true((ch >= 'a' && ch <= 'z') || (ch >= '2' && ch <= '7'));
        }
        for (int j = 0; j < i; j++)
            assert_string_not_equal(codes[i], codes[j]);
    }
    assert_int_equal(codes_left(f, &u), 10);
    /* Stored only as salted hashes. */
    assert_int_equal(query_int(f->s,
                               "SELECT count(*) FROM recovery_codes WHERE length(salt) = 16 "
                               "AND length(hash) = 32 AND used_at IS NULL",
                               NULL),
                     10);

    /* Upper case without dashes works once. */
    char typed[32];
    strip_upper(codes[3], typed, sizeof(typed));
    assert_int_equal(strlen(typed), 16);
    f->ctx.now_ms = T0 + 60 * SEC;
    assert_int_equal(consume(f, &u, typed, &o), MFA_OK);
    assert_true(o.recovery);
    assert_int_equal(o.recovery_left, 9);
    assert_int_equal(codes_left(f, &u), 9);
    assert_int_equal(consume(f, &u, typed, &o), MFA_WRONG_CODE);
    assert_int_equal(consume(f, &u, codes[3], &o), MFA_WRONG_CODE);
    assert_int_equal(codes_left(f, &u), 9);
    assert_int_equal(
        query_int(f->s, "SELECT count(*) FROM recovery_codes WHERE used_at = 1700000085000", NULL),
        1);

    /* The display form, and spaces, work as well. */
    assert_int_equal(consume(f, &u, codes[0], &o), MFA_OK);
    assert_int_equal(o.recovery_left, 8);
    char spaced[40];
    snprintf(spaced, sizeof(spaced), "%.4s %.4s %.4s %.4s", codes[1], codes[1] + 5, codes[1] + 10,
             codes[1] + 15);
    assert_int_equal(consume(f, &u, spaced, &o), MFA_OK);
    assert_int_equal(codes_left(f, &u), 7);

    /* Junk. */
    assert_int_equal(consume(f, &u, "", &o), MFA_WRONG_CODE);
    assert_int_equal(consume(f, &u, "not a code", &o), MFA_WRONG_CODE);
    assert_int_equal(consume(f, &u, "aaaa-aaaa-aaaa-aaa1", &o), MFA_WRONG_CODE);

    /* Another user cannot use alice's codes. */
    struct mfa_user v;
    assert_int_equal(get_user(f, "bob", &v), MFA_OK);
    assert_int_equal(consume(f, &v, codes[5], &o), MFA_WRONG_CODE);
    assert_int_equal(codes_left(f, &u), 7);

    /* A new set voids the old one. */
    char fresh[RECOVERY_COUNT][20];
    begin(f);
    assert_int_equal(recovery_codes_new(&f->ctx, &u, fresh), MFA_OK);
    commit(f);
    assert_int_equal(codes_left(f, &u), 10);
    for (int i = 0; i < RECOVERY_COUNT; i++)
        assert_int_equal(consume(f, &u, codes[i], &o), MFA_WRONG_CODE);
    assert_int_equal(codes_left(f, &u), 10);
    assert_int_equal(consume(f, &u, fresh[9], &o), MFA_OK);
    assert_int_equal(o.recovery_left, 9);
}

/* Sets stored before codes of a set shared their salt (one random salt per
 * code) still verify, each code once, and the count left stays right. */
static void test_recovery_codes_salt_per_code(void **state)
{
    struct fixture *f = *state;
    struct mfa_user u;
    struct mfa_outcome o;
    char codes[RECOVERY_COUNT][20];
    assert_int_equal(get_user(f, "carol", &u), MFA_OK);
    begin(f);
    assert_int_equal(recovery_codes_new(&f->ctx, &u, codes), MFA_OK);
    commit(f);
    /* A new set shares one salt. */
    assert_int_equal(query_int(f->s,
                               "SELECT count(DISTINCT salt) FROM recovery_codes WHERE user_id = "
                               "(SELECT id FROM users WHERE sub = ?)",
                               "carol"),
                     1);
    /* Rewrite the set the old way: a salt of its own for every code. */
    db_stmt *sel, *upd;
    sel = store_stmt(f->s, "SELECT id FROM recovery_codes WHERE user_id = ? "
                           "ORDER BY id");
    assert_non_null(sel);
    upd = store_stmt(f->s, "UPDATE recovery_codes SET salt = ?, hash = ? WHERE id = ?");
    assert_non_null(upd);
    db_bind_int64(sel, 1, u.id);
    int i = 0;
    while (db_step(sel) == DB_ROW) {
        uint8_t salt[RECOVERY_SALT_LEN], h[32];
        char norm[RECOVERY_CHARS + 1];
        assert_true(i < RECOVERY_COUNT);
        memset(salt, 0x40 + i, sizeof(salt));
        assert_int_equal(recovery_normalize(codes[i], norm), OG_OK);
        recovery_hash(f->ctx.keys->recovery, salt, norm, h);
        db_bind_blob_copy(upd, 1, salt, sizeof(salt));
        db_bind_blob_copy(upd, 2, h, sizeof(h));
        db_bind_int64(upd, 3, db_column_int64(sel, 0));
        assert_int_equal(db_step(upd), DB_DONE);
        db_reset(upd);
        i++;
    }
    db_reset(sel);
    db_reset(upd);
    assert_int_equal(i, RECOVERY_COUNT);
    assert_int_equal(query_int(f->s,
                               "SELECT count(DISTINCT salt) FROM recovery_codes WHERE user_id = "
                               "(SELECT id FROM users WHERE sub = ?)",
                               "carol"),
                     RECOVERY_COUNT);

    assert_int_equal(consume(f, &u, codes[7], &o), MFA_OK);
    assert_int_equal(o.recovery_left, 9);
    assert_int_equal(consume(f, &u, codes[7], &o), MFA_WRONG_CODE);
    assert_int_equal(consume(f, &u, codes[0], &o), MFA_OK);
    assert_int_equal(o.recovery_left, 8);
    assert_int_equal(consume(f, &u, "aaaa-bbbb-cccc-dddd", &o), MFA_WRONG_CODE);
    assert_int_equal(codes_left(f, &u), 8);
}

static void test_recovery_unlocks(void **state)
{
    struct fixture *f = *state;
    struct mfa_user u, v;
    struct mfa_outcome o;
    char codes[RECOVERY_COUNT][20];
    f->pol.lockout_hard = 3;
    assert_int_equal(get_user(f, "alice", &u), MFA_OK);
    begin(f);
    assert_int_equal(recovery_codes_new(&f->ctx, &u, codes), MFA_OK);
    commit(f);
    for (int i = 0; i < 3; i++)
        fail_once(f, &u, &o);
    assert_int_equal(find_user(f, "alice", &u), MFA_OK);
    assert_true(u.locked);
    assert_int_equal(gate(f, &u, &o), MFA_LOCKED);

    /* A wrong recovery code does not unlock. */
    f->ctx.now_ms = T0 + 10 * SEC;
    assert_int_equal(consume(f, &u, "aaaa-bbbb-cccc-dddd", &o), MFA_WRONG_CODE);
    assert_true(u.locked);

    /* The right one does, as the gateway runs it: consume, then record the
     * success in the same transaction. */
    memset(&o, 0, sizeof(o));
    begin(f);
    assert_int_equal(recovery_codes_consume(&f->ctx, &u, codes[2], &o), MFA_OK);
    assert_false(u.locked);
    assert_int_equal(u.locked_at, 0);
    users_record_success(&f->ctx, &u, NULL);
    commit(f);
    assert_int_equal(find_user(f, "alice", &v), MFA_OK);
    assert_false(v.locked);
    assert_int_equal(v.failures, 0);
    assert_int_equal(v.retry_at, 0);
    assert_int_equal(gate(f, &v, &o), MFA_OK);
    assert_int_equal(
        query_int(f->s, "SELECT count(*) FROM audit WHERE event = 'unlocked' AND sub = ?", "alice"),
        1);
    assert_int_equal(query_int(f->s,
                               "SELECT count(*) FROM audit WHERE event = 'recovery_code_used' "
                               "AND sub = ?",
                               "alice"),
                     1);
}

/* ---- send limits ---- */

static enum mfa_result send_check(struct fixture *f, enum factor_type t, const char *dest,
                                  int64_t user_id, struct mfa_outcome *o)
{
    memset(o, 0, sizeof(*o));
    struct mfa_user u = {.id = user_id};
    begin(f);
    enum mfa_result r = sendlimits_check(&f->ctx, t, dest, &u, o);
    commit(f);
    return r;
}

static void send_rec(struct fixture *f, enum factor_type t, const char *dest, int64_t user_id)
{
    struct mfa_user u = {.id = user_id};
    begin(f);
    sendlimits_record(&f->ctx, t, dest, &u);
    commit(f);
}

/* Checks and, when allowed, records: one message. */
static enum mfa_result send_one(struct fixture *f, enum factor_type t, const char *dest,
                                int64_t user_id, struct mfa_outcome *o)
{
    enum mfa_result r = send_check(f, t, dest, user_id, o);
    if (r == MFA_OK)
        send_rec(f, t, dest, user_id);
    return r;
}

static void test_sendlimits_dest_hour(void **state)
{
    struct fixture *f = *state;
    struct mfa_outcome o;
    f->pol.sends_per_dest_hour = 2;
    assert_int_equal(send_one(f, FACTOR_EMAIL, "a@example.com", 1, &o), MFA_OK);
    f->ctx.now_ms = T0 + 600 * SEC;
    assert_int_equal(send_one(f, FACTOR_EMAIL, "a@example.com", 2, &o), MFA_OK);
    f->ctx.now_ms = T0 + 1200 * SEC;
    assert_int_equal(send_check(f, FACTOR_EMAIL, "a@example.com", 3, &o), MFA_LIMITED);
    assert_int_equal(o.retry_after, 3600 - 1200);
    /* Other spellings of the same mailbox share the count. */
    const char *same[] = {"A@example.com", "a@EXAMPLE.com", "a+tag@example.com",
                          "A+Other@Example.COM"};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        assert_int_equal(send_check(f, FACTOR_EMAIL, same[i], 3, &o), MFA_LIMITED);
        assert_string_equal(o.limit, "dest_hour");
    }
    /* Another destination, or the same address on another channel, is free. */
    assert_int_equal(send_check(f, FACTOR_EMAIL, "b@example.com", 3, &o), MFA_OK);
    assert_int_equal(send_check(f, FACTOR_SMS, "a@example.com", 3, &o), MFA_OK);
    /* Just before the hour: still limited for one second. */
    f->ctx.now_ms = T0 + HOUR - 1;
    assert_int_equal(send_check(f, FACTOR_EMAIL, "a@example.com", 3, &o), MFA_LIMITED);
    assert_int_equal(o.retry_after, 1);
    /* An hour after the first send a slot is free again. */
    f->ctx.now_ms = T0 + HOUR;
    assert_int_equal(send_one(f, FACTOR_EMAIL, "a@example.com", 3, &o), MFA_OK);
    assert_int_equal(send_check(f, FACTOR_EMAIL, "a@example.com", 3, &o), MFA_LIMITED);
    assert_int_equal(o.retry_after, 600);
    /* The destination is stored only hashed (its bytes are in no row). */
    assert_int_equal(query_int(f->s,
                               tu_on_pg() ? "SELECT count(*) FROM sends WHERE "
                                            "position(CAST(? AS BYTEA) IN dest_hash) > 0"
                                          : "SELECT count(*) FROM sends WHERE instr(dest_hash, "
                                            "CAST(? AS BLOB)) > 0",
                               "a@example.com"),
                     0);
    assert_int_equal(
        query_int(f->s, "SELECT count(*) FROM sends WHERE length(dest_hash) = 32", NULL), 3);
}

static void test_sendlimits_dest_day(void **state)
{
    struct fixture *f = *state;
    struct mfa_outcome o;
    f->pol.sends_per_dest_hour = 100;
    f->pol.sends_per_dest_day = 3;
    for (int i = 0; i < 3; i++) {
        f->ctx.now_ms = T0 + i * 2 * HOUR;
        assert_int_equal(send_one(f, FACTOR_SMS, "+447700900123", i + 1, &o), MFA_OK);
    }
    f->ctx.now_ms = T0 + 5 * HOUR;
    assert_int_equal(send_check(f, FACTOR_SMS, "+447700900123", 9, &o), MFA_LIMITED);
    assert_int_equal(o.retry_after, 19 * 3600);
    f->ctx.now_ms = T0 + DAY;
    assert_int_equal(send_check(f, FACTOR_SMS, "+447700900123", 9, &o), MFA_OK);
}

static void test_sendlimits_user(void **state)
{
    struct fixture *f = *state;
    struct mfa_outcome o;
    f->pol.sends_per_user_hour = 3;
    const char *dests[] = {"a@example.com", "b@example.com", "c@example.com"};
    for (int i = 0; i < 3; i++) {
        f->ctx.now_ms = T0 + i * 60 * SEC;
        assert_int_equal(send_one(f, FACTOR_EMAIL, dests[i], 42, &o), MFA_OK);
    }
    f->ctx.now_ms = T0 + 300 * SEC;
    assert_int_equal(send_check(f, FACTOR_EMAIL, "d@example.com", 42, &o), MFA_LIMITED);
    assert_int_equal(o.retry_after, 3600 - 300);
    /* Another user from the same IP is not held back by this limit. */
    assert_int_equal(send_check(f, FACTOR_EMAIL, "d@example.com", 43, &o), MFA_OK);
    f->ctx.now_ms = T0 + HOUR;
    assert_int_equal(send_check(f, FACTOR_EMAIL, "d@example.com", 42, &o), MFA_OK);
}

static void test_sendlimits_ip(void **state)
{
    struct fixture *f = *state;
    struct mfa_outcome o;
    f->pol.sends_per_ip_hour = 3;
    char dest[64];
    for (int i = 0; i < 3; i++) {
        f->ctx.now_ms = T0 + i * 10 * SEC;
        snprintf(dest, sizeof(dest), "u%d@example.com", i);
        assert_int_equal(send_one(f, FACTOR_EMAIL, dest, i + 1, &o), MFA_OK);
    }
    f->ctx.now_ms = T0 + 100 * SEC;
    assert_int_equal(send_check(f, FACTOR_EMAIL, "u9@example.com", 9, &o), MFA_LIMITED);
    assert_int_equal(o.retry_after, 3600 - 100);
    /* Another IP is free. */
    f->ctx.client_ip = "198.51.100.7";
    assert_int_equal(send_check(f, FACTOR_EMAIL, "u9@example.com", 9, &o), MFA_OK);
    f->ctx.client_ip = "192.0.2.1";
    f->ctx.now_ms = T0 + HOUR;
    assert_int_equal(send_check(f, FACTOR_EMAIL, "u9@example.com", 9, &o), MFA_OK);
}

static void test_sendlimits_challenge(void **state)
{
    struct fixture *f = *state;
    struct email_user e;
    struct mfa_challenge ch;
    struct mfa_outcome o;
    f->pol.sends_per_dest_hour = 2;
    email_user(f, "alice", &e);
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_OK);
    f->ctx.now_ms = T0 + 30 * SEC;
    assert_int_equal(resend_ch(f, &e.u, &ch, &o), MFA_OK);
    f->ctx.now_ms = T0 + 120 * SEC;
    assert_int_equal(resend_ch(f, &e.u, &ch, &o), MFA_LIMITED);
    assert_int_equal(o.retry_after, 3600 - 120);
    struct mfa_challenge ch2;
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch2, &o), MFA_LIMITED);
    assert_int_equal(o.retry_after, 3600 - 120);
    assert_int_equal(
        query_int(f->s, "SELECT count(*) FROM audit WHERE event = 'send_limited'", NULL), 2);
}

static void test_sendlimits_sms_caps(void **state)
{
    struct fixture *f = *state;
    struct mfa_outcome o;
    f->pol.sms_prefix_hour = 2;
    f->pol.sms_global_hour = 3;
    assert_int_equal(send_one(f, FACTOR_SMS, "+447700900001", 1, &o), MFA_OK);
    f->ctx.now_ms = T0 + 60 * SEC;
    assert_int_equal(send_one(f, FACTOR_SMS, "+447700900002", 2, &o), MFA_OK);
    f->ctx.now_ms = T0 + 120 * SEC;
    assert_int_equal(send_check(f, FACTOR_SMS, "+447700900003", 3, &o), MFA_LIMITED);
    assert_string_equal(o.limit, "sms_prefix_hour");
    assert_int_equal(o.retry_after, 3600 - 120);
    /* Another calling code goes, until the global cap. */
    assert_int_equal(send_one(f, FACTOR_SMS, "+12025550143", 4, &o), MFA_OK);
    assert_int_equal(send_check(f, FACTOR_SMS, "+33612345678", 5, &o), MFA_LIMITED);
    assert_string_equal(o.limit, "sms_global_hour");
    assert_int_equal(o.retry_after, 3600 - 120);
    /* E-mail is no SMS. */
    assert_int_equal(send_check(f, FACTOR_EMAIL, "a@example.com", 5, &o), MFA_OK);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sms_slots", NULL), 3);
    /* An hour after the first: one slot of each cap is free again. */
    f->ctx.now_ms = T0 + HOUR;
    assert_int_equal(send_one(f, FACTOR_SMS, "+447700900003", 3, &o), MFA_OK);
    assert_int_equal(send_check(f, FACTOR_SMS, "+33612345678", 5, &o), MFA_LIMITED);
    assert_string_equal(o.limit, "sms_global_hour");
    assert_int_equal(o.retry_after, 60);
    /* Slots older than an hour are dropped. */
    begin(f);
    sendlimits_prune(f->s, T0 + HOUR + 61 * SEC);
    commit(f);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sms_slots", NULL), 2);
}

/* On PostgreSQL an SMS slot commits apart from the caller's transaction,
 * and a request run again after a conflict does not take a second one;
 * on SQLite it is part of the caller's transaction. */
static void test_sendlimits_sms_slot_apart(void **state)
{
    struct fixture *f = *state;
    struct mfa_outcome o;
    long long apart = tu_on_pg() ? 1 : 0;
    struct mfa_user u = {.id = 1};
    begin(f);
    assert_int_equal(sendlimits_check(&f->ctx, FACTOR_SMS, "+447700900001", &u, &o), MFA_OK);
    assert_int_equal(store_rollback(f->s), 0);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sms_slots", NULL), apart);
    /* One request, two runs: the first rolled back as after a conflict. */
    store_scope(f->s, true);
    for (int run = 0; run < 2; run++) {
        begin(f);
        assert_int_equal(sendlimits_check(&f->ctx, FACTOR_SMS, "+447700900001", &u, &o), MFA_OK);
        if (run == 0)
            assert_int_equal(store_rollback(f->s), 0);
        else
            commit(f);
    }
    store_scope(f->s, false);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sms_slots", NULL), apart + 1);
    /* Outside a request's scope every check takes a slot of its own. */
    assert_int_equal(send_check(f, FACTOR_SMS, "+447700900001", 1, &o), MFA_OK);
    assert_int_equal(send_check(f, FACTOR_SMS, "+447700900001", 1, &o), MFA_OK);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sms_slots", NULL), apart + 3);
    assert_false(store_txn_conflicted(f->s));
}

static void test_sendlimits_prune(void **state)
{
    struct fixture *f = *state;
    f->ctx.now_ms = T0;
    send_rec(f, FACTOR_EMAIL, "a@example.com", 1);
    f->ctx.now_ms = T0 + HOUR;
    send_rec(f, FACTOR_EMAIL, "a@example.com", 1);
    f->ctx.now_ms = T0 + 20 * HOUR;
    send_rec(f, FACTOR_EMAIL, "a@example.com", 1);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sends", NULL), 3);
    begin(f);
    sendlimits_prune(f->s, T0 + DAY);
    commit(f);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sends", NULL), 3);
    begin(f);
    sendlimits_prune(f->s, T0 + DAY + 1);
    commit(f);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sends", NULL), 2);
    begin(f);
    sendlimits_prune(f->s, T0 + DAY + 2 * HOUR);
    commit(f);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sends", NULL), 1);
    assert_int_equal(query_int(f->s, "SELECT min(at) FROM sends", NULL), T0 + 20 * HOUR);
}

/* ---- audit ---- */

static long long audit_containing(struct fixture *f, const char *needle)
{
    /* SQLite's instr is PostgreSQL's strpos. */
    return query_int(f->s,
                     tu_on_pg()
                         ? "SELECT count(*) FROM audit WHERE strpos(coalesce(app_id, '') || '|' "
                           "|| coalesce(sub, '') || '|' || event || '|' || coalesce(factor_id, "
                           "'') || '|' || coalesce(client_ip, '') || '|' || coalesce(detail, ''), "
                           "?) > 0"
                         : "SELECT count(*) FROM audit WHERE instr(coalesce(app_id, '') || '|' || "
                           "coalesce(sub, '') || '|' || event || '|' || coalesce(factor_id, '') "
                           "|| '|' || coalesce(client_ip, '') || '|' || coalesce(detail, ''), ?) "
                           "> 0",
                     needle);
}

static void test_audit(void **state)
{
    struct fixture *f = *state;
    struct email_user e;
    struct mfa_challenge ch;
    struct mfa_outcome o;
    email_user(f, "alice", &e);

    /* A challenge: sent, failed once, resent, passed. */
    assert_int_equal(create_ch(f, &e.u, &e.fa, &ch, &o), MFA_OK);
    char first[16], bad[16];
    snprintf(first, sizeof(first), "%s", ch.code);
    wrong_code(ch.code, bad, sizeof(bad));
    assert_int_equal(verify_ch(f, &e.u, &ch, bad, &o), MFA_WRONG_CODE);
    f->ctx.now_ms += 30 * SEC;
    assert_int_equal(resend_ch(f, &e.u, &ch, &o), MFA_OK);
    char second[16];
    snprintf(second, sizeof(second), "%s", ch.code);
    assert_int_equal(verify_ch(f, &e.u, &ch, second, &o), MFA_OK);

    /* TOTP enrolment. */
    struct mfa_factor ft;
    char *uri = NULL, *b32 = NULL;
    begin(f);
    assert_int_equal(factors_add_totp(&f->ctx, &e.u, &ft, &uri, &b32), MFA_OK);
    commit(f);
    char totp[7];
    totp_at(b32, f->ctx.now_ms, totp);
    begin(f);
    assert_int_equal(factors_verify_totp_enrolment(&f->ctx, &e.u, &ft, totp, &o), MFA_OK);
    commit(f);

    /* Recovery codes: made and one used. */
    char codes[RECOVERY_COUNT][20];
    begin(f);
    assert_int_equal(recovery_codes_new(&f->ctx, &e.u, codes), MFA_OK);
    commit(f);
    assert_int_equal(consume(f, &e.u, codes[0], &o), MFA_OK);

    /* Preferred changed, a factor removed. */
    begin(f);
    assert_int_equal(users_set_preferred(&f->ctx, &e.u, ft.id), MFA_OK);
    commit(f);
    begin(f);
    assert_int_equal(factors_remove(&f->ctx, &e.u, e.fa.id), MFA_OK);
    commit(f);

    const char *events[] = {"factor_added",
                            "code_sent",
                            "verify_failed",
                            "code_resent",
                            "factor_enrolled",
                            "verify_ok",
                            "recovery_codes_generated",
                            "recovery_code_used",
                            "preferred_set",
                            "factor_removed"};
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        long long n = query_int(f->s, "SELECT count(*) FROM audit WHERE event = ?", events[i]);
        if (n < 1)
            fail_msg("no audit row for %s", events[i]);
    }
    /* factor_added for email and for totp; factor_enrolled for both. */
    assert_int_equal(
        query_int(f->s, "SELECT count(*) FROM audit WHERE event = 'factor_added'", NULL), 2);
    assert_int_equal(
        query_int(f->s, "SELECT count(*) FROM audit WHERE event = 'factor_enrolled'", NULL), 2);

    /* Every row says which app, which user and from where. */
    long long total = query_int(f->s, "SELECT count(*) FROM audit", NULL);
    assert_true(total >= 10);
    assert_int_equal(query_int(f->s,
                               "SELECT count(*) FROM audit WHERE app_id = ? AND sub = 'alice' "
                               "AND client_ip = '192.0.2.1' AND at >= 1700000025000",
                               f->app),
                     total);
    assert_int_equal(query_int(f->s,
                               "SELECT count(*) FROM audit WHERE event = 'verify_ok' AND "
                               "factor_id = ?",
                               e.fa.id),
                     1);

    /* No row holds a code, a recovery code or a secret. */
    assert_int_equal(audit_containing(f, first), 0);
    assert_int_equal(audit_containing(f, second), 0);
    assert_int_equal(audit_containing(f, bad), 0);
    assert_int_equal(audit_containing(f, totp), 0);
    assert_int_equal(audit_containing(f, b32), 0);
    assert_int_equal(audit_containing(f, "alice@example.com"), 0);
    for (int i = 0; i < RECOVERY_COUNT; i++) {
        char norm[32];
        strip_upper(codes[i], norm, sizeof(norm));
        for (char *p = norm; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        assert_int_equal(audit_containing(f, codes[i]), 0);
        assert_int_equal(audit_containing(f, norm), 0);
    }
    free(uri);
    free(b32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_new_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_new_neighbours_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_added_look_again_once_rows_exist, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_factors_contact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_factors_totp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_code_stored_hashed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_resend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_resend_old_code_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_policy_and_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_totp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_factors_manage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockout_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockout_hard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockout_waits_go_on_when_locked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockout_through_challenge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_codes_salt_per_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_unlocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendlimits_dest_hour, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendlimits_dest_day, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendlimits_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendlimits_ip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendlimits_challenge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendlimits_sms_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendlimits_sms_slot_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendlimits_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
