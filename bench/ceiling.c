/* The benchmark ceiling: a bare libuv + llhttp HTTP/1.1 server that answers
 * every request with the same tiny 200 "ok\n". Nothing otpgate does can be
 * faster, so bench/run.sh reports otpgate's throughput as a ratio to this.
 * Given a file, it answers with that file's bytes instead: the same-size
 * reference for a static asset, whose pace is set as much by moving its
 * bytes through the kernel and into wrk as by the server.
 * It must stay genuinely efficient: no allocation per request (one per
 * connection, plus a write request only when the socket is full), one shared
 * read buffer, pipelined answers written with one syscall per read. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* libuv's headers need POSIX types under -std=c11 */
#endif

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llhttp.h>
#include <uv.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Read size: one read of this many bytes is parsed whole before the next. */
#define READ_BUF_SIZE 65536
/* Copies of a response laid end to end, so a run of pipelined answers of
 * one kind goes out as a single buffer: up to this many, fewer when the
 * answer is large (see BLOCK_BYTES). */
#define BLOCK_COPIES 256
#define BLOCK_BYTES  (512 * 1024)
/* Stop reading from a client whose unsent answers exceed this many bytes;
 * resume when libuv has written them all. */
#define MAX_QUEUED_BYTES (256 * 1024)
#define LISTEN_BACKLOG   1024
/* The largest body file the ceiling serves. */
#define MAX_BODY_BYTES (1024 * 1024)

/* Every answer is one of these; a kind fixes the exact bytes. */
enum resp_kind {
    RESP_KEEP11,      /* HTTP/1.1 keep-alive: no Connection header needed */
    RESP_KEEP10,      /* HTTP/1.0 client asking for keep-alive */
    RESP_CLOSE,       /* last answer on the connection */
    RESP_KEEP11_HEAD, /* the three above, without the body, for HEAD */
    RESP_KEEP10_HEAD,
    RESP_CLOSE_HEAD,
    RESP_BAD, /* 400 on a parse error, then close */
    RESP_KIND_COUNT
};

/* The body of every 200: "ok\n", or the bytes of the file named on the
 * command line (to measure what moving a body of that size costs). */
static const char *resp_body = "ok\n";
static size_t resp_body_len = 3;

static const char *const resp_conn_header[RESP_KIND_COUNT] = {
    [RESP_KEEP11] = "",
    [RESP_KEEP10] = "Connection: keep-alive\r\n",
    [RESP_CLOSE] = "Connection: close\r\n",
    [RESP_KEEP11_HEAD] = "",
    [RESP_KEEP10_HEAD] = "Connection: keep-alive\r\n",
    [RESP_CLOSE_HEAD] = "Connection: close\r\n",
};

static const char RESP_BAD_TEXT[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                                    "Content-Length: 12\r\nConnection: close\r\n\r\nbad request\n";

/* Built once at start: copies of each response, never freed. */
struct resp_block {
    char *bytes;
    size_t one_len; /* length of a single response */
    size_t copies;  /* how many lie end to end in bytes */
};
static struct resp_block resp_blocks[RESP_KIND_COUNT];

/* One client connection. Owns its handle and parser; freed in close_cb. */
struct conn {
    uv_tcp_t tcp;
    uv_shutdown_t shutdown_req;
    llhttp_t parser;
    enum resp_kind run_kind;  /* kind of the answers counted in run_len */
    size_t run_len;           /* answers parsed but not yet queued */
    unsigned closing : 1;     /* the last answer is queued; read no more */
    unsigned read_paused : 1; /* reading stopped until the queue drains */
};

/* A write request for bytes the kernel did not take at once. Reused through
 * a free list, so steady state allocates nothing. The buffers it points to
 * are the static response blocks. */
struct wreq {
    uv_write_t req;
    struct wreq *next_free;
};

static uv_loop_t *loop;
static uv_tcp_t server;
static llhttp_settings_t parser_settings;
static char read_buf[READ_BUF_SIZE]; /* one loop thread: a read is parsed before the next */
static struct wreq *wreq_free_list;

static void conn_read_resume(struct conn *c);

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        fputs("ceiling: out of memory\n", stderr);
        abort();
    }
    return p;
}

/* Reads the body file whole into resp_body. */
static int resp_body_load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "ceiling: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *p = xmalloc(MAX_BODY_BYTES + 1);
    size_t n = fread(p, 1, MAX_BODY_BYTES + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || n > MAX_BODY_BYTES) {
        fprintf(stderr, "ceiling: %s: %s\n", path, failed ? "read error" : "larger than 1 MiB");
        free(p);
        return -1;
    }
    resp_body = p;
    resp_body_len = n;
    return 0;
}

static void resp_blocks_build(void)
{
    for (int k = 0; k < RESP_KIND_COUNT; k++) {
        char head[256];
        const char *body = "";
        size_t body_len = 0;
        if (k == RESP_BAD) {
            snprintf(head, sizeof(head), "%s", RESP_BAD_TEXT);
        } else {
            snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
                     resp_body_len, resp_conn_header[k]);
            if (k == RESP_KEEP11 || k == RESP_KEEP10 || k == RESP_CLOSE) {
                body = resp_body;
                body_len = resp_body_len;
            }
        }
        size_t head_len = strlen(head), len = head_len + body_len;
        size_t copies = BLOCK_BYTES / len;
        copies = copies < 1 ? 1 : copies > BLOCK_COPIES ? BLOCK_COPIES : copies;
        char *p = xmalloc(len * copies);
        for (size_t i = 0; i < copies; i++) {
            memcpy(p + i * len, head, head_len);
            memcpy(p + i * len + head_len, body, body_len);
        }
        resp_blocks[k].bytes = p;
        resp_blocks[k].one_len = len;
        resp_blocks[k].copies = copies;
    }
}

static void on_close(uv_handle_t *h)
{
    free(container_of(h, struct conn, tcp));
}

static void conn_close(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    conn_close(container_of(req, struct conn, shutdown_req));
}

/* Stops reading and closes once every queued answer is written. */
static void conn_finish(struct conn *c)
{
    c->closing = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        conn_close(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = container_of(req, struct wreq, req);
    struct conn *c = container_of(req->handle, struct conn, tcp);

    w->next_free = wreq_free_list;
    wreq_free_list = w;
    if (status != 0) {
        conn_close(c);
        return;
    }
    if (c->read_paused && !c->closing && c->tcp.write_queue_size == 0)
        conn_read_resume(c);
}

/* Queues len bytes that stay valid forever (they point into a response
 * block): tries the socket directly, hands libuv only what is left. */
static int conn_write_static(struct conn *c, const char *p, size_t len)
{
    uv_buf_t buf = uv_buf_init((char *)p, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);

    if (n == UV_EAGAIN || n == UV_ENOSYS)
        n = 0;
    if (n < 0)
        return n;
    if ((size_t)n == len)
        return 0;

    struct wreq *w = wreq_free_list;
    if (w != NULL)
        wreq_free_list = w->next_free;
    else
        w = xmalloc(sizeof(*w));
    buf = uv_buf_init((char *)p + n, (unsigned)(len - (size_t)n));
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
    if (r != 0) {
        w->next_free = wreq_free_list;
        wreq_free_list = w;
    }
    return r;
}

/* Queues the run of identical answers counted so far, in order. */
static int conn_flush(struct conn *c)
{
    const struct resp_block *b = &resp_blocks[c->run_kind];

    while (c->run_len > 0) {
        size_t n = c->run_len < b->copies ? c->run_len : b->copies;
        int r = conn_write_static(c, b->bytes, n * b->one_len);
        if (r != 0)
            return r;
        c->run_len -= n;
    }
    return 0;
}

/* Adds one answer to the run, queueing the run first if the kind changes. */
static int conn_answer(struct conn *c, enum resp_kind kind)
{
    if (c->run_len > 0 && c->run_kind != kind) {
        int r = conn_flush(c);
        if (r != 0)
            return r;
    }
    c->run_kind = kind;
    c->run_len++;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct conn *c = container_of(p, struct conn, parser);
    int head = llhttp_get_method(p) == HTTP_HEAD;
    enum resp_kind kind;

    if (!llhttp_should_keep_alive(p))
        kind = head ? RESP_CLOSE_HEAD : RESP_CLOSE;
    else if (llhttp_get_http_major(p) == 1 && llhttp_get_http_minor(p) == 0)
        kind = head ? RESP_KEEP10_HEAD : RESP_KEEP10;
    else
        kind = head ? RESP_KEEP11_HEAD : RESP_KEEP11;

    if (conn_answer(c, kind) != 0)
        return -1;
    if (kind == RESP_CLOSE || kind == RESP_CLOSE_HEAD) {
        c->closing = 1;
        return HPE_PAUSED; /* ignore anything the client sent after this */
    }
    return HPE_OK;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(read_buf, sizeof(read_buf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = container_of(s, struct conn, tcp);

    if (nread == UV_EOF) {
        conn_finish(c); /* still send what was asked for */
        return;
    }
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->closing)
        return;

    llhttp_errno_t err = llhttp_execute(&c->parser, buf->base, (size_t)nread);
    if (err != HPE_OK && !c->closing) {
        /* A parse error, or an upgrade we do not speak: answer 400 and go. */
        if (conn_answer(c, RESP_BAD) != 0) {
            conn_close(c);
            return;
        }
        c->closing = 1;
    }
    if (conn_flush(c) != 0) {
        conn_close(c);
        return;
    }
    if (c->closing) {
        conn_finish(c);
    } else if (c->tcp.write_queue_size > MAX_QUEUED_BYTES) {
        uv_read_stop(s);
        c->read_paused = 1;
    }
}

/* Reading was stopped because the client was not taking its answers. */
static void conn_read_resume(struct conn *c)
{
    c->read_paused = 0;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c);
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status != 0)
        return;

    struct conn *c = xmalloc(sizeof(*c));
    memset(c, 0, sizeof(*c));
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c);
}

static int parse_port(const char *s, int *port)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_storage addr;
    int port;
    int r;

    if ((argc != 3 && argc != 4) || parse_port(argv[2], &port) != 0) {
        fprintf(stderr,
                "usage: %s HOST PORT [BODY_FILE]   (for example: %s 127.0.0.1 8081)\n"
                "Answers every request with 200 and the body \"ok\\n\", or BODY_FILE's bytes.\n",
                argv[0], argv[0]);
        return 2;
    }
    if (argc == 4 && resp_body_load(argv[3]) != 0)
        return 2;
    if (strchr(argv[1], ':') != NULL)
        r = uv_ip6_addr(argv[1], port, (struct sockaddr_in6 *)&addr);
    else
        r = uv_ip4_addr(argv[1], port, (struct sockaddr_in *)&addr);
    if (r != 0) {
        fprintf(stderr, "ceiling: bad address '%s': %s\n", argv[1], uv_strerror(r));
        return 2;
    }

    signal(SIGPIPE, SIG_IGN); /* a client gone mid-write is an error code, not a kill */
    resp_blocks_build();
    llhttp_settings_init(&parser_settings);
    parser_settings.on_message_complete = on_message_complete;

    loop = uv_default_loop();
    uv_tcp_init(loop, &server);
    r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&server, LISTEN_BACKLOG, on_connection);
    if (r != 0) {
        fprintf(stderr, "ceiling: cannot listen on %s port %d: %s\n", argv[1], port,
                uv_strerror(r));
        return 1;
    }
    fprintf(stderr, "ceiling: listening on %s port %d\n", argv[1], port);
    return uv_run(loop, UV_RUN_DEFAULT);
}
