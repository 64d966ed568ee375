/* The capped buffer and the request arena: caps hold, alignment holds,
 * reset frees and the arena is usable again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"

static void test_buf_cap(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_append_str(&b, "hello"), OG_OK);
    assert_int_equal(buf_append_str(&b, "world"), OG_OK);
    assert_int_equal(buf_append_str(&b, "!"), OG_ERR_TOO_BIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "helloworld");
    buf_consume(&b, 5);
    assert_string_equal(b.data, "world");
    assert_int_equal(buf_printf(&b, "%d", 12345), OG_OK);
    assert_string_equal(b.data, "world12345");
    assert_int_equal(buf_printf(&b, "%d", 1), OG_ERR_TOO_BIG);
    size_t n;
    char *p = buf_detach(&b, &n);
    assert_int_equal(n, 10);
    assert_null(b.data);
    free(p);
    buf_free(&b);
}

static void test_buf_append_u64(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(buf_append_u64(&b, 0), OG_OK);
    assert_int_equal(buf_append_str(&b, " "), OG_OK);
    assert_int_equal(buf_append_u64(&b, 200), OG_OK);
    assert_int_equal(buf_append_str(&b, " "), OG_OK);
    assert_int_equal(buf_append_u64(&b, UINT64_MAX), OG_OK);
    assert_string_equal(b.data, "0 200 18446744073709551615");
    buf_free(&b);
    buf_init(&b, 3);
    assert_int_equal(buf_append_u64(&b, 1234), OG_ERR_TOO_BIG);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_arena(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 1; i < 3000; i += 7) {
            char *p = arena_alloc(&a, i);
            assert_int_equal((uintptr_t)p % 16, 0);
            memset(p, 'x', i);
        }
        char *big = arena_alloc(&a, 100000);
        memset(big, 0, 100000);
        char *s = arena_printf(&a, "%s-%d", "abc", 42);
        assert_string_equal(s, "abc-42");
        assert_string_equal(arena_strndup(&a, "hello", 4), "hell");
        arena_reset(&a);
    }
}

static void test_parse_int(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(og_parse_int(SPAN_LIT("42"), 0, 100, &v), OG_OK);
    assert_int_equal(v, 42);
    assert_int_equal(og_parse_int(SPAN_LIT("-1"), 0, 100, &v), OG_ERR_INVALID);
    assert_int_equal(og_parse_int(SPAN_LIT("101"), 0, 100, &v), OG_ERR_INVALID);
    assert_int_equal(og_parse_int(SPAN_LIT("4x"), 0, 100, &v), OG_ERR_INVALID);
    assert_int_equal(og_parse_int(SPAN_LIT(" 4"), 0, 100, &v), OG_ERR_INVALID);
    assert_int_equal(og_parse_int(SPAN_LIT(""), 0, 100, &v), OG_ERR_INVALID);
    assert_int_equal(og_parse_int(SPAN_LIT("99999999999999999999"), 0, 100, &v), OG_ERR_INVALID);
}

static void test_span(void **state)
{
    (void)state;
    assert_true(span_eq_nocase(SPAN_LIT("Content-Length"), SPAN_LIT("content-length")));
    assert_false(span_eq_nocase(SPAN_LIT("Content-Length"), SPAN_LIT("content-lengt")));
    assert_true(span_starts_with(SPAN_LIT("/api/v1"), "/api/"));
    assert_false(span_starts_with(SPAN_LIT("/ap"), "/api/"));
}

static void test_ip_limit_key(void **state)
{
    (void)state;
    const struct {
        const char *ip, *key;
    } rows[] = {
        {"203.0.113.7", "203.0.113.7"},           {"::ffff:203.0.113.7", "203.0.113.7"},
        {"2001:DB8::1", "2001:db8::/64"},         {"2001:db8::dead:beef:1:2", "2001:db8::/64"},
        {"2001:db8:0:1::1", "2001:db8:0:1::/64"}, {"::1", "::/64"},
        {"not an address", "not an address"},     {"", ""},
    };
    char out[OG_IP_KEY_LEN];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        og_ip_limit_key(rows[i].ip, out, sizeof(out));
        assert_string_equal(out, rows[i].key);
    }
    og_ip_limit_key(NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_cap), cmocka_unit_test(test_buf_append_u64),
        cmocka_unit_test(test_arena),   cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_span),    cmocka_unit_test(test_ip_limit_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
