/* A small hash table from client address to its number of open
 * connections: found and changed once per accept and close, so the
 * per-address cap costs the same with ten connections or ten thousand. */
#include "gateway/http/peers.h"

#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <sys/socket.h>

#define PEERS_MIN_BUCKETS 256

struct peer_entry {
    struct peer_entry *next;
    struct peer_key key;
    unsigned count;
};

struct peers {
    struct peer_entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t size;     /* entries */
    uint64_t seed;   /* so nobody can pick addresses that share a bucket */
};

void peer_key_make(struct peer_key *k, int family, const uint8_t *addr)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(k, 0, sizeof *k);
    if (family == AF_INET6 && memcmp(addr, mapped, sizeof mapped) == 0) {
        family = AF_INET;
        addr += 12;
    }
    k->family = (uint8_t)family;
    memcpy(k->b, addr, family == AF_INET ? 4 : 8);
}

static size_t key_hash(const struct peers *p, const struct peer_key *k)
{
    uint64_t h = p->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(k->family + 1));
    for (size_t i = 0; i < sizeof k->b; i++) {
        h ^= k->b[i];
        h *= 0x100000001b3ULL;
        h ^= h >> 29;
    }
    return (size_t)(h & (p->nbuckets - 1));
}

static bool key_eq(const struct peer_key *a, const struct peer_key *b)
{
    return a->family == b->family && memcmp(a->b, b->b, sizeof a->b) == 0;
}

struct peers *peers_new(void)
{
    struct peers *p = og_calloc(1, sizeof *p);
    p->nbuckets = PEERS_MIN_BUCKETS;
    p->buckets = og_calloc(p->nbuckets, sizeof *p->buckets);
    if (RAND_bytes((unsigned char *)&p->seed, sizeof p->seed) != 1)
        p->seed = (uint64_t)(uintptr_t)p ^ 0x5bd1e995ULL;
    return p;
}

void peers_free(struct peers *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nbuckets; i++) {
        struct peer_entry *e = p->buckets[i];
        while (e) {
            struct peer_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(p->buckets);
    free(p);
}

static struct peer_entry **slot(const struct peers *p, const struct peer_key *k)
{
    struct peer_entry **at = &p->buckets[key_hash(p, k)];
    while (*at && !key_eq(&(*at)->key, k))
        at = &(*at)->next;
    return at;
}

unsigned peers_count(const struct peers *p, const struct peer_key *k)
{
    struct peer_entry *e = *slot(p, k);
    return e ? e->count : 0;
}

static void grow(struct peers *p)
{
    size_t old_n = p->nbuckets;
    struct peer_entry **old = p->buckets;
    p->nbuckets = old_n * 2;
    p->buckets = og_calloc(p->nbuckets, sizeof *p->buckets);
    for (size_t i = 0; i < old_n; i++) {
        struct peer_entry *e = old[i];
        while (e) {
            struct peer_entry *next = e->next;
            size_t b = key_hash(p, &e->key);
            e->next = p->buckets[b];
            p->buckets[b] = e;
            e = next;
        }
    }
    free(old);
}

void peers_add(struct peers *p, const struct peer_key *k)
{
    struct peer_entry **at = slot(p, k);
    if (*at) {
        (*at)->count++;
        return;
    }
    struct peer_entry *e = og_calloc(1, sizeof *e);
    e->key = *k;
    e->count = 1;
    *at = e;
    if (++p->size > p->nbuckets * 2)
        grow(p);
}

void peers_remove(struct peers *p, const struct peer_key *k)
{
    struct peer_entry **at = slot(p, k);
    struct peer_entry *e = *at;
    if (!e)
        return;
    if (--e->count == 0) {
        *at = e->next;
        free(e);
        p->size--;
    }
}

size_t peers_size(const struct peers *p)
{
    return p->size;
}
