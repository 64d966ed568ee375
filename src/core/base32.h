/* RFC 4648 base32 (the A-Z2-7 alphabet) for TOTP secrets and identifiers.
 * Encoding and decoding only: callers own every buffer. */
#ifndef OTPGATE_BASE32_H
#define OTPGATE_BASE32_H

#include "core/common.h"

/* The symbol for a 5-bit value (only its low 5 bits count): A-Z2-7, or
 * a-z2-7 when lower. Computed without a table lookup. */
char base32_symbol(unsigned v, bool lower);

/* Characters base32_encode writes for n bytes (excluding the NUL). */
size_t base32_encoded_len(size_t n, bool pad);

/* Encodes without padding when pad is false; returns chars written
 * (excluding NUL) or 0 if outlen is too small (it needs the encoded length
 * plus one). Upper case. */
size_t base32_encode(const uint8_t *in, size_t n, bool pad, char *out, size_t outlen);

/* Decodes case-insensitively, ignoring spaces and dashes and trailing '='
 * padding (when present it must complete a block of 8). Refuses other
 * characters, '=' before the end and impossible lengths (OG_ERR_INVALID) or
 * a too-small out (OG_ERR_TOO_BIG). Sets *written (may be NULL) on success.
 * in need not be NUL-terminated. */
int base32_decode(const char *in, size_t n, uint8_t *out, size_t outlen, size_t *written);

#endif
