/* Reading the audit trail (issue #15): a user's recent history for the
 * admin console and the whole trail for `otpgate audit export`. Writing
 * it is audit_log (mfa.h) and support.c. No libuv, no HTTP; rows hold no
 * code, secret or destination. */
#ifndef OTPGATE_AUDIT_H
#define OTPGATE_AUDIT_H

#include "core/common.h"
#include "core/store/store.h"

/* One row; the strings (NULL when empty) live until fn returns. */
struct audit_row {
    int64_t id;
    int64_t at; /* unix ms */
    const char *app_id, *sub, *event, *factor_id, *client_ip, *user_agent, *detail;
};

/* Calls fn for every row at or after since_ms (0: all) of app_id (NULL:
 * every app, and the console's own rows), oldest first, read in pages by
 * id (rows committed meanwhile with higher ids are read too). fn must not
 * use the store. Returns 0 or a store error. */
int audit_each(struct store *s, int64_t since_ms, const char *app_id,
               void (*fn)(const struct audit_row *r, void *arg), void *arg);

/* The row as one line of JSON for a SIEM, malloc'd, no newline:
 * {"id","at" (ISO 8601 UTC),"app_id","sub","event","factor_id","ip",
 * "user_agent","detail"}, absent fields null; a detail that is a JSON
 * object is embedded as one. */
char *audit_row_json(const struct audit_row *r);

#endif
