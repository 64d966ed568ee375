/* Helpers around http_respond: header lookup and addition, status texts,
 * dates, and the JSON and plain-text error answers every route shares. */
#include "core/log.h"
#include "gateway/http/http.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

bool http_header_get(const struct http_request *req, const char *name, struct span *value)
{
    struct span n = span_cstr(name);
    for (size_t i = 0; i < req->header_count; i++) {
        if (span_eq_nocase(req->headers[i].name, n)) {
            *value = req->headers[i].value;
            return true;
        }
    }
    return false;
}

static bool has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

void http_header_add(struct http_request *req, const char *name, const char *value)
{
    if (has_crlf(name) || has_crlf(value)) {
        log_error("response header dropped: CR or LF in it", "header", name);
        return;
    }
    struct buf *h = &req->resp_headers;
    if (buf_append_str(h, name) != OG_OK || buf_append(h, ": ", 2) != OG_OK ||
        buf_append_str(h, value) != OG_OK || buf_append(h, "\r\n", 2) != OG_OK)
        log_error("response headers too large", "header", name);
}

const char *http_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 423:
        return "Locked";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    }
    return "Unknown";
}

void http_date_format(int64_t t, char out[32])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char tmp[80];
    snprintf(tmp, sizeof(tmp), "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
    memcpy(out, tmp, 31);
    out[31] = '\0';
}

void http_respond_text(struct http_request *req, int status, const char *text)
{
    size_t n = strlen(text);
    char *body = arena_alloc(&req->arena, n + 2);
    memcpy(body, text, n);
    body[n] = '\n';
    body[n + 1] = '\0';
    http_respond(req, status, "text/plain; charset=utf-8", body, n + 1);
}

void http_respond_error_json(struct http_request *req, int status, const char *code,
                             const char *message)
{
    json_t *o = json_pack("{s:s, s:s}", "error", code, "message", message);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s) {
        http_respond(req, status, "application/json", s, strlen(s));
    } else {
        static const char fallback[] = "{\"error\":\"internal_error\"}";
        http_respond(req, status, "application/json", fallback, sizeof(fallback) - 1);
    }
    free(s);
    json_decref(o);
}

void http_respond_error(struct http_request *req, int status, const char *code, const char *message)
{
    if (span_starts_with(req->path, "/api/"))
        http_respond_error_json(req, status, code, message);
    else
        http_respond_text(req, status, message);
}

void http_page_headers(struct http_request *req)
{
    http_page_headers_to(req, NULL);
}

/* True for "scheme://host[:port]" with nothing that could end a CSP
 * source expression. */
static bool csp_origin_ok(const char *o)
{
    if (strncmp(o, "http://", 7) != 0 && strncmp(o, "https://", 8) != 0)
        return false;
    for (const char *c = o; *c; c++)
        if (*c <= ' ' || *c == ';' || *c == ',' || *c == '\'' || *c == '"' || *c == 0x7f)
            return false;
    return true;
}

void http_page_headers_to(struct http_request *req, const char *form_origin)
{
    /* Browsers apply form-action to the redirects after a form post too, so
     * a page whose form ends the flow must allow the app's origin. */
    char csp[512];
    snprintf(csp, sizeof(csp),
             "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
             "object-src 'none'; base-uri 'none'; form-action 'self'%s%s; "
             "frame-ancestors 'none'",
             form_origin && csp_origin_ok(form_origin) ? " " : "",
             form_origin && csp_origin_ok(form_origin) ? form_origin : "");
    http_header_add(req, "Content-Security-Policy", csp);
    http_header_add(req, "X-Frame-Options", "DENY");
    http_header_add(req, "Referrer-Policy", "no-referrer");
    http_header_add(req, "X-Content-Type-Options", "nosniff");
    http_header_add(req, "Cache-Control", "no-store");
}
