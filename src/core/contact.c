/* Phone and email syntax: E.164 normalisation, the ITU country calling code
 * table, email validation, and the masks shown in the UI. Input is user
 * typing: everything is bounded and checked byte by byte. */
#include "core/contact.h"

#include <stdio.h>

#define BULLET "\xe2\x80\xa2"

/* Every assigned ITU-T E.164 country calling code (geographic and
 * non-geographic), from the ITU list "Assigned country codes" (E.164 Annex
 * to ITU Operational Bulletin). The codes are prefix-free, and values of
 * different lengths cannot collide (1..9, 10..99, 100..999). */
static const unsigned short cc_table[] = {
    /* zone 1: North American Numbering Plan */
    1,
    /* zone 2: Africa, Atlantic, Greenland */
    20,
    211,
    212,
    213,
    216,
    218,
    220,
    221,
    222,
    223,
    224,
    225,
    226,
    227,
    228,
    229,
    230,
    231,
    232,
    233,
    234,
    235,
    236,
    237,
    238,
    239,
    240,
    241,
    242,
    243,
    244,
    245,
    246,
    247,
    248,
    249,
    250,
    251,
    252,
    253,
    254,
    255,
    256,
    257,
    258,
    260,
    261,
    262,
    263,
    264,
    265,
    266,
    267,
    268,
    269,
    27,
    290,
    291,
    297,
    298,
    299,
    /* zone 3: Europe */
    30,
    31,
    32,
    33,
    34,
    350,
    351,
    352,
    353,
    354,
    355,
    356,
    357,
    358,
    359,
    36,
    370,
    371,
    372,
    373,
    374,
    375,
    376,
    377,
    378,
    379,
    380,
    381,
    382,
    383,
    385,
    386,
    387,
    389,
    39,
    /* zone 4: Europe */
    40,
    41,
    420,
    421,
    423,
    43,
    44,
    45,
    46,
    47,
    48,
    49,
    /* zone 5: Central and South America */
    500,
    501,
    502,
    503,
    504,
    505,
    506,
    507,
    508,
    509,
    51,
    52,
    53,
    54,
    55,
    56,
    57,
    58,
    590,
    591,
    592,
    593,
    594,
    595,
    596,
    597,
    598,
    599,
    /* zone 6: Southeast Asia and Oceania */
    60,
    61,
    62,
    63,
    64,
    65,
    66,
    670,
    672,
    673,
    674,
    675,
    676,
    677,
    678,
    679,
    680,
    681,
    682,
    683,
    685,
    686,
    687,
    688,
    689,
    690,
    691,
    692,
    /* zone 7: Russia, Kazakhstan */
    7,
    /* zone 8: East Asia and international services */
    800,
    808,
    81,
    82,
    84,
    850,
    852,
    853,
    855,
    856,
    86,
    870,
    878,
    880,
    881,
    882,
    883,
    886,
    888,
    /* zone 9: West, Central and South Asia, Middle East */
    90,
    91,
    92,
    93,
    94,
    95,
    960,
    961,
    962,
    963,
    964,
    965,
    966,
    967,
    968,
    970,
    971,
    972,
    973,
    974,
    975,
    976,
    977,
    979,
    98,
    991,
    992,
    993,
    994,
    995,
    996,
    998,
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int contact_phone_normalize(const char *in, char *out, size_t outlen)
{
    if (outlen < CONTACT_PHONE_SIZE)
        return OG_ERR_TOO_BIG;
    out[0] = '\0';
    char digits[CONTACT_PHONE_MAX_DIGITS + 2];
    size_t n = 0;
    bool plus = false;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')')
            continue;
        if (c == '+') {
            /* only as the first significant character */
            if (plus || n > 0)
                return OG_ERR_INVALID;
            plus = true;
            continue;
        }
        if (!is_digit(c))
            return OG_ERR_INVALID;
        /* room for an international "00" prefix on top of 15 digits */
        if (n == sizeof(digits))
            return OG_ERR_INVALID;
        digits[n++] = c;
    }
    size_t start = 0;
    if (!plus) {
        if (n < 2 || digits[0] != '0' || digits[1] != '0')
            return OG_ERR_INVALID;
        start = 2;
    }
    size_t count = n - start;
    if (count < CONTACT_PHONE_MIN_DIGITS || count > CONTACT_PHONE_MAX_DIGITS ||
        digits[start] == '0')
        return OG_ERR_INVALID;
    out[0] = '+';
    memcpy(out + 1, digits + start, count);
    out[count + 1] = '\0';
    return OG_OK;
}

int contact_phone_cc_len(const char *e164)
{
    /* no code starts with 0 (and "+01" must not read as +1) */
    if (!e164 || e164[0] != '+' || e164[1] == '0')
        return 0;
    unsigned v = 0;
    for (int len = 1; len <= 3; len++) {
        char c = e164[len];
        if (!is_digit(c))
            return 0;
        v = v * 10 + (unsigned)(c - '0');
        for (size_t i = 0; i < ARRAY_SIZE(cc_table); i++)
            if (cc_table[i] == v)
                return len;
    }
    return 0;
}

/* Characters refused in the local part besides space and control. */
static bool local_char_ok(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("()<>[]:;@\\,\"", c);
}

/* Checks and lower-cases one domain label in place. */
static bool label_ok(char *p, size_t n)
{
    if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            p[i] = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-'))
            return false;
    }
    return true;
}

int contact_email_normalize(const char *in, char *out, size_t outlen)
{
    if (outlen < CONTACT_EMAIL_SIZE)
        return OG_ERR_TOO_BIG;
    out[0] = '\0';
    while (*in == ' ' || *in == '\t')
        in++;
    size_t len = strlen(in);
    while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\t'))
        len--;
    if (len > CONTACT_EMAIL_MAX)
        return OG_ERR_INVALID;

    char tmp[CONTACT_EMAIL_SIZE];
    memcpy(tmp, in, len);
    tmp[len] = '\0';
    char *at = memchr(tmp, '@', len);
    if (!at)
        return OG_ERR_INVALID;
    size_t llen = (size_t)(at - tmp), dlen = len - llen - 1;
    if (llen < 1 || llen > 64 || dlen < 1 || dlen > 253)
        return OG_ERR_INVALID;
    for (size_t i = 0; i < llen; i++)
        if (!local_char_ok((unsigned char)tmp[i]))
            return OG_ERR_INVALID; /* this also refuses a second '@' here */
    char *d = at + 1;
    size_t labels = 0, start = 0;
    for (size_t i = 0; i <= dlen; i++) {
        if (i == dlen || d[i] == '.') {
            if (!label_ok(d + start, i - start))
                return OG_ERR_INVALID; /* refuses '@' and empty labels */
            labels++;
            start = i + 1;
        }
    }
    if (labels < 2)
        return OG_ERR_INVALID;
    memcpy(out, tmp, len + 1);
    return OG_OK;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Domains whose mailboxes ignore dots in the local part, and the domain
 * they are read as. */
static const struct {
    const char *domain, *as;
} dotless[] = {
    {"gmail.com", "gmail.com"},
    {"googlemail.com", "gmail.com"},
};

int contact_dest_key(enum contact_kind kind, const char *dest, char *out, size_t outlen)
{
    if (outlen < CONTACT_EMAIL_SIZE)
        return OG_ERR_TOO_BIG;
    if (kind == CONTACT_PHONE)
        return contact_phone_normalize(dest, out, outlen);
    char email[CONTACT_EMAIL_SIZE];
    int rc = contact_email_normalize(dest, email, sizeof(email));
    if (rc != OG_OK) {
        out[0] = '\0';
        return rc;
    }
    const char *at = strchr(email, '@');
    const char *domain = at + 1; /* lower-cased by the normalisation */
    size_t llen = (size_t)(at - email);
    bool drop_dots = false;
    for (size_t i = 0; i < ARRAY_SIZE(dotless); i++) {
        if (strcmp(domain, dotless[i].domain) == 0) {
            domain = dotless[i].as;
            drop_dots = true;
        }
    }
    /* The local part: lower-cased, without the +tag and (where ignored)
     * the dots; as it is, lower-cased, if nothing would be left. */
    char local[65];
    size_t n = 0;
    for (size_t i = 0; i < llen; i++) {
        char c = lower(email[i]);
        if (c == '+' && i > 0)
            break;
        if (c == '.' && drop_dots)
            continue;
        local[n++] = c;
    }
    if (n == 0) {
        for (size_t i = 0; i < llen; i++)
            local[i] = lower(email[i]);
        n = llen;
    }
    local[n] = '\0';
    snprintf(out, outlen, "%s@%s", local, domain);
    return OG_OK;
}

/* Appends n bytes to out at *o, keeping room for the NUL; false if full. */
static bool put(char *out, size_t outlen, size_t *o, const char *s, size_t n)
{
    if (n >= outlen - *o)
        return false;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = '\0';
    return true;
}

void contact_phone_mask(const char *e164, char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return;
    out[0] = '\0';
    if (!e164 || e164[0] != '+')
        return;
    size_t n = strnlen(e164 + 1, CONTACT_PHONE_MAX_DIGITS + 1);
    if (n < 1 || n > CONTACT_PHONE_MAX_DIGITS || e164[1 + n] != '\0')
        return;
    for (size_t i = 1; i <= n; i++)
        if (!is_digit(e164[i]))
            return;
    size_t cc = (size_t)contact_phone_cc_len(e164);
    const char *nat = e164 + 1 + cc;
    size_t natlen = n - cc;
    size_t keep = natlen < 4 ? natlen : 4;
    size_t o = 0;
    bool ok = put(out, outlen, &o, "+", 1);
    if (cc > 0)
        ok = ok && put(out, outlen, &o, e164 + 1, cc) && put(out, outlen, &o, " ", 1);
    for (size_t i = 0; ok && i < natlen; i++) {
        if (i > 0 && i % 4 == 0)
            ok = put(out, outlen, &o, " ", 1);
        if (i < natlen - keep)
            ok = ok && put(out, outlen, &o, BULLET, sizeof(BULLET) - 1);
        else
            ok = ok && put(out, outlen, &o, nat + i, 1);
    }
    if (!ok)
        out[0] = '\0';
}

void contact_email_mask(const char *email, char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return;
    out[0] = '\0';
    const char *at = email ? strchr(email, '@') : NULL;
    if (!at || at == email)
        return;
    size_t o = 0;
    /* A first byte outside ASCII would be half a character: mask it too. */
    bool ok = (unsigned char)email[0] < 0x80 ? put(out, outlen, &o, email, 1)
                                             : put(out, outlen, &o, BULLET, sizeof(BULLET) - 1);
    ok = ok && put(out, outlen, &o, BULLET BULLET BULLET, 3 * (sizeof(BULLET) - 1)) &&
         put(out, outlen, &o, at, strlen(at));
    if (!ok)
        out[0] = '\0';
}
