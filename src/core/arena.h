/* A bump allocator for things that live exactly as long as one request
 * (h2o's pool): many small allocations, one arena_reset() at the end.
 * Memory from an arena is never freed individually. */
#ifndef OTPGATE_ARENA_H
#define OTPGATE_ARENA_H

#include "core/common.h"

struct arena_chunk;

struct arena {
    struct arena_chunk *head; /* chunk being filled; older ones chained */
    size_t used;              /* bytes used in head */
    char first[2048];         /* inline first chunk: most requests fit */
    size_t first_used;
};

void arena_init(struct arena *a);
/* Returns n bytes aligned for any type; aborts on out-of-memory. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Like snprintf into fresh arena memory; returns the NUL-terminated result. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees every chunk but the inline one; the arena is ready for reuse. */
void arena_reset(struct arena *a);

#endif
