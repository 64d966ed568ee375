/* Handlers of the end-user pages, listed in the route table of routes.c. */
#ifndef OTPGATE_PAGES_H
#define OTPGATE_PAGES_H

#include "gateway/http.h"

void page_start_link(struct http_request *req);
void page_flow(struct http_request *req);
void page_challenge(struct http_request *req);
void page_challenge_send(struct http_request *req);
void page_challenge_verify(struct http_request *req);
void page_challenge_recovery(struct http_request *req);
void page_challenge_cancel(struct http_request *req);
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
void page_account_done(struct http_request *req);
void page_enrol(struct http_request *req);
void page_enrol_skip(struct http_request *req);
void page_lang(struct http_request *req);
void page_brand_css(struct http_request *req);

#endif
