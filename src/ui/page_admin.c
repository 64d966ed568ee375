/* The admin console's pages in the shared document (layout.c): navigation
 * and sign-out, the sign-in form, the applications, the user lookup and the
 * delivery log. Tables sit in labelled, focusable scroll regions so the
 * pages stay usable at 360 px. Every value is escaped; no inline script or
 * style. */
#include "ui/page_admin.h"

#include "ui/layout.h"

#include <stdio.h>
#include <string.h>

static struct ui_ctx ctx_of(const struct ui_admin_page *p)
{
    struct ui_ctx c;
    memset(&c, 0, sizeof(c));
    c.locale = "en";
    c.csrf = p->csrf ? p->csrf : "";
    c.brand_name = p->brand_name;
    c.brand_logo = p->brand_logo;
    return c;
}

static void alerts(struct buf *out, const struct ui_admin_page *p)
{
    if (p->notice) {
        buf_append_str(out, "<div class=\"alert ok\" role=\"status\"><p>");
        ui_esc(out, p->notice);
        buf_append_str(out, "</p></div>\n");
    }
    if (p->error) {
        buf_append_str(out, "<div class=\"alert error\" id=\"form-error\" role=\"alert\"><p>");
        ui_esc(out, p->error);
        buf_append_str(out, "</p></div>\n");
    }
}

static void nav_link(struct buf *out, const struct ui_admin_page *p, const char *section,
                     const char *href, const char *label)
{
    buf_append_str(out, "<li><a href=\"");
    buf_append_str(out, href);
    buf_append_str(out, "\"");
    if (p->section && strcmp(p->section, section) == 0)
        buf_append_str(out, " aria-current=\"page\"");
    buf_append_str(out, ">");
    buf_append_str(out, label);
    buf_append_str(out, "</a></li>\n");
}

/* The document up to the alerts; the navigation and sign-out once signed in. */
static void begin(struct buf *out, const struct ui_ctx *c, const struct ui_admin_page *p,
                  const char *title_key)
{
    struct ui_layout l = {
        .title_key = title_key, .page = "page-admin", .wide = true, .extra_css = "admin.css"};
    ui_layout_begin(out, c, &l);
    if (p->admin) {
        buf_append_str(out, "<div class=\"admin-bar\">\n<nav class=\"admin-nav\" "
                            "aria-label=\"Console\">\n<ul>\n");
        nav_link(out, p, "apps", "/admin", "Applications");
        nav_link(out, p, "users", "/admin/users", "Users");
        nav_link(out, p, "deliveries", "/admin/deliveries", "Delivery log");
        buf_append_str(out, "</ul>\n</nav>\n<form class=\"admin-logout\" method=\"post\" "
                            "action=\"/admin/logout\">\n");
        ui_csrf(out, c);
        buf_append_str(out, "<span class=\"muted\">");
        ui_esc(out, p->admin);
        buf_append_str(out, "</span>\n<button type=\"submit\" class=\"button small secondary\">"
                            "Sign out</button>\n</form>\n</div>\n");
    }
    alerts(out, p);
}

/* A scroll region for a wide table, named for screen readers. */
static void table_begin(struct buf *out, const char *label, const char *const *heads, size_t n)
{
    buf_append_str(out, "<div class=\"table-wrap\" role=\"region\" tabindex=\"0\" "
                        "aria-label=\"");
    ui_esc(out, label);
    buf_append_str(out, "\">\n<table class=\"admin-table\">\n<thead><tr>");
    for (size_t i = 0; i < n; i++) {
        buf_append_str(out, "<th scope=\"col\">");
        ui_esc(out, heads[i]);
        buf_append_str(out, "</th>");
    }
    buf_append_str(out, "</tr></thead>\n<tbody>\n");
}

static void table_end(struct buf *out)
{
    buf_append_str(out, "</tbody>\n</table>\n</div>\n");
}

static void cell(struct buf *out, const char *s)
{
    buf_append_str(out, "<td>");
    ui_esc(out, s);
    buf_append_str(out, "</td>");
}

static void code_cell(struct buf *out, const char *s)
{
    buf_append_str(out, "<td><code>");
    ui_esc(out, s);
    buf_append_str(out, "</code></td>");
}

void ui_admin_login(struct buf *out, const struct ui_admin_page *p, const char *username)
{
    struct ui_ctx c = ctx_of(p);
    begin(out, &c, p, "admin.title.login");
    buf_append_str(out, "<p class=\"lead\">The console of this otpgate: applications, users' "
                        "factors and the delivery log. Accounts are made with "
                        "<code>otpgate admin add</code>.</p>\n"
                        "<form class=\"stack\" method=\"post\" action=\"/admin/login\">\n");
    ui_csrf(out, &c);
    buf_append_str(out, "<div class=\"field\">\n<label for=\"username\">Username</label>\n"
                        "<input id=\"username\" name=\"username\" type=\"text\" "
                        "autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" "
                        "maxlength=\"64\" required");
    if (p->error)
        buf_append_str(out, " aria-describedby=\"form-error\"");
    if (!username || !username[0])
        buf_append_str(out, " autofocus");
    buf_append_str(out, " value=\"");
    ui_esc(out, username);
    buf_append_str(out, "\">\n</div>\n<div class=\"field\">\n<label for=\"password\">Password"
                        "</label>\n<input id=\"password\" name=\"password\" type=\"password\" "
                        "autocomplete=\"current-password\" maxlength=\"1024\" required");
    if (username && username[0])
        buf_append_str(out, " autofocus");
    buf_append_str(out, ">\n</div>\n<button type=\"submit\" class=\"button\">Sign in</button>\n"
                        "</form>\n");
    ui_layout_end(out, &c);
}

void ui_admin_apps(struct buf *out, const struct ui_admin_page *p, const struct ui_admin_app *apps,
                   size_t count, const char *global_mode)
{
    struct ui_ctx c = ctx_of(p);
    begin(out, &c, p, "admin.title.apps");
    if (count == 0) {
        buf_append_str(out, "<p>No applications yet. Register one with <code>otpgate app add "
                            "--name NAME --redirect-uri URI</code>.</p>\n");
        ui_layout_end(out, &c);
        return;
    }
    buf_printf(out, "<p class=\"lead\">%zu application%s. The global policy's mode is ", count,
               count == 1 ? "" : "s");
    ui_esc(out, global_mode);
    buf_append_str(out, ".</p>\n");
    static const char *const heads[] = {"Name", "Client id", "Redirect URIs", "Policy", ""};
    table_begin(out, "Applications", heads, ARRAY_SIZE(heads) - 1);
    for (size_t i = 0; i < count; i++) {
        const struct ui_admin_app *a = &apps[i];
        buf_append_str(out, "<tr><th scope=\"row\">");
        ui_esc(out, a->name);
        buf_append_str(out, "</th>");
        code_cell(out, a->id);
        buf_append_str(out, "<td><ul class=\"plain\">");
        for (size_t u = 0; u < a->uri_count; u++) {
            buf_append_str(out, "<li><code>");
            ui_esc(out, a->uris[u]);
            buf_append_str(out, "</code></li>");
        }
        buf_append_str(out, "</ul></td><td>");
        ui_esc(out, a->policy);
        if (a->policy && strcmp(a->policy, "inherit") == 0) {
            buf_append_str(out, " <span class=\"muted\">(");
            ui_esc(out, global_mode);
            buf_append_str(out, ")</span>");
        }
        buf_append_str(out, "</td></tr>\n");
    }
    table_end(out);
    ui_layout_end(out, &c);
}

/* A small POST form about the looked-up user. */
static void user_form(struct buf *out, const struct ui_ctx *c, const struct ui_admin_user_view *v,
                      const char *action, const char *cls, const char *label, bool confirm)
{
    buf_append_str(out, "<form class=\"admin-action\" method=\"post\" action=\"");
    buf_append_str(out, action);
    buf_append_str(out, "\">\n");
    ui_csrf(out, c);
    ui_hidden(out, "app", v->app_id);
    ui_hidden(out, "sub", v->sub);
    if (confirm)
        buf_append_str(out, "<div class=\"check\"><input type=\"checkbox\" id=\"confirm\" "
                            "name=\"confirm\" value=\"1\" required>\n<label for=\"confirm\">"
                            "Yes, remove every factor and recovery code of this user</label>"
                            "</div>\n");
    buf_append_str(out, "<button type=\"submit\" class=\"button small ");
    buf_append_str(out, cls);
    buf_append_str(out, "\">");
    buf_append_str(out, label);
    buf_append_str(out, "</button>\n</form>\n");
}

void ui_admin_user(struct buf *out, const struct ui_admin_page *p,
                   const struct ui_admin_user_view *v)
{
    struct ui_ctx c = ctx_of(p);
    begin(out, &c, p, "admin.title.users");
    if (v->app_count == 0) {
        buf_append_str(out, "<p>No applications yet, so no users either.</p>\n");
        ui_layout_end(out, &c);
        return;
    }
    buf_append_str(out, "<form class=\"stack admin-search\" method=\"get\" action=\"/admin/users\">"
                        "\n<div class=\"field\">\n<label for=\"app\">Application</label>\n"
                        "<select id=\"app\" name=\"app\">\n");
    for (size_t i = 0; i < v->app_count; i++) {
        buf_append_str(out, "<option value=\"");
        ui_esc(out, v->apps[i].id);
        buf_append_str(out, "\"");
        if (v->app_id && strcmp(v->app_id, v->apps[i].id) == 0)
            buf_append_str(out, " selected");
        buf_append_str(out, ">");
        ui_esc(out, v->apps[i].name);
        buf_append_str(out, " (");
        ui_esc(out, v->apps[i].id);
        buf_append_str(out, ")</option>\n");
    }
    buf_append_str(out, "</select>\n</div>\n<div class=\"field\">\n<label for=\"sub\">User id "
                        "(sub)</label>\n<p class=\"hint\" id=\"sub-hint\">The app's own id for "
                        "the user.</p>\n<input id=\"sub\" name=\"sub\" type=\"text\" required "
                        "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"255\" "
                        "aria-describedby=\"sub-hint\" value=\"");
    ui_esc(out, v->sub);
    buf_append_str(out, "\">\n</div>\n<button type=\"submit\" class=\"button\">Look up</button>"
                        "\n</form>\n");
    if (!v->found) {
        ui_layout_end(out, &c);
        return;
    }

    buf_append_str(out, "<section aria-labelledby=\"user-h\">\n<h2 id=\"user-h\">");
    ui_esc(out, v->sub);
    buf_append_str(out, " <span class=\"muted\">at ");
    ui_esc(out, v->app_name);
    buf_append_str(out, "</span></h2>\n<dl class=\"admin-facts\">\n<dt>Sign-in state</dt><dd>");
    ui_esc(out, v->lock_state);
    buf_printf(out,
               "</dd>\n<dt>Consecutive failures</dt><dd>%lld</dd>\n"
               "<dt>Recovery codes left</dt><dd>%lld</dd>\n</dl>\n",
               v->failures, v->recovery_left);
    if (v->factor_count == 0) {
        buf_append_str(out, "<p>No factors.</p>\n");
    } else {
        static const char *const heads[] = {"Factor", "Destination", "Status", "Added",
                                            "Last used"};
        table_begin(out, "Factors", heads, ARRAY_SIZE(heads));
        for (size_t i = 0; i < v->factor_count; i++) {
            const struct ui_admin_factor *f = &v->factors[i];
            buf_append_str(out, "<tr><th scope=\"row\">");
            ui_text(out, &c, ui_factor_key(f->type));
            if (f->preferred)
                buf_append_str(out, " <span class=\"badge badge-accent\">Preferred</span>");
            buf_append_str(out, "</th>");
            cell(out, f->masked && f->masked[0] ? f->masked : "—");
            cell(out, f->status);
            cell(out, f->added);
            cell(out, f->last_used ? f->last_used : "never");
            buf_append_str(out, "</tr>\n");
        }
        table_end(out);
    }
    buf_append_str(out, "<div class=\"admin-actions\">\n");
    if (v->locked_or_waiting || v->failures > 0)
        user_form(out, &c, v, "/admin/users/unlock", "secondary", "Unlock", false);
    if (v->factor_count > 0 || v->recovery_left > 0)
        user_form(out, &c, v, "/admin/users/reset", "danger", "Reset: remove all factors", true);
    buf_append_str(out, "</div>\n</section>\n");
    ui_layout_end(out, &c);
}

void ui_admin_deliveries(struct buf *out, const struct ui_admin_page *p,
                         const struct ui_admin_delivery *rows, size_t count)
{
    struct ui_ctx c = ctx_of(p);
    begin(out, &c, p, "admin.title.deliveries");
    if (count == 0) {
        buf_append_str(out, "<p>No messages yet.</p>\n");
        ui_layout_end(out, &c);
        return;
    }
    buf_printf(out,
               "<p class=\"lead\">The newest %zu message%s, newest first. Codes are never "
               "shown: answers have them blanked.</p>\n",
               count, count == 1 ? "" : "s");
    static const char *const heads[] = {"Time",  "App",      "Channel",  "To",
                                        "State", "Attempts", "Provider", "Provider answer"};
    table_begin(out, "Delivery log", heads, ARRAY_SIZE(heads));
    for (size_t i = 0; i < count; i++) {
        const struct ui_admin_delivery *d = &rows[i];
        buf_append_str(out, "<tr>");
        cell(out, d->time);
        cell(out, d->app);
        cell(out, d->channel);
        cell(out, d->masked);
        buf_append_str(out, "<td><span class=\"badge ");
        buf_append_str(out, strcmp(d->state, "failed") == 0 ? "badge-warn"
                            : strcmp(d->state, "sent") == 0 ? "badge-accent"
                                                            : "badge-plain");
        buf_append_str(out, "\">");
        ui_esc(out, d->state);
        buf_printf(out, "</span></td><td>%lld</td>", d->attempts);
        cell(out, d->provider);
        if (d->answer && d->answer[0])
            code_cell(out, d->answer);
        else
            cell(out, "");
        buf_append_str(out, "</tr>\n");
    }
    table_end(out);
    ui_layout_end(out, &c);
}
