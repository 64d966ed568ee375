/* A growing byte buffer with a hard size cap (curl's dynbuf). Appends past
 * the cap fail with OG_ERR_TOO_BIG and leave the buffer unchanged. */
#ifndef OTPGATE_BUF_H
#define OTPGATE_BUF_H

#include "core/common.h"

struct buf {
    char *data; /* NUL-terminated when len < cap; owned by the buf */
    size_t len;
    size_t alloc;
    size_t cap; /* hard limit on len */
};

void buf_init(struct buf *b, size_t cap);
void buf_free(struct buf *b);
void buf_clear(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_span(struct buf *b, struct span s);
/* Appends v in decimal (no printf on hot paths). */
int buf_append_u64(struct buf *b, uint64_t v);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes, moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);
/* Hands the storage to the caller (free() it); the buf becomes empty. */
char *buf_detach(struct buf *b, size_t *len);

#endif
