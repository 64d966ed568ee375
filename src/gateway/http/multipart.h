/* multipart/form-data request bodies (RFC 7578), as the console's branding
 * form sends them with a file: the boundary from the Content-Type, then
 * each part's name, filename, content type and bytes. Parts point into the
 * body; nothing is copied or decoded. Pure function over spans; no libuv,
 * no I/O. */
#ifndef OTPGATE_MULTIPART_H
#define OTPGATE_MULTIPART_H

#include "core/common.h"

#define MULTIPART_MAX_PARTS    16
#define MULTIPART_BOUNDARY_MAX 70   /* RFC 2046 §5.1.1 */
#define MULTIPART_HEADERS_MAX  1024 /* bytes of one part's header block */

struct multipart_part {
    struct span name;         /* the form field's name (quotes removed, not decoded) */
    struct span filename;     /* a file's name as sent; p NULL when the part is no file */
    struct span content_type; /* as sent; len 0 when none */
    struct span data;         /* the part's bytes */
};

struct multipart {
    struct multipart_part parts[MULTIPART_MAX_PARTS];
    size_t count;
};

/* The boundary of a "multipart/form-data; boundary=..." Content-Type value
 * (the parameter may be quoted) into *boundary (pointing into
 * content_type). Returns 0, or OG_ERR_INVALID when it is not
 * multipart/form-data or the boundary is missing, empty, longer than
 * MULTIPART_BOUNDARY_MAX or has characters RFC 2046 does not allow. */
int multipart_boundary(struct span content_type, struct span *boundary);

/* Splits body into its parts. Every part needs a Content-Disposition of
 * form-data with a name; a part's header block may not exceed
 * MULTIPART_HEADERS_MAX. Returns 0, OG_ERR_INVALID (malformed: no closing
 * delimiter, a part without a name, ...) or OG_ERR_TOO_BIG (more than
 * MULTIPART_MAX_PARTS parts). */
int multipart_parse(struct span content_type, struct span body, struct multipart *out);

/* The first part named name, or NULL. */
const struct multipart_part *multipart_get(const struct multipart *m, const char *name);

#endif
