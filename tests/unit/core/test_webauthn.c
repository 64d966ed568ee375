/* Unit tests of src/core/webauthn.c and webauthn_json.c on recorded
 * ceremonies (tests/webauthn/vectors/, made by tests/webauthn/record.mjs):
 * Debian's chromium with its virtual authenticator (ES256, RS256 and EdDSA
 * passkeys; attestation none, packed with x5c, fido-u2f; a synced passkey)
 * and a software authenticator (packed self attestation, RSA-3072, and
 * correctly signed data that must still be refused). Each recording says
 * what it holds (the browser's own publicKey, algorithm, transports, the
 * flags and counters read in JavaScript) and which result the verifier
 * must give. Then every refusal on tampered copies: challenge, origin, RP
 * ID, type, cross-origin, authenticator data, signatures, counters, BE,
 * UP, UV, credential and user handle, attestation statements; the JSON
 * and CBOR parsers' limits; the options JSON; the RP from the public URL. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cbor.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jwt.h"
#include "core/webauthn.h"

/* ---- the recordings ---- */

static json_t *sets[2]; /* chromium.json, software.json */

static const json_t *set_cases(int which)
{
    static const char *const names[] = {"chromium", "software"};
    if (!sets[which]) {
        const char *src = getenv("OTPGATE_SOURCE_DIR");
        char path[1024];
        snprintf(path, sizeof(path), "%s/tests/webauthn/vectors/%s.json", src ? src : ".",
                 names[which]);
        json_error_t err;
        sets[which] = json_load_file(path, 0, &err);
        if (!sets[which])
            fail_msg("cannot read %s: %s (set OTPGATE_SOURCE_DIR)", path, err.text);
    }
    return json_object_get(sets[which], "cases");
}

static const json_t *find_case(const char *name)
{
    for (int which = 0; which < 2; which++) {
        size_t i;
        const json_t *c;
        json_array_foreach(set_cases(which), i, c)
        {
            if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
                return c;
        }
    }
    fail_msg("no recorded case %s", name);
    return NULL;
}

static const char *str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s)
        fail_msg("recording lacks %s", key);
    return s;
}

/* Decodes base64url text; the caller frees the bytes. */
static uint8_t *unb64(const char *s, size_t *len)
{
    uint8_t *p = NULL;
    if (b64url_decode(s, strlen(s), &p, len) != OG_OK)
        fail_msg("bad base64url in a recording");
    return p;
}

static enum webauthn_result result_named(const char *code)
{
    for (int r = WEBAUTHN_OK; r <= WEBAUTHN_ERR_INTERNAL; r++)
        if (strcmp(webauthn_result_code((enum webauthn_result)r), code) == 0)
            return (enum webauthn_result)r;
    fail_msg("unknown result %s", code);
    return WEBAUTHN_ERR_INTERNAL;
}

/* One ceremony of a recorded case, ready to verify: what the relying
 * party expected and the browser's answer. Tests change copies of both. */
struct ceremony {
    const json_t *c; /* the case */
    const json_t *j; /* the registration or the assertion */
    struct webauthn_expect x;
    uint8_t *challenge;
    struct webauthn_response r;
    uint8_t *user_handle; /* the case's user */
    size_t user_handle_len;
};

static void ceremony_load(struct ceremony *m, const json_t *c, const json_t *j,
                          enum webauthn_ceremony kind)
{
    memset(m, 0, sizeof(*m));
    m->c = c;
    m->j = j;
    m->x.rp_id = str(c, "rp_id");
    m->x.origin = str(c, "origin");
    m->challenge = unb64(str(j, "challenge"), &m->x.challenge_len);
    m->x.challenge = m->challenge;
    assert_int_equal(webauthn_uv_parse(str(j, "user_verification"), &m->x.uv), OG_OK);
    m->user_handle = unb64(str(c, "user_handle"), &m->user_handle_len);
    assert_int_equal(webauthn_response_from_json(json_object_get(j, "credential"), kind, &m->r),
                     WEBAUTHN_OK);
}

static void ceremony_free(struct ceremony *m)
{
    webauthn_response_free(&m->r);
    free(m->challenge);
    free(m->user_handle);
}

static void load_registration(struct ceremony *m, const char *name)
{
    const json_t *c = find_case(name);
    ceremony_load(m, c, json_object_get(c, "registration"), WEBAUTHN_CREATE);
}

static void load_assertion(struct ceremony *m, const char *name, size_t i)
{
    const json_t *c = find_case(name);
    ceremony_load(m, c, json_array_get(json_object_get(c, "assertions"), i), WEBAUTHN_GET);
}

/* The stored credential of a recorded case: its registration, verified. */
static void registered(const char *name, struct webauthn_credential *cred)
{
    struct ceremony m;
    load_registration(&m, name);
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, cred), WEBAUTHN_OK);
    ceremony_free(&m);
}

/* A recorded case's credential, registered, and its i-th sign-in. */
static void signin(struct ceremony *m, struct webauthn_credential *cred, const char *name, size_t i)
{
    registered(name, cred);
    load_assertion(m, name, i);
}

static enum webauthn_result assert_with(struct ceremony *m, const struct webauthn_credential *cred,
                                        struct webauthn_assertion *a)
{
    return webauthn_assertion_verify(&m->x, cred, m->user_handle, m->user_handle_len, &m->r, a);
}

/* ---- every recording gives its recorded result ---- */

static unsigned transport_bits(const json_t *list)
{
    unsigned bits = 0;
    size_t i;
    const json_t *t;
    json_array_foreach(list, i, t)
    {
        bits |= webauthn_transports_parse(json_string_value(t));
    }
    return bits;
}

static void check_registration_facts(const json_t *expect, const struct webauthn_credential *cred)
{
    size_t len;
    uint8_t *id = unb64(str(expect, "credential_id"), &len);
    assert_int_equal(cred->id_len, len);
    assert_memory_equal(cred->id, id, len);
    free(id);
    /* The browser's own getPublicKey(): the same DER, byte for byte. */
    uint8_t *spki = unb64(str(expect, "public_key"), &len);
    assert_int_equal(cred->public_key_len, len);
    assert_memory_equal(cred->public_key, spki, len);
    free(spki);
    assert_int_equal(cred->alg, json_integer_value(json_object_get(expect, "alg")));
    assert_string_equal(cred->fmt, str(expect, "fmt"));
    assert_int_equal(cred->sign_count, json_integer_value(json_object_get(expect, "sign_count")));
    char aaguid[33];
    for (size_t i = 0; i < 16; i++)
        snprintf(aaguid + 2 * i, 3, "%02x", cred->aaguid[i]);
    assert_string_equal(aaguid, str(expect, "aaguid"));
    assert_int_equal(cred->uv, json_is_true(json_object_get(expect, "uv")));
    assert_int_equal(cred->be, json_is_true(json_object_get(expect, "be")));
    assert_int_equal(cred->bs, json_is_true(json_object_get(expect, "bs")));
    assert_int_equal(cred->transports, transport_bits(json_object_get(expect, "transports")));
}

/* Registers each case and runs its sign-ins in order, keeping the counter
 * and BS as a store would after each accepted one. Returns the number of
 * ceremonies checked. */
static size_t run_set(int which)
{
    size_t checked = 0;
    size_t ci;
    const json_t *c;
    json_array_foreach(set_cases(which), ci, c)
    {
        const char *name = str(c, "name");
        struct ceremony m;
        ceremony_load(&m, c, json_object_get(c, "registration"), WEBAUTHN_CREATE);
        struct webauthn_credential cred;
        enum webauthn_result want = result_named(str(m.j, "result"));
        enum webauthn_result got = webauthn_registration_verify(&m.x, &m.r, &cred);
        if (got != want)
            fail_msg("%s registration: %s, recorded %s", name, webauthn_result_code(got),
                     webauthn_result_code(want));
        if (got == WEBAUTHN_OK)
            check_registration_facts(json_object_get(m.j, "expect"), &cred);
        ceremony_free(&m);
        checked++;

        size_t ai;
        const json_t *aj;
        json_array_foreach(json_object_get(c, "assertions"), ai, aj)
        {
            ceremony_load(&m, c, aj, WEBAUTHN_GET);
            struct webauthn_assertion a;
            want = result_named(str(aj, "result"));
            got = assert_with(&m, &cred, &a);
            if (got != want)
                fail_msg("%s sign-in %zu: %s, recorded %s", name, ai, webauthn_result_code(got),
                         webauthn_result_code(want));
            if (got == WEBAUTHN_OK) {
                const json_t *e = json_object_get(aj, "expect");
                assert_int_equal(a.sign_count,
                                 json_integer_value(json_object_get(e, "sign_count")));
                assert_int_equal(a.uv, json_is_true(json_object_get(e, "uv")));
                assert_int_equal(a.be, json_is_true(json_object_get(e, "be")));
                assert_int_equal(a.bs, json_is_true(json_object_get(e, "bs")));
                cred.sign_count = a.sign_count;
                cred.bs = a.bs;
            }
            ceremony_free(&m);
            checked++;
        }
    }
    return checked;
}

static void test_chromium_recordings(void **state)
{
    (void)state;
    /* 8 registrations, 12 sign-ins. */
    assert_int_equal(run_set(0), 20);
}

static void test_software_recordings(void **state)
{
    (void)state;
    assert_true(run_set(1) >= 40);
}

/* Every algorithm and format the issue names was recorded and passed. */
static void test_recordings_cover_algorithms_and_formats(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int alg;
        const char *fmt;
    } want[] = {
        {"chromium-ctap2-es256-none", WEBAUTHN_ALG_ES256, "none"},
        {"chromium-ctap2-rs256-none", WEBAUTHN_ALG_RS256, "none"},
        {"chromium-ctap2-eddsa-none", WEBAUTHN_ALG_EDDSA, "none"},
        {"chromium-ctap2-es256-packed", WEBAUTHN_ALG_ES256, "packed"},
        {"chromium-ctap2-rs256-packed", WEBAUTHN_ALG_RS256, "packed"},
        {"chromium-ctap2-eddsa-packed", WEBAUTHN_ALG_EDDSA, "packed"},
        {"chromium-u2f-es256-fido-u2f", WEBAUTHN_ALG_ES256, "fido-u2f"},
        {"soft-es256-packed-self", WEBAUTHN_ALG_ES256, "packed"},
        {"soft-rs256-packed-self", WEBAUTHN_ALG_RS256, "packed"},
        {"soft-eddsa-packed-self", WEBAUTHN_ALG_EDDSA, "packed"},
        {"soft-rs3072-none", WEBAUTHN_ALG_RS256, "none"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        struct webauthn_credential cred;
        registered(want[i].name, &cred);
        assert_int_equal(cred.alg, want[i].alg);
        assert_string_equal(cred.fmt, want[i].fmt);
    }
    struct webauthn_credential synced;
    registered("chromium-ctap2-es256-synced", &synced);
    assert_true(synced.be && synced.bs);
}

/* ---- refusals on tampered copies ---- */

/* Replaces the first `from` in the response's clientDataJSON by `to`. */
static void client_data_replace(struct webauthn_response *r, const char *from, const char *to)
{
    size_t flen = strlen(from), tlen = strlen(to);
    uint8_t *at = memmem(r->client_data_json.p, r->client_data_json.len, from, flen);
    assert_non_null(at);
    size_t off = (size_t)(at - r->client_data_json.p);
    size_t n = r->client_data_json.len - flen + tlen;
    uint8_t *p = malloc(n);
    memcpy(p, r->client_data_json.p, off);
    memcpy(p + off, to, tlen);
    memcpy(p + off + tlen, at + flen, r->client_data_json.len - off - flen);
    free(r->client_data_json.p);
    r->client_data_json.p = p;
    r->client_data_json.len = n;
}

static const char *const ALG_CASES[] = {"chromium-ctap2-es256-none", "chromium-ctap2-rs256-none",
                                        "chromium-ctap2-eddsa-none"};

static void test_refuse_wrong_challenge(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct webauthn_assertion a;
    struct ceremony m;
    load_registration(&m, "chromium-ctap2-es256-packed");
    m.challenge[0] ^= 1;
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_CHALLENGE);
    m.challenge[0] ^= 1;
    m.x.challenge_len--; /* a prefix of the right one */
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_CHALLENGE);
    ceremony_free(&m);

    for (size_t i = 0; i < ARRAY_SIZE(ALG_CASES); i++) {
        signin(&m, &cred, ALG_CASES[i], 0);
        m.challenge[31] ^= 0x80;
        assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_CHALLENGE);
        m.challenge[31] ^= 0x80;
        assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_OK);
        ceremony_free(&m);
    }
    /* The challenge of another ceremony of the same user. */
    registered("chromium-ctap2-es256-none", &cred);
    struct ceremony other;
    load_assertion(&m, "chromium-ctap2-es256-none", 0);
    load_assertion(&other, "chromium-ctap2-es256-none", 1);
    m.x.challenge = other.challenge;
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_CHALLENGE);
    ceremony_free(&other);
    ceremony_free(&m);
}

static void test_refuse_wrong_origin(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct webauthn_assertion a;
    struct ceremony m;
    load_registration(&m, "chromium-ctap2-es256-none");
    const char *right = m.x.origin;
    char https[128], slash[128];
    snprintf(https, sizeof(https), "https%s", right + 4);
    snprintf(slash, sizeof(slash), "%s/", right);
    const char *wrong[] = {"http://localhost", https, slash, "http://localhost:1", "null", ""};
    for (size_t i = 0; i < ARRAY_SIZE(wrong); i++) {
        m.x.origin = wrong[i];
        assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_ORIGIN);
    }
    m.x.origin = right;
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_OK);
    ceremony_free(&m);

    load_assertion(&m, "chromium-ctap2-es256-none", 0);
    m.x.origin = https;
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_ORIGIN);
    ceremony_free(&m);
}

static void test_refuse_wrong_rp_id(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct webauthn_assertion a;
    struct ceremony m;
    const char *wrong[] = {"example.com", "localhost.", "LOCALHOST", "localhos"};
    for (size_t i = 0; i < ARRAY_SIZE(wrong); i++) {
        load_registration(&m, "chromium-ctap2-rs256-packed");
        m.x.rp_id = wrong[i];
        assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_RP_ID);
        ceremony_free(&m);
    }
    signin(&m, &cred, "chromium-u2f-es256-fido-u2f", 0);
    m.x.rp_id = "example.com";
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_RP_ID);
    ceremony_free(&m);
    /* The rpIdHash byte changed instead: the same refusal. */
    load_assertion(&m, "chromium-u2f-es256-fido-u2f", 0);
    m.r.authenticator_data.p[5] ^= 1;
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_RP_ID);
    ceremony_free(&m);
}

static void test_refuse_wrong_type(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct webauthn_assertion a;
    struct ceremony m;
    load_registration(&m, "chromium-ctap2-es256-none");
    client_data_replace(&m.r, "\"webauthn.create\"", "\"webauthn.get\"");
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_TYPE);
    ceremony_free(&m);

    registered("chromium-ctap2-es256-none", &cred);
    const char *wrong[] = {"\"webauthn.create\"", "\"payment.get\"", "\"Webauthn.get\""};
    for (size_t i = 0; i < ARRAY_SIZE(wrong); i++) {
        load_assertion(&m, "chromium-ctap2-es256-none", 0);
        client_data_replace(&m.r, "\"webauthn.get\"", wrong[i]);
        assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_TYPE);
        ceremony_free(&m);
    }
    /* A registration's answer where a sign-in's belongs, and back. */
    load_registration(&m, "chromium-ctap2-es256-none");
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_MALFORMED);
    ceremony_free(&m);
    load_assertion(&m, "chromium-ctap2-es256-none", 0);
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_MALFORMED);
    ceremony_free(&m);
}

static void test_refuse_cross_origin(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct webauthn_assertion a;
    struct ceremony m;
    signin(&m, &cred, "chromium-ctap2-eddsa-none", 0);
    client_data_replace(&m.r, "\"crossOrigin\":false", "\"crossOrigin\":true");
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_CROSS_ORIGIN);
    ceremony_free(&m);

    load_assertion(&m, "chromium-ctap2-eddsa-none", 0);
    client_data_replace(&m.r, "\"crossOrigin\":false",
                        "\"crossOrigin\":false,\"topOrigin\":\"https://evil.example\"");
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_CROSS_ORIGIN);
    ceremony_free(&m);

    load_registration(&m, "chromium-ctap2-eddsa-none");
    client_data_replace(&m.r, "\"crossOrigin\":false", "\"crossOrigin\":\"false\"");
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_MALFORMED);
    ceremony_free(&m);
}

static void test_refuse_tampered_authenticator_data(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct webauthn_assertion a;
    struct ceremony m;
    for (size_t i = 0; i < ARRAY_SIZE(ALG_CASES); i++) {
        registered(ALG_CASES[i], &cred);
        /* The counter, and a reserved flag bit: both only the signature covers. */
        static const size_t at[][2] = {{36, 0x01}, {33, 0x80}, {32, 0x02}};
        for (size_t k = 0; k < ARRAY_SIZE(at); k++) {
            load_assertion(&m, ALG_CASES[i], 0);
            m.r.authenticator_data.p[at[k][0]] ^= (uint8_t)at[k][1];
            assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_SIGNATURE);
            ceremony_free(&m);
        }
        /* clientDataJSON changed where nothing else looks. */
        load_assertion(&m, ALG_CASES[i], 0);
        client_data_replace(&m.r, "\"crossOrigin\":false", "\"crossOrigin\":false ");
        assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_SIGNATURE);
        ceremony_free(&m);
    }
    /* At registration a packed attestation signs the authenticator data:
     * a changed AAGUID or public key is caught. fido-u2f signs the key but
     * not the AAGUID; with "none" nothing signs anything, which is what
     * attestation "none" means. */
    const char *packed[] = {"chromium-ctap2-es256-packed", "soft-eddsa-packed-self",
                            "chromium-u2f-es256-fido-u2f"};
    for (size_t i = 0; i < ARRAY_SIZE(packed); i++) {
        bool u2f = strstr(packed[i], "u2f") != NULL;
        load_registration(&m, packed[i]);
        struct webauthn_attestation att;
        assert_int_equal(
            webauthn_attestation_parse(m.r.attestation_object.p, m.r.attestation_object.len, &att),
            WEBAUTHN_OK);
        uint8_t *ad = memmem(m.r.attestation_object.p, m.r.attestation_object.len, att.auth_data,
                             att.auth_data_len);
        assert_non_null(ad);
        size_t len = att.auth_data_len;
        webauthn_attestation_free(&att);
        ad[len - 3] ^= 1; /* in the public key: y, x or the u2f point */
        enum webauthn_result r = webauthn_registration_verify(&m.x, &m.r, &cred);
        assert_true(r == WEBAUTHN_ERR_ATTESTATION || r == WEBAUTHN_ERR_ALGORITHM);
        ad[len - 3] ^= 1;
        ad[40] ^= 1; /* in the AAGUID */
        assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred),
                         u2f ? WEBAUTHN_OK : WEBAUTHN_ERR_ATTESTATION);
        ceremony_free(&m);
    }
}

static void test_refuse_tampered_signature(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct webauthn_assertion a;
    struct ceremony m;
    const char *cases[] = {"chromium-ctap2-es256-none", "chromium-ctap2-rs256-none",
                           "chromium-ctap2-eddsa-none", "soft-rs3072-none",
                           "chromium-u2f-es256-fido-u2f"};
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        signin(&m, &cred, cases[i], 0);
        size_t n = m.r.signature.len;
        m.r.signature.p[n - 1] ^= 1;
        assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_SIGNATURE);
        m.r.signature.p[n - 1] ^= 1;
        m.r.signature.p[n / 2] ^= 0x10;
        assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_SIGNATURE);
        m.r.signature.p[n / 2] ^= 0x10;
        m.r.signature.len = n - 1; /* truncated */
        assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_SIGNATURE);
        m.r.signature.len = n;
        assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_OK);
        ceremony_free(&m);
    }
    /* Another credential's key, with the algorithm it claims. */
    struct webauthn_credential es, other;
    registered("chromium-ctap2-es256-none", &es);
    registered("chromium-ctap2-es256-packed", &other);
    memcpy(other.id, es.id, es.id_len);
    other.id_len = es.id_len;
    load_assertion(&m, "chromium-ctap2-es256-none", 0);
    assert_int_equal(assert_with(&m, &other, &a), WEBAUTHN_ERR_SIGNATURE);
    ceremony_free(&m);
}

static void test_refuse_sign_count(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct webauthn_assertion a;
    struct ceremony m;
    signin(&m, &cred, "chromium-ctap2-rs256-none", 0);
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_OK);
    uint32_t seen = a.sign_count;
    assert_true(seen > cred.sign_count);
    cred.sign_count = seen; /* stored after the first use: the same assertion again */
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_SIGN_COUNT);
    cred.sign_count = seen + 1; /* the counter went down */
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_SIGN_COUNT);
    cred.sign_count = UINT32_MAX;
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_SIGN_COUNT);
    cred.sign_count = seen - 1;
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_OK);
    cred.sign_count = 0; /* a stored 0 and any count: fine */
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_OK);
    ceremony_free(&m);
}

static void test_refuse_backup_eligibility_flipped(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct webauthn_assertion a;
    struct ceremony m;
    signin(&m, &cred, "chromium-ctap2-es256-synced", 0);
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_OK);
    assert_true(a.be && a.bs);
    cred.be = false; /* registered as device-bound, now synced */
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_BACKUP_ELIGIBILITY);
    ceremony_free(&m);

    signin(&m, &cred, "chromium-ctap2-es256-none", 0);
    cred.be = true;
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_BACKUP_ELIGIBILITY);
    cred.be = false;
    m.r.authenticator_data.p[32] |= WEBAUTHN_FLAG_BE; /* BE set in the data itself */
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_BACKUP_ELIGIBILITY);
    m.r.authenticator_data.p[32] &= (uint8_t)~WEBAUTHN_FLAG_BE;
    m.r.authenticator_data.p[32] |= WEBAUTHN_FLAG_BS; /* backed up, not eligible */
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_BACKUP_STATE);
    ceremony_free(&m);
}

static void test_refuse_user_presence_missing(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct webauthn_assertion a;
    struct ceremony m;
    signin(&m, &cred, "chromium-ctap2-eddsa-none", 1);
    m.r.authenticator_data.p[32] &= (uint8_t)~WEBAUTHN_FLAG_UP;
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_USER_PRESENCE);
    ceremony_free(&m);

    load_registration(&m, "chromium-ctap2-eddsa-none");
    struct webauthn_attestation att;
    assert_int_equal(
        webauthn_attestation_parse(m.r.attestation_object.p, m.r.attestation_object.len, &att),
        WEBAUTHN_OK);
    uint8_t *ad = memmem(m.r.attestation_object.p, m.r.attestation_object.len, att.auth_data,
                         att.auth_data_len);
    webauthn_attestation_free(&att);
    ad[32] &= (uint8_t)~WEBAUTHN_FLAG_UP;
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_USER_PRESENCE);
    ceremony_free(&m);
}

static void test_refuse_user_verification_missing(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct webauthn_assertion a;
    struct ceremony m;
    /* The u2f security key never verifies the user. */
    load_registration(&m, "chromium-u2f-es256-fido-u2f");
    m.x.uv = WEBAUTHN_UV_REQUIRED;
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred),
                     WEBAUTHN_ERR_USER_VERIFICATION);
    m.x.uv = WEBAUTHN_UV_PREFERRED;
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_OK);
    assert_false(cred.uv);
    ceremony_free(&m);

    load_assertion(&m, "chromium-u2f-es256-fido-u2f", 0);
    m.x.uv = WEBAUTHN_UV_REQUIRED;
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_USER_VERIFICATION);
    m.x.uv = WEBAUTHN_UV_DISCOURAGED;
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_OK);
    assert_false(a.uv);
    ceremony_free(&m);

    /* A passkey that verified: required passes. */
    signin(&m, &cred, "chromium-ctap2-es256-none", 0);
    m.x.uv = WEBAUTHN_UV_REQUIRED;
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_OK);
    assert_true(a.uv);
    ceremony_free(&m);
}

static void test_refuse_credential_and_user_handle(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct webauthn_assertion a;
    struct ceremony m;
    signin(&m, &cred, "chromium-ctap2-es256-none", 0);
    cred.id[0] ^= 1;
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_CREDENTIAL);
    cred.id[0] ^= 1;
    m.user_handle[3] ^= 1; /* the passkey says it belongs to another user */
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_USER_HANDLE);
    m.user_handle_len = 0;
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_ERR_USER_HANDLE);
    ceremony_free(&m);
    /* No userHandle (a non-discoverable credential): nothing to compare. */
    signin(&m, &cred, "chromium-u2f-es256-fido-u2f", 1);
    assert_int_equal(m.r.user_handle.len, 0);
    assert_int_equal(assert_with(&m, &cred, &a), WEBAUTHN_OK);
    ceremony_free(&m);
    /* At registration rawId must be the attested credential. */
    load_registration(&m, "chromium-ctap2-rs256-none");
    m.r.raw_id.p[0] ^= 1;
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_CREDENTIAL);
    ceremony_free(&m);
}

/* Where the bytes p[0..len) sit inside the attestation object. */
static size_t offset_in_object(const struct ceremony *m, const uint8_t *p, size_t len)
{
    uint8_t *q = memmem(m->r.attestation_object.p, m->r.attestation_object.len, p, len);
    assert_non_null(q);
    return (size_t)(q - m->r.attestation_object.p);
}

static void test_refuse_attestation(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    const char *signed_cases[] = {"chromium-ctap2-es256-packed", "chromium-ctap2-eddsa-packed",
                                  "soft-rs256-packed-self", "chromium-u2f-es256-fido-u2f"};
    for (size_t i = 0; i < ARRAY_SIZE(signed_cases); i++) {
        struct ceremony m;
        load_registration(&m, signed_cases[i]);
        uint8_t *obj = m.r.attestation_object.p;
        struct webauthn_attestation att;
        assert_int_equal(webauthn_attestation_parse(obj, m.r.attestation_object.len, &att),
                         WEBAUTHN_OK);
        size_t sig = offset_in_object(&m, att.sig, att.sig_len) + att.sig_len - 2;
        size_t key = 0, cert_end = 0;
        if (att.x5c_count) {
            /* The last byte of the certificate's public key. */
            const unsigned char *q = att.x5c[0];
            X509 *x509 = d2i_X509(NULL, &q, (long)att.x5c_len[0]);
            assert_non_null(x509);
            unsigned char *spki = NULL;
            int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509), &spki);
            X509_free(x509);
            key = offset_in_object(&m, spki, (size_t)spki_len) + (size_t)spki_len - 1;
            OPENSSL_free(spki);
            cert_end = offset_in_object(&m, att.x5c[0], att.x5c_len[0]) + att.x5c_len[0];
        }
        webauthn_attestation_free(&att);

        obj[sig] ^= 1;
        assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_ATTESTATION);
        obj[sig] ^= 1;
        assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_OK);
        if (key) {
            /* Another key in the certificate: the statement no longer verifies. */
            obj[key] ^= 1;
            assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred),
                             WEBAUTHN_ERR_ATTESTATION);
            obj[key] ^= 1;
            /* The certificate's own signature is not looked at: attestation
             * is asked as "none" and nothing is chained to a root. */
            obj[cert_end - 5] ^= 1;
            assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_OK);
        }
        ceremony_free(&m);
    }
}

static void test_refuse_attestation_format(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct ceremony m;
    const struct {
        const char *name, *from, *to;
    } renames[] = {
        {"chromium-ctap2-es256-packed", "packed", "pecked"},
        {"chromium-u2f-es256-fido-u2f", "fido-u2f", "fido-u2F"},
        {"chromium-ctap2-rs256-none", "dnone", "dnono"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(renames); i++) {
        load_registration(&m, renames[i].name);
        uint8_t *at = memmem(m.r.attestation_object.p, m.r.attestation_object.len, renames[i].from,
                             strlen(renames[i].from));
        assert_non_null(at);
        memcpy(at, renames[i].to, strlen(renames[i].to));
        assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred),
                         WEBAUTHN_ERR_ATTESTATION_FORMAT);
        ceremony_free(&m);
    }
    /* A format name that is not UTF-8 is no CBOR text at all. */
    load_registration(&m, "chromium-ctap2-rs256-none");
    uint8_t *at = memmem(m.r.attestation_object.p, m.r.attestation_object.len, "dnone", 5);
    at[4] = 0xc3;
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_MALFORMED);
    ceremony_free(&m);
}

/* ---- CBOR built by hand for the parsers ---- */

static cbor_item_t *cint(int64_t v)
{
    return v >= 0 ? cbor_build_uint32((uint32_t)v) : cbor_build_negint32((uint32_t)(-1 - v));
}

static void map_put(cbor_item_t *map, cbor_item_t *k, cbor_item_t *v)
{
    assert_true(cbor_map_add(map, (struct cbor_pair){cbor_move(k), cbor_move(v)}));
}

/* Serialises item (and drops it); *len gets the size. */
static uint8_t *cbor_bytes(cbor_item_t *item, size_t *len)
{
    uint8_t *buf = NULL;
    size_t alloc = 0;
    *len = cbor_serialize_alloc(item, &buf, &alloc);
    assert_true(*len > 0);
    cbor_decref(&item);
    return buf;
}

/* An attestationObject {fmt, attStmt, authData} from parts. */
static uint8_t *att_object(const char *fmt, cbor_item_t *stmt, const uint8_t *ad, size_t ad_len,
                           size_t *len)
{
    cbor_item_t *m = cbor_new_definite_map(3);
    map_put(m, cbor_build_string("fmt"), cbor_build_string(fmt));
    map_put(m, cbor_build_string("attStmt"), stmt);
    map_put(m, cbor_build_string("authData"), cbor_build_bytestring(ad, ad_len));
    return cbor_bytes(m, len);
}

static void set_attestation_object(struct ceremony *m, uint8_t *p, size_t len)
{
    free(m->r.attestation_object.p);
    m->r.attestation_object.p = p;
    m->r.attestation_object.len = len;
}

/* The ceremony's attestation object becomes {fmt, stmt, authData ad}. */
static void set_object(struct ceremony *m, const char *fmt, cbor_item_t *stmt, const uint8_t *ad,
                       size_t ad_len)
{
    size_t len;
    uint8_t *p = att_object(fmt, stmt, ad, ad_len, &len);
    set_attestation_object(m, p, len);
}

/* The ceremony's attestation object becomes obj. */
static void set_object_item(struct ceremony *m, cbor_item_t *obj)
{
    size_t len;
    uint8_t *p = cbor_bytes(obj, &len);
    set_attestation_object(m, p, len);
}

static void test_attestation_object_shapes(void **state)
{
    (void)state;
    struct webauthn_credential cred;
    struct ceremony m;
    load_registration(&m, "chromium-ctap2-es256-packed");
    struct webauthn_attestation att;
    assert_int_equal(
        webauthn_attestation_parse(m.r.attestation_object.p, m.r.attestation_object.len, &att),
        WEBAUTHN_OK);
    assert_string_equal(att.fmt, "packed");
    assert_true(att.has_alg);
    assert_int_equal(att.alg, WEBAUTHN_ALG_ES256);
    assert_int_equal(att.x5c_count, 1);
    size_t ad_len = att.auth_data_len;
    uint8_t *ad = malloc(ad_len);
    memcpy(ad, att.auth_data, ad_len);
    webauthn_attestation_free(&att);

    /* "none" must have an empty statement. */
    cbor_item_t *stmt = cbor_new_definite_map(1);
    map_put(stmt, cbor_build_string("alg"), cint(-7));
    set_object(&m, "none", stmt, ad, ad_len);
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_ATTESTATION);
    set_object(&m, "none", cbor_new_definite_map(0), ad, ad_len);
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_OK);
    assert_string_equal(cred.fmt, "none");
    /* packed without sig or alg; fido-u2f without a certificate. */
    stmt = cbor_new_definite_map(1);
    map_put(stmt, cbor_build_string("alg"), cint(-7));
    set_object(&m, "packed", stmt, ad, ad_len);
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_ATTESTATION);
    set_object(&m, "fido-u2f", cbor_new_definite_map(0), ad, ad_len);
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_ATTESTATION);
    set_object(&m, "tpm", cbor_new_definite_map(0), ad, ad_len);
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred),
                     WEBAUTHN_ERR_ATTESTATION_FORMAT);
    /* Wrong member types, a fourth member, duplicate keys. */
    stmt = cbor_new_definite_map(1);
    map_put(stmt, cbor_build_string("sig"), cbor_build_string("not bytes"));
    set_object(&m, "packed", stmt, ad, ad_len);
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_MALFORMED);
    cbor_item_t *obj = cbor_new_definite_map(4);
    map_put(obj, cbor_build_string("fmt"), cbor_build_string("none"));
    map_put(obj, cbor_build_string("attStmt"), cbor_new_definite_map(0));
    map_put(obj, cbor_build_string("authData"), cbor_build_bytestring(ad, ad_len));
    map_put(obj, cbor_build_string("extra"), cint(1));
    set_object_item(&m, obj);
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_MALFORMED);
    obj = cbor_new_definite_map(3);
    map_put(obj, cbor_build_string("fmt"), cbor_build_string("none"));
    map_put(obj, cbor_build_string("fmt"), cbor_build_string("packed"));
    map_put(obj, cbor_build_string("authData"), cbor_build_bytestring(ad, ad_len));
    set_object_item(&m, obj);
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_MALFORMED);
    /* Trailing bytes after the object. */
    size_t len;
    uint8_t *p = att_object("none", cbor_new_definite_map(0), ad, ad_len, &len);
    p = realloc(p, len + 1);
    p[len] = 0;
    set_attestation_object(&m, p, len + 1);
    assert_int_equal(webauthn_registration_verify(&m.x, &m.r, &cred), WEBAUTHN_ERR_MALFORMED);
    free(ad);
    ceremony_free(&m);
}

/* Authenticator data with a chosen tail after the 37 fixed bytes. */
static size_t auth_data_with(uint8_t *buf, uint8_t flags, const uint8_t *tail, size_t tail_len)
{
    SHA256((const unsigned char *)"localhost", 9, buf);
    buf[32] = flags;
    memset(buf + 33, 0, 4);
    if (tail_len)
        memcpy(buf + 37, tail, tail_len);
    return 37 + tail_len;
}

static void test_auth_data_parse(void **state)
{
    (void)state;
    struct ceremony m;
    load_registration(&m, "chromium-ctap2-rs256-none");
    struct webauthn_attestation att;
    assert_int_equal(
        webauthn_attestation_parse(m.r.attestation_object.p, m.r.attestation_object.len, &att),
        WEBAUTHN_OK);
    struct webauthn_auth_data ad;
    assert_int_equal(webauthn_auth_data_parse(att.auth_data, att.auth_data_len, &ad), WEBAUTHN_OK);
    assert_int_equal(ad.cred_id_len, m.r.raw_id.len);
    assert_memory_equal(ad.cred_id, m.r.raw_id.p, ad.cred_id_len);
    assert_null(ad.extensions);
    /* Every shorter prefix is refused, and one byte more. */
    for (size_t n = 0; n < att.auth_data_len; n++)
        assert_int_equal(webauthn_auth_data_parse(att.auth_data, n, &ad), WEBAUTHN_ERR_MALFORMED);
    uint8_t *longer = malloc(att.auth_data_len + 1);
    memcpy(longer, att.auth_data, att.auth_data_len);
    longer[att.auth_data_len] = 0xa0; /* an empty map, but ED is not set */
    assert_int_equal(webauthn_auth_data_parse(longer, att.auth_data_len + 1, &ad),
                     WEBAUTHN_ERR_MALFORMED);
    longer[32] |= WEBAUTHN_FLAG_ED; /* now it is the extensions */
    assert_int_equal(webauthn_auth_data_parse(longer, att.auth_data_len + 1, &ad), WEBAUTHN_OK);
    assert_int_equal(ad.extensions_len, 1);
    free(longer);
    webauthn_attestation_free(&att);
    ceremony_free(&m);

    uint8_t buf[256];
    static const uint8_t aaguid_id[] = {0,  1,  2,  3,  4,  5,  6, 7, 8,   9,
                                        10, 11, 12, 13, 14, 15, 0, 1, 0x42};
    uint8_t tail[64];
    memcpy(tail, aaguid_id, sizeof(aaguid_id));
    /* A key that declares 2^64-1 entries: refused before anything allocates. */
    static const uint8_t huge[] = {0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    memcpy(tail + sizeof(aaguid_id), huge, sizeof(huge));
    size_t n = auth_data_with(buf, WEBAUTHN_FLAG_UP | WEBAUTHN_FLAG_AT, tail,
                              sizeof(aaguid_id) + sizeof(huge));
    assert_int_equal(webauthn_auth_data_parse(buf, n, &ad), WEBAUTHN_ERR_MALFORMED);
    /* An indefinite-length map, a tag, a map nested nine deep. */
    static const uint8_t indef[] = {0xbf, 0x01, 0x02, 0xff};
    memcpy(tail + sizeof(aaguid_id), indef, sizeof(indef));
    n = auth_data_with(buf, WEBAUTHN_FLAG_UP | WEBAUTHN_FLAG_AT, tail,
                       sizeof(aaguid_id) + sizeof(indef));
    assert_int_equal(webauthn_auth_data_parse(buf, n, &ad), WEBAUTHN_ERR_MALFORMED);
    static const uint8_t tagged[] = {0xa1, 0x01, 0xc1, 0x02};
    memcpy(tail + sizeof(aaguid_id), tagged, sizeof(tagged));
    n = auth_data_with(buf, WEBAUTHN_FLAG_UP | WEBAUTHN_FLAG_AT, tail,
                       sizeof(aaguid_id) + sizeof(tagged));
    assert_int_equal(webauthn_auth_data_parse(buf, n, &ad), WEBAUTHN_ERR_MALFORMED);
    for (int depth = 8; depth <= 9; depth++) {
        uint8_t deep[32];
        size_t d = 0;
        for (int i = 0; i < depth; i++) {
            deep[d++] = 0xa1; /* {1: ...} */
            deep[d++] = 0x01;
        }
        deep[d++] = 0x00;
        memcpy(tail + sizeof(aaguid_id), deep, d);
        n = auth_data_with(buf, WEBAUTHN_FLAG_UP | WEBAUTHN_FLAG_AT, tail, sizeof(aaguid_id) + d);
        assert_int_equal(webauthn_auth_data_parse(buf, n, &ad),
                         depth == 8 ? WEBAUTHN_OK : WEBAUTHN_ERR_MALFORMED);
    }
    /* A credential id longer than what follows; extension data that is no map. */
    uint8_t bad_len[19];
    memcpy(bad_len, aaguid_id, sizeof(bad_len));
    bad_len[16] = 0x04;
    n = auth_data_with(buf, WEBAUTHN_FLAG_UP | WEBAUTHN_FLAG_AT, bad_len, sizeof(bad_len));
    assert_int_equal(webauthn_auth_data_parse(buf, n, &ad), WEBAUTHN_ERR_MALFORMED);
    static const uint8_t not_map[] = {0x81, 0x00};
    n = auth_data_with(buf, WEBAUTHN_FLAG_UP | WEBAUTHN_FLAG_ED, not_map, sizeof(not_map));
    assert_int_equal(webauthn_auth_data_parse(buf, n, &ad), WEBAUTHN_ERR_MALFORMED);
    n = auth_data_with(buf, WEBAUTHN_FLAG_UP, NULL, 0);
    assert_int_equal(webauthn_auth_data_parse(buf, n, &ad), WEBAUTHN_OK);
    assert_null(ad.cose_key);
    /* The counter is big-endian. */
    buf[33] = 0x01;
    buf[36] = 0x02;
    assert_int_equal(webauthn_auth_data_parse(buf, n, &ad), WEBAUTHN_OK);
    assert_int_equal(ad.sign_count, 0x01000002u);
}

static enum webauthn_result cose_of(cbor_item_t *key)
{
    size_t len;
    uint8_t *p = cbor_bytes(key, &len);
    int alg = 0;
    uint8_t spki[WEBAUTHN_PUBLIC_KEY_MAX];
    size_t spki_len = 0;
    enum webauthn_result r = webauthn_cose_key_parse(p, len, &alg, spki, &spki_len);
    free(p);
    return r;
}

static cbor_item_t *cose_ec2(int64_t alg, int64_t crv, const uint8_t *x, const uint8_t *y,
                             size_t coord)
{
    cbor_item_t *k = cbor_new_definite_map(6); /* room for one more */
    map_put(k, cint(1), cint(2));
    map_put(k, cint(3), cint(alg));
    map_put(k, cint(-1), cint(crv));
    map_put(k, cint(-2), cbor_build_bytestring(x, coord));
    map_put(k, cint(-3), cbor_build_bytestring(y, coord));
    return k;
}

static cbor_item_t *cose_rsa(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len)
{
    cbor_item_t *k = cbor_new_definite_map(4);
    map_put(k, cint(1), cint(3));
    map_put(k, cint(3), cint(-257));
    map_put(k, cint(-1), cbor_build_bytestring(n, n_len));
    map_put(k, cint(-2), cbor_build_bytestring(e, e_len));
    return k;
}

/* The modulus of a recorded case's RSA key into n; returns its length. */
static size_t rsa_modulus(const char *name, uint8_t *n)
{
    struct webauthn_credential cred;
    registered(name, &cred);
    const unsigned char *q = cred.public_key;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &q, (long)cred.public_key_len);
    assert_non_null(key);
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(key, "n", &bn), 1);
    int len = BN_bn2bin(bn, n);
    BN_free(bn);
    EVP_PKEY_free(key);
    return (size_t)len;
}

static void test_cose_keys(void **state)
{
    (void)state;
    /* The recorded P-256 key, taken apart and put together again. */
    struct ceremony m;
    load_registration(&m, "chromium-ctap2-es256-none");
    struct webauthn_attestation att;
    assert_int_equal(
        webauthn_attestation_parse(m.r.attestation_object.p, m.r.attestation_object.len, &att),
        WEBAUTHN_OK);
    struct webauthn_auth_data ad;
    assert_int_equal(webauthn_auth_data_parse(att.auth_data, att.auth_data_len, &ad), WEBAUTHN_OK);
    struct cbor_load_result lr;
    cbor_item_t *key = cbor_load(ad.cose_key, ad.cose_key_len, &lr);
    assert_non_null(key);
    uint8_t x[32], y[32];
    bool dup = false;
    for (size_t i = 0; i < cbor_map_size(key); i++) {
        struct cbor_pair p = cbor_map_handle(key)[i];
        if (cbor_isa_negint(p.key) && cbor_get_int(p.key) == 1)
            memcpy(x, cbor_bytestring_handle(p.value), 32);
        if (cbor_isa_negint(p.key) && cbor_get_int(p.key) == 2)
            memcpy(y, cbor_bytestring_handle(p.value), 32);
    }
    (void)dup;
    cbor_decref(&key);
    webauthn_attestation_free(&att);
    ceremony_free(&m);

    assert_int_equal(cose_of(cose_ec2(-7, 1, x, y, 32)), WEBAUTHN_OK);
    assert_int_equal(cose_of(cose_ec2(-7, 2, x, y, 32)), WEBAUTHN_ERR_ALGORITHM);  /* P-384 */
    assert_int_equal(cose_of(cose_ec2(-35, 1, x, y, 32)), WEBAUTHN_ERR_ALGORITHM); /* ES384 */
    assert_int_equal(cose_of(cose_ec2(-7, 1, x, y, 31)), WEBAUTHN_ERR_ALGORITHM);
    y[31] ^= 1; /* off the curve */
    assert_int_equal(cose_of(cose_ec2(-7, 1, x, y, 32)), WEBAUTHN_ERR_ALGORITHM);
    y[31] ^= 1;
    /* alg and kty that disagree; a key said twice; no kty. */
    cbor_item_t *k = cose_ec2(-8, 1, x, y, 32);
    assert_int_equal(cose_of(k), WEBAUTHN_ERR_ALGORITHM);
    k = cose_ec2(-7, 1, x, y, 32);
    map_put(k, cint(3), cint(-7));
    assert_int_equal(cose_of(k), WEBAUTHN_ERR_MALFORMED);
    k = cbor_new_definite_map(1);
    map_put(k, cint(3), cint(-7));
    assert_int_equal(cose_of(k), WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(cose_of(cbor_build_uint8(1)), WEBAUTHN_ERR_MALFORMED);

    /* RSA: the recorded 2048-bit modulus with good and bad exponents; a
     * generated 4096-bit key; moduli of 1024 and 4104 bits; an even one. */
    uint8_t n[520];
    static const uint8_t e65537[] = {1, 0, 1}, e3[] = {3}, e2[] = {2}, e1[] = {1};
    size_t n_len = rsa_modulus("chromium-ctap2-rs256-none", n);
    assert_int_equal(n_len, 256);
    assert_int_equal(cose_of(cose_rsa(n, n_len, e65537, 3)), WEBAUTHN_OK);
    assert_int_equal(cose_of(cose_rsa(n, n_len, e3, 1)), WEBAUTHN_OK);
    assert_int_equal(cose_of(cose_rsa(n, n_len, e2, 1)), WEBAUTHN_ERR_ALGORITHM);
    assert_int_equal(cose_of(cose_rsa(n, n_len, e1, 1)), WEBAUTHN_ERR_ALGORITHM);
    EVP_PKEY *big = EVP_RSA_gen(4096);
    assert_non_null(big);
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(big, "n", &bn), 1);
    assert_int_equal(BN_bn2bin(bn, n), 512);
    BN_free(bn);
    EVP_PKEY_free(big);
    assert_int_equal(cose_of(cose_rsa(n, 512, e65537, 3)), WEBAUTHN_OK);
    memset(n + 512, 0x55, 1);
    assert_int_equal(cose_of(cose_rsa(n, 513, e65537, 3)), WEBAUTHN_ERR_ALGORITHM);
    assert_int_equal(cose_of(cose_rsa(n, 128, e65537, 3)), WEBAUTHN_ERR_ALGORITHM);
    n_len = rsa_modulus("chromium-ctap2-rs256-none", n);
    n[n_len - 1] ^= 1; /* even */
    assert_int_equal(cose_of(cose_rsa(n, n_len, e65537, 3)), WEBAUTHN_ERR_ALGORITHM);

    /* OKP: only Ed25519, 32 bytes. */
    k = cbor_new_definite_map(4);
    map_put(k, cint(1), cint(1));
    map_put(k, cint(3), cint(-8));
    map_put(k, cint(-1), cint(4)); /* X25519 */
    map_put(k, cint(-2), cbor_build_bytestring(x, 32));
    assert_int_equal(cose_of(k), WEBAUTHN_ERR_ALGORITHM);
    k = cbor_new_definite_map(4);
    map_put(k, cint(1), cint(1));
    map_put(k, cint(3), cint(-8));
    map_put(k, cint(-1), cint(6));
    map_put(k, cint(-2), cbor_build_bytestring(x, 32));
    assert_int_equal(cose_of(k), WEBAUTHN_OK);
}

/* webauthn_client_data_check of a sign-in's clientDataJSON made from fmt. */
__attribute__((format(printf, 2, 3))) static enum webauthn_result
cd_check(const struct webauthn_expect *x, const char *fmt, ...)
{
    char json[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(json, sizeof(json), fmt, ap);
    va_end(ap);
    return webauthn_client_data_check((const uint8_t *)json, strlen(json), WEBAUTHN_GET, x);
}

static void test_client_data(void **state)
{
    (void)state;
    uint8_t chal[32];
    for (size_t i = 0; i < sizeof(chal); i++)
        chal[i] = (uint8_t)(i * 7);
    char *b64 = b64url_encode(chal, sizeof(chal));
    struct webauthn_expect x = {"localhost", "http://localhost:8080", chal, sizeof(chal),
                                WEBAUTHN_UV_PREFERRED};
    const char *good = "{\"type\":\"webauthn.get\",\"challenge\":\"%s\","
                       "\"origin\":\"http://localhost:8080\"}";
    assert_int_equal(cd_check(&x, good, b64), WEBAUTHN_OK);
    /* Keys twice: which one would count? */
    assert_int_equal(cd_check(&x,
                              "{\"type\":\"webauthn.get\",\"challenge\":\"%s\",\"origin\":"
                              "\"https://evil.example\",\"origin\":\"http://localhost:8080\"}",
                              b64),
                     WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(cd_check(&x, "[\"webauthn.get\"]"), WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(
        cd_check(&x, "{\"type\":\"webauthn.get\",\"origin\":\"http://localhost:8080\"}"),
        WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(cd_check(&x,
                              "{\"type\":\"webauthn.get\",\"challenge\":%s,"
                              "\"origin\":\"http://localhost:8080\"}",
                              "42"),
                     WEBAUTHN_ERR_MALFORMED);
    /* The challenge padded, empty, or another one. */
    assert_int_equal(cd_check(&x,
                              "{\"type\":\"webauthn.get\",\"challenge\":\"%s=\","
                              "\"origin\":\"http://localhost:8080\"}",
                              b64),
                     WEBAUTHN_ERR_CHALLENGE);
    assert_int_equal(cd_check(&x, good, ""), WEBAUTHN_ERR_CHALLENGE);
    assert_int_equal(cd_check(&x, good, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                     WEBAUTHN_ERR_CHALLENGE);
    /* An origin with a NUL after the right text is no JSON we take; the
     * origin is compared exactly, case included. */
    assert_int_equal(cd_check(&x,
                              "{\"type\":\"webauthn.get\",\"challenge\":\"%s\","
                              "\"origin\":\"http://localhost:8080\\u0000x\"}",
                              b64),
                     WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(cd_check(&x,
                              "{\"type\":\"webauthn.get\",\"challenge\":\"%s\","
                              "\"origin\":\"http://LOCALHOST:8080\"}",
                              b64),
                     WEBAUTHN_ERR_ORIGIN);
    /* Over the size limit, whatever it says. */
    size_t big = WEBAUTHN_CLIENT_DATA_MAX + 1;
    uint8_t *p = malloc(big);
    memset(p, ' ', big);
    assert_int_equal(webauthn_client_data_check(p, big, WEBAUTHN_GET, &x), WEBAUTHN_ERR_MALFORMED);
    free(p);
    free(b64);
}

/* ---- the browser's PublicKeyCredential JSON ---- */

/* Parses a changed copy of a recorded case's registration (assertion
 * false) or first sign-in as kind. */
static enum webauthn_result parse_as(const char *case_name, bool assertion,
                                     enum webauthn_ceremony kind, void (*mutate)(json_t *cred))
{
    const json_t *c = find_case(case_name);
    const json_t *j = assertion ? json_array_get(json_object_get(c, "assertions"), 0)
                                : json_object_get(c, "registration");
    json_t *cred = json_deep_copy(json_object_get(j, "credential"));
    mutate(cred);
    struct webauthn_response r;
    enum webauthn_result res = webauthn_response_from_json(cred, kind, &r);
    if (res == WEBAUTHN_OK)
        webauthn_response_free(&r);
    else
        assert_null(r.raw_id.p);
    json_decref(cred);
    return res;
}

static void m_nothing(json_t *c)
{
    (void)c;
}
static void m_id_differs(json_t *c)
{
    json_object_set_new(c, "id", json_string("AAAA"));
}
static void m_type(json_t *c)
{
    json_object_set_new(c, "type", json_string("public-key "));
}
static void m_no_response(json_t *c)
{
    json_object_del(c, "response");
}
static void m_padded(json_t *c)
{
    json_t *r = json_object_get(c, "response");
    char *s = NULL;
    if (asprintf(&s, "%s=", json_string_value(json_object_get(r, "clientDataJSON"))) < 0)
        abort();
    json_object_set_new(r, "clientDataJSON", json_string(s));
    free(s);
}
static void m_std_base64(json_t *c)
{
    json_object_set_new(json_object_get(c, "response"), "clientDataJSON", json_string("ab+/"));
}
static void m_client_data_too_big(json_t *c)
{
    size_t n = (WEBAUTHN_CLIENT_DATA_MAX + 3) / 3 * 4;
    char *s = malloc(n + 1);
    memset(s, 'A', n);
    s[n] = '\0';
    json_object_set_new(json_object_get(c, "response"), "clientDataJSON", json_string(s));
    free(s);
}
static void m_no_attestation(json_t *c)
{
    json_object_del(json_object_get(c, "response"), "attestationObject");
}
static void m_transports_unknown(json_t *c)
{
    json_object_set_new(json_object_get(c, "response"), "transports",
                        json_pack("[s, s]", "carrier-pigeon", "nfc"));
}
static void m_transports_not_list(json_t *c)
{
    json_object_set_new(json_object_get(c, "response"), "transports", json_string("usb"));
}
static void m_extensions_not_object(json_t *c)
{
    json_object_set_new(c, "clientExtensionResults", json_array());
}
static void m_attachment_number(json_t *c)
{
    json_object_set_new(c, "authenticatorAttachment", json_integer(1));
}
static void m_user_handle_null(json_t *c)
{
    json_object_set_new(json_object_get(c, "response"), "userHandle", json_null());
}
static void m_user_handle_long(json_t *c)
{
    char s[128];
    memset(s, 'A', 88); /* 66 bytes */
    s[88] = '\0';
    json_object_set_new(json_object_get(c, "response"), "userHandle", json_string(s));
}
static void m_no_signature(json_t *c)
{
    json_object_del(json_object_get(c, "response"), "signature");
}
static void m_empty_signature(json_t *c)
{
    json_object_set_new(json_object_get(c, "response"), "signature", json_string(""));
}

static void test_response_json(void **state)
{
    (void)state;
    const char *reg = "chromium-ctap2-es256-packed";
    assert_int_equal(parse_as(reg, false, WEBAUTHN_CREATE, m_nothing), WEBAUTHN_OK);
    assert_int_equal(parse_as(reg, false, WEBAUTHN_CREATE, m_id_differs), WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(parse_as(reg, false, WEBAUTHN_CREATE, m_type), WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(parse_as(reg, false, WEBAUTHN_CREATE, m_no_response), WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(parse_as(reg, false, WEBAUTHN_CREATE, m_padded), WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(parse_as(reg, false, WEBAUTHN_CREATE, m_std_base64), WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(parse_as(reg, false, WEBAUTHN_CREATE, m_client_data_too_big),
                     WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(parse_as(reg, false, WEBAUTHN_CREATE, m_no_attestation),
                     WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(parse_as(reg, false, WEBAUTHN_CREATE, m_transports_unknown), WEBAUTHN_OK);
    assert_int_equal(parse_as(reg, false, WEBAUTHN_CREATE, m_transports_not_list),
                     WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(parse_as(reg, false, WEBAUTHN_CREATE, m_extensions_not_object),
                     WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(parse_as(reg, false, WEBAUTHN_CREATE, m_attachment_number),
                     WEBAUTHN_ERR_MALFORMED);
    const char *get = "chromium-ctap2-es256-none";
    assert_int_equal(parse_as(get, true, WEBAUTHN_GET, m_nothing), WEBAUTHN_OK);
    assert_int_equal(parse_as(get, true, WEBAUTHN_GET, m_user_handle_null), WEBAUTHN_OK);
    assert_int_equal(parse_as(get, true, WEBAUTHN_GET, m_user_handle_long), WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(parse_as(get, true, WEBAUTHN_GET, m_no_signature), WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(parse_as(get, true, WEBAUTHN_GET, m_empty_signature), WEBAUTHN_ERR_MALFORMED);
    /* A registration is not a sign-in, nor the other way round. */
    assert_int_equal(parse_as(reg, false, WEBAUTHN_GET, m_nothing), WEBAUTHN_ERR_MALFORMED);
    assert_int_equal(parse_as(get, true, WEBAUTHN_CREATE, m_nothing), WEBAUTHN_ERR_MALFORMED);

    /* What the fields say once decoded. */
    const json_t *c = find_case("chromium-u2f-es256-fido-u2f");
    char *text = json_dumps(json_object_get(json_object_get(c, "registration"), "credential"), 0);
    struct webauthn_response r;
    assert_int_equal(webauthn_response_parse(text, strlen(text), WEBAUTHN_CREATE, &r), WEBAUTHN_OK);
    assert_int_equal(r.transports, WEBAUTHN_TRANSPORT_USB);
    assert_int_equal(r.attachment, WEBAUTHN_ATTACHMENT_CROSS_PLATFORM);
    assert_true(r.raw_id.len > 0 && r.client_data_json.len > 0 && r.attestation_object.len > 0);
    webauthn_response_free(&r);
    /* The text form refuses duplicate keys and oversized input. */
    size_t len = strlen(text);
    char *dup = malloc(len + 32);
    snprintf(dup, len + 32, "{\"type\":\"x\",%s", text + 1);
    assert_int_equal(webauthn_response_parse(dup, strlen(dup), WEBAUTHN_CREATE, &r),
                     WEBAUTHN_ERR_MALFORMED);
    free(dup);
    char *big = malloc(WEBAUTHN_JSON_MAX + 1);
    memset(big, ' ', WEBAUTHN_JSON_MAX + 1);
    memcpy(big, text, len);
    assert_int_equal(webauthn_response_parse(big, WEBAUTHN_JSON_MAX, WEBAUTHN_CREATE, &r),
                     WEBAUTHN_OK);
    webauthn_response_free(&r);
    assert_int_equal(webauthn_response_parse(big, WEBAUTHN_JSON_MAX + 1, WEBAUTHN_CREATE, &r),
                     WEBAUTHN_ERR_MALFORMED);
    free(big);
    assert_int_equal(webauthn_response_parse("{", 1, WEBAUTHN_CREATE, &r), WEBAUTHN_ERR_MALFORMED);
    free(text);
}

/* ---- the options ---- */

static void test_creation_options(void **state)
{
    (void)state;
    uint8_t handle[WEBAUTHN_USER_HANDLE_LEN], chal[WEBAUTHN_CHALLENGE_LEN], id1[16], id2[40];
    memset(handle, 0xfb, sizeof(handle));
    memset(chal, 0x3e, sizeof(chal));
    memset(id1, 1, sizeof(id1));
    memset(id2, 0xff, sizeof(id2));
    struct webauthn_descriptor ex[] = {
        {id1, sizeof(id1), WEBAUTHN_TRANSPORT_INTERNAL | WEBAUTHN_TRANSPORT_USB},
        {id2, sizeof(id2), 0},
    };
    struct webauthn_creation_params p = {
        .rp_id = "id.example.com",
        .rp_name = "Acme ID",
        .user_handle = handle,
        .user_handle_len = sizeof(handle),
        .user_name = "alice",
        .challenge = chal,
        .challenge_len = sizeof(chal),
        .uv = WEBAUTHN_UV_REQUIRED,
        .timeout_ms = 300000,
        .exclude = ex,
        .exclude_count = 2,
    };
    json_t *o = webauthn_creation_options_json(&p);
    assert_non_null(o);
    char *text = json_dumps(o, JSON_SORT_KEYS);
    assert_string_equal(
        text, "{\"attestation\": \"none\", \"authenticatorSelection\": {\"requireResidentKey\": "
              "false, \"residentKey\": \"preferred\", \"userVerification\": \"required\"}, "
              "\"challenge\": \"Pj4-Pj4-Pj4-Pj4-Pj4-Pj4-Pj4-Pj4-Pj4-Pj4-Pj4\", "
              "\"excludeCredentials\": [{\"id\": \"AQEBAQEBAQEBAQEBAQEBAQ\", \"transports\": "
              "[\"usb\", \"internal\"], \"type\": \"public-key\"}, {\"id\": "
              "\"_____________________________________________________w\", \"type\": "
              "\"public-key\"}], \"pubKeyCredParams\": [{\"alg\": -7, \"type\": \"public-key\"}, "
              "{\"alg\": -257, \"type\": \"public-key\"}, {\"alg\": -8, \"type\": "
              "\"public-key\"}], \"rp\": {\"id\": \"id.example.com\", \"name\": \"Acme ID\"}, "
              "\"timeout\": 300000, \"user\": {\"displayName\": \"alice\", \"id\": "
              "\"-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s\", \"name\": \"alice\"}}");
    free(text);
    json_decref(o);

    p.user_display_name = "Alice Liddell";
    p.uv = WEBAUTHN_UV_PREFERRED;
    p.exclude_count = 0;
    o = webauthn_creation_options_json(&p);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o, "user"), "displayName")),
        "Alice Liddell");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(o, "authenticatorSelection"), "userVerification")),
                        "preferred");
    assert_int_equal(json_array_size(json_object_get(o, "excludeCredentials")), 0);
    json_decref(o);
    /* A name that is not UTF-8 cannot be JSON. */
    p.user_name = "\xff";
    p.user_display_name = NULL;
    assert_null(webauthn_creation_options_json(&p));
}

static void test_request_options(void **state)
{
    (void)state;
    uint8_t chal[WEBAUTHN_CHALLENGE_LEN], id[3] = {0xfa, 0xfb, 0xfc};
    memset(chal, 0, sizeof(chal));
    struct webauthn_descriptor allow = {id, sizeof(id), WEBAUTHN_TRANSPORT_HYBRID};
    struct webauthn_request_params p = {
        "localhost", chal, sizeof(chal), WEBAUTHN_UV_DISCOURAGED, 60000, &allow, 1};
    json_t *o = webauthn_request_options_json(&p);
    char *text = json_dumps(o, JSON_SORT_KEYS);
    assert_string_equal(text,
                        "{\"allowCredentials\": [{\"id\": \"-vv8\", \"transports\": [\"hybrid\"], "
                        "\"type\": \"public-key\"}], \"challenge\": "
                        "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\", \"rpId\": \"localhost\", "
                        "\"timeout\": 60000, \"userVerification\": \"discouraged\"}");
    free(text);
    json_decref(o);
    p.allow_count = 0; /* a discoverable passkey picks itself */
    o = webauthn_request_options_json(&p);
    assert_int_equal(json_array_size(json_object_get(o, "allowCredentials")), 0);
    json_decref(o);
}

/* ---- the relying party from the public URL ---- */

static void test_rp_from_url(void **state)
{
    (void)state;
    static const struct {
        const char *url, *setting, *rp_id, *origin; /* rp_id NULL: refused */
    } cases[] = {
        {"https://id.example.com", NULL, "id.example.com", "https://id.example.com"},
        {"https://ID.Example.COM:443/otpgate/", NULL, "id.example.com", "https://id.example.com"},
        {"https://id.example.com:8443", NULL, "id.example.com", "https://id.example.com:8443"},
        {"http://localhost:8080", NULL, "localhost", "http://localhost:8080"},
        {"http://localhost", "", "localhost", "http://localhost"},
        {"http://localhost:80/", NULL, "localhost", "http://localhost"},
        {"https://id.example.com", "example.com", "example.com", "https://id.example.com"},
        {"https://id.example.com", "Example.com", "example.com", "https://id.example.com"},
        {"https://id.example.com", "id.example.com", "id.example.com", "https://id.example.com"},
        {"http://127.0.0.1:8080", NULL, NULL, NULL},
        {"https://10.0.0.1", NULL, NULL, NULL},
        {"https://[::1]:8443", NULL, NULL, NULL},
        {"http://example.com", NULL, NULL, NULL},
        {"http://localhost.example.com", NULL, NULL, NULL},
        {"ftp://id.example.com", NULL, NULL, NULL},
        {"https://user:pw@id.example.com", NULL, NULL, NULL},
        {"https://id.example.com:0", NULL, NULL, NULL},
        {"https://id.example.com:99999", NULL, NULL, NULL},
        {"https://id.exa_mple.com", NULL, NULL, NULL},
        {"https://id.example.com.", NULL, NULL, NULL},
        {"https://", NULL, NULL, NULL},
        {"https://id.example.com", "ample.com", NULL, NULL}, /* not on a label boundary */
        {"https://id.example.com", "other.com", NULL, NULL}, /* not a parent */
        {"https://id.example.com", "a.id.example.com", NULL, NULL},
        {"https://id.example.com", "1.2.3.4", NULL, NULL},
        {"http://localhost:8080", "example.com", NULL, NULL},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char rp[WEBAUTHN_RP_ID_MAX + 1], origin[WEBAUTHN_ORIGIN_MAX + 1], why[256] = "";
        int rc = webauthn_rp_from_url(cases[i].url, cases[i].setting, rp, origin, why, sizeof(why));
        if (!cases[i].rp_id) {
            if (rc != OG_ERR_INVALID)
                fail_msg("%s (%s) accepted", cases[i].url, cases[i].setting);
            assert_true(strlen(why) > 20);
            assert_string_equal(rp, "");
            assert_string_equal(origin, "");
            continue;
        }
        if (rc != OG_OK)
            fail_msg("%s refused: %s", cases[i].url, why);
        assert_string_equal(rp, cases[i].rp_id);
        assert_string_equal(origin, cases[i].origin);
    }
    /* The line says what to do about an IP address. */
    char rp[WEBAUTHN_RP_ID_MAX + 1], origin[WEBAUTHN_ORIGIN_MAX + 1], why[256];
    webauthn_rp_from_url("http://127.0.0.1:8080", NULL, rp, origin, why, sizeof(why));
    assert_non_null(strstr(why, "IP address"));
    webauthn_rp_from_url("http://otpgate.internal", NULL, rp, origin, why, sizeof(why));
    assert_non_null(strstr(why, "https"));
}

static void test_names(void **state)
{
    (void)state;
    for (int i = WEBAUTHN_OK; i <= WEBAUTHN_ERR_INTERNAL; i++) {
        const char *code = webauthn_result_code((enum webauthn_result)i);
        assert_true(strlen(webauthn_result_text((enum webauthn_result)i)) > 3);
        for (int j = WEBAUTHN_OK; j < i; j++)
            assert_string_not_equal(code, webauthn_result_code((enum webauthn_result)j));
    }
    enum webauthn_uv uv;
    for (int i = WEBAUTHN_UV_REQUIRED; i <= WEBAUTHN_UV_DISCOURAGED; i++) {
        assert_int_equal(webauthn_uv_parse(webauthn_uv_name((enum webauthn_uv)i), &uv), OG_OK);
        assert_int_equal(uv, i);
    }
    assert_int_equal(webauthn_uv_parse("Required", &uv), OG_ERR_INVALID);
    char list[128];
    assert_int_equal(webauthn_transports_format(0x3f, list, sizeof(list)), 38);
    assert_string_equal(list, "usb,nfc,ble,smart-card,hybrid,internal");
    assert_int_equal(webauthn_transports_parse(list), 0x3f);
    assert_int_equal(webauthn_transports_parse("internal,,pigeon,usb"),
                     WEBAUTHN_TRANSPORT_INTERNAL | WEBAUTHN_TRANSPORT_USB);
    assert_int_equal(webauthn_transports_format(0x3f, list, 10), OG_ERR_TOO_BIG);
    assert_string_equal(list, "");
}

static int free_sets(void **state)
{
    (void)state;
    json_decref(sets[0]);
    json_decref(sets[1]);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chromium_recordings),
        cmocka_unit_test(test_software_recordings),
        cmocka_unit_test(test_recordings_cover_algorithms_and_formats),
        cmocka_unit_test(test_refuse_wrong_challenge),
        cmocka_unit_test(test_refuse_wrong_origin),
        cmocka_unit_test(test_refuse_wrong_rp_id),
        cmocka_unit_test(test_refuse_wrong_type),
        cmocka_unit_test(test_refuse_cross_origin),
        cmocka_unit_test(test_refuse_tampered_authenticator_data),
        cmocka_unit_test(test_refuse_tampered_signature),
        cmocka_unit_test(test_refuse_sign_count),
        cmocka_unit_test(test_refuse_backup_eligibility_flipped),
        cmocka_unit_test(test_refuse_user_presence_missing),
        cmocka_unit_test(test_refuse_user_verification_missing),
        cmocka_unit_test(test_refuse_credential_and_user_handle),
        cmocka_unit_test(test_refuse_attestation),
        cmocka_unit_test(test_refuse_attestation_format),
        cmocka_unit_test(test_attestation_object_shapes),
        cmocka_unit_test(test_auth_data_parse),
        cmocka_unit_test(test_cose_keys),
        cmocka_unit_test(test_client_data),
        cmocka_unit_test(test_response_json),
        cmocka_unit_test(test_creation_options),
        cmocka_unit_test(test_request_options),
        cmocka_unit_test(test_rp_from_url),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, free_sets);
}
