/* The admin's accent colour as a tiny stylesheet (/brand.css): the pages
 * may not carry inline styles, so the colour arrives as CSS variables for
 * buttons, links, badges, icon tiles and the logo, in light and dark mode.
 * Every text colour it derives is checked for WCAG AA contrast against the
 * backgrounds it sits on; never trusts the input. */
#include "ui/pages.h"

#include <math.h>
#include <stdio.h>

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
            hi = lo = og_hex_value(s[1 + i]);
        } else {
            hi = og_hex_value(s[1 + 2 * i]);
            lo = og_hex_value(s[2 + 2 * i]);
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

/* a mixed with b: weight w of a (0..1), per sRGB channel. */
static void mix(const int a[3], const int b[3], double w, int out[3])
{
    for (int i = 0; i < 3; i++)
        out[i] = (int)lround(a[i] * w + b[i] * (1.0 - w));
}

/* The lowest contrast of c against any of n backgrounds. */
static double worst_contrast(const int c[3], const int (*bgs)[3], size_t n)
{
    double worst = 100.0, lc = luminance(c);
    for (size_t i = 0; i < n; i++) {
        double k = contrast(lc, luminance(bgs[i]));
        if (k < worst)
            worst = k;
    }
    return worst;
}

/* c moved toward target (black or white) in small steps until it reaches
 * ratio against every background (target itself at worst). */
static void readable(const int c[3], const int target[3], const int (*bgs)[3], size_t n,
                     double ratio, int out[3])
{
    for (int step = 0; step <= 20; step++) {
        mix(c, target, 1.0 - step * 0.05, out);
        if (worst_contrast(out, bgs, n) >= ratio)
            return;
    }
}

static void put_hex(struct buf *out, const char *name, const int c[3])
{
    buf_printf(out, "%s:#%02x%02x%02x;", name, (unsigned)c[0] & 0xffu, (unsigned)c[1] & 0xffu,
               (unsigned)c[2] & 0xffu);
}

/* Button text: white or near-black, whichever contrasts more. */
static const char *ink_on(const int c[3])
{
    static const int ink[3] = {0x11, 0x18, 0x27};
    double l = luminance(c);
    return contrast(l, 1.0) >= contrast(l, luminance(ink)) ? "#ffffff" : "#111827";
}

int ui_brand_css(struct buf *out, const char *accent)
{
    int rgb[3];
    if (!parse_hex_colour(accent, rgb))
        return OG_ERR_INVALID;
    static const int white[3] = {255, 255, 255}, black[3] = {0, 0, 0};
    /* Light mode: the card, the subtle panels and the hover tint. */
    int icon_bg[3], badge_bg[3], hover[3], link[3];
    mix(rgb, white, 0.12, icon_bg);
    mix(rgb, white, 0.14, badge_bg);
    mix(rgb, white, 0.08, hover);
    const int light_bgs[][3] = {{255, 255, 255},
                                {0xf5, 0xf7, 0xfa},
                                {hover[0], hover[1], hover[2]},
                                {badge_bg[0], badge_bg[1], badge_bg[2]}};
    /* Links, badges and the logo's tint read as text: AA (4.5:1) on every
     * light background they sit on; a light accent gets darker for them. */
    readable(rgb, black, light_bgs, ARRAY_SIZE(light_bgs), 4.5, link);
    buf_append_str(out, ":root{");
    put_hex(out, "--accent", rgb);
    buf_printf(out, "--accent-contrast:%s;", ink_on(rgb));
    put_hex(out, "--link", link);
    put_hex(out, "--badge-accent", link);
    put_hex(out, "--badge-accent-bg", badge_bg);
    put_hex(out, "--icon-bg", icon_bg);
    put_hex(out, "--hover", hover);
    buf_append_str(out, "}\n");

    /* Dark mode: the same hue on the dark card. Buttons keep the accent
     * unless it vanishes into the page (3:1 for a control's edge); text in
     * the accent gets lighter until it reads (4.5:1). */
    static const int page_dark[3] = {0x0f, 0x12, 0x16}, card_dark[3] = {0x1a, 0x1f, 0x26};
    int d_accent[3], d_icon[3], d_badge[3], d_hover[3], d_link[3];
    readable(rgb, white, &page_dark, 1, 3.0, d_accent);
    mix(rgb, card_dark, 0.30, d_icon);
    mix(rgb, card_dark, 0.30, d_badge);
    mix(rgb, card_dark, 0.15, d_hover);
    const int dark_bgs[][3] = {{0x1a, 0x1f, 0x26},
                               {0x22, 0x28, 0x32},
                               {d_hover[0], d_hover[1], d_hover[2]},
                               {d_badge[0], d_badge[1], d_badge[2]}};
    readable(rgb, white, dark_bgs, ARRAY_SIZE(dark_bgs), 4.5, d_link);
    buf_append_str(out, "@media (prefers-color-scheme:dark){:root{");
    put_hex(out, "--accent", d_accent);
    buf_printf(out, "--accent-contrast:%s;", ink_on(d_accent));
    put_hex(out, "--link", d_link);
    put_hex(out, "--badge-accent", d_link);
    put_hex(out, "--badge-accent-bg", d_badge);
    put_hex(out, "--icon-bg", d_icon);
    put_hex(out, "--hover", d_hover);
    buf_append_str(out, "}}\n");
    return OG_OK;
}
