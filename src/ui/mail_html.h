/* The HTML versions of the e-mails: the one that carries a code, next to
 * the plain text of ui_message_email(), and the security notifications, in
 * English and Simplified Chinese. */
#ifndef OTPGATE_UI_MAIL_HTML_H
#define OTPGATE_UI_MAIL_HTML_H

#include "core/buf.h"
#include "ui/messages.h"

/* Appends a complete, small HTML document to out: lang set from locale
 * ("zh..." gives zh-CN, anything else en), the app name, the code in a
 * large monospace block, its lifetime and a do-not-share line. Every value
 * is escaped with ui_html_escape. Styles are inline (mail clients drop
 * <style> and external CSS). out stays the caller's. */
/* purpose "enrol" words it as confirming the address; anything else
 * ("login", "stepup", NULL) as signing in (ui_message_email). */
void ui_mail_html(struct buf *out, const char *locale, const char *app, const char *code,
                  unsigned ttl_minutes, const char *purpose);

/* The HTML version of a security notification (ui_notice_email's text):
 * the same layout, the subject as heading, then what happened, when, from
 * where and the advice, every value escaped. */
void ui_notice_html(struct buf *out, const struct ui_notice *n);

#endif
