/* The development outbox page: the last messages the development sink
 * took, newest first, each with its code highlighted, its text, and an
 * e-mail's HTML part in a sandboxed frame (served by the handler under a
 * CSP sandbox, so a message's markup never runs on otpgate's origin).
 * Only served when development delivery is on. otpgate.js refreshes the
 * list by itself ([data-outbox-latest]); "Refresh" works without it. */
#include "ui/ui.h"

#include "ui/layout.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void ui_dev_outbox_begin(struct buf *out, const struct ui_ctx *c, size_t count, uint64_t latest)
{
    struct ui_layout l = {.title_key = "title.dev_outbox", .page = "page-outbox", .wide = true};
    ui_layout_begin(out, c, &l);
    buf_append_str(out, "<div class=\"alert warn\"><p>");
    ui_text(out, c, "dev.note");
    buf_append_str(out, "</p></div>\n<p class=\"outbox-tools\"><a class=\"button small secondary\" "
                        "href=\"/dev/outbox\">");
    ui_text(out, c, "dev.refresh");
    buf_append_str(out, "</a><span class=\"hint\" data-js-only hidden>");
    ui_text(out, c, "dev.auto");
    buf_append_str(out,
                   "</span></p>\n<div class=\"js-status\" role=\"status\" id=\"outbox-status\" "
                   "data-done=\"");
    ui_text(out, c, "dev.arrived");
    buf_printf(out, "\"></div>\n<div id=\"outbox\" data-outbox-latest=\"%" PRIu64 "\">\n", latest);
    if (count == 0) {
        buf_append_str(out, "<p>");
        ui_text(out, c, "dev.empty");
        buf_append_str(out, "</p>\n");
    } else {
        buf_append_str(out, "<ol class=\"outbox\">\n");
    }
}

/* The text with every occurrence of code marked. */
static void marked_text(struct buf *out, const char *text, const char *code)
{
    size_t clen = code ? strlen(code) : 0;
    char piece[512];
    while (text && *text) {
        const char *hit = clen ? strstr(text, code) : NULL;
        size_t n = hit ? (size_t)(hit - text) : strlen(text);
        while (n > 0) {
            size_t k = n < sizeof(piece) - 1 ? n : sizeof(piece) - 1;
            memcpy(piece, text, k);
            piece[k] = '\0';
            ui_html_escape(out, piece);
            text += k;
            n -= k;
        }
        if (!hit)
            break;
        buf_append_str(out, "<mark>");
        ui_html_escape(out, code);
        buf_append_str(out, "</mark>");
        text += clen;
    }
}

void ui_dev_outbox_item(struct buf *out, const struct ui_ctx *c, const struct ui_outbox_item *m)
{
    time_t t = (time_t)(m->at_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char when[32], iso[32];
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
    bool sms = m->channel && strcmp(m->channel, "sms") == 0;

    buf_append_str(out, "<li class=\"outbox-item\">\n<p class=\"outbox-meta\"><span class=\"badge "
                        "badge-plain\">");
    ui_text(out, c, ui_factor_key(m->channel));
    buf_append_str(out, "</span> <span>");
    ui_textf_code(out, c, "dev.to", m->to);
    buf_append_str(out, "</span> <time datetime=\"");
    buf_append_str(out, iso);
    buf_append_str(out, "\">");
    buf_append_str(out, when);
    buf_append_str(out, "</time></p>\n");
    if (m->subject && m->subject[0]) {
        buf_append_str(out, "<p class=\"outbox-subject\">");
        ui_esc(out, m->subject);
        buf_append_str(out, "</p>\n");
    }
    if (m->code && m->code[0]) {
        buf_printf(out, "<p class=\"outbox-code\">");
        ui_text(out, c, "dev.code");
        buf_printf(out, " <mark class=\"code\" id=\"code-%" PRIu64 "\">", m->id);
        ui_esc(out, m->code);
        buf_printf(out,
                   "</mark> <button type=\"button\" class=\"button small secondary\" "
                   "data-copy=\"code-%" PRIu64 "\" data-js-only hidden data-done=\"",
                   m->id);
        ui_text(out, c, "recovery.copied");
        buf_append_str(out, "\" data-failed=\"");
        ui_text(out, c, "recovery.copy_failed");
        buf_append_str(out, "\">");
        ui_text(out, c, "btn.copy");
        buf_append_str(out, "</button></p>\n");
    }
    if (m->has_html) {
        /* sandbox without allow-scripts or allow-same-origin; the answer
         * carries a CSP sandbox of its own, for when it is opened alone. */
        buf_printf(out,
                   "<iframe class=\"outbox-html\" sandbox src=\"/dev/outbox/%" PRIu64
                   "/html\" loading=\"lazy\" title=\"",
                   m->id);
        ui_textf(out, c, "dev.html_title", m->to);
        buf_printf(
            out, "\"></iframe>\n<p class=\"outbox-open\"><a href=\"/dev/outbox/%" PRIu64 "/html\">",
            m->id);
        ui_text(out, c, "dev.open_html");
        buf_append_str(out, "</a></p>\n<details><summary>");
        ui_text(out, c, "dev.text");
        buf_append_str(out, "</summary><pre>");
        marked_text(out, m->text, m->code);
        buf_append_str(out, "</pre></details>");
    } else {
        buf_append_str(out, sms ? "<pre class=\"outbox-sms\">" : "<pre>");
        marked_text(out, m->text, m->code);
        buf_append_str(out, "</pre>");
    }
    buf_append_str(out, "</li>\n");
}

void ui_dev_outbox_end(struct buf *out, const struct ui_ctx *c, size_t count)
{
    if (count)
        buf_append_str(out, "</ol>\n");
    buf_append_str(out, "</div>\n");
    ui_layout_end(out, c);
}
