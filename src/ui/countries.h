/* The calling-code picker's data (countries.c, generated): every country
 * and region with an ITU-T E.164 calling code, its names in English and
 * Simplified Chinese, and the likely region of a bare language tag; plus
 * the lookups the picker and the handler use (i18n.c). */
#ifndef OTPGATE_UI_COUNTRIES_H
#define OTPGATE_UI_COUNTRIES_H

#include <stdbool.h>
#include <stddef.h>

struct ui_country {
    const char *iso;  /* ISO 3166-1 alpha-2, lower case: "gb" */
    const char *code; /* calling code, digits only: "44" */
    bool main;        /* the region a shared code stands for (+1: us, +44: gb) */
    const char *en;
    const char *zh;
};

/* In English alphabetical order; ui_countries_zh_order lists the indexes
 * in Chinese (pinyin) order. */
extern const struct ui_country ui_countries[];
extern const size_t ui_country_count;
extern const unsigned short ui_countries_zh_order[];

struct ui_language_region {
    const char *language; /* "de" */
    const char *iso;      /* "de" */
};
extern const struct ui_language_region ui_language_regions[];
extern const size_t ui_language_region_count;

/* The row of an ISO code (any case), or NULL. */
const struct ui_country *ui_country_by_iso(const char *iso);
/* The main row of a calling code ("1" gives the United States), or NULL. */
const struct ui_country *ui_country_by_code(const char *code);
/* The country to preselect for a browser: the region of the first tag of
 * an Accept-Language value ("en-GB" gives gb, "zh-Hant-TW" tw), else the
 * likely region of its language ("de" gives de); NULL when the header is
 * NULL, empty or says nothing we know. */
const struct ui_country *ui_country_from_accept_language(const char *header);

#endif
