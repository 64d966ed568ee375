/* Audit events to webhooks and notifications: the rule table, the webhook
 * bodies (fixed here, so every retry sends the same bytes), the
 * notifications' recipients, facts and limits. Runs inside the caller's
 * transaction; reads the time from the event, never a clock. */
#include "core/events.h"

#include "core/apps.h"
#include "core/devices.h"
#include "core/log.h"
#include "core/outbox.h"
#include "core/policy.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum {
    R_SUMMARY = 1,      /* replaces the request's earlier notifications */
    R_ONLY_REPLACED = 2 /* notifies only when detail is "replaced" */
};

/* The one mapping (issue #15). Audit events not listed announce nothing. */
static const struct rule {
    const char *audit;
    const char *webhook; /* type, or NULL */
    unsigned notice;     /* NOTIFY_* bit, or 0 */
    unsigned flags;
} rules[] = {
    {"factor_added", "factor.added", 0, 0},
    {"factor_enrolled", "factor.verified", NOTIFY_FACTOR_ADDED, 0},
    {"factor_removed", "factor.removed", NOTIFY_FACTOR_REMOVED, 0},
    {"preferred_set", "factor.preferred", NOTIFY_PREFERRED_CHANGED, 0},
    {"mfa_disabled", "mfa.disabled", NOTIFY_MFA_DISABLED, R_SUMMARY},
    {"verify_ok", "challenge.succeeded", 0, 0},
    {"verify_failed", "challenge.failed", 0, 0},
    {"enrolment_failed", "challenge.failed", 0, 0},
    {"locked", "user.locked", NOTIFY_LOCKED, 0},
    {"unlocked", "user.unlocked", 0, 0},
    {"admin_unlock", "user.unlocked", NOTIFY_UNLOCKED, 0},
    {"admin_reset", "user.reset", NOTIFY_RESET, R_SUMMARY},
    {"recovery_code_used", "recovery_code.used", NOTIFY_RECOVERY_CODE_USED, 0},
    {"recovery_codes_generated", "recovery_codes.regenerated", NOTIFY_RECOVERY_CODES_NEW,
     R_ONLY_REPLACED},
    {"recovery_codes_voided", "recovery_codes.voided", 0, 0},
    {"device_remembered", "device.remembered", NOTIFY_DEVICE_REMEMBERED, 0},
    {"devices_forgotten", "devices.forgotten", 0, 0},
    {"admin_forget_devices", "devices.forgotten", 0, 0},
};

/* The e-mail addresses of factors removed moments ago, for a summary event
 * of the same request (mfa_disabled comes after every factor is gone).
 * A request runs on one thread (the loop, or a database worker on
 * PostgreSQL), so each thread keeps its own; a request's events share its
 * time, so a small ring is enough. */
#define REMOVED_KEEP 16
static _Thread_local struct {
    int64_t user_id, at_ms;
    char to[MFA_DEST_LEN];
} removed[REMOVED_KEEP];
static _Thread_local unsigned removed_next;

static void removed_add(int64_t user_id, int64_t at_ms, const char *to)
{
    removed[removed_next].user_id = user_id;
    removed[removed_next].at_ms = at_ms;
    snprintf(removed[removed_next].to, sizeof(removed[0].to), "%s", to);
    removed_next = (removed_next + 1) % REMOVED_KEEP;
}

void events_note_removal(struct store *s, int64_t user_id, int64_t at_ms)
{
    db_stmt *st = store_stmt(s, "SELECT destination FROM factors WHERE user_id = ?1 AND "
                                "type = 'email' AND status = 'active' AND destination IS "
                                "NOT NULL ORDER BY created_at");
    if (!st)
        return;
    db_bind_int64(st, 1, user_id);
    while (db_step(st) == DB_ROW) {
        const char *to = (const char *)db_column_text(st, 0);
        if (to)
            removed_add(user_id, at_ms, to);
    }
    db_reset(st);
}

static const struct rule *rule_find(const char *event)
{
    if (!event)
        return NULL;
    for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
        if (strcmp(rules[i].audit, event) == 0)
            return &rules[i];
    return NULL;
}

const char *events_webhook_type(const char *audit_event)
{
    const struct rule *r = rule_find(audit_event);
    return r ? r->webhook : NULL;
}

unsigned events_notice_bit(const char *audit_event, const char *detail)
{
    const struct rule *r = rule_find(audit_event);
    if (!r)
        return 0;
    if ((r->flags & R_ONLY_REPLACED) && !(detail && strcmp(detail, "replaced") == 0))
        return 0;
    return r->notice;
}

void events_time_iso(int64_t ms, char *out, size_t outlen)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, outlen, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* ---- facts from the store ---- */

struct facts {
    int64_t user_id;      /* 0 when the user is unknown */
    char factor_type[16]; /* "", or sms, email, totp, webauthn, recovery_code */
    char factor_dest[MFA_DEST_LEN];
    bool factor_active;
    int recovery_left; /* -1 unknown */
};

static void col_copy(db_stmt *st, int col, char *out, size_t outlen)
{
    const unsigned char *t = db_column_text(st, col);
    snprintf(out, outlen, "%s", t ? (const char *)t : "");
}

static bool is_method(const char *s)
{
    static const char *const methods[] = {"sms", "email", "totp", "webauthn", "recovery_code"};
    for (size_t i = 0; s && i < ARRAY_SIZE(methods); i++)
        if (strcmp(s, methods[i]) == 0)
            return true;
    return false;
}

static void facts_read(struct store *s, const struct event_facts *e, struct facts *f)
{
    memset(f, 0, sizeof(*f));
    f->recovery_left = -1;
    db_stmt *st;
    f->user_id = e->user_id;
    if (!f->user_id && e->app_id && e->sub &&
        (st = store_stmt(s, "SELECT id FROM users WHERE app_id = ?1 AND sub = ?2"))) {
        db_bind_text(st, 1, e->app_id, -1);
        db_bind_text(st, 2, e->sub, -1);
        if (db_step(st) == DB_ROW)
            f->user_id = db_column_int64(st, 0);
        db_reset(st);
    }
    if (e->factor_id && f->user_id &&
        (st = store_stmt(s, "SELECT type, destination, status = 'active' FROM factors "
                            "WHERE id = ?1 AND user_id = ?2"))) {
        db_bind_text(st, 1, e->factor_id, -1);
        db_bind_int64(st, 2, f->user_id);
        if (db_step(st) == DB_ROW) {
            col_copy(st, 0, f->factor_type, sizeof(f->factor_type));
            col_copy(st, 1, f->factor_dest, sizeof(f->factor_dest));
            f->factor_active = db_column_int(st, 2) != 0;
        }
        db_reset(st);
    }
    if (!f->factor_type[0] && is_method(e->detail))
        snprintf(f->factor_type, sizeof(f->factor_type), "%s", e->detail);
}

/* The codes left after a recovery_code_used event, which only a webhook
 * body or a notice that is sent tells: read when one is about to be. */
static void facts_read_recovery_left(struct store *s, const struct event_facts *e, struct facts *f)
{
    db_stmt *st;
    if (f->recovery_left < 0 && strcmp(e->event, "recovery_code_used") == 0 && f->user_id &&
        (st = store_stmt(s, "SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND "
                            "used_at IS NULL"))) {
        db_bind_int64(st, 1, f->user_id);
        if (db_step(st) == DB_ROW)
            f->recovery_left = db_column_int(st, 0);
        db_reset(st);
    }
}

/* A copy of ua cut to at most max bytes on a UTF-8 character boundary. */
static void ua_cut(const char *ua, char *out, size_t outlen, size_t max)
{
    size_t n = strlen(ua);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)ua[n] & 0xC0) == 0x80)
            n--;
    }
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, ua, n);
    out[n] = '\0';
}

/* "by" and "admin" of a support detail ({"by":"cli"} / {"by":"console",
 * "admin":"alice"}), and its whole numbers, into data. */
static void support_detail(json_t *data, const char *detail, const char *const *counts)
{
    json_t *d = detail ? json_loads(detail, 0, NULL) : NULL;
    if (!json_is_object(d)) {
        json_decref(d);
        return;
    }
    json_t *by = json_object_get(d, "by"), *admin = json_object_get(d, "admin");
    if (json_is_string(by))
        json_object_set(data, "by", by);
    if (json_is_string(admin))
        json_object_set(data, "admin", admin);
    for (size_t i = 0; counts && counts[i]; i++) {
        json_t *n = json_object_get(d, counts[i]);
        if (json_is_integer(n))
            json_object_set(data, counts[i], n);
    }
    json_decref(d);
}

/* ---- webhooks ---- */

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

/* The body of e's webhook of type (see README "Notifications and
 * webhooks" for every type's fields). Returns malloc'd JSON or NULL. */
static char *webhook_body(const struct event_facts *e, const char *type, const struct facts *f)
{
    char at[32], ua[EVENTS_UA_MAX + 1];
    events_time_iso(e->at_ms, at, sizeof(at));
    json_t *data = json_object();
    json_object_set_new(data, "app_id", json_string(e->app_id));
    json_object_set_new(data, "sub", json_string(e->sub));
    set_str(data, "factor_id", e->factor_id);
    if (f->factor_type[0] && strcmp(f->factor_type, "recovery_code") != 0)
        json_object_set_new(data, "factor_type", json_string(f->factor_type));
    if (strncmp(type, "challenge.", 10) == 0 && f->factor_type[0])
        json_object_set_new(data, "method", json_string(f->factor_type));
    if (strcmp(e->event, "enrolment_failed") == 0)
        json_object_set_new(data, "enrolment", json_true());
    set_str(data, "ip", e->client_ip);
    if (e->user_agent && *e->user_agent) {
        ua_cut(e->user_agent, ua, sizeof(ua), EVENTS_UA_MAX);
        json_object_set_new(data, "user_agent", json_string(ua));
    }
    const char *ev = e->event;
    if (strcmp(ev, "recovery_code_used") == 0 && f->recovery_left >= 0)
        json_object_set_new(data, "recovery_codes_left", json_integer(f->recovery_left));
    if (strcmp(ev, "recovery_codes_generated") == 0)
        json_object_set_new(data, "replaced",
                            json_boolean(e->detail && strcmp(e->detail, "replaced") == 0));
    if (strcmp(ev, "locked") == 0)
        json_object_set_new(data, "reason", json_string("consecutive_failures"));
    if (strcmp(ev, "unlocked") == 0)
        json_object_set_new(data, "by", json_string("recovery_code"));
    if (strcmp(ev, "admin_unlock") == 0 || strcmp(ev, "admin_forget_devices") == 0) {
        static const char *const n[] = {"failures", "devices", NULL};
        support_detail(data, e->detail, n);
    }
    if (strcmp(ev, "admin_reset") == 0) {
        static const char *const n[] = {"factors", "recovery_codes", "devices", NULL};
        support_detail(data, e->detail, n);
    }
    if (strcmp(ev, "devices_forgotten") == 0 && e->detail) {
        /* "3: factor removed" */
        char *end = NULL;
        long n = strtol(e->detail, &end, 10);
        if (end && end != e->detail && end[0] == ':' && end[1] == ' ') {
            json_object_set_new(data, "devices", json_integer(n));
            json_object_set_new(data, "reason", json_string(end + 2));
        }
    }
    if (strcmp(ev, "device_remembered") == 0)
        set_str(data, "device", e->detail);
    json_t *body = json_pack("{s:s, s:s, s:o}", "type", type, "timestamp", at, "data", data);
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    return text;
}

static void queue_webhook(struct store *s, const struct event_facts *e, const char *type,
                          const char *url, const struct facts *f)
{
    struct outbox_msg *m = og_calloc(1, sizeof(*m));
    snprintf(m->destination, sizeof(m->destination), "%s", url);
    char *body = webhook_body(e, type, f);
    if (!body || strlen(body) >= sizeof(m->payload)) {
        log_error("webhook body too big; not sent", "type", type, "app", e->app_id);
        free(body);
        free(m);
        return;
    }
    m->kind = OUTBOX_WEBHOOK;
    snprintf(m->payload, sizeof(m->payload), "%s", body);
    snprintf(m->app_id, sizeof(m->app_id), "%s", e->app_id);
    snprintf(m->app_name, sizeof(m->app_name), "%s", e->app_name ? e->app_name : "");
    snprintf(m->event, sizeof(m->event), "%s", type);
    snprintf(m->sub, sizeof(m->sub), "%s", e->sub);
    snprintf(m->ref, sizeof(m->ref), "%s", e->factor_id ? e->factor_id : "");
    m->user_id = f->user_id;
    if (outbox_enqueue(s, NULL, m, e->at_ms, false) != OG_OK)
        log_error("webhook could not be queued", "type", type, "app", e->app_id);
    free(body);
    free(m);
}

/* ---- notifications ---- */

struct recipients {
    enum factor_type channel;
    char to[8][MFA_DEST_LEN];
    size_t n;
};

static void recipient_add(struct recipients *r, const char *to)
{
    if (!to || !*to)
        return;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->to[i], to) == 0)
            return;
    if (r->n < ARRAY_SIZE(r->to))
        snprintf(r->to[r->n++], sizeof(r->to[0]), "%s", to);
}

static void recipients_of(struct store *s, int64_t user_id, const char *type, struct recipients *r)
{
    db_stmt *st = store_stmt(s, "SELECT destination FROM factors WHERE user_id = ?1 AND "
                                "type = ?2 AND status = 'active' AND destination IS NOT "
                                "NULL ORDER BY created_at, id");
    if (!st)
        return;
    db_bind_int64(st, 1, user_id);
    db_bind_text(st, 2, type, -1);
    while (db_step(st) == DB_ROW)
        recipient_add(r, (const char *)db_column_text(st, 0));
    db_reset(st);
}

/* The request's earlier notifications of this user: their addresses join
 * the summary's, and the rows go (the summary says it all). */
static void supersede(struct store *s, int64_t user_id, int64_t at_ms, struct recipients *r)
{
    db_stmt *st = store_stmt(s, "DELETE FROM outbox WHERE kind = 'notice' AND user_id = ?1 "
                                "AND created_at = ?2 AND state = 'queued' AND channel = "
                                "'email' RETURNING destination");
    if (!st)
        return;
    db_bind_int64(st, 1, user_id);
    db_bind_int64(st, 2, at_ms);
    while (db_step(st) == DB_ROW)
        recipient_add(r, (const char *)db_column_text(st, 0));
    db_reset(st);
    for (size_t i = 0; i < REMOVED_KEEP; i++)
        if (removed[i].user_id == user_id && removed[i].at_ms == at_ms)
            recipient_add(r, removed[i].to);
}

/* True when the limits leave room for this notification. */
static bool room_for(struct store *s, int64_t user_id, const char *name, const char *ref,
                     int64_t at_ms)
{
    db_stmt *st = store_stmt(
        s, "SELECT (SELECT count(*) FROM outbox WHERE kind = 'notice' AND user_id = ?1 AND "
           "created_at > ?2 AND event = ?3 AND coalesce(ref, '') = ?4), (SELECT count(*) FROM "
           "(SELECT DISTINCT created_at, event, ref FROM outbox WHERE kind = 'notice' AND "
           "user_id = ?1 AND created_at > ?5) recent)");
    if (!st)
        return false;
    db_bind_int64(st, 1, user_id);
    db_bind_int64(st, 2, at_ms - EVENTS_NOTICE_GAP_MS);
    db_bind_text(st, 3, name, -1);
    db_bind_text(st, 4, ref ? ref : "", -1);
    db_bind_int64(st, 5, at_ms - 3600 * 1000);
    bool ok = false;
    if (db_step(st) == DB_ROW)
        ok = db_column_int(st, 0) == 0 && db_column_int(st, 1) < EVENTS_NOTICE_HOUR_CAP;
    db_reset(st);
    return ok;
}

/* The language the user last got a code in (the API's "locale", the
 * pages' language), else that of the user's newest page session, else
 * English. The code's row is looked for among the newest outbox rows
 * only: the outbox has no index by user for code messages. */
#define LOCALE_SCAN_ROWS 10000

/* Steps st (bound) once: "zh" into out when its first column starts so,
 * else "en". Returns whether a row came. */
static bool locale_row(db_stmt *st, char *out, size_t outlen)
{
    bool row = db_step(st) == DB_ROW;
    if (row) {
        const char *l = (const char *)db_column_text(st, 0);
        snprintf(out, outlen, "%s", l && l[0] == 'z' && l[1] == 'h' ? "zh" : "en");
    }
    db_reset(st);
    return row;
}

static void user_locale(struct store *s, const struct event_facts *e, int64_t user_id, char *out,
                        size_t outlen)
{
    snprintf(out, outlen, "en");
    db_stmt *st = store_stmt(
        s, "SELECT locale FROM outbox WHERE id > (SELECT coalesce(max(id), 0) FROM outbox) - ?2 "
           "AND user_id = ?1 AND kind = 'code' ORDER BY id DESC LIMIT 1");
    if (st) {
        db_bind_int64(st, 1, user_id);
        db_bind_int(st, 2, LOCALE_SCAN_ROWS);
        if (locale_row(st, out, outlen))
            return;
    }
    st = store_stmt(s, "SELECT locale FROM sessions WHERE app_id = ?1 AND sub = ?2 AND locale "
                       "IS NOT NULL ORDER BY last_seen DESC LIMIT 1");
    if (st) {
        db_bind_text(st, 1, e->app_id, -1);
        db_bind_text(st, 2, e->sub, -1);
        locale_row(st, out, outlen);
    }
}

static void app_name_of(struct store *s, const struct event_facts *e, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", e->app_name ? e->app_name : "");
    if (out[0])
        return;
    db_stmt *st = store_stmt(s, "SELECT name FROM apps WHERE id = ?1");
    if (!st)
        return;
    db_bind_text(st, 1, e->app_id, -1);
    if (db_step(st) == DB_ROW)
        col_copy(st, 0, out, outlen);
    db_reset(st);
}

/* The facts a notification's text is made from; no code, no secret, no
 * destination. */
static char *notice_facts(struct store *s, const struct event_facts *e, const struct facts *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "at", json_integer(e->at_ms));
    set_str(o, "ip", e->client_ip);
    if (e->user_agent && *e->user_agent) {
        char browser[64];
        devices_ua_summary(e->user_agent, browser, sizeof(browser));
        json_object_set_new(o, "browser", json_string(browser));
    }
    set_str(o, "factor_type", f->factor_type);
    if (f->recovery_left >= 0)
        json_object_set_new(o, "left", json_integer(f->recovery_left));
    if (strncmp(e->event, "admin_", 6) == 0)
        support_detail(o, e->detail, NULL);
    char support[256];
    if (store_meta_get(s, "brand_support", support, sizeof(support)) == OG_OK && support[0])
        json_object_set_new(o, "support", json_string(support));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

static void queue_notices(struct store *s, const struct event_facts *e, const struct rule *r,
                          unsigned bit, struct facts *f)
{
    struct policy loaded;
    const struct policy *pol = e->pol;
    if (!pol) {
        if (policy_load(s, e->app_id, &loaded) != OG_OK)
            return;
        pol = &loaded;
    }
    if (!pol->notify || !(pol->notify_events & bit))
        return;
    const char *name = policy_notify_name(bit);
    struct recipients *to = og_calloc(1, sizeof(*to));
    to->channel = FACTOR_EMAIL;
    recipients_of(s, f->user_id, "email", to);
    if (r->flags & R_SUMMARY)
        supersede(s, f->user_id, e->at_ms, to);
    if (to->n == 0 && pol->notify_sms) {
        to->channel = FACTOR_SMS;
        recipients_of(s, f->user_id, "sms", to);
    }
    /* A summary replaced what it supersedes: it is never held back. */
    if (to->n == 0 ||
        (!(r->flags & R_SUMMARY) && !room_for(s, f->user_id, name, e->factor_id, e->at_ms))) {
        if (to->n)
            log_info("notification coalesced", "event", name, "app", e->app_id);
        free(to);
        return;
    }
    facts_read_recovery_left(s, e, f);
    char *facts = notice_facts(s, e, f);
    struct outbox_msg *m = og_calloc(1, sizeof(*m));
    m->kind = OUTBOX_NOTICE;
    m->channel = to->channel;
    snprintf(m->app_id, sizeof(m->app_id), "%s", e->app_id);
    app_name_of(s, e, m->app_name, sizeof(m->app_name));
    user_locale(s, e, f->user_id, m->locale, sizeof(m->locale));
    snprintf(m->event, sizeof(m->event), "%s", name);
    snprintf(m->sub, sizeof(m->sub), "%s", e->sub);
    snprintf(m->ref, sizeof(m->ref), "%s", e->factor_id ? e->factor_id : "");
    snprintf(m->payload, sizeof(m->payload), "%s", facts ? facts : "{}");
    m->user_id = f->user_id;
    for (size_t i = 0; i < to->n; i++) {
        snprintf(m->destination, sizeof(m->destination), "%s", to->to[i]);
        if (outbox_enqueue(s, NULL, m, e->at_ms, false) != OG_OK)
            log_error("notification could not be queued", "event", name, "app", e->app_id);
    }
    free(facts);
    free(m);
    free(to);
}

void events_announce(struct store *s, const struct event_facts *e)
{
    const struct rule *r = rule_find(e->event);
    if (!r || !e->app_id || !e->sub)
        return;
    /* Most events of most apps announce nothing: only a look at the app's
     * webhook URL before anything more is read. */
    char url[APPS_URI_MAX + 1];
    const char *hook = NULL;
    if (r->webhook && e->webhook_url)
        hook = e->webhook_url[0] ? e->webhook_url : NULL;
    else if (r->webhook && apps_webhook_url(s, e->app_id, url, sizeof(url)) == OG_OK)
        hook = url;
    unsigned bit = events_notice_bit(e->event, e->detail);
    bool removal = strcmp(e->event, "factor_removed") == 0;
    if (!hook && !bit && !removal)
        return;
    struct facts f;
    facts_read(s, e, &f);
    if (removal && f.factor_active && strcmp(f.factor_type, "email") == 0)
        removed_add(f.user_id, e->at_ms, f.factor_dest);
    if (hook) {
        facts_read_recovery_left(s, e, &f);
        queue_webhook(s, e, r->webhook, hook, &f);
    }
    /* Removing a factor never confirmed changes nothing the user relies on. */
    if (bit == NOTIFY_FACTOR_REMOVED && !f.factor_active)
        bit = 0;
    if (bit && f.user_id)
        queue_notices(s, e, r, bit, &f);
}
