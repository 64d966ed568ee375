/* Remembered devices: a browser that passed a second step may skip it for
 * a number of days, as the app's policy allows. A device is a row (whose
 * user, which app or every app, created, expires, last seen, a summary of
 * the browser, the IP at creation, and when the second step that made it
 * passed) plus a random 128-bit token in the browser's cookie; the table
 * keeps only the token's keyed hash, so a copy of the database opens
 * nothing. The gate (gate.c) decides what a found device is worth. No
 * libuv, no HTTP; every call joins the caller's transaction. */
#ifndef OTPGATE_DEVICES_H
#define OTPGATE_DEVICES_H

#include "core/common.h"
#include "core/secrets.h"
#include "core/store/store.h"

struct policy;

#define DEVICES_TOKEN_BYTES 16
#define DEVICES_TOKEN_LEN   24 /* buffer: 22 base64url chars + NUL */
#define DEVICES_ID_LEN      32
#define DEVICES_UA_LEN      64
#define DEVICES_IP_LEN      64

struct device {
    char id[DEVICES_ID_LEN]; /* "dev_" + 20 base32 chars */
    char app_id[32];         /* the app where it was remembered */
    char sub[256];
    bool scope_all; /* remembered for every app whose scope is "all" */
    int64_t created_at, expires_at, last_seen_at; /* unix ms */
    int64_t step_at;                              /* the second step that made it, unix ms */
    char user_agent[DEVICES_UA_LEN];              /* "Chrome on Linux" */
    char ip[DEVICES_IP_LEN];                      /* at creation */
};

/* A fresh token for a browser's cookie (base64url of 16 random bytes). */
void devices_token_new(char out[DEVICES_TOKEN_LEN]);

/* Whether s (n bytes) has the shape of a token: 22 base64url chars. */
bool devices_token_ok(const char *s, size_t n);

/* Remembers the browser holding token for (app_id, sub) until now_ms +
 * days, with the second step passed at step_at_ms; a row for the same
 * token, app and user is replaced. ua is the User-Agent header (only a
 * summary is kept), ip the client address (may be NULL). out (may be NULL)
 * gets the row. Returns 0, OG_ERR_INVALID or a store error. */
int devices_remember(struct store *s, const struct keyring *k, const char *token,
                     const char *app_id, const char *sub, bool scope_all, int64_t step_at_ms,
                     int64_t now_ms, unsigned days, const char *ua, const char *ip,
                     struct device *out);

/* The remembered device of the browser holding token for sub at app_id:
 * a row of that app, or (when all_scope) a row with scope "all" made at
 * any app; not expired at now_ms, made no earlier than now_ms - max_age_ms
 * (max_age_ms < 0: no limit; this is how a policy that shortened its days
 * applies to rows made before). Its last_seen_at becomes now_ms. Returns 0
 * (out filled), OG_ERR_NOT_FOUND or a store error. */
int devices_find(struct store *s, const struct keyring *k, const char *token, const char *app_id,
                 const char *sub, bool all_scope, int64_t now_ms, int64_t max_age_ms,
                 struct device *out);

/* Calls fn for each live device of sub at app_id (and, when app_id's own
 * remember_device_scope is "all", the scope-"all" devices made elsewhere),
 * newest first. Returns 0 or a store error. */
int devices_each(struct store *s, const char *app_id, const char *sub, int64_t now_ms,
                 void (*fn)(const struct device *d, void *arg), void *arg);

/* Forgets one device of sub (by id), under the same rule; OG_ERR_NOT_FOUND
 * when it is not theirs. */
int devices_forget(struct store *s, const char *app_id, const char *sub, const char *id);

/* Forgets every device of sub at app_id and, when app_id's own scope is
 * "all", every scope-"all" device of the same sub. pol is app_id's
 * effective policy when the caller has read it (as policy_load gives it),
 * else NULL: read here. *count (may be NULL) gets how many. Returns 0 or a
 * store error. */
int devices_forget_all(struct store *s, const char *app_id, const struct policy *pol,
                       const char *sub, int *count);

/* Deletes rows expired at now_ms. */
int devices_prune(struct store *s, int64_t now_ms);

/* A short summary of a User-Agent header, "Firefox on Windows", "Safari on
 * iPhone", "Chrome on Android", or "A browser" — nothing more of it is
 * kept. */
void devices_ua_summary(const char *ua, char *out, size_t outlen);

#endif
