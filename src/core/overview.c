/* Counting queries behind the console's overview. Users are counted per
 * app in one grouped pass with each user's active factor types looked up
 * by the factors_user index; messages by walking the outbox back by id,
 * which follows creation time. */
#include "core/overview.h"

#include <stdio.h>

/* Counts written for both engines: count() of a CASE that is NULL when the
 * condition does not hold (PostgreSQL cannot sum booleans). */
#define HAS_FACTOR(cond)                                                                           \
    "count(CASE WHEN EXISTS (SELECT 1 FROM factors f WHERE f.user_id = u.id AND f.status = "       \
    "'active'" cond ") THEN 1 END), "
#define APP_COUNTS                                                                                 \
    "count(u.id), " HAS_FACTOR("") HAS_FACTOR(" AND f.type = 'sms'")                               \
        HAS_FACTOR(" AND f.type = 'email'") HAS_FACTOR(                                            \
            " AND f.type = 'totp'") "count(u.locked_at), count(CASE WHEN u.locked_at IS NULL AND " \
                                    "u.retry_at > ?1 THEN 1 END), "                                \
                                    "(SELECT count(*) FROM policy p WHERE p.scope = a.id)"

/* In the order they were added (ties in one millisecond: rowid on SQLite,
 * id on PostgreSQL, which has no insertion order). */
#define SQL_APPS_(tie)                                                                             \
    "SELECT a.id, a.name, " APP_COUNTS " FROM apps a LEFT JOIN users u ON u.app_id = a.id "        \
    "GROUP BY a.id ORDER BY a.created_at, " tie
static const char *const SQL_APPS[2] = {SQL_APPS_("a.rowid"), SQL_APPS_("a.id")};
static const char SQL_APP[] =
    "SELECT a.id, a.name, " APP_COUNTS " FROM apps a LEFT JOIN users u ON u.app_id = a.id "
    "WHERE a.id = ?2 GROUP BY a.id";
/* SQLite hands rows over one at a time, so the walk stops at the first
 * older row; libpq receives a whole result at once, so on PostgreSQL the
 * server leaves out the older rows (the outbox is never pruned). */
static const char SQL_SENDS_SQLITE[] =
    "SELECT created_at, channel, state, attempts FROM outbox ORDER BY id DESC";
static const char SQL_SENDS_PG[] = "SELECT created_at, channel, state, attempts FROM outbox "
                                   "WHERE created_at >= ?1 ORDER BY id DESC";

static const char *col_str(db_stmt *st, int col)
{
    const unsigned char *t = db_column_text(st, col);
    return t ? (const char *)t : "";
}

static void app_row(db_stmt *st, struct overview_app *a)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->id, sizeof(a->id), "%s", col_str(st, 0));
    snprintf(a->name, sizeof(a->name), "%s", col_str(st, 1));
    a->users = db_column_int64(st, 2);
    a->with_factor = db_column_int64(st, 3);
    a->sms = db_column_int64(st, 4);
    a->email = db_column_int64(st, 5);
    a->totp = db_column_int64(st, 6);
    a->locked = db_column_int64(st, 7);
    a->waiting = db_column_int64(st, 8);
    a->policy_keys = db_column_int64(st, 9);
}

int overview_apps_each(struct store *s, int64_t now_ms,
                       void (*fn)(const struct overview_app *a, void *arg), void *arg)
{
    db_stmt *st = store_stmt(s, SQL_APPS[store_engine(s) == STORE_POSTGRES]);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        struct overview_app a;
        app_row(st, &a);
        fn(&a, arg);
    }
    db_reset(st);
    return rc == DB_DONE ? OG_OK : store_step_err(rc);
}

int overview_app_get(struct store *s, const char *app_id, int64_t now_ms, struct overview_app *out)
{
    memset(out, 0, sizeof(*out));
    db_stmt *st = store_stmt(s, SQL_APP);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    db_bind_text(st, 2, app_id ? app_id : "", -1);
    int rc = db_step(st);
    if (rc == DB_ROW)
        app_row(st, out);
    db_reset(st);
    if (rc == DB_ROW)
        return OG_OK;
    return rc == DB_DONE ? OG_ERR_NOT_FOUND : store_step_err(rc);
}

int overview_sends_since(struct store *s, int64_t since_ms, struct overview_sends *out)
{
    memset(out, 0, sizeof(*out));
    bool pg = store_engine(s) == STORE_POSTGRES;
    db_stmt *st = store_stmt(s, pg ? SQL_SENDS_PG : SQL_SENDS_SQLITE);
    if (!st)
        return OG_ERR_DB;
    if (pg)
        db_bind_int64(st, 1, since_ms);
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        if (db_column_int64(st, 0) < since_ms)
            break;
        const char *channel = col_str(st, 1), *state = col_str(st, 2);
        int c = strcmp(channel, "sms") == 0 ? OVERVIEW_SMS : OVERVIEW_EMAIL;
        if (strcmp(state, "sent") == 0)
            out->sent[c]++;
        else if (strcmp(state, "failed") == 0)
            out->failed[c]++;
        else
            out->pending[c]++;
        if (db_column_int64(st, 3) > 1)
            out->retried[c]++;
    }
    db_reset(st);
    return rc == DB_DONE || rc == DB_ROW ? OG_OK : store_step_err(rc);
}
