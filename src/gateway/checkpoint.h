/* WAL checkpoints on a thread of their own instead of inside the loop's
 * COMMITs (checkpoint.c says how and why). */
#ifndef OTPGATE_CHECKPOINT_H
#define OTPGATE_CHECKPOINT_H

#include "core/common.h"

struct server;

/* The WAL frames (pages) after which the thread copies them into the
 * database file (16 MiB), and the WAL size at which the committing
 * connection copies whatever the thread left (64 MiB). */
#define CHECKPOINT_SOFT_FRAMES 4000
#define CHECKPOINT_HARD_FRAMES 16000

/* Opens the thread's connection to s->store's file, starts the thread and
 * takes over the WAL hook of s->store. On failure nothing runs, SQLite's
 * automatic checkpoint stays, and err holds one line. */
int checkpointer_start(struct server *s, int soft, int hard, char *err, size_t errlen);

/* Stops and joins the thread and closes its connection; the store gets
 * SQLite's automatic checkpoint back. Before s->store is closed. */
void checkpointer_stop(struct server *s);

/* Checkpoints completed so far by the thread, and remainders copied right
 * after a commit by the committing connection. */
void checkpointer_counts(struct server *s, uint64_t *background, uint64_t *caught_up);

#endif
