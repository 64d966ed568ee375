/* The admin commands of the otpgate CLI (SPEC §2): `app`, `policy`,
 * `user`, `brand`, `keys`, `admin` and `audit`. They run once against
 * OTPGATE_DATA_DIR/otpgate.db and exit; they never start the event loop. */
#ifndef OTPGATE_CLI_ADMIN_H
#define OTPGATE_CLI_ADMIN_H

#include <stdbool.h>

/* True when argv's command (the first word that is not an option, skipping
 * --config FILE) is one of app, policy, user, brand, keys, admin or audit. */
bool cli_admin_owns(int argc, char **argv);

/* Runs that command with main's argc/argv (it parses --config and its own
 * options itself) and returns the process exit code: 0, 1 for an error
 * (one line on stderr) or 2 for a usage error. */
int cli_admin_main(int argc, char **argv);

#endif
