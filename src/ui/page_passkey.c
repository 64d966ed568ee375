/* Adding a passkey or security key (/account/add/webauthn): what a passkey
 * is, an optional name, and the button passkey.js turns into the
 * registration ceremony. Renders only; the handler opened the ceremony.
 * Without JavaScript or WebAuthn the page says so and points back. */
#include "ui/layout.h"

void ui_page_passkey(struct buf *out, const struct ui_ctx *c, const struct ui_passkey_view *v)
{
    struct ui_layout l = {
        .title_key = "add.webauthn",
        .back = "/account/add/webauthn",
        .page = "page-passkey",
        .extra_js = "passkey.js",
    };
    ui_layout_begin(out, c, &l);
    buf_append_str(out, "<p class=\"lead\">");
    if (v->phr && c->app_name && c->app_name[0])
        ui_textf(out, c, "enrol.phr_app", c->app_name);
    else
        ui_text(out, c, "passkey.intro");
    buf_append_str(out, "</p>\n");
    ui_passkey_notes(out, c, "passkey.needs_js_add", "passkey.unsupported_add");
    buf_append_str(out, "<form class=\"stack\" method=\"post\" action=\"/account/add/webauthn\" "
                        "data-passkey=\"create\" data-options=\"");
    ui_esc(out, v->options);
    buf_append_str(out, "\"");
    ui_passkey_messages(out, c);
    buf_append_str(out, ">\n");
    ui_csrf(out, c);
    ui_hidden(out, "challenge_id", v->challenge_id);
    ui_hidden(out, "credential", "");
    buf_append_str(out, "<div class=\"field\">\n<label for=\"passkey-name\">");
    ui_text(out, c, "passkey.name");
    buf_append_str(out, "</label>\n<p class=\"hint\" id=\"passkey-name-hint\">");
    ui_text(out, c, "passkey.name_hint");
    buf_append_str(out, "</p>\n<input id=\"passkey-name\" name=\"name\" type=\"text\" "
                        "maxlength=\"64\" autocomplete=\"off\" "
                        "aria-describedby=\"passkey-name-hint\">\n</div>\n"
                        "<button type=\"submit\" data-passkey-button hidden>");
    ui_text(out, c, "btn.create_passkey");
    buf_append_str(out, "</button>\n<div class=\"passkey-status\" role=\"alert\"></div>\n"
                        "</form>\n<p class=\"actions\"><a class=\"button link\" href=\"");
    ui_esc(out, v->cancel && v->cancel[0] ? v->cancel : "/account");
    buf_append_str(out, "\">");
    ui_text(out, c, "btn.cancel");
    buf_append_str(out, "</a></p>\n");
    ui_layout_end(out, c);
}
