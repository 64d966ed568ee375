/* Parses, validates, stores and layers the policy settings of SPEC §4/§5:
 * built-in defaults, then the global rows (scope ''), then an app's rows.
 * One table of keys drives the defaults, the parser, `policy show` and the
 * help text, so they cannot drift apart. Never writes a value it has not
 * validated and spelled canonically. */
#include "core/policy.h"

#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* How much of a rejected value an error message quotes. */
#define ECHO_MAX 40

enum kind {
    KIND_MODE,
    KIND_FACTORS,
    KIND_BOOL,
    KIND_UINT,
    KIND_COUNTRIES,
    KIND_SCOPE,
    KIND_UV,
    KIND_NOTIFY,
};

/* Which layer an effective value came from. */
enum source { SRC_DEFAULT, SRC_GLOBAL, SRC_APP };

static const char *const source_names[] = {"default", "global", "app"};

struct key_def {
    const char *name;
    enum kind kind;
    size_t offset;    /* of the field in struct policy */
    unsigned min;     /* KIND_UINT only */
    unsigned max;     /* KIND_UINT only */
    const char *unit; /* KIND_UINT: "seconds", "digits", ... or NULL */
    const char *def;  /* the default, spelled as a stored value */
    const char *help;
};

#define FIELD(f) offsetof(struct policy, f)

static const struct key_def keys[] = {
    {"mode", KIND_MODE, FIELD(mode), 0, 0, NULL, "optional",
     "no second step, users choose whether to enrol, or every user must enrol"},
    {"factors", KIND_FACTORS, FIELD(factors), 0, 0, NULL, "sms,email,totp",
     "the factor types users may use"},
    {"recovery_codes", KIND_BOOL, FIELD(recovery_codes), 0, 0, NULL, "on",
     "whether recovery codes are offered"},
    {"code_digits", KIND_UINT, FIELD(code_digits), 4, 10, "digits", "6",
     "digits of an SMS or email code"},
    {"code_ttl", KIND_UINT, FIELD(code_ttl), 1, 86400, "seconds", "300",
     "seconds an SMS or email code stays valid"},
    {"max_attempts", KIND_UINT, FIELD(max_attempts), 1, 100, "attempts", "5",
     "wrong tries a code survives before it is dead"},
    {"resend_cooldown", KIND_UINT, FIELD(resend_cooldown), 0, 3600, "seconds", "30",
     "seconds before a code may be resent; doubles with each resend"},
    {"sends_per_dest_hour", KIND_UINT, FIELD(sends_per_dest_hour), 1, 1000, "messages", "5",
     "codes sent to one phone number or address per hour"},
    {"sends_per_dest_day", KIND_UINT, FIELD(sends_per_dest_day), 1, 10000, "messages", "20",
     "codes sent to one phone number or address per day"},
    {"sends_per_user_hour", KIND_UINT, FIELD(sends_per_user_hour), 1, 1000, "messages", "10",
     "codes sent for one user per hour"},
    {"sends_per_ip_hour", KIND_UINT, FIELD(sends_per_ip_hour), 1, 100000, "messages", "30",
     "codes sent on behalf of one client IP address per hour"},
    {"lockout_free", KIND_UINT, FIELD(lockout_free), 0, 1000, "failures", "4",
     "consecutive failures allowed before each further try must wait"},
    {"lockout_wait", KIND_UINT, FIELD(lockout_wait), 0, 3600, "seconds", "30",
     "first wait after the free failures, doubling each time; 0 disables waits"},
    {"lockout_max_wait", KIND_UINT, FIELD(lockout_max_wait), 0, 86400, "seconds", "900",
     "longest wait between tries"},
    {"lockout_hard", KIND_UINT, FIELD(lockout_hard), 1, 100000, "failures", "100",
     "consecutive failures that lock the user until a recovery code or an admin unlocks"},
    {"totp_window", KIND_UINT, FIELD(totp_window), 0, 10, "steps", "1",
     "30-second TOTP steps accepted either side of now"},
    {"sms_countries", KIND_COUNTRIES, FIELD(sms_countries), 0, 0, NULL, "",
     "country calling codes SMS may go to, like 44,1,86; empty for all"},
    {"sms_prefix_hour", KIND_UINT, FIELD(sms_prefix_hour), 1, 1000000, "messages", "200",
     "SMS per hour to one country calling code"},
    {"sms_global_hour", KIND_UINT, FIELD(sms_global_hour), 1, 1000000, "messages", "1000",
     "SMS per hour overall"},
    {"sms_fallback_email", KIND_BOOL, FIELD(sms_fallback_email), 0, 0, NULL, "off",
     "send a failed SMS code to the user's email instead"},
    {"remember_device_days", KIND_UINT, FIELD(remember_device_days), 0, 365, "days", "0",
     "days a browser may skip the second step after passing it (\"Don't ask again\"); 0 off"},
    {"remember_device_scope", KIND_SCOPE, FIELD(remember_device_all), 0, 0, NULL, "app",
     "a remembered browser skips the step for this app only, or for every app of scope all"},
    {"webauthn_user_verification", KIND_UV, FIELD(webauthn_uv), 0, 0, NULL, "preferred",
     "whether a passkey must also verify its user (PIN, fingerprint, face)"},
    {"require_phishing_resistant", KIND_BOOL, FIELD(require_phishing_resistant), 0, 0, NULL, "off",
     "only passkeys pass the second step"},
    {"notify", KIND_BOOL, FIELD(notify), 0, 0, NULL, "on",
     "security notifications to users: a factor added or removed, a lock, ..."},
    {"notify_sms", KIND_BOOL, FIELD(notify_sms), 0, 0, NULL, "off",
     "notify by SMS a user who has no e-mail factor"},
    {"notify_events", KIND_NOTIFY, FIELD(notify_events), 0, 0, NULL, "all",
     "which notifications are sent: all, or a comma list (see README)"},
};

#define KEY_COUNT ARRAY_SIZE(keys)

static const char *const mode_names[] = {"off", "optional", "mandatory"};

static const struct {
    const char *name;
    unsigned bit;
} factor_names[] = {
    {"sms", FACTOR_BIT_SMS},
    {"email", FACTOR_BIT_EMAIL},
    {"totp", FACTOR_BIT_TOTP},
    {"webauthn", FACTOR_BIT_WEBAUTHN},
};

/* The notifications "notify_events" names, in the order it lists them. */
static const struct {
    const char *name;
    unsigned bit;
} notify_names[] = {
    {"factor_added", NOTIFY_FACTOR_ADDED},
    {"factor_removed", NOTIFY_FACTOR_REMOVED},
    {"preferred_changed", NOTIFY_PREFERRED_CHANGED},
    {"mfa_disabled", NOTIFY_MFA_DISABLED},
    {"recovery_code_used", NOTIFY_RECOVERY_CODE_USED},
    {"recovery_codes_new", NOTIFY_RECOVERY_CODES_NEW},
    {"locked", NOTIFY_LOCKED},
    {"unlocked", NOTIFY_UNLOCKED},
    {"reset", NOTIFY_RESET},
    {"device_remembered", NOTIFY_DEVICE_REMEMBERED},
};

const char *policy_notify_name(unsigned bit)
{
    for (size_t i = 0; i < ARRAY_SIZE(notify_names); i++)
        if (notify_names[i].bit == bit)
            return notify_names[i].name;
    return NULL;
}

/* "all" for every notification, else the comma list of the bits' names. */
static void notify_format(unsigned bits, char *out, size_t outlen)
{
    if ((bits & NOTIFY_ALL) == NOTIFY_ALL) {
        snprintf(out, outlen, "all");
        return;
    }
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(notify_names); i++) {
        if (!(bits & notify_names[i].bit))
            continue;
        int w = snprintf(out + n, outlen - n, "%s%s", n ? "," : "", notify_names[i].name);
        if (w < 0 || (size_t)w >= outlen - n)
            return;
        n += (size_t)w;
    }
}

static const char SQL_ROWS[] = "SELECT key, value FROM policy WHERE scope = ?1";
static const char SQL_UPSERT[] = "INSERT INTO policy (scope, key, value, updated_at) "
                                 "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (scope, key) DO UPDATE "
                                 "SET value = excluded.value, updated_at = excluded.updated_at";
static const char SQL_DELETE[] = "DELETE FROM policy WHERE scope = ?1 AND key = ?2";
static const char SQL_APP_EXISTS[] = "SELECT 1 FROM apps WHERE id = ?1";

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A printable, shortened copy of value for quoting in an error message. */
static void echo(const char *value, char *out, size_t outlen)
{
    size_t n = 0, i = 0;
    for (; value[i] && n + 1 < outlen && i < ECHO_MAX; i++) {
        unsigned char c = (unsigned char)value[i];
        out[n++] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
    }
    if (value[i] && n + 4 < outlen) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static const struct key_def *key_find(const char *name)
{
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* The next comma-separated item of *p, trimmed of blanks; advances *p past
 * the comma. Returns false at the end of the string. */
static bool next_item(const char **p, struct span *item)
{
    const char *s = *p;
    if (!s)
        return false;
    const char *comma = strchr(s, ',');
    const char *end = comma ? comma : s + strlen(s);
    *p = comma ? comma + 1 : NULL;
    while (s < end && is_space(*s))
        s++;
    while (end > s && is_space(end[-1]))
        end--;
    *item = span_make(s, (size_t)(end - s));
    return true;
}

static bool word_is(const char *value, const char *word)
{
    return span_eq_nocase(span_cstr(value), span_cstr(word));
}

/* Parses value for key d. On success stores it into p (when not NULL) and
 * its canonical spelling into canon (when not NULL). */
static int parse_value(const struct key_def *d, const char *value, bool app_scope, struct policy *p,
                       char *canon, size_t canonlen, char *err, size_t errlen)
{
    char shown[ECHO_MAX + 8];
    echo(value, shown, sizeof(shown));
    char *field = p ? (char *)p + d->offset : NULL;
    char tmp[POLICY_VALUE_MAX + 1];

    if (strlen(value) > POLICY_VALUE_MAX) {
        set_err(err, errlen, "%s: the value is too long (at most %d characters)", d->name,
                POLICY_VALUE_MAX);
        return OG_ERR_INVALID;
    }

    switch (d->kind) {
    case KIND_MODE:
        for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++) {
            if (word_is(value, mode_names[i])) {
                if (field)
                    *(enum policy_mode *)(void *)field = (enum policy_mode)i;
                if (canon)
                    snprintf(canon, canonlen, "%s", mode_names[i]);
                return OG_OK;
            }
        }
        set_err(err, errlen, "%s: '%s' is not one of off, optional, mandatory%s", d->name, shown,
                app_scope ? ", inherit" : "");
        return OG_ERR_INVALID;

    case KIND_BOOL:
        if (word_is(value, "on") || word_is(value, "off")) {
            bool on = word_is(value, "on");
            if (field)
                *(bool *)(void *)field = on;
            if (canon)
                snprintf(canon, canonlen, "%s", on ? "on" : "off");
            return OG_OK;
        }
        set_err(err, errlen, "%s: '%s' is not one of on, off", d->name, shown);
        return OG_ERR_INVALID;

    case KIND_SCOPE:
        if (word_is(value, "app") || word_is(value, "all")) {
            bool all = word_is(value, "all");
            if (field)
                *(bool *)(void *)field = all;
            if (canon)
                snprintf(canon, canonlen, "%s", all ? "all" : "app");
            return OG_OK;
        }
        set_err(err, errlen, "%s: '%s' is not one of app, all", d->name, shown);
        return OG_ERR_INVALID;

    case KIND_UINT: {
        long long v;
        if (og_parse_int(span_cstr(value), d->min, d->max, &v) != OG_OK) {
            set_err(err, errlen, "%s: '%s' must be a whole number%s%s from %u to %u", d->name,
                    shown, d->unit ? " of " : "", d->unit ? d->unit : "", d->min, d->max);
            return OG_ERR_INVALID;
        }
        if (field)
            *(unsigned *)(void *)field = (unsigned)v;
        if (canon)
            snprintf(canon, canonlen, "%lld", v);
        return OG_OK;
    }

    case KIND_FACTORS: {
        unsigned bits = 0;
        const char *cur = value;
        struct span item;
        while (next_item(&cur, &item)) {
            unsigned bit = 0;
            for (size_t i = 0; i < ARRAY_SIZE(factor_names); i++)
                if (span_eq_nocase(item, span_cstr(factor_names[i].name)))
                    bit = factor_names[i].bit;
            if (!bit && item.len == 0 && !cur && bits == 0)
                break; /* the whole value is blank */
            if (!bit) {
                set_err(err, errlen, "%s: '%s' is not a comma list of sms, email, totp, webauthn",
                        d->name, shown);
                return OG_ERR_INVALID;
            }
            bits |= bit;
        }
        if (bits == 0) {
            set_err(err, errlen, "%s: name at least one of sms, email, totp, webauthn", d->name);
            return OG_ERR_INVALID;
        }
        if (field)
            *(unsigned *)(void *)field = bits;
        if (canon) {
            size_t n = 0;
            canon[0] = '\0';
            for (size_t i = 0; i < ARRAY_SIZE(factor_names); i++) {
                if (!(bits & factor_names[i].bit))
                    continue;
                int w =
                    snprintf(canon + n, canonlen - n, "%s%s", n ? "," : "", factor_names[i].name);
                if (w < 0 || (size_t)w >= canonlen - n)
                    break;
                n += (size_t)w;
            }
        }
        return OG_OK;
    }

    case KIND_UV: {
        enum webauthn_uv uv;
        for (int i = WEBAUTHN_UV_REQUIRED; i <= WEBAUTHN_UV_DISCOURAGED; i++) {
            if (word_is(value, webauthn_uv_name((enum webauthn_uv)i))) {
                uv = (enum webauthn_uv)i;
                if (field)
                    *(enum webauthn_uv *)(void *)field = uv;
                if (canon)
                    snprintf(canon, canonlen, "%s", webauthn_uv_name(uv));
                return OG_OK;
            }
        }
        set_err(err, errlen, "%s: '%s' is not one of required, preferred, discouraged", d->name,
                shown);
        return OG_ERR_INVALID;
    }

    case KIND_NOTIFY: {
        unsigned bits = 0;
        const char *cur = value;
        struct span item;
        while (next_item(&cur, &item)) {
            unsigned bit = 0;
            if (span_eq_nocase(item, span_cstr("all")))
                bit = NOTIFY_ALL;
            for (size_t i = 0; i < ARRAY_SIZE(notify_names); i++)
                if (span_eq_nocase(item, span_cstr(notify_names[i].name)))
                    bit = notify_names[i].bit;
            if (!bit) {
                set_err(err, errlen,
                        "%s: '%s' is not all or a comma list of factor_added, factor_removed, "
                        "preferred_changed, mfa_disabled, recovery_code_used, "
                        "recovery_codes_new, locked, unlocked, reset, device_remembered "
                        "(notify=off turns them all off)",
                        d->name, shown);
                return OG_ERR_INVALID;
            }
            bits |= bit;
        }
        if (field)
            *(unsigned *)(void *)field = bits;
        if (canon)
            notify_format(bits, canon, canonlen);
        return OG_OK;
    }

    case KIND_COUNTRIES: {
        size_t n = 0;
        tmp[0] = '\0';
        const char *cur = value;
        struct span item;
        bool any = false;
        while (next_item(&cur, &item)) {
            if (item.len == 0 && !cur && !any)
                break; /* empty: every country */
            if (item.len > 0 && item.p[0] == '+') {
                item.p++;
                item.len--;
            }
            bool ok = item.len >= 1 && item.len <= 3 && item.p[0] >= '1' && item.p[0] <= '9';
            for (size_t i = 0; ok && i < item.len; i++)
                ok = item.p[i] >= '0' && item.p[i] <= '9';
            if (!ok) {
                set_err(err, errlen,
                        "%s: '%s' must be a comma list of country calling codes of 1 to 3 "
                        "digits, like 44,1,86, or empty for all countries",
                        d->name, shown);
                return OG_ERR_INVALID;
            }
            /* The canonical form is never longer than the input. */
            if (any)
                tmp[n++] = ',';
            memcpy(tmp + n, item.p, item.len);
            n += item.len;
            tmp[n] = '\0';
            any = true;
        }
        if (field)
            snprintf(field, sizeof(((struct policy *)0)->sms_countries), "%s", tmp);
        if (canon)
            snprintf(canon, canonlen, "%s", tmp);
        return OG_OK;
    }
    }
    set_err(err, errlen, "%s: unsupported key", d->name);
    return OG_ERR_INVALID;
}

/* The effective value of d in p, spelled as it would be stored. */
static void format_value(const struct key_def *d, const struct policy *p, char *out, size_t outlen)
{
    const char *field = (const char *)p + d->offset;
    switch (d->kind) {
    case KIND_MODE:
        snprintf(out, outlen, "%s",
                 policy_mode_name(*(const enum policy_mode *)(const void *)field));
        return;
    case KIND_BOOL:
        snprintf(out, outlen, "%s", *(const bool *)(const void *)field ? "on" : "off");
        return;
    case KIND_SCOPE:
        snprintf(out, outlen, "%s", *(const bool *)(const void *)field ? "all" : "app");
        return;
    case KIND_UINT:
        snprintf(out, outlen, "%u", *(const unsigned *)(const void *)field);
        return;
    case KIND_FACTORS: {
        unsigned bits = *(const unsigned *)(const void *)field;
        size_t n = 0;
        out[0] = '\0';
        for (size_t i = 0; i < ARRAY_SIZE(factor_names); i++) {
            if (!(bits & factor_names[i].bit))
                continue;
            int w = snprintf(out + n, outlen - n, "%s%s", n ? "," : "", factor_names[i].name);
            if (w < 0 || (size_t)w >= outlen - n)
                return;
            n += (size_t)w;
        }
        return;
    }
    case KIND_COUNTRIES:
        snprintf(out, outlen, "%s", field);
        return;
    case KIND_UV:
        snprintf(out, outlen, "%s",
                 webauthn_uv_name(*(const enum webauthn_uv *)(const void *)field));
        return;
    case KIND_NOTIFY:
        notify_format(*(const unsigned *)(const void *)field, out, outlen);
        return;
    }
    out[0] = '\0';
}

const char *policy_mode_name(enum policy_mode mode)
{
    if ((unsigned)mode < ARRAY_SIZE(mode_names))
        return mode_names[mode];
    return "unknown";
}

void policy_defaults(struct policy *p)
{
    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < KEY_COUNT; i++) {
        int rc = parse_value(&keys[i], keys[i].def, false, p, NULL, 0, NULL, 0);
        if (rc != OG_OK) { /* a bug in the table above */
            log_error("policy default does not parse", "key", keys[i].name);
            abort();
        }
    }
}

/* Applies the rows of one scope onto p, marking their source. */
static int load_scope(struct store *s, const char *scope, enum source src, struct policy *p,
                      enum source *sources)
{
    db_stmt *st = store_stmt(s, SQL_ROWS);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, scope, -1);
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        const char *key = (const char *)db_column_text(st, 0);
        const char *value = (const char *)db_column_text(st, 1);
        const struct key_def *d = key ? key_find(key) : NULL;
        if (!d || !value) {
            log_warn("unknown policy key ignored", "scope", scope, "key", key);
            continue;
        }
        char err[256];
        if (parse_value(d, value, src == SRC_APP, p, NULL, 0, err, sizeof(err)) != OG_OK) {
            log_warn("invalid stored policy value ignored", "scope", scope, "error", err);
            continue;
        }
        if (sources)
            sources[d - keys] = src;
    }
    db_reset(st);
    return rc == DB_DONE ? OG_OK : (rc == DB_BUSY ? OG_ERR_BUSY : OG_ERR_DB);
}

static int load_layers(struct store *s, const char *app_id, struct policy *out,
                       enum source *sources)
{
    policy_defaults(out);
    if (sources)
        for (size_t i = 0; i < KEY_COUNT; i++)
            sources[i] = SRC_DEFAULT;
    int rc = load_scope(s, "", SRC_GLOBAL, out, sources);
    if (rc == OG_OK && app_id && *app_id)
        rc = load_scope(s, app_id, SRC_APP, out, sources);
    return rc;
}

int policy_load(struct store *s, const char *app_id, struct policy *out)
{
    return load_layers(s, app_id, out, NULL);
}

int policy_load_app(struct store *s, const struct policy *global, const char *app_id,
                    struct policy *out)
{
    *out = *global;
    if (!app_id || !*app_id)
        return OG_OK;
    return load_scope(s, app_id, SRC_APP, out, NULL);
}

/* 0 when app_id names an app, else OG_ERR_NOT_FOUND (or OG_ERR_DB). */
static int app_exists(struct store *s, const char *app_id)
{
    db_stmt *st = store_stmt(s, SQL_APP_EXISTS);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, app_id, -1);
    int rc = db_step(st);
    db_reset(st);
    if (rc == DB_ROW)
        return OG_OK;
    if (rc == DB_DONE)
        return OG_ERR_NOT_FOUND;
    return rc == DB_BUSY ? OG_ERR_BUSY : OG_ERR_DB;
}

/* Whether value asks to drop the row of this scope rather than set it. */
static bool is_reset_word(const char *value, bool app_scope)
{
    return app_scope ? word_is(value, "inherit") : word_is(value, "default");
}

int policy_validate(const char *key, const char *value, bool app_scope, char *err, size_t errlen)
{
    if (!key || !value) {
        set_err(err, errlen, "a policy setting needs KEY=VALUE");
        return OG_ERR_INVALID;
    }
    const struct key_def *d = key_find(key);
    if (!d) {
        char shown[ECHO_MAX + 8];
        echo(key, shown, sizeof(shown));
        set_err(err, errlen, "unknown policy key '%s'; 'otpgate policy set --help' lists the keys",
                shown);
        return OG_ERR_INVALID;
    }
    if (is_reset_word(value, app_scope))
        return OG_OK;
    return parse_value(d, value, app_scope, NULL, NULL, 0, err, errlen);
}

/* The write half of policy_set, inside a transaction. */
static int set_row(struct store *s, const char *scope, const char *key, const char *canon,
                   bool drop)
{
    db_stmt *st = store_stmt(s, drop ? SQL_DELETE : SQL_UPSERT);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, scope, -1);
    db_bind_text(st, 2, key, -1);
    if (!drop) {
        db_bind_text(st, 3, canon, -1);
        db_bind_int64(st, 4, (int64_t)time(NULL));
    }
    int rc = db_step(st);
    db_reset(st);
    if (rc == DB_DONE)
        return OG_OK;
    return rc == DB_BUSY ? OG_ERR_BUSY : OG_ERR_DB;
}

int policy_set(struct store *s, const char *scope, const char *key, const char *value, char *err,
               size_t errlen)
{
    if (!scope)
        scope = "";
    bool app_scope = *scope != '\0';
    int rc = policy_validate(key, value, app_scope, err, errlen);
    if (rc != OG_OK)
        return rc;
    const struct key_def *d = key_find(key);
    bool drop = is_reset_word(value, app_scope);
    char canon[POLICY_VALUE_MAX + 1] = "";
    if (!drop) {
        rc = parse_value(d, value, app_scope, NULL, canon, sizeof(canon), err, errlen);
        if (rc != OG_OK)
            return rc;
    }

    bool own = !store_in_transaction(s);
    if (own) {
        rc = store_begin(s);
        if (rc != OG_OK) {
            set_err(err, errlen, "policy: cannot start a transaction: %s", og_strerror(rc));
            return rc;
        }
    }
    if (app_scope) {
        rc = app_exists(s, scope);
        if (rc == OG_ERR_NOT_FOUND) {
            char shown[ECHO_MAX + 8];
            echo(scope, shown, sizeof(shown));
            set_err(err, errlen, "no app '%s'; 'otpgate app list' shows the apps", shown);
        }
    }
    if (rc == OG_OK)
        rc = set_row(s, scope, d->name, canon, drop);
    if (rc == OG_OK && own)
        rc = store_commit(s);
    if (rc != OG_OK) {
        if (own)
            store_rollback(s);
        if (rc != OG_ERR_NOT_FOUND)
            set_err(err, errlen, "%s: could not be saved: %s", d->name, og_strerror(rc));
    }
    return rc;
}

/* The allowed values of d as one phrase, into out. */
static void allowed_text(const struct key_def *d, char *out, size_t outlen)
{
    if (d->kind == KIND_UINT)
        snprintf(out, outlen, "%u to %u%s%s", d->min, d->max, d->unit ? " " : "",
                 d->unit ? d->unit : "");
    else
        snprintf(out, outlen, "%s",
                 d->kind == KIND_MODE      ? "off|optional|mandatory"
                 : d->kind == KIND_BOOL    ? "on|off"
                 : d->kind == KIND_SCOPE   ? "app|all"
                 : d->kind == KIND_FACTORS ? "comma list of sms,email,totp,webauthn"
                 : d->kind == KIND_UV      ? "required|preferred|discouraged"
                 : d->kind == KIND_NOTIFY  ? "all, or a comma list of notifications"
                                           : "comma list of calling codes, or empty");
}

int policy_each(struct store *s, const char *scope,
                void (*fn)(const struct policy_entry *e, void *arg), void *arg)
{
    static const char *const mode_choices[] = {"off", "optional", "mandatory", NULL};
    static const char *const bool_choices[] = {"on", "off", NULL};
    static const char *const scope_choices[] = {"app", "all", NULL};
    static const char *const uv_choices[] = {"required", "preferred", "discouraged", NULL};
    if (!scope)
        scope = "";
    int rc;
    if (*scope) {
        rc = app_exists(s, scope);
        if (rc != OG_OK)
            return rc;
    }
    struct policy p;
    enum source sources[KEY_COUNT];
    rc = load_layers(s, scope, &p, sources);
    if (rc != OG_OK)
        return rc;
    for (size_t i = 0; i < KEY_COUNT; i++) {
        char value[POLICY_VALUE_MAX + 1], allowed[64];
        format_value(&keys[i], &p, value, sizeof(value));
        allowed_text(&keys[i], allowed, sizeof(allowed));
        struct policy_entry e = {
            .key = keys[i].name,
            .value = value,
            .source = source_names[sources[i]],
            .def = keys[i].def,
            .allowed = allowed,
            .help = keys[i].help,
            .choices = keys[i].kind == KIND_MODE    ? mode_choices
                       : keys[i].kind == KIND_BOOL  ? bool_choices
                       : keys[i].kind == KIND_SCOPE ? scope_choices
                       : keys[i].kind == KIND_UV    ? uv_choices
                                                    : NULL,
        };
        fn(&e, arg);
    }
    return OG_OK;
}

struct show_ctx {
    struct buf *out;
    int rc;
};

static void show_one(const struct policy_entry *e, void *arg)
{
    struct show_ctx *c = arg;
    if (c->rc == OG_OK)
        c->rc = buf_printf(c->out, "%s = %s  (%s)\n", e->key, e->value, e->source);
}

int policy_show(struct store *s, const char *scope, struct buf *out)
{
    struct show_ctx c = {out, OG_OK};
    int rc = policy_each(s, scope, show_one, &c);
    return rc != OG_OK ? rc : c.rc;
}

/* Built on first use from the key table, which never changes at run time.
 * Only the CLI asks for it, on one thread. */
static char help_text[6144];

const char *policy_help_text(void)
{
    if (help_text[0])
        return help_text;
    struct buf b;
    buf_init(&b, sizeof(help_text) - 1);
    buf_append_str(&b, "Policy keys (KEY  default  allowed values), each with what it means:\n");
    for (size_t i = 0; i < KEY_COUNT; i++) {
        const struct key_def *d = &keys[i];
        char range[64];
        allowed_text(d, range, sizeof(range));
        buf_printf(&b, "  %-20s %-15s %s\n      %s\n", d->name, d->def[0] ? d->def : "(empty)",
                   range, d->help);
    }
    buf_append_str(&b,
                   "\nFor an app (--app ID), the value 'inherit' drops the app's own setting so "
                   "the global\none applies again (mode=inherit follows the global mode). For "
                   "the global policy,\nthe value 'default' drops the global setting so the "
                   "built-in default applies.\n");
    memcpy(help_text, b.data, b.len);
    help_text[b.len] = '\0';
    buf_free(&b);
    return help_text;
}
