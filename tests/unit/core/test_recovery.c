/* Unit tests of src/core/recovery.c: the displayed format of new codes, the
 * normal form of what users type, refusals, and the salted keyed hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>

#include "core/recovery.h"

static bool is_lower_b32(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
}

static void test_generate_format(void **state)
{
    (void)state;
    char prev[RECOVERY_DISPLAY_SIZE] = "";
    for (int k = 0; k < 100; k++) {
        char code[20];
        memset(code, 'x', sizeof(code));
        recovery_generate(code);
        assert_int_equal(strlen(code), 19);
        for (int i = 0; i < 19; i++) {
            if (i % 5 == 4)
                assert_int_equal(code[i], '-');
            else
                assert_true(is_lower_b32(code[i]));
        }
        /* its own normal form is itself without dashes */
        char norm[RECOVERY_CHARS + 1];
        assert_int_equal(recovery_normalize(code, norm), 0);
        assert_int_equal(strlen(norm), RECOVERY_CHARS);
        assert_memory_equal(norm, code, 4);
        assert_memory_equal(norm + 12, code + 15, 4);
        assert_string_not_equal(code, prev);
        memcpy(prev, code, sizeof(prev));
    }
}

static void test_normalize(void **state)
{
    (void)state;
    char out[RECOVERY_CHARS + 1];
    assert_int_equal(recovery_normalize("ABCD-efgh 2345-6723", out), 0);
    assert_string_equal(out, "abcdefgh23456723");
    assert_int_equal(recovery_normalize("abcdefgh23456723", out), 0);
    assert_string_equal(out, "abcdefgh23456723");
    assert_int_equal(recovery_normalize("  ab cd - EF GH -- 23 45 67 23  ", out), 0);
    assert_string_equal(out, "abcdefgh23456723");
    assert_int_equal(recovery_normalize("QRST-UVWX-YZ23-4567", out), 0);
    assert_string_equal(out, "qrstuvwxyz234567");
}

static void test_normalize_refusals(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "abcd-efgh-2345-672",   /* 15 */
        "abcd-efgh-2345-67234", /* 17 */
        "abcd-efgh-2345-6781",  /* '8' and '1' are not base32 */
        "abcd-efgh-2345-0723",  /* '0' */
        "abcd_efgh_2345_6723",  /* other separators */
        "abcd.efgh.2345.6723",
        "abcd\tefgh2345-6723",
        "abcd-efgh-2345-672\xc3\xa9",
        "abcd-efgh-2345-6723-abcd-efgh-2345-6723",
        "----",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char out[RECOVERY_CHARS + 1];
        memset(out, 'x', sizeof(out));
        assert_int_equal(recovery_normalize(bad[i], out), OG_ERR_INVALID);
        assert_string_equal(out, "");
    }
}

static void test_hash(void **state)
{
    (void)state;
    uint8_t key[KEY_LEN], key2[KEY_LEN], salt[RECOVERY_SALT_LEN], salt2[RECOVERY_SALT_LEN];
    memset(key, 1, sizeof(key));
    memset(key2, 2, sizeof(key2));
    memset(salt, 3, sizeof(salt));
    memset(salt2, 4, sizeof(salt2));
    const char *code = "abcdefgh23456723";
    uint8_t a[32], b[32], c[32], d[32], e[32];
    recovery_hash(key, salt, code, a);
    recovery_hash(key, salt, code, b);
    recovery_hash(key, salt2, code, c);
    recovery_hash(key2, salt, code, d);
    recovery_hash(key, salt, "abcdefgh23456724", e);
    assert_memory_equal(a, b, 32);
    assert_memory_not_equal(a, c, 32);
    assert_memory_not_equal(a, d, 32);
    assert_memory_not_equal(a, e, 32);

    /* HMAC-SHA256(key, salt || normalized) */
    uint8_t msg[RECOVERY_SALT_LEN + RECOVERY_CHARS];
    memcpy(msg, salt, RECOVERY_SALT_LEN);
    memcpy(msg + RECOVERY_SALT_LEN, code, RECOVERY_CHARS);
    uint8_t want[32];
    size_t wl = 0;
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, KEY_LEN, msg, sizeof(msg),
                              want, sizeof(want), &wl));
    assert_memory_equal(a, want, 32);

    /* what a user types hashes like the displayed code once normalised */
    char n1[RECOVERY_CHARS + 1], n2[RECOVERY_CHARS + 1];
    assert_int_equal(recovery_normalize("ABCD-EFGH-2345-6723", n1), 0);
    assert_int_equal(recovery_normalize("abcd efgh 2345 6723", n2), 0);
    recovery_hash(key, salt, n1, b);
    recovery_hash(key, salt, n2, c);
    assert_memory_equal(a, b, 32);
    assert_memory_equal(a, c, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_format),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_normalize_refusals),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
