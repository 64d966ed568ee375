/* The numbers on the admin console's overview page: per app, how many
 * users have a second factor and of which type, how many are locked or
 * waiting; and the messages of the last hours by channel and outcome.
 * Read-only queries; no libuv, no HTTP. They read every user row once, so
 * the page costs a scan of the users table (tens of milliseconds at a
 * hundred thousand users). */
#ifndef OTPGATE_OVERVIEW_H
#define OTPGATE_OVERVIEW_H

#include "core/common.h"
#include "core/store/store.h"

struct overview_app {
    char id[32];
    char name[128];
    int64_t users;            /* users the app has sent to otpgate */
    int64_t with_factor;      /* ... with at least one active factor */
    int64_t sms, email, totp; /* ... with an active factor of this type */
    int64_t locked, waiting;  /* locked now; waiting after failures now */
    int64_t policy_keys;      /* settings of the app's own policy */
};

/* Calls fn once per app, in order of creation, with its numbers at now_ms.
 * fn must not use the store. Returns 0 or a store error. */
int overview_apps_each(struct store *s, int64_t now_ms,
                       void (*fn)(const struct overview_app *a, void *arg), void *arg);

/* The numbers of one app into out. Returns 0, OG_ERR_NOT_FOUND or a store
 * error. */
int overview_app_get(struct store *s, const char *app_id, int64_t now_ms, struct overview_app *out);

enum { OVERVIEW_SMS, OVERVIEW_EMAIL, OVERVIEW_CHANNELS };

/* Messages created since since_ms, per channel (OVERVIEW_SMS, _EMAIL). */
struct overview_sends {
    int64_t sent[OVERVIEW_CHANNELS];    /* a provider accepted them */
    int64_t failed[OVERVIEW_CHANNELS];  /* given up on */
    int64_t pending[OVERVIEW_CHANNELS]; /* queued or being sent */
    int64_t retried[OVERVIEW_CHANNELS]; /* needed more than one try (any state) */
};

/* Counts the outbox rows created since since_ms, reading back from the
 * newest until the first older one. Returns 0 or a store error. */
int overview_sends_since(struct store *s, int64_t since_ms, struct overview_sends *out);

#endif
