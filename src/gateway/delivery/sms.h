/* SMS delivery through an HTTP provider (SPEC §7): a webhook template or a
 * named preset (twilio, vonage, messagebird), sent with libcurl's
 * multi-socket API driven by the libuv loop. Loop thread only; never blocks. */
#ifndef OTPGATE_SMS_H
#define OTPGATE_SMS_H

#include "core/buf.h"
#include "core/config.h"

#include <uv.h>

/* The most of a provider's answer that is read; the rest is dropped. */
#define SMS_ANSWER_MAX (16 * 1024)

struct sms_client;

struct sms_result {
    bool ok;               /* the provider accepted the message */
    bool retryable;        /* network error, timeout, 408, 429 or 5xx: worth another try */
    long http_status;      /* 0 when no answer */
    char provider[16];     /* "webhook", "twilio", ... */
    char provider_id[128]; /* message id from an accepted answer when the preset knows
                              where (twilio "sid", vonage messages[0]["message-id"],
                              messagebird "id"; webhook: "id", "message_id" or "sid") */
    char answer[512];      /* the start of the answer body (or the curl error), with the
                              code blanked */
    double seconds;        /* time the request took */
};

/* Called once per sms_send that returned 0, on the loop thread. r is valid
 * only during the call. */
typedef void (*sms_done_cb)(void *arg, const struct sms_result *r);

/* Creates a client for the primary (secondary=false) or secondary provider
 * of cfg, which was checked by config_load. Returns OG_ERR_NOT_FOUND when
 * that provider is not configured, OG_ERR_IO when libcurl cannot start, with
 * one line in err. The client copies what it needs: cfg may go afterwards.
 * The primary takes OTPGATE_SMS_METHOD, _CONTENT_TYPE, _HEADERS and _SUCCESS;
 * the secondary, which has no such keys, is a POST (content type from its
 * body), with no extra headers and its preset's success rule. */
int sms_client_new(uv_loop_t *loop, const struct config *cfg, bool secondary,
                   struct sms_client **out, char *err, size_t errlen);

/* Starts one send to to_e164 ("+" and 1 to 15 digits) of text (the full SMS
 * text). code, which may be NULL, is only used to blank answers. Returns 0,
 * and cb is called later on the loop thread exactly once; on a non-zero
 * return (OG_ERR_INVALID for bad arguments, OG_ERR_TOO_BIG for a request
 * over the limits, OG_ERR_BUSY once the client is closing, OG_ERR_IO when
 * libcurl refuses) cb is never called. The strings stay the caller's. */
int sms_send(struct sms_client *c, const char *to_e164, const char *text, const char *code,
             sms_done_cb cb, void *arg);

/* Number of sends in flight. */
size_t sms_in_flight(const struct sms_client *c);

/* The provider's name ("webhook", "twilio", ...). */
const char *sms_client_provider(const struct sms_client *c);

/* Cancels what is in flight (their callbacks run now, with ok=false and
 * retryable=true), then closes the libuv handles; the struct is freed once
 * they are closed, during a later turn of the loop. Call before the loop's
 * last run. May be called from a done callback; c must not be used after. */
void sms_client_close(struct sms_client *c);

/* Appends to out a request's description for logs and admin views, as
 * sms_send would make it, with the code blanked: the method and URL, the
 * headers (Authorization and credential-like headers shown as "***"), a
 * blank line and the body. Known credentials (OTPGATE_SMS_AUTH and its
 * parts) are shown as "***" wherever they appear, as are URL query values
 * whose names look like credentials (key, token, secret, ...). Returns 0 or
 * OG_ERR_INVALID / OG_ERR_TOO_BIG as sms_send would; out is the caller's. */
int sms_describe(const struct sms_client *c, const char *to_e164, const char *text,
                 const char *code, struct buf *out);

#endif
