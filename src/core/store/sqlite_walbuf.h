/* A SQLite VFS over the default one that gathers the writes of a
 * transaction to its WAL into one write (sqlite_walbuf.c says why and
 * when it writes them out). */
#ifndef OTPGATE_SQLITE_WALBUF_H
#define OTPGATE_SQLITE_WALBUF_H

#include <stdint.h>

/* The VFS's name for sqlite3_open_v2, registered on first call (not as
 * the default); NULL when it cannot be (SQLite's default VFS is then
 * used, as before). Call it before a connection is opened, once SQLite is
 * configured. */
const char *sqlite_walbuf_vfs(void);

/* Writes that the WAL files opened through the VFS have passed to the
 * default VFS, and writes they were given: for tests and benchmarks. */
void sqlite_walbuf_counts(uint64_t *written, uint64_t *given);

#endif
