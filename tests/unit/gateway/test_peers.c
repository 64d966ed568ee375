/* Unit tests of gateway/http/peers.c, the open-connection count per client
 * address behind OTPGATE_MAX_CONNECTIONS_PER_IP: keys (IPv4, IPv6 by /64,
 * IPv4-mapped as IPv4), adding and removing, and many addresses at once
 * (the table grows and forgets addresses whose count is back to 0). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/http/peers.h"

#include <arpa/inet.h>
#include <stdio.h>

static struct peer_key key_of(const char *ip)
{
    uint8_t a[16];
    int family = strchr(ip, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(family, ip, a), 1);
    struct peer_key k;
    peer_key_make(&k, family, a);
    return k;
}

static unsigned count(const struct peers *p, const char *ip)
{
    struct peer_key k = key_of(ip);
    return peers_count(p, &k);
}

static void add(struct peers *p, const char *ip)
{
    struct peer_key k = key_of(ip);
    peers_add(p, &k);
}

static void del(struct peers *p, const char *ip)
{
    struct peer_key k = key_of(ip);
    peers_remove(p, &k);
}

static void test_counts_per_address(void **state)
{
    (void)state;
    struct peers *p = peers_new();
    assert_int_equal(count(p, "192.0.2.1"), 0);
    add(p, "192.0.2.1");
    add(p, "192.0.2.1");
    add(p, "192.0.2.2");
    assert_int_equal(count(p, "192.0.2.1"), 2);
    assert_int_equal(count(p, "192.0.2.2"), 1);
    assert_int_equal(count(p, "192.0.2.3"), 0);
    assert_int_equal(peers_size(p), 2);
    del(p, "192.0.2.1");
    assert_int_equal(count(p, "192.0.2.1"), 1);
    del(p, "192.0.2.1");
    assert_int_equal(count(p, "192.0.2.1"), 0);
    assert_int_equal(peers_size(p), 1);
    /* Removing what is not there changes nothing. */
    del(p, "192.0.2.1");
    del(p, "198.51.100.1");
    assert_int_equal(count(p, "192.0.2.2"), 1);
    peers_free(p);
    peers_free(NULL);
}

static void test_ipv6_counts_by_64(void **state)
{
    (void)state;
    struct peers *p = peers_new();
    add(p, "2001:db8:1:2::1");
    add(p, "2001:db8:1:2:ffff:ffff:ffff:ffff");
    add(p, "2001:db8:1:3::1");
    assert_int_equal(count(p, "2001:db8:1:2::99"), 2);
    assert_int_equal(count(p, "2001:db8:1:3::"), 1);
    assert_int_equal(count(p, "2001:db8:1:4::1"), 0);
    /* An IPv4-mapped peer is its IPv4 address, not ::ffff:0:0/64. */
    add(p, "::ffff:192.0.2.7");
    add(p, "::ffff:192.0.2.8");
    assert_int_equal(count(p, "192.0.2.7"), 1);
    assert_int_equal(count(p, "192.0.2.8"), 1);
    /* IPv4 0.0.0.1 and the IPv6 ::1 are different keys. */
    add(p, "0.0.0.1");
    assert_int_equal(count(p, "::1"), 0);
    peers_free(p);
}

static void test_many_addresses(void **state)
{
    (void)state;
    struct peers *p = peers_new();
    char ip[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        add(p, ip);
        if (i % 3 == 0)
            add(p, ip);
    }
    assert_int_equal(peers_size(p), 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        assert_int_equal(count(p, ip), i % 3 == 0 ? 2 : 1);
        del(p, ip);
    }
    assert_int_equal(peers_size(p), 1667);
    for (int i = 0; i < 5000; i += 3) {
        snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        del(p, ip);
    }
    assert_int_equal(peers_size(p), 0);
    peers_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_per_address),
        cmocka_unit_test(test_ipv6_counts_by_64),
        cmocka_unit_test(test_many_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
