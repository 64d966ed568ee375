/* The apps' JSON API under /api/v1/ (SPEC §6): client authentication with
 * HTTP Basic, JSON in and out, and the mapping of domain outcomes to
 * statuses. Every request's writes join the iteration's group commit and
 * its answer waits for that commit. Never echoes a code or a secret. */
#include "gateway/api.h"

#include "core/apps.h"
#include "core/contact.h"
#include "core/devices.h"
#include "core/gate.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/mfa.h"
#include "core/recovery.h"
#include "core/sessions.h"
#include "core/webauthn_ceremony.h"
#include "gateway/appcache.h"
#include "gateway/server.h"
#include "gateway/http/urlcodec.h"
#include "ui/messages.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <arpa/inet.h>

/* Bytes of a user_agent an app may pass. */
#define API_USER_AGENT_MAX 512

struct api {
    struct http_request *req;
    struct server *srv;
    struct mfa_ctx ctx;
    struct policy pol;
    char app_id[MFA_ID_LEN];
    char app_name[128];
    char webhook_url[APPS_URI_MAX + 1]; /* the app's, from the app cache */
    json_t *body;
    const char *sub;
    bool in_batch;
    bool undo; /* a refusal that must leave nothing behind: roll back */
};

/* ---- answers ---------------------------------------------------------- */

/* Ends the request's part of the batch and queues the answer; takes s
 * (malloc'd JSON text of len bytes, or NULL for none). */
static void api_send_text(struct api *a, int status, char *s, size_t len)
{
    if (a->in_batch) {
        batch_request_end(a->srv, !a->undo);
        a->in_batch = false;
    }
    json_decref(a->body);
    a->body = NULL;
    batch_answer(a->srv, a->req, status, "application/json", s, len);
}

static void api_send(struct api *a, int status, json_t *answer)
{
    char *s = NULL;
    size_t len = 0;
    if (answer) {
        s = json_dumps(answer, JSON_COMPACT);
        len = s ? strlen(s) : 0;
        json_decref(answer);
    }
    api_send_text(a, status, s, len);
}

/* The frequent answers (errors and the code checks' results) written
 * straight as text instead of packing a jansson tree and dumping it: the
 * same bytes json_dumps(JSON_COMPACT) makes of the json_pack each replaces
 * (members in the order given, compact separators, integers in decimal).
 * A string goes in only when it needs no escaping (printable ASCII but "
 * and \); anything else marks the writer failed and the caller answers
 * through jansson as before. */
struct jw {
    char text[512];
    size_t len;
    bool failed;
};

static void jw_raw(struct jw *w, const char *p, size_t n)
{
    if (w->failed || n > sizeof(w->text) - w->len) {
        w->failed = true;
        return;
    }
    memcpy(w->text + w->len, p, n);
    w->len += n;
}

static void jw_str(struct jw *w, const char *v)
{
    size_t n = 0;
    for (; v[n]; n++) {
        unsigned char ch = (unsigned char)v[n];
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
            w->failed = true;
            return;
        }
    }
    jw_raw(w, "\"", 1);
    jw_raw(w, v, n);
    jw_raw(w, "\"", 1);
}

/* Opens the object with its first key, or adds a later one. */
static void jw_key(struct jw *w, const char *key)
{
    jw_raw(w, w->len == 0 ? "{" : ",", 1);
    jw_str(w, key);
    jw_raw(w, ":", 1);
}

static void jw_int(struct jw *w, int64_t v)
{
    char digits[24];
    size_t n = sizeof(digits);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        digits[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        digits[--n] = '-';
    jw_raw(w, digits + n, sizeof(digits) - n);
}

/* Closes the object and sends it; false (nothing sent) if the writer failed. */
static bool jw_send(struct api *a, int status, struct jw *w)
{
    jw_raw(w, "}", 1);
    if (w->failed)
        return false;
    char *s = og_malloc(w->len + 1);
    memcpy(s, w->text, w->len);
    s[w->len] = '\0';
    api_send_text(a, status, s, w->len);
    return true;
}

static void api_error_extra(struct api *a, int status, const char *code, const char *message,
                            json_t *extra)
{
    if (!extra) {
        struct jw w = {.len = 0};
        jw_key(&w, "error");
        jw_str(&w, code);
        jw_key(&w, "message");
        jw_str(&w, message);
        if (jw_send(a, status, &w))
            return;
    }
    json_t *o = json_pack("{s:s, s:s}", "error", code, "message", message);
    if (extra) {
        json_object_update(o, extra);
        json_decref(extra);
    }
    api_send(a, status, o);
}

static void api_error(struct api *a, int status, const char *code, const char *message)
{
    api_error_extra(a, status, code, message, NULL);
}

static void set_retry_after(struct api *a, int64_t seconds)
{
    char v[24];
    snprintf(v, sizeof(v), "%lld", (long long)(seconds > 0 ? seconds : 1));
    http_header_add(a->req, "Retry-After", v);
}

static void iso_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *json_time(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char s[32];
    iso_time(ms, s);
    return json_string(s);
}

static void count_refusal(struct api *a, const char *kind)
{
    char labels[64];
    snprintf(labels, sizeof(labels), "limit=\"%s\"", kind);
    metrics_count(&a->srv->metrics, "otpgate_rate_limit_refusals_total",
                  "Requests refused by a rate limit, lockout wait or the SMS guard, by kind.",
                  labels, 1);
}

/* Answers a domain outcome that is not a success. */
static void api_outcome(struct api *a, enum mfa_result r, const struct mfa_outcome *o)
{
    switch (r) {
    case MFA_OK:
        api_error(a, 500, "internal_error", "unexpected outcome");
        return;
    case MFA_WRONG_CODE: {
        bool attempts = o->attempts_left >= 0 && o->factor_id[0] && o->type != FACTOR_TOTP;
        struct jw w = {.len = 0};
        jw_key(&w, "error");
        jw_str(&w, "invalid_code");
        jw_key(&w, "message");
        jw_str(&w, "the code is not right");
        if (attempts) {
            jw_key(&w, "attempts_left");
            jw_int(&w, o->attempts_left);
        }
        if (o->retry_after > 0) {
            jw_key(&w, "retry_after");
            jw_int(&w, o->retry_after);
        }
        if (jw_send(a, 422, &w))
            return;
        json_t *extra = json_object();
        if (attempts)
            json_object_set_new(extra, "attempts_left", json_integer(o->attempts_left));
        if (o->retry_after > 0)
            json_object_set_new(extra, "retry_after", json_integer(o->retry_after));
        api_error_extra(a, 422, "invalid_code", "the code is not right", extra);
        return;
    }
    case MFA_EXPIRED:
        api_error(a, 410, "expired", "the code has expired; ask for a new one");
        return;
    case MFA_NO_ATTEMPTS:
        api_error(a, 410, "no_attempts_left", "too many wrong codes; ask for a new one");
        return;
    case MFA_DONE:
        api_error(a, 410, "already_used", "this challenge was already passed");
        return;
    case MFA_WAIT:
        count_refusal(a, "lockout_wait");
        set_retry_after(a, o->retry_after);
        api_error_extra(a, 429, "too_many_attempts", "too many wrong codes; wait and try again",
                        json_pack("{s:I}", "retry_after", (json_int_t)o->retry_after));
        return;
    case MFA_LIMITED:
        count_refusal(a, o->limit ? o->limit : "resend_cooldown");
        set_retry_after(a, o->retry_after);
        api_error_extra(a, 429, "rate_limited", "too many codes sent; wait and try again",
                        json_pack("{s:I}", "retry_after", (json_int_t)o->retry_after));
        return;
    case MFA_LOCKED: {
        char at[32];
        iso_time(o->locked_at, at);
        api_error_extra(a, 423, "user_locked",
                        "locked after too many wrong codes: a recovery code or an admin unlocks",
                        json_pack("{s:s, s:n}", "locked_at", at, "locked_until"));
        return;
    }
    case MFA_NOT_FOUND:
        api_error(a, 404, "not_found", "no such factor or challenge");
        return;
    case MFA_CONFLICT:
        api_error(a, 409, "conflict", "that is already in place");
        return;
    case MFA_INVALID:
        api_error(a, 400, "invalid_request", "the request is not valid");
        return;
    case MFA_NOT_ALLOWED:
        api_error(a, 403, "factor_not_allowed", "the policy does not allow this factor type");
        return;
    case MFA_COUNTRY:
        count_refusal(a, "sms_country");
        api_error(a, 422, "country_not_allowed", "SMS to this country is not allowed");
        return;
    case MFA_ERROR:
        break;
    }
    if (a->in_batch) {
        batch_request_end(a->srv, false);
        a->in_batch = false;
    }
    api_error(a, 500, "internal_error", "the request could not be completed");
}

/* ---- request intake --------------------------------------------------- */

/* Parses "Basic base64(id:secret)"; id and secret are form-encoded per
 * RFC 6749 §2.3.1. */
static bool basic_credentials(struct http_request *req, struct span *id, struct span *secret)
{
    struct span h;
    if (!http_header_get(req, "Authorization", &h) || h.len < 7 || h.len > 1024 ||
        !span_eq_nocase(span_make(h.p, 6), SPAN_LIT("Basic ")))
        return false;
    struct span b64 = span_make(h.p + 6, h.len - 6);
    while (b64.len && b64.p[0] == ' ')
        b64 = span_make(b64.p + 1, b64.len - 1);
    if (b64.len == 0 || b64.len % 4 != 0)
        return false;
    unsigned char *raw = arena_alloc(&req->arena, b64.len + 1);
    int n = EVP_DecodeBlock(raw, (const unsigned char *)b64.p, (int)b64.len);
    if (n < 0)
        return false;
    if (b64.len >= 1 && b64.p[b64.len - 1] == '=')
        n--;
    if (b64.len >= 2 && b64.p[b64.len - 2] == '=')
        n--;
    const char *colon = memchr(raw, ':', (size_t)n);
    if (!colon)
        return false;
    size_t idlen = (size_t)(colon - (const char *)raw);
    if (url_decode(&req->arena, span_make((const char *)raw, idlen), true, id) != OG_OK ||
        url_decode(&req->arena, span_make(colon + 1, (size_t)n - idlen - 1), true, secret) != OG_OK)
        return false;
    return id->len > 0 && id->len < MFA_ID_LEN && secret->len > 0;
}

static bool sub_valid(struct span s)
{
    if (s.len == 0 || s.len > MFA_SUB_MAX)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.p[i] < 0x20 || s.p[i] == 0x7f)
            return false;
    return true;
}

/* True for "application/json" with any parameters, in any case. */
static bool media_type_is_json(struct span ct)
{
    size_t n = 0;
    while (n < ct.len && ct.p[n] != ';')
        n++;
    while (n > 0 && (ct.p[n - 1] == ' ' || ct.p[n - 1] == '\t'))
        n--;
    size_t start = 0;
    while (start < n && (ct.p[start] == ' ' || ct.p[start] == '\t'))
        start++;
    return span_eq_nocase(span_make(ct.p + start, n - start), SPAN_LIT("application/json"));
}

/* The end user's address as the app saw it, in one canonical text form
 * (an IPv4-mapped IPv6 address as IPv4), so that spellings of one address
 * share one per-IP count. False for anything but an IPv4 or IPv6 address. */
static bool client_ip_canonical(const char *in, size_t len, char *out, size_t outlen)
{
    unsigned char a[16];
    if (len == 0 || len != strlen(in) || len >= INET6_ADDRSTRLEN)
        return false;
    if (inet_pton(AF_INET, in, a) == 1)
        return inet_ntop(AF_INET, a, out, (socklen_t)outlen) != NULL;
    if (inet_pton(AF_INET6, in, a) != 1)
        return false;
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0)
        return inet_ntop(AF_INET, a + 12, out, (socklen_t)outlen) != NULL;
    return inet_ntop(AF_INET6, a, out, (socklen_t)outlen) != NULL;
}

/* A user agent to keep in the audit: 1..API_USER_AGENT_MAX bytes of UTF-8
 * (jansson checked it) without control characters (C0, DEL, C1). */
static bool user_agent_ok(const char *s, size_t len)
{
    if (len == 0 || len > API_USER_AGENT_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return false;
        /* U+0080..U+009F are C2 80..C2 9F */
        if (ch == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] < 0xa0)
            return false;
    }
    return true;
}

/* The body's optional "client_ip" and "user_agent" (SPEC §6): the end
 * user's, for the per-IP send cap and the audit. Without them the context
 * has none: the calling app server's own address never stands in for its
 * users'. On false a 400 has been sent. */
static bool api_read_client(struct api *a)
{
    json_t *ip = json_object_get(a->body, "client_ip");
    if (ip && !json_is_null(ip)) {
        char text[INET6_ADDRSTRLEN];
        if (!json_is_string(ip) ||
            !client_ip_canonical(json_string_value(ip), json_string_length(ip), text,
                                 sizeof(text))) {
            api_error(a, 400, "invalid_client_ip",
                      "client_ip must be the end user's IPv4 or IPv6 address");
            return false;
        }
        a->ctx.client_ip = arena_strndup(&a->req->arena, text, strlen(text));
    }
    json_t *ua = json_object_get(a->body, "user_agent");
    if (ua && !json_is_null(ua)) {
        if (!json_is_string(ua) || !user_agent_ok(json_string_value(ua), json_string_length(ua))) {
            api_error(a, 400, "invalid_user_agent",
                      "user_agent must be printable text of at most 512 bytes");
            return false;
        }
        a->ctx.user_agent =
            arena_strndup(&a->req->arena, json_string_value(ua), json_string_length(ua));
    }
    return true;
}

/* What a handler takes as its body. */
enum api_body {
    BODY_NONE,     /* none is read */
    BODY_JSON,     /* a JSON object is required */
    BODY_OPTIONAL, /* a JSON object when there is a body at all */
};

/* The answer to missing or wrong client credentials. */
static void api_refuse_client(struct api *a)
{
    struct server *s = a->srv;
    http_header_add(a->req, "WWW-Authenticate", "Basic realm=\"otpgate\", charset=\"UTF-8\"");
    metrics_count(&s->metrics, "otpgate_api_auth_failures_total",
                  "API requests refused for bad client credentials.", "", 1);
    api_error(a, 401, "invalid_client", "client authentication failed");
}

/* Opens the request's part of the group commit; on false a 503 has been
 * sent. */
static bool api_open_batch(struct api *a)
{
    if (batch_request_begin(a->srv) != OG_OK) {
        http_header_add(a->req, "Retry-After", "1");
        api_error(a, 503, "storage_unavailable", "the database is busy; try again");
        return false;
    }
    a->in_batch = true;
    return true;
}

/* A success from the app cache the store has not confirmed yet (early,
 * from appcache_auth): before anything else is answered the batch's BEGIN
 * confirms it, and if another process changed the apps meanwhile the check
 * again reads them as the batch sees them. On false an answer has been
 * sent. */
static bool api_confirm_early(struct api *a, struct span id, struct span secret, int64_t early)
{
    if (!api_open_batch(a))
        return false;
    if (appcache_confirmed(a->srv, early))
        return true;
    enum appcache_result auth =
        appcache_auth(a->srv, id.p, secret.p, secret.len, a->app_name, sizeof(a->app_name), &a->pol,
                      a->webhook_url, sizeof(a->webhook_url), NULL);
    if (auth == APPCACHE_UNAVAILABLE) {
        http_header_add(a->req, "Retry-After", "1");
        api_error(a, 503, "storage_unavailable", "the apps could not be read");
        return false;
    }
    if (auth != APPCACHE_OK) {
        api_refuse_client(a);
        return false;
    }
    return true;
}

/* Authenticates the app, reads the JSON body (with the end user's
 * client_ip and user_agent) and opens the request's part of the group
 * commit. On false an answer has been sent. */
static bool api_start(struct http_request *req, struct api *a, enum api_body body)
{
    memset(a, 0, sizeof(*a));
    a->req = req;
    a->srv = req->srv;
    struct server *s = req->srv;

    struct span id, secret;
    bool creds = basic_credentials(req, &id, &secret);
    enum appcache_result auth = APPCACHE_UNAVAILABLE;
    int64_t early = -1;
    if (creds && s->apps)
        auth = appcache_auth(s, id.p, secret.p, secret.len, a->app_name, sizeof(a->app_name),
                             &a->pol, a->webhook_url, sizeof(a->webhook_url), &early);
    bool have_policy = auth == APPCACHE_OK;
    if (creds && auth == APPCACHE_UNAVAILABLE) /* no cache: straight from the store */
        auth = apps_check_secret(server_db(s), &s->keys, id.p, secret.p, secret.len)
                   ? APPCACHE_OK
                   : APPCACHE_DENIED;
    if (!creds || auth != APPCACHE_OK) {
        api_refuse_client(a);
        return false;
    }
    if (early >= 0 && !api_confirm_early(a, id, secret, early))
        return false;
    snprintf(a->app_id, sizeof(a->app_id), "%s", id.p);
    struct app app;
    if (!have_policy && apps_get(server_db(s), a->app_id, &app) == OG_OK) {
        snprintf(a->app_name, sizeof(a->app_name), "%s", app.name);
        apps_free(&app);
    }

    if (body == BODY_JSON || (body == BODY_OPTIONAL && req->body.len > 0)) {
        struct span ct;
        if (!http_header_get(req, "Content-Type", &ct) || !media_type_is_json(ct)) {
            api_error(a, 415, "unsupported_media_type", "send the body as application/json");
            return false;
        }
        json_error_t jerr;
        a->body = json_loadb(req->body.data ? req->body.data : "", req->body.len,
                             JSON_REJECT_DUPLICATES, &jerr);
        if (!a->body || !json_is_object(a->body)) {
            api_error(a, 400, "invalid_json", "the body must be a JSON object");
            return false;
        }
        if (!api_read_client(a))
            return false;
    }
    if (req->param_count > 0 && span_starts_with(req->path, "/api/v1/users/")) {
        struct span sub;
        if (url_decode(&req->arena, req->params[0], false, &sub) != OG_OK || !sub_valid(sub)) {
            api_error(a, 400, "invalid_sub", "the user id in the path is not valid");
            return false;
        }
        a->sub = sub.p;
    }
    if (!have_policy && policy_load(server_db(s), a->app_id, &a->pol) != OG_OK) {
        api_error(a, 503, "storage_unavailable", "the policy could not be read");
        return false;
    }
    if (!a->in_batch && !api_open_batch(a))
        return false;
    a->ctx.store = server_db(s);
    a->ctx.keys = &s->keys;
    a->ctx.pol = &a->pol;
    a->ctx.app_id = a->app_id;
    a->ctx.webhook_url = have_policy ? a->webhook_url : NULL;
    a->ctx.app_name = a->app_name[0] ? a->app_name : a->app_id;
    a->ctx.issuer = a->ctx.app_name;
    a->ctx.now_ms = server_now_ms();
    return true;
}

static const char *body_str(struct api *a, const char *key)
{
    json_t *v = json_object_get(a->body, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *locale_of(struct api *a)
{
    const char *l = body_str(a, "locale");
    struct span al;
    if (!l && http_header_get(a->req, "Accept-Language", &al))
        l = arena_strndup(&a->req->arena, al.p, al.len);
    return ui_locale_pick(l);
}

static void mask(const struct mfa_factor *f, char *out, size_t outlen)
{
    out[0] = '\0';
    if (f->type == FACTOR_SMS)
        contact_phone_mask(f->destination, out, outlen);
    else if (f->type == FACTOR_EMAIL)
        contact_email_mask(f->destination, out, outlen);
}

static json_t *json_masked(enum factor_type type, const char *dest)
{
    if (type == FACTOR_TOTP || type == FACTOR_WEBAUTHN)
        return json_null();
    struct mfa_factor f = {.type = type};
    snprintf(f.destination, sizeof(f.destination), "%s", dest);
    char m[CONTACT_MASK_SIZE];
    mask(&f, m, sizeof(m));
    return json_string(m);
}

static json_t *amr_for(enum factor_type t, bool recovery)
{
    if (recovery)
        return json_pack("[s, s]", "otp", "mfa");
    switch (t) {
    case FACTOR_SMS:
        return json_pack("[s, s, s]", "otp", "sms", "mfa");
    case FACTOR_EMAIL:
        return json_pack("[s, s, s]", "otp", "mail", "mfa");
    case FACTOR_TOTP:
        return json_pack("[s, s]", "otp", "mfa");
    case FACTOR_WEBAUTHN:
        break; /* hwk/swk and user come with the passkey gate (#12) */
    }
    return json_array();
}

/* amr_for's array, written. */
static void jw_amr(struct jw *w, enum factor_type t, bool recovery)
{
    if (recovery || t == FACTOR_TOTP)
        jw_raw(w, "[\"otp\",\"mfa\"]", 13);
    else if (t == FACTOR_SMS)
        jw_raw(w, "[\"otp\",\"sms\",\"mfa\"]", 19);
    else if (t == FACTOR_EMAIL)
        jw_raw(w, "[\"otp\",\"mail\",\"mfa\"]", 20);
    else
        jw_raw(w, "[]", 2);
}

static void count_verification(struct api *a, enum mfa_result r)
{
    /* Each result's label text, made on first use (loop thread only). */
    static char labels[MFA_ERROR + 1][64];
    char spare[64];
    char *l = (unsigned)r <= MFA_ERROR ? labels[r] : spare;
    if (l == spare || !l[0])
        snprintf(l, sizeof(spare), "result=\"%s\"", r == MFA_OK ? "ok" : mfa_result_code(r));
    metrics_count(&a->srv->metrics, "otpgate_verifications_total", "Code checks, by result.", l, 1);
}

/* Queues the code of a fresh challenge or resend in the request's batch. */
static bool deliver(struct api *a, const struct mfa_user *u, struct mfa_challenge *ch)
{
    int rc =
        delivery_queue_code(a->srv, ch->type, ch->destination, ch->code, a->app_id, a->ctx.app_name,
                            u->id, a->pol.code_ttl, locale_of(a), ch->purpose);
    OPENSSL_cleanse(ch->code, sizeof(ch->code));
    return rc == OG_OK;
}

/* ---- handlers --------------------------------------------------------- */

static json_t *challenge_json(const struct mfa_challenge *ch, int64_t now_ms)
{
    int64_t resend = ch->resend_at > now_ms ? (ch->resend_at - now_ms + 999) / 1000 : 0;
    json_t *o =
        json_pack("{s:s, s:s, s:o, s:o, s:I}", "id", ch->id, "type", factor_type_name(ch->type),
                  "destination", json_masked(ch->type, ch->destination), "expires_at",
                  json_time(ch->expires_at), "resend_after", (json_int_t)resend);
    if (ch->type == FACTOR_TOTP) {
        json_object_set_new(o, "expires_at", json_null());
        json_object_set_new(o, "resend_after", json_null());
    }
    return o;
}

void api_factor_add(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_JSON))
        return;
    const char *type_s = body_str(&a, "type");
    enum factor_type type;
    if (!type_s || factor_type_parse(type_s, &type) != OG_OK) {
        api_error(&a, 400, "invalid_type", "type must be sms, email or totp");
        return;
    }
    if (type == FACTOR_WEBAUTHN) {
        api_error(&a, 400, "invalid_type",
                  "a passkey is added with POST /api/v1/users/{sub}/passkeys/register/begin "
                  "and /finish");
        return;
    }
    if (!(a.pol.factors & factor_type_bit(type))) {
        api_outcome(&a, MFA_NOT_ALLOWED, NULL);
        return;
    }
    struct mfa_user u;
    enum mfa_result r = users_add_or_get(&a.ctx, a.sub, &u);
    if (r != MFA_OK) {
        api_outcome(&a, r, NULL);
        return;
    }
    struct mfa_factor f;
    if (type == FACTOR_TOTP) {
        char *uri = NULL, *secret = NULL;
        r = factors_add_totp(&a.ctx, &u, &f, &uri, &secret);
        if (r != MFA_OK) {
            api_outcome(&a, r, NULL);
            return;
        }
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:n, s:s, s:s}", "id", f.id, "type", "totp", "status",
                      "pending", "destination", "otpauth_uri", uri, "secret", secret);
        OPENSSL_cleanse(secret, strlen(secret));
        OPENSSL_cleanse(uri, strlen(uri));
        free(secret);
        free(uri);
        api_send(&a, 201, o);
        return;
    }

    const char *raw = body_str(&a, type == FACTOR_SMS ? "phone" : "email");
    char dest[MFA_DEST_LEN];
    if (!raw || (type == FACTOR_SMS ? contact_phone_normalize(raw, dest, sizeof(dest))
                                    : contact_email_normalize(raw, dest, sizeof(dest))) != OG_OK) {
        api_error(&a, 422, type == FACTOR_SMS ? "invalid_phone" : "invalid_email",
                  type == FACTOR_SMS ? "phone must be a number in international form, like "
                                       "+44 20 7946 0958"
                                     : "email must be a valid address");
        return;
    }
    if (!delivery_available(a.srv, type)) {
        api_error(&a, 503, "channel_unavailable", "no provider is configured for this channel");
        return;
    }
    if (type == FACTOR_SMS && !sendlimits_country_allowed(&a.pol, dest)) {
        api_outcome(&a, MFA_COUNTRY, NULL);
        return;
    }
    r = factors_add_contact(&a.ctx, &u, type, dest, &f);
    if (r != MFA_OK) {
        api_outcome(&a, r, NULL);
        return;
    }
    struct mfa_challenge ch;
    struct mfa_outcome o = {0};
    r = challenges_create(&a.ctx, &u, &f, "enrol", &ch, &o);
    if (r != MFA_OK) {
        a.undo = true; /* no pending factor left behind by a refused send */
        api_outcome(&a, r, &o);
        return;
    }
    if (!deliver(&a, &u, &ch)) {
        api_outcome(&a, MFA_ERROR, NULL);
        return;
    }
    json_t *out = json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", f.id, "type", type_s, "status",
                            "pending", "destination", json_masked(type, dest), "challenge",
                            challenge_json(&ch, a.ctx.now_ms));
    api_send(&a, 201, out);
}

/* Adds a new recovery-code set to answer when this is the user's first
 * active factor and the policy offers them. */
static void maybe_first_recovery_codes(struct api *a, struct mfa_user *u, json_t *answer)
{
    if (!a->pol.recovery_codes || factors_count_active(&a->ctx, u) != 1 ||
        recovery_codes_left(&a->ctx, u) > 0)
        return;
    char codes[RECOVERY_COUNT][20];
    if (recovery_codes_new(&a->ctx, u, codes) != MFA_OK)
        return;
    json_t *arr = json_array();
    for (int i = 0; i < RECOVERY_COUNT; i++)
        json_array_append_new(arr, json_string(codes[i]));
    OPENSSL_cleanse(codes, sizeof(codes));
    json_object_set_new(answer, "recovery_codes", arr);
}

/* Path parameter i (a factor or challenge id) into out; "" when it is too
 * long to be one, which then matches nothing. */
static void path_id(const struct http_request *req, size_t i, char out[MFA_ID_LEN])
{
    struct span id = req->params[i];
    snprintf(out, MFA_ID_LEN, "%.*s", (int)(id.len < MFA_ID_LEN ? id.len : 0), id.p);
}

void api_factor_verify(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_JSON))
        return;
    const char *code = body_str(&a, "code");
    if (!code) {
        api_error(&a, 400, "invalid_request", "code is required");
        return;
    }
    char factor_id[MFA_ID_LEN];
    path_id(req, 1, factor_id);
    struct mfa_user u;
    struct mfa_factor f;
    struct mfa_outcome o = {.attempts_left = -1};
    enum mfa_result r = users_find(&a.ctx, a.sub, &u);
    if (r == MFA_OK)
        r = factors_get(&a.ctx, &u, factor_id, &f);
    if (r != MFA_OK) {
        api_outcome(&a, r, &o);
        return;
    }
    if (f.active) {
        api_error(&a, 409, "already_active", "this factor is already verified");
        return;
    }
    if (f.type == FACTOR_TOTP) {
        r = factors_verify_totp_enrolment(&a.ctx, &u, &f, code, &o);
    } else {
        struct mfa_challenge ch;
        char chid[MFA_ID_LEN];
        r = challenges_latest(&a.ctx, f.id, chid);
        if (r == MFA_NOT_FOUND) {
            api_error(&a, 410, "expired", "no code was sent for this factor; add it again");
            return;
        }
        if (r == MFA_OK)
            r = challenges_get(&a.ctx, chid, &u, &ch);
        if (r == MFA_OK)
            r = challenges_verify(&a.ctx, &u, &ch, code, &o);
    }
    count_verification(&a, r);
    if (r != MFA_OK) {
        api_outcome(&a, r, &o);
        return;
    }
    json_t *out = json_pack("{s:s, s:s}", "id", f.id, "status", "active");
    maybe_first_recovery_codes(&a, &u, out);
    api_send(&a, 200, out);
}

struct list_ctx {
    json_t *arr;
    const struct mfa_user *u;
    const struct mfa_ctx *ctx;
};

static void list_one(const struct mfa_factor *f, void *arg)
{
    struct list_ctx *l = arg;
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:b}", "id", f->id, "type",
                          factor_type_name(f->type), "status", f->active ? "active" : "pending",
                          "destination", json_masked(f->type, f->destination), "created_at",
                          json_time(f->created_at), "last_used_at", json_time(f->last_used_at),
                          "preferred", strcmp(l->u->preferred, f->id) == 0);
    if (f->type == FACTOR_WEBAUTHN) {
        char name[WEBAUTHN_NAME_MAX + 1];
        webauthn_credential_name(l->ctx, f->id, name);
        json_object_set_new(o, "name", json_string(name));
    }
    json_array_append_new(l->arr, o);
}

static json_t *json_id_or_null(const char *id)
{
    return id && id[0] ? json_string(id) : json_null();
}

void api_factor_list(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_NONE))
        return;
    struct mfa_user u;
    enum mfa_result r = users_find(&a.ctx, a.sub, &u);
    json_t *arr = json_array();
    int left = 0;
    if (r == MFA_OK) {
        struct list_ctx l = {arr, &u, &a.ctx};
        r = factors_each(&a.ctx, &u, list_one, &l);
        left = recovery_codes_left(&a.ctx, &u);
    } else if (r == MFA_NOT_FOUND) {
        /* The app's own user with nothing enrolled yet. */
        memset(&u, 0, sizeof(u));
        r = MFA_OK;
    }
    if (r != MFA_OK) {
        json_decref(arr);
        api_outcome(&a, r, NULL);
        return;
    }
    json_t *o = json_pack("{s:o, s:o, s:o, s:i, s:b}", "factors", arr, "preferred",
                          json_id_or_null(u.preferred), "last_used", json_id_or_null(u.last_used),
                          "recovery_codes_left", left, "locked", u.locked);
    api_send(&a, 200, o);
}

/* ---- remembered devices ----------------------------------------------- */

static void device_json(const struct device *d, void *arg)
{
    json_t *arr = arg;
    json_array_append_new(
        arr,
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:o}", "id", d->id, "app_id", d->app_id,
                  "scope", d->scope_all ? "all" : "app", "created_at", json_time(d->created_at),
                  "expires_at", json_time(d->expires_at), "last_seen_at",
                  json_time(d->last_seen_at), "auth_time", json_time(d->step_at), "user_agent",
                  d->user_agent, "ip", d->ip[0] ? json_string(d->ip) : json_null()));
}

/* GET /api/v1/users/{sub}/devices: the browsers that skip the second step. */
void api_devices_list(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, false))
        return;
    json_t *arr = json_array();
    if (devices_each(a.ctx.store, a.app_id, a.sub, a.ctx.now_ms, device_json, arr) != OG_OK) {
        json_decref(arr);
        api_outcome(&a, MFA_ERROR, NULL);
        return;
    }
    api_send(&a, 200, json_pack("{s:o}", "devices", arr));
}

/* DELETE /api/v1/users/{sub}/devices: forgets them all, at once. */
void api_devices_forget(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, false))
        return;
    users_forget_devices(&a.ctx, a.sub, "forgotten by the app");
    api_send(&a, 204, NULL);
}

void api_factor_remove(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_NONE))
        return;
    char factor_id[MFA_ID_LEN];
    path_id(req, 1, factor_id);
    struct mfa_user u;
    enum mfa_result r = users_find(&a.ctx, a.sub, &u);
    if (r == MFA_OK)
        r = factors_remove(&a.ctx, &u, factor_id);
    if (r != MFA_OK) {
        api_outcome(&a, r, NULL);
        return;
    }
    api_send(&a, 204, NULL);
}

void api_preferred(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_JSON))
        return;
    const char *fid = body_str(&a, "factor_id");
    if (!fid) {
        api_error(&a, 400, "invalid_request", "factor_id is required");
        return;
    }
    struct mfa_user u;
    enum mfa_result r = users_find(&a.ctx, a.sub, &u);
    if (r == MFA_OK)
        r = users_set_preferred(&a.ctx, &u, fid);
    if (r == MFA_CONFLICT) {
        api_error(&a, 409, "factor_not_active", "only a verified factor can be preferred");
        return;
    }
    if (r != MFA_OK) {
        api_outcome(&a, r, NULL);
        return;
    }
    api_send(&a, 200, json_pack("{s:s}", "preferred", fid));
}

void api_recovery_new(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_NONE))
        return;
    struct mfa_user u;
    enum mfa_result r = users_find(&a.ctx, a.sub, &u);
    if (r == MFA_NOT_FOUND || (r == MFA_OK && factors_count_active(&a.ctx, &u) < 1)) {
        api_error(&a, 409, "no_active_factor", "recovery codes need a verified factor first");
        return;
    }
    if (!a.pol.recovery_codes) {
        api_error(&a, 403, "recovery_codes_disabled", "the policy does not offer recovery codes");
        return;
    }
    char codes[RECOVERY_COUNT][20];
    if (r == MFA_OK)
        r = recovery_codes_new(&a.ctx, &u, codes);
    if (r != MFA_OK) {
        api_outcome(&a, r, NULL);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < RECOVERY_COUNT; i++)
        json_array_append_new(arr, json_string(codes[i]));
    OPENSSL_cleanse(codes, sizeof(codes));
    api_send(&a, 201, json_pack("{s:o}", "codes", arr));
}

/* ---- passkeys ---------------------------------------------------------- */

/* The relying party of an API ceremony: the public URL's RP ID, and as
 * origins the public URL's and those of the app's redirect URIs that can
 * carry passkeys of that RP ID (https or http://localhost, a host within
 * it): an app that draws its own screens runs the ceremony on its own
 * pages. False when passkeys are off (the public URL cannot carry them). */
static bool api_party(struct api *a, struct webauthn_party *rp)
{
    const struct config *cfg = a->srv->cfg;
    memset(rp, 0, sizeof(*rp));
    if (!cfg->webauthn_rp_id[0])
        return false;
    rp->rp_id = cfg->webauthn_rp_id;
    rp->rp_name = a->ctx.app_name;
    rp->origins[rp->origin_count++] = cfg->webauthn_origin;
    struct app app;
    if (apps_get(server_db(a->srv), a->app_id, &app) != OG_OK)
        return true;
    for (size_t i = 0; i < app.redirect_count && rp->origin_count < WEBAUTHN_ORIGINS_MAX; i++) {
        char rp_id[WEBAUTHN_RP_ID_MAX + 1], origin[WEBAUTHN_ORIGIN_MAX + 1];
        if (webauthn_rp_from_url(app.redirect_uris[i], cfg->webauthn_rp_id, rp_id, origin, NULL,
                                 0) != OG_OK)
            continue;
        bool seen = false;
        for (size_t j = 0; j < rp->origin_count; j++)
            seen = seen || strcmp(rp->origins[j], origin) == 0;
        if (!seen)
            rp->origins[rp->origin_count++] = arena_strndup(&a->req->arena, origin, strlen(origin));
    }
    apps_free(&app);
    return true;
}

/* require_phishing_resistant: only a passkey passes the second step, so
 * no code is sent or checked for one (403 passkey_required). */
static bool phr_refused(struct api *a)
{
    if (!a->pol.require_phishing_resistant)
        return false;
    api_error(a, 403, "passkey_required",
              "the policy accepts only a passkey (require_phishing_resistant)");
    return true;
}

static void passkeys_off(struct api *a)
{
    api_error(a, 503, "passkeys_unavailable",
              "passkeys are off here: OTPGATE_PUBLIC_URL must be https (or http://localhost)");
}

/* A ceremony that cannot go on: the answers a code challenge would give,
 * in a passkey's words. */
static void passkey_outcome(struct api *a, enum mfa_result r, const struct mfa_outcome *o,
                            enum webauthn_result why)
{
    switch (r) {
    case MFA_WRONG_CODE:
    case MFA_INVALID: {
        log_info("passkey refused", "app", a->app_id, "reason", webauthn_result_code(why));
        json_t *extra = json_pack("{s:s}", "reason", webauthn_result_code(why));
        if (o && o->retry_after > 0)
            json_object_set_new(extra, "retry_after", json_integer(o->retry_after));
        api_error_extra(a, 422, "passkey_refused",
                        "the passkey's answer does not verify; begin a new ceremony", extra);
        return;
    }
    case MFA_NOT_FOUND:
        api_error(a, 404, "not_found", "no such passkey ceremony for this user");
        return;
    case MFA_DONE:
        api_error(a, 410, "already_used", "this ceremony was used already; begin a new one");
        return;
    case MFA_EXPIRED:
        api_error(a, 410, "expired", "this ceremony has expired; begin a new one");
        return;
    case MFA_CONFLICT:
        api_error(a, 409, "already_registered", "this passkey is registered already");
        return;
    default:
        api_outcome(a, r, o);
    }
}

static json_t *begun_json(const struct webauthn_begun *b, const char *id_key)
{
    return json_pack("{s:s, s:o, s:o}", id_key, b->id, "expires_at", json_time(b->expires_at),
                     "options", b->options);
}

/* POST /api/v1/users/{sub}/passkeys/register/begin: creation options for
 * the app's page (optional user_name, display_name for the authenticator). */
void api_passkey_register_begin(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_OPTIONAL))
        return;
    struct webauthn_party rp;
    if (!api_party(&a, &rp)) {
        passkeys_off(&a);
        return;
    }
    const char *user_name = body_str(&a, "user_name");
    const char *display_name = body_str(&a, "display_name");
    if ((user_name && strlen(user_name) > 256) || (display_name && strlen(display_name) > 256)) {
        api_error(&a, 400, "invalid_request", "user_name and display_name: at most 256 bytes");
        return;
    }
    struct mfa_user u;
    enum mfa_result r = users_add_or_get(&a.ctx, a.sub, &u);
    struct webauthn_begun b;
    if (r == MFA_OK)
        r = webauthn_register_begin(&a.ctx, &u, &rp, NULL, user_name, display_name, &b);
    if (r != MFA_OK) {
        api_outcome(&a, r, &(struct mfa_outcome){.locked_at = u.locked_at});
        return;
    }
    api_send(&a, 201, begun_json(&b, "challenge_id"));
}

/* POST /api/v1/users/{sub}/passkeys/register/finish: {challenge_id,
 * credential (the PublicKeyCredential's toJSON()), name?}. */
void api_passkey_register_finish(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_JSON))
        return;
    const char *id = body_str(&a, "challenge_id");
    json_t *cred = json_object_get(a.body, "credential");
    json_t *name = json_object_get(a.body, "name");
    if (!id || !json_is_object(cred) || (name && !json_is_null(name) && !json_is_string(name))) {
        api_error(&a, 400, "invalid_request",
                  "challenge_id and credential (the PublicKeyCredential's toJSON()) are required");
        return;
    }
    struct webauthn_party rp;
    if (!api_party(&a, &rp)) {
        passkeys_off(&a);
        return;
    }
    char hint[DEVICES_UA_LEN] = "";
    if (a.ctx.user_agent)
        devices_ua_summary(a.ctx.user_agent, hint, sizeof(hint));
    struct mfa_user u;
    struct mfa_factor f;
    struct webauthn_done done = {.why = WEBAUTHN_OK};
    enum mfa_result r = users_find(&a.ctx, a.sub, &u);
    if (r == MFA_OK)
        r = webauthn_register_finish(&a.ctx, &u, &rp, id, NULL, cred, json_string_value(name), hint,
                                     &f, &done);
    if (r != MFA_OK) {
        passkey_outcome(&a, r, &(struct mfa_outcome){.locked_at = u.locked_at}, done.why);
        return;
    }
    json_t *out = json_pack("{s:s, s:s, s:s, s:s}", "id", f.id, "type", "webauthn", "status",
                            "active", "name", done.name);
    maybe_first_recovery_codes(&a, &u, out);
    api_send(&a, 201, out);
}

static void passkey_json(const struct webauthn_stored *s, void *arg)
{
    json_t *arr = arg;
    char aaguid[WEBAUTHN_AAGUID_TEXT_LEN];
    webauthn_aaguid_format(s->cred.aaguid, aaguid);
    char transports[96];
    json_t *t = json_array();
    if (webauthn_transports_format(s->cred.transports, transports, sizeof(transports)) > 0)
        for (char *p = transports; p;) {
            char *end = strchr(p, ',');
            json_array_append_new(t, json_stringn(p, end ? (size_t)(end - p) : strlen(p)));
            p = end ? end + 1 : NULL;
        }
    json_array_append_new(
        arr, json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:b, s:b, s:b, s:o}", "id", s->factor_id,
                       "name", s->name, "aaguid", aaguid, "created_at", json_time(s->created_at),
                       "last_used_at", json_time(s->last_used_at), "sign_count",
                       (json_int_t)s->cred.sign_count, "synced", s->cred.be, "backed_up",
                       s->cred.bs, "user_verified", s->cred.uv, "transports", t));
}

/* GET /api/v1/users/{sub}/passkeys: the user's passkeys on this RP ID. */
void api_passkeys_list(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_NONE))
        return;
    json_t *arr = json_array();
    struct mfa_user u;
    enum mfa_result r = users_find(&a.ctx, a.sub, &u);
    if (r == MFA_OK && a.srv->cfg->webauthn_rp_id[0])
        r = webauthn_credential_each(&a.ctx, &u, a.srv->cfg->webauthn_rp_id, passkey_json, arr);
    if (r != MFA_OK && r != MFA_NOT_FOUND) {
        json_decref(arr);
        api_outcome(&a, r, NULL);
        return;
    }
    api_send(&a, 200, json_pack("{s:o}", "passkeys", arr));
}

/* POST /api/v1/challenges on a passkey: a sign-in any of the user's
 * passkeys may answer. */
static void api_passkey_challenge(struct api *a, const struct mfa_user *u)
{
    struct webauthn_party rp;
    if (!api_party(a, &rp)) {
        passkeys_off(a);
        return;
    }
    struct webauthn_begun b;
    enum mfa_result r = webauthn_signin_begin(&a->ctx, u, &rp, NULL, &b);
    if (r == MFA_NOT_FOUND) {
        api_error(a, 409, "no_passkey", "the user has no passkey that works here");
        return;
    }
    if (r != MFA_OK) {
        api_outcome(a, r, &(struct mfa_outcome){.locked_at = u->locked_at});
        return;
    }
    json_t *out = begun_json(&b, "id");
    json_object_set_new(out, "type", json_string("webauthn"));
    json_object_set_new(out, "destination", json_null());
    json_object_set_new(out, "resend_after", json_null());
    api_send(a, 201, out);
}

/* POST /api/v1/challenges/{id}/verify of a passkey ceremony:
 * {"credential": the PublicKeyCredential's toJSON()}. */
static void api_passkey_verify(struct api *a, const char *id)
{
    json_t *cred = json_object_get(a->body, "credential");
    if (!json_is_object(cred)) {
        api_error(a, 400, "invalid_request",
                  "credential (the PublicKeyCredential's toJSON()) is required");
        return;
    }
    struct webauthn_party rp;
    if (!api_party(a, &rp)) {
        passkeys_off(a);
        return;
    }
    struct mfa_user u;
    struct webauthn_done done = {.why = WEBAUTHN_OK};
    struct mfa_outcome o = {.attempts_left = -1};
    enum mfa_result r = webauthn_challenge_user(&a->ctx, id, &u);
    if (r == MFA_OK)
        r = webauthn_signin_finish(&a->ctx, &u, &rp, id, NULL, cred, &done, &o);
    count_verification(a, r);
    if (r != MFA_OK) {
        passkey_outcome(a, r, &o, done.why);
        return;
    }
    json_error_t jerr;
    json_t *amr = json_loads(done.amr, 0, &jerr);
    api_send(a, 200,
             json_pack("{s:b, s:s, s:s, s:s, s:o, s:s}", "ok", 1, "factor_id", done.factor_id,
                       "type", "webauthn", "name", done.name, "amr", amr ? amr : json_array(),
                       "acr", GATE_ACR_PHR));
}

/* The factor a challenge opens on: the one asked for, else the last used,
 * else the preferred, else the oldest active one. */
static enum mfa_result pick_factor(struct api *a, struct mfa_user *u, const char *asked,
                                   struct mfa_factor *f)
{
    if (asked) {
        enum mfa_result r = factors_get(&a->ctx, u, asked, f);
        if (r == MFA_OK && !f->active)
            return MFA_CONFLICT;
        return r;
    }
    const char *order[2] = {u->last_used, u->preferred};
    for (int i = 0; i < 2; i++)
        if (order[i][0] && factors_get(&a->ctx, u, order[i], f) == MFA_OK && f->active)
            return MFA_OK;
    db_stmt *st = store_stmt(a->ctx.store, "SELECT id FROM factors WHERE user_id = ? AND "
                                           "status = 'active' ORDER BY created_at, id LIMIT 1");
    if (!st)
        return MFA_ERROR;
    db_bind_int64(st, 1, u->id);
    char id[MFA_ID_LEN] = "";
    if (db_step(st) == DB_ROW)
        snprintf(id, sizeof(id), "%s", (const char *)db_column_text(st, 0));
    db_reset(st);
    return id[0] ? factors_get(&a->ctx, u, id, f) : MFA_NOT_FOUND;
}

void api_challenge_create(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_JSON))
        return;
    const char *sub = body_str(&a, "sub");
    if (!sub || !sub_valid(span_cstr(sub))) {
        api_error(&a, 400, "invalid_sub", "sub is required");
        return;
    }
    const char *asked = body_str(&a, "factor_id");
    const char *type = body_str(&a, "type");
    if (type && strcmp(type, "webauthn") != 0) {
        api_error(&a, 400, "invalid_type",
                  "type is webauthn or absent (then factor_id or the "
                  "last used factor decides)");
        return;
    }
    struct mfa_user u;
    struct mfa_factor f;
    enum mfa_result r = users_find(&a.ctx, sub, &u);
    /* Where only a passkey passes, the default is one too. */
    if (r == MFA_OK && (type || a.pol.require_phishing_resistant) && !asked) {
        api_passkey_challenge(&a, &u);
        return;
    }
    if (r == MFA_OK)
        r = pick_factor(&a, &u, asked, &f);
    if (r == MFA_NOT_FOUND && !asked) {
        api_error(&a, 409, "no_active_factor", "the user has no verified factor");
        return;
    }
    if (r == MFA_CONFLICT) {
        api_error(&a, 409, "factor_not_active", "the factor is not verified yet");
        return;
    }
    if (r != MFA_OK) {
        api_outcome(&a, r, NULL);
        return;
    }
    if (f.type == FACTOR_WEBAUTHN || (type && f.type != FACTOR_WEBAUTHN)) {
        if (f.type != FACTOR_WEBAUTHN) {
            api_error(&a, 409, "factor_not_passkey", "factor_id is not a passkey");
            return;
        }
        api_passkey_challenge(&a, &u);
        return;
    }
    if (phr_refused(&a))
        return;
    if (f.type != FACTOR_TOTP && !delivery_available(a.srv, f.type)) {
        api_error(&a, 503, "channel_unavailable", "no provider is configured for this channel");
        return;
    }
    const char *purpose = body_str(&a, "purpose");
    if (!purpose || (strcmp(purpose, "login") != 0 && strcmp(purpose, "stepup") != 0))
        purpose = "login";
    struct mfa_challenge ch;
    struct mfa_outcome o = {0};
    r = challenges_create(&a.ctx, &u, &f, purpose, &ch, &o);
    if (r != MFA_OK) {
        api_outcome(&a, r, &o);
        return;
    }
    if (ch.type != FACTOR_TOTP && !deliver(&a, &u, &ch)) {
        api_outcome(&a, MFA_ERROR, NULL);
        return;
    }
    api_send(&a, 201, challenge_json(&ch, a.ctx.now_ms));
}

void api_challenge_resend(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_OPTIONAL))
        return;
    char id[MFA_ID_LEN];
    path_id(req, 0, id);
    if (webauthn_challenge_id_is(id)) {
        api_error(&a, 409, "nothing_to_resend", "a passkey challenge sends nothing");
        return;
    }
    struct mfa_user u;
    struct mfa_challenge ch;
    struct mfa_outcome o = {0};
    enum mfa_result r = challenges_get(&a.ctx, id, &u, &ch);
    if (r == MFA_OK)
        r = challenges_resend(&a.ctx, &u, &ch, &o);
    if (r == MFA_INVALID) {
        api_error(&a, 409, "nothing_to_resend", "an authenticator-app challenge sends nothing");
        return;
    }
    if (r != MFA_OK) {
        api_outcome(&a, r, &o);
        return;
    }
    if (!deliver(&a, &u, &ch)) {
        api_outcome(&a, MFA_ERROR, NULL);
        return;
    }
    api_send(&a, 202, challenge_json(&ch, a.ctx.now_ms));
}

void api_challenge_verify(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_JSON))
        return;
    char wid[MFA_ID_LEN];
    path_id(req, 0, wid);
    if (webauthn_challenge_id_is(wid)) {
        api_passkey_verify(&a, wid);
        return;
    }
    if (phr_refused(&a))
        return;
    const char *code = body_str(&a, "code");
    if (!code) {
        api_error(&a, 400, "invalid_request", "code is required");
        return;
    }
    char id[MFA_ID_LEN];
    path_id(req, 0, id);
    struct mfa_user u;
    struct mfa_challenge ch;
    struct mfa_outcome o = {.attempts_left = -1};
    enum mfa_result r = challenges_get(&a.ctx, id, &u, &ch);
    if (r == MFA_OK)
        r = challenges_verify(&a.ctx, &u, &ch, code, &o);
    count_verification(&a, r);
    if (r != MFA_OK) {
        api_outcome(&a, r, &o);
        return;
    }
    struct jw w = {.len = 0};
    jw_key(&w, "ok");
    jw_raw(&w, "true", 4);
    jw_key(&w, "factor_id");
    jw_str(&w, ch.factor_id);
    jw_key(&w, "type");
    jw_str(&w, factor_type_name(ch.type));
    jw_key(&w, "amr");
    jw_amr(&w, ch.type, false);
    if (jw_send(&a, 200, &w))
        return;
    api_send(&a, 200,
             json_pack("{s:b, s:s, s:s, s:o}", "ok", 1, "factor_id", ch.factor_id, "type",
                       factor_type_name(ch.type), "amr", amr_for(ch.type, false)));
}

static bool looks_like_totp(const char *code)
{
    size_t n = 0;
    for (const char *p = code; *p; p++) {
        if (*p == ' ')
            continue;
        if (*p < '0' || *p > '9')
            return false;
        n++;
    }
    return n == 6;
}

void api_user_verify(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_JSON))
        return;
    const char *code = body_str(&a, "code");
    if (!code) {
        api_error(&a, 400, "invalid_request", "code is required");
        return;
    }
    if (phr_refused(&a))
        return;
    struct mfa_user u;
    struct mfa_outcome o = {.attempts_left = -1};
    enum mfa_result r = users_find(&a.ctx, a.sub, &u);
    if (r == MFA_NOT_FOUND) {
        api_error(&a, 409, "no_active_factor", "the user has no verified factor");
        return;
    }
    if (r != MFA_OK) {
        api_outcome(&a, r, &o);
        return;
    }
    bool totp = looks_like_totp(code);
    /* A recovery code is the way out of a lock, so only waits stop it. */
    r = totp ? users_gate(&a.ctx, &u, &o) : users_gate_recovery(&a.ctx, &u, &o);
    if (r == MFA_OK) {
        r = totp ? factors_check_totp(&a.ctx, &u, NULL, code, &o)
                 : recovery_codes_consume(&a.ctx, &u, code, &o);
        if (r == MFA_NOT_FOUND)
            r = MFA_WRONG_CODE;
        if (r == MFA_WRONG_CODE) {
            r = users_fail(&a.ctx, &u, &o, "verify_failed", NULL, totp ? "totp" : "recovery_code");
        } else if (r == MFA_OK) {
            users_record_success(&a.ctx, &u, totp ? o.factor_id : NULL);
            audit_log_user(&a.ctx, &u, "verify_ok", totp ? o.factor_id : NULL,
                           totp ? "totp" : "recovery_code");
        }
    }
    count_verification(&a, r);
    if (r != MFA_OK) {
        api_outcome(&a, r, &o);
        return;
    }
    struct jw w = {.len = 0};
    jw_key(&w, "ok");
    jw_raw(&w, "true", 4);
    jw_key(&w, "factor_id");
    if (totp)
        jw_str(&w, o.factor_id);
    else
        jw_raw(&w, "null", 4);
    jw_key(&w, "type");
    jw_str(&w, totp ? "totp" : "recovery_code");
    jw_key(&w, "amr");
    jw_amr(&w, o.type, !totp);
    if (!totp) {
        jw_key(&w, "recovery_codes_left");
        jw_int(&w, o.recovery_left);
    }
    if (jw_send(&a, 200, &w))
        return;
    json_t *out = json_pack("{s:b, s:o, s:s, s:o}", "ok", 1, "factor_id",
                            totp ? json_string(o.factor_id) : json_null(), "type",
                            totp ? "totp" : "recovery_code", "amr", amr_for(o.type, !totp));
    if (!totp)
        json_object_set_new(out, "recovery_codes_left", json_integer(o.recovery_left));
    api_send(&a, 200, out);
}

/* ---- /start results --------------------------------------------------- */

/* The otpgate_result of a /start flow (pages.c): HS256 with the app's
 * secret, iss the public URL, aud the client_id, exp 120 s after iat, a
 * jti. Its lifetime is otpgate's choice, so a longer one is not otpgate's. */
#define API_RESULT_MAX_TTL_S 300
#define API_RESULT_JTI_MAX   128

/* Why a result is not a live one otpgate gave this app, or NULL; claims
 * are the verified claims (NULL when the signature failed). */
static const char *result_refusal(const struct api *a, const json_t *claims, int64_t now_s)
{
    if (!claims)
        return "the result is not signed with this app's client secret";
    const char *why = NULL;
    if (jwt_check_times(claims, now_s, -1, 0, &why) != OG_OK)
        return strcmp(why ? why : "", "expired") == 0 ? "the result has expired"
                                                      : "the result's iat or exp is not valid";
    if (!jwt_check_lifetime(claims, API_RESULT_MAX_TTL_S))
        return "the result's iat or exp is not valid";
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    if (!iss || strcmp(iss, a->srv->cfg->public_url) != 0 || !aud || strcmp(aud, a->app_id) != 0)
        return "the result was not issued to this app by this otpgate";
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    if (!sub || !sub_valid(span_cstr(sub)))
        return "the result names no user";
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    if (!jti || !jti[0] || strlen(jti) > API_RESULT_JTI_MAX)
        return "the result has no jti";
    return NULL;
}

void api_result_redeem(struct http_request *req)
{
    struct api a;
    if (!api_start(req, &a, BODY_JSON))
        return;
    const char *token = body_str(&a, "result");
    if (!token || !token[0]) {
        api_error(&a, 400, "invalid_request", "result is required");
        return;
    }
    char *secret = NULL;
    int rc = apps_secret(server_db(a.srv), &a.srv->keys, a.app_id, &secret);
    if (rc != OG_OK) {
        api_outcome(&a, MFA_ERROR, NULL);
        return;
    }
    json_t *claims = NULL;
    if (jwt_hs256_verify(token, (const uint8_t *)secret, strlen(secret), &claims) != OG_OK)
        claims = NULL;
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
    const char *why = result_refusal(&a, claims, a.ctx.now_ms / 1000);
    if (why) {
        json_decref(claims);
        log_info("result refused", "app", a.app_id, "reason", why);
        api_error(&a, 422, "invalid_result", why);
        return;
    }
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    int64_t exp = (int64_t)json_integer_value(json_object_get(claims, "exp"));
    /* Namespaced apart from the request objects' and links' jti values,
     * which the app picks: remembered until the result expires. */
    char key[sizeof("result:") + API_RESULT_JTI_MAX];
    snprintf(key, sizeof(key), "result:%s", jti);
    rc = sessions_jti_use(server_db(a.srv), a.app_id, key, exp * 1000 + 1000);
    if (rc == OG_ERR_EXISTS) {
        log_warn("result redeemed twice", "app", a.app_id);
        audit_log(&a.ctx, sub, "result_reused", NULL, NULL);
        json_decref(claims);
        api_error(&a, 409, "already_redeemed", "this result was redeemed before");
        return;
    }
    if (rc != OG_OK) {
        json_decref(claims);
        api_outcome(&a, MFA_ERROR, NULL);
        return;
    }
    audit_log(&a.ctx, sub, "result_redeemed", NULL, NULL);
    json_t *out = json_object();
    static const char *const keep[] = {"sub", "amr", "mfa", "acr", "auth_time", "jti"};
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
        json_t *v = json_object_get(claims, keep[i]);
        if (v)
            json_object_set(out, keep[i], v);
    }
    json_decref(claims);
    api_send(&a, 200, out);
}
