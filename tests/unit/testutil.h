/* Helpers shared by the unit tests that work in a data directory: a fresh
 * mkdtemp folder, its removal, and a one-number query on a store. Failures
 * fail the calling test (cmocka). */
#ifndef OTPGATE_TESTUTIL_H
#define OTPGATE_TESTUTIL_H

#include <stddef.h>

struct store;

/* Creates "/tmp/og-TAG-XXXXXX" into dir (len bytes). */
void tu_tmpdir(char *dir, size_t len, const char *tag);
/* Removes dir and everything below it. */
void tu_rmtree(const char *dir);
/* The first column of the first row of sql, which must return one. */
long long tu_query_int(struct store *s, const char *sql);

#endif
