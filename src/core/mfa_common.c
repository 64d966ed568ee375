/* Names shared by the second-factor domain: factor types and the error
 * codes answers carry. */
#include "core/mfa.h"

static const char *const type_names[] = {"sms", "email", "totp", "webauthn"};

const char *factor_type_name(enum factor_type t)
{
    return (unsigned)t < ARRAY_SIZE(type_names) ? type_names[t] : "unknown";
}

int factor_type_parse(const char *s, enum factor_type *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(type_names); i++) {
        if (strcmp(s, type_names[i]) == 0) {
            *out = (enum factor_type)i;
            return OG_OK;
        }
    }
    return OG_ERR_INVALID;
}

unsigned factor_type_bit(enum factor_type t)
{
    switch (t) {
    case FACTOR_SMS: return FACTOR_BIT_SMS;
    case FACTOR_EMAIL: return FACTOR_BIT_EMAIL;
    case FACTOR_TOTP: return FACTOR_BIT_TOTP;
    case FACTOR_WEBAUTHN: return FACTOR_BIT_WEBAUTHN;
    }
    return 0;
}

const char *mfa_result_code(enum mfa_result r)
{
    switch (r) {
    case MFA_OK: return "ok";
    case MFA_WRONG_CODE: return "invalid_code";
    case MFA_EXPIRED: return "expired";
    case MFA_NO_ATTEMPTS: return "no_attempts_left";
    case MFA_DONE: return "already_used";
    case MFA_WAIT: return "too_many_attempts";
    case MFA_LOCKED: return "user_locked";
    case MFA_NOT_FOUND: return "not_found";
    case MFA_CONFLICT: return "conflict";
    case MFA_LIMITED: return "rate_limited";
    case MFA_INVALID: return "invalid_request";
    case MFA_NOT_ALLOWED: return "factor_not_allowed";
    case MFA_COUNTRY: return "country_not_allowed";
    case MFA_ERROR: return "internal_error";
    }
    return "internal_error";
}
