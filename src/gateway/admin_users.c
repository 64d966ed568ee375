/* The console's users: the list (per app or across apps, by sub prefix,
 * state and factor type, paged by key), one user's page (factors, lock
 * banner, recovery codes, history), and the support actions shared with
 * `otpgate user ...`: unlock, reset and removing one factor, the last two
 * through a confirmation page. Each change is one savepoint of the group
 * commit with its audit row naming the admin. */
#include "core/log.h"
#include "core/devices.h"
#include "core/support.h"
#include "gateway/admin_console.h"
#include "gateway/admin_console_parts.h"
#include "gateway/server.h"

#include <stdio.h>
#include <stdlib.h>

#define USERS_PER_PAGE 50
#define HISTORY_ROWS   30
#define FACTORS_MAX    64

static const char *user_url(struct console *c, const char *app, const char *sub, const char *kind,
                            const char *key)
{
    const char *params[] = {"app", app, "sub", sub, kind ? kind : "", key};
    return console_url(c, "/admin/user", params, kind ? 3 : 2);
}

static const char *users_list_url(struct console *c, const char *app)
{
    const char *params[] = {"app", app};
    return console_url(c, "/admin/users", params, 1);
}

/* ---- the list ------------------------------------------------------------ */

struct rows_ctx {
    struct console *c;
    struct ui_admin_user_row *rows;
    size_t count;
    int64_t now;
    const char *first_sub, *first_app, *last_sub, *last_app;
};

static void collect_row(const struct support_user_row *r, void *arg)
{
    struct rows_ctx *x = arg;
    struct arena *a = &x->c->req->arena;
    struct ui_admin_user_row *v = &x->rows[x->count++];
    v->app_id = arena_strndup(a, r->app_id, strlen(r->app_id));
    v->app_name = arena_strndup(a, r->app_name, strlen(r->app_name));
    v->sub = arena_strndup(a, r->sub, strlen(r->sub));
    v->factors = arena_strndup(a, r->factors, strlen(r->factors));
    v->recovery_left = r->recovery_left;
    v->failures = r->failures;
    v->state = r->locked ? "locked" : r->retry_at > x->now ? "waiting" : NULL;
    v->created = console_time(x->c, r->created_at, false);
    v->href = user_url(x->c, v->app_id, v->sub, NULL, NULL);
    if (x->count == 1) {
        x->first_sub = v->sub;
        x->first_app = v->app_id;
    }
    x->last_sub = v->sub;
    x->last_app = v->app_id;
}

static enum support_state state_of(const char *s)
{
    if (!s)
        return SUPPORT_STATE_ANY;
    if (strcmp(s, "locked") == 0)
        return SUPPORT_STATE_LOCKED;
    if (strcmp(s, "waiting") == 0)
        return SUPPORT_STATE_WAITING;
    if (strcmp(s, "clear") == 0)
        return SUPPORT_STATE_CLEAR;
    return SUPPORT_STATE_ANY;
}

static enum support_has has_of(const char *s)
{
    static const char *const names[] = {"", "none", "sms", "email", "totp"};
    for (size_t i = 1; s && i < ARRAY_SIZE(names); i++)
        if (strcmp(s, names[i]) == 0)
            return (enum support_has)i;
    return SUPPORT_HAS_ANY;
}

void admin_console_users(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, false, "users", false))
        return;
    const char *app = console_query(&c, "app");
    const char *sub = console_query(&c, "sub");
    if (app && *app && sub && *sub) { /* the older lookup's links */
        console_redirect(&c, user_url(&c, app, sub, NULL, NULL));
        return;
    }
    struct ui_admin_users_view v;
    memset(&v, 0, sizeof(v));
    v.apps = console_apps(&c, &v.app_count);
    v.app_id = app ? app : "";
    v.q = console_query(&c, "q");
    v.state = console_query(&c, "state");
    v.has = console_query(&c, "has");
    enum support_state state = state_of(v.state);
    enum support_has has = has_of(v.has);
    static const char *const state_names[] = {"", "locked", "waiting", "clear"};
    static const char *const has_names[] = {"", "none", "sms", "email", "totp"};
    v.state = state_names[state];
    v.has = has_names[has];
    if (!v.q)
        v.q = "";
    v.filtered = *v.q || state != SUPPORT_STATE_ANY || has != SUPPORT_HAS_ANY || *v.app_id;

    const char *after = console_query(&c, "after"), *after_app = console_query(&c, "after_app");
    const char *before = console_query(&c, "before"), *before_app = console_query(&c, "before_app");
    bool backward = before && before_app;
    int64_t now = server_now_ms();
    struct support_user_query q = {
        .app_id = v.app_id,
        .prefix = v.q,
        .state = state,
        .has = has,
        .after_sub = backward ? before : (after && after_app ? after : NULL),
        .after_app = backward ? before_app : (after && after_app ? after_app : NULL),
        .backward = backward,
        .limit = USERS_PER_PAGE,
        .now_ms = now,
    };
    struct rows_ctx x = {
        &c,  arena_alloc(&req->arena, USERS_PER_PAGE * sizeof(*x.rows)), 0, now, NULL, NULL, NULL,
        NULL};
    bool more = false;
    if (support_users_each(server_db(c.srv), &q, collect_row, &x, &more) != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    v.rows = x.rows;
    v.count = x.count;
    /* Previous/next by key: forward pages came after something, backward
     * ones stand before a page already seen. */
    bool has_prev = backward ? more : q.after_sub != NULL;
    bool has_next = backward ? true : more;
    if (x.count > 0) {
        const char *base[] = {"app", v.app_id, "q", v.q, "state", v.state, "has", v.has};
        if (has_prev) {
            const char *p[] = {base[0], base[1], base[2],  base[3],     base[4],      base[5],
                               base[6], base[7], "before", x.first_sub, "before_app", x.first_app};
            v.prev_href = console_url(&c, "/admin/users", p, 6);
        }
        if (has_next) {
            const char *p[] = {base[0], base[1], base[2], base[3],    base[4],     base[5],
                               base[6], base[7], "after", x.last_sub, "after_app", x.last_app};
            v.next_href = console_url(&c, "/admin/users", p, 6);
        }
    }
    struct buf html;
    buf_init(&html, 8u << 20);
    ui_admin_users(&html, &c.ui, &v);
    console_send(&c, 200, &html);
}

/* ---- one user ----------------------------------------------------------- */

struct factor_views {
    struct console *c;
    const struct support_user *u;
    struct ui_admin_factor items[FACTORS_MAX];
    size_t count, active;
};

static void collect_factor(const struct support_factor *f, void *arg)
{
    struct factor_views *v = arg;
    if (v->count >= ARRAY_SIZE(v->items))
        return;
    struct arena *a = &v->c->req->arena;
    struct ui_admin_factor *x = &v->items[v->count++];
    x->id = arena_strndup(a, f->id, strlen(f->id));
    x->type = arena_strndup(a, f->type, strlen(f->type));
    x->masked = arena_strndup(a, f->masked, strlen(f->masked));
    x->status = arena_strndup(a, f->status, strlen(f->status));
    x->added = console_time(v->c, f->created_at, false);
    x->last_used = console_time(v->c, f->last_used_at, false);
    x->preferred = v->u->preferred[0] && strcmp(v->u->preferred, f->id) == 0;
    if (f->passkey)
        x->detail = arena_printf(a, "%s passkey, AAGUID %s, signature counter %lld",
                                 f->synced ? "synced" : "device-bound",
                                 f->aaguid[0] ? f->aaguid : "unknown", (long long)f->sign_count);
    const char *params[] = {"app", v->u->app_id, "sub", v->u->sub, "factor", f->id};
    x->remove_href = console_url(v->c, "/admin/users/factor", params, 3);
    if (strcmp(f->status, "active") == 0)
        v->active++;
}

/* "Email a•••@example.com" for factor id among v's, or NULL. */
static const char *factor_label(struct factor_views *v, const char *id)
{
    for (size_t i = 0; id && id[0] && i < v->count; i++) {
        const struct ui_admin_factor *f = &v->items[i];
        if (strcmp(f->id, id) != 0)
            continue;
        const char *type = strcmp(f->type, "sms") == 0        ? "Text message"
                           : strcmp(f->type, "email") == 0    ? "Email"
                           : strcmp(f->type, "webauthn") == 0 ? "Passkey"
                                                              : "Authenticator app";
        return f->masked[0] ? arena_printf(&v->c->req->arena, "%s %s", type, f->masked) : type;
    }
    return NULL;
}

/* Finds the user of the query (or form) app and sub with their factors;
 * on false an answer (404 or 500) has been sent. */
static bool load_user(struct console *c, const char *app, const char *sub, struct support_user *u,
                      struct factor_views *fv)
{
    int rc = app && *app && sub && *sub ? support_user_find(server_db(c->srv), app, sub, u)
                                        : OG_ERR_NOT_FOUND;
    if (rc == OG_OK) {
        memset(fv, 0, sizeof(*fv));
        fv->c = c;
        fv->u = u;
        rc = support_user_factors(server_db(c->srv), u->id, collect_factor, fv);
    }
    if (rc == OG_ERR_NOT_FOUND) {
        console_message(c, 404, "No such user",
                        "This application has no user with this id. Users appear once their "
                        "application has sent them to otpgate.",
                        users_list_url(c, app), "Find users");
        return false;
    }
    if (rc != OG_OK) {
        console_error(c, 500, "body.error");
        return false;
    }
    return true;
}

/* console_start (a GET) and load_user of the query's app and sub; on false
 * an answer has been sent. */
static bool user_start(struct http_request *req, struct console *c, struct support_user *u,
                       struct factor_views **fv)
{
    if (!console_start(req, c, false, "users", false))
        return false;
    *fv = arena_alloc(&req->arena, sizeof(**fv));
    return load_user(c, console_query(c, "app"), console_query(c, "sub"), u, *fv);
}

struct device_views {
    struct console *c;
    struct ui_admin_device items[32];
    size_t count;
};

static void collect_device(const struct device *d, void *arg)
{
    struct device_views *v = arg;
    if (v->count >= ARRAY_SIZE(v->items))
        return;
    struct arena *a = &v->c->req->arena;
    struct ui_admin_device *x = &v->items[v->count++];
    x->summary = arena_strndup(a, d->user_agent, strlen(d->user_agent));
    x->created = console_time(v->c, d->created_at, false);
    x->last_seen = console_time(v->c, d->last_seen_at, false);
    x->expires = console_time(v->c, d->expires_at, false);
    x->ip = arena_strndup(a, d->ip, strlen(d->ip));
    x->scope = d->scope_all ? "every app of scope all" : "this app";
}

void admin_console_user(struct http_request *req)
{
    struct console c;
    struct support_user u;
    struct factor_views *fv;
    if (!user_start(req, &c, &u, &fv))
        return;
    console_alerts_from_query(&c);
    struct console_events ev = {&c, arena_alloc(&req->arena, HISTORY_ROWS * sizeof(*ev.items)), 0};
    if (support_user_history(server_db(c.srv), u.app_id, u.sub, HISTORY_ROWS, console_event_collect,
                             &ev) != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    int64_t now = server_now_ms();
    struct device_views *dv = arena_alloc(&req->arena, sizeof(*dv));
    memset(dv, 0, sizeof(*dv));
    dv->c = &c;
    if (devices_each(server_db(c.srv), u.app_id, u.sub, now, collect_device, dv) != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    struct ui_admin_user_view v = {
        .devices = dv->items,
        .device_count = dv->count,
        .app_id = arena_strndup(&req->arena, u.app_id, strlen(u.app_id)),
        .app_name = arena_strndup(&req->arena, u.app_name, strlen(u.app_name)),
        .sub = arena_strndup(&req->arena, u.sub, strlen(u.sub)),
        .created = console_time(&c, u.created_at, false),
        .factors = fv->items,
        .factor_count = fv->count,
        .failures = u.failures,
        .locked = u.locked,
        .waiting = !u.locked && u.retry_at > now,
        .recovery_left = u.recovery_left,
        .preferred = factor_label(fv, u.preferred),
        .last_used = factor_label(fv, u.last_used),
        .events = ev.items,
        .event_count = ev.count,
        .history_scan = SUPPORT_HISTORY_SCAN,
        .users_href = users_list_url(&c, u.app_id),
    };
    const char *params[] = {"app", u.app_id, "sub", u.sub};
    v.reset_href = console_url(&c, "/admin/users/reset", params, 2);
    if (u.locked)
        v.lock_state = arena_printf(&req->arena, "Locked since %s",
                                    console_time(&c, u.locked_at > 0 ? u.locked_at : 1, true));
    else if (v.waiting)
        v.lock_state =
            arena_printf(&req->arena, "Waiting until %s", console_time(&c, u.retry_at, true));
    else
        v.lock_state = "Not locked";
    struct buf html;
    buf_init(&html, 8u << 20);
    ui_admin_user(&html, &c.ui, &v);
    console_send(&c, 200, &html);
}

/* ---- unlock, reset, remove one factor ------------------------------------ */

enum user_change { CHANGE_UNLOCK, CHANGE_RESET, CHANGE_FORGET_DEVICES };

/* POST /admin/users/unlock, /admin/users/reset (only from its confirmation
 * page) and /admin/users/forget-devices; each audited with the admin. */
static void user_change(struct http_request *req, enum user_change what)
{
    static const char *const done[] = {"unlocked", "reset", "devices_forgotten"};
    static const char *const logged[] = {"admin console: user unlocked",
                                         "admin console: user reset",
                                         "admin console: devices forgotten"};
    struct console c;
    if (!console_start(req, &c, true, "users", false))
        return;
    const char *app = console_form(&c, "app"), *sub = console_form(&c, "sub");
    if (!app || !*app || !sub || !*sub) {
        console_error(&c, 400, "body.error");
        return;
    }
    const char *params[] = {"app", app, "sub", sub};
    if (what == CHANGE_RESET &&
        !console_confirmed(&c, console_url(&c, "/admin/users/reset", params, 2)))
        return;
    struct server *s = c.srv;
    int rc = console_write_begin(&c);
    if (rc == OG_OK) {
        struct support_user u;
        rc = support_user_find(server_db(s), app, sub, &u);
        int64_t now = server_now_ms();
        if (rc == OG_OK && what == CHANGE_RESET)
            rc = support_user_reset(server_db(s), u.id, app, sub, "console", c.sess.username, now,
                                    NULL);
        else if (rc == OG_OK && what == CHANGE_FORGET_DEVICES)
            rc = support_user_forget_devices(server_db(s), app, sub, "console", c.sess.username,
                                             now, NULL);
        else if (rc == OG_OK)
            rc = support_user_unlock(server_db(s), u.id, app, sub, "console", c.sess.username, now,
                                     NULL);
        console_write_end(&c, rc);
    }
    if (rc == OG_ERR_NOT_FOUND) {
        console_redirect(&c, user_url(&c, app, sub, "e", "not_found"));
        return;
    }
    if (rc != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    log_info(logged[what], "admin", c.sess.username, "app", app);
    console_redirect(&c, user_url(&c, app, sub, "n", done[what]));
}

void admin_console_unlock(struct http_request *req)
{
    user_change(req, CHANGE_UNLOCK);
}

/* Every remembered device of the user asks for the second step again. */
void admin_console_forget_devices(struct http_request *req)
{
    user_change(req, CHANGE_FORGET_DEVICES);
}

void admin_console_reset_form(struct http_request *req)
{
    struct console c;
    struct support_user u;
    struct factor_views *fv;
    if (!user_start(req, &c, &u, &fv))
        return;
    struct arena *a = &req->arena;
    const char *lines[] = {
        arena_printf(a, "%zu factor%s (%zu confirmed).", fv->count, fv->count == 1 ? "" : "s",
                     fv->active),
        arena_printf(a, "%lld unused recovery code%s.", (long long)u.recovery_left,
                     u.recovery_left == 1 ? "" : "s"),
        "Any code sent but not yet used.",
        "At the next sign-in the user sets up two-step verification again (or, where the "
        "policy is optional, may skip it).",
    };
    const char *hidden[] = {"app", u.app_id, "sub", u.sub};
    struct ui_admin_confirm v = {
        .title = arena_printf(a, "Reset %s?", u.sub),
        .lead = arena_printf(a, "Removes from %s at %s:", u.sub, u.app_name),
        .lines = lines,
        .line_count = ARRAY_SIZE(lines),
        .action = "/admin/users/reset",
        .hidden = hidden,
        .hidden_count = 2,
        .button = "Reset: remove all factors",
        .cancel_href = user_url(&c, u.app_id, u.sub, NULL, NULL),
    };
    console_confirm(&c, &v);
}

void admin_console_reset(struct http_request *req)
{
    user_change(req, CHANGE_RESET);
}

void admin_console_factor_form(struct http_request *req)
{
    struct console c;
    struct support_user u;
    struct factor_views *fv;
    if (!user_start(req, &c, &u, &fv))
        return;
    const char *fid = console_query(&c, "factor");
    const struct ui_admin_factor *f = NULL;
    for (size_t i = 0; fid && i < fv->count; i++)
        if (strcmp(fv->items[i].id, fid) == 0)
            f = &fv->items[i];
    if (!f) {
        console_redirect(&c, user_url(&c, u.app_id, u.sub, "e", "factor_gone"));
        return;
    }
    struct arena *a = &req->arena;
    bool last = strcmp(f->status, "active") == 0 && fv->active == 1;
    const char *lines[3];
    size_t n = 0;
    lines[n++] = "The user can no longer use it to sign in.";
    if (last) {
        lines[n++] = "It is the user's last confirmed factor: their recovery codes go too.";
        lines[n++] = "At the next sign-in the user sets up two-step verification again (or, where "
                     "the policy is optional, may skip it).";
    } else if (f->preferred) {
        lines[n++] = "It is the preferred one: the oldest other factor becomes preferred.";
    }
    const char *hidden[] = {"app", u.app_id, "sub", u.sub, "factor", f->id};
    const char *label = factor_label(fv, f->id);
    struct ui_admin_confirm v = {
        .title = arena_printf(a, "Remove %s?", label),
        .lead = arena_printf(a, "From %s at %s.", u.sub, u.app_name),
        .lines = lines,
        .line_count = n,
        .action = "/admin/users/factor",
        .hidden = hidden,
        .hidden_count = 3,
        .button = "Remove the factor",
        .cancel_href = user_url(&c, u.app_id, u.sub, NULL, NULL),
    };
    console_confirm(&c, &v);
}

void admin_console_factor_remove(struct http_request *req)
{
    struct console c;
    if (!console_start(req, &c, true, "users", false))
        return;
    const char *app = console_form(&c, "app"), *sub = console_form(&c, "sub");
    const char *fid = console_form(&c, "factor");
    if (!app || !*app || !sub || !*sub || !fid || !*fid) {
        console_error(&c, 400, "body.error");
        return;
    }
    const char *params[] = {"app", app, "sub", sub, "factor", fid};
    if (!console_confirmed(&c, console_url(&c, "/admin/users/factor", params, 3)))
        return;
    struct server *s = c.srv;
    int rc = console_write_begin(&c);
    if (rc == OG_OK) {
        rc = support_factor_remove(server_db(s), &s->keys, app, sub, fid, "console",
                                   c.sess.username, req->client_ip, server_now_ms(), NULL);
        console_write_end(&c, rc);
    }
    if (rc == OG_ERR_NOT_FOUND) {
        console_redirect(&c, user_url(&c, app, sub, "e", "factor_gone"));
        return;
    }
    if (rc != OG_OK) {
        console_error(&c, 500, "body.error");
        return;
    }
    log_info("admin console: factor removed", "admin", c.sess.username, "app", app);
    console_redirect(&c, user_url(&c, app, sub, "n", "factor_removed"));
}
