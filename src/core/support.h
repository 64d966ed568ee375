/* The support tasks that `otpgate user ...` and the admin console share
 * (SPEC §2, §7): finding a user of an app with their factors (destinations
 * masked) and lock state, listing users with a sub prefix and filters,
 * a user's recent audit history, lifting a lockout, removing one factor or
 * every factor, reading the delivery log, and the audit rows of console
 * actions. The changes write an audit row and join the
 * caller's transaction (the CLI opens one, the gateway's group commit holds
 * one). No libuv, no HTTP; never reads a sealed secret or body. */
#ifndef OTPGATE_SUPPORT_H
#define OTPGATE_SUPPORT_H

#include "core/common.h"
#include "core/contact.h"
#include "core/secrets.h"
#include "core/store/store.h"

struct support_user {
    int64_t id;
    char app_id[32];
    char app_name[128];
    char sub[256];
    char preferred[32], last_used[32]; /* factor ids, "" for none */
    int64_t failures;                  /* consecutive failed checks */
    int64_t retry_at;                  /* unix ms before which checks wait; 0 none */
    bool locked;
    int64_t locked_at; /* unix ms, when locked */
    int64_t created_at;
    int64_t recovery_left; /* unused recovery codes */
};

struct support_factor {
    char id[32];
    char type[12];                                 /* "sms", "email", "totp", "webauthn" */
    char status[8];                                /* "pending", "active" */
    char masked[CONTACT_MASK_SIZE];                /* "" for totp; a passkey's name */
    int64_t created_at, verified_at, last_used_at; /* unix ms, 0 never */
    bool passkey;                                  /* the fields below are set */
    char aaguid[40];                               /* the authenticator's model, or "" */
    int64_t sign_count;                            /* its signature counter */
    bool synced;                                   /* backup eligible (a synced passkey) */
};

/* Finds user sub of app app_id into out. Returns 0, OG_ERR_NOT_FOUND or a
 * store error. */
int support_user_find(struct store *s, const char *app_id, const char *sub,
                      struct support_user *out);

/* Calls fn for each factor of user_id, oldest first (at most 64). fn must
 * not use the store. Returns 0 or a store error. */
int support_user_factors(struct store *s, int64_t user_id,
                         void (*fn)(const struct support_factor *f, void *arg), void *arg);

/* Sets the user's consecutive failures to 0 and lifts any wait or lock,
 * then audits "admin_unlock" under (app_id, sub) with detail
 * {"by":by[,"admin":admin],"failures":n}. *had_failures (may be NULL) gets
 * the count before. Returns 0, OG_ERR_NOT_FOUND or a store error. */
int support_user_unlock(struct store *s, int64_t user_id, const char *app_id, const char *sub,
                        const char *by, const char *admin, int64_t now_ms, int64_t *had_failures);

struct support_reset_counts {
    int factors, recovery_codes, challenges, devices;
};

/* Removes every factor, recovery code, challenge and remembered device of
 * the user and clears the preferred and last-used factor, then audits
 * "admin_reset" with detail {"by":by[,"admin":admin],"factors":n,
 * "recovery_codes":n,"challenges":n,"devices":n}.
 * counts (may be NULL) gets what was removed. Returns 0 or a store error. */
int support_user_reset(struct store *s, int64_t user_id, const char *app_id, const char *sub,
                       const char *by, const char *admin, int64_t now_ms,
                       struct support_reset_counts *counts);

/* Forgets every remembered device of the user (devices_forget_all) and
 * audits "admin_forget_devices" with detail {"by":by[,"admin":admin],
 * "devices":n}; *count (may be NULL) gets n. Returns 0 or a store error. */
int support_user_forget_devices(struct store *s, const char *app_id, const char *sub,
                                const char *by, const char *admin, int64_t now_ms, int *count);

/* Audits an event of the console itself ("admin_login",
 * "admin_login_failed", "admin_logout") with detail {"admin":admin} and the
 * client's address. Returns 0 or a store error. */
int support_audit_admin(struct store *s, int64_t now_ms, const char *event, const char *admin,
                        const char *client_ip);

/* Audits a console action: event ("admin_app_add", "admin_policy_set",
 * ...), app_id and sub (either may be NULL), the client's address, and
 * detail {"by":"console","admin":admin} followed by more (NULL, or
 * ",\"key\":value..." already in JSON; at most 2 KiB). Returns 0 or a store
 * error. */
int support_audit_console(struct store *s, int64_t now_ms, const char *event, const char *admin,
                          const char *client_ip, const char *app_id, const char *sub,
                          const char *more);

/* Removes factor factor_id of user sub of app app_id with factors_remove
 * (so the preferred factor and recovery codes follow its rules and it is
 * audited as factor_removed), then audits "admin_factor_remove" with detail
 * {"by":by[,"admin":admin],"factor":"<type>"}. type (may be NULL, 8 bytes)
 * gets the removed factor's type. Returns 0, OG_ERR_NOT_FOUND (no such user
 * or factor) or a store error. */
int support_factor_remove(struct store *s, const struct keyring *k, const char *app_id,
                          const char *sub, const char *factor_id, const char *by, const char *admin,
                          const char *client_ip, int64_t now_ms, char *type);

/* ---- the user list ---- */

enum support_state {
    SUPPORT_STATE_ANY,
    SUPPORT_STATE_LOCKED,  /* locked until an admin or a recovery code unlocks */
    SUPPORT_STATE_WAITING, /* not locked, but a wait after failures runs now */
    SUPPORT_STATE_CLEAR,   /* neither */
};

enum support_has {
    SUPPORT_HAS_ANY,
    SUPPORT_HAS_NONE, /* no active factor */
    SUPPORT_HAS_SMS,  /* an active factor of this type */
    SUPPORT_HAS_EMAIL,
    SUPPORT_HAS_TOTP,
};

#define SUPPORT_PAGE_MAX 200

/* Which users support_users_each lists: those of app_id (NULL or "" for
 * every app) whose sub starts with prefix (NULL or "" for all), in the
 * state and with the factors asked for, in order of (sub, app_id), limit
 * (1..SUPPORT_PAGE_MAX) at a time. Paging is by key: after_sub/after_app
 * (both NULL or both set) give the row the page starts after; with
 * backward, the page is the rows before it, still listed in forward order. */
struct support_user_query {
    const char *app_id;
    const char *prefix;
    enum support_state state;
    enum support_has has;
    const char *after_sub, *after_app;
    bool backward;
    int limit;
    int64_t now_ms; /* for "waiting" */
};

/* One user of the list; the strings live until fn returns. */
struct support_user_row {
    int64_t id;
    const char *app_id, *app_name, *sub;
    const char *factors; /* the active factor types, "email,sms,totp" order, "" for none */
    int64_t failures, retry_at, created_at, recovery_left;
    bool locked;
    int64_t locked_at; /* unix ms, when locked */
};

/* Calls fn for the users q asks for (at most q->limit), in order. *more
 * (may be NULL) tells whether more rows lie beyond them in the direction
 * of travel. fn must not use the store. Returns 0, OG_ERR_INVALID (a bad
 * limit or half a paging key) or a store error. */
int support_users_each(struct store *s, const struct support_user_query *q,
                       void (*fn)(const struct support_user_row *r, void *arg), void *arg,
                       bool *more);

/* ---- audit history ---- */

/* How many of the newest audit rows a history looks through: the audit
 * table has no index by user (migration 9 dropped it so the verify path
 * writes fewer pages), so a history reads back from the newest row and
 * stops here, whatever it found. */
#define SUPPORT_HISTORY_SCAN 20000

/* One audit row; the strings live until fn returns, each may be "". */
struct support_event {
    int64_t id, at; /* at: unix ms */
    const char *event, *app_id, *app_name, *sub, *factor_id, *client_ip, *detail;
};

/* Calls fn for the newest limit audit rows of user sub of app app_id found
 * among the newest SUPPORT_HISTORY_SCAN rows, newest first. fn must not
 * use the store. Returns 0 or a store error. */
int support_user_history(struct store *s, const char *app_id, const char *sub, int limit,
                         void (*fn)(const struct support_event *e, void *arg), void *arg);

/* The same for the console's own events (event "admin_..."), of every
 * admin. */
int support_console_history(struct store *s, int limit,
                            void (*fn)(const struct support_event *e, void *arg), void *arg);

/* One row of the delivery log; the strings live until fn returns. */
struct support_delivery {
    int64_t id;
    int64_t created_at;  /* unix ms */
    const char *channel; /* "sms", "email" or "webhook" */
    const char *kind;    /* "code", "notice" (a security notification) or "webhook" */
    const char *event;   /* notice: its name ("factor_added"); webhook: its type
                            ("factor.added"); "" for a code */
    const char *msg_id;  /* a webhook's webhook-id */
    /* A masked number or address; for a webhook the URL without its query. */
    char masked[CONTACT_MASK_SIZE];
    const char *state; /* queued, sending, sent, failed */
    int64_t attempts;
    const char *provider;  /* may be "" */
    const char *answer;    /* the provider's or endpoint's last answer ("HTTP 503: ..."), code
                              blanked and the destination masked wherever it appears; may
                              be "" */
    const char *app_name;  /* may be "" */
    int64_t sent_at;       /* 0 when not sent */
    char answer_buf[2048]; /* what answer points to (longer answers are cut) */
};

/* Which outbox rows support_deliveries_each lists (codes, notifications
 * and webhooks): channel ("sms", "email", "webhook"), state ("queued", "sending", "sent", "failed")
 * and app_id, each NULL or "" for any; rows older than before_id (0: from the newest); limit
 * (1..SUPPORT_PAGE_MAX) of them. */
struct support_delivery_query {
    const char *channel, *state, *app_id;
    int64_t before_id;
    int limit;
};

/* Calls fn for the rows q asks for, newest first; *more (may be NULL) tells
 * whether older ones match too. Never reads the sealed body. fn must not
 * use the store. Returns 0, OG_ERR_INVALID (a bad limit) or a store
 * error. */
int support_deliveries_each(struct store *s, const struct support_delivery_query *q,
                            void (*fn)(const struct support_delivery *d, void *arg), void *arg,
                            bool *more);

/* One outbox row in full, for its own page: what support_delivery has, and
 * what the message was (never the code: the sealed body is not read). */
struct support_delivery_detail {
    struct support_delivery d; /* its strings point into the buffers below */
    char channel[8], state[8], provider[32], app_name[128], app_id[32], kind[8], event[48];
    char provider_id[128], msg_id[32], locale[8];
    int64_t next_at, ttl, fallback_of;
};

/* Reads outbox row id into out. Returns 0, OG_ERR_NOT_FOUND or a store
 * error. */
int support_delivery_get(struct store *s, int64_t id, struct support_delivery_detail *out);

#endif
