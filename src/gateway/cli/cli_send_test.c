/* The send-test command. It talks to the provider directly (the e-mail send
 * blocks; that is fine in a command) and bypasses the outbox, the limits
 * and the database: it proves the settings, nothing else. */
#include "gateway/cli/cli_send_test.h"

#include "core/config.h"
#include "core/contact.h"
#include "core/log.h"
#include "core/secrets.h"
#include "gateway/delivery/sms.h"
#include "gateway/delivery/smtp.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

extern char **environ;

static const char help[] =
    "Usage: otpgate send-test [--config FILE] --email ADDRESS | --sms NUMBER\n"
    "\n"
    "Sends one test message through the configured provider (OTPGATE_SMTP_URL for\n"
    "e-mail, OTPGATE_SMS_PROVIDER for SMS) and prints the provider's answer as JSON.\n"
    "Exits 0 when the provider accepted the message, 1 when it did not.\n";

static const char test_text[] = "This is a test message from otpgate. If you got it, "
                                "delivery works.";

static void print_result(const char *channel, const char *to, bool ok, const char *provider,
                         long status, const char *provider_id, const char *answer, double secs)
{
    json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:I, s:s?, s:s, s:f}", "channel", channel, "to",
                          to, "ok", ok, "provider", provider, "status", (json_int_t)status,
                          "provider_id", provider_id && provider_id[0] ? provider_id : NULL,
                          "answer", answer, "seconds", secs);
    char *s = json_dumps(o, JSON_INDENT(2));
    puts(s);
    free(s);
    json_decref(o);
}

static int send_email(const struct config *cfg, const char *raw)
{
    char to[256];
    if (contact_email_normalize(raw, to, sizeof(to)) != OG_OK) {
        fprintf(stderr, "otpgate: send-test: '%s' is not an e-mail address\n", raw);
        return 2;
    }
    if (!cfg->smtp_url) {
        fprintf(stderr, "otpgate: send-test: OTPGATE_SMTP_URL is not set; set it to "
                        "smtp://host:port first\n");
        return 1;
    }
    char id[64];
    random_id("test_", id, sizeof(id));
    char message_id[128];
    snprintf(message_id, sizeof(message_id), "%s@otpgate", id);
    struct smtp_message m = {.to = to,
                             .subject = "otpgate test message",
                             .text = test_text,
                             .html = NULL,
                             .message_id = message_id};
    struct smtp_result r;
    memset(&r, 0, sizeof(r));
    smtp_send(cfg, &m, &r);
    print_result("email", to, r.ok, "smtp", r.status, NULL, r.answer, r.seconds);
    return r.ok ? 0 : 1;
}

struct sms_wait {
    bool done;
    struct sms_result result;
};

static void on_sms(void *arg, const struct sms_result *r)
{
    struct sms_wait *w = arg;
    w->result = *r;
    w->done = true;
}

static int send_sms(const struct config *cfg, const char *raw)
{
    char to[32];
    if (contact_phone_normalize(raw, to, sizeof(to)) != OG_OK) {
        fprintf(stderr, "otpgate: send-test: '%s' is not a phone number in international "
                        "form, like +44 20 7946 0958\n",
                raw);
        return 2;
    }
    if (!cfg->sms_provider) {
        fprintf(stderr, "otpgate: send-test: OTPGATE_SMS_PROVIDER is not set\n");
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sms_client *c = NULL;
    char err[256];
    if (sms_client_new(&loop, cfg, false, &c, err, sizeof(err)) != OG_OK) {
        fprintf(stderr, "otpgate: send-test: %s\n", err);
        uv_loop_close(&loop);
        return 1;
    }
    struct sms_wait w = {0};
    if (sms_send(c, to, test_text, "", on_sms, &w) != 0) {
        fprintf(stderr, "otpgate: send-test: the request could not be started\n");
    } else {
        while (!w.done && uv_run(&loop, UV_RUN_ONCE))
            ;
    }
    sms_client_close(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (!w.done)
        return 1;
    print_result("sms", to, w.result.ok, w.result.provider, w.result.http_status,
                 w.result.provider_id, w.result.answer, w.result.seconds);
    return w.result.ok ? 0 : 1;
}

int cli_send_test_main(int argc, char **argv)
{
    const char *config_file = NULL, *email = NULL, *sms = NULL;
    bool seen_command = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!seen_command && strcmp(a, "send-test") == 0) {
            seen_command = true;
            continue;
        }
        bool has_value = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(help, stdout);
            return 0;
        } else if (strcmp(a, "--config") == 0 && has_value) {
            config_file = argv[++i];
        } else if (strcmp(a, "--email") == 0 && has_value) {
            email = argv[++i];
        } else if (strcmp(a, "--sms") == 0 && has_value) {
            sms = argv[++i];
        } else {
            fprintf(stderr, "otpgate: send-test: unexpected '%s'; run 'otpgate send-test "
                            "--help'\n",
                    a);
            return 2;
        }
    }
    if (!email == !sms) {
        fprintf(stderr, "otpgate: send-test needs exactly one of --email ADDRESS or --sms "
                        "NUMBER\n");
        return 2;
    }
    struct config cfg;
    char err[512];
    if (config_load(&cfg, config_file, environ, err, sizeof(err)) != OG_OK) {
        fprintf(stderr, "otpgate: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    log_set_level(cfg.log_level);
    int rc = email ? send_email(&cfg, email) : send_sms(&cfg, sms);
    config_free(&cfg);
    return rc;
}
