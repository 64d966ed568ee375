/* The second step (/challenge): opens on the factor the handler chose,
 * sends a code only on an explicit "Send code", takes the code (or runs a
 * passkey through passkey.js), and offers the other factors, a recovery
 * code and cancelling. Renders only; the handler decides which factor is
 * current and whether a code is out. */
#include "ui/layout.h"

#include <stdio.h>
#include <string.h>

static bool is_sent_type(const char *type)
{
    return type && (strcmp(type, "sms") == 0 || strcmp(type, "email") == 0);
}

static void method_link(struct buf *out, const struct ui_ctx *c, const struct ui_factor *f)
{
    buf_append_str(out, "<li><a class=\"method\" href=\"/challenge?factor=");
    ui_url_param(out, f->id);
    buf_append_str(out, "\">");
    ui_icon(out, f->type);
    ui_factor_label(out, c, f);
    buf_append_str(out, "</a></li>\n");
}

/* "Try another way": the factors the user is not on now and the recovery
 * path, as plain links (GET), so it works without script. */
static void other_ways(struct buf *out, const struct ui_ctx *c, const struct ui_challenge_view *v)
{
    bool back_to_current = v->recovery && v->current;
    bool recovery_link = v->recovery_allowed && !v->recovery;
    if (!back_to_current && v->other_count == 0 && !recovery_link)
        return;
    buf_append_str(out, "<details class=\"other-ways\"");
    if (!v->current && !v->recovery)
        buf_append_str(out, " open");
    buf_append_str(out, ">\n<summary>");
    ui_text(out, c, "challenge.other");
    buf_append_str(out, "</summary>\n<ul class=\"methods\">\n");
    if (back_to_current)
        method_link(out, c, v->current);
    for (int rank = 0; rank < UI_METHOD_RANKS; rank++)
        for (size_t i = 0; i < v->other_count; i++)
            if (ui_method_rank(v->others[i].type) == rank)
                method_link(out, c, &v->others[i]);
    if (recovery_link) {
        buf_append_str(out, "<li><a class=\"method\" href=\"/challenge?method=recovery\">");
        ui_icon(out, "recovery");
        buf_append_str(out, "<span class=\"method-text\"><span class=\"method-name\">");
        ui_text(out, c, "challenge.use_recovery");
        buf_append_str(out, "</span></span></a></li>\n");
    }
    buf_append_str(out, "</ul>\n</details>\n");
}

static void remember_box(struct buf *out, const struct ui_ctx *c, int remember_days)
{
    if (remember_days > 0) {
        char n[16];
        snprintf(n, sizeof(n), "%d", remember_days);
        buf_append_str(out, "<div class=\"check\"><input type=\"checkbox\" id=\"remember\" "
                            "name=\"remember\" value=\"1\"><label for=\"remember\">");
        ui_textf(out, c, remember_days == 1 ? "challenge.remember_one" : "challenge.remember", n);
        buf_append_str(out, "</label></div>\n");
    }
}

static void verify_form(struct buf *out, const struct ui_ctx *c, const struct ui_factor *f,
                        int remember_days)
{
    buf_append_str(out, "<form class=\"stack\" method=\"post\" action=\"/challenge/verify\">\n");
    ui_csrf(out, c);
    ui_hidden(out, "factor_id", f->id);
    ui_code_field(out, c, true);
    remember_box(out, c, remember_days);
    buf_append_str(out, "<button type=\"submit\">");
    ui_text(out, c, "btn.verify");
    buf_append_str(out, "</button>\n</form>\n");
}

/* "Use your passkey": passkey.js runs navigator.credentials.get with the
 * options and posts the answer; without script or WebAuthn the page says
 * so, and "Try another way" below stays. */
static void passkey_form(struct buf *out, const struct ui_ctx *c, const struct ui_challenge_view *v)
{
    buf_append_str(out, "<p>");
    ui_text(out, c, "challenge.passkey");
    buf_append_str(out, "</p>\n");
    ui_passkey_notes(out, c, "passkey.needs_js", "passkey.unsupported");
    buf_append_str(out, "<form class=\"stack\" method=\"post\" action=\"/challenge/passkey\" "
                        "data-passkey=\"get\" data-options=\"");
    ui_esc(out, v->passkey_options);
    buf_append_str(out, "\"");
    ui_passkey_messages(out, c);
    buf_append_str(out, ">\n");
    ui_csrf(out, c);
    ui_hidden(out, "challenge_id", v->passkey_id);
    ui_hidden(out, "factor_id", v->current->id);
    ui_hidden(out, "credential", "");
    remember_box(out, c, v->remember_days);
    buf_append_str(out, "<button type=\"submit\" data-passkey-button hidden>");
    ui_text(out, c, "btn.use_passkey");
    buf_append_str(out,
                   "</button>\n<div class=\"passkey-status\" role=\"alert\"></div>\n</form>\n");
}

static void current_factor(struct buf *out, const struct ui_ctx *c,
                           const struct ui_challenge_view *v)
{
    const struct ui_factor *f = v->current;
    bool sent_type = is_sent_type(f->type);
    buf_append_str(out, "<div class=\"method current\">");
    ui_icon(out, f->type);
    ui_factor_label(out, c, f);
    buf_append_str(out, "</div>\n");
    if (strcmp(f->type, "webauthn") == 0 && v->passkey_id && v->passkey_options) {
        passkey_form(out, c, v);
        return;
    }
    buf_append_str(out, "<p>");
    if (!sent_type)
        ui_text(out, c, "challenge.totp");
    else if (v->code_sent)
        ui_textf(out, c, "code.sent_to", f->masked);
    else
        ui_textf(out, c,
                 strcmp(f->type, "sms") == 0 ? "challenge.send_sms" : "challenge.send_email",
                 f->masked);
    buf_append_str(out, "</p>\n");

    if (sent_type && !v->code_sent) {
        buf_append_str(out, "<form method=\"post\" action=\"/challenge/send\">\n");
        ui_csrf(out, c);
        ui_hidden(out, "factor_id", f->id);
        buf_append_str(out, "<button type=\"submit\">");
        ui_text(out, c, "btn.send_code");
        buf_append_str(out, "</button>\n</form>\n");
        return;
    }
    verify_form(out, c, f, v->remember_days);
    if (sent_type) {
        ui_resend_form(out, c, "/challenge/send", f->id, v->resend_after);
        buf_append_str(out, "<p class=\"hint\">");
        ui_text(out, c, "code.didnt_get");
        buf_append_str(out, "</p>\n");
        ui_dev_outbox_hint(out, c);
    }
}

static void recovery_form(struct buf *out, const struct ui_ctx *c)
{
    buf_append_str(out, "<p>");
    ui_text(out, c, "challenge.recovery");
    buf_append_str(out, "</p>\n<form class=\"stack\" method=\"post\" "
                        "action=\"/challenge/recovery\">\n");
    ui_csrf(out, c);
    ui_code_field(out, c, false);
    buf_append_str(out, "<button type=\"submit\">");
    ui_text(out, c, "btn.verify");
    buf_append_str(out, "</button>\n</form>\n");
}

void ui_page_challenge(struct buf *out, const struct ui_ctx *c, const struct ui_challenge_view *v)
{
    struct buf back;
    buf_init(&back, 1024);
    buf_append_str(&back, "/challenge");
    if (v->recovery || v->locked) {
        buf_append_str(&back, "?method=recovery");
    } else if (v->current && v->current->id) {
        buf_append_str(&back, "?factor=");
        ui_url_param(&back, v->current->id);
    }
    struct ui_layout l = {
        .title_key = v->stepup ? "title.stepup" : "title.challenge",
        .back = back.data,
        .page = "page-challenge",
        .extra_js = v->passkey_id ? "passkey.js" : NULL,
    };
    ui_layout_begin(out, c, &l);
    buf_free(&back);

    buf_append_str(out, "<p class=\"lead\">");
    if (v->stepup)
        ui_text(out, c, "challenge.intro_stepup");
    else if (c->app_name && c->app_name[0])
        ui_textf(out, c, "challenge.intro_app", c->app_name);
    else
        ui_text(out, c, "challenge.intro");
    buf_append_str(out, "</p>\n");
    if (v->phr && !v->locked) {
        buf_append_str(out, "<p>");
        if (c->app_name && c->app_name[0])
            ui_textf(out, c, "challenge.phr_app", c->app_name);
        else
            ui_text(out, c, "challenge.phr");
        buf_append_str(out, "</p>\n");
    }

    if (v->locked) {
        /* Locked: nothing but the way out, and who can help. */
        buf_append_str(out, "<div class=\"alert error\" role=\"alert\"><p>");
        ui_text(out, c, "challenge.locked");
        buf_append_str(out, "</p></div>\n");
        if (v->recovery_allowed)
            recovery_form(out, c);
        buf_append_str(out, "<p>");
        if (c->brand_support && c->brand_support[0])
            ui_textf(out, c,
                     v->recovery_allowed ? "challenge.locked_contact" : "body.locked_contact",
                     c->brand_support);
        else
            ui_text(out, c, v->recovery_allowed ? "challenge.locked_admin" : "body.locked_admin");
        buf_append_str(out, "</p>\n");
    } else if (v->recovery) {
        recovery_form(out, c);
    } else if (v->current) {
        current_factor(out, c, v);
    } else {
        buf_append_str(out, "<p>");
        ui_text(out, c, v->recovery_allowed ? "challenge.none_left" : "challenge.none_left_admin");
        buf_append_str(out, "</p>\n");
    }
    if (!v->locked)
        other_ways(out, c, v);

    buf_append_str(out, "<form class=\"cancel\" method=\"post\" action=\"/challenge/cancel\">\n");
    ui_csrf(out, c);
    buf_append_str(out, "<button type=\"submit\" class=\"button link\">");
    ui_text(out, c, "btn.cancel");
    buf_append_str(out, "</button>\n</form>\n");
    ui_layout_end(out, c);
}
