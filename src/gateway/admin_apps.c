/* The console's applications and policy: list, register (the secret shown
 * once on the page after, POST-redirect-GET), edit name and redirect URIs,
 * the app's policy and the global one (every key of `otpgate policy show`,
 * validated by policy_validate as the CLI does, all or nothing), rotate the
 * secret and remove, each through a confirmation page. Every change is one
 * savepoint of the group commit with its audit row, then the API's app
 * cache is dropped. */
#include "core/apps.h"
#include "core/log.h"
#include "core/overview.h"
#include "core/policy.h"
#include "gateway/admin_console.h"
#include "gateway/admin_console_parts.h"
#include "gateway/server.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>

#define URIS_TEXT_MAX (APPS_MAX_URIS * (APPS_URI_MAX + 2))

static const char *app_path(struct console *c, const char *id, const char *tail)
{
    struct buf b;
    buf_init(&b, 512);
    buf_append_str(&b, "/admin/apps/");
    for (const char *p = id; *p; p++) { /* client ids are [a-z0-9_]; keep it so */
        char ch = *p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '_' || ch == '-')
            buf_append(&b, &ch, 1);
    }
    if (tail)
        buf_append_str(&b, tail);
    char *s = arena_strndup(&c->req->arena, b.data ? b.data : "", b.len);
    buf_free(&b);
    return s;
}

/* Loads app {id} of the path into a, or answers 404 (false). */
static bool load_app(struct console *c, struct app *a)
{
    const char *id = console_param(c, 0);
    int rc = id ? apps_get(server_db(c->srv), id, a) : OG_ERR_NOT_FOUND;
    if (rc == OG_OK)
        return true;
    apps_free(a);
    if (rc == OG_ERR_NOT_FOUND)
        console_message(c, 404, "No such application",
                        "There is no application with this client id. It may have been removed.",
                        "/admin/apps", "All applications");
    else
        console_error(c, 500, "body.error");
    return false;
}

/* console_start and load_app together: on false an answer has been
 * sent and a needs no freeing. */
static bool app_start(struct http_request *req, struct console *c, bool post, struct app *a)
{
    return console_start(req, c, post, "apps", false) && load_app(c, a);
}

/* The app as a view in request memory. */
static struct ui_admin_app app_view(struct console *c, const struct app *a)
{
    struct arena *ar = &c->req->arena;
    struct ui_admin_app v = {.id = arena_strndup(ar, a->id, strlen(a->id)),
                             .name = arena_strndup(ar, a->name, strlen(a->name)),
                             .users = -1};
    const char **uris =
        arena_alloc(ar, (a->redirect_count ? a->redirect_count : 1) * sizeof(*uris));
    for (size_t i = 0; i < a->redirect_count; i++)
        uris[i] = arena_strndup(ar, a->redirect_uris[i], strlen(a->redirect_uris[i]));
    v.uris = uris;
    v.uri_count = a->redirect_count;
    return v;
}

/* Splits the redirect URI text (one per line, blanks trimmed, empty lines
 * skipped) into at most APPS_MAX_URIS + 1 strings in request memory (one
 * more than allowed, so apps_* refuses too many). */
static size_t split_uris(struct console *c, const char *text, const char **out)
{
    size_t n = 0;
    const char *p = text ? text : "";
    while (*p && n <= APPS_MAX_URIS) {
        size_t len = strcspn(p, "\r\n");
        const char *s = p, *e = p + len;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s)
            out[n++] = arena_strndup(&c->req->arena, s, (size_t)(e - s));
        p += len;
        while (*p == '\r' || *p == '\n')
            p++;
    }
    return n;
}

/* ---- list and register ------------------------------------------------- */

struct counts_ctx {
    struct ui_admin_app *apps;
    size_t count;
};

static void count_users(const struct overview_app *a, void *arg)
{
    struct counts_ctx *x = arg;
    for (size_t i = 0; i < x->count; i++)
        if (strcmp(x->apps[i].id, a->id) == 0)
            x->apps[i].users = a->users;
}

void admin_console_apps(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "apps", false))
        return;
    console_alerts_from_query(&c);
    struct counts_ctx x;
    x.apps = console_apps(&c, &x.count);
    overview_apps_each(server_db(c.srv), server_now_ms(), count_users, &x);
    struct policy global;
    policy_load(server_db(c.srv), NULL, &global);
    struct buf html;
    buf_init(&html, 4u << 20);
    ui_admin_apps(&html, &c.ui, x.apps, x.count, policy_mode_name(global.mode));
    console_send(&c, 200, &html);
}

void admin_console_app_new_form(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "apps", false))
        return;
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_admin_app_new(&html, &c.ui, NULL);
    console_send(&c, 200, &html);
}

void admin_console_app_new(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, true, "apps", false))
        return;
    struct ui_admin_app_form f = {console_form(&c, "name"), console_form(&c, "redirect_uris"),
                                  console_form(&c, "policy")};
    const char *uris[APPS_MAX_URIS + 1];
    size_t n = split_uris(&c, f.uris, uris);
    const char *mode = f.policy && *f.policy && strcmp(f.policy, "inherit") != 0 ? f.policy : NULL;
    char id[APPS_ID_LEN], secret[APPS_SECRET_LEN], err[512] = "";
    struct server *s = c.srv;
    int rc = console_write_begin(&c);
    if (rc == OG_OK) {
        rc = apps_add(server_db(s), &s->keys, f.name ? f.name : "", uris, n, mode, id, sizeof(id),
                      secret, sizeof(secret), err, sizeof(err));
        if (rc == OG_OK)
            rc = admins_reveal_put(server_db(s), &s->keys, &c.sess, id, secret);
        OPENSSL_cleanse(secret, sizeof(secret));
        if (rc == OG_OK)
            rc = console_audit(&c, "admin_app_add", id, NULL,
                               json_pack("{s:s, s:s}", "name", f.name ? f.name : "", "policy",
                                         mode ? mode : "inherit"));
        console_write_end(&c, rc);
    }
    if (rc == OG_ERR_INVALID) {
        c.ui.error = arena_strndup(&req->arena, err, strlen(err));
        struct buf html;
        buf_init(&html, 1u << 20);
        ui_admin_app_new(&html, &c.ui, &f);
        console_send(&c, 400, &html);
        return;
    }
    if (rc != OG_OK) {
        log_error("admin console: cannot register an app", "error", og_strerror(rc));
        console_error(&c, 500, "body.error");
        return;
    }
    console_apps_changed(&c);
    log_info("admin console: app registered", "admin", c.sess.username, "client_id", id);
    console_redirect(&c, app_path(&c, id, "/secret?new=1"));
}

/* ---- the policy form -------------------------------------------------- */

struct policy_keys {
    struct console *c;
    const char *own_source; /* "app" or "global" */
    struct ui_admin_policy_key items[64];
    size_t count;
};

static void collect_key(const struct policy_entry *e, void *arg)
{
    struct policy_keys *k = arg;
    if (k->count >= ARRAY_SIZE(k->items))
        return;
    struct arena *a = &k->c->req->arena;
    struct ui_admin_policy_key *x = &k->items[k->count++];
    memset(x, 0, sizeof(*x));
    x->key = e->key;
    x->value = arena_strndup(a, e->value, strlen(e->value));
    x->source = e->source;
    x->def = e->def;
    x->allowed = arena_strndup(a, e->allowed, strlen(e->allowed));
    x->help = e->help;
    x->choices = e->choices;
    x->own = strcmp(e->source, k->own_source) == 0 ? x->value : NULL;
}

/* Loads the policy of scope ("" global) into k. Returns 0 or an og_err. */
static int load_keys(struct console *c, const char *scope, struct policy_keys *k)
{
    memset(k, 0, sizeof(*k));
    k->c = c;
    k->own_source = scope[0] ? "app" : "global";
    return policy_each(server_db(c->srv), scope, collect_key, k);
}

static char *trimmed(struct console *c, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    return arena_strndup(&c->req->arena, v, n);
}

/* Reads the policy form against k: every changed key is checked first; on
 * a refusal the keys carry what was typed and which failed, err says why,
 * and nothing is written. Then the changes are set in the caller's
 * savepoint and audited. *changed counts them. Returns 0, OG_ERR_INVALID
 * or a store error. */
static int policy_apply(struct console *c, const char *scope, struct policy_keys *k,
                        size_t *changed, char *err, size_t errlen)
{
    bool app_scope = scope[0] != '\0';
    const char *reset = app_scope ? "inherit" : "default";
    const char *want[64];
    *changed = 0;
    bool refused = false;
    for (size_t i = 0; i < k->count; i++) {
        struct ui_admin_policy_key *x = &k->items[i];
        want[i] = NULL;
        const char *raw = console_form(c, x->key);
        if (!raw)
            continue; /* not on the form: unchanged */
        const char *v = trimmed(c, raw);
        if (!*v)
            v = reset;
        bool is_reset = strcmp(v, reset) == 0;
        if (is_reset ? x->own == NULL : (x->own && strcmp(x->own, v) == 0))
            continue;
        x->entered = v;
        char why[512];
        if (policy_validate(x->key, v, app_scope, why, sizeof(why)) != OG_OK) {
            x->invalid = true;
            if (!refused)
                snprintf(err, errlen, "%s. Nothing was changed.", why);
            refused = true;
            continue;
        }
        want[i] = v;
        (*changed)++;
    }
    if (refused)
        return OG_ERR_INVALID;
    if (*changed == 0)
        return OG_OK;
    json_t *changes = json_object();
    int rc = OG_OK;
    for (size_t i = 0; i < k->count && rc == OG_OK; i++) {
        if (!want[i])
            continue;
        rc = policy_set(server_db(c->srv), scope, k->items[i].key, want[i], err, errlen);
        json_object_set_new(changes, k->items[i].key, json_string(want[i]));
    }
    if (rc == OG_OK)
        rc = console_audit(c, "admin_policy_set", scope[0] ? scope : NULL, NULL,
                           json_pack("{s:o}", "changes", changes));
    else
        json_decref(changes);
    return rc;
}

/* ---- an app's page ------------------------------------------------------ */

static void app_page(struct console *c, int status, const struct app *a,
                     const struct ui_admin_app_form *form, struct policy_keys *keys)
{
    struct ui_admin_app view = app_view(c, a);
    struct ui_admin_policy_view pv = {true, app_path(c, a->id, "/policy"), keys->items,
                                      keys->count};
    struct overview_app counts;
    if (overview_app_get(server_db(c->srv), a->id, server_now_ms(), &counts) != OG_OK)
        memset(&counts, 0, sizeof(counts));
    struct ui_admin_app_view v = {
        .app = &view,
        .form = form,
        .created = console_time(c, a->created_at, false),
        .users = counts.users,
        .with_factor = counts.with_factor,
        .locked = counts.locked,
        .policy = &pv,
    };
    char *hook = arena_alloc(&c->req->arena, APPS_URI_MAX + 1);
    if (apps_webhook_url(server_db(c->srv), a->id, hook, APPS_URI_MAX + 1) != OG_OK)
        hook[0] = '\0';
    v.webhook_url = hook;
    struct buf html;
    buf_init(&html, 4u << 20);
    ui_admin_app(&html, &c->ui, &v);
    console_send(c, status, &html);
}

void admin_console_app(struct http_request *req)
{
    struct console c;
    struct app a;
    if (!app_start(req, &c, false, &a))
        return;
    console_alerts_from_query(&c);
    struct policy_keys *keys = arena_alloc(&req->arena, sizeof(*keys));
    if (load_keys(&c, a.id, keys) != OG_OK) {
        apps_free(&a);
        console_error(&c, 500, "body.error");
        return;
    }
    app_page(&c, 200, &a, NULL, keys);
    apps_free(&a);
}

void admin_console_app_save(struct http_request *req)
{
    struct console c;
    struct app a;
    if (!app_start(req, &c, true, &a))
        return;
    struct ui_admin_app_form f = {console_form(&c, "name"), console_form(&c, "redirect_uris"),
                                  NULL};
    const char *uris[APPS_MAX_URIS + 1];
    size_t n = split_uris(&c, f.uris, uris);
    char err[512] = "";
    int rc = console_write_begin(&c);
    if (rc == OG_OK) {
        rc = apps_update(server_db(c.srv), a.id, f.name ? f.name : "", f.uris ? uris : NULL, n, err,
                         sizeof(err));
        if (rc == OG_OK) {
            json_t *list = json_array();
            for (size_t i = 0; i < n; i++)
                json_array_append_new(list, json_string(uris[i]));
            rc = console_audit(
                &c, "admin_app_edit", a.id, NULL,
                json_pack("{s:s, s:o}", "name", f.name ? f.name : "", "redirect_uris", list));
        }
        console_write_end(&c, rc);
    }
    if (rc == OG_ERR_INVALID) {
        c.ui.error = arena_strndup(&req->arena, err, strlen(err));
        struct policy_keys *keys = arena_alloc(&req->arena, sizeof(*keys));
        load_keys(&c, a.id, keys);
        app_page(&c, 400, &a, &f, keys);
        apps_free(&a);
        return;
    }
    const char *next = app_path(&c, a.id, "?n=app_saved");
    apps_free(&a);
    if (rc != OG_OK) {
        console_error(&c, rc == OG_ERR_NOT_FOUND ? 404 : 500, "body.error");
        return;
    }
    console_apps_changed(&c);
    console_redirect(&c, next);
}

void admin_console_app_policy(struct http_request *req)
{
    struct console c;
    struct app a;
    if (!app_start(req, &c, true, &a))
        return;
    struct policy_keys *keys = arena_alloc(&req->arena, sizeof(*keys));
    char err[600] = "";
    size_t changed = 0;
    int rc = load_keys(&c, a.id, keys);
    if (rc == OG_OK) {
        rc = console_write_begin(&c);
        if (rc == OG_OK) {
            rc = policy_apply(&c, a.id, keys, &changed, err, sizeof(err));
            console_write_end(&c, rc);
        }
    }
    if (rc == OG_ERR_INVALID) {
        c.ui.error = arena_strndup(&req->arena, err, strlen(err));
        app_page(&c, 400, &a, NULL, keys);
        apps_free(&a);
        return;
    }
    const char *next =
        app_path(&c, a.id, changed ? "?n=policy_saved#policy-h" : "?n=policy_unchanged#policy-h");
    apps_free(&a);
    if (rc != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    if (changed)
        console_apps_changed(&c);
    console_redirect(&c, next);
}

/* ---- the global policy ------------------------------------------------- */

struct own_policy {
    struct console *c;
    const char **names;
    size_t count;
};

static void collect_own(const struct overview_app *a, void *arg)
{
    struct own_policy *o = arg;
    if (a->policy_keys > 0 && o->count < 512)
        o->names[o->count++] = arena_strndup(&o->c->req->arena, a->name, strlen(a->name));
}

static void policy_page(struct console *c, int status, struct policy_keys *keys)
{
    struct own_policy own = {c, arena_alloc(&c->req->arena, 512 * sizeof(char *)), 0};
    overview_apps_each(server_db(c->srv), server_now_ms(), collect_own, &own);
    struct ui_admin_policy_view pv = {false, "/admin/policy", keys->items, keys->count};
    struct buf html;
    buf_init(&html, 4u << 20);
    ui_admin_policy(&html, &c->ui, &pv, own.names, own.count);
    console_send(c, status, &html);
}

void admin_console_policy(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "policy", false))
        return;
    console_alerts_from_query(&c);
    struct policy_keys *keys = arena_alloc(&req->arena, sizeof(*keys));
    if (load_keys(&c, "", keys) != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    policy_page(&c, 200, keys);
}

void admin_console_policy_save(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, true, "policy", false))
        return;
    struct policy_keys *keys = arena_alloc(&req->arena, sizeof(*keys));
    char err[600] = "";
    size_t changed = 0;
    int rc = load_keys(&c, "", keys);
    if (rc == OG_OK) {
        rc = console_write_begin(&c);
        if (rc == OG_OK) {
            rc = policy_apply(&c, "", keys, &changed, err, sizeof(err));
            console_write_end(&c, rc);
        }
    }
    if (rc == OG_ERR_INVALID) {
        c.ui.error = arena_strndup(&req->arena, err, strlen(err));
        policy_page(&c, 400, keys);
        return;
    }
    if (rc != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    if (changed)
        console_apps_changed(&c);
    log_info("admin console: global policy saved", "admin", c.sess.username);
    console_redirect(&c,
                     changed ? "/admin/policy?n=policy_saved" : "/admin/policy?n=policy_unchanged");
}

/* ---- the webhook: its URL and signing secret -------------------------- */

#define WEBHOOK_LABEL_FMT "webhook:%s"

/* POST /admin/apps/{id}/webhook: "webhook_url" ("" removes it); a new URL,
 * or "rotate", makes a signing secret shown once on the next page. */
void admin_console_app_webhook(struct http_request *req)
{
    struct console c;
    struct app a;
    if (!app_start(req, &c, true, &a))
        return;
    const char *url = console_form(&c, "webhook_url");
    char *clean = trimmed(&c, url ? url : "");
    bool rotate = console_form(&c, "rotate") != NULL;
    struct server *s = c.srv;
    char secret[APPS_WEBHOOK_SECRET_LEN] = "", err[256] = "";
    bool made = false;
    int rc = console_write_begin(&c);
    if (rc == OG_OK) {
        if (rotate) {
            rc = apps_rotate_webhook_secret(server_db(s), &s->keys, a.id, secret, sizeof(secret));
            made = rc == OG_OK;
        } else {
            rc = apps_set_webhook(server_db(s), &s->keys, a.id, clean, secret, sizeof(secret),
                                  &made, err, sizeof(err));
        }
        char label[64];
        snprintf(label, sizeof(label), WEBHOOK_LABEL_FMT, a.id);
        if (rc == OG_OK && made)
            rc = admins_reveal_put(server_db(s), &s->keys, &c.sess, label, secret);
        OPENSSL_cleanse(secret, sizeof(secret));
        if (rc == OG_OK)
            rc = console_audit(&c, rotate ? "admin_webhook_rotate" : "admin_webhook_set", a.id,
                               NULL, json_pack("{s:s}", "webhook_url", clean));
        console_write_end(&c, rc);
    }
    if (rc == OG_ERR_INVALID) {
        c.ui.error = arena_strndup(&req->arena, err, strlen(err));
        struct policy_keys *keys = arena_alloc(&req->arena, sizeof(*keys));
        load_keys(&c, a.id, keys);
        app_page(&c, 400, &a, NULL, keys);
        apps_free(&a);
        return;
    }
    const char *next =
        made ? app_path(&c, a.id, "/webhook-secret") : app_path(&c, a.id, "?n=webhook_saved");
    apps_free(&a);
    if (rc != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    console_apps_changed(&c); /* the app cache holds the URL */
    log_info("admin console: webhook saved", "admin", c.sess.username);
    console_redirect(&c, next);
}

/* GET /admin/apps/{id}/webhook-secret: shown once. */
void admin_console_app_webhook_secret(struct http_request *req)
{
    struct console c;
    struct app a;
    if (!app_start(req, &c, false, &a))
        return;
    char secret[APPS_WEBHOOK_SECRET_LEN], label[64];
    snprintf(label, sizeof(label), WEBHOOK_LABEL_FMT, a.id);
    int rc = console_write_begin(&c);
    if (rc == OG_OK) {
        rc = admins_reveal_take(server_db(c.srv), &c.srv->keys, &c.sess, label, secret,
                                sizeof(secret));
        console_write_end(&c, rc == OG_ERR_NOT_FOUND ? OG_OK : rc);
    }
    if (rc != OG_OK && rc != OG_ERR_NOT_FOUND) {
        apps_free(&a);
        console_error(&c, 500, "body.error");
        return;
    }
    struct ui_admin_app view = app_view(&c, &a);
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_admin_webhook_secret(&html, &c.ui, &view, rc == OG_OK ? secret : NULL);
    OPENSSL_cleanse(secret, sizeof(secret));
    console_send(&c, 200, &html);
    apps_free(&a);
}

/* ---- the secret: rotate, show once ----------------------------------- */

void admin_console_app_secret(struct http_request *req)
{
    struct console c;
    struct app a;
    if (!app_start(req, &c, false, &a))
        return;
    /* Taking the secret clears it from the session: it shows once. */
    char secret[APPS_SECRET_LEN];
    int rc = console_write_begin(&c);
    if (rc == OG_OK) {
        rc = admins_reveal_take(server_db(c.srv), &c.srv->keys, &c.sess, a.id, secret,
                                sizeof(secret));
        console_write_end(&c, rc == OG_ERR_NOT_FOUND ? OG_OK : rc);
    }
    if (rc != OG_OK && rc != OG_ERR_NOT_FOUND) {
        apps_free(&a);
        console_error(&c, 500, "body.error");
        return;
    }
    const char *is_new = console_query(&c, "new");
    struct ui_admin_app view = app_view(&c, &a);
    struct buf html;
    buf_init(&html, 1u << 20);
    ui_admin_app_secret(&html, &c.ui, &view, rc == OG_OK ? secret : NULL,
                        is_new && strcmp(is_new, "1") == 0);
    OPENSSL_cleanse(secret, sizeof(secret));
    console_send(&c, 200, &html); /* no-store, as every console page */
    apps_free(&a);
}

void admin_console_app_rotate_form(struct http_request *req)
{
    struct console c;
    struct app a;
    if (!app_start(req, &c, false, &a))
        return;
    const char *lines[] = {
        "The current secret stops working at once: the app cannot send users here or call the "
        "API until its settings have the new one.",
        "The new secret is shown once, on the next page.",
    };
    struct ui_admin_confirm v = {
        .title = arena_printf(&req->arena, "Rotate the client secret of %s?", a.name),
        .lines = lines,
        .line_count = ARRAY_SIZE(lines),
        .action = app_path(&c, a.id, "/rotate"),
        .button = "Rotate the secret",
        .cancel_href = app_path(&c, a.id, NULL),
    };
    console_confirm(&c, &v);
    apps_free(&a);
}

void admin_console_app_rotate(struct http_request *req)
{
    struct console c;
    struct app a;
    if (!app_start(req, &c, true, &a))
        return;
    if (!console_confirmed(&c, app_path(&c, a.id, "/rotate"))) {
        apps_free(&a);
        return;
    }
    struct server *s = c.srv;
    char secret[APPS_SECRET_LEN];
    int rc = console_write_begin(&c);
    if (rc == OG_OK) {
        rc = apps_rotate_secret(server_db(s), &s->keys, a.id, secret, sizeof(secret));
        if (rc == OG_OK)
            rc = admins_reveal_put(server_db(s), &s->keys, &c.sess, a.id, secret);
        OPENSSL_cleanse(secret, sizeof(secret));
        if (rc == OG_OK)
            rc = console_audit(&c, "admin_app_rotate", a.id, NULL, NULL);
        console_write_end(&c, rc);
    }
    const char *next = app_path(&c, a.id, "/secret");
    apps_free(&a);
    if (rc != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    console_apps_changed(&c);
    log_info("admin console: app secret rotated", "admin", c.sess.username);
    console_redirect(&c, next);
}

/* ---- remove ---------------------------------------------------------- */

void admin_console_app_remove_form(struct http_request *req)
{
    struct console c;
    struct app a;
    if (!app_start(req, &c, false, &a))
        return;
    struct overview_app n;
    if (overview_app_get(server_db(c.srv), a.id, server_now_ms(), &n) != OG_OK)
        memset(&n, 0, sizeof(n));
    struct arena *ar = &req->arena;
    const char *lines[] = {
        arena_printf(ar,
                     "%lld user%s, %lld of them with a second factor: their factors, "
                     "recovery codes and open sign-ins are deleted.",
                     (long long)n.users, n.users == 1 ? "" : "s", (long long)n.with_factor),
        arena_printf(ar, "%lld setting%s of the app's own policy.", (long long)n.policy_keys,
                     n.policy_keys == 1 ? "" : "s"),
        arena_printf(ar, "The client id %s and its secret: the app stops working at once.", a.id),
        "The audit trail and the delivery log keep their rows.",
    };
    struct ui_admin_confirm v = {
        .title = arena_printf(ar, "Remove %s?", a.name),
        .lead = "This cannot be undone. What is lost:",
        .lines = lines,
        .line_count = ARRAY_SIZE(lines),
        .action = app_path(&c, a.id, "/remove"),
        .button = arena_printf(ar, "Remove %s", a.name),
        .cancel_href = app_path(&c, a.id, NULL),
    };
    console_confirm(&c, &v);
    apps_free(&a);
}

void admin_console_app_remove(struct http_request *req)
{
    struct console c;
    struct app a;
    if (!app_start(req, &c, true, &a))
        return;
    if (!console_confirmed(&c, app_path(&c, a.id, "/remove"))) {
        apps_free(&a);
        return;
    }
    struct overview_app n;
    int rc = overview_app_get(server_db(c.srv), a.id, server_now_ms(), &n);
    if (rc == OG_OK)
        rc = console_write_begin(&c);
    if (rc == OG_OK) {
        rc = apps_remove(server_db(c.srv), a.id);
        if (rc == OG_OK)
            rc = console_audit(
                &c, "admin_app_remove", a.id, NULL,
                json_pack("{s:s, s:I}", "name", a.name, "users", (json_int_t)n.users));
        console_write_end(&c, rc);
    }
    apps_free(&a);
    if (rc != OG_OK) {
        console_error(&c, rc == OG_ERR_NOT_FOUND ? 404 : 500, "body.error");
        return;
    }
    console_apps_changed(&c);
    log_info("admin console: app removed", "admin", c.sess.username);
    console_redirect(&c, "/admin/apps?n=app_removed");
}
