/* Users as an app names them (app_id, sub), their preferred and last used
 * factor, and the consecutive-failure lockout of SPEC §4: from the
 * (lockout_free + 1)th failure each try waits twice as long as the last, up
 * to lockout_max_wait; lockout_hard failures in a row lock the user, and
 * the waits go on while locked, so the recovery codes that lift a lock are
 * guessed no faster than codes. */
#include "core/devices.h"
#include "core/log.h"
#include "core/mfa.h"

#include <stdint.h>
#include <stdio.h>

static void copy_col(db_stmt *st, int col, char *out, size_t outlen)
{
    const unsigned char *t = db_column_text(st, col);
    snprintf(out, outlen, "%s", t ? (const char *)t : "");
}

enum mfa_result users_find(const struct mfa_ctx *c, const char *sub, struct mfa_user *u)
{
    db_stmt *st = store_stmt(c->store, "SELECT id, preferred_factor, last_used_factor, failures, "
                                       "retry_at, last_wait, locked_at, enrol_offered FROM users "
                                       "WHERE app_id = ? AND sub = ?");
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, c->app_id, -1);
    db_bind_text(st, 2, sub, -1);
    int rc = db_step(st);
    if (rc != DB_ROW) {
        db_reset(st);
        return rc == DB_DONE ? MFA_NOT_FOUND : MFA_ERROR;
    }
    memset(u, 0, sizeof(*u));
    u->id = db_column_int64(st, 0);
    snprintf(u->sub, sizeof(u->sub), "%s", sub);
    copy_col(st, 1, u->preferred, sizeof(u->preferred));
    copy_col(st, 2, u->last_used, sizeof(u->last_used));
    u->failures = db_column_int64(st, 3);
    u->retry_at = db_column_int64(st, 4);
    u->last_wait = db_column_int64(st, 5);
    u->locked = db_column_type(st, 6) != DB_NULL;
    u->locked_at = db_column_int64(st, 6);
    u->enrol_offered = db_column_int(st, 7) != 0;
    db_reset(st);
    return MFA_OK;
}

/* A new user's id. SQLite's is the next rowid. PostgreSQL's is random:
 * under SERIALIZABLE, concurrent enrolments read and write the pages of
 * every index by user id (factors, challenges, sends) where their new
 * user's rows go, and ids that come one after another put them all on the
 * same rightmost pages, so the enrolments were rolled back as conflicting
 * (docs/several-instances.md). Odd, at most 2^53 - 1: 52 random bits,
 * exact as a JSON number. */
#define USERS_NEW_ID_TRIES 4

static int64_t users_new_id(void)
{
    uint64_t r;
    random_bytes((uint8_t *)&r, sizeof(r));
    return (int64_t)(r >> 11) | 1; /* odd, 1 to 2^53 - 1 */
}

/* The statement that adds sub's row, its app and time bound. */
static db_stmt *new_user_stmt(const struct mfa_ctx *c, const char *sub, const char *sql)
{
    db_stmt *st = store_stmt(c->store, sql);
    if (!st)
        return NULL;
    db_bind_text(st, 1, c->app_id, -1);
    db_bind_text(st, 2, sub, -1);
    db_bind_int64(st, 3, c->now_ms);
    return st;
}

/* Adds sub's row and fills *u; on PostgreSQL with a random id (another
 * if one is taken), and a row that is there already is left alone and
 * read instead. */
static enum mfa_result users_insert(const struct mfa_ctx *c, const char *sub, struct mfa_user *u)
{
    if (store_engine(c->store) != STORE_POSTGRES) {
        db_stmt *st = new_user_stmt(
            c, sub, "INSERT INTO users (app_id, sub, created_at) VALUES (?1, ?2, ?3)");
        if (!st)
            return MFA_ERROR;
        int rc = db_step(st);
        db_reset(st);
        enum mfa_result r = rc == DB_DONE ? users_find(c, sub, u) : MFA_ERROR;
        u->no_factors = u->no_sends = r == MFA_OK;
        return r;
    }
    db_stmt *st = new_user_stmt(c, sub,
                                "INSERT INTO users (app_id, sub, created_at, id) "
                                "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING RETURNING id");
    if (!st)
        return MFA_ERROR;
    for (int i = 0; i < USERS_NEW_ID_TRIES; i++) {
        db_bind_int64(st, 4, users_new_id());
        int rc = db_step(st);
        int64_t id = rc == DB_ROW ? db_column_int64(st, 0) : 0;
        db_reset(st);
        if (rc == DB_ROW) {
            /* A row just added holds its defaults: not read back. */
            memset(u, 0, sizeof(*u));
            u->id = id;
            u->no_factors = u->no_sends = true;
            snprintf(u->sub, sizeof(u->sub), "%s", sub);
            return MFA_OK;
        }
        if (rc != DB_DONE)
            return MFA_ERROR;
        /* Nothing added: the sub is there already, or the id was taken. */
        enum mfa_result r = users_find(c, sub, u);
        if (r != MFA_NOT_FOUND)
            return r;
    }
    return MFA_ERROR;
}

static bool sub_ok(const char *sub)
{
    size_t n = strlen(sub);
    return n > 0 && n <= MFA_SUB_MAX;
}

enum mfa_result users_get_or_create(const struct mfa_ctx *c, const char *sub, struct mfa_user *u)
{
    if (!sub_ok(sub))
        return MFA_INVALID;
    enum mfa_result r = users_find(c, sub, u);
    return r == MFA_NOT_FOUND ? users_insert(c, sub, u) : r;
}

/* On PostgreSQL the row is added first, and looked for only if it was
 * there already. A look that finds nothing leaves a read lock on the
 * index page where the sub would go, so two new users whose subs are
 * neighbours there ("user1001", "user1002") each read what the other
 * wrote, and one was rolled back; the insert's own check for a taken sub
 * leaves no such lock. The price: an insert meeting a row that another
 * transaction is changing waits for it, and is then run again as a
 * serialization failure, where a look reads the row as it was. So it is
 * for calls that add a factor, which come in bursts of new users from an
 * app; pages, where users mostly exist, look first. */
enum mfa_result users_add_or_get(const struct mfa_ctx *c, const char *sub, struct mfa_user *u)
{
    if (store_engine(c->store) != STORE_POSTGRES)
        return users_get_or_create(c, sub, u);
    return sub_ok(sub) ? users_insert(c, sub, u) : MFA_INVALID;
}

static enum mfa_result users_save(const struct mfa_ctx *c, const struct mfa_user *u)
{
    db_stmt *st =
        store_stmt(c->store, "UPDATE users SET preferred_factor = NULLIF(?, ''), "
                             "last_used_factor = NULLIF(?, ''), failures = ?, retry_at = ?, "
                             "last_wait = ?, locked_at = ? WHERE id = ?");
    if (!st)
        return MFA_ERROR;
    db_bind_text(st, 1, u->preferred, -1);
    db_bind_text(st, 2, u->last_used, -1);
    db_bind_int64(st, 3, u->failures);
    db_bind_int64(st, 4, u->retry_at);
    db_bind_int64(st, 5, u->last_wait);
    if (u->locked)
        db_bind_int64(st, 6, u->locked_at);
    else
        db_bind_null(st, 6);
    db_bind_int64(st, 7, u->id);
    int rc = db_step(st);
    db_reset(st);
    return rc == DB_DONE ? MFA_OK : MFA_ERROR;
}

enum mfa_result users_set_preferred(const struct mfa_ctx *c, struct mfa_user *u,
                                    const char *factor_id)
{
    struct mfa_factor f;
    enum mfa_result r = factors_get(c, u, factor_id, &f);
    if (r != MFA_OK)
        return r;
    if (!f.active)
        return MFA_CONFLICT;
    snprintf(u->preferred, sizeof(u->preferred), "%s", factor_id);
    r = users_save(c, u);
    if (r == MFA_OK)
        audit_log_user(c, u, "preferred_set", factor_id, NULL);
    return r;
}

enum mfa_result users_gate_recovery(const struct mfa_ctx *c, const struct mfa_user *u,
                                    struct mfa_outcome *o)
{
    if (c->now_ms < u->retry_at) {
        o->retry_after = (u->retry_at - c->now_ms + 999) / 1000;
        return MFA_WAIT;
    }
    return MFA_OK;
}

enum mfa_result users_gate(const struct mfa_ctx *c, const struct mfa_user *u, struct mfa_outcome *o)
{
    if (u->locked) {
        o->locked_at = u->locked_at;
        return MFA_LOCKED;
    }
    return users_gate_recovery(c, u, o);
}

void users_record_failure(const struct mfa_ctx *c, struct mfa_user *u, struct mfa_outcome *o)
{
    const struct policy *p = c->pol;
    u->failures++;
    /* The wait doubles past the hard lock too: a locked user's recovery
     * codes are guessed no faster than any other code. */
    if ((uint64_t)u->failures > p->lockout_free && p->lockout_wait > 0) {
        int64_t wait = u->last_wait ? u->last_wait * 2 : (int64_t)p->lockout_wait;
        if (wait > (int64_t)p->lockout_max_wait)
            wait = (int64_t)p->lockout_max_wait;
        u->last_wait = wait;
        u->retry_at = c->now_ms + wait * 1000;
        o->retry_after = wait;
    }
    if ((uint64_t)u->failures >= p->lockout_hard) {
        if (!u->locked) {
            u->locked = true;
            u->locked_at = c->now_ms;
            audit_log_user(c, u, "locked", NULL, "consecutive failures");
            log_warn("user locked after consecutive failures", "app", c->app_id);
            users_forget_devices(c, u->sub, "locked");
        }
        o->locked_at = u->locked_at;
    }
    users_save(c, u);
}

enum mfa_result users_fail(const struct mfa_ctx *c, struct mfa_user *u, struct mfa_outcome *o,
                           const char *event, const char *factor_id, const char *detail)
{
    users_record_failure(c, u, o);
    audit_log_user(c, u, event, factor_id, detail);
    return u->locked ? MFA_LOCKED : MFA_WRONG_CODE;
}

void users_mark_offered(const struct mfa_ctx *c, struct mfa_user *u)
{
    db_stmt *st = store_stmt(c->store, "UPDATE users SET enrol_offered = 1 WHERE id = ?");
    if (!st)
        return;
    db_bind_int64(st, 1, u->id);
    db_step(st);
    db_reset(st);
    u->enrol_offered = true;
}

void users_record_success(const struct mfa_ctx *c, struct mfa_user *u, const char *factor_id)
{
    /* The common case, a user with no failures using the same factor
     * again, changes nothing: no write (a dirtied page costs the commit). */
    bool same = !u->unsaved && u->failures == 0 && u->retry_at == 0 && u->last_wait == 0 &&
                (!factor_id || strcmp(u->last_used, factor_id) == 0);
    u->failures = 0;
    u->retry_at = 0;
    u->last_wait = 0;
    if (factor_id)
        snprintf(u->last_used, sizeof(u->last_used), "%s", factor_id);
    if (!same && users_save(c, u) == MFA_OK)
        u->unsaved = false;
}

void users_forget_devices(const struct mfa_ctx *c, const char *sub, const char *why)
{
    int n = 0;
    if (devices_forget_all(c->store, c->app_id, c->pol, sub, &n) == OG_OK && n > 0) {
        char detail[96];
        snprintf(detail, sizeof(detail), "%d: %s", n, why);
        audit_log(c, sub, "devices_forgotten", NULL, detail);
    }
}
