/* libcurl's multi-socket API on the libuv loop: one uv_poll_t per socket
 * curl asks to watch, one uv_timer_t for curl's timeouts, completions read
 * with curl_multi_info_read. Owns the easy handles and the answer buffers
 * (wiped when done: an answer may echo a code). Loop thread only. */
#include "gateway/delivery/http_client.h"

#include "core/buf.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>

struct http_req;
struct http_sock;

struct http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer; /* curl's timeout; embedded, closed last */
    char *ca_file;
    long timeout_ms;
    struct http_req *reqs; /* in flight, doubly linked */
    size_t in_flight;
    struct http_sock *socks; /* watched sockets, doubly linked */
    unsigned open_handles;   /* timer + socket handles not yet closed */
    bool closing;
};

struct http_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct http_client *c;
    struct http_sock *prev, *next;
};

struct http_req {
    struct http_client *c;
    struct http_req *prev, *next;
    CURL *easy;
    struct buf answer; /* up to answer_max bytes */
    bool answer_cut;   /* more arrived than that */
    uint64_t start_ns;
    http_client_done_cb cb;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
};

static bool curl_ready;

static void client_free(struct http_client *c)
{
    if (c->multi)
        curl_multi_cleanup(c->multi);
    free(c->ca_file);
    free(c);
}

/* ---- libuv <-> curl ---- */

static void check_done(struct http_client *c);

static void on_handle_closed(uv_handle_t *h)
{
    struct http_client *c;
    if (h->type == UV_POLL) {
        struct http_sock *s = container_of((uv_poll_t *)h, struct http_sock, poll);
        c = s->c;
        free(s);
    } else {
        c = container_of((uv_timer_t *)h, struct http_client, timer);
    }
    if (--c->open_handles == 0 && c->closing)
        client_free(c);
}

static void sock_close(struct http_client *c, struct http_sock *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct http_sock *s = container_of(h, struct http_sock, poll);
    struct http_client *c = s->c;
    if (c->closing)
        return;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running = 0;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    check_done(c);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching one socket. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    OG_UNUSED(easy);
    struct http_client *c = userp;
    struct http_sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        /* curl forgets the socket (and our pointer) itself. */
        if (s)
            sock_close(c, s);
        return 0;
    }
    if (c->closing)
        return 0;
    if (!s) {
        s = og_calloc(1, sizeof *s);
        s->fd = fd;
        s->c = c;
        int rc = uv_poll_init_socket(c->loop, &s->poll, fd);
        if (rc != 0) {
            /* The transfer then never progresses and ends at its timeout. */
            log_warn("http client: cannot watch a socket", "error", uv_strerror(rc));
            free(s);
            return 0;
        }
        c->open_handles++;
        s->next = c->socks;
        if (c->socks)
            c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    struct http_client *c = container_of(t, struct http_client, timer);
    if (c->closing)
        return;
    int running = 0;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

/* CURLMOPT_TIMERFUNCTION: curl wants to be called back after timeout_ms
 * (-1: never). curl must not be re-entered from here, so even a zero
 * timeout goes through the timer, on the next turn of the loop. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    OG_UNUSED(multi);
    struct http_client *c = userp;
    if (c->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- requests ---- */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct http_req *r = userdata;
    size_t n = size * nmemb;
    if (buf_append(&r->answer, ptr, n) != OG_OK) {
        size_t room = r->answer.cap - r->answer.len;
        buf_append(&r->answer, ptr, room);
        r->answer_cut = true;
        /* Stops the transfer: the status is known and the start of the
         * answer is all that is judged and kept. */
        return 0;
    }
    return n;
}

static void req_unlink(struct http_req *r)
{
    struct http_client *c = r->c;
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    c->in_flight--;
}

static void req_free(struct http_req *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    if (r->answer.data)
        explicit_bzero(r->answer.data, r->answer.len);
    buf_free(&r->answer);
    free(r);
}

/* Errors where another try cannot help: a bad URL, an unsupported scheme,
 * a certificate that does not verify, a refused login. */
static bool curl_error_retryable(CURLcode e)
{
    switch (e) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_LOGIN_DENIED:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_FILESIZE_EXCEEDED:
        return false;
    default:
        return true;
    }
}

/* Ends one request: takes it off the multi and the list, calls back, then
 * frees it. in_flight is already right during the callback. */
static void req_finish(struct http_req *r, struct http_client_result *res)
{
    struct http_client *c = r->c;
    if (c->multi)
        curl_multi_remove_handle(c->multi, r->easy);
    req_unlink(r);
    res->seconds = (double)(uv_hrtime() - r->start_ns) / 1e9;
    if (!res->body) {
        res->body = r->answer.data ? r->answer.data : "";
        res->len = r->answer.data ? r->answer.len : 0;
    }
    r->cb(r->arg, res);
    req_free(r);
}

static void check_done(struct http_client *c)
{
    CURLMsg *msg;
    int left;
    while (!c->closing && (msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode e = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        struct http_req *r = (struct http_req *)priv;
        if (!r)
            continue;
        struct http_client_result res;
        memset(&res, 0, sizeof res);
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        res.answered = status > 0 && (e == CURLE_OK || (e == CURLE_WRITE_ERROR && r->answer_cut));
        if (res.answered) {
            res.status = status;
        } else {
            res.retryable = curl_error_retryable(e);
            res.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(e);
            res.body = "";
        }
        req_finish(r, &res);
    }
}

CURL *http_client_easy(struct http_client *c)
{
    CURL *easy = curl_easy_init();
    if (!easy)
        return NULL;
    bool ok = true;
#define SETOPT(opt, val) (ok = ok && curl_easy_setopt(easy, (opt), (val)) == CURLE_OK)
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file)
        SETOPT(CURLOPT_CAINFO, c->ca_file);
    SETOPT(CURLOPT_TIMEOUT_MS, c->timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
    SETOPT(CURLOPT_USERAGENT, "otpgate/" OTPGATE_VERSION);
#undef SETOPT
    if (!ok) {
        curl_easy_cleanup(easy);
        return NULL;
    }
    return easy;
}

int http_client_start(struct http_client *c, CURL *easy, size_t answer_max, http_client_done_cb cb,
                      void *arg)
{
    if (!c || !easy || !cb) {
        if (easy)
            curl_easy_cleanup(easy);
        return OG_ERR_INVALID;
    }
    if (c->closing) {
        curl_easy_cleanup(easy);
        return OG_ERR_BUSY;
    }
    struct http_req *r = og_calloc(1, sizeof *r);
    r->c = c;
    r->easy = easy;
    buf_init(&r->answer, answer_max); /* always NUL-terminated once written */
    r->cb = cb;
    r->arg = arg;
    bool ok = curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write) == CURLE_OK &&
              curl_easy_setopt(easy, CURLOPT_WRITEDATA, r) == CURLE_OK &&
              curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, r->errbuf) == CURLE_OK &&
              curl_easy_setopt(easy, CURLOPT_PRIVATE, r) == CURLE_OK;
    r->start_ns = uv_hrtime();
    ok = ok && curl_multi_add_handle(c->multi, easy) == CURLM_OK;
    if (!ok) {
        req_free(r);
        return OG_ERR_IO;
    }
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    c->in_flight++;
    return OG_OK;
}

size_t http_client_in_flight(const struct http_client *c)
{
    return c ? c->in_flight : 0;
}

int http_client_new(uv_loop_t *loop, const char *ca_file, long timeout_ms, struct http_client **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    /* Loop thread only, so a plain flag is enough to do this once. */
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            if (err)
                snprintf(err, errlen, "libcurl failed to start");
            return OG_ERR_IO;
        }
        curl_ready = true;
        const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
        if (!(vi->features & CURL_VERSION_ASYNCHDNS))
            log_warn("libcurl resolves names synchronously; a slow DNS server will stall "
                     "the loop",
                     "curl", vi->version);
    }
    struct http_client *c = og_calloc(1, sizeof *c);
    c->loop = loop;
    c->ca_file = ca_file ? og_strdup(ca_file) : NULL;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 15000L;
    c->multi = curl_multi_init();
    if (!c->multi) {
        if (err)
            snprintf(err, errlen, "libcurl could not make a multi handle");
        client_free(c);
        return OG_ERR_IO;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    uv_timer_init(loop, &c->timer);
    c->open_handles = 1;
    *out = c;
    return OG_OK;
}

void http_client_close(struct http_client *c)
{
    if (!c || c->closing)
        return;
    /* Cancelled requests are called back first, while their owners still
     * work for the bookkeeping; new requests are refused from here on. */
    c->closing = true;
    while (c->reqs) {
        struct http_client_result res;
        memset(&res, 0, sizeof res);
        res.retryable = true;
        res.error = "cancelled: otpgate is shutting down";
        res.body = "";
        req_finish(c->reqs, &res);
    }
    /* Closing the multi closes its cached connections, which may report
     * more sockets to stop watching. */
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    while (c->socks)
        sock_close(c, c->socks);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}
