/* Starts and stops the gateway: master key, store, static cache, the
 * listening socket, signals and the timers that cut slow connections and
 * bound a graceful shutdown. Everything here runs on the loop thread. */
#include "gateway/server.h"

#include "core/brand.h"
#include "core/log.h"
#include "core/webauthn_ceremony.h"
#include "core/masterkey.h"
#include "core/authcodes.h"
#include "core/devices.h"
#include "core/mfa.h"
#include "core/sessions.h"
#include "core/signing_keys.h"
#include "gateway/admin_console.h"
#include "gateway/checkpoint.h"
#include "gateway/dbpool.h"
#include "gateway/http/http_conn.h"
#include "gateway/routes.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define READ_BUF_SIZE  65536
#define LISTEN_BACKLOG 1024

static void on_connection(uv_stream_t *listener, int status)
{
    struct server *s = container_of(listener, struct server, listener);
    if (status < 0) {
        log_warn("accept failed", "error", uv_strerror(status));
        return;
    }
    http_conn_accept(s);
}

static void on_sweep(uv_timer_t *t)
{
    struct server *s = container_of(t, struct server, sweep_timer);
    http_conn_sweep(s, uv_now(s->loop));
}

/* Old rows the rules no longer look at: sends older than a day (the
 * longest limit window) and challenges a day past their expiry. Runs
 * between iterations' batches, each DELETE its own transaction. */
int64_t server_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct store *server_db(struct server *s)
{
    struct store *w = dbpool_store();
    return w ? w : s->store;
}

struct appcache *server_apps(struct server *s)
{
    struct appcache *w = dbpool_apps();
    return w ? w : s->apps;
}

/* The prunes, each DELETE a transaction of its own, on whichever thread
 * may use db. */
static void housekeep(struct store *db)
{
    int64_t now = server_now_ms();
    sendlimits_prune(db, now);
    sessions_prune(db, now);
    devices_prune(db, now);
    authcodes_prune(db, now);
    signing_keys_prune(db, now);
    webauthn_challenges_prune(db, now);
    db_stmt *st = store_stmt(db, "DELETE FROM challenges WHERE expires_at < ?");
    if (st) {
        db_bind_int64(st, 1, now - 24LL * 3600 * 1000);
        db_step(st);
        db_reset(st);
    }
}

static void housekeep_work(struct dbpool_job *j)
{
    OG_UNUSED(j);
    housekeep(dbpool_store());
}

static void housekeep_done(struct dbpool_job *j)
{
    free(j);
}

static void on_housekeeping(uv_timer_t *t)
{
    struct server *s = container_of(t, struct server, housekeeping);
    if (s->pool) {
        struct dbpool_job *j = og_calloc(1, sizeof(*j));
        j->work = housekeep_work;
        j->done = housekeep_done;
        dbpool_submit(s, j);
        return;
    }
    if (!batch_idle(s))
        return; /* next time: these are transactions of their own */
    housekeep(s->store);
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Once shutting down and no connection is left, close the remaining
 * handles; uv_run then returns. */
static void maybe_finish(struct server *s)
{
    if (!s->shutting_down || s->conn_count > 0)
        return;
    close_handle((uv_handle_t *)&s->sig_term);
    close_handle((uv_handle_t *)&s->sig_int);
    close_handle((uv_handle_t *)&s->sig_hup);
    close_handle((uv_handle_t *)&s->sweep_timer);
    close_handle((uv_handle_t *)&s->shutdown_timer);
    close_handle((uv_handle_t *)&s->housekeeping);
    close_handle((uv_handle_t *)&s->turn_prepare);
    close_handle((uv_handle_t *)&s->turn_idle);
    dbpool_drain(s); /* requests still with a worker answer first */
    batch_close(s);
    delivery_close(s);
    dbpool_stop(s);
    /* An e-mail send stuck on a silent server cannot be interrupted on the
     * thread pool; do not wait for it. Its row stays in sending and is
     * resumed at the next start. */
    if (s->delivery.smtp_in_flight > 0) {
        char n[16];
        snprintf(n, sizeof(n), "%u", s->delivery.smtp_in_flight);
        log_warn("leaving e-mail sends in flight; they resume at the next start", "count", n);
        uv_stop(s->loop);
    }
}

void server_conn_closed(struct server *s)
{
    maybe_finish(s);
}

static void on_shutdown_timeout(uv_timer_t *t)
{
    struct server *s = container_of(t, struct server, shutdown_timer);
    char n[16];
    snprintf(n, sizeof(n), "%u", s->conn_count);
    log_warn("shutdown timeout: closing connections still open", "connections", n);
    admin_console_detach(s); /* sign-ins still being checked answer nobody */
    batch_flush(s);          /* nothing may wait for a commit on a closed conn */
    dbpool_drain(s);         /* nor for a worker */
    http_conn_close_all(s, true);
    maybe_finish(s);
}

void server_shutdown(struct server *s)
{
    if (s->shutting_down)
        return;
    s->shutting_down = true;
    log_info("shutting down: finishing requests in flight");
    if (s->listening) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->listening = false;
    }
    uv_timer_start(&s->shutdown_timer, on_shutdown_timeout, s->cfg->shutdown_timeout_ms, 0);
    http_conn_close_all(s, false);
    maybe_finish(s);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    if (signum == SIGHUP) {
        /* Log rotation: stderr appended to a file gets that path again. */
        int rc = log_reopen();
        if (rc == OG_OK)
            log_info("SIGHUP: log file reopened", "path", log_target());
        else if (rc == OG_ERR_NOT_FOUND)
            log_info("SIGHUP: logs go to a pipe or terminal, not a file: nothing to reopen");
        else
            log_error("SIGHUP: cannot reopen the log file", "path", log_target(), "error",
                      strerror(errno));
        return;
    }
    server_shutdown(s);
}

static int bind_listener(struct server *s, char *err, size_t errlen)
{
    const struct config *cfg = s->cfg;
    struct sockaddr_storage addr;
    int rc;
    if (strchr(cfg->listen_host, ':'))
        rc = uv_ip6_addr(cfg->listen_host, cfg->listen_port, (struct sockaddr_in6 *)&addr);
    else
        rc = uv_ip4_addr(cfg->listen_host, cfg->listen_port, (struct sockaddr_in *)&addr);
    if (rc == 0) {
        uv_tcp_init(s->loop, &s->listener);
        s->listening = true;
        rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    }
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
    if (rc != 0) {
        snprintf(err, errlen, "OTPGATE_LISTEN: cannot listen on %s: %s", cfg->listen,
                 uv_strerror(rc));
        return OG_ERR_IO;
    }
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len) == 0)
        s->bound_port =
            ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    return OG_OK;
}

/* The first token-signing key. Instances starting together on one new
 * PostgreSQL database may each try to make it; all but one then meet a
 * serialization failure, and find the key when they look again. */
static int ensure_signing_key(struct server *s)
{
    int rc = OG_ERR_BUSY;
    for (int run = 0; run < 10 && rc == OG_ERR_BUSY; run++) {
        if (run > 0) {
            struct timespec ts = {0, 50L * 1000 * 1000 * run};
            nanosleep(&ts, NULL);
        }
        rc = signing_keys_ensure(s->store, &s->keys, server_now_ms());
    }
    return rc;
}

static unsigned sweep_interval_ms(const struct config *cfg)
{
    unsigned t = cfg->request_timeout_ms < cfg->idle_timeout_ms ? cfg->request_timeout_ms
                                                                : cfg->idle_timeout_ms;
    t /= 4;
    return t < 50 ? 50 : t > 1000 ? 1000 : t;
}

static void server_release(struct server *s)
{
    dbpool_stop(s);
    checkpointer_stop(s);
    if (s->store)
        store_close(s->store);
    s->store = NULL;
    if (s->statics)
        static_cache_free(s->statics);
    s->statics = NULL;
    metrics_free(&s->metrics);
    http_conn_release(s);
    free(s->read_buf);
    s->read_buf = NULL;
    OPENSSL_cleanse(s->master_key, sizeof(s->master_key));
    keyring_wipe(&s->keys);
}

int server_init(struct server *s, uv_loop_t *loop, const struct config *cfg, char *err,
                size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->cfg = cfg;
    outbox_set_lease_ms(cfg->delivery_lease_ms);
    log_remember_target();
    metrics_init(&s->metrics, routes_table, routes_count);

    int rc = masterkey_load(cfg->data_dir, s->master_key, err, errlen);
    if (rc == OG_OK && keyring_derive(s->master_key, &s->keys) != OG_OK) {
        snprintf(err, errlen, "cannot derive keys from the master key");
        rc = OG_ERR_CRYPTO;
    }
    if (rc == OG_OK) {
        char path[4096];
        rc = config_store_target(cfg, path, sizeof(path));
        if (rc == OG_OK)
            rc = store_open(path, &s->store, err, errlen);
        else
            snprintf(err, errlen, "OTPGATE_DATA_DIR or OTPGATE_DATABASE_URL is too long");
        OPENSSL_cleanse(path, sizeof(path));
    }
    if (rc == OG_OK)
        rc = masterkey_check_store(s->store, &s->keys, err, errlen);
    if (rc == OG_OK && !cfg->database_url)
        rc = checkpointer_start(s, CHECKPOINT_SOFT_FRAMES, CHECKPOINT_HARD_FRAMES, err, errlen);
    if (rc == OG_OK && cfg->database_url)
        rc = dbpool_start(s, cfg->database_url, DBPOOL_WORKERS, err, errlen);
    if (rc == OG_OK && ensure_signing_key(s) != OG_OK) {
        snprintf(err, errlen, "cannot create or open the token-signing key");
        rc = OG_ERR_CRYPTO;
    }
    /* A logo uploaded before logos moved into the database: a failure
     * here leaves it served from its file, as before. */
    if (rc == OG_OK && brand_logo_adopt(s->store, cfg->data_dir, server_now_ms()) != OG_OK)
        log_warn("the uploaded logo could not be moved into the database", "error",
                 store_errmsg(s->store));
    if (rc == OG_OK)
        rc = static_cache_load(cfg->static_dir, &s->statics, err, errlen);
    if (rc == OG_OK && static_cache_count(s->statics) == 0)
        log_warn("no static files found", "dir", cfg->static_dir);
    if (rc == OG_OK) {
        s->read_buf_size = READ_BUF_SIZE;
        s->read_buf = og_malloc(READ_BUF_SIZE);
        rc = bind_listener(s, err, errlen);
    }
    if (rc != OG_OK) {
        if (s->listening) {
            uv_close((uv_handle_t *)&s->listener, NULL);
            uv_run(loop, UV_RUN_DEFAULT);
        }
        server_release(s);
        return rc;
    }

    uv_signal_init(loop, &s->sig_term);
    uv_signal_init(loop, &s->sig_int);
    uv_signal_init(loop, &s->sig_hup);
    s->sig_term.data = s->sig_int.data = s->sig_hup.data = s;
    uv_signal_start(&s->sig_term, on_signal, SIGTERM);
    uv_signal_start(&s->sig_int, on_signal, SIGINT);
    uv_signal_start(&s->sig_hup, on_signal, SIGHUP);
    rc = batch_init(s, err, errlen);
    if (rc == OG_OK)
        rc = delivery_init(s, err, errlen);
    if (rc != OG_OK) {
        batch_close(s);
        delivery_close(s);
        uv_close((uv_handle_t *)&s->listener, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        server_release(s);
        return rc;
    }
    http_conn_init(s);
    uv_timer_init(loop, &s->sweep_timer);
    uv_timer_init(loop, &s->shutdown_timer);
    unsigned every = sweep_interval_ms(cfg);
    uv_timer_start(&s->sweep_timer, on_sweep, every, every);
    uv_timer_init(loop, &s->housekeeping);
    uv_timer_start(&s->housekeeping, on_housekeeping, 1000, 10 * 60 * 1000);
    uv_unref((uv_handle_t *)&s->housekeeping);
    uv_unref((uv_handle_t *)&s->sig_hup);
    s->started_ms = uv_now(loop);
    return OG_OK;
}

int server_run(struct server *s)
{
    char port[8];
    snprintf(port, sizeof(port), "%d", s->bound_port);
    log_info("listening", "listen", s->cfg->listen, "port", port, "public_url", s->cfg->public_url,
             "dev_delivery", s->cfg->dev_enabled ? "on" : "off", "version", OTPGATE_VERSION);
    uv_run(s->loop, UV_RUN_DEFAULT);
    server_release(s);
    log_info("stopped");
    return 0;
}
