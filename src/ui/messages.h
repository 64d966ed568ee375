/* The texts of the messages that carry codes, per language (English and
 * Simplified Chinese). SMS texts stay within one segment and end with the
 * origin-bound line "@host #code" (WebOTP) so phones offer to fill it in. */
#ifndef OTPGATE_UI_MESSAGES_H
#define OTPGATE_UI_MESSAGES_H

#include "core/buf.h"

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

#endif
