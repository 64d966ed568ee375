/* Send limits of SPEC §4 over a log of recent sends: per destination (hour
 * and day), per user and per client IP (hour). Windows slide; the answer
 * says how long until a slot frees. Destinations are logged only as keyed
 * hashes. */
#include "core/mfa.h"

#define HOUR_MS (3600LL * 1000)
#define DAY_MS (24 * HOUR_MS)

static void dest_hash(const struct mfa_ctx *c, enum factor_type channel, const char *dest,
                      uint8_t out[32])
{
    code_hash(c->keys->dest, factor_type_name(channel), dest, out);
}

/* Counts sends matching one key within window; sets *oldest to the oldest
 * counted send. */
static int count_since(const struct mfa_ctx *c, const char *sql, int kind, const void *key,
                       size_t keylen, int64_t since, int64_t *oldest)
{
    sqlite3_stmt *st = store_stmt(c->store, sql);
    if (!st)
        return -1;
    if (kind == 0)
        sqlite3_bind_blob(st, 1, key, (int)keylen, SQLITE_STATIC);
    else if (kind == 1)
        sqlite3_bind_int64(st, 1, *(const int64_t *)key);
    else
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since);
    int n = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int(st, 0);
        *oldest = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return n;
}

static bool over(const struct mfa_ctx *c, int n, unsigned limit, int64_t oldest, int64_t window,
                 struct mfa_outcome *o)
{
    if (n < 0 || (unsigned)n < limit)
        return false;
    int64_t wait = oldest + window - c->now_ms;
    o->retry_after = wait > 0 ? (wait + 999) / 1000 : 1;
    return true;
}

enum mfa_result sendlimits_check(const struct mfa_ctx *c, enum factor_type channel,
                                 const char *dest, int64_t user_id, struct mfa_outcome *o)
{
    const struct policy *p = c->pol;
    uint8_t h[32];
    int64_t oldest = 0;
    dest_hash(c, channel, dest, h);
    static const char by_dest[] =
        "SELECT count(*), min(at) FROM sends WHERE dest_hash = ? AND at > ?";
    static const char by_user[] =
        "SELECT count(*), min(at) FROM sends WHERE user_id = ? AND at > ?";
    static const char by_ip[] =
        "SELECT count(*), min(at) FROM sends WHERE client_ip = ? AND at > ?";

    int n = count_since(c, by_dest, 0, h, sizeof(h), c->now_ms - HOUR_MS, &oldest);
    if (n < 0)
        return MFA_ERROR;
    if (over(c, n, p->sends_per_dest_hour, oldest, HOUR_MS, o))
        return MFA_LIMITED;
    n = count_since(c, by_dest, 0, h, sizeof(h), c->now_ms - DAY_MS, &oldest);
    if (over(c, n, p->sends_per_dest_day, oldest, DAY_MS, o))
        return MFA_LIMITED;
    n = count_since(c, by_user, 1, &user_id, 0, c->now_ms - HOUR_MS, &oldest);
    if (over(c, n, p->sends_per_user_hour, oldest, HOUR_MS, o))
        return MFA_LIMITED;
    if (c->client_ip && c->client_ip[0]) {
        n = count_since(c, by_ip, 2, c->client_ip, 0, c->now_ms - HOUR_MS, &oldest);
        if (over(c, n, p->sends_per_ip_hour, oldest, HOUR_MS, o))
            return MFA_LIMITED;
    }
    return MFA_OK;
}

void sendlimits_record(const struct mfa_ctx *c, enum factor_type channel, const char *dest,
                       int64_t user_id)
{
    uint8_t h[32];
    dest_hash(c, channel, dest, h);
    sqlite3_stmt *st = store_stmt(c->store, "INSERT INTO sends (at, channel, dest_hash, user_id, "
                                            "client_ip) VALUES (?, ?, ?, ?, ?)");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, c->now_ms);
    sqlite3_bind_text(st, 2, factor_type_name(channel), -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, h, sizeof(h), SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, user_id);
    sqlite3_bind_text(st, 5, c->client_ip, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
}

void sendlimits_prune(struct store *s, int64_t now_ms)
{
    sqlite3_stmt *st = store_stmt(s, "DELETE FROM sends WHERE at < ?");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, now_ms - DAY_MS);
    sqlite3_step(st);
    sqlite3_reset(st);
}
