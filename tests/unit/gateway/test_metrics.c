/* Metrics exposition: counters by route and status, cumulative histogram
 * buckets, event counters grouped by family; and the HTTP date format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gateway/http/http.h"
#include "gateway/metrics.h"

static void h(struct http_request *req)
{
    (void)req;
}

static const struct route table[] = {
    {ROUTE_GET, "/healthz", h, 0},
    {ROUTE_GET, "/static/*", h, 0},
};

static void test_render(void **state)
{
    (void)state;
    struct metrics m;
    metrics_init(&m, table, 2);
    metrics_observe(&m, 0, 200, 0.0002);
    metrics_observe(&m, 0, 200, 0.002);
    metrics_observe(&m, 0, 503, 0.2);
    metrics_observe(&m, -1, 404, 0.00001);
    metrics_count(&m, "otpgate_codes_sent_total", "Codes sent.", "channel=\"sms\"", 2);
    metrics_count(&m, "otpgate_other_total", "Other.", "", 1);
    metrics_count(&m, "otpgate_codes_sent_total", "Codes sent.", "channel=\"email\"", 1);
    metrics_count(&m, "otpgate_codes_sent_total", "Codes sent.", "channel=\"sms\"", 3);
    struct buf out;
    buf_init(&out, 1 << 20);
    metrics_render(&m, &out);
    const char *t = out.data;
    assert_non_null(strstr(t, "otpgate_http_requests_total{route=\"/healthz\",status=\"200\"} 2\n"));
    assert_non_null(strstr(t, "otpgate_http_requests_total{route=\"/healthz\",status=\"503\"} 1\n"));
    assert_non_null(strstr(t, "otpgate_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"));
    assert_null(strstr(t, "route=\"/static/*\",status"));
    /* cumulative buckets: 1 at 0.00025, 2 at 0.0025, 3 at 0.25 and +Inf */
    assert_non_null(strstr(t, "_bucket{route=\"/healthz\",le=\"0.00025\"} 1\n"));
    assert_non_null(strstr(t, "_bucket{route=\"/healthz\",le=\"0.0025\"} 2\n"));
    assert_non_null(strstr(t, "_bucket{route=\"/healthz\",le=\"0.1\"} 2\n"));
    assert_non_null(strstr(t, "_bucket{route=\"/healthz\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(t, "otpgate_http_request_duration_seconds_count{route=\"/healthz\"} 3\n"));
    /* one family's samples together, HELP once */
    const char *sms = strstr(t, "otpgate_codes_sent_total{channel=\"sms\"} 5\n");
    const char *email = strstr(t, "otpgate_codes_sent_total{channel=\"email\"} 1\n");
    const char *other = strstr(t, "otpgate_other_total 1\n");
    assert_non_null(sms);
    assert_non_null(email);
    assert_non_null(other);
    assert_true(sms < email && email < other);
    const char *help = strstr(t, "# HELP otpgate_codes_sent_total");
    assert_non_null(help);
    assert_null(strstr(help + 1, "# HELP otpgate_codes_sent_total"));
    buf_free(&out);
    metrics_free(&m);
}

static void test_http_date(void **state)
{
    (void)state;
    char d[32];
    http_date_format(0, d);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    http_date_format(784111777, d); /* RFC 9110's example */
    assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_http_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
