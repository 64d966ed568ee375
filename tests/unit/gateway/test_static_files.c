/* Unit tests for src/gateway/http/static_files.c: MIME types, ETag and
 * Accept-Encoding matching, URL path cleaning, and loading a real temporary
 * folder (nesting, .gz variants, symlinks, dotfiles, limits). Each loading
 * test owns its own temporary folder. */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/http/static_files.h"

/* ---- MIME ---- */

static void test_mime(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        const char *mime;
    } cases[] = {
        {"index.html", "text/html; charset=utf-8"},
        {"css/otpgate.css", "text/css; charset=utf-8"},
        {"js/app.js", "text/javascript; charset=utf-8"},
        {"js/mod.mjs", "text/javascript; charset=utf-8"},
        {"a.json", "application/json"},
        {"js/app.js.map", "application/json"},
        {"img/logo.svg", "image/svg+xml"},
        {"a.png", "image/png"},
        {"a.jpg", "image/jpeg"},
        {"a.jpeg", "image/jpeg"},
        {"a.gif", "image/gif"},
        {"a.webp", "image/webp"},
        {"a.avif", "image/avif"},
        {"favicon.ico", "image/x-icon"},
        {"robots.txt", "text/plain; charset=utf-8"},
        {"sitemap.xml", "text/xml; charset=utf-8"},
        {"site.webmanifest", "application/manifest+json"},
        {"f.woff", "font/woff"},
        {"f.woff2", "font/woff2"},
        {"m.wasm", "application/wasm"},
        {"doc.pdf", "application/pdf"},
        {"IMG/LOGO.SVG", "image/svg+xml"},
        {"Index.HtMl", "text/html; charset=utf-8"},
        {"README", "application/octet-stream"},
        {"archive.tar.gz", "application/octet-stream"},
        {"a.exe", "application/octet-stream"},
        {"dir.css/file", "application/octet-stream"},
        {"trailingdot.", "application/octet-stream"},
        {"", "application/octet-stream"},
        {"a.htmlx", "application/octet-stream"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        assert_string_equal(static_mime_type(span_cstr(cases[i].path)), cases[i].mime);
}

/* ---- ETag ---- */

#define TAG "\"2cf24dba5fb0a30e26e83b2ac5b9e29e\""

static void test_etag_exact(void **state)
{
    (void)state;
    assert_true(static_etag_matches(SPAN_LIT(TAG), TAG));
    assert_true(static_etag_matches(SPAN_LIT("  " TAG "\t"), TAG));
    assert_false(static_etag_matches(SPAN_LIT("\"2cf24dba5fb0a30e26e83b2ac5b9e29f\""), TAG));
    /* Unquoted values are not entity tags. */
    assert_false(static_etag_matches(SPAN_LIT("2cf24dba5fb0a30e26e83b2ac5b9e29e"), TAG));
}

static void test_etag_list(void **state)
{
    (void)state;
    assert_true(static_etag_matches(SPAN_LIT("\"a\", " TAG ", \"b\""), TAG));
    assert_true(static_etag_matches(SPAN_LIT("\"a\"," TAG), TAG));
    assert_true(static_etag_matches(SPAN_LIT(" , \"a\" ,, " TAG " , "), TAG));
    assert_false(static_etag_matches(SPAN_LIT("\"a\", \"b\", \"c\""), TAG));
    /* A comma inside a quoted tag does not split it. */
    assert_true(static_etag_matches(SPAN_LIT("\"a,b\""), "\"a,b\""));
    assert_false(static_etag_matches(SPAN_LIT("\"a,b\""), "\"b\""));
    /* Junk elements are skipped, later good ones still count. */
    assert_true(static_etag_matches(SPAN_LIT("junk, " TAG), TAG));
}

static void test_etag_weak(void **state)
{
    (void)state;
    assert_true(static_etag_matches(SPAN_LIT("W/" TAG), TAG));
    assert_true(static_etag_matches(SPAN_LIT("\"a\", W/" TAG), TAG));
    assert_true(static_etag_matches(SPAN_LIT(TAG), "W/" TAG));
    assert_false(static_etag_matches(SPAN_LIT("w/" TAG), TAG)); /* W is case-sensitive */
    assert_false(static_etag_matches(SPAN_LIT("W/"), TAG));
}

static void test_etag_star(void **state)
{
    (void)state;
    assert_true(static_etag_matches(SPAN_LIT("*"), TAG));
    assert_true(static_etag_matches(SPAN_LIT(" * "), TAG));
    assert_false(static_etag_matches(SPAN_LIT("**"), TAG));
}

static void test_etag_no_match(void **state)
{
    (void)state;
    assert_false(static_etag_matches(SPAN_LIT(""), TAG));
    assert_false(static_etag_matches(SPAN_NULL, TAG));
    assert_false(static_etag_matches(SPAN_LIT("\"2cf24dba"), TAG));     /* unterminated */
    assert_false(static_etag_matches(SPAN_LIT(TAG "x"), TAG));          /* trailing junk */
    assert_false(static_etag_matches(SPAN_LIT("\"\""), TAG));           /* empty tag */
    assert_false(static_etag_matches(SPAN_LIT(TAG), ""));               /* no etag */
    assert_false(static_etag_matches(SPAN_LIT(TAG), NULL));             /* no etag */
    assert_false(static_etag_matches(SPAN_LIT("\"x\""), "not-quoted")); /* bad own etag */
}

/* ---- Accept-Encoding ---- */

static void test_gzip_accept(void **state)
{
    (void)state;
    assert_true(static_accepts_gzip(SPAN_LIT("gzip")));
    assert_true(static_accepts_gzip(SPAN_LIT("gzip, deflate, br, zstd")));
    assert_true(static_accepts_gzip(SPAN_LIT("br;q=1.0, GZip;q=0.5")));
    assert_true(static_accepts_gzip(SPAN_LIT("deflate ,  gzip ; q=0.001")));
    assert_true(static_accepts_gzip(SPAN_LIT("x-gzip")));
    assert_true(static_accepts_gzip(SPAN_LIT("*")));
    assert_true(static_accepts_gzip(SPAN_LIT("br, *;q=0.1")));
    assert_true(static_accepts_gzip(SPAN_LIT("gzip;Q=1")));
    assert_true(static_accepts_gzip(SPAN_LIT("gzip;q=1.000")));
}

static void test_gzip_refuse(void **state)
{
    (void)state;
    assert_false(static_accepts_gzip(SPAN_LIT("")));
    assert_false(static_accepts_gzip(SPAN_NULL));
    assert_false(static_accepts_gzip(SPAN_LIT("identity")));
    assert_false(static_accepts_gzip(SPAN_LIT("br, deflate")));
    assert_false(static_accepts_gzip(SPAN_LIT("gzip;q=0")));
    assert_false(static_accepts_gzip(SPAN_LIT("gzip; q=0.000")));
    assert_false(static_accepts_gzip(SPAN_LIT("gzip;q=0.")));
    assert_false(static_accepts_gzip(SPAN_LIT("*;q=0")));
    assert_false(static_accepts_gzip(SPAN_LIT("br, *;q=0")));
    /* An explicit gzip;q=0 wins over a permissive "*". */
    assert_false(static_accepts_gzip(SPAN_LIT("*, gzip;q=0")));
    /* An explicit gzip wins over "*;q=0". */
    assert_true(static_accepts_gzip(SPAN_LIT("*;q=0, gzip")));
    /* Not a token match. */
    assert_false(static_accepts_gzip(SPAN_LIT("gzipx, xgzip, gzip2")));
    /* Malformed q: the element is ignored. */
    assert_false(static_accepts_gzip(SPAN_LIT("gzip;q=2")));
    assert_false(static_accepts_gzip(SPAN_LIT("gzip;q=abc")));
    assert_false(static_accepts_gzip(SPAN_LIT("gzip;q=1.5")));
    assert_false(static_accepts_gzip(SPAN_LIT("gzip;q=0.0001")));
    assert_false(static_accepts_gzip(SPAN_LIT("gzip;q=")));
}

/* ---- path cleaning ---- */

static int clean(const char *raw, char *out, size_t outlen)
{
    return static_path_clean(span_cstr(raw), out, outlen);
}

static void test_clean_accepts(void **state)
{
    (void)state;
    char out[STATIC_PATH_MAX + 1];
    assert_int_equal(clean("css/otpgate.css", out, sizeof(out)), OG_OK);
    assert_string_equal(out, "css/otpgate.css");
    assert_int_equal(clean("img/my%20logo.svg", out, sizeof(out)), OG_OK);
    assert_string_equal(out, "img/my logo.svg");
    assert_int_equal(clean("a..b/c.d.e", out, sizeof(out)), OG_OK);
    assert_string_equal(out, "a..b/c.d.e");
    assert_int_equal(clean("%61pp.js", out, sizeof(out)), OG_OK);
    assert_string_equal(out, "app.js");
    assert_int_equal(clean("caf%C3%A9.txt", out, sizeof(out)), OG_OK);
    assert_string_equal(out, "caf\xc3\xa9.txt");
    assert_int_equal(clean("a+b", out, sizeof(out)), OG_OK);
    assert_string_equal(out, "a+b"); /* '+' is not a space in a path */
    assert_int_equal(clean("robots.txt", out, sizeof(out)), OG_OK);
    assert_string_equal(out, "robots.txt");
}

static void test_clean_refuses(void **state)
{
    (void)state;
    char out[64];
    static const char *bad[] = {
        "",         "..",       "../secret",   "css/../../etc/passwd",
        "%2e%2e/x", "%2E%2E",   "css/%2e%2e",  ".",
        "./a",      "a/.",      "a/./b",       "%2e",
        ".env",     "css/.hid", ".git/config", "%2egit/config",
        "a%2fb",    "a%2Fb",    "a%2F..%2Fb",  "a\\b",
        "..\\x",    "a%5cb",    "a%5Cb",       "a//b",
        "/a",       "a/",       "/",           "a%00b",
        "a%01",     "a%7f",     "a%0a",        "a%zz",
        "a%4",      "a%",       "a\tb",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        if (clean(bad[i], out, sizeof(out)) != OG_ERR_INVALID)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(static_path_clean(span_make("a\0b", 3), out, sizeof(out)), OG_ERR_INVALID);
    assert_int_equal(static_path_clean(span_make("a\x1f", 2), out, sizeof(out)), OG_ERR_INVALID);
}

static void test_clean_overlong(void **state)
{
    (void)state;
    char raw[STATIC_PATH_MAX + 2];
    char out[STATIC_PATH_MAX + 8];
    memset(raw, 'a', sizeof(raw));
    assert_int_equal(static_path_clean(span_make(raw, STATIC_PATH_MAX), out, sizeof(out)), OG_OK);
    assert_int_equal(strlen(out), STATIC_PATH_MAX);
    assert_int_equal(static_path_clean(span_make(raw, STATIC_PATH_MAX + 1), out, sizeof(out)),
                     OG_ERR_INVALID);
    /* Too long for out: refused, never truncated. */
    char small[4];
    assert_int_equal(clean("abc", small, sizeof(small)), OG_OK);
    assert_int_equal(clean("abcd", small, sizeof(small)), OG_ERR_INVALID);
    assert_int_equal(clean("a", small, 0), OG_ERR_INVALID);
}

/* ---- loading a folder ---- */

struct tmp {
    char root[PATH_MAX];    /* owns everything below */
    char dir[PATH_MAX];     /* root/static: the folder loaded */
    char outside[PATH_MAX]; /* root/outside: must never be served */
};

static void path_join(char *out, size_t outlen, const char *a, const char *b)
{
    int n = snprintf(out, outlen, "%s/%s", a, b);
    assert_true(n > 0 && (size_t)n < outlen);
}

static void write_file(const char *base, const char *rel, const void *data, size_t len)
{
    char p[PATH_MAX];
    path_join(p, sizeof(p), base, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void make_dir(const char *base, const char *rel)
{
    char p[PATH_MAX];
    path_join(p, sizeof(p), base, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void set_mtime(const char *base, const char *rel, time_t t)
{
    char p[PATH_MAX];
    path_join(p, sizeof(p), base, rel);
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static void make_link(const char *target, const char *base, const char *rel)
{
    char p[PATH_MAX];
    path_join(p, sizeof(p), base, rel);
    assert_int_equal(symlink(target, p), 0);
}

static int tmp_setup(void **state)
{
    struct tmp *t = test_calloc(1, sizeof(*t));
    snprintf(t->root, sizeof(t->root), "%s/otpgate-static-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(t->root))
        return -1;
    path_join(t->dir, sizeof(t->dir), t->root, "static");
    path_join(t->outside, sizeof(t->outside), t->root, "outside");
    if (mkdir(t->dir, 0755) != 0 || mkdir(t->outside, 0755) != 0)
        return -1;
    *state = t;
    return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int tmp_teardown(void **state)
{
    struct tmp *t = *state;
    int rc = nftw(t->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    test_free(t);
    return rc;
}

static void assert_file(const struct static_file *f, const char *data)
{
    assert_non_null(f);
    assert_int_equal(f->len, strlen(data));
    assert_memory_equal(f->data, data, f->len);
}

static const struct static_file *find(const struct static_cache *c, const char *path)
{
    return static_cache_find(c, span_cstr(path));
}

static void test_load_tree(void **state)
{
    struct tmp *t = *state;
    static const unsigned char fake_gz[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x01, 0x02};
    write_file(t->dir, "robots.txt", "hello", 5);
    set_mtime(t->dir, "robots.txt", 784111777); /* RFC 9110's example date */
    make_dir(t->dir, "css");
    write_file(t->dir, "css/app.css", "body{}", 6);
    write_file(t->dir, "css/app.css.gz", fake_gz, sizeof(fake_gz));
    make_dir(t->dir, "css/deep");
    write_file(t->dir, "css/deep/x.js", "let x;", 6);
    write_file(t->dir, "lone.txt.gz", fake_gz, sizeof(fake_gz));
    write_file(t->dir, "empty.txt", "", 0);
    /* Must not load: */
    write_file(t->dir, ".env", "SECRET=1", 8);
    make_dir(t->dir, ".git");
    write_file(t->dir, ".git/config", "secret", 6);
    write_file(t->outside, "passwd", "root:x:0:0", 10);
    char target[PATH_MAX];
    path_join(target, sizeof(target), t->outside, "passwd");
    make_link(target, t->dir, "passwd");          /* symlink to a file outside */
    make_link(t->outside, t->dir, "out");         /* symlink to a folder outside */
    make_link("robots.txt", t->dir, "alias.txt"); /* symlink inside */
    make_link("css", t->dir, "css2");             /* symlink to a folder inside */
    make_link("nowhere", t->dir, "dangling.txt");
    char fifo[PATH_MAX];
    path_join(fifo, sizeof(fifo), t->dir, "pipe.txt");
    assert_int_equal(mkfifo(fifo, 0644), 0); /* opening it would block */

    struct static_cache *c = NULL;
    char err[256] = "x";
    assert_int_equal(static_cache_load(t->dir, &c, err, sizeof(err)), OG_OK);
    assert_string_equal(err, "");
    assert_non_null(c);
    assert_int_equal(static_cache_count(c), 5);

    const struct static_file *f = find(c, "robots.txt");
    assert_file(f, "hello");
    assert_string_equal(f->path, "robots.txt");
    assert_string_equal(f->mime, "text/plain; charset=utf-8");
    /* SHA-256("hello") = 2cf24dba5fb0a30e26e83b2ac5b9e29e 1b161e5c... */
    assert_string_equal(f->etag, TAG);
    assert_string_equal(f->last_modified, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_null(f->gz);
    assert_int_equal(f->gz_len, 0);
    assert_string_equal(f->gz_etag, "");

    f = find(c, "css/app.css");
    assert_file(f, "body{}");
    assert_string_equal(f->mime, "text/css; charset=utf-8");
    assert_non_null(f->gz);
    assert_int_equal(f->gz_len, sizeof(fake_gz));
    assert_memory_equal(f->gz, fake_gz, sizeof(fake_gz));
    assert_int_equal(strlen(f->gz_etag), 34);
    assert_string_not_equal(f->gz_etag, f->etag);
    assert_int_equal(strlen(f->last_modified), 29);
    assert_null(find(c, "css/app.css.gz")); /* folded into css/app.css */

    assert_file(find(c, "css/deep/x.js"), "let x;");
    assert_string_equal(find(c, "css/deep/x.js")->mime, "text/javascript; charset=utf-8");

    f = find(c, "lone.txt.gz"); /* no "lone.txt": served as itself */
    assert_non_null(f);
    assert_int_equal(f->len, sizeof(fake_gz));
    assert_null(f->gz);
    assert_null(find(c, "lone.txt"));

    f = find(c, "empty.txt");
    assert_non_null(f);
    assert_int_equal(f->len, 0);
    /* SHA-256("") = e3b0c44298fc1c149afbf4c8996fb924 27ae41e4... */
    assert_string_equal(f->etag, "\"e3b0c44298fc1c149afbf4c8996fb924\"");

    assert_null(find(c, ".env"));
    assert_null(find(c, ".git/config"));
    assert_null(find(c, "passwd"));
    assert_null(find(c, "out/passwd"));
    assert_null(find(c, "alias.txt"));
    assert_null(find(c, "css2/app.css"));
    assert_null(find(c, "dangling.txt"));
    assert_null(find(c, "pipe.txt"));
    assert_null(find(c, "css"));
    assert_null(find(c, ""));
    assert_null(find(c, "ROBOTS.TXT"));
    assert_null(find(c, "robots.tx"));
    static_cache_free(c);
}

static void test_load_many(void **state)
{
    /* Enough files to force collisions and table growth. */
    struct tmp *t = *state;
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "f%03d.txt", i);
        write_file(t->dir, name, name, strlen(name));
    }
    struct static_cache *c = NULL;
    assert_int_equal(static_cache_load(t->dir, &c, NULL, 0), OG_OK);
    assert_int_equal(static_cache_count(c), 300);
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "f%03d.txt", i);
        assert_file(find(c, name), name);
    }
    assert_null(find(c, "f300.txt"));
    static_cache_free(c);
}

static void test_load_missing_dir(void **state)
{
    struct tmp *t = *state;
    char p[PATH_MAX];
    path_join(p, sizeof(p), t->root, "does-not-exist");
    struct static_cache *c = NULL;
    char err[128] = "";
    assert_int_equal(static_cache_load(p, &c, err, sizeof(err)), OG_OK);
    assert_non_null(c);
    assert_int_equal(static_cache_count(c), 0);
    assert_null(find(c, "robots.txt"));
    assert_string_equal(err, "");
    static_cache_free(c);
    static_cache_free(NULL);
    assert_int_equal(static_cache_count(NULL), 0);
    assert_null(static_cache_find(NULL, SPAN_LIT("a")));
}

static void test_load_root_is_file(void **state)
{
    struct tmp *t = *state;
    write_file(t->root, "plain", "x", 1);
    char p[PATH_MAX];
    path_join(p, sizeof(p), t->root, "plain");
    struct static_cache *c = (struct static_cache *)1;
    char err[256] = "";
    assert_int_equal(static_cache_load(p, &c, err, sizeof(err)), OG_ERR_IO);
    assert_null(c);
    assert_non_null(strstr(err, "plain"));
}

static void test_load_root_symlink_followed(void **state)
{
    /* The root itself is the operator's choice and may be a symlink. */
    struct tmp *t = *state;
    write_file(t->dir, "a.txt", "a", 1);
    make_link(t->dir, t->root, "link");
    char p[PATH_MAX];
    path_join(p, sizeof(p), t->root, "link");
    struct static_cache *c = NULL;
    assert_int_equal(static_cache_load(p, &c, NULL, 0), OG_OK);
    assert_int_equal(static_cache_count(c), 1);
    static_cache_free(c);
}

static void make_sparse(const char *base, const char *rel, off_t size)
{
    char p[PATH_MAX];
    path_join(p, sizeof(p), base, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    close(fd);
}

static void test_load_file_too_big(void **state)
{
    struct tmp *t = *state;
    write_file(t->dir, "ok.txt", "ok", 2);
    make_sparse(t->dir, "big.bin", (off_t)STATIC_MAX_FILE + 1);
    struct static_cache *c = (struct static_cache *)1;
    char err[256] = "";
    assert_int_equal(static_cache_load(t->dir, &c, err, sizeof(err)), OG_ERR_TOO_BIG);
    assert_null(c);
    assert_non_null(strstr(err, "big.bin"));
}

static void test_load_file_at_limit(void **state)
{
    struct tmp *t = *state;
    make_sparse(t->dir, "big.bin", (off_t)STATIC_MAX_FILE);
    struct static_cache *c = NULL;
    assert_int_equal(static_cache_load(t->dir, &c, NULL, 0), OG_OK);
    assert_int_equal(find(c, "big.bin")->len, STATIC_MAX_FILE);
    static_cache_free(c);
}

static void test_load_total_too_big(void **state)
{
    struct tmp *t = *state;
    char name[32];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "part%d.bin", i);
        make_sparse(t->dir, name, (off_t)(15 << 20)); /* 5 x 15 MiB > 64 MiB */
    }
    struct static_cache *c = (struct static_cache *)1;
    char err[256] = "";
    assert_int_equal(static_cache_load(t->dir, &c, err, sizeof(err)), OG_ERR_TOO_BIG);
    assert_null(c);
    assert_non_null(strstr(err, "total"));
}

static void test_load_too_deep(void **state)
{
    struct tmp *t = *state;
    char rel[PATH_MAX] = "d";
    make_dir(t->dir, rel);
    for (int i = 0; i < STATIC_MAX_DEPTH; i++) {
        size_t n = strlen(rel);
        memcpy(rel + n, "/d", 3);
        make_dir(t->dir, rel);
    }
    struct static_cache *c = (struct static_cache *)1;
    assert_int_equal(static_cache_load(t->dir, &c, NULL, 0), OG_ERR_TOO_BIG);
    assert_null(c);
}

static void test_load_product_static(void **state)
{
    /* The real static/ folder of the source tree loads and has its assets. */
    (void)state;
    const char *src = getenv("OTPGATE_SOURCE_DIR");
    if (!src)
        skip();
    char p[PATH_MAX];
    path_join(p, sizeof(p), src, "static");
    struct static_cache *c = NULL;
    char err[256] = "";
    assert_int_equal(static_cache_load(p, &c, err, sizeof(err)), OG_OK);
    const struct static_file *f = find(c, "css/otpgate.css");
    assert_non_null(f);
    assert_string_equal(f->mime, "text/css; charset=utf-8");
    f = find(c, "img/logo.svg");
    assert_non_null(f);
    assert_string_equal(f->mime, "image/svg+xml");
    f = find(c, "robots.txt");
    assert_non_null(f);
    assert_non_null(memmem(f->data, f->len, "Disallow: /", 11));
    static_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mime),
        cmocka_unit_test(test_etag_exact),
        cmocka_unit_test(test_etag_list),
        cmocka_unit_test(test_etag_weak),
        cmocka_unit_test(test_etag_star),
        cmocka_unit_test(test_etag_no_match),
        cmocka_unit_test(test_gzip_accept),
        cmocka_unit_test(test_gzip_refuse),
        cmocka_unit_test(test_clean_accepts),
        cmocka_unit_test(test_clean_refuses),
        cmocka_unit_test(test_clean_overlong),
        cmocka_unit_test_setup_teardown(test_load_tree, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_load_many, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_load_missing_dir, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_load_root_is_file, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_load_root_symlink_followed, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_load_file_too_big, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_load_file_at_limit, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_load_total_too_big, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_load_too_deep, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_load_product_static),
    };
    return cmocka_run_group_tests_name("static_files", tests, NULL, NULL);
}
