/* Where codes are sent: phone numbers normalised to E.164 with their
 * country calling code length (for the SMS allow-list and per-prefix caps),
 * email addresses validated with a lower-cased domain, and both masked for
 * display. Syntax only: no lookups, no sending. */
#ifndef OTPGATE_CONTACT_H
#define OTPGATE_CONTACT_H

#include "core/common.h"

#define CONTACT_PHONE_MIN_DIGITS 8
#define CONTACT_PHONE_MAX_DIGITS 15
/* "+" and 15 digits and a NUL */
#define CONTACT_PHONE_SIZE 17
#define CONTACT_EMAIL_MAX  254
#define CONTACT_EMAIL_SIZE 255
/* Enough for any mask these functions write for a valid value. The longest
 * is an email's: a first character (a 3-byte bullet at most), three bullets,
 * '@', a domain of up to 252 bytes and the NUL. */
#define CONTACT_MASK_SIZE 272

/* Normalises a phone number to E.164: accepts "+44 20 7946 0958",
 * "+1 (415) 555-2671", "0044..." (00 -> +); strips spaces, dashes, dots and
 * parentheses; requires a leading + (or 00) and 8..15 digits in all, the
 * first not 0. out >= 17 bytes (OG_ERR_TOO_BIG when smaller). Returns 0 or
 * OG_ERR_INVALID (out is then ""). */
int contact_phone_normalize(const char *in, char *out, size_t outlen);

/* Length of the country calling code of an E.164 number (1..3) by the ITU
 * table of assigned codes (+1 -> 1, +44 -> 2, +852 -> 3); 0 if unknown or
 * not "+digits". */
int contact_phone_cc_len(const char *e164);

/* Validates and normalises an email: one '@'; local part 1..64 of printable
 * non-space ASCII excluding ()<>[]:;@\," kept as typed; domain 1..253 of
 * labels [a-z0-9-] (1..63 each, not starting or ending with '-') with at
 * least one dot, lower-cased; total <= 254. Spaces and tabs around the
 * address are dropped. out >= 255 (OG_ERR_TOO_BIG when smaller). Returns 0
 * or OG_ERR_INVALID (out is then ""). */
int contact_email_normalize(const char *in, char *out, size_t outlen);

/* What a destination is, for contact_dest_key. */
enum contact_kind { CONTACT_PHONE, CONTACT_EMAIL };

/* The key under which sends to one mailbox or phone are counted (SPEC §4's
 * per-destination caps), so that spellings of the same destination share
 * one count. A phone number: its E.164 form (contact_phone_normalize). An
 * e-mail address: contact_email_normalize'd, then the whole address
 * lower-cased, a "+tag" sub-address dropped from the local part (from the
 * first '+' that is not its first character: "Ann+x@Example.com" ->
 * "ann@example.com"), and at gmail.com and googlemail.com, which ignore
 * dots, the local part's dots dropped and the domain read as gmail.com. A
 * local part these steps would leave empty is kept lower-cased as it is.
 * out >= CONTACT_EMAIL_SIZE (OG_ERR_TOO_BIG when smaller). Returns 0 or
 * OG_ERR_INVALID for a destination that does not normalise (out is then
 * ""). */
int contact_dest_key(enum contact_kind kind, const char *dest, char *out, size_t outlen);

/* Masks for display, UTF-8, bullets U+2022. Phone: "+44 •••• ••12 34":
 * the country code, then the national digits in groups of four with all but
 * the last four replaced (an unknown code masks from the first digit).
 * Email: "j•••@example.com": the first character of the local part, three
 * bullets, '@' and the domain. Input that is not an E.164 number or has no
 * '@', or a mask that does not fit outlen (CONTACT_MASK_SIZE always does for
 * valid input), writes "". */
void contact_phone_mask(const char *e164, char *out, size_t outlen);
void contact_email_mask(const char *email, char *out, size_t outlen);

#endif
