/* Unit tests of src/core/jwt.c: strict base64url, the RFC 7515 Appendix A.1
 * (HS256) and A.3 (ES256) examples, sign/verify round trips, refusal of alg
 * none, alg swaps, tampering and malformed or oversized tokens, the time
 * checks, and P-256 keys: DER round trip, JWK and an RFC 7638 thumbprint
 * computed independently here with OpenSSL's own base64 and SHA-256. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "core/jwt.h"

/* RFC 7515 Appendix A.1. */
static const char A1_TOKEN[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
                               ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcG"
                               "xlLmNvbS9pc19yb290Ijp0cnVlfQ"
                               ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char A1_KEY[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

/* RFC 7515 Appendix A.3. */
static const char A3_TOKEN[] =
    "eyJhbGciOiJFUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlf"
    "Q"
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
static const char A3_X[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char A3_Y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

static const uint8_t KEY[] = "a client secret of 43 chars, more or less!!";

static uint8_t *decode(const char *s, size_t *n)
{
    uint8_t *out;
    assert_int_equal(b64url_decode(s, strlen(s), &out, n), 0);
    return out;
}

static char *b64_of(const char *s)
{
    return b64url_encode((const uint8_t *)s, strlen(s));
}

/* "b64(header).b64(payload).sig" from plain JSON texts. */
static char *make_token(const char *header, const char *payload, const char *sig)
{
    char *h = b64_of(header), *p = b64_of(payload);
    size_t n = strlen(h) + strlen(p) + strlen(sig) + 3;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%s.%s.%s", h, p, sig);
    free(h);
    free(p);
    return out;
}

/* The JSON object of one part (0 header, 1 payload) of a token. */
static json_t *token_part(const char *token, int part)
{
    const char *start = token;
    for (int i = 0; i < part; i++)
        start = strchr(start, '.') + 1;
    const char *end = strchr(start, '.');
    uint8_t *raw;
    size_t n;
    assert_int_equal(b64url_decode(start, (size_t)(end - start), &raw, &n), 0);
    json_t *v = json_loadb((const char *)raw, n, 0, NULL);
    free(raw);
    assert_non_null(v);
    return v;
}

/* ---- base64url ---- */

static void test_b64url_vectors(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *e = b64_of(plain[i]);
        assert_string_equal(e, enc[i]);
        free(e);
        size_t n;
        uint8_t *d = decode(enc[i], &n);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
        free(d);
    }
    uint8_t all[256];
    for (size_t i = 0; i < sizeof(all); i++)
        all[i] = (uint8_t)i;
    char *e = b64url_encode(all, sizeof(all));
    assert_null(strpbrk(e, "+/="));
    size_t n;
    uint8_t *d = decode(e, &n);
    assert_int_equal(n, sizeof(all));
    assert_memory_equal(d, all, n);
    free(d);
    free(e);
}

static void test_b64url_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {"Zg==", "Zm8=", "Z",  "Zm9vY", "Zm+v",
                                      "Zm/v", "Zm9 ", "Zh", "Zm9",   "Zm9vYh"};
    /* "Zh", "Zm9" and "Zm9vYh" have non-zero unused bits ("fo" is "Zm8"). */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *out = (uint8_t *)"x";
        size_t n = 99;
        int rc = b64url_decode(bad[i], strlen(bad[i]), &out, &n);
        assert_int_equal(rc, OG_ERR_INVALID);
        assert_null(out);
    }
    uint8_t *out;
    size_t n;
    assert_int_equal(b64url_decode("Zm\0v", 4, &out, &n), OG_ERR_INVALID);
}

/* ---- HS256 ---- */

static void test_rfc7515_a1(void **state)
{
    (void)state;
    size_t keylen;
    uint8_t *key = decode(A1_KEY, &keylen);
    json_t *claims = NULL;
    assert_int_equal(jwt_hs256_verify(A1_TOKEN, key, keylen, &claims), 0);
    assert_string_equal(json_string_value(json_object_get(claims, "iss")), "joe");
    assert_int_equal(json_integer_value(json_object_get(claims, "exp")), 1300819380);
    assert_true(json_is_true(json_object_get(claims, "http://example.com/is_root")));
    json_decref(claims);

    /* The wrong key. */
    key[0] ^= 1;
    assert_int_equal(jwt_hs256_verify(A1_TOKEN, key, keylen, &claims), OG_ERR_CRYPTO);
    assert_null(claims);
    key[0] ^= 1;
    assert_int_equal(jwt_hs256_verify(A1_TOKEN, key, keylen - 1, &claims), OG_ERR_CRYPTO);
    assert_int_equal(jwt_hs256_verify(A1_TOKEN, key, 0, &claims), OG_ERR_INVALID);
    free(key);
}

static void test_hs256_tampered(void **state)
{
    (void)state;
    size_t keylen;
    uint8_t *key = decode(A1_KEY, &keylen);
    json_t *claims = NULL;
    size_t len = strlen(A1_TOKEN);
    char *t = strdup(A1_TOKEN);
    const char *dot1 = strchr(A1_TOKEN, '.');
    const char *dot2 = strrchr(A1_TOKEN, '.');

    /* One payload character changed. */
    size_t i = (size_t)(dot1 - A1_TOKEN) + 5;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    assert_int_not_equal(jwt_hs256_verify(t, key, keylen, &claims), 0);
    assert_null(claims);
    memcpy(t, A1_TOKEN, len + 1);

    /* One signature character changed. */
    i = (size_t)(dot2 - A1_TOKEN) + 3;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    assert_int_equal(jwt_hs256_verify(t, key, keylen, &claims), OG_ERR_CRYPTO);
    memcpy(t, A1_TOKEN, len + 1);

    /* Signature cut short, or with a byte too many. */
    t[len - 1] = '\0';
    assert_int_not_equal(jwt_hs256_verify(t, key, keylen, &claims), 0);
    free(t);
    size_t n = len + 3;
    t = malloc(n);
    snprintf(t, n, "%sAA", A1_TOKEN);
    assert_int_not_equal(jwt_hs256_verify(t, key, keylen, &claims), 0);
    free(t);

    /* A payload swapped in from another token with the same header. */
    json_t *other = json_pack("{s:s}", "iss", "mallory");
    char *forged = jwt_hs256_sign(other, (const uint8_t *)"other key", 9);
    json_decref(other);
    const char *fd1 = strchr(forged, '.'), *fd2 = strrchr(forged, '.');
    n = len + strlen(forged);
    t = malloc(n);
    snprintf(t, n, "%.*s%.*s%s", (int)(dot1 - A1_TOKEN), A1_TOKEN, (int)(fd2 - fd1), fd1, dot2);
    assert_int_equal(jwt_hs256_verify(t, key, keylen, &claims), OG_ERR_CRYPTO);
    free(t);
    free(forged);
    assert_null(claims);
    free(key);
}

static void test_hs256_round_trip(void **state)
{
    (void)state;
    json_t *in =
        json_pack("{s:s, s:s, s:I, s:I, s:s}", "iss", "app_x", "login_hint", "user 42 ü", "iat",
                  (json_int_t)1700000000, "exp", (json_int_t)1700000300, "jti", "j1");
    char *tok = jwt_hs256_sign(in, KEY, sizeof(KEY) - 1);
    assert_non_null(tok);
    json_t *h = token_part(tok, 0);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "HS256");
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    json_decref(h);

    json_t *out = NULL;
    assert_int_equal(jwt_hs256_verify(tok, KEY, sizeof(KEY) - 1, &out), 0);
    assert_true(json_equal(in, out));
    json_decref(out);
    assert_int_equal(jwt_hs256_verify(tok, KEY, sizeof(KEY) - 2, &out), OG_ERR_CRYPTO);
    free(tok);

    /* Only objects are signed; an empty key is refused. */
    json_t *arr = json_array();
    assert_null(jwt_hs256_sign(arr, KEY, sizeof(KEY) - 1));
    assert_null(jwt_hs256_sign(in, KEY, 0));
    json_decref(arr);
    json_decref(in);
}

static void test_hs256_bad_alg(void **state)
{
    (void)state;
    static const char *const headers[] = {
        "{\"alg\":\"none\"}",
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS512\"}",
        "{\"alg\":\"hs256\"}",
        "{\"alg\":\"ES256\"}",
        "{\"typ\":\"JWT\"}",
        "{\"alg\":null}",
        "{\"alg\":[\"HS256\"]}",
        "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
        "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
        "[\"HS256\"]",
        "not json",
    };
    const char *payload = "{\"sub\":\"u1\"}";
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        /* Even a signature that is right for the signing input. */
        char *input = make_token(headers[i], payload, "");
        size_t ilen = strlen(input) - 1;
        uint8_t mac[32];
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, KEY, sizeof(KEY) - 1,
                                  (const unsigned char *)input, ilen, mac, sizeof(mac), NULL));
        char *sig = b64url_encode(mac, sizeof(mac));
        char *tok = make_token(headers[i], payload, sig);
        json_t *claims = NULL;
        assert_int_equal(jwt_hs256_verify(tok, KEY, sizeof(KEY) - 1, &claims), OG_ERR_INVALID);
        assert_null(claims);
        free(tok);
        free(sig);
        free(input);
    }
    /* alg none with an empty signature. */
    char *tok = make_token("{\"alg\":\"none\"}", payload, "");
    json_t *claims = NULL;
    assert_int_equal(jwt_hs256_verify(tok, KEY, sizeof(KEY) - 1, &claims), OG_ERR_INVALID);
    free(tok);
}

static void test_hs256_malformed(void **state)
{
    (void)state;
    json_t *in = json_pack("{s:s}", "sub", "u1");
    char *good = jwt_hs256_sign(in, KEY, sizeof(KEY) - 1);
    json_decref(in);
    json_t *claims = NULL;
    size_t n = strlen(good) + 16;
    char *t = malloc(n);

    const char *bad[] = {"", ".", "..", "a.b", "a.b.c.d", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(jwt_hs256_verify(bad[i], KEY, sizeof(KEY) - 1, &claims), OG_ERR_INVALID);
    assert_int_equal(jwt_hs256_verify(NULL, KEY, sizeof(KEY) - 1, &claims), OG_ERR_INVALID);

    snprintf(t, n, "%s=", good); /* padding */
    assert_int_equal(jwt_hs256_verify(t, KEY, sizeof(KEY) - 1, &claims), OG_ERR_INVALID);
    snprintf(t, n, "%s.", good); /* a fourth, empty part */
    assert_int_equal(jwt_hs256_verify(t, KEY, sizeof(KEY) - 1, &claims), OG_ERR_INVALID);
    snprintf(t, n, " %s", good);
    assert_int_equal(jwt_hs256_verify(t, KEY, sizeof(KEY) - 1, &claims), OG_ERR_INVALID);
    free(t);
    free(good);

    /* Signed properly, but the payload is not an object or has duplicates. */
    static const char *const payloads[] = {"[1,2]", "\"s\"", "{\"a\":1,\"a\":2}",
                                           "{\"a\":", "{\"a\":\"\\u0000\"}"};
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        char *input = make_token("{\"alg\":\"HS256\"}", payloads[i], "");
        uint8_t mac[32];
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, KEY, sizeof(KEY) - 1,
                                  (const unsigned char *)input, strlen(input) - 1, mac, sizeof(mac),
                                  NULL));
        char *sig = b64url_encode(mac, sizeof(mac));
        char *tok = make_token("{\"alg\":\"HS256\"}", payloads[i], sig);
        assert_int_equal(jwt_hs256_verify(tok, KEY, sizeof(KEY) - 1, &claims), OG_ERR_INVALID);
        assert_null(claims);
        free(tok);
        free(sig);
        free(input);
    }
}

/* A token of exactly len bytes (pads a claim), or shorter by at most 3. */
static char *token_of_len(size_t len)
{
    json_t *in = json_pack("{s:s}", "pad", "");
    char *tok = jwt_hs256_sign(in, KEY, sizeof(KEY) - 1);
    size_t base = strlen(tok);
    free(tok);
    /* Each 3 bytes of claim add 4 chars of base64url. */
    size_t padn = (len - base) / 4 * 3;
    char *pad = malloc(padn + 1);
    memset(pad, 'x', padn);
    pad[padn] = '\0';
    json_object_set_new(in, "pad", json_string(pad));
    free(pad);
    tok = jwt_hs256_sign(in, KEY, sizeof(KEY) - 1);
    json_decref(in);
    return tok;
}

static void test_hs256_size_limit(void **state)
{
    (void)state;
    json_t *claims = NULL;
    char *tok = token_of_len(JWT_MAX_LEN);
    assert_true(strlen(tok) <= JWT_MAX_LEN);
    assert_true(strlen(tok) > JWT_MAX_LEN - 4);
    assert_int_equal(jwt_hs256_verify(tok, KEY, sizeof(KEY) - 1, &claims), 0);
    json_decref(claims);
    free(tok);

    tok = token_of_len(JWT_MAX_LEN + 8);
    assert_true(strlen(tok) > JWT_MAX_LEN);
    assert_int_equal(jwt_hs256_verify(tok, KEY, sizeof(KEY) - 1, &claims), OG_ERR_TOO_BIG);
    assert_null(claims);
    free(tok);
}

/* ---- times ---- */

static json_t *times(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *v = json_vpack_ex(NULL, 0, fmt, ap);
    va_end(ap);
    assert_non_null(v);
    return v;
}

static void expect_times(json_t *c, int64_t now, int64_t max_age, int64_t leeway, const char *why)
{
    const char *got = "unset";
    int rc = jwt_check_times(c, now, max_age, leeway, &got);
    if (why) {
        assert_int_equal(rc, OG_ERR_INVALID);
        assert_non_null(got);
        assert_string_equal(got, why);
    } else {
        assert_int_equal(rc, 0);
        assert_null(got);
    }
    json_decref(c);
}

static void test_check_lifetime(void **state)
{
    (void)state;
    json_t *c = json_pack("{s:I,s:I}", "iat", (json_int_t)1000, "exp", (json_int_t)1300);
    assert_true(jwt_check_lifetime(c, 300));
    assert_false(jwt_check_lifetime(c, 299));
    json_object_set_new(c, "exp", json_real(1302.5));
    assert_true(jwt_check_lifetime(c, 302));
    assert_false(jwt_check_lifetime(c, 301));
    json_object_set_new(c, "exp", json_integer(INT64_MAX));
    assert_false(jwt_check_lifetime(c, 300));
    json_object_del(c, "iat");
    assert_false(jwt_check_lifetime(c, 300));
    json_object_set_new(c, "iat", json_string("1000"));
    assert_false(jwt_check_lifetime(c, 300));
    json_decref(c);
    assert_false(jwt_check_lifetime(NULL, 300));
}

static void test_check_times(void **state)
{
    (void)state;
    const int64_t now = 1700000000;
    expect_times(times("{s:I, s:I}", "exp", (json_int_t)now + 300, "iat", (json_int_t)now), now,
                 600, 30, NULL);
    expect_times(times("{s:I}", "iat", (json_int_t)now), now, 600, 30, "missing exp");
    expect_times(times("{s:I}", "exp", (json_int_t)now + 300), now, 600, 30, "missing iat");
    expect_times(times("{s:s, s:I}", "exp", "soon", "iat", (json_int_t)now), now, 600, 30,
                 "malformed exp");
    expect_times(times("{s:I, s:b}", "exp", (json_int_t)now + 1, "iat", 1), now, 600, 30,
                 "malformed iat");
    /* exp must be > now - leeway. */
    expect_times(times("{s:I, s:I}", "exp", (json_int_t)now - 30, "iat", (json_int_t)now - 60), now,
                 600, 30, "expired");
    expect_times(times("{s:I, s:I}", "exp", (json_int_t)now - 29, "iat", (json_int_t)now - 60), now,
                 600, 30, NULL);
    expect_times(times("{s:I, s:I}", "exp", (json_int_t)now, "iat", (json_int_t)now - 60), now, 600,
                 0, "expired");
    /* iat must be <= now + leeway. */
    expect_times(times("{s:I, s:I}", "exp", (json_int_t)now + 300, "iat", (json_int_t)now + 30),
                 now, 600, 30, NULL);
    expect_times(times("{s:I, s:I}", "exp", (json_int_t)now + 300, "iat", (json_int_t)now + 31),
                 now, 600, 30, "issued in the future");
    /* iat must be >= now - max_age. */
    expect_times(times("{s:I, s:I}", "exp", (json_int_t)now + 300, "iat", (json_int_t)now - 600),
                 now, 600, 30, NULL);
    expect_times(times("{s:I, s:I}", "exp", (json_int_t)now + 300, "iat", (json_int_t)now - 601),
                 now, 600, 30, "too old");
    /* A negative max_age means no limit; real numbers are NumericDates too. */
    expect_times(times("{s:I, s:I}", "exp", (json_int_t)now + 300, "iat", (json_int_t)0), now, -1,
                 30, NULL);
    expect_times(times("{s:f, s:f}", "exp", (double)now + 10.5, "iat", (double)now - 0.5), now, 600,
                 0, NULL);
    /* Extreme values neither overflow nor pass. */
    expect_times(times("{s:I, s:I}", "exp", (json_int_t)INT64_MIN, "iat", (json_int_t)now), now,
                 600, INT64_MAX, "expired");
    expect_times(times("{s:I, s:I}", "exp", (json_int_t)INT64_MAX, "iat", (json_int_t)INT64_MAX),
                 now, 600, 30, "issued in the future");
    expect_times(times("{s:I, s:f}", "exp", (json_int_t)now + 1, "iat", 1e300), now, 600, 30,
                 "malformed iat");
    assert_int_equal(jwt_check_times(NULL, now, 600, 30, NULL), OG_ERR_INVALID);
}

/* ---- ES256 ---- */

static void test_rfc7515_a3(void **state)
{
    (void)state;
    json_t *jwk =
        json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", A3_X, "y", A3_Y);
    EVP_PKEY *pub = jwt_ec_public_from_jwk(jwk);
    assert_non_null(pub);
    json_t *claims = NULL;
    assert_int_equal(jwt_es256_verify(A3_TOKEN, pub, &claims), 0);
    assert_string_equal(json_string_value(json_object_get(claims, "iss")), "joe");
    json_decref(claims);

    /* The same token is not an HS256 token, whatever the key. */
    size_t n;
    uint8_t *x = decode(A3_X, &n);
    assert_int_equal(jwt_hs256_verify(A3_TOKEN, x, n, &claims), OG_ERR_INVALID);
    free(x);

    char *t = strdup(A3_TOKEN);
    t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(jwt_es256_verify(t, pub, &claims), OG_ERR_CRYPTO);
    assert_null(claims);
    free(t);
    EVP_PKEY_free(pub);

    /* JWKs that are not P-256 public keys. */
    json_object_set_new(jwk, "crv", json_string("P-384"));
    assert_null(jwt_ec_public_from_jwk(jwk));
    json_object_set_new(jwk, "crv", json_string("P-256"));
    json_object_set_new(jwk, "x", json_string("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEV"));
    assert_null(jwt_ec_public_from_jwk(jwk)); /* non-canonical, and off the curve */
    json_object_set_new(jwk, "x", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"));
    assert_null(jwt_ec_public_from_jwk(jwk)); /* not on the curve */
    json_object_set_new(jwk, "x", json_string("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvR"));
    assert_null(jwt_ec_public_from_jwk(jwk)); /* 30 bytes */
    json_decref(jwk);
}

static void test_es256_round_trip(void **state)
{
    (void)state;
    EVP_PKEY *key = jwt_ec_generate();
    assert_non_null(key);
    char kid[JWT_KID_LEN];
    assert_int_equal(jwt_ec_kid(key, kid, sizeof(kid)), 0);
    assert_int_equal(strlen(kid), 43);

    json_t *in = json_pack("{s:s, s:s, s:s, s:[s]}", "iss", "https://mfa.example", "aud", "app_x",
                           "sub", "u1", "amr", "otp");
    char *tok = jwt_es256_sign(in, key, kid);
    assert_non_null(tok);
    json_t *h = token_part(tok, 0);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES256");
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(h, "kid")), kid);
    json_decref(h);
    size_t n;
    uint8_t *sig = decode(strrchr(tok, '.') + 1, &n);
    assert_int_equal(n, 64); /* raw r||s, not DER */
    free(sig);

    json_t *out = NULL;
    assert_int_equal(jwt_es256_verify(tok, key, &out), 0);
    assert_true(json_equal(in, out));
    json_decref(out);

    /* The public JWK alone verifies it; another key does not. */
    json_t *jwk = jwt_ec_public_jwk(key);
    EVP_PKEY *pub = jwt_ec_public_from_jwk(jwk);
    assert_non_null(pub);
    assert_int_equal(jwt_es256_verify(tok, pub, &out), 0);
    json_decref(out);
    EVP_PKEY *other = jwt_ec_generate();
    assert_int_equal(jwt_es256_verify(tok, other, &out), OG_ERR_CRYPTO);
    assert_null(out);

    /* A public key cannot sign; without kid the header has none. */
    assert_null(jwt_es256_sign(in, pub, kid));
    char *nokid = jwt_es256_sign(in, key, NULL);
    h = token_part(nokid, 0);
    assert_null(json_object_get(h, "kid"));
    json_decref(h);
    assert_int_equal(jwt_es256_verify(nokid, pub, &out), 0);
    json_decref(out);
    free(nokid);

    json_decref(jwk);
    json_decref(in);
    EVP_PKEY_free(other);
    EVP_PKEY_free(pub);
    free(tok);
    EVP_PKEY_free(key);
}

static void test_alg_swap(void **state)
{
    (void)state;
    EVP_PKEY *key = jwt_ec_generate();
    json_t *jwk = jwt_ec_public_jwk(key);
    char *jwk_text = json_dumps(jwk, JSON_COMPACT);
    json_t *in = json_pack("{s:s}", "sub", "u1");
    json_t *out = NULL;

    /* An HS256 token "signed" with the public key's JWK text, presented
     * where ES256 is expected. */
    char *hs = jwt_hs256_sign(in, (const uint8_t *)jwk_text, strlen(jwk_text));
    assert_int_equal(jwt_es256_verify(hs, key, &out), OG_ERR_INVALID);
    assert_null(out);

    /* An ES256 token presented where HS256 is expected. */
    char *es = jwt_es256_sign(in, key, NULL);
    assert_int_equal(jwt_hs256_verify(es, (const uint8_t *)jwk_text, strlen(jwk_text), &out),
                     OG_ERR_INVALID);
    assert_null(out);

    /* The ES256 header relabelled HS256 with the same signature. */
    char *relabelled = make_token("{\"alg\":\"HS256\"}", "{\"sub\":\"u1\"}", strrchr(es, '.') + 1);
    assert_int_not_equal(jwt_hs256_verify(relabelled, KEY, sizeof(KEY) - 1, &out), 0);
    assert_int_equal(jwt_es256_verify(relabelled, key, &out), OG_ERR_INVALID);

    /* alg none where ES256 is expected. */
    char *none = make_token("{\"alg\":\"none\"}", "{\"sub\":\"u1\"}", "");
    assert_int_equal(jwt_es256_verify(none, key, &out), OG_ERR_INVALID);

    /* An HMAC key cannot be given to ES256 verification at all. */
    EVP_PKEY *hmac = EVP_PKEY_new_raw_private_key(EVP_PKEY_HMAC, NULL, KEY, sizeof(KEY) - 1);
    assert_non_null(hmac);
    assert_int_equal(jwt_es256_verify(es, hmac, &out), OG_ERR_INVALID);
    assert_null(jwt_es256_sign(in, hmac, NULL));
    EVP_PKEY_free(hmac);

    free(none);
    free(relabelled);
    free(es);
    free(hs);
    json_decref(in);
    free(jwk_text);
    json_decref(jwk);
    EVP_PKEY_free(key);
}

/* ---- keys ---- */

/* base64url by OpenSSL's EVP_EncodeBlock, independent of b64url_encode. */
static void openssl_b64url(const uint8_t *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (len > 0 && out[len - 1] == '=')
        out[--len] = '\0';
    for (int i = 0; i < len; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
}

static void test_thumbprint(void **state)
{
    (void)state;
    EVP_PKEY *key = jwt_ec_generate();
    BIGNUM *bx = NULL, *by = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &bx), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &by), 1);
    uint8_t x[32], y[32];
    assert_int_equal(BN_bn2binpad(bx, x, 32), 32);
    assert_int_equal(BN_bn2binpad(by, y, 32), 32);
    BN_free(bx);
    BN_free(by);
    char xs[64], ys[64];
    openssl_b64url(x, 32, xs);
    openssl_b64url(y, 32, ys);
    char canon[256];
    snprintf(canon, sizeof(canon), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
             xs, ys);
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)canon, strlen(canon), digest);
    char want[64];
    openssl_b64url(digest, sizeof(digest), want);

    char kid[JWT_KID_LEN];
    assert_int_equal(jwt_ec_kid(key, kid, sizeof(kid)), 0);
    assert_string_equal(kid, want);
    assert_int_equal(jwt_ec_kid(key, kid, JWT_KID_LEN - 1), OG_ERR_TOO_BIG);

    json_t *jwk = jwt_ec_public_jwk(key);
    assert_non_null(jwk);
    assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "EC");
    assert_string_equal(json_string_value(json_object_get(jwk, "crv")), "P-256");
    assert_string_equal(json_string_value(json_object_get(jwk, "use")), "sig");
    assert_string_equal(json_string_value(json_object_get(jwk, "alg")), "ES256");
    assert_string_equal(json_string_value(json_object_get(jwk, "kid")), want);
    assert_string_equal(json_string_value(json_object_get(jwk, "x")), xs);
    assert_string_equal(json_string_value(json_object_get(jwk, "y")), ys);
    assert_null(json_object_get(jwk, "d"));
    assert_int_equal(json_object_size(jwk), 7);
    size_t n;
    uint8_t *raw = decode(json_string_value(json_object_get(jwk, "x")), &n);
    assert_int_equal(n, 32);
    free(raw);
    raw = decode(json_string_value(json_object_get(jwk, "y")), &n);
    assert_int_equal(n, 32);
    free(raw);
    json_decref(jwk);
    EVP_PKEY_free(key);

    /* The RFC 7515 A.3 key, whose coordinates are given. */
    json_t *a3 =
        json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", A3_X, "y", A3_Y);
    EVP_PKEY *pub = jwt_ec_public_from_jwk(a3);
    snprintf(canon, sizeof(canon), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
             A3_X, A3_Y);
    SHA256((const unsigned char *)canon, strlen(canon), digest);
    openssl_b64url(digest, sizeof(digest), want);
    assert_int_equal(jwt_ec_kid(pub, kid, sizeof(kid)), 0);
    assert_string_equal(kid, want);
    jwk = jwt_ec_public_jwk(pub);
    assert_string_equal(json_string_value(json_object_get(jwk, "x")), A3_X);
    assert_string_equal(json_string_value(json_object_get(jwk, "y")), A3_Y);
    json_decref(jwk);
    EVP_PKEY_free(pub);
    json_decref(a3);
}

static void test_key_der_round_trip(void **state)
{
    (void)state;
    EVP_PKEY *key = jwt_ec_generate();
    uint8_t *der;
    size_t der_len;
    assert_int_equal(jwt_ec_export(key, &der, &der_len), 0);
    assert_true(der_len > 64);
    assert_int_equal(der[0], 0x30); /* a DER SEQUENCE */

    EVP_PKEY *back = jwt_ec_import(der, der_len);
    assert_non_null(back);
    char k1[JWT_KID_LEN], k2[JWT_KID_LEN];
    assert_int_equal(jwt_ec_kid(key, k1, sizeof(k1)), 0);
    assert_int_equal(jwt_ec_kid(back, k2, sizeof(k2)), 0);
    assert_string_equal(k1, k2);
    /* The imported private key signs what the original verifies. */
    json_t *in = json_pack("{s:s}", "sub", "u1");
    char *tok = jwt_es256_sign(in, back, k2);
    json_t *out = NULL;
    assert_int_equal(jwt_es256_verify(tok, key, &out), 0);
    json_decref(out);
    free(tok);
    json_decref(in);
    EVP_PKEY_free(back);

    /* Trailing bytes, truncation and garbage are refused. */
    uint8_t *longer = malloc(der_len + 1);
    memcpy(longer, der, der_len);
    longer[der_len] = 0;
    assert_null(jwt_ec_import(longer, der_len + 1));
    free(longer);
    assert_null(jwt_ec_import(der, der_len - 1));
    assert_null(jwt_ec_import((const uint8_t *)"garbage", 7));
    assert_null(jwt_ec_import(der, 0));
    free(der);

    /* A P-384 key is not an ES256 key. */
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    assert_non_null(p384);
    assert_int_equal(jwt_ec_export(p384, &der, &der_len), OG_ERR_INVALID);
    assert_null(der);
    assert_null(jwt_ec_public_jwk(p384));
    json_t *c = json_object();
    assert_null(jwt_es256_sign(c, p384, NULL));
    json_decref(c);
    EVP_PKEY_free(p384);

    /* A public key has no private half to export. */
    json_t *jwk = jwt_ec_public_jwk(key);
    EVP_PKEY *pub = jwt_ec_public_from_jwk(jwk);
    assert_int_equal(jwt_ec_export(pub, &der, &der_len), OG_ERR_CRYPTO);
    assert_null(der);
    EVP_PKEY_free(pub);
    json_decref(jwk);
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_vectors),     cmocka_unit_test(test_b64url_strict),
        cmocka_unit_test(test_rfc7515_a1),         cmocka_unit_test(test_hs256_tampered),
        cmocka_unit_test(test_hs256_round_trip),   cmocka_unit_test(test_hs256_bad_alg),
        cmocka_unit_test(test_hs256_malformed),    cmocka_unit_test(test_hs256_size_limit),
        cmocka_unit_test(test_check_times),        cmocka_unit_test(test_check_lifetime),
        cmocka_unit_test(test_rfc7515_a3),         cmocka_unit_test(test_es256_round_trip),
        cmocka_unit_test(test_alg_swap),           cmocka_unit_test(test_thumbprint),
        cmocka_unit_test(test_key_der_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
