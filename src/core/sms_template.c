/* Expands SMS provider templates and judges provider answers (SPEC §7).
 * Pure string work over the caller's buffers: never does I/O, and never
 * keeps a value it was given (the code passes through, it is not stored). */
#include "core/sms_template.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static const char hex_digits[] = "0123456789ABCDEF";

static bool is_name_start(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool is_name_char(char ch)
{
    return is_name_start(ch) || (ch >= '0' && ch <= '9');
}

/* ---- escaping ---- */

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 when the
 * bytes there are not one (overlong forms and surrogates included). */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c0 = p[0];
    size_t len;
    unsigned cp;
    if (c0 < 0x80)
        return 1;
    if (c0 >= 0xc2 && c0 <= 0xdf) {
        len = 2;
        cp = c0 & 0x1fu;
    } else if (c0 >= 0xe0 && c0 <= 0xef) {
        len = 3;
        cp = c0 & 0x0fu;
    } else if (c0 >= 0xf0 && c0 <= 0xf4) {
        len = 4;
        cp = c0 & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static int escape_json(struct buf *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    int rc = OG_OK;
    for (size_t i = 0; i < n && rc == OG_OK;) {
        unsigned char ch = p[i];
        if (ch >= 0x80) {
            size_t len = utf8_seq_len(p + i, n - i);
            if (len == 0) {
                rc = buf_append_str(out, "\\ufffd");
                i++;
            } else {
                rc = buf_append(out, p + i, len);
                i += len;
            }
            continue;
        }
        i++;
        switch (ch) {
        case '"':
            rc = buf_append_str(out, "\\\"");
            break;
        case '\\':
            rc = buf_append_str(out, "\\\\");
            break;
        case '\n':
            rc = buf_append_str(out, "\\n");
            break;
        case '\r':
            rc = buf_append_str(out, "\\r");
            break;
        case '\t':
            rc = buf_append_str(out, "\\t");
            break;
        case '\b':
            rc = buf_append_str(out, "\\b");
            break;
        case '\f':
            rc = buf_append_str(out, "\\f");
            break;
        default:
            if (ch < 0x20 || ch == 0x7f) {
                char e[6] = {'\\', 'u', '0', '0', hex_digits[ch >> 4], hex_digits[ch & 0xf]};
                rc = buf_append(out, e, sizeof e);
            } else {
                char c = (char)ch;
                rc = buf_append(out, &c, 1);
            }
        }
    }
    return rc;
}

/* Percent-encodes s. A form keeps A-Z a-z 0-9 * - . _ and writes a space
 * as '+' (the WHATWG urlencoded serializer); a URL keeps RFC 3986's
 * unreserved A-Z a-z 0-9 - . _ ~. */
static int escape_pct(struct buf *out, const char *s, bool form)
{
    int rc = OG_OK;
    for (const unsigned char *p = (const unsigned char *)s; *p && rc == OG_OK; p++) {
        unsigned char ch = *p;
        bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
                    (form ? ch == '*' : ch == '~');
        if (keep) {
            char c = (char)ch;
            rc = buf_append(out, &c, 1);
        } else if (form && ch == ' ') {
            rc = buf_append(out, "+", 1);
        } else {
            char e[3] = {'%', hex_digits[ch >> 4], hex_digits[ch & 0xf]};
            rc = buf_append(out, e, sizeof e);
        }
    }
    return rc;
}

static int escape_value(struct buf *out, enum tmpl_escape esc, const char *s)
{
    switch (esc) {
    case TMPL_JSON:
        return escape_json(out, s);
    case TMPL_FORM:
        return escape_pct(out, s, true);
    case TMPL_URL:
        return escape_pct(out, s, false);
    case TMPL_RAW:
    default:
        return buf_append_str(out, s);
    }
}

/* ---- expansion ---- */

/* The value a placeholder names, or false for an unknown name. {to_digits}
 * is written into digits (which must hold strlen(to) + 1 bytes). */
static bool var_value(struct span name, const struct tmpl_vars *v, char *digits, const char **out)
{
    const char *to = v && v->to ? v->to : "";
    if (span_eq_cstr(name, "to")) {
        *out = to;
    } else if (span_eq_cstr(name, "to_digits")) {
        size_t n = 0;
        for (const char *p = to; *p; p++)
            if (*p >= '0' && *p <= '9')
                digits[n++] = *p;
        digits[n] = '\0';
        *out = digits;
    } else if (span_eq_cstr(name, "message")) {
        *out = v && v->message ? v->message : "";
    } else if (span_eq_cstr(name, "code")) {
        *out = v && v->code ? v->code : "";
    } else if (span_eq_cstr(name, "from")) {
        *out = v && v->from ? v->from : "";
    } else {
        return false;
    }
    return true;
}

/* Length of the placeholder name after the '{' at p when "{name}" starts
 * there, else 0. */
static size_t placeholder_at(const char *p)
{
    if (p[0] != '{' || !is_name_start(p[1]))
        return 0;
    size_t n = 1;
    while (is_name_char(p[1 + n]) && n < TMPL_NAME_MAX)
        n++;
    return p[1 + n] == '}' ? n : 0;
}

/* The one scanner behind tmpl_expand (out set) and tmpl_check (out NULL). */
static int scan(const char *tmpl, enum tmpl_escape esc, const struct tmpl_vars *v, struct buf *out,
                char *bad, size_t badlen)
{
    size_t to_len = v && v->to ? strlen(v->to) : 0;
    char *digits = og_malloc(to_len + 1);
    unsigned open_escapes = 0;
    int rc = OG_OK;
    const char *p = tmpl;
    while (*p && rc == OG_OK) {
        size_t name_len;
        if (p[0] == '{' && p[1] == '{') {
            open_escapes++;
            if (out)
                rc = buf_append(out, "{", 1);
            p += 2;
        } else if (p[0] == '}' && p[1] == '}' && open_escapes > 0) {
            open_escapes--;
            if (out)
                rc = buf_append(out, "}", 1);
            p += 2;
        } else if ((name_len = placeholder_at(p)) > 0) {
            struct span name = span_make(p + 1, name_len);
            const char *value = NULL;
            if (!var_value(name, v, digits, &value)) {
                if (bad && badlen > 0) {
                    size_t n = name_len < badlen - 1 ? name_len : badlen - 1;
                    memcpy(bad, name.p, n);
                    bad[n] = '\0';
                }
                rc = OG_ERR_INVALID;
            } else if (out) {
                rc = escape_value(out, esc, value);
            }
            p += name_len + 2;
        } else {
            size_t n = strcspn(p + 1, "{}") + 1;
            if (out)
                rc = buf_append(out, p, n);
            p += n;
        }
    }
    free(digits);
    return rc;
}

int tmpl_expand(const char *tmpl, enum tmpl_escape esc, const struct tmpl_vars *v, struct buf *out)
{
    if (!tmpl || !out)
        return OG_ERR_INVALID;
    size_t start = out->len;
    int rc = scan(tmpl, esc, v, out, NULL, 0);
    if (rc != OG_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}

int tmpl_check(const char *tmpl, char *bad, size_t badlen)
{
    if (bad && badlen > 0)
        bad[0] = '\0';
    if (!tmpl)
        return OG_ERR_INVALID;
    return scan(tmpl, TMPL_RAW, NULL, NULL, bad, badlen);
}

/* ---- answers ---- */

/* Walks an RFC 6901 pointer (p up to end, starting with '/') from root.
 * Returns the value or NULL. */
static json_t *pointer_get(json_t *root, const char *p, const char *end)
{
    json_t *cur = root;
    char *tok = og_malloc((size_t)(end - p) + 1);
    while (cur && p < end) {
        if (*p != '/') {
            cur = NULL;
            break;
        }
        p++;
        size_t n = 0;
        bool ok = true;
        while (p < end && *p != '/') {
            if (*p == '~') {
                if (p + 1 < end && (p[1] == '0' || p[1] == '1')) {
                    tok[n++] = p[1] == '0' ? '~' : '/';
                    p += 2;
                    continue;
                }
                ok = false;
            }
            tok[n++] = *p++;
        }
        tok[n] = '\0';
        if (!ok) {
            cur = NULL;
        } else if (json_is_object(cur)) {
            cur = json_object_getn(cur, tok, n);
        } else if (json_is_array(cur)) {
            /* Array indexes are digits without a leading zero; "-" (past
             * the end) never names a value. */
            long long idx;
            if (n == 0 || (n > 1 && tok[0] == '0') || tok[0] == '+' || tok[0] == '-' ||
                og_parse_int(span_make(tok, n), 0, 1000000000, &idx) != OG_OK)
                cur = NULL;
            else
                cur = json_array_get(cur, (size_t)idx);
        } else {
            cur = NULL;
        }
    }
    free(tok);
    return cur;
}

/* The string form of v: a string's bytes, anything else as compact JSON.
 * The caller frees it. */
static char *value_string(const json_t *v, size_t *len)
{
    if (json_is_string(v)) {
        *len = json_string_length(v);
        return og_strndup(json_string_value(v), *len);
    }
    if (json_is_real(v)) {
        /* The shortest form that reads back as the same number, so 0.03
         * compares as "0.03" and not as 0.029999999999999999. */
        double d = json_real_value(v);
        char tmp[40];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, d);
            if (strtod(tmp, NULL) == d)
                break;
        }
        *len = strlen(tmp);
        return og_strdup(tmp);
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s)
        og_oom();
    *len = strlen(s);
    return s;
}

static bool value_truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return false;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_STRING:
        return json_string_length(v) > 0;
    default:
        return true;
    }
}

static json_t *parse_body(const char *body, size_t len)
{
    if (!body)
        return NULL;
    return json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

bool tmpl_success(const char *rule, long status, const char *body, size_t len)
{
    if (status < 200 || status > 299)
        return false;
    if (!rule || !*rule)
        return true;
    if (rule[0] == '~') {
        size_t n = strlen(rule + 1);
        return n == 0 || (body && memmem(body, len, rule + 1, n) != NULL);
    }
    if (rule[0] != '/')
        return false;
    const char *eq = strchr(rule, '=');
    const char *end = eq ? eq : rule + strlen(rule);
    json_t *root = parse_body(body, len);
    if (!root)
        return false;
    json_t *v = pointer_get(root, rule, end);
    bool ok = false;
    if (v && !eq) {
        ok = value_truthy(v);
    } else if (v) {
        size_t vlen;
        char *s = value_string(v, &vlen);
        ok = vlen == strlen(eq + 1) && memcmp(s, eq + 1, vlen) == 0;
        free(s);
    }
    json_decref(root);
    return ok;
}

bool tmpl_json_lookup(const char *body, size_t len, const char *pointer, char *out, size_t outlen)
{
    if (out && outlen > 0)
        out[0] = '\0';
    if (!pointer || pointer[0] != '/' || !out || outlen == 0)
        return false;
    json_t *root = parse_body(body, len);
    if (!root)
        return false;
    json_t *v = pointer_get(root, pointer, pointer + strlen(pointer));
    bool ok = v != NULL;
    if (v) {
        size_t vlen;
        char *s = value_string(v, &vlen);
        size_t n = vlen < outlen - 1 ? vlen : outlen - 1;
        memcpy(out, s, n);
        out[n] = '\0';
        free(s);
    }
    json_decref(root);
    return ok;
}

void tmpl_blank_code(char *s, const char *code)
{
    if (!s || !code || !*code)
        return;
    size_t n = strlen(code);
    for (char *p = strstr(s, code); p; p = strstr(p + n, code))
        memset(p, '*', n);
}
