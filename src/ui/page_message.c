/* A page with a title and one message: an expired link or session, an
 * error, "you can close this window". Both texts are i18n keys the handler
 * picks (the body's "%s" gets ctx.error_arg when there is no ctx.error); no
 * language switch unless the handler says where to come back. */
#include "ui/layout.h"

void ui_page_message(struct buf *out, const struct ui_ctx *c, const char *title_key,
                     const char *body_key)
{
    struct ui_layout l = {
        .title_key = title_key ? title_key : "title.error",
        .page = "page-message",
    };
    ui_layout_begin(out, c, &l);
    buf_append_str(out, "<p class=\"lead\">");
    if (c->error_arg && !c->error)
        ui_textf(out, c, body_key ? body_key : "body.error", c->error_arg);
    else
        ui_text(out, c, body_key ? body_key : "body.error");
    buf_append_str(out, "</p>\n");
    ui_layout_end(out, c);
}
