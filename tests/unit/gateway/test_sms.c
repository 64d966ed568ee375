/* SMS delivery (gateway/delivery/sms.c) against a real HTTP server: the stand-in
 * provider tests/integration/sms_sink.py, started once as a subprocess. Each
 * test runs its own uv loop and checks the request the sink recorded field
 * by field and the result handed back: webhook (JSON, form, GET), twilio,
 * vonage, messagebird, error statuses, timeouts, many sends at once,
 * cancellation, and that the loop keeps turning while a provider hangs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/config.h"
#include "gateway/delivery/sms.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CODE    "123456"
#define TEXT    "Your Acme code is " CODE ".\n\n@mfa.example.com #" CODE
#define WAIT_MS 15000

/* ---- the sink subprocess ---- */

static struct {
    bool ready;
    pid_t pid;
    int port;
    char dir[64];
    char log[128];
    char base[64]; /* http://127.0.0.1:PORT */
} sink;

static int group_setup(void **state)
{
    (void)state;
    /* A proxy from the environment would take the requests to 127.0.0.1. */
    static const char *const proxies[] = {"http_proxy",  "https_proxy", "HTTP_PROXY",
                                          "HTTPS_PROXY", "ALL_PROXY",   "all_proxy"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    const char *src = getenv("OTPGATE_SOURCE_DIR");
    char script[512];
    snprintf(script, sizeof script, "%s/tests/integration/sms_sink.py", src ? src : "");
    if (!src || access(script, R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0) {
        fprintf(stderr, "sms_sink.py or /usr/bin/python3 missing: the SMS tests are skipped\n");
        return 0;
    }
    memcpy(sink.dir, "/tmp/otpgate-sms-XXXXXX", sizeof "/tmp/otpgate-sms-XXXXXX");
    if (!mkdtemp(sink.dir))
        return -1;
    snprintf(sink.log, sizeof sink.log, "%s/requests.jsonl", sink.dir);

    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    sink.pid = fork();
    if (sink.pid < 0)
        return -1;
    if (sink.pid == 0) {
        /* The sink goes with this process, even when a test aborts. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl("/usr/bin/python3", "python3", script, "--port", "0", "--log", sink.log,
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    /* The first line is the port. */
    char line[32];
    size_t n = 0;
    while (n < sizeof line - 1) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0)
            break;
        ssize_t r = read(fds[0], line + n, 1);
        if (r <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    close(fds[0]);
    char *end = NULL;
    long port = strtol(line, &end, 10);
    if (n == 0 || *end != '\0' || port <= 0 || port > 65535) {
        fprintf(stderr, "sms_sink.py did not print its port\n");
        return -1;
    }
    sink.port = (int)port;
    snprintf(sink.base, sizeof sink.base, "http://127.0.0.1:%d", sink.port);
    sink.ready = true;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (sink.pid > 0) {
        kill(sink.pid, SIGTERM);
        waitpid(sink.pid, NULL, 0);
    }
    if (sink.ready) {
        unlink(sink.log);
        rmdir(sink.dir);
    }
    curl_global_cleanup();
    return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* Sets the sink's mode with a blocking request (this is the test, not the
 * loop). count 0 means until changed. */
static void sink_mode(const char *mode, int count)
{
    char url[128], body[128];
    snprintf(url, sizeof url, "%s/_mode", sink.base);
    if (count > 0)
        snprintf(body, sizeof body, "{\"mode\":\"%s\",\"count\":%d}", mode, count);
    else
        snprintf(body, sizeof body, "{\"mode\":\"%s\"}", mode);
    CURL *e = curl_easy_init();
    assert_non_null(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    curl_easy_cleanup(e);
}

/* The requests the sink recorded after the first skip ones, as a JSON
 * array (decref it). */
static json_t *sink_requests(size_t skip)
{
    json_t *all = json_array();
    FILE *f = fopen(sink.log, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0, n = 0;
    while (getline(&line, &cap, f) > 0) {
        if (n++ < skip)
            continue;
        json_error_t err;
        json_t *rec = json_loads(line, 0, &err);
        if (!rec)
            fail_msg("bad sink log line: %s", err.text);
        json_array_append_new(all, rec);
    }
    free(line);
    fclose(f);
    return all;
}

static size_t sink_count(void)
{
    json_t *all = sink_requests(0);
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

static const char *rec_str(const json_t *rec, const char *pointer)
{
    /* Walks "a/b" through objects only: enough for these records. */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", pointer);
    const json_t *cur = rec;
    for (char *save = buf, *tok; cur && (tok = save) != NULL;) {
        char *slash = strchr(tok, '/');
        if (slash) {
            *slash = '\0';
            save = slash + 1;
        } else {
            save = NULL;
        }
        cur = json_object_get(cur, tok);
    }
    if (!cur || !json_is_string(cur))
        fail_msg("%s is not a string in the recorded request", pointer);
    return json_string_value(cur);
}

/* ---- per test: a loop, a config, a client ---- */

struct fixture {
    uv_loop_t loop;
    struct config cfg;
    struct sms_client *client;
    size_t skip; /* sink log lines from before this test */
};

struct outcome {
    int calls;
    struct sms_result r;
    struct sms_client *client; /* for callbacks that act on it */
    int send_rc_in_cb;
    bool close_in_cb;
};

static void on_done(void *arg, const struct sms_result *r)
{
    struct outcome *o = arg;
    o->calls++;
    o->r = *r;
    if (o->client)
        o->send_rc_in_cb = sms_send(o->client, "+15550100", "again", NULL, on_done, o);
    if (o->close_in_cb) {
        sms_client_close(o->client);
        o->client = NULL;
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    *state = f;
    if (sink.ready) {
        sink_mode("ok", 0);
        f->skip = sink_count();
    }
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->client)
        sms_client_close(f->client);
    /* Every handle must close: uv_run returns and the loop closes cleanly. */
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    config_free(&f->cfg);
    free(f);
    return 0;
}

#define NEED_SINK()                                                                                \
    do {                                                                                           \
        if (!sink.ready)                                                                           \
            skip();                                                                                \
    } while (0)

/* Loads the config from "KEY=value" strings (NULL-terminated) and makes the
 * client (primary unless secondary). */
static void client_make(struct fixture *f, bool secondary, ...)
{
    char *envp[24];
    size_t n = 0;
    va_list ap;
    va_start(ap, secondary);
    for (char *e; (e = va_arg(ap, char *)) != NULL;) {
        assert_true(n < 23);
        envp[n++] = e;
    }
    va_end(ap);
    envp[n] = NULL;
    char err[512] = "";
    config_free(&f->cfg);
    if (config_load(&f->cfg, NULL, envp, err, sizeof err) != OG_OK)
        fail_msg("config: %s", err);
    if (sms_client_new(&f->loop, &f->cfg, secondary, &f->client, err, sizeof err) != OG_OK)
        fail_msg("sms_client_new: %s", err);
}

#define CLIENT(f, ...) client_make((f), false, __VA_ARGS__, (char *)NULL)

static void on_guard(uv_timer_t *t)
{
    (void)t;
}

static void assert_prefix(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("'%s' does not start with '%s'", s, prefix);
}

/* Runs the loop until *calls reaches want or WAIT_MS pass. */
static void wait_calls(struct fixture *f, const int *calls, int want)
{
    uint64_t deadline = uv_now(&f->loop) + WAIT_MS;
    uv_timer_t guard; /* makes each UV_RUN_ONCE return within 20 ms */
    uv_timer_init(&f->loop, &guard);
    uv_timer_start(&guard, on_guard, 20, 20);
    while (*calls < want && uv_now(&f->loop) < deadline) {
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(*calls, want);
}

static void send_one(struct fixture *f, const char *to, struct outcome *o)
{
    memset(o, 0, sizeof *o);
    assert_int_equal(sms_send(f->client, to, TEXT, CODE, on_done, o), OG_OK);
    assert_int_equal(sms_in_flight(f->client), 1);
    wait_calls(f, &o->calls, 1);
    assert_int_equal(sms_in_flight(f->client), 0);
}

/* The one request this test made. */
static json_t *only_request(struct fixture *f)
{
    json_t *all = sink_requests(f->skip);
    assert_int_equal(json_array_size(all), 1);
    json_t *rec = json_incref(json_array_get(all, 0));
    json_decref(all);
    return rec;
}

static void assert_blanked(const struct sms_result *r)
{
    assert_null(strstr(r->answer, CODE));
}

/* ---- webhook ---- */

static void test_webhook_json(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s/hook/send", sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", url, "OTPGATE_SMS_AUTH=Bearer t0ken");
    assert_string_equal(sms_client_provider(f->client), "webhook");
    struct outcome o;
    const char *text = "Say \"hi\"\\ \xe4\xbd\xa0\xe5\xa5\xbd\n\t" CODE;
    memset(&o, 0, sizeof o);
    assert_int_equal(sms_send(f->client, "+4915112345678", text, CODE, on_done, &o), OG_OK);
    wait_calls(f, &o.calls, 1);
    assert_true(o.r.ok);
    assert_false(o.r.retryable);
    assert_int_equal(o.r.http_status, 200);
    assert_string_equal(o.r.provider, "webhook");
    assert_true(strncmp(o.r.provider_id, "msg-", 4) == 0);
    assert_true(o.r.seconds > 0 && o.r.seconds < 10);
    assert_non_null(strstr(o.r.answer, "\"status\": \"queued\""));
    assert_non_null(strstr(o.r.answer, "******"));
    assert_blanked(&o.r);

    json_t *rec = only_request(f);
    assert_string_equal(rec_str(rec, "method"), "POST");
    assert_string_equal(rec_str(rec, "path"), "/hook/send");
    assert_string_equal(rec_str(rec, "headers/content-type"), "application/json");
    assert_string_equal(rec_str(rec, "headers/authorization"), "Bearer t0ken");
    assert_string_equal(rec_str(rec, "headers/accept"), "application/json");
    assert_true(strncmp(rec_str(rec, "headers/user-agent"), "otpgate/", 8) == 0);
    assert_null(json_object_get(json_object_get(rec, "headers"), "expect"));
    assert_string_equal(rec_str(rec, "json/to"), "+4915112345678");
    assert_string_equal(rec_str(rec, "json/message"), text);
    /* Escaped on the wire, not just decodable */
    assert_non_null(strstr(rec_str(rec, "body"), "Say \\\"hi\\\"\\\\"));
    assert_non_null(strstr(rec_str(rec, "body"), "\\n\\t"));
    json_decref(rec);
}

static void test_webhook_form_and_headers(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s/form", sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", url, "OTPGATE_SMS_METHOD=PUT",
           "OTPGATE_SMS_BODY=phone={to}&digits={to_digits}&text={message}&otp={code}&from={from}",
           "OTPGATE_SMS_FROM=Acme Inc", "OTPGATE_SMS_HEADERS=X-Api-Key: k3y; X-Trace:  t 1 ");
    struct outcome o;
    send_one(f, "+15550100", &o);
    assert_true(o.r.ok);
    json_t *rec = only_request(f);
    assert_string_equal(rec_str(rec, "method"), "PUT");
    assert_string_equal(rec_str(rec, "path"), "/form");
    assert_string_equal(rec_str(rec, "headers/content-type"), "application/x-www-form-urlencoded");
    assert_string_equal(rec_str(rec, "headers/x-api-key"), "k3y");
    assert_string_equal(rec_str(rec, "headers/x-trace"), "t 1");
    assert_null(json_object_get(json_object_get(rec, "headers"), "authorization"));
    assert_string_equal(rec_str(rec, "form/phone"), "+15550100");
    assert_string_equal(rec_str(rec, "form/digits"), "15550100");
    assert_string_equal(rec_str(rec, "form/text"), TEXT);
    assert_string_equal(rec_str(rec, "form/otp"), CODE);
    assert_string_equal(rec_str(rec, "form/from"), "Acme Inc");
    assert_non_null(strstr(rec_str(rec, "body"), "phone=%2B15550100&"));
    assert_non_null(strstr(rec_str(rec, "body"), "from=Acme+Inc"));
    json_decref(rec);
}

static void test_webhook_get_query(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url[160];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s/get/{to_digits}?to={to}&msg={message}&k=v",
             sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", url, "OTPGATE_SMS_METHOD=GET");
    struct outcome o;
    send_one(f, "+15550100", &o);
    assert_true(o.r.ok);
    assert_blanked(&o.r); /* the sink echoes the query, code and all */
    json_t *rec = only_request(f);
    assert_string_equal(rec_str(rec, "method"), "GET");
    assert_string_equal(rec_str(rec, "path"), "/get/15550100");
    assert_string_equal(rec_str(rec, "query_args/to"), "+15550100");
    assert_string_equal(rec_str(rec, "query_args/msg"), TEXT);
    assert_string_equal(rec_str(rec, "query_args/k"), "v");
    assert_string_equal(rec_str(rec, "body"), "");
    assert_null(json_object_get(json_object_get(rec, "headers"), "content-type"));
    json_decref(rec);
}

/* ---- presets ---- */

static void test_twilio(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s/", sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=twilio", url, "OTPGATE_SMS_AUTH=ACxxx:tok3n",
           "OTPGATE_SMS_FROM=+15550199");
    sink_mode("ok_twilio", 1);
    struct outcome o;
    send_one(f, "+15550100", &o);
    assert_true(o.r.ok);
    assert_int_equal(o.r.http_status, 201);
    assert_string_equal(o.r.provider, "twilio");
    assert_true(strncmp(o.r.provider_id, "SM", 2) == 0);
    assert_int_equal(strlen(o.r.provider_id), 34);
    /* Twilio echoes the message body: the code must not survive. */
    assert_non_null(strstr(o.r.answer, "Your Acme code is ******"));
    assert_blanked(&o.r);

    json_t *rec = only_request(f);
    assert_string_equal(rec_str(rec, "method"), "POST");
    assert_string_equal(rec_str(rec, "path"), "/2010-04-01/Accounts/ACxxx/Messages.json");
    assert_string_equal(rec_str(rec, "headers/authorization"), "Basic QUN4eHg6dG9rM24=");
    assert_string_equal(rec_str(rec, "headers/content-type"), "application/x-www-form-urlencoded");
    assert_string_equal(rec_str(rec, "form/To"), "+15550100");
    assert_string_equal(rec_str(rec, "form/From"), "+15550199");
    assert_string_equal(rec_str(rec, "form/Body"), TEXT);
    json_decref(rec);
}

static void test_vonage(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s", sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=vonage", url, "OTPGATE_SMS_AUTH=k3y:s3cr&t",
           "OTPGATE_SMS_FROM=Acme");
    sink_mode("ok_vonage", 1);
    struct outcome o;
    send_one(f, "+4915112345678", &o);
    assert_true(o.r.ok);
    assert_int_equal(o.r.http_status, 200);
    assert_string_equal(o.r.provider, "vonage");
    assert_true(strncmp(o.r.provider_id, "VN-", 3) == 0);

    json_t *rec = only_request(f);
    assert_string_equal(rec_str(rec, "path"), "/sms/json");
    assert_string_equal(rec_str(rec, "form/api_key"), "k3y");
    assert_string_equal(rec_str(rec, "form/api_secret"), "s3cr&t");
    assert_string_equal(rec_str(rec, "form/from"), "Acme");
    assert_string_equal(rec_str(rec, "form/to"), "4915112345678");
    assert_string_equal(rec_str(rec, "form/text"), TEXT);
    assert_null(json_object_get(json_object_get(rec, "form"), "type"));
    json_decref(rec);

    /* A 200 whose message status is not "0" was refused. */
    sink_mode("vonage_fail", 1);
    f->skip = sink_count();
    send_one(f, "+4915112345678", &o);
    assert_false(o.r.ok);
    assert_false(o.r.retryable);
    assert_int_equal(o.r.http_status, 200);
    assert_string_equal(o.r.provider_id, "");
    assert_non_null(strstr(o.r.answer, "Missing to param"));

    /* Text beyond GSM-7 goes as unicode. */
    f->skip = sink_count();
    memset(&o, 0, sizeof o);
    assert_int_equal(sms_send(f->client, "+8613800138000",
                              "\xe9\xaa\x8c\xe8\xaf\x81\xe7\xa0\x81 " CODE, CODE, on_done, &o),
                     OG_OK);
    wait_calls(f, &o.calls, 1);
    rec = only_request(f);
    assert_string_equal(rec_str(rec, "form/type"), "unicode");
    assert_string_equal(rec_str(rec, "form/text"), "\xe9\xaa\x8c\xe8\xaf\x81\xe7\xa0\x81 " CODE);
    json_decref(rec);
}

static void test_messagebird(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s", sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=messagebird", url, "OTPGATE_SMS_AUTH=live_k3y",
           "OTPGATE_SMS_FROM=Acme \"Co\"");
    sink_mode("ok_messagebird", 1);
    struct outcome o;
    send_one(f, "+31612345678", &o);
    assert_true(o.r.ok);
    assert_int_equal(o.r.http_status, 201);
    assert_string_equal(o.r.provider, "messagebird");
    assert_true(strncmp(o.r.provider_id, "mb-", 3) == 0);
    assert_blanked(&o.r);

    json_t *rec = only_request(f);
    assert_string_equal(rec_str(rec, "path"), "/messages");
    assert_string_equal(rec_str(rec, "headers/authorization"), "AccessKey live_k3y");
    assert_string_equal(rec_str(rec, "headers/content-type"), "application/json");
    json_t *js = json_object_get(rec, "json");
    assert_string_equal(json_string_value(json_array_get(json_object_get(js, "recipients"), 0)),
                        "31612345678");
    assert_string_equal(rec_str(rec, "json/originator"), "Acme \"Co\"");
    assert_string_equal(rec_str(rec, "json/body"), TEXT);
    json_decref(rec);
}

static void test_secondary_provider(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url1[128], url2[128];
    snprintf(url1, sizeof url1, "OTPGATE_SMS_URL=%s/primary", sink.base);
    snprintf(url2, sizeof url2, "OTPGATE_SMS2_URL=%s/secondary", sink.base);
    client_make(f, true, "OTPGATE_SMS_PROVIDER=webhook", url1,
                "OTPGATE_SMS_HEADERS=X-Primary-Only: 1", "OTPGATE_SMS2_PROVIDER=webhook", url2,
                "OTPGATE_SMS2_BODY=n={to}&t={message}", "OTPGATE_SMS2_AUTH=Token two",
                (char *)NULL);
    struct outcome o;
    send_one(f, "+15550100", &o);
    assert_true(o.r.ok);
    json_t *rec = only_request(f);
    assert_string_equal(rec_str(rec, "path"), "/secondary");
    assert_string_equal(rec_str(rec, "headers/authorization"), "Token two");
    assert_string_equal(rec_str(rec, "headers/content-type"), "application/x-www-form-urlencoded");
    assert_null(json_object_get(json_object_get(rec, "headers"), "x-primary-only"));
    assert_string_equal(rec_str(rec, "form/t"), TEXT);
    json_decref(rec);
}

static void test_not_configured_and_bad_args(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    assert_int_equal(config_load(&f->cfg, NULL, NULL, err, sizeof err), OG_OK);
    struct sms_client *c = (struct sms_client *)1;
    assert_int_equal(sms_client_new(&f->loop, &f->cfg, false, &c, err, sizeof err),
                     OG_ERR_NOT_FOUND);
    assert_null(c);
    assert_non_null(strstr(err, "no primary SMS provider"));
    assert_int_equal(sms_client_new(&f->loop, &f->cfg, true, &c, NULL, 0), OG_ERR_NOT_FOUND);

    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", "OTPGATE_SMS_URL=http://127.0.0.1:9/x");
    assert_int_equal(sms_client_new(&f->loop, &f->cfg, true, &c, err, sizeof err),
                     OG_ERR_NOT_FOUND);
    struct outcome o;
    memset(&o, 0, sizeof o);
    static const char *const bad_to[] = {"15550100",          "+", "+1555010O", "+0155501",
                                         "+1234567890123456", ""};
    for (size_t i = 0; i < sizeof bad_to / sizeof bad_to[0]; i++)
        assert_int_equal(sms_send(f->client, bad_to[i], TEXT, CODE, on_done, &o), OG_ERR_INVALID);
    assert_int_equal(sms_send(f->client, NULL, TEXT, CODE, on_done, &o), OG_ERR_INVALID);
    assert_int_equal(sms_send(f->client, "+15550100", NULL, CODE, on_done, &o), OG_ERR_INVALID);
    assert_int_equal(sms_send(f->client, "+15550100", TEXT, CODE, NULL, &o), OG_ERR_INVALID);
    assert_int_equal(sms_in_flight(f->client), 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(o.calls, 0); /* a refused send never calls back */
}

/* ---- answers ---- */

static void test_error_statuses(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s/s", sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", url);
    struct outcome o;
    sink_mode("5xx", 1);
    send_one(f, "+15550100", &o);
    assert_false(o.r.ok);
    assert_true(o.r.retryable);
    assert_int_equal(o.r.http_status, 500);
    assert_non_null(strstr(o.r.answer, "provider down"));

    sink_mode("4xx", 1);
    send_one(f, "+15550100", &o);
    assert_false(o.r.ok);
    assert_false(o.r.retryable);
    assert_int_equal(o.r.http_status, 400);
    /* The 400 answer echoes the request, code included: kept blanked. */
    assert_non_null(strstr(o.r.answer, "bad request"));
    assert_non_null(strstr(o.r.answer, "******"));
    assert_blanked(&o.r);

    /* count=1 is spent: back to ok */
    send_one(f, "+15550100", &o);
    assert_true(o.r.ok);
}

static void test_big_answer_is_capped(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s/s", sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", url);
    sink_mode("big", 1);
    struct outcome o;
    send_one(f, "+15550100", &o);
    /* Reading stops at SMS_ANSWER_MAX; the 2xx status still counts. */
    assert_true(o.r.ok);
    assert_int_equal(o.r.http_status, 200);
    assert_int_equal(strlen(o.r.answer), sizeof o.r.answer - 1);
    assert_non_null(strstr(o.r.answer, "\"id\": \"big-"));
    assert_blanked(&o.r);
    /* A rule that needs JSON cannot hold on a cut answer. */
    sms_client_close(f->client);
    f->client = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", url, "OTPGATE_SMS_SUCCESS=/id");
    sink_mode("big", 1);
    send_one(f, "+15550100", &o);
    assert_false(o.r.ok);
    assert_false(o.r.retryable);
}

static void test_success_rule_override(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s/s", sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", url, "OTPGATE_SMS_SUCCESS=/status=queued");
    struct outcome o;
    send_one(f, "+15550100", &o);
    assert_true(o.r.ok);
    sms_client_close(f->client);
    f->client = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);

    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", url, "OTPGATE_SMS_SUCCESS=/status=delivered");
    send_one(f, "+15550100", &o);
    assert_false(o.r.ok);
    assert_false(o.r.retryable);
    assert_int_equal(o.r.http_status, 200);
    sms_client_close(f->client);
    f->client = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);

    /* The user's rule replaces vonage's own. */
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s", sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=vonage", url, "OTPGATE_SMS_AUTH=k:s", "OTPGATE_SMS_FROM=A",
           "OTPGATE_SMS_SUCCESS=~Missing to param");
    sink_mode("vonage_fail", 1);
    send_one(f, "+15550100", &o);
    assert_true(o.r.ok);
}

static void test_connection_refused(void **state)
{
    struct fixture *f = *state;
    /* A port nobody listens on: bound, then closed. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
    close(s);
    char url[128];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=http://127.0.0.1:%d/x", ntohs(a.sin_port));
    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", url);
    struct outcome o;
    send_one(f, "+15550100", &o);
    assert_false(o.r.ok);
    assert_true(o.r.retryable);
    assert_int_equal(o.r.http_status, 0);
    assert_true(strncmp(o.r.answer, "curl: ", 6) == 0);
}

/* ---- the loop never blocks ---- */

static void on_tick(uv_timer_t *t)
{
    (*(int *)t->data)++;
}

static void test_hang_times_out_and_loop_keeps_turning(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s/slow", sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", url, "OTPGATE_DELIVERY_TIMEOUT=1");
    assert_int_equal(f->cfg.delivery_timeout_ms, 1000);
    sink_mode("hang", 1);
    int ticks = 0;
    uv_timer_t tick;
    uv_timer_init(&f->loop, &tick);
    tick.data = &ticks;
    uv_timer_start(&tick, on_tick, 50, 50);

    struct outcome o;
    memset(&o, 0, sizeof o);
    uint64_t t0 = uv_hrtime();
    assert_int_equal(sms_send(f->client, "+15550100", TEXT, CODE, on_done, &o), OG_OK);
    wait_calls(f, &o.calls, 1);
    double took = (double)(uv_hrtime() - t0) / 1e9;
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT); /* tick lives on this stack: let it close */

    assert_false(o.r.ok);
    assert_true(o.r.retryable);
    assert_int_equal(o.r.http_status, 0);
    assert_true(o.r.seconds >= 0.9 && o.r.seconds < 5);
    assert_true(took >= 0.9 && took < 5);
    assert_true(strncmp(o.r.answer, "curl: ", 6) == 0);
    assert_non_null(strstr(o.r.answer, "imed out"));
    /* About 20 ticks of 50 ms fit in the second the provider hung; a
     * blocked loop would see one at most. The margin is for a loaded
     * machine, where each tick (re-armed when it runs) comes late. */
    if (ticks < 6)
        fail_msg("only %d timer ticks while the provider hung: the loop was blocked", ticks);
    json_t *rec = only_request(f);
    assert_string_equal(rec_str(rec, "mode"), "hang");
    json_decref(rec);
}

#define MANY 50

static void test_many_in_flight(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s/many?to={to}", sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", url);
    static struct outcome o[MANY];
    int done = 0;
    memset(o, 0, sizeof o);
    for (int i = 0; i < MANY; i++) {
        char to[32];
        snprintf(to, sizeof to, "+1555010%04d", i);
        assert_int_equal(sms_send(f->client, to, TEXT, CODE, on_done, &o[i]), OG_OK);
    }
    assert_int_equal(sms_in_flight(f->client), MANY);
    uint64_t deadline = uv_now(&f->loop) + WAIT_MS;
    uv_timer_t guard;
    uv_timer_init(&f->loop, &guard);
    uv_timer_start(&guard, on_guard, 20, 20);
    while (done < MANY && uv_now(&f->loop) < deadline) {
        uv_run(&f->loop, UV_RUN_ONCE);
        done = 0;
        for (int i = 0; i < MANY; i++)
            done += o[i].calls;
    }
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(done, MANY);
    assert_int_equal(sms_in_flight(f->client), 0);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(o[i].calls, 1);
        assert_true(o[i].r.ok);
    }
    json_t *all = sink_requests(f->skip);
    assert_int_equal(json_array_size(all), MANY);
    bool seen[MANY] = {false};
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec)
    {
        const char *to = rec_str(rec, "query_args/to");
        long n = strtol(to + 8, NULL, 10);
        assert_true(n >= 0 && n < MANY);
        seen[n] = true;
    }
    for (int k = 0; k < MANY; k++)
        assert_true(seen[k]);
    json_decref(all);
}

/* ---- closing ---- */

static void on_close_now(uv_timer_t *t)
{
    struct fixture *f = t->data;
    sms_client_close(f->client);
    f->client = NULL;
    uv_close((uv_handle_t *)t, NULL);
}

static void test_close_cancels_in_flight(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s/slow", sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", url, "OTPGATE_DELIVERY_TIMEOUT=30");
    sink_mode("hang", 2);
    struct outcome a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.client = f->client; /* its callback tries to send again */
    assert_int_equal(sms_send(f->client, "+15550100", TEXT, CODE, on_done, &a), OG_OK);
    assert_int_equal(sms_send(f->client, "+15550101", TEXT, CODE, on_done, &b), OG_OK);
    uv_timer_t later;
    uv_timer_init(&f->loop, &later);
    later.data = f;
    uv_timer_start(&later, on_close_now, 300, 0);
    uint64_t t0 = uv_hrtime();
    /* Returns only once every handle, the client's included, is closed. */
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true((double)(uv_hrtime() - t0) / 1e9 < 5);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_false(a.r.ok);
    assert_true(a.r.retryable);
    assert_false(b.r.ok);
    assert_true(b.r.retryable);
    assert_non_null(strstr(a.r.answer, "cancelled"));
    assert_int_equal(a.send_rc_in_cb, OG_ERR_BUSY);
    assert_int_equal(sink_count() - f->skip, 2);
}

static void test_close_from_callback(void **state)
{
    NEED_SINK();
    struct fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "OTPGATE_SMS_URL=%s/s", sink.base);
    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook", url);
    struct outcome o;
    memset(&o, 0, sizeof o);
    o.client = f->client;
    o.close_in_cb = true;
    f->client = NULL; /* the callback closes it */
    assert_int_equal(sms_send(o.client, "+15550100", TEXT, CODE, on_done, &o), OG_OK);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    /* The first callback sent again, then closed: the second send was
     * cancelled by the close and reported once, with retryable set. */
    assert_int_equal(o.calls, 2);
    assert_false(o.r.ok);
    assert_true(o.r.retryable);
    assert_non_null(strstr(o.r.answer, "cancelled"));
}

/* ---- descriptions ---- */

static void test_describe(void **state)
{
    struct fixture *f = *state;
    CLIENT(f, "OTPGATE_SMS_PROVIDER=webhook",
           "OTPGATE_SMS_URL=https://u:pw@sms.example.com/send?api_key=K3yK3y&to={to}",
           "OTPGATE_SMS_AUTH=Bearer s3cr3tt0ken", "OTPGATE_SMS_HEADERS=X-Auth-Token: hdrS3cret");
    struct buf b;
    buf_init(&b, 65536);
    assert_int_equal(sms_describe(f->client, "+15550100", TEXT, CODE, &b), OG_OK);
    assert_prefix(b.data, "POST https://***@sms.example.com/send?api_key=***&to=%2B15550100\n");
    assert_non_null(strstr(b.data, "\nAuthorization: ***\n"));
    assert_non_null(strstr(b.data, "\nX-Auth-Token: ***\n"));
    assert_non_null(strstr(b.data, "\nContent-Type: application/json\n"));
    assert_non_null(strstr(b.data, "\n\n{\"to\":\"+15550100\",\"message\":\"Your Acme code is "
                                   "******.\\n\\n@mfa.example.com #******\"}"));
    assert_null(strstr(b.data, CODE));
    assert_null(strstr(b.data, "s3cr3t"));
    assert_null(strstr(b.data, "K3yK3y"));
    assert_null(strstr(b.data, "hdrS3cret"));
    assert_null(strstr(b.data, ":pw@"));
    buf_free(&b);
    sms_client_close(f->client);
    f->client = NULL;

    CLIENT(f, "OTPGATE_SMS_PROVIDER=vonage", "OTPGATE_SMS_AUTH=k3y1:v0nageS3cret",
           "OTPGATE_SMS_FROM=Acme");
    buf_init(&b, 65536);
    assert_int_equal(sms_describe(f->client, "+15550100", TEXT, CODE, &b), OG_OK);
    assert_prefix(b.data, "POST https://rest.nexmo.com/sms/json\n");
    assert_non_null(strstr(b.data, "api_secret=***&from=Acme&to=15550100&text=Your"));
    assert_null(strstr(b.data, "v0nageS3cret"));
    assert_null(strstr(b.data, CODE));
    buf_free(&b);
    sms_client_close(f->client);
    f->client = NULL;

    CLIENT(f, "OTPGATE_SMS_PROVIDER=twilio", "OTPGATE_SMS_AUTH=ACabc:tw1li0Tok",
           "OTPGATE_SMS_FROM=+15550199");
    buf_init(&b, 65536);
    assert_int_equal(sms_describe(f->client, "+15550100", TEXT, CODE, &b), OG_OK);
    assert_prefix(b.data, "POST https://api.twilio.com/2010-04-01/Accounts/ACabc/Messages.json\n"
                          "Authorization: ***\n");
    assert_non_null(
        strstr(b.data, "To=%2B15550100&From=%2B15550199&Body=Your+Acme+code+is+******"));
    assert_null(strstr(b.data, "tw1li0Tok"));
    buf_free(&b);
    assert_int_equal(sms_describe(f->client, "bad", TEXT, CODE, &b), OG_ERR_INVALID);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_webhook_json),
        T(test_webhook_form_and_headers),
        T(test_webhook_get_query),
        T(test_twilio),
        T(test_vonage),
        T(test_messagebird),
        T(test_secondary_provider),
        T(test_not_configured_and_bad_args),
        T(test_error_statuses),
        T(test_big_answer_is_capped),
        T(test_success_rule_override),
        T(test_connection_refused),
        T(test_hang_times_out_and_loop_keeps_turning),
        T(test_many_in_flight),
        T(test_close_cancels_in_flight),
        T(test_close_from_callback),
        T(test_describe),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
