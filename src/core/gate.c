/* The gate decision of SPEC §5 (see gate.h): one table of rules over the
 * policy, the user's factors and the flow's state. Pure functions: the
 * unit tests walk every combination of their inputs. */
#include "core/gate.h"

#include <string.h>

const char *gate_amr(enum gate_method m)
{
    switch (m) {
    case GATE_METHOD_SMS:
        return "[\"otp\",\"sms\",\"mfa\"]";
    case GATE_METHOD_EMAIL:
        return "[\"otp\",\"mail\",\"mfa\"]";
    case GATE_METHOD_TOTP:
    case GATE_METHOD_RECOVERY:
        return "[\"otp\",\"mfa\"]";
    case GATE_METHOD_NONE:
        break;
    }
    return "[]";
}

const char *gate_amr_passkey(bool synced, bool user_verified)
{
    if (synced)
        return user_verified ? "[\"swk\",\"user\",\"mfa\"]" : "[\"swk\",\"mfa\"]";
    return user_verified ? "[\"hwk\",\"user\",\"mfa\"]" : "[\"hwk\",\"mfa\"]";
}

const char *gate_verdict_name(enum gate_verdict v)
{
    switch (v) {
    case GATE_CONTINUE:
        return "continue";
    case GATE_CHALLENGE:
        return "challenge";
    case GATE_ENROL:
        return "enrol";
    case GATE_OFFER:
        return "offer";
    case GATE_REFUSE:
        return "refuse";
    }
    return "refuse";
}

/* Whether a step passed at at_ms is fresh enough for the app's max_age. */
static bool fresh_enough(int64_t at_ms, int64_t now_ms, bool given, int64_t max_age_s)
{
    return !given || (max_age_s >= 0 && now_ms - at_ms <= max_age_s * 1000);
}

bool gate_reuse_prior(enum gate_entry entry, int64_t prior_passed_at, int64_t now_ms,
                      int64_t stepup_window_ms, bool max_age_given, int64_t max_age_s,
                      bool force_step)
{
    return entry == GATE_ENTRY_MANAGE && !force_step && prior_passed_at > 0 &&
           prior_passed_at <= now_ms && now_ms - prior_passed_at <= stepup_window_ms &&
           fresh_enough(prior_passed_at, now_ms, max_age_given, max_age_s);
}

static void verdict(struct gate_decision *out, enum gate_verdict v, const char *reason)
{
    out->verdict = v;
    out->reason = reason;
}

/* The account page: a user with a factor must have passed the second step
 * in this flow; a change needs it fresh. */
static void decide_account(const struct gate_input *in, struct gate_decision *out)
{
    if (in->active_factors <= 0) {
        verdict(out, GATE_CONTINUE, "no_factor");
        return;
    }
    if (in->passed_at <= 0) {
        if (in->locked)
            verdict(out, in->recovery_usable ? GATE_CHALLENGE : GATE_REFUSE, "locked");
        else
            verdict(out, GATE_CHALLENGE, "needs_step");
        return;
    }
    /* Where only a passkey passes, a code passed in this flow opens nothing
     * for a user who has one: else a relayed code could add the relayer's
     * passkey, and that passkey would then pass for phr. */
    if (in->phr_required && in->phr_factors > 0 && !in->passed_phr) {
        out->phr = true;
        verdict(out, GATE_CHALLENGE, "phr_needed");
        return;
    }
    if (in->action == GATE_CHANGE_ACCOUNT && (in->stepup_at <= 0 || in->stepup_at > in->now_ms ||
                                              in->now_ms - in->stepup_at > in->stepup_window_ms)) {
        out->stale = true;
        verdict(out, GATE_CHALLENGE, "stepup_stale");
        return;
    }
    verdict(out, GATE_CONTINUE, "passed");
}

/* Back to the app (or "Skip for now", which asks for the same). */
/* Only a passkey will do (acr_values=phr or require_phishing_resistant):
 * whatever the mode, a passkey step in this flow, else one asked for or
 * added. A remembered device never stands for it. */
static void decide_phr(const struct gate_input *in, struct gate_decision *out)
{
    bool fresh = in->passed_at > 0 &&
                 fresh_enough(in->passed_at, in->now_ms, in->max_age_given, in->max_age_s);
    if (fresh && in->passed_phr) {
        out->mfa = true;
        out->acr = GATE_ACR_PHR;
        out->amr =
            in->passed_amr && in->passed_amr[0] ? in->passed_amr : gate_amr_passkey(false, false);
        out->auth_time_s = in->passed_at / 1000;
        verdict(out, GATE_CONTINUE, "passed_phr");
        return;
    }
    if (in->locked && in->active_factors > 0) {
        verdict(out, in->recovery_usable ? GATE_CHALLENGE : GATE_REFUSE, "locked");
        return;
    }
    out->phr = true;
    if (in->phr_factors > 0) {
        verdict(out, GATE_CHALLENGE, "phr_needed");
        return;
    }
    verdict(out, in->can_enrol_phr ? GATE_ENROL : GATE_REFUSE,
            in->can_enrol_phr ? "phr_enrol" : "cannot_enrol_phr");
}

static void decide_return(const struct gate_input *in, struct gate_decision *out)
{
    if (in->phr_required) {
        decide_phr(in, out);
        return;
    }
    /* Under mandatory a user without a factor never returns without one,
     * even after a step passed earlier in this flow (then removed). */
    if (in->mode == POLICY_MANDATORY && in->active_factors <= 0) {
        verdict(out, in->can_enrol ? GATE_ENROL : GATE_REFUSE,
                in->can_enrol ? "must_enrol" : "cannot_enrol");
        return;
    }
    if (in->passed_at > 0 &&
        fresh_enough(in->passed_at, in->now_ms, in->max_age_given, in->max_age_s)) {
        out->mfa = true;
        out->acr = in->passed_phr ? GATE_ACR_PHR : GATE_ACR_MFA;
        out->amr =
            in->passed_amr && in->passed_amr[0] ? in->passed_amr : gate_amr(GATE_METHOD_TOTP);
        out->auth_time_s = in->passed_at / 1000;
        verdict(out, GATE_CONTINUE, "passed");
        return;
    }
    if (in->mode == POLICY_OFF) {
        verdict(out, GATE_CONTINUE, "policy_off");
        return;
    }
    /* A user with an active factor never skips. Locked, only a recovery
     * code (or an admin) opens the way. */
    if (in->active_factors > 0) {
        if (in->locked) {
            verdict(out, in->recovery_usable ? GATE_CHALLENGE : GATE_REFUSE, "locked");
            return;
        }
        /* A remembered device the policy allows stands for the step, with
         * the time of the step that made it; never when a fresh one is
         * asked for, nor past the app's max_age. */
        if (in->remembered_at > 0 && in->remembered_at <= in->now_ms && !in->force_step &&
            in->entry == GATE_ENTRY_LOGIN &&
            fresh_enough(in->remembered_at, in->now_ms, in->max_age_given, in->max_age_s)) {
            out->remembered = true;
            out->acr = GATE_ACR_REMEMBERED;
            out->amr = GATE_AMR_REMEMBERED;
            out->auth_time_s = in->remembered_at / 1000;
            verdict(out, GATE_CONTINUE, "remembered");
            return;
        }
        verdict(out, GATE_CHALLENGE, in->passed_at > 0 ? "max_age" : "needs_step");
        return;
    }
    /* Optional, no active factor: the offer once, else through. */
    if (in->action == GATE_DECLINE || in->declined) {
        verdict(out, GATE_CONTINUE, "declined");
        return;
    }
    if (in->offered_before) {
        verdict(out, GATE_CONTINUE, "offered_before");
        return;
    }
    if (in->entry == GATE_ENTRY_MANAGE) {
        verdict(out, GATE_CONTINUE, "manage_no_factor");
        return;
    }
    if (!in->can_enrol) {
        verdict(out, GATE_CONTINUE, "nothing_to_offer");
        return;
    }
    verdict(out, GATE_OFFER, "offer");
}

void gate_decide(const struct gate_input *in, struct gate_decision *out)
{
    memset(out, 0, sizeof(*out));
    out->acr = GATE_ACR_NONE;
    out->amr = gate_amr(GATE_METHOD_NONE);
    out->auth_time_s = in->now_ms / 1000;
    switch (in->action) {
    case GATE_VIEW_ACCOUNT:
    case GATE_CHANGE_ACCOUNT:
        decide_account(in, out);
        return;
    case GATE_RETURN:
    case GATE_DECLINE:
        decide_return(in, out);
        return;
    }
    verdict(out, GATE_REFUSE, "unknown_action");
}
