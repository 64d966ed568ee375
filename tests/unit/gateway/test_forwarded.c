/* Unit tests of gateway/http/forwarded.c: the trusted-proxy walk over every
 * X-Forwarded-For line (RFC 9110 §5.3) and over Forwarded (RFC 7239), from
 * the right, with its stops (untrusted entry, malformed entry, the end of
 * the list, the depth cap), ports and brackets, X-Forwarded-Proto, and the
 * address parser on its own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/http/forwarded.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 80

/* One case: the trusted CIDRs (OTPGATE_TRUSTED_PROXIES syntax), the peer
 * and the header lines, each "X: value" (X-Forwarded-For), "F: value"
 * (Forwarded) or "P: value" (X-Forwarded-Proto). */
struct walk {
    struct config cfg;
    struct span xff[MAX_LINES], fwd[MAX_LINES], xfp[MAX_LINES];
    struct forwarded_headers h;
    struct forwarded_client out;
};

static void trust(struct walk *w, const char *cidrs)
{
    char env[512];
    snprintf(env, sizeof env, "OTPGATE_TRUSTED_PROXIES=%s", cidrs);
    char *envp[] = {env, NULL};
    char err[256];
    config_free(&w->cfg);
    assert_int_equal(config_load(&w->cfg, NULL, cidrs ? envp : NULL, err, sizeof err), OG_OK);
}

static void add_line(struct walk *w, const char *line)
{
    struct span v = span_cstr(line + 3);
    assert_true(strlen(line) >= 3 && line[1] == ':' && line[2] == ' ');
    if (line[0] == 'X')
        w->xff[w->h.xff_count++] = v;
    else if (line[0] == 'F')
        w->fwd[w->h.forwarded_count++] = v;
    else if (line[0] == 'P')
        w->xfp[w->h.proto_count++] = v;
    else
        fail_msg("bad line kind in '%s'", line);
}

/* Resolves peer with the NULL-terminated header lines; returns the client. */
static const char *resolve(struct walk *w, const char *peer, ...)
{
    memset(&w->h, 0, sizeof w->h);
    w->h.xff = w->xff;
    w->h.forwarded = w->fwd;
    w->h.proto = w->xfp;
    va_list ap;
    va_start(ap, peer);
    for (const char *l; (l = va_arg(ap, const char *)) != NULL;)
        add_line(w, l);
    va_end(ap);
    forwarded_resolve(peer, &w->h, w->cfg.trusted_proxies, w->cfg.trusted_proxy_count, &w->out);
    return w->out.ip;
}

#define RESOLVE(w, peer, ...) resolve((w), (peer), ##__VA_ARGS__, (const char *)NULL)

static int setup(void **state)
{
    struct walk *w = calloc(1, sizeof *w);
    assert_non_null(w);
    trust(w, NULL);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct walk *w = *state;
    config_free(&w->cfg);
    free(w);
    return 0;
}

/* ---- who is believed ---- */

static void test_no_trusted_proxies_reads_nothing(void **state)
{
    struct walk *w = *state;
    assert_string_equal(RESOLVE(w, "198.51.100.4", "X: 203.0.113.7"), "198.51.100.4");
    assert_true(w->out.ignored);
    assert_int_equal(w->out.hops, 0);
    assert_string_equal(RESOLVE(w, "198.51.100.4", "F: for=203.0.113.7"), "198.51.100.4");
    assert_true(w->out.ignored);
    /* X-Forwarded-Proto alone claims no address. */
    assert_string_equal(RESOLVE(w, "198.51.100.4", "P: https"), "198.51.100.4");
    assert_false(w->out.ignored);
    assert_string_equal(w->out.proto, "");
    assert_string_equal(RESOLVE(w, "198.51.100.4"), "198.51.100.4");
    assert_false(w->out.ignored);
}

static void test_untrusted_peer_is_the_client(void **state)
{
    struct walk *w = *state;
    trust(w, "10.0.0.0/8");
    /* A client that talks to otpgate directly and claims to be a proxy. */
    assert_string_equal(RESOLVE(w, "198.51.100.4", "X: 10.0.0.9, 203.0.113.7", "P: https"),
                        "198.51.100.4");
    assert_true(w->out.ignored);
    assert_string_equal(w->out.proto, "");
    /* The same from the trusted proxy is believed. */
    assert_string_equal(RESOLVE(w, "10.0.0.1", "X: 10.0.0.9, 203.0.113.7"), "203.0.113.7");
    assert_false(w->out.ignored);
    assert_int_equal(w->out.hops, 1);
    /* A trusted peer without the headers is the client. */
    assert_string_equal(RESOLVE(w, "10.0.0.1"), "10.0.0.1");
    assert_int_equal(w->out.hops, 0);
}

/* ---- X-Forwarded-For ---- */

/* The attack of issue #10: the client sends its own X-Forwarded-For line;
 * a proxy that adds a line of its own (HAProxy option forwardfor, several
 * nginx setups) leaves the forged one first. */
static void test_every_line_is_read_from_the_right(void **state)
{
    struct walk *w = *state;
    trust(w, "127.0.0.1");
    assert_string_equal(RESOLVE(w, "127.0.0.1", "X: 6.6.6.6", "X: 203.0.113.7"), "203.0.113.7");
    assert_string_equal(RESOLVE(w, "127.0.0.1", "X: 6.6.6.6, 7.7.7.7", "X: 203.0.113.7"),
                        "203.0.113.7");
    /* One line, the proxy's entry appended: the same. */
    assert_string_equal(RESOLVE(w, "127.0.0.1", "X: 6.6.6.6, 203.0.113.7"), "203.0.113.7");
    /* Other headers between the lines change nothing. */
    assert_string_equal(RESOLVE(w, "127.0.0.1", "X: 6.6.6.6", "P: https", "X: 203.0.113.8"),
                        "203.0.113.8");
}

static void test_chain_of_trusted_proxies(void **state)
{
    struct walk *w = *state;
    trust(w, "10.0.0.0/8, 192.168.1.5");
    assert_string_equal(RESOLVE(w, "10.0.0.1", "X: 1.1.1.1, 203.0.113.9, 192.168.1.5, 10.0.0.2"),
                        "203.0.113.9");
    assert_int_equal(w->out.hops, 3);
    assert_string_equal(RESOLVE(w, "10.0.0.1", "X: 1.1.1.1, 203.0.113.9", "X: 10.0.0.2"),
                        "203.0.113.9");
    /* Only trusted addresses: the leftmost one the proxies vouch for. */
    assert_string_equal(RESOLVE(w, "10.0.0.1", "X: 10.0.0.3, 10.0.0.2"), "10.0.0.3");
    assert_int_equal(w->out.hops, 2);
    /* Empty list elements do not count (RFC 9110 §5.6.1). */
    assert_string_equal(RESOLVE(w, "10.0.0.1", "X: 203.0.113.9, , 10.0.0.2,", "X: "),
                        "203.0.113.9");
    assert_string_equal(RESOLVE(w, "10.0.0.1", "X: ,,"), "10.0.0.1");
}

static void test_malformed_entry_stops_the_walk(void **state)
{
    struct walk *w = *state;
    trust(w, "10.0.0.0/8");
    /* The last trusted hop's view wins: the address right of the garbage. */
    static const char *const garbage[] = {
        "garbage",       "unknown",  "_hidden",   "1.2.3",    "300.1.1.1",
        "1.2.3.4:99999", "[::1",     "[1.2.3.4]", "::1%eth0", "1.2.3.4 5.6.7.8",
        "\"1.2.3.4\"",   "1.2.3.4:", "[::1]:x",
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "X: 203.0.113.5, %s, 10.0.0.2", garbage[i]);
        const char *ip = RESOLVE(w, "10.0.0.1", line);
        if (strcmp(ip, "10.0.0.2") != 0)
            fail_msg("'%s' gave %s", garbage[i], ip);
        snprintf(line, sizeof line, "X: 203.0.113.5, %s", garbage[i]);
        assert_string_equal(RESOLVE(w, "10.0.0.1", line), "10.0.0.1");
        assert_int_equal(w->out.hops, 0);
    }
}

static void test_addresses_with_ports_and_brackets(void **state)
{
    struct walk *w = *state;
    trust(w, "::1, 127.0.0.1");
    assert_string_equal(RESOLVE(w, "::1", "X: 2001:db8::1"), "2001:db8::1");
    assert_string_equal(RESOLVE(w, "::1", "X: [2001:db8::2]:443"), "2001:db8::2");
    assert_string_equal(RESOLVE(w, "::1", "X: [2001:db8::2]"), "2001:db8::2");
    assert_string_equal(RESOLVE(w, "::1", "X: 2001:DB8:0:0::3"), "2001:db8::3");
    assert_string_equal(RESOLVE(w, "::1", "X: 203.0.113.7:5678"), "203.0.113.7");
    assert_string_equal(RESOLVE(w, "::1", "X: ::ffff:203.0.113.8"), "203.0.113.8");
    assert_string_equal(RESOLVE(w, "::1", "X: \t203.0.113.9\t"), "203.0.113.9");
    /* A dual-stack socket's IPv4 peer matches the IPv4 CIDRs and is
     * written as IPv4. */
    assert_string_equal(RESOLVE(w, "::ffff:127.0.0.1", "X: 203.0.113.10"), "203.0.113.10");
    assert_string_equal(RESOLVE(w, "::ffff:198.51.100.1"), "198.51.100.1");
    /* A trusted IPv4 entry in an IPv6 chain is passed too. */
    assert_string_equal(RESOLVE(w, "::1", "X: 203.0.113.11, ::ffff:127.0.0.1"), "203.0.113.11");
    /* A peer that does not parse is kept as it is, and nothing is read. */
    assert_string_equal(RESOLVE(w, "", "X: 203.0.113.7"), "");
    assert_true(w->out.ignored);
}

static void test_depth_is_capped(void **state)
{
    struct walk *w = *state;
    trust(w, "10.0.0.0/8");
    /* 40 trusted hops, the client left of them all: only the last
     * FORWARDED_MAX_HOPS are walked. */
    char line[1024];
    size_t n = (size_t)snprintf(line, sizeof line, "X: 203.0.113.7");
    for (int i = 40; i >= 1; i--)
        n += (size_t)snprintf(line + n, sizeof line - n, ", 10.0.0.%d", i);
    assert_true(n < sizeof line);
    assert_string_equal(RESOLVE(w, "10.0.0.100", line), "10.0.0.32");
    assert_int_equal(w->out.hops, FORWARDED_MAX_HOPS);
    /* Many lines before the real one are no trouble. */
    static char lines[MAX_LINES][24];
    struct walk *v = w;
    memset(&v->h, 0, sizeof v->h);
    v->h.xff = v->xff;
    for (int i = 0; i < MAX_LINES - 1; i++) {
        snprintf(lines[i], sizeof lines[i], "6.6.%d.%d", i / 200, i % 200);
        v->xff[v->h.xff_count++] = span_cstr(lines[i]);
    }
    v->xff[v->h.xff_count++] = span_cstr("203.0.113.77");
    forwarded_resolve("10.0.0.1", &v->h, v->cfg.trusted_proxies, v->cfg.trusted_proxy_count,
                      &v->out);
    assert_string_equal(v->out.ip, "203.0.113.77");
}

/* ---- Forwarded ---- */

static void test_forwarded_header(void **state)
{
    struct walk *w = *state;
    trust(w, "10.0.0.0/8");
    assert_string_equal(RESOLVE(w, "10.0.0.1", "F: for=192.0.2.60;proto=https;by=203.0.113.43"),
                        "192.0.2.60");
    assert_string_equal(w->out.proto, "https");
    assert_int_equal(w->out.hops, 1);
    assert_string_equal(RESOLVE(w, "10.0.0.1", "F: for=\"[2001:db8:cafe::17]:4711\""),
                        "2001:db8:cafe::17");
    assert_string_equal(w->out.proto, "");
    assert_string_equal(RESOLVE(w, "10.0.0.1", "F: For=\"192.0.2.43:47011\""), "192.0.2.43");
    /* RFC 7239 §7.1's examples: several elements, several lines. */
    assert_string_equal(RESOLVE(w, "10.0.0.1", "F: for=192.0.2.43, for=198.51.100.17"),
                        "198.51.100.17");
    assert_string_equal(RESOLVE(w, "10.0.0.1", "F: for=192.0.2.43", "F: for=10.0.0.7;proto=http"),
                        "192.0.2.43");
    assert_int_equal(w->out.hops, 2);
    /* Commas and semicolons inside quoted strings do not split. */
    assert_string_equal(RESOLVE(w, "10.0.0.1", "F: for=\"[2001:db8::1]\";ext=\"a,b;c\"",
                                "F: for=10.0.0.2;host=\"x,y\""),
                        "2001:db8::1");
    assert_string_equal(RESOLVE(w, "10.0.0.1", "F: for=\"192.0.2.\\44\""), "192.0.2.44");
    /* Obfuscated, unknown, missing or repeated for= stops the walk. */
    static const char *const bad[] = {
        "F: for=_gazonk",
        "F: For=\"_gazonk\"",
        "F: for=unknown",
        "F: proto=https",
        "F: for=1.2.3.4;for=5.6.7.8",
        "F: for=1.2.3.4;x=a\\b",
        "F: for=2001:db8::1x",
        "F: for=\"[2001:db8::1]:_p\"",
        "F: for",
        "F: for=1.2.3.4;proto=https;proto=http",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "%s, for=10.0.0.9", bad[i]);
        const char *ip = RESOLVE(w, "10.0.0.1", line);
        if (strcmp(ip, "10.0.0.9") != 0)
            fail_msg("'%s' gave %s", bad[i], ip);
    }
    /* A quote left open swallows the rest of its line: one malformed
     * element, so nothing but the peer is believed. */
    assert_string_equal(RESOLVE(w, "10.0.0.1", "F: for=\"1.2.3.4, for=10.0.0.9"), "10.0.0.1");
    assert_string_equal(RESOLVE(w, "10.0.0.1", "F: for=\"1.2.3.4", "F: for=203.0.113.1"),
                        "203.0.113.1");
    /* Not from a trusted peer: not read. */
    assert_string_equal(RESOLVE(w, "198.51.100.1", "F: for=192.0.2.60"), "198.51.100.1");
    assert_true(w->out.ignored);
}

static void test_x_forwarded_for_wins_over_forwarded(void **state)
{
    struct walk *w = *state;
    trust(w, "10.0.0.0/8");
    assert_string_equal(RESOLVE(w, "10.0.0.1", "F: for=192.0.2.1", "X: 203.0.113.2"),
                        "203.0.113.2");
    assert_string_equal(RESOLVE(w, "10.0.0.1", "X: 203.0.113.2", "F: for=192.0.2.1"),
                        "203.0.113.2");
}

/* ---- X-Forwarded-Proto ---- */

static void test_forwarded_proto(void **state)
{
    struct walk *w = *state;
    trust(w, "10.0.0.0/8");
    assert_string_equal(RESOLVE(w, "10.0.0.1", "X: 203.0.113.7", "P: https"), "203.0.113.7");
    assert_string_equal(w->out.proto, "https");
    /* Appended values line up with the addresses from the right. */
    RESOLVE(w, "10.0.0.1", "X: 203.0.113.7, 10.0.0.2", "P: https, http");
    assert_string_equal(w->out.proto, "https");
    RESOLVE(w, "10.0.0.1", "X: 6.6.6.6", "X: 203.0.113.7", "P: http", "P: HTTPS");
    assert_string_equal(w->out.proto, "https");
    /* A proxy that replaces the header leaves one value: that one. */
    RESOLVE(w, "10.0.0.1", "X: 203.0.113.7, 10.0.0.2", "P: https");
    assert_string_equal(w->out.proto, "https");
    /* Fewer values than hops, or not a scheme: unknown. */
    RESOLVE(w, "10.0.0.1", "X: 203.0.113.7, 10.0.0.2, 10.0.0.3", "P: http, https");
    assert_string_equal(w->out.proto, "");
    RESOLVE(w, "10.0.0.1", "X: 203.0.113.7", "P: gopher");
    assert_string_equal(w->out.proto, "");
    /* No hop: the connection itself, which otpgate knows. */
    RESOLVE(w, "10.0.0.1", "P: https");
    assert_string_equal(w->out.proto, "");
}

/* ---- the address parser ---- */

static void test_addr_parse(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int family; /* 0: refused */
        const char *text;
    } cases[] = {
        {"192.0.2.1", AF_INET, "192.0.2.1"},
        {" 192.0.2.1:80 ", AF_INET, "192.0.2.1"},
        {"192.0.2.1:0", AF_INET, "192.0.2.1"},
        {"192.0.2.1:65535", AF_INET, "192.0.2.1"},
        {"::1", AF_INET6, "::1"},
        {"[::1]", AF_INET6, "::1"},
        {"[::1]:8080", AF_INET6, "::1"},
        {"fe80::1", AF_INET6, "fe80::1"},
        {"::ffff:10.1.2.3", AF_INET, "10.1.2.3"},
        {"[::ffff:10.1.2.3]:9", AF_INET, "10.1.2.3"},
        {"", 0, NULL},
        {" ", 0, NULL},
        {"1.2.3", 0, NULL},
        {"1.2.3.4.5", 0, NULL},
        {"1.2.3.4:", 0, NULL},
        {"1.2.3.4:65536", 0, NULL},
        {"1.2.3.4:123456", 0, NULL},
        {"1.2.3.4:-1", 0, NULL},
        {"[::1", 0, NULL},
        {"[::1]:", 0, NULL},
        {"[::1]80", 0, NULL},
        {"[]", 0, NULL},
        {"[1.2.3.4]", 0, NULL},
        {"::1%lo", 0, NULL},
        {"localhost", 0, NULL},
        {"unknown", 0, NULL},
        {"1.2.3.4, 5.6.7.8", 0, NULL},
        {"1:2:3:4:5:6:7:8:9", 0, NULL},
        {"[::1]:80:80", 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int family = -1;
        uint8_t addr[16];
        bool ok = forwarded_addr_parse(span_cstr(cases[i].in), &family, addr);
        if (ok != (cases[i].family != 0))
            fail_msg("'%s': parse gave %d", cases[i].in, ok);
        if (!ok)
            continue;
        assert_int_equal(family, cases[i].family);
        char text[64];
        assert_non_null(inet_ntop(family, addr, text, sizeof text));
        assert_string_equal(text, cases[i].text);
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_no_trusted_proxies_reads_nothing),
        T(test_untrusted_peer_is_the_client),
        T(test_every_line_is_read_from_the_right),
        T(test_chain_of_trusted_proxies),
        T(test_malformed_entry_stops_the_walk),
        T(test_addresses_with_ports_and_brackets),
        T(test_depth_is_capped),
        T(test_forwarded_header),
        T(test_x_forwarded_for_wins_over_forwarded),
        T(test_forwarded_proto),
        T(test_addr_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
