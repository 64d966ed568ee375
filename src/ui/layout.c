/* The shared document of the end-user pages and the small output helpers
 * they use. Owns the page frame (head, header, main, footer); never holds a
 * language's words (ui_t does) and never writes an unescaped value. No
 * inline script or style: the CSP forbids both. */
#include "ui/layout.h"

#include "ui/i18n.h"
#include "ui/ui.h"

#include <stdio.h>
#include <string.h>

#define UI_DEFAULT_BRAND "otpgate"
#define UI_DEFAULT_LOGO  "/static/img/logo.svg"
/* static/img/logo.svg inline, so the stylesheet can tint it with the
 * brand's accent (an <img> cannot take the page's colours). */
#define UI_DEFAULT_LOGO_SVG                                                                        \
    "<svg class=\"logo\" viewBox=\"0 0 64 64\" width=\"32\" height=\"32\" aria-hidden=\"true\" "   \
    "focusable=\"false\"><path class=\"logo-outer\" d=\"M32 4 8 13v17c0 14.6 10.2 26.4 24 30 "     \
    "13.8-3.6 24-15.4 24-30V13L32 4z\"/><path class=\"logo-inner\" d=\"M32 9.3 13 16.4V30c0 11.9 " \
    "8 21.7 19 24.9 11-3.2 19-13 19-24.9V16.4L32 9.3z\"/><path class=\"logo-mark\" "               \
    "d=\"m21.5 32.5 7 7 14-14\"/></svg>"

void ui_esc(struct buf *out, const char *s)
{
    if (s)
        ui_html_escape(out, s);
}

/* Appends the first n bytes of s escaped (s need not end there). */
static void esc_n(struct buf *out, const char *s, size_t n)
{
    char chunk[256];
    while (n > 0) {
        size_t k = n < sizeof(chunk) - 1 ? n : sizeof(chunk) - 1;
        memcpy(chunk, s, k);
        chunk[k] = '\0';
        ui_html_escape(out, chunk);
        s += k;
        n -= k;
    }
}

/* True for a masked or whole phone number: "+", then digits, spaces and
 * the mask's bullets (U+2022) only. */
static bool phone_like(const char *s)
{
    if (!s || s[0] != '+')
        return false;
    for (const char *p = s + 1; *p; p++) {
        if ((*p >= '0' && *p <= '9') || *p == ' ')
            continue;
        if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x80 &&
            (unsigned char)p[2] == 0xA2) {
            p += 2;
            continue;
        }
        return false;
    }
    return true;
}

void ui_esc_value(struct buf *out, const char *s)
{
    if (!phone_like(s)) {
        ui_esc(out, s);
        return;
    }
    for (; *s; s++) {
        if (*s == ' ')
            buf_append_str(out, "&nbsp;");
        else
            buf_append(out, s, 1);
    }
}

/* Writes text escaped, its first "%s" replaced by arg (escaped, wrapped
 * in <code> when code). Texts come from the table, so they are never used
 * as a printf format. */
static void put_with_arg(struct buf *out, const char *text, const char *arg, bool code)
{
    const char *hole = strstr(text, "%s");
    if (!hole) {
        ui_esc(out, text);
        return;
    }
    esc_n(out, text, (size_t)(hole - text));
    if (code)
        buf_append_str(out, "<code>");
    ui_esc_value(out, arg);
    if (code)
        buf_append_str(out, "</code>");
    ui_esc(out, hole + 2);
}

void ui_text(struct buf *out, const struct ui_ctx *c, const char *key)
{
    ui_esc(out, ui_t(c->locale, key));
}

void ui_textf(struct buf *out, const struct ui_ctx *c, const char *key, const char *arg)
{
    put_with_arg(out, ui_t(c->locale, key), arg, false);
}

void ui_textf_code(struct buf *out, const struct ui_ctx *c, const char *key, const char *arg)
{
    put_with_arg(out, ui_t(c->locale, key), arg, true);
}

void ui_hidden(struct buf *out, const char *name, const char *value)
{
    buf_append_str(out, "<input type=\"hidden\" name=\"");
    ui_esc(out, name);
    buf_append_str(out, "\" value=\"");
    ui_esc(out, value);
    buf_append_str(out, "\">\n");
}

void ui_csrf(struct buf *out, const struct ui_ctx *c)
{
    ui_hidden(out, "csrf", c->csrf);
}

const char *ui_factor_key(const char *type)
{
    if (type && strcmp(type, "sms") == 0)
        return "factor.sms";
    if (type && strcmp(type, "email") == 0)
        return "factor.email";
    if (type && strcmp(type, "totp") == 0)
        return "factor.totp";
    if (type && strcmp(type, "webauthn") == 0)
        return "factor.webauthn";
    return "factor.other";
}

int ui_method_rank(const char *type)
{
    static const char *const order[] = {"webauthn", "totp", "sms", "email"};
    for (int i = 0; i < (int)ARRAY_SIZE(order); i++)
        if (type && strcmp(type, order[i]) == 0)
            return i;
    return UI_METHOD_RANKS - 1;
}

void ui_dev_outbox_hint(struct buf *out, const struct ui_ctx *c)
{
    if (!c->dev_outbox)
        return;
    buf_append_str(out, "<p class=\"dev-hint\">");
    ui_text(out, c, "dev.hint");
    buf_append_str(out, " <a href=\"/dev/outbox\" target=\"_blank\" rel=\"noopener\">");
    ui_text(out, c, "dev.hint_link");
    buf_append_str(out, "</a></p>\n");
}

void ui_icon(struct buf *out, const char *type)
{
    const char *shape;
    if (type && strcmp(type, "sms") == 0)
        shape = "<rect x=\"6.5\" y=\"2\" width=\"11\" height=\"20\" rx=\"2.5\"/>"
                "<path d=\"M10.5 18.5h3\"/>";
    else if (type && strcmp(type, "email") == 0)
        shape = "<rect x=\"3\" y=\"5\" width=\"18\" height=\"14\" rx=\"2\"/>"
                "<path d=\"m3.5 6.5 8.5 6.5 8.5-6.5\"/>";
    else if (type && strcmp(type, "totp") == 0)
        shape = "<path d=\"M12 2.5 4.5 5.5v6c0 4.6 3.2 8.6 7.5 10 4.3-1.4 7.5-5.4 "
                "7.5-10v-6z\"/><path d=\"M12 8v4.5l3 1.5\"/>";
    else if (type && strcmp(type, "webauthn") == 0)
        /* a key */
        shape = "<circle cx=\"7.5\" cy=\"12\" r=\"4.5\"/><path d=\"M12 12h9.5\"/>"
                "<path d=\"M18.5 12v3.5\"/><path d=\"M15.5 12v2.5\"/>";
    else if (type && strcmp(type, "device") == 0)
        shape = "<rect x=\"2.5\" y=\"4\" width=\"19\" height=\"12.5\" rx=\"1.5\"/>"
                "<path d=\"M8 20h8\"/><path d=\"M12 16.5V20\"/>";
    else if (type && strcmp(type, "recovery") == 0)
        shape = "<circle cx=\"8\" cy=\"15.5\" r=\"4.5\"/><path d=\"m11.3 12.2 8.7-8.7\"/>"
                "<path d=\"m16.5 7 3 3\"/><path d=\"m14 9.5 2.5 2.5\"/>";
    else
        shape = "<circle cx=\"12\" cy=\"12\" r=\"9.5\"/><path d=\"M9.5 9.5a2.5 2.5 0 1 1 3.5 "
                "2.3c-.6.3-1 .8-1 1.5v.7\"/><path d=\"M12 17h.01\"/>";
    buf_append_str(out, "<svg class=\"icon\" viewBox=\"0 0 24 24\" width=\"24\" height=\"24\" "
                        "aria-hidden=\"true\" focusable=\"false\" fill=\"none\" "
                        "stroke=\"currentColor\" stroke-width=\"1.8\" stroke-linecap=\"round\" "
                        "stroke-linejoin=\"round\">");
    buf_append_str(out, shape);
    buf_append_str(out, "</svg>");
}

void ui_factor_label(struct buf *out, const struct ui_ctx *c, const struct ui_factor *f)
{
    buf_append_str(out, "<span class=\"method-text\"><span class=\"method-name\">");
    ui_text(out, c, ui_factor_key(f->type));
    buf_append_str(out, "</span>");
    if (f->masked && f->masked[0]) {
        buf_append_str(out, "<span class=\"method-detail\">");
        ui_esc_value(out, f->masked);
        buf_append_str(out, "</span>");
    }
    buf_append_str(out, "</span>");
}

void ui_url_param(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            buf_append(out, &ch, 1);
        } else {
            char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            buf_append(out, esc, 3);
        }
    }
}

void ui_code_field(struct buf *out, const struct ui_ctx *c, bool numeric)
{
    buf_append_str(out, "<div class=\"field\">\n<label for=\"code\">");
    ui_text(out, c, numeric ? "field.code" : "field.recovery_code");
    buf_append_str(out, "</label>\n<input id=\"code\" name=\"code\" type=\"text\" "
                        "autocomplete=\"one-time-code\" required autofocus ");
    if (numeric) {
        buf_append_str(out, "class=\"otp\" inputmode=\"numeric\" pattern=\"[0-9]*\" "
                            "maxlength=\"10\" title=\"");
        ui_text(out, c, "field.code_hint");
        buf_append_str(out, "\"");
    } else {
        buf_append_str(out, "class=\"otp recovery\" autocapitalize=\"none\" "
                            "spellcheck=\"false\" maxlength=\"40\"");
    }
    if (c->error) {
        buf_append_str(out, " aria-describedby=\"form-error\"");
        if (strcmp(c->error, "err.wrong_code") == 0 || strcmp(c->error, "err.recovery_wrong") == 0)
            buf_append_str(out, " aria-invalid=\"true\"");
    }
    buf_append_str(out, ">\n</div>\n");
}

void ui_resend_form(struct buf *out, const struct ui_ctx *c, const char *action,
                    const char *factor_id, int resend_after)
{
    buf_append_str(out, "<form class=\"resend\" method=\"post\" action=\"");
    ui_esc(out, action);
    buf_append_str(out, "\">\n");
    ui_csrf(out, c);
    ui_hidden(out, "factor_id", factor_id);
    buf_printf(out,
               "<button type=\"submit\" class=\"button secondary\" data-resend-after=\"%d\" "
               "data-wait-label=\"",
               resend_after > 0 ? resend_after : 0);
    ui_text(out, c, "btn.resend_wait");
    buf_append_str(out, "\">");
    ui_text(out, c, "btn.resend");
    buf_append_str(out, "</button>\n</form>\n");
}

void ui_passkey_notes(struct buf *out, const struct ui_ctx *c, const char *nojs,
                      const char *unsupported)
{
    buf_append_str(out, "<noscript><div class=\"alert warn\"><p>");
    ui_text(out, c, nojs);
    buf_append_str(out, "</p></div></noscript>\n<div class=\"alert warn\" "
                        "data-passkey-unsupported hidden><p>");
    ui_text(out, c, unsupported);
    buf_append_str(out, "</p></div>\n");
}

void ui_passkey_messages(struct buf *out, const struct ui_ctx *c)
{
    static const char *const msgs[][2] = {
        {"cancelled", "passkey.cancelled"},
        {"exists", "passkey.exists"},
        {"failed", "passkey.failed"},
    };
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        buf_append_str(out, " data-msg-");
        buf_append_str(out, msgs[i][0]);
        buf_append_str(out, "=\"");
        ui_text(out, c, msgs[i][1]);
        buf_append_str(out, "\"");
    }
}

/* The language switch: a form with one button per language; the handler
 * of POST /lang sets the cookie and redirects to "back". */
static void lang_switch(struct buf *out, const struct ui_ctx *c, const char *back)
{
    bool zh = ui_locale_is_zh(c->locale);
    buf_append_str(out, "<form class=\"lang\" method=\"post\" action=\"/lang\" aria-label=\"");
    ui_text(out, c, "lang.label");
    buf_append_str(out, "\">\n");
    ui_csrf(out, c);
    ui_hidden(out, "back", back);
    buf_append_str(out, "<button type=\"submit\" name=\"lang\" value=\"en\" lang=\"en\"");
    buf_append_str(out, zh ? ">" : " aria-current=\"true\">");
    ui_text(out, c, "lang.en");
    buf_append_str(out, "</button>\n<button type=\"submit\" name=\"lang\" value=\"zh\" "
                        "lang=\"zh-CN\"");
    buf_append_str(out, zh ? " aria-current=\"true\">" : ">");
    ui_text(out, c, "lang.zh");
    buf_append_str(out, "</button>\n</form>\n");
}

/* A notice or error text. When the text wants a value the handler did not
 * give, its "<key>.short" wording (without the value) stands in, so no
 * sentence shows a hole. */
static void alert_text(struct buf *out, const struct ui_ctx *c, const char *key, const char *arg)
{
    if ((!arg || !arg[0]) && strstr(ui_t(c->locale, key), "%s")) {
        char short_key[128];
        int n = snprintf(short_key, sizeof(short_key), "%s.short", key);
        if (n > 0 && (size_t)n < sizeof(short_key) && ui_i18n_has(c->locale, short_key)) {
            ui_text(out, c, short_key);
            return;
        }
    }
    ui_textf(out, c, key, arg);
}

static void alerts(struct buf *out, const struct ui_ctx *c)
{
    if (c->notice) {
        buf_append_str(out, "<div class=\"alert ok\" role=\"status\"><p>");
        alert_text(out, c, c->notice, c->error_arg);
        buf_append_str(out, "</p></div>\n");
    }
    if (c->error) {
        buf_append_str(out, "<div class=\"alert error\" id=\"form-error\" role=\"alert\"><p>");
        alert_text(out, c, c->error, c->error_arg);
        buf_append_str(out, "</p></div>\n");
    }
}

void ui_layout_begin(struct buf *out, const struct ui_ctx *c, const struct ui_layout *l)
{
    const char *brand = c->brand_name && c->brand_name[0] ? c->brand_name : UI_DEFAULT_BRAND;
    const char *logo = c->brand_logo && c->brand_logo[0] ? c->brand_logo : UI_DEFAULT_LOGO;
    const char *back = c->back && c->back[0] ? c->back : l->back;

    buf_append_str(out, "<!doctype html>\n<html lang=\"");
    buf_append_str(out, ui_locale_is_zh(c->locale) ? "zh-CN" : "en");
    buf_append_str(out, "\">\n<head>\n<meta charset=\"utf-8\">\n"
                        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                        "<meta name=\"color-scheme\" content=\"light dark\">\n"
                        "<meta name=\"referrer\" content=\"no-referrer\">\n<title>");
    ui_textf(out, c, l->title_key, l->title_arg);
    buf_append_str(out, " · ");
    ui_esc(out, brand);
    buf_append_str(out, "</title>\n<link rel=\"stylesheet\" href=\"/static/css/otpgate.css\">\n");
    if (l->extra_css) {
        buf_append_str(out, "<link rel=\"stylesheet\" href=\"/static/css/");
        ui_esc(out, l->extra_css);
        buf_append_str(out, "\">\n");
    }
    /* The server serves the admin's accent colour as a stylesheet (see
     * ui_brand_css): an inline style would break the CSP. */
    buf_append_str(out, "<link rel=\"stylesheet\" href=\"/brand.css\">\n");
    buf_append_str(out, "<link rel=\"icon\" href=\"");
    ui_esc(out, logo);
    buf_append_str(out, "\">\n<script src=\"/static/js/otpgate.js\" defer></script>\n");
    if (l->extra_js) {
        buf_append_str(out, "<script src=\"/static/js/");
        ui_esc(out, l->extra_js);
        buf_append_str(out, "\" defer></script>\n");
    }
    buf_append_str(out, "</head>\n<body class=\"");
    ui_esc(out, l->page ? l->page : "page");
    if (l->wide)
        buf_append_str(out, " wide");
    buf_append_str(out, "\">\n<a class=\"skip-link\" href=\"#main\">");
    ui_text(out, c, "layout.skip");
    buf_append_str(out, "</a>\n<header class=\"site-header\">\n<div class=\"brand\">");
    if (c->brand_logo && c->brand_logo[0]) {
        buf_append_str(out, "<img src=\"");
        ui_esc(out, logo);
        buf_append_str(out, "\" alt=\"\" width=\"32\" height=\"32\">");
    } else {
        /* The built-in logo, drawn in the page's accent colour. */
        buf_append_str(out, UI_DEFAULT_LOGO_SVG);
    }
    buf_append_str(out, "<span>");
    ui_esc(out, brand);
    buf_append_str(out, "</span></div>\n");
    if (!l->no_lang && back && back[0] && c->csrf)
        lang_switch(out, c, back);
    buf_append_str(out, "</header>\n<main id=\"main\" class=\"card\">\n<h1>");
    ui_textf(out, c, l->title_key, l->title_arg);
    buf_append_str(out, "</h1>\n");
    alerts(out, c);
}

void ui_layout_end(struct buf *out, const struct ui_ctx *c)
{
    const char *brand = c->brand_name && c->brand_name[0] ? c->brand_name : UI_DEFAULT_BRAND;
    buf_append_str(out, "</main>\n<footer class=\"site-footer\">\n<p>");
    ui_textf(out, c, "layout.footer", brand);
    buf_append_str(out, "</p>\n</footer>\n</body>\n</html>\n");
}
