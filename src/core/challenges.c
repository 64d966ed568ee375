/* Challenges: a code bound to one user, one factor and one purpose, with an
 * expiry, an attempt count and single use. A resend adds a code and keeps
 * the earlier ones valid until they expire; passing any one ends the
 * challenge. Codes are stored only as HMACs bound to the challenge id. */
#include "core/mfa.h"

#include <openssl/crypto.h>
#include <stdio.h>

static enum mfa_result add_code(const struct mfa_ctx *c, struct mfa_challenge *ch)
{
    if (code_generate(c->pol->code_digits, ch->code) != OG_OK)
        return MFA_ERROR;
    uint8_t h[32];
    code_hash(c->keys->codes, ch->id, ch->code, h);
    db_stmt *st = store_stmt(c->store, "INSERT INTO challenge_codes (challenge_id, "
                                       "code_hash, expires_at) VALUES (?, ?, ?)");
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, ch->id, -1);
    db_bind_blob_copy(st, 2, h, sizeof(h));
    db_bind_int64(st, 3, c->now_ms + (int64_t)c->pol->code_ttl * 1000);
    int rc = db_step(st);
    db_reset(st);
    return rc == DB_DONE ? MFA_OK : MFA_ERROR;
}

enum mfa_result challenges_create(const struct mfa_ctx *c, struct mfa_user *u,
                                  const struct mfa_factor *f, const char *purpose,
                                  struct mfa_challenge *ch, struct mfa_outcome *o)
{
    if (!(c->pol->factors & factor_type_bit(f->type)))
        return MFA_NOT_ALLOWED;
    if (u->locked) {
        o->locked_at = u->locked_at;
        return MFA_LOCKED;
    }
    /* TOTP and passkey challenges send nothing. */
    bool sends = f->type == FACTOR_SMS || f->type == FACTOR_EMAIL;
    if (sends) {
        enum mfa_result r = sendlimits_check(c, f->type, f->destination, u, o);
        if (r != MFA_OK) {
            audit_log_user(c, u, "send_limited", f->id, factor_type_name(f->type));
            return r;
        }
    }
    memset(ch, 0, sizeof(*ch));
    random_id("ch_", ch->id, sizeof(ch->id));
    snprintf(ch->factor_id, sizeof(ch->factor_id), "%s", f->id);
    snprintf(ch->destination, sizeof(ch->destination), "%s", f->destination);
    snprintf(ch->purpose, sizeof(ch->purpose), "%s", purpose);
    ch->type = f->type;
    ch->expires_at = c->now_ms + (int64_t)c->pol->code_ttl * 1000;
    ch->resend_at = c->now_ms + (int64_t)c->pol->resend_cooldown * 1000;
    ch->attempts_left = (int)c->pol->max_attempts;

    db_stmt *st = store_stmt(c->store, "INSERT INTO challenges (id, user_id, factor_id, purpose, "
                                       "status, max_attempts, resend_at, expires_at, created_at, "
                                       "client_ip) VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)");
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, ch->id, -1);
    db_bind_int64(st, 2, u->id);
    db_bind_text(st, 3, f->id, -1);
    db_bind_text(st, 4, purpose, -1);
    db_bind_int(st, 5, (int)c->pol->max_attempts);
    db_bind_int64(st, 6, ch->resend_at);
    db_bind_int64(st, 7, ch->expires_at);
    db_bind_int64(st, 8, c->now_ms);
    db_bind_text(st, 9, c->client_ip, -1);
    int rc = db_step(st);
    db_reset(st);
    if (rc != DB_DONE)
        return MFA_ERROR;
    if (sends) {
        if (add_code(c, ch) != MFA_OK)
            return MFA_ERROR;
        sendlimits_record(c, f->type, f->destination, u);
        audit_log_user(c, u, "code_sent", f->id, factor_type_name(f->type));
    }
    return MFA_OK;
}

enum mfa_result challenges_get(const struct mfa_ctx *c, const char *id, struct mfa_user *u,
                               struct mfa_challenge *ch)
{
    db_stmt *st = store_stmt(
        c->store,
        "SELECT ch.factor_id, f.type, f.destination, ch.purpose, ch.expires_at, ch.resend_at, "
        "ch.max_attempts - ch.attempts, u.sub, ch.status FROM challenges ch "
        "JOIN users u ON u.id = ch.user_id JOIN factors f ON f.id = ch.factor_id "
        "WHERE ch.id = ? AND u.app_id = ?");
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, id, -1);
    db_bind_text(st, 2, c->app_id, -1);
    int rc = db_step(st);
    if (rc != DB_ROW) {
        db_reset(st);
        return rc == DB_DONE ? MFA_NOT_FOUND : MFA_ERROR;
    }
    memset(ch, 0, sizeof(*ch));
    snprintf(ch->id, sizeof(ch->id), "%s", id);
    snprintf(ch->factor_id, sizeof(ch->factor_id), "%s", (const char *)db_column_text(st, 0));
    enum factor_type t = FACTOR_SMS;
    factor_type_parse((const char *)db_column_text(st, 1), &t);
    ch->type = t;
    const unsigned char *dest = db_column_text(st, 2);
    snprintf(ch->destination, sizeof(ch->destination), "%s", dest ? (const char *)dest : "");
    snprintf(ch->purpose, sizeof(ch->purpose), "%s", (const char *)db_column_text(st, 3));
    ch->expires_at = db_column_int64(st, 4);
    ch->resend_at = db_column_int64(st, 5);
    ch->attempts_left = db_column_int(st, 6);
    const char *status = (const char *)db_column_text(st, 8);
    if (strcmp(status, "done") == 0)
        ch->attempts_left = -1; /* marks a passed challenge */
    else if (strcmp(status, "dead") == 0)
        ch->attempts_left = 0;
    char sub[MFA_SUB_MAX + 1];
    snprintf(sub, sizeof(sub), "%s", (const char *)db_column_text(st, 7));
    db_reset(st);
    return users_find(c, sub, u);
}

enum mfa_result challenges_resend(const struct mfa_ctx *c, struct mfa_user *u,
                                  struct mfa_challenge *ch, struct mfa_outcome *o)
{
    if (ch->attempts_left < 0)
        return MFA_DONE;
    if (ch->attempts_left == 0)
        return MFA_NO_ATTEMPTS;
    if (ch->type == FACTOR_TOTP)
        return MFA_INVALID;
    if (u->locked) {
        o->locked_at = u->locked_at;
        return MFA_LOCKED;
    }
    if (c->now_ms < ch->resend_at) {
        o->retry_after = (ch->resend_at - c->now_ms + 999) / 1000;
        o->limit = "resend_cooldown";
        return MFA_LIMITED;
    }
    enum mfa_result r = sendlimits_check(c, ch->type, ch->destination, u, o);
    if (r != MFA_OK) {
        audit_log_user(c, u, "send_limited", ch->factor_id, factor_type_name(ch->type));
        return r;
    }
    /* The cooldown doubles with each resend: 30 s, 60 s, 120 s, ... (the
     * shift count is cast: PostgreSQL shifts by an integer, never a BIGINT
     * such as resends). */
    db_stmt *st = store_stmt(c->store, "UPDATE challenges SET resends = resends + 1, "
                                       "resend_at = ?1 + ?2 * (1 << CAST(CASE WHEN resends < 15 "
                                       "THEN resends + 1 ELSE 16 END AS INTEGER)), "
                                       "expires_at = ?3 WHERE id = ?4 RETURNING resend_at");
    if (!st)
        return MFA_ERROR;
    db_bind_int64(st, 1, c->now_ms);
    db_bind_int64(st, 2, (int64_t)c->pol->resend_cooldown * 1000);
    db_bind_int64(st, 3, c->now_ms + (int64_t)c->pol->code_ttl * 1000);
    db_bind_text(st, 4, ch->id, -1);
    int rc = db_step(st);
    if (rc == DB_ROW)
        ch->resend_at = db_column_int64(st, 0);
    db_reset(st);
    if (rc != DB_ROW)
        return MFA_ERROR;
    ch->expires_at = c->now_ms + (int64_t)c->pol->code_ttl * 1000;
    if (add_code(c, ch) != MFA_OK)
        return MFA_ERROR;
    sendlimits_record(c, ch->type, ch->destination, u);
    audit_log_user(c, u, "code_resent", ch->factor_id, factor_type_name(ch->type));
    return MFA_OK;
}

/* Keeps digits only (spaces and dashes dropped); false for anything else or
 * the wrong length. */
static bool clean_code(const char *in, unsigned digits, char *out, size_t outlen)
{
    size_t n = 0;
    for (; *in; in++) {
        if (*in == ' ' || *in == '-')
            continue;
        if (*in < '0' || *in > '9' || n + 1 >= outlen)
            return false;
        out[n++] = *in;
    }
    out[n] = '\0';
    return n == digits;
}

static bool code_matches(const struct mfa_ctx *c, const struct mfa_challenge *ch, const char *code)
{
    uint8_t h[32];
    code_hash(c->keys->codes, ch->id, code, h);
    db_stmt *st = store_stmt(c->store, "SELECT code_hash FROM challenge_codes WHERE "
                                       "challenge_id = ? AND expires_at >= ?");
    if (!st)
        return false;
    db_bind_text(st, 1, ch->id, -1);
    db_bind_int64(st, 2, c->now_ms);
    bool match = false;
    while (db_step(st) == DB_ROW) {
        if (db_column_bytes(st, 0) == (int)sizeof(h) &&
            ct_equal(db_column_blob(st, 0), h, sizeof(h)))
            match = true;
    }
    db_reset(st);
    return match;
}

static bool challenge_set_status(const struct mfa_ctx *c, const char *id, const char *status)
{
    db_stmt *st =
        store_stmt(c->store, "UPDATE challenges SET status = ? WHERE id = ? AND status = 'open'");
    if (!st)
        return false;
    db_bind_text(st, 1, status, -1);
    db_bind_text(st, 2, id, -1);
    int rc = db_step(st);
    db_reset(st);
    return rc == DB_DONE && store_changes(c->store) == 1;
}

enum mfa_result challenges_verify(const struct mfa_ctx *c, struct mfa_user *u,
                                  struct mfa_challenge *ch, const char *code, struct mfa_outcome *o)
{
    snprintf(o->factor_id, sizeof(o->factor_id), "%s", ch->factor_id);
    o->type = ch->type;
    if (ch->attempts_left < 0)
        return MFA_DONE;
    if (ch->attempts_left == 0)
        return MFA_NO_ATTEMPTS;
    enum mfa_result r = users_gate(c, u, o);
    if (r != MFA_OK)
        return r;
    if (c->now_ms > ch->expires_at)
        return MFA_EXPIRED;

    bool ok;
    if (ch->type == FACTOR_TOTP) {
        struct mfa_outcome t = {0};
        ok = factors_check_totp(c, u, ch->factor_id, code, &t) == MFA_OK;
    } else {
        char clean[16];
        ok = clean_code(code, c->pol->code_digits, clean, sizeof(clean)) &&
             code_matches(c, ch, clean);
        OPENSSL_cleanse(clean, sizeof(clean));
    }
    if (!ok) {
        db_stmt *st =
            store_stmt(c->store, "UPDATE challenges SET attempts = attempts + 1, status = "
                                 "CASE WHEN attempts + 1 >= max_attempts THEN 'dead' ELSE "
                                 "status END WHERE id = ? AND status = 'open'");
        if (!st)
            return MFA_ERROR;
        db_bind_text(st, 1, ch->id, -1);
        db_step(st);
        db_reset(st);
        ch->attempts_left--;
        o->attempts_left = ch->attempts_left;
        return users_fail(c, u, o, "verify_failed", ch->factor_id, factor_type_name(ch->type));
    }
    /* Single use: only the call that flips open to done succeeds. */
    if (!challenge_set_status(c, ch->id, "done"))
        return MFA_DONE;
    ch->attempts_left = -1;
    struct mfa_factor f;
    bool signin = true;
    if (factors_get(c, u, ch->factor_id, &f) == MFA_OK) {
        /* Confirming a new factor is not a use of it ("last used" means
         * used to sign in). */
        signin = f.active;
        if (!f.active)
            factors_activate(c, u, &f);
        db_stmt *st = signin
                          ? store_stmt(c->store, "UPDATE factors SET last_used_at = ? WHERE id = ?")
                          : NULL;
        if (st) {
            db_bind_int64(st, 1, c->now_ms);
            db_bind_text(st, 2, f.id, -1);
            db_step(st);
            db_reset(st);
        }
    }
    users_record_success(c, u, signin ? ch->factor_id : NULL);
    audit_log_user(c, u, "verify_ok", ch->factor_id, factor_type_name(ch->type));
    return MFA_OK;
}

enum mfa_result challenges_latest(const struct mfa_ctx *c, const char *factor_id,
                                  char id[MFA_ID_LEN])
{
    /* Two challenges made in the same millisecond: SQLite tells them apart
     * by insertion order (rowid); PostgreSQL has no such order, and ids
     * are random, so there either one may come back. */
    static const char latest_sqlite[] = "SELECT id FROM challenges WHERE factor_id = ? "
                                        "ORDER BY created_at DESC, rowid DESC LIMIT 1";
    static const char latest_pg[] = "SELECT id FROM challenges WHERE factor_id = ? "
                                    "ORDER BY created_at DESC, id DESC LIMIT 1";
    db_stmt *st =
        store_stmt(c->store, store_engine(c->store) == STORE_POSTGRES ? latest_pg : latest_sqlite);
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, factor_id, -1);
    int rc = db_step(st);
    if (rc == DB_ROW)
        snprintf(id, MFA_ID_LEN, "%s", (const char *)db_column_text(st, 0));
    db_reset(st);
    return rc == DB_ROW ? MFA_OK : rc == DB_DONE ? MFA_NOT_FOUND : MFA_ERROR;
}
