/* The audit trail: one row per enrolment, removal, success, failure,
 * lockout and recovery-code use, with the end user's IP and user agent
 * when known, and what each row announces (events.c: webhooks and
 * notifications) in the same transaction. Callers pass names and ids
 * only, never a code, secret or destination in the clear. */
#include "core/events.h"
#include "core/log.h"
#include "core/mfa.h"

void audit_log(const struct mfa_ctx *c, const char *sub, const char *event, const char *factor_id,
               const char *detail)
{
    sqlite3_stmt *st =
        store_stmt(c->store, "INSERT INTO audit (at, app_id, sub, event, factor_id, "
                             "client_ip, detail, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, c->now_ms);
    sqlite3_bind_text(st, 2, c->app_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sub, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, event, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, factor_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, c->client_ip, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, detail, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, c->user_agent, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        log_error("audit write failed", "event", event, "error",
                  sqlite3_errmsg(store_db(c->store)));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return;
    const struct event_facts e = {
        .at_ms = c->now_ms,
        .app_id = c->app_id,
        .app_name = c->app_name,
        .sub = sub,
        .event = event,
        .factor_id = factor_id,
        .detail = detail,
        .client_ip = c->client_ip,
        .user_agent = c->user_agent,
    };
    events_announce(c->store, &e);
}
