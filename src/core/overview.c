/* Counting queries behind the console's overview. Users are counted per
 * app in one grouped pass with each user's active factor types looked up
 * by the factors_user index; messages by walking the outbox back by id,
 * which follows creation time. */
#include "core/overview.h"

#include <stdio.h>

#define APP_COUNTS                                                                                 \
    "count(u.id), coalesce(sum(EXISTS (SELECT 1 FROM factors f WHERE f.user_id = u.id AND "        \
    "f.status = 'active')), 0), coalesce(sum(EXISTS (SELECT 1 FROM factors f WHERE f.user_id "     \
    "= u.id AND f.status = 'active' AND f.type = 'sms')), 0), coalesce(sum(EXISTS (SELECT 1 "      \
    "FROM factors f WHERE f.user_id = u.id AND f.status = 'active' AND f.type = 'email')), 0), "   \
    "coalesce(sum(EXISTS (SELECT 1 FROM factors f WHERE f.user_id = u.id AND f.status = "          \
    "'active' AND f.type = 'totp')), 0), coalesce(sum(u.locked_at IS NOT NULL), 0), "              \
    "coalesce(sum(u.locked_at IS NULL AND u.retry_at > ?1), 0), (SELECT count(*) FROM policy p "   \
    "WHERE p.scope = a.id)"

static const char SQL_APPS[] =
    "SELECT a.id, a.name, " APP_COUNTS " FROM apps a LEFT JOIN users u ON u.app_id = a.id "
    "GROUP BY a.id ORDER BY a.created_at, a.rowid";
static const char SQL_APP[] =
    "SELECT a.id, a.name, " APP_COUNTS " FROM apps a LEFT JOIN users u ON u.app_id = a.id "
    "WHERE a.id = ?2 GROUP BY a.id";
static const char SQL_SENDS[] =
    "SELECT created_at, channel, state, attempts FROM outbox ORDER BY id DESC";

static const char *col_str(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? (const char *)t : "";
}

static void app_row(sqlite3_stmt *st, struct overview_app *a)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->id, sizeof(a->id), "%s", col_str(st, 0));
    snprintf(a->name, sizeof(a->name), "%s", col_str(st, 1));
    a->users = sqlite3_column_int64(st, 2);
    a->with_factor = sqlite3_column_int64(st, 3);
    a->sms = sqlite3_column_int64(st, 4);
    a->email = sqlite3_column_int64(st, 5);
    a->totp = sqlite3_column_int64(st, 6);
    a->locked = sqlite3_column_int64(st, 7);
    a->waiting = sqlite3_column_int64(st, 8);
    a->policy_keys = sqlite3_column_int64(st, 9);
}

int overview_apps_each(struct store *s, int64_t now_ms,
                       void (*fn)(const struct overview_app *a, void *arg), void *arg)
{
    sqlite3_stmt *st = store_stmt(s, SQL_APPS);
    if (!st)
        return OG_ERR_DB;
    sqlite3_bind_int64(st, 1, now_ms);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct overview_app a;
        app_row(st, &a);
        fn(&a, arg);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? OG_OK : store_step_err(rc);
}

int overview_app_get(struct store *s, const char *app_id, int64_t now_ms, struct overview_app *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = store_stmt(s, SQL_APP);
    if (!st)
        return OG_ERR_DB;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_text(st, 2, app_id ? app_id : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        app_row(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return OG_OK;
    return rc == SQLITE_DONE ? OG_ERR_NOT_FOUND : store_step_err(rc);
}

int overview_sends_since(struct store *s, int64_t since_ms, struct overview_sends *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = store_stmt(s, SQL_SENDS);
    if (!st)
        return OG_ERR_DB;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int64(st, 0) < since_ms)
            break;
        const char *channel = col_str(st, 1), *state = col_str(st, 2);
        int c = strcmp(channel, "sms") == 0 ? OVERVIEW_SMS : OVERVIEW_EMAIL;
        if (strcmp(state, "sent") == 0)
            out->sent[c]++;
        else if (strcmp(state, "failed") == 0)
            out->failed[c]++;
        else
            out->pending[c]++;
        if (sqlite3_column_int64(st, 3) > 1)
            out->retried[c]++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? OG_OK : store_step_err(rc);
}
