/* Unit tests of src/core/signing_keys.c: ensure is idempotent, rotation
 * publishes old and new keys, a token of the old key verifies with the
 * JWKS's copy of it until pruning, the private key is stored only sealed and
 * bound to its kid, and a wrong master key opens nothing. Each test owns a
 * fresh mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/jwt.h"
#include "core/log.h"
#include "core/secrets.h"
#include "core/signing_keys.h"
#include "core/store/store.h"

#include "testutil.h"

#define T0   1700000000000LL /* unix ms */
#define KEEP (24 * 3600 * 1000LL)

struct fixture {
    char dir[64];
    char db[200];
    char err[512];
    struct store *s;
    struct keyring k;
};

static void exec_sql(struct store *s, const char *sql)
{
    if (store_exec(s, sql) != OG_OK)
        fail_msg("sql failed: %s: %s", sql, store_errmsg(s));
}

static void master_keyring(uint8_t seed, struct keyring *k)
{
    uint8_t master[KEY_LEN];
    for (size_t i = 0; i < sizeof(master); i++)
        master[i] = (uint8_t)(i * 3 + seed);
    assert_int_equal(keyring_derive(master, k), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "sigkeys");
    snprintf(f->db, sizeof(f->db), "%s/otpgate.db", f->dir);
    if (tu_store_open(f->db, &f->s, f->err, sizeof(f->err)) != 0)
        fail_msg("store_open: %s", f->err);
    master_keyring(1, &f->k);
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

/* The JWKS at now, parsed. */
static json_t *jwks(struct fixture *f, int64_t now)
{
    char *text = signing_keys_jwks(f->s, now);
    assert_non_null(text);
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(doc);
    assert_true(json_is_array(json_object_get(doc, "keys")));
    return doc;
}

static size_t jwks_count(struct fixture *f, int64_t now)
{
    json_t *doc = jwks(f, now);
    size_t n = json_array_size(json_object_get(doc, "keys"));
    json_decref(doc);
    return n;
}

/* The public key of kid from the JWKS at now, or NULL when not published. */
static EVP_PKEY *jwks_key(struct fixture *f, int64_t now, const char *kid)
{
    json_t *doc = jwks(f, now);
    EVP_PKEY *key = NULL;
    size_t i;
    json_t *jwk;
    json_array_foreach(json_object_get(doc, "keys"), i, jwk)
    {
        const char *id = json_string_value(json_object_get(jwk, "kid"));
        if (id && strcmp(id, kid) == 0) {
            assert_string_equal(json_string_value(json_object_get(jwk, "alg")), "ES256");
            assert_string_equal(json_string_value(json_object_get(jwk, "use")), "sig");
            assert_null(json_object_get(jwk, "d"));
            key = jwt_ec_public_from_jwk(jwk);
            assert_non_null(key);
        }
    }
    json_decref(doc);
    return key;
}

static void test_ensure_idempotent(void **state)
{
    struct fixture *f = *state;
    char kid[JWT_KID_LEN];
    assert_null(signing_keys_active(f->s, &f->k, kid, sizeof(kid)));
    assert_int_equal(jwks_count(f, T0), 0);

    assert_int_equal(signing_keys_ensure(f->s, &f->k, T0), 0);
    assert_int_equal(signing_keys_ensure(f->s, &f->k, T0 + 1000), 0);
    assert_int_equal(signing_keys_ensure(f->s, &f->k, T0 + 2000), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM signing_keys"), 1);
    assert_int_equal(tu_query_int(f->s, "SELECT created_at FROM signing_keys"), T0);

    EVP_PKEY *key = signing_keys_active(f->s, &f->k, kid, sizeof(kid));
    assert_non_null(key);
    char want[JWT_KID_LEN];
    assert_int_equal(jwt_ec_kid(key, want, sizeof(want)), 0);
    assert_string_equal(kid, want);
    /* NULL kid is allowed; a short buffer is not. */
    EVP_PKEY *again = signing_keys_active(f->s, &f->k, NULL, 0);
    assert_non_null(again);
    EVP_PKEY_free(again);
    assert_null(signing_keys_active(f->s, &f->k, kid, JWT_KID_LEN - 1));

    /* The JWKS publishes exactly this key's public JWK. */
    json_t *doc = jwks(f, T0);
    json_t *keys = json_object_get(doc, "keys");
    assert_int_equal(json_array_size(keys), 1);
    json_t *jwk = jwt_ec_public_jwk(key);
    assert_true(json_equal(jwk, json_array_get(keys, 0)));
    json_decref(jwk);
    json_decref(doc);
    EVP_PKEY_free(key);
}

static void test_ensure_joins_transaction(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(signing_keys_ensure(f->s, &f->k, T0), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM signing_keys"), 1);
    assert_int_equal(store_rollback(f->s), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM signing_keys"), 0);
}

static void test_rotate_and_prune(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(signing_keys_ensure(f->s, &f->k, T0), 0);
    char old_kid[JWT_KID_LEN], new_kid[JWT_KID_LEN], kid[JWT_KID_LEN];
    EVP_PKEY *old_key = signing_keys_active(f->s, &f->k, old_kid, sizeof(old_kid));
    assert_non_null(old_key);
    json_t *claims = json_pack("{s:s, s:s}", "iss", "https://mfa.example", "sub", "u1");
    char *old_tok = jwt_es256_sign(claims, old_key, old_kid);
    assert_non_null(old_tok);

    const int64_t t1 = T0 + 1000;
    assert_int_equal(signing_keys_rotate(f->s, &f->k, t1, -1, NULL, 0), OG_ERR_INVALID);
    assert_int_equal(signing_keys_rotate(f->s, &f->k, t1, KEEP, new_kid, 10), OG_ERR_TOO_BIG);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM signing_keys"), 1);
    assert_int_equal(signing_keys_rotate(f->s, &f->k, t1, KEEP, new_kid, sizeof(new_kid)), 0);
    assert_string_not_equal(old_kid, new_kid);
    assert_int_equal(
        tu_query_int(f->s, "SELECT count(*) FROM signing_keys WHERE retired_at IS NULL"), 1);

    /* The new key is the active one; ensure does not add a third. */
    EVP_PKEY *new_key = signing_keys_active(f->s, &f->k, kid, sizeof(kid));
    assert_non_null(new_key);
    assert_string_equal(kid, new_kid);
    assert_int_equal(signing_keys_ensure(f->s, &f->k, t1), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM signing_keys"), 2);

    /* The JWKS has both, newest first. */
    json_t *doc = jwks(f, t1);
    json_t *keys = json_object_get(doc, "keys");
    assert_int_equal(json_array_size(keys), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(keys, 0), "kid")),
                        new_kid);
    assert_string_equal(json_string_value(json_object_get(json_array_get(keys, 1), "kid")),
                        old_kid);
    json_decref(doc);

    /* A token of the old key verifies with the JWKS's old public key, and
     * not with the new one. */
    json_t *out = NULL;
    EVP_PKEY *old_pub = jwks_key(f, t1 + KEEP - 1, old_kid);
    assert_non_null(old_pub);
    assert_int_equal(jwt_es256_verify(old_tok, old_pub, &out), 0);
    assert_true(json_equal(claims, out));
    json_decref(out);
    EVP_PKEY *new_pub = jwks_key(f, t1, new_kid);
    assert_int_equal(jwt_es256_verify(old_tok, new_pub, &out), OG_ERR_CRYPTO);
    char *new_tok = jwt_es256_sign(claims, new_key, new_kid);
    assert_int_equal(jwt_es256_verify(new_tok, new_pub, &out), 0);
    json_decref(out);
    assert_int_equal(jwt_es256_verify(new_tok, old_pub, &out), OG_ERR_CRYPTO);

    /* Pruning before the keep period ends keeps it. */
    assert_int_equal(signing_keys_prune(f->s, t1 + KEEP - 1), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM signing_keys"), 2);
    assert_int_equal(jwks_count(f, t1 + KEEP - 1), 2);
    /* Once it ends the old key is no longer published, then pruned. */
    assert_int_equal(jwks_count(f, t1 + KEEP), 1);
    assert_null(jwks_key(f, t1 + KEEP, old_kid));
    assert_int_equal(signing_keys_prune(f->s, t1 + KEEP), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM signing_keys"), 1);
    doc = jwks(f, t1);
    assert_int_equal(json_array_size(json_object_get(doc, "keys")), 1);
    json_decref(doc);
    EVP_PKEY *still = jwks_key(f, t1 + 10 * KEEP, new_kid);
    assert_non_null(still); /* the active key never expires */
    EVP_PKEY_free(still);

    free(new_tok);
    free(old_tok);
    json_decref(claims);
    EVP_PKEY_free(new_pub);
    EVP_PKEY_free(old_pub);
    EVP_PKEY_free(new_key);
    EVP_PKEY_free(old_key);
}

static void test_rotate_without_key(void **state)
{
    struct fixture *f = *state;
    char kid[JWT_KID_LEN], active[JWT_KID_LEN];
    assert_int_equal(signing_keys_rotate(f->s, &f->k, T0, 0, kid, sizeof(kid)), 0);
    EVP_PKEY *key = signing_keys_active(f->s, &f->k, active, sizeof(active));
    assert_non_null(key);
    assert_string_equal(kid, active);
    EVP_PKEY_free(key);
    /* keep 0: the retired key is unpublished at once. */
    assert_int_equal(signing_keys_rotate(f->s, &f->k, T0 + 1, 0, kid, sizeof(kid)), 0);
    assert_int_equal(jwks_count(f, T0 + 1), 1);
    assert_int_equal(signing_keys_prune(f->s, T0 + 1), 0);
    assert_int_equal(tu_query_int(f->s, "SELECT count(*) FROM signing_keys"), 1);
}

/* Whether the bytes occur in any column of signing_keys. */
static bool table_contains(struct store *s, const void *needle, size_t n)
{
    db_stmt *st;
    st = store_stmt(s, "SELECT * FROM signing_keys");
    assert_non_null(st);
    bool found = false;
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

static bool file_contains(const char *path, const void *needle, size_t n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    size_t cap = 1 << 20, len = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += got;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(fp);
    bool found = memmem(buf, len, needle, n) != NULL;
    free(buf);
    return found;
}

static void test_private_key_sealed(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(signing_keys_ensure(f->s, &f->k, T0), 0);
    assert_int_equal(signing_keys_rotate(f->s, &f->k, T0 + 1, KEEP, NULL, 0), 0);
    char kid[JWT_KID_LEN];
    EVP_PKEY *key = signing_keys_active(f->s, &f->k, kid, sizeof(kid));
    assert_non_null(key);

    uint8_t *der;
    size_t der_len;
    assert_int_equal(jwt_ec_export(key, &der, &der_len), 0);
    BIGNUM *d = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
    uint8_t scalar[32];
    assert_int_equal(BN_bn2binpad(d, scalar, 32), 32);
    BN_clear_free(d);

    /* The scan works: the kid is there in the clear. */
    assert_true(table_contains(f->s, kid, strlen(kid)));
    assert_false(table_contains(f->s, der, der_len));
    assert_false(table_contains(f->s, scalar, sizeof(scalar)));
    assert_false(table_contains(f->s, der + der_len - 40, 40)); /* any DER tail */
    char path[256];
    const char *const suffixes[] = {"", "-wal"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s%s", f->db, suffixes[i]);
        assert_false(file_contains(path, der, der_len));
        assert_false(file_contains(path, scalar, sizeof(scalar)));
    }
    /* The stored blob is the sealed DER: one byte of version, a nonce, the
     * ciphertext and a tag. */
    assert_int_equal(tu_query_int(f->s, "SELECT length(private_sealed) FROM signing_keys "
                                        "WHERE retired_at IS NULL"),
                     (long long)(der_len + SEAL_OVERHEAD));
    OPENSSL_cleanse(der, der_len);
    free(der);
    OPENSSL_cleanse(scalar, sizeof(scalar));
    EVP_PKEY_free(key);
}

static void test_wrong_master_key_and_swapped_rows(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(signing_keys_ensure(f->s, &f->k, T0), 0);
    struct keyring other;
    master_keyring(9, &other);
    assert_null(signing_keys_active(f->s, &other, NULL, 0));

    /* A sealed key moved to another kid's row does not open: the aad binds
     * it to its own kid. */
    assert_int_equal(signing_keys_rotate(f->s, &f->k, T0 + 1, KEEP, NULL, 0), 0);
    exec_sql(f->s, "UPDATE signing_keys SET private_sealed = (SELECT private_sealed FROM "
                   "signing_keys WHERE retired_at IS NOT NULL) WHERE retired_at IS NULL");
    assert_null(signing_keys_active(f->s, &f->k, NULL, 0));
    keyring_wipe(&other);
}

int main(void)
{
    log_set_level(OG_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ensure_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ensure_joins_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_and_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_without_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_private_key_sealed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_master_key_and_swapped_rows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
