/* Passkey ceremonies, as the pages and the API run them: a registration or
 * a sign-in is begun (32 random bytes kept under an id, single use, bound
 * to a page session or to the id alone, expiring like a code) and
 * finished (the challenge taken, the browser's answer checked with
 * webauthn.c, the credential stored or its counter moved), with the
 * lockout rules and audit rows every factor has. Works inside the
 * caller's transaction like the rest of mfa.h: no clock, no libuv, no
 * HTTP. */
#ifndef OTPGATE_WEBAUTHN_CEREMONY_H
#define OTPGATE_WEBAUTHN_CEREMONY_H

#include "core/webauthn_store.h"

#include <jansson.h>

#define WEBAUTHN_ORIGINS_MAX  17     /* the public URL's and an app's redirect URIs' */
#define WEBAUTHN_TIMEOUT_MAX  600    /* seconds a browser is told to wait, at most */
#define WEBAUTHN_CHALLENGE_ID "wch_" /* prefix of a ceremony's id */
#define WEBAUTHN_BINDING_LEN  32     /* a page session's id hash */

/* The relying party one ceremony runs for: the RP ID, the name shown by
 * authenticators, and the origins whose clientDataJSON is taken (the
 * public URL's; an API call adds its app's). Pointers stay the caller's. */
struct webauthn_party {
    const char *rp_id;
    const char *rp_name;
    const char *origins[WEBAUTHN_ORIGINS_MAX];
    size_t origin_count;
};

/* A ceremony begun: its id, when it ends, and the options for the
 * browser (PublicKeyCredentialCreationOptionsJSON or RequestOptionsJSON;
 * a reference the caller json_decrefs). */
struct webauthn_begun {
    char id[MFA_ID_LEN];
    int64_t expires_at; /* unix ms */
    json_t *options;
};

/* A ceremony finished: the factor, and for a sign-in the amr it earns
 * (gate_amr_passkey: hwk or swk by the credential's BE, user when this
 * answer carried UV, mfa). why names the first check that failed when the
 * answer was refused (WEBAUTHN_OK otherwise). */
struct webauthn_done {
    char factor_id[MFA_ID_LEN];
    char name[WEBAUTHN_NAME_MAX + 1];
    const char *amr; /* static */
    bool uv, be;
    enum webauthn_result why;
};

/* Whether id looks like a ceremony's id (WEBAUTHN_CHALLENGE_ID...), so a
 * caller can tell it from a code challenge's. */
bool webauthn_challenge_id_is(const char *id);

/* Opens a registration for u: creation options with the app's name as
 * rp.name, user_name/display_name (NULL: u's sub) for the authenticator,
 * u's handle (made on first use), the user's passkeys on this RP ID in
 * excludeCredentials (so one authenticator is not registered twice), the
 * policy's userVerification and residentKey "preferred". binding (NULL
 * for the API) ties it to a page session. MFA_LOCKED for a locked user,
 * MFA_NOT_ALLOWED when the policy's factors lack webauthn. */
enum mfa_result webauthn_register_begin(const struct mfa_ctx *c, const struct mfa_user *u,
                                        const struct webauthn_party *rp, const uint8_t *binding,
                                        const char *user_name, const char *display_name,
                                        struct webauthn_begun *out);

/* Finishes registration id for u with the browser's PublicKeyCredential
 * (credential, a JSON object): the challenge is taken (once, whatever
 * follows), the answer verified (an origin of rp, its RP ID, the policy's
 * user verification) and stored as an active factor named name, or when
 * name is blank after an authenticator otpgate knows by its AAGUID, else
 * hint (the browser, "Chrome on Linux") for a platform passkey, else
 * "Security key". MFA_NOT_FOUND (no such open ceremony of u's here: wrong
 * id, user, kind or binding), MFA_DONE (taken before), MFA_EXPIRED,
 * MFA_INVALID with done->why (refused answer; an audit row
 * factor_add_failed), MFA_CONFLICT (that credential is registered
 * already), MFA_NOT_ALLOWED. On MFA_OK f is the new active factor. */
enum mfa_result webauthn_register_finish(const struct mfa_ctx *c, struct mfa_user *u,
                                         const struct webauthn_party *rp, const char *id,
                                         const uint8_t *binding, const json_t *credential,
                                         const char *name, const char *hint, struct mfa_factor *f,
                                         struct webauthn_done *done);

/* Opens a sign-in for u: request options allowing each of u's passkeys on
 * this RP ID (discoverable or not), the policy's userVerification.
 * MFA_LOCKED, MFA_NOT_ALLOWED (the policy's factors lack webauthn),
 * MFA_NOT_FOUND (u has no passkey here). */
enum mfa_result webauthn_signin_begin(const struct mfa_ctx *c, const struct mfa_user *u,
                                      const struct webauthn_party *rp, const uint8_t *binding,
                                      struct webauthn_begun *out);

/* Finishes sign-in id for u: the lockout gate first (MFA_WAIT, MFA_LOCKED
 * with o filled), then the challenge is taken (MFA_NOT_FOUND, MFA_DONE,
 * MFA_EXPIRED as for registration, counting no failure), then the answer
 * must be an assertion by one of u's own passkeys for this app and RP ID,
 * for this challenge and an origin of rp, with UV when the policy
 * requires it, a good signature and a counter that moved (written
 * conditionally: a replay or a racing use of the same assertion fails).
 * A refused answer counts as a failed check like a wrong code
 * (users_fail: waits, then the lock; audit verify_failed "webauthn
 * <why>") and gives MFA_WRONG_CODE (or MFA_LOCKED when it locked) with
 * done->why. MFA_OK records the success (last used factor, failures
 * reset, audit verify_ok) and fills done. */
enum mfa_result webauthn_signin_finish(const struct mfa_ctx *c, struct mfa_user *u,
                                       const struct webauthn_party *rp, const char *id,
                                       const uint8_t *binding, const json_t *credential,
                                       struct webauthn_done *done, struct mfa_outcome *o);

/* The user an open or used ceremony id belongs to within c->app_id (for
 * the API, which names only the id): MFA_NOT_FOUND otherwise. */
enum mfa_result webauthn_challenge_user(const struct mfa_ctx *c, const char *id,
                                        struct mfa_user *u);

/* Deletes ceremonies that ended before now_ms. 0 or a store error. */
int webauthn_challenges_prune(struct store *s, int64_t now_ms);

/* The name otpgate knows an authenticator by from its AAGUID (16 bytes),
 * or NULL. */
const char *webauthn_aaguid_name(const uint8_t aaguid[16]);

/* The AAGUID as it is written, 8-4-4-4-12 lower-case hex, into out
 * (WEBAUTHN_AAGUID_TEXT_LEN bytes). */
#define WEBAUTHN_AAGUID_TEXT_LEN 37
void webauthn_aaguid_format(const uint8_t aaguid[16], char out[WEBAUTHN_AAGUID_TEXT_LEN]);

#endif
