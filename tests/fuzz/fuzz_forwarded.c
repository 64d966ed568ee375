/* Fuzzes forwarded_resolve and forwarded_addr_parse (src/gateway/http/forwarded.c),
 * which read X-Forwarded-For, Forwarded and X-Forwarded-Proto from every
 * request that comes through a trusted proxy. Input: lines split at '\n';
 * the first is the peer address, each further one a header line whose first
 * byte picks the header ('x' X-Forwarded-For, 'f' Forwarded, 'p'
 * X-Forwarded-Proto; others are skipped). The trusted proxies are fixed:
 * 10.0.0.0/8, 127.0.0.1, ::1, 2001:db8::/32, 192.0.2.0/24.
 * Asserts: the client address is NUL-terminated and, unless the peer did not
 * parse, an address that parses back to its own spelling; it is the peer
 * when nothing was walked; an untrusted peer reads nothing; headers are
 * reported ignored only when X-Forwarded-For or Forwarded came; the walk
 * never passes more than FORWARDED_MAX_HOPS hops; the proto is "", "http"
 * or "https". */
#include "fuzz.h"

#include "gateway/http/forwarded.h"

#include <arpa/inet.h>

#define FUZZ_MAX_LINES 64

static const struct config_cidr *trusted(size_t *count)
{
    static struct config cfg;
    static bool ready;
    if (!ready) {
        char *envp[] = {"OTPGATE_TRUSTED_PROXIES=10.0.0.0/8 127.0.0.1 ::1 2001:db8::/32 "
                        "192.0.2.0/24",
                        NULL};
        char err[256];
        FUZZ_CHECK(config_load(&cfg, NULL, envp, err, sizeof err) == OG_OK);
        ready = true;
    }
    *count = cfg.trusted_proxy_count;
    return cfg.trusted_proxies;
}

static bool is_trusted(const struct config_cidr *list, size_t n, const char *ip)
{
    int family;
    uint8_t a[16];
    if (!forwarded_addr_parse(span_cstr(ip), &family, a))
        return false;
    union {
        struct in_addr v4;
        struct in6_addr v6;
    } u;
    memcpy(&u, a, family == AF_INET ? 4 : 16);
    return config_cidrs_contain(list, n, family, &u);
}

/* The canonical spelling of an address, or "" when it does not parse. */
static void canonical(const char *in, char out[64])
{
    int family;
    uint8_t a[16];
    out[0] = '\0';
    if (forwarded_addr_parse(span_cstr(in), &family, a))
        FUZZ_CHECK(inet_ntop(family, a, out, 64) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    struct span xff[FUZZ_MAX_LINES], fwd[FUZZ_MAX_LINES], xfp[FUZZ_MAX_LINES];
    struct forwarded_headers h = {xff, 0, fwd, 0, xfp, 0};
    char *peer = text;
    char *line = strchr(text, '\n');
    if (line)
        *line++ = '\0';
    while (line) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        struct span v = line[0] ? span_cstr(line + 1) : SPAN_NULL;
        if (line[0] == 'x' && h.xff_count < FUZZ_MAX_LINES)
            xff[h.xff_count++] = v;
        else if (line[0] == 'f' && h.forwarded_count < FUZZ_MAX_LINES)
            fwd[h.forwarded_count++] = v;
        else if (line[0] == 'p' && h.proto_count < FUZZ_MAX_LINES)
            xfp[h.proto_count++] = v;
        line = next;
    }

    size_t ntrusted;
    const struct config_cidr *list = trusted(&ntrusted);
    struct forwarded_client out;
    memset(&out, 'Z', sizeof out);
    forwarded_resolve(peer, &h, list, ntrusted, &out);

    FUZZ_CHECK(memchr(out.ip, '\0', sizeof out.ip) != NULL);
    FUZZ_CHECK(strcmp(out.proto, "") == 0 || strcmp(out.proto, "http") == 0 ||
               strcmp(out.proto, "https") == 0);
    FUZZ_CHECK(out.hops <= FORWARDED_MAX_HOPS);
    bool claims = h.xff_count > 0 || h.forwarded_count > 0;
    FUZZ_CHECK(!out.ignored || claims);

    char peer_canon[64], ip_canon[64];
    canonical(peer, peer_canon);
    if (peer_canon[0] == '\0') {
        /* A peer that does not parse is the client, as it is. */
        FUZZ_CHECK(strncmp(out.ip, peer, sizeof out.ip - 1) == 0);
        FUZZ_CHECK(out.hops == 0);
    } else {
        canonical(out.ip, ip_canon);
        FUZZ_CHECK(strcmp(ip_canon, out.ip) == 0);
        bool peer_trusted = is_trusted(list, ntrusted, peer);
        if (!peer_trusted) {
            FUZZ_CHECK(out.hops == 0);
            FUZZ_CHECK(out.ignored == claims);
        } else {
            FUZZ_CHECK(!out.ignored);
        }
        if (out.hops == 0) {
            FUZZ_CHECK(strcmp(out.ip, peer_canon) == 0);
            FUZZ_CHECK(out.proto[0] == '\0');
        }
    }

    /* The address parser on each header line whole. */
    for (size_t i = 0; i < h.xff_count; i++) {
        int family = 0;
        uint8_t a[16];
        if (forwarded_addr_parse(xff[i], &family, a))
            FUZZ_CHECK(family == AF_INET || family == AF_INET6);
    }
    free(text);
    return 0;
}
