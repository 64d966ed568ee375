/* Debug builds: SQLite mutex methods that abort when a connection is used
 * by two threads at once (sqlite_check.c says why). */
#ifndef OTPGATE_SQLITE_CHECK_H
#define OTPGATE_SQLITE_CHECK_H

#include <stdbool.h>

/* Installs the check before SQLite's first use; true when it is on, and
 * the connections are to be opened with their mutex. False in release
 * builds, and when SQLite was in use already. */
bool sqlite_check_install(void);

/* Whether the check is on in this process. */
bool sqlite_check_active(void);

#endif
