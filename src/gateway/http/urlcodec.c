/* Percent-decoding, form/query parsing, target splitting and cookie lookup.
 * Everything returned lives in the caller's arena or points into the input;
 * this file never allocates from the heap and never trusts input lengths. */
#include "gateway/http/urlcodec.h"

int url_decode(struct arena *a, struct span in, bool plus_as_space, struct span *out)
{
    *out = SPAN_NULL;
    /* Decoding never grows the text, so in.len + 1 bytes always suffice. */
    char *dst = arena_alloc(a, in.len + 1);
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.p[i];
        if (c == '%') {
            if (in.len - i < 3)
                return OG_ERR_INVALID;
            int hi = og_hex_value(in.p[i + 1]);
            int lo = og_hex_value(in.p[i + 2]);
            if (hi < 0 || lo < 0)
                return OG_ERR_INVALID;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_as_space) {
            c = ' ';
        }
        if (c == '\0')
            return OG_ERR_INVALID;
        dst[n++] = c;
    }
    dst[n] = '\0';
    *out = span_make(dst, n);
    return OG_OK;
}

/* Returns the length of the '&'-separated piece starting at p. */
static size_t piece_len(const char *p, size_t left)
{
    const char *amp = memchr(p, '&', left);
    return amp ? (size_t)(amp - p) : left;
}

int form_parse(struct arena *a, struct span body, size_t max_pairs, struct kv_list *out)
{
    out->items = NULL;
    out->count = 0;

    /* Count first, so an attacker's 100 000 pairs cost one scan, not 100 000
     * decodes and an arena full of garbage. */
    size_t pairs = 0;
    for (size_t i = 0; i < body.len;) {
        size_t n = piece_len(body.p + i, body.len - i);
        if (n > 0 && ++pairs > max_pairs)
            return OG_ERR_TOO_BIG;
        i += n + 1;
    }
    if (pairs == 0)
        return OG_OK;

    struct kv *items = arena_alloc(a, pairs * sizeof(*items));
    size_t count = 0;
    for (size_t i = 0; i < body.len;) {
        const char *p = body.p + i;
        size_t n = piece_len(p, body.len - i);
        i += n + 1;
        if (n == 0)
            continue;
        const char *eq = memchr(p, '=', n);
        struct span raw_key = span_make(p, eq ? (size_t)(eq - p) : n);
        struct span raw_value = eq ? span_make(eq + 1, n - raw_key.len - 1) : span_make(p + n, 0);
        if (url_decode(a, raw_key, true, &items[count].key) != OG_OK ||
            url_decode(a, raw_value, true, &items[count].value) != OG_OK)
            return OG_ERR_INVALID;
        count++;
    }
    out->items = items;
    out->count = count;
    return OG_OK;
}

bool kv_get(const struct kv_list *l, const char *key, struct span *value)
{
    struct span k = span_cstr(key);
    for (size_t i = 0; i < l->count; i++) {
        if (span_eq(l->items[i].key, k)) {
            *value = l->items[i].value;
            return true;
        }
    }
    return false;
}

void url_split(struct span target, struct span *path, struct span *query)
{
    const char *hash = target.len ? memchr(target.p, '#', target.len) : NULL;
    if (hash)
        target.len = (size_t)(hash - target.p);
    const char *q = target.len ? memchr(target.p, '?', target.len) : NULL;
    if (!q) {
        *path = target;
        *query = SPAN_NULL;
        return;
    }
    *path = span_make(target.p, (size_t)(q - target.p));
    *query = span_make(q + 1, target.len - path->len - 1);
}

bool cookie_get(struct span header, const char *name, struct span *value)
{
    struct span want = span_cstr(name);
    if (want.len == 0)
        return false;
    size_t i = 0;
    while (i < header.len) {
        const char *p = header.p + i;
        const char *semi = memchr(p, ';', header.len - i);
        size_t n = semi ? (size_t)(semi - p) : header.len - i;
        i += n + 1;

        const char *eq = memchr(p, '=', n);
        if (!eq)
            continue;
        struct span k = span_trim_ows(span_make(p, (size_t)(eq - p)));
        if (!span_eq(k, want))
            continue;
        struct span v = span_trim_ows(span_make(eq + 1, n - (size_t)(eq - p) - 1));
        if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"') {
            v.p++;
            v.len -= 2;
        }
        *value = v;
        return true;
    }
    return false;
}

void url_append_param(struct buf *b, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    buf_append_str(b, b->data && memchr(b->data, '?', b->len) ? "&" : "?");
    buf_append_str(b, name);
    buf_append(b, "=", 1);
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '_' || *c == '.' || *c == '~') {
            buf_append(b, c, 1);
        } else {
            char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
            buf_append(b, e, 3);
        }
    }
}
