/* A user's recovery codes in the store: a new set voids the old one; each
 * code is kept as HMAC(key, salt || code) and works once. The ten codes of
 * a set share one random salt (the key is secret, the salt only keeps equal
 * codes of different sets apart), so checking a typed code costs one HMAC;
 * sets made with a salt per code still work, at one HMAC per salt. A
 * recovery code also lifts a lockout (SPEC §4). */
#include "core/log.h"
#include "core/mfa.h"
#include "core/recovery.h"

#include <openssl/crypto.h>

enum mfa_result recovery_codes_new(const struct mfa_ctx *c, struct mfa_user *u, char codes[][20])
{
    db_stmt *st = store_stmt(c->store, "DELETE FROM recovery_codes WHERE user_id = ?");
    if (!st)
        return MFA_ERROR;
    db_bind_int64(st, 1, u->id);
    int rc = db_step(st);
    db_reset(st);
    if (rc != DB_DONE)
        return MFA_ERROR;
    bool replaced = store_changes(c->store) > 0;
    uint8_t salt[RECOVERY_SALT_LEN];
    random_bytes(salt, sizeof(salt));
    for (int i = 0; i < RECOVERY_COUNT; i++) {
        char norm[RECOVERY_CHARS + 1];
        uint8_t h[32];
        recovery_generate(codes[i]);
        recovery_normalize(codes[i], norm);
        recovery_hash(c->keys->recovery, salt, norm, h);
        OPENSSL_cleanse(norm, sizeof(norm));
        st = store_stmt(c->store, "INSERT INTO recovery_codes (user_id, salt, hash, created_at) "
                                  "VALUES (?, ?, ?, ?)");
        if (!st)
            return MFA_ERROR;
        db_bind_int64(st, 1, u->id);
        db_bind_blob(st, 2, salt, sizeof(salt));
        db_bind_blob_copy(st, 3, h, sizeof(h));
        db_bind_int64(st, 4, c->now_ms);
        rc = db_step(st);
        db_reset(st);
        if (rc != DB_DONE)
            return MFA_ERROR;
    }
    /* "replaced": an older set existed (the user hears of a new set; the
     * first one comes with the enrolment). */
    audit_log_user(c, u, "recovery_codes_generated", NULL, replaced ? "replaced" : NULL);
    return MFA_OK;
}

int recovery_codes_left(const struct mfa_ctx *c, const struct mfa_user *u)
{
    db_stmt *st = store_stmt(
        c->store, "SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL");
    if (!st)
        return -1;
    db_bind_int64(st, 1, u->id);
    int n = db_step(st) == DB_ROW ? db_column_int(st, 0) : -1;
    db_reset(st);
    return n;
}

enum mfa_result recovery_codes_consume(const struct mfa_ctx *c, struct mfa_user *u,
                                       const char *code, struct mfa_outcome *o)
{
    char norm[RECOVERY_CHARS + 1];
    if (recovery_normalize(code, norm) != OG_OK)
        return MFA_WRONG_CODE;
    db_stmt *st = store_stmt(c->store, "SELECT id, salt, hash FROM recovery_codes "
                                       "WHERE user_id = ? AND used_at IS NULL");
    if (!st)
        return MFA_ERROR;
    db_bind_int64(st, 1, u->id);
    int64_t match = 0;
    int unused = 0;
    uint8_t salt[RECOVERY_SALT_LEN], h[32];
    bool have_hash = false;
    while (db_step(st) == DB_ROW) {
        unused++;
        if (db_column_bytes(st, 1) != RECOVERY_SALT_LEN || db_column_bytes(st, 2) != (int)sizeof(h))
            continue;
        const void *row_salt = db_column_blob(st, 1);
        if (!have_hash || memcmp(row_salt, salt, sizeof(salt)) != 0) {
            memcpy(salt, row_salt, sizeof(salt));
            recovery_hash(c->keys->recovery, salt, norm, h);
            have_hash = true;
        }
        if (ct_equal(h, db_column_blob(st, 2), sizeof(h)) && !match)
            match = db_column_int64(st, 0);
    }
    db_reset(st);
    OPENSSL_cleanse(norm, sizeof(norm));
    OPENSSL_cleanse(h, sizeof(h));
    if (!match)
        return MFA_WRONG_CODE;
    /* Only the call that flips used_at from NULL wins. The used code's
     * hash goes (it checks nothing any more): the row then shrinks where a
     * timestamp alone would grow it, and a grown row no longer fits its
     * full page, so SQLite split the page and wrote two or three pages to
     * the WAL for every code used. */
    st = store_stmt(c->store, "UPDATE recovery_codes SET used_at = ?, hash = substr(hash, 1, 0) "
                              "WHERE id = ? AND used_at IS NULL");
    if (!st)
        return MFA_ERROR;
    db_bind_int64(st, 1, c->now_ms);
    db_bind_int64(st, 2, match);
    int rc = db_step(st);
    db_reset(st);
    if (rc != DB_DONE || store_changes(c->store) != 1)
        return MFA_WRONG_CODE;
    o->recovery = true;
    /* The codes unused before this one, less this one: no second count. */
    o->recovery_left = unused - 1;
    if (u->locked) {
        u->locked = false;
        u->locked_at = 0;
        u->unsaved = true;
        audit_log_user(c, u, "unlocked", NULL, "recovery code");
    }
    audit_log_user(c, u, "recovery_code_used", NULL, NULL);
    /* A recovery code is used when something went wrong: no browser keeps
     * skipping the second step after it. */
    users_forget_devices(c, u->sub, "recovery code used");
    return MFA_OK;
}
