/* Adding an authenticator app (/account/add/totp): the QR code, the setup
 * key for typing or copying, and the code that proves the app has it. The
 * secret is on this page only; nothing here stores or logs it. */
#include "ui/layout.h"

#include <string.h>

/* The key with each group of four in a span that never breaks inside;
 * lines break only between groups. */
static void key_groups(struct buf *out, const char *groups)
{
    char one[16];
    while (groups && *groups) {
        size_t n = strcspn(groups, " ");
        if (n > 0) {
            if (n >= sizeof(one))
                n = sizeof(one) - 1;
            memcpy(one, groups, n);
            one[n] = '\0';
            buf_append_str(out, "<span class=\"group\">");
            ui_esc(out, one);
            buf_append_str(out, "</span>");
        }
        groups += strcspn(groups, " ");
        if (*groups == ' ') {
            buf_append_str(out, " ");
            groups++;
        }
    }
}

void ui_page_totp(struct buf *out, const struct ui_ctx *c, const char *qr_svg,
                  const char *secret_groups, const char *factor_id, const char *otpauth_uri)
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
    /* On the phone that holds the app, scanning is impossible: the
     * otpauth: link hands the account to the app. */
    if (otpauth_uri && strncmp(otpauth_uri, "otpauth://", 10) == 0) {
        buf_append_str(out, "<p class=\"open-app\"><a class=\"button secondary\" href=\"");
        ui_esc(out, otpauth_uri);
        buf_append_str(out, "\" aria-describedby=\"open-app-hint\">");
        ui_text(out, c, "totp.open_app");
        buf_append_str(out, "</a></p>\n<p class=\"hint\" id=\"open-app-hint\">");
        ui_text(out, c, "totp.open_app_hint");
        buf_append_str(out, "</p>\n");
    }
    buf_append_str(out, "<p>");
    ui_text(out, c, "totp.cant_scan");
    buf_append_str(out,
                   "</p>\n<div class=\"secret-row\"><code class=\"secret\" id=\"totp-secret\">");
    key_groups(out, secret_groups);
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
