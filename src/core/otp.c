/* HOTP and TOTP over OpenSSL's HMAC (EVP_MAC). Key material and computed
 * codes on the stack are cleansed before returning; nothing is logged. */
#include "core/otp.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>

const char *otp_algo_name(enum otp_algo a)
{
    switch (a) {
    case OTP_SHA1:
        return "SHA1";
    case OTP_SHA256:
        return "SHA256";
    case OTP_SHA512:
        return "SHA512";
    }
    return NULL;
}

/* One HMAC context per algorithm with its digest set but no key, made
 * once per process (fetching HMAC and the digest by name on every code is
 * most of the cost of a code); each use duplicates one and keys the copy.
 * Read-only after the once-init, so any thread may use them; NULL when
 * OpenSSL cannot provide one. */
static EVP_MAC_CTX *hmac_proto[3];
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void)
{
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    for (int a = OTP_SHA1; m && a <= OTP_SHA512; a++) {
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(m);
        OSSL_PARAM params[2];
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                     (char *)otp_algo_name((enum otp_algo)a), 0);
        params[1] = OSSL_PARAM_construct_end();
        if (ctx && EVP_MAC_CTX_set_params(ctx, params) != 1) {
            EVP_MAC_CTX_free(ctx);
            ctx = NULL;
        }
        hmac_proto[a] = ctx;
    }
    EVP_MAC_free(m); /* each context holds its own reference */
}

/* A fresh HMAC-<algo> context keyed with key: OG_OK, OG_ERR_INVALID for an
 * unknown algo, or OG_ERR_CRYPTO. */
static int hmac_new(enum otp_algo algo, const uint8_t *key, size_t keylen, EVP_MAC_CTX **out)
{
    *out = NULL;
    if (!otp_algo_name(algo))
        return OG_ERR_INVALID;
    pthread_once(&hmac_once, hmac_fetch);
    EVP_MAC_CTX *ctx = hmac_proto[algo] ? EVP_MAC_CTX_dup(hmac_proto[algo]) : NULL;
    if (!ctx || EVP_MAC_init(ctx, key, keylen, NULL) != 1) {
        EVP_MAC_CTX_free(ctx);
        return OG_ERR_CRYPTO;
    }
    *out = ctx;
    return OG_OK;
}

/* The HOTP value for counter with a keyed context, which it leaves ready
 * for the next counter (same key). */
static int hotp_ctx(EVP_MAC_CTX *ctx, uint64_t counter, unsigned digits, uint32_t *out)
{
    uint8_t msg[8];
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xff);
        counter >>= 8;
    }
    uint8_t mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    int rc = OG_ERR_CRYPTO;
    /* A NULL key starts over with the key the context already has. */
    if (EVP_MAC_init(ctx, NULL, 0, NULL) == 1 && EVP_MAC_update(ctx, msg, sizeof(msg)) == 1 &&
        EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1 && maclen >= 20)
        rc = OG_OK;
    if (rc == OG_OK) {
        /* RFC 4226 §5.3 dynamic truncation: the low nibble of the last byte
         * picks four bytes; the top bit is dropped. */
        size_t off = mac[maclen - 1] & 0x0f;
        uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                       ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
        uint64_t mod = 1;
        for (unsigned i = 0; i < digits; i++)
            mod *= 10;
        *out = (uint32_t)(bin % mod);
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    OPENSSL_cleanse(msg, sizeof(msg));
    return rc;
}

int otp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, unsigned digits,
             enum otp_algo algo, uint32_t *out)
{
    if (!key || keylen == 0 || !out || digits < OTP_MIN_DIGITS || digits > OTP_MAX_DIGITS)
        return OG_ERR_INVALID;
    EVP_MAC_CTX *ctx;
    int rc = hmac_new(algo, key, keylen, &ctx);
    if (rc == OG_OK)
        rc = hotp_ctx(ctx, counter, digits, out);
    EVP_MAC_CTX_free(ctx);
    return rc;
}

/* floor(t / period) for t >= 0; -1 when t is negative or period is 0. */
static int64_t totp_step(int64_t t, unsigned period)
{
    if (period == 0 || t < 0)
        return -1;
    return t / (int64_t)period;
}

int otp_totp(const uint8_t *key, size_t keylen, int64_t t, unsigned period, unsigned digits,
             enum otp_algo algo, uint32_t *out)
{
    int64_t step = totp_step(t, period);
    if (step < 0)
        return OG_ERR_INVALID;
    return otp_hotp(key, keylen, (uint64_t)step, digits, algo, out);
}

void otp_format(uint32_t value, unsigned digits, char *out)
{
    for (unsigned i = digits; i > 0; i--) {
        out[i - 1] = (char)('0' + value % 10);
        value /= 10;
    }
    out[digits] = '\0';
}

/* Copies the digits of code into out, dropping spaces; true only when the
 * result is exactly digits decimal digits. */
static bool code_normalize(const char *code, unsigned digits, char *out)
{
    unsigned n = 0;
    for (const char *p = code; *p; p++) {
        if (*p == ' ')
            continue;
        if (*p < '0' || *p > '9' || n == digits)
            return false;
        out[n++] = *p;
    }
    out[n] = '\0';
    return n == digits;
}

enum otp_check otp_totp_check(const uint8_t *key, size_t keylen, const char *code, int64_t now,
                              unsigned period, unsigned digits, enum otp_algo algo, unsigned window,
                              int64_t last_step, int64_t *matched_step)
{
    char typed[OTP_MAX_DIGITS + 1];
    char want[OTP_MAX_DIGITS + 1];
    int64_t s = totp_step(now, period);
    if (!code || s < 0 || window > OTP_MAX_WINDOW || digits < OTP_MIN_DIGITS ||
        digits > OTP_MAX_DIGITS || !code_normalize(code, digits, typed)) {
        OPENSSL_cleanse(typed, sizeof(typed));
        return OTP_CHECK_WRONG;
    }

    /* One keyed context serves every step. */
    EVP_MAC_CTX *ctx = NULL;
    if (!key || keylen == 0 || hmac_new(algo, key, keylen, &ctx) != OG_OK) {
        OPENSSL_cleanse(typed, sizeof(typed));
        return OTP_CHECK_WRONG;
    }

    /* All candidates are computed and compared whatever matched, so the
     * time taken does not say which step (if any) the code belongs to. */
    bool accepted = false, replayed = false, failed = false;
    int64_t best = -1;
    for (int64_t step = s - (int64_t)window; step <= s + (int64_t)window; step++) {
        if (step < 0)
            continue;
        uint32_t v = 0;
        if (hotp_ctx(ctx, (uint64_t)step, digits, &v) != OG_OK) {
            failed = true;
            continue;
        }
        otp_format(v, digits, want);
        bool match = CRYPTO_memcmp(want, typed, digits) == 0;
        bool fresh = step > last_step;
        if (match && fresh) {
            accepted = true;
            best = step;
        }
        replayed |= match && !fresh;
    }
    EVP_MAC_CTX_free(ctx);
    OPENSSL_cleanse(typed, sizeof(typed));
    OPENSSL_cleanse(want, sizeof(want));

    if (failed)
        return OTP_CHECK_WRONG;
    if (accepted) {
        if (matched_step)
            *matched_step = best;
        return OTP_CHECK_OK;
    }
    return replayed ? OTP_CHECK_REPLAY : OTP_CHECK_WRONG;
}
