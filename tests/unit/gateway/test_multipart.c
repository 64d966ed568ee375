/* Unit tests of src/gateway/http/multipart.c: the boundary from the
 * Content-Type (quoted or not, refused when missing, too long or with bad
 * characters), bodies as Chromium and Firefox send them (text fields, a
 * file with binary bytes and CRLFs inside), and every malformed shape
 * refused: no closing delimiter, a part without a name or headers, too
 * many parts, an oversized header block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gateway/http/multipart.h"

#define CT "multipart/form-data; boundary=----WebKitFormBoundaryAbC123"
#define B  "----WebKitFormBoundaryAbC123"

static struct span sp(const char *s)
{
    return span_make(s, strlen(s));
}

static void test_boundary(void **state)
{
    (void)state;
    struct span b;
    assert_int_equal(multipart_boundary(sp(CT), &b), OG_OK);
    assert_true(span_eq_cstr(b, "----WebKitFormBoundaryAbC123"));
    assert_int_equal(multipart_boundary(sp("Multipart/Form-Data;boundary=\"a b'()+_,-./:=?\""), &b),
                     OG_OK);
    assert_true(span_eq_cstr(b, "a b'()+_,-./:=?"));
    assert_int_equal(multipart_boundary(sp("multipart/form-data; charset=x; boundary=q1"), &b),
                     OG_OK);
    assert_true(span_eq_cstr(b, "q1"));
    char longb[120];
    snprintf(longb, sizeof(longb), "multipart/form-data; boundary=%071d", 0);
    const char *bad[] = {
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=a\"b",
        "multipart/form-data; boundary=\"ends in space \"",
        "multipart/form-data; boundary=semi\x01colon",
        "multipart/mixed; boundary=x",
        longb,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(multipart_boundary(sp(bad[i]), &b), OG_ERR_INVALID);
}

static void test_browser_body(void **state)
{
    (void)state;
    /* A file whose bytes hold CRLF, NUL and a near-miss of the delimiter. */
    static const char file[] = "\x89PNG\r\n\x1a\n\0\0\r\n-" B "\r\n--"
                               "--WebKit\r\nend";
    char body[1024];
    int n = snprintf(body, sizeof(body),
                     "--" B "\r\n"
                     "Content-Disposition: form-data; name=\"csrf\"\r\n\r\n"
                     "tok123\r\n"
                     "--" B "\r\n"
                     "Content-Disposition: form-data; name=\"name\"\r\n\r\n"
                     "Acme; \"ID\"\r\n"
                     "--" B "\r\n"
                     "Content-Disposition: form-data; name=\"logo\"; filename=\"a;b.png\"\r\n"
                     "Content-Type: image/png\r\n\r\n");
    memcpy(body + n, file, sizeof(file) - 1);
    n += (int)sizeof(file) - 1;
    n += snprintf(body + n, sizeof(body) - (size_t)n,
                  "\r\n--" B "\r\n"
                  "Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n"
                  "Content-Type: application/octet-stream\r\n\r\n"
                  "\r\n--" B "--\r\n");
    struct multipart m;
    assert_int_equal(multipart_parse(sp(CT), span_make(body, (size_t)n), &m), OG_OK);
    assert_int_equal(m.count, 4);
    const struct multipart_part *p = multipart_get(&m, "csrf");
    assert_non_null(p);
    assert_true(span_eq_cstr(p->data, "tok123"));
    assert_null(p->filename.p);
    p = multipart_get(&m, "name");
    assert_true(span_eq_cstr(p->data, "Acme; \"ID\""));
    p = multipart_get(&m, "logo");
    assert_non_null(p->filename.p);
    assert_true(span_eq_cstr(p->filename, "a;b.png"));
    assert_true(span_eq_cstr(p->content_type, "image/png"));
    assert_int_equal(p->data.len, sizeof(file) - 1);
    assert_memory_equal(p->data.p, file, sizeof(file) - 1);
    p = multipart_get(&m, "empty");
    assert_non_null(p->filename.p);
    assert_int_equal(p->filename.len, 0);
    assert_int_equal(p->data.len, 0);
    assert_null(multipart_get(&m, "nope"));
}

static void test_preamble_and_padding(void **state)
{
    (void)state;
    const char *body = "ignored preamble\r\n--" B "  \t\r\n"
                       "content-disposition: FORM-DATA; NAME=a\r\n\r\nx\r\n--" B "--";
    struct multipart m;
    assert_int_equal(multipart_parse(sp(CT), sp(body), &m), OG_OK);
    assert_int_equal(m.count, 1);
    assert_true(span_eq_cstr(m.parts[0].name, "a"));
    assert_true(span_eq_cstr(m.parts[0].data, "x"));
}

static void test_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "--" B "--",                                                       /* no part: ok? */
        "--" B "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx",  /* unclosed */
        "--" B "\r\nContent-Disposition: form-data\r\n\r\nx\r\n--" B "--", /* no name */
        "--" B "\r\nContent-Type: text/plain\r\n\r\nx\r\n--" B "--",       /* no disposition */
        "--" B "\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--" B "--",
        "--" B "\r\n\r\nx\r\n--" B "--", /* no headers */
        "--" B "\r\nno colon here\r\n\r\nx\r\n--" B "--",
        "--" B "\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--" B "--",
        "--" B "junk\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--" B "--",
        "--" B "\r\nContent-Disposition: form-data; name=a\r\n", /* headers cut */
        "no delimiter at all",
    };
    struct multipart m;
    /* The bare closing delimiter is a valid empty form. */
    assert_int_equal(multipart_parse(sp(CT), sp(bad[1]), &m), OG_OK);
    assert_int_equal(m.count, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (i == 1)
            continue;
        assert_int_equal(multipart_parse(sp(CT), sp(bad[i]), &m), OG_ERR_INVALID);
    }
    assert_int_equal(multipart_parse(sp("text/plain"), sp("--x--"), &m), OG_ERR_INVALID);
}

static void test_limits(void **state)
{
    (void)state;
    char body[8192];
    size_t n = 0;
    for (int i = 0; i <= MULTIPART_MAX_PARTS; i++)
        n += (size_t)snprintf(
            body + n, sizeof(body) - n,
            "--" B "\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", i);
    n += (size_t)snprintf(body + n, sizeof(body) - n, "--" B "--\r\n");
    struct multipart m;
    assert_int_equal(multipart_parse(sp(CT), span_make(body, n), &m), OG_ERR_TOO_BIG);

    /* One header block longer than MULTIPART_HEADERS_MAX. */
    n = (size_t)snprintf(body, sizeof(body),
                         "--" B "\r\nContent-Disposition: form-data; name=a\r\n"
                         "X-Pad: ");
    memset(body + n, 'p', MULTIPART_HEADERS_MAX);
    n += MULTIPART_HEADERS_MAX;
    n += (size_t)snprintf(body + n, sizeof(body) - n, "\r\n\r\nx\r\n--" B "--");
    assert_int_equal(multipart_parse(sp(CT), span_make(body, n), &m), OG_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary),
        cmocka_unit_test(test_browser_body),
        cmocka_unit_test(test_preamble_and_padding),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
