/* Unit tests of what audit rows announce (src/core/events.c): the table of
 * webhook types and notifications, the webhook body, the notifications'
 * recipients, the policy keys and the coalescing limits, and the summary
 * that replaces a request's earlier notifications; and the outbox's states
 * (src/core/outbox.c). Every event runs in its own transaction; the clock
 * is ctx.now_ms. Each test owns a fresh mkdtemp directory; with
 * OTPGATE_TEST_DATABASE_URL set they run on PostgreSQL instead. */
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
#include "core/audit.h"
#include "core/events.h"
#include "core/log.h"
#include "core/mfa.h"
#include "core/outbox.h"
#include "core/policy.h"
#include "core/recovery.h"
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

/* Sets a policy key and reads the app's policy again, as the next request
 * does (audit_log announces under the request's policy, ctx.pol). */
static void set_policy(struct fixture *f, const char *app, const char *key, const char *value)
{
    assert_int_equal(policy_set(f->s, app, key, value, f->err, sizeof(f->err)), 0);
    assert_int_equal(policy_load(f->s, f->app, &f->pol), 0);
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

/* Sets the app's webhook URL ("" removes it); true when a signing
 * secret was made. */
static bool set_webhook(struct fixture *f, const char *url)
{
    char secret[APPS_WEBHOOK_SECRET_LEN];
    bool made = false;
    assert_int_equal(apps_set_webhook(f->s, &f->k, f->app, url, secret, sizeof(secret), &made,
                                      f->err, sizeof(f->err)),
                     0);
    return made;
}

static void test_webhook_body_and_notice(void **state)
{
    struct fixture *f = *state;
    assert_true(set_webhook(f, "https://hooks.example/x"));
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
    long long before = count(f, "1 = 1");
    audit_at(f, T0 + MIN, "code_sent", e.id, "email");
    assert_int_equal(count(f, "1 = 1"), before);
    /* Without a webhook URL only the notice. */
    set_webhook(f, "");
    audit_at(f, T0 + 10 * MIN, "locked", NULL, "consecutive failures");
    assert_int_equal(count(f, "1 = 1"), before + 1);
    assert_int_equal(count(f, "kind = 'notice' AND event = 'locked'"), 1);
}

/* A webhook URL the caller read already (the API's app cache) is the one
 * used: "" for none, without a look at the store; NULL reads it. */
static void test_webhook_url_from_caller(void **state)
{
    struct fixture *f = *state;
    set_webhook(f, "https://hooks.example/x");
    f->ctx.webhook_url = "";
    audit_at(f, T0, "verify_ok", NULL, "recovery_code");
    assert_int_equal(count(f, "kind = 'webhook'"), 0);
    f->ctx.webhook_url = "https://cached.example/y";
    audit_at(f, T0 + 1, "verify_ok", NULL, "recovery_code");
    assert_int_equal(count(f, "kind = 'webhook' AND destination = 'https://cached.example/y'"), 1);
    f->ctx.webhook_url = NULL;
    audit_at(f, T0 + 2, "verify_ok", NULL, "recovery_code");
    assert_int_equal(count(f, "kind = 'webhook' AND destination = 'https://hooks.example/x'"), 1);
    assert_int_equal(count(f, "kind = 'webhook'"), 2);
}

/* A user the caller read already (audit_log_user) is announced by its id,
 * without a look at the store: the notice goes to the addresses of the
 * user with that id; with no id (0) the sub is looked up. */
static void test_user_id_from_caller(void **state)
{
    struct fixture *f = *state;
    struct mfa_factor a, b;
    email_factor(f, "alice@example.com", &a);
    struct mfa_user bob;
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(users_get_or_create(&f->ctx, "bob", &bob), MFA_OK);
    assert_int_equal(factors_add_contact(&f->ctx, &bob, FACTOR_EMAIL, "bob@example.com", &b),
                     MFA_OK);
    factors_activate(&f->ctx, &bob, &b);
    assert_int_equal(store_commit(f->s), 0);
    struct mfa_user u = f->u; /* alice by sub, with bob's id */
    u.id = bob.id;
    f->ctx.now_ms = T0 + 10 * MIN;
    assert_int_equal(store_begin(f->s), 0);
    audit_log_user(&f->ctx, &u, "locked", NULL, "consecutive failures");
    u.id = 0;
    audit_log_user(&f->ctx, &u, "locked", NULL, "consecutive failures");
    assert_int_equal(store_commit(f->s), 0);
    assert_int_equal(count(f, "kind = 'notice' AND event = 'locked' AND "
                              "destination = 'bob@example.com'"),
                     1);
    assert_int_equal(count(f, "kind = 'notice' AND event = 'locked' AND "
                              "destination = 'alice@example.com'"),
                     1);
}

/* A used recovery code's webhook body and notice say how many are left. */
static void test_recovery_codes_left(void **state)
{
    struct fixture *f = *state;
    set_webhook(f, "https://hooks.example/x");
    struct mfa_factor e;
    email_factor(f, "alice@example.com", &e);
    char codes[RECOVERY_COUNT][20];
    f->ctx.now_ms = T0 + 10 * MIN;
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(recovery_codes_new(&f->ctx, &f->u, codes), MFA_OK);
    struct mfa_outcome o = {.attempts_left = -1};
    assert_int_equal(recovery_codes_consume(&f->ctx, &f->u, codes[3], &o), MFA_OK);
    assert_int_equal(store_commit(f->s), 0);
    assert_int_equal(count(f, "kind = 'webhook' AND event = 'recovery_code.used' AND "
                              "payload LIKE '%\"recovery_codes_left\":9%'"),
                     1);
    assert_int_equal(count(f, "kind = 'notice' AND event = 'recovery_code_used' AND "
                              "payload LIKE '%\"left\":9%'"),
                     1);
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
    set_policy(f, f->app, "notify_events", "locked");
    struct mfa_factor e;
    email_factor(f, "alice@example.com", &e);
    assert_int_equal(count(f, "kind = 'notice'"), 0); /* factor_added is not chosen */
    audit_at(f, T0 + MIN, "locked", NULL, NULL);
    assert_int_equal(count(f, "kind = 'notice'"), 1);
    set_policy(f, f->app, "notify", "off");
    audit_at(f, T0 + 10 * MIN, "locked", NULL, NULL);
    assert_int_equal(count(f, "kind = 'notice'"), 1);
    /* The request's policy decides, not a row it has not read: without
     * one (ctx.pol NULL) the stored policy is read. */
    f->pol.notify = true;
    audit_at(f, T0 + 20 * MIN, "locked", NULL, NULL);
    assert_int_equal(count(f, "kind = 'notice'"), 2);
    f->ctx.pol = NULL;
    audit_at(f, T0 + 30 * MIN, "locked", NULL, NULL);
    assert_int_equal(count(f, "kind = 'notice'"), 2);
    f->ctx.pol = &f->pol;
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
    set_policy(f, "", "notify_sms", "on");
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

struct claimed {
    struct outbox_msg m[4];
    size_t n;
};

static void claim_cb(const struct outbox_msg *m, void *arg)
{
    struct claimed *c = arg;
    if (c->n < 4)
        c->m[c->n++] = *m;
}

static void outbox_row(struct fixture *f, struct outbox_msg *m, enum outbox_kind kind,
                       const char *to, bool claim)
{
    memset(m, 0, sizeof(*m));
    m->kind = kind;
    m->channel = FACTOR_SMS;
    snprintf(m->destination, sizeof(m->destination), "%s", to);
    snprintf(m->app_id, sizeof(m->app_id), "%s", f->app);
    snprintf(m->app_name, sizeof(m->app_name), "Shop");
    snprintf(m->locale, sizeof(m->locale), "en");
    snprintf(m->sub, sizeof(m->sub), "alice");
    m->user_id = f->u.id;
    m->ttl = 300;
    if (kind == OUTBOX_CODE) {
        snprintf(m->code, sizeof(m->code), "123456");
        snprintf(m->purpose, sizeof(m->purpose), "enrol");
    } else {
        snprintf(m->event, sizeof(m->event), "locked");
        snprintf(m->payload, sizeof(m->payload), "{}");
    }
    assert_int_equal(outbox_enqueue(f->s, &f->k, m, T0, claim), 0);
}

/* The outbox's own states (src/core/outbox.c): a code sealed and opened,
 * retried, sent and failed; webhooks one at a time per user; a crash's
 * rows resumed; notifications nothing can send failed. */
struct trail {
    int64_t rows, last_id, first_at;
    bool ordered;
};

static void trail_row(const struct audit_row *r, void *arg)
{
    struct trail *t = arg;
    if (r->id <= t->last_id)
        t->ordered = false;
    if (t->rows++ == 0)
        t->first_at = r->at;
    t->last_id = r->id;
}

static struct trail trail(struct fixture *f, int64_t since, const char *app)
{
    struct trail t = {0, 0, 0, true};
    assert_int_equal(audit_each(f->s, since, app, trail_row, &t), 0);
    assert_true(t.ordered);
    return t;
}

/* audit export's reading: a trail longer than a page (1000 rows) comes
 * whole, oldest first, each row once, and the filters hold across pages. */
static void test_audit_each_reads_every_page(void **state)
{
    struct fixture *f = *state;
    int64_t before = tu_query_int(f->s, "SELECT count(*) FROM audit");
    assert_int_equal(store_begin(f->s), 0);
    for (int i = 0; i < 2345; i++) {
        db_stmt *st = store_stmt(f->s, "INSERT INTO audit (at, app_id, sub, event) "
                                       "VALUES (?1, ?2, 'alice', 'verify_fail')");
        assert_non_null(st);
        db_bind_int64(st, 1, T0 + i);
        db_bind_text(st, 2, i % 3 ? f->app : NULL, -1); /* every 3rd: the console's */
        assert_int_equal(db_step(st), DB_DONE);
        db_reset(st);
    }
    assert_int_equal(store_commit(f->s), 0);

    struct trail t = trail(f, 0, NULL);
    assert_int_equal(t.rows, before + 2345);
    assert_int_equal(t.last_id, tu_query_int(f->s, "SELECT max(id) FROM audit"));
    t = trail(f, T0 + 1000, NULL);
    assert_int_equal(t.rows, 1345);
    assert_int_equal(t.first_at, T0 + 1000);
    t = trail(f, T0 + 1, f->app);
    assert_int_equal(t.rows, 2345 - 782); /* 782 of the 2345 are every 3rd */
    t = trail(f, T0 + 2345, NULL);
    assert_int_equal(t.rows, 0);
}

static void test_outbox_states(void **state)
{
    struct fixture *f = *state;
    struct outbox_msg a, b, w1, w2, n;
    outbox_row(f, &a, OUTBOX_CODE, "+447700900123", false);
    outbox_row(f, &b, OUTBOX_CODE, "+447700900124", true);
    assert_memory_equal(a.msg_id, "m_", 2);
    assert_int_equal(b.attempts, 1);
    assert_int_equal(count(f, "state = 'sending' AND attempts = 1 AND body_sealed IS NOT NULL"), 1);
    assert_int_equal(count(f, "purpose = 'enrol' AND fallback_of IS NULL"), 2);
    assert_int_equal(outbox_depth(f->s), 2);
    assert_int_equal(outbox_next_due(f->s, FACTOR_SMS), T0);
    assert_int_equal(outbox_next_due(f->s, FACTOR_EMAIL), 0);

    struct claimed c = {0};
    assert_int_equal(outbox_claim(f->s, &f->k, FACTOR_SMS, 10, T0, claim_cb, &c), 1);
    assert_int_equal(c.m[0].id, a.id);
    assert_string_equal(c.m[0].code, "123456");
    assert_string_equal(c.m[0].purpose, "enrol");
    assert_int_equal(c.m[0].attempts, 1);
    assert_int_equal(outbox_mark_retry(f->s, a.id, T0 + 1000, "twilio", "busy"), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(outbox_claim(f->s, &f->k, FACTOR_SMS, 10, T0 + 999, claim_cb, &c), 0);
    assert_int_equal(outbox_claim(f->s, &f->k, FACTOR_SMS, 10, T0 + 1000, claim_cb, &c), 1);
    assert_int_equal(c.m[0].attempts, 2);
    assert_int_equal(outbox_mark_sent(f->s, a.id, T0 + 2000, "twilio", "", "ok"), 0);
    assert_int_equal(outbox_mark_retry(f->s, b.id, 0, "twilio", "refused"), 0);
    assert_int_equal(count(f, "state = 'sent' AND sent_at = 1700000027000 AND provider_id IS "
                              "NULL AND body_sealed IS NULL"),
                     1);
    assert_int_equal(count(f, "state = 'failed' AND body_sealed IS NULL AND answer = 'refused'"),
                     1);
    assert_int_equal(outbox_depth(f->s), 0);

    /* The second webhook of a user waits for the first. */
    outbox_row(f, &w1, OUTBOX_WEBHOOK, "https://hooks.example/x", false);
    outbox_row(f, &w2, OUTBOX_WEBHOOK, "https://hooks.example/x", false);
    assert_int_equal(count(f, "kind = 'webhook' AND channel = 'webhook' AND event = 'locked'"), 2);
    assert_int_equal(outbox_next_due_webhook(f->s), T0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(outbox_claim_webhooks(f->s, 10, T0, claim_cb, &c), 1);
    assert_int_equal(c.m[0].id, w1.id);
    assert_int_equal(c.m[0].kind, OUTBOX_WEBHOOK);
    assert_int_equal(outbox_next_due_webhook(f->s), 0);
    assert_int_equal(outbox_claim_webhooks(f->s, 10, T0, claim_cb, &c), 0);
    /* A crash leaves it sending: it is queued again, still first (on
     * PostgreSQL once its lease has run out: until then it is another
     * instance's send). */
    int64_t r = T0 + 5000;
    if (tu_on_pg()) {
        assert_int_equal(outbox_resume(f->s, r), 0);
        r = T0 + OUTBOX_LEASE_MS;
    }
    assert_int_equal(outbox_resume(f->s, r), 1);
    assert_int_equal(outbox_next_due_webhook(f->s), r);
    assert_int_equal(outbox_mark_retry(f->s, w1.id, r + 1000, NULL, NULL), 0); /* not sending */
    memset(&c, 0, sizeof(c));
    assert_int_equal(outbox_claim_webhooks(f->s, 10, r, claim_cb, &c), 1);
    assert_int_equal(c.m[0].id, w1.id);
    assert_int_equal(outbox_mark_sent(f->s, w1.id, r, "webhook", "200", "ok"), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(outbox_claim_webhooks(f->s, 10, r, claim_cb, &c), 1);
    assert_int_equal(c.m[0].id, w2.id);

    outbox_row(f, &n, OUTBOX_NOTICE, "+447700900123", false);
    assert_int_equal(outbox_fail_unsendable(f->s, FACTOR_EMAIL, "no e-mail"), 0);
    assert_int_equal(outbox_fail_unsendable(f->s, FACTOR_SMS, "no SMS provider"), 1);
    assert_int_equal(count(f, "kind = 'notice' AND state = 'failed' AND answer = 'no SMS "
                              "provider'"),
                     1);
}

/* Claims hold a lease. On PostgreSQL, where several instances share the
 * outbox, two connections claiming at once get disjoint rows (one skips
 * what the other is claiming), a row whose lease ran out is claimed again,
 * and a start resumes only such rows. On SQLite (one instance) a claim
 * takes queued rows only and a start resumes every row in sending. */
struct ids {
    int64_t id[16];
    size_t n;
};

static void ids_cb(const struct outbox_msg *m, void *arg)
{
    struct ids *x = arg;
    if (x->n < 16)
        x->id[x->n++] = m->id;
}

static void test_outbox_lease(void **state)
{
    struct fixture *f = *state;
    struct outbox_msg m;
    for (int i = 0; i < 10; i++)
        outbox_row(f, &m, OUTBOX_CODE, "+447700900123", false);
    struct ids a = {0};
    assert_int_equal(outbox_claim(f->s, &f->k, FACTOR_SMS, 4, T0, ids_cb, &a), 4);
    assert_int_equal(count(f, "state = 'sending' AND lease_until = 1700000325000"), 4);
    assert_int_equal(outbox_mark_sent(f->s, a.id[0], T0 + 1, "twilio", "", "ok"), 0);
    assert_int_equal(count(f, "state = 'sent' AND lease_until IS NULL"), 1);

    if (!tu_on_pg()) {
        /* Long past the lease, one instance still never claims its own
         * rows in sending again: only the six queued ones. */
        struct ids b = {0};
        assert_int_equal(
            outbox_claim(f->s, &f->k, FACTOR_SMS, 10, T0 + 2 * OUTBOX_LEASE_MS, ids_cb, &b), 6);
        assert_int_equal(outbox_resume(f->s, T0 + 1), 9);
        assert_int_equal(count(f, "state = 'queued' AND lease_until IS NULL"), 9);
        return;
    }

    /* A second instance: its own connection to the same database. */
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/otpgate.db", f->dir);
    struct store *other = NULL;
    if (tu_store_open(path, &other, err, sizeof(err)) != 0)
        fail_msg("store_open: %s", err);
    /* This one claims three inside an open transaction; the other, at the
     * same moment, is not held up and gets the other three queued rows. */
    assert_int_equal(store_begin(f->s), OG_OK);
    struct ids b = {0}, o = {0};
    assert_int_equal(outbox_claim(f->s, &f->k, FACTOR_SMS, 3, T0, ids_cb, &b), 3);
    assert_int_equal(outbox_claim(other, &f->k, FACTOR_SMS, 10, T0, ids_cb, &o), 3);
    assert_int_equal(store_commit(f->s), OG_OK);
    for (size_t i = 0; i < b.n; i++)
        for (size_t j = 0; j < o.n; j++)
            assert_true(b.id[i] != o.id[j]);
    assert_int_equal(count(f, "state = 'queued'"), 0);

    /* Live leases: a start leaves other instances' rows alone. */
    assert_int_equal(outbox_resume(other, T0 + 1), 0);
    assert_int_equal(outbox_claim(other, &f->k, FACTOR_SMS, 10, T0 + 1, ids_cb, &o), 0);
    /* Run out (the claiming instance died): taken over, once each. */
    struct ids t = {0};
    assert_int_equal(outbox_claim(other, &f->k, FACTOR_SMS, 16, T0 + OUTBOX_LEASE_MS, ids_cb, &t),
                     9);
    assert_int_equal(count(f, "state = 'sending' AND attempts = 2"), 9);
    assert_int_equal(outbox_claim(f->s, &f->k, FACTOR_SMS, 16, T0 + OUTBOX_LEASE_MS, ids_cb, &t),
                     0);
    store_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test_setup_teardown(test_webhook_body_and_notice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_url_from_caller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_id_from_caller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_codes_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coalescing_and_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sms_only_without_email_and_when_allowed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_summary_replaces_and_reaches_removed_addresses, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_each_reads_every_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_lease, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
