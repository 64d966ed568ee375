/* Turns otpgate's settings (SPEC §3) into checked, typed values: defaults,
 * then a KEY=value file, then the environment. Never binds, connects or logs,
 * and never quotes a secret (SMTP password, SMS URLs, SMS Authorization
 * values, SMS bodies and headers) in an error message: errors are shown to
 * whoever runs the binary. */
#include "core/config.h"
#include "core/buf.h"
#include "core/sms_template.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* The gateway passes the install location of the static assets; the core
 * library is built without it and falls back to a folder beside the cwd. */
#ifndef OTPGATE_DEFAULT_STATIC_DIR
#define OTPGATE_DEFAULT_STATIC_DIR "./static"
#endif

/* A config file is a few dozen lines; anything this large is a mistake (a
 * binary or a log passed by accident) and is refused before it is parsed. */
#define CONFIG_FILE_MAX (1024 * 1024)

/* How much of a value an error message quotes, so a pasted blob cannot
 * swamp the one-line message. */
#define ECHO_MAX 80
#define ECHO_BUF (ECHO_MAX + 4)

/* Bounds of the time settings, in milliseconds. */
#define HOUR_MS                 3600000u
#define DELIVERY_TIMEOUT_MAX_MS 300000u

/* Extra SMS request headers: a handful is plenty; more is a pasted mistake. */
#define SMS_HEADERS_MAX 32

enum key {
    K_LISTEN,
    K_PUBLIC_URL,
    K_DATA_DIR,
    K_DATABASE_URL,
    K_SMTP_URL,
    K_SMTP_FROM,
    K_SMS_PROVIDER,
    K_SMS_URL,
    K_SMS_AUTH,
    K_SMS_BODY,
    K_SMS_FROM,
    K_SMS_METHOD,
    K_SMS_CONTENT_TYPE,
    K_SMS_HEADERS,
    K_SMS_SUCCESS,
    K_SMS2_PROVIDER,
    K_SMS2_URL,
    K_SMS2_AUTH,
    K_SMS2_BODY,
    K_SMS2_FROM,
    K_DELIVERY_TIMEOUT,
    K_DELIVERY_RETRIES,
    K_DELIVERY_BACKOFF,
    K_DELIVERY_LEASE,
    K_CA_FILE,
    K_DEV,
    K_TRUSTED_PROXIES,
    K_METRICS_ALLOW,
    K_WEBAUTHN_RP_ID,
    K_LOG,
    K_STATIC_DIR,
    K_MAX_CONNECTIONS,
    K_MAX_CONNECTIONS_PER_IP,
    K_REQUEST_TIMEOUT,
    K_IDLE_TIMEOUT,
    K_SHUTDOWN_TIMEOUT,
    K_MAX_HEADER_BYTES,
    K_MAX_BODY_BYTES,
    K_COUNT
};

/* Every known setting and its default as text (NULL: unset), so the file,
 * the environment and the defaults all go through the same parsers. */
static const struct {
    const char *name;
    const char *def;
} keys[K_COUNT] = {
    [K_LISTEN] = {"OTPGATE_LISTEN", "127.0.0.1:8080"},
    [K_PUBLIC_URL] = {"OTPGATE_PUBLIC_URL", "http://127.0.0.1:8080"},
    [K_DATA_DIR] = {"OTPGATE_DATA_DIR", "./var"},
    [K_DATABASE_URL] = {"OTPGATE_DATABASE_URL", NULL},
    [K_SMTP_URL] = {"OTPGATE_SMTP_URL", NULL},
    [K_SMTP_FROM] = {"OTPGATE_SMTP_FROM", "otpgate@localhost"},
    [K_SMS_PROVIDER] = {"OTPGATE_SMS_PROVIDER", NULL},
    [K_SMS_URL] = {"OTPGATE_SMS_URL", NULL},
    [K_SMS_AUTH] = {"OTPGATE_SMS_AUTH", NULL},
    [K_SMS_BODY] = {"OTPGATE_SMS_BODY", NULL},
    [K_SMS_FROM] = {"OTPGATE_SMS_FROM", NULL},
    [K_SMS_METHOD] = {"OTPGATE_SMS_METHOD", NULL},
    [K_SMS_CONTENT_TYPE] = {"OTPGATE_SMS_CONTENT_TYPE", NULL},
    [K_SMS_HEADERS] = {"OTPGATE_SMS_HEADERS", NULL},
    [K_SMS_SUCCESS] = {"OTPGATE_SMS_SUCCESS", NULL},
    [K_SMS2_PROVIDER] = {"OTPGATE_SMS2_PROVIDER", NULL},
    [K_SMS2_URL] = {"OTPGATE_SMS2_URL", NULL},
    [K_SMS2_AUTH] = {"OTPGATE_SMS2_AUTH", NULL},
    [K_SMS2_BODY] = {"OTPGATE_SMS2_BODY", NULL},
    [K_SMS2_FROM] = {"OTPGATE_SMS2_FROM", NULL},
    [K_DELIVERY_TIMEOUT] = {"OTPGATE_DELIVERY_TIMEOUT", "15"},
    [K_DELIVERY_RETRIES] = {"OTPGATE_DELIVERY_RETRIES", "5"},
    [K_DELIVERY_BACKOFF] = {"OTPGATE_DELIVERY_BACKOFF", "2"},
    [K_DELIVERY_LEASE] = {"OTPGATE_DELIVERY_LEASE", "300"},
    [K_CA_FILE] = {"OTPGATE_CA_FILE", NULL},
    [K_DEV] = {"OTPGATE_DEV", "auto"},
    [K_TRUSTED_PROXIES] = {"OTPGATE_TRUSTED_PROXIES", NULL},
    [K_METRICS_ALLOW] = {"OTPGATE_METRICS_ALLOW", "127.0.0.0/8,::1"},
    [K_WEBAUTHN_RP_ID] = {"OTPGATE_WEBAUTHN_RP_ID", NULL},
    [K_LOG] = {"OTPGATE_LOG", "info"},
    [K_STATIC_DIR] = {"OTPGATE_STATIC_DIR", OTPGATE_DEFAULT_STATIC_DIR},
    [K_MAX_CONNECTIONS] = {"OTPGATE_MAX_CONNECTIONS", "10000"},
    [K_MAX_CONNECTIONS_PER_IP] = {"OTPGATE_MAX_CONNECTIONS_PER_IP", "256"},
    [K_REQUEST_TIMEOUT] = {"OTPGATE_REQUEST_TIMEOUT", "10"},
    [K_IDLE_TIMEOUT] = {"OTPGATE_IDLE_TIMEOUT", "60"},
    [K_SHUTDOWN_TIMEOUT] = {"OTPGATE_SHUTDOWN_TIMEOUT", "10"},
    [K_MAX_HEADER_BYTES] = {"OTPGATE_MAX_HEADER_BYTES", "8192"},
    [K_MAX_BODY_BYTES] = {"OTPGATE_MAX_BODY_BYTES", "65536"},
};

/* The raw text of each setting after the file and environment layers, owned
 * here; NULL or "" means the default applies. */
struct raw {
    char *val[K_COUNT];
};

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static char to_lower(char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (char)(ch + ('a' - 'A')) : ch;
}

/* True when s holds a space or control byte: such a value is never a valid
 * URL or address, and would break the one-line error if quoted raw. */
static bool has_space_or_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
            return true;
    return false;
}

/* Writes one error line into err (when there is room) and returns
 * OG_ERR_INVALID, so parsers can `return fail(...)`. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return OG_ERR_INVALID;
}

/* Copies v into out (ECHO_BUF bytes) for quoting in an error: control bytes
 * become '?' and long values are cut with "...", so the message stays one
 * printable line. Only for values that are not secrets. */
static const char *echo_span(char *out, struct span v)
{
    size_t n = v.len > ECHO_MAX ? ECHO_MAX : v.len;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v.p[i];
        out[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (v.len > ECHO_MAX) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

static const char *echo(char *out, const char *v)
{
    return echo_span(out, span_cstr(v));
}

static struct span span_trim(struct span s)
{
    while (s.len > 0 && is_space(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && is_space(s.p[s.len - 1]))
        s.len--;
    return s;
}

static int key_lookup(struct span name)
{
    for (int k = 0; k < K_COUNT; k++)
        if (span_eq_cstr(name, keys[k].name))
            return k;
    return -1;
}

/* Frees a string that may hold a credential, wiping it first so a later
 * heap dump or reuse of the memory does not carry it. */
static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void raw_set(struct raw *raw, int k, struct span value)
{
    free_secret(raw->val[k]);
    raw->val[k] = og_strndup(value.p, value.len);
}

static void raw_free(struct raw *raw)
{
    for (int k = 0; k < K_COUNT; k++) {
        free_secret(raw->val[k]);
        raw->val[k] = NULL;
    }
}

/* The effective text of setting k: its last non-empty layer, else the
 * default, which may be NULL for optional settings. */
static const char *raw_get(const struct raw *raw, int k)
{
    const char *v = raw->val[k];
    return (v && *v) ? v : keys[k].def;
}

/* ---- the file layer ---- */

/* Reads the whole file into a NUL-terminated buffer the caller frees. */
static int file_slurp(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        /* In a container the file is often mounted from the host with the
         * host's owner: say whose permission it needs. */
        if (e == EACCES)
            fail(err, errlen, "%s: cannot open: %s (otpgate runs as uid %u)", path, strerror(e),
                 (unsigned)geteuid());
        else
            fail(err, errlen, "%s: cannot open: %s", path, strerror(e));
        return OG_ERR_IO;
    }
    size_t cap = 4096, len = 0;
    char *buf = og_malloc(cap);
    for (;;) {
        /* Reads at most one byte past the limit: enough to know it is over. */
        if (len == cap - 1) {
            cap = cap * 2 > CONFIG_FILE_MAX + 2 ? CONFIG_FILE_MAX + 2 : cap * 2;
            buf = og_realloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            close(fd);
            fail(err, errlen, "%s: cannot read: %s", path, strerror(e));
            return OG_ERR_IO;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > CONFIG_FILE_MAX) {
            free(buf);
            close(fd);
            return fail(err, errlen, "%s: larger than %d bytes; not a settings file", path,
                        CONFIG_FILE_MAX);
        }
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return OG_OK;
}

/* Applies one KEY=value line (already known not to be blank or a comment). */
static int file_line(struct raw *raw, const char *path, unsigned lineno, struct span line,
                     char *err, size_t errlen)
{
    const char *eq = memchr(line.p, '=', line.len);
    if (!eq)
        return fail(err, errlen, "%s:%u: expected KEY=value", path, lineno);
    struct span name = span_trim(span_make(line.p, (size_t)(eq - line.p)));
    struct span value = span_trim(span_make(eq + 1, line.len - (size_t)(eq - line.p) - 1));
    /* A name with other characters is a malformed line, not a misspelt key,
     * and is not quoted back: "OTPGATE_SMTP_URL smtp://u:p=w@h" would
     * otherwise show half a password. */
    bool name_ok = name.len > 0;
    for (size_t i = 0; i < name.len; i++)
        if (!(is_alpha(name.p[i]) || is_digit(name.p[i]) || name.p[i] == '_'))
            name_ok = false;
    if (!name_ok)
        return fail(err, errlen, "%s:%u: expected KEY=value", path, lineno);
    int k = key_lookup(name);
    if (k < 0) {
        char q[ECHO_BUF];
        return fail(err, errlen, "%s:%u: unknown setting '%s'", path, lineno, echo_span(q, name));
    }
    /* Quotes let a value keep leading or trailing spaces; there are no
     * escapes inside them, so a password is taken exactly as written. */
    if (value.len >= 2 && (value.p[0] == '"' || value.p[0] == '\'') &&
        value.p[value.len - 1] == value.p[0]) {
        value.p++;
        value.len -= 2;
    }
    raw_set(raw, k, value);
    return OG_OK;
}

static int file_load(struct raw *raw, const char *path, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = file_slurp(path, &buf, &len, err, errlen);
    if (rc != OG_OK)
        return rc;
    const char *p = buf, *end = buf + len;
    /* An editor's UTF-8 byte order mark would otherwise glue itself to the
     * first key. */
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    unsigned lineno = 0;
    while (p < end && rc == OG_OK) {
        lineno++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        struct span line = span_trim(span_make(p, (size_t)(eol - p)));
        if (memchr(p, '\0', (size_t)(eol - p)))
            rc = fail(err, errlen, "%s:%u: contains a NUL byte", path, lineno);
        else if (line.len > 0 && line.p[0] != '#')
            rc = file_line(raw, path, lineno, line, err, errlen);
        p = nl ? nl + 1 : end;
    }
    /* The file may hold the SMTP password or the SMS Authorization value. */
    explicit_bzero(buf, len);
    free(buf);
    return rc;
}

/* ---- the environment layer ---- */

/* Takes the known OTPGATE_ names from envp and marks them in from_env.
 * Unknown OTPGATE_ names are left alone: the test harness and wrappers set
 * their own (OTPGATE_BIN, ...). */
static void env_load(struct raw *raw, char *const *envp, bool from_env[K_COUNT])
{
    if (!envp)
        return;
    for (; *envp; envp++) {
        const char *e = *envp;
        if (strncmp(e, "OTPGATE_", 8) != 0)
            continue;
        const char *eq = strchr(e, '=');
        if (!eq)
            continue;
        int k = key_lookup(span_make(e, (size_t)(eq - e)));
        if (k >= 0) {
            raw_set(raw, k, span_cstr(eq + 1));
            from_env[k] = eq[1] != '\0';
        }
    }
}

/* NAME_FILE=path in the environment, for every setting NAME: the value is
 * the file's content less its trailing line ends, so secrets can come from
 * Docker or Kubernetes secret files instead of the environment. It is part
 * of the environment layer (wins over --config); NAME set as well is
 * refused, as one of the two would be ignored unseen. Errors quote the
 * path, never the content. */
static int env_load_files(struct raw *raw, char *const *envp, const bool from_env[K_COUNT],
                          char *err, size_t errlen)
{
    static const char suffix[] = "_FILE";
    const size_t slen = sizeof suffix - 1;
    for (; envp && *envp; envp++) {
        const char *e = *envp;
        const char *eq = strchr(e, '=');
        if (strncmp(e, "OTPGATE_", 8) != 0 || !eq || eq[1] == '\0')
            continue;
        struct span name = span_make(e, (size_t)(eq - e));
        if (key_lookup(name) >= 0 || name.len <= slen ||
            memcmp(name.p + name.len - slen, suffix, slen) != 0)
            continue;
        int k = key_lookup(span_make(name.p, name.len - slen));
        if (k < 0)
            continue;
        if (from_env[k])
            return fail(err, errlen, "%s: set either %s or %s_FILE, not both", keys[k].name,
                        keys[k].name, keys[k].name);
        char *buf = NULL;
        size_t len = 0;
        char why[512];
        int rc = file_slurp(eq + 1, &buf, &len, why, sizeof why);
        if (rc != OG_OK) {
            fail(err, errlen, "%s_FILE: %s", keys[k].name, why);
            return rc;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            len--;
        rc = memchr(buf, '\0', len)
                 ? fail(err, errlen, "%s_FILE: %s contains a NUL byte", keys[k].name, eq + 1)
                 : OG_OK;
        if (rc == OG_OK)
            raw_set(raw, k, span_make(buf, len));
        explicit_bzero(buf, len);
        free(buf);
        if (rc != OG_OK)
            return rc;
    }
    return OG_OK;
}

/* ---- shared value parsers ---- */

/* A port: 1 to 5 digits, nothing else (og_parse_int would take "-0"). */
static bool parse_port(struct span s, long long min, int *out)
{
    if (s.len == 0 || s.len > 5)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!is_digit(s.p[i]))
            return false;
    long long v;
    if (og_parse_int(s, min, 65535, &v) != OG_OK)
        return false;
    *out = (int)v;
    return true;
}

static bool ip6_is_loopback(const struct in6_addr *a)
{
    if (IN6_IS_ADDR_LOOPBACK(a))
        return true;
    return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
}

/* Hostname labels: letters, digits, '-' and '_' (Docker service names use
 * it), 1..63 bytes each, not starting or ending with '-'. */
static bool hostname_valid(struct span h)
{
    if (h.len == 0 || h.len > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < h.len; i++) {
        char ch = h.p[i];
        if (ch == '.') {
            if (label == 0 || h.p[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!(is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '_'))
            return false;
        if (ch == '-' && label == 0)
            return false;
        if (++label > 63)
            return false;
    }
    return label > 0 && h.p[h.len - 1] != '-';
}

/* Checks a URL or email host: a name, a dotted IPv4 address, or (when it
 * was written in brackets) an IPv6 address. Sets *loopback for localhost,
 * 127.0.0.0/8 and ::1. */
static bool host_valid(struct span h, bool bracketed, bool *loopback)
{
    char tmp[256];
    *loopback = false;
    if (h.len == 0 || h.len >= sizeof tmp)
        return false;
    memcpy(tmp, h.p, h.len);
    tmp[h.len] = '\0';
    if (bracketed) {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, tmp, &a6) != 1)
            return false;
        *loopback = ip6_is_loopback(&a6);
        return true;
    }
    bool numeric = true;
    for (size_t i = 0; i < h.len; i++)
        if (!is_digit(h.p[i]) && h.p[i] != '.')
            numeric = false;
    if (numeric) {
        /* All digits and dots is an IPv4 address or nothing: "1.2.3" or
         * "300.1.1.1" must not pass as a name. */
        struct in_addr a4;
        if (inet_pton(AF_INET, tmp, &a4) != 1)
            return false;
        *loopback = (ntohl(a4.s_addr) >> 24) == 127;
        return true;
    }
    if (!hostname_valid(h))
        return false;
    *loopback = span_eq_nocase(h, SPAN_LIT("localhost"));
    return true;
}

/* The parts of scheme://[userinfo@]host[:port][/path][?query][#fragment],
 * split without judging them. */
struct url {
    struct span scheme, userinfo, host, port, path, query;
    bool has_userinfo, has_port, has_query, has_fragment, bracketed;
};

static bool url_split(const char *s, struct url *u)
{
    memset(u, 0, sizeof *u);
    const char *p = s;
    if (!is_alpha(*p))
        return false;
    while (is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp(p, "://", 3) != 0)
        return false;
    u->scheme = span_make(s, (size_t)(p - s));
    p += 3;
    const char *aend = p + strcspn(p, "/?#");
    const char *h = p;
    for (const char *x = p; x < aend; x++) {
        if (*x == '@') {
            u->has_userinfo = true;
            h = x + 1;
        }
    }
    if (u->has_userinfo)
        u->userinfo = span_make(p, (size_t)(h - 1 - p));
    if (h < aend && *h == '[') {
        const char *close = memchr(h, ']', (size_t)(aend - h));
        if (!close)
            return false;
        u->bracketed = true;
        u->host = span_make(h + 1, (size_t)(close - h - 1));
        const char *after = close + 1;
        if (after < aend) {
            if (*after != ':')
                return false;
            u->has_port = true;
            u->port = span_make(after + 1, (size_t)(aend - after - 1));
        }
    } else {
        const char *colon = memchr(h, ':', (size_t)(aend - h));
        const char *hend = colon ? colon : aend;
        u->host = span_make(h, (size_t)(hend - h));
        if (colon) {
            u->has_port = true;
            u->port = span_make(colon + 1, (size_t)(aend - colon - 1));
        }
    }
    p = aend;
    size_t plen = strcspn(p, "?#");
    u->path = span_make(p, plen);
    p += plen;
    if (*p == '?') {
        p++;
        size_t qlen = strcspn(p, "#");
        u->has_query = true;
        u->query = span_make(p, qlen);
        p += qlen;
    }
    u->has_fragment = *p == '#';
    return true;
}

/* Decodes %XX escapes into a new string; refuses a bad escape or %00. */
static int pct_decode(struct span s, char **out)
{
    char *d = og_malloc(s.len + 1);
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] != '%') {
            d[n++] = s.p[i];
            continue;
        }
        int hi = i + 2 < s.len ? og_hex_value(s.p[i + 1]) : -1;
        int lo = hi >= 0 ? og_hex_value(s.p[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(d);
            return OG_ERR_INVALID;
        }
        d[n++] = (char)(hi * 16 + lo);
        i += 2;
    }
    d[n] = '\0';
    *out = d;
    return OG_OK;
}

/* Seconds as "10" or "0.5" (at most three decimals) into milliseconds,
 * between 0.05 s and max_ms (at most one hour). */
static bool parse_seconds_ms(const char *s, unsigned max_ms, unsigned *out)
{
    unsigned long long whole = 0;
    size_t i = 0;
    if (!is_digit(s[0]))
        return false;
    for (; is_digit(s[i]); i++) {
        whole = whole * 10 + (unsigned)(s[i] - '0');
        if (whole > 3600)
            return false;
    }
    unsigned frac = 0;
    if (s[i] == '.') {
        i++;
        unsigned digits = 0;
        for (; is_digit(s[i]) && digits < 3; i++, digits++)
            frac = frac * 10 + (unsigned)(s[i] - '0');
        if (digits == 0)
            return false;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (s[i] != '\0')
        return false;
    unsigned long long ms = whole * 1000 + frac;
    if (ms < 50 || ms > max_ms)
        return false;
    *out = (unsigned)ms;
    return true;
}

/* ---- one parser per setting; each names its key in any error ---- */

static int listen_usage(const char *v, char *err, size_t errlen)
{
    char q[ECHO_BUF];
    return fail(err, errlen, "%s: '%s' must be host:port, e.g. 127.0.0.1:8080 or [::1]:8080",
                keys[K_LISTEN].name, echo(q, v));
}

/* Sets listen_host to the canonical spelling of a numeric address. */
static bool listen_host_set(struct config *c, struct span host, bool bracketed)
{
    if (!bracketed && span_eq_nocase(host, SPAN_LIT("localhost"))) {
        memcpy(c->listen_host, "127.0.0.1", sizeof "127.0.0.1");
        c->listen_loopback = true;
        return true;
    }
    char tmp[64];
    unsigned char addr[sizeof(struct in6_addr)];
    int family = bracketed ? AF_INET6 : AF_INET;
    if (host.len == 0 || host.len >= sizeof tmp)
        return false;
    memcpy(tmp, host.p, host.len);
    tmp[host.len] = '\0';
    if (inet_pton(family, tmp, addr) != 1 ||
        inet_ntop(family, addr, c->listen_host, sizeof c->listen_host) == NULL)
        return false;
    /* 0.0.0.0 and :: are every interface: not loopback. */
    c->listen_loopback =
        family == AF_INET ? addr[0] == 127 : ip6_is_loopback((const struct in6_addr *)addr);
    return true;
}

static int parse_listen(struct config *c, const char *v, char *err, size_t errlen)
{
    const char *key = keys[K_LISTEN].name;
    char q[ECHO_BUF];
    c->listen = og_strdup(v);
    struct span host, port;
    bool bracketed = v[0] == '[';
    if (bracketed) {
        const char *close = strchr(v, ']');
        if (!close || close[1] != ':')
            return listen_usage(v, err, errlen);
        host = span_make(v + 1, (size_t)(close - v - 1));
        port = span_cstr(close + 2);
    } else {
        const char *colon = strrchr(v, ':');
        /* A bare IPv6 address has several colons and no way to tell the
         * port from the address: brackets are required. */
        if (!colon || strchr(v, ':') != colon)
            return listen_usage(v, err, errlen);
        host = span_make(v, (size_t)(colon - v));
        port = span_cstr(colon + 1);
    }
    if (host.len == 0)
        return listen_usage(v, err, errlen);
    if (!parse_port(port, 0, &c->listen_port))
        return fail(err, errlen, "%s: '%s' has a bad port; use 0..65535 (0 picks a free port)", key,
                    echo(q, v));
    if (!listen_host_set(c, host, bracketed))
        return fail(err, errlen,
                    "%s: '%s' needs a numeric address or localhost, e.g. 127.0.0.1:8080, "
                    "0.0.0.0:8080 or [::1]:8080",
                    key, echo(q, v));
    return OG_OK;
}

static int parse_public_url(struct config *c, const char *v, char *err, size_t errlen)
{
    const char *key = keys[K_PUBLIC_URL].name;
    char q[ECHO_BUF];
    struct url u;
    if (has_space_or_ctl(v) || !url_split(v, &u))
        return fail(err, errlen, "%s: '%s' is not a URL like https://mfa.example.com", key,
                    echo(q, v));
    bool https = span_eq_nocase(u.scheme, SPAN_LIT("https"));
    if (!https && !span_eq_nocase(u.scheme, SPAN_LIT("http")))
        return fail(err, errlen, "%s: '%s' must start with http:// or https://", key, echo(q, v));
    /* The URL is the OIDC issuer and is shown in pages: a password in it
     * would leak, so it is refused and not quoted back. */
    if (u.has_userinfo)
        return fail(err, errlen, "%s: must not contain user:password@", key);
    if (u.has_query || u.has_fragment)
        return fail(err, errlen, "%s: '%s' must not have a ?query or #fragment", key, echo(q, v));
    bool loopback = false;
    if (!host_valid(u.host, u.bracketed, &loopback))
        return fail(err, errlen, "%s: '%s' has a bad host; use a name, an IPv4 address or [IPv6]",
                    key, echo(q, v));
    int port;
    if (u.has_port && !parse_port(u.port, 1, &port))
        return fail(err, errlen, "%s: '%s' has a bad port; use 1..65535", key, echo(q, v));

    /* Scheme and host are case-insensitive: lower them so the issuer has one
     * spelling. The trailing slash goes so paths can be appended. */
    size_t len = strlen(v);
    while (len > 0 && v[len - 1] == '/')
        len--;
    c->public_url = og_strndup(v, len);
    size_t auth_end = (size_t)(u.path.p - v);
    for (size_t i = 0; i < auth_end && i < len; i++)
        c->public_url[i] = to_lower(c->public_url[i]);
    c->public_https = https;
    c->public_loopback = loopback;
    return OG_OK;
}

static int parse_dir(char **dst, const char *v)
{
    *dst = og_strdup(v);
    return OG_OK;
}

static int smtp_query(struct config *c, struct span query, bool *seen, char *err, size_t errlen)
{
    const char *key = keys[K_SMTP_URL].name;
    char q[ECHO_BUF];
    const char *p = query.p, *end = query.p + query.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pend = amp ? amp : end;
        struct span param = span_make(p, (size_t)(pend - p));
        p = amp ? amp + 1 : end;
        if (param.len == 0)
            continue;
        if (!span_starts_with(param, "starttls="))
            return fail(err, errlen,
                        "%s: unknown parameter '%s'; only ?starttls=required|optional|off is "
                        "allowed",
                        key, echo_span(q, param));
        struct span val = span_make(param.p + 9, param.len - 9);
        if (span_eq_cstr(val, "required"))
            c->smtp_starttls = CONFIG_STARTTLS_REQUIRED;
        else if (span_eq_cstr(val, "optional"))
            c->smtp_starttls = CONFIG_STARTTLS_OPTIONAL;
        else if (span_eq_cstr(val, "off"))
            c->smtp_starttls = CONFIG_STARTTLS_OFF;
        else
            return fail(err, errlen, "%s: starttls '%s' is not one of required, optional, off", key,
                        echo_span(q, val));
        *seen = true;
    }
    return OG_OK;
}

/* smtp://[user:pass@]host[:port][?starttls=...]. The userinfo runs to the
 * last '@', so an unescaped '@', ':' or '/' in a password still works. No
 * error quotes anything before that '@', nor the port (which holds the
 * password when the host was forgotten: smtp://user:secret). */
static int parse_smtp_url(struct config *c, const char *v, char *err, size_t errlen)
{
    const char *key = keys[K_SMTP_URL].name;
    char q[ECHO_BUF];
    c->smtp_url = og_strdup(v);
    if (strlen(v) < 7 || !span_eq_nocase(span_make(v, 7), SPAN_LIT("smtp://")))
        return fail(err, errlen,
                    "%s: must be smtp://[user:pass@]host[:port][?starttls=required|optional|off]",
                    key);
    const char *rest = v + 7;
    const char *at = strrchr(rest, '@');
    const char *hp = rest;
    if (at) {
        struct span ui = span_make(rest, (size_t)(at - rest));
        const char *colon = memchr(ui.p, ':', ui.len);
        struct span user = colon ? span_make(ui.p, (size_t)(colon - ui.p)) : ui;
        if (user.len == 0)
            return fail(err, errlen, "%s: the user name before '@' is empty", key);
        if (pct_decode(user, &c->smtp_user) != OG_OK ||
            (colon &&
             pct_decode(span_make(colon + 1, (size_t)(at - colon - 1)), &c->smtp_pass) != OG_OK))
            return fail(err, errlen,
                        "%s: the user or password has a bad %%-escape; write a literal %% as %%25",
                        key);
        hp = at + 1;
    }
    const char *hpend = hp + strcspn(hp, "/?#");
    const char *p = hpend;
    if (*p == '/')
        p++;
    bool starttls_seen = false;
    if (*p == '?') {
        struct span query = span_cstr(p + 1);
        int rc = smtp_query(c, query, &starttls_seen, err, errlen);
        if (rc != OG_OK)
            return rc;
        p += 1 + query.len;
    }
    if (*p != '\0')
        return fail(err, errlen,
                    "%s: only host, port and ?starttls= may follow smtp://, e.g. "
                    "smtp://user:pass@mail.example.com:587",
                    key);

    struct span host, port = SPAN_NULL;
    bool bracketed = hp < hpend && *hp == '[', has_port = false;
    if (bracketed) {
        const char *close = memchr(hp, ']', (size_t)(hpend - hp));
        if (!close || (close + 1 < hpend && close[1] != ':'))
            return fail(err, errlen, "%s: bad [IPv6] host", key);
        host = span_make(hp + 1, (size_t)(close - hp - 1));
        if (close + 1 < hpend) {
            has_port = true;
            port = span_make(close + 2, (size_t)(hpend - close - 2));
        }
    } else {
        const char *colon = memchr(hp, ':', (size_t)(hpend - hp));
        host = span_make(hp, (size_t)((colon ? colon : hpend) - hp));
        if (colon) {
            has_port = true;
            port = span_make(colon + 1, (size_t)(hpend - colon - 1));
        }
    }
    bool loopback = false;
    if (host.len == 0)
        return fail(err, errlen, "%s: the host is missing, e.g. smtp://mail.example.com", key);
    if (!host_valid(host, bracketed, &loopback))
        return fail(err, errlen, "%s: host '%s' is not a name, an IPv4 address or [IPv6]", key,
                    echo_span(q, host));
    c->smtp_host = og_strndup(host.p, host.len);
    /* A local relay (a dev mail catcher, the host's MTA) often has no
     * certificate; anything else must not send codes in the clear. */
    if (!starttls_seen)
        c->smtp_starttls = loopback ? CONFIG_STARTTLS_OPTIONAL : CONFIG_STARTTLS_REQUIRED;
    c->smtp_port = c->smtp_starttls == CONFIG_STARTTLS_REQUIRED ? 587 : 25;
    if (has_port && !parse_port(port, 1, &c->smtp_port))
        return fail(err, errlen, "%s: the port must be a number from 1 to 65535", key);
    return OG_OK;
}

static bool email_plausible(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@'))
        return false;
    for (const char *p = s; p < at; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= 0x20 || ch >= 0x7f || strchr("<>()[]\\,;:\"", ch))
            return false;
    }
    bool loopback;
    return host_valid(span_cstr(at + 1), false, &loopback);
}

static int parse_smtp_from(struct config *c, const char *v, char *err, size_t errlen)
{
    char q[ECHO_BUF];
    c->smtp_from = og_strdup(v);
    if (!email_plausible(v))
        return fail(err, errlen, "%s: '%s' is not an email address like otpgate@example.com",
                    keys[K_SMTP_FROM].name, echo(q, v));
    return OG_OK;
}

static int parse_dev(struct config *c, const char *v, char *err, size_t errlen)
{
    static const char *const on[] = {"1", "on", "true"};
    static const char *const off[] = {"0", "off", "false"};
    char q[ECHO_BUF];
    struct span s = span_cstr(v);
    bool matched = false;
    if (span_eq_nocase(s, SPAN_LIT("auto"))) {
        c->dev_mode = CONFIG_DEV_AUTO;
        matched = true;
    }
    for (size_t i = 0; i < ARRAY_SIZE(on) && !matched; i++) {
        if (span_eq_nocase(s, span_cstr(on[i]))) {
            c->dev_mode = CONFIG_DEV_ON;
            matched = true;
        } else if (span_eq_nocase(s, span_cstr(off[i]))) {
            c->dev_mode = CONFIG_DEV_OFF;
            matched = true;
        }
    }
    if (!matched)
        return fail(err, errlen, "%s: '%s' is not one of auto, 1, 0 (or on, off, true, false)",
                    keys[K_DEV].name, echo(q, v));
    /* The outbox page shows live codes to whoever can reach it: only a
     * deployment that is loopback on both ends may have it. */
    if (c->dev_mode == CONFIG_DEV_ON && !c->listen_loopback) {
        char q2[ECHO_BUF];
        return fail(err, errlen,
                    "%s: '%s' shows live codes on /dev/outbox, so OTPGATE_LISTEN must be "
                    "loopback, not '%s'; listen on 127.0.0.1 or [::1], or set %s=0",
                    keys[K_DEV].name, echo(q, v), echo(q2, c->listen), keys[K_DEV].name);
    }
    if (c->dev_mode == CONFIG_DEV_ON && !c->public_loopback) {
        char q2[ECHO_BUF];
        return fail(err, errlen,
                    "%s: '%s' shows live codes on /dev/outbox, so OTPGATE_PUBLIC_URL must be "
                    "loopback, not '%s'; use http://127.0.0.1:PORT, or set %s=0",
                    keys[K_DEV].name, echo(q, v), echo(q2, c->public_url), keys[K_DEV].name);
    }
    c->dev_enabled = c->dev_mode == CONFIG_DEV_ON ||
                     (c->dev_mode == CONFIG_DEV_AUTO && c->public_loopback && c->listen_loopback);
    return OG_OK;
}

static bool parse_cidr(struct span tok, struct config_cidr *out)
{
    const char *slash = memchr(tok.p, '/', tok.len);
    struct span addr = span_make(tok.p, slash ? (size_t)(slash - tok.p) : tok.len);
    char tmp[INET6_ADDRSTRLEN];
    if (addr.len == 0 || addr.len >= sizeof tmp)
        return false;
    memcpy(tmp, addr.p, addr.len);
    tmp[addr.len] = '\0';
    memset(out, 0, sizeof *out);
    out->family = memchr(addr.p, ':', addr.len) ? AF_INET6 : AF_INET;
    if (inet_pton(out->family, tmp, out->addr) != 1)
        return false;
    unsigned bits = out->family == AF_INET ? 32 : 128;
    out->prefix = bits;
    if (slash) {
        struct span pre = span_make(slash + 1, tok.len - (size_t)(slash - tok.p) - 1);
        if (pre.len == 0 || pre.len > 3)
            return false;
        for (size_t i = 0; i < pre.len; i++)
            if (!is_digit(pre.p[i]))
                return false;
        long long v;
        if (og_parse_int(pre, 0, bits, &v) != OG_OK)
            return false;
        out->prefix = (unsigned)v;
    }
    /* Host bits are allowed (10.1.2.3/8 reads naturally) but cleared, so
     * matching only compares the network part. */
    for (unsigned i = 0; i < bits / 8; i++) {
        unsigned keep = out->prefix > i * 8 ? out->prefix - i * 8 : 0;
        if (keep < 8)
            out->addr[i] &= (uint8_t)(0xffu << (8 - keep));
    }
    return true;
}

/* A comma- or space-separated list of CIDRs for setting k into list (at
 * most CONFIG_MAX_CIDRS), counted in *count. */
static int parse_cidr_list(int k, const char *v, struct config_cidr *list, size_t *count, char *err,
                           size_t errlen)
{
    const char *key = keys[k].name;
    char q[ECHO_BUF];
    const char *p = v;
    *count = 0;
    for (;;) {
        p += strspn(p, ", \t\r\n");
        if (*p == '\0')
            break;
        struct span tok = span_make(p, strcspn(p, ", \t\r\n"));
        p += tok.len;
        if (*count == CONFIG_MAX_CIDRS)
            return fail(err, errlen, "%s: more than %d CIDRs", key, CONFIG_MAX_CIDRS);
        if (!parse_cidr(tok, &list[*count]))
            return fail(err, errlen,
                        "%s: '%s' is not a CIDR such as 10.0.0.0/8, 192.168.1.5 or fd00::/8", key,
                        echo_span(q, tok));
        (*count)++;
    }
    return OG_OK;
}

static int parse_log(struct config *c, const char *v, char *err, size_t errlen)
{
    char q[ECHO_BUF];
    if (log_level_parse(v, &c->log_level) != OG_OK)
        return fail(err, errlen, "%s: '%s' is not one of debug, info, warn, error",
                    keys[K_LOG].name, echo(q, v));
    return OG_OK;
}

static int parse_count(int k, const char *v, long long min, long long max, long long *out,
                       char *err, size_t errlen)
{
    char q[ECHO_BUF];
    if (og_parse_int(span_cstr(v), min, max, out) != OG_OK)
        return fail(err, errlen, "%s: '%s' must be a whole number from %lld to %lld", keys[k].name,
                    echo(q, v), min, max);
    return OG_OK;
}

/* Seconds of setting k, from 0.05 to max_ms / 1000 (a whole number). */
static int parse_timeout(int k, const char *v, unsigned max_ms, unsigned *out, char *err,
                         size_t errlen)
{
    char q[ECHO_BUF];
    if (!parse_seconds_ms(v, max_ms, out))
        return fail(err, errlen,
                    "%s: '%s' must be seconds from 0.05 to %u (at most 3 decimals), e.g. 10 "
                    "or 0.5",
                    keys[k].name, echo(q, v), max_ms / 1000);
    return OG_OK;
}

static int parse_limits(struct config *c, const struct raw *raw, char *err, size_t errlen)
{
    long long n;
    int rc;
    if ((rc = parse_count(K_MAX_CONNECTIONS, raw_get(raw, K_MAX_CONNECTIONS), 1, 1000000, &n, err,
                          errlen)) != OG_OK)
        return rc;
    c->max_connections = (unsigned)n;
    if ((rc = parse_count(K_MAX_CONNECTIONS_PER_IP, raw_get(raw, K_MAX_CONNECTIONS_PER_IP), 1,
                          1000000, &n, err, errlen)) != OG_OK)
        return rc;
    c->max_connections_per_ip = (unsigned)n;
    if ((rc = parse_timeout(K_REQUEST_TIMEOUT, raw_get(raw, K_REQUEST_TIMEOUT), HOUR_MS,
                            &c->request_timeout_ms, err, errlen)) != OG_OK ||
        (rc = parse_timeout(K_IDLE_TIMEOUT, raw_get(raw, K_IDLE_TIMEOUT), HOUR_MS,
                            &c->idle_timeout_ms, err, errlen)) != OG_OK ||
        (rc = parse_timeout(K_SHUTDOWN_TIMEOUT, raw_get(raw, K_SHUTDOWN_TIMEOUT), HOUR_MS,
                            &c->shutdown_timeout_ms, err, errlen)) != OG_OK)
        return rc;
    if ((rc = parse_count(K_MAX_HEADER_BYTES, raw_get(raw, K_MAX_HEADER_BYTES), 1024, 1048576, &n,
                          err, errlen)) != OG_OK)
        return rc;
    c->max_header_bytes = (size_t)n;
    if ((rc = parse_count(K_MAX_BODY_BYTES, raw_get(raw, K_MAX_BODY_BYTES), 1024, 16777216, &n, err,
                          errlen)) != OG_OK)
        return rc;
    c->max_body_bytes = (size_t)n;
    return OG_OK;
}

/* ---- SMS ---- */

/* The keys of one provider (primary or secondary) and where they go. */
struct sms_keys {
    int provider, url, auth, body, from;
};

static const struct sms_keys sms_primary_keys = {K_SMS_PROVIDER, K_SMS_URL, K_SMS_AUTH, K_SMS_BODY,
                                                 K_SMS_FROM};
static const struct sms_keys sms_secondary_keys = {K_SMS2_PROVIDER, K_SMS2_URL, K_SMS2_AUTH,
                                                   K_SMS2_BODY, K_SMS2_FROM};

struct sms_dest {
    char **provider, **url, **auth, **body, **from;
};

/* What each preset needs in OTPGATE_SMS_AUTH, and the content type of its
 * fixed body. */
static const struct {
    const char *name;
    const char *auth_form; /* NULL: auth optional */
    bool auth_pair;        /* "A:B" with both parts */
    const char *content_type;
} sms_presets[] = {
    {"webhook", NULL, false, NULL},
    {"twilio", "ACCOUNT_SID:AUTH_TOKEN", true, "form"},
    {"vonage", "API_KEY:API_SECRET", true, "form"},
    {"messagebird", "the access key", false, "json"},
};

/* Sample values for checking that a JSON body template stays JSON. */
static const struct tmpl_vars sms_sample_vars = {.to = "+15550100",
                                                 .message = "Your code \"1\" \\ ok\n@h #123456",
                                                 .code = "123456",
                                                 .from = "otpgate"};

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return true;
    return false;
}

/* json when the template (after blanks) starts an object or array, and
 * for no template, since the default webhook body is JSON. */
static const char *sms_guess_content_type(const char *body)
{
    if (!body)
        return "json";
    while (is_space(*body))
        body++;
    return *body == '{' || *body == '[' ? "json" : "form";
}

/* Checks that body, filled in, is JSON. The body may hold a credential, so
 * the error gives only the position. */
static int sms_body_json(int k, const char *body, char *err, size_t errlen)
{
    struct buf b;
    buf_init(&b, CONFIG_FILE_MAX * 2);
    int rc = tmpl_expand(body, TMPL_JSON, &sms_sample_vars, &b);
    json_error_t jerr;
    json_t *j = rc == OG_OK ? json_loadb(b.data ? b.data : "", b.len, 0, &jerr) : NULL;
    buf_free(&b);
    if (j) {
        json_decref(j);
        return OG_OK;
    }
    if (rc != OG_OK)
        return fail(err, errlen, "%s: too long once its placeholders are filled in", keys[k].name);
    return fail(err, errlen,
                "%s: is not a JSON object or array once its placeholders are filled in (at "
                "character %d); put placeholders inside quotes, e.g. {\"to\":\"{to}\"}",
                keys[k].name, jerr.position);
}

static int sms_check_template(int k, const char *tmpl, bool secret, char *err, size_t errlen)
{
    char bad[TMPL_NAME_MAX + 1];
    if (tmpl_check(tmpl, bad, sizeof bad) == OG_OK)
        return OG_OK;
    if (secret)
        return fail(err, errlen,
                    "%s: has an unknown {placeholder}; use {to}, {to_digits}, {message}, {code} "
                    "or {from}",
                    keys[k].name);
    return fail(err, errlen,
                "%s: unknown placeholder {%s}; use {to}, {to_digits}, {message}, {code} or "
                "{from} (write {{ for a literal brace)",
                keys[k].name, bad);
}

/* One provider's settings into d. Sets *preset to the provider's index in
 * sms_presets (ARRAY_SIZE of it when none is set). The URL may carry an API
 * token and the Authorization value is one, so neither is quoted back. */
static int parse_sms_provider(const struct raw *raw, const struct sms_keys *k,
                              const struct sms_dest *d, size_t *preset, char *err, size_t errlen)
{
    char q[ECHO_BUF];
    const char *provider = raw_get(raw, k->provider);
    const char *url = raw_get(raw, k->url);
    const char *auth = raw_get(raw, k->auth);
    const char *body = raw_get(raw, k->body);
    const char *from = raw_get(raw, k->from);
    *preset = ARRAY_SIZE(sms_presets);
    if (!provider) {
        int bad = url ? k->url : auth ? k->auth : body ? k->body : from ? k->from : -1;
        if (bad >= 0)
            return fail(err, errlen,
                        "%s: set, but %s is not; set it to webhook, twilio, vonage or messagebird",
                        keys[bad].name, keys[k->provider].name);
        return OG_OK;
    }
    *d->provider = og_strdup(provider);
    for (size_t i = 0; i < ARRAY_SIZE(sms_presets); i++)
        if (strcmp(provider, sms_presets[i].name) == 0)
            *preset = i;
    if (*preset == ARRAY_SIZE(sms_presets))
        return fail(err, errlen, "%s: '%s' is not one of webhook, twilio, vonage, messagebird",
                    keys[k->provider].name, echo(q, provider));
    const char *name = sms_presets[*preset].name;
    bool webhook = *preset == 0;
    if (url) {
        *d->url = og_strdup(url);
        struct url u;
        bool loopback;
        int port;
        if (has_space_or_ctl(url) || !url_split(url, &u) ||
            !(span_eq_nocase(u.scheme, SPAN_LIT("http")) ||
              span_eq_nocase(u.scheme, SPAN_LIT("https"))) ||
            u.has_fragment || !host_valid(u.host, u.bracketed, &loopback) ||
            (u.has_port && !parse_port(u.port, 1, &port)))
            return fail(err, errlen,
                        "%s: must be an http:// or https:// URL, e.g. https://sms.example.com/send",
                        keys[k->url].name);
        /* For a preset the URL only replaces the provider's base address
         * (a test server, a regional endpoint): the preset adds the path. */
        if (!webhook && (u.has_query || u.has_userinfo))
            return fail(err, errlen,
                        "%s: for the %s preset, only a base URL such as https://api.example.com "
                        "(no ?query or user@)",
                        keys[k->url].name, name);
        int rc = sms_check_template(k->url, url, true, err, errlen);
        if (rc != OG_OK)
            return rc;
    } else if (webhook) {
        return fail(err, errlen,
                    "%s: required when %s is webhook, e.g. https://sms.example.com/send",
                    keys[k->url].name, keys[k->provider].name);
    }
    if (auth) {
        *d->auth = og_strdup(auth);
        /* It becomes an HTTP header value: a line break would inject headers. */
        if (has_ctl(auth))
            return fail(err, errlen, "%s: must not contain line breaks or control characters",
                        keys[k->auth].name);
    }
    if (sms_presets[*preset].auth_form) {
        const char *colon = auth ? strchr(auth, ':') : NULL;
        bool ok = auth && *auth &&
                  (!sms_presets[*preset].auth_pair || (colon && colon != auth && colon[1] != '\0'));
        if (!ok)
            return fail(err, errlen, "%s: the %s preset needs %s", keys[k->auth].name, name,
                        sms_presets[*preset].auth_form);
    }
    if (from) {
        *d->from = og_strdup(from);
        if (has_ctl(from) || strlen(from) > 64)
            return fail(err, errlen,
                        "%s: '%s' must be a sender number or ID of at most 64 characters "
                        "without control characters",
                        keys[k->from].name, echo(q, from));
    } else if (!webhook) {
        return fail(err, errlen, "%s: required by the %s preset: the sender number or ID",
                    keys[k->from].name, name);
    }
    if (body) {
        *d->body = og_strdup(body);
        if (!webhook)
            return fail(err, errlen, "%s: only for %s=webhook; the %s preset has its own body",
                        keys[k->body].name, keys[k->provider].name, name);
        int rc = sms_check_template(k->body, body, false, err, errlen);
        if (rc != OG_OK)
            return rc;
    }
    return OG_OK;
}

/* OTPGATE_SMS_HEADERS: "Name: value" lines apart by '\n' or ';', kept as
 * '\n'-joined trimmed lines. Values may be API keys: errors name the line,
 * never the value. */
static int parse_sms_headers(struct config *c, const char *v, char *err, size_t errlen)
{
    static const char *const reserved[] = {"Host", "Content-Length", "Transfer-Encoding",
                                           "Connection", "Authorization"};
    const char *key = keys[K_SMS_HEADERS].name;
    struct buf out;
    buf_init(&out, strlen(v) + 1);
    unsigned lineno = 0, count = 0;
    int rc = OG_OK;
    for (const char *p = v; *p && rc == OG_OK;) {
        size_t n = strcspn(p, ";\n");
        struct span line = span_trim(span_make(p, n));
        p += n;
        if (*p)
            p++;
        lineno++;
        if (line.len == 0)
            continue;
        const char *colon = memchr(line.p, ':', line.len);
        struct span name = span_make(line.p, colon ? (size_t)(colon - line.p) : 0);
        struct span value =
            colon ? span_trim(span_make(colon + 1, line.len - name.len - 1)) : SPAN_NULL;
        bool ok = name.len > 0 && value.len > 0;
        for (size_t i = 0; i < name.len && ok; i++)
            ok = is_alpha(name.p[i]) || is_digit(name.p[i]) || strchr("!#$%&'*+-.^_`|~", name.p[i]);
        for (size_t i = 0; i < value.len && ok; i++) {
            unsigned char ch = (unsigned char)value.p[i];
            ok = ch == '\t' || (ch >= 0x20 && ch != 0x7f);
        }
        if (!ok) {
            rc = fail(err, errlen,
                      "%s: entry %u is not 'Name: value' (a token, a colon, a non-empty value "
                      "without control characters); separate entries with ';' or newlines",
                      key, lineno);
            break;
        }
        for (size_t i = 0; i < ARRAY_SIZE(reserved) && rc == OG_OK; i++) {
            if (span_eq_nocase(name, span_cstr(reserved[i]))) {
                char q[ECHO_BUF];
                rc = fail(err, errlen, "%s: '%s' is set by otpgate%s", key, echo_span(q, name),
                          i == ARRAY_SIZE(reserved) - 1 ? "; use OTPGATE_SMS_AUTH" : "");
            }
        }
        if (rc == OG_OK && ++count > SMS_HEADERS_MAX)
            rc = fail(err, errlen, "%s: more than %d headers", key, SMS_HEADERS_MAX);
        if (rc == OG_OK && out.len > 0)
            rc = buf_append(&out, "\n", 1);
        if (rc == OG_OK)
            rc = buf_append_span(&out, name);
        if (rc == OG_OK)
            rc = buf_append(&out, ": ", 2);
        if (rc == OG_OK)
            rc = buf_append_span(&out, value);
    }
    /* The separators shrink to one byte each and blanks go, so out never
     * outgrows v; the cap only guards that reasoning. */
    if (rc == OG_OK && out.len > 0) {
        c->sms_headers = buf_detach(&out, NULL);
    } else {
        if (out.data)
            explicit_bzero(out.data, out.len);
        buf_free(&out);
    }
    return rc == OG_ERR_TOO_BIG ? fail(err, errlen, "%s: too long", key) : rc;
}

/* OTPGATE_SMS_SUCCESS: "/json/pointer=value", "/json/pointer" or "~text". */
static int parse_sms_success(struct config *c, const char *v, char *err, size_t errlen)
{
    char q[ECHO_BUF];
    c->sms_success = og_strdup(v);
    bool ok = false;
    if (v[0] == '~') {
        ok = v[1] != '\0';
    } else if (v[0] == '/') {
        ok = true;
        const char *end = v + strcspn(v, "=");
        for (const char *p = v; p < end && ok; p++)
            if (*p == '~' && (p + 1 >= end || (p[1] != '0' && p[1] != '1')))
                ok = false;
    }
    if (!ok || has_ctl(v))
        return fail(err, errlen,
                    "%s: '%s' must be /json/pointer=value, /json/pointer (present and not "
                    "false, 0, \"\" or null) or ~substring",
                    keys[K_SMS_SUCCESS].name, echo(q, v));
    return OG_OK;
}

/* The request shape of the primary provider: method and content type, as
 * written for webhook, fixed by the preset otherwise. */
static int parse_sms_shape(struct config *c, const struct raw *raw, size_t preset, char *err,
                           size_t errlen)
{
    char q[ECHO_BUF];
    const char *method = raw_get(raw, K_SMS_METHOD);
    const char *ctype = raw_get(raw, K_SMS_CONTENT_TYPE);
    if (preset != 0) {
        int bad = method ? K_SMS_METHOD : ctype ? K_SMS_CONTENT_TYPE : -1;
        if (bad >= 0)
            return fail(err, errlen,
                        "%s: only for OTPGATE_SMS_PROVIDER=webhook; the %s preset "
                        "sets its own",
                        keys[bad].name, sms_presets[preset].name);
        c->sms_method = og_strdup("POST");
        c->sms_content_type = og_strdup(sms_presets[preset].content_type);
        return OG_OK;
    }
    static const char *const methods[] = {"POST", "PUT", "GET"};
    const char *m = method ? NULL : "POST";
    for (size_t i = 0; i < ARRAY_SIZE(methods) && !m; i++)
        if (span_eq_nocase(span_cstr(method), span_cstr(methods[i])))
            m = methods[i];
    if (!m)
        return fail(err, errlen, "%s: '%s' is not one of POST, PUT, GET", keys[K_SMS_METHOD].name,
                    echo(q, method));
    c->sms_method = og_strdup(m);
    bool get = strcmp(m, "GET") == 0;
    static const char *const types[] = {"json", "form", "none"};
    const char *t = NULL;
    if (ctype) {
        for (size_t i = 0; i < ARRAY_SIZE(types) && !t; i++)
            if (span_eq_nocase(span_cstr(ctype), span_cstr(types[i])))
                t = types[i];
        if (!t)
            return fail(err, errlen, "%s: '%s' is not one of json, form, none",
                        keys[K_SMS_CONTENT_TYPE].name, echo(q, ctype));
    } else {
        t = get ? "none" : sms_guess_content_type(c->sms_body);
    }
    c->sms_content_type = og_strdup(t);
    if (get && strcmp(t, "none") != 0)
        return fail(err, errlen, "%s: a GET request has no body; use none or leave it unset",
                    keys[K_SMS_CONTENT_TYPE].name);
    if (c->sms_body && strcmp(t, "none") == 0)
        return fail(err, errlen,
                    "%s: set, but the request has no body (method GET or content type none); "
                    "put {to} and {message} in OTPGATE_SMS_URL's query instead",
                    keys[K_SMS_BODY].name);
    if (c->sms_body && strcmp(t, "json") == 0)
        return sms_body_json(K_SMS_BODY, c->sms_body, err, errlen);
    return OG_OK;
}

/* The SMS settings, checked together since they depend on the provider. */
static int parse_sms(struct config *c, const struct raw *raw, char *err, size_t errlen)
{
    const struct sms_dest primary = {&c->sms_provider, &c->sms_url, &c->sms_auth, &c->sms_body,
                                     &c->sms_from};
    const struct sms_dest secondary = {&c->sms2_provider, &c->sms2_url, &c->sms2_auth,
                                       &c->sms2_body, &c->sms2_from};
    size_t preset, preset2;
    int rc = parse_sms_provider(raw, &sms_primary_keys, &primary, &preset, err, errlen);
    if (rc != OG_OK)
        return rc;
    if (!c->sms_provider) {
        static const int only[] = {K_SMS_METHOD, K_SMS_CONTENT_TYPE, K_SMS_HEADERS, K_SMS_SUCCESS,
                                   K_SMS2_PROVIDER};
        for (size_t i = 0; i < ARRAY_SIZE(only); i++)
            if (raw_get(raw, only[i]))
                return fail(err, errlen,
                            "%s: set, but OTPGATE_SMS_PROVIDER is not; set it to webhook, "
                            "twilio, vonage or messagebird",
                            keys[only[i]].name);
    } else {
        const char *headers = raw_get(raw, K_SMS_HEADERS);
        const char *success = raw_get(raw, K_SMS_SUCCESS);
        if ((rc = parse_sms_shape(c, raw, preset, err, errlen)) != OG_OK ||
            (headers && (rc = parse_sms_headers(c, headers, err, errlen)) != OG_OK) ||
            (success && (rc = parse_sms_success(c, success, err, errlen)) != OG_OK))
            return rc;
    }
    if ((rc = parse_sms_provider(raw, &sms_secondary_keys, &secondary, &preset2, err, errlen)) !=
        OG_OK)
        return rc;
    /* The secondary provider has no method, content type or header keys:
     * a webhook there is a POST whose content type follows its body. */
    if (c->sms2_body && strcmp(sms_guess_content_type(c->sms2_body), "json") == 0)
        return sms_body_json(K_SMS2_BODY, c->sms2_body, err, errlen);
    return OG_OK;
}

/* ---- passkeys ---- */

/* OTPGATE_WEBAUTHN_RP_ID and what the public URL makes of it: the relying
 * party of every passkey (webauthn_rp_from_url). A public URL no browser
 * would use passkeys on (not https, not http://localhost, an IP address)
 * turns passkeys off, which is not an error: c->webauthn_off says why, for
 * the one log line at start. An RP ID that is not a DNS name, or not the
 * URL's host or a parent domain of it, stops start-up. */
static int parse_webauthn(struct config *c, const char *v, char *err, size_t errlen)
{
    const char *key = keys[K_WEBAUTHN_RP_ID].name;
    char q[ECHO_BUF], why[256];
    if (v) {
        /* A DNS name: what an https URL with it as the host would take. */
        char url[WEBAUTHN_RP_ID_MAX + 16];
        snprintf(url, sizeof(url), "https://%s", v);
        if (has_space_or_ctl(v) || strlen(v) > WEBAUTHN_RP_ID_MAX || strpbrk(v, "/:@?#[]") ||
            webauthn_rp_from_url(url, NULL, c->webauthn_rp_id, c->webauthn_origin, why,
                                 sizeof(why)) != OG_OK)
            return fail(err, errlen,
                        "%s: '%s' is not a DNS name like example.com (an IP address cannot be a "
                        "relying-party id)",
                        key, echo(q, v));
    }
    if (webauthn_rp_from_url(c->public_url, NULL, c->webauthn_rp_id, c->webauthn_origin, why,
                             sizeof(why)) != OG_OK) {
        snprintf(c->webauthn_off, sizeof(c->webauthn_off), "%s", why);
        c->webauthn_rp_id[0] = c->webauthn_origin[0] = '\0';
        return OG_OK;
    }
    if (v && webauthn_rp_from_url(c->public_url, v, c->webauthn_rp_id, c->webauthn_origin, why,
                                  sizeof(why)) != OG_OK) {
        const char *tail = strncmp(why, key, strlen(key)) == 0 ? why + strlen(key) + 2 : why;
        return fail(err, errlen, "%s: '%s' does not fit OTPGATE_PUBLIC_URL: %s", key, echo(q, v),
                    tail);
    }
    return OG_OK;
}

/* ---- delivery ---- */

static int parse_delivery(struct config *c, const struct raw *raw, char *err, size_t errlen)
{
    char q[ECHO_BUF];
    long long n;
    int rc;
    if ((rc = parse_timeout(K_DELIVERY_TIMEOUT, raw_get(raw, K_DELIVERY_TIMEOUT),
                            DELIVERY_TIMEOUT_MAX_MS, &c->delivery_timeout_ms, err, errlen)) !=
            OG_OK ||
        (rc = parse_count(K_DELIVERY_RETRIES, raw_get(raw, K_DELIVERY_RETRIES), 0, 50, &n, err,
                          errlen)) != OG_OK)
        return rc;
    c->delivery_retries = (unsigned)n;
    if ((rc = parse_timeout(K_DELIVERY_BACKOFF, raw_get(raw, K_DELIVERY_BACKOFF), HOUR_MS,
                            &c->delivery_backoff_ms, err, errlen)) != OG_OK ||
        (rc = parse_timeout(K_DELIVERY_LEASE, raw_get(raw, K_DELIVERY_LEASE), HOUR_MS,
                            &c->delivery_lease_ms, err, errlen)) != OG_OK)
        return rc;
    const char *ca = raw_get(raw, K_CA_FILE);
    if (!ca)
        return OG_OK;
    c->ca_file = og_strdup(ca);
    /* Checked now so a typo stops start-up instead of failing every send. */
    int fd = open(ca, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return fail(err, errlen, "%s: '%s' cannot be read: %s", keys[K_CA_FILE].name, echo(q, ca),
                    strerror(e));
    }
    struct stat st;
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!regular)
        return fail(err, errlen, "%s: '%s' is not a file of PEM certificates", keys[K_CA_FILE].name,
                    echo(q, ca));
    return OG_OK;
}

/* OTPGATE_DATABASE_URL: PostgreSQL storage shared by several instances.
 * Only a postgres:// or postgresql:// URL is taken; anything else stops
 * the start rather than falling back to SQLite, since instances that each
 * kept a file of their own would each accept the same code once. The URL is
 * never echoed (it may carry a password). */
static int parse_database_url(struct config *c, const char *v, char *err, size_t errlen)
{
    if (!v)
        return OG_OK;
    const char *name = keys[K_DATABASE_URL].name;
    if (strncmp(v, "postgres://", 11) != 0 && strncmp(v, "postgresql://", 13) != 0)
        return fail(err, errlen, "%s: must be a postgres:// URL, or unset for SQLite", name);
    c->database_url = og_strdup(v);
    return OG_OK;
}

int config_store_target(const struct config *c, char *out, size_t outlen)
{
    int n = c->database_url ? snprintf(out, outlen, "%s", c->database_url)
                            : snprintf(out, outlen, "%s/otpgate.db", c->data_dir);
    return n < 0 || (size_t)n >= outlen ? OG_ERR_TOO_BIG : OG_OK;
}

/* Runs every parser in an order where each sees what it depends on
 * (DEV needs the public URL). Stops at the first error. */
static int config_apply(struct config *c, const struct raw *raw, char *err, size_t errlen)
{
    int rc;
    if ((rc = parse_listen(c, raw_get(raw, K_LISTEN), err, errlen)) != OG_OK ||
        (rc = parse_public_url(c, raw_get(raw, K_PUBLIC_URL), err, errlen)) != OG_OK ||
        (rc = parse_dir(&c->data_dir, raw_get(raw, K_DATA_DIR))) != OG_OK ||
        (rc = parse_database_url(c, raw_get(raw, K_DATABASE_URL), err, errlen)) != OG_OK)
        return rc;
    const char *smtp = raw_get(raw, K_SMTP_URL);
    if (smtp && (rc = parse_smtp_url(c, smtp, err, errlen)) != OG_OK)
        return rc;
    if ((rc = parse_smtp_from(c, raw_get(raw, K_SMTP_FROM), err, errlen)) != OG_OK ||
        (rc = parse_sms(c, raw, err, errlen)) != OG_OK ||
        (rc = parse_delivery(c, raw, err, errlen)) != OG_OK ||
        (rc = parse_dev(c, raw_get(raw, K_DEV), err, errlen)) != OG_OK)
        return rc;
    const char *proxies = raw_get(raw, K_TRUSTED_PROXIES);
    if (proxies && (rc = parse_cidr_list(K_TRUSTED_PROXIES, proxies, c->trusted_proxies,
                                         &c->trusted_proxy_count, err, errlen)) != OG_OK)
        return rc;
    if ((rc = parse_cidr_list(K_METRICS_ALLOW, raw_get(raw, K_METRICS_ALLOW), c->metrics_allow,
                              &c->metrics_allow_count, err, errlen)) != OG_OK)
        return rc;
    if ((rc = parse_webauthn(c, raw_get(raw, K_WEBAUTHN_RP_ID), err, errlen)) != OG_OK)
        return rc;
    if ((rc = parse_log(c, raw_get(raw, K_LOG), err, errlen)) != OG_OK ||
        (rc = parse_dir(&c->static_dir, raw_get(raw, K_STATIC_DIR))) != OG_OK)
        return rc;
    return parse_limits(c, raw, err, errlen);
}

int config_load(struct config *c, const char *file, char *const *envp, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (err && errlen > 0)
        err[0] = '\0';
    struct raw raw = {{NULL}};
    int rc = OG_OK;
    if (file)
        rc = file_load(&raw, file, err, errlen);
    bool from_env[K_COUNT] = {false};
    if (rc == OG_OK) {
        env_load(&raw, envp, from_env);
        rc = env_load_files(&raw, envp, from_env, err, errlen);
    }
    if (rc == OG_OK)
        rc = config_apply(c, &raw, err, errlen);
    raw_free(&raw);
    return rc;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    free(c->listen);
    free(c->public_url);
    free(c->data_dir);
    if (c->database_url)
        OPENSSL_cleanse(c->database_url, strlen(c->database_url));
    free(c->database_url);
    free_secret(c->smtp_url);
    free(c->smtp_host);
    free(c->smtp_user);
    free_secret(c->smtp_pass);
    free(c->smtp_from);
    free(c->sms_provider);
    free_secret(c->sms_url);
    free_secret(c->sms_auth);
    /* A custom body or header may hold an API key too. */
    free_secret(c->sms_body);
    free(c->sms_from);
    free(c->sms_method);
    free(c->sms_content_type);
    free_secret(c->sms_headers);
    free(c->sms_success);
    free(c->sms2_provider);
    free_secret(c->sms2_url);
    free_secret(c->sms2_auth);
    free_secret(c->sms2_body);
    free(c->sms2_from);
    free(c->ca_file);
    free(c->static_dir);
    memset(c, 0, sizeof *c);
}

static bool cidr_contains(const struct config_cidr *r, const uint8_t *a)
{
    unsigned full = r->prefix / 8, rest = r->prefix % 8;
    if (memcmp(r->addr, a, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[full] & mask) == r->addr[full];
}

bool config_cidrs_contain(const struct config_cidr *list, size_t count, int family,
                          const void *addr)
{
    if (!list || !addr)
        return false;
    const uint8_t *a;
    const uint8_t *mapped = NULL;
    if (family == AF_INET) {
        a = (const uint8_t *)&((const struct in_addr *)addr)->s_addr;
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 = addr;
        a = a6->s6_addr;
        /* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; they
         * must still match the IPv4 CIDRs an operator writes. */
        if (IN6_IS_ADDR_V4MAPPED(a6))
            mapped = a6->s6_addr + 12;
    } else {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        const struct config_cidr *r = &list[i];
        if (r->family == family && cidr_contains(r, a))
            return true;
        if (mapped && r->family == AF_INET && cidr_contains(r, mapped))
            return true;
    }
    return false;
}

bool config_proxy_trusted(const struct config *c, int family, const void *addr)
{
    return c && config_cidrs_contain(c->trusted_proxies, c->trusted_proxy_count, family, addr);
}

const char *config_help_text(void)
{
    return "Settings come from the environment, or from KEY=value lines in the file\n"
           "given with --config FILE (the environment wins). In the file, blank lines\n"
           "and lines starting with # are ignored and a value may be quoted. An empty\n"
           "value means the default. Any setting NAME can instead be NAME_FILE=path in\n"
           "the environment: the file's content is the value (for Docker secrets).\n"
           "\n"
           "  OTPGATE_LISTEN            default 127.0.0.1:8080\n"
           "      Address and port to listen on: a.b.c.d:port, [IPv6]:port or\n"
           "      localhost:port (0.0.0.0:8080 in Docker). Port 0 picks a free port.\n"
           "  OTPGATE_PUBLIC_URL        default http://127.0.0.1:8080\n"
           "      External base URL, http or https, optional path; the OIDC issuer.\n"
           "  OTPGATE_DATA_DIR          default ./var\n"
           "      Holds otpgate.db and master.key (created 0600 on first start).\n"
           "  OTPGATE_DATABASE_URL      default unset (SQLite in OTPGATE_DATA_DIR)\n"
           "      postgres://... for several instances on PostgreSQL: not in this\n"
           "      version yet, so a value is refused at start.\n"
           "  OTPGATE_SMTP_URL          default unset (no email delivery)\n"
           "      smtp://[user:pass@]host[:port][?starttls=required|optional|off];\n"
           "      user and pass are %-decoded. starttls defaults to required (port 587),\n"
           "      or optional (port 25) when the host is loopback.\n"
           "  OTPGATE_SMTP_FROM         default otpgate@localhost\n"
           "      From address of emails.\n"
           "  OTPGATE_SMS_PROVIDER      default unset (no SMS delivery)\n"
           "      webhook, twilio, vonage or messagebird.\n"
           "  OTPGATE_SMS_URL           default unset\n"
           "      webhook: http(s) URL of the SMS provider, required; its query may hold\n"
           "      placeholders. Presets: replaces the provider's base URL.\n"
           "  OTPGATE_SMS_AUTH          default unset\n"
           "      webhook: Authorization header value. twilio: ACCOUNT_SID:AUTH_TOKEN;\n"
           "      vonage: API_KEY:API_SECRET; messagebird: the access key.\n"
           "  OTPGATE_SMS_BODY          default {\"to\":\"{to}\",\"message\":\"{message}\"}\n"
           "      webhook body template with {to}, {to_digits}, {message}, {code} and\n"
           "      {from}, each escaped for where it stands; {{ is a literal brace.\n"
           "  OTPGATE_SMS_FROM          default unset\n"
           "      Sender number or ID; required by twilio, vonage and messagebird.\n"
           "  OTPGATE_SMS_METHOD        default POST\n"
           "      webhook: POST, PUT or GET (GET sends no body).\n"
           "  OTPGATE_SMS_CONTENT_TYPE  default json when the body starts with { or [\n"
           "      webhook: json, form or none; otherwise form, and none for GET.\n"
           "  OTPGATE_SMS_HEADERS       default unset\n"
           "      Extra request headers, 'Name: value' separated by ';' or newlines.\n"
           "  OTPGATE_SMS_SUCCESS       default unset (any 2xx status)\n"
           "      Also required of a 2xx answer: /json/pointer=value, /json/pointer\n"
           "      (present and truthy) or ~substring. Replaces a preset's own rule.\n"
           "  OTPGATE_SMS2_PROVIDER     default unset (no secondary provider)\n"
           "  OTPGATE_SMS2_URL          default unset\n"
           "  OTPGATE_SMS2_AUTH         default unset\n"
           "  OTPGATE_SMS2_BODY         default unset\n"
           "  OTPGATE_SMS2_FROM         default unset\n"
           "      A secondary SMS provider, same meanings as OTPGATE_SMS_*; a webhook\n"
           "      there is a POST whose content type follows its body.\n"
           "  OTPGATE_DELIVERY_TIMEOUT  default 15\n"
           "      Seconds one SMS provider request may take (0.05..300).\n"
           "  OTPGATE_DELIVERY_RETRIES  default 5\n"
           "      Further tries of a message that failed for a passing reason (0..50).\n"
           "  OTPGATE_DELIVERY_BACKOFF  default 2\n"
           "      Seconds before the first retry, doubling after (0.05..3600).\n"
           "  OTPGATE_DELIVERY_LEASE    default 300\n"
           "      PostgreSQL: seconds an instance holds a message it is sending; after\n"
           "      them another instance may send it (0.05..3600; longer than a send).\n"
           "  OTPGATE_CA_FILE           default unset (the system's CAs)\n"
           "      PEM file of CA certificates for HTTPS and SMTP.\n"
           "  OTPGATE_DEV               default auto\n"
           "      Dev delivery: codes without a provider go to the log and /dev/outbox.\n"
           "      auto: on only when both OTPGATE_PUBLIC_URL and OTPGATE_LISTEN are\n"
           "      loopback; 1 (on, true): on, refused at start when either is not;\n"
           "      0 (off, false): off.\n"
           "  OTPGATE_TRUSTED_PROXIES   default unset\n"
           "      Comma- or space-separated CIDRs (IPv4 or IPv6, at most 16) of reverse\n"
           "      proxies whose X-Forwarded-For (or, without it, Forwarded) is believed:\n"
           "      every line is read, from the right, past the trusted addresses.\n"
           "  OTPGATE_METRICS_ALLOW     default 127.0.0.0/8,::1\n"
           "      CIDRs (at most 16) of the clients that may read /metrics; others get 403.\n"
           "  OTPGATE_WEBAUTHN_RP_ID    default the host of OTPGATE_PUBLIC_URL\n"
           "      The passkeys' relying-party id: that host or a parent domain of it.\n"
           "      Passkeys are bound to it, so changing it later means every user adds\n"
           "      their passkeys again. Passkeys need an https public URL (or\n"
           "      http://localhost); with any other they are off.\n"
           "  OTPGATE_LOG               default info\n"
           "      debug, info, warn or error; JSON lines on stderr.\n"
           "  OTPGATE_STATIC_DIR        default " OTPGATE_DEFAULT_STATIC_DIR "\n"
           "      Folder of the static assets (CSS, scripts, images).\n"
           "  OTPGATE_MAX_CONNECTIONS   default 10000\n"
           "      Connections beyond this are refused early (1..1000000).\n"
           "  OTPGATE_MAX_CONNECTIONS_PER_IP  default 256\n"
           "      Open connections from one address (an IPv6 /64), beyond which it gets\n"
           "      503 at once; trusted proxies are exempt (1..1000000).\n"
           "  OTPGATE_REQUEST_TIMEOUT   default 10\n"
           "      Seconds a client has to send a complete request (0.05..3600).\n"
           "  OTPGATE_IDLE_TIMEOUT      default 60\n"
           "      Seconds an idle keep-alive connection is kept (0.05..3600).\n"
           "  OTPGATE_SHUTDOWN_TIMEOUT  default 10\n"
           "      Seconds SIGTERM waits for requests in flight (0.05..3600).\n"
           "  OTPGATE_MAX_HEADER_BYTES  default 8192\n"
           "      Largest request head; beyond it the answer is 431 (1024..1048576).\n"
           "  OTPGATE_MAX_BODY_BYTES    default 65536\n"
           "      Largest request body; beyond it the answer is 413 (1024..16777216).\n";
}
