/* Page rendering: turns what a handler decided into HTML. Knows nothing of
 * sockets or the loop; writes into a buf the caller owns. Every value put
 * into a page goes through ui_html_escape. */
#ifndef OTPGATE_UI_H
#define OTPGATE_UI_H

#include "core/buf.h"
#include "ui/pages.h"

#include <stdint.h>

/* Appends s with &, <, >, " and ' escaped. */
void ui_html_escape(struct buf *out, const char *s);

/* The landing page: what otpgate is and what to do next (register an app,
 * the demo and the development outbox when development delivery is on, the
 * admin console), in c->locale with c's brand; c->csrf may be NULL. */
void ui_page_home(struct buf *out, const struct ui_ctx *c, const char *public_url,
                  bool dev_delivery);

/* One message of the development outbox. */
struct ui_outbox_item {
    uint64_t id;         /* its number: /dev/outbox/ID/html serves the HTML part */
    int64_t at_ms;       /* when the sink took it */
    const char *channel; /* "sms" or "email" */
    const char *to;
    const char *subject; /* "" for SMS */
    const char *text;    /* the plain text (SMS text, or the e-mail's text part) */
    const char *code;    /* the code it carries, highlighted where the text has it; may be "" */
    bool has_html;       /* an HTML part exists: shown in a sandboxed frame */
};

/* The development outbox page, newest first: begin (latest is the newest
 * message's id, 0 when none; the script compares it to refresh), one item
 * per message, end. In c->locale; c->csrf may be NULL. */
void ui_dev_outbox_begin(struct buf *out, const struct ui_ctx *c, size_t count, uint64_t latest);
void ui_dev_outbox_item(struct buf *out, const struct ui_ctx *c, const struct ui_outbox_item *m);
void ui_dev_outbox_end(struct buf *out, const struct ui_ctx *c, size_t count);

#endif
