/* The landing page at "/". Static text plus the public URL; no user data.
 * Also home of ui_html_escape, which every page uses. */
#include "ui/ui.h"

#include "ui/layout.h"

void ui_html_escape(struct buf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            buf_append_str(out, "&amp;");
            break;
        case '<':
            buf_append_str(out, "&lt;");
            break;
        case '>':
            buf_append_str(out, "&gt;");
            break;
        case '"':
            buf_append_str(out, "&quot;");
            break;
        case '\'':
            buf_append_str(out, "&#39;");
            break;
        default:
            buf_append(out, s, 1);
            break;
        }
    }
}

void ui_page_home(struct buf *out, const char *product_name, const char *public_url,
                  bool dev_delivery)
{
    /* Operators read this page; it has no session, so no language switch. */
    struct ui_ctx c = {.locale = "en", .brand_name = product_name};
    struct ui_layout l = {
        .title_key = "title.home", .title_arg = product_name, .page = "page-home"};
    ui_layout_begin(out, &c, &l);
    buf_append_str(out, "<p>");
    ui_text(out, &c, "home.body");
    buf_append_str(out, "</p>\n<p>");
    ui_text(out, &c, "home.issuer");
    buf_append_str(out, " <code>");
    ui_esc(out, public_url);
    buf_append_str(out, "</code></p>\n");
    if (dev_delivery) {
        buf_append_str(out, "<div class=\"alert warn\"><p>");
        ui_text(out, &c, "home.dev");
        buf_append_str(out, "</p></div>\n");
    }
    buf_append_str(out, "<p class=\"actions\"><a href=\"/healthz\">");
    ui_text(out, &c, "home.health");
    buf_append_str(out, "</a> · <a href=\"/metrics\">");
    ui_text(out, &c, "home.metrics");
    buf_append_str(out, "</a></p>\n");
    ui_layout_end(out, &c);
}
