/* The support tasks that `otpgate user ...` and the admin console share
 * (SPEC §2, §7): finding a user of an app with their factors (destinations
 * masked) and lock state, lifting a lockout, removing every factor, and
 * reading the delivery log. The changes write an audit row and join the
 * caller's transaction (the CLI opens one, the gateway's group commit holds
 * one). No libuv, no HTTP; never reads a sealed secret or body. */
#ifndef OTPGATE_SUPPORT_H
#define OTPGATE_SUPPORT_H

#include "core/common.h"
#include "core/contact.h"
#include "core/store.h"

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
    char type[8];                                  /* "sms", "email", "totp" */
    char status[8];                                /* "pending", "active" */
    char masked[CONTACT_MASK_SIZE];                /* "" for totp */
    int64_t created_at, verified_at, last_used_at; /* unix ms, 0 never */
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
    const char *provider; /* may be "" */
    const char *answer;   /* the provider's or endpoint's last answer ("HTTP 503: ..."),
                             code blanked; may be "" */
    const char *app_name; /* may be "" */
    int64_t sent_at;      /* 0 when not sent */
};

/* Calls fn for the newest limit outbox rows (codes, notifications and
 * webhooks), newest first. Never reads the sealed body. fn must not use
 * the store. Returns 0 or a store error. */
int support_deliveries_each(struct store *s, int limit,
                            void (*fn)(const struct support_delivery *d, void *arg), void *arg);

#endif
