/* The durable outbox of SPEC §7. A message is a row before anything is
 * sent: queued, then sending, then sent or failed, with attempts, the next
 * try's time and the provider's last answer (code blanked). The code itself
 * is kept sealed (AES-256-GCM bound to the row's msg_id) only until a
 * provider accepts the message. Rows left in sending by a crash go back to
 * queued on start. Works inside the caller's transaction; no clock here. */
#ifndef OTPGATE_OUTBOX_H
#define OTPGATE_OUTBOX_H

#include "core/mfa.h"

struct outbox_msg {
    int64_t id;
    char msg_id[MFA_ID_LEN];
    enum factor_type channel;
    char destination[MFA_DEST_LEN];
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
};

/* Adds a message due now; m->code is sealed, never stored plain. With
 * claim the row starts in sending (attempt 1) for a caller that has a free
 * slot and starts it after the commit. Sets m->id, m->msg_id, m->attempts. */
int outbox_enqueue(struct store *s, const struct keyring *k, struct outbox_msg *m, int64_t now_ms,
                   bool claim);
/* Moves up to max due queued messages of channel to sending (attempts + 1)
 * and hands each, opened, to fn. Returns how many, or a negative og_err. */
int outbox_claim(struct store *s, const struct keyring *k, enum factor_type channel, int max,
                 int64_t now_ms, void (*fn)(const struct outbox_msg *m, void *arg), void *arg);
/* A provider accepted the message: sent, sealed code dropped. */
int outbox_mark_sent(struct store *s, int64_t id, int64_t now_ms, const char *provider,
                     const char *provider_id, const char *answer);
/* A try failed: back to queued for next_at_ms, or failed for good when
 * next_at_ms is 0 (the sealed code is dropped then too). */
int outbox_mark_retry(struct store *s, int64_t id, int64_t next_at_ms, const char *provider,
                      const char *answer);
/* Rows in sending after a crash go back to queued, due now. Returns the
 * count or a negative og_err. */
int outbox_resume(struct store *s, int64_t now_ms);
/* Queued plus sending rows. */
int outbox_depth(struct store *s);
/* The earliest next_at of a queued row of channel, or 0 when none. */
int64_t outbox_next_due(struct store *s, enum factor_type channel);

#endif
