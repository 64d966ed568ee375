/* One way out for every code message, whatever the channel. Today: the
 * development sink (SPEC §3 OTPGATE_DEV), which writes the message to the
 * log and keeps the last ones for the /dev/outbox page. Real SMTP and SMS
 * providers plug in behind the same calls. Loop thread only. */
#ifndef OTPGATE_DELIVERY_H
#define OTPGATE_DELIVERY_H

#include "core/mfa.h"

#define DELIVERY_DEV_KEEP 100

struct server;

struct delivery_message {
    int64_t at_ms;
    enum factor_type channel;
    char to[MFA_DEST_LEN];
    char subject[200];
    char text[1024];
};

struct delivery_dev {
    struct delivery_message ring[DELIVERY_DEV_KEEP];
    size_t next, count;
};

/* True when a message on this channel can be sent at all. */
bool delivery_available(const struct server *s, enum factor_type channel);
/* Renders and sends a code message. Returns 0 or a negative og_err. */
int delivery_send_code(struct server *s, enum factor_type channel, const char *to,
                       const char *code, const char *app_name, unsigned ttl_seconds,
                       const char *locale);
/* Calls fn for the kept development messages, newest first. */
void delivery_dev_each(const struct server *s,
                       void (*fn)(const struct delivery_message *m, void *arg), void *arg);

#endif
