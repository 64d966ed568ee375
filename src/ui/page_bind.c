/* Binding a phone number or an e-mail address (/account/add/sms|email):
 * step 1 asks for it (with a calling-code picker for phones), step 2 takes
 * the code that was sent and offers "Send again" with a countdown. Renders
 * only; the handler validates and normalises what the user typed. */
#include "ui/layout.h"

#include "ui/countries.h"
#include "ui/i18n.h"

#include <string.h>

/* True for 1 to 4 digits: a calling code we may put in a value. */
static bool is_calling_code(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 4)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static void option(struct buf *out, const struct ui_ctx *c, const struct ui_country *k,
                   bool selected)
{
    bool zh = ui_locale_is_zh(c->locale);
    buf_append_str(out, "<option value=\"");
    buf_append_str(out, k->iso);
    /* What the script's search also matches: the code letters, and the
     * English name on a Chinese page. */
    buf_append_str(out, "\" data-alt=\"");
    buf_append_str(out, k->iso);
    if (zh) {
        buf_append_str(out, " ");
        ui_esc(out, k->en);
    }
    buf_append_str(out, selected ? "\" selected>" : "\">");
    ui_esc(out, zh ? k->zh : k->en);
    buf_append_str(out, " (+");
    buf_append_str(out, k->code);
    buf_append_str(out, ")</option>\n");
}

/* The full list, in the page's language's order. The value is the ISO
 * code (the handler maps it to the calling code), so the very country
 * chosen comes back after an error, not just its code. A bare calling
 * code the list lacks still shows, selected, as "Other". */
static void country_select(struct buf *out, const struct ui_ctx *c, const char *wanted)
{
    bool zh = ui_locale_is_zh(c->locale);
    const struct ui_country *chosen = ui_country_by_iso(wanted);
    if (!chosen && is_calling_code(wanted))
        chosen = ui_country_by_code(wanted);
    if (!chosen && !is_calling_code(wanted))
        chosen = ui_country_by_iso(zh ? "cn" : "gb");

    buf_append_str(out, "<div class=\"field\">\n<label for=\"country\">");
    ui_text(out, c, "field.country");
    buf_append_str(out, "</label>\n<select id=\"country\" name=\"country\" "
                        "autocomplete=\"country\" data-filter-label=\"");
    ui_text(out, c, "field.country_search");
    buf_append_str(out, "\" data-filter-hint=\"");
    ui_text(out, c, "field.country_search_hint");
    buf_append_str(out, "\">\n");
    if (!chosen) {
        buf_append_str(out, "<option value=\"");
        buf_append_str(out, wanted);
        buf_append_str(out, "\" selected>");
        ui_text(out, c, "country.other");
        buf_append_str(out, " (+");
        buf_append_str(out, wanted);
        buf_append_str(out, ")</option>\n");
    }
    for (size_t i = 0; i < ui_country_count; i++) {
        const struct ui_country *k = &ui_countries[zh ? ui_countries_zh_order[i] : i];
        option(out, c, k, k == chosen);
    }
    buf_append_str(out, "</select>\n</div>\n");
}

/* Errors about what was typed show next to the field, not at the top. */
static bool field_error(const struct ui_ctx *c)
{
    return c->error &&
           (strcmp(c->error, "err.invalid_phone") == 0 ||
            strcmp(c->error, "err.invalid_email") == 0 || strcmp(c->error, "err.country") == 0);
}

static void step1(struct buf *out, const struct ui_ctx *c, const struct ui_bind_view *v, bool sms)
{
    const char *field = sms ? "phone" : "email";
    bool invalid = field_error(c);
    buf_append_str(out, "<p class=\"lead\">");
    ui_text(out, c, sms ? "bind.sms_intro" : "bind.email_intro");
    buf_append_str(out, "</p>\n<form class=\"stack\" method=\"post\" action=\"/account/add/");
    buf_append_str(out, sms ? "sms" : "email");
    buf_append_str(out, "\">\n");
    ui_csrf(out, c);
    if (sms)
        country_select(out, c, v->country);
    buf_append_str(out, "<div class=\"field");
    if (invalid)
        buf_append_str(out, " invalid");
    buf_append_str(out, "\">\n<label for=\"");
    buf_append_str(out, field);
    buf_append_str(out, "\">");
    ui_text(out, c, sms ? "field.phone" : "field.email");
    buf_append_str(out, "</label>\n");
    if (sms) {
        buf_append_str(out, "<p class=\"hint\" id=\"phone-hint\">");
        ui_text(out, c, "field.phone_hint");
        buf_append_str(out, "</p>\n");
    }
    if (invalid) {
        buf_append_str(out, "<p class=\"field-error\" id=\"");
        buf_append_str(out, field);
        buf_append_str(out, "-error\">");
        ui_textf(out, c, c->error, c->error_arg);
        buf_append_str(out, "</p>\n");
    }
    if (sms)
        buf_append_str(out, "<input id=\"phone\" name=\"phone\" type=\"tel\" "
                            "autocomplete=\"tel-national\" inputmode=\"tel\" maxlength=\"32\" "
                            "required autofocus");
    else
        buf_append_str(out, "<input id=\"email\" name=\"email\" type=\"email\" "
                            "autocomplete=\"email\" autocapitalize=\"none\" spellcheck=\"false\" "
                            "maxlength=\"254\" required autofocus");
    /* The hint, then the field's own error (or the page's other one). */
    const char *describe[2] = {sms ? "phone-hint" : NULL,
                               invalid    ? (sms ? "phone-error" : "email-error")
                               : c->error ? "form-error"
                                          : NULL};
    if (describe[0] || describe[1]) {
        buf_append_str(out, " aria-describedby=\"");
        buf_append_str(out, describe[0] ? describe[0] : "");
        if (describe[0] && describe[1])
            buf_append_str(out, " ");
        buf_append_str(out, describe[1] ? describe[1] : "");
        buf_append_str(out, "\"");
    }
    if (invalid)
        buf_append_str(out, " aria-invalid=\"true\"");
    if (v->value && v->value[0]) {
        buf_append_str(out, " value=\"");
        ui_esc(out, v->value);
        buf_append_str(out, "\"");
    }
    buf_append_str(out, ">\n</div>\n<button type=\"submit\">");
    ui_text(out, c, "btn.send_code");
    buf_append_str(out, "</button>\n</form>\n<p class=\"actions\"><a class=\"button link\" "
                        "href=\"/account\">");
    ui_text(out, c, "btn.cancel");
    buf_append_str(out, "</a></p>\n");
}

static void step2(struct buf *out, const struct ui_ctx *c, const struct ui_bind_view *v, bool sms)
{
    buf_append_str(out, "<p class=\"lead\">");
    ui_textf(out, c, "code.sent_to", v->masked);
    buf_append_str(out,
                   "</p>\n<form class=\"stack\" method=\"post\" action=\"/account/verify\">\n");
    ui_csrf(out, c);
    ui_hidden(out, "factor_id", v->factor_id);
    ui_code_field(out, c, true);
    buf_append_str(out, "<button type=\"submit\">");
    ui_text(out, c, "btn.confirm");
    buf_append_str(out, "</button>\n</form>\n");
    ui_resend_form(out, c, "/account/resend", v->factor_id, v->resend_after);
    buf_append_str(out, "<p class=\"hint\">");
    ui_text(out, c, "code.didnt_get");
    buf_append_str(out, "</p>\n");
    ui_dev_outbox_hint(out, c);
    buf_append_str(out, "<p class=\"actions\"><a class=\"button link\" href=\"/account/add/");
    buf_append_str(out, sms ? "sms" : "email");
    buf_append_str(out, "\">");
    ui_text(out, c, sms ? "bind.change_sms" : "bind.change_email");
    buf_append_str(out, "</a><a class=\"button link\" href=\"/account\">");
    ui_text(out, c, "btn.cancel");
    buf_append_str(out, "</a></p>\n");
}

void ui_page_bind(struct buf *out, const struct ui_ctx *c, const struct ui_bind_view *v)
{
    bool sms = v->type && strcmp(v->type, "sms") == 0;
    bool verify = v->step == 2;
    const char *title;
    if (verify)
        title = sms ? "title.verify_sms" : "title.verify_email";
    else
        title = sms ? "add.sms" : "add.email";
    struct ui_layout l = {
        .title_key = title,
        .back = sms ? "/account/add/sms" : "/account/add/email",
        .page = "page-bind",
    };
    /* A field's error shows beside it; the top of the page keeps the rest. */
    struct ui_ctx top = *c;
    if (!verify && field_error(c))
        top.error = NULL;
    ui_layout_begin(out, &top, &l);
    if (verify)
        step2(out, c, v, sms);
    else
        step1(out, c, v, sms);
    ui_layout_end(out, c);
}
