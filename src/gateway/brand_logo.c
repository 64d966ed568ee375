/* Serves the uploaded logo. The meta value brand_logo ("/brand/logo?v=<16
 * hex>") names its version (brand_logos, or an older upload's file); one
 * copy of it stays in memory per data directory and version, so a page
 * view costs a meta read, not a read of the logo. */
#include "gateway/brand_logo.h"

#include "core/brand.h"
#include "core/log.h"
#include "gateway/server.h"
#include "gateway/http/static_files.h"
#include "gateway/http/urlcodec.h"

#include <stdio.h>
#include <stdlib.h>

/* The logo last read. On PostgreSQL the database workers serve it side by
 * side: mu guards it, and is held while the answer copies it. */
static uv_mutex_t mu;
static uv_once_t mu_once = UV_ONCE_INIT;
static void mu_init(void)
{
    if (uv_mutex_init(&mu) != 0)
        abort();
}

static struct {
    char dir[4096];
    char v[BRAND_VERSION_LEN];
    uint8_t *data;
    size_t len;
    const char *mime;
} cache;

void brand_logo_serve(struct http_request *req)
{
    struct server *s = req->srv;
    char url[BRAND_VALUE_LEN], v[BRAND_VERSION_LEN];
    if (brand_get(server_db(s), "logo", url, sizeof(url)) != OG_OK || !brand_logo_version(url, v)) {
        http_header_add(req, "Cache-Control", "no-cache");
        http_respond_text(req, 404, "no uploaded logo");
        return;
    }
    uv_once(&mu_once, mu_init);
    uv_mutex_lock(&mu);
    if (!cache.data || strcmp(cache.v, v) != 0 || strcmp(cache.dir, s->cfg->data_dir) != 0) {
        uint8_t *data;
        size_t len;
        const char *mime;
        int rc = brand_logo_read(server_db(s), s->cfg->data_dir, v, &data, &len, &mime);
        if (rc != OG_OK) {
            uv_mutex_unlock(&mu);
            log_warn("the uploaded logo cannot be served", "version", v, "error", og_strerror(rc));
            http_header_add(req, "Cache-Control", "no-cache");
            http_respond_text(req, 404, "no uploaded logo");
            return;
        }
        free(cache.data);
        cache.data = data;
        cache.len = len;
        cache.mime = mime;
        snprintf(cache.v, sizeof(cache.v), "%s", v);
        snprintf(cache.dir, sizeof(cache.dir), "%s", s->cfg->data_dir);
    }
    /* The pages ask for the URL with the version: that one never changes. */
    struct kv_list q;
    struct span asked;
    bool current = req->query.p && form_parse(&req->arena, req->query, 8, &q) == OG_OK &&
                   kv_get(&q, "v", &asked) && span_eq_cstr(asked, v);
    char etag[BRAND_VERSION_LEN + 2];
    snprintf(etag, sizeof(etag), "\"%s\"", v);
    http_header_add(req, "ETag", etag);
    http_header_add(req, "Cache-Control",
                    current ? "public, max-age=31536000, immutable" : "no-cache");
    http_header_add(req, "X-Content-Type-Options", "nosniff");
    http_header_add(req, "Content-Security-Policy", "default-src 'none'; sandbox");
    struct span inm;
    if (http_header_get(req, "If-None-Match", &inm) && static_etag_matches(inm, etag))
        http_respond(req, 304, NULL, NULL, 0);
    else
        http_respond(req, 200, cache.mime, cache.data, cache.len); /* a copy */
    uv_mutex_unlock(&mu);
}
