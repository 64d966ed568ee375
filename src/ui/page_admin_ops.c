/* The console's operations pages: the delivery log with its filters and a
 * message's own page, branding (one multipart form with the logo upload),
 * admin accounts with the console's recent actions, and the signed-in
 * admin's password. */
#include "ui/page_admin_parts.h"

#include <stdio.h>
#include <string.h>

static const char *const channel_options[] = {"",      "Any channel", "sms",     "Text message",
                                              "email", "Email",       "webhook", "Webhook"};
static const char *const dstate_options[] = {"",        "Any state", "queued", "Queued", "sending",
                                             "Sending", "sent",      "Sent",   "failed", "Failed"};

static const char *state_badge(const char *state)
{
    return strcmp(state, "failed") == 0 ? "badge-danger"
           : strcmp(state, "sent") == 0 ? "badge-accent"
                                        : "badge-plain";
}

void ui_admin_deliveries(struct buf *out, const struct ui_admin_page *p,
                         const struct ui_admin_deliveries_view *v)
{
    struct ui_ctx c = admin_ctx(p);
    admin_begin(out, &c, p, "Delivery log");
    buf_append_str(out, "<form class=\"admin-filters\" method=\"get\" action=\"/admin/deliveries\" "
                        "aria-label=\"Filter messages\">\n");
    admin_select(out, "channel", "Channel", channel_options, ARRAY_SIZE(channel_options) / 2,
                 v->channel, NULL);
    admin_select(out, "state", "State", dstate_options, ARRAY_SIZE(dstate_options) / 2, v->state,
                 NULL);
    admin_app_select(out, v->apps, v->app_count, v->app_id);
    buf_append_str(out, "<div class=\"filter-go\"><button type=\"submit\" class=\"button\">Filter"
                        "</button></div>\n</form>\n");
    if (v->count == 0) {
        buf_append_str(out, "<p>No messages.</p>\n");
    } else {
        buf_printf(out,
                   "<p class=\"lead\">%zu message%s, newest first. Codes are never shown: "
                   "answers have them blanked. Open a row for the provider's request and "
                   "answer.</p>\n",
                   v->count, v->count == 1 ? "" : "s");
        static const char *const heads[] = {"Time",  "Application", "Channel",  "To",
                                            "State", "Attempts",    "Provider", "Provider answer"};
        admin_table_begin(out, "Delivery log", heads, ARRAY_SIZE(heads));
        for (size_t i = 0; i < v->count; i++) {
            const struct ui_admin_delivery *d = &v->rows[i];
            buf_append_str(out, "<tr>");
            admin_row_head_open(out, heads[0]);
            buf_append_str(out, "<a href=\"");
            ui_esc(out, d->href);
            buf_append_str(out, "\">");
            ui_esc(out, d->time);
            buf_append_str(out, "</a></th>");
            admin_cell(out, heads[1], d->app);
            admin_cell(out, heads[2], d->channel);
            admin_cell(out, heads[3], d->masked);
            admin_cell_open(out, heads[4]);
            admin_badge(out, state_badge(d->state), d->state);
            buf_append_str(out, "</div></td>");
            admin_cell_open(out, heads[5]);
            buf_printf(out, "%lld</div></td>", d->attempts);
            admin_cell(out, heads[6], d->provider);
            admin_code_cell(out, heads[7], d->answer);
            buf_append_str(out, "</tr>\n");
        }
        admin_table_end(out);
    }
    admin_pager(out, "Pages of messages", v->newer_href, "Newest messages", NULL, v->older_href,
                "Older messages");
    admin_end(out, &c);
}

static void fact(struct buf *out, const char *name, const char *value)
{
    if (!value || !value[0])
        return;
    buf_append_str(out, "<dt>");
    ui_esc(out, name);
    buf_append_str(out, "</dt><dd>");
    ui_esc(out, value);
    buf_append_str(out, "</dd>\n");
}

void ui_admin_delivery(struct buf *out, const struct ui_admin_page *p,
                       const struct ui_admin_delivery_view *v)
{
    struct ui_ctx c = admin_ctx(p);
    char title[64];
    snprintf(title, sizeof(title), "Message %s", v->id);
    admin_begin(out, &c, p, title);
    const struct ui_admin_delivery *d = v->d;
    buf_append_str(out, "<p class=\"lead\"><a href=\"/admin/deliveries\">Delivery log</a></p>\n"
                        "<dl class=\"admin-facts\">\n");
    fact(out, "Created", d->time);
    fact(out, "Application", d->app);
    fact(out, "Channel", d->channel);
    fact(out, "To", d->masked);
    buf_append_str(out, "<dt>State</dt><dd>");
    admin_badge(out, state_badge(d->state), d->state);
    buf_printf(out, "</dd>\n<dt>Attempts</dt><dd>%lld</dd>\n", d->attempts);
    fact(out, "Sent", v->sent);
    fact(out, "Next try", v->next_try);
    fact(out, "Provider", d->provider);
    fact(out, "Provider's message id", v->provider_id);
    fact(out, "Message id", v->msg_id);
    fact(out, "Language", v->locale);
    buf_append_str(out, "</dl>\n");
    if (v->fallback_href) {
        buf_append_str(out, "<p>This e-mail stands in for a text message that failed: <a href=\"");
        ui_esc(out, v->fallback_href);
        buf_append_str(out, "\">the text message</a>.</p>\n");
    }
    buf_append_str(out, "<section>\n<h2 id=\"request-h\">Request</h2>\n");
    if (v->request_note) {
        buf_append_str(out, "<p class=\"hint\">");
        ui_esc(out, v->request_note);
        buf_append_str(out, "</p>\n");
    }
    if (v->request) {
        buf_append_str(out, "<pre class=\"admin-pre\" tabindex=\"0\" role=\"region\" "
                            "aria-labelledby=\"request-h\">");
        ui_esc(out, v->request);
        buf_append_str(out, "</pre>\n");
    }
    buf_append_str(out, "</section>\n<section>\n<h2 id=\"answer-h\">Answer</h2>\n");
    if (v->answer && v->answer[0]) {
        buf_append_str(out, "<pre class=\"admin-pre\" tabindex=\"0\" role=\"region\" "
                            "aria-labelledby=\"answer-h\">");
        ui_esc(out, v->answer);
        buf_append_str(out, "</pre>\n");
    } else {
        buf_append_str(out, "<p class=\"muted\">No answer yet.</p>\n");
    }
    buf_append_str(out, "</section>\n");
    admin_end(out, &c);
}

void ui_admin_brand(struct buf *out, const struct ui_admin_page *p,
                    const struct ui_admin_brand_view *v)
{
    struct ui_ctx c = admin_ctx(p);
    admin_begin(out, &c, p, "Branding");
    buf_append_str(out, "<p class=\"lead\">How the pages your users see look. The same settings as "
                        "<code>otpgate brand set</code>; an empty field goes back to the "
                        "default.</p>\n<form class=\"stack admin-narrow\" method=\"post\" "
                        "action=\"/admin/brand\" enctype=\"multipart/form-data\">\n");
    ui_csrf(out, &c);
    bool bad = v->invalid != NULL;
    admin_input(out, "name", "Product name", "text", v->name,
                "In every page's header and title; at most 64 characters. Default: otpgate.",
                bad && strcmp(v->invalid, "name") == 0, "maxlength=\"64\" autocomplete=\"off\"");
    admin_input(out, "accent", "Accent colour", "text", v->accent,
                "Buttons and links, as #rgb or #rrggbb, such as #0a7f5a. Text on buttons "
                "turns dark or light to stay readable.",
                bad && strcmp(v->invalid, "accent") == 0,
                "maxlength=\"7\" autocomplete=\"off\" spellcheck=\"false\" "
                "pattern=\"#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})\"");
    admin_input(out, "support", "Support contact", "text", v->support,
                "Told to a user who is locked out, such as help@example.com or a phone number; "
                "at most 200 characters. Default: your administrator.",
                bad && strcmp(v->invalid, "support") == 0,
                "maxlength=\"200\" autocomplete=\"off\"");
    buf_append_str(out, "<fieldset class=\"admin-logo\">\n<legend>Logo</legend>\n<div "
                        "class=\"logo-now\"><img src=\"");
    ui_esc(out, v->logo && v->logo[0] ? v->logo : "/static/img/logo.svg");
    buf_append_str(out,
                   "\" alt=\"The logo now\" width=\"48\" height=\"48\"><span class=\"muted\">");
    if (v->logo && v->logo[0] && v->uploaded)
        buf_append_str(out, "An uploaded file");
    else if (v->logo && v->logo[0]) {
        buf_append_str(out, "<code>");
        ui_esc(out, v->logo);
        buf_append_str(out, "</code>");
    } else
        buf_append_str(out, "The built-in logo");
    buf_append_str(out, "</span></div>\n");
    char hint[256];
    snprintf(hint, sizeof(hint),
             "PNG, JPEG, WebP or SVG (without scripts), square, at most %lu KiB here; larger "
             "files with otpgate brand set logo=FILE.",
             v->upload_max_kib);
    admin_input(out, "logo", "Upload a new logo", "file", NULL, hint,
                bad && strcmp(v->invalid, "logo") == 0,
                "accept=\"image/png,image/jpeg,image/webp,image/svg+xml\"");
    if (v->logo && v->logo[0])
        buf_append_str(out, "<div class=\"check\"><input type=\"checkbox\" id=\"logo_reset\" "
                            "name=\"logo_reset\" value=\"1\">\n<label for=\"logo_reset\">Use the "
                            "built-in logo again</label></div>\n");
    buf_append_str(out, "</fieldset>\n<button type=\"submit\" class=\"button\">Save branding"
                        "</button>\n</form>\n");
    admin_end(out, &c);
}

static void password_fields(struct buf *out, bool invalid, const char *label)
{
    admin_input(out, "password", label, "password", NULL, "At least 12 characters.", invalid,
                "autocomplete=\"new-password\" minlength=\"12\" maxlength=\"1024\" required");
    admin_input(out, "password2", "Repeat the password", "password", NULL, NULL, invalid,
                "autocomplete=\"new-password\" minlength=\"12\" maxlength=\"1024\" required");
}

void ui_admin_admins(struct buf *out, const struct ui_admin_page *p,
                     const struct ui_admin_admins_view *v)
{
    struct ui_ctx c = admin_ctx(p);
    admin_begin(out, &c, p, "Admins");
    static const char *const heads[] = {"Username",         "Added",    "Last sign-in",
                                        "Password changed", "Sessions", ""};
    admin_table_begin(out, "Admin accounts", heads, ARRAY_SIZE(heads));
    for (size_t i = 0; i < v->count; i++) {
        const struct ui_admin_account *a = &v->accounts[i];
        buf_append_str(out, "<tr>");
        admin_row_head_open(out, heads[0]);
        ui_esc(out, a->username);
        if (a->self)
            buf_append_str(out, " <span class=\"badge badge-accent\">you</span>");
        buf_append_str(out, "</th>");
        admin_cell(out, heads[1], a->created);
        admin_cell(out, heads[2], a->last_login ? a->last_login : "never");
        admin_cell(out, heads[3], a->password_changed);
        admin_cell_open(out, heads[4]);
        buf_printf(out, "%lld</div></td>", a->sessions);
        admin_cell_open(out, "Action");
        if (a->self) {
            buf_append_str(out, "<a href=\"/admin/account\">Change your password</a>");
        } else if (a->remove_href) {
            buf_append_str(out, "<a class=\"button small danger-outline\" href=\"");
            ui_esc(out, a->remove_href);
            buf_append_str(out, "\">Remove<span class=\"visually-hidden\"> ");
            ui_esc(out, a->username);
            buf_append_str(out, "</span></a>");
        }
        buf_append_str(out, "</div></td></tr>\n");
    }
    admin_table_end(out);

    buf_append_str(out, "<section aria-labelledby=\"add-h\">\n<h2 id=\"add-h\">Add an admin</h2>"
                        "\n<form class=\"stack admin-narrow\" method=\"post\" "
                        "action=\"/admin/admins\">\n");
    ui_csrf(out, &c);
    bool bad = v->invalid != NULL;
    admin_input(out, "username", "Username", "text", v->username,
                "1 to 64 characters of A-Z a-z 0-9 . _ @ -",
                bad && strcmp(v->invalid, "username") == 0,
                "required maxlength=\"64\" autocomplete=\"off\" autocapitalize=\"none\" "
                "spellcheck=\"false\"");
    password_fields(out, bad && strcmp(v->invalid, "password") == 0, "Password");
    buf_append_str(out, "<button type=\"submit\" class=\"button\">Add admin</button>\n</form>\n"
                        "</section>\n");

    buf_append_str(out, "<section aria-labelledby=\"activity-h\">\n<h2 id=\"activity-h\">Recent "
                        "console activity</h2>\n");
    if (v->event_count == 0)
        buf_append_str(out, "<p class=\"muted\">Nothing yet.</p>\n");
    else
        admin_events_table(out, "Console activity", v->events, v->event_count);
    buf_append_str(out, "</section>\n");
    admin_end(out, &c);
}

void ui_admin_account(struct buf *out, const struct ui_admin_page *p, const char *invalid)
{
    struct ui_ctx c = admin_ctx(p);
    admin_begin(out, &c, p, "Your account");
    buf_append_str(out, "<p class=\"lead\">Signed in as <strong>");
    ui_esc(out, p->admin);
    buf_append_str(out, "</strong>. A new password ends your other console sessions; this one "
                        "stays.</p>\n<form class=\"stack admin-narrow\" method=\"post\" "
                        "action=\"/admin/account\">\n");
    ui_csrf(out, &c);
    admin_input(out, "current", "Current password", "password", NULL, NULL,
                invalid && strcmp(invalid, "current") == 0,
                "autocomplete=\"current-password\" maxlength=\"1024\" required");
    password_fields(out, invalid && strcmp(invalid, "password") == 0, "New password");
    buf_append_str(out, "<button type=\"submit\" class=\"button\">Change password</button>\n"
                        "</form>\n");
    admin_end(out, &c);
}
