/* The durable ceiling: a bare libuv + llhttp HTTP/1.1 server that does, for
 * every request, the least a durable one-time-code check must do — change
 * one row of a random user in SQLite — and answers only once that change is
 * committed with synchronous=FULL. Requests read in one loop iteration share
 * one COMMIT (a group commit, on the loop thread, after the reads), as
 * otpgate's do. It is the same-work reference for bench/run.sh's verify
 * targets: no authentication, JSON, code hashing, audit row or lockout —
 * what the durable write alone costs a straightforward server. (Its COMMIT
 * blocks the loop; otpgate's runs on a thread while the next batch is read,
 * so otpgate is not bound by this figure, only measured beside it.)
 *
 *   bench_durable HOST PORT DB_FILE [ROWS]
 *
 * DB_FILE is made (WAL, ROWS rows of ~70 bytes, default 160000: as many as
 * the bench's recovery codes) if it has no table yet. Every 200 answers
 * "ok\n"; a request whose update fails gets a 500 and the connection is
 * closed. SQLite checkpoints the WAL itself (every 1000 pages, on commit). */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* libuv's headers need POSIX types under -std=c11 */
#endif

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llhttp.h>
#include <sqlite3.h>
#include <uv.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define READ_BUF_SIZE  65536
#define LISTEN_BACKLOG 1024
#define DEFAULT_ROWS   160000

static const char RESP_OK[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                              "Content-Length: 3\r\n\r\nok\n";
static const char RESP_FAIL[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                                "Content-Length: 7\r\nConnection: close\r\n\r\nfailed\n";

/* One client connection; freed in on_close. */
struct conn {
    uv_tcp_t tcp;
    llhttp_t parser;
    size_t waiting;        /* answers parsed, waiting for the batch's COMMIT */
    unsigned failed : 1;   /* an update failed: answer 500 and close */
    unsigned in_batch : 1; /* on the batch list */
    unsigned closing : 1;
    struct conn *next_in_batch;
};

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_check_t committer;
static llhttp_settings_t parser_settings;
static char read_buf[READ_BUF_SIZE];
static sqlite3 *db;
static sqlite3_stmt *update_st;
static int64_t rows = DEFAULT_ROWS;
static int in_tx;          /* a batch's transaction is open */
static struct conn *batch; /* connections with answers waiting */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void) /* xorshift64: any spread of rows will do */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void on_close(uv_handle_t *h)
{
    struct conn *c = container_of(h, struct conn, tcp);
    if (!c->in_batch)
        free(c);
    else
        c->closing = 1; /* the batch frees it after its COMMIT */
}

static void conn_close(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_write(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static void conn_write(struct conn *c, const char *p, size_t len)
{
    uv_buf_t buf = uv_buf_init((char *)p, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    if (n == UV_EAGAIN)
        n = 0;
    if (n < 0 || (size_t)n == len)
        return;
    uv_write_t *w = malloc(sizeof(*w));
    buf = uv_buf_init((char *)p + n, (unsigned)(len - (size_t)n));
    if (w == NULL || uv_write(w, (uv_stream_t *)&c->tcp, &buf, 1, on_write) != 0) {
        free(w);
        conn_close(c);
    }
}

static int exec_sql(const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "durable: %s: %s\n", sql, err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

/* The request's durable work: one random row changed in the batch's
 * transaction. */
static int on_message_complete(llhttp_t *p)
{
    struct conn *c = container_of(p, struct conn, parser);
    if (!in_tx) {
        if (exec_sql("BEGIN") != 0)
            c->failed = 1;
        else
            in_tx = 1;
    }
    if (!c->failed) {
        sqlite3_bind_int64(update_st, 1, (int64_t)(next_random() % (uint64_t)rows) + 1);
        if (sqlite3_step(update_st) != SQLITE_DONE)
            c->failed = 1;
        sqlite3_reset(update_st);
    }
    c->waiting++;
    if (!c->in_batch) {
        c->in_batch = 1;
        c->next_in_batch = batch;
        batch = c;
    }
    return HPE_OK;
}

/* After each loop iteration's reads: one COMMIT (WAL write + fsync) for
 * every update of the iteration, then their answers. */
static void on_check(uv_check_t *h)
{
    (void)h;
    int ok = 1;
    if (in_tx) {
        ok = exec_sql("COMMIT") == 0;
        if (!ok)
            exec_sql("ROLLBACK");
        in_tx = 0;
    }
    while (batch != NULL) {
        struct conn *c = batch;
        batch = c->next_in_batch;
        c->in_batch = 0;
        if (c->closing) {
            free(c);
            continue;
        }
        if (!ok || c->failed) {
            conn_write(c, RESP_FAIL, sizeof(RESP_FAIL) - 1);
            conn_close(c);
        } else {
            for (; c->waiting > 0; c->waiting--)
                conn_write(c, RESP_OK, sizeof(RESP_OK) - 1);
        }
        c->waiting = 0;
    }
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
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread > 0 && llhttp_execute(&c->parser, buf->base, (size_t)nread) != HPE_OK)
        conn_close(c);
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status != 0)
        return;
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
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

/* Opens DB_FILE in WAL mode with synchronous=FULL and fills it once. */
static int db_open(const char *path)
{
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "durable: cannot open %s: %s\n", path, sqlite3_errmsg(db));
        return -1;
    }
    if (exec_sql("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                 "PRAGMA cache_size = -32768; "
                 "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, "
                 "hash BLOB NOT NULL, used_at INTEGER)") != 0)
        return -1;
    sqlite3_stmt *st = NULL;
    int64_t have = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        have = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (have == 0) {
        /* Rows like the bench's recovery codes: ten to a user, a 32-byte
         * hash and a 16-byte salt's worth of bytes. */
        if (exec_sql("BEGIN") != 0 ||
            sqlite3_prepare_v2(db, "INSERT INTO t (user_id, hash) VALUES (?, randomblob(48))", -1,
                               &st, NULL) != SQLITE_OK)
            return -1;
        for (int64_t i = 0; i < rows; i++) {
            sqlite3_bind_int64(st, 1, i / 10);
            if (sqlite3_step(st) != SQLITE_DONE) {
                fprintf(stderr, "durable: fill: %s\n", sqlite3_errmsg(db));
                return -1;
            }
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        if (exec_sql("COMMIT; PRAGMA wal_checkpoint(TRUNCATE)") != 0)
            return -1;
    } else {
        rows = have;
    }
    if (sqlite3_prepare_v2(db, "UPDATE t SET used_at = coalesce(used_at, 0) + 1 WHERE id = ?", -1,
                           &update_st, NULL) != SQLITE_OK) {
        fprintf(stderr, "durable: %s\n", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_storage addr;
    char *end;
    long port;
    int r;

    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s HOST PORT DB_FILE [ROWS]\n", argv[0]);
        return 2;
    }
    errno = 0;
    port = strtol(argv[2], &end, 10);
    if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "durable: bad port '%s'\n", argv[2]);
        return 2;
    }
    if (argc == 5) {
        rows = strtoll(argv[4], &end, 10);
        if (*end != '\0' || rows < 1) {
            fprintf(stderr, "durable: bad row count '%s'\n", argv[4]);
            return 2;
        }
    }
    if (strchr(argv[1], ':') != NULL)
        r = uv_ip6_addr(argv[1], (int)port, (struct sockaddr_in6 *)&addr);
    else
        r = uv_ip4_addr(argv[1], (int)port, (struct sockaddr_in *)&addr);
    if (r != 0) {
        fprintf(stderr, "durable: bad address '%s': %s\n", argv[1], uv_strerror(r));
        return 2;
    }
    if (db_open(argv[3]) != 0)
        return 1;

    signal(SIGPIPE, SIG_IGN);
    llhttp_settings_init(&parser_settings);
    parser_settings.on_message_complete = on_message_complete;
    loop = uv_default_loop();
    uv_check_init(loop, &committer);
    uv_check_start(&committer, on_check);
    uv_tcp_init(loop, &server);
    r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&server, LISTEN_BACKLOG, on_connection);
    if (r != 0) {
        fprintf(stderr, "durable: cannot listen on %s port %ld: %s\n", argv[1], port,
                uv_strerror(r));
        return 1;
    }
    fprintf(stderr, "durable: listening on %s port %ld, %lld rows in %s\n", argv[1], port,
            (long long)rows, argv[3]);
    return uv_run(loop, UV_RUN_DEFAULT);
}
