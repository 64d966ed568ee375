/* The admin console's pages (/admin): sign-in, the overview, applications
 * with their policy, the global policy, users, the delivery log, branding
 * and admin accounts. English only; the same document, stylesheet and CSP
 * rules as the end-user pages (layout.h): no inline script or style, every
 * value escaped, every form a plain POST with the CSRF token (the branding
 * form multipart/form-data), so the console works without JavaScript.
 * Tables become stacked cards below 640 px (admin.css). */
#ifndef OTPGATE_UI_PAGE_ADMIN_H
#define OTPGATE_UI_PAGE_ADMIN_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* What every console page needs. */
struct ui_admin_page {
    const char *csrf;       /* hidden input "csrf" on every form */
    const char *admin;      /* the signed-in admin; NULL on the sign-in page */
    const char *section;    /* the current nav entry: "overview", "apps", "users",
                               "deliveries", "policy", "brand", "admins", "account" */
    const char *notice;     /* a success message (plain text), or NULL */
    const char *error;      /* an error message (plain text), or NULL */
    const char *brand_name; /* NULL: otpgate */
    const char *brand_logo; /* NULL: the built-in logo */
};

/* The sign-in form: POST /admin/login with "username", "password", "csrf".
 * username (may be NULL) is put back into its field after a failure. */
void ui_admin_login(struct buf *out, const struct ui_admin_page *p, const char *username);

/* A message page with a heading, a paragraph and a link onwards (href,
 * label); for "not found" and the like. */
void ui_admin_message(struct buf *out, const struct ui_admin_page *p, const char *title,
                      const char *text, const char *href, const char *label);

/* ---- overview ---- */

struct ui_admin_app_counts {
    const char *id, *name;
    long long users, with_factor, sms, email, totp, locked, waiting;
};

struct ui_admin_overview {
    const struct ui_admin_app_counts *apps;
    size_t app_count;
    /* messages of the last 24 hours, [0] SMS, [1] e-mail */
    long long sent[2], failed[2], pending[2], retried[2];
    const char *global_mode;
};

/* GET /admin: users with a second factor per app and per factor type,
 * locked users, and the last 24 hours' messages, with bars drawn as inline
 * SVG (aria-hidden; the numbers are text beside them). */
void ui_admin_overview(struct buf *out, const struct ui_admin_page *p,
                       const struct ui_admin_overview *v);

/* ---- applications ---- */

struct ui_admin_app {
    const char *id;
    const char *name;
    const char *policy; /* "off", "optional", "mandatory" or "inherit" */
    const char *const *uris;
    size_t uri_count;
    long long users; /* -1 when not counted */
};

/* GET /admin/apps: id, name, redirect URIs, policy, users, each app's name a
 * link to its page; "New application". global_mode is what "inherit" means
 * now. */
void ui_admin_apps(struct buf *out, const struct ui_admin_page *p, const struct ui_admin_app *apps,
                   size_t count, const char *global_mode);

/* GET /admin/apps/new (POST /admin/apps/new: "name", "redirect_uris" one
 * per line, "policy"); the values are put back after a refusal. */
struct ui_admin_app_form {
    const char *name;
    const char *uris; /* one per line */
    const char *policy;
};
void ui_admin_app_new(struct buf *out, const struct ui_admin_page *p,
                      const struct ui_admin_app_form *f);

/* One policy key in the policy form. */
struct ui_admin_policy_key {
    const char *key, *value, *source, *def, *allowed, *help;
    const char *const *choices; /* NULL-terminated, or NULL for a text field */
    const char *own;            /* this scope's own stored value, or NULL when inherited */
    const char *entered;        /* what was typed after a refusal, or NULL */
    bool invalid;               /* this key's value was refused */
};

struct ui_admin_policy_view {
    bool app_scope; /* an app's policy (reset word "inherit") or the global one ("default") */
    const char *action;
    const struct ui_admin_policy_key *keys;
    size_t count;
};

/* The app's page, GET /admin/apps/{id}: details form (POST
 * /admin/apps/{id}: "name", "redirect_uris"), the policy form (POST
 * /admin/apps/{id}/policy), user counts, and links to rotate the secret and
 * remove the app (each through a confirmation page). */
struct ui_admin_app_view {
    const struct ui_admin_app *app;
    const struct ui_admin_app_form *form; /* the details as typed after a refusal, or NULL */
    const char *created;
    long long users, with_factor, locked;
    const struct ui_admin_policy_view *policy;
    const char *webhook_url; /* "" when none: the webhook form (POST /admin/apps/{id}/webhook,
                                "webhook_url"; "rotate=1" for a new secret) */
};
void ui_admin_app(struct buf *out, const struct ui_admin_page *p,
                  const struct ui_admin_app_view *v);

/* GET /admin/policy: the global policy form (POST /admin/policy). */
void ui_admin_policy(struct buf *out, const struct ui_admin_page *p,
                     const struct ui_admin_policy_view *v, const char *const *app_names,
                     size_t app_count);

/* The webhook signing secret shown once (GET /admin/apps/{id}/webhook-secret);
 * secret NULL: it was shown already. */
void ui_admin_webhook_secret(struct buf *out, const struct ui_admin_page *p,
                             const struct ui_admin_app *app, const char *secret);

/* The client secret shown once (GET /admin/apps/{id}/secret). secret NULL:
 * it was shown already. */
void ui_admin_app_secret(struct buf *out, const struct ui_admin_page *p,
                         const struct ui_admin_app *app, const char *secret, bool is_new);

/* A confirmation page: a heading, what happens (lines, each a paragraph or,
 * with list, list items), and a POST form to action with the hidden fields
 * (name, value pairs), a danger button and a Cancel link to cancel_href. */
struct ui_admin_confirm {
    const char *title;
    const char *lead;
    const char *const *lines;
    size_t line_count;
    const char *action;
    const char *const *hidden; /* name, value, name, value ... */
    size_t hidden_count;       /* pairs */
    const char *button;
    const char *cancel_href;
};
void ui_admin_confirm(struct buf *out, const struct ui_admin_page *p,
                      const struct ui_admin_confirm *v);

/* ---- users ---- */

struct ui_admin_user_row {
    const char *app_id, *app_name, *sub;
    const char *factors; /* "email,sms" */
    long long recovery_left, failures;
    const char *state; /* "locked", "waiting" or NULL */
    const char *created;
    const char *href; /* the user's page */
};

/* GET /admin/users: the search form (GET: "app", "q" sub prefix, "state",
 * "has") and the page of users, with Previous/Next links. */
struct ui_admin_users_view {
    const struct ui_admin_app *apps; /* for the picker */
    size_t app_count;
    const char *app_id, *q, *state, *has; /* the form's values ("" for any) */
    const struct ui_admin_user_row *rows;
    size_t count;
    const char *prev_href, *next_href; /* NULL when there is no such page */
    bool filtered;                     /* any filter set (for the empty message) */
};
void ui_admin_users(struct buf *out, const struct ui_admin_page *p,
                    const struct ui_admin_users_view *v);

struct ui_admin_factor {
    const char *id;
    const char *type;      /* "sms", "email", "totp" */
    const char *masked;    /* "" for totp */
    const char *status;    /* "pending", "active" */
    const char *added;     /* "2026-11-24 10:00 UTC" */
    const char *last_used; /* NULL: never */
    bool preferred;
    const char *remove_href; /* the removal's confirmation page */
    const char *detail;      /* a passkey's AAGUID, signature counter, kind; or NULL */
};

/* A remembered device on the user's page. */
struct ui_admin_device {
    const char *summary, *created, *last_seen, *expires, *ip, *scope;
};

struct ui_admin_event {
    const char *time, *event, *what, *app, *ip;
    const char *who;    /* the admin who did it, or "" */
    const char *detail; /* the rest of the detail, "key: value, ..." */
};

/* The user's page, GET /admin/user?app=ID&sub=SUB: the lock banner, facts,
 * factors with Remove links, the remembered devices' place, recent
 * history, and the actions: Unlock (POST /admin/users/unlock, "app",
 * "sub"), Reset (a link to its confirmation page). */
struct ui_admin_user_view {
    const char *app_id, *app_name, *sub;
    const char *created;
    const struct ui_admin_factor *factors;
    size_t factor_count;
    long long failures;                /* consecutive failures */
    const char *lock_state;            /* "Not locked", "Waiting until …", "Locked since …" */
    bool locked, waiting;              /* the banner */
    long long recovery_left;           /* unused recovery codes */
    const char *preferred, *last_used; /* factor labels, or NULL */
    const struct ui_admin_event *events;
    size_t event_count;
    int history_scan; /* how many audit rows the history looked through */
    const char *reset_href;
    const char *users_href; /* back to the list */
    const struct ui_admin_device *devices; /* with "Forget all" (POST
                                              /admin/users/forget-devices, "app", "sub") */
    size_t device_count;
};
void ui_admin_user(struct buf *out, const struct ui_admin_page *p,
                   const struct ui_admin_user_view *v);

/* ---- delivery log ---- */

struct ui_admin_delivery {
    const char *time;    /* "2026-11-24 10:00:05 UTC" */
    const char *app;     /* the app's name */
    const char *channel; /* "sms" or "email" */
    const char *masked;  /* the destination, masked */
    const char *state;   /* queued, sending, sent, failed */
    long long attempts;
    const char *provider; /* may be "" */
    const char *answer;   /* the provider's answer with the code blanked; may be "" */
    const char *href;     /* the row's own page */
};

/* GET /admin/deliveries: the filter form (GET: "channel", "state", "app")
 * and the newest matching outbox rows, each a link to its page, with a
 * link to older ones. */
struct ui_admin_deliveries_view {
    const struct ui_admin_app *apps;
    size_t app_count;
    const char *channel, *state, *app_id; /* "" for any */
    const struct ui_admin_delivery *rows;
    size_t count;
    const char *newer_href, *older_href;
};
void ui_admin_deliveries(struct buf *out, const struct ui_admin_page *p,
                         const struct ui_admin_deliveries_view *v);

/* GET /admin/deliveries/{id}: one message's facts, the provider's request
 * (as the current settings make it) and its answer, codes blanked. */
struct ui_admin_delivery_view {
    const struct ui_admin_delivery *d;
    const char *id, *msg_id, *locale, *provider_id, *sent, *next_try, *fallback_href;
    const char *request;      /* NULL: none to show */
    const char *request_note; /* what the request is (rebuilt, development sink...) */
    const char *answer;       /* the whole stored answer */
};
void ui_admin_delivery(struct buf *out, const struct ui_admin_page *p,
                       const struct ui_admin_delivery_view *v);

/* ---- branding, admins, own password ---- */

/* GET /admin/brand: one multipart/form-data form (POST /admin/brand:
 * "name", "accent", "support", file "logo", "logo_reset"), with the
 * current logo shown. */
struct ui_admin_brand_view {
    const char *name, *accent, *support, *logo; /* "" when the default applies */
    bool uploaded;                              /* logo is an uploaded file */
    const char *invalid;                        /* the key whose value was refused */
    unsigned long upload_max_kib;               /* what this form may carry */
};
void ui_admin_brand(struct buf *out, const struct ui_admin_page *p,
                    const struct ui_admin_brand_view *v);

struct ui_admin_account {
    const char *username, *created, *last_login, *password_changed;
    long long sessions;
    bool self;
    const char *remove_href; /* NULL: cannot be removed (self, or the last one) */
};

/* GET /admin/admins: the accounts, the add form (POST /admin/admins:
 * "username", "password", "password2") and the console's recent audited
 * actions. */
struct ui_admin_admins_view {
    const struct ui_admin_account *accounts;
    size_t count;
    const char *username; /* put back after a refusal */
    const char *invalid;  /* "username" or "password" */
    const struct ui_admin_event *events;
    size_t event_count;
};
void ui_admin_admins(struct buf *out, const struct ui_admin_page *p,
                     const struct ui_admin_admins_view *v);

/* GET /admin/account: the signed-in admin's own password (POST
 * /admin/account: "current", "password", "password2"). invalid names the
 * field to mark ("current" or "password"), or NULL. */
void ui_admin_account(struct buf *out, const struct ui_admin_page *p, const char *invalid);

#endif
