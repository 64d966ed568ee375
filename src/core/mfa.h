/* The second-factor domain of SPEC §4: users as apps name them, their
 * factors, challenges with codes, recovery codes, send limits, the
 * consecutive-failure lockout and the audit trail. Every function works on
 * the store inside a transaction the caller holds (the gateway batches them
 * into group commits) and takes the time from the context: no clock, no
 * libuv, no HTTP here. Plain codes and secrets are never written: codes are
 * kept as keyed hashes, TOTP secrets sealed. */
#ifndef OTPGATE_MFA_H
#define OTPGATE_MFA_H

#include "core/common.h"
#include "core/policy.h"
#include "core/secrets.h"
#include "core/store/store.h"

#define MFA_ID_LEN      32
#define MFA_DEST_LEN    256
#define MFA_SUB_MAX     255
#define TOTP_SECRET_LEN 20

/* Everything one operation needs; filled by the caller per request. */
struct mfa_ctx {
    struct store *store;
    const struct keyring *keys;
    const struct policy *pol; /* app_id's effective policy, as policy_load gives it */
    const char *app_id;
    /* app_id's webhook URL ("" for none) when the caller has read it, else
     * NULL: the audit's events read it from the store. */
    const char *webhook_url;
    const char *app_name;
    const char *issuer; /* shown in authenticator apps */
    int64_t now_ms;
    /* The end user's address and browser, for the per-IP send cap and the
     * audit; NULL when unknown (an API call whose app passed none: the app
     * server's own address never counts as an end user's). */
    const char *client_ip;
    const char *user_agent;
};

enum mfa_result {
    MFA_OK = 0,
    MFA_WRONG_CODE,  /* 422: attempts_left says how many remain */
    MFA_EXPIRED,     /* 410 */
    MFA_NO_ATTEMPTS, /* 410: the code is dead */
    MFA_DONE,        /* 410: the challenge was already passed */
    MFA_WAIT,        /* 429: retry_after seconds */
    MFA_LOCKED,      /* 423: until an admin or a recovery code unlocks */
    MFA_NOT_FOUND,   /* 404 */
    MFA_CONFLICT,    /* 409 */
    MFA_LIMITED,     /* 429: a send limit; retry_after seconds */
    MFA_INVALID,     /* 400/422: malformed input */
    MFA_NOT_ALLOWED, /* 403: the policy does not allow this factor type */
    MFA_COUNTRY,     /* 422: SMS to this country calling code is not allowed */
    MFA_ERROR,       /* 500: store or crypto failure */
};

/* FACTOR_WEBAUTHN is a passkey: no destination and no code; its credential
 * lives in webauthn_credentials (webauthn_store.c). */
enum factor_type { FACTOR_SMS = 0, FACTOR_EMAIL, FACTOR_TOTP, FACTOR_WEBAUTHN };

struct mfa_user {
    int64_t id;
    char sub[MFA_SUB_MAX + 1];
    char preferred[MFA_ID_LEN];
    char last_used[MFA_ID_LEN];
    int64_t failures;
    int64_t retry_at; /* unix ms */
    int64_t last_wait;
    bool locked;
    int64_t locked_at;
    bool enrol_offered; /* the optional-policy offer was shown once */
    bool unsaved;       /* changed in memory; users_record_success writes it */
    /* Added by this transaction, so no factor or send names the user but
     * those it adds itself: the look-ups by user that could only find
     * nothing are skipped (on PostgreSQL each leaves a read lock on an
     * index page, which other transactions' inserts there meet). Cleared
     * when a factor or a send is added; true only in the transaction that
     * added the user. */
    bool no_factors, no_sends;
};

struct mfa_factor {
    char id[MFA_ID_LEN];
    enum factor_type type;
    bool active;
    char destination[MFA_DEST_LEN];                /* E.164 or e-mail; "" for totp */
    int64_t created_at, verified_at, last_used_at; /* unix ms, 0 = never */
    int64_t last_step;
};

struct mfa_challenge {
    char id[MFA_ID_LEN];
    char factor_id[MFA_ID_LEN];
    enum factor_type type;
    char destination[MFA_DEST_LEN];
    char purpose[8];
    int64_t expires_at; /* unix ms */
    int64_t resend_at;  /* unix ms */
    int attempts_left;
    char code[12]; /* the plain code to deliver, only right after create/resend */
};

/* Outcome details for answers: which factor passed, how long to wait. */
struct mfa_outcome {
    char factor_id[MFA_ID_LEN];
    enum factor_type type;
    int attempts_left;
    int64_t retry_after; /* seconds */
    int64_t locked_at;   /* unix ms, for MFA_LOCKED */
    const char *limit;   /* which limit refused: "dest_hour", "sms_prefix_hour", ... */
    bool recovery;       /* passed with a recovery code */
    int recovery_left;
};

const char *factor_type_name(enum factor_type t);
int factor_type_parse(const char *s, enum factor_type *out);
unsigned factor_type_bit(enum factor_type t);
const char *mfa_result_code(enum mfa_result r); /* snake_case error code */

/* users.c */
enum mfa_result users_find(const struct mfa_ctx *c, const char *sub, struct mfa_user *u);
enum mfa_result users_get_or_create(const struct mfa_ctx *c, const char *sub, struct mfa_user *u);
/* The same for calls that add a factor: on PostgreSQL the row is added
 * before it is looked for (users.c says why). */
enum mfa_result users_add_or_get(const struct mfa_ctx *c, const char *sub, struct mfa_user *u);
enum mfa_result users_set_preferred(const struct mfa_ctx *c, struct mfa_user *u,
                                    const char *factor_id);
/* The lockout gate before any check: MFA_OK, MFA_WAIT or MFA_LOCKED. */
enum mfa_result users_gate(const struct mfa_ctx *c, const struct mfa_user *u,
                           struct mfa_outcome *o);
/* The gate before a recovery code (the way out of a lock, SPEC §4): a
 * lock does not stop it, a wait does. MFA_WAIT with o->retry_after while
 * u->retry_at is in the future (locked or not), else MFA_OK. */
enum mfa_result users_gate_recovery(const struct mfa_ctx *c, const struct mfa_user *u,
                                    struct mfa_outcome *o);
/* Counts a failed check: from the (lockout_free + 1)th failure in a row a
 * wait that doubles each time (also once locked), and at lockout_hard the
 * lock. */
void users_record_failure(const struct mfa_ctx *c, struct mfa_user *u, struct mfa_outcome *o);
/* A wrong code: users_record_failure, then the audit row (event, factor_id,
 * detail); MFA_LOCKED when that failure locked the user, else
 * MFA_WRONG_CODE. */
enum mfa_result users_fail(const struct mfa_ctx *c, struct mfa_user *u, struct mfa_outcome *o,
                           const char *event, const char *factor_id, const char *detail);
/* Records that the optional enrolment offer was shown (SPEC §5: once). */
void users_mark_offered(const struct mfa_ctx *c, struct mfa_user *u);
/* Ends every remembered device of sub (devices.h) and, when there were
 * any, writes an audit row "devices_forgotten" with why (e.g. "factor
 * removed"). For the events that must end them: a factor removed, a reset,
 * a lock, a sign-in with a recovery code. */
void users_forget_devices(const struct mfa_ctx *c, const char *sub, const char *why);
/* Counts a success: resets failures, records the last used factor. */
void users_record_success(const struct mfa_ctx *c, struct mfa_user *u, const char *factor_id);

/* factors.c */
/* Adds a pending sms/email factor; the destination must already be
 * normalised. An active factor with the same destination, or another
 * spelling of it (contact_dest_key: case, +tag), gives MFA_CONFLICT; a
 * pending one with the very same destination is reused. */
enum mfa_result factors_add_contact(const struct mfa_ctx *c, struct mfa_user *u,
                                    enum factor_type type, const char *destination,
                                    struct mfa_factor *f);
/* Adds a pending TOTP factor with a fresh 160-bit secret; returns the
 * otpauth URI and the base32 secret (malloc'd, shown once). */
enum mfa_result factors_add_totp(const struct mfa_ctx *c, struct mfa_user *u, struct mfa_factor *f,
                                 char **uri_out, char **secret_b32);
/* The otpauth URI and base32 secret of a still-pending TOTP factor, to show
 * the same enrolment again after a mistyped first code (malloc'd). */
enum mfa_result factors_pending_totp(const struct mfa_ctx *c, const struct mfa_user *u,
                                     const char *id, char **uri_out, char **secret_b32);
enum mfa_result factors_get(const struct mfa_ctx *c, const struct mfa_user *u, const char *id,
                            struct mfa_factor *f);
/* Calls fn for each factor of the user, oldest first. */
enum mfa_result factors_each(const struct mfa_ctx *c, const struct mfa_user *u,
                             void (*fn)(const struct mfa_factor *f, void *arg), void *arg);
int factors_count_active(const struct mfa_ctx *c, const struct mfa_user *u);
/* Removes a factor. The preferred one passes to the oldest remaining
 * active factor; with none left, the recovery codes go too (they exist to
 * stand in for factors). */
enum mfa_result factors_remove(const struct mfa_ctx *c, struct mfa_user *u, const char *id);
/* Verifies a pending TOTP factor's first code and activates it. */
enum mfa_result factors_verify_totp_enrolment(const struct mfa_ctx *c, struct mfa_user *u,
                                              struct mfa_factor *f, const char *code,
                                              struct mfa_outcome *o);
/* Checks a TOTP code against the user's active TOTP factor factor_id, or
 * every one when factor_id is NULL; the matched step is stored so the code
 * never works twice. */
enum mfa_result factors_check_totp(const struct mfa_ctx *c, struct mfa_user *u,
                                   const char *factor_id, const char *code, struct mfa_outcome *o);
void factors_activate(const struct mfa_ctx *c, struct mfa_user *u, struct mfa_factor *f);

/* challenges.c */
/* Opens a challenge on an sms/email factor and makes its first code (in
 * ch->code, for delivery), after the send limits. For a TOTP factor it
 * opens a challenge without a code. */
enum mfa_result challenges_create(const struct mfa_ctx *c, struct mfa_user *u,
                                  const struct mfa_factor *f, const char *purpose,
                                  struct mfa_challenge *ch, struct mfa_outcome *o);
enum mfa_result challenges_get(const struct mfa_ctx *c, const char *id, struct mfa_user *u,
                               struct mfa_challenge *ch);
/* The newest challenge of a factor (its enrolment code), whatever its
 * state, or MFA_NOT_FOUND. */
enum mfa_result challenges_latest(const struct mfa_ctx *c, const char *factor_id,
                                  char id[MFA_ID_LEN]);
/* A new code for the same challenge once the cooldown has passed; earlier
 * codes stay valid until they expire. */
enum mfa_result challenges_resend(const struct mfa_ctx *c, struct mfa_user *u,
                                  struct mfa_challenge *ch, struct mfa_outcome *o);
/* Checks a code; on success the challenge is done (single use) and, for a
 * pending factor, the factor becomes active. */
enum mfa_result challenges_verify(const struct mfa_ctx *c, struct mfa_user *u,
                                  struct mfa_challenge *ch, const char *code,
                                  struct mfa_outcome *o);

/* sendlimits.c */
/* MFA_OK or MFA_LIMITED with o->retry_after, for one message to dest. */
enum mfa_result sendlimits_check(const struct mfa_ctx *c, enum factor_type channel,
                                 const char *dest, const struct mfa_user *u,
                                 struct mfa_outcome *o);
/* The SMS pumping guard's allow-list: true when the policy allows SMS to
 * the number's country calling code (an empty list allows all). */
bool sendlimits_country_allowed(const struct policy *p, const char *e164);
void sendlimits_record(const struct mfa_ctx *c, enum factor_type channel, const char *dest,
                       struct mfa_user *u);
/* Drops send records older than a day and SMS slots older than an hour. */
void sendlimits_prune(struct store *s, int64_t now_ms);

/* recovery_codes.c */
/* Makes a new set of RECOVERY_COUNT codes, voiding the old set; codes[i]
 * get the display form. */
enum mfa_result recovery_codes_new(const struct mfa_ctx *c, struct mfa_user *u, char codes[][20]);
enum mfa_result recovery_codes_consume(const struct mfa_ctx *c, struct mfa_user *u,
                                       const char *code, struct mfa_outcome *o);
int recovery_codes_left(const struct mfa_ctx *c, const struct mfa_user *u);

/* audit.c: who, when, from where, which app; never a code or a secret. */
void audit_log(const struct mfa_ctx *c, const char *sub, const char *event, const char *factor_id,
               const char *detail);
/* The same for a user read already: what the row announces (events.c)
 * takes u's id rather than looking the user up again. */
void audit_log_user(const struct mfa_ctx *c, const struct mfa_user *u, const char *event,
                    const char *factor_id, const char *detail);

#endif
