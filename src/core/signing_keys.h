/* The ES256 keys that sign id_tokens (SPEC §6), kept in the signing_keys
 * table: the private half only sealed under the keyring's seal key (aad
 * "signing:<kid>"), the public JWK in the clear for /jwks.json. Rotation
 * retires the active key but keeps publishing it until every token it
 * signed has expired. All times are unix milliseconds. */
#ifndef OTPGATE_SIGNING_KEYS_H
#define OTPGATE_SIGNING_KEYS_H

#include "core/common.h"
#include "core/jwt.h"
#include "core/secrets.h"
#include "core/store/store.h"

#include <openssl/evp.h>

/* Makes sure an active (not retired) key exists: on first use generates a
 * P-256 key, seals its PKCS#8 DER and stores it, in one transaction (joins
 * the caller's if one is open). Calling it again changes nothing. Returns
 * 0 or a store/crypto error. */
int signing_keys_ensure(struct store *s, const struct keyring *k, int64_t now_ms);

/* The active key (the newest not retired), opened, with its kid copied into
 * kid (kidlen >= JWT_KID_LEN) when kid is not NULL. Returns a key pair the
 * caller frees with EVP_PKEY_free, or NULL when there is none, the row does
 * not open under k, or a store error (logged). */
EVP_PKEY *signing_keys_active(struct store *s, const struct keyring *k, char *kid, size_t kidlen);

/* Adds a new active key and retires every previous active one now; a
 * retired key stays published until retired_at + keep_ms (keep_ms >= 0, the
 * longest lifetime of a token it signed), then signing_keys_prune deletes
 * it. One transaction (joins the caller's). Copies the new kid into new_kid
 * (kidlen >= JWT_KID_LEN) when it is not NULL. Returns 0, OG_ERR_INVALID,
 * OG_ERR_TOO_BIG or a store/crypto error. */
int signing_keys_rotate(struct store *s, const struct keyring *k, int64_t now_ms, int64_t keep_ms,
                        char *new_kid, size_t kidlen);

/* The JWKS {"keys":[...]} of every published key (the active ones and the
 * retired ones whose expires_at is after now_ms), newest first, as malloc'd
 * compact JSON text the caller frees; NULL on a store error or a corrupt
 * row. */
char *signing_keys_jwks(struct store *s, int64_t now_ms);

/* Deletes the retired keys whose expires_at <= now_ms. Returns 0 or a store
 * error. */
int signing_keys_prune(struct store *s, int64_t now_ms);

#endif
