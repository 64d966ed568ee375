/* Unit tests of core/sms_template.c: placeholder expansion and escaping
 * (JSON, form, URL), brace escapes, unknown names, the success rules on
 * provider answers, JSON lookups and blanking of the code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sms_template.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const struct tmpl_vars vars = {
    .to = "+4915112345678",
    .message =
        "Your code: 123456\n\"Acme\" \\ caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd\t\x01 @h #123456",
    .code = "123456",
    .from = "Acme",
};

/* Expands tmpl and compares with want; returns the rc for error cases. */
static int expand(const char *tmpl, enum tmpl_escape esc, const struct tmpl_vars *v,
                  const char *want)
{
    struct buf b;
    buf_init(&b, 4096);
    int rc = tmpl_expand(tmpl, esc, v, &b);
    if (rc == OG_OK && want) {
        assert_non_null(b.data);
        assert_string_equal(b.data, want);
    }
    buf_free(&b);
    return rc;
}

static void test_json_escaping(void **state)
{
    (void)state;
    assert_int_equal(
        expand("{\"to\":\"{to}\",\"m\":\"{message}\"}", TMPL_JSON, &vars,
               "{\"to\":\"+4915112345678\",\"m\":\"Your code: 123456\\n\\\"Acme\\\" \\\\ "
               "caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd\\t\\u0001 @h #123456\"}"),
        OG_OK);
    /* The result is JSON that gives the message back unchanged. */
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(tmpl_expand("{\"m\":\"{message}\"}", TMPL_JSON, &vars, &b), OG_OK);
    json_t *j = json_loads(b.data, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "m")), vars.message);
    json_decref(j);
    buf_free(&b);

    /* Control bytes, DEL and invalid UTF-8 (a lone continuation byte, a cut
     * sequence, an overlong '/') */
    const struct tmpl_vars odd = {.message = "\b\f\r\x1f\x7f|\x80|\xe4\xbd|\xc0\xaf"};
    assert_int_equal(expand("{message}", TMPL_JSON, &odd,
                            "\\b\\f\\r\\u001F\\u007F|\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd"),
                     OG_OK);
}

static void test_nested_json_template(void **state)
{
    (void)state;
    const char *tmpl = "{\"sms\":{\"to\":[\"{to}\"],\"from\":\"{from}\",\"content\":{\"text\":"
                       "\"{message}\",\"otp\":\"{code}\"}},\"n\":{to_digits}}";
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(tmpl_expand(tmpl, TMPL_JSON, &vars, &b), OG_OK);
    json_error_t jerr;
    json_t *j = json_loads(b.data, 0, &jerr);
    if (!j)
        fail_msg("not JSON: %s in %s", jerr.text, b.data);
    json_t *sms = json_object_get(j, "sms");
    assert_string_equal(json_string_value(json_array_get(json_object_get(sms, "to"), 0)),
                        "+4915112345678");
    assert_string_equal(json_string_value(json_object_get(sms, "from")), "Acme");
    json_t *content = json_object_get(sms, "content");
    assert_string_equal(json_string_value(json_object_get(content, "text")), vars.message);
    assert_string_equal(json_string_value(json_object_get(content, "otp")), "123456");
    assert_int_equal(json_integer_value(json_object_get(j, "n")), 4915112345678LL);
    json_decref(j);
    buf_free(&b);
}

static void test_form_escaping(void **state)
{
    (void)state;
    const struct tmpl_vars v = {.to = "+15550100", .message = "a b&c=d+e/f~g*h.i_j-k\xc3\xa9\n"};
    assert_int_equal(expand("To={to}&Body={message}&n={to_digits}", TMPL_FORM, &v,
                            "To=%2B15550100&Body=a+b%26c%3Dd%2Be%2Ff%7Eg*h.i_j-k%C3%A9%0A&n="
                            "15550100"),
                     OG_OK);
}

static void test_url_escaping(void **state)
{
    (void)state;
    const struct tmpl_vars v = {.to = "+15550100", .message = "a b&c=d+e/f~g*h{x}"};
    assert_int_equal(expand("https://sms.example.com/send/{to_digits}?to={to}&text={message}",
                            TMPL_URL, &v,
                            "https://sms.example.com/send/15550100?to=%2B15550100&text=a%20b%26c%"
                            "3Dd%2Be%2Ff~g%2Ah%7Bx%7D"),
                     OG_OK);
}

static void test_raw_and_null_values(void **state)
{
    (void)state;
    const struct tmpl_vars v = {.to = "+1", .message = NULL, .code = NULL, .from = NULL};
    assert_int_equal(expand("[{to}|{message}|{code}|{from}]", TMPL_RAW, &v, "[+1|||]"), OG_OK);
    assert_int_equal(expand("{to}", TMPL_RAW, NULL, ""), OG_OK);
    assert_int_equal(expand("", TMPL_JSON, &vars, NULL), OG_OK);
}

static void test_braces(void **state)
{
    (void)state;
    /* "{{name}}" is the literal text; other braces are plain text. */
    assert_int_equal(expand("{{to}} is {to}", TMPL_RAW, &vars, "{to} is +4915112345678"), OG_OK);
    assert_int_equal(expand("{{ {{x}} }}", TMPL_RAW, &vars, "{ {x} }"), OG_OK);
    assert_int_equal(expand("{\"a\":{\"b\":{}}}", TMPL_JSON, &vars, "{\"a\":{\"b\":{}}}"), OG_OK);
    assert_int_equal(expand("{ to } {1to} {to-x} {", TMPL_RAW, &vars, "{ to } {1to} {to-x} {"),
                     OG_OK);
    assert_int_equal(expand("}}{", TMPL_RAW, &vars, "}}{"), OG_OK);
}

static void test_unknown_placeholder(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(buf_append_str(&b, "keep"), OG_OK);
    assert_int_equal(tmpl_expand("{\"to\":\"{to}\",\"x\":\"{phone}\"}", TMPL_JSON, &vars, &b),
                     OG_ERR_INVALID);
    assert_string_equal(b.data, "keep"); /* left as it was */
    assert_int_equal(tmpl_expand("{TO}", TMPL_RAW, &vars, &b), OG_ERR_INVALID);
    buf_free(&b);

    char bad[TMPL_NAME_MAX + 1];
    assert_int_equal(
        tmpl_check("{\"a\":\"{to}{message}{code}{to_digits}{from}\"}", bad, sizeof bad), OG_OK);
    assert_string_equal(bad, "");
    assert_int_equal(tmpl_check("x={to}&y={recipient}&z={other}", bad, sizeof bad), OG_ERR_INVALID);
    assert_string_equal(bad, "recipient");
    char small[4];
    assert_int_equal(tmpl_check("{recipient}", small, sizeof small), OG_ERR_INVALID);
    assert_string_equal(small, "rec");
    assert_int_equal(tmpl_check("{nope}", NULL, 0), OG_ERR_INVALID);
    assert_int_equal(tmpl_check("{{nope}}", NULL, 0), OG_OK);
}

static void test_cap(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 16);
    assert_int_equal(tmpl_expand("{message}", TMPL_JSON, &vars, &b), OG_ERR_TOO_BIG);
    assert_int_equal(b.len, 0);
    assert_int_equal(tmpl_expand("0123456789abcdef", TMPL_RAW, &vars, &b), OG_OK);
    assert_int_equal(tmpl_expand("x", TMPL_RAW, &vars, &b), OG_ERR_TOO_BIG);
    assert_int_equal(b.len, 16);
    buf_free(&b);
    assert_int_equal(tmpl_expand(NULL, TMPL_RAW, &vars, &b), OG_ERR_INVALID);
}

#define BODY(s) (s), strlen(s)

static void test_success_status(void **state)
{
    (void)state;
    assert_true(tmpl_success(NULL, 200, BODY("")));
    assert_true(tmpl_success("", 201, BODY("whatever")));
    assert_true(tmpl_success(NULL, 299, NULL, 0));
    assert_false(tmpl_success(NULL, 199, BODY("")));
    assert_false(tmpl_success(NULL, 300, BODY("")));
    assert_false(tmpl_success(NULL, 404, BODY("")));
    assert_false(tmpl_success(NULL, 500, BODY("")));
    assert_false(tmpl_success(NULL, 0, BODY("")));
    /* A rule that holds does not rescue a bad status. */
    assert_false(tmpl_success("~ok", 500, BODY("ok")));
}

static void test_success_rules(void **state)
{
    (void)state;
    const char *vonage = "{\"message-count\":\"1\",\"messages\":[{\"status\":\"0\","
                         "\"message-id\":\"abc\",\"price\":0.03,\"n\":0,\"t\":true,"
                         "\"e\":\"\",\"z\":null,\"a/b\":\"slash\",\"m~n\":\"tilde\"}]}";
    assert_true(tmpl_success("/messages/0/status=0", 200, BODY(vonage)));
    assert_false(tmpl_success("/messages/0/status=2", 200, BODY(vonage)));
    assert_false(tmpl_success("/messages/1/status=0", 200, BODY(vonage)));
    assert_false(tmpl_success("/messages/-/status=0", 200, BODY(vonage)));
    assert_false(tmpl_success("/messages/00/status=0", 200, BODY(vonage)));
    assert_true(tmpl_success("/messages/0/price=0.03", 200, BODY(vonage)));
    assert_true(tmpl_success("/messages/0/n=0", 200, BODY(vonage)));
    assert_true(tmpl_success("/messages/0/t=true", 200, BODY(vonage)));
    assert_true(tmpl_success("/messages/0/z=null", 200, BODY(vonage)));
    assert_true(tmpl_success("/messages/0/e=", 200, BODY(vonage)));
    assert_true(tmpl_success("/messages/0/a~1b=slash", 200, BODY(vonage)));
    assert_true(tmpl_success("/messages/0/m~0n=tilde", 200, BODY(vonage)));
    assert_false(tmpl_success("/messages/0/m~2n=tilde", 200, BODY(vonage)));
    /* Presence and truthiness */
    assert_true(tmpl_success("/messages/0/message-id", 200, BODY(vonage)));
    assert_true(tmpl_success("/messages/0/t", 200, BODY(vonage)));
    assert_true(tmpl_success("/messages", 200, BODY(vonage)));
    assert_false(tmpl_success("/messages/0/n", 200, BODY(vonage)));
    assert_false(tmpl_success("/messages/0/e", 200, BODY(vonage)));
    assert_false(tmpl_success("/messages/0/z", 200, BODY(vonage)));
    assert_false(tmpl_success("/messages/0/missing", 200, BODY(vonage)));
    assert_false(tmpl_success("/message-count/x", 200, BODY(vonage)));
    /* Not JSON */
    assert_false(tmpl_success("/id", 200, BODY("OK id=5")));
    assert_false(tmpl_success("/id", 200, NULL, 0));
    /* The body need not be NUL-terminated. */
    char raw[] = {'{', '"', 'o', 'k', '"', ':', '1', '}', 'X'};
    assert_true(tmpl_success("/ok=1", 200, raw, 8));
    /* Substring */
    assert_true(tmpl_success("~ACCEPTED", 200, BODY("status: ACCEPTED id 4")));
    assert_false(tmpl_success("~ACCEPTED", 200, BODY("status: REJECTED")));
    assert_false(tmpl_success("~ACCEPTED", 200, raw, 0));
    /* Rules of no known shape never hold. */
    assert_false(tmpl_success("status=0", 200, BODY(vonage)));
}

static void test_json_lookup(void **state)
{
    (void)state;
    char out[16];
    const char *body = "{\"sid\":\"SM0123456789abcdef0123\",\"n\":42,\"o\":{\"a\":[1,2]}}";
    assert_true(tmpl_json_lookup(BODY(body), "/sid", out, sizeof out));
    assert_string_equal(out, "SM0123456789abc"); /* cut to fit */
    assert_true(tmpl_json_lookup(BODY(body), "/n", out, sizeof out));
    assert_string_equal(out, "42");
    assert_true(tmpl_json_lookup(BODY(body), "/o", out, sizeof out));
    assert_string_equal(out, "{\"a\":[1,2]}");
    assert_false(tmpl_json_lookup(BODY(body), "/id", out, sizeof out));
    assert_string_equal(out, "");
    assert_false(tmpl_json_lookup(BODY("not json"), "/id", out, sizeof out));
    assert_false(tmpl_json_lookup(BODY(body), "sid", out, sizeof out));
}

static void test_blank_code(void **state)
{
    (void)state;
    char s[] = "123456 is your code (123456), not 12345 or 1234567";
    tmpl_blank_code(s, "123456");
    assert_string_equal(s, "****** is your code (******), not 12345 or ******7");
    char t[] = "aaaa";
    tmpl_blank_code(t, "aa");
    assert_string_equal(t, "****");
    char u[] = "no code here";
    tmpl_blank_code(u, NULL);
    tmpl_blank_code(u, "");
    tmpl_blank_code(NULL, "1");
    assert_string_equal(u, "no code here");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escaping),       cmocka_unit_test(test_nested_json_template),
        cmocka_unit_test(test_form_escaping),       cmocka_unit_test(test_url_escaping),
        cmocka_unit_test(test_raw_and_null_values), cmocka_unit_test(test_braces),
        cmocka_unit_test(test_unknown_placeholder), cmocka_unit_test(test_cap),
        cmocka_unit_test(test_success_status),      cmocka_unit_test(test_success_rules),
        cmocka_unit_test(test_json_lookup),         cmocka_unit_test(test_blank_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
