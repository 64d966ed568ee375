/* Passkeys as factors: the webauthn_credentials rows beside their factor
 * rows, and the users' random WebAuthn user handles. Stores only public
 * data (the key, the credential id, counters, flags, a name); the counter
 * is written conditionally so one assertion never passes twice. */
#include "core/webauthn_store.h"

#include <stdio.h>

static const char SQL_HANDLE_GET[] = "SELECT webauthn_handle FROM users WHERE id = ?";
static const char SQL_HANDLE_SET[] =
    "UPDATE users SET webauthn_handle = ? WHERE id = ? AND webauthn_handle IS NULL";
static const char SQL_CRED_EXISTS[] =
    "SELECT 1 FROM webauthn_credentials WHERE rp_id = ? AND credential_id = ?";
static const char SQL_FACTOR_INSERT[] =
    "INSERT INTO factors (id, user_id, type, status, created_at) "
    "VALUES (?, ?, 'webauthn', 'pending', ?)";
static const char SQL_CRED_INSERT[] =
    "INSERT INTO webauthn_credentials (factor_id, rp_id, credential_id, public_key, alg, "
    "sign_count, aaguid, uv, be, bs, transports, fmt, name) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/* The columns row_to_stored reads, in its order. */
#define STORED_COLUMNS                                                                             \
    "w.factor_id, f.user_id, u.sub, w.name, f.created_at, f.last_used_at, w.credential_id, "       \
    "w.public_key, w.alg, w.sign_count, w.aaguid, w.uv, w.be, w.bs, w.transports, w.fmt "
static const char SQL_EACH[] =
    "SELECT " STORED_COLUMNS "FROM webauthn_credentials w JOIN factors f ON f.id = w.factor_id "
    "JOIN users u ON u.id = f.user_id WHERE f.user_id = ? AND w.rp_id = ? AND "
    "f.status = 'active' ORDER BY f.created_at, f.id";
static const char SQL_FIND[] =
    "SELECT " STORED_COLUMNS "FROM webauthn_credentials w JOIN factors f ON f.id = w.factor_id "
    "JOIN users u ON u.id = f.user_id WHERE w.rp_id = ? AND w.credential_id = ? AND "
    "u.app_id = ? AND f.status = 'active'";
static const char SQL_COUNTER[] =
    "UPDATE webauthn_credentials SET sign_count = ?, bs = ? WHERE factor_id = ? AND "
    "sign_count = ?";
static const char SQL_LAST_USED[] = "UPDATE factors SET last_used_at = ? WHERE id = ?";
static const char SQL_NAME[] = "SELECT name FROM webauthn_credentials WHERE factor_id = ?";
static const char SQL_RENAME[] = "UPDATE webauthn_credentials SET name = ? WHERE factor_id = ?";

enum mfa_result webauthn_user_handle(const struct mfa_ctx *c, const struct mfa_user *u, bool create,
                                     uint8_t out[WEBAUTHN_USER_HANDLE_LEN])
{
    for (int pass = 0; pass < 2; pass++) {
        db_stmt *st = store_stmt(c->store, SQL_HANDLE_GET);
        if (!st)
            return MFA_ERROR;
        db_bind_int64(st, 1, u->id);
        int rc = db_step(st);
        bool found = rc == DB_ROW && db_column_bytes(st, 0) == WEBAUTHN_USER_HANDLE_LEN;
        if (found)
            memcpy(out, db_column_blob(st, 0), WEBAUTHN_USER_HANDLE_LEN);
        db_reset(st);
        if (rc != DB_ROW)
            return rc == DB_DONE ? MFA_NOT_FOUND : MFA_ERROR;
        if (found)
            return MFA_OK;
        if (!create || pass == 1)
            return create ? MFA_ERROR : MFA_NOT_FOUND;
        uint8_t fresh[WEBAUTHN_USER_HANDLE_LEN];
        random_bytes(fresh, sizeof(fresh));
        st = store_stmt(c->store, SQL_HANDLE_SET);
        if (!st)
            return MFA_ERROR;
        db_bind_blob_copy(st, 1, fresh, sizeof(fresh));
        db_bind_int64(st, 2, u->id);
        if (store_exec_done(st) != OG_OK)
            return MFA_ERROR;
    }
    return MFA_ERROR;
}

/* name made fit to store and show: control characters become spaces,
 * blanks are trimmed, the rest cut to WEBAUTHN_NAME_MAX bytes on a UTF-8
 * character boundary; "Passkey" when nothing is left. */
static void name_clean(const char *name, char out[WEBAUTHN_NAME_MAX + 1])
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; p++) {
        if (n == 0 && (*p == ' ' || *p < 0x20 || *p == 0x7f))
            continue;
        if (n == WEBAUTHN_NAME_MAX)
            break;
        out[n++] = (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p;
    }
    /* A multi-byte character cut in two loses its first bytes too. */
    if (n == WEBAUTHN_NAME_MAX) {
        size_t start = n;
        while (start > 0 && ((unsigned char)out[start - 1] & 0xc0) == 0x80)
            start--;
        if (start > 0 && ((unsigned char)out[start - 1] & 0x80)) {
            unsigned char lead = (unsigned char)out[start - 1];
            size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
            if (n - (start - 1) < want)
                n = start - 1;
        }
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    if (n == 0)
        snprintf(out, WEBAUTHN_NAME_MAX + 1, "%s", "Passkey");
}

static enum mfa_result step_done(db_stmt *st)
{
    return store_exec_done(st) == OG_OK ? MFA_OK : MFA_ERROR;
}

enum mfa_result webauthn_credential_add(const struct mfa_ctx *c, struct mfa_user *u,
                                        const char *rp_id, const struct webauthn_credential *cred,
                                        const char *name, struct mfa_factor *f)
{
    if (!(c->pol->factors & FACTOR_BIT_WEBAUTHN))
        return MFA_NOT_ALLOWED;
    if (cred->id_len == 0 || cred->public_key_len == 0)
        return MFA_INVALID;
    db_stmt *st = store_stmt(c->store, SQL_CRED_EXISTS);
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, rp_id, -1);
    db_bind_blob(st, 2, cred->id, (int)cred->id_len);
    int rc = db_step(st);
    db_reset(st);
    if (rc == DB_ROW)
        return MFA_CONFLICT;
    if (rc != DB_DONE)
        return MFA_ERROR;

    memset(f, 0, sizeof(*f));
    random_id("f_", f->id, sizeof(f->id));
    f->type = FACTOR_WEBAUTHN;
    f->last_step = -1;
    f->created_at = c->now_ms;
    st = store_stmt(c->store, SQL_FACTOR_INSERT);
    if (!st)
        return MFA_ERROR;
    u->no_factors = false;
    db_bind_text(st, 1, f->id, -1);
    db_bind_int64(st, 2, u->id);
    db_bind_int64(st, 3, c->now_ms);
    if (step_done(st) != MFA_OK)
        return MFA_ERROR;

    char clean[WEBAUTHN_NAME_MAX + 1];
    name_clean(name, clean);
    char transports[96];
    if (webauthn_transports_format(cred->transports, transports, sizeof(transports)) < 0)
        transports[0] = '\0';
    st = store_stmt(c->store, SQL_CRED_INSERT);
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, f->id, -1);
    db_bind_text(st, 2, rp_id, -1);
    db_bind_blob(st, 3, cred->id, (int)cred->id_len);
    db_bind_blob(st, 4, cred->public_key, (int)cred->public_key_len);
    db_bind_int(st, 5, cred->alg);
    db_bind_int64(st, 6, cred->sign_count);
    db_bind_blob(st, 7, cred->aaguid, sizeof(cred->aaguid));
    db_bind_int(st, 8, cred->uv);
    db_bind_int(st, 9, cred->be);
    db_bind_int(st, 10, cred->bs);
    db_bind_text(st, 11, transports, -1);
    db_bind_text(st, 12, cred->fmt, -1);
    db_bind_text(st, 13, clean, -1);
    if (step_done(st) != MFA_OK)
        return MFA_ERROR;
    audit_log_user(c, u, "factor_added", f->id, "webauthn");
    factors_activate(c, u, f);
    return MFA_OK;
}

static void blob_copy(db_stmt *st, int col, uint8_t *dst, size_t cap, size_t *len)
{
    size_t n = (size_t)db_column_bytes(st, col);
    const void *p = db_column_blob(st, col);
    if (n > cap || !p)
        n = 0;
    if (n)
        memcpy(dst, p, n);
    if (len)
        *len = n;
}

static void text_copy(db_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *t = db_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static void row_to_stored(db_stmt *st, struct webauthn_stored *s)
{
    memset(s, 0, sizeof(*s));
    text_copy(st, 0, s->factor_id, sizeof(s->factor_id));
    s->user_id = db_column_int64(st, 1);
    text_copy(st, 2, s->sub, sizeof(s->sub));
    text_copy(st, 3, s->name, sizeof(s->name));
    s->created_at = db_column_int64(st, 4);
    s->last_used_at = db_column_int64(st, 5);
    struct webauthn_credential *w = &s->cred;
    blob_copy(st, 6, w->id, sizeof(w->id), &w->id_len);
    blob_copy(st, 7, w->public_key, sizeof(w->public_key), &w->public_key_len);
    w->alg = db_column_int(st, 8);
    w->sign_count = (uint32_t)db_column_int64(st, 9);
    size_t aaguid_len = 0;
    blob_copy(st, 10, w->aaguid, sizeof(w->aaguid), &aaguid_len);
    w->uv = db_column_int(st, 11) != 0;
    w->be = db_column_int(st, 12) != 0;
    w->bs = db_column_int(st, 13) != 0;
    const unsigned char *t = db_column_text(st, 14);
    w->transports = webauthn_transports_parse(t ? (const char *)t : "");
    text_copy(st, 15, w->fmt, sizeof(w->fmt));
}

enum mfa_result webauthn_credential_each(const struct mfa_ctx *c, const struct mfa_user *u,
                                         const char *rp_id,
                                         void (*fn)(const struct webauthn_stored *s, void *arg),
                                         void *arg)
{
    db_stmt *st = store_stmt(c->store, SQL_EACH);
    if (!st)
        return MFA_ERROR;
    db_bind_int64(st, 1, u->id);
    db_bind_text(st, 2, rp_id, -1);
    struct webauthn_stored *s = og_malloc(sizeof(*s)); /* ~1.7 KiB: not on the stack per row */
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        row_to_stored(st, s);
        fn(s, arg);
    }
    db_reset(st);
    free(s);
    return rc == DB_DONE ? MFA_OK : MFA_ERROR;
}

enum mfa_result webauthn_credential_find(const struct mfa_ctx *c, const char *rp_id,
                                         const uint8_t *id, size_t id_len,
                                         struct webauthn_stored *out)
{
    if (!id || id_len == 0 || id_len > WEBAUTHN_CRED_ID_MAX)
        return MFA_NOT_FOUND;
    db_stmt *st = store_stmt(c->store, SQL_FIND);
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, rp_id, -1);
    db_bind_blob(st, 2, id, (int)id_len);
    db_bind_text(st, 3, c->app_id, -1);
    int rc = db_step(st);
    if (rc == DB_ROW)
        row_to_stored(st, out);
    db_reset(st);
    return rc == DB_ROW ? MFA_OK : rc == DB_DONE ? MFA_NOT_FOUND : MFA_ERROR;
}

enum mfa_result webauthn_credential_used(const struct mfa_ctx *c, const struct webauthn_stored *s,
                                         const struct webauthn_assertion *a)
{
    db_stmt *st = store_stmt(c->store, SQL_COUNTER);
    if (!st)
        return MFA_ERROR;
    db_bind_int64(st, 1, a->sign_count);
    db_bind_int(st, 2, a->bs);
    db_bind_text(st, 3, s->factor_id, -1);
    db_bind_int64(st, 4, s->cred.sign_count);
    if (step_done(st) != MFA_OK)
        return MFA_ERROR;
    if (store_changes(c->store) == 0)
        return MFA_CONFLICT;
    st = store_stmt(c->store, SQL_LAST_USED);
    if (!st)
        return MFA_ERROR;
    db_bind_int64(st, 1, c->now_ms);
    db_bind_text(st, 2, s->factor_id, -1);
    return step_done(st);
}

enum mfa_result webauthn_credential_name(const struct mfa_ctx *c, const char *factor_id,
                                         char out[WEBAUTHN_NAME_MAX + 1])
{
    out[0] = '\0';
    db_stmt *st = store_stmt(c->store, SQL_NAME);
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, factor_id, -1);
    int rc = db_step(st);
    if (rc == DB_ROW)
        text_copy(st, 0, out, WEBAUTHN_NAME_MAX + 1);
    db_reset(st);
    return rc == DB_ROW ? MFA_OK : rc == DB_DONE ? MFA_NOT_FOUND : MFA_ERROR;
}

enum mfa_result webauthn_credential_rename(const struct mfa_ctx *c, const struct mfa_user *u,
                                           const char *factor_id, const char *name)
{
    struct mfa_factor f;
    enum mfa_result r = factors_get(c, u, factor_id, &f);
    if (r != MFA_OK)
        return r;
    if (f.type != FACTOR_WEBAUTHN)
        return MFA_NOT_FOUND;
    char clean[WEBAUTHN_NAME_MAX + 1];
    name_clean(name, clean);
    db_stmt *st = store_stmt(c->store, SQL_RENAME);
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, clean, -1);
    db_bind_text(st, 2, f.id, -1);
    if (step_done(st) != MFA_OK)
        return MFA_ERROR;
    audit_log_user(c, u, "factor_renamed", f.id, "webauthn");
    return MFA_OK;
}

enum mfa_result webauthn_credential_remove(const struct mfa_ctx *c, struct mfa_user *u,
                                           const char *factor_id)
{
    struct mfa_factor f;
    enum mfa_result r = factors_get(c, u, factor_id, &f);
    if (r != MFA_OK)
        return r;
    if (f.type != FACTOR_WEBAUTHN)
        return MFA_NOT_FOUND;
    return factors_remove(c, u, factor_id);
}
