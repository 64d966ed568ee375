/* The texts of the messages that carry codes, and of the security
 * notifications (issue #15), per language (English and Simplified
 * Chinese). SMS code texts stay within one segment and end with the
 * origin-bound line "@host #code" (WebOTP) so phones offer to fill it in.
 * A notification never holds a code or a secret: only what happened,
 * when, from where, and what to do if it was not the user. */
#ifndef OTPGATE_UI_MESSAGES_H
#define OTPGATE_UI_MESSAGES_H

#include "core/buf.h"

#include <stdint.h>

/* Picks "zh" or "en" from a ui_locales or Accept-Language value (NULL or
 * unknown gives "en"). */
const char *ui_locale_pick(const char *header);

void ui_message_sms(struct buf *out, const char *locale, const char *app, const char *code,
                    unsigned ttl_minutes, const char *host);
/* The code e-mail's subject and text. purpose "enrol" words it as
 * confirming the address for two-step verification; anything else
 * ("login", "stepup", NULL) as signing in. */
void ui_message_email(struct buf *subject, struct buf *text, const char *locale,
                      const char *app, const char *code, unsigned ttl_minutes,
                      const char *purpose);

/* The facts of one notification; strings may be NULL when unknown. */
struct ui_notice {
    const char *event;  /* a notification name of policy.h: "factor_added", ... */
    const char *locale; /* "zh..." or anything else for English */
    const char *app;
    int64_t at_ms;
    const char *ip;
    const char *browser;     /* a summary: "Firefox on Linux" */
    const char *factor_type; /* sms, email, totp, webauthn */
    int left;                /* recovery codes left, -1 unknown */
    const char *by;          /* set for an admin's change: "cli" or "console" */
    const char *support;     /* whom to contact (brand support=), or NULL */
};

/* A notification's plain-text parts, each one line. */
struct ui_notice_text {
    char subject[256];
    char what[768];   /* what happened */
    char when[96];    /* "When: 2025-01-02 15:04 UTC" */
    char where[384];  /* "From: IP ..., Firefox on Linux" */
    char advice[640]; /* what to do if it was not the user */
};

/* Fills t for n (an unknown event gets a general text). */
void ui_notice_texts(const struct ui_notice *n, struct ui_notice_text *t);
/* The e-mail's subject and plain-text body. */
void ui_notice_email(struct buf *subject, struct buf *text, const struct ui_notice *n);
/* A short SMS (for a user with no e-mail, when the policy allows it). */
void ui_notice_sms(struct buf *out, const struct ui_notice *n);

#endif
