/* Handlers of the admin console at /admin, listed in routes.c: sign-in
 * (scrypt on the thread pool, never on the loop) and sign-out
 * (admin_console.c); the overview, delivery log, branding, admin accounts
 * and the admin's own password (admin_ops.c); applications and the global
 * policy (admin_apps.c); users (admin_users.c). Every POST carries the
 * session's CSRF token, every change joins the group commit and is
 * audited with the admin's name. */
#ifndef OTPGATE_ADMIN_CONSOLE_H
#define OTPGATE_ADMIN_CONSOLE_H

#include "gateway/http/http.h"

struct server;

/* admin_console.c */
void admin_console_login_form(struct http_request *req);
void admin_console_login(struct http_request *req);
void admin_console_logout(struct http_request *req);

/* admin_ops.c */
void admin_console_overview(struct http_request *req);
void admin_console_deliveries(struct http_request *req);
void admin_console_delivery(struct http_request *req);
void admin_console_brand(struct http_request *req);
void admin_console_brand_save(struct http_request *req);
void admin_console_admins(struct http_request *req);
void admin_console_admin_add(struct http_request *req);
void admin_console_admin_remove_form(struct http_request *req);
void admin_console_admin_remove(struct http_request *req);
void admin_console_account(struct http_request *req);
void admin_console_password(struct http_request *req);

/* admin_apps.c */
void admin_console_apps(struct http_request *req);
void admin_console_app_new_form(struct http_request *req);
void admin_console_app_new(struct http_request *req);
void admin_console_app(struct http_request *req);
void admin_console_app_save(struct http_request *req);
void admin_console_app_policy(struct http_request *req);
void admin_console_app_secret(struct http_request *req);
void admin_console_app_rotate_form(struct http_request *req);
void admin_console_app_rotate(struct http_request *req);
void admin_console_app_remove_form(struct http_request *req);
void admin_console_app_remove(struct http_request *req);
void admin_console_policy(struct http_request *req);
void admin_console_policy_save(struct http_request *req);

/* admin_users.c */
void admin_console_users(struct http_request *req);
void admin_console_user(struct http_request *req);
void admin_console_unlock(struct http_request *req);
void admin_console_app_webhook(struct http_request *req);
void admin_console_app_webhook_secret(struct http_request *req);
void admin_console_forget_devices(struct http_request *req);
void admin_console_reset_form(struct http_request *req);
void admin_console_reset(struct http_request *req);
void admin_console_factor_form(struct http_request *req);
void admin_console_factor_remove(struct http_request *req);

/* Forgets the requests of password checks still on the thread pool: the
 * server is about to drop their connections (forced shutdown). Their
 * checks end quietly, answering nobody. */
void admin_console_detach(struct server *s);

#endif
