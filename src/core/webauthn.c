/* The relying party's checks of WebAuthn registrations and sign-ins
 * (WebAuthn §7.1, §7.2): clientDataJSON, authenticator data, COSE keys,
 * the none/packed/fido-u2f attestation statements and assertion
 * signatures. CBOR is decoded by libcbor only after a walk with its
 * streaming decoder has bounded every length and the nesting, so no input
 * makes it allocate more than the input's size; every key and signature is
 * OpenSSL's. Never trusts a length or a flag it has not checked, never
 * logs input. */
#include "core/webauthn.h"

#include "core/jwt.h"

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>

#define AUTH_DATA_FIXED  37 /* rpIdHash, flags, signCount */
#define CBOR_ITEMS_MAX   64 /* entries of any CBOR array or map we accept */
#define COSE_KTY_OKP     1
#define COSE_KTY_EC2     2
#define COSE_KTY_RSA     3
#define COSE_CRV_P256    1
#define COSE_CRV_ED25519 6
#define OID_FIDO_AAGUID  "1.3.6.1.4.1.45724.1.1.4" /* id-fido-gen-ce-aaguid */

/* ---- names ---- */

static const struct {
    const char *code;
    const char *text;
} results[] = {
    [WEBAUTHN_OK] = {"ok", "verified"},
    [WEBAUTHN_ERR_MALFORMED] = {"malformed", "malformed or oversized WebAuthn data"},
    [WEBAUTHN_ERR_TYPE] = {"wrong_type", "clientDataJSON has the wrong type"},
    [WEBAUTHN_ERR_CHALLENGE] = {"wrong_challenge", "not the challenge that was issued"},
    [WEBAUTHN_ERR_ORIGIN] = {"wrong_origin", "made for another origin"},
    [WEBAUTHN_ERR_CROSS_ORIGIN] = {"cross_origin", "made inside a cross-origin frame"},
    [WEBAUTHN_ERR_RP_ID] = {"wrong_rp_id", "made for another relying party id"},
    [WEBAUTHN_ERR_USER_PRESENCE] = {"user_presence", "the authenticator saw no user presence"},
    [WEBAUTHN_ERR_USER_VERIFICATION] = {"user_verification",
                                        "the user was not verified and the policy requires it"},
    [WEBAUTHN_ERR_BACKUP_STATE] = {"backup_state", "backed up although not backup eligible"},
    [WEBAUTHN_ERR_BACKUP_ELIGIBILITY] = {"backup_eligibility",
                                         "backup eligibility differs from the registration"},
    [WEBAUTHN_ERR_ALGORITHM] = {"algorithm", "a key algorithm, curve or size not accepted"},
    [WEBAUTHN_ERR_ATTESTATION_FORMAT] = {"attestation_format",
                                         "an attestation format not supported"},
    [WEBAUTHN_ERR_ATTESTATION] = {"attestation", "the attestation statement does not verify"},
    [WEBAUTHN_ERR_CREDENTIAL] = {"wrong_credential", "rawId is not the credential signed for"},
    [WEBAUTHN_ERR_USER_HANDLE] = {"user_handle", "userHandle names another user"},
    [WEBAUTHN_ERR_SIGNATURE] = {"signature", "the signature does not verify"},
    [WEBAUTHN_ERR_SIGN_COUNT] = {"sign_count", "the signature counter did not grow (a clone?)"},
    [WEBAUTHN_ERR_INTERNAL] = {"internal_error", "internal error"},
};

const char *webauthn_result_code(enum webauthn_result r)
{
    return (unsigned)r < ARRAY_SIZE(results) ? results[r].code : "internal_error";
}

const char *webauthn_result_text(enum webauthn_result r)
{
    return (unsigned)r < ARRAY_SIZE(results) ? results[r].text : "internal error";
}

static const char *const uv_names[] = {"required", "preferred", "discouraged"};

const char *webauthn_uv_name(enum webauthn_uv uv)
{
    return (unsigned)uv < ARRAY_SIZE(uv_names) ? uv_names[uv] : "preferred";
}

int webauthn_uv_parse(const char *s, enum webauthn_uv *out)
{
    for (size_t i = 0; s && i < ARRAY_SIZE(uv_names); i++) {
        if (strcmp(s, uv_names[i]) == 0) {
            *out = (enum webauthn_uv)i;
            return OG_OK;
        }
    }
    return OG_ERR_INVALID;
}

static const struct {
    const char *name;
    unsigned bit;
} transport_names[] = {
    {"usb", WEBAUTHN_TRANSPORT_USB},       {"nfc", WEBAUTHN_TRANSPORT_NFC},
    {"ble", WEBAUTHN_TRANSPORT_BLE},       {"smart-card", WEBAUTHN_TRANSPORT_SMART_CARD},
    {"hybrid", WEBAUTHN_TRANSPORT_HYBRID}, {"internal", WEBAUTHN_TRANSPORT_INTERNAL},
};

int webauthn_transports_format(unsigned bits, char *out, size_t outlen)
{
    if (outlen == 0)
        return OG_ERR_TOO_BIG;
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(transport_names); i++) {
        if (!(bits & transport_names[i].bit))
            continue;
        int w = snprintf(out + n, outlen - n, "%s%s", n ? "," : "", transport_names[i].name);
        if (w < 0 || (size_t)w >= outlen - n) {
            out[0] = '\0';
            return OG_ERR_TOO_BIG;
        }
        n += (size_t)w;
    }
    return (int)n;
}

unsigned webauthn_transports_parse(const char *list)
{
    unsigned bits = 0;
    const char *p = list;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        for (size_t i = 0; i < ARRAY_SIZE(transport_names); i++)
            if (span_eq_cstr(span_make(p, len), transport_names[i].name))
                bits |= transport_names[i].bit;
        p = end ? end + 1 : NULL;
    }
    return bits;
}

/* ---- CBOR: bounded first, then decoded by libcbor ---- */

enum walk_kind { WALK_ATOM, WALK_ARRAY, WALK_MAP };

struct walk {
    enum walk_kind kind;
    size_t size;
    bool bad; /* indefinite length, tag or break: never in CTAP2's canonical CBOR */
};

static void walk_array(void *ctx, size_t size)
{
    struct walk *w = ctx;
    w->kind = WALK_ARRAY;
    w->size = size;
}

static void walk_map(void *ctx, size_t size)
{
    struct walk *w = ctx;
    w->kind = WALK_MAP;
    w->size = size;
}

static void walk_bad(void *ctx)
{
    ((struct walk *)ctx)->bad = true;
}

static void walk_tag(void *ctx, uint64_t tag)
{
    OG_UNUSED(tag);
    ((struct walk *)ctx)->bad = true;
}

static const struct cbor_callbacks walk_callbacks = {
    .uint8 = cbor_null_uint8_callback,
    .uint16 = cbor_null_uint16_callback,
    .uint32 = cbor_null_uint32_callback,
    .uint64 = cbor_null_uint64_callback,
    .negint64 = cbor_null_negint64_callback,
    .negint32 = cbor_null_negint32_callback,
    .negint16 = cbor_null_negint16_callback,
    .negint8 = cbor_null_negint8_callback,
    .byte_string_start = walk_bad,
    .byte_string = cbor_null_byte_string_callback,
    .string = cbor_null_string_callback,
    .string_start = walk_bad,
    .indef_array_start = walk_bad,
    .array_start = walk_array,
    .indef_map_start = walk_bad,
    .map_start = walk_map,
    .tag = walk_tag,
    .float2 = cbor_null_float2_callback,
    .float4 = cbor_null_float4_callback,
    .float8 = cbor_null_float8_callback,
    .undefined = cbor_null_undefined_callback,
    .null = cbor_null_null_callback,
    .boolean = cbor_null_boolean_callback,
    .indef_break = walk_bad,
};

/* Walks the one CBOR item at p[0..n) and sets *used to its length. False
 * for anything malformed, truncated, indefinite, tagged, nested deeper
 * than WEBAUTHN_CBOR_DEPTH, or with a container declaring more entries
 * than CBOR_ITEMS_MAX or than bytes are left to hold them (libcbor
 * allocates a container's entries before it reads them). */
static bool cbor_extent(const uint8_t *p, size_t n, size_t *used)
{
    size_t pending[WEBAUTHN_CBOR_DEPTH + 1];
    size_t depth = 0, pos = 0;
    pending[0] = 1;
    for (;;) {
        if (pos >= n)
            return false;
        struct walk w = {WALK_ATOM, 0, false};
        struct cbor_decoder_result res = cbor_stream_decode(p + pos, n - pos, &walk_callbacks, &w);
        if (res.status != CBOR_DECODER_FINISHED || w.bad || res.read == 0 || res.read > n - pos)
            return false;
        pos += res.read;
        pending[depth]--;
        if (w.kind != WALK_ATOM && w.size > 0) {
            if (w.size > CBOR_ITEMS_MAX || depth == WEBAUTHN_CBOR_DEPTH)
                return false;
            size_t items = w.kind == WALK_MAP ? 2 * w.size : w.size;
            if (items > n - pos)
                return false;
            pending[++depth] = items;
        }
        while (depth > 0 && pending[depth] == 0)
            depth--;
        if (depth == 0 && pending[0] == 0)
            break;
    }
    *used = pos;
    return true;
}

/* Decodes p[0..n), which must be exactly one bounded CBOR item. */
static cbor_item_t *cbor_load_exact(const uint8_t *p, size_t n)
{
    size_t used;
    if (!cbor_extent(p, n, &used) || used != n)
        return NULL;
    struct cbor_load_result res;
    cbor_item_t *it = cbor_load(p, n, &res);
    if (it && (res.error.code != CBOR_ERR_NONE || res.read != n)) {
        cbor_decref(&it);
        return NULL;
    }
    return it;
}

static bool cbor_int64(const cbor_item_t *it, int64_t *out)
{
    if (!cbor_isa_uint(it) && !cbor_isa_negint(it))
        return false;
    uint64_t v = cbor_get_int(it);
    if (v > INT64_MAX)
        return false;
    *out = cbor_isa_uint(it) ? (int64_t)v : -1 - (int64_t)v;
    return true;
}

static bool cbor_key_is(const cbor_item_t *k, const char *name, int64_t ikey)
{
    if (name) {
        size_t len = strlen(name);
        return cbor_isa_string(k) && cbor_string_is_definite(k) && cbor_string_length(k) == len &&
               memcmp(cbor_string_handle(k), name, len) == 0;
    }
    int64_t v;
    return cbor_int64(k, &v) && v == ikey;
}

/* The value of a text key (name) or an integer key (ikey, when name is
 * NULL) in map, or NULL. A key found twice sets *dup: such a map means two
 * things and is refused by the callers. */
static cbor_item_t *map_get(const cbor_item_t *map, const char *name, int64_t ikey, bool *dup)
{
    cbor_item_t *found = NULL;
    struct cbor_pair *pairs = cbor_map_handle(map);
    size_t n = cbor_map_size(map);
    for (size_t i = 0; i < n; i++) {
        if (!cbor_key_is(pairs[i].key, name, ikey))
            continue;
        if (found)
            *dup = true;
        found = pairs[i].value;
    }
    return found;
}

static bool is_bytes(const cbor_item_t *it)
{
    return it && cbor_isa_bytestring(it) && cbor_bytestring_is_definite(it);
}

/* ---- clientDataJSON ---- */

static bool json_str_is(const json_t *v, const char *want)
{
    size_t len = strlen(want);
    return json_string_length(v) == len && memcmp(json_string_value(v), want, len) == 0;
}

enum webauthn_result webauthn_client_data_check(const uint8_t *json, size_t len,
                                                enum webauthn_ceremony kind,
                                                const struct webauthn_expect *x)
{
    if (!json || len == 0 || len > WEBAUTHN_CLIENT_DATA_MAX)
        return WEBAUTHN_ERR_MALFORMED;
    json_error_t jerr;
    json_t *cd = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!cd || !json_is_object(cd)) {
        json_decref(cd);
        return WEBAUTHN_ERR_MALFORMED;
    }
    enum webauthn_result r = WEBAUTHN_OK;
    const json_t *type = json_object_get(cd, "type");
    const json_t *chal = json_object_get(cd, "challenge");
    const json_t *origin = json_object_get(cd, "origin");
    const json_t *cross = json_object_get(cd, "crossOrigin");
    if (!json_is_string(type) || !json_is_string(chal) || !json_is_string(origin) ||
        (cross && !json_is_boolean(cross))) {
        r = WEBAUTHN_ERR_MALFORMED;
    } else if (!json_str_is(type, kind == WEBAUTHN_CREATE ? "webauthn.create" : "webauthn.get")) {
        r = WEBAUTHN_ERR_TYPE;
    } else {
        uint8_t *got = NULL;
        size_t got_len = 0;
        if (b64url_decode(json_string_value(chal), json_string_length(chal), &got, &got_len) !=
                OG_OK ||
            got_len != x->challenge_len || x->challenge_len == 0 ||
            CRYPTO_memcmp(got, x->challenge, got_len) != 0)
            r = WEBAUTHN_ERR_CHALLENGE;
        free(got);
        if (r == WEBAUTHN_OK && !json_str_is(origin, x->origin))
            r = WEBAUTHN_ERR_ORIGIN;
        if (r == WEBAUTHN_OK && (json_is_true(cross) || json_object_get(cd, "topOrigin")))
            r = WEBAUTHN_ERR_CROSS_ORIGIN;
    }
    json_decref(cd);
    return r;
}

/* ---- authenticator data ---- */

enum webauthn_result webauthn_auth_data_parse(const uint8_t *p, size_t len,
                                              struct webauthn_auth_data *out)
{
    memset(out, 0, sizeof(*out));
    if (!p || len < AUTH_DATA_FIXED || len > WEBAUTHN_AUTH_DATA_MAX)
        return WEBAUTHN_ERR_MALFORMED;
    out->rp_id_hash = p;
    out->flags = p[32];
    out->sign_count = (uint32_t)p[33] << 24 | (uint32_t)p[34] << 16 | (uint32_t)p[35] << 8 | p[36];
    size_t pos = AUTH_DATA_FIXED;
    if (out->flags & WEBAUTHN_FLAG_AT) {
        if (len - pos < 18)
            return WEBAUTHN_ERR_MALFORMED;
        out->aaguid = p + pos;
        size_t id_len = (size_t)p[pos + 16] << 8 | p[pos + 17];
        pos += 18;
        if (id_len == 0 || id_len > WEBAUTHN_CRED_ID_MAX || id_len > len - pos)
            return WEBAUTHN_ERR_MALFORMED;
        out->cred_id = p + pos;
        out->cred_id_len = id_len;
        pos += id_len;
        size_t used;
        /* The key is a CBOR map (major type 5). */
        if (pos >= len || (p[pos] >> 5) != 5 || !cbor_extent(p + pos, len - pos, &used))
            return WEBAUTHN_ERR_MALFORMED;
        out->cose_key = p + pos;
        out->cose_key_len = used;
        pos += used;
    }
    if (out->flags & WEBAUTHN_FLAG_ED) {
        size_t used;
        if (pos >= len || (p[pos] >> 5) != 5 || !cbor_extent(p + pos, len - pos, &used))
            return WEBAUTHN_ERR_MALFORMED;
        out->extensions = p + pos;
        out->extensions_len = used;
        pos += used;
    }
    return pos == len ? WEBAUTHN_OK : WEBAUTHN_ERR_MALFORMED;
}

/* ---- keys ---- */

/* Whether key is the kind alg signs with: P-256, RSA of the accepted
 * sizes, or Ed25519. */
static bool key_fits_alg(EVP_PKEY *key, int64_t alg)
{
    switch (alg) {
    case WEBAUTHN_ALG_ES256: {
        char group[32];
        size_t glen = 0;
        return EVP_PKEY_is_a(key, "EC") &&
               EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                              &glen) == 1 &&
               strcmp(group, "prime256v1") == 0;
    }
    case WEBAUTHN_ALG_RS256: {
        int bits = EVP_PKEY_get_bits(key);
        return EVP_PKEY_is_a(key, "RSA") && bits >= WEBAUTHN_RSA_MIN_BITS &&
               bits <= WEBAUTHN_RSA_MAX_BITS;
    }
    case WEBAUTHN_ALG_EDDSA:
        return EVP_PKEY_is_a(key, "ED25519");
    default:
        return false;
    }
}

/* A public key from OpenSSL parameters. check runs OpenSSL's public key
 * check too: for P-256 (a point on the curve, which fromdata has already
 * refused otherwise), not for RSA, where SP 800-56B's check tests the
 * modulus for primality and costs milliseconds on the loop, while a bad
 * modulus could only make its own owner's signatures fail. */
static EVP_PKEY *key_from_params(const char *type, OSSL_PARAM *params, bool check)
{
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    if (!key || !check)
        return key;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    bool ok = pc && EVP_PKEY_public_check(pc) == 1;
    EVP_PKEY_CTX_free(pc);
    if (!ok) {
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

static EVP_PKEY *key_ec2(const cbor_item_t *map, bool *dup)
{
    const cbor_item_t *crv = map_get(map, NULL, -1, dup);
    const cbor_item_t *x = map_get(map, NULL, -2, dup);
    const cbor_item_t *y = map_get(map, NULL, -3, dup);
    int64_t c;
    /* y may be a bool in COSE (a compressed point); authenticators send
     * the full point, and so must they here. */
    if (!crv || !cbor_int64(crv, &c) || c != COSE_CRV_P256 || !is_bytes(x) || !is_bytes(y) ||
        cbor_bytestring_length(x) != 32 || cbor_bytestring_length(y) != 32)
        return NULL;
    uint8_t point[65];
    point[0] = 0x04;
    memcpy(point + 1, cbor_bytestring_handle(x), 32);
    memcpy(point + 33, cbor_bytestring_handle(y), 32);
    OSSL_PARAM params[3];
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
    params[2] = OSSL_PARAM_construct_end();
    return key_from_params("EC", params, true);
}

static EVP_PKEY *key_rsa(const cbor_item_t *map, bool *dup)
{
    const cbor_item_t *n = map_get(map, NULL, -1, dup);
    const cbor_item_t *e = map_get(map, NULL, -2, dup);
    if (!is_bytes(n) || !is_bytes(e) || cbor_bytestring_length(n) > WEBAUTHN_RSA_MAX_BITS / 8 ||
        cbor_bytestring_length(e) == 0 || cbor_bytestring_length(e) > 8)
        return NULL;
    BIGNUM *bn = BN_bin2bn(cbor_bytestring_handle(n), (int)cbor_bytestring_length(n), NULL);
    BIGNUM *be = BN_bin2bn(cbor_bytestring_handle(e), (int)cbor_bytestring_length(e), NULL);
    EVP_PKEY *key = NULL;
    /* An even modulus, or a public exponent of 1 or an even one, is no RSA key. */
    if (bn && be && BN_is_odd(bn) && BN_is_odd(be) && !BN_is_one(be) &&
        BN_num_bits(bn) >= WEBAUTHN_RSA_MIN_BITS && BN_num_bits(bn) <= WEBAUTHN_RSA_MAX_BITS) {
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        if (bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1)
            params = OSSL_PARAM_BLD_to_param(bld);
        if (params)
            key = key_from_params("RSA", params, false);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
    }
    BN_free(bn);
    BN_free(be);
    return key;
}

static EVP_PKEY *key_okp(const cbor_item_t *map, bool *dup)
{
    const cbor_item_t *crv = map_get(map, NULL, -1, dup);
    const cbor_item_t *x = map_get(map, NULL, -2, dup);
    int64_t c;
    if (!crv || !cbor_int64(crv, &c) || c != COSE_CRV_ED25519 || !is_bytes(x) ||
        cbor_bytestring_length(x) != 32)
        return NULL;
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, cbor_bytestring_handle(x), 32);
}

/* The COSE key at p as an OpenSSL key with its alg, or a refusal. */
static enum webauthn_result cose_key_load(const uint8_t *p, size_t len, int *alg, EVP_PKEY **out)
{
    *out = NULL;
    cbor_item_t *map = cbor_load_exact(p, len);
    if (!map)
        return WEBAUTHN_ERR_MALFORMED;
    enum webauthn_result r = WEBAUTHN_ERR_ALGORITHM;
    bool dup = false;
    int64_t kty = 0, a = 0;
    const cbor_item_t *kty_it = cbor_isa_map(map) ? map_get(map, NULL, 1, &dup) : NULL;
    const cbor_item_t *alg_it = cbor_isa_map(map) ? map_get(map, NULL, 3, &dup) : NULL;
    if (!cbor_isa_map(map) || !kty_it || !alg_it || !cbor_int64(kty_it, &kty) ||
        !cbor_int64(alg_it, &a)) {
        r = WEBAUTHN_ERR_MALFORMED;
    } else if (a == WEBAUTHN_ALG_ES256 && kty == COSE_KTY_EC2) {
        *out = key_ec2(map, &dup);
    } else if (a == WEBAUTHN_ALG_RS256 && kty == COSE_KTY_RSA) {
        *out = key_rsa(map, &dup);
    } else if (a == WEBAUTHN_ALG_EDDSA && kty == COSE_KTY_OKP) {
        *out = key_okp(map, &dup);
    }
    if (dup) {
        EVP_PKEY_free(*out);
        *out = NULL;
        r = WEBAUTHN_ERR_MALFORMED;
    }
    if (*out) {
        *alg = (int)a;
        r = WEBAUTHN_OK;
    }
    cbor_decref(&map);
    return r;
}

/* key as DER SubjectPublicKeyInfo into spki (WEBAUTHN_PUBLIC_KEY_MAX bytes). */
static enum webauthn_result spki_encode(EVP_PKEY *key, uint8_t *spki, size_t *spki_len)
{
    int n = i2d_PUBKEY(key, NULL);
    if (n <= 0)
        return WEBAUTHN_ERR_INTERNAL;
    if ((size_t)n > WEBAUTHN_PUBLIC_KEY_MAX)
        return WEBAUTHN_ERR_ALGORITHM;
    unsigned char *q = spki;
    if (i2d_PUBKEY(key, &q) != n)
        return WEBAUTHN_ERR_INTERNAL;
    *spki_len = (size_t)n;
    return WEBAUTHN_OK;
}

enum webauthn_result webauthn_cose_key_parse(const uint8_t *p, size_t len, int *alg, uint8_t *spki,
                                             size_t *spki_len)
{
    EVP_PKEY *key;
    enum webauthn_result r = cose_key_load(p, len, alg, &key);
    if (r == WEBAUTHN_OK)
        r = spki_encode(key, spki, spki_len);
    EVP_PKEY_free(key);
    return r;
}

/* Verifies sig over the concatenation of parts with key under alg (the key
 * must fit alg). */
static bool sig_verify(int64_t alg, EVP_PKEY *key, const uint8_t *const *parts, const size_t *lens,
                       size_t nparts, const uint8_t *sig, size_t sig_len)
{
    if (!key || !key_fits_alg(key, alg) || !sig || sig_len == 0 || sig_len > WEBAUTHN_SIGNATURE_MAX)
        return false;
    size_t total = 0;
    for (size_t i = 0; i < nparts; i++)
        total += lens[i];
    uint8_t *msg = og_malloc(total ? total : 1);
    size_t o = 0;
    for (size_t i = 0; i < nparts; i++) {
        if (lens[i])
            memcpy(msg + o, parts[i], lens[i]);
        o += lens[i];
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const EVP_MD *md = alg == WEBAUTHN_ALG_EDDSA ? NULL : EVP_sha256();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
              EVP_DigestVerify(ctx, sig, sig_len, msg, total) == 1;
    EVP_MD_CTX_free(ctx);
    free(msg);
    return ok;
}

/* ---- attestation objects ---- */

void webauthn_attestation_free(struct webauthn_attestation *a)
{
    if (a->root) {
        cbor_item_t *root = a->root;
        cbor_decref(&root);
    }
    memset(a, 0, sizeof(*a));
}

enum webauthn_result webauthn_attestation_parse(const uint8_t *p, size_t len,
                                                struct webauthn_attestation *out)
{
    memset(out, 0, sizeof(*out));
    if (!p || len == 0 || len > WEBAUTHN_ATT_OBJ_MAX)
        return WEBAUTHN_ERR_MALFORMED;
    cbor_item_t *root = cbor_load_exact(p, len);
    if (!root)
        return WEBAUTHN_ERR_MALFORMED;
    out->root = root;
    bool dup = false;
    if (!cbor_isa_map(root) || cbor_map_size(root) != 3) {
        webauthn_attestation_free(out);
        return WEBAUTHN_ERR_MALFORMED;
    }
    const cbor_item_t *fmt = map_get(root, "fmt", 0, &dup);
    const cbor_item_t *stmt = map_get(root, "attStmt", 0, &dup);
    const cbor_item_t *ad = map_get(root, "authData", 0, &dup);
    if (dup || !fmt || !cbor_isa_string(fmt) || !cbor_string_is_definite(fmt) ||
        cbor_string_length(fmt) == 0 || cbor_string_length(fmt) >= WEBAUTHN_FMT_MAX || !stmt ||
        !cbor_isa_map(stmt) || !is_bytes(ad)) {
        webauthn_attestation_free(out);
        return WEBAUTHN_ERR_MALFORMED;
    }
    memcpy(out->fmt, cbor_string_handle(fmt), cbor_string_length(fmt));
    out->fmt[cbor_string_length(fmt)] = '\0';
    if (strlen(out->fmt) != cbor_string_length(fmt)) { /* an embedded NUL */
        webauthn_attestation_free(out);
        return WEBAUTHN_ERR_MALFORMED;
    }
    out->auth_data = cbor_bytestring_handle(ad);
    out->auth_data_len = cbor_bytestring_length(ad);

    const cbor_item_t *alg = map_get(stmt, "alg", 0, &dup);
    const cbor_item_t *sig = map_get(stmt, "sig", 0, &dup);
    const cbor_item_t *x5c = map_get(stmt, "x5c", 0, &dup);
    bool bad = dup || (alg && !cbor_int64(alg, &out->alg)) || (sig && !is_bytes(sig)) ||
               (x5c && (!cbor_isa_array(x5c) || cbor_array_size(x5c) == 0 ||
                        cbor_array_size(x5c) > WEBAUTHN_X5C_MAX));
    if (!bad && x5c) {
        cbor_item_t **certs = cbor_array_handle(x5c);
        for (size_t i = 0; i < cbor_array_size(x5c) && !bad; i++) {
            if (!is_bytes(certs[i]) || cbor_bytestring_length(certs[i]) == 0) {
                bad = true;
                break;
            }
            out->x5c[i] = cbor_bytestring_handle(certs[i]);
            out->x5c_len[i] = cbor_bytestring_length(certs[i]);
            out->x5c_count++;
        }
    }
    if (bad) {
        webauthn_attestation_free(out);
        return WEBAUTHN_ERR_MALFORMED;
    }
    out->has_alg = alg != NULL;
    if (sig) {
        out->sig = cbor_bytestring_handle(sig);
        out->sig_len = cbor_bytestring_length(sig);
    }
    return WEBAUTHN_OK;
}

static size_t stmt_members(const struct webauthn_attestation *a)
{
    const cbor_item_t *root = a->root;
    bool dup = false;
    return cbor_map_size(map_get(root, "attStmt", 0, &dup));
}

static X509 *cert_load(const uint8_t *der, size_t len)
{
    const unsigned char *q = der;
    X509 *c = d2i_X509(NULL, &q, (long)len);
    if (c && q != der + len) {
        X509_free(c);
        return NULL;
    }
    return c;
}

static bool name_has(const X509_NAME *name, int nid)
{
    return X509_NAME_get_index_by_NID(name, nid, -1) >= 0;
}

/* WebAuthn §8.2.1: what a packed attestation certificate must be. */
static bool packed_cert_ok(X509 *cert, const uint8_t aaguid[16])
{
    if (X509_get_version(cert) != X509_VERSION_3)
        return false;
    const X509_NAME *subject = X509_get_subject_name(cert);
    int ou = X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, -1);
    if (ou < 0 || !name_has(subject, NID_countryName) || !name_has(subject, NID_organizationName) ||
        !name_has(subject, NID_commonName))
        return false;
    const ASN1_STRING *ou_value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, ou));
    static const char ou_want[] = "Authenticator Attestation";
    if (ASN1_STRING_length(ou_value) != (int)sizeof(ou_want) - 1 ||
        memcmp(ASN1_STRING_get0_data(ou_value), ou_want, sizeof(ou_want) - 1) != 0)
        return false;
    uint32_t flags = X509_get_extension_flags(cert);
    if (flags & (EXFLAG_CA | EXFLAG_INVALID))
        return false;
    ASN1_OBJECT *oid = OBJ_txt2obj(OID_FIDO_AAGUID, 1);
    if (!oid)
        return false;
    int loc = X509_get_ext_by_OBJ(cert, oid, -1);
    ASN1_OBJECT_free(oid);
    if (loc < 0)
        return true;
    X509_EXTENSION *ext = X509_get_ext(cert, loc);
    if (X509_EXTENSION_get_critical(ext))
        return false;
    /* The extension's value is an OCTET STRING holding the 16 bytes. */
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
    const unsigned char *d = ASN1_STRING_get0_data(v);
    return ASN1_STRING_length(v) == 18 && d[0] == 0x04 && d[1] == 16 &&
           memcmp(d + 2, aaguid, 16) == 0;
}

/* The attestation statement of a, over authData || clientDataHash. */
static enum webauthn_result statement_verify(const struct webauthn_attestation *a,
                                             const struct webauthn_auth_data *ad,
                                             const uint8_t cd_hash[32], EVP_PKEY *cred_key,
                                             int cred_alg)
{
    const uint8_t *parts[2] = {a->auth_data, cd_hash};
    size_t lens[2] = {a->auth_data_len, 32};

    if (strcmp(a->fmt, "none") == 0)
        return stmt_members(a) == 0 ? WEBAUTHN_OK : WEBAUTHN_ERR_ATTESTATION;

    if (strcmp(a->fmt, "packed") == 0) {
        if (!a->has_alg || !a->sig)
            return WEBAUTHN_ERR_ATTESTATION;
        if (a->x5c_count == 0) { /* self attestation: the credential signs */
            if (a->alg != cred_alg)
                return WEBAUTHN_ERR_ATTESTATION;
            return sig_verify(a->alg, cred_key, parts, lens, 2, a->sig, a->sig_len)
                       ? WEBAUTHN_OK
                       : WEBAUTHN_ERR_ATTESTATION;
        }
        X509 *cert = cert_load(a->x5c[0], a->x5c_len[0]);
        bool ok = cert && packed_cert_ok(cert, ad->aaguid) &&
                  sig_verify(a->alg, X509_get0_pubkey(cert), parts, lens, 2, a->sig, a->sig_len);
        X509_free(cert);
        return ok ? WEBAUTHN_OK : WEBAUTHN_ERR_ATTESTATION;
    }

    if (strcmp(a->fmt, "fido-u2f") == 0) {
        /* FIDO U2F §4.3: the signature covers 0x00 || rpIdHash ||
         * clientDataHash || keyHandle || the uncompressed P-256 point. */
        uint8_t point[65];
        size_t plen = 0;
        if (a->x5c_count != 1 || !a->sig || cred_alg != WEBAUTHN_ALG_ES256 ||
            EVP_PKEY_get_octet_string_param(cred_key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                            sizeof(point), &plen) != 1 ||
            plen != sizeof(point) || point[0] != 0x04)
            return WEBAUTHN_ERR_ATTESTATION;
        static const uint8_t zero = 0;
        const uint8_t *u2f[5] = {&zero, ad->rp_id_hash, cd_hash, ad->cred_id, point};
        size_t u2f_lens[5] = {1, 32, 32, ad->cred_id_len, sizeof(point)};
        X509 *cert = cert_load(a->x5c[0], a->x5c_len[0]);
        bool ok = cert && sig_verify(WEBAUTHN_ALG_ES256, X509_get0_pubkey(cert), u2f, u2f_lens, 5,
                                     a->sig, a->sig_len);
        X509_free(cert);
        return ok ? WEBAUTHN_OK : WEBAUTHN_ERR_ATTESTATION;
    }
    return WEBAUTHN_ERR_ATTESTATION_FORMAT;
}

/* ---- the ceremonies ---- */

/* The checks on authenticator data both ceremonies share (§7.1 steps
 * 13-17, §7.2 steps 15-19). */
static enum webauthn_result flags_check(const struct webauthn_expect *x,
                                        const struct webauthn_auth_data *ad)
{
    uint8_t want[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)x->rp_id, strlen(x->rp_id), want);
    if (CRYPTO_memcmp(want, ad->rp_id_hash, sizeof(want)) != 0)
        return WEBAUTHN_ERR_RP_ID;
    if (!(ad->flags & WEBAUTHN_FLAG_UP))
        return WEBAUTHN_ERR_USER_PRESENCE;
    if (x->uv == WEBAUTHN_UV_REQUIRED && !(ad->flags & WEBAUTHN_FLAG_UV))
        return WEBAUTHN_ERR_USER_VERIFICATION;
    if ((ad->flags & WEBAUTHN_FLAG_BS) && !(ad->flags & WEBAUTHN_FLAG_BE))
        return WEBAUTHN_ERR_BACKUP_STATE;
    return WEBAUTHN_OK;
}

static bool bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

enum webauthn_result webauthn_registration_verify(const struct webauthn_expect *x,
                                                  const struct webauthn_response *r,
                                                  struct webauthn_credential *out)
{
    memset(out, 0, sizeof(*out));
    if (r->kind != WEBAUTHN_CREATE)
        return WEBAUTHN_ERR_MALFORMED;
    enum webauthn_result res = webauthn_client_data_check(
        r->client_data_json.p, r->client_data_json.len, WEBAUTHN_CREATE, x);
    if (res != WEBAUTHN_OK)
        return res;
    struct webauthn_attestation att;
    res = webauthn_attestation_parse(r->attestation_object.p, r->attestation_object.len, &att);
    if (res != WEBAUTHN_OK)
        return res;
    struct webauthn_auth_data ad;
    EVP_PKEY *key = NULL;
    res = webauthn_auth_data_parse(att.auth_data, att.auth_data_len, &ad);
    if (res == WEBAUTHN_OK && !ad.cose_key)
        res = WEBAUTHN_ERR_MALFORMED;
    if (res == WEBAUTHN_OK)
        res = flags_check(x, &ad);
    if (res == WEBAUTHN_OK && !bytes_eq(ad.cred_id, ad.cred_id_len, r->raw_id.p, r->raw_id.len))
        res = WEBAUTHN_ERR_CREDENTIAL;
    if (res == WEBAUTHN_OK)
        res = cose_key_load(ad.cose_key, ad.cose_key_len, &out->alg, &key);
    if (res == WEBAUTHN_OK) {
        uint8_t cd_hash[SHA256_DIGEST_LENGTH];
        SHA256(r->client_data_json.p, r->client_data_json.len, cd_hash);
        res = statement_verify(&att, &ad, cd_hash, key, out->alg);
    }
    if (res == WEBAUTHN_OK)
        res = spki_encode(key, out->public_key, &out->public_key_len);
    if (res == WEBAUTHN_OK) {
        memcpy(out->id, ad.cred_id, ad.cred_id_len);
        out->id_len = ad.cred_id_len;
        out->sign_count = ad.sign_count;
        memcpy(out->aaguid, ad.aaguid, sizeof(out->aaguid));
        out->uv = ad.flags & WEBAUTHN_FLAG_UV;
        out->be = ad.flags & WEBAUTHN_FLAG_BE;
        out->bs = ad.flags & WEBAUTHN_FLAG_BS;
        snprintf(out->fmt, sizeof(out->fmt), "%s", att.fmt);
        out->transports = r->transports;
    } else {
        memset(out, 0, sizeof(*out));
    }
    EVP_PKEY_free(key);
    webauthn_attestation_free(&att);
    return res;
}

enum webauthn_result webauthn_assertion_verify(const struct webauthn_expect *x,
                                               const struct webauthn_credential *cred,
                                               const uint8_t *user_handle, size_t user_handle_len,
                                               const struct webauthn_response *r,
                                               struct webauthn_assertion *out)
{
    memset(out, 0, sizeof(*out));
    if (r->kind != WEBAUTHN_GET)
        return WEBAUTHN_ERR_MALFORMED;
    if (!bytes_eq(r->raw_id.p, r->raw_id.len, cred->id, cred->id_len))
        return WEBAUTHN_ERR_CREDENTIAL;
    if (r->user_handle.len > 0 &&
        !bytes_eq(r->user_handle.p, r->user_handle.len, user_handle, user_handle_len))
        return WEBAUTHN_ERR_USER_HANDLE;
    enum webauthn_result res =
        webauthn_client_data_check(r->client_data_json.p, r->client_data_json.len, WEBAUTHN_GET, x);
    if (res != WEBAUTHN_OK)
        return res;
    struct webauthn_auth_data ad;
    res = webauthn_auth_data_parse(r->authenticator_data.p, r->authenticator_data.len, &ad);
    if (res == WEBAUTHN_OK && ad.cose_key)
        res = WEBAUTHN_ERR_MALFORMED; /* no attested credential data in a sign-in */
    if (res == WEBAUTHN_OK)
        res = flags_check(x, &ad);
    if (res == WEBAUTHN_OK && (bool)(ad.flags & WEBAUTHN_FLAG_BE) != cred->be)
        res = WEBAUTHN_ERR_BACKUP_ELIGIBILITY;
    if (res != WEBAUTHN_OK)
        return res;

    const unsigned char *q = cred->public_key;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &q, (long)cred->public_key_len);
    if (!key || !key_fits_alg(key, cred->alg)) {
        EVP_PKEY_free(key);
        return WEBAUTHN_ERR_INTERNAL; /* a stored key we would never have stored */
    }
    uint8_t cd_hash[SHA256_DIGEST_LENGTH];
    SHA256(r->client_data_json.p, r->client_data_json.len, cd_hash);
    const uint8_t *parts[2] = {r->authenticator_data.p, cd_hash};
    size_t lens[2] = {r->authenticator_data.len, sizeof(cd_hash)};
    bool ok = sig_verify(cred->alg, key, parts, lens, 2, r->signature.p, r->signature.len);
    EVP_PKEY_free(key);
    if (!ok)
        return WEBAUTHN_ERR_SIGNATURE;
    /* §7.2 step 21: a counter must grow; one that stays 0 is no counter. */
    if ((ad.sign_count != 0 || cred->sign_count != 0) && ad.sign_count <= cred->sign_count)
        return WEBAUTHN_ERR_SIGN_COUNT;
    out->sign_count = ad.sign_count;
    out->uv = ad.flags & WEBAUTHN_FLAG_UV;
    out->be = ad.flags & WEBAUTHN_FLAG_BE;
    out->bs = ad.flags & WEBAUTHN_FLAG_BS;
    return WEBAUTHN_OK;
}
