/* Server-side sessions of the end-user pages (SPEC §8), the request
 * objects' used jti values, and the CSRF tokens bound to a session. The
 * cookie value is 256 random bits known only to the browser: the table keeps
 * its SHA-256, so a copy of the database opens no session. All times are
 * unix milliseconds. */
#ifndef OTPGATE_SESSIONS_H
#define OTPGATE_SESSIONS_H

#include "core/common.h"
#include "core/store/store.h"

#define SESSIONS_COOKIE_BYTES 32
#define SESSIONS_COOKIE_LEN   44  /* buffer for a cookie value: 43 base64url chars + NUL */
#define SESSIONS_CSRF_LEN     44  /* buffer for a CSRF token: 43 base64url chars + NUL */
#define SESSIONS_JTI_MAX      256 /* bytes of a jti */

/* session.flags */
enum {
    SESSION_OFFERED = 1,  /* the optional enrolment offer was shown in this flow */
    SESSION_DECLINED = 2, /* the user chose "Skip for now" in this flow */
    SESSION_ENDED = 4,    /* the flow went back to the app: the row only records its
                             second step (for gate_reuse_prior) and opens no page */
    SESSION_PHR = 8,      /* the second step passed in this flow was a passkey (a
                             sign-in, or a registration inside the flow) */
};

struct session {
    uint8_t id_hash[32]; /* SHA-256 of the cookie value */
    char app_id[32];
    char sub[256];
    char purpose[8]; /* "login" or "manage" */
    char *return_to; /* owned, may be NULL; free with sessions_free */
    char *state;     /* owned, may be NULL */
    char *flow;      /* owned JSON text, may be NULL */
    char locale[8];
    int64_t created_at, expires_at, last_seen, passed_at, stepup_at;
    char amr[128]; /* JSON array text, "" when none */
    char challenge_id[32];
    char pending_factor[32];
    unsigned flags;  /* SESSION_* */
    uint8_t *reveal; /* owned, may be NULL: sealed data a page shows once */
    size_t reveal_len;
};

/* Creates a session from in_out's app_id, sub (both non-empty), purpose
 * ("login" or "manage"), return_to, state, flow, locale, passed_at,
 * stepup_at, amr, challenge_id, pending_factor and flags; sets created_at and
 * last_seen to now_ms, expires_at to now_ms + ttl_ms (absolute, ttl_ms > 0)
 * and id_hash. Writes the new cookie value (base64url of 32 random bytes)
 * into cookie (cookielen >= SESSIONS_COOKIE_LEN). The strings stay the
 * caller's. Returns 0, OG_ERR_INVALID, OG_ERR_TOO_BIG or a store error. */
int sessions_create(struct store *s, struct session *in_out, int64_t now_ms, int64_t ttl_ms,
                    char *cookie, size_t cookielen);

/* Loads the session of a cookie value into out (which the caller frees with
 * sessions_free) and sets its last_seen to now_ms. Returns 0,
 * OG_ERR_NOT_FOUND when the value is malformed, unknown or expired (out is
 * then zeroed), or a store error. */
int sessions_load(struct store *s, const char *cookie, int64_t now_ms, struct session *out);

/* Saves the mutable fields: locale, passed_at, stepup_at, amr, challenge_id,
 * pending_factor, flow, flags, reveal and expires_at. Returns 0, OG_ERR_NOT_FOUND (the
 * session is gone), OG_ERR_INVALID or a store error. */
int sessions_save(struct store *s, const struct session *sess);

/* Gives the session a new cookie value (after a second step passes, against
 * session fixation): the old value stops working at once. Updates
 * sess->id_hash and writes the value into cookie (cookielen >=
 * SESSIONS_COOKIE_LEN) on success only. Returns 0, OG_ERR_NOT_FOUND,
 * OG_ERR_TOO_BIG or a store error. */
int sessions_rotate(struct store *s, struct session *sess, char *cookie, size_t cookielen);

/* Deletes the session; deleting one that is already gone is not an error.
 * Returns 0 or a store error. */
int sessions_delete(struct store *s, const struct session *sess);

/* Frees return_to, state, flow and reveal and sets them to NULL; the struct stays
 * the caller's. NULL is ignored. */
void sessions_free(struct session *sess);

/* Deletes the sessions and used jti values whose expires_at <= now_ms.
 * Returns 0 or a store error. */
int sessions_prune(struct store *s, int64_t now_ms);

/* Records that the app has used jti (1..SESSIONS_JTI_MAX bytes), remembered
 * until expires_at_ms (the token's exp) and pruning. Returns 0 the first
 * time, OG_ERR_EXISTS when the app already used it (another app's jti of the
 * same value does not count), OG_ERR_INVALID or a store error. */
int sessions_jti_use(struct store *s, const char *app_id, const char *jti, int64_t expires_at_ms);

/* A session cookie value (the user pages' and the admin console's): 43
 * base64url chars, kept in the store only as its SHA-256. */
bool sessions_cookie_ok(const char *cookie, size_t n);
void sessions_cookie_hash(const char *cookie, size_t n, uint8_t out[32]);

/* The CSRF token of a session: base64url(HMAC-SHA256(key, id_hash)), 43
 * chars, into out (outlen >= SESSIONS_CSRF_LEN; a smaller buffer is a bug
 * and aborts). It changes when the session rotates. key is the keyring's
 * csrf subkey. */
void sessions_csrf_token(const uint8_t key[32], const struct session *sess, char *out,
                         size_t outlen);

/* Whether token (len bytes, need not be NUL-terminated) is the session's
 * CSRF token, compared in constant time. */
bool sessions_csrf_check(const uint8_t key[32], const struct session *sess, const char *token,
                         size_t len);

#endif
