/* The admin console's pages (/admin): sign-in, applications, user lookup
 * with unlock and reset, and the delivery log. English only; the same
 * document, stylesheet and CSP rules as the end-user pages (layout.h): no
 * inline script or style, every value escaped, every form a plain POST with
 * the CSRF token, so the console works without JavaScript. */
#ifndef OTPGATE_UI_PAGE_ADMIN_H
#define OTPGATE_UI_PAGE_ADMIN_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* What every console page needs. */
struct ui_admin_page {
    const char *csrf;       /* hidden input "csrf" on every form */
    const char *admin;      /* the signed-in admin; NULL on the sign-in page */
    const char *section;    /* "apps", "users" or "deliveries": the current nav entry */
    const char *notice;     /* a success message (plain text), or NULL */
    const char *error;      /* an error message (plain text), or NULL */
    const char *brand_name; /* NULL: otpgate */
    const char *brand_logo; /* NULL: the built-in logo */
};

/* The sign-in form: POST /admin/login with "username", "password", "csrf".
 * username (may be NULL) is put back into its field after a failure. */
void ui_admin_login(struct buf *out, const struct ui_admin_page *p, const char *username);

struct ui_admin_app {
    const char *id;
    const char *name;
    const char *policy; /* "off", "optional", "mandatory" or "inherit" */
    const char *const *uris;
    size_t uri_count;
};

/* The applications: id, name, redirect URIs and policy; global_mode is what
 * "inherit" means now. */
void ui_admin_apps(struct buf *out, const struct ui_admin_page *p, const struct ui_admin_app *apps,
                   size_t count, const char *global_mode);

struct ui_admin_factor {
    const char *type;      /* "sms", "email", "totp" */
    const char *masked;    /* "" for totp */
    const char *status;    /* "pending", "active" */
    const char *added;     /* "2026-11-24 10:00 UTC" */
    const char *last_used; /* NULL: never */
    bool preferred;
};

/* The user lookup (GET /admin/users?app=ID&sub=SUB) and, when a user was
 * found, their factors and lock state with the unlock (POST
 * /admin/users/unlock) and reset (POST /admin/users/reset, "confirm=1")
 * forms, both carrying "app" and "sub". */
struct ui_admin_user_view {
    const struct ui_admin_app *apps; /* for the picker */
    size_t app_count;
    const char *app_id; /* the lookup's app, or NULL */
    const char *sub;    /* the lookup's user id, or NULL */
    bool found;         /* a user was found (the rest below is set) */
    const char *app_name;
    const struct ui_admin_factor *factors;
    size_t factor_count;
    long long failures;      /* consecutive failures */
    const char *lock_state;  /* "Not locked", "Waiting until …", "Locked since …" */
    bool locked_or_waiting;  /* the unlock button is offered */
    long long recovery_left; /* unused recovery codes */
};
void ui_admin_user(struct buf *out, const struct ui_admin_page *p,
                   const struct ui_admin_user_view *v);

struct ui_admin_delivery {
    const char *time;    /* "2026-11-24 10:00:05 UTC" */
    const char *app;     /* the app's name */
    const char *channel; /* "sms" or "email" */
    const char *masked;  /* the destination, masked */
    const char *state;   /* queued, sending, sent, failed */
    long long attempts;
    const char *provider; /* may be "" */
    const char *answer;   /* the provider's answer with the code blanked; may be "" */
};

/* The delivery log: the newest outbox rows, newest first. */
void ui_admin_deliveries(struct buf *out, const struct ui_admin_page *p,
                         const struct ui_admin_delivery *rows, size_t count);

#endif
