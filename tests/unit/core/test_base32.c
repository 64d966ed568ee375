/* Unit tests of src/core/base32.c: the RFC 4648 §10 vectors both ways, with
 * and without padding, lenient decoding (case, spaces, dashes) and refusal
 * of bad characters, impossible lengths and small buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/base32.h"
#include "core/secrets.h"

static const struct {
    const char *plain;
    const char *padded;
    const char *bare;
} vectors[] = {
    {"", "", ""},
    {"f", "MY======", "MY"},
    {"fo", "MZXQ====", "MZXQ"},
    {"foo", "MZXW6===", "MZXW6"},
    {"foob", "MZXW6YQ=", "MZXW6YQ"},
    {"fooba", "MZXW6YTB", "MZXW6YTB"},
    {"foobar", "MZXW6YTBOI======", "MZXW6YTBOI"},
};

static void test_encode_rfc4648(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
        char out[32];
        size_t n = strlen(vectors[i].plain);
        size_t w = base32_encode((const uint8_t *)vectors[i].plain, n, true, out, sizeof(out));
        assert_int_equal(w, strlen(vectors[i].padded));
        assert_string_equal(out, vectors[i].padded);
        assert_int_equal(base32_encoded_len(n, true), w);
        w = base32_encode((const uint8_t *)vectors[i].plain, n, false, out, sizeof(out));
        assert_int_equal(w, strlen(vectors[i].bare));
        assert_string_equal(out, vectors[i].bare);
        assert_int_equal(base32_encoded_len(n, false), w);
    }
}

static void test_decode_rfc4648(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
        const char *forms[2] = {vectors[i].padded, vectors[i].bare};
        for (int f = 0; f < 2; f++) {
            uint8_t out[16];
            size_t w = 99;
            assert_int_equal(base32_decode(forms[f], strlen(forms[f]), out, sizeof(out), &w), 0);
            assert_int_equal(w, strlen(vectors[i].plain));
            assert_memory_equal(out, vectors[i].plain, w);
        }
    }
}

static void test_decode_lenient(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t w = 0;
    const char *in = "mzxw 6ytb-oi";
    assert_int_equal(base32_decode(in, strlen(in), out, sizeof(out), &w), 0);
    assert_int_equal(w, 6);
    assert_memory_equal(out, "foobar", 6);
    in = "MzXw6YtBoI======";
    assert_int_equal(base32_decode(in, strlen(in), out, sizeof(out), &w), 0);
    assert_memory_equal(out, "foobar", 6);
    /* n bounds the input: no NUL needed */
    assert_int_equal(base32_decode("MZXW6YTBOIjunk", 10, out, sizeof(out), &w), 0);
    assert_int_equal(w, 6);
    /* written may be NULL */
    assert_int_equal(base32_decode("MY", 2, out, sizeof(out), NULL), 0);
}

static void test_decode_refusals(void **state)
{
    (void)state;
    static const char *bad[] = {
        "MZXW6YT1",                     /* '1' is not in the alphabet */
        "MZXW6YT0",                     /* nor '0' */
        "MZXW8",                        /* nor '8' */
        "MZ.XW",                        /* other separators */
        "MZ_XW",     "MZXW6YTB\n", "M", /* 1, 3 or 6 leftover symbols are impossible */
        "MZX",       "MZXW6Y",     "MZXW6YTBO",
        "MY=====",            /* padding that does not complete the block */
        "MY=======", "MZ=XW", /* '=' before the end */
        "MY======A", "========",   "MZXW\xc3\xa9",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        uint8_t out[16];
        size_t w = 77;
        assert_int_equal(base32_decode(bad[i], strlen(bad[i]), out, sizeof(out), &w),
                         OG_ERR_INVALID);
        assert_int_equal(w, 77);
    }
}

static void test_buffer_sizes(void **state)
{
    (void)state;
    char out[32];
    /* "foobar" bare needs 10 + NUL */
    assert_int_equal(base32_encode((const uint8_t *)"foobar", 6, false, out, 10), 0);
    assert_int_equal(base32_encode((const uint8_t *)"foobar", 6, false, out, 11), 10);
    assert_int_equal(base32_encode((const uint8_t *)"foobar", 6, true, out, 16), 0);
    assert_int_equal(base32_encode((const uint8_t *)"foobar", 6, true, out, 17), 16);
    uint8_t bin[8];
    size_t w = 0;
    assert_int_equal(base32_decode("MZXW6YTBOI", 10, bin, 5, &w), OG_ERR_TOO_BIG);
    assert_int_equal(base32_decode("MZXW6YTBOI", 10, bin, 6, &w), 0);
    assert_int_equal(w, 6);
}

static void test_round_trip_random(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 64; n++) {
        uint8_t in[64], back[64];
        char enc[128];
        random_bytes(in, n);
        for (int pad = 0; pad < 2; pad++) {
            size_t e = base32_encode(in, n, pad, enc, sizeof(enc));
            assert_int_equal(e, base32_encoded_len(n, pad));
            for (size_t k = 0; k < e; k++)
                assert_true((enc[k] >= 'A' && enc[k] <= 'Z') || (enc[k] >= '2' && enc[k] <= '7') ||
                            enc[k] == '=');
            size_t w = 0;
            assert_int_equal(base32_decode(enc, e, back, sizeof(back), &w), 0);
            assert_int_equal(w, n);
            if (n)
                assert_memory_equal(in, back, n);
        }
    }
}

static void test_symbol(void **state)
{
    (void)state;
    const char *upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const char *lower = "abcdefghijklmnopqrstuvwxyz234567";
    for (unsigned v = 0; v < 32; v++) {
        assert_int_equal(base32_symbol(v, false), upper[v]);
        assert_int_equal(base32_symbol(v, true), lower[v]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_rfc4648), cmocka_unit_test(test_decode_rfc4648),
        cmocka_unit_test(test_decode_lenient), cmocka_unit_test(test_decode_refusals),
        cmocka_unit_test(test_buffer_sizes),   cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_symbol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
