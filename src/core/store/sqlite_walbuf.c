/* One write a commit to SQLite's WAL. SQLite writes each WAL frame as two
 * calls, the frame's 24-byte header and then its page, so a group commit
 * of 35 pages made 70 pwrite calls, each a trip into the kernel: a tenth
 * of the server's time on a valid code, half of it in the calls
 * themselves rather than in copying the pages.
 *
 * This VFS hands every file but a WAL to SQLite's default VFS untouched.
 * A WAL's writes that follow one another are kept in a buffer and go to
 * the file as one write:
 *   - as soon as the buffer holds a commit frame whole (a frame whose
 *     header gives the database's size after the commit: the WAL's file
 *     format says which frame it is, not the order of SQLite's calls).
 *     SQLite shows a commit to readers (in the wal-index) only after its
 *     writes have returned, so no reader, in this process or another, is
 *     shown a frame that is not in the file yet;
 *   - before any other use of the file: a read, its size, a sync, a
 *     truncation, a file control, a memory map, closing it;
 *   - when a write does not follow the buffered ones, or would not fit.
 * Only the WAL's header and what is appended after it are kept: a write
 * below the end of what was written (SQLite mending a frame of the same
 * transaction and its checksums), one the format does not explain (not a
 * frame's header or page) and all writes while the WAL's page size is
 * unknown go straight to the file, after the buffer. So a commit frame's
 * header is always followed by its page, and the commit frame is written
 * out the moment it is whole. A crash loses only what a crash a
 * moment earlier would have: the commit had not returned, and syncs are
 * SQLite's own, after the buffer is written. */
#include "core/store/sqlite_walbuf.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#define WALBUF_NAME "otpgate-walbuf"
#define WALBUF_CAP  (1024 * 1024) /* bytes a WAL's buffer holds */
/* The most the default VFS writes in one call: it never writes more than
 * a page at once, and cuts a longer write to 17 bits of its length. */
#define WRITE_MAX (31 * 4096)
#define WAL_HDR   32 /* the WAL's own header */
#define FRAME_HDR 24 /* each frame's header, before its page */

struct wal_file {
    sqlite3_file base;   /* pMethods: wal_methods */
    sqlite3_file *real;  /* the default VFS's file, right after this struct */
    unsigned char *buf;  /* WALBUF_CAP bytes, made at the first write */
    size_t len;          /* bytes in buf */
    sqlite3_int64 at;    /* the file offset of buf[0] */
    sqlite3_int64 until; /* when > 0: write out once the buffer reaches it */
    sqlite3_int64 end;   /* the end of what was written through this file */
    unsigned pgsz;       /* the WAL's page size (0: not known yet) */
};

static sqlite3_vfs *base_vfs;
static sqlite3_vfs walbuf_vfs;
static const sqlite3_io_methods wal_methods;
static atomic_uint_fast64_t writes_given, writes_made;

#define REAL(f) (((struct wal_file *)(f))->real)

static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

/* The page size that a WAL header gives, 0 when it is no page size. */
static unsigned header_pgsz(const unsigned char *hdr)
{
    unsigned n = be32(hdr + 8);
    return n >= 512 && n <= 65536 && (n & (n - 1)) == 0 ? n : 0;
}

static int flush(struct wal_file *w)
{
    int rc = SQLITE_OK;
    for (size_t done = 0; done < w->len && rc == SQLITE_OK; done += WRITE_MAX) {
        size_t n = w->len - done < WRITE_MAX ? w->len - done : WRITE_MAX;
        rc = w->real->pMethods->xWrite(w->real, w->buf + done, (int)n, w->at + (sqlite3_int64)done);
        atomic_fetch_add_explicit(&writes_made, 1, memory_order_relaxed);
    }
    w->len = 0;
    w->until = 0;
    return rc;
}

/* Reads the page size from the WAL's header, which SQLite wrote before
 * this connection opened the file (nothing is buffered then). */
static void learn_pgsz(struct wal_file *w)
{
    unsigned char hdr[WAL_HDR];
    if (w->real->pMethods->xRead(w->real, hdr, WAL_HDR, 0) == SQLITE_OK)
        w->pgsz = header_pgsz(hdr);
}

/* Whether a write at off may wait in the buffer: the WAL's header, or an
 * append of a frame's header or page. */
static bool appends(const struct wal_file *w, sqlite3_int64 off)
{
    if (off == 0)
        return true;
    if (w->pgsz == 0 || off < WAL_HDR || off < w->end)
        return false;
    sqlite3_int64 r = (off - WAL_HDR) % (FRAME_HDR + (sqlite3_int64)w->pgsz);
    return r == 0 || r == FRAME_HDR;
}

/* Notes in w->until the end of the last commit frame whose header lies in
 * data (n bytes written at off). */
static void note_commits(struct wal_file *w, const unsigned char *data, size_t n, sqlite3_int64 off)
{
    sqlite3_int64 frame = FRAME_HDR + (sqlite3_int64)w->pgsz;
    sqlite3_int64 fo = WAL_HDR;
    if (off > WAL_HDR)
        fo += (off - WAL_HDR + frame - 1) / frame * frame;
    for (; fo + 8 <= off + (sqlite3_int64)n; fo += frame)
        if (be32(data + (fo - off) + 4) != 0)
            w->until = fo + frame;
}

static int wal_write(sqlite3_file *f, const void *data, int amt, sqlite3_int64 off)
{
    struct wal_file *w = (struct wal_file *)f;
    const unsigned char *d = data;
    size_t n = amt > 0 ? (size_t)amt : 0;
    atomic_fetch_add_explicit(&writes_given, 1, memory_order_relaxed);
    if (w->len > 0 && (off != w->at + (sqlite3_int64)w->len || w->len + n > WALBUF_CAP)) {
        int rc = flush(w);
        if (rc != SQLITE_OK)
            return rc;
    }
    if (off == 0 && n >= WAL_HDR)
        w->pgsz = header_pgsz(d);
    else if (w->pgsz == 0 && w->len == 0)
        learn_pgsz(w);
    if (!w->buf && n <= WRITE_MAX)
        w->buf = sqlite3_malloc(WALBUF_CAP);
    bool keep = w->buf && n <= WRITE_MAX && appends(w, off);
    /* A new header starts the WAL over: frames follow it from the start. */
    sqlite3_int64 last = off + (sqlite3_int64)n;
    w->end = off == 0 || last > w->end ? last : w->end;
    if (!keep) {
        int rc = flush(w);
        atomic_fetch_add_explicit(&writes_made, 1, memory_order_relaxed);
        return rc != SQLITE_OK ? rc : w->real->pMethods->xWrite(w->real, data, amt, off);
    }
    if (w->len == 0)
        w->at = off;
    memcpy(w->buf + w->len, d, n);
    w->len += n;
    if (w->pgsz)
        note_commits(w, d, n, off);
    if (w->until > 0 && w->at + (sqlite3_int64)w->len >= w->until)
        return flush(w);
    return SQLITE_OK;
}

static int wal_close(sqlite3_file *f)
{
    struct wal_file *w = (struct wal_file *)f;
    int rc = flush(w);
    int rc2 = w->real->pMethods->xClose(w->real);
    sqlite3_free(w->buf);
    w->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int wal_read(sqlite3_file *f, void *out, int amt, sqlite3_int64 off)
{
    int rc = flush((struct wal_file *)f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xRead(REAL(f), out, amt, off);
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = flush((struct wal_file *)f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int wal_sync(sqlite3_file *f, int flags)
{
    int rc = flush((struct wal_file *)f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int wal_size(sqlite3_file *f, sqlite3_int64 *size)
{
    int rc = flush((struct wal_file *)f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int wal_lock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int wal_unlock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int wal_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int wal_control(sqlite3_file *f, int op, void *arg)
{
    int rc = flush((struct wal_file *)f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int wal_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int wal_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

/* Shared memory belongs to the database file, never to a WAL; these only
 * pass the calls on. */
static int wal_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **out)
{
    const sqlite3_io_methods *m = REAL(f)->pMethods;
    return m->iVersion >= 2 ? m->xShmMap(REAL(f), pg, pgsz, extend, out) : SQLITE_IOERR;
}

static int wal_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    const sqlite3_io_methods *m = REAL(f)->pMethods;
    return m->iVersion >= 2 ? m->xShmLock(REAL(f), offset, n, flags) : SQLITE_IOERR;
}

static void wal_shm_barrier(sqlite3_file *f)
{
    const sqlite3_io_methods *m = REAL(f)->pMethods;
    if (m->iVersion >= 2)
        m->xShmBarrier(REAL(f));
}

static int wal_shm_unmap(sqlite3_file *f, int del)
{
    const sqlite3_io_methods *m = REAL(f)->pMethods;
    return m->iVersion >= 2 ? m->xShmUnmap(REAL(f), del) : SQLITE_OK;
}

static int wal_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **out)
{
    const sqlite3_io_methods *m = REAL(f)->pMethods;
    *out = NULL;
    int rc = flush((struct wal_file *)f);
    if (rc != SQLITE_OK || m->iVersion < 3)
        return rc;
    return m->xFetch(REAL(f), off, amt, out);
}

static int wal_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    const sqlite3_io_methods *m = REAL(f)->pMethods;
    return m->iVersion >= 3 ? m->xUnfetch(REAL(f), off, p) : SQLITE_OK;
}

static const sqlite3_io_methods wal_methods = {
    .iVersion = 3,
    .xClose = wal_close,
    .xRead = wal_read,
    .xWrite = wal_write,
    .xTruncate = wal_truncate,
    .xSync = wal_sync,
    .xFileSize = wal_size,
    .xLock = wal_lock,
    .xUnlock = wal_unlock,
    .xCheckReservedLock = wal_reserved,
    .xFileControl = wal_control,
    .xSectorSize = wal_sector,
    .xDeviceCharacteristics = wal_device,
    .xShmMap = wal_shm_map,
    .xShmLock = wal_shm_lock,
    .xShmBarrier = wal_shm_barrier,
    .xShmUnmap = wal_shm_unmap,
    .xFetch = wal_fetch,
    .xUnfetch = wal_unfetch,
};

#define WAL_FILE_SIZE ((sizeof(struct wal_file) + 7) & ~(size_t)7)

static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    if (!(flags & SQLITE_OPEN_WAL))
        return base_vfs->xOpen(base_vfs, name, f, flags, out_flags);
    struct wal_file *w = (struct wal_file *)f;
    memset(w, 0, sizeof(*w));
    w->real = (sqlite3_file *)((char *)w + WAL_FILE_SIZE);
    int rc = base_vfs->xOpen(base_vfs, name, w->real, flags, out_flags);
    /* SQLite closes a file only when its methods are set. */
    w->base.pMethods = rc == SQLITE_OK && w->real->pMethods ? &wal_methods : NULL;
    if (rc != SQLITE_OK && w->real->pMethods)
        w->real->pMethods->xClose(w->real);
    return rc;
}

/* The rest of the VFS is the default one's. */
static int vfs_delete(sqlite3_vfs *v, const char *name, int sync)
{
    (void)v;
    return base_vfs->xDelete(base_vfs, name, sync);
}

static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return base_vfs->xAccess(base_vfs, name, flags, out);
}

static int vfs_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return base_vfs->xFullPathname(base_vfs, name, n, out);
}

static void *vfs_dlopen(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return base_vfs->xDlOpen(base_vfs, name);
}

static void vfs_dlerror(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    base_vfs->xDlError(base_vfs, n, out);
}

static void (*vfs_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return base_vfs->xDlSym(base_vfs, h, sym);
}

static void vfs_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    base_vfs->xDlClose(base_vfs, h);
}

static int vfs_randomness(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base_vfs->xRandomness(base_vfs, n, out);
}

static int vfs_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return base_vfs->xSleep(base_vfs, us);
}

static int vfs_current_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return base_vfs->xCurrentTime(base_vfs, out);
}

static int vfs_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base_vfs->xGetLastError(base_vfs, n, out);
}

static int vfs_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static const char *registered;

static void register_vfs(void)
{
    base_vfs = sqlite3_vfs_find(NULL);
    if (!base_vfs || base_vfs->iVersion < 2 || !base_vfs->xCurrentTimeInt64)
        return;
    walbuf_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)WAL_FILE_SIZE + base_vfs->szOsFile,
        .mxPathname = base_vfs->mxPathname,
        .zName = WALBUF_NAME,
        .xOpen = vfs_open,
        .xDelete = vfs_delete,
        .xAccess = vfs_access,
        .xFullPathname = vfs_full_pathname,
        .xDlOpen = vfs_dlopen,
        .xDlError = vfs_dlerror,
        .xDlSym = vfs_dlsym,
        .xDlClose = vfs_dlclose,
        .xRandomness = vfs_randomness,
        .xSleep = vfs_sleep,
        .xCurrentTime = vfs_current_time,
        .xGetLastError = vfs_last_error,
        .xCurrentTimeInt64 = vfs_current_time64,
    };
    if (sqlite3_vfs_register(&walbuf_vfs, 0) == SQLITE_OK)
        registered = WALBUF_NAME;
}

const char *sqlite_walbuf_vfs(void)
{
    pthread_once(&register_once, register_vfs);
    return registered;
}

void sqlite_walbuf_counts(uint64_t *written, uint64_t *given)
{
    *written = atomic_load(&writes_made);
    *given = atomic_load(&writes_given);
}
