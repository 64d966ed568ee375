/* Fuzzes src/gateway/http/urlcodec.c, which sees every request target, query,
 * form body and Cookie header: url_decode in both plus modes, form_parse
 * with kv_get, url_split and cookie_get. The first byte sets form_parse's
 * max_pairs (its low 5 bits); the rest is the input, used by every function.
 * Asserts: decoding never grows the text, is NUL-terminated and NUL-free,
 * and the two plus modes agree on success and length; form_parse counts
 * exactly the non-empty '&' pieces and kv_get finds the first of equal keys;
 * url_split and cookie_get return spans inside the input. */
#include "fuzz.h"

#include "gateway/http/urlcodec.h"

static bool inside(struct span s, const uint8_t *data, size_t size)
{
    const char *base = (const char *)data;
    return s.len == 0 || (s.p >= base && s.len <= size && (size_t)(s.p - base) <= size - s.len);
}

static void check_decode(struct arena *a, struct span in)
{
    struct span plain, plus;
    int rc_plain = url_decode(a, in, false, &plain);
    int rc_plus = url_decode(a, in, true, &plus);
    FUZZ_CHECK(rc_plain == OG_OK || rc_plain == OG_ERR_INVALID);
    FUZZ_CHECK(rc_plain == rc_plus);
    if (rc_plain != OG_OK) {
        FUZZ_CHECK(plain.p == NULL && plain.len == 0 && plus.p == NULL);
        return;
    }
    FUZZ_CHECK(plain.len <= in.len && plain.len == plus.len);
    FUZZ_CHECK(plain.p[plain.len] == '\0' && plus.p[plus.len] == '\0');
    FUZZ_CHECK(!memchr(plain.p, '\0', plain.len));
    /* '+' -> ' ' is the only difference between the modes. */
    for (size_t i = 0; i < plain.len; i++)
        FUZZ_CHECK(plain.p[i] == plus.p[i] || (plain.p[i] == '+' && plus.p[i] == ' '));
    if (!memchr(in.p, '%', in.len))
        FUZZ_CHECK(plain.len == in.len && memcmp(plain.p, in.p, in.len) == 0);
}

static void check_form(struct arena *a, struct span body, size_t max_pairs)
{
    size_t pieces = 0;
    for (size_t i = 0, start = 0; i <= body.len; i++) {
        if (i == body.len || body.p[i] == '&') {
            pieces += i > start;
            start = i + 1;
        }
    }
    struct kv_list l;
    int rc = form_parse(a, body, max_pairs, &l);
    if (rc != OG_OK) {
        FUZZ_CHECK(rc == (pieces > max_pairs ? OG_ERR_TOO_BIG : OG_ERR_INVALID));
        FUZZ_CHECK(l.count == 0 && l.items == NULL);
        return;
    }
    FUZZ_CHECK(l.count == pieces && l.count <= max_pairs);
    size_t total = 0;
    for (size_t i = 0; i < l.count; i++) {
        struct kv *kv = &l.items[i];
        FUZZ_CHECK(kv->key.p[kv->key.len] == '\0' && kv->value.p[kv->value.len] == '\0');
        FUZZ_CHECK(!memchr(kv->key.p, '\0', kv->key.len));
        total += kv->key.len + kv->value.len;
    }
    FUZZ_CHECK(total <= body.len);
    for (size_t i = 0; i < l.count; i++) {
        struct span v = SPAN_NULL;
        FUZZ_CHECK(kv_get(&l, l.items[i].key.p, &v));
        size_t first = 0;
        while (!span_eq(l.items[first].key, l.items[i].key))
            first++;
        FUZZ_CHECK(v.p == l.items[first].value.p && v.len == l.items[first].value.len);
    }
}

static void check_split(struct span target, const uint8_t *data, size_t size)
{
    struct span path, query;
    url_split(target, &path, &query);
    const char *hash = target.len ? memchr(target.p, '#', target.len) : NULL;
    size_t end = hash ? (size_t)(hash - target.p) : target.len;
    const char *q = end ? memchr(target.p, '?', end) : NULL;
    FUZZ_CHECK(path.p == target.p && inside(path, data, size));
    FUZZ_CHECK(!memchr(path.p, '?', path.len) && !memchr(path.p, '#', path.len));
    if (!q) {
        FUZZ_CHECK(query.p == NULL && query.len == 0 && path.len == end);
    } else {
        FUZZ_CHECK(query.p == q + 1 && path.len + 1 + query.len == end);
        FUZZ_CHECK(inside(query, data, size) && !memchr(query.p, '#', query.len));
    }
}

static void check_cookie(struct span header, const uint8_t *data, size_t size)
{
    static const char *const names[] = {"otpgate_session", "otpgate_admin", "otpgate_lang", "a"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        struct span v = SPAN_NULL;
        if (cookie_get(header, names[i], &v))
            FUZZ_CHECK(inside(v, data, size));
    }
    struct span v = SPAN_NULL;
    FUZZ_CHECK(!cookie_get(header, "", &v));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max_pairs = data[0] & 31;
    struct span in = span_make((const char *)data + 1, size - 1);
    struct arena a;
    arena_init(&a);
    check_decode(&a, in);
    check_form(&a, in, max_pairs);
    check_split(in, data, size);
    check_cookie(in, data, size);
    arena_reset(&a);
    return 0;
}
