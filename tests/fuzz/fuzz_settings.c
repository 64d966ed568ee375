/* Fuzzes the parsers of settings and of text headed for logs:
 * policy_validate (src/core/policy.c: values come from the CLI and the
 * admin console), og_parse_int and log_level_parse (src/core/common.c,
 * log.c: environment settings, form fields), log_json_escape (log.c: every
 * logged value, many of them request data). Input: "key=value" for policy
 * (the first byte picks the app scope and the error buffer's size); the
 * same bytes go to the other functions.
 * Asserts: answers are the documented codes; an error line fits its buffer
 * and holds no control byte (it is shown on a terminal and a web page);
 * parsed integers are in range and print back to a value that parses the
 * same; escaped log text never holds a raw control byte or an unescaped
 * quote, and for valid UTF-8 that fits it is a JSON string that decodes
 * back to the input. */
#include "fuzz.h"

#include "core/log.h"
#include "core/policy.h"

#include <jansson.h>
#include <limits.h>

static void check_policy(const char *in, bool app_scope, size_t errlen)
{
    char *key = og_strdup(in);
    char *eq = strchr(key, '=');
    const char *value = NULL;
    if (eq) {
        *eq = '\0';
        value = eq + 1;
    }
    char err[300];
    memset(err, 'Z', sizeof(err));
    err[0] = '\0';
    int rc = policy_validate(key, value, app_scope, err, errlen);
    FUZZ_CHECK(rc == OG_OK || rc == OG_ERR_INVALID);
    FUZZ_CHECK(errlen == 0 || memchr(err, '\0', errlen));
    FUZZ_CHECK(err[errlen] == 'Z' || errlen == 0);
    for (const char *p = err; *p; p++)
        FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
    if (rc == OG_ERR_INVALID && errlen > 1)
        FUZZ_CHECK(err[0] != '\0');
    free(key);
}

static void check_int(struct span s)
{
    static const long long bounds[][2] = {
        {0, 65535}, {1, 86400}, {-5, 5}, {LLONG_MIN, LLONG_MAX}, {0, 0}};
    for (size_t i = 0; i < ARRAY_SIZE(bounds); i++) {
        long long v = 42;
        int rc = og_parse_int(s, bounds[i][0], bounds[i][1], &v);
        if (rc != OG_OK) {
            FUZZ_CHECK(rc == OG_ERR_INVALID && v == 42);
            continue;
        }
        FUZZ_CHECK(v >= bounds[i][0] && v <= bounds[i][1]);
        FUZZ_CHECK(s.len > 0 && (s.p[0] == '-' || (s.p[0] >= '0' && s.p[0] <= '9')));
        char txt[32];
        int w = snprintf(txt, sizeof(txt), "%lld", v);
        long long back = 0;
        FUZZ_CHECK(og_parse_int(span_make(txt, (size_t)w), bounds[i][0], bounds[i][1], &back) ==
                       OG_OK &&
                   back == v);
    }
}

static void check_escape(const char *in)
{
    size_t len = strlen(in);
    size_t cap = len * 6 + 1; /* the worst case: every byte as \u00XX */
    char *out = og_malloc(cap);
    size_t n = log_json_escape(out, cap, in);
    FUZZ_CHECK(n < cap && out[n] == '\0' && strlen(out) == n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        FUZZ_CHECK(c >= 0x20 && c != 0x7f);
        if (c == '\\')
            i++; /* the escaped character */
        else
            FUZZ_CHECK(c != '"');
    }
    char *quoted = og_malloc(n + 3);
    quoted[0] = '"';
    memcpy(quoted + 1, out, n);
    memcpy(quoted + 1 + n, "\"", 2);
    json_error_t jerr;
    json_t *s = json_loads(quoted, JSON_DECODE_ANY, &jerr);
    /* jansson refuses invalid UTF-8, which the escape passes through. */
    if (s) {
        FUZZ_CHECK(json_is_string(s) && strcmp(json_string_value(s), in) == 0);
        json_decref(s);
    }
    /* A small buffer truncates between escapes, never inside one. */
    char small[8];
    n = log_json_escape(small, sizeof(small), in);
    FUZZ_CHECK(n < sizeof(small) && small[n] == '\0' && strncmp(small, out, n) == 0);
    free(quoted);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *in = fuzz_cstr(data + 1, size - 1);
    check_policy(in, data[0] & 1, (size_t)(data[0] >> 1) * 2); /* 0..254 */
    check_int(span_make((const char *)data + 1, size - 1));
    enum log_level level;
    if (log_level_parse(in, &level) == OG_OK)
        FUZZ_CHECK(strcmp(log_level_name(level), in) == 0);
    check_escape(in);
    free(in);
    return 0;
}
