/* Unit tests for smtp_build_message() in src/gateway/delivery/smtp.c and for the
 * HTML code email of src/ui/mail_html.c: headers, Date, Message-ID, the
 * RFC 2047 Subject, the multipart layout, CRLF, line lengths, and that
 * quoted-printable and base64 parts decode back to their input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "gateway/delivery/smtp.h"
#include "ui/messages.h"
#include "ui/mail_html.h"

static const char *const ZH_SUBJECT = "Acme 验证码：493817";
static const char *const ZH_TEXT =
    "您的 Acme 验证码是：\n\n    493817\n\n该验证码 5 分钟内有效，只能使用一次。\n";
static const char *const EN_TEXT =
    "Your Acme verification code is:\n\n    493817\n\nIt expires in 5 minutes = 300 s. \n"
    "A line with trailing tab\t\n.starts with a dot\n";

static struct config test_cfg(void)
{
    struct config c;
    memset(&c, 0, sizeof(c));
    c.smtp_from = (char *)"otpgate@example.com";
    return c;
}

static struct smtp_message test_msg(const char *subject, const char *text, const char *html)
{
    struct smtp_message m = {
        .to = "user@example.org",
        .subject = subject,
        .text = text,
        .html = html,
        .message_id = "outbox-42.3f9a@mfa.example.com",
    };
    return m;
}

/* Builds into a fresh buf that the caller frees. */
static struct buf build(const struct smtp_message *m, int64_t t)
{
    struct config c = test_cfg();
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(smtp_build_message(&c, m, t, &b), OG_OK);
    assert_non_null(b.data);
    assert_int_equal(strlen(b.data), b.len);
    return b;
}

/* The header block, unfolded lines kept as they are, without the blank line. */
static char *headers_of(const char *msg)
{
    const char *end = strstr(msg, "\r\n\r\n");
    assert_non_null(end);
    return strndup(msg, (size_t)(end - msg) + 2);
}

/* Number of header lines starting with name (case-insensitive). */
static int header_count(const char *headers, const char *name)
{
    int n = 0;
    size_t len = strlen(name);
    for (const char *p = headers; *p;) {
        if (strncasecmp(p, name, len) == 0)
            n++;
        const char *nl = strstr(p, "\r\n");
        if (!nl)
            break;
        p = nl + 2;
    }
    return n;
}

/* The value of a header, unfolded (CRLF + whitespace removed). */
static char *header_value(const char *headers, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = headers; *p;) {
        const char *nl = strstr(p, "\r\n");
        if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
            const char *v = p + len + 1;
            char *out = calloc(1, strlen(v) + 1);
            size_t o = 0;
            for (const char *q = v; *q; q++) {
                if (q[0] == '\r' && q[1] == '\n') {
                    if (q[2] != ' ' && q[2] != '\t')
                        break;
                    q += 1;
                    continue;
                }
                out[o++] = *q;
            }
            while (o && out[0] == ' ') {
                memmove(out, out + 1, o);
                o--;
            }
            out[o] = '\0';
            return out;
        }
        if (!nl)
            break;
        p = nl + 2;
    }
    return NULL;
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes base64, skipping CRLF; fails the test on any other stray byte. */
static char *b64_decode(const char *s, size_t n, size_t *outlen)
{
    char *out = calloc(1, n + 1);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\r' || c == '\n')
            continue;
        if (c == '=')
            break;
        int v = b64_val(c);
        assert_true(v >= 0);
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char *qp_decode(const char *s, size_t n)
{
    char *out = calloc(1, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=') {
            if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
                i += 2;
                continue;
            }
            assert_true(i + 2 < n);
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            assert_true(hi >= 0 && lo >= 0);
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
            continue;
        }
        out[o++] = s[i];
    }
    out[o] = '\0';
    return out;
}

static char *crlf(const char *s)
{
    char *out = calloc(1, strlen(s) * 2 + 1);
    size_t o = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\n')
            out[o++] = '\r';
        out[o++] = *p;
    }
    out[o] = '\0';
    return out;
}

/* The boundary from the Content-Type header. */
static char *boundary_of(const char *msg)
{
    char *h = headers_of(msg);
    char *ct = header_value(h, "Content-Type");
    assert_non_null(ct);
    assert_non_null(strstr(ct, "multipart/alternative;"));
    char *b = strstr(ct, "boundary=\"");
    assert_non_null(b);
    b += 10;
    char *end = strchr(b, '"');
    assert_non_null(end);
    char *out = strndup(b, (size_t)(end - b));
    free(ct);
    free(h);
    return out;
}

struct part {
    char *headers;
    char *body; /* still encoded */
    size_t body_len;
};

/* Splits the multipart body: returns the number of parts (at most max). */
static int parts_of(const char *msg, struct part *parts, int max)
{
    char *b = boundary_of(msg);
    char delim[128], close[128];
    snprintf(delim, sizeof(delim), "\r\n--%s\r\n", b);
    snprintf(close, sizeof(close), "\r\n--%s--\r\n", b);
    const char *p = strstr(msg, delim);
    int n = 0;
    while (p && n < max) {
        const char *start = p + strlen(delim);
        const char *next = strstr(start, delim);
        const char *last = strstr(start, close);
        const char *end = next ? next : last;
        assert_non_null(end);
        const char *blank = strstr(start, "\r\n\r\n");
        assert_non_null(blank);
        assert_true(blank < end);
        parts[n].headers = strndup(start, (size_t)(blank - start) + 2);
        parts[n].body = strndup(blank + 4, (size_t)(end - blank - 4));
        parts[n].body_len = (size_t)(end - blank - 4);
        n++;
        p = next;
    }
    /* The closing delimiter ends the message. */
    size_t cl = strlen(close), ml = strlen(msg);
    assert_true(ml >= cl);
    assert_string_equal(msg + ml - cl, close);
    free(b);
    return n;
}

static void parts_free(struct part *parts, int n)
{
    for (int i = 0; i < n; i++) {
        free(parts[i].headers);
        free(parts[i].body);
    }
}

static char *part_decoded(const struct part *p, size_t *len)
{
    if (strstr(p->headers, "Content-Transfer-Encoding: base64"))
        return b64_decode(p->body, p->body_len, len);
    assert_non_null(strstr(p->headers, "Content-Transfer-Encoding: quoted-printable"));
    char *s = qp_decode(p->body, p->body_len);
    *len = strlen(s);
    return s;
}

/* ------------------------------------------------------------------ */

static void test_headers_present_once(void **state)
{
    (void)state;
    struct smtp_message m = test_msg("Your Acme code: 493817", EN_TEXT, "<p>493817</p>");
    struct buf b = build(&m, 1700000000);
    char *h = headers_of(b.data);
    const char *names[] = {"Date:",    "Message-ID:",   "From:",         "To:",
                           "Subject:", "MIME-Version:", "Content-Type:", "Auto-Submitted:"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_int_equal(header_count(h, names[i]), 1);
    assert_non_null(strstr(h, "From: otpgate@example.com\r\n"));
    assert_non_null(strstr(h, "To: user@example.org\r\n"));
    assert_non_null(strstr(h, "Subject: Your Acme code: 493817\r\n"));
    assert_non_null(strstr(h, "MIME-Version: 1.0\r\n"));
    /* Every header line is "Name: value" or a folded continuation. */
    for (const char *p = h; *p;) {
        const char *nl = strstr(p, "\r\n");
        assert_non_null(nl);
        if (*p != ' ' && *p != '\t') {
            const char *colon = memchr(p, ':', (size_t)(nl - p));
            assert_non_null(colon);
            for (const char *q = p; q < colon; q++)
                assert_true(*q > 32 && *q < 127);
        }
        p = nl + 2;
    }
    free(h);
    buf_free(&b);
}

static void test_message_id_in_angle_brackets(void **state)
{
    (void)state;
    struct smtp_message m = test_msg("x", "y", NULL);
    struct buf b = build(&m, 0);
    char *h = headers_of(b.data);
    char *v = header_value(h, "Message-ID");
    assert_string_equal(v, "<outbox-42.3f9a@mfa.example.com>");
    free(v);
    free(h);
    buf_free(&b);
}

static void test_date_format(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        const char *want;
    } cases[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 +0000"},
        {1700000000, "Tue, 14 Nov 2023 22:13:20 +0000"},
        {1709164800, "Thu, 29 Feb 2024 00:00:00 +0000"},
        {1735689599, "Tue, 31 Dec 2024 23:59:59 +0000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct smtp_message m = test_msg("x", "y", NULL);
        struct buf b = build(&m, cases[i].t);
        char *h = headers_of(b.data);
        char *v = header_value(h, "Date");
        assert_string_equal(v, cases[i].want);
        free(v);
        free(h);
        buf_free(&b);
    }
}

/* Decodes every =?UTF-8?B?...?= word of an unfolded value; checks each
 * word holds whole UTF-8 characters. */
static char *decode_words(const char *v)
{
    char *out = calloc(1, strlen(v) + 1);
    size_t o = 0;
    const char *p = v;
    int words = 0;
    while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
        p += 10;
        const char *end = strstr(p, "?=");
        assert_non_null(end);
        size_t n;
        char *d = b64_decode(p, (size_t)(end - p), &n);
        assert_true(n > 0);
        assert_true(((unsigned char)d[0] & 0xC0) != 0x80);
        /* a word must not end inside a multi-byte character */
        size_t k = n;
        while (k > 0 && ((unsigned char)d[k - 1] & 0xC0) == 0x80)
            k--;
        if (k > 0 && ((unsigned char)d[k - 1] & 0x80)) {
            unsigned char lead = (unsigned char)d[k - 1];
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
            assert_int_equal(n - (k - 1), need);
        }
        memcpy(out + o, d, n);
        o += n;
        free(d);
        p = end + 2;
        words++;
    }
    assert_true(words > 0);
    out[o] = '\0';
    return out;
}

static void test_subject_chinese_b_encoded(void **state)
{
    (void)state;
    /* Long enough for several encoded words. */
    const char *subject = "【Acme 账户安全中心】您的登录验证码：493817，五分钟内有效，请勿泄露";
    struct smtp_message m = test_msg(subject, ZH_TEXT, NULL);
    struct buf b = build(&m, 1700000000);
    char *h = headers_of(b.data);
    assert_non_null(strstr(h, "Subject: =?UTF-8?B?"));
    char *v = header_value(h, "Subject");
    /* Only encoded words and the folding spaces between them. */
    for (const char *p = v; *p; p++)
        assert_true((unsigned char)*p < 0x80);
    char *d = decode_words(v);
    assert_string_equal(d, subject);
    /* Each line of a header with encoded words stays within 76 (RFC 2047). */
    const char *s = strstr(h, "Subject:");
    for (const char *p = s;;) {
        const char *nl = strstr(p, "\r\n");
        assert_true(nl - p <= 76);
        p = nl + 2;
        if (*p != ' ')
            break;
    }
    free(d);
    free(v);
    free(h);
    buf_free(&b);

    /* A short one too. */
    m = test_msg(ZH_SUBJECT, ZH_TEXT, NULL);
    b = build(&m, 1700000000);
    h = headers_of(b.data);
    v = header_value(h, "Subject");
    d = decode_words(v);
    assert_string_equal(d, ZH_SUBJECT);
    free(d);
    free(v);
    free(h);
    buf_free(&b);
}

static void test_subject_cannot_inject_headers(void **state)
{
    (void)state;
    struct smtp_message m = test_msg("Hi\r\nBcc: victim@example.net", "y", NULL);
    struct buf b = build(&m, 0);
    char *h = headers_of(b.data);
    assert_int_equal(header_count(h, "Bcc:"), 0);
    assert_null(strstr(b.data, "\r\nBcc:"));
    free(h);
    buf_free(&b);

    /* Text that would read as an encoded word is encoded itself. */
    m = test_msg("=?UTF-8?B?SGk=?=", "y", NULL);
    b = build(&m, 0);
    h = headers_of(b.data);
    char *v = header_value(h, "Subject");
    char *d = decode_words(v);
    assert_string_equal(d, "=?UTF-8?B?SGk=?=");
    free(d);
    free(v);
    free(h);
    buf_free(&b);
}

static void test_bad_addresses_refused(void **state)
{
    (void)state;
    struct config c = test_cfg();
    struct buf b;
    buf_init(&b, 1 << 20);
    const char *bad_to[] = {"a@b\r\nBcc: x@y", "no-at-sign", "a b@c", "<a@b>", "", "a@b,c@d"};
    for (size_t i = 0; i < sizeof(bad_to) / sizeof(bad_to[0]); i++) {
        struct smtp_message m = test_msg("x", "y", NULL);
        m.to = bad_to[i];
        assert_int_equal(smtp_build_message(&c, &m, 0, &b), OG_ERR_INVALID);
    }
    const char *bad_id[] = {"a@b>", "<a@b", "a @b", "a@b\r\nX: y", "", "no-at"};
    for (size_t i = 0; i < sizeof(bad_id) / sizeof(bad_id[0]); i++) {
        struct smtp_message m = test_msg("x", "y", NULL);
        m.message_id = bad_id[i];
        assert_int_equal(smtp_build_message(&c, &m, 0, &b), OG_ERR_INVALID);
    }
    buf_free(&b);
}

static void test_crlf_everywhere(void **state)
{
    (void)state;
    struct smtp_message m =
        test_msg(ZH_SUBJECT, "mixed\nline\r\nends\rhere\n", "<p>\n<b>x</b>\r\n</p>\n");
    struct buf b = build(&m, 1700000000);
    for (size_t i = 0; i < b.len; i++) {
        if (b.data[i] == '\n')
            assert_true(i > 0 && b.data[i - 1] == '\r');
        if (b.data[i] == '\r')
            assert_true(i + 1 < b.len && b.data[i + 1] == '\n');
        assert_true(b.data[i] != '\0');
        /* 7-bit clean: everything non-ASCII is encoded. */
        assert_true((unsigned char)b.data[i] < 0x80);
    }
    assert_int_equal(b.data[b.len - 2], '\r');
    assert_int_equal(b.data[b.len - 1], '\n');
    buf_free(&b);
}

static void test_line_length(void **state)
{
    (void)state;
    /* A 3000-byte line with no spaces, a long Chinese line, and '=' runs. */
    char *longline = malloc(3001);
    memset(longline, 'x', 3000);
    for (int i = 0; i < 3000; i += 7)
        longline[i] = '=';
    longline[3000] = '\0';
    struct buf zh;
    buf_init(&zh, 1 << 20);
    for (int i = 0; i < 400; i++)
        buf_append_str(&zh, "验证码");
    const char *texts[] = {longline, zh.data, EN_TEXT};
    for (size_t t = 0; t < 3; t++) {
        struct smtp_message m = test_msg(ZH_SUBJECT, texts[t], texts[(t + 1) % 3]);
        struct buf b = build(&m, 1700000000);
        size_t col = 0;
        for (size_t i = 0; i < b.len; i++) {
            if (b.data[i] == '\r' && b.data[i + 1] == '\n') {
                assert_true(col <= 78);
                col = 0;
                i++;
                continue;
            }
            col++;
        }
        assert_true(col <= 78);
        /* and the body decodes back */
        struct part parts[3];
        int n = parts_of(b.data, parts, 3);
        assert_int_equal(n, 2);
        size_t len;
        char *d = part_decoded(&parts[0], &len);
        char *want = crlf(texts[t]);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(d, want, len);
        free(want);
        free(d);
        parts_free(parts, n);
        buf_free(&b);
    }
    buf_free(&zh);
    free(longline);
}

static void test_multipart_boundaries(void **state)
{
    (void)state;
    struct smtp_message m = test_msg("x", EN_TEXT, "<p>493817</p>");
    struct buf b = build(&m, 1700000000);
    char *bd = boundary_of(b.data);
    assert_true(strncmp(bd, "=_", 2) == 0);
    struct part parts[4];
    int n = parts_of(b.data, parts, 4);
    assert_int_equal(n, 2);
    assert_non_null(strstr(parts[0].headers, "Content-Type: text/plain; charset=utf-8\r\n"));
    assert_non_null(strstr(parts[1].headers, "Content-Type: text/html; charset=utf-8\r\n"));
    /* The boundary occurs only as delimiters: twice plus the close. */
    int count = 0;
    for (const char *p = b.data; (p = strstr(p, bd)) != NULL; p++)
        count++;
    assert_int_equal(count, 1 + 2 + 1); /* the header, two parts, the close */
    parts_free(parts, n);
    free(bd);
    buf_free(&b);

    /* Without html: only the text part. */
    m = test_msg("x", EN_TEXT, NULL);
    b = build(&m, 1700000000);
    n = parts_of(b.data, parts, 4);
    assert_int_equal(n, 1);
    assert_non_null(strstr(parts[0].headers, "text/plain"));
    assert_null(strstr(b.data, "text/html"));
    parts_free(parts, n);
    buf_free(&b);
}

static void test_quoted_printable_round_trip(void **state)
{
    (void)state;
    struct smtp_message m = test_msg("x", EN_TEXT, "<p class=\"code\">493817</p>\n");
    struct buf b = build(&m, 1700000000);
    struct part parts[2];
    int n = parts_of(b.data, parts, 2);
    assert_int_equal(n, 2);
    assert_non_null(strstr(parts[0].headers, "quoted-printable"));
    assert_non_null(strstr(parts[1].headers, "quoted-printable"));
    /* whitespace before a line end is encoded, '=' too */
    assert_non_null(strstr(parts[0].body, "300 s.=20\r\n"));
    assert_non_null(strstr(parts[0].body, "tab=09\r\n"));
    assert_non_null(strstr(parts[0].body, "5 minutes =3D 300"));
    const char *inputs[] = {EN_TEXT, "<p class=\"code\">493817</p>\n"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        char *d = part_decoded(&parts[i], &len);
        char *want = crlf(inputs[i]);
        assert_string_equal(d, want);
        free(want);
        free(d);
    }
    parts_free(parts, n);
    buf_free(&b);
}

static void test_base64_round_trip(void **state)
{
    (void)state;
    struct buf html;
    buf_init(&html, 1 << 16);
    ui_mail_html(&html, "zh", "Acme", "493817", 5, "login");
    struct smtp_message m = test_msg(ZH_SUBJECT, ZH_TEXT, html.data);
    struct buf b = build(&m, 1700000000);
    struct part parts[2];
    int n = parts_of(b.data, parts, 2);
    assert_int_equal(n, 2);
    assert_non_null(strstr(parts[0].headers, "Content-Transfer-Encoding: base64"));
    size_t len;
    char *d = part_decoded(&parts[0], &len);
    char *want = crlf(ZH_TEXT);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(d, want, len);
    free(want);
    free(d);
    /* The HTML part (mostly ASCII markup) decodes back whichever way. */
    d = part_decoded(&parts[1], &len);
    want = crlf(html.data);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(d, want, len);
    free(want);
    free(d);
    parts_free(parts, n);
    buf_free(&b);
    buf_free(&html);
}

static void test_output_cap(void **state)
{
    (void)state;
    struct config c = test_cfg();
    struct smtp_message m = test_msg("x", EN_TEXT, NULL);
    struct buf b;
    buf_init(&b, 100);
    assert_int_equal(smtp_build_message(&c, &m, 0, &b), OG_ERR_TOO_BIG);
    buf_free(&b);
}

static void test_mail_html(void **state)
{
    (void)state;
    struct buf out;
    buf_init(&out, 1 << 16);
    ui_mail_html(&out, "en", "<Acme & \"Co\">", "493817", 5, NULL);
    assert_non_null(strstr(out.data, "<html lang=\"en\">"));
    assert_non_null(strstr(out.data, "&lt;Acme &amp; &quot;Co&quot;&gt;"));
    assert_null(strstr(out.data, "<Acme"));
    assert_non_null(strstr(out.data, "monospace"));
    assert_non_null(strstr(out.data, ">493817</span>"));
    assert_non_null(strstr(out.data, "5 minutes"));
    assert_non_null(strstr(out.data, "<title>"));
    buf_clear(&out);
    ui_mail_html(&out, "zh-CN", "Acme", "<script>", 10, "enrol");
    assert_non_null(strstr(out.data, "<html lang=\"zh-CN\">"));
    assert_non_null(strstr(out.data, "&lt;script&gt;"));
    assert_non_null(strstr(out.data, "10 分钟"));
    assert_non_null(strstr(out.data, "邮箱验证"));
    buf_free(&out);
}

/* An enrolment e-mail and a sign-in e-mail say different things, in both
 * languages and both parts. */
static void test_mail_by_purpose(void **state)
{
    (void)state;
    static const char *const locales[] = {"en", "zh"};
    for (int i = 0; i < 2; i++) {
        struct buf s1, t1, s2, t2, s3, t3, h1, h2;
        buf_init(&s1, 1024);
        buf_init(&t1, 4096);
        buf_init(&s2, 1024);
        buf_init(&t2, 4096);
        buf_init(&s3, 1024);
        buf_init(&t3, 4096);
        buf_init(&h1, 1 << 16);
        buf_init(&h2, 1 << 16);
        ui_message_email(&s1, &t1, locales[i], "Acme", "493817", 5, "enrol");
        ui_message_email(&s2, &t2, locales[i], "Acme", "493817", 5, "login");
        ui_message_email(&s3, &t3, locales[i], "Acme", "493817", 5, "stepup");
        assert_string_not_equal(s1.data, s2.data);
        assert_string_not_equal(t1.data, t2.data);
        assert_string_equal(s2.data, s3.data);
        assert_non_null(strstr(t1.data, "493817"));
        assert_non_null(strstr(s1.data, "493817"));
        assert_non_null(strstr(t1.data, i == 0 ? "two-step verification" : "两步验证"));
        ui_mail_html(&h1, locales[i], "Acme", "493817", 5, "enrol");
        ui_mail_html(&h2, locales[i], "Acme", "493817", 5, "login");
        assert_string_not_equal(h1.data, h2.data);
        assert_non_null(strstr(h1.data, ">493817</span>"));
        buf_free(&s1);
        buf_free(&t1);
        buf_free(&s2);
        buf_free(&t2);
        buf_free(&s3);
        buf_free(&t3);
        buf_free(&h1);
        buf_free(&h2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_present_once),
        cmocka_unit_test(test_message_id_in_angle_brackets),
        cmocka_unit_test(test_date_format),
        cmocka_unit_test(test_subject_chinese_b_encoded),
        cmocka_unit_test(test_subject_cannot_inject_headers),
        cmocka_unit_test(test_bad_addresses_refused),
        cmocka_unit_test(test_crlf_everywhere),
        cmocka_unit_test(test_line_length),
        cmocka_unit_test(test_multipart_boundaries),
        cmocka_unit_test(test_quoted_printable_round_trip),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_mail_by_purpose),
        cmocka_unit_test(test_mail_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
