/* Passkeys in the store: a WebAuthn credential is a factor of type
 * 'webauthn' (so it counts among the user's active factors, can be the
 * preferred one and is removed like any other) with a row of public data
 * in webauthn_credentials, and each user has one random user handle.
 * Works inside the caller's transaction like the rest of mfa.h; no clock,
 * no libuv, no HTTP. Nothing secret is stored: the public key, the
 * credential id and counters. */
#ifndef OTPGATE_WEBAUTHN_STORE_H
#define OTPGATE_WEBAUTHN_STORE_H

#include "core/mfa.h"
#include "core/webauthn.h"

#define WEBAUTHN_NAME_MAX 64 /* bytes of a passkey's name (UTF-8) */

/* A stored passkey with its factor's dates and its user. */
struct webauthn_stored {
    char factor_id[MFA_ID_LEN];
    int64_t user_id;
    char sub[MFA_SUB_MAX + 1];
    char name[WEBAUTHN_NAME_MAX + 1];
    int64_t created_at, last_used_at; /* unix ms; 0 = never */
    struct webauthn_credential cred;
};

/* The user's WebAuthn user handle (user.id in the creation options; the
 * userHandle a discoverable passkey returns). With create, a user without
 * one gets WEBAUTHN_USER_HANDLE_LEN random bytes, stored; without,
 * MFA_NOT_FOUND. out holds WEBAUTHN_USER_HANDLE_LEN bytes. */
enum mfa_result webauthn_user_handle(const struct mfa_ctx *c, const struct mfa_user *u, bool create,
                                     uint8_t out[WEBAUTHN_USER_HANDLE_LEN]);

/* Stores a credential webauthn_registration_verify accepted for rp_id as
 * a new active factor of u, named name (control characters become spaces,
 * cut to WEBAUTHN_NAME_MAX bytes; blank gives "Passkey"). The factor
 * becomes the preferred one when u has none (written by
 * users_record_success, as factors_activate does). MFA_NOT_ALLOWED when
 * the policy's factors lack webauthn; MFA_CONFLICT when the credential id
 * is registered already for rp_id, by anyone. f gets the factor. */
enum mfa_result webauthn_credential_add(const struct mfa_ctx *c, struct mfa_user *u,
                                        const char *rp_id, const struct webauthn_credential *cred,
                                        const char *name, struct mfa_factor *f);

/* Calls fn for each active passkey of u for rp_id, oldest first (for
 * excludeCredentials, allowCredentials and the lists of the account page,
 * the console and `otpgate user show`). */
enum mfa_result webauthn_credential_each(const struct mfa_ctx *c, const struct mfa_user *u,
                                         const char *rp_id,
                                         void (*fn)(const struct webauthn_stored *s, void *arg),
                                         void *arg);

/* The active passkey with credential id for rp_id belonging to a user of
 * c->app_id, into out; MFA_NOT_FOUND otherwise (another app's credential
 * included). */
enum mfa_result webauthn_credential_find(const struct mfa_ctx *c, const char *rp_id,
                                         const uint8_t *id, size_t id_len,
                                         struct webauthn_stored *out);

/* Records a sign-in webauthn_assertion_verify accepted for s: the new
 * counter and BS, and the factor's last use. The counter is written only
 * if it is still s->cred.sign_count, the value the check compared with:
 * when a racing sign-in moved it first, nothing is written and the answer
 * is MFA_CONFLICT (the same assertion cannot pass twice). */
enum mfa_result webauthn_credential_used(const struct mfa_ctx *c, const struct webauthn_stored *s,
                                         const struct webauthn_assertion *a);

/* The name of passkey factor_id into out ("" when there is none). */
enum mfa_result webauthn_credential_name(const struct mfa_ctx *c, const char *factor_id,
                                         char out[WEBAUTHN_NAME_MAX + 1]);

/* Gives u's passkey factor_id a new name, made fit to show as
 * webauthn_credential_add does (blank gives "Passkey"); audited as
 * factor_renamed. MFA_NOT_FOUND when u has no passkey of that id. */
enum mfa_result webauthn_credential_rename(const struct mfa_ctx *c, const struct mfa_user *u,
                                           const char *factor_id, const char *name);

/* Removes u's passkey factor_id through factors_remove (its credential row
 * goes with the factor). MFA_NOT_FOUND when u has no passkey of that id. */
enum mfa_result webauthn_credential_remove(const struct mfa_ctx *c, struct mfa_user *u,
                                           const char *factor_id);

#endif
