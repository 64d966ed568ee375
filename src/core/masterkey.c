/* Creates, checks and reads DATA_DIR/master.key. The key bytes and their hex
 * form never reach a message, a log line or memory that is not wiped: every
 * temporary copy is cleared with OPENSSL_cleanse before it goes. */
#include "core/masterkey.h"

#include "core/log.h"
#include "core/secrets.h"
#include "core/store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define MASTERKEY_FILE    "master.key"
#define MASTERKEY_HEX_LEN (MASTERKEY_LEN * 2)

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* fsyncs the directory holding path (or "." / "/"), so an entry just
 * created in it survives a power loss. */
static int fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* Creates one directory 0700 (exactly, whatever the umask); an existing one
 * is left as it is. */
static int mkdir_one(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0700) != 0) {
        if (errno == EEXIST)
            return OG_OK;
        set_err(err, errlen, "cannot create directory %s: %s", path, strerror(errno));
        return OG_ERR_IO;
    }
    if (chmod(path, 0700) != 0 || fsync_parent(path) != 0) {
        set_err(err, errlen, "cannot set up directory %s: %s", path, strerror(errno));
        return OG_ERR_IO;
    }
    return OG_OK;
}

/* mkdir -p with mode 0700 for what it creates; dir has no trailing slash. */
static int dir_ensure(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s", dir);
        for (char *c = p + 1;; c++) {
            if (*c != '/' && *c != '\0')
                continue;
            char save = *c;
            *c = '\0';
            int rc = mkdir_one(p, err, errlen);
            *c = save;
            if (rc != OG_OK)
                return rc;
            if (save == '\0')
                break;
        }
        if (stat(dir, &st) != 0) {
            set_err(err, errlen, "cannot use data directory %s: %s", dir, strerror(errno));
            return OG_ERR_IO;
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "data directory %s is not a directory", dir);
        return OG_ERR_INVALID;
    }
    /* A folder mounted into a container keeps its owner on the host: name
     * the uid that needs it rather than fail later on one of its files. */
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0 && errno == EACCES) {
        set_err(err, errlen,
                "data directory %s is not writable by uid %u (it belongs to uid %u, mode %04o): "
                "give it to that uid (chown %u:%u) or use another directory",
                dir, (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
                (unsigned)geteuid(), (unsigned)getegid());
        return OG_ERR_IO;
    }
    return OG_OK;
}

/* Decodes exactly 64 hex characters, optionally followed by one '\n'. */
static bool key_parse(const char *text, size_t n, uint8_t key[MASTERKEY_LEN])
{
    if (n != MASTERKEY_HEX_LEN && !(n == MASTERKEY_HEX_LEN + 1 && text[MASTERKEY_HEX_LEN] == '\n'))
        return false;
    for (size_t i = 0; i < MASTERKEY_LEN; i++) {
        int hi = og_hex_value(text[2 * i]);
        int lo = og_hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(key, MASTERKEY_LEN);
            return false;
        }
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* Reads and checks an existing key file. OG_ERR_NOT_FOUND when it does not
 * exist (no message then). */
static int key_read(const char *path, uint8_t key[MASTERKEY_LEN], char *err, size_t errlen)
{
    /* O_NONBLOCK: a FIFO planted at the path must not hang start-up. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return OG_ERR_NOT_FOUND;
        if (errno == ELOOP) {
            set_err(err, errlen,
                    "%s is a symbolic link: replace it with the key file itself (mode 0600)", path);
            return OG_ERR_PERM;
        }
        set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return errno == EACCES ? OG_ERR_PERM : OG_ERR_IO;
    }

    int rc = OG_OK;
    struct stat st;
    char text[MASTERKEY_HEX_LEN + 2];
    size_t n = 0;
    if (fstat(fd, &st) != 0) {
        set_err(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        rc = OG_ERR_IO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s is not a regular file", path);
        rc = OG_ERR_INVALID;
        goto out;
    }
    if (st.st_mode & 077) {
        unsigned mode = (unsigned)(st.st_mode & 07777);
        set_err(err, errlen, "%s is %s by others (mode %04o): run chmod 600 %s", path,
                (st.st_mode & 044) ? "readable" : "accessible", mode, path);
        rc = OG_ERR_PERM;
        goto out;
    }
    /* Read one byte more than a valid file holds, to notice a longer one. */
    while (n < sizeof(text)) {
        ssize_t r = read(fd, text + n, sizeof(text) - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
            rc = OG_ERR_IO;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (!key_parse(text, n, key)) {
        set_err(err, errlen,
                "%s is malformed: expected 64 hex characters and a newline; restore it from a "
                "backup (a new key cannot decrypt stored secrets)",
                path);
        rc = OG_ERR_INVALID;
    }
out:
    OPENSSL_cleanse(text, sizeof(text));
    close(fd);
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes a fresh key to a private temporary file, then links it to path,
 * which fails rather than replace a key another process has just created:
 * readers therefore never see a half-written file. Returns OG_ERR_EXISTS
 * (no message) when that other process won. */
static int key_create(const char *path, uint8_t key[MASTERKEY_LEN], char *err, size_t errlen)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[PATH_MAX];
    char text[MASTERKEY_HEX_LEN + 1];
    int rc = OG_OK;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
        set_err(err, errlen, "data directory path is too long");
        return OG_ERR_TOO_BIG;
    }
    if (RAND_bytes(key, MASTERKEY_LEN) != 1) {
        set_err(err, errlen, "cannot generate a master key: RAND_bytes failed");
        return OG_ERR_CRYPTO;
    }
    for (size_t i = 0; i < MASTERKEY_LEN; i++) {
        text[2 * i] = digits[key[i] >> 4];
        text[2 * i + 1] = digits[key[i] & 0x0f];
    }
    text[MASTERKEY_HEX_LEN] = '\n';

    unlink(tmp); /* left by a crashed process that had our pid */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        rc = OG_ERR_IO;
        goto out;
    }
    if (fchmod(fd, 0600) != 0 || write_all(fd, text, sizeof(text)) != 0 || fsync(fd) != 0) {
        set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        rc = OG_ERR_IO;
        goto out_unlink;
    }
    if (close(fd) != 0) {
        set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        rc = OG_ERR_IO;
        goto out_unlink;
    }
    if (link(tmp, path) != 0) {
        if (errno == EEXIST) {
            rc = OG_ERR_EXISTS;
        } else {
            set_err(err, errlen, "cannot create %s: %s", path, strerror(errno));
            rc = OG_ERR_IO;
        }
        goto out_unlink;
    }
    unlink(tmp);
    if (fsync_parent(path) != 0) {
        set_err(err, errlen, "cannot fsync the directory of %s: %s", path, strerror(errno));
        rc = OG_ERR_IO;
        goto out;
    }
    log_info("master key created", "path", path);
    goto out;

out_unlink:
    unlink(tmp);
out:
    OPENSSL_cleanse(text, sizeof(text));
    return rc;
}

int masterkey_load(const char *data_dir, uint8_t key[MASTERKEY_LEN], char *err, size_t errlen)
{
    char dir[PATH_MAX];
    char path[PATH_MAX];
    int rc;

    if (!data_dir || !*data_dir) {
        set_err(err, errlen, "no data directory given");
        rc = OG_ERR_INVALID;
        goto fail;
    }
    size_t len = strlen(data_dir);
    while (len > 1 && data_dir[len - 1] == '/')
        len--;
    if (len >= sizeof(dir) || (size_t)snprintf(path, sizeof(path), "%.*s/" MASTERKEY_FILE, (int)len,
                                               data_dir) >= sizeof(path)) {
        set_err(err, errlen, "data directory path is too long");
        rc = OG_ERR_TOO_BIG;
        goto fail;
    }
    memcpy(dir, data_dir, len);
    dir[len] = '\0';
    if (strcmp(dir, "/") == 0)
        snprintf(path, sizeof(path), "/" MASTERKEY_FILE);

    rc = dir_ensure(dir, err, errlen);
    if (rc != OG_OK)
        goto fail;
    /* A second round only when another process created the file between
     * our read and our create: then we read theirs. */
    for (int round = 0; round < 2; round++) {
        rc = key_read(path, key, err, errlen);
        if (rc != OG_ERR_NOT_FOUND)
            break;
        rc = key_create(path, key, err, errlen);
        if (rc != OG_ERR_EXISTS)
            break;
    }
    if (rc == OG_ERR_EXISTS || rc == OG_ERR_NOT_FOUND) {
        set_err(err, errlen, "%s keeps appearing and disappearing: is another process at work?",
                path);
        rc = OG_ERR_IO;
    }
    if (rc == OG_OK)
        return OG_OK;
fail:
    OPENSSL_cleanse(key, MASTERKEY_LEN);
    return rc;
}

/* ---- the database's key check ---- */

#define KEY_CHECK_LABEL "otpgate master key check v1"

int masterkey_check_store(struct store *s, const struct keyring *k, char *err, size_t errlen)
{
    uint8_t mac[32];
    size_t maclen = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->seal, sizeof(k->seal),
                   (const unsigned char *)KEY_CHECK_LABEL, strlen(KEY_CHECK_LABEL), mac,
                   sizeof(mac), &maclen) ||
        maclen != sizeof(mac)) {
        snprintf(err, errlen, "cannot compute the master key check");
        return OG_ERR_CRYPTO;
    }
    char want[2 * 16 + 1];
    for (size_t i = 0; i < 16; i++)
        snprintf(want + 2 * i, 3, "%02x", mac[i]);
    OPENSSL_cleanse(mac, sizeof(mac));
    /* First use, or a database from before the check: this key has been
     * the one in use, so it is recorded. Of two instances starting at once
     * on a new database, the first insert wins and the other is compared
     * with it like any later start. */
    db_stmt *st = store_stmt(s, "INSERT INTO meta (key, value) VALUES ('key_check', ?1) "
                                "ON CONFLICT (key) DO NOTHING");
    int rc = st ? OG_OK : OG_ERR_DB;
    if (rc == OG_OK) {
        db_bind_text(st, 1, want, -1);
        rc = store_exec_done(st);
    }
    char have[80];
    if (rc == OG_OK)
        rc = store_meta_get(s, "key_check", have, sizeof(have));
    if (rc != OG_OK) {
        snprintf(err, errlen, "cannot check the master key against the database: %s",
                 store_errmsg(s));
        return rc;
    }
    if (CRYPTO_memcmp(have, want, sizeof(want)) != 0 || strlen(have) != strlen(want)) {
        snprintf(err, errlen,
                 "the master key does not match this database (it was made with another "
                 "master.key): start with the master.key the database was made with");
        return OG_ERR_CRYPTO;
    }
    return OG_OK;
}
