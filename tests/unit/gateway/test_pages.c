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
#include <qrencode.h>

#include "gateway/pages.h"
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
    static const char *const with_arg[] = {"err.wrong_code", "err.wait", "err.rate_limited",
                                           "notice.code_sent", "notice.recovery_low"};
    static const char *const with_arg_only[] = {"err.wrong_wait",           "err.wrong_wait_soon",
                                                "err.wrong_lock_soon",      "body.locked_contact",
                                                "challenge.locked_contact", "confirm.recovery_body",
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
        expect_has(b.data, "src=\"/static/img/logo.svg\" alt=\"\"");
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
            ui_page_totp(&b, &c, NULL, HOSTILE, HOSTILE);
            break;
        case 5:
            ui_page_recovery_codes(&b, &c, codes, 1, HOSTILE);
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
    buf_init(&b, 1u << 16);
    ui_page_home(&b, HOSTILE, HOSTILE, true);
    check_document(b.data, "en", false);
    expect_not(b.data, "<script>alert");
    buf_free(&b);
    buf_init(&b, 1u << 16);
    ui_dev_outbox_begin(&b, 1);
    ui_dev_outbox_item(&b, 1700000000000, HOSTILE, HOSTILE, HOSTILE, HOSTILE);
    ui_dev_outbox_end(&b, 1);
    check_document(b.data, "en", false);
    expect_not(b.data, "<script>alert");
    expect_has(b.data, "2023-11-14 22:13:20 UTC");
    buf_free(&b);
}

/* ---- the challenge ---- */

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
        expect_has(b.data, "+44 •••• ••12 34");
        expect_has(b.data, "<details class=\"other-ways\">");
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
        expect_has(b.data, en ? "Add a passkey or security key" : "添加通行密钥或安全密钥");
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
        expect_has(b.data, en ? "<option value=\"44\" selected>United Kingdom (+44)</option>"
                              : "<option value=\"86\" selected>中国大陆 (+86)</option>");
        assert_int_equal(count_of(b.data, " selected>"), 1);
        assert_true(count_of(b.data, "<option ") >= 40);
        expect_has(b.data, "type=\"tel\"");
        expect_has(b.data, "autocomplete=\"tel-national\"");
        expect_has(b.data, "name=\"phone\"");
        expect_has(b.data, "<label for=\"phone\">");
        expect_has(b.data, "<label for=\"country\">");
        expect_has(b.data, "name=\"back\" value=\"/account/add/sms\"");
        buf_free(&b);

        /* Preselected country (+1 is two countries: one selected), typed
         * value shown again with the error. */
        struct ui_ctx ce = c;
        ce.error = "err.invalid_phone";
        struct ui_bind_view v1 = {.type = "sms", .step = 1, .country = "1", .value = "0712"};
        RENDER(b, "bind-sms-error", loc, true, ui_page_bind(&b, &ce, &v1));
        assert_int_equal(count_of(b.data, " selected>"), 1);
        expect_has(b.data, en ? "<option value=\"1\" selected>United States (+1)"
                              : "<option value=\"1\" selected>美国 (+1)");
        expect_has(b.data, "value=\"0712\"");
        expect_has(b.data, "aria-describedby=\"phone-hint form-error\" aria-invalid=\"true\"");
        buf_free(&b);
        /* A code the list lacks still shows, selected. */
        struct ui_bind_view v2 = {.type = "sms", .step = 1, .country = "380"};
        RENDER(b, "bind-sms-other", loc, true, ui_page_bind(&b, &c, &v2));
        expect_has(b.data, "<option value=\"380\" selected>");
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
        expect_has(b.data, "+44 •••• 34");
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
        RENDER(b, "totp", loc, true, ui_page_totp(&b, &c, svg, "JBSW Y3DP EHPK 3PXP", "f5"));
        expect_has(b.data, "<div class=\"qr\"><svg ");
        expect_has(b.data, "JBSW Y3DP EHPK 3PXP");
        expect_has(b.data, "action=\"/account/verify\"");
        expect_has(b.data, "name=\"factor_id\" value=\"f5\"");
        expect_has(b.data, "autocomplete=\"one-time-code\"");
        expect_has(b.data, "data-copy=\"totp-secret\"");
        expect_has(b.data, "name=\"back\" value=\"/account/add/totp\"");
        buf_free(&b);
        free(svg);
        /* Without a QR code the key alone still works. */
        RENDER(b, "totp-noqr", loc, true, ui_page_totp(&b, &c, NULL, "ABCD", "f5"));
        expect_not(b.data, "<svg class=\"qr-code\"");
        expect_has(b.data, "ABCD");
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
               ui_page_recovery_codes(&b, &c, codes, 10, "/account/continue"));
        expect_has(b.data, "<ol class=\"codes\" id=\"recovery-codes\"");
        assert_int_equal(count_of(b.data, "<li><code>"), 10);
        expect_has(b.data, "<li><code>abcd-efgh-ijkl-mnop</code></li>");
        expect_has(b.data, "data-copy=\"recovery-codes\"");
        expect_has(b.data, "data-download=\"recovery-codes\"");
        expect_has(b.data, "data-filename=\"otpgate-recovery-codes.txt\"");
        expect_has(b.data, "data-print");
        expect_has(b.data, "data-js-only hidden");
        expect_has(b.data, "action=\"/account/continue\"");
        expect_has(b.data, i == 0 ? "Each code works only once." : "每个恢复码只能使用一次。");
        expect_has(b.data, "page-recovery");
        buf_free(&b);
    }
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
    struct buf b;
    RENDER(b, "home", "en", false, ui_page_home(&b, "otpgate", "http://127.0.0.1:8080", true));
    expect_has(b.data, "otpgate is running</h1>");
    expect_has(b.data, "<code>http://127.0.0.1:8080</code>");
    expect_has(b.data, "Development delivery is on");
    buf_free(&b);
    RENDER(b, "outbox", "en", false, {
        ui_dev_outbox_begin(&b, 2);
        ui_dev_outbox_item(&b, 1700000000000, "sms", "+447700900123", "", "Acme: 123456");
        ui_dev_outbox_item(&b, 1700000001000, "email", "a@example.com", "Your code", "123456");
        ui_dev_outbox_end(&b, 2);
    });
    assert_int_equal(count_of(b.data, "<li>"), 2);
    expect_has(b.data, "<pre>Acme: 123456</pre>");
    buf_free(&b);
    RENDER(b, "outbox-empty", "en", false, {
        ui_dev_outbox_begin(&b, 0);
        ui_dev_outbox_end(&b, 0);
    });
    expect_has(b.data, "No messages yet.");
    expect_not(b.data, "<ol");
    buf_free(&b);
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

static void test_brand_css(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(ui_brand_css(&b, "#1F5FBF"), OG_OK);
    expect_has(b.data, ":root{--accent:#1f5fbf;--accent-contrast:#ffffff}");
    expect_has(b.data, "--link:#1f5fbf");
    buf_clear(&b);
    assert_int_equal(ui_brand_css(&b, "#ff0"), OG_OK);
    expect_has(b.data, "--accent:#ffff00;--accent-contrast:#111827");
    expect_not(b.data, "--link");
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
        cmocka_unit_test(test_bind),
        cmocka_unit_test(test_totp),
        cmocka_unit_test(test_recovery_codes),
        cmocka_unit_test(test_enrol),
        cmocka_unit_test(test_confirm),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_home_and_outbox),
        cmocka_unit_test(test_qr_svg),
        cmocka_unit_test(test_brand_css),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
