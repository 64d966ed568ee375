/* Unit tests of the security notifications' texts (src/ui/messages.c,
 * mail_html.c): every notification in both languages says what, when,
 * from where and what to do, and never carries more than its facts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/policy.h"
#include "ui/mail_html.h"
#include "ui/messages.h"

#define AT 1700000025000LL /* 2023-11-14 22:13 UTC */

static void test_every_notification_in_both_languages(void **state)
{
    (void)state;
    for (unsigned bit = 1; bit & NOTIFY_ALL; bit <<= 1) {
        const char *name = policy_notify_name(bit);
        assert_non_null(name);
        for (int zh = 0; zh < 2; zh++) {
            struct ui_notice n = {.event = name,
                                  .locale = zh ? "zh-CN" : "en",
                                  .app = "Shop",
                                  .at_ms = AT,
                                  .ip = "192.0.2.1",
                                  .browser = "Firefox on Linux",
                                  .factor_type = "totp",
                                  .left = 2};
            struct ui_notice_text t;
            ui_notice_texts(&n, &t);
            assert_non_null(strstr(t.subject, "Shop"));
            assert_non_null(strstr(t.what, "Shop"));
            /* A text of its own, not the general one. */
            assert_null(strstr(t.subject, zh ? "安全设置有变更" : "security settings changed"));
            assert_string_equal(t.when,
                                zh ? "时间：2023-11-14 22:13 UTC" : "When: 2023-11-14 22:13 UTC");
            assert_string_equal(t.where, zh ? "来源：IP 192.0.2.1，Firefox on Linux"
                                            : "From: IP 192.0.2.1, Firefox on Linux");
            assert_non_null(strstr(t.advice, "Shop"));
        }
    }
}

static void test_details(void **state)
{
    (void)state;
    struct ui_notice n = {.event = "factor_added",
                          .locale = "zh",
                          .app = "Shop",
                          .at_ms = AT,
                          .factor_type = "webauthn",
                          .left = -1};
    struct ui_notice_text t;
    ui_notice_texts(&n, &t);
    assert_string_equal(t.what, "您的 Shop 账户已添加两步验证方式：通行密钥。");
    assert_string_equal(t.where, "来源：未知");

    n = (struct ui_notice){.event = "recovery_code_used",
                           .locale = "en",
                           .app = "Shop",
                           .at_ms = AT,
                           .left = 1,
                           .by = NULL,
                           .support = "help@shop.example"};
    ui_notice_texts(&n, &t);
    assert_string_equal(t.what, "One of your recovery codes was used to sign in to Shop. 1 unused "
                                "code is left. Make a new set on your account page.");
    assert_non_null(strstr(t.advice, ", and contact help@shop.example."));

    n = (struct ui_notice){
        .event = "reset", .locale = "en", .app = "Shop", .at_ms = AT, .left = -1, .by = "console"};
    ui_notice_texts(&n, &t);
    assert_string_equal(t.where, "By: an administrator");

    /* The SMS is short and the HTML escapes what it is given. */
    struct buf sms, html;
    buf_init(&sms, 4096);
    buf_init(&html, 65536);
    n = (struct ui_notice){
        .event = "locked", .locale = "en", .app = "<Shop>", .at_ms = AT, .left = -1};
    ui_notice_sms(&sms, &n);
    assert_true(sms.len < 160);
    ui_notice_html(&html, &n);
    assert_null(strstr(html.data, "<Shop>"));
    assert_non_null(strstr(html.data, "&lt;Shop&gt;"));
    assert_non_null(strstr(html.data, "<html lang=\"en\">"));
    buf_free(&sms);
    buf_free(&html);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_notification_in_both_languages),
        cmocka_unit_test(test_details),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
