/* LD_PRELOAD shim for test_group_commit: every fsync or fdatasync of a
 * SQLite WAL file (a name ending in -wal) is logged to $SLOWSYNC_LOG as
 * "start_ns end_ns pid" (CLOCK_MONOTONIC, which Python's time.monotonic
 * reads too), and while the file $SLOWSYNC_FLAG exists each one first
 * sleeps $SLOWSYNC_MS milliseconds: a disk that is slow to confirm. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int is_wal(int fd)
{
    char link[64], target[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n < 4)
        return 0;
    target[n] = '\0';
    return strcmp(target + n - 4, "-wal") == 0;
}

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int wrapped(int fd, int (*real)(int))
{
    if (!is_wal(fd))
        return real(fd);
    long long start = now_ns();
    const char *flag = getenv("SLOWSYNC_FLAG");
    const char *ms = getenv("SLOWSYNC_MS");
    if (flag && ms && access(flag, F_OK) == 0) {
        struct timespec d = {atoi(ms) / 1000, (long)(atoi(ms) % 1000) * 1000000L};
        nanosleep(&d, NULL);
    }
    int rc = real(fd);
    long long end = now_ns();
    const char *log = getenv("SLOWSYNC_LOG");
    if (log) {
        int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (lfd >= 0) {
            char line[96];
            int len = snprintf(line, sizeof(line), "%lld %lld %d\n", start, end, (int)getpid());
            if (write(lfd, line, (size_t)len) < 0)
                rc = rc; /* a lost log line fails the test, not the sync */
            close(lfd);
        }
    }
    return rc;
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return wrapped(fd, real);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return wrapped(fd, real);
}
