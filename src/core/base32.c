/* RFC 4648 §6 base32. Secrets pass through here, so the symbol mapping is
 * arithmetic rather than a table lookup indexed by secret bits. */
#include "core/base32.h"

char base32_symbol(unsigned v, bool lower)
{
    v &= 31;
    unsigned is_digit = (25u - v) >> 31; /* 1 when v > 25, without a branch */
    unsigned base = lower ? 'a' : 'A';
    return (char)(v + base - is_digit * (base + 26 - '2'));
}

/* Value of a base32 symbol (either case), or -1. */
static int b32_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

size_t base32_encoded_len(size_t n, bool pad)
{
    if (pad)
        return (n + 4) / 5 * 8;
    return (n / 5) * 8 + ((n % 5) * 8 + 4) / 5;
}

size_t base32_encode(const uint8_t *in, size_t n, bool pad, char *out, size_t outlen)
{
    if (n > (SIZE_MAX - 8) / 8 * 5)
        return 0;
    size_t need = base32_encoded_len(n, pad);
    if (outlen < need + 1)
        return 0;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = base32_symbol((acc >> bits) & 31, false);
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0)
        out[o++] = base32_symbol((acc << (5 - bits)) & 31, false);
    while (o < need)
        out[o++] = '=';
    out[o] = '\0';
    return o;
}

int base32_decode(const char *in, size_t n, uint8_t *out, size_t outlen, size_t *written)
{
    /* First pass: validate and count symbols, so nothing is written for
     * input that is refused. */
    size_t syms = 0, pads = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == ' ' || c == '-')
            continue;
        if (c == '=') {
            pads++;
            continue;
        }
        if (pads > 0 || b32_value(c) < 0)
            return OG_ERR_INVALID;
        syms++;
    }
    /* 2, 4, 5 or 7 leftover symbols carry 1..4 bytes; 1, 3 or 6 cannot. */
    size_t rem = syms % 8;
    if (rem == 1 || rem == 3 || rem == 6)
        return OG_ERR_INVALID;
    if (pads > 0 && (pads > 6 || (syms + pads) % 8 != 0))
        return OG_ERR_INVALID;
    size_t need = syms / 8 * 5 + rem * 5 / 8;
    if (outlen < need)
        return OG_ERR_TOO_BIG;

    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b32_value(in[i]);
        if (v < 0)
            continue;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (written)
        *written = o;
    return OG_OK;
}
