/* Unit tests for smtp_send() in src/gateway/delivery/smtp.c against a real SMTP
 * server: tests/integration/smtp_sink.py (aiosmtpd) run by /usr/bin/python3,
 * with a throwaway CA from tests/integration/certs.py. Each test starts
 * its own sink on its own port. The whole file is skipped when aiosmtpd
 * cannot be imported. smtp_send() blocks, which is fine here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gateway/delivery/smtp.h"
#include "ui/mail_html.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PYTHON     "/usr/bin/python3"
#define CODE       "493817"
#define USER       "alice"
#define PASS       "correct-horse-battery"
#define WRONG_PASS "Tr0ub4dor&3-wrong"

static char source_dir[1024];
static char tmp_dir[256];
static char ca_file[600], server_cert[600], server_key[600], wrong_cert[600], wrong_key[600];
static bool have_aiosmtpd;
static int sink_seq;

struct sink {
    pid_t pid;
    int stdin_fd; /* kept open: the sink exits when it closes */
    int port;
    char out[600];
};

/* Runs argv, waits, returns the exit status (or -1). */
static int run(char *const argv[])
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    const char *src = getenv("OTPGATE_SOURCE_DIR");
    if (src && *src) {
        snprintf(source_dir, sizeof(source_dir), "%s", src);
    } else {
        /* __FILE__ is <root>/tests/unit/gateway/test_smtp_send.c */
        snprintf(source_dir, sizeof(source_dir), "%s", __FILE__);
        char *cut = strstr(source_dir, "/tests/unit/gateway/");
        if (cut)
            *cut = '\0';
    }
    char *check[] = {PYTHON, "-c", "import aiosmtpd.smtp", NULL};
    have_aiosmtpd = access(PYTHON, X_OK) == 0 && run(check) == 0;
    if (!have_aiosmtpd) {
        fprintf(stderr, "test_smtp_send: %s cannot import aiosmtpd; skipping\n", PYTHON);
        return 0;
    }
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/otpgate-smtp-test-XXXXXX");
    if (!mkdtemp(tmp_dir))
        return -1;
    char certs_py[1100];
    snprintf(certs_py, sizeof(certs_py), "%s/tests/integration/certs.py", source_dir);
    char *make[] = {PYTHON, certs_py, tmp_dir, NULL};
    if (run(make) != 0) {
        fprintf(stderr, "test_smtp_send: certs.py failed\n");
        return -1;
    }
    snprintf(ca_file, sizeof(ca_file), "%s/ca.pem", tmp_dir);
    snprintf(server_cert, sizeof(server_cert), "%s/server.pem", tmp_dir);
    snprintf(server_key, sizeof(server_key), "%s/server.key", tmp_dir);
    snprintf(wrong_cert, sizeof(wrong_cert), "%s/wrong.pem", tmp_dir);
    snprintf(wrong_key, sizeof(wrong_key), "%s/wrong.key", tmp_dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (tmp_dir[0]) {
        char *rm[] = {"/bin/rm", "-rf", tmp_dir, NULL};
        run(rm);
    }
    return 0;
}

/* Starts smtp_sink.py with the given extra arguments (NULL-terminated) and
 * reads its port from the first line of its stdout. */
static void sink_start(struct sink *s, const char *const extra[])
{
    if (!have_aiosmtpd)
        skip();
    memset(s, 0, sizeof(*s));
    snprintf(s->out, sizeof(s->out), "%s/sink-%d.jsonl", tmp_dir, ++sink_seq);
    char script[1100];
    snprintf(script, sizeof(script), "%s/tests/integration/smtp_sink.py", source_dir);
    const char *argv[32];
    int n = 0;
    argv[n++] = PYTHON;
    argv[n++] = script;
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--out";
    argv[n++] = s->out;
    argv[n++] = "--exit-on-stdin-eof";
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;

    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    int rc = posix_spawn(&s->pid, PYTHON, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(rc, 0);
    close(in[0]);
    close(out[1]);
    s->stdin_fd = in[1];

    char line[32];
    size_t len = 0;
    while (len < sizeof(line) - 1) {
        struct pollfd pfd = {.fd = out[0], .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, 20000), 1);
        char c;
        ssize_t got = read(out[0], &c, 1);
        assert_int_equal(got, 1);
        if (c == '\n')
            break;
        line[len++] = c;
    }
    line[len] = '\0';
    close(out[0]);
    char *end;
    long port = strtol(line, &end, 10);
    assert_true(end != line && *end == '\0' && port > 0 && port < 65536);
    s->port = (int)port;
}

/* Stops the sink and waits for it, at most 10 s: a sink that does not go
 * fails the test at once instead of holding it until ctest's timeout. */
static void sink_stop(struct sink *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    close(s->stdin_fd);
    pid_t pid = s->pid;
    s->pid = 0;
    for (int waited_ms = 0; waited_ms < 10000; waited_ms += 20) {
        pid_t got = waitpid(pid, NULL, WNOHANG);
        if (got == pid || (got < 0 && errno != EINTR))
            return;
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("smtp_sink.py did not exit within 10 s of SIGTERM");
}

static void sink_set_mode(struct sink *s, const char *mode)
{
    char path[700];
    snprintf(path, sizeof(path), "%s.mode", s->out);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", mode);
    fclose(f);
}

/* The received messages, as a JSON array (the caller decrefs). */
static json_t *sink_messages(const struct sink *s)
{
    json_t *all = json_array();
    FILE *f = fopen(s->out, "r");
    if (!f)
        return all;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        assert_non_null(j);
        json_array_append_new(all, j);
    }
    free(line);
    fclose(f);
    return all;
}

static json_t *sink_only_message(const struct sink *s)
{
    json_t *all = sink_messages(s);
    assert_int_equal(json_array_size(all), 1);
    json_t *m = json_incref(json_array_get(all, 0));
    json_decref(all);
    return m;
}

static void cfg_init(struct config *c, int port, enum config_starttls tls)
{
    memset(c, 0, sizeof(*c));
    c->smtp_url = (char *)"smtp://test";
    c->smtp_host = (char *)"127.0.0.1";
    c->smtp_port = port;
    c->smtp_starttls = tls;
    c->smtp_from = (char *)"otpgate@example.com";
    c->delivery_timeout_ms = 5000;
}

static struct buf html;

static struct smtp_message msg(void)
{
    buf_free(&html);
    buf_init(&html, 1 << 16);
    ui_mail_html(&html, "en", "Acme", CODE, 5, "login");
    struct smtp_message m = {
        .to = "user@example.org",
        .subject = "Your Acme code: " CODE,
        .text = "Your Acme verification code is:\n\n    " CODE "\n",
        .html = html.data,
        .message_id = "outbox-1.abc@mfa.example.com",
    };
    return m;
}

static bool field_true(json_t *o, const char *key)
{
    return json_is_true(json_object_get(o, key));
}

static const char *json_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int count_header(const char *data, const char *name)
{
    int n = 0;
    size_t len = strlen(name);
    const char *end = strstr(data, "\r\n\r\n");
    for (const char *p = data; p && (!end || p < end);) {
        if (strncasecmp(p, name, len) == 0)
            n++;
        p = strstr(p, "\r\n");
        if (p)
            p += 2;
    }
    return n;
}

static void assert_delivered(const struct smtp_result *r)
{
    if (!r->ok)
        fprintf(stderr, "answer: %s\n", r->answer);
    assert_true(r->ok);
    assert_false(r->retryable);
    assert_int_equal(r->status, 250);
    assert_non_null(strstr(r->answer, "250"));
}

/* ------------------------------------------------------------------ */

static void test_plain_loopback_delivers(void **state)
{
    (void)state;
    struct sink s;
    sink_start(&s, NULL);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_OFF);
    c.public_url = (char *)"https://mfa.example.com";
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_delivered(&r);
    assert_true(r.seconds >= 0 && r.seconds < 5);
    json_t *got = sink_only_message(&s);
    assert_false(field_true(got, "tls"));
    assert_string_equal(json_str(got, "mail_from"), "otpgate@example.com");
    assert_string_equal(json_string_value(json_array_get(json_object_get(got, "rcpt_tos"), 0)),
                        "user@example.org");
    const char *data = json_str(got, "data");
    assert_non_null(strstr(data, CODE));
    assert_non_null(strstr(data, "Message-ID: <outbox-1.abc@mfa.example.com>\r\n"));
    /* libESMTP passed our headers through and added none of its own. */
    assert_int_equal(count_header(data, "Message-ID:"), 1);
    assert_int_equal(count_header(data, "Date:"), 1);
    assert_int_equal(count_header(data, "From:"), 1);
    assert_int_equal(count_header(data, "To:"), 1);
    assert_true(json_is_null(json_object_get(got, "auth_user")));
    /* EHLO names the public host. */
    assert_string_equal(json_str(got, "ehlo"), "mfa.example.com");
    json_decref(got);
}

static void test_starttls_required_with_ca_delivers(void **state)
{
    (void)state;
    struct sink s;
    const char *args[] = {"--tls-cert", server_cert,          "--tls-key",
                          server_key,   "--require-starttls", NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_REQUIRED);
    c.ca_file = ca_file;
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_delivered(&r);
    json_t *got = sink_only_message(&s);
    assert_true(field_true(got, "tls"));
    assert_string_equal(json_str(got, "tls_version"), "TLSv1.3");
    assert_non_null(strstr(json_str(got, "data"), CODE));
    /* An IP address is never sent as SNI (RFC 6066). */
    assert_true(json_is_null(json_object_get(got, "sni")));
    json_decref(got);
}

/* TLS 1.3 servers send session tickets after the handshake, which libESMTP
 * 1.1 trips over (see tls13_settle in smtp.c): many sends in a row must all
 * go through, and a TLS 1.2 server must work too. */
static void test_starttls_repeated_and_tls12(void **state)
{
    (void)state;
    struct sink s;
    const char *args[] = {"--tls-cert", server_cert, "--tls-key", server_key, NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_REQUIRED);
    c.ca_file = ca_file;
    struct smtp_message m = msg();
    struct smtp_result r;
    for (int i = 0; i < 20; i++) {
        smtp_send(&c, &m, &r);
        assert_delivered(&r);
    }
    sink_stop(&s);
    json_t *all = sink_messages(&s);
    assert_int_equal(json_array_size(all), 20);
    json_decref(all);

    const char *args12[] = {"--tls-cert", server_cert, "--tls-key", server_key,
                            "--tls-max",  "1.2",       NULL};
    sink_start(&s, args12);
    cfg_init(&c, s.port, CONFIG_STARTTLS_REQUIRED);
    c.ca_file = ca_file;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_delivered(&r);
    json_t *got = sink_only_message(&s);
    assert_string_equal(json_str(got, "tls_version"), "TLSv1.2");
    json_decref(got);
}

static void test_starttls_by_name_sends_sni(void **state)
{
    (void)state;
    struct sink s;
    const char *args[] = {"--tls-cert", server_cert, "--tls-key", server_key, NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_REQUIRED);
    c.smtp_host = (char *)"localhost";
    c.ca_file = ca_file;
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_delivered(&r);
    json_t *got = sink_only_message(&s);
    assert_true(field_true(got, "tls"));
    assert_string_equal(json_str(got, "sni"), "localhost");
    json_decref(got);
}

/* Decision: a certificate the CAs do not vouch for is not retryable. It is
 * a configuration fault (a missing OTPGATE_CA_FILE, a wrong host) or an
 * attack; waiting does not fix either, and the answer tells the admin. */
static void test_starttls_without_ca_refused(void **state)
{
    (void)state;
    struct sink s;
    const char *args[] = {"--tls-cert", server_cert,          "--tls-key",
                          server_key,   "--require-starttls", NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_REQUIRED);
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_false(r.ok);
    assert_false(r.retryable);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.answer, "certificate"));
    json_t *all = sink_messages(&s);
    assert_int_equal(json_array_size(all), 0);
    json_decref(all);
}

static void test_starttls_wrong_name_refused(void **state)
{
    (void)state;
    struct sink s;
    const char *args[] = {"--tls-cert", wrong_cert, "--tls-key", wrong_key, NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_REQUIRED);
    c.ca_file = ca_file;
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    assert_false(r.ok);
    assert_false(r.retryable);
    assert_non_null(strstr(r.answer, "mismatch"));
    /* By name as well as by address. */
    c.smtp_host = (char *)"localhost";
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_false(r.ok);
    assert_false(r.retryable);
    assert_non_null(strstr(r.answer, "mismatch"));
    json_t *all = sink_messages(&s);
    assert_int_equal(json_array_size(all), 0);
    json_decref(all);
}

static void test_starttls_required_not_offered(void **state)
{
    (void)state;
    struct sink s;
    sink_start(&s, NULL);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_REQUIRED);
    c.ca_file = ca_file;
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_false(r.ok);
    assert_false(r.retryable);
    assert_non_null(strstr(r.answer, "STARTTLS"));
    json_t *all = sink_messages(&s);
    assert_int_equal(json_array_size(all), 0);
    json_decref(all);
}

static void test_starttls_optional(void **state)
{
    (void)state;
    struct sink s;
    const char *args[] = {"--tls-cert", server_cert, "--tls-key", server_key, NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_OPTIONAL);
    c.ca_file = ca_file;
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_delivered(&r);
    json_t *got = sink_only_message(&s);
    assert_true(field_true(got, "tls"));
    json_decref(got);

    /* Not offered: sent without. */
    sink_start(&s, NULL);
    cfg_init(&c, s.port, CONFIG_STARTTLS_OPTIONAL);
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_delivered(&r);
    got = sink_only_message(&s);
    assert_false(field_true(got, "tls"));
    json_decref(got);
}

static void auth_delivers(const char *mechanisms)
{
    struct sink s;
    const char *args[] = {"--tls-cert",         server_cert, "--tls-key",   server_key,
                          "--require-starttls", "--auth",    USER ":" PASS, "--auth-mechanisms",
                          mechanisms,           NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_REQUIRED);
    c.ca_file = ca_file;
    c.smtp_user = (char *)USER;
    c.smtp_pass = (char *)PASS;
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_delivered(&r);
    assert_null(strstr(r.answer, PASS));
    json_t *got = sink_only_message(&s);
    assert_true(field_true(got, "tls"));
    assert_string_equal(json_str(got, "auth_user"), USER);
    json_decref(got);
}

static void test_auth_plain_delivers(void **state)
{
    (void)state;
    auth_delivers("PLAIN");
}

static void test_auth_login_delivers(void **state)
{
    (void)state;
    auth_delivers("LOGIN");
}

/* With starttls=optional, credentials make TLS required. */
static void test_auth_optional_uses_tls(void **state)
{
    (void)state;
    struct sink s;
    const char *args[] = {"--auth", USER ":" PASS, NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_OPTIONAL);
    c.smtp_user = (char *)USER;
    c.smtp_pass = (char *)PASS;
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_false(r.ok);
    assert_false(r.retryable);
    assert_non_null(strstr(r.answer, "STARTTLS"));
    assert_null(strstr(r.answer, PASS));
}

static void test_auth_wrong_password(void **state)
{
    (void)state;
    struct sink s;
    const char *args[] = {"--tls-cert", server_cert,   "--tls-key", server_key,
                          "--auth",     USER ":" PASS, NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_REQUIRED);
    c.ca_file = ca_file;
    c.smtp_user = (char *)USER;
    c.smtp_pass = (char *)WRONG_PASS;
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_false(r.ok);
    assert_false(r.retryable);
    assert_int_equal(r.status, 535);
    assert_non_null(strstr(r.answer, "AUTH"));
    assert_null(strstr(r.answer, WRONG_PASS));
    assert_null(strstr(r.answer, "VHIwdWI0ZG9y")); /* base64 of its start */
    json_t *all = sink_messages(&s);
    assert_int_equal(json_array_size(all), 0);
    json_decref(all);
}

/* starttls=off is allowed to log in only on a loopback host. */
static void test_auth_cleartext_loopback_only(void **state)
{
    (void)state;
    struct sink s;
    const char *args[] = {"--auth", USER ":" PASS, NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_OFF);
    c.smtp_user = (char *)USER;
    c.smtp_pass = (char *)PASS;
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_delivered(&r);
    json_t *got = sink_only_message(&s);
    assert_false(field_true(got, "tls"));
    assert_string_equal(json_str(got, "auth_user"), USER);
    json_decref(got);

    /* A remote host (TEST-NET-1, never reached): refused before connecting. */
    c.smtp_host = (char *)"192.0.2.1";
    c.smtp_port = 25;
    smtp_send(&c, &m, &r);
    assert_false(r.ok);
    assert_false(r.retryable);
    assert_int_equal(r.status, 0);
    assert_true(r.seconds < 1.0);
    assert_non_null(strstr(r.answer, "clear"));
    assert_null(strstr(r.answer, PASS));
}

static void test_refuse_is_permanent(void **state)
{
    (void)state;
    struct sink s;
    const char *args[] = {"--mode", "refuse", NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_OFF);
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_false(r.ok);
    assert_false(r.retryable);
    assert_int_equal(r.status, 550);
    assert_non_null(strstr(r.answer, "550"));
    assert_non_null(strstr(r.answer, "RCPT"));
}

static void test_tempfail_is_retryable_and_mode_switches(void **state)
{
    (void)state;
    struct sink s;
    const char *args[] = {"--mode", "tempfail", NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_OFF);
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    assert_false(r.ok);
    assert_true(r.retryable);
    assert_int_equal(r.status, 451);
    /* The retry, after the server recovered. */
    sink_set_mode(&s, "accept");
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_delivered(&r);
    json_t *all = sink_messages(&s);
    assert_int_equal(json_array_size(all), 1);
    json_decref(all);
}

static void test_hang_times_out(void **state)
{
    (void)state;
    struct sink s;
    const char *args[] = {"--mode", "hang", NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_OFF);
    c.delivery_timeout_ms = 1500;
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_false(r.ok);
    assert_true(r.retryable);
    assert_int_equal(r.status, 0);
    assert_true(r.seconds >= 1.0);
    assert_true(r.seconds < 2.5);
    assert_non_null(strstr(r.answer, "timed out"));
}

static void test_hang_after_data_times_out(void **state)
{
    (void)state;
    struct sink s;
    const char *args[] = {"--mode", "hang-data", NULL};
    sink_start(&s, args);
    struct config c;
    cfg_init(&c, s.port, CONFIG_STARTTLS_OFF);
    c.delivery_timeout_ms = 1500;
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    sink_stop(&s);
    assert_false(r.ok);
    assert_true(r.retryable);
    assert_true(r.seconds < 2.5);
    assert_non_null(strstr(r.answer, "timed out"));
}

static void test_connection_refused_is_retryable(void **state)
{
    (void)state;
    if (!have_aiosmtpd)
        skip();
    /* A port that was free a moment ago. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    struct config c;
    cfg_init(&c, ntohs(sa.sin_port), CONFIG_STARTTLS_OFF);
    struct smtp_message m = msg();
    struct smtp_result r;
    smtp_send(&c, &m, &r);
    assert_false(r.ok);
    assert_true(r.retryable);
    assert_int_equal(r.status, 0);
    assert_true(r.seconds < 1.0);
    assert_non_null(strstr(r.answer, "connect"));
}

static int teardown_html(void **state)
{
    (void)state;
    buf_free(&html);
    return 0;
}

int main(void)
{
    buf_init(&html, 1 << 16);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_plain_loopback_delivers, teardown_html),
        cmocka_unit_test_teardown(test_starttls_required_with_ca_delivers, teardown_html),
        cmocka_unit_test_teardown(test_starttls_repeated_and_tls12, teardown_html),
        cmocka_unit_test_teardown(test_starttls_by_name_sends_sni, teardown_html),
        cmocka_unit_test_teardown(test_starttls_without_ca_refused, teardown_html),
        cmocka_unit_test_teardown(test_starttls_wrong_name_refused, teardown_html),
        cmocka_unit_test_teardown(test_starttls_required_not_offered, teardown_html),
        cmocka_unit_test_teardown(test_starttls_optional, teardown_html),
        cmocka_unit_test_teardown(test_auth_plain_delivers, teardown_html),
        cmocka_unit_test_teardown(test_auth_login_delivers, teardown_html),
        cmocka_unit_test_teardown(test_auth_optional_uses_tls, teardown_html),
        cmocka_unit_test_teardown(test_auth_wrong_password, teardown_html),
        cmocka_unit_test_teardown(test_auth_cleartext_loopback_only, teardown_html),
        cmocka_unit_test_teardown(test_refuse_is_permanent, teardown_html),
        cmocka_unit_test_teardown(test_tempfail_is_retryable_and_mode_switches, teardown_html),
        cmocka_unit_test_teardown(test_hang_times_out, teardown_html),
        cmocka_unit_test_teardown(test_hang_after_data_times_out, teardown_html),
        cmocka_unit_test_teardown(test_connection_refused_is_retryable, teardown_html),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
