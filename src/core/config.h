/* otpgate's settings (SPEC §3): read from a KEY=value file and the
 * environment (environment wins), checked, and turned into typed values.
 * An invalid value is refused with one line naming the key and what is
 * allowed. Knows nothing of sockets: addresses are parsed, not bound. */
#ifndef OTPGATE_CONFIG_H
#define OTPGATE_CONFIG_H

#include "core/common.h"
#include "core/log.h"
#include "core/webauthn.h"

#include <netinet/in.h>
#include <sys/socket.h>

enum config_dev { CONFIG_DEV_AUTO = 0, CONFIG_DEV_ON, CONFIG_DEV_OFF };
enum config_starttls {
    CONFIG_STARTTLS_REQUIRED = 0,
    CONFIG_STARTTLS_OPTIONAL,
    CONFIG_STARTTLS_OFF
};

/* CIDRs in one list setting (OTPGATE_TRUSTED_PROXIES, OTPGATE_METRICS_ALLOW). */
#define CONFIG_MAX_CIDRS   16
#define CONFIG_MAX_PROXIES CONFIG_MAX_CIDRS

/* One CIDR of OTPGATE_TRUSTED_PROXIES or OTPGATE_METRICS_ALLOW. */
struct config_cidr {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network address, first 4 bytes for IPv4 */
    unsigned prefix;  /* 0..32 or 0..128 */
};

struct config {
    /* OTPGATE_LISTEN: "host:port", "[v6]:port" */
    char *listen;
    char listen_host[64]; /* numeric address, without brackets */
    int listen_port;      /* 0..65535; 0 picks a free port */
    bool listen_loopback; /* 127.0.0.0/8 or ::1 (not 0.0.0.0 or ::) */

    /* OTPGATE_PUBLIC_URL: http(s)://host[:port][/path], kept without a trailing slash */
    char *public_url;
    bool public_https;
    bool public_loopback; /* host is localhost, 127.0.0.0/8 or ::1 */

    char *data_dir; /* OTPGATE_DATA_DIR */
    /* OTPGATE_DATABASE_URL: a postgres:// URL, or NULL for SQLite in
     * data_dir. It may hold a password: never log it. */
    char *database_url;

    /* OTPGATE_SMTP_URL, parsed; smtp_url NULL when unset. smtp_url and
     * smtp_pass hold the password: never log them. */
    char *smtp_url;
    char *smtp_host;
    int smtp_port; /* default 25, or 587 when starttls is required */
    char *smtp_user;
    char *smtp_pass;
    enum config_starttls smtp_starttls;
    char *smtp_from; /* OTPGATE_SMTP_FROM */

    char *sms_provider; /* OTPGATE_SMS_PROVIDER: webhook, twilio, ... or NULL */
    char *sms_url;
    char *sms_auth;
    char *sms_body;
    /* Beyond SPEC §3, for SPEC §7's full template (all optional): */
    char *sms_from;         /* OTPGATE_SMS_FROM: sender id or number for presets */
    char *sms_method;       /* OTPGATE_SMS_METHOD: POST (default), PUT or GET */
    char *sms_content_type; /* OTPGATE_SMS_CONTENT_TYPE: json, form or none */
    char *sms_headers;      /* OTPGATE_SMS_HEADERS: "Name: value" lines, '\n' or ';' apart */
    char *sms_success;      /* OTPGATE_SMS_SUCCESS: "/json/pointer=value" or "~substring" */
    /* OTPGATE_SMS2_*: an optional secondary provider, same meanings */
    char *sms2_provider, *sms2_url, *sms2_auth, *sms2_body, *sms2_from;

    unsigned delivery_timeout_ms; /* OTPGATE_DELIVERY_TIMEOUT seconds, default 15 */
    unsigned delivery_retries;    /* OTPGATE_DELIVERY_RETRIES, default 5 (0..50) */
    unsigned
        delivery_backoff_ms;    /* OTPGATE_DELIVERY_BACKOFF seconds of the first retry, default 2 */
    unsigned delivery_lease_ms; /* OTPGATE_DELIVERY_LEASE seconds, default 300 */
    char *ca_file;              /* OTPGATE_CA_FILE: extra CA bundle for SMTP and HTTPS */

    enum config_dev dev_mode; /* OTPGATE_DEV as written */
    bool dev_enabled;         /* resolved: auto means on when public_loopback and listen_loopback */

    struct config_cidr trusted_proxies[CONFIG_MAX_CIDRS];
    size_t trusted_proxy_count;
    /* OTPGATE_METRICS_ALLOW: who may read /metrics (default 127.0.0.0/8, ::1) */
    struct config_cidr metrics_allow[CONFIG_MAX_CIDRS];
    size_t metrics_allow_count;

    /* OTPGATE_WEBAUTHN_RP_ID and the public URL: the passkeys' relying party.
     * webauthn_rp_id "" means passkeys are off here, webauthn_off says why
     * (one line for the log). */
    char webauthn_rp_id[WEBAUTHN_RP_ID_MAX + 1];   /* the setting, else the URL's host */
    char webauthn_origin[WEBAUTHN_ORIGIN_MAX + 1]; /* scheme://host[:port] of the URL */
    char webauthn_off[256];

    enum log_level log_level; /* OTPGATE_LOG */

    /* Beyond SPEC §3: limits of SPEC §10, made settings so tests can shorten them. */
    char *static_dir;                /* OTPGATE_STATIC_DIR */
    unsigned max_connections;        /* OTPGATE_MAX_CONNECTIONS, default 10000 */
    unsigned max_connections_per_ip; /* OTPGATE_MAX_CONNECTIONS_PER_IP, default 256 */
    unsigned request_timeout_ms;     /* OTPGATE_REQUEST_TIMEOUT seconds (default 10) */
    unsigned idle_timeout_ms;        /* OTPGATE_IDLE_TIMEOUT seconds (default 60) */
    unsigned shutdown_timeout_ms;    /* OTPGATE_SHUTDOWN_TIMEOUT seconds (default 10) */
    size_t max_header_bytes;         /* OTPGATE_MAX_HEADER_BYTES, default 8192 */
    size_t max_body_bytes;           /* OTPGATE_MAX_BODY_BYTES, default 65536 */
};

/* c need not be initialised: it is overwritten (not freed) first. Fills c
 * from the defaults, then the file (if not NULL), then envp (an
 * environ-style array; NULL means no environment), where NAME_FILE=path
 * stands for NAME set to that file's content. On failure returns
 * OG_ERR_INVALID (or OG_ERR_IO for an unreadable file) and writes one line
 * into err, e.g. "OTPGATE_LOG: 'loud' is not one of debug, info, warn, error".
 * The caller owns c and frees it with config_free() in every case. */
int config_load(struct config *c, const char *file, char *const *envp, char *err, size_t errlen);
void config_free(struct config *c);
/* What store_open is given: OTPGATE_DATABASE_URL when set, else
 * OTPGATE_DATA_DIR/otpgate.db. OG_ERR_TOO_BIG when it does not fit. */
int config_store_target(const struct config *c, char *out, size_t outlen);

/* True when addr (a struct in_addr or in6_addr by family) lies in one of
 * the count CIDRs of list; an IPv4-mapped IPv6 address also matches the
 * IPv4 CIDRs. */
bool config_cidrs_contain(const struct config_cidr *list, size_t count, int family,
                          const void *addr);
/* True when addr lies in one of the trusted proxy CIDRs. */
bool config_proxy_trusted(const struct config *c, int family, const void *addr);

/* The setting names, defaults and meanings for `serve --help` (static). */
const char *config_help_text(void);

#endif
