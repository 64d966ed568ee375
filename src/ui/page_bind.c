/* Binding a phone number or an e-mail address (/account/add/sms|email):
 * step 1 asks for it (with a calling-code picker for phones), step 2 takes
 * the code that was sent and offers "Send again" with a countdown. Renders
 * only; the handler validates and normalises what the user typed. */
#include "ui/layout.h"

#include "ui/i18n.h"

#include <stdlib.h>
#include <string.h>

/* The calling-code picker: common countries and regions. Names come from
 * the i18n table ("country.<iso>"); pinyin orders them for Chinese. */
struct country {
    const char *iso;
    const char *code; /* calling code, digits only */
    const char *pinyin;
    bool main; /* the one preselected when several share the code */
};

static const struct country countries[] = {
    {"ae", "971", "alianqiu", false},      {"ar", "54", "agenting", false},
    {"at", "43", "aodili", false},         {"au", "61", "aodaliya", false},
    {"be", "32", "bilishi", false},        {"br", "55", "baxi", false},
    {"ca", "1", "jianada", false},         {"ch", "41", "ruishi", false},
    {"cn", "86", "zhongguodalu", false},   {"de", "49", "deguo", false},
    {"dk", "45", "danmai", false},         {"eg", "20", "aiji", false},
    {"es", "34", "xibanya", false},        {"fi", "358", "fenlan", false},
    {"fr", "33", "faguo", false},          {"gb", "44", "yingguo", false},
    {"gr", "30", "xila", false},           {"hk", "852", "zhongguoxianggang", false},
    {"id", "62", "yindunixiya", false},    {"ie", "353", "aierlan", false},
    {"il", "972", "yiselie", false},       {"in", "91", "yindu", false},
    {"it", "39", "yidali", false},         {"jp", "81", "riben", false},
    {"ke", "254", "kenniya", false},       {"kr", "82", "hanguo", false},
    {"mo", "853", "zhongguoaomen", false}, {"mx", "52", "moxige", false},
    {"my", "60", "malaixiya", false},      {"ng", "234", "niriliya", false},
    {"nl", "31", "helan", false},          {"no", "47", "nuowei", false},
    {"nz", "64", "xinxilan", false},       {"ph", "63", "feilvbin", false},
    {"pk", "92", "bajisitan", false},      {"pl", "48", "bolan", false},
    {"pt", "351", "putaoya", false},       {"ru", "7", "eluosi", true},
    {"sa", "966", "shatealabo", false},    {"se", "46", "ruidian", false},
    {"sg", "65", "xinjiapo", false},       {"th", "66", "taiguo", false},
    {"tr", "90", "tuerqi", false},         {"tw", "886", "zhongguotaiwan", false},
    {"us", "1", "meiguo", true},           {"vn", "84", "yuenan", false},
    {"za", "27", "nanfei", false},
};

#define COUNTRY_COUNT (sizeof(countries) / sizeof(countries[0]))

struct country_sort {
    const struct country *c;
    const char *name; /* in the page's language */
    const char *key;  /* what orders it */
};

static int country_cmp(const void *a, const void *b)
{
    const struct country_sort *x = a, *y = b;
    return strcmp(x->key, y->key);
}

static void country_key(char *key, size_t n, const char *iso)
{
    static const char prefix[] = "country.";
    size_t p = sizeof(prefix) - 1, k = strlen(iso);
    if (p + k + 1 > n)
        k = n - p - 1;
    memcpy(key, prefix, p);
    memcpy(key + p, iso, k);
    key[p + k] = '\0';
}

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

static void option(struct buf *out, const char *code, const char *name, bool selected)
{
    buf_append_str(out, "<option value=\"");
    buf_append_str(out, code);
    buf_append_str(out, selected ? "\" selected>" : "\">");
    ui_esc(out, name);
    buf_append_str(out, " (+");
    buf_append_str(out, code);
    buf_append_str(out, ")</option>\n");
}

static void country_select(struct buf *out, const struct ui_ctx *c, const char *wanted)
{
    bool zh = ui_locale_is_zh(c->locale);
    const char *sel = is_calling_code(wanted) ? wanted : (zh ? "86" : "44");
    struct country_sort list[COUNTRY_COUNT];
    char keys[COUNTRY_COUNT][24];
    const struct country *chosen = NULL;
    for (size_t i = 0; i < COUNTRY_COUNT; i++) {
        country_key(keys[i], sizeof(keys[i]), countries[i].iso);
        list[i].c = &countries[i];
        list[i].name = ui_t(c->locale, keys[i]);
        list[i].key = zh ? countries[i].pinyin : ui_t("en", keys[i]);
        if (strcmp(countries[i].code, sel) == 0 && (!chosen || countries[i].main))
            chosen = &countries[i];
    }
    qsort(list, COUNTRY_COUNT, sizeof(list[0]), country_cmp);

    buf_append_str(out, "<div class=\"field\">\n<label for=\"country\">");
    ui_text(out, c, "field.country");
    buf_append_str(out, "</label>\n<select id=\"country\" name=\"country\" "
                        "autocomplete=\"tel-country-code\">\n");
    /* A code the handler preselected but the list lacks still shows. */
    if (!chosen)
        option(out, sel, ui_t(c->locale, "country.other"), true);
    for (size_t i = 0; i < COUNTRY_COUNT; i++)
        option(out, list[i].c->code, list[i].name, list[i].c == chosen);
    buf_append_str(out, "</select>\n</div>\n");
}

static void step1(struct buf *out, const struct ui_ctx *c, const struct ui_bind_view *v, bool sms)
{
    buf_append_str(out, "<p class=\"lead\">");
    ui_text(out, c, sms ? "bind.sms_intro" : "bind.email_intro");
    buf_append_str(out, "</p>\n<form class=\"stack\" method=\"post\" action=\"/account/add/");
    buf_append_str(out, sms ? "sms" : "email");
    buf_append_str(out, "\">\n");
    ui_csrf(out, c);
    bool invalid = c->error && (strcmp(c->error, "err.invalid_phone") == 0 ||
                                strcmp(c->error, "err.invalid_email") == 0 ||
                                strcmp(c->error, "err.country") == 0);
    if (sms) {
        country_select(out, c, v->country);
        buf_append_str(out, "<div class=\"field\">\n<label for=\"phone\">");
        ui_text(out, c, "field.phone");
        buf_append_str(out, "</label>\n<p class=\"hint\" id=\"phone-hint\">");
        ui_text(out, c, "field.phone_hint");
        buf_append_str(out, "</p>\n<input id=\"phone\" name=\"phone\" type=\"tel\" "
                            "autocomplete=\"tel-national\" inputmode=\"tel\" maxlength=\"32\" "
                            "required autofocus aria-describedby=\"phone-hint");
    } else {
        buf_append_str(out, "<div class=\"field\">\n<label for=\"email\">");
        ui_text(out, c, "field.email");
        buf_append_str(out, "</label>\n<input id=\"email\" name=\"email\" type=\"email\" "
                            "autocomplete=\"email\" autocapitalize=\"none\" spellcheck=\"false\" "
                            "maxlength=\"254\" required autofocus");
    }
    if (sms)
        buf_append_str(out, c->error ? " form-error\"" : "\"");
    else if (c->error)
        buf_append_str(out, " aria-describedby=\"form-error\"");
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
    buf_append_str(out, "</p>\n<p class=\"actions\"><a class=\"button link\" href=\"/account/add/");
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
    ui_layout_begin(out, c, &l);
    if (verify)
        step2(out, c, v, sms);
    else
        step1(out, c, v, sms);
    ui_layout_end(out, c);
}
