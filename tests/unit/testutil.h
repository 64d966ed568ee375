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
/* store_open(path) for tests that may run on either engine: with
 * OTPGATE_TEST_DATABASE_URL set (ctest label pg), opens that PostgreSQL
 * database instead, emptied (schema dropped and made again) the first time
 * each path is opened, so a test that reopens its path finds its data.
 * Returns store_open's result. */
int tu_store_open(const char *path, struct store **s, char *err, size_t errlen);
/* True when the tests run on PostgreSQL (OTPGATE_TEST_DATABASE_URL). */
int tu_on_pg(void);
/* Opens (and so migrates) dir/otpgate.db (tu_store_open) into *s and derives *k from a
 * fixed test master key. */
void tu_store_keys(const char *dir, struct store **s, struct keyring *k);
/* Registers app name (one https redirect URI) and writes its client id
 * into id (idlen bytes). */
void tu_app_add(struct store *s, const struct keyring *k, const char *name, char *id, size_t idlen);
/* Inserts an app row directly (its sealed secret a bound one-byte blob:
 * x'00' literals are SQLite's), for tests that must not depend on apps.c. */
void tu_app_insert(struct store *s, const char *id, const char *name, long long created_at);
/* The first column of the first row of sql, which must return one. */
long long tu_query_int(struct store *s, const char *sql);

#endif
