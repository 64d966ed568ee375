/* Route matching over the static table. Pure: no allocation, no I/O. */
#include "gateway/http/router.h"

#include <llhttp.h>
#include <stdio.h>

unsigned router_method_bit(int m)
{
    switch (m) {
    case HTTP_GET:
    case HTTP_HEAD: return ROUTE_GET;
    case HTTP_POST: return ROUTE_POST;
    case HTTP_PUT: return ROUTE_PUT;
    case HTTP_DELETE: return ROUTE_DELETE;
    case HTTP_PATCH: return ROUTE_PATCH;
    default: return 0;
    }
}

/* Matches one pattern against the path; captures into params. */
static bool pattern_match(const char *pat, struct span path, struct span *params,
                          size_t max_params, size_t *nparams)
{
    size_t pi = 0, si = 0;
    size_t n = 0;
    /* No strlen: most patterns part from the path within a few bytes, and
     * every request tries them in turn. */
    while (pat[pi]) {
        if (pat[pi] == '*' && pat[pi + 1] == '\0') {
            if (n < max_params)
                params[n] = span_make(path.p + si, path.len - si);
            n++;
            *nparams = n;
            return true;
        }
        if (pat[pi] == '{') {
            const char *close = strchr(pat + pi, '}');
            if (!close)
                return false;
            size_t start = si;
            while (si < path.len && path.p[si] != '/')
                si++;
            if (si == start)
                return false;
            if (n < max_params)
                params[n] = span_make(path.p + start, si - start);
            n++;
            pi = (size_t)(close - pat) + 1;
            continue;
        }
        if (si >= path.len || path.p[si] != pat[pi])
            return false;
        pi++;
        si++;
    }
    if (si != path.len)
        return false;
    *nparams = n;
    return true;
}

enum router_result router_match(const struct route *routes, size_t count, int method,
                                struct span path, int *index, struct span *params,
                                size_t max_params, size_t *param_count, unsigned *allowed)
{
    unsigned bit = router_method_bit(method);
    unsigned allow = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = 0;
        if (!pattern_match(routes[i].pattern, path, params, max_params, &n))
            continue;
        if (routes[i].methods & bit) {
            *index = (int)i;
            *param_count = n < max_params ? n : max_params;
            return ROUTER_MATCH;
        }
        allow |= routes[i].methods;
    }
    *index = -1;
    *param_count = 0;
    if (allow) {
        *allowed = allow;
        return ROUTER_METHOD_NOT_ALLOWED;
    }
    return ROUTER_NOT_FOUND;
}

void router_allow_header(unsigned methods, char *out, size_t outlen)
{
    static const struct {
        unsigned bit;
        const char *names;
    } order[] = {{ROUTE_GET, "GET, HEAD"},
                 {ROUTE_POST, "POST"},
                 {ROUTE_PUT, "PUT"},
                 {ROUTE_PATCH, "PATCH"},
                 {ROUTE_DELETE, "DELETE"}};
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
        if (!(methods & order[i].bit))
            continue;
        int w = snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", order[i].names);
        if (w < 0 || (size_t)w >= outlen - n)
            break;
        n += (size_t)w;
    }
}
