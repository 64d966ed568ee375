/* The Key URI format authenticator apps scan (Google Authenticator's
 * otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...): building one for
 * enrolment and parsing one for imports. TOTP only; no QR code here. */
#ifndef OTPGATE_OTPAUTH_H
#define OTPGATE_OTPAUTH_H

#include "core/common.h"
#include "core/otp.h"

#define OTPAUTH_MAX_URI    4096
#define OTPAUTH_MAX_SECRET 64
#define OTPAUTH_MAX_PERIOD 86400

/* Returns a malloc'd URI otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=
 * ...&algorithm=...&digits=...&period=... with label and issuer
 * percent-encoded (RFC 3986 unreserved kept, everything else %XX, so ':'
 * is %3A and space %20) and the secret in unpadded base32. A NULL or empty
 * issuer leaves out both the label prefix and the parameter. Returns NULL
 * for bad arguments: no account, secret empty or over OTPAUTH_MAX_SECRET,
 * unknown algo, digits outside 6..10, period outside 1..OTPAUTH_MAX_PERIOD.
 * The caller frees it (and should cleanse it: it holds the secret). */
char *otpauth_uri(const char *issuer, const char *account, const uint8_t *secret, size_t secret_len,
                  enum otp_algo algo, unsigned digits, unsigned period);

struct otpauth {
    char issuer[128];
    char account[256];
    uint8_t secret[64];
    size_t secret_len;
    enum otp_algo algo;
    unsigned digits;
    unsigned period;
};

/* Parses such a URI (for the round-trip test and for imports); defaults
 * SHA1/6/30 when absent. The issuer parameter wins over a label prefix;
 * spaces before the account name are dropped. Returns 0, OG_ERR_TOO_BIG
 * for a URI over OTPAUTH_MAX_URI, or OG_ERR_INVALID on anything malformed:
 * not totp, bad percent-escapes, control characters or invalid UTF-8 in
 * issuer or account, fields too long, no account, missing or bad secret,
 * repeated parameters, unknown algorithm, digits or period out of range, a
 * fragment. On failure *out is wiped. */
int otpauth_parse(const char *uri, struct otpauth *out);

#endif
