/* What an audited event tells the outside (issue #15): the one table that
 * maps audit events to the apps' webhook types and to the users' security
 * notifications, and the outbox rows that announce them, written in the
 * caller's transaction beside the audit row, so a crash never loses one
 * and never makes two. Every audit row goes through events_announce (from
 * audit_log and support.c); no handler decides on its own. No libuv, no
 * HTTP; never puts a code, a secret or a destination in a webhook body. */
#ifndef OTPGATE_EVENTS_H
#define OTPGATE_EVENTS_H

#include "core/common.h"
#include "core/policy.h"
#include "core/store/store.h"

/* Notifications coalesce: at most one per user, event and factor in this
 * window, and at most EVENTS_NOTICE_HOUR_CAP per user in any hour. */
#define EVENTS_NOTICE_GAP_MS   (2 * 60 * 1000)
#define EVENTS_NOTICE_HOUR_CAP 10
/* The longest User-Agent a webhook body carries (cut on a character). */
#define EVENTS_UA_MAX 256

/* One audited event, as audit_log writes it. Strings may be NULL. */
struct event_facts {
    int64_t at_ms;
    const char *app_id;
    const char *app_name; /* NULL: read from apps */
    const char *sub;
    int64_t user_id;   /* sub's id in app_id when the caller has it, else 0: read here */
    const char *event; /* the audit event name */
    const char *factor_id;
    const char *detail;
    const char *client_ip;
    const char *user_agent;
    /* app_id's effective policy (as policy_load gives it) when the caller
     * has read it already, else NULL: read here. */
    const struct policy *pol;
    /* app_id's webhook URL ("" for none) when the caller has read it, else
     * NULL: read here. */
    const char *webhook_url;
};

/* Queues what the event announces, in the caller's transaction: a webhook
 * row when the event has a webhook type and the app a webhook URL; and,
 * when the event has a notification the app's policy allows ("notify",
 * "notify_events") and the limits above leave room, one notification row
 * per verified e-mail address of the user (by SMS to the user's verified
 * numbers only when there is none and "notify_sms" is on). A summary event
 * (mfa_disabled, admin_reset) replaces the notifications the same request
 * queued before it and also reaches the addresses it removed. Errors are
 * logged, never returned: the audited change stands. */
void events_announce(struct store *s, const struct event_facts *e);

/* Remembers the user's verified e-mail addresses as removed at at_ms, so
 * the summary event that follows in the same change still reaches them
 * (support_user_reset deletes the factors before it audits). */
void events_note_removal(struct store *s, int64_t user_id, int64_t at_ms);

/* The webhook type of an audit event ("factor.added", ...), or NULL. */
const char *events_webhook_type(const char *audit_event);

/* The NOTIFY_* bit (policy.h) of an audit event with its detail, or 0. */
unsigned events_notice_bit(const char *audit_event, const char *detail);

/* Writes unix ms as "2025-01-02T03:04:05.678Z" (out >= 32 bytes). */
void events_time_iso(int64_t ms, char *out, size_t outlen);

#endif
