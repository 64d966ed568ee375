/* Code message texts. Every value put in is already validated (app names
 * are admin-set, codes digits); the texts are plain, not HTML. */
#include "ui/messages.h"

#include <stdio.h>
#include <string.h>

const char *ui_locale_pick(const char *header)
{
    if (!header)
        return "en";
    /* The first listed language we have wins; q-values are rare in
     * ui_locales and Accept-Language lists are ordered by preference. */
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if ((p[0] == 'z' || p[0] == 'Z') && (p[1] == 'h' || p[1] == 'H') &&
            (p[2] == '\0' || p[2] == '-' || p[2] == '_' || p[2] == ',' || p[2] == ';' ||
             p[2] == ' '))
            return "zh";
        if ((p[0] == 'e' || p[0] == 'E') && (p[1] == 'n' || p[1] == 'N') &&
            (p[2] == '\0' || p[2] == '-' || p[2] == '_' || p[2] == ',' || p[2] == ';' ||
             p[2] == ' '))
            return "en";
        while (*p && *p != ',')
            p++;
    }
    return "en";
}

static bool is_zh(const char *locale)
{
    return locale && locale[0] == 'z' && locale[1] == 'h';
}

/* An app name short enough that the SMS stays one segment, cut on a UTF-8
 * character boundary. */
static void short_name(const char *app, char out[32])
{
    size_t n = strlen(app);
    if (n > 24) {
        n = 24;
        while (n > 0 && ((unsigned char)app[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, app, n);
    out[n] = '\0';
}

void ui_message_sms(struct buf *out, const char *locale, const char *app_name, const char *code,
                    unsigned ttl_minutes, const char *host)
{
    char app[32];
    short_name(app_name, app);
    if (is_zh(locale))
        buf_printf(out, "【%s】验证码 %s，%u 分钟内有效，请勿告诉他人。\n\n@%s #%s", app, code,
                   ttl_minutes, host, code);
    else
        buf_printf(out, "%s: your code is %s. It expires in %u min. Don't share it.\n\n@%s #%s",
                   app, code, ttl_minutes, host, code);
}

void ui_message_email(struct buf *subject, struct buf *text, const char *locale, const char *app,
                      const char *code, unsigned ttl_minutes, const char *purpose)
{
    bool enrol = purpose && strcmp(purpose, "enrol") == 0;
    if (enrol && is_zh(locale)) {
        buf_printf(subject, "%s 邮箱验证码：%s", app, code);
        buf_printf(text,
                   "您正在把这个电子邮箱添加到 %s 的两步验证，验证码是：\n\n    %s\n\n"
                   "该验证码 %u 分钟内有效，只能使用一次。如果不是您本人操作，请忽略本邮件："
                   "这个邮箱不会被添加。\n",
                   app, code, ttl_minutes);
    } else if (enrol) {
        buf_printf(subject, "Confirm your email for %s: %s", app, code);
        buf_printf(text,
                   "To add this email address to two-step verification at %s, enter this "
                   "code:\n\n    %s\n\nIt expires in %u minutes and works once. If you did not "
                   "ask for it, ignore this message: the address will not be added.\n",
                   app, code, ttl_minutes);
    } else if (is_zh(locale)) {
        buf_printf(subject, "%s 验证码：%s", app, code);
        buf_printf(text,
                   "您的 %s 验证码是：\n\n    %s\n\n该验证码 %u 分钟内有效，只能使用一次。"
                   "如果不是您本人操作，请忽略本邮件，并不要把验证码告诉任何人。\n",
                   app, code, ttl_minutes);
    } else {
        buf_printf(subject, "Your %s code: %s", app, code);
        buf_printf(text,
                   "Your %s verification code is:\n\n    %s\n\nIt expires in %u minutes and "
                   "works once. If you did not ask for it, ignore this message and do not "
                   "share the code with anyone.\n",
                   app, code, ttl_minutes);
    }
}
