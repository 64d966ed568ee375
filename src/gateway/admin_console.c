/* The admin console (/admin): its own session cookie (HttpOnly,
 * SameSite=Strict, Path=/admin, Secure with an https public URL, 12 hours),
 * CSRF tokens on every form (the sign-in form's bound to a pre-session
 * cookie), and the sign-in throttle per username and per client IP. The
 * password check (scrypt, tens of milliseconds) runs on libuv's thread pool
 * and the answer goes out when it is done: it never blocks the loop. Writes
 * join the group commit. Never logs or stores a password or cookie value. */
#include "gateway/admin_console.h"

#include "core/admins.h"
#include "core/apps.h"
#include "core/log.h"
#include "core/policy.h"
#include "core/secrets.h"
#include "core/support.h"
#include "gateway/server.h"
#include "gateway/urlcodec.h"
#include "ui/page_admin.h"
#include "ui/pages.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ADMIN_COOKIE         "otpgate_admin"
#define LOGIN_COOKIE         "otpgate_admin_login"
#define LOGIN_COOKIE_MAX_AGE 3600
#define LOGIN_COOKIE_CHARS   43
/* Password checks on the thread pool at once (32 MiB each); it is shared
 * with e-mail delivery, so sign-ins may not take all of it. */
#define LOGIN_MAX_IN_FLIGHT 2
#define DELIVERY_ROWS       100
#define APPS_MAX            512
#define ANSWER_SHOWN        300 /* bytes of a provider answer on the page */
#define PRUNE_EVERY_MS      60000
#define HTML                "text/html; charset=utf-8"

struct console {
    struct http_request *req;
    struct server *srv;
    struct admin_session sess;
    bool have_sess;
    char csrf[ADMINS_CSRF_LEN];
    struct kv_list form;
    struct ui_admin_page ui;
};

/* A sign-in whose password is being checked on the thread pool. */
struct login_job {
    uv_work_t work;
    struct server *srv;
    struct http_request *req; /* NULL once detached: answer nobody */
    struct login_job *prev, *next;
    char username[ADMINS_NAME_MAX + 1];
    bool known; /* the username names an admin (else a dummy hash is checked) */
    bool ok;
    size_t pwlen;
    char hash[ADMINS_HASH_LEN];
    char password[ADMINS_PASSWORD_MAX + 1];
};

static struct login_job *jobs; /* the loop thread's list of checks in flight */
static unsigned jobs_in_flight;

/* ---- small helpers ------------------------------------------------------ */

static const char *form_str(struct console *c, const char *key)
{
    struct span v;
    if (!kv_get(&c->form, key, &v))
        return NULL;
    return arena_strndup(&c->req->arena, v.p, v.len);
}

static const char *query_str(struct console *c, const char *key)
{
    struct kv_list q;
    struct span v;
    if (!c->req->query.p || form_parse(&c->req->arena, c->req->query, 32, &q) != OG_OK ||
        !kv_get(&q, key, &v))
        return NULL;
    return arena_strndup(&c->req->arena, v.p, v.len);
}

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

static const char *fmt_time(struct console *c, int64_t ms, bool seconds)
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

static void brand(struct console *c)
{
    char v[256];
    if (store_meta_get(c->srv->store, "brand_name", v, sizeof(v)) == OG_OK && v[0])
        c->ui.brand_name = arena_strndup(&c->req->arena, v, strlen(v));
    if (store_meta_get(c->srv->store, "brand_logo", v, sizeof(v)) == OG_OK && v[0])
        c->ui.brand_logo = arena_strndup(&c->req->arena, v, strlen(v));
}

static void console_init(struct console *c, struct http_request *req)
{
    memset(c, 0, sizeof(*c));
    c->req = req;
    c->srv = req->srv;
    brand(c);
}

/* Sends a rendered page (html is taken) once the iteration's commit is
 * done, or now when nothing is waiting for one. */
static void send_page(struct console *c, int status, struct buf *html)
{
    size_t len = 0;
    char *body = buf_detach(html, &len);
    http_page_headers(c->req);
    batch_answer(c->srv, c->req, status, HTML, body, len);
}

static void redirect(struct console *c, const char *location)
{
    http_header_add(c->req, "Location", location);
    http_header_add(c->req, "Cache-Control", "no-store");
    batch_answer(c->srv, c->req, 303, NULL, NULL, 0);
}

static void error_page(struct console *c, int status, const char *body_key)
{
    struct buf html;
    buf_init(&html, 1u << 20);
    struct ui_ctx u;
    memset(&u, 0, sizeof(u));
    u.locale = "en";
    u.brand_name = c->ui.brand_name;
    u.brand_logo = c->ui.brand_logo;
    ui_page_message(&html, &u, "title.error", body_key);
    send_page(c, status, &html);
}

static bool parse_form(struct console *c)
{
    struct http_request *req = c->req;
    struct span ct;
    return http_header_get(req, "Content-Type", &ct) &&
           span_starts_with(ct, "application/x-www-form-urlencoded") &&
           form_parse(&req->arena, span_make(req->body.data ? req->body.data : "", req->body.len),
                      64, &c->form) == OG_OK;
}

/* Loads the admin session; without one the browser goes to the sign-in
 * page. For a POST also the form and its CSRF token. On false an answer
 * has been sent. */
static bool console_start(struct http_request *req, struct console *c, bool post,
                          const char *section)
{
    console_init(c, req);
    struct span v;
    if (cookie_value(req, ADMIN_COOKIE, &v) &&
        admins_session_load(c->srv->store, v.p, v.len, server_now_ms(), &c->sess) == OG_OK)
        c->have_sess = true;
    if (!c->have_sess) {
        redirect(c, "/admin/login");
        return false;
    }
    admins_csrf_token(c->srv->keys.csrf, c->sess.id_hash, c->csrf, sizeof(c->csrf));
    c->ui.csrf = c->csrf;
    c->ui.admin = c->sess.username;
    c->ui.section = section;
    if (post) {
        if (!parse_form(c)) {
            error_page(c, 400, "body.error");
            return false;
        }
        const char *token = form_str(c, "csrf");
        if (!token ||
            !admins_csrf_check(c->srv->keys.csrf, c->sess.id_hash, token, strlen(token))) {
            log_warn("admin console: form refused without a valid CSRF token", "ip",
                     req->client_ip);
            error_page(c, 403, "err.csrf");
            return false;
        }
    }
    return true;
}

/* Notices and errors that a redirect names by key, never by text. */
static const char *notice_text(const char *key)
{
    static const struct {
        const char *key, *text;
    } notices[] = {
        {"unlocked", "Unlocked: the user's failures, wait and lock were cleared."},
        {"reset", "Reset: every factor, recovery code and open challenge of the user was "
                  "removed."},
        {"signed_out", "You have signed out."},
    };
    for (size_t i = 0; key && i < ARRAY_SIZE(notices); i++)
        if (strcmp(key, notices[i].key) == 0)
            return notices[i].text;
    return NULL;
}

static const char *error_text(const char *key)
{
    static const struct {
        const char *key, *text;
    } errors[] = {
        {"confirm", "Tick the box to confirm the reset: nothing was removed."},
        {"not_found", "No such user under this application."},
    };
    for (size_t i = 0; key && i < ARRAY_SIZE(errors); i++)
        if (strcmp(key, errors[i].key) == 0)
            return errors[i].text;
    return NULL;
}

/* /admin/users?app=…&sub=… plus "n" or "e" = key. */
static const char *users_url(struct console *c, const char *app, const char *sub, const char *kind,
                             const char *key)
{
    struct buf loc;
    buf_init(&loc, 4096);
    buf_append_str(&loc, "/admin/users");
    url_append_param(&loc, "app", app ? app : "");
    url_append_param(&loc, "sub", sub ? sub : "");
    if (kind)
        url_append_param(&loc, kind, key);
    char *s = arena_strndup(&c->req->arena, loc.data, loc.len);
    buf_free(&loc);
    return s;
}

/* ---- sign-in -------------------------------------------------------- */

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
    send_page(c, status, &html);
}

void admin_console_login_form(struct http_request *req)
{
    struct console c;
    console_init(&c, req);
    struct span v;
    struct admin_session sess;
    if (cookie_value(req, ADMIN_COOKIE, &v) &&
        admins_session_load(c.srv->store, v.p, v.len, server_now_ms(), &sess) == OG_OK) {
        redirect(&c, "/admin");
        return;
    }
    c.ui.notice = notice_text(query_str(&c, "n"));
    login_page(&c, 200, NULL, NULL);
}

static void throttle_of(struct server *s, struct admins_throttle *t)
{
    struct policy pol;
    policy_load(s->store, NULL, &pol); /* the defaults on a store error */
    t->free = pol.lockout_free;
    t->wait_s = pol.lockout_wait;
    t->max_wait_s = pol.lockout_max_wait;
}

static void job_unlink(struct login_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    jobs_in_flight--;
}

static void job_free(struct login_job *j)
{
    OPENSSL_cleanse(j->password, sizeof(j->password));
    OPENSSL_cleanse(j->hash, sizeof(j->hash));
    free(j);
}

/* On the thread pool: the slow part, with no store and no loop. */
static void login_work(uv_work_t *w)
{
    struct login_job *j = container_of(w, struct login_job, work);
    j->ok = admins_password_verify(j->password, j->pwlen, j->hash);
    OPENSSL_cleanse(j->password, sizeof(j->password));
}

static void login_succeeded(struct console *c, struct login_job *j)
{
    struct server *s = c->srv;
    int64_t now = server_now_ms();
    char cookie[ADMINS_COOKIE_LEN];
    char ipkey[64], userkey[80];
    snprintf(ipkey, sizeof(ipkey), "ip:%s", c->req->client_ip);
    snprintf(userkey, sizeof(userkey), "user:%s", j->username);
    int rc = batch_request_begin(s);
    if (rc == OG_OK) {
        rc = admins_throttle_clear(s->store, ipkey);
        if (rc == OG_OK)
            rc = admins_throttle_clear(s->store, userkey);
        if (rc == OG_OK)
            rc = admins_session_create(s->store, j->username, c->req->client_ip, now,
                                       ADMINS_SESSION_TTL_MS, cookie, sizeof(cookie), &c->sess);
        if (rc == OG_OK)
            rc = admins_touch_login(s->store, j->username, now);
        if (rc == OG_OK)
            rc = support_audit_admin(s->store, now, "admin_login", j->username, c->req->client_ip);
        batch_request_end(s, rc == OG_OK);
    }
    if (rc != OG_OK) {
        OPENSSL_cleanse(cookie, sizeof(cookie));
        http_header_add(c->req, "Retry-After", "1");
        error_page(c, 503, "body.error");
        return;
    }
    log_info("admin signed in to the console", "admin", j->username, "ip", c->req->client_ip);
    set_cookie(c, ADMIN_COOKIE, cookie, (long)(ADMINS_SESSION_TTL_MS / 1000));
    OPENSSL_cleanse(cookie, sizeof(cookie));
    set_cookie(c, LOGIN_COOKIE, "", 0);
    redirect(c, "/admin");
}

static void login_failed(struct console *c, struct login_job *j)
{
    struct server *s = c->srv;
    if (batch_request_begin(s) == OG_OK) {
        bool ok = support_audit_admin(s->store, server_now_ms(), "admin_login_failed", j->username,
                                      c->req->client_ip) == OG_OK;
        batch_request_end(s, ok);
    }
    log_warn("admin console sign-in failed", "admin", j->username[0] ? j->username : NULL, "ip",
             c->req->client_ip);
    login_page(c, 401, j->username, "Wrong username or password.");
}

static void login_after(uv_work_t *w, int status)
{
    struct login_job *j = container_of(w, struct login_job, work);
    job_unlink(j);
    if (!j->req) { /* the connection was dropped at a forced shutdown */
        job_free(j);
        return;
    }
    struct console c;
    console_init(&c, j->req);
    if (status == 0 && j->ok && j->known)
        login_succeeded(&c, j);
    else
        login_failed(&c, j);
    job_free(j);
}

/* Checks both throttle keys: seconds to wait (0: go), or -1 on a store
 * error. */
static int64_t login_wait(struct server *s, const char *ipkey, const char *userkey, int64_t now)
{
    int64_t a = admins_throttle_wait(s->store, ipkey, now);
    int64_t b = userkey ? admins_throttle_wait(s->store, userkey, now) : 0;
    if (a < 0 || b < 0)
        return -1;
    return a > b ? a : b;
}

void admin_console_login(struct http_request *req)
{
    struct console c;
    console_init(&c, req);
    struct server *s = c.srv;
    if (!parse_form(&c)) {
        error_page(&c, 400, "body.error");
        return;
    }
    struct span pre;
    const char *token = form_str(&c, "csrf");
    char want[ADMINS_CSRF_LEN];
    bool csrf_ok = false;
    if (token && cookie_value(req, LOGIN_COOKIE, &pre) && login_cookie_ok(pre)) {
        login_token(&c, pre, want);
        csrf_ok = strlen(token) == ADMINS_CSRF_LEN - 1 &&
                  CRYPTO_memcmp(want, token, ADMINS_CSRF_LEN - 1) == 0;
    }
    const char *username = form_str(&c, "username");
    const char *password = form_str(&c, "password");
    bool name_ok = admins_name_ok(username);
    /* No copy of the password outlives this call but the job's, which is
     * cleansed once checked. */
    struct span pw;
    if (kv_get(&c.form, "password", &pw))
        OPENSSL_cleanse((char *)pw.p, pw.len);
    if (req->body.data)
        OPENSSL_cleanse(req->body.data, req->body.len);
    if (!csrf_ok) {
        log_warn("admin console: sign-in refused without a valid CSRF token", "ip", req->client_ip);
        login_page(&c, 403, name_ok ? username : NULL,
                   "This form has expired. Please sign in again.");
        return;
    }
    size_t pwlen = password ? strlen(password) : 0;
    if (!username || !*username || pwlen == 0) {
        if (password)
            OPENSSL_cleanse((char *)password, pwlen);
        login_page(&c, 400, name_ok ? username : NULL, "Enter your username and password.");
        return;
    }
    /* From here the job holds the only copy of the password. */
    struct login_job *j = og_calloc(1, sizeof(*j));
    j->srv = s;
    j->req = req;
    snprintf(j->username, sizeof(j->username), "%s", name_ok ? username : "");
    if (pwlen <= ADMINS_PASSWORD_MAX) {
        memcpy(j->password, password, pwlen);
        j->pwlen = pwlen;
    }
    OPENSSL_cleanse((char *)password, pwlen);

    int64_t now = server_now_ms();
    char ipkey[64], userkey[80];
    snprintf(ipkey, sizeof(ipkey), "ip:%s", req->client_ip);
    snprintf(userkey, sizeof(userkey), "user:%s", name_ok ? username : "");
    int64_t wait = login_wait(s, ipkey, name_ok ? userkey : NULL, now);
    if (wait != 0 || jobs_in_flight >= LOGIN_MAX_IN_FLIGHT)
        job_free(j);
    if (wait < 0) {
        http_header_add(req, "Retry-After", "1");
        error_page(&c, 503, "body.error");
        return;
    }
    if (wait > 0) {
        char ra[24], msg[128];
        snprintf(ra, sizeof(ra), "%lld", (long long)wait);
        snprintf(msg, sizeof(msg), "Too many failed sign-ins. Try again in %lld seconds.",
                 (long long)wait);
        http_header_add(req, "Retry-After", ra);
        metrics_count(&s->metrics, "otpgate_rate_limit_refusals_total",
                      "Requests refused by a rate limit, lockout wait or the SMS guard, by kind.",
                      "limit=\"admin_login\"", 1);
        log_warn("admin console sign-in refused: waiting after failures", "ip", req->client_ip,
                 "retry_after", ra);
        login_page(&c, 429, name_ok ? username : NULL,
                   arena_strndup(&req->arena, msg, strlen(msg)));
        return;
    }
    if (jobs_in_flight >= LOGIN_MAX_IN_FLIGHT) {
        http_header_add(req, "Retry-After", "1");
        login_page(&c, 503, name_ok ? username : NULL,
                   "The console is busy checking other sign-ins. Try again in a moment.");
        return;
    }

    /* An unknown username checks a dummy hash of the same cost, so the time
     * taken does not tell which usernames exist. */
    j->known = name_ok && pwlen <= ADMINS_PASSWORD_MAX &&
               admins_get_hash(s->store, j->username, j->hash, sizeof(j->hash)) == OG_OK;
    if (!j->known)
        admins_password_dummy(j->hash, sizeof(j->hash));

    /* Every attempt counts as a failure until it is proven right, so
     * attempts sent in parallel cannot outrun the throttle. */
    struct admins_throttle t;
    throttle_of(s, &t);
    static int64_t last_prune;
    int rc = batch_request_begin(s);
    if (rc == OG_OK) {
        rc = admins_throttle_fail(s->store, ipkey, &t, now);
        if (rc == OG_OK && name_ok)
            rc = admins_throttle_fail(s->store, userkey, &t, now);
        if (rc == OG_OK && now - last_prune > PRUNE_EVERY_MS) {
            last_prune = now;
            rc = admins_prune(s->store, now);
        }
        batch_request_end(s, rc == OG_OK);
    }
    if (rc != OG_OK) {
        job_free(j);
        http_header_add(req, "Retry-After", "1");
        error_page(&c, 503, "body.error");
        return;
    }

    j->next = jobs;
    if (jobs)
        jobs->prev = j;
    jobs = j;
    jobs_in_flight++;
    if (uv_queue_work(s->loop, &j->work, login_work, login_after) != 0) {
        job_unlink(j);
        job_free(j);
        http_header_add(req, "Retry-After", "1");
        error_page(&c, 503, "body.error");
    }
    /* Otherwise login_after answers. */
}

void admin_console_detach(struct server *s)
{
    for (struct login_job *j = jobs; j; j = j->next)
        if (j->srv == s)
            j->req = NULL;
}

void admin_console_logout(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, true, NULL))
        return;
    struct server *s = c.srv;
    int rc = batch_request_begin(s);
    if (rc == OG_OK) {
        rc = admins_session_delete(s->store, &c.sess);
        if (rc == OG_OK)
            rc = support_audit_admin(s->store, server_now_ms(), "admin_logout", c.sess.username,
                                     req->client_ip);
        batch_request_end(s, rc == OG_OK);
    }
    if (rc != OG_OK) {
        error_page(&c, 500, "body.error");
        return;
    }
    set_cookie(&c, ADMIN_COOKIE, "", 0);
    redirect(&c, "/admin/login?n=signed_out");
}

/* ---- applications ------------------------------------------------------ */

/* The apps as views in request memory; NULL with *count 0 on a store
 * error (logged). */
static struct ui_admin_app *load_apps(struct console *c, size_t *count)
{
    *count = 0;
    char *text = NULL;
    if (apps_list_json(c->srv->store, &text) != OG_OK) {
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

void admin_console_home(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "apps"))
        return;
    size_t n;
    struct ui_admin_app *apps = load_apps(&c, &n);
    struct policy global;
    policy_load(c.srv->store, NULL, &global);
    struct buf html;
    buf_init(&html, 4u << 20);
    ui_admin_apps(&html, &c.ui, apps, n, policy_mode_name(global.mode));
    send_page(&c, 200, &html);
}

/* ---- users ------------------------------------------------------------ */

struct factor_views {
    struct console *c;
    const struct support_user *u;
    struct ui_admin_factor items[64];
    size_t count;
};

static void collect_factor(const struct support_factor *f, void *arg)
{
    struct factor_views *v = arg;
    if (v->count >= ARRAY_SIZE(v->items))
        return;
    struct arena *a = &v->c->req->arena;
    struct ui_admin_factor *x = &v->items[v->count++];
    x->type = arena_strndup(a, f->type, strlen(f->type));
    x->masked = arena_strndup(a, f->masked, strlen(f->masked));
    x->status = arena_strndup(a, f->status, strlen(f->status));
    x->added = fmt_time(v->c, f->created_at, false);
    x->last_used = fmt_time(v->c, f->last_used_at, false);
    x->preferred = v->u->preferred[0] && strcmp(v->u->preferred, f->id) == 0;
}

void admin_console_users(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "users"))
        return;
    struct ui_admin_user_view v;
    memset(&v, 0, sizeof(v));
    v.apps = load_apps(&c, &v.app_count);
    v.app_id = query_str(&c, "app");
    v.sub = query_str(&c, "sub");
    c.ui.notice = notice_text(query_str(&c, "n"));
    c.ui.error = error_text(query_str(&c, "e"));
    int status = 200;
    struct support_user u;
    struct factor_views fv;
    memset(&fv, 0, sizeof(fv));
    if (v.app_id && *v.app_id && v.sub && *v.sub) {
        int rc = support_user_find(c.srv->store, v.app_id, v.sub, &u);
        if (rc == OG_OK) {
            fv.c = &c;
            fv.u = &u;
            rc = support_user_factors(c.srv->store, u.id, collect_factor, &fv);
        }
        if (rc == OG_ERR_NOT_FOUND) {
            status = 404;
            c.ui.error = error_text("not_found");
        } else if (rc != OG_OK) {
            error_page(&c, 500, "body.error");
            return;
        } else {
            int64_t now = server_now_ms();
            v.found = true;
            v.app_name = u.app_name;
            v.factors = fv.items;
            v.factor_count = fv.count;
            v.failures = u.failures;
            v.recovery_left = u.recovery_left;
            if (u.locked) {
                v.lock_state =
                    arena_printf(&req->arena, "Locked since %s", fmt_time(&c, u.locked_at, true));
                v.locked_or_waiting = true;
            } else if (u.retry_at > now) {
                v.lock_state =
                    arena_printf(&req->arena, "Waiting until %s", fmt_time(&c, u.retry_at, true));
                v.locked_or_waiting = true;
            } else {
                v.lock_state = "Not locked";
            }
        }
    } else if (!v.app_id && v.app_count == 1) {
        v.app_id = v.apps[0].id;
    }
    struct buf html;
    buf_init(&html, 4u << 20);
    ui_admin_user(&html, &c.ui, &v);
    send_page(&c, status, &html);
}

/* POST /admin/users/unlock and /admin/users/reset. */
static void user_change(struct http_request *req, bool reset)
{
    struct console c;
    if (!console_start(req, &c, true, "users"))
        return;
    const char *app = form_str(&c, "app");
    const char *sub = form_str(&c, "sub");
    if (!app || !*app || !sub || !*sub) {
        error_page(&c, 400, "body.error");
        return;
    }
    if (reset) {
        const char *confirm = form_str(&c, "confirm");
        if (!confirm || strcmp(confirm, "1") != 0) {
            redirect(&c, users_url(&c, app, sub, "e", "confirm"));
            return;
        }
    }
    struct server *s = c.srv;
    int64_t now = server_now_ms();
    int rc = batch_request_begin(s);
    if (rc == OG_OK) {
        struct support_user u;
        rc = support_user_find(s->store, app, sub, &u);
        if (rc == OG_OK && reset)
            rc =
                support_user_reset(s->store, u.id, app, sub, "console", c.sess.username, now, NULL);
        else if (rc == OG_OK)
            rc = support_user_unlock(s->store, u.id, app, sub, "console", c.sess.username, now,
                                     NULL);
        batch_request_end(s, rc == OG_OK);
    }
    if (rc == OG_ERR_NOT_FOUND) {
        redirect(&c, users_url(&c, app, sub, "e", "not_found"));
        return;
    }
    if (rc != OG_OK) {
        error_page(&c, 500, "body.error");
        return;
    }
    log_info(reset ? "admin console: user reset" : "admin console: user unlocked", "admin",
             c.sess.username, "app", app);
    redirect(&c, users_url(&c, app, sub, "n", reset ? "reset" : "unlocked"));
}

void admin_console_unlock(struct http_request *req)
{
    user_change(req, false);
}

void admin_console_reset(struct http_request *req)
{
    user_change(req, true);
}

/* ---- delivery log ------------------------------------------------------ */

struct delivery_views {
    struct console *c;
    struct ui_admin_delivery *rows;
    size_t count;
};

static void collect_delivery(const struct support_delivery *d, void *arg)
{
    struct delivery_views *v = arg;
    if (v->count >= DELIVERY_ROWS)
        return;
    struct arena *a = &v->c->req->arena;
    struct ui_admin_delivery *x = &v->rows[v->count++];
    x->time = fmt_time(v->c, d->created_at, true);
    x->app = arena_strndup(a, d->app_name, strlen(d->app_name));
    x->channel = arena_strndup(a, d->channel, strlen(d->channel));
    x->masked = arena_strndup(a, d->masked, strlen(d->masked));
    x->state = arena_strndup(a, d->state, strlen(d->state));
    x->attempts = d->attempts;
    x->provider = arena_strndup(a, d->provider, strlen(d->provider));
    /* Long provider answers are cut (at a character boundary); the row
     * keeps them whole. */
    size_t n = strlen(d->answer);
    if (n > ANSWER_SHOWN) {
        n = ANSWER_SHOWN;
        while (n > 0 && ((unsigned char)d->answer[n] & 0xC0) == 0x80)
            n--;
        x->answer = arena_printf(a, "%.*s…", (int)n, d->answer);
    } else {
        x->answer = arena_strndup(a, d->answer, n);
    }
}

void admin_console_deliveries(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "deliveries"))
        return;
    struct delivery_views v = {&c, NULL, 0};
    v.rows = arena_alloc(&req->arena, DELIVERY_ROWS * sizeof(*v.rows));
    if (support_deliveries_each(c.srv->store, DELIVERY_ROWS, collect_delivery, &v) != OG_OK) {
        error_page(&c, 500, "body.error");
        return;
    }
    struct buf html;
    buf_init(&html, 8u << 20);
    ui_admin_deliveries(&html, &c.ui, v.rows, v.count);
    send_page(&c, 200, &html);
}
