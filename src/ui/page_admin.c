/* The admin console's frame in the shared document (layout.c): navigation
 * and sign-out, alerts, tables that stack into cards on a phone, form
 * fields, SVG bars; and the pages that belong to no section: the sign-in
 * form, the overview, message and confirmation pages. Every value is
 * escaped; no inline script or style. */
#include "ui/page_admin_parts.h"

#include <stdio.h>
#include <string.h>

struct ui_ctx admin_ctx(const struct ui_admin_page *p)
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

void admin_begin(struct buf *out, const struct ui_ctx *c, const struct ui_admin_page *p,
                 const char *title)
{
    struct ui_layout l = {.title_key = "admin.title.page",
                          .title_arg = title,
                          .page = "page-admin",
                          .wide = true,
                          .extra_css = "admin.css"};
    ui_layout_begin(out, c, &l);
    if (p->admin) {
        buf_append_str(out, "<div class=\"admin-bar\">\n<nav class=\"admin-nav\" "
                            "aria-label=\"Console\">\n<ul>\n");
        nav_link(out, p, "overview", "/admin", "Overview");
        nav_link(out, p, "apps", "/admin/apps", "Applications");
        nav_link(out, p, "users", "/admin/users", "Users");
        nav_link(out, p, "deliveries", "/admin/deliveries", "Delivery log");
        nav_link(out, p, "policy", "/admin/policy", "Policy");
        nav_link(out, p, "brand", "/admin/brand", "Branding");
        nav_link(out, p, "admins", "/admin/admins", "Admins");
        buf_append_str(out, "</ul>\n</nav>\n<form class=\"admin-logout\" method=\"post\" "
                            "action=\"/admin/logout\">\n");
        ui_csrf(out, c);
        buf_append_str(out, "<a href=\"/admin/account\" title=\"Your account\"");
        if (p->section && strcmp(p->section, "account") == 0)
            buf_append_str(out, " aria-current=\"page\"");
        buf_append_str(out, "><span class=\"visually-hidden\">Your account: </span>");
        ui_esc(out, p->admin);
        buf_append_str(out, "</a>\n<button type=\"submit\" class=\"button small secondary\">"
                            "Sign out</button>\n</form>\n</div>\n");
    }
    alerts(out, p);
}

void admin_end(struct buf *out, const struct ui_ctx *c)
{
    ui_layout_end(out, c);
}

void admin_table_begin(struct buf *out, const char *label, const char *const *heads, size_t n)
{
    buf_append_str(out, "<div class=\"table-wrap\" role=\"region\" tabindex=\"0\" "
                        "aria-label=\"");
    ui_esc(out, label);
    buf_append_str(out, "\">\n<table class=\"admin-table\">\n<thead><tr>");
    for (size_t i = 0; i < n; i++) {
        buf_append_str(out, "<th scope=\"col\">");
        if (heads[i][0])
            ui_esc(out, heads[i]);
        else
            buf_append_str(out, "<span class=\"visually-hidden\">Actions</span>");
        buf_append_str(out, "</th>");
    }
    buf_append_str(out, "</tr></thead>\n<tbody>\n");
}

void admin_table_end(struct buf *out)
{
    buf_append_str(out, "</tbody>\n</table>\n</div>\n");
}

void admin_cell_open(struct buf *out, const char *label)
{
    buf_append_str(out, "<td data-label=\"");
    ui_esc(out, label);
    buf_append_str(out, "\"><div class=\"cell\">");
}

void admin_row_head_open(struct buf *out, const char *label)
{
    buf_append_str(out, "<th scope=\"row\" data-label=\"");
    ui_esc(out, label);
    buf_append_str(out, "\">");
}

void admin_cell(struct buf *out, const char *label, const char *text)
{
    admin_cell_open(out, label);
    ui_esc(out, text && text[0] ? text : "—");
    buf_append_str(out, "</div></td>");
}

void admin_code_cell(struct buf *out, const char *label, const char *text)
{
    admin_cell_open(out, label);
    if (text && text[0]) {
        buf_append_str(out, "<code>");
        ui_esc(out, text);
        buf_append_str(out, "</code>");
    } else {
        buf_append_str(out, "—");
    }
    buf_append_str(out, "</div></td>");
}

/* A field's opening, label and hint (id "<id>-hint"). */
static void field_begin(struct buf *out, const char *id, const char *label, const char *hint)
{
    buf_append_str(out, "<div class=\"field\">\n<label for=\"");
    ui_esc(out, id);
    buf_append_str(out, "\">");
    ui_esc(out, label);
    buf_append_str(out, "</label>\n");
    if (hint) {
        buf_append_str(out, "<p class=\"hint\" id=\"");
        ui_esc(out, id);
        buf_append_str(out, "-hint\">");
        ui_esc(out, hint);
        buf_append_str(out, "</p>\n");
    }
}

void admin_input(struct buf *out, const char *id, const char *label, const char *type,
                 const char *value, const char *hint, bool invalid, const char *attrs)
{
    field_begin(out, id, label, hint);
    buf_append_str(out, "<input id=\"");
    ui_esc(out, id);
    buf_append_str(out, "\" name=\"");
    ui_esc(out, id);
    buf_append_str(out, "\" type=\"");
    ui_esc(out, type);
    buf_append_str(out, "\"");
    if (hint || invalid) {
        buf_append_str(out, " aria-describedby=\"");
        if (hint) {
            ui_esc(out, id);
            buf_append_str(out, "-hint");
        }
        if (invalid)
            buf_append_str(out, hint ? " form-error" : "form-error");
        buf_append_str(out, "\"");
    }
    if (invalid)
        buf_append_str(out, " aria-invalid=\"true\"");
    if (attrs) {
        buf_append_str(out, " ");
        buf_append_str(out, attrs);
    }
    if (value) {
        buf_append_str(out, " value=\"");
        ui_esc(out, value);
        buf_append_str(out, "\"");
    }
    buf_append_str(out, ">\n</div>\n");
}

void admin_select(struct buf *out, const char *id, const char *label, const char *const *options,
                  size_t count, const char *selected, const char *hint)
{
    field_begin(out, id, label, hint);
    buf_append_str(out, "<select id=\"");
    ui_esc(out, id);
    buf_append_str(out, "\" name=\"");
    ui_esc(out, id);
    buf_append_str(out, "\"");
    if (hint) {
        buf_append_str(out, " aria-describedby=\"");
        ui_esc(out, id);
        buf_append_str(out, "-hint\"");
    }
    buf_append_str(out, ">\n");
    for (size_t i = 0; i < count; i++) {
        buf_append_str(out, "<option value=\"");
        ui_esc(out, options[2 * i]);
        buf_append_str(out, "\"");
        if (selected && strcmp(selected, options[2 * i]) == 0)
            buf_append_str(out, " selected");
        buf_append_str(out, ">");
        ui_esc(out, options[2 * i + 1]);
        buf_append_str(out, "</option>\n");
    }
    buf_append_str(out, "</select>\n</div>\n");
}

void admin_app_select(struct buf *out, const struct ui_admin_app *apps, size_t count,
                      const char *selected)
{
    buf_append_str(out, "<div class=\"field\">\n<label for=\"app\">Application</label>\n<select "
                        "id=\"app\" name=\"app\">\n<option value=\"\">All applications</option>\n");
    for (size_t i = 0; i < count; i++) {
        buf_append_str(out, "<option value=\"");
        ui_esc(out, apps[i].id);
        buf_append_str(out, "\"");
        if (selected && strcmp(selected, apps[i].id) == 0)
            buf_append_str(out, " selected");
        buf_append_str(out, ">");
        ui_esc(out, apps[i].name);
        buf_append_str(out, "</option>\n");
    }
    buf_append_str(out, "</select>\n</div>\n");
}

void admin_bar(struct buf *out, long long value, long long max, const char *cls)
{
    /* Whole percents; a non-zero value always shows a sliver. */
    long long w = max > 0 ? value * 100 / max : 0;
    if (value > 0 && w < 1)
        w = 1;
    if (w > 100)
        w = 100;
    buf_printf(out,
               "<svg class=\"bar\" viewBox=\"0 0 100 10\" preserveAspectRatio=\"none\" "
               "aria-hidden=\"true\" focusable=\"false\"><rect class=\"bar-track\" width=\"100\" "
               "height=\"10\"></rect><rect class=\"bar-fill %s\" width=\"%lld\" height=\"10\">"
               "</rect></svg>",
               cls ? cls : "", w);
}

void admin_badge(struct buf *out, const char *cls, const char *text)
{
    buf_append_str(out, "<span class=\"badge ");
    buf_append_str(out, cls);
    buf_append_str(out, "\">");
    ui_esc(out, text);
    buf_append_str(out, "</span>");
}

void admin_factor_names(struct buf *out, const struct ui_ctx *c, const char *list)
{
    if (!list || !list[0]) {
        buf_append_str(out, "<span class=\"muted\">none</span>");
        return;
    }
    const char *p = list;
    bool first = true;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char type[16];
        snprintf(type, sizeof(type), "%.*s", (int)(n < sizeof(type) ? n : 0), p);
        if (!first)
            buf_append_str(out, " ");
        buf_append_str(out, "<span class=\"badge badge-plain\">");
        ui_text(out, c, ui_factor_key(type));
        buf_append_str(out, "</span>");
        first = false;
        p += n + (comma ? 1 : 0);
    }
}

void admin_pager(struct buf *out, const char *label, const char *back_href, const char *back_label,
                 const char *back_rel, const char *on_href, const char *on_label)
{
    if (!back_href && !on_href)
        return;
    buf_append_str(out, "<nav class=\"pager\" aria-label=\"");
    ui_esc(out, label);
    buf_append_str(out, "\">\n");
    const char *hrefs[] = {back_href, on_href}, *labels[] = {back_label, on_label};
    const char *rels[] = {back_rel, "next"};
    for (int i = 0; i < 2; i++) {
        if (!hrefs[i])
            continue;
        buf_append_str(out, "<a ");
        if (rels[i]) {
            buf_append_str(out, "rel=\"");
            buf_append_str(out, rels[i]);
            buf_append_str(out, "\" ");
        }
        buf_append_str(out, "href=\"");
        ui_esc(out, hrefs[i]);
        buf_append_str(out, "\">");
        ui_esc(out, labels[i]);
        buf_append_str(out, "</a>\n");
    }
    buf_append_str(out, "</nav>\n");
}

void admin_events_table(struct buf *out, const char *label, const struct ui_admin_event *events,
                        size_t n)
{
    static const char *const heads[] = {"When",       "What",  "Application",
                                        "IP address", "Admin", "Details"};
    admin_table_begin(out, label, heads, ARRAY_SIZE(heads));
    for (size_t i = 0; i < n; i++) {
        const struct ui_admin_event *e = &events[i];
        buf_append_str(out, "<tr>");
        admin_cell(out, heads[0], e->time);
        admin_cell_open(out, heads[1]);
        ui_esc(out, e->what);
        buf_append_str(out, " <code class=\"muted\">");
        ui_esc(out, e->event);
        buf_append_str(out, "</code></div></td>");
        admin_cell(out, heads[2], e->app);
        admin_cell(out, heads[3], e->ip);
        admin_cell(out, heads[4], e->who);
        admin_cell(out, heads[5], e->detail);
        buf_append_str(out, "</tr>\n");
    }
    admin_table_end(out);
}

/* ---- pages of their own ---- */

void ui_admin_login(struct buf *out, const struct ui_admin_page *p, const char *username)
{
    struct ui_ctx c = admin_ctx(p);
    struct ui_layout l = {.title_key = "admin.title.login",
                          .page = "page-admin",
                          .wide = true,
                          .extra_css = "admin.css"};
    ui_layout_begin(out, &c, &l);
    alerts(out, p);
    buf_append_str(out, "<p class=\"lead\">The console of this otpgate: applications, users, "
                        "policy, branding and the delivery log. The first account is made with "
                        "<code>otpgate admin add</code>.</p>\n"
                        "<form class=\"stack admin-narrow\" method=\"post\" "
                        "action=\"/admin/login\">\n");
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

void ui_admin_message(struct buf *out, const struct ui_admin_page *p, const char *title,
                      const char *text, const char *href, const char *label)
{
    struct ui_ctx c = admin_ctx(p);
    admin_begin(out, &c, p, title);
    buf_append_str(out, "<p>");
    ui_esc(out, text);
    buf_append_str(out, "</p>\n");
    if (href) {
        buf_append_str(out, "<p><a href=\"");
        ui_esc(out, href);
        buf_append_str(out, "\">");
        ui_esc(out, label);
        buf_append_str(out, "</a></p>\n");
    }
    admin_end(out, &c);
}

void ui_admin_confirm(struct buf *out, const struct ui_admin_page *p,
                      const struct ui_admin_confirm *v)
{
    struct ui_ctx c = admin_ctx(p);
    admin_begin(out, &c, p, v->title);
    if (v->lead) {
        buf_append_str(out, "<p class=\"lead\">");
        ui_esc(out, v->lead);
        buf_append_str(out, "</p>\n");
    }
    if (v->line_count) {
        buf_append_str(out, "<ul class=\"admin-loss\">\n");
        for (size_t i = 0; i < v->line_count; i++) {
            buf_append_str(out, "<li>");
            ui_esc(out, v->lines[i]);
            buf_append_str(out, "</li>\n");
        }
        buf_append_str(out, "</ul>\n");
    }
    buf_append_str(out, "<form method=\"post\" class=\"admin-confirm\" action=\"");
    ui_esc(out, v->action);
    buf_append_str(out, "\">\n");
    ui_csrf(out, &c);
    for (size_t i = 0; i < v->hidden_count; i++)
        ui_hidden(out, v->hidden[2 * i], v->hidden[2 * i + 1]);
    ui_hidden(out, "confirm", "1");
    buf_append_str(out, "<p class=\"actions\"><button type=\"submit\" class=\"button danger\">");
    ui_esc(out, v->button);
    buf_append_str(out, "</button>\n<a class=\"button secondary\" href=\"");
    ui_esc(out, v->cancel_href);
    buf_append_str(out, "\">Cancel</a></p>\n</form>\n");
    admin_end(out, &c);
}

/* ---- overview ---- */

static long long max_of(const long long *v, size_t n)
{
    long long m = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] > m)
            m = v[i];
    return m;
}

/* A row of a bar chart table: name, bar, number. */
static void bar_row(struct buf *out, const char *name, long long value, long long max,
                    const char *cls, const char *suffix)
{
    buf_append_str(out, "<tr>");
    admin_row_head_open(out, "");
    ui_esc(out, name);
    buf_append_str(out, "</th>");
    admin_cell_open(out, "");
    admin_bar(out, value, max, cls);
    buf_append_str(out, "</div></td>");
    admin_cell_open(out, "");
    buf_printf(out, "%lld", value);
    if (suffix)
        ui_esc(out, suffix);
    buf_append_str(out, "</div></td></tr>\n");
}

static void chart_begin(struct buf *out, const char *id, const char *title, const char *what)
{
    buf_printf(out, "<section aria-labelledby=\"%s\">\n<h2 id=\"%s\">", id, id);
    ui_esc(out, title);
    buf_append_str(out, "</h2>\n<table class=\"admin-chart\">\n<thead><tr><th scope=\"col\">");
    ui_esc(out, what);
    buf_append_str(out, "</th><th scope=\"col\"><span class=\"visually-hidden\">Bar</span></th>"
                        "<th scope=\"col\">Count</th></tr></thead>\n<tbody>\n");
}

static void chart_end(struct buf *out)
{
    buf_append_str(out, "</tbody>\n</table>\n</section>\n");
}

void ui_admin_overview(struct buf *out, const struct ui_admin_page *p,
                       const struct ui_admin_overview *v)
{
    struct ui_ctx c = admin_ctx(p);
    admin_begin(out, &c, p, "Overview");
    long long users = 0, with = 0, sms = 0, email = 0, totp = 0, locked = 0, waiting = 0;
    for (size_t i = 0; i < v->app_count; i++) {
        users += v->apps[i].users;
        with += v->apps[i].with_factor;
        sms += v->apps[i].sms;
        email += v->apps[i].email;
        totp += v->apps[i].totp;
        locked += v->apps[i].locked;
        waiting += v->apps[i].waiting;
    }
    long long sent = v->sent[0] + v->sent[1], failed = v->failed[0] + v->failed[1];
    buf_append_str(out, "<ul class=\"admin-stats\">\n");
    buf_printf(out,
               "<li><span class=\"stat-value\">%lld</span> <span class=\"stat-label\">of %lld "
               "users have a second factor</span></li>\n",
               with, users);
    buf_printf(out,
               "<li><a href=\"/admin/users?state=locked\"><span class=\"stat-value\">%lld</span> "
               "<span class=\"stat-label\">locked user%s</span></a></li>\n",
               locked, locked == 1 ? "" : "s");
    buf_printf(out,
               "<li><a href=\"/admin/deliveries\"><span class=\"stat-value\">%lld</span> "
               "<span class=\"stat-label\">message%s sent in the last 24 hours</span></a></li>\n",
               sent, sent == 1 ? "" : "s");
    buf_printf(out,
               "<li><a href=\"/admin/deliveries?state=failed\"><span class=\"stat-value\">%lld"
               "</span> <span class=\"stat-label\">failed in the last 24 hours</span></a></li>\n",
               failed);
    buf_append_str(out, "</ul>\n");
    if (waiting > 0)
        buf_printf(out,
                   "<p><a href=\"/admin/users?state=waiting\">%lld user%s</a> must wait before "
                   "trying again after wrong codes.</p>\n",
                   waiting, waiting == 1 ? "" : "s");
    buf_append_str(out, "<p class=\"muted\">The global policy's mode is ");
    ui_esc(out, v->global_mode);
    buf_append_str(out, ".</p>\n");

    if (v->app_count == 0) {
        buf_append_str(out, "<p>No applications yet. <a href=\"/admin/apps/new\">Register the "
                            "first one</a>.</p>\n");
        admin_end(out, &c);
        return;
    }
    /* Users with a second factor, per app. */
    buf_append_str(out, "<section aria-labelledby=\"per-app\">\n<h2 id=\"per-app\">Users with a "
                        "second factor, per application</h2>\n");
    static const char *const heads[] = {"Application", "With a second factor", "Text message",
                                        "Email",       "Authenticator app",    "Locked"};
    admin_table_begin(out, "Users per application", heads, ARRAY_SIZE(heads));
    for (size_t i = 0; i < v->app_count; i++) {
        const struct ui_admin_app_counts *a = &v->apps[i];
        buf_append_str(out, "<tr>");
        admin_row_head_open(out, heads[0]);
        buf_append_str(out, "<a href=\"/admin/apps/");
        ui_url_param(out, a->id);
        buf_append_str(out, "\">");
        ui_esc(out, a->name);
        buf_append_str(out, "</a></th>");
        admin_cell_open(out, heads[1]);
        buf_append_str(out, "<span class=\"bar-cell\">");
        admin_bar(out, a->with_factor, a->users, NULL);
        buf_printf(out, "<span>%lld of %lld</span></span></div></td>", a->with_factor, a->users);
        char n[32];
        snprintf(n, sizeof(n), "%lld", a->sms);
        admin_cell(out, heads[2], n);
        snprintf(n, sizeof(n), "%lld", a->email);
        admin_cell(out, heads[3], n);
        snprintf(n, sizeof(n), "%lld", a->totp);
        admin_cell(out, heads[4], n);
        admin_cell_open(out, heads[5]);
        if (a->locked > 0) {
            buf_append_str(out, "<a href=\"/admin/users?state=locked&amp;app=");
            ui_url_param(out, a->id);
            buf_printf(out, "\">%lld</a>", a->locked);
        } else {
            buf_append_str(out, "0");
        }
        buf_append_str(out, "</div></td></tr>\n");
    }
    admin_table_end(out);
    buf_append_str(out, "</section>\n");

    /* Per factor type, over every app. */
    long long types[] = {sms, email, totp};
    long long tmax = max_of(types, 3);
    chart_begin(out, "per-type", "Users per factor type, all applications", "Factor");
    bar_row(out, "Text message", sms, tmax, NULL, NULL);
    bar_row(out, "Email", email, tmax, NULL, NULL);
    bar_row(out, "Authenticator app", totp, tmax, NULL, NULL);
    bar_row(out, "No second factor", users - with, users, "bar-muted", NULL);
    chart_end(out);

    /* Messages of the last 24 hours. */
    long long all[] = {v->sent[0],   v->sent[1],    v->failed[0],
                       v->failed[1], v->pending[0], v->pending[1]};
    long long mmax = max_of(all, ARRAY_SIZE(all));
    chart_begin(out, "sends", "Messages in the last 24 hours", "Channel and outcome");
    bar_row(out, "Text messages sent", v->sent[0], mmax, NULL, NULL);
    bar_row(out, "Text messages failed", v->failed[0], mmax, "bar-bad", NULL);
    bar_row(out, "Emails sent", v->sent[1], mmax, NULL, NULL);
    bar_row(out, "Emails failed", v->failed[1], mmax, "bar-bad", NULL);
    if (v->pending[0] + v->pending[1] > 0)
        bar_row(out, "Waiting to be sent", v->pending[0] + v->pending[1], mmax, "bar-muted", NULL);
    chart_end(out);
    if (v->retried[0] + v->retried[1] > 0)
        buf_printf(out, "<p class=\"muted\">%lld of them needed more than one try.</p>\n",
                   v->retried[0] + v->retried[1]);
    admin_end(out, &c);
}
