/* Unit tests of src/core/otpauth.c: the exact URI built for enrolment,
 * round trips (spaces, colons, non-ASCII in issuer and account), parsing of
 * URIs other apps write, defaults, and refusal of malformed URIs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/otpauth.h"
#include "core/secrets.h"

static const uint8_t secret20[] = "12345678901234567890";

static void test_uri_exact(void **state)
{
    (void)state;
    char *uri = otpauth_uri("ACME Co", "alice@example.com", secret20, 20, OTP_SHA1, 6, 30);
    assert_non_null(uri);
    assert_string_equal(uri, "otpauth://totp/ACME%20Co:alice%40example.com"
                             "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Co"
                             "&algorithm=SHA1&digits=6&period=30");
    free(uri);
    uri = otpauth_uri("a:b", "c:d e~f", secret20, 5, OTP_SHA512, 8, 60);
    assert_non_null(uri);
    assert_string_equal(uri, "otpauth://totp/a%3Ab:c%3Ad%20e~f?secret=GEZDGNBV&issuer=a%3Ab"
                             "&algorithm=SHA512&digits=8&period=60");
    free(uri);
    /* no issuer: neither prefix nor parameter */
    uri = otpauth_uri(NULL, "bob", secret20, 20, OTP_SHA256, 6, 30);
    assert_string_equal(uri, "otpauth://totp/bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                             "&algorithm=SHA256&digits=6&period=30");
    free(uri);
    uri = otpauth_uri("", "bob", secret20, 20, OTP_SHA1, 6, 30);
    assert_null(strstr(uri, "issuer"));
    free(uri);
}

static void test_uri_bad_arguments(void **state)
{
    (void)state;
    uint8_t big[65] = {0};
    assert_null(otpauth_uri("x", NULL, secret20, 20, OTP_SHA1, 6, 30));
    assert_null(otpauth_uri("x", "", secret20, 20, OTP_SHA1, 6, 30));
    assert_null(otpauth_uri("x", "a", secret20, 0, OTP_SHA1, 6, 30));
    assert_null(otpauth_uri("x", "a", big, 65, OTP_SHA1, 6, 30));
    assert_null(otpauth_uri("x", "a", secret20, 20, (enum otp_algo)5, 6, 30));
    assert_null(otpauth_uri("x", "a", secret20, 20, OTP_SHA1, 5, 30));
    assert_null(otpauth_uri("x", "a", secret20, 20, OTP_SHA1, 11, 30));
    assert_null(otpauth_uri("x", "a", secret20, 20, OTP_SHA1, 6, 0));
}

static void round_trip(const char *issuer, const char *account, size_t secret_len,
                       enum otp_algo algo, unsigned digits, unsigned period)
{
    uint8_t secret[64];
    random_bytes(secret, secret_len);
    char *uri = otpauth_uri(issuer, account, secret, secret_len, algo, digits, period);
    assert_non_null(uri);
    /* nothing outside the URI-safe ASCII set, and the separators are literal */
    for (const char *p = uri; *p; p++)
        assert_true(*p > 0x20 && *p < 0x7f && *p != ' ');
    struct otpauth o;
    assert_int_equal(otpauth_parse(uri, &o), 0);
    assert_string_equal(o.issuer, issuer ? issuer : "");
    assert_string_equal(o.account, account);
    assert_int_equal(o.secret_len, secret_len);
    assert_memory_equal(o.secret, secret, secret_len);
    assert_int_equal(o.algo, algo);
    assert_int_equal(o.digits, digits);
    assert_int_equal(o.period, period);
    free(uri);
}

static void test_round_trips(void **state)
{
    (void)state;
    round_trip("ACME Co", "alice@example.com", 20, OTP_SHA1, 6, 30);
    round_trip("Big: Corp", "alice: the admin", 20, OTP_SHA1, 6, 30);
    round_trip("Zürich Bank", "José Müller", 32, OTP_SHA256, 8, 60);
    round_trip("日本銀行", "山田 太郎", 64, OTP_SHA512, 10, 15);
    round_trip("a+b&c=d?e#f%g/h", "x+y&z=w?v#u%t/s", 1, OTP_SHA1, 7, 1);
    round_trip(NULL, "no issuer:here", 20, OTP_SHA1, 6, 30);
    round_trip("emoji 🔐", "~user.name_1-2", 16, OTP_SHA1, 6, 86400);
}

static void test_parse_foreign(void **state)
{
    (void)state;
    struct otpauth o;
    /* Google's example */
    assert_int_equal(otpauth_parse("otpauth://totp/Example:alice@google.com?"
                                   "secret=JBSWY3DPEHPK3PXP&issuer=Example",
                                   &o),
                     0);
    assert_string_equal(o.issuer, "Example");
    assert_string_equal(o.account, "alice@google.com");
    assert_int_equal(o.secret_len, 10);
    assert_memory_equal(o.secret, "Hello!\xde\xad\xbe\xef", 10);
    assert_int_equal(o.algo, OTP_SHA1);
    assert_int_equal(o.digits, 6);
    assert_int_equal(o.period, 30);
    /* separator encoded as %3A with a space before the account */
    assert_int_equal(otpauth_parse("otpauth://totp/ACME%20Co%3A%20john.doe%40email.com?"
                                   "secret=jbsw-y3dp-ehpk-3pxp&issuer=ACME+Co&algorithm=sha256&"
                                   "digits=8&period=60&image=https%3A%2F%2Fx",
                                   &o),
                     0);
    assert_string_equal(o.issuer, "ACME Co");
    assert_string_equal(o.account, "john.doe@email.com");
    assert_int_equal(o.algo, OTP_SHA256);
    assert_int_equal(o.digits, 8);
    assert_int_equal(o.period, 60);
    /* issuer only in the label; scheme and type in capitals; padded secret */
    assert_int_equal(otpauth_parse("OTPAUTH://TOTP/Corp:bob?secret=MZXW6YTBOI======", &o), 0);
    assert_string_equal(o.issuer, "Corp");
    assert_string_equal(o.account, "bob");
    assert_int_equal(o.secret_len, 6);
    /* no issuer at all */
    assert_int_equal(otpauth_parse("otpauth://totp/bob?secret=MZXW6YTBOI", &o), 0);
    assert_string_equal(o.issuer, "");
    assert_string_equal(o.account, "bob");
    /* the parameter wins over the label prefix */
    assert_int_equal(otpauth_parse("otpauth://totp/Old:bob?secret=MZXW6YTBOI&issuer=New", &o), 0);
    assert_string_equal(o.issuer, "New");
}

static void test_parse_refusals(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "otpauth://",
        "http://totp/a?secret=MZXW6YTBOI",
        "otpauth://hotp/a?secret=MZXW6YTBOI&counter=1",
        "otpauth://totp/a",                          /* no secret */
        "otpauth://totp/a?issuer=x",                 /* no secret */
        "otpauth://totp/a?secret=",                  /* empty secret */
        "otpauth://totp/a?secret=MZXW6YTB1",         /* bad base32 */
        "otpauth://totp/a?secret=MZX",               /* impossible length */
        "otpauth://totp/?secret=MZXW6YTBOI",         /* no account */
        "otpauth://totp/x:?secret=MZXW6YTBOI",       /* no account */
        "otpauth://totp/x:%20%20?secret=MZXW6YTBOI", /* only spaces */
        "otpauth://totp/a?secret=MZXW6YTBOI&secret=MZXW6YTBOI",
        "otpauth://totp/a?secret=MZXW6YTBOI&digits=5",
        "otpauth://totp/a?secret=MZXW6YTBOI&digits=11",
        "otpauth://totp/a?secret=MZXW6YTBOI&digits=6x",
        "otpauth://totp/a?secret=MZXW6YTBOI&digits=+6",
        "otpauth://totp/a?secret=MZXW6YTBOI&digits=",
        "otpauth://totp/a?secret=MZXW6YTBOI&period=0",
        "otpauth://totp/a?secret=MZXW6YTBOI&period=86401",
        "otpauth://totp/a?secret=MZXW6YTBOI&period=-30",
        "otpauth://totp/a?secret=MZXW6YTBOI&algorithm=MD5",
        "otpauth://totp/a?secret=MZXW6YTBOI&algorithm=",
        "otpauth://totp/a?secret=MZXW6YTBOI&issuer=",
        "otpauth://totp/a%?secret=MZXW6YTBOI", /* bad escape */
        "otpauth://totp/a%4?secret=MZXW6YTBOI",
        "otpauth://totp/a%zz?secret=MZXW6YTBOI",
        "otpauth://totp/a%00b?secret=MZXW6YTBOI",        /* NUL */
        "otpauth://totp/a%0Ab?secret=MZXW6YTBOI",        /* control */
        "otpauth://totp/a%C3?secret=MZXW6YTBOI",         /* truncated UTF-8 */
        "otpauth://totp/a%C0%AF?secret=MZXW6YTBOI",      /* overlong */
        "otpauth://totp/a%ED%A0%80?secret=MZXW6YTBOI",   /* surrogate */
        "otpauth://totp/a?secret=MZXW6YTBOI&issuer=%FF", /* not UTF-8 */
        "otpauth://totp/a?secret=MZXW6YTBOI#frag",
        "otpauth://totp/a?secret=MZXW6YTBOIMZXW6YTBOIMZXW6YTBOIMZXW6YTBOIMZXW6YTBOIMZXW6YTBOI"
        "MZXW6YTBOIMZXW6YTBOIMZXW6YTBOIMZXW6YTBOIMZXW6YTBOIMZXW6YTBOI", /* 72-byte secret */
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct otpauth o;
        memset(&o, 0xaa, sizeof(o));
        int rc = otpauth_parse(bad[i], &o);
        if (rc != OG_ERR_INVALID)
            fail_msg("accepted or wrong error %d: %s", rc, bad[i]);
        /* nothing is left behind */
        assert_int_equal(o.secret_len, 0);
        assert_int_equal(o.secret[0], 0);
    }
    assert_int_equal(otpauth_parse(NULL, &(struct otpauth){0}), OG_ERR_INVALID);
}

static void test_parse_limits(void **state)
{
    (void)state;
    struct otpauth o;
    char uri[OTPAUTH_MAX_URI + 64];
    /* an account of 255 bytes fits, 256 does not */
    for (int len = 255; len <= 256; len++) {
        size_t n = (size_t)snprintf(uri, sizeof(uri), "otpauth://totp/");
        memset(uri + n, 'a', (size_t)len);
        n += (size_t)len;
        snprintf(uri + n, sizeof(uri) - n, "?secret=MZXW6YTBOI");
        assert_int_equal(otpauth_parse(uri, &o), len == 255 ? 0 : OG_ERR_INVALID);
    }
    /* an issuer of 127 bytes fits, 128 does not */
    for (int len = 127; len <= 128; len++) {
        size_t n = (size_t)snprintf(uri, sizeof(uri), "otpauth://totp/");
        memset(uri + n, 'i', (size_t)len);
        n += (size_t)len;
        snprintf(uri + n, sizeof(uri) - n, ":bob?secret=MZXW6YTBOI");
        assert_int_equal(otpauth_parse(uri, &o), len == 127 ? 0 : OG_ERR_INVALID);
    }
    /* over the hard limit */
    size_t n = (size_t)snprintf(uri, sizeof(uri), "otpauth://totp/a?secret=MZXW6YTBOI&x=");
    memset(uri + n, 'x', sizeof(uri) - n - 1);
    uri[sizeof(uri) - 1] = '\0';
    assert_int_equal(otpauth_parse(uri, &o), OG_ERR_TOO_BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_exact),      cmocka_unit_test(test_uri_bad_arguments),
        cmocka_unit_test(test_round_trips),    cmocka_unit_test(test_parse_foreign),
        cmocka_unit_test(test_parse_refusals), cmocka_unit_test(test_parse_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
