/* Open connections per client address, for OTPGATE_MAX_CONNECTIONS_PER_IP.
 * An IPv6 address counts by its /64, the block one host or household gets
 * (an attacker picks any of its 2^64 addresses at no cost). Loop thread
 * only; no I/O. */
#ifndef OTPGATE_PEERS_H
#define OTPGATE_PEERS_H

#include "core/common.h"

struct peers;

/* What connections are counted by: the address family and the IPv4
 * address, or the /64 of an IPv6 one. */
struct peer_key {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t b[8];
};

/* The key of addr (4 bytes for AF_INET, 16 for AF_INET6); IPv4-mapped
 * IPv6 addresses count as their IPv4 address. */
void peer_key_make(struct peer_key *k, int family, const uint8_t *addr);

struct peers *peers_new(void);
void peers_free(struct peers *p);
/* Connections counted for k now. */
unsigned peers_count(const struct peers *p, const struct peer_key *k);
/* Counts one more connection for k. */
void peers_add(struct peers *p, const struct peer_key *k);
/* Counts one connection of k less (one that peers_add counted). */
void peers_remove(struct peers *p, const struct peer_key *k);
/* Addresses with at least one connection (for tests). */
size_t peers_size(const struct peers *p);

#endif
