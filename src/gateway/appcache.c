/* Every app at once, read in one snapshot of the store and kept until
 * another process commits: a hash table from client_id to the app's name,
 * secret digest, effective policy and webhook URL. Checking a secret costs one SHA-256
 * and a constant-time comparison whatever the id, as apps_check_secret's
 * dummy work makes it cost the same for known and unknown ids. */
#include "gateway/appcache.h"

#include "core/log.h"
#include "gateway/server.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>

struct appcache_entry {
    char id[APPS_ID_LEN];
    char name[APPS_NAME_MAX + 1];
    uint8_t digest[32]; /* SHA-256 of the client secret */
    bool opened;        /* the sealed secret opened; else nothing passes */
    struct policy pol;
    char webhook_url[APPS_URI_MAX + 1]; /* "" when it has none */
};

struct appcache {
    bool loaded;
    bool failing;         /* the last load failed (logged once) */
    int64_t data_version; /* of the snapshot the entries come from */
    struct appcache_entry *entries;
    size_t count, cap;
    uint32_t *slots;   /* entry index + 1, 0 for an empty slot */
    size_t nslots;     /* a power of two, at least twice count */
    uint8_t dummy[32]; /* compared against for an unknown id */
};

struct appcache *appcache_new(void)
{
    struct appcache *c = og_calloc(1, sizeof(*c));
    random_bytes(c->dummy, sizeof(c->dummy));
    return c;
}

static void drop(struct appcache *c)
{
    if (c->entries)
        OPENSSL_cleanse(c->entries, c->cap * sizeof(*c->entries));
    free(c->entries);
    free(c->slots);
    c->entries = NULL;
    c->slots = NULL;
    c->count = c->cap = c->nslots = 0;
    c->loaded = false;
}

void appcache_drop(struct appcache *c)
{
    if (c)
        drop(c);
}

void appcache_free(struct appcache *c)
{
    if (!c)
        return;
    drop(c);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

static size_t id_hash(const char *id)
{
    uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= UINT64_C(1099511628211);
    }
    return (size_t)(h ^ (h >> 29));
}

static const struct appcache_entry *find(const struct appcache *c, const char *id)
{
    if (c->nslots == 0 || strnlen(id, APPS_ID_LEN) >= APPS_ID_LEN)
        return NULL;
    size_t mask = c->nslots - 1;
    for (size_t i = id_hash(id) & mask; c->slots[i]; i = (i + 1) & mask) {
        const struct appcache_entry *e = &c->entries[c->slots[i] - 1];
        if (strcmp(e->id, id) == 0)
            return e;
    }
    return NULL;
}

static void collect(const char *id, const uint8_t digest[32], bool opened, void *arg)
{
    struct appcache *c = arg;
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct appcache_entry *grown = og_calloc(cap, sizeof(*grown));
        if (c->count)
            memcpy(grown, c->entries, c->count * sizeof(*grown));
        if (c->entries)
            OPENSSL_cleanse(c->entries, c->cap * sizeof(*c->entries));
        free(c->entries);
        c->entries = grown;
        c->cap = cap;
    }
    struct appcache_entry *e = &c->entries[c->count++];
    snprintf(e->id, sizeof(e->id), "%s", id);
    memcpy(e->digest, digest, sizeof(e->digest));
    e->opened = opened;
}

/* Names, policies and webhook URLs for the collected entries, then the
 * index. */
static int complete(struct appcache *c, struct store *st)
{
    struct policy global;
    int rc = policy_load(st, NULL, &global);
    for (size_t i = 0; rc == OG_OK && i < c->count; i++) {
        struct appcache_entry *e = &c->entries[i];
        struct app app;
        int grc = apps_get(st, e->id, &app);
        if (grc == OG_OK) {
            snprintf(e->name, sizeof(e->name), "%s", app.name);
            apps_free(&app);
        } else if (grc == OG_ERR_DB || grc == OG_ERR_BUSY) {
            rc = grc;
            break;
        } /* else left "", as a request used to find it when apps_get failed */
        rc = policy_load_app(st, &global, e->id, &e->pol);
        if (rc == OG_OK) {
            int hrc = apps_webhook_url(st, e->id, e->webhook_url, sizeof(e->webhook_url));
            if (hrc != OG_OK && hrc != OG_ERR_NOT_FOUND)
                rc = hrc;
        }
    }
    if (rc != OG_OK)
        return rc;
    size_t nslots = 16;
    while (nslots < c->count * 2)
        nslots *= 2;
    c->slots = og_calloc(nslots, sizeof(*c->slots));
    c->nslots = nslots;
    for (size_t i = 0; i < c->count; i++) {
        size_t j = id_hash(c->entries[i].id) & (nslots - 1);
        while (c->slots[j])
            j = (j + 1) & (nslots - 1);
        c->slots[j] = (uint32_t)(i + 1);
    }
    return OG_OK;
}

/* Reads every app in one snapshot: the batch's transaction when one is
 * open, else a read transaction of its own. */
static int load(struct appcache *c, struct server *s, int64_t known_version)
{
    drop(c);
    struct store *st = server_db(s);
    bool own = !store_in_transaction(st);
    int rc = own ? store_run(st, "BEGIN") : OG_OK;
    int64_t dv = known_version;
    if (rc == OG_OK && (own || dv < 0))
        rc = store_data_version(st, &dv);
    if (rc == OG_OK)
        rc = apps_each_secret_digest(st, &s->keys, collect, c);
    if (rc == OG_OK)
        rc = complete(c, st);
    if (own && store_run(st, "COMMIT") != OG_OK) {
        store_rollback(st);
        if (rc == OG_OK)
            rc = OG_ERR_DB;
    }
    if (rc != OG_OK) {
        drop(c);
        if (!c->failing) /* once, not on every request while the store fails */
            log_warn("cannot read the apps: checking each request against the store", "error",
                     og_strerror(rc));
        c->failing = true;
        return rc;
    }
    c->failing = false;
    c->data_version = dv;
    c->loaded = true;
    return OG_OK;
}

/* The check itself, of the presented secret's digest against the cache as
 * it stands. */
static enum appcache_result check(const struct appcache *c, const char *id, const uint8_t got[32],
                                  char *name, size_t namelen, struct policy *pol, char *webhook_url,
                                  size_t urllen)
{
    const struct appcache_entry *e = id ? find(c, id) : NULL;
    bool same = ct_equal(got, e ? e->digest : c->dummy, 32);
    if (!e || !e->opened || !same)
        return APPCACHE_DENIED;
    snprintf(name, namelen, "%s", e->name);
    *pol = e->pol;
    snprintf(webhook_url, urllen, "%s", e->webhook_url);
    return APPCACHE_OK;
}

enum appcache_result appcache_auth(struct server *s, const char *id, const char *secret,
                                   size_t secret_len, char *name, size_t namelen,
                                   struct policy *pol, char *webhook_url, size_t urllen,
                                   int64_t *early)
{
    struct appcache *c = server_apps(s);
    uint8_t got[32];
    apps_secret_digest(secret, secret_len, got);
    enum appcache_result r = APPCACHE_UNAVAILABLE;
    /* While a batch is open its BEGIN IMMEDIATE holds the write lock, so
     * the data_version it read then is still current. */
    int64_t dv = s->batch.open ? s->batch.data_version : -1;
    if (early)
        *early = -1;
    /* Outside a batch, reading the version is a read transaction of its
     * own (two file locks on SQLite's shared memory) just before the
     * batch's BEGIN reads it again: a success waits for that one. */
    if (early && dv < 0 && !s->pool && c->loaded &&
        check(c, id, got, name, namelen, pol, webhook_url, urllen) == APPCACHE_OK) {
        *early = c->data_version;
        r = APPCACHE_OK;
    } else {
        if (dv < 0 && store_data_version(server_db(s), &dv) != OG_OK)
            dv = -1;
        if (c->loaded && (dv < 0 || dv != c->data_version))
            drop(c);
        if (c->loaded || load(c, s, s->batch.open ? dv : -1) == OG_OK)
            r = check(c, id, got, name, namelen, pol, webhook_url, urllen);
    }
    OPENSSL_cleanse(got, sizeof(got));
    return r;
}

bool appcache_confirmed(const struct server *s, int64_t early)
{
    return early < 0 ||
           (s->batch.open && s->batch.data_version >= 0 && s->batch.data_version == early);
}
