/* Connection lifecycle and HTTP/1.1 framing on the loop thread. Owns the
 * parser, the per-connection buffers and the request being handled, the
 * connection caps (in all and per address) and each connection's fair share
 * of the loop; never blocks and never reads a byte past what llhttp has been
 * given. A request's arena, body and header copy live until its answer is
 * queued. */
#include "gateway/http/http_conn.h"

#include "core/log.h"
#include "gateway/batch.h"
#include "gateway/http/forwarded.h"
#include "gateway/http/http.h"
#include "gateway/http/peers.h"
#include "gateway/request_tx.h"
#include "gateway/routes.h"

#include <arpa/inet.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>

/* Stop reading while this much output waits for a slow reader. */
#define WRITE_HIGH_WATER (1u << 20)
/* Hard cap on queued output of one connection. */
#define OUT_CAP (64u << 20)
/* After a closing answer, how long unread input is drained before close. */
#define DRAIN_MS 2000
/* Pipelined requests one connection may have handled in one turn (loop
 * iteration), and the answer bytes after which its turn ends sooner; the
 * rest of its input waits for the next turn, so a client that pipelines
 * thousands cannot hold the loop while others wait. Small enough that 200
 * such clients make a turn of a few milliseconds, large enough that the
 * per-turn cost (a read, a write) is shared by several answers. */
#define FAIR_SHARE       16
#define FAIR_SHARE_BYTES (32u << 10)
/* A borrowed body (a static file) up to this size, answering the second or
 * a later request of a turn's burst, is copied with the burst's other
 * answers rather than written on its own: one system call per burst. */
#define BURST_COPY_MAX (16u << 10)

enum conn_state {
    CONN_WAIT,     /* between requests (or none yet): no byte of the next one */
    CONN_READING,  /* part of a request has arrived */
    CONN_HANDLING, /* a complete request is with its handler */
    CONN_DRAINING, /* answered with close: discarding input until EOF */
};

struct hdr_offsets {
    size_t name_off, name_len, value_off, value_len;
};

struct http_conn {
    uv_tcp_t tcp;
    uv_shutdown_t shutdown_req;
    struct server *srv;
    struct http_conn *prev, *next;
    llhttp_t parser;
    enum conn_state state;
    uint64_t deadline_ms;

    struct http_request req;
    struct buf raw; /* request line target and header bytes as received */
    size_t url_len;
    struct hdr_offsets hdr[HTTP_MAX_HEADERS];
    size_t hdr_count;
    bool field_open, value_open;
    int reject_status; /* why a parser callback stopped: 413, 414, 431 */

    struct buf out;     /* answers not yet handed to the kernel */
    struct buf pending; /* input read but not parsed yet (held back) */
    size_t pending_off; /* how much of pending has been parsed */
    bool in_feed;       /* inside conn_parse: answers are batched */
    bool close_after;   /* close once the current answer is out */
    bool closing;       /* uv_close called */
    bool shut;          /* uv_shutdown called */
    bool reading;
    bool counted; /* counts toward OTPGATE_MAX_CONNECTIONS */
    bool per_ip;  /* counts toward OTPGATE_MAX_CONNECTIONS_PER_IP (peer_key) */
    struct peer_key peer_key;
    char peer_ip[46]; /* canonical; an IPv4-mapped peer as IPv4 */

    /* Fair share: requests dispatched in turn `turn`; on the server's ready
     * list (queued in ready_turn) while input waits for a later turn. */
    uint64_t turn;
    unsigned served;
    size_t served_bytes; /* answer bodies in that turn */
    bool ready;
    uint64_t ready_turn;
    struct http_conn *ready_prev, *ready_next;
};

struct write_req {
    uv_write_t w;
    char *data;
};

static llhttp_settings_t parser_settings;
static bool parser_settings_ready;

static void conn_close(struct http_conn *c);
static void conn_flush(struct http_conn *c);
static size_t conn_parse(struct http_conn *c, const char *data, size_t len);
static void conn_resume(struct http_conn *c);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

/* ---- list and lifetime ------------------------------------------------ */

static void conn_link(struct server *s, struct http_conn *c)
{
    c->next = s->conns;
    c->prev = NULL;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->conn_count++;
}

/* ---- fair shares ------------------------------------------------------ */

static void ready_remove(struct server *s, struct http_conn *c)
{
    if (!c->ready)
        return;
    if (c->ready_prev)
        c->ready_prev->ready_next = c->ready_next;
    else
        s->ready_head = c->ready_next;
    if (c->ready_next)
        c->ready_next->ready_prev = c->ready_prev;
    else
        s->ready_tail = c->ready_prev;
    c->ready = false;
    c->ready_prev = c->ready_next = NULL;
}

static void on_turn_idle(uv_idle_t *h)
{
    OG_UNUSED(h); /* only there so that the poll does not block */
}

/* Input waits and this turn's share is spent: go on next turn. */
static void ready_add(struct http_conn *c)
{
    struct server *s = c->srv;
    if (c->ready || c->closing)
        return;
    c->ready = true;
    c->ready_turn = s->turn;
    c->ready_next = NULL;
    c->ready_prev = s->ready_tail;
    if (s->ready_tail)
        s->ready_tail->ready_next = c;
    else
        s->ready_head = c;
    s->ready_tail = c;
    uv_idle_start(&s->turn_idle, on_turn_idle);
}

/* True while c may still dispatch a request this turn. */
static bool conn_has_share(struct http_conn *c)
{
    if (c->turn != c->srv->turn) {
        c->turn = c->srv->turn;
        c->served = 0;
        c->served_bytes = 0;
    }
    return c->served < FAIR_SHARE && c->served_bytes < FAIR_SHARE_BYTES;
}

static bool conn_output_full(struct http_conn *c)
{
    return uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_HIGH_WATER;
}

/* A new turn: the connections that waited since an earlier one go on. */
static void on_turn(uv_prepare_t *h)
{
    struct server *s = container_of(h, struct server, turn_prepare);
    s->turn++;
    while (s->ready_head && s->ready_head->ready_turn < s->turn) {
        struct http_conn *c = s->ready_head;
        ready_remove(s, c);
        conn_resume(c);
    }
    if (!s->ready_head)
        uv_idle_stop(&s->turn_idle);
}

void http_conn_init(struct server *s)
{
    s->peers = peers_new();
    uv_prepare_init(s->loop, &s->turn_prepare);
    uv_prepare_start(&s->turn_prepare, on_turn);
    uv_unref((uv_handle_t *)&s->turn_prepare);
    uv_idle_init(s->loop, &s->turn_idle);
}

void http_conn_release(struct server *s)
{
    peers_free(s->peers);
    s->peers = NULL;
}

static void conn_unlink(struct server *s, struct http_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->conn_count--;
    if (c->counted)
        s->counted_conns--;
    c->counted = false;
    if (c->per_ip)
        peers_remove(s->peers, &c->peer_key);
    c->per_ip = false;
    ready_remove(s, c);
}

static void on_close(uv_handle_t *h)
{
    struct http_conn *c = container_of(h, struct http_conn, tcp);
    struct server *s = c->srv;
    arena_reset(&c->req.arena);
    buf_free(&c->req.body);
    buf_free(&c->req.resp_headers);
    buf_free(&c->raw);
    buf_free(&c->out);
    buf_free(&c->pending);
    free(c);
    server_conn_closed(s);
}

static void conn_close(struct http_conn *c)
{
    if (c->closing)
        return;
    if (c->state == CONN_HANDLING) {
        /* The handler still holds the request; close once it answers. */
        c->close_after = true;
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = false;
        }
        return;
    }
    c->closing = true;
    conn_unlink(c->srv, c);
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static uint64_t now_ms(struct http_conn *c)
{
    return uv_now(c->srv->loop);
}

/* ---- writing ---------------------------------------------------------- */

static void on_write(uv_write_t *w, int status)
{
    struct write_req *wr = container_of(w, struct write_req, w);
    struct http_conn *c = w->data;
    free(wr->data);
    free(wr);
    if (status < 0) {
        conn_close(c);
        return;
    }
    /* Once a slow reader has caught up, go on with its input. */
    if (!c->closing && !c->shut && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0)
        conn_resume(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct http_conn *c = container_of(req, struct http_conn, shutdown_req);
    if (status < 0 || c->closing) {
        conn_close(c);
        return;
    }
    /* Read and drop what the client still sends, so closing does not reset
     * the connection under an answer it has not read yet. */
    c->state = CONN_DRAINING;
    c->deadline_ms = now_ms(c) + DRAIN_MS;
    if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
}

static void conn_begin_close(struct http_conn *c)
{
    if (c->shut || c->closing)
        return;
    c->shut = true;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        conn_close(c);
}

/* Queues what c->out holds (taken from it) and then body (borrowed, may be
 * NULL) behind the writes in flight; stops reading past the high-water
 * mark. Closes the connection when libuv refuses. */
static void conn_queue_write(struct http_conn *c, const char *body, size_t len)
{
    uv_stream_t *stream = (uv_stream_t *)&c->tcp;
    struct write_req *wr = og_malloc(sizeof(*wr));
    size_t hl = 0;
    wr->data = c->out.len ? buf_detach(&c->out, &hl) : NULL;
    wr->w.data = c;
    uv_buf_t b[2];
    unsigned n = 0;
    if (hl)
        b[n++] = uv_buf_init(wr->data, (unsigned)hl);
    if (body && len)
        b[n++] = uv_buf_init((char *)body, (unsigned)len);
    if (n == 0 || uv_write(&wr->w, stream, b, n, on_write) != 0) {
        free(wr->data);
        free(wr);
        if (n)
            conn_close(c);
        return;
    }
    if (uv_stream_get_write_queue_size(stream) > WRITE_HIGH_WATER && c->reading) {
        uv_read_stop(stream);
        c->reading = false;
    }
}

/* Writes what c->out holds and then body, which is not copied (it outlives
 * the connection): at once as far as the socket takes it, the rest queued
 * in order behind it. */
static void conn_write_borrowed(struct http_conn *c, const char *body, size_t len)
{
    uv_stream_t *stream = (uv_stream_t *)&c->tcp;
    size_t head = c->out.len, done = 0;
    if (uv_stream_get_write_queue_size(stream) == 0) {
        uv_buf_t b[2] = {uv_buf_init(c->out.data, (unsigned)head),
                         uv_buf_init((char *)body, (unsigned)len)};
        int n = head ? uv_try_write(stream, b, 2) : uv_try_write(stream, b + 1, 1);
        if (n < 0 && n != UV_EAGAIN) {
            conn_close(c);
            return;
        }
        done = n > 0 ? (size_t)n : 0;
    }
    if (done >= head) {
        buf_clear(&c->out);
        size_t from = done - head;
        if (from == len)
            return;
        body += from;
        len -= from;
    } else {
        buf_consume(&c->out, done);
    }
    conn_queue_write(c, body, len);
}

static void conn_flush(struct http_conn *c)
{
    if (c->closing)
        return;
    uv_stream_t *stream = (uv_stream_t *)&c->tcp;
    if (c->out.len > 0) {
        if (uv_stream_get_write_queue_size(stream) == 0) {
            uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
            int n = uv_try_write(stream, &b, 1);
            if (n == (int)c->out.len) {
                buf_clear(&c->out);
            } else if (n > 0) {
                buf_consume(&c->out, (size_t)n);
            } else if (n != UV_EAGAIN) {
                conn_close(c);
                return;
            }
        }
        if (c->out.len > 0) {
            conn_queue_write(c, NULL, 0);
            if (c->closing)
                return;
        }
    }
    if (c->close_after && c->state != CONN_HANDLING)
        conn_begin_close(c);
}

/* ---- answering -------------------------------------------------------- */

static void request_reset(struct http_conn *c)
{
    struct http_request *r = &c->req;
    arena_reset(&r->arena);
    if (r->body.alloc > 16384)
        buf_free(&r->body);
    else
        buf_clear(&r->body);
    buf_clear(&r->resp_headers);
    r->route = NULL;
    r->route_index = -1;
    r->param_count = 0;
    r->header_count = 0;
    r->responded = false;
    r->durable = false;
    r->expect_continue = false;
    c->hdr_count = 0;
    c->url_len = 0;
    c->field_open = c->value_open = false;
    buf_clear(&c->raw);
}

static void date_header(char out[32])
{
    static int64_t cached_sec = -1;
    static char cached[32];
    int64_t now = (int64_t)time(NULL);
    if (now != cached_sec) {
        http_date_format(now, cached);
        cached_sec = now;
    }
    memcpy(out, cached, 32);
}

/* Appends a complete answer head to the connection's output. */
static void append_head(struct http_conn *c, int status, const char *content_type, size_t len,
                        bool keep_alive, bool http10, const struct buf *extra)
{
    char date[32];
    date_header(date);
    struct buf *o = &c->out;
    /* Appends, not printf: this runs for every answer. */
    buf_append(o, "HTTP/1.1 ", 9);
    buf_append_u64(o, (uint64_t)status);
    buf_append(o, " ", 1);
    buf_append_str(o, http_status_text(status));
    buf_append(o, "\r\nDate: ", 8);
    buf_append_str(o, date);
    buf_append(o, "\r\n", 2);
    if (status != 204 && status != 304) {
        buf_append(o, "Content-Length: ", 16);
        buf_append_u64(o, len);
        buf_append(o, "\r\n", 2);
    }
    if (content_type) {
        buf_append(o, "Content-Type: ", 14);
        buf_append_str(o, content_type);
        buf_append(o, "\r\n", 2);
    }
    if (!keep_alive)
        buf_append_str(o, "Connection: close\r\n");
    else if (http10)
        buf_append_str(o, "Connection: keep-alive\r\n");
    if (extra && extra->len)
        buf_append(o, extra->data, extra->len);
    buf_append(o, "\r\n", 2);
}

static void respond(struct http_request *req, int status, const char *content_type,
                    const void *body, size_t len, bool borrowed);

void http_respond(struct http_request *req, int status, const char *content_type, const void *body,
                  size_t len)
{
    respond(req, status, content_type, body, len, false);
}

void http_respond_borrowed(struct http_request *req, int status, const char *content_type,
                           const void *body, size_t len)
{
    respond(req, status, content_type, body, len, true);
}

static void respond(struct http_request *req, int status, const char *content_type,
                    const void *body, size_t len, bool borrowed)
{
    /* On a database worker the answer waits for the request's commit. */
    if (request_tx_record(req, status, content_type, body, len))
        return;
    /* SQLite: an answer that read the database waits for the commits
     * before it to be durable. */
    if (batch_hold(req, status, content_type, body, len))
        return;
    struct http_conn *c = req->conn;
    struct server *s = c->srv;
    if (req->responded) {
        log_error("handler answered twice", "path", req->path.p ? "(set)" : "(none)");
        return;
    }
    req->responded = true;
    if (s->shutting_down || c->close_after)
        req->keep_alive = false;

    bool http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
    if (c->turn == s->turn)
        c->served_bytes += len;
    if (!c->closing) {
        append_head(c, status, content_type, len, req->keep_alive, http10, &req->resp_headers);
        if (!req->head && len && status != 204 && status != 304) {
            /* A body that outlives the connection is written from where it
             * is, but a small one in the middle of a pipelined burst is
             * copied, so that the burst's answers go out in one write. */
            bool burst = c->in_feed && c->served > 1 && len <= BURST_COPY_MAX;
            if (borrowed && !burst)
                conn_write_borrowed(c, body, len); /* the head, then the body */
            else if (buf_append(&c->out, body, len) != OG_OK)
                c->close_after = true;
        }
    }

    double secs = (double)(uv_hrtime() - req->start_ns) / 1e9;
    const struct route *rt = req->route;
    if (!rt || !(rt->flags & ROUTE_NO_METRICS))
        metrics_observe(&s->metrics, req->route_index, status, secs);
    if (log_enabled(OG_LOG_DEBUG)) {
        char st[8], ms[32];
        snprintf(st, sizeof(st), "%d", status);
        snprintf(ms, sizeof(ms), "%.3f", secs * 1000.0);
        log_debug("request", "method", llhttp_method_name((llhttp_method_t)req->method), "route",
                  rt ? rt->pattern : "unmatched", "status", st, "ms", ms, "ip", req->client_ip);
    }

    if (!req->keep_alive)
        c->close_after = true;
    request_reset(c);
    c->state = CONN_WAIT;
    c->deadline_ms = now_ms(c) + s->cfg->idle_timeout_ms;

    if (c->in_feed)
        return; /* conn_parse goes on with pipelined input; its caller flushes */
    conn_flush(c);
    if (c->closing || c->shut)
        return;
    conn_resume(c);
}

/* Answers a request the parser refused, then closes: the stream can no
 * longer be trusted to be in step. */
static void conn_reject(struct http_conn *c, int status, const char *message)
{
    struct http_request *r = &c->req;
    bool api = c->url_len >= 5 && c->raw.len >= 5 && memcmp(c->raw.data, "/api/", 5) == 0;
    c->close_after = true;
    r->keep_alive = false;
    r->head = false;
    r->route = NULL;
    r->route_index = -1;
    r->start_ns = uv_hrtime();
    snprintf(r->client_ip, sizeof(r->client_ip), "%s", c->peer_ip);
    r->forwarded_ignored = false;
    c->state = CONN_READING; /* so http_respond's bookkeeping applies */
    if (api) {
        http_respond_error_json(r, status,
                                status == 413   ? "body_too_large"
                                : status == 431 ? "headers_too_large"
                                : status == 414 ? "uri_too_long"
                                : status == 408 ? "request_timeout"
                                                : "bad_request",
                                message);
    } else {
        http_respond_text(r, status, message);
    }
}

/* ---- parsing ---------------------------------------------------------- */

static struct http_conn *conn_of(llhttp_t *p)
{
    return p->data;
}

static int on_message_begin(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    if (c->state == CONN_WAIT) {
        c->state = CONN_READING;
        c->deadline_ms = now_ms(c) + c->srv->cfg->request_timeout_ms;
    }
    return 0;
}

static int raw_append(struct http_conn *c, const char *at, size_t len, int status)
{
    if (buf_append(&c->raw, at, len) != OG_OK) {
        c->reject_status = status;
        return HPE_USER;
    }
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);
    int rc = raw_append(c, at, len, 414);
    if (rc == 0)
        c->url_len += len;
    return rc;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);
    if (!c->field_open) {
        if (c->hdr_count == HTTP_MAX_HEADERS) {
            c->reject_status = 431;
            return HPE_USER;
        }
        c->field_open = true;
        c->hdr[c->hdr_count] = (struct hdr_offsets){c->raw.len, 0, 0, 0};
    }
    c->hdr[c->hdr_count].name_len += len;
    return raw_append(c, at, len, 431);
}

static int on_header_field_complete(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    c->field_open = false;
    c->hdr[c->hdr_count].value_off = c->raw.len;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);
    c->hdr[c->hdr_count].value_len += len;
    return raw_append(c, at, len, 431);
}

static int on_header_value_complete(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    c->hdr_count++;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    struct http_request *r = &c->req;
    const char *base = c->raw.data ? c->raw.data : "";
    r->method = p->method;
    r->head = p->method == HTTP_HEAD;
    r->keep_alive = llhttp_should_keep_alive(p) != 0;
    r->target = span_make(base, c->url_len);
    r->path = r->target;
    r->query = SPAN_NULL;
    for (size_t i = 0; i < c->url_len; i++) {
        if (base[i] == '?' || base[i] == '#') {
            r->path = span_make(base, i);
            if (base[i] == '?') {
                size_t q = i + 1, e = q;
                while (e < c->url_len && base[e] != '#')
                    e++;
                r->query = span_make(base + q, e - q);
            }
            break;
        }
    }
    r->header_count = c->hdr_count;
    for (size_t i = 0; i < c->hdr_count; i++) {
        r->headers[i].name = span_make(base + c->hdr[i].name_off, c->hdr[i].name_len);
        r->headers[i].value = span_make(base + c->hdr[i].value_off, c->hdr[i].value_len);
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->srv->cfg->max_body_bytes) {
        c->reject_status = 413;
        return -1;
    }
    struct span expect;
    if (http_header_get(r, "Expect", &expect) && span_eq_nocase(expect, SPAN_LIT("100-continue")))
        r->expect_continue = true;
    if (r->expect_continue && p->http_minor >= 1) {
        buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
        if (!c->in_feed)
            conn_flush(c);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);
    if (buf_append(&c->req.body, at, len) != OG_OK) {
        c->reject_status = 413;
        return HPE_USER;
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    OG_UNUSED(p);
    return HPE_PAUSED; /* one request at a time: conn_feed dispatches it */
}

static void settings_init(void)
{
    if (parser_settings_ready)
        return;
    llhttp_settings_init(&parser_settings);
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_header_field = on_header_field;
    parser_settings.on_header_field_complete = on_header_field_complete;
    parser_settings.on_header_value = on_header_value;
    parser_settings.on_header_value_complete = on_header_value_complete;
    parser_settings.on_headers_complete = on_headers_complete;
    parser_settings.on_body = on_body;
    parser_settings.on_message_complete = on_message_complete;
    parser_settings_ready = true;
}

/* ---- dispatch --------------------------------------------------------- */

/* The client address: the peer, or with trusted proxies in front, what
 * they say (forwarded.h walks every X-Forwarded-For line, or Forwarded,
 * from the right). */
static void resolve_client_ip(struct http_conn *c)
{
    struct http_request *r = &c->req;
    const struct config *cfg = c->srv->cfg;
    struct span xff[HTTP_MAX_HEADERS], fwd[HTTP_MAX_HEADERS], xfp[HTTP_MAX_HEADERS];
    struct forwarded_headers h = {xff, 0, fwd, 0, xfp, 0};
    for (size_t i = 0; i < r->header_count; i++) {
        struct span name = r->headers[i].name;
        if (span_eq_nocase(name, SPAN_LIT("X-Forwarded-For")))
            xff[h.xff_count++] = r->headers[i].value;
        else if (span_eq_nocase(name, SPAN_LIT("Forwarded")))
            fwd[h.forwarded_count++] = r->headers[i].value;
        else if (span_eq_nocase(name, SPAN_LIT("X-Forwarded-Proto")))
            xfp[h.proto_count++] = r->headers[i].value;
    }
    struct forwarded_client fc;
    forwarded_resolve(c->peer_ip, &h, cfg->trusted_proxies, cfg->trusted_proxy_count, &fc);
    memcpy(r->client_ip, fc.ip, sizeof r->client_ip);
    r->forwarded_ignored = fc.ignored;
}

static void conn_dispatch(struct http_conn *c)
{
    struct http_request *r = &c->req;
    r->start_ns = uv_hrtime();
    c->state = CONN_HANDLING;
    resolve_client_ip(c);

    unsigned allowed = 0;
    size_t nparams = 0;
    enum router_result rr =
        router_match(routes_table, routes_count, r->method, r->path, &r->route_index, r->params,
                     HTTP_MAX_PARAMS, &nparams, &allowed);
    r->param_count = nparams;
    if (rr == ROUTER_NOT_FOUND) {
        routes_error(r, 404); /* a page for browsers, JSON under /api/ */
        return;
    }
    if (rr == ROUTER_METHOD_NOT_ALLOWED) {
        char allow[64];
        router_allow_header(allowed, allow, sizeof(allow));
        http_header_add(r, "Allow", allow);
        routes_error(r, 405);
        return;
    }
    r->route = &routes_table[r->route_index];
    if (c->srv->pool && !(r->route->flags & ROUTE_NO_STORE)) {
        /* PostgreSQL: the handler runs on a database worker. */
        request_tx_dispatch(r);
        return;
    }
    if (batch_busy(c->srv) && !(r->route->flags & ROUTE_NO_STORE)) {
        /* The database is committing: the handler runs when it is done. */
        batch_park(c->srv, r);
        return;
    }
    r->route->handler(r);
}

/* Parses data and dispatches the requests in it, one at a time, until it is
 * used up, a request is with its handler, the connection has spent its
 * share of this turn, or it is to close. Returns the bytes used (all of
 * them once the connection is to close: the rest is never parsed). Answers
 * given meanwhile are gathered in c->out; the caller flushes. */
static size_t conn_parse(struct http_conn *c, const char *data, size_t len)
{
    size_t used = 0;
    c->in_feed = true;
    while (used < len && !c->closing && !c->close_after && c->state != CONN_HANDLING &&
           conn_has_share(c)) {
        const char *at = data + used;
        llhttp_errno_t e = llhttp_execute(&c->parser, at, len - used);
        if (e == HPE_OK) {
            used = len;
            break;
        }
        if (e == HPE_PAUSED) {
            used += (size_t)(llhttp_get_error_pos(&c->parser) - at);
            llhttp_resume(&c->parser);
            c->served++;
            conn_dispatch(c);
            continue;
        }
        int status = c->reject_status ? c->reject_status : 400;
        const char *msg = status == 413   ? "request body too large"
                          : status == 431 ? "request headers too large"
                          : status == 414 ? "request target too long"
                                          : "malformed HTTP request";
        if (log_enabled(OG_LOG_DEBUG))
            log_debug("bad request", "reason", llhttp_get_error_reason(&c->parser), "ip",
                      c->peer_ip);
        conn_reject(c, status, msg);
        break;
    }
    c->in_feed = false;
    if (c->close_after || c->closing)
        used = len;
    return used;
}

/* Keeps input that cannot be parsed now (a request is with its handler, or
 * the turn's share is spent) and stops reading until it has been. */
static void conn_hold(struct http_conn *c, const char *data, size_t len)
{
    if (c->pending_off > 0) {
        buf_consume(&c->pending, c->pending_off);
        c->pending_off = 0;
    }
    if (buf_append(&c->pending, data, len) != OG_OK)
        c->close_after = true; /* over the cap of one request and a read */
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    if (c->state != CONN_HANDLING)
        ready_add(c); /* otherwise its answer resumes it */
}

/* Goes on with held-back input within this turn's share, then reads again.
 * Called when an answer is out, when a slow reader has caught up and at a
 * new turn; never from inside conn_parse. */
static void conn_resume(struct http_conn *c)
{
    if (c->closing || c->shut || c->state == CONN_HANDLING || conn_output_full(c))
        return; /* its answer, or on_write once the output drains, comes back */
    if (c->pending_off < c->pending.len) {
        if (!conn_has_share(c)) {
            ready_add(c);
            return;
        }
        c->pending_off +=
            conn_parse(c, c->pending.data + c->pending_off, c->pending.len - c->pending_off);
        conn_flush(c);
        if (c->closing || c->shut)
            return;
        if (c->pending_off < c->pending.len) {
            if (c->state != CONN_HANDLING)
                ready_add(c);
            return;
        }
    }
    if (c->pending.alloc > 65536)
        buf_free(&c->pending);
    else
        buf_clear(&c->pending);
    c->pending_off = 0;
    if (!c->reading && !c->close_after && c->state != CONN_HANDLING && !conn_output_full(c) &&
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
}

/* ---- reading ---------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    OG_UNUSED(suggested);
    struct http_conn *c = container_of(h, struct http_conn, tcp);
    /* Every read is parsed (and whatever must outlive it copied) before the
     * next alloc, so one server-wide buffer serves all connections. */
    *buf = uv_buf_init(c->srv->read_buf, (unsigned)c->srv->read_buf_size);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *c = container_of(stream, struct http_conn, tcp);
    if (nread < 0) {
        conn_close(c); /* EOF or error; waits for a handler still at work */
        return;
    }
    if (nread == 0 || c->state == CONN_DRAINING || c->closing)
        return;
    if (c->state == CONN_WAIT) {
        c->state = CONN_READING;
        c->deadline_ms = now_ms(c) + c->srv->cfg->request_timeout_ms;
    }
    size_t len = (size_t)nread, used = 0;
    /* Input already held back goes first (reading stops while there is). */
    if (c->pending_off == c->pending.len)
        used = conn_parse(c, buf->base, len);
    if (used < len)
        conn_hold(c, buf->base + used, len - used);
    conn_flush(c);
}

/* ---- accepting -------------------------------------------------------- */

/* The peer's address, as text and as bytes (family 0 when unknown). */
static int peer_address(struct http_conn *c, uint8_t addr[16])
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    c->peer_ip[0] = '\0';
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    int family = ss.ss_family;
    if (family == AF_INET) {
        memcpy(addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        /* A dual-stack socket's IPv4 peer is written and counted as IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            family = AF_INET;
            memcpy(addr, a6->s6_addr + 12, 4);
        } else {
            memcpy(addr, a6->s6_addr, 16);
        }
    } else {
        return 0;
    }
    if (!inet_ntop(family, addr, c->peer_ip, sizeof(c->peer_ip)))
        c->peer_ip[0] = '\0';
    return family;
}

/* Answers 503 at once and closes, without reading a request, so the cost
 * of a refused client stays tiny. */
static void conn_refuse(struct http_conn *c, const char *reason)
{
    struct server *s = c->srv;
    static const char body[] = "server busy: too many connections\n";
    buf_printf(&c->out,
               "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; "
               "charset=utf-8\r\nRetry-After: 5\r\nConnection: close\r\n"
               "Content-Length: %zu\r\n\r\n%s",
               sizeof(body) - 1, body);
    metrics_observe(&s->metrics, -1, 503, 0);
    if (reason)
        metrics_count(&s->metrics, "otpgate_connections_refused_total",
                      "Connections answered 503 at once, by the cap they met.", reason, 1);
    c->close_after = true;
    conn_flush(c);
}

void http_conn_accept(struct server *s)
{
    settings_init();
    struct http_conn *c = og_calloc(1, sizeof(*c));
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp) != 0) {
        c->closing = true; /* never linked: on_close only frees */
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    buf_init(&c->raw, s->cfg->max_header_bytes);
    buf_init(&c->out, OUT_CAP);
    buf_init(&c->pending, s->cfg->max_header_bytes + s->cfg->max_body_bytes + 65536);
    buf_init(&c->req.body, s->cfg->max_body_bytes);
    buf_init(&c->req.resp_headers, 16384);
    arena_init(&c->req.arena);
    c->req.conn = c;
    c->req.srv = s;
    c->req.route_index = -1;
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    c->state = CONN_WAIT;
    c->deadline_ms = uv_now(s->loop) + s->cfg->request_timeout_ms;
    uv_tcp_nodelay(&c->tcp, 1);
    uint8_t addr[16];
    int family = peer_address(c, addr);
    /* A trusted proxy carries many users: only the total cap applies. */
    bool per_ip = family != 0 && !config_proxy_trusted(s->cfg, family, addr);
    if (per_ip)
        peer_key_make(&c->peer_key, family, addr);

    conn_link(s, c);
    if (s->shutting_down) {
        conn_refuse(c, NULL);
        return;
    }
    if (s->counted_conns >= s->cfg->max_connections) {
        conn_refuse(c, "reason=\"total\"");
        return;
    }
    if (per_ip && peers_count(s->peers, &c->peer_key) >= s->cfg->max_connections_per_ip) {
        if (log_enabled(OG_LOG_DEBUG))
            log_debug("connection refused: too many from one address", "ip", c->peer_ip);
        conn_refuse(c, "reason=\"per_ip\"");
        return;
    }
    c->counted = true;
    s->counted_conns++;
    if (per_ip) {
        peers_add(s->peers, &c->peer_key);
        c->per_ip = true;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
    else
        conn_close(c);
}

void http_conn_sweep(struct server *s, uint64_t now)
{
    struct http_conn *c = s->conns;
    while (c) {
        struct http_conn *next = c->next;
        if (!c->closing && c->state != CONN_HANDLING && now >= c->deadline_ms) {
            if (c->state == CONN_READING && !c->shut)
                conn_reject(c, 408, "request not complete in time");
            else
                conn_close(c);
        }
        c = next;
    }
}

void http_conn_close_all(struct server *s, bool force)
{
    struct http_conn *c = s->conns;
    while (c) {
        struct http_conn *next = c->next;
        if (force) {
            if (c->state == CONN_HANDLING)
                c->state = CONN_WAIT; /* the loop is ending: drop the answer */
            conn_close(c);
        } else if (c->state == CONN_WAIT || c->state == CONN_DRAINING) {
            conn_close(c);
        }
        /* A request being read or handled finishes; its answer carries
         * Connection: close because the server is shutting down. */
        c = next;
    }
}
