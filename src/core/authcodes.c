/* Authorization codes and access tokens: random values out, hashes in. */
#include "core/authcodes.h"

#include "core/jwt.h"
#include "core/secrets.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>

static void new_value(char *out, size_t outlen, uint8_t hash[32])
{
    uint8_t raw[32];
    random_bytes(raw, sizeof(raw));
    char *v = b64url_encode(raw, sizeof(raw));
    snprintf(out, outlen, "%s", v);
    SHA256((const unsigned char *)v, strlen(v), hash);
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(v, strlen(v));
    free(v);
}

static void copy(db_stmt *st, int col, char *out, size_t outlen)
{
    const unsigned char *t = db_column_text(st, col);
    snprintf(out, outlen, "%s", t ? (const char *)t : "");
}

int authcodes_create(struct store *s, const struct authcode *c, int64_t now_ms, int64_t ttl_ms,
                     char *out, size_t outlen)
{
    uint8_t h[32];
    new_value(out, outlen, h);
    db_stmt *st = store_stmt(
        s, "INSERT INTO auth_codes (code_hash, app_id, sub, redirect_uri, nonce, code_challenge, "
           "scope, amr, acr, auth_time, created_at, expires_at) VALUES (?, ?, ?, ?, NULLIF(?, ''), "
           "?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return OG_ERR_DB;
    db_bind_blob_copy(st, 1, h, sizeof(h));
    db_bind_text(st, 2, c->app_id, -1);
    db_bind_text(st, 3, c->sub, -1);
    db_bind_text(st, 4, c->redirect_uri, -1);
    db_bind_text(st, 5, c->nonce, -1);
    db_bind_text(st, 6, c->code_challenge, -1);
    db_bind_text(st, 7, c->scope, -1);
    db_bind_text(st, 8, c->amr, -1);
    db_bind_text(st, 9, c->acr, -1);
    db_bind_int64(st, 10, c->auth_time);
    db_bind_int64(st, 11, now_ms);
    db_bind_int64(st, 12, now_ms + ttl_ms);
    int rc = db_step(st);
    db_reset(st);
    return rc == DB_DONE ? OG_OK : OG_ERR_DB;
}

int authcodes_consume(struct store *s, const char *code, const char *app_id, int64_t now_ms,
                      struct authcode *c)
{
    uint8_t h[32];
    SHA256((const unsigned char *)code, strlen(code), h);
    db_stmt *st = store_stmt(
        s, "SELECT app_id, sub, redirect_uri, nonce, code_challenge, scope, amr, acr, auth_time, "
           "expires_at, used_at FROM auth_codes WHERE code_hash = ?");
    if (!st)
        return OG_ERR_DB;
    db_bind_blob_copy(st, 1, h, sizeof(h));
    if (db_step(st) != DB_ROW) {
        db_reset(st);
        return OG_ERR_NOT_FOUND;
    }
    memset(c, 0, sizeof(*c));
    copy(st, 0, c->app_id, sizeof(c->app_id));
    copy(st, 1, c->sub, sizeof(c->sub));
    copy(st, 2, c->redirect_uri, sizeof(c->redirect_uri));
    copy(st, 3, c->nonce, sizeof(c->nonce));
    copy(st, 4, c->code_challenge, sizeof(c->code_challenge));
    copy(st, 5, c->scope, sizeof(c->scope));
    copy(st, 6, c->amr, sizeof(c->amr));
    copy(st, 7, c->acr, sizeof(c->acr));
    c->auth_time = db_column_int64(st, 8);
    int64_t expires = db_column_int64(st, 9);
    bool used = db_column_type(st, 10) != DB_NULL;
    db_reset(st);
    if (strcmp(c->app_id, app_id) != 0)
        return OG_ERR_PERM;
    if (used)
        return OG_ERR_EXISTS;
    if (now_ms > expires)
        return OG_ERR_NOT_FOUND;
    /* Only the call that flips used_at from NULL gets the code. */
    st = store_stmt(s, "UPDATE auth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL");
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    db_bind_blob_copy(st, 2, h, sizeof(h));
    int rc = db_step(st);
    db_reset(st);
    if (rc != DB_DONE)
        return OG_ERR_DB;
    return store_changes(s) == 1 ? OG_OK : OG_ERR_EXISTS;
}

int authcodes_token_create(struct store *s, const char *app_id, const char *sub, const char *scope,
                           int64_t now_ms, int64_t ttl_ms, char *out, size_t outlen)
{
    uint8_t h[32];
    new_value(out, outlen, h);
    db_stmt *st = store_stmt(s, "INSERT INTO access_tokens (token_hash, app_id, sub, scope, "
                                "expires_at) VALUES (?, ?, ?, ?, ?)");
    if (!st)
        return OG_ERR_DB;
    db_bind_blob_copy(st, 1, h, sizeof(h));
    db_bind_text(st, 2, app_id, -1);
    db_bind_text(st, 3, sub, -1);
    db_bind_text(st, 4, scope, -1);
    db_bind_int64(st, 5, now_ms + ttl_ms);
    int rc = db_step(st);
    db_reset(st);
    return rc == DB_DONE ? OG_OK : OG_ERR_DB;
}

int authcodes_token_lookup(struct store *s, const char *token, int64_t now_ms, char *app_id,
                           size_t app_len, char *sub, size_t sub_len)
{
    uint8_t h[32];
    SHA256((const unsigned char *)token, strlen(token), h);
    db_stmt *st = store_stmt(
        s, "SELECT app_id, sub FROM access_tokens WHERE token_hash = ? AND expires_at >= ?");
    if (!st)
        return OG_ERR_DB;
    db_bind_blob_copy(st, 1, h, sizeof(h));
    db_bind_int64(st, 2, now_ms);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        copy(st, 0, app_id, app_len);
        copy(st, 1, sub, sub_len);
    }
    db_reset(st);
    return rc == DB_ROW ? OG_OK : OG_ERR_NOT_FOUND;
}

int authcodes_prune(struct store *s, int64_t now_ms)
{
    db_stmt *st = store_stmt(s, "DELETE FROM auth_codes WHERE expires_at < ?");
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms - 3600 * 1000);
    db_step(st);
    db_reset(st);
    st = store_stmt(s, "DELETE FROM access_tokens WHERE expires_at < ?");
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    db_step(st);
    db_reset(st);
    return OG_OK;
}
