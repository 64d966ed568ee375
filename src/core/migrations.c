/* The schema history of otpgate's SQLite database, one SQL string per
 * version. Never edit or reorder a migration once it has shipped: databases
 * in the field are already at that version. Add new ones at the end. */
#include "core/migrations.h"

#include "core/common.h"

/* Index i takes a database from version i to version i + 1. Each runs in its
 * own transaction with foreign_keys=ON (store.c), so a migration that has to
 * rebuild a referenced table must follow SQLite's 12-step ALTER procedure. */
static const char *const migrations[] = {
    /* 1: key/value facts about this installation (created_at, probes). */
    "CREATE TABLE meta (\n"
    "  key TEXT PRIMARY KEY,\n"
    "  value TEXT NOT NULL\n"
    ");\n",

    /* 2: policy settings; scope '' is the global policy, otherwise an
     * application's client_id. */
    "CREATE TABLE policy (\n"
    "  scope TEXT NOT NULL,\n"
    "  key TEXT NOT NULL,\n"
    "  value TEXT NOT NULL,\n"
    "  updated_at INTEGER NOT NULL,\n"
    "  PRIMARY KEY (scope, key)\n"
    ");\n",

    /* Append new migrations here. */
};

int migration_count(void)
{
    return (int)ARRAY_SIZE(migrations);
}

const char *migration_sql(int version)
{
    if (version < 1 || version > migration_count())
        return NULL;
    return migrations[version - 1];
}
