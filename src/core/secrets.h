/* Key material and what is built from it: subkeys derived from the master
 * key, sealed (encrypted-at-rest) secrets, one-time codes and their keyed
 * hashes, random identifiers and tokens. Everything goes through OpenSSL;
 * nothing here logs or stores. */
#ifndef OTPGATE_SECRETS_H
#define OTPGATE_SECRETS_H

#include "core/common.h"

#define KEY_LEN 32

/* Layout of a sealed secret: version || nonce || ciphertext || tag. */
#define SEAL_VERSION   1
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN   16
#define SEAL_OVERHEAD  (1 + SEAL_NONCE_LEN + SEAL_TAG_LEN)

#define CODE_MIN_DIGITS 4
#define CODE_MAX_DIGITS 10

/* Subkeys derived from the master key with HKDF-SHA256 (salt "otpgate",
 * info = the purpose label: "codes", "recovery", "seal", "dest", "csrf",
 * "session"), so each use has its own key. */
struct keyring {
    uint8_t codes[KEY_LEN];
    uint8_t recovery[KEY_LEN];
    uint8_t seal[KEY_LEN];
    uint8_t dest[KEY_LEN];
    uint8_t csrf[KEY_LEN];
    uint8_t session[KEY_LEN];
};

/* Fills k from master. Returns 0 or OG_ERR_CRYPTO (k is wiped then). */
int keyring_derive(const uint8_t master[KEY_LEN], struct keyring *k);
/* Overwrites every subkey with OPENSSL_cleanse. */
void keyring_wipe(struct keyring *k);

/* AES-256-GCM with a random 96-bit nonce; aad (NULL = "") binds the secret
 * to its row (e.g. "totp:f_abc"). Output layout: 1 version byte (1) ||
 * nonce(12) || ciphertext || tag(16), n + SEAL_OVERHEAD bytes; *out is
 * malloc'd and the caller's. Returns 0, OG_ERR_TOO_BIG or OG_ERR_CRYPTO. */
int secret_seal(const uint8_t key[KEY_LEN], const uint8_t *plain, size_t n, const char *aad,
                uint8_t **out, size_t *outlen);

/* Inverse of secret_seal. OG_ERR_CRYPTO when the tag does not verify (wrong
 * key, wrong aad, tampered); OG_ERR_INVALID when too short or of an unknown
 * version. On success *out is malloc'd (at least one byte even for an empty
 * secret); the caller cleanses and frees it. On failure *out is NULL. */
int secret_open(const uint8_t key[KEY_LEN], const uint8_t *sealed, size_t n, const char *aad,
                uint8_t **out, size_t *outlen);

/* A uniform decimal code of digits (4..10) from RAND_bytes by rejection
 * sampling (no modulo bias). out has digits+1 bytes. Returns 0,
 * OG_ERR_INVALID for digits out of range, or OG_ERR_CRYPTO. */
int code_generate(unsigned digits, char *out);

/* Keyed hash of a code for storage: HMAC-SHA256(key, context || 0x00 ||
 * code). context (NULL = "") binds it, e.g. to the challenge id. Aborts if
 * OpenSSL cannot compute an HMAC. */
void code_hash(const uint8_t key[KEY_LEN], const char *context, const char *code, uint8_t out[32]);

/* Constant-time equality of n bytes (CRYPTO_memcmp). */
bool ct_equal(const void *a, const void *b, size_t n);

/* A random identifier: prefix + 20 lowercase base32 chars (100 bits). out
 * size >= strlen(prefix)+21; a smaller buffer is a bug and aborts. */
void random_id(const char *prefix, char *out, size_t outlen);

/* n random bytes or abort on RNG failure. */
void random_bytes(uint8_t *out, size_t n);

/* URL-safe base64 without padding (RFC 4648 §5) of n random bytes, for
 * client secrets and tokens: ceil(4n/3) chars and a NUL. out size >=
 * 4*n/3+2; a smaller buffer is a bug and aborts. */
void random_token(size_t n, char *out, size_t outlen);

/* The HMAC-SHA256 the module uses, over the concatenation of up to three
 * parts (a NULL part is skipped), for the other core modules that store
 * keyed hashes. Aborts if OpenSSL cannot compute it. */
void hmac_sha256_parts(const uint8_t key[KEY_LEN], const void *p1, size_t n1, const void *p2,
                       size_t n2, const void *p3, size_t n3, uint8_t out[32]);

#endif
