/* Fuzzes the request-header helpers of src/gateway/http/static_files.c that see
 * every static-file request: static_etag_matches (If-None-Match),
 * static_accepts_gzip (Accept-Encoding), static_path_clean (the URL path
 * after /static/) and static_mime_type. The whole input goes to each.
 * Asserts: "*" matches; a list naming the tag first (strong or weak) always
 * matches, and so does one naming it last after elements without quotes; a
 * cleaned path is no longer than the input, NUL-terminated, and has no
 * empty segment, no segment starting with '.', no backslash and no control
 * byte; a too-small output buffer is refused, never overrun. */
#include "fuzz.h"

#include "gateway/http/static_files.h"

static const char etag[] = "\"0123456789abcdef0123456789abcdef\"";

static void check_etag(struct span v)
{
    bool m = static_etag_matches(v, etag);
    bool weak = static_etag_matches(v, "W/\"0123456789abcdef0123456789abcdef\"");
    FUZZ_CHECK(m == weak); /* weak comparison ignores W/ on either side */
    FUZZ_CHECK(!static_etag_matches(v, NULL) || m);

    /* The tag as the first element matches whatever follows it; as the
     * last one, it matches when the input holds no quote (a quote opens an
     * entity-tag, and an opaque tag may hold commas, so it could swallow
     * the appended one). */
    size_t n = sizeof(etag) - 1 + 2 + v.len;
    char *list = og_malloc(n + 1);
    memcpy(list, etag, sizeof(etag) - 1);
    memcpy(list + sizeof(etag) - 1, ", ", 2);
    if (v.len)
        memcpy(list + sizeof(etag) + 1, v.p, v.len);
    FUZZ_CHECK(static_etag_matches(span_make(list, n), etag));
    if (v.len)
        memcpy(list, v.p, v.len);
    memcpy(list + v.len, ", ", 2);
    memcpy(list + v.len + 2, etag, sizeof(etag) - 1);
    if (!memchr(v.p, '"', v.len))
        FUZZ_CHECK(static_etag_matches(span_make(list, n), etag));
    free(list);
}

static void check_clean(struct span raw)
{
    char out[STATIC_PATH_MAX + 1];
    size_t outlen = raw.len + 1 < sizeof(out) ? raw.len + 1 : sizeof(out);
    if (raw.len > 0 && raw.p[0] == 'x')
        outlen = outlen / 2 + 1; /* sometimes too small */
    out[outlen - 1] = '\x7f';
    int rc = static_path_clean(raw, out, outlen);
    if (rc != OG_OK) {
        FUZZ_CHECK(rc == OG_ERR_INVALID);
        return;
    }
    size_t n = strnlen(out, outlen);
    FUZZ_CHECK(n < outlen && n <= raw.len && n > 0);
    FUZZ_CHECK(out[0] != '/' && out[n - 1] != '/' && !strstr(out, "//"));
    FUZZ_CHECK(out[0] != '.' && !strstr(out, "/.") && !strchr(out, '\\'));
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
    FUZZ_CHECK(static_mime_type(span_make(out, n)) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct span in = span_make((const char *)data, size);
    FUZZ_CHECK(static_etag_matches(SPAN_LIT(" * "), etag));
    check_etag(in);
    (void)static_accepts_gzip(in);
    check_clean(in);
    FUZZ_CHECK(static_mime_type(in) != NULL);
    return 0;
}
