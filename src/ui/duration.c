/* Times said as people say them, in the page's language: waits ("30
 * seconds", "about 50 minutes") for the lockout and the send limits, and
 * when something happened ("5 minutes ago", "24 Nov 2026"): never a raw
 * number of seconds or a UTC timestamp on a page. */
#include "ui/i18n.h"
#include "ui/pages.h"

#include "core/common.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

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

void ui_time_ago(const char *locale, int64_t now_ms, int64_t at_ms, char *out, size_t outlen)
{
    bool zh = ui_locale_is_zh(locale);
    int64_t ago = (now_ms - at_ms) / 1000;
    if (ago < 0)
        ago = 0;
    if (ago < 60) {
        snprintf(out, outlen, "%s", zh ? "刚刚" : "just now");
        return;
    }
    if (ago < 7 * 86400) {
        size_t i = ago < 3600 ? 1 : ago < 86400 ? 2 : 3;
        long long n = (long long)(ago / units[i].seconds); /* whole units: "5 minutes ago" */
        if (zh)
            snprintf(out, outlen, "%lld %s前", n, units[i].zh);
        else
            snprintf(out, outlen, "%lld %s%s ago", n, units[i].en, n == 1 ? "" : "s");
        return;
    }
    ui_date(locale, at_ms, out, outlen);
}

void ui_date(const char *locale, int64_t at_ms, char *out, size_t outlen)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(at_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (ui_locale_is_zh(locale))
        snprintf(out, outlen, "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    else
        snprintf(out, outlen, "%d %s %d", tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900);
}
