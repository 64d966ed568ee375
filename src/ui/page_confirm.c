/* Confirmation before a destructive change: removing one factor, turning
 * two-step verification off or replacing the recovery codes. The form
 * repeats the action with confirm=1; only the known actions are ever put
 * into a URL. */
#include "ui/layout.h"

#include <stdio.h>
#include <string.h>

void ui_page_confirm(struct buf *out, const struct ui_ctx *c, const char *action,
                     const struct ui_factor *factor, int count)
{
    bool remove = action && strcmp(action, "remove") == 0;
    bool disable = action && strcmp(action, "disable") == 0;
    bool recovery = action && strcmp(action, "recovery-codes") == 0;
    if (!remove && !disable && !recovery) {
        ui_page_message(out, c, "title.error", "body.error");
        return;
    }
    struct ui_layout l = {
        .title_key = remove     ? "title.confirm_remove"
                     : recovery ? "title.confirm_recovery"
                                : "title.confirm_disable",
        .back = "/account",
        .page = "page-confirm",
    };
    ui_layout_begin(out, c, &l);
    if (remove && factor) {
        buf_append_str(out, "<div class=\"method current\">");
        ui_icon(out, factor->type);
        ui_factor_label(out, c, factor);
        buf_append_str(out, "</div>\n");
    }
    buf_append_str(out, "<p>");
    if (recovery) {
        char n[16];
        snprintf(n, sizeof(n), "%d", count);
        ui_textf(out, c, "confirm.recovery_body", n);
    } else {
        ui_text(out, c, remove ? "confirm.remove_body" : "confirm.disable_body");
    }
    buf_append_str(out, "</p>\n<form class=\"stack\" method=\"post\" action=\"/account/");
    buf_append_str(out, remove ? "remove" : recovery ? "recovery-codes" : "disable");
    buf_append_str(out, "\">\n");
    ui_csrf(out, c);
    if (remove && factor)
        ui_hidden(out, "factor_id", factor->id);
    ui_hidden(out, "confirm", "1");
    buf_append_str(out, recovery ? "<button type=\"submit\">"
                                 : "<button type=\"submit\" class=\"button danger\">");
    ui_text(out, c, remove ? "btn.remove" : recovery ? "btn.new_codes" : "btn.turn_off");
    buf_append_str(out, "</button>\n<a class=\"button secondary\" href=\"/account\">");
    ui_text(out, c, "btn.cancel");
    buf_append_str(out, "</a>\n</form>\n");
    ui_layout_end(out, c);
}
