/* The landing page at "/". Static text plus the public URL; no user data. */
#include "ui/ui.h"

void ui_html_escape(struct buf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': buf_append_str(out, "&amp;"); break;
        case '<': buf_append_str(out, "&lt;"); break;
        case '>': buf_append_str(out, "&gt;"); break;
        case '"': buf_append_str(out, "&quot;"); break;
        case '\'': buf_append_str(out, "&#39;"); break;
        default: buf_append(out, s, 1); break;
        }
    }
}

void ui_page_home(struct buf *out, const char *product_name, const char *public_url,
                  bool dev_delivery)
{
    buf_append_str(out, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                        "<title>");
    ui_html_escape(out, product_name);
    buf_append_str(out, "</title>\n<link rel=\"stylesheet\" href=\"/static/css/otpgate.css\">\n"
                        "<link rel=\"icon\" href=\"/static/img/logo.svg\" type=\"image/svg+xml\">\n"
                        "</head>\n<body>\n<main class=\"card\">\n"
                        "<img class=\"logo\" src=\"/static/img/logo.svg\" alt=\"\" width=\"48\" "
                        "height=\"48\">\n<h1>");
    ui_html_escape(out, product_name);
    buf_append_str(out, " is running</h1>\n<p>This is a second-factor gateway. Applications send "
                        "their signed-in users here to confirm a one-time code, then get them "
                        "back with a signed result.</p>\n<p>Issuer: <code>");
    ui_html_escape(out, public_url);
    buf_append_str(out, "</code></p>\n");
    if (dev_delivery)
        buf_append_str(out, "<p class=\"note\">Development delivery is on: codes are written "
                            "to the log instead of being sent.</p>\n");
    buf_append_str(out, "<p><a href=\"/healthz\">Health</a> · <a href=\"/metrics\">Metrics</a></p>\n"
                        "</main>\n</body>\n</html>\n");
}
