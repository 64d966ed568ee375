/* The console's user pages: the search with filters and paging, and one
 * user's page with the lock banner, factors, remembered devices' place,
 * recent history and the support actions. */
#include "ui/page_admin_parts.h"

#include <stdio.h>
#include <string.h>

static const char *const state_options[] = {"",        "Any state", "locked", "Locked",
                                            "waiting", "Waiting",   "clear",  "Neither"};
static const char *const has_options[] = {
    "",      "Any factors", "none", "No second factor",     "sms", "Has text message",
    "email", "Has email",   "totp", "Has authenticator app"};

void ui_admin_users(struct buf *out, const struct ui_admin_page *p,
                    const struct ui_admin_users_view *v)
{
    struct ui_ctx c = admin_ctx(p);
    admin_begin(out, &c, p, "Users");
    if (v->app_count == 0) {
        buf_append_str(out, "<p>No applications yet, so no users either.</p>\n");
        admin_end(out, &c);
        return;
    }
    buf_append_str(out, "<form class=\"admin-filters\" method=\"get\" action=\"/admin/users\" "
                        "role=\"search\" aria-label=\"Find users\">\n");
    admin_app_select(out, v->apps, v->app_count, v->app_id);
    admin_input(out, "q", "User id starts with", "search", v->q, NULL, false,
                "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"255\"");
    admin_select(out, "state", "State", state_options, ARRAY_SIZE(state_options) / 2, v->state,
                 NULL);
    admin_select(out, "has", "Factors", has_options, ARRAY_SIZE(has_options) / 2, v->has, NULL);
    buf_append_str(out, "<div class=\"filter-go\"><button type=\"submit\" class=\"button\">Search"
                        "</button></div>\n</form>\n");

    if (v->count == 0) {
        buf_append_str(out, v->filtered ? "<p>No user matches.</p>\n"
                                        : "<p>No users yet: an application's users appear here "
                                          "once it has sent them to otpgate.</p>\n");
    } else {
        static const char *const heads[] = {"User id",        "Application", "Factors",
                                            "Recovery codes", "State",       "First seen"};
        admin_table_begin(out, "Users", heads, ARRAY_SIZE(heads));
        for (size_t i = 0; i < v->count; i++) {
            const struct ui_admin_user_row *r = &v->rows[i];
            buf_append_str(out, "<tr>");
            admin_row_head_open(out, heads[0]);
            buf_append_str(out, "<a href=\"");
            ui_esc(out, r->href);
            buf_append_str(out, "\">");
            ui_esc(out, r->sub);
            buf_append_str(out, "</a></th>");
            admin_cell(out, heads[1], r->app_name);
            admin_cell_open(out, heads[2]);
            admin_factor_names(out, &c, r->factors);
            buf_append_str(out, "</div></td>");
            admin_cell_open(out, heads[3]);
            buf_printf(out, "%lld left</div></td>", r->recovery_left);
            admin_cell_open(out, heads[4]);
            if (r->state && strcmp(r->state, "locked") == 0)
                admin_badge(out, "badge-danger", "Locked");
            else if (r->state && strcmp(r->state, "waiting") == 0)
                admin_badge(out, "badge-warn", "Waiting");
            else if (r->failures > 0)
                buf_printf(out, "%lld failure%s", r->failures, r->failures == 1 ? "" : "s");
            else
                buf_append_str(out, "—");
            buf_append_str(out, "</div></td>");
            admin_cell(out, heads[5], r->created);
            buf_append_str(out, "</tr>\n");
        }
        admin_table_end(out);
    }
    admin_pager(out, "Pages of users", v->prev_href, "Previous page", "prev", v->next_href,
                "Next page");
    admin_end(out, &c);
}

static void user_hidden(struct buf *out, const struct ui_ctx *c, const struct ui_admin_user_view *v)
{
    ui_csrf(out, c);
    ui_hidden(out, "app", v->app_id);
    ui_hidden(out, "sub", v->sub);
}

static void unlock_form(struct buf *out, const struct ui_ctx *c, const struct ui_admin_user_view *v,
                        const char *cls)
{
    buf_append_str(out, "<form class=\"admin-action\" method=\"post\" "
                        "action=\"/admin/users/unlock\">\n");
    user_hidden(out, c, v);
    buf_append_str(out, "<button type=\"submit\" class=\"button small ");
    buf_append_str(out, cls);
    buf_append_str(out, "\">Unlock</button>\n</form>\n");
}

void ui_admin_user(struct buf *out, const struct ui_admin_page *p,
                   const struct ui_admin_user_view *v)
{
    struct ui_ctx c = admin_ctx(p);
    char title[320];
    snprintf(title, sizeof(title), "User %s", v->sub);
    admin_begin(out, &c, p, title);
    buf_append_str(out, "<p class=\"lead\">At <a href=\"/admin/apps/");
    ui_url_param(out, v->app_id);
    buf_append_str(out, "\">");
    ui_esc(out, v->app_name);
    buf_append_str(out, "</a>. <a href=\"");
    ui_esc(out, v->users_href);
    buf_append_str(out, "\">All users</a></p>\n");

    if (v->locked || v->waiting) {
        buf_append_str(out, v->locked ? "<div class=\"alert error admin-banner\" id=\"lock\">\n"
                                      : "<div class=\"alert warn admin-banner\" id=\"lock\">\n");
        buf_append_str(out, "<p><strong>");
        ui_esc(out, v->lock_state);
        buf_printf(out, "</strong> after %lld wrong code%s in a row.", v->failures,
                   v->failures == 1 ? "" : "s");
        buf_append_str(out, v->locked ? " The user can still sign in with a recovery code, or "
                                        "you can unlock them.</p>\n"
                                      : " Unlocking lets them try again now.</p>\n");
        unlock_form(out, &c, v, v->locked ? "danger" : "secondary");
        buf_append_str(out, "</div>\n");
    }

    buf_append_str(out, "<dl class=\"admin-facts\">\n<dt>Sign-in state</dt><dd>");
    ui_esc(out, v->lock_state);
    buf_printf(out,
               "</dd>\n<dt>Consecutive failures</dt><dd>%lld</dd>\n"
               "<dt>Recovery codes left</dt><dd>%lld</dd>\n",
               v->failures, v->recovery_left);
    buf_append_str(out, "<dt>Preferred</dt><dd>");
    ui_esc(out, v->preferred ? v->preferred : "—");
    buf_append_str(out, "</dd>\n<dt>Used last</dt><dd>");
    ui_esc(out, v->last_used ? v->last_used : "—");
    buf_append_str(out, "</dd>\n<dt>First seen</dt><dd>");
    ui_esc(out, v->created ? v->created : "—");
    buf_append_str(out, "</dd>\n</dl>\n");

    buf_append_str(out, "<section>\n<h2 id=\"factors-h\">Factors"
                        "</h2>\n");
    if (v->factor_count == 0) {
        buf_append_str(out, "<p>No factors.</p>\n");
    } else {
        static const char *const heads[] = {"Factor", "Destination", "Status",
                                            "Added",  "Last used",   ""};
        admin_table_begin(out, "Factors", heads, ARRAY_SIZE(heads));
        for (size_t i = 0; i < v->factor_count; i++) {
            const struct ui_admin_factor *f = &v->factors[i];
            buf_append_str(out, "<tr>");
            admin_row_head_open(out, heads[0]);
            ui_text(out, &c, ui_factor_key(f->type));
            if (f->preferred)
                buf_append_str(out, " <span class=\"badge badge-accent\">Preferred</span>");
            buf_append_str(out, "</th>");
            if (f->detail) {
                admin_cell_open(out, heads[1]);
                ui_esc(out, f->masked);
                buf_append_str(out, "<br><span class=\"muted\">");
                ui_esc(out, f->detail);
                buf_append_str(out, "</span></div></td>");
            } else {
                admin_cell(out, heads[1], f->masked);
            }
            admin_cell(out, heads[2], f->status);
            admin_cell(out, heads[3], f->added);
            admin_cell(out, heads[4], f->last_used ? f->last_used : "never");
            admin_cell_open(out, "Action");
            buf_append_str(out, "<a class=\"button small danger-outline\" href=\"");
            ui_esc(out, f->remove_href);
            buf_append_str(out, "\">Remove<span class=\"visually-hidden\"> ");
            ui_text(out, &c, ui_factor_key(f->type));
            if (f->masked && f->masked[0]) {
                buf_append_str(out, " ");
                ui_esc(out, f->masked);
            }
            buf_append_str(out, "</span></a></div></td></tr>\n");
        }
        admin_table_end(out);
    }
    buf_append_str(out, "</section>\n");

    buf_append_str(out, "<section aria-labelledby=\"devices-h\" id=\"devices\">\n<h2 "
                        "id=\"devices-h\">Remembered devices</h2>\n");
    if (v->device_count == 0) {
        buf_append_str(out, "<p class=\"muted\">None: every sign-in of this user asks for the "
                            "second step.</p>\n");
    } else {
        static const char *const dheads[] = {"Browser", "Remembered", "Last seen",
                                             "Until",   "IP",         "Scope"};
        admin_table_begin(out, "Remembered devices", dheads, ARRAY_SIZE(dheads));
        for (size_t i = 0; i < v->device_count; i++) {
            const struct ui_admin_device *d = &v->devices[i];
            buf_append_str(out, "<tr>");
            admin_row_head_open(out, dheads[0]);
            ui_esc(out, d->summary);
            buf_append_str(out, "</th>");
            admin_cell(out, dheads[1], d->created);
            admin_cell(out, dheads[2], d->last_seen);
            admin_cell(out, dheads[3], d->expires);
            admin_cell(out, dheads[4], d->ip && d->ip[0] ? d->ip : "—");
            admin_cell(out, dheads[5], d->scope);
            buf_append_str(out, "</tr>\n");
        }
        admin_table_end(out);
        buf_append_str(out, "<form class=\"admin-action\" method=\"post\" "
                            "action=\"/admin/users/forget-devices\">\n");
        user_hidden(out, &c, v);
        buf_append_str(out, "<button type=\"submit\" class=\"button small danger-outline\">"
                            "Forget all devices</button>\n</form>\n");
    }
    buf_append_str(out, "</section>\n");

    buf_append_str(out, "<section>\n<h2 id=\"history-h\">Recent "
                        "activity</h2>\n");
    if (v->event_count == 0) {
        buf_printf(out,
                   "<p class=\"muted\">Nothing among the newest %d events of the audit "
                   "trail.</p>\n",
                   v->history_scan);
    } else {
        admin_events_table(out, "Recent activity", v->events, v->event_count);
        buf_printf(out,
                   "<p class=\"hint\">The newest %zu of this user's events among the newest %d "
                   "of the audit trail.</p>\n",
                   v->event_count, v->history_scan);
    }
    buf_append_str(out, "</section>\n");

    buf_append_str(out, "<section aria-labelledby=\"actions-h\">\n<h2 id=\"actions-h\">Support"
                        "</h2>\n<div class=\"admin-actions\">\n");
    if (!v->locked && !v->waiting && v->failures > 0)
        unlock_form(out, &c, v, "secondary");
    if (v->factor_count > 0 || v->recovery_left > 0) {
        buf_append_str(out, "<p><a class=\"button small danger-outline\" href=\"");
        ui_esc(out, v->reset_href);
        buf_append_str(out, "\">Reset: remove all factors</a></p>\n");
    }
    if (v->failures == 0 && v->factor_count == 0 && v->recovery_left == 0)
        buf_append_str(out, "<p class=\"muted\">Nothing to unlock or reset.</p>\n");
    buf_append_str(out, "</div>\n</section>\n");
    admin_end(out, &c);
}
