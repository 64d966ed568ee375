/* The in-memory cache of the static/ folder: loaded once at start-up, so
 * serving a file on the event loop is a hash lookup with no disk I/O. Also
 * the pure HTTP helpers for serving it: URL path cleaning, MIME types,
 * If-None-Match and Accept-Encoding. No libuv, no logging here. */
#ifndef OTPGATE_STATIC_FILES_H
#define OTPGATE_STATIC_FILES_H

#include "core/common.h"

/* Named limits, checked while loading and cleaning. */
#define STATIC_MAX_TOTAL ((size_t)64 << 20) /* all files, .gz variants included */
#define STATIC_MAX_FILE  ((size_t)16 << 20) /* one file */
#define STATIC_MAX_FILES 10000
#define STATIC_MAX_DEPTH 16   /* folder nesting below dir */
#define STATIC_PATH_MAX  1024 /* relative path, raw or decoded */

struct static_file {
    const char *path; /* relative, e.g. "css/app.css"; NUL-terminated */
    const char *data;
    size_t len;
    const char *gz; /* "<file>.gz" sibling if present, else made at load time
                       for a compressible text file; NULL otherwise */
    size_t gz_len;
    const char *mime; /* e.g. "text/css; charset=utf-8"; static storage */
    /* Strong ETag, quoted: the first 16 bytes of SHA-256(data) in hex. */
    char etag[48];
    /* The gz variant's own strong ETag (from SHA-256(gz)); empty when gz is
     * NULL. A strong validator must change with the content coding (RFC 9110
     * §8.8.3), so a gzip answer carries this one and Vary: Accept-Encoding. */
    char gz_etag[48];
    char last_modified[32]; /* IMF-fixdate of the file's mtime */
};

struct static_cache;

/* Walks dir recursively and loads every regular file into memory. Skips
 * symlinks (checked with lstat and again with O_NOFOLLOW, so nothing outside
 * dir is ever read), dotfiles, dot-folders and special files. "x.gz" becomes
 * the gz variant of "x" when "x" exists (and does not itself end in ".gz");
 * a lone "y.gz" is served as itself. dir itself may be a symlink: the caller
 * chose it.
 * Returns OG_OK and a cache the caller frees with static_cache_free(). A
 * missing dir gives an empty cache and OG_OK (the caller decides whether to
 * log). A file over STATIC_MAX_FILE, a total over STATIC_MAX_TOTAL, more than
 * STATIC_MAX_FILES files, nesting past STATIC_MAX_DEPTH or a path longer than
 * STATIC_PATH_MAX give OG_ERR_TOO_BIG; dir not being a folder or a read
 * failure gives OG_ERR_IO, OG_ERR_CRYPTO a hashing failure. On error *out is
 * NULL and err (if errlen > 0) holds one line naming the file and cause. */
int static_cache_load(const char *dir, struct static_cache **out, char *err, size_t errlen);
void static_cache_free(struct static_cache *c);
size_t static_cache_count(const struct static_cache *c);

/* Looks up a decoded relative path ("css/app.css"), exact and case-sensitive,
 * in O(1). Returns NULL when absent. The result lives as long as the cache. */
const struct static_file *static_cache_find(const struct static_cache *c, struct span path);

/* Turns the raw URL path after the "/static/" prefix (still percent-encoded,
 * no query) into a clean relative path in out, NUL-terminated. Percent-decodes
 * and refuses with OG_ERR_INVALID: empty input, empty segments (leading,
 * trailing or doubled '/'), any segment starting with '.' (so "." and ".."
 * however encoded), a literal or encoded backslash, an encoded slash
 * (%2f/%2F), NUL and other control bytes (raw or encoded), bad escapes, and
 * input longer than STATIC_PATH_MAX or than fits in outlen. */
int static_path_clean(struct span raw, char *out, size_t outlen);

/* MIME type by the extension of path's last segment, case-insensitive; text
 * types carry "; charset=utf-8". Unknown: "application/octet-stream". The
 * result is static storage. */
const char *static_mime_type(struct span path);

/* True when an If-None-Match value matches etag by weak comparison (RFC 9110
 * §13.1.2, §8.8.3.2): "*" alone matches anything; otherwise the value is a
 * comma list of entity tags, each maybe W/-prefixed, compared by their quoted
 * opaque part. Malformed elements are skipped. */
bool static_etag_matches(struct span if_none_match, const char *etag);

/* True when an Accept-Encoding value allows gzip (RFC 9110 §12.5.3): a
 * "gzip" or "x-gzip" element decides by its q (q=0 refuses); with none, a
 * "*" element decides the same way; otherwise false. Tokens and the q
 * parameter are case-insensitive; an element with a malformed q is ignored. */
bool static_accepts_gzip(struct span accept_encoding);

#endif
