/* The HTTP/1.1 request as handlers see it, and the calls that answer it.
 * A handler is called once per request and must answer exactly once, now or
 * later on the loop thread (http_respond*). Everything a request points to
 * lives in its arena and is freed after the answer is queued. */
#ifndef OTPGATE_HTTP_H
#define OTPGATE_HTTP_H

#include "core/arena.h"
#include "core/buf.h"
#include "core/common.h"

#include <stdint.h>

#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_PARAMS  4

struct http_conn;
struct server;
struct route;

struct http_header {
    struct span name;
    struct span value;
};

struct http_request {
    struct http_conn *conn;
    struct server *srv;
    struct arena arena;

    int method;      /* llhttp_method_t */
    bool head;       /* HEAD: answered like GET, without the body */
    bool keep_alive; /* the connection stays open after the answer */
    bool expect_continue;
    struct span target; /* raw request target */
    struct span path;   /* raw path, still percent-encoded */
    struct span query;  /* without '?' */
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t header_count;
    struct buf body; /* decoded (chunked or not), capped at the body limit */

    const struct route *route;           /* NULL until routed */
    int route_index;                     /* index in the route table, -1 when unmatched */
    struct span params[HTTP_MAX_PARAMS]; /* {name} segments, raw */
    size_t param_count;

    uint64_t start_ns; /* uv_hrtime() when the request was complete */
    /* The client: the peer, or what trusted proxies say (forwarded.h). */
    char client_ip[46];
    /* X-Forwarded-For or Forwarded came from a peer that is not a trusted
     * proxy, and was not believed. */
    bool forwarded_ignored;

    /* answer being built */
    struct buf resp_headers; /* extra header lines, each ending in CRLF */
    bool responded;
    /* The commits this answer may tell of are durable: send it (batch.h). */
    bool durable;
};

/* First header with this name (case-insensitive), or false. */
bool http_header_get(const struct http_request *req, const char *name, struct span *value);

/* Adds a response header line; name and value must not contain CR or LF
 * (such a header is dropped and logged). Call before http_respond*. */
void http_header_add(struct http_request *req, const char *name, const char *value);

/* Answers with status, content type and body (copied). For HEAD the body is
 * left out but Content-Length kept. Exactly one http_respond* per request. */
void http_respond(struct http_request *req, int status, const char *content_type, const void *body,
                  size_t len);
/* As http_respond, but body is not copied: it is written from where it is,
 * so it must outlive the connection (the static file cache does). */
void http_respond_borrowed(struct http_request *req, int status, const char *content_type,
                           const void *body, size_t len);
void http_respond_text(struct http_request *req, int status, const char *text);
/* Answers JSON {"error": code, "message": message}. */
void http_respond_error_json(struct http_request *req, int status, const char *code,
                             const char *message);
/* Answers an error as JSON for /api/ paths and as plain text elsewhere. */
void http_respond_error(struct http_request *req, int status, const char *code,
                        const char *message);

/* Adds the headers every HTML page carries (SPEC §8): CSP without
 * unsafe-inline, X-Frame-Options DENY, Referrer-Policy no-referrer, nosniff. */
void http_page_headers(struct http_request *req);
/* The same, with form_origin ("https://app.example.com", or NULL) also
 * allowed as a form target: the flow's last form redirects there. */
void http_page_headers_to(struct http_request *req, const char *form_origin);

const char *http_status_text(int status);
/* Writes the IMF-fixdate of t into out (at least 30 bytes). */
void http_date_format(int64_t t, char out[32]);

#endif
