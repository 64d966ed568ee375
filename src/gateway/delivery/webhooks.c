/* Signs and sends one webhook: the headers of the Standard Webhooks
 * specification, the body exactly as queued, and the endpoint's answer
 * summed up for the delivery log. The key lives only for the signing. */
#include "gateway/delivery/webhooks.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <stdio.h>
#include <stdlib.h>

struct webhook_req {
    struct curl_slist *headers;
    webhooks_done_cb cb;
    void *arg;
};

void webhooks_sign(const uint8_t *key, size_t keylen, const char *id, int64_t timestamp,
                   const char *body, size_t body_len, char *out, size_t outlen)
{
    char prefix[96];
    int n = snprintf(prefix, sizeof(prefix), "%s.%lld.", id, (long long)timestamp);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t got = 0;
    bool ok = ctx && n > 0 && (size_t)n < sizeof(prefix) &&
              EVP_MAC_init(ctx, key, keylen, params) == 1 &&
              EVP_MAC_update(ctx, (const unsigned char *)prefix, (size_t)n) == 1 &&
              EVP_MAC_update(ctx, (const unsigned char *)body, body_len) == 1 &&
              EVP_MAC_final(ctx, mac, &got, sizeof(mac)) == 1;
    mac_len = (unsigned int)got;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(alg);
    if (!ok || outlen < WEBHOOKS_SIG_LEN) {
        if (outlen)
            out[0] = '\0';
        return;
    }
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)mac_len);
    OPENSSL_cleanse(mac, sizeof(mac));
}

/* Sums up an answer for the log: "HTTP 503: <start of the body>", the
 * body's control characters shown as spaces. */
static void answer_text(const struct http_client_result *h, char *out, size_t outlen)
{
    if (!h->answered) {
        snprintf(out, outlen, "%s", h->error ? h->error : "no answer");
        return;
    }
    int n = snprintf(out, outlen, "HTTP %ld%s", h->status, h->len ? ": " : "");
    if (n < 0 || (size_t)n >= outlen)
        return;
    size_t at = (size_t)n, i = 0;
    while (i < h->len && at + 1 < outlen) {
        unsigned char ch = (unsigned char)h->body[i];
        /* Stop before a UTF-8 sequence that would not fit whole. */
        size_t seq = ch < 0x80 ? 1 : ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : 2;
        if (at + seq >= outlen || i + seq > h->len)
            break;
        for (size_t k = 0; k < seq; k++, i++)
            out[at++] = (ch < 0x20 || ch == 0x7f) ? ' ' : h->body[i];
    }
    out[at] = '\0';
}

static void on_done(void *arg, const struct http_client_result *h)
{
    struct webhook_req *r = arg;
    struct webhooks_result res;
    memset(&res, 0, sizeof(res));
    res.status = h->status;
    res.ok = h->answered && h->status >= 200 && h->status < 300;
    /* Every failed answer is tried again (the endpoint may be down or
     * mid-deploy); only a transport error that cannot heal is not. */
    res.retryable = !res.ok && (h->answered || h->retryable);
    answer_text(h, res.answer, sizeof(res.answer));
    webhooks_done_cb cb = r->cb;
    void *cb_arg = r->arg;
    curl_slist_free_all(r->headers);
    free(r);
    cb(cb_arg, &res);
}

static bool header(struct curl_slist **l, const char *name, const char *value)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof(line))
        return false;
    struct curl_slist *next = curl_slist_append(*l, line);
    if (!next)
        return false;
    *l = next;
    return true;
}

int webhooks_send(struct http_client *c, const struct outbox_msg *m,
                  const uint8_t key[APPS_WEBHOOK_KEY_BYTES], int64_t now_s, webhooks_done_cb cb,
                  void *arg)
{
    size_t len = strlen(m->payload);
    char sig[WEBHOOKS_SIG_LEN], ts[24];
    webhooks_sign(key, APPS_WEBHOOK_KEY_BYTES, m->msg_id, now_s, m->payload, len, sig, sizeof(sig));
    if (!sig[0])
        return OG_ERR_IO;
    snprintf(ts, sizeof(ts), "%lld", (long long)now_s);
    struct webhook_req *r = og_calloc(1, sizeof(*r));
    r->cb = cb;
    r->arg = arg;
    bool ok = header(&r->headers, "Content-Type", "application/json") &&
              header(&r->headers, "webhook-id", m->msg_id) &&
              header(&r->headers, "webhook-timestamp", ts) &&
              header(&r->headers, "webhook-signature", sig);
    /* No "Expect: 100-continue" round trip before the body. */
    struct curl_slist *l = ok ? curl_slist_append(r->headers, "Expect:") : NULL;
    ok = l != NULL;
    if (l)
        r->headers = l;
    CURL *easy = ok ? http_client_easy(c) : NULL;
    if (easy) {
        ok = curl_easy_setopt(easy, CURLOPT_URL, m->destination) == CURLE_OK &&
             curl_easy_setopt(easy, CURLOPT_HTTPHEADER, r->headers) == CURLE_OK &&
             curl_easy_setopt(easy, CURLOPT_POST, 1L) == CURLE_OK &&
             curl_easy_setopt(easy, CURLOPT_POSTFIELDS, m->payload) == CURLE_OK &&
             curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) == CURLE_OK;
    }
    int rc = !easy || !ok ? OG_ERR_IO : OG_OK;
    if (rc != OG_OK && easy)
        curl_easy_cleanup(easy);
    if (rc == OG_OK)
        rc = http_client_start(c, easy, WEBHOOKS_ANSWER_MAX, on_done, r);
    if (rc != OG_OK) {
        curl_slist_free_all(r->headers);
        free(r);
    }
    return rc;
}
