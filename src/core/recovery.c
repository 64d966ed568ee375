/* Recovery code generation, normalisation and hashing. Codes are secrets:
 * scratch copies are cleansed, and nothing is logged. */
#include "core/recovery.h"

#include "core/base32.h"

#include <openssl/crypto.h>

void recovery_generate(char out[20])
{
    uint8_t rnd[RECOVERY_CHARS];
    random_bytes(rnd, sizeof(rnd));
    size_t o = 0;
    for (size_t i = 0; i < RECOVERY_CHARS; i++) {
        if (i > 0 && i % 4 == 0)
            out[o++] = '-';
        /* 256 is a multiple of 32: the low 5 bits of a byte are uniform. */
        out[o++] = base32_symbol(rnd[i] & 31u, true);
    }
    out[o] = '\0';
    OPENSSL_cleanse(rnd, sizeof(rnd));
}

int recovery_normalize(const char *in, char out[RECOVERY_CHARS + 1])
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c == ' ' || c == '-')
            continue;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) || n == RECOVERY_CHARS) {
            OPENSSL_cleanse(out, RECOVERY_CHARS + 1);
            out[0] = '\0';
            return OG_ERR_INVALID;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    if (n != RECOVERY_CHARS) {
        OPENSSL_cleanse(out, RECOVERY_CHARS + 1);
        out[0] = '\0';
        return OG_ERR_INVALID;
    }
    return OG_OK;
}

void recovery_hash(const uint8_t key[KEY_LEN], const uint8_t salt[RECOVERY_SALT_LEN],
                   const char *normalized, uint8_t out[32])
{
    hmac_sha256_parts(key, salt, RECOVERY_SALT_LEN, normalized, strlen(normalized), NULL, 0, out);
}
