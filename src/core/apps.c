/* The apps table: registration with validated redirect URIs, client secrets
 * sealed under the keyring's seal key, constant-time secret checks, rotation,
 * removal with everything that hangs off an app, and the admin listing.
 * Never logs, lists or stores a plain client secret; every plain copy it
 * makes is cleansed before it is freed. */
#include "core/apps.h"

#include "core/log.h"
#include "core/policy.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* "app:" + client_id, the additional data a secret is sealed with. */
#define AAD_LEN (4 + APPS_ID_LEN + 1)

static const char SQL_INSERT[] = "INSERT INTO apps (id, name, secret_sealed, redirect_uris, "
                                 "created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_GET[] = "SELECT name, redirect_uris, created_at FROM apps WHERE id = ?1";
static const char SQL_SEALED[] = "SELECT secret_sealed FROM apps WHERE id = ?1";
static const char SQL_ALL_SEALED[] = "SELECT id, secret_sealed FROM apps ORDER BY id";
static const char SQL_ROTATE[] = "UPDATE apps SET secret_sealed = ?2, secret_rotated_at = ?3 "
                                 "WHERE id = ?1";
static const char SQL_SET_NAME[] = "UPDATE apps SET name = ?2 WHERE id = ?1";
static const char SQL_SET_URIS[] = "UPDATE apps SET redirect_uris = ?2 WHERE id = ?1";
static const char SQL_DELETE_APP[] = "DELETE FROM apps WHERE id = ?1";
static const char SQL_DELETE_POLICY[] = "DELETE FROM policy WHERE scope = ?1";
/* In the order they were added: apps added in the same millisecond keep
 * their order on SQLite (rowid); PostgreSQL has no insertion order, so
 * there such ties go by id. */
#define SQL_LIST_(tie)                                                                             \
    "SELECT a.id, a.name, a.redirect_uris, a.created_at, p.value, a.webhook_url "                  \
    "FROM apps a LEFT JOIN policy p ON p.scope = a.id AND p.key = 'mode' "                         \
    "ORDER BY a.created_at, " tie
static const char *const SQL_LIST[2] = {SQL_LIST_("a.rowid"), SQL_LIST_("a.id")};

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void make_aad(const char *id, char aad[AAD_LEN])
{
    snprintf(aad, AAD_LEN, "app:%s", id);
}

/* ---- redirect URIs ---- */

static bool ascii_eq_nocase(const char *a, size_t n, const char *b)
{
    return strlen(b) == n && span_eq_nocase(span_make(a, n), span_make(b, n));
}

static bool host_char(char c, bool bracketed)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    if (bracketed)
        return c == ':' || c == '.';
    return c == '-' || c == '.' || c == '_' || c == '~' || c == '%';
}

static int check_uri(const char *what, const char *uri, char *err, size_t errlen)
{
    size_t len = strlen(uri);
    if (len == 0) {
        set_err(err, errlen, "%s: empty; give an absolute https:// URI", what);
        return OG_ERR_INVALID;
    }
    if (len > APPS_URI_MAX) {
        set_err(err, errlen, "%s: longer than %d characters", what, APPS_URI_MAX);
        return OG_ERR_INVALID;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c <= 0x20 || c >= 0x7f) {
            set_err(err, errlen,
                    "%s '%.80s': only printable ASCII without spaces is allowed "
                    "(percent-encode the rest)",
                    what, uri);
            return OG_ERR_INVALID;
        }
    }
    if (strchr(uri, '#')) {
        set_err(err, errlen, "%s '%.80s': must not have a fragment (#...)", what, uri);
        return OG_ERR_INVALID;
    }
    bool https;
    const char *rest;
    if (len >= 8 && ascii_eq_nocase(uri, 8, "https://")) {
        https = true;
        rest = uri + 8;
    } else if (len >= 7 && ascii_eq_nocase(uri, 7, "http://")) {
        https = false;
        rest = uri + 7;
    } else {
        set_err(err, errlen, "%s '%.80s': must be an absolute https:// URI", what, uri);
        return OG_ERR_INVALID;
    }
    size_t alen = strcspn(rest, "/?");
    if (memchr(rest, '@', alen)) {
        set_err(err, errlen, "%s '%.80s': must not hold user info (user@host)", what, uri);
        return OG_ERR_INVALID;
    }
    /* Split the authority into host and optional port. */
    size_t hlen;
    bool bracketed = alen > 0 && rest[0] == '[';
    if (bracketed) {
        const char *close = memchr(rest, ']', alen);
        hlen = close ? (size_t)(close - rest) + 1 : 0;
        if (hlen < 3) {
            set_err(err, errlen, "%s '%.80s': the IPv6 host needs [brackets]", what, uri);
            return OG_ERR_INVALID;
        }
    } else {
        const char *colon = memchr(rest, ':', alen);
        hlen = colon ? (size_t)(colon - rest) : alen;
    }
    if (hlen == 0) {
        set_err(err, errlen, "%s '%.80s': has no host", what, uri);
        return OG_ERR_INVALID;
    }
    for (size_t i = bracketed ? 1 : 0; i < (bracketed ? hlen - 1 : hlen); i++) {
        if (!host_char(rest[i], bracketed)) {
            set_err(err, errlen, "%s '%.80s': the host has a character not allowed there", what,
                    uri);
            return OG_ERR_INVALID;
        }
    }
    if (hlen < alen) {
        long long port;
        if (rest[hlen] != ':' ||
            og_parse_int(span_make(rest + hlen + 1, alen - hlen - 1), 1, 65535, &port) != OG_OK ||
            rest[hlen + 1] == '-') {
            set_err(err, errlen, "%s '%.80s': the port must be a number from 1 to 65535", what,
                    uri);
            return OG_ERR_INVALID;
        }
    }
    if (!https && !ascii_eq_nocase(rest, hlen, "localhost") &&
        !ascii_eq_nocase(rest, hlen, "127.0.0.1") && !ascii_eq_nocase(rest, hlen, "[::1]")) {
        set_err(err, errlen,
                "%s '%.80s': http:// is allowed only for localhost, 127.0.0.1 and "
                "[::1]; use https://",
                what, uri);
        return OG_ERR_INVALID;
    }
    return OG_OK;
}

int apps_check_redirect_uri(const char *uri, char *err, size_t errlen)
{
    return check_uri("redirect URI", uri, err, errlen);
}

int apps_check_webhook_url(const char *url, char *err, size_t errlen)
{
    return check_uri("webhook URL", url, err, errlen);
}

/* ---- secrets ---- */

/* A fresh secret in out (>= APPS_SECRET_LEN) and its sealed form in *sealed
 * (malloc'd, the caller's). On failure out is cleansed. */
static int secret_new(const struct keyring *k, const char *id, char *out, uint8_t **sealed,
                      size_t *sealedlen)
{
    char aad[AAD_LEN];
    make_aad(id, aad);
    random_token(APPS_SECRET_BYTES, out, APPS_SECRET_LEN);
    int rc = secret_seal(k->seal, (const uint8_t *)out, strlen(out), aad, sealed, sealedlen);
    if (rc != OG_OK) {
        OPENSSL_cleanse(out, APPS_SECRET_LEN);
        *sealed = NULL;
    }
    return rc;
}

/* Copies the app's sealed secret into a malloc'd *blob. 0, OG_ERR_NOT_FOUND
 * or a store error. */
static int sealed_get(struct store *s, const char *id, uint8_t **blob, size_t *n)
{
    *blob = NULL;
    *n = 0;
    db_stmt *st = store_stmt(s, SQL_SEALED);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, id, -1);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        const void *p = db_column_blob(st, 0);
        int len = db_column_bytes(st, 0);
        *n = len > 0 ? (size_t)len : 0;
        *blob = og_malloc(*n);
        if (*n)
            memcpy(*blob, p, *n);
    }
    db_reset(st);
    if (rc == DB_ROW)
        return OG_OK;
    return rc == DB_DONE ? OG_ERR_NOT_FOUND : store_step_err(rc);
}

/* SHA-256 fetched once per process rather than looked up by every digest
 * (EVP_sha256() is fetched again on each use). Any thread may hash. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    pthread_once(&sha256_once, sha256_fetch);
    if (!sha256_md || EVP_Digest(p, n, out, &len, sha256_md, NULL) != 1 || len != 32) {
        log_error("SHA-256 failed"); /* OpenSSL is unusable: nothing sensible is left */
        abort();
    }
}

void apps_secret_digest(const char *secret, size_t secret_len, uint8_t out[32])
{
    sha256(secret ? secret : "", secret ? secret_len : 0, out);
}

int apps_each_secret_digest(struct store *s, const struct keyring *k,
                            void (*fn)(const char *id, const uint8_t digest[32], bool opened,
                                       void *arg),
                            void *arg)
{
    db_stmt *st = store_stmt(s, SQL_ALL_SEALED);
    if (!st)
        return OG_ERR_DB;
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        const char *id = (const char *)db_column_text(st, 0);
        if (!id || strlen(id) >= APPS_ID_LEN)
            continue; /* no request can name it: apps_check_secret refuses such ids too */
        const uint8_t *blob = db_column_blob(st, 1);
        int len = db_column_bytes(st, 1);
        char aad[AAD_LEN];
        make_aad(id, aad);
        uint8_t *plain = NULL;
        size_t plen = 0;
        bool opened = blob && len > 0 &&
                      secret_open(k->seal, blob, (size_t)len, aad, &plain, &plen) == OG_OK && plain;
        uint8_t digest[32] = {0};
        if (opened)
            sha256(plain, plen, digest);
        if (plain) {
            OPENSSL_cleanse(plain, plen);
            free(plain);
        }
        fn(id, digest, opened, arg);
        OPENSSL_cleanse(digest, sizeof(digest));
    }
    db_reset(st);
    return rc == DB_DONE ? OG_OK : store_step_err(rc);
}

bool apps_check_secret(struct store *s, const struct keyring *k, const char *id, const char *secret,
                       size_t secret_len)
{
    /* Sized like a real sealed secret so opening it costs the same; its
     * version byte is right, so the GCM work runs and the tag fails. */
    static const uint8_t dummy[SEAL_OVERHEAD + 43] = {SEAL_VERSION};
    uint8_t *blob = NULL;
    size_t n = 0;
    bool found = id && strlen(id) < APPS_ID_LEN && sealed_get(s, id, &blob, &n) == OG_OK;
    char aad[AAD_LEN];
    make_aad(id ? id : "", aad);

    uint8_t *plain = NULL;
    size_t plen = 0;
    int rc =
        secret_open(k->seal, found ? blob : dummy, found ? n : sizeof(dummy), aad, &plain, &plen);
    bool opened = rc == OG_OK && plain;

    uint8_t want[32], got[32];
    sha256(opened ? (const void *)plain : (const void *)dummy, opened ? plen : 43, want);
    sha256(secret ? secret : "", secret ? secret_len : 0, got);
    bool ok = ct_equal(want, got, sizeof(want));

    if (plain) {
        OPENSSL_cleanse(plain, plen);
        free(plain);
    }
    free(blob);
    OPENSSL_cleanse(want, sizeof(want));
    OPENSSL_cleanse(got, sizeof(got));
    return found & opened & ok;
}

int apps_secret(struct store *s, const struct keyring *k, const char *id, char **secret)
{
    *secret = NULL;
    uint8_t *blob;
    size_t n;
    int rc = sealed_get(s, id, &blob, &n);
    if (rc != OG_OK)
        return rc;
    char aad[AAD_LEN];
    make_aad(id, aad);
    uint8_t *plain = NULL;
    size_t plen = 0;
    rc = secret_open(k->seal, blob, n, aad, &plain, &plen);
    free(blob);
    if (rc != OG_OK)
        return rc == OG_ERR_INVALID ? OG_ERR_CRYPTO : rc;
    char *out = og_malloc(plen + 1);
    memcpy(out, plain, plen);
    out[plen] = '\0';
    OPENSSL_cleanse(plain, plen);
    free(plain);
    *secret = out;
    return OG_OK;
}

/* ---- add, get, rotate, remove, list ---- */

static int check_name(const char *name, char *err, size_t errlen)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > APPS_NAME_MAX) {
        set_err(err, errlen, "name: give 1 to %d characters (--name NAME)", APPS_NAME_MAX);
        return OG_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f) {
            set_err(err, errlen, "name: control characters are not allowed");
            return OG_ERR_INVALID;
        }
    }
    json_t *probe = json_string(name); /* NULL unless valid UTF-8 */
    if (!probe) {
        set_err(err, errlen, "name: not valid UTF-8");
        return OG_ERR_INVALID;
    }
    json_decref(probe);
    return OG_OK;
}

/* The redirect URIs as a JSON array (duplicates dropped), or NULL with err. */
static char *uris_json(const char *const *uris, size_t n, char *err, size_t errlen)
{
    if (n == 0) {
        set_err(err, errlen, "redirect URI: give at least one (--redirect-uri URI)");
        return NULL;
    }
    if (n > APPS_MAX_URIS) {
        set_err(err, errlen, "redirect URI: at most %d per app", APPS_MAX_URIS);
        return NULL;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (apps_check_redirect_uri(uris[i], err, errlen) != OG_OK) {
            json_decref(arr);
            return NULL;
        }
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = strcmp(uris[i], uris[j]) == 0;
        if (!dup && json_array_append_new(arr, json_string(uris[i])) != 0)
            og_oom();
    }
    char *out = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!out)
        og_oom();
    return out;
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

int apps_add(struct store *s, const struct keyring *k, const char *name, const char *const *uris,
             size_t n, const char *policy_mode, char *client_id, size_t idlen, char *secret,
             size_t secretlen, char *err, size_t errlen)
{
    if (idlen < APPS_ID_LEN || secretlen < APPS_SECRET_LEN) {
        set_err(err, errlen, "apps_add: output buffers too small");
        return OG_ERR_TOO_BIG;
    }
    int rc = check_name(name, err, errlen);
    if (rc != OG_OK)
        return rc;
    if (policy_mode) {
        rc = policy_validate("mode", policy_mode, true, err, errlen);
        if (rc != OG_OK)
            return rc;
    }
    char *uris_text = uris_json(uris, n, err, errlen);
    if (!uris_text)
        return OG_ERR_INVALID;

    char id[APPS_ID_LEN];
    random_id("app_", id, sizeof(id));
    char plain[APPS_SECRET_LEN];
    uint8_t *sealed = NULL;
    size_t sealedlen = 0;
    rc = secret_new(k, id, plain, &sealed, &sealedlen);
    if (rc != OG_OK) {
        free(uris_text);
        set_err(err, errlen, "could not seal the client secret: %s", og_strerror(rc));
        return rc;
    }

    bool own;
    rc = tx_begin(s, &own);
    if (rc == OG_OK) {
        db_stmt *st = store_stmt(s, SQL_INSERT);
        if (!st) {
            rc = OG_ERR_DB;
        } else {
            db_bind_text(st, 1, id, -1);
            db_bind_text(st, 2, name, -1);
            db_bind_blob(st, 3, sealed, (int)sealedlen);
            db_bind_text(st, 4, uris_text, -1);
            db_bind_int64(st, 5, now_ms());
            int src = db_step(st);
            db_reset(st);
            rc = src == DB_DONE ? OG_OK : store_step_err(src);
        }
        if (rc == OG_OK && policy_mode)
            rc = policy_set(s, id, "mode", policy_mode, err, errlen);
        else if (rc != OG_OK)
            set_err(err, errlen, "could not save the app: %s", og_strerror(rc));
        if (rc == OG_OK) {
            rc = tx_end(s, own, rc);
            if (rc != OG_OK)
                set_err(err, errlen, "could not save the app: %s", og_strerror(rc));
        } else {
            tx_end(s, own, rc);
        }
    } else {
        set_err(err, errlen, "could not start a transaction: %s", og_strerror(rc));
    }
    free(sealed);
    free(uris_text);
    if (rc == OG_OK) {
        snprintf(client_id, idlen, "%s", id);
        snprintf(secret, secretlen, "%s", plain);
    }
    OPENSSL_cleanse(plain, sizeof(plain));
    return rc;
}

void apps_free(struct app *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->redirect_count; i++)
        free(a->redirect_uris[i]);
    free(a->redirect_uris);
    a->redirect_uris = NULL;
    a->redirect_count = 0;
}

int apps_get(struct store *s, const char *id, struct app *out)
{
    memset(out, 0, sizeof(*out));
    if (!id || strlen(id) >= sizeof(out->id))
        return OG_ERR_NOT_FOUND;
    db_stmt *st = store_stmt(s, SQL_GET);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, id, -1);
    int rc = db_step(st);
    if (rc != DB_ROW) {
        db_reset(st);
        return rc == DB_DONE ? OG_ERR_NOT_FOUND : store_step_err(rc);
    }
    snprintf(out->id, sizeof(out->id), "%s", id);
    const char *name = (const char *)db_column_text(st, 0);
    snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
    const char *uris = (const char *)db_column_text(st, 1);
    out->created_at = db_column_int64(st, 2);
    json_t *arr = uris ? json_loads(uris, 0, NULL) : NULL;
    db_reset(st);
    if (!json_is_array(arr)) {
        json_decref(arr);
        return OG_ERR_INVALID;
    }
    size_t count = json_array_size(arr);
    out->redirect_uris = og_calloc(count ? count : 1, sizeof(char *));
    for (size_t i = 0; i < count; i++) {
        const char *u = json_string_value(json_array_get(arr, i));
        if (u)
            out->redirect_uris[out->redirect_count++] = og_strdup(u);
    }
    json_decref(arr);
    return OG_OK;
}

int apps_rotate_secret(struct store *s, const struct keyring *k, const char *id, char *secret,
                       size_t secretlen)
{
    if (secretlen < APPS_SECRET_LEN)
        return OG_ERR_TOO_BIG;
    if (!id || strlen(id) >= APPS_ID_LEN)
        return OG_ERR_NOT_FOUND;
    char plain[APPS_SECRET_LEN];
    uint8_t *sealed = NULL;
    size_t sealedlen = 0;
    int rc = secret_new(k, id, plain, &sealed, &sealedlen);
    if (rc != OG_OK)
        return rc;
    db_stmt *st = store_stmt(s, SQL_ROTATE);
    if (!st) {
        rc = OG_ERR_DB;
    } else {
        db_bind_text(st, 1, id, -1);
        db_bind_blob(st, 2, sealed, (int)sealedlen);
        db_bind_int64(st, 3, now_ms());
        int src = db_step(st);
        db_reset(st);
        if (src != DB_DONE)
            rc = store_step_err(src);
        else if (store_changes(s) == 0)
            rc = OG_ERR_NOT_FOUND;
    }
    free(sealed);
    if (rc == OG_OK)
        snprintf(secret, secretlen, "%s", plain);
    OPENSSL_cleanse(plain, sizeof(plain));
    return rc;
}

/* Runs a cached statement binding id as ?1; *changes gets the rows touched. */
static int run_with_id(struct store *s, const char *sql, const char *id, int *changes)
{
    db_stmt *st = store_stmt(s, sql);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, id, -1);
    int rc = store_exec_done(st);
    if (rc == OG_OK && changes)
        *changes = (int)store_changes(s);
    return rc;
}

/* Runs an UPDATE binding id as ?1 and text as ?2; OG_ERR_NOT_FOUND when no
 * row changed. */
static int update_text(struct store *s, const char *sql, const char *id, const char *text)
{
    db_stmt *st = store_stmt(s, sql);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, id, -1);
    db_bind_text(st, 2, text, -1);
    int rc = store_exec_done(st);
    if (rc == OG_OK && store_changes(s) == 0)
        rc = OG_ERR_NOT_FOUND;
    return rc;
}

int apps_update(struct store *s, const char *id, const char *name, const char *const *uris,
                size_t n, char *err, size_t errlen)
{
    if (!id || strlen(id) >= APPS_ID_LEN) {
        set_err(err, errlen, "no such app");
        return OG_ERR_NOT_FOUND;
    }
    int rc = name ? check_name(name, err, errlen) : OG_OK;
    if (rc != OG_OK)
        return rc;
    char *uris_text = NULL;
    if (uris) {
        uris_text = uris_json(uris, n, err, errlen);
        if (!uris_text)
            return OG_ERR_INVALID;
    }
    bool own;
    rc = tx_begin(s, &own);
    if (rc == OG_OK && name)
        rc = update_text(s, SQL_SET_NAME, id, name);
    if (rc == OG_OK && uris_text)
        rc = update_text(s, SQL_SET_URIS, id, uris_text);
    if (rc == OG_OK && !name && !uris_text) {
        struct app a;
        rc = apps_get(s, id, &a);
        apps_free(&a);
        if (rc == OG_ERR_INVALID)
            rc = OG_OK;
    }
    rc = tx_end(s, own, rc);
    free(uris_text);
    if (rc == OG_ERR_NOT_FOUND)
        set_err(err, errlen, "no such app");
    else if (rc != OG_OK)
        set_err(err, errlen, "could not save the app: %s", og_strerror(rc));
    return rc;
}

int apps_remove(struct store *s, const char *id)
{
    if (!id || strlen(id) >= APPS_ID_LEN)
        return OG_ERR_NOT_FOUND;
    bool own;
    int rc = tx_begin(s, &own);
    if (rc != OG_OK)
        return rc;
    int changes = 0;
    rc = run_with_id(s, SQL_DELETE_APP, id, &changes);
    if (rc == OG_OK && changes == 0)
        rc = OG_ERR_NOT_FOUND;
    if (rc == OG_OK)
        rc = run_with_id(s, SQL_DELETE_POLICY, id, NULL);
    return tx_end(s, own, rc);
}

int apps_list_json(struct store *s, char **json)
{
    *json = NULL;
    db_stmt *st = store_stmt(s, SQL_LIST[store_engine(s) == STORE_POSTGRES]);
    if (!st)
        return OG_ERR_DB;
    json_t *arr = json_array();
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        const char *id = (const char *)db_column_text(st, 0);
        const char *name = (const char *)db_column_text(st, 1);
        const char *uris = (const char *)db_column_text(st, 2);
        const char *mode = (const char *)db_column_text(st, 4);
        json_t *uri_arr = uris ? json_loads(uris, 0, NULL) : NULL;
        if (!json_is_array(uri_arr)) {
            log_warn("app has a corrupt redirect_uris column", "client_id", id);
            json_decref(uri_arr);
            uri_arr = json_array();
        }
        const char *hook = (const char *)db_column_text(st, 5);
        json_t *o =
            json_pack("{s:s, s:s?, s:o, s:s, s:s?, s:I}", "client_id", id ? id : "", "name", name,
                      "redirect_uris", uri_arr, "policy", mode ? mode : "inherit", "webhook_url",
                      hook, "created_at", (json_int_t)db_column_int64(st, 3));
        if (!o || json_array_append_new(arr, o) != 0)
            og_oom();
    }
    db_reset(st);
    if (rc != DB_DONE) {
        json_decref(arr);
        return store_step_err(rc);
    }
    char *out = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!out)
        og_oom();
    *json = out;
    return OG_OK;
}

/* ---- changes and webhooks ---- */

static const char SQL_HOOK_GET[] = "SELECT webhook_url, webhook_secret_sealed FROM apps "
                                   "WHERE id = ?1";
static const char SQL_HOOK_SET[] = "UPDATE apps SET webhook_url = ?2, webhook_secret_sealed = ?3, "
                                   "webhook_secret_at = ?4 WHERE id = ?1";

static void hook_aad(const char *id, char *aad, size_t len)
{
    snprintf(aad, len, "webhook:%s", id);
}

/* A fresh "whsec_..." secret in out and its sealed form in *sealed. */
static int hook_secret_new(const struct keyring *k, const char *id, char *out, uint8_t **sealed,
                           size_t *sealedlen)
{
    uint8_t key[APPS_WEBHOOK_KEY_BYTES];
    random_bytes(key, sizeof(key));
    memcpy(out, "whsec_", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, key, (int)sizeof(key));
    OPENSSL_cleanse(key, sizeof(key));
    char aad[16 + APPS_ID_LEN];
    hook_aad(id, aad, sizeof(aad));
    int rc = secret_seal(k->seal, (const uint8_t *)out, strlen(out), aad, sealed, sealedlen);
    if (rc != OG_OK) {
        OPENSSL_cleanse(out, APPS_WEBHOOK_SECRET_LEN);
        *sealed = NULL;
    }
    return rc;
}

/* Reads the webhook columns: the URL into url (may be NULL) and whether
 * the app exists. */
static int hook_get(struct store *s, const char *id, char *url, size_t urllen, uint8_t **sealed,
                    size_t *sealedlen)
{
    if (url && urllen)
        url[0] = '\0';
    if (sealed)
        *sealed = NULL;
    if (!id || strlen(id) >= APPS_ID_LEN)
        return OG_ERR_NOT_FOUND;
    db_stmt *st = store_stmt(s, SQL_HOOK_GET);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, id, -1);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        const unsigned char *u = db_column_text(st, 0);
        if (url && urllen)
            snprintf(url, urllen, "%s", u ? (const char *)u : "");
        int n = db_column_bytes(st, 1);
        if (sealed && n > 0) {
            *sealed = og_malloc((size_t)n);
            memcpy(*sealed, db_column_blob(st, 1), (size_t)n);
            *sealedlen = (size_t)n;
        }
    }
    db_reset(st);
    if (rc == DB_ROW)
        return OG_OK;
    return rc == DB_DONE ? OG_ERR_NOT_FOUND : store_step_err(rc);
}

static int hook_write(struct store *s, const char *id, const char *url, const uint8_t *sealed,
                      size_t sealedlen)
{
    db_stmt *st = store_stmt(s, SQL_HOOK_SET);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, id, -1);
    if (url && *url)
        db_bind_text(st, 2, url, -1);
    else
        db_bind_null(st, 2);
    if (sealed)
        db_bind_blob(st, 3, sealed, (int)sealedlen);
    else
        db_bind_null(st, 3);
    if (sealed)
        db_bind_int64(st, 4, now_ms());
    else
        db_bind_null(st, 4);
    return store_exec_done(st);
}

int apps_set_webhook(struct store *s, const struct keyring *k, const char *id, const char *url,
                     char *secret, size_t secretlen, bool *made, char *err, size_t errlen)
{
    *made = false;
    if (secretlen < APPS_WEBHOOK_SECRET_LEN)
        return OG_ERR_TOO_BIG;
    secret[0] = '\0';
    if (*url) {
        int rc = apps_check_webhook_url(url, err, errlen);
        if (rc != OG_OK)
            return rc;
    }
    char old[APPS_URI_MAX + 1];
    int rc = hook_get(s, id, old, sizeof(old), NULL, NULL);
    if (rc == OG_ERR_NOT_FOUND)
        set_err(err, errlen, "no app '%.40s'", id ? id : "");
    if (rc != OG_OK)
        return rc;
    if (strcmp(old, url) == 0)
        return OG_OK;
    if (!*url)
        return hook_write(s, id, NULL, NULL, 0);
    char plain[APPS_WEBHOOK_SECRET_LEN];
    uint8_t *sealed = NULL;
    size_t sealedlen = 0;
    rc = hook_secret_new(k, id, plain, &sealed, &sealedlen);
    if (rc == OG_OK)
        rc = hook_write(s, id, url, sealed, sealedlen);
    free(sealed);
    if (rc == OG_OK) {
        snprintf(secret, secretlen, "%s", plain);
        *made = true;
    } else {
        set_err(err, errlen, "could not save the webhook: %s", og_strerror(rc));
    }
    OPENSSL_cleanse(plain, sizeof(plain));
    return rc;
}

int apps_rotate_webhook_secret(struct store *s, const struct keyring *k, const char *id,
                               char *secret, size_t secretlen)
{
    if (secretlen < APPS_WEBHOOK_SECRET_LEN)
        return OG_ERR_TOO_BIG;
    char url[APPS_URI_MAX + 1];
    int rc = hook_get(s, id, url, sizeof(url), NULL, NULL);
    if (rc == OG_OK && !url[0])
        rc = OG_ERR_NOT_FOUND;
    if (rc != OG_OK)
        return rc;
    char plain[APPS_WEBHOOK_SECRET_LEN];
    uint8_t *sealed = NULL;
    size_t sealedlen = 0;
    rc = hook_secret_new(k, id, plain, &sealed, &sealedlen);
    if (rc == OG_OK)
        rc = hook_write(s, id, url, sealed, sealedlen);
    free(sealed);
    if (rc == OG_OK)
        snprintf(secret, secretlen, "%s", plain);
    OPENSSL_cleanse(plain, sizeof(plain));
    return rc;
}

int apps_webhook_url(struct store *s, const char *id, char *url, size_t urllen)
{
    int rc = hook_get(s, id, url, urllen, NULL, NULL);
    if (rc == OG_OK && !url[0])
        rc = OG_ERR_NOT_FOUND;
    return rc;
}

int apps_webhook_key(struct store *s, const struct keyring *k, const char *id,
                     uint8_t key[APPS_WEBHOOK_KEY_BYTES])
{
    uint8_t *sealed = NULL;
    size_t sealedlen = 0;
    int rc = hook_get(s, id, NULL, 0, &sealed, &sealedlen);
    if (rc == OG_OK && !sealed)
        rc = OG_ERR_NOT_FOUND;
    if (rc != OG_OK) {
        free(sealed);
        return rc;
    }
    char aad[16 + APPS_ID_LEN];
    hook_aad(id, aad, sizeof(aad));
    uint8_t *plain = NULL;
    size_t plainlen = 0;
    rc = secret_open(k->seal, sealed, sealedlen, aad, &plain, &plainlen);
    free(sealed);
    if (rc != OG_OK)
        return OG_ERR_CRYPTO;
    /* "whsec_" + 44 base64 characters decode to 33 bytes with padding
     * counted: the first 32 are the key. */
    uint8_t raw[64];
    if (plainlen == 6 + 44 && memcmp(plain, "whsec_", 6) == 0 &&
        EVP_DecodeBlock(raw, plain + 6, 44) == 33) {
        memcpy(key, raw, APPS_WEBHOOK_KEY_BYTES);
    } else {
        rc = OG_ERR_CRYPTO;
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(plain, plainlen);
    free(plain);
    return rc;
}
