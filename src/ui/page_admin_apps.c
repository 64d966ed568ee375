/* The console's applications and policy pages: the list, the new-app form,
 * an app's page (details, policy, secret rotation and removal), the global
 * policy, and the client secret shown once. */
#include "ui/page_admin_parts.h"

#include <stdio.h>
#include <string.h>

static void app_href(struct buf *out, const char *id, const char *tail)
{
    buf_append_str(out, "/admin/apps/");
    ui_url_param(out, id);
    if (tail)
        buf_append_str(out, tail);
}

static void policy_mode_text(struct buf *out, const char *policy, const char *global_mode)
{
    ui_esc(out, policy);
    if (policy && strcmp(policy, "inherit") == 0) {
        buf_append_str(out, " <span class=\"muted\">(");
        ui_esc(out, global_mode);
        buf_append_str(out, ")</span>");
    }
}

void ui_admin_apps(struct buf *out, const struct ui_admin_page *p, const struct ui_admin_app *apps,
                   size_t count, const char *global_mode)
{
    struct ui_ctx c = admin_ctx(p);
    admin_begin(out, &c, p, "Applications");
    buf_append_str(out, "<p class=\"admin-toolbar\"><a class=\"button\" href=\"/admin/apps/new\">"
                        "New application</a></p>\n");
    if (count == 0) {
        buf_append_str(out, "<p>No applications yet. An application is a website or service "
                            "that sends its signed-in users here for the second step.</p>\n");
        admin_end(out, &c);
        return;
    }
    buf_printf(out, "<p class=\"lead\">%zu application%s. The global policy's mode is ", count,
               count == 1 ? "" : "s");
    ui_esc(out, global_mode);
    buf_append_str(out, ".</p>\n");
    static const char *const heads[] = {"Name", "Client id", "Redirect URIs", "Policy", "Users"};
    admin_table_begin(out, "Applications", heads, ARRAY_SIZE(heads));
    for (size_t i = 0; i < count; i++) {
        const struct ui_admin_app *a = &apps[i];
        buf_append_str(out, "<tr>");
        admin_row_head_open(out, heads[0]);
        buf_append_str(out, "<a href=\"");
        app_href(out, a->id, NULL);
        buf_append_str(out, "\">");
        ui_esc(out, a->name);
        buf_append_str(out, "</a></th>");
        admin_code_cell(out, heads[1], a->id);
        admin_cell_open(out, heads[2]);
        buf_append_str(out, "<ul class=\"plain\">");
        for (size_t u = 0; u < a->uri_count; u++) {
            buf_append_str(out, "<li><code>");
            ui_esc(out, a->uris[u]);
            buf_append_str(out, "</code></li>");
        }
        buf_append_str(out, "</ul></div></td>");
        admin_cell_open(out, heads[3]);
        policy_mode_text(out, a->policy, global_mode);
        buf_append_str(out, "</div></td>");
        admin_cell_open(out, heads[4]);
        if (a->users >= 0) {
            buf_append_str(out, "<a href=\"/admin/users?app=");
            ui_url_param(out, a->id);
            buf_printf(out, "\">%lld</a>", a->users);
        }
        buf_append_str(out, "</div></td></tr>\n");
    }
    admin_table_end(out);
    admin_end(out, &c);
}

static const char *const mode_options[] = {
    "inherit",  "Inherit the global policy's mode", "off",       "Off: no second step",
    "optional", "Optional: users choose",           "mandatory", "Mandatory: every user enrols"};

/* The name and redirect URI fields of the new-app and details forms. */
static void app_fields(struct buf *out, const struct ui_admin_page *p, const char *name,
                       const char *uris)
{
    bool err = p->error != NULL;
    admin_input(out, "name", "Name", "text", name, "Shown to users on otpgate's pages.", false,
                "required maxlength=\"127\" autocomplete=\"off\"");
    buf_append_str(out, "<div class=\"field\">\n<label for=\"redirect_uris\">Redirect URIs</label>"
                        "\n<p class=\"hint\" id=\"redirect_uris-hint\">One per line: where users "
                        "return, matched exactly. https:// (http:// only for localhost, 127.0.0.1 "
                        "and [::1]), without a #fragment.</p>\n<textarea id=\"redirect_uris\" "
                        "name=\"redirect_uris\" rows=\"3\" required spellcheck=\"false\" "
                        "autocapitalize=\"none\" aria-describedby=\"redirect_uris-hint");
    if (err)
        buf_append_str(out, " form-error");
    buf_append_str(out, "\">");
    ui_esc(out, uris);
    buf_append_str(out, "</textarea>\n</div>\n");
}

void ui_admin_app_new(struct buf *out, const struct ui_admin_page *p,
                      const struct ui_admin_app_form *f)
{
    struct ui_ctx c = admin_ctx(p);
    admin_begin(out, &c, p, "New application");
    buf_append_str(out, "<p class=\"lead\">Register a website or service. Its client id and "
                        "secret are shown once on the next page.</p>\n<form class=\"stack "
                        "admin-narrow\" method=\"post\" action=\"/admin/apps/new\">\n");
    ui_csrf(out, &c);
    app_fields(out, p, f ? f->name : NULL, f ? f->uris : NULL);
    admin_select(out, "policy", "Second step", mode_options, ARRAY_SIZE(mode_options) / 2,
                 f && f->policy ? f->policy : "inherit",
                 "The app's policy mode; every other rule follows the global policy until "
                 "changed on the app's page.");
    buf_append_str(out, "<p class=\"actions\"><button type=\"submit\" class=\"button\">Register"
                        "</button>\n<a class=\"button secondary\" href=\"/admin/apps\">Cancel</a>"
                        "</p>\n</form>\n");
    admin_end(out, &c);
}

/* The policy form: one field per key with its help, allowed values, the
 * effective value and where it comes from. */
static void policy_form(struct buf *out, const struct ui_ctx *c,
                        const struct ui_admin_policy_view *v)
{
    const char *reset = v->app_scope ? "inherit" : "default";
    buf_append_str(out, "<form method=\"post\" class=\"admin-policy\" action=\"");
    ui_esc(out, v->action);
    buf_append_str(out, "\">\n");
    ui_csrf(out, c);
    buf_append_str(out, "<p class=\"hint\">");
    buf_append_str(out, v->app_scope
                            ? "Each setting either follows the global policy (Inherit, or an empty "
                              "field) or is this app's own."
                            : "Each setting either keeps the built-in default (Default, or an "
                              "empty field) or is set here for every app that inherits it.");
    buf_append_str(out, "</p>\n<div class=\"policy-keys\">\n");
    for (size_t i = 0; i < v->count; i++) {
        const struct ui_admin_policy_key *k = &v->keys[i];
        buf_append_str(out, "<div class=\"field policy-key\">\n<label for=\"pk-");
        ui_esc(out, k->key);
        buf_append_str(out, "\"><code>");
        ui_esc(out, k->key);
        buf_append_str(out, "</code></label>\n<p class=\"hint\" id=\"pk-");
        ui_esc(out, k->key);
        buf_append_str(out, "-hint\">");
        /* The help is a phrase (as --help prints it): a sentence here. */
        char first[2] = {
            k->help[0] >= 'a' && k->help[0] <= 'z' ? (char)(k->help[0] - 32) : k->help[0], '\0'};
        ui_esc(out, first);
        ui_esc(out, k->help[0] ? k->help + 1 : "");
        buf_append_str(out, ". Allowed: ");
        ui_esc(out, k->allowed);
        buf_append_str(out, ". Now <strong>");
        ui_esc(out, k->value[0] ? k->value : "(empty)");
        buf_append_str(out, "</strong> <span class=\"badge badge-plain source\">from ");
        ui_esc(out, k->source);
        buf_append_str(out, "</span></p>\n");
        const char *current = k->entered ? k->entered : k->own;
        if (k->choices) {
            buf_append_str(out, "<select id=\"pk-");
            ui_esc(out, k->key);
            buf_append_str(out, "\" name=\"");
            ui_esc(out, k->key);
            buf_append_str(out, "\" aria-describedby=\"pk-");
            ui_esc(out, k->key);
            buf_append_str(out, k->invalid ? "-hint form-error\" aria-invalid=\"true\">\n"
                                           : "-hint\">\n");
            buf_append_str(out, "<option value=\"");
            buf_append_str(out, reset);
            buf_append_str(out, "\"");
            if (!current || strcmp(current, reset) == 0)
                buf_append_str(out, " selected");
            buf_append_str(out, v->app_scope ? ">Inherit" : ">Default");
            buf_append_str(out, "</option>\n");
            for (const char *const *ch = k->choices; *ch; ch++) {
                buf_append_str(out, "<option value=\"");
                ui_esc(out, *ch);
                buf_append_str(out, "\"");
                if (current && strcmp(current, *ch) == 0)
                    buf_append_str(out, " selected");
                buf_append_str(out, ">");
                ui_esc(out, *ch);
                buf_append_str(out, "</option>\n");
            }
            buf_append_str(out, "</select>\n");
        } else {
            buf_append_str(out, "<input type=\"text\" id=\"pk-");
            ui_esc(out, k->key);
            buf_append_str(out, "\" name=\"");
            ui_esc(out, k->key);
            buf_append_str(out, "\" spellcheck=\"false\" autocomplete=\"off\" maxlength=\"255\" "
                                "aria-describedby=\"pk-");
            ui_esc(out, k->key);
            buf_append_str(out,
                           k->invalid ? "-hint form-error\" aria-invalid=\"true\"" : "-hint\"");
            buf_append_str(out, " placeholder=\"");
            buf_append_str(out, v->app_scope ? "inherit" : "default");
            buf_append_str(out, "\" value=\"");
            ui_esc(out, current && strcmp(current, reset) != 0 ? current : "");
            buf_append_str(out, "\">\n");
        }
        buf_append_str(out, "</div>\n");
    }
    buf_append_str(out, "</div>\n<button type=\"submit\" class=\"button\">Save policy</button>\n"
                        "</form>\n");
}

void ui_admin_app(struct buf *out, const struct ui_admin_page *p, const struct ui_admin_app_view *v)
{
    struct ui_ctx c = admin_ctx(p);
    const struct ui_admin_app *a = v->app;
    admin_begin(out, &c, p, a->name);
    buf_append_str(out, "<p class=\"lead\">Client id <code>");
    ui_esc(out, a->id);
    buf_append_str(out, "</code>");
    if (v->created) {
        buf_append_str(out, ", registered ");
        ui_esc(out, v->created);
    }
    buf_append_str(out, ".</p>\n<p><a href=\"/admin/users?app=");
    ui_url_param(out, a->id);
    buf_printf(out, "\">%lld user%s</a>, %lld with a second factor", v->users,
               v->users == 1 ? "" : "s", v->with_factor);
    if (v->locked > 0) {
        buf_append_str(out, ", <a href=\"/admin/users?state=locked&amp;app=");
        ui_url_param(out, a->id);
        buf_printf(out, "\">%lld locked</a>", v->locked);
    }
    buf_append_str(out, ".</p>\n");

    buf_append_str(out, "<section aria-labelledby=\"details-h\">\n<h2 id=\"details-h\">Details"
                        "</h2>\n<form class=\"stack admin-narrow\" method=\"post\" action=\"");
    app_href(out, a->id, NULL);
    buf_append_str(out, "\">\n");
    ui_csrf(out, &c);
    struct buf uris;
    buf_init(&uris, 128 * 1024);
    if (v->form) {
        buf_append_str(&uris, v->form->uris ? v->form->uris : "");
    } else {
        for (size_t i = 0; i < a->uri_count; i++) {
            buf_append_str(&uris, a->uris[i]);
            buf_append_str(&uris, "\n");
        }
    }
    buf_append(&uris, "", 1);
    app_fields(out, v->form ? p : &(struct ui_admin_page){0},
               v->form && v->form->name ? v->form->name : a->name, uris.data);
    buf_free(&uris);
    buf_append_str(out, "<button type=\"submit\" class=\"button\">Save details</button>\n</form>\n"
                        "</section>\n");

    buf_append_str(out, "<section aria-labelledby=\"policy-h\">\n<h2 id=\"policy-h\">Policy</h2>"
                        "\n");
    policy_form(out, &c, v->policy);
    buf_append_str(out, "</section>\n");

    buf_append_str(out, "<section aria-labelledby=\"webhook-h\">\n<h2 id=\"webhook-h\">Webhook"
                        "</h2>\n<p>otpgate POSTs the app's users' security events (a factor "
                        "added or removed, a lock, a recovery code used …) to this URL, signed "
                        "as Standard Webhooks says. Empty: none.</p>\n<form class=\"stack "
                        "admin-narrow\" method=\"post\" action=\"");
    app_href(out, a->id, "/webhook");
    buf_append_str(out, "\">\n");
    ui_csrf(out, &c);
    buf_append_str(out, "<div class=\"field\"><label for=\"webhook_url\">Endpoint URL</label>"
                        "<input id=\"webhook_url\" name=\"webhook_url\" type=\"url\" "
                        "maxlength=\"2048\" autocomplete=\"off\" value=\"");
    ui_esc(out, v->webhook_url ? v->webhook_url : "");
    buf_append_str(out, "\"></div>\n<button type=\"submit\" class=\"button secondary\">Save "
                        "the webhook</button>\n</form>\n");
    if (v->webhook_url && v->webhook_url[0]) {
        buf_append_str(out, "<form method=\"post\" action=\"");
        app_href(out, a->id, "/webhook");
        buf_append_str(out, "\">\n");
        ui_csrf(out, &c);
        ui_hidden(out, "webhook_url", v->webhook_url);
        ui_hidden(out, "rotate", "1");
        buf_append_str(out, "<button type=\"submit\" class=\"button small secondary\">Make a "
                            "new signing secret</button>\n</form>\n");
    }
    buf_append_str(out, "</section>\n");

    buf_append_str(out, "<section aria-labelledby=\"secret-h\">\n<h2 id=\"secret-h\">Client "
                        "secret</h2>\n<p>The secret was shown once, when it was made. If it "
                        "leaked or was lost, make a new one: the old one stops working at once, "
                        "so update the app's settings right after.</p>\n<p><a class=\"button "
                        "secondary\" href=\"");
    app_href(out, a->id, "/rotate");
    buf_append_str(out, "\">Rotate the client secret</a></p>\n</section>\n");

    buf_append_str(out, "<section aria-labelledby=\"remove-h\">\n<h2 id=\"remove-h\">Remove</h2>"
                        "\n<p>Removing the application deletes its users with their factors and "
                        "recovery codes, and its policy. It cannot be undone.</p>\n<p><a "
                        "class=\"button danger-outline\" href=\"");
    app_href(out, a->id, "/remove");
    buf_append_str(out, "\">Remove this application</a></p>\n</section>\n");
    admin_end(out, &c);
}

void ui_admin_policy(struct buf *out, const struct ui_admin_page *p,
                     const struct ui_admin_policy_view *v, const char *const *app_names,
                     size_t app_count)
{
    struct ui_ctx c = admin_ctx(p);
    admin_begin(out, &c, p, "Global policy");
    buf_append_str(out, "<p class=\"lead\">The rules every application follows unless it has "
                        "its own setting (on the application's page). The same settings as "
                        "<code>otpgate policy set KEY=VALUE</code>.</p>\n");
    if (app_count > 0) {
        buf_append_str(out, "<p class=\"muted\">Applications with settings of their own: ");
        for (size_t i = 0; i < app_count; i++) {
            if (i)
                buf_append_str(out, ", ");
            ui_esc(out, app_names[i]);
        }
        buf_append_str(out, ".</p>\n");
    }
    policy_form(out, &c, v);
    admin_end(out, &c);
}

void ui_admin_app_secret(struct buf *out, const struct ui_admin_page *p,
                         const struct ui_admin_app *app, const char *secret, bool is_new)
{
    struct ui_ctx c = admin_ctx(p);
    admin_begin(out, &c, p, secret && is_new ? "Application registered" : "Client secret");
    if (!secret) {
        buf_append_str(out, "<p>The client secret of ");
        ui_esc(out, app->name);
        buf_append_str(out, " was shown once and cannot be shown again. If it was not saved, "
                            "rotate it to get a new one.</p>\n<p><a href=\"");
        app_href(out, app->id, NULL);
        buf_append_str(out, "\">Back to ");
        ui_esc(out, app->name);
        buf_append_str(out, "</a></p>\n");
        admin_end(out, &c);
        return;
    }
    buf_append_str(out, "<div class=\"alert warn\"><p>Copy the client secret now: it is shown "
                        "only this once and stored encrypted. Put both values into ");
    ui_esc(out, app->name);
    buf_append_str(out, "'s settings.</p></div>\n<dl class=\"admin-facts admin-secret\">\n"
                        "<dt>Client id</dt><dd><code class=\"secret\" id=\"client-id\">");
    ui_esc(out, app->id);
    buf_append_str(out, "</code></dd>\n<dt>Client secret</dt><dd><code class=\"secret\" "
                        "id=\"client-secret\">");
    ui_esc(out, secret);
    buf_append_str(out, "</code></dd>\n</dl>\n<p><a class=\"button\" href=\"");
    app_href(out, app->id, NULL);
    buf_append_str(out, "\">I have saved it</a></p>\n");
    admin_end(out, &c);
}

void ui_admin_webhook_secret(struct buf *out, const struct ui_admin_page *p,
                             const struct ui_admin_app *app, const char *secret)
{
    struct ui_ctx c = admin_ctx(p);
    admin_begin(out, &c, p, "Webhook signing secret");
    if (!secret) {
        buf_append_str(out, "<p>The webhook signing secret of ");
        ui_esc(out, app->name);
        buf_append_str(out, " was shown once and cannot be shown again. If it was not saved, "
                            "make a new one on the application's page.</p>\n");
    } else {
        buf_append_str(out, "<div class=\"alert warn\"><p>Copy the signing secret now: it is "
                            "shown only this once and stored encrypted. ");
        ui_esc(out, app->name);
        buf_append_str(out, " verifies every webhook with it.</p></div>\n<dl class=\"admin-facts "
                            "admin-secret\">\n<dt>Signing secret</dt><dd><code class=\"secret\" "
                            "id=\"webhook-secret\">");
        ui_esc(out, secret);
        buf_append_str(out, "</code></dd>\n</dl>\n");
    }
    buf_append_str(out, "<p><a class=\"button\" href=\"");
    app_href(out, app->id, NULL);
    buf_append_str(out, "\">Back to ");
    ui_esc(out, app->name);
    buf_append_str(out, "</a></p>\n");
    admin_end(out, &c);
}
