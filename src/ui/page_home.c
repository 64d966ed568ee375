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

void ui_page_home(struct buf *out, const struct ui_ctx *c, const char *public_url,
                  bool dev_delivery)
{
    /* Operators read this page; it has no session, so no language switch
     * (the browser's language picks the words). */
    const char *name = c->brand_name && c->brand_name[0] ? c->brand_name : "otpgate";
    struct ui_layout l = {.title_key = "title.home", .title_arg = name, .page = "page-home"};
    ui_layout_begin(out, c, &l);
    buf_append_str(out, "<p class=\"lead\">");
    ui_text(out, c, "home.body");
    buf_append_str(out, "</p>\n<p>");
    ui_text(out, c, "home.issuer");
    buf_append_str(out, " <code>");
    ui_esc(out, public_url);
    buf_append_str(out, "</code></p>\n");
    if (dev_delivery) {
        buf_append_str(out, "<div class=\"alert warn\"><p>");
        ui_text(out, c, "home.outbox");
        buf_append_str(out, " <a href=\"/dev/outbox\">");
        ui_text(out, c, "home.outbox_link");
        buf_append_str(out, "</a></p></div>\n");
    }
    buf_append_str(out, "<section aria-labelledby=\"h-next\">\n<h2 id=\"h-next\">");
    ui_text(out, c, "home.next");
    buf_append_str(out, "</h2>\n<ol class=\"next-steps\">\n<li><p>");
    ui_textf_code(out, c, "home.app",
                  "otpgate app add --name \"My app\" --redirect-uri "
                  "https://app.example.com/callback");
    buf_append_str(out, "</p></li>\n");
    if (dev_delivery) {
        buf_append_str(out, "<li><p>");
        ui_textf_code(out, c, "home.demo", "make demo");
        buf_append_str(out, "</p></li>\n");
    }
    buf_append_str(out, "<li><p>");
    ui_textf_code(out, c, "home.admin", "otpgate admin add NAME");
    buf_append_str(out, " <a href=\"/admin\">");
    ui_text(out, c, "home.admin_link");
    buf_append_str(out,
                   "</a></p></li>\n</ol>\n</section>\n<p class=\"actions\"><a href=\"/healthz\">");
    ui_text(out, c, "home.health");
    buf_append_str(out, "</a><a href=\"/metrics\">");
    ui_text(out, c, "home.metrics");
    buf_append_str(out, "</a></p>\n");
    ui_layout_end(out, c);
}
