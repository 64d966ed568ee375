/* The end-user pages (SPEC §8): account, binding a phone, an e-mail or an
 * authenticator app, recovery codes, the second-step challenge and the
 * enrolment offer, in English and Simplified Chinese. Each renderer takes a
 * view (what the handler decided) and appends a whole HTML document to out.
 * Pages work without JavaScript; /static/js/otpgate.js only adds the resend
 * countdown, copy, download and print. Passkeys are the exception: WebAuthn
 * is a JavaScript API, so /static/js/passkey.js runs the ceremony and the
 * pages say so and offer the other ways when it cannot. No inline script
 * or style (the CSP forbids them); every value is escaped. */
#ifndef OTPGATE_UI_PAGES_H
#define OTPGATE_UI_PAGES_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What every page needs. */
struct ui_ctx {
    const char *locale;        /* "en" or "zh" */
    const char *csrf;          /* hidden input "csrf" on every form */
    const char *brand_name;    /* product name shown in the header, e.g. "otpgate" */
    const char *brand_logo;    /* image URL (may be NULL: the built-in logo) */
    const char *brand_accent;  /* CSS colour "#2563eb" (validated by the caller) */
    const char *brand_support; /* who to contact for help (text), or NULL */
    const char *app_name;      /* the app the user came from, or NULL */
    const char *notice;        /* i18n key of a success message, or NULL */
    const char *error;         /* i18n key of an error message, or NULL */
    const char *error_arg;     /* text put into the error's "%s", or NULL */
    /* Added: where the language switch (POST /lang, field "back") returns
     * to, the path and query of this page, e.g. "/challenge?factor=3". NULL:
     * the page's usual GET path; the message page and the recovery codes
     * page (shown once) then have no switch. */
    const char *back;
    /* Development delivery is on: pages where a code was sent point at
     * /dev/outbox. */
    bool dev_outbox;
};

struct ui_factor {
    const char *id;
    const char *type;   /* "sms", "email", "totp", "webauthn" */
    const char *masked; /* "+44 •••• ••12 34", "a•••@example.com", a passkey's name,
                           NULL for totp */
    bool active;
    bool preferred;
    bool last_used;
    const char *last_used_at; /* "2026-11-24 10:00 UTC" or NULL */
    const char *created_at;   /* passkeys: when added, formatted */
};

/* The second step. Forms: POST /challenge/send (factor_id) sends a code;
 * POST /challenge/verify (code, autocomplete="one-time-code",
 * inputmode="numeric"); GET /challenge?factor=ID switches factor ("try
 * another way" lists others); GET /challenge?method=recovery shows the
 * recovery-code form (POST /challenge/recovery, field "code"); POST
 * /challenge/cancel goes back to the app with access_denied. */
struct ui_challenge_view {
    const struct ui_factor *current; /* NULL when the user has none left to try */
    bool code_sent;                  /* sms/email: a code is on its way; show the code form */
    int resend_after;                /* seconds until "Send again" works (countdown), 0 = now */
    bool recovery;                   /* show the recovery-code form instead */
    const struct ui_factor *others;
    size_t other_count;
    bool recovery_allowed;
    bool stepup; /* "Confirm it's you" wording for step-up before a change */
    bool locked; /* hard-locked: only the recovery-code form, and who to contact */
    int remember_days; /* > 0: a "Don't ask again on this device for N days" checkbox
                          (field "remember") on the code form */
    /* A passkey as the current factor ("webauthn"): "Use your passkey" runs
     * the sign-in ceremony (passkey.js) and posts /challenge/passkey with
     * challenge_id, factor_id, credential (the PublicKeyCredential JSON)
     * and remember. */
    const char *passkey_id;      /* the ceremony's id */
    const char *passkey_options; /* its PublicKeyCredentialRequestOptionsJSON */
    bool phr;                    /* the app asks for a passkey: only passkeys are offered */
};
void ui_page_challenge(struct buf *out, const struct ui_ctx *c, const struct ui_challenge_view *v);

/* The account page (/account): factors with masked destinations, which is
 * preferred, when last used; recovery codes left (a prompt to make new ones
 * at 3 or fewer); actions as forms: POST /account/preferred (factor_id),
 * POST /account/remove (factor_id), POST /account/recovery-codes, POST
 * /account/disable (turn MFA off), links GET /account/add/sms,
 * /account/add/email, /account/add/totp; and "Back to APP" (POST
 * /account/done) when the user came from an app. */
/* A remembered device on the account page. */
struct ui_device {
    const char *id;
    const char *summary;   /* "Chrome on Linux" */
    const char *created;   /* when remembered, formatted */
    const char *last_seen; /* formatted */
    const char *expires;   /* formatted */
    bool current;          /* this browser */
};

struct ui_account_view {
    const struct ui_factor *factors;
    size_t factor_count;
    int recovery_left; /* -1 when the policy offers none or the user has no factor */
    bool can_sms, can_email, can_totp; /* allowed by the policy */
    bool can_passkey;                  /* allowed, and this origin can use passkeys; passkeys
                                          are listed with their name, when added and last used,
                                          and a "Rename" form (POST /account/rename, factor_id,
                                          name) */
    bool back_to_app;
    bool mandatory; /* the policy requires a factor: no "Turn off", and the last
                       active factor cannot be removed */
    const struct ui_device *devices; /* "Devices that skip the second step": each with a
                                        "Forget" form (POST /account/devices/forget,
                                        device_id), and "Forget all" (all=1) */
    size_t device_count;
    bool show_devices; /* the section, even empty (the policy remembers devices) */
};
void ui_page_account(struct buf *out, const struct ui_ctx *c, const struct ui_account_view *v);

/* Binding a phone or an e-mail. Step 1: POST /account/add/{type} with
 * "phone" (+ "country" calling code from a picker, e.g. "44") or "email".
 * Step 2: POST /account/verify with "factor_id" and "code"; a "Send again"
 * button (POST /account/resend, factor_id) with the countdown. */
struct ui_bind_view {
    const char *type;      /* "sms" or "email" */
    int step;              /* 1 or 2 */
    const char *factor_id; /* step 2 */
    const char *masked;    /* step 2: where the code went */
    int resend_after;      /* step 2 */
    const char *country;   /* step 1: preselected calling code, e.g. "44" */
    const char *value;     /* step 1: what the user typed, to show again after an error */
};
void ui_page_bind(struct buf *out, const struct ui_ctx *c, const struct ui_bind_view *v);

/* Adding an authenticator app: the QR code (SVG markup from ui_qr_svg, put
 * in as is), an "Open in authenticator app" link to otpauth_uri (for the
 * phone that holds the app; none when NULL), the secret in groups of four
 * ("JBSW Y3DP ...", a group never breaks across lines) for typing, and
 * POST /account/verify with "factor_id" and "code" to confirm. */
void ui_page_totp(struct buf *out, const struct ui_ctx *c, const char *qr_svg,
                  const char *secret_groups, const char *factor_id, const char *otpauth_uri);

/* Adding a passkey or security key (/account/add/webauthn): what it is, an
 * optional name, and "Create a passkey", which runs the registration
 * (passkey.js) and posts /account/add/webauthn with challenge_id,
 * credential and name. Without JavaScript or WebAuthn the page says so and
 * points back to the other methods. */
struct ui_passkey_view {
    const char *challenge_id; /* the ceremony's id */
    const char *options;      /* its PublicKeyCredentialCreationOptionsJSON */
    const char *cancel;       /* where "Cancel" goes: /account or /enrol */
    bool phr;                 /* the app asks for a passkey */
};
void ui_page_passkey(struct buf *out, const struct ui_ctx *c, const struct ui_passkey_view *v);

/* Recovery codes, shown once (GET /account/recovery-codes after the POST
 * that made them): copy, download as .txt and print buttons (script), the
 * codes as a list readable and printable without script, and a "I have
 * saved them" form POST to continue_action. The download is named after
 * the brand and account ("acme-id-recovery-codes-alice.txt") and says
 * inside whose codes they are and when they were made (made_on,
 * "2026-12-05"); either may be NULL. */
void ui_page_recovery_codes(struct buf *out, const struct ui_ctx *c, const char *const *codes,
                            size_t count, const char *continue_action, const char *account,
                            const char *made_on);

/* The enrolment offer inside a login (SPEC §5): pick what to add (links to
 * /account/add/...); with mandatory false a "Skip for now" form (POST
 * /enrol/skip). phr: the app asks for a passkey, so only a passkey is
 * offered, and nothing can be skipped. */
void ui_page_enrol(struct buf *out, const struct ui_ctx *c, bool mandatory, bool can_sms,
                   bool can_email, bool can_totp, bool can_passkey, bool phr);

/* Confirmation before removing a factor (action "remove", factor set),
 * turning MFA off (action "disable") or replacing the recovery codes
 * (action "recovery-codes", count = how many unused codes the new set
 * voids): POST /account/{action} with "confirm=1". */
void ui_page_confirm(struct buf *out, const struct ui_ctx *c, const char *action,
                     const struct ui_factor *factor, int count);

/* A page with a title and a message (errors such as an expired link, and
 * "You can close this window"). */
void ui_page_message(struct buf *out, const struct ui_ctx *c, const char *title_key,
                     const char *body_key);

/* A wait in human time in the locale: "30 seconds", "about 50 minutes",
 * "about 2 hours", "about 1 day" ("约 50 分钟" in Chinese); seconds < 1
 * counts as 1. Always NUL-terminates out. */
void ui_duration(const char *locale, int64_t seconds, char *out, size_t outlen);

/* When at_ms was, seen at now_ms, in the locale: "just now", "5 minutes
 * ago", "3 hours ago", "2 days ago", and the date ("24 Nov 2026",
 * "2026年11月24日") from a week back. Always NUL-terminates out. */
void ui_time_ago(const char *locale, int64_t now_ms, int64_t at_ms, char *out, size_t outlen);
/* The date of at_ms ("24 Nov 2026", "2026年11月24日"), UTC. */
void ui_date(const char *locale, int64_t at_ms, char *out, size_t outlen);

/* The text of an i18n key in the locale (English when missing); the key
 * itself when unknown, so a missing string shows up in tests. */
const char *ui_t(const char *locale, const char *key);

/* The body of /brand.css, which every page links after otpgate.css:
 * ":root{--accent:…;--accent-contrast:…;--link:…;--badge-accent:…;
 * --badge-accent-bg:…;--icon-bg:…;--hover:…}" and the same variables for
 * dark mode, all from the one accent. Link and badge colours are the
 * accent darkened (light) or lightened (dark) until they reach 4.5:1 on
 * the backgrounds they sit on; button text is white or near-black,
 * whichever contrasts more. accent must be "#rgb" or "#rrggbb"; anything
 * else gives OG_ERR_INVALID and appends nothing (serve an empty
 * stylesheet: the default colours stay). */
int ui_brand_css(struct buf *out, const char *accent);

/* An SVG QR code (libqrencode, error correction M) for text; malloc'd,
 * NULL on failure. Has role="img" and an aria-label. */
char *ui_qr_svg(const char *text, const char *label);

#endif
