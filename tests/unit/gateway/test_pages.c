/* Unit tests for the end-user pages (src/ui/pages.h): every page renders in
 * English and Chinese as a whole document with the parts the handlers and
 * browsers rely on (forms with csrf, action URLs, one-time-code inputs,
 * labels, one h1, unique ids, lang), hostile values come out escaped, no
 * inline style or script, every string comes from the i18n table in both
 * languages, and the QR SVG has the right modules. With OTPGATE_PAGES_DUMP
 * set to a folder, every rendered page is also written there as a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <qrencode.h>

#include "gateway/pages.h"
#include "ui/countries.h"
#include "ui/i18n.h"
#include "ui/pages.h"
#include "ui/ui.h"

#define CSRF    "tok-123_abc"
#define HOSTILE "<script>alert(1)</script>\"'&"

static const char *const locales[] = {"en", "zh"};

/* ---- helpers ---- */

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle))
        n++;
    return n;
}

static void expect_has(const char *html, const char *needle)
{
    if (!strstr(html, needle)) {
        print_error("missing: %s\n", needle);
        fail();
    }
}

static void expect_not(const char *html, const char *needle)
{
    if (strstr(html, needle)) {
        print_error("unexpected: %s\n", needle);
        fail();
    }
}

/* The value of attribute name inside the tag text [tag, end), copied to
 * out; false when absent. */
static bool tag_attr(const char *tag, const char *end, const char *name, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof(pat), " %s=\"", name);
    const char *p = strstr(tag, pat);
    if (!p || p > end)
        return false;
    p += strlen(pat);
    const char *q = strchr(p, '"');
    if (!q || q > end || (size_t)(q - p) >= n)
        return false;
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = '\0';
    return true;
}

/* Structural checks every page must pass. */
static void check_document(const char *html, const char *locale, bool lang_switch)
{
    bool zh = strcmp(locale, "zh") == 0;
    assert_true(strncmp(html, "<!doctype html>\n", 16) == 0);
    expect_has(html, zh ? "<html lang=\"zh-CN\">" : "<html lang=\"en\">");
    expect_has(html, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    expect_has(html, "<link rel=\"stylesheet\" href=\"/static/css/otpgate.css\">\n"
                     "<link rel=\"stylesheet\" href=\"/brand.css\">");
    expect_has(html, "<script src=\"/static/js/otpgate.js\" defer></script>");
    expect_has(html, "<main id=\"main\"");
    expect_has(html, "<header class=\"site-header\">");
    expect_has(html, "<footer class=\"site-footer\">");
    assert_int_equal(count_of(html, "<title>"), 1);
    assert_int_equal(count_of(html, "<h1"), 1);
    assert_int_equal(count_of(html, "<main"), 1);
    assert_true(strstr(html, "</html>\n") != NULL);

    /* CSP: no inline style or script, no event handlers. */
    expect_not(html, " style=");
    expect_not(html, "<style");
    expect_not(html, " onclick=");
    expect_not(html, " onerror=");
    for (const char *p = strstr(html, "<script"); p; p = strstr(p + 1, "<script"))
        assert_true(strncmp(p, "<script src=\"", 13) == 0);

    /* Every form posts and carries the csrf token. */
    size_t forms = 0;
    for (const char *p = strstr(html, "<form"); p; p = strstr(p + 1, "<form")) {
        const char *end = strstr(p, "</form>");
        assert_non_null(end);
        const char *tok = strstr(p, "<input type=\"hidden\" name=\"csrf\" value=\"" CSRF "\">");
        if (!tok || tok > end) {
            print_error("form without csrf: %.80s\n", p);
            fail();
        }
        const char *gt = strchr(p, '>');
        char method[16];
        assert_true(tag_attr(p, gt, "method", method, sizeof(method)));
        assert_string_equal(method, "post");
        forms++;
    }
    assert_int_equal(forms, count_of(html, "</form>"));
    if (lang_switch) {
        expect_has(html, "action=\"/lang\"");
        expect_has(html, "name=\"lang\" value=\"en\"");
        expect_has(html, "name=\"lang\" value=\"zh\"");
    } else {
        expect_not(html, "action=\"/lang\"");
    }

    /* Ids are unique, and every visible field has a label for it. */
    char ids[64][48];
    size_t nid = 0;
    for (const char *p = strstr(html, " id=\""); p; p = strstr(p + 1, " id=\"")) {
        const char *q = strchr(p + 5, '"');
        size_t len = (size_t)(q - (p + 5));
        assert_true(len < sizeof(ids[0]) && nid < 64);
        memcpy(ids[nid], p + 5, len);
        ids[nid][len] = '\0';
        for (size_t i = 0; i < nid; i++)
            if (strcmp(ids[i], ids[nid]) == 0) {
                print_error("duplicate id: %s\n", ids[nid]);
                fail();
            }
        nid++;
    }
    static const char *const fields[] = {"<input ", "<select ", "<textarea "};
    for (size_t k = 0; k < 3; k++) {
        for (const char *p = strstr(html, fields[k]); p; p = strstr(p + 1, fields[k])) {
            const char *gt = strchr(p, '>');
            char type[16], id[48], label[64];
            if (tag_attr(p, gt, "type", type, sizeof(type)) && strcmp(type, "hidden") == 0)
                continue;
            assert_true(tag_attr(p, gt, "id", id, sizeof(id)));
            snprintf(label, sizeof(label), "<label for=\"%s\">", id);
            expect_has(html, label);
        }
    }

    /* Buttons are real buttons with a type and some text. */
    for (const char *p = strstr(html, "<button"); p; p = strstr(p + 1, "<button")) {
        const char *gt = strchr(p, '>');
        char type[16];
        assert_true(tag_attr(p, gt, "type", type, sizeof(type)));
        assert_true(gt[1] != '<');
    }
    assert_int_equal(count_of(html, "<button"), count_of(html, "</button>"));
    /* Images have alt text (empty when decorative). */
    for (const char *p = strstr(html, "<img "); p; p = strstr(p + 1, "<img ")) {
        const char *gt = strchr(p, '>');
        char alt[64];
        assert_true(tag_attr(p, gt, "alt", alt, sizeof(alt)));
    }
    /* Lists hold only list items. */
    expect_not(html, "<ul>\n<p");
    expect_not(html, "<ol>\n<p");
}

/* Texts of the other language must not leak in: for every key whose two
 * texts differ, the other language's text (up to its "%s") is absent. */
static void check_language(const char *html, const char *locale)
{
    bool zh = strcmp(locale, "zh") == 0;
    for (size_t i = 0; i < ui_i18n_count(); i++) {
        const char *key = ui_i18n_key(i);
        const char *mine = ui_t(locale, key);
        const char *other = ui_t(zh ? "en" : "zh", key);
        if (strcmp(mine, other) == 0)
            continue;
        char part[256];
        const char *hole = strstr(other, "%s");
        size_t n = hole ? (size_t)(hole - other) : strlen(other);
        if (n >= sizeof(part))
            n = sizeof(part) - 1;
        memcpy(part, other, n);
        part[n] = '\0';
        /* Short fragments ("Code", "短信") may be part of longer words. */
        if (strlen(part) < (zh ? 8u : 7u))
            continue;
        struct buf esc;
        buf_init(&esc, 4096);
        ui_html_escape(&esc, part);
        if (strstr(html, esc.data)) {
            print_error("%s page shows %s text of %s: %s\n", locale, zh ? "en" : "zh", key,
                        esc.data);
            buf_free(&esc);
            fail();
        }
        buf_free(&esc);
    }
}

static void dump(const char *name, const char *locale, const char *html)
{
    const char *dir = getenv("OTPGATE_PAGES_DUMP");
    if (!dir || !dir[0])
        return;
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.%s.html", dir, name, locale);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(html, f);
        fclose(f);
    }
}

static struct ui_ctx ctx(const char *locale)
{
    struct ui_ctx c = {
        .locale = locale,
        .csrf = CSRF,
        .brand_name = "Acme ID",
        .brand_accent = "#1f5fbf",
        .app_name = "Acme Mail",
    };
    return c;
}

static const struct ui_factor factors[] = {
    {.id = "f1",
     .type = "sms",
     .masked = "+44 •••• ••12 34",
     .active = true,
     .preferred = true,
     .last_used_at = "2026-11-24 10:00 UTC"},
    {.id = "f2",
     .type = "email",
     .masked = "a•••@example.com",
     .active = true,
     .last_used = true,
     .last_used_at = "2026-11-25 09:30 UTC"},
    {.id = "f3", .type = "totp", .masked = NULL, .active = true},
    {.id = "f4", .type = "sms", .masked = "+86 ••• •••• 5678", .active = false},
};

/* Renders with fn into a fresh buffer, runs the shared checks in locale,
 * dumps it, and hands the buffer to the caller (buf_free it). */
#define RENDER(b, name, locale, lang_switch, call)                                                 \
    do {                                                                                           \
        buf_init(&(b), 1u << 20);                                                                  \
        unsigned long misses_ = ui_i18n_misses();                                                  \
        call;                                                                                      \
        assert_non_null((b).data);                                                                 \
        assert_int_equal(ui_i18n_misses(), misses_);                                               \
        check_document((b).data, (locale), (lang_switch));                                         \
        check_language((b).data, (locale));                                                        \
        dump((name), (locale), (b).data);                                                          \
    } while (0)

/* ---- the i18n table ---- */

static size_t holes(const char *s)
{
    return count_of(s, "%s");
}

static void test_i18n_table(void **state)
{
    (void)state;
    assert_true(ui_i18n_count() > 100);
    for (size_t i = 0; i < ui_i18n_count(); i++) {
        const char *key = ui_i18n_key(i);
        assert_non_null(key);
        if (!ui_i18n_has("en", key) || !ui_i18n_has("zh", key)) {
            print_error("key %s lacks a language\n", key);
            fail();
        }
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(key, ui_i18n_key(j));
        const char *en = ui_t("en", key), *zh = ui_t("zh", key);
        assert_true(holes(en) <= 1);
        assert_int_equal(holes(en), holes(zh));
        /* Only "%s" may follow a '%' (the renderer fills no other). */
        for (const char *p = strchr(en, '%'); p; p = strchr(p + 1, '%'))
            assert_int_equal(p[1], 's');
        for (const char *p = strchr(zh, '%'); p; p = strchr(p + 1, '%'))
            assert_int_equal(p[1], 's');
    }
    assert_null(ui_i18n_key(ui_i18n_count()));
    assert_false(ui_i18n_has("en", "no.such.key"));

    unsigned long before = ui_i18n_misses();
    assert_string_equal(ui_t("en", "no.such.key"), "no.such.key");
    assert_int_equal(ui_i18n_misses(), before + 1);
    assert_string_equal(ui_t("zh", "btn.cancel"), "取消");
    assert_string_equal(ui_t("zh-CN", "btn.cancel"), "取消");
    assert_string_equal(ui_t("fr", "btn.cancel"), "Cancel");
    assert_string_equal(ui_t(NULL, "btn.cancel"), "Cancel");
    assert_int_equal(ui_i18n_misses(), before + 1);
}

/* The keys the handlers pass must exist, with their "%s" where promised. */
static void test_handler_keys(void **state)
{
    (void)state;
    static const char *const with_arg[] = {"err.wrong_code",   "err.wait",
                                           "err.rate_limited", "err.resend_wait",
                                           "notice.code_sent", "notice.recovery_low",
                                           "notice.added_sms", "notice.added_email"};
    static const char *const with_arg_only[] = {
        "err.wrong_wait",      "err.wrong_wait_soon",      "err.wrong_lock_soon",
        "body.locked_contact", "challenge.locked_contact", "confirm.recovery_body",
        "err.passkey_wait"};
    for (size_t i = 0; i < sizeof(with_arg_only) / sizeof(with_arg_only[0]); i++) {
        assert_true(ui_i18n_has("en", with_arg_only[i]) && ui_i18n_has("zh", with_arg_only[i]));
        assert_int_equal(holes(ui_t("en", with_arg_only[i])), 1);
        assert_int_equal(holes(ui_t("zh", with_arg_only[i])), 1);
    }
    static const char *const plain[] = {
        "err.expired",
        "err.no_attempts",
        "err.locked",
        "err.invalid_phone",
        "err.invalid_email",
        "err.country",
        "err.delivery",
        "err.csrf",
        "err.session",
        "err.conflict",
        "err.not_allowed",
        "err.generic",
        "err.recovery_wrong",
        "err.wrong_code_dead",
        "notice.added_totp",
        "title.not_found",
        "body.not_found",
        "title.method_not_allowed",
        "body.method_not_allowed",
        "err.codes_shown_once",
        "err.last_factor",
        "title.locked",
        "body.locked_admin",
        "title.cannot_enrol",
        "body.cannot_enrol",
        "notice.factor_added",
        "notice.factor_removed",
        "notice.preferred_set",
        "notice.mfa_off",
        "notice.recovery_new",
        "title.link_invalid",
        "body.link_invalid",
        "title.session_expired",
        "body.session_expired",
        "title.done",
        "body.done",
        "title.error",
        "body.error",
        "totp.qr_label",
        "err.passkey_refused",
        "err.passkey_expired",
        "err.passkey_exists",
        "body.cannot_enrol_phr",
        "notice.passkey_added",
        "notice.passkey_renamed",
    };
    for (size_t i = 0; i < sizeof(with_arg) / sizeof(with_arg[0]); i++) {
        assert_true(ui_i18n_has("en", with_arg[i]) && ui_i18n_has("zh", with_arg[i]));
        assert_int_equal(holes(ui_t("en", with_arg[i])), 1);
        /* The wording used when the handler passes no value. */
        char short_key[64];
        snprintf(short_key, sizeof(short_key), "%s.short", with_arg[i]);
        assert_true(ui_i18n_has("en", short_key) && ui_i18n_has("zh", short_key));
        assert_int_equal(holes(ui_t("en", short_key)), 0);
    }
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        if (!ui_i18n_has("en", plain[i]) || !ui_i18n_has("zh", plain[i])) {
            print_error("missing key %s\n", plain[i]);
            fail();
        }
        assert_int_equal(holes(ui_t("en", plain[i])), 0);
    }
    assert_string_equal(ui_t("en", "err.wrong_code"), "That code is not right. Tries left: %s");
    assert_string_equal(ui_t("en", "err.wait"), "Too many wrong codes. Try again in %s.");
    assert_string_equal(ui_t("en", "err.rate_limited"),
                        "Too many codes sent. Try again in %s, or try another way.");
    assert_string_equal(ui_t("en", "notice.code_sent"), "We sent a code to %s.");
    assert_string_equal(ui_t("en", "notice.recovery_low"),
                        "Only %s recovery codes left. Make a new set.");
    /* A dead code and an early resend say what to do, not "0 tries" or
     * "too many codes". */
    assert_non_null(strstr(ui_t("en", "err.wrong_code_dead"), "Send a new code."));
    assert_string_equal(ui_t("en", "err.resend_wait"),
                        "A new code can be sent in %s. The code we sent before still works.");
}

/* ---- the shared layout ---- */

static void test_layout_alerts_and_switch(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        struct ui_ctx c = ctx(locales[i]);
        c.error = "err.wrong_code";
        c.error_arg = "3";
        c.notice = "notice.code_sent";
        struct ui_challenge_view v = {.current = &factors[0], .code_sent = true};
        struct buf b;
        RENDER(b, "challenge-error", locales[i], true, ui_page_challenge(&b, &c, &v));
        expect_has(b.data, "role=\"alert\"");
        expect_has(b.data, "role=\"status\"");
        expect_has(b.data, i == 0 ? "That code is not right. Tries left: 3"
                                  : "验证码不正确。剩余尝试次数：3");
        expect_has(b.data, i == 0 ? "We sent a code to 3." : "验证码已发送到 3。");
        expect_has(b.data, "aria-describedby=\"form-error\" aria-invalid=\"true\"");
        expect_has(b.data, "<input type=\"hidden\" name=\"back\" value=\"/challenge?factor=f1\">");
        expect_has(b.data, i == 0 ? "value=\"en\" lang=\"en\" aria-current=\"true\""
                                  : "value=\"zh\" lang=\"zh-CN\" aria-current=\"true\"");
        expect_has(b.data, "<span>Acme ID</span>");
        /* The built-in logo is drawn inline, so the accent can tint it. */
        expect_has(b.data, "<svg class=\"logo\"");
        expect_has(b.data, "<path class=\"logo-outer\"");
        expect_not(b.data, "<img src=\"/static/img/logo.svg\"");
        expect_has(b.data, i == 0 ? "Protected by Acme ID" : "由 Acme ID 提供安全保护");
        buf_free(&b);
    }
    /* A text that wants a value the handler did not give: no hole. */
    for (size_t i = 0; i < 2; i++) {
        struct ui_ctx c = ctx(locales[i]);
        c.notice = "notice.code_sent";
        c.error = "err.rate_limited";
        struct ui_challenge_view v = {.current = &factors[0], .code_sent = true};
        struct buf b;
        RENDER(b, "challenge-noarg", locales[i], true, ui_page_challenge(&b, &c, &v));
        expect_has(b.data, i == 0 ? "<p>We sent you a code.</p>" : "<p>验证码已发送。</p>");
        expect_has(b.data, i == 0 ? "<p>Too many codes sent. Try again later.</p>"
                                  : "<p>发送的验证码过多，请稍后重试。</p>");
        buf_free(&b);
    }
    /* The handler's own "back", a custom logo, and no error. */
    struct ui_ctx c = ctx("en");
    c.back = "/challenge?factor=f1&x=\"y\"";
    c.brand_logo = "/static/img/custom.svg";
    struct buf b;
    RENDER(b, "account-back", "en", true,
           ui_page_account(&b, &c, &(struct ui_account_view){.recovery_left = -1}));
    expect_has(b.data, "name=\"back\" value=\"/challenge?factor=f1&amp;x=&quot;y&quot;\"");
    expect_has(b.data, "<img src=\"/static/img/custom.svg\" alt=\"\"");
    expect_not(b.data, "role=\"alert\"");
    expect_not(b.data, "role=\"status\"");
    buf_free(&b);
}

/* Hostile values from every field a handler fills come out escaped. */
static void test_escaping(void **state)
{
    (void)state;
    struct ui_ctx c = ctx("en");
    c.app_name = HOSTILE;
    c.brand_name = HOSTILE;
    c.brand_logo = "\"><script>x</script>";
    c.error = "err.wrong_code";
    c.error_arg = HOSTILE;
    c.back = HOSTILE;
    struct ui_factor f = {
        .id = HOSTILE, .type = "<b>", .masked = HOSTILE, .active = true, .last_used_at = HOSTILE};
    struct ui_challenge_view cv = {
        .current = &f, .code_sent = true, .others = &f, .other_count = 1, .recovery_allowed = true};
    struct ui_account_view av = {
        .factors = &f, .factor_count = 1, .recovery_left = 2, .can_sms = true, .back_to_app = true};
    struct ui_bind_view bv = {.type = "sms", .step = 1, .country = "\"><x>", .value = HOSTILE};
    struct ui_bind_view bv2 = {
        .type = "email", .step = 2, .factor_id = HOSTILE, .masked = HOSTILE, .resend_after = 10};
    const char *codes[] = {HOSTILE};
    struct buf b;
    for (int page = 0; page < 9; page++) {
        buf_init(&b, 1u << 20);
        switch (page) {
        case 0:
            ui_page_challenge(&b, &c, &cv);
            break;
        case 1:
            ui_page_account(&b, &c, &av);
            break;
        case 2:
            ui_page_bind(&b, &c, &bv);
            break;
        case 3:
            ui_page_bind(&b, &c, &bv2);
            break;
        case 4:
            ui_page_totp(&b, &c, NULL, HOSTILE, HOSTILE, "otpauth://totp/" HOSTILE);
            break;
        case 5:
            ui_page_recovery_codes(&b, &c, codes, 1, HOSTILE, HOSTILE, HOSTILE);
            break;
        case 6:
            ui_page_enrol(&b, &c, true, true, true, true, true, false);
            break;
        case 7:
            ui_page_confirm(&b, &c, "remove", &f, 0);
            break;
        default:
            ui_page_message(&b, &c, "title.done", "body.done");
            break;
        }
        expect_not(b.data, "<script>alert");
        expect_not(b.data, "<script>x");
        expect_not(b.data, "<b>");
        expect_not(b.data, "<x>");
        expect_not(b.data, "\"'&\"");
        expect_has(b.data, "&lt;script&gt;");
        buf_free(&b);
    }
    struct ui_ctx bare = ctx("en");
    bare.csrf = NULL;
    bare.brand_name = HOSTILE;
    buf_init(&b, 1u << 16);
    ui_page_home(&b, &bare, HOSTILE, true);
    check_document(b.data, "en", false);
    expect_not(b.data, "<script>alert");
    buf_free(&b);
    buf_init(&b, 1u << 16);
    struct ui_outbox_item item = {.id = 7,
                                  .at_ms = 1700000000000,
                                  .channel = HOSTILE,
                                  .to = HOSTILE,
                                  .subject = HOSTILE,
                                  .text = HOSTILE "<script>alert(1)</script>",
                                  .code = "<script>",
                                  .has_html = true};
    ui_dev_outbox_begin(&b, &bare, 1, 7);
    ui_dev_outbox_item(&b, &bare, &item);
    ui_dev_outbox_end(&b, &bare, 1);
    check_document(b.data, "en", false);
    expect_not(b.data, "<script>alert");
    expect_has(b.data, "<mark>&lt;script&gt;</mark>");
    expect_has(b.data, "2023-11-14 22:13:20 UTC");
    buf_free(&b);
}

/* ---- the challenge ---- */

static const char *en_or(size_t i, const char *en, const char *zh)
{
    return i == 0 ? en : zh;
}

static void test_challenge(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const char *loc = locales[i];
        struct ui_ctx c = ctx(loc);
        struct buf b;

        /* SMS, nothing sent yet: only "Send code", never a code field. */
        struct ui_challenge_view v = {.current = &factors[0],
                                      .others = &factors[1],
                                      .other_count = 2,
                                      .recovery_allowed = true};
        RENDER(b, "challenge-send", loc, true, ui_page_challenge(&b, &c, &v));
        expect_has(b.data, "action=\"/challenge/send\"");
        expect_has(b.data, "name=\"factor_id\" value=\"f1\"");
        expect_not(b.data, "one-time-code");
        /* A masked number never wraps inside: no-break spaces. */
        expect_has(b.data, "+44&nbsp;••••&nbsp;••12&nbsp;34");
        expect_not(b.data, "+44 ••••");
        expect_has(b.data, "<details class=\"other-ways\">");
        /* The same order of methods as on every page: app, text, email. */
        assert_true(strstr(b.data, "factor=f3") < strstr(b.data, "factor=f2"));
        expect_has(b.data, "href=\"/challenge?factor=f2\"");
        expect_has(b.data, "href=\"/challenge?factor=f3\"");
        expect_has(b.data, "href=\"/challenge?method=recovery\"");
        expect_has(b.data, "action=\"/challenge/cancel\"");
        expect_has(b.data, i == 0 ? "Acme Mail wants to make sure it" : "Acme Mail 需要确认");
        expect_has(b.data, i == 0 ? "Send code" : "发送验证码");
        buf_free(&b);

        /* Sent: the code form and "Send again" with its countdown. */
        v.code_sent = true;
        v.resend_after = 25;
        RENDER(b, "challenge-code", loc, true, ui_page_challenge(&b, &c, &v));
        expect_has(b.data, "action=\"/challenge/verify\"");
        expect_has(b.data, "<label for=\"code\">");
        expect_has(b.data, "name=\"code\"");
        expect_has(b.data, "autocomplete=\"one-time-code\"");
        expect_has(b.data, "inputmode=\"numeric\"");
        expect_has(b.data, "pattern=\"[0-9]*\"");
        expect_has(b.data, "data-resend-after=\"25\"");
        expect_has(b.data, i == 0 ? "data-wait-label=\"Send again in %s s\">Send again</button>"
                                  : "data-wait-label=\"%s 秒后可重新发送\">重新发送</button>");
        expect_not(b.data, " disabled");
        expect_not(b.data, "href=\"/dev/outbox\"");
        buf_free(&b);
        /* In development the code page points at the outbox. */
        struct ui_ctx dc = c;
        dc.dev_outbox = true;
        RENDER(b, "challenge-code-dev", loc, true, ui_page_challenge(&b, &dc, &v));
        expect_has(b.data, "<a href=\"/dev/outbox\" target=\"_blank\" rel=\"noopener\">");
        expect_has(b.data, en_or(i, "Open the development outbox", "打开开发发件箱"));
        buf_free(&b);

        /* TOTP opens straight on the code form; step-up wording. */
        struct ui_challenge_view t = {.current = &factors[2], .stepup = true};
        RENDER(b, "challenge-totp", loc, true, ui_page_challenge(&b, &c, &t));
        expect_has(b.data, "action=\"/challenge/verify\"");
        expect_has(b.data, "autocomplete=\"one-time-code\"");
        expect_not(b.data, "action=\"/challenge/send\"");
        expect_not(b.data, "data-resend-after");
        expect_not(b.data, "<details");
        expect_has(b.data, i == 0 ? "Confirm it&#39;s you</h1>" : "确认是您本人</h1>");
        buf_free(&b);

        /* The recovery-code form: letters allowed, a way back. */
        struct ui_challenge_view r = {.current = &factors[0],
                                      .recovery = true,
                                      .others = &factors[1],
                                      .other_count = 1,
                                      .recovery_allowed = true};
        RENDER(b, "challenge-recovery", loc, true, ui_page_challenge(&b, &c, &r));
        expect_has(b.data, "action=\"/challenge/recovery\"");
        expect_has(b.data, "autocomplete=\"one-time-code\"");
        expect_not(b.data, "inputmode=\"numeric\"");
        expect_not(b.data, "pattern=");
        expect_has(b.data, "href=\"/challenge?factor=f1\"");
        expect_has(b.data, "href=\"/challenge?factor=f2\"");
        expect_not(b.data, "href=\"/challenge?method=recovery\"");
        expect_has(b.data, "name=\"back\" value=\"/challenge?method=recovery\"");
        buf_free(&b);

        /* Nothing left but the recovery path: the list opens by itself. */
        struct ui_challenge_view n = {.recovery_allowed = true};
        RENDER(b, "challenge-none", loc, true, ui_page_challenge(&b, &c, &n));
        expect_has(b.data, "<details class=\"other-ways\" open>");
        expect_has(b.data, "href=\"/challenge?method=recovery\"");
        expect_not(b.data, "one-time-code");
        buf_free(&b);
        /* Locked: only the recovery-code form and who to contact; no other
         * factor, no "send", no way around. */
        struct ui_challenge_view lk = {.current = &factors[0],
                                       .others = &factors[1],
                                       .other_count = 2,
                                       .recovery_allowed = true,
                                       .locked = true};
        RENDER(b, "challenge-locked", loc, true, ui_page_challenge(&b, &c, &lk));
        expect_has(b.data, "action=\"/challenge/recovery\"");
        expect_not(b.data, "action=\"/challenge/send\"");
        expect_not(b.data, "action=\"/challenge/verify\"");
        expect_not(b.data, "<details");
        expect_has(b.data, i == 0 ? "Your account is locked" : "您的账户已被锁定");
        expect_has(b.data, i == 0 ? "Contact your administrator" : "请联系管理员");
        buf_free(&b);
        c.brand_support = "help@acme.example";
        RENDER(b, "challenge-locked-support", loc, true, ui_page_challenge(&b, &c, &lk));
        expect_has(b.data,
                   i == 0 ? "Contact help@acme.example to unlock" : "请联系 help@acme.example");
        buf_free(&b);
        c.brand_support = NULL;
        struct ui_challenge_view n2 = {0};
        RENDER(b, "challenge-nothing", loc, true, ui_page_challenge(&b, &c, &n2));
        expect_not(b.data, "<details");
        expect_has(b.data, "action=\"/challenge/cancel\"");
        buf_free(&b);

        /* An email factor with an id that needs encoding in the URL. */
        struct ui_factor odd = {.id = "a b&c", .type = "email", .masked = "x@y"};
        struct ui_challenge_view o = {.current = &factors[1], .others = &odd, .other_count = 1};
        RENDER(b, "challenge-email", loc, true, ui_page_challenge(&b, &c, &o));
        expect_has(b.data, "href=\"/challenge?factor=a%20b%26c\"");
        expect_has(b.data, "a•••@example.com");
        buf_free(&b);
    }
}

/* ---- the account page ---- */

static void test_account(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const char *loc = locales[i];
        bool en = i == 0;
        struct ui_ctx c = ctx(loc);
        c.notice = "notice.preferred_set";
        struct buf b;
        struct ui_account_view v = {.factors = factors,
                                    .factor_count = 4,
                                    .recovery_left = 3,
                                    .can_sms = true,
                                    .can_email = true,
                                    .can_totp = true,
                                    .back_to_app = true};
        RENDER(b, "account", loc, true, ui_page_account(&b, &c, &v));
        expect_has(b.data, "<ul class=\"factors\">");
        assert_int_equal(count_of(b.data, "<li class=\"factor\">"), 4);
        expect_has(b.data, en ? ">Preferred<" : ">首选<");
        expect_has(b.data, en ? ">Last used<" : ">最近使用<");
        expect_has(b.data, en ? ">Not confirmed<" : ">未确认<");
        expect_has(b.data,
                   en ? "Last used 2026-11-24 10:00 UTC" : "上次使用：2026-11-24 10:00 UTC");
        expect_has(b.data, en ? ">Text message<" : ">短信<");
        expect_has(b.data, en ? ">Authenticator app<" : ">身份验证器应用<");
        /* Make preferred: not on the preferred one, not on a pending one. */
        assert_int_equal(count_of(b.data, "action=\"/account/preferred\""), 2);
        assert_int_equal(count_of(b.data, "action=\"/account/remove\""), 4);
        expect_has(b.data, "action=\"/account/recovery-codes\"");
        expect_has(b.data, "action=\"/account/disable\"");
        expect_has(b.data, "action=\"/account/done\"");
        expect_has(b.data, en ? "Back to Acme Mail" : "返回 Acme Mail");
        expect_has(b.data, "href=\"/account/add/sms\"");
        expect_has(b.data, "href=\"/account/add/email\"");
        expect_has(b.data, "href=\"/account/add/totp\"");
        /* Every list in one order: authenticator app, text message, email;
         * each method named as in the list of the user's methods. */
        assert_true(strstr(b.data, "/account/add/totp") < strstr(b.data, "/account/add/sms"));
        assert_true(strstr(b.data, "/account/add/sms") < strstr(b.data, "/account/add/email"));
        const char *methods = strstr(b.data, "<ul class=\"factors\">");
        assert_true(strstr(methods, "value=\"f3\"") < strstr(methods, "value=\"f1\""));
        assert_true(strstr(methods, "value=\"f1\"") < strstr(methods, "value=\"f2\""));
        const char *adds = strstr(b.data, "<ul class=\"methods\">");
        expect_has(adds, en ? "<span class=\"method-name\">Text message</span>"
                            : "<span class=\"method-name\">短信</span>");
        expect_not(b.data, en ? "Add a phone number" : "添加手机号码");
        expect_has(b.data, "+86&nbsp;•••&nbsp;••••&nbsp;5678");
        expect_has(b.data, en ? "Only 3 recovery codes left. Make a new set."
                              : "只剩 3 个恢复码，请生成新的一组。");
        expect_has(b.data, "name=\"back\" value=\"/account\"");
        buf_free(&b);

        /* Plenty of codes, no recovery offered, nothing allowed to add. */
        struct ui_account_view w = {.factors = factors, .factor_count = 1, .recovery_left = 8};
        RENDER(b, "account-plain", loc, true, ui_page_account(&b, &c, &w));
        expect_not(b.data, en ? "Only 8" : "只剩");
        expect_has(b.data, "action=\"/account/recovery-codes\"");
        expect_not(b.data, "/account/add/");
        expect_not(b.data, "action=\"/account/done\"");
        expect_not(b.data, "action=\"/account/preferred\"");
        buf_free(&b);
        w.recovery_left = -1;
        w.factor_count = 0;
        w.back_to_app = true;
        c.app_name = NULL;
        RENDER(b, "account-empty", loc, true, ui_page_account(&b, &c, &w));
        expect_not(b.data, "action=\"/account/recovery-codes\"");
        expect_not(b.data, "action=\"/account/disable\"");
        expect_not(b.data, "<ul class=\"factors\">");
        expect_has(b.data, en ? "Back to the app" : "返回应用");
        buf_free(&b);

        /* Mandatory: no "Turn off", and the one active factor stays. */
        struct ui_account_view m = {
            .factors = factors, .factor_count = 1, .recovery_left = 8, .mandatory = true};
        RENDER(b, "account-mandatory", loc, true, ui_page_account(&b, &c, &m));
        expect_not(b.data, "action=\"/account/disable\"");
        expect_not(b.data, "action=\"/account/remove\"");
        expect_has(b.data, en ? "your last method cannot be removed" : "无法删除最后一个验证方式");
        buf_free(&b);
        m.factor_count = 4; /* three of them active: each may go */
        RENDER(b, "account-mandatory-many", loc, true, ui_page_account(&b, &c, &m));
        expect_not(b.data, "action=\"/account/disable\"");
        assert_int_equal(count_of(b.data, "action=\"/account/remove\""), 4);
        buf_free(&b);
    }
}

/* ---- passkeys ---- */

#define OPTIONS "{\"challenge\":\"abc\",\"rpId\":\"<x>\"}"

static void test_passkey_pages(void **state)
{
    (void)state;
    struct ui_factor pk = {.id = "f9", .type = "webauthn", .active = true, .last_used = true};
    for (size_t i = 0; i < 2; i++) {
        const char *loc = locales[i];
        bool en = i == 0;
        struct ui_ctx c = ctx(loc);
        struct buf b;

        /* The challenge on a passkey: a form passkey.js runs, the options in
         * an attribute (escaped), the note for browsers without script. */
        struct ui_challenge_view v = {.current = &pk,
                                      .others = &factors[2],
                                      .other_count = 1,
                                      .recovery_allowed = true,
                                      .remember_days = 30,
                                      .passkey_id = "wch_abc",
                                      .passkey_options = OPTIONS};
        RENDER(b, "challenge-passkey", loc, true, ui_page_challenge(&b, &c, &v));
        expect_has(b.data, "<script src=\"/static/js/passkey.js\" defer></script>");
        expect_has(b.data, "action=\"/challenge/passkey\" data-passkey=\"get\" data-options=\""
                           "{&quot;challenge&quot;:&quot;abc&quot;,&quot;rpId&quot;:&quot;&lt;x&gt;"
                           "&quot;}\"");
        expect_has(b.data, "<input type=\"hidden\" name=\"challenge_id\" value=\"wch_abc\">");
        expect_has(b.data, "<input type=\"hidden\" name=\"factor_id\" value=\"f9\">");
        expect_has(b.data, "<input type=\"hidden\" name=\"credential\" value=\"\">");
        expect_has(b.data, "name=\"remember\"");
        expect_has(b.data, "data-passkey-button hidden>");
        expect_has(b.data, en ? ">Use your passkey<" : ">使用通行密钥<");
        expect_has(b.data, en ? ">Passkey or security key<" : ">通行密钥或安全密钥<");
        expect_has(b.data, "<noscript>");
        expect_has(b.data, en ? "Passkeys need JavaScript" : "通行密钥需要启用 JavaScript");
        expect_has(b.data, "data-passkey-unsupported hidden");
        expect_has(b.data, "data-msg-cancelled=\"");
        /* No code field, and the other ways stay. */
        expect_not(b.data, "name=\"code\"");
        expect_has(b.data, "href=\"/challenge?factor=f3\"");
        expect_has(b.data, "href=\"/challenge?method=recovery\"");
        buf_free(&b);

        /* A code factor's page loads no passkey script. */
        struct ui_challenge_view t = {.current = &factors[2]};
        RENDER(b, "challenge-totp-nopasskey", loc, true, ui_page_challenge(&b, &c, &t));
        expect_not(b.data, "passkey.js");
        buf_free(&b);

        /* Only a passkey will do: it says so. */
        struct ui_challenge_view ph = {
            .current = &pk, .passkey_id = "wch_abc", .passkey_options = OPTIONS, .phr = true};
        RENDER(b, "challenge-phr", loc, true, ui_page_challenge(&b, &c, &ph));
        expect_has(b.data, en ? "Acme Mail asks for a passkey for this sign-in."
                              : "Acme Mail 要求本次登录使用通行密钥。");
        expect_not(b.data, "method=recovery");
        buf_free(&b);

        /* Adding one. */
        struct ui_passkey_view a = {
            .challenge_id = "wch_def", .options = OPTIONS, .cancel = "/enrol"};
        RENDER(b, "passkey-add", loc, true, ui_page_passkey(&b, &c, &a));
        expect_has(b.data, "action=\"/account/add/webauthn\" data-passkey=\"create\"");
        expect_has(b.data, "<input type=\"hidden\" name=\"challenge_id\" value=\"wch_def\">");
        expect_has(b.data, "<label for=\"passkey-name\">");
        expect_has(b.data, "maxlength=\"64\"");
        expect_has(b.data, en ? ">Create a passkey<" : ">创建通行密钥<");
        expect_has(b.data, "href=\"/enrol\"");
        expect_has(b.data, "name=\"back\" value=\"/account/add/webauthn\"");
        expect_has(b.data, en ? "Go back and choose another method" : "请返回选择其他方式");
        expect_has(b.data, "passkey.js");
        buf_free(&b);

        /* The account page: the passkey with its name, when added, rename. */
        struct ui_factor list[2] = {factors[2], pk};
        list[1].masked = "Work laptop";
        list[1].created_at = "2026-12-01 08:00 UTC";
        list[1].last_used_at = "2026-12-02 09:00 UTC";
        struct ui_account_view av = {
            .factors = list, .factor_count = 2, .recovery_left = 8, .can_passkey = true};
        RENDER(b, "account-passkey", loc, true, ui_page_account(&b, &c, &av));
        expect_has(b.data, "href=\"/account/add/webauthn\"");
        expect_has(b.data, en ? ">Passkey or security key<" : ">通行密钥或安全密钥<");
        expect_has(b.data, ">Work laptop<");
        expect_has(b.data, en ? "Added 2026-12-01 08:00 UTC" : "添加于 2026-12-01 08:00 UTC");
        assert_int_equal(count_of(b.data, "action=\"/account/rename\""), 1);
        expect_has(b.data, "name=\"name\" type=\"text\" maxlength=\"64\" required "
                           "autocomplete=\"off\" value=\"Work laptop\"");
        buf_free(&b);

        /* Enrolment: the passkey first; under phr nothing else, no skip. */
        RENDER(b, "enrol-passkey", loc, true,
               ui_page_enrol(&b, &c, false, true, true, true, true, false));
        const char *first = strstr(b.data, "href=\"/account/add/");
        assert_non_null(first);
        assert_true(strncmp(first, "href=\"/account/add/webauthn\"", 28) == 0);
        expect_has(b.data, "action=\"/enrol/skip\"");
        buf_free(&b);
        RENDER(b, "enrol-phr", loc, true,
               ui_page_enrol(&b, &c, false, true, true, true, true, true));
        assert_int_equal(count_of(b.data, "href=\"/account/add/"), 1);
        expect_has(b.data, "href=\"/account/add/webauthn\"");
        expect_not(b.data, "action=\"/enrol/skip\"");
        expect_has(b.data, en ? "Acme Mail asks for a passkey for this sign-in. Add one"
                              : "Acme Mail 要求本次登录使用通行密钥。请添加");
        buf_free(&b);
    }
}

/* When something happened, as people say it, in both languages. */
static void test_time_ago(void **state)
{
    (void)state;
    const int64_t now = 1796500000000LL; /* 2026-12-05 */
    char t[48];
    struct {
        int64_t ago_s;
        const char *en, *zh;
    } rows[] = {
        {0, "just now", "刚刚"},
        {59, "just now", "刚刚"},
        {60, "1 minute ago", "1 分钟前"},
        {5 * 60 + 40, "5 minutes ago", "5 分钟前"},
        {3600, "1 hour ago", "1 小时前"},
        {3 * 3600 + 59 * 60, "3 hours ago", "3 小时前"},
        {86400, "1 day ago", "1 天前"},
        {6 * 86400, "6 days ago", "6 天前"},
        {8 * 86400, "27 Nov 2026", "2026年11月27日"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ui_time_ago("en", now, now - rows[i].ago_s * 1000, t, sizeof(t));
        assert_string_equal(t, rows[i].en);
        ui_time_ago("zh-CN", now, now - rows[i].ago_s * 1000, t, sizeof(t));
        assert_string_equal(t, rows[i].zh);
    }
    ui_time_ago("en", now, now + 5000, t, sizeof(t)); /* a clock a little ahead */
    assert_string_equal(t, "just now");
    ui_date("en", now + 30 * 86400000LL, t, sizeof(t));
    assert_string_equal(t, "4 Jan 2027");
}

/* POST /lang's "back": a fixed set of this origin's paths, nothing else. */
static void test_back_paths(void **state)
{
    (void)state;
    const char *good[] = {"/",
                          "/challenge",
                          "/challenge?factor=f_abc123",
                          "/challenge?method=recovery",
                          "/account",
                          "/account/add/sms?step=2",
                          "/account/add/totp?factor=f_1",
                          "/enrol",
                          "/account/add/webauthn",
                          "/dev/outbox"};
    const char *bad[] = {NULL,
                         "",
                         "//evil.example",
                         "/\t/evil.example",
                         "/\\evil.example",
                         "http://evil.example/",
                         "/challenge/../admin",
                         "/admin",
                         "/account?x=<script>",
                         "/challenge?next=//evil.example",
                         "/account\r\nSet-Cookie: a=b",
                         "/account%2F%2Fevil",
                         "/challengex",
                         "/challenge#frag",
                         "/account?a=b c"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!pages_back_ok(good[i]))
            fail_msg("refused %s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (pages_back_ok(bad[i]))
            fail_msg("accepted %s", bad[i]);
}

static void test_duration(void **state)
{
    (void)state;
    char t[64];
    struct {
        int64_t s;
        const char *en, *zh;
    } rows[] = {
        {0, "1 second", "1 秒"},
        {1, "1 second", "1 秒"},
        {30, "30 seconds", "30 秒"},
        {59, "59 seconds", "59 秒"},
        {60, "about 1 minute", "约 1 分钟"},
        {89, "about 1 minute", "约 1 分钟"},
        {90, "about 2 minutes", "约 2 分钟"},
        {3000, "about 50 minutes", "约 50 分钟"},
        {3569, "about 59 minutes", "约 59 分钟"},
        {3570, "about 1 hour", "约 1 小时"},
        {5400, "about 2 hours", "约 2 小时"},
        {86399, "about 1 day", "约 1 天"},
        {3 * 86400, "about 3 days", "约 3 天"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ui_duration("en", rows[i].s, t, sizeof(t));
        assert_string_equal(t, rows[i].en);
        ui_duration("zh-CN", rows[i].s, t, sizeof(t));
        assert_string_equal(t, rows[i].zh);
    }
    ui_duration("en", 3000, t, 6);
    assert_string_equal(t, "about");
}

/* ---- binding a phone or an e-mail ---- */

static void test_bind(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const char *loc = locales[i];
        bool en = i == 0;
        struct ui_ctx c = ctx(loc);
        struct buf b;
        struct ui_bind_view v = {.type = "sms", .step = 1};
        RENDER(b, "bind-sms", loc, true, ui_page_bind(&b, &c, &v));
        expect_has(b.data, "action=\"/account/add/sms\"");
        expect_has(b.data, "<select id=\"country\" name=\"country\"");
        expect_has(
            b.data,
            en ? "<option value=\"gb\" data-alt=\"gb\" selected>United Kingdom (+44)</option>"
               : "<option value=\"cn\" data-alt=\"cn China mainland\" selected>中国大陆 "
                 "(+86)</option>");
        assert_int_equal(count_of(b.data, " selected>"), 1);
        /* The full E.164 list, each region once, in the page's order. */
        assert_int_equal(count_of(b.data, "<option "), ui_country_count);
        expect_has(b.data, en ? ">Ukraine (+380)<" : ">乌克兰 (+380)<");
        expect_has(b.data, en ? ">Åland Islands (+358)<" : ">奥兰群岛 (+358)<");
        if (en) /* alphabetical, Å with the A's */
            assert_true(strstr(b.data, ">Albania") < strstr(b.data, ">Åland") ||
                        strstr(b.data, ">Åland") < strstr(b.data, ">Algeria"));
        else /* pinyin: 阿 (a) before 英 (ying) before 中 (zhong) */
            assert_true(strstr(b.data, ">阿根廷") < strstr(b.data, ">英国") &&
                        strstr(b.data, ">英国") < strstr(b.data, ">中国大陆"));
        expect_has(b.data, "data-filter-label=\"");
        expect_has(b.data, "type=\"tel\"");
        expect_has(b.data, "autocomplete=\"tel-national\"");
        expect_has(b.data, "name=\"phone\"");
        expect_has(b.data, "<label for=\"phone\">");
        expect_has(b.data, "<label for=\"country\">");
        expect_has(b.data, "name=\"back\" value=\"/account/add/sms\"");
        buf_free(&b);

        /* A bare calling code picks its main region (+1: the United
         * States); the typed value comes back with the error beside the
         * field, not at the top. */
        struct ui_ctx ce = c;
        ce.error = "err.invalid_phone";
        struct ui_bind_view v1 = {.type = "sms", .step = 1, .country = "1", .value = "0712"};
        RENDER(b, "bind-sms-error", loc, true, ui_page_bind(&b, &ce, &v1));
        assert_int_equal(count_of(b.data, " selected>"), 1);
        expect_has(b.data, en ? "<option value=\"us\" data-alt=\"us\" selected>United States (+1)"
                              : "selected>美国 (+1)");
        expect_has(b.data, "value=\"0712\"");
        expect_has(b.data, "aria-describedby=\"phone-hint phone-error\" aria-invalid=\"true\"");
        expect_has(b.data,
                   en ? "<p class=\"field-error\" id=\"phone-error\">Enter a valid phone "
                        "number.</p>"
                      : "<p class=\"field-error\" id=\"phone-error\">请输入有效的手机号码。</p>");
        expect_not(b.data, "role=\"alert\"");
        assert_true(strstr(b.data, "id=\"phone-error\"") < strstr(b.data, "<input id=\"phone\""));
        buf_free(&b);
        /* An ISO code picks that very region (+1 Canada, not the US). */
        struct ui_bind_view vc = {.type = "sms", .step = 1, .country = "CA"};
        RENDER(b, "bind-sms-ca", loc, true, ui_page_bind(&b, &c, &vc));
        expect_has(b.data, en ? "<option value=\"ca\" data-alt=\"ca\" selected>Canada (+1)"
                              : "<option value=\"ca\" data-alt=\"ca Canada\" selected>加拿大 (+1)");
        assert_int_equal(count_of(b.data, " selected>"), 1);
        buf_free(&b);
        /* A code the list lacks still shows, selected. */
        struct ui_bind_view v2 = {.type = "sms", .step = 1, .country = "9999"};
        RENDER(b, "bind-sms-other", loc, true, ui_page_bind(&b, &c, &v2));
        expect_has(b.data, "<option value=\"9999\" selected>");
        buf_free(&b);
        /* Another error keeps the top alert and points the field at it. */
        struct ui_ctx cd = c;
        cd.error = "err.delivery";
        RENDER(b, "bind-sms-delivery", loc, true, ui_page_bind(&b, &cd, &v));
        expect_has(b.data, "role=\"alert\"");
        expect_has(b.data, "aria-describedby=\"phone-hint form-error\"");
        expect_not(b.data, "aria-invalid");
        buf_free(&b);

        struct ui_bind_view e = {.type = "email", .step = 1, .value = "a@b.c"};
        RENDER(b, "bind-email", loc, true, ui_page_bind(&b, &c, &e));
        expect_has(b.data, "action=\"/account/add/email\"");
        expect_has(b.data, "type=\"email\"");
        expect_has(b.data, "autocomplete=\"email\"");
        expect_has(b.data, "name=\"email\"");
        expect_has(b.data, "value=\"a@b.c\"");
        expect_not(b.data, "<select");
        buf_free(&b);
        struct ui_ctx cm = c;
        cm.error = "err.invalid_email";
        struct ui_bind_view eb = {.type = "email", .step = 1, .value = "alice@"};
        RENDER(b, "bind-email-error", loc, true, ui_page_bind(&b, &cm, &eb));
        expect_has(b.data, "value=\"alice@\"");
        expect_has(b.data, "aria-describedby=\"email-error\" aria-invalid=\"true\"");
        expect_has(b.data, "<p class=\"field-error\" id=\"email-error\">");
        buf_free(&b);

        struct ui_bind_view s2 = {.type = "sms",
                                  .step = 2,
                                  .factor_id = "f9",
                                  .masked = "+44 •••• 34",
                                  .resend_after = 60};
        RENDER(b, "bind-sms-code", loc, true, ui_page_bind(&b, &c, &s2));
        expect_has(b.data, "action=\"/account/verify\"");
        expect_has(b.data, "action=\"/account/resend\"");
        assert_int_equal(count_of(b.data, "name=\"factor_id\" value=\"f9\""), 2);
        expect_has(b.data, "autocomplete=\"one-time-code\"");
        expect_has(b.data, "inputmode=\"numeric\"");
        expect_has(b.data, "data-resend-after=\"60\"");
        expect_has(b.data, "+44&nbsp;••••&nbsp;34");
        expect_has(b.data, "href=\"/account/add/sms\"");
        buf_free(&b);
        struct ui_bind_view e2 = {
            .type = "email", .step = 2, .factor_id = "f8", .masked = "a•••@b.c"};
        RENDER(b, "bind-email-code", loc, true, ui_page_bind(&b, &c, &e2));
        expect_has(b.data, "data-resend-after=\"0\"");
        expect_has(b.data, en ? "Confirm your email address</h1>" : "验证电子邮箱</h1>");
        buf_free(&b);
    }
}

/* ---- the authenticator app, recovery codes, enrolment ---- */

static void test_totp(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const char *loc = locales[i];
        struct ui_ctx c = ctx(loc);
        char *svg = ui_qr_svg("otpauth://totp/Acme:alice?secret=JBSWY3DPEHPK3PXP&issuer=Acme",
                              ui_t(loc, "totp.qr_label"));
        assert_non_null(svg);
        struct buf b;
        RENDER(b, "totp", loc, true,
               ui_page_totp(&b, &c, svg, "JBSW Y3DP EHPK 3PXP", "f5",
                            "otpauth://totp/Acme:alice?secret=JBSWY3DPEHPK3PXP&issuer=Acme"));
        expect_has(b.data, "<div class=\"qr\"><svg ");
        /* Groups of four that never break inside; lines break between. */
        expect_has(b.data, "<span class=\"group\">JBSW</span> <span class=\"group\">Y3DP</span> "
                           "<span class=\"group\">EHPK</span> <span class=\"group\">3PXP</span>");
        /* For the phone that holds the app: a plain link to otpauth:. */
        expect_has(b.data, "<a class=\"button secondary\" href=\"otpauth://totp/"
                           "Acme:alice?secret=JBSWY3DPEHPK3PXP&amp;issuer=Acme\"");
        expect_has(b.data,
                   en_or(i, ">Open in authenticator app</a>", ">在身份验证器应用中打开</a>"));
        expect_has(b.data, "action=\"/account/verify\"");
        expect_has(b.data, "name=\"factor_id\" value=\"f5\"");
        expect_has(b.data, "autocomplete=\"one-time-code\"");
        expect_has(b.data, "data-copy=\"totp-secret\"");
        expect_has(b.data, "name=\"back\" value=\"/account/add/totp\"");
        buf_free(&b);
        free(svg);
        /* Without a QR code the key alone still works. */
        RENDER(b, "totp-noqr", loc, true, ui_page_totp(&b, &c, NULL, "ABCD", "f5", NULL));
        expect_not(b.data, "<svg class=\"qr-code\"");
        expect_has(b.data, ">ABCD</span>");
        expect_not(b.data, "otpauth:");
        buf_free(&b);
        /* Only an otpauth: URI becomes a link. */
        RENDER(b, "totp-badlink", loc, true,
               ui_page_totp(&b, &c, NULL, "ABCD", "f5", "javascript:alert(1)"));
        expect_not(b.data, "javascript:");
        buf_free(&b);
    }
}

static void test_recovery_codes(void **state)
{
    (void)state;
    const char *codes[10] = {"abcd-efgh-ijkl-mnop", "qrst-uvwx-yz23-4567", "aaaa-bbbb-cccc-dddd",
                             "eeee-ffff-gggg-hhhh", "iiii-jjjj-kkkk-llll", "mmmm-nnnn-oooo-pppp",
                             "qqqq-rrrr-ssss-tttt", "uuuu-vvvv-wwww-xxxx", "yyyy-zzzz-2222-3333",
                             "4444-5555-6666-7777"};
    for (size_t i = 0; i < 2; i++) {
        const char *loc = locales[i];
        struct ui_ctx c = ctx(loc);
        struct buf b;
        RENDER(b, "recovery", loc, false,
               ui_page_recovery_codes(&b, &c, codes, 10, "/account/continue", "Alice@Example.com",
                                      "2026-12-05"));
        expect_has(b.data, "<ol class=\"codes\" id=\"recovery-codes\"");
        assert_int_equal(count_of(b.data, "<li><code>"), 10);
        expect_has(b.data, "<li><code>abcd-efgh-ijkl-mnop</code></li>");
        expect_has(b.data, "data-copy=\"recovery-codes\"");
        expect_has(b.data, "data-download=\"recovery-codes\"");
        /* Named after the brand and the account; whose and when, inside. */
        expect_has(b.data, "data-filename=\"acme-id-recovery-codes-alice-example-com.txt\"");
        expect_has(b.data, en_or(i, "data-account=\"Account: Alice@Example.com\"",
                                 "data-account=\"账户：Alice@Example.com\""));
        expect_has(b.data, en_or(i, "data-made=\"Made on 2026-12-05 (UTC)\"",
                                 "data-made=\"生成日期：2026-12-05（UTC）\""));
        expect_has(b.data, "data-print");
        expect_has(b.data, "data-js-only hidden");
        expect_has(b.data, "action=\"/account/continue\"");
        expect_has(b.data, i == 0 ? "Each code works only once." : "每个恢复码只能使用一次。");
        expect_has(b.data, "page-recovery");
        buf_free(&b);
    }
    /* Nothing usable in the names: a fallback, never an empty part. */
    struct ui_ctx c = ctx("en");
    c.brand_name = "登录";
    struct buf b;
    RENDER(b, "recovery-fallback", "en", false,
           ui_page_recovery_codes(&b, &c, codes, 10, "/account/continue", "", NULL));
    expect_has(b.data, "data-filename=\"otpgate-recovery-codes-account.txt\"");
    expect_not(b.data, "data-made");
    buf_free(&b);
    /* The print stylesheet keeps only the codes. */
    const char *src = getenv("OTPGATE_SOURCE_DIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/static/css/otpgate.css", src ? src : "../..");
    FILE *f = fopen(path, "r");
    if (f) {
        static char css[1 << 16];
        size_t n = fread(css, 1, sizeof(css) - 1, f);
        css[n] = '\0';
        fclose(f);
        expect_has(css, "@media print");
        expect_has(css, ".page-recovery main > :not(h1):not(ol.codes)");
        expect_has(css, "--accent");
        expect_has(css, ":focus-visible");
        expect_has(css, "prefers-color-scheme: dark");
    }
}

static void test_enrol(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const char *loc = locales[i];
        struct ui_ctx c = ctx(loc);
        struct buf b;
        RENDER(b, "enrol", loc, true, ui_page_enrol(&b, &c, false, true, true, true, false, false));
        expect_has(b.data, "href=\"/account/add/sms\"");
        expect_has(b.data, "href=\"/account/add/email\"");
        expect_has(b.data, "href=\"/account/add/totp\"");
        expect_has(b.data, "action=\"/enrol/skip\"");
        expect_has(b.data, "name=\"back\" value=\"/enrol\"");
        /* The account page's order and names (factor.*). */
        assert_true(strstr(b.data, "/account/add/totp") < strstr(b.data, "/account/add/sms"));
        assert_true(strstr(b.data, "/account/add/sms") < strstr(b.data, "/account/add/email"));
        expect_has(b.data, en_or(i, "<span class=\"method-name\">Email</span>",
                                 "<span class=\"method-name\">电子邮件</span>"));
        buf_free(&b);
        RENDER(b, "enrol-required", loc, true,
               ui_page_enrol(&b, &c, true, false, true, false, false, false));
        expect_not(b.data, "action=\"/enrol/skip\"");
        expect_not(b.data, "href=\"/account/add/sms\"");
        expect_has(b.data, "href=\"/account/add/email\"");
        expect_has(b.data, i == 0 ? "Acme Mail requires two-step verification"
                                  : "Acme Mail 要求开启两步验证");
        buf_free(&b);
        RENDER(b, "enrol-none", loc, true,
               ui_page_enrol(&b, &c, true, false, false, false, false, false));
        expect_not(b.data, "/account/add/");
        expect_has(b.data, ui_t(loc, "enrol.none"));
        buf_free(&b);
    }
}

/* ---- confirmations and messages ---- */

static void test_confirm(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const char *loc = locales[i];
        struct ui_ctx c = ctx(loc);
        struct buf b;
        RENDER(b, "confirm-remove", loc, true, ui_page_confirm(&b, &c, "remove", &factors[1], 0));
        expect_has(b.data, "action=\"/account/remove\"");
        expect_has(b.data, "name=\"factor_id\" value=\"f2\"");
        expect_has(b.data, "name=\"confirm\" value=\"1\"");
        expect_has(b.data, "a•••@example.com");
        expect_has(b.data, "href=\"/account\"");
        buf_free(&b);
        RENDER(b, "confirm-disable", loc, true, ui_page_confirm(&b, &c, "disable", NULL, 0));
        expect_has(b.data, "action=\"/account/disable\"");
        expect_has(b.data, "name=\"confirm\" value=\"1\"");
        expect_not(b.data, "name=\"factor_id\"");
        buf_free(&b);
        /* Replacing recovery codes says how many unused ones it voids. */
        RENDER(b, "confirm-recovery", loc, true,
               ui_page_confirm(&b, &c, "recovery-codes", NULL, 7));
        expect_has(b.data, "action=\"/account/recovery-codes\"");
        expect_has(b.data, "name=\"confirm\" value=\"1\"");
        expect_has(b.data,
                   i == 0 ? "You have 7 unused recovery codes." : "您还有 7 个未使用的恢复码");
        buf_free(&b);
        /* An unknown action never becomes a URL. */
        RENDER(b, "confirm-bogus", loc, false,
               ui_page_confirm(&b, &c, "../../evil", &factors[0], 3));
        expect_not(b.data, "evil");
        expect_not(b.data, "name=\"confirm\"");
        buf_free(&b);
    }
}

static void test_messages(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {{"title.link_invalid", "body.link_invalid"},
                                           {"title.session_expired", "body.session_expired"},
                                           {"title.done", "body.done"},
                                           {"title.error", "body.error"}};
    for (size_t i = 0; i < 2; i++) {
        for (size_t k = 0; k < 4; k++) {
            struct ui_ctx c = ctx(locales[i]);
            struct buf b;
            RENDER(b, pairs[k][0], locales[i], false,
                   ui_page_message(&b, &c, pairs[k][0], pairs[k][1]));
            struct buf want;
            buf_init(&want, 4096);
            buf_append_str(&want, "<h1>");
            ui_html_escape(&want, ui_t(locales[i], pairs[k][0]));
            buf_append_str(&want, "</h1>");
            expect_has(b.data, want.data);
            buf_clear(&want);
            ui_html_escape(&want, ui_t(locales[i], pairs[k][1]));
            expect_has(b.data, want.data);
            buf_free(&want);
            buf_free(&b);
        }
        /* With the handler's "back", the switch appears; without a csrf
         * session it still posts (the token is empty). */
        struct ui_ctx c = ctx(locales[i]);
        c.back = "/account";
        struct buf b;
        RENDER(b, "message-back", locales[i], true,
               ui_page_message(&b, &c, "title.done", "body.done"));
        buf_free(&b);
    }
}

static void test_home_and_outbox(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const char *loc = locales[i];
        struct ui_ctx c = ctx(loc);
        c.csrf = NULL; /* no session on these pages */
        c.brand_name = "otpgate";
        struct buf b;
        RENDER(b, "home", loc, false, ui_page_home(&b, &c, "http://127.0.0.1:8080", true));
        expect_has(b.data, en_or(i, "otpgate is running</h1>", "otpgate 正在运行</h1>"));
        expect_has(b.data, "<code>http://127.0.0.1:8080</code>");
        /* What to do next: register an app, the demo, the outbox, the console. */
        expect_has(b.data, "<code>otpgate app add --name &quot;My app&quot; --redirect-uri "
                           "https://app.example.com/callback</code>");
        expect_has(b.data, "<code>make demo</code>");
        expect_has(b.data, "<a href=\"/dev/outbox\">");
        expect_has(b.data, "<code>otpgate admin add NAME</code>");
        expect_has(b.data, "<a href=\"/admin\">");
        buf_free(&b);
        /* Not in development: no outbox, no demo. */
        RENDER(b, "home-prod", loc, false, ui_page_home(&b, &c, "https://mfa.example.com", false));
        expect_not(b.data, "/dev/outbox");
        expect_not(b.data, "make demo");
        expect_has(b.data, "<a href=\"/admin\">");
        buf_free(&b);

        /* The outbox: newest first as given, the code marked in the text
         * and shown apart, the HTML part framed with a sandbox. */
        struct ui_outbox_item mail = {.id = 12,
                                      .at_ms = 1700000001000,
                                      .channel = "email",
                                      .to = "a@example.com",
                                      .subject = "Your code: 123456",
                                      .text = "Your code is:\n\n    123456\n",
                                      .code = "123456",
                                      .has_html = true};
        struct ui_outbox_item sms = {.id = 11,
                                     .at_ms = 1700000000000,
                                     .channel = "sms",
                                     .to = "+447700900123",
                                     .subject = "",
                                     .text = "Acme: 654321\n\n@127.0.0.1 #654321",
                                     .code = "654321"};
        RENDER(b, "outbox", loc, false, {
            ui_dev_outbox_begin(&b, &c, 2, 12);
            ui_dev_outbox_item(&b, &c, &mail);
            ui_dev_outbox_item(&b, &c, &sms);
            ui_dev_outbox_end(&b, &c, 2);
        });
        assert_int_equal(count_of(b.data, "<li class=\"outbox-item\">"), 2);
        expect_has(b.data, "data-outbox-latest=\"12\"");
        expect_has(b.data, "<mark class=\"code\" id=\"code-12\">123456</mark>");
        expect_has(b.data, "<pre class=\"outbox-sms\">Acme: <mark>654321</mark>\n\n@127.0.0.1 "
                           "#<mark>654321</mark></pre>");
        expect_has(b.data, "<iframe class=\"outbox-html\" sandbox src=\"/dev/outbox/12/html\"");
        expect_has(b.data, "<a href=\"/dev/outbox/12/html\">");
        expect_not(b.data, "/dev/outbox/11/html");
        expect_has(b.data, "<a class=\"button small secondary\" href=\"/dev/outbox\">");
        assert_true(strstr(b.data, "code-12") < strstr(b.data, "654321"));
        buf_free(&b);
        RENDER(b, "outbox-empty", loc, false, {
            ui_dev_outbox_begin(&b, &c, 0, 0);
            ui_dev_outbox_end(&b, &c, 0);
        });
        expect_has(b.data, en_or(i, "No messages yet.", "还没有消息。"));
        expect_has(b.data, "data-outbox-latest=\"0\"");
        expect_not(b.data, "<ol");
        buf_free(&b);
        /* The error pages of unknown paths, in both languages. */
        RENDER(b, "not-found", loc, false,
               ui_page_message(&b, &c, "title.not_found", "body.not_found"));
        expect_has(b.data, en_or(i, "<h1>Page not found</h1>", "<h1>找不到该页面</h1>"));
        buf_free(&b);
    }
}

/* The calling-code table: every region once, digits only, both names, a
 * Chinese order that holds every row, and the browser's region. */
static void test_countries(void **state)
{
    (void)state;
    assert_true(ui_country_count >= 240);
    bool seen[1024] = {false};
    for (size_t i = 0; i < ui_country_count; i++) {
        const struct ui_country *k = &ui_countries[i];
        assert_int_equal(strlen(k->iso), 2);
        assert_true(strlen(k->code) >= 1 && strlen(k->code) <= 4);
        for (const char *d = k->code; *d; d++)
            assert_true(*d >= '0' && *d <= '9');
        assert_true(k->en[0] && k->zh[0]);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(k->iso, ui_countries[j].iso);
        assert_true(ui_countries_zh_order[i] < ui_country_count);
        assert_false(seen[ui_countries_zh_order[i]]);
        seen[ui_countries_zh_order[i]] = true;
    }
    /* A shared code has exactly one main region. */
    static const char *const shared[][2] = {{"1", "us"},  {"7", "ru"},  {"44", "gb"},
                                            {"47", "no"}, {"61", "au"}, {"262", "re"}};
    for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
        assert_string_equal(ui_country_by_code(shared[i][0])->iso, shared[i][1]);
    assert_string_equal(ui_country_by_code("86")->iso, "cn");
    assert_null(ui_country_by_code("9999"));
    assert_string_equal(ui_country_by_iso("GB")->code, "44");
    assert_null(ui_country_by_iso("zz"));
    assert_null(ui_country_by_iso("gbr"));
    assert_null(ui_country_by_iso(NULL));
    static const char *const al[][2] = {
        {"en-GB,en;q=0.9", "44"},
        {"zh-CN,zh;q=0.9", "86"},
        {"de-DE", "49"},
        {"de", "49"},
        {"de,en-US;q=0.7", "49"},
        {"zh-Hant-TW", "886"},
        {"en-US", "1"},
        {"fr-CH, fr;q=0.9", "41"},
        {"es-419,es;q=0.9", "34"},
        {"pt_BR", "55"},
        {"  ja ", "81"},
        {"en-ca", "1"},
    };
    for (size_t i = 0; i < sizeof(al) / sizeof(al[0]); i++) {
        const struct ui_country *k = ui_country_from_accept_language(al[i][0]);
        if (!k || strcmp(k->code, al[i][1]) != 0)
            fail_msg("%s gave %s, not +%s", al[i][0], k ? k->code : "nothing", al[i][1]);
    }
    assert_string_equal(ui_country_from_accept_language("en-CA")->iso, "ca");
    assert_null(ui_country_from_accept_language(NULL));
    assert_null(ui_country_from_accept_language(""));
    assert_null(ui_country_from_accept_language("*"));
    assert_null(ui_country_from_accept_language("qq-ZZ"));
    assert_null(ui_country_from_accept_language("x-klingon"));
}

/* ---- QR code and brand colour ---- */

/* Sums the dark modules of the path of an SVG from ui_qr_svg. */
static long svg_dark_modules(const char *svg, int *quiet_ok, int size)
{
    const char *d = strstr(svg, " d=\"");
    assert_non_null(d);
    d += 4;
    long total = 0;
    *quiet_ok = 1;
    while (*d == 'M') {
        char *end;
        long x = strtol(d + 1, &end, 10);
        assert_int_equal(*end, ' ');
        long y = strtol(end + 1, &end, 10);
        assert_int_equal(*end, 'h');
        long run = strtol(end + 1, &end, 10);
        assert_true(strncmp(end, "v1h-", 4) == 0);
        long back = strtol(end + 4, &end, 10);
        assert_int_equal(back, run);
        assert_int_equal(*end, 'z');
        d = end + 1;
        if (x < 4 || y < 4 || x + run > size - 4 || y >= size - 4)
            *quiet_ok = 0;
        total += run;
    }
    assert_int_equal(*d, '"');
    return total;
}

static void test_qr_svg(void **state)
{
    (void)state;
    const char *inputs[] = {"HELLO WORLD",
                            "otpauth://totp/Acme%20ID:alice%40example.com?secret="
                            "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme%20ID&digits=6"};
    for (size_t k = 0; k < 2; k++) {
        char *svg = ui_qr_svg(inputs[k], "QR <code> \"x\"");
        assert_non_null(svg);
        QRcode *qr = QRcode_encodeString(inputs[k], 0, QR_ECLEVEL_M, QR_MODE_8, 1);
        assert_non_null(qr);
        int size = qr->width + 8;
        long dark = 0;
        for (int i = 0; i < qr->width * qr->width; i++)
            dark += qr->data[i] & 1;
        char view[64];
        snprintf(view, sizeof(view), "viewBox=\"0 0 %d %d\"", size, size);
        expect_has(svg, view);
        if (k == 0)
            expect_has(svg, "viewBox=\"0 0 29 29\""); /* version 1: 21 modules + 2 × 4 */
        assert_true(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
        assert_true(strcmp(svg + strlen(svg) - 6, "</svg>") == 0);
        expect_has(svg, "role=\"img\"");
        expect_has(svg, "aria-label=\"QR &lt;code&gt; &quot;x&quot;\"");
        expect_has(svg, "shape-rendering=\"crispEdges\"");
        assert_int_equal(count_of(svg, "<path"), 1);
        expect_not(svg, "style");
        int quiet_ok;
        assert_int_equal(svg_dark_modules(svg, &quiet_ok, size), dark);
        assert_true(quiet_ok);
        QRcode_free(qr);
        free(svg);
    }
    assert_null(ui_qr_svg("", "x"));
    assert_null(ui_qr_svg(NULL, "x"));
}

/* The first "name:#rrggbb" in css after from, as channels. */
static bool css_colour(const char *css, const char *from, const char *name, int rgb[3])
{
    const char *p = strstr(from ? from : css, name);
    if (!p)
        return false;
    p += strlen(name);
    if (p[0] != ':' || p[1] != '#')
        return false;
    for (int i = 0; i < 3; i++) {
        char hex[3] = {p[2 + 2 * i], p[3 + 2 * i], '\0'};
        rgb[i] = (int)strtol(hex, NULL, 16);
    }
    return true;
}

static double lum(const int c[3])
{
    double l[3];
    for (int i = 0; i < 3; i++) {
        double v = c[i] / 255.0;
        l[i] = v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
    }
    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
}

static double ratio(const int a[3], const int b[3])
{
    double x = lum(a), y = lum(b);
    return x > y ? (x + 0.05) / (y + 0.05) : (y + 0.05) / (x + 0.05);
}

static void test_brand_css(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(ui_brand_css(&b, "#1F5FBF"), OG_OK);
    expect_has(b.data, ":root{--accent:#1f5fbf;--accent-contrast:#ffffff;--link:#1f5fbf;");
    expect_has(b.data, "@media (prefers-color-scheme:dark){:root{");
    buf_clear(&b);
    assert_int_equal(ui_brand_css(&b, "#ff0"), OG_OK);
    expect_has(b.data, "--accent:#ffff00;--accent-contrast:#111827");
    /* Every accent, however light or dark: the tints reach the icon
     * tiles, badges and hover in both modes, and what reads as text in the
     * accent's hue stays AA (4.5:1) on the backgrounds it sits on. */
    static const char *const accents[] = {"#1f5fbf", "#ffff00", "#0a7f5a", "#000000",
                                          "#ffffff", "#e11d48", "#7c3aed", "#22d3ee"};
    const int white[3] = {255, 255, 255}, card_dark[3] = {0x1a, 0x1f, 0x26};
    for (size_t i = 0; i < sizeof(accents) / sizeof(accents[0]); i++) {
        buf_clear(&b);
        assert_int_equal(ui_brand_css(&b, accents[i]), OG_OK);
        const char *dark = strstr(b.data, "@media (prefers-color-scheme:dark)");
        assert_non_null(dark);
        int link[3], badge[3], badge_bg[3], hover[3], icon[3], accent[3];
        assert_true(css_colour(b.data, NULL, "--link", link));
        assert_true(css_colour(b.data, NULL, "--badge-accent-bg", badge_bg));
        assert_true(css_colour(b.data, NULL, "--badge-accent", badge));
        assert_true(css_colour(b.data, NULL, "--hover", hover));
        assert_true(css_colour(b.data, NULL, "--icon-bg", icon));
        if (ratio(link, white) < 4.5 || ratio(link, hover) < 4.5 || ratio(badge, badge_bg) < 4.5)
            fail_msg("%s: light link/badge under 4.5:1\n%s", accents[i], b.data);
        assert_true(css_colour(b.data, dark, "--link", link));
        assert_true(css_colour(b.data, dark, "--badge-accent-bg", badge_bg));
        assert_true(css_colour(b.data, dark, "--badge-accent", badge));
        assert_true(css_colour(b.data, dark, "--hover", hover));
        assert_true(css_colour(b.data, dark, "--accent", accent));
        if (ratio(link, card_dark) < 4.5 || ratio(link, hover) < 4.5 ||
            ratio(badge, badge_bg) < 4.5)
            fail_msg("%s: dark link/badge under 4.5:1\n%s", accents[i], b.data);
        const int page_dark[3] = {0x0f, 0x12, 0x16};
        if (ratio(accent, page_dark) < 3.0)
            fail_msg("%s: dark buttons vanish into the page\n%s", accents[i], b.data);
    }
    static const char *const bad[] = {"red",         "#12345", "#gggggg", "1f5fbf",
                                      "#fff;}body{", "",       "#1234567"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf_clear(&b);
        assert_int_equal(ui_brand_css(&b, bad[i]), OG_ERR_INVALID);
        assert_int_equal(b.len, 0);
    }
    assert_int_equal(ui_brand_css(&b, NULL), OG_ERR_INVALID);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_i18n_table),
        cmocka_unit_test(test_handler_keys),
        cmocka_unit_test(test_layout_alerts_and_switch),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_account),
        cmocka_unit_test(test_passkey_pages),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_back_paths),
        cmocka_unit_test(test_time_ago),
        cmocka_unit_test(test_bind),
        cmocka_unit_test(test_totp),
        cmocka_unit_test(test_recovery_codes),
        cmocka_unit_test(test_enrol),
        cmocka_unit_test(test_confirm),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_home_and_outbox),
        cmocka_unit_test(test_countries),
        cmocka_unit_test(test_qr_svg),
        cmocka_unit_test(test_brand_css),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
