/* OpenID Connect endpoints. /authorize trusts nothing until the redirect
 * URI is an exact registered one (errors before that are a page, after it
 * go back per RFC 6749 §4.1.2.1), and names a user only through a request
 * object the app signed (RFC 9101, HS256 with its secret, 5 minutes, jti
 * once), whose values alone count: the query's copies are never read.
 * /token consumes a code once (durably, in the group commit), checks PKCE
 * S256 and answers an ES256 id_token. Codes and tokens are stored only
 * as hashes; none is ever logged. */
#include "gateway/oidc.h"

#include "core/apps.h"
#include "core/authcodes.h"
#include "core/gate.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/mfa.h"
#include "core/sessions.h"
#include "core/signing_keys.h"
#include "gateway/pages.h"
#include "gateway/server.h"
#include "gateway/http/urlcodec.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void respond_json(struct http_request *req, int status, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    http_header_add(req, "Cache-Control", "no-store");
    http_respond(req, status, "application/json", s, strlen(s));
    free(s);
}

static char *endpoint(const struct server *s, const char *path)
{
    size_t n = strlen(s->cfg->public_url) + strlen(path) + 1;
    char *u = og_malloc(n);
    snprintf(u, n, "%s%s", s->cfg->public_url, path);
    return u;
}

void oidc_discovery(struct http_request *req)
{
    struct server *s = req->srv;
    char *auth = endpoint(s, "/authorize"), *token = endpoint(s, "/token"),
         *jwks = endpoint(s, "/jwks.json"), *userinfo = endpoint(s, "/userinfo");
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s], s:[s], s:[s, s], s:[s], s:[s], s:b, "
        "s:b, s:[s], s:[s, s, s, s, s, s, s, s, s], s:[s, s], s:b, s:[s], s:[s, s, s, s], s:b}",
        "issuer", s->cfg->public_url, "authorization_endpoint", auth, "token_endpoint", token,
        "jwks_uri", jwks, "userinfo_endpoint", userinfo, "response_types_supported", "code",
        "response_modes_supported", "query", "grant_types_supported", "authorization_code",
        "subject_types_supported", "public", "token_endpoint_auth_methods_supported",
        "client_secret_basic", "client_secret_post", "id_token_signing_alg_values_supported",
        "ES256", "code_challenge_methods_supported", "S256", "request_parameter_supported", 1,
        "request_uri_parameter_supported", 0, "request_object_signing_alg_values_supported",
        "HS256", "claims_supported", "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr",
        "acr", "ui_locales_supported", "en", "zh-CN",
        "authorization_response_iss_parameter_supported", 1, "scopes_supported", "openid",
        "acr_values_supported", GATE_ACR_PHR, GATE_ACR_MFA, GATE_ACR_REMEMBERED, GATE_ACR_NONE,
        "require_request_uri_registration", 0);
    free(auth);
    free(token);
    free(jwks);
    free(userinfo);
    http_header_add(req, "Access-Control-Allow-Origin", "*");
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    http_header_add(req, "Cache-Control", "public, max-age=300");
    http_respond(req, 200, "application/json", text, strlen(text));
    free(text);
}

void oidc_jwks(struct http_request *req)
{
    char *jwks = signing_keys_jwks(server_db(req->srv), server_now_ms());
    if (!jwks) {
        http_respond_error_json(req, 503, "temporarily_unavailable", "no signing key yet");
        return;
    }
    http_header_add(req, "Access-Control-Allow-Origin", "*");
    http_header_add(req, "Cache-Control", "public, max-age=300");
    http_respond(req, 200, "application/jwk-set+json", jwks, strlen(jwks));
    free(jwks);
}

/* ---- /authorize ------------------------------------------------------- */

static const char *param(struct http_request *req, const struct kv_list *q, const char *key)
{
    struct span v;
    if (!kv_get(q, key, &v))
        return NULL;
    return arena_strndup(&req->arena, v.p, v.len);
}

/* Before the redirect URI is trusted: a plain page, never a redirect. */
static void authorize_page_error(struct http_request *req, const char *what)
{
    log_info("authorize refused", "reason", what, "ip", req->client_ip);
    http_page_headers(req);
    struct buf b;
    buf_init(&b, 8192);
    buf_append_str(&b, "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                       "<title>Sign-in request refused</title>"
                       "<link rel=\"stylesheet\" href=\"/static/css/otpgate.css\"></head>\n"
                       "<body><main class=\"card\"><h1>Sign-in request refused</h1><p>");
    for (const char *c = what; *c; c++) {
        if (*c == '<')
            buf_append_str(&b, "&lt;");
        else if (*c == '&')
            buf_append_str(&b, "&amp;");
        else
            buf_append(&b, c, 1);
    }
    buf_append_str(&b, "</p><p>Go back to the application and try again.</p></main></body>"
                       "</html>\n");
    http_respond(req, 400, "text/html; charset=utf-8", b.data, b.len);
    buf_free(&b);
}

/* After the redirect URI is trusted: back to the app per RFC 6749 §4.1.2.1. */
static void authorize_redirect_error(struct http_request *req, const char *redirect_uri,
                                     const char *error, const char *description, const char *state)
{
    log_info("authorize refused", "error", error, "reason", description, "ip", req->client_ip);
    struct buf b;
    buf_init(&b, 8192);
    buf_append_str(&b, redirect_uri);
    url_append_param(&b, "error", error);
    url_append_param(&b, "error_description", description);
    if (state)
        url_append_param(&b, "state", state);
    url_append_param(&b, "iss", req->srv->cfg->public_url);
    http_header_add(req, "Location", b.data);
    http_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 303, NULL, NULL, 0);
    buf_free(&b);
}

static bool scope_has_openid(const char *scope)
{
    for (const char *p = scope; p && *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 6 && strncmp(p, "openid", 6) == 0)
            return true;
        p += n;
    }
    return false;
}

static bool aud_matches(const json_t *aud, const char *issuer)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), issuer) == 0;
    if (json_is_array(aud)) {
        size_t i;
        json_t *v;
        json_array_foreach(aud, i, v) if (json_is_string(v) &&
                                          strcmp(json_string_value(v), issuer) == 0) return true;
    }
    return false;
}

/* A string value of the verified request object, or NULL. RFC 9101 §6.3:
 * only the object's values count; the query's copies are never read. */
static const char *signed_value(struct http_request *req, const json_t *claims, const char *key)
{
    const char *v = json_string_value(json_object_get(claims, key));
    return v ? arena_strndup(&req->arena, v, strlen(v)) : NULL;
}

/* The values a request object must carry; "the request object must carry
 * X" names the first one missing, or NULL. */
static const char *missing_value(const json_t *claims)
{
    static const char *const required[][2] = {
        {"client_id", "the request object must carry client_id"},
        {"response_type", "the request object must carry response_type"},
        {"redirect_uri", "the request object must carry redirect_uri"},
        {"scope", "the request object must carry scope"},
        {"code_challenge", "the request object must carry code_challenge"},
        {"code_challenge_method", "the request object must carry code_challenge_method"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(required); i++)
        if (!json_is_string(json_object_get(claims, required[i][0])))
            return required[i][1];
    return NULL;
}

/* Whether the space-separated prompt list holds word. */
static bool prompt_has(const char *prompt, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = prompt; p && *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len == n && strncmp(p, word, n) == 0)
            return true;
        p += len;
    }
    return false;
}

bool oidc_acr_values_phr(const char *acr_values)
{
    /* A weaker value the app also accepts (in order of preference, OIDC
     * Core §3.1.2.1) leaves the passkey a preference, not a requirement. */
    return prompt_has(acr_values, GATE_ACR_PHR) && !prompt_has(acr_values, GATE_ACR_MFA) &&
           !prompt_has(acr_values, GATE_ACR_NONE) && !prompt_has(acr_values, GATE_ACR_REMEMBERED);
}

void oidc_authorize(struct http_request *req)
{
    struct server *s = req->srv;
    struct kv_list q = {0};
    if (req->query.p && form_parse(&req->arena, req->query, 64, &q) != OG_OK) {
        authorize_page_error(req, "The request is malformed.");
        return;
    }
    const char *client_id = param(req, &q, "client_id");
    const char *redirect_uri = param(req, &q, "redirect_uri");
    struct app app;
    if (!client_id || strlen(client_id) >= 32 || apps_get(server_db(s), client_id, &app) != OG_OK) {
        authorize_page_error(req, "The application is not known here.");
        return;
    }
    bool registered = false;
    for (size_t i = 0; redirect_uri && i < app.redirect_count; i++)
        if (strcmp(app.redirect_uris[i], redirect_uri) == 0)
            registered = true;
    apps_free(&app);
    if (!registered) {
        authorize_page_error(req, "The redirect URI is not registered for this application.");
        return;
    }
    const char *state = param(req, &q, "state");
    const char *response_type = param(req, &q, "response_type");
    if (!response_type || strcmp(response_type, "code") != 0) {
        authorize_redirect_error(req, redirect_uri, "unsupported_response_type",
                                 "only response_type=code is supported", state);
        return;
    }
    const char *request = param(req, &q, "request");
    if (param(req, &q, "request_uri")) {
        authorize_redirect_error(req, redirect_uri, "request_uri_not_supported",
                                 "send the request object by value", state);
        return;
    }
    if (!request) {
        authorize_redirect_error(req, redirect_uri, "invalid_request",
                                 "a request object signed with the client secret is required",
                                 state);
        return;
    }
    char *secret = NULL;
    json_t *claims = NULL;
    const char *why = NULL;
    if (apps_secret(server_db(s), &s->keys, client_id, &secret) != OG_OK ||
        jwt_hs256_verify(request, (const uint8_t *)secret, strlen(secret), &claims) != OG_OK)
        why = "the request object is not signed with the client secret (HS256)";
    if (secret) {
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
    }
    /* From here on the object is the app's: the state echoed in errors is
     * the signed one (before, the query's, RFC 6749 §4.1.2.1). */
    if (!why)
        state = signed_value(req, claims, "state");
    int64_t now = server_now_ms();
    const char *twhy = NULL;
    if (!why && jwt_check_times(claims, now / 1000, OIDC_REQUEST_MAX_AGE_S, 30, &twhy) != OG_OK)
        why = twhy ? twhy : "the request object has expired";
    if (!why && !jwt_check_lifetime(claims, OIDC_REQUEST_MAX_LIFETIME_S + 2 /* clock slack */))
        why = "the request object's exp is more than 5 minutes after its iat";
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    if (!why && (!iss || strcmp(iss, client_id) != 0))
        why = "the request object's iss must be the client_id";
    if (!why && !aud_matches(json_object_get(claims, "aud"), s->cfg->public_url))
        why = "the request object's aud must be the issuer";
    if (!why)
        why = missing_value(claims);
    const char *cid = json_string_value(json_object_get(claims, "client_id"));
    if (!why && strcmp(cid, client_id) != 0)
        why = "client_id differs between the query and the request object";
    const char *rt = json_string_value(json_object_get(claims, "response_type"));
    if (!why && strcmp(rt, "code") != 0)
        why = "response_type differs between the query and the request object";
    const char *ru = json_string_value(json_object_get(claims, "redirect_uri"));
    if (!why && strcmp(ru, redirect_uri) != 0)
        why = "redirect_uri differs between the query and the request object";
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    if (!why && (!jti || !jti[0] || strlen(jti) > 200))
        why = "the request object needs a jti";
    if (!why && sessions_jti_use(server_db(s), client_id, jti,
                                 now + (int64_t)OIDC_REQUEST_MAX_AGE_S * 2000) != OG_OK)
        why = "the request object was used before";
    if (why) {
        json_decref(claims);
        authorize_redirect_error(req, redirect_uri, "invalid_request_object", why, state);
        return;
    }
    /* RFC 9101 §6.3: only the signed values count. */
    const char *scope = signed_value(req, claims, "scope");
    const char *nonce = signed_value(req, claims, "nonce");
    const char *challenge = signed_value(req, claims, "code_challenge");
    const char *method = signed_value(req, claims, "code_challenge_method");
    const char *prompt = signed_value(req, claims, "prompt");
    const char *ui_locales = signed_value(req, claims, "ui_locales");
    const char *acr_values = signed_value(req, claims, "acr_values");
    const char *user = json_string_value(json_object_get(claims, "login_hint"));
    if (!user)
        user = json_string_value(json_object_get(claims, "sub"));
    json_t *max_age = json_object_get(claims, "max_age");
    const char *error = NULL, *desc = NULL;
    if (!scope_has_openid(scope)) {
        error = "invalid_scope";
        desc = "scope must contain openid";
    } else if (!challenge || !method || strcmp(method, "S256") != 0 || strlen(challenge) < 43 ||
               strlen(challenge) > 128) {
        error = "invalid_request";
        desc = "PKCE with code_challenge_method=S256 is required";
    } else if (!user || !user[0] || strlen(user) > 255) {
        error = "invalid_request";
        desc = "the request object must name the user in login_hint or sub";
    } else if (prompt_has(prompt, "none")) {
        error = "interaction_required";
        desc = "a second factor always needs the user";
    } else if (max_age && (!json_is_integer(max_age) || json_integer_value(max_age) < 0)) {
        error = "invalid_request";
        desc = "max_age must be a whole number of seconds";
    } else if (nonce && strlen(nonce) > 255) {
        error = "invalid_request";
        desc = "nonce is too long";
    }
    if (error) {
        json_decref(claims);
        authorize_redirect_error(req, redirect_uri, error, desc, state);
        return;
    }
    json_t *flow = json_pack("{s:b, s:s, s:s, s:s?}", "oidc", 1, "code_challenge", challenge,
                             "scope", scope, "nonce", nonce);
    /* OIDC Core §3.1.2.1: how fresh the second step must be. */
    if (max_age)
        json_object_set_new(flow, "max_age", json_integer(json_integer_value(max_age)));
    if (prompt_has(prompt, "login"))
        json_object_set_new(flow, "prompt_login", json_true());
    /* acr_values=phr: only a passkey passes the second step. */
    if (oidc_acr_values_phr(acr_values))
        json_object_set_new(flow, "acr_values_phr", json_true());
    const char *prefill[] = {"email", "phone_number", "name"};
    for (size_t i = 0; i < ARRAY_SIZE(prefill); i++) {
        const char *v = json_string_value(json_object_get(claims, prefill[i]));
        if (v && strlen(v) < 256)
            json_object_set_new(flow, prefill[i], json_string(v));
    }
    char *flow_text = json_dumps(flow, JSON_COMPACT);
    json_decref(flow);
    bool manage = prompt_has(prompt, "manage");
    char *user_copy = og_strdup(user);
    json_decref(claims);
    pages_begin(req, client_id, user_copy, manage ? "manage" : "login", redirect_uri, state,
                ui_locales, flow_text);
    free(user_copy);
    free(flow_text);
}

/* ---- /token ----------------------------------------------------------- */

static void token_error(struct http_request *req, int status, const char *error,
                        const char *description, bool in_batch)
{
    json_t *o = json_pack("{s:s, s:s}", "error", error, "error_description", description);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (status == 401)
        http_header_add(req, "WWW-Authenticate", "Basic realm=\"otpgate\"");
    http_header_add(req, "Cache-Control", "no-store");
    if (in_batch) {
        batch_request_end(req->srv, true);
        batch_answer(req->srv, req, status, "application/json", text, strlen(text));
        return;
    }
    http_respond(req, status, "application/json", text, strlen(text));
    free(text);
}

/* Client credentials from HTTP Basic (form-encoded parts, RFC 6749 §2.3.1)
 * or from the body (client_secret_post), never both. */
static bool client_credentials(struct http_request *req, const struct kv_list *form,
                               const char **id, const char **secret)
{
    struct span h;
    const char *body_id = param(req, form, "client_id");
    const char *body_secret = param(req, form, "client_secret");
    if (http_header_get(req, "Authorization", &h) && h.len > 6 &&
        span_eq_nocase(span_make(h.p, 6), SPAN_LIT("Basic "))) {
        if (body_secret)
            return false;
        size_t n = h.len - 6;
        unsigned char *raw = arena_alloc(&req->arena, n + 1);
        int len = EVP_DecodeBlock(raw, (const unsigned char *)h.p + 6, (int)n);
        if (len < 0 || n % 4)
            return false;
        if (n >= 1 && h.p[h.len - 1] == '=')
            len--;
        if (n >= 2 && h.p[h.len - 2] == '=')
            len--;
        const char *colon = memchr(raw, ':', (size_t)len);
        if (!colon)
            return false;
        struct span a, b;
        size_t idlen = (size_t)(colon - (const char *)raw);
        if (url_decode(&req->arena, span_make((const char *)raw, idlen), true, &a) != OG_OK ||
            url_decode(&req->arena, span_make(colon + 1, (size_t)len - idlen - 1), true, &b) !=
                OG_OK)
            return false;
        *id = a.p;
        *secret = b.p;
        return true;
    }
    *id = body_id;
    *secret = body_secret;
    return body_id && body_secret;
}

static bool pkce_ok(const char *verifier, const char *challenge)
{
    size_t n = verifier ? strlen(verifier) : 0;
    if (n < 43 || n > 128)
        return false;
    for (const char *c = verifier; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '.' || *c == '_' || *c == '~'))
            return false;
    uint8_t h[32];
    SHA256((const unsigned char *)verifier, n, h);
    char *want = b64url_encode(h, sizeof(h));
    bool ok =
        strlen(want) == strlen(challenge) && CRYPTO_memcmp(want, challenge, strlen(want)) == 0;
    free(want);
    return ok;
}

void oidc_token(struct http_request *req)
{
    struct server *s = req->srv;
    struct kv_list form = {0};
    struct span ct;
    if (!http_header_get(req, "Content-Type", &ct) ||
        !span_starts_with(ct, "application/x-www-form-urlencoded") ||
        form_parse(&req->arena, span_make(req->body.data ? req->body.data : "", req->body.len), 32,
                   &form) != OG_OK) {
        token_error(req, 400, "invalid_request", "send a form-encoded body", false);
        return;
    }
    const char *client_id = NULL, *secret = NULL;
    if (!client_credentials(req, &form, &client_id, &secret) ||
        !apps_check_secret(server_db(s), &s->keys, client_id, secret, strlen(secret))) {
        token_error(req, 401, "invalid_client", "client authentication failed", false);
        return;
    }
    const char *grant = param(req, &form, "grant_type");
    if (!grant || strcmp(grant, "authorization_code") != 0) {
        token_error(req, 400, "unsupported_grant_type", "only authorization_code", false);
        return;
    }
    const char *code = param(req, &form, "code");
    const char *redirect_uri = param(req, &form, "redirect_uri");
    const char *verifier = param(req, &form, "code_verifier");
    if (!code || !redirect_uri || strlen(code) > 128) {
        token_error(req, 400, "invalid_request", "code and redirect_uri are required", false);
        return;
    }
    if (batch_request_begin(s) != OG_OK) {
        token_error(req, 503, "temporarily_unavailable", "the database is busy", false);
        return;
    }
    int64_t now = server_now_ms();
    struct authcode c;
    int rc = authcodes_consume(server_db(s), code, client_id, now, &c);
    if (rc == OG_ERR_EXISTS) {
        /* A second use is refused and logged; it revokes nothing. */
        log_warn("authorization code used twice", "app", client_id, "ip", req->client_ip);
        token_error(req, 400, "invalid_grant", "the code was already used", true);
        return;
    }
    if (rc != OG_OK) {
        token_error(req, 400, "invalid_grant",
                    rc == OG_ERR_PERM ? "the code was issued to another client"
                                      : "the code is unknown or expired",
                    true);
        return;
    }
    if (strcmp(c.redirect_uri, redirect_uri) != 0) {
        token_error(req, 400, "invalid_grant", "redirect_uri does not match", true);
        return;
    }
    if (!pkce_ok(verifier, c.code_challenge)) {
        token_error(req, 400, "invalid_grant", "the PKCE code_verifier does not match", true);
        return;
    }
    char kid[JWT_KID_LEN];
    EVP_PKEY *key = signing_keys_active(server_db(s), &s->keys, kid, sizeof(kid));
    json_error_t jerr;
    json_t *amr = json_loads(c.amr[0] ? c.amr : "[]", 0, &jerr);
    json_t *claims =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "iss", s->cfg->public_url, "sub",
                  c.sub, "aud", client_id, "iat", (json_int_t)(now / 1000), "exp",
                  (json_int_t)(now / 1000 + OIDC_ID_TOKEN_TTL_S), "auth_time",
                  (json_int_t)c.auth_time, "acr", c.acr, "azp", client_id);
    if (c.nonce[0])
        json_object_set_new(claims, "nonce", json_string(c.nonce));
    if (amr && json_array_size(amr) > 0)
        json_object_set(claims, "amr", amr);
    json_decref(amr);
    char *id_token = key ? jwt_es256_sign(claims, key, kid) : NULL;
    json_decref(claims);
    EVP_PKEY_free(key);
    char access[64];
    if (!id_token ||
        authcodes_token_create(server_db(s), client_id, c.sub, c.scope, now,
                               OIDC_ACCESS_TOKEN_TTL_MS, access, sizeof(access)) != OG_OK) {
        free(id_token);
        batch_request_end(s, false);
        token_error(req, 500, "server_error", "the token could not be made", false);
        return;
    }
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s}", "access_token", access, "token_type",
                          "Bearer", "expires_in", (int)(OIDC_ACCESS_TOKEN_TTL_MS / 1000),
                          "id_token", id_token, "scope", c.scope);
    OPENSSL_cleanse(access, sizeof(access));
    free(id_token);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    /* The caller is the app's server: its address is not the user's. */
    struct mfa_ctx actx = {.store = server_db(s), .app_id = client_id, .now_ms = now};
    audit_log(&actx, c.sub, "token_issued", NULL, NULL);
    http_header_add(req, "Cache-Control", "no-store");
    http_header_add(req, "Pragma", "no-cache");
    batch_request_end(s, true);
    batch_answer(s, req, 200, "application/json", text, strlen(text));
}

void oidc_userinfo(struct http_request *req)
{
    struct span h;
    char app_id[32], sub[256];
    if (!http_header_get(req, "Authorization", &h) || h.len < 8 ||
        !span_eq_nocase(span_make(h.p, 7), SPAN_LIT("Bearer ")) || h.len - 7 > 128) {
        http_header_add(req, "WWW-Authenticate", "Bearer");
        respond_json(req, 401, json_pack("{s:s}", "error", "invalid_token"));
        return;
    }
    char *token = arena_strndup(&req->arena, h.p + 7, h.len - 7);
    if (authcodes_token_lookup(server_db(req->srv), token, server_now_ms(), app_id, sizeof(app_id),
                               sub, sizeof(sub)) != OG_OK) {
        http_header_add(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        respond_json(req, 401, json_pack("{s:s}", "error", "invalid_token"));
        return;
    }
    respond_json(req, 200, json_pack("{s:s}", "sub", sub));
}
