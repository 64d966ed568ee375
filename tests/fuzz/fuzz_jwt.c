/* Fuzzes src/core/jwt.c's parsing of tokens apps send (signed request
 * objects, /start links): the first byte's low bits pick a mode, the rest is
 * the input.
 *   0: jwt_hs256_verify with a fixed client secret;
 *   1: jwt_es256_verify with a fixed P-256 key;
 *   2: b64url_decode.
 * Asserts: answers are only the documented codes, with claims exactly on
 * success; a token that verifies under one alg never verifies under the
 * other; verified claims pass through jwt_check_times and sign again into a
 * token that verifies to equal claims; base64url decoding is canonical (a
 * decoded input encodes back to the very same text). Seeds signed with these
 * keys let the fuzzer reach the payload. */
#include "fuzz.h"

#include "core/jwt.h"

#include <openssl/evp.h>

static const uint8_t hs_key[] = "fuzz-client-secret";

/* PKCS#8 DER of a P-256 key made for the fuzzer only (never used elsewhere). */
static const uint8_t ec_der[] = {
    0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
    0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02,
    0x01, 0x01, 0x04, 0x20, 0x1b, 0x33, 0xf1, 0xdf, 0xec, 0x01, 0xcb, 0xe1, 0xd2, 0xbb, 0xbc, 0x1a,
    0xab, 0x9a, 0xbc, 0x6a, 0xd2, 0x9e, 0x99, 0xa5, 0x74, 0x40, 0xa6, 0x57, 0x4d, 0x7e, 0x02, 0xdc,
    0xc1, 0x7e, 0xd0, 0x26, 0xa1, 0x44, 0x03, 0x42, 0x00, 0x04, 0x00, 0x9d, 0xbb, 0xb5, 0x0f, 0xe3,
    0xf9, 0xfa, 0xb7, 0x1a, 0x31, 0x91, 0x6e, 0x5c, 0x87, 0x1a, 0x95, 0xed, 0x50, 0x15, 0x3c, 0xb3,
    0xbc, 0x28, 0x77, 0x0f, 0x1c, 0x81, 0x6f, 0x5f, 0x47, 0x3b, 0xc1, 0x81, 0x20, 0xc6, 0xc2, 0x37,
    0xf0, 0x7e, 0x1a, 0x47, 0xdf, 0xe2, 0xfc, 0xb7, 0x2d, 0xe1, 0x05, 0xbf, 0xa9, 0x58, 0x8d, 0x8c,
    0xc8, 0x4c, 0x16, 0x57, 0xc4, 0x20, 0x36, 0x05, 0x40, 0xba,
};

/* Loaded once and kept for the life of the process. */
static EVP_PKEY *ec_key(void)
{
    static EVP_PKEY *key;
    if (!key) {
        key = jwt_ec_import(ec_der, sizeof(ec_der));
        FUZZ_CHECK(key != NULL);
    }
    return key;
}

static void check_result(int rc, json_t *claims)
{
    FUZZ_CHECK(rc == OG_OK || rc == OG_ERR_INVALID || rc == OG_ERR_TOO_BIG || rc == OG_ERR_CRYPTO);
    FUZZ_CHECK((rc == OG_OK) == (claims != NULL));
    FUZZ_CHECK(!claims || json_is_object(claims));
}

/* What a caller does next with verified claims; none of it may fail on
 * claims an attacker chose (the signature only says who chose them). */
static void use_claims(json_t *claims)
{
    static const int64_t nows[] = {0, 1700000000, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < ARRAY_SIZE(nows); i++) {
        const char *why = NULL;
        int rc = jwt_check_times(claims, nows[i], 300, 60, &why);
        FUZZ_CHECK(rc == OG_OK ? why == NULL : rc == OG_ERR_INVALID && why != NULL);
    }
    char *again = jwt_hs256_sign(claims, hs_key, sizeof(hs_key) - 1);
    FUZZ_CHECK(again != NULL);
    json_t *back = NULL;
    FUZZ_CHECK(jwt_hs256_verify(again, hs_key, sizeof(hs_key) - 1, &back) == OG_OK);
    FUZZ_CHECK(json_equal(back, claims));
    json_decref(back);
    free(again);
}

static void fuzz_token(const char *token, bool es256)
{
    json_t *claims = NULL, *other = NULL;
    int rc = es256 ? jwt_es256_verify(token, ec_key(), &claims)
                   : jwt_hs256_verify(token, hs_key, sizeof(hs_key) - 1, &claims);
    check_result(rc, claims);
    if (rc != OG_OK)
        return;
    int rc_other = es256 ? jwt_hs256_verify(token, hs_key, sizeof(hs_key) - 1, &other)
                         : jwt_es256_verify(token, ec_key(), &other);
    FUZZ_CHECK(rc_other != OG_OK && other == NULL);
    use_claims(claims);
    json_decref(claims);
}

static void fuzz_b64url(const char *in, size_t n)
{
    uint8_t *out = NULL;
    size_t outlen = 0;
    int rc = b64url_decode(in, n, &out, &outlen);
    if (rc != OG_OK) {
        FUZZ_CHECK(rc == OG_ERR_INVALID && out == NULL && outlen == 0);
        return;
    }
    FUZZ_CHECK(out != NULL && n % 4 != 1 && outlen == n * 3 / 4);
    char *again = b64url_encode(out, outlen);
    FUZZ_CHECK(strlen(again) == n && memcmp(again, in, n) == 0);
    free(again);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = (data[0] & 7u) % 3;
    if (mode == 2) {
        fuzz_b64url((const char *)data + 1, size - 1);
        return 0;
    }
    char *token = fuzz_cstr(data + 1, size - 1);
    fuzz_token(token, mode == 1);
    free(token);
    return 0;
}
