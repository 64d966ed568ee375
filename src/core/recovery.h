/* Recovery codes (SPEC §4): generation, the normal form users' typing is
 * reduced to, and the salted keyed hash that is all the store keeps. Which
 * codes a user has and their single use belong to the store, not here. */
#ifndef OTPGATE_RECOVERY_H
#define OTPGATE_RECOVERY_H

#include "core/common.h"
#include "core/secrets.h"

#define RECOVERY_COUNT    10
#define RECOVERY_CHARS    16
#define RECOVERY_SALT_LEN 16
/* "xxxx-xxxx-xxxx-xxxx" and its NUL */
#define RECOVERY_DISPLAY_SIZE 20

/* Writes a new code "xxxx-xxxx-xxxx-xxxx" (lowercase RFC 4648 base32
 * alphabet a-z2-7, 80 bits from RAND_bytes) into out[20]. Aborts if the RNG
 * fails. */
void recovery_generate(char out[20]);

/* Removes spaces and dashes, lowercases, checks exactly 16 base32 chars;
 * writes the 16 chars + NUL. OG_ERR_INVALID otherwise (out is then ""). */
int recovery_normalize(const char *in, char out[RECOVERY_CHARS + 1]);

/* HMAC-SHA256(key, salt || normalized). */
void recovery_hash(const uint8_t key[KEY_LEN], const uint8_t salt[RECOVERY_SALT_LEN],
                   const char *normalized, uint8_t out[32]);

#endif
