/* Unit tests of what audit rows announce (src/core/events.c): the table of
 * webhook types and notifications, the webhook body, the notifications'
 * recipients, the policy keys and the coalescing limits, and the summary
 * that replaces a request's earlier notifications. Every operation runs in
 * its own transaction; the clock is ctx.now_ms. Each test owns a fresh
 * mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apps.h"
#include "core/events.h"
#include "core/log.h"
#include "core/mfa.h"
#include "core/policy.h"
#include "core/secrets.h"
#include "core/store/store.h"
#include "core/support.h"

#include "testutil.h"

#define T0  1700000025000LL
#define MIN (60 * 1000LL)

struct fixture {
    char dir[64], err[512];
    struct store *s;
    struct keyring k;
    char app[APPS_ID_LEN];
    struct policy pol;
    struct mfa_ctx ctx;
    struct mfa_user u;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "events");
    tu_store_keys(f->dir, &f->s, &f->k);
    tu_app_add(f->s, &f->k, "Shop", f->app, sizeof(f->app));
    assert_int_equal(policy_load(f->s, f->app, &f->pol), 0);
    f->ctx.store = f->s;
    f->ctx.keys = &f->k;
    f->ctx.pol = &f->pol;
    f->ctx.app_id = f->app;
    f->ctx.app_name = "Shop";
    f->ctx.issuer = "Shop";
    f->ctx.now_ms = T0;
    f->ctx.client_ip = "192.0.2.1";
    f->ctx.user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(users_get_or_create(&f->ctx, "alice", &f->u), MFA_OK);
    assert_int_equal(store_commit(f->s), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    keyring_wipe(&f->k);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static long long count(struct fixture *f, const char *where)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE %s", where);
    return tu_query_int(f->s, sql);
}

/* An active e-mail factor for alice at address. */
static void email_factor(struct fixture *f, const char *address, struct mfa_factor *out)
{
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(factors_add_contact(&f->ctx, &f->u, FACTOR_EMAIL, address, out), MFA_OK);
    factors_activate(&f->ctx, &f->u, out);
    assert_int_equal(store_commit(f->s), 0);
}

static void audit_at(struct fixture *f, int64_t at, const char *event, const char *factor_id,
                     const char *detail)
{
    f->ctx.now_ms = at;
    assert_int_equal(store_begin(f->s), 0);
    audit_log(&f->ctx, "alice", event, factor_id, detail);
    assert_int_equal(store_commit(f->s), 0);
}

static void test_table(void **state)
{
    (void)state;
    assert_string_equal(events_webhook_type("factor_added"), "factor.added");
    assert_string_equal(events_webhook_type("factor_enrolled"), "factor.verified");
    assert_string_equal(events_webhook_type("verify_ok"), "challenge.succeeded");
    assert_string_equal(events_webhook_type("verify_failed"), "challenge.failed");
    assert_string_equal(events_webhook_type("admin_unlock"), "user.unlocked");
    assert_string_equal(events_webhook_type("unlocked"), "user.unlocked");
    assert_string_equal(events_webhook_type("admin_reset"), "user.reset");
    assert_string_equal(events_webhook_type("device_remembered"), "device.remembered");
    assert_null(events_webhook_type("code_sent"));
    assert_null(events_webhook_type("token_issued"));
    assert_null(events_webhook_type(NULL));
    assert_int_equal(events_notice_bit("factor_enrolled", "totp"), NOTIFY_FACTOR_ADDED);
    assert_int_equal(events_notice_bit("factor_added", "sms"), 0); /* pending: no notice */
    assert_int_equal(events_notice_bit("verify_failed", NULL), 0);
    assert_int_equal(events_notice_bit("locked", NULL), NOTIFY_LOCKED);
    assert_int_equal(events_notice_bit("unlocked", "recovery code"), 0);
    assert_int_equal(events_notice_bit("admin_unlock", "{}"), NOTIFY_UNLOCKED);
    assert_int_equal(events_notice_bit("recovery_codes_generated", NULL), 0);
    assert_int_equal(events_notice_bit("recovery_codes_generated", "replaced"),
                     NOTIFY_RECOVERY_CODES_NEW);
    char iso[32];
    events_time_iso(1700000025123LL, iso, sizeof(iso));
    assert_string_equal(iso, "2023-11-14T22:13:45.123Z");
}

static void test_webhook_body_and_notice(void **state)
{
    struct fixture *f = *state;
    char secret[APPS_WEBHOOK_SECRET_LEN];
    bool made = false;
    assert_int_equal(apps_set_webhook(f->s, &f->k, f->app, "https://hooks.example/x", secret,
                                      sizeof(secret), &made, f->err, sizeof(f->err)),
                     0);
    assert_true(made);
    struct mfa_factor e;
    email_factor(f, "alice@example.com", &e);
    /* factor_added (pending) and factor_enrolled: two webhooks, one notice. */
    assert_int_equal(count(f, "kind = 'webhook'"), 2);
    assert_int_equal(count(f, "kind = 'notice'"), 1);
    assert_int_equal(count(f, "kind = 'notice' AND destination = 'alice@example.com' AND "
                              "event = 'factor_added' AND channel = 'email' AND state = 'queued'"),
                     1);
    db_stmt *st;
    st = store_stmt(f->s, "SELECT payload, destination, msg_id FROM outbox WHERE "
                          "kind = 'webhook' ORDER BY id DESC LIMIT 1");
    assert_non_null(st);
    assert_int_equal(db_step(st), DB_ROW);
    const char *body = (const char *)db_column_text(st, 0);
    assert_string_equal((const char *)db_column_text(st, 1), "https://hooks.example/x");
    assert_memory_equal(db_column_text(st, 2), "msg_", 4);
    assert_null(strstr(body, "alice@example.com"));
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "factor.verified");
    assert_string_equal(json_string_value(json_object_get(j, "timestamp")),
                        "2023-11-14T22:13:45.000Z");
    json_t *d = json_object_get(j, "data");
    assert_string_equal(json_string_value(json_object_get(d, "app_id")), f->app);
    assert_string_equal(json_string_value(json_object_get(d, "sub")), "alice");
    assert_string_equal(json_string_value(json_object_get(d, "factor_id")), e.id);
    assert_string_equal(json_string_value(json_object_get(d, "factor_type")), "email");
    assert_string_equal(json_string_value(json_object_get(d, "ip")), "192.0.2.1");
    assert_non_null(json_string_value(json_object_get(d, "user_agent")));
    json_decref(j);
    db_reset(st);
    /* The notice's facts: a browser summary, never the address. */
    assert_int_equal(count(f, "kind = 'notice' AND payload LIKE '%Firefox on Linux%' AND "
                              "payload NOT LIKE '%alice@%'"),
                     1);

    /* An event with no webhook type and no notice writes nothing. */
    long long before = count(f, "1");
    audit_at(f, T0 + MIN, "code_sent", e.id, "email");
    assert_int_equal(count(f, "1"), before);
    /* Without a webhook URL only the notice. */
    assert_int_equal(apps_set_webhook(f->s, &f->k, f->app, "", secret, sizeof(secret), &made,
                                      f->err, sizeof(f->err)),
                     0);
    audit_at(f, T0 + 10 * MIN, "locked", NULL, "consecutive failures");
    assert_int_equal(count(f, "1"), before + 1);
    assert_int_equal(count(f, "kind = 'notice' AND event = 'locked'"), 1);
}

static void test_coalescing_and_cap(void **state)
{
    struct fixture *f = *state;
    struct mfa_factor e;
    email_factor(f, "alice@example.com", &e);
    assert_int_equal(count(f, "kind = 'notice'"), 1);
    /* The same kind (and factor) within two minutes: coalesced. */
    audit_at(f, T0 + MIN, "locked", NULL, NULL);
    audit_at(f, T0 + MIN + 30000, "locked", NULL, NULL);
    assert_int_equal(count(f, "kind = 'notice' AND event = 'locked'"), 1);
    audit_at(f, T0 + 4 * MIN, "locked", NULL, NULL);
    assert_int_equal(count(f, "kind = 'notice' AND event = 'locked'"), 2);
    /* At most 10 in any hour, whatever the kinds. */
    static const char *const events[] = {
        "preferred_set", "recovery_code_used", "admin_unlock", "device_remembered", "mfa_disabled",
        "admin_reset",   "factor_removed",     "locked",       "recovery_code_used"};
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
        audit_at(f, T0 + (5 + 3 * (int64_t)i) * MIN, events[i], NULL, NULL);
    assert_int_equal(tu_query_int(f->s, "SELECT count(DISTINCT created_at) FROM outbox WHERE "
                                        "kind = 'notice'"),
                     EVENTS_NOTICE_HOUR_CAP);
    /* An hour after the first, there is room again. */
    audit_at(f, T0 + 70 * MIN, "locked", NULL, NULL);
    assert_int_equal(count(f, "kind = 'notice' AND created_at = "
                              "1700004225000"),
                     1);
}

static void test_policy_keys(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(policy_set(f->s, f->app, "notify_events", "locked", f->err, sizeof(f->err)),
                     0);
    struct mfa_factor e;
    email_factor(f, "alice@example.com", &e);
    assert_int_equal(count(f, "kind = 'notice'"), 0); /* factor_added is not chosen */
    audit_at(f, T0 + MIN, "locked", NULL, NULL);
    assert_int_equal(count(f, "kind = 'notice'"), 1);
    assert_int_equal(policy_set(f->s, f->app, "notify", "off", f->err, sizeof(f->err)), 0);
    audit_at(f, T0 + 10 * MIN, "locked", NULL, NULL);
    assert_int_equal(count(f, "kind = 'notice'"), 1);
}

static void test_sms_only_without_email_and_when_allowed(void **state)
{
    struct fixture *f = *state;
    struct mfa_factor p;
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(factors_add_contact(&f->ctx, &f->u, FACTOR_SMS, "+447700900123", &p), MFA_OK);
    factors_activate(&f->ctx, &f->u, &p);
    assert_int_equal(store_commit(f->s), 0);
    assert_int_equal(count(f, "kind = 'notice'"), 0);
    assert_int_equal(policy_set(f->s, "", "notify_sms", "on", f->err, sizeof(f->err)), 0);
    audit_at(f, T0 + MIN, "locked", NULL, NULL);
    assert_int_equal(count(f, "kind = 'notice' AND channel = 'sms' AND destination = "
                              "'+447700900123'"),
                     1);
    struct mfa_factor e;
    f->ctx.now_ms = T0 + 5 * MIN;
    email_factor(f, "alice@example.com", &e);
    /* With an e-mail, only the e-mail. */
    assert_int_equal(count(f, "kind = 'notice' AND channel = 'sms'"), 1);
    assert_int_equal(count(f, "kind = 'notice' AND channel = 'email'"), 1);
}

static void test_summary_replaces_and_reaches_removed_addresses(void **state)
{
    struct fixture *f = *state;
    struct mfa_factor a, b;
    email_factor(f, "alice@example.com", &a);
    f->ctx.now_ms = T0 + 5 * MIN;
    email_factor(f, "alice2@example.com", &b);
    long long before = count(f, "kind = 'notice'");
    /* Turning two-step verification off: both removed, then the summary,
     * in one request (one time). */
    f->ctx.now_ms = T0 + 10 * MIN;
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(factors_remove(&f->ctx, &f->u, a.id), MFA_OK);
    assert_int_equal(factors_remove(&f->ctx, &f->u, b.id), MFA_OK);
    audit_log(&f->ctx, "alice", "mfa_disabled", NULL, NULL);
    assert_int_equal(store_commit(f->s), 0);
    assert_int_equal(count(f, "kind = 'notice' AND event = 'factor_removed'"), 0);
    assert_int_equal(count(f, "kind = 'notice'"), before + 2);
    assert_int_equal(count(f, "kind = 'notice' AND event = 'mfa_disabled' AND destination IN "
                              "('alice@example.com', 'alice2@example.com')"),
                     2);

    /* An admin's reset reaches the addresses it removes. */
    struct mfa_factor c;
    f->ctx.now_ms = T0 + 20 * MIN;
    email_factor(f, "alice3@example.com", &c);
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(
        support_user_reset(f->s, f->u.id, f->app, "alice", "cli", NULL, T0 + 30 * MIN, NULL), 0);
    assert_int_equal(store_commit(f->s), 0);
    assert_int_equal(count(f, "kind = 'notice' AND event = 'reset' AND destination = "
                              "'alice3@example.com' AND payload LIKE '%\"by\":\"cli\"%'"),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test_setup_teardown(test_webhook_body_and_notice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coalescing_and_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sms_only_without_email_and_when_allowed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_summary_replaces_and_reaches_removed_addresses, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
