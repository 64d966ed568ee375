/* Support reads and changes on users and the outbox, shared by the CLI and
 * the admin console, with their audit rows. Destinations leave here only
 * masked; the outbox's sealed body is never selected. */
#include "core/support.h"

#include "core/devices.h"
#include "core/events.h"

#include "core/log.h"

#include <stdio.h>

static const char SQL_FIND[] =
    "SELECT u.id, u.app_id, a.name, u.sub, u.preferred_factor, u.last_used_factor, u.failures, "
    "u.retry_at, u.locked_at, u.created_at, (SELECT count(*) FROM recovery_codes r "
    "WHERE r.user_id = u.id AND r.used_at IS NULL) FROM users u JOIN apps a ON a.id = u.app_id "
    "WHERE u.app_id = ?1 AND u.sub = ?2";
static const char SQL_FACTORS[] =
    "SELECT id, type, status, destination, created_at, verified_at, last_used_at "
    "FROM factors WHERE user_id = ?1 ORDER BY created_at, id LIMIT 64";
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
static const char SQL_OUTBOX[] =
    "SELECT id, created_at, channel, destination, state, attempts, provider, answer, app_name, "
    "sent_at, kind, event, msg_id FROM outbox ORDER BY id DESC LIMIT ?1";

static void col_copy(sqlite3_stmt *st, int col, char *out, size_t outlen)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, outlen, "%s", t ? (const char *)t : "");
}

static const char *col_str(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
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
    sqlite3_stmt *st = store_stmt(s, SQL_FIND);
    if (!st)
        return OG_ERR_DB;
    sqlite3_bind_text(st, 1, app_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sub, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        col_copy(st, 1, out->app_id, sizeof(out->app_id));
        col_copy(st, 2, out->app_name, sizeof(out->app_name));
        col_copy(st, 3, out->sub, sizeof(out->sub));
        col_copy(st, 4, out->preferred, sizeof(out->preferred));
        col_copy(st, 5, out->last_used, sizeof(out->last_used));
        out->failures = sqlite3_column_int64(st, 6);
        out->retry_at = sqlite3_column_int64(st, 7);
        out->locked = sqlite3_column_type(st, 8) != SQLITE_NULL;
        out->locked_at = sqlite3_column_int64(st, 8);
        out->created_at = sqlite3_column_int64(st, 9);
        out->recovery_left = sqlite3_column_int64(st, 10);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return OG_OK;
    return rc == SQLITE_DONE ? OG_ERR_NOT_FOUND : store_step_err(rc);
}

int support_user_factors(struct store *s, int64_t user_id,
                         void (*fn)(const struct support_factor *f, void *arg), void *arg)
{
    sqlite3_stmt *st = store_stmt(s, SQL_FACTORS);
    if (!st)
        return OG_ERR_DB;
    sqlite3_bind_int64(st, 1, user_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct support_factor f;
        memset(&f, 0, sizeof(f));
        col_copy(st, 0, f.id, sizeof(f.id));
        col_copy(st, 1, f.type, sizeof(f.type));
        col_copy(st, 2, f.status, sizeof(f.status));
        mask(f.type, col_str(st, 3), f.masked, sizeof(f.masked));
        f.created_at = sqlite3_column_int64(st, 4);
        f.verified_at = sqlite3_column_int64(st, 5);
        f.last_used_at = sqlite3_column_int64(st, 6);
        fn(&f, arg);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? OG_OK : store_step_err(rc);
}

static int exec_id(struct store *s, const char *sql, int64_t id, int *changes)
{
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return OG_ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    int rc = store_exec_done(st);
    if (rc == OG_OK && changes)
        *changes = sqlite3_changes(store_db(s));
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
    sqlite3_stmt *st = store_stmt(s, SQL_AUDIT);
    if (!st)
        return OG_ERR_DB;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_text(st, 2, app_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sub, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, event, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
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
    sqlite3_stmt *st = store_stmt(s, SQL_FAILURES);
    if (!st)
        return OG_ERR_DB;
    sqlite3_bind_int64(st, 1, user_id);
    int src = sqlite3_step(st);
    int64_t failures = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (src == SQLITE_DONE)
        return OG_ERR_NOT_FOUND;
    if (src != SQLITE_ROW)
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
        rc = devices_forget_all(s, app_id, sub, &c.devices);
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
    int rc = devices_forget_all(s, app_id, sub, &n);
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
    sqlite3_stmt *st = store_stmt(s, SQL_AUDIT_ADMIN);
    if (!st)
        return OG_ERR_DB;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_text(st, 2, event, -1, SQLITE_STATIC);
    if (client_ip && *client_ip)
        sqlite3_bind_text(st, 3, client_ip, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_text(st, 4, detail, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? OG_OK : store_step_err(rc);
}

int support_deliveries_each(struct store *s, int limit,
                            void (*fn)(const struct support_delivery *d, void *arg), void *arg)
{
    sqlite3_stmt *st = store_stmt(s, SQL_OUTBOX);
    if (!st)
        return OG_ERR_DB;
    sqlite3_bind_int(st, 1, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct support_delivery d;
        memset(&d, 0, sizeof(d));
        d.id = sqlite3_column_int64(st, 0);
        d.created_at = sqlite3_column_int64(st, 1);
        d.channel = col_str(st, 2);
        mask(d.channel, col_str(st, 3), d.masked, sizeof(d.masked));
        d.state = col_str(st, 4);
        d.attempts = sqlite3_column_int64(st, 5);
        d.provider = col_str(st, 6);
        d.answer = col_str(st, 7);
        d.app_name = col_str(st, 8);
        d.sent_at = sqlite3_column_int64(st, 9);
        d.kind = col_str(st, 10);
        d.event = col_str(st, 11);
        d.msg_id = col_str(st, 12);
        fn(&d, arg);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? OG_OK : store_step_err(rc);
}
