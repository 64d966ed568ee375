/* The audit trail: one row per enrolment, removal, success, failure,
 * lockout and recovery-code use, with the end user's IP and user agent
 * when known, and what each row announces (events.c: webhooks and
 * notifications) in the same transaction. Callers pass names and ids
 * only, never a code, secret or destination in the clear. */
#include "core/audit.h"

#include "core/events.h"
#include "core/log.h"
#include "core/mfa.h"

#include <jansson.h>
#include <stdlib.h>

static void audit_write(const struct mfa_ctx *c, const char *sub, int64_t user_id,
                        const char *event, const char *factor_id, const char *detail)
{
    db_stmt *st =
        store_stmt(c->store, "INSERT INTO audit (at, app_id, sub, event, factor_id, "
                             "client_ip, detail, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return;
    db_bind_int64(st, 1, c->now_ms);
    db_bind_text(st, 2, c->app_id, -1);
    db_bind_text(st, 3, sub, -1);
    db_bind_text(st, 4, event, -1);
    db_bind_text(st, 5, factor_id, -1);
    db_bind_text(st, 6, c->client_ip, -1);
    db_bind_text(st, 7, detail, -1);
    db_bind_text(st, 8, c->user_agent, -1);
    int rc = db_step(st);
    if (rc != DB_DONE)
        log_error("audit write failed", "event", event, "error", store_errmsg(c->store));
    db_reset(st);
    if (rc != DB_DONE)
        return;
    const struct event_facts e = {
        .at_ms = c->now_ms,
        .app_id = c->app_id,
        .app_name = c->app_name,
        .sub = sub,
        .user_id = user_id,
        .event = event,
        .factor_id = factor_id,
        .detail = detail,
        .client_ip = c->client_ip,
        .user_agent = c->user_agent,
        .pol = c->pol,
        .webhook_url = c->webhook_url,
    };
    events_announce(c->store, &e);
}

void audit_log(const struct mfa_ctx *c, const char *sub, const char *event, const char *factor_id,
               const char *detail)
{
    audit_write(c, sub, 0, event, factor_id, detail);
}

void audit_log_user(const struct mfa_ctx *c, const struct mfa_user *u, const char *event,
                    const char *factor_id, const char *detail)
{
    audit_write(c, u->sub, u->id, event, factor_id, detail);
}

/* ---- reading ---- */

static const char *col(db_stmt *st, int i)
{
    const unsigned char *t = db_column_text(st, i);
    return t && *t ? (const char *)t : NULL;
}

/* Calls fn for each row of st; *n counts them and *last keeps the last id. */
static int rows_each(db_stmt *st, void (*fn)(const struct audit_row *r, void *arg), void *arg,
                     int64_t *n, int64_t *last)
{
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        const struct audit_row r = {
            .id = db_column_int64(st, 0),
            .at = db_column_int64(st, 1),
            .app_id = col(st, 2),
            .sub = col(st, 3),
            .event = col(st, 4),
            .factor_id = col(st, 5),
            .client_ip = col(st, 6),
            .user_agent = col(st, 7),
            .detail = col(st, 8),
        };
        fn(&r, arg);
        ++*n;
        *last = r.id;
    }
    db_reset(st);
    return rc == DB_DONE ? OG_OK : store_step_err(rc);
}

#define AUDIT_COLS "id, at, app_id, sub, event, factor_id, client_ip, user_agent, detail"

/* Rows a page of audit_each holds: PostgreSQL's client keeps a whole
 * result in memory, so a long trail is read a page at a time. */
#define AUDIT_PAGE 1000

int audit_each(struct store *s, int64_t since_ms, const char *app_id,
               void (*fn)(const struct audit_row *r, void *arg), void *arg)
{
    int64_t after = 0;
    for (;;) {
        db_stmt *st = store_stmt(s, "SELECT " AUDIT_COLS " FROM audit WHERE at >= ?1 AND "
                                    "(CAST(?2 AS TEXT) IS NULL OR app_id = ?2) AND id > ?3 "
                                    "ORDER BY id LIMIT ?4");
        if (!st)
            return OG_ERR_DB;
        db_bind_int64(st, 1, since_ms);
        db_bind_text(st, 2, app_id, -1);
        db_bind_int64(st, 3, after);
        db_bind_int64(st, 4, AUDIT_PAGE);
        int64_t n = 0;
        int rc = rows_each(st, fn, arg, &n, &after);
        if (rc != OG_OK || n < AUDIT_PAGE)
            return rc;
    }
}

/* A JSON string of v, null for NULL; bytes that are not UTF-8 become '?'
 * (a User-Agent header may hold anything). */
static json_t *json_text(const char *v)
{
    if (!v)
        return json_null();
    json_t *j = json_string(v);
    if (j)
        return j;
    char *copy = og_strdup(v);
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j ? j : json_null();
}

char *audit_row_json(const struct audit_row *r)
{
    char at[32];
    events_time_iso(r->at, at, sizeof(at));
    json_t *detail = NULL;
    if (r->detail && r->detail[0] == '{') {
        detail = json_loads(r->detail, 0, NULL);
        if (!json_is_object(detail)) {
            json_decref(detail);
            detail = NULL;
        }
    }
    if (!detail)
        detail = json_text(r->detail);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "at", json_string(at));
    const struct {
        const char *key, *value;
    } fields[] = {{"app_id", r->app_id},       {"sub", r->sub},      {"event", r->event},
                  {"factor_id", r->factor_id}, {"ip", r->client_ip}, {"user_agent", r->user_agent}};
    for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
        json_object_set_new(o, fields[i].key, json_text(fields[i].value));
    json_object_set_new(o, "detail", detail);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        og_oom();
    return text;
}
