/* otpauth:// URIs: percent-encoding and decoding of label and parameters,
 * base32 of the secret. The URI carries the secret, so scratch copies are
 * cleansed; nothing is logged. */
#include "core/otpauth.h"

#include "core/base32.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#define SCHEME "otpauth://"
#define TYPE   "totp"

/* A writer into a buffer sized in advance; overflowing it is a bug. */
struct writer {
    char *p;
    size_t len;
    size_t cap;
};

static void w_put(struct writer *w, const char *s, size_t n)
{
    if (n >= w->cap - w->len) {
        fputs("{\"level\":\"error\",\"msg\":\"otpauth: buffer overflow\"}\n", stderr);
        abort();
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

static void w_str(struct writer *w, const char *s)
{
    w_put(w, s, strlen(s));
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Percent-encodes s, keeping only RFC 3986 unreserved characters. */
static void w_pct(struct writer *w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (is_unreserved(*p)) {
            w_put(w, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            w_put(w, e, 3);
        }
    }
}

static void w_uint(struct writer *w, unsigned v)
{
    char tmp[16];
    int n = snprintf(tmp, sizeof(tmp), "%u", v);
    w_put(w, tmp, (size_t)n);
}

char *otpauth_uri(const char *issuer, const char *account, const uint8_t *secret, size_t secret_len,
                  enum otp_algo algo, unsigned digits, unsigned period)
{
    const char *algo_name = otp_algo_name(algo);
    if (!account || !*account || !secret || secret_len == 0 || secret_len > OTPAUTH_MAX_SECRET ||
        !algo_name || digits < OTP_MIN_DIGITS || digits > OTP_MAX_DIGITS || period == 0 ||
        period > OTPAUTH_MAX_PERIOD)
        return NULL;
    bool has_issuer = issuer && *issuer;
    size_t ilen = has_issuer ? strlen(issuer) : 0, alen = strlen(account);
    if (ilen > SIZE_MAX / 8 || alen > SIZE_MAX / 8)
        return NULL;

    char b32[OTPAUTH_MAX_SECRET * 8 / 5 + 8];
    size_t b32len = base32_encode(secret, secret_len, false, b32, sizeof(b32));

    /* Every byte of issuer (twice) and account may become three; the fixed
     * parts and numbers fit in the 128 spare bytes. */
    size_t cap = sizeof(SCHEME TYPE "/") + 6 * ilen + 3 * alen + b32len + 128;
    struct writer w = {og_malloc(cap), 0, cap};
    w_str(&w, SCHEME TYPE "/");
    if (has_issuer) {
        w_pct(&w, issuer);
        w_str(&w, ":");
    }
    w_pct(&w, account);
    w_str(&w, "?secret=");
    w_put(&w, b32, b32len);
    if (has_issuer) {
        w_str(&w, "&issuer=");
        w_pct(&w, issuer);
    }
    w_str(&w, "&algorithm=");
    w_str(&w, algo_name);
    w_str(&w, "&digits=");
    w_uint(&w, digits);
    w_str(&w, "&period=");
    w_uint(&w, period);
    OPENSSL_cleanse(b32, sizeof(b32));
    return w.p;
}

/* True when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or
 * values past U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t more;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            more = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (more > n - i - 1)
            return false;
        for (size_t k = 1; k <= more; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += more + 1;
    }
    return true;
}

/* Percent-decodes in into out (cap bytes including the NUL). When
 * plus_space, '+' means a space (query strings). Control characters,
 * invalid UTF-8 and results that do not fit are OG_ERR_INVALID. */
static int pct_decode(struct span in, bool plus_space, char *out, size_t cap, size_t *outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.p[i];
        if (c == '%') {
            int hi = i + 2 < in.len ? og_hex_value(in.p[i + 1]) : -1;
            int lo = hi >= 0 ? og_hex_value(in.p[i + 2]) : -1;
            if (lo < 0)
                return OG_ERR_INVALID;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c < 0x20 || c == 0x7f || o + 1 >= cap)
            return OG_ERR_INVALID;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    if (!utf8_valid((const unsigned char *)out, o))
        return OG_ERR_INVALID;
    if (outlen)
        *outlen = o;
    return OG_OK;
}

static bool span_eq_nocase_cstr(struct span a, const char *s)
{
    return span_eq_nocase(a, span_cstr(s));
}

/* Fills out->issuer (if the label has a prefix) and out->account from the
 * raw label. A literal ':' separates them; without one, a decoded label
 * starting with "<issuer param>:" is split there (apps that encode the
 * separator as %3A). */
static int parse_label(struct span label, const char *issuer_param, struct otpauth *out)
{
    char decoded[sizeof(out->issuer) + sizeof(out->account)];
    const char *colon = memchr(label.p, ':', label.len);
    struct span acc = label;
    if (colon) {
        struct span iss = span_make(label.p, (size_t)(colon - label.p));
        if (pct_decode(iss, false, out->issuer, sizeof(out->issuer), NULL) != OG_OK)
            return OG_ERR_INVALID;
        acc = span_make(colon + 1, label.len - iss.len - 1);
    }
    size_t dlen = 0;
    if (pct_decode(acc, false, decoded, sizeof(decoded), &dlen) != OG_OK)
        return OG_ERR_INVALID;
    const char *a = decoded;
    if (!colon && issuer_param && *issuer_param) {
        size_t il = strlen(issuer_param);
        if (dlen > il && memcmp(decoded, issuer_param, il) == 0 && decoded[il] == ':')
            a = decoded + il + 1;
    }
    while (*a == ' ')
        a++;
    size_t alen = strlen(a);
    if (alen == 0 || alen >= sizeof(out->account))
        return OG_ERR_INVALID;
    memcpy(out->account, a, alen + 1);
    return OG_OK;
}

/* One query parameter; returns OG_ERR_INVALID for a bad value or a repeat.
 * Unknown parameters (image, counter, ...) are ignored. */
static int parse_param(struct span key, struct span val, struct otpauth *out, unsigned *seen,
                       char *issuer_param)
{
    static const char *const names[] = {"secret", "issuer", "algorithm", "digits", "period"};
    size_t idx = ARRAY_SIZE(names);
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (span_eq_cstr(key, names[i]))
            idx = i;
    if (idx == ARRAY_SIZE(names))
        return OG_OK;
    if (*seen & (1u << idx))
        return OG_ERR_INVALID;
    *seen |= 1u << idx;

    char v[OTPAUTH_MAX_URI];
    size_t vlen = 0;
    if (pct_decode(val, true, v, sizeof(v), &vlen) != OG_OK)
        return OG_ERR_INVALID;
    int rc = OG_ERR_INVALID;
    long long n = 0;
    switch (idx) {
    case 0: {
        size_t len = 0;
        if (base32_decode(v, vlen, out->secret, sizeof(out->secret), &len) == OG_OK && len > 0) {
            out->secret_len = len;
            rc = OG_OK;
        }
        break;
    }
    case 1:
        if (vlen > 0 && vlen < sizeof(out->issuer)) {
            memcpy(issuer_param, v, vlen + 1);
            rc = OG_OK;
        }
        break;
    case 2:
        for (enum otp_algo a = OTP_SHA1; a <= OTP_SHA512; a++) {
            if (span_eq_nocase_cstr(span_make(v, vlen), otp_algo_name(a))) {
                out->algo = a;
                rc = OG_OK;
            }
        }
        break;
    case 3:
        if (og_parse_int(span_make(v, vlen), OTP_MIN_DIGITS, OTP_MAX_DIGITS, &n) == OG_OK) {
            out->digits = (unsigned)n;
            rc = OG_OK;
        }
        break;
    case 4:
        if (og_parse_int(span_make(v, vlen), 1, OTPAUTH_MAX_PERIOD, &n) == OG_OK) {
            out->period = (unsigned)n;
            rc = OG_OK;
        }
        break;
    }
    OPENSSL_cleanse(v, vlen);
    return rc;
}

static int parse(const char *uri, struct otpauth *out)
{
    size_t len = strnlen(uri, OTPAUTH_MAX_URI + 1);
    if (len > OTPAUTH_MAX_URI)
        return OG_ERR_TOO_BIG;
    struct span s = span_make(uri, len);
    if (!span_eq_nocase(span_make(s.p, s.len < 10 ? s.len : 10), SPAN_LIT(SCHEME)))
        return OG_ERR_INVALID;
    s.p += 10, s.len -= 10;
    if (s.len < 5 || !span_eq_nocase(span_make(s.p, 5), SPAN_LIT(TYPE "/")))
        return OG_ERR_INVALID;
    s.p += 5, s.len -= 5;
    if (memchr(s.p, '#', s.len))
        return OG_ERR_INVALID;

    const char *q = memchr(s.p, '?', s.len);
    if (!q)
        return OG_ERR_INVALID; /* the secret is a required parameter */
    struct span label = span_make(s.p, (size_t)(q - s.p));
    struct span query = span_make(q + 1, s.len - label.len - 1);

    char issuer_param[sizeof(out->issuer)] = "";
    unsigned seen = 0;
    while (query.len > 0) {
        const char *amp = memchr(query.p, '&', query.len);
        size_t plen = amp ? (size_t)(amp - query.p) : query.len;
        struct span param = span_make(query.p, plen);
        query.p += plen, query.len -= plen;
        if (amp)
            query.p++, query.len--;
        if (plen == 0)
            continue;
        const char *eq = memchr(param.p, '=', param.len);
        struct span key = eq ? span_make(param.p, (size_t)(eq - param.p)) : param;
        struct span val = eq ? span_make(eq + 1, param.len - key.len - 1) : SPAN_NULL;
        if (parse_param(key, val, out, &seen, issuer_param) != OG_OK)
            return OG_ERR_INVALID;
    }
    if (!(seen & 1u))
        return OG_ERR_INVALID;
    if (parse_label(label, issuer_param, out) != OG_OK)
        return OG_ERR_INVALID;
    if (issuer_param[0])
        memcpy(out->issuer, issuer_param, sizeof(out->issuer));
    return OG_OK;
}

int otpauth_parse(const char *uri, struct otpauth *out)
{
    memset(out, 0, sizeof(*out));
    out->algo = OTP_SHA1;
    out->digits = 6;
    out->period = 30;
    int rc = uri ? parse(uri, out) : OG_ERR_INVALID;
    if (rc != OG_OK)
        OPENSSL_cleanse(out, sizeof(*out));
    return rc;
}
