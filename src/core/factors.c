/* A user's factors: sms and email destinations and TOTP authenticators,
 * pending until their first code is verified. TOTP secrets are sealed with
 * AES-256-GCM bound to the factor id; the last accepted time step is kept
 * so a TOTP code never works twice. */
#include "core/base32.h"
#include "core/contact.h"
#include "core/log.h"
#include "core/mfa.h"
#include "core/otp.h"
#include "core/otpauth.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>

#define TOTP_PERIOD 30
#define TOTP_DIGITS 6

/* A factor's columns as row_to_factor reads them, up to WHERE. */
#define FACTOR_SELECT                                                                              \
    "SELECT id, type, status, destination, created_at, verified_at, last_used_at, last_step "      \
    "FROM factors "

static void row_to_factor(db_stmt *st, struct mfa_factor *f)
{
    memset(f, 0, sizeof(*f));
    const unsigned char *t = db_column_text(st, 0);
    snprintf(f->id, sizeof(f->id), "%s", t ? (const char *)t : "");
    enum factor_type type = FACTOR_SMS;
    t = db_column_text(st, 1);
    factor_type_parse(t ? (const char *)t : "", &type);
    f->type = type;
    t = db_column_text(st, 2);
    f->active = t && strcmp((const char *)t, "active") == 0;
    t = db_column_text(st, 3);
    snprintf(f->destination, sizeof(f->destination), "%s", t ? (const char *)t : "");
    f->created_at = db_column_int64(st, 4);
    f->verified_at = db_column_int64(st, 5);
    f->last_used_at = db_column_int64(st, 6);
    f->last_step = db_column_int64(st, 7);
}

enum mfa_result factors_get(const struct mfa_ctx *c, const struct mfa_user *u, const char *id,
                            struct mfa_factor *f)
{
    db_stmt *st = store_stmt(c->store, FACTOR_SELECT "WHERE id = ? AND user_id = ?");
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, id, -1);
    db_bind_int64(st, 2, u->id);
    int rc = db_step(st);
    if (rc == DB_ROW)
        row_to_factor(st, f);
    db_reset(st);
    return rc == DB_ROW ? MFA_OK : rc == DB_DONE ? MFA_NOT_FOUND : MFA_ERROR;
}

enum mfa_result factors_each(const struct mfa_ctx *c, const struct mfa_user *u,
                             void (*fn)(const struct mfa_factor *f, void *arg), void *arg)
{
    db_stmt *st = store_stmt(c->store, FACTOR_SELECT "WHERE user_id = ? ORDER BY created_at, id");
    if (!st)
        return MFA_ERROR;
    db_bind_int64(st, 1, u->id);
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        struct mfa_factor f;
        row_to_factor(st, &f);
        fn(&f, arg);
    }
    db_reset(st);
    return rc == DB_DONE ? MFA_OK : MFA_ERROR;
}

int factors_count_active(const struct mfa_ctx *c, const struct mfa_user *u)
{
    db_stmt *st = store_stmt(
        c->store, "SELECT count(*) FROM factors WHERE user_id = ? AND status = 'active'");
    if (!st)
        return -1;
    db_bind_int64(st, 1, u->id);
    int n = db_step(st) == DB_ROW ? db_column_int(st, 0) : -1;
    db_reset(st);
    return n;
}

static enum mfa_result insert_factor(const struct mfa_ctx *c, struct mfa_user *u,
                                     struct mfa_factor *f, const uint8_t *sealed, size_t sealed_len)
{
    db_stmt *st =
        store_stmt(c->store, "INSERT INTO factors (id, user_id, type, status, destination, "
                             "secret_sealed, created_at) VALUES (?, ?, ?, 'pending', "
                             "NULLIF(?, ''), ?, ?)");
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, f->id, -1);
    db_bind_int64(st, 2, u->id);
    db_bind_text(st, 3, factor_type_name(f->type), -1);
    db_bind_text(st, 4, f->destination, -1);
    if (sealed)
        db_bind_blob(st, 5, sealed, (int)sealed_len);
    else
        db_bind_null(st, 5);
    db_bind_int64(st, 6, c->now_ms);
    int rc = db_step(st);
    db_reset(st);
    u->no_factors = false;
    return rc == DB_DONE ? MFA_OK : MFA_ERROR;
}

/* MFA_CONFLICT when an active factor of the user reaches the same mailbox
 * or number under another spelling (contact_dest_key), else MFA_OK. */
static enum mfa_result same_destination_active(const struct mfa_ctx *c, const struct mfa_user *u,
                                               enum factor_type type, const char *destination)
{
    enum contact_kind kind = type == FACTOR_SMS ? CONTACT_PHONE : CONTACT_EMAIL;
    char want[CONTACT_EMAIL_SIZE], have[CONTACT_EMAIL_SIZE];
    if (contact_dest_key(kind, destination, want, sizeof(want)) != OG_OK)
        return MFA_OK;
    db_stmt *st = store_stmt(c->store, "SELECT destination FROM factors WHERE user_id = ? "
                                       "AND type = ? AND status = 'active' AND "
                                       "destination IS NOT NULL");
    if (!st)
        return MFA_ERROR;
    db_bind_int64(st, 1, u->id);
    db_bind_text(st, 2, factor_type_name(type), -1);
    enum mfa_result r = MFA_OK;
    int rc = DB_DONE;
    while (r == MFA_OK && (rc = db_step(st)) == DB_ROW) {
        const unsigned char *d = db_column_text(st, 0);
        if (d && contact_dest_key(kind, (const char *)d, have, sizeof(have)) == OG_OK &&
            strcmp(have, want) == 0)
            r = MFA_CONFLICT;
    }
    if (r == MFA_OK && rc != DB_DONE)
        r = MFA_ERROR;
    db_reset(st);
    return r;
}

/* The user's factor of exactly this address, when there is one (*found):
 * a pending one is reused (MFA_OK), an active one is MFA_CONFLICT. With
 * none, MFA_CONFLICT when an active factor reaches the same mailbox or
 * number under another spelling, else MFA_OK. */
static enum mfa_result factor_of_address(const struct mfa_ctx *c, const struct mfa_user *u,
                                         enum factor_type type, const char *destination,
                                         struct mfa_factor *f, bool *found)
{
    db_stmt *st =
        store_stmt(c->store, FACTOR_SELECT "WHERE user_id = ? AND type = ? AND destination = ?");
    if (!st)
        return MFA_ERROR;
    db_bind_int64(st, 1, u->id);
    db_bind_text(st, 2, factor_type_name(type), -1);
    db_bind_text(st, 3, destination, -1);
    int rc = db_step(st);
    if (rc == DB_ROW)
        row_to_factor(st, f);
    db_reset(st);
    if (rc == DB_ROW) {
        *found = true;
        return f->active ? MFA_CONFLICT : MFA_OK;
    }
    if (rc != DB_DONE)
        return MFA_ERROR;
    return same_destination_active(c, u, type, destination);
}

enum mfa_result factors_add_contact(const struct mfa_ctx *c, struct mfa_user *u,
                                    enum factor_type type, const char *destination,
                                    struct mfa_factor *f)
{
    if (type != FACTOR_SMS && type != FACTOR_EMAIL)
        return MFA_INVALID;
    if (!(c->pol->factors & factor_type_bit(type)))
        return MFA_NOT_ALLOWED;
    if (!u->no_factors) {
        bool found = false;
        enum mfa_result r = factor_of_address(c, u, type, destination, f, &found);
        if (r != MFA_OK || found)
            return r;
    }

    memset(f, 0, sizeof(*f));
    random_id("f_", f->id, sizeof(f->id));
    f->type = type;
    f->last_step = -1;
    f->created_at = c->now_ms;
    snprintf(f->destination, sizeof(f->destination), "%s", destination);
    enum mfa_result r = insert_factor(c, u, f, NULL, 0);
    if (r == MFA_OK)
        audit_log_user(c, u, "factor_added", f->id, factor_type_name(type));
    return r;
}

enum mfa_result factors_add_totp(const struct mfa_ctx *c, struct mfa_user *u, struct mfa_factor *f,
                                 char **uri_out, char **secret_b32)
{
    if (!(c->pol->factors & FACTOR_BIT_TOTP))
        return MFA_NOT_ALLOWED;
    /* An abandoned TOTP enrolment is replaced, never left to pile up. */
    if (!u->no_factors) {
        db_stmt *st = store_stmt(c->store, "DELETE FROM factors WHERE user_id = ? AND "
                                           "type = 'totp' AND status = 'pending'");
        if (!st)
            return MFA_ERROR;
        db_bind_int64(st, 1, u->id);
        db_step(st);
        db_reset(st);
    }

    memset(f, 0, sizeof(*f));
    random_id("f_", f->id, sizeof(f->id));
    f->type = FACTOR_TOTP;
    f->last_step = -1;
    f->created_at = c->now_ms;

    uint8_t secret[TOTP_SECRET_LEN];
    random_bytes(secret, sizeof(secret));
    char aad[64];
    snprintf(aad, sizeof(aad), "totp:%s", f->id);
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    if (secret_seal(c->keys->seal, secret, sizeof(secret), aad, &sealed, &sealed_len) != OG_OK) {
        OPENSSL_cleanse(secret, sizeof(secret));
        return MFA_ERROR;
    }
    enum mfa_result r = insert_factor(c, u, f, sealed, sealed_len);
    free(sealed);
    if (r == MFA_OK) {
        char b32[64];
        base32_encode(secret, sizeof(secret), false, b32, sizeof(b32));
        *secret_b32 = og_strdup(b32);
        *uri_out = otpauth_uri(c->issuer, u->sub, secret, sizeof(secret), OTP_SHA1, TOTP_DIGITS,
                               TOTP_PERIOD);
        OPENSSL_cleanse(b32, sizeof(b32));
        audit_log_user(c, u, "factor_added", f->id, "totp");
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    return r;
}

enum mfa_result factors_remove(const struct mfa_ctx *c, struct mfa_user *u, const char *id)
{
    struct mfa_factor f;
    enum mfa_result r = factors_get(c, u, id, &f);
    if (r != MFA_OK)
        return r;
    /* Audited (and so announced) while the factor is still there: its own
     * address hears of the removal too. */
    audit_log_user(c, u, "factor_removed", id, factor_type_name(f.type));
    db_stmt *st = store_stmt(c->store, "DELETE FROM factors WHERE id = ? AND user_id = ?");
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, id, -1);
    db_bind_int64(st, 2, u->id);
    int rc = db_step(st);
    db_reset(st);
    if (rc != DB_DONE)
        return MFA_ERROR;
    st = store_stmt(c->store,
                    "UPDATE users SET preferred_factor = CASE WHEN preferred_factor = ?1 THEN "
                    "NULL ELSE preferred_factor END, last_used_factor = CASE WHEN "
                    "last_used_factor = ?1 THEN NULL ELSE last_used_factor END WHERE id = ?2");
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, id, -1);
    db_bind_int64(st, 2, u->id);
    rc = db_step(st);
    db_reset(st);
    if (rc != DB_DONE)
        return MFA_ERROR;
    if (strcmp(u->last_used, id) == 0)
        u->last_used[0] = '\0';
    if (f.active)
        users_forget_devices(c, u->sub, "factor removed");
    if (strcmp(u->preferred, id) == 0) {
        u->preferred[0] = '\0';
        st = store_stmt(c->store, "UPDATE users SET preferred_factor = (SELECT id FROM factors "
                                  "WHERE user_id = ?1 AND status = 'active' ORDER BY created_at, "
                                  "id LIMIT 1) WHERE id = ?1 RETURNING preferred_factor");
        if (!st)
            return MFA_ERROR;
        db_bind_int64(st, 1, u->id);
        if (db_step(st) == DB_ROW && db_column_text(st, 0))
            snprintf(u->preferred, sizeof(u->preferred), "%s", (const char *)db_column_text(st, 0));
        db_reset(st);
    }
    if (factors_count_active(c, u) == 0) {
        st = store_stmt(c->store, "DELETE FROM recovery_codes WHERE user_id = ?");
        if (!st)
            return MFA_ERROR;
        db_bind_int64(st, 1, u->id);
        rc = db_step(st);
        db_reset(st);
        if (store_changes(c->store) > 0)
            audit_log_user(c, u, "recovery_codes_voided", NULL, "no factor left");
    }
    return rc == DB_DONE ? MFA_OK : MFA_ERROR;
}

void factors_activate(const struct mfa_ctx *c, struct mfa_user *u, struct mfa_factor *f)
{
    /* Confirmed, not used: "last used" means used to sign in. */
    db_stmt *st = store_stmt(c->store, "UPDATE factors SET status = 'active', "
                                       "verified_at = ? WHERE id = ?");
    if (!st)
        return;
    db_bind_int64(st, 1, c->now_ms);
    db_bind_text(st, 2, f->id, -1);
    db_step(st);
    db_reset(st);
    f->active = true;
    f->verified_at = c->now_ms;
    if (!u->preferred[0]) {
        snprintf(u->preferred, sizeof(u->preferred), "%s", f->id);
        u->unsaved = true; /* written by users_record_success */
    }
    audit_log_user(c, u, "factor_enrolled", f->id, factor_type_name(f->type));
}

/* The step is spent either way; last_used_at only for a sign-in (signin),
 * not for the code that confirms a new factor. */
static void mark_used(const struct mfa_ctx *c, const char *id, int64_t step, bool signin)
{
    db_stmt *st = store_stmt(c->store, "UPDATE factors SET last_used_at = coalesce(?1, "
                                       "last_used_at), last_step = CASE WHEN last_step > ?2 "
                                       "THEN last_step ELSE ?2 END WHERE id = ?3");
    if (!st)
        return;
    if (signin)
        db_bind_int64(st, 1, c->now_ms);
    else
        db_bind_null(st, 1);
    db_bind_int64(st, 2, step);
    db_bind_text(st, 3, id, -1);
    db_step(st);
    db_reset(st);
}

/* Checks code against one TOTP factor's sealed secret. */
static enum otp_check check_one(const struct mfa_ctx *c, const char *id, const void *sealed,
                                size_t sealed_len, int64_t last_step, const char *code,
                                int64_t *step)
{
    char aad[64];
    snprintf(aad, sizeof(aad), "totp:%s", id);
    uint8_t *secret = NULL;
    size_t n = 0;
    if (secret_open(c->keys->seal, sealed, sealed_len, aad, &secret, &n) != OG_OK) {
        log_error("TOTP secret does not open: wrong master key or damaged row", "factor", id);
        return OTP_CHECK_WRONG;
    }
    enum otp_check r = otp_totp_check(secret, n, code, c->now_ms / 1000, TOTP_PERIOD, TOTP_DIGITS,
                                      OTP_SHA1, c->pol->totp_window, last_step, step);
    OPENSSL_cleanse(secret, n);
    free(secret);
    return r;
}

enum mfa_result factors_verify_totp_enrolment(const struct mfa_ctx *c, struct mfa_user *u,
                                              struct mfa_factor *f, const char *code,
                                              struct mfa_outcome *o)
{
    enum mfa_result r = users_gate(c, u, o);
    if (r != MFA_OK)
        return r;
    db_stmt *st = store_stmt(c->store, "SELECT secret_sealed, last_step FROM factors WHERE id = ?");
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, f->id, -1);
    if (db_step(st) != DB_ROW) {
        db_reset(st);
        return MFA_NOT_FOUND;
    }
    size_t len = (size_t)db_column_bytes(st, 0);
    uint8_t *sealed = og_malloc(len);
    memcpy(sealed, db_column_blob(st, 0), len);
    int64_t last = db_column_int64(st, 1);
    db_reset(st);
    int64_t step = 0;
    enum otp_check chk = check_one(c, f->id, sealed, len, last, code, &step);
    free(sealed);
    snprintf(o->factor_id, sizeof(o->factor_id), "%s", f->id);
    o->type = FACTOR_TOTP;
    if (chk != OTP_CHECK_OK) {
        return users_fail(c, u, o, "enrolment_failed", f->id, "totp");
    }
    mark_used(c, f->id, step, false);
    factors_activate(c, u, f);
    users_record_success(c, u, NULL);
    return MFA_OK;
}

enum mfa_result factors_check_totp(const struct mfa_ctx *c, struct mfa_user *u,
                                   const char *factor_id, const char *code, struct mfa_outcome *o)
{
    db_stmt *st = store_stmt(c->store, "SELECT id, secret_sealed, last_step FROM factors WHERE "
                                       "user_id = ?1 AND type = 'totp' AND status = 'active' AND "
                                       "(CAST(?2 AS TEXT) IS NULL OR id = ?2)");
    if (!st)
        return MFA_ERROR;
    db_bind_int64(st, 1, u->id);
    db_bind_text(st, 2, factor_id, -1);
    char matched[MFA_ID_LEN] = "";
    int64_t step = 0;
    bool any = false;
    while (db_step(st) == DB_ROW) {
        any = true;
        const char *id = (const char *)db_column_text(st, 0);
        int64_t s = 0;
        if (!matched[0] && check_one(c, id, db_column_blob(st, 1), (size_t)db_column_bytes(st, 1),
                                     db_column_int64(st, 2), code, &s) == OTP_CHECK_OK) {
            snprintf(matched, sizeof(matched), "%s", id);
            step = s;
        }
    }
    db_reset(st);
    if (!any)
        return MFA_NOT_FOUND;
    if (!matched[0])
        return MFA_WRONG_CODE;
    mark_used(c, matched, step, true);
    snprintf(o->factor_id, sizeof(o->factor_id), "%s", matched);
    o->type = FACTOR_TOTP;
    return MFA_OK;
}

enum mfa_result factors_pending_totp(const struct mfa_ctx *c, const struct mfa_user *u,
                                     const char *id, char **uri_out, char **secret_b32)
{
    db_stmt *st = store_stmt(c->store, "SELECT secret_sealed FROM factors WHERE id = ? AND "
                                       "user_id = ? AND type = 'totp' AND "
                                       "status = 'pending'");
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, id, -1);
    db_bind_int64(st, 2, u->id);
    if (db_step(st) != DB_ROW) {
        db_reset(st);
        return MFA_NOT_FOUND;
    }
    char aad[64];
    snprintf(aad, sizeof(aad), "totp:%s", id);
    uint8_t *secret = NULL;
    size_t n = 0;
    int rc = secret_open(c->keys->seal, db_column_blob(st, 0), (size_t)db_column_bytes(st, 0), aad,
                         &secret, &n);
    db_reset(st);
    if (rc != OG_OK)
        return MFA_ERROR;
    char b32[64];
    base32_encode(secret, n, false, b32, sizeof(b32));
    *secret_b32 = og_strdup(b32);
    *uri_out = otpauth_uri(c->issuer, u->sub, secret, n, OTP_SHA1, TOTP_DIGITS, TOTP_PERIOD);
    OPENSSL_cleanse(b32, sizeof(b32));
    OPENSSL_cleanse(secret, n);
    free(secret);
    return *uri_out ? MFA_OK : MFA_ERROR;
}
