/* Moves outbox rows to their channel and records what came back. A row is
 * claimed (state sending) in a group commit and only handed over after
 * that commit, so a crash can at worst send a message again, never lose
 * it. The plain code lives in memory only while a send is in flight, a
 * webhook's signing key only while it is signed. */
#include "gateway/delivery/delivery.h"

#include "core/apps.h"
#include "core/log.h"
#include "core/sms_template.h"
#include "gateway/dbpool.h"
#include "gateway/delivery/http_client.h"
#include "gateway/server.h"
#include "gateway/delivery/sms.h"
#include "gateway/delivery/smtp.h"
#include "gateway/delivery/webhooks.h"
#include "ui/mail_html.h"
#include "ui/messages.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* libuv's thread pool has 4 threads by default; more SMTP jobs would wait. */
#define SMTP_MAX_IN_FLIGHT 4
#define SMS_MAX_IN_FLIGHT  64
#define HOOK_MAX_IN_FLIGHT 16
#define BACKOFF_CAP_MS     (300 * 1000)

enum via { VIA_DEV, VIA_SMTP, VIA_SMS, VIA_SMS2, VIA_HOOK };

struct delivery_job {
    uv_work_t work;
    struct delivery_job *next;
    struct server *s;
    struct outbox_msg msg;
    enum via via;
    char subject[256];
    struct buf text, html;
    struct smtp_result smtp;
    uint8_t key[APPS_WEBHOOK_KEY_BYTES]; /* a webhook's signing key, from the claim */
    bool have_key;
    /* PostgreSQL, development sink: the row was marked sent in the
     * transaction that claimed it, so no outcome is written after. */
    bool recorded;
};

static void *detach_to_start(struct server *s);
static void after_commit(struct server *s, bool ok, void *token);
static void pump(struct server *s);

static bool smtp_configured(const struct server *s)
{
    return s->cfg->smtp_url != NULL;
}

bool delivery_available(const struct server *s, enum factor_type channel)
{
    if (channel == FACTOR_EMAIL)
        return smtp_configured(s) || s->cfg->dev_enabled;
    if (channel == FACTOR_SMS)
        return s->delivery.sms != NULL || s->cfg->dev_enabled;
    return false;
}

/* A channel with no provider: its messages go to the development sink,
 * which takes them at once on the loop. */
static bool dev_only(const struct server *s, enum factor_type channel)
{
    return channel == FACTOR_EMAIL ? !smtp_configured(s) : s->delivery.sms == NULL;
}

static unsigned max_in_flight(const struct server *s, enum factor_type channel)
{
    if (!delivery_available(s, channel))
        return 0;
    return channel == FACTOR_EMAIL ? SMTP_MAX_IN_FLIGHT : SMS_MAX_IN_FLIGHT;
}

static _Atomic unsigned *in_flight(struct server *s, enum factor_type channel)
{
    return channel == FACTOR_EMAIL ? &s->delivery.smtp_in_flight : &s->delivery.sms_in_flight;
}

/* The in-flight count a row takes a slot of. */
static _Atomic unsigned *slot_of(struct server *s, const struct outbox_msg *m)
{
    return m->kind == OUTBOX_WEBHOOK ? &s->delivery.hook_in_flight : in_flight(s, m->channel);
}

/* Takes up to want of a channel's free slots (max in all), on any
 * thread; returns how many it took. */
static unsigned take_slots(_Atomic unsigned *used, unsigned max, unsigned want)
{
    unsigned cur = *used;
    for (;;) {
        unsigned n = cur < max ? max - cur : 0;
        if (n > want)
            n = want;
        if (n == 0 || atomic_compare_exchange_weak(used, &cur, cur + n))
            return n;
    }
}

static struct delivery_job *job_new(struct server *s)
{
    struct delivery_job *j = og_calloc(1, sizeof(*j));
    j->s = s;
    buf_init(&j->text, 8192);
    buf_init(&j->html, 65536);
    return j;
}

static void job_free(struct delivery_job *j)
{
    OPENSSL_cleanse(j->key, sizeof(j->key));
    OPENSSL_cleanse(j->msg.code, sizeof(j->msg.code));
    OPENSSL_cleanse(j->subject, sizeof(j->subject));
    if (j->text.data)
        OPENSSL_cleanse(j->text.data, j->text.len);
    if (j->html.data)
        OPENSSL_cleanse(j->html.data, j->html.len);
    buf_free(&j->text);
    buf_free(&j->html);
    free(j);
}

/* Takes a claimed row into the list started after the commit. */
static void hold_for_start(struct server *s, struct delivery_job *j)
{
    (*slot_of(s, &j->msg))++;
    j->next = s->delivery.to_start;
    s->delivery.to_start = j;
}

/* PostgreSQL: a row for the development sink, which takes every message
 * at once and never fails, is marked sent in the transaction that claims
 * it (on a worker), so that its state is settled when that commits, as the
 * group commit settles it on SQLite. */
static void dev_record(struct store *db, struct delivery_job *j)
{
    if (outbox_mark_sent(db, j->msg.id, server_now_ms(), "dev", NULL, "development sink") == OG_OK)
        j->recorded = true;
}

/* PostgreSQL: the rows the request running on this worker claimed. */
static _Thread_local struct delivery_job *worker_claimed;

struct delivery_job *delivery_worker_take(void)
{
    struct delivery_job *list = worker_claimed;
    worker_claimed = NULL;
    return list;
}

void delivery_worker_drop(void)
{
    while (worker_claimed) {
        struct delivery_job *j = worker_claimed;
        worker_claimed = j->next;
        (*slot_of(j->s, &j->msg))--; /* the slot the claim took */
        job_free(j);
    }
}

int delivery_queue_code(struct server *s, enum factor_type channel, const char *to,
                        const char *code, const char *app_id, const char *app_name, int64_t user_id,
                        unsigned ttl_seconds, const char *locale, const char *purpose)
{
    if (!delivery_available(s, channel))
        return OG_ERR_NOT_FOUND;
    struct delivery_job *j = job_new(s);
    struct outbox_msg *m = &j->msg;
    m->channel = channel;
    snprintf(m->destination, sizeof(m->destination), "%s", to);
    snprintf(m->app_id, sizeof(m->app_id), "%s", app_id ? app_id : "");
    snprintf(m->app_name, sizeof(m->app_name), "%s", app_name);
    snprintf(m->locale, sizeof(m->locale), "%s", locale);
    snprintf(m->purpose, sizeof(m->purpose), "%s", purpose ? purpose : "");
    snprintf(m->code, sizeof(m->code), "%s", code);
    m->user_id = user_id;
    m->ttl = ttl_seconds;
    /* On PostgreSQL (a database worker) the request claims the row for
     * this instance when it can take a slot now; the loop starts it after
     * the commit (delivery_start_claimed), before the answer goes out, as
     * here. A row held without a free slot could outlast its lease and be
     * sent by another instance too; the development sink has no such wait,
     * so it takes every row at once. */
    bool claim = true;
    if (!s->pool)
        claim = *in_flight(s, channel) < max_in_flight(s, channel);
    else if (dev_only(s, channel))
        (*in_flight(s, channel))++;
    else
        claim = take_slots(in_flight(s, channel), max_in_flight(s, channel), 1) == 1;
    int rc = outbox_enqueue(server_db(s), &s->keys, m, server_now_ms(), claim);
    if (rc != OG_OK || !claim) {
        if (s->pool && claim)
            (*in_flight(s, channel))--;
        job_free(j);
        if (!s->pool)
            s->delivery.kick = true; /* PostgreSQL: the request's end pumps */
        return rc;
    }
    if (s->pool) {
        if (dev_only(s, channel))
            dev_record(server_db(s), j);
        j->next = worker_claimed;
        worker_claimed = j;
        return OG_OK;
    }
    hold_for_start(s, j);
    return OG_OK;
}

/* ---- results ---------------------------------------------------------- */

static void count_outcome(struct server *s, const struct outbox_msg *m, const char *outcome)
{
    char labels[80];
    snprintf(labels, sizeof(labels), "channel=\"%s\",outcome=\"%s\"", outbox_channel_name(m),
             outcome);
    if (m->kind == OUTBOX_CODE)
        metrics_count(&s->metrics, "otpgate_codes_sent_total",
                      "Code messages by channel and outcome (sent, dev, retry, failed).", labels,
                      1);
    else if (m->kind == OUTBOX_NOTICE)
        metrics_count(&s->metrics, "otpgate_notifications_sent_total",
                      "Security notifications by channel and outcome (sent, dev, retry, failed).",
                      labels, 1);
    else
        metrics_count(&s->metrics, "otpgate_webhooks_sent_total",
                      "App webhooks by outcome (sent, retry, failed).", labels, 1);
}

static int64_t backoff_ms(const struct server *s, int attempts)
{
    int64_t base = (int64_t)s->cfg->delivery_backoff_ms;
    int shift = attempts > 1 ? attempts - 1 : 0;
    int64_t wait = base << (shift > 20 ? 20 : shift);
    if (wait > BACKOFF_CAP_MS || wait <= 0)
        wait = BACKOFF_CAP_MS;
    /* Jitter of ±50% so retries after an outage do not arrive together. */
    uint32_t r = 0;
    RAND_bytes((unsigned char *)&r, sizeof(r));
    return wait / 2 + (int64_t)((double)r / 4294967296.0 * (double)wait);
}

/* A failed SMS stands in as an e-mail to the user's verified address when
 * the app's policy allows it. */
static void fallback_to_email(struct server *s, struct store *db, const struct outbox_msg *m)
{
    struct policy pol;
    if (m->user_id == 0 || policy_load(db, m->app_id[0] ? m->app_id : NULL, &pol) != OG_OK ||
        !pol.sms_fallback_email || !delivery_available(s, FACTOR_EMAIL))
        return;
    db_stmt *st = store_stmt(db, "SELECT destination FROM factors WHERE user_id = ? "
                                 "AND type = 'email' AND status = 'active' "
                                 "ORDER BY coalesce(last_used_at, -1) DESC, "
                                 "created_at, id LIMIT 1");
    if (!st)
        return;
    db_bind_int64(st, 1, m->user_id);
    char to[MFA_DEST_LEN] = "";
    if (db_step(st) == DB_ROW)
        snprintf(to, sizeof(to), "%s", (const char *)db_column_text(st, 0));
    db_reset(st);
    if (!to[0])
        return;
    struct delivery_job *j = job_new(s);
    j->msg = *m;
    j->msg.channel = FACTOR_EMAIL;
    j->msg.fallback_of = m->id;
    snprintf(j->msg.destination, sizeof(j->msg.destination), "%s", to);
    bool claim = !s->pool && s->delivery.smtp_in_flight < max_in_flight(s, FACTOR_EMAIL);
    if (outbox_enqueue(db, &s->keys, &j->msg, server_now_ms(), claim) == OG_OK && claim) {
        hold_for_start(s, j);
    } else {
        job_free(j);
        if (!s->pool)
            s->delivery.kick = true; /* PostgreSQL: the outcome's done pumps */
    }
    log_info("SMS failed: code sent to the user's e-mail instead", "app", m->app_id);
    count_outcome(s, m, "fallback_email");
}

/* What came back from a channel, kept until it is written. */
struct outcome {
    bool ok, retryable;
    const char *provider;
    const char *provider_id; /* or NULL */
    const char *answer;
    int64_t now;
};

enum outcome_kind { OUTCOME_SENT, OUTCOME_RETRY, OUTCOME_FAILED };

/* Whether an outcome is a send, a retry later or a failure for good. */
static enum outcome_kind outcome_kind(const struct server *s, const struct delivery_job *j,
                                      const struct outcome *o)
{
    if (o->ok)
        return OUTCOME_SENT;
    return o->retryable && j->msg.attempts <= (int)s->cfg->delivery_retries ? OUTCOME_RETRY
                                                                            : OUTCOME_FAILED;
}

/* An outcome's metrics and log lines, on the loop when the channel
 * answered (on PostgreSQL its row is written after, on a worker). */
static void outcome_report(struct server *s, const struct delivery_job *j, const struct outcome *o)
{
    const struct outbox_msg *m = &j->msg;
    enum outcome_kind kind = outcome_kind(s, j, o);
    if (kind == OUTCOME_SENT) {
        count_outcome(s, m, j->via == VIA_DEV ? "dev" : "sent");
        char labels[32];
        snprintf(labels, sizeof(labels), "channel=\"%s\"", outbox_channel_name(m));
        metrics_observe_seconds(&s->metrics, "otpgate_delivery_latency_seconds",
                                "Time from queueing a message to a provider accepting it.", labels,
                                (double)(o->now - m->created_at) / 1000.0);
    } else if (kind == OUTCOME_RETRY) {
        count_outcome(s, m, "retry");
        char n[12];
        snprintf(n, sizeof(n), "%d", m->attempts);
        log_warn("delivery failed, will retry", "channel", outbox_channel_name(m), "msg_id",
                 m->msg_id, "attempt", n, "answer", o->answer);
    } else {
        count_outcome(s, m, "failed");
        log_error("delivery failed for good", "channel", outbox_channel_name(m), "msg_id",
                  m->msg_id, "answer", o->answer);
    }
}

/* Writes an outcome into db, in the caller's transaction. */
static void outcome_write(struct server *s, struct store *db, struct delivery_job *j,
                          const struct outcome *o)
{
    struct outbox_msg *m = &j->msg;
    enum outcome_kind kind = outcome_kind(s, j, o);
    if (kind == OUTCOME_SENT) {
        outbox_mark_sent(db, m->id, o->now, o->provider, o->provider_id, o->answer);
    } else if (kind == OUTCOME_RETRY) {
        outbox_mark_retry(db, m->id, o->now + backoff_ms(s, m->attempts), o->provider, o->answer);
    } else {
        outbox_mark_retry(db, m->id, 0, o->provider, o->answer);
        if (m->kind == OUTBOX_CODE && m->channel == FACTOR_SMS && m->fallback_of == 0)
            fallback_to_email(s, db, m);
    }
}

/* PostgreSQL: an outcome written on a worker. */
struct outcome_job {
    struct dbpool_job base;
    struct delivery_job *j;
    struct outcome o;
    char provider[32];
    char *provider_id;
    char *answer;
    struct metrics_held counts; /* of the run that committed */
};

static void outcome_work(struct dbpool_job *base)
{
    struct outcome_job *x = container_of(base, struct outcome_job, base);
    struct store *db = dbpool_store();
    for (int run = 0; run < DBPOOL_RUNS_MAX; run++) {
        dbpool_pause(run);
        if (store_begin_as(db, STORE_TXN_ROW_LOCKS) != OG_OK)
            continue;
        metrics_hold(&x->counts);
        outcome_write(x->j->s, db, x->j, &x->o);
        metrics_unhold();
        if (store_txn_conflicted(db)) {
            store_rollback(db);
            continue;
        }
        if (store_commit(db) == OG_OK)
            return;
        store_rollback(db);
    }
    metrics_held_clear(&x->counts);
    /* Left in sending: its lease runs out and a claim sends it again. */
    log_error("cannot record a delivery's outcome", "msg_id", x->j->msg.msg_id, "error",
              store_errmsg(db));
}

static void outcome_done(struct dbpool_job *base)
{
    struct outcome_job *x = container_of(base, struct outcome_job, base);
    struct server *s = x->j->s;
    metrics_apply(&s->metrics, &x->counts);
    job_free(x->j);
    free(x->provider_id);
    free(x->answer);
    free(x);
    s->delivery.kick = true;
    delivery_after_request(s);
}

static void complete(struct delivery_job *j, bool ok, bool retryable, const char *provider,
                     const char *provider_id, const char *answer)
{
    struct server *s = j->s;
    struct outbox_msg *m = &j->msg;
    (*slot_of(s, m))--;
    struct outcome o = {ok, retryable, provider, provider_id, answer, server_now_ms()};
    outcome_report(s, j, &o);
    if (j->recorded) {
        s->delivery.kick = true;
        job_free(j);
        return;
    }
    if (s->pool) {
        struct outcome_job *x = og_calloc(1, sizeof(*x));
        x->base.work = outcome_work;
        x->base.done = outcome_done;
        x->j = j;
        snprintf(x->provider, sizeof(x->provider), "%s", provider);
        x->provider_id = provider_id ? og_strdup(provider_id) : NULL;
        x->answer = og_strdup(answer ? answer : "");
        x->o = o;
        x->o.provider = x->provider;
        x->o.provider_id = x->provider_id;
        x->o.answer = x->answer;
        dbpool_submit(s, &x->base);
        return;
    }
    bool began = batch_request_begin(s) == OG_OK;
    outcome_write(s, s->store, j, &o);
    if (began)
        batch_request_end(s, true);
    s->delivery.kick = true;
    job_free(j);
}

/* ---- channels --------------------------------------------------------- */

static void public_host(const struct server *s, char *out, size_t outlen)
{
    const char *p = strstr(s->cfg->public_url, "://");
    p = p ? p + 3 : s->cfg->public_url;
    size_t n = 0;
    if (*p == '[') {
        while (p[n] && p[n] != ']')
            n++;
        if (p[n] == ']')
            n++;
    } else {
        while (p[n] && p[n] != ':' && p[n] != '/')
            n++;
    }
    snprintf(out, outlen, "%.*s", (int)n, p);
}

/* A notification's texts from the facts its row keeps (events.c). */
static void render_notice(struct delivery_job *j)
{
    const struct outbox_msg *m = &j->msg;
    json_t *f = json_loads(m->payload, 0, NULL);
    json_t *left = json_object_get(f, "left");
    const struct ui_notice n = {
        .event = m->event,
        .locale = m->locale,
        .app = m->app_name,
        .at_ms = json_is_integer(json_object_get(f, "at"))
                     ? (int64_t)json_integer_value(json_object_get(f, "at"))
                     : m->created_at,
        .ip = json_string_value(json_object_get(f, "ip")),
        .browser = json_string_value(json_object_get(f, "browser")),
        .factor_type = json_string_value(json_object_get(f, "factor_type")),
        .left = json_is_integer(left) ? (int)json_integer_value(left) : -1,
        .by = json_string_value(json_object_get(f, "by")),
        .support = json_string_value(json_object_get(f, "support")),
    };
    if (m->channel == FACTOR_SMS) {
        ui_notice_sms(&j->text, &n);
    } else {
        struct buf subject;
        buf_init(&subject, sizeof(j->subject) - 1);
        ui_notice_email(&subject, &j->text, &n);
        snprintf(j->subject, sizeof(j->subject), "%s", subject.data ? subject.data : "");
        buf_free(&subject);
        ui_notice_html(&j->html, &n);
    }
    json_decref(f);
}

static void render(struct delivery_job *j)
{
    const struct outbox_msg *m = &j->msg;
    if (m->kind == OUTBOX_WEBHOOK)
        return;
    if (m->kind == OUTBOX_NOTICE) {
        render_notice(j);
        return;
    }
    unsigned minutes = (m->ttl + 59) / 60;
    if (m->channel == FACTOR_SMS) {
        char host[256];
        public_host(j->s, host, sizeof(host));
        ui_message_sms(&j->text, m->locale, m->app_name, m->code, minutes, host);
    } else {
        struct buf subject;
        buf_init(&subject, sizeof(j->subject) - 1);
        ui_message_email(&subject, &j->text, m->locale, m->app_name, m->code, minutes, m->purpose);
        snprintf(j->subject, sizeof(j->subject), "%s", subject.data ? subject.data : "");
        OPENSSL_cleanse(subject.data, subject.len);
        buf_free(&subject);
        ui_mail_html(&j->html, m->locale, m->app_name, m->code, minutes, m->purpose);
    }
}

static void dev_send(struct delivery_job *j)
{
    struct server *s = j->s;
    struct delivery *d = &s->delivery;
    uv_mutex_lock(&d->dev_mu);
    struct delivery_message *r = &d->ring[d->next];
    free(r->html);
    memset(r, 0, sizeof(*r));
    r->id = ++d->dev_seq;
    r->at_ms = server_now_ms();
    r->channel = j->msg.channel;
    r->notice = j->msg.kind == OUTBOX_NOTICE;
    snprintf(r->to, sizeof(r->to), "%.*s", (int)sizeof(r->to) - 1, j->msg.destination);
    snprintf(r->subject, sizeof(r->subject), "%s", j->subject);
    snprintf(r->text, sizeof(r->text), "%s", j->text.data ? j->text.data : "");
    snprintf(r->code, sizeof(r->code), "%s", j->msg.code);
    if (j->html.data)
        r->html = og_strdup(j->html.data);
    d->next = (d->next + 1) % DELIVERY_DEV_KEEP;
    if (d->count < DELIVERY_DEV_KEEP)
        d->count++;
    uv_mutex_unlock(&d->dev_mu);
    /* The development sink exists to show codes; it runs only with a
     * loopback public URL (config refuses otherwise). */
    log_info("dev delivery", "channel", factor_type_name(r->channel), "to", r->to, "subject",
             r->subject, "text", r->text);
    complete(j, true, false, "dev", NULL, "development sink");
}

static void smtp_work(uv_work_t *w)
{
    struct delivery_job *j = container_of(w, struct delivery_job, work);
    char message_id[MFA_ID_LEN + 260], host[256];
    public_host(j->s, host, sizeof(host));
    snprintf(message_id, sizeof(message_id), "%s@%s", j->msg.msg_id, host);
    struct smtp_message m = {
        .to = j->msg.destination,
        .subject = j->subject,
        .text = j->text.data ? j->text.data : "",
        .html = j->html.data,
        .message_id = message_id,
    };
    smtp_send(j->s->cfg, &m, &j->smtp);
}

static void smtp_after(uv_work_t *w, int status)
{
    struct delivery_job *j = container_of(w, struct delivery_job, work);
    if (status == UV_ECANCELED) {
        complete(j, false, true, "smtp", NULL, "cancelled at shutdown");
        return;
    }
    tmpl_blank_code(j->smtp.answer, j->msg.code);
    complete(j, j->smtp.ok, j->smtp.retryable, "smtp", NULL, j->smtp.answer);
}

static void sms_done(void *arg, const struct sms_result *r)
{
    struct delivery_job *j = arg;
    complete(j, r->ok, r->retryable, r->provider, r->provider_id, r->answer);
}

static void hook_done(void *arg, const struct webhooks_result *r)
{
    struct delivery_job *j = arg;
    complete(j, r->ok, r->retryable, "http", NULL, r->answer);
}

static void hook_start(struct delivery_job *j)
{
    struct server *s = j->s;
    j->via = VIA_HOOK;
    if (!j->have_key) {
        complete(j, false, false, "http", NULL, "the app has no webhook signing secret");
        return;
    }
    int rc = webhooks_send(s->delivery.http, &j->msg, j->key, server_now_ms() / 1000, hook_done, j);
    OPENSSL_cleanse(j->key, sizeof(j->key));
    if (rc != OG_OK)
        complete(j, false, true, "http", NULL, "could not start the request");
}

static void start(struct delivery_job *j)
{
    struct server *s = j->s;
    if (j->msg.kind == OUTBOX_WEBHOOK) {
        hook_start(j);
        return;
    }
    render(j);
    if (dev_only(s, j->msg.channel)) {
        j->via = VIA_DEV;
        dev_send(j);
        return;
    }
    if (j->msg.channel == FACTOR_EMAIL) {
        j->via = VIA_SMTP;
        if (uv_queue_work(s->loop, &j->work, smtp_work, smtp_after) != 0)
            complete(j, false, true, "smtp", NULL, "could not queue the send");
        return;
    }
    /* Retries alternate to the secondary SMS provider when there is one. */
    struct sms_client *c = s->delivery.sms;
    j->via = VIA_SMS;
    if (s->delivery.sms2 && j->msg.attempts % 2 == 0) {
        c = s->delivery.sms2;
        j->via = VIA_SMS2;
    }
    if (sms_send(c, j->msg.destination, j->text.data ? j->text.data : "",
                 j->msg.kind == OUTBOX_CODE ? j->msg.code : NULL, sms_done, j) != 0)
        complete(j, false, true, j->via == VIA_SMS2 ? "sms2" : "sms", NULL,
                 "could not start the request");
}

/* ---- scheduling ------------------------------------------------------- */

static void on_claimed(const struct outbox_msg *m, void *arg)
{
    struct server *s = arg;
    struct delivery_job *j = job_new(s);
    j->msg = *m;
    /* The key is read now, inside the batch: the send starts after the
     * commit, when the loop may not touch the store. */
    if (m->kind == OUTBOX_WEBHOOK)
        j->have_key = apps_webhook_key(server_db(s), &s->keys, m->app_id, j->key) == OG_OK;
    hold_for_start(s, j);
}

static unsigned free_slots(unsigned max, unsigned used)
{
    return max > used ? max - used : 0;
}

/* Claims due rows into free slots; they start after this batch commits. */
static void pump_pg(struct server *s);
static void arm_at(struct server *s, int64_t due);

static void pump(struct server *s)
{
    if (s->store == NULL)
        return;
    if (s->pool) {
        pump_pg(s);
        return;
    }
    struct delivery *d = &s->delivery;
    d->seen_added = outbox_added_count();
    unsigned free_email = free_slots(max_in_flight(s, FACTOR_EMAIL), d->smtp_in_flight);
    unsigned free_sms = free_slots(max_in_flight(s, FACTOR_SMS), d->sms_in_flight);
    unsigned free_hook = free_slots(d->http ? HOOK_MAX_IN_FLIGHT : 0, d->hook_in_flight);
    if (!free_email && !free_sms && !free_hook)
        return;
    if (batch_request_begin(s) != OG_OK)
        return;
    int64_t now = server_now_ms();
    outbox_claim(s->store, &s->keys, FACTOR_EMAIL, (int)free_email, now, on_claimed, s);
    outbox_claim(s->store, &s->keys, FACTOR_SMS, (int)free_sms, now, on_claimed, s);
    outbox_claim_webhooks(s->store, (int)free_hook, now, on_claimed, s);
    batch_request_end(s, true);
}

/* ---- PostgreSQL: claims on a database worker ------------------------- */

struct claim_job {
    struct dbpool_job base;
    struct server *s;
    unsigned email, sms, hook; /* free slots, reserved while it runs */
    unsigned got_email, got_sms, got_hook;
    struct delivery_job *claimed; /* rows claimed, once committed */
    int64_t due;                  /* the next queued row of a channel with room */
};

static void on_claimed_pg(const struct outbox_msg *m, void *arg)
{
    struct claim_job *x = arg;
    struct delivery_job *j = job_new(x->s);
    j->msg = *m;
    if (m->kind == OUTBOX_WEBHOOK) {
        j->have_key = apps_webhook_key(dbpool_store(), &x->s->keys, m->app_id, j->key) == OG_OK;
        x->got_hook++;
    } else if (m->channel == FACTOR_EMAIL) {
        x->got_email++;
    } else {
        x->got_sms++;
    }
    if (m->kind != OUTBOX_WEBHOOK && dev_only(x->s, m->channel))
        dev_record(dbpool_store(), j);
    j->next = x->claimed;
    x->claimed = j;
}

static void claimed_free(struct claim_job *x)
{
    while (x->claimed) {
        struct delivery_job *j = x->claimed;
        x->claimed = j->next;
        job_free(j);
    }
    x->got_email = x->got_sms = x->got_hook = 0;
}

static int64_t earlier(int64_t a, int64_t b)
{
    return a > 0 && (b <= 0 || a < b) ? a : b;
}

static void claim_work(struct dbpool_job *base)
{
    struct claim_job *x = container_of(base, struct claim_job, base);
    struct server *s = x->s;
    struct store *db = dbpool_store();
    static const enum factor_type channels[] = {FACTOR_EMAIL, FACTOR_SMS};
    bool committed = false;
    for (int run = 0; run < DBPOOL_RUNS_MAX && !committed; run++) {
        dbpool_pause(run);
        claimed_free(x);
        if (store_begin_as(db, STORE_TXN_ROW_LOCKS) != OG_OK)
            continue;
        int64_t now = server_now_ms();
        /* A notification queued for a channel nothing here can send on
         * fails now rather than waiting for ever. */
        for (size_t i = 0; i < ARRAY_SIZE(channels); i++)
            if (!delivery_available(s, channels[i]))
                outbox_fail_unsendable(db, channels[i], "no provider for this channel");
        outbox_claim(db, &s->keys, FACTOR_EMAIL, (int)x->email, now, on_claimed_pg, x);
        outbox_claim(db, &s->keys, FACTOR_SMS, (int)x->sms, now, on_claimed_pg, x);
        outbox_claim_webhooks(db, (int)x->hook, now, on_claimed_pg, x);
        if (store_txn_conflicted(db)) {
            store_rollback(db);
            continue;
        }
        if (store_commit(db) == OG_OK)
            committed = true;
        else
            store_rollback(db);
    }
    if (!committed)
        claimed_free(x); /* rolled back: the rows are as they were */
    /* What to wake for next: channels with room left after this claim. */
    x->due = 0;
    if (x->got_email < x->email)
        x->due = earlier(outbox_next_due(db, FACTOR_EMAIL), x->due);
    if (x->got_sms < x->sms)
        x->due = earlier(outbox_next_due(db, FACTOR_SMS), x->due);
    if (x->got_hook < x->hook)
        x->due = earlier(outbox_next_due_webhook(db), x->due);
}

static void claim_done(struct dbpool_job *base)
{
    struct claim_job *x = container_of(base, struct claim_job, base);
    struct server *s = x->s;
    struct delivery *d = &s->delivery;
    d->claiming = false;
    /* Give back what the claim did not fill; the rows it claimed keep theirs. */
    d->smtp_in_flight -= x->email - x->got_email;
    d->sms_in_flight -= x->sms - x->got_sms;
    d->hook_in_flight -= x->hook - x->got_hook;
    struct delivery_job *list = x->claimed;
    int64_t due = x->due;
    free(x);
    delivery_start_claimed(s, list);
    if (d->closed)
        return;
    if (d->pump_again) {
        d->pump_again = false;
        pump_pg(s);
    }
    arm_at(s, due);
}

/* Claims due rows into free slots on a worker; they start once its
 * transaction has committed. One claim at a time. */
static void pump_pg(struct server *s)
{
    struct delivery *d = &s->delivery;
    if (d->closed)
        return;
    if (d->claiming) {
        d->pump_again = true;
        return;
    }
    d->seen_added = outbox_added_count();
    /* Reserved while the claim runs: requests on workers take slots too. */
    unsigned free_email = take_slots(&d->smtp_in_flight, max_in_flight(s, FACTOR_EMAIL), ~0u);
    unsigned free_sms = take_slots(&d->sms_in_flight, max_in_flight(s, FACTOR_SMS), ~0u);
    unsigned free_hook = take_slots(&d->hook_in_flight, d->http ? HOOK_MAX_IN_FLIGHT : 0, ~0u);
    struct claim_job *x = og_calloc(1, sizeof(*x));
    x->base.work = claim_work;
    x->base.done = claim_done;
    x->s = s;
    x->email = free_email;
    x->sms = free_sms;
    x->hook = free_hook;
    d->claiming = true;
    dbpool_submit(s, &x->base);
}

void delivery_start_claimed(struct server *s, struct delivery_job *list)
{
    while (list) {
        struct delivery_job *j = list;
        list = j->next;
        if (s->delivery.closed) { /* the lease hands it on */
            (*slot_of(s, &j->msg))--;
            job_free(j);
            continue;
        }
        start(j); /* its slot was taken with the claim */
    }
}

void delivery_after_request(struct server *s)
{
    struct delivery *d = &s->delivery;
    if (d->kick || outbox_added_count() != d->seen_added) {
        d->kick = false;
        pump_pg(s);
    }
}

static void on_retry_timer(uv_timer_t *t)
{
    struct server *s = container_of(t, struct server, delivery.retry_timer);
    s->delivery.retry_due = 0;
    pump(s);
}

/* Sets the retry timer for due (unix ms; 0: nothing due) unless it rings
 * sooner already. */
static void arm_at(struct server *s, int64_t due)
{
    if (due <= 0 || s->delivery.closed || (s->delivery.retry_due && s->delivery.retry_due <= due))
        return;
    int64_t wait = due - server_now_ms();
    s->delivery.retry_due = due;
    uv_timer_start(&s->delivery.retry_timer, on_retry_timer, wait > 0 ? (uint64_t)wait : 0, 0);
}

/* Wakes the pump for the earliest queued row of a channel with a free
 * slot. A channel whose slots are all busy needs no timer: each finished
 * send kicks the pump, and a timer for rows it cannot take would spin. */
static void arm_retry_timer(struct server *s)
{
    /* A group's hook may run while the next group's COMMIT holds the
     * connection on the committer's thread; that group's hook arms it. */
    if (batch_busy(s))
        return;
    int64_t due = 0;
    static const enum factor_type channels[] = {FACTOR_EMAIL, FACTOR_SMS};
    /* Outside a batch the looks below share one read transaction: on
     * SQLite each of its own takes and drops a lock on the WAL's shared
     * memory, system calls that ran after every commit. */
    bool own = !store_in_transaction(s->store) && store_run(s->store, "BEGIN") == OG_OK;
    for (size_t i = 0; i < ARRAY_SIZE(channels); i++) {
        if (*in_flight(s, channels[i]) >= max_in_flight(s, channels[i]))
            continue;
        int64_t d = outbox_next_due(s->store, channels[i]);
        if (d > 0 && (due == 0 || d < due))
            due = d;
    }
    if (s->delivery.http && s->delivery.hook_in_flight < HOOK_MAX_IN_FLIGHT) {
        int64_t d = outbox_next_due_webhook(s->store);
        if (d > 0 && (due == 0 || d < due))
            due = d;
    }
    if (own && store_run(s->store, "COMMIT") != OG_OK)
        store_rollback(s->store);
    arm_at(s, due);
}

/* The rows the batch going to the committer claimed: started once it is
 * durable. */
static void *detach_to_start(struct server *s)
{
    struct delivery_job *list = s->delivery.to_start;
    s->delivery.to_start = NULL;
    return list;
}

static void after_commit(struct server *s, bool ok, void *token)
{
    struct delivery_job *list = token;
    while (list) {
        struct delivery_job *j = list;
        list = j->next;
        if (ok) {
            start(j);
        } else {
            /* The claim was rolled back with the batch: the row is as it was. */
            (*slot_of(s, &j->msg))--;
            job_free(j);
        }
    }
    /* Rows the batch's events queued (notifications, webhooks). */
    if (ok && outbox_added_count() != s->delivery.seen_added)
        s->delivery.kick = true;
    if (s->delivery.kick) {
        s->delivery.kick = false;
        pump(s);
    }
    if (!s->batch.closed)
        arm_retry_timer(s);
}

/* Rows another process queued (the CLI's reset, unlock) wake nothing
 * here: look for due ones now and then, unless a commit holds the store. */
static void on_poll_timer(uv_timer_t *t)
{
    struct server *s = container_of(t, struct server, delivery.poll_timer);
    if (s->pool) {
        pump_pg(s); /* also fails unsendable rows and takes over lapsed leases */
        return;
    }
    if (s->store == NULL || !batch_idle(s) || s->batch.closed)
        return;
    /* A notification another process queued for a channel nothing here
     * can send on fails now rather than waiting for ever. */
    static const enum factor_type channels[] = {FACTOR_EMAIL, FACTOR_SMS};
    for (size_t i = 0; i < ARRAY_SIZE(channels); i++) {
        if (delivery_available(s, channels[i]) || batch_request_begin(s) != OG_OK)
            continue;
        outbox_fail_unsendable(s->store, channels[i], "no provider for this channel");
        batch_request_end(s, true);
    }
    if (s->batch.open || s->batch.closed)
        return; /* the commit's hook arms the timer */
    arm_retry_timer(s);
}

int delivery_init(struct server *s, char *err, size_t errlen)
{
    struct delivery *d = &s->delivery;
    memset(d, 0, sizeof(*d));
    if (uv_mutex_init(&d->dev_mu) != 0)
        og_oom();
    uv_timer_init(s->loop, &d->retry_timer);
    uv_unref((uv_handle_t *)&d->retry_timer);
    uv_timer_init(s->loop, &d->poll_timer);
    uv_unref((uv_handle_t *)&d->poll_timer);
    uv_timer_start(&d->poll_timer, on_poll_timer, DELIVERY_POLL_MS, DELIVERY_POLL_MS);
    batch_set_after_commit(s, detach_to_start, after_commit);
    {
        long timeout_ms = s->cfg->delivery_timeout_ms ? (long)s->cfg->delivery_timeout_ms : 15000L;
        int rc = http_client_new(s->loop, s->cfg->ca_file, timeout_ms, &d->http, err, errlen);
        if (rc != OG_OK)
            return rc;
    }
    if (s->cfg->sms_provider) {
        int rc = sms_client_new(s->loop, s->cfg, false, &d->sms, err, errlen);
        if (rc != OG_OK)
            return rc;
    }
    if (s->cfg->sms2_provider) {
        int rc = sms_client_new(s->loop, s->cfg, true, &d->sms2, err, errlen);
        if (rc != OG_OK)
            return rc;
    }
    int n = outbox_resume(s->store, server_now_ms());
    if (n > 0) {
        char c[16];
        snprintf(c, sizeof(c), "%d", n);
        log_info("outbox: resuming messages a stop left in sending", "count", c);
    }
    int depth = outbox_depth(s->store);
    if (depth > 0)
        pump(s);
    return OG_OK;
}

void delivery_close(struct server *s)
{
    struct delivery *d = &s->delivery;
    d->closed = true;
    if (!uv_is_closing((uv_handle_t *)&d->retry_timer))
        uv_close((uv_handle_t *)&d->retry_timer, NULL);
    if (!uv_is_closing((uv_handle_t *)&d->poll_timer))
        uv_close((uv_handle_t *)&d->poll_timer, NULL);
    if (d->http)
        http_client_close(d->http);
    d->http = NULL;
    if (d->sms)
        sms_client_close(d->sms);
    if (d->sms2)
        sms_client_close(d->sms2);
    d->sms = d->sms2 = NULL;
    for (size_t i = 0; i < DELIVERY_DEV_KEEP; i++) {
        free(d->ring[i].html);
        d->ring[i].html = NULL;
    }
}

void delivery_dev_each(const struct server *s,
                       void (*fn)(const struct delivery_message *m, void *arg), void *arg)
{
    struct delivery *d = (struct delivery *)&s->delivery;
    uv_mutex_lock(&d->dev_mu);
    for (size_t i = 0; i < d->count; i++) {
        size_t at = (d->next + DELIVERY_DEV_KEEP - 1 - i) % DELIVERY_DEV_KEEP;
        fn(&d->ring[at], arg);
    }
    uv_mutex_unlock(&d->dev_mu);
}

size_t delivery_dev_count(const struct server *s)
{
    struct delivery *d = (struct delivery *)&s->delivery;
    uv_mutex_lock(&d->dev_mu);
    size_t n = d->count;
    uv_mutex_unlock(&d->dev_mu);
    return n;
}

const struct delivery_message *delivery_dev_find(const struct server *s, uint64_t id)
{
    const struct delivery *d = &s->delivery;
    for (size_t i = 0; i < d->count; i++)
        if (d->ring[i].id == id)
            return &d->ring[i];
    return NULL;
}
