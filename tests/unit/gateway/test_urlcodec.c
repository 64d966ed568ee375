/* Unit tests for src/gateway/http/urlcodec.c: percent-decoding, form parsing,
 * kv lookup, target splitting and cookie lookup, with normal and malformed
 * input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gateway/http/urlcodec.h"

static int setup(void **state)
{
    struct arena *a = test_malloc(sizeof(*a));
    arena_init(a);
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    struct arena *a = *state;
    arena_reset(a);
    test_free(a);
    return 0;
}

static void assert_span(struct span s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.p, want, s.len);
}

static void test_decode_plain(void **state)
{
    struct span out;
    assert_int_equal(url_decode(*state, SPAN_LIT("hello"), false, &out), OG_OK);
    assert_span(out, "hello");
    assert_int_equal(out.p[out.len], '\0');
}

static void test_decode_escapes(void **state)
{
    struct span out;
    assert_int_equal(url_decode(*state, SPAN_LIT("a%20b%2Fc%2fd%C3%A9"), false, &out), OG_OK);
    assert_span(out, "a b/c/d\xc3\xa9");
    assert_int_equal(out.p[out.len], '\0');
}

static void test_decode_plus(void **state)
{
    struct span out;
    assert_int_equal(url_decode(*state, SPAN_LIT("a+b%2B"), true, &out), OG_OK);
    assert_span(out, "a b+");
    assert_int_equal(url_decode(*state, SPAN_LIT("a+b"), false, &out), OG_OK);
    assert_span(out, "a+b");
}

static void test_decode_empty(void **state)
{
    struct span out;
    assert_int_equal(url_decode(*state, SPAN_LIT(""), true, &out), OG_OK);
    assert_int_equal(out.len, 0);
    assert_non_null(out.p);
    assert_int_equal(out.p[0], '\0');
}

static void test_decode_bad(void **state)
{
    struct span out;
    const char *bad[] = {"%", "%4", "a%zz", "%g0", "%0g", "abc%", "ab%2", "%%41"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(url_decode(*state, span_cstr(bad[i]), true, &out), OG_ERR_INVALID);
        assert_null(out.p);
    }
}

static void test_decode_nul(void **state)
{
    struct span out;
    assert_int_equal(url_decode(*state, SPAN_LIT("a%00b"), false, &out), OG_ERR_INVALID);
    assert_int_equal(url_decode(*state, span_make("a\0b", 3), false, &out), OG_ERR_INVALID);
}

static void test_decode_not_terminated_input(void **state)
{
    /* The span is a window into a bigger buffer: nothing past len is read. */
    const char buf[] = "ab%41XYZ";
    struct span out;
    assert_int_equal(url_decode(*state, span_make(buf, 5), false, &out), OG_OK);
    assert_span(out, "abA");
    assert_int_equal(url_decode(*state, span_make(buf, 4), false, &out), OG_ERR_INVALID);
}

static void test_form_basic(void **state)
{
    struct kv_list l;
    assert_int_equal(form_parse(*state, SPAN_LIT("code=123456&csrf=a%2Bb&name=J+Doe"), 10, &l),
                     OG_OK);
    assert_int_equal(l.count, 3);
    assert_span(l.items[0].key, "code");
    assert_span(l.items[0].value, "123456");
    struct span v;
    assert_true(kv_get(&l, "csrf", &v));
    assert_span(v, "a+b");
    assert_true(kv_get(&l, "name", &v));
    assert_span(v, "J Doe");
    assert_int_equal(v.p[v.len], '\0');
    assert_false(kv_get(&l, "nope", &v));
    assert_false(kv_get(&l, "Code", &v));
}

static void test_form_edge_pairs(void **state)
{
    struct kv_list l;
    assert_int_equal(form_parse(*state, SPAN_LIT("&flag&&a=&=x&b=1=2&"), 10, &l), OG_OK);
    assert_int_equal(l.count, 4);
    assert_span(l.items[0].key, "flag");
    assert_span(l.items[0].value, "");
    assert_span(l.items[1].key, "a");
    assert_span(l.items[1].value, "");
    assert_span(l.items[2].key, "");
    assert_span(l.items[2].value, "x");
    assert_span(l.items[3].key, "b");
    assert_span(l.items[3].value, "1=2");
}

static void test_form_first_value_wins(void **state)
{
    struct kv_list l;
    assert_int_equal(form_parse(*state, SPAN_LIT("a=1&a=2"), 10, &l), OG_OK);
    struct span v;
    assert_true(kv_get(&l, "a", &v));
    assert_span(v, "1");
}

static void test_form_encoded_key(void **state)
{
    struct kv_list l;
    assert_int_equal(
        form_parse(*state, SPAN_LIT("redirect%5Furi=https%3A%2F%2Fa.example%2Fcb"), 10, &l), OG_OK);
    struct span v;
    assert_true(kv_get(&l, "redirect_uri", &v));
    assert_span(v, "https://a.example/cb");
}

static void test_form_empty(void **state)
{
    struct kv_list l;
    assert_int_equal(form_parse(*state, SPAN_LIT(""), 10, &l), OG_OK);
    assert_int_equal(l.count, 0);
    assert_null(l.items);
    assert_int_equal(form_parse(*state, SPAN_NULL, 10, &l), OG_OK);
    assert_int_equal(l.count, 0);
    assert_int_equal(form_parse(*state, SPAN_LIT("&&&"), 0, &l), OG_OK);
    assert_int_equal(l.count, 0);
    struct span v;
    assert_false(kv_get(&l, "a", &v));
}

static void test_form_max_pairs(void **state)
{
    struct kv_list l;
    assert_int_equal(form_parse(*state, SPAN_LIT("a=1&b=2&c=3"), 3, &l), OG_OK);
    assert_int_equal(l.count, 3);
    assert_int_equal(form_parse(*state, SPAN_LIT("a=1&b=2&c=3&d=4"), 3, &l), OG_ERR_TOO_BIG);
    assert_int_equal(l.count, 0);
    assert_null(l.items);
    /* Empty pairs do not count toward the limit. */
    assert_int_equal(form_parse(*state, SPAN_LIT("a=1&&&b=2&"), 2, &l), OG_OK);
    assert_int_equal(l.count, 2);
    assert_int_equal(form_parse(*state, SPAN_LIT("a"), 0, &l), OG_ERR_TOO_BIG);
}

static void test_form_bad_escape(void **state)
{
    struct kv_list l;
    assert_int_equal(form_parse(*state, SPAN_LIT("a=1&b=%zz"), 10, &l), OG_ERR_INVALID);
    assert_int_equal(l.count, 0);
    assert_int_equal(form_parse(*state, SPAN_LIT("a%=1"), 10, &l), OG_ERR_INVALID);
    assert_int_equal(form_parse(*state, SPAN_LIT("a=%00"), 10, &l), OG_ERR_INVALID);
    assert_int_equal(form_parse(*state, SPAN_LIT("a=%4"), 10, &l), OG_ERR_INVALID);
}

static void test_split(void **state)
{
    (void)state;
    struct span path, query;
    url_split(SPAN_LIT("/authorize?client_id=x&state=y#frag"), &path, &query);
    assert_span(path, "/authorize");
    assert_span(query, "client_id=x&state=y");

    url_split(SPAN_LIT("/static/app.css"), &path, &query);
    assert_span(path, "/static/app.css");
    assert_null(query.p);
    assert_int_equal(query.len, 0);

    url_split(SPAN_LIT("/x?"), &path, &query);
    assert_span(path, "/x");
    assert_non_null(query.p);
    assert_int_equal(query.len, 0);

    url_split(SPAN_LIT("/x#a?b"), &path, &query);
    assert_span(path, "/x");
    assert_null(query.p);

    url_split(SPAN_LIT("/x?a=1?b=2"), &path, &query);
    assert_span(path, "/x");
    assert_span(query, "a=1?b=2");

    url_split(SPAN_LIT(""), &path, &query);
    assert_int_equal(path.len, 0);
    assert_int_equal(query.len, 0);

    url_split(SPAN_LIT("?q"), &path, &query);
    assert_int_equal(path.len, 0);
    assert_span(query, "q");
}

static void test_cookie(void **state)
{
    (void)state;
    struct span v;
    struct span h = SPAN_LIT("theme=dark; og_session=abc123;lang=zh-CN ;  empty=; q=\"quoted v\"");
    assert_true(cookie_get(h, "og_session", &v));
    assert_span(v, "abc123");
    assert_true(cookie_get(h, "theme", &v));
    assert_span(v, "dark");
    assert_true(cookie_get(h, "lang", &v));
    assert_span(v, "zh-CN");
    assert_true(cookie_get(h, "empty", &v));
    assert_int_equal(v.len, 0);
    assert_true(cookie_get(h, "q", &v));
    assert_span(v, "quoted v");
    assert_false(cookie_get(h, "session", &v));
    assert_false(cookie_get(h, "OG_SESSION", &v));
    assert_false(cookie_get(h, "", &v));
}

static void test_cookie_malformed(void **state)
{
    (void)state;
    struct span v = SPAN_LIT("untouched");
    assert_false(cookie_get(SPAN_LIT(""), "a", &v));
    assert_false(cookie_get(SPAN_NULL, "a", &v));
    assert_false(cookie_get(SPAN_LIT(";;;"), "a", &v));
    assert_false(cookie_get(SPAN_LIT("a"), "a", &v));
    assert_span(v, "untouched");
    /* A name that is only a suffix or prefix of another must not match. */
    assert_false(cookie_get(SPAN_LIT("xa=1; ab=2"), "a", &v));
    /* First match wins; a lone quote is kept as is. */
    assert_true(cookie_get(SPAN_LIT("junk; a=1; a=2"), "a", &v));
    assert_span(v, "1");
    assert_true(cookie_get(SPAN_LIT("a=\""), "a", &v));
    assert_span(v, "\"");
    assert_true(cookie_get(SPAN_LIT("a=x=y"), "a", &v));
    assert_span(v, "x=y");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decode_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_plus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_nul, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_not_terminated_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_edge_pairs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_first_value_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_encoded_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_max_pairs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_bad_escape, setup, teardown),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_cookie_malformed),
    };
    return cmocka_run_group_tests_name("urlcodec", tests, NULL, NULL);
}
