/* Request-lifetime bump allocator. Owns its chunks; callers own nothing
 * they get from it and must not free it. */
#include "core/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define ARENA_ALIGN 16
#define ARENA_CHUNK 8192

struct arena_chunk {
    struct arena_chunk *next;
    size_t size;
    _Alignas(16) char data[];
};

void arena_init(struct arena *a)
{
    a->head = NULL;
    a->used = 0;
    a->first_used = 0;
}

static size_t align_up(size_t n)
{
    return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

void *arena_alloc(struct arena *a, size_t n)
{
    n = align_up(n ? n : 1);
    if (!a->head) {
        /* first[] sits at an offset that keeps 16-byte alignment */
        uintptr_t base = (uintptr_t)a->first;
        size_t pad = (size_t)((ARENA_ALIGN - (base + a->first_used) % ARENA_ALIGN) % ARENA_ALIGN);
        if (a->first_used + pad + n <= sizeof(a->first)) {
            void *p = a->first + a->first_used + pad;
            a->first_used += pad + n;
            return p;
        }
    } else if (a->used + n <= a->head->size) {
        void *p = a->head->data + a->used;
        a->used += n;
        return p;
    }
    size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
    struct arena_chunk *c = og_malloc(sizeof(*c) + size);
    c->next = a->head;
    c->size = size;
    a->head = c;
    a->used = n;
    return c->data;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void arena_reset(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    arena_init(a);
}
