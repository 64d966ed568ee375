/* The SMS provider template language of SPEC §7: placeholders filled in and
 * escaped for where they stand (JSON string, form body, URL query), the
 * success rule run on a provider's answer, and blanking of the code in
 * answers kept for admins. Pure functions: no curl, no libuv, no I/O. */
#ifndef OTPGATE_SMS_TEMPLATE_H
#define OTPGATE_SMS_TEMPLATE_H

#include "core/buf.h"
#include "core/common.h"

/* Longest placeholder name the scanner looks at; longer {words} are text. */
#define TMPL_NAME_MAX 32

/* The values a template can name. A NULL value expands to nothing. */
struct tmpl_vars {
    const char *to;      /* {to}: E.164, e.g. "+15550100"; {to_digits} is its digits only */
    const char *message; /* {message}: the full SMS text */
    const char *code;    /* {code}: the bare code, for providers that want it apart */
    const char *from;    /* {from}: OTPGATE_SMS_FROM (an addition to SPEC §7's four) */
};

enum tmpl_escape {
    TMPL_RAW,  /* as is */
    TMPL_JSON, /* JSON string contents: quotes, backslashes, control bytes as \u00XX;
                  non-ASCII kept as UTF-8, invalid UTF-8 bytes become \ufffd */
    TMPL_FORM, /* application/x-www-form-urlencoded: space as '+', the rest %XX */
    TMPL_URL,  /* percent-encoding of everything but A-Z a-z 0-9 - . _ ~ */
};

/* Appends tmpl to out with {to}, {to_digits}, {message}, {code} and {from}
 * replaced by the values of v escaped with esc. A placeholder is '{', a name
 * of letters, digits and '_' (not starting with a digit), and '}'; any other
 * brace is plain text, so JSON templates need no escaping. "{{" is a literal
 * '{' and the "}}" that closes it a literal '}' ("{{to}}" gives "{to}");
 * other "}}" (nested JSON objects closing) stay as written. An unknown {name}
 * is OG_ERR_INVALID; out's cap being reached is OG_ERR_TOO_BIG; in both
 * cases out is left as it was. The caller owns out and the strings. */
int tmpl_expand(const char *tmpl, enum tmpl_escape esc, const struct tmpl_vars *v, struct buf *out);

/* Returns 0 when tmpl names only known placeholders, else OG_ERR_INVALID
 * with the first unknown name (without braces, cut to badlen - 1) in bad
 * (may be NULL). For checking settings at start-up. */
int tmpl_check(const char *tmpl, char *bad, size_t badlen);

/* Returns true when the provider's answer counts as accepted: a 2xx status
 * and, when rule is neither NULL nor "", the rule holds on body (len bytes,
 * need not be NUL-terminated):
 *   "/json/pointer=value"  the value at the RFC 6901 pointer, in its string
 *                          form (strings bare, numbers and literals as JSON
 *                          writes them), equals value;
 *   "/json/pointer"        the value exists and is truthy (not null, false,
 *                          0 or "");
 *   "~text"                text occurs in the body.
 * Any other rule, or a body that is not JSON for a pointer rule, is false. */
bool tmpl_success(const char *rule, long status, const char *body, size_t len);

/* Looks pointer (RFC 6901, e.g. "/messages/0/message-id") up in the JSON
 * body and writes the value's string form (as tmpl_success compares it) into
 * out, cut to outlen - 1 bytes. Returns false, with out = "", when the body
 * is not JSON or the value is missing. */
bool tmpl_json_lookup(const char *body, size_t len, const char *pointer, char *out, size_t outlen);

/* Replaces every occurrence of code in s (NUL-terminated, changed in place)
 * with as many '*', so provider answers can be kept and shown without the
 * code. A NULL or empty code changes nothing. */
void tmpl_blank_code(char *s, const char *code);

#endif
