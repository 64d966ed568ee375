/* The check behind SQLite's connections without a mutex: otpgate opens its
 * connections SQLITE_OPEN_NOMUTEX (no lock around every call, about a
 * tenth of a code check's instructions), which is sound only while no
 * connection is used by two threads at once; the group commit hands the
 * loop's connection to the committer thread and back (gateway/batch.c).
 * Debug builds (the sanitizer build CI runs every test under) open the
 * connections with their mutex instead and install SQLite mutex methods
 * that abort when a connection's mutex is found held by another thread:
 * the use that the production build would race is then a crash with a
 * message, in every unit and integration test. */
#include "core/store/sqlite_check.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef OTPGATE_CHECK_CONNECTION_THREADS

#define CHECK_SLOTS 256 /* connections open at once that are checked */

static sqlite3_mutex_methods real;
static atomic_bool installed;
/* The connections' mutexes: the one kind SQLite allocates recursive. */
static _Atomic(sqlite3_mutex *) conn_mutex[CHECK_SLOTS];

static bool is_conn_mutex(sqlite3_mutex *m)
{
    for (size_t i = 0; i < CHECK_SLOTS; i++)
        if (atomic_load(&conn_mutex[i]) == m)
            return true;
    return false;
}

static sqlite3_mutex *check_alloc(int type)
{
    sqlite3_mutex *m = real.xMutexAlloc(type);
    if (m && type == SQLITE_MUTEX_RECURSIVE)
        for (size_t i = 0; i < CHECK_SLOTS; i++) {
            sqlite3_mutex *none = NULL;
            if (atomic_compare_exchange_strong(&conn_mutex[i], &none, m))
                break;
        }
    return m;
}

static void check_free(sqlite3_mutex *m)
{
    for (size_t i = 0; i < CHECK_SLOTS; i++) {
        sqlite3_mutex *mine = m;
        if (atomic_compare_exchange_strong(&conn_mutex[i], &mine, NULL))
            break;
    }
    real.xMutexFree(m);
}

static void check_enter(sqlite3_mutex *m)
{
    if (!is_conn_mutex(m)) {
        real.xMutexEnter(m);
        return;
    }
    if (real.xMutexTry(m) == SQLITE_OK)
        return;
    fprintf(stderr, "{\"level\":\"error\",\"msg\":\"an SQLite connection used by two threads at "
                    "once: without its mutex (the release build) this is a data race\"}\n");
    abort();
}

/* SQLite takes new mutex methods only before it is initialised (a
 * library in use already refuses them, and goes unchecked), and hands out
 * its own only once it has been: it is started and shut down once first,
 * with no connection open. */
bool sqlite_check_install(void)
{
    if (sqlite3_config(SQLITE_CONFIG_GETMUTEX, &real) != SQLITE_OK)
        return false;
    if (!real.xMutexAlloc &&
        (sqlite3_initialize() != SQLITE_OK || sqlite3_shutdown() != SQLITE_OK ||
         sqlite3_config(SQLITE_CONFIG_GETMUTEX, &real) != SQLITE_OK))
        return false;
    if (!real.xMutexAlloc || !real.xMutexTry)
        return false;
    sqlite3_mutex_methods mine = real;
    mine.xMutexAlloc = check_alloc;
    mine.xMutexFree = check_free;
    mine.xMutexEnter = check_enter;
    if (sqlite3_config(SQLITE_CONFIG_MUTEX, &mine) != SQLITE_OK)
        return false;
    atomic_store(&installed, true);
    return true;
}

bool sqlite_check_active(void)
{
    return atomic_load(&installed);
}

#else

bool sqlite_check_install(void)
{
    return false;
}

bool sqlite_check_active(void)
{
    return false;
}

#endif
