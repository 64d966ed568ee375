/* Compact JWS/JWT (RFC 7515, RFC 7519): HS256 request objects signed by an
 * app with its client secret, ES256 (P-256) id_tokens signed by otpgate's
 * own keys, the keys' DER and JWK forms, and base64url. Pure computation on
 * OpenSSL and jansson: nothing here logs, stores or reads the clock. */
#ifndef OTPGATE_JWT_H
#define OTPGATE_JWT_H

#include "core/common.h"

#include <jansson.h>
#include <openssl/evp.h>

#define JWT_MAX_LEN 8192 /* bytes of a compact token; longer ones are refused */
#define JWT_KID_LEN 44   /* buffer for a kid: 43 base64url chars of SHA-256 + NUL */

/* Verifies an HS256 JWT with key (the app's client secret, keylen >= 1) in
 * constant time. Refuses alg "none" and every alg but HS256, a "crit"
 * header, a malformed token (not exactly 3 parts, base64url that is not
 * canonical or has padding, a header or payload that is not a JSON object,
 * duplicate member names) and a token over JWT_MAX_LEN bytes. Does NOT
 * check exp/iat (see jwt_check_times). Returns 0 with *claims the parsed
 * payload (the caller json_decrefs it); OG_ERR_TOO_BIG, OG_ERR_INVALID
 * (malformed or wrong alg) or OG_ERR_CRYPTO (the signature does not verify)
 * with *claims NULL. */
int jwt_hs256_verify(const char *token, const uint8_t *key, size_t keylen, json_t **claims);

/* An HS256 JWT of the object claims, header {"alg":"HS256","typ":"JWT"}.
 * Returns a malloc'd NUL-terminated token the caller frees, or NULL when
 * claims is not an object, keylen is 0, or OpenSSL fails. */
char *jwt_hs256_sign(const json_t *claims, const uint8_t *key, size_t keylen);

/* Checks the NumericDate claims (seconds): exp is required and must be
 * > now - leeway; iat is required, must be <= now + leeway and, when
 * max_age >= 0, >= now - max_age. Returns 0, or OG_ERR_INVALID with a short
 * static reason in *why (if why is not NULL): "missing exp", "malformed
 * exp", "expired", "missing iat", "malformed iat", "issued in the future",
 * "too old". */
int jwt_check_times(const json_t *claims, int64_t now, int64_t max_age, int64_t leeway,
                    const char **why);

/* Whether exp is at most max_lifetime seconds after iat (both NumericDate
 * claims, as jwt_check_times reads them): the bound on how long a signed
 * link, request object or result may live. */
bool jwt_check_lifetime(const json_t *claims, int64_t max_lifetime);

/* An ES256 JWT of the object claims signed with the P-256 private key key:
 * header {"alg":"ES256","typ":"JWT","kid":kid} (no kid when kid is NULL),
 * signature the raw 64-byte r||s. Returns a malloc'd token the caller frees,
 * or NULL when key is not a P-256 private key or OpenSSL fails. */
char *jwt_es256_sign(const json_t *claims, EVP_PKEY *key, const char *kid);

/* Verifies an ES256 JWT against the P-256 public key pub (a key pair works
 * too), with the same refusals and answers as jwt_hs256_verify (alg must be
 * ES256, the signature exactly 64 bytes). */
int jwt_es256_verify(const char *token, EVP_PKEY *pub, json_t **claims);

/* A fresh P-256 key pair, or NULL. The caller EVP_PKEY_frees it. */
EVP_PKEY *jwt_ec_generate(void);

/* The private key as PKCS#8 PrivateKeyInfo DER in *der (malloc'd; the caller
 * cleanses it with OPENSSL_cleanse and frees it). Returns 0, OG_ERR_INVALID
 * (not a P-256 key) or OG_ERR_CRYPTO (no private half, or OpenSSL failed);
 * *der is NULL on failure. */
int jwt_ec_export(EVP_PKEY *key, uint8_t **der, size_t *der_len);

/* Inverse of jwt_ec_export (SEC1 ECPrivateKey DER is accepted too). Returns
 * a P-256 key pair the caller frees, or NULL for anything else or trailing
 * bytes. */
EVP_PKEY *jwt_ec_import(const uint8_t *der, size_t der_len);

/* The public JWK {"kty":"EC","crv":"P-256","x","y","kid","use":"sig",
 * "alg":"ES256"} of key, x and y the 32-byte big-endian coordinates in
 * base64url, kid as jwt_ec_kid. A new reference the caller json_decrefs, or
 * NULL when key is not a P-256 key. */
json_t *jwt_ec_public_jwk(EVP_PKEY *key);

/* The RFC 7638 JWK thumbprint of key: base64url(SHA-256 of
 * {"crv":"P-256","kty":"EC","x":"…","y":"…"}), 43 chars, into out (outlen
 * >= JWT_KID_LEN). Returns 0, OG_ERR_TOO_BIG, OG_ERR_INVALID (not P-256) or
 * OG_ERR_CRYPTO. */
int jwt_ec_kid(EVP_PKEY *key, char *out, size_t outlen);

/* The P-256 public key of an EC JWK ("kty":"EC", "crv":"P-256", x and y of
 * 32 bytes each, a point on the curve), for checking tokens against a
 * published JWKS. Returns a key the caller frees, or NULL. */
EVP_PKEY *jwt_ec_public_from_jwk(const json_t *jwk);

/* URL-safe base64 without padding (RFC 4648 §5) of n bytes, as a malloc'd
 * NUL-terminated string the caller frees. Never NULL (OOM aborts). */
char *b64url_encode(const uint8_t *in, size_t n);

/* Decodes n chars of base64url without padding. Refuses '=', characters
 * outside the URL-safe alphabet, a length of 1 mod 4 and non-zero unused
 * trailing bits (so every byte string has one encoding). Returns 0 with
 * *out malloc'd (at least one byte, even for n == 0; the caller frees it)
 * and *outlen its length, or OG_ERR_INVALID with *out NULL. */
int b64url_decode(const char *in, size_t n, uint8_t **out, size_t *outlen);

#endif
