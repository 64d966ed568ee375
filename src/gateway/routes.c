/* The route table and the operational handlers: the landing page, health,
 * readiness, metrics, static files, the development outbox and the error
 * pages for unknown paths. Later features add their rows here. */
#include "gateway/routes.h"

#include "core/log.h"
#include "gateway/admin_console.h"
#include "gateway/api.h"
#include "gateway/brand_logo.h"
#include "gateway/checkpoint.h"
#include "gateway/oidc.h"
#include "gateway/pages.h"
#include "gateway/request_tx.h"
#include "gateway/server.h"
#include "gateway/http/static_files.h"
#include "ui/ui.h"

#include <arpa/inet.h>
#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>

static void handle_home(struct http_request *req)
{
    const struct config *cfg = req->srv->cfg;
    struct ui_ctx c;
    char locale[8];
    pages_bare_ctx(req, &c, locale);
    struct buf page;
    buf_init(&page, 1u << 20);
    ui_page_home(&page, &c, cfg->public_url, cfg->dev_enabled);
    http_page_headers(req);
    http_header_add(req, "Vary", "Accept-Language, Cookie");
    http_respond(req, 200, "text/html; charset=utf-8", page.data, page.len);
    buf_free(&page);
}

/* A browser navigating (Accept: text/html) outside the API. */
static bool wants_page(const struct http_request *req)
{
    struct span accept;
    return !span_starts_with(req->path, "/api/") && http_header_get(req, "Accept", &accept) &&
           accept.len >= 9 && memmem(accept.p, accept.len, "text/html", 9);
}

static void error_page(struct http_request *req, int status)
{
    struct ui_ctx c;
    char locale[8];
    pages_bare_ctx(req, &c, locale);
    struct buf page;
    buf_init(&page, 1u << 20);
    if (status == 405)
        ui_page_message(&page, &c, "title.method_not_allowed", "body.method_not_allowed");
    else
        ui_page_message(&page, &c, "title.not_found", "body.not_found");
    http_page_headers(req);
    http_header_add(req, "Cache-Control", "no-store");
    http_respond(req, status, "text/html; charset=utf-8", page.data, page.len);
    buf_free(&page);
}

static void not_found_page(struct http_request *req)
{
    error_page(req, 404);
}

static void not_allowed_page(struct http_request *req)
{
    error_page(req, 405);
}

/* What a parked error page runs once the commit is over (the page reads
 * the brand from the store). */
static const struct route parked_not_found = {0, "unmatched", not_found_page, 0};
static const struct route parked_not_allowed = {0, "unmatched", not_allowed_page, 0};

void routes_error(struct http_request *req, int status)
{
    if (!wants_page(req)) {
        if (status == 405)
            http_respond_error(req, 405, "method_not_allowed", "method not allowed here");
        else
            http_respond_error(req, 404, "not_found", "no such page");
        return;
    }
    if (req->srv->pool) { /* PostgreSQL: the brand is read on a worker */
        if (request_tx_active()) { /* a handler's own refusal: already there */
            error_page(req, status);
            return;
        }
        req->route = status == 405 ? &parked_not_allowed : &parked_not_found;
        request_tx_dispatch(req);
        return;
    }
    if (batch_busy(req->srv)) {
        req->route = status == 405 ? &parked_not_allowed : &parked_not_found;
        batch_park(req->srv, req);
        return;
    }
    error_page(req, status);
}

static void handle_healthz(struct http_request *req)
{
    http_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

static void handle_readyz(struct http_request *req)
{
    struct server *s = req->srv;
    http_header_add(req, "Cache-Control", "no-store");
    if (s->shutting_down) {
        http_respond_text(req, 503, "shutting down");
        return;
    }
    /* An open group commit already holds the write lock: that is proof
     * enough, and a probe of its own would nest a transaction. */
    int rc = OG_OK;
    if (s->pool) {
        /* PostgreSQL: reachable, and a primary that takes writes (not a
         * standby in recovery); no write, so that the balancers' probes of
         * every instance never conflict with each other. */
        db_stmt *st = store_stmt(server_db(s), "SELECT pg_is_in_recovery()");
        rc = st && db_step(st) == DB_ROW && db_column_int(st, 0) == 0 ? OG_OK : OG_ERR_DB;
        if (st)
            db_reset(st);
    } else if (!s->batch.open) {
        rc = store_check_writable(s->store);
    }
    if (rc != OG_OK) {
        log_error("readiness check: database not writable");
        http_respond_text(req, 503, "database not writable");
        return;
    }
    http_respond(req, 200, "text/plain; charset=utf-8", "ready\n", 6);
}

/* /metrics is for the operator's scraper (SPEC §3 OTPGATE_METRICS_ALLOW):
 * the client, after the trusted-proxy walk, must be in the allowed CIDRs,
 * and a request whose X-Forwarded-For or Forwarded was not believed is
 * refused too, so that a local reverse proxy otpgate does not trust cannot
 * turn every request it forwards into a loopback scrape. */
static bool metrics_allowed(const struct http_request *req)
{
    const struct config *cfg = req->srv->cfg;
    if (req->forwarded_ignored)
        return false;
    union {
        struct in_addr v4;
        struct in6_addr v6;
    } a;
    int family = strchr(req->client_ip, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(family, req->client_ip, &a) != 1)
        return false;
    return config_cidrs_contain(cfg->metrics_allow, cfg->metrics_allow_count, family, &a);
}

static void handle_metrics(struct http_request *req)
{
    struct server *s = req->srv;
    if (!metrics_allowed(req)) {
        http_header_add(req, "Cache-Control", "no-store");
        http_respond_text(req, 403,
                          "metrics are not served to this address (OTPGATE_METRICS_ALLOW)");
        return;
    }
    if (s->batch.open) {
        /* The outbox depth read now would count this batch's rows before
         * they are saved: answer after its commit. */
        batch_park(s, req);
        return;
    }
    struct buf out;
    buf_init(&out, 16u << 20);
    metrics_render(&s->metrics, &out);
    uint64_t ckpt_bg, ckpt_loop;
    checkpointer_counts(s, &ckpt_bg, &ckpt_loop);
    buf_printf(
        &out,
        "# HELP otpgate_open_connections Client connections open now.\n"
        "# TYPE otpgate_open_connections gauge\notpgate_open_connections %u\n"
        "# HELP otpgate_uptime_seconds Seconds since the server started.\n"
        "# TYPE otpgate_uptime_seconds gauge\notpgate_uptime_seconds %.3f\n"
        "# HELP otpgate_outbox_depth Messages queued or being sent.\n"
        "# TYPE otpgate_outbox_depth gauge\notpgate_outbox_depth %d\n"
        "# HELP otpgate_group_commits_total Group commits, and requests they carried.\n"
        "# TYPE otpgate_group_commits_total counter\notpgate_group_commits_total %llu\n"
        "# HELP otpgate_group_commit_requests_total Answers that waited for a group commit.\n"
        "# TYPE otpgate_group_commit_requests_total counter\n"
        "otpgate_group_commit_requests_total %llu\n"
        "# HELP otpgate_wal_checkpoints_total WAL checkpoints, by the thread that ran them.\n"
        "# TYPE otpgate_wal_checkpoints_total counter\n"
        "otpgate_wal_checkpoints_total{thread=\"background\"} %llu\n"
        "otpgate_wal_checkpoints_total{thread=\"committer\"} %llu\n"
        "# HELP otpgate_build_info Version of the running binary.\n"
        "# TYPE otpgate_build_info gauge\notpgate_build_info{version=\"%s\"} 1\n",
        s->conn_count, (double)(uv_hrtime() / 1000000 - s->started_ms) / 1000.0,
        outbox_depth(server_db(s)), (unsigned long long)s->batch.commits,
        (unsigned long long)s->batch.grouped, (unsigned long long)ckpt_bg,
        (unsigned long long)ckpt_loop, OTPGATE_VERSION);
    http_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    buf_free(&out);
}

/* Answers with the static file at path (already clean), or 404. */
static void static_reply(struct http_request *req, const char *clean)
{
    const struct static_file *f = static_cache_find(req->srv->statics, span_cstr(clean));
    if (!f) {
        if (wants_page(req))
            routes_error(req, 404);
        else
            http_respond_text(req, 404, "no such file");
        return;
    }
    /* The gzip body is a different representation: it has its own ETag. */
    struct span ae;
    bool gz = f->gz && http_header_get(req, "Accept-Encoding", &ae) && static_accepts_gzip(ae);
    const char *etag = gz ? f->gz_etag : f->etag;
    http_header_add(req, "ETag", etag);
    http_header_add(req, "Last-Modified", f->last_modified);
    http_header_add(req, "Cache-Control", "public, max-age=3600");
    http_header_add(req, "X-Content-Type-Options", "nosniff");
    if (f->gz)
        http_header_add(req, "Vary", "Accept-Encoding");
    struct span inm;
    if (http_header_get(req, "If-None-Match", &inm) && static_etag_matches(inm, etag)) {
        http_respond(req, 304, NULL, NULL, 0);
        return;
    }
    if (gz) {
        http_header_add(req, "Content-Encoding", "gzip");
        http_respond_borrowed(req, 200, f->mime, f->gz, f->gz_len);
        return;
    }
    /* The cache lives as long as the server: no copy of the body. */
    http_respond_borrowed(req, 200, f->mime, f->data, f->len);
}

static void handle_static(struct http_request *req)
{
    char clean[1024];
    if (req->param_count < 1 || static_path_clean(req->params[0], clean, sizeof(clean)) != OG_OK) {
        http_respond_text(req, 400, "bad static file path");
        return;
    }
    static_reply(req, clean);
}

/* Crawlers ask only at the root: static/robots.txt keeps them off the
 * sign-in pages. */
static void handle_robots(struct http_request *req)
{
    static_reply(req, "robots.txt");
}

struct outbox_ctx {
    struct buf *html;
    const struct ui_ctx *ui;
    json_t *json;
};

static void outbox_one(const struct delivery_message *m, void *arg)
{
    struct outbox_ctx *o = arg;
    if (o->json) {
        char html_url[64] = "";
        if (m->html)
            snprintf(html_url, sizeof(html_url), "/dev/outbox/%llu/html",
                     (unsigned long long)m->id);
        json_array_append_new(
            o->json,
            json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s?}", "id", (json_int_t)m->id,
                      "at_ms", (json_int_t)m->at_ms, "channel", factor_type_name(m->channel),
                      "kind", m->notice ? "notice" : "code", "to", m->to, "subject", m->subject,
                      "text", m->text, "code", m->code, "html_url", m->html ? html_url : NULL));
        return;
    }
    struct ui_outbox_item item = {
        .id = m->id,
        .at_ms = m->at_ms,
        .channel = factor_type_name(m->channel),
        .to = m->to,
        .subject = m->subject,
        .text = m->text,
        .code = m->code,
        .has_html = m->html != NULL,
    };
    ui_dev_outbox_item(o->html, o->ui, &item);
}

static void newest_id(const struct delivery_message *m, void *arg)
{
    uint64_t *latest = arg;
    if (m->id > *latest)
        *latest = m->id;
}

/* The development outbox (SPEC §3 OTPGATE_DEV): the last messages the dev
 * sink took, newest first, as a page, or as JSON for scripts that ask for
 * it. Absent when development delivery is off. */
static void handle_dev_outbox(struct http_request *req)
{
    if (!req->srv->cfg->dev_enabled) {
        routes_error(req, 404);
        return;
    }
    struct span accept;
    if (http_header_get(req, "Accept", &accept) && accept.len >= 16 &&
        memmem(accept.p, accept.len, "application/json", 16)) {
        struct outbox_ctx o = {NULL, NULL, json_array()};
        delivery_dev_each(req->srv, outbox_one, &o);
        json_t *wrap = json_pack("{s:o}", "messages", o.json);
        char *s = json_dumps(wrap, JSON_COMPACT);
        json_decref(wrap);
        http_header_add(req, "Cache-Control", "no-store");
        http_respond(req, 200, "application/json", s, strlen(s));
        free(s);
        return;
    }
    struct ui_ctx c;
    char locale[8];
    pages_bare_ctx(req, &c, locale);
    c.dev_outbox = false; /* this is the outbox */
    uint64_t latest = 0;
    delivery_dev_each(req->srv, newest_id, &latest);
    struct buf page;
    buf_init(&page, 8u << 20);
    struct outbox_ctx o = {&page, &c, NULL};
    ui_dev_outbox_begin(&page, &c, delivery_dev_count(req->srv), latest);
    delivery_dev_each(req->srv, outbox_one, &o);
    ui_dev_outbox_end(&page, &c, delivery_dev_count(req->srv));
    http_page_headers(req); /* no-store among them */
    http_respond(req, 200, "text/html; charset=utf-8", page.data, page.len);
    buf_free(&page);
}

/* One message's HTML part, as the mail client would get it. Message HTML
 * must never act on otpgate's origin: the CSP sandbox gives the document
 * an opaque origin with no scripts, forms, plugins or popups, and loads
 * nothing from anywhere (inline styles only, as mail clients allow). The
 * outbox page frames it (frame-ancestors 'self'). */
static void handle_dev_outbox_html(struct http_request *req)
{
    const struct delivery_message *m = NULL;
    if (req->srv->cfg->dev_enabled && req->param_count == 1 && req->params[0].len > 0 &&
        req->params[0].len < 20) {
        char digits[24];
        memcpy(digits, req->params[0].p, req->params[0].len);
        digits[req->params[0].len] = '\0';
        char *end = NULL;
        unsigned long long id =
            digits[0] >= '0' && digits[0] <= '9' ? strtoull(digits, &end, 10) : 0;
        if (end && *end == '\0' && id > 0)
            m = delivery_dev_find(req->srv, id);
    }
    if (!m || !m->html) {
        routes_error(req, 404);
        return;
    }
    http_header_add(req, "Content-Security-Policy",
                    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                    "script-src 'none'; form-action 'none'; base-uri 'none'; "
                    "frame-ancestors 'self'");
    http_header_add(req, "X-Content-Type-Options", "nosniff");
    http_header_add(req, "Referrer-Policy", "no-referrer");
    http_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 200, "text/html; charset=utf-8", m->html, strlen(m->html));
}

const struct route routes_table[] = {
    /* The API first, and the code check first of it: the router tries the
     * patterns in this order (no two match the same path and method), and
     * these carry the load. */
    {ROUTE_POST, "/api/v1/users/{sub}/verify", api_user_verify, ROUTE_CLIENT_AUTH},
    {ROUTE_POST, "/api/v1/users/{sub}/factors", api_factor_add, ROUTE_CLIENT_AUTH},
    {ROUTE_GET, "/api/v1/users/{sub}/factors", api_factor_list, ROUTE_CLIENT_AUTH},
    {ROUTE_POST, "/api/v1/users/{sub}/factors/{id}/verify", api_factor_verify, ROUTE_CLIENT_AUTH},
    {ROUTE_DELETE, "/api/v1/users/{sub}/factors/{id}", api_factor_remove, ROUTE_CLIENT_AUTH},
    {ROUTE_PUT, "/api/v1/users/{sub}/preferred", api_preferred, ROUTE_CLIENT_AUTH},
    {ROUTE_GET, "/api/v1/users/{sub}/devices", api_devices_list, ROUTE_CLIENT_AUTH},
    {ROUTE_DELETE, "/api/v1/users/{sub}/devices", api_devices_forget, ROUTE_CLIENT_AUTH},
    {ROUTE_POST, "/api/v1/users/{sub}/recovery-codes", api_recovery_new, ROUTE_CLIENT_AUTH},
    {ROUTE_GET, "/api/v1/users/{sub}/passkeys", api_passkeys_list, ROUTE_CLIENT_AUTH},
    {ROUTE_POST, "/api/v1/users/{sub}/passkeys/register/begin", api_passkey_register_begin,
     ROUTE_CLIENT_AUTH},
    {ROUTE_POST, "/api/v1/users/{sub}/passkeys/register/finish", api_passkey_register_finish,
     ROUTE_CLIENT_AUTH},
    {ROUTE_POST, "/api/v1/challenges", api_challenge_create, ROUTE_CLIENT_AUTH},
    {ROUTE_POST, "/api/v1/challenges/{id}/resend", api_challenge_resend, ROUTE_CLIENT_AUTH},
    {ROUTE_POST, "/api/v1/challenges/{id}/verify", api_challenge_verify, ROUTE_CLIENT_AUTH},
    {ROUTE_POST, "/api/v1/results/redeem", api_result_redeem, ROUTE_CLIENT_AUTH},
    {ROUTE_GET, "/", handle_home, 0},
    {ROUTE_GET, "/healthz", handle_healthz, ROUTE_NO_STORE},
    {ROUTE_GET, "/readyz", handle_readyz, 0},
    {ROUTE_GET, "/metrics", handle_metrics, 0},
    {ROUTE_GET, "/static/*", handle_static, ROUTE_NO_STORE},
    {ROUTE_GET, "/robots.txt", handle_robots, ROUTE_NO_STORE},
    {ROUTE_GET, "/dev/outbox", handle_dev_outbox, 0},
    {ROUTE_GET, "/dev/outbox/{id}/html", handle_dev_outbox_html, ROUTE_NO_STORE},
    {ROUTE_GET, "/brand.css", page_brand_css, 0},
    {ROUTE_GET, "/start", page_start_link, 0},
    {ROUTE_GET, "/.well-known/openid-configuration", oidc_discovery, 0},
    {ROUTE_GET, "/jwks.json", oidc_jwks, 0},
    {ROUTE_GET, "/authorize", oidc_authorize, 0},
    {ROUTE_POST, "/token", oidc_token, 0},
    {ROUTE_GET | ROUTE_POST, "/userinfo", oidc_userinfo, 0},
    {ROUTE_GET, "/flow", page_flow, 0},
    {ROUTE_GET, "/challenge", page_challenge, 0},
    {ROUTE_POST, "/challenge/send", page_challenge_send, ROUTE_CSRF},
    {ROUTE_POST, "/challenge/verify", page_challenge_verify, ROUTE_CSRF},
    {ROUTE_POST, "/challenge/recovery", page_challenge_recovery, ROUTE_CSRF},
    {ROUTE_POST, "/challenge/passkey", page_challenge_passkey, ROUTE_CSRF},
    {ROUTE_POST, "/challenge/cancel", page_challenge_cancel, ROUTE_CSRF},
    {ROUTE_GET, "/account", page_account, 0},
    {ROUTE_GET, "/account/add/{type}", page_account_add_form, 0},
    {ROUTE_POST, "/account/add/{type}", page_account_add, ROUTE_CSRF},
    {ROUTE_POST, "/account/resend", page_account_resend, ROUTE_CSRF},
    {ROUTE_POST, "/account/verify", page_account_verify, ROUTE_CSRF},
    {ROUTE_POST, "/account/continue", page_account_continue, ROUTE_CSRF},
    {ROUTE_POST, "/account/preferred", page_account_preferred, ROUTE_CSRF},
    {ROUTE_POST, "/account/remove", page_account_remove, ROUTE_CSRF},
    {ROUTE_POST, "/account/rename", page_account_rename, ROUTE_CSRF},
    {ROUTE_POST, "/account/disable", page_account_disable, ROUTE_CSRF},
    {ROUTE_GET, "/account/recovery-codes", page_account_recovery_show, 0},
    {ROUTE_POST, "/account/recovery-codes", page_account_recovery, ROUTE_CSRF},
    {ROUTE_POST, "/account/devices/forget", page_account_devices_forget, ROUTE_CSRF},
    {ROUTE_POST, "/account/done", page_account_done, ROUTE_CSRF},
    {ROUTE_GET, "/enrol", page_enrol, 0},
    {ROUTE_POST, "/enrol/skip", page_enrol_skip, ROUTE_CSRF},
    {ROUTE_POST, "/lang", page_lang, 0},
    {ROUTE_GET, "/brand/logo", brand_logo_serve, 0},
    {ROUTE_GET, "/admin", admin_console_overview, 0},
    {ROUTE_GET, "/admin/login", admin_console_login_form, 0},
    {ROUTE_POST, "/admin/login", admin_console_login, ROUTE_CSRF},
    {ROUTE_POST, "/admin/logout", admin_console_logout, ROUTE_CSRF},
    {ROUTE_GET, "/admin/apps", admin_console_apps, 0},
    {ROUTE_GET, "/admin/apps/new", admin_console_app_new_form, 0},
    {ROUTE_POST, "/admin/apps/new", admin_console_app_new, ROUTE_CSRF},
    {ROUTE_GET, "/admin/apps/{id}", admin_console_app, 0},
    {ROUTE_POST, "/admin/apps/{id}", admin_console_app_save, ROUTE_CSRF},
    {ROUTE_POST, "/admin/apps/{id}/policy", admin_console_app_policy, ROUTE_CSRF},
    {ROUTE_POST, "/admin/apps/{id}/webhook", admin_console_app_webhook, ROUTE_CSRF},
    {ROUTE_GET, "/admin/apps/{id}/webhook-secret", admin_console_app_webhook_secret, 0},
    {ROUTE_GET, "/admin/apps/{id}/secret", admin_console_app_secret, 0},
    {ROUTE_GET, "/admin/apps/{id}/rotate", admin_console_app_rotate_form, 0},
    {ROUTE_POST, "/admin/apps/{id}/rotate", admin_console_app_rotate, ROUTE_CSRF},
    {ROUTE_GET, "/admin/apps/{id}/remove", admin_console_app_remove_form, 0},
    {ROUTE_POST, "/admin/apps/{id}/remove", admin_console_app_remove, ROUTE_CSRF},
    {ROUTE_GET, "/admin/policy", admin_console_policy, 0},
    {ROUTE_POST, "/admin/policy", admin_console_policy_save, ROUTE_CSRF},
    {ROUTE_GET, "/admin/users", admin_console_users, 0},
    {ROUTE_GET, "/admin/user", admin_console_user, 0},
    {ROUTE_POST, "/admin/users/unlock", admin_console_unlock, ROUTE_CSRF},
    {ROUTE_POST, "/admin/users/forget-devices", admin_console_forget_devices, ROUTE_CSRF},
    {ROUTE_GET, "/admin/users/reset", admin_console_reset_form, 0},
    {ROUTE_POST, "/admin/users/reset", admin_console_reset, ROUTE_CSRF},
    {ROUTE_GET, "/admin/users/factor", admin_console_factor_form, 0},
    {ROUTE_POST, "/admin/users/factor", admin_console_factor_remove, ROUTE_CSRF},
    {ROUTE_GET, "/admin/deliveries", admin_console_deliveries, 0},
    {ROUTE_GET, "/admin/deliveries/{id}", admin_console_delivery, 0},
    {ROUTE_GET, "/admin/brand", admin_console_brand, 0},
    {ROUTE_POST, "/admin/brand", admin_console_brand_save, ROUTE_CSRF},
    {ROUTE_GET, "/admin/admins", admin_console_admins, 0},
    {ROUTE_POST, "/admin/admins", admin_console_admin_add, ROUTE_CSRF},
    {ROUTE_GET, "/admin/admins/remove", admin_console_admin_remove_form, 0},
    {ROUTE_POST, "/admin/admins/remove", admin_console_admin_remove, ROUTE_CSRF},
    {ROUTE_GET, "/admin/account", admin_console_account, 0},
    {ROUTE_POST, "/admin/account", admin_console_password, ROUTE_CSRF},
};

const size_t routes_count = ARRAY_SIZE(routes_table);
