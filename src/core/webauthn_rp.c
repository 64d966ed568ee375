/* The WebAuthn relying party of this installation: its RP ID and the
 * origin browsers write into clientDataJSON, both from the public URL (and
 * OTPGATE_WEBAUTHN_RP_ID), never from a request's Host header. Refuses
 * what no browser would accept: no secure context, an IP address, an RP ID
 * that is not the host or a parent domain of it. Pure string work. */
#include "core/webauthn.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

__attribute__((format(printf, 3, 4))) static void set_why(char *why, size_t whylen, const char *fmt,
                                                          ...)
{
    if (!why || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* A DNS host name in lower case: labels of [a-z0-9-] of 1 to 63 chars. */
static bool dns_name_ok(const char *h)
{
    size_t len = strlen(h), label = 0;
    if (len == 0 || len > WEBAUTHN_RP_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') || ++label > 63)
            return false;
    }
    return label > 0;
}

/* Digits and dots only: what URL parsers read as an IPv4 address. */
static bool looks_ipv4(const char *h)
{
    for (; *h; h++)
        if (!(*h == '.' || (*h >= '0' && *h <= '9')))
            return false;
    return true;
}

static void lower_copy(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    dst[n] = '\0';
}

int webauthn_rp_from_url(const char *public_url, const char *rp_id_setting,
                         char rp_id[WEBAUTHN_RP_ID_MAX + 1], char origin[WEBAUTHN_ORIGIN_MAX + 1],
                         char *why, size_t whylen)
{
    rp_id[0] = origin[0] = '\0';
    const char *u = public_url ? public_url : "";
    bool https;
    if (strncasecmp(u, "https://", 8) == 0) {
        https = true;
        u += 8;
    } else if (strncasecmp(u, "http://", 7) == 0) {
        https = false;
        u += 7;
    } else {
        set_why(why, whylen, "passkeys are off: OTPGATE_PUBLIC_URL is not an http(s) URL");
        return OG_ERR_INVALID;
    }
    size_t alen = strcspn(u, "/?#");
    const char *colon = NULL;
    for (size_t i = 0; i < alen; i++) {
        if (u[i] == '@') {
            set_why(why, whylen, "passkeys are off: OTPGATE_PUBLIC_URL has user information");
            return OG_ERR_INVALID;
        }
        if (u[i] == ':')
            colon = u + i;
    }
    if (alen > 0 && u[0] == '[') {
        set_why(why, whylen,
                "passkeys are off: OTPGATE_PUBLIC_URL names an IP address, which cannot be a "
                "WebAuthn relying-party id; use a host name (https) or http://localhost");
        return OG_ERR_INVALID;
    }
    size_t hlen = colon ? (size_t)(colon - u) : alen;
    long port = 0;
    if (colon) {
        struct span ps = span_make(colon + 1, alen - hlen - 1);
        long long v;
        if (og_parse_int(ps, 1, 65535, &v) != OG_OK) {
            set_why(why, whylen, "passkeys are off: OTPGATE_PUBLIC_URL has a bad port");
            return OG_ERR_INVALID;
        }
        port = (long)v;
    }
    char host[WEBAUTHN_RP_ID_MAX + 1];
    if (hlen == 0 || hlen > WEBAUTHN_RP_ID_MAX) {
        set_why(why, whylen, "passkeys are off: OTPGATE_PUBLIC_URL has no usable host");
        return OG_ERR_INVALID;
    }
    lower_copy(host, u, hlen);
    if (looks_ipv4(host)) {
        set_why(why, whylen,
                "passkeys are off: OTPGATE_PUBLIC_URL names an IP address, which cannot be a "
                "WebAuthn relying-party id; use a host name (https) or http://localhost");
        return OG_ERR_INVALID;
    }
    if (!dns_name_ok(host)) {
        set_why(why, whylen, "passkeys are off: OTPGATE_PUBLIC_URL's host is not a DNS name");
        return OG_ERR_INVALID;
    }
    if (!https && strcmp(host, "localhost") != 0) {
        set_why(why, whylen,
                "passkeys are off: WebAuthn needs a secure context, so OTPGATE_PUBLIC_URL must "
                "be https (or http://localhost for development)");
        return OG_ERR_INVALID;
    }
    bool default_port = port == 0 || port == (https ? 443 : 80);
    if (default_port)
        snprintf(origin, WEBAUTHN_ORIGIN_MAX + 1, "%s://%s", https ? "https" : "http", host);
    else
        snprintf(origin, WEBAUTHN_ORIGIN_MAX + 1, "%s://%s:%ld", https ? "https" : "http", host,
                 port);

    if (!rp_id_setting || !*rp_id_setting) {
        memcpy(rp_id, host, hlen + 1);
        return OG_OK;
    }
    size_t rlen = strlen(rp_id_setting);
    char rp[WEBAUTHN_RP_ID_MAX + 1];
    if (rlen > WEBAUTHN_RP_ID_MAX) {
        set_why(why, whylen, "OTPGATE_WEBAUTHN_RP_ID: not a DNS name");
        origin[0] = '\0';
        return OG_ERR_INVALID;
    }
    lower_copy(rp, rp_id_setting, rlen);
    if (looks_ipv4(rp) || !dns_name_ok(rp)) {
        set_why(why, whylen, "OTPGATE_WEBAUTHN_RP_ID: an RP ID is a DNS name, not an IP address");
        origin[0] = '\0';
        return OG_ERR_INVALID;
    }
    bool suffix =
        rlen < hlen && host[hlen - rlen - 1] == '.' && memcmp(host + hlen - rlen, rp, rlen) == 0;
    if (strcmp(rp, host) != 0 && !suffix) {
        set_why(why, whylen,
                "OTPGATE_WEBAUTHN_RP_ID: must be the public URL's host %s or a parent domain of it",
                host);
        origin[0] = '\0';
        return OG_ERR_INVALID;
    }
    memcpy(rp_id, rp, rlen + 1);
    return OG_OK;
}
