/* Send limits of SPEC §4 over a log of recent sends: per destination (hour
 * and day; every spelling of one mailbox or number is one destination), per
 * user and per end-user IP (hour; not counted when the context has no IP).
 * Windows slide; the answer says how long until a slot frees. Destinations
 * are logged only as keyed hashes. */
#include "core/contact.h"
#include "core/log.h"
#include "core/mfa.h"

#include <stdio.h>

#define HOUR_MS (3600LL * 1000)
#define DAY_MS  (24 * HOUR_MS)

/* The keyed hash of the destination's key (contact_dest_key): every
 * spelling of one mailbox or number counts as one destination. */
static void dest_hash(const struct mfa_ctx *c, enum factor_type channel, const char *dest,
                      uint8_t out[32])
{
    char key[CONTACT_EMAIL_SIZE];
    if (contact_dest_key(channel == FACTOR_SMS ? CONTACT_PHONE : CONTACT_EMAIL, dest, key,
                         sizeof(key)) != OG_OK)
        snprintf(key, sizeof(key), "%s", dest); /* never stored unnormalised; be safe */
    code_hash(c->keys->dest, factor_type_name(channel), key, out);
}

/* The digits of the number's country calling code ("44" for +44...). */
static void calling_code(const char *e164, char out[8])
{
    int n = contact_phone_cc_len(e164);
    if (n <= 0 || e164[0] != '+')
        n = 0;
    snprintf(out, 8, "%.*s", n, e164 + 1);
}

bool sendlimits_country_allowed(const struct policy *p, const char *e164)
{
    if (!p->sms_countries[0])
        return true;
    char cc[8];
    calling_code(e164, cc);
    if (!cc[0])
        return false;
    size_t n = strlen(cc);
    for (const char *s = p->sms_countries; *s;) {
        while (*s == ',' || *s == ' ')
            s++;
        size_t len = strcspn(s, ", ");
        if (len == n && memcmp(s, cc, n) == 0)
            return true;
        s += len;
    }
    return false;
}

/* Counts sends matching one key within window; sets *oldest to the oldest
 * counted send. */
static int count_since(const struct mfa_ctx *c, const char *sql, int kind, const void *key,
                       size_t keylen, int64_t since, int64_t *oldest)
{
    db_stmt *st = store_stmt(c->store, sql);
    if (!st)
        return -1;
    if (kind == 0)
        db_bind_blob(st, 1, key, (int)keylen);
    else if (kind == 1)
        db_bind_int64(st, 1, *(const int64_t *)key);
    else
        db_bind_text(st, 1, key, -1);
    db_bind_int64(st, 2, since);
    int n = -1;
    if (db_step(st) == DB_ROW) {
        n = db_column_int(st, 0);
        *oldest = db_column_int64(st, 1);
    }
    db_reset(st);
    return n;
}

static bool over(const struct mfa_ctx *c, int n, unsigned limit, int64_t oldest, int64_t window,
                 struct mfa_outcome *o, const char *which)
{
    if (n < 0 || (unsigned)n < limit)
        return false;
    o->limit = which;
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
    if (over(c, n, p->sends_per_dest_hour, oldest, HOUR_MS, o, "dest_hour"))
        return MFA_LIMITED;
    n = count_since(c, by_dest, 0, h, sizeof(h), c->now_ms - DAY_MS, &oldest);
    if (over(c, n, p->sends_per_dest_day, oldest, DAY_MS, o, "dest_day"))
        return MFA_LIMITED;
    n = count_since(c, by_user, 1, &user_id, 0, c->now_ms - HOUR_MS, &oldest);
    if (over(c, n, p->sends_per_user_hour, oldest, HOUR_MS, o, "user_hour"))
        return MFA_LIMITED;
    if (c->client_ip && c->client_ip[0]) {
        char ipkey[OG_IP_KEY_LEN];
        og_ip_limit_key(c->client_ip, ipkey, sizeof(ipkey));
        n = count_since(c, by_ip, 2, ipkey, 0, c->now_ms - HOUR_MS, &oldest);
        if (over(c, n, p->sends_per_ip_hour, oldest, HOUR_MS, o, "ip_hour"))
            return MFA_LIMITED;
    }
    if (channel != FACTOR_SMS)
        return MFA_OK;
    /* The SMS pumping guard: countries, then per-prefix and global caps. */
    if (!sendlimits_country_allowed(p, dest)) {
        o->limit = "sms_country";
        log_warn("SMS refused: country calling code not allowed", "app", c->app_id);
        return MFA_COUNTRY;
    }
    char cc[8];
    calling_code(dest, cc);
    static const char by_prefix[] = "SELECT count(*), min(at) FROM sends WHERE channel = 'sms' "
                                    "AND prefix = ? AND at > ?";
    static const char all_sms[] = "SELECT count(*), min(at) FROM sends WHERE channel = ? AND "
                                  "at > ?";
    n = count_since(c, by_prefix, 2, cc, 0, c->now_ms - HOUR_MS, &oldest);
    if (over(c, n, p->sms_prefix_hour, oldest, HOUR_MS, o, "sms_prefix_hour")) {
        log_warn("SMS refused: hourly cap for this calling code reached", "prefix", cc);
        return MFA_LIMITED;
    }
    n = count_since(c, all_sms, 2, "sms", 0, c->now_ms - HOUR_MS, &oldest);
    if (over(c, n, p->sms_global_hour, oldest, HOUR_MS, o, "sms_global_hour")) {
        log_warn("SMS refused: global hourly SMS cap reached");
        return MFA_LIMITED;
    }
    return MFA_OK;
}

void sendlimits_record(const struct mfa_ctx *c, enum factor_type channel, const char *dest,
                       int64_t user_id)
{
    uint8_t h[32];
    dest_hash(c, channel, dest, h);
    char cc[8] = "";
    if (channel == FACTOR_SMS)
        calling_code(dest, cc);
    db_stmt *st = store_stmt(c->store, "INSERT INTO sends (at, channel, dest_hash, user_id, "
                                       "client_ip, prefix) VALUES (?, ?, ?, ?, ?, "
                                       "NULLIF(?, ''))");
    if (!st)
        return;
    db_bind_int64(st, 1, c->now_ms);
    db_bind_text(st, 2, factor_type_name(channel), -1);
    db_bind_blob(st, 3, h, sizeof(h));
    db_bind_int64(st, 4, user_id);
    /* The limit's key, not the address: an IPv6 user counts by /64. */
    char ipkey[OG_IP_KEY_LEN];
    og_ip_limit_key(c->client_ip, ipkey, sizeof(ipkey));
    db_bind_text_copy(st, 5, c->client_ip ? ipkey : NULL, -1);
    db_bind_text(st, 6, cc, -1);
    db_step(st);
    db_reset(st);
}

void sendlimits_prune(struct store *s, int64_t now_ms)
{
    db_stmt *st = store_stmt(s, "DELETE FROM sends WHERE at < ?");
    if (!st)
        return;
    db_bind_int64(st, 1, now_ms - DAY_MS);
    db_step(st);
    db_reset(st);
}
