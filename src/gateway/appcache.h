/* The gateway's cache of the registered apps, for authenticating API
 * requests without reading the store: per client_id the app's name, the
 * SHA-256 of its client secret (never the secret) and its effective policy.
 * Only other processes change apps and policies (the CLI: app add,
 * rotate-secret, remove, policy set), so the whole cache is dropped and
 * read again whenever PRAGMA data_version says another connection has
 * committed: checked once per batch transaction (read right after its
 * BEGIN, while no other process can commit), or straight from the store
 * when no batch is open. Loop thread only. */
#ifndef OTPGATE_APPCACHE_H
#define OTPGATE_APPCACHE_H

#include "core/apps.h"
#include "core/policy.h"

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
 * "" when apps_get cannot read it) and its effective policy (as
 * policy_load gives it) into pol. Uses s->apps, s->store, s->keys and
 * s->batch. */
enum appcache_result appcache_auth(struct server *s, const char *id, const char *secret,
                                   size_t secret_len, char *name, size_t namelen,
                                   struct policy *pol);

#endif
