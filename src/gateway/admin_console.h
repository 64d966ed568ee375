/* Handlers of the admin console at /admin, listed in routes.c: sign-in
 * (scrypt on the thread pool, never on the loop), sign-out, applications,
 * user lookup with unlock and reset, and the delivery log. */
#ifndef OTPGATE_ADMIN_CONSOLE_H
#define OTPGATE_ADMIN_CONSOLE_H

#include "gateway/http.h"

struct server;

void admin_console_home(struct http_request *req);
void admin_console_login_form(struct http_request *req);
void admin_console_login(struct http_request *req);
void admin_console_logout(struct http_request *req);
void admin_console_users(struct http_request *req);
void admin_console_unlock(struct http_request *req);
void admin_console_reset(struct http_request *req);
void admin_console_deliveries(struct http_request *req);

/* Forgets the requests of sign-ins whose password check is still on the
 * thread pool: the server is about to drop their connections (forced
 * shutdown). Their checks end quietly, answering nobody. */
void admin_console_detach(struct server *s);

#endif
