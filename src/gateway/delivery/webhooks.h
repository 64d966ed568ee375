/* The apps' webhooks (issue #15): an outbox row's fixed JSON body POSTed
 * to the app's URL, signed as the Standard Webhooks specification says
 * (webhook-id, webhook-timestamp, webhook-signature "v1,<base64 of
 * HMAC-SHA256(key, id.timestamp.body)>"), through the loop's HTTP client.
 * Loop thread only; never blocks. */
#ifndef OTPGATE_WEBHOOKS_H
#define OTPGATE_WEBHOOKS_H

#include "core/apps.h"
#include "core/outbox.h"
#include "gateway/delivery/http_client.h"

/* The most of an endpoint's answer that is read and kept. */
#define WEBHOOKS_ANSWER_MAX 4096
/* Buffer for a signature header value: "v1," + 44 base64 chars + NUL. */
#define WEBHOOKS_SIG_LEN 64

struct webhooks_result {
    bool ok;          /* a 2xx answer */
    bool retryable;   /* anything else but a bad URL or certificate */
    long status;      /* 0 when not answered */
    char answer[512]; /* "HTTP 200: <start of the body>" or the transport error */
};

typedef void (*webhooks_done_cb)(void *arg, const struct webhooks_result *r);

/* The signature header value for one delivery into out (>=
 * WEBHOOKS_SIG_LEN): "v1," and the base64 HMAC-SHA256 under key (keylen
 * bytes: the secret after "whsec_", base64-decoded) of
 * "<id>.<timestamp>.<body>". out is "" if the MAC cannot be made. */
void webhooks_sign(const uint8_t *key, size_t keylen, const char *id, int64_t timestamp,
                   const char *body, size_t body_len, char *out, size_t outlen);

/* POSTs m->payload to m->destination with the Standard Webhooks headers,
 * signed with key at unix time now_s (the key is used here and not kept).
 * Returns 0 and cb runs later exactly once; otherwise (OG_ERR_BUSY while
 * closing, OG_ERR_IO) cb never runs. m stays the caller's until cb. */
int webhooks_send(struct http_client *c, const struct outbox_msg *m,
                  const uint8_t key[APPS_WEBHOOK_KEY_BYTES], int64_t now_s, webhooks_done_cb cb,
                  void *arg);

#endif
