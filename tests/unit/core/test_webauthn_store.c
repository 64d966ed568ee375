/* Unit tests of src/core/webauthn_store.c and migration 13: passkeys as
 * factors of type webauthn (counted as active factors, preferred, removed
 * with their credential row), found by credential id only within their
 * app and RP ID, counters written only over the value a check saw, the
 * users' random handles, names made fit to show, a recorded registration
 * and sign-in through the store, and a version-9 database whose open
 * challenges survive the factors table's rebuild. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apps.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/store/migrations.h"
#include "core/policy.h"
#include "core/store/store.h"
#include "core/webauthn_store.h"

#include "testutil.h"

#define T0 1700000000000LL

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
    tu_tmpdir(f->dir, sizeof(f->dir), "webauthn");
    tu_store_keys(f->dir, &f->s, &f->k);
    tu_app_add(f->s, &f->k, "Test", f->app, sizeof(f->app));
    tu_app_add(f->s, &f->k, "Other", f->app2, sizeof(f->app2));
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

static void user(struct fixture *f, const char *sub, struct mfa_user *u)
{
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(users_get_or_create(&f->ctx, sub, u), MFA_OK);
    assert_int_equal(store_commit(f->s), 0);
}

/* A credential as webauthn_registration_verify would give it. */
static void fake_credential(struct webauthn_credential *c, uint8_t seed)
{
    memset(c, 0, sizeof(*c));
    c->id_len = 24;
    memset(c->id, seed, c->id_len);
    c->alg = WEBAUTHN_ALG_ES256;
    c->public_key_len = 91;
    memset(c->public_key, 0x30, c->public_key_len);
    c->sign_count = 5;
    memset(c->aaguid, 0xaa, sizeof(c->aaguid));
    c->uv = true;
    c->be = true;
    c->transports = WEBAUTHN_TRANSPORT_INTERNAL | WEBAUTHN_TRANSPORT_HYBRID;
    snprintf(c->fmt, sizeof(c->fmt), "none");
}

static enum mfa_result add(struct fixture *f, struct mfa_user *u, const char *rp_id,
                           const struct webauthn_credential *c, const char *name,
                           struct mfa_factor *fac)
{
    assert_int_equal(store_begin(f->s), 0);
    enum mfa_result r = webauthn_credential_add(&f->ctx, u, rp_id, c, name, fac);
    if (r == MFA_OK)
        users_record_success(&f->ctx, u, fac->id); /* writes the preferred factor */
    assert_int_equal(store_commit(f->s), 0);
    return r;
}

static void collect(const struct webauthn_stored *s, void *arg)
{
    struct webauthn_stored *out = arg;
    size_t i = 0;
    while (out[i].factor_id[0])
        i++;
    out[i] = *s;
}

static void test_add_list_find(void **state)
{
    struct fixture *f = *state;
    struct mfa_user alice, bob;
    user(f, "alice", &alice);
    user(f, "bob", &bob);
    struct webauthn_credential c;
    fake_credential(&c, 1);
    struct mfa_factor fac;

    /* Not in the policy's factors: refused. */
    struct policy no = f->pol;
    no.factors = FACTOR_BIT_TOTP;
    f->ctx.pol = &no;
    assert_int_equal(add(f, &alice, "localhost", &c, "Laptop", &fac), MFA_NOT_ALLOWED);
    f->ctx.pol = &f->pol;

    assert_int_equal(add(f, &alice, "localhost", &c, "Laptop", &fac), MFA_OK);
    assert_int_equal(fac.type, FACTOR_WEBAUTHN);
    assert_true(fac.active);
    assert_string_equal(alice.preferred, fac.id);
    assert_int_equal(factors_count_active(&f->ctx, &alice), 1);
    struct mfa_factor got;
    assert_int_equal(factors_get(&f->ctx, &alice, fac.id, &got), MFA_OK);
    assert_int_equal(got.type, FACTOR_WEBAUTHN);
    assert_string_equal(factor_type_name(got.type), "webauthn");
    assert_string_equal(got.destination, "");
    assert_int_equal(tu_query_int(f->s,
                                  "SELECT count(*) FROM audit WHERE event IN "
                                  "('factor_added', 'factor_enrolled') AND detail = 'webauthn'"),
                     2);

    /* The same credential id again, for anyone: refused. A second passkey is fine. */
    assert_int_equal(add(f, &bob, "localhost", &c, "Key", &fac), MFA_CONFLICT);
    assert_int_equal(add(f, &alice, "localhost", &c, "Key", &fac), MFA_CONFLICT);
    f->ctx.now_ms += 1000;
    struct webauthn_credential c2;
    fake_credential(&c2, 2);
    c2.transports = 0;
    c2.be = false;
    struct mfa_factor fac2;
    assert_int_equal(add(f, &alice, "localhost", &c2, "", &fac2), MFA_OK);
    /* Under another RP ID the same id is another credential. */
    struct mfa_factor fac3;
    assert_int_equal(add(f, &bob, "id.example.com", &c, "Key", &fac3), MFA_OK);

    struct webauthn_stored list[4];
    memset(list, 0, sizeof(list));
    assert_int_equal(webauthn_credential_each(&f->ctx, &alice, "localhost", collect, list), MFA_OK);
    assert_string_equal(list[0].name, "Laptop");
    assert_string_equal(list[1].name, "Passkey");
    assert_string_equal(list[2].factor_id, "");
    const struct webauthn_stored *s = &list[0];
    assert_string_equal(s->factor_id, alice.preferred);
    assert_int_equal(s->user_id, alice.id);
    assert_string_equal(s->sub, "alice");
    assert_int_equal(s->created_at, T0);
    assert_int_equal(s->cred.id_len, c.id_len);
    assert_memory_equal(s->cred.id, c.id, c.id_len);
    assert_int_equal(s->cred.public_key_len, c.public_key_len);
    assert_memory_equal(s->cred.public_key, c.public_key, c.public_key_len);
    assert_int_equal(s->cred.alg, WEBAUTHN_ALG_ES256);
    assert_int_equal(s->cred.sign_count, 5);
    assert_memory_equal(s->cred.aaguid, c.aaguid, 16);
    assert_true(s->cred.uv && s->cred.be && !s->cred.bs);
    assert_int_equal(s->cred.transports, c.transports);
    assert_string_equal(s->cred.fmt, "none");
    assert_int_equal(list[1].cred.transports, 0);
    assert_false(list[1].cred.be);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM webauthn_credentials WHERE "
                                        "transports = 'hybrid,internal'"),
                     2);

    /* Found by credential id within the app and RP ID only. */
    struct webauthn_stored found;
    assert_int_equal(webauthn_credential_find(&f->ctx, "localhost", c2.id, c2.id_len, &found),
                     MFA_OK);
    assert_string_equal(found.factor_id, fac2.id);
    assert_string_equal(found.sub, "alice");
    assert_int_equal(webauthn_credential_find(&f->ctx, "id.example.com", c.id, c.id_len, &found),
                     MFA_OK);
    assert_string_equal(found.sub, "bob");
    assert_int_equal(webauthn_credential_find(&f->ctx, "example.com", c.id, c.id_len, &found),
                     MFA_NOT_FOUND);
    assert_int_equal(webauthn_credential_find(&f->ctx, "localhost", c.id, c.id_len - 1, &found),
                     MFA_NOT_FOUND);
    assert_int_equal(webauthn_credential_find(&f->ctx, "localhost", c.id, 0, &found),
                     MFA_NOT_FOUND);
    f->ctx.app_id = f->app2;
    assert_int_equal(webauthn_credential_find(&f->ctx, "localhost", c.id, c.id_len, &found),
                     MFA_NOT_FOUND);
    f->ctx.app_id = f->app;
}

static enum mfa_result used(struct fixture *f, const struct webauthn_stored *s, uint32_t count,
                            bool bs)
{
    struct webauthn_assertion a = {.sign_count = count, .uv = true, .be = true, .bs = bs};
    assert_int_equal(store_begin(f->s), 0);
    enum mfa_result r = webauthn_credential_used(&f->ctx, s, &a);
    assert_int_equal(store_commit(f->s), 0);
    return r;
}

static void test_counter_written_over_what_was_seen(void **state)
{
    struct fixture *f = *state;
    struct mfa_user alice;
    user(f, "alice", &alice);
    struct webauthn_credential c;
    fake_credential(&c, 3);
    struct mfa_factor fac;
    assert_int_equal(add(f, &alice, "localhost", &c, "Phone", &fac), MFA_OK);
    struct webauthn_stored s, again;
    assert_int_equal(webauthn_credential_find(&f->ctx, "localhost", c.id, c.id_len, &s), MFA_OK);
    again = s; /* a second sign-in checked against the same stored counter */

    f->ctx.now_ms = T0 + 60000;
    assert_int_equal(used(f, &s, 6, true), MFA_OK);
    assert_int_equal(used(f, &again, 6, true), MFA_CONFLICT);
    assert_int_equal(used(f, &again, 7, true), MFA_CONFLICT);
    assert_int_equal(webauthn_credential_find(&f->ctx, "localhost", c.id, c.id_len, &s), MFA_OK);
    assert_int_equal(s.cred.sign_count, 6);
    assert_true(s.cred.bs);
    assert_int_equal(s.last_used_at, T0 + 60000);
    assert_int_equal(used(f, &s, 9, false), MFA_OK);
    assert_int_equal(webauthn_credential_find(&f->ctx, "localhost", c.id, c.id_len, &s), MFA_OK);
    assert_int_equal(s.cred.sign_count, 9);
    assert_false(s.cred.bs);

    /* An authenticator without a counter: 0 stays 0, and every use passes. */
    fake_credential(&c, 4);
    c.sign_count = 0;
    assert_int_equal(add(f, &alice, "localhost", &c, "Key", &fac), MFA_OK);
    assert_int_equal(webauthn_credential_find(&f->ctx, "localhost", c.id, c.id_len, &s), MFA_OK);
    assert_int_equal(used(f, &s, 0, false), MFA_OK);
    assert_int_equal(used(f, &s, 0, false), MFA_OK);
}

static void test_remove(void **state)
{
    struct fixture *f = *state;
    struct mfa_user alice;
    user(f, "alice", &alice);
    struct webauthn_credential c;
    fake_credential(&c, 5);
    struct mfa_factor fac;
    assert_int_equal(add(f, &alice, "localhost", &c, "Laptop", &fac), MFA_OK);
    char *uri = NULL, *secret = NULL;
    struct mfa_factor totp;
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(factors_add_totp(&f->ctx, &alice, &totp, &uri, &secret), MFA_OK);
    assert_int_equal(store_commit(f->s), 0);
    free(uri);
    free(secret);

    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(webauthn_credential_remove(&f->ctx, &alice, totp.id), MFA_NOT_FOUND);
    assert_int_equal(webauthn_credential_remove(&f->ctx, &alice, "f_nope"), MFA_NOT_FOUND);
    assert_int_equal(webauthn_credential_remove(&f->ctx, &alice, fac.id), MFA_OK);
    assert_int_equal(store_commit(f->s), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM webauthn_credentials"), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM factors WHERE type = 'webauthn'"), 0);
    assert_string_equal(alice.preferred, "");
    struct webauthn_stored s;
    assert_int_equal(webauthn_credential_find(&f->ctx, "localhost", c.id, c.id_len, &s),
                     MFA_NOT_FOUND);
    /* The same authenticator may be registered again now. */
    assert_int_equal(add(f, &alice, "localhost", &c, "Laptop", &fac), MFA_OK);
}

static void test_user_handle(void **state)
{
    struct fixture *f = *state;
    struct mfa_user alice, bob;
    user(f, "alice", &alice);
    user(f, "bob", &bob);
    uint8_t h1[WEBAUTHN_USER_HANDLE_LEN], h2[WEBAUTHN_USER_HANDLE_LEN],
        h3[WEBAUTHN_USER_HANDLE_LEN];
    assert_int_equal(webauthn_user_handle(&f->ctx, &alice, false, h1), MFA_NOT_FOUND);
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(webauthn_user_handle(&f->ctx, &alice, true, h1), MFA_OK);
    assert_int_equal(webauthn_user_handle(&f->ctx, &alice, true, h2), MFA_OK);
    assert_int_equal(webauthn_user_handle(&f->ctx, &bob, true, h3), MFA_OK);
    assert_int_equal(store_commit(f->s), 0);
    assert_memory_equal(h1, h2, sizeof(h1));
    assert_memory_not_equal(h1, h3, sizeof(h1));
    assert_int_equal(webauthn_user_handle(&f->ctx, &alice, false, h2), MFA_OK);
    assert_memory_equal(h1, h2, sizeof(h1));
}

static void test_names(void **state)
{
    struct fixture *f = *state;
    struct mfa_user alice;
    user(f, "alice", &alice);
    char utf8[80];
    size_t n = 0;
    for (int i = 0; i < 30; i++)
        n += (size_t)snprintf(utf8 + n, sizeof(utf8) - n, "\xc3\xa9"); /* é: 60 bytes */
    /* 日本: 66 bytes, the second character cut in two at 64 */
    snprintf(utf8 + n, sizeof(utf8) - n, "\xe6\x97\xa5\xe6\x9c\xac");
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"  ", "Passkey"},
        {NULL, "Passkey"},
        {" \tYubiKey 5\x01NFC\n ", "YubiKey 5 NFC"},
        {"\x7f", "Passkey"},
    };
    for (size_t i = 0; i <= ARRAY_SIZE(cases); i++) {
        struct webauthn_credential c;
        fake_credential(&c, (uint8_t)(10 + i));
        struct mfa_factor fac;
        const char *in = i < ARRAY_SIZE(cases) ? cases[i].in : utf8;
        assert_int_equal(add(f, &alice, "localhost", &c, in, &fac), MFA_OK);
        struct webauthn_stored s;
        assert_int_equal(webauthn_credential_find(&f->ctx, "localhost", c.id, c.id_len, &s),
                         MFA_OK);
        if (i < ARRAY_SIZE(cases)) {
            assert_string_equal(s.name, cases[i].out);
        } else {
            assert_int_equal(strlen(s.name), 63);
            assert_memory_equal(s.name, utf8, 63);
        }
    }
}

/* A recorded passkey through the store: registered, found by the id its
 * sign-in names, verified with what was stored, its counter written, the
 * same sign-in again refused. */
static void test_recorded_passkey(void **state)
{
    struct fixture *f = *state;
    const char *src = getenv("OTPGATE_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/webauthn/vectors/chromium.json", src ? src : ".");
    json_error_t jerr;
    json_t *set = json_load_file(path, 0, &jerr);
    if (!set)
        fail_msg("cannot read %s: %s", path, jerr.text);
    const json_t *c = json_array_get(json_object_get(set, "cases"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "chromium-ctap2-es256-none");
    const json_t *reg = json_object_get(c, "registration");
    const json_t *get = json_array_get(json_object_get(c, "assertions"), 0);
    uint8_t *chal = NULL, *handle = NULL;
    size_t chal_len, handle_len;
    const char *t = json_string_value(json_object_get(reg, "challenge"));
    assert_int_equal(b64url_decode(t, strlen(t), &chal, &chal_len), 0);
    struct webauthn_expect x = {json_string_value(json_object_get(c, "rp_id")),
                                json_string_value(json_object_get(c, "origin")), chal, chal_len,
                                WEBAUTHN_UV_PREFERRED};
    struct webauthn_response r;
    assert_int_equal(
        webauthn_response_from_json(json_object_get(reg, "credential"), WEBAUTHN_CREATE, &r),
        WEBAUTHN_OK);
    struct webauthn_credential cred;
    assert_int_equal(webauthn_registration_verify(&x, &r, &cred), WEBAUTHN_OK);
    webauthn_response_free(&r);
    free(chal);

    struct mfa_user alice;
    user(f, "alice", &alice);
    struct mfa_factor fac;
    assert_int_equal(add(f, &alice, x.rp_id, &cred, "Chromium", &fac), MFA_OK);

    t = json_string_value(json_object_get(get, "challenge"));
    assert_int_equal(b64url_decode(t, strlen(t), &chal, &chal_len), 0);
    x.challenge = chal;
    x.challenge_len = chal_len;
    t = json_string_value(json_object_get(c, "user_handle"));
    assert_int_equal(b64url_decode(t, strlen(t), &handle, &handle_len), 0);
    assert_int_equal(
        webauthn_response_from_json(json_object_get(get, "credential"), WEBAUTHN_GET, &r),
        WEBAUTHN_OK);
    struct webauthn_stored s;
    assert_int_equal(webauthn_credential_find(&f->ctx, x.rp_id, r.raw_id.p, r.raw_id.len, &s),
                     MFA_OK);
    assert_string_equal(s.factor_id, fac.id);
    struct webauthn_assertion a;
    assert_int_equal(webauthn_assertion_verify(&x, &s.cred, handle, handle_len, &r, &a),
                     WEBAUTHN_OK);
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(webauthn_credential_used(&f->ctx, &s, &a), MFA_OK);
    assert_int_equal(store_commit(f->s), 0);
    assert_int_equal(webauthn_credential_find(&f->ctx, x.rp_id, r.raw_id.p, r.raw_id.len, &s),
                     MFA_OK);
    assert_int_equal(s.cred.sign_count, a.sign_count);
    assert_int_equal(webauthn_assertion_verify(&x, &s.cred, handle, handle_len, &r, &a),
                     WEBAUTHN_ERR_SIGN_COUNT);
    webauthn_response_free(&r);
    free(chal);
    free(handle);
    json_decref(set);
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

/* A database made by a binary at schema version 9, with an open challenge
 * and its code, opened by this one: the factors table is rebuilt and the
 * challenge is still there, as is everything it points to. */
static void test_migration_keeps_challenges(void **state)
{
    (void)state;
    char dir[64], path[200], err[256];
    tu_tmpdir(dir, sizeof(dir), "webauthn-mig");
    snprintf(path, sizeof(path), "%s/otpgate.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec(db, "PRAGMA foreign_keys = ON");
    for (int v = 1; v <= 9; v++)
        exec(db, migration_sql(v));
    exec(db, "PRAGMA user_version = 9");
    exec(db, "INSERT INTO apps VALUES ('app_1', 'A', x'00', '[]', 1, NULL);"
             "INSERT INTO users (id, app_id, sub, preferred_factor, created_at) "
             "  VALUES (7, 'app_1', 'alice', 'f_1', 1);"
             "INSERT INTO factors (id, user_id, type, status, destination, last_step, created_at,"
             "  verified_at, last_used_at) VALUES ('f_1', 7, 'email', 'active', 'a@example.com',"
             "  -1, 2, 3, 4);"
             "INSERT INTO factors (id, user_id, type, status, secret_sealed, last_step, created_at)"
             "  VALUES ('f_2', 7, 'totp', 'active', x'0102', 55, 5);"
             "INSERT INTO challenges (id, user_id, factor_id, purpose, status, attempts,"
             "  max_attempts, resend_at, expires_at, created_at, client_ip) VALUES ('ch_1', 7,"
             "  'f_1', 'login', 'open', 1, 5, 6, 7, 8, '192.0.2.9');"
             "INSERT INTO challenge_codes VALUES ('ch_1', x'abcd', 9);");
    sqlite3_close(db);

    struct store *s;
    if (store_open(path, &s, err, sizeof(err)) != 0)
        fail_msg("store_open: %s", err);
    assert_int_equal(store_schema_version(s), migration_count());
    assert_true(migration_count() >= 10);
    assert_int_equal(tu_query_int(s, "SELECT count(*) FROM challenges WHERE id = 'ch_1' AND "
                                     "factor_id = 'f_1' AND attempts = 1 AND expires_at = 7 AND "
                                     "client_ip = '192.0.2.9'"),
                     1);
    assert_int_equal(tu_query_int(s, "SELECT count(*) FROM challenge_codes WHERE code_hash = "
                                     "x'abcd' AND expires_at = 9"),
                     1);
    assert_int_equal(tu_query_int(s, "SELECT count(*) FROM factors WHERE id = 'f_1' AND "
                                     "destination = 'a@example.com' AND verified_at = 3 AND "
                                     "last_used_at = 4"),
                     1);
    assert_int_equal(tu_query_int(s, "SELECT count(*) FROM factors WHERE id = 'f_2' AND "
                                     "secret_sealed = x'0102' AND last_step = 55"),
                     1);
    assert_int_equal(tu_query_int(s, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    assert_int_equal(tu_query_int(s, "SELECT count(*) FROM sqlite_temp_schema"), 0);
    /* The new type is accepted, still cascades, and the old rules hold. */
    assert_int_equal(store_exec(s, "INSERT INTO factors (id, user_id, type, status, created_at) "
                                   "VALUES ('f_3', 7, 'webauthn', 'active', 10)"),
                     OG_OK);
    assert_int_not_equal(store_exec(s, "INSERT INTO factors (id, user_id, type, status, "
                                       "created_at) VALUES ('f_4', 7, 'carrier', 'active', 10)"),
                         OG_OK);
    assert_int_equal(store_exec(s, "DELETE FROM factors WHERE id = 'f_1'"), OG_OK);
    assert_int_equal(tu_query_int(s, "SELECT count(*) FROM challenges"), 0);
    assert_int_equal(tu_query_int(s, "SELECT count(*) FROM challenge_codes"), 0);
    assert_int_equal(store_exec(s, "DELETE FROM users WHERE id = 7"), OG_OK);
    assert_int_equal(tu_query_int(s, "SELECT count(*) FROM factors"), 0);
    store_close(s);
    tu_rmtree(dir);
}

static void test_factor_type(void **state)
{
    (void)state;
    enum factor_type t;
    assert_int_equal(factor_type_parse("webauthn", &t), OG_OK);
    assert_int_equal(t, FACTOR_WEBAUTHN);
    assert_int_equal(factor_type_bit(FACTOR_WEBAUTHN), FACTOR_BIT_WEBAUTHN);
    assert_string_equal(factor_type_name(FACTOR_WEBAUTHN), "webauthn");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_list_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter_written_over_what_was_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recorded_passkey, setup, teardown),
        cmocka_unit_test(test_migration_keeps_challenges),
        cmocka_unit_test(test_factor_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
