/* Fuzzes the HTTP/1.1 connection code (src/gateway/http/http_conn.c: llhttp
 * callbacks, limits, pipelining, keep-alive, answers) and whatever handlers
 * the requests reach, through a real loopback TCP connection: the first call
 * starts the real server (server_init) on 127.0.0.1:0 with a fresh data
 * directory in /dev/shm or /tmp and development settings, in this process's
 * own libuv loop. Each input is written whole by a client on the same loop,
 * which then half-closes and reads until the server closes; the loop runs
 * until the server has dropped the connection. No app is registered, so
 * authenticated API calls stop at client authentication.
 * Asserts: the server survives every input (no crash, sanitizer report or
 * hang), never leaves a connection open after the client's EOF, and answers
 * a request that is complete (the seeds' "GET /healthz" case) with a status
 * line. The data directory is removed at exit. */
#include "fuzz.h"

#include "core/config.h"
#include "core/log.h"
#include "gateway/server.h"

#include <ftw.h>
#include <unistd.h>

struct client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uv_shutdown_t shutdown;
    uv_buf_t out;
    char in[4096];
    size_t received; /* bytes read, all of them counted */
    char first[16];  /* the first bytes of the answer */
    bool closed;
};

static uv_loop_t loop;
static struct config cfg;
static struct server srv;
static char data_dir[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_data_dir(void)
{
    if (data_dir[0])
        nftw(data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void start_server(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(data_dir, sizeof(data_dir), "%s/otpgate-fuzz-XXXXXX", base);
    FUZZ_CHECK(mkdtemp(data_dir) != NULL);
    atexit(remove_data_dir);

    char dir_env[96];
    snprintf(dir_env, sizeof(dir_env), "OTPGATE_DATA_DIR=%s", data_dir);
    char *env[] = {dir_env,
                   "OTPGATE_LISTEN=127.0.0.1:0",
                   "OTPGATE_LOG=error",
                   "OTPGATE_DEV=on",
                   "OTPGATE_MAX_BODY_BYTES=4096",
                   "OTPGATE_MAX_HEADER_BYTES=2048",
                   NULL};
    char err[512];
    if (config_load(&cfg, NULL, env, err, sizeof(err)) != OG_OK) {
        fprintf(stderr, "fuzz_http: %s\n", err);
        abort();
    }
    log_set_level(cfg.log_level);
    FUZZ_CHECK(uv_loop_init(&loop) == 0);
    if (server_init(&srv, &loop, &cfg, err, sizeof(err)) != OG_OK) {
        fprintf(stderr, "fuzz_http: %s\n", err);
        abort();
    }
}

static void on_client_close(uv_handle_t *h)
{
    struct client *c = h->data;
    c->closed = true;
}

static void client_close(struct client *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_client_close);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct client *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->in, sizeof(c->in));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct client *c = stream->data;
    if (nread < 0) {
        client_close(c);
        return;
    }
    size_t n = (size_t)nread;
    if (c->received < sizeof(c->first) - 1) {
        size_t k = sizeof(c->first) - 1 - c->received;
        memcpy(c->first + c->received, buf->base, n < k ? n : k);
    }
    c->received += n;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req, (void)status;
}

static void on_write(uv_write_t *req, int status)
{
    struct client *c = req->data;
    if (status < 0) {
        client_close(c);
        return;
    }
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        client_close(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct client *c = req->data;
    if (status < 0) {
        client_close(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    c->write.data = c;
    if (c->out.len == 0) {
        on_write(&c->write, 0);
        return;
    }
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &c->out, 1, on_write) != 0)
        client_close(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv.loop)
        start_server();

    struct client c;
    memset(&c, 0, sizeof(c));
    /* libuv wants a non-const buffer; it only reads it. */
    char *copy = og_malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    c.out = uv_buf_init(copy, (unsigned)size);
    c.tcp.data = &c;
    c.connect.data = &c;
    FUZZ_CHECK(uv_tcp_init(&loop, &c.tcp) == 0);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", srv.bound_port, &addr);
    FUZZ_CHECK(uv_tcp_connect(&c.connect, &c.tcp, (const struct sockaddr *)&addr, on_connect) == 0);
    /* Until the client has seen the server close and the server has let
     * go of its side; a hang here is a finding (libFuzzer's -timeout). */
    while (!c.closed || srv.conn_count > 0)
        uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_NOWAIT); /* the server's close callbacks */

    static const char healthz[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    if (size >= sizeof(healthz) - 1 && memcmp(data, healthz, sizeof(healthz) - 1) == 0)
        FUZZ_CHECK(c.received > 0 && memcmp(c.first, "HTTP/1.1 200 ", 13) == 0);
    free(copy);
    return 0;
}
