/* The development outbox page: the last code messages the development sink
 * took, newest first. Only served when development delivery is on; for
 * developers, so English and without a session. */
#include "ui/ui.h"

#include "ui/layout.h"

#include <stdio.h>
#include <time.h>

static const struct ui_ctx outbox_ctx = {.locale = "en"};

void ui_dev_outbox_begin(struct buf *out, size_t count)
{
    struct ui_layout l = {.title_key = "title.dev_outbox", .page = "page-outbox", .wide = true};
    ui_layout_begin(out, &outbox_ctx, &l);
    buf_append_str(out, "<div class=\"alert warn\"><p>");
    ui_text(out, &outbox_ctx, "dev.note");
    buf_append_str(out, "</p></div>\n");
    if (count == 0) {
        buf_append_str(out, "<p>");
        ui_text(out, &outbox_ctx, "dev.empty");
        buf_append_str(out, "</p>\n");
    } else {
        buf_append_str(out, "<ol class=\"outbox\">\n");
    }
}

void ui_dev_outbox_item(struct buf *out, int64_t at_ms, const char *channel, const char *to,
                        const char *subject, const char *text)
{
    time_t t = (time_t)(at_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char when[32], iso[32];
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_append_str(out, "<li><p><strong>");
    ui_esc(out, channel);
    buf_append_str(out, "</strong> → <code>");
    ui_esc(out, to);
    buf_append_str(out, "</code> · <time datetime=\"");
    buf_append_str(out, iso);
    buf_append_str(out, "\">");
    buf_append_str(out, when);
    buf_append_str(out, "</time></p>\n");
    if (subject && subject[0]) {
        buf_append_str(out, "<p>");
        ui_esc(out, subject);
        buf_append_str(out, "</p>\n");
    }
    buf_append_str(out, "<pre>");
    ui_esc(out, text);
    buf_append_str(out, "</pre></li>\n");
}

void ui_dev_outbox_end(struct buf *out, size_t count)
{
    if (count)
        buf_append_str(out, "</ol>\n");
    ui_layout_end(out, &outbox_ctx);
}
