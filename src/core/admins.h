/* Admin accounts of the console (SPEC §2 `otpgate admin add`): usernames,
 * passwords hashed with scrypt (parameters stored with each hash), console
 * sessions found by the SHA-256 of their cookie value, their CSRF tokens,
 * and the login throttle per username and per client IP (SPEC §4's
 * doubling waits). No libuv, no HTTP. admins_password_* are slow on
 * purpose (tens of milliseconds) and touch no store, so the gateway runs
 * them on the thread pool; every other call uses the store on the caller's
 * thread. A password or cookie value is never stored, logged or kept. */
#ifndef OTPGATE_ADMINS_H
#define OTPGATE_ADMINS_H

#include "core/common.h"
#include "core/store/store.h"

#define ADMINS_NAME_MAX       64   /* bytes of a username */
#define ADMINS_PASSWORD_MIN   12   /* characters (UTF-8 code points) */
#define ADMINS_PASSWORD_MAX   1024 /* bytes */
#define ADMINS_HASH_LEN       160  /* buffer for a stored hash string */
#define ADMINS_COOKIE_LEN     44   /* buffer for a cookie value: 43 base64url chars + NUL */
#define ADMINS_CSRF_LEN       44   /* buffer for a CSRF token */
#define ADMINS_SESSION_TTL_MS (12LL * 3600 * 1000) /* absolute lifetime of a session */

/* scrypt cost: N = 2^ln, r, p (RFC 7914). */
struct admins_kdf {
    unsigned ln, r, p;
};

/* N=2^15, r=8, p=1: 32 MiB and some 50-100 ms per hash. */
extern const struct admins_kdf admins_kdf_default;

/* Whether name is 1..ADMINS_NAME_MAX characters of [A-Za-z0-9._@-]. */
bool admins_name_ok(const char *name);

/* Whether password (len bytes) is acceptable: at least ADMINS_PASSWORD_MIN
 * characters (code points of valid UTF-8), at most ADMINS_PASSWORD_MAX
 * bytes, no NUL. Returns 0, OG_ERR_INVALID (too short, or not UTF-8) or
 * OG_ERR_TOO_BIG. */
int admins_password_check(const char *password, size_t len);

/* Hashes password (len bytes) with scrypt under kdf (NULL: the default)
 * and a fresh 16-byte random salt, into out as
 * "$scrypt$ln=15,r=8,p=1$<salt>$<hash>" (base64url, 32-byte hash);
 * outlen >= ADMINS_HASH_LEN. Slow; uses no store. Returns 0,
 * OG_ERR_INVALID (kdf out of range), OG_ERR_TOO_BIG or OG_ERR_CRYPTO. */
int admins_password_hash(const char *password, size_t len, const struct admins_kdf *kdf, char *out,
                         size_t outlen);

/* Whether password (len bytes) matches stored, a string admins_password_hash
 * wrote (any parameters within range). The derived keys are compared in
 * constant time; a malformed stored string is false. Slow; uses no store;
 * safe on any thread. */
bool admins_password_verify(const char *password, size_t len, const char *stored);

/* A well-formed hash with the default parameters that no password matches
 * (random salt and hash), for checking a login whose username is unknown so
 * that it costs the same time. outlen >= ADMINS_HASH_LEN. */
void admins_password_dummy(char *out, size_t outlen);

/* Creates admin name with password hash stored (from admins_password_hash),
 * or replaces the hash of an existing one and then ends all of its
 * sessions. *replaced (may be NULL) tells which. Joins the caller's
 * transaction if one is open. Returns 0, OG_ERR_INVALID (bad name or hash)
 * or a store error. */
int admins_put(struct store *s, const char *name, const char *stored, int64_t now_ms,
               bool *replaced);

/* Copies admin name's stored hash into out (outlen >= ADMINS_HASH_LEN).
 * Returns 0, OG_ERR_NOT_FOUND (also for a malformed name) or a store
 * error. */
int admins_get_hash(struct store *s, const char *name, char *out, size_t outlen);

/* Records a successful login of name at now_ms. Returns 0 or a store error. */
int admins_touch_login(struct store *s, const char *name, int64_t now_ms);

/* Number of admin accounts, or a negative store error. */
int64_t admins_count(struct store *s);

/* One admin account as admins_each reports it. */
struct admin_account {
    char username[ADMINS_NAME_MAX + 1];
    int64_t created_at, updated_at; /* unix ms; updated_at: the password's last change */
    int64_t last_login_at;          /* unix ms, 0 never */
    int64_t sessions;               /* console sessions open now */
};

/* Calls fn for every admin account, by username. fn must not use the
 * store. Returns 0 or a store error. */
int admins_each(struct store *s, int64_t now_ms,
                void (*fn)(const struct admin_account *a, void *arg), void *arg);

/* Creates admin name with password hash stored, refusing a name that
 * exists (OG_ERR_EXISTS): unlike admins_put it never replaces another
 * admin's password. Returns 0, OG_ERR_INVALID, OG_ERR_EXISTS or a store
 * error. */
int admins_add(struct store *s, const char *name, const char *stored, int64_t now_ms);

/* Removes admin name with its sessions. Refuses removing self (the admin
 * doing it: OG_ERR_PERM) and the last account (OG_ERR_PERM), so the console
 * can never lock everyone out. Returns 0, OG_ERR_NOT_FOUND, OG_ERR_PERM or a
 * store error. Run it inside a transaction so the count cannot change
 * under it. */
int admins_remove(struct store *s, const char *name, const char *self);

/* Replaces admin name's password hash and ends every session of that
 * admin but keep (may be NULL: all of them). Returns 0, OG_ERR_INVALID,
 * OG_ERR_NOT_FOUND or a store error. */
struct admin_session;
int admins_password_set(struct store *s, const char *name, const char *stored, int64_t now_ms,
                        const struct admin_session *keep);

/* ---- sessions ---- */

struct admin_session {
    uint8_t id_hash[32]; /* SHA-256 of the cookie value */
    char username[ADMINS_NAME_MAX + 1];
    int64_t created_at, expires_at; /* unix ms */
};

/* Opens a session for admin name until now_ms + ttl_ms (never extended):
 * writes the cookie value (base64url of 32 random bytes) into cookie
 * (cookielen >= ADMINS_COOKIE_LEN) and the session into out. client_ip may
 * be NULL. Returns 0, OG_ERR_INVALID, OG_ERR_TOO_BIG or a store error. */
int admins_session_create(struct store *s, const char *name, const char *client_ip, int64_t now_ms,
                          int64_t ttl_ms, char *cookie, size_t cookielen,
                          struct admin_session *out);

/* Finds the live session of a cookie value (need not be NUL-terminated;
 * len bytes) into out. Returns 0, OG_ERR_NOT_FOUND when malformed, unknown,
 * expired or its admin is gone (out zeroed), or a store error. */
int admins_session_load(struct store *s, const char *cookie, size_t len, int64_t now_ms,
                        struct admin_session *out);

/* Ends a session; an unknown one is not an error. Returns 0 or a store
 * error. */
int admins_session_delete(struct store *s, const struct admin_session *sess);

/* Keeps secret (a client secret the console shows once) in the session's
 * row, sealed under k's seal key with aad "admin-reveal:" label (the app's
 * client_id), replacing what was there. Returns 0 or a store/crypto
 * error. */
struct keyring;
int admins_reveal_put(struct store *s, const struct keyring *k, const struct admin_session *sess,
                      const char *label, const char *secret);

/* Takes the secret kept for label out of the session's row: copies it into
 * out (outlen bytes) and clears the row, so it shows once. Returns 0,
 * OG_ERR_NOT_FOUND (nothing kept, or kept for another label: then it
 * stays), OG_ERR_TOO_BIG or a store error. */
int admins_reveal_take(struct store *s, const struct keyring *k, const struct admin_session *sess,
                       const char *label, char *out, size_t outlen);

/* The CSRF token of a session: base64url(HMAC-SHA256(key, "admin-csrf" ||
 * id_hash)), 43 chars, into out (outlen >= ADMINS_CSRF_LEN; smaller aborts).
 * key is the keyring's csrf subkey. */
void admins_csrf_token(const uint8_t key[32], const uint8_t id_hash[32], char *out, size_t outlen);

/* Whether token (len bytes) is the CSRF token for id_hash, in constant
 * time. */
bool admins_csrf_check(const uint8_t key[32], const uint8_t id_hash[32], const char *token,
                       size_t len);

/* Deletes expired sessions and throttle rows idle for a day with no wait
 * pending. Returns 0 or a store error. */
int admins_prune(struct store *s, int64_t now_ms);

/* ---- login throttle ---- */

/* The doubling wait of SPEC §4 (the global policy's lockout_free,
 * lockout_wait and lockout_max_wait): after free failures in a row, each
 * further one makes the next try wait wait_s, then twice as long, up to
 * max_wait_s. wait_s 0 turns waits off. */
struct admins_throttle {
    unsigned free, wait_s, max_wait_s;
};

/* Seconds the login keyed key ("user:<name>" or "ip:<address>") must still
 * wait at now_ms (0 when it may try now), or a negative store error. */
int64_t admins_throttle_wait(struct store *s, const char *key, int64_t now_ms);

/* Counts one failure for key and starts its next wait when the failures are
 * past t->free. The gateway charges every attempt before checking the
 * password, so parallel attempts cannot outrun the count, and clears it on
 * success. Returns 0 or a store error. */
int admins_throttle_fail(struct store *s, const char *key, const struct admins_throttle *t,
                         int64_t now_ms);

/* Forgets key's failures and wait. Returns 0 or a store error. */
int admins_throttle_clear(struct store *s, const char *key);

#endif
