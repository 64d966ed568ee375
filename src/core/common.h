/* Shared vocabulary of every otpgate module: the project-wide error codes,
 * length-carrying strings (struct span), the allocation wrappers that abort
 * on out-of-memory, and a few small macros. No libuv, no HTTP here. */
#ifndef OTPGATE_COMMON_H
#define OTPGATE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

/* Functions return 0 on success or one of these negative codes. Domain
 * outcomes (a wrong code, an expired challenge) have their own enums. */
enum og_err {
    OG_OK = 0,
    OG_ERR_NOMEM = -1,
    OG_ERR_INVALID = -2, /* malformed input */
    OG_ERR_TOO_BIG = -3, /* input over a hard limit */
    OG_ERR_NOT_FOUND = -4,
    OG_ERR_IO = -5,     /* file or socket failure; errno says more */
    OG_ERR_DB = -6,     /* SQLite failure */
    OG_ERR_CRYPTO = -7, /* OpenSSL failure */
    OG_ERR_PERM = -8,   /* refused for safety (file mode, policy) */
    OG_ERR_EXISTS = -9,
    OG_ERR_BUSY = -10,
};

/* A name for an og_err, for logs and CLI messages. */
const char *og_strerror(int err);

/* A string that carries its length and need not be NUL-terminated. */
struct span {
    const char *p;
    size_t len;
};

#define SPAN_LIT(s) ((struct span){(s), sizeof(s) - 1})
#define SPAN_NULL   ((struct span){NULL, 0})

static inline struct span span_make(const char *p, size_t len)
{
    return (struct span){p, len};
}

static inline struct span span_cstr(const char *s)
{
    return (struct span){s, s ? strlen(s) : 0};
}

static inline bool span_eq(struct span a, struct span b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static inline bool span_eq_cstr(struct span a, const char *s)
{
    return span_eq(a, span_cstr(s));
}

/* ASCII case-insensitive comparison, as HTTP header names need. */
bool span_eq_nocase(struct span a, struct span b);
bool span_starts_with(struct span s, const char *prefix);
/* s without leading and trailing spaces and tabs (HTTP's OWS). */
struct span span_trim_ows(struct span s);

#define ARRAY_SIZE(a)                   (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define OG_UNUSED(x)                    ((void)(x))

/* Allocation that never returns NULL: out-of-memory aborts the process with
 * a message (h2o, Redis). Free with free(). */
void *og_malloc(size_t n);
void *og_calloc(size_t count, size_t n);
void *og_realloc(void *p, size_t n);
char *og_strdup(const char *s);
char *og_strndup(const char *s, size_t n);
_Noreturn void og_oom(void);

/* Parses a whole span as a base-10 integer within [min, max]. Returns 0 or
 * OG_ERR_INVALID; leading '+', spaces or trailing junk are refused. */
int og_parse_int(struct span s, long long min, long long max, long long *out);

/* The value of one hexadecimal digit (either case), or -1. */
int og_hex_value(char c);

/* The key a per-address limit counts by, into out (at least
 * OG_IP_KEY_LEN bytes): an IPv4 address as it is, an IPv4-mapped IPv6
 * one as its IPv4, any other IPv6 one as its /64 ("2001:db8:1:2::/64"),
 * since whoever holds a /64 can send from any of its 2^64 addresses.
 * Text that is no address is kept as it is (cut to fit). */
#define OG_IP_KEY_LEN 64
void og_ip_limit_key(const char *ip, char *out, size_t outlen);

#endif
