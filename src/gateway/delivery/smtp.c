/* Email over SMTP: the RFC 5322/MIME message builder and one libESMTP
 * session per message.
 * Blocking: runs on libuv's thread pool, never on the loop thread. Never
 * touches SQLite or the loop, and never lets the SMTP password reach a
 * result, a log or anything but libESMTP's AUTH exchange. */
#include "gateway/delivery/smtp.h"

/* <openssl/ssl.h> must come before <libesmtp.h>, which declares
 * smtp_starttls_set_ctx() only when it sees OpenSSL's types.
 *
 * A name clash to know about: libESMTP's opaque smtp_message_t is a pointer
 * to an incomplete "struct smtp_message", the same tag as our public
 * struct. This file only ever passes libESMTP's handle around as an
 * smtp_message_t and never dereferences it, so the two never meet. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <auth-client.h>
#include <libesmtp.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SMTP_MESSAGE_CAP        (1024 * 1024) /* the whole built message */
#define SMTP_DEFAULT_TIMEOUT_MS 15000u
#define QP_LINE_MAX             76 /* RFC 2045 §6.7 rule 5, the soft-break '=' included */
#define B64_LINE_BYTES          57 /* 57 input bytes make one 76-character base64 line */
#define WORD_BYTES              39 /* RFC 2047 word input: "=?UTF-8?B?" + 52 + "?=" stays < 76 */
#define SUBJECT_PLAIN_MAX       60 /* longer ASCII subjects are B-encoded to keep lines short */
#define ADDR_MAX                320
#define MSGID_MAX               900

/* ------------------------------------------------------------------ */
/* Message building                                                    */
/* ------------------------------------------------------------------ */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Appends the base64 of p[0..n) without line breaks. */
static int b64_append(struct buf *out, const unsigned char *p, size_t n)
{
    char quad[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        quad[0] = b64_alphabet[(v >> 18) & 63];
        quad[1] = b64_alphabet[(v >> 12) & 63];
        quad[2] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        quad[3] = i + 2 < n ? b64_alphabet[v & 63] : '=';
        int rc = buf_append(out, quad, 4);
        if (rc)
            return rc;
    }
    return OG_OK;
}

/* Copies s into out with every line ending ("\r\n", "\n" or a lone "\r")
 * made CRLF: the canonical form of text types before any encoding (RFC 2045
 * §6.8). */
static int text_canonical(struct buf *out, const char *s)
{
    for (const char *p = s; *p; p++) {
        int rc;
        if (*p == '\r') {
            if (p[1] == '\n')
                p++;
            rc = buf_append(out, "\r\n", 2);
        } else if (*p == '\n') {
            rc = buf_append(out, "\r\n", 2);
        } else {
            rc = buf_append(out, p, 1);
        }
        if (rc)
            return rc;
    }
    return OG_OK;
}

/* Quoted-printable (RFC 2045 §6.7) of canonical CRLF text: CRLF stays a
 * hard line break, whitespace before a line end is encoded, and soft breaks
 * keep every line within QP_LINE_MAX. */
static int qp_append(struct buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
            if ((rc = buf_append(out, "\r\n", 2)))
                return rc;
            col = 0;
            i++;
            continue;
        }
        bool at_eol = i + 1 == n || (s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n');
        char rep[3];
        size_t rlen;
        if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_eol)) {
            rep[0] = (char)c;
            rlen = 1;
        } else {
            rep[0] = '=';
            rep[1] = hex[c >> 4];
            rep[2] = hex[c & 15];
            rlen = 3;
        }
        if (col + rlen > QP_LINE_MAX - 1) {
            if ((rc = buf_append(out, "=\r\n", 3)))
                return rc;
            col = 0;
        }
        if ((rc = buf_append(out, rep, rlen)))
            return rc;
        col += rlen;
    }
    return OG_OK;
}

/* Base64 of canonical text in lines of 76 characters, CRLF between them. */
static int b64_lines_append(struct buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i += B64_LINE_BYTES) {
        size_t take = n - i < B64_LINE_BYTES ? n - i : B64_LINE_BYTES;
        int rc = b64_append(out, (const unsigned char *)s + i, take);
        if (!rc && i + take < n)
            rc = buf_append(out, "\r\n", 2);
        if (rc)
            return rc;
    }
    return OG_OK;
}

/* One MIME part: its headers and its encoded body. Mostly-ASCII text goes
 * quoted-printable (readable, small); text where more than a sixth of the
 * bytes need escaping (Chinese, say) goes base64, which is then smaller. */
static int part_append(struct buf *out, const char *boundary, const char *type, const char *body)
{
    struct buf canon;
    buf_init(&canon, SMTP_MESSAGE_CAP);
    int rc = text_canonical(&canon, body);
    size_t escaped = 0;
    for (size_t i = 0; !rc && i < canon.len; i++) {
        unsigned char c = (unsigned char)canon.data[i];
        if (c >= 0x80 || c == '=' || (c < 0x20 && c != '\r' && c != '\n' && c != '\t'))
            escaped++;
    }
    bool base64 = escaped * 6 > canon.len;
    if (!rc)
        rc = buf_printf(out,
                        "\r\n--%s\r\nContent-Type: %s; charset=utf-8\r\n"
                        "Content-Transfer-Encoding: %s\r\n\r\n",
                        boundary, type, base64 ? "base64" : "quoted-printable");
    if (!rc && canon.len)
        rc = base64 ? b64_lines_append(out, canon.data, canon.len)
                    : qp_append(out, canon.data, canon.len);
    buf_free(&canon);
    return rc;
}

/* Appends "Name: value\r\n" with value as RFC 2047 B-encoded UTF-8 words,
 * one per folded line, never splitting a UTF-8 sequence between words. */
static int encoded_words_append(struct buf *out, const char *name, const char *value, size_t len)
{
    int rc = buf_printf(out, "%s:", name);
    size_t i = 0;
    while (!rc && i < len) {
        size_t end = len - i < WORD_BYTES ? len : i + WORD_BYTES;
        /* Back off to the start of a UTF-8 sequence (RFC 2047 §5: each
         * word holds whole characters); invalid input is cut anywhere. */
        size_t cut = end;
        while (cut > i && cut < len && ((unsigned char)value[cut] & 0xC0) == 0x80)
            cut--;
        if (cut == i)
            cut = end;
        rc = buf_append_str(out, i == 0 ? " =?UTF-8?B?" : "\r\n =?UTF-8?B?");
        if (!rc)
            rc = b64_append(out, (const unsigned char *)value + i, cut - i);
        if (!rc)
            rc = buf_append(out, "?=", 2);
        i = cut;
    }
    if (!rc && len == 0)
        rc = buf_append(out, " ", 1);
    if (!rc)
        rc = buf_append(out, "\r\n", 2);
    return rc;
}

/* Subject: short printable ASCII stays as written; anything else (UTF-8,
 * long lines, text that would read as an encoded word) is B-encoded.
 * Control characters become spaces so a subject can never add a header. */
static int subject_append(struct buf *out, const char *subject)
{
    size_t len = strlen(subject);
    char *clean = og_strndup(subject, len);
    bool plain = len <= SUBJECT_PLAIN_MAX && !strstr(clean, "=?");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)clean[i];
        if (c < 0x20 || c == 0x7f)
            clean[i] = ' ';
        if (c >= 0x80)
            plain = false;
    }
    int rc = plain ? buf_printf(out, "Subject: %s\r\n", clean)
                   : encoded_words_append(out, "Subject", clean, len);
    free(clean);
    return rc;
}

/* An addr-spec we can put in a header and an SMTP envelope as is: printable
 * ASCII, one '@', none of the characters that would start a comment, a
 * display name, a list or a new header. */
static bool address_ok(const char *s)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n == 0 || n > ADDR_MAX || !at || at == s || !at[1] || strchr(at + 1, '@'))
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c))
            return false;
    }
    return true;
}

static bool message_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MSGID_MAX || !strchr(s, '@'))
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
            return false;
    }
    return true;
}

/* The boundary starts with "=_", which neither quoted-printable (it writes
 * '=' as "=3D") nor base64 (no '_') can produce, so it never occurs in a
 * part; the rest only makes it differ between messages. */
static void boundary_make(char *out, size_t cap, const char *message_id, int64_t unix_time)
{
    uint64_t h = 14695981039346656037ull;
    for (const char *p = message_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ (uint64_t)unix_time) * 1099511628211ull;
    snprintf(out, cap, "=_otpgate_%016llx", (unsigned long long)h);
}

int smtp_build_message(const struct config *cfg, const struct smtp_message *m, int64_t unix_time,
                       struct buf *out)
{
    static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const char *from = cfg->smtp_from ? cfg->smtp_from : "otpgate@localhost";
    if (!m->to || !m->message_id || !address_ok(m->to) || !address_ok(from) ||
        !message_id_ok(m->message_id))
        return OG_ERR_INVALID;

    time_t t = (time_t)unix_time;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return OG_ERR_INVALID;
    char boundary[40];
    boundary_make(boundary, sizeof(boundary), m->message_id, unix_time);

    int rc = buf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", wdays[tm.tm_wday],
                        tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                        tm.tm_sec);
    if (!rc)
        rc = buf_printf(out, "Message-ID: <%s>\r\nFrom: %s\r\nTo: %s\r\n", m->message_id, from,
                        m->to);
    if (!rc)
        rc = subject_append(out, m->subject ? m->subject : "");
    /* Auto-Submitted (RFC 3834) keeps vacation responders from answering. */
    if (!rc)
        rc = buf_printf(out,
                        "MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
                        "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n"
                        "This is a multi-part message in MIME format.\r\n",
                        boundary);
    if (!rc)
        rc = part_append(out, boundary, "text/plain", m->text ? m->text : "");
    if (!rc && m->html)
        rc = part_append(out, boundary, "text/html", m->html);
    if (!rc)
        rc = buf_printf(out, "\r\n--%s--\r\n", boundary);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

#define VERB_MAX   10
#define VERB_FIFO  16
#define REPLY_TEXT 400

/* One final server reply, with the command it answered. */
struct smtp_reply {
    int code;
    char verb[VERB_MAX];
    char text[REPLY_TEXT];
};

/* Follows the protocol through libESMTP's monitor callback to know which
 * command each reply answered (libESMTP reports the greeting, EHLO,
 * STARTTLS and AUTH replies to nobody). Of what the client writes only the
 * first word of each line is looked at, and only known verbs are kept:
 * AUTH continuation lines (base64 credentials) are never stored. */
struct smtp_track {
    char verbs[VERB_FIFO][VERB_MAX]; /* commands awaiting a reply */
    unsigned head, count;
    char wtok[VERB_MAX];
    size_t wtok_len;
    bool wskip; /* rest of a client line after its first word */
    char rline[600];
    size_t rline_len;
    char rtext[REPLY_TEXT];
    size_t rtext_len;
    unsigned replies;
    bool auth_sent, auth_ok;
    struct smtp_reply auth_err;  /* last failed AUTH step */
    struct smtp_reply first_err; /* first 4xx/5xx to anything but EHLO, AUTH, QUIT */
    struct smtp_reply any_err;   /* first 4xx/5xx to anything but QUIT */
};

struct smtp_state {
    const struct config *cfg;
    auth_context_t auth;
    bool plaintext_auth_ok; /* starttls=off and a loopback host */
    bool sni;               /* smtp_host is a name, not an address */
    bool tls;               /* STARTTLS done and the peer accepted */
    bool starttls_missing;  /* required, but the server did not offer it */
    bool verify_failed;
    int verify_err, verify_depth;
    bool tls_rejected; /* libESMTP's own check failed and OpenSSL's did not cover it */
    char tls_why[96];
    bool auth_refused; /* we would not hand out the password */
    struct smtp_track track;
    int64_t last_io_ms;
    unsigned timeout_ms;
    int64_t handshake_start_ms, handshake_ms;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static bool verb_known(const char *tok)
{
    static const char *const verbs[] = {"EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT",
                                        "DATA", "BDAT", "RSET",     "QUIT", "ETRN", "NOOP"};
    for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
        if (strcmp(tok, verbs[i]) == 0)
            return true;
    return false;
}

static void track_push(struct smtp_track *t, const char *verb)
{
    if (t->count == VERB_FIFO)
        return;
    copy_str(t->verbs[(t->head + t->count) % VERB_FIFO], VERB_MAX, verb);
    t->count++;
}

static void track_client_word(struct smtp_track *t)
{
    t->wtok[t->wtok_len] = '\0';
    if (verb_known(t->wtok)) {
        if (strcmp(t->wtok, "AUTH") == 0)
            t->auth_sent = true;
        track_push(t, t->wtok);
    } else if (strcmp(t->wtok, ".") == 0) {
        track_push(t, "DATA");
    } else {
        track_push(t, "AUTH"); /* a SASL continuation: its content is dropped */
    }
}

static void track_write(struct smtp_track *t, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (t->wskip) {
            if (c == '\n') {
                t->wskip = false;
                t->wtok_len = 0;
            }
            continue;
        }
        if (c == ' ' || c == '\r' || c == '\n' || t->wtok_len == VERB_MAX - 1) {
            track_client_word(t);
            t->wtok_len = 0;
            t->wskip = c != '\n';
            continue;
        }
        t->wtok[t->wtok_len++] = c;
    }
}

static void reply_set(struct smtp_reply *r, int code, const char *verb, const char *text)
{
    r->code = code;
    copy_str(r->verb, sizeof(r->verb), verb);
    copy_str(r->text, sizeof(r->text), text);
}

static void track_reply(struct smtp_track *t, int code, const char *text)
{
    char verb[VERB_MAX];
    if (t->count) {
        copy_str(verb, sizeof(verb), t->verbs[t->head]);
        t->head = (t->head + 1) % VERB_FIFO;
        t->count--;
    } else {
        /* Nothing pending: the greeting, or the answer to the end of the
         * message, whose lines libESMTP does not pass to the monitor. */
        copy_str(verb, sizeof(verb), t->replies == 0 ? "CONNECT" : "DATA");
    }
    t->replies++;
    if (strcmp(verb, "AUTH") == 0) {
        if (code >= 200 && code < 300)
            t->auth_ok = true;
        else if (code >= 400)
            reply_set(&t->auth_err, code, verb, text);
    }
    if (code < 400 || strcmp(verb, "QUIT") == 0)
        return;
    if (!t->any_err.code)
        reply_set(&t->any_err, code, verb, text);
    if (!t->first_err.code && strcmp(verb, "EHLO") != 0 && strcmp(verb, "AUTH") != 0)
        reply_set(&t->first_err, code, verb, text);
}

static void track_server_line(struct smtp_track *t)
{
    const char *l = t->rline;
    size_t n = t->rline_len;
    if (n < 3 || l[0] < '1' || l[0] > '5' || l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9')
        return;
    int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
    bool final = n == 3 || l[3] == ' ';
    if (n > 4) {
        int w = snprintf(t->rtext + t->rtext_len, sizeof(t->rtext) - t->rtext_len, "%s%.*s",
                         t->rtext_len ? " " : "", (int)(n - 4), l + 4);
        if (w > 0)
            t->rtext_len += (size_t)w;
        if (t->rtext_len >= sizeof(t->rtext))
            t->rtext_len = sizeof(t->rtext) - 1;
    }
    if (final) {
        t->rtext[t->rtext_len] = '\0';
        track_reply(t, code, t->rtext);
        t->rtext_len = 0;
        t->rtext[0] = '\0';
    }
}

static void track_read(struct smtp_track *t, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\n') {
            if (t->rline_len && t->rline[t->rline_len - 1] == '\r')
                t->rline_len--;
            t->rline[t->rline_len] = '\0';
            track_server_line(t);
            t->rline_len = 0;
        } else if (t->rline_len < sizeof(t->rline) - 1) {
            t->rline[t->rline_len++] = c;
        }
    }
}

static void monitor_cb(const char *buf, int buflen, int writing, void *arg)
{
    struct smtp_state *st = arg;
    st->last_io_ms = mono_ms();
    if (buflen <= 0)
        return;
    if (writing == SMTP_CB_WRITING)
        track_write(&st->track, buf, (size_t)buflen);
    else if (writing == SMTP_CB_READING)
        track_read(&st->track, buf, (size_t)buflen);
}

/* libESMTP 1.1's protocol loop handles a readable socket before it flushes
 * the command it just queued. A TLS 1.3 server sends its session tickets
 * right after the handshake; when they arrive before libESMTP has sent
 * EHLO, it reads them (no data), then waits for the answer to an EHLO that
 * is still in its buffer, and the session dies at the timeout. So take the
 * tickets here, before libESMTP goes on: wait for them up to twice the
 * handshake's own time (about two round trips) plus a little, let OpenSSL
 * process them with SSL_peek, and stop 5 ms after the last one. TLS 1.2
 * sends tickets inside the handshake and needs none of this. */
static void tls13_settle(struct smtp_state *st, SSL *ssl)
{
    if (!ssl || SSL_version(ssl) != TLS1_3_VERSION)
        return;
    int fd = SSL_get_rfd(ssl);
    int64_t wait = 2 * st->handshake_ms + 20;
    if (wait > st->timeout_ms / 4)
        wait = st->timeout_ms / 4;
    int64_t deadline = mono_ms() + wait;
    bool got = false;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (got)
            left = 5;
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            break;
        char c;
        ERR_clear_error(); /* SSL_get_error() reads this thread's queue */
        int n = SSL_peek(ssl, &c, 1);
        if (n > 0 || SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ)
            break; /* data (libESMTP reads it) or a closed connection */
        got = true;
    }
    /* libESMTP's SSL_get_error() calls need an empty error queue. */
    ERR_clear_error();
}

/* libESMTP's events. Its own certificate checks run after the handshake:
 * the chain result (which our SSL_VERIFY_PEER already enforced) and a name
 * match on DNS names only. Ours is OpenSSL's X509_VERIFY_PARAM check, which
 * also knows IP addresses, so a mismatch report from libESMTP is overruled
 * only when OpenSSL verified the chain and the name. */
static void event_cb(smtp_session_t session, int event_no, void *arg, ...)
{
    OG_UNUSED(session);
    struct smtp_state *st = arg;
    va_list ap;
    va_start(ap, arg);
    switch (event_no) {
    case SMTP_EV_STARTTLS_OK:
        st->tls = true;
        tls13_settle(st, va_arg(ap, SSL *));
        break;
    case SMTP_EV_EXTNA_STARTTLS:
        st->starttls_missing = true;
        break;
    case SMTP_EV_INVALID_PEER_CERTIFICATE: {
        long result = va_arg(ap, long);
        int *ok = va_arg(ap, int *);
        *ok = 0;
        st->tls_rejected = true;
        snprintf(st->tls_why, sizeof(st->tls_why), "certificate invalid: %s",
                 X509_verify_cert_error_string(result));
        break;
    }
    case SMTP_EV_NO_PEER_CERTIFICATE: {
        int *ok = va_arg(ap, int *);
        *ok = 0;
        st->tls_rejected = true;
        copy_str(st->tls_why, sizeof(st->tls_why), "the server sent no certificate");
        break;
    }
    case SMTP_EV_WRONG_PEER_CERTIFICATE: {
        int *ok = va_arg(ap, int *);
        (void)va_arg(ap, const char *);
        SSL *ssl = va_arg(ap, SSL *);
        *ok = ssl && SSL_get_verify_result(ssl) == X509_V_OK && !st->verify_failed;
        if (!*ok) {
            st->tls_rejected = true;
            copy_str(st->tls_why, sizeof(st->tls_why), "the certificate does not name the host");
        }
        break;
    }
    case SMTP_EV_WEAK_CIPHER: {
        (void)va_arg(ap, int);
        int *ok = va_arg(ap, int *);
        *ok = 0;
        st->tls_rejected = true;
        copy_str(st->tls_why, sizeof(st->tls_why), "the cipher is too weak");
        break;
    }
    case SMTP_EV_NO_CLIENT_CERTIFICATE: {
        /* Only when a stray ~/.authenticate client key cannot be used:
         * go on without a client certificate. */
        int *ok = va_arg(ap, int *);
        *ok = 1;
        break;
    }
    default:
        break;
    }
    va_end(ap);
}

/* Hands libESMTP the user name and password for AUTH PLAIN or LOGIN, and
 * nothing at all without TLS (unless plaintext was explicitly allowed) or
 * for any other mechanism the server might list first. */
static int auth_interact(auth_client_request_t req, char **result, int fields, void *arg)
{
    struct smtp_state *st = arg;
    if (!st->tls && !st->plaintext_auth_ok) {
        st->auth_refused = true;
        return 0;
    }
    const char *mech = auth_mechanism_name(st->auth);
    if (!mech || (strcasecmp(mech, "PLAIN") != 0 && strcasecmp(mech, "LOGIN") != 0))
        return 0;
    for (int i = 0; i < fields; i++) {
        if (req[i].flags & AUTH_USER)
            result[i] = (char *)st->cfg->smtp_user;
        else if (req[i].flags & AUTH_PASS)
            result[i] = (char *)(st->cfg->smtp_pass ? st->cfg->smtp_pass : "");
        else if (req[i].flags & AUTH_REALM)
            result[i] = (char *)"";
        else
            return 0;
    }
    return 1;
}

/* Records the first chain or name failure for the answer. */
static int tls_verify_cb(int preverify_ok, X509_STORE_CTX *x)
{
    if (preverify_ok)
        return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct smtp_state *st = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
    if (st && !st->verify_failed) {
        st->verify_failed = true;
        st->verify_err = X509_STORE_CTX_get_error(x);
        st->verify_depth = X509_STORE_CTX_get_error_depth(x);
    }
    return 0;
}

/* libESMTP creates the SSL itself and sets no SNI; name the host before
 * the ClientHello is built so virtual-hosted submission servers present
 * the right certificate. */
static void tls_info_cb(const SSL *ssl, int where, int ret)
{
    OG_UNUSED(ret);
    struct smtp_state *st = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (!st)
        return;
    if ((where & SSL_CB_HANDSHAKE_DONE) && st->handshake_start_ms)
        st->handshake_ms = mono_ms() - st->handshake_start_ms;
    if (!(where & SSL_CB_HANDSHAKE_START) || !SSL_in_before(ssl))
        return;
    st->handshake_start_ms = mono_ms();
    if (st->sni)
        SSL_set_tlsext_host_name((SSL *)ssl, st->cfg->smtp_host);
}

static bool host_is_ip(const char *host)
{
    unsigned char a[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

static bool host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

/* A fresh context per send: the verify parameters carry this host's name
 * and the app data points at this send's state. TLS 1.2 at least, the
 * system CAs plus OTPGATE_CA_FILE, SSL_VERIFY_PEER so a bad chain or name
 * fails the handshake itself. */
static SSL_CTX *tls_ctx_make(struct smtp_state *st, char *err, size_t errlen)
{
    const struct config *cfg = st->cfg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "TLS: cannot create an OpenSSL context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_cb);
    SSL_CTX_set_info_callback(ctx, tls_info_cb);
    SSL_CTX_set_app_data(ctx, st);
    SSL_CTX_set_default_verify_paths(ctx);
    if (cfg->ca_file && *cfg->ca_file &&
        SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
        snprintf(err, errlen, "TLS: cannot load OTPGATE_CA_FILE %s", cfg->ca_file);
        SSL_CTX_free(ctx);
        return NULL;
    }
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
    int ok = host_is_ip(cfg->smtp_host) ? X509_VERIFY_PARAM_set1_ip_asc(param, cfg->smtp_host)
                                        : X509_VERIFY_PARAM_set1_host(param, cfg->smtp_host, 0);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (ok != 1) {
        snprintf(err, errlen, "TLS: cannot check certificates for host %s", cfg->smtp_host);
        SSL_CTX_free(ctx);
        return NULL;
    }
    st->sni = !host_is_ip(cfg->smtp_host);
    return ctx;
}

/* libESMTP's connect(2) is blocking and has no timeout: a host that drops
 * packets would hold a pool thread for the kernel's SYN retries (about two
 * minutes). So reach the server first within the deadline, then give
 * libESMTP the address that answered (IPv4 as digits; libESMTP's
 * "host:port" syntax cannot carry an IPv6 literal, so for IPv6 it gets the
 * name and resolves it itself). Returns 0 with server filled, or -1 with
 * err and *retryable set. */
static int connect_probe(const char *host, int port, unsigned timeout_ms, char *server,
                         size_t server_len, char *err, size_t errlen, bool *retryable)
{
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        *retryable = gai == EAI_AGAIN || gai == EAI_SYSTEM || gai == EAI_MEMORY;
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int64_t deadline = mono_ms() + timeout_ms;
    int last_errno = ETIMEDOUT;
    int rc = -1;
    for (struct addrinfo *ai = res; ai && rc != 0; ai = ai->ai_next) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int e = 0;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            e = errno;
            if (e == EINPROGRESS) {
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                int n;
                do
                    n = poll(&pfd, 1, (int)left);
                while (n < 0 && errno == EINTR);
                socklen_t elen = sizeof(e);
                if (n == 0)
                    e = ETIMEDOUT;
                else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
                    e = errno;
            }
        }
        close(fd);
        if (e != 0) {
            last_errno = e;
            continue;
        }
        char addr[INET6_ADDRSTRLEN] = "";
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)ai->ai_addr;
            inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
            snprintf(server, server_len, "%s:%d", addr, port);
            rc = 0;
        } else if (!host_is_ip(host)) {
            snprintf(server, server_len, "%s:%d", host, port);
            rc = 0;
        } else {
            snprintf(err, errlen, "cannot use %s: libESMTP takes no IPv6 literal, use a host name",
                     host);
            *retryable = false;
            freeaddrinfo(res);
            return -1;
        }
    }
    freeaddrinfo(res);
    if (rc != 0) {
        char ebuf[128];
        const char *why =
            last_errno == ETIMEDOUT ? "timed out" : strerror_r(last_errno, ebuf, sizeof(ebuf));
        *retryable = true;
        snprintf(err, errlen, "cannot connect to %s port %d: %s", host, port, why);
    }
    return rc;
}

/* The message is handed over from memory in one piece. The state lives in
 * arg, not in *ctx, which libESMTP would free(). */
struct body_reader {
    const char *data;
    size_t len;
    bool done;
};

static const char *message_cb(void **ctx, int *len, void *arg)
{
    OG_UNUSED(ctx);
    struct body_reader *b = arg;
    if (!len) {
        b->done = false;
        return NULL;
    }
    if (b->done) {
        *len = 0;
        return NULL;
    }
    b->done = true;
    *len = (int)b->len;
    return b->data;
}

/* The EHLO name: the host of OTPGATE_PUBLIC_URL when it is a DNS name
 * (what a receiving server can look up), else NULL for libESMTP's default,
 * the machine's node name (an address would need [brackets] in EHLO). */
static char *ehlo_name(const struct config *cfg)
{
    const char *u = cfg->public_url;
    const char *p = u ? strstr(u, "://") : NULL;
    if (!p)
        return NULL;
    p += 3;
    size_t n = strcspn(p, ":/?#");
    if (n == 0 || n > 253 || *p == '[')
        return NULL;
    char *host = og_strndup(p, n);
    bool ok = !host_is_ip(host) && !host_is_loopback(host) && strchr(host, '.');
    for (const char *c = host; ok && *c; c++)
        ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
             *c == '-' || *c == '.';
    if (!ok) {
        free(host);
        return NULL;
    }
    return host;
}

static pthread_once_t auth_once = PTHREAD_ONCE_INIT;

static void auth_init(void)
{
    auth_client_init();
}

static void result_set(struct smtp_result *r, bool retryable, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void result_set(struct smtp_result *r, bool retryable, int status, const char *fmt, ...)
{
    r->ok = false;
    r->retryable = retryable;
    r->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->answer, sizeof(r->answer), fmt, ap);
    va_end(ap);
}

static const char *verb_label(const char *verb)
{
    if (strcmp(verb, "CONNECT") == 0)
        return "greeting";
    if (strcmp(verb, "MAIL") == 0)
        return "MAIL FROM";
    if (strcmp(verb, "RCPT") == 0)
        return "RCPT TO";
    return verb;
}

static void result_from_reply(struct smtp_result *r, const struct smtp_reply *rep, const char *note)
{
    result_set(r, rep->code < 500, rep->code, "%s: %d %s%s", verb_label(rep->verb), rep->code,
               rep->text, note);
}

/* Decides what the session came to: delivered, or the one step that
 * decided the failure. */
static void result_from_session(struct smtp_result *r, struct smtp_state *st, smtp_message_t msg)
{
    unsigned timeout_ms = st->timeout_ms;
    const struct config *cfg = st->cfg;
    const struct smtp_track *t = &st->track;
    const smtp_status_t *ms = smtp_message_transfer_status(msg);
    if (ms && ms->code >= 200 && ms->code < 300) {
        r->ok = true;
        r->retryable = false;
        r->status = ms->code;
        snprintf(r->answer, sizeof(r->answer), "%d %s", ms->code, ms->text ? ms->text : "");
        return;
    }
    if (st->verify_failed) {
        result_set(r, false, 0, "TLS: certificate of %s not accepted: %s (depth %d)",
                   cfg->smtp_host, X509_verify_cert_error_string(st->verify_err), st->verify_depth);
        return;
    }
    if (st->tls_rejected) {
        result_set(r, false, 0, "TLS: %s: %s", cfg->smtp_host, st->tls_why);
        return;
    }
    if (st->starttls_missing) {
        result_set(r, false, 0,
                   "the server does not offer STARTTLS, and TLS is required (%s); use "
                   "?starttls=off only for a loopback relay",
                   cfg->smtp_user ? "credentials are never sent in the clear"
                                  : "starttls=required");
        return;
    }
    if (st->auth_refused && !t->auth_ok) {
        result_set(r, false, 0, "refused to send the SMTP password without TLS");
        return;
    }
    if (t->auth_err.code && !t->auth_ok) {
        result_from_reply(r, &t->auth_err, "");
        return;
    }
    const char *note = cfg->smtp_user && !t->auth_sent ? " (the server offered no AUTH)" : "";
    if (t->first_err.code) {
        result_from_reply(r, &t->first_err, note);
        return;
    }
    if (t->any_err.code) {
        result_from_reply(r, &t->any_err, note);
        return;
    }
    if (ms && ms->code >= 400) {
        struct smtp_reply rep;
        reply_set(&rep, ms->code, "DATA", ms->text);
        result_from_reply(r, &rep, note);
        return;
    }
    int e = smtp_errno();
    const char *waiting = t->count ? verb_label(t->verbs[t->head])
                                   : (t->replies == 0 ? "the greeting" : "end of data");
    if (mono_ms() - st->last_io_ms + 100 >= (int64_t)timeout_ms) {
        result_set(r, true, 0, "timed out after %u ms waiting for the answer to %s", timeout_ms,
                   waiting);
        return;
    }
    if (e == SMTP_ERR_CLIENT_ERROR) {
        unsigned long ossl = ERR_peek_last_error();
        char why[160] = "handshake failed";
        if (ossl)
            ERR_error_string_n(ossl, why, sizeof(why));
        result_set(r, false, 0, "TLS: with %s: %s", cfg->smtp_host, why);
        return;
    }
    char why[128];
    smtp_strerror(e, why, sizeof(why));
    result_set(r, true, 0, "%s (while waiting for the answer to %s)", e ? why : "session failed",
               waiting);
}

/* Replaces every occurrence of secret in s (in place, bounded by cap). */
static void scrub_one(char *s, size_t cap, const char *secret)
{
    size_t slen = secret ? strlen(secret) : 0;
    if (slen == 0)
        return;
    char *hit;
    size_t from = 0;
    while ((hit = strstr(s + from, secret)) != NULL) {
        size_t at = (size_t)(hit - s);
        char rest[sizeof(((struct smtp_result *)0)->answer)];
        copy_str(rest, sizeof(rest), hit + slen);
        snprintf(hit, cap - at, "***%s", rest);
        from = at + 3 < cap ? at + 3 : cap - 1;
        if (from >= strlen(s))
            break;
    }
}

/* The answer quotes a server, which might echo what it was sent: remove the
 * password as written and as it travels in AUTH PLAIN and LOGIN (base64),
 * and any byte that would break a log line or a header. */
static void answer_clean(struct smtp_result *r, const struct config *cfg)
{
    char *s = r->answer;
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    for (size_t n = strlen(s); n > 0 && s[n - 1] == ' '; n--)
        s[n - 1] = '\0';
    const char *pass = cfg->smtp_pass;
    if (!pass || !*pass)
        return;
    scrub_one(s, sizeof(r->answer), pass);
    struct buf b;
    buf_init(&b, 4096);
    if (b64_append(&b, (const unsigned char *)pass, strlen(pass)) == OG_OK)
        scrub_one(s, sizeof(r->answer), b.data);
    buf_clear(&b);
    struct buf plain;
    buf_init(&plain, 4096);
    const char *user = cfg->smtp_user ? cfg->smtp_user : "";
    if (buf_append(&plain, "", 1) == OG_OK && buf_append_str(&plain, user) == OG_OK &&
        buf_append(&plain, "", 1) == OG_OK && buf_append_str(&plain, pass) == OG_OK &&
        b64_append(&b, (const unsigned char *)plain.data, plain.len) == OG_OK)
        scrub_one(s, sizeof(r->answer), b.data);
    if (plain.data)
        OPENSSL_cleanse(plain.data, plain.alloc);
    if (b.data)
        OPENSSL_cleanse(b.data, b.alloc);
    buf_free(&plain);
    buf_free(&b);
}

static void send_session(const struct config *cfg, const struct smtp_message *m,
                         struct smtp_result *r)
{
    unsigned timeout_ms =
        cfg->delivery_timeout_ms ? cfg->delivery_timeout_ms : SMTP_DEFAULT_TIMEOUT_MS;
    if (!cfg->smtp_host || !*cfg->smtp_host) {
        result_set(r, false, 0, "SMTP is not configured (OTPGATE_SMTP_URL)");
        return;
    }
    bool creds = cfg->smtp_user && *cfg->smtp_user;
    bool loopback = host_is_loopback(cfg->smtp_host);
    enum starttls_option how = Starttls_REQUIRED;
    if (cfg->smtp_starttls == CONFIG_STARTTLS_OPTIONAL)
        how = creds ? Starttls_REQUIRED : Starttls_ENABLED;
    else if (cfg->smtp_starttls == CONFIG_STARTTLS_OFF)
        how = Starttls_DISABLED;
    if (creds && how == Starttls_DISABLED && !loopback) {
        result_set(r, false, 0,
                   "refused to send the SMTP password in the clear to %s: starttls=off is only "
                   "for a loopback relay",
                   cfg->smtp_host);
        return;
    }

    struct buf msgbuf;
    buf_init(&msgbuf, SMTP_MESSAGE_CAP);
    int rc = smtp_build_message(cfg, m, (int64_t)time(NULL), &msgbuf);
    if (rc != OG_OK) {
        result_set(r, false, 0, "cannot build the message: %s", og_strerror(rc));
        buf_free(&msgbuf);
        return;
    }

    char server[300], err[256];
    bool retryable = true;
    if (connect_probe(cfg->smtp_host, cfg->smtp_port, timeout_ms, server, sizeof(server), err,
                      sizeof(err), &retryable) != 0) {
        result_set(r, retryable, 0, "%s", err);
        buf_free(&msgbuf);
        return;
    }

    struct smtp_state st;
    memset(&st, 0, sizeof(st));
    st.cfg = cfg;
    st.plaintext_auth_ok = how == Starttls_DISABLED && loopback;
    st.last_io_ms = mono_ms();
    st.timeout_ms = timeout_ms;

    SSL_CTX *ctx = NULL;
    if (how != Starttls_DISABLED && !(ctx = tls_ctx_make(&st, err, sizeof(err)))) {
        result_set(r, false, 0, "%s", err);
        buf_free(&msgbuf);
        return;
    }

    pthread_once(&auth_once, auth_init);
    smtp_session_t session = smtp_create_session();
    smtp_message_t msg = session ? smtp_add_message(session) : NULL;
    if (!msg)
        og_oom();
    const char *from = cfg->smtp_from ? cfg->smtp_from : "otpgate@localhost";
    struct body_reader body = {.data = msgbuf.data, .len = msgbuf.len};
    if (!smtp_set_server(session, server) || !smtp_set_reverse_path(msg, from) ||
        !smtp_add_recipient(msg, m->to) || !smtp_set_messagecb(msg, message_cb, &body))
        og_oom();
    char *ehlo = ehlo_name(cfg);
    if (ehlo && !smtp_set_hostname(session, ehlo))
        og_oom();
    free(ehlo);
    smtp_set_eventcb(session, event_cb, &st);
    smtp_set_monitorcb(session, monitor_cb, &st, 0);
    static const int phases[] = {Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA, Timeout_TRANSFER,
                                 Timeout_DATA2};
    for (size_t i = 0; i < ARRAY_SIZE(phases); i++)
        smtp_set_timeout(session, phases[i] | Timeout_OVERRIDE_RFC2822_MINIMUM, (long)timeout_ms);
    if (ctx)
        smtp_starttls_set_ctx(session, ctx); /* libESMTP takes its own reference */
    smtp_starttls_enable(session, how);
    if (creds) {
        st.auth = auth_create_context();
        if (!st.auth)
            og_oom();
        auth_set_mechanism_flags(st.auth, AUTH_PLUGIN_PLAIN, 0);
        auth_set_interact_cb(st.auth, auth_interact, &st);
        smtp_auth_set_context(session, st.auth);
    }

    smtp_start_session(session);
    result_from_session(r, &st, msg);

    smtp_destroy_session(session);
    if (st.auth)
        auth_destroy_context(st.auth);
    SSL_CTX_free(ctx);
    buf_free(&msgbuf);
}

void smtp_send(const struct config *cfg, const struct smtp_message *m, struct smtp_result *r)
{
    memset(r, 0, sizeof(*r));
    int64_t t0 = mono_ms();

    /* A server that hangs up mid-write would raise SIGPIPE, which kills
     * the process by default. Block it on this thread for the send and
     * swallow any that came (curl's sigpipe_ignore). */
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    bool was_pending = false;
    sigset_t pending;
    if (sigpending(&pending) == 0)
        was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

    send_session(cfg, m, r);

    if (!was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    /* OpenSSL's error queue is per thread: leave nothing for the next job. */
    ERR_clear_error();

    answer_clean(r, cfg);
    r->seconds = (double)(mono_ms() - t0) / 1000.0;
}
