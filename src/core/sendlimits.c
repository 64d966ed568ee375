/* Send limits of SPEC §4 over a log of recent sends: per destination (hour
 * and day; every spelling of one mailbox or number is one destination), per
 * user and per end-user IP (hour; not counted when the context has no IP).
 * Windows slide; the answer says how long until a slot frees. Destinations
 * are logged only as keyed hashes. The SMS caps (global and per calling
 * code) count slots of their own, each taken with its count apart from the
 * caller's transaction (store_apart_begin): every SMS send would otherwise
 * read what every other writes, and on PostgreSQL no two of them could run
 * at once. */
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

/* Counts the sends sql finds for one key (text when not NULL, else id)
 * since a time; sets *oldest to the oldest counted send's. */
static int count_since(const struct mfa_ctx *c, const char *sql, int64_t id, const char *text,
                       int64_t since, int64_t *oldest)
{
    db_stmt *st = store_stmt(c->store, sql);
    if (!st)
        return -1;
    if (text)
        db_bind_text(st, 1, text, -1);
    else
        db_bind_int64(st, 1, id);
    db_bind_int64(st, 2, since);
    int n = -1;
    if (db_step(st) == DB_ROW) {
        n = db_column_int(st, 0);
        *oldest = db_column_int64(st, 1);
    }
    db_reset(st);
    return n;
}

/* Steps st, whose one row is two counts each with the oldest time it
 * counted (count, min(at), count, min(at)). False when it gives none. */
static bool two_counts(db_stmt *st, int n[2], int64_t oldest[2])
{
    bool ok = db_step(st) == DB_ROW;
    for (int i = 0; ok && i < 2; i++) {
        n[i] = db_column_int(st, 2 * i);
        oldest[i] = db_column_int64(st, 2 * i + 1);
    }
    db_reset(st);
    return ok;
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

/* The SMS caps: counts the last hour's slots of the calling code and of
 * all SMS in one statement and, when both are under their caps, takes a
 * slot. On PostgreSQL this commits on its own, under a lock that makes
 * each count and its slot one step, before the caller's transaction does:
 * a send whose transaction then fails still holds its slot for the hour.
 * That commit does not wait for its WAL to reach the disk (the lock is
 * held until it returns): the caller's commit, which does wait, comes
 * later in the same WAL, so a send that was made never loses its slot in
 * a crash; only slots of sends that were not can. The lock is held for
 * three round trips, so a wait of 5 s means its holder hangs: the request
 * is run again (and answered 503 in the end) rather than waiting on. A run
 * again of the same request reuses the slot its earlier run took. */
static enum mfa_result sms_slot_take(const struct mfa_ctx *c, const char *cc, struct mfa_outcome *o)
{
    static const char lock[] = "SET LOCAL lock_timeout = '5s'; "
                               "LOCK TABLE sms_slots IN SHARE ROW EXCLUSIVE MODE; "
                               "SET LOCAL synchronous_commit = off";
    static const char count[] = "SELECT count(*) FILTER (WHERE prefix = ?1), "
                                "min(at) FILTER (WHERE prefix = ?1), count(*), min(at) "
                                "FROM sms_slots WHERE at > ?2";
    static const char take[] = "INSERT INTO sms_slots (at, prefix) VALUES (?, ?)";
    const struct policy *p = c->pol;
    if (store_apart_repeat(c->store))
        return MFA_OK;
    struct store *db = store_apart_begin(c->store);
    if (!db)
        return MFA_ERROR;
    enum mfa_result r = MFA_ERROR;
    if (db != c->store && store_exec(db, lock) != OG_OK)
        goto out;
    db_stmt *st = store_stmt(db, count);
    if (!st)
        goto out;
    db_bind_text(st, 1, cc, -1);
    db_bind_int64(st, 2, c->now_ms - HOUR_MS);
    int n[2];
    int64_t oldest[2];
    if (!two_counts(st, n, oldest))
        goto out;
    if (over(c, n[0], p->sms_prefix_hour, oldest[0], HOUR_MS, o, "sms_prefix_hour")) {
        log_warn("SMS refused: hourly cap for this calling code reached", "prefix", cc);
        r = MFA_LIMITED;
    } else if (over(c, n[1], p->sms_global_hour, oldest[1], HOUR_MS, o, "sms_global_hour")) {
        log_warn("SMS refused: global hourly SMS cap reached");
        r = MFA_LIMITED;
    } else if ((st = store_stmt(db, take))) {
        db_bind_int64(st, 1, c->now_ms);
        db_bind_text(st, 2, cc, -1);
        r = store_exec_done(st) == OG_OK ? MFA_OK : MFA_ERROR;
    }
out:
    if (store_apart_end(c->store, db, r == MFA_OK) != OG_OK)
        r = MFA_ERROR;
    return r;
}

enum mfa_result sendlimits_check(const struct mfa_ctx *c, enum factor_type channel,
                                 const char *dest, const struct mfa_user *u, struct mfa_outcome *o)
{
    const struct policy *p = c->pol;
    uint8_t h[32];
    int64_t oldest = 0;
    dest_hash(c, channel, dest, h);
    /* The destination's hour and day in one statement (one look at its
     * range of sends_dest; one round trip on PostgreSQL). */
    static const char by_dest[] =
        "SELECT count(*) FILTER (WHERE at > ?2), min(at) FILTER (WHERE at > ?2), count(*), "
        "min(at) FROM sends WHERE dest_hash = ?1 AND at > ?3";
    static const char by_user[] =
        "SELECT count(*), min(at) FROM sends WHERE user_id = ? AND at > ?";
    static const char by_ip[] =
        "SELECT count(*), min(at) FROM sends WHERE client_ip = ? AND at > ?";

    db_stmt *st = store_stmt(c->store, by_dest);
    if (!st)
        return MFA_ERROR;
    db_bind_blob(st, 1, h, sizeof(h));
    db_bind_int64(st, 2, c->now_ms - HOUR_MS);
    db_bind_int64(st, 3, c->now_ms - DAY_MS);
    int in[2];
    int64_t first[2];
    if (!two_counts(st, in, first))
        return MFA_ERROR;
    if (over(c, in[0], p->sends_per_dest_hour, first[0], HOUR_MS, o, "dest_hour") ||
        over(c, in[1], p->sends_per_dest_day, first[1], DAY_MS, o, "dest_day"))
        return MFA_LIMITED;
    int n = u->no_sends ? 0 : count_since(c, by_user, u->id, NULL, c->now_ms - HOUR_MS, &oldest);
    if (over(c, n, p->sends_per_user_hour, oldest, HOUR_MS, o, "user_hour"))
        return MFA_LIMITED;
    if (c->client_ip && c->client_ip[0]) {
        char ipkey[OG_IP_KEY_LEN];
        og_ip_limit_key(c->client_ip, ipkey, sizeof(ipkey));
        n = count_since(c, by_ip, 0, ipkey, c->now_ms - HOUR_MS, &oldest);
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
    return sms_slot_take(c, cc, o);
}

void sendlimits_record(const struct mfa_ctx *c, enum factor_type channel, const char *dest,
                       struct mfa_user *u)
{
    uint8_t h[32];
    dest_hash(c, channel, dest, h);
    db_stmt *st = store_stmt(c->store, "INSERT INTO sends (at, channel, dest_hash, user_id, "
                                       "client_ip) VALUES (?, ?, ?, ?, ?)");
    if (!st)
        return;
    db_bind_int64(st, 1, c->now_ms);
    db_bind_text(st, 2, factor_type_name(channel), -1);
    db_bind_blob(st, 3, h, sizeof(h));
    db_bind_int64(st, 4, u->id);
    /* The limit's key, not the address: an IPv6 user counts by /64. */
    char ipkey[OG_IP_KEY_LEN];
    og_ip_limit_key(c->client_ip, ipkey, sizeof(ipkey));
    db_bind_text_copy(st, 5, c->client_ip ? ipkey : NULL, -1);
    db_step(st);
    db_reset(st);
    u->no_sends = false;
}

void sendlimits_prune(struct store *s, int64_t now_ms)
{
    db_stmt *st = store_stmt(s, "DELETE FROM sends WHERE at < ?");
    if (st) {
        db_bind_int64(st, 1, now_ms - DAY_MS);
        store_exec_done(st);
    }
    if ((st = store_stmt(s, "DELETE FROM sms_slots WHERE at < ?"))) {
        db_bind_int64(st, 1, now_ms - HOUR_MS);
        store_exec_done(st);
    }
}
