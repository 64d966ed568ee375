/* The allocation wrappers, error names and small span helpers declared in
 * common.h. Out-of-memory is not recoverable here: it aborts. */
#include "core/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *og_strerror(int err)
{
    switch (err) {
    case OG_OK:
        return "ok";
    case OG_ERR_NOMEM:
        return "out of memory";
    case OG_ERR_INVALID:
        return "invalid input";
    case OG_ERR_TOO_BIG:
        return "too large";
    case OG_ERR_NOT_FOUND:
        return "not found";
    case OG_ERR_IO:
        return "I/O error";
    case OG_ERR_DB:
        return "database error";
    case OG_ERR_CRYPTO:
        return "cryptography error";
    case OG_ERR_PERM:
        return "refused";
    case OG_ERR_EXISTS:
        return "already exists";
    case OG_ERR_BUSY:
        return "busy";
    }
    return "unknown error";
}

_Noreturn void og_oom(void)
{
    fputs("{\"level\":\"error\",\"msg\":\"out of memory\"}\n", stderr);
    abort();
}

void *og_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        og_oom();
    return p;
}

void *og_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        og_oom();
    return p;
}

void *og_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        og_oom();
    return q;
}

char *og_strndup(const char *s, size_t n)
{
    char *p = og_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *og_strdup(const char *s)
{
    return og_strndup(s, strlen(s));
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

bool span_eq_nocase(struct span a, struct span b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i]))
            return false;
    return true;
}

struct span span_trim_ows(struct span s)
{
    while (s.len && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s;
}

bool span_starts_with(struct span s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.p, prefix, n) == 0;
}

int og_parse_int(struct span s, long long min, long long max, long long *out)
{
    if (s.len == 0 || s.len > 20)
        return OG_ERR_INVALID;
    char tmp[24];
    memcpy(tmp, s.p, s.len);
    tmp[s.len] = '\0';
    if (!(tmp[0] == '-' || (tmp[0] >= '0' && tmp[0] <= '9')))
        return OG_ERR_INVALID;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno != 0 || end != tmp + s.len || v < min || v > max)
        return OG_ERR_INVALID;
    *out = v;
    return OG_OK;
}

void og_ip_limit_key(const char *ip, char *out, size_t outlen)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint8_t a[16];
    char text[INET6_ADDRSTRLEN];
    if (!ip || inet_pton(AF_INET6, ip, a) != 1) {
        snprintf(out, outlen, "%s", ip ? ip : "");
        return;
    }
    if (memcmp(a, mapped, sizeof(mapped)) == 0) {
        inet_ntop(AF_INET, a + 12, text, sizeof(text));
        snprintf(out, outlen, "%s", text);
        return;
    }
    memset(a + 8, 0, 8);
    inet_ntop(AF_INET6, a, text, sizeof(text));
    snprintf(out, outlen, "%s/64", text);
}

int og_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
