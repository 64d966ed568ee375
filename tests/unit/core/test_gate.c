/* Unit tests of src/core/gate.c, the one decision of SPEC §5: explicit rows
 * for each rule, then every combination of policy (off, optional,
 * mandatory, and an app that inherits each of them through the real policy
 * store) x active factors (none, one, several; pending-only counted through
 * the real factor store) x flow state x entry x action, checked against the
 * gate invariant written out independently of gate.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gate.h"
#include "core/log.h"
#include "core/secrets.h"
#include "core/mfa.h"
#include "core/policy.h"
#include "core/store/store.h"

#include "testutil.h"

#define NOW    (1700000000000LL)
#define WINDOW (5LL * 60 * 1000)

static struct gate_input base(enum policy_mode mode, enum gate_action action, int active)
{
    struct gate_input in = {
        .mode = mode,
        .entry = GATE_ENTRY_LOGIN,
        .action = action,
        .active_factors = active,
        .can_enrol = true,
        .recovery_usable = true,
        .now_ms = NOW,
        .stepup_window_ms = WINDOW,
    };
    return in;
}

static struct gate_decision decide(const struct gate_input *in)
{
    struct gate_decision d;
    gate_decide(in, &d);
    return d;
}

/* ---- explicit rows ------------------------------------------------------ */

static void test_user_with_factor_never_skips(void **state)
{
    (void)state;
    enum policy_mode modes[] = {POLICY_OPTIONAL, POLICY_MANDATORY};
    for (size_t i = 0; i < 2; i++) {
        for (int active = 1; active <= 3; active += 2) {
            struct gate_input in = base(modes[i], GATE_DECLINE, active);
            assert_int_equal(decide(&in).verdict, GATE_CHALLENGE);
            in.action = GATE_RETURN;
            assert_int_equal(decide(&in).verdict, GATE_CHALLENGE);
            /* an offer seen before, or a "declined" flag, changes nothing */
            in.offered_before = true;
            in.declined = true;
            assert_int_equal(decide(&in).verdict, GATE_CHALLENGE);
            in.entry = GATE_ENTRY_MANAGE;
            assert_int_equal(decide(&in).verdict, GATE_CHALLENGE);
        }
    }
}

static void test_mandatory_without_factor_must_enrol(void **state)
{
    (void)state;
    struct gate_input in = base(POLICY_MANDATORY, GATE_RETURN, 0);
    struct gate_decision d = decide(&in);
    assert_int_equal(d.verdict, GATE_ENROL);
    in.action = GATE_DECLINE;
    assert_int_equal(decide(&in).verdict, GATE_ENROL);
    in.declined = true;
    in.offered_before = true;
    in.entry = GATE_ENTRY_MANAGE;
    assert_int_equal(decide(&in).verdict, GATE_ENROL);
    /* a step passed earlier in this flow, then its factor removed */
    in.passed_at = NOW - 1000;
    in.stepup_at = NOW - 1000;
    assert_int_equal(decide(&in).verdict, GATE_ENROL);
    /* nothing can be bound: refused, never through */
    in.can_enrol = false;
    d = decide(&in);
    assert_int_equal(d.verdict, GATE_REFUSE);
    assert_string_equal(d.reason, "cannot_enrol");
}

static void test_optional_without_factor_offer_once_then_through(void **state)
{
    (void)state;
    struct gate_input in = base(POLICY_OPTIONAL, GATE_RETURN, 0);
    struct gate_decision d = decide(&in);
    assert_int_equal(d.verdict, GATE_OFFER);
    /* skip: through without a second step */
    in.action = GATE_DECLINE;
    d = decide(&in);
    assert_int_equal(d.verdict, GATE_CONTINUE);
    assert_string_equal(d.acr, GATE_ACR_NONE);
    assert_string_equal(d.amr, "[]");
    assert_false(d.mfa);
    assert_int_equal(d.auth_time_s, NOW / 1000);
    /* declined earlier in this flow */
    in.action = GATE_RETURN;
    in.declined = true;
    assert_int_equal(decide(&in).verdict, GATE_CONTINUE);
    /* the offer was shown in an earlier flow: not again */
    in.declined = false;
    in.offered_before = true;
    d = decide(&in);
    assert_int_equal(d.verdict, GATE_CONTINUE);
    assert_string_equal(d.reason, "offered_before");
    /* nothing to offer: through */
    in.offered_before = false;
    in.can_enrol = false;
    assert_int_equal(decide(&in).verdict, GATE_CONTINUE);
    /* the manage entry never shows the offer */
    in.can_enrol = true;
    in.entry = GATE_ENTRY_MANAGE;
    assert_int_equal(decide(&in).verdict, GATE_CONTINUE);
}

static void test_off_lets_through_without_step(void **state)
{
    (void)state;
    for (int active = 0; active <= 3; active++) {
        struct gate_input in = base(POLICY_OFF, GATE_RETURN, active);
        struct gate_decision d = decide(&in);
        assert_int_equal(d.verdict, GATE_CONTINUE);
        assert_string_equal(d.acr, GATE_ACR_NONE);
        assert_false(d.mfa);
    }
}

static void test_passed_step_returns_with_its_amr_and_time(void **state)
{
    (void)state;
    enum policy_mode modes[] = {POLICY_OFF, POLICY_OPTIONAL, POLICY_MANDATORY};
    for (size_t i = 0; i < 3; i++) {
        struct gate_input in = base(modes[i], GATE_RETURN, 1);
        in.passed_at = NOW - 42000;
        in.stepup_at = NOW - 42000;
        in.passed_amr = gate_amr(GATE_METHOD_EMAIL);
        struct gate_decision d = decide(&in);
        assert_int_equal(d.verdict, GATE_CONTINUE);
        assert_true(d.mfa);
        assert_string_equal(d.acr, GATE_ACR_MFA);
        assert_string_equal(d.amr, "[\"otp\",\"mail\",\"mfa\"]");
        assert_int_equal(d.auth_time_s, (NOW - 42000) / 1000);
    }
}

static void test_locked_user_only_recovery_or_refused(void **state)
{
    (void)state;
    struct gate_input in = base(POLICY_OPTIONAL, GATE_RETURN, 1);
    in.locked = true;
    struct gate_decision d = decide(&in);
    assert_int_equal(d.verdict, GATE_CHALLENGE);
    assert_string_equal(d.reason, "locked");
    in.recovery_usable = false;
    d = decide(&in);
    assert_int_equal(d.verdict, GATE_REFUSE);
    in.action = GATE_VIEW_ACCOUNT;
    assert_int_equal(decide(&in).verdict, GATE_REFUSE);
    in.action = GATE_DECLINE;
    assert_int_equal(decide(&in).verdict, GATE_REFUSE);
}

static void test_account_needs_step_and_fresh_step_for_changes(void **state)
{
    (void)state;
    struct gate_input in = base(POLICY_OPTIONAL, GATE_VIEW_ACCOUNT, 2);
    assert_int_equal(decide(&in).verdict, GATE_CHALLENGE);
    in.action = GATE_CHANGE_ACCOUNT;
    assert_int_equal(decide(&in).verdict, GATE_CHALLENGE);
    in.passed_at = NOW - WINDOW - 1;
    in.stepup_at = NOW - WINDOW - 1;
    struct gate_decision d = decide(&in);
    assert_int_equal(d.verdict, GATE_CHALLENGE);
    assert_true(d.stale);
    in.action = GATE_VIEW_ACCOUNT;
    assert_int_equal(decide(&in).verdict, GATE_CONTINUE);
    in.action = GATE_CHANGE_ACCOUNT;
    in.stepup_at = NOW - WINDOW;
    assert_int_equal(decide(&in).verdict, GATE_CONTINUE);
    /* a step-up time in the future is not fresh, it is wrong */
    in.stepup_at = NOW + 1000;
    assert_int_equal(decide(&in).verdict, GATE_CHALLENGE);
    /* a user without factors has nothing to protect yet */
    struct gate_input none = base(POLICY_MANDATORY, GATE_CHANGE_ACCOUNT, 0);
    assert_int_equal(decide(&none).verdict, GATE_CONTINUE);
}

static void test_prior_step_only_for_manage_inside_window(void **state)
{
    (void)state;
    assert_true(gate_reuse_prior(GATE_ENTRY_MANAGE, NOW - 1000, NOW, WINDOW, false, 0, false));
    assert_true(gate_reuse_prior(GATE_ENTRY_MANAGE, NOW - WINDOW, NOW, WINDOW, false, 0, false));
    assert_false(
        gate_reuse_prior(GATE_ENTRY_MANAGE, NOW - WINDOW - 1, NOW, WINDOW, false, 0, false));
    assert_false(gate_reuse_prior(GATE_ENTRY_MANAGE, 0, NOW, WINDOW, false, 0, false));
    assert_false(gate_reuse_prior(GATE_ENTRY_MANAGE, NOW + 5, NOW, WINDOW, false, 0, false));
    assert_false(gate_reuse_prior(GATE_ENTRY_LOGIN, NOW - 1000, NOW, WINDOW, false, 0, false));
    /* max_age and prompt=login win over the window */
    assert_false(gate_reuse_prior(GATE_ENTRY_MANAGE, NOW - 61000, NOW, WINDOW, true, 60, false));
    assert_true(gate_reuse_prior(GATE_ENTRY_MANAGE, NOW - 59000, NOW, WINDOW, true, 60, false));
    assert_false(gate_reuse_prior(GATE_ENTRY_MANAGE, NOW - 1000, NOW, WINDOW, true, 0, false));
    assert_false(gate_reuse_prior(GATE_ENTRY_MANAGE, NOW - 1000, NOW, WINDOW, false, 0, true));
}

static void test_remembered_device_stands_for_the_step_honestly(void **state)
{
    (void)state;
    struct gate_input in = base(POLICY_MANDATORY, GATE_RETURN, 1);
    in.remembered_at = NOW - 3 * 86400000LL;
    struct gate_decision d = decide(&in);
    assert_int_equal(d.verdict, GATE_CONTINUE);
    assert_true(d.remembered);
    assert_false(d.mfa);
    assert_string_equal(d.acr, GATE_ACR_REMEMBERED);
    assert_string_equal(d.amr, "[\"remembered\"]");
    assert_int_equal(d.auth_time_s, (NOW - 3 * 86400000LL) / 1000);
    /* prompt=login, max_age, a lock, the manage entry: it does not count */
    in.force_step = true;
    assert_int_equal(decide(&in).verdict, GATE_CHALLENGE);
    in.force_step = false;
    in.max_age_given = true;
    in.max_age_s = 3600;
    assert_int_equal(decide(&in).verdict, GATE_CHALLENGE);
    in.max_age_s = 4 * 86400;
    assert_int_equal(decide(&in).verdict, GATE_CONTINUE);
    in.locked = true;
    assert_int_equal(decide(&in).verdict, GATE_CHALLENGE);
    in.locked = false;
    in.entry = GATE_ENTRY_MANAGE;
    assert_int_equal(decide(&in).verdict, GATE_CHALLENGE);
    /* nor for the account page */
    in.entry = GATE_ENTRY_LOGIN;
    in.action = GATE_VIEW_ACCOUNT;
    assert_int_equal(decide(&in).verdict, GATE_CHALLENGE);
    /* a user without factors under mandatory still enrols */
    struct gate_input none = base(POLICY_MANDATORY, GATE_RETURN, 0);
    none.remembered_at = NOW - 1000;
    assert_int_equal(decide(&none).verdict, GATE_ENROL);
}

static void test_phishing_resistant_only_a_passkey_passes(void **state)
{
    (void)state;
    enum policy_mode modes[] = {POLICY_OFF, POLICY_OPTIONAL, POLICY_MANDATORY};
    for (size_t i = 0; i < 3; i++) {
        struct gate_input in = base(modes[i], GATE_RETURN, 1);
        in.phr_required = true;
        in.can_enrol_phr = true;
        /* an e-mail code passed: not enough; no passkey yet: add one */
        in.passed_at = in.stepup_at = NOW - 1000;
        in.passed_amr = gate_amr(GATE_METHOD_EMAIL);
        struct gate_decision d = decide(&in);
        assert_int_equal(d.verdict, GATE_ENROL);
        assert_true(d.phr);
        /* with a passkey: asked for it */
        in.phr_factors = 1;
        in.active_factors = 2;
        d = decide(&in);
        assert_int_equal(d.verdict, GATE_CHALLENGE);
        assert_true(d.phr);
        /* a remembered device does not stand for it */
        in.passed_at = 0;
        in.remembered_at = NOW - 1000;
        assert_int_equal(decide(&in).verdict, GATE_CHALLENGE);
        /* a passkey step: through, with acr phr */
        in.passed_at = in.stepup_at = NOW - 1000;
        in.passed_phr = true;
        in.passed_amr = gate_amr_passkey(true, true);
        d = decide(&in);
        assert_int_equal(d.verdict, GATE_CONTINUE);
        assert_string_equal(d.acr, GATE_ACR_PHR);
        assert_string_equal(d.amr, "[\"swk\",\"user\",\"mfa\"]");
        /* the account page: a code passed in this flow neither views nor
         * changes it while the user has a passkey (a relayed code must not
         * add the relayer's passkey); without one, adding one is the way */
        for (int a = 0; a < 2; a++) {
            struct gate_input acc = base(modes[i], a ? GATE_CHANGE_ACCOUNT : GATE_VIEW_ACCOUNT, 2);
            acc.phr_required = true;
            acc.can_enrol_phr = true;
            acc.phr_factors = 1;
            acc.passed_at = acc.stepup_at = NOW - 1000;
            acc.passed_amr = gate_amr(GATE_METHOD_TOTP);
            d = decide(&acc);
            assert_int_equal(d.verdict, GATE_CHALLENGE);
            assert_true(d.phr);
            acc.passed_phr = true;
            assert_int_equal(decide(&acc).verdict, GATE_CONTINUE);
            acc.passed_phr = false;
            acc.phr_factors = 0;
            assert_int_equal(decide(&acc).verdict, GATE_CONTINUE);
        }
        /* no passkey allowed or possible here: refused, not let through */
        struct gate_input none = base(modes[i], GATE_DECLINE, 0);
        none.phr_required = true;
        assert_int_equal(decide(&none).verdict, GATE_REFUSE);
    }
    /* without the requirement a passkey step still says phr */
    struct gate_input in = base(POLICY_OPTIONAL, GATE_RETURN, 1);
    in.passed_at = in.stepup_at = NOW - 1000;
    in.passed_phr = true;
    in.passed_amr = gate_amr_passkey(false, true);
    struct gate_decision d = decide(&in);
    assert_string_equal(d.acr, GATE_ACR_PHR);
    assert_string_equal(d.amr, "[\"hwk\",\"user\",\"mfa\"]");
    assert_string_equal(gate_amr_passkey(false, false), "[\"hwk\",\"mfa\"]");
    assert_string_equal(gate_amr_passkey(true, false), "[\"swk\",\"mfa\"]");
}

static void test_max_age_asks_again_after_an_old_step(void **state)
{
    (void)state;
    struct gate_input in = base(POLICY_OPTIONAL, GATE_RETURN, 1);
    in.passed_at = in.stepup_at = NOW - 120000;
    in.passed_amr = gate_amr(GATE_METHOD_TOTP);
    in.max_age_given = true;
    in.max_age_s = 60;
    struct gate_decision d = decide(&in);
    assert_int_equal(d.verdict, GATE_CHALLENGE);
    assert_string_equal(d.reason, "max_age");
    in.max_age_s = 120;
    assert_int_equal(decide(&in).verdict, GATE_CONTINUE);
}

static void test_amr_values(void **state)
{
    (void)state;
    assert_string_equal(gate_amr(GATE_METHOD_SMS), "[\"otp\",\"sms\",\"mfa\"]");
    assert_string_equal(gate_amr(GATE_METHOD_EMAIL), "[\"otp\",\"mail\",\"mfa\"]");
    assert_string_equal(gate_amr(GATE_METHOD_TOTP), "[\"otp\",\"mfa\"]");
    assert_string_equal(gate_amr(GATE_METHOD_RECOVERY), "[\"otp\",\"mfa\"]");
    assert_string_equal(gate_amr(GATE_METHOD_NONE), "[]");
    assert_string_equal(gate_verdict_name(GATE_OFFER), "offer");
}

/* ---- the whole table ----------------------------------------------------- */

enum flow_state {
    FLOW_FRESH,             /* nothing happened yet in this flow */
    FLOW_PASSED,            /* a second step passed a minute ago */
    FLOW_PASSED_STALE,      /* passed, but before the step-up window */
    FLOW_DECLINED,          /* "Skip for now" chosen earlier in this flow */
    FLOW_OFFERED_BEFORE,    /* the optional offer was shown in an earlier flow */
    FLOW_LOCKED,            /* hard-locked, with recovery codes */
    FLOW_LOCKED_NO_RC,      /* hard-locked, no recovery code left */
    FLOW_CANNOT_ENROL,      /* no factor type can be bound */
    FLOW_REMEMBERED,        /* a remembered device the policy allows, 2 days old */
    FLOW_REMEMBERED_FORCED, /* ... but the app asked for prompt=login */
    FLOW_REMEMBERED_OLD,    /* ... but older than the app's max_age */
    FLOW_PASSED_MAX_AGE,    /* passed 2 minutes ago, max_age 60 s */
    FLOW_PHR_PASSED_OTP,    /* only a passkey will do; an e-mail code passed */
    FLOW_PHR_PASSED,        /* only a passkey will do; a passkey passed */
    FLOW_PHR_HAS_KEY,       /* only a passkey will do; the user has one, nothing passed */
    FLOW_STATES
};

static void apply_state(struct gate_input *in, enum flow_state st)
{
    switch (st) {
    case FLOW_FRESH:
        break;
    case FLOW_PASSED:
        in->passed_at = in->stepup_at = NOW - 60000;
        in->passed_amr = gate_amr(GATE_METHOD_SMS);
        break;
    case FLOW_PASSED_STALE:
        in->passed_at = in->stepup_at = NOW - WINDOW - 60000;
        in->passed_amr = gate_amr(GATE_METHOD_TOTP);
        break;
    case FLOW_DECLINED:
        in->declined = true;
        break;
    case FLOW_OFFERED_BEFORE:
        in->offered_before = true;
        break;
    case FLOW_LOCKED:
        in->locked = true;
        break;
    case FLOW_LOCKED_NO_RC:
        in->locked = true;
        in->recovery_usable = false;
        break;
    case FLOW_CANNOT_ENROL:
        in->can_enrol = false;
        break;
    case FLOW_REMEMBERED:
        in->remembered_at = NOW - 2 * 86400000LL;
        break;
    case FLOW_REMEMBERED_FORCED:
        in->remembered_at = NOW - 2 * 86400000LL;
        in->force_step = true;
        break;
    case FLOW_REMEMBERED_OLD:
        in->remembered_at = NOW - 2 * 86400000LL;
        in->max_age_given = true;
        in->max_age_s = 86400;
        break;
    case FLOW_PASSED_MAX_AGE:
        in->passed_at = in->stepup_at = NOW - 120000;
        in->passed_amr = gate_amr(GATE_METHOD_EMAIL);
        in->max_age_given = true;
        in->max_age_s = 60;
        break;
    case FLOW_PHR_PASSED_OTP:
        in->phr_required = true;
        in->can_enrol_phr = true;
        in->passed_at = in->stepup_at = NOW - 1000;
        in->passed_amr = gate_amr(GATE_METHOD_EMAIL);
        break;
    case FLOW_PHR_PASSED:
        in->phr_required = true;
        in->phr_factors = 1;
        in->passed_at = in->stepup_at = NOW - 1000;
        in->passed_phr = true;
        in->passed_amr = gate_amr_passkey(false, true);
        break;
    case FLOW_PHR_HAS_KEY:
        in->phr_required = true;
        in->phr_factors = 1;
        in->remembered_at = NOW - 1000;
        break;
    case FLOW_STATES:
        break;
    }
}

/* SPEC §5's invariant, written from the SPEC's words and not from gate.c:
 * an app receives a success only when (a) the policy is off, or (b) the
 * user passed a second step in this flow, or (c) the policy is optional,
 * the user has no active factor and declined (or cannot be offered)
 * enrolment; under mandatory a user without an active factor never
 * returns. */
static void check_invariant(const struct gate_input *in, const struct gate_decision *d)
{
    bool passed =
        in->passed_at > 0 && (!in->max_age_given || NOW - in->passed_at <= in->max_age_s * 1000);
    bool remembered = in->remembered_at > 0 && !in->force_step && !in->locked &&
                      in->entry == GATE_ENTRY_LOGIN &&
                      (!in->max_age_given || NOW - in->remembered_at <= in->max_age_s * 1000);
    bool success =
        d->verdict == GATE_CONTINUE && (in->action == GATE_RETURN || in->action == GATE_DECLINE);
    if (success && in->phr_required) {
        /* only a passkey step in this flow */
        assert_true(passed && in->passed_phr);
        assert_string_equal(d->acr, GATE_ACR_PHR);
        return;
    }
    if (success) {
        bool a = in->mode == POLICY_OFF;
        bool b = passed || (remembered && in->active_factors > 0);
        bool c = in->mode == POLICY_OPTIONAL && in->active_factors == 0 &&
                 (in->action == GATE_DECLINE || in->declined || in->offered_before ||
                  in->entry == GATE_ENTRY_MANAGE || !in->can_enrol);
        if (!(a || b || c))
            fail_msg("success without a reason: mode %d active %d action %d", in->mode,
                     in->active_factors, in->action);
        if (in->mode == POLICY_MANDATORY && in->active_factors == 0)
            fail_msg("mandatory user without a factor returned");
        /* acr/amr say the truth */
        if (passed) {
            assert_true(d->mfa);
            assert_string_equal(d->acr, in->passed_phr ? GATE_ACR_PHR : GATE_ACR_MFA);
            assert_string_equal(d->amr, in->passed_amr);
            assert_int_equal(d->auth_time_s, in->passed_at / 1000);
        } else if (d->remembered) {
            /* never says a factor was used now */
            assert_true(remembered && in->mode != POLICY_OFF);
            assert_false(d->mfa);
            assert_string_equal(d->acr, GATE_ACR_REMEMBERED);
            assert_null(strstr(d->amr, "otp"));
            assert_null(strstr(d->amr, "mfa"));
            assert_int_equal(d->auth_time_s, in->remembered_at / 1000);
        } else {
            assert_false(d->mfa);
            assert_string_equal(d->acr, GATE_ACR_NONE);
            assert_string_equal(d->amr, "[]");
        }
    } else if (in->action == GATE_RETURN || in->action == GATE_DECLINE) {
        assert_false(d->mfa);
    }
    /* a user with an active factor never skips */
    if (in->active_factors > 0 && in->mode != POLICY_OFF && !passed && !remembered &&
        (in->action == GATE_RETURN || in->action == GATE_DECLINE))
        assert_true(d->verdict == GATE_CHALLENGE || d->verdict == GATE_REFUSE);
    /* the offer: optional, no factor, a sign-in, once, only what can be bound */
    if (d->verdict == GATE_OFFER)
        assert_true(in->mode == POLICY_OPTIONAL && in->active_factors == 0 &&
                    in->entry == GATE_ENTRY_LOGIN && !in->declined && !in->offered_before &&
                    in->can_enrol && in->action == GATE_RETURN);
    if (d->verdict == GATE_ENROL && !d->phr)
        assert_true(in->mode == POLICY_MANDATORY && in->active_factors == 0 && in->can_enrol);
    if (d->phr && d->verdict != GATE_REFUSE) /* a passkey asked for or added: only when required */
        assert_true(in->phr_required &&
                    (d->verdict == GATE_CHALLENGE ? in->phr_factors > 0 : in->can_enrol_phr));
    /* the account page: never without a step when there is a factor */
    if ((in->action == GATE_VIEW_ACCOUNT || in->action == GATE_CHANGE_ACCOUNT) &&
        d->verdict == GATE_CONTINUE && in->active_factors > 0) {
        assert_true(in->passed_at > 0); /* a remembered device never opens it */
        if (in->action == GATE_CHANGE_ACCOUNT)
            assert_true(NOW - in->stepup_at <= WINDOW);
    }
    /* a locked user with nothing to unlock with is refused, not challenged */
    if (in->locked && !in->recovery_usable && in->active_factors > 0 && !passed &&
        (in->mode != POLICY_OFF || in->action == GATE_VIEW_ACCOUNT ||
         in->action == GATE_CHANGE_ACCOUNT))
        assert_int_equal(d->verdict, GATE_REFUSE);
    assert_non_null(d->reason);
}

/* The combinations, with the mode and active count given (the callers get
 * them from the store for inherit and pending-only). Returns how many
 * decisions it checked. */
static int sweep(enum policy_mode mode, int active)
{
    int n = 0;
    enum gate_action actions[] = {GATE_RETURN, GATE_DECLINE, GATE_VIEW_ACCOUNT,
                                  GATE_CHANGE_ACCOUNT};
    for (int st = 0; st < FLOW_STATES; st++)
        for (int e = 0; e < 2; e++)
            for (size_t a = 0; a < 4; a++) {
                struct gate_input in = base(mode, actions[a], active);
                in.entry = e ? GATE_ENTRY_MANAGE : GATE_ENTRY_LOGIN;
                apply_state(&in, (enum flow_state)st);
                struct gate_decision d;
                gate_decide(&in, &d);
                check_invariant(&in, &d);
                n++;
            }
    return n;
}

static void test_every_combination_keeps_the_invariant(void **state)
{
    (void)state;
    int n = 0;
    enum policy_mode modes[] = {POLICY_OFF, POLICY_OPTIONAL, POLICY_MANDATORY};
    int counts[] = {0, 1, 3};
    for (size_t m = 0; m < 3; m++)
        for (size_t c = 0; c < 3; c++)
            n += sweep(modes[m], counts[c]);
    assert_int_equal(n, 3 * 3 * FLOW_STATES * 2 * 4);
}

/* inherit and pending-only come from the real store: an app whose mode is
 * "inherit" follows the global mode, and a user whose only factor is
 * pending counts as having none. */
static void test_inherit_and_pending_only_through_the_store(void **state)
{
    (void)state;
    char dir[64], db[200], err[256];
    tu_tmpdir(dir, sizeof(dir), "gate");
    snprintf(db, sizeof(db), "%s/otpgate.db", dir);
    struct store *s = NULL;
    if (tu_store_open(db, &s, err, sizeof(err)) != 0)
        fail_msg("store_open: %s", err);
    tu_app_insert(s, "app_a", "A", 1);
    const char *global[] = {"off", "optional", "mandatory"};
    enum policy_mode want[] = {POLICY_OFF, POLICY_OPTIONAL, POLICY_MANDATORY};
    uint8_t key[32] = {1};
    struct keyring keys;
    keyring_derive(key, &keys);
    for (size_t g = 0; g < 3; g++) {
        assert_int_equal(policy_set(s, "", "mode", global[g], err, sizeof(err)), 0);
        assert_int_equal(policy_set(s, "app_a", "mode", "mandatory", err, sizeof(err)), 0);
        assert_int_equal(policy_set(s, "app_a", "mode", "inherit", err, sizeof(err)), 0);
        struct policy pol;
        assert_int_equal(policy_load(s, "app_a", &pol), 0);
        assert_int_equal(pol.mode, want[g]);
        struct mfa_ctx ctx = {.store = s,
                              .keys = &keys,
                              .pol = &pol,
                              .app_id = "app_a",
                              .app_name = "A",
                              .issuer = "A",
                              .now_ms = NOW};
        struct mfa_user u;
        char sub[32];
        snprintf(sub, sizeof(sub), "user%zu", g);
        assert_int_equal(users_get_or_create(&ctx, sub, &u), MFA_OK);
        struct mfa_factor f;
        assert_int_equal(factors_add_contact(&ctx, &u, FACTOR_EMAIL, "a@example.com", &f), MFA_OK);
        assert_false(f.active);
        int active = factors_count_active(&ctx, &u);
        assert_int_equal(active, 0);
        struct gate_input in = base(pol.mode, GATE_RETURN, active);
        struct gate_decision d;
        gate_decide(&in, &d);
        assert_int_equal(d.verdict, want[g] == POLICY_OFF        ? GATE_CONTINUE
                                    : want[g] == POLICY_OPTIONAL ? GATE_OFFER
                                                                 : GATE_ENROL);
        sweep(pol.mode, active);
    }
    store_close(s);
    tu_rmtree(dir);
}

int main(void)
{
    log_set_level(OG_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_with_factor_never_skips),
        cmocka_unit_test(test_mandatory_without_factor_must_enrol),
        cmocka_unit_test(test_optional_without_factor_offer_once_then_through),
        cmocka_unit_test(test_off_lets_through_without_step),
        cmocka_unit_test(test_passed_step_returns_with_its_amr_and_time),
        cmocka_unit_test(test_locked_user_only_recovery_or_refused),
        cmocka_unit_test(test_account_needs_step_and_fresh_step_for_changes),
        cmocka_unit_test(test_prior_step_only_for_manage_inside_window),
        cmocka_unit_test(test_amr_values),
        cmocka_unit_test(test_remembered_device_stands_for_the_step_honestly),
        cmocka_unit_test(test_max_age_asks_again_after_an_old_step),
        cmocka_unit_test(test_phishing_resistant_only_a_passkey_passes),
        cmocka_unit_test(test_every_combination_keeps_the_invariant),
        cmocka_unit_test(test_inherit_and_pending_only_through_the_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
