/* Applications (SPEC §2 `otpgate app ...`, §6): client ids, client secrets
 * and registered redirect URIs. A client secret is stored only sealed under
 * the keyring's seal key (AES-256-GCM, aad "app:<client_id>") and is never
 * logged or listed; it is handed out once at creation or rotation. */
#ifndef OTPGATE_APPS_H
#define OTPGATE_APPS_H

#include "core/common.h"
#include "core/secrets.h"
#include "core/store/store.h"

#define APPS_ID_LEN       32  /* buffer for a client_id ("app_" + 20 base32) */
#define APPS_SECRET_BYTES 32  /* 256 bits of randomness */
#define APPS_SECRET_LEN   64  /* buffer for a secret: 43 base64url chars + NUL */
#define APPS_NAME_MAX     127 /* bytes of an app's name */
#define APPS_URI_MAX      2048
#define APPS_MAX_URIS     32
/* A webhook signing secret (Standard Webhooks): "whsec_" + base64 of
 * APPS_WEBHOOK_KEY_BYTES random bytes. */
#define APPS_WEBHOOK_KEY_BYTES  32
#define APPS_WEBHOOK_SECRET_LEN 64 /* buffer: "whsec_" + 44 base64 chars + NUL */

struct app {
    char id[APPS_ID_LEN];
    char name[APPS_NAME_MAX + 1];
    char **redirect_uris; /* owned; free with apps_free */
    size_t redirect_count;
    int64_t created_at; /* unix ms */
};

/* Checks one redirect URI: absolute, https (or http for the loopback hosts
 * localhost, 127.0.0.1 and [::1] only), a host, no user info, no fragment,
 * printable ASCII, at most APPS_URI_MAX bytes. Returns 0 or OG_ERR_INVALID
 * with one line in err. */
int apps_check_redirect_uri(const char *uri, char *err, size_t errlen);

/* The same checks for an app's webhook URL (SPEC §2 `app set
 * --webhook-url`): https, or http only to a loopback host. */
int apps_check_webhook_url(const char *url, char *err, size_t errlen);

/* Registers an app: validates name (1..APPS_NAME_MAX bytes, no control
 * characters), the n (1..APPS_MAX_URIS) redirect URIs and policy_mode (NULL
 * or off|optional|mandatory|inherit, stored as the app's policy "mode"),
 * then makes client_id = random_id("app_") and a secret of APPS_SECRET_BYTES
 * random bytes in base64url, and writes the app and its mode in one
 * transaction. Copies the id into client_id (idlen >= APPS_ID_LEN) and the
 * plain secret into secret (secretlen >= APPS_SECRET_LEN), which the caller
 * shows once and then cleanses. Returns 0, OG_ERR_INVALID (err says why),
 * OG_ERR_TOO_BIG for small buffers, or a store/crypto error. */
int apps_add(struct store *s, const struct keyring *k, const char *name, const char *const *uris,
             size_t n, const char *policy_mode, char *client_id, size_t idlen, char *secret,
             size_t secretlen, char *err, size_t errlen);

/* Reads an app (never its secret) into out, which the caller frees with
 * apps_free. Returns 0, OG_ERR_NOT_FOUND, OG_ERR_DB or OG_ERR_INVALID for a
 * corrupt redirect_uris column. */
int apps_get(struct store *s, const char *id, struct app *out);
/* Frees what apps_get allocated; the struct itself stays the caller's. */
void apps_free(struct app *a);

/* Whether secret (secret_len bytes, need not be NUL-terminated) is the app's
 * client secret, compared in constant time (SHA-256 of both, then
 * CRYPTO_memcmp). For an unknown id it opens a dummy sealed blob and
 * compares anyway, so timing does not tell known ids from unknown ones. */
bool apps_check_secret(struct store *s, const struct keyring *k, const char *id, const char *secret,
                       size_t secret_len);

/* SHA-256 of a client secret as presented (secret_len bytes, need not be
 * NUL-terminated; NULL is taken as ""), as apps_each_secret_digest gives it
 * for the stored ones: two secrets are the same when their digests are,
 * compared with ct_equal. */
void apps_secret_digest(const char *secret, size_t secret_len, uint8_t out[32]);

/* For a cache of client credentials: calls fn once per app, in order of
 * creation, with its client_id, the SHA-256 of its client secret and
 * whether the sealed secret opened under this keyring (when not, digest is
 * all zeros and no secret may pass as the app's). The plain secret is
 * cleansed before fn runs, and digest afterwards. fn must not use the store.
 * Returns 0, OG_ERR_DB or OG_ERR_BUSY (fn may have run for some apps). */
int apps_each_secret_digest(struct store *s, const struct keyring *k,
                            void (*fn)(const char *id, const uint8_t digest[32], bool opened,
                                       void *arg),
                            void *arg);

/* The plain secret of an app (the HS256 key of its request objects), as a
 * malloc'd NUL-terminated string in *secret that the caller cleanses with
 * OPENSSL_cleanse and frees. Returns 0, OG_ERR_NOT_FOUND, OG_ERR_CRYPTO (the
 * row does not open under this key) or OG_ERR_DB; *secret is NULL on failure. */
int apps_secret(struct store *s, const struct keyring *k, const char *id, char **secret);

/* Replaces the app's secret with a fresh one, copied into secret (secretlen
 * >= APPS_SECRET_LEN); the old one stops working at once. Returns 0,
 * OG_ERR_NOT_FOUND, OG_ERR_TOO_BIG or a store/crypto error. */
int apps_rotate_secret(struct store *s, const struct keyring *k, const char *id, char *secret,
                       size_t secretlen);

/* Changes an app's name (NULL keeps it) and its redirect URIs (uris NULL
 * keeps them; else 1..APPS_MAX_URIS of them, each checked as apps_add
 * does, duplicates dropped). Joins the caller's transaction if one is open.
 * Returns 0, OG_ERR_INVALID (err says why), OG_ERR_NOT_FOUND or a store
 * error. */
int apps_update(struct store *s, const char *id, const char *name, const char *const *uris,
                size_t n, char *err, size_t errlen);

/* Deletes the app, its users with their factors, challenges and recovery
 * codes (ON DELETE CASCADE), and its policy rows, in one transaction.
 * Returns 0, OG_ERR_NOT_FOUND or a store error. */
int apps_remove(struct store *s, const char *id);

/* Sets the app's webhook URL (checked with apps_check_webhook_url). A URL
 * other than the one set before gets a fresh signing secret, copied into
 * secret (secretlen >= APPS_WEBHOOK_SECRET_LEN) for the caller to show
 * once, with *made true; the same URL again changes nothing (*made false,
 * secret ""). url "" removes the webhook and its secret; messages already
 * queued then fail, as nothing signs them. Returns 0,
 * OG_ERR_INVALID (err says why), OG_ERR_NOT_FOUND, OG_ERR_TOO_BIG or a
 * store/crypto error. */
int apps_set_webhook(struct store *s, const struct keyring *k, const char *id, const char *url,
                     char *secret, size_t secretlen, bool *made, char *err, size_t errlen);

/* Replaces the webhook signing secret of an app that has a webhook URL;
 * the new one (copied into secret, secretlen >= APPS_WEBHOOK_SECRET_LEN)
 * signs every delivery from now on, retries of older events included.
 * Returns 0, OG_ERR_NOT_FOUND (no such app, or no webhook URL), or a
 * store/crypto error. */
int apps_rotate_webhook_secret(struct store *s, const struct keyring *k, const char *id,
                               char *secret, size_t secretlen);

/* The app's webhook URL into url (urllen >= APPS_URI_MAX + 1). Returns 0,
 * OG_ERR_NOT_FOUND when the app has none (or does not exist) or a store
 * error. */
int apps_webhook_url(struct store *s, const char *id, char *url, size_t urllen);

/* The app's webhook signing key, the base64-decoded secret, into key
 * (APPS_WEBHOOK_KEY_BYTES), which the caller cleanses. Returns 0,
 * OG_ERR_NOT_FOUND, OG_ERR_CRYPTO (does not open) or a store error. */
int apps_webhook_key(struct store *s, const struct keyring *k, const char *id,
                     uint8_t key[APPS_WEBHOOK_KEY_BYTES]);

/* A malloc'd JSON array of {client_id, name, redirect_uris, policy,
 * webhook_url, created_at} in order of creation, never a secret
 * (webhook_url is null when the app has none). policy is the app's
 * own mode ("off", "optional", "mandatory"), or "inherit" when it follows
 * the global one. The caller frees *json. Returns 0 or OG_ERR_DB. */
int apps_list_json(struct store *s, char **json);

#endif
