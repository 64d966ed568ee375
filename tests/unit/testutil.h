/* Helpers shared by the unit tests that work in a data directory: a fresh
 * mkdtemp folder, its removal, and a one-number query on a store. Failures
 * fail the calling test (cmocka). */
#ifndef OTPGATE_TESTUTIL_H
#define OTPGATE_TESTUTIL_H

#include <stddef.h>

struct keyring;
struct store;

/* Creates "/tmp/og-TAG-XXXXXX" into dir (len bytes). */
void tu_tmpdir(char *dir, size_t len, const char *tag);
/* Removes dir and everything below it. */
void tu_rmtree(const char *dir);
/* Opens (and so migrates) dir/otpgate.db into *s and derives *k from a
 * fixed test master key. */
void tu_store_keys(const char *dir, struct store **s, struct keyring *k);
/* Registers app name (one https redirect URI) and writes its client id
 * into id (idlen bytes). */
void tu_app_add(struct store *s, const struct keyring *k, const char *name, char *id, size_t idlen);
/* The first column of the first row of sql, which must return one. */
long long tu_query_int(struct store *s, const char *sql);

#endif
