/* Adding an authenticator app (/account/add/totp): the QR code, the setup
 * key for typing or copying, and the code that proves the app has it. The
 * secret is on this page only; nothing here stores or logs it. */
#include "ui/layout.h"

void ui_page_totp(struct buf *out, const struct ui_ctx *c, const char *qr_svg,
                  const char *secret_groups, const char *factor_id)
{
    struct ui_layout l = {
        .title_key = "add.totp",
        .back = "/account/add/totp",
        .page = "page-totp",
    };
    ui_layout_begin(out, c, &l);
    buf_append_str(out, "<ol class=\"steps\">\n<li><p>");
    ui_text(out, c, "totp.step1");
    buf_append_str(out, "</p></li>\n<li>");
    if (qr_svg && qr_svg[0]) {
        buf_append_str(out, "<p>");
        ui_text(out, c, "totp.step2");
        /* Markup from ui_qr_svg: generated, not user text. */
        buf_append_str(out, "</p>\n<div class=\"qr\">");
        buf_append_str(out, qr_svg);
        buf_append_str(out, "</div>\n");
    }
    buf_append_str(out, "<p>");
    ui_text(out, c, "totp.cant_scan");
    buf_append_str(out,
                   "</p>\n<div class=\"secret-row\"><code class=\"secret\" id=\"totp-secret\">");
    ui_esc(out, secret_groups);
    buf_append_str(out, "</code><button type=\"button\" class=\"button small secondary\" "
                        "data-copy=\"totp-secret\" data-copy-compact data-js-only data-done=\"");
    ui_text(out, c, "recovery.copied");
    buf_append_str(out, "\" data-failed=\"");
    ui_text(out, c, "recovery.copy_failed");
    buf_append_str(out, "\" hidden>");
    ui_text(out, c, "btn.copy");
    buf_append_str(out, "<span class=\"visually-hidden\"> – ");
    ui_text(out, c, "totp.key_label");
    buf_append_str(out, "</span></button></div>\n<div class=\"js-status\" role=\"status\"></div>\n"
                        "</li>\n<li><p>");
    ui_text(out, c, "totp.step3");
    buf_append_str(out,
                   "</p>\n<form class=\"stack\" method=\"post\" action=\"/account/verify\">\n");
    ui_csrf(out, c);
    ui_hidden(out, "factor_id", factor_id);
    ui_code_field(out, c, true);
    buf_append_str(out, "<button type=\"submit\">");
    ui_text(out, c, "btn.confirm");
    buf_append_str(out, "</button>\n</form>\n</li>\n</ol>\n<p class=\"actions\"><a class=\"button "
                        "link\" href=\"/account\">");
    ui_text(out, c, "btn.cancel");
    buf_append_str(out, "</a></p>\n");
    ui_layout_end(out, c);
}
