/* The trusted-proxy walk over X-Forwarded-For / Forwarded: the one place
 * that decides a request's client address, which every per-IP limit, the
 * admin sign-in waits, the audit log and /metrics access rely on. Never
 * believes a header from a peer that is not a trusted proxy. */
#include "gateway/http/forwarded.h"

#include <arpa/inet.h>
#include <stdio.h>

/* An address in an aligned home, so it can be handed on as a struct
 * in_addr or in6_addr. */
union addr_bytes {
    struct in_addr v4;
    struct in6_addr v6;
    uint8_t b[16];
};

/* The last FORWARDED_MAX_HOPS list entries of a header, in order. */
struct entries {
    struct span e[FORWARDED_MAX_HOPS];
    size_t n; /* entries seen in all; only the last FORWARDED_MAX_HOPS are kept */
};

static void entries_push(struct entries *l, struct span s)
{
    s = span_trim_ows(s);
    if (s.len == 0)
        return; /* RFC 9110 §5.6.1: empty list elements do not count */
    l->e[l->n % FORWARDED_MAX_HOPS] = s;
    l->n++;
}

/* The i-th entry from the right (0 is the last), if it was kept. */
static bool entries_from_right(const struct entries *l, size_t i, struct span *out)
{
    if (i >= l->n || i >= FORWARDED_MAX_HOPS)
        return false;
    *out = l->e[(l->n - 1 - i) % FORWARDED_MAX_HOPS];
    return true;
}

/* Splits every line at the commas that are not inside a quoted string
 * (quotes only matter to Forwarded; X-Forwarded-For has none). A quote left
 * open runs to the end of its line, so that element is malformed. */
static void entries_split(struct entries *l, const struct span *lines, size_t count, bool quotes)
{
    for (size_t k = 0; k < count; k++) {
        struct span line = lines[k];
        if (line.len == 0)
            continue;
        size_t start = 0;
        bool quoted = false;
        for (size_t i = 0; i < line.len; i++) {
            char ch = line.p[i];
            if (quoted) {
                if (ch == '\\')
                    i++;
                else if (ch == '"')
                    quoted = false;
            } else if (ch == '"' && quotes) {
                quoted = true;
            } else if (ch == ',') {
                entries_push(l, span_make(line.p + start, i - start));
                start = i + 1;
            }
        }
        entries_push(l, span_make(line.p + start, line.len - start));
    }
}

static bool port_valid(struct span p)
{
    if (p.len == 0 || p.len > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < p.len; i++) {
        if (p.p[i] < '0' || p.p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p.p[i] - '0');
    }
    return v <= 65535;
}

bool forwarded_addr_parse(struct span s, int *family, uint8_t addr[16])
{
    s = span_trim_ows(s);
    struct span host = s;
    bool v6;
    if (s.len && s.p[0] == '[') {
        const char *close = memchr(s.p, ']', s.len);
        if (!close)
            return false;
        host = span_make(s.p + 1, (size_t)(close - s.p - 1));
        size_t rest = s.len - (size_t)(close + 1 - s.p);
        if (rest && (close[1] != ':' || !port_valid(span_make(close + 2, rest - 1))))
            return false;
        v6 = true;
    } else {
        const char *colon = s.len ? memchr(s.p, ':', s.len) : NULL;
        size_t after = colon ? s.len - (size_t)(colon + 1 - s.p) : 0;
        if (colon && !memchr(colon + 1, ':', after)) {
            /* One colon: an IPv4 address and its port. */
            if (!port_valid(span_make(colon + 1, after)))
                return false;
            host = span_make(s.p, (size_t)(colon - s.p));
            v6 = false;
        } else {
            v6 = colon != NULL;
        }
    }
    char tmp[INET6_ADDRSTRLEN];
    if (host.len == 0 || host.len >= sizeof tmp)
        return false;
    memcpy(tmp, host.p, host.len);
    tmp[host.len] = '\0';
    union addr_bytes a;
    if (!v6) {
        if (inet_pton(AF_INET, tmp, &a.v4) != 1)
            return false;
        *family = AF_INET;
        memcpy(addr, a.b, 4);
        return true;
    }
    if (inet_pton(AF_INET6, tmp, &a.v6) != 1)
        return false;
    if (IN6_IS_ADDR_V4MAPPED(&a.v6)) {
        *family = AF_INET;
        memcpy(addr, a.b + 12, 4);
    } else {
        *family = AF_INET6;
        memcpy(addr, a.b, 16);
    }
    return true;
}

static bool proto_set(struct span v, char out[6])
{
    v = span_trim_ows(v);
    if (span_eq_nocase(v, SPAN_LIT("http")))
        memcpy(out, "http", 5);
    else if (span_eq_nocase(v, SPAN_LIT("https")))
        memcpy(out, "https", 6);
    else
        return false;
    return true;
}

/* A Forwarded parameter value: a token, or a quoted string unescaped into
 * buf. False when it is neither (or too long to be an address). */
static bool param_value(struct span v, char *buf, size_t cap, struct span *out)
{
    if (v.len == 0)
        return false;
    if (v.p[0] != '"') {
        if (memchr(v.p, '"', v.len) || memchr(v.p, '\\', v.len))
            return false;
        *out = v;
        return true;
    }
    if (v.len < 2 || v.p[v.len - 1] != '"')
        return false;
    size_t n = 0;
    for (size_t i = 1; i + 1 < v.len; i++) {
        char ch = v.p[i];
        if (ch == '\\') {
            if (++i + 1 >= v.len)
                return false;
            ch = v.p[i];
        } else if (ch == '"') {
            return false;
        }
        if (n + 1 >= cap)
            return false;
        buf[n++] = ch;
    }
    *out = span_make(buf, n);
    return true;
}

/* One Forwarded element ("for=...;proto=...;by=..."): its for= address and
 * its proto= (or ""). False when for= is missing, repeated, "unknown", an
 * obfuscated identifier, or not an address, or a pair is malformed. */
static bool element_parse(struct span el, int *family, uint8_t addr[16], char proto[6])
{
    bool have_for = false, have_proto = false;
    proto[0] = '\0';
    size_t start = 0;
    bool quoted = false;
    for (size_t i = 0; i <= el.len; i++) {
        if (i < el.len) {
            char ch = el.p[i];
            if (quoted) {
                if (ch == '\\')
                    i++;
                else if (ch == '"')
                    quoted = false;
                continue;
            }
            if (ch == '"') {
                quoted = true;
                continue;
            }
            if (ch != ';')
                continue;
        }
        struct span pair = span_trim_ows(span_make(el.p + start, i - start));
        start = i + 1;
        if (pair.len == 0)
            continue;
        const char *eq = memchr(pair.p, '=', pair.len);
        if (!eq)
            return false;
        struct span name = span_trim_ows(span_make(pair.p, (size_t)(eq - pair.p)));
        struct span raw = span_trim_ows(span_make(eq + 1, pair.len - (size_t)(eq + 1 - pair.p)));
        char buf[64];
        struct span value;
        if (!param_value(raw, buf, sizeof buf, &value))
            return false;
        if (span_eq_nocase(name, SPAN_LIT("for"))) {
            if (have_for || value.len == 0 || value.p[0] == '_' ||
                span_eq_nocase(value, SPAN_LIT("unknown")) ||
                !forwarded_addr_parse(value, family, addr))
                return false;
            have_for = true;
        } else if (span_eq_nocase(name, SPAN_LIT("proto"))) {
            if (have_proto)
                return false;
            have_proto = true;
            proto_set(value, proto);
        }
    }
    return have_for && !quoted;
}

static void addr_text(int family, const uint8_t addr[16], char out[FORWARDED_IP_LEN])
{
    union addr_bytes a;
    memcpy(a.b, addr, family == AF_INET ? 4 : 16);
    if (!inet_ntop(family, family == AF_INET ? (const void *)&a.v4 : (const void *)&a.v6, out,
                   FORWARDED_IP_LEN))
        out[0] = '\0';
}

static bool trusted_addr(const struct config_cidr *trusted, size_t n, int family,
                         const uint8_t addr[16])
{
    union addr_bytes a;
    memset(&a, 0, sizeof a);
    memcpy(a.b, addr, family == AF_INET ? 4 : 16);
    return config_cidrs_contain(trusted, n, family,
                                family == AF_INET ? (const void *)&a.v4 : (const void *)&a.v6);
}

/* X-Forwarded-Proto lines up with X-Forwarded-For from the right; a proxy
 * that replaces it rather than appending leaves one value, which is then
 * the one. pos is the client entry's place from the right. */
static void xfp_pick(const struct forwarded_headers *h, size_t pos, char proto[6])
{
    struct entries l = {.n = 0};
    entries_split(&l, h->proto, h->proto_count, false);
    struct span v;
    if (l.n == 1)
        pos = 0;
    if (entries_from_right(&l, pos, &v))
        proto_set(v, proto);
}

void forwarded_resolve(const char *peer, const struct forwarded_headers *h,
                       const struct config_cidr *trusted, size_t trusted_count,
                       struct forwarded_client *out)
{
    memset(out, 0, sizeof *out);
    bool claims = h && (h->xff_count > 0 || h->forwarded_count > 0);
    int family;
    uint8_t addr[16] = {0};
    if (!peer || !forwarded_addr_parse(span_cstr(peer), &family, addr)) {
        snprintf(out->ip, sizeof out->ip, "%s", peer ? peer : "");
        out->ignored = claims;
        return;
    }
    addr_text(family, addr, out->ip);
    if (!trusted_addr(trusted, trusted_count, family, addr)) {
        out->ignored = claims;
        return;
    }
    if (!claims)
        return;

    bool xff = h->xff_count > 0;
    struct entries l = {.n = 0};
    if (xff)
        entries_split(&l, h->xff, h->xff_count, false);
    else
        entries_split(&l, h->forwarded, h->forwarded_count, true);
    /* Here the address reached so far is a trusted proxy: believe what it
     * says came before it. */
    for (size_t i = 0;; i++) {
        struct span e;
        if (!entries_from_right(&l, i, &e))
            break;
        int nf;
        uint8_t na[16] = {0};
        char proto[6] = "";
        if (xff ? !forwarded_addr_parse(e, &nf, na) : !element_parse(e, &nf, na, proto))
            break;
        family = nf;
        memcpy(addr, na, sizeof addr);
        out->hops = (unsigned)(i + 1);
        memcpy(out->proto, proto, sizeof out->proto);
        if (!trusted_addr(trusted, trusted_count, family, addr))
            break;
    }
    addr_text(family, addr, out->ip);
    if (xff && out->hops > 0)
        xfp_pick(h, out->hops - 1, out->proto);
}
