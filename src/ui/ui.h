/* Page rendering: turns what a handler decided into HTML. Knows nothing of
 * sockets or the loop; writes into a buf the caller owns. Every value put
 * into a page goes through ui_html_escape. */
#ifndef OTPGATE_UI_H
#define OTPGATE_UI_H

#include "core/buf.h"

/* Appends s with &, <, >, " and ' escaped. */
void ui_html_escape(struct buf *out, const char *s);

/* The landing page: what otpgate is and where apps and admins go next. */
void ui_page_home(struct buf *out, const char *product_name, const char *public_url,
                  bool dev_delivery);

#endif
