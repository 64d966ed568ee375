/* WAL checkpoints off the loop thread. SQLite's automatic checkpoint runs
 * inside the COMMIT that crosses 1000 frames: the loop thread copies every
 * page back into the database file and waits for its fsync while no request
 * is served. Here the WAL hook of the server's connection only wakes a
 * thread of our own, which checkpoints on a second connection (a passive
 * checkpoint never blocks a writer, and commits go on meanwhile).
 *
 * Under steady writes such a checkpoint never quite catches up: frames
 * committed while it copies are left for the next one, and SQLite only
 * starts the WAL over once every frame is copied. So right after the
 * thread's copy, the committing connection copies the few frames that came
 * meanwhile (on_wal says when), and the next transaction starts the WAL
 * from its beginning. */
#include "gateway/checkpoint.h"

#include "core/log.h"
#include "gateway/server.h"

#include <stdio.h>
#include <stdlib.h>

struct checkpointer {
    struct server *srv;
    struct store *db; /* the thread's own connection */
    int soft, hard;   /* WAL frames */
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    bool want, busy, stop; /* under mu */
    int copied;            /* under mu: WAL frames in the file after the last one */
    uint64_t background;   /* under mu: checkpoints the thread ran */
    uint64_t caught_up;    /* under mu: remainders copied by the committer */
};

static void checkpoint_thread(void *arg)
{
    struct checkpointer *c = arg;
    uv_mutex_lock(&c->mu);
    for (;;) {
        while (!c->want && !c->stop)
            uv_cond_wait(&c->cv, &c->mu);
        if (c->stop)
            break;
        c->want = false;
        uv_mutex_unlock(&c->mu);
        int frames = 0, copied = 0;
        int rc = store_checkpoint(c->db, &frames, &copied);
        if (rc != OG_OK && rc != OG_ERR_BUSY)
            log_warn("background checkpoint failed", "error", store_errmsg(c->db));
        uv_mutex_lock(&c->mu);
        c->busy = false;
        if (rc == OG_OK) {
            c->background++;
            c->copied = copied;
        }
    }
    uv_mutex_unlock(&c->mu);
}

/* On the thread that commits (batch.c's committer), inside each COMMIT
 * that wrote to the WAL. The thread copies once soft frames have come
 * since its last copy (a page written many times in between is copied
 * once); right after, while what came meanwhile is still little (a
 * quarter of soft), the committing connection copies that rest, so the
 * next transaction starts the WAL over. Past hard frames it copies the
 * rest whatever its size: the WAL must not grow without end. */
static int on_wal(void *arg, int frames)
{
    struct checkpointer *c = arg;
    if (frames < c->soft)
        return 0;
    bool catch_up = false;
    uv_mutex_lock(&c->mu);
    if (c->copied > frames)
        c->copied = 0; /* the WAL started over since */
    int rest = frames - c->copied;
    if (!c->busy) {
        if (rest >= c->soft) {
            c->busy = true;
            c->want = true;
            uv_cond_signal(&c->cv);
        } else if (c->copied > 0 && (rest <= c->soft / 4 || frames >= c->hard)) {
            catch_up = true;
        }
    }
    uv_mutex_unlock(&c->mu);
    if (catch_up) {
        /* Passive: it gives way to a checkpoint that some other process
         * runs. Its own failure is no failure of the commit. */
        int copied = 0;
        if (store_checkpoint(c->srv->store, NULL, &copied) == OG_OK) {
            uv_mutex_lock(&c->mu);
            c->caught_up++;
            c->copied = copied;
            uv_mutex_unlock(&c->mu);
        }
    }
    return 0;
}

int checkpointer_start(struct server *s, int soft, int hard, char *err, size_t errlen)
{
    struct checkpointer *c = og_calloc(1, sizeof(*c));
    c->srv = s;
    c->soft = soft;
    c->hard = hard > soft ? hard : soft + 1;
    int rc = store_open_checkpointer(s->store, &c->db, err, errlen);
    if (rc != OG_OK) {
        free(c);
        return rc;
    }
    if (uv_mutex_init(&c->mu) != 0 || uv_cond_init(&c->cv) != 0)
        og_oom();
    if (uv_thread_create(&c->thread, checkpoint_thread, c) != 0) {
        snprintf(err, errlen, "cannot start the checkpoint thread");
        uv_cond_destroy(&c->cv);
        uv_mutex_destroy(&c->mu);
        store_close(c->db);
        free(c);
        return OG_ERR_IO;
    }
    store_set_wal_hook(s->store, on_wal, c);
    s->checkpointer = c;
    return OG_OK;
}

void checkpointer_stop(struct server *s)
{
    struct checkpointer *c = s->checkpointer;
    if (!c)
        return;
    store_set_wal_hook(s->store, NULL, NULL);
    uv_mutex_lock(&c->mu);
    c->stop = true;
    uv_cond_signal(&c->cv);
    uv_mutex_unlock(&c->mu);
    uv_thread_join(&c->thread);
    uv_cond_destroy(&c->cv);
    uv_mutex_destroy(&c->mu);
    store_close(c->db);
    free(c);
    s->checkpointer = NULL;
}

void checkpointer_counts(struct server *s, uint64_t *background, uint64_t *caught_up)
{
    struct checkpointer *c = s->checkpointer;
    *background = *caught_up = 0;
    if (!c)
        return;
    uv_mutex_lock(&c->mu);
    *background = c->background;
    *caught_up = c->caught_up;
    uv_mutex_unlock(&c->mu);
}
