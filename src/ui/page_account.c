/* The account page (/account): the user's factors with their badges and
 * actions (a passkey also with its name, when it was added, and a rename
 * form), adding a factor, recovery codes, turning two-step verification
 * off and going back to the app. Every action is a small POST form, so the
 * page works without script; removing and turning off go through a
 * confirmation page the handler shows. */
#include "ui/layout.h"

#include <stdio.h>
#include <string.h>

#define RECOVERY_LOW 3 /* SPEC §4: at 3 or fewer unused, prompt a new set */

/* A hidden-from-sight suffix naming the factor, so "Remove" buttons read as
 * "Remove – Text message, +44 •••• 34" to a screen reader. */
static void button_target(struct buf *out, const struct ui_ctx *c, const struct ui_factor *f)
{
    buf_append_str(out, "<span class=\"visually-hidden\"> – ");
    ui_text(out, c, ui_factor_key(f->type));
    if (f->masked && f->masked[0]) {
        buf_append_str(out, ", ");
        ui_esc(out, f->masked);
    }
    buf_append_str(out, "</span>");
}

static void factor_action(struct buf *out, const struct ui_ctx *c, const struct ui_factor *f,
                          const char *action, const char *cls, const char *label_key)
{
    buf_append_str(out, "<form method=\"post\" action=\"");
    buf_append_str(out, action);
    buf_append_str(out, "\">\n");
    ui_csrf(out, c);
    ui_hidden(out, "factor_id", f->id);
    buf_append_str(out, "<button type=\"submit\" class=\"button small ");
    buf_append_str(out, cls);
    buf_append_str(out, "\">");
    ui_text(out, c, label_key);
    button_target(out, c, f);
    buf_append_str(out, "</button>\n</form>\n");
}

static void badge(struct buf *out, const struct ui_ctx *c, const char *cls, const char *key)
{
    buf_append_str(out, " <span class=\"badge ");
    buf_append_str(out, cls);
    buf_append_str(out, "\">");
    ui_text(out, c, key);
    buf_append_str(out, "</span>");
}

/* A passkey's "Rename": a disclosure with the name field, so it works
 * without script and takes no room until asked for. */
static void rename_form(struct buf *out, const struct ui_ctx *c, const struct ui_factor *f)
{
    buf_append_str(out, "<details class=\"rename\">\n<summary class=\"button small secondary\">");
    ui_text(out, c, "btn.rename");
    button_target(out, c, f);
    buf_append_str(out, "</summary>\n<form class=\"rename-form\" method=\"post\" "
                        "action=\"/account/rename\">\n");
    ui_csrf(out, c);
    ui_hidden(out, "factor_id", f->id);
    buf_append_str(out, "<div class=\"field\">\n<label for=\"name-");
    ui_esc(out, f->id);
    buf_append_str(out, "\">");
    ui_text(out, c, "field.passkey_name");
    buf_append_str(out, "</label>\n<input id=\"name-");
    ui_esc(out, f->id);
    buf_append_str(out, "\" name=\"name\" type=\"text\" maxlength=\"64\" required "
                        "autocomplete=\"off\" value=\"");
    ui_esc(out, f->masked);
    buf_append_str(out, "\">\n</div>\n<button type=\"submit\" class=\"button small\">");
    ui_text(out, c, "btn.save");
    buf_append_str(out, "</button>\n</form>\n</details>\n");
}

static void factor_item(struct buf *out, const struct ui_ctx *c, const struct ui_factor *f,
                        bool removable)
{
    bool passkey = f->type && strcmp(f->type, "webauthn") == 0;
    buf_append_str(out, "<li class=\"factor\">\n<div class=\"factor-main\">");
    ui_icon(out, f->type);
    buf_append_str(out, "<div class=\"factor-text\">\n<p class=\"factor-name\"><span>");
    ui_text(out, c, ui_factor_key(f->type));
    buf_append_str(out, "</span>");
    if (f->preferred)
        badge(out, c, "badge-accent", "badge.preferred");
    if (f->last_used)
        badge(out, c, "badge-plain", "badge.last_used");
    if (!f->active)
        badge(out, c, "badge-warn", "badge.pending");
    buf_append_str(out, "</p>\n");
    if (f->masked && f->masked[0]) {
        buf_append_str(out, "<p class=\"factor-detail\">");
        ui_esc_value(out, f->masked);
        buf_append_str(out, "</p>\n");
    }
    if (passkey && f->created_at && f->created_at[0]) {
        buf_append_str(out, "<p class=\"factor-meta\">");
        ui_textf(out, c, "account.added_at", f->created_at);
        buf_append_str(out, "</p>\n");
    }
    buf_append_str(out, "<p class=\"factor-meta\">");
    if (f->last_used_at && f->last_used_at[0])
        ui_textf(out, c, "account.last_used_at", f->last_used_at);
    else
        ui_text(out, c, "account.never_used");
    buf_append_str(out, "</p>\n</div>\n</div>\n<div class=\"factor-actions\">\n");
    if (f->active && !f->preferred)
        factor_action(out, c, f, "/account/preferred", "secondary", "btn.make_preferred");
    if (passkey)
        rename_form(out, c, f);
    if (removable)
        factor_action(out, c, f, "/account/remove", "danger-outline", "btn.remove");
    buf_append_str(out, "</div>\n</li>\n");
}

/* A method to add, named as everywhere else (factor.*). */
static void add_link(struct buf *out, const struct ui_ctx *c, const char *type)
{
    const char *key = ui_factor_key(type);
    char desc[32];
    snprintf(desc, sizeof(desc), "add.%s_desc", type);
    buf_append_str(out, "<li><a class=\"method\" href=\"/account/add/");
    buf_append_str(out, type);
    buf_append_str(out, "\">");
    ui_icon(out, type);
    buf_append_str(out, "<span class=\"method-text\"><span class=\"method-name\">");
    ui_text(out, c, key);
    buf_append_str(out, "</span><span class=\"method-detail\">");
    ui_text(out, c, desc);
    buf_append_str(out, "</span></span></a></li>\n");
}

static void recovery_section(struct buf *out, const struct ui_ctx *c, int left)
{
    char n[16];
    snprintf(n, sizeof(n), "%d", left);
    buf_append_str(out, "<section aria-labelledby=\"h-recovery\">\n<h2 id=\"h-recovery\">");
    ui_text(out, c, "account.recovery");
    buf_append_str(out, "</h2>\n");
    if (left <= RECOVERY_LOW) {
        buf_append_str(out, "<div class=\"alert warn\"><p>");
        ui_textf(out, c, "notice.recovery_low", n);
        buf_append_str(out, "</p></div>\n");
    }
    buf_append_str(out, "<p><strong>");
    ui_textf(out, c, "account.recovery_left", n);
    buf_append_str(out, "</strong></p>\n<p class=\"muted\">");
    ui_text(out, c, "account.recovery_hint");
    buf_append_str(out, "</p>\n<form method=\"post\" action=\"/account/recovery-codes\">\n");
    ui_csrf(out, c);
    buf_append_str(out, "<button type=\"submit\" class=\"button secondary\" "
                        "aria-describedby=\"new-codes-hint\">");
    ui_text(out, c, "btn.new_codes");
    buf_append_str(out, "</button>\n<p class=\"hint\" id=\"new-codes-hint\">");
    ui_text(out, c, "account.new_codes_hint");
    buf_append_str(out, "</p>\n</form>\n</section>\n");
}

static void forget_form(struct buf *out, const struct ui_ctx *c, const struct ui_device *d)
{
    buf_append_str(out, "<form method=\"post\" action=\"/account/devices/forget\">\n");
    ui_csrf(out, c);
    if (d)
        ui_hidden(out, "device_id", d->id);
    else
        ui_hidden(out, "all", "1");
    buf_append_str(out, d ? "<button type=\"submit\" class=\"button small danger-outline\">"
                          : "<button type=\"submit\" class=\"button secondary\">");
    ui_text(out, c, d ? "btn.forget" : "btn.forget_all");
    if (d) {
        buf_append_str(out, "<span class=\"visually-hidden\"> – ");
        ui_esc(out, d->summary);
        buf_append_str(out, "</span>");
    }
    buf_append_str(out, "</button>\n</form>\n");
}

static void devices_section(struct buf *out, const struct ui_ctx *c,
                            const struct ui_account_view *v)
{
    buf_append_str(out, "<section aria-labelledby=\"h-devices\">\n<h2 id=\"h-devices\">");
    ui_text(out, c, "account.devices");
    buf_append_str(out, "</h2>\n<p class=\"muted\">");
    ui_text(out, c, v->device_count ? "account.devices_hint" : "account.devices_none");
    buf_append_str(out, "</p>\n");
    if (v->device_count) {
        buf_append_str(out, "<ul class=\"factors\">\n");
        for (size_t i = 0; i < v->device_count; i++) {
            const struct ui_device *d = &v->devices[i];
            buf_append_str(out, "<li class=\"factor\">\n<div class=\"factor-main\">");
            ui_icon(out, "device");
            buf_append_str(out, "<div class=\"factor-text\">\n<p class=\"factor-name\"><span>");
            ui_esc(out, d->summary);
            buf_append_str(out, "</span>");
            if (d->current) {
                buf_append_str(out, " <span class=\"badge badge-accent\">");
                ui_text(out, c, "badge.this_device");
                buf_append_str(out, "</span>");
            }
            buf_append_str(out, "</p>\n<p class=\"factor-meta\">");
            ui_textf(out, c, "account.device_last_seen", d->last_seen);
            buf_append_str(out, "</p>\n<p class=\"factor-meta\">");
            ui_textf(out, c, "account.device_until", d->expires);
            buf_append_str(out, "</p>\n</div>\n</div>\n<div class=\"factor-actions\">\n");
            forget_form(out, c, d);
            buf_append_str(out, "</div>\n</li>\n");
        }
        buf_append_str(out, "</ul>\n");
        forget_form(out, c, NULL);
    }
    buf_append_str(out, "</section>\n");
}

void ui_page_account(struct buf *out, const struct ui_ctx *c, const struct ui_account_view *v)
{
    struct ui_layout l = {
        .title_key = "title.account",
        .back = "/account",
        .page = "page-account",
        .wide = true,
    };
    ui_layout_begin(out, c, &l);
    buf_append_str(out, "<p class=\"lead\">");
    ui_text(out, c, "account.intro");
    buf_append_str(out, "</p>\n");

    buf_append_str(out, "<section aria-labelledby=\"h-methods\">\n<h2 id=\"h-methods\">");
    ui_text(out, c, "account.methods");
    buf_append_str(out, "</h2>\n");
    if (v->factor_count == 0) {
        buf_append_str(out, "<p class=\"muted\">");
        ui_text(out, c, "account.none");
        buf_append_str(out, "</p>\n");
    } else {
        /* Under a mandatory policy the last active factor stays: removing
         * it would leave nothing to sign in with. */
        size_t active = 0;
        for (size_t i = 0; i < v->factor_count; i++)
            active += v->factors[i].active;
        buf_append_str(out, "<ul class=\"factors\">\n");
        for (int rank = 0; rank < UI_METHOD_RANKS; rank++)
            for (size_t i = 0; i < v->factor_count; i++)
                if (ui_method_rank(v->factors[i].type) == rank)
                    factor_item(out, c, &v->factors[i],
                                !(v->mandatory && active == 1 && v->factors[i].active));
        buf_append_str(out, "</ul>\n");
        if (v->mandatory && active == 1) {
            buf_append_str(out, "<p class=\"muted\">");
            ui_text(out, c, "account.keep_one");
            buf_append_str(out, "</p>\n");
        }
    }
    buf_append_str(out, "</section>\n");

    if (v->can_sms || v->can_email || v->can_totp || v->can_passkey) {
        buf_append_str(out, "<section aria-labelledby=\"h-add\">\n<h2 id=\"h-add\">");
        ui_text(out, c, "account.add");
        buf_append_str(out, "</h2>\n<ul class=\"methods\">\n");
        if (v->can_passkey)
            add_link(out, c, "webauthn");
        if (v->can_totp)
            add_link(out, c, "totp");
        if (v->can_sms)
            add_link(out, c, "sms");
        if (v->can_email)
            add_link(out, c, "email");
        buf_append_str(out, "</ul>\n</section>\n");
    }

    if (v->recovery_left >= 0)
        recovery_section(out, c, v->recovery_left);

    if (v->show_devices || v->device_count)
        devices_section(out, c, v);

    if (v->factor_count > 0 && !v->mandatory) {
        buf_append_str(out, "<section aria-labelledby=\"h-disable\">\n<h2 id=\"h-disable\">");
        ui_text(out, c, "account.disable");
        buf_append_str(out, "</h2>\n<p class=\"muted\">");
        ui_text(out, c, "account.disable_hint");
        buf_append_str(out, "</p>\n<form method=\"post\" action=\"/account/disable\">\n");
        ui_csrf(out, c);
        buf_append_str(out, "<button type=\"submit\" class=\"button danger-outline\">");
        ui_text(out, c, "btn.turn_off");
        buf_append_str(out, "</button>\n</form>\n</section>\n");
    }

    if (v->back_to_app) {
        buf_append_str(out, "<form class=\"done\" method=\"post\" action=\"/account/done\">\n");
        ui_csrf(out, c);
        buf_append_str(out, "<button type=\"submit\">");
        if (c->app_name && c->app_name[0])
            ui_textf(out, c, "btn.back_to_app", c->app_name);
        else
            ui_text(out, c, "btn.back_to_app_generic");
        buf_append_str(out, "</button>\n</form>\n");
    }
    ui_layout_end(out, c);
}
