/* OpenID Connect authorization codes and access tokens in the store. A code
 * is 256 random bits handed to the browser once; only its SHA-256 is kept,
 * it lives 60 s and is consumed by exactly one UPDATE (a second use finds
 * it used). Access tokens are the same, for /userinfo. */
#ifndef OTPGATE_AUTHCODES_H
#define OTPGATE_AUTHCODES_H

#include "core/store/store.h"

#include <stdint.h>

struct authcode {
    char app_id[32];
    char sub[256];
    char redirect_uri[1024];
    char nonce[256];
    char code_challenge[128];
    char scope[256];
    char amr[128]; /* JSON array text */
    char acr[64];
    int64_t auth_time; /* unix s */
};

/* Stores a new code for c; writes the code (base64url) into out (>= 44). */
int authcodes_create(struct store *s, const struct authcode *c, int64_t now_ms, int64_t ttl_ms,
                     char *out, size_t outlen);
/* Consumes a code issued to app_id: OG_OK and *c filled only for the call
 * that marks it used; OG_ERR_EXISTS when it was used before (*c still
 * filled, for the log), OG_ERR_PERM when it belongs to another app (left
 * unused), OG_ERR_NOT_FOUND when unknown or expired. */
int authcodes_consume(struct store *s, const char *code, const char *app_id, int64_t now_ms,
                      struct authcode *c);
int authcodes_token_create(struct store *s, const char *app_id, const char *sub, const char *scope,
                           int64_t now_ms, int64_t ttl_ms, char *out, size_t outlen);
/* Looks up a live access token; fills app_id and sub. */
int authcodes_token_lookup(struct store *s, const char *token, int64_t now_ms, char *app_id,
                           size_t app_len, char *sub, size_t sub_len);
int authcodes_prune(struct store *s, int64_t now_ms);

#endif
