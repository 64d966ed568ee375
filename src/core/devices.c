/* The devices table (see devices.h): tokens only as HMAC-SHA256 under the
 * keyring's session key ("device" context), rows found by that hash and the
 * user, pruned when they expire. Never stores or logs a token. */
#include "core/devices.h"

#include "core/policy.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#define TOKEN_CHARS 22
#define DAY_MS      (24LL * 3600 * 1000)

static const char SQL_UPSERT[] =
    "INSERT INTO devices (id, token_hash, app_id, sub, scope_all, created_at, expires_at, "
    "last_seen_at, step_at, user_agent, ip) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?8, ?9, ?10) "
    "ON CONFLICT (token_hash, app_id, sub) DO UPDATE SET scope_all = ?5, created_at = ?6, "
    "expires_at = ?7, last_seen_at = ?6, step_at = ?8, user_agent = ?9, ip = ?10";
static const char SQL_FIND[] =
    "SELECT id, app_id, sub, scope_all, created_at, expires_at, last_seen_at, step_at, "
    "user_agent, ip FROM devices WHERE token_hash = ?1 AND sub = ?2 AND expires_at > ?4 AND "
    "created_at >= ?5 AND (app_id = ?3 OR (?6 = 1 AND scope_all = 1)) "
    "ORDER BY step_at DESC LIMIT 1";
static const char SQL_TOUCH[] = "UPDATE devices SET last_seen_at = ?2 WHERE id = ?1";
static const char SQL_EACH[] =
    "SELECT id, app_id, sub, scope_all, created_at, expires_at, last_seen_at, step_at, "
    "user_agent, ip FROM devices WHERE sub = ?2 AND expires_at > ?3 AND (app_id = ?1 OR "
    "(?4 = 1 AND scope_all = 1)) ORDER BY created_at DESC, id";
static const char SQL_FORGET[] = "DELETE FROM devices WHERE id = ?3 AND sub = ?2 AND (app_id = ?1 "
                                 "OR (?4 = 1 AND scope_all = 1))";
static const char SQL_FORGET_ALL[] =
    "DELETE FROM devices WHERE sub = ?2 AND (app_id = ?1 OR (?3 = 1 AND scope_all = 1))";
static const char SQL_PRUNE[] = "DELETE FROM devices WHERE expires_at <= ?1";

bool devices_token_ok(const char *s, size_t n)
{
    if (!s || n != TOKEN_CHARS)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

void devices_token_new(char out[DEVICES_TOKEN_LEN])
{
    random_token(DEVICES_TOKEN_BYTES, out, DEVICES_TOKEN_LEN);
}

static void token_hash(const struct keyring *k, const char *token, uint8_t out[32])
{
    static const char ctx[] = "device";
    hmac_sha256_parts(k->session, ctx, sizeof(ctx), token, strlen(token), NULL, 0, out);
}

static void copy_text(db_stmt *st, int col, char *out, size_t outlen)
{
    const unsigned char *t = db_column_text(st, col);
    snprintf(out, outlen, "%s", t ? (const char *)t : "");
}

static void read_row(db_stmt *st, struct device *d)
{
    memset(d, 0, sizeof(*d));
    copy_text(st, 0, d->id, sizeof(d->id));
    copy_text(st, 1, d->app_id, sizeof(d->app_id));
    copy_text(st, 2, d->sub, sizeof(d->sub));
    d->scope_all = db_column_int(st, 3) != 0;
    d->created_at = db_column_int64(st, 4);
    d->expires_at = db_column_int64(st, 5);
    d->last_seen_at = db_column_int64(st, 6);
    d->step_at = db_column_int64(st, 7);
    copy_text(st, 8, d->user_agent, sizeof(d->user_agent));
    copy_text(st, 9, d->ip, sizeof(d->ip));
}

int devices_remember(struct store *s, const struct keyring *k, const char *token,
                     const char *app_id, const char *sub, bool scope_all, int64_t step_at_ms,
                     int64_t now_ms, unsigned days, const char *ua, const char *ip,
                     struct device *out)
{
    if (!token || !devices_token_ok(token, strlen(token)) || !app_id || !app_id[0] || !sub ||
        !sub[0] || days == 0 || days > 365)
        return OG_ERR_INVALID;
    struct device d;
    memset(&d, 0, sizeof(d));
    random_id("dev_", d.id, sizeof(d.id));
    snprintf(d.app_id, sizeof(d.app_id), "%s", app_id);
    snprintf(d.sub, sizeof(d.sub), "%s", sub);
    d.scope_all = scope_all;
    d.created_at = d.last_seen_at = now_ms;
    d.expires_at = now_ms + (int64_t)days * DAY_MS;
    d.step_at = step_at_ms;
    devices_ua_summary(ua, d.user_agent, sizeof(d.user_agent));
    snprintf(d.ip, sizeof(d.ip), "%s", ip ? ip : "");
    uint8_t h[32];
    token_hash(k, token, h);
    db_stmt *st = store_stmt(s, SQL_UPSERT);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, d.id, -1);
    db_bind_blob(st, 2, h, sizeof(h));
    db_bind_text(st, 3, d.app_id, -1);
    db_bind_text(st, 4, d.sub, -1);
    db_bind_int(st, 5, scope_all ? 1 : 0);
    db_bind_int64(st, 6, now_ms);
    db_bind_int64(st, 7, d.expires_at);
    db_bind_int64(st, 8, step_at_ms);
    db_bind_text(st, 9, d.user_agent, -1);
    if (d.ip[0])
        db_bind_text(st, 10, d.ip, -1);
    else
        db_bind_null(st, 10);
    int rc = store_exec_done(st);
    OPENSSL_cleanse(h, sizeof(h));
    if (rc == OG_OK && out)
        *out = d;
    return rc;
}

int devices_find(struct store *s, const struct keyring *k, const char *token, const char *app_id,
                 const char *sub, bool all_scope, int64_t now_ms, int64_t max_age_ms,
                 struct device *out)
{
    if (!token || !devices_token_ok(token, strlen(token)) || !app_id || !sub)
        return OG_ERR_NOT_FOUND;
    uint8_t h[32];
    token_hash(k, token, h);
    db_stmt *st = store_stmt(s, SQL_FIND);
    if (!st)
        return OG_ERR_DB;
    db_bind_blob(st, 1, h, sizeof(h));
    db_bind_text(st, 2, sub, -1);
    db_bind_text(st, 3, app_id, -1);
    db_bind_int64(st, 4, now_ms);
    db_bind_int64(st, 5, max_age_ms < 0 ? 0 : now_ms - max_age_ms);
    db_bind_int(st, 6, all_scope ? 1 : 0);
    int src = db_step(st);
    int rc;
    if (src == DB_ROW) {
        read_row(st, out);
        rc = OG_OK;
    } else {
        rc = src == DB_DONE ? OG_ERR_NOT_FOUND : store_step_err(src);
    }
    db_reset(st);
    OPENSSL_cleanse(h, sizeof(h));
    if (rc != OG_OK)
        return rc;
    st = store_stmt(s, SQL_TOUCH);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, out->id, -1);
    db_bind_int64(st, 2, now_ms);
    rc = store_exec_done(st);
    if (rc == OG_OK)
        out->last_seen_at = now_ms;
    return rc;
}

/* Whether app_id's own scope is "all": only then are the scope-"all"
 * devices other apps made its users' too. An app remembering per app (or
 * not at all) neither sees nor forgets them: the same sub there may be
 * somebody else. */
static int scope_all_of(struct store *s, const char *app_id, bool *all)
{
    struct policy pol;
    int rc = policy_load(s, app_id, &pol);
    *all = rc == OG_OK && pol.remember_device_all;
    return rc;
}

int devices_each(struct store *s, const char *app_id, const char *sub, int64_t now_ms,
                 void (*fn)(const struct device *d, void *arg), void *arg)
{
    bool all;
    int rc = scope_all_of(s, app_id, &all);
    if (rc != OG_OK)
        return rc;
    db_stmt *st = store_stmt(s, SQL_EACH);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, app_id, -1);
    db_bind_text(st, 2, sub, -1);
    db_bind_int64(st, 3, now_ms);
    db_bind_int(st, 4, all ? 1 : 0);
    int src;
    struct device d;
    while ((src = db_step(st)) == DB_ROW) {
        read_row(st, &d);
        fn(&d, arg);
    }
    db_reset(st);
    return src == DB_DONE ? OG_OK : store_step_err(src);
}

int devices_forget(struct store *s, const char *app_id, const char *sub, const char *id)
{
    bool all;
    int rc = scope_all_of(s, app_id, &all);
    if (rc != OG_OK)
        return rc;
    db_stmt *st = store_stmt(s, SQL_FORGET);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, app_id, -1);
    db_bind_text(st, 2, sub, -1);
    db_bind_text(st, 3, id, -1);
    db_bind_int(st, 4, all ? 1 : 0);
    rc = store_exec_done(st);
    if (rc == OG_OK && store_changes(s) == 0)
        rc = OG_ERR_NOT_FOUND;
    return rc;
}

int devices_forget_all(struct store *s, const char *app_id, const struct policy *pol,
                       const char *sub, int *count)
{
    if (count)
        *count = 0;
    bool all = pol && pol->remember_device_all;
    int rc = pol ? OG_OK : scope_all_of(s, app_id, &all);
    if (rc != OG_OK)
        return rc;
    db_stmt *st = store_stmt(s, SQL_FORGET_ALL);
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, app_id, -1);
    db_bind_text(st, 2, sub, -1);
    db_bind_int(st, 3, all ? 1 : 0);
    rc = store_exec_done(st);
    if (count)
        *count = rc == OG_OK ? (int)store_changes(s) : 0;
    return rc;
}

int devices_prune(struct store *s, int64_t now_ms)
{
    db_stmt *st = store_stmt(s, SQL_PRUNE);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    return store_exec_done(st);
}

/* The first of names found in ua (case-sensitive, as browsers send them). */
static const char *first_of(const char *ua, const char *const names[][2], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(ua, names[i][0]))
            return names[i][1];
    return NULL;
}

void devices_ua_summary(const char *ua, char *out, size_t outlen)
{
    /* Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari". */
    static const char *const browsers[][2] = {
        {"Edg/", "Edge"},          {"OPR/", "Opera"},     {"Firefox/", "Firefox"},
        {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
    };
    static const char *const systems[][2] = {
        {"iPhone", "iPhone"},  {"iPad", "iPad"},     {"Android", "Android"}, {"Windows", "Windows"},
        {"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
    };
    const char *b = ua ? first_of(ua, browsers, ARRAY_SIZE(browsers)) : NULL;
    const char *o = ua ? first_of(ua, systems, ARRAY_SIZE(systems)) : NULL;
    if (b && o)
        snprintf(out, outlen, "%s on %s", b, o);
    else if (b || o)
        snprintf(out, outlen, "%s", b ? b : o);
    else
        snprintf(out, outlen, "%s", "A browser");
}
