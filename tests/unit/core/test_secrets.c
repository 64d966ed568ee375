/* Unit tests of src/core/secrets.c: HKDF subkeys, sealing and its refusals,
 * code generation (format and a chi-square test of uniformity), code and
 * HMAC hashing, identifiers and tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "core/secrets.h"

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

static void test_keyring_distinct_and_deterministic(void **state)
{
    (void)state;
    uint8_t master[KEY_LEN], other[KEY_LEN];
    fill(master, KEY_LEN, 1);
    fill(other, KEY_LEN, 2);
    struct keyring a, b, c;
    assert_int_equal(keyring_derive(master, &a), 0);
    assert_int_equal(keyring_derive(master, &b), 0);
    assert_int_equal(keyring_derive(other, &c), 0);
    assert_memory_equal(&a, &b, sizeof(a));
    const uint8_t *ka[] = {a.codes, a.recovery, a.seal, a.dest, a.csrf, a.session};
    const uint8_t *kc[] = {c.codes, c.recovery, c.seal, c.dest, c.csrf, c.session};
    for (size_t i = 0; i < ARRAY_SIZE(ka); i++) {
        assert_memory_not_equal(ka[i], master, KEY_LEN);
        assert_memory_not_equal(ka[i], kc[i], KEY_LEN);
        for (size_t j = i + 1; j < ARRAY_SIZE(ka); j++)
            assert_memory_not_equal(ka[i], ka[j], KEY_LEN);
    }
    /* the documented construction: HKDF-SHA256, salt "otpgate", info label */
    uint8_t want[KEY_LEN];
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t wl = sizeof(want);
    assert_non_null(pctx);
    assert_int_equal(EVP_PKEY_derive_init(pctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()), 1);
    assert_int_equal(EVP_PKEY_CTX_set1_hkdf_salt(pctx, (const unsigned char *)"otpgate", 7), 1);
    assert_int_equal(EVP_PKEY_CTX_set1_hkdf_key(pctx, master, KEY_LEN), 1);
    assert_int_equal(EVP_PKEY_CTX_add1_hkdf_info(pctx, (const unsigned char *)"seal", 4), 1);
    assert_int_equal(EVP_PKEY_derive(pctx, want, &wl), 1);
    EVP_PKEY_CTX_free(pctx);
    assert_memory_equal(want, a.seal, KEY_LEN);

    keyring_wipe(&a);
    struct keyring zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&a, &zero, sizeof(a));
}

static void test_seal_round_trip(void **state)
{
    (void)state;
    uint8_t key[KEY_LEN];
    random_bytes(key, KEY_LEN);
    const char *plain = "12345678901234567890";
    uint8_t *sealed = NULL, *opened = NULL;
    size_t slen = 0, olen = 0;
    assert_int_equal(secret_seal(key, (const uint8_t *)plain, 20, "totp:f_abc", &sealed, &slen), 0);
    assert_int_equal(slen, 20 + SEAL_OVERHEAD);
    assert_int_equal(sealed[0], 1);
    assert_memory_not_equal(sealed + 1 + SEAL_NONCE_LEN, plain, 20);
    assert_int_equal(secret_open(key, sealed, slen, "totp:f_abc", &opened, &olen), 0);
    assert_int_equal(olen, 20);
    assert_memory_equal(opened, plain, 20);
    free(opened);

    /* a fresh nonce each time */
    uint8_t *again = NULL;
    size_t alen = 0;
    assert_int_equal(secret_seal(key, (const uint8_t *)plain, 20, "totp:f_abc", &again, &alen), 0);
    assert_memory_not_equal(again + 1, sealed + 1, SEAL_NONCE_LEN);
    free(again);
    free(sealed);

    /* empty plaintext and NULL aad */
    assert_int_equal(secret_seal(key, NULL, 0, NULL, &sealed, &slen), 0);
    assert_int_equal(slen, SEAL_OVERHEAD);
    assert_int_equal(secret_open(key, sealed, slen, "", &opened, &olen), 0);
    assert_int_equal(olen, 0);
    assert_non_null(opened);
    free(opened);
    free(sealed);
}

static void test_seal_refusals(void **state)
{
    (void)state;
    uint8_t key[KEY_LEN], other[KEY_LEN];
    random_bytes(key, KEY_LEN);
    memcpy(other, key, KEY_LEN);
    other[31] ^= 1;
    uint8_t secret[20];
    random_bytes(secret, sizeof(secret));
    uint8_t *sealed = NULL, *opened = (uint8_t *)"x";
    size_t slen = 0, olen = 5;
    assert_int_equal(secret_seal(key, secret, sizeof(secret), "totp:f_abc", &sealed, &slen), 0);

    assert_int_equal(secret_open(other, sealed, slen, "totp:f_abc", &opened, &olen), OG_ERR_CRYPTO);
    assert_null(opened);
    assert_int_equal(olen, 0);
    assert_int_equal(secret_open(key, sealed, slen, "totp:f_abd", &opened, &olen), OG_ERR_CRYPTO);
    assert_int_equal(secret_open(key, sealed, slen, NULL, &opened, &olen), OG_ERR_CRYPTO);
    /* every single bit flip past the version byte is caught */
    for (size_t i = 1; i < slen; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            sealed[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(secret_open(key, sealed, slen, "totp:f_abc", &opened, &olen),
                             OG_ERR_CRYPTO);
            assert_null(opened);
            sealed[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* truncation, unknown version */
    assert_int_equal(secret_open(key, sealed, slen - 1, "totp:f_abc", &opened, &olen),
                     OG_ERR_CRYPTO);
    assert_int_equal(secret_open(key, sealed, SEAL_OVERHEAD - 1, "totp:f_abc", &opened, &olen),
                     OG_ERR_INVALID);
    sealed[0] = 2;
    assert_int_equal(secret_open(key, sealed, slen, "totp:f_abc", &opened, &olen), OG_ERR_INVALID);
    sealed[0] = 1;
    assert_int_equal(secret_open(key, sealed, slen, "totp:f_abc", &opened, &olen), 0);
    assert_memory_equal(opened, secret, sizeof(secret));
    free(opened);
    free(sealed);
}

static void test_code_generate_format(void **state)
{
    (void)state;
    for (unsigned d = CODE_MIN_DIGITS; d <= CODE_MAX_DIGITS; d++) {
        for (int k = 0; k < 50; k++) {
            char out[16];
            memset(out, 'x', sizeof(out));
            assert_int_equal(code_generate(d, out), 0);
            assert_int_equal(strlen(out), d);
            for (unsigned i = 0; i < d; i++)
                assert_true(out[i] >= '0' && out[i] <= '9');
        }
    }
    char out[16];
    assert_int_equal(code_generate(3, out), OG_ERR_INVALID);
    assert_int_equal(code_generate(11, out), OG_ERR_INVALID);
}

#define CHI_SAMPLES 200000

/* Pearson's statistic of counts against a uniform expectation. */
static double chi_square(const unsigned *counts, size_t bins, unsigned total)
{
    double expect = (double)total / (double)bins, stat = 0;
    for (size_t i = 0; i < bins; i++) {
        double d = (double)counts[i] - expect;
        stat += d * d / expect;
    }
    return stat;
}

static void test_code_generate_uniform(void **state)
{
    (void)state;
    static unsigned pos[6][10];
    static unsigned low[1000];
    memset(pos, 0, sizeof(pos));
    memset(low, 0, sizeof(low));
    for (unsigned n = 0; n < CHI_SAMPLES; n++) {
        char c[7];
        assert_int_equal(code_generate(6, c), 0);
        unsigned v = 0;
        for (int i = 0; i < 6; i++) {
            pos[i][c[i] - '0']++;
            v = v * 10 + (unsigned)(c[i] - '0');
        }
        low[v % 1000]++;
    }
    /* 10 bins, df = 9: 39.34 is the p = 0.00001 critical value, so six
     * positions fail by chance about once in 17,000 runs */
    for (int i = 0; i < 6; i++) {
        double stat = chi_square(pos[i], 10, CHI_SAMPLES);
        if (stat >= 39.34)
            fail_msg("digit position %d: chi-square %.2f >= 39.34", i, stat);
    }
    /* 1000 bins, df = 999 (mean 999, sd ~44.7): a loose bound of 1200
     * (p ~ 1e-5) still catches any real bias such as modulo reduction */
    double stat = chi_square(low, 1000, CHI_SAMPLES);
    if (stat >= 1200)
        fail_msg("code %% 1000: chi-square %.2f >= 1200", stat);
}

static void test_code_hash(void **state)
{
    (void)state;
    uint8_t key[KEY_LEN], key2[KEY_LEN];
    fill(key, KEY_LEN, 3);
    fill(key2, KEY_LEN, 4);
    uint8_t a[32], b[32], c[32], d[32], e[32];
    code_hash(key, "ch_1", "123456", a);
    code_hash(key, "ch_1", "123456", b);
    code_hash(key, "ch_2", "123456", c);
    code_hash(key2, "ch_1", "123456", d);
    code_hash(key, "ch_1", "123457", e);
    assert_true(ct_equal(a, b, 32));
    assert_false(ct_equal(a, c, 32));
    assert_false(ct_equal(a, d, 32));
    assert_false(ct_equal(a, e, 32));
    /* the separator keeps context and code apart: "ab"+"c" vs "a"+"bc" */
    code_hash(key, "ab", "c", a);
    code_hash(key, "a", "bc", b);
    assert_false(ct_equal(a, b, 32));

    /* HMAC-SHA256(key, context || 0x00 || code), checked with EVP_Q_mac */
    uint8_t msg[] = {'c', 'h', '_', '1', 0, '1', '2', '3', '4', '5', '6'};
    uint8_t want[32];
    size_t wl = 0;
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, KEY_LEN, msg, sizeof(msg),
                              want, sizeof(want), &wl));
    code_hash(key, "ch_1", "123456", a);
    assert_memory_equal(a, want, 32);
}

/* hmac_sha256_parts against EVP_Q_mac for more keys than a thread keeps
 * keyed, each used again after others took their slots, interleaved with
 * messages of different lengths: a context started again from its keyed
 * state or under a key that took a slot gives the same MAC as a fresh one. */
static void hmac_many_keys(void)
{
    enum { KEYS = 19, ROUNDS = 3 };
    uint8_t key[KEYS][KEY_LEN];
    for (int k = 0; k < KEYS; k++)
        fill(key[k], KEY_LEN, (uint8_t)(40 + k));
    for (int r = 0; r < ROUNDS; r++)
        for (int k = 0; k < KEYS; k++) {
            /* keys 0-2 come back often, the others once a round */
            int use = (k % 4 == 0) ? k % 3 : k;
            uint8_t msg[70], got[32], want[32];
            size_t n = (size_t)(r * 23 + k) % sizeof(msg), wl = 0;
            fill(msg, sizeof(msg), (uint8_t)(r * KEYS + k));
            hmac_sha256_parts(key[use], msg, n / 2, msg + n / 2, n - n / 2, NULL, 0, got);
            assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key[use], KEY_LEN, msg, n,
                                      want, sizeof(want), &wl));
            assert_memory_equal(got, want, 32);
        }
}

static void *hmac_thread(void *arg)
{
    (void)arg;
    hmac_many_keys();
    return NULL;
}

static void test_hmac_keyed_contexts(void **state)
{
    (void)state;
    hmac_many_keys();
    /* another thread has its own contexts, and this one's are intact */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hmac_thread, NULL), 0);
    hmac_many_keys();
    assert_int_equal(pthread_join(t, NULL), 0);
    hmac_many_keys();
}

static void test_ct_equal(void **state)
{
    (void)state;
    assert_true(ct_equal("abc", "abc", 3));
    assert_false(ct_equal("abc", "abd", 3));
    assert_true(ct_equal("abc", "abd", 2));
    assert_true(ct_equal("", "", 0));
}

static bool is_lower_b32(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
}

static void test_random_id(void **state)
{
    (void)state;
    char a[32], b[32];
    random_id("f_", a, sizeof(a));
    random_id("f_", b, sizeof(b));
    assert_int_equal(strlen(a), 22);
    assert_memory_equal(a, "f_", 2);
    for (size_t i = 2; i < 22; i++)
        assert_true(is_lower_b32(a[i]));
    assert_string_not_equal(a, b);
    /* exactly the documented size is enough */
    char c[2 + 21];
    random_id("ch", c, sizeof(c));
    assert_int_equal(strlen(c), 22);
    char d[21];
    random_id("", d, sizeof(d));
    assert_int_equal(strlen(d), 20);
    /* every symbol of the alphabet shows up */
    bool seen[256] = {false};
    for (int k = 0; k < 200; k++) {
        random_id("", d, sizeof(d));
        for (int i = 0; i < 20; i++)
            seen[(unsigned char)d[i]] = true;
    }
    for (const char *p = "abcdefghijklmnopqrstuvwxyz234567"; *p; p++)
        assert_true(seen[(unsigned char)*p]);
}

static void test_random_token(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 48; n++) {
        char out[80];
        size_t need = 4 * n / 3 + 2;
        random_token(n, out, need);
        assert_int_equal(strlen(out), (4 * n + 2) / 3);
        for (size_t i = 0; out[i]; i++) {
            char c = out[i];
            assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_');
        }
    }
    /* the whole alphabet is reachable */
    bool seen[256] = {false};
    for (int k = 0; k < 100; k++) {
        char out[64];
        random_token(32, out, sizeof(out));
        for (size_t i = 0; out[i]; i++)
            seen[(unsigned char)out[i]] = true;
    }
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (const char *p = alpha; *p; p++)
        assert_true(seen[(unsigned char)*p]);
    char a[64], b[64];
    random_token(32, a, sizeof(a));
    random_token(32, b, sizeof(b));
    assert_string_not_equal(a, b);
}

static void test_random_bytes(void **state)
{
    (void)state;
    uint8_t a[32] = {0}, b[32] = {0};
    random_bytes(a, sizeof(a));
    random_bytes(b, sizeof(b));
    assert_memory_not_equal(a, b, sizeof(a));
    random_bytes(a, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyring_distinct_and_deterministic),
        cmocka_unit_test(test_seal_round_trip),
        cmocka_unit_test(test_seal_refusals),
        cmocka_unit_test(test_code_generate_format),
        cmocka_unit_test(test_code_generate_uniform),
        cmocka_unit_test(test_code_hash),
        cmocka_unit_test(test_hmac_keyed_contexts),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_random_id),
        cmocka_unit_test(test_random_token),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
