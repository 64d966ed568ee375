/* Writes log lines to stderr with one write(2) each so lines from the loop
 * and the thread pool never interleave. Never logs on its own initiative.
 * When stderr is a file (`otpgate serve 2>>/var/log/otpgate.log`),
 * log_reopen opens that path again, for log rotation (SPEC §9: SIGHUP). */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = OG_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

bool log_enabled(enum log_level level)
{
    return level >= min_level;
}

const char *log_level_name(enum log_level level)
{
    return (unsigned)level < ARRAY_SIZE(level_names) ? level_names[level] : "info";
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return OG_OK;
        }
    }
    return OG_ERR_INVALID;
}

size_t log_json_escape(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    if (cap == 0)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[7];
        size_t k;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            k = 2;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2);
            k = 2;
        } else if (c == '\r') {
            memcpy(esc, "\\r", 2);
            k = 2;
        } else if (c == '\t') {
            memcpy(esc, "\\t", 2);
            k = 2;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        } else {
            esc[0] = (char)c;
            k = 1;
        }
        if (n + k >= cap)
            break;
        memcpy(out + n, esc, k);
        n += k;
    }
    out[n] = '\0';
    return n;
}

void log_event(enum log_level level, const char *msg, ...)
{
    if (!log_enabled(level))
        return;
    char line[4096];
    size_t n = 0;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    n += strftime(line, sizeof(line), "{\"ts\":\"%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03dZ\",\"level\":\"%s\",\"msg\":\"",
                          (int)(tv.tv_usec / 1000), log_level_name(level));
    n += log_json_escape(line + n, sizeof(line) - n - 8, msg);
    line[n++] = '"';

    va_list ap;
    va_start(ap, msg);
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *val = va_arg(ap, const char *);
        if (n + 8 >= sizeof(line))
            break;
        line[n++] = ',';
        line[n++] = '"';
        n += log_json_escape(line + n, sizeof(line) - n - 8, key);
        if (n + 8 >= sizeof(line))
            break;
        line[n++] = '"';
        line[n++] = ':';
        if (!val) {
            memcpy(line + n, "null", 4);
            n += 4;
            continue;
        }
        line[n++] = '"';
        n += log_json_escape(line + n, sizeof(line) - n - 4, val);
        line[n++] = '"';
    }
    va_end(ap);
    line[n++] = '}';
    line[n++] = '\n';
    ssize_t off = 0;
    while ((size_t)off < n) {
        ssize_t w = write(STDERR_FILENO, line + off, n - (size_t)off);
        if (w <= 0)
            break;
        off += w;
    }
}

/* The file stderr was appended to at start, if it was a regular file. */
static char target_path[PATH_MAX];
static mode_t target_mode;

void log_remember_target(void)
{
    target_path[0] = '\0';
    struct stat st;
    if (fstat(STDERR_FILENO, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    char link[PATH_MAX];
    ssize_t n = readlink("/proc/self/fd/2", link, sizeof(link) - 1);
    if (n <= 0 || link[0] != '/')
        return;
    link[n] = '\0';
    static const char deleted[] = " (deleted)";
    size_t dl = sizeof(deleted) - 1;
    if ((size_t)n > dl && strcmp(link + n - dl, deleted) == 0)
        return; /* rotated away before we started: nothing sure to reopen */
    memcpy(target_path, link, (size_t)n + 1);
    target_mode = st.st_mode & 0777;
}

const char *log_target(void)
{
    return target_path[0] ? target_path : NULL;
}

int log_reopen(void)
{
    if (!target_path[0])
        return OG_ERR_NOT_FOUND;
    int fd = open(target_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, target_mode);
    if (fd < 0)
        return OG_ERR_IO;
    int rc = dup2(fd, STDERR_FILENO) < 0 ? OG_ERR_IO : OG_OK;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}
