/* One way out for every message (SPEC §7, issue #15): codes, security
 * notifications and the apps' webhooks. A message becomes an outbox row
 * inside the request's transaction; once the group commit holding it is
 * durable, it is handed to its channel: e-mail through libESMTP on
 * libuv's thread pool, SMS and webhooks through libcurl on the loop, or
 * the development sink (log and /dev/outbox) for an e-mail or SMS channel
 * with no provider. Failures are retried with exponential backoff and
 * jitter; a failed SMS code may fall back to the user's verified e-mail.
 * A user's webhooks to one app go out one at a time, in order. Rows that
 * another process (the CLI) queued are found by a poll. Loop thread
 * only, but for delivery_queue_code and the development sink's readers,
 * which a request on a database worker (PostgreSQL) may call.
 *
 * On PostgreSQL the outbox's reads and writes run on the database workers
 * (dbpool.h), each claim and each outcome a transaction of its own; a
 * claim leases its rows, so that several instances share one outbox and
 * one killed mid-send leaves its rows to the others once the lease ends. */
#ifndef OTPGATE_DELIVERY_H
#define OTPGATE_DELIVERY_H

#include "core/mfa.h"
#include "core/outbox.h"

#include <uv.h>

#define DELIVERY_DEV_KEEP 100

/* How often rows queued by another process (the CLI's user reset or
 * unlock) are looked for, in ms. */
#define DELIVERY_POLL_MS 2000

struct server;
struct sms_client;
struct http_client;

struct delivery_message {
    uint64_t id; /* 1, 2, ... since start: /dev/outbox/ID/html */
    int64_t at_ms;
    enum factor_type channel;
    bool notice; /* a security notification, not a code */
    char to[MFA_DEST_LEN];
    char subject[256];
    char text[2048];
    char code[16]; /* the development sink exists to show it */
    char *html;    /* an e-mail's HTML part (malloc'd), or NULL */
};

struct delivery_job;

struct delivery {
    struct sms_client *sms, *sms2;
    struct http_client *http; /* the apps' webhooks */
    /* Slots taken, sends started or about to be. Atomic: on PostgreSQL a
     * request on a database worker takes a slot for the code it claims. */
    _Atomic unsigned smtp_in_flight, sms_in_flight, hook_in_flight;
    uint64_t seen_added; /* outbox_added_count() when last pumped */
    uv_timer_t retry_timer;
    uv_timer_t poll_timer;
    int64_t retry_due;             /* unix ms the timer is set for, 0 when idle */
    bool kick;                     /* look for due rows after the next commit */
    struct delivery_job *to_start; /* claimed in the open batch */
    /* PostgreSQL: a claim runs on a worker; another pump waits for it. */
    bool claiming, pump_again;
    bool closed;
    /* development sink (dev_mu: read by requests on database workers) */
    uv_mutex_t dev_mu;
    struct delivery_message ring[DELIVERY_DEV_KEEP];
    size_t next, count;
    uint64_t dev_seq;
};

/* Sets up the channels from the settings and resumes rows a crash left in
 * sending. Returns 0 or a negative og_err with one line in err. */
int delivery_init(struct server *s, char *err, size_t errlen);
/* Cancels what is in flight (it stays in the outbox) and closes handles. */
void delivery_close(struct server *s);

/* True when a message on this channel can be sent at all. */
bool delivery_available(const struct server *s, enum factor_type channel);

/* PostgreSQL (request_tx.c). On a worker: the code messages the running
 * request queued, each claimed for this instance (take them after its
 * commit; drop them after a rollback). On the loop, after the commit:
 * start them, then look for any other rows the request queued. */
struct delivery_job *delivery_worker_take(void);
void delivery_worker_drop(void);
void delivery_start_claimed(struct server *s, struct delivery_job *list);
void delivery_after_request(struct server *s);

/* Queues a code message inside the caller's open batch. to is the
 * normalised address; app and user say who it is for; purpose is the
 * challenge's ("enrol", "login", "stepup"), which the e-mail's words
 * follow. */
int delivery_queue_code(struct server *s, enum factor_type channel, const char *to,
                        const char *code, const char *app_id, const char *app_name, int64_t user_id,
                        unsigned ttl_seconds, const char *locale, const char *purpose);

/* Calls fn for the kept development messages, newest first. */
void delivery_dev_each(const struct server *s,
                       void (*fn)(const struct delivery_message *m, void *arg), void *arg);
size_t delivery_dev_count(const struct server *s);
/* The kept development message with this id, or NULL. */
const struct delivery_message *delivery_dev_find(const struct server *s, uint64_t id);

#endif
