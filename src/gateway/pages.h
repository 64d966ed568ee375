/* Handlers of the end-user pages, listed in the route table of routes.c. */
#ifndef OTPGATE_PAGES_H
#define OTPGATE_PAGES_H

#include "gateway/http/http.h"

/* Opens a page session for the app's user and sends the browser into the
 * flow (challenge, enrolment or account, per policy); the way in for both
 * /start and /authorize. flow_json (may be NULL) stays with the session and
 * tells finish how to answer the app ({"oidc":true,...} for OIDC). */
void pages_begin(struct http_request *req, const char *app_id, const char *sub,
                 const char *purpose, const char *return_to, const char *state,
                 const char *ui_locales, const char *flow_json);

void page_start_link(struct http_request *req);
void page_flow(struct http_request *req);
void page_challenge(struct http_request *req);
void page_challenge_send(struct http_request *req);
void page_challenge_verify(struct http_request *req);
void page_challenge_recovery(struct http_request *req);
void page_challenge_cancel(struct http_request *req);
/* POST /challenge/passkey: a passkey answers the second step. */
void page_challenge_passkey(struct http_request *req);
/* POST /account/rename: a passkey's new name. */
void page_account_rename(struct http_request *req);
void page_account(struct http_request *req);
void page_account_add_form(struct http_request *req);
void page_account_add(struct http_request *req);
void page_account_resend(struct http_request *req);
void page_account_verify(struct http_request *req);
void page_account_continue(struct http_request *req);
void page_account_preferred(struct http_request *req);
void page_account_remove(struct http_request *req);
void page_account_disable(struct http_request *req);
void page_account_recovery(struct http_request *req);
void page_account_recovery_show(struct http_request *req);
void page_account_devices_forget(struct http_request *req);

/* Whether back may follow POST /lang: a fixed set of this origin's page
 * paths with an optional plain query ("/challenge?factor=f_1"). */
bool pages_back_ok(const char *back);
void page_account_done(struct http_request *req);
void page_enrol(struct http_request *req);
void page_enrol_skip(struct http_request *req);
void page_lang(struct http_request *req);
void page_brand_css(struct http_request *req);

struct ui_ctx;
/* Fills ui for a page without a session (the landing page, "not found",
 * the development outbox): the browser's language (the language cookie,
 * then Accept-Language) and the brand; no csrf, so no language switch.
 * locale is the caller's, at least 8 bytes; ui points into it and into
 * static brand buffers, valid until the next call. Reads the store: not
 * while a group commit runs (batch_busy). */
void pages_bare_ctx(struct http_request *req, struct ui_ctx *ui, char *locale);

#endif
