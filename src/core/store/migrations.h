/* The database schema as an ordered list of migrations (migrations.c).
 * Version v is reached by running migration v on a database at v - 1;
 * store.c decides when to run them. No I/O here. */
#ifndef OTPGATE_MIGRATIONS_H
#define OTPGATE_MIGRATIONS_H

/* Number of migrations this binary has: the newest schema version it knows. */
int migration_count(void);

/* SQL that takes a database from version - 1 to version (1-based), or NULL
 * when version is out of range. The string is static; callers must not free
 * it. It may hold several statements (run it with sqlite3_exec). */
const char *migration_sql(int version);

#endif
