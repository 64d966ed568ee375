/* The signing_keys table: generation and sealing of P-256 keys, the active
 * key opened for signing, rotation with a publication grace period, the
 * JWKS and pruning. The private key's DER exists in the clear only in
 * memory, briefly, and is cleansed before it is freed; it is never logged. */
#include "core/signing_keys.h"

#include "core/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

/* "signing:" + kid, the additional data a private key is sealed with. */
#define AAD_LEN (8 + JWT_KID_LEN)

static const char SQL_HAS_ACTIVE[] = "SELECT 1 FROM signing_keys WHERE retired_at IS NULL LIMIT 1";
static const char SQL_INSERT[] = "INSERT INTO signing_keys (kid, private_sealed, public_jwk, "
                                 "created_at) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_ACTIVE[] = "SELECT kid, private_sealed FROM signing_keys "
                                 "WHERE retired_at IS NULL "
                                 "ORDER BY created_at DESC, kid DESC LIMIT 1";
static const char SQL_RETIRE[] = "UPDATE signing_keys SET retired_at = ?1, expires_at = ?2 "
                                 "WHERE retired_at IS NULL";
static const char SQL_PUBLISHED[] = "SELECT public_jwk FROM signing_keys "
                                    "WHERE retired_at IS NULL OR expires_at > ?1 "
                                    "ORDER BY created_at DESC, kid DESC";
static const char SQL_PRUNE[] = "DELETE FROM signing_keys WHERE retired_at IS NOT NULL "
                                "AND (expires_at IS NULL OR expires_at <= ?1)";

static void make_aad(const char *kid, char aad[AAD_LEN])
{
    snprintf(aad, AAD_LEN, "signing:%s", kid);
}

/* Starts a transaction unless the caller already holds one; *own says
 * whether this call must end it. */
static int tx_begin(struct store *s, bool *own)
{
    *own = !store_in_transaction(s);
    return *own ? store_begin(s) : OG_OK;
}

static int tx_end(struct store *s, bool own, int rc)
{
    if (!own)
        return rc;
    if (rc == OG_OK)
        return store_commit(s);
    store_rollback(s);
    return rc;
}

/* Generates a key, seals it and inserts it as active; kid gets its id. */
static int key_insert(struct store *s, const struct keyring *k, int64_t now_ms,
                      char kid[JWT_KID_LEN])
{
    EVP_PKEY *key = jwt_ec_generate();
    if (!key)
        return OG_ERR_CRYPTO;
    uint8_t *der = NULL, *sealed = NULL;
    size_t der_len = 0, sealed_len = 0;
    char *jwk_text = NULL;
    int rc = jwt_ec_kid(key, kid, JWT_KID_LEN);
    if (rc == OG_OK)
        rc = jwt_ec_export(key, &der, &der_len);
    if (rc == OG_OK) {
        char aad[AAD_LEN];
        make_aad(kid, aad);
        rc = secret_seal(k->seal, der, der_len, aad, &sealed, &sealed_len);
    }
    if (der) {
        OPENSSL_cleanse(der, der_len);
        free(der);
    }
    if (rc == OG_OK) {
        json_t *jwk = jwt_ec_public_jwk(key);
        jwk_text = jwk ? json_dumps(jwk, JSON_COMPACT) : NULL;
        json_decref(jwk);
        if (!jwk_text)
            rc = OG_ERR_CRYPTO;
    }
    EVP_PKEY_free(key);
    if (rc == OG_OK) {
        db_stmt *st = store_stmt(s, SQL_INSERT);
        if (!st) {
            rc = OG_ERR_DB;
        } else {
            db_bind_text(st, 1, kid, -1);
            db_bind_blob(st, 2, sealed, (int)sealed_len);
            db_bind_text(st, 3, jwk_text, -1);
            db_bind_int64(st, 4, now_ms);
            int src = db_step(st);
            db_reset(st);
            rc = src == DB_DONE ? OG_OK : store_step_err(src);
        }
    }
    free(sealed);
    free(jwk_text);
    return rc;
}

int signing_keys_ensure(struct store *s, const struct keyring *k, int64_t now_ms)
{
    bool own;
    int rc = tx_begin(s, &own);
    if (rc != OG_OK)
        return rc;
    db_stmt *st = store_stmt(s, SQL_HAS_ACTIVE);
    if (!st) {
        rc = OG_ERR_DB;
    } else {
        int src = db_step(st);
        db_reset(st);
        if (src == DB_DONE) {
            char kid[JWT_KID_LEN];
            rc = key_insert(s, k, now_ms, kid);
            if (rc == OG_OK)
                log_info("signing key created", "kid", kid);
        } else if (src != DB_ROW) {
            rc = store_step_err(src);
        }
    }
    return tx_end(s, own, rc);
}

EVP_PKEY *signing_keys_active(struct store *s, const struct keyring *k, char *kid, size_t kidlen)
{
    if (kid && kidlen < JWT_KID_LEN)
        return NULL;
    db_stmt *st = store_stmt(s, SQL_ACTIVE);
    if (!st)
        return NULL;
    char id[JWT_KID_LEN];
    uint8_t *blob = NULL;
    size_t n = 0;
    int src = db_step(st);
    bool found = false;
    if (src == DB_ROW) {
        const unsigned char *t = db_column_text(st, 0);
        size_t tlen = (size_t)db_column_bytes(st, 0);
        const void *p = db_column_blob(st, 1);
        int len = db_column_bytes(st, 1);
        if (t && tlen < sizeof(id) && p && len > 0) {
            memcpy(id, t, tlen);
            id[tlen] = '\0';
            n = (size_t)len;
            blob = og_malloc(n);
            memcpy(blob, p, n);
            found = true;
        }
    } else if (src != DB_DONE) {
        log_error("signing key: read failed", "error", og_strerror(store_step_err(src)));
    }
    db_reset(st);
    if (!found)
        return NULL;

    char aad[AAD_LEN];
    make_aad(id, aad);
    uint8_t *der = NULL;
    size_t der_len = 0;
    EVP_PKEY *key = NULL;
    if (secret_open(k->seal, blob, n, aad, &der, &der_len) == OG_OK) {
        key = jwt_ec_import(der, der_len);
        OPENSSL_cleanse(der, der_len);
        free(der);
    }
    free(blob);
    if (!key) {
        log_error("signing key does not open under this master key", "kid", id);
        return NULL;
    }
    if (kid)
        snprintf(kid, kidlen, "%s", id);
    return key;
}

int signing_keys_rotate(struct store *s, const struct keyring *k, int64_t now_ms, int64_t keep_ms,
                        char *new_kid, size_t kidlen)
{
    int64_t expires;
    if (keep_ms < 0 || __builtin_add_overflow(now_ms, keep_ms, &expires))
        return OG_ERR_INVALID;
    if (new_kid && kidlen < JWT_KID_LEN)
        return OG_ERR_TOO_BIG;
    bool own;
    int rc = tx_begin(s, &own);
    if (rc != OG_OK)
        return rc;
    db_stmt *st = store_stmt(s, SQL_RETIRE);
    if (!st) {
        rc = OG_ERR_DB;
    } else {
        db_bind_int64(st, 1, now_ms);
        db_bind_int64(st, 2, expires);
        int src = db_step(st);
        db_reset(st);
        rc = src == DB_DONE ? OG_OK : store_step_err(src);
    }
    char kid[JWT_KID_LEN];
    if (rc == OG_OK)
        rc = key_insert(s, k, now_ms, kid);
    rc = tx_end(s, own, rc);
    if (rc == OG_OK) {
        log_info("signing key rotated", "kid", kid);
        if (new_kid)
            snprintf(new_kid, kidlen, "%s", kid);
    }
    return rc;
}

char *signing_keys_jwks(struct store *s, int64_t now_ms)
{
    db_stmt *st = store_stmt(s, SQL_PUBLISHED);
    if (!st)
        return NULL;
    db_bind_int64(st, 1, now_ms);
    json_t *keys = json_array();
    if (!keys)
        og_oom();
    bool ok = true;
    int src = DB_DONE;
    while (ok && (src = db_step(st)) == DB_ROW) {
        const char *t = (const char *)db_column_text(st, 0);
        size_t n = (size_t)db_column_bytes(st, 0);
        json_error_t jerr;
        json_t *jwk = t ? json_loadb(t, n, 0, &jerr) : NULL;
        if (!json_is_object(jwk)) {
            json_decref(jwk);
            ok = false;
        } else if (json_array_append_new(keys, jwk) != 0) {
            og_oom();
        }
    }
    if (ok && src != DB_DONE)
        ok = false;
    db_reset(st);
    char *out = NULL;
    if (ok) {
        json_t *doc = json_object();
        if (!doc || json_object_set_new(doc, "keys", keys) != 0)
            og_oom();
        keys = NULL; /* doc owns it now */
        out = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        if (!out)
            og_oom();
    } else {
        log_error("signing keys: JWKS could not be read");
    }
    json_decref(keys);
    return out;
}

int signing_keys_prune(struct store *s, int64_t now_ms)
{
    db_stmt *st = store_stmt(s, SQL_PRUNE);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    int src = db_step(st);
    db_reset(st);
    return src == DB_DONE ? OG_OK : store_step_err(src);
}
