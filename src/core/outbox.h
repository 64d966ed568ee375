/* The durable outbox of SPEC §7. A message is a row before anything is
 * sent: queued, then sending, then sent or failed, with attempts, the next
 * try's time and the provider's last answer (code blanked). A row is a
 * code message, a security notification (its facts in payload, rendered
 * at send time) or an app's webhook (payload is the exact body). A code is
 * kept sealed (AES-256-GCM bound to the row's msg_id) only until a
 * provider accepts the message; notifications and webhooks hold no
 * secret. Rows left in sending by a crash go back to queued on start.
 * Works inside the caller's transaction; no clock here. */
#ifndef OTPGATE_OUTBOX_H
#define OTPGATE_OUTBOX_H

#include "core/mfa.h"

/* The biggest payload a row carries (a webhook body, a notification's
 * facts). */
#define OUTBOX_PAYLOAD_MAX 4096
/* The longest destination: a webhook URL (APPS_URI_MAX) and its NUL. */
#define OUTBOX_DEST_MAX 2049

/* How long a claim holds a row in sending (lease_until = claim + this):
 * longer than any send may take (SMTP and the providers time out well
 * within it). On PostgreSQL, where several instances share the outbox, a
 * row whose lease ran out (its instance died) is claimed again by another,
 * and a starting instance resumes only such rows; on SQLite, one instance
 * owns the outbox and resumes every row in sending at start. */
#define OUTBOX_LEASE_MS (5 * 60 * 1000)

/* The lease the claims give from now on (the default OUTBOX_LEASE_MS; the
 * server sets OTPGATE_DELIVERY_LEASE before any thread claims). */
void outbox_set_lease_ms(int64_t ms);

enum outbox_kind { OUTBOX_CODE = 0, OUTBOX_NOTICE, OUTBOX_WEBHOOK };

struct outbox_msg {
    int64_t id;
    char msg_id[MFA_ID_LEN];
    enum outbox_kind kind;
    enum factor_type channel; /* sms or email; unused for a webhook */
    char destination[OUTBOX_DEST_MAX];
    char app_id[MFA_ID_LEN];
    char app_name[128];
    char locale[8];
    char purpose[16]; /* the challenge's: "enrol", "login", "stepup"; "" reads as login */
    int64_t user_id;
    unsigned ttl;
    int attempts; /* including the one being started */
    int64_t created_at;
    int64_t fallback_of;
    char code[16]; /* opened from the row; wipe after use */
    /* Notifications and webhooks: */
    char event[40];                   /* notification name or webhook type */
    char sub[MFA_SUB_MAX + 1];        /* the app's user */
    char ref[MFA_ID_LEN];             /* the factor the event is about, or "" */
    char payload[OUTBOX_PAYLOAD_MAX]; /* facts (notice) or body (webhook) */
};

/* The channel name of a row: "sms", "email" or "webhook". */
const char *outbox_channel_name(const struct outbox_msg *m);

/* Adds a message due now: for a code row m->code is sealed, never stored
 * plain; other rows store m->event, m->sub, m->ref and m->payload. With
 * claim the row starts in sending (attempt 1) for a caller that has a free
 * slot and starts it after the commit. Sets m->id, m->msg_id ("msg_" and
 * random base32: a webhook's webhook-id), m->attempts. */
int outbox_enqueue(struct store *s, const struct keyring *k, struct outbox_msg *m, int64_t now_ms,
                   bool claim);
/* Moves up to max due queued messages of channel (codes and notifications)
 * to sending (attempts + 1, leased until now_ms + the lease) and
 * hands each, opened, to fn, which may use the store. On PostgreSQL rows
 * another connection is claiming are skipped (FOR UPDATE SKIP LOCKED), so
 * each row goes to one instance, and rows in sending whose lease ran out
 * are claimed again. A code row whose code does not open fails. Returns
 * how many, or a negative og_err. */
int outbox_claim(struct store *s, const struct keyring *k, enum factor_type channel, int max,
                 int64_t now_ms, void (*fn)(const struct outbox_msg *m, void *arg), void *arg);
/* The same for webhooks, in order per user and app: a row is claimed only
 * when no earlier webhook of the same app and user is still queued or
 * sending (waiting for a retry included). */
int outbox_claim_webhooks(struct store *s, int max, int64_t now_ms,
                          void (*fn)(const struct outbox_msg *m, void *arg), void *arg);
/* Fails the queued notifications of a channel nothing can send on (no
 * provider and no development sink), with answer saying so. Returns the
 * count or a negative og_err. */
int outbox_fail_unsendable(struct store *s, enum factor_type channel, const char *answer);
/* A provider accepted the message: sent, sealed code dropped. */
int outbox_mark_sent(struct store *s, int64_t id, int64_t now_ms, const char *provider,
                     const char *provider_id, const char *answer);
/* A try failed: back to queued for next_at_ms, or failed for good when
 * next_at_ms is 0 (the sealed code is dropped then too). */
int outbox_mark_retry(struct store *s, int64_t id, int64_t next_at_ms, const char *provider,
                      const char *answer);
/* Rows in sending after a crash go back to queued, due now: every one on
 * SQLite (one instance owns the outbox), only those whose lease ran out on
 * PostgreSQL (the others are other instances' sends). Returns the count or
 * a negative og_err. */
int outbox_resume(struct store *s, int64_t now_ms);
/* Rows this process has added since it started: a caller that polls
 * compares it with what it saw last. */
uint64_t outbox_added_count(void);
/* Queued plus sending rows. */
int outbox_depth(struct store *s);
/* The earliest next_at of a queued row of channel, or 0 when none. */
int64_t outbox_next_due(struct store *s, enum factor_type channel);
/* The earliest next_at of a webhook outbox_claim_webhooks could take (the
 * first open one of each user and app), or 0 when none. */
int64_t outbox_next_due_webhook(struct store *s);

#endif
