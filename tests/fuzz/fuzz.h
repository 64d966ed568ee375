/* Shared by the fuzz targets: the libFuzzer entry point's prototype, a check
 * that aborts whatever NDEBUG says (libFuzzer and the replay driver both
 * report an abort as a crash), and C-string copies of the input. */
#ifndef OTPGATE_FUZZ_H
#define OTPGATE_FUZZ_H

#include "core/common.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A malloc'd NUL-terminated copy of data[0..size); an embedded NUL ends the
 * C string early, as it would for the product. The caller frees it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = og_malloc(size + 1);
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
