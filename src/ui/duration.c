/* Waits said in human time ("30 seconds", "about 50 minutes", "about 2
 * hours") in the page's language, for the lockout waits and the send
 * limits: never a raw number of seconds on a page. */
#include "ui/i18n.h"
#include "ui/pages.h"

#include <stdio.h>

void ui_duration(const char *locale, int64_t seconds, char *out, size_t outlen)
{
    bool zh = ui_locale_is_zh(locale);
    if (seconds < 1)
        seconds = 1;
    long long n;
    if (seconds < 60) {
        n = seconds;
        if (zh)
            snprintf(out, outlen, "%lld 秒", n);
        else
            snprintf(out, outlen, "%lld second%s", n, n == 1 ? "" : "s");
        return;
    }
    if (seconds < 3600 - 30) {
        n = (seconds + 30) / 60; /* to the nearest minute */
        if (zh)
            snprintf(out, outlen, "约 %lld 分钟", n);
        else
            snprintf(out, outlen, "about %lld minute%s", n, n == 1 ? "" : "s");
        return;
    }
    if (seconds < 86400 - 1800) {
        n = (seconds + 1800) / 3600; /* to the nearest hour */
        if (zh)
            snprintf(out, outlen, "约 %lld 小时", n);
        else
            snprintf(out, outlen, "about %lld hour%s", n, n == 1 ? "" : "s");
        return;
    }
    n = (seconds + 43200) / 86400;
    if (zh)
        snprintf(out, outlen, "约 %lld 天", n);
    else
        snprintf(out, outlen, "about %lld day%s", n, n == 1 ? "" : "s");
}
