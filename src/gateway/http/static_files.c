/* Loads the static/ folder into memory once, at start-up, and answers
 * lookups from a hash table; also the pure header and path helpers for
 * serving it (text files also gzip-compressed once, by zlib, for clients
 * that accept it). Reads the disk only in static_cache_load(), which must never be
 * called on the loop thread once it serves; never follows a symlink inside
 * the folder. */
#include "gateway/http/static_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

/* Text files smaller than this are sent as they are. */
#define STATIC_GZIP_MIN 256

struct static_entry {
    struct static_file f; /* path, data and gz are owned heap memory */
    time_t mtime;
    bool is_variant; /* a "x.gz" folded into "x"; dropped after pairing */
};

struct static_cache {
    struct static_entry *entries;
    size_t count;
    size_t alloc;
    size_t *slots; /* open addressing: entry index + 1, 0 when empty */
    size_t mask;   /* slot count - 1; slot count is a power of two */
};

struct loader {
    struct static_cache *c;
    const char *dir;
    size_t total;
    char rel[STATIC_PATH_MAX + 1];
    char *err;
    size_t errlen;
};

static void set_err(struct loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(struct loader *ld, const char *fmt, ...)
{
    if (!ld->err || ld->errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->err, ld->errlen, fmt, ap);
    va_end(ap);
}

/* ---- hash table ---- */

static uint64_t hash_span(struct span s)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (size_t i = 0; i < s.len; i++) {
        h ^= (unsigned char)s.p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void table_build(struct static_cache *c)
{
    free(c->slots);
    size_t n = 16;
    while (n < c->count * 2)
        n *= 2;
    c->slots = og_calloc(n, sizeof(*c->slots));
    c->mask = n - 1;
    for (size_t i = 0; i < c->count; i++) {
        size_t slot = (size_t)hash_span(span_cstr(c->entries[i].f.path)) & c->mask;
        while (c->slots[slot])
            slot = (slot + 1) & c->mask;
        c->slots[slot] = i + 1;
    }
}

static struct static_entry *table_find(const struct static_cache *c, struct span path)
{
    if (!c || !c->slots)
        return NULL;
    size_t slot = (size_t)hash_span(path) & c->mask;
    while (c->slots[slot]) {
        struct static_entry *e = &c->entries[c->slots[slot] - 1];
        if (span_eq_cstr(path, e->f.path))
            return e;
        slot = (slot + 1) & c->mask;
    }
    return NULL;
}

/* ---- validators ---- */

static int etag_compute(const char *data, size_t len, char out[48])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
        return OG_ERR_CRYPTO;
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    out[n++] = '"';
    for (size_t i = 0; i < 16; i++) {
        out[n++] = hex[md[i] >> 4];
        out[n++] = hex[md[i] & 0xf];
    }
    out[n++] = '"';
    out[n] = '\0';
    return OG_OK;
}

/* IMF-fixdate (RFC 9110 §5.6.7) with fixed English names: strftime's %a and
 * %b follow the locale. */
static void http_date(time_t t, char out[32])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11 ||
        tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        t = 0;
        gmtime_r(&t, &tm);
    }
    /* The checks above bound every field; the modulos let the compiler see
     * that the result always fits in 29 bytes. */
    snprintf(out, 32, "%s, %02u %s %04u %02u:%02u:%02u GMT", days[tm.tm_wday],
             (unsigned)tm.tm_mday % 100u, months[tm.tm_mon], (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
}

/* ---- loading ---- */

static int read_file(struct loader *ld, int fd, size_t size, char **out, size_t *outlen)
{
    char *data = og_malloc(size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            set_err(ld, "%s/%s: %s", ld->dir, ld->rel, strerror(errno));
            free(data);
            return OG_ERR_IO;
        }
        if (r == 0)
            break; /* shrank while we read: keep what is there */
        got += (size_t)r;
    }
    data[got] = '\0';
    *out = data;
    *outlen = got;
    return OG_OK;
}

static int load_file(struct loader *ld, int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP || errno == ENOENT)
            return OG_OK; /* replaced by a symlink or removed since readdir */
        set_err(ld, "%s/%s: %s", ld->dir, ld->rel, strerror(errno));
        return OG_ERR_IO;
    }
    struct stat st;
    int rc = OG_OK;
    if (fstat(fd, &st) != 0) {
        set_err(ld, "%s/%s: %s", ld->dir, ld->rel, strerror(errno));
        rc = OG_ERR_IO;
        goto out;
    }
    if (!S_ISREG(st.st_mode))
        goto out;
    size_t size = (size_t)st.st_size;
    if (size > STATIC_MAX_FILE) {
        set_err(ld, "%s/%s: file is over the %zu MiB limit", ld->dir, ld->rel,
                STATIC_MAX_FILE >> 20);
        rc = OG_ERR_TOO_BIG;
        goto out;
    }
    if (size > STATIC_MAX_TOTAL - ld->total) {
        set_err(ld, "%s: static files are over the %zu MiB total limit (at %s)", ld->dir,
                STATIC_MAX_TOTAL >> 20, ld->rel);
        rc = OG_ERR_TOO_BIG;
        goto out;
    }
    struct static_cache *c = ld->c;
    if (c->count >= STATIC_MAX_FILES) {
        set_err(ld, "%s: more than %d static files", ld->dir, STATIC_MAX_FILES);
        rc = OG_ERR_TOO_BIG;
        goto out;
    }
    char *data = NULL;
    size_t len = 0;
    rc = read_file(ld, fd, size, &data, &len);
    if (rc != OG_OK)
        goto out;
    ld->total += len;
    if (c->count == c->alloc) {
        c->alloc = c->alloc ? c->alloc * 2 : 32;
        c->entries = og_realloc(c->entries, c->alloc * sizeof(*c->entries));
    }
    struct static_entry *e = &c->entries[c->count++];
    memset(e, 0, sizeof(*e));
    e->f.path = og_strdup(ld->rel);
    e->f.data = data;
    e->f.len = len;
    e->mtime = st.st_mtime;
out:
    close(fd);
    return rc;
}

static int walk(struct loader *ld, int dfd, size_t rel_len, int depth);

static int walk_entry(struct loader *ld, int dfd, const char *name, size_t rel_len, int depth)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return OG_OK;
        set_err(ld, "%s/%s: %s", ld->dir, ld->rel, strerror(errno));
        return OG_ERR_IO;
    }
    if (S_ISREG(st.st_mode))
        return load_file(ld, dfd, name);
    if (!S_ISDIR(st.st_mode))
        return OG_OK; /* symlinks, sockets, FIFOs, devices */
    if (depth >= STATIC_MAX_DEPTH) {
        set_err(ld, "%s/%s: folders nested deeper than %d", ld->dir, ld->rel, STATIC_MAX_DEPTH);
        return OG_ERR_TOO_BIG;
    }
    int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) {
        if (errno == ELOOP || errno == ENOTDIR || errno == ENOENT)
            return OG_OK; /* swapped for a symlink or removed since fstatat */
        set_err(ld, "%s/%s: %s", ld->dir, ld->rel, strerror(errno));
        return OG_ERR_IO;
    }
    return walk(ld, sub, rel_len, depth + 1); /* walk closes sub */
}

/* Loads everything under the open folder dfd, whose path relative to the
 * root is ld->rel[0..rel_len). Takes ownership of dfd. */
static int walk(struct loader *ld, int dfd, size_t rel_len, int depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        set_err(ld, "%s/%s: %s", ld->dir, ld->rel, strerror(errno));
        close(dfd);
        return OG_ERR_IO;
    }
    int rc = OG_OK;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno != 0) {
                ld->rel[rel_len] = '\0';
                set_err(ld, "%s/%s: %s", ld->dir, ld->rel, strerror(errno));
                rc = OG_ERR_IO;
            }
            break;
        }
        const char *name = de->d_name;
        if (name[0] == '.')
            continue; /* ".", "..", dotfiles and dot-folders */
        size_t nlen = strlen(name);
        size_t sep = rel_len ? 1 : 0;
        if (rel_len + sep + nlen > STATIC_PATH_MAX) {
            ld->rel[rel_len] = '\0';
            set_err(ld, "%s/%s: a path inside is longer than %d bytes", ld->dir, ld->rel,
                    STATIC_PATH_MAX);
            rc = OG_ERR_TOO_BIG;
            break;
        }
        if (sep)
            ld->rel[rel_len] = '/';
        memcpy(ld->rel + rel_len + sep, name, nlen + 1);
        rc = walk_entry(ld, dirfd(d), name, rel_len + sep + nlen, depth);
        if (rc != OG_OK)
            break;
    }
    closedir(d);
    return rc;
}

static bool ends_with_gz(const char *s, size_t len)
{
    return len > 3 && memcmp(s + len - 3, ".gz", 3) == 0;
}

/* Text worth compressing: what browsers ask for with Accept-Encoding. */
static bool compressible(const char *mime)
{
    return strncmp(mime, "text/", 5) == 0 || strncmp(mime, "image/svg", 9) == 0 ||
           strncmp(mime, "application/json", 16) == 0 ||
           strncmp(mime, "application/manifest", 20) == 0;
}

/* gzip (RFC 1952) of data at level 9 with zlib; a zeroed header (no name,
 * no time), so the same file gives the same bytes and ETag on every start.
 * NULL when zlib fails. */
static char *gzip_bytes(const char *data, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong cap = deflateBound(&z, (uLong)len) + 32;
    char *out = og_malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = (size_t)z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* A gzip variant, made in memory, for each text file that has no "x.gz" on
 * disk and shrinks by a tenth or more. */
static void compress_text(struct static_cache *c)
{
    for (size_t i = 0; i < c->count; i++) {
        struct static_file *f = &c->entries[i].f;
        if (f->gz || f->len < STATIC_GZIP_MIN || f->len > UINT32_MAX ||
            !compressible(static_mime_type(span_cstr(f->path))))
            continue;
        size_t n = 0;
        char *gz = gzip_bytes(f->data, f->len, &n);
        if (gz && n < f->len - f->len / 10) {
            f->gz = gz;
            f->gz_len = n;
        } else {
            free(gz);
        }
    }
}

/* Folds each "x.gz" whose "x" exists into x, drops the folded entries,
 * compresses the text files that had no "x.gz", fills in the validators and
 * MIME types, and builds the final table. */
static int finish(struct static_cache *c)
{
    table_build(c);
    for (size_t i = 0; i < c->count; i++) {
        struct static_entry *e = &c->entries[i];
        size_t len = strlen(e->f.path);
        if (!ends_with_gz(e->f.path, len))
            continue;
        struct static_entry *base = table_find(c, span_make(e->f.path, len - 3));
        if (!base || ends_with_gz(base->f.path, len - 3))
            continue;
        base->f.gz = e->f.data;
        base->f.gz_len = e->f.len;
        e->f.data = NULL;
        e->is_variant = true;
    }
    size_t kept = 0;
    for (size_t i = 0; i < c->count; i++) {
        struct static_entry *e = &c->entries[i];
        if (e->is_variant) {
            free((char *)e->f.path);
            continue;
        }
        c->entries[kept++] = *e;
    }
    c->count = kept;
    compress_text(c);
    for (size_t i = 0; i < c->count; i++) {
        struct static_file *f = &c->entries[i].f;
        if (etag_compute(f->data, f->len, f->etag) != OG_OK)
            return OG_ERR_CRYPTO;
        if (f->gz && etag_compute(f->gz, f->gz_len, f->gz_etag) != OG_OK)
            return OG_ERR_CRYPTO;
        http_date(c->entries[i].mtime, f->last_modified);
        f->mime = static_mime_type(span_cstr(f->path));
    }
    table_build(c);
    return OG_OK;
}

int static_cache_load(const char *dir, struct static_cache **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    struct static_cache *c = og_calloc(1, sizeof(*c));
    struct loader ld = {.c = c, .dir = dir, .err = err, .errlen = errlen};

    /* The root is opened following symlinks: the operator chose this path. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        if (errno == ENOENT) {
            table_build(c);
            *out = c;
            return OG_OK;
        }
        set_err(&ld, "%s: %s", dir, strerror(errno));
        static_cache_free(c);
        return OG_ERR_IO;
    }
    int rc = walk(&ld, dfd, 0, 0);
    if (rc == OG_OK) {
        rc = finish(c);
        if (rc != OG_OK)
            set_err(&ld, "%s: SHA-256 failed", dir);
    }
    if (rc != OG_OK) {
        static_cache_free(c);
        return rc;
    }
    *out = c;
    return OG_OK;
}

void static_cache_free(struct static_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++) {
        struct static_file *f = &c->entries[i].f;
        free((char *)f->path);
        free((char *)f->data);
        free((char *)f->gz);
    }
    free(c->entries);
    free(c->slots);
    free(c);
}

size_t static_cache_count(const struct static_cache *c)
{
    return c ? c->count : 0;
}

const struct static_file *static_cache_find(const struct static_cache *c, struct span path)
{
    struct static_entry *e = table_find(c, path);
    return e ? &e->f : NULL;
}

/* ---- request helpers ---- */

int static_path_clean(struct span raw, char *out, size_t outlen)
{
    if (raw.len == 0 || raw.len > STATIC_PATH_MAX || outlen == 0)
        return OG_ERR_INVALID;
    size_t n = 0;
    size_t seg_len = 0;
    for (size_t i = 0; i < raw.len; i++) {
        unsigned char c = (unsigned char)raw.p[i];
        bool encoded = false;
        if (c == '%') {
            if (raw.len - i < 3)
                return OG_ERR_INVALID;
            int hi = og_hex_value(raw.p[i + 1]);
            int lo = og_hex_value(raw.p[i + 2]);
            if (hi < 0 || lo < 0)
                return OG_ERR_INVALID;
            c = (unsigned char)(hi << 4 | lo);
            encoded = true;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || c == '\\')
            return OG_ERR_INVALID;
        if (c == '/') {
            /* An encoded slash would let one segment hide a path. */
            if (encoded || seg_len == 0)
                return OG_ERR_INVALID;
            seg_len = 0;
        } else {
            if (seg_len == 0 && c == '.')
                return OG_ERR_INVALID;
            seg_len++;
        }
        if (n + 1 >= outlen)
            return OG_ERR_INVALID;
        out[n++] = (char)c;
    }
    if (seg_len == 0)
        return OG_ERR_INVALID; /* trailing '/' */
    out[n] = '\0';
    return OG_OK;
}

static const struct {
    const char *ext;
    const char *mime;
} mime_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/x-icon"},
    {"txt", "text/plain; charset=utf-8"},
    {"xml", "text/xml; charset=utf-8"},
    {"webmanifest", "application/manifest+json"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
};

const char *static_mime_type(struct span path)
{
    static const char fallback[] = "application/octet-stream";
    size_t dot = path.len;
    for (size_t i = path.len; i > 0; i--) {
        char c = path.p[i - 1];
        if (c == '/')
            break;
        if (c == '.') {
            dot = i - 1;
            break;
        }
    }
    if (dot == path.len)
        return fallback;
    struct span ext = span_make(path.p + dot + 1, path.len - dot - 1);
    for (size_t i = 0; i < ARRAY_SIZE(mime_types); i++)
        if (span_eq_nocase(ext, span_cstr(mime_types[i].ext)))
            return mime_types[i].mime;
    return fallback;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

bool static_etag_matches(struct span if_none_match, const char *etag)
{
    struct span v = span_trim_ows(if_none_match);
    if (v.len == 1 && v.p[0] == '*')
        return true;
    if (!etag)
        return false;
    struct span want = span_cstr(etag);
    if (span_starts_with(want, "W/")) {
        want.p += 2;
        want.len -= 2;
    }
    if (want.len < 2 || want.p[0] != '"' || want.p[want.len - 1] != '"')
        return false;

    size_t i = 0;
    while (i < v.len) {
        while (i < v.len && (is_ows(v.p[i]) || v.p[i] == ','))
            i++;
        if (i >= v.len)
            break;
        if (v.len - i >= 2 && v.p[i] == 'W' && v.p[i + 1] == '/')
            i += 2;
        if (i >= v.len || v.p[i] != '"') {
            /* Not an entity tag: skip the element. */
            while (i < v.len && v.p[i] != ',')
                i++;
            continue;
        }
        const char *close = memchr(v.p + i + 1, '"', v.len - i - 1);
        if (!close)
            return false; /* unterminated: nothing further can be trusted */
        struct span tag = span_make(v.p + i, (size_t)(close - (v.p + i)) + 1);
        i += tag.len;
        size_t j = i;
        while (j < v.len && is_ows(v.p[j]))
            j++;
        bool well_formed = j == v.len || v.p[j] == ',';
        if (well_formed && span_eq(tag, want))
            return true;
        while (i < v.len && v.p[i] != ',')
            i++;
    }
    return false;
}

/* Reads the weight of one Accept-Encoding element's parameters ("; q=0.5").
 * Returns 1 for q > 0 (or no q), 0 for q = 0, -1 for a malformed q. */
static int coding_weight(struct span params)
{
    size_t i = 0;
    int result = 1;
    while (i < params.len) {
        const char *semi = memchr(params.p + i, ';', params.len - i);
        size_t n = semi ? (size_t)(semi - (params.p + i)) : params.len - i;
        struct span param = span_trim_ows(span_make(params.p + i, n));
        i += n + 1;
        if (param.len < 2 || (param.p[0] != 'q' && param.p[0] != 'Q'))
            continue;
        struct span rest = span_trim_ows(span_make(param.p + 1, param.len - 1));
        if (rest.len == 0 || rest.p[0] != '=')
            continue;
        struct span q = span_trim_ows(span_make(rest.p + 1, rest.len - 1));
        /* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
        if (q.len == 0 || q.len > 5 || (q.p[0] != '0' && q.p[0] != '1'))
            return -1;
        if (q.len > 1 && q.p[1] != '.')
            return -1;
        bool all_zero = true;
        for (size_t k = 2; k < q.len; k++) {
            if (q.p[k] < '0' || q.p[k] > '9')
                return -1;
            if (q.p[k] != '0')
                all_zero = false;
        }
        if (q.p[0] == '1') {
            if (!all_zero)
                return -1;
            result = 1;
        } else {
            result = all_zero ? 0 : 1;
        }
    }
    return result;
}

bool static_accepts_gzip(struct span accept_encoding)
{
    int gzip = -1; /* -1 not named, 0 refused, 1 accepted */
    int star = -1;
    size_t i = 0;
    const char *p = accept_encoding.p;
    while (i < accept_encoding.len) {
        const char *comma = memchr(p + i, ',', accept_encoding.len - i);
        size_t n = comma ? (size_t)(comma - (p + i)) : accept_encoding.len - i;
        struct span elem = span_make(p + i, n);
        i += n + 1;
        const char *semi = memchr(elem.p, ';', elem.len);
        struct span coding = span_make(elem.p, semi ? (size_t)(semi - elem.p) : elem.len);
        struct span params =
            semi ? span_make(semi + 1, elem.len - coding.len - 1) : span_make(elem.p, 0);
        coding = span_trim_ows(coding);
        int *slot = NULL;
        if (span_eq_nocase(coding, SPAN_LIT("gzip")) || span_eq_nocase(coding, SPAN_LIT("x-gzip")))
            slot = &gzip;
        else if (span_eq_cstr(coding, "*"))
            slot = &star;
        else
            continue;
        int w = coding_weight(params);
        if (w > *slot)
            *slot = w;
    }
    if (gzip >= 0)
        return gzip == 1;
    return star == 1;
}
