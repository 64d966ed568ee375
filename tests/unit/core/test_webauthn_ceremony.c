/* Unit tests of src/core/webauthn_ceremony.c: passkey registrations and
 * sign-ins begun and finished through the store with a recorded Chromium
 * ceremony (the row's random challenge replaced by the recorded one), the
 * options they hand out, each challenge taken once and only by the
 * session (or API call), user and kind it was made for, before it
 * expires; a replayed assertion, another user's credential, a wrong
 * challenge or origin refused and counted as failures with the waits and
 * lock of every factor; the policy's word; names; pruning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apps.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/policy.h"
#include "core/store/store.h"
#include "core/webauthn_ceremony.h"

#include "testutil.h"

#define T0 1700000000000LL

struct fixture {
    char dir[64];
    char err[512];
    struct store *s;
    struct keyring k;
    char app[APPS_ID_LEN];
    struct policy pol;
    struct mfa_ctx ctx;
    json_t *vectors;
    const json_t *rec; /* chromium-ctap2-es256-none */
    struct webauthn_party rp;
    uint8_t binding[WEBAUTHN_BINDING_LEN];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "ceremony");
    tu_store_keys(f->dir, &f->s, &f->k);
    tu_app_add(f->s, &f->k, "Test", f->app, sizeof(f->app));
    assert_int_equal(policy_set(f->s, "", "factors", "totp,webauthn", f->err, sizeof(f->err)), 0);
    assert_int_equal(policy_load(f->s, f->app, &f->pol), 0);
    f->ctx = (struct mfa_ctx){.store = f->s,
                              .keys = &f->k,
                              .pol = &f->pol,
                              .app_id = f->app,
                              .app_name = "Test",
                              .issuer = "Test",
                              .now_ms = T0,
                              .client_ip = "192.0.2.1"};
    const char *src = getenv("OTPGATE_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/webauthn/vectors/chromium.json", src ? src : ".");
    json_error_t jerr;
    f->vectors = json_load_file(path, 0, &jerr);
    if (!f->vectors)
        fail_msg("cannot read %s: %s", path, jerr.text);
    f->rec = json_array_get(json_object_get(f->vectors, "cases"), 0);
    assert_string_equal(json_string_value(json_object_get(f->rec, "name")),
                        "chromium-ctap2-es256-none");
    f->rp = (struct webauthn_party){
        .rp_id = json_string_value(json_object_get(f->rec, "rp_id")),
        .rp_name = "Test",
        .origins = {json_string_value(json_object_get(f->rec, "origin"))},
        .origin_count = 1,
    };
    memset(f->binding, 0x5a, sizeof(f->binding));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    json_decref(f->vectors);
    store_close(f->s);
    keyring_wipe(&f->k);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static void begin(struct fixture *f)
{
    assert_int_equal(store_begin(f->s), 0);
}

static void commit(struct fixture *f)
{
    assert_int_equal(store_commit(f->s), 0);
}

static void user(struct fixture *f, const char *sub, struct mfa_user *u)
{
    begin(f);
    assert_int_equal(users_get_or_create(&f->ctx, sub, u), MFA_OK);
    commit(f);
}

static void reload(struct fixture *f, struct mfa_user *u)
{
    char sub[MFA_SUB_MAX + 1];
    snprintf(sub, sizeof(sub), "%s", u->sub);
    assert_int_equal(users_find(&f->ctx, sub, u), MFA_OK);
}

static void bind_blob(db_stmt *st, int col, const char *b64)
{
    uint8_t *raw = NULL;
    size_t n = 0;
    assert_int_equal(b64url_decode(b64, strlen(b64), &raw, &n), 0);
    db_bind_blob_copy(st, col, raw, (int)n);
    free(raw);
}

/* Gives u the recorded user handle (the recorded sign-ins carry it). */
static void recorded_handle(struct fixture *f, const struct mfa_user *u)
{
    db_stmt *st;
    st = store_stmt(f->s, "UPDATE users SET webauthn_handle = ? WHERE id = ?");
    assert_non_null(st);
    bind_blob(st, 1, json_string_value(json_object_get(f->rec, "user_handle")));
    db_bind_int64(st, 2, u->id);
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);
}

/* Puts the recorded challenge (base64url) in place of ceremony id's. */
static void recorded_challenge(struct fixture *f, const char *id, const char *b64)
{
    db_stmt *st;
    st = store_stmt(f->s, "UPDATE webauthn_challenges SET challenge = ? WHERE id = ?");
    assert_non_null(st);
    bind_blob(st, 1, b64);
    db_bind_text_copy(st, 2, id, -1);
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);
}

static const json_t *reg_json(struct fixture *f)
{
    return json_object_get(f->rec, "registration");
}

static const json_t *get_json(struct fixture *f, size_t i)
{
    return json_array_get(json_object_get(f->rec, "assertions"), i);
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static enum mfa_result do_register(struct fixture *f, struct mfa_user *u, const uint8_t *binding,
                                   const char *name, struct mfa_factor *fac,
                                   struct webauthn_done *done)
{
    struct webauthn_begun b;
    begin(f);
    assert_int_equal(webauthn_register_begin(&f->ctx, u, &f->rp, binding, NULL, NULL, &b), MFA_OK);
    json_decref(b.options);
    recorded_challenge(f, b.id, jstr(reg_json(f), "challenge"));
    enum mfa_result r = webauthn_register_finish(&f->ctx, u, &f->rp, b.id, binding,
                                                 json_object_get(reg_json(f), "credential"), name,
                                                 "Chromium on Linux", fac, done);
    commit(f);
    return r;
}

/* alice with the recorded passkey. */
static void alice_with_passkey(struct fixture *f, struct mfa_user *alice, struct mfa_factor *fac)
{
    user(f, "alice", alice);
    recorded_handle(f, alice);
    struct webauthn_done done;
    assert_int_equal(do_register(f, alice, NULL, "", fac, &done), MFA_OK);
    reload(f, alice);
}

/* Begins a sign-in for u (binding), gives it the recorded challenge of
 * assertion i and finishes it with assertion j's answer. */
static enum mfa_result do_signin(struct fixture *f, struct mfa_user *u, const uint8_t *binding,
                                 size_t i, size_t j, struct webauthn_done *done,
                                 struct mfa_outcome *o)
{
    struct webauthn_begun b;
    begin(f);
    assert_int_equal(webauthn_signin_begin(&f->ctx, u, &f->rp, binding, &b), MFA_OK);
    json_decref(b.options);
    recorded_challenge(f, b.id, jstr(get_json(f, i), "challenge"));
    memset(o, 0, sizeof(*o));
    enum mfa_result r = webauthn_signin_finish(
        &f->ctx, u, &f->rp, b.id, binding, json_object_get(get_json(f, j), "credential"), done, o);
    commit(f);
    reload(f, u);
    return r;
}

static long long count_audit(struct fixture *f, const char *event, const char *detail)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit WHERE event = '%s'%s%s%s", event,
             detail ? " AND detail = '" : "", detail ? detail : "", detail ? "'" : "");
    return tu_query_int(f->s, sql);
}

/* ---- tests ---- */

static void test_register_recorded(void **state)
{
    struct fixture *f = *state;
    struct mfa_user alice;
    user(f, "alice", &alice);
    recorded_handle(f, &alice);

    /* The options: residentKey preferred, the policy's userVerification,
     * the user's handle, nothing excluded yet, and a fresh challenge. */
    struct webauthn_begun b;
    begin(f);
    assert_int_equal(
        webauthn_register_begin(&f->ctx, &alice, &f->rp, NULL, "alice@example.com", "Alice", &b),
        MFA_OK);
    commit(f);
    assert_true(webauthn_challenge_id_is(b.id));
    assert_int_equal(b.expires_at, T0 + 300 * 1000);
    const json_t *o = b.options;
    assert_string_equal(jstr(json_object_get(o, "rp"), "id"), f->rp.rp_id);
    assert_string_equal(jstr(json_object_get(o, "rp"), "name"), "Test");
    assert_string_equal(jstr(json_object_get(o, "user"), "id"), jstr(f->rec, "user_handle"));
    assert_string_equal(jstr(json_object_get(o, "user"), "name"), "alice@example.com");
    assert_string_equal(jstr(json_object_get(o, "user"), "displayName"), "Alice");
    assert_string_equal(jstr(json_object_get(o, "authenticatorSelection"), "residentKey"),
                        "preferred");
    assert_string_equal(jstr(json_object_get(o, "authenticatorSelection"), "userVerification"),
                        "preferred");
    assert_int_equal(json_array_size(json_object_get(o, "excludeCredentials")), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "timeout")), 300000);
    assert_int_equal(strlen(jstr(o, "challenge")), 43); /* 32 bytes */
    json_decref(b.options);

    /* Finished with the recorded answer: a factor named after the browser
     * (a platform passkey of an unknown AAGUID), active and preferred. */
    struct mfa_factor fac;
    struct webauthn_done done;
    assert_int_equal(do_register(f, &alice, NULL, "  ", &fac, &done), MFA_OK);
    assert_true(fac.active);
    assert_string_equal(done.name, "Chromium on Linux");
    assert_string_equal(done.amr, "[\"hwk\",\"user\",\"mfa\"]");
    reload(f, &alice);
    assert_string_equal(alice.preferred, fac.id);
    assert_int_equal(factors_count_active(&f->ctx, &alice), 1);
    assert_int_equal(count_audit(f, "factor_added", "webauthn"), 1);

    /* The next registration excludes it; the same authenticator again is
     * a conflict, audited. */
    begin(f);
    assert_int_equal(webauthn_register_begin(&f->ctx, &alice, &f->rp, NULL, NULL, NULL, &b),
                     MFA_OK);
    commit(f);
    const json_t *ex = json_object_get(b.options, "excludeCredentials");
    assert_int_equal(json_array_size(ex), 1);
    assert_string_equal(jstr(json_array_get(ex, 0), "id"),
                        jstr(json_object_get(reg_json(f), "expect"), "credential_id"));
    assert_string_equal(jstr(json_object_get(b.options, "user"), "name"), "alice");
    json_decref(b.options);
    assert_int_equal(do_register(f, &alice, NULL, "Again", &fac, &done), MFA_CONFLICT);
    assert_int_equal(count_audit(f, "factor_add_failed", "webauthn registered already"), 1);

    /* A name given is kept (made fit to show). */
    char name[WEBAUTHN_NAME_MAX + 1];
    begin(f);
    assert_int_equal(webauthn_credential_rename(&f->ctx, &alice, alice.preferred, "Work\tlaptop"),
                     MFA_OK);
    commit(f);
    assert_int_equal(webauthn_credential_name(&f->ctx, alice.preferred, name), MFA_OK);
    assert_string_equal(name, "Work laptop");
    assert_int_equal(count_audit(f, "factor_renamed", NULL), 1);
}

/* A registration's challenge is taken once: a second finish, whatever it
 * carries, is refused; so is a refused answer's. */
static void test_register_once(void **state)
{
    struct fixture *f = *state;
    struct mfa_user bob;
    user(f, "bob", &bob);
    recorded_handle(f, &bob);
    struct webauthn_begun b;
    begin(f);
    assert_int_equal(webauthn_register_begin(&f->ctx, &bob, &f->rp, f->binding, NULL, NULL, &b),
                     MFA_OK);
    json_decref(b.options);
    commit(f);
    /* Its random challenge is not the recorded one: refused, and used up. */
    struct mfa_factor fac;
    struct webauthn_done done;
    begin(f);
    assert_int_equal(webauthn_register_finish(&f->ctx, &bob, &f->rp, b.id, f->binding,
                                              json_object_get(reg_json(f), "credential"), NULL,
                                              NULL, &fac, &done),
                     MFA_INVALID);
    assert_int_equal(done.why, WEBAUTHN_ERR_CHALLENGE);
    recorded_challenge(f, b.id, jstr(reg_json(f), "challenge"));
    assert_int_equal(webauthn_register_finish(&f->ctx, &bob, &f->rp, b.id, f->binding,
                                              json_object_get(reg_json(f), "credential"), NULL,
                                              NULL, &fac, &done),
                     MFA_DONE);
    commit(f);
    assert_int_equal(count_audit(f, "factor_add_failed", "webauthn wrong_challenge"), 1);
    assert_int_equal(factors_count_active(&f->ctx, &bob), 0);
    /* Malformed answers are refused the same way. */
    begin(f);
    assert_int_equal(webauthn_register_begin(&f->ctx, &bob, &f->rp, NULL, NULL, NULL, &b), MFA_OK);
    json_decref(b.options);
    json_t *junk = json_pack("{s:s}", "id", "x");
    assert_int_equal(
        webauthn_register_finish(&f->ctx, &bob, &f->rp, b.id, NULL, junk, NULL, NULL, &fac, &done),
        MFA_INVALID);
    assert_int_equal(done.why, WEBAUTHN_ERR_MALFORMED);
    json_decref(junk);
    assert_int_equal(
        webauthn_register_finish(&f->ctx, &bob, &f->rp, b.id, NULL, NULL, NULL, NULL, &fac, &done),
        MFA_DONE);
    commit(f);
}

static void test_signin_recorded(void **state)
{
    struct fixture *f = *state;
    struct mfa_user alice;
    struct mfa_factor fac;
    alice_with_passkey(f, &alice, &fac);

    /* The options allow her passkey (a discoverable one or not). */
    struct webauthn_begun b;
    begin(f);
    assert_int_equal(webauthn_signin_begin(&f->ctx, &alice, &f->rp, f->binding, &b), MFA_OK);
    commit(f);
    assert_string_equal(jstr(b.options, "rpId"), f->rp.rp_id);
    assert_string_equal(jstr(b.options, "userVerification"), "preferred");
    const json_t *allow = json_object_get(b.options, "allowCredentials");
    assert_int_equal(json_array_size(allow), 1);
    assert_string_equal(jstr(json_array_get(allow, 0), "id"),
                        jstr(json_object_get(reg_json(f), "expect"), "credential_id"));
    json_decref(b.options);

    struct webauthn_done done;
    struct mfa_outcome o;
    assert_int_equal(do_signin(f, &alice, f->binding, 0, 0, &done, &o), MFA_OK);
    assert_string_equal(done.factor_id, fac.id);
    assert_string_equal(done.amr, "[\"hwk\",\"user\",\"mfa\"]");
    assert_true(done.uv);
    assert_false(done.be);
    assert_string_equal(alice.last_used, fac.id);
    assert_int_equal(count_audit(f, "verify_ok", "webauthn"), 1);
    assert_int_equal(tu_query_int(f->s, "SELECT sign_count FROM webauthn_credentials"), 2);
    assert_int_equal(tu_query_int(f->s, "SELECT last_used_at FROM factors WHERE type = 'webauthn'"),
                     T0);

    /* The same assertion on a fresh ceremony with the same bytes: the
     * counter did not move, refused and counted. */
    assert_int_equal(do_signin(f, &alice, f->binding, 0, 0, &done, &o), MFA_WRONG_CODE);
    assert_int_equal(done.why, WEBAUTHN_ERR_SIGN_COUNT);
    assert_int_equal(alice.failures, 1);
    assert_int_equal(count_audit(f, "verify_failed", "webauthn sign_count"), 1);
    /* The next real one passes and clears the count. */
    assert_int_equal(do_signin(f, &alice, NULL, 1, 1, &done, &o), MFA_OK);
    assert_int_equal(alice.failures, 0);
}

/* A challenge is taken once, by its own user, kind and binding, before it
 * expires; nothing else reaches the signature. */
static void test_challenge_bound(void **state)
{
    struct fixture *f = *state;
    struct mfa_user alice, bob;
    struct mfa_factor fac;
    alice_with_passkey(f, &alice, &fac);
    user(f, "bob", &bob);
    const json_t *answer = json_object_get(get_json(f, 0), "credential");
    struct webauthn_begun b;
    struct webauthn_done done;
    struct mfa_outcome o = {0};
    uint8_t other[WEBAUTHN_BINDING_LEN];
    memset(other, 0x33, sizeof(other));

    begin(f);
    assert_int_equal(webauthn_signin_begin(&f->ctx, &alice, &f->rp, f->binding, &b), MFA_OK);
    json_decref(b.options);
    recorded_challenge(f, b.id, jstr(get_json(f, 0), "challenge"));
    /* Not from another session, not without one (the API), not for bob,
     * not as a registration, not an id of another shape. */
    assert_int_equal(
        webauthn_signin_finish(&f->ctx, &alice, &f->rp, b.id, other, answer, &done, &o),
        MFA_NOT_FOUND);
    assert_int_equal(webauthn_signin_finish(&f->ctx, &alice, &f->rp, b.id, NULL, answer, &done, &o),
                     MFA_NOT_FOUND);
    assert_int_equal(
        webauthn_signin_finish(&f->ctx, &bob, &f->rp, b.id, f->binding, answer, &done, &o),
        MFA_NOT_FOUND);
    struct mfa_factor nf;
    assert_int_equal(webauthn_register_finish(&f->ctx, &alice, &f->rp, b.id, f->binding,
                                              json_object_get(reg_json(f), "credential"), NULL,
                                              NULL, &nf, &done),
                     MFA_NOT_FOUND);
    assert_int_equal(
        webauthn_signin_finish(&f->ctx, &alice, &f->rp, "ch_123", f->binding, answer, &done, &o),
        MFA_NOT_FOUND);
    assert_int_equal(
        webauthn_signin_finish(&f->ctx, &alice, &f->rp, NULL, f->binding, answer, &done, &o),
        MFA_NOT_FOUND);
    /* None of those counted as a failure or took it. */
    reload(f, &alice);
    assert_int_equal(alice.failures, 0);
    struct mfa_user who;
    assert_int_equal(webauthn_challenge_user(&f->ctx, b.id, &who), MFA_OK);
    assert_string_equal(who.sub, "alice");
    assert_int_equal(
        webauthn_signin_finish(&f->ctx, &alice, &f->rp, b.id, f->binding, answer, &done, &o),
        MFA_OK);
    assert_int_equal(
        webauthn_signin_finish(&f->ctx, &alice, &f->rp, b.id, f->binding, answer, &done, &o),
        MFA_DONE);
    commit(f);

    /* Expired: after the policy's code lifetime. */
    begin(f);
    assert_int_equal(webauthn_signin_begin(&f->ctx, &alice, &f->rp, NULL, &b), MFA_OK);
    json_decref(b.options);
    commit(f);
    f->ctx.now_ms = T0 + 300 * 1000;
    begin(f);
    assert_int_equal(webauthn_signin_finish(&f->ctx, &alice, &f->rp, b.id, NULL,
                                            json_object_get(get_json(f, 1), "credential"), &done,
                                            &o),
                     MFA_EXPIRED);
    commit(f);
    reload(f, &alice);
    assert_int_equal(alice.failures, 0);
    /* And pruned. */
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM webauthn_challenges"), 3);
    assert_int_equal(webauthn_challenges_prune(f->s, f->ctx.now_ms), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM webauthn_challenges"), 0);
}

/* Another user's passkey, a wrong challenge, a foreign origin: refused,
 * counted against the user signing in, with the waits of every factor. */
static void test_refusals_count(void **state)
{
    struct fixture *f = *state;
    struct mfa_user alice, bob;
    struct mfa_factor fac;
    alice_with_passkey(f, &alice, &fac);
    user(f, "bob", &bob);
    /* bob has a passkey of his own, so a sign-in can begin for him. */
    struct webauthn_credential cred;
    memset(&cred, 0, sizeof(cred));
    cred.id_len = 16;
    memset(cred.id, 9, cred.id_len);
    cred.public_key_len = 10;
    memset(cred.public_key, 0x30, cred.public_key_len);
    snprintf(cred.fmt, sizeof(cred.fmt), "none");
    struct mfa_factor bf;
    begin(f);
    assert_int_equal(webauthn_credential_add(&f->ctx, &bob, f->rp.rp_id, &cred, "Bob's", &bf),
                     MFA_OK);
    commit(f);

    struct webauthn_done done;
    struct mfa_outcome o;
    /* bob answering with alice's passkey. */
    assert_int_equal(do_signin(f, &bob, NULL, 0, 0, &done, &o), MFA_WRONG_CODE);
    assert_int_equal(done.why, WEBAUTHN_ERR_CREDENTIAL);
    assert_int_equal(bob.failures, 1);
    assert_int_equal(count_audit(f, "verify_failed", "webauthn wrong_credential"), 1);
    /* alice answering another ceremony's challenge. */
    assert_int_equal(do_signin(f, &alice, NULL, 1, 0, &done, &o), MFA_WRONG_CODE);
    assert_int_equal(done.why, WEBAUTHN_ERR_CHALLENGE);
    assert_int_equal(alice.failures, 1);
    /* An origin the party does not list. */
    const char *right = f->rp.origins[0];
    f->rp.origins[0] = "https://evil.example";
    assert_int_equal(do_signin(f, &alice, NULL, 0, 0, &done, &o), MFA_WRONG_CODE);
    assert_int_equal(done.why, WEBAUTHN_ERR_ORIGIN);
    /* ... and one it lists among others (an app's own origin). */
    f->rp.origins[1] = right;
    f->rp.origin_count = 2;
    assert_int_equal(do_signin(f, &alice, NULL, 0, 0, &done, &o), MFA_OK);
    f->rp.origins[0] = right;
    f->rp.origin_count = 1;

    /* Waits: from the (lockout_free + 1)th failure in a row each further
     * try waits, before anything is taken. */
    f->pol.lockout_free = 1;
    f->pol.lockout_wait = 30;
    assert_int_equal(do_signin(f, &alice, NULL, 1, 0, &done, &o), MFA_WRONG_CODE);
    assert_int_equal(do_signin(f, &alice, NULL, 1, 0, &done, &o), MFA_WRONG_CODE);
    assert_int_equal(o.retry_after, 30);
    struct webauthn_begun b;
    begin(f);
    assert_int_equal(webauthn_signin_begin(&f->ctx, &alice, &f->rp, NULL, &b), MFA_OK);
    json_decref(b.options);
    recorded_challenge(f, b.id, jstr(get_json(f, 1), "challenge"));
    assert_int_equal(webauthn_signin_finish(&f->ctx, &alice, &f->rp, b.id, NULL,
                                            json_object_get(get_json(f, 1), "credential"), &done,
                                            &o),
                     MFA_WAIT);
    commit(f);
    /* ... the ceremony is still open once the wait is over. */
    f->ctx.now_ms += 30 * 1000;
    begin(f);
    assert_int_equal(webauthn_signin_finish(&f->ctx, &alice, &f->rp, b.id, NULL,
                                            json_object_get(get_json(f, 1), "credential"), &done,
                                            &o),
                     MFA_OK);
    commit(f);

    /* The lock: at lockout_hard failures in a row. */
    f->pol.lockout_wait = 0;
    f->pol.lockout_hard = 2;
    assert_int_equal(do_signin(f, &alice, NULL, 0, 0, &done, &o), MFA_WRONG_CODE);
    assert_int_equal(do_signin(f, &alice, NULL, 0, 0, &done, &o), MFA_LOCKED);
    assert_true(alice.locked);
    begin(f);
    assert_int_equal(webauthn_signin_begin(&f->ctx, &alice, &f->rp, NULL, &b), MFA_LOCKED);
    assert_int_equal(webauthn_register_begin(&f->ctx, &alice, &f->rp, NULL, NULL, NULL, &b),
                     MFA_LOCKED);
    commit(f);
}

static void test_policy_and_names(void **state)
{
    struct fixture *f = *state;
    struct mfa_user carol;
    user(f, "carol", &carol);
    struct webauthn_begun b;
    /* No passkey yet: nothing to sign in with. */
    begin(f);
    assert_int_equal(webauthn_signin_begin(&f->ctx, &carol, &f->rp, NULL, &b), MFA_NOT_FOUND);
    commit(f);
    /* The policy's factors decide. */
    f->pol.factors = FACTOR_BIT_TOTP;
    begin(f);
    assert_int_equal(webauthn_register_begin(&f->ctx, &carol, &f->rp, NULL, NULL, NULL, &b),
                     MFA_NOT_ALLOWED);
    assert_int_equal(webauthn_signin_begin(&f->ctx, &carol, &f->rp, NULL, &b), MFA_NOT_ALLOWED);
    commit(f);
    /* userVerification follows webauthn_user_verification. */
    f->pol.factors = FACTOR_BIT_WEBAUTHN;
    f->pol.webauthn_uv = WEBAUTHN_UV_REQUIRED;
    begin(f);
    assert_int_equal(webauthn_register_begin(&f->ctx, &carol, &f->rp, NULL, NULL, NULL, &b),
                     MFA_OK);
    commit(f);
    assert_string_equal(
        jstr(json_object_get(b.options, "authenticatorSelection"), "userVerification"), "required");
    json_decref(b.options);

    static const uint8_t gpm[16] = {0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21,
                                    0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4};
    uint8_t zero[16] = {0};
    assert_string_equal(webauthn_aaguid_name(gpm), "Google Password Manager");
    assert_null(webauthn_aaguid_name(zero));
    assert_false(webauthn_challenge_id_is("ch_abc"));
    assert_false(webauthn_challenge_id_is(NULL));
    assert_true(webauthn_challenge_id_is("wch_abc"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signin_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_and_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
