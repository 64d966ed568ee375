/* The OpenID Connect provider of SPEC §6: discovery, JWKS, /authorize with
 * a signed request object and PKCE, /token and /userinfo. The browser part
 * in between is the pages' flow (pages_begin). */
#ifndef OTPGATE_OIDC_H
#define OTPGATE_OIDC_H

#include "gateway/http/http.h"

#define OIDC_CODE_TTL_MS (60LL * 1000)
#define OIDC_ID_TOKEN_TTL_S 600
#define OIDC_ACCESS_TOKEN_TTL_MS (600LL * 1000)
/* How long a rotated-out signing key stays published: past the longest
 * lifetime of a token it signed, with room for clock skew. */
#define OIDC_KEY_KEEP_MS ((OIDC_ID_TOKEN_TTL_S + 3600LL) * 1000)
#define OIDC_REQUEST_MAX_AGE_S 300
/* The longest a request object may live: exp - iat. */
#define OIDC_REQUEST_MAX_LIFETIME_S 300

void oidc_discovery(struct http_request *req);
void oidc_jwks(struct http_request *req);
void oidc_authorize(struct http_request *req);
void oidc_token(struct http_request *req);
void oidc_userinfo(struct http_request *req);

/* Whether an acr_values list (space-separated, may be NULL) asks for a
 * passkey: it names "phr" and none of the weaker values otpgate gives
 * (urn:otpgate:acr:mfa, :remembered, :none). */
bool oidc_acr_values_phr(const char *acr_values);

#endif
