/* The development outbox page: the last code messages the development sink
 * took, newest first. Only served when development delivery is on. */
#include "ui/ui.h"

#include <stdio.h>
#include <time.h>

void ui_dev_outbox_begin(struct buf *out, size_t count)
{
    buf_append_str(out, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                        "<title>Development outbox · otpgate</title>\n"
                        "<link rel=\"stylesheet\" href=\"/static/css/otpgate.css\">\n"
                        "</head>\n<body>\n<main class=\"card wide\">\n"
                        "<h1>Development outbox</h1>\n<p class=\"note\">Development delivery is "
                        "on: these messages were not sent anywhere. Configure SMTP and an SMS "
                        "provider for real delivery.</p>\n");
    if (count == 0)
        buf_append_str(out, "<p>No messages yet.</p>\n");
    else
        buf_append_str(out, "<ol class=\"outbox\">\n");
}

void ui_dev_outbox_item(struct buf *out, int64_t at_ms, const char *channel, const char *to,
                        const char *subject, const char *text)
{
    time_t t = (time_t)(at_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    buf_append_str(out, "<li><p><strong>");
    ui_html_escape(out, channel);
    buf_append_str(out, "</strong> to <code>");
    ui_html_escape(out, to);
    buf_append_str(out, "</code> · <time>");
    ui_html_escape(out, when);
    buf_append_str(out, "</time></p>\n");
    if (subject && subject[0]) {
        buf_append_str(out, "<p>");
        ui_html_escape(out, subject);
        buf_append_str(out, "</p>\n");
    }
    buf_append_str(out, "<pre>");
    ui_html_escape(out, text);
    buf_append_str(out, "</pre></li>\n");
}

void ui_dev_outbox_end(struct buf *out, size_t count)
{
    if (count)
        buf_append_str(out, "</ol>\n");
    buf_append_str(out, "</main>\n</body>\n</html>\n");
}
