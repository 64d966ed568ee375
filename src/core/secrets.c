/* Subkey derivation (EVP_KDF HKDF), AES-256-GCM sealing (EVP_CIPHER),
 * HMAC-SHA256 (EVP_MAC) and randomness (RAND_bytes). Plaintext and key
 * copies are cleansed before their memory goes; failure of the RNG or of an
 * HMAC is treated like out-of-memory: the process aborts. */
#include "core/secrets.h"

#include "core/base32.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define HKDF_SALT "otpgate"
#define ID_CHARS  20

_Noreturn static void fatal(const char *msg)
{
    fprintf(stderr, "{\"level\":\"error\",\"msg\":\"%s\"}\n", msg);
    abort();
}

/* Algorithms fetched once per process instead of on every call (a fetch
 * looks the name up in the provider store, under a lock): AES-256-GCM, and
 * an HMAC context with its digest (SHA-256) set but no key, which each
 * HMAC duplicates and keys. They are only ever read after the once-init, so
 * any thread (the SMTP pool too) may use them; they live as long as the
 * process. NULL when OpenSSL cannot provide them: the callers fail then. */
static EVP_CIPHER *aes_gcm;
static EVP_MAC_CTX *hmac_sha256_proto;
static pthread_once_t algos_once = PTHREAD_ONCE_INIT;

static void algos_fetch(void)
{
    aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac); /* the context holds its own reference */
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (ctx && EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    hmac_sha256_proto = ctx;
}

static const EVP_CIPHER *cipher_aes_gcm(void)
{
    pthread_once(&algos_once, algos_fetch);
    return aes_gcm;
}

/* A fresh HMAC-SHA256 context keyed with key, or NULL. */
static EVP_MAC_CTX *hmac_sha256_new(const uint8_t *key, size_t keylen)
{
    pthread_once(&algos_once, algos_fetch);
    EVP_MAC_CTX *ctx = hmac_sha256_proto ? EVP_MAC_CTX_dup(hmac_sha256_proto) : NULL;
    if (ctx && EVP_MAC_init(ctx, key, keylen, NULL) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* Each thread keeps the HMAC contexts of the last few keys it used (the
 * master key's subkeys: a handful) keyed once; a MAC under one of them
 * starts again from the keyed state (EVP_MAC_init without a key keeps it)
 * instead of duplicating, keying and freeing a context, which cost two
 * thirds of every MAC's instructions. The contexts hold the key's pads as
 * the subkeys are held already; they are freed, and the keys cleansed,
 * when the thread ends or a slot is taken by another key. */
#define HMAC_KEYED_SLOTS 8

struct hmac_keyed {
    uint8_t key[KEY_LEN];
    EVP_MAC_CTX *ctx; /* NULL: the slot is free */
};

struct hmac_keyed_set {
    struct hmac_keyed slot[HMAC_KEYED_SLOTS];
    unsigned next; /* the slot a new key takes */
};

static pthread_key_t hmac_keyed_tls;
static pthread_once_t hmac_keyed_once = PTHREAD_ONCE_INIT;

static void hmac_keyed_free(void *p)
{
    struct hmac_keyed_set *set = p;
    for (unsigned i = 0; i < HMAC_KEYED_SLOTS; i++)
        EVP_MAC_CTX_free(set->slot[i].ctx);
    OPENSSL_clear_free(set, sizeof(*set));
}

static void hmac_keyed_init(void)
{
    if (pthread_key_create(&hmac_keyed_tls, hmac_keyed_free) != 0)
        fatal("pthread_key_create failed");
}

/* The calling thread's context for key, started afresh; NULL on failure. */
static EVP_MAC_CTX *hmac_sha256_keyed(const uint8_t key[KEY_LEN])
{
    pthread_once(&hmac_keyed_once, hmac_keyed_init);
    struct hmac_keyed_set *set = pthread_getspecific(hmac_keyed_tls);
    if (!set) {
        set = OPENSSL_zalloc(sizeof(*set));
        if (!set || pthread_setspecific(hmac_keyed_tls, set) != 0) {
            OPENSSL_free(set);
            return NULL;
        }
    }
    for (unsigned i = 0; i < HMAC_KEYED_SLOTS; i++) {
        struct hmac_keyed *k = &set->slot[i];
        if (k->ctx && CRYPTO_memcmp(k->key, key, KEY_LEN) == 0)
            return EVP_MAC_init(k->ctx, NULL, 0, NULL) == 1 ? k->ctx : NULL;
    }
    struct hmac_keyed *k = &set->slot[set->next];
    set->next = (set->next + 1) % HMAC_KEYED_SLOTS;
    EVP_MAC_CTX_free(k->ctx);
    k->ctx = hmac_sha256_new(key, KEY_LEN);
    memcpy(k->key, key, KEY_LEN);
    return k->ctx;
}

/* HKDF-SHA256(master, salt "otpgate", info label) -> out[KEY_LEN]. */
static int hkdf_one(EVP_KDF *kdf, const uint8_t master[KEY_LEN], const char *label,
                    uint8_t out[KEY_LEN])
{
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    if (!ctx)
        return OG_ERR_CRYPTO;
    OSSL_PARAM params[5];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)master, KEY_LEN);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)HKDF_SALT,
                                                  strlen(HKDF_SALT));
    params[3] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)label, strlen(label));
    params[4] = OSSL_PARAM_construct_end();
    int rc = EVP_KDF_derive(ctx, out, KEY_LEN, params) == 1 ? OG_OK : OG_ERR_CRYPTO;
    EVP_KDF_CTX_free(ctx);
    return rc;
}

int keyring_derive(const uint8_t master[KEY_LEN], struct keyring *k)
{
    struct {
        const char *label;
        uint8_t *key;
    } subkeys[] = {
        {"codes", k->codes}, {"recovery", k->recovery}, {"seal", k->seal},
        {"dest", k->dest},   {"csrf", k->csrf},         {"session", k->session},
    };
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    int rc = kdf ? OG_OK : OG_ERR_CRYPTO;
    for (size_t i = 0; rc == OG_OK && i < ARRAY_SIZE(subkeys); i++)
        rc = hkdf_one(kdf, master, subkeys[i].label, subkeys[i].key);
    EVP_KDF_free(kdf);
    if (rc != OG_OK)
        keyring_wipe(k);
    return rc;
}

void keyring_wipe(struct keyring *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

int secret_seal(const uint8_t key[KEY_LEN], const uint8_t *plain, size_t n, const char *aad,
                uint8_t **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    size_t aadlen = aad ? strlen(aad) : 0;
    if (n > INT_MAX - SEAL_OVERHEAD || aadlen > INT_MAX)
        return OG_ERR_TOO_BIG;
    uint8_t *buf = og_malloc(n + SEAL_OVERHEAD);
    uint8_t *nonce = buf + 1, *ct = nonce + SEAL_NONCE_LEN, *tag = ct + n;
    buf[0] = SEAL_VERSION;
    int rc = OG_ERR_CRYPTO, len = 0;
    const EVP_CIPHER *cipher = cipher_aes_gcm();
    EVP_CIPHER_CTX *ctx = cipher ? EVP_CIPHER_CTX_new() : NULL;
    if (!ctx || RAND_bytes(nonce, SEAL_NONCE_LEN) != 1)
        goto done;
    /* The default GCM IV length is 12 bytes, which is the nonce size. */
    if (EVP_EncryptInit_ex2(ctx, cipher, key, nonce, NULL) != 1)
        goto done;
    if (aadlen && EVP_EncryptUpdate(ctx, NULL, &len, (const uint8_t *)aad, (int)aadlen) != 1)
        goto done;
    if (n && EVP_EncryptUpdate(ctx, ct, &len, plain, (int)n) != 1)
        goto done;
    if (EVP_EncryptFinal_ex(ctx, ct + len, &len) != 1)
        goto done;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) != 1)
        goto done;
    rc = OG_OK;
done:
    EVP_CIPHER_CTX_free(ctx);
    if (rc != OG_OK) {
        OPENSSL_cleanse(buf, n + SEAL_OVERHEAD);
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = n + SEAL_OVERHEAD;
    return OG_OK;
}

int secret_open(const uint8_t key[KEY_LEN], const uint8_t *sealed, size_t n, const char *aad,
                uint8_t **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (n < SEAL_OVERHEAD || sealed[0] != SEAL_VERSION)
        return OG_ERR_INVALID;
    size_t aadlen = aad ? strlen(aad) : 0;
    if (n > INT_MAX || aadlen > INT_MAX)
        return OG_ERR_TOO_BIG;
    const uint8_t *nonce = sealed + 1, *ct = nonce + SEAL_NONCE_LEN;
    size_t ctlen = n - SEAL_OVERHEAD;
    const uint8_t *tag = ct + ctlen;
    uint8_t *plain = og_malloc(ctlen + 1);
    int rc = OG_ERR_CRYPTO, len = 0;
    const EVP_CIPHER *cipher = cipher_aes_gcm();
    EVP_CIPHER_CTX *ctx = cipher ? EVP_CIPHER_CTX_new() : NULL;
    if (!ctx || EVP_DecryptInit_ex2(ctx, cipher, key, nonce, NULL) != 1)
        goto done;
    if (aadlen && EVP_DecryptUpdate(ctx, NULL, &len, (const uint8_t *)aad, (int)aadlen) != 1)
        goto done;
    if (ctlen && EVP_DecryptUpdate(ctx, plain, &len, ct, (int)ctlen) != 1)
        goto done;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, (void *)tag) != 1)
        goto done;
    /* Final fails when the tag does not verify: nothing is handed out. */
    if (EVP_DecryptFinal_ex(ctx, plain + len, &len) != 1)
        goto done;
    rc = OG_OK;
done:
    EVP_CIPHER_CTX_free(ctx);
    if (rc != OG_OK) {
        OPENSSL_cleanse(plain, ctlen + 1);
        free(plain);
        return rc;
    }
    *out = plain;
    *outlen = ctlen;
    return OG_OK;
}

int code_generate(unsigned digits, char *out)
{
    if (digits < CODE_MIN_DIGITS || digits > CODE_MAX_DIGITS)
        return OG_ERR_INVALID;
    /* One byte per digit; bytes >= 250 are redrawn so each of the 250
     * accepted values maps to a digit exactly 25 times. */
    uint8_t pool[32];
    size_t avail = 0, pos = 0;
    unsigned n = 0;
    int rc = OG_OK;
    while (n < digits) {
        if (pos == avail) {
            if (RAND_bytes(pool, (int)sizeof(pool)) != 1) {
                rc = OG_ERR_CRYPTO;
                break;
            }
            avail = sizeof(pool);
            pos = 0;
        }
        uint8_t b = pool[pos++];
        if (b < 250)
            out[n++] = (char)('0' + b % 10);
    }
    OPENSSL_cleanse(pool, sizeof(pool));
    if (rc != OG_OK) {
        OPENSSL_cleanse(out, digits);
        out[0] = '\0';
        return rc;
    }
    out[digits] = '\0';
    return OG_OK;
}

void hmac_sha256_parts(const uint8_t key[KEY_LEN], const void *p1, size_t n1, const void *p2,
                       size_t n2, const void *p3, size_t n3, uint8_t out[32])
{
    EVP_MAC_CTX *ctx = hmac_sha256_keyed(key);
    size_t outlen = 0;
    bool ok = ctx && (!p1 || EVP_MAC_update(ctx, p1, n1) == 1) &&
              (!p2 || EVP_MAC_update(ctx, p2, n2) == 1) &&
              (!p3 || EVP_MAC_update(ctx, p3, n3) == 1) &&
              EVP_MAC_final(ctx, out, &outlen, 32) == 1 && outlen == 32;
    if (!ok)
        fatal("HMAC-SHA256 failed");
}

void code_hash(const uint8_t key[KEY_LEN], const char *context, const char *code, uint8_t out[32])
{
    static const uint8_t sep = 0x00;
    if (!context)
        context = "";
    hmac_sha256_parts(key, context, strlen(context), &sep, 1, code, strlen(code), out);
}

bool ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void random_bytes(uint8_t *out, size_t n)
{
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(out, chunk) != 1)
            fatal("random number generator failed");
        out += chunk;
        n -= (size_t)chunk;
    }
}

void random_id(const char *prefix, char *out, size_t outlen)
{
    size_t plen = strlen(prefix);
    if (outlen < plen + ID_CHARS + 1)
        fatal("random_id: buffer too small");
    /* 256 is a multiple of 32, so masking a byte to 5 bits is uniform. */
    uint8_t rnd[ID_CHARS];
    random_bytes(rnd, sizeof(rnd));
    memcpy(out, prefix, plen);
    for (size_t i = 0; i < ID_CHARS; i++)
        out[plen + i] = base32_symbol(rnd[i] & 31u, true);
    out[plen + ID_CHARS] = '\0';
    OPENSSL_cleanse(rnd, sizeof(rnd));
}

/* RFC 4648 §5 symbol for a 6-bit value, computed without a table so token
 * bits do not pick cache lines. */
static char b64url_char(unsigned v)
{
    /* A-Z 0..25, a-z 26..51, 0-9 52..61, '-' 62, '_' 63 */
    int c = (int)v + 'A';
    c += (int)((25u - v) >> 31) * ('a' - 'A' - 26);
    c += (int)((51u - v) >> 31) * ('0' - 'a' - 26);
    c += (int)((61u - v) >> 31) * ('-' - '0' - 10);
    c += (int)((62u - v) >> 31) * ('_' - '-' - 1);
    return (char)c;
}

void random_token(size_t n, char *out, size_t outlen)
{
    if (n > (SIZE_MAX - 2) / 4 || outlen < (4 * n + 2) / 3 + 1)
        fatal("random_token: buffer too small");
    uint8_t *rnd = og_malloc(n);
    random_bytes(rnd, n);
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)rnd[i] << 16 | (uint32_t)rnd[i + 1] << 8 | rnd[i + 2];
        out[o++] = b64url_char(v >> 18);
        out[o++] = b64url_char((v >> 12) & 63);
        out[o++] = b64url_char((v >> 6) & 63);
        out[o++] = b64url_char(v & 63);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)rnd[i] << 16;
        out[o++] = b64url_char(v >> 18);
        out[o++] = b64url_char((v >> 12) & 63);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)rnd[i] << 16 | (uint32_t)rnd[i + 1] << 8;
        out[o++] = b64url_char(v >> 18);
        out[o++] = b64url_char((v >> 12) & 63);
        out[o++] = b64url_char((v >> 6) & 63);
    }
    out[o] = '\0';
    OPENSSL_cleanse(rnd, n);
    free(rnd);
}
