/* Recovery codes, shown once: the codes as a numbered list that reads and
 * prints without script, copy/download/print buttons that otpgate.js shows
 * and drives, and the form to go on. No language switch here: reloading
 * would lose codes that are never shown again. */
#include "ui/layout.h"

/* Appends s as a file-name part: ASCII letters and digits lower-cased,
 * anything else one '-', at most max bytes; fallback when nothing is left. */
static void file_part(struct buf *out, const char *s, size_t max, const char *fallback)
{
    size_t n = 0;
    bool dash = false;
    for (; s && *s && n < max; s++) {
        char ch = *s;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
            if (dash && n > 0) {
                buf_append_str(out, "-");
                n++;
            }
            buf_append(out, &ch, 1);
            n++;
            dash = false;
        } else {
            dash = true;
        }
    }
    if (n == 0)
        buf_append_str(out, fallback);
}

static void tool_button(struct buf *out, const struct ui_ctx *c, const char *data,
                        const char *label_key)
{
    buf_append_str(out, "<button type=\"button\" class=\"button secondary\" ");
    buf_append_str(out, data);
    buf_append_str(out, ">");
    ui_text(out, c, label_key);
    buf_append_str(out, "</button>\n");
}

void ui_page_recovery_codes(struct buf *out, const struct ui_ctx *c, const char *const *codes,
                            size_t count, const char *continue_action, const char *account,
                            const char *made_on)
{
    const char *brand = c->brand_name && c->brand_name[0] ? c->brand_name : "otpgate";
    struct ui_layout l = {
        .title_key = "title.recovery",
        .page = "page-recovery",
        .no_lang = true,
    };
    ui_layout_begin(out, c, &l);
    buf_append_str(out, "<p class=\"lead\">");
    ui_text(out, c, "recovery.intro");
    buf_append_str(out, "</p>\n<div class=\"alert warn\"><p>");
    ui_text(out, c, "recovery.once");
    buf_append_str(out, "</p></div>\n<ol class=\"codes\" id=\"recovery-codes\" aria-label=\"");
    ui_text(out, c, "recovery.list");
    buf_append_str(out, "\">\n");
    for (size_t i = 0; i < count; i++) {
        buf_append_str(out, "<li><code>");
        ui_esc(out, codes[i]);
        buf_append_str(out, "</code></li>\n");
    }
    buf_append_str(out, "</ol>\n<div class=\"toolbar\" data-js-only hidden>\n");
    tool_button(out, c, "data-copy=\"recovery-codes\"", "btn.copy");
    /* The file is named after the brand and the account, so several sit
     * side by side; the text inside says whose they are and when made. */
    buf_append_str(out, "<button type=\"button\" class=\"button secondary\" "
                        "data-download=\"recovery-codes\" data-filename=\"");
    file_part(out, brand, 40, "otpgate");
    buf_append_str(out, "-recovery-codes-");
    file_part(out, account, 40, "account");
    buf_append_str(out, ".txt\" data-title=\"");
    ui_textf(out, c, "recovery.file_title", brand);
    if (account && account[0]) {
        buf_append_str(out, "\" data-account=\"");
        ui_textf(out, c, "recovery.file_account", account);
    }
    if (made_on && made_on[0]) {
        buf_append_str(out, "\" data-made=\"");
        ui_textf(out, c, "recovery.file_made", made_on);
    }
    buf_append_str(out, "\">");
    ui_text(out, c, "btn.download");
    buf_append_str(out, "</button>\n");
    tool_button(out, c, "data-print", "btn.print");
    buf_append_str(out, "</div>\n<div class=\"js-status\" role=\"status\" data-done=\"");
    ui_text(out, c, "recovery.copied");
    buf_append_str(out, "\" data-failed=\"");
    ui_text(out, c, "recovery.copy_failed");
    buf_append_str(out, "\"></div>\n<form class=\"continue\" method=\"post\" action=\"");
    ui_esc(out, continue_action);
    buf_append_str(out, "\">\n");
    ui_csrf(out, c);
    buf_append_str(out, "<button type=\"submit\">");
    ui_text(out, c, "btn.saved");
    buf_append_str(out, "</button>\n</form>\n");
    ui_layout_end(out, c);
}
