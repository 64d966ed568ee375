/* Fuzzes what authenticator secrets and recovery codes pass through: the
 * first byte's low bits pick a mode, the rest is the input.
 *   0: otpauth_parse (src/core/otpauth.c) on the input as a C string;
 *   1: base32_decode (src/core/base32.c) on the raw bytes;
 *   2: recovery_normalize (src/core/recovery.c) on the input as a C string.
 * Asserts: a parsed URI has its fields in range, and building a URI from
 * them with otpauth_uri and parsing that gives the same fields; a refused
 * URI leaves the struct wiped; base32 never writes past the length it
 * reports and its output encodes and decodes back to itself; a normalised
 * recovery code is 16 chars of a-z2-7 and normalises to itself. */
#include "fuzz.h"

#include "core/base32.h"
#include "core/otpauth.h"
#include "core/recovery.h"

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static void fuzz_otpauth(const char *uri)
{
    struct otpauth o, back;
    int rc = otpauth_parse(uri, &o);
    if (rc != OG_OK) {
        FUZZ_CHECK(rc == OG_ERR_INVALID || rc == OG_ERR_TOO_BIG);
        FUZZ_CHECK(all_zero(&o, sizeof(o)));
        return;
    }
    FUZZ_CHECK(o.secret_len >= 1 && o.secret_len <= sizeof(o.secret));
    FUZZ_CHECK(o.digits >= OTP_MIN_DIGITS && o.digits <= OTP_MAX_DIGITS);
    FUZZ_CHECK(o.period >= 1 && o.period <= OTPAUTH_MAX_PERIOD);
    FUZZ_CHECK(otp_algo_name(o.algo) != NULL);
    FUZZ_CHECK(memchr(o.issuer, '\0', sizeof(o.issuer)) &&
               memchr(o.account, '\0', sizeof(o.account)));
    FUZZ_CHECK(o.account[0] != '\0' && o.account[0] != ' ');

    char *again =
        otpauth_uri(o.issuer, o.account, o.secret, o.secret_len, o.algo, o.digits, o.period);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(otpauth_parse(again, &back) == OG_OK);
    FUZZ_CHECK(strcmp(o.issuer, back.issuer) == 0 && strcmp(o.account, back.account) == 0);
    FUZZ_CHECK(o.secret_len == back.secret_len && memcmp(o.secret, back.secret, o.secret_len) == 0);
    FUZZ_CHECK(o.algo == back.algo && o.digits == back.digits && o.period == back.period);
    free(again);
}

static void fuzz_base32(const char *in, size_t n)
{
    /* A guard byte after the room the decoder may use shows overruns even
     * without AddressSanitizer. */
    uint8_t out[129];
    size_t room = n % 2 ? 128 : n / 2 < 128 ? n / 2 : 128;
    out[room] = 0xa5;
    size_t written = 0;
    int rc = base32_decode(in, n, out, room, &written);
    FUZZ_CHECK(out[room] == 0xa5);
    if (rc != OG_OK) {
        FUZZ_CHECK(rc == OG_ERR_INVALID || rc == OG_ERR_TOO_BIG);
        return;
    }
    FUZZ_CHECK(written <= room && written <= n * 5 / 8);
    char enc[128 * 8 / 5 + 16];
    size_t elen = base32_encode(out, written, false, enc, sizeof(enc));
    FUZZ_CHECK(elen == base32_encoded_len(written, false));
    uint8_t back[128];
    size_t back_len = 0;
    FUZZ_CHECK(base32_decode(enc, elen, back, sizeof(back), &back_len) == OG_OK);
    FUZZ_CHECK(back_len == written && memcmp(back, out, written) == 0);
}

static void fuzz_recovery(const char *in)
{
    char out[RECOVERY_CHARS + 1], again[RECOVERY_CHARS + 1];
    int rc = recovery_normalize(in, out);
    if (rc != OG_OK) {
        FUZZ_CHECK(rc == OG_ERR_INVALID && out[0] == '\0');
        return;
    }
    FUZZ_CHECK(strlen(out) == RECOVERY_CHARS);
    for (size_t i = 0; i < RECOVERY_CHARS; i++)
        FUZZ_CHECK((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= '2' && out[i] <= '7'));
    FUZZ_CHECK(recovery_normalize(out, again) == OG_OK && strcmp(out, again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = (data[0] & 7u) % 3;
    if (mode == 1) {
        fuzz_base32((const char *)data + 1, size - 1);
        return 0;
    }
    char *in = fuzz_cstr(data + 1, size - 1);
    if (mode == 0)
        fuzz_otpauth(in);
    else
        fuzz_recovery(in);
    free(in);
    return 0;
}
