/* The sessions and used_jti tables: sessions found by the SHA-256 of their
 * cookie value, rotation of that value, expiry and pruning, one-time jti
 * values per app, and CSRF tokens derived from a session's id hash. Never
 * stores or logs a cookie value; plain copies are cleansed. */
#include "core/sessions.h"

#include "core/jwt.h"
#include "core/log.h"
#include "core/secrets.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define COOKIE_CHARS 43 /* base64url of SESSIONS_COOKIE_BYTES */
#define CSRF_CHARS   43

static const char SQL_INSERT[] =
    "INSERT INTO sessions (id_hash, app_id, sub, purpose, return_to, state, flow, locale, "
    "created_at, expires_at, last_seen, passed_at, stepup_at, amr, challenge_id, pending_factor, "
    "flags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";
static const char SQL_LOAD[] =
    "SELECT app_id, sub, purpose, return_to, state, flow, locale, created_at, expires_at, "
    "last_seen, passed_at, stepup_at, amr, challenge_id, pending_factor, flags, reveal "
    "FROM sessions "
    "WHERE id_hash = ?1 AND expires_at > ?2";
static const char SQL_TOUCH[] = "UPDATE sessions SET last_seen = ?2 WHERE id_hash = ?1";
static const char SQL_SAVE[] =
    "UPDATE sessions SET locale = ?2, passed_at = ?3, stepup_at = ?4, amr = ?5, "
    "challenge_id = ?6, pending_factor = ?7, flow = ?8, expires_at = ?9, flags = ?10, "
    "reveal = ?11 WHERE id_hash = ?1";
static const char SQL_ROTATE[] = "UPDATE sessions SET id_hash = ?2 WHERE id_hash = ?1";
static const char SQL_DELETE[] = "DELETE FROM sessions WHERE id_hash = ?1";
static const char SQL_PRUNE_SESSIONS[] = "DELETE FROM sessions WHERE expires_at <= ?1";
static const char SQL_PRUNE_JTI[] = "DELETE FROM used_jti WHERE expires_at <= ?1";
/* DO NOTHING rather than a refused insert: PostgreSQL would abort the
 * caller's transaction on the failed statement. */
static const char SQL_JTI[] = "INSERT INTO used_jti (jti, app_id, expires_at) VALUES (?1, ?2, ?3) "
                              "ON CONFLICT DO NOTHING";

void sessions_cookie_hash(const char *cookie, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    if (EVP_Digest(cookie, n, out, &len, EVP_sha256(), NULL) != 1) {
        log_error("SHA-256 failed"); /* OpenSSL is unusable: nothing sensible is left */
        abort();
    }
}

bool sessions_cookie_ok(const char *cookie, size_t n)
{
    if (!cookie || n != COOKIE_CHARS)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = cookie[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

/* A fresh cookie value into cookie and its hash into id_hash. */
static void cookie_new(char cookie[SESSIONS_COOKIE_LEN], uint8_t id_hash[32])
{
    random_token(SESSIONS_COOKIE_BYTES, cookie, SESSIONS_COOKIE_LEN);
    sessions_cookie_hash(cookie, strlen(cookie), id_hash);
}

/* Whether a fixed-size field holds a NUL-terminated string. */
static bool field_ok(const char *f, size_t cap)
{
    return memchr(f, '\0', cap) != NULL;
}

#define FIELD_OK(f) field_ok((f), sizeof(f))

/* Binds s, or NULL for a NULL or empty string. */
static void bind_opt(db_stmt *st, int i, const char *s)
{
    if (s && *s)
        db_bind_text(st, i, s, -1);
    else
        db_bind_null(st, i);
}

static bool mutable_fields_ok(const struct session *sess)
{
    return FIELD_OK(sess->locale) && FIELD_OK(sess->amr) && FIELD_OK(sess->challenge_id) &&
           FIELD_OK(sess->pending_factor);
}

int sessions_create(struct store *s, struct session *in_out, int64_t now_ms, int64_t ttl_ms,
                    char *cookie, size_t cookielen)
{
    if (cookielen < SESSIONS_COOKIE_LEN)
        return OG_ERR_TOO_BIG;
    struct session *x = in_out;
    int64_t expires;
    if (ttl_ms <= 0 || __builtin_add_overflow(now_ms, ttl_ms, &expires))
        return OG_ERR_INVALID;
    if (!FIELD_OK(x->app_id) || !FIELD_OK(x->sub) || !FIELD_OK(x->purpose) || !x->app_id[0] ||
        !x->sub[0] || !mutable_fields_ok(x))
        return OG_ERR_INVALID;
    if (strcmp(x->purpose, "login") != 0 && strcmp(x->purpose, "manage") != 0)
        return OG_ERR_INVALID;

    char value[SESSIONS_COOKIE_LEN];
    uint8_t id_hash[32];
    cookie_new(value, id_hash);

    db_stmt *st = store_stmt(s, SQL_INSERT);
    if (!st) {
        OPENSSL_cleanse(value, sizeof(value));
        return OG_ERR_DB;
    }
    db_bind_blob(st, 1, id_hash, sizeof(id_hash));
    db_bind_text(st, 2, x->app_id, -1);
    db_bind_text(st, 3, x->sub, -1);
    db_bind_text(st, 4, x->purpose, -1);
    bind_opt(st, 5, x->return_to);
    bind_opt(st, 6, x->state);
    bind_opt(st, 7, x->flow);
    bind_opt(st, 8, x->locale);
    db_bind_int64(st, 9, now_ms);
    db_bind_int64(st, 10, expires);
    db_bind_int64(st, 11, now_ms);
    db_bind_int64(st, 12, x->passed_at);
    db_bind_int64(st, 13, x->stepup_at);
    bind_opt(st, 14, x->amr);
    bind_opt(st, 15, x->challenge_id);
    bind_opt(st, 16, x->pending_factor);
    db_bind_int64(st, 17, (int64_t)x->flags);
    int rc = store_exec_done(st);
    if (rc == OG_OK) {
        memcpy(x->id_hash, id_hash, sizeof(id_hash));
        x->created_at = x->last_seen = now_ms;
        x->expires_at = expires;
        memcpy(cookie, value, SESSIONS_COOKIE_LEN);
    }
    OPENSSL_cleanse(value, sizeof(value));
    return rc;
}

/* Copies a text column into a fixed buffer ("" for NULL); false when it
 * does not fit. */
static bool col_fixed(db_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = db_column_text(st, i);
    size_t n = (size_t)db_column_bytes(st, i);
    if (!t) {
        dst[0] = '\0';
        return true;
    }
    if (n >= cap)
        return false;
    memcpy(dst, t, n);
    dst[n] = '\0';
    return true;
}

/* A malloc'd copy of a text column, or NULL for NULL. */
static char *col_dup(db_stmt *st, int i)
{
    const unsigned char *t = db_column_text(st, i);
    if (!t)
        return NULL;
    return og_strndup((const char *)t, (size_t)db_column_bytes(st, i));
}

#define COL_FIXED(st, i, f) col_fixed((st), (i), (f), sizeof(f))

int sessions_load(struct store *s, const char *cookie, int64_t now_ms, struct session *out)
{
    memset(out, 0, sizeof(*out));
    if (!cookie || !sessions_cookie_ok(cookie, strnlen(cookie, COOKIE_CHARS + 1)))
        return OG_ERR_NOT_FOUND;
    uint8_t id_hash[32];
    sessions_cookie_hash(cookie, COOKIE_CHARS, id_hash);

    db_stmt *st = store_stmt(s, SQL_LOAD);
    if (!st)
        return OG_ERR_DB;
    db_bind_blob(st, 1, id_hash, sizeof(id_hash));
    db_bind_int64(st, 2, now_ms);
    int src = db_step(st);
    int rc;
    if (src == DB_ROW) {
        memcpy(out->id_hash, id_hash, sizeof(id_hash));
        bool ok = COL_FIXED(st, 0, out->app_id) && COL_FIXED(st, 1, out->sub) &&
                  COL_FIXED(st, 2, out->purpose) && COL_FIXED(st, 6, out->locale) &&
                  COL_FIXED(st, 12, out->amr) && COL_FIXED(st, 13, out->challenge_id) &&
                  COL_FIXED(st, 14, out->pending_factor);
        out->return_to = col_dup(st, 3);
        out->state = col_dup(st, 4);
        out->flow = col_dup(st, 5);
        out->created_at = db_column_int64(st, 7);
        out->expires_at = db_column_int64(st, 8);
        out->last_seen = db_column_int64(st, 9);
        out->passed_at = db_column_int64(st, 10);
        out->stepup_at = db_column_int64(st, 11);
        out->flags = (unsigned)db_column_int64(st, 15);
        int rn = db_column_bytes(st, 16);
        const void *rb = db_column_blob(st, 16);
        if (rb && rn > 0) {
            out->reveal = og_malloc((size_t)rn);
            memcpy(out->reveal, rb, (size_t)rn);
            out->reveal_len = (size_t)rn;
        }
        rc = ok ? OG_OK : OG_ERR_INVALID;
    } else {
        rc = src == DB_DONE ? OG_ERR_NOT_FOUND : store_step_err(src);
    }
    db_reset(st);

    if (rc == OG_OK) {
        st = store_stmt(s, SQL_TOUCH);
        if (!st) {
            rc = OG_ERR_DB;
        } else {
            db_bind_blob(st, 1, id_hash, sizeof(id_hash));
            db_bind_int64(st, 2, now_ms);
            rc = store_exec_done(st);
        }
        if (rc == OG_OK)
            out->last_seen = now_ms;
    }
    if (rc != OG_OK) {
        sessions_free(out);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

int sessions_save(struct store *s, const struct session *sess)
{
    if (!mutable_fields_ok(sess))
        return OG_ERR_INVALID;
    db_stmt *st = store_stmt(s, SQL_SAVE);
    if (!st)
        return OG_ERR_DB;
    db_bind_blob(st, 1, sess->id_hash, sizeof(sess->id_hash));
    bind_opt(st, 2, sess->locale);
    db_bind_int64(st, 3, sess->passed_at);
    db_bind_int64(st, 4, sess->stepup_at);
    bind_opt(st, 5, sess->amr);
    bind_opt(st, 6, sess->challenge_id);
    bind_opt(st, 7, sess->pending_factor);
    bind_opt(st, 8, sess->flow);
    db_bind_int64(st, 9, sess->expires_at);
    db_bind_int64(st, 10, (int64_t)sess->flags);
    if (sess->reveal && sess->reveal_len)
        db_bind_blob(st, 11, sess->reveal, (int)sess->reveal_len);
    else
        db_bind_null(st, 11);
    int rc = store_exec_done(st);
    if (rc == OG_OK && store_changes(s) == 0)
        rc = OG_ERR_NOT_FOUND;
    return rc;
}

int sessions_rotate(struct store *s, struct session *sess, char *cookie, size_t cookielen)
{
    if (cookielen < SESSIONS_COOKIE_LEN)
        return OG_ERR_TOO_BIG;
    char value[SESSIONS_COOKIE_LEN];
    uint8_t id_hash[32];
    cookie_new(value, id_hash);
    db_stmt *st = store_stmt(s, SQL_ROTATE);
    int rc = OG_ERR_DB;
    if (st) {
        db_bind_blob(st, 1, sess->id_hash, sizeof(sess->id_hash));
        db_bind_blob(st, 2, id_hash, sizeof(id_hash));
        rc = store_exec_done(st);
        if (rc == OG_OK && store_changes(s) == 0)
            rc = OG_ERR_NOT_FOUND;
    }
    if (rc == OG_OK) {
        memcpy(sess->id_hash, id_hash, sizeof(id_hash));
        memcpy(cookie, value, SESSIONS_COOKIE_LEN);
    }
    OPENSSL_cleanse(value, sizeof(value));
    return rc;
}

int sessions_delete(struct store *s, const struct session *sess)
{
    db_stmt *st = store_stmt(s, SQL_DELETE);
    if (!st)
        return OG_ERR_DB;
    db_bind_blob(st, 1, sess->id_hash, sizeof(sess->id_hash));
    return store_exec_done(st);
}

void sessions_free(struct session *sess)
{
    if (!sess)
        return;
    free(sess->return_to);
    free(sess->state);
    free(sess->flow);
    sess->return_to = sess->state = sess->flow = NULL;
    if (sess->reveal)
        OPENSSL_cleanse(sess->reveal, sess->reveal_len);
    free(sess->reveal);
    sess->reveal = NULL;
    sess->reveal_len = 0;
}

int sessions_prune(struct store *s, int64_t now_ms)
{
    const char *const sqls[] = {SQL_PRUNE_SESSIONS, SQL_PRUNE_JTI};
    for (size_t i = 0; i < ARRAY_SIZE(sqls); i++) {
        db_stmt *st = store_stmt(s, sqls[i]);
        if (!st)
            return OG_ERR_DB;
        db_bind_int64(st, 1, now_ms);
        int rc = store_exec_done(st);
        if (rc != OG_OK)
            return rc;
    }
    return OG_OK;
}

int sessions_jti_use(struct store *s, const char *app_id, const char *jti, int64_t expires_at_ms)
{
    if (!app_id || !*app_id || !jti || !*jti ||
        strnlen(jti, SESSIONS_JTI_MAX + 1) > SESSIONS_JTI_MAX)
        return OG_ERR_INVALID;
    db_stmt *st = store_stmt(s, SQL_JTI);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, jti, -1);
    db_bind_text(st, 2, app_id, -1);
    db_bind_int64(st, 3, expires_at_ms);
    int rc = db_step(st);
    db_reset(st);
    if (rc == DB_DONE)
        return store_changes(s) > 0 ? OG_OK : OG_ERR_EXISTS;
    return store_step_err(rc);
}

/* The 43-char token into out[CSRF_CHARS + 1]. */
static void csrf_compute(const uint8_t key[32], const struct session *sess,
                         char out[CSRF_CHARS + 1])
{
    uint8_t mac[32];
    hmac_sha256_parts(key, sess->id_hash, sizeof(sess->id_hash), NULL, 0, NULL, 0, mac);
    char *b = b64url_encode(mac, sizeof(mac));
    memcpy(out, b, CSRF_CHARS + 1);
    OPENSSL_cleanse(b, CSRF_CHARS);
    free(b);
    OPENSSL_cleanse(mac, sizeof(mac));
}

void sessions_csrf_token(const uint8_t key[32], const struct session *sess, char *out,
                         size_t outlen)
{
    if (outlen < SESSIONS_CSRF_LEN) {
        log_error("sessions_csrf_token: buffer too small");
        abort();
    }
    csrf_compute(key, sess, out);
}

bool sessions_csrf_check(const uint8_t key[32], const struct session *sess, const char *token,
                         size_t len)
{
    char want[CSRF_CHARS + 1];
    csrf_compute(key, sess, want);
    /* The length is public (every token has 43 chars); the bytes are not. */
    bool ok = token && len == CSRF_CHARS && CRYPTO_memcmp(want, token, CSRF_CHARS) == 0;
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}
