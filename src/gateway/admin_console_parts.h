/* Internal to the console's handlers (admin_*.c): the request's console
 * state (session, CSRF token, parsed form), answering (pages, redirects,
 * errors), query and form reading, time formatting, the audit and
 * password-hashing helpers, and the apps list the pickers share. Loop
 * thread only. */
#ifndef OTPGATE_ADMIN_CONSOLE_PARTS_H
#define OTPGATE_ADMIN_CONSOLE_PARTS_H

#include "core/admins.h"
#include "gateway/http/http.h"
#include "gateway/http/multipart.h"
#include "gateway/http/urlcodec.h"
#include "ui/page_admin.h"

#include <jansson.h>

#define HTML "text/html; charset=utf-8"

struct server;

struct console {
    struct http_request *req;
    struct server *srv;
    struct admin_session sess;
    bool have_sess;
    char csrf[ADMINS_CSRF_LEN];
    struct kv_list form;
    struct multipart parts; /* a multipart form's parts (files included) */
    bool multipart;         /* the form came as multipart/form-data */
    struct ui_admin_page ui;
};

/* Loads the admin session; without one the browser goes to the sign-in
 * page. For a POST also the form (urlencoded, or multipart when
 * allow_multipart) and its CSRF token. section is the nav entry. On false
 * an answer has been sent. */
bool console_start(struct http_request *req, struct console *c, bool post, const char *section,
                   bool allow_multipart);

/* Sends a rendered page (html is taken) once the iteration's commit is
 * done, or now when nothing is waiting for one. */
void console_send(struct console *c, int status, struct buf *html);
/* 303 to location (a path on this server). */
void console_redirect(struct console *c, const char *location);
/* A plain error page (400 bad form, 403 CSRF, 500 store). */
void console_error(struct console *c, int status, const char *body_key);
/* A message page within the console's frame: 404s and the like. */
void console_message(struct console *c, int status, const char *title, const char *text,
                     const char *href, const char *label);

/* A confirmation page (ui_admin_confirm), 200. */
void console_confirm(struct console *c, const struct ui_admin_confirm *v);

/* Whether the posted form carries confirm=1 (only a confirmation page's
 * does); when not, sends the browser to page (that confirmation page) and
 * returns false. */
bool console_confirmed(struct console *c, const char *page);

/* A form value as a NUL-terminated arena string, or NULL. */
const char *console_form(struct console *c, const char *key);
/* A query value as a NUL-terminated arena string, or NULL. */
const char *console_query(struct console *c, const char *key);
/* A path parameter ({id}) decoded, or NULL. */
const char *console_param(struct console *c, size_t i);

/* "2026-11-24 10:00 UTC" (with seconds: "…:05 UTC") in request memory;
 * NULL for ms <= 0. */
const char *console_time(struct console *c, int64_t ms, bool seconds);

/* path with the parameters (name, value pairs; NULL or "" values left
 * out) in request memory. */
const char *console_url(struct console *c, const char *path, const char *const *params,
                        size_t pairs);

/* The notice or error of a redirect's "n" or "e" key (fixed texts, never
 * taken from the URL). */
void console_alerts_from_query(struct console *c);

/* ",\"k\":v…" from a JSON object (taken), for support_audit_console's
 * more; "" for an empty one. In request memory. */
const char *console_audit_more(struct console *c, json_t *obj);

/* Audits a console action by the signed-in admin (support_audit_console).
 * Returns 0 or a store error. */
int console_audit(struct console *c, const char *event, const char *app_id, const char *sub,
                  json_t *more);

/* Whether the console's writes may go on: the store call rc and the
 * batch's. Opens the request's savepoint; end with console_write_end. */
int console_write_begin(struct console *c);
void console_write_end(struct console *c, int rc);

/* The apps as views in request memory (ui_admin_app, users = -1); NULL
 * with *count 0 on a store error (logged). */
struct ui_admin_app *console_apps(struct console *c, size_t *count);

/* An audit row as the console shows it: time, a sentence for the event
 * ("Wrong code", "Unlocked by an admin"), app, IP and detail, in request
 * memory. */
struct support_event;
void console_event_view(struct console *c, const struct support_event *e,
                        struct ui_admin_event *out);

/* Audit rows gathered as views: pass console_event_collect and a
 * console_events with room for the limit asked of support_*_history. */
struct console_events {
    struct console *c;
    struct ui_admin_event *items;
    size_t count;
};
void console_event_collect(const struct support_event *e, void *arg);

/* Tells the API's app cache that apps or policies changed in this
 * connection. */
void console_apps_changed(struct console *c);

/* ---- passwords on the thread pool ---- */

enum console_pw_kind {
    CONSOLE_PW_LOGIN,  /* check password against the named admin's hash */
    CONSOLE_PW_ADD,    /* hash new_password for a new admin */
    CONSOLE_PW_CHANGE, /* check password against the signed-in admin's, hash new_password */
};

/* What a finished password job tells its handler. */
struct console_pw_result {
    bool ok;          /* LOGIN/CHANGE: the password matched; ADD: hashed */
    bool known;       /* LOGIN: the username names an admin */
    const char *hash; /* ADD/CHANGE: the new password's hash (cleansed after the call) */
    const char *username;
};

/* Queues a password job for req: password and new_password (may be NULL)
 * are copied and cleansed after use; done runs on the loop thread with a
 * fresh console for req (and sess restored) once the slow part is over.
 * Returns 0, or OG_ERR_BUSY when too many run already (the caller
 * answers 503), OG_ERR_INVALID for a password over the limit. */
int console_pw_queue(struct console *c, enum console_pw_kind kind, const char *username,
                     const char *password, size_t pwlen, const char *new_password, size_t newlen,
                     void (*done)(struct console *c, const struct console_pw_result *r));

/* The sign-in throttle (SPEC §4's doubling waits from the global policy):
 * seconds to wait for either key (NULL: not checked), 0 to go on, -1 on a
 * store error; charging one failure to each key in its own savepoint
 * (returns 0 or a store error); and the 429's headers and metric. */
int64_t admin_console_wait(struct server *s, const char *ipkey, const char *userkey, int64_t now);
int admin_console_charge(struct server *s, const char *ipkey, const char *userkey, int64_t now);
void admin_console_refuse_wait(struct console *c, int64_t wait, const char *what);

/* Cleanses the password fields of the parsed form and the raw body. */
void console_form_cleanse(struct console *c);

#endif
