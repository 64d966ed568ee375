/* Fuzzes src/core/contact.c on what users type as a phone number or an
 * e-mail address (pages, API): the first byte's low bit picks
 *   0: contact_phone_normalize, contact_phone_cc_len, contact_phone_mask;
 *   1: contact_email_normalize, contact_email_mask;
 * the rest is the input, as a C string (an embedded NUL ends it, as in the
 * product). Asserts: a normalised number is "+" and 8..15 digits, the first
 * not 0; an address has one '@' and at most 254 bytes; normalising the
 * output again gives the same output (both functions only drop characters
 * they never write and lower-case the domain); CONTACT_MASK_SIZE fits the
 * mask of every valid value, as contact.h promises; a refusal leaves "". */
#include "fuzz.h"

#include "core/contact.h"

static void fuzz_phone(const char *in)
{
    char out[CONTACT_PHONE_SIZE], again[CONTACT_PHONE_SIZE], mask[CONTACT_MASK_SIZE];
    /* Masking and the calling code must cope with anything (stored rows). */
    contact_phone_mask(in, mask, sizeof(mask));
    FUZZ_CHECK(strlen(mask) < sizeof(mask));
    int cc = contact_phone_cc_len(in);
    FUZZ_CHECK(cc >= 0 && cc <= 3);

    int rc = contact_phone_normalize(in, out, sizeof(out));
    if (rc != OG_OK) {
        FUZZ_CHECK(rc == OG_ERR_INVALID && out[0] == '\0');
        return;
    }
    size_t n = strlen(out);
    FUZZ_CHECK(out[0] == '+' && n >= 1 + CONTACT_PHONE_MIN_DIGITS &&
               n <= 1 + CONTACT_PHONE_MAX_DIGITS && out[1] != '0');
    for (size_t i = 1; i < n; i++)
        FUZZ_CHECK(out[i] >= '0' && out[i] <= '9');
    FUZZ_CHECK(contact_phone_normalize(out, again, sizeof(again)) == OG_OK);
    FUZZ_CHECK(strcmp(out, again) == 0);
    contact_phone_mask(out, mask, sizeof(mask));
    FUZZ_CHECK(mask[0] == '+');
}

static void fuzz_email(const char *in)
{
    char out[CONTACT_EMAIL_SIZE], again[CONTACT_EMAIL_SIZE], mask[CONTACT_MASK_SIZE];
    contact_email_mask(in, mask, sizeof(mask));
    FUZZ_CHECK(strlen(mask) < sizeof(mask));

    int rc = contact_email_normalize(in, out, sizeof(out));
    if (rc != OG_OK) {
        FUZZ_CHECK(rc == OG_ERR_INVALID && out[0] == '\0');
        return;
    }
    size_t n = strlen(out);
    const char *at = strchr(out, '@');
    FUZZ_CHECK(n <= CONTACT_EMAIL_MAX && at && at > out && !strchr(at + 1, '@'));
    FUZZ_CHECK(contact_email_normalize(out, again, sizeof(again)) == OG_OK);
    FUZZ_CHECK(strcmp(out, again) == 0);
    contact_email_mask(out, mask, sizeof(mask));
    FUZZ_CHECK(mask[0] != '\0' && strcmp(strchr(mask, '@'), at) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *in = fuzz_cstr(data + 1, size - 1);
    if (data[0] & 1)
        fuzz_email(in);
    else
        fuzz_phone(in);
    free(in);
    return 0;
}
