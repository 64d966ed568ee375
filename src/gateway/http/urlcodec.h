/* Decoding of what arrives in URLs, HTML forms and cookies: percent-decoding,
 * application/x-www-form-urlencoded pairs, request-target splitting and
 * Cookie header lookup. Pure functions over spans; no libuv, no I/O. */
#ifndef OTPGATE_URLCODEC_H
#define OTPGATE_URLCODEC_H

#include "core/arena.h"
#include "core/buf.h"
#include "core/common.h"

/* Percent-decodes in into fresh arena memory, NUL-terminated after out->len
 * bytes; with plus_as_space a '+' becomes ' ' (form and query values).
 * Returns OG_ERR_INVALID for a bad escape ("%zz", a truncated "%4") and for a
 * NUL byte, raw or decoded ("%00"): decoded text always ends up in C strings
 * and SQLite, where an embedded NUL would silently cut it. out stays valid
 * until the arena is reset; on error *out is SPAN_NULL. */
int url_decode(struct arena *a, struct span in, bool plus_as_space, struct span *out);

struct kv {
    struct span key;
    struct span value;
};

struct kv_list {
    struct kv *items; /* arena memory; NULL when count is 0 */
    size_t count;
};

/* Parses application/x-www-form-urlencoded text (also query strings):
 * '&'-separated pairs, '=' optional (a bare "k" has an empty value), keys and
 * values decoded with plus_as_space. Empty pairs ("a=1&&b=2", a trailing '&')
 * are skipped and not counted. More than max_pairs pairs give OG_ERR_TOO_BIG
 * before anything is decoded; a bad escape or NUL gives OG_ERR_INVALID. Keys
 * and values are NUL-terminated arena memory; on error *out is empty. */
int form_parse(struct arena *a, struct span body, size_t max_pairs, struct kv_list *out);

/* Finds the first pair whose key is exactly key (case-sensitive); stores its
 * value and returns true, or returns false and leaves *value untouched. */
bool kv_get(const struct kv_list *l, const char *key, struct span *value);

/* Splits a request target into path and query (without the '?'); anything
 * from '#' on is dropped. Both point into target. With no '?' the query is
 * SPAN_NULL; "path?" gives a non-NULL empty query. */
void url_split(struct span target, struct span *path, struct span *query);

/* Finds the first cookie named name (case-sensitive) in a Cookie header value
 * such as "a=1; b=2". Whitespace around pairs is ignored and a value in
 * double quotes is returned without them. The value points into header and
 * is not decoded. Pairs without '=' are skipped. */
bool cookie_get(struct span header, const char *name, struct span *value);

/* Appends "?name=value" (or "&name=value" once the URL has a query) to a
 * URL being built, with value percent-encoded (RFC 3986 unreserved kept). */
void url_append_param(struct buf *b, const char *name, const char *value);

#endif
