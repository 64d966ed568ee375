/* Outbox rows in the store. Every state change is one UPDATE guarded by the
 * state it expects, so a row is never claimed twice. */
#include "core/outbox.h"

#include "core/log.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>

static void aad_for(const char *msg_id, char *out, size_t outlen)
{
    snprintf(out, outlen, "outbox:%s", msg_id);
}

/* One store is used by one thread at a time (store.h). */
static _Atomic uint64_t added; /* requests on several threads queue rows */
static int64_t lease_ms = OUTBOX_LEASE_MS;

void outbox_set_lease_ms(int64_t ms)
{
    lease_ms = ms > 0 ? ms : OUTBOX_LEASE_MS;
}

uint64_t outbox_added_count(void)
{
    return added;
}

static const char *const kind_names[] = {"code", "notice", "webhook"};

const char *outbox_channel_name(const struct outbox_msg *m)
{
    return m->kind == OUTBOX_WEBHOOK ? "webhook" : factor_type_name(m->channel);
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

int outbox_enqueue(struct store *s, const struct keyring *k, struct outbox_msg *m, int64_t now_ms,
                   bool claim)
{
    random_id(m->kind == OUTBOX_CODE ? "m_" : "msg_", m->msg_id, sizeof(m->msg_id));
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    if (m->kind == OUTBOX_CODE) {
        char aad[64];
        aad_for(m->msg_id, aad, sizeof(aad));
        if (secret_seal(k->seal, (const uint8_t *)m->code, strlen(m->code), aad, &sealed,
                        &sealed_len) != OG_OK)
            return OG_ERR_CRYPTO;
    }
    db_stmt *st = store_stmt(
        s, "INSERT INTO outbox (msg_id, created_at, channel, destination, app_id, app_name, "
           "locale, user_id, ttl, body_sealed, state, attempts, next_at, fallback_of, kind, "
           "event, sub, ref, payload, purpose, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
           "?, ?, ?, ?, NULLIF(?, 0), ?, ?, ?, ?, ?, NULLIF(?, ''), NULLIF(?, 0)) RETURNING id");
    if (!st) {
        free(sealed);
        return OG_ERR_DB;
    }
    db_bind_text(st, 1, m->msg_id, -1);
    db_bind_int64(st, 2, now_ms);
    db_bind_text(st, 3, outbox_channel_name(m), -1);
    db_bind_text(st, 4, m->destination, -1);
    db_bind_text(st, 5, m->app_id, -1);
    db_bind_text(st, 6, m->app_name, -1);
    db_bind_text(st, 7, m->locale, -1);
    db_bind_int64(st, 8, m->user_id);
    db_bind_int(st, 9, (int)m->ttl);
    if (sealed)
        db_bind_blob(st, 10, sealed, (int)sealed_len);
    else
        db_bind_null(st, 10);
    db_bind_text(st, 11, claim ? "sending" : "queued", -1);
    db_bind_int(st, 12, claim ? 1 : 0);
    db_bind_int64(st, 13, now_ms);
    db_bind_int64(st, 14, m->fallback_of);
    db_bind_text(st, 15, kind_names[m->kind], -1);
    db_bind_text(st, 16, nonempty(m->event), -1);
    db_bind_text(st, 17, nonempty(m->sub), -1);
    db_bind_text(st, 18, nonempty(m->ref), -1);
    db_bind_text(st, 19, nonempty(m->payload), -1);
    db_bind_text(st, 20, m->purpose, -1);
    db_bind_int64(st, 21, claim ? now_ms + lease_ms : 0);
    int rc = db_step(st);
    if (rc == DB_ROW)
        m->id = db_column_int64(st, 0);
    db_reset(st);
    free(sealed);
    if (rc != DB_ROW)
        return store_step_err(rc);
    m->created_at = now_ms;
    added++;
    m->attempts = claim ? 1 : 0;
    return OG_OK;
}

static void copy_text(db_stmt *st, int col, char *out, size_t outlen)
{
    const unsigned char *t = db_column_text(st, col);
    snprintf(out, outlen, "%s", t ? (const char *)t : "");
}

#define CLAIM_RETURNING                                                                            \
    " RETURNING id, msg_id, destination, app_id, app_name, locale, user_id, ttl, attempts, "       \
    "created_at, fallback_of, body_sealed, kind, channel, event, sub, ref, payload, purpose"

static enum outbox_kind kind_parse(const char *k)
{
    if (k && strcmp(k, "notice") == 0)
        return OUTBOX_NOTICE;
    if (k && strcmp(k, "webhook") == 0)
        return OUTBOX_WEBHOOK;
    return OUTBOX_CODE;
}

/* Reads one RETURNING row of a claim into m, opening a code. */
static void claimed_row(db_stmt *st, const struct keyring *k, struct outbox_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->id = db_column_int64(st, 0);
    copy_text(st, 1, m->msg_id, sizeof(m->msg_id));
    copy_text(st, 2, m->destination, sizeof(m->destination));
    copy_text(st, 3, m->app_id, sizeof(m->app_id));
    copy_text(st, 4, m->app_name, sizeof(m->app_name));
    copy_text(st, 5, m->locale, sizeof(m->locale));
    m->user_id = db_column_int64(st, 6);
    m->ttl = (unsigned)db_column_int(st, 7);
    m->attempts = db_column_int(st, 8);
    m->created_at = db_column_int64(st, 9);
    m->fallback_of = db_column_int64(st, 10);
    m->kind = kind_parse((const char *)db_column_text(st, 12));
    const char *channel = (const char *)db_column_text(st, 13);
    enum factor_type ft = FACTOR_EMAIL;
    if (channel && m->kind != OUTBOX_WEBHOOK && factor_type_parse(channel, &ft) == 0)
        m->channel = ft;
    else
        m->channel = FACTOR_EMAIL;
    copy_text(st, 14, m->event, sizeof(m->event));
    copy_text(st, 15, m->sub, sizeof(m->sub));
    copy_text(st, 16, m->ref, sizeof(m->ref));
    copy_text(st, 17, m->payload, sizeof(m->payload));
    copy_text(st, 18, m->purpose, sizeof(m->purpose));
    if (m->kind != OUTBOX_CODE)
        return;
    char aad[64];
    aad_for(m->msg_id, aad, sizeof(aad));
    uint8_t *code = NULL;
    size_t code_len = 0;
    if (db_column_type(st, 11) == DB_BLOB &&
        secret_open(k->seal, db_column_blob(st, 11), (size_t)db_column_bytes(st, 11), aad, &code,
                    &code_len) == OG_OK &&
        code_len < sizeof(m->code)) {
        memcpy(m->code, code, code_len);
        m->code[code_len] = '\0';
    }
    if (code) {
        OPENSSL_cleanse(code, code_len);
        free(code);
    }
}

/* Runs a claim statement already bound, then hands the rows to fn. */
static int claim_run(struct store *s, db_stmt *st, const struct keyring *k,
                     void (*fn)(const struct outbox_msg *m, void *arg), void *arg)
{
    /* RETURNING rows must all be read before the UPDATE is complete, so
     * collect them first and call fn afterwards. */
    struct outbox_msg *list = NULL;
    int n = 0, rc;
    while ((rc = db_step(st)) == DB_ROW) {
        list = og_realloc(list, (size_t)(n + 1) * sizeof(*list));
        claimed_row(st, k, &list[n]);
        n++;
    }
    db_reset(st);
    if (rc != DB_DONE) {
        free(list);
        return OG_ERR_DB;
    }
    for (int i = 0; i < n; i++) {
        if (list[i].kind != OUTBOX_CODE || list[i].code[0])
            fn(&list[i], arg);
        else
            outbox_mark_retry(s, list[i].id, 0, NULL, "the sealed code does not open");
    }
    OPENSSL_cleanse(list, (size_t)n * sizeof(*list));
    free(list);
    return n;
}

/* The claims. SQLite: one connection writes at a time and one instance
 * owns the outbox, so queued rows are enough. PostgreSQL: rows another
 * instance is claiming right now are skipped rather than waited for, and
 * rows in sending whose lease ran out (their instance died) are taken
 * over. ?1 now, ?2 the lease's end, ?3 the limit, ?4 the channel. */
#define CLAIM_SET      "UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_until = ?2 "
#define CLAIM_DUE      "next_at <= ?1"
#define CLAIM_TAKEOVER "(state = 'sending' AND lease_until <= ?1)"
static const char *const SQL_CLAIM[2] = {
    CLAIM_SET
    "WHERE id IN (SELECT id FROM outbox WHERE state = 'queued' AND channel = ?4 AND " CLAIM_DUE
    " ORDER BY next_at, id LIMIT ?3)" CLAIM_RETURNING,
    CLAIM_SET "WHERE id IN (SELECT id FROM outbox WHERE kind <> 'webhook' AND channel = ?4 AND "
              "((state = 'queued' AND " CLAIM_DUE ") OR " CLAIM_TAKEOVER
              ") ORDER BY next_at, id LIMIT ?3 "
              "FOR UPDATE SKIP LOCKED)" CLAIM_RETURNING,
};

int outbox_claim(struct store *s, const struct keyring *k, enum factor_type channel, int max,
                 int64_t now_ms, void (*fn)(const struct outbox_msg *m, void *arg), void *arg)
{
    if (max <= 0)
        return 0;
    db_stmt *st = store_stmt(s, SQL_CLAIM[store_engine(s) == STORE_POSTGRES]);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    db_bind_int64(st, 2, now_ms + lease_ms);
    db_bind_int(st, 3, max);
    db_bind_text(st, 4, factor_type_name(channel), -1);
    return claim_run(s, st, k, fn, arg);
}

/* A webhook row is open while queued or sending; a later one of the same
 * app and user waits behind it. */
#define WEBHOOK_BEHIND                                                                             \
    "NOT EXISTS (SELECT 1 FROM outbox e WHERE e.kind = 'webhook' AND e.state IN ('queued', "       \
    "'sending') AND e.app_id = outbox.app_id AND e.sub = outbox.sub AND e.id < outbox.id)"
#define WEBHOOK_HEAD "kind = 'webhook' AND state = 'queued' AND " WEBHOOK_BEHIND
static const char *const SQL_CLAIM_WEBHOOKS[2] = {
    CLAIM_SET "WHERE id IN (SELECT id FROM outbox WHERE " WEBHOOK_HEAD " AND " CLAIM_DUE
              " ORDER BY next_at, id LIMIT ?3)" CLAIM_RETURNING,
    CLAIM_SET "WHERE id IN (SELECT id FROM outbox WHERE kind = 'webhook' AND " WEBHOOK_BEHIND
              " AND ((state = 'queued' AND " CLAIM_DUE ") OR " CLAIM_TAKEOVER
              ") ORDER BY next_at, id "
              "LIMIT ?3 FOR UPDATE SKIP LOCKED)" CLAIM_RETURNING,
};

int outbox_claim_webhooks(struct store *s, int max, int64_t now_ms,
                          void (*fn)(const struct outbox_msg *m, void *arg), void *arg)
{
    if (max <= 0)
        return 0;
    db_stmt *st = store_stmt(s, SQL_CLAIM_WEBHOOKS[store_engine(s) == STORE_POSTGRES]);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    db_bind_int64(st, 2, now_ms + lease_ms);
    db_bind_int(st, 3, max);
    return claim_run(s, st, NULL, fn, arg);
}

int64_t outbox_next_due_webhook(struct store *s)
{
    db_stmt *st = store_stmt(s, "SELECT min(next_at) FROM outbox WHERE " WEBHOOK_HEAD);
    if (!st)
        return 0;
    int64_t t = db_step(st) == DB_ROW ? db_column_int64(st, 0) : 0;
    db_reset(st);
    return t;
}

int outbox_fail_unsendable(struct store *s, enum factor_type channel, const char *answer)
{
    db_stmt *st = store_stmt(s, "UPDATE outbox SET state = 'failed', answer = ? WHERE "
                                "state = 'queued' AND kind = 'notice' AND channel = ?");
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, answer, -1);
    db_bind_text(st, 2, factor_type_name(channel), -1);
    int rc = db_step(st);
    db_reset(st);
    return rc == DB_DONE ? (int)store_changes(s) : OG_ERR_DB;
}

int outbox_mark_sent(struct store *s, int64_t id, int64_t now_ms, const char *provider,
                     const char *provider_id, const char *answer)
{
    db_stmt *st = store_stmt(s, "UPDATE outbox SET state = 'sent', body_sealed = NULL, "
                                "sent_at = ?, provider = ?, provider_id = ?, answer = ?, "
                                "lease_until = NULL WHERE id = ? AND state = 'sending'");
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    db_bind_text(st, 2, provider, -1);
    db_bind_text(st, 3, provider_id && provider_id[0] ? provider_id : NULL, -1);
    db_bind_text(st, 4, answer, -1);
    db_bind_int64(st, 5, id);
    int rc = db_step(st);
    db_reset(st);
    return rc == DB_DONE ? OG_OK : OG_ERR_DB;
}

int outbox_mark_retry(struct store *s, int64_t id, int64_t next_at_ms, const char *provider,
                      const char *answer)
{
    db_stmt *st =
        store_stmt(s, "UPDATE outbox SET state = CASE WHEN ?1 > 0 THEN 'queued' ELSE 'failed' END, "
                      "next_at = CASE WHEN ?1 > 0 THEN ?1 ELSE next_at END, "
                      "body_sealed = CASE WHEN ?1 > 0 THEN body_sealed ELSE NULL END, "
                      "provider = ?2, answer = ?3, lease_until = NULL "
                      "WHERE id = ?4 AND state = 'sending'");
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, next_at_ms);
    db_bind_text(st, 2, provider, -1);
    db_bind_text(st, 3, answer, -1);
    db_bind_int64(st, 4, id);
    int rc = db_step(st);
    db_reset(st);
    return rc == DB_DONE ? OG_OK : OG_ERR_DB;
}

int outbox_resume(struct store *s, int64_t now_ms)
{
    static const char *const sql[2] = {
        "UPDATE outbox SET state = 'queued', next_at = ?1, lease_until = NULL "
        "WHERE state = 'sending'",
        "UPDATE outbox SET state = 'queued', next_at = ?1, lease_until = NULL "
        "WHERE state = 'sending' AND (lease_until IS NULL OR lease_until <= ?1)",
    };
    db_stmt *st = store_stmt(s, sql[store_engine(s) == STORE_POSTGRES]);
    if (!st)
        return OG_ERR_DB;
    db_bind_int64(st, 1, now_ms);
    int rc = db_step(st);
    db_reset(st);
    return rc == DB_DONE ? (int)store_changes(s) : OG_ERR_DB;
}

int outbox_depth(struct store *s)
{
    db_stmt *st = store_stmt(s, "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')");
    if (!st)
        return OG_ERR_DB;
    int n = db_step(st) == DB_ROW ? db_column_int(st, 0) : OG_ERR_DB;
    db_reset(st);
    return n;
}

int64_t outbox_next_due(struct store *s, enum factor_type channel)
{
    db_stmt *st =
        store_stmt(s, "SELECT min(next_at) FROM outbox WHERE state = 'queued' AND channel = ?");
    if (!st)
        return 0;
    db_bind_text(st, 1, factor_type_name(channel), -1);
    int64_t t = db_step(st) == DB_ROW ? db_column_int64(st, 0) : 0;
    db_reset(st);
    return t;
}
