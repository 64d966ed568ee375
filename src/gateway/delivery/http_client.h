/* Outgoing HTTP requests on the loop (SPEC §1): libcurl's multi-socket API
 * driven by libuv handles, shared by the SMS providers (sms.c) and the
 * apps' webhooks (webhooks.c). A caller builds a request on an easy handle
 * from http_client_easy, hands it over with http_client_start, and is
 * called back once with the status and the start of the answer. Loop
 * thread only; never blocks. */
#ifndef OTPGATE_HTTP_CLIENT_H
#define OTPGATE_HTTP_CLIENT_H

#include "core/common.h"

#include <curl/curl.h>
#include <uv.h>

struct http_client;

struct http_client_result {
    bool answered;     /* an HTTP status came back (body may have been cut) */
    long status;       /* 0 when not answered */
    const char *body;  /* the start of the answer, NUL-terminated, or "" */
    size_t len;        /* bytes of body (it may hold NUL bytes) */
    bool retryable;    /* not answered, and another try may help (not a bad URL,
                          certificate or protocol) */
    const char *error; /* when not answered: curl's words, else NULL */
    double seconds;    /* time the request took */
};

/* Called once per request that http_client_start accepted, on the loop
 * thread. r (and its body) is valid only during the call; the client wipes
 * the answer afterwards. */
typedef void (*http_client_done_cb)(void *arg, const struct http_client_result *r);

/* Makes a client. ca_file (may be NULL) is an extra CA bundle, timeout_ms
 * the whole request's limit (connect included). Starts libcurl once per
 * process. Returns 0, or OG_ERR_IO with one line in err. */
int http_client_new(uv_loop_t *loop, const char *ca_file, long timeout_ms, struct http_client **out,
                    char *err, size_t errlen);

/* A new easy handle with the client's rules set: http and https only, no
 * redirects, certificates verified (with the extra CA bundle), the
 * timeouts, otpgate's User-Agent. The caller sets the URL, method, body and
 * headers, then passes it to http_client_start. NULL when curl cannot make
 * one. */
CURL *http_client_easy(struct http_client *c);

/* Starts easy (from http_client_easy), which the client owns from now on,
 * success or not; the strings and header list it points to stay the
 * caller's until cb runs. At most answer_max bytes of the answer are
 * kept; a longer one ends the transfer. Returns 0, and cb runs later
 * exactly once; OG_ERR_BUSY once the client is closing, OG_ERR_IO when
 * curl refuses (cb never runs then). */
int http_client_start(struct http_client *c, CURL *easy, size_t answer_max, http_client_done_cb cb,
                      void *arg);

/* Requests in flight. */
size_t http_client_in_flight(const struct http_client *c);

/* Cancels what is in flight (their callbacks run now, not answered and
 * retryable, error "cancelled: otpgate is shutting down"), then closes the
 * handles; the client is freed once they are closed, in a later turn of
 * the loop. Call before the loop's last run; c must not be used after. */
void http_client_close(struct http_client *c);

#endif
