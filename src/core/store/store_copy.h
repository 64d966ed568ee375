/* Copying a SQLite store into a PostgreSQL one (`otpgate migrate --to`):
 * store_copy.c. */
#ifndef OTPGATE_STORE_COPY_H
#define OTPGATE_STORE_COPY_H

#include "core/store/store.h"

#define STORE_COPY_MAX_TABLES 64

struct store_copy_count {
    char table[64];
    int64_t rows;
};

/* Copies every table of from (SQLite) into to (PostgreSQL, opened with
 * store_open so it has otpgate's schema, and otherwise empty) in one
 * transaction on each side: parents before the tables that point at them,
 * every column as it is (sealed secrets included), the identity sequences
 * moved past the copied ids, then every count compared. Both must be at
 * the same schema version. counts gets each table and its rows
 * (STORE_COPY_MAX_TABLES entries at most), *ncounts how many. Returns 0;
 * OG_ERR_EXISTS when to holds data already; OG_ERR_INVALID when the
 * schemas differ; else OG_ERR_DB / OG_ERR_BUSY. On failure nothing is
 * left in to and err holds one line. */
int store_copy(struct store *from, struct store *to, struct store_copy_count *counts, int *ncounts,
               char *err, size_t errlen);

#endif
