/* Compact JWS for otpgate: strict base64url, HS256 with EVP_Q_mac and a
 * constant-time compare, ES256 through EVP_DigestSign/Verify with the JOSE
 * r||s signature form, and P-256 keys as PKCS#8 DER and JWK. Never logs a
 * key or a token, and never trusts a header's alg beyond the one the caller
 * asked for. */
#include "core/jwt.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#define HS256_LEN      32
#define ES256_COORD    32
#define ES256_SIG_LEN  (2 * ES256_COORD)
#define EC_DER_MAX     4096 /* far above any P-256 private key encoding */
#define JSON_PARSE_FLG (JSON_REJECT_DUPLICATES)

/* ---- base64url ---- */

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

char *b64url_encode(const uint8_t *in, size_t n)
{
    if (n > (SIZE_MAX - 3) / 4 * 3)
        og_oom();
    char *out = og_malloc((n + 2) / 3 * 4 + 1);
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = B64URL[v >> 18];
        out[o++] = B64URL[(v >> 12) & 63];
        out[o++] = B64URL[(v >> 6) & 63];
        out[o++] = B64URL[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = B64URL[v >> 18];
        out[o++] = B64URL[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = B64URL[v >> 18];
        out[o++] = B64URL[(v >> 12) & 63];
        out[o++] = B64URL[(v >> 6) & 63];
    }
    out[o] = '\0';
    return out;
}

int b64url_decode(const char *in, size_t n, uint8_t **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    size_t rem = n % 4;
    if (rem == 1)
        return OG_ERR_INVALID;
    size_t len = n / 4 * 3 + (rem == 0 ? 0 : rem - 1);
    uint8_t *buf = og_malloc(len ? len : 1);
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0) {
            free(buf);
            return OG_ERR_INVALID;
        }
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* The bits left over must be zero, or two texts would decode alike. */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
        free(buf);
        return OG_ERR_INVALID;
    }
    *out = buf;
    *outlen = o;
    return OG_OK;
}

/* ---- helpers ---- */

static bool is_p256(EVP_PKEY *key)
{
    if (!key || !EVP_PKEY_is_a(key, "EC"))
        return false;
    char name[64];
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, name, sizeof(name), &len) != 1)
        return false;
    return strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0;
}

static int sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 ? OG_OK : OG_ERR_CRYPTO;
}

/* A JSON object from base64url text, or NULL. */
static json_t *decode_object(const char *b64, size_t n)
{
    uint8_t *raw;
    size_t len;
    if (n == 0 || b64url_decode(b64, n, &raw, &len) != OG_OK)
        return NULL;
    json_error_t jerr;
    json_t *v = json_loadb((const char *)raw, len, JSON_PARSE_FLG, &jerr);
    free(raw);
    if (v && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* The parts of a compact JWS whose header named the expected alg. */
struct jws {
    size_t signed_len;   /* bytes of "header.payload", the signing input */
    const char *payload; /* base64url text of the payload */
    size_t payload_len;
    uint8_t *sig; /* decoded signature, malloc'd */
    size_t siglen;
};

/* Splits token, checks its size, its header (a JSON object with alg equal
 * to alg and no "crit") and decodes its signature. */
static int jws_split(const char *token, const char *alg, struct jws *out)
{
    memset(out, 0, sizeof(*out));
    if (!token)
        return OG_ERR_INVALID;
    size_t n = strnlen(token, JWT_MAX_LEN + 1);
    if (n > JWT_MAX_LEN)
        return OG_ERR_TOO_BIG;
    const char *dot1 = memchr(token, '.', n);
    if (!dot1)
        return OG_ERR_INVALID;
    const char *dot2 = memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - token));
    if (!dot2 || memchr(dot2 + 1, '.', n - (size_t)(dot2 + 1 - token)))
        return OG_ERR_INVALID;
    size_t hlen = (size_t)(dot1 - token);
    size_t plen = (size_t)(dot2 - dot1 - 1);
    size_t slen = n - (size_t)(dot2 + 1 - token);
    if (hlen == 0 || plen == 0 || slen == 0)
        return OG_ERR_INVALID;

    json_t *header = decode_object(token, hlen);
    if (!header)
        return OG_ERR_INVALID;
    const char *halg = json_string_value(json_object_get(header, "alg"));
    bool ok = halg && strcmp(halg, alg) == 0 && !json_object_get(header, "crit");
    json_decref(header);
    if (!ok)
        return OG_ERR_INVALID;

    if (b64url_decode(dot2 + 1, slen, &out->sig, &out->siglen) != OG_OK)
        return OG_ERR_INVALID;
    out->signed_len = (size_t)(dot2 - token);
    out->payload = dot1 + 1;
    out->payload_len = plen;
    return OG_OK;
}

/* The payload of a verified JWS as *claims. */
static int jws_claims(const struct jws *j, json_t **claims)
{
    *claims = decode_object(j->payload, j->payload_len);
    return *claims ? OG_OK : OG_ERR_INVALID;
}

/* "b64(header).b64(claims)" as a malloc'd string, or NULL. */
static char *signing_input(const json_t *header, const json_t *claims)
{
    if (!json_is_object(claims))
        return NULL;
    char *h = json_dumps(header, JSON_COMPACT);
    char *p = json_dumps(claims, JSON_COMPACT);
    char *out = NULL;
    if (h && p) {
        char *hb = b64url_encode((const uint8_t *)h, strlen(h));
        char *pb = b64url_encode((const uint8_t *)p, strlen(p));
        size_t hn = strlen(hb), pn = strlen(pb);
        out = og_malloc(hn + 1 + pn + 1);
        memcpy(out, hb, hn);
        out[hn] = '.';
        memcpy(out + hn + 1, pb, pn + 1);
        free(hb);
        free(pb);
    }
    free(h);
    free(p);
    return out;
}

/* input + "." + b64(sig); frees input. */
static char *append_sig(char *input, const uint8_t *sig, size_t siglen)
{
    char *sb = b64url_encode(sig, siglen);
    size_t in = strlen(input), sn = strlen(sb);
    char *out = og_realloc(input, in + 1 + sn + 1);
    out[in] = '.';
    memcpy(out + in + 1, sb, sn + 1);
    free(sb);
    return out;
}

/* ---- HS256 ---- */

static int hs256(const uint8_t *key, size_t keylen, const void *data, size_t n,
                 uint8_t out[HS256_LEN])
{
    size_t len = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, data, n, out, HS256_LEN,
                   &len) ||
        len != HS256_LEN)
        return OG_ERR_CRYPTO;
    return OG_OK;
}

int jwt_hs256_verify(const char *token, const uint8_t *key, size_t keylen, json_t **claims)
{
    *claims = NULL;
    if (!key || keylen == 0)
        return OG_ERR_INVALID;
    struct jws j;
    int rc = jws_split(token, "HS256", &j);
    if (rc != OG_OK)
        return rc;
    uint8_t mac[HS256_LEN];
    rc = hs256(key, keylen, token, j.signed_len, mac);
    if (rc == OG_OK && (j.siglen != HS256_LEN || CRYPTO_memcmp(mac, j.sig, HS256_LEN) != 0))
        rc = OG_ERR_CRYPTO;
    OPENSSL_cleanse(mac, sizeof(mac));
    free(j.sig);
    if (rc != OG_OK)
        return rc;
    return jws_claims(&j, claims);
}

char *jwt_hs256_sign(const json_t *claims, const uint8_t *key, size_t keylen)
{
    if (!key || keylen == 0)
        return NULL;
    json_t *header = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT");
    if (!header)
        og_oom();
    char *input = signing_input(header, claims);
    json_decref(header);
    if (!input)
        return NULL;
    uint8_t mac[HS256_LEN];
    if (hs256(key, keylen, input, strlen(input), mac) != OG_OK) {
        free(input);
        return NULL;
    }
    char *out = append_sig(input, mac, sizeof(mac));
    OPENSSL_cleanse(mac, sizeof(mac));
    return out;
}

/* ---- times ---- */

/* A NumericDate claim as whole seconds: 0, OG_ERR_NOT_FOUND or
 * OG_ERR_INVALID. */
static int numeric_date(const json_t *claims, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(claims, name);
    if (!v)
        return OG_ERR_NOT_FOUND;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return OG_OK;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d > -9.0e18 && d < 9.0e18))
            return OG_ERR_INVALID;
        *out = (int64_t)d;
        return OG_OK;
    }
    return OG_ERR_INVALID;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b > 0 ? INT64_MIN : INT64_MAX;
    return r;
}

static int time_fail(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return OG_ERR_INVALID;
}

int jwt_check_times(const json_t *claims, int64_t now, int64_t max_age, int64_t leeway,
                    const char **why)
{
    if (why)
        *why = NULL;
    if (!json_is_object(claims))
        return time_fail(why, "missing exp");
    if (leeway < 0)
        leeway = 0;
    int64_t exp, iat;
    int rc = numeric_date(claims, "exp", &exp);
    if (rc != OG_OK)
        return time_fail(why, rc == OG_ERR_NOT_FOUND ? "missing exp" : "malformed exp");
    if (exp <= sat_sub(now, leeway))
        return time_fail(why, "expired");
    rc = numeric_date(claims, "iat", &iat);
    if (rc != OG_OK)
        return time_fail(why, rc == OG_ERR_NOT_FOUND ? "missing iat" : "malformed iat");
    if (iat > sat_add(now, leeway))
        return time_fail(why, "issued in the future");
    if (max_age >= 0 && iat < sat_sub(now, max_age))
        return time_fail(why, "too old");
    return OG_OK;
}

bool jwt_check_lifetime(const json_t *claims, int64_t max_lifetime)
{
    int64_t iat, exp;
    return json_is_object(claims) && numeric_date(claims, "iat", &iat) == OG_OK &&
           numeric_date(claims, "exp", &exp) == OG_OK && exp <= sat_add(iat, max_lifetime);
}

/* ---- ES256 ---- */

char *jwt_es256_sign(const json_t *claims, EVP_PKEY *key, const char *kid)
{
    if (!is_p256(key))
        return NULL;
    json_t *header = json_pack("{s:s, s:s}", "alg", "ES256", "typ", "JWT");
    if (!header)
        og_oom();
    if (kid) {
        json_t *k = json_string(kid);
        if (!k || json_object_set_new(header, "kid", k) != 0) {
            json_decref(header);
            return NULL;
        }
    }
    char *input = signing_input(header, claims);
    json_decref(header);
    if (!input)
        return NULL;

    uint8_t raw[ES256_SIG_LEN];
    bool ok = false;
    unsigned char *der = NULL;
    size_t derlen = 0;
    ECDSA_SIG *sig = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md && EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key, NULL) == 1 &&
        EVP_DigestSign(md, NULL, &derlen, (const unsigned char *)input, strlen(input)) == 1 &&
        derlen > 0 && derlen <= LONG_MAX) {
        der = og_malloc(derlen);
        if (EVP_DigestSign(md, der, &derlen, (const unsigned char *)input, strlen(input)) == 1) {
            const unsigned char *p = der;
            sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
        }
    }
    if (sig) {
        const BIGNUM *r, *s;
        ECDSA_SIG_get0(sig, &r, &s);
        ok = BN_bn2binpad(r, raw, ES256_COORD) == ES256_COORD &&
             BN_bn2binpad(s, raw + ES256_COORD, ES256_COORD) == ES256_COORD;
    }
    ECDSA_SIG_free(sig);
    free(der);
    EVP_MD_CTX_free(md);
    if (!ok) {
        free(input);
        return NULL;
    }
    return append_sig(input, raw, sizeof(raw));
}

int jwt_es256_verify(const char *token, EVP_PKEY *pub, json_t **claims)
{
    *claims = NULL;
    if (!is_p256(pub))
        return OG_ERR_INVALID;
    struct jws j;
    int rc = jws_split(token, "ES256", &j);
    if (rc != OG_OK)
        return rc;
    if (j.siglen != ES256_SIG_LEN) {
        free(j.sig);
        return OG_ERR_CRYPTO;
    }

    rc = OG_ERR_CRYPTO;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(j.sig, ES256_COORD, NULL);
    BIGNUM *s = BN_bin2bn(j.sig + ES256_COORD, ES256_COORD, NULL);
    unsigned char *der = NULL;
    int derlen = -1;
    if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = s = NULL; /* owned by sig now */
        derlen = i2d_ECDSA_SIG(sig, &der);
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (derlen > 0 && md &&
        EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, pub, NULL) == 1 &&
        EVP_DigestVerify(md, der, (size_t)derlen, (const unsigned char *)token, j.signed_len) == 1)
        rc = OG_OK;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    free(j.sig);
    if (rc != OG_OK)
        return rc;
    return jws_claims(&j, claims);
}

/* ---- P-256 keys ---- */

EVP_PKEY *jwt_ec_generate(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

int jwt_ec_export(EVP_PKEY *key, uint8_t **der, size_t *der_len)
{
    *der = NULL;
    *der_len = 0;
    if (!is_p256(key))
        return OG_ERR_INVALID;
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
    if (!p8)
        return OG_ERR_CRYPTO;
    int rc = OG_ERR_CRYPTO;
    int len = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL);
    if (len > 0) {
        uint8_t *buf = og_malloc((size_t)len);
        unsigned char *p = buf;
        if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) == len) {
            *der = buf;
            *der_len = (size_t)len;
            rc = OG_OK;
        } else {
            OPENSSL_cleanse(buf, (size_t)len);
            free(buf);
        }
    }
    PKCS8_PRIV_KEY_INFO_free(p8);
    return rc;
}

EVP_PKEY *jwt_ec_import(const uint8_t *der, size_t der_len)
{
    if (!der || der_len == 0 || der_len > EC_DER_MAX)
        return NULL;
    const unsigned char *p = der;
    EVP_PKEY *key = d2i_AutoPrivateKey(NULL, &p, (long)der_len);
    if (key && (p != der + der_len || !is_p256(key))) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    return key;
}

/* The public point's coordinates, 32 bytes each, as base64url strings. */
static int ec_coords(EVP_PKEY *key, char **x, char **y)
{
    *x = *y = NULL;
    if (!is_p256(key))
        return OG_ERR_INVALID;
    BIGNUM *bx = NULL, *by = NULL;
    uint8_t bufx[ES256_COORD], bufy[ES256_COORD];
    int rc = OG_ERR_CRYPTO;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 &&
        BN_bn2binpad(bx, bufx, ES256_COORD) == ES256_COORD &&
        BN_bn2binpad(by, bufy, ES256_COORD) == ES256_COORD) {
        *x = b64url_encode(bufx, ES256_COORD);
        *y = b64url_encode(bufy, ES256_COORD);
        rc = OG_OK;
    }
    BN_free(bx);
    BN_free(by);
    return rc;
}

/* RFC 7638: the required members in lexicographic order, no whitespace. */
static int thumbprint(const char *x, const char *y, char *out, size_t outlen)
{
    if (outlen < JWT_KID_LEN)
        return OG_ERR_TOO_BIG;
    char canon[160];
    int n = snprintf(canon, sizeof(canon),
                     "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    if (n < 0 || (size_t)n >= sizeof(canon))
        return OG_ERR_INVALID;
    uint8_t digest[32];
    if (sha256(canon, (size_t)n, digest) != OG_OK)
        return OG_ERR_CRYPTO;
    char *b = b64url_encode(digest, sizeof(digest));
    snprintf(out, outlen, "%s", b);
    free(b);
    return OG_OK;
}

int jwt_ec_kid(EVP_PKEY *key, char *out, size_t outlen)
{
    if (outlen < JWT_KID_LEN)
        return OG_ERR_TOO_BIG;
    char *x, *y;
    int rc = ec_coords(key, &x, &y);
    if (rc == OG_OK)
        rc = thumbprint(x, y, out, outlen);
    free(x);
    free(y);
    return rc;
}

json_t *jwt_ec_public_jwk(EVP_PKEY *key)
{
    char *x, *y;
    if (ec_coords(key, &x, &y) != OG_OK)
        return NULL;
    char kid[JWT_KID_LEN];
    json_t *jwk = NULL;
    if (thumbprint(x, y, kid, sizeof(kid)) == OG_OK) {
        jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", x,
                        "y", y, "kid", kid, "use", "sig", "alg", "ES256");
        if (!jwk)
            og_oom();
    }
    free(x);
    free(y);
    return jwk;
}

/* Decodes a JWK coordinate that must be exactly 32 bytes. */
static bool jwk_coord(const json_t *jwk, const char *name, uint8_t out[ES256_COORD])
{
    const json_t *v = json_object_get(jwk, name);
    const char *s = json_string_value(v);
    if (!s)
        return false;
    uint8_t *raw;
    size_t len;
    if (b64url_decode(s, json_string_length(v), &raw, &len) != OG_OK)
        return false;
    bool ok = len == ES256_COORD;
    if (ok)
        memcpy(out, raw, ES256_COORD);
    free(raw);
    return ok;
}

EVP_PKEY *jwt_ec_public_from_jwk(const json_t *jwk)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    if (!kty || !crv || strcmp(kty, "EC") != 0 || strcmp(crv, "P-256") != 0)
        return NULL;
    uint8_t point[1 + ES256_SIG_LEN];
    point[0] = 0x04; /* uncompressed */
    if (!jwk_coord(jwk, "x", point + 1) || !jwk_coord(jwk, "y", point + 1 + ES256_COORD))
        return NULL;

    OSSL_PARAM params[3];
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
    params[2] = OSSL_PARAM_construct_end();
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    if (!key)
        return NULL;
    /* fromdata already refuses a point off the curve; check it anyway. */
    EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    bool ok = check && EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
    if (!ok) {
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}
