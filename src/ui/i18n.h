/* The page string table behind ui_t(): every text the end-user pages show,
 * in English and Simplified Chinese, looked up by key. Exposed so tests can
 * walk every key and check both languages have it. No allocation here. */
#ifndef OTPGATE_UI_I18N_H
#define OTPGATE_UI_I18N_H

#include <stdbool.h>
#include <stddef.h>

/* How many keys the table holds, and the i-th (i < ui_i18n_count()); the
 * strings are static. */
size_t ui_i18n_count(void);
const char *ui_i18n_key(size_t i);

/* True when key exists and has a non-empty text in locale ("en" or "zh";
 * anything not starting with "zh" means English). */
bool ui_i18n_has(const char *locale, const char *key);

/* How many ui_t() calls so far asked for a key that is missing (unknown, or
 * without a text in the asked locale). A test renders every page and checks
 * this stays 0. Counted on the loop thread only; not a metric. */
unsigned long ui_i18n_misses(void);

/* True for "zh", "zh-CN", "zh_Hans"...; NULL and everything else is English. */
bool ui_locale_is_zh(const char *locale);

#endif
