/* The one gate decision of SPEC §5: may this user go back to the app now,
 * and with which acr/amr/auth_time, or must they pass a second step, enrol
 * first, see the enrolment offer, or be refused? Every way back to an app
 * (OIDC, /start, the account page's "Back", skip, step-up return) and every
 * way into the account page asks gate_decide, and nothing else decides.
 * Pure: no store, no clock, no HTTP; the caller gathers the facts. */
#ifndef OTPGATE_GATE_H
#define OTPGATE_GATE_H

#include "core/common.h"
#include "core/policy.h"

#define GATE_ACR_MFA        "urn:otpgate:acr:mfa"
#define GATE_ACR_NONE       "urn:otpgate:acr:none"
#define GATE_ACR_REMEMBERED "urn:otpgate:acr:remembered"
#define GATE_ACR_PHR        "phr" /* OpenID EAP ACR: phishing-resistant (a passkey) */
#define GATE_AMR_REMEMBERED "[\"remembered\"]"

/* How the flow began: a sign-in, or the app's "manage two-step
 * verification" (prompt=manage, purpose=manage). */
enum gate_entry { GATE_ENTRY_LOGIN, GATE_ENTRY_MANAGE };

/* What the user (or the page) asks for. */
enum gate_action {
    GATE_RETURN,         /* back to the app with a success (a code, a result) */
    GATE_DECLINE,        /* "Skip for now": decline the optional enrolment */
    GATE_VIEW_ACCOUNT,   /* open the account page */
    GATE_CHANGE_ACCOUNT, /* change factors or recovery codes (step-up) */
};

enum gate_verdict {
    GATE_CONTINUE,  /* go ahead; for GATE_RETURN/DECLINE with acr, amr, auth_time */
    GATE_CHALLENGE, /* ask for the second step first (stale: a fresh one) */
    GATE_ENROL,     /* bind a factor first: the policy is mandatory */
    GATE_OFFER,     /* show the optional enrolment offer (with "Skip for now") */
    GATE_REFUSE,    /* no way forward on these pages: the user cannot enrol, or is
                       locked with no recovery code to unlock with */
};

/* The second-step methods, for amr (RFC 8176). */
enum gate_method {
    GATE_METHOD_NONE = 0,
    GATE_METHOD_SMS,
    GATE_METHOD_EMAIL,
    GATE_METHOD_TOTP,
    GATE_METHOD_RECOVERY,
};

/* The facts of one decision. Times are unix milliseconds; 0 means never. */
struct gate_input {
    enum policy_mode mode; /* the app's effective mode (inherit already resolved) */
    enum gate_entry entry;
    enum gate_action action;
    int active_factors;     /* verified factors; pending ones do not count */
    bool can_enrol;         /* some factor type is allowed by the policy and deliverable */
    bool locked;            /* hard-locked after too many failures */
    bool recovery_usable;   /* the policy offers recovery codes and the user has some left */
    bool offered_before;    /* the optional offer was shown in an earlier flow (SPEC: once) */
    bool declined;          /* "Skip for now" was chosen in this flow */
    int64_t passed_at;      /* second step passed in this flow */
    int64_t stepup_at;      /* the last fresh second step in this flow */
    const char *passed_amr; /* JSON array text of that step (gate_amr), or NULL */
    int64_t remembered_at;  /* this browser is a remembered device of the user that the
                               policy allows: when the second step that made it passed */
    bool max_age_given;     /* the app asked for freshness (OIDC max_age) ... */
    int64_t max_age_s;      /* ... then a step older than this many seconds does not
                               count (0: only a step in this flow) */
    bool force_step;        /* a second step in this flow is required (prompt=login):
                               remembered devices do not count */
    bool phr_required;      /* only a passkey passes (acr_values=phr, or the policy's
                               require_phishing_resistant) */
    bool passed_phr;        /* the step passed in this flow was a passkey */
    int phr_factors;        /* the user's active passkeys */
    bool can_enrol_phr;     /* the policy allows passkeys and this origin can use them */
    int64_t now_ms;
    int64_t stepup_window_ms; /* how fresh a step must be for changes */
};

struct gate_decision {
    enum gate_verdict verdict;
    bool stale;          /* GATE_CHALLENGE: a step was passed but is too old (step-up) */
    bool mfa;            /* a second step in this flow stands behind this success */
    bool remembered;     /* let through as a remembered device */
    bool phr;            /* CHALLENGE/ENROL: only a passkey will do */
    const char *acr;     /* GATE_ACR_MFA or GATE_ACR_NONE; on CONTINUE of RETURN/DECLINE */
    const char *amr;     /* JSON array text ("[]" without a second step) */
    int64_t auth_time_s; /* when the second step passed (or now without one), unix s */
    const char *reason;  /* a short word for logs and tests: "passed", "policy_off", ... */
};

/* Decides in->action for the facts in *in into *out (always filled; the
 * strings are static or in->passed_amr). Never lets a user with an active
 * factor through without a second step in this flow (unless the mode is
 * off, or a remembered device the policy allows stands for it, and no
 * fresh step is forced), never lets a user without one through under
 * mandatory, and lets a user without one decline only under optional. */
void gate_decide(const struct gate_input *in, struct gate_decision *out);

/* Whether a second step passed at prior_passed_at in an earlier flow of
 * the same browser, app and user stands for a new flow that begins at
 * now_ms: only for the manage entry ("Manage two-step verification" right
 * after a sign-in), only inside the step-up window and the app's max_age
 * (when given), never when force_step. A sign-in always asks again. */
bool gate_reuse_prior(enum gate_entry entry, int64_t prior_passed_at, int64_t now_ms,
                      int64_t stepup_window_ms, bool max_age_given, int64_t max_age_s,
                      bool force_step);

/* The amr array (JSON text, static) of a method: ["otp","sms","mfa"],
 * ["otp","mail","mfa"], ["otp","mfa"] (authenticator app, recovery code);
 * "[]" for GATE_METHOD_NONE. */
const char *gate_amr(enum gate_method m);

/* The amr array (JSON text, static) of a passkey: "hwk" (device-bound,
 * BE=0) or "swk" (synced, BE=1), "user" when it verified its user, and
 * "mfa". */
const char *gate_amr_passkey(bool synced, bool user_verified);

/* A short name of a verdict ("continue", "challenge", ...), for logs. */
const char *gate_verdict_name(enum gate_verdict v);

#endif
