/* A strict multipart/form-data reader: it accepts what browsers send and
 * refuses the rest with OG_ERR_INVALID rather than guessing. Never reads
 * outside the body it is given. */
#include "gateway/http/multipart.h"

#include <string.h>

static bool bchar(char c)
{
    /* RFC 2046 bcharsnospace plus space (not last). */
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           strchr("'()+_,-./:=? ", c) != NULL;
}

/* The next ';'-separated item of *rest (quotes respected). */
static bool next_param(struct span *rest, struct span *item)
{
    if (rest->len == 0)
        return false;
    size_t i = 0;
    bool quoted = false;
    for (; i < rest->len; i++) {
        char c = rest->p[i];
        if (c == '"')
            quoted = !quoted;
        else if (c == '\\' && quoted && i + 1 < rest->len)
            i++;
        else if (c == ';' && !quoted)
            break;
    }
    *item = span_make(rest->p, i);
    *item = span_trim_ows(*item);
    if (i < rest->len) {
        rest->p += i + 1;
        rest->len -= i + 1;
    } else {
        rest->p += i;
        rest->len = 0;
    }
    return true;
}

/* Splits "key=value" (value maybe quoted; the quotes are dropped). */
static bool param_kv(struct span item, struct span *key, struct span *value)
{
    const char *eq = memchr(item.p, '=', item.len);
    if (!eq)
        return false;
    *key = span_make(item.p, (size_t)(eq - item.p));
    *key = span_trim_ows(*key);
    *value = span_make(eq + 1, item.len - (size_t)(eq - item.p) - 1);
    *value = span_trim_ows(*value);
    if (value->len >= 2 && value->p[0] == '"' && value->p[value->len - 1] == '"') {
        value->p++;
        value->len -= 2;
    } else if (value->len && (value->p[0] == '"' || value->p[value->len - 1] == '"')) {
        return false;
    }
    return true;
}

int multipart_boundary(struct span ct, struct span *boundary)
{
    *boundary = SPAN_NULL;
    struct span rest = ct, item;
    if (!next_param(&rest, &item) || !span_eq_nocase(item, SPAN_LIT("multipart/form-data")))
        return OG_ERR_INVALID;
    while (next_param(&rest, &item)) {
        struct span k, v;
        if (!param_kv(item, &k, &v) || !span_eq_nocase(k, SPAN_LIT("boundary")))
            continue;
        if (v.len == 0 || v.len > MULTIPART_BOUNDARY_MAX || v.p[v.len - 1] == ' ')
            return OG_ERR_INVALID;
        for (size_t i = 0; i < v.len; i++)
            if (!bchar(v.p[i]))
                return OG_ERR_INVALID;
        *boundary = v;
        return OG_OK;
    }
    return OG_ERR_INVALID;
}

/* Finds needle in hay from offset from; returns its offset or -1. */
static long find(struct span hay, size_t from, const char *needle, size_t n)
{
    if (from > hay.len || hay.len - from < n)
        return -1;
    const char *p = memmem(hay.p + from, hay.len - from, needle, n);
    return p ? (long)(p - hay.p) : -1;
}

/* Reads one part's header block (without the blank line) into part. */
static int part_headers(struct span h, struct multipart_part *part)
{
    bool have_disposition = false;
    while (h.len) {
        const char *crlf = memmem(h.p, h.len, "\r\n", 2);
        struct span line = span_make(h.p, crlf ? (size_t)(crlf - h.p) : h.len);
        h.p += line.len + (crlf ? 2 : 0);
        h.len -= line.len + (crlf ? 2 : 0);
        const char *colon = memchr(line.p, ':', line.len);
        if (!colon)
            return OG_ERR_INVALID;
        struct span name = span_make(line.p, (size_t)(colon - line.p));
        struct span value = span_make(colon + 1, line.len - name.len - 1);
        value = span_trim_ows(value);
        if (span_eq_nocase(name, SPAN_LIT("Content-Type"))) {
            part->content_type = value;
        } else if (span_eq_nocase(name, SPAN_LIT("Content-Disposition"))) {
            struct span rest = value, item;
            if (!next_param(&rest, &item) || !span_eq_nocase(item, SPAN_LIT("form-data")))
                return OG_ERR_INVALID;
            while (next_param(&rest, &item)) {
                struct span k, v;
                if (!param_kv(item, &k, &v))
                    return OG_ERR_INVALID;
                if (span_eq_nocase(k, SPAN_LIT("name")))
                    part->name = v;
                else if (span_eq_nocase(k, SPAN_LIT("filename")))
                    part->filename = v.p ? v : span_make("", 0);
            }
            have_disposition = true;
        }
    }
    return have_disposition && part->name.len > 0 ? OG_OK : OG_ERR_INVALID;
}

int multipart_parse(struct span content_type, struct span body, struct multipart *out)
{
    memset(out, 0, sizeof(*out));
    struct span b;
    if (multipart_boundary(content_type, &b) != OG_OK)
        return OG_ERR_INVALID;
    /* "\r\n--" + boundary: the delimiter between parts. */
    char delim[4 + MULTIPART_BOUNDARY_MAX];
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, b.p, b.len);
    size_t dlen = 4 + b.len;
    /* The first delimiter may open the body (no CRLF before it). */
    size_t pos;
    if (body.len >= dlen - 2 && memcmp(body.p, delim + 2, dlen - 2) == 0) {
        pos = dlen - 2;
    } else {
        long at = find(body, 0, delim, dlen);
        if (at < 0)
            return OG_ERR_INVALID;
        pos = (size_t)at + dlen;
    }
    for (;;) {
        /* After a delimiter: "--" ends the body, else transport padding and CRLF. */
        if (body.len - pos >= 2 && memcmp(body.p + pos, "--", 2) == 0)
            return OG_OK;
        while (pos < body.len && (body.p[pos] == ' ' || body.p[pos] == '\t'))
            pos++;
        if (body.len - pos < 2 || memcmp(body.p + pos, "\r\n", 2) != 0)
            return OG_ERR_INVALID;
        pos += 2;
        if (out->count == MULTIPART_MAX_PARTS)
            return OG_ERR_TOO_BIG;
        struct multipart_part *part = &out->parts[out->count];
        memset(part, 0, sizeof(*part));
        long hend;
        if (body.len - pos >= 2 && memcmp(body.p + pos, "\r\n", 2) == 0)
            hend = (long)pos; /* no headers at all: refused below */
        else
            hend = find(body, pos, "\r\n\r\n", 4);
        if (hend < 0 || (size_t)hend - pos > MULTIPART_HEADERS_MAX)
            return OG_ERR_INVALID;
        if (part_headers(span_make(body.p + pos, (size_t)hend - pos), part) != OG_OK)
            return OG_ERR_INVALID;
        pos = (size_t)hend + 4;
        long next = find(body, pos, delim, dlen);
        if (next < 0)
            return OG_ERR_INVALID;
        part->data = span_make(body.p + pos, (size_t)next - pos);
        out->count++;
        pos = (size_t)next + dlen;
    }
}

const struct multipart_part *multipart_get(const struct multipart *m, const char *name)
{
    for (size_t i = 0; i < m->count; i++)
        if (span_eq_cstr(m->parts[i].name, name))
            return &m->parts[i];
    return NULL;
}
