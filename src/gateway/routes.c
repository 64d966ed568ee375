/* The route table and the operational handlers: the landing page, health,
 * readiness, metrics and static files. Later features add their rows here. */
#include "gateway/routes.h"

#include "core/log.h"
#include "gateway/server.h"
#include "gateway/static_files.h"
#include "ui/ui.h"

#include <stdio.h>
#include <stdlib.h>

static void handle_home(struct http_request *req)
{
    const struct config *cfg = req->srv->cfg;
    struct buf page;
    buf_init(&page, 1u << 20);
    ui_page_home(&page, "otpgate", cfg->public_url, cfg->dev_enabled);
    http_page_headers(req);
    http_respond(req, 200, "text/html; charset=utf-8", page.data, page.len);
    buf_free(&page);
}

static void handle_healthz(struct http_request *req)
{
    http_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

static void handle_readyz(struct http_request *req)
{
    struct server *s = req->srv;
    http_header_add(req, "Cache-Control", "no-store");
    if (s->shutting_down) {
        http_respond_text(req, 503, "shutting down");
        return;
    }
    if (store_check_writable(s->store) != OG_OK) {
        log_error("readiness check: database not writable");
        http_respond_text(req, 503, "database not writable");
        return;
    }
    http_respond(req, 200, "text/plain; charset=utf-8", "ready\n", 6);
}

static void handle_metrics(struct http_request *req)
{
    struct server *s = req->srv;
    struct buf out;
    buf_init(&out, 16u << 20);
    metrics_render(&s->metrics, &out);
    buf_printf(&out,
               "# HELP otpgate_open_connections Client connections open now.\n"
               "# TYPE otpgate_open_connections gauge\notpgate_open_connections %u\n"
               "# HELP otpgate_uptime_seconds Seconds since the server started.\n"
               "# TYPE otpgate_uptime_seconds gauge\notpgate_uptime_seconds %.3f\n"
               "# HELP otpgate_build_info Version of the running binary.\n"
               "# TYPE otpgate_build_info gauge\notpgate_build_info{version=\"%s\"} 1\n",
               s->conn_count, (double)(uv_now(s->loop) - s->started_ms) / 1000.0,
               OTPGATE_VERSION);
    http_header_add(req, "Cache-Control", "no-store");
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    buf_free(&out);
}

static void handle_static(struct http_request *req)
{
    char clean[1024];
    if (req->param_count < 1 ||
        static_path_clean(req->params[0], clean, sizeof(clean)) != OG_OK) {
        http_respond_text(req, 400, "bad static file path");
        return;
    }
    const struct static_file *f = static_cache_find(req->srv->statics, span_cstr(clean));
    if (!f) {
        http_respond_text(req, 404, "no such file");
        return;
    }
    /* The gzip body is a different representation: it has its own ETag. */
    struct span ae;
    bool gz = f->gz && http_header_get(req, "Accept-Encoding", &ae) && static_accepts_gzip(ae);
    const char *etag = gz ? f->gz_etag : f->etag;
    http_header_add(req, "ETag", etag);
    http_header_add(req, "Last-Modified", f->last_modified);
    http_header_add(req, "Cache-Control", "public, max-age=3600");
    http_header_add(req, "X-Content-Type-Options", "nosniff");
    if (f->gz)
        http_header_add(req, "Vary", "Accept-Encoding");
    struct span inm;
    if (http_header_get(req, "If-None-Match", &inm) && static_etag_matches(inm, etag)) {
        http_respond(req, 304, NULL, NULL, 0);
        return;
    }
    if (gz) {
        http_header_add(req, "Content-Encoding", "gzip");
        http_respond(req, 200, f->mime, f->gz, f->gz_len);
        return;
    }
    http_respond(req, 200, f->mime, f->data, f->len);
}

const struct route routes_table[] = {
    {ROUTE_GET, "/", handle_home, 0},
    {ROUTE_GET, "/healthz", handle_healthz, 0},
    {ROUTE_GET, "/readyz", handle_readyz, 0},
    {ROUTE_GET, "/metrics", handle_metrics, 0},
    {ROUTE_GET, "/static/*", handle_static, 0},
};

const size_t routes_count = ARRAY_SIZE(routes_table);
