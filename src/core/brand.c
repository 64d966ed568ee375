/* Brand values (checks and meta storage) and the uploaded logo: its type
 * from its first bytes, the refusal of active SVG content, and its copy in
 * the database (table brand_logos, so every instance on one database
 * serves it; a logo uploaded before that is read from its file in the data
 * directory and taken in by brand_logo_adopt). Never trusts a file's name
 * or a claimed Content-Type: only the bytes decide. */
#include "core/brand.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define LOGO_PREFIX  "brand-logo-"
#define LOGO_URL_MAX 200

const char *const brand_keys[4] = {"name", "accent", "logo", "support"};

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

bool brand_key_known(const char *key)
{
    for (size_t i = 0; key && i < ARRAY_SIZE(brand_keys); i++)
        if (strcmp(key, brand_keys[i]) == 0)
            return true;
    return false;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

const char *brand_check(const char *key, const char *v)
{
    if (!brand_key_known(key))
        return "is not a brand setting (name, accent, logo or support)";
    size_t n = v ? strlen(v) : 0;
    if (n == 0)
        return NULL;
    bool name = strcmp(key, "name") == 0;
    if (name || strcmp(key, "support") == 0) {
        if (n > (name ? BRAND_NAME_MAX : BRAND_SUPPORT_MAX))
            return name ? "must be at most 64 characters" : "must be at most 200 characters";
        for (const char *c = v; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                return "must not contain control characters";
        return NULL;
    }
    if (strcmp(key, "accent") == 0) {
        if (!(v[0] == '#' && (n == 4 || n == 7)))
            return "must be a colour like #1d4ed8";
        for (size_t i = 1; i < n; i++)
            if (!is_hex(v[i]))
                return "must be a colour like #1d4ed8";
        return NULL;
    }
    /* logo: same-origin only, as the pages' Content-Security-Policy wants,
     * and a path otpgate serves itself (a static file or the upload), so a
     * mistyped file name is not taken for one. */
    char version[BRAND_VERSION_LEN];
    if ((strncmp(v, "/static/", 8) != 0 && !brand_logo_version(v, version)) || n > LOGO_URL_MAX ||
        strpbrk(v, "\"'<>\\ \t\r\n"))
        return "must be a path on this server, such as /static/img/logo.svg";
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            return "must be a path on this server, such as /static/img/logo.svg";
    return NULL;
}

int brand_get(struct store *s, const char *key, char *out, size_t outlen)
{
    char mkey[32];
    out[0] = '\0';
    if (!brand_key_known(key))
        return OG_ERR_INVALID;
    snprintf(mkey, sizeof(mkey), "brand_%s", key);
    int rc = store_meta_get(s, mkey, out, outlen);
    if (rc == OG_ERR_NOT_FOUND || rc == OG_ERR_TOO_BIG) {
        out[0] = '\0';
        return OG_OK;
    }
    return rc;
}

int brand_set(struct store *s, const char *key, const char *value)
{
    if (brand_check(key, value))
        return OG_ERR_INVALID;
    char mkey[32];
    snprintf(mkey, sizeof(mkey), "brand_%s", key);
    return store_meta_set(s, mkey, value ? value : "");
}

/* ---- the logo file ---- */

static bool starts(const uint8_t *d, size_t len, const char *magic, size_t n)
{
    return len >= n && memcmp(d, magic, n) == 0;
}

static char lower(uint8_t c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

/* Whether d[i..] starts with word (lower case), ignoring ASCII case. */
static bool at_nocase(const uint8_t *d, size_t len, size_t i, const char *word)
{
    size_t n = strlen(word);
    if (len - i < n)
        return false;
    for (size_t k = 0; k < n; k++)
        if (lower(d[i + k]) != word[k])
            return false;
    return true;
}

static bool space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether d[i..] starts with word ignoring ASCII case and the tabs and
 * line breaks a URL parser drops ("java\tscript:" is javascript:). */
static bool at_url_nocase(const uint8_t *d, size_t len, size_t i, const char *word)
{
    for (size_t k = 0; word[k]; i++) {
        if (i >= len)
            return false;
        if (k > 0 && (d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
            continue;
        if (lower(d[i]) != word[k++])
            return false;
    }
    return true;
}

/* What in an SVG could run or fetch when the file is opened on its own, or
 * NULL. As an <img> a browser runs none of it; refusing it keeps the file
 * safe at its own URL too (which is also served with a sandbox CSP). */
static const char *svg_active(const uint8_t *d, size_t len)
{
    static const struct {
        const char *text, *what;
    } banned[] = {
        {"<script", "a script"},
        {"<foreignobject", "a foreignObject"},
        {"<iframe", "an iframe"},
        {"<embed", "an embed"},
        {"<object", "an object"},
        {"<!entity", "an entity declaration"},
        {"<?xml-stylesheet", "an XML stylesheet"},
    };
    bool in_tag = false;
    for (size_t i = 0; i < len; i++) {
        if (d[i] == '<')
            for (size_t k = 0; k < ARRAY_SIZE(banned); k++)
                if (at_nocase(d, len, i, banned[k].text))
                    return banned[k].what;
        if (at_url_nocase(d, len, i, "javascript:"))
            return "a javascript: URL";
        /* Inside a tag a character reference could spell any of the
         * above ("&#106;avascript:"); a logo's attributes need none. */
        if (d[i] == '<' || d[i] == '>')
            in_tag = d[i] == '<';
        else if (in_tag && d[i] == '&')
            return "a character reference inside a tag (&...;)";
        /* An event handler attribute: blank or '/' or quote, "on", letters, '='. */
        if ((space(d[i]) || d[i] == '/' || d[i] == '"' || d[i] == '\'') &&
            at_nocase(d, len, i + 1, "on")) {
            size_t k = i + 3;
            while (k < len && ((d[k] >= 'a' && d[k] <= 'z') || (d[k] >= 'A' && d[k] <= 'Z')))
                k++;
            size_t letters = k - (i + 3);
            while (k < len && space(d[k]))
                k++;
            if (letters > 0 && k < len && d[k] == '=')
                return "an event handler attribute (on…=)";
        }
    }
    return NULL;
}

/* Whether d looks like SVG text: no NUL, and after an optional BOM and
 * blanks the first tag is an XML declaration, comment, doctype or <svg,
 * with an <svg element somewhere. */
static bool svg_like(const uint8_t *d, size_t len)
{
    if (memchr(d, '\0', len))
        return false;
    size_t i = 0;
    if (starts(d, len, "\xEF\xBB\xBF", 3))
        i = 3;
    while (i < len && space(d[i]))
        i++;
    if (!(at_nocase(d, len, i, "<?xml") || at_nocase(d, len, i, "<!--") ||
          at_nocase(d, len, i, "<!doctype svg") || at_nocase(d, len, i, "<svg")))
        return false;
    for (size_t k = i; k < len; k++)
        if (d[k] == '<' && at_nocase(d, len, k, "<svg") && k + 4 < len &&
            (space(d[k + 4]) || d[k + 4] == '>' || d[k + 4] == '/'))
            return true;
    return false;
}

int brand_logo_check(const uint8_t *data, size_t len, const char **mime, char *err, size_t errlen)
{
    *mime = NULL;
    if (!data || len == 0) {
        set_err(err, errlen, "logo: the file is empty");
        return OG_ERR_TOO_BIG;
    }
    if (len > BRAND_LOGO_MAX) {
        set_err(err, errlen, "logo: the file has %zu bytes; at most %d KiB are allowed", len,
                BRAND_LOGO_MAX / 1024);
        return OG_ERR_TOO_BIG;
    }
    if (starts(data, len, "\x89PNG\r\n\x1a\n", 8)) {
        *mime = "image/png";
        return OG_OK;
    }
    if (starts(data, len, "\xFF\xD8\xFF", 3)) {
        *mime = "image/jpeg";
        return OG_OK;
    }
    if (len >= 12 && starts(data, len, "RIFF", 4) && memcmp(data + 8, "WEBP", 4) == 0) {
        *mime = "image/webp";
        return OG_OK;
    }
    if (svg_like(data, len)) {
        const char *what = svg_active(data, len);
        if (what) {
            set_err(err, errlen,
                    "logo: the SVG holds %s; only plain drawings are allowed (remove it, or "
                    "use a PNG)",
                    what);
            return OG_ERR_INVALID;
        }
        *mime = "image/svg+xml";
        return OG_OK;
    }
    set_err(err, errlen, "logo: not a PNG, JPEG, WebP or SVG image");
    return OG_ERR_INVALID;
}

bool brand_logo_version(const char *url, char v[BRAND_VERSION_LEN])
{
    static const char prefix[] = BRAND_LOGO_PATH "?v=";
    v[0] = '\0';
    if (!url || strncmp(url, prefix, sizeof(prefix) - 1) != 0)
        return false;
    const char *h = url + sizeof(prefix) - 1;
    if (strlen(h) != BRAND_VERSION_LEN - 1)
        return false;
    for (size_t i = 0; i < BRAND_VERSION_LEN - 1; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return false;
    memcpy(v, h, BRAND_VERSION_LEN);
    return true;
}

static void version_of(const uint8_t *data, size_t len, char v[BRAND_VERSION_LEN])
{
    uint8_t md[32];
    unsigned int n = sizeof(md);
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1) {
        log_error("SHA-256 failed");
        abort();
    }
    for (size_t i = 0; i < (BRAND_VERSION_LEN - 1) / 2; i++)
        snprintf(v + 2 * i, 3, "%02x", md[i]);
}

static int path_of(const char *data_dir, const char *name, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s", data_dir, name);
    return n > 0 && (size_t)n < outlen ? OG_OK : OG_ERR_TOO_BIG;
}

int brand_logo_save(struct store *s, const uint8_t *data, size_t len, const char *keep_url,
                    int64_t now_ms, char *url, size_t urllen, char *err, size_t errlen)
{
    const char *mime;
    int rc = brand_logo_check(data, len, &mime, err, errlen);
    if (rc != OG_OK)
        return rc;
    char v[BRAND_VERSION_LEN], keep[BRAND_VERSION_LEN];
    version_of(data, len, v);
    if (urllen < sizeof(BRAND_LOGO_PATH "?v=") + BRAND_VERSION_LEN) {
        set_err(err, errlen, "logo: no room for its URL");
        return OG_ERR_TOO_BIG;
    }
    if (!brand_logo_version(keep_url, keep))
        snprintf(keep, sizeof(keep), "%s", v);
    rc = OG_ERR_DB;
    db_stmt *st = store_stmt(s, "INSERT INTO brand_logos (version, data, created_at) "
                                "VALUES (?1, ?2, ?3) ON CONFLICT (version) DO NOTHING");
    if (st) {
        db_bind_text(st, 1, v, -1);
        db_bind_blob(st, 2, data, (int)len);
        db_bind_int64(st, 3, now_ms);
        int step = db_step(st);
        db_reset(st);
        rc = step == DB_DONE ? OG_OK : store_step_err(step);
    }
    /* Older logos go: all but this one and the one pages show until the
     * caller's transaction commits. */
    if (rc == OG_OK) {
        rc = OG_ERR_DB;
        st = store_stmt(s, "DELETE FROM brand_logos WHERE version NOT IN (?1, ?2)");
        if (st) {
            db_bind_text(st, 1, v, -1);
            db_bind_text(st, 2, keep, -1);
            int step = db_step(st);
            db_reset(st);
            rc = step == DB_DONE ? OG_OK : store_step_err(step);
        }
    }
    if (rc != OG_OK) {
        set_err(err, errlen, "logo could not be saved: %s", store_errmsg(s));
        return OG_ERR_DB;
    }
    snprintf(url, urllen, BRAND_LOGO_PATH "?v=%s", v);
    return OG_OK;
}

void brand_logo_url(const uint8_t *data, size_t len, char *url, size_t urllen)
{
    char v[BRAND_VERSION_LEN];
    version_of(data, len, v);
    snprintf(url, urllen, BRAND_LOGO_PATH "?v=%s", v);
}

/* A logo uploaded before logos moved into the database: the file
 * brand-logo-<v> of data_dir. */
static int read_file(const char *data_dir, const char *v, uint8_t **data, size_t *len,
                     const char **mime)
{
    *data = NULL;
    *len = 0;
    char url[64], check[BRAND_VERSION_LEN], name[64], path[4096];
    snprintf(url, sizeof(url), BRAND_LOGO_PATH "?v=%.20s", v ? v : "");
    if (!brand_logo_version(url, check))
        return OG_ERR_NOT_FOUND;
    snprintf(name, sizeof(name), LOGO_PREFIX "%s", check);
    if (path_of(data_dir, name, path, sizeof(path)) != OG_OK)
        return OG_ERR_NOT_FOUND;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? OG_ERR_NOT_FOUND : OG_ERR_IO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        st.st_size > BRAND_LOGO_MAX) {
        close(fd);
        return OG_ERR_INVALID;
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *buf = og_malloc(n);
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    char err[160];
    if (got != n || brand_logo_check(buf, n, mime, err, sizeof(err)) != OG_OK) {
        free(buf);
        return got != n ? OG_ERR_IO : OG_ERR_INVALID;
    }
    *data = buf;
    *len = n;
    return OG_OK;
}

int brand_logo_read(struct store *s, const char *data_dir, const char *v, uint8_t **data,
                    size_t *len, const char **mime)
{
    *data = NULL;
    *len = 0;
    db_stmt *st = store_stmt(s, "SELECT data FROM brand_logos WHERE version = ?1");
    if (!st)
        return OG_ERR_DB;
    db_bind_text(st, 1, v ? v : "", -1);
    int step = db_step(st);
    int rc = step == DB_ROW ? OG_OK : step == DB_DONE ? OG_ERR_NOT_FOUND : store_step_err(step);
    if (rc == OG_OK) {
        int n = db_column_bytes(st, 0);
        const void *p = db_column_blob(st, 0);
        char err[160];
        if (n <= 0 || !p || brand_logo_check(p, (size_t)n, mime, err, sizeof(err)) != OG_OK) {
            rc = OG_ERR_INVALID;
        } else {
            *data = og_malloc((size_t)n);
            memcpy(*data, p, (size_t)n);
            *len = (size_t)n;
        }
    }
    db_reset(st);
    if (rc == OG_ERR_NOT_FOUND && data_dir)
        rc = read_file(data_dir, v, data, len, mime);
    return rc;
}

int brand_logo_adopt(struct store *s, const char *data_dir, int64_t now_ms)
{
    char url[BRAND_VALUE_LEN], v[BRAND_VERSION_LEN];
    if (brand_get(s, "logo", url, sizeof(url)) != OG_OK || !brand_logo_version(url, v))
        return OG_OK;
    uint8_t *data;
    size_t len;
    const char *mime;
    int rc = brand_logo_read(s, NULL, v, &data, &len, &mime);
    free(data);
    if (rc != OG_ERR_NOT_FOUND) /* there already (or the database failed) */
        return rc == OG_OK || rc == OG_ERR_INVALID ? OG_OK : rc;
    rc = read_file(data_dir, v, &data, &len, &mime);
    if (rc != OG_OK) {
        log_warn("the brand names an uploaded logo whose file is missing", "version", v);
        return OG_OK; /* pages fall back to no logo, as before */
    }
    char saved[64], err[160];
    rc = brand_logo_save(s, data, len, url, now_ms, saved, sizeof(saved), err, sizeof(err));
    free(data);
    if (rc == OG_OK && strcmp(saved, url) != 0) /* the file's bytes changed under its name */
        rc = brand_set(s, "logo", saved);
    if (rc == OG_OK)
        log_info("uploaded logo moved into the database", "version", v);
    return rc;
}
