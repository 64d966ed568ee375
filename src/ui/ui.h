/* Page rendering: turns what a handler decided into HTML. Knows nothing of
 * sockets or the loop; writes into a buf the caller owns. Every value put
 * into a page goes through ui_html_escape. */
#ifndef OTPGATE_UI_H
#define OTPGATE_UI_H

#include "core/buf.h"

#include <stdint.h>

/* Appends s with &, <, >, " and ' escaped. */
void ui_html_escape(struct buf *out, const char *s);

/* The landing page: what otpgate is and where apps and admins go next. */
void ui_page_home(struct buf *out, const char *product_name, const char *public_url,
                  bool dev_delivery);

/* The development outbox page: begin, one item per message, end. */
void ui_dev_outbox_begin(struct buf *out, size_t count);
void ui_dev_outbox_item(struct buf *out, int64_t at_ms, const char *channel, const char *to,
                        const char *subject, const char *text);
void ui_dev_outbox_end(struct buf *out, size_t count);

#endif
