/* The enrolment offer inside a login (SPEC §5): the factor types the policy
 * allows, as links to the binding pages (only a passkey when the app asks
 * for one), and "Skip for now" when the policy is optional. Renders only; the handler tracks the
 * offer. */
#include "ui/layout.h"

/* A method to add, named as everywhere else (factor.*). */
static void choice(struct buf *out, const struct ui_ctx *c, const char *type, const char *desc_key)
{
    const char *name_key = ui_factor_key(type);
    buf_append_str(out, "<li><a class=\"method\" href=\"/account/add/");
    buf_append_str(out, type);
    buf_append_str(out, "\">");
    ui_icon(out, type);
    buf_append_str(out, "<span class=\"method-text\"><span class=\"method-name\">");
    ui_text(out, c, name_key);
    buf_append_str(out, "</span><span class=\"method-detail\">");
    ui_text(out, c, desc_key);
    buf_append_str(out, "</span></span></a></li>\n");
}

void ui_page_enrol(struct buf *out, const struct ui_ctx *c, bool mandatory, bool can_sms,
                   bool can_email, bool can_totp, bool can_passkey, bool phr)
{
    /* Only a passkey passes this sign-in: nothing else is offered. */
    if (phr) {
        can_sms = can_email = can_totp = false;
        mandatory = true;
    }
    struct ui_layout l = {
        .title_key = mandatory ? "title.enrol_required" : "title.enrol",
        .back = "/enrol",
        .page = "page-enrol",
    };
    ui_layout_begin(out, c, &l);
    buf_append_str(out, "<p class=\"lead\">");
    if (phr && c->app_name && c->app_name[0])
        ui_textf(out, c, "enrol.phr_app", c->app_name);
    else if (phr)
        ui_text(out, c, "enrol.phr");
    else if (!mandatory)
        ui_text(out, c, "enrol.intro");
    else if (c->app_name && c->app_name[0])
        ui_textf(out, c, "enrol.required_app", c->app_name);
    else
        ui_text(out, c, "enrol.required");
    buf_append_str(out, "</p>\n");
    if (can_sms || can_email || can_totp || can_passkey) {
        buf_append_str(out, "<h2>");
        ui_text(out, c, "enrol.choose");
        buf_append_str(out, "</h2>\n<ul class=\"methods\">\n");
        /* The order of every method list (ui_method_rank). */
        if (can_passkey)
            choice(out, c, "webauthn", "add.webauthn_desc");
        if (can_totp)
            choice(out, c, "totp", "add.totp_desc");
        if (can_sms)
            choice(out, c, "sms", "add.sms_desc");
        if (can_email)
            choice(out, c, "email", "add.email_desc");
        buf_append_str(out, "</ul>\n");
    } else {
        buf_append_str(out, "<p>");
        ui_text(out, c, "enrol.none");
        buf_append_str(out, "</p>\n");
    }
    if (!mandatory) {
        buf_append_str(out, "<form class=\"skip\" method=\"post\" action=\"/enrol/skip\">\n");
        ui_csrf(out, c);
        buf_append_str(out, "<button type=\"submit\" class=\"button secondary\" "
                            "aria-describedby=\"skip-hint\">");
        ui_text(out, c, "btn.skip");
        buf_append_str(out, "</button>\n<p class=\"hint\" id=\"skip-hint\">");
        ui_text(out, c, "enrol.skip_hint");
        buf_append_str(out, "</p>\n</form>\n");
    }
    ui_layout_end(out, c);
}
