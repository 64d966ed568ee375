/* Matches a method and a raw path against one static route table (Lwan's
 * url_map). Patterns are literal segments, "{name}" segments that capture
 * one non-empty segment, and a final "*" that captures the rest. The router
 * tells 404 (no pattern matches) from 405 (a pattern matches, not the
 * method) and gives the Allow list for the latter. */
#ifndef OTPGATE_ROUTER_H
#define OTPGATE_ROUTER_H

#include "core/common.h"
#include "gateway/http/http.h"

/* Method bits; HEAD is served by GET routes. */
enum {
    ROUTE_GET = 1u << 0,
    ROUTE_POST = 1u << 1,
    ROUTE_PUT = 1u << 2,
    ROUTE_DELETE = 1u << 3,
    ROUTE_PATCH = 1u << 4,
};

/* Route flags for handlers' needs, checked before the handler runs. */
enum {
    ROUTE_CLIENT_AUTH = 1u << 0, /* HTTP Basic client credentials */
    ROUTE_CSRF = 1u << 1,        /* form posts carry a CSRF token */
    ROUTE_NO_METRICS = 1u << 2,
    ROUTE_NO_STORE = 1u << 3, /* never touches the database: runs during a commit */
};

typedef void (*http_handler)(struct http_request *req);

struct route {
    unsigned methods;
    const char *pattern;
    http_handler handler;
    unsigned flags;
};

enum router_result { ROUTER_MATCH, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED };

/* Method bit for an llhttp method; 0 for methods no route can have.
 * HEAD maps to ROUTE_GET. */
unsigned router_method_bit(int llhttp_method);

/* Finds the route for method and path among routes[0..count). On a match,
 * sets *index and fills params (up to max_params, spans into path). On 405,
 * *allowed gets the union of the methods of the routes whose pattern
 * matches. */
enum router_result router_match(const struct route *routes, size_t count, int llhttp_method,
                                struct span path, int *index, struct span *params,
                                size_t max_params, size_t *param_count, unsigned *allowed);

/* Writes an Allow header value ("GET, HEAD, POST") for a method mask. */
void router_allow_header(unsigned methods, char *out, size_t outlen);

#endif
