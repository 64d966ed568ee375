/* Passkeys (WebAuthn Level 2/3) as a second factor: the relying party's
 * checks of a registration (navigator.credentials.create) and a sign-in
 * (navigator.credentials.get) as WebAuthn §7.1 and §7.2 list them, the
 * options JSON those calls take, and the browser's PublicKeyCredential JSON
 * they answer with. Pure computation on OpenSSL (every signature and key)
 * and libcbor (every CBOR item): no store, no clock, no libuv, no HTTP. The
 * caller brings the expected relying party, origin and challenge, and the
 * stored credential; nothing here is secret. */
#ifndef OTPGATE_WEBAUTHN_H
#define OTPGATE_WEBAUTHN_H

#include "core/common.h"

#include <jansson.h>

#define WEBAUTHN_CHALLENGE_LEN   32   /* random bytes of every challenge we make */
#define WEBAUTHN_USER_HANDLE_LEN 32   /* random bytes of the user handles we make */
#define WEBAUTHN_USER_HANDLE_MAX 64   /* WebAuthn's limit on user.id */
#define WEBAUTHN_CRED_ID_MAX     1023 /* WebAuthn L3's limit on a credential id */
#define WEBAUTHN_PUBLIC_KEY_MAX  600  /* DER SubjectPublicKeyInfo; RSA-4096 takes 550 */
#define WEBAUTHN_RSA_MIN_BITS    2048
#define WEBAUTHN_RSA_MAX_BITS    4096
#define WEBAUTHN_RP_ID_MAX       253 /* a DNS name */
#define WEBAUTHN_ORIGIN_MAX      320 /* scheme://host:port */
#define WEBAUTHN_FMT_MAX         16  /* "none", "packed", "fido-u2f" and a NUL */
/* Hard limits on what a browser may send, checked before anything is
 * decoded: */
#define WEBAUTHN_CLIENT_DATA_MAX 4096  /* clientDataJSON */
#define WEBAUTHN_AUTH_DATA_MAX   4096  /* authenticatorData, with the credential and extensions */
#define WEBAUTHN_ATT_OBJ_MAX     16384 /* attestationObject, with its certificates */
#define WEBAUTHN_SIGNATURE_MAX   1024
#define WEBAUTHN_JSON_MAX        32768 /* the whole PublicKeyCredential JSON text */
#define WEBAUTHN_CBOR_DEPTH      8     /* nesting of CBOR arrays and maps */
#define WEBAUTHN_X5C_MAX         5     /* certificates in an x5c chain */

/* COSE algorithm identifiers offered in pubKeyCredParams (in this order). */
enum webauthn_alg {
    WEBAUTHN_ALG_ES256 = -7,   /* ECDSA P-256 with SHA-256 */
    WEBAUTHN_ALG_EDDSA = -8,   /* Ed25519 */
    WEBAUTHN_ALG_RS256 = -257, /* RSASSA-PKCS1-v1_5 with SHA-256, 2048 to 4096 bits */
};

/* userVerification: the policy key webauthn_user_verification. */
enum webauthn_uv { WEBAUTHN_UV_REQUIRED = 0, WEBAUTHN_UV_PREFERRED, WEBAUTHN_UV_DISCOURAGED };

/* AuthenticatorTransport values a browser reported for a credential. */
enum {
    WEBAUTHN_TRANSPORT_USB = 1,
    WEBAUTHN_TRANSPORT_NFC = 2,
    WEBAUTHN_TRANSPORT_BLE = 4,
    WEBAUTHN_TRANSPORT_SMART_CARD = 8,
    WEBAUTHN_TRANSPORT_HYBRID = 16,
    WEBAUTHN_TRANSPORT_INTERNAL = 32,
};

enum webauthn_attachment {
    WEBAUTHN_ATTACHMENT_UNKNOWN = 0,
    WEBAUTHN_ATTACHMENT_PLATFORM,
    WEBAUTHN_ATTACHMENT_CROSS_PLATFORM,
};

/* Authenticator data flags (WebAuthn §6.1). */
enum {
    WEBAUTHN_FLAG_UP = 0x01, /* user present */
    WEBAUTHN_FLAG_UV = 0x04, /* user verified */
    WEBAUTHN_FLAG_BE = 0x08, /* backup eligible: a synced passkey */
    WEBAUTHN_FLAG_BS = 0x10, /* backed up */
    WEBAUTHN_FLAG_AT = 0x40, /* attested credential data follows */
    WEBAUTHN_FLAG_ED = 0x80, /* extension data follows */
};

/* Why a registration or sign-in was refused. webauthn_result_code gives the
 * snake_case name (for audit details and tests), webauthn_result_text a
 * short sentence for logs; neither carries input bytes. */
enum webauthn_result {
    WEBAUTHN_OK = 0,
    WEBAUTHN_ERR_MALFORMED,          /* not JSON/CBOR/base64url as required, over a limit */
    WEBAUTHN_ERR_TYPE,               /* clientDataJSON.type is not webauthn.create/get */
    WEBAUTHN_ERR_CHALLENGE,          /* not the challenge we issued */
    WEBAUTHN_ERR_ORIGIN,             /* not exactly our origin */
    WEBAUTHN_ERR_CROSS_ORIGIN,       /* made inside a cross-origin iframe */
    WEBAUTHN_ERR_RP_ID,              /* rpIdHash is not SHA-256 of our RP ID */
    WEBAUTHN_ERR_USER_PRESENCE,      /* UP flag missing */
    WEBAUTHN_ERR_USER_VERIFICATION,  /* UV flag missing where the policy requires it */
    WEBAUTHN_ERR_BACKUP_STATE,       /* BS set without BE */
    WEBAUTHN_ERR_BACKUP_ELIGIBILITY, /* BE differs from the registration's */
    WEBAUTHN_ERR_ALGORITHM,          /* a key type, curve, size or alg we do not take */
    WEBAUTHN_ERR_ATTESTATION_FORMAT, /* a statement format other than none/packed/fido-u2f */
    WEBAUTHN_ERR_ATTESTATION,        /* the attestation statement does not verify */
    WEBAUTHN_ERR_CREDENTIAL,         /* rawId is not the credential the data is about */
    WEBAUTHN_ERR_USER_HANDLE,        /* userHandle names another user */
    WEBAUTHN_ERR_SIGNATURE,          /* the assertion signature does not verify */
    WEBAUTHN_ERR_SIGN_COUNT,         /* the signature counter did not grow */
    WEBAUTHN_ERR_INTERNAL,           /* OpenSSL or libcbor failed on valid input */
};

const char *webauthn_result_code(enum webauthn_result r);
const char *webauthn_result_text(enum webauthn_result r);

/* "required", "preferred", "discouraged"; parse returns OG_OK or
 * OG_ERR_INVALID (exact lower-case words). */
const char *webauthn_uv_name(enum webauthn_uv uv);
int webauthn_uv_parse(const char *s, enum webauthn_uv *out);

/* Transports as a comma list in a fixed order ("usb,internal"; "" for
 * none) into out; returns the length, or OG_ERR_TOO_BIG (out holds "").
 * Parse takes such a list and ignores names it does not know, as WebAuthn
 * asks of relying parties. */
int webauthn_transports_format(unsigned bits, char *out, size_t outlen);
unsigned webauthn_transports_parse(const char *list);

/* ---- the relying party ---- */

/* The relying party for a public URL: origin is scheme://host[:port] (host
 * in lower case, the default port left out, exactly as a browser writes
 * clientDataJSON.origin), rp_id is rp_id_setting or else the URL's host.
 * Passkeys need a secure context: the URL must be https, or http with the
 * host localhost. An IP address cannot be an RP ID, and rp_id_setting must
 * be the host itself or a parent domain of it. Returns OG_OK, or
 * OG_ERR_INVALID with one line in why (for the log) saying what to change. */
int webauthn_rp_from_url(const char *public_url, const char *rp_id_setting,
                         char rp_id[WEBAUTHN_RP_ID_MAX + 1], char origin[WEBAUTHN_ORIGIN_MAX + 1],
                         char *why, size_t whylen);

/* What the relying party expects of one ceremony. All pointers stay the
 * caller's. */
struct webauthn_expect {
    const char *rp_id;        /* "id.example.com" */
    const char *origin;       /* "https://id.example.com", compared exactly */
    const uint8_t *challenge; /* the bytes we issued for this ceremony */
    size_t challenge_len;
    enum webauthn_uv uv; /* REQUIRED refuses a ceremony without the UV flag */
};

/* A registered credential: what webauthn_registration_verify gives and what
 * is stored (nothing secret: the public key, the id and counters). */
struct webauthn_credential {
    uint8_t id[WEBAUTHN_CRED_ID_MAX];
    size_t id_len;
    int alg;                                     /* enum webauthn_alg */
    uint8_t public_key[WEBAUTHN_PUBLIC_KEY_MAX]; /* DER SubjectPublicKeyInfo */
    size_t public_key_len;
    uint32_t sign_count;
    uint8_t aaguid[16];
    bool uv, be, bs;            /* flags: at registration, or as last seen for bs */
    char fmt[WEBAUTHN_FMT_MAX]; /* attestation statement format */
    unsigned transports;        /* WEBAUTHN_TRANSPORT_* bits, as the browser reported */
};

/* ---- the browser's PublicKeyCredential JSON ---- */

enum webauthn_ceremony { WEBAUTHN_CREATE, WEBAUTHN_GET };

/* Bytes decoded from base64url, malloc'd and owned by the response. */
struct webauthn_bytes {
    uint8_t *p;
    size_t len;
};

/* A PublicKeyCredential as toJSON() gives it (WebAuthn L3
 * RegistrationResponseJSON / AuthenticationResponseJSON), decoded. */
struct webauthn_response {
    enum webauthn_ceremony kind;
    struct webauthn_bytes raw_id;
    struct webauthn_bytes client_data_json;
    struct webauthn_bytes attestation_object; /* create */
    struct webauthn_bytes authenticator_data; /* get */
    struct webauthn_bytes signature;          /* get */
    struct webauthn_bytes user_handle;        /* get; len 0 when absent or null */
    unsigned transports;                      /* create: response.transports */
    enum webauthn_attachment attachment;
};

/* Reads a PublicKeyCredential object: id and rawId (the same base64url
 * text), type "public-key", response with clientDataJSON and, for
 * WEBAUTHN_CREATE, attestationObject (transports optional) or, for
 * WEBAUTHN_GET, authenticatorData and signature (userHandle optional or
 * null); authenticatorAttachment and clientExtensionResults are optional,
 * other members are ignored. Every field is checked against its limit
 * before it is decoded. Returns WEBAUTHN_OK with out filled (free it with
 * webauthn_response_free) or WEBAUTHN_ERR_MALFORMED with out empty. */
enum webauthn_result webauthn_response_from_json(const json_t *obj, enum webauthn_ceremony kind,
                                                 struct webauthn_response *out);
/* The same from JSON text (at most WEBAUTHN_JSON_MAX bytes, no duplicate
 * keys). */
enum webauthn_result webauthn_response_parse(const char *text, size_t len,
                                             enum webauthn_ceremony kind,
                                             struct webauthn_response *out);
void webauthn_response_free(struct webauthn_response *r);

/* ---- the ceremonies ---- */

/* Verifies a registration (WebAuthn §7.1): clientDataJSON (type
 * webauthn.create, challenge, origin, not cross-origin), the
 * attestationObject (CBOR, within the limits above), the authenticator
 * data (rpIdHash, UP, UV when required, BS only with BE, the attested
 * credential whose id is r->raw_id, no trailing bytes), the credential's
 * COSE public key (ES256 on P-256, RS256 of 2048 to 4096 bits, or
 * Ed25519, its alg matching its key), and the attestation statement:
 * "none" (no statement), "packed" (self attestation with the credential
 * key, or x5c whose first certificate meets WebAuthn §8.2.1) or
 * "fido-u2f". Certificates are checked for form, not chained to a trust
 * root: attestation is asked as "none", so nothing trusts it. On
 * WEBAUTHN_OK out holds the credential to store. */
enum webauthn_result webauthn_registration_verify(const struct webauthn_expect *x,
                                                  const struct webauthn_response *r,
                                                  struct webauthn_credential *out);

/* What a verified sign-in tells: the counter to store and the flags. */
struct webauthn_assertion {
    uint32_t sign_count;
    bool uv, be, bs;
};

/* Verifies a sign-in (WebAuthn §7.2) with the stored credential cred (its
 * id, alg, public_key, sign_count and be are used): r->raw_id is cred's
 * id; a userHandle, when the browser gave one, equals user_handle (the
 * handle of the user the credential belongs to); clientDataJSON (type
 * webauthn.get, challenge, origin, not cross-origin); the authenticator
 * data (rpIdHash, UP, UV when required, BS only with BE, BE as at
 * registration, no trailing bytes); the signature over authenticatorData
 * and SHA-256(clientDataJSON); and the counter, which must be greater than
 * the stored one unless both are 0. Checks run in that order, so a
 * refusal names the first thing wrong. The caller stores out->sign_count
 * (conditionally: another sign-in may have raced this one). */
enum webauthn_result webauthn_assertion_verify(const struct webauthn_expect *x,
                                               const struct webauthn_credential *cred,
                                               const uint8_t *user_handle, size_t user_handle_len,
                                               const struct webauthn_response *r,
                                               struct webauthn_assertion *out);

/* ---- the parts, for the ceremonies above and the fuzz target ---- */

/* Checks clientDataJSON: a JSON object without duplicate keys whose type
 * is "webauthn.create" or "webauthn.get" as kind says, whose challenge is
 * the base64url of x->challenge (compared in constant time), whose origin
 * is x->origin exactly, and whose crossOrigin is absent or false (with no
 * topOrigin). */
enum webauthn_result webauthn_client_data_check(const uint8_t *json, size_t len,
                                                enum webauthn_ceremony kind,
                                                const struct webauthn_expect *x);

/* Authenticator data split into its fields; pointers point into the
 * parsed buffer. */
struct webauthn_auth_data {
    const uint8_t *rp_id_hash; /* 32 bytes */
    uint8_t flags;
    uint32_t sign_count;
    const uint8_t *aaguid; /* 16 bytes, or NULL without attested credential data */
    const uint8_t *cred_id;
    size_t cred_id_len;
    const uint8_t *cose_key; /* the credential public key, one CBOR map */
    size_t cose_key_len;
    const uint8_t *extensions; /* one CBOR map, or NULL */
    size_t extensions_len;
};

/* Splits authenticator data (WebAuthn §6.1): 37 fixed bytes, the attested
 * credential data when AT is set, the extensions map when ED is set, and
 * nothing after. CBOR items must be well-formed with definite lengths,
 * no tags and nesting within WEBAUTHN_CBOR_DEPTH. */
enum webauthn_result webauthn_auth_data_parse(const uint8_t *p, size_t len,
                                              struct webauthn_auth_data *out);

/* Reads a COSE_Key (RFC 9053) of one of the three algorithms into alg and
 * a DER SubjectPublicKeyInfo (spki, WEBAUTHN_PUBLIC_KEY_MAX bytes).
 * WEBAUTHN_ERR_ALGORITHM for other algorithms, curves or sizes, a point off
 * the curve or parameters that contradict each other;
 * WEBAUTHN_ERR_MALFORMED for bad CBOR. */
enum webauthn_result webauthn_cose_key_parse(const uint8_t *p, size_t len, int *alg, uint8_t *spki,
                                             size_t *spki_len);

/* An attestationObject's parts: fmt, authData and the attStmt members the
 * three formats use. Byte pointers point into memory the struct owns;
 * free it with webauthn_attestation_free. */
struct webauthn_attestation {
    char fmt[WEBAUTHN_FMT_MAX];
    const uint8_t *auth_data;
    size_t auth_data_len;
    bool has_alg;
    int64_t alg;
    const uint8_t *sig;
    size_t sig_len;
    const uint8_t *x5c[WEBAUTHN_X5C_MAX]; /* DER certificates, leaf first */
    size_t x5c_len[WEBAUTHN_X5C_MAX];
    size_t x5c_count;
    void *root; /* the decoded CBOR, private */
};

/* Decodes an attestationObject: a CBOR map with exactly fmt (text),
 * attStmt (map) and authData (bytes), no duplicate keys. attStmt's alg,
 * sig and x5c are read when present and of the right type; other members
 * are left to the format's check. */
enum webauthn_result webauthn_attestation_parse(const uint8_t *p, size_t len,
                                                struct webauthn_attestation *out);
void webauthn_attestation_free(struct webauthn_attestation *a);

/* ---- options for navigator.credentials.create() / get() ---- */

/* A credential to exclude (create) or allow (get). */
struct webauthn_descriptor {
    const uint8_t *id;
    size_t id_len;
    unsigned transports;
};

struct webauthn_creation_params {
    const char *rp_id;
    const char *rp_name;
    const uint8_t *user_handle; /* the user's random handle */
    size_t user_handle_len;
    const char *user_name;         /* shown by the authenticator */
    const char *user_display_name; /* NULL: user_name */
    const uint8_t *challenge;
    size_t challenge_len;
    enum webauthn_uv uv;
    unsigned timeout_ms;
    const struct webauthn_descriptor *exclude; /* the user's credentials */
    size_t exclude_count;
};

/* PublicKeyCredentialCreationOptionsJSON (WebAuthn L3 §5.1.8, what
 * PublicKeyCredential.parseCreationOptionsFromJSON takes): rp {id, name},
 * user {id, name, displayName}, challenge, pubKeyCredParams (ES256, RS256,
 * EdDSA), timeout, excludeCredentials, authenticatorSelection {residentKey
 * "preferred", requireResidentKey false, userVerification} and attestation
 * "none"; binary members in base64url. A new reference the caller
 * json_decrefs. */
json_t *webauthn_creation_options_json(const struct webauthn_creation_params *p);

struct webauthn_request_params {
    const char *rp_id;
    const uint8_t *challenge;
    size_t challenge_len;
    enum webauthn_uv uv;
    unsigned timeout_ms;
    const struct webauthn_descriptor *allow; /* none: a discoverable passkey is asked for */
    size_t allow_count;
};

/* PublicKeyCredentialRequestOptionsJSON: challenge, timeout, rpId,
 * allowCredentials, userVerification. A new reference. */
json_t *webauthn_request_options_json(const struct webauthn_request_params *p);

#endif
