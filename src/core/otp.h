/* HOTP (RFC 4226) and TOTP (RFC 6238) values, and the check of a code a user
 * typed against a window of time steps with replay refusal. Pure functions:
 * no storage, no clock (the caller passes the time), no logging. */
#ifndef OTPGATE_OTP_H
#define OTPGATE_OTP_H

#include "core/common.h"

#define OTP_MIN_DIGITS 6
#define OTP_MAX_DIGITS 10
/* Largest window otp_totp_check accepts (steps each side of now). */
#define OTP_MAX_WINDOW 20

enum otp_algo { OTP_SHA1 = 0, OTP_SHA256, OTP_SHA512 };

/* "SHA1", "SHA256" or "SHA512"; NULL for a value outside the enum. */
const char *otp_algo_name(enum otp_algo a);

/* HOTP value (already reduced mod 10^digits) for counter; digits 6..10.
 * Returns 0, OG_ERR_INVALID for bad arguments (digits out of range, no key,
 * unknown algo) or OG_ERR_CRYPTO when OpenSSL fails. */
int otp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, unsigned digits,
             enum otp_algo algo, uint32_t *out);

/* TOTP at unix time t with period seconds; T0 = 0. Times before the epoch
 * and a zero period are OG_ERR_INVALID. */
int otp_totp(const uint8_t *key, size_t keylen, int64_t t, unsigned period, unsigned digits,
             enum otp_algo algo, uint32_t *out);

/* Writes value zero-padded to digits characters plus NUL into out (size >=
 * digits+1). A value with more digits than asked keeps its low digits. */
void otp_format(uint32_t value, unsigned digits, char *out);

enum otp_check { OTP_CHECK_OK = 0, OTP_CHECK_WRONG, OTP_CHECK_REPLAY };

/* Checks a code typed by a user (spaces allowed; exactly `digits` decimal
 * digits once they are removed) against the steps s-window..s+window around
 * now, s = floor(now/period). Steps <= last_step (the last step this factor
 * accepted; -1 when none) are not accepted: a code matching only such steps
 * gives OTP_CHECK_REPLAY. On OTP_CHECK_OK sets *matched_step to the latest
 * matching step. Every candidate is computed and compared with CRYPTO_memcmp
 * (no early exit). Malformed codes and bad arguments (window above
 * OTP_MAX_WINDOW, zero period) are OTP_CHECK_WRONG. */
enum otp_check otp_totp_check(const uint8_t *key, size_t keylen, const char *code, int64_t now,
                              unsigned period, unsigned digits, enum otp_algo algo, unsigned window,
                              int64_t last_step, int64_t *matched_step);

#endif
