/* Support reads and changes on users and the outbox, shared by the CLI and
 * the admin console, with their audit rows. Destinations leave here only
 * masked; the outbox's sealed body is never selected. */
#include "core/support.h"

#include "core/devices.h"
#include "core/events.h"

#include "core/log.h"
#include "core/mfa.h"
#include "core/policy.h"

#include <stdio.h>
#include <stdlib.h>

static const char SQL_FIND[] =
    "SELECT u.id, u.app_id, a.name, u.sub, u.preferred_factor, u.last_used_factor, u.failures, "
    "u.retry_at, u.locked_at, u.created_at, (SELECT count(*) FROM recovery_codes r "
    "WHERE r.user_id = u.id AND r.used_at IS NULL) FROM users u JOIN apps a ON a.id = u.app_id "
    "WHERE u.app_id = ?1 AND u.sub = ?2";
/* A passkey's AAGUID in lower-case hex: SQLite's hex() writes upper case,
 * PostgreSQL has encode(). */
#define FACTORS_SELECT(aaguid_hex)                                                                 \
    "SELECT f.id, f.type, f.status, f.destination, f.created_at, f.verified_at, "                  \
    "f.last_used_at, w.name, " aaguid_hex ", w.sign_count, w.be FROM factors f LEFT JOIN "         \
    "webauthn_credentials w ON w.factor_id = f.id WHERE f.user_id = ?1 "                           \
    "ORDER BY f.created_at, f.id LIMIT 64"
static const char SQL_FACTORS_SQLITE[] = FACTORS_SELECT("lower(hex(w.aaguid))");
static const char SQL_FACTORS_PG[] = FACTORS_SELECT("encode(w.aaguid, 'hex')");
static const char SQL_FAILURES[] = "SELECT failures FROM users WHERE id = ?1";
static const char SQL_UNLOCK[] =
    "UPDATE users SET failures = 0, retry_at = 0, last_wait = 0, locked_at = NULL WHERE id = ?1";
static const char SQL_DEL_CHALLENGES[] = "DELETE FROM challenges WHERE user_id = ?1";
static const char SQL_DEL_RECOVERY[] = "DELETE FROM recovery_codes WHERE user_id = ?1";
static const char SQL_DEL_FACTORS[] = "DELETE FROM factors WHERE user_id = ?1";
static const char SQL_CLEAR_FACTOR_REFS[] =
    "UPDATE users SET preferred_factor = NULL, last_used_factor = NULL WHERE id = ?1";
static const char SQL_AUDIT[] = "INSERT INTO audit (at, app_id, sub, event, detail) "
                                "VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_AUDIT_ADMIN[] = "INSERT INTO audit (at, event, client_ip, detail) "
                                      "VALUES (?1, ?2, ?3, ?4)";
static const char SQL_AUDIT_CONSOLE[] =
    "INSERT INTO audit (at, app_id, sub, event, client_ip, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_OUTBOX[] =
    "SELECT id, created_at, channel, destination, state, attempts, provider, answer, app_name, "
    "sent_at, kind, event, msg_id FROM outbox WHERE id < ?1 AND (?2 = '' OR channel = ?2) AND "
    "(?3 = '' OR state = ?3) AND (?4 = '' OR app_id = ?4) ORDER BY id DESC LIMIT ?5";
static const char SQL_OUTBOX_ONE[] =
    "SELECT id, created_at, channel, destination, state, attempts, provider, answer, app_name, "
    "sent_at, app_id, provider_id, msg_id, locale, next_at, ttl, fallback_of, kind, event "
    "FROM outbox WHERE id = ?1";

/* The user list: one statement per shape, so each keeps its index (a
 * "?1 IS NULL OR" would hide the app's). ?1 is the app (left out across
 * apps), ?2..?3 bound the sub prefix, ?4 and ?5 the paging key, ?6 the
 * state, ?7 the factor type, ?8 now, ?9 the limit. */
#define USERS_SELECT(agg)                                                                          \
    "SELECT u.id, u.app_id, a.name, u.sub, u.failures, u.retry_at, u.locked_at, u.created_at, "    \
    "(SELECT " agg " FROM (SELECT DISTINCT f.type AS t FROM factors f "                            \
    "WHERE f.user_id = u.id AND f.status = 'active' ORDER BY f.type) types), "                     \
    "(SELECT count(*) FROM recovery_codes r WHERE r.user_id = u.id AND r.used_at IS NULL) "        \
    "FROM users u JOIN apps a ON a.id = u.app_id WHERE "
/* The factor types joined by commas: SQLite keeps the subquery's order,
 * PostgreSQL is told it. */
#define USERS_AGG_SQLITE "group_concat(t, ',')"
#define USERS_AGG_PG     "string_agg(t, ',' ORDER BY t)"
#define USERS_FILTER                                                                               \
    " u.sub >= ?2 AND u.sub < ?3 AND (?6 = 0 OR (?6 = 1 AND u.locked_at IS NOT NULL) OR "          \
    "(?6 = 2 AND u.locked_at IS NULL AND u.retry_at > ?8) OR (?6 = 3 AND u.locked_at IS NULL "     \
    "AND u.retry_at <= ?8)) AND (?7 = '' OR (?7 = 'none' AND NOT EXISTS (SELECT 1 FROM "           \
    "factors f WHERE f.user_id = u.id AND f.status = 'active')) OR EXISTS (SELECT 1 FROM "         \
    "factors f WHERE f.user_id = u.id AND f.status = 'active' AND f.type = ?7)) "
#define USERS_APP_FWD(agg)                                                                         \
    USERS_SELECT(agg)                                                                              \
    "u.app_id = ?1 AND" USERS_FILTER                                                               \
    "AND (u.sub, u.app_id) > (?4, ?5) ORDER BY u.sub, u.app_id LIMIT ?9"
#define USERS_APP_BACK(agg)                                                                        \
    USERS_SELECT(agg)                                                                              \
    "u.app_id = ?1 AND" USERS_FILTER                                                               \
    "AND (u.sub, u.app_id) < (?4, ?5) ORDER BY u.sub DESC, u.app_id DESC LIMIT ?9"
#define USERS_ALL_FWD(agg)                                                                         \
    USERS_SELECT(agg)                                                                              \
    USERS_FILTER "AND (u.sub, u.app_id) > (?4, ?5) ORDER BY u.sub, u.app_id "                      \
                 "LIMIT ?9"
#define USERS_ALL_BACK(agg)                                                                        \
    USERS_SELECT(agg)                                                                              \
    USERS_FILTER "AND (u.sub, u.app_id) < (?4, ?5) ORDER BY u.sub DESC, "                          \
                 "u.app_id DESC LIMIT ?9"
/* [engine][one app?][backward?] */
static const char *const SQL_USERS[2][2][2] = {
    {{USERS_ALL_FWD(USERS_AGG_SQLITE), USERS_ALL_BACK(USERS_AGG_SQLITE)},
     {USERS_APP_FWD(USERS_AGG_SQLITE), USERS_APP_BACK(USERS_AGG_SQLITE)}},
    {{USERS_ALL_FWD(USERS_AGG_PG), USERS_ALL_BACK(USERS_AGG_PG)},
     {USERS_APP_FWD(USERS_AGG_PG), USERS_APP_BACK(USERS_AGG_PG)}},
};

/* Audit history: back from the newest row by id, never past the scan
 * bound. */
#define HISTORY_SELECT                                                                             \
    "SELECT e.id, e.at, e.event, e.app_id, a.name, e.sub, e.factor_id, e.client_ip, e.detail "     \
    "FROM audit e LEFT JOIN apps a ON a.id = e.app_id WHERE e.id > (SELECT coalesce(max(id), "     \
    "0) FROM audit) - ?3 AND "
static const char SQL_HISTORY_USER[] =
    HISTORY_SELECT "e.app_id = ?1 AND e.sub = ?2 ORDER BY e.id DESC LIMIT ?4";
static const char SQL_HISTORY_CONSOLE[] =
    HISTORY_SELECT "e.event >= 'admin_' AND e.event < 'admin`' ORDER BY e.id DESC LIMIT ?4";

/* Above every valid UTF-8 string that starts with a given prefix when
 * appended to it: U+10FFFF. */
#define PREFIX_END "\xF4\x8F\xBF\xBF"

/* The range of the valid UTF-8 strings whose bytes start with prefix, as
 * two valid UTF-8 strings (PostgreSQL takes no other text): *lo, the
 * least of them, and *hi, above them all; both malloc'd. A prefix that
 * ends part-way through a character is completed with that character's
 * lowest and highest continuations, so "al\xC3" still finds "al\xC3\xA9".
 * False (nothing allocated) when no valid string starts so. */
static bool prefix_bounds(const char *prefix, char **lo, char **hi)
{
    const unsigned char *p = (const unsigned char *)prefix;
    size_t len = strlen(prefix), i = 0;
    unsigned char min_tail[4], max_tail[4];
    size_t tail = 0; /* bytes completing a cut last character */
    while (i < len) {
        unsigned char b = p[i], lo2 = 0x80, hi2 = 0xBF;
        size_t need = b < 0x80                 ? 1
                      : b >= 0xC2 && b <= 0xDF ? 2
                      : b >= 0xE0 && b <= 0xEF ? 3
                      : b >= 0xF0 && b <= 0xF4 ? 4
                                               : 0;
        if (!need)
            return false;
        if (b == 0xE0)
            lo2 = 0xA0;
        else if (b == 0xED)
            hi2 = 0x9F;
        else if (b == 0xF0)
            lo2 = 0x90;
        else if (b == 0xF4)
            hi2 = 0x8F;
        size_t have = len - i < need ? len - i : need;
        for (size_t j = 1; j < have; j++)
            if (j == 1 ? p[i + 1] < lo2 || p[i + 1] > hi2 : (p[i + j] & 0xC0) != 0x80)
                return false;
        for (size_t j = have; j < need; j++, tail++) {
            min_tail[tail] = j == 1 ? lo2 : 0x80;
            max_tail[tail] = j == 1 ? hi2 : 0xBF;
        }
        i += have;
    }
    size_t cap = len + tail + sizeof(PREFIX_END);
    *lo = og_malloc(cap);
    *hi = og_malloc(cap);
    memcpy(*lo, prefix, len);
    memcpy(*lo + len, min_tail, tail);
    (*lo)[len + tail] = '\0';
    memcpy(*hi, prefix, len);
    memcpy(*hi + len, max_tail, tail);
    memcpy(*hi + len + tail, PREFIX_END, sizeof(PREFIX_END));
    return true;
}

static void col_copy(db_stmt *st, int col, char *out, size_t outlen)
{
    const unsigned char *t = db_column_text(st, col);
    snprintf(out, outlen, "%s", t ? (const char *)t : "");
}

static const char *col_str(db_stmt *st, int col)
{
    const unsigned char *t = db_column_text(st, col);
    return t ? (const char *)t : "";
}

static void mask(const char *channel, const char *dest, char *out, size_t outlen)
{
    out[0] = '\0';
    if (strcmp(channel, "sms") == 0)
        contact_phone_mask(dest, out, outlen);
    else if (strcmp(channel, "email") == 0)
        contact_email_mask(dest, out, outlen);
    else if (strcmp(channel, "webhook") == 0) /* a query may hold a token */
        snprintf(out, outlen, "%.*s", (int)strcspn(dest, "?#"), dest);
}

int support_user_find(struct store *s, const char *app_id, const char *sub,
                      struct support_user *out)
{
    memset(out, 0, sizeof(*out));
    db_stmt *st = store_stmt(s, SQL_FIND);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, app_id, -1);
    db_bind_text(st, 2, sub, -1);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        out->id = db_column_int64(st, 0);
        col_copy(st, 1, out->app_id, sizeof(out->app_id));
        col_copy(st, 2, out->app_name, sizeof(out->app_name));
        col_copy(st, 3, out->sub, sizeof(out->sub));
        col_copy(st, 4, out->preferred, sizeof(out->preferred));
        col_copy(st, 5, out->last_used, sizeof(out->last_used));
        out->failures = db_column_int64(st, 6);
        out->retry_at = db_column_int64(st, 7);
        out->locked = db_column_type(st, 8) != DB_NULL;
        out->locked_at = db_column_int64(st, 8);
        out->created_at = db_column_int64(st, 9);
        out->recovery_left = db_column_int64(st, 10);
    }
    db_reset(st);
    if (rc == DB_ROW)
        return OG_OK;
    return rc == DB_DONE ? OG_ERR_NOT_FOUND : store_step_err(rc);
}

int support_user_factors(struct store *s, int64_t user_id,
                         void (*fn)(const struct support_factor *f, void *arg), void *arg)
{
    db_stmt *st =
        store_stmt(s, store_engine(s) == STORE_POSTGRES ? SQL_FACTORS_PG : SQL_FACTORS_SQLITE);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, user_id);
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        struct support_factor f;
        memset(&f, 0, sizeof(f));
        col_copy(st, 0, f.id, sizeof(f.id));
        col_copy(st, 1, f.type, sizeof(f.type));
        col_copy(st, 2, f.status, sizeof(f.status));
        mask(f.type, col_str(st, 3), f.masked, sizeof(f.masked));
        f.created_at = db_column_int64(st, 4);
        f.verified_at = db_column_int64(st, 5);
        f.last_used_at = db_column_int64(st, 6);
        if (db_column_type(st, 7) != DB_NULL) {
            col_copy(st, 7, f.masked, sizeof(f.masked)); /* a passkey: its name */
            const char *hex = col_str(st, 8);
            if (strlen(hex) == 32) /* 8-4-4-4-12, as AAGUIDs are written */
                snprintf(f.aaguid, sizeof(f.aaguid), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
                         hex + 12, hex + 16, hex + 20);
            f.sign_count = db_column_int64(st, 9);
            f.synced = db_column_int(st, 10) != 0;
            f.passkey = true;
        }
        fn(&f, arg);
    }
    db_reset(st);
    return rc == DB_DONE ? OG_OK : store_step_err(rc);
}

static int exec_id(struct store *s, const char *sql, int64_t id, int *changes)
{
    db_stmt *st = store_stmt(s, sql);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, id);
    int rc = store_exec_done(st);
    if (rc == OG_OK && changes)
        *changes = (int)store_changes(s);
    return rc;
}

/* {"by":"…"[,"admin":"…"] followed by more (",\"k\":n…}") into out. */
static void detail_json(char *out, size_t outlen, const char *by, const char *admin,
                        const char *more)
{
    char eby[64], eadmin[160];
    log_json_escape(eby, sizeof(eby), by ? by : "");
    log_json_escape(eadmin, sizeof(eadmin), admin ? admin : "");
    snprintf(out, outlen, "{\"by\":\"%s\"%s%s%s%s", eby, admin ? ",\"admin\":\"" : "",
             admin ? eadmin : "", admin ? "\"" : "", more);
}

static int audit(struct store *s, int64_t now_ms, const char *app_id, const char *sub,
                 const char *event, const char *detail)
{
    db_stmt *st = store_stmt(s, SQL_AUDIT);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    db_bind_text(st, 2, app_id, -1);
    db_bind_text(st, 3, sub, -1);
    db_bind_text(st, 4, event, -1);
    db_bind_text(st, 5, detail, -1);
    int rc = db_step(st);
    db_reset(st);
    if (rc != DB_DONE)
        return store_step_err(rc);
    /* Announced like every audit row: the user hears of it, the app's
     * webhook gets it, in this same transaction. */
    const struct event_facts e = {
        .at_ms = now_ms, .app_id = app_id, .sub = sub, .event = event, .detail = detail};
    events_announce(s, &e);
    return OG_OK;
}

int support_user_unlock(struct store *s, int64_t user_id, const char *app_id, const char *sub,
                        const char *by, const char *admin, int64_t now_ms, int64_t *had_failures)
{
    db_stmt *st = store_stmt(s, SQL_FAILURES);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, user_id);
    int src = db_step(st);
    int64_t failures = src == DB_ROW ? db_column_int64(st, 0) : 0;
    db_reset(st);
    if (src == DB_DONE)
        return OG_ERR_NOT_FOUND;
    if (src != DB_ROW)
        return store_step_err(src);
    int rc = exec_id(s, SQL_UNLOCK, user_id, NULL);
    if (rc == OG_OK) {
        char more[64], detail[320];
        snprintf(more, sizeof(more), ",\"failures\":%lld}", (long long)failures);
        detail_json(detail, sizeof(detail), by, admin, more);
        rc = audit(s, now_ms, app_id, sub, "admin_unlock", detail);
    }
    if (rc == OG_OK && had_failures)
        *had_failures = failures;
    return rc;
}

int support_user_reset(struct store *s, int64_t user_id, const char *app_id, const char *sub,
                       const char *by, const char *admin, int64_t now_ms,
                       struct support_reset_counts *counts)
{
    struct support_reset_counts c = {0, 0, 0, 0};
    int rc = exec_id(s, SQL_DEL_CHALLENGES, user_id, &c.challenges);
    if (rc == OG_OK)
        rc = exec_id(s, SQL_DEL_RECOVERY, user_id, &c.recovery_codes);
    if (rc == OG_OK) {
        events_note_removal(s, user_id, now_ms); /* the reset's notice reaches them */
        rc = exec_id(s, SQL_DEL_FACTORS, user_id, &c.factors);
    }
    if (rc == OG_OK)
        rc = exec_id(s, SQL_CLEAR_FACTOR_REFS, user_id, NULL);
    if (rc == OG_OK)
        rc = devices_forget_all(s, app_id, NULL, sub, &c.devices);
    if (rc == OG_OK) {
        char more[128], detail[384];
        snprintf(more, sizeof(more),
                 ",\"factors\":%d,\"recovery_codes\":%d,\"challenges\":%d,\"devices\":%d}",
                 c.factors, c.recovery_codes, c.challenges, c.devices);
        detail_json(detail, sizeof(detail), by, admin, more);
        rc = audit(s, now_ms, app_id, sub, "admin_reset", detail);
    }
    if (rc == OG_OK && counts)
        *counts = c;
    return rc;
}

int support_user_forget_devices(struct store *s, const char *app_id, const char *sub,
                                const char *by, const char *admin, int64_t now_ms, int *count)
{
    int n = 0;
    int rc = devices_forget_all(s, app_id, NULL, sub, &n);
    if (rc == OG_OK) {
        char more[64], detail[320];
        snprintf(more, sizeof(more), ",\"devices\":%d}", n);
        detail_json(detail, sizeof(detail), by, admin, more);
        rc = audit(s, now_ms, app_id, sub, "admin_forget_devices", detail);
    }
    if (rc == OG_OK && count)
        *count = n;
    return rc;
}

int support_audit_admin(struct store *s, int64_t now_ms, const char *event, const char *admin,
                        const char *client_ip)
{
    char ename[160], detail[192];
    log_json_escape(ename, sizeof(ename), admin ? admin : "");
    snprintf(detail, sizeof(detail), "{\"admin\":\"%s\"}", ename);
    db_stmt *st = store_stmt(s, SQL_AUDIT_ADMIN);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    db_bind_text(st, 2, event, -1);
    if (client_ip && *client_ip)
        db_bind_text(st, 3, client_ip, -1);
    else
        db_bind_null(st, 3);
    db_bind_text(st, 4, detail, -1);
    int rc = db_step(st);
    db_reset(st);
    return rc == DB_DONE ? OG_OK : store_step_err(rc);
}

/* Copies answer into out with every occurrence of dest (and, for a phone
 * number, of its digits alone, as URL and form encodings leave them)
 * replaced by masked: providers often echo the number back. */
static void mask_answer(const char *answer, const char *channel, const char *dest,
                        const char *masked, char *out, size_t outlen)
{
    const char *digits = strcmp(channel, "sms") == 0 && dest[0] == '+' ? dest + 1 : NULL;
    size_t n = 0, dl = strlen(dest), gl = digits ? strlen(digits) : 0, ml = strlen(masked);
    for (const char *p = answer; *p && n + 1 < outlen;) {
        size_t hit = dl && strncmp(p, dest, dl) == 0     ? dl
                     : gl && strncmp(p, digits, gl) == 0 ? gl
                                                         : 0;
        if (hit) {
            size_t w = ml < outlen - 1 - n ? ml : outlen - 1 - n;
            memcpy(out + n, masked, w);
            n += w;
            p += hit;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

/* The common columns of an outbox row (SQL_OUTBOX's first ten) into d;
 * its strings point into st's current row or d itself. */
static void delivery_row(db_stmt *st, struct support_delivery *d)
{
    memset(d, 0, sizeof(*d));
    d->id = db_column_int64(st, 0);
    d->created_at = db_column_int64(st, 1);
    d->channel = col_str(st, 2);
    mask(d->channel, col_str(st, 3), d->masked, sizeof(d->masked));
    d->state = col_str(st, 4);
    d->attempts = db_column_int64(st, 5);
    d->provider = col_str(st, 6);
    mask_answer(col_str(st, 7), d->channel, col_str(st, 3), d->masked, d->answer_buf,
                sizeof(d->answer_buf));
    d->answer = d->answer_buf;
    d->app_name = col_str(st, 8);
    d->sent_at = db_column_int64(st, 9);
}

int support_deliveries_each(struct store *s, const struct support_delivery_query *q,
                            void (*fn)(const struct support_delivery *d, void *arg), void *arg,
                            bool *more)
{
    if (more)
        *more = false;
    if (q->limit < 1 || q->limit > SUPPORT_PAGE_MAX)
        return OG_ERR_INVALID;
    db_stmt *st = store_stmt(s, SQL_OUTBOX);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, q->before_id > 0 ? q->before_id : INT64_MAX);
    db_bind_text(st, 2, q->channel ? q->channel : "", -1);
    db_bind_text(st, 3, q->state ? q->state : "", -1);
    db_bind_text(st, 4, q->app_id ? q->app_id : "", -1);
    db_bind_int(st, 5, q->limit + 1);
    int rc, n = 0;
    while ((rc = db_step(st)) == DB_ROW) {
        if (n++ == q->limit) {
            if (more)
                *more = true;
            continue;
        }
        struct support_delivery d;
        delivery_row(st, &d);
        d.kind = col_str(st, 10);
        d.event = col_str(st, 11);
        d.msg_id = col_str(st, 12);
        fn(&d, arg);
    }
    db_reset(st);
    return rc == DB_DONE ? OG_OK : store_step_err(rc);
}

int support_delivery_get(struct store *s, int64_t id, struct support_delivery_detail *out)
{
    memset(out, 0, sizeof(*out));
    db_stmt *st = store_stmt(s, SQL_OUTBOX_ONE);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, id);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        delivery_row(st, &out->d);
        col_copy(st, 2, out->channel, sizeof(out->channel));
        col_copy(st, 4, out->state, sizeof(out->state));
        col_copy(st, 6, out->provider, sizeof(out->provider));
        col_copy(st, 8, out->app_name, sizeof(out->app_name));
        col_copy(st, 10, out->app_id, sizeof(out->app_id));
        col_copy(st, 11, out->provider_id, sizeof(out->provider_id));
        col_copy(st, 12, out->msg_id, sizeof(out->msg_id));
        col_copy(st, 13, out->locale, sizeof(out->locale));
        out->next_at = db_column_int64(st, 14);
        out->ttl = db_column_int64(st, 15);
        out->fallback_of = db_column_int64(st, 16);
        col_copy(st, 17, out->kind, sizeof(out->kind));
        col_copy(st, 18, out->event, sizeof(out->event));
        out->d.kind = out->kind;
        out->d.event = out->event;
        out->d.msg_id = out->msg_id;
        out->d.channel = out->channel;
        out->d.state = out->state;
        out->d.provider = out->provider;
        out->d.app_name = out->app_name;
    }
    db_reset(st);
    if (rc == DB_ROW)
        return OG_OK;
    return rc == DB_DONE ? OG_ERR_NOT_FOUND : store_step_err(rc);
}

int support_audit_console(struct store *s, int64_t now_ms, const char *event, const char *admin,
                          const char *client_ip, const char *app_id, const char *sub,
                          const char *more)
{
    char detail[2560];
    detail_json(detail, sizeof(detail), "console", admin, "");
    size_t n = strlen(detail);
    snprintf(detail + n, sizeof(detail) - n, "%s}", more ? more : "");
    db_stmt *st = store_stmt(s, SQL_AUDIT_CONSOLE);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    if (app_id && *app_id)
        db_bind_text(st, 2, app_id, -1);
    else
        db_bind_null(st, 2);
    if (sub)
        db_bind_text(st, 3, sub, -1);
    else
        db_bind_null(st, 3);
    db_bind_text(st, 4, event, -1);
    if (client_ip && *client_ip)
        db_bind_text(st, 5, client_ip, -1);
    else
        db_bind_null(st, 5);
    db_bind_text(st, 6, detail, -1);
    return store_exec_done(st);
}

int support_factor_remove(struct store *s, const struct keyring *k, const char *app_id,
                          const char *sub, const char *factor_id, const char *by, const char *admin,
                          const char *client_ip, int64_t now_ms, char *type)
{
    struct support_user su;
    int rc = support_user_find(s, app_id, sub, &su);
    if (rc != OG_OK)
        return rc;
    struct policy pol;
    rc = policy_load(s, app_id, &pol);
    if (rc != OG_OK)
        return rc;
    struct mfa_ctx c = {
        .store = s,
        .keys = k,
        .pol = &pol,
        .app_id = su.app_id,
        .app_name = su.app_name,
        .now_ms = now_ms,
        .client_ip = client_ip,
    };
    struct mfa_user u;
    struct mfa_factor f;
    enum mfa_result r = users_find(&c, sub, &u);
    if (r == MFA_OK)
        r = factors_get(&c, &u, factor_id, &f);
    if (r == MFA_OK)
        r = factors_remove(&c, &u, factor_id);
    if (r == MFA_NOT_FOUND)
        return OG_ERR_NOT_FOUND;
    if (r != MFA_OK)
        return OG_ERR_DB;
    char more[64], detail[320];
    snprintf(more, sizeof(more), ",\"factor\":\"%s\"}", factor_type_name(f.type));
    detail_json(detail, sizeof(detail), by, admin, more);
    rc = audit(s, now_ms, su.app_id, sub, "admin_factor_remove", detail);
    if (rc == OG_OK && type)
        snprintf(type, 8, "%s", factor_type_name(f.type));
    return rc;
}

/* ---- the user list ---- */

struct user_copy {
    struct support_user_row r;
    char *app_id, *app_name, *sub, *factors;
};

static char *dup_col(db_stmt *st, int col)
{
    return og_strdup(col_str(st, col));
}

int support_users_each(struct store *s, const struct support_user_query *q,
                       void (*fn)(const struct support_user_row *r, void *arg), void *arg,
                       bool *more)
{
    if (more)
        *more = false;
    if (q->limit < 1 || q->limit > SUPPORT_PAGE_MAX || !q->after_sub != !q->after_app ||
        (q->backward && !q->after_sub))
        return OG_ERR_INVALID;
    char *lo, *hi;
    if (!prefix_bounds(q->prefix ? q->prefix : "", &lo, &hi))
        return OG_OK; /* no sub starts with bytes that are not UTF-8 */
    bool one_app = q->app_id && *q->app_id;
    const char *sql = SQL_USERS[store_engine(s) == STORE_POSTGRES][one_app][q->backward];
    db_stmt *st = store_stmt(s, sql);
    if (!st) {
        free(lo);
        free(hi);
        return OG_ERR_DB;
    }
    static const char *const has_types[] = {"", "none", "sms", "email", "totp"};
    if (one_app)
        db_bind_text(st, 1, q->app_id, -1);
    db_bind_text(st, 2, lo, -1);
    db_bind_text(st, 3, hi, -1);
    db_bind_text(st, 4, q->after_sub ? q->after_sub : "", -1);
    db_bind_text(st, 5, q->after_app ? q->after_app : "", -1);
    db_bind_int(st, 6, (int)q->state);
    db_bind_text(st, 7, (unsigned)q->has < ARRAY_SIZE(has_types) ? has_types[q->has] : "", -1);
    db_bind_int64(st, 8, q->now_ms);
    db_bind_int(st, 9, q->limit + 1);
    /* Rows are copied first: a backward page is read in reverse. */
    struct user_copy *rows = og_calloc((size_t)q->limit, sizeof(*rows));
    int rc, n = 0;
    while ((rc = db_step(st)) == DB_ROW) {
        if (n == q->limit) {
            if (more)
                *more = true;
            continue;
        }
        struct user_copy *c = &rows[n++];
        c->app_id = dup_col(st, 1);
        c->app_name = dup_col(st, 2);
        c->sub = dup_col(st, 3);
        c->factors = dup_col(st, 8);
        c->r.id = db_column_int64(st, 0);
        c->r.failures = db_column_int64(st, 4);
        c->r.retry_at = db_column_int64(st, 5);
        c->r.locked = db_column_type(st, 6) != DB_NULL;
        c->r.locked_at = db_column_int64(st, 6);
        c->r.created_at = db_column_int64(st, 7);
        c->r.recovery_left = db_column_int64(st, 9);
    }
    db_reset(st);
    free(lo);
    free(hi);
    for (int i = 0; i < n; i++) {
        struct user_copy *c = &rows[q->backward ? n - 1 - i : i];
        if (rc == DB_DONE) {
            c->r.app_id = c->app_id;
            c->r.app_name = c->app_name;
            c->r.sub = c->sub;
            c->r.factors = c->factors;
            fn(&c->r, arg);
        }
        free(c->app_id);
        free(c->app_name);
        free(c->sub);
        free(c->factors);
    }
    free(rows);
    return rc == DB_DONE ? OG_OK : store_step_err(rc);
}

/* ---- audit history ---- */

static int history(struct store *s, const char *sql, const char *app_id, const char *sub, int limit,
                   void (*fn)(const struct support_event *e, void *arg), void *arg)
{
    db_stmt *st = store_stmt(s, sql);
    if (!st)
        return OG_ERR_DB;
    if (app_id)
        db_bind_text(st, 1, app_id, -1);
    if (sub)
        db_bind_text(st, 2, sub, -1);
    db_bind_int64(st, 3, SUPPORT_HISTORY_SCAN);
    db_bind_int(st, 4, limit);
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        struct support_event e = {
            .id = db_column_int64(st, 0),
            .at = db_column_int64(st, 1),
            .event = col_str(st, 2),
            .app_id = col_str(st, 3),
            .app_name = col_str(st, 4),
            .sub = col_str(st, 5),
            .factor_id = col_str(st, 6),
            .client_ip = col_str(st, 7),
            .detail = col_str(st, 8),
        };
        fn(&e, arg);
    }
    db_reset(st);
    return rc == DB_DONE ? OG_OK : store_step_err(rc);
}

int support_user_history(struct store *s, const char *app_id, const char *sub, int limit,
                         void (*fn)(const struct support_event *e, void *arg), void *arg)
{
    return history(s, SQL_HISTORY_USER, app_id, sub, limit, fn, arg);
}

int support_console_history(struct store *s, int limit,
                            void (*fn)(const struct support_event *e, void *arg), void *arg)
{
    return history(s, SQL_HISTORY_CONSOLE, NULL, NULL, limit, fn, arg);
}
