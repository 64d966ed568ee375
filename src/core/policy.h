/* The admin's policies and rules (SPEC §4, §5) as typed settings kept in the
 * policy table: scope '' is the global policy, any other scope an app's
 * client_id. Every value is validated here before it is stored, and stored
 * in one canonical spelling. No libuv, no HTTP; never sees a secret. */
#ifndef OTPGATE_POLICY_H
#define OTPGATE_POLICY_H

#include "core/buf.h"
#include "core/common.h"
#include "core/store/store.h"
#include "core/webauthn.h"

enum policy_mode { POLICY_OFF, POLICY_OPTIONAL, POLICY_MANDATORY };
enum { FACTOR_BIT_SMS = 1, FACTOR_BIT_EMAIL = 2, FACTOR_BIT_TOTP = 4, FACTOR_BIT_WEBAUTHN = 8 };

/* The security notifications a user may get (issue #15), as bits of
 * struct policy.notify_events; "notify_events" names them as in
 * policy_notify_name. */
enum {
    NOTIFY_FACTOR_ADDED = 1u << 0,
    NOTIFY_FACTOR_REMOVED = 1u << 1,
    NOTIFY_PREFERRED_CHANGED = 1u << 2,
    NOTIFY_MFA_DISABLED = 1u << 3,
    NOTIFY_RECOVERY_CODE_USED = 1u << 4,
    NOTIFY_RECOVERY_CODES_NEW = 1u << 5,
    NOTIFY_LOCKED = 1u << 6,
    NOTIFY_UNLOCKED = 1u << 7,
    NOTIFY_RESET = 1u << 8,
    NOTIFY_DEVICE_REMEMBERED = 1u << 9,
    NOTIFY_ALL = (1u << 10) - 1,
};

/* Longest value policy_set accepts (sms_countries is the only long one). */
#define POLICY_VALUE_MAX 255

struct policy {
    enum policy_mode mode;         /* "mode": off|optional|mandatory, default optional; per app
                                      also "inherit" (= delete the app's row) */
    unsigned factors;              /* "factors": comma list of sms,email,totp,webauthn;
                                      default sms,email,totp */
    bool recovery_codes;           /* "recovery_codes": on|off, default on */
    unsigned code_digits;          /* "code_digits" 6 (4..10) */
    unsigned code_ttl;             /* "code_ttl" seconds, 300 (1..86400) */
    unsigned max_attempts;         /* "max_attempts" 5 (1..100) */
    unsigned resend_cooldown;      /* "resend_cooldown" seconds, 30 (0..3600); doubles per resend */
    unsigned sends_per_dest_hour;  /* 5 */
    unsigned sends_per_dest_day;   /* 20 */
    unsigned sends_per_user_hour;  /* 10 */
    unsigned sends_per_ip_hour;    /* 30 */
    unsigned lockout_free;         /* "lockout_free": failures allowed before waits start, 4 (so
                                      from the 5th failure each further try waits) */
    unsigned lockout_wait;         /* "lockout_wait" first wait seconds, 30 (0..3600; 0 disables
                                      waits) */
    unsigned lockout_max_wait;     /* "lockout_max_wait" 900 */
    unsigned lockout_hard;         /* "lockout_hard" consecutive failures that lock, 100
                                      (1..100000) */
    unsigned totp_window;          /* "totp_window" steps either side, 1 (0..10) */
    char sms_countries[256];       /* "sms_countries": comma list of calling codes like
                                      "44,1,86", empty = all */
    unsigned sms_prefix_hour;      /* "sms_prefix_hour": SMS per hour to one calling code, 200 */
    unsigned sms_global_hour;      /* "sms_global_hour": SMS per hour overall, 1000 */
    bool sms_fallback_email;       /* "sms_fallback_email": on|off, default off */
    unsigned remember_device_days; /* "remember_device_days": 0 (off) .. 365 */
    bool remember_device_all;      /* "remember_device_scope": app (false, default) | all */
    enum webauthn_uv webauthn_uv;  /* "webauthn_user_verification":
                                      required|preferred|discouraged, default preferred */
    bool require_phishing_resistant; /* "require_phishing_resistant": on|off, default off;
                                        on: only passkeys pass the second step */
    bool notify;                     /* "notify": on|off, default on: security notifications */
    bool notify_sms;                 /* "notify_sms": on|off, default off: by SMS to a user with
                                        no e-mail factor */
    unsigned notify_events;          /* "notify_events": comma list of notification names, or
                                        "all" (default) */
};

/* Fills p with the built-in defaults of SPEC §4/§5. */
void policy_defaults(struct policy *p);

/* The effective policy: defaults, then the global rows, then (if app_id is
 * not NULL or "") the app's rows. A stored row that no longer validates is
 * skipped with a warning in the log. Returns 0 or OG_ERR_DB; out is always
 * filled (with at least the defaults). */
int policy_load(struct store *s, const char *app_id, struct policy *out);

/* The same for many apps at once: global is policy_load(s, NULL, ...)'s
 * result, and out gets it with app_id's rows applied, exactly what
 * policy_load(s, app_id, out) gives when the rows have not changed in
 * between. Returns 0 or OG_ERR_DB / OG_ERR_BUSY; out is always filled. */
int policy_load_app(struct store *s, const struct policy *global, const char *app_id,
                    struct policy *out);

/* Checks key=value without writing anything, as policy_set would for a
 * global scope (app_scope false) or an app's scope (true). Returns 0, or
 * OG_ERR_INVALID with one line in err naming the key and what is allowed. */
int policy_validate(const char *key, const char *value, bool app_scope, char *err, size_t errlen);

/* Validates key=value (one line error into err naming the key and the
 * allowed values, e.g. "code_ttl: 'x' must be a whole number of seconds from
 * 1 to 86400"), then upserts its canonical spelling. scope is "" or an app's
 * client_id, which must exist in apps (else OG_ERR_NOT_FOUND). For an app,
 * the value "inherit" deletes the app's row, so the key follows the global
 * policy again (SPEC's mode=inherit); for the global scope, "default"
 * deletes the global row. Joins the caller's transaction if one is open,
 * else runs in its own. Returns 0, OG_ERR_INVALID, OG_ERR_NOT_FOUND,
 * OG_ERR_DB or OG_ERR_BUSY. */
int policy_set(struct store *s, const char *scope, const char *key, const char *value, char *err,
               size_t errlen);

/* Appends one "key = value  (default|global|app)" line per key, in a fixed
 * order, for the effective policy of scope ("" or NULL: global; else an
 * app's client_id, which must exist: OG_ERR_NOT_FOUND). The last word says
 * which layer the value comes from. Returns 0 or an og_err. */
int policy_show(struct store *s, const char *scope, struct buf *out);

/* One key of a scope's effective policy, as policy_each reports it. Every
 * string is static or lives until the callback returns. */
struct policy_entry {
    const char *key;            /* "code_ttl" */
    const char *value;          /* the effective value, canonical spelling */
    const char *source;         /* "default", "global" or "app": the layer it comes from */
    const char *def;            /* the built-in default ("" for sms_countries) */
    const char *allowed;        /* "1 to 86400 seconds", "off|optional|mandatory", ... */
    const char *help;           /* what the key means, one sentence */
    const char *const *choices; /* the closed set of values (NULL-terminated), or NULL
                                   when the value is free text (numbers, lists) */
};

/* Calls fn once per key, in the fixed order of policy_show, with the
 * effective value of scope ("" or NULL: global; else an app's client_id,
 * which must exist: OG_ERR_NOT_FOUND) and where it comes from. policy_show
 * is this as text. fn must not use the store. Returns 0 or an og_err. */
int policy_each(struct store *s, const char *scope,
                void (*fn)(const struct policy_entry *e, void *arg), void *arg);

/* Every key with its default, allowed values and meaning, for --help. The
 * text is static. */
const char *policy_help_text(void);

/* The name of one NOTIFY_* bit ("factor_added", ...), or NULL. */
const char *policy_notify_name(unsigned bit);

/* The spelling of a mode: "off", "optional" or "mandatory". */
const char *policy_mode_name(enum policy_mode mode);

#endif
