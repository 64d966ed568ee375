/* Fuzzes src/core/webauthn.c and webauthn_json.c on what a browser (or
 * anyone posing as one) sends: the first byte picks what the rest is
 *   0: an attestationObject, then a whole registration made of it;
 *   1: authenticatorData, then a whole sign-in made of it;
 *   2: clientDataJSON;
 *   3: a registration's PublicKeyCredential JSON;
 *   4: a sign-in's PublicKeyCredential JSON.
 * The registrations and sign-ins carry a clientDataJSON made here with the
 * expected challenge and origin, so the fuzzer reaches the authenticator
 * data, COSE keys, certificates and signatures behind them. Asserts:
 * answers are only the documented codes; parsed parts lie inside the input
 * and add up to it; a public key that parses re-encodes to itself and fits
 * its algorithm's limit; nothing but an unsigned "none" registration
 * passes (every signature here is over a challenge no seed was signed
 * for); a sign-in never passes; decoded JSON members keep their limits.
 * Seeds: tests/webauthn/record.mjs writes them from the recordings. */
#include "fuzz.h"

#include "core/jwt.h"
#include "core/webauthn.h"

#include <openssl/x509.h>

#define RP_ID  "localhost"
#define ORIGIN "http://localhost:8080"

static const uint8_t challenge[WEBAUTHN_CHALLENGE_LEN] = {
    0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
    0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42};

static const struct webauthn_expect expect = {RP_ID, ORIGIN, challenge, sizeof(challenge),
                                              WEBAUTHN_UV_PREFERRED};

/* The recorded ES256 passkey of chromium-ctap2-es256-none. */
static const char stored_key_b64[] =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUisgZQpBBRexAAX5UJY5KKkXxqZv_VRGlR5CWOAdnNzElhcH4ssPol"
    "zX2zGbTKGRboJTB3M0JLbVMhuUMrcf5A";
static const char stored_id_b64[] = "z0X66CbixLOAHvisuk_tFj9e-ZiS0IemNlPjyW8eqEs";

static const struct webauthn_credential *stored(void)
{
    static struct webauthn_credential cred;
    if (cred.id_len == 0) {
        uint8_t *p;
        size_t n;
        FUZZ_CHECK(b64url_decode(stored_key_b64, strlen(stored_key_b64), &p, &n) == OG_OK);
        memcpy(cred.public_key, p, n);
        cred.public_key_len = n;
        free(p);
        FUZZ_CHECK(b64url_decode(stored_id_b64, strlen(stored_id_b64), &p, &n) == OG_OK);
        memcpy(cred.id, p, n);
        cred.id_len = n;
        free(p);
        cred.alg = WEBAUTHN_ALG_ES256;
        cred.sign_count = 1;
    }
    return &cred;
}

/* clientDataJSON of the expected ceremony, malloc'd into b. */
static void client_data(enum webauthn_ceremony kind, struct webauthn_bytes *b)
{
    char *chal = b64url_encode(challenge, sizeof(challenge));
    char json[256];
    int n = snprintf(json, sizeof(json),
                     "{\"type\":\"%s\",\"challenge\":\"%s\",\"origin\":\"" ORIGIN
                     "\",\"crossOrigin\":false}",
                     kind == WEBAUTHN_CREATE ? "webauthn.create" : "webauthn.get", chal);
    free(chal);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof(json));
    b->len = (size_t)n;
    b->p = og_malloc(b->len);
    memcpy(b->p, json, b->len);
}

static void copy_bytes(struct webauthn_bytes *b, const uint8_t *p, size_t n)
{
    b->p = og_malloc(n ? n : 1);
    if (n)
        memcpy(b->p, p, n);
    b->len = n;
}

static bool inside(const uint8_t *part, size_t len, const uint8_t *data, size_t size)
{
    return part >= data && len <= size && (size_t)(part - data) <= size - len;
}

static void check_auth_data(const uint8_t *data, size_t size, const struct webauthn_auth_data *ad)
{
    FUZZ_CHECK(ad->rp_id_hash == data && size >= 37);
    size_t used = 37;
    FUZZ_CHECK((ad->cose_key != NULL) == ((ad->flags & WEBAUTHN_FLAG_AT) != 0));
    FUZZ_CHECK((ad->extensions != NULL) == ((ad->flags & WEBAUTHN_FLAG_ED) != 0));
    if (ad->cose_key) {
        FUZZ_CHECK(ad->aaguid == data + 37);
        FUZZ_CHECK(ad->cred_id_len >= 1 && ad->cred_id_len <= WEBAUTHN_CRED_ID_MAX);
        FUZZ_CHECK(inside(ad->cred_id, ad->cred_id_len, data, size));
        FUZZ_CHECK(inside(ad->cose_key, ad->cose_key_len, data, size));
        used += 18 + ad->cred_id_len + ad->cose_key_len;

        int alg = 0;
        uint8_t spki[WEBAUTHN_PUBLIC_KEY_MAX];
        size_t spki_len = 0;
        enum webauthn_result r =
            webauthn_cose_key_parse(ad->cose_key, ad->cose_key_len, &alg, spki, &spki_len);
        FUZZ_CHECK(r == WEBAUTHN_OK || r == WEBAUTHN_ERR_MALFORMED || r == WEBAUTHN_ERR_ALGORITHM ||
                   r == WEBAUTHN_ERR_INTERNAL);
        if (r == WEBAUTHN_OK) {
            FUZZ_CHECK(alg == WEBAUTHN_ALG_ES256 || alg == WEBAUTHN_ALG_RS256 ||
                       alg == WEBAUTHN_ALG_EDDSA);
            FUZZ_CHECK(spki_len > 0 && spki_len <= WEBAUTHN_PUBLIC_KEY_MAX);
            const unsigned char *q = spki;
            EVP_PKEY *key = d2i_PUBKEY(NULL, &q, (long)spki_len);
            FUZZ_CHECK(key && q == spki + spki_len);
            unsigned char *again = NULL;
            int n = i2d_PUBKEY(key, &again);
            FUZZ_CHECK(n > 0 && (size_t)n == spki_len && memcmp(again, spki, spki_len) == 0);
            OPENSSL_free(again);
            EVP_PKEY_free(key);
        }
    }
    if (ad->extensions) {
        FUZZ_CHECK(inside(ad->extensions, ad->extensions_len, data, size));
        used += ad->extensions_len;
    }
    FUZZ_CHECK(used == size);
}

static void fuzz_attestation_object(const uint8_t *data, size_t size)
{
    struct webauthn_attestation att;
    enum webauthn_result r = webauthn_attestation_parse(data, size, &att);
    FUZZ_CHECK(r == WEBAUTHN_OK || r == WEBAUTHN_ERR_MALFORMED);
    if (r != WEBAUTHN_OK) {
        FUZZ_CHECK(att.root == NULL);
        return;
    }
    FUZZ_CHECK(strlen(att.fmt) > 0 && strlen(att.fmt) < WEBAUTHN_FMT_MAX);
    FUZZ_CHECK(att.x5c_count <= WEBAUTHN_X5C_MAX);
    struct webauthn_response resp = {.kind = WEBAUTHN_CREATE};
    struct webauthn_auth_data ad;
    if (webauthn_auth_data_parse(att.auth_data, att.auth_data_len, &ad) == WEBAUTHN_OK) {
        check_auth_data(att.auth_data, att.auth_data_len, &ad);
        if (ad.cred_id)
            copy_bytes(&resp.raw_id, ad.cred_id, ad.cred_id_len);
    }
    webauthn_attestation_free(&att);
    if (!resp.raw_id.p)
        copy_bytes(&resp.raw_id, (const uint8_t *)"id", 2);
    client_data(WEBAUTHN_CREATE, &resp.client_data_json);
    copy_bytes(&resp.attestation_object, data, size);
    struct webauthn_credential cred;
    r = webauthn_registration_verify(&expect, &resp, &cred);
    FUZZ_CHECK((unsigned)r <= WEBAUTHN_ERR_INTERNAL);
    FUZZ_CHECK(r != WEBAUTHN_ERR_TYPE && r != WEBAUTHN_ERR_CHALLENGE && r != WEBAUTHN_ERR_ORIGIN &&
               r != WEBAUTHN_ERR_CROSS_ORIGIN && r != WEBAUTHN_ERR_SIGNATURE &&
               r != WEBAUTHN_ERR_SIGN_COUNT && r != WEBAUTHN_ERR_USER_HANDLE &&
               r != WEBAUTHN_ERR_CREDENTIAL);
    if (r == WEBAUTHN_OK) {
        /* Only "none" has no signature over this challenge to forge. */
        FUZZ_CHECK(strcmp(cred.fmt, "none") == 0);
        FUZZ_CHECK(cred.id_len == resp.raw_id.len && cred.public_key_len > 0);
    } else {
        FUZZ_CHECK(cred.id_len == 0 && cred.public_key_len == 0);
    }
    webauthn_response_free(&resp);
}

static void fuzz_auth_data(const uint8_t *data, size_t size)
{
    struct webauthn_auth_data ad;
    enum webauthn_result r = webauthn_auth_data_parse(data, size, &ad);
    FUZZ_CHECK(r == WEBAUTHN_OK || r == WEBAUTHN_ERR_MALFORMED);
    if (r == WEBAUTHN_OK)
        check_auth_data(data, size, &ad);

    /* As a sign-in of the stored passkey, with a well-formed signature. */
    static const uint8_t sig[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
    const struct webauthn_credential *cred = stored();
    struct webauthn_response resp = {.kind = WEBAUTHN_GET};
    copy_bytes(&resp.raw_id, cred->id, cred->id_len);
    client_data(WEBAUTHN_GET, &resp.client_data_json);
    copy_bytes(&resp.authenticator_data, data, size);
    copy_bytes(&resp.signature, sig, sizeof(sig));
    struct webauthn_assertion a;
    r = webauthn_assertion_verify(&expect, cred, NULL, 0, &resp, &a);
    FUZZ_CHECK(r == WEBAUTHN_ERR_MALFORMED || r == WEBAUTHN_ERR_RP_ID ||
               r == WEBAUTHN_ERR_USER_PRESENCE || r == WEBAUTHN_ERR_BACKUP_STATE ||
               r == WEBAUTHN_ERR_BACKUP_ELIGIBILITY || r == WEBAUTHN_ERR_SIGNATURE);
    webauthn_response_free(&resp);
}

static void fuzz_client_data(const uint8_t *data, size_t size)
{
    for (int kind = WEBAUTHN_CREATE; kind <= WEBAUTHN_GET; kind++) {
        enum webauthn_result r =
            webauthn_client_data_check(data, size, (enum webauthn_ceremony)kind, &expect);
        FUZZ_CHECK(r == WEBAUTHN_OK || r == WEBAUTHN_ERR_MALFORMED || r == WEBAUTHN_ERR_TYPE ||
                   r == WEBAUTHN_ERR_CHALLENGE || r == WEBAUTHN_ERR_ORIGIN ||
                   r == WEBAUTHN_ERR_CROSS_ORIGIN);
        if (r == WEBAUTHN_OK)
            FUZZ_CHECK(memmem(data, size, ORIGIN, strlen(ORIGIN)) != NULL);
    }
}

static void check_member(const struct webauthn_bytes *b, size_t max, bool required)
{
    FUZZ_CHECK(b->len <= max);
    FUZZ_CHECK(!required || (b->p && b->len > 0));
}

static void fuzz_json(const uint8_t *data, size_t size, enum webauthn_ceremony kind)
{
    struct webauthn_response resp;
    enum webauthn_result r = webauthn_response_parse((const char *)data, size, kind, &resp);
    FUZZ_CHECK(r == WEBAUTHN_OK || r == WEBAUTHN_ERR_MALFORMED);
    if (r != WEBAUTHN_OK) {
        FUZZ_CHECK(resp.raw_id.p == NULL && resp.client_data_json.p == NULL);
        return;
    }
    FUZZ_CHECK(resp.kind == kind);
    check_member(&resp.raw_id, WEBAUTHN_CRED_ID_MAX, true);
    check_member(&resp.client_data_json, WEBAUTHN_CLIENT_DATA_MAX, true);
    check_member(&resp.attestation_object, WEBAUTHN_ATT_OBJ_MAX, kind == WEBAUTHN_CREATE);
    check_member(&resp.authenticator_data, WEBAUTHN_AUTH_DATA_MAX, kind == WEBAUTHN_GET);
    check_member(&resp.signature, WEBAUTHN_SIGNATURE_MAX, kind == WEBAUTHN_GET);
    check_member(&resp.user_handle, WEBAUTHN_USER_HANDLE_MAX, false);
    FUZZ_CHECK(resp.transports < 64);
    if (kind == WEBAUTHN_CREATE) {
        struct webauthn_credential cred;
        r = webauthn_registration_verify(&expect, &resp, &cred);
        FUZZ_CHECK((unsigned)r <= WEBAUTHN_ERR_INTERNAL);
    } else {
        struct webauthn_assertion a;
        r = webauthn_assertion_verify(&expect, stored(), NULL, 0, &resp, &a);
        FUZZ_CHECK(r != WEBAUTHN_OK && (unsigned)r <= WEBAUTHN_ERR_INTERNAL);
    }
    webauthn_response_free(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    switch (data[0] % 5) {
    case 0:
        fuzz_attestation_object(in, n);
        break;
    case 1:
        fuzz_auth_data(in, n);
        break;
    case 2:
        fuzz_client_data(in, n);
        break;
    case 3:
        fuzz_json(in, n, WEBAUTHN_CREATE);
        break;
    default:
        fuzz_json(in, n, WEBAUTHN_GET);
        break;
    }
    return 0;
}
