/* Unit tests of src/core/policy.c: defaults, the global and per-app layers,
 * inherit/default dropping rows, canonical spellings, every validation
 * refusal naming its key, policy_show's sources and the help text. Each
 * test owns a fresh mkdtemp directory with its own database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/policy.h"
#include "core/store/store.h"

#include "testutil.h"

struct fixture {
    char dir[64];
    char db[200];
    char err[512];
    struct store *s;
};

static void exec_sql(struct store *s, const char *sql)
{
    if (store_exec(s, sql) != OG_OK)
        fail_msg("sql failed: %s: %s", sql, store_errmsg(s));
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof(f->dir), "policy");
    snprintf(f->db, sizeof(f->db), "%s/otpgate.db", f->dir);
    if (tu_store_open(f->db, &f->s, f->err, sizeof(f->err)) != 0)
        fail_msg("store_open: %s", f->err);
    tu_app_insert(f->s, "app_a", "A", 1);
    tu_app_insert(f->s, "app_b", "B", 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static long long count_rows(struct store *s, const char *where)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM policy WHERE %s", where);
    db_stmt *st;
    st = store_stmt(s, sql);
    assert_non_null(st);
    assert_int_equal(db_step(st), DB_ROW);
    long long n = db_column_int64(st, 0);
    db_reset(st);
    return n;
}

/* The stored value of (scope, key), or "" when absent. */
static void stored(struct store *s, const char *scope, const char *key, char *out, size_t outlen)
{
    db_stmt *st;
    st = store_stmt(s, "SELECT value FROM policy WHERE scope = ?1 AND key = ?2");
    assert_non_null(st);
    db_bind_text(st, 1, scope, -1);
    db_bind_text(st, 2, key, -1);
    out[0] = '\0';
    if (db_step(st) == DB_ROW)
        snprintf(out, outlen, "%s", (const char *)db_column_text(st, 0));
    db_reset(st);
}

static void set_ok(struct fixture *f, const char *scope, const char *key, const char *value)
{
    f->err[0] = '\0';
    int rc = policy_set(f->s, scope, key, value, f->err, sizeof(f->err));
    if (rc != 0)
        fail_msg("policy_set(%s, %s=%s): %d %s", scope, key, value, rc, f->err);
}

static void test_defaults(void **state)
{
    struct fixture *f = *state;
    struct policy p;
    policy_defaults(&p);
    assert_int_equal(p.mode, POLICY_OPTIONAL);
    assert_int_equal(p.factors, FACTOR_BIT_SMS | FACTOR_BIT_EMAIL | FACTOR_BIT_TOTP);
    assert_true(p.recovery_codes);
    assert_int_equal(p.code_digits, 6);
    assert_int_equal(p.code_ttl, 300);
    assert_int_equal(p.max_attempts, 5);
    assert_int_equal(p.resend_cooldown, 30);
    assert_int_equal(p.sends_per_dest_hour, 5);
    assert_int_equal(p.sends_per_dest_day, 20);
    assert_int_equal(p.sends_per_user_hour, 10);
    assert_int_equal(p.sends_per_ip_hour, 30);
    assert_int_equal(p.lockout_free, 4);
    assert_int_equal(p.lockout_wait, 30);
    assert_int_equal(p.lockout_max_wait, 900);
    assert_int_equal(p.lockout_hard, 100);
    assert_int_equal(p.totp_window, 1);
    assert_string_equal(p.sms_countries, "");
    assert_int_equal(p.sms_prefix_hour, 200);
    assert_int_equal(p.sms_global_hour, 1000);
    assert_false(p.sms_fallback_email);
    assert_int_equal(p.remember_device_days, 0);
    assert_false(p.remember_device_all);
    assert_int_equal(p.webauthn_uv, WEBAUTHN_UV_PREFERRED);
    assert_false(p.require_phishing_resistant);

    /* An empty table loads as the defaults, globally and for an app. */
    struct policy q;
    memset(&q, 0x5a, sizeof(q));
    assert_int_equal(policy_load(f->s, NULL, &q), 0);
    assert_memory_equal(&p, &q, sizeof(p));
    memset(&q, 0x5a, sizeof(q));
    assert_int_equal(policy_load(f->s, "app_a", &q), 0);
    assert_memory_equal(&p, &q, sizeof(p));
    assert_string_equal(policy_mode_name(POLICY_MANDATORY), "mandatory");
}

static void test_global_and_app_layers(void **state)
{
    struct fixture *f = *state;
    set_ok(f, "", "code_ttl", "120");
    set_ok(f, "", "mode", "mandatory");
    set_ok(f, "", "sms_fallback_email", "on");
    set_ok(f, "", "remember_device_days", "30");
    set_ok(f, "app_a", "remember_device_scope", "all");
    set_ok(f, "app_a", "code_ttl", "60");
    set_ok(f, "app_a", "factors", "totp");
    set_ok(f, "app_b", "mode", "off");

    struct policy g, a, b;
    assert_int_equal(policy_load(f->s, NULL, &g), 0);
    assert_int_equal(g.code_ttl, 120);
    assert_int_equal(g.mode, POLICY_MANDATORY);
    assert_true(g.sms_fallback_email);
    assert_int_equal(g.factors, FACTOR_BIT_SMS | FACTOR_BIT_EMAIL | FACTOR_BIT_TOTP);

    assert_int_equal(policy_load(f->s, "app_a", &a), 0);
    assert_int_equal(a.code_ttl, 60);
    assert_int_equal(a.mode, POLICY_MANDATORY); /* from the global layer */
    assert_int_equal(a.factors, FACTOR_BIT_TOTP);
    assert_true(a.sms_fallback_email);
    assert_int_equal(a.remember_device_days, 30);
    assert_true(a.remember_device_all);
    assert_false(g.remember_device_all);

    assert_int_equal(policy_load(f->s, "app_b", &b), 0);
    assert_int_equal(b.code_ttl, 120);
    assert_int_equal(b.mode, POLICY_OFF);

    /* "" as app_id is the global policy. */
    assert_int_equal(policy_load(f->s, "", &b), 0);
    assert_int_equal(b.mode, POLICY_MANDATORY);

    /* Setting again replaces the row rather than adding one. */
    set_ok(f, "", "code_ttl", "90");
    assert_int_equal(count_rows(f->s, "scope = '' AND key = 'code_ttl'"), 1);
    assert_int_equal(policy_load(f->s, NULL, &g), 0);
    assert_int_equal(g.code_ttl, 90);
}

static void test_inherit_and_default_drop_rows(void **state)
{
    struct fixture *f = *state;
    set_ok(f, "", "mode", "off");
    set_ok(f, "app_a", "mode", "mandatory");
    set_ok(f, "app_a", "max_attempts", "3");
    assert_int_equal(count_rows(f->s, "scope = 'app_a'"), 2);

    set_ok(f, "app_a", "mode", "inherit");
    assert_int_equal(count_rows(f->s, "scope = 'app_a' AND key = 'mode'"), 0);
    struct policy p;
    assert_int_equal(policy_load(f->s, "app_a", &p), 0);
    assert_int_equal(p.mode, POLICY_OFF);
    assert_int_equal(p.max_attempts, 3);

    /* inherit works for any key of an app, and for a missing row too. */
    set_ok(f, "app_a", "max_attempts", "INHERIT");
    set_ok(f, "app_a", "code_ttl", "inherit");
    assert_int_equal(count_rows(f->s, "scope = 'app_a'"), 0);

    /* The global scope has no parent: inherit is refused, default drops. */
    assert_int_equal(policy_set(f->s, "", "mode", "inherit", f->err, sizeof(f->err)),
                     OG_ERR_INVALID);
    assert_non_null(strstr(f->err, "mode"));
    set_ok(f, "", "mode", "default");
    assert_int_equal(count_rows(f->s, "scope = ''"), 0);
    assert_int_equal(policy_load(f->s, NULL, &p), 0);
    assert_int_equal(p.mode, POLICY_OPTIONAL);
    /* default is not a value for an app. */
    assert_int_equal(policy_set(f->s, "app_a", "mode", "default", f->err, sizeof(f->err)),
                     OG_ERR_INVALID);
}

static void test_unknown_app(void **state)
{
    struct fixture *f = *state;
    f->err[0] = '\0';
    assert_int_equal(policy_set(f->s, "app_zz", "mode", "off", f->err, sizeof(f->err)),
                     OG_ERR_NOT_FOUND);
    assert_non_null(strstr(f->err, "app_zz"));
    assert_int_equal(count_rows(f->s, "1 = 1"), 0);
    struct buf b;
    buf_init(&b, 65536);
    assert_int_equal(policy_show(f->s, "app_zz", &b), OG_ERR_NOT_FOUND);
    buf_free(&b);
}

static void test_canonical_spellings(void **state)
{
    struct fixture *f = *state;
    char v[300];
    set_ok(f, "", "factors", " TOTP , sms,webauthn");
    stored(f->s, "", "factors", v, sizeof(v));
    assert_string_equal(v, "sms,totp,webauthn");
    set_ok(f, "", "sms_countries", "+44, 1 ,86");
    stored(f->s, "", "sms_countries", v, sizeof(v));
    assert_string_equal(v, "44,1,86");
    set_ok(f, "", "mode", "Mandatory");
    stored(f->s, "", "mode", v, sizeof(v));
    assert_string_equal(v, "mandatory");
    set_ok(f, "", "recovery_codes", "OFF");
    stored(f->s, "", "recovery_codes", v, sizeof(v));
    assert_string_equal(v, "off");
    set_ok(f, "", "webauthn_user_verification", "Required");
    stored(f->s, "", "webauthn_user_verification", v, sizeof(v));
    assert_string_equal(v, "required");
    set_ok(f, "", "require_phishing_resistant", "On");
    stored(f->s, "", "require_phishing_resistant", v, sizeof(v));
    assert_string_equal(v, "on");

    struct policy p;
    assert_int_equal(policy_load(f->s, NULL, &p), 0);
    assert_int_equal(p.factors, FACTOR_BIT_SMS | FACTOR_BIT_TOTP | FACTOR_BIT_WEBAUTHN);
    assert_string_equal(p.sms_countries, "44,1,86");
    assert_false(p.recovery_codes);
    assert_int_equal(p.webauthn_uv, WEBAUTHN_UV_REQUIRED);
    assert_true(p.require_phishing_resistant);
    /* Each value of webauthn_user_verification, and an app's own. */
    set_ok(f, "", "webauthn_user_verification", "discouraged");
    set_ok(f, "app_a", "webauthn_user_verification", "preferred");
    assert_int_equal(policy_load(f->s, NULL, &p), 0);
    assert_int_equal(p.webauthn_uv, WEBAUTHN_UV_DISCOURAGED);
    assert_int_equal(policy_load(f->s, "app_a", &p), 0);
    assert_int_equal(p.webauthn_uv, WEBAUTHN_UV_PREFERRED);

    /* notify_events: names in any case and order, stored in table order;
     * every name is "all". */
    set_ok(f, "", "notify_events", " Locked,factor_added ");
    stored(f->s, "", "notify_events", v, sizeof(v));
    assert_string_equal(v, "factor_added,locked");
    assert_int_equal(policy_load(f->s, NULL, &p), 0);
    assert_int_equal(p.notify_events, NOTIFY_FACTOR_ADDED | NOTIFY_LOCKED);
    assert_true(p.notify);
    assert_false(p.notify_sms);
    set_ok(f, "", "notify_events",
           "factor_added,factor_removed,preferred_changed,mfa_disabled,recovery_code_used,"
           "recovery_codes_new,locked,unlocked,reset,device_remembered");
    stored(f->s, "", "notify_events", v, sizeof(v));
    assert_string_equal(v, "all");
    set_ok(f, "app_a", "notify", "off");
    set_ok(f, "app_a", "notify_sms", "on");
    assert_int_equal(policy_load(f->s, "app_a", &p), 0);
    assert_false(p.notify);
    assert_true(p.notify_sms);
    assert_int_equal(p.notify_events, NOTIFY_ALL);

    /* Empty sms_countries means every country. */
    set_ok(f, "", "sms_countries", "");
    assert_int_equal(policy_load(f->s, NULL, &p), 0);
    assert_string_equal(p.sms_countries, "");

    /* Range ends are accepted. */
    set_ok(f, "", "code_digits", "4");
    set_ok(f, "", "code_digits", "10");
    set_ok(f, "", "resend_cooldown", "0");
    set_ok(f, "", "lockout_wait", "0");
    set_ok(f, "", "lockout_hard", "100000");
    set_ok(f, "", "totp_window", "10");
    assert_int_equal(policy_load(f->s, NULL, &p), 0);
    assert_int_equal(p.code_digits, 10);
    assert_int_equal(p.lockout_wait, 0);
}

static void test_refusals_name_the_key(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *key, *value, *expect;
    } bad[] = {
        {"mode", "sometimes", "off, optional, mandatory"},
        {"mode", "", "off, optional, mandatory"},
        {"factors", "sms,fax", "sms, email, totp, webauthn"},
        {"factors", "", "at least one"},
        {"factors", "sms,", "sms, email, totp, webauthn"},
        {"recovery_codes", "yes", "on, off"},
        {"notify", "maybe", "on, off"},
        {"notify_events", "factor_added,spam", "comma list of factor_added"},
        {"notify_events", "", "comma list of factor_added"},
        {"code_digits", "3", "from 4 to 10"},
        {"code_digits", "11", "from 4 to 10"},
        {"code_ttl", "x", "must be a whole number of seconds from 1 to 86400"},
        {"code_ttl", "0", "from 1 to 86400"},
        {"code_ttl", "86401", "from 1 to 86400"},
        {"code_ttl", " 60", "from 1 to 86400"},
        {"code_ttl", "60s", "from 1 to 86400"},
        {"code_ttl", "-5", "from 1 to 86400"},
        {"code_ttl", "99999999999999999999999", "from 1 to 86400"},
        {"max_attempts", "0", "from 1 to 100"},
        {"max_attempts", "101", "from 1 to 100"},
        {"resend_cooldown", "3601", "from 0 to 3600"},
        {"sends_per_dest_hour", "0", "from 1 to"},
        {"sends_per_dest_day", "abc", "from 1 to"},
        {"sends_per_user_hour", "1.5", "from 1 to"},
        {"sends_per_ip_hour", "", "from 1 to"},
        {"lockout_free", "-1", "from 0 to"},
        {"lockout_wait", "3601", "from 0 to 3600"},
        {"lockout_max_wait", "86401", "from 0 to"},
        {"lockout_hard", "0", "from 1 to 100000"},
        {"totp_window", "11", "from 0 to 10"},
        {"sms_countries", "44,abc", "calling codes"},
        {"sms_countries", "0044", "calling codes"},
        {"sms_countries", "1234", "calling codes"},
        {"sms_countries", "44,,1", "calling codes"},
        {"sms_prefix_hour", "0", "from 1 to"},
        {"sms_global_hour", "x", "from 1 to"},
        {"sms_fallback_email", "maybe", "on, off"},
        {"remember_device_days", "366", "from 0 to 365"},
        {"remember_device_days", "-1", "from 0 to 365"},
        {"remember_device_scope", "everywhere", "app, all"},
        {"webauthn_user_verification", "always", "required, preferred, discouraged"},
        {"webauthn_user_verification", "", "required, preferred, discouraged"},
        {"require_phishing_resistant", "yes", "on, off"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int app = 0; app < 2; app++) {
            f->err[0] = '\0';
            int rc = policy_set(f->s, app ? "app_a" : "", bad[i].key, bad[i].value, f->err,
                                sizeof(f->err));
            if (rc != OG_ERR_INVALID)
                fail_msg("%s=%s was accepted (%d)", bad[i].key, bad[i].value, rc);
            size_t kl = strlen(bad[i].key);
            if (strncmp(f->err, bad[i].key, kl) != 0 || f->err[kl] != ':')
                fail_msg("error for %s does not start with the key: %s", bad[i].key, f->err);
            if (!strstr(f->err, bad[i].expect))
                fail_msg("error for %s=%s lacks '%s': %s", bad[i].key, bad[i].value, bad[i].expect,
                         f->err);
            assert_null(strchr(f->err, '\n'));
            assert_int_equal(policy_validate(bad[i].key, bad[i].value, app, NULL, 0),
                             OG_ERR_INVALID);
        }
    }
    /* The exact message of the brief. */
    policy_set(f->s, "", "code_ttl", "x", f->err, sizeof(f->err));
    assert_string_equal(f->err, "code_ttl: 'x' must be a whole number of seconds from 1 to 86400");

    /* Unknown keys are named too. */
    assert_int_equal(policy_set(f->s, "", "colour", "blue", f->err, sizeof(f->err)),
                     OG_ERR_INVALID);
    assert_non_null(strstr(f->err, "'colour'"));
    /* A long value is refused and quoted only in part. */
    char longv[400];
    memset(longv, '9', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    assert_int_equal(policy_set(f->s, "", "sms_countries", longv, f->err, sizeof(f->err)),
                     OG_ERR_INVALID);
    assert_non_null(strstr(f->err, "sms_countries"));
    assert_true(strlen(f->err) < 200);
    /* Nothing was written by any refusal. */
    assert_int_equal(count_rows(f->s, "1 = 1"), 0);
}

static void test_joins_caller_transaction(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_begin(f->s), 0);
    set_ok(f, "", "code_ttl", "77");
    set_ok(f, "app_a", "mode", "off");
    assert_int_equal(store_rollback(f->s), 0);
    assert_int_equal(count_rows(f->s, "1 = 1"), 0);

    assert_int_equal(store_begin(f->s), 0);
    set_ok(f, "", "code_ttl", "77");
    assert_int_equal(store_commit(f->s), 0);
    assert_int_equal(count_rows(f->s, "1 = 1"), 1);
}

static void test_bad_stored_rows_skipped(void **state)
{
    struct fixture *f = *state;
    exec_sql(f->s, "INSERT INTO policy (scope, key, value, updated_at) VALUES "
                   "('', 'code_ttl', 'banana', 0), ('', 'no_such_key', '1', 0), "
                   "('', 'max_attempts', '7', 0)");
    struct policy p;
    assert_int_equal(policy_load(f->s, NULL, &p), 0);
    assert_int_equal(p.code_ttl, 300);
    assert_int_equal(p.max_attempts, 7);
}

static void test_show(void **state)
{
    struct fixture *f = *state;
    set_ok(f, "", "code_ttl", "120");
    set_ok(f, "app_a", "mode", "mandatory");
    struct buf b;
    buf_init(&b, 65536);
    assert_int_equal(policy_show(f->s, "", &b), 0);
    assert_non_null(strstr(b.data, "mode = optional  (default)\n"));
    assert_non_null(strstr(b.data, "code_ttl = 120  (global)\n"));
    assert_non_null(strstr(b.data, "factors = sms,email,totp  (default)\n"));
    assert_non_null(strstr(b.data, "sms_countries =   (default)\n"));
    assert_non_null(strstr(b.data, "remember_device_days = 0  (default)\n"));
    assert_non_null(strstr(b.data, "remember_device_scope = app  (default)\n"));
    assert_non_null(strstr(b.data, "webauthn_user_verification = preferred  (default)\n"));
    assert_non_null(strstr(b.data, "require_phishing_resistant = off  (default)\n"));
    assert_non_null(strstr(b.data, "notify = on  (default)\n"));
    assert_non_null(strstr(b.data, "notify_sms = off  (default)\n"));
    assert_non_null(strstr(b.data, "notify_events = all  (default)\n"));
    /* One line per key, 27 keys. */
    size_t lines = 0;
    for (size_t i = 0; i < b.len; i++)
        lines += b.data[i] == '\n';
    assert_int_equal(lines, 27);

    buf_clear(&b);
    assert_int_equal(policy_show(f->s, "app_a", &b), 0);
    assert_non_null(strstr(b.data, "mode = mandatory  (app)\n"));
    assert_non_null(strstr(b.data, "code_ttl = 120  (global)\n"));
    assert_non_null(strstr(b.data, "max_attempts = 5  (default)\n"));

    buf_clear(&b);
    assert_int_equal(policy_show(f->s, NULL, &b), 0);
    assert_non_null(strstr(b.data, "mode = optional  (default)\n"));
    buf_free(&b);
}

struct entries {
    char keys[32][32], values[32][64], sources[32][16], allowed[32][64];
    bool choices[32];
    size_t n;
};

static void collect_entry(const struct policy_entry *e, void *arg)
{
    struct entries *x = arg;
    snprintf(x->keys[x->n], sizeof(x->keys[0]), "%s", e->key);
    snprintf(x->values[x->n], sizeof(x->values[0]), "%s", e->value);
    snprintf(x->sources[x->n], sizeof(x->sources[0]), "%s", e->source);
    snprintf(x->allowed[x->n], sizeof(x->allowed[0]), "%s", e->allowed);
    x->choices[x->n] = e->choices != NULL;
    assert_non_null(e->help);
    assert_non_null(e->def);
    x->n++;
}

/* policy_each gives what policy_show prints, one key at a time, with the
 * allowed values and closed choices the console's form needs. */
static void test_each(void **state)
{
    struct fixture *f = *state;
    set_ok(f, "", "code_ttl", "120");
    set_ok(f, "app_a", "recovery_codes", "off");
    struct entries e = {0};
    assert_int_equal(policy_each(f->s, "app_a", collect_entry, &e), 0);
    assert_int_equal(e.n, 27);
    struct buf b;
    buf_init(&b, 65536);
    assert_int_equal(policy_show(f->s, "app_a", &b), 0);
    for (size_t i = 0; i < e.n; i++) {
        char line[200];
        snprintf(line, sizeof(line), "%s = %s  (%s)\n", e.keys[i], e.values[i], e.sources[i]);
        assert_non_null(strstr(b.data, line));
    }
    buf_free(&b);
    assert_string_equal(e.keys[0], "mode");
    assert_true(e.choices[0]);
    assert_string_equal(e.keys[2], "recovery_codes");
    assert_string_equal(e.sources[2], "app");
    assert_true(e.choices[2]);
    assert_string_equal(e.keys[4], "code_ttl");
    assert_string_equal(e.sources[4], "global");
    assert_string_equal(e.allowed[4], "1 to 86400 seconds");
    assert_false(e.choices[4]);
    assert_int_equal(policy_each(f->s, "app_zz", collect_entry, &e), OG_ERR_NOT_FOUND);
}

static void test_help_text(void **state)
{
    (void)state;
    const char *h = policy_help_text();
    static const char *const names[] = {
        "mode",
        "factors",
        "recovery_codes",
        "code_digits",
        "code_ttl",
        "max_attempts",
        "resend_cooldown",
        "sends_per_dest_hour",
        "sends_per_dest_day",
        "sends_per_user_hour",
        "sends_per_ip_hour",
        "lockout_free",
        "lockout_wait",
        "lockout_max_wait",
        "lockout_hard",
        "totp_window",
        "sms_countries",
        "sms_prefix_hour",
        "sms_global_hour",
        "sms_fallback_email",
        "remember_device_days",
        "remember_device_scope",
        "webauthn_user_verification",
        "require_phishing_resistant",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strstr(h, names[i]))
            fail_msg("help text lacks %s", names[i]);
    assert_non_null(strstr(h, "1 to 86400 seconds"));
    assert_non_null(strstr(h, "required|preferred|discouraged"));
    assert_non_null(strstr(h, "inherit"));
    assert_ptr_equal(h, policy_help_text());
}

int main(void)
{
    log_set_level(OG_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_global_and_app_layers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inherit_and_default_drop_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_app, setup, teardown),
        cmocka_unit_test_setup_teardown(test_canonical_spellings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_name_the_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_joins_caller_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_stored_rows_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each, setup, teardown),
        cmocka_unit_test(test_help_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
