/* The master key: 32 random bytes kept in DATA_DIR/master.key as 64
 * lowercase hex characters, which encrypt secrets at rest (TOTP seeds, app
 * secrets). This module creates and checks that file; it never logs or
 * prints the key. */
#ifndef OTPGATE_MASTERKEY_H
#define OTPGATE_MASTERKEY_H

#include "core/common.h"

#define MASTERKEY_LEN 32

/* Makes sure data_dir exists (missing directories, parents too, are created
 * 0700), then loads data_dir/master.key into key. A missing file is created
 * mode 0600 with 64 lowercase hex characters and '\n' from RAND_bytes,
 * durably (file and directory fsynced) and without ever replacing a file
 * another process created meanwhile. An existing file is refused with
 * OG_ERR_PERM when it is a symlink or its mode grants anything to group or
 * others (the message says which chmod fixes it), with OG_ERR_INVALID when
 * it is not a regular file or not 64 hex characters and an optional '\n'.
 * Returns 0, or an og_err with one line in err (never holding key bytes);
 * on failure key is wiped. */
int masterkey_load(const char *data_dir, uint8_t key[MASTERKEY_LEN], char *err, size_t errlen);

struct store;
struct keyring;

/* Ties the database to one master key: meta 'key_check' holds an HMAC
 * (under k's sealing key) of a fixed label, written the first time a key
 * opens the database. Later a different key is refused with
 * OG_ERR_CRYPTO and one line in err, before it can write anything sealed
 * that the right key could not read (a second instance on PostgreSQL
 * started with another master.key, or a restored database beside a new
 * key). Returns 0 or an og_err. */
int masterkey_check_store(struct store *s, const struct keyring *k, char *err, size_t errlen);

#endif
