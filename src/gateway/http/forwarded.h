/* Who sent a request, as the reverse proxies in front say (SPEC §3
 * OTPGATE_TRUSTED_PROXIES): X-Forwarded-For, every line joined in order
 * (RFC 9110 §5.3), or Forwarded (RFC 7239) when there is no
 * X-Forwarded-For, walked from the right past trusted proxies. Pure: no
 * I/O and no allocation, so it is unit-tested and fuzzed on its own. */
#ifndef OTPGATE_FORWARDED_H
#define OTPGATE_FORWARDED_H

#include "core/common.h"
#include "core/config.h"

#define FORWARDED_IP_LEN 46
/* Entries looked at, counted from the right: a deeper chain of trusted
 * proxies is not believed past this many (the walk stops there). */
#define FORWARDED_MAX_HOPS 32

/* The forwarding header lines of one request, each list in the order the
 * lines came; a count of 0 means the header is absent. The spans are
 * borrowed for the call. */
struct forwarded_headers {
    const struct span *xff; /* X-Forwarded-For */
    size_t xff_count;
    const struct span *forwarded; /* Forwarded */
    size_t forwarded_count;
    const struct span *proto; /* X-Forwarded-Proto */
    size_t proto_count;
};

struct forwarded_client {
    char ip[FORWARDED_IP_LEN]; /* canonical text; IPv4-mapped IPv6 as IPv4 */
    char proto[6];             /* "http" or "https" as the client-facing proxy saw it, or "" */
    unsigned hops;             /* trusted proxies walked past (0: the peer is the client) */
    /* X-Forwarded-For or Forwarded was sent but not read, because the peer
     * is not a trusted proxy: someone may be claiming another address. */
    bool ignored;
};

/* Resolves the client of a request that came from peer (the connection's
 * address as text: IPv4, IPv6 or IPv4-mapped) with headers h, believing
 * only the proxies in trusted[0..trusted_count). Only when the peer is
 * trusted is any header read; then the walk goes from the right: an entry
 * that is a trusted proxy is passed, the first one that is not is the
 * client. A malformed entry (not an address; "unknown", an obfuscated
 * identifier, an element without for=) stops the walk, and so does running
 * out of entries: the last address reached, said by a trusted hop, is the
 * client. Entries may carry ports (1.2.3.4:80, [2001:db8::1]:443). A peer
 * that does not parse is copied as it is. Fills *out; never fails. */
void forwarded_resolve(const char *peer, const struct forwarded_headers *h,
                       const struct config_cidr *trusted, size_t trusted_count,
                       struct forwarded_client *out);

/* Parses one address as the forwarding headers write it: IPv4, IPv6, either
 * with a port ("1.2.3.4:80", "[::1]:443", "[::1]"), surrounding spaces and
 * tabs allowed. On success sets *family (AF_INET or AF_INET6, IPv4-mapped
 * IPv6 turned into AF_INET) and addr (4 or 16 bytes) and returns true. */
bool forwarded_addr_parse(struct span s, int *family, uint8_t addr[16]);

#endif
