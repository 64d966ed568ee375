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
#include <sys/stat.h>
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
    assert_null(c->sms_from);
    assert_null(c->sms_method);
    assert_null(c->sms_content_type);
    assert_null(c->sms_headers);
    assert_null(c->sms_success);
    assert_null(c->sms2_provider);
    assert_null(c->sms2_url);
    assert_null(c->sms2_auth);
    assert_null(c->sms2_body);
    assert_null(c->sms2_from);
    assert_int_equal(c->delivery_timeout_ms, 15000);
    assert_int_equal(c->delivery_retries, 5);
    assert_int_equal(c->delivery_backoff_ms, 2000);
    assert_null(c->ca_file);
    assert_int_equal(c->dev_mode, CONFIG_DEV_AUTO);
    assert_true(c->dev_enabled);
    assert_true(c->listen_loopback);
    assert_int_equal(c->trusted_proxy_count, 0);
    /* /metrics: loopback only. */
    assert_int_equal(c->metrics_allow_count, 2);
    assert_int_equal(c->metrics_allow[0].family, AF_INET);
    assert_int_equal(c->metrics_allow[0].prefix, 8);
    assert_int_equal(c->metrics_allow[0].addr[0], 127);
    assert_int_equal(c->metrics_allow[1].family, AF_INET6);
    assert_int_equal(c->metrics_allow[1].prefix, 128);
    assert_int_equal(c->metrics_allow[1].addr[15], 1);
    assert_int_equal(c->max_connections_per_ip, 256);
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

/* ---- NAME_FILE: settings from secret files ---- */

/* Writes text to dir/name and returns "ENV=that path" in out. */
static const char *secret_env(struct fixture *f, const char *env, const char *name,
                              const char *text, char *out, size_t outlen)
{
    char path[192];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    snprintf(out, outlen, "%s=%s", env, path);
    return out;
}

static void unlink_in(struct fixture *f, const char *name)
{
    char path[192];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    unlink(path);
}

static void test_file_variant_reads_value(void **state)
{
    struct fixture *f = *state;
    char e1[256], e2[256], e3[256];
    /* A secret file as `echo` or an editor writes it: the line end goes. */
    secret_env(f, "OTPGATE_SMTP_URL_FILE", "smtp", "smtp://u:p%40ss@mail.example.com:587\r\n", e1,
               sizeof e1);
    secret_env(f, "OTPGATE_SMS_AUTH_FILE", "auth", "Bearer t0ken\n", e2, sizeof e2);
    /* Any setting, not only secrets; a value keeps its inner spaces. */
    secret_env(f, "OTPGATE_LOG_FILE", "log", "warn", e3, sizeof e3);
    assert_int_equal(LOAD(f, e1, e2, e3, "OTPGATE_SMS_PROVIDER=webhook",
                          "OTPGATE_SMS_URL=https://sms.example.com/send"),
                     OG_OK);
    assert_string_equal(f->c.smtp_host, "mail.example.com");
    assert_string_equal(f->c.smtp_user, "u");
    assert_string_equal(f->c.smtp_pass, "p@ss");
    assert_string_equal(f->c.sms_auth, "Bearer t0ken");
    assert_int_equal(f->c.log_level, OG_LOG_WARN);
    unlink_in(f, "smtp");
    unlink_in(f, "auth");
    unlink_in(f, "log");
}

static void test_file_variant_layers(void **state)
{
    struct fixture *f = *state;
    char e[256];
    /* Part of the environment layer: it wins over --config. */
    secret_env(f, "OTPGATE_DATA_DIR_FILE", "dir", "/from/secret\n", e, sizeof e);
    const char *file = write_file(f, "OTPGATE_DATA_DIR=/from/file\n");
    assert_int_equal(load(f, file, e, (char *)NULL), OG_OK);
    assert_string_equal(f->c.data_dir, "/from/secret");
    /* An empty file, or an empty NAME_FILE, means the default. */
    secret_env(f, "OTPGATE_DATA_DIR_FILE", "dir", "\n", e, sizeof e);
    assert_int_equal(LOAD(f, e), OG_OK);
    assert_string_equal(f->c.data_dir, "./var");
    assert_int_equal(LOAD(f, "OTPGATE_DATA_DIR_FILE="), OG_OK);
    assert_string_equal(f->c.data_dir, "./var");
    /* OTPGATE_CA_FILE is a setting of its own, not CA given by a file. */
    assert_int_equal(LOAD(f, "OTPGATE_CA_FILE="), OG_OK);
    assert_null(f->c.ca_file);
    /* Unknown names stay ignored, as other unknown OTPGATE_ names are. */
    assert_int_equal(LOAD(f, "OTPGATE_NOPE_FILE=/nonexistent"), OG_OK);
    unlink_in(f, "dir");
}

static void test_file_variant_errors(void **state)
{
    struct fixture *f = *state;
    char e[256], path[192];
    secret_env(f, "OTPGATE_SMTP_URL_FILE", "smtp", "smtp://u:hunter2@mail.example.com\n", e,
               sizeof e);
    /* Both forms at once: one would be ignored unseen. */
    assert_error(f, LOAD(f, e, "OTPGATE_SMTP_URL=smtp://mail.example.com"), "OTPGATE_SMTP_URL",
                 "set either OTPGATE_SMTP_URL or OTPGATE_SMTP_URL_FILE, not both");
    /* A bad value is named by its setting, and the secret is not shown. */
    secret_env(f, "OTPGATE_SMTP_URL_FILE", "smtp", "smtp://u:hunter2@mail.example.com:99999\n", e,
               sizeof e);
    assert_error(f, LOAD(f, e), "OTPGATE_SMTP_URL", NULL);
    assert_null(strstr(f->err, "hunter2"));
    /* A missing file names the variable and the path. */
    snprintf(path, sizeof path, "OTPGATE_SMS_AUTH_FILE=%s/missing", f->dir);
    assert_int_equal(LOAD(f, path), OG_ERR_IO);
    assert_non_null(strstr(f->err, "OTPGATE_SMS_AUTH_FILE: "));
    assert_non_null(strstr(f->err, "/missing: cannot open: No such file or directory"));
    /* A NUL inside the value. */
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fwrite("Bearer a\0b\n", 1, 11, fp);
    fclose(fp);
    snprintf(path, sizeof path, "OTPGATE_SMS_AUTH_FILE=%s", f->path);
    assert_error(f, LOAD(f, path), "OTPGATE_SMS_AUTH_FILE", "contains a NUL byte");
    /* A file the process may not read says as whom it tried (a container
     * user other than the file's owner); root reads everything. */
    if (geteuid() != 0) {
        secret_env(f, "OTPGATE_SMS_AUTH_FILE", "auth", "Bearer x\n", e, sizeof e);
        snprintf(path, sizeof path, "%s/auth", f->dir);
        assert_int_equal(chmod(path, 0), 0);
        assert_int_equal(LOAD(f, e), OG_ERR_IO);
        assert_non_null(strstr(f->err, "Permission denied (otpgate runs as uid "));
        unlink_in(f, "auth");
    }
    unlink_in(f, "smtp");
}

/* ---- LISTEN ---- */

static void test_listen_forms(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=[::1]:8443"), OG_OK);
    assert_string_equal(f->c.listen, "[::1]:8443");
    assert_string_equal(f->c.listen_host, "::1");
    assert_int_equal(f->c.listen_port, 8443);
    assert_true(f->c.listen_loopback);

    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=[::]:0"), OG_OK);
    assert_string_equal(f->c.listen_host, "::");
    assert_int_equal(f->c.listen_port, 0);
    assert_false(f->c.listen_loopback);

    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=[2001:DB8:0:0::1]:65535"), OG_OK);
    assert_string_equal(f->c.listen_host, "2001:db8::1");
    assert_int_equal(f->c.listen_port, 65535);
    assert_false(f->c.listen_loopback);

    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=localhost:3000"), OG_OK);
    assert_string_equal(f->c.listen_host, "127.0.0.1");
    assert_int_equal(f->c.listen_port, 3000);
    assert_true(f->c.listen_loopback);

    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=0.0.0.0:8080"), OG_OK);
    assert_string_equal(f->c.listen_host, "0.0.0.0");
    assert_false(f->c.listen_loopback);

    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=127.8.9.10:80"), OG_OK);
    assert_true(f->c.listen_loopback);
    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=[::ffff:127.0.0.1]:80"), OG_OK);
    assert_true(f->c.listen_loopback);
    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=192.168.1.10:80"), OG_OK);
    assert_false(f->c.listen_loopback);
    assert_int_equal(LOAD(f, "OTPGATE_LISTEN=[::ffff:10.0.0.1]:80"), OG_OK);
    assert_false(f->c.listen_loopback);
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
    static const struct {
        const char *provider, *auth, *ctype;
    } ok[] = {
        {"OTPGATE_SMS_PROVIDER=twilio", "OTPGATE_SMS_AUTH=ACxxx:t0ken", "form"},
        {"OTPGATE_SMS_PROVIDER=vonage", "OTPGATE_SMS_AUTH=k3y:s3cret", "form"},
        {"OTPGATE_SMS_PROVIDER=messagebird", "OTPGATE_SMS_AUTH=live_abc", "json"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(
            LOAD(f, (char *)ok[i].provider, (char *)ok[i].auth, "OTPGATE_SMS_FROM=+15550199"),
            OG_OK);
        assert_string_equal(f->c.sms_provider, strchr(ok[i].provider, '=') + 1);
        assert_string_equal(f->c.sms_auth, strchr(ok[i].auth, '=') + 1);
        assert_string_equal(f->c.sms_from, "+15550199");
        assert_string_equal(f->c.sms_method, "POST");
        assert_string_equal(f->c.sms_content_type, ok[i].ctype);
        assert_null(f->c.sms_url);
        assert_null(f->c.sms_body);
    }
    /* A preset's URL is a base address (tests point it at a local server). */
    assert_int_equal(LOAD(f, "OTPGATE_SMS_PROVIDER=twilio", "OTPGATE_SMS_AUTH=ACxxx:t0ken",
                          "OTPGATE_SMS_FROM=Acme", "OTPGATE_SMS_URL=http://127.0.0.1:9999/"),
                     OG_OK);
    assert_string_equal(f->c.sms_url, "http://127.0.0.1:9999/");

    assert_int_equal(LOAD(f, "OTPGATE_SMS_PROVIDER=webhook",
                          "OTPGATE_SMS_URL=http://[::1]:9000/sms?to={to}",
                          "OTPGATE_SMS_AUTH=Bearer abc", "OTPGATE_SMS_BODY={\"m\":\"{message}\"}"),
                     OG_OK);
    assert_string_equal(f->c.sms_url, "http://[::1]:9000/sms?to={to}");
    assert_string_equal(f->c.sms_auth, "Bearer abc");
    assert_string_equal(f->c.sms_body, "{\"m\":\"{message}\"}");
    assert_string_equal(f->c.sms_method, "POST");
    assert_string_equal(f->c.sms_content_type, "json");
    assert_null(f->c.sms_from);

    assert_error(f, LOAD(f, "OTPGATE_SMS_PROVIDER=carrier-pigeon"), "OTPGATE_SMS_PROVIDER",
                 "'carrier-pigeon' is not one of webhook, twilio, vonage, messagebird");
    assert_error(f, LOAD(f, "OTPGATE_SMS_PROVIDER=webhook"), "OTPGATE_SMS_URL",
                 "required when OTPGATE_SMS_PROVIDER is webhook");
}

static void test_sms_presets_need_credentials(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *provider, *auth, *key, *fragment;
    } cases[] = {
        {"OTPGATE_SMS_PROVIDER=twilio", NULL, "OTPGATE_SMS_AUTH",
         "the twilio preset needs ACCOUNT_SID:AUTH_TOKEN"},
        {"OTPGATE_SMS_PROVIDER=twilio", "OTPGATE_SMS_AUTH=S3cr3tOnly", "OTPGATE_SMS_AUTH",
         "ACCOUNT_SID:AUTH_TOKEN"},
        {"OTPGATE_SMS_PROVIDER=twilio", "OTPGATE_SMS_AUTH=S3cr3tSid:", "OTPGATE_SMS_AUTH",
         "ACCOUNT_SID:AUTH_TOKEN"},
        {"OTPGATE_SMS_PROVIDER=twilio", "OTPGATE_SMS_AUTH=:S3cr3tTok", "OTPGATE_SMS_AUTH",
         "ACCOUNT_SID:AUTH_TOKEN"},
        {"OTPGATE_SMS_PROVIDER=vonage", "OTPGATE_SMS_AUTH=S3cr3tKey", "OTPGATE_SMS_AUTH",
         "the vonage preset needs API_KEY:API_SECRET"},
        {"OTPGATE_SMS_PROVIDER=messagebird", NULL, "OTPGATE_SMS_AUTH",
         "the messagebird preset needs the access key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = cases[i].auth ? LOAD(f, (char *)cases[i].provider, (char *)cases[i].auth,
                                      "OTPGATE_SMS_FROM=Acme")
                               : LOAD(f, (char *)cases[i].provider, "OTPGATE_SMS_FROM=Acme");
        assert_error(f, rc, cases[i].key, cases[i].fragment);
        assert_null(strstr(f->err, "S3cr3t"));
    }
    static const char *const presets[] = {"OTPGATE_SMS_PROVIDER=twilio",
                                          "OTPGATE_SMS_PROVIDER=vonage",
                                          "OTPGATE_SMS_PROVIDER=messagebird"};
    for (size_t i = 0; i < 3; i++) {
        assert_error(f, LOAD(f, (char *)presets[i], "OTPGATE_SMS_AUTH=a:b"), "OTPGATE_SMS_FROM",
                     "required by the");
        assert_error(f,
                     LOAD(f, (char *)presets[i], "OTPGATE_SMS_AUTH=a:b", "OTPGATE_SMS_FROM=A\tB"),
                     "OTPGATE_SMS_FROM", "control characters");
    }
}

/* Copies the KEY of "KEY=value" into out. */
static const char *key_of(const char *env, char *out, size_t outlen)
{
    size_t n = strcspn(env, "=");
    assert_true(n < outlen);
    memcpy(out, env, n);
    out[n] = '\0';
    return out;
}

static void test_sms_preset_refuses_template_keys(void **state)
{
    struct fixture *f = *state;
    static const char *const envs[] = {"OTPGATE_SMS_BODY={\"to\":\"{to}\"}",
                                       "OTPGATE_SMS_METHOD=PUT", "OTPGATE_SMS_CONTENT_TYPE=json"};
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        char key[64];
        assert_error(f,
                     LOAD(f, "OTPGATE_SMS_PROVIDER=twilio", "OTPGATE_SMS_AUTH=a:b",
                          "OTPGATE_SMS_FROM=Acme", (char *)envs[i]),
                     key_of(envs[i], key, sizeof key), "only for OTPGATE_SMS_PROVIDER=webhook");
    }
    /* Extra headers and a success rule do apply to presets. */
    assert_int_equal(LOAD(f, "OTPGATE_SMS_PROVIDER=vonage", "OTPGATE_SMS_AUTH=a:b",
                          "OTPGATE_SMS_FROM=Acme", "OTPGATE_SMS_HEADERS=X-Trace: 1",
                          "OTPGATE_SMS_SUCCESS=/messages/0/status=0"),
                     OG_OK);
    assert_string_equal(f->c.sms_headers, "X-Trace: 1");
    assert_string_equal(f->c.sms_success, "/messages/0/status=0");
}

static void test_sms_method_and_content_type(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *method, *ctype, *body;
        const char *want_method, *want_ctype;
    } cases[] = {
        {NULL, NULL, NULL, "POST", "json"},
        {NULL, NULL, "to={to}&text={message}", "POST", "form"},
        {NULL, NULL, "  [\"{to}\"]", "POST", "json"},
        {"put", NULL, "{\"to\":\"{to}\"}", "PUT", "json"},
        {"Get", NULL, NULL, "GET", "none"},
        {"GET", "NONE", NULL, "GET", "none"},
        {"POST", "form", NULL, "POST", "form"},
        {"POST", "Json", "{\"a\":[{\"b\":{\"c\":\"{message}\"}}]}", "POST", "json"},
        {"POST", "form", "{weird but form}", "POST", "form"},
        {"POST", "none", NULL, "POST", "none"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char m[64], t[64], b[256];
        char *envp[8];
        size_t n = 0;
        envp[n++] = "OTPGATE_SMS_PROVIDER=webhook";
        envp[n++] = "OTPGATE_SMS_URL=https://sms.example.com/send";
        if (cases[i].method) {
            snprintf(m, sizeof m, "OTPGATE_SMS_METHOD=%s", cases[i].method);
            envp[n++] = m;
        }
        if (cases[i].ctype) {
            snprintf(t, sizeof t, "OTPGATE_SMS_CONTENT_TYPE=%s", cases[i].ctype);
            envp[n++] = t;
        }
        if (cases[i].body) {
            snprintf(b, sizeof b, "OTPGATE_SMS_BODY=%s", cases[i].body);
            envp[n++] = b;
        }
        envp[n] = NULL;
        config_free(&f->c);
        assert_int_equal(config_load(&f->c, NULL, envp, f->err, sizeof f->err), OG_OK);
        assert_string_equal(f->c.sms_method, cases[i].want_method);
        assert_string_equal(f->c.sms_content_type, cases[i].want_ctype);
    }
    const char *p = "OTPGATE_SMS_PROVIDER=webhook", *u = "OTPGATE_SMS_URL=https://s.example.com";
    assert_error(f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS_METHOD=DELETE"),
                 "OTPGATE_SMS_METHOD", "'DELETE' is not one of POST, PUT, GET");
    assert_error(f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS_CONTENT_TYPE=xml"),
                 "OTPGATE_SMS_CONTENT_TYPE", "'xml' is not one of json, form, none");
    assert_error(
        f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS_METHOD=GET", "OTPGATE_SMS_CONTENT_TYPE=json"),
        "OTPGATE_SMS_CONTENT_TYPE", "a GET request has no body");
    assert_error(f,
                 LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS_METHOD=GET", "OTPGATE_SMS_BODY=x={to}"),
                 "OTPGATE_SMS_BODY", "the request has no body");
    assert_error(
        f,
        LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS_CONTENT_TYPE=none", "OTPGATE_SMS_BODY=x={to}"),
        "OTPGATE_SMS_BODY", "the request has no body");
    static const char *const only[] = {"OTPGATE_SMS_METHOD=POST", "OTPGATE_SMS_CONTENT_TYPE=json",
                                       "OTPGATE_SMS_HEADERS=X-A: 1", "OTPGATE_SMS_SUCCESS=~ok",
                                       "OTPGATE_SMS_FROM=Acme"};
    for (size_t i = 0; i < sizeof only / sizeof only[0]; i++) {
        char key[64];
        assert_error(f, LOAD(f, (char *)only[i]), key_of(only[i], key, sizeof key),
                     "OTPGATE_SMS_PROVIDER is not");
    }
}

static void test_sms_body_checks(void **state)
{
    struct fixture *f = *state;
    const char *p = "OTPGATE_SMS_PROVIDER=webhook", *u = "OTPGATE_SMS_URL=https://s.example.com";
    assert_int_equal(LOAD(f, (char *)p, (char *)u,
                          "OTPGATE_SMS_BODY={\"n\":{to_digits},\"t\":\"{to}\",\"c\":\"{code}\","
                          "\"f\":\"{from}\",\"lit\":\"{{to}}\"}"),
                     OG_OK);
    assert_error(f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS_BODY={\"to\":\"{phone}\"}"),
                 "OTPGATE_SMS_BODY", "unknown placeholder {phone}");
    /* Unquoted {to} is a JSON syntax error once filled in; the body (which
     * may hold a key) is not quoted back. */
    assert_error(
        f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS_BODY={\"key\":\"S3cr3tK3y\",\"to\":{to}}"),
        "OTPGATE_SMS_BODY", "is not a JSON object or array");
    assert_null(strstr(f->err, "S3cr3t"));
    assert_error(f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS_BODY={\"to\":\"{to}\""),
                 "OTPGATE_SMS_BODY", "is not a JSON");
    /* The URL's placeholders are checked too, without quoting it. */
    assert_int_equal(
        LOAD(f, (char *)p, "OTPGATE_SMS_URL=https://s.example.com/{to_digits}?t={to}&m={message}"),
        OG_OK);
    assert_error(f, LOAD(f, (char *)p, "OTPGATE_SMS_URL=https://s.example.com/?k=S3cr3t&t={tel}"),
                 "OTPGATE_SMS_URL", "unknown {placeholder}");
    assert_null(strstr(f->err, "S3cr3t"));
    assert_null(strstr(f->err, "tel"));
}

static void test_sms_headers(void **state)
{
    struct fixture *f = *state;
    const char *p = "OTPGATE_SMS_PROVIDER=webhook", *u = "OTPGATE_SMS_URL=https://s.example.com";
    assert_int_equal(LOAD(f, (char *)p, (char *)u,
                          "OTPGATE_SMS_HEADERS=X-Api-Key: abc def ; X-B:2\n X-C:\t3\r\n;;"
                          "Content-Type: application/vnd.sms+json"),
                     OG_OK);
    assert_string_equal(
        f->c.sms_headers,
        "X-Api-Key: abc def\nX-B: 2\nX-C: 3\nContent-Type: application/vnd.sms+json");
    assert_int_equal(LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS_HEADERS= ; \n"), OG_OK);
    assert_null(f->c.sms_headers);

    static const char *const bad[] = {
        "OTPGATE_SMS_HEADERS=X-Api-Key S3cr3t",
        "OTPGATE_SMS_HEADERS=X Api: S3cr3t",
        "OTPGATE_SMS_HEADERS=X-Api-Key:",
        "OTPGATE_SMS_HEADERS=: S3cr3t",
        "OTPGATE_SMS_HEADERS=X-Api-Key: S3cr3t\rX-Injected: 1",
        "OTPGATE_SMS_HEADERS=X-Api-Key: S3cr3t\x01",
        "OTPGATE_SMS_HEADERS=X-A: 1;X-\xc3\xa9: S3cr3t",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_error(f, LOAD(f, (char *)p, (char *)u, (char *)bad[i]), "OTPGATE_SMS_HEADERS",
                     "is not 'Name: value'");
        assert_null(strstr(f->err, "S3cr3t"));
    }
    assert_error(f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS_HEADERS=X-A: 1; x-b 2"),
                 "OTPGATE_SMS_HEADERS", "entry 2");
    assert_error(f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS_HEADERS=host: evil.example"),
                 "OTPGATE_SMS_HEADERS", "'host' is set by otpgate");
    assert_error(f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS_HEADERS=Content-Length: 5"),
                 "OTPGATE_SMS_HEADERS", "is set by otpgate");
    assert_error(f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS_HEADERS=Authorization: S3cr3t"),
                 "OTPGATE_SMS_HEADERS", "use OTPGATE_SMS_AUTH");
    assert_null(strstr(f->err, "S3cr3t"));

    char many[33 * 8 + 32];
    size_t len = (size_t)snprintf(many, sizeof many, "OTPGATE_SMS_HEADERS=");
    for (int i = 0; i < 33; i++)
        len += (size_t)snprintf(many + len, sizeof many - len, "X%d: 1;", i);
    assert_error(f, LOAD(f, (char *)p, (char *)u, many), "OTPGATE_SMS_HEADERS",
                 "more than 32 headers");
}

static void test_sms_success(void **state)
{
    struct fixture *f = *state;
    const char *p = "OTPGATE_SMS_PROVIDER=webhook", *u = "OTPGATE_SMS_URL=https://s.example.com";
    static const char *const ok[] = {"/messages/0/status=0", "/id", "/a~1b~0c=x=y", "~ACCEPTED",
                                     "/"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char env[128];
        snprintf(env, sizeof env, "OTPGATE_SMS_SUCCESS=%s", ok[i]);
        assert_int_equal(LOAD(f, (char *)p, (char *)u, env), OG_OK);
        assert_string_equal(f->c.sms_success, ok[i]);
    }
    static const char *const bad[] = {"OTPGATE_SMS_SUCCESS=status=0", "OTPGATE_SMS_SUCCESS=~",
                                      "OTPGATE_SMS_SUCCESS=/a~2", "OTPGATE_SMS_SUCCESS=/a~",
                                      "OTPGATE_SMS_SUCCESS=/a=\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_error(f, LOAD(f, (char *)p, (char *)u, (char *)bad[i]), "OTPGATE_SMS_SUCCESS",
                     "must be /json/pointer=value, /json/pointer");
}

static void test_sms_secondary(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_SMS_PROVIDER=webhook",
                          "OTPGATE_SMS_URL=https://a.example.com", "OTPGATE_SMS2_PROVIDER=twilio",
                          "OTPGATE_SMS2_AUTH=ACyyy:t0k", "OTPGATE_SMS2_FROM=+15550142",
                          "OTPGATE_SMS2_URL=http://127.0.0.1:1"),
                     OG_OK);
    assert_string_equal(f->c.sms2_provider, "twilio");
    assert_string_equal(f->c.sms2_auth, "ACyyy:t0k");
    assert_string_equal(f->c.sms2_from, "+15550142");
    assert_string_equal(f->c.sms2_url, "http://127.0.0.1:1");
    assert_null(f->c.sms2_body);

    assert_int_equal(LOAD(f, "OTPGATE_SMS_PROVIDER=messagebird", "OTPGATE_SMS_AUTH=k",
                          "OTPGATE_SMS_FROM=Acme", "OTPGATE_SMS2_PROVIDER=webhook",
                          "OTPGATE_SMS2_URL=https://b.example.com/x",
                          "OTPGATE_SMS2_BODY=to={to}&m={message}"),
                     OG_OK);
    assert_string_equal(f->c.sms2_body, "to={to}&m={message}");

    const char *p = "OTPGATE_SMS_PROVIDER=webhook", *u = "OTPGATE_SMS_URL=https://a.example.com";
    assert_error(f, LOAD(f, "OTPGATE_SMS2_PROVIDER=webhook", "OTPGATE_SMS2_URL=https://b.example"),
                 "OTPGATE_SMS2_PROVIDER", "OTPGATE_SMS_PROVIDER is not");
    assert_error(f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS2_URL=https://b.example.com"),
                 "OTPGATE_SMS2_URL", "set, but OTPGATE_SMS2_PROVIDER is not");
    assert_error(f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS2_PROVIDER=fax"),
                 "OTPGATE_SMS2_PROVIDER", "'fax' is not one of");
    assert_error(f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS2_PROVIDER=webhook"),
                 "OTPGATE_SMS2_URL", "required when OTPGATE_SMS2_PROVIDER is webhook");
    assert_error(f,
                 LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS2_PROVIDER=vonage",
                      "OTPGATE_SMS2_AUTH=S3cr3t", "OTPGATE_SMS2_FROM=Acme"),
                 "OTPGATE_SMS2_AUTH", "API_KEY:API_SECRET");
    assert_null(strstr(f->err, "S3cr3t"));
    assert_error(
        f, LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS2_PROVIDER=vonage", "OTPGATE_SMS2_AUTH=a:b"),
        "OTPGATE_SMS2_FROM", "required by the vonage preset");
    assert_error(f,
                 LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS2_PROVIDER=webhook",
                      "OTPGATE_SMS2_URL=ftp://b.example.com/?k=S3cr3t"),
                 "OTPGATE_SMS2_URL", "must be an http:// or https:// URL");
    assert_null(strstr(f->err, "S3cr3t"));
    assert_error(f,
                 LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS2_PROVIDER=webhook",
                      "OTPGATE_SMS2_URL=https://b.example.com", "OTPGATE_SMS2_AUTH=S3cr3t\nX: 1"),
                 "OTPGATE_SMS2_AUTH", "line breaks");
    assert_null(strstr(f->err, "S3cr3t"));
    assert_error(f,
                 LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS2_PROVIDER=webhook",
                      "OTPGATE_SMS2_URL=https://b.example.com", "OTPGATE_SMS2_BODY={\"t\":{to}}"),
                 "OTPGATE_SMS2_BODY", "is not a JSON");
    assert_error(f,
                 LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS2_PROVIDER=twilio",
                      "OTPGATE_SMS2_AUTH=a:b", "OTPGATE_SMS2_FROM=A", "OTPGATE_SMS2_BODY=x"),
                 "OTPGATE_SMS2_BODY", "only for OTPGATE_SMS2_PROVIDER=webhook");
    assert_error(f,
                 LOAD(f, (char *)p, (char *)u, "OTPGATE_SMS2_PROVIDER=twilio",
                      "OTPGATE_SMS2_AUTH=a:b", "OTPGATE_SMS2_FROM=A",
                      "OTPGATE_SMS2_URL=https://u:S3cr3t@api.example.com"),
                 "OTPGATE_SMS2_URL", "only a base URL");
    assert_null(strstr(f->err, "S3cr3t"));
}

/* ---- delivery ---- */

static void test_delivery_settings(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_DELIVERY_TIMEOUT=0.05", "OTPGATE_DELIVERY_RETRIES=0",
                          "OTPGATE_DELIVERY_BACKOFF=3600"),
                     OG_OK);
    assert_int_equal(f->c.delivery_timeout_ms, 50);
    assert_int_equal(f->c.delivery_retries, 0);
    assert_int_equal(f->c.delivery_backoff_ms, 3600000);
    assert_int_equal(LOAD(f, "OTPGATE_DELIVERY_TIMEOUT=300", "OTPGATE_DELIVERY_RETRIES=50",
                          "OTPGATE_DELIVERY_BACKOFF=0.25"),
                     OG_OK);
    assert_int_equal(f->c.delivery_timeout_ms, 300000);
    assert_int_equal(f->c.delivery_retries, 50);
    assert_int_equal(f->c.delivery_backoff_ms, 250);

    static const struct {
        const char *env, *key, *fragment;
    } cases[] = {
        {"OTPGATE_DELIVERY_TIMEOUT=300.001", "OTPGATE_DELIVERY_TIMEOUT",
         "must be seconds from 0.05 to 300"},
        {"OTPGATE_DELIVERY_TIMEOUT=301", "OTPGATE_DELIVERY_TIMEOUT", "from 0.05 to 300"},
        {"OTPGATE_DELIVERY_TIMEOUT=0.04", "OTPGATE_DELIVERY_TIMEOUT", "from 0.05 to 300"},
        {"OTPGATE_DELIVERY_TIMEOUT=15s", "OTPGATE_DELIVERY_TIMEOUT", "from 0.05 to 300"},
        {"OTPGATE_DELIVERY_RETRIES=51", "OTPGATE_DELIVERY_RETRIES", "from 0 to 50"},
        {"OTPGATE_DELIVERY_RETRIES=-1", "OTPGATE_DELIVERY_RETRIES", "from 0 to 50"},
        {"OTPGATE_DELIVERY_RETRIES=2.5", "OTPGATE_DELIVERY_RETRIES", "from 0 to 50"},
        {"OTPGATE_DELIVERY_BACKOFF=3601", "OTPGATE_DELIVERY_BACKOFF", "from 0.05 to 3600"},
        {"OTPGATE_DELIVERY_BACKOFF=0", "OTPGATE_DELIVERY_BACKOFF", "from 0.05 to 3600"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_error(f, LOAD(f, (char *)cases[i].env), cases[i].key, cases[i].fragment);
}

static void test_ca_file(void **state)
{
    struct fixture *f = *state;
    char env[256];
    snprintf(env, sizeof env, "OTPGATE_CA_FILE=%s", write_file(f, "-----BEGIN CERTIFICATE-----\n"));
    assert_int_equal(LOAD(f, env), OG_OK);
    assert_string_equal(f->c.ca_file, f->path);

    snprintf(env, sizeof env, "OTPGATE_CA_FILE=%s/missing.pem", f->dir);
    assert_error(f, LOAD(f, env), "OTPGATE_CA_FILE", "cannot be read");
    assert_non_null(strstr(f->err, "missing.pem"));
    snprintf(env, sizeof env, "OTPGATE_CA_FILE=%s", f->dir);
    assert_error(f, LOAD(f, env), "OTPGATE_CA_FILE", "is not a file");
}

/* OTPGATE_DATABASE_URL: a postgres:// or postgresql:// URL is kept as it
 * is (store_open reads it); anything else is refused, never silently
 * replaced by SQLite, and its password never echoed. config_store_target
 * names what store_open gets. */
static void test_database_url(void **state)
{
    struct fixture *f = *state;
    char target[256];
    assert_int_equal(LOAD(f, "OTPGATE_DATABASE_URL=postgres://otp:s3cret@db:5432/otpgate"), OG_OK);
    assert_string_equal(f->c.database_url, "postgres://otp:s3cret@db:5432/otpgate");
    assert_int_equal(config_store_target(&f->c, target, sizeof(target)), OG_OK);
    assert_string_equal(target, "postgres://otp:s3cret@db:5432/otpgate");
    assert_int_equal(LOAD(f, "OTPGATE_DATABASE_URL=postgresql://db/otpgate"), OG_OK);
    assert_string_equal(f->c.database_url, "postgresql://db/otpgate");
    assert_error(f, LOAD(f, "OTPGATE_DATABASE_URL=mysql://u:s3cret@db/otpgate"),
                 "OTPGATE_DATABASE_URL", "must be a postgres:// URL");
    assert_null(strstr(f->err, "s3cret"));
    /* Empty means the default: SQLite in the data directory. */
    assert_int_equal(LOAD(f, "OTPGATE_DATABASE_URL="), OG_OK);
    assert_null(f->c.database_url);
    assert_int_equal(config_store_target(&f->c, target, sizeof(target)), OG_OK);
    assert_non_null(strstr(target, "/otpgate.db"));
    assert_int_equal(config_store_target(&f->c, target, 8), OG_ERR_TOO_BIG);
    /* The lease of an outbox claim (PostgreSQL): seconds, 300 by default. */
    assert_int_equal(f->c.delivery_lease_ms, 300000u);
    assert_int_equal(LOAD(f, "OTPGATE_DELIVERY_LEASE=2.5"), OG_OK);
    assert_int_equal(f->c.delivery_lease_ms, 2500u);
    assert_error(f, LOAD(f, "OTPGATE_DELIVERY_LEASE=forever"), "OTPGATE_DELIVERY_LEASE", "seconds");
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
        const char *dev, *url, *listen;
        enum config_dev mode;
        bool enabled;
    } cases[] = {
        {"OTPGATE_DEV=auto", "OTPGATE_PUBLIC_URL=http://127.0.0.1:8080",
         "OTPGATE_LISTEN=127.0.0.1:8080", CONFIG_DEV_AUTO, true},
        {"OTPGATE_DEV=AUTO", "OTPGATE_PUBLIC_URL=http://localhost", "OTPGATE_LISTEN=localhost:80",
         CONFIG_DEV_AUTO, true},
        {"OTPGATE_DEV=auto", "OTPGATE_PUBLIC_URL=http://[::1]:8080", "OTPGATE_LISTEN=[::1]:8080",
         CONFIG_DEV_AUTO, true},
        {"OTPGATE_DEV=auto", "OTPGATE_PUBLIC_URL=https://mfa.example.com",
         "OTPGATE_LISTEN=127.0.0.1:8080", CONFIG_DEV_AUTO, false},
        /* The Docker image: every interface, the default loopback URL. */
        {"OTPGATE_DEV=auto", "OTPGATE_PUBLIC_URL=http://127.0.0.1:8080",
         "OTPGATE_LISTEN=0.0.0.0:8080", CONFIG_DEV_AUTO, false},
        {"OTPGATE_DEV=auto", "OTPGATE_PUBLIC_URL=http://localhost:8080", "OTPGATE_LISTEN=[::]:8080",
         CONFIG_DEV_AUTO, false},
        {"OTPGATE_DEV=auto", "OTPGATE_PUBLIC_URL=http://127.0.0.1:8080",
         "OTPGATE_LISTEN=10.1.2.3:8080", CONFIG_DEV_AUTO, false},
        {"OTPGATE_DEV=1", "OTPGATE_PUBLIC_URL=http://[::1]:8080", "OTPGATE_LISTEN=[::1]:8080",
         CONFIG_DEV_ON, true},
        {"OTPGATE_DEV=on", "OTPGATE_PUBLIC_URL=http://localhost", "OTPGATE_LISTEN=127.0.0.1:1",
         CONFIG_DEV_ON, true},
        {"OTPGATE_DEV=true", "OTPGATE_PUBLIC_URL=http://127.0.0.2", "OTPGATE_LISTEN=127.0.0.2:0",
         CONFIG_DEV_ON, true},
        {"OTPGATE_DEV=0", "OTPGATE_PUBLIC_URL=http://127.0.0.1:8080",
         "OTPGATE_LISTEN=127.0.0.1:8080", CONFIG_DEV_OFF, false},
        {"OTPGATE_DEV=off", "OTPGATE_PUBLIC_URL=https://mfa.example.com",
         "OTPGATE_LISTEN=0.0.0.0:8080", CONFIG_DEV_OFF, false},
        {"OTPGATE_DEV=False", "OTPGATE_PUBLIC_URL=http://localhost", "OTPGATE_LISTEN=[::]:8080",
         CONFIG_DEV_OFF, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(
            LOAD(f, (char *)cases[i].dev, (char *)cases[i].url, (char *)cases[i].listen), OG_OK);
        assert_int_equal(f->c.dev_mode, cases[i].mode);
        if (f->c.dev_enabled != cases[i].enabled) {
            print_error("case %zu: %s %s %s\n", i, cases[i].dev, cases[i].url, cases[i].listen);
            fail();
        }
    }
}

static void test_dev_refused_off_loopback(void **state)
{
    struct fixture *f = *state;
    assert_error(f, LOAD(f, "OTPGATE_DEV=1", "OTPGATE_PUBLIC_URL=https://mfa.example.com/"),
                 "OTPGATE_DEV", NULL);
    assert_string_equal(f->err, "OTPGATE_DEV: '1' shows live codes on /dev/outbox, so "
                                "OTPGATE_PUBLIC_URL must be loopback, not "
                                "'https://mfa.example.com'; use http://127.0.0.1:PORT, or set "
                                "OTPGATE_DEV=0");
    assert_error(f, LOAD(f, "OTPGATE_DEV=on", "OTPGATE_PUBLIC_URL=http://10.0.0.1"), "OTPGATE_DEV",
                 "OTPGATE_PUBLIC_URL must be loopback");
    /* The listen address counts too, whatever the URL says. */
    assert_error(f, LOAD(f, "OTPGATE_DEV=1", "OTPGATE_LISTEN=0.0.0.0:8080"), "OTPGATE_DEV", NULL);
    assert_string_equal(f->err, "OTPGATE_DEV: '1' shows live codes on /dev/outbox, so "
                                "OTPGATE_LISTEN must be loopback, not '0.0.0.0:8080'; listen on "
                                "127.0.0.1 or [::1], or set OTPGATE_DEV=0");
    assert_error(f, LOAD(f, "OTPGATE_DEV=true", "OTPGATE_LISTEN=[::]:0"), "OTPGATE_DEV",
                 "OTPGATE_LISTEN must be loopback, not '[::]:0'");
    assert_error(f,
                 LOAD(f, "OTPGATE_DEV=on", "OTPGATE_LISTEN=192.168.0.2:80",
                      "OTPGATE_PUBLIC_URL=http://127.0.0.1"),
                 "OTPGATE_DEV", "OTPGATE_LISTEN must be loopback");
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

/* ---- METRICS_ALLOW ---- */

static bool metrics4(const struct config *c, const char *ip)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, ip, &a), 1);
    return config_cidrs_contain(c->metrics_allow, c->metrics_allow_count, AF_INET, &a);
}

static bool metrics6(const struct config *c, const char *ip)
{
    struct in6_addr a;
    assert_int_equal(inet_pton(AF_INET6, ip, &a), 1);
    return config_cidrs_contain(c->metrics_allow, c->metrics_allow_count, AF_INET6, &a);
}

static void test_metrics_allow(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "PATH=/bin"), OG_OK);
    assert_true(metrics4(&f->c, "127.0.0.1"));
    assert_true(metrics4(&f->c, "127.200.1.1"));
    assert_true(metrics6(&f->c, "::1"));
    assert_true(metrics6(&f->c, "::ffff:127.0.0.1"));
    assert_false(metrics4(&f->c, "10.0.0.1"));
    assert_false(metrics6(&f->c, "::2"));
    assert_false(metrics6(&f->c, "2001:db8::1"));

    assert_int_equal(LOAD(f, "OTPGATE_METRICS_ALLOW=10.20.0.0/16 fd00::/8"), OG_OK);
    assert_int_equal(f->c.metrics_allow_count, 2);
    assert_true(metrics4(&f->c, "10.20.3.4"));
    assert_false(metrics4(&f->c, "10.21.3.4"));
    assert_true(metrics6(&f->c, "fd12::9"));
    /* The list replaces the default: loopback is no longer in it. */
    assert_false(metrics4(&f->c, "127.0.0.1"));
    assert_false(metrics6(&f->c, "::1"));
    /* The trusted proxies are a list of their own. */
    assert_int_equal(f->c.trusted_proxy_count, 0);

    assert_error(f, LOAD(f, "OTPGATE_METRICS_ALLOW=10.0.0.0/8,prometheus"), "OTPGATE_METRICS_ALLOW",
                 "'prometheus' is not a CIDR");
    assert_error(f, LOAD(f, "OTPGATE_METRICS_ALLOW=::1/200"), "OTPGATE_METRICS_ALLOW",
                 "is not a CIDR");
    char many[512];
    size_t n = (size_t)snprintf(many, sizeof many, "OTPGATE_METRICS_ALLOW=");
    for (int i = 0; i <= CONFIG_MAX_CIDRS; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "10.1.%d.0/24 ", i);
    assert_error(f, LOAD(f, many), "OTPGATE_METRICS_ALLOW", "more than 16 CIDRs");
}

/* ---- WEBAUTHN_RP_ID ---- */

static void test_webauthn_rp(void **state)
{
    struct fixture *f = *state;
    /* The default public URL (http://127.0.0.1) cannot carry passkeys: off,
     * with the reason for the log, and no error. */
    assert_int_equal(LOAD(f, "PATH=/bin"), OG_OK);
    assert_string_equal(f->c.webauthn_rp_id, "");
    assert_string_equal(f->c.webauthn_origin, "");
    assert_non_null(strstr(f->c.webauthn_off, "passkeys are off"));
    assert_non_null(strstr(f->c.webauthn_off, "IP address"));
    /* http other than localhost: off too, saying why. */
    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=http://mfa.example.com"), OG_OK);
    assert_string_equal(f->c.webauthn_rp_id, "");
    assert_non_null(strstr(f->c.webauthn_off, "https"));
    /* https: the host, and the origin as a browser writes it. */
    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=https://MFA.Example.com:443/otp"), OG_OK);
    assert_string_equal(f->c.webauthn_rp_id, "mfa.example.com");
    assert_string_equal(f->c.webauthn_origin, "https://mfa.example.com");
    assert_string_equal(f->c.webauthn_off, "");
    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=http://localhost:8443"), OG_OK);
    assert_string_equal(f->c.webauthn_rp_id, "localhost");
    assert_string_equal(f->c.webauthn_origin, "http://localhost:8443");
    /* The setting: the host or a parent domain of it. */
    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=https://mfa.example.com:8443",
                          "OTPGATE_WEBAUTHN_RP_ID=Example.COM"),
                     OG_OK);
    assert_string_equal(f->c.webauthn_rp_id, "example.com");
    assert_string_equal(f->c.webauthn_origin, "https://mfa.example.com:8443");
    assert_int_equal(LOAD(f, "OTPGATE_PUBLIC_URL=https://mfa.example.com",
                          "OTPGATE_WEBAUTHN_RP_ID=mfa.example.com"),
                     OG_OK);
    assert_string_equal(f->c.webauthn_rp_id, "mfa.example.com");
    /* Empty means the default. */
    assert_int_equal(
        LOAD(f, "OTPGATE_PUBLIC_URL=https://mfa.example.com", "OTPGATE_WEBAUTHN_RP_ID="), OG_OK);
    assert_string_equal(f->c.webauthn_rp_id, "mfa.example.com");
    /* Refused, naming the key: another domain, a child of the host, a
     * suffix that is not a label boundary, an IP address, a port, junk. */
    assert_error(
        f,
        LOAD(f, "OTPGATE_PUBLIC_URL=https://mfa.example.com", "OTPGATE_WEBAUTHN_RP_ID=example.org"),
        "OTPGATE_WEBAUTHN_RP_ID", "parent domain");
    assert_error(f,
                 LOAD(f, "OTPGATE_PUBLIC_URL=https://mfa.example.com",
                      "OTPGATE_WEBAUTHN_RP_ID=a.mfa.example.com"),
                 "OTPGATE_WEBAUTHN_RP_ID", "parent domain");
    assert_error(f,
                 LOAD(f, "OTPGATE_PUBLIC_URL=https://mfa.example.com",
                      "OTPGATE_WEBAUTHN_RP_ID=fa.example.com"),
                 "OTPGATE_WEBAUTHN_RP_ID", "parent domain");
    static const char *const bad[] = {
        "192.0.2.1",           "[::1]",        "example.com:443", "exa mple.com",
        "https://example.com", "example..com", "example.com.",    "ex_ample.com"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "OTPGATE_WEBAUTHN_RP_ID=%s", bad[i]);
        assert_error(f, LOAD(f, "OTPGATE_PUBLIC_URL=https://mfa.example.com", line),
                     "OTPGATE_WEBAUTHN_RP_ID", "not a DNS name");
        /* ... even where passkeys are off anyway. */
        assert_error(f, LOAD(f, line), "OTPGATE_WEBAUTHN_RP_ID", "not a DNS name");
    }
    /* A valid setting beside a URL without passkeys: off, not refused. */
    assert_int_equal(LOAD(f, "OTPGATE_WEBAUTHN_RP_ID=example.com"), OG_OK);
    assert_string_equal(f->c.webauthn_rp_id, "");
    assert_non_null(strstr(f->c.webauthn_off, "passkeys are off"));
}

static void test_max_connections_per_ip(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(LOAD(f, "OTPGATE_MAX_CONNECTIONS_PER_IP=1"), OG_OK);
    assert_int_equal(f->c.max_connections_per_ip, 1);
    assert_int_equal(LOAD(f, "OTPGATE_MAX_CONNECTIONS_PER_IP=1000000"), OG_OK);
    assert_int_equal(f->c.max_connections_per_ip, 1000000);
    assert_error(f, LOAD(f, "OTPGATE_MAX_CONNECTIONS_PER_IP=0"), "OTPGATE_MAX_CONNECTIONS_PER_IP",
                 "'0' must be a whole number from 1 to 1000000");
    assert_error(f, LOAD(f, "OTPGATE_MAX_CONNECTIONS_PER_IP=lots"),
                 "OTPGATE_MAX_CONNECTIONS_PER_IP", "from 1 to 1000000");
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
    assert_int_equal(
        LOAD(f, "OTPGATE_SMTP_URL=smtp://u:p@mail.example.com", "OTPGATE_SMS_PROVIDER=webhook",
             "OTPGATE_SMS_URL=https://s.example.com", "OTPGATE_SMS_AUTH=a", "OTPGATE_SMS_BODY=b",
             "OTPGATE_SMS_FROM=f", "OTPGATE_SMS_HEADERS=X-A: 1", "OTPGATE_SMS_SUCCESS=~ok",
             "OTPGATE_SMS2_PROVIDER=vonage", "OTPGATE_SMS2_AUTH=k:s", "OTPGATE_SMS2_FROM=f",
             "OTPGATE_SMS2_URL=https://v.example.com", "OTPGATE_CA_FILE=/dev/null"),
        OG_ERR_INVALID); /* /dev/null is not a regular file */
    config_free(&f->c);
    assert_int_equal(LOAD(f, "OTPGATE_SMTP_URL=smtp://u:p@mail.example.com",
                          "OTPGATE_SMS_PROVIDER=webhook", "OTPGATE_SMS_URL=https://s.example.com",
                          "OTPGATE_SMS_AUTH=a", "OTPGATE_SMS_BODY=b", "OTPGATE_SMS_FROM=f",
                          "OTPGATE_SMS_HEADERS=X-A: 1", "OTPGATE_SMS_SUCCESS=~ok",
                          "OTPGATE_SMS2_PROVIDER=vonage", "OTPGATE_SMS2_AUTH=k:s",
                          "OTPGATE_SMS2_FROM=f", "OTPGATE_SMS2_URL=https://v.example.com"),
                     OG_OK);
    config_free(&f->c);
    assert_null(f->c.listen);
    assert_null(f->c.smtp_pass);
    assert_null(f->c.sms_body);
    assert_null(f->c.sms2_auth);
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
        "OTPGATE_MAX_BODY_BYTES",   "OTPGATE_SMS_FROM",
        "OTPGATE_SMS_METHOD",       "OTPGATE_SMS_CONTENT_TYPE",
        "OTPGATE_SMS_HEADERS",      "OTPGATE_SMS_SUCCESS",
        "OTPGATE_SMS2_PROVIDER",    "OTPGATE_SMS2_URL",
        "OTPGATE_SMS2_AUTH",        "OTPGATE_SMS2_BODY",
        "OTPGATE_SMS2_FROM",        "OTPGATE_DELIVERY_TIMEOUT",
        "OTPGATE_DELIVERY_RETRIES", "OTPGATE_DELIVERY_BACKOFF",
        "OTPGATE_CA_FILE",          "OTPGATE_DATABASE_URL",
        "OTPGATE_METRICS_ALLOW",    "OTPGATE_MAX_CONNECTIONS_PER_IP",
        "OTPGATE_WEBAUTHN_RP_ID",
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
    static const char *const defaults[] = {"127.0.0.1:8080",
                                           "http://127.0.0.1:8080",
                                           "./var",
                                           "otpgate@localhost",
                                           "auto",
                                           "10000",
                                           "8192",
                                           "65536",
                                           "127.0.0.0/8,::1",
                                           "256"};
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
        T(test_file_variant_reads_value),
        T(test_file_variant_layers),
        T(test_file_variant_errors),
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
        T(test_sms_presets_need_credentials),
        T(test_sms_preset_refuses_template_keys),
        T(test_sms_method_and_content_type),
        T(test_sms_body_checks),
        T(test_sms_headers),
        T(test_sms_success),
        T(test_sms_secondary),
        T(test_delivery_settings),
        T(test_ca_file),
        T(test_database_url),
        T(test_sms_settings_without_provider),
        T(test_sms_url_and_auth_errors_hide_secrets),
        T(test_dev_resolution),
        T(test_dev_refused_off_loopback),
        T(test_proxies_parse),
        T(test_proxies_match_v4),
        T(test_proxies_match_v6),
        T(test_proxies_none),
        T(test_proxies_errors),
        T(test_metrics_allow),
        T(test_webauthn_rp),
        T(test_max_connections_per_ip),
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
