/* Fuzzes router_match (src/gateway/http/router.c) against the real route table
 * (src/gateway/routes.c) with a fuzzed method and path, as the connection
 * code calls it for every request: the first byte is the llhttp method
 * number (HTTP_GET is 1, HTTP_POST 3), the rest the raw path. Nothing is
 * dispatched; the handlers are only linked.
 * Asserts: a match names a route that allows the method, and putting the
 * captured parameters back into its pattern gives the path again ({name}
 * captures are non-empty and hold no '/'); no earlier route matches too; a
 * 405 comes with an Allow set that lacks the method and a header that fits. */
#include "fuzz.h"

#include "gateway/routes.h"

#include <llhttp.h>

/* Whether pattern with params substituted spells path. */
static bool rebuilds(const char *pattern, const struct span *params, size_t n, struct span path)
{
    size_t si = 0, k = 0;
    for (const char *p = pattern; *p;) {
        struct span piece;
        if (*p == '{' || (*p == '*' && p[1] == '\0')) {
            if (k == n)
                return false;
            piece = params[k++];
            if (*p == '{') {
                if (piece.len == 0 || memchr(piece.p, '/', piece.len))
                    return false;
                p = strchr(p, '}') + 1;
            } else {
                p++;
            }
        } else {
            piece = span_make(p, 1);
            p++;
        }
        if (piece.len > path.len - si || memcmp(path.p + si, piece.p, piece.len) != 0)
            return false;
        si += piece.len;
    }
    return k == n && si == path.len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int method = data[0];
    struct span path = span_make((const char *)data + 1, size - 1);
    struct span params[HTTP_MAX_PARAMS];
    int index = -2;
    size_t n = 99;
    unsigned allowed = 0;
    unsigned bit = router_method_bit(method);
    enum router_result rr = router_match(routes_table, routes_count, method, path, &index, params,
                                         HTTP_MAX_PARAMS, &n, &allowed);
    switch (rr) {
    case ROUTER_MATCH: {
        FUZZ_CHECK(index >= 0 && (size_t)index < routes_count && n <= HTTP_MAX_PARAMS);
        const struct route *r = &routes_table[index];
        FUZZ_CHECK(bit != 0 && (r->methods & bit));
        FUZZ_CHECK(rebuilds(r->pattern, params, n, path));
        /* The first route wins: none before it matches with this method. */
        for (int i = 0; i < index; i++) {
            int j = -2;
            size_t m = 0;
            unsigned a = 0;
            struct span ps[HTTP_MAX_PARAMS];
            enum router_result rr2 =
                router_match(routes_table + i, 1, method, path, &j, ps, HTTP_MAX_PARAMS, &m, &a);
            FUZZ_CHECK(rr2 != ROUTER_MATCH);
        }
        break;
    }
    case ROUTER_METHOD_NOT_ALLOWED: {
        FUZZ_CHECK(index == -1 && n == 0 && allowed != 0 && !(allowed & bit));
        char allow[64];
        router_allow_header(allowed, allow, sizeof(allow));
        FUZZ_CHECK(allow[0] != '\0' && strlen(allow) < sizeof(allow));
        break;
    }
    case ROUTER_NOT_FOUND:
        FUZZ_CHECK(index == -1 && n == 0);
        break;
    }
    return 0;
}
