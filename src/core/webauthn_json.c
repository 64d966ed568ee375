/* WebAuthn's JSON forms (WebAuthn L3 §5.1.8-§5.1.9, the toJSON() and
 * parse*OptionsFromJSON serialisation): the creation and request options
 * we hand to the browser and the PublicKeyCredential it answers with,
 * every binary member in base64url without padding. Reads untrusted JSON:
 * each member's size is checked before it is decoded. */
#include "core/jwt.h"
#include "core/webauthn.h"

#include <stdlib.h>

/* base64url characters that decode to at most n bytes. */
#define B64_CHARS(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/* ---- the browser's answer ---- */

void webauthn_response_free(struct webauthn_response *r)
{
    free(r->raw_id.p);
    free(r->client_data_json.p);
    free(r->attestation_object.p);
    free(r->authenticator_data.p);
    free(r->signature.p);
    free(r->user_handle.p);
    memset(r, 0, sizeof(*r));
}

/* Decodes obj[key], a base64url string of 1 to max bytes, into out. A
 * member that is absent (or null, when null_ok) leaves out empty and is
 * fine unless required. */
static bool b64_member(const json_t *obj, const char *key, size_t max, bool required, bool null_ok,
                       struct webauthn_bytes *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || (null_ok && json_is_null(v)))
        return !required;
    if (!json_is_string(v))
        return false;
    size_t n = json_string_length(v);
    if (n == 0 || n > B64_CHARS(max))
        return false;
    if (b64url_decode(json_string_value(v), n, &out->p, &out->len) != OG_OK)
        return false;
    return out->len > 0 && out->len <= max;
}

static bool transports_member(const json_t *resp, unsigned *out)
{
    const json_t *list = json_object_get(resp, "transports");
    if (!list)
        return true;
    if (!json_is_array(list) || json_array_size(list) > 16)
        return false;
    size_t i;
    const json_t *t;
    json_array_foreach(list, i, t)
    {
        if (!json_is_string(t) || json_string_length(t) > 32)
            return false;
        /* Names we do not know are ignored, as WebAuthn asks. */
        *out |= webauthn_transports_parse(json_string_value(t));
    }
    return true;
}

enum webauthn_result webauthn_response_from_json(const json_t *obj, enum webauthn_ceremony kind,
                                                 struct webauthn_response *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    const json_t *id = json_object_get(obj, "id");
    const json_t *raw = json_object_get(obj, "rawId");
    const json_t *type = json_object_get(obj, "type");
    const json_t *resp = json_object_get(obj, "response");
    const json_t *att = json_object_get(obj, "authenticatorAttachment");
    const json_t *ext = json_object_get(obj, "clientExtensionResults");
    bool ok = json_is_object(obj) && json_is_string(id) && json_is_string(raw) &&
              json_equal(id, raw) && json_is_string(type) &&
              strcmp(json_string_value(type), "public-key") == 0 && json_is_object(resp) &&
              (!att || json_is_null(att) || json_is_string(att)) && (!ext || json_is_object(ext)) &&
              b64_member(obj, "rawId", WEBAUTHN_CRED_ID_MAX, true, false, &out->raw_id) &&
              b64_member(resp, "clientDataJSON", WEBAUTHN_CLIENT_DATA_MAX, true, false,
                         &out->client_data_json);
    if (ok && kind == WEBAUTHN_CREATE)
        ok = b64_member(resp, "attestationObject", WEBAUTHN_ATT_OBJ_MAX, true, false,
                        &out->attestation_object) &&
             transports_member(resp, &out->transports);
    if (ok && kind == WEBAUTHN_GET)
        ok = b64_member(resp, "authenticatorData", WEBAUTHN_AUTH_DATA_MAX, true, false,
                        &out->authenticator_data) &&
             b64_member(resp, "signature", WEBAUTHN_SIGNATURE_MAX, true, false, &out->signature) &&
             b64_member(resp, "userHandle", WEBAUTHN_USER_HANDLE_MAX, false, true,
                        &out->user_handle);
    if (!ok) {
        webauthn_response_free(out);
        out->kind = kind;
        return WEBAUTHN_ERR_MALFORMED;
    }
    if (json_is_string(att)) {
        const char *a = json_string_value(att);
        out->attachment = strcmp(a, "platform") == 0         ? WEBAUTHN_ATTACHMENT_PLATFORM
                          : strcmp(a, "cross-platform") == 0 ? WEBAUTHN_ATTACHMENT_CROSS_PLATFORM
                                                             : WEBAUTHN_ATTACHMENT_UNKNOWN;
    }
    return WEBAUTHN_OK;
}

enum webauthn_result webauthn_response_parse(const char *text, size_t len,
                                             enum webauthn_ceremony kind,
                                             struct webauthn_response *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    if (!text || len == 0 || len > WEBAUTHN_JSON_MAX)
        return WEBAUTHN_ERR_MALFORMED;
    json_error_t jerr;
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj)
        return WEBAUTHN_ERR_MALFORMED;
    enum webauthn_result r = webauthn_response_from_json(obj, kind, out);
    json_decref(obj);
    return r;
}

/* ---- the options ---- */

/* base64url of n bytes as a JSON string (a new reference). */
static json_t *b64_json(const uint8_t *p, size_t n)
{
    char *s = b64url_encode(p, n);
    json_t *v = json_string(s);
    free(s);
    return v;
}

/* [{"type":"public-key","id":…,"transports":[…]}, …] */
static json_t *descriptors_json(const struct webauthn_descriptor *d, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *one =
            json_pack("{s:s, s:o}", "type", "public-key", "id", b64_json(d[i].id, d[i].id_len));
        if (!one) {
            json_decref(list);
            return NULL;
        }
        char names[96];
        if (d[i].transports &&
            webauthn_transports_format(d[i].transports, names, sizeof(names)) > 0) {
            json_t *t = json_array();
            for (const char *p = names; p;) {
                const char *end = strchr(p, ',');
                json_array_append_new(t, json_stringn(p, end ? (size_t)(end - p) : strlen(p)));
                p = end ? end + 1 : NULL;
            }
            json_object_set_new(one, "transports", t);
        }
        json_array_append_new(list, one);
    }
    return list;
}

json_t *webauthn_creation_options_json(const struct webauthn_creation_params *p)
{
    json_t *exclude = descriptors_json(p->exclude, p->exclude_count);
    if (!exclude)
        return NULL;
    /* ES256 first: every authenticator has it; RS256 for Windows Hello. */
    return json_pack(
        "{s:{s:s, s:s}, s:{s:o, s:s, s:s}, s:o, s:[{s:s, s:i}, {s:s, s:i}, {s:s, s:i}],"
        " s:I, s:o, s:{s:s, s:b, s:s}, s:s}",
        "rp", "id", p->rp_id, "name", p->rp_name, "user", "id",
        b64_json(p->user_handle, p->user_handle_len), "name", p->user_name, "displayName",
        p->user_display_name ? p->user_display_name : p->user_name, "challenge",
        b64_json(p->challenge, p->challenge_len), "pubKeyCredParams", "type", "public-key", "alg",
        WEBAUTHN_ALG_ES256, "type", "public-key", "alg", WEBAUTHN_ALG_RS256, "type", "public-key",
        "alg", WEBAUTHN_ALG_EDDSA, "timeout", (json_int_t)p->timeout_ms, "excludeCredentials",
        exclude, "authenticatorSelection", "residentKey", "preferred", "requireResidentKey", 0,
        "userVerification", webauthn_uv_name(p->uv), "attestation", "none");
}

json_t *webauthn_request_options_json(const struct webauthn_request_params *p)
{
    json_t *allow = descriptors_json(p->allow, p->allow_count);
    if (!allow)
        return NULL;
    return json_pack("{s:o, s:I, s:s, s:o, s:s}", "challenge",
                     b64_json(p->challenge, p->challenge_len), "timeout", (json_int_t)p->timeout_ms,
                     "rpId", p->rp_id, "allowCredentials", allow, "userVerification",
                     webauthn_uv_name(p->uv));
}
