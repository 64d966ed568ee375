/* The console's operations: the overview (counts per app and factor type,
 * the last 24 hours' messages), the delivery log with filters and each
 * message's request and answer (codes blanked, destinations masked),
 * branding (the checks `otpgate brand set` makes, the logo uploaded as
 * multipart/form-data and copied into the data directory), admin accounts
 * (add with the password hashed on the thread pool, remove: never oneself
 * or the last one) and the admin's own password (the current one checked
 * on the thread pool, with the sign-in throttle). Every change is audited
 * with the admin's name. */
#include "core/brand.h"
#include "core/log.h"
#include "core/overview.h"
#include "core/policy.h"
#include "core/sms_template.h"
#include "core/support.h"
#include "gateway/admin_console.h"
#include "gateway/admin_console_parts.h"
#include "gateway/server.h"
#include "gateway/delivery/sms.h"
#include "ui/messages.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>

#define DELIVERIES_PER_PAGE 100
#define ANSWER_SHOWN        300 /* bytes of a provider answer in the list */
#define EVENTS_SHOWN        30
#define ACCOUNTS_MAX        256
#define DAY_MS              (24LL * 3600 * 1000)
/* The number the rebuilt SMS request carries instead of the user's. */
#define PLACEHOLDER_PHONE "+999999999999"

/* ---- overview ----------------------------------------------------------- */

struct overview_ctx {
    struct console *c;
    struct ui_admin_app_counts *apps;
    size_t count;
};

static void collect_counts(const struct overview_app *a, void *arg)
{
    struct overview_ctx *x = arg;
    if (x->count >= 512)
        return;
    struct arena *ar = &x->c->req->arena;
    struct ui_admin_app_counts *v = &x->apps[x->count++];
    v->id = arena_strndup(ar, a->id, strlen(a->id));
    v->name = arena_strndup(ar, a->name, strlen(a->name));
    v->users = a->users;
    v->with_factor = a->with_factor;
    v->sms = a->sms;
    v->email = a->email;
    v->totp = a->totp;
    v->locked = a->locked;
    v->waiting = a->waiting;
}

void admin_console_overview(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "overview", false))
        return;
    int64_t now = server_now_ms();
    struct overview_ctx x = {&c, arena_alloc(&req->arena, 512 * sizeof(*x.apps)), 0};
    struct overview_sends sends;
    struct policy global;
    if (overview_apps_each(server_db(c.srv), now, collect_counts, &x) != OG_OK ||
        overview_sends_since(server_db(c.srv), now - DAY_MS, &sends) != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    policy_load(server_db(c.srv), NULL, &global);
    struct ui_admin_overview v = {
        .apps = x.apps, .app_count = x.count, .global_mode = policy_mode_name(global.mode)};
    for (int i = 0; i < OVERVIEW_CHANNELS; i++) {
        v.sent[i] = sends.sent[i];
        v.failed[i] = sends.failed[i];
        v.pending[i] = sends.pending[i];
        v.retried[i] = sends.retried[i];
    }
    struct buf html;
    buf_init(&html, 4u << 20);
    ui_admin_overview(&html, &c.ui, &v);
    console_send(&c, 200, &html);
}

/* ---- delivery log ------------------------------------------------------- */

static const char *answer_head(struct arena *a, const char *answer)
{
    /* Long provider answers are cut (at a character boundary); the row's
     * own page shows them whole. */
    size_t n = strlen(answer);
    if (n <= ANSWER_SHOWN)
        return arena_strndup(a, answer, n);
    n = ANSWER_SHOWN;
    while (n > 0 && ((unsigned char)answer[n] & 0xC0) == 0x80)
        n--;
    return arena_printf(a, "%.*s…", (int)n, answer);
}

static void delivery_view(struct console *c, const struct support_delivery *d,
                          struct ui_admin_delivery *x, bool whole)
{
    struct arena *a = &c->req->arena;
    x->time = console_time(c, d->created_at, true);
    x->app = arena_strndup(a, d->app_name, strlen(d->app_name));
    x->channel = arena_strndup(a, d->channel, strlen(d->channel));
    x->masked = arena_strndup(a, d->masked, strlen(d->masked));
    x->state = arena_strndup(a, d->state, strlen(d->state));
    x->attempts = d->attempts;
    x->provider = arena_strndup(a, d->provider, strlen(d->provider));
    x->answer = whole ? arena_strndup(a, d->answer, strlen(d->answer)) : answer_head(a, d->answer);
    x->href = arena_printf(a, "/admin/deliveries/%lld", (long long)d->id);
}

struct delivery_rows {
    struct console *c;
    struct ui_admin_delivery *rows;
    size_t count;
    int64_t last_id;
};

static void collect_delivery(const struct support_delivery *d, void *arg)
{
    struct delivery_rows *v = arg;
    delivery_view(v->c, d, &v->rows[v->count++], false);
    v->last_id = d->id;
}

/* value when it is one of the allowed words, else "". */
static const char *one_of(const char *value, const char *const *allowed, size_t n)
{
    for (size_t i = 0; value && i < n; i++)
        if (strcmp(value, allowed[i]) == 0)
            return allowed[i];
    return "";
}

void admin_console_deliveries(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "deliveries", false))
        return;
    static const char *const channels[] = {"sms", "email", "webhook"};
    static const char *const states[] = {"queued", "sending", "sent", "failed"};
    struct ui_admin_deliveries_view v;
    memset(&v, 0, sizeof(v));
    v.apps = console_apps(&c, &v.app_count);
    v.channel = one_of(console_query(&c, "channel"), channels, ARRAY_SIZE(channels));
    v.state = one_of(console_query(&c, "state"), states, ARRAY_SIZE(states));
    v.app_id = console_query(&c, "app");
    if (!v.app_id)
        v.app_id = "";
    const char *before = console_query(&c, "before");
    long long before_id = 0;
    if (before && og_parse_int(span_cstr(before), 1, INT64_MAX, &before_id) != OG_OK)
        before_id = 0;
    struct support_delivery_query q = {v.channel, v.state, v.app_id, before_id,
                                       DELIVERIES_PER_PAGE};
    struct delivery_rows rows = {
        &c, arena_alloc(&req->arena, DELIVERIES_PER_PAGE * sizeof(*rows.rows)), 0, 0};
    bool more = false;
    if (support_deliveries_each(server_db(c.srv), &q, collect_delivery, &rows, &more) != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    v.rows = rows.rows;
    v.count = rows.count;
    const char *base[] = {"channel", v.channel, "state", v.state, "app", v.app_id};
    if (before_id > 0)
        v.newer_href = console_url(&c, "/admin/deliveries", base, 3);
    if (more) {
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long)rows.last_id);
        const char *p[] = {base[0], base[1], base[2], base[3], base[4], base[5], "before", id};
        v.older_href = console_url(&c, "/admin/deliveries", p, 4);
    }
    struct buf html;
    buf_init(&html, 8u << 20);
    ui_admin_deliveries(&html, &c.ui, &v);
    console_send(&c, 200, &html);
}

/* The host of the public URL (as the messages name it), into out. */
static void public_host(const struct server *s, char *out, size_t outlen)
{
    const char *p = strstr(s->cfg->public_url, "://");
    p = p ? p + 3 : s->cfg->public_url;
    size_t n = strcspn(p, *p == '[' ? "]" : ":/");
    if (*p == '[' && p[n] == ']')
        n++;
    snprintf(out, outlen, "%.*s", (int)n, p);
}

/* Replaces every occurrence of from in b's text by to. */
static void replace_all(struct buf *b, const char *from, const char *to)
{
    if (!b->data || !from[0])
        return;
    struct buf out;
    buf_init(&out, b->len * 2 + 4096);
    const char *p = b->data, *end = b->data + b->len;
    size_t n = strlen(from);
    while (p < end) {
        const char *hit = memmem(p, (size_t)(end - p), from, n);
        if (!hit) {
            buf_append(&out, p, (size_t)(end - p));
            break;
        }
        buf_append(&out, p, (size_t)(hit - p));
        buf_append_str(&out, to);
        p = hit + n;
    }
    buf_clear(b);
    buf_append(b, out.data ? out.data : "", out.len);
    buf_free(&out);
}

/* The provider request of an outbox row as the current settings make it,
 * with a stand-in code (blanked) and the destination masked; NULL with a
 * note when there is none to show. */
static const char *rebuild_request(struct console *c, const struct support_delivery_detail *d,
                                   const char **note)
{
    struct server *s = c->srv;
    struct arena *a = &c->req->arena;
    if (strcmp(d->provider, "dev") == 0) {
        *note = "Development delivery: nothing was sent. The message went to the log and "
                "/dev/outbox.";
        return NULL;
    }
    /* Only a code message is rebuilt; the others say what they are. */
    if (strcmp(d->kind, "webhook") == 0) {
        *note = "A webhook: a signed JSON POST of the event above to the app's webhook URL.";
        return NULL;
    }
    if (strcmp(d->kind, "notice") == 0) {
        *note = "A security notification to the user, by the channel above.";
        return NULL;
    }
    struct policy pol;
    policy_load(server_db(s), d->app_id, &pol);
    char code[16];
    unsigned digits = pol.code_digits < sizeof(code) ? pol.code_digits : 6;
    memset(code, '0', digits);
    code[digits] = '\0';
    unsigned minutes = (unsigned)((d->ttl + 59) / 60);
    char host[256];
    public_host(s, host, sizeof(host));
    struct buf req;
    buf_init(&req, 256 * 1024);
    if (strcmp(d->channel, "sms") == 0) {
        struct sms_client *cl = NULL;
        if (s->delivery.sms && strcmp(sms_client_provider(s->delivery.sms), d->provider) == 0)
            cl = s->delivery.sms;
        else if (s->delivery.sms2 &&
                 strcmp(sms_client_provider(s->delivery.sms2), d->provider) == 0)
            cl = s->delivery.sms2;
        if (!cl) {
            buf_free(&req);
            *note = d->provider[0] ? "The SMS provider that sent it is no longer configured, so "
                                     "its request cannot be shown."
                                   : "Not handed to a provider yet.";
            return NULL;
        }
        struct buf text;
        buf_init(&text, 4096);
        ui_message_sms(&text, d->locale, d->app_name, code, minutes, host);
        buf_append(&text, "", 1);
        int rc = sms_describe(cl, PLACEHOLDER_PHONE, text.data, code, &req);
        buf_free(&text);
        if (rc != OG_OK) {
            buf_free(&req);
            *note = "The request cannot be rebuilt from the current settings.";
            return NULL;
        }
        buf_append(&req, "", 1);
        req.len--;
        replace_all(&req, PLACEHOLDER_PHONE, d->d.masked);
        replace_all(&req, PLACEHOLDER_PHONE + 1, d->d.masked);
        *note = "Rebuilt from the current provider settings: the code is blanked (******), the "
                "number masked and credentials hidden.";
    } else {
        if (!s->cfg->smtp_url) {
            buf_free(&req);
            *note = "No SMTP server is configured now, so the request cannot be shown.";
            return NULL;
        }
        struct buf subject, text;
        buf_init(&subject, 1024);
        buf_init(&text, 64 * 1024);
        ui_message_email(&subject, &text, d->locale, d->app_name, code, minutes, NULL);
        buf_printf(&req,
                   "SMTP %s:%d%s\nMAIL FROM:<%s>\nRCPT TO:<%s>\n\nMessage-ID: <%s@%s>\nSubject: ",
                   s->cfg->smtp_host ? s->cfg->smtp_host : "", s->cfg->smtp_port,
                   s->cfg->smtp_user ? " (with AUTH, credentials hidden)" : "",
                   s->cfg->smtp_from ? s->cfg->smtp_from : "", d->d.masked, d->msg_id, host);
        buf_append(&req, subject.data ? subject.data : "", subject.len);
        buf_append_str(&req, "\n\n");
        buf_append(&req, text.data ? text.data : "", text.len);
        buf_append(&req, "", 1);
        req.len--;
        tmpl_blank_code(req.data, code);
        buf_free(&subject);
        buf_free(&text);
        *note = "Rebuilt from the current settings: the code is blanked (******), the address "
                "masked. The HTML part is left out.";
    }
    const char *out = arena_strndup(a, req.data ? req.data : "", req.len);
    buf_free(&req);
    return out;
}

void admin_console_delivery(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "deliveries", false))
        return;
    const char *idp = console_param(&c, 0);
    long long id = 0;
    struct support_delivery_detail *d = arena_alloc(&req->arena, sizeof(*d));
    int rc = idp && og_parse_int(span_cstr(idp), 1, INT64_MAX, &id) == OG_OK
                 ? support_delivery_get(server_db(c.srv), id, d)
                 : OG_ERR_NOT_FOUND;
    if (rc == OG_ERR_NOT_FOUND) {
        console_message(&c, 404, "No such message", "The delivery log has no such message.",
                        "/admin/deliveries", "Delivery log");
        return;
    }
    if (rc != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    struct ui_admin_delivery row;
    delivery_view(&c, &d->d, &row, true);
    struct ui_admin_delivery_view v = {
        .d = &row,
        .id = arena_printf(&req->arena, "%lld", id),
        .msg_id = d->msg_id,
        .locale = d->locale,
        .provider_id = d->provider_id,
        .sent = console_time(&c, d->d.sent_at, true),
        .next_try = strcmp(d->state, "queued") == 0 ? console_time(&c, d->next_at, true) : NULL,
        .answer = row.answer,
    };
    if (d->fallback_of > 0)
        v.fallback_href =
            arena_printf(&req->arena, "/admin/deliveries/%lld", (long long)d->fallback_of);
    v.request = rebuild_request(&c, d, &v.request_note);
    struct buf html;
    buf_init(&html, 4u << 20);
    ui_admin_delivery(&html, &c.ui, &v);
    console_send(&c, 200, &html);
}

/* ---- branding ------------------------------------------------------------ */

static unsigned long upload_max_kib(const struct server *s)
{
    /* The form's own fields and the multipart framing take some room. */
    size_t room = s->cfg->max_body_bytes > 4096 ? s->cfg->max_body_bytes - 4096 : 0;
    return (unsigned long)((room < BRAND_LOGO_MAX ? room : BRAND_LOGO_MAX) / 1024);
}

static void brand_page(struct console *c, int status, const char *const values[4],
                       const char *invalid)
{
    char logo[BRAND_VALUE_LEN], v[BRAND_VERSION_LEN];
    if (brand_get(server_db(c->srv), "logo", logo, sizeof(logo)) != OG_OK)
        logo[0] = '\0';
    struct ui_admin_brand_view bv = {
        .name = values[0],
        .accent = values[1],
        .support = values[3],
        .logo = arena_strndup(&c->req->arena, logo, strlen(logo)),
        .uploaded = brand_logo_version(logo, v),
        .invalid = invalid,
        .upload_max_kib = upload_max_kib(c->srv),
    };
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_admin_brand(&html, &c->ui, &bv);
    console_send(c, status, &html);
}

void admin_console_brand(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "brand", false))
        return;
    console_alerts_from_query(&c);
    const char *values[4];
    for (size_t i = 0; i < ARRAY_SIZE(brand_keys); i++) {
        char v[BRAND_VALUE_LEN];
        if (brand_get(server_db(c.srv), brand_keys[i], v, sizeof(v)) != OG_OK)
            v[0] = '\0';
        values[i] = arena_strndup(&req->arena, v, strlen(v));
    }
    brand_page(&c, 200, values, NULL);
}

void admin_console_brand_save(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, true, "brand", true))
        return;
    struct server *s = c.srv;
    /* name, accent, support from the form; logo from the file or the reset box. */
    const char *values[4], *current[4];
    for (size_t i = 0; i < ARRAY_SIZE(brand_keys); i++) {
        char v[BRAND_VALUE_LEN];
        if (brand_get(server_db(s), brand_keys[i], v, sizeof(v)) != OG_OK)
            v[0] = '\0';
        current[i] = arena_strndup(&req->arena, v, strlen(v));
        const char *f = strcmp(brand_keys[i], "logo") == 0 ? NULL : console_form(&c, brand_keys[i]);
        values[i] = f ? f : current[i];
    }
    for (size_t i = 0; i < ARRAY_SIZE(brand_keys); i++) {
        const char *why = brand_check(brand_keys[i], values[i]);
        if (why) {
            c.ui.error =
                arena_printf(&req->arena, "%s %s. Nothing was changed.",
                             strcmp(brand_keys[i], "name") == 0     ? "The product name"
                             : strcmp(brand_keys[i], "accent") == 0 ? "The accent colour"
                                                                    : "The support contact",
                             why);
            brand_page(&c, 400, values, brand_keys[i]);
            return;
        }
    }
    const struct multipart_part *file = c.multipart ? multipart_get(&c.parts, "logo") : NULL;
    const char *reset = console_form(&c, "logo_reset");
    json_t *changes = json_object();
    const uint8_t *logo = NULL; /* an uploaded file, stored inside the transaction */
    if (file && file->filename.p && file->data.len > 0) {
        char url[64], err[256];
        const char *mime = NULL;
        int rc = brand_logo_check((const uint8_t *)file->data.p, file->data.len, &mime, err,
                                  sizeof(err));
        if (rc != OG_OK) {
            json_decref(changes);
            log_warn("admin console: logo refused", "admin", c.sess.username, "error", err);
            c.ui.error = arena_printf(&req->arena, "The %s Nothing was changed.", err);
            brand_page(&c, 400, values, "logo");
            return;
        }
        logo = (const uint8_t *)file->data.p;
        brand_logo_url(logo, file->data.len, url, sizeof(url));
        values[2] = arena_strndup(&req->arena, url, strlen(url));
        json_object_set_new(
            changes, "logo_file",
            json_pack("{s:s, s:I}", "type", mime, "bytes", (json_int_t)file->data.len));
    } else if (reset && strcmp(reset, "1") == 0) {
        values[2] = "";
    }
    for (size_t i = 0; i < ARRAY_SIZE(brand_keys); i++)
        if (strcmp(values[i], current[i]) != 0)
            json_object_set_new(changes, brand_keys[i], json_string(values[i]));
    int rc = console_write_begin(&c);
    if (rc == OG_OK) {
        if (logo) {
            char url[64], err[256];
            rc = brand_logo_save(server_db(s), logo, file->data.len, current[2], server_now_ms(),
                                 url, sizeof(url), err, sizeof(err));
            if (rc != OG_OK)
                log_error("admin console: logo not saved", "error", err);
        }
        for (size_t i = 0; i < ARRAY_SIZE(brand_keys) && rc == OG_OK; i++)
            if (strcmp(values[i], current[i]) != 0)
                rc = brand_set(server_db(s), brand_keys[i], values[i]);
        if (rc == OG_OK && json_object_size(changes) > 0)
            rc = console_audit(&c, "admin_brand_set", NULL, NULL,
                               json_pack("{s:O}", "changes", changes));
        console_write_end(&c, rc);
    }
    json_decref(changes);
    if (rc != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    log_info("admin console: branding saved", "admin", c.sess.username);
    console_redirect(&c, "/admin/brand?n=brand_saved");
}

/* ---- admin accounts -------------------------------------------------------- */

struct accounts_ctx {
    struct console *c;
    struct ui_admin_account *items;
    size_t count;
};

static void collect_account(const struct admin_account *a, void *arg)
{
    struct accounts_ctx *x = arg;
    if (x->count >= ACCOUNTS_MAX)
        return;
    struct arena *ar = &x->c->req->arena;
    struct ui_admin_account *v = &x->items[x->count++];
    v->username = arena_strndup(ar, a->username, strlen(a->username));
    v->created = console_time(x->c, a->created_at, false);
    v->last_login = console_time(x->c, a->last_login_at, false);
    v->password_changed = console_time(x->c, a->updated_at, false);
    v->sessions = a->sessions;
    v->self = strcmp(a->username, x->c->sess.username) == 0;
    const char *params[] = {"name", a->username};
    v->remove_href = v->self ? NULL : console_url(x->c, "/admin/admins/remove", params, 1);
}

static void admins_page(struct console *c, int status, const char *username, const char *invalid)
{
    struct accounts_ctx x = {c, arena_alloc(&c->req->arena, ACCOUNTS_MAX * sizeof(*x.items)), 0};
    struct console_events ev = {c, arena_alloc(&c->req->arena, EVENTS_SHOWN * sizeof(*ev.items)),
                                0};
    if (admins_each(server_db(c->srv), server_now_ms(), collect_account, &x) != OG_OK ||
        support_console_history(server_db(c->srv), EVENTS_SHOWN, console_event_collect, &ev) !=
            OG_OK) {
        console_error(c, 500, "body.error");
        return;
    }
    if (x.count == 1) /* the last account cannot go */
        x.items[0].remove_href = NULL;
    struct ui_admin_admins_view v = {x.items, x.count, username, invalid, ev.items, ev.count};
    struct buf html;
    buf_init(&html, 4u << 20);
    ui_admin_admins(&html, &c->ui, &v);
    console_send(c, status, &html);
}

void admin_console_admins(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "admins", false))
        return;
    console_alerts_from_query(&c);
    admins_page(&c, 200, NULL, NULL);
}

/* The new password of a form ("password", "password2") checked as `otpgate
 * admin add` checks it; NULL, or what is wrong. */
static const char *new_password_problem(const char *pw, const char *again)
{
    size_t n = pw ? strlen(pw) : 0;
    if (!pw || !again || n != strlen(again) || CRYPTO_memcmp(pw, again, n) != 0)
        return "The two passwords differ. Nothing was changed.";
    int rc = admins_password_check(pw, n);
    if (rc == OG_ERR_TOO_BIG)
        return "The password is longer than 1024 bytes. Nothing was changed.";
    if (rc != OG_OK)
        return "The password must have at least 12 characters. Nothing was changed.";
    return NULL;
}

static void admin_added(struct console *c, const struct console_pw_result *r)
{
    c->ui.section = "admins";
    if (!r->ok) {
        console_error(c, 500, "body.error");
        return;
    }
    int rc = console_write_begin(c);
    if (rc == OG_OK) {
        rc = admins_add(server_db(c->srv), r->username, r->hash, server_now_ms());
        if (rc == OG_OK)
            rc = console_audit(c, "admin_account_add", NULL, NULL,
                               json_pack("{s:s}", "account", r->username));
        console_write_end(c, rc);
    }
    if (rc == OG_ERR_EXISTS) {
        c->ui.error = "An admin with this username exists already. Nothing was changed.";
        admins_page(c, 409, r->username, "username");
        return;
    }
    if (rc != OG_OK) {
        console_error(c, 500, "body.error");
        return;
    }
    log_info("admin console: admin added", "admin", c->sess.username, "account", r->username);
    console_redirect(c, "/admin/admins?n=admin_added");
}

void admin_console_admin_add(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, true, "admins", false))
        return;
    const char *name = console_form(&c, "username");
    const char *pw = console_form(&c, "password"), *again = console_form(&c, "password2");
    console_form_cleanse(&c);
    const char *problem = NULL, *invalid = "password";
    char hash[ADMINS_HASH_LEN];
    if (!admins_name_ok(name)) {
        problem = "The username must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -. Nothing was "
                  "changed.";
        invalid = "username";
    } else if (admins_get_hash(server_db(c.srv), name, hash, sizeof(hash)) != OG_ERR_NOT_FOUND) {
        problem = "An admin with this username exists already. Nothing was changed.";
        invalid = "username";
    } else {
        problem = new_password_problem(pw, again);
    }
    OPENSSL_cleanse(hash, sizeof(hash));
    int rc = problem
                 ? OG_ERR_INVALID
                 : console_pw_queue(&c, CONSOLE_PW_ADD, name, NULL, 0, pw, strlen(pw), admin_added);
    if (pw)
        OPENSSL_cleanse((char *)pw, strlen(pw));
    if (again)
        OPENSSL_cleanse((char *)again, strlen(again));
    if (rc == OG_ERR_INVALID) {
        c.ui.error = problem ? problem : "The password is too long. Nothing was changed.";
        admins_page(&c, 400, admins_name_ok(name) ? name : NULL, invalid);
        return;
    }
    if (rc != OG_OK) {
        http_header_add(req, "Retry-After", "1");
        console_message(&c, 503, "Busy",
                        "The console is busy checking passwords. Try again in "
                        "a moment.",
                        "/admin/admins", "Admins");
    }
    /* Otherwise admin_added answers. */
}

void admin_console_admin_remove_form(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "admins", false))
        return;
    const char *name = console_query(&c, "name");
    char hash[ADMINS_HASH_LEN];
    int rc = admins_get_hash(server_db(c.srv), name, hash, sizeof(hash));
    OPENSSL_cleanse(hash, sizeof(hash));
    if (rc != OG_OK) {
        console_message(&c, 404, "No such admin", "There is no admin account with this name.",
                        "/admin/admins", "Admins");
        return;
    }
    if (strcmp(name, c.sess.username) == 0) {
        console_message(&c, 409, "You cannot remove yourself",
                        "Another admin can remove your account.", "/admin/admins", "Admins");
        return;
    }
    const char *lines[] = {"They can no longer sign in to the console, and their open sessions "
                           "end at once.",
                           "What they did stays in the audit trail."};
    const char *hidden[] = {"name", name};
    struct ui_admin_confirm v = {
        .title = arena_printf(&req->arena, "Remove the admin %s?", name),
        .lines = lines,
        .line_count = ARRAY_SIZE(lines),
        .action = "/admin/admins/remove",
        .hidden = hidden,
        .hidden_count = 1,
        .button = arena_printf(&req->arena, "Remove %s", name),
        .cancel_href = "/admin/admins",
    };
    console_confirm(&c, &v);
}

void admin_console_admin_remove(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, true, "admins", false))
        return;
    const char *name = console_form(&c, "name");
    if (!name || !*name) {
        console_error(&c, 400, "body.error");
        return;
    }
    const char *params[] = {"name", name};
    if (!console_confirmed(&c, console_url(&c, "/admin/admins/remove", params, 1)))
        return;
    int rc = console_write_begin(&c);
    if (rc == OG_OK) {
        rc = admins_remove(server_db(c.srv), name, c.sess.username);
        if (rc == OG_OK)
            rc = console_audit(&c, "admin_account_remove", NULL, NULL,
                               json_pack("{s:s}", "account", name));
        console_write_end(&c, rc);
    }
    if (rc == OG_ERR_PERM) {
        console_message(&c, 409, "Not removed",
                        strcmp(name, c.sess.username) == 0
                            ? "You cannot remove your own account."
                            : "The last admin account cannot be removed.",
                        "/admin/admins", "Admins");
        return;
    }
    if (rc == OG_ERR_NOT_FOUND) {
        console_message(&c, 404, "No such admin", "There is no admin account with this name.",
                        "/admin/admins", "Admins");
        return;
    }
    if (rc != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    log_info("admin console: admin removed", "admin", c.sess.username, "account", name);
    console_redirect(&c, "/admin/admins?n=admin_removed");
}

/* ---- the admin's own password -------------------------------------------- */

static void account_page(struct console *c, int status, const char *invalid)
{
    c->ui.section = "account";
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_admin_account(&html, &c->ui, invalid);
    console_send(c, status, &html);
}

void admin_console_account(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "account", false))
        return;
    console_alerts_from_query(&c);
    account_page(&c, 200, NULL);
}

static void password_checked(struct console *c, const struct console_pw_result *r)
{
    int64_t now = server_now_ms();
    char userkey[80];
    snprintf(userkey, sizeof(userkey), "user:%s", c->sess.username);
    if (!r->ok) {
        /* A wrong current password counts like a failed sign-in. */
        admin_console_charge(c->srv, NULL, userkey, now);
        c->ui.error = "The current password is wrong. Nothing was changed.";
        account_page(c, 400, "current");
        return;
    }
    int rc = console_write_begin(c);
    if (rc == OG_OK) {
        rc = admins_password_set(server_db(c->srv), c->sess.username, r->hash, now, &c->sess);
        if (rc == OG_OK)
            rc = admins_throttle_clear(server_db(c->srv), userkey);
        if (rc == OG_OK)
            rc = console_audit(c, "admin_password_change", NULL, NULL, NULL);
        console_write_end(c, rc);
    }
    if (rc != OG_OK) {
        console_error(c, 500, "body.error");
        return;
    }
    log_info("admin console: password changed", "admin", c->sess.username);
    console_redirect(c, "/admin/account?n=password_changed");
}

void admin_console_password(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, true, "account", false))
        return;
    const char *current = console_form(&c, "current");
    const char *pw = console_form(&c, "password"), *again = console_form(&c, "password2");
    console_form_cleanse(&c);
    const char *problem = new_password_problem(pw, again);
    const char *invalid = "password";
    size_t curlen = current ? strlen(current) : 0;
    if (!problem && curlen == 0) {
        problem = "Enter your current password. Nothing was changed.";
        invalid = "current";
    }
    char userkey[80];
    snprintf(userkey, sizeof(userkey), "user:%s", c.sess.username);
    int64_t wait = problem ? 0 : admin_console_wait(c.srv, NULL, userkey, server_now_ms());
    int rc = wait < 0 ? OG_ERR_DB : OG_ERR_INVALID;
    if (!problem && wait == 0)
        rc = console_pw_queue(&c, CONSOLE_PW_CHANGE, c.sess.username, current, curlen, pw,
                              strlen(pw), password_checked);
    if (current)
        OPENSSL_cleanse((char *)current, curlen);
    if (pw)
        OPENSSL_cleanse((char *)pw, strlen(pw));
    if (again)
        OPENSSL_cleanse((char *)again, strlen(again));
    if (wait > 0) {
        admin_console_refuse_wait(&c, wait, "admin console password change refused: waiting");
        c.ui.error = arena_printf(
            &req->arena, "Too many wrong passwords. Try again in %lld seconds.", (long long)wait);
        account_page(&c, 429, "current");
        return;
    }
    if (problem || rc == OG_ERR_INVALID) {
        c.ui.error = problem ? problem : "The password is too long. Nothing was changed.";
        account_page(&c, 400, invalid);
        return;
    }
    if (rc != OG_OK) {
        http_header_add(req, "Retry-After", "1");
        console_message(&c, 503, "Busy",
                        "The console is busy checking passwords. Try again in "
                        "a moment.",
                        "/admin/account", "Your account");
    }
    /* Otherwise password_checked answers. */
}
