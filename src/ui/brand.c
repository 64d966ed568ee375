/* The admin's accent colour as a tiny stylesheet (/brand.css): the pages
 * may not carry inline styles, so the colour arrives as a CSS variable.
 * Picks the button text colour by WCAG contrast; never trusts the input. */
#include "ui/pages.h"

#include <math.h>
#include <stdio.h>

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Parses "#rgb" or "#rrggbb" into 0..255 channels. */
static bool parse_hex_colour(const char *s, int rgb[3])
{
    if (!s || s[0] != '#')
        return false;
    size_t n = strlen(s + 1);
    if (n != 3 && n != 6)
        return false;
    for (int i = 0; i < 3; i++) {
        int hi, lo;
        if (n == 3) {
            hi = lo = hex_digit(s[1 + i]);
        } else {
            hi = hex_digit(s[1 + 2 * i]);
            lo = hex_digit(s[2 + 2 * i]);
        }
        if (hi < 0 || lo < 0)
            return false;
        rgb[i] = hi * 16 + lo;
    }
    return true;
}

/* WCAG 2 relative luminance. */
static double luminance(const int rgb[3])
{
    double l[3];
    for (int i = 0; i < 3; i++) {
        double v = rgb[i] / 255.0;
        l[i] = v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
    }
    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
}

static double contrast(double a, double b)
{
    double hi = a > b ? a : b, lo = a > b ? b : a;
    return (hi + 0.05) / (lo + 0.05);
}

int ui_brand_css(struct buf *out, const char *accent)
{
    int rgb[3];
    if (!parse_hex_colour(accent, rgb))
        return OG_ERR_INVALID;
    char hex[8];
    snprintf(hex, sizeof(hex), "#%02x%02x%02x", (unsigned)rgb[0] & 0xffu, (unsigned)rgb[1] & 0xffu,
             (unsigned)rgb[2] & 0xffu);
    double lum = luminance(rgb);
    const int ink[3] = {0x11, 0x18, 0x27};
    double on_white = contrast(lum, 1.0);
    double on_ink = contrast(lum, luminance(ink));
    buf_printf(out, ":root{--accent:%s;--accent-contrast:%s}\n", hex,
               on_white >= on_ink ? "#ffffff" : "#111827");
    /* Links and secondary buttons use the accent as text on the light card
     * only when it is readable there (AA, 4.5:1); dark mode keeps its own. */
    if (on_white >= 4.5)
        buf_printf(out, "@media (prefers-color-scheme:light){:root{--link:%s}}\n", hex);
    return OG_OK;
}
