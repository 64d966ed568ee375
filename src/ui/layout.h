/* Internal to src/ui: the document every end-user page shares (head, header
 * with brand and language switch, main with one h1 and the notice/error
 * area, footer) and small escaped-output helpers the page renderers use.
 * Everything written goes through ui_html_escape or comes from ui_t. */
#ifndef OTPGATE_UI_LAYOUT_H
#define OTPGATE_UI_LAYOUT_H

#include "ui/pages.h"

/* What differs between pages in the shared document. */
struct ui_layout {
    const char *title_key; /* i18n key of <title> and the h1 */
    const char *title_arg; /* value for the title's "%s", or NULL */
    const char *back;      /* default "back" of the language switch; NULL: no switch
                              unless c->back is set */
    const char *page;      /* body class, e.g. "page-recovery" */
    bool wide;             /* a wider card (account page, outbox) */
    bool no_lang;          /* never a language switch (codes shown once) */
    const char *extra_css; /* a second stylesheet under /static/css/, or NULL */
    const char *extra_js;  /* a second script under /static/js/ (deferred), or NULL */
};

/* Writes everything up to and including the h1 and the notice/error area;
 * ui_layout_end closes main and writes the footer. c->locale picks the
 * language; a NULL c->csrf drops the language switch (it is a form). */
void ui_layout_begin(struct buf *out, const struct ui_ctx *c, const struct ui_layout *l);
void ui_layout_end(struct buf *out, const struct ui_ctx *c);

/* Escapes s, NULL as empty. */
void ui_esc(struct buf *out, const char *s);
/* The text of key, escaped. */
void ui_text(struct buf *out, const struct ui_ctx *c, const char *key);
/* The text of key with its first "%s" replaced by arg (escaped; NULL as
 * empty); the rest of the text escaped too. */
void ui_textf(struct buf *out, const struct ui_ctx *c, const char *key, const char *arg);

/* The text of key with its first "%s" replaced by arg set as code
 * (<code>arg</code>), for commands and paths. */
void ui_textf_code(struct buf *out, const struct ui_ctx *c, const char *key, const char *arg);
/* Escapes a value shown inside text; a masked phone number ("+44 •••• 34")
 * gets no-break spaces, so it never wraps in the middle. */
void ui_esc_value(struct buf *out, const char *s);

/* The hidden csrf input. */
void ui_csrf(struct buf *out, const struct ui_ctx *c);
/* <input type="hidden" name=… value=…>, both escaped. */
void ui_hidden(struct buf *out, const char *name, const char *value);

/* The i18n key naming a factor type ("factor.sms"...), "factor.other" for
 * anything unknown. */
const char *ui_factor_key(const char *type);
/* Where a method type stands in every list, so each page shows them in
 * the same order: passkey, authenticator app, text message, e-mail, then
 * anything else. */
int ui_method_rank(const char *type);
#define UI_METHOD_RANKS 5

/* A small decorative icon for a factor type or "recovery" (aria-hidden). */
void ui_icon(struct buf *out, const char *type);

/* The name and masked destination of a factor as two spans (class
 * method-name, method-detail), for lists and the current-factor box. */
void ui_factor_label(struct buf *out, const struct ui_ctx *c, const struct ui_factor *f);

/* Appends s percent-encoded for a URL query value (unreserved characters
 * kept), which is also safe in an HTML attribute. */
void ui_url_param(struct buf *out, const char *s);

/* The labelled one-time-code field named "code" with id "code": numeric
 * ones get inputmode="numeric" and a digits pattern, recovery codes take
 * letters. Points aria-describedby at the error when the page has one. */
void ui_code_field(struct buf *out, const struct ui_ctx *c, bool numeric);

/* A "Send again" form to action with factor_id: an enabled button carrying
 * data-resend-after (seconds) that otpgate.js turns into a countdown. */
void ui_resend_form(struct buf *out, const struct ui_ctx *c, const char *action,
                    const char *factor_id, int resend_after);

/* For the passkey forms (passkey.js): a <noscript> note (key nojs) and a
 * hidden one the script shows when the browser has no WebAuthn (key
 * unsupported); and the data-msg-* attributes of the texts it says when a
 * ceremony is cancelled, refused as already there, or fails. */
void ui_passkey_notes(struct buf *out, const struct ui_ctx *c, const char *nojs,
                      const char *unsupported);
void ui_passkey_messages(struct buf *out, const struct ui_ctx *c);

/* In development (c->dev_outbox), a line pointing at /dev/outbox where a
 * code was just sent; nothing otherwise. */
void ui_dev_outbox_hint(struct buf *out, const struct ui_ctx *c);

#endif
