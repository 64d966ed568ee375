/* Unit tests of core/config.c: defaults, the file and environment layers,
 * every validation error, address parsing and proxy matching. Each test
 * writes its files under its own mkdtemp directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
    char dir[64];
    char path[128];
    struct config c;
    char err[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    memcpy(f->dir, "/tmp/otpgate-config-XXXXXX", sizeof "/tmp/otpgate-config-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/config.env", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    config_free(&f->c);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static const char *write_file(struct fixture *f, const char *text)
{
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    return f->path;
}

/* Loads with the file (may be NULL) and a NULL-terminated list of
 * "KEY=value" environment entries. */
static int load(struct fixture *f, const char *file, ...)
{
    char *envp[32];
    size_t n = 0;
    va_list ap;
    va_start(ap, file);
    for (char *e; (e = va_arg(ap, char *)) != NULL;) {
        assert_true(n < 31);
        envp[n++] = e;
    }
    va_end(ap);
    envp[n] = NULL;
    config_free(&f->c);
    f->err[0] = '\0';
    return config_load(&f->c, file, envp, f->err, sizeof f->err);
}

#define LOAD(f, ...) load((f), NULL, __VA_ARGS__, (char *)NULL)

/* Asserts the load failed with an error that starts with "KEY: " and holds
 * the given fragment. */
static void assert_error(struct fixture *f, int rc, const char *key, const char *fragment)
{
    assert_int_equal(rc, OG_ERR_INVALID);
    size_t klen = strlen(key);
    if (strncmp(f->err, key, klen) != 0 || f->err[klen] != ':') {
        print_error("error '%s' does not start with '%s:'\n", f->err, key);
        fail();
    }
    if (fragment && !strstr(f->err, fragment)) {
        print_error("error '%s' lacks '%s'\n", f->err, fragment);
        fail();
    }
    assert_null(strchr(f->err, '\n'));
}

/* ---- defaults ---- */

static void check_defaults(const struct config *c)
{
    assert_string_equal(c->listen, "127.0.0.1:8080");
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_int_equal(c->listen_port, 8080);
    assert_string_equal(c->public_url, "http://127.0.0.1:8080");
    assert_false(c->public_https);
    assert_true(c->public_loopback);
    assert_string_equal(c->data_dir, "./var");
    assert_null(c->smtp_url);
    assert_null(c->smtp_host);
    assert_null(c->smtp_user);
    assert_null(c->smtp_pass);
    assert_string_equal(c->smtp_from, "otpgate@localhost");
    assert_null(c->sms_provider);
    assert_null(c->sms_url);
    assert_null(c->sms_auth);
    assert_null(c->sms_body);
    assert_int_equal(c->dev_mode, CONFIG_DEV_AUTO);
    assert_true(c->dev_enabled);
    assert_int_equal(c->trusted_proxy_count, 0);
    assert_int_equal(c->log_level, OG_LOG_INFO);
    assert_non_null(c->static_dir);
    assert_true(c->static_dir[0] != '\0');
    assert_int_equal(c->max_connections, 10000);
    assert_int_equal(c->request_timeout_ms, 10000);
    assert_int_equal(c->idle_timeout_ms, 60000);
    assert_int_equal(c->shutdown_timeout_ms, 10000);
    assert_int_equal(c->max_header_bytes, 8192);
    assert_int_equal(c->max_body_bytes, 65536);
}

static void test_defaults_null_env(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(config_load(&f->c, NULL, NULL, f->err, sizeof f->err), OG_OK);
    assert_string_equal(f->err, "");
    check_defaults(&f->c);
}

static void test_defaults_empty_env(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load(f, NULL, (char *)NULL), OG_OK);
    check_defaults(&f->c);
#ifdef OTPGATE_DEFAULT_STATIC_DIR
    assert_string_equal(f->c.static_dir, OTPGATE_DEFAULT_STATIC_DIR);
#else
    assert_string_equal(f->c.static_dir, "./static");
#endif
}

static void test_unrelated_env_ignored(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "PATH=/usr/bin", "OTPGATE_BIN=/x/otpgate", "OTPGATE_LISTN=bad",
                          "OTPGATE_SOURCE_DIR=/src", "OTPGATE_NOEQUALS", "HOME=/root"),
                     OG_OK);
    check_defaults(&f->c);
}

static void test_empty_env_value_means_default(void **state)
{
    struct fixture *f = *state;
    const char *file = write_file(f, "OTPGATE_LOG=debug\nOTPGATE_DATA_DIR=/srv/otp\n");
    assert_int_equal(load(f, file, "OTPGATE_LOG=", "OTPGATE_SMTP_URL=", (char *)NULL), OG_OK);
    assert_int_equal(f->c.log_level, OG_LOG_INFO);
    assert_string_equal(f->c.data_dir, "/srv/otp");
    assert_null(f->c.smtp_url);
}

/* ---- the file layer ---- */

static void test_file_parsing(void **state)
{
    struct fixture *f = *state;
    const char *file = write_file(f, "# otpgate settings\n"
                                     "\n"
                                     "   # indented comment\n"
                                     "OTPGATE_LISTEN=0.0.0.0:9000\n"
                                     "  OTPGATE_DATA_DIR  =   /var/lib/otpgate  \n"
                                     "OTPGATE_SMTP_FROM=\"mfa@example.com\"\n"
                                     "OTPGATE_SMS_PROVIDER='webhook'\n"
                                     "OTPGATE_SMS_URL=https://sms.example.com/send?to={to}\n"
                                     "OTPGATE_SMS_BODY={\"to\":\"{to}\",\"text\":\"a=b\"}\n"
                                     "OTPGATE_SMS_AUTH=\"  Bearer x#y  \"\r\n"
                                     "OTPGATE_LOG=warn\r\n"
                                     "OTPGATE_LOG=error\n"
                                     "OTPGATE_STATIC_DIR='it\"s'\n"
                                     "\t\n"
                                     "OTPGATE_DEV=0");
    assert_int_equal(load(f, file, (char *)NULL), OG_OK);
    assert_string_equal(f->c.listen_host, "0.0.0.0");
    assert_int_equal(f->c.listen_port, 9000);
    assert_string_equal(f->c.data_dir, "/var/lib/otpgate");
    assert_string_equal(f->c.smtp_from, "mfa@example.com");
    assert_string_equal(f->c.sms_provider, "webhook");
    assert_string_equal(f->c.sms_url, "https://sms.example.com/send?to={to}");
    /* Split at the first '=' only. */
    assert_string_equal(f->c.sms_body, "{\"to\":\"{to}\",\"text\":\"a=b\"}");
    /* Quotes keep inner spaces, '#' is not a comment inside a value. */
    assert_string_equal(f->c.sms_auth, "  Bearer x#y  ");
    /* A repeated key: the later line wins. */
    assert_int_equal(f->c.log_level, OG_LOG_ERROR);
    /* Only matching quotes are stripped. */
    assert_string_equal(f->c.static_dir, "it\"s");
    assert_int_equal(f->c.dev_mode, CONFIG_DEV_OFF);
    assert_false(f->c.dev_enabled);
    assert_int_equal(f->c.trusted_proxy_count, 0);
}

static void test_file_unmatched_quote_is_kept(void **state)
{
    struct fixture *f = *state;
    const char *file = write_file(f, "OTPGATE_DATA_DIR=\"/data\n");
    assert_int_equal(load(f, file, (char *)NULL), OG_OK);
    assert_string_equal(f->c.data_dir, "\"/data");
}

static void test_file_empty_value_means_default(void **state)
{
    struct fixture *f = *state;
    const char *file = write_file(f, "OTPGATE_LOG=\nOTPGATE_MAX_CONNECTIONS=\"\"\n");
    assert_int_equal(load(f, file, (char *)NULL), OG_OK);
    check_defaults(&f->c);
}

static void test_file_bom(void **state)
{
    struct fixture *f = *state;
    const char *file = write_file(f, "\xEF\xBB\xBFOTPGATE_LOG=debug\n");
    assert_int_equal(load(f, file, (char *)NULL), OG_OK);
    assert_int_equal(f->c.log_level, OG_LOG_DEBUG);
}

static void test_file_line_without_equals(void **state)
{
    struct fixture *f = *state;
    const char *file = write_file(f, "# comment\nOTPGATE_LOG=debug\nOTPGATE_LISTEN 127.0.0.1:80\n");
    assert_int_equal(load(f, file, (char *)NULL), OG_ERR_INVALID);
    char want[256];
    snprintf(want, sizeof want, "%s:3: expected KEY=value", f->path);
    assert_string_equal(f->err, want);
}

static void test_file_empty_key(void **state)
{
    struct fixture *f = *state;
    const char *file = write_file(f, "=value\n");
    assert_int_equal(load(f, file, (char *)NULL), OG_ERR_INVALID);
    assert_non_null(strstr(f->err, ":1: expected KEY=value"));
}

static void test_file_malformed_key_not_echoed(void **state)
{
    struct fixture *f = *state;
    const char *file = write_file(f, "OTPGATE_SMTP_URL smtp://bob:S3cret=Pa55@mail.example.com\n");
    assert_int_equal(load(f, file, (char *)NULL), OG_ERR_INVALID);
    assert_non_null(strstr(f->err, ":1: expected KEY=value"));
    assert_null(strstr(f->err, "S3cret"));
}

static void test_file_unknown_key(void **state)
{
    struct fixture *f = *state;
    const char *file = write_file(f, "OTPGATE_LOG=info\n\nOTPGATE_LISTN=127.0.0.1:80\n");
    assert_int_equal(load(f, file, (char *)NULL), OG_ERR_INVALID);
    char want[256];
    snprintf(want, sizeof want, "%s:3: unknown setting 'OTPGATE_LISTN'", f->path);
    assert_string_equal(f->err, want);

    /* Not only misspelt OTPGATE_ names: any name that is not a setting. */
    file = write_file(f, "PATH=/bin\n");
    assert_int_equal(load(f, file, (char *)NULL), OG_ERR_INVALID);
    assert_non_null(strstr(f->err, ":1: unknown setting 'PATH'"));

    /* Names are case-sensitive, as in the environment. */
    file = write_file(f, "otpgate_log=info\n");
    assert_int_equal(load(f, file, (char *)NULL), OG_ERR_INVALID);
    assert_non_null(strstr(f->err, ":1: unknown setting 'otpgate_log'"));
}

static void test_file_errors_before_env(void **state)
{
    struct fixture *f = *state;
    /* A broken file is refused even when the environment sets that key. */
    const char *file = write_file(f, "OTPGATE_LOGG=debug\n");
    assert_int_equal(load(f, file, "OTPGATE_LOG=info", (char *)NULL), OG_ERR_INVALID);
    assert_non_null(strstr(f->err, "unknown setting"));
}

static void test_file_value_error_names_key(void **state)
{
    struct fixture *f = *state;
    const char *file = write_file(f, "OTPGATE_LOG=loud\n");
    assert_error(f, load(f, file, (char *)NULL), "OTPGATE_LOG",
                 "'loud' is not one of debug, info, warn, error");
}

static void test_file_missing(void **state)
{
    struct fixture *f = *state;
    char path[192];
    snprintf(path, sizeof path, "%s/nope.env", f->dir);
    assert_int_equal(load(f, path, (char *)NULL), OG_ERR_IO);
    assert_non_null(strstr(f->err, "nope.env"));
    assert_non_null(strstr(f->err, "cannot open"));
}

static void test_file_nul_byte(void **state)
{
    struct fixture *f = *state;
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fwrite("OTPGATE_LOG=info\nOTPGATE_LOG=de\0bug\n", 1, 36, fp);
    fclose(fp);
    assert_int_equal(load(f, f->path, (char *)NULL), OG_ERR_INVALID);
    assert_non_null(strstr(f->err, ":2: contains a NUL byte"));
}

static void test_file_too_big(void **state)
{
    struct fixture *f = *state;
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 70000; i++)
        fputs("# padding line\n", fp);
    fclose(fp);
    assert_int_equal(load(f, f->path, (char *)NULL), OG_ERR_INVALID);
    assert_non_null(strstr(f->err, "larger than"));
}

static void test_env_overrides_file(void **state)
{
    struct fixture *f = *state;
    const char *file = write_file(f, "OTPGATE_LOG=debug\n"
                                     "OTPGATE_LISTEN=127.0.0.1:1\n"
                                     "OTPGATE_DATA_DIR=/from/file\n");
    assert_int_equal(load(f, file, "OTPGATE_LOG=warn", "OTPGATE_LISTEN=127.0.0.1:2", (char *)NULL),
                     OG_OK);
    assert_int_equal(f->c.log_level, OG_LOG_WARN);
    assert_int_equal(f->c.listen_port, 2);
    assert_string_equal(f->c.data_dir, "/from/file");
}

static void test_env_is_not_trimmed_or_unquoted(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_DATA_DIR=\" /x \""), OG_OK);
    assert_string_equal(f->c.data_dir, "\" /x \"");
}

/* ---- LISTEN ---- */

static void test_listen_forms(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=[::1]:8443"), OG_OK);
    assert_string_equal(f->c.listen, "[::1]:8443");
    assert_string_equal(f->c.listen_host, "::1");
    assert_int_equal(f->c.listen_port, 8443);

    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=[::]:0"), OG_OK);
    assert_string_equal(f->c.listen_host, "::");
    assert_int_equal(f->c.listen_port, 0);

    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=[2001:DB8:0:0::1]:65535"), OG_OK);
    assert_string_equal(f->c.listen_host, "2001:db8::1");
    assert_int_equal(f->c.listen_port, 65535);

    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=localhost:3000"), OG_OK);
    assert_string_equal(f->c.listen_host, "127.0.0.1");
    assert_int_equal(f->c.listen_port, 3000);

    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=0.0.0.0:8080"), OG_OK);
    assert_string_equal(f->c.listen_host, "0.0.0.0");
}

static void test_listen_errors(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *env, *fragment;
    } cases[] = {
        {"OTPGATE_LISTEN=1.2.3.4",
         "'1.2.3.4' must be host:port, e.g. 127.0.0.1:8080 or [::1]:8080"},
        {"OTPGATE_LISTEN=::1:8080", "must be host:port"},
        {"OTPGATE_LISTEN=[::1]8080", "must be host:port"},
        {"OTPGATE_LISTEN=[::1", "must be host:port"},
        {"OTPGATE_LISTEN=:8080", "must be host:port"},
        {"OTPGATE_LISTEN=1.2.3.4:", "bad port"},
        {"OTPGATE_LISTEN=1.2.3.4:65536", "bad port"},
        {"OTPGATE_LISTEN=1.2.3.4:-1", "bad port"},
        {"OTPGATE_LISTEN=1.2.3.4:+80", "bad port"},
        {"OTPGATE_LISTEN=1.2.3.4:80x", "bad port"},
        {"OTPGATE_LISTEN=example.com:80", "needs a numeric address or localhost"},
        {"OTPGATE_LISTEN=1.2.3:80", "needs a numeric address"},
        {"OTPGATE_LISTEN=256.1.1.1:80", "needs a numeric address"},
        {"OTPGATE_LISTEN=[1.2.3.4]:80", "needs a numeric address"},
        {"OTPGATE_LISTEN=[localhost]:80", "needs a numeric address"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = LOAD(f, (char *)cases[i].env);
        assert_error(f, rc, "OTPGATE_LISTEN", cases[i].fragment);
    }
}

/* ---- PUBLIC_URL ---- */

static void test_public_url_forms(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=https://mfa.example.com/", "OTPGATE_DEV=auto"),
                     OG_OK);
    assert_string_equal(f->c.public_url, "https://mfa.example.com");
    assert_true(f->c.public_https);
    assert_false(f->c.public_loopback);
    assert_false(f->c.dev_enabled);

    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=HTTPS://MFA.Example.COM:8443/Auth/Path//"), OG_OK);
    assert_string_equal(f->c.public_url, "https://mfa.example.com:8443/Auth/Path");
    assert_true(f->c.public_https);

    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=http://localhost:8080/otp/"), OG_OK);
    assert_string_equal(f->c.public_url, "http://localhost:8080/otp");
    assert_true(f->c.public_loopback);
    assert_false(f->c.public_https);

    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=http://127.9.8.7"), OG_OK);
    assert_true(f->c.public_loopback);

    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=http://[::1]:8080"), OG_OK);
    assert_string_equal(f->c.public_url, "http://[::1]:8080");
    assert_true(f->c.public_loopback);

    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=https://[2001:db8::5]"), OG_OK);
    assert_false(f->c.public_loopback);

    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=http://128.0.0.1"), OG_OK);
    assert_false(f->c.public_loopback);

    /* A name that merely starts like localhost is not loopback. */
    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=http://localhost.example.com"), OG_OK);
    assert_false(f->c.public_loopback);

    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=http://otpgate_web:8080"), OG_OK);
    assert_false(f->c.public_loopback);
}

static void test_public_url_errors(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *env, *fragment;
    } cases[] = {
        {"OTPGATE_PUBLIC_URL=mfa.example.com", "is not a URL"},
        {"OTPGATE_PUBLIC_URL=ftp://mfa.example.com", "must start with http:// or https://"},
        {"OTPGATE_PUBLIC_URL=https://mfa.example.com/?a=b", "must not have a ?query or #fragment"},
        {"OTPGATE_PUBLIC_URL=https://mfa.example.com/#x", "must not have a ?query or #fragment"},
        {"OTPGATE_PUBLIC_URL=https://mfa.example.com:0", "bad port"},
        {"OTPGATE_PUBLIC_URL=https://mfa.example.com:99999", "bad port"},
        {"OTPGATE_PUBLIC_URL=https://mfa.example.com:", "bad port"},
        {"OTPGATE_PUBLIC_URL=https://", "bad host"},
        {"OTPGATE_PUBLIC_URL=https://-bad-.example.com", "bad host"},
        {"OTPGATE_PUBLIC_URL=https://a..b", "bad host"},
        {"OTPGATE_PUBLIC_URL=https://1.2.3", "bad host"},
        {"OTPGATE_PUBLIC_URL=https://::1/", "bad"},
        {"OTPGATE_PUBLIC_URL=https://[::g]/", "bad host"},
        {"OTPGATE_PUBLIC_URL=https://mfa example.com", "is not a URL"},
        {"OTPGATE_PUBLIC_URL=https://mfa.example.com/a\nb", "is not a URL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_error(f, LOAD(f, (char *)cases[i].env), "OTPGATE_PUBLIC_URL", cases[i].fragment);

    /* Userinfo is refused without being quoted back. */
    assert_error(f, LOAD(f, "OTPGATE_PUBLIC_URL=https://admin:hunter2@mfa.example.com"),
                 "OTPGATE_PUBLIC_URL", "user:password@");
    assert_null(strstr(f->err, "hunter2"));
}

/* ---- SMTP ---- */

static void test_smtp_url_full(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(
        LOAD(f, "OTPGATE_SMTP_URL=smtp://me%40example.com:p%40ss%3Aw%25rd@mail.example.com:2525"),
        OG_OK);
    assert_string_equal(f->c.smtp_url,
                        "smtp://me%40example.com:p%40ss%3Aw%25rd@mail.example.com:2525");
    assert_string_equal(f->c.smtp_host, "mail.example.com");
    assert_int_equal(f->c.smtp_port, 2525);
    assert_string_equal(f->c.smtp_user, "me@example.com");
    assert_string_equal(f->c.smtp_pass, "p@ss:w%rd");
    assert_int_equal(f->c.smtp_starttls, CONFIG_STARTTLS_REQUIRED);
}

static void test_smtp_url_unescaped_at_in_userinfo(void **state)
{
    struct fixture *f = *state;
    /* The userinfo runs to the last '@'. */
    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://me@example.com:a@b/c?d@mail.example.com"),
                     OG_OK);
    assert_string_equal(f->c.smtp_user, "me@example.com");
    assert_string_equal(f->c.smtp_pass, "a@b/c?d");
    assert_string_equal(f->c.smtp_host, "mail.example.com");
}

static void test_smtp_url_defaults(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://mail.example.com"), OG_OK);
    assert_string_equal(f->c.smtp_host, "mail.example.com");
    assert_null(f->c.smtp_user);
    assert_null(f->c.smtp_pass);
    assert_int_equal(f->c.smtp_starttls, CONFIG_STARTTLS_REQUIRED);
    assert_int_equal(f->c.smtp_port, 587);

    /* Loopback hosts default to optional STARTTLS on port 25. */
    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://localhost"), OG_OK);
    assert_int_equal(f->c.smtp_starttls, CONFIG_STARTTLS_OPTIONAL);
    assert_int_equal(f->c.smtp_port, 25);

    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://127.0.0.1:1025/"), OG_OK);
    assert_int_equal(f->c.smtp_starttls, CONFIG_STARTTLS_OPTIONAL);
    assert_int_equal(f->c.smtp_port, 1025);

    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://[::1]"), OG_OK);
    assert_string_equal(f->c.smtp_host, "::1");
    assert_int_equal(f->c.smtp_starttls, CONFIG_STARTTLS_OPTIONAL);

    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://[2001:db8::25]:465"), OG_OK);
    assert_string_equal(f->c.smtp_host, "2001:db8::25");
    assert_int_equal(f->c.smtp_port, 465);
    assert_int_equal(f->c.smtp_starttls, CONFIG_STARTTLS_REQUIRED);

    /* A user without a password. */
    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://relay@mail.example.com"), OG_OK);
    assert_string_equal(f->c.smtp_user, "relay");
    assert_null(f->c.smtp_pass);
}

static void test_smtp_url_starttls(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://mail.example.com?starttls=off"), OG_OK);
    assert_int_equal(f->c.smtp_starttls, CONFIG_STARTTLS_OFF);
    assert_int_equal(f->c.smtp_port, 25);

    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://mail.example.com/?starttls=optional"), OG_OK);
    assert_int_equal(f->c.smtp_starttls, CONFIG_STARTTLS_OPTIONAL);
    assert_int_equal(f->c.smtp_port, 25);

    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://localhost:2525?starttls=required"), OG_OK);
    assert_int_equal(f->c.smtp_starttls, CONFIG_STARTTLS_REQUIRED);
    assert_int_equal(f->c.smtp_port, 2525);

    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://localhost?starttls=required"), OG_OK);
    assert_int_equal(f->c.smtp_port, 587);

    assert_error(f, LOAD(f, "OTPGATE_SMTP_URL=smtp://mail.example.com?starttls=maybe"),
                 "OTPGATE_SMTP_URL", "starttls 'maybe' is not one of required, optional, off");
    assert_error(f, LOAD(f, "OTPGATE_SMTP_URL=smtp://mail.example.com?tls=on"), "OTPGATE_SMTP_URL",
                 "unknown parameter 'tls=on'");
}

static void test_smtp_url_errors_never_show_password(void **state)
{
    struct fixture *f = *state;
    static const char *const cases[] = {
        "OTPGATE_SMTP_URL=smtps://bob:S3cretPa55@mail.example.com",
        "OTPGATE_SMTP_URL=bob:S3cretPa55@mail.example.com",
        "OTPGATE_SMTP_URL=smtp://bob:S3cretPa55@",
        "OTPGATE_SMTP_URL=smtp://bob:S3cretPa55@bad_host!:25",
        "OTPGATE_SMTP_URL=smtp://bob:S3cretPa55@mail.example.com:99999",
        "OTPGATE_SMTP_URL=smtp://bob:S3cretPa55@mail.example.com:port",
        "OTPGATE_SMTP_URL=smtp://bob:S3cretPa55%zz@mail.example.com",
        "OTPGATE_SMTP_URL=smtp://bob:S3cretPa55%00@mail.example.com",
        "OTPGATE_SMTP_URL=smtp://:S3cretPa55@mail.example.com",
        "OTPGATE_SMTP_URL=smtp://bob:S3cretPa55@mail.example.com/path",
        "OTPGATE_SMTP_URL=smtp://bob:S3cretPa55@mail.example.com?starttls=nope",
        "OTPGATE_SMTP_URL=smtp://bob:S3cretPa55@[::1",
        /* Host forgotten: the password lands where the port would be. */
        "OTPGATE_SMTP_URL=smtp://bob:S3cretPa55",
        "OTPGATE_SMTP_URL=smtp://bob:S3cretPa55/",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = LOAD(f, (char *)cases[i]);
        assert_error(f, rc, "OTPGATE_SMTP_URL", NULL);
        if (strstr(f->err, "S3cretPa55")) {
            print_error("case %zu leaks the password: %s\n", i, f->err);
            fail();
        }
    }
}

static void test_smtp_url_error_messages(void **state)
{
    struct fixture *f = *state;
    assert_error(f, LOAD(f, "OTPGATE_SMTP_URL=http://mail.example.com"), "OTPGATE_SMTP_URL",
                 "must be smtp://[user:pass@]host[:port]");
    assert_error(f, LOAD(f, "OTPGATE_SMTP_URL=smtp://"), "OTPGATE_SMTP_URL", "host is missing");
    assert_error(f, LOAD(f, "OTPGATE_SMTP_URL=smtp://mail.example.com:0"), "OTPGATE_SMTP_URL",
                 "port must be a number from 1 to 65535");
    assert_error(f, LOAD(f, "OTPGATE_SMTP_URL=smtp://bad host"), "OTPGATE_SMTP_URL",
                 "host 'bad host' is not");
    assert_error(f, LOAD(f, "OTPGATE_SMTP_URL=smtp://u:p%4@mail.example.com"), "OTPGATE_SMTP_URL",
                 "bad %-escape");
}

static void test_smtp_from(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_SMTP_FROM=no-reply+mfa@mail.example.com"), OG_OK);
    assert_string_equal(f->c.smtp_from, "no-reply+mfa@mail.example.com");

    static const char *const bad[] = {
        "OTPGATE_SMTP_FROM=otpgate",
        "OTPGATE_SMTP_FROM=@example.com",
        "OTPGATE_SMTP_FROM=otpgate@",
        "OTPGATE_SMTP_FROM=a@b@example.com",
        "OTPGATE_SMTP_FROM=two words@example.com",
        "OTPGATE_SMTP_FROM=OTP Gate <otpgate@example.com>",
        "OTPGATE_SMTP_FROM=otpgate@exa mple.com",
        "OTPGATE_SMTP_FROM=otpgate@example.com\r\nBcc: x@y.z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_error(f, LOAD(f, (char *)bad[i]), "OTPGATE_SMTP_FROM",
                     "is not an email address like otpgate@example.com");
}

/* ---- SMS ---- */

static void test_sms_providers(void **state)
{
    struct fixture *f = *state;
    static const char *const ok[] = {"OTPGATE_SMS_PROVIDER=twilio", "OTPGATE_SMS_PROVIDER=vonage",
                                     "OTPGATE_SMS_PROVIDER=messagebird"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(LOAD(f, (char *)ok[i]), OG_OK);
        assert_string_equal(f->c.sms_provider, strchr(ok[i], '=') + 1);
        assert_null(f->c.sms_url);
    }

    assert_int_equal(LOAD(f, "OTPGATE_SMS_PROVIDER=webhook",
                          "OTPGATE_SMS_URL=http://[::1]:9000/sms?to={to}",
                          "OTPGATE_SMS_AUTH=Bearer abc", "OTPGATE_SMS_BODY={\"m\":\"{message}\"}"),
                     OG_OK);
    assert_string_equal(f->c.sms_url, "http://[::1]:9000/sms?to={to}");
    assert_string_equal(f->c.sms_auth, "Bearer abc");
    assert_string_equal(f->c.sms_body, "{\"m\":\"{message}\"}");

    assert_error(f, LOAD(f, "OTPGATE_SMS_PROVIDER=carrier-pigeon"), "OTPGATE_SMS_PROVIDER",
                 "'carrier-pigeon' is not one of webhook, twilio, vonage, messagebird");
    assert_error(f, LOAD(f, "OTPGATE_SMS_PROVIDER=webhook"), "OTPGATE_SMS_URL",
                 "required when OTPGATE_SMS_PROVIDER is webhook");
}

static void test_sms_settings_without_provider(void **state)
{
    struct fixture *f = *state;
    assert_error(f, LOAD(f, "OTPGATE_SMS_URL=https://sms.example.com"), "OTPGATE_SMS_URL",
                 "OTPGATE_SMS_PROVIDER is not");
    assert_error(f, LOAD(f, "OTPGATE_SMS_AUTH=Bearer x"), "OTPGATE_SMS_AUTH",
                 "OTPGATE_SMS_PROVIDER is not");
    assert_error(f, LOAD(f, "OTPGATE_SMS_BODY={code}"), "OTPGATE_SMS_BODY",
                 "OTPGATE_SMS_PROVIDER is not");
}

static void test_sms_url_and_auth_errors_hide_secrets(void **state)
{
    struct fixture *f = *state;
    static const char *const urls[] = {
        "OTPGATE_SMS_URL=ftp://sms.example.com/?key=T0kenT0ken",
        "OTPGATE_SMS_URL=sms.example.com/?key=T0kenT0ken",
        "OTPGATE_SMS_URL=https://sms.example.com/#T0kenT0ken",
        "OTPGATE_SMS_URL=https://sms.example.com:0/?key=T0kenT0ken",
        "OTPGATE_SMS_URL=https://bad host/?key=T0kenT0ken",
        "OTPGATE_SMS_URL=https://u:T0kenT0ken@/x",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        assert_error(f, LOAD(f, "OTPGATE_SMS_PROVIDER=webhook", (char *)urls[i]), "OTPGATE_SMS_URL",
                     "must be an http:// or https:// URL");
        assert_null(strstr(f->err, "T0kenT0ken"));
    }
    assert_error(f,
                 LOAD(f, "OTPGATE_SMS_PROVIDER=twilio",
                      "OTPGATE_SMS_AUTH=Basic T0kenT0ken\r\nX-Injected: 1"),
                 "OTPGATE_SMS_AUTH", "line breaks");
    assert_null(strstr(f->err, "T0kenT0ken"));
}

/* ---- DEV ---- */

static void test_dev_resolution(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *dev, *url;
        enum config_dev mode;
        bool enabled;
    } cases[] = {
        {"OTPGATE_DEV=auto", "OTPGATE_PUBLIC_URL=http://127.0.0.1:8080", CONFIG_DEV_AUTO, true},
        {"OTPGATE_DEV=AUTO", "OTPGATE_PUBLIC_URL=http://localhost", CONFIG_DEV_AUTO, true},
        {"OTPGATE_DEV=auto", "OTPGATE_PUBLIC_URL=https://mfa.example.com", CONFIG_DEV_AUTO, false},
        {"OTPGATE_DEV=1", "OTPGATE_PUBLIC_URL=http://[::1]:8080", CONFIG_DEV_ON, true},
        {"OTPGATE_DEV=on", "OTPGATE_PUBLIC_URL=http://localhost", CONFIG_DEV_ON, true},
        {"OTPGATE_DEV=true", "OTPGATE_PUBLIC_URL=http://127.0.0.2", CONFIG_DEV_ON, true},
        {"OTPGATE_DEV=0", "OTPGATE_PUBLIC_URL=http://127.0.0.1:8080", CONFIG_DEV_OFF, false},
        {"OTPGATE_DEV=off", "OTPGATE_PUBLIC_URL=https://mfa.example.com", CONFIG_DEV_OFF, false},
        {"OTPGATE_DEV=False", "OTPGATE_PUBLIC_URL=http://localhost", CONFIG_DEV_OFF, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(LOAD(f, (char *)cases[i].dev, (char *)cases[i].url), OG_OK);
        assert_int_equal(f->c.dev_mode, cases[i].mode);
        assert_int_equal(f->c.dev_enabled, cases[i].enabled);
    }
}

static void test_dev_refused_off_loopback(void **state)
{
    struct fixture *f = *state;
    assert_error(f, LOAD(f, "OTPGATE_DEV=1", "OTPGATE_PUBLIC_URL=https://mfa.example.com/"),
                 "OTPGATE_DEV", NULL);
    assert_string_equal(f->err, "OTPGATE_DEV: '1' needs a loopback OTPGATE_PUBLIC_URL, not "
                                "'https://mfa.example.com'");
    assert_error(f, LOAD(f, "OTPGATE_DEV=on", "OTPGATE_PUBLIC_URL=http://10.0.0.1"), "OTPGATE_DEV",
                 "needs a loopback OTPGATE_PUBLIC_URL");
    assert_error(f, LOAD(f, "OTPGATE_DEV=yes"), "OTPGATE_DEV", "'yes' is not one of auto, 1, 0");
}

/* ---- TRUSTED_PROXIES ---- */

static bool trusted4(const struct config *c, const char *ip)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, ip, &a), 1);
    return config_proxy_trusted(c, AF_INET, &a);
}

static bool trusted6(const struct config *c, const char *ip)
{
    struct in6_addr a;
    assert_int_equal(inet_pton(AF_INET6, ip, &a), 1);
    return config_proxy_trusted(c, AF_INET6, &a);
}

static void test_proxies_parse(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(
        LOAD(f, "OTPGATE_TRUSTED_PROXIES= 10.1.2.3/8, 192.168.1.5 ,fd00::1/8  2001:db8::/32,,"),
        OG_OK);
    assert_int_equal(f->c.trusted_proxy_count, 4);
    const struct config_cidr *r = f->c.trusted_proxies;
    assert_int_equal(r[0].family, AF_INET);
    assert_int_equal(r[0].prefix, 8);
    /* Host bits are cleared. */
    static const uint8_t net10[4] = {10, 0, 0, 0};
    assert_memory_equal(r[0].addr, net10, 4);
    assert_int_equal(r[1].family, AF_INET);
    assert_int_equal(r[1].prefix, 32);
    assert_int_equal(r[2].family, AF_INET6);
    assert_int_equal(r[2].prefix, 8);
    assert_int_equal(r[2].addr[0], 0xfd);
    assert_int_equal(r[2].addr[15], 0);
    assert_int_equal(r[3].prefix, 32);
}

static void test_proxies_match_v4(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_TRUSTED_PROXIES=10.0.0.0/8,192.168.1.5,172.16.0.0/12,"
                             "100.64.0.0/10"),
                     OG_OK);
    assert_true(trusted4(&f->c, "10.0.0.1"));
    assert_true(trusted4(&f->c, "10.255.255.255"));
    assert_false(trusted4(&f->c, "11.0.0.1"));
    assert_true(trusted4(&f->c, "192.168.1.5"));
    assert_false(trusted4(&f->c, "192.168.1.6"));
    assert_true(trusted4(&f->c, "172.31.255.1"));
    assert_false(trusted4(&f->c, "172.32.0.1"));
    assert_true(trusted4(&f->c, "100.127.0.1"));
    assert_false(trusted4(&f->c, "100.128.0.1"));
    /* IPv4 peers seen on a dual-stack socket. */
    assert_true(trusted6(&f->c, "::ffff:10.1.2.3"));
    assert_false(trusted6(&f->c, "::ffff:11.1.2.3"));
    /* No IPv6 CIDR, so no IPv6 peer matches. */
    assert_false(trusted6(&f->c, "::1"));

    assert_int_equal(LOAD(f, "OTPGATE_TRUSTED_PROXIES=0.0.0.0/0"), OG_OK);
    assert_true(trusted4(&f->c, "203.0.113.9"));
    assert_false(trusted6(&f->c, "2001:db8::1"));
}

static void test_proxies_match_v6(void **state)
{
    struct fixture *f = *state;
    /* /47 ends inside a byte: abce and abcf match, abcd and abd0 do not. */
    assert_int_equal(LOAD(f, "OTPGATE_TRUSTED_PROXIES=fd00::/8 2001:db8:abce::/47 ::1"), OG_OK);
    assert_true(trusted6(&f->c, "fd12:3456::1"));
    assert_false(trusted6(&f->c, "fe80::1"));
    assert_true(trusted6(&f->c, "2001:db8:abce::1"));
    assert_true(trusted6(&f->c, "2001:db8:abcf:ffff::1"));
    assert_false(trusted6(&f->c, "2001:db8:abcd::1"));
    assert_false(trusted6(&f->c, "2001:db8:abd0::1"));
    assert_false(trusted6(&f->c, "2001:db9:abce::1"));
    assert_true(trusted6(&f->c, "::1"));
    assert_false(trusted6(&f->c, "::2"));
    assert_false(trusted4(&f->c, "127.0.0.1"));

    assert_int_equal(LOAD(f, "OTPGATE_TRUSTED_PROXIES=::/0"), OG_OK);
    assert_true(trusted6(&f->c, "2001:db8::1"));
}

static void test_proxies_none(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_TRUSTED_PROXIES= , "), OG_OK);
    assert_int_equal(f->c.trusted_proxy_count, 0);
    assert_false(trusted4(&f->c, "127.0.0.1"));
    assert_false(config_proxy_trusted(&f->c, AF_UNIX, "x"));
    assert_false(config_proxy_trusted(NULL, AF_INET, "xxxx"));
}

static void test_proxies_errors(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *env, *fragment;
    } cases[] = {
        {"OTPGATE_TRUSTED_PROXIES=10.0.0.0/33", "'10.0.0.0/33' is not a CIDR"},
        {"OTPGATE_TRUSTED_PROXIES=fd00::/129", "'fd00::/129' is not a CIDR"},
        {"OTPGATE_TRUSTED_PROXIES=10.0.0.0/", "is not a CIDR"},
        {"OTPGATE_TRUSTED_PROXIES=10.0.0.0/-1", "is not a CIDR"},
        {"OTPGATE_TRUSTED_PROXIES=10.0.0.0/+8", "is not a CIDR"},
        {"OTPGATE_TRUSTED_PROXIES=10.0.0/8", "is not a CIDR"},
        {"OTPGATE_TRUSTED_PROXIES=proxy.local", "'proxy.local' is not a CIDR"},
        {"OTPGATE_TRUSTED_PROXIES=10.0.0.1;10.0.0.2", "is not a CIDR"},
        {"OTPGATE_TRUSTED_PROXIES=[::1]", "is not a CIDR"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_error(f, LOAD(f, (char *)cases[i].env), "OTPGATE_TRUSTED_PROXIES",
                     cases[i].fragment);

    char many[512];
    size_t n = (size_t)snprintf(many, sizeof many, "OTPGATE_TRUSTED_PROXIES=");
    for (int i = 0; i <= CONFIG_MAX_PROXIES; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "10.0.%d.0/24,", i);
    assert_true(n < sizeof many);
    assert_error(f, LOAD(f, many), "OTPGATE_TRUSTED_PROXIES", "more than 16 CIDRs");

    /* Exactly the maximum is fine. */
    many[n - strlen("10.0.16.0/24,")] = '\0';
    assert_int_equal(LOAD(f, many), OG_OK);
    assert_int_equal(f->c.trusted_proxy_count, CONFIG_MAX_PROXIES);
}

/* ---- LOG ---- */

static void test_log_levels(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *env;
        enum log_level level;
    } cases[] = {{"OTPGATE_LOG=debug", OG_LOG_DEBUG},
                 {"OTPGATE_LOG=info", OG_LOG_INFO},
                 {"OTPGATE_LOG=warn", OG_LOG_WARN},
                 {"OTPGATE_LOG=error", OG_LOG_ERROR}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(LOAD(f, (char *)cases[i].env), OG_OK);
        assert_int_equal(f->c.log_level, cases[i].level);
    }
    assert_error(f, LOAD(f, "OTPGATE_LOG=loud"), "OTPGATE_LOG", NULL);
    assert_string_equal(f->err, "OTPGATE_LOG: 'loud' is not one of debug, info, warn, error");
}

/* ---- limits ---- */

static void test_timeouts_to_ms(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_REQUEST_TIMEOUT=0.5", "OTPGATE_IDLE_TIMEOUT=3600",
                          "OTPGATE_SHUTDOWN_TIMEOUT=0.05"),
                     OG_OK);
    assert_int_equal(f->c.request_timeout_ms, 500);
    assert_int_equal(f->c.idle_timeout_ms, 3600000);
    assert_int_equal(f->c.shutdown_timeout_ms, 50);

    assert_int_equal(LOAD(f, "OTPGATE_REQUEST_TIMEOUT=1.25", "OTPGATE_IDLE_TIMEOUT=2.125",
                          "OTPGATE_SHUTDOWN_TIMEOUT=30"),
                     OG_OK);
    assert_int_equal(f->c.request_timeout_ms, 1250);
    assert_int_equal(f->c.idle_timeout_ms, 2125);
    assert_int_equal(f->c.shutdown_timeout_ms, 30000);

    static const char *const bad[] = {
        "0",  "0.01", "3600.001", "3601", "1.2345", ".5", "5.",
        "-1", "+1",   "1e3",      "abc",  " 1",     "1 ", "99999999999999999999"};
    static const char *const names[] = {"OTPGATE_REQUEST_TIMEOUT", "OTPGATE_IDLE_TIMEOUT",
                                        "OTPGATE_SHUTDOWN_TIMEOUT"};
    for (size_t n = 0; n < 3; n++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            char env[128];
            snprintf(env, sizeof env, "%s=%s", names[n], bad[i]);
            assert_error(f, LOAD(f, env), names[n], "must be seconds from 0.05 to 3600");
        }
    }
}

static void test_integer_limits(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_MAX_CONNECTIONS=1", "OTPGATE_MAX_HEADER_BYTES=1024",
                          "OTPGATE_MAX_BODY_BYTES=16777216"),
                     OG_OK);
    assert_int_equal(f->c.max_connections, 1);
    assert_int_equal(f->c.max_header_bytes, 1024);
    assert_int_equal(f->c.max_body_bytes, 16777216);

    assert_int_equal(LOAD(f, "OTPGATE_MAX_CONNECTIONS=1000000", "OTPGATE_MAX_HEADER_BYTES=1048576",
                          "OTPGATE_MAX_BODY_BYTES=1024"),
                     OG_OK);
    assert_int_equal(f->c.max_connections, 1000000);
    assert_int_equal(f->c.max_header_bytes, 1048576);
    assert_int_equal(f->c.max_body_bytes, 1024);

    static const struct {
        const char *env, *key, *fragment;
    } cases[] = {
        {"OTPGATE_MAX_CONNECTIONS=0", "OTPGATE_MAX_CONNECTIONS",
         "'0' must be a whole number from 1 to 1000000"},
        {"OTPGATE_MAX_CONNECTIONS=1000001", "OTPGATE_MAX_CONNECTIONS", "from 1 to 1000000"},
        {"OTPGATE_MAX_CONNECTIONS=10k", "OTPGATE_MAX_CONNECTIONS", "from 1 to 1000000"},
        {"OTPGATE_MAX_CONNECTIONS=-5", "OTPGATE_MAX_CONNECTIONS", "from 1 to 1000000"},
        {"OTPGATE_MAX_HEADER_BYTES=1023", "OTPGATE_MAX_HEADER_BYTES", "from 1024 to 1048576"},
        {"OTPGATE_MAX_HEADER_BYTES=1048577", "OTPGATE_MAX_HEADER_BYTES", "from 1024 to 1048576"},
        {"OTPGATE_MAX_BODY_BYTES=1023", "OTPGATE_MAX_BODY_BYTES", "from 1024 to 16777216"},
        {"OTPGATE_MAX_BODY_BYTES=16777217", "OTPGATE_MAX_BODY_BYTES", "from 1024 to 16777216"},
        {"OTPGATE_MAX_BODY_BYTES=1.5", "OTPGATE_MAX_BODY_BYTES", "from 1024 to 16777216"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_error(f, LOAD(f, (char *)cases[i].env), cases[i].key, cases[i].fragment);
}

static void test_dirs(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_DATA_DIR=/srv/otpgate", "OTPGATE_STATIC_DIR=/usr/share/x"),
                     OG_OK);
    assert_string_equal(f->c.data_dir, "/srv/otpgate");
    assert_string_equal(f->c.static_dir, "/usr/share/x");
}

/* ---- errors, freeing, help ---- */

static void test_error_echo_is_one_bounded_line(void **state)
{
    struct fixture *f = *state;
    char env[600] = "OTPGATE_LOG=";
    size_t n = strlen(env);
    memset(env + n, 'x', 500);
    env[n + 500] = '\0';
    assert_error(f, LOAD(f, env), "OTPGATE_LOG", "...'");
    assert_true(strlen(f->err) < 200);

    assert_error(f, LOAD(f, "OTPGATE_LOG=lo\nud"), "OTPGATE_LOG", "'lo?ud'");
}

static void test_small_or_null_error_buffer(void **state)
{
    struct fixture *f = *state;
    char *envp[] = {"OTPGATE_LOG=loud", NULL};
    char small[8];
    memset(small, 'z', sizeof small);
    assert_int_equal(config_load(&f->c, NULL, envp, small, sizeof small), OG_ERR_INVALID);
    assert_string_equal(small, "OTPGATE");
    config_free(&f->c);
    assert_int_equal(config_load(&f->c, NULL, envp, NULL, 0), OG_ERR_INVALID);
}

static void test_free_twice(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://u:p@mail.example.com",
                          "OTPGATE_SMS_PROVIDER=webhook", "OTPGATE_SMS_URL=https://s.example.com",
                          "OTPGATE_SMS_AUTH=a", "OTPGATE_SMS_BODY=b"),
                     OG_OK);
    config_free(&f->c);
    assert_null(f->c.listen);
    assert_null(f->c.smtp_pass);
    assert_null(f->c.sms_body);
    config_free(&f->c);
    config_free(NULL);
}

static void test_free_after_failure(void **state)
{
    struct fixture *f = *state;
    /* Fails late (at the limits), after every string has been set. */
    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://u:p@mail.example.com",
                          "OTPGATE_SMS_PROVIDER=webhook", "OTPGATE_SMS_URL=https://s.example.com",
                          "OTPGATE_MAX_BODY_BYTES=1"),
                     OG_ERR_INVALID);
    config_free(&f->c);
    config_free(&f->c);
}

static void test_help_text(void **state)
{
    (void)state;
    static const char *const names[] = {
        "OTPGATE_LISTEN",           "OTPGATE_PUBLIC_URL",
        "OTPGATE_DATA_DIR",         "OTPGATE_SMTP_URL",
        "OTPGATE_SMTP_FROM",        "OTPGATE_SMS_PROVIDER",
        "OTPGATE_SMS_URL",          "OTPGATE_SMS_AUTH",
        "OTPGATE_SMS_BODY",         "OTPGATE_DEV",
        "OTPGATE_TRUSTED_PROXIES",  "OTPGATE_LOG",
        "OTPGATE_STATIC_DIR",       "OTPGATE_MAX_CONNECTIONS",
        "OTPGATE_REQUEST_TIMEOUT",  "OTPGATE_IDLE_TIMEOUT",
        "OTPGATE_SHUTDOWN_TIMEOUT", "OTPGATE_MAX_HEADER_BYTES",
        "OTPGATE_MAX_BODY_BYTES",
    };
    const char *help = config_help_text();
    assert_non_null(help);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s ", names[i]);
        if (!strstr(help, want)) {
            print_error("help lacks %s\n", names[i]);
            fail();
        }
    }
    static const char *const defaults[] = {"127.0.0.1:8080", "http://127.0.0.1:8080",
                                           "./var",          "otpgate@localhost",
                                           "auto",           "10000",
                                           "8192",           "65536"};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        assert_non_null(strstr(help, defaults[i]));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_defaults_null_env),
        T(test_defaults_empty_env),
        T(test_unrelated_env_ignored),
        T(test_empty_env_value_means_default),
        T(test_file_parsing),
        T(test_file_unmatched_quote_is_kept),
        T(test_file_empty_value_means_default),
        T(test_file_bom),
        T(test_file_line_without_equals),
        T(test_file_empty_key),
        T(test_file_malformed_key_not_echoed),
        T(test_file_unknown_key),
        T(test_file_errors_before_env),
        T(test_file_value_error_names_key),
        T(test_file_missing),
        T(test_file_nul_byte),
        T(test_file_too_big),
        T(test_env_overrides_file),
        T(test_env_is_not_trimmed_or_unquoted),
        T(test_listen_forms),
        T(test_listen_errors),
        T(test_public_url_forms),
        T(test_public_url_errors),
        T(test_smtp_url_full),
        T(test_smtp_url_unescaped_at_in_userinfo),
        T(test_smtp_url_defaults),
        T(test_smtp_url_starttls),
        T(test_smtp_url_errors_never_show_password),
        T(test_smtp_url_error_messages),
        T(test_smtp_from),
        T(test_sms_providers),
        T(test_sms_settings_without_provider),
        T(test_sms_url_and_auth_errors_hide_secrets),
        T(test_dev_resolution),
        T(test_dev_refused_off_loopback),
        T(test_proxies_parse),
        T(test_proxies_match_v4),
        T(test_proxies_match_v6),
        T(test_proxies_none),
        T(test_proxies_errors),
        T(test_log_levels),
        T(test_timeouts_to_ms),
        T(test_integer_limits),
        T(test_dirs),
        T(test_error_echo_is_one_bounded_line),
        T(test_small_or_null_error_buffer),
        T(test_free_twice),
        T(test_free_after_failure),
        T(test_help_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
