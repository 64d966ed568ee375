/* Handlers of the apps' JSON API under /api/v1/ (SPEC §6), listed in the
 * route table of routes.c. */
#ifndef OTPGATE_API_H
#define OTPGATE_API_H

#include "gateway/http/http.h"

void api_factor_add(struct http_request *req);
void api_factor_list(struct http_request *req);
void api_factor_verify(struct http_request *req);
void api_factor_remove(struct http_request *req);
void api_devices_list(struct http_request *req);
void api_devices_forget(struct http_request *req);
void api_preferred(struct http_request *req);
void api_recovery_new(struct http_request *req);
void api_user_verify(struct http_request *req);
void api_challenge_create(struct http_request *req);
void api_challenge_resend(struct http_request *req);
/* Also a passkey ceremony's (an id from POST /api/v1/challenges on a
 * passkey): {"credential": the PublicKeyCredential's toJSON()}. */
void api_challenge_verify(struct http_request *req);
/* Passkeys for apps that draw their own screens: POST
 * /api/v1/users/{sub}/passkeys/register/begin (creation options) and
 * /finish {challenge_id, credential, name?} (201, the new factor), and GET
 * /api/v1/users/{sub}/passkeys. */
void api_passkey_register_begin(struct http_request *req);
void api_passkey_register_finish(struct http_request *req);
void api_passkeys_list(struct http_request *req);
/* POST /api/v1/results/redeem {"result"}: the otpgate_result of a /start
 * flow, checked (signed with the calling app's secret, issued to it by this
 * otpgate, not expired) and accepted once: 200 with its claims, 409
 * already_redeemed the second time, 422 invalid_result otherwise. */
void api_result_redeem(struct http_request *req);

#endif
