/* Router: literal, {param} and trailing * patterns; 404 against 405 with
 * the Allow list; HEAD served by GET routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <llhttp.h>

#include "gateway/http/router.h"

static void h(struct http_request *req)
{
    (void)req;
}

static const struct route table[] = {
    {ROUTE_GET, "/", h, 0},
    {ROUTE_GET, "/healthz", h, 0},
    {ROUTE_POST, "/api/v1/users/{sub}/factors", h, 0},
    {ROUTE_GET, "/api/v1/users/{sub}/factors", h, 0},
    {ROUTE_DELETE, "/api/v1/users/{sub}/factors/{id}", h, 0},
    {ROUTE_PUT, "/api/v1/users/{sub}/preferred", h, 0},
    {ROUTE_GET, "/static/*", h, 0},
};

static enum router_result match(int method, const char *path, int *index, struct span *params,
                                size_t *n, unsigned *allowed)
{
    return router_match(table, sizeof(table) / sizeof(table[0]), method, span_cstr(path), index,
                        params, 4, n, allowed);
}

static void test_literal(void **state)
{
    (void)state;
    int i;
    struct span p[4];
    size_t n;
    unsigned allowed = 0;
    assert_int_equal(match(HTTP_GET, "/", &i, p, &n, &allowed), ROUTER_MATCH);
    assert_int_equal(i, 0);
    assert_int_equal(match(HTTP_GET, "/healthz", &i, p, &n, &allowed), ROUTER_MATCH);
    assert_int_equal(i, 1);
    assert_int_equal(n, 0);
    assert_int_equal(match(HTTP_GET, "/healthz/", &i, p, &n, &allowed), ROUTER_NOT_FOUND);
    assert_int_equal(match(HTTP_GET, "/health", &i, p, &n, &allowed), ROUTER_NOT_FOUND);
    assert_int_equal(match(HTTP_GET, "", &i, p, &n, &allowed), ROUTER_NOT_FOUND);
    assert_int_equal(i, -1);
}

static void test_params(void **state)
{
    (void)state;
    int i;
    struct span p[4];
    size_t n;
    unsigned allowed = 0;
    assert_int_equal(match(HTTP_DELETE, "/api/v1/users/alice%40x/factors/f_12", &i, p, &n,
                           &allowed),
                     ROUTER_MATCH);
    assert_int_equal(i, 4);
    assert_int_equal(n, 2);
    assert_true(span_eq_cstr(p[0], "alice%40x"));
    assert_true(span_eq_cstr(p[1], "f_12"));
    /* empty segment never matches a parameter */
    assert_int_equal(match(HTTP_DELETE, "/api/v1/users//factors/f", &i, p, &n, &allowed),
                     ROUTER_NOT_FOUND);
    /* a parameter never spans a slash */
    assert_int_equal(match(HTTP_PUT, "/api/v1/users/a/b/preferred", &i, p, &n, &allowed),
                     ROUTER_NOT_FOUND);
}

static void test_same_pattern_two_methods(void **state)
{
    (void)state;
    int i;
    struct span p[4];
    size_t n;
    unsigned allowed = 0;
    assert_int_equal(match(HTTP_POST, "/api/v1/users/u/factors", &i, p, &n, &allowed),
                     ROUTER_MATCH);
    assert_int_equal(i, 2);
    assert_int_equal(match(HTTP_GET, "/api/v1/users/u/factors", &i, p, &n, &allowed),
                     ROUTER_MATCH);
    assert_int_equal(i, 3);
}

static void test_method_not_allowed(void **state)
{
    (void)state;
    int i;
    struct span p[4];
    size_t n;
    unsigned allowed = 0;
    assert_int_equal(match(HTTP_PATCH, "/api/v1/users/u/factors", &i, p, &n, &allowed),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(allowed, ROUTE_GET | ROUTE_POST);
    char allow[64];
    router_allow_header(allowed, allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD, POST");
    assert_int_equal(match(HTTP_POST, "/healthz", &i, p, &n, &allowed),
                     ROUTER_METHOD_NOT_ALLOWED);
    /* methods no route can have are refused with the Allow list too */
    assert_int_equal(match(HTTP_OPTIONS, "/healthz", &i, p, &n, &allowed),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(allowed, ROUTE_GET);
}

static void test_head_and_wildcard(void **state)
{
    (void)state;
    int i;
    struct span p[4];
    size_t n;
    unsigned allowed = 0;
    assert_int_equal(match(HTTP_HEAD, "/healthz", &i, p, &n, &allowed), ROUTER_MATCH);
    assert_int_equal(match(HTTP_GET, "/static/css/otpgate.css", &i, p, &n, &allowed),
                     ROUTER_MATCH);
    assert_int_equal(i, 6);
    assert_true(span_eq_cstr(p[0], "css/otpgate.css"));
    assert_int_equal(match(HTTP_GET, "/static/", &i, p, &n, &allowed), ROUTER_MATCH);
    assert_int_equal(p[0].len, 0);
    assert_int_equal(match(HTTP_GET, "/staticx", &i, p, &n, &allowed), ROUTER_NOT_FOUND);
}

static void test_method_bits(void **state)
{
    (void)state;
    assert_int_equal(router_method_bit(HTTP_GET), ROUTE_GET);
    assert_int_equal(router_method_bit(HTTP_HEAD), ROUTE_GET);
    assert_int_equal(router_method_bit(HTTP_DELETE), ROUTE_DELETE);
    assert_int_equal(router_method_bit(HTTP_CONNECT), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_same_pattern_two_methods),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_head_and_wildcard),
        cmocka_unit_test(test_method_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
