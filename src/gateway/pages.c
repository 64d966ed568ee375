/* The end-user pages' handlers (SPEC §5, §8): the signed-link entry, the
 * second-step challenge, the account page with binding, removal and
 * recovery codes, and the enrolment a policy asks for inside a login.
 * Sessions live in SQLite; every form carries a CSRF token; the session id
 * changes when the user passes a second step. Writes join the group commit
 * and answers wait for it. Never puts a code or a secret in a URL or log. */
#include "gateway/pages.h"

#include "core/apps.h"
#include "core/authcodes.h"
#include "core/base32.h"
#include "core/contact.h"
#include "core/devices.h"
#include "core/gate.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/mfa.h"
#include "core/recovery.h"
#include "core/secrets.h"
#include "core/sessions.h"
#include "core/webauthn_ceremony.h"
#include "gateway/oidc.h"
#include "gateway/server.h"
#include "gateway/http/urlcodec.h"
#include "ui/countries.h"
#include "ui/messages.h"
#include "ui/pages.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SESSION_COOKIE  "otpgate_session"
#define LANG_COOKIE     "otpgate_lang"
#define DEVICE_COOKIE   "otpgate_device"
#define DAY_MS          (24LL * 3600 * 1000)
#define SESSION_TTL_MS  (30LL * 60 * 1000)
#define STEPUP_FRESH_MS (5LL * 60 * 1000)
#define LINK_MAX_AGE_S  300
#define RESULT_TTL_S    120
#define LOCK_WARN_TRIES 10 /* say how many tries are left before the lock from here */
#define WAIT_WARN_TRIES 2  /* ... and before the waits begin */

struct page {
    struct http_request *req;
    struct server *srv;
    struct session sess;
    bool have_sess;
    struct kv_list form;
    struct policy pol;
    struct mfa_ctx ctx;
    char app_name[128];
    struct mfa_user user;
    struct ui_ctx ui;
    char csrf[96];
    char locale[8];
    bool in_batch;
    bool sess_dirty;
    char origin[256]; /* of the app's return_to, for the pages' form-action */
};

/* ---- small helpers ---------------------------------------------------- */

static const char *form_str(struct page *p, const char *key)
{
    struct span v;
    if (!kv_get(&p->form, key, &v))
        return NULL;
    return arena_strndup(&p->req->arena, v.p, v.len);
}

static const char *query_str(struct page *p, const char *key)
{
    struct kv_list q;
    struct span v;
    if (!p->req->query.p || form_parse(&p->req->arena, p->req->query, 32, &q) != OG_OK ||
        !kv_get(&q, key, &v))
        return NULL;
    return arena_strndup(&p->req->arena, v.p, v.len);
}

/* Only message keys made of [a-z_.] with a known prefix may come from a
 * URL, so a link cannot put arbitrary text on a page. */
static const char *msg_key(const char *k, const char *prefix)
{
    if (!k || strncmp(k, prefix, strlen(prefix)) != 0 || strlen(k) > 40)
        return NULL;
    for (const char *c = k; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || *c == '_' || *c == '.'))
            return NULL;
    return k;
}

static const char *msg_arg(const char *a)
{
    if (!a || strlen(a) > 80)
        return NULL;
    for (const char *c = a; *c; c++)
        if (!((*c >= '0' && *c <= '9') || *c == ' ' || *c == '+' || *c == '@' || *c == '.' ||
              (unsigned char)*c >= 0x80 || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              *c == '-' || *c == '_'))
            return NULL;
    return a;
}

static void cookie_header(struct page *p, const char *name, const char *value, int64_t max_age)
{
    char line[512];
    snprintf(line, sizeof(line), "%s=%s; Path=/; HttpOnly; SameSite=Lax%s; Max-Age=%lld", name,
             value, p->srv->cfg->public_https ? "; Secure" : "", (long long)max_age);
    http_header_add(p->req, "Set-Cookie", line);
}

static void pick_locale(struct page *p)
{
    struct span c, al;
    const char *pick = NULL;
    if (p->have_sess && p->sess.locale[0])
        pick = p->sess.locale;
    else if (http_header_get(p->req, "Cookie", &c) && cookie_get(c, LANG_COOKIE, &al))
        pick = ui_locale_pick(arena_strndup(&p->req->arena, al.p, al.len));
    else if (http_header_get(p->req, "Accept-Language", &al))
        pick = ui_locale_pick(arena_strndup(&p->req->arena, al.p, al.len));
    snprintf(p->locale, sizeof(p->locale), "%s", pick ? pick : "en");
}

static void brand(struct page *p)
{
    char v[128];
    static char name[128], logo[256], support[256];
    p->ui.brand_name = "otpgate";
    p->ui.brand_logo = NULL;
    p->ui.brand_accent = NULL;
    p->ui.brand_support = NULL;
    if (store_meta_get(server_db(p->srv), "brand_support", support, sizeof(support)) == OG_OK &&
        support[0])
        p->ui.brand_support = support;
    if (store_meta_get(server_db(p->srv), "brand_name", v, sizeof(v)) == OG_OK && v[0]) {
        snprintf(name, sizeof(name), "%s", v);
        p->ui.brand_name = name;
    }
    if (store_meta_get(server_db(p->srv), "brand_logo", logo, sizeof(logo)) == OG_OK && logo[0])
        p->ui.brand_logo = logo;
}

static void ui_fill(struct page *p)
{
    pick_locale(p);
    brand(p);
    p->ui.locale = p->locale;
    p->ui.csrf = p->have_sess ? p->csrf : "";
    p->ui.app_name = p->app_name[0] ? p->app_name : NULL;
    p->ui.notice = msg_key(query_str(p, "n"), "notice.");
    p->ui.error = msg_key(query_str(p, "e"), "err.");
    p->ui.error_arg = msg_arg(query_str(p, "a"));
    p->ui.dev_outbox = p->srv->cfg->dev_enabled;
    /* Waits travel as seconds and are said in human time. */
    if (p->ui.error && p->ui.error_arg &&
        (strcmp(p->ui.error, "err.wait") == 0 || strcmp(p->ui.error, "err.rate_limited") == 0 ||
         strcmp(p->ui.error, "err.wrong_wait") == 0 ||
         strcmp(p->ui.error, "err.passkey_wait") == 0 ||
         strcmp(p->ui.error, "err.resend_wait") == 0)) {
        char *end = NULL;
        long long secs = strtoll(p->ui.error_arg, &end, 10);
        if (end && *end == '\0' && secs > 0) {
            char *text = arena_alloc(&p->req->arena, 64);
            ui_duration(p->locale, secs, text, 64);
            p->ui.error_arg = text;
        } else {
            p->ui.error_arg = NULL;
        }
    }
}

/* Ends the request's part of the batch and queues the answer. */
static void page_send(struct page *p, int status, struct buf *html)
{
    if (p->have_sess && p->sess_dirty)
        sessions_save(server_db(p->srv), &p->sess);
    if (p->in_batch) {
        batch_request_end(p->srv, true);
        p->in_batch = false;
    }
    if (p->have_sess)
        sessions_free(&p->sess);
    char *body = NULL;
    size_t len = 0;
    if (html) {
        body = buf_detach(html, &len);
        http_page_headers_to(p->req, p->origin[0] ? p->origin : NULL);
    }
    batch_answer(p->srv, p->req, status, html ? "text/html; charset=utf-8" : NULL, body, len);
}

static void redirect(struct page *p, const char *location)
{
    http_header_add(p->req, "Location", location);
    http_header_add(p->req, "Cache-Control", "no-store");
    page_send(p, 303, NULL);
}

static void redirect_msg(struct page *p, const char *path, const char *kind, const char *key,
                         const char *arg)
{
    struct buf loc;
    buf_init(&loc, 2048);
    buf_append_str(&loc, path);
    url_append_param(&loc, kind, key);
    if (arg)
        url_append_param(&loc, "a", arg);
    char *location = arena_strndup(&p->req->arena, loc.data, loc.len);
    buf_free(&loc);
    redirect(p, location);
}

/* A message page; arg (may be NULL) fills the body's "%s". */
static void message_page_arg(struct page *p, int status, const char *title, const char *body,
                             const char *arg)
{
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_fill(p);
    p->ui.error = NULL;
    p->ui.notice = NULL;
    p->ui.error_arg = arg;
    ui_page_message(&html, &p->ui, title, body);
    page_send(p, status, &html);
}

static void message_page(struct page *p, int status, const char *title, const char *body)
{
    message_page_arg(p, status, title, body, NULL);
}

/* Loads the session (and the app, policy, user) and, for POSTs, the form
 * and its CSRF token. On false an answer has been sent. */
static bool page_start(struct http_request *req, struct page *p, bool post)
{
    memset(p, 0, sizeof(*p));
    p->req = req;
    p->srv = req->srv;
    struct server *s = req->srv;
    int64_t now = server_now_ms();

    struct span cookies, value;
    if (http_header_get(req, "Cookie", &cookies) && cookie_get(cookies, SESSION_COOKIE, &value)) {
        char *cookie = arena_strndup(&req->arena, value.p, value.len);
        if (sessions_load(server_db(s), cookie, now, &p->sess) == OG_OK) {
            p->have_sess = true;
            /* A flow that went back to the app opens no page again. */
            if (p->sess.flags & SESSION_ENDED) {
                sessions_free(&p->sess);
                p->have_sess = false;
            }
        }
    }
    if (!p->have_sess) {
        message_page(p, 401, "title.session_expired", "body.session_expired");
        return false;
    }
    sessions_csrf_token(s->keys.csrf, &p->sess, p->csrf, sizeof(p->csrf));
    if (p->sess.return_to) {
        /* scheme://host[:port] of the way back */
        const char *r = p->sess.return_to, *h = strstr(r, "://");
        size_t n = h ? (size_t)(h + 3 - r) + strcspn(h + 3, "/?#") : 0;
        if (n > 0 && n < sizeof(p->origin))
            snprintf(p->origin, sizeof(p->origin), "%.*s", (int)n, r);
    }
    if (post) {
        struct span ct;
        if (!http_header_get(req, "Content-Type", &ct) ||
            !span_starts_with(ct, "application/x-www-form-urlencoded") ||
            form_parse(&req->arena, span_make(req->body.data ? req->body.data : "", req->body.len),
                       64, &p->form) != OG_OK) {
            message_page(p, 400, "title.error", "body.error");
            return false;
        }
        const char *token = form_str(p, "csrf");
        if (!token || !sessions_csrf_check(s->keys.csrf, &p->sess, token, strlen(token))) {
            message_page(p, 403, "title.error", "err.csrf");
            return false;
        }
    }
    struct app app;
    if (apps_get(server_db(s), p->sess.app_id, &app) == OG_OK) {
        snprintf(p->app_name, sizeof(p->app_name), "%s", app.name);
        apps_free(&app);
    }
    if (policy_load(server_db(s), p->sess.app_id, &p->pol) != OG_OK ||
        batch_request_begin(s) != OG_OK) {
        http_header_add(req, "Retry-After", "1");
        message_page(p, 503, "title.error", "body.error");
        return false;
    }
    p->in_batch = true;
    p->ctx.store = server_db(s);
    p->ctx.keys = &s->keys;
    p->ctx.pol = &p->pol;
    p->ctx.app_id = p->sess.app_id;
    p->ctx.app_name = p->app_name[0] ? p->app_name : p->sess.app_id;
    p->ctx.issuer = p->ctx.app_name;
    p->ctx.now_ms = now;
    p->ctx.client_ip = req->client_ip;
    struct span ua;
    if (http_header_get(req, "User-Agent", &ua) && ua.len > 0)
        p->ctx.user_agent = arena_strndup(&req->arena, ua.p, ua.len < 512 ? ua.len : 512);
    if (users_get_or_create(&p->ctx, p->sess.sub, &p->user) != MFA_OK) {
        message_page(p, 500, "title.error", "body.error");
        return false;
    }
    ui_fill(p);
    return true;
}

/* ---- factors for the views -------------------------------------------- */

struct factor_list {
    struct page *p;
    struct ui_factor items[32];
    struct mfa_factor raw[32];
    size_t count;
    bool active_only;
};

/* A past time as the user says it ("5 minutes ago", a date); NULL for
 * never. */
static void fmt_time(struct page *p, int64_t ms, const char **out)
{
    if (ms <= 0) {
        *out = NULL;
        return;
    }
    char *s = arena_alloc(&p->req->arena, 48);
    ui_time_ago(p->locale, p->ctx.now_ms, ms, s, 48);
    *out = s;
}

/* A date to come ("24 Nov 2026"). */
static void fmt_date(struct page *p, int64_t ms, const char **out)
{
    char *s = arena_alloc(&p->req->arena, 48);
    ui_date(p->locale, ms, s, 48);
    *out = s;
}

static void collect(const struct mfa_factor *f, void *arg)
{
    struct factor_list *l = arg;
    if (l->count >= ARRAY_SIZE(l->items) || (l->active_only && !f->active))
        return;
    struct page *p = l->p;
    l->raw[l->count] = *f;
    struct mfa_factor *r = &l->raw[l->count];
    struct ui_factor *u = &l->items[l->count];
    memset(u, 0, sizeof(*u));
    u->id = r->id;
    u->type = factor_type_name(r->type);
    if (r->type == FACTOR_WEBAUTHN) {
        char *name = arena_alloc(&p->req->arena, WEBAUTHN_NAME_MAX + 1);
        webauthn_credential_name(&p->ctx, r->id, name);
        u->masked = name;
        fmt_time(p, r->created_at, &u->created_at);
    } else if (r->type != FACTOR_TOTP) {
        char *m = arena_alloc(&p->req->arena, CONTACT_MASK_SIZE);
        if (r->type == FACTOR_SMS)
            contact_phone_mask(r->destination, m, CONTACT_MASK_SIZE);
        else
            contact_email_mask(r->destination, m, CONTACT_MASK_SIZE);
        u->masked = m;
    }
    u->active = r->active;
    u->preferred = strcmp(p->user.preferred, r->id) == 0;
    u->last_used = strcmp(p->user.last_used, r->id) == 0;
    fmt_time(p, r->last_used_at, &u->last_used_at);
    l->count++;
}

static void list_factors(struct page *p, struct factor_list *l, bool active_only)
{
    memset(l, 0, sizeof(*l));
    l->p = p;
    l->active_only = active_only;
    factors_each(&p->ctx, &p->user, collect, l);
}

static int64_t active_count(struct page *p)
{
    return factors_count_active(&p->ctx, &p->user);
}

/* ---- the gate --------------------------------------------------------- */

/* Whether passkeys can be added here: the policy allows them and the
 * public URL can carry them (https or http://localhost; config.c). */
static bool can_passkey(const struct page *p)
{
    return (p->pol.factors & FACTOR_BIT_WEBAUTHN) && p->srv->cfg->webauthn_rp_id[0];
}

static void count_passkey(const struct webauthn_stored *s, void *arg)
{
    (void)s;
    (*(int *)arg)++;
}

/* The user's active passkeys that work here (of this RP ID). */
static int passkey_count(struct page *p)
{
    int n = 0;
    if (p->srv->cfg->webauthn_rp_id[0])
        webauthn_credential_each(&p->ctx, &p->user, p->srv->cfg->webauthn_rp_id, count_passkey, &n);
    return n;
}

/* Whether the user could bind some factor here: allowed by the policy and,
 * for codes, with a channel to send them. */
static bool can_enrol(struct page *p)
{
    return ((p->pol.factors & FACTOR_BIT_SMS) && delivery_available(p->srv, FACTOR_SMS)) ||
           ((p->pol.factors & FACTOR_BIT_EMAIL) && delivery_available(p->srv, FACTOR_EMAIL)) ||
           (p->pol.factors & FACTOR_BIT_TOTP) || can_passkey(p);
}

/* What the app asked of this flow's freshness: OIDC max_age (or the /start
 * link's), and prompt=login (a second step now, whatever came before). */
struct freshness {
    bool max_age_given;
    int64_t max_age_s;
    bool force_step;
    bool phr; /* acr_values=phr: only a passkey will do */
};

static void flow_freshness(const struct page *p, struct freshness *f)
{
    memset(f, 0, sizeof(*f));
    json_error_t jerr;
    json_t *flow = p->sess.flow ? json_loads(p->sess.flow, 0, &jerr) : NULL;
    json_t *ma = json_object_get(flow, "max_age");
    if (json_is_integer(ma) && json_integer_value(ma) >= 0) {
        f->max_age_given = true;
        f->max_age_s = json_integer_value(ma);
    }
    f->force_step = json_is_true(json_object_get(flow, "prompt_login"));
    f->phr = json_is_true(json_object_get(flow, "acr_values_phr"));
    json_decref(flow);
}

/* Whether only a passkey passes this flow's second step: the app asked
 * (acr_values=phr) or the policy requires it. */
static bool phr_required(const struct page *p)
{
    struct freshness fr;
    flow_freshness(p, &fr);
    return fr.phr || p->pol.require_phishing_resistant;
}

/* The remembered-device cookie's name. With an https public URL it is
 * __Host-: a browser then takes it only from this origin over https, so
 * no sibling subdomain or plain-http answer can plant a token it knows
 * (remember_device keeps the browser's token for every account it
 * remembers there). */
static const char *device_cookie(const struct page *p)
{
    return p->srv->cfg->public_https ? "__Host-" DEVICE_COOKIE : DEVICE_COOKIE;
}

/* The browser's remembered-device token (the cookie), or NULL. */
static const char *device_token(struct page *p)
{
    struct span cookies, v;
    if (!http_header_get(p->req, "Cookie", &cookies) ||
        !cookie_get(cookies, device_cookie(p), &v) || !devices_token_ok(v.p, v.len))
        return NULL;
    return arena_strndup(&p->req->arena, v.p, v.len);
}

/* Whether the policy lets this flow remember the browser (the checkbox):
 * never where only a passkey passes, which a remembered browser is not. */
static bool remember_allowed(const struct page *p)
{
    return p->pol.remember_device_days > 0 && strcmp(p->sess.purpose, "login") == 0 &&
           !phr_required(p);
}

/* When the second step behind this browser's remembered device passed, if
 * the policy allows one for this user now; else 0. */
static int64_t remembered_at(struct page *p)
{
    const char *token = remember_allowed(p) ? device_token(p) : NULL;
    struct device d;
    if (!token || devices_find(server_db(p->srv), &p->srv->keys, token, p->sess.app_id, p->sess.sub,
                               p->pol.remember_device_all, p->ctx.now_ms,
                               (int64_t)p->pol.remember_device_days * DAY_MS, &d) != OG_OK)
        return 0;
    return d.step_at;
}

/* Asks the one gate decision (src/core/gate.c) about action, with the
 * facts of this session, user and policy. */
static void gate_ask(struct page *p, enum gate_action action, struct gate_decision *d)
{
    struct freshness fr;
    flow_freshness(p, &fr);
    struct gate_input in = {
        .mode = p->pol.mode,
        .entry = strcmp(p->sess.purpose, "manage") == 0 ? GATE_ENTRY_MANAGE : GATE_ENTRY_LOGIN,
        .action = action,
        .active_factors = (int)active_count(p),
        .can_enrol = can_enrol(p),
        .locked = p->user.locked,
        .offered_before = p->user.enrol_offered && !(p->sess.flags & SESSION_OFFERED),
        .declined = (p->sess.flags & SESSION_DECLINED) != 0,
        .passed_at = p->sess.passed_at,
        .stepup_at = p->sess.stepup_at,
        .passed_amr = p->sess.amr,
        .max_age_given = fr.max_age_given,
        .max_age_s = fr.max_age_s,
        .force_step = fr.force_step,
        .phr_required = fr.phr || p->pol.require_phishing_resistant,
        .passed_phr = (p->sess.flags & SESSION_PHR) != 0,
        .can_enrol_phr = can_passkey(p),
        .now_ms = p->ctx.now_ms,
        .stepup_window_ms = STEPUP_FRESH_MS,
    };
    if (in.phr_required)
        in.phr_factors = passkey_count(p);
    if (in.locked)
        in.recovery_usable = p->pol.recovery_codes && recovery_codes_left(&p->ctx, &p->user) > 0;
    if (action == GATE_RETURN && in.entry == GATE_ENTRY_LOGIN && in.active_factors > 0 &&
        !in.passed_at && !in.locked && !in.force_step && p->pol.mode != POLICY_OFF)
        in.remembered_at = remembered_at(p);
    gate_decide(&in, d);
}

static void refused_page(struct page *p, const struct gate_decision *d)
{
    if (strcmp(d->reason, "locked") == 0) {
        bool support = p->ui.brand_support && p->ui.brand_support[0];
        message_page_arg(p, 423, "title.locked",
                         support ? "body.locked_contact" : "body.locked_admin",
                         support ? p->ui.brand_support : NULL);
        return;
    }
    message_page(p, 403, "title.cannot_enrol",
                 strcmp(d->reason, "cannot_enrol_phr") == 0 ? "body.cannot_enrol_phr"
                                                            : "body.cannot_enrol");
}

/* Sends the user where a verdict other than "continue" points. */
static void gate_follow(struct page *p, const struct gate_decision *d)
{
    switch (d->verdict) {
    case GATE_CHALLENGE:
        redirect(p, d->stale ? "/challenge?stepup=1" : "/challenge");
        return;
    case GATE_ENROL:
    case GATE_OFFER:
        redirect(p, "/enrol");
        return;
    case GATE_REFUSE:
        refused_page(p, d);
        return;
    case GATE_CONTINUE:
        break;
    }
    message_page(p, 500, "title.error", "body.error");
}

/* ---- finishing a flow ------------------------------------------------- */

/* The flow is over: the row stays only as the record of its second step,
 * which a "manage" flow started right after may reuse (gate_reuse_prior);
 * without one it goes. */
static void end_session(struct page *p)
{
    int64_t keep_until = p->sess.passed_at + STEPUP_FRESH_MS;
    if (p->sess.passed_at > 0 && keep_until > p->ctx.now_ms) {
        p->sess.flags |= SESSION_ENDED;
        p->sess.expires_at = keep_until;
        p->sess.challenge_id[0] = '\0';
        p->sess.pending_factor[0] = '\0';
        sessions_save(server_db(p->srv), &p->sess);
    } else {
        sessions_delete(server_db(p->srv), &p->sess);
    }
    p->sess_dirty = false;
}

/* The signed result of a /start flow: HS256 with the app's secret, like
 * the link that brought the user; malloc'd, NULL on failure. */
static char *result_token(struct page *p, const struct gate_decision *d)
{
    struct server *s = p->srv;
    char *secret = NULL;
    if (apps_secret(server_db(s), &s->keys, p->sess.app_id, &secret) != OG_OK)
        return NULL;
    json_error_t jerr;
    json_t *amr = json_loads(d->amr, 0, &jerr);
    char jti[40];
    random_token(16, jti, sizeof(jti));
    int64_t now_s = p->ctx.now_ms / 1000;
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:o, s:b, s:s, s:I, s:s?}", "iss",
                               s->cfg->public_url, "aud", p->sess.app_id, "sub", p->sess.sub, "iat",
                               (json_int_t)now_s, "exp", (json_int_t)(now_s + RESULT_TTL_S), "jti",
                               jti, "amr", amr ? amr : json_array(), "mfa", d->mfa, "acr", d->acr,
                               "auth_time", (json_int_t)d->auth_time_s, "state", p->sess.state);
    char *token = claims ? jwt_hs256_sign(claims, (const uint8_t *)secret, strlen(secret)) : NULL;
    json_decref(claims);
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
    return token;
}

/* An OpenID Connect authorization code for the app's token request, with
 * the decision's acr, amr and auth_time; 0 or an og_err. */
static int oidc_code(struct page *p, const struct gate_decision *d, json_t *flow, char *code,
                     size_t codelen)
{
    struct authcode c;
    memset(&c, 0, sizeof(c));
    snprintf(c.app_id, sizeof(c.app_id), "%s", p->sess.app_id);
    snprintf(c.sub, sizeof(c.sub), "%s", p->sess.sub);
    snprintf(c.redirect_uri, sizeof(c.redirect_uri), "%s", p->sess.return_to);
    const char *v = json_string_value(json_object_get(flow, "nonce"));
    snprintf(c.nonce, sizeof(c.nonce), "%s", v ? v : "");
    v = json_string_value(json_object_get(flow, "code_challenge"));
    snprintf(c.code_challenge, sizeof(c.code_challenge), "%s", v ? v : "");
    v = json_string_value(json_object_get(flow, "scope"));
    snprintf(c.scope, sizeof(c.scope), "%s", v ? v : "openid");
    snprintf(c.amr, sizeof(c.amr), "%s", d->amr);
    snprintf(c.acr, sizeof(c.acr), "%s", d->acr);
    c.auth_time = d->auth_time_s;
    return authcodes_create(server_db(p->srv), &c, p->ctx.now_ms, OIDC_CODE_TTL_MS, code, codelen);
}

/* Sends the user back to the app with a success. Only ever called with a
 * GATE_CONTINUE decision of GATE_RETURN or GATE_DECLINE: the gate is the
 * one place that says yes. */
static void finish_success(struct page *p, const struct gate_decision *d)
{
    struct server *s = p->srv;
    const char *ret = p->sess.return_to;
    audit_log(&p->ctx, p->sess.sub, "login_returned", NULL, d->reason);
    if (!ret || !ret[0]) {
        end_session(p);
        message_page(p, 200, "title.done", "body.done");
        return;
    }
    struct buf loc;
    buf_init(&loc, 8192);
    buf_append_str(&loc, ret);
    json_error_t jerr;
    json_t *flow = p->sess.flow ? json_loads(p->sess.flow, 0, &jerr) : NULL;
    bool oidc = json_is_true(json_object_get(flow, "oidc"));
    if (oidc) {
        char code[64];
        int rc = oidc_code(p, d, flow, code, sizeof(code));
        if (rc == OG_OK)
            url_append_param(&loc, "code", code);
        OPENSSL_cleanse(code, sizeof(code));
        if (rc != OG_OK) {
            json_decref(flow);
            buf_free(&loc);
            message_page(p, 500, "title.error", "body.error");
            return;
        }
    } else {
        char *token = result_token(p, d);
        if (!token) {
            json_decref(flow);
            buf_free(&loc);
            message_page(p, 500, "title.error", "body.error");
            return;
        }
        url_append_param(&loc, "otpgate_result", token);
        free(token);
    }
    json_decref(flow);
    if (p->sess.state && p->sess.state[0])
        url_append_param(&loc, "state", p->sess.state);
    if (oidc) /* RFC 9207: the issuer, so the app can tell who answered */
        url_append_param(&loc, "iss", s->cfg->public_url);
    end_session(p);
    char *location = arena_strndup(&p->req->arena, loc.data, loc.len);
    buf_free(&loc);
    redirect(p, location);
}

/* The user gives up: back to the app with error=access_denied (never a
 * success, so no gate question). */
static void finish_cancel(struct page *p)
{
    const char *ret = p->sess.return_to;
    audit_log(&p->ctx, p->sess.sub, "login_cancelled", NULL, NULL);
    sessions_delete(server_db(p->srv), &p->sess);
    p->sess_dirty = false;
    if (!ret || !ret[0]) {
        message_page(p, 200, "title.done", "body.done");
        return;
    }
    json_error_t jerr;
    json_t *flow = p->sess.flow ? json_loads(p->sess.flow, 0, &jerr) : NULL;
    bool oidc = json_is_true(json_object_get(flow, "oidc"));
    json_decref(flow);
    struct buf loc;
    buf_init(&loc, 8192);
    buf_append_str(&loc, ret);
    url_append_param(&loc, "error", "access_denied");
    if (p->sess.state && p->sess.state[0])
        url_append_param(&loc, "state", p->sess.state);
    if (oidc)
        url_append_param(&loc, "iss", p->srv->cfg->public_url);
    char *location = arena_strndup(&p->req->arena, loc.data, loc.len);
    buf_free(&loc);
    redirect(p, location);
}

/* Back to the app if the gate says so, else where it points. */
static void try_return(struct page *p, enum gate_action action)
{
    struct gate_decision d;
    gate_ask(p, action, &d);
    if (d.verdict == GATE_CONTINUE)
        finish_success(p, &d);
    else
        gate_follow(p, &d);
}

/* Where the user goes next in this session's flow (SPEC §5): a sign-in
 * goes back to the app when the gate allows it; "manage" opens the account
 * page when the gate allows that. */
static void flow_next(struct page *p)
{
    if (strcmp(p->sess.purpose, "manage") == 0) {
        struct gate_decision d;
        gate_ask(p, GATE_VIEW_ACCOUNT, &d);
        if (d.verdict == GATE_CONTINUE)
            redirect(p, "/account");
        else
            gate_follow(p, &d);
        return;
    }
    try_return(p, GATE_RETURN);
}

/* ---- entry ------------------------------------------------------------ */

/* GET /start?token=JWT: the signed link an app makes (HS256 with its client
 * secret, like SPEC §6's request object): iss (client_id), sub, aud (our
 * public URL), iat, exp (at most 5 minutes), jti (once), return_to (one of
 * the app's redirect URIs), optional state, purpose ("login" or "manage"),
 * ui_locales. Opens a session and starts the flow. */
void page_start_link(struct http_request *req)
{
    struct page p;
    memset(&p, 0, sizeof(p));
    p.req = req;
    p.srv = req->srv;
    struct server *s = req->srv;
    const char *token = query_str(&p, "token");
    json_t *claims = NULL;
    char *secret = NULL;
    const char *why = "malformed";
    int64_t now = server_now_ms();

    /* The issuer names the app whose secret must have signed the token;
     * read it unverified only to pick that key. */
    const char *dot1 = token ? strchr(token, '.') : NULL;
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    char iss[MFA_ID_LEN] = "";
    if (dot2) {
        uint8_t *raw = NULL;
        size_t n = 0;
        if (b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &raw, &n) == OG_OK) {
            json_error_t jerr;
            json_t *unverified = json_loadb((const char *)raw, n, 0, &jerr);
            const char *v = json_string_value(json_object_get(unverified, "iss"));
            if (v && strlen(v) < sizeof(iss))
                snprintf(iss, sizeof(iss), "%s", v);
            json_decref(unverified);
            free(raw);
        }
    }
    if (iss[0] && apps_secret(server_db(s), &s->keys, iss, &secret) == OG_OK &&
        jwt_hs256_verify(token, (const uint8_t *)secret, strlen(secret), &claims) == OG_OK) {
        if (jwt_check_times(claims, now / 1000, LINK_MAX_AGE_S, 30, &why) == OG_OK)
            why = NULL;
        /* A link lives at most 5 minutes (2 s of slack for libraries that
         * read the clock once for iat and again for exp). */
        if (!why && !jwt_check_lifetime(claims, LINK_MAX_AGE_S + 2))
            why = "exp more than 5 minutes after iat";
    } else {
        why = "bad signature or unknown app";
    }
    if (secret) {
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
    }
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    const char *ret = json_string_value(json_object_get(claims, "return_to"));
    const char *purpose = json_string_value(json_object_get(claims, "purpose"));
    if (!why && (!sub || !sub[0] || strlen(sub) > MFA_SUB_MAX))
        why = "sub";
    if (!why && (!aud || strcmp(aud, s->cfg->public_url) != 0))
        why = "aud";
    if (!why && (!jti || !jti[0] || strlen(jti) > 128))
        why = "jti";
    if (!why && purpose && strcmp(purpose, "login") != 0 && strcmp(purpose, "manage") != 0)
        why = "purpose";
    if (!why && ret) {
        struct app app;
        bool ok = false;
        if (apps_get(server_db(s), iss, &app) == OG_OK) {
            for (size_t i = 0; i < app.redirect_count; i++)
                if (strcmp(app.redirect_uris[i], ret) == 0)
                    ok = true;
            apps_free(&app);
        }
        if (!ok)
            why = "return_to";
    }
    if (!why &&
        sessions_jti_use(server_db(s), iss, jti, now + (int64_t)LINK_MAX_AGE_S * 2000) != OG_OK)
        why = "replayed";
    if (why) {
        log_info("signed link refused", "reason", why, "app", iss[0] ? iss : NULL, "ip",
                 req->client_ip);
        json_decref(claims);
        message_page(&p, 400, "title.link_invalid", "body.link_invalid");
        return;
    }
    const char *state = json_string_value(json_object_get(claims, "state"));
    const char *locales = json_string_value(json_object_get(claims, "ui_locales"));
    /* The same freshness an OIDC request may ask for: max_age, prompt=login. */
    json_t *max_age = json_object_get(claims, "max_age");
    const char *prompt = json_string_value(json_object_get(claims, "prompt"));
    if (max_age && (!json_is_integer(max_age) || json_integer_value(max_age) < 0)) {
        log_info("signed link refused", "reason", "max_age", "app", iss, "ip", req->client_ip);
        json_decref(claims);
        message_page(&p, 400, "title.link_invalid", "body.link_invalid");
        return;
    }
    json_t *flow = json_object();
    if (max_age)
        json_object_set_new(flow, "max_age", json_integer(json_integer_value(max_age)));
    if (prompt && strcmp(prompt, "login") == 0)
        json_object_set_new(flow, "prompt_login", json_true());
    if (oidc_acr_values_phr(json_string_value(json_object_get(claims, "acr_values"))))
        json_object_set_new(flow, "acr_values_phr", json_true());
    char *flow_text = json_object_size(flow) ? json_dumps(flow, JSON_COMPACT) : NULL;
    json_decref(flow);
    pages_begin(req, iss, sub, purpose ? purpose : "login", ret, state, locales, flow_text);
    free(flow_text);
    json_decref(claims);
}

void pages_begin(struct http_request *req, const char *app_id, const char *sub, const char *purpose,
                 const char *return_to, const char *state, const char *ui_locales,
                 const char *flow_json)
{
    struct page p;
    memset(&p, 0, sizeof(p));
    p.req = req;
    p.srv = req->srv;
    struct server *s = req->srv;
    snprintf(p.sess.app_id, sizeof(p.sess.app_id), "%s", app_id);
    snprintf(p.sess.sub, sizeof(p.sess.sub), "%s", sub);
    snprintf(p.sess.purpose, sizeof(p.sess.purpose), "%s", purpose);
    p.sess.return_to = return_to ? og_strdup(return_to) : NULL;
    p.sess.state = state ? og_strdup(state) : NULL;
    p.sess.flow = flow_json ? og_strdup(flow_json) : NULL;
    if (ui_locales)
        snprintf(p.sess.locale, sizeof(p.sess.locale), "%s", ui_locale_pick(ui_locales));
    char cookie[96];
    if (batch_request_begin(s) == OG_OK)
        p.in_batch = true;
    /* The browser's earlier flow is replaced by this one; a second step it
     * passed for the same app and user may stand for this flow if the gate
     * says so ("Manage" right after a sign-in does not ask again). */
    int64_t now = server_now_ms();
    struct span cookies, value;
    struct session old;
    if (p.in_batch && http_header_get(req, "Cookie", &cookies) &&
        cookie_get(cookies, SESSION_COOKIE, &value) &&
        sessions_load(server_db(s), arena_strndup(&req->arena, value.p, value.len), now, &old) ==
            OG_OK) {
        enum gate_entry entry =
            strcmp(purpose, "manage") == 0 ? GATE_ENTRY_MANAGE : GATE_ENTRY_LOGIN;
        struct freshness fr;
        flow_freshness(&p, &fr);
        if (strcmp(old.app_id, app_id) == 0 && strcmp(old.sub, sub) == 0 &&
            gate_reuse_prior(entry, old.passed_at, now, STEPUP_FRESH_MS, fr.max_age_given,
                             fr.max_age_s, fr.force_step)) {
            p.sess.passed_at = old.passed_at;
            p.sess.stepup_at = old.stepup_at;
            p.sess.flags |= old.flags & SESSION_PHR;
            snprintf(p.sess.amr, sizeof(p.sess.amr), "%s", old.amr);
        }
        sessions_delete(server_db(s), &old);
        sessions_free(&old);
    }
    if (!p.in_batch || sessions_create(server_db(s), &p.sess, now, SESSION_TTL_MS, cookie,
                                       sizeof(cookie)) != OG_OK) {
        sessions_free(&p.sess);
        message_page(&p, 500, "title.error", "body.error");
        return;
    }
    p.have_sess = true;
    cookie_header(&p, SESSION_COOKIE, cookie, SESSION_TTL_MS / 1000);
    OPENSSL_cleanse(cookie, sizeof(cookie));
    redirect(&p, "/flow");
}

void page_flow(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, false))
        return;
    flow_next(&p);
}

/* ---- passkeys: the relying party and the sign-in on /challenge --------- */

/* The relying party of the pages: the public URL's origin (and RP ID), the
 * app's name for authenticators to show. */
static void passkey_party(const struct page *p, struct webauthn_party *rp)
{
    memset(rp, 0, sizeof(*rp));
    rp->rp_id = p->srv->cfg->webauthn_rp_id;
    rp->rp_name = p->ctx.app_name;
    rp->origins[0] = p->srv->cfg->webauthn_origin;
    rp->origin_count = 1;
}

/* A form field holding JSON (the PublicKeyCredential passkey.js posts),
 * parsed; NULL when absent, too long or not JSON. */
static json_t *form_json(struct page *p, const char *key)
{
    struct span v;
    if (!kv_get(&p->form, key, &v) || v.len == 0 || v.len > WEBAUTHN_JSON_MAX)
        return NULL;
    json_error_t jerr;
    return json_loadb(v.p, v.len, JSON_REJECT_DUPLICATES, &jerr);
}

/* The challenge page shows the user's passkeys as one way ("Passkey or
 * security key": any of them may answer the sign-in), standing where the
 * last used or preferred one would; none when they cannot work here; and
 * when only a passkey passes (phr), nothing else. */
static void passkeys_one_way(struct page *p, struct factor_list *l, bool phr)
{
    int usable = (p->pol.factors & FACTOR_BIT_WEBAUTHN) ? passkey_count(p) : 0;
    size_t keep = l->count;
    const char *prefer[2] = {p->user.last_used, p->user.preferred};
    for (int k = 0; k < 2 && keep == l->count; k++)
        for (size_t i = 0; i < l->count; i++)
            if (l->raw[i].type == FACTOR_WEBAUTHN && strcmp(l->raw[i].id, prefer[k]) == 0)
                keep = i;
    for (size_t i = 0; i < l->count && keep == l->count; i++)
        if (l->raw[i].type == FACTOR_WEBAUTHN)
            keep = i;
    size_t n = 0;
    for (size_t i = 0; i < l->count; i++) {
        bool pk = l->raw[i].type == FACTOR_WEBAUTHN;
        if (pk ? (usable == 0 || i != keep) : (phr && usable > 0))
            continue;
        l->items[n] = l->items[i];
        l->raw[n] = l->raw[i];
        if (pk)
            l->items[n].masked = NULL;
        n++;
    }
    l->count = n;
}

/* Opens a sign-in ceremony bound to this session for the challenge page.
 * False when none can begin. */
static bool passkey_signin_view(struct page *p, struct ui_challenge_view *v)
{
    struct webauthn_party rp;
    passkey_party(p, &rp);
    struct webauthn_begun b;
    if (webauthn_signin_begin(&p->ctx, &p->user, &rp, p->sess.id_hash, &b) != MFA_OK)
        return false;
    char *text = json_dumps(b.options, JSON_COMPACT);
    json_decref(b.options);
    if (!text)
        return false;
    v->passkey_options = arena_strndup(&p->req->arena, text, strlen(text));
    free(text);
    v->passkey_id = arena_strndup(&p->req->arena, b.id, strlen(b.id));
    return true;
}

/* ---- the challenge ---------------------------------------------------- */

static bool pick_current(struct page *p, struct factor_list *l, const char *asked, size_t *index)
{
    const char *order[3] = {asked, p->user.last_used, p->user.preferred};
    for (int k = 0; k < 3; k++) {
        if (!order[k] || !order[k][0])
            continue;
        for (size_t i = 0; i < l->count; i++) {
            if (strcmp(l->items[i].id, order[k]) == 0) {
                *index = i;
                return true;
            }
        }
    }
    if (l->count) {
        *index = 0;
        return true;
    }
    return false;
}

void page_challenge(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, false))
        return;
    struct factor_list l;
    list_factors(&p, &l, true);
    bool phr = phr_required(&p);
    passkeys_one_way(&p, &l, phr);
    bool phr_view = phr && l.count > 0 && l.raw[0].type == FACTOR_WEBAUTHN && l.count == 1;
    if (l.count == 0 && active_count(&p) == 0) {
        flow_next(&p);
        return;
    }
    bool recovery_allowed = p.pol.recovery_codes && recovery_codes_left(&p.ctx, &p.user) > 0;
    if (p.user.locked && !recovery_allowed) {
        struct gate_decision d;
        gate_ask(&p, GATE_RETURN, &d);
        if (d.verdict == GATE_REFUSE) {
            refused_page(&p, &d);
            return;
        }
    }
    size_t cur = 0;
    const char *asked = query_str(&p, "factor");
    bool have_current = pick_current(&p, &l, asked, &cur);
    struct ui_factor others[32];
    size_t n = 0;
    for (size_t i = 0; i < l.count; i++)
        if (i != cur)
            others[n++] = l.items[i];
    struct ui_challenge_view v = {
        .current = have_current ? &l.items[cur] : NULL,
        .others = others,
        .other_count = n,
        /* Under phr a recovery code is the way out of a lock only. */
        .recovery_allowed = recovery_allowed && (!phr_view || p.user.locked),
        .stepup = query_str(&p, "stepup") != NULL || p.sess.passed_at > 0,
        .locked = p.user.locked,
        .phr = phr_view,
    };
    if (remember_allowed(&p) && !v.stepup)
        v.remember_days = (int)p.pol.remember_device_days;
    const char *method = query_str(&p, "method");
    v.recovery = method && strcmp(method, "recovery") == 0 && v.recovery_allowed;
    if (have_current && l.raw[cur].type == FACTOR_WEBAUTHN && !v.locked && !v.recovery &&
        !passkey_signin_view(&p, &v))
        p.ui.error = "err.generic";
    if (v.locked) {
        struct buf html;
        buf_init(&html, 1u << 20);
        ui_page_challenge(&html, &p.ui, &v);
        page_send(&p, 200, &html);
        return;
    }
    /* A code already sent for this factor in this session shows the code
     * form; loading the page never sends one. */
    if (have_current && p.sess.challenge_id[0] && l.raw[cur].type != FACTOR_TOTP &&
        l.raw[cur].type != FACTOR_WEBAUTHN) {
        struct mfa_user u;
        struct mfa_challenge ch;
        if (challenges_get(&p.ctx, p.sess.challenge_id, &u, &ch) == MFA_OK &&
            strcmp(ch.factor_id, l.raw[cur].id) == 0 && ch.attempts_left > 0 &&
            ch.expires_at > p.ctx.now_ms) {
            v.code_sent = true;
            int64_t wait = ch.resend_at - p.ctx.now_ms;
            v.resend_after = wait > 0 ? (int)((wait + 999) / 1000) : 0;
        }
    }
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_page_challenge(&html, &p.ui, &v);
    page_send(&p, 200, &html);
}

static const char *fmt_int(struct page *p, int64_t v)
{
    return arena_printf(&p->req->arena, "%lld", (long long)v);
}

/* Maps a refused check or send to a message on the page at back. */
static void refuse(struct page *p, const char *back, enum mfa_result r, const struct mfa_outcome *o)
{
    switch (r) {
    case MFA_WRONG_CODE: {
        /* Say what comes next: a wait that has begun, the lock when it is
         * near, waits about to begin, else this code's tries left. */
        int64_t lock_left = (int64_t)p->pol.lockout_hard - p->user.failures;
        int64_t free_left = (int64_t)p->pol.lockout_free + 1 - p->user.failures;
        bool dead = o->attempts_left == 0 && o->type != FACTOR_TOTP && !o->recovery;
        if (o->retry_after > 0)
            redirect_msg(p, back, "e", "err.wrong_wait", fmt_int(p, o->retry_after));
        else if (dead) /* "Tries left: 0" would leave the user typing into a dead code */
            redirect_msg(p, back, "e", "err.wrong_code_dead", NULL);
        else if (lock_left > 0 && lock_left <= LOCK_WARN_TRIES)
            redirect_msg(p, back, "e", "err.wrong_lock_soon", fmt_int(p, lock_left));
        else if (free_left > 0 && free_left <= WAIT_WARN_TRIES && p->pol.lockout_wait > 0)
            redirect_msg(p, back, "e", "err.wrong_wait_soon", fmt_int(p, free_left));
        else if (o->attempts_left >= 0 && o->type != FACTOR_TOTP && !o->recovery)
            redirect_msg(p, back, "e", "err.wrong_code", fmt_int(p, o->attempts_left));
        else
            redirect_msg(p, back, "e", o->recovery ? "err.recovery_wrong" : "err.wrong_code", NULL);
        return;
    }
    case MFA_EXPIRED:
        redirect_msg(p, back, "e", "err.expired", NULL);
        return;
    case MFA_NO_ATTEMPTS:
        redirect_msg(p, back, "e", "err.no_attempts", NULL);
        return;
    case MFA_DONE:
        redirect_msg(p, back, "e", "err.expired", NULL);
        return;
    case MFA_WAIT:
        redirect_msg(p, back, "e", "err.wait", fmt_int(p, o->retry_after));
        return;
    case MFA_LIMITED:
        /* "Send again" before its countdown ended (no script to hold the
         * button back): say when, not "too many codes". */
        if (o->limit && strcmp(o->limit, "resend_cooldown") == 0)
            redirect_msg(p, back, "e", "err.resend_wait", fmt_int(p, o->retry_after));
        else
            redirect_msg(p, back, "e", "err.rate_limited", fmt_int(p, o->retry_after));
        return;
    case MFA_LOCKED:
        redirect_msg(p, back, "e", "err.locked", NULL);
        return;
    case MFA_CONFLICT:
        redirect_msg(p, back, "e", "err.conflict", NULL);
        return;
    case MFA_NOT_ALLOWED:
        redirect_msg(p, back, "e", "err.not_allowed", NULL);
        return;
    case MFA_COUNTRY:
        redirect_msg(p, back, "e", "err.country", NULL);
        return;
    default:
        break;
    }
    if (p->in_batch) {
        batch_request_end(p->srv, false);
        p->in_batch = false;
    }
    redirect_msg(p, back, "e", "err.generic", NULL);
}

static const char *challenge_url(struct page *p, const char *factor_id)
{
    return arena_printf(&p->req->arena, "/challenge?factor=%s", factor_id);
}

static bool factor_id_ok(const char *id)
{
    if (!id || strlen(id) >= MFA_ID_LEN)
        return false;
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return true;
}

static bool send_code(struct page *p, struct mfa_factor *f, const char *purpose,
                      struct mfa_challenge *ch, struct mfa_outcome *o, enum mfa_result *r)
{
    if (!delivery_available(p->srv, f->type)) {
        *r = MFA_ERROR;
        return false;
    }
    *r = challenges_create(&p->ctx, &p->user, f, purpose, ch, o);
    if (*r != MFA_OK)
        return false;
    if (delivery_queue_code(p->srv, ch->type, ch->destination, ch->code, p->sess.app_id,
                            p->ctx.app_name, p->user.id, p->pol.code_ttl, p->locale,
                            purpose) != OG_OK) {
        OPENSSL_cleanse(ch->code, sizeof(ch->code));
        *r = MFA_ERROR;
        return false;
    }
    OPENSSL_cleanse(ch->code, sizeof(ch->code));
    snprintf(p->sess.challenge_id, sizeof(p->sess.challenge_id), "%s", ch->id);
    p->sess_dirty = true;
    return true;
}

void page_challenge_send(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    const char *fid = form_str(&p, "factor_id");
    struct mfa_factor f;
    if (!factor_id_ok(fid) || factors_get(&p.ctx, &p.user, fid, &f) != MFA_OK || !f.active) {
        redirect_msg(&p, "/challenge", "e", "err.generic", NULL);
        return;
    }
    const char *back = challenge_url(&p, f.id);
    if (f.type == FACTOR_TOTP) {
        redirect(&p, back);
        return;
    }
    /* "Send again" on an open challenge is a resend: earlier codes stay
     * valid and the cooldown doubles. */
    struct mfa_user u;
    struct mfa_challenge ch;
    struct mfa_outcome o = {.attempts_left = -1};
    enum mfa_result r;
    if (p.sess.challenge_id[0] && challenges_get(&p.ctx, p.sess.challenge_id, &u, &ch) == MFA_OK &&
        strcmp(ch.factor_id, f.id) == 0 && ch.attempts_left > 0) {
        r = challenges_resend(&p.ctx, &p.user, &ch, &o);
        if (r == MFA_OK && delivery_queue_code(p.srv, ch.type, ch.destination, ch.code,
                                               p.sess.app_id, p.ctx.app_name, p.user.id,
                                               p.pol.code_ttl, p.locale, ch.purpose) != OG_OK)
            r = MFA_ERROR;
        OPENSSL_cleanse(ch.code, sizeof(ch.code));
    } else {
        send_code(&p, &f, p.sess.passed_at ? "stepup" : "login", &ch, &o, &r);
    }
    if (r != MFA_OK) {
        refuse(&p, back, r, &o);
        return;
    }
    char masked[CONTACT_MASK_SIZE];
    if (f.type == FACTOR_SMS)
        contact_phone_mask(f.destination, masked, sizeof(masked));
    else
        contact_email_mask(f.destination, masked, sizeof(masked));
    redirect_msg(&p, back, "n", "notice.code_sent", masked);
}

/* A second step passed with amr (a passkey's when phr): the session id
 * changes, the flow goes on. */
static void passed_amr(struct page *p, const char *factor_id, const char *amr, bool phr)
{
    struct server *s = p->srv;
    users_record_success(&p->ctx, &p->user, factor_id);
    snprintf(p->sess.amr, sizeof(p->sess.amr), "%s", amr);
    if (phr)
        p->sess.flags |= SESSION_PHR;
    else
        p->sess.flags &= ~(unsigned)SESSION_PHR;
    p->sess.passed_at = p->ctx.now_ms;
    p->sess.stepup_at = p->ctx.now_ms;
    p->sess.challenge_id[0] = '\0';
    char cookie[96];
    if (sessions_rotate(server_db(s), &p->sess, cookie, sizeof(cookie)) == OG_OK) {
        cookie_header(p, SESSION_COOKIE, cookie, SESSION_TTL_MS / 1000);
        /* The CSRF token follows the session id: forms on this answer
         * must carry the new one. */
        sessions_csrf_token(s->keys.csrf, &p->sess, p->csrf, sizeof(p->csrf));
    }
    OPENSSL_cleanse(cookie, sizeof(cookie));
    p->sess_dirty = true;
}

/* The user proved a factor with a code. */
static void passed(struct page *p, enum factor_type type, bool recovery, const char *factor_id)
{
    enum gate_method m = recovery               ? GATE_METHOD_RECOVERY
                         : type == FACTOR_SMS   ? GATE_METHOD_SMS
                         : type == FACTOR_EMAIL ? GATE_METHOD_EMAIL
                                                : GATE_METHOD_TOTP;
    passed_amr(p, factor_id, gate_amr(m), false);
}

/* "Don't ask again on this device": a row for this user and app (or every
 * app of scope all) behind the browser's token, made now; the cookie lasts
 * as long as the row. */
static void remember_device(struct page *p)
{
    const char *token = device_token(p);
    char fresh[DEVICES_TOKEN_LEN];
    if (!token) {
        devices_token_new(fresh);
        token = fresh;
    }
    struct device d;
    if (devices_remember(server_db(p->srv), &p->srv->keys, token, p->sess.app_id, p->sess.sub,
                         p->pol.remember_device_all, p->ctx.now_ms, p->ctx.now_ms,
                         p->pol.remember_device_days, p->ctx.user_agent, p->ctx.client_ip,
                         &d) != OG_OK) {
        OPENSSL_cleanse(fresh, sizeof(fresh));
        return;
    }
    cookie_header(p, device_cookie(p), token, (int64_t)p->pol.remember_device_days * 86400);
    OPENSSL_cleanse(fresh, sizeof(fresh));
    audit_log(&p->ctx, p->sess.sub, "device_remembered", NULL, d.user_agent);
}

static bool stepup_pending(struct page *p)
{
    return p->sess.passed_at > 0 && strcmp(p->sess.purpose, "manage") == 0;
}

/* After a code or passkey step passed: a step-up goes back to the account
 * page; a sign-in remembers the browser when asked and allowed, then asks
 * the gate where the flow goes (flow_next). */
static void after_step(struct page *p, bool was_stepup)
{
    if (was_stepup) {
        redirect(p, "/account");
        return;
    }
    if (form_str(p, "remember") && remember_allowed(p))
        remember_device(p);
    flow_next(p);
}

void page_challenge_verify(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    const char *fid = form_str(&p, "factor_id");
    const char *code = form_str(&p, "code");
    struct mfa_factor f;
    if (!factor_id_ok(fid) || !code || factors_get(&p.ctx, &p.user, fid, &f) != MFA_OK ||
        !f.active) {
        redirect_msg(&p, "/challenge", "e", "err.generic", NULL);
        return;
    }
    /* Where only a passkey passes and the user has one, a code is no way
     * in; it is not even checked (no oracle for a relayed code). */
    if (phr_required(&p) && passkey_count(&p) > 0) {
        redirect_msg(&p, "/challenge", "e", "err.passkey_only", NULL);
        return;
    }
    const char *back = challenge_url(&p, f.id);
    struct mfa_outcome o = {.attempts_left = -1, .type = f.type};
    enum mfa_result r;
    if (f.type == FACTOR_TOTP) {
        r = users_gate(&p.ctx, &p.user, &o);
        if (r == MFA_OK) {
            r = factors_check_totp(&p.ctx, &p.user, f.id, code, &o);
            if (r != MFA_OK) {
                o.type = FACTOR_TOTP;
                r = users_fail(&p.ctx, &p.user, &o, "verify_failed", f.id, "totp");
            } else {
                audit_log_user(&p.ctx, &p.user, "verify_ok", f.id, "totp");
            }
        }
    } else {
        struct mfa_user u;
        struct mfa_challenge ch;
        r = p.sess.challenge_id[0] ? challenges_get(&p.ctx, p.sess.challenge_id, &u, &ch)
                                   : MFA_NOT_FOUND;
        if (r == MFA_OK && strcmp(ch.factor_id, f.id) != 0)
            r = MFA_NOT_FOUND;
        if (r == MFA_OK) {
            r = challenges_verify(&p.ctx, &p.user, &ch, code, &o);
            if (r == MFA_OK) {
                /* challenges_verify records the success itself */
                users_find(&p.ctx, p.user.sub, &p.user);
            }
        } else if (r == MFA_NOT_FOUND) {
            r = MFA_EXPIRED;
        }
    }
    if (r != MFA_OK) {
        refuse(&p, back, r, &o);
        return;
    }
    bool was_stepup = stepup_pending(&p) || p.sess.passed_at > 0;
    passed(&p, f.type, false, f.id);
    after_step(&p, was_stepup);
}

void page_challenge_recovery(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    const char *code = form_str(&p, "code");
    const char *back = "/challenge?method=recovery";
    struct mfa_outcome o = {.attempts_left = -1, .recovery = true};
    /* A recovery code is the way out of a lock; waits still apply to it. */
    enum mfa_result r = users_gate_recovery(&p.ctx, &p.user, &o);
    if (r == MFA_OK && (!code || !p.pol.recovery_codes))
        r = MFA_WRONG_CODE;
    if (r == MFA_OK) {
        r = recovery_codes_consume(&p.ctx, &p.user, code, &o);
        if (r == MFA_WRONG_CODE) {
            o.recovery = true;
            r = users_fail(&p.ctx, &p.user, &o, "verify_failed", NULL, "recovery_code");
        }
    }
    if (r != MFA_OK) {
        o.recovery = true;
        refuse(&p, back, r, &o);
        return;
    }
    audit_log_user(&p.ctx, &p.user, "verify_ok", NULL, "recovery_code");
    bool was_stepup = p.sess.passed_at > 0;
    passed(&p, FACTOR_TOTP, true, NULL);
    /* SPEC §4: at 3 or fewer left, the next page prompts for a new set. */
    if (o.recovery_left <= 3) {
        redirect_msg(&p, "/account", "n", "notice.recovery_low", fmt_int(&p, o.recovery_left));
        return;
    }
    if (was_stepup) {
        redirect(&p, "/account");
        return;
    }
    flow_next(&p);
}

/* Maps a refused passkey ceremony to a message on the page at back. */
static void passkey_refuse(struct page *p, const char *back, enum mfa_result r,
                           const struct mfa_outcome *o, enum webauthn_result why)
{
    if (r == MFA_WRONG_CODE || r == MFA_INVALID)
        log_info("passkey refused", "reason", webauthn_result_code(why), "app", p->sess.app_id,
                 "ip", p->req->client_ip);
    switch (r) {
    case MFA_WRONG_CODE:
        if (o->retry_after > 0)
            redirect_msg(p, back, "e", "err.passkey_wait", fmt_int(p, o->retry_after));
        else
            redirect_msg(p, back, "e", "err.passkey_refused", NULL);
        return;
    case MFA_INVALID:
        redirect_msg(p, back, "e", "err.passkey_refused", NULL);
        return;
    case MFA_NOT_FOUND:
    case MFA_EXPIRED:
    case MFA_DONE:
        redirect_msg(p, back, "e", "err.passkey_expired", NULL);
        return;
    case MFA_CONFLICT:
        redirect_msg(p, back, "e", "err.passkey_exists", NULL);
        return;
    default:
        refuse(p, back, r, o);
    }
}

/* POST /challenge/passkey: the answer of "Use your passkey" (challenge_id,
 * credential, factor_id for the way back, remember). Passing it is the
 * second step, phishing-resistant (acr phr). */
void page_challenge_passkey(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    const char *fid = form_str(&p, "factor_id");
    const char *back = factor_id_ok(fid) && fid[0] ? challenge_url(&p, fid) : "/challenge";
    struct webauthn_party rp;
    passkey_party(&p, &rp);
    json_t *cred = form_json(&p, "credential");
    struct webauthn_done done = {.why = WEBAUTHN_OK};
    struct mfa_outcome o = {.attempts_left = -1, .type = FACTOR_WEBAUTHN};
    enum mfa_result r =
        rp.rp_id[0] ? webauthn_signin_finish(&p.ctx, &p.user, &rp, form_str(&p, "challenge_id"),
                                             p.sess.id_hash, cred, &done, &o)
                    : MFA_NOT_ALLOWED;
    json_decref(cred);
    if (r != MFA_OK) {
        passkey_refuse(&p, back, r, &o, done.why);
        return;
    }
    bool was_stepup = stepup_pending(&p) || p.sess.passed_at > 0;
    passed_amr(&p, done.factor_id, done.amr, true);
    after_step(&p, was_stepup);
}

void page_challenge_cancel(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    finish_cancel(&p);
}

/* ---- account ---------------------------------------------------------- */

/* The account page and its changes: the gate decides (a passed second step
 * when the user has a factor; a fresh one for changes). On false an answer
 * (a redirect to the challenge) has been sent. */
static bool account_allowed(struct page *p, bool change)
{
    struct gate_decision d;
    gate_ask(p, change ? GATE_CHANGE_ACCOUNT : GATE_VIEW_ACCOUNT, &d);
    if (d.verdict == GATE_CONTINUE)
        return true;
    gate_follow(p, &d);
    return false;
}

/* ---- remembered devices ----------------------------------------------- */

struct device_list {
    struct page *p;
    struct ui_device items[32];
    size_t count;
    const char *current; /* the id of this browser's device, or NULL */
};

static void collect_device(const struct device *d, void *arg)
{
    struct device_list *l = arg;
    if (l->count >= ARRAY_SIZE(l->items))
        return;
    struct page *p = l->p;
    struct ui_device *u = &l->items[l->count++];
    u->id = arena_strndup(&p->req->arena, d->id, strlen(d->id));
    u->summary = arena_strndup(&p->req->arena, d->user_agent, strlen(d->user_agent));
    fmt_time(p, d->created_at, &u->created);
    fmt_time(p, d->last_seen_at, &u->last_seen);
    fmt_date(p, d->expires_at, &u->expires);
    u->current = l->current && strcmp(l->current, d->id) == 0;
}

/* The user's remembered devices, this browser's marked. */
static void list_devices(struct page *p, struct device_list *l)
{
    memset(l, 0, sizeof(*l));
    l->p = p;
    const char *token = device_token(p);
    struct device mine;
    if (token && devices_find(server_db(p->srv), &p->srv->keys, token, p->sess.app_id, p->sess.sub,
                              p->pol.remember_device_all, p->ctx.now_ms, -1, &mine) == OG_OK)
        l->current = arena_strndup(&p->req->arena, mine.id, strlen(mine.id));
    devices_each(server_db(p->srv), p->sess.app_id, p->sess.sub, p->ctx.now_ms, collect_device, l);
}

/* POST /account/devices/forget: one device (device_id) or all (all=1);
 * a change like any other, so it needs a fresh second step. */
void page_account_devices_forget(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    if (!account_allowed(&p, true))
        return;
    const char *id = form_str(&p, "device_id");
    if (form_str(&p, "all")) {
        users_forget_devices(&p.ctx, p.sess.sub, "forgotten by the user");
        redirect_msg(&p, "/account", "n", "notice.devices_forgotten", NULL);
        return;
    }
    if (!id || strlen(id) >= DEVICES_ID_LEN ||
        devices_forget(server_db(p.srv), p.sess.app_id, p.sess.sub, id) != OG_OK) {
        redirect_msg(&p, "/account", "e", "err.generic", NULL);
        return;
    }
    audit_log(&p.ctx, p.sess.sub, "device_forgotten", NULL, id);
    redirect_msg(&p, "/account", "n", "notice.device_forgotten", NULL);
}

void page_account(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, false))
        return;
    if (!account_allowed(&p, false))
        return;
    struct factor_list l;
    list_factors(&p, &l, false);
    int64_t active = active_count(&p);
    struct ui_account_view v = {
        .factors = l.items,
        .factor_count = l.count,
        /* Recovery codes stand in for factors: without one there are none. */
        .recovery_left =
            p.pol.recovery_codes && active > 0 ? recovery_codes_left(&p.ctx, &p.user) : -1,
        .can_sms = (p.pol.factors & FACTOR_BIT_SMS) && delivery_available(p.srv, FACTOR_SMS),
        .can_email = (p.pol.factors & FACTOR_BIT_EMAIL) && delivery_available(p.srv, FACTOR_EMAIL),
        .can_totp = (p.pol.factors & FACTOR_BIT_TOTP) != 0,
        .can_passkey = can_passkey(&p),
        .back_to_app = p.sess.return_to && p.sess.return_to[0],
        .mandatory = p.pol.mode == POLICY_MANDATORY,
    };
    struct device_list dl;
    list_devices(&p, &dl);
    v.devices = dl.items;
    v.device_count = dl.count;
    v.show_devices = p.pol.remember_device_days > 0;
    if (!p.ui.notice && v.recovery_left >= 0 && v.recovery_left <= 3) {
        p.ui.notice = "notice.recovery_low";
        p.ui.error_arg = fmt_int(&p, v.recovery_left);
    }
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_page_account(&html, &p.ui, &v);
    page_send(&p, 200, &html);
}

static bool type_from_path(struct page *p, enum factor_type *t)
{
    /* /account/add/{type}: the type is the route's first parameter. */
    if (p->req->param_count < 1)
        return false;
    struct span s = p->req->params[0];
    char name[16];
    if (s.len >= sizeof(name))
        return false;
    memcpy(name, s.p, s.len);
    name[s.len] = '\0';
    return factor_type_parse(name, t) == OG_OK;
}

static void render_bind(struct page *p, const struct ui_bind_view *v, int status)
{
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_page_bind(&html, &p->ui, v);
    page_send(p, status, &html);
}

/* ---- passkeys: adding and renaming ------------------------------------ */

static void issue_recovery_codes(struct page *p, const char *notice, const char *arg);

/* GET /account/add/webauthn: opens a registration bound to this session
 * (excluding the user's passkeys) and shows "Create a passkey". */
static void render_passkey(struct page *p)
{
    if (!can_passkey(p)) {
        redirect_msg(p, "/account", "e", "err.not_allowed", NULL);
        return;
    }
    struct webauthn_party rp;
    passkey_party(p, &rp);
    /* What the authenticator shows: the app's e-mail and name claims. */
    json_error_t jerr;
    json_t *flow = p->sess.flow ? json_loads(p->sess.flow, 0, &jerr) : NULL;
    struct webauthn_begun b;
    enum mfa_result r = webauthn_register_begin(
        &p->ctx, &p->user, &rp, p->sess.id_hash, json_string_value(json_object_get(flow, "email")),
        json_string_value(json_object_get(flow, "name")), &b);
    json_decref(flow);
    if (r != MFA_OK) {
        refuse(p, "/account", r, &(struct mfa_outcome){.attempts_left = -1});
        return;
    }
    char *text = json_dumps(b.options, JSON_COMPACT);
    json_decref(b.options);
    bool phr = phr_required(p);
    struct ui_passkey_view v = {
        .challenge_id = b.id,
        .options = text ? text : "{}",
        .cancel = strcmp(p->sess.purpose, "login") == 0 && (phr || active_count(p) == 0)
                      ? "/enrol"
                      : "/account",
        .phr = phr,
    };
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_page_passkey(&html, &p->ui, &v);
    free(text);
    page_send(p, 200, &html);
}

/* After a new method was confirmed (before: the active methods until
 * then): the first one shows recovery codes, a sign-in flow asks the gate
 * where it goes, else the account page says what was added. */
static void after_factor_added(struct page *p, int64_t before, const char *notice, const char *arg)
{
    if (before == 0 && p->pol.recovery_codes) {
        issue_recovery_codes(p, notice, arg);
        return;
    }
    if (strcmp(p->sess.purpose, "login") == 0 && p->sess.return_to) {
        flow_next(p);
        return;
    }
    redirect_msg(p, "/account", "n", notice, arg);
}

/* POST /account/add/webauthn: the answer of "Create a passkey"
 * (challenge_id, credential, name). Adding a passkey is a second step
 * passed with it, as confirming an authenticator app is; the first factor
 * brings recovery codes. */
static void passkey_register(struct page *p)
{
    const char *back = "/account/add/webauthn";
    if (!can_passkey(p)) {
        redirect_msg(p, "/account", "e", "err.not_allowed", NULL);
        return;
    }
    struct webauthn_party rp;
    passkey_party(p, &rp);
    char hint[DEVICES_UA_LEN];
    devices_ua_summary(p->ctx.user_agent ? p->ctx.user_agent : "", hint, sizeof(hint));
    json_t *cred = form_json(p, "credential");
    int64_t before = active_count(p);
    struct mfa_factor f;
    struct webauthn_done done = {.why = WEBAUTHN_OK};
    enum mfa_result r =
        webauthn_register_finish(&p->ctx, &p->user, &rp, form_str(p, "challenge_id"),
                                 p->sess.id_hash, cred, form_str(p, "name"), hint, &f, &done);
    json_decref(cred);
    if (r != MFA_OK) {
        passkey_refuse(p, back, r, &(struct mfa_outcome){.attempts_left = -1}, done.why);
        return;
    }
    passed_amr(p, NULL, done.amr, true);
    after_factor_added(p, before, "notice.passkey_added", NULL);
}

/* POST /account/rename: a passkey's new name (factor_id, name). */
void page_account_rename(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    if (!account_allowed(&p, true))
        return;
    const char *fid = form_str(&p, "factor_id");
    const char *name = form_str(&p, "name");
    enum mfa_result r = factor_id_ok(fid) && name
                            ? webauthn_credential_rename(&p.ctx, &p.user, fid, name)
                            : MFA_NOT_FOUND;
    if (r != MFA_OK) {
        refuse(&p, "/account", r, &(struct mfa_outcome){.attempts_left = -1});
        return;
    }
    redirect_msg(&p, "/account", "n", "notice.passkey_renamed", NULL);
}

static void render_totp(struct page *p)
{
    struct mfa_factor f;
    char *uri = NULL, *secret = NULL;
    /* After a mistyped first code the same secret is shown again: the one
     * the user's app already holds. */
    const char *again = query_str(p, "factor");
    enum mfa_result r = MFA_NOT_FOUND;
    if (again && strcmp(again, p->sess.pending_factor) == 0) {
        r = factors_pending_totp(&p->ctx, &p->user, again, &uri, &secret);
        if (r == MFA_OK)
            snprintf(f.id, sizeof(f.id), "%s", again);
    }
    if (r != MFA_OK)
        r = factors_add_totp(&p->ctx, &p->user, &f, &uri, &secret);
    if (r != MFA_OK) {
        refuse(p, "/account", r, &(struct mfa_outcome){.attempts_left = -1});
        return;
    }
    snprintf(p->sess.pending_factor, sizeof(p->sess.pending_factor), "%s", f.id);
    p->sess_dirty = true;
    /* The secret in groups of four, as authenticator apps ask for it. */
    size_t n = strlen(secret);
    char *groups = arena_alloc(&p->req->arena, n + n / 4 + 2);
    size_t g = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && i % 4 == 0)
            groups[g++] = ' ';
        groups[g++] = secret[i];
    }
    groups[g] = '\0';
    char *svg = ui_qr_svg(uri, ui_t(p->locale, "totp.qr_label"));
    struct buf html;
    buf_init(&html, 2u << 20);
    ui_page_totp(&html, &p->ui, svg ? svg : "", groups, f.id, uri);
    free(svg);
    OPENSSL_cleanse(secret, n);
    OPENSSL_cleanse(uri, strlen(uri));
    free(secret);
    free(uri);
    /* The page holds the secret: never cached. */
    page_send(p, 200, &html);
}

void page_account_add_form(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, false))
        return;
    enum factor_type t;
    if (!type_from_path(&p, &t)) {
        message_page(&p, 404, "title.error", "body.error");
        return;
    }
    if (!account_allowed(&p, true))
        return;
    if (!(p.pol.factors & factor_type_bit(t))) {
        redirect_msg(&p, "/account", "e", "err.not_allowed", NULL);
        return;
    }
    if (t == FACTOR_TOTP) {
        render_totp(&p);
        return;
    }
    if (t == FACTOR_WEBAUTHN) {
        render_passkey(&p);
        return;
    }
    const char *step = query_str(&p, "step");
    struct ui_bind_view v = {.type = factor_type_name(t), .step = 1};
    /* The browser's region (Accept-Language "en-GB" is gb), else the
     * page's language's. */
    struct span al;
    const struct ui_country *home =
        http_header_get(req, "Accept-Language", &al)
            ? ui_country_from_accept_language(arena_strndup(&req->arena, al.p, al.len))
            : NULL;
    v.country = home ? home->iso : strcmp(p.locale, "zh") == 0 ? "cn" : "gb";
    /* SPEC §6: the app's email / phone_number claims prefill enrolment. */
    json_error_t jerr;
    json_t *flow = p.sess.flow ? json_loads(p.sess.flow, 0, &jerr) : NULL;
    const char *hint =
        json_string_value(json_object_get(flow, t == FACTOR_SMS ? "phone_number" : "email"));
    if (hint)
        v.value = arena_strndup(&req->arena, hint, strlen(hint));
    json_decref(flow);
    if (step && strcmp(step, "2") == 0 && p.sess.pending_factor[0]) {
        struct mfa_factor f;
        if (factors_get(&p.ctx, &p.user, p.sess.pending_factor, &f) == MFA_OK && !f.active &&
            f.type == t) {
            v.step = 2;
            v.factor_id = arena_strndup(&req->arena, f.id, strlen(f.id));
            char *m = arena_alloc(&req->arena, CONTACT_MASK_SIZE);
            if (t == FACTOR_SMS)
                contact_phone_mask(f.destination, m, CONTACT_MASK_SIZE);
            else
                contact_email_mask(f.destination, m, CONTACT_MASK_SIZE);
            v.masked = m;
            struct mfa_user u;
            struct mfa_challenge ch;
            /* A dead code (no tries left, expired) can be replaced now. */
            if (p.sess.challenge_id[0] &&
                challenges_get(&p.ctx, p.sess.challenge_id, &u, &ch) == MFA_OK &&
                ch.attempts_left > 0 && ch.expires_at > p.ctx.now_ms) {
                int64_t wait = ch.resend_at - p.ctx.now_ms;
                v.resend_after = wait > 0 ? (int)((wait + 999) / 1000) : 0;
            }
        }
    }
    render_bind(&p, &v, 200);
}

void page_account_add(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    enum factor_type t;
    if (!type_from_path(&p, &t) || t == FACTOR_TOTP) {
        message_page(&p, 404, "title.error", "body.error");
        return;
    }
    if (!account_allowed(&p, true))
        return;
    if (t == FACTOR_WEBAUTHN) {
        passkey_register(&p);
        return;
    }
    const char *back = t == FACTOR_SMS ? "/account/add/sms" : "/account/add/email";
    char dest[MFA_DEST_LEN];
    int rc;
    /* What was typed comes back with the error beside it (422), never
     * lost on a redirect. */
    struct ui_bind_view again = {.type = factor_type_name(t), .step = 1};
    if (t == FACTOR_SMS) {
        const char *picked = form_str(&p, "country");
        /* The picker sends an ISO code ("gb"); a bare calling code works too. */
        const struct ui_country *k = ui_country_by_iso(picked);
        const char *country = k ? k->code : picked;
        const char *phone = form_str(&p, "phone");
        again.country = picked;
        again.value = phone;
        char full[64];
        while (phone && *phone == ' ')
            phone++;
        if (phone && phone[0] == '+') {
            snprintf(full, sizeof(full), "%s", phone);
        } else {
            /* A number typed the national way keeps its trunk prefix 0,
             * which is not dialled after the country code (Italy's is). */
            if (phone && phone[0] == '0' && phone[1] != '0' && country &&
                strcmp(country, "39") != 0)
                phone++;
            snprintf(full, sizeof(full), "+%s %s", country ? country : "", phone ? phone : "");
        }
        rc = contact_phone_normalize(full, dest, sizeof(dest));
        if (rc == OG_OK && !sendlimits_country_allowed(&p.pol, dest)) {
            p.ui.error = "err.country";
            render_bind(&p, &again, 422);
            return;
        }
    } else {
        const char *email = form_str(&p, "email");
        again.value = email;
        rc = email ? contact_email_normalize(email, dest, sizeof(dest)) : OG_ERR_INVALID;
    }
    if (rc != OG_OK) {
        p.ui.error = t == FACTOR_SMS ? "err.invalid_phone" : "err.invalid_email";
        render_bind(&p, &again, 422);
        return;
    }
    if (!delivery_available(p.srv, t)) {
        redirect_msg(&p, back, "e", "err.delivery", NULL);
        return;
    }
    struct mfa_factor f;
    enum mfa_result r = factors_add_contact(&p.ctx, &p.user, t, dest, &f);
    struct mfa_challenge ch;
    struct mfa_outcome o = {.attempts_left = -1};
    if (r == MFA_OK && !send_code(&p, &f, "enrol", &ch, &o, &r)) {
        /* Nothing of a refused send stays behind (no pending factor). */
        batch_request_end(p.srv, false);
        p.in_batch = false;
        p.sess_dirty = false;
        refuse(&p, back, r, &o);
        return;
    }
    if (r != MFA_OK) {
        refuse(&p, back, r, &o);
        return;
    }
    snprintf(p.sess.pending_factor, sizeof(p.sess.pending_factor), "%s", f.id);
    p.sess_dirty = true;
    char path[64];
    snprintf(path, sizeof(path), "%s?step=2", back);
    char masked[CONTACT_MASK_SIZE];
    if (t == FACTOR_SMS)
        contact_phone_mask(dest, masked, sizeof(masked));
    else
        contact_email_mask(dest, masked, sizeof(masked));
    redirect_msg(&p, path, "n", "notice.code_sent", masked);
}

void page_account_resend(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    struct mfa_user u;
    struct mfa_challenge ch;
    struct mfa_outcome o = {.attempts_left = -1};
    const char *back = "/account";
    enum mfa_result r = p.sess.challenge_id[0]
                            ? challenges_get(&p.ctx, p.sess.challenge_id, &u, &ch)
                            : MFA_NOT_FOUND;
    if (r == MFA_OK) {
        back = ch.type == FACTOR_SMS ? "/account/add/sms?step=2" : "/account/add/email?step=2";
        struct mfa_factor f;
        if ((ch.attempts_left <= 0 || ch.expires_at <= p.ctx.now_ms) &&
            factors_get(&p.ctx, &p.user, ch.factor_id, &f) == MFA_OK && !f.active) {
            /* The code is dead (no tries left, or expired): "Send again"
             * opens a new one rather than refusing. */
            struct mfa_challenge fresh;
            send_code(&p, &f, "enrol", &fresh, &o, &r);
        } else {
            r = challenges_resend(&p.ctx, &p.user, &ch, &o);
            if (r == MFA_OK && delivery_queue_code(p.srv, ch.type, ch.destination, ch.code,
                                                   p.sess.app_id, p.ctx.app_name, p.user.id,
                                                   p.pol.code_ttl, p.locale, ch.purpose) != OG_OK)
                r = MFA_ERROR;
            OPENSSL_cleanse(ch.code, sizeof(ch.code));
        }
    }
    if (r != MFA_OK) {
        refuse(&p, back, r, &o);
        return;
    }
    redirect_msg(&p, back, "n", "notice.code_sent", NULL);
}

#define REVEAL_AAD "reveal:recovery-codes"

/* Makes a new set of recovery codes (voiding the old one), keeps it sealed
 * in the session and redirects to the page that shows it once: a reload of
 * that page, or of the POST before it, never makes another set. */
static void issue_recovery_codes(struct page *p, const char *notice, const char *arg)
{
    char codes[RECOVERY_COUNT][20];
    if (recovery_codes_new(&p->ctx, &p->user, codes) != MFA_OK) {
        refuse(p, "/account", MFA_ERROR, &(struct mfa_outcome){.attempts_left = -1});
        return;
    }
    char joined[RECOVERY_COUNT * 20];
    size_t n = 0;
    for (int i = 0; i < RECOVERY_COUNT; i++) {
        size_t len = strlen(codes[i]);
        memcpy(joined + n, codes[i], len);
        n += len;
        joined[n++] = '\n';
    }
    OPENSSL_cleanse(codes, sizeof(codes));
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int rc = secret_seal(p->srv->keys.seal, (const uint8_t *)joined, n, REVEAL_AAD, &sealed,
                         &sealed_len);
    OPENSSL_cleanse(joined, sizeof(joined));
    if (rc != OG_OK) {
        refuse(p, "/account", MFA_ERROR, &(struct mfa_outcome){.attempts_left = -1});
        return;
    }
    free(p->sess.reveal);
    p->sess.reveal = sealed;
    p->sess.reveal_len = sealed_len;
    p->sess_dirty = true;
    redirect_msg(p, "/account/recovery-codes", "n", notice, arg);
}

/* GET /account/recovery-codes: the set made just before, shown once. */
void page_account_recovery_show(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, false))
        return;
    if (!account_allowed(&p, false))
        return;
    uint8_t *plain = NULL;
    size_t n = 0;
    if (!p.sess.reveal || secret_open(p.srv->keys.seal, p.sess.reveal, p.sess.reveal_len,
                                      REVEAL_AAD, &plain, &n) != OG_OK) {
        redirect_msg(&p, "/account", "e", "err.codes_shown_once", NULL);
        return;
    }
    /* Shown once: the sealed copy goes with this answer's commit. */
    OPENSSL_cleanse(p.sess.reveal, p.sess.reveal_len);
    free(p.sess.reveal);
    p.sess.reveal = NULL;
    p.sess.reveal_len = 0;
    p.sess_dirty = true;
    const char *list[RECOVERY_COUNT];
    size_t count = 0;
    char *text = arena_strndup(&req->arena, (const char *)plain, n);
    OPENSSL_cleanse(plain, n);
    free(plain);
    for (char *line = text; count < RECOVERY_COUNT && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        list[count++] = line;
        if (!nl)
            break;
        line = nl + 1;
    }
    if (!p.ui.notice)
        p.ui.notice = "notice.recovery_new";
    struct buf html;
    buf_init(&html, 1u << 20);
    char today[16];
    time_t now_s = (time_t)(p.ctx.now_ms / 1000);
    struct tm tm;
    gmtime_r(&now_s, &tm);
    strftime(today, sizeof(today), "%Y-%m-%d", &tm);
    ui_page_recovery_codes(&html, &p.ui, list, count, "/account/continue", p.sess.sub, today);
    OPENSSL_cleanse(text, n);
    page_send(&p, 200, &html);
}

/* "Text message added for +44 •••• 34.": the notice names the method. */
static const char *added_notice(enum factor_type t)
{
    return t == FACTOR_SMS     ? "notice.added_sms"
           : t == FACTOR_EMAIL ? "notice.added_email"
           : t == FACTOR_TOTP  ? "notice.added_totp"
                               : "notice.factor_added";
}

static const char *added_arg(struct page *p, const struct mfa_factor *f)
{
    if (f->type != FACTOR_SMS && f->type != FACTOR_EMAIL)
        return NULL;
    char *m = arena_alloc(&p->req->arena, CONTACT_MASK_SIZE);
    if (f->type == FACTOR_SMS)
        contact_phone_mask(f->destination, m, CONTACT_MASK_SIZE);
    else
        contact_email_mask(f->destination, m, CONTACT_MASK_SIZE);
    return m;
}

void page_account_verify(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    /* Confirming a new method is a change to the account: the gate says
     * whether this session may make it (a user who has an active method
     * passes a fresh step first), and only the factor this session began
     * binding can be confirmed (not one another session left pending). */
    if (!account_allowed(&p, true))
        return;
    const char *fid = form_str(&p, "factor_id");
    const char *code = form_str(&p, "code");
    struct mfa_factor f;
    if (!factor_id_ok(fid) || !code || strcmp(fid, p.sess.pending_factor) != 0 ||
        factors_get(&p.ctx, &p.user, fid, &f) != MFA_OK) {
        redirect_msg(&p, "/account", "e", "err.generic", NULL);
        return;
    }
    const char *back = f.type == FACTOR_SMS     ? "/account/add/sms?step=2"
                       : f.type == FACTOR_EMAIL ? "/account/add/email?step=2"
                                                : "/account";
    if (f.active) {
        redirect_msg(&p, "/account", "e", "err.conflict", NULL);
        return;
    }
    int64_t before = active_count(&p);
    struct mfa_outcome o = {.attempts_left = -1, .type = f.type};
    enum mfa_result r;
    if (f.type == FACTOR_TOTP) {
        r = factors_verify_totp_enrolment(&p.ctx, &p.user, &f, code, &o);
    } else {
        struct mfa_user u;
        struct mfa_challenge ch;
        r = p.sess.challenge_id[0] ? challenges_get(&p.ctx, p.sess.challenge_id, &u, &ch)
                                   : MFA_NOT_FOUND;
        if (r == MFA_OK && strcmp(ch.factor_id, f.id) != 0)
            r = MFA_NOT_FOUND;
        if (r == MFA_OK)
            r = challenges_verify(&p.ctx, &p.user, &ch, code, &o);
        else if (r == MFA_NOT_FOUND)
            r = MFA_EXPIRED;
        if (r == MFA_OK)
            users_find(&p.ctx, p.user.sub, &p.user);
    }
    if (r != MFA_OK) {
        if (f.type == FACTOR_TOTP && r == MFA_WRONG_CODE) {
            /* Ask again for the same pending factor, with the same secret. */
            redirect_msg(&p, arena_printf(&req->arena, "/account/add/totp?factor=%s", f.id), "e",
                         "err.wrong_code", NULL);
            return;
        }
        refuse(&p, back, r, &o);
        return;
    }
    p.sess.pending_factor[0] = '\0';
    /* Proving the new factor is a second step passed (not a use of it:
     * "last used" means used to sign in). */
    passed(&p, f.type, false, NULL);
    after_factor_added(&p, before, added_notice(f.type), added_arg(&p, &f));
}

void page_account_continue(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    if (strcmp(p.sess.purpose, "login") == 0 && p.sess.return_to) {
        flow_next(&p);
        return;
    }
    redirect(&p, "/account");
}

void page_account_preferred(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    if (!account_allowed(&p, true))
        return;
    const char *fid = form_str(&p, "factor_id");
    enum mfa_result r =
        factor_id_ok(fid) ? users_set_preferred(&p.ctx, &p.user, fid) : MFA_NOT_FOUND;
    if (r != MFA_OK) {
        refuse(&p, "/account", r, &(struct mfa_outcome){.attempts_left = -1});
        return;
    }
    redirect_msg(&p, "/account", "n", "notice.preferred_set", NULL);
}

static void confirm_page(struct page *p, const char *action, const struct ui_factor *f)
{
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_page_confirm(&html, &p->ui, action, f, 0);
    page_send(p, 200, &html);
}

void page_account_remove(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    if (!account_allowed(&p, true))
        return;
    const char *fid = form_str(&p, "factor_id");
    if (!factor_id_ok(fid)) {
        redirect_msg(&p, "/account", "e", "err.generic", NULL);
        return;
    }
    /* Under mandatory the last active factor stays (SPEC §5: a user without
     * one never returns without enrolling). */
    struct mfa_factor target;
    if (p.pol.mode == POLICY_MANDATORY && factors_get(&p.ctx, &p.user, fid, &target) == MFA_OK &&
        target.active && active_count(&p) <= 1) {
        redirect_msg(&p, "/account", "e", "err.last_factor", NULL);
        return;
    }
    const char *confirm = form_str(&p, "confirm");
    if (!confirm) {
        struct factor_list l;
        list_factors(&p, &l, false);
        for (size_t i = 0; i < l.count; i++) {
            if (strcmp(l.items[i].id, fid) == 0) {
                confirm_page(&p, "remove", &l.items[i]);
                return;
            }
        }
        redirect_msg(&p, "/account", "e", "err.generic", NULL);
        return;
    }
    enum mfa_result r = factors_remove(&p.ctx, &p.user, fid);
    if (r != MFA_OK) {
        refuse(&p, "/account", r, &(struct mfa_outcome){.attempts_left = -1});
        return;
    }
    redirect_msg(&p, "/account", "n", "notice.factor_removed", NULL);
}

static void remove_one(const struct mfa_factor *f, void *arg)
{
    struct factor_list *l = arg;
    if (l->count < ARRAY_SIZE(l->raw))
        l->raw[l->count++] = *f;
}

void page_account_disable(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    if (!account_allowed(&p, true))
        return;
    if (p.pol.mode == POLICY_MANDATORY) {
        redirect_msg(&p, "/account", "e", "err.not_allowed", NULL);
        return;
    }
    if (!form_str(&p, "confirm")) {
        confirm_page(&p, "disable", NULL);
        return;
    }
    struct factor_list l;
    memset(&l, 0, sizeof(l));
    factors_each(&p.ctx, &p.user, remove_one, &l);
    for (size_t i = 0; i < l.count; i++)
        factors_remove(&p.ctx, &p.user, l.raw[i].id);
    audit_log_user(&p.ctx, &p.user, "mfa_disabled", NULL, NULL);
    redirect_msg(&p, "/account", "n", "notice.mfa_off", NULL);
}

void page_account_recovery(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    if (!account_allowed(&p, true))
        return;
    if (!p.pol.recovery_codes || active_count(&p) == 0) {
        redirect_msg(&p, "/account", "e", "err.not_allowed", NULL);
        return;
    }
    /* A set still in use is voided only after a confirmation. */
    int left = recovery_codes_left(&p.ctx, &p.user);
    if (left > 0 && !form_str(&p, "confirm")) {
        struct buf html;
        buf_init(&html, 1u << 20);
        ui_page_confirm(&html, &p.ui, "recovery-codes", NULL, left);
        page_send(&p, 200, &html);
        return;
    }
    issue_recovery_codes(&p, "notice.recovery_new", NULL);
}

void page_account_done(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    try_return(&p, GATE_RETURN);
}

/* ---- enrolment offer -------------------------------------------------- */

void page_enrol(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, false))
        return;
    struct gate_decision d;
    gate_ask(&p, GATE_RETURN, &d);
    if (d.verdict == GATE_CONTINUE) {
        finish_success(&p, &d);
        return;
    }
    if (d.verdict != GATE_ENROL && d.verdict != GATE_OFFER) {
        gate_follow(&p, &d);
        return;
    }
    bool mandatory = d.verdict == GATE_ENROL;
    if (!mandatory) {
        /* SPEC §5: the offer appears once per user; this flow showed it. */
        users_mark_offered(&p.ctx, &p.user);
        p.sess.flags |= SESSION_OFFERED;
        p.sess_dirty = true;
    }
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_page_enrol(&html, &p.ui, mandatory,
                  (p.pol.factors & FACTOR_BIT_SMS) && delivery_available(p.srv, FACTOR_SMS),
                  (p.pol.factors & FACTOR_BIT_EMAIL) && delivery_available(p.srv, FACTOR_EMAIL),
                  (p.pol.factors & FACTOR_BIT_TOTP) != 0, can_passkey(&p), d.phr);
    page_send(&p, 200, &html);
}

/* "Skip for now": only a user with no active factor under optional may
 * decline; anyone else is sent where the gate points. */
void page_enrol_skip(struct http_request *req)
{
    struct page p;
    if (!page_start(req, &p, true))
        return;
    struct gate_decision d;
    gate_ask(&p, GATE_DECLINE, &d);
    if (d.verdict != GATE_CONTINUE) {
        log_warn("enrolment skip refused", "app", p.sess.app_id, "verdict",
                 gate_verdict_name(d.verdict), "ip", req->client_ip);
        gate_follow(&p, &d);
        return;
    }
    if (!d.mfa) {
        users_mark_offered(&p.ctx, &p.user);
        p.sess.flags |= SESSION_DECLINED;
        audit_log_user(&p.ctx, &p.user, "enrolment_skipped", NULL, NULL);
    }
    finish_success(&p, &d);
}

/* ---- language and brand ----------------------------------------------- */

/* The pages a "back" parameter may name: one of these paths, optionally
 * with a query of plain parameter characters. Nothing else, so no value
 * can make a redirect leave this origin. */
static const char *const back_paths[] = {
    "/",
    "/challenge",
    "/account",
    "/account/add/sms",
    "/enrol",
    "/account/add/totp",
    "/account/add/email",
    "/dev/outbox",
    "/account/add/webauthn",
};

bool pages_back_ok(const char *back)
{
    if (!back)
        return false;
    size_t path_len = strcspn(back, "?");
    bool known = false;
    for (size_t i = 0; i < ARRAY_SIZE(back_paths); i++)
        if (strlen(back_paths[i]) == path_len && strncmp(back, back_paths[i], path_len) == 0)
            known = true;
    if (!known || strlen(back) > 200)
        return false;
    for (const char *c = back + path_len + (back[path_len] == '?'); *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-' || *c == '=' || *c == '&' || *c == '.'))
            return false;
    return true;
}

void page_lang(struct http_request *req)
{
    struct page p;
    memset(&p, 0, sizeof(p));
    p.req = req;
    p.srv = req->srv;
    struct span ct;
    if (!http_header_get(req, "Content-Type", &ct) ||
        form_parse(&req->arena, span_make(req->body.data ? req->body.data : "", req->body.len), 16,
                   &p.form) != OG_OK) {
        message_page(&p, 400, "title.error", "body.error");
        return;
    }
    const char *lang = form_str(&p, "lang");
    const char *back = form_str(&p, "back");
    const char *pick = ui_locale_pick(lang);
    /* A cookie for the language alone: a cross-site form can at most
     * switch the language, so no CSRF check is needed for it. */
    cookie_header(&p, LANG_COOKIE, pick, 365LL * 24 * 3600);
    struct span c, v;
    if (http_header_get(req, "Cookie", &c) && cookie_get(c, SESSION_COOKIE, &v)) {
        struct session sess;
        char *cookie = arena_strndup(&req->arena, v.p, v.len);
        if (sessions_load(server_db(p.srv), cookie, server_now_ms(), &sess) == OG_OK) {
            snprintf(sess.locale, sizeof(sess.locale), "%s", pick);
            sessions_save(server_db(p.srv), &sess);
            sessions_free(&sess);
        }
    }
    if (!pages_back_ok(back))
        back = "/account";
    redirect(&p, back);
}

void page_brand_css(struct http_request *req)
{
    char accent[16] = "";
    if (store_meta_get(server_db(req->srv), "brand_accent", accent, sizeof(accent)) != OG_OK)
        accent[0] = '\0';
    struct buf css;
    buf_init(&css, 4096);
    ui_brand_css(&css, accent[0] ? accent : NULL);
    http_header_add(req, "Cache-Control", "no-cache");
    http_respond(req, 200, "text/css; charset=utf-8", css.data ? css.data : "", css.len);
    buf_free(&css);
}

void pages_bare_ctx(struct http_request *req, struct ui_ctx *ui, char *locale)
{
    struct page p;
    memset(&p, 0, sizeof(p));
    p.req = req;
    p.srv = req->srv;
    pick_locale(&p);
    brand(&p);
    memcpy(locale, p.locale, sizeof(p.locale));
    memset(ui, 0, sizeof(*ui));
    ui->locale = locale;
    ui->brand_name = p.ui.brand_name;
    ui->brand_logo = p.ui.brand_logo;
    ui->brand_support = p.ui.brand_support;
    ui->dev_outbox = req->srv->cfg->dev_enabled;
}
