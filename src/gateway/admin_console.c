/* The admin console (/admin): its own session cookie (HttpOnly,
 * SameSite=Strict, Path=/admin, Secure with an https public URL, 12 hours),
 * CSRF tokens on every form (the sign-in form's bound to a pre-session
 * cookie), the sign-in throttle per username and per client IP, and the
 * helpers every console handler shares (admin_console_parts.h). Password
 * checks and hashes (scrypt, tens of milliseconds) run on libuv's thread
 * pool and the answer goes out when they are done: they never block the
 * loop. Writes join the group commit. Never logs or stores a password or
 * cookie value. */
#include "gateway/admin_console.h"

#include "core/apps.h"
#include "core/brand.h"
#include "core/log.h"
#include "core/policy.h"
#include "core/secrets.h"
#include "core/support.h"
#include "gateway/admin_console_parts.h"
#include "gateway/appcache.h"
#include "gateway/request_tx.h"
#include "gateway/server.h"
#include "ui/pages.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ADMIN_COOKIE         "otpgate_admin"
#define LOGIN_COOKIE         "otpgate_admin_login"
#define LOGIN_COOKIE_MAX_AGE 3600
#define LOGIN_COOKIE_CHARS   43
/* Password jobs on the thread pool at once (32 MiB each); it is shared
 * with e-mail delivery, so the console may not take all of it. */
#define PW_MAX_IN_FLIGHT 2
#define APPS_MAX         512
#define PRUNE_EVERY_MS   60000
#define FORM_PAIRS_MAX   64

/* A password check or hash on the thread pool. */
struct pw_job {
    uv_work_t work;
    struct server *srv;
    struct http_request *req; /* NULL once detached: answer nobody */
    struct pw_job *prev, *next;
    enum console_pw_kind kind;
    void (*done)(struct console *c, const struct console_pw_result *r);
    struct admin_session sess;
    bool have_sess;
    char username[ADMINS_NAME_MAX + 1];
    bool known; /* the username names an admin (else a dummy hash is checked) */
    bool ok;
    size_t pwlen, newlen;
    char hash[ADMINS_HASH_LEN];     /* the stored hash to check against */
    char new_hash[ADMINS_HASH_LEN]; /* the new password's hash */
    char password[ADMINS_PASSWORD_MAX + 1];
    char new_password[ADMINS_PASSWORD_MAX + 1];
};

static struct pw_job *jobs; /* the loop thread's list of jobs in flight */
static unsigned jobs_in_flight;

/* ---- the console's shared helpers --------------------------------------- */

static bool cookie_value(struct http_request *req, const char *name, struct span *out)
{
    struct span cookies;
    return http_header_get(req, "Cookie", &cookies) && cookie_get(cookies, name, out);
}

static void set_cookie(struct console *c, const char *name, const char *value, long max_age)
{
    char line[256];
    snprintf(line, sizeof(line), "%s=%s; Path=/admin; HttpOnly; SameSite=Strict%s; Max-Age=%ld",
             name, value, c->srv->cfg->public_https ? "; Secure" : "", max_age);
    http_header_add(c->req, "Set-Cookie", line);
}

const char *console_form(struct console *c, const char *key)
{
    struct span v;
    if (!kv_get(&c->form, key, &v))
        return NULL;
    return arena_strndup(&c->req->arena, v.p, v.len);
}

const char *console_query(struct console *c, const char *key)
{
    struct kv_list q;
    struct span v;
    if (!c->req->query.p || form_parse(&c->req->arena, c->req->query, 32, &q) != OG_OK ||
        !kv_get(&q, key, &v))
        return NULL;
    return arena_strndup(&c->req->arena, v.p, v.len);
}

const char *console_param(struct console *c, size_t i)
{
    struct span out;
    if (i >= c->req->param_count ||
        url_decode(&c->req->arena, c->req->params[i], false, &out) != OG_OK)
        return NULL;
    return out.p;
}

const char *console_time(struct console *c, int64_t ms, bool seconds)
{
    if (ms <= 0)
        return NULL;
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char *s = arena_alloc(&c->req->arena, 32);
    strftime(s, 32, seconds ? "%Y-%m-%d %H:%M:%S UTC" : "%Y-%m-%d %H:%M UTC", &tm);
    return s;
}

const char *console_url(struct console *c, const char *path, const char *const *params,
                        size_t pairs)
{
    struct buf b;
    buf_init(&b, 8192);
    buf_append_str(&b, path);
    for (size_t i = 0; i < pairs; i++)
        if (params[2 * i + 1] && params[2 * i + 1][0])
            url_append_param(&b, params[2 * i], params[2 * i + 1]);
    char *s = arena_strndup(&c->req->arena, b.data ? b.data : "", b.len);
    buf_free(&b);
    return s;
}

static void brand_of(struct console *c)
{
    char v[BRAND_VALUE_LEN];
    if (brand_get(server_db(c->srv), "name", v, sizeof(v)) == OG_OK && v[0])
        c->ui.brand_name = arena_strndup(&c->req->arena, v, strlen(v));
    if (brand_get(server_db(c->srv), "logo", v, sizeof(v)) == OG_OK && v[0])
        c->ui.brand_logo = arena_strndup(&c->req->arena, v, strlen(v));
}

static void console_init(struct console *c, struct http_request *req)
{
    memset(c, 0, sizeof(*c));
    c->req = req;
    c->srv = req->srv;
    brand_of(c);
}

void console_send(struct console *c, int status, struct buf *html)
{
    size_t len = 0;
    char *body = buf_detach(html, &len);
    http_page_headers(c->req);
    batch_answer(c->srv, c->req, status, HTML, body, len);
}

void console_redirect(struct console *c, const char *location)
{
    http_header_add(c->req, "Location", location);
    http_header_add(c->req, "Cache-Control", "no-store");
    batch_answer(c->srv, c->req, 303, NULL, NULL, 0);
}

void console_error(struct console *c, int status, const char *body_key)
{
    struct buf html;
    buf_init(&html, 1u << 20);
    struct ui_ctx u;
    memset(&u, 0, sizeof(u));
    u.locale = "en";
    u.brand_name = c->ui.brand_name;
    u.brand_logo = c->ui.brand_logo;
    ui_page_message(&html, &u, "title.error", body_key);
    console_send(c, status, &html);
}

void console_message(struct console *c, int status, const char *title, const char *text,
                     const char *href, const char *label)
{
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_admin_message(&html, &c->ui, title, text, href, label);
    console_send(c, status, &html);
}

void console_confirm(struct console *c, const struct ui_admin_confirm *v)
{
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_admin_confirm(&html, &c->ui, v);
    console_send(c, 200, &html);
}

bool console_confirmed(struct console *c, const char *page)
{
    const char *confirm = console_form(c, "confirm");
    if (confirm && strcmp(confirm, "1") == 0)
        return true;
    console_redirect(c, page);
    return false;
}

/* A multipart form: its text parts become c->form (files stay in
 * c->parts). */
static bool parse_multipart(struct console *c, struct span ct)
{
    struct http_request *req = c->req;
    struct span body = span_make(req->body.data ? req->body.data : "", req->body.len);
    if (multipart_parse(ct, body, &c->parts) != OG_OK)
        return false;
    c->multipart = true;
    c->form.items = arena_alloc(&req->arena, MULTIPART_MAX_PARTS * sizeof(struct kv));
    c->form.count = 0;
    for (size_t i = 0; i < c->parts.count; i++) {
        const struct multipart_part *p = &c->parts.parts[i];
        if (p->filename.p)
            continue;
        if (memchr(p->data.p, '\0', p->data.len))
            return false; /* text ends up in C strings: a NUL would cut it */
        struct kv *kv = &c->form.items[c->form.count++];
        kv->key = span_make(arena_strndup(&req->arena, p->name.p, p->name.len), p->name.len);
        kv->value = span_make(arena_strndup(&req->arena, p->data.p, p->data.len), p->data.len);
    }
    return true;
}

static bool parse_form(struct console *c, bool allow_multipart)
{
    struct http_request *req = c->req;
    struct span ct;
    if (!http_header_get(req, "Content-Type", &ct))
        return false;
    if (allow_multipart && span_starts_with(ct, "multipart/form-data"))
        return parse_multipart(c, ct);
    return span_starts_with(ct, "application/x-www-form-urlencoded") &&
           form_parse(&req->arena, span_make(req->body.data ? req->body.data : "", req->body.len),
                      FORM_PAIRS_MAX, &c->form) == OG_OK;
}

/* The session's CSRF token and the page fields that follow from it. */
static void console_signed_in(struct console *c, const char *section)
{
    admins_csrf_token(c->srv->keys.csrf, c->sess.id_hash, c->csrf, sizeof(c->csrf));
    c->ui.csrf = c->csrf;
    c->ui.admin = c->sess.username;
    c->ui.section = section;
}

bool console_start(struct http_request *req, struct console *c, bool post, const char *section,
                   bool allow_multipart)
{
    console_init(c, req);
    struct span v;
    if (cookie_value(req, ADMIN_COOKIE, &v) &&
        admins_session_load(server_db(c->srv), v.p, v.len, server_now_ms(), &c->sess) == OG_OK)
        c->have_sess = true;
    if (!c->have_sess) {
        console_redirect(c, "/admin/login");
        return false;
    }
    console_signed_in(c, section);
    if (post) {
        if (!parse_form(c, allow_multipart)) {
            console_error(c, 400, "body.error");
            return false;
        }
        const char *token = console_form(c, "csrf");
        if (!token ||
            !admins_csrf_check(c->srv->keys.csrf, c->sess.id_hash, token, strlen(token))) {
            log_warn("admin console: form refused without a valid CSRF token", "ip",
                     req->client_ip);
            console_form_cleanse(c);
            console_error(c, 403, "err.csrf");
            return false;
        }
    }
    return true;
}

void console_form_cleanse(struct console *c)
{
    static const char *const secret_fields[] = {"password", "password2", "current"};
    for (size_t i = 0; i < ARRAY_SIZE(secret_fields); i++) {
        struct span pw;
        if (kv_get(&c->form, secret_fields[i], &pw))
            OPENSSL_cleanse((char *)pw.p, pw.len);
    }
    if (c->req->body.data)
        OPENSSL_cleanse(c->req->body.data, c->req->body.len);
}

/* Notices and errors that a redirect names by key, never by text. */
static const struct {
    const char *key, *text;
} notices[] =
    {
        {"unlocked", "Unlocked: the user's failures, wait and lock were cleared."},
        {"devices_forgotten", "Forgotten: every remembered device of the user asks for the "
                              "second step again."},
        {"reset", "Reset: every factor, recovery code and open challenge of the user was removed."},
        {"factor_removed", "The factor was removed."},
        {"signed_out", "You have signed out."},
        {"app_saved", "The application was saved."},
        {"webhook_saved", "The webhook was saved."},
        {"policy_saved", "The policy was saved."},
        {"policy_unchanged", "Nothing to change: the policy is as it was."},
        {"app_removed", "The application was removed with its users and policy."},
        {"brand_saved", "The branding was saved."},
        {"admin_added", "The admin was added. They can sign in now."},
        {"admin_removed", "The admin was removed and their sessions ended."},
        {"password_changed", "Your password was changed. Your other sessions have ended."},
},
  errors[] = {
      {"not_found", "No such user under this application."},
      {"factor_gone", "That factor does not exist any more."},
};

static const char *alert_text(const char *key, bool error)
{
    size_t n = error ? ARRAY_SIZE(errors) : ARRAY_SIZE(notices);
    for (size_t i = 0; key && i < n; i++)
        if (strcmp(key, (error ? errors : notices)[i].key) == 0)
            return (error ? errors : notices)[i].text;
    return NULL;
}

void console_alerts_from_query(struct console *c)
{
    c->ui.notice = alert_text(console_query(c, "n"), false);
    c->ui.error = alert_text(console_query(c, "e"), true);
}

const char *console_audit_more(struct console *c, json_t *obj)
{
    if (!obj || json_object_size(obj) == 0) {
        json_decref(obj);
        return "";
    }
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!text)
        og_oom();
    size_t n = strlen(text); /* "{...}": keep what is between the braces */
    char *s = arena_printf(&c->req->arena, ",%.*s", (int)(n - 2), text + 1);
    free(text);
    return s;
}

int console_audit(struct console *c, const char *event, const char *app_id, const char *sub,
                  json_t *more)
{
    return support_audit_console(server_db(c->srv), server_now_ms(), event, c->sess.username,
                                 c->req->client_ip, app_id, sub, console_audit_more(c, more));
}

int console_write_begin(struct console *c)
{
    return batch_request_begin(c->srv);
}

void console_write_end(struct console *c, int rc)
{
    batch_request_end(c->srv, rc == OG_OK);
}

void console_apps_changed(struct console *c)
{
    appcache_drop(server_apps(c->srv));
}

struct ui_admin_app *console_apps(struct console *c, size_t *count)
{
    *count = 0;
    char *text = NULL;
    if (apps_list_json(server_db(c->srv), &text) != OG_OK) {
        log_error("admin console: cannot list the apps");
        return NULL;
    }
    json_t *arr = json_loads(text, 0, NULL);
    free(text);
    size_t n = json_array_size(arr);
    if (n > APPS_MAX)
        n = APPS_MAX;
    struct arena *a = &c->req->arena;
    struct ui_admin_app *apps = arena_alloc(a, (n ? n : 1) * sizeof(*apps));
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        const char *id = json_string_value(json_object_get(o, "client_id"));
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *pol = json_string_value(json_object_get(o, "policy"));
        json_t *uris = json_object_get(o, "redirect_uris");
        struct ui_admin_app *x = &apps[i];
        x->id = arena_strndup(a, id ? id : "", strlen(id ? id : ""));
        x->name = arena_strndup(a, name ? name : "", strlen(name ? name : ""));
        x->policy = arena_strndup(a, pol ? pol : "inherit", strlen(pol ? pol : "inherit"));
        x->users = -1;
        size_t nu = json_array_size(uris);
        const char **list = arena_alloc(a, (nu ? nu : 1) * sizeof(*list));
        for (size_t u = 0; u < nu; u++) {
            const char *uri = json_string_value(json_array_get(uris, u));
            list[u] = arena_strndup(a, uri ? uri : "", strlen(uri ? uri : ""));
        }
        x->uris = list;
        x->uri_count = nu;
    }
    json_decref(arr);
    *count = n;
    return apps;
}

void console_event_view(struct console *c, const struct support_event *e,
                        struct ui_admin_event *out)
{
    static const struct {
        const char *event, *what;
    } names[] = {
        {"code_sent", "Code sent"},
        {"code_resent", "Code sent again"},
        {"send_limited", "Send refused by a limit"},
        {"verify_ok", "Second step passed"},
        {"verify_failed", "Wrong code"},
        {"enrolment_failed", "Wrong code while adding a factor"},
        {"locked", "Locked after too many wrong codes"},
        {"unlocked", "Unlocked with a recovery code"},
        {"factor_added", "Factor added (not yet confirmed)"},
        {"factor_enrolled", "Factor confirmed"},
        {"factor_removed", "Factor removed"},
        {"preferred_set", "Preferred factor chosen"},
        {"recovery_codes_generated", "New recovery codes made"},
        {"recovery_codes_voided", "Recovery codes voided"},
        {"recovery_code_used", "Recovery code used"},
        {"mfa_disabled", "Two-step verification turned off"},
        {"enrolment_skipped", "Enrolment skipped"},
        {"login_returned", "Returned to the app"},
        {"login_cancelled", "Sign-in cancelled"},
        {"token_issued", "ID token issued"},
        {"admin_unlock", "Unlocked by an admin"},
        {"admin_reset", "Reset by an admin"},
        {"admin_factor_remove", "Factor removed by an admin"},
        {"admin_login", "Admin signed in"},
        {"admin_login_failed", "Admin sign-in failed"},
        {"admin_logout", "Admin signed out"},
        {"admin_app_add", "Application registered"},
        {"admin_app_edit", "Application changed"},
        {"admin_app_rotate", "Client secret rotated"},
        {"admin_app_remove", "Application removed"},
        {"admin_policy_set", "Policy changed"},
        {"admin_brand_set", "Branding changed"},
        {"admin_account_add", "Admin account added"},
        {"admin_account_remove", "Admin account removed"},
        {"admin_password_change", "Admin password changed"},
    };
    struct arena *a = &c->req->arena;
    memset(out, 0, sizeof(*out));
    out->time = console_time(c, e->at, true);
    out->event = arena_strndup(a, e->event, strlen(e->event));
    out->what = out->event;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (strcmp(e->event, names[i].event) == 0)
            out->what = names[i].what;
    const char *app = e->app_name[0] ? e->app_name : e->app_id;
    out->app = arena_strndup(a, app, strlen(app));
    out->ip = arena_strndup(a, e->client_ip, strlen(e->client_ip));
    /* The admin apart; the rest of a JSON detail as "key: value" pairs. */
    out->who = "";
    json_t *d = e->detail[0] == '{' ? json_loads(e->detail, 0, NULL) : NULL;
    if (!json_is_object(d)) {
        json_decref(d);
        out->detail = arena_strndup(a, e->detail, strlen(e->detail));
        return;
    }
    const char *admin = json_string_value(json_object_get(d, "admin"));
    if (admin)
        out->who = arena_strndup(a, admin, strlen(admin));
    struct buf b;
    buf_init(&b, 4096);
    const char *key;
    json_t *v;
    json_object_foreach(d, key, v)
    {
        if (strcmp(key, "admin") == 0 || strcmp(key, "by") == 0)
            continue;
        char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        buf_printf(&b, "%s%s: %s", b.len ? ", " : "", key, text ? text : json_string_value(v));
        free(text);
    }
    if (json_is_string(json_object_get(d, "by")) && !admin)
        buf_printf(&b, "%sby: %s", b.len ? ", " : "", json_string_value(json_object_get(d, "by")));
    out->detail = arena_strndup(a, b.data ? b.data : "", b.len);
    buf_free(&b);
    json_decref(d);
}

void console_event_collect(const struct support_event *e, void *arg)
{
    struct console_events *x = arg;
    console_event_view(x->c, e, &x->items[x->count++]);
}

/* ---- passwords on the thread pool ---------------------------------------- */

static void job_unlink(struct pw_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    jobs_in_flight--;
}

static void job_free(struct pw_job *j)
{
    OPENSSL_cleanse(j->password, sizeof(j->password));
    OPENSSL_cleanse(j->new_password, sizeof(j->new_password));
    OPENSSL_cleanse(j->hash, sizeof(j->hash));
    OPENSSL_cleanse(j->new_hash, sizeof(j->new_hash));
    free(j);
}

/* On the thread pool: the slow part, with no store and no loop. */
static void pw_work(uv_work_t *w)
{
    struct pw_job *j = container_of(w, struct pw_job, work);
    if (j->kind != CONSOLE_PW_ADD)
        j->ok = admins_password_verify(j->password, j->pwlen, j->hash);
    OPENSSL_cleanse(j->password, sizeof(j->password));
    if (j->kind == CONSOLE_PW_ADD || (j->kind == CONSOLE_PW_CHANGE && j->ok))
        j->ok = admins_password_hash(j->new_password, j->newlen, NULL, j->new_hash,
                                     sizeof(j->new_hash)) == OG_OK;
    OPENSSL_cleanse(j->new_password, sizeof(j->new_password));
}

/* The part after the hashing: the sign-in's or change's own callback. */
static void pw_finish(struct pw_job *j, int status)
{
    if (!j->req) { /* the connection was dropped at a forced shutdown */
        job_free(j);
        return;
    }
    struct console c;
    console_init(&c, j->req);
    if (j->have_sess) {
        c.sess = j->sess;
        c.have_sess = true;
        console_signed_in(&c, NULL);
    }
    struct console_pw_result r = {
        .ok = status == 0 && j->ok,
        .known = j->known,
        .hash = j->new_hash,
        .username = j->username,
    };
    j->done(&c, &r);
    job_free(j);
}

static void pw_after(uv_work_t *w, int status)
{
    struct pw_job *j = container_of(w, struct pw_job, work);
    job_unlink(j);
    pw_finish(j, status);
}

int console_pw_queue(struct console *c, enum console_pw_kind kind, const char *username,
                     const char *password, size_t pwlen, const char *new_password, size_t newlen,
                     void (*done)(struct console *c, const struct console_pw_result *r))
{
    if (pwlen > ADMINS_PASSWORD_MAX || newlen > ADMINS_PASSWORD_MAX)
        return OG_ERR_INVALID;
    if (jobs_in_flight >= PW_MAX_IN_FLIGHT && !request_tx_active())
        return OG_ERR_BUSY;
    struct pw_job *j = og_calloc(1, sizeof(*j));
    j->srv = c->srv;
    j->req = c->req;
    j->kind = kind;
    j->done = done;
    j->sess = c->sess;
    j->have_sess = c->have_sess;
    snprintf(j->username, sizeof(j->username), "%s",
             username && admins_name_ok(username) ? username : "");
    if (password) {
        memcpy(j->password, password, pwlen);
        j->pwlen = pwlen;
    }
    if (new_password) {
        memcpy(j->new_password, new_password, newlen);
        j->newlen = newlen;
    }
    if (kind != CONSOLE_PW_ADD) {
        /* An unknown username checks a dummy hash of the same cost, so the
         * time taken does not tell which usernames exist. */
        j->known = j->username[0] && admins_get_hash(server_db(c->srv), j->username, j->hash,
                                                     sizeof(j->hash)) == OG_OK;
        if (!j->known)
            admins_password_dummy(j->hash, sizeof(j->hash));
    }
    if (request_tx_active()) {
        /* On a database worker (PostgreSQL) already, off the loop: hash
         * here, inside the request's transaction. */
        pw_work(&j->work);
        pw_finish(j, 0);
        return OG_OK;
    }
    j->next = jobs;
    if (jobs)
        jobs->prev = j;
    jobs = j;
    jobs_in_flight++;
    if (uv_queue_work(c->srv->loop, &j->work, pw_work, pw_after) != 0) {
        job_unlink(j);
        job_free(j);
        return OG_ERR_BUSY;
    }
    return OG_OK;
}

void admin_console_detach(struct server *s)
{
    for (struct pw_job *j = jobs; j; j = j->next)
        if (j->srv == s)
            j->req = NULL;
}

/* ---- sign-in ------------------------------------------------------------- */

/* The sign-in form's CSRF token: bound to the pre-session cookie value. */
static void login_token(struct console *c, struct span cookie, char out[ADMINS_CSRF_LEN])
{
    static const char label[] = "admin-login:";
    uint8_t h[32];
    unsigned int n = 32;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, label, sizeof(label) - 1) != 1 ||
        EVP_DigestUpdate(md, cookie.p, cookie.len) != 1 || EVP_DigestFinal_ex(md, h, &n) != 1) {
        log_error("SHA-256 failed");
        abort();
    }
    EVP_MD_CTX_free(md);
    admins_csrf_token(c->srv->keys.csrf, h, out, ADMINS_CSRF_LEN);
}

static bool login_cookie_ok(struct span v)
{
    if (v.len != LOGIN_COOKIE_CHARS)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        char ch = v.p[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

/* Renders the sign-in page with a token for the browser's pre-session
 * cookie, making (and setting) one when it has none. */
static void login_page(struct console *c, int status, const char *username, const char *error)
{
    struct span v;
    char fresh[ADMINS_COOKIE_LEN];
    if (!cookie_value(c->req, LOGIN_COOKIE, &v) || !login_cookie_ok(v)) {
        random_token(32, fresh, sizeof(fresh));
        set_cookie(c, LOGIN_COOKIE, fresh, LOGIN_COOKIE_MAX_AGE);
        v = span_cstr(fresh);
    }
    char token[ADMINS_CSRF_LEN];
    login_token(c, v, token);
    c->ui.csrf = token;
    c->ui.error = error;
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_admin_login(&html, &c->ui, username);
    console_send(c, status, &html);
}

void admin_console_login_form(struct http_request *req)
{
    struct console c;
    console_init(&c, req);
    struct span v;
    struct admin_session sess;
    if (cookie_value(req, ADMIN_COOKIE, &v) &&
        admins_session_load(server_db(c.srv), v.p, v.len, server_now_ms(), &sess) == OG_OK) {
        console_redirect(&c, "/admin");
        return;
    }
    c.ui.notice = alert_text(console_query(&c, "n"), false);
    login_page(&c, 200, NULL, NULL);
}

static void throttle_of(struct server *s, struct admins_throttle *t)
{
    struct policy pol;
    policy_load(server_db(s), NULL, &pol); /* the defaults on a store error */
    t->free = pol.lockout_free;
    t->wait_s = pol.lockout_wait;
    t->max_wait_s = pol.lockout_max_wait;
}

static void login_succeeded(struct console *c, const struct console_pw_result *r)
{
    struct server *s = c->srv;
    int64_t now = server_now_ms();
    char cookie[ADMINS_COOKIE_LEN];
    char ipkey[64], userkey[80];
    snprintf(ipkey, sizeof(ipkey), "ip:%s", c->req->client_ip);
    snprintf(userkey, sizeof(userkey), "user:%s", r->username);
    int rc = batch_request_begin(s);
    if (rc == OG_OK) {
        rc = admins_throttle_clear(server_db(s), ipkey);
        if (rc == OG_OK)
            rc = admins_throttle_clear(server_db(s), userkey);
        if (rc == OG_OK)
            rc = admins_session_create(server_db(s), r->username, c->req->client_ip, now,
                                       ADMINS_SESSION_TTL_MS, cookie, sizeof(cookie), &c->sess);
        if (rc == OG_OK)
            rc = admins_touch_login(server_db(s), r->username, now);
        if (rc == OG_OK)
            rc = support_audit_admin(server_db(s), now, "admin_login", r->username,
                                     c->req->client_ip);
        batch_request_end(s, rc == OG_OK);
    }
    if (rc != OG_OK) {
        OPENSSL_cleanse(cookie, sizeof(cookie));
        http_header_add(c->req, "Retry-After", "1");
        console_error(c, 503, "body.error");
        return;
    }
    log_info("admin signed in to the console", "admin", r->username, "ip", c->req->client_ip);
    set_cookie(c, ADMIN_COOKIE, cookie, (long)(ADMINS_SESSION_TTL_MS / 1000));
    OPENSSL_cleanse(cookie, sizeof(cookie));
    set_cookie(c, LOGIN_COOKIE, "", 0);
    console_redirect(c, "/admin");
}

static void login_done(struct console *c, const struct console_pw_result *r)
{
    if (r->ok && r->known) {
        login_succeeded(c, r);
        return;
    }
    struct server *s = c->srv;
    if (batch_request_begin(s) == OG_OK) {
        bool ok = support_audit_admin(server_db(s), server_now_ms(), "admin_login_failed",
                                      r->username, c->req->client_ip) == OG_OK;
        batch_request_end(s, ok);
    }
    log_warn("admin console sign-in failed", "admin", r->username[0] ? r->username : NULL, "ip",
             c->req->client_ip);
    login_page(c, 401, r->username, "Wrong username or password.");
}

int64_t admin_console_wait(struct server *s, const char *ipkey, const char *userkey, int64_t now)
{
    int64_t a = ipkey ? admins_throttle_wait(server_db(s), ipkey, now) : 0;
    int64_t b = userkey ? admins_throttle_wait(server_db(s), userkey, now) : 0;
    if (a < 0 || b < 0)
        return -1;
    return a > b ? a : b;
}

int admin_console_charge(struct server *s, const char *ipkey, const char *userkey, int64_t now)
{
    static int64_t last_prune;
    struct admins_throttle t;
    throttle_of(s, &t);
    int rc = batch_request_begin(s);
    if (rc == OG_OK) {
        if (ipkey)
            rc = admins_throttle_fail(server_db(s), ipkey, &t, now);
        if (rc == OG_OK && userkey)
            rc = admins_throttle_fail(server_db(s), userkey, &t, now);
        if (rc == OG_OK && now - last_prune > PRUNE_EVERY_MS) {
            last_prune = now;
            rc = admins_prune(server_db(s), now);
        }
        batch_request_end(s, rc == OG_OK);
    }
    return rc;
}

void admin_console_refuse_wait(struct console *c, int64_t wait, const char *what)
{
    char ra[24];
    snprintf(ra, sizeof(ra), "%lld", (long long)wait);
    http_header_add(c->req, "Retry-After", ra);
    metrics_count(&c->srv->metrics, "otpgate_rate_limit_refusals_total",
                  "Requests refused by a rate limit, lockout wait or the SMS guard, by kind.",
                  "limit=\"admin_login\"", 1);
    log_warn(what, "ip", c->req->client_ip, "retry_after", ra);
}

void admin_console_login(struct http_request *req)
{
    struct console c;
    console_init(&c, req);
    struct server *s = c.srv;
    if (!parse_form(&c, false)) {
        console_error(&c, 400, "body.error");
        return;
    }
    struct span pre;
    const char *token = console_form(&c, "csrf");
    char want[ADMINS_CSRF_LEN];
    bool csrf_ok = false;
    if (token && cookie_value(req, LOGIN_COOKIE, &pre) && login_cookie_ok(pre)) {
        login_token(&c, pre, want);
        csrf_ok = strlen(token) == ADMINS_CSRF_LEN - 1 &&
                  CRYPTO_memcmp(want, token, ADMINS_CSRF_LEN - 1) == 0;
    }
    const char *username = console_form(&c, "username");
    const char *password = console_form(&c, "password");
    bool name_ok = admins_name_ok(username);
    /* No copy of the password outlives this call but the job's, which is
     * cleansed once checked. */
    console_form_cleanse(&c);
    size_t pwlen = password ? strlen(password) : 0;
    if (!csrf_ok || !username || !*username || pwlen == 0) {
        if (password)
            OPENSSL_cleanse((char *)password, pwlen);
        if (!csrf_ok) {
            log_warn("admin console: sign-in refused without a valid CSRF token", "ip",
                     req->client_ip);
            login_page(&c, 403, name_ok ? username : NULL,
                       "This form has expired. Please sign in again.");
        } else {
            login_page(&c, 400, name_ok ? username : NULL, "Enter your username and password.");
        }
        return;
    }

    int64_t now = server_now_ms();
    char ipkey[OG_IP_KEY_LEN + 3], userkey[80], ip[OG_IP_KEY_LEN];
    og_ip_limit_key(req->client_ip, ip, sizeof(ip)); /* an IPv6 client by its /64 */
    snprintf(ipkey, sizeof(ipkey), "ip:%s", ip);
    snprintf(userkey, sizeof(userkey), "user:%s", name_ok ? username : "");
    int64_t wait = admin_console_wait(s, ipkey, name_ok ? userkey : NULL, now);
    if (wait != 0 || jobs_in_flight >= PW_MAX_IN_FLIGHT)
        OPENSSL_cleanse((char *)password, pwlen);
    if (wait < 0) {
        http_header_add(req, "Retry-After", "1");
        console_error(&c, 503, "body.error");
        return;
    }
    if (wait > 0) {
        admin_console_refuse_wait(&c, wait,
                                  "admin console sign-in refused: waiting after failures");
        login_page(&c, 429, name_ok ? username : NULL,
                   arena_printf(&req->arena, "Too many failed sign-ins. Try again in %lld seconds.",
                                (long long)wait));
        return;
    }
    if (jobs_in_flight >= PW_MAX_IN_FLIGHT) {
        http_header_add(req, "Retry-After", "1");
        login_page(&c, 503, name_ok ? username : NULL,
                   "The console is busy checking other sign-ins. Try again in a moment.");
        return;
    }
    /* Every attempt counts as a failure until it is proven right, so
     * attempts sent in parallel cannot outrun the throttle. */
    if (admin_console_charge(s, ipkey, name_ok ? userkey : NULL, now) != OG_OK) {
        OPENSSL_cleanse((char *)password, pwlen);
        http_header_add(req, "Retry-After", "1");
        console_error(&c, 503, "body.error");
        return;
    }
    /* A password longer than any can be is checked as an empty one: wrong,
     * in the same time. */
    int rc = console_pw_queue(&c, CONSOLE_PW_LOGIN, name_ok ? username : "", password,
                              pwlen <= ADMINS_PASSWORD_MAX ? pwlen : 0, NULL, 0, login_done);
    OPENSSL_cleanse((char *)password, pwlen);
    if (rc != OG_OK) {
        http_header_add(req, "Retry-After", "1");
        console_error(&c, 503, "body.error");
    }
    /* Otherwise login_done answers. */
}

void admin_console_logout(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, true, NULL, false))
        return;
    struct server *s = c.srv;
    int rc = batch_request_begin(s);
    if (rc == OG_OK) {
        rc = admins_session_delete(server_db(s), &c.sess);
        if (rc == OG_OK)
            rc = support_audit_admin(server_db(s), server_now_ms(), "admin_logout", c.sess.username,
                                     req->client_ip);
        batch_request_end(s, rc == OG_OK);
    }
    if (rc != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    set_cookie(&c, ADMIN_COOKIE, "", 0);
    console_redirect(&c, "/admin/login?n=signed_out");
}
