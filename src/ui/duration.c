/* Waits said in human time ("30 seconds", "about 50 minutes", "about 2
 * hours") in the page's language, for the lockout waits and the send
 * limits: never a raw number of seconds on a page. */
#include "ui/i18n.h"
#include "ui/pages.h"

#include "core/common.h"

#include <stdint.h>
#include <stdio.h>

/* The units, largest last; a value is rounded to the nearest unit. */
static const struct {
    int64_t seconds; /* one unit */
    int64_t below;   /* used for waits shorter than this */
    const char *en;  /* "minute" */
    const char *zh;  /* "分钟" */
    bool about;      /* rounded: "about" */
} units[] = {
    {1, 60, "second", "秒", false},
    {60, 3600 - 30, "minute", "分钟", true},
    {3600, 86400 - 1800, "hour", "小时", true},
    {86400, INT64_MAX, "day", "天", true},
};

void ui_duration(const char *locale, int64_t seconds, char *out, size_t outlen)
{
    bool zh = ui_locale_is_zh(locale);
    if (seconds < 1)
        seconds = 1;
    size_t i = 0;
    while (i + 1 < ARRAY_SIZE(units) && seconds >= units[i].below)
        i++;
    long long n = (long long)((seconds + units[i].seconds / 2) / units[i].seconds);
    if (zh)
        snprintf(out, outlen, "%s%lld %s", units[i].about ? "约 " : "", n, units[i].zh);
    else
        snprintf(out, outlen, "%s%lld %s%s", units[i].about ? "about " : "", n, units[i].en,
                 n == 1 ? "" : "s");
}
