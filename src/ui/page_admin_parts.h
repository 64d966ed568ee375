/* Internal to the console's renderers (page_admin*.c): the console frame
 * (navigation, alerts), tables that turn into stacked cards on a phone,
 * form fields, and the SVG bars. Everything written is escaped here or by
 * the caller through ui_esc. */
#ifndef OTPGATE_UI_PAGE_ADMIN_PARTS_H
#define OTPGATE_UI_PAGE_ADMIN_PARTS_H

#include "ui/layout.h"
#include "ui/page_admin.h"

/* The ui_ctx of a console page (English, its CSRF token and brand). */
struct ui_ctx admin_ctx(const struct ui_admin_page *p);

/* The document up to the alerts: title (plain English) as <title> and h1,
 * the navigation and sign-out once signed in. */
void admin_begin(struct buf *out, const struct ui_ctx *c, const struct ui_admin_page *p,
                 const char *title);
void admin_end(struct buf *out, const struct ui_ctx *c);

/* A table in a labelled, focusable scroll region; heads[i] also labels the
 * i-th cell of each row when the table is stacked into cards. */
void admin_table_begin(struct buf *out, const char *label, const char *const *heads, size_t n);
void admin_table_end(struct buf *out);
/* <td data-label="label">escaped text</td>; empty text shows "—". */
void admin_cell(struct buf *out, const char *label, const char *text);
/* The same with the text in <code>. */
void admin_code_cell(struct buf *out, const char *label, const char *text);
/* Opens <td data-label="label"><div class="cell"> for a cell the caller
 * fills; close with "</div></td>" (the div keeps the value one grid item
 * when the row is stacked into a card). */
void admin_cell_open(struct buf *out, const char *label);
/* <th scope="row" data-label="label">, for the row's name. */
void admin_row_head_open(struct buf *out, const char *label);

/* A labelled text input (type "text", "password", ...) with an optional
 * hint and value; invalid marks it aria-invalid and points it at the page's
 * error. attrs (may be NULL) is appended inside the tag as is. */
void admin_input(struct buf *out, const char *id, const char *label, const char *type,
                 const char *value, const char *hint, bool invalid, const char *attrs);
/* A labelled select of options (value, label pairs; count pairs). */
void admin_select(struct buf *out, const char *id, const char *label, const char *const *options,
                  size_t count, const char *selected, const char *hint);

/* The "app" select of a filter form: All applications, then each app by
 * name. */
void admin_app_select(struct buf *out, const struct ui_admin_app *apps, size_t count,
                      const char *selected);

/* A horizontal bar, value out of max, as inline SVG (aria-hidden). */
void admin_bar(struct buf *out, long long value, long long max, const char *cls);

/* The badge of a delivery state or user state. */
void admin_badge(struct buf *out, const char *cls, const char *text);

/* A pager (nav named label) with up to two links: back (rel=prev unless
 * back_rel is NULL) and on (rel=next); a NULL href leaves its link out,
 * both NULL the pager. */
void admin_pager(struct buf *out, const char *label, const char *back_href, const char *back_label,
                 const char *back_rel, const char *on_href, const char *on_label);

/* A table of audit rows (when, what, application, IP address, admin,
 * details) in a region named label. */
void admin_events_table(struct buf *out, const char *label, const struct ui_admin_event *events,
                        size_t n);

/* "a, b and c" of the factor type names in list ("email,sms"), or "none". */
void admin_factor_names(struct buf *out, const struct ui_ctx *c, const char *list);

#endif
