/* The admins, admin_sessions and admin_throttle tables, and scrypt password
 * hashing (OpenSSL's EVP_PBE_scrypt) for the console's accounts. Hashing
 * and verifying never touch the store, so they may run on any thread; the
 * rest runs on the store's thread. Never stores or logs a password or a
 * cookie value; plain copies are cleansed. */
#include "core/admins.h"

#include "core/jwt.h"
#include "core/log.h"
#include "core/secrets.h"
#include "core/sessions.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#define SALT_BYTES       16
#define DKEY_BYTES       32
#define CSRF_CHARS       43
#define KDF_MEM_MAX      (256ULL << 20) /* refuse stored parameters needing more */
#define THROTTLE_IDLE_MS (24LL * 3600 * 1000)

const struct admins_kdf admins_kdf_default = {15, 8, 1};

static const char SQL_PUT_EXISTS[] = "SELECT 1 FROM admins WHERE username = ?1";
static const char SQL_PUT_INSERT[] =
    "INSERT INTO admins (username, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)";
static const char SQL_PUT_UPDATE[] =
    "UPDATE admins SET password_hash = ?2, updated_at = ?3 WHERE username = ?1";
static const char SQL_END_SESSIONS[] = "DELETE FROM admin_sessions WHERE username = ?1";
static const char SQL_GET_HASH[] = "SELECT password_hash FROM admins WHERE username = ?1";
static const char SQL_TOUCH_LOGIN[] = "UPDATE admins SET last_login_at = ?2 WHERE username = ?1";
static const char SQL_COUNT[] = "SELECT count(*) FROM admins";
static const char SQL_SESSION_INSERT[] =
    "INSERT INTO admin_sessions (id_hash, username, created_at, expires_at, last_seen, client_ip) "
    "VALUES (?1, ?2, ?3, ?4, ?3, ?5)";
static const char SQL_SESSION_LOAD[] =
    "SELECT s.username, s.created_at, s.expires_at FROM admin_sessions s JOIN admins a "
    "ON a.username = s.username WHERE s.id_hash = ?1 AND s.expires_at > ?2";
static const char SQL_SESSION_DELETE[] = "DELETE FROM admin_sessions WHERE id_hash = ?1";
static const char SQL_PRUNE_SESSIONS[] = "DELETE FROM admin_sessions WHERE expires_at <= ?1";
static const char SQL_PRUNE_THROTTLE[] =
    "DELETE FROM admin_throttle WHERE updated_at <= ?1 AND retry_at <= ?2";
static const char SQL_THROTTLE_GET[] =
    "SELECT failures, retry_at, last_wait FROM admin_throttle WHERE key = ?1";
static const char SQL_THROTTLE_PUT[] =
    "INSERT INTO admin_throttle (key, failures, retry_at, last_wait, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key) DO UPDATE SET failures = ?2, "
    "retry_at = ?3, last_wait = ?4, updated_at = ?5";
static const char SQL_THROTTLE_CLEAR[] = "DELETE FROM admin_throttle WHERE key = ?1";
static const char SQL_REVEAL_PUT[] = "UPDATE admin_sessions SET reveal = ?2 WHERE id_hash = ?1";
static const char SQL_REVEAL_GET[] = "SELECT reveal FROM admin_sessions WHERE id_hash = ?1";
static const char SQL_EACH[] =
    "SELECT a.username, a.created_at, a.updated_at, a.last_login_at, (SELECT count(*) FROM "
    "admin_sessions s WHERE s.username = a.username AND s.expires_at > ?1) FROM admins a "
    "ORDER BY a.username";
static const char SQL_ADD[] =
    "INSERT INTO admins (username, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) "
    "ON CONFLICT (username) DO NOTHING";
static const char SQL_REMOVE[] = "DELETE FROM admins WHERE username = ?1";
static const char SQL_END_OTHER_SESSIONS[] =
    "DELETE FROM admin_sessions WHERE username = ?1 AND id_hash IS DISTINCT FROM ?2";

/* ---- names and passwords ---- */

bool admins_name_ok(const char *name)
{
    if (!name)
        return false;
    size_t n = strnlen(name, ADMINS_NAME_MAX + 1);
    if (n == 0 || n > ADMINS_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '@' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

int admins_password_check(const char *password, size_t len)
{
    if (!password)
        return OG_ERR_INVALID;
    if (len > ADMINS_PASSWORD_MAX)
        return OG_ERR_TOO_BIG;
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)password[i];
        if (c == 0)
            return OG_ERR_INVALID;
        if ((c & 0xC0) != 0x80) /* not a UTF-8 continuation byte: a new character */
            chars++;
    }
    return chars >= ADMINS_PASSWORD_MIN ? OG_OK : OG_ERR_INVALID;
}

static bool kdf_ok(const struct admins_kdf *k)
{
    if (k->ln < 1 || k->ln > 24 || k->r < 1 || k->r > 32 || k->p < 1 || k->p > 16)
        return false;
    uint64_t mem = 128ULL * k->r * ((1ULL << k->ln) + k->p);
    return mem <= KDF_MEM_MAX;
}

static int derive(const char *password, size_t len, const uint8_t *salt, size_t saltlen,
                  const struct admins_kdf *k, uint8_t out[DKEY_BYTES])
{
    uint64_t n = 1ULL << k->ln;
    uint64_t maxmem = 128ULL * k->r * (n + k->p + 2) + (1ULL << 20);
    if (EVP_PBE_scrypt(password ? password : "", len, salt, saltlen, n, k->r, k->p, maxmem, out,
                       DKEY_BYTES) != 1)
        return OG_ERR_CRYPTO;
    return OG_OK;
}

static int format_hash(const struct admins_kdf *k, const uint8_t *salt, const uint8_t *dkey,
                       char *out, size_t outlen)
{
    char *s = b64url_encode(salt, SALT_BYTES);
    char *h = b64url_encode(dkey, DKEY_BYTES);
    int n = snprintf(out, outlen, "$scrypt$ln=%u,r=%u,p=%u$%s$%s", k->ln, k->r, k->p, s, h);
    OPENSSL_cleanse(h, strlen(h));
    free(s);
    free(h);
    if (n < 0 || (size_t)n >= outlen) {
        if (outlen)
            out[0] = '\0';
        return OG_ERR_TOO_BIG;
    }
    return OG_OK;
}

int admins_password_hash(const char *password, size_t len, const struct admins_kdf *kdf, char *out,
                         size_t outlen)
{
    const struct admins_kdf *k = kdf ? kdf : &admins_kdf_default;
    if (!kdf_ok(k))
        return OG_ERR_INVALID;
    if (outlen < ADMINS_HASH_LEN)
        return OG_ERR_TOO_BIG;
    uint8_t salt[SALT_BYTES], dkey[DKEY_BYTES];
    random_bytes(salt, sizeof(salt));
    int rc = derive(password, len, salt, sizeof(salt), k, dkey);
    if (rc == OG_OK)
        rc = format_hash(k, salt, dkey, out, outlen);
    OPENSSL_cleanse(dkey, sizeof(dkey));
    return rc;
}

void admins_password_dummy(char *out, size_t outlen)
{
    uint8_t salt[SALT_BYTES], dkey[DKEY_BYTES];
    random_bytes(salt, sizeof(salt));
    random_bytes(dkey, sizeof(dkey));
    if (outlen < ADMINS_HASH_LEN ||
        format_hash(&admins_kdf_default, salt, dkey, out, outlen) != OG_OK) {
        log_error("admins_password_dummy: buffer too small");
        abort();
    }
}

/* Parses "NAME=<digits>" at *p up to the next ',' or '$' into *out. */
static bool param(const char **p, const char *name, unsigned *out)
{
    size_t n = strlen(name);
    if (strncmp(*p, name, n) != 0 || (*p)[n] != '=')
        return false;
    const char *d = *p + n + 1;
    unsigned v = 0;
    size_t digits = 0;
    while (*d >= '0' && *d <= '9' && digits < 4) {
        v = v * 10 + (unsigned)(*d - '0');
        d++;
        digits++;
    }
    if (digits == 0 || (*d >= '0' && *d <= '9'))
        return false;
    *out = v;
    *p = d;
    return true;
}

/* Splits a stored hash into its parameters, salt and derived key (both
 * malloc'd, the caller frees). */
static bool parse_hash(const char *stored, struct admins_kdf *k, uint8_t **salt, size_t *saltlen,
                       uint8_t **dkey, size_t *dkeylen)
{
    *salt = *dkey = NULL;
    static const char prefix[] = "$scrypt$";
    if (!stored || strncmp(stored, prefix, sizeof(prefix) - 1) != 0)
        return false;
    const char *p = stored + sizeof(prefix) - 1;
    if (!param(&p, "ln", &k->ln) || *p++ != ',' || !param(&p, "r", &k->r) || *p++ != ',' ||
        !param(&p, "p", &k->p) || *p++ != '$' || !kdf_ok(k))
        return false;
    const char *dollar = strchr(p, '$');
    if (!dollar || strchr(dollar + 1, '$'))
        return false;
    if (b64url_decode(p, (size_t)(dollar - p), salt, saltlen) != OG_OK)
        return false;
    if (b64url_decode(dollar + 1, strlen(dollar + 1), dkey, dkeylen) != OG_OK ||
        *dkeylen != DKEY_BYTES || *saltlen == 0) {
        free(*salt);
        free(*dkey);
        *salt = *dkey = NULL;
        return false;
    }
    return true;
}

bool admins_password_verify(const char *password, size_t len, const char *stored)
{
    struct admins_kdf k;
    uint8_t *salt = NULL, *want = NULL;
    size_t saltlen = 0, wantlen = 0;
    if (!parse_hash(stored, &k, &salt, &saltlen, &want, &wantlen))
        return false;
    uint8_t got[DKEY_BYTES];
    bool ok = derive(password, len, salt, saltlen, &k, got) == OG_OK &&
              CRYPTO_memcmp(got, want, DKEY_BYTES) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    OPENSSL_cleanse(want, wantlen);
    free(salt);
    free(want);
    return ok;
}

/* ---- accounts ---- */

int admins_put(struct store *s, const char *name, const char *stored, int64_t now_ms,
               bool *replaced)
{
    struct admins_kdf k;
    uint8_t *salt, *dkey;
    size_t saltlen, dkeylen;
    if (!admins_name_ok(name) || strlen(stored ? stored : "") >= ADMINS_HASH_LEN ||
        !parse_hash(stored, &k, &salt, &saltlen, &dkey, &dkeylen))
        return OG_ERR_INVALID;
    free(salt);
    free(dkey);

    db_stmt *st = store_stmt(s, SQL_PUT_EXISTS);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, name, -1);
    int src = db_step(st);
    db_reset(st);
    if (src != DB_ROW && src != DB_DONE)
        return store_step_err(src);
    bool exists = src == DB_ROW;

    st = store_stmt(s, exists ? SQL_PUT_UPDATE : SQL_PUT_INSERT);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, name, -1);
    db_bind_text(st, 2, stored, -1);
    db_bind_int64(st, 3, now_ms);
    int rc = store_exec_done(st);
    if (rc == OG_OK && exists) {
        /* A new password ends every session opened with the old one. */
        st = store_stmt(s, SQL_END_SESSIONS);
        if (!st)
            return OG_ERR_DB;
        db_bind_text(st, 1, name, -1);
        rc = store_exec_done(st);
    }
    if (rc == OG_OK && replaced)
        *replaced = exists;
    return rc;
}

int admins_get_hash(struct store *s, const char *name, char *out, size_t outlen)
{
    if (outlen)
        out[0] = '\0';
    if (!admins_name_ok(name))
        return OG_ERR_NOT_FOUND;
    if (outlen < ADMINS_HASH_LEN)
        return OG_ERR_TOO_BIG;
    db_stmt *st = store_stmt(s, SQL_GET_HASH);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, name, -1);
    int src = db_step(st);
    int rc;
    if (src == DB_ROW) {
        const unsigned char *t = db_column_text(st, 0);
        size_t n = (size_t)db_column_bytes(st, 0);
        if (t && n < outlen) {
            memcpy(out, t, n);
            out[n] = '\0';
            rc = OG_OK;
        } else {
            rc = OG_ERR_TOO_BIG;
        }
    } else {
        rc = src == DB_DONE ? OG_ERR_NOT_FOUND : store_step_err(src);
    }
    db_reset(st);
    return rc;
}

int admins_touch_login(struct store *s, const char *name, int64_t now_ms)
{
    db_stmt *st = store_stmt(s, SQL_TOUCH_LOGIN);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, name, -1);
    db_bind_int64(st, 2, now_ms);
    return store_exec_done(st);
}

int64_t admins_count(struct store *s)
{
    db_stmt *st = store_stmt(s, SQL_COUNT);
    if (!st)
        return OG_ERR_DB;
    int rc = db_step(st);
    int64_t n = rc == DB_ROW ? db_column_int64(st, 0) : store_step_err(rc);
    db_reset(st);
    return n;
}

int admins_each(struct store *s, int64_t now_ms,
                void (*fn)(const struct admin_account *a, void *arg), void *arg)
{
    db_stmt *st = store_stmt(s, SQL_EACH);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        struct admin_account a;
        memset(&a, 0, sizeof(a));
        const unsigned char *u = db_column_text(st, 0);
        snprintf(a.username, sizeof(a.username), "%s", u ? (const char *)u : "");
        a.created_at = db_column_int64(st, 1);
        a.updated_at = db_column_int64(st, 2);
        a.last_login_at = db_column_int64(st, 3);
        a.sessions = db_column_int64(st, 4);
        fn(&a, arg);
    }
    db_reset(st);
    return rc == DB_DONE ? OG_OK : store_step_err(rc);
}

/* Whether stored is a hash admins_password_hash could have written. */
static bool hash_ok(const char *stored)
{
    struct admins_kdf k;
    uint8_t *salt, *dkey;
    size_t saltlen, dkeylen;
    if (strlen(stored ? stored : "") >= ADMINS_HASH_LEN ||
        !parse_hash(stored, &k, &salt, &saltlen, &dkey, &dkeylen))
        return false;
    free(salt);
    free(dkey);
    return true;
}

int admins_add(struct store *s, const char *name, const char *stored, int64_t now_ms)
{
    if (!admins_name_ok(name) || !hash_ok(stored))
        return OG_ERR_INVALID;
    db_stmt *st = store_stmt(s, SQL_ADD);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, name, -1);
    db_bind_text(st, 2, stored, -1);
    db_bind_int64(st, 3, now_ms);
    int rc = store_exec_done(st);
    if (rc == OG_OK && store_changes(s) == 0)
        rc = OG_ERR_EXISTS;
    return rc;
}

int admins_remove(struct store *s, const char *name, const char *self)
{
    if (!admins_name_ok(name))
        return OG_ERR_NOT_FOUND;
    if (self && strcmp(name, self) == 0)
        return OG_ERR_PERM;
    db_stmt *st = store_stmt(s, SQL_PUT_EXISTS);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, name, -1);
    int src = db_step(st);
    db_reset(st);
    if (src == DB_DONE)
        return OG_ERR_NOT_FOUND;
    if (src != DB_ROW)
        return store_step_err(src);
    int64_t n = admins_count(s);
    if (n < 0)
        return (int)n;
    if (n <= 1)
        return OG_ERR_PERM;
    st = store_stmt(s, SQL_END_SESSIONS);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, name, -1);
    int rc = store_exec_done(st);
    if (rc != OG_OK)
        return rc;
    st = store_stmt(s, SQL_REMOVE);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, name, -1);
    return store_exec_done(st);
}

int admins_password_set(struct store *s, const char *name, const char *stored, int64_t now_ms,
                        const struct admin_session *keep)
{
    if (!admins_name_ok(name) || !hash_ok(stored))
        return OG_ERR_INVALID;
    db_stmt *st = store_stmt(s, SQL_PUT_UPDATE);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, name, -1);
    db_bind_text(st, 2, stored, -1);
    db_bind_int64(st, 3, now_ms);
    int rc = store_exec_done(st);
    if (rc == OG_OK && store_changes(s) == 0)
        rc = OG_ERR_NOT_FOUND;
    if (rc != OG_OK)
        return rc;
    st = store_stmt(s, SQL_END_OTHER_SESSIONS);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, name, -1);
    if (keep)
        db_bind_blob(st, 2, keep->id_hash, sizeof(keep->id_hash));
    else
        db_bind_null(st, 2);
    return store_exec_done(st);
}

/* ---- sessions ---- */

int admins_session_create(struct store *s, const char *name, const char *client_ip, int64_t now_ms,
                          int64_t ttl_ms, char *cookie, size_t cookielen, struct admin_session *out)
{
    memset(out, 0, sizeof(*out));
    if (cookielen < ADMINS_COOKIE_LEN)
        return OG_ERR_TOO_BIG;
    int64_t expires;
    if (!admins_name_ok(name) || ttl_ms <= 0 || __builtin_add_overflow(now_ms, ttl_ms, &expires))
        return OG_ERR_INVALID;
    char value[ADMINS_COOKIE_LEN];
    uint8_t id_hash[32];
    random_token(SESSIONS_COOKIE_BYTES, value, sizeof(value));
    sessions_cookie_hash(value, strlen(value), id_hash);

    db_stmt *st = store_stmt(s, SQL_SESSION_INSERT);
    int rc = OG_ERR_DB;
    if (st) {
        db_bind_blob(st, 1, id_hash, sizeof(id_hash));
        db_bind_text(st, 2, name, -1);
        db_bind_int64(st, 3, now_ms);
        db_bind_int64(st, 4, expires);
        if (client_ip && *client_ip)
            db_bind_text(st, 5, client_ip, -1);
        else
            db_bind_null(st, 5);
        rc = store_exec_done(st);
    }
    if (rc == OG_OK) {
        memcpy(out->id_hash, id_hash, sizeof(id_hash));
        snprintf(out->username, sizeof(out->username), "%s", name);
        out->created_at = now_ms;
        out->expires_at = expires;
        memcpy(cookie, value, ADMINS_COOKIE_LEN);
    }
    OPENSSL_cleanse(value, sizeof(value));
    return rc;
}

int admins_session_load(struct store *s, const char *cookie, size_t len, int64_t now_ms,
                        struct admin_session *out)
{
    memset(out, 0, sizeof(*out));
    if (!sessions_cookie_ok(cookie, len))
        return OG_ERR_NOT_FOUND;
    uint8_t id_hash[32];
    sessions_cookie_hash(cookie, len, id_hash);
    db_stmt *st = store_stmt(s, SQL_SESSION_LOAD);
    if (!st)
        return OG_ERR_DB;
    db_bind_blob(st, 1, id_hash, sizeof(id_hash));
    db_bind_int64(st, 2, now_ms);
    int src = db_step(st);
    int rc;
    if (src == DB_ROW) {
        const unsigned char *u = db_column_text(st, 0);
        size_t n = (size_t)db_column_bytes(st, 0);
        if (u && n > 0 && n < sizeof(out->username)) {
            memcpy(out->username, u, n);
            out->username[n] = '\0';
            memcpy(out->id_hash, id_hash, sizeof(id_hash));
            out->created_at = db_column_int64(st, 1);
            out->expires_at = db_column_int64(st, 2);
            rc = OG_OK;
        } else {
            rc = OG_ERR_NOT_FOUND;
        }
    } else {
        rc = src == DB_DONE ? OG_ERR_NOT_FOUND : store_step_err(src);
    }
    db_reset(st);
    if (rc != OG_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

int admins_session_delete(struct store *s, const struct admin_session *sess)
{
    db_stmt *st = store_stmt(s, SQL_SESSION_DELETE);
    if (!st)
        return OG_ERR_DB;
    db_bind_blob(st, 1, sess->id_hash, sizeof(sess->id_hash));
    return store_exec_done(st);
}

static void reveal_aad(const char *label, char *aad, size_t n)
{
    snprintf(aad, n, "admin-reveal:%s", label ? label : "");
}

/* Stores blob (NULL: clears) as the session's reveal column. */
static int reveal_store(struct store *s, const struct admin_session *sess, const uint8_t *blob,
                        size_t n)
{
    db_stmt *st = store_stmt(s, SQL_REVEAL_PUT);
    if (!st)
        return OG_ERR_DB;
    db_bind_blob(st, 1, sess->id_hash, sizeof(sess->id_hash));
    if (blob)
        db_bind_blob(st, 2, blob, (int)n);
    else
        db_bind_null(st, 2);
    return store_exec_done(st);
}

int admins_reveal_put(struct store *s, const struct keyring *k, const struct admin_session *sess,
                      const char *label, const char *secret)
{
    char aad[96];
    reveal_aad(label, aad, sizeof(aad));
    uint8_t *sealed = NULL;
    size_t n = 0;
    int rc = secret_seal(k->seal, (const uint8_t *)secret, strlen(secret), aad, &sealed, &n);
    if (rc == OG_OK)
        rc = reveal_store(s, sess, sealed, n);
    free(sealed);
    return rc;
}

int admins_reveal_take(struct store *s, const struct keyring *k, const struct admin_session *sess,
                       const char *label, char *out, size_t outlen)
{
    if (outlen)
        out[0] = '\0';
    db_stmt *st = store_stmt(s, SQL_REVEAL_GET);
    if (!st)
        return OG_ERR_DB;
    db_bind_blob(st, 1, sess->id_hash, sizeof(sess->id_hash));
    int src = db_step(st);
    uint8_t *blob = NULL;
    size_t n = 0;
    if (src == DB_ROW && db_column_type(st, 0) == DB_BLOB) {
        n = (size_t)db_column_bytes(st, 0);
        blob = og_malloc(n ? n : 1);
        memcpy(blob, db_column_blob(st, 0), n);
    }
    db_reset(st);
    if (src != DB_ROW && src != DB_DONE)
        return store_step_err(src);
    if (!blob)
        return OG_ERR_NOT_FOUND;
    char aad[96];
    reveal_aad(label, aad, sizeof(aad));
    uint8_t *plain = NULL;
    size_t plen = 0;
    int rc = secret_open(k->seal, blob, n, aad, &plain, &plen);
    free(blob);
    if (rc != OG_OK)
        return OG_ERR_NOT_FOUND;
    if (plen >= outlen) {
        rc = OG_ERR_TOO_BIG;
    } else {
        memcpy(out, plain, plen);
        out[plen] = '\0';
        rc = reveal_store(s, sess, NULL, 0);
        if (rc != OG_OK)
            OPENSSL_cleanse(out, outlen);
    }
    OPENSSL_cleanse(plain, plen);
    free(plain);
    return rc;
}

static void csrf_compute(const uint8_t key[32], const uint8_t id_hash[32], char out[CSRF_CHARS + 1])
{
    static const char label[] = "admin-csrf";
    uint8_t mac[32];
    hmac_sha256_parts(key, label, sizeof(label) - 1, id_hash, 32, NULL, 0, mac);
    char *b = b64url_encode(mac, sizeof(mac));
    memcpy(out, b, CSRF_CHARS + 1);
    OPENSSL_cleanse(b, CSRF_CHARS);
    free(b);
    OPENSSL_cleanse(mac, sizeof(mac));
}

void admins_csrf_token(const uint8_t key[32], const uint8_t id_hash[32], char *out, size_t outlen)
{
    if (outlen < ADMINS_CSRF_LEN) {
        log_error("admins_csrf_token: buffer too small");
        abort();
    }
    csrf_compute(key, id_hash, out);
}

bool admins_csrf_check(const uint8_t key[32], const uint8_t id_hash[32], const char *token,
                       size_t len)
{
    char want[CSRF_CHARS + 1];
    csrf_compute(key, id_hash, want);
    bool ok = token && len == CSRF_CHARS && CRYPTO_memcmp(want, token, CSRF_CHARS) == 0;
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}

int admins_prune(struct store *s, int64_t now_ms)
{
    db_stmt *st = store_stmt(s, SQL_PRUNE_SESSIONS);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    int rc = store_exec_done(st);
    if (rc != OG_OK)
        return rc;
    st = store_stmt(s, SQL_PRUNE_THROTTLE);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms - THROTTLE_IDLE_MS);
    db_bind_int64(st, 2, now_ms);
    return store_exec_done(st);
}

/* ---- login throttle ---- */

/* Reads key's row; a missing row is all zeros. */
static int throttle_get(struct store *s, const char *key, int64_t *failures, int64_t *retry_at,
                        int64_t *last_wait)
{
    *failures = *retry_at = *last_wait = 0;
    db_stmt *st = store_stmt(s, SQL_THROTTLE_GET);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, key, -1);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        *failures = db_column_int64(st, 0);
        *retry_at = db_column_int64(st, 1);
        *last_wait = db_column_int64(st, 2);
    }
    db_reset(st);
    return rc == DB_ROW || rc == DB_DONE ? OG_OK : store_step_err(rc);
}

int64_t admins_throttle_wait(struct store *s, const char *key, int64_t now_ms)
{
    int64_t failures, retry_at, last_wait;
    int rc = throttle_get(s, key, &failures, &retry_at, &last_wait);
    if (rc != OG_OK)
        return rc;
    return retry_at > now_ms ? (retry_at - now_ms + 999) / 1000 : 0;
}

int admins_throttle_fail(struct store *s, const char *key, const struct admins_throttle *t,
                         int64_t now_ms)
{
    int64_t failures, retry_at, last_wait;
    int rc = throttle_get(s, key, &failures, &retry_at, &last_wait);
    if (rc != OG_OK)
        return rc;
    failures++;
    if ((uint64_t)failures > t->free && t->wait_s > 0) {
        int64_t wait = last_wait ? last_wait * 2 : (int64_t)t->wait_s;
        if (wait > (int64_t)t->max_wait_s)
            wait = (int64_t)t->max_wait_s;
        last_wait = wait;
        retry_at = now_ms + wait * 1000;
    }
    db_stmt *st = store_stmt(s, SQL_THROTTLE_PUT);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, key, -1);
    db_bind_int64(st, 2, failures);
    db_bind_int64(st, 3, retry_at);
    db_bind_int64(st, 4, last_wait);
    db_bind_int64(st, 5, now_ms);
    return store_exec_done(st);
}

int admins_throttle_clear(struct store *s, const char *key)
{
    db_stmt *st = store_stmt(s, SQL_THROTTLE_CLEAR);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, key, -1);
    return store_exec_done(st);
}
