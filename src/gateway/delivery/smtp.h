/* Email delivery through libESMTP: builds the RFC 5322 message and sends it
 * over one blocking SMTP session. smtp_send() blocks on the network and so
 * runs only on libuv's thread pool (uv_queue_work), never on the loop
 * thread; it touches neither SQLite nor the loop. */
#ifndef OTPGATE_SMTP_H
#define OTPGATE_SMTP_H

#include "core/buf.h"
#include "core/config.h"

#include <stdint.h>

struct smtp_message {
    const char *to;         /* validated address */
    const char *subject;    /* UTF-8 */
    const char *text;       /* plain-text body, UTF-8 */
    const char *html;       /* HTML body, UTF-8 (already escaped markup), or NULL */
    const char *message_id; /* without <>, e.g. "outbox-42.3f9a@mfa.example.com" */
};

struct smtp_result {
    bool ok;
    bool retryable;   /* connection failure, timeout, 4xx: try again later; 5xx: permanent */
    int status;       /* SMTP reply code of the decisive step, 0 if none */
    char answer[512]; /* the server's reply text or the error, never containing a password */
    double seconds;
};

/* Builds the whole message (headers, blank line, body) into out: Date (UTC,
 * from unix_time), Message-ID, From (cfg->smtp_from), To, Subject (RFC 2047
 * B-encoded when not plain short ASCII), MIME-Version, Auto-Submitted and a
 * multipart/alternative body with a text/plain part and, when m->html is
 * set, a text/html part, both charset=utf-8 and quoted-printable (mostly
 * ASCII) or base64 (mostly not). Lines end in CRLF and none is over 78
 * bytes except To/From/Message-ID, which stay under 998. Appends to out,
 * which stays the caller's and NUL-terminated. Returns 0, OG_ERR_INVALID
 * when an address or the Message-ID holds a control character, space or
 * angle bracket (header injection), or OG_ERR_TOO_BIG past out's cap. */
int smtp_build_message(const struct config *cfg, const struct smtp_message *m, int64_t unix_time,
                       struct buf *out);

/* Sends m to cfg->smtp_host:smtp_port and fills r; never fails otherwise.
 * Blocking (thread pool only). TLS follows cfg->smtp_starttls (required:
 * refuse to send without it; optional: use it when offered; off: never),
 * and whenever TLS is used the server's certificate chain is verified
 * against the system CAs plus cfg->ca_file and its name against
 * cfg->smtp_host. cfg->smtp_user/smtp_pass log in with AUTH PLAIN or
 * LOGIN, only over TLS unless starttls=off and the host is loopback (with
 * optional, credentials make TLS required). Each phase (connect, greeting,
 * each command, the transfer) waits at most cfg->delivery_timeout_ms.
 * Certificate and TLS-policy failures are not retryable: they need an
 * admin, not time. cfg and m stay the caller's and are only read. */
void smtp_send(const struct config *cfg, const struct smtp_message *m, struct smtp_result *r);

#endif
