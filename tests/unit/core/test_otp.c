/* Unit tests of src/core/otp.c: every RFC 4226 Appendix D and RFC 6238
 * Appendix B vector, formatting, argument checks, the window / replay /
 * wrong-code / spaces rules of otp_totp_check, and a cross-check against
 * Debian's oathtool when it is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base32.h"
#include "core/otp.h"
#include "core/secrets.h"

static const uint8_t seed20[] = "12345678901234567890";
static const uint8_t seed32[] = "12345678901234567890123456789012";
static const uint8_t seed64[] = "1234567890123456789012345678901234567890123456789012345678901234";

static void test_algo_names(void **state)
{
    (void)state;
    assert_string_equal(otp_algo_name(OTP_SHA1), "SHA1");
    assert_string_equal(otp_algo_name(OTP_SHA256), "SHA256");
    assert_string_equal(otp_algo_name(OTP_SHA512), "SHA512");
    assert_null(otp_algo_name((enum otp_algo)7));
}

/* RFC 4226 Appendix D. */
static void test_hotp_rfc4226(void **state)
{
    (void)state;
    static const uint32_t want[10] = {755224, 287082, 359152, 969429, 338314,
                                      254676, 287922, 162583, 399871, 520489};
    for (uint64_t c = 0; c < 10; c++) {
        uint32_t v = 0;
        assert_int_equal(otp_hotp(seed20, 20, c, 6, OTP_SHA1, &v), 0);
        assert_int_equal(v, want[c]);
    }
}

/* RFC 6238 Appendix B: all 18 rows. */
static void test_totp_rfc6238(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        enum otp_algo algo;
        const char *code;
    } rows[] = {
        {59, OTP_SHA1, "94287082"},
        {59, OTP_SHA256, "46119246"},
        {59, OTP_SHA512, "90693936"},
        {1111111109, OTP_SHA1, "07081804"},
        {1111111109, OTP_SHA256, "68084774"},
        {1111111109, OTP_SHA512, "25091201"},
        {1111111111, OTP_SHA1, "14050471"},
        {1111111111, OTP_SHA256, "67062674"},
        {1111111111, OTP_SHA512, "99943326"},
        {1234567890, OTP_SHA1, "89005924"},
        {1234567890, OTP_SHA256, "91819424"},
        {1234567890, OTP_SHA512, "93441116"},
        {2000000000, OTP_SHA1, "69279037"},
        {2000000000, OTP_SHA256, "90698825"},
        {2000000000, OTP_SHA512, "38618901"},
        {20000000000, OTP_SHA1, "65353130"},
        {20000000000, OTP_SHA256, "77737706"},
        {20000000000, OTP_SHA512, "47863826"},
    };
    assert_int_equal(ARRAY_SIZE(rows), 18);
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
        const uint8_t *key = rows[i].algo == OTP_SHA1     ? seed20
                             : rows[i].algo == OTP_SHA256 ? seed32
                                                          : seed64;
        size_t keylen = rows[i].algo == OTP_SHA1 ? 20 : rows[i].algo == OTP_SHA256 ? 32 : 64;
        uint32_t v = 0;
        char buf[16];
        assert_int_equal(otp_totp(key, keylen, rows[i].t, 30, 8, rows[i].algo, &v), 0);
        otp_format(v, 8, buf);
        assert_string_equal(buf, rows[i].code);
    }
}

static void test_format(void **state)
{
    (void)state;
    char buf[16];
    otp_format(0, 6, buf);
    assert_string_equal(buf, "000000");
    otp_format(42, 6, buf);
    assert_string_equal(buf, "000042");
    otp_format(7081804, 8, buf);
    assert_string_equal(buf, "07081804");
    otp_format(2147483647u, 10, buf);
    assert_string_equal(buf, "2147483647");
    otp_format(123, 10, buf);
    assert_string_equal(buf, "0000000123");
}

static void test_bad_arguments(void **state)
{
    (void)state;
    uint32_t v = 0;
    assert_int_equal(otp_hotp(seed20, 20, 0, 5, OTP_SHA1, &v), OG_ERR_INVALID);
    assert_int_equal(otp_hotp(seed20, 20, 0, 11, OTP_SHA1, &v), OG_ERR_INVALID);
    assert_int_equal(otp_hotp(seed20, 0, 0, 6, OTP_SHA1, &v), OG_ERR_INVALID);
    assert_int_equal(otp_hotp(NULL, 20, 0, 6, OTP_SHA1, &v), OG_ERR_INVALID);
    assert_int_equal(otp_hotp(seed20, 20, 0, 6, (enum otp_algo)9, &v), OG_ERR_INVALID);
    assert_int_equal(otp_totp(seed20, 20, 59, 0, 6, OTP_SHA1, &v), OG_ERR_INVALID);
    assert_int_equal(otp_totp(seed20, 20, -1, 30, 6, OTP_SHA1, &v), OG_ERR_INVALID);
    /* 10 digits: the 31-bit truncated value itself */
    assert_int_equal(otp_hotp(seed20, 20, 0, 10, OTP_SHA1, &v), 0);
    assert_int_equal(v % 1000000, 755224);
}

static void code_at(int64_t t, char out[7])
{
    uint32_t v = 0;
    assert_int_equal(otp_totp(seed20, 20, t, 30, 6, OTP_SHA1, &v), 0);
    otp_format(v, 6, out);
}

#define NOW  1111111111 /* step 37037037, 1 s into it */
#define STEP 37037037

static enum otp_check check(const char *code, unsigned window, int64_t last, int64_t *matched)
{
    return otp_totp_check(seed20, 20, code, NOW, 30, 6, OTP_SHA1, window, last, matched);
}

static void test_check_window(void **state)
{
    (void)state;
    char c[7];
    int64_t m = -5;
    for (int d = -1; d <= 1; d++) {
        code_at(NOW + d * 30, c);
        assert_int_equal(check(c, 1, -1, &m), OTP_CHECK_OK);
        assert_int_equal(m, STEP + d);
    }
    code_at(NOW - 60, c);
    assert_int_equal(check(c, 1, -1, &m), OTP_CHECK_WRONG);
    assert_int_equal(check(c, 2, -1, &m), OTP_CHECK_OK);
    assert_int_equal(m, STEP - 2);
    code_at(NOW + 60, c);
    assert_int_equal(check(c, 1, -1, &m), OTP_CHECK_WRONG);
    code_at(NOW + 30, c);
    assert_int_equal(check(c, 0, -1, &m), OTP_CHECK_WRONG);
    code_at(NOW, c);
    assert_int_equal(check(c, 0, -1, &m), OTP_CHECK_OK);
    assert_int_equal(m, STEP);
    /* matched_step may be NULL */
    assert_int_equal(check(c, 1, -1, NULL), OTP_CHECK_OK);
    /* windows past the limit are refused */
    assert_int_equal(check(c, OTP_MAX_WINDOW + 1, -1, &m), OTP_CHECK_WRONG);
}

static void test_check_replay(void **state)
{
    (void)state;
    char c[7];
    int64_t m = 0;
    code_at(NOW, c);
    assert_int_equal(check(c, 1, -1, &m), OTP_CHECK_OK);
    assert_int_equal(m, STEP);
    /* the same step again, or any step up to it */
    assert_int_equal(check(c, 1, STEP, &m), OTP_CHECK_REPLAY);
    assert_int_equal(check(c, 1, STEP + 1, &m), OTP_CHECK_REPLAY);
    code_at(NOW - 30, c);
    assert_int_equal(check(c, 1, STEP, &m), OTP_CHECK_REPLAY);
    /* a later step is still fine after an earlier one was used */
    code_at(NOW + 30, c);
    m = 0;
    assert_int_equal(check(c, 1, STEP, &m), OTP_CHECK_OK);
    assert_int_equal(m, STEP + 1);
    /* a code of no step in the window is wrong, not a replay */
    assert_int_equal(check("000000", 1, STEP + 5, &m), OTP_CHECK_WRONG);
}

static void test_check_input(void **state)
{
    (void)state;
    char c[7], spaced[16];
    int64_t m = 0;
    code_at(NOW, c);
    snprintf(spaced, sizeof(spaced), "%.3s %.3s", c, c + 3);
    assert_int_equal(check(spaced, 1, -1, &m), OTP_CHECK_OK);
    snprintf(spaced, sizeof(spaced), "  %s ", c);
    assert_int_equal(check(spaced, 1, -1, &m), OTP_CHECK_OK);
    snprintf(spaced, sizeof(spaced), "%.1s %.1s %.1s %.1s %.1s %.1s", c, c + 1, c + 2, c + 3, c + 4,
             c + 5);
    assert_int_equal(check(spaced, 1, -1, &m), OTP_CHECK_OK);
    /* too short, too long, other separators, letters, empty */
    assert_int_equal(check(c + 1, 1, -1, &m), OTP_CHECK_WRONG);
    snprintf(spaced, sizeof(spaced), "%s0", c);
    assert_int_equal(check(spaced, 1, -1, &m), OTP_CHECK_WRONG);
    snprintf(spaced, sizeof(spaced), "%.3s-%.3s", c, c + 3);
    assert_int_equal(check(spaced, 1, -1, &m), OTP_CHECK_WRONG);
    snprintf(spaced, sizeof(spaced), "%.5sa", c);
    assert_int_equal(check(spaced, 1, -1, &m), OTP_CHECK_WRONG);
    snprintf(spaced, sizeof(spaced), "+%.5s", c);
    assert_int_equal(check(spaced, 1, -1, &m), OTP_CHECK_WRONG);
    assert_int_equal(check("", 1, -1, &m), OTP_CHECK_WRONG);
    assert_int_equal(check("      ", 1, -1, &m), OTP_CHECK_WRONG);
    assert_int_equal(check(NULL, 1, -1, &m), OTP_CHECK_WRONG);
    /* a wrong code of the right shape */
    snprintf(spaced, sizeof(spaced), "%s", c);
    spaced[5] = (char)(spaced[5] == '9' ? '0' : spaced[5] + 1);
    assert_int_equal(check(spaced, 1, -1, &m), OTP_CHECK_WRONG);
}

static void test_check_8_digits_sha256(void **state)
{
    (void)state;
    int64_t m = 0;
    assert_int_equal(
        otp_totp_check(seed32, 32, "9181 9424", 1234567890, 30, 8, OTP_SHA256, 1, -1, &m),
        OTP_CHECK_OK);
    assert_int_equal(m, 1234567890 / 30);
    /* the 6-digit form of an 8-digit code is not accepted */
    assert_int_equal(otp_totp_check(seed32, 32, "819424", 1234567890, 30, 8, OTP_SHA256, 1, -1, &m),
                     OTP_CHECK_WRONG);
    /* near the epoch, steps before 0 are skipped */
    assert_int_equal(otp_totp_check(seed20, 20, "94287082", 59, 30, 8, OTP_SHA1, 3, -1, &m),
                     OTP_CHECK_OK);
    assert_int_equal(m, 1);
}

/* Runs oathtool and returns its first line in out; false on failure. */
static bool oathtool(const char *args, char *out, size_t outlen)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "/usr/bin/oathtool %s", args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    bool ok = fgets(out, (int)outlen, p) != NULL;
    int st = pclose(p);
    if (!ok || st != 0)
        return false;
    out[strcspn(out, "\r\n")] = '\0';
    return true;
}

static void test_oathtool_cross_check(void **state)
{
    (void)state;
    if (access("/usr/bin/oathtool", X_OK) != 0)
        skip();
    static const struct {
        enum otp_algo algo;
        const char *flag;
        size_t keylen;
        unsigned digits;
        unsigned period;
    } cases[] = {
        {OTP_SHA1, "--totp", 20, 6, 30},          {OTP_SHA1, "--totp", 10, 8, 60},
        {OTP_SHA256, "--totp=sha256", 32, 6, 30}, {OTP_SHA512, "--totp=sha512", 64, 8, 30},
        {OTP_SHA1, "--totp", 32, 7, 15},
    };
    static const int64_t times[] = {0, 59, 1111111109, 1234567890, 1700000000, 2000000000};
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint8_t key[64];
        random_bytes(key, cases[i].keylen);
        char b32[128];
        assert_true(base32_encode(key, cases[i].keylen, false, b32, sizeof(b32)) > 0);
        for (size_t j = 0; j < ARRAY_SIZE(times); j++) {
            char args[256], got[64], mine[16];
            snprintf(args, sizeof(args), "%s -b -d %u -s %us --now '@%lld' %s", cases[i].flag,
                     cases[i].digits, cases[i].period, (long long)times[j], b32);
            assert_true(oathtool(args, got, sizeof(got)));
            uint32_t v = 0;
            assert_int_equal(otp_totp(key, cases[i].keylen, times[j], cases[i].period,
                                      cases[i].digits, cases[i].algo, &v),
                             0);
            otp_format(v, cases[i].digits, mine);
            assert_string_equal(mine, got);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_algo_names),
        cmocka_unit_test(test_hotp_rfc4226),
        cmocka_unit_test(test_totp_rfc6238),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_check_window),
        cmocka_unit_test(test_check_replay),
        cmocka_unit_test(test_check_input),
        cmocka_unit_test(test_check_8_digits_sha256),
        cmocka_unit_test(test_oathtool_cross_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
