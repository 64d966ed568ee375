/* The gateway's cache of the registered apps, for authenticating API
 * requests without reading the store: per client_id the app's name, the
 * SHA-256 of its client secret (never the secret), its effective policy and
 * its webhook URL.
 * The whole cache is dropped and read again whenever store_data_version
 * moves. On SQLite that is PRAGMA data_version, which moves when another
 * process (the CLI: app add, rotate-secret, remove, policy set) commits:
 * checked once per batch transaction (read right after its BEGIN, while no
 * other process can commit), or straight from the store when no batch is
 * open (a success may instead wait for its batch's BEGIN to confirm it:
 * appcache_confirmed); the loop thread's cache. On PostgreSQL it is the
 * version row, which triggers raise with every change to apps or policy
 * from any instance, read in each request's own transaction; each database
 * worker has a cache of its own (dbpool.h, server_apps). */
#ifndef OTPGATE_APPCACHE_H
#define OTPGATE_APPCACHE_H

#include "core/apps.h"
#include "core/policy.h"

#include <stdbool.h>
#include <stdint.h>

struct server;
struct appcache; /* opaque */

struct appcache *appcache_new(void);
/* NULL is ignored. */
void appcache_free(struct appcache *c);

enum appcache_result {
    APPCACHE_OK,          /* the app's client id and secret */
    APPCACHE_DENIED,      /* an unknown id or a wrong secret */
    APPCACHE_UNAVAILABLE, /* the apps could not be read: ask the store itself */
};

/* Forgets every app, so the next check reads them again. Only changes
 * committed through another connection are noticed on their own; nothing in
 * the server writes apps or policy rows through its own connection, and
 * anything that starts to must call this after its commit. */
void appcache_drop(struct appcache *c);

/* Checks client id (NUL-terminated) and secret (secret_len bytes) as
 * apps_check_secret does: the SHA-256 of the presented secret is compared
 * in constant time with the app's, or with a dummy for an unknown id, so
 * the time taken does not tell known ids from unknown ones. On
 * APPCACHE_OK copies the app's name into name (namelen bytes, truncated;
 * "" when apps_get cannot read it), its effective policy (as policy_load
 * gives it) into pol and its webhook URL ("" for none; urllen >=
 * APPS_URI_MAX + 1) into webhook_url. Uses s->apps, s->store, s->keys and
 * s->batch.
 *
 * early: NULL, or where the check says it has not read the store's version.
 * With early, on the loop's SQLite store outside a batch, a success may come
 * from the cache as it stands without that read (a read transaction of its
 * own, just before the batch's BEGIN reads the version again): *early is then
 * the version the cache was read at, else -1. The caller opens its batch
 * and asks appcache_confirmed; if not, it checks again without early, which
 * reads the apps the batch sees. A refusal is always the store's word. */
enum appcache_result appcache_auth(struct server *s, const char *id, const char *secret,
                                   size_t secret_len, char *name, size_t namelen,
                                   struct policy *pol, char *webhook_url, size_t urllen,
                                   int64_t *early);

/* True when an early success (early >= 0, from appcache_auth) still holds:
 * the open batch saw no other process commit since the cache was read.
 * True for early < 0 (nothing to confirm). */
bool appcache_confirmed(const struct server *s, int64_t early);

#endif
