/* Code messages: rendered per language, then handed to the channel's sender.
 * Only the development sink exists yet; it logs the text (which holds the
 * code: development only, refused unless the public URL is loopback) and
 * keeps it for /dev/outbox. */
#include "gateway/delivery.h"

#include "core/log.h"
#include "gateway/server.h"
#include "ui/messages.h"

#include <stdio.h>
#include <time.h>

bool delivery_available(const struct server *s, enum factor_type channel)
{
    if (channel == FACTOR_TOTP)
        return false;
    return s->cfg->dev_enabled;
}

/* The host of the public URL, for the WebOTP line of SMS texts. */
static void public_host(const struct server *s, char *out, size_t outlen)
{
    const char *p = strstr(s->cfg->public_url, "://");
    p = p ? p + 3 : s->cfg->public_url;
    size_t n = 0;
    if (*p == '[') {
        while (p[n] && p[n] != ']')
            n++;
        if (p[n] == ']')
            n++;
    } else {
        while (p[n] && p[n] != ':' && p[n] != '/')
            n++;
    }
    snprintf(out, outlen, "%.*s", (int)n, p);
}

static void dev_keep(struct server *s, const struct delivery_message *m)
{
    struct delivery_dev *d = &s->dev_outbox;
    d->ring[d->next] = *m;
    d->next = (d->next + 1) % DELIVERY_DEV_KEEP;
    if (d->count < DELIVERY_DEV_KEEP)
        d->count++;
}

int delivery_send_code(struct server *s, enum factor_type channel, const char *to,
                       const char *code, const char *app_name, unsigned ttl_seconds,
                       const char *locale)
{
    if (!delivery_available(s, channel))
        return OG_ERR_NOT_FOUND;
    unsigned minutes = (ttl_seconds + 59) / 60;
    struct delivery_message m;
    memset(&m, 0, sizeof(m));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m.at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    m.channel = channel;
    snprintf(m.to, sizeof(m.to), "%s", to);
    struct buf subject, text;
    buf_init(&subject, sizeof(m.subject) - 1);
    buf_init(&text, sizeof(m.text) - 1);
    if (channel == FACTOR_SMS) {
        char host[256];
        public_host(s, host, sizeof(host));
        ui_message_sms(&text, locale, app_name, code, minutes, host);
    } else {
        ui_message_email(&subject, &text, locale, app_name, code, minutes);
    }
    snprintf(m.subject, sizeof(m.subject), "%s", subject.data ? subject.data : "");
    snprintf(m.text, sizeof(m.text), "%s", text.data ? text.data : "");
    buf_free(&subject);
    buf_free(&text);

    /* The development sink: the log and the outbox page. */
    log_info("dev delivery", "channel", factor_type_name(channel), "to", m.to, "subject",
             m.subject, "text", m.text);
    dev_keep(s, &m);
    char labels[64];
    snprintf(labels, sizeof(labels), "channel=\"%s\",outcome=\"dev\"", factor_type_name(channel));
    metrics_count(&s->metrics, "otpgate_codes_sent_total", "Code messages handed over, by "
                  "channel and outcome.", labels, 1);
    return OG_OK;
}

void delivery_dev_each(const struct server *s,
                       void (*fn)(const struct delivery_message *m, void *arg), void *arg)
{
    const struct delivery_dev *d = &s->dev_outbox;
    for (size_t i = 0; i < d->count; i++) {
        size_t at = (d->next + DELIVERY_DEV_KEEP - 1 - i) % DELIVERY_DEV_KEEP;
        fn(&d->ring[at], arg);
    }
}
